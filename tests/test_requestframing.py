# -*- test-case-name: tests.test_requestframing -*-
"""
The front frames requests itself (RFC 9112 sections 3.2, 6 and 7.1), closes
a connection whose body is still coming with a lingering close, and gives a
request body a deadline that a trickle cannot extend: checked over real TCP
against a real C{twistd mpfront}.
"""

from __future__ import annotations

from twisted.internet.defer import gatherResults
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import connectionDone
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from ._harness import RecordingConnection, SystemTestCase, asyncTest, reactor

RECORDER = "tests.apps.recorder:app"
ECHO = "tests.apps.echo:app"
CALLED = "app called"

# Refused from the head alone: (what, request bytes, status).  Each is
# followed by a request for /smuggled that must never run.
BAD_HEADS = [
    ("Transfer-Encoding: identity",
     b"POST /bad HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    ("chunked then identity on two lines",
     b"POST /bad HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding on HTTP/1.0",
     b"POST /bad HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("Host with a space", b"GET /bad HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("Host with a path and userinfo", b"GET /bad HTTP/1.1\r\nHost: evil.com/x@y\r\n\r\n", 400),
    ("absolute-form with userinfo",
     b"GET http://user@h/bad HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("Content-Type twice",
     b"POST /bad HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
     b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 0\r\n\r\n", 400),
]

# A chunked POST whose body breaks the framing: (what, body bytes).
BAD_BODIES = [
    ("chunk size of 17 hex digits", b"00000000000000003\r\nabc\r\n0\r\n\r\n"),
    ("chunk size of 2^68", b"100000000000000000\r\n"),
    ("no empty line after the trailers", b"3\r\nabc\r\n0\r\n"),
    ("NUL in a trailer", b"3\r\nabc\r\n0\r\nX-T: a\x00b\r\n\r\n"),
]

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
CHUNKED_HEAD = b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


class _Trickler(RecordingConnection):
    """
    Sends a chunked request head, then one byte of body every C{interval}
    seconds for as long as the connection stays open (R.U.D.Y.).
    """

    def __init__(self, interval: float) -> None:
        super().__init__()
        self._interval = interval
        self._sending = LoopingCall(self._sendByte)
        self._sending.clock = reactor
        self.bodyStartedAt = 0.0
        self.answeredAt: float | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self.send(CHUNKED_HEAD + b"ffff\r\n")
        self.bodyStartedAt = reactor.seconds()
        self._sending.start(self._interval)

    def _sendByte(self) -> None:
        self.send(b"x")

    def dataReceived(self, data: bytes) -> None:
        if self.answeredAt is None:
            self.answeredAt = reactor.seconds()
        super().dataReceived(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._sending.running:
            self._sending.stop()
        super().connectionLost(reason)


class FramingTests(SystemTestCase):
    """
    Request framing the RFC says must be refused is answered by the front
    with 400 and a closed connection; nothing smuggled after it runs.
    """

    @asyncTest
    async def test_badHeads(self) -> None:
        """
        Each bad head gets its status and C{Connection: close}, the
        connection is closed, and the application sees neither the
        request nor the C{/smuggled} one after it.
        """
        _front, handler = await self.startFrontAndHandler(RECORDER)
        for what, data, status in BAD_HEADS:
            await self.assertRejected(data + SMUGGLED, status, what)
        await self.assertOnlyCalledFor(handler, "/good", CALLED)

    @asyncTest
    async def test_badBodies(self) -> None:
        """
        A chunked body with a chunk size of 17 hex digits or more, or
        trailers that are not field lines (a missing final CRLF, which
        would take a pipelined request for trailers, or a NUL), gets 400
        with C{Connection: close} and nothing after it; a small body (up
        to 64 KiB, read whole first) before the application is called.
        """
        _front, handler = await self.startFrontAndHandler(RECORDER)
        for what, body in BAD_BODIES:
            await self.assertRejected(CHUNKED_HEAD + body + SMUGGLED, 400, what)
        await self.assertOnlyCalledFor(handler, "/good", CALLED)

    @asyncTest
    async def test_absoluteForm(self) -> None:
        """
        For an absolute-form target, the application's C{SERVER_NAME} and
        C{HTTP_HOST} come from the target's authority, not from C{Host}.
        """
        await self.startFrontAndHandler("tests.apps.host:app")
        client = await self.rawConnection()
        response = await client.request(
            b"GET http://example.org:8081/x HTTP/1.1\r\nHost: evil.com\r\n\r\n"
        )
        self.assertEqual(
            (response.code, response.body), (200, b"example.org example.org:8081"),
            self.transcript(),
        )


    @asyncTest
    async def test_ipv6Host(self) -> None:
        """
        For a C{Host} that is an IPv6 address, the application's
        C{SERVER_NAME} is that address in brackets, as C{Host} writes it
        (RFC 3875 section 4.1.14), so that C{SERVER_NAME} and
        C{SERVER_PORT} make an authority.
        """
        await self.startFrontAndHandler("tests.apps.host:app")
        client = await self.rawConnection()
        response = await client.request(b"GET /x HTTP/1.1\r\nHost: [::1]:8081\r\n\r\n")
        self.assertEqual(
            (response.code, response.body), (200, b"[::1] [::1]:8081"), self.transcript()
        )


class LingeringCloseTests(SystemTestCase):
    """
    A request answered while its body is still coming gets an answer the
    client can read, a connection closed cleanly, and nothing else.
    """

    @asyncTest
    async def test_chunkedTooLarge(self) -> None:
        """
        A chunked body over C{--max-body}, sent whole, gets one 413 with
        C{Connection: close}, then the end of the connection (not a reset,
        no other response), and the front logs no error.
        """
        front, _handler = await self.startFrontAndHandler(
            ECHO, frontArguments=["--max-body", "100000"]
        )
        chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        client = await self.connect(RecordingConnection())
        client.send(
            CHUNKED_HEAD + chunk * 64 + b"0\r\n\r\n" + SMUGGLED
        )
        await self.withTimeout(client.closed, 10, "the front to close the connection")
        self.assertTrue(client.received.startswith(b"HTTP/1.1 413 "), client.received[:200])
        self.assertEqual(client.received.count(b"HTTP/1.1 "), 1, client.received)
        self.assertIn(b"\r\nConnection: close\r\n", client.received)
        assert client.reason is not None
        self.assertTrue(client.reason.check(ConnectionDone), client.reason)
        self.assertEqual(front.countLines("Traceback"), 0, self.transcript())
        self.assertEqual(front.countLines("Unhandled"), 0, self.transcript())
        self.assertResponse(await self.get("/"), 200)

    @asyncTest
    async def test_lengthTooLargeWhileSending(self) -> None:
        """
        A client that sends a body over C{--max-body} whole, without waiting
        for C{100 Continue}, reads the 413 and then a clean end of the
        connection, not a reset: the front reads and discards the body.
        """
        await self.startFrontAndHandler(ECHO, frontArguments=["--max-body", "100000"])
        size = 4 * 1024 * 1024
        client = await self.connect(RecordingConnection())
        client.send(
            b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (size,)
            + b"x" * size
        )
        await self.withTimeout(client.closed, 10, "the front to close the connection")
        self.assertTrue(client.received.startswith(b"HTTP/1.1 413 "), client.received[:200])
        assert client.reason is not None
        self.assertTrue(client.reason.check(ConnectionDone), client.reason)


class BodyTimeoutTests(SystemTestCase):
    """
    Request bodies trickled to hold a handler's threads (R.U.D.Y.) are cut
    at C{--body-timeout}.
    """

    timeout = 60

    @asyncTest
    async def test_trickle(self) -> None:
        """
        With C{--body-timeout 3} and a handler of 2 threads, two uploads
        trickling a byte every 0.2 seconds hold both threads; each gets 408
        with C{Connection: close} about 3 seconds after its body started,
        and a C{GET} sent meanwhile is served (without the deadline it
        would get 503 after C{--queue-timeout}).
        """
        await self.startFrontAndHandler(
            ECHO, "--threads", "2", frontArguments=["--body-timeout", "3"]
        )
        tricklers: list[_Trickler] = [
            await self.connect(_Trickler(0.2)) for i in range(2)
        ]
        result = await self.get("/unrelated", timeout=15)
        self.assertResponse(result, 200)
        await self.withTimeout(
            gatherResults([t.closed for t in tricklers]), 15, "the tricklers to be closed"
        )
        for trickler in tricklers:
            self.assertTrue(
                trickler.received.startswith(b"HTTP/1.1 408 "), trickler.received[:200]
            )
            self.assertIn(b"\r\nConnection: close\r\n", trickler.received)
            assert trickler.answeredAt is not None
            took = trickler.answeredAt - trickler.bodyStartedAt
            self.assertTrue(2.9 < took < 4.5, f"408 after {took:.2f}s" + self.transcript())
        self.assertLess(result.elapsed, 5.0, self.transcript())
