# -*- test-case-name: tests -*-
"""
WSGI applications served by the system tests.

Each module exposes a WSGI callable named C{app} that C{twistd mphandler
--app tests.apps.MODULE:app} loads in a separate process.  Nothing here
knows about txmp: the applications are what a user would write.
"""
