# -*- test-case-name: txmp.test.test_front -*-
"""
Tests for L{txmp._front}: the front's HTTP server, driven with a
real L{Dispatcher} on a L{MemorySocket}, a L{Clock}, and HTTP requests fed
as raw bytes to a L{FrontConnection} over a L{StringTransport}.
"""

from __future__ import annotations

import errno
import gc
import platform
import weakref
from typing import Any, cast

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, LogEvent, Logger, capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import twisted
from txmp import __version__, _front, protocol
from txmp._access import AccessLog
from txmp._defaults import (
    ABORT_TIMEOUT,
    DEFAULT_WINDOW,
    GRANT_DIVISOR,
    MIN_PROGRESS,
    MIN_USER_TIMEOUT,
    PEER_LOG_BURST,
    PEER_LOG_INTERVAL,
    PIPELINE_BUFFER,
    SEND_LIMIT,
    SMALL_BODY,
)
from txmp._dispatch import RETRY_SUFFIX, PendingRequest
from txmp._front import Exchange, FrontConnection, negotiatesOnContext
from txmp._http import HTTPRules, parseNetwork
from txmp._metrics import FrontMetrics
from txmp._zmq import PeerUnreachable
from txmp.testing import (
    FrontTestCase,
    ParsedResponse,
    TCPStringTransport,
    httpHead,
    selfSignedCertificate,
    tlsClientFactory,
)

try:
    from twisted.internet import ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory
    from twisted.test.iosim import connectedServerAndClient
except ImportError:
    # The tls extra is not installed (Debian's PyPy 3.9: setup.cfg).
    ssl = None  # type: ignore[assignment]


class NoDelayTests(FrontTestCase):
    """
    The front turns Nagle's algorithm off on TCP connections.
    """

    def test_tcpNoDelay(self) -> None:
        """
        A TCP client connection gets C{TCP_NODELAY}: a response's head and
        body, written apart, go at once, not the body after the client's
        delayed ACK of the head (40 ms at every kept-alive request).
        """
        transport = TCPStringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        self.connect(transport=transport)
        self.assertTrue(transport.noDelay)

    def test_noDelayRefused(self) -> None:
        """
        A connection whose transport says it is TCP but refuses
        C{TCP_NODELAY} (Twisted 23.10's UNIX server transport raises
        C{EOPNOTSUPP} from C{setTcpNoDelay}) is served all the same.
        """

        class Refusing(TCPStringTransport):
            def setTcpNoDelay(self, enabled: bool) -> None:
                raise OSError(errno.EOPNOTSUPP, "Operation not supported")

        transport = Refusing(hostAddress=self.serverAddress, peerAddress=self.clientAddress)
        channel, _ = self.connect(transport=transport)
        channel.dataReceived(b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
        self.assertEqual(self.lastRequest().head.target, "/x")
        self.assertFalse(transport.disconnecting)


class UserTimeoutTests(FrontTestCase):
    """
    The front has the kernel end a connection whose client acknowledges
    nothing for C{--timeout}.
    """

    def test_userTimeout(self) -> None:
        """
        Each client connection's transport is given the dispatcher's
        C{--timeout} as its C{TCP_USER_TIMEOUT} (L{setUserTimeout}): a
        client whose network vanished while a stream sends it heartbeats
        (server-sent events) is not written to, and its handler's thread
        held, for as long as TCP retransmits, about 15 minutes.  At least
        L{MIN_USER_TIMEOUT}: a short C{--timeout} does not end living
        clients on a lossy link.
        """
        calls: list[tuple[object, float]] = []
        self.patch(
            _front, "setUserTimeout", lambda transport, seconds: calls.append((transport, seconds))
        )
        self.dispatcher.timeout = 42.5
        _channel, transport = self.connect()
        self.dispatcher.timeout = 1
        _channel, other = self.connect()
        self.assertEqual(calls, [(transport, 42.5), (other, MIN_USER_TIMEOUT)])


class RequestTests(FrontTestCase):
    """
    What the resource sends to handlers.
    """

    def test_requestMeta(self) -> None:
        """
        The C{REQ} carries the method, the target exactly as sent, the
        version, the client's address, the server's name (from C{Host}) and
        port, and the scheme.
        """
        self.sendRequest(
            b"DELETE /a%20b/c?x=1&y=%2F HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"
        )
        head = self.lastRequest().head
        self.assertEqual(
            (head.method, head.target, head.version),
            ("DELETE", "/a%20b/c?x=1&y=%2F", "HTTP/1.1"),
        )
        self.assertEqual((head.remoteAddr, head.remotePort), ("192.0.2.5", 40000))
        self.assertEqual((head.serverName, head.serverPort), ("example.com", 8080))
        self.assertEqual(head.scheme, "http")
        self.assertFalse(head.more)
        self.assertEqual((head.window, head.extra), (self.dispatcher.window, {}))

    def test_https(self) -> None:
        """
        A request over TLS has the scheme C{https}.
        """
        self.sendRequest(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", secure=True)
        self.assertEqual(self.lastRequest().head.scheme, "https")

    def test_rawHeaderPairs(self) -> None:
        """
        The C{REQ} carries the header fields in the order received, with
        duplicates kept apart and names in their original case.
        """
        self.sendRequest(
            b"GET / HTTP/1.1\r\n"
            b"Host: example.com\r\n"
            b"x-lower: 1\r\n"
            b"Cookie: a=1\r\n"
            b"X-MiXeD-CaSe:   spaced value  \r\n"
            b"cookie: b=2\r\n"
            b"Accept: */*\r\n"
            b"Cookie: c=3\r\n"
            b"\r\n"
        )
        self.assertEqual(
            self.lastRequest().head.headers,
            [
                ("Host", "example.com"),
                ("x-lower", "1"),
                ("Cookie", "a=1"),
                ("X-MiXeD-CaSe", "spaced value"),
                ("cookie", "b=2"),
                ("Accept", "*/*"),
                ("Cookie", "c=3"),
                ("X-Request-Id", "front1.1"),
            ],
        )

    def test_rawHeaderPairsLatin1(self) -> None:
        """
        Header values are passed on as the octets received.
        """
        self.sendRequest(
            b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Name: caf\xe9\r\n\r\n"
        )
        self.assertEqual(
            self.lastRequest().head.headers[-2], ("X-Name", "caf\xe9")
        )

    def test_channelRecordsPairs(self) -> None:
        """
        L{FrontFactory} makes L{FrontConnection}s, and a request's exchange
        keeps its header fields in order, with their names as sent.
        """
        channel, _ = self.connect()
        self.assertIsInstance(channel, FrontConnection)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n")
        exchange = channel.exchange
        assert isinstance(exchange, Exchange)
        self.assertEqual(exchange.headers, [(b"Host", b"h"), (b"A", b"1")])

    def test_badHeaderNotRecorded(self) -> None:
        """
        A header line that Twisted refuses is not recorded, and the request
        is answered with 400 without reaching a handler.
        """
        _channel, transport = self.sendRequest(
            b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"
        )
        self.assertIn(b"400", transport.value().split(b"\r\n")[0])
        self.assertEqual(self.socket.sent, [])
        self.assertNoLeak()

    def test_body(self) -> None:
        """
        The request body goes in the C{REQ}.
        """
        self.sendRequest(
            b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\na=1&b=2"
        )
        request = self.lastRequest()
        self.assertEqual(request.body, [b"a=1&b=2"])
        self.assertIn(("Content-Length", "7"), request.head.headers)

    def test_chunkedBody(self) -> None:
        """
        A chunked request body of up to L{SMALL_BODY} bytes is read whole
        and de-chunked before the request goes to a handler, with it, in
        one message.
        """
        channel, _ = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n"
        )
        self.assertEqual(self.socket.routedMessages(), [])
        channel.dataReceived(b"0\r\n\r\n")
        request = self.lastRequest()
        self.assertFalse(request.head.more)
        self.assertEqual(b"".join(request.body), b"abcde")

    def test_largeChunkedBody(self) -> None:
        """
        A chunked request body that grows past L{SMALL_BODY} is streamed
        to the handler de-chunked from then on: the request goes with
        C{more} set, the body so far and the rest in C{BODY} messages,
        then C{END}.
        """
        first = b"a" * SMALL_BODY
        channel, _ = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (len(first),) + first + b"\r\n"
        )
        self.assertEqual(self.socket.routedMessages(), [])
        channel.dataReceived(b"3\r\nbcd\r\n")
        request = self.lastRequest()
        self.assertTrue(request.head.more)
        self.assertEqual(request.body, [])
        channel.dataReceived(b"2\r\nef\r\n0\r\n\r\n")
        self.assertEqual(
            self.streamedBody(request.requestId), (first + b"bcdef", True)
        )

    def test_tinyChunksOneMessagePerRead(self) -> None:
        """
        A streamed chunked body of 1-byte chunks goes to the handler in
        one C{BODY} message per read from the client, not one per chunk:
        the body buffered before the handler had the request in one, and
        each later read in one (1-byte chunks would otherwise cost the
        front, the socket and the handler a message for each 6 bytes a
        client sends: 200,000 of them kept a handler's reactor from its
        heartbeats until it was declared dead).
        """
        tiny = b"1\r\na\r\n"
        count = SMALL_BODY + 1
        channel, _ = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + tiny * count
        )
        request = self.lastRequest()
        self.assertTrue(request.head.more)
        channel.dataReceived(tiny * 1000 + b"0\r\n\r\n")
        bodies = [
            message
            for _peer, message in self.socket.routedMessages()
            if isinstance(message, protocol.Body)
        ]
        self.assertEqual(
            [(len(b"".join(message.chunks)), message.end) for message in bodies],
            [(count, False), (1000, False), (0, True)],
        )

    def test_nulNeverForwarded(self) -> None:
        """
        A NUL byte anywhere in the request head, which would corrupt the
        NUL-separated pair lists of C{REQ}, gets 400 and never reaches a
        handler.
        """
        for data in [
            b"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n",
            b"G\x00T / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\x00x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX-A\x00: 1\r\n\r\n",
        ]:
            _, transport = self.sendRequest(data)
            self.assertEqual(ParsedResponse(transport.value()).code, 400, data)
        self.assertEqual(self.socket.sent, [])
        self.assertNoLeak()

    def test_noBody(self) -> None:
        """
        A request without a body has no body frame.
        """
        self.get()
        self.assertEqual(self.lastRequest().body, [])

    def test_idempotence(self) -> None:
        """
        C{GET}, C{HEAD}, C{OPTIONS}, C{PUT} and C{DELETE} requests may be
        retried; C{POST} and C{PATCH} may not.
        """
        self.hello(10)
        for method, idempotent in [
            (b"GET", True), (b"HEAD", True), (b"OPTIONS", True), (b"PUT", True),
            (b"DELETE", True), (b"POST", False), (b"PATCH", False),
        ]:
            self.sendRequest(method + b" / HTTP/1.1\r\nHost: h\r\n\r\n")
            requestId = self.lastRequest().requestId
            self.assertEqual(
                self.dispatcher.pending[requestId].idempotent, idempotent, method
            )

    def test_upgradeIgnored(self) -> None:
        """
        A request that asks to switch protocols (C{Upgrade: websocket}, or
        C{h2c}) is served as HTTP/1.1, as RFC 9110 section 7.8 lets a
        server that does not switch: it goes to a handler like any other,
        and the response is the application's, on a connection kept alive
        for the next request; no C{101}.  (txmp serves no WebSocket.)
        """
        _, transport = self.sendRequest(
            b"GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        request = self.lastRequest()
        self.respond(request.requestId, body=[b"ok"])
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.body), (200, b"ok"))
        self.assertEqual(response.header(b"upgrade"), [])
        self.assertFalse(transport.disconnecting)


class RequestIdTests(FrontTestCase):
    """
    Every request carries an C{X-Request-Id}: the front makes one, or keeps
    a trusted proxy's; the handler gets it, and so does the client.
    """

    def test_made(self) -> None:
        """
        A request without one gets the front's own request id, in its
        C{REQ}'s headers and in its response.
        """
        _, transport = self.get()
        request = self.lastRequest()
        self.assertEqual(request.head.headers[-1],
                         ("X-Request-Id", request.requestId.decode("ascii")))
        self.respond(request.requestId, headers=[(b"Content-Length", b"0")])
        self.assertIn(b"\r\nX-Request-Id: " + request.requestId + b"\r\n",
                      transport.value())

    def test_clientsDropped(self) -> None:
        """
        One sent by a client that is not a trusted proxy is replaced.
        """
        self.sendRequest(b"GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: forged\r\n\r\n")
        request = self.lastRequest()
        ids = [value for name, value in request.head.headers if name.lower() == "x-request-id"]
        self.assertEqual(ids, [request.requestId.decode("ascii")])

    def test_trustedProxysKept(self) -> None:
        """
        One from a trusted proxy, if it is a plausible id, is kept, passed
        on and returned, in error pages too; an implausible one is replaced.
        """
        self.site.httpRules = HTTPRules(trustedProxies=(parseNetwork("192.0.2.0/24"),))
        _, transport = self.sendRequest(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: lb-7f3a.9\r\n\r\n"
        )
        request = self.lastRequest()
        self.assertIn(("X-Request-Id", "lb-7f3a.9"), request.head.headers)
        self.assertNotEqual(request.requestId, b"lb-7f3a.9")
        self.reply(protocol.encodeError(request.requestId, "boom"))
        self.assertIn(b"\r\nX-Request-Id: lb-7f3a.9\r\n", transport.value())
        self.sendRequest(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a b\"c\r\n\r\n"
        )
        self.assertIn(("X-Request-Id", self.lastRequest().requestId.decode("ascii")),
                      self.lastRequest().head.headers)


class ForwardedTests(FrontTestCase):
    """
    What a trusted proxy says about the client, in C{Forwarded} (RFC 7239)
    or in C{X-Forwarded-*}: a client behind a proxy that sets one and
    passes the other on as the client sent it (nginx, in
    docs/deployment.md's recipe, sets C{X-Forwarded-For} and passes
    C{Forwarded} on) must not choose its C{REMOTE_ADDR}, scheme or host.
    """

    def setUp(self) -> None:
        FrontTestCase.setUp(self)
        self.site.httpRules = HTTPRules(trustedProxies=(parseNetwork("192.0.2.0/24"),))

    def test_forwardedAlone(self) -> None:
        """
        C{Forwarded} alone names the client, its scheme and host.
        """
        self.sendRequest(httpHead(b"Forwarded: for=203.0.113.9;proto=https;host=example.org"))
        head = self.lastRequest().head
        self.assertEqual(
            (head.remoteAddr, head.scheme, head.serverName),
            ("203.0.113.9", "https", "example.org"),
        )

    def test_agreeing(self) -> None:
        """
        C{Forwarded} and C{X-Forwarded-*} that say the same (a proxy that
        sets both) are believed.
        """
        self.sendRequest(httpHead(
            b"Forwarded: for=203.0.113.9;proto=https",
            b"X-Forwarded-For: 203.0.113.9",
            b"X-Forwarded-Proto: https",
        ))
        head = self.lastRequest().head
        self.assertEqual((head.remoteAddr, head.scheme), ("203.0.113.9", "https"))

    def test_eachFromWhicheverNamesIt(self) -> None:
        """
        A fact one kind names and the other does not is taken from the one
        that names it: C{Forwarded} without C{for=} hides no client named
        by C{X-Forwarded-For} (the application saw the proxy's own
        address), and its C{proto} no host named by C{X-Forwarded-Host}.
        """
        self.sendRequest(httpHead(
            b"Forwarded: proto=https", b"X-Forwarded-For: 203.0.113.9",
            b"X-Forwarded-Host: example.org",
        ))
        head = self.lastRequest().head
        self.assertEqual(
            (head.remoteAddr, head.scheme, head.serverName),
            ("203.0.113.9", "https", "example.org"),
        )

    def test_contradictoryRefused(self) -> None:
        """
        C{Forwarded} and C{X-Forwarded-*} that name another client, scheme
        or host get 400, as gunicorn refuses contradictory scheme headers:
        one of them is the client's own, passed on by the proxy, and the
        front cannot tell which.
        """
        for fields in [
            # A client's Forwarded behind nginx's X-Forwarded-For.
            (b"Forwarded: for=6.6.6.6", b"X-Forwarded-For: 6.6.6.6, 203.0.113.9"),
            (b"Forwarded: for=unknown", b"X-Forwarded-For: 203.0.113.9"),
            (b"Forwarded: for=203.0.113.9;proto=https",
             b"X-Forwarded-For: 203.0.113.9", b"X-Forwarded-Proto: http"),
            (b"Forwarded: for=203.0.113.9;host=admin.internal",
             b"X-Forwarded-For: 203.0.113.9", b"X-Forwarded-Host: example.org"),
            (b"Forwarded: proto=http", b"X-Forwarded-Proto: https"),
        ]:
            self.assertRefused(httpHead(*fields), 400)

    def test_scopedAddressNotAnAddress(self) -> None:
        """
        An IPv6 address with a zone (C{fe80::1%eth0}) is no client's
        address in C{X-Forwarded-For} or C{Forwarded} (a zone names an
        interface of the host that wrote it, and Python's L{ipaddress}
        takes any characters in one, quotes, spaces and non-ASCII
        included): the walk stops there, as at any entry that is not an
        address, keeping the address after it.
        """
        for field in [
            b"X-Forwarded-For: fe80::1%\xe9",
            b'X-Forwarded-For: fe80::1%" x, 192.0.2.7',
            b'Forwarded: for="[fe80::1%25 \\" x]"',
        ]:
            self.socket.clear()
            _, transport = self.sendRequest(httpHead(field))
            self.assertEqual(transport.value(), b"", field)
            self.assertIn(self.lastRequest().head.remoteAddr, ("192.0.2.5", "192.0.2.7"), field)

    def test_untrustedPeerIgnored(self) -> None:
        """
        From a peer that is not trusted, neither is read, contradictory or
        not.
        """
        self.site.httpRules = HTTPRules()
        self.sendRequest(httpHead(b"Forwarded: for=6.6.6.6", b"X-Forwarded-For: 7.7.7.7"))
        self.assertEqual(self.lastRequest().head.remoteAddr, "192.0.2.5")


class AccessLogLineTests(FrontTestCase):
    """
    What L{FrontFactory} writes in its access log.
    """

    def test_forwardedClient(self) -> None:
        """
        Behind a trusted proxy, the line names the forwarded client, and
        carries the request id the response carried.
        """
        path = self.accessLog()
        self.site.httpRules = HTTPRules(trustedProxies=(parseNetwork("192.0.2.0/24"),))
        self.sendRequest(
            b"GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"
        )
        request = self.lastRequest()
        self.respond(request.requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"])
        line = path.getContent().decode("ascii")
        self.assertTrue(line.startswith('203.0.113.9 - - ['), line)
        self.assertIn('"GET /x HTTP/1.1" 200 2 ', line)
        self.assertTrue(line.endswith(" %s\n" % (request.requestId.decode("ascii"),)), line)

    def accessLog(self) -> FilePath:
        """
        Give the site an access log; return its path.
        """
        path = FilePath(self.mktemp())
        self.site.accessLog = AccessLog(path.path)
        self.site.accessLog.open()
        self.addCleanup(self.site.accessLog.close)
        return path

    def logAtEachWrite(self, path: FilePath, transport: StringTransport) -> list[bytes]:
        """
        Record what the access log at C{path} holds each time something is
        written to C{transport}.
        """
        logged: list[bytes] = []
        write = transport.write

        def recordingWrite(data: bytes) -> None:
            logged.append(path.getContent())
            write(data)

        transport.write = recordingWrite  # type: ignore[method-assign]
        return logged

    def test_loggedBeforeLastBytes(self) -> None:
        """
        A request's line is written before the last bytes of its response
        go to the client: a client that has the whole response finds it.
        """
        path = self.accessLog()
        _, transport = self.get()
        logged = self.logAtEachWrite(path, transport)
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"2")],
                     body=[b"ok"])
        self.assertTrue(ParsedResponse(transport.value()).complete)
        self.assertIn(b'"GET /path HTTP/1.1" 200 2 ', logged[-1])

    def test_streamedLoggedBeforeLastBytes(self) -> None:
        """
        A streamed response framed by its C{Content-Length} is logged before
        the bytes that complete it go, once, even though the handler's
        C{END} comes after them.
        """
        path = self.accessLog()
        _, transport = self.get()
        logged = self.logAtEachWrite(path, transport)
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"4")], body=[b"ab"],
                     more=True)
        self.reply(protocol.encodeBody(requestId, [b"cd"], False))
        self.assertIn(b'"GET /path HTTP/1.1" 200 4 ', logged[-1])
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertTrue(ParsedResponse(transport.value()).complete)
        self.assertEqual(len(path.getContent().splitlines()), 1)

    def test_refusedHead(self) -> None:
        """
        A head the front refuses itself is logged with its status, the
        size of the answer's body (as for every response: not its head),
        and what was read of the request line.
        """
        path = self.accessLog()
        self.sendRequest(b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n")
        line = path.getContent().decode("ascii")
        self.assertTrue(line.startswith("192.0.2.5 - - ["), line)
        self.assertIn('"GET /x HTTP/1.1" 400 %d ' % (len(b"400 Bad Request\n"),), line)

    def test_refusedHeadDuration(self) -> None:
        """
        A head refused once more of it came than in its first read (a 408
        for one not complete within C{--header-timeout}, a 431 for one
        that grew too large) is logged and counted with the time since its
        first byte as its duration, not 0; one refused at its first read
        takes none.
        """
        path = self.accessLog()
        self.site.metrics = FrontMetrics()
        slow, _ = self.connect()
        slow.dataReceived(b"GET /slow HTTP/1.1\r\n")
        large, _ = self.connect()
        large.dataReceived(b"GET /large HTTP/1.1\r\n")
        self.clock.advance(2)
        large.dataReceived(b"X: y\r\n" * 200)
        self.clock.advance(self.rules.headerTimeout - 2)
        self.sendRequest(b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n")
        durations = [
            (line.split('"')[1], line.split()[-2])
            for line in path.getContent().decode("ascii").splitlines()
        ]
        self.assertEqual(
            durations,
            [
                ("GET /large HTTP/1.1", "2.000000"),
                ("GET /slow HTTP/1.1", "%.6f" % (self.rules.headerTimeout,)),
                ("GET /x HTTP/1.1", "0.000000"),
            ],
        )
        self.assertEqual(
            self.site.metrics.duration.sum, 2 + self.rules.headerTimeout
        )

    def test_refusedLength(self) -> None:
        """
        A request refused with 413 for its C{Content-Length} is logged with
        its request line.
        """
        path = self.accessLog()
        self.site.maxBody = 10
        self.sendRequest(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
        line = path.getContent().decode("ascii")
        self.assertIn('"POST /up HTTP/1.1" 413 ', line)

    def test_refusedBeforeRequestLine(self) -> None:
        """
        A refusal before any request line was read (a TLS handshake, refused
        at its first byte) logs C{-} for it.
        """
        path = self.accessLog()
        self.sendRequest(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n")
        self.sendRequest(b"\x16\x03\x01\x02\x00")
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn('"GET / HTTP/1.1" 431 ', lines[0])
        self.assertIn('"- - -" 400 ', lines[1])

    def test_refusedRequestLine(self) -> None:
        """
        A request line refused whole (an invalid method, a fourth word) is
        logged, as nginx logs it, in the place of the target, its quotes
        escaped, so that the operator sees what the client sent; a very
        long one, its first 1,024 bytes.
        """
        path = self.accessLog()
        self.sendRequest(b'G"ET /x HTTP/1.1\r\nHost: h\r\n\r\n')
        self.sendRequest(b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n")
        self.sendRequest(b"GET /" + b"x" * 2000 + b" HTTP/2.0\r\nHost: h\r\n\r\n")
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertIn('"- G\\"ET /x HTTP/1.1 -" 400 ', lines[0])
        self.assertIn('"- GET /a b HTTP/1.1 -" 400 ', lines[1])
        self.assertIn('"- GET /' + "x" * 1019 + ' -" 505 ', lines[2])

    def test_refusedBody(self) -> None:
        """
        A body refused after its request went to a handler is logged with
        the request's id.
        """
        path = self.accessLog()
        big = b"a" * (SMALL_BODY + 1)
        self.site.maxBody = len(big) + 10
        self.sendRequest(
            b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (len(big),) + big + b"\r\n20\r\n"
        )
        requestId = self.lastRequest().requestId.decode("ascii")
        line = path.getContent().decode("ascii")
        self.assertIn('"POST /up HTTP/1.1" 413 ', line)
        self.assertTrue(line.endswith(" %s\n" % (requestId,)), line)

    def test_refusedBodyForwardedClient(self) -> None:
        """
        Behind a trusted proxy, a request refused after it went to a
        handler is logged with the forwarded client, as its answer would
        have been, not with the proxy.
        """
        path = self.accessLog()
        self.site.httpRules = HTTPRules(trustedProxies=(parseNetwork("192.0.2.0/24"),))
        big = b"a" * (SMALL_BODY + 1)
        self.site.maxBody = len(big) + 10
        self.sendRequest(
            b"POST /up HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (len(big),) + big + b"\r\n20\r\n"
        )
        line = path.getContent().decode("ascii")
        self.assertIn('"POST /up HTTP/1.1" 413 ', line)
        self.assertTrue(line.startswith("203.0.113.9 - - ["), line)

    def test_refusedSmallBodyForwardedClient(self) -> None:
        """
        Behind a trusted proxy, a request refused while its small body was
        read, before it went to a handler (here a bad chunk size), is
        logged with the forwarded client too, as it would be had its client
        gone away then (L{test_clientGoneDuringSmallBody}).
        """
        path = self.accessLog()
        self.site.httpRules = HTTPRules(trustedProxies=(parseNetwork("192.0.2.0/24"),))
        self.sendRequest(
            b"POST /up HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"
        )
        self.assertEqual(self.requestsSent(), [])
        line = path.getContent().decode("ascii")
        self.assertIn('"POST /up HTTP/1.1" 400 ', line)
        self.assertTrue(line.startswith("203.0.113.9 - - ["), line)

    def test_clientGoneBeforeResponse(self) -> None:
        """
        A request whose client goes away before its response starts is
        logged with 499 (nginx's "client closed request"), no body, and its
        request id, once: its handler gets C{CANCEL}.
        """
        path = self.accessLog()
        channel, _ = self.get(b"/slow")
        requestId = self.lastRequest().requestId
        self.disconnect(channel)
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('"GET /slow HTTP/1.1" 499 - ', lines[0])
        self.assertTrue(lines[0].endswith(" " + requestId.decode("ascii")), lines[0])
        self.assertIn(requestId, self.cancels())
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"])
        self.assertEqual(len(path.getContent().splitlines()), 1)

    def test_clientGoneDuringSmallBody(self) -> None:
        """
        A request whose client goes away while its small body is read
        (before it goes to a handler) is logged with 499 and the client's
        address, as every request is.
        """
        path = self.accessLog()
        channel, _ = self.sendRequest(
            b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"
        )
        self.assertEqual(self.requestsSent(), [])
        self.disconnect(channel)
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("192.0.2.5 - - ["), lines[0])
        self.assertIn('"POST /form HTTP/1.1" 499 - ', lines[0])

    def test_optionsAsteriskLogged(self) -> None:
        """
        C{OPTIONS *}, which the front answers itself, is logged with the
        client's address.
        """
        path = self.accessLog()
        self.sendRequest(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        line = path.getContent().decode("ascii")
        self.assertTrue(line.startswith("192.0.2.5 - - ["), line)
        self.assertIn('"OPTIONS * HTTP/1.1" 200 ', line)

    def test_clientGoneDuringResponse(self) -> None:
        """
        A request whose client goes away while its response is streamed is
        logged with the status sent and the bytes of body sent so far.
        """
        path = self.accessLog()
        channel, _ = self.get(b"/stream")
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"10")], body=[b"abc"],
                     more=True)
        self.assertEqual(path.getContent(), b"")
        self.disconnect(channel)
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('"GET /stream HTTP/1.1" 200 3 ', lines[0])

    def test_loggedAfterPortsClosed(self) -> None:
        """
        A request answered after the factory's ports are all closed (a
        stopping front drains its connections) still has its line: the log
        is closed only once the last connection is.
        """
        path = self.accessLog()
        self.site.doStart()
        self.get(b"/draining")
        self.site.doStop()
        self.respond(self.lastRequest().requestId,
                     headers=[(b"Content-Length", b"2")], body=[b"ok"])
        self.assertIn(b'"GET /draining HTTP/1.1" 200 2 ', path.getContent())

    def test_cutByStoppingFront(self) -> None:
        """
        The connections a stopping front cuts (L{FrontFactory.cutAll}, past
        C{--graceful-timeout}) are aborted, their handlers get C{CANCEL},
        and their requests are logged: 444 (nginx's "closed without an
        answer") if no response had started, else the status and the bytes
        of body sent.  L{FrontFactory.cutAll} returns their ids, as their
        access log lines name them, for the front's line about the cut: a
        connection with no request in progress has none.
        """
        path = self.accessLog()
        _, waiting = self.get(b"/waiting")
        waitingId = self.lastRequest().requestId
        _, streaming = self.get(b"/streaming")
        streamingId = self.lastRequest().requestId
        self.respond(streamingId, headers=[(b"Content-Length", b"10")], body=[b"abc"],
                     more=True)
        self.connect()
        self.assertEqual(sorted(self.site.cutAll()), sorted([waitingId, streamingId]))
        self.assertTrue(waiting.disconnecting and streaming.disconnecting)
        lines = sorted(path.getContent().decode("ascii").splitlines())
        self.assertEqual(len(lines), 2, lines)
        self.assertIn('"GET /streaming HTTP/1.1" 200 3 ', lines[0])
        self.assertIn('"GET /waiting HTTP/1.1" 444 - ', lines[1])
        self.assertEqual(set(self.cancels()), {waitingId, streamingId})

    def test_abortedResponse(self) -> None:
        """
        A response the front cuts itself (here its handler sends C{ERROR}
        after the head) is logged once, with the status and the bytes of
        body sent, and the connection is aborted.
        """
        path = self.accessLog()
        _, transport = self.get(b"/cut")
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"10")], body=[b"abc"],
                     more=True)
        self.reply(protocol.encodeError(requestId, "failed"))
        self.assertTrue(transport.disconnecting)
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('"GET /cut HTTP/1.1" 200 3 ', lines[0])

    def test_refusedDuringResponse(self) -> None:
        """
        A request refused while its response is streamed (here its body
        trickles past C{bodyTimeout}) is logged once, with the status sent
        and the bytes of body sent, and the connection is aborted.
        """
        path = self.accessLog()
        self.site.httpRules = HTTPRules(bodyTimeout=10.0)
        size = SMALL_BODY + 10
        self.site.maxBody = size
        _, transport = self.sendRequest(
            b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (size,)
            + b"a" * (SMALL_BODY + 1)
        )
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"10")], body=[b"abcd"],
                     more=True)
        self.clock.advance(10.0)
        self.assertTrue(transport.disconnecting)
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('"POST /up HTTP/1.1" 200 4 ', lines[0])
        self.assertIn(requestId, self.cancels())


class ReplyTests(FrontTestCase):
    """
    What the client gets.
    """

    def test_serverAndDate(self) -> None:
        """
        A response whose application set neither names the server as
        C{txmp/VERSION} and carries the C{Date}.
        """
        _, transport = self.get()
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"0")])
        response = ParsedResponse(transport.value())
        self.assertEqual(response.header(b"server"), [b"txmp/" + __version__.encode("ascii")])
        self.assertEqual(response.header(b"date"), [b"Thu, 01 Jan 1970 00:00:00 GMT"])

    def test_reply(self) -> None:
        """
        A complete reply sets the status and reason, the headers (with
        duplicates kept), writes the body and finishes the response.
        """
        _, transport = self.get()
        self.respond(
            self.lastRequest().requestId, 201, b"Made It",
            [(b"Content-Type", b"text/plain"), (b"Set-Cookie", b"a=1"),
             (b"X-Thing", b"x"), (b"Set-Cookie", b"b=2"), (b"Content-Length", b"5")],
            [b"he", b"llo"],
        )
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.reason), (201, b"Made It"))
        self.assertEqual(response.header(b"set-cookie"), [b"a=1", b"b=2"])
        self.assertEqual(response.header(b"content-type"), [b"text/plain"])
        self.assertEqual(response.header(b"x-thing"), [b"x"])
        self.assertEqual(response.body, b"hello")
        self.assertTrue(response.complete)
        self.assertNoLeak()

    def test_noDefaultContentType(self) -> None:
        """
        A reply without C{Content-Type} does not get Twisted's default
        C{text/html}.
        """
        _, transport = self.get()
        self.respond(self.lastRequest().requestId, 204, b"No Content")
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 204)
        self.assertEqual(response.header(b"content-type"), [])

    def test_hopByHopDropped(self) -> None:
        """
        Hop-by-hop headers from the application are dropped: the front
        frames the body and manages the connection itself.
        """
        _, transport = self.get()
        self.respond(
            self.lastRequest().requestId,
            headers=[(b"Connection", b"close"), (b"Keep-Alive", b"timeout=5"),
                     (b"Transfer-Encoding", b"gzip"), (b"Upgrade", b"h2c"),
                     (b"TE", b"trailers"), (b"Trailer", b"X"),
                     (b"Proxy-Connection", b"close"), (b"Proxy-Authenticate", b"x"),
                     (b"Content-Length", b"2")],
            body=[b"ok"],
        )
        response = ParsedResponse(transport.value())
        names = {name.lower() for name, value in response.headers}
        for name in [b"connection", b"keep-alive", b"transfer-encoding",
                     b"upgrade", b"te", b"trailer", b"proxy-connection",
                     b"proxy-authenticate"]:
            self.assertNotIn(name, names)
        self.assertEqual(response.body, b"ok")
        self.assertFalse(transport.disconnecting)

    def test_appServerAndDate(self) -> None:
        """
        C{Server} and C{Date} set by the application replace Twisted's.
        """
        _, transport = self.get()
        self.respond(
            self.lastRequest().requestId,
            headers=[(b"Server", b"myapp/1.0"),
                     (b"Date", b"Mon, 01 Jan 2024 00:00:00 GMT"),
                     (b"Content-Length", b"0")],
        )
        response = ParsedResponse(transport.value())
        self.assertEqual(response.header(b"server"), [b"myapp/1.0"])
        self.assertEqual(response.header(b"date"), [b"Mon, 01 Jan 2024 00:00:00 GMT"])

    def test_twistedServerAndDate(self) -> None:
        """
        Without C{Server} and C{Date} from the application, Twisted's are
        sent, once each.
        """
        _, transport = self.get()
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"0")])
        response = ParsedResponse(transport.value())
        self.assertEqual(len(response.header(b"server")), 1)
        self.assertEqual(len(response.header(b"date")), 1)

    def test_streamedReply(self) -> None:
        """
        A streamed reply writes each chunk as its C{BODY} arrives, and
        finishes the response on C{END}.
        """
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"first "], more=True)
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"first ")
        self.assertFalse(response.complete)
        self.reply(protocol.encodeBody(requestId, [b"second "], False))
        self.assertEqual(ParsedResponse(transport.value()).body, b"first second ")
        self.reply(protocol.encodeBody(requestId, [b"third"], True))
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"first second third")
        self.assertTrue(response.complete)
        self.assertFalse(transport.disconnecting)
        self.assertNoLeak()

    def test_streamedHeadWithFirstChunks(self) -> None:
        """
        A streamed reply's head and the body chunks of its first message go
        to the client in one write (one send, one packet), the next chunks
        in one write each.
        """
        transport = TCPStringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        channel, _ = self.connect(transport=transport)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"first ", b"part "], more=True)
        [head] = transport.writes
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "))
        self.assertTrue(head.endswith(b"\r\n\r\nb\r\nfirst part \r\n"), head)
        self.reply(protocol.encodeBody(requestId, [b"end"], True))
        self.assertEqual(len(transport.writes), 3)
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"first part end")
        self.assertTrue(response.complete)
        self.assertNoLeak()

    def test_memoryviewChunks(self) -> None:
        """
        Reply frames received without a copy, as memoryviews, are read as
        usual; the body chunks of one message go to the client in one write
        (one HTTP chunk here).
        """
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a"], more=True)
        frames = protocol.encodeBody(requestId, [b"bc", b"de"], False)
        self.dispatcher.replyReceived([memoryview(f) for f in [self.handlerId, *frames]])
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertIn(b"\r\n4\r\nbcde\r\n", transport.value())
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"abcde")
        self.assertTrue(response.complete)
        self.assertNoLeak()

    def test_sendLimitRaised(self) -> None:
        """
        A client connection's transport sends up to L{SEND_LIMIT} bytes per
        call instead of Twisted's 128 KiB.
        """
        transport = FileDescriptor(Clock())  # type: ignore[arg-type]
        transport.getPeer = lambda: self.clientAddress  # type: ignore[method-assign]
        transport.getHost = lambda: self.serverAddress  # type: ignore[method-assign]
        self.assertGreater(SEND_LIMIT, FileDescriptor.SEND_LIMIT)
        channel = self.site.buildProtocol(self.clientAddress)
        channel.makeConnection(transport)
        self.addCleanup(self.disconnect, channel)
        self.assertEqual(transport.SEND_LIMIT, SEND_LIMIT)

    def test_memoryviewWholeReply(self) -> None:
        """
        A whole reply in one C{RESP} of memoryview frames is answered with
        its body, in order.
        """
        _, transport = self.get()
        frames = protocol.encodeResponse(
            self.lastRequest().requestId, 200, b"OK", [], [b"ab", b"cd"]
        )
        self.dispatcher.replyReceived([memoryview(f) for f in [self.handlerId, *frames]])
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.body), (200, b"abcd"))
        self.assertNoLeak()

    def test_abortAfterHead(self) -> None:
        """
        An error after the head aborts the connection without finishing the
        response, so that the client cannot take it for complete.
        """
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"partial"], more=True)
        self.reply(protocol.encodeError(requestId, "broken"))
        self.assertTrue(transport.disconnected)
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"partial")
        self.assertFalse(response.complete)
        self.assertNoLeak()


class ReferenceCycleTests(FrontTestCase):
    """
    An exchange lets go of its reply at the reply's end, so that reference
    counting frees the exchange and the dispatcher's request at once: the
    reply holds the request, which holds the exchange, and a cycle of them
    (17 objects a request) would wait for the garbage collector, whose runs
    cost the front about 7% of its CPU under load (docs/benchmarks.md,
    "Garbage").
    """

    if platform.python_implementation() != "CPython":
        skip = "only CPython frees objects by reference counting"

    def setUp(self) -> None:
        super().setUp()
        if gc.isenabled():
            gc.disable()
            self.addCleanup(gc.enable)

    def started(self) -> tuple[FrontConnection, StringTransport, bytes, list[weakref.ref[object]]]:
        """
        A GET submitted, with weak references to its exchange and its
        request at the dispatcher.
        """
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        refs: list[weakref.ref[object]] = [
            weakref.ref(channel.exchange), weakref.ref(self.dispatcher.pending[requestId])
        ]
        return channel, transport, requestId, refs

    def assertFreed(self, refs: list[weakref.ref[object]]) -> None:
        self.assertEqual([ref() for ref in refs], [None, None])

    def test_completeReply(self) -> None:
        """
        A complete reply's exchange and request are freed once it is
        written.
        """
        _channel, transport, requestId, refs = self.started()
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"])
        self.assertTrue(ParsedResponse(transport.value()).complete)
        self.assertFreed(refs)

    def test_streamedReply(self) -> None:
        """
        A streamed reply's exchange and request are freed at its C{END}.
        """
        _channel, transport, requestId, refs = self.started()
        self.respond(requestId, body=[b"o"], more=True)
        self.reply(protocol.encodeBody(requestId, [b"k"], True))
        self.assertEqual(ParsedResponse(transport.value()).body, b"ok")
        self.assertFreed(refs)

    def test_endAfterContentLength(self) -> None:
        """
        A streamed reply that reached its C{Content-Length} (the response
        complete for the client) is freed at its C{END}.
        """
        _channel, transport, requestId, refs = self.started()
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"], more=True)
        self.assertTrue(ParsedResponse(transport.value()).complete)
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertFreed(refs)

    def test_clientGone(self) -> None:
        """
        A streamed reply whose client leaves is freed.
        """
        channel, _transport, requestId, refs = self.started()
        self.respond(requestId, body=[b"o"], more=True)
        self.disconnect(channel)
        self.assertEqual(self.cancels(), [requestId])
        self.assertFreed(refs)


    def test_failed(self) -> None:
        """
        A request that fails (its reply timed out: 504) leaves its exchange
        and request to be freed.
        """
        _channel, transport, _requestId, refs = self.started()
        self.clock.advance(self.dispatcher.timeout)
        self.assertEqual(ParsedResponse(transport.value()).code, 504)
        self.assertFreed(refs)

    def test_queueFull(self) -> None:
        """
        A request failed while it is submitted (the queue full: 503 at
        once) leaves its exchange and request to be freed: the exchange
        does not keep the request it has its answer from.
        """
        self.hello(0)
        self.dispatcher.maxQueue = 0
        refs: list[weakref.ref[object]] = []
        submit = self.dispatcher.submit

        def recording(*args: Any, **kwargs: Any) -> PendingRequest:
            pending = submit(*args, **kwargs)
            refs.extend([weakref.ref(pending.consumer), weakref.ref(pending)])
            return pending

        self.patch(self.dispatcher, "submit", recording)
        _channel, transport = self.get()
        self.assertEqual(ParsedResponse(transport.value()).code, 503)
        self.assertEqual(len(refs), 2)
        self.assertFreed(refs)

    def test_unexpectedFailure(self) -> None:
        """
        A streamed reply whose head the exchange fails to write (a bug: 500,
        logged, and C{CANCEL} to the handler) is freed.
        """

        def broken(exchange: Exchange, reply: object, hasBody: bool) -> bytes:
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "_head", broken)
        _channel, transport, requestId, refs = self.started()
        self.respond(requestId, body=[b"o"], more=True)
        self.assertEqual(ParsedResponse(transport.value()).code, 500)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.cancels(), [requestId])
        self.assertFreed(refs)

class ErrorTests(FrontTestCase):
    """
    Responses the front makes up itself.  A queue of one request, so that
    the second one waiting is refused.
    """

    maxQueue = 1

    def assertPlainError(self, transport: StringTransport, status: int,
                         reason: bytes) -> ParsedResponse:
        """
        Assert that C{transport} got a complete C{text/plain} error page.
        """
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.reason), (status, reason))
        self.assertEqual(response.header(b"content-type"),
                         [b"text/plain; charset=utf-8"])
        self.assertEqual(response.body, b"%d %s\n" % (status, reason))
        self.assertTrue(response.complete)
        self.assertNoLeak()
        return response

    def test_queueFull(self) -> None:
        """
        A request that finds the queue full gets 503 at once, with
        C{Retry-After}.
        """
        self.hello(0)
        self.get()
        _, transport = self.get()
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 503)
        self.assertEqual(response.header(b"retry-after"), [b"1"])
        self.assertEqual(response.body, b"503 Service Unavailable\n")

    def test_queueTimeout(self) -> None:
        """
        A request that waited too long for a handler gets 503 with
        C{Retry-After} and a C{text/plain} body.
        """
        self.hello(0)
        _, transport = self.get()
        self.assertEqual(transport.value(), b"")
        self.clock.advance(10)
        response = self.assertPlainError(transport, 503, b"Service Unavailable")
        self.assertEqual(response.header(b"retry-after"), [b"1"])

    def test_queueFullNoContinue(self) -> None:
        """
        A request with C{Expect: 100-continue} that finds the queue full is
        answered 503 at once, without C{100 Continue} first: the front
        knows the answer before any body is read, as for a Content-Length
        over --max-body (413, no C{100 Continue}: docs/architecture.md),
        and a C{100 Continue} would have the client send a body that is
        only discarded (RFC 9110 section 10.1.1: a client that receives a
        final status instead of 100 need not send it).
        """
        self.hello(0)
        self.get()
        _, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        self.assertNotIn(b"100 Continue", transport.value())
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 503)

    def test_optionsAsteriskNoContinue(self) -> None:
        """
        C{OPTIONS *} with C{Expect: 100-continue} and a body is answered at
        once by the front, which never reads that body: no C{100 Continue}.
        """
        _, transport = self.sendRequest(
            b"OPTIONS * HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        self.assertNotIn(b"100 Continue", transport.value())
        self.assertEqual(ParsedResponse(transport.value()).code, 200)

    def test_handlerFailed(self) -> None:
        """
        C{ERROR} before the head gives 502.
        """
        _, transport = self.get()
        self.reply(protocol.encodeError(self.lastRequest().requestId, "boom"))
        response = self.assertPlainError(transport, 502, b"Bad Gateway")
        self.assertEqual(response.header(b"retry-after"), [])

    def test_timeout(self) -> None:
        """
        No reply in time gives 504.
        """
        _, transport = self.get()
        self.clock.advance(30)
        self.assertPlainError(transport, 504, b"Gateway Timeout")

    def test_invalidReplyHeads(self) -> None:
        """
        A reply the front could not frame, or that would put what is not
        allowed in the client's response head, gets 502 and the handler
        C{CANCEL}: a 1xx status, a control character other than HTAB in
        the reason or a header value, more than one C{Content-Length}, or
        one that is not a number.
        """
        for status, reason, headers in [
            (100, b"Continue", []),
            (101, b"Switching Protocols", [(b"Upgrade", b"h2c")]),
            (200, b"O\x0bK", []),
            (200, b"OK", [(b"X-A", b"a\x01b")]),
            (200, b"OK", [(b"X-A", b"a\x7fb")]),
            (200, b"OK", [(b"Content-Length", b"5"), (b"Content-Length", b"50")]),
            (200, b"OK", [(b"Content-Length", b"5"), (b"Content-Length", b"5")]),
            (200, b"OK", [(b"Content-Length", b"five")]),
            (200, b"OK", [(b"Content-Length", b"-5")]),
        ]:
            self.hello(1)
            _, transport = self.get()
            requestId = self.lastRequest().requestId
            self.respond(requestId, status, reason, headers, [b"hello"])
            self.assertPlainError(transport, 502, b"Bad Gateway")
            self.assertIn(requestId, self.cancels())


class FramingTests(FrontTestCase):
    """
    The front frames the response by the handler's C{Content-Length},
    whatever the handler sends: no more body than it says reaches the
    client, and a body that ends short of it never looks complete.
    """

    def setUp(self) -> None:
        FrontTestCase.setUp(self)
        self.events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, self.events.append))

    def invalidReplies(self) -> list[str]:
        """
        What the invalid replies logged so far were.
        """
        return [e["why"] for e in self.events if "invalid reply" in e["log_format"]]

    def assertInvalid(
        self, response: ParsedResponse, code: int, body: bytes, counter: str, why: str
    ) -> None:
        """
        Assert that the client got a complete C{response} with C{code} and
        C{body}, that the front counted it in its C{counter} statistic and
        logged the reply invalid (only) for C{why}, and that it holds no
        request any more.
        """
        self.assertEqual((response.code, response.body), (code, body))
        self.assertTrue(response.complete)
        self.assertEqual(self.dispatcher.stats[counter], 1)
        self.assertEqual(self.invalidReplies(), [why])
        self.assertNoLeak()

    def replyWhole(
        self, contentLength: bytes, body: list[bytes]
    ) -> tuple[StringTransport, ParsedResponse]:
        """
        Answer a C{GET} with a whole reply of C{Content-Length}
        C{contentLength} and C{body}.

        @return: the client's transport, and what the client got.
        """
        _, transport = self.get()
        self.respond(self.lastRequest().requestId,
                     headers=[(b"Content-Length", contentLength)], body=body)
        return transport, ParsedResponse(transport.value())

    def streamHello(
        self, contentLength: bytes, rest: list[bytes], end: bool = True
    ) -> tuple[StringTransport, bytes, ParsedResponse]:
        """
        Answer a C{GET} with a streamed reply of C{Content-Length}
        C{contentLength}: C{b"hel"} with its head, then C{rest} in a
        C{BODY} (its C{END} if C{end}).

        @return: the client's transport, the request's id, and what the
            client got.
        """
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", contentLength)], body=[b"hel"],
                     more=True)
        self.reply(protocol.encodeBody(requestId, rest, end))
        return transport, requestId, ParsedResponse(transport.value())

    def test_completeLonger(self) -> None:
        """
        A complete reply with more body than its C{Content-Length} gets only
        that much to the client, as a complete response; the connection is
        closed after it, and the reply is logged and counted as invalid.
        """
        transport, response = self.replyWhole(b"5", [b"hel", b"lo world"])
        self.assertTrue(transport.disconnecting)
        self.assertInvalid(response, 200, b"hello", "badMessages",
                           "body longer than its Content-Length of 5 bytes: cut")

    def test_overrunSaysClose(self) -> None:
        """
        A reply whose first message already holds more body than its
        C{Content-Length} (a whole reply, or the head of a streamed one)
        gets a head that says C{Connection: close}, as the connection is
        closed after the response: a client that pipelined another request,
        or would send one, is told not to, instead of finding the
        connection gone under it.
        """
        transport, response = self.replyWhole(b"5", [b"hel", b"lo world"])
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertTrue(transport.disconnecting)
        _, transport = self.get()
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"5")],
                     body=[b"hello world"], more=True)
        response = ParsedResponse(transport.value())
        self.assertEqual((response.body, response.complete), (b"hello", True))
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertTrue(transport.disconnecting)

    def test_completeShorter(self) -> None:
        """
        A complete reply with less body than its C{Content-Length}, which
        the client would wait for the rest of, gets 502 instead.
        """
        _, response = self.replyWhole(b"50", [b"hello"])
        self.assertInvalid(response, 502, b"502 Bad Gateway\n", "status502",
                           "body 45 bytes short of its Content-Length")

    def test_streamedLonger(self) -> None:
        """
        A streamed reply whose body passes its C{Content-Length} ends there
        for the client, as a complete response, and the connection is
        closed after it; the handler is told C{CANCEL}, and what it sends
        after is dropped.
        """
        transport, requestId, response = self.streamHello(b"5", [b"lo", b" world"], False)
        self.assertEqual(response.body, b"hello")
        self.assertTrue(response.complete)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.cancels(), [requestId])
        self.assertNoLeak()
        self.reply(protocol.encodeBody(requestId, [b"!"], True))
        self.assertEqual(ParsedResponse(transport.value()).body, b"hello")
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)

    def test_streamedLongerAtEnd(self) -> None:
        """
        A body that passes its C{Content-Length} in its C{END} is cut the
        same way.
        """
        transport, _, response = self.streamHello(b"5", [b"lo!"])
        self.assertEqual(response.body, b"hello")
        self.assertTrue(response.complete)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(self.invalidReplies()), 1)
        self.assertNoLeak()

    def test_streamedShort(self) -> None:
        """
        A streamed body that ends short of its C{Content-Length} aborts the
        connection instead of finishing the response.
        """
        transport, _, response = self.streamHello(b"50", [b"lo"])
        self.assertTrue(transport.disconnected)
        self.assertEqual(response.body, b"hello")
        self.assertFalse(response.complete)
        self.assertEqual(self.invalidReplies(),
                         ["body ended 45 bytes short of its Content-Length: "
                          "connection aborted"])
        self.assertNoLeak()

    def test_exactLength(self) -> None:
        """
        A body as long as its C{Content-Length} keeps the connection.
        """
        transport, _, response = self.streamHello(b"5", [b"lo"])
        self.assertEqual(response.body, b"hello")
        self.assertTrue(response.complete)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.invalidReplies(), [])

    def test_pipelinedAfterOverrun(self) -> None:
        """
        With two requests pipelined on one connection, a first reply with
        more body than its C{Content-Length} gives the client exactly one
        response: the extra bytes never reach the client as another.
        """
        _channel, transport = self.sendRequest(
            b"GET /1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
            b"GET /2 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        )
        forged = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
        self.respond(self.lastRequest().requestId,
                     headers=[(b"Content-Length", b"2")], body=[b"ok" + forged])
        data = transport.value()
        response = ParsedResponse(data)
        self.assertEqual((response.code, response.body), (200, b"ok"))
        self.assertEqual(data.count(b"HTTP/1.1"), 1)
        self.assertTrue(transport.disconnecting)

    def test_noBodyResponses(self) -> None:
        """
        The response to C{HEAD}, and C{204}, C{205} and C{304} responses,
        carry no body: their C{Content-Length} is not held against the
        (missing) body.  A 205's is C{0}, whatever the handler said.
        """
        lengths = {204: [], 205: [b"0"]}
        for method, status in [
            (b"HEAD", 200), (b"GET", 304), (b"GET", 204), (b"GET", 205), (b"HEAD", 205),
        ]:
            _, transport = self.sendRequest(
                method + b" / HTTP/1.1\r\nHost: example.com\r\n\r\n"
            )
            self.respond(self.lastRequest().requestId, status,
                         headers=[(b"Content-Length", b"50")])
            data = transport.value()
            self.assertTrue(data.startswith(b"HTTP/1.1 %d " % (status,)), data)
            self.assertTrue(data.endswith(b"\r\n\r\n"), data)
            self.assertFalse(transport.disconnecting, method)
            # RFC 9110 section 8.6: never a Content-Length in a 204;
            # section 15.3.6: a 205 has no content, and says so.
            length = ParsedResponse(data).header(b"content-length")
            self.assertEqual(length, lengths.get(status, [b"50"]), status)
        self.assertEqual(self.invalidReplies(), [])
        self.assertNoLeak()


class UnexpectedTests(FrontTestCase):
    """
    A failure no part of the front expected still answers the client, and
    is logged.
    """

    def assertAbortedAndCancelled(self, transport: StringTransport, requestId: bytes) -> None:
        """
        The client's connection was aborted with its response incomplete,
        the C{ZeroDivisionError} logged once, the handler told C{CANCEL},
        and nothing of the request is left.
        """
        self.assertTrue(transport.disconnected)
        self.assertFalse(ParsedResponse(transport.value()).complete)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.cancels(), [requestId])
        self.assertNoLeak()

    def test_failureAnsweringFailure(self) -> None:
        """
        An exception while answering a request the dispatcher failed (here,
        its reply timed out) gets 500, not the failure's own status, and is
        logged; nothing of the request is left.
        """

        def broken(exchange: Exchange, error: object) -> None:
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "_failed", broken)
        _, transport = self.get()
        self.clock.advance(self.dispatcher.timeout)
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.body),
                         (500, b"500 Internal Server Error\n"))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.dispatcher.stats["status500"], 1)
        self.assertNoLeak()

    def test_failureBeforeHead(self) -> None:
        """
        An exception while answering with the reply, before the head was
        written, gets 500 and is logged; the handler is told C{CANCEL}.
        """

        def broken(exchange: Exchange, reply: object, hasBody: bool) -> bytes:
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "_head", broken)
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a"], more=True)
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 500)
        self.assertTrue(response.complete)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.cancels(), [requestId])
        self.assertNoLeak()

    def test_failureNamesRequest(self) -> None:
        """
        The line of such a failure names the request by its id, as its
        access log line (a 500) and its handler's lines do.
        """

        def broken(exchange: Exchange, reply: object, hasBody: bool) -> bytes:
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "_head", broken)
        self.get(b"/broken")
        requestId = self.lastRequest().requestId
        with capturedLogs() as events:
            self.respond(requestId, body=[b"a"])
        self.assertEqual(
            [formatEvent(e) for e in events if e.get("log_failure")],
            ["unexpected failure answering request %s: GET /broken"
             % (requestId.decode("ascii"),)],
        )
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_failureAfterHead(self) -> None:
        """
        An exception after the head was written aborts the connection, so
        that the response cannot look complete.
        """

        def broken(exchange: Exchange, chunks: object, head: bytes = b"") -> None:
            exchange.connection.write(head + b"4\r\npart\r\n")
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "_write", broken)
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a"], more=True)
        self.assertAbortedAndCancelled(transport, requestId)


    def test_failureWritingBody(self) -> None:
        """
        An exception while writing a C{BODY} of the reply to the client
        aborts the connection at once (not at the timeout), and the handler
        is told C{CANCEL}.
        """

        def broken(exchange: Exchange, chunks: object) -> None:
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "writeBody", broken)
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"a"],
                     more=True)
        self.reply(protocol.encodeBody(requestId, [b"b"], False))
        self.assertAbortedAndCancelled(transport, requestId)

    def test_failureFinishingBody(self) -> None:
        """
        An exception while finishing the reply (its C{END}) aborts the
        connection, instead of leaving the client waiting for the rest of
        a response that nothing will complete.
        """

        def broken(exchange: Exchange) -> None:
            raise ZeroDivisionError("bug")

        self.patch(Exchange, "finishBody", broken)
        _, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a"], more=True)
        self.reply(protocol.encodeBody(requestId, [b"b"], True))
        self.assertTrue(transport.disconnected)
        self.assertFalse(ParsedResponse(transport.value()).complete)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertNoLeak()

    def failBodySends(self) -> None:
        """
        Make every C{BODY} or C{END} sent on L{socket} fail with an
        unexpected exception; other messages go.
        """
        send = self.socket.send

        def brokenSend(frames: list[bytes]) -> None:
            if frames[2:3] in ([protocol.BODY], [protocol.END]):
                raise ZeroDivisionError("bug")
            send(frames)

        self.patch(self.socket, "send", brokenSend)

    def post(self, size: int) -> tuple[FrontConnection, StringTransport]:
        """
        Send the head of a C{POST} with a streamed body of C{size} bytes.
        """
        return self.sendRequest(
            b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size
        )

    def test_failureForwardingBody(self) -> None:
        """
        An exception while forwarding a streamed request body to the handler
        answers the client 500 at once (not 504 at the timeout), and the
        handler is told C{CANCEL}.
        """
        self.failBodySends()
        channel, transport = self.post(SMALL_BODY + 10)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * 10)
        self.assertEqual(ParsedResponse(transport.value()).code, 500)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.cancels(), [requestId])
        self.assertEqual(self.dispatcher.stats["status500"], 1)
        self.assertNoLeak()

    def test_failureForwardingHeldBody(self) -> None:
        """
        An exception while forwarding the body held for a handler's
        C{WINDOW} answers the client 500 at once.
        """
        self.control(protocol.encodeHello("a", 5, {"window": "0"}))
        channel, transport = self.post(SMALL_BODY + 10)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * 10)
        self.failBodySends()
        self.control(protocol.encodeWindow(requestId, 100))
        self.assertEqual(ParsedResponse(transport.value()).code, 500)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.cancels(), [requestId])
        self.assertNoLeak()

    def test_failureForwardingBodyOnDispatch(self) -> None:
        """
        An exception while forwarding the body that came while a streamed
        request waited for a handler, when one takes it, answers the client
        500 at once; the requests queued behind it are dispatched all the
        same.
        """
        self.hello(0)
        channel, transport = self.post(SMALL_BODY + 10)
        channel.dataReceived(b"x" * 10)
        _, otherTransport = self.get()
        self.failBodySends()
        self.control(protocol.encodeCredit(2))
        [streamed, other] = self.requestsSent()
        self.assertEqual(ParsedResponse(transport.value()).code, 500)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.cancels(), [streamed.requestId])
        self.respond(other.requestId)
        self.assertEqual(ParsedResponse(otherTransport.value()).code, 200)
        self.assertNoLeak()


class PipelineTests(FrontTestCase):
    """
    Requests pipelined on one connection, read one at a time.
    """

    def test_inOrder(self) -> None:
        """
        Of two requests sent in one piece, the second goes to a handler
        once the response to the first is complete, and the responses come
        in order.
        """
        _channel, transport = self.sendRequest(
            b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        first = self.lastRequest()
        self.assertEqual(first.head.target, "/1")
        self.respond(first.requestId, headers=[(b"Content-Length", b"1")], body=[b"1"])
        second = self.lastRequest()
        self.assertEqual(second.head.target, "/2")
        self.respond(second.requestId, headers=[(b"Content-Length", b"1")], body=[b"2"])
        data = transport.value()
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 2)
        self.assertTrue(data.endswith(b"\r\n\r\n2"), data)
        self.assertFalse(transport.disconnecting)

    def test_readingWhileAwaiting(self) -> None:
        """
        While a response is awaited the connection goes on reading, so
        that a client that goes away is seen at once.
        """
        _channel, transport = self.get()
        self.assertEqual(transport.producerState, "producing")

    def test_bounded(self) -> None:
        """
        Past L{PIPELINE_BUFFER} bytes of pipelined requests, reading
        pauses until the response in progress is complete; then the
        requests kept are read.
        """
        channel, transport = self.get()
        pipelined = b"GET /next HTTP/1.1\r\nHost: h\r\nX: " + b"x" * 1000 + b"\r\n\r\n"
        sent = 0
        while transport.producerState == "producing":
            channel.dataReceived(pipelined)
            sent += len(pipelined)
        self.assertGreaterEqual(sent, PIPELINE_BUFFER)
        self.assertLess(sent, PIPELINE_BUFFER + 2 * len(pipelined))
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"0")])
        self.assertEqual(self.lastRequest().head.target, "/next")
        self.assertEqual(transport.producerState, "producing")

    def test_notStartedWhileTransportFull(self) -> None:
        """
        A pipelined request is not read while the client's transport is
        full, so that a client that sends many small requests and reads
        none of their responses cannot have the front hold all those
        responses: it is read, and goes to a handler, once the transport
        has sent what it held (C{resumeProducing}).
        """
        channel, transport = self.sendRequest(
            b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        channel.pauseProducing()
        self.respond(
            self.lastRequest().requestId, headers=[(b"Content-Length", b"1")], body=[b"1"]
        )
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/1"])
        self.assertEqual(transport.producerState, "paused")
        channel.resumeProducing()
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/1", "/2"])


def http10(*fields: bytes, line: bytes = b"GET / HTTP/1.0") -> bytes:
    """
    The head of an HTTP/1.0 request: the request C{line} and the header
    C{fields}, without C{Host} (HTTP/1.0 needs none).
    """
    return b"\r\n".join([line, *fields]) + b"\r\n\r\n"


KEEP_ALIVE = b"Connection: keep-alive"


class HTTP10KeepAliveTests(FrontTestCase):
    """
    An HTTP/1.0 connection ends with its response, unless the client asks
    to keep it with the C{keep-alive} option of C{Connection} (RFC 9112
    section 9.3, ApacheBench's C{-k}) and the response's end is known
    without the close: then the response says C{Connection: keep-alive}
    and the connection carries the next request, as gunicorn's, nginx's
    and Apache's do.
    """

    def assertKeptAlive(self, transport: StringTransport, response: ParsedResponse) -> None:
        """
        Assert that C{response} says the connection is kept, unchunked, and
        that it is.
        """
        self.assertEqual(response.version, b"HTTP/1.0")
        self.assertEqual(response.header(b"connection"), [b"keep-alive"])
        self.assertEqual(response.header(b"transfer-encoding"), [])
        self.assertFalse(transport.disconnecting)

    def assertClosedAfter(self, transport: StringTransport, response: ParsedResponse) -> None:
        """
        Assert that C{response} says the connection ends with it, unchunked,
        and that it does.
        """
        self.assertEqual(response.version, b"HTTP/1.0")
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertEqual(response.header(b"transfer-encoding"), [])
        self.assertTrue(transport.disconnecting)

    def test_keptWithLength(self) -> None:
        """
        Asked for keep-alive, a response with a C{Content-Length} says
        C{Connection: keep-alive} and the connection carries the next
        request.
        """
        channel, transport = self.sendRequest(http10(KEEP_ALIVE))
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"5")],
                     body=[b"hello"])
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.body), (200, b"hello"))
        self.assertTrue(response.complete)
        self.assertKeptAlive(transport, response)
        channel.dataReceived(http10(KEEP_ALIVE, line=b"GET /next HTTP/1.0"))
        self.assertEqual(len(self.requestsSent()), 2)
        self.assertEqual(self.lastRequest().head.target, "/next")

    def test_keepAliveAmongOptions(self) -> None:
        """
        C{keep-alive} is found in any case, among other options, on any of
        several C{Connection} field lines.
        """
        for fields in [
            [b"Connection: Keep-Alive"],
            [b"Connection: TE,KEEP-ALIVE , foo"],
            [b"Connection: te", b"Connection: keep-alive"],
        ]:
            _, transport = self.sendRequest(http10(*fields))
            self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"0")])
            self.assertKeptAlive(transport, ParsedResponse(transport.value()))

    def test_closedWithoutKeepAlive(self) -> None:
        """
        Without C{keep-alive} (no C{Connection}, another option, or
        C{close} beside it), the response says C{Connection: close} and the
        connection ends with it, as before.
        """
        for fields in [
            [],
            [b"Connection: te"],
            [b"Connection: keep-alive, close"],
            [b"Connection: close", KEEP_ALIVE],
        ]:
            _, transport = self.sendRequest(http10(*fields))
            self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"2")],
                         body=[b"ok"])
            response = ParsedResponse(transport.value())
            self.assertEqual(response.body, b"ok")
            self.assertClosedAfter(transport, response)

    def test_streamedWithoutLengthCloses(self) -> None:
        """
        Asked for keep-alive, a streamed response without C{Content-Length}
        (which HTTP/1.0 cannot chunk) is sent as it comes, says
        C{Connection: close}, and ends with the connection.
        """
        _, transport = self.sendRequest(http10(KEEP_ALIVE))
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"first "], more=True)
        self.assertFalse(transport.disconnecting)
        self.reply(protocol.encodeBody(requestId, [b"second"], True))
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"first second")
        self.assertClosedAfter(transport, response)
        self.assertNoLeak()

    def test_wholeWithoutLengthCloses(self) -> None:
        """
        So does a whole reply without C{Content-Length}.
        """
        _, transport = self.sendRequest(http10(KEEP_ALIVE))
        self.respond(self.lastRequest().requestId, body=[b"hello"])
        response = ParsedResponse(transport.value())
        self.assertEqual(response.body, b"hello")
        self.assertClosedAfter(transport, response)

    def test_noBodyKeptAlive(self) -> None:
        """
        A response without a body (to C{HEAD}, a 204, 205 or 304) ends
        with its head: the connection is kept, with or without a
        C{Content-Length}.
        """
        for method, status, headers in [
            (b"HEAD", 200, []),
            (b"HEAD", 200, [(b"Content-Length", b"50")]),
            (b"GET", 204, []),
            (b"GET", 205, [(b"Content-Length", b"8")]),
            (b"GET", 304, []),
        ]:
            _, transport = self.sendRequest(http10(KEEP_ALIVE, line=method + b" / HTTP/1.0"))
            self.respond(self.lastRequest().requestId, status, headers=headers,
                         body=[b"not sent"])
            data = transport.value()
            self.assertTrue(data.endswith(b"\r\n\r\n"), data)
            response = ParsedResponse(data)
            self.assertEqual(response.code, status)
            self.assertKeptAlive(transport, response)

    def test_pipelined(self) -> None:
        """
        Two keep-alive requests sent in one piece are answered in order on
        the one connection, each with C{Connection: keep-alive}, each
        counted and logged once.
        """
        path = FilePath(self.mktemp())
        self.site.accessLog = AccessLog(path.path)
        self.site.accessLog.open()
        self.addCleanup(self.site.accessLog.close)
        metrics = self.site.metrics = FrontMetrics()
        _, transport = self.sendRequest(
            http10(KEEP_ALIVE, line=b"GET /1 HTTP/1.0")
            + http10(KEEP_ALIVE, line=b"GET /2 HTTP/1.0")
        )
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/1"])
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"1")],
                     body=[b"1"])
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/1", "/2"])
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"2")],
                     body=[b"22"])
        data = transport.value()
        second = data.index(b"HTTP/1.0 ", 1)
        responses = [ParsedResponse(data[:second]), ParsedResponse(data[second:])]
        self.assertEqual([r.body for r in responses], [b"1", b"22"])
        for response in responses:
            self.assertTrue(response.complete)
            self.assertKeptAlive(transport, response)
        lines = path.getContent().decode("ascii").splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertIn('"GET /1 HTTP/1.0" 200 1 ', lines[0])
        self.assertIn('"GET /2 HTTP/1.0" 200 2 ', lines[1])
        self.assertEqual((metrics.statuses[200], metrics.bytesOut), (2, 3))
        self.assertEqual(metrics.connections, 1)
        self.assertNoLeak()

    def test_pipelinedThenClose(self) -> None:
        """
        After a kept-alive response, a request without C{keep-alive} is
        the connection's last: its response says C{Connection: close}, and
        a request pipelined after it never reaches a handler.
        """
        _, transport = self.sendRequest(
            http10(KEEP_ALIVE, line=b"GET /1 HTTP/1.0")
            + http10(line=b"GET /2 HTTP/1.0")
            + http10(KEEP_ALIVE, line=b"GET /3 HTTP/1.0")
        )
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"1")],
                     body=[b"1"])
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"1")],
                     body=[b"2"])
        data = transport.value()
        second = data.index(b"HTTP/1.0 ", 1)
        self.assertEqual(ParsedResponse(data[:second]).header(b"connection"), [b"keep-alive"])
        self.assertClosedAfter(transport, ParsedResponse(data[second:]))
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/1", "/2"])
        self.assertNoLeak()

    def test_frontsOwnAnswerKeptAlive(self) -> None:
        """
        An answer the front writes itself, with its length (here to
        C{OPTIONS *}), keeps an HTTP/1.0 connection that asked.
        """
        _, transport = self.sendRequest(http10(KEEP_ALIVE, line=b"OPTIONS * HTTP/1.0"))
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 200)
        self.assertKeptAlive(transport, response)

    def test_drainCloses(self) -> None:
        """
        A stopping front closes a kept-alive HTTP/1.0 connection after the
        response in progress, which says C{Connection: close}.
        """
        _, transport = self.sendRequest(http10(KEEP_ALIVE))
        self.site.drain()
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"2")],
                     body=[b"ok"])
        self.assertClosedAfter(transport, ParsedResponse(transport.value()))


class DisconnectTests(FrontTestCase):
    """
    The client going away.
    """

    def test_disconnectWhileDispatched(self) -> None:
        """
        A client that disconnects before the reply frees the pending entry
        and the handler is told C{CANCEL}; the late reply is dropped.
        """
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        self.disconnect(channel)
        self.assertNoLeak()
        self.assertEqual(self.cancels(), [requestId])
        self.respond(requestId, body=[b"late"])
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)
        self.assertEqual(transport.value(), b"")

    def test_disconnectWhileQueued(self) -> None:
        """
        A client that disconnects while its request waits in the queue
        frees the entry; no handler is told anything.
        """
        self.hello(0)
        channel, _ = self.get()
        self.disconnect(channel)
        self.assertNoLeak()
        self.assertEqual(self.cancels(), [])
        self.hello(1)
        self.assertEqual(self.socket.sent, [])

    def test_disconnectWhileStreaming(self) -> None:
        """
        A client that disconnects during a streamed reply frees the entry
        and the handler is told C{CANCEL}.
        """
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a"], more=True)
        self.disconnect(channel)
        self.assertNoLeak()
        self.assertEqual(self.cancels(), [requestId])
        self.reply(protocol.encodeBody(requestId, [b"b"], True))
        self.assertEqual(ParsedResponse(transport.value()).body, b"a")

    def test_disconnectAfterLengthBeforeEnd(self) -> None:
        """
        A streamed reply whose body reached its C{Content-Length} is
        complete for the client, whose leaving before the handler's C{END}
        comes is no cancelled request: its handler is not told C{CANCEL},
        and the C{END} ends the request as it would have.
        """
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(
            requestId, headers=[(b"Content-Length", b"2")], body=[b"o"], more=True
        )
        self.reply(protocol.encodeBody(requestId, [b"k"], False))
        self.assertEqual(ParsedResponse(transport.value()).body, b"ok")
        self.disconnect(channel)
        self.assertEqual(self.cancels(), [])
        self.assertEqual(self.dispatcher.stats["cancelled"], 0)
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertNoLeak()

    def test_headOnlyCompleteAtHead(self) -> None:
        """
        A streamed reply to C{HEAD} (its head is all of its response, as
        for 204 and 304) is complete once its head is written: a client
        that leaves then is no cancelled request.
        """
        channel, transport = self.sendRequest(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"20")], more=True)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK\r\n"))
        self.disconnect(channel)
        self.assertEqual(self.cancels(), [])
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertNoLeak()

    def test_lateEndNoTimeout(self) -> None:
        """
        A handler that does not end a response its client had whole within
        C{--timeout} (an application's slow C{close()}) is told C{CANCEL},
        without a 504 counted or a word of a timeout on the handler; a
        handler lost then counts no 502 either.
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        _channel, _transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"], more=True)
        self.clock.advance(self.dispatcher.timeout)
        self.assertEqual(self.cancels(), [requestId])
        self.assertEqual(self.dispatcher.stats["status504"], 0)
        self.assertEqual([e for e in events if "timed out" in e["log_format"]], [])
        [event] = [e for e in events if "not ended by handler" in e["log_format"]]
        self.assertEqual(event["requestId"], requestId.decode("ascii"))
        self.assertNoLeak()

    def test_nextRequestBeforeEnd(self) -> None:
        """
        A pipelined request after a streamed reply that reached its
        C{Content-Length} goes to a handler at once, before that reply's
        C{END}.
        """
        channel, _transport = self.get()
        first = self.lastRequest().requestId
        channel.dataReceived(b"GET /second HTTP/1.1\r\nHost: example.com\r\n\r\n")
        self.respond(first, headers=[(b"Content-Length", b"2")], body=[b"ok"], more=True)
        self.assertEqual(self.lastRequest().head.target, "/second")
        self.reply(protocol.encodeBody(first, [], True))
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"0")])
        self.assertNoLeak()
        self.assertEqual(self.cancels(), [])

    def test_disconnectAfterReply(self) -> None:
        """
        A client that disconnects after a complete reply causes no
        C{CANCEL}.
        """
        channel, _ = self.get()
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"0")])
        self.disconnect(channel)
        self.assertEqual(self.cancels(), [])
        self.assertNoLeak()


class AbortTimeoutTests(FrontTestCase):
    """
    A connection the front closes is aborted if its client does not take
    what it holds within L{ABORT_TIMEOUT}.
    """

    def test_abortedAfterTimeout(self) -> None:
        """
        An idle connection closed by the front, whose client reads nothing,
        is aborted L{ABORT_TIMEOUT} seconds later, and not before.
        """
        transport = StringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        self.connect(transport=transport)
        self.clock.advance(self.site.httpRules.idleTimeout)
        self.assertTrue(transport.disconnecting)
        self.clock.advance(ABORT_TIMEOUT - 0.1)
        self.assertFalse(transport.disconnected)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnected)

    def test_noAbortOnceClosed(self) -> None:
        """
        A connection that closes in time leaves no abort timer.
        """
        channel, _transport = self.connect()
        self.clock.advance(self.site.httpRules.idleTimeout)
        self.disconnect(channel)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class IdleTimeoutTests(FrontTestCase):
    """
    A connection that carries no request for C{--idle-timeout} is closed.
    """

    def test_closedAtRoundedDeadline(self) -> None:
        """
        A connection opened at a time whose sum with the idle timeout rounds
        down (1.4000000000000001 + 15 - 1.4000000000000001 is
        14.999999999999998) is closed at that sum: the timer, firing then,
        did not find the connection idle for long enough, and was set again
        for the same time, without end.
        """
        runs: list[object] = []
        clock = self.clock

        def advance(amount: float) -> None:
            # Clock.advance, but failing where it would loop for ever.
            clock.rightNow += amount
            while clock.calls and min(c.getTime() for c in clock.calls) <= clock.rightNow:
                call = min(clock.calls, key=lambda c: c.getTime())
                clock.calls.remove(call)
                runs.append(call.func)
                self.assertLess(len(runs), 100, "a timer set again for now, without end")
                call.called = 1
                call.func(*call.args, **call.kw)

        advance(1.4000000000000001)
        _channel, transport = self.connect()
        advance(self.site.httpRules.idleTimeout)
        self.assertTrue(transport.disconnecting)


class SlowClientTests(FrontTestCase):
    """
    The end of a response that the client's transport still holds once the
    response is complete (a slow client): a client that takes some of it
    within the front's C{--timeout}, each time, is given the time it needs,
    on a kept-alive connection or a closing one; one that takes nothing for
    that long has its connection aborted.  What the transport holds is
    L{unsent} here (L{txmp._eager.unsentBytes} reads a real transport's).
    """

    def setUp(self) -> None:
        FrontTestCase.setUp(self)
        # Neither the idle timeout nor ABORT_TIMEOUT (15): a test tells
        # which one fired.
        self.dispatcher.timeout = 11.0
        self.unsent: int | None = 0
        self.patch(_front, "unsentBytes", lambda transport: self.unsent)
        self.events: list[LogEvent] = []
        self.patch(
            FrontConnection, "_log", Logger(observer=cast(ILogObserver, self.events.append))
        )

    def slowResponse(self, *fields: bytes) -> tuple[FrontConnection, StringTransport]:
        """
        Send a request with header C{fields}, and answer it while the
        client's transport is full, holding 1 MB of it.
        """
        transport = StringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        channel, _ = self.connect(transport=transport)
        channel.dataReceived(httpHead(*fields))
        channel.pauseProducing()
        self.unsent = 1_000_000
        self.respond(
            self.lastRequest().requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"]
        )
        self.assertEqual(ParsedResponse(transport.value()).code, 200)
        return channel, transport

    def takeSlowly(self, transport: StringTransport, periods: int) -> None:
        """
        For C{periods} times the front's C{--timeout}, the client takes
        some of what its transport holds in each: nothing is aborted.
        """
        for _ in range(periods):
            self.clock.advance(10.0)
            assert self.unsent is not None
            self.unsent -= MIN_PROGRESS
            self.clock.advance(1.0)
            self.assertFalse(transport.disconnected)

    def assertAbortedAtTimeout(self, transport: StringTransport) -> None:
        """
        Assert that C{transport} is aborted when the front's C{--timeout}
        (11 s) has passed from now, not before.
        """
        self.clock.advance(10.9)
        self.assertFalse(transport.disconnected)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnected)

    def aborts(self) -> list[LogEvent]:
        return [e for e in self.events if "took too little" in e["log_format"]]

    def test_keptAliveSlowClient(self) -> None:
        """
        On a kept-alive connection, a client taking the end of its response
        slowly keeps it however long that takes (past the idle timeout, 15
        seconds): the connection is not idle until all is sent, and then
        closed C{idleTimeout} later, not aborted.
        """
        channel, transport = self.slowResponse()
        self.takeSlowly(transport, 4)
        self.assertFalse(transport.disconnecting)
        self.unsent = 0
        channel.resumeProducing()
        self.clock.advance(self.site.httpRules.idleTimeout - 0.1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        self.assertEqual(self.aborts(), [])

    def test_keptAliveClientGone(self) -> None:
        """
        A client that takes nothing of the end of its response for the
        front's C{--timeout} has its connection aborted, and the front
        says so.
        """
        _channel, transport = self.slowResponse()
        self.takeSlowly(transport, 1)
        self.assertAbortedAtTimeout(transport)
        self.assertEqual(len(self.aborts()), 1)
        self.assertEqual(self.aborts()[0]["timeout"], 11.0)

    def test_closingSlowClient(self) -> None:
        """
        After a response with C{Connection: close}, the connection closes
        once its client has taken all of it, however long that takes
        (past L{ABORT_TIMEOUT}); it is aborted once the client takes
        nothing for the front's C{--timeout}.
        """
        _channel, transport = self.slowResponse(b"Connection: close")
        self.assertIn(b"\r\nConnection: close\r\n", transport.value())
        self.assertTrue(transport.disconnecting)
        self.takeSlowly(transport, 4)
        self.assertGreater(self.clock.seconds(), ABORT_TIMEOUT)
        self.assertAbortedAtTimeout(transport)
        self.assertEqual(len(self.aborts()), 1)

    def test_kernelHoldsEndAtIdleClose(self) -> None:
        """
        A kept-alive connection whose transport took the whole response
        (the kernel holds its end: its transport is not full) is closed at
        the idle timeout; then, as after a C{Connection: close}, it is given
        the time its client takes, and aborted, with a word, only once the
        client takes too little in the front's C{--timeout}, not at
        L{ABORT_TIMEOUT} while the client still reads.
        """
        transport = StringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        channel, _ = self.connect(transport=transport)
        channel.dataReceived(httpHead())
        self.respond(
            self.lastRequest().requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"]
        )
        self.unsent = 1_000_000
        self.clock.advance(self.site.httpRules.idleTimeout)
        self.assertTrue(transport.disconnecting)
        self.clock.advance(ABORT_TIMEOUT - 1)
        self.unsent -= MIN_PROGRESS
        self.clock.advance(1)
        self.assertFalse(transport.disconnected)
        self.takeSlowly(transport, 3)
        self.assertEqual(self.aborts(), [])
        self.assertAbortedAtTimeout(transport)
        self.assertEqual(len(self.aborts()), 1)

    def test_clientTook(self) -> None:
        """
        L{FrontConnection.clientTook} says whether what the client has not
        made room for went down by L{MIN_PROGRESS} bytes, or to nothing,
        since its transport filled, then since the last call; where that
        is not known, or once the connection is lost, it says L{None}.
        """
        channel, _ = self.connect()
        self.unsent = 10 * MIN_PROGRESS
        channel.pauseProducing()
        self.assertFalse(channel.clientTook())
        self.unsent -= MIN_PROGRESS - 1
        self.assertFalse(channel.clientTook())
        self.unsent -= MIN_PROGRESS
        self.assertTrue(channel.clientTook())
        self.unsent = 100
        self.assertTrue(channel.clientTook())
        self.unsent = 0
        self.assertTrue(channel.clientTook())
        self.unsent = 100
        channel.pauseProducing()
        self.unsent = None
        self.assertIsNone(channel.clientTook())
        self.unsent = 100
        channel.pauseProducing()
        self.disconnect(channel)
        self.assertIsNone(channel.clientTook())

    def test_streamedReplyWaitsForSlowClient(self) -> None:
        """
        The reply timeout of a streamed response whose client's transport
        is full (its handler waiting for window) restarts while the client
        takes L{MIN_PROGRESS} bytes per C{--timeout}, and once it does not,
        cuts the response: the handler told C{CANCEL}, the connection
        aborted, logged as the client's doing, in the lines paced by client
        (L{FrontConnection.logClient}: a client may do it as often as it
        likes).  (A L{FrontConnection}, its L{Exchange} and the
        L{Dispatcher} together.)
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        transport = StringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        channel, _ = self.connect(transport=transport)
        channel.dataReceived(httpHead())
        requestId = self.lastRequest().requestId
        self.respond(
            requestId, headers=[(b"Content-Length", b"1000000")], body=[b"x" * 1000],
            more=True,
        )
        self.unsent = 10 * MIN_PROGRESS
        channel.pauseProducing()
        self.takeSlowly(transport, 3)
        self.assertEqual(self.cancels(), [])
        self.assertAbortedAtTimeout(transport)
        self.assertEqual(self.cancels(), [requestId])
        [event] = self.aborts()
        self.assertEqual(event["requestId"], requestId.decode("ascii"))
        self.assertEqual(
            self.site.clientLog._windows[(b"192.0.2.5", "responses not taken")].logged, 1
        )
        self.assertEqual([e for e in events if "timed out" in e["log_format"]], [])

    def test_streamedReplyUnknownProgress(self) -> None:
        """
        Where what the client took is not known (TLS), a streamed response
        whose client's transport is full times out on its handler at
        C{--timeout}, as before the kernel's buffer was counted: the front
        does not say the client took too little.
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        channel, _ = self.connect()
        channel.dataReceived(httpHead())
        self.respond(
            self.lastRequest().requestId, headers=[(b"Content-Length", b"1000000")],
            body=[b"x" * 1000], more=True,
        )
        self.unsent = None
        channel.pauseProducing()
        self.clock.advance(11.0)
        self.assertEqual(len(self.cancels()), 1)
        self.assertEqual([e for e in events if "took too little" in e["log_format"]], [])
        self.assertEqual(len([e for e in events if "timed out" in e["log_format"]]), 1)

    def test_baselinesApart(self) -> None:
        """
        The reply timeout's look at the client (L{FrontConnection.clientTook},
        for a pipelined request's streamed response) leaves the baseline of
        the watch on the end of the response before it alone: a client that
        took enough since the watch began is not aborted for having taken
        little since that look.
        """
        channel, transport = self.slowResponse()
        self.clock.advance(5.0)
        assert self.unsent is not None
        self.unsent -= MIN_PROGRESS
        channel.clientTook()
        # The watch's --timeout (11 s) passes.
        self.clock.advance(6.1)
        self.assertFalse(transport.disconnected)
        self.assertEqual(self.aborts(), [])

    def test_tricklingClientCut(self) -> None:
        """
        A client that takes less than L{MIN_PROGRESS} bytes of the end of
        its response in each C{--timeout} (a slow read attack) has its
        connection aborted after one, however many bytes it takes.
        """
        _channel, transport = self.slowResponse()
        self.clock.advance(10.0)
        assert self.unsent is not None
        self.unsent -= MIN_PROGRESS - 1
        self.clock.advance(1.0)
        self.assertTrue(transport.disconnected)
        self.assertEqual(len(self.aborts()), 1)

    def test_unknownTransport(self) -> None:
        """
        A transport that cannot say what it holds (TLS) gives a client
        taking the end of its response the front's C{--timeout} in all,
        on a kept-alive connection as on a closing one.
        """
        for fields in [(), (b"Connection: close",)]:
            _channel, transport = self.slowResponse(*fields)
            self.unsent = None
            self.assertAbortedAtTimeout(transport)

    def test_pipelinedRequestWatchedByItsOwn(self) -> None:
        """
        A request pipelined while the end of the response before it is
        still going out starts once that end is sent, and is then watched
        by its own timeouts (the reply timeout here), not aborted for the
        client being slow with the last one.
        """
        channel, transport = self.slowResponse()
        channel.dataReceived(httpHead(line=b"GET /second HTTP/1.1"))
        self.assertEqual(self.lastRequest().head.target, "/")
        self.unsent = 0
        channel.resumeProducing()
        self.assertEqual(self.lastRequest().head.target, "/second")
        self.clock.advance(11.0)
        self.assertFalse(transport.disconnected)

    def test_pipelinedBehindUntakenResponse(self) -> None:
        """
        A client that pipelines a request and takes nothing of the response
        before it has its connection aborted at the front's C{--timeout},
        as if it had sent nothing more: the request waiting behind does
        not start.
        """
        channel, transport = self.slowResponse()
        channel.dataReceived(httpHead(line=b"GET /second HTTP/1.1"))
        self.assertAbortedAtTimeout(transport)
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/"])


class DrainTests(FrontTestCase):
    """
    Tests for L{FrontFactory.drain}, what a stopping front waits for.
    """

    def test_idleClosedAtOnce(self) -> None:
        """
        A connection with no request in progress is closed at once; the
        drain is over once it is gone.
        """
        channel, transport = self.connect()
        drained = self.site.drain()
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(drained)
        self.disconnect(channel)
        self.successResultOf(drained)

    def test_busyClosedAfterResponse(self) -> None:
        """
        A connection with a request in progress is kept until the response
        is complete; the response says C{Connection: close} and the
        connection is closed after it.
        """
        channel, transport = self.get()
        drained = self.site.drain()
        self.assertFalse(transport.disconnecting)
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"2")],
                     body=[b"ok"])
        response = transport.value()
        self.assertTrue(response.startswith(b"HTTP/1.1 200 OK\r\n"), response)
        self.assertIn(b"\r\nConnection: close\r\n", response)
        self.assertTrue(response.endswith(b"\r\n\r\nok"), response)
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(drained)
        self.disconnect(channel)
        self.successResultOf(drained)

    def test_nothingOpen(self) -> None:
        """
        With no connection open, the drain is over at once.
        """
        self.successResultOf(self.site.drain())


class _CountedAccessLog(AccessLog):
    """
    An L{AccessLog} that counts its L{close} calls.
    """

    closes = 0

    def close(self) -> None:
        self.closes += 1
        AccessLog.close(self)


class AccessLogLifetimeTests(FrontTestCase):
    """
    L{FrontFactory} opens its access log when it starts, and closes it once
    it has stopped and its last connection is closed: a stopping front
    still logs the requests it drains.
    """

    def setUp(self) -> None:
        FrontTestCase.setUp(self)
        self.path = FilePath(self.mktemp())
        self.log = _CountedAccessLog(self.path.path)
        self.site.accessLog = self.log
        self.site.startFactory()
        self.addCleanup(self.log.close)

    def test_closedAfterLastConnection(self) -> None:
        """
        Stopped (its ports closed) with connections open, the factory keeps
        the log open: the request they finish is logged; it closes the log
        when the last of them closes, not before.
        """
        idle, _ = self.connect()
        busy, _ = self.get()
        self.site.stopFactory()
        self.disconnect(idle)
        self.assertEqual(self.log.closes, 0)
        self.respond(self.lastRequest().requestId, headers=[(b"Content-Length", b"2")],
                     body=[b"ok"])
        self.assertIn(b'"GET /path HTTP/1.1" 200 2 ', self.path.getContent())
        self.disconnect(busy)
        self.assertEqual(self.log.closes, 1)

    def test_closedAtStopWithoutConnections(self) -> None:
        """
        Stopped with no connection open, the factory closes the log at once.
        """
        self.site.stopFactory()
        self.assertEqual(self.log.closes, 1)

    def test_openWhileRunning(self) -> None:
        """
        While the factory runs, its last connection closing leaves the log
        open.
        """
        channel, _ = self.connect()
        self.disconnect(channel)
        self.assertEqual(self.log.closes, 0)


class StreamingTests(FrontTestCase):
    """
    Request bodies streamed to the handler within its window, response
    bodies granted back as the client takes them, and the body limit.
    """

    def hello(self, credits: int) -> None:
        """
        Register L{handlerId} with C{credits} credits and a request-body
        window of 100 bytes.
        """
        self.control(
            protocol.encodeHello("a", credits, {"window": "100"})
        )
        self.socket.clear()

    def post(self, size: int) -> tuple[FrontConnection, StringTransport]:
        """
        Send the head of a C{POST} with a C{Content-Length} of C{size}.
        """
        return self.sendRequest(
            b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size
        )

    def test_bodyNotKept(self) -> None:
        """
        To a handler that takes C{BATCH} messages, a streamed request's
        C{REQ} is kept for the end of the turn (L{PeerSender.sendSoon}),
        but its C{BODY}s go at once: one that finds the handler gone must
        be held again then, not dropped later with what was kept.
        """
        self.control(
            protocol.encodeHello("a", 1, {"window": "100"}, packed=True, batch=True)
        )
        self.socket.clear()
        channel, _ = self.post(SMALL_BODY + 10)
        channel.dataReceived(b"x" * (SMALL_BODY + 10))
        sent = [type(protocol.decode(frames[1:])) for frames in self.socket.sent]
        kept = [type(protocol.decode(frames[1:])) for frames in self.socket.kept]
        self.assertEqual((sent[:2], kept), ([protocol.Request, protocol.Body], [protocol.Request]))

    def test_smallBodyWhole(self) -> None:
        """
        A body of known length up to L{SMALL_BODY} goes whole with the
        request, in one message.
        """
        self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        )
        request = self.lastRequest()
        self.assertFalse(request.head.more)
        self.assertEqual(request.body, [b"abc"])

    def test_largeBodyStreamedBeforeItEnds(self) -> None:
        """
        A larger body is streamed: the request reaches the handler when its
        head does, and each part of the body as it arrives, before the rest
        is sent by the client.
        """
        size = SMALL_BODY + 10
        channel, _transport = self.post(size)
        request = self.lastRequest()
        self.assertTrue(request.head.more)
        channel.dataReceived(b"x" * 60)
        self.assertEqual(self.streamedBody(request.requestId), (b"x" * 60, False))

    def test_windowPausesReading(self) -> None:
        """
        When the handler's window is used up the front stops reading from
        the client; a C{WINDOW} from the handler resumes it; the rest of the
        body and C{END} follow, within the windows granted.
        """
        size = SMALL_BODY + 10
        channel, transport = self.post(size)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * 100)
        self.assertEqual(transport.producerState, "paused")
        self.control(
            protocol.encodeWindow(requestId, 100)
        )
        self.assertEqual(transport.producerState, "producing")
        channel.dataReceived(b"y" * (size - 100))
        data, ended = self.streamedBody(requestId)
        self.assertEqual((len(data), ended), (200, False))
        self.control(protocol.encodeWindow(requestId, size - 200))
        data, ended = self.streamedBody(requestId)
        self.assertEqual((len(data), ended), (size, True))

    def bodyMessages(self, requestId: bytes) -> list[tuple[int, bool]]:
        """
        The body size and end flag of each C{BODY}/C{END} message sent for
        C{requestId} so far.
        """
        return [
            (sum(map(len, message.chunks)), message.end)
            for _peer, message in self.socket.routedMessages()
            if isinstance(message, protocol.Body) and message.requestId == requestId
        ]

    def test_windowSplitsRead(self) -> None:
        """
        A read from the client that passes the handler's window is split at
        the window's edge (docs/protocol.md: the front sends at most C{R}
        bytes plus what the handler grants): what fits goes in one C{BODY},
        the rest is held and reading from the client stops; each C{WINDOW}
        sends as much of what is held as it allows, in one C{BODY}, and
        reading resumes once nothing is held and window is left.
        """
        channel, transport = self.post(SMALL_BODY + 1000)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * 160)
        self.assertEqual(self.bodyMessages(requestId), [(100, False)])
        self.assertEqual(transport.producerState, "paused")
        self.control(protocol.encodeWindow(requestId, 30))
        self.assertEqual(self.bodyMessages(requestId), [(100, False), (30, False)])
        self.assertEqual(transport.producerState, "paused")
        self.control(protocol.encodeWindow(requestId, 100))
        self.assertEqual(
            self.bodyMessages(requestId), [(100, False), (30, False), (30, False)]
        )
        self.assertEqual(transport.producerState, "producing")
        # A read within the window left (70 bytes) is one message, whole.
        channel.dataReceived(b"y" * 50)
        self.assertEqual(
            self.bodyMessages(requestId),
            [(100, False), (30, False), (30, False), (50, False)],
        )
        self.assertEqual(self.streamedBody(requestId)[0], b"x" * 160 + b"y" * 50)

    def test_windowZero(self) -> None:
        """
        A handler whose C{HELLO} says C{window=0} gets no byte of a streamed
        body before it grants some with C{WINDOW}, and the front does not
        read from the client meanwhile.
        """
        self.control(protocol.encodeHello("a", 5, {"window": "0"}))
        channel, transport = self.post(SMALL_BODY + 10)
        requestId = self.lastRequest().requestId
        self.assertEqual(transport.producerState, "paused")
        channel.dataReceived(b"x" * 50)
        self.assertEqual(self.bodyMessages(requestId), [])
        self.control(protocol.encodeWindow(requestId, 20))
        self.assertEqual(self.bodyMessages(requestId), [(20, False)])
        self.assertEqual(transport.producerState, "paused")

    def test_chunkedFirstBodyWithinWindow(self) -> None:
        """
        A chunked body streamed once it passes L{SMALL_BODY}: what came so
        far goes to the handler within its window too, the rest once it
        grants more.
        """
        big = b"a" * (SMALL_BODY + 1)
        channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (len(big),) + big + b"\r\n"
        )
        requestId = self.lastRequest().requestId
        self.assertEqual(self.bodyMessages(requestId), [(100, False)])
        self.assertEqual(transport.producerState, "paused")
        self.control(protocol.encodeWindow(requestId, len(big)))
        channel.dataReceived(b"0\r\n\r\n")
        self.assertEqual(
            self.bodyMessages(requestId),
            [(100, False), (len(big) - 100, False), (0, True)],
        )

    def test_endWaitsForHeld(self) -> None:
        """
        When the body ends while part of it is held past the window, the
        C{END} follows that part, once the handler's grants let it go.
        """
        size = SMALL_BODY + 10
        channel, _transport = self.post(size)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * size)
        self.assertEqual(self.bodyMessages(requestId), [(100, False)])
        self.control(protocol.encodeWindow(requestId, size - 150))
        self.assertEqual(
            self.bodyMessages(requestId), [(100, False), (size - 150, False)]
        )
        self.control(protocol.encodeWindow(requestId, 100))
        self.assertEqual(
            self.bodyMessages(requestId),
            [(100, False), (size - 150, False), (50, False), (0, True)],
        )

    def test_retriedStreamedBodyKept(self) -> None:
        """
        A streamed request whose handler is lost before any byte of its
        body was sent is retried on another handler with its whole body:
        what the client sent while the request waited for one is held, not
        dropped, and its C{END} follows.
        """
        size = SMALL_BODY + 10
        channel, _transport = self.sendRequest(
            b"PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size
        )
        self.assertEqual(len(self.requestsSent()), 1)
        # Handler a is gone: the next request's send finds it unreachable,
        # and the PUT waits for another handler.
        self.socket.unreachable.add(self.handlerId)
        self.get()
        self.assertEqual(self.dispatcher.counts()["queued"], 2)
        channel.dataReceived(b"x" * size)
        self.socket.clear()
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeHello("b", 1)])
        request = self.lastRequest()
        self.assertTrue(request.head.more)
        self.assertEqual(self.streamedBody(request.requestId), (b"x" * size, True))

    def streamedTo(
        self, method: bytes, size: int
    ) -> tuple[FrontConnection, StringTransport, bytes]:
        """
        Send the head of a request with a streamed body of C{size} bytes to
        L{handlerId}, with C{handler-b} registered too but without credit,
        and make L{handlerId} unreachable, as if it went away after it took
        the C{REQ}.

        @return: the channel, the transport and the request id.
        """
        channel, transport = self.sendRequest(
            method + b" /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size
        )
        requestId = self.lastRequest().requestId
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeHello("b", 0)])
        self.socket.unreachable.add(self.handlerId)
        self.socket.clear()
        return channel, transport, requestId

    def test_firstBodyUnreachableRetried(self) -> None:
        """
        An idempotent request whose handler is found gone by its first
        C{BODY} is retried on another handler with its whole body: no byte
        of it had left the front, so nothing is lost.
        """
        size = SMALL_BODY + 10
        channel, transport, requestId = self.streamedTo(b"PUT", size)
        channel.dataReceived(b"x" * 60)
        self.assertNotIn(self.handlerId, self.dispatcher.handlers)
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(b"y" * (size - 60))
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeCredit(1)])
        request = self.lastRequest()
        self.assertEqual(request.requestId, requestId + RETRY_SUFFIX)
        self.assertEqual(
            self.streamedBody(requestId + RETRY_SUFFIX), (b"x" * 60 + b"y" * (size - 60), True)
        )
        self.assertEqual(self.dispatcher.stats["retried"], 1)

    def test_firstBodyUnreachableEndRetried(self) -> None:
        """
        So is one whose whole body was held for the handler's window, and
        whose C{END} finds the handler gone.
        """
        self.control(protocol.encodeHello("a", 5, {"window": "0"}))
        size = SMALL_BODY + 10
        channel, _transport, requestId = self.streamedTo(b"PUT", size)
        channel.dataReceived(b"x" * size)
        self.assertEqual(self.bodyMessages(requestId), [])
        self.control(protocol.encodeWindow(requestId, size))
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeCredit(1)])
        self.assertEqual(self.streamedBody(requestId + RETRY_SUFFIX), (b"x" * size, True))
        self.assertEqual(self.dispatcher.stats["retried"], 1)

    def test_firstBodyUnreachableNotIdempotent(self) -> None:
        """
        A request that is not idempotent is not retried when its first
        C{BODY} finds the handler gone: its C{REQ} may have reached the
        application, which may have acted on it before reading the body.
        The client gets 502.
        """
        channel, transport, _requestId = self.streamedTo(b"POST", SMALL_BODY + 10)
        channel.dataReceived(b"x" * 60)
        self.assertEqual(ParsedResponse(transport.value()).code, 502)
        self.assertEqual(self.dispatcher.stats["retried"], 0)
        self.assertNoLeak()

    def test_laterBodyUnreachableNotRetried(self) -> None:
        """
        An idempotent request whose handler is found gone after a C{BODY}
        was sent is not retried: the front keeps no copy of what it sent.
        The client gets 502.
        """
        channel, transport = self.sendRequest(
            b"PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
            % (SMALL_BODY + 10,)
        )
        channel.dataReceived(b"x" * 60)
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeHello("b", 1)])
        self.socket.unreachable.add(self.handlerId)
        channel.dataReceived(b"x" * 10)
        self.assertEqual(ParsedResponse(transport.value()).code, 502)
        self.assertEqual(self.dispatcher.stats["retried"], 0)
        self.assertNoLeak()

    def test_droppedStreamedRequestRetried(self) -> None:
        """
        A streamed request whose C{REQ} and C{BODY} were dropped unsent, the
        handler gone, is retried on another handler with its whole body,
        even if it is not idempotent: none of it reached the first.
        """
        size = SMALL_BODY + 10
        channel, transport = self.post(size)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * 60)
        dropped = [frames for frames in self.socket.sent if frames[3:4] == [requestId]]
        self.assertEqual(len(dropped), 2)
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeHello("b", 0)])
        self.socket.clear()
        self.dispatcher.messagesDropped(self.handlerId, dropped)
        channel.dataReceived(b"y" * (size - 60))
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeCredit(1)])
        self.assertEqual(self.lastRequest().requestId, requestId + RETRY_SUFFIX)
        self.assertEqual(
            self.streamedBody(requestId + RETRY_SUFFIX), (b"x" * 60 + b"y" * (size - 60), True)
        )
        self.assertEqual(transport.value(), b"")

    def test_fullBacklogStreamedRequestRetried(self) -> None:
        """
        So is one whose C{BODY} finds the handler's queue full, which
        dropped its C{REQ} and first C{BODY} unsent: the body goes whole,
        in order, to the next handler.
        """
        size = SMALL_BODY + 10
        channel, _transport = self.post(size)
        requestId = self.lastRequest().requestId
        channel.dataReceived(b"x" * 60)
        backlog = [frames for frames in self.socket.sent if frames[3:4] == [requestId]]
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeHello("b", 0)])
        self.socket.clear()
        send = self.socket.send

        def fullBacklog(frames: list[bytes]) -> None:
            if frames[0] == self.handlerId:
                raise PeerUnreachable(self.handlerId, backlog)
            send(frames)

        self.patch(self.socket, "send", fullBacklog)
        self.control(protocol.encodeWindow(requestId, 100))
        channel.dataReceived(b"y" * 30)
        self.assertNotIn(self.handlerId, self.dispatcher.handlers)
        channel.dataReceived(b"z" * (size - 90))
        self.dispatcher.controlReceived([b"handler-b", *protocol.encodeCredit(1)])
        self.assertEqual(
            self.streamedBody(requestId + RETRY_SUFFIX),
            (b"x" * 60 + b"y" * 30 + b"z" * (size - 90), True),
        )

    def test_noTemporaryFile(self) -> None:
        """
        The front keeps no copy of a streamed body: what came went to the
        handler.
        """
        channel, _transport = self.post(SMALL_BODY + 10)
        channel.dataReceived(b"x" * 100)
        exchange = channel.exchange
        assert exchange is not None
        self.assertEqual(exchange.bodyBytes, 100)
        self.assertEqual(self.streamedBody(self.lastRequest().requestId)[0], b"x" * 100)

    def test_contentLengthTooLarge(self) -> None:
        """
        A Content-Length over the limit gets 413 and the connection closed
        before any body is read, without C{100 Continue}, and no handler
        sees the request.
        """
        self.site.maxBody = 1000
        _channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "), transport.value())
        self.assertNotIn(b"100 Continue", transport.value())
        self.assertClosed(transport)
        self.assertEqual(self.socket.sent, [])

    def test_chunkedTooLarge(self) -> None:
        """
        A chunked body is counted as it streams and cut with 413 when it
        passes the limit; the handler gets C{CANCEL}; nothing is left
        pending.
        """
        big = b"a" * (SMALL_BODY + 1)
        self.site.maxBody = len(big) + 100
        channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (len(big),) + big + b"\r\n"
        )
        requestId = self.lastRequest().requestId
        self.control(
            protocol.encodeWindow(requestId, 1000)
        )
        channel.dataReceived(b"40\r\n" + b"b" * 64 + b"\r\n")
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(b"40\r\n" + b"c" * 64 + b"\r\n")
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 413)
        self.assertEqual(self.cancels(), [requestId])
        self.assertNoLeak()

    def test_refusedNotCountedCancelled(self) -> None:
        """
        A request the front ends itself once its handler has it (a bad
        chunk of its streamed body: 400; a stopping front's cut) is not
        counted as C{cancelled}, which counts the requests whose client
        went away: its handler is told C{CANCEL} all the same.
        """
        big = b"a" * (SMALL_BODY + 1)
        channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (len(big),) + big + b"\r\n"
        )
        refused = self.lastRequest().requestId
        channel.dataReceived(b"ZZ\r\n")
        self.assertEqual(ParsedResponse(transport.value()).code, 400)
        cut, _ = self.get()
        cutId = self.lastRequest().requestId
        cut.cut()
        gone, _ = self.get()
        goneId = self.lastRequest().requestId
        self.disconnect(gone)
        self.assertEqual(self.cancels(), [refused, cutId, goneId])
        self.assertEqual(self.dispatcher.stats["cancelled"], 1)
        self.assertNoLeak()

    def test_expectContinue(self) -> None:
        """
        C{Expect: 100-continue} within the limit is answered with
        C{100 Continue}.
        """
        _channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 100 Continue\r\n"))

    def test_expectContinueStreamed(self) -> None:
        """
        C{Expect: 100-continue} on a body streamed to the handler (longer
        than L{SMALL_BODY}) is answered with C{100 Continue} once the
        request is submitted, and nothing else.
        """
        _channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n"
            b"Expect: 100-continue\r\n\r\n" % (SMALL_BODY + 1,)
        )
        self.assertEqual(self.lastRequest().head.method, "POST")
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")

    def test_expectContinueChunked(self) -> None:
        """
        C{Expect: 100-continue} on a chunked body, read whole before it is
        submitted while it is small, is answered with C{100 Continue}.
        """
        _channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")

    def test_expectContinueQueued(self) -> None:
        """
        A request with C{Expect: 100-continue} that waits in the queue for
        a handler (submitted, not answered) gets C{100 Continue}; if its
        wait runs out, its 503 follows.
        """
        # (This class's hello registers anew, which a known handler ignores.)
        FrontTestCase.hello(self, 0)
        _channel, transport = self.sendRequest(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n"
            b"Expect: 100-continue\r\n\r\n" % (SMALL_BODY + 1,)
        )
        self.assertEqual(self.requestsSent(), [])
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.clock.advance(self.dispatcher.queueTimeout)
        continued, final = transport.value().split(b"\r\n\r\n", 1)
        self.assertEqual(continued, b"HTTP/1.1 100 Continue")
        self.assertEqual(ParsedResponse(final).code, 503)

    def test_expectContinuePipelined(self) -> None:
        """
        A request with C{Expect: 100-continue} pipelined after another is
        read once that one's response is written: its C{100 Continue} comes
        after that response, not before nor inside it.
        """
        channel, transport = self.sendRequest(
            b"GET /first HTTP/1.1\r\nHost: h\r\n\r\n"
            b"POST /second HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        self.assertEqual(transport.value(), b"")
        first = self.lastRequest()
        self.respond(first.requestId, body=[b"one"], headers=[(b"Content-Length", b"3")])
        response, _, rest = transport.value().partition(b"one")
        self.assertEqual(ParsedResponse(response + b"one").code, 200)
        self.assertEqual(rest, b"HTTP/1.1 100 Continue\r\n\r\n")
        channel.dataReceived(b"body")
        second = self.lastRequest()
        self.assertEqual(second.head.target, "/second")
        self.assertEqual(second.body, [b"body"])

    def test_responseWindowGranted(self) -> None:
        """
        Response body bytes written to a client that takes them are granted
        back to the handler with C{WINDOW}, half a window at a time; none
        while the client's transport is paused, then all at once.  (A
        window of 400 bytes instead of mpfront's 2 MiB, so that a few
        short chunks cross half of it.)
        """
        self.dispatcher.window = 400
        channel, _transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a" * 50], more=True)
        def windows():
            return [m.size for p, m in self.socket.routedMessages()
                                   if isinstance(m, protocol.Window)]
        self.assertEqual(windows(), [])
        self.reply(protocol.encodeBody(requestId, [b"b" * 100], False))
        self.assertEqual(windows(), [])
        self.reply(protocol.encodeBody(requestId, [b"b" * 50], False))
        self.assertEqual(windows(), [200])
        channel.pauseProducing()
        self.reply(protocol.encodeBody(requestId, [b"c" * 250], False))
        self.assertEqual(windows(), [200])
        channel.resumeProducing()
        self.assertEqual(windows(), [200, 250])
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertNoLeak()

    def test_noBodyWindowGranted(self) -> None:
        """
        The body a handler streams for a response that has none (to
        C{HEAD}, a 204 or 304: docs/protocol.md lets it send one, which the
        front drops) is granted back as it is dropped, as if written: the
        handler, which waits for C{WINDOW} once its window is used up, ends
        the response, where it waited for C{--timeout} and its C{CANCEL}.
        """
        self.dispatcher.window = 400
        for line, status in [
            (b"HEAD / HTTP/1.1", 200), (b"GET / HTTP/1.1", 204), (b"GET / HTTP/1.1", 304),
        ]:
            self.socket.clear()
            _channel, transport = self.sendRequest(line + b"\r\nHost: h\r\n\r\n")
            requestId = self.lastRequest().requestId
            self.respond(requestId, status, body=[b"a" * 150], more=True)
            self.reply(protocol.encodeBody(requestId, [b"b" * 250], False))
            self.reply(protocol.encodeBody(requestId, [b"c" * 400], False))
            windows = [m.size for _, m in self.socket.routedMessages()
                       if isinstance(m, protocol.Window)]
            self.assertEqual(sum(windows), 800, (line, status, windows))
            self.assertTrue(transport.value().endswith(b"\r\n\r\n"), transport.value())
            self.reply(protocol.encodeBody(requestId, [], True))
            self.assertEqual(self.cancels(), [])
            self.assertNoLeak()

    def test_noBodyEndDue(self) -> None:
        """
        The body a handler streams for a response that has none, granted
        back as it is dropped, is no progress: the handler must end the
        response within C{--timeout} of its head, or is told C{CANCEL}, as
        for any response its client had whole; a body without end (to
        C{HEAD}) does not run for ever.
        """
        self.dispatcher.window = 400
        _channel, _transport = self.sendRequest(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a" * 150], more=True)
        for _ in range(10):
            self.clock.advance(self.dispatcher.timeout / 4)
            if self.cancels():
                break
            self.reply(protocol.encodeBody(requestId, [b"b" * 250], False))
        self.assertEqual(self.cancels(), [requestId])
        self.assertEqual(self.dispatcher.stats["status504"], 0)
        self.assertNoLeak()

    def pausedStream(
        self, first: int
    ) -> tuple[FrontConnection, StringTransport, bytes]:
        """
        With a response window of 400 bytes, start a streamed response of
        C{first} bytes to a client whose transport is then full.

        @return: the client's connection, its transport, and the request id.
        """
        self.dispatcher.window = 400
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a" * first], more=True)
        channel.pauseProducing()
        return channel, transport, requestId

    def test_responseWindowOverrun(self) -> None:
        """
        A handler that sends more response body once its window is used
        up, without a C{WINDOW} from the front (docs/protocol.md: it MUST
        wait), is not buffered without bound while the client does not
        read: the message that breaks the rule is a bad message, the
        client's connection is aborted and the handler gets C{CANCEL}.  A
        message that begins within the window may overshoot it.
        """
        _channel, transport, requestId = self.pausedStream(50)
        self.reply(protocol.encodeBody(requestId, [b"b" * 349], False))
        self.reply(protocol.encodeBody(requestId, [b"c" * 100], False))
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.cancels(), [])
        self.assertEqual(self.dispatcher.stats["badMessages"], 0)
        self.reply(protocol.encodeBody(requestId, [b"d"], False))
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.cancels(), [requestId])
        self.assertTrue(transport.disconnecting)
        self.assertNotIn(b"d", transport.value().split(b"\r\n\r\n", 1)[1])
        self.assertNoLeak()

    def test_responseWindowOverrunByEnd(self) -> None:
        """
        The C{END} of a response may carry body past the window: it is the
        last message (txmp's handler sends a result it collected in it,
        after C{write()} used the window up), and the response completes.
        """
        channel, transport, requestId = self.pausedStream(400)
        self.reply(protocol.encodeBody(requestId, [b"b" * 100], True))
        channel.resumeProducing()
        response = ParsedResponse(transport.value())
        self.assertTrue(response.complete)
        self.assertEqual(response.body, b"a" * 400 + b"b" * 100)
        self.assertEqual(self.dispatcher.stats["badMessages"], 0)
        self.assertNoLeak()

    def test_slowClientNotCut(self) -> None:
        """
        A client that takes its response slowly, but takes some of it
        within every C{--timeout}, keeps it: what the front held for it
        while its transport was full goes out a piece (L{SEND_LIMIT}
        bytes) at a time as the transport drains, and each piece the
        client takes restarts the reply timeout, as the handler's messages
        do.  (The handler, waiting for window, sends nothing meanwhile.)
        """
        timeout = self.dispatcher.timeout
        frame = 256 * 1024
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a" * 100], more=True)
        # A transport whose buffer is full after every write, until it has
        # sent it (resumeProducing).
        write = transport.write

        def writeAndFill(data: bytes) -> None:
            write(data)
            channel.pauseProducing()

        transport.write = writeAndFill  # type: ignore[method-assign]
        channel.pauseProducing()
        # (Past the window, in one message begun within it.)
        self.reply(protocol.encodeBody(requestId, [b"b" * frame] * 8, False))
        sent = len(transport.value())
        for _ in range(4):
            # Nothing granted while more than a piece is held: the window
            # goes back in large grants.
            self.assertEqual(self.windows(), [])
            self.clock.advance(timeout - 1)
            self.assertFalse(transport.disconnecting)
            channel.resumeProducing()
            # One piece written (its frames, chunk-framed).
            self.assertEqual(len(transport.value()) - sent, 2 * frame + len(b"80000\r\n\r\n"))
            sent = len(transport.value())
        # The last piece took the rest: what the client took before it
        # (the first 100 bytes and three pieces) is granted.
        self.assertEqual(self.windows(), [100 + 6 * frame])
        self.assertEqual(self.cancels(), [])
        transport.write = write  # type: ignore[method-assign]
        channel.resumeProducing()
        self.reply(protocol.encodeBody(requestId, [], True))
        response = ParsedResponse(transport.value())
        self.assertTrue(response.complete)
        self.assertEqual(len(response.body), 100 + 8 * frame)
        self.assertNoLeak()

    def test_stalledClientCut(self) -> None:
        """
        A client that takes nothing of its response for C{--timeout}, while
        the handler waits for window, has it cut: the connection aborted,
        the handler told C{CANCEL}.
        """
        channel, transport = self.get()
        requestId = self.lastRequest().requestId
        self.respond(requestId, body=[b"a" * 100], more=True)
        channel.pauseProducing()
        self.reply(protocol.encodeBody(requestId, [b"b" * 1024], False))
        self.clock.advance(self.dispatcher.timeout)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.cancels(), [requestId])
        self.assertNoLeak()

    def test_responseWindowAtDefaults(self) -> None:
        """
        At mpfront's defaults, a request goes to its handler with a window
        of L{DEFAULT_WINDOW} (2 MiB), and the response body written to the
        client is granted back once half of it (L{GRANT_DIVISOR}) is owed,
        not a byte before.
        """
        _channel, _transport = self.get()
        request = self.lastRequest()
        self.assertEqual(request.head.window, DEFAULT_WINDOW)
        half = DEFAULT_WINDOW // GRANT_DIVISOR
        self.assertEqual(half, 1024 * 1024)
        self.respond(request.requestId, body=[b"a" * (half - 1)], more=True)
        self.assertEqual(self.windows(), [])
        self.reply(protocol.encodeBody(request.requestId, [b"b"], False))
        self.assertEqual(self.windows(), [half])
        self.reply(protocol.encodeBody(request.requestId, [], True))
        self.assertNoLeak()

    def windows(self) -> list[int]:
        """
        The sizes of the C{WINDOW}s sent to handlers so far.
        """
        return [m.size for _peer, m in self.socket.routedMessages()
                if isinstance(m, protocol.Window)]

    def test_responseStartsWhileTransportFull(self) -> None:
        """
        A streamed response that starts while the client's transport is
        still full from the response before it (pipelined requests) is
        paused from its start: nothing more of its body is written, and
        nothing is granted to the handler, until the transport resumes.
        """
        self.dispatcher.window = 400
        channel, transport = self.sendRequest(
            b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        first = self.lastRequest().requestId
        self.respond(first, headers=[(b"Content-Length", b"1")], body=[b"1"])
        channel.pauseProducing()
        second = self.lastRequest().requestId
        self.assertNotEqual(first, second)
        def windows():
            return [m.size for p, m in self.socket.routedMessages()
                                   if isinstance(m, protocol.Window)]
        self.respond(second, body=[b"a" * 250], more=True)
        self.reply(protocol.encodeBody(second, [b"b" * 250], False))
        self.assertEqual(windows(), [])
        self.assertNotIn(b"b" * 250, transport.value())
        channel.resumeProducing()
        self.assertEqual(sum(windows()), 500)
        self.assertIn(b"b" * 250, transport.value())
        self.reply(protocol.encodeBody(second, [], True))
        self.assertNoLeak()

    def test_atLengthWhileBodyComes(self) -> None:
        """
        A streamed response that reaches its C{Content-Length} while the
        request body still comes is not complete there: the rest of the
        body still goes to the handler, with its C{END}, and the response
        ends at the handler's C{END}, as any does.
        """
        size = SMALL_BODY + 10
        channel, transport = self.post(size)
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"], more=True)
        # The application reads the body.
        self.control(protocol.encodeWindow(requestId, size))
        channel.dataReceived(b"x" * size)
        data, ended = self.streamedBody(requestId)
        self.assertEqual((len(data), ended), (size, True))
        self.reply(protocol.encodeBody(requestId, [], True))
        self.assertEqual(ParsedResponse(transport.value()).body, b"ok")
        self.assertNoLeak()
        self.assertEqual(self.cancels(), [])

    def test_earlyResponseCloses(self) -> None:
        """
        A response that comes while the request body is still arriving
        closes the connection after it (the rest of the body cannot be told
        from a next request).
        """
        _channel, transport = self.post(SMALL_BODY + 10)
        requestId = self.lastRequest().requestId
        self.respond(requestId, headers=[(b"Content-Length", b"0")])
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, 200)
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertClosed(transport)

    def test_errorAfterWholeEarlyResponse(self) -> None:
        """
        A handler's C{ERROR} after a streamed response its client has whole
        (a head without a body, or all of its C{Content-Length}), sent
        while the request body is still coming, is only logged: the
        connection ends with the lingering close after such a response,
        not aborted (which would throw away what the transport had not
        sent yet of the response), and no 502 is counted.
        """
        for status, headers, body in [
            (204, [], []),
            (304, [(b"Content-Length", b"10")], []),
            (200, [(b"Content-Length", b"2")], [b"ok"]),
        ]:
            _channel, transport = self.post(SMALL_BODY + 10)
            requestId = self.lastRequest().requestId
            self.respond(requestId, status, b"X", headers, body, more=True)
            self.reply(protocol.encodeError(requestId, "close() failed"))
            self.assertFalse(transport.disconnected, status)
            response = ParsedResponse(transport.value())
            self.assertEqual((response.code, response.body, response.header(b"connection")),
                             (status, b"".join(body), [b"close"]))
            self.assertClosed(transport)
            self.assertFalse(transport.disconnected, status)
            self.assertNoLeak()
        # (Answered by the application, not by the front: no 502 counted.)
        self.assertEqual(self.dispatcher.stats["status502"], 0)


class ResponseBodyTests(FrontTestCase):
    """
    An L{Exchange} writing a streamed reply's body as the client's
    transport takes it: the front's own L{FrontConnection} (the producer
    its transport pauses when full) and L{Dispatcher}, the reply's
    accounting read in what goes back to the handler (C{WINDOW},
    C{CANCEL}).
    """

    def streaming(self, contentLength: int | None = None, window: int = DEFAULT_WINDOW) -> None:
        """
        Send an HTTP/1.0 C{GET} asking to keep the connection (its response
        body is not chunked) over a L{TCPStringTransport} (L{transport},
        which records each write), and answer it with the head of a
        streamed reply, with C{contentLength} if given, from a handler
        given a response window of C{window} bytes.  Its writes from then
        on are those of the body alone.

        @ivar channel: the client's L{FrontConnection}.
        @ivar exchange: its L{Exchange}.
        @ivar requestId: the request's id.
        """
        self.dispatcher.window = window
        self.transport = TCPStringTransport(
            hostAddress=self.serverAddress, peerAddress=self.clientAddress
        )
        self.channel, _ = self.connect(transport=self.transport)
        self.channel.dataReceived(httpHead(b"Connection: keep-alive", line=b"GET / HTTP/1.0"))
        self.requestId = self.lastRequest().requestId
        exchange = self.channel.exchange
        assert exchange is not None
        self.exchange = exchange
        headers = [] if contentLength is None else [(b"Content-Length", b"%d" % contentLength)]
        self.respond(self.requestId, headers=headers, more=True)
        self.assertEqual(ParsedResponse(self.transport.value()).code, 200)
        del self.transport.writes[:]

    def body(self, *chunks: bytes | memoryview, end: bool = False) -> None:
        """
        Deliver a C{BODY} (an C{END} if C{end}) of C{chunks} from the
        handler.
        """
        self.reply(protocol.encodeBody(self.requestId, chunks, end))  # type: ignore[arg-type]

    def fillOnNextWrite(self) -> None:
        """
        Make the next write fill the client's transport: it pauses its
        producer (the connection) as it takes the data, as Twisted's
        transports do once they hold more than their buffer size.
        """
        transport = self.transport

        def writeAndFill(data: bytes) -> None:
            del transport.write  # (The class's, from now on.)
            transport.write(data)
            self.channel.pauseProducing()

        transport.write = writeAndFill  # type: ignore[method-assign]

    def windows(self) -> list[int]:
        """
        The sizes of the C{WINDOW}s sent to the handler so far.
        """
        return [message.size for _peer, message in self.socket.routedMessages()
                if isinstance(message, protocol.Window)]

    def invalidReplies(self, events: list[LogEvent]) -> list[str]:
        """
        Why the dispatcher found replies invalid, in the order it logged
        them to C{events}.
        """
        return [event["why"] for event in events if "invalid reply" in event["log_format"]]

    def test_writtenAtOnce(self) -> None:
        """
        While the transport takes data, each message's chunks are written
        at once, as one write, and counted as written to a ready client:
        granted back to the handler (here at once: they are half its
        window).
        """
        self.streaming(window=8)
        self.body(b"ab", memoryview(b"cd"))
        self.assertEqual(self.transport.writes, [b"abcd"])
        self.assertEqual(self.windows(), [4])

    def test_writeThatPauses(self) -> None:
        """
        A write that fills the transport is counted as written to a client
        that is not ready: nothing is granted for it yet (though it is
        half the window), and it is once the transport has sent it.
        """
        self.streaming(window=200)
        self.fillOnNextWrite()
        self.body(b"x" * 100)
        self.assertEqual(self.transport.writes, [b"x" * 100])
        self.assertTrue(self.channel.transportFull)
        self.assertEqual(self.windows(), [])
        self.channel.resumeProducing()
        self.assertEqual(self.windows(), [100])

    def test_heldWhilePaused(self) -> None:
        """
        Chunks that come while the transport is paused are held, not
        written; when it resumes, what it sent is granted first, then all
        the held chunks go in one write, counted as written to a ready
        client.
        """
        self.streaming(window=200)
        self.fillOnNextWrite()
        self.body(b"x" * 100)
        self.body(b"a" * 25, memoryview(b"b" * 25))
        self.body(b"c" * 50)
        self.assertEqual(self.transport.writes, [b"x" * 100])
        self.assertEqual(self.windows(), [])
        grantedBefore: list[list[int]] = []
        write = self.transport.write

        def recordingWrite(data: bytes) -> None:
            grantedBefore.append(self.windows())
            write(data)

        self.transport.write = recordingWrite  # type: ignore[method-assign]
        self.channel.resumeProducing()
        self.assertEqual(
            self.transport.writes, [b"x" * 100, b"a" * 25 + b"b" * 25 + b"c" * 50]
        )
        self.assertEqual(grantedBefore, [[100]])
        self.assertEqual(self.windows(), [100, 100])

    def test_clientTaking(self) -> None:
        """
        L{Exchange.clientTaking} is L{None} while the transport takes what
        is written (the reply waits for its handler, not its client),
        whatever the connection says of the client's progress; while it is
        full, what the connection says (L{FrontConnection.clientTook}).
        """
        self.unsent = 10 * MIN_PROGRESS
        self.patch(_front, "unsentBytes", lambda transport: self.unsent)
        self.streaming()
        self.assertIsNone(self.exchange.clientTaking())
        self.fillOnNextWrite()
        self.body(b"x" * 100)
        self.unsent -= MIN_PROGRESS
        self.assertIs(self.exchange.clientTaking(), True)
        self.assertIs(self.exchange.clientTaking(), False)
        self.channel.resumeProducing()
        self.unsent -= MIN_PROGRESS
        self.assertIsNone(self.exchange.clientTaking())
        # (The connection would have said it took enough.)
        self.assertIs(self.channel.clientTook(), True)

    def test_moreAfterLength(self) -> None:
        """
        A streamed reply is complete once its C{Content-Length} is written
        (the connection told so, before the C{END}); body that comes after
        is not written, and the reply is found invalid, so that its handler
        stops (C{CANCEL}); its C{END} is then nothing to do: the connection
        is not aborted.  An empty chunk after the end is no body.
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        self.streaming(contentLength=4)
        self.body(b"ab")
        self.assertTrue(self.channel.busy)
        self.body(b"cd")
        self.assertFalse(self.channel.busy)
        self.body(b"")
        self.assertEqual(self.invalidReplies(events), [])
        self.assertEqual(self.cancels(), [])
        self.body(b"ef")
        self.body(end=True)
        self.assertEqual(self.transport.writes, [b"ab", b"cd"])
        self.assertEqual(
            self.invalidReplies(events),
            ["body longer than its Content-Length of 4 bytes: cut"],
        )
        self.assertEqual(self.cancels(), [self.requestId])
        self.assertFalse(self.transport.disconnecting)
        self.assertNoLeak()

    def test_emptyChunksNotHeld(self) -> None:
        """
        Empty chunks that come while the transport is paused are not held:
        they pass the handler's window (they hold no byte), so a handler
        sending C{BODY} after C{BODY} of empty frames to a client that does
        not read would otherwise grow what the front holds without bound.
        """
        self.streaming()
        self.fillOnNextWrite()
        self.body(b"x" * 100)
        for _ in range(1000):
            self.body(b"", memoryview(b""))
        self.body(b"y")
        self.assertEqual(len(self.exchange._held), 1)
        self.channel.resumeProducing()
        self.assertEqual(self.transport.writes, [b"x" * 100, b"y"])

    def test_finishWritesHeld(self) -> None:
        """
        The end of the body writes what is held before finishing the
        response.
        """
        self.streaming()
        self.fillOnNextWrite()
        self.body(b"x" * 100)
        self.body(b"tail")
        self.assertTrue(self.channel.busy)
        self.body(end=True)
        self.assertEqual(self.transport.writes, [b"x" * 100, b"tail"])
        self.assertFalse(self.channel.busy)
        self.assertNoLeak()

    def test_stopDropsHeld(self) -> None:
        """
        When the connection goes (lost, or cut by a stopping front), what
        is held is dropped (nothing refers to its frames any more), nothing
        more is written, and the handler is told to stop; a later resume of
        the transport no longer reaches the exchange.
        """
        for cut in [False, True]:
            self.streaming()
            self.fillOnNextWrite()
            self.body(b"x" * 100)
            self.body(b"held")
            if cut:
                self.channel.cut()
            else:
                self.disconnect(self.channel)
            self.assertEqual(self.exchange._held, [])
            self.assertIsNone(self.channel.exchange)
            self.assertEqual(self.transport.writes, [b"x" * 100])
            self.assertEqual(self.cancels()[-1:], [self.requestId])
        self.assertEqual(len(self.cancels()), 2)
        self.assertNoLeak()

    def test_overrunWhileHeld(self) -> None:
        """
        A body that passes its C{Content-Length} while chunks are held:
        what is held and what still fits are written in order, the reply
        is reported invalid, and the response finished there, the
        connection closed after it.
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        self.streaming(contentLength=115)
        self.fillOnNextWrite()
        self.body(b"x" * 100)
        self.body(b"a" * 10)
        self.body(memoryview(b"b" * 10), b"c")
        self.assertEqual(self.transport.writes, [b"x" * 100, b"a" * 10, b"b" * 5])
        self.assertFalse(self.channel.busy)
        self.assertEqual(
            self.invalidReplies(events),
            ["body longer than its Content-Length of 115 bytes: cut"],
        )
        self.assertEqual(self.cancels(), [self.requestId])
        self.body(b"late")
        self.body(end=True)
        self.assertEqual(self.transport.writes, [b"x" * 100, b"a" * 10, b"b" * 5])
        self.assertClosed(self.transport)


class ClientLogTests(FrontTestCase):
    """
    What the front logs of what its clients do is paced per client
    address and kind of line, as what it logs of its ZeroMQ peers is: a
    client cannot write a line in the front's log for each request it
    sends.
    """

    def test_badBodiesPaced(self) -> None:
        """
        Of a client's bad request bodies (each answered 400, on a new
        connection, and counted), the first L{PEER_LOG_BURST} in
        L{PEER_LOG_INTERVAL} seconds are logged, the rest counted and said
        in one line at the interval's end.  Its other kinds of lines (a
        request head that did not come in time) are counted apart.
        """
        self.site.metrics = FrontMetrics()
        bad = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"
        with capturedLogs() as events:
            slow, _transport = self.connect()
            slow.dataReceived(b"GET / HTTP/1.1\r\n")
            for _ in range(PEER_LOG_BURST + 15):
                _channel, transport = self.sendRequest(bad)
                self.assertEqual(ParsedResponse(transport.value()).code, 400)
            self.clock.advance(PEER_LOG_INTERVAL - 0.5)
            self.assertEqual(len(events), PEER_LOG_BURST)
            self.clock.advance(0.5)
            self.clock.advance(self.rules.headerTimeout - PEER_LOG_INTERVAL)
        lines = [formatEvent(e) for e in events]
        self.assertEqual(
            [line.split(" from ")[0].split(" IPv4")[0] for line in lines],
            ["bad request body"] * PEER_LOG_BURST
            + [
                "... and 15 more bad request bodies",
                "request head not complete within 15.0s: closing",
            ],
        )
        self.assertTrue(
            lines[PEER_LOG_BURST].startswith(
                "... and 15 more bad request bodies from client 192.0.2.5 in the"
                " last 10 s (not logged; the last: bad request body from "
            ),
            lines[PEER_LOG_BURST],
        )
        self.assertEqual(self.site.metrics.statuses, {400: PEER_LOG_BURST + 15, 408: 1})


class NegotiatesOnContextTests(SynchronousTestCase):
    """
    L{negotiatesOnContext} tells the Twisted releases whose TLS asks the
    server's factory for its ALPN protocols at each handshake (26.4 and
    later) from those that set them on the shared context as each
    connection is made.
    """

    def test_releases(self) -> None:
        """
        Twisted 26.4 and later negotiate on the context; earlier releases,
        down to the oldest supported, do not.
        """
        for version in ["26.4.0", "26.4.0rc1", "26.10.0", "27.1.0", "30.0.0"]:
            self.assertTrue(negotiatesOnContext(version), version)
        for version in ["23.10.0", "24.11.0", "25.5.0", "26.3.0"]:
            self.assertFalse(negotiatesOnContext(version), version)


class ProtocolNegotiationTests(FrontTestCase):
    """
    Over TLS (C{--listen ssl:}), the front agrees on HTTP/1.1 with clients
    that offer protocols in ALPN.
    """

    if ssl is None:
        skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    def test_acceptableProtocols(self) -> None:
        """
        L{FrontFactory} names HTTP/1.1 and HTTP/1.0 to TLS
        (L{IProtocolNegotiationFactory}), HTTP/1.1 first: the front speaks
        no other.
        """
        self.assertEqual(self.site.acceptableProtocols(), [b"http/1.1", b"http/1.0"])
        self.assertEqual(
            IProtocolNegotiationFactory.providedBy(self.site),
            negotiatesOnContext(twisted.__version__),
        )

    def test_clientOfferingProtocols(self) -> None:
        """
        A client that offers C{h2} and C{http/1.1} in ALPN, as browsers,
        curl and Python's C{http.client} do, completes its TLS handshake
        with the front on C{http/1.1}, and its request goes to a handler.
        Twisted 26.10's TLS fails such a handshake (an C{internal_error}
        alert) when the server's factory names no protocol.
        """
        self.assertNegotiated([b"h2", b"http/1.1"], b"http/1.1", b"HTTP/1.1")

    def test_clientOfferingHTTP10(self) -> None:
        """
        A client that offers C{http/1.0} alone in ALPN, as C{curl
        --http1.0} does, completes its TLS handshake with the front on
        C{http/1.0}, and its HTTP/1.0 request goes to a handler.  Twisted
        26.10's TLS fails the handshake of a client that offers none of
        the protocols the server's factory names (an C{internal_error}
        alert), as it did while the front named C{http/1.1} alone.
        """
        self.assertNegotiated([b"http/1.0"], b"http/1.0", b"HTTP/1.0")

    def assertNegotiated(
        self, offered: list[bytes], negotiated: bytes, version: bytes
    ) -> None:
        """
        Connect a TLS client that offers C{offered} in ALPN to the front
        over memory, send a request with C{version}, and check that the
        handshake agreed on C{negotiated} (or on nothing, before Twisted
        26.4: L{negotiatesOnContext}) and that the request went to a
        handler.
        """
        certificate, key = selfSignedCertificate("localhost")
        server = TLSMemoryBIOFactory(
            ssl.PrivateCertificate.loadPEM(key + certificate).options(),
            False,
            self.site,
            self.clock,
        )
        client = tlsClientFactory(
            certificate, offered, self.clock, ClientFactory.forProtocol(Protocol)
        )
        clientProtocol, _, pump = connectedServerAndClient(
            lambda: server.buildProtocol(self.clientAddress),
            lambda: client.buildProtocol(self.serverAddress),
            clock=self.clock,
        )
        clientProtocol.write(b"GET /path " + version + b"\r\nHost: localhost\r\n\r\n")
        pump.flush()
        # Before Twisted 26.4 the front names no protocol (negotiatesOnContext)
        # and the client goes on without ALPN all the same.
        expected = negotiated if negotiatesOnContext(twisted.__version__) else None
        self.assertEqual(clientProtocol.negotiatedProtocol, expected)
        self.assertEqual(
            [(request.head.target, request.head.version) for request in self.requestsSent()],
            [("/path", version.decode("ascii"))],
        )
