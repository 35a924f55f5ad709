# -*- test-case-name: tests.test_accesslog -*-
"""
The front's access log: to stdout with C{--access-log -}, as JSON with
C{--access-log-format json}, and reopened by SIGUSR1 after logrotate moved
it.
"""

from __future__ import annotations

import json
import re

from ._harness import ClientConnection, SystemTestCase, asyncTest
from .apps import hello

COMBINED = re.compile(
    r'^127\.0\.0\.1 - - \[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d \+0000\] '
    r'"GET /logged\?x=1 HTTP/1\.1" 200 %d "-" "txmp-test/1" \d+\.\d{6} [0-9a-f]+\.1$'
    % (len(hello.BODY),)
)


class AccessLogTests(SystemTestCase):
    """
    A front with an access log serves requests and logs each.
    """

    @asyncTest
    async def test_stdout(self) -> None:
        """
        C{--access-log -} writes a combined line per request to standard
        output (with the client's address unquoted, the duration and the
        request id the front made), and creates no file named C{-}.
        """
        front, _ = await self.startFrontAndHandler(
            "tests.apps.hello:app", frontArguments=["--access-log", "-"]
        )
        result = await self.get("/logged?x=1", headers={"User-Agent": "txmp-test/1"})
        self.assertResponse(result, 200, hello.BODY)
        await front.waitForLine(COMBINED)
        self.assertFalse(self.workdir.child("-").exists(), self.transcript())

    @asyncTest
    async def test_jsonAndReopen(self) -> None:
        """
        C{--access-log-format json} writes one JSON object per line; after
        the file is moved away, SIGUSR1 makes the front write the next line
        to a new file by the same name.
        """
        path = self.workdir.child("access.log")
        front, _ = await self.startFrontAndHandler(
            "tests.apps.hello:app",
            frontArguments=["--access-log", path.path, "--access-log-format", "json"],
        )
        self.assertResponse(await self.get("/first"), 200, hello.BODY)
        [line] = path.getContent().decode("utf-8").splitlines()
        entry = json.loads(line)
        self.assertEqual(
            (entry["method"], entry["target"], entry["status"], entry["bytes"],
             entry["remote_addr"]),
            ("GET", "/first", 200, len(hello.BODY), "127.0.0.1"),
            self.transcript(),
        )
        self.assertIsInstance(entry["duration"], float)
        rotated = path.siblingExtension(".1")
        path.moveTo(rotated)
        front.signal("USR1")
        await front.waitForLine("access log reopened")
        self.assertResponse(await self.get("/second"), 200, hello.BODY)
        self.assertEqual(
            [json.loads(line)["target"] for line in path.getContent().splitlines()],
            ["/second"],
            self.transcript(),
        )
        self.assertEqual(len(rotated.getContent().splitlines()), 1, self.transcript())

    @asyncTest
    async def test_fullDisk(self) -> None:
        """
        An access log on a full disk (C{/dev/full}) loses its lines, and
        the front serves on: every request is answered, the handler's
        credits come back, and the front's log says once why the lines
        are lost.
        """
        front, _ = await self.startFrontAndHandler(
            "tests.apps.hello:app", frontArguments=["--access-log", "/dev/full"]
        )
        for n in range(8):
            self.assertResponse(await self.get("/full/%d" % (n,)), 200, hello.BODY)
        await front.waitForLine("access log /dev/full: cannot write")
        self.assertEqual(
            front.countLines("access log /dev/full: cannot write"), 1, self.transcript()
        )

    @asyncTest
    async def test_clientGone(self) -> None:
        """
        A client that goes away while the application runs its request
        leaves a line with 499 (nginx's "client closed request"), no body,
        and the request's id.
        """
        front, handler = await self.startFrontAndHandler(
            "tests.apps.slow:app", frontArguments=["--access-log", "-"]
        )
        client = await self.connect(ClientConnection())
        client.send(b"GET /slow?seconds=2 HTTP/1.1\r\nHost: h\r\n\r\n")
        await handler.waitForLine("slow request started: GET", timeout=10)
        await client.abort()
        await front.waitForLine(
            re.compile(r'"GET /slow\?seconds=2 HTTP/1\.1" 499 - "-" "-" [0-9.]+ [0-9a-f]+\.1$'),
            timeout=10,
        )


class RequestIdTests(SystemTestCase):
    """
    One id per request, from the front to the application and back.
    """

    @asyncTest
    async def test_requestId(self) -> None:
        """
        The response carries an C{X-Request-Id}; the application sees it as
        C{HTTP_X_REQUEST_ID}, the handler's log names the request by it, and
        the access log records it.
        """
        path = self.workdir.child("access.log")
        _front, handler = await self.startFrontAndHandler(
            "tests.apps.recorder:app",
            frontArguments=["--access-log", path.path, "--access-log-format", "json"],
        )
        result = await self.get("/r", headers={"X-Request-Id": "forged-by-client"})
        self.assertEqual(result.code, 200, self.transcript())
        requestId = result.header("x-request-id")
        assert requestId is not None
        self.assertNotEqual(requestId, "forged-by-client")
        self.assertIn(b"HTTP_X_REQUEST_ID", result.body)
        await handler.waitForLine(f"(request {requestId}): app called GET /r")
        [line] = path.getContent().decode("utf-8").splitlines()
        self.assertEqual(json.loads(line)["request_id"], requestId)
