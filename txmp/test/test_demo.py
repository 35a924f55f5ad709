# -*- test-case-name: txmp.test.test_demo -*-
"""
Tests for L{txmp.demo}, the application of the README's demo.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from txmp import demo


class DemoApplicationTests(SynchronousTestCase):
    """
    L{demo.app} is a WSGI application that says hello.
    """

    def test_hello(self) -> None:
        """
        It answers C{200} with a plain-text body naming the host and the
        process that served it, and a C{Content-Length} that is the body's.
        """
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def startResponse(status: str, headers: list[tuple[str, str]]) -> Any:
            started.append((status, headers))

        body = b"".join(demo.app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, startResponse))
        [(status, headers)] = started
        self.assertEqual(status, "200 OK")
        self.assertEqual(
            dict(headers),
            {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))},
        )
        self.assertEqual(
            body, b"Hello from txmp handler %s:%d\n" % (socket.gethostname().encode(), os.getpid())
        )
