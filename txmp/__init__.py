# -*- test-case-name: txmp.test.test_tap -*-
"""
txmp: a Twisted front and WSGI handler processes joined by ZeroMQ.

The package owns its version, L{__version__} (C{--version}, the front's
C{Server} header).  C{docs/architecture.md} says which module owns what.
"""
from __future__ import annotations

__version__ = "0.1.0"
