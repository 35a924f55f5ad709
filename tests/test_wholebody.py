# -*- test-case-name: tests.test_wholebody -*-
"""
Applications that read a request body larger than the handler's input
window in one call get all of it, promptly: the handler grants what a
waiting read has taken, so the front sends the rest.
"""

from __future__ import annotations

import os

from ._harness import SystemTestCase, asyncTest
from .apps.wholebody import summary

MiB = 1024 * 1024

# Well below the test's own timeout: a read that waits for a window that
# never comes fails with 504 long before the test times out.
TIMEOUT = ("--timeout", "20")


class WholeBodyTests(SystemTestCase):
    """
    C{wsgi.input.read(n)}, C{read()} and C{readline()} for a whole body
    many times the input window.
    """

    @asyncTest
    async def test_readContentLength(self) -> None:
        """
        C{read(int(CONTENT_LENGTH))} of an 8 MiB body returns it whole.
        """
        await self.startFrontAndHandler(
            "tests.apps.wholebody:app", frontArguments=TIMEOUT
        )
        body = os.urandom(8 * MiB)
        result = await self.request(b"POST", "/read-length", body)
        self.assertResponse(result, 200, summary(body))

    @asyncTest
    async def test_readAllChunked(self) -> None:
        """
        C{read()} of a 2 MiB chunked body returns it whole.
        """
        await self.startFrontAndHandler(
            "tests.apps.wholebody:app", frontArguments=TIMEOUT
        )
        body = os.urandom(2 * MiB)
        result = await self.request(b"POST", "/read-all", body, chunked=True)
        self.assertResponse(result, 200, summary(body))

    @asyncTest
    async def test_readlineNoNewline(self) -> None:
        """
        C{readline()} on a 2 MiB body with no newline returns all of it.
        """
        await self.startFrontAndHandler(
            "tests.apps.wholebody:app", frontArguments=TIMEOUT
        )
        body = b"x" * (2 * MiB)
        result = await self.request(b"POST", "/readline", body)
        self.assertResponse(result, 200, summary(body))
