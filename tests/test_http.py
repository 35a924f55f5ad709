# -*- test-case-name: tests.test_http -*-
"""
The front speaks HTTP/1.1 properly on the wire: bodyless C{HEAD}
responses, persistent connections, chunked bodies when the application
gives no length; checked byte by byte with L{RawHTTPClient}.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.web.client import Agent
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from ._harness import (
    IncompleteResponse,
    RawResponse,
    RecordingConnection,
    SystemTestCase,
    asyncTest,
    reactor,
)
from .apps import bigbody, hello, streaming

HELLO = "tests.apps.hello:app"
UNSIZED = "tests.apps.hello:unsized"
STREAMING = "tests.apps.streaming:app"
ENDLESS = "tests.apps.streaming:endless"
FLUSHED = "tests.apps.streaming:flushed"


@implementer(IStreamClientEndpoint)
class _CountingEndpoint:
    """
    A TCP endpoint that counts the connections made through it.
    """

    def __init__(self, factory: _CountingEndpointFactory, host: str, port: int) -> None:
        self._counter = factory
        self._endpoint = TCP4ClientEndpoint(reactor, host, port)

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        self._counter.connections += 1
        return self._endpoint.connect(protocolFactory)


@implementer(IAgentEndpointFactory)
class _CountingEndpointFactory:
    """
    Give L{Agent} endpoints that count the connections it makes.

    @ivar connections: How many connections were made.
    """

    def __init__(self) -> None:
        self.connections = 0

    def endpointForURI(self, uri: Any) -> _CountingEndpoint:
        return _CountingEndpoint(self, uri.host.decode("ascii"), uri.port)


class HeadTests(SystemTestCase):
    """
    A C{HEAD} response has the C{GET} response's headers and no body.
    """

    @asyncTest
    async def test_headWithLength(self) -> None:
        """
        C{HEAD} on a response with C{Content-Length} sends the headers,
        including that length, and not a byte of body.
        """
        await self.startFrontAndHandler(HELLO)
        await self.assertHeadResponse(len(hello.BODY))

    @asyncTest
    async def test_headOfOneItemList(self) -> None:
        """
        C{HEAD} on an application that returns its body as a one-item list
        without C{Content-Length} gets the C{Content-Length} that C{GET}
        gets (the handler adds it to both), and not a byte of body.
        """
        await self.startFrontAndHandler(UNSIZED)
        client = await self.rawConnection()
        head = await client.request(self.rawRequest("HEAD", "/"), head=True)
        get = await client.request(self.rawRequest("GET", "/"))
        self.assertEqual((get.code, get.body), (200, hello.BODY), self.transcript())
        length = str(len(hello.BODY)).encode("ascii")
        self.assertEqual(get.header(b"content-length"), length, self.transcript())
        self.assertEqual(
            (head.code, head.header(b"content-length")), (200, length), self.transcript()
        )

    @asyncTest
    async def test_headThenGet(self) -> None:
        """
        C{HEAD} on a response without C{Content-Length} sends no body nor
        chunk framing, so a C{GET} that follows on the same connection is
        read correctly.
        """
        await self.startFrontAndHandler(STREAMING)
        client = await self.rawConnection()
        head = await client.request(self.rawRequest("HEAD", "/"), head=True)
        self.assertEqual(head.code, 200, self.transcript())
        get = await client.request(self.rawRequest("GET", "/"))
        self.assertEqual((get.code, get.body), (200, streaming.BODY), self.transcript())

    @asyncTest
    async def test_headOfEndlessStreamKeepsConnection(self) -> None:
        """
        C{HEAD} on an endless stream (an event stream, say) is answered
        with its head alone and ends there, so a request that follows on
        the same connection is answered: the handler stopped the stream
        instead of making a body for the front to drop, for ever.
        """
        await self.startFrontAndHandler(ENDLESS)
        client = await self.rawConnection()
        head = await self.withTimeout(
            client.request(self.rawRequest("HEAD", "/"), head=True), 10, "the HEAD response"
        )
        self.assertEqual(head.code, 200, self.transcript())
        second = await self.withTimeout(
            client.request(self.rawRequest("HEAD", "/"), head=True),
            10,
            "a second HEAD response on the connection",
        )
        self.assertEqual(second.code, 200, self.transcript())


class FlushedHeadTests(SystemTestCase):
    """
    An application's first C{write()}, even of nothing, sends the head.
    """

    @asyncTest
    async def test_emptyWriteSendsHead(self) -> None:
        """
        An application that flushes its head with an empty C{write()} and
        then waits (a long poll) has its head reach the client at once,
        before any body, as under wsgiref, gunicorn and Werkzeug's server;
        the body follows when the application writes it.
        """
        await self.startFrontAndHandler(FLUSHED)
        client = await self.connect(RecordingConnection())
        client.send(self.rawRequest("GET", "/poll"))
        await self.withTimeout(client.until(b"\r\n\r\n"), 10, "the head, before any body")
        self.assertTrue(client.received.startswith(b"HTTP/1.1 200 OK\r\n"), self.transcript())
        self.assertTrue(
            client.received.endswith(b"Transfer-Encoding: chunked\r\n\r\n"),
            repr(client.received) + self.transcript(),
        )
        self.assertResponse(await self.get("/release"), 200, b"released\n")
        await self.withTimeout(client.until(b"5\r\ndone\n\r\n0\r\n\r\n"), 10, "the body")


class PersistentConnectionTests(SystemTestCase):
    """
    Several requests are answered on one connection.
    """

    @asyncTest
    async def test_keepAlive(self) -> None:
        """
        Five requests made one after the other on one HTTP/1.1 connection
        are all answered, and the connection stays open.
        """
        await self.startFrontAndHandler(HELLO)
        client = await self.rawConnection()
        for i in range(5):
            response = await client.request(self.rawRequest("GET", f"/?n={i}"))
            self.assertEqual(
                (response.code, response.body),
                (200, hello.BODY),
                f"request {i} on one connection" + self.transcript(),
            )
            self.assertNotEqual(response.header(b"connection"), b"close", self.transcript())
            self.assertTrue(client.connected, f"closed after request {i}" + self.transcript())

    @asyncTest
    async def test_pipelined(self) -> None:
        """
        Requests pipelined on one connection are answered in order.
        """
        await self.startFrontAndHandler("tests.apps.echo:app")
        client = await self.rawConnection()
        bodies = [b"first" * 1000, b"second", b"third" * 10]
        pending = [
            client.request(self.rawRequest("POST", "/", body=body)) for body in bodies
        ]
        responses: list[RawResponse] = [await d for d in pending]
        self.assertEqual(
            [(r.code, r.body) for r in responses],
            [(200, body) for body in bodies],
            self.transcript(),
        )

    @asyncTest
    async def test_agentReusesConnection(self) -> None:
        """
        L{Agent} with a persistent pool makes five requests over a single
        TCP connection.
        """
        await self.startFrontAndHandler(HELLO)
        endpoints = _CountingEndpointFactory()
        agent = Agent.usingEndpointFactory(
            reactor, endpoints, pool=self.connectionPool(persistent=True)
        )
        for _ in range(5):
            self.assertResponse(await self.get("/", agent=agent), 200, hello.BODY)
        self.assertEqual(endpoints.connections, 1, self.transcript())


class ChunkedTests(SystemTestCase):
    """
    A response without C{Content-Length} is chunked for HTTP/1.1 clients and
    delimited by closing the connection for HTTP/1.0 ones.
    """

    @asyncTest
    async def test_chunked(self) -> None:
        """
        On HTTP/1.1, a generator body without C{Content-Length} is sent with
        C{Transfer-Encoding: chunked}, its chunks add up to the exact body,
        and the connection stays usable.
        """
        await self.startFrontAndHandler(STREAMING)
        client = await self.rawConnection()
        response = await client.request(self.rawRequest("GET", "/"))
        self.assertEqual(response.code, 200, self.transcript())
        self.assertEqual(response.header(b"transfer-encoding"), b"chunked", self.transcript())
        self.assertIsNone(response.header(b"content-length"), self.transcript())
        self.assertEqual(response.body, streaming.BODY, self.transcript())
        assert response.chunks is not None
        self.assertNotIn(0, response.chunks, self.transcript())
        again = await client.request(self.rawRequest("GET", "/"))
        self.assertEqual((again.code, again.body), (200, streaming.BODY), self.transcript())

    @asyncTest
    async def test_listGetsLength(self) -> None:
        """
        On HTTP/1.1, a list body without C{Content-Length} gets one, and no
        chunked framing: the front has all of it at once.
        """
        await self.startFrontAndHandler("tests.apps.streaming:listed")
        client = await self.rawConnection()
        response = await client.request(self.rawRequest("GET", "/"))
        self.assertEqual(response.code, 200, self.transcript())
        self.assertIsNone(response.header(b"transfer-encoding"), self.transcript())
        self.assertEqual(
            response.header(b"content-length"), b"%d" % (len(streaming.BODY),), self.transcript()
        )
        self.assertEqual(response.body, streaming.BODY, self.transcript())

    @asyncTest
    async def test_http10(self) -> None:
        """
        On HTTP/1.0, the same body is sent unchunked and ends when the front
        closes the connection.
        """
        await self.startFrontAndHandler(STREAMING)
        client = await self.rawConnection()
        response = await client.request(self.rawRequest("GET", "/", version="HTTP/1.0"))
        self.assertEqual(response.code, 200, self.transcript())
        self.assertIsNone(response.header(b"transfer-encoding"), self.transcript())
        self.assertEqual(response.body, streaming.BODY, self.transcript())
        self.assertFalse(client.connected, self.transcript())


class HalfCloseTests(SystemTestCase):
    """
    A client that half-closes its connection (C{shutdown(SHUT_WR)}) after
    its request is taken to have gone, as nginx (without
    C{proxy_ignore_client_abort}) and Twisted Web's C{HTTPChannel} before
    the front's own connection did: a FIN is how almost every client that
    leaves closes, and its request must not run on for no one.
    """

    @asyncTest
    async def test_halfCloseCancels(self) -> None:
        """
        A request whose client half-closes while the application runs is
        cancelled in the handler, and the front closes the connection
        without an answer.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        client = await self.rawConnection()
        response = client.request(self.rawRequest("GET", "/slow?seconds=2"))
        await handler.waitForLine("slow request started: GET", timeout=10)
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        await self.withTimeout(client.closed, 10, "the front closing the connection")
        self.assertFailure(response, IncompleteResponse)
        await response
        self.assertEqual(client.unparsed, b"", self.transcript())
        await handler.waitForLine("cancelled by the front while running", timeout=10)


class PipelinedAfterCloseTests(SystemTestCase):
    """
    A connection the front ends after a response, while its client meant to
    keep it, is closed in stages (half-closed, then what comes is read and
    discarded): a request the client pipelined meanwhile, left unread in a
    socket closed at once, would make the kernel reset the connection and
    drop what it had not sent yet of the response (RFC 9112 section 9.6).
    """

    @asyncTest
    async def test_pipelinedWhileResponseSent(self) -> None:
        """
        An HTTP/1.0 client that asked for keep-alive and gets a body
        without C{Content-Length} (which ends with the connection), and
        pipelines another request before it reads that response, reads it
        whole.
        """
        size = 1024 * 1024
        front, _handler = await self.startFrontAndHandler(
            "tests.apps.bigbody:app", frontArguments=["--access-log", "-"]
        )
        client = await self.rawConnection()
        handle = client.transport.getHandle()  # type: ignore[union-attr]
        # Small, so that most of the response waits in the front's socket.
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        client.transport.pauseProducing()  # type: ignore[union-attr]
        response = client.request(
            self.rawRequest(
                "GET",
                f"/download?size={size}",
                version="HTTP/1.0",
                headers=[("Connection", "keep-alive")],
            )
        )
        # The access-log line is written when the response is complete at
        # the front: it has decided to close the connection after it.
        await front.waitForLine(f'"GET /download?size={size} HTTP/1.0" 200', timeout=10)
        client.send(self.rawRequest("GET", "/", version="HTTP/1.0"))
        client.transport.resumeProducing()  # type: ignore[union-attr]
        result = await self.withTimeout(response, 10, "the download")
        self.assertEqual(result.header(b"connection"), b"close", self.transcript())
        self.assertEqual(len(result.body), size, self.transcript())
        self.assertEqual(result.body, b"".join(bigbody.blocks(size)))
