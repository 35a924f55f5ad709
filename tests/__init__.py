# -*- test-case-name: tests -*-
"""
System tests for txmp.

These tests start real C{twistd mpfront} and C{twistd mphandler} processes
and talk HTTP to them over the loopback interface; see L{tests._harness}.
Run them with C{python -m twisted.trial tests} from the project root.
"""
