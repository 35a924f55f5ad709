# -*- test-case-name: txmp.test.test_requestframing -*-
"""
Tests for the request framing of L{txmp._front.FrontConnection} and
L{txmp._http} (RFC 9112 sections 3.2, 6 and 7.1): C{Transfer-Encoding}
judged on the whole head, chunked bodies decoded strictly, C{Host} and an
absolute-form authority; the lingering close after a refusal or an early
response; and the request-body deadline.  Driven by
L{txmp.testing.FrontTestCase}: a real L{Dispatcher} on a L{MemorySocket}, a
L{Clock}, raw bytes over a L{StringTransport}.
"""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from txmp import protocol
from txmp._defaults import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_LINGER_BYTES,
    DEFAULT_LINGER_TIME,
    DEFAULT_LINGER_TIMEOUT,
    DEFAULT_TIMEOUT,
    MAX_CHUNK_LINE,
    SMALL_BODY,
)
from txmp._front import FrontConnection
from txmp._frontservice import httpRules
from txmp._http import (
    ChunkedDecoder,
    FramingError,
    HTTPRules,
    RequestHead,
    checkHost,
    targetAuthority,
)
from txmp.fronttap import Options
from txmp.testing import FrontTestCase, ParsedResponse, httpHead

CHUNKED = b"Transfer-Encoding: chunked"


def post(*fields: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    """
    The head of a C{POST} with C{Host: h} and C{fields}.
    """
    return httpHead(*fields, line=b"POST /up " + version)


# The first chunk of a body larger than a small one: a request with it is
# streamed to its handler at once (what a small body is not).
BIG_DATA = b"z" * (SMALL_BODY + 1)
BIG = b"%x\r\n" % (len(BIG_DATA),) + BIG_DATA + b"\r\n"


class FramingTestCase(FrontTestCase):
    """
    Helpers for requests whose body is refused after the request went to
    the handler.
    """

    def assertBodyRefused(self, channel: FrontConnection, transport: StringTransport,
                          status: int) -> ParsedResponse:
        """
        Assert that the request sent on C{channel} got C{status} with
        C{Connection: close}, nothing else, that its handler got C{CANCEL},
        that nothing is left pending, and that the connection closes.
        """
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, status, transport.value())
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertTrue(response.complete)
        self.assertEqual(transport.value().count(b"HTTP/1.1 "), 1, transport.value())
        self.assertEqual(self.cancels(), [r.requestId for r in self.requestsSent()])
        self.assertNoLeak()
        self.assertClosed(transport)
        return response

    def chunked(self, body: bytes) -> tuple[FrontConnection, StringTransport]:
        """
        Send a chunked C{POST} with C{body} (already chunked).
        """
        return self.sendRequest(post(CHUNKED) + body)

    def received(self) -> tuple[bytes, bool]:
        """
        The body the handler of the last request sent got, whole with its
        C{REQ} or streamed after it, and whether it ended.
        """
        request = self.requestsSent()[-1]
        streamed, ended = self.streamedBody(request.requestId)
        return b"".join(request.body) + streamed, ended or not request.head.more


class TransferEncodingTests(FramingTestCase):
    """
    C{Transfer-Encoding} is one list over all its field lines, which must
    end in C{chunked}, on HTTP/1.1 only (RFC 9112 section 6.1); anything
    else is refused before any handler sees the request.
    """

    def test_identityAlone(self) -> None:
        """
        C{Transfer-Encoding: identity} is refused with 400: the bytes after
        the head, which Twisted would take for a next request, never reach
        a handler.
        """
        self.assertRefused(
            post(b"Transfer-Encoding: identity") + httpHead(line=b"GET /smuggled HTTP/1.1"), 400
        )

    def test_notEndingInChunked(self) -> None:
        """
        A list that does not end in C{chunked}, or names it twice, is
        refused with 400.
        """
        for value in [b"chunked, identity", b"gzip", b"chunked, chunked", b"", b" , "]:
            self.assertRefused(post(b"Transfer-Encoding: " + value) + b"0\r\n\r\n", 400)

    def test_severalLines(self) -> None:
        """
        C{chunked} then C{identity} on two field lines is refused with 400,
        as on one line.
        """
        self.assertRefused(
            post(CHUNKED, b"Transfer-Encoding: identity") + b"0\r\n\r\n", 400
        )

    def test_chunkedTwiceOnSeveralLines(self) -> None:
        """
        C{chunked} on two field lines is refused with 400.
        """
        self.assertRefused(post(CHUNKED, CHUNKED) + b"0\r\n\r\n", 400)

    def test_otherCoding(self) -> None:
        """
        A coding the front does not decode before C{chunked}, on one line
        or two, is refused with 501 (RFC 9112 section 6.1).
        """
        self.assertRefused(post(b"Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n", 501)
        self.assertRefused(
            post(b"Transfer-Encoding: gzip", CHUNKED) + b"0\r\n\r\n", 501
        )

    def test_http10(self) -> None:
        """
        C{Transfer-Encoding} on an HTTP/1.0 request is refused with 400.
        """
        self.assertRefused(post(CHUNKED, version=b"HTTP/1.0") + b"0\r\n\r\n", 400)

    def test_listForms(self) -> None:
        """
        Any case, whitespace and empty list elements are allowed around
        C{chunked}.
        """
        for value in [b"Chunked", b", chunked", b"chunked ,", b"CHUNKED"]:
            _channel, transport = self.sendRequest(
                post(b"Transfer-Encoding: " + value) + b"3\r\nabc\r\n0\r\n\r\n"
            )
            self.assertEqual(self.received(), (b"abc", True), value)
            self.assertEqual(transport.value(), b"")


class ChunkedBodyTests(FramingTestCase):
    """
    Chunked bodies are decoded strictly (RFC 9112 section 7.1): a body that
    breaks the framing is refused and its request cancelled.
    """

    def test_chunkSizeDigits(self) -> None:
        """
        A chunk size of 16 hex digits is read; of 17 or more it is refused
        with 400 (even with leading zeros).
        """
        channel, transport = self.chunked(b"0000000000000003\r\nabc\r\n0\r\n\r\n")
        requestId = self.requestsSent()[-1].requestId
        self.assertEqual(self.received(), (b"abc", True))
        self.respond(requestId, body=[b"ok"])
        self.socket.clear()
        channel, transport = self.chunked(b"00000000000000003\r\nabc\r\n0\r\n\r\n")
        self.assertBodyRefused(channel, transport, 400)

    def test_hugeChunkSize(self) -> None:
        """
        A chunk size of 2^68 is refused with 400 at once, not waited for.
        """
        channel, transport = self.chunked(b"100000000000000000\r\n")
        self.assertBodyRefused(channel, transport, 400)

    def test_chunkSizeOverLimit(self) -> None:
        """
        A chunk size that takes the body over C{maxBody} is refused with
        413 as soon as the size line comes, before its data.
        """
        self.site.maxBody = 100
        channel, transport = self.chunked(b"65\r\n")
        self.assertBodyRefused(channel, transport, 413)

    def test_chunkSizesAddUp(self) -> None:
        """
        The limit is on the sum of the sizes: the size that passes it is
        refused with 413, and its data is never forwarded; in a small body,
        before any handler sees the request.
        """
        self.site.maxBody = 100
        channel, transport = self.chunked(b"32\r\n" + b"a" * 50 + b"\r\n33\r\n" + b"b" * 51)
        self.assertBodyRefused(channel, transport, 413)
        self.assertEqual(self.requestsSent(), [])
        self.socket.clear()
        self.site.maxBody = len(BIG_DATA) + 100
        channel, transport = self.chunked(BIG + b"32\r\n" + b"a" * 50 + b"\r\n33\r\n" + b"b" * 51)
        self.assertEqual(self.received(), (BIG_DATA + b"a" * 50, False))
        self.assertBodyRefused(channel, transport, 413)

    def test_malformedSizeLine(self) -> None:
        """
        A chunk-size line that is not hex digits and well-formed extensions
        is refused with 400.
        """
        for line in [b"x", b"+5", b"-5", b"5 ", b" 5", b"0x5", b"5;", b"5;a=\"b",
                     b"5;a b", b"", b"5\x00"]:
            self.socket.clear()
            channel, transport = self.chunked(line + b"\r\nhello\r\n0\r\n\r\n")
            self.assertBodyRefused(channel, transport, 400)

    def test_extensions(self) -> None:
        """
        Chunk extensions, with or without values, tokens or quoted strings,
        are allowed and ignored.
        """
        _channel, transport = self.chunked(
            b"5;a\r\nhello\r\n1 ; b = c ;d=\"x \\\" y\"\r\n!\r\n0;e\r\n\r\n"
        )
        self.assertEqual(self.received(), (b"hello!", True))
        self.assertEqual(transport.value(), b"")

    def test_bareLineFeed(self) -> None:
        """
        A line of the chunked framing ended by LF alone is refused with 400.
        """
        channel, transport = self.chunked(b"5\nhello\r\n0\r\n\r\n")
        self.assertBodyRefused(channel, transport, 400)

    def test_dataNotFollowedByCRLF(self) -> None:
        """
        Chunk data longer than its size is refused with 400.
        """
        channel, transport = self.chunked(b"5\r\nhelloX\r\n0\r\n\r\n")
        self.assertBodyRefused(channel, transport, 400)

    def test_longSizeLine(self) -> None:
        """
        A chunk-size line longer than 1024 bytes is refused with 400, even
        before it ends.
        """
        channel, transport = self.chunked(b"5;a=" + b"b" * 1100)
        self.assertBodyRefused(channel, transport, 400)

    def test_sizeLineAtLimit(self) -> None:
        """
        A chunk-size line of exactly 1024 bytes (C{MAX_CHUNK_LINE}, its
        CRLF not counted) is accepted however it is split: also when a read
        ends between its CR and its LF, where the CR is not yet known to
        end it, and must not be counted in it.
        """
        line = b"1;a=" + b"b" * (MAX_CHUNK_LINE - 4)
        self.assertEqual(len(line), MAX_CHUNK_LINE)
        rest = b"\r\nx\r\n0\r\n\r\n"
        for split in [len(line), len(line) + 1]:
            self.socket.clear()
            channel, transport = self.sendRequest(post(CHUNKED))
            data = line + rest
            channel.dataReceived(data[:split])
            channel.dataReceived(data[split:])
            self.assertEqual((split, transport.value()), (split, b""))
            self.assertEqual(self.received(), (b"x", True))
            self.disconnect(channel)

    def test_trailers(self) -> None:
        """
        Trailer fields are read, checked and dropped; a request pipelined
        after them is served next.
        """
        _channel, _transport = self.chunked(
            b"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"
            + httpHead(line=b"GET /next HTTP/1.1")
        )
        first = self.requestsSent()[-1]
        self.assertEqual(self.received(), (b"abc", True))
        self.assertNotIn(("X-Checksum", "1"), first.head.headers)
        self.respond(first.requestId, body=[b"ok"])
        self.assertEqual([r.head.target for r in self.requestsSent()], ["/up", "/next"])

    def test_missingFinalCRLF(self) -> None:
        """
        Without the empty line that ends the trailer section, a pipelined
        request is not taken for trailers: its request line is not a field
        line, and is refused with 400, before any handler sees either.
        """
        channel, transport = self.chunked(
            b"3\r\nabc\r\n0\r\n" + httpHead(line=b"GET /next HTTP/1.1")
        )
        self.assertBodyRefused(channel, transport, 400)
        self.assertEqual(self.requestsSent(), [])

    def test_badTrailers(self) -> None:
        """
        Trailer lines follow the rules of head field lines: NUL or another
        control character, obs-fold, a space before the colon, or no colon
        get 400.
        """
        for line in [b"X: a\x00b", b"X: a\x01b", b" folded", b"X : 1", b"no colon"]:
            self.socket.clear()
            channel, transport = self.chunked(b"0\r\nX-A: 1\r\n" + line + b"\r\n\r\n")
            self.assertBodyRefused(channel, transport, 400)

    def test_trailerLimits(self) -> None:
        """
        Trailers are held to the head's field count and size limits: more
        get 431.
        """
        rules = self.site.httpRules
        fields = b"".join(b"X-%d: 1\r\n" % i for i in range(rules.maxHeaders + 1))
        channel, transport = self.chunked(b"0\r\n" + fields + b"\r\n")
        self.assertBodyRefused(channel, transport, 431)
        self.socket.clear()
        channel, transport = self.chunked(b"0\r\nX: " + b"v" * rules.maxHeaderBytes)
        self.assertBodyRefused(channel, transport, 431)

    def test_byteByByte(self) -> None:
        """
        A chunked body that arrives a byte at a time is decoded the same.
        """
        channel, transport = self.sendRequest(post(CHUNKED))
        for byte in b"5;x=y\r\nhello\r\na\r\n0123456789\r\n0\r\nT: 1\r\n\r\n":
            channel.dataReceived(bytes([byte]))
        self.assertEqual(self.received(), (b"hello0123456789", True))
        self.assertEqual(transport.value(), b"")


class HostTests(FrontTestCase):
    """
    C{Host} must be a valid C{uri-host [":" port]} (RFC 9110 section 7.2);
    an absolute-form target's authority replaces it (RFC 9112 section
    3.2.2).
    """

    def test_invalidHost(self) -> None:
        """
        A C{Host} with whitespace, a path, userinfo, a bad port or a bad
        IP literal is refused with 400.
        """
        for value in [b"a b", b"evil.com/x@y", b"user@h", b"h:x", b"h:80:80", b"[::1",
                      b"h\\x", b"h?x", b"h#x", b"%zz"]:
            self.assertRefused(
                b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n", 400
            )

    def test_validHost(self) -> None:
        """
        Names, IPv4 and IPv6 addresses, with or without a port, are
        accepted and give C{server_name}.
        """
        self.hello(10)
        for value, name in [(b"example.com", "example.com"), (b"Ex-1.org:8080", "Ex-1.org"),
                            (b"192.0.2.1:80", "192.0.2.1"), (b"[2001:db8::1]:80", "2001:db8::1"),
                            (b"h:", "h"), (b"a%41b", "a%41b")]:
            self.socket.clear()
            self.sendRequest(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n")
            self.assertEqual(self.lastRequest().head.serverName, name, value)

    def test_emptyHost(self) -> None:
        """
        An empty C{Host} is allowed, and C{server_name} is then the
        server's address.
        """
        self.sendRequest(b"GET / HTTP/1.1\r\nHost:\r\n\r\n")
        self.assertEqual(self.lastRequest().head.serverName, "10.0.0.1")

    def test_absoluteForm(self) -> None:
        """
        For an absolute-form target, C{server_name} and the C{Host} pair
        come from the target's authority, whatever C{Host} says.
        """
        self.sendRequest(
            b"GET http://example.org:8081/p?q HTTP/1.1\r\nHost: evil.com\r\nX: 1\r\n\r\n"
        )
        head = self.lastRequest().head
        self.assertEqual(head.serverName, "example.org")
        self.assertEqual(head.headers, [("Host", "example.org:8081"), ("X", "1"),
                                        ("X-Request-Id", "front1.1")])
        self.assertEqual(head.target, "http://example.org:8081/p?q")

    def test_absoluteFormHTTP10(self) -> None:
        """
        An HTTP/1.0 request in absolute-form without C{Host} gets the
        target's authority as its C{Host} pair.
        """
        self.sendRequest(b"GET http://example.org HTTP/1.0\r\n\r\n")
        head = self.lastRequest().head
        self.assertEqual(head.serverName, "example.org")
        self.assertEqual(head.headers, [("Host", "example.org"),
                                        ("X-Request-Id", "front1.1")])

    def test_badAuthority(self) -> None:
        """
        An absolute-form target with userinfo, no host or a bad port is
        refused with 400.
        """
        for target in [b"http://user@h/", b"http:///p", b"http://h:x/", b"http://evil.com@h/"]:
            self.assertRefused(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n", 400)


class DefaultLingerTests(FrontTestCase):
    """
    The lingering close at mpfront's defaults (L{DEFAULT_LINGER_TIME},
    L{DEFAULT_LINGER_TIMEOUT}, L{DEFAULT_LINGER_BYTES}): L{LingerTests}
    checks each bound with small ones.
    """

    def refused(self) -> tuple[FrontConnection, StringTransport]:
        """
        A connection whose request was refused (400): it lingers.
        """
        channel, transport = self.sendRequest(httpHead(b"X : 1"))
        self.assertEqual(ParsedResponse(transport.value()).code, 400)
        self.assertTrue(channel.lingering)
        return channel, transport

    def test_timeout(self) -> None:
        """
        A silent client is closed L{DEFAULT_LINGER_TIMEOUT} (5) seconds
        after the refusal, not before.
        """
        _channel, transport = self.refused()
        self.clock.advance(DEFAULT_LINGER_TIMEOUT - 0.1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)

    def test_time(self) -> None:
        """
        A client that keeps sending is read for L{DEFAULT_LINGER_TIME} (30)
        seconds, then closed.
        """
        channel, transport = self.refused()
        step = DEFAULT_LINGER_TIMEOUT / 2
        while self.clock.seconds() + step < DEFAULT_LINGER_TIME:
            self.clock.advance(step)
            channel.dataReceived(b"x")
        self.assertFalse(transport.disconnecting)
        self.clock.advance(DEFAULT_LINGER_TIME - self.clock.seconds())
        self.assertTrue(transport.disconnecting)

    def test_bytes(self) -> None:
        """
        L{DEFAULT_LINGER_BYTES} (16 MiB) after the refusal are read and
        discarded; one more closes the connection.
        """
        channel, transport = self.refused()
        response = transport.value()
        channel.dataReceived(b"x" * DEFAULT_LINGER_BYTES)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"x")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), response)


class LingerTests(FramingTestCase):
    """
    After a refusal, or a response sent while the request body is still
    coming, the front reads and discards what the client sends (never as
    a request) and closes within the site's linger bounds: small ones
    here (1000 bytes instead of 16 MiB), and times unlike the defaults, so
    that a test crosses each bound and tells which one closed.
    """

    rules = HTTPRules(lingerTime=20.0, lingerTimeout=3.0, lingerBytes=1000)

    def test_discardedNotParsed(self) -> None:
        """
        What comes after a refusal is discarded: a request in it never
        reaches a handler nor gets an answer, and it keeps the connection
        open no more than C{lingerTimeout} after its last byte.
        """
        channel, transport = self.sendRequest(httpHead(b"X : 1"))
        self.assertEqual(ParsedResponse(transport.value()).code, 400)
        self.assertTrue(channel.lingering)
        response = transport.value()
        self.clock.advance(2.0)
        channel.dataReceived(httpHead(line=b"GET /after HTTP/1.1"))
        self.clock.advance(2.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), response)
        self.assertEqual(self.requestsSent(), [])

    def test_drainLetsLingerEnd(self) -> None:
        """
        A stopping front (L{FrontFactory.drain}) lets a lingering close run
        to its end instead of closing at once: closed with what the client
        sent unread, the socket would be reset under the end of the
        answer.  The drain is over once the connection is gone.
        """
        channel, transport = self.sendRequest(httpHead(b"X : 1"))
        self.assertTrue(channel.lingering)
        drained = self.site.drain()
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"more")
        self.clock.advance(2.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(drained)
        self.disconnect(channel)
        self.successResultOf(drained)

    def test_lingerTime(self) -> None:
        """
        A client that keeps sending is read for C{lingerTime} at most.
        """
        channel, transport = self.sendRequest(httpHead(b"X : 1"))
        for _i in range(19):
            self.clock.advance(1.0)
            channel.dataReceived(b"x")
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1.0)
        self.assertTrue(transport.disconnecting)

    def test_lingerBytes(self) -> None:
        """
        More than C{lingerBytes} after the refusal close the connection at
        once.
        """
        channel, transport = self.sendRequest(httpHead(b"X : 1"))
        channel.dataReceived(b"x" * 1000)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"x")
        self.assertTrue(transport.disconnecting)

    def test_declaredBodyRead(self) -> None:
        """
        After a refusal of a request whose C{Content-Length} declares a body
        (413 over C{maxBody}), the whole declared body is read and
        discarded, and C{lingerBytes} more, before the connection closes:
        a client that writes its whole body before it reads the answer
        (C{http.client}, C{urllib.request}, wget) gets the 413, not a
        reset under a body larger than C{lingerBytes}.
        """
        self.site.maxBody = 100
        channel, transport = self.sendRequest(post(b"Content-Length: 5000") + b"x" * 10)
        response = transport.value()
        self.assertEqual(ParsedResponse(response).code, 413)
        channel.dataReceived(b"x" * 4990)
        channel.dataReceived(b"y" * 1000)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"y")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), response)

    def test_earlyResponseDeclaredBody(self) -> None:
        """
        After a response sent while a body of declared length is still
        coming, the rest of that body is read and discarded, and
        C{lingerBytes} more, before the connection closes.
        """
        size = SMALL_BODY + 5000
        channel, transport = self.sendRequest(post(b"Content-Length: %d" % (size,)) + b"a" * 100)
        requestId = self.requestsSent()[-1].requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"no"])
        self.assertTrue(channel.lingering)
        channel.dataReceived(b"a" * (size - 100))
        channel.dataReceived(b"b" * 1000)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"b")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value().count(b"HTTP/1.1 "), 1)

    def test_earlyResponseChunkedBody(self) -> None:
        """
        After a response sent while a chunked body is still coming, the
        rest of that body is decoded and discarded to its last chunk, and
        C{lingerBytes} more are read after it before the connection
        closes.
        """
        channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[-1].requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"no"])
        self.assertTrue(channel.lingering)
        for _i in range(3):
            channel.dataReceived(b"320\r\n" + b"c" * 800 + b"\r\n")
        channel.dataReceived(b"0\r\n\r\n" + b"d" * 1000)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"d")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value().count(b"HTTP/1.1 "), 1)
        self.assertEqual(len(self.requestsSent()), 1)

    def test_earlyResponseChunkedBroken(self) -> None:
        """
        A chunked body that breaks its framing while the connection
        lingers after an early response closes it at once.
        """
        channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[-1].requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"no"])
        channel.dataReceived(b"not a chunk size\r\n")
        self.assertTrue(transport.disconnecting)

    def test_readingResumed(self) -> None:
        """
        A connection whose reading was paused (the handler's window used
        up) is read again while it lingers.
        """
        self.control(
            protocol.encodeHello("a", 1, {"window": "10"})
        )
        self.site.maxBody = len(BIG_DATA) + 100
        channel, transport = self.chunked(BIG)
        self.assertEqual(transport.producerState, "paused")
        channel.dataReceived(b"65\r\n")
        self.assertEqual(ParsedResponse(transport.value()).code, 413)
        self.assertEqual(transport.producerState, "producing")

    def test_timersStopOnDisconnect(self) -> None:
        """
        When the client closes during the lingering close, no timer is
        left.
        """
        channel, _transport = self.sendRequest(httpHead(b"X : 1"))
        self.disconnect(channel)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_chunkedTooLarge(self) -> None:
        """
        A chunked body passing C{maxBody} gets one 413 with
        C{Connection: close}, its handler C{CANCEL}; the rest of the body,
        still coming, is discarded: no other response, no error.
        """
        self.site.maxBody = len(BIG_DATA) + 100
        channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[-1].requestId
        channel.dataReceived(b"40\r\n" + b"b" * 64 + b"\r\n")
        for _i in range(5):
            channel.dataReceived(b"40\r\n" + b"c" * 64 + b"\r\n")
        channel.dataReceived(b"0\r\n\r\n" + httpHead(line=b"GET /after HTTP/1.1"))
        self.assertBodyRefused(channel, transport, 413)
        self.assertEqual(self.cancels(), [requestId])

    def test_earlyResponse(self) -> None:
        """
        A response sent while the body is still coming has
        C{Connection: close}; the rest of the body is discarded, never
        read as a request, and the connection closes when the client stops.
        """
        channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[-1].requestId
        self.respond(requestId, headers=[(b"Content-Length", b"2")], body=[b"no"])
        response = ParsedResponse(transport.value())
        self.assertEqual((response.code, response.body), (200, b"no"))
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"xyz\r\n" + httpHead(line=b"GET /after HTTP/1.1"))
        self.assertEqual(transport.value().count(b"HTTP/1.1 "), 1)
        self.assertEqual(len(self.requestsSent()), 1)
        self.assertNoLeak()
        self.assertClosed(transport)

    def test_finishedBeforeBody(self) -> None:
        """
        A request finished while its body is still coming, even by a
        response that did not say C{Connection: close}, ends the connection
        in a lingering close: the rest of the body is never read as a next
        request.
        """
        channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[0].requestId
        self.reply(
            protocol.encodeResponse(requestId, 200, b"OK", [], [b"early"], False)
        )
        self.assertTrue(channel.lingering)
        channel.dataReceived(b"0\r\n\r\n" + httpHead(line=b"GET /after HTTP/1.1"))
        self.assertEqual(len(self.requestsSent()), 1)
        self.assertEqual(transport.value().count(b"HTTP/1.1 "), 1)

    def test_completeRequestNotLingering(self) -> None:
        """
        A connection closed after a complete request (C{Connection: close})
        is closed at once.
        """
        _channel, transport = self.sendRequest(httpHead(b"Connection: close"))
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.assertTrue(transport.disconnecting)


class BodyTimeoutTests(FramingTestCase):
    """
    A request body has C{bodyTimeout} seconds of reading time: a trickle
    does not extend it; time the front does not read (waiting for a
    handler or its window) does not count.  Ten seconds here (60 by
    default, see L{test_default}): the tests' clock steps are counted in
    it.
    """

    def setUp(self) -> None:
        self.rules = HTTPRules(bodyTimeout=10.0)
        FramingTestCase.setUp(self)

    def test_default(self) -> None:
        """
        The default is 60 seconds.
        """
        self.assertEqual((HTTPRules().bodyTimeout, DEFAULT_BODY_TIMEOUT), (60.0, 60.0))

    def test_trickle(self) -> None:
        """
        A chunked body trickled a byte a second gets 408 C{bodyTimeout}
        seconds after reading started, however recently its last byte
        came; its handler gets C{CANCEL}.
        """
        channel, transport = self.chunked(b"")
        for byte in b"ff\r\n" + b"x" * 5:
            self.clock.advance(1.0)
            channel.dataReceived(bytes([byte]))
        self.assertEqual(self.clock.seconds(), 9.0)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.9)
        channel.dataReceived(b"x")
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertBodyRefused(channel, transport, 408)

    def test_smallBody(self) -> None:
        """
        A body with a small C{Content-Length}, read before the request is
        dispatched, has the same deadline: 408, and no handler sees it.
        """
        _channel, transport = self.sendRequest(post(b"Content-Length: 10") + b"abc")
        self.clock.advance(9.9)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertRefusedOn(transport, 408)

    def test_completeBody(self) -> None:
        """
        A body complete in time leaves no deadline behind.
        """
        channel, transport = self.chunked(b"3\r\nabc\r\n")
        self.clock.advance(9.0)
        channel.dataReceived(b"0\r\n\r\n")
        self.clock.advance(20.0)
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.cancels(), [])

    def test_queuedNotCounted(self) -> None:
        """
        The time a request waits for a handler, unread, is not counted.
        """
        self.hello(0)
        channel, transport = self.chunked(BIG)
        self.clock.advance(9.5)
        self.control(protocol.encodeCredit(1))
        self.clock.advance(9.5)
        channel.dataReceived(b"0\r\n\r\n")
        self.assertEqual(self.received(), (BIG_DATA, True))
        self.assertEqual(transport.value(), b"")

    def test_windowWaitNotCounted(self) -> None:
        """
        The time the front waits for the handler's window is not counted;
        the reading time before and after it is.
        """
        self.control(
            protocol.encodeHello("a", 1, {"window": "10"})
        )
        channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[-1].requestId
        self.assertEqual(transport.producerState, "paused")
        self.control(
            protocol.encodeWindow(requestId, len(BIG_DATA))
        )
        self.clock.advance(6.0)
        channel.dataReceived(b"a\r\n0123456789\r\n")
        self.assertEqual(transport.producerState, "paused")
        self.clock.advance(20.0)
        self.control(protocol.encodeWindow(requestId, 10))
        self.clock.advance(3.9)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertBodyRefused(channel, transport, 408)

    def test_afterResponseStarted(self) -> None:
        """
        If the response has started, the deadline aborts the connection
        (a truncated response must not look complete) and cancels the
        request.
        """
        _channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[-1].requestId
        self.respond(requestId, body=[b"partial"], more=True)
        self.assertIn(b"partial", transport.value())
        self.clock.advance(10.0)
        self.assertTrue(transport.disconnected)
        self.assertNotIn(b"408", transport.value())
        self.assertEqual(self.cancels(), [requestId])

    def test_option(self) -> None:
        """
        C{--body-timeout} sets the rule.
        """
        options = Options()
        options.parseOptions(["--body-timeout", "7.5"])
        self.assertEqual(httpRules(options.settings()).bodyTimeout, 7.5)


class StalledBodyTests(FramingTestCase):
    """
    A client that stops sending a streamed request body is answered 408 at
    its body timeout: the reply timeout (C{--timeout}, the handler's)
    does not run while the front waits for the client's body, only while
    it waits for the handler (its reply, or its window).  mpfront's
    defaults: 30 seconds for a reply, 60 for a body.
    """

    def test_stalledBodyNotGatewayTimeout(self) -> None:
        """
        A body the client stops sending gets 408 C{bodyTimeout} seconds
        after reading began, not 504 at the reply timeout: the handler,
        waiting for the body, is not late.
        """
        self.assertEqual(
            (self.dispatcher.timeout, self.rules.bodyTimeout),
            (DEFAULT_TIMEOUT, DEFAULT_BODY_TIMEOUT),
        )
        channel, transport = self.chunked(BIG)
        self.clock.advance(DEFAULT_BODY_TIMEOUT - 0.1)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertBodyRefused(channel, transport, 408)
        self.assertEqual(self.dispatcher.stats["status504"], 0)

    def test_timeoutAfterBodyEnds(self) -> None:
        """
        Once the body is whole, the handler has the reply timeout, counted
        from its end, to answer: 504 after it.
        """
        channel, transport = self.chunked(BIG)
        self.clock.advance(50.0)
        channel.dataReceived(b"0\r\n\r\n")
        self.assertEqual(self.received(), (BIG_DATA, True))
        self.clock.advance(DEFAULT_TIMEOUT - 0.1)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertEqual(ParsedResponse(transport.value()).code, 504)
        self.assertEqual(self.cancels(), [self.requestsSent()[0].requestId])
        self.assertNoLeak()

    def test_timeoutWhileWindowClosed(self) -> None:
        """
        While the handler's window is used up the front waits for the
        handler, not for the client: the reply timeout runs, and a handler
        that grants no more window gets the request cancelled, with 504.
        """
        self.control(protocol.encodeHello("a", 1, {"window": "10"}))
        _channel, transport = self.chunked(BIG)
        self.assertEqual(transport.producerState, "paused")
        self.clock.advance(DEFAULT_TIMEOUT - 0.1)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertEqual(ParsedResponse(transport.value()).code, 504)
        self.assertNoLeak()

    def test_timeoutRestartsWhenReadingStops(self) -> None:
        """
        The reply timeout starts again, whole, when the front stops
        reading the body for the handler's window: time spent waiting for
        the client before is not counted against the handler.
        """
        self.control(protocol.encodeHello("a", 1, {"window": "%d" % (len(BIG_DATA) + 10)}))
        channel, transport = self.chunked(BIG)
        self.assertEqual(transport.producerState, "producing")
        self.clock.advance(40.0)
        channel.dataReceived(b"a\r\n0123456789\r\n")
        self.assertEqual(transport.producerState, "paused")
        self.clock.advance(DEFAULT_TIMEOUT - 0.1)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertEqual(ParsedResponse(transport.value()).code, 504)


    def test_replyWhileReadingStartsNoTimeout(self) -> None:
        """
        A reply that begins while the front reads the body (its head, then
        body: an application that answers before it has read all) does
        not start the reply timeout: the client, not the handler, is
        waited for.  A client that then stops sending is cut at its body
        timeout, not at the reply timeout as a 504.
        """
        _channel, transport = self.chunked(BIG)
        requestId = self.requestsSent()[0].requestId
        self.respond(requestId, body=[b"early"], more=True)
        self.reply(protocol.encodeBody(requestId, [b" answer"], False))
        self.assertEqual(ParsedResponse(transport.value()).body, b"early answer")
        self.clock.advance(DEFAULT_TIMEOUT)
        self.assertFalse(transport.disconnecting)
        self.assertEqual((self.dispatcher.stats["status504"], self.cancels()), (0, []))
        self.clock.advance(DEFAULT_BODY_TIMEOUT - DEFAULT_TIMEOUT)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.cancels(), [requestId])
        self.assertEqual(self.dispatcher.stats["status504"], 0)

class PureFramingTests(SynchronousTestCase):
    """
    The framing functions and classes of L{txmp._http} on their own.
    """

    def decode(self, pieces: list[bytes], maxBody: int = 1000) -> tuple[bytes, list[bytes]]:
        """
        Feed C{pieces} to a L{ChunkedDecoder}: the body, and what came after
        it (one item, if it ended).
        """
        body: list[bytes] = []
        after: list[bytes] = []
        decoder = ChunkedDecoder(body.append, after.append, maxBody, HTTPRules())
        for piece in pieces:
            decoder.dataReceived(piece)
        return b"".join(body), after

    def test_decoder(self) -> None:
        """
        L{ChunkedDecoder} delivers the data, however it is split, then the
        bytes after the body.
        """
        data = b"3\r\nabc\r\nA;x\r\n0123456789\r\n0\r\nT: 1\r\n\r\n"
        for split in range(len(data)):
            self.assertEqual(
                self.decode([data[:split], data[split:] + b"NEXT"]),
                (b"abc0123456789", [b"NEXT"]),
            )

    def test_decoderWholeChunkNotCopied(self) -> None:
        """
        Chunk data that is a whole piece is delivered as it came.
        """
        pieces: list[bytes] = []
        decoder = ChunkedDecoder(pieces.append, lambda rest: None, 1 << 20, HTTPRules())
        decoder.dataReceived(b"10000\r\n")
        data = b"x" * 65536
        decoder.dataReceived(data)
        self.assertIs(pieces[0], data)

    def test_decoderOneCallPerRead(self) -> None:
        """
        L{ChunkedDecoder} delivers the data of all the chunks one
        C{dataReceived} holds in one call: a body of 1-byte chunks costs
        one delivery (one C{BODY} message, at the front) per read from the
        client, not one per byte.
        """
        pieces: list[bytes] = []
        after: list[bytes] = []
        decoder = ChunkedDecoder(pieces.append, after.append, 1 << 20, HTTPRules())
        decoder.dataReceived(b"1\r\na\r\n" * 1000 + b"1;ext=" + b"e" * 1000 + b"\r\nb\r\n")
        self.assertEqual(pieces, [b"a" * 1000 + b"b"])
        decoder.dataReceived(b"2\r\ncd\r\n1\r\ne\r\n0\r\n\r\nNEXT")
        self.assertEqual(pieces, [b"a" * 1000 + b"b", b"cde"])
        self.assertEqual(after, [b"NEXT"])

    def test_decoderErrors(self) -> None:
        """
        L{ChunkedDecoder} raises L{FramingError} with the status.
        """
        for data, status in [(b"11\r\n", 413), (b"g\r\n", 400),
                             (b"0\r\nA\x00: 1\r\n", 400)]:
            error = self.assertRaises(FramingError, self.decode, [data], 16)
            self.assertEqual(error.status, status)

    def test_requestHeadFraming(self) -> None:
        """
        L{RequestHead} works out C{chunked} and the authority.
        """
        checker = RequestHead(HTTPRules())
        self.assertIsNone(checker.requestLine(b"POST http://a.example:1/x HTTP/1.1"))
        self.assertEqual(checker.authority, b"a.example:1")
        self.assertEqual(checker.fieldLine(b"Host: b"), (None, True))
        self.assertEqual(checker.fieldLine(b"Transfer-Encoding: chunked"), (None, True))
        self.assertIsNone(checker.end())
        self.assertTrue(checker.chunked)

    def test_hosts(self) -> None:
        """
        L{checkHost} gives the host without its port, or L{None};
        L{targetAuthority} the authority of an absolute-form target only.
        """
        self.assertEqual(checkHost(b"[::1]:80"), b"[::1]")
        self.assertEqual(checkHost(b""), b"")
        self.assertIsNone(checkHost(b"a/b"))
        self.assertEqual(targetAuthority(b"http://h:1?q"), b"h:1")
        self.assertEqual(targetAuthority(b"http://h#f"), b"h")
        self.assertIsNone(targetAuthority(b"/a://b"))
        self.assertIsNone(targetAuthority(b"*"))
