# -*- test-case-name: tests.test_ab -*-
"""
The real ApacheBench (C{ab}) against a front and a handler.  C{ab -k}
speaks HTTP/1.0 with C{Connection: Keep-Alive}, as users benchmarking a
server run it: the front keeps such a connection when the response's
length is known, and ends it with a response streamed without one (which
HTTP/1.0 cannot chunk), as gunicorn, nginx and Apache do.

Each test checks what ab reports (its summary's counts) and the front's
access log.  ab runs as a process of the test
(L{SystemTestCase.startProcess}), waited for on the reactor and stopped by
its PID if it outlives the test.  Needs ab, of Debian's C{apache2-utils}
(C{.ci/run} installs it).
"""

from __future__ import annotations

import shutil

from twisted.internet.error import ProcessTerminated

from ._harness import SystemTestCase, asyncTest
from .apps import hello, streaming

AB = shutil.which("ab")

#: How many requests each run sends, and over how many connections at once.
REQUESTS = 200
CONCURRENCY = 4

#: How long one ab run may take before the test fails.
AB_TIMEOUT = 45.0


class ApacheBenchTests(SystemTestCase):
    """
    C{ab -k}, as people run it, against a front and a handler.
    """

    if AB is None:
        skip = "ab is not installed (.ci/run installs apache2-utils)"

    timeout = 90

    async def ab(self, path: str) -> dict[str, str]:
        """
        Run C{ab -q -k -n REQUESTS -c CONCURRENCY} on C{path} of the front,
        to its end, and check that it exited 0.

        @param path: The path to ask for.
        @return: ab's summary, each C{Name: value} line's value (as
            C{"200"} or C{"14 bytes"}) by its name.
        """
        assert AB is not None
        process = self.startProcess(
            "ab",
            [AB, "-q", "-k", "-n", str(REQUESTS), "-c", str(CONCURRENCY),
             self.url(path).decode("ascii")],
        )
        transport = process.transport
        assert transport is not None
        transport.closeStdin()
        end = await self.withTimeout(process.whenEnded(), AB_TIMEOUT, "ab to exit")
        if isinstance(end, ProcessTerminated):
            self.fail(f"ab ended with {process.describeEnd()}" + self.transcript())
        summary = {}
        for line in process.lines:
            name, colon, value = line.partition(":")
            if colon and not line.startswith(" "):
                summary[name.strip()] = value.strip()
        return summary

    async def assertServed(self, app: str, path: str, body: bytes, keptAlive: int) -> None:
        """
        Start a front (its access log on standard output) and a handler of
        C{app}, run ab on C{path}, and assert that all its requests
        completed, none failed and none had another status than 2xx, with
        C{body} each (the bytes exactly the application's: no chunked
        framing), C{keptAlive} of them on a kept connection; and that the
        front logged each, as HTTP/1.0.
        """
        front, _ = await self.startFrontAndHandler(app, frontArguments=["--access-log", "-"])
        summary = await self.ab(path)
        expected = {
            "Complete requests": str(REQUESTS),
            "Failed requests": "0",
            "Keep-Alive requests": str(keptAlive),
            "Document Length": f"{len(body)} bytes",
            "HTML transferred": f"{REQUESTS * len(body)} bytes",
        }
        message = f"ab reported {summary}" + self.transcript()
        self.assertEqual({name: summary.get(name) for name in expected}, expected, message)
        self.assertNotIn("Non-2xx responses", summary, message)
        await front.waitForLine(f'"GET {path} HTTP/1.0" 200 {len(body)} ', REQUESTS)

    @asyncTest
    async def test_keepAlive(self) -> None:
        """
        A response with a C{Content-Length} keeps each of ab's connections:
        all the requests complete, none fails, and every one is counted as
        kept alive; the front logs each one, as HTTP/1.0.
        """
        await self.assertServed("tests.apps.hello:app", "/ab", hello.BODY, REQUESTS)

    @asyncTest
    async def test_listWithoutLength(self) -> None:
        """
        A body the application returns as a list, without a
        C{Content-Length}, gets one (its length is known), so ab's
        connections are kept, as with the application's own: it was
        ended with the connection, every request a new one.
        """
        await self.assertServed("tests.apps.streaming:listed", "/list", streaming.BODY, REQUESTS)

    @asyncTest
    async def test_streamedWithoutLength(self) -> None:
        """
        A response streamed without a C{Content-Length} ends with its
        connection instead: every request still completes, whole and
        unchunked (the body bytes are exactly the application's), none
        fails, and none is counted as kept alive.
        """
        await self.assertServed("tests.apps.streaming:app", "/stream", streaming.BODY, 0)
