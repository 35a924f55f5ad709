# -*- test-case-name: tests.test_clients -*-
"""
The Python HTTP clients people use against a front and a handler:
requests (on urllib3's connection pool), httpx (on h11, the strictest
parser of them) and the standard library's C{urllib.request} (which asks
for C{Connection: close}), with habits the suite's Twisted and raw clients
do not have: a pool that reuses a connection whose socket shows nothing,
and drops one that shows its end; a parser that takes no byte out of
place; a reader slower than the front.

The clients block: each runs in a thread of the reactor's pool
(L{inThread}), with timeouts of its own, while the test waits on the
reactor for it and for the processes' lines.  A client on a slow link is
played by one that reads at a set rate through a small receive window
(C{SO_RCVBUF}), so that what it has not read stays with the front rather
than in the kernels' buffers, as on a real slow link.
"""

from __future__ import annotations

import hashlib
import http.client
import select
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import requests
from requests.adapters import HTTPAdapter
from twisted.trial.unittest import SkipTest
from urllib3.connection import HTTPConnection

from txmp._defaults import ABORT_TIMEOUT

from ._harness import (
    CLIENT_TIMEOUT,
    PIECE,
    SMALL_WINDOW,
    SystemTestCase,
    asyncTest,
    inThread,
    readAtRate,
    reads,
)
from .apps import bigbody, clientele

CLIENTELE = "tests.apps.clientele:app"

MiB = 1024 * 1024

class _SlowLinkAdapter(HTTPAdapter):
    """
    A requests adapter whose connections have a receive buffer of
    L{SMALL_WINDOW} bytes.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = [
            *HTTPConnection.default_socket_options,
            (socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_WINDOW),
        ]
        super().init_poolmanager(*args, **kwargs)


class _SlowLinkConnection(http.client.HTTPConnection):
    """
    An C{http.client} connection with a receive buffer of L{SMALL_WINDOW}
    bytes, set before it connects.
    """

    def connect(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_WINDOW)
        sock.settimeout(self.timeout)
        sock.connect((self.host, self.port))
        self.sock = sock


class _SlowLinkHandler(urllib.request.HTTPHandler):
    """
    C{urllib.request}'s HTTP handler, over L{_SlowLinkConnection}s.
    """

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_SlowLinkConnection, req)


def _largestSendBuffer() -> int:
    """
    How large Linux lets a TCP socket's send buffer grow (C{tcp_wmem}'s
    last value), or 0 where it does not say.
    """
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return 0


def localPort(response: requests.Response) -> int:
    """
    The client's port of the connection that carries C{response}, made
    with C{stream=True} and not read yet (urllib3 reuses a connection
    object for a new connection when the front closed the last one).
    """
    port: int = response.raw.connection.sock.getsockname()[1]
    return port


class ClientTestCase(SystemTestCase):
    """
    A front and one handler serving L{tests.apps.clientele}, and the
    clients' URLs for it.
    """

    def address(self, path: str) -> str:
        """
        The URL of C{path} on the front, as a client library takes it.
        """
        return self.url(path).decode("ascii")

    def session(self) -> requests.Session:
        """
        A requests session, closed when the test ends.
        """
        session = requests.Session()
        self.addCleanup(session.close)
        return session


class SlowReaderTests(ClientTestCase):
    """
    A client that reads the end of its response slowly, after the front
    wrote it all to its transport: it is not idle, and is given the time it
    takes as long as it takes some within the front's C{--timeout} each
    time.
    """

    timeout = 120

    @asyncTest
    async def test_wholeResponseOnSlowLinks(self) -> None:
        """
        A 32 MiB response returned whole (as frameworks return bodies), read
        at 1.5 MiB/s through a small window, so for about 21 seconds, most of
        it after the front has written it all to its transport: a requests
        session (kept alive, with C{--idle-timeout 1}) and C{urllib.request}
        (C{Connection: close}) each get all of it, and the session
        carries on.

        (The front closed the first one 1 second after it had written the
        end, then aborted it 15 seconds later, as it aborted the second 15
        seconds after its end: both clients lost the rest.)
        """
        await self.startFrontAndHandler(CLIENTELE, frontArguments=["--idle-timeout", "1"])
        size = 32 * MiB
        rate = 1.5 * MiB
        url = self.address(f"/whole?size={size}")
        session = self.session()
        session.mount("http://", _SlowLinkAdapter())

        def keptAlive() -> tuple[int, str, int]:
            response = session.get(url, stream=True, timeout=CLIENT_TIMEOUT)
            count, digest = readAtRate(response.iter_content(PIECE), rate)
            again = session.get(self.address("/again"), timeout=CLIENT_TIMEOUT)
            return count, digest, again.status_code

        def closing() -> tuple[int, str, str | None]:
            opener = urllib.request.build_opener(_SlowLinkHandler)
            with opener.open(url, timeout=CLIENT_TIMEOUT) as response:
                count, digest = readAtRate(reads(response.read), rate)
                return count, digest, response.headers.get("Connection")

        expected = bigbody.expectedDigest(size)
        # Both at once.
        sessionRead, urllibRead = inThread(keptAlive), inThread(closing)
        sessionResult = await self.withTimeout(sessionRead, 100, "requests to read")
        urllibResult = await self.withTimeout(urllibRead, 100, "urllib.request to read")
        self.assertEqual(sessionResult, (size, expected, 200), self.transcript())
        self.assertEqual(urllibResult, (size, expected, "close"), self.transcript())

    @asyncTest
    async def test_idleCloseWhileKernelHolds(self) -> None:
        """
        A kept-alive connection whose whole response the kernel took, so
        that the front's transport holds nothing and the kernel's send
        buffer most of it, is closed by C{--idle-timeout} while a slow
        client still reads it (16 KB/s): the client gets all of it, then
        the connection's end, and the front says nothing of a client that
        took too little.  (The front judged the client by its transport alone:
        it aborted the connection L{ABORT_TIMEOUT} after closing it, the
        kernel's buffer, not yet a third free, never letting the close go
        on, and the client lost the rest.)
        """
        if _largestSendBuffer() < 4 * MiB:
            raise SkipTest("the kernel's send buffers grow to less than 4 MiB here")
        front, _ = await self.startFrontAndHandler(
            CLIENTELE, frontArguments=["--idle-timeout", "1"]
        )
        # The kernel's send buffer (4 MiB, tcp_wmem's most on this machine
        # type) takes it all (its transport then holds nothing, and the
        # idle timeout runs), but is then more than two thirds full (with
        # the overhead of its buffers): the socket is not writable, so the
        # front's close (loseConnection) waits, until the client has read
        # a third of it.
        size = 2 * MiB + 3 * MiB // 4
        request = b"GET /whole?size=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (size,)
        slowFor = ABORT_TIMEOUT + 3
        port = self.httpPort

        def read() -> tuple[int, str, bytes]:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            with sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                sock.settimeout(CLIENT_TIMEOUT)
                sock.connect(("127.0.0.1", port))
                sock.sendall(request)
                received = []
                start = time.monotonic()
                # Slowly, then as fast as it comes.
                while time.monotonic() - start < slowFor:
                    piece = sock.recv(4096)
                    if not piece:
                        break
                    received.append(piece)
                    time.sleep(0.25)
                while piece:
                    piece = sock.recv(PIECE)
                    received.append(piece)
                data = b"".join(received)
            head, _, body = data.partition(b"\r\n\r\n")
            return len(body), hashlib.sha256(body).hexdigest(), head.split(b"\r\n")[0]

        count, digest, status = await self.withTimeout(inThread(read), 60, "the client")
        self.assertEqual(status, b"HTTP/1.1 200 OK", self.transcript())
        self.assertEqual((count, digest), (size, bigbody.expectedDigest(size)))
        self.assertEqual(front.countLines("took too little"), 0, self.transcript())

    @asyncTest
    async def test_stalledClientCut(self) -> None:
        """
        A client that stops taking the end of its response is cut after
        the front's C{--timeout} without progress (the front says so), and
        its session's next request is answered on a new connection.
        """
        front, _ = await self.startFrontAndHandler(
            CLIENTELE, frontArguments=["--timeout", "2"]
        )
        url = self.address(f"/whole?size={32 * MiB}")
        session = self.session()
        session.mount("http://", _SlowLinkAdapter())

        def start() -> tuple[requests.Response, int, Iterator[bytes]]:
            response = session.get(url, stream=True, timeout=CLIENT_TIMEOUT)
            port = localPort(response)
            pieces = response.iter_content(PIECE)
            next(pieces)
            return response, port, pieces

        response, port, pieces = await inThread(start)
        self.assertEqual(response.status_code, 200)
        await front.waitForLine("took too little of its response in 2.0s")

        def rest() -> int:
            return sum(len(piece) for piece in pieces)

        with self.assertRaises(requests.RequestException):
            await inThread(rest)
        again = await inThread(
            lambda: session.get(self.address("/again"), stream=True, timeout=CLIENT_TIMEOUT)
        )
        self.assertEqual(again.status_code, 200)
        self.assertNotEqual(localPort(again), port)
        self.assertEqual(again.content, clientele.OK)


class KeepAliveTests(ClientTestCase):
    """
    A requests session's pooled connection that the front closed as idle.

    (A request sent in the instant the front closes one cannot be tested
    on an event: urllib3 then raises for a C{POST} rather than send it
    again, unless told to, and requests retries nothing by default;
    docs/deployment.md, "HTTP limits".)
    """

    @asyncTest
    async def test_postAfterIdleClose(self) -> None:
        """
        The front closes a kept-alive connection C{--idle-timeout} after its
        response (the client sees its end, not before a second); the
        session then sends a C{POST} on a new connection, and the
        application has it once.
        """
        _, handler = await self.startFrontAndHandler(
            CLIENTELE, frontArguments=["--idle-timeout", "1"]
        )
        session = self.session()

        def first() -> tuple[bytes, socket.socket, float]:
            response = session.get(self.address("/first"), stream=True, timeout=CLIENT_TIMEOUT)
            sock = response.raw.connection.sock
            return response.content, sock, time.monotonic()

        def post() -> tuple[int, bytes, int]:
            response = session.post(
                self.address("/form"), data=b"hello", stream=True, timeout=CLIENT_TIMEOUT
            )
            port = localPort(response)
            return response.status_code, response.content, port

        def closedAfter(sock: socket.socket, since: float) -> float | None:
            readable, _, _ = select.select([sock], [], [], 10)
            if not readable or sock.recv(1, socket.MSG_PEEK) != b"":
                return None
            return time.monotonic() - since

        content, sock, since = await inThread(first)
        self.assertEqual(content, clientele.OK)
        closed = await inThread(closedAfter, sock, since)
        self.assertIsNotNone(closed, "the front never closed the idle connection")
        assert closed is not None
        self.assertTrue(0.9 <= closed < 5, f"closed {closed:.2f}s after the response")
        port = sock.getsockname()[1]
        status, body, postPort = await inThread(post)
        self.assertEqual((status, body), (200, b"posted 5\n"))
        self.assertNotEqual(postPort, port)
        await handler.waitForLine("posted /form 5")
        self.assertEqual(handler.countLines("posted /form"), 1, self.transcript())


class StrictParserTests(ClientTestCase):
    """
    httpx, whose h11 refuses what HTTP/1.1 does not allow, on one
    connection.
    """

    @asyncTest
    async def test_responsesWithoutBodies(self) -> None:
        """
        On one connection, a chunked C{200}, the C{304} of a conditional
        C{GET}, a C{204} and a C{205} (whose applications yield a body all
        the same), and C{HEAD} of each: no byte of body after the responses that have
        none, or h11 would read it as the next response (or httpx, seeing
        the socket readable, take a new connection).
        """
        await self.startFrontAndHandler(CLIENTELE)
        connects: list[str] = []

        def trace(name: str, info: object) -> None:
            if name == "connection.connect_tcp.complete":
                connects.append(name)

        def exchanges() -> list[tuple[int, bytes, str | None, str | None]]:
            results = []
            with httpx.Client(timeout=CLIENT_TIMEOUT) as client:
                for method, path, headers in [
                    ("GET", "/etag", {}),
                    ("GET", "/etag", {"If-None-Match": clientele.ETAG}),
                    ("HEAD", "/etag", {}),
                    ("GET", "/nocontent", {}),
                    ("HEAD", "/nocontent", {}),
                    ("GET", "/resetcontent", {}),
                    ("HEAD", "/resetcontent", {}),
                    ("GET", "/etag", {}),
                ]:
                    response = client.request(
                        method, self.address(path), headers=headers, extensions={"trace": trace}
                    )
                    results.append(
                        (
                            response.status_code,
                            response.content,
                            response.headers.get("transfer-encoding"),
                            response.headers.get("content-length"),
                        )
                    )
            return results

        results = await inThread(exchanges)
        self.assertEqual(
            results,
            [
                (200, clientele.ETAG_BODY, "chunked", None),
                (304, b"", None, None),
                (200, b"", None, None),
                (204, b"", None, None),
                (204, b"", None, None),
                # RFC 9110 section 15.3.6: no content, and said so.
                (205, b"", None, "0"),
                (205, b"", None, "0"),
                (200, clientele.ETAG_BODY, "chunked", None),
            ],
            self.transcript(),
        )
        self.assertEqual(len(connects), 1, self.transcript())
