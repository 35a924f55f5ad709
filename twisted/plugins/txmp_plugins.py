# -*- test-case-name: txmp.test.test_tap -*-
"""
The twistd plugins of txmp: C{mpfront} and C{mphandler}.

Lazy: C{twistd --help} imports neither the taps nor any application.
"""
from __future__ import annotations

from twisted.application.service import ServiceMaker

TxmpFront = ServiceMaker(
    "txmp front",
    "txmp.fronttap",
    "HTTP front end passing requests over ZeroMQ to mphandler processes.",
    "mpfront",
)

TxmpHandler = ServiceMaker(
    "txmp handler",
    "txmp.handlertap",
    "Run a WSGI application for mpfront processes, over ZeroMQ.",
    "mphandler",
)
