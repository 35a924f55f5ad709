# -*- test-case-name: txmp.test.test_http -*-
"""
Tests for L{txmp._http} and the rules L{txmp._front.FrontConnection}
enforces with it: bad request heads refused before any handler sees them,
the head deadline and the idle timeout, the head limits, and trusted
proxies.  Driven by L{txmp.testing.FrontTestCase}: a real L{Dispatcher} on a
L{MemorySocket}, a L{Clock}, raw bytes over a L{StringTransport}.
"""

from __future__ import annotations

from twisted.internet.address import UNIXAddress
from twisted.internet.testing import StringTransport
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from txmp import _wsgi, protocol
from txmp._defaults import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_REQUEST_LINE,
    LIVENESS_LATENESS,
)
from txmp._front import FrontFactory
from txmp._frontservice import httpRules
from txmp._http import (
    _CACHED_LINE,
    HTTPRules,
    RequestHead,
    _splitCached,
    checkRequestLine,
    forwardedClient,
    forwardedFromElements,
    forwardedScheme,
    isTrusted,
    parseForwarded,
    parseNetwork,
    plainPage,
    splitFieldLine,
)
from txmp.fronttap import Options
from txmp.testing import FrontTestCase, ParsedResponse, httpHead


class RequestLineTests(FrontTestCase):
    """
    Request lines the front refuses with 400 or 414, and the ones it takes.
    """

    def test_invalidMethod(self) -> None:
        """
        A method that is not a token is refused with 400.
        """
        self.assertRefused(httpHead(line=b"GE(T / HTTP/1.1"), 400)

    def test_tlsHandshake(self) -> None:
        """
        A TLS ClientHello sent to a plain HTTP port is refused with 400 as
        soon as its first byte (0x16) is seen, which cannot begin a
        method: not 408 at the head deadline, waiting for a line end that
        a TLS client never sends.
        """
        self.assertRefused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400)

    def test_firstByteNotToken(self) -> None:
        """
        Any first byte that cannot begin a method (a control character, a
        space, a byte over 0x7f, a separator) is refused with 400 at once,
        also after the one empty line forgiven before a request line.
        """
        for data in [b"\x00", b"\x80abc", b"(", b" ", b"\r\n\x16\x03"]:
            self.assertRefused(data, 400)

    def test_nulInPath(self) -> None:
        """
        A path with an encoded NUL (C{%00}), which would reach the
        application's C{PATH_INFO} as a NUL, is refused with 400, as nginx
        refuses it; in the query it is the application's to read.
        """
        for target in [b"/a%00b", b"/%00", b"http://example.com/x%00.txt"]:
            self.assertRefused(httpHead(line=b"GET " + target + b" HTTP/1.1"), 400)
        request = self.assertAccepted(httpHead(line=b"GET /a?b=%00 HTTP/1.1"))
        self.assertEqual(request.head.target, "/a?b=%00")

    def test_partialLineWaits(self) -> None:
        """
        A request line begun with a byte that may begin a method, or a CR
        (the start of a forgiven empty line), waits for the rest.
        """
        for data in [b"G", b"GET / HT", b"\r", b"\r\nG"]:
            channel, transport = self.sendRequest(data)
            self.assertEqual(transport.value(), b"")
            self.assertFalse(transport.disconnecting)
            self.disconnect(channel)

    def test_emptyMethod(self) -> None:
        """
        A request line starting with a space is refused with 400.
        """
        self.assertRefused(httpHead(line=b" / HTTP/1.1"), 400)

    def test_extraSpace(self) -> None:
        """
        Two spaces between the parts of a request line are refused with 400.
        """
        self.assertRefused(httpHead(line=b"GET  / HTTP/1.1"), 400)

    def test_relativeTarget(self) -> None:
        """
        A target not starting with C{/} (nor a scheme) is refused with 400.
        """
        self.assertRefused(httpHead(line=b"GET foo HTTP/1.1"), 400)

    def test_authorityForm(self) -> None:
        """
        The authority-form of C{CONNECT} is refused with 400.
        """
        self.assertRefused(httpHead(line=b"CONNECT example.com:443 HTTP/1.1"), 400)

    def test_connectAnyForm(self) -> None:
        """
        C{CONNECT} is refused with 400 whatever the form of its target, not
        only the authority-form: the front cannot tunnel, and a 2xx answer
        to C{CONNECT} opens a tunnel for its client, which ignores the
        response's C{Content-Length} (RFC 9112 section 6.3): the front and
        the client would no longer agree where the response ends, nor on
        what the bytes after it are.
        """
        self.assertRefused(httpHead(line=b"CONNECT / HTTP/1.1"), 400)
        self.assertRefused(httpHead(line=b"CONNECT http://h:443/ HTTP/1.1"), 400)

    def test_asteriskNotOptions(self) -> None:
        """
        C{*} is a target only for C{OPTIONS}.
        """
        self.assertRefused(httpHead(line=b"GET * HTTP/1.1"), 400)

    def test_asteriskOptions(self) -> None:
        """
        C{OPTIONS *} is not refused (Twisted Web answers it itself, about
        the server as a whole).
        """
        _channel, transport = self.sendRequest(httpHead(line=b"OPTIONS * HTTP/1.1"))
        self.assertEqual(ParsedResponse(transport.value()).code, 200)
        self.assertFalse(transport.disconnecting)

    def test_absoluteForm(self) -> None:
        """
        An absolute-form target (which RFC 9112 requires a server to accept)
        is passed on as sent.
        """
        request = self.assertAccepted(httpHead(line=b"GET http://h/a?b=1 HTTP/1.1"))
        self.assertEqual(request.head.target, "http://h/a?b=1")

    def test_absoluteFormScheme(self) -> None:
        """
        An absolute-form target's scheme is case-insensitive (RFC 3986
        section 3.1); one other than C{http} and C{https} names no resource
        of the front's: 421 Misdirected Request (RFC 9110 section 7.4).
        """
        for scheme in [b"ftp", b"foo", b"httpx", b"http+unix"]:
            self.assertRefused(httpHead(line=b"GET " + scheme + b"://h/a HTTP/1.1"), 421)
        request = self.assertAccepted(httpHead(line=b"GET HTTP://h/a HTTP/1.1"))
        self.assertEqual(request.head.target, "HTTP://h/a")

    def test_httpsTarget(self) -> None:
        """
        An absolute-form C{https} target is served over TLS, and refused
        with 421 over a connection not secured (RFC 9110 section 7.4: a
        request for an C{https} resource MUST be rejected unless it came
        over a secured connection, or from a trusted gateway).
        """
        for target in [b"https://h/a", b"HTTPS://h/a"]:
            self.assertRefused(httpHead(line=b"GET " + target + b" HTTP/1.1"), 421)
        _, transport = self.sendRequest(httpHead(line=b"GET https://h/a HTTP/1.1"), secure=True)
        self.assertEqual(transport.value(), b"")
        [request] = self.requestsSent()
        self.assertEqual((request.head.target, request.head.scheme), ("https://h/a", "https"))

    def test_controlInTarget(self) -> None:
        """
        A control character in the target is refused with 400.
        """
        self.assertRefused(httpHead(line=b"GET /a\x01b HTTP/1.1"), 400)

    def test_delInTarget(self) -> None:
        """
        DEL, the control character above visible ASCII, in the target is
        refused with 400.
        """
        self.assertRefused(httpHead(line=b"GET /a\x7fb HTTP/1.1"), 400)

    def test_obsTextInTarget(self) -> None:
        """
        Bytes over 0x7f in the target (a client's unencoded UTF-8, as curl
        sends a query typed so) are taken, as nginx takes them, and passed
        on as their ISO-8859-1 characters.
        """
        request = self.assertAccepted(httpHead(line=b"GET /caf\xc3\xa9?q=\xc3\xa9 HTTP/1.1"))
        self.assertEqual(request.head.target, "/caf\xc3\xa9?q=\xc3\xa9")

    def test_obsTextInAbsoluteTarget(self) -> None:
        """
        An absolute-form target takes bytes over 0x7f after its authority
        too.
        """
        request = self.assertAccepted(httpHead(line=b"GET http://h/\xff HTTP/1.1"))
        self.assertEqual(request.head.target, "http://h/\xff")

    def test_badVersion(self) -> None:
        """
        A version that is not C{HTTP/DIGIT.DIGIT} (RFC 9112 section 2.3) is
        refused with 400.
        """
        for version in [b"HTTP/1", b"HTTP/1.1.1", b"http/1.1", b"HTTP/11", b"HTTP/1.x",
                        b"HTTP/\xd9\xa1.1", b"HTTP/1.1 "]:
            self.assertRefused(httpHead(line=b"GET / " + version), 400)

    def test_otherMajorVersion(self) -> None:
        """
        A well-formed version of another major version than 1 is refused
        with 505 (HTTP Version Not Supported, RFC 9110 section 15.6.6),
        HTTP/2's connection preface included.
        """
        for version in [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9"]:
            self.assertRefused(httpHead(line=b"GET / " + version), 505)
        self.assertRefused(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)

    def test_higherMinorVersion(self) -> None:
        """
        A request of a higher minor version than 1.1 is processed as an
        HTTP/1.1 one (RFC 9110 section 2.5): passed on as HTTP/1.1, and
        answered so, keeping the connection.
        """
        _, transport = self.sendRequest(httpHead(line=b"GET / HTTP/1.9"))
        [request] = self.requestsSent()
        self.assertEqual(request.head.version, "HTTP/1.1")
        self.respond(request.requestId, headers=[(b"Content-Length", b"2")], body=[b"ok"])
        response = ParsedResponse(transport.value())
        self.assertEqual((response.version, response.code), (b"HTTP/1.1", 200))
        self.assertFalse(transport.disconnecting)

    def test_atLimit(self) -> None:
        """
        A request line of exactly C{maxRequestLine} bytes is accepted.
        """
        prefix, suffix = b"GET /", b" HTTP/1.1"
        line = prefix + b"a" * (DEFAULT_MAX_REQUEST_LINE - len(prefix) - len(suffix)) + suffix
        self.assertEqual(len(line), DEFAULT_MAX_REQUEST_LINE)
        self.assertAccepted(httpHead(line=line))

    def test_overLimit(self) -> None:
        """
        A request line one byte longer is refused with 414.
        """
        prefix, suffix = b"GET /", b" HTTP/1.1"
        line = prefix + b"a" * (DEFAULT_MAX_REQUEST_LINE + 1 - len(prefix) - len(suffix)) + suffix
        self.assertRefused(httpHead(line=line), 414)

    def test_endlessLine(self) -> None:
        """
        A request line that never ends is refused with 414 once it is longer
        than any line the front accepts, without waiting for its end.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET /" + b"a" * (DEFAULT_MAX_HEADER_BYTES + 10))
        self.assertRefusedOn(transport, 414)


class SmallLimitsTests(FrontTestCase):
    """
    The limits are configurable.  Small ones, so that a test crosses them
    with a few bytes.
    """

    rules = HTTPRules(maxRequestLine=20, maxHeaders=3, maxHeaderBytes=40)

    def test_requestLineAtLimit(self) -> None:
        """
        C{maxRequestLine} bounds the request line: at the limit, accepted.
        """
        self.assertAccepted(httpHead(line=b"GET /" + b"a" * 6 + b" HTTP/1.1"))

    def test_requestLineOverLimit(self) -> None:
        """
        One byte over C{maxRequestLine}: 414.
        """
        self.assertRefused(httpHead(line=b"GET /" + b"a" * 7 + b" HTTP/1.1"), 414)

    def test_requestLineAtLimitSplitBeforeLF(self) -> None:
        """
        A request line of exactly C{maxRequestLine} bytes whose CR comes in
        one read and LF in the next (a client writing byte by byte, or a
        segment boundary there) is accepted, as it is in one read: the CR
        that ends a line is not part of it.
        """
        data = httpHead(line=b"GET /" + b"a" * 6 + b" HTTP/1.1")
        split = data.index(b"\n")
        channel, transport = self.sendRequest(data[:split])
        channel.dataReceived(data[split:])
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)
        self.assertEqual(len(self.requestsSent()), 1)

    def test_headersAtLimit(self) -> None:
        """
        C{maxHeaders} bounds the number of fields (Host included): at the
        limit, accepted.
        """
        self.assertAccepted(httpHead(b"A: 1", b"B: 2"))

    def test_headersOverLimit(self) -> None:
        """
        One field over C{maxHeaders}: 431.
        """
        self.assertRefused(httpHead(b"A: 1", b"B: 2", b"C: 3"), 431)

    def test_headerBytesAtLimit(self) -> None:
        """
        C{maxHeaderBytes} bounds the field lines, counted with their CRLF:
        at the limit, accepted.
        """
        # "Host: h\r\n" is 9 bytes; "X: " + 26 + CRLF make 40.
        self.assertAccepted(httpHead(b"X: " + b"v" * 26))

    def test_headerBytesOverLimit(self) -> None:
        """
        One byte over C{maxHeaderBytes}: 431.
        """
        self.assertRefused(httpHead(b"X: " + b"v" * 27), 431)


class HeaderTests(FrontTestCase):
    """
    Header sections the front refuses, and what it passes on.
    """

    def test_lengthAndChunked(self) -> None:
        """
        C{Content-Length} with C{Transfer-Encoding} is refused with 400.
        """
        self.assertRefused(
            httpHead(
                b"Content-Length: 5", b"Transfer-Encoding: chunked", line=b"POST / HTTP/1.1"
            )
            + b"0\r\n\r\n",
            400,
        )

    def test_chunkedAndLength(self) -> None:
        """
        The same in the other order.
        """
        self.assertRefused(
            httpHead(
                b"Transfer-Encoding: chunked", b"Content-Length: 5", line=b"POST / HTTP/1.1"
            ),
            400,
        )

    def test_identityAndLength(self) -> None:
        """
        Any C{Transfer-Encoding} with C{Content-Length} is refused, even
        C{identity}, which Twisted ignores.
        """
        self.assertRefused(
            httpHead(
                b"Transfer-Encoding: identity", b"Content-Length: 5", line=b"POST / HTTP/1.1"
            ),
            400,
        )

    def test_duplicateLength(self) -> None:
        """
        Two C{Content-Length} fields are refused with 400, even if equal.
        """
        self.assertRefused(
            httpHead(b"Content-Length: 1", b"content-length: 1", line=b"POST / HTTP/1.1")
            + b"a",
            400,
        )

    def test_malformedLength(self) -> None:
        """
        A C{Content-Length} that is not digits is refused with 400.
        """
        for value in [b"abc", b"-1", b"+1", b"1,1", b"1 1", b""]:
            self.assertRefused(
                httpHead(b"Content-Length: " + value, line=b"POST / HTTP/1.1"), 400
            )

    def test_hugeLength(self) -> None:
        """
        A C{Content-Length} of more digits than Python converts to an int
        (4300) is refused with 413, as any length too large for the limit;
        leading zeros do not count.
        """
        self.assertRefused(
            httpHead(b"Content-Length: " + b"1" * 5000, line=b"POST / HTTP/1.1"), 413
        )
        self.assertAccepted(
            httpHead(b"Content-Length: " + b"0" * 5000 + b"3", line=b"POST / HTTP/1.1")
            + b"abc"
        )

    def test_duplicateHost(self) -> None:
        """
        Two C{Host} fields are refused with 400.
        """
        self.assertRefused(httpHead(b"host: other"), 400)

    def test_duplicateContentType(self) -> None:
        """
        Two C{Content-Type} fields are refused with 400, even if equal:
        joined, they would make a C{CONTENT_TYPE} that is no media type,
        read by the application otherwise than by a proxy that took one of
        them (RFC 9110 section 5.3: a field of one member cannot be
        combined; gunicorn and waitress refuse it too).  One is accepted.
        """
        self.assertRefused(
            httpHead(
                b"Content-Type: text/plain",
                b"content-type: text/plain",
                b"Content-Length: 1",
                line=b"POST / HTTP/1.1",
            )
            + b"a",
            400,
        )
        self.assertAccepted(
            httpHead(b"Content-Type: text/plain", b"Content-Length: 1", line=b"POST / HTTP/1.1")
            + b"a"
        )

    def test_noHost(self) -> None:
        """
        An HTTP/1.1 request without C{Host} is refused with 400.
        """
        self.assertRefused(b"GET / HTTP/1.1\r\nA: 1\r\n\r\n", 400)

    def test_noHostHTTP10(self) -> None:
        """
        An HTTP/1.0 request needs no C{Host}.
        """
        self.assertAccepted(b"GET / HTTP/1.0\r\n\r\n")

    def test_controlInName(self) -> None:
        """
        A control character in a field name is refused with 400.
        """
        self.assertRefused(httpHead(b"X-\x01A: 1"), 400)

    def test_controlInValue(self) -> None:
        """
        A control character other than HTAB in a value is refused with 400.
        """
        for value in [b"a\x01b", b"a\x7fb", b"a\x00b", b"a\nb", b"a\rb"]:
            self.assertRefused(httpHead(b"X-A: " + value), 400)

    def test_tabInValue(self) -> None:
        """
        HTAB and obs-text are allowed in values.
        """
        request = self.assertAccepted(httpHead(b"X-A: a\tb\xe9"))
        self.assertIn(("X-A", "a\tb\xe9"), request.head.headers)

    def test_spaceBeforeColon(self) -> None:
        """
        Whitespace between a field name and its colon is refused with 400.
        """
        self.assertRefused(httpHead(b"X-A : 1"), 400)
        self.assertRefused(httpHead(b"X-A\t: 1"), 400)

    def test_obsFold(self) -> None:
        """
        A line folded onto the previous field (obs-fold) is refused.
        """
        self.assertRefused(httpHead(b"X-A: 1", b" more"), 400)
        self.assertRefused(httpHead(b"X-A: 1", b"\tmore"), 400)

    def test_noColon(self) -> None:
        """
        A field line without a colon is refused with 400.
        """
        self.assertRefused(httpHead(b"X-A 1"), 400)

    def test_underscoreDropped(self) -> None:
        """
        A field whose name contains C{_} is dropped at the front: the
        request goes on without it.
        """
        request = self.assertAccepted(httpHead(b"X_Forwarded_User: admin", b"X-Other: 1"))
        self.assertEqual(request.head.headers,
                         [("Host", "h"), ("X-Other", "1"), ("X-Request-Id", "front1.1")])

    def test_atHeaderCountLimit(self) -> None:
        """
        C{maxHeaders} fields (C{Host} among them) are accepted (and passed
        on with the front's C{X-Request-Id}).
        """
        fields = [b"X-%d: 1" % (i,) for i in range(DEFAULT_MAX_HEADERS - 1)]
        request = self.assertAccepted(httpHead(*fields))
        self.assertEqual(len(request.head.headers), DEFAULT_MAX_HEADERS + 1)

    def test_overHeaderCountLimit(self) -> None:
        """
        One more field is refused with 431.
        """
        fields = [b"X-%d: 1" % (i,) for i in range(DEFAULT_MAX_HEADERS)]
        self.assertRefused(httpHead(*fields), 431)

    def test_atHeaderBytesLimit(self) -> None:
        """
        Field lines of C{maxHeaderBytes} bytes (with their CRLFs) are
        accepted.
        """
        # "Host: h\r\n" is 9 bytes, "X: " 3, the CRLF 2.
        value = b"v" * (DEFAULT_MAX_HEADER_BYTES - 9 - 3 - 2)
        self.assertAccepted(httpHead(b"X: " + value))

    def test_overHeaderBytesLimit(self) -> None:
        """
        One byte more is refused with 431.
        """
        value = b"v" * (DEFAULT_MAX_HEADER_BYTES - 9 - 3 - 2 + 1)
        self.assertRefused(httpHead(b"X: " + value), 431)

    def test_endlessHeaderLine(self) -> None:
        """
        A header line that never ends is refused with 431 once it is longer
        than the whole header limit.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\nX: " + b"v" * DEFAULT_MAX_HEADER_BYTES)
        self.assertRefusedOn(transport, 431)

    def test_unfinishedLineAfterOthers(self) -> None:
        """
        An unfinished field line that, with the lines before it, already
        passes the header limit is refused with 431 at once, without
        waiting for its end: the head never holds much more than the
        limit.
        """
        first = b"A: " + b"v" * (DEFAULT_MAX_HEADER_BYTES // 2)
        channel, transport = self.connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\n" + first + b"\r\nB: ")
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(b"v" * (DEFAULT_MAX_HEADER_BYTES // 2))
        self.assertRefusedOn(transport, 431)

    def test_unfinishedLineWithinLimit(self) -> None:
        """
        An unfinished field line that fits with the lines before it, its
        CRLF counted, waits for its end; so does the empty line after
        field lines that use the whole limit.
        """
        # "Host: h\r\n" is 9 bytes, "X: " 3, the CRLF 2.
        value = b"v" * (DEFAULT_MAX_HEADER_BYTES - 9 - 3 - 2)
        channel, transport = self.connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + value + b"\r")
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(b"\n\r")
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(b"\n")
        self.assertEqual(len(self.requestsSent()), 1)

    def test_dataAfterRefusalIgnored(self) -> None:
        """
        Whatever follows a refused head is not read: a second request in
        the same packet does not reach a handler.
        """
        self.assertRefused(
            httpHead(b"X-A : 1") + httpHead(), 400
        )


class HeadRefusalTests(FrontTestCase):
    """
    The front's refusal of a C{HEAD} request is its head alone, as every
    other response to C{HEAD} is (RFC 9110 section 9.3.2): a client reads
    no body after it, so one sent would be taken for the start of the next
    response.
    """

    def assertHeadRefused(self, data: bytes, status: int) -> None:
        """
        Assert that C{data}, a C{HEAD} request, is refused with C{status}:
        the refusal's head (with the C{Content-Length} of its page), no
        body, and the connection closed.
        """
        _channel, transport = self.sendRequest(data)
        self.assertRefusedHeadOn(transport, status)

    def assertRefusedHeadOn(self, transport: StringTransport, status: int) -> None:
        data = transport.value()
        response = ParsedResponse(data)
        self.assertEqual(response.code, status, data)
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertEqual(
            response.header(b"content-length"),
            [b"%d" % (len(b"%d %s\n" % (status, response.reason)),)],
        )
        self.assertTrue(data.endswith(b"\r\n\r\n"), data)
        self.assertEqual(response.body, b"")
        self.assertClosed(transport)
        self.assertNoLeak()

    def test_refusedHead(self) -> None:
        """
        A C{HEAD} request whose head is refused (no C{Host}: 400; too many
        fields: 431) gets no body.
        """
        self.assertHeadRefused(b"HEAD / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400)
        self.assertHeadRefused(
            httpHead(*[b"X-%d: 1" % (i,) for i in range(DEFAULT_MAX_HEADERS)],
                     line=b"HEAD / HTTP/1.1"),
            431,
        )

    def test_refusedRequestLine(self) -> None:
        """
        A C{HEAD} request refused for its request line alone gets no body
        either: one too long (414), one of HTTP/2 (505), one whose target
        is not one (400).  The method is the line's first word, though the
        line is refused whole.
        """
        prefix, suffix = b"HEAD /", b" HTTP/1.1"
        long = prefix + b"a" * (DEFAULT_MAX_REQUEST_LINE + 1 - len(prefix) - len(suffix)) + suffix
        self.assertHeadRefused(httpHead(line=long), 414)
        self.assertHeadRefused(httpHead(line=b"HEAD / HTTP/2.0"), 505)
        self.assertHeadRefused(httpHead(line=b"HEAD a HTTP/1.1"), 400)

    def test_refusedUnendedLine(self) -> None:
        """
        A C{HEAD} request line refused before its end came, with 414 (too
        long) or 408 (too slow), gets no body; another method's gets the
        page.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"HEAD /" + b"a" * (DEFAULT_MAX_REQUEST_LINE + 10))
        self.assertRefusedHeadOn(transport, 414)
        channel, transport = self.connect()
        channel.dataReceived(b"HEADER /" + b"a" * (DEFAULT_MAX_REQUEST_LINE + 10))
        self.assertEqual(ParsedResponse(transport.value()).body, b"414 URI Too Long\n")
        channel, transport = self.connect()
        channel.dataReceived(b"HEAD /slow")
        self.clock.advance(self.rules.headerTimeout)
        self.assertRefusedHeadOn(transport, 408)

    def test_refusedLength(self) -> None:
        """
        A C{HEAD} request whose C{Content-Length} passes C{maxBody} gets
        413 and no body.
        """
        self.site.maxBody = 10
        self.assertHeadRefused(httpHead(b"Content-Length: 11", line=b"HEAD / HTTP/1.1"), 413)

    def test_refusedBody(self) -> None:
        """
        A C{HEAD} request whose chunked body breaks its framing gets 400
        and no body.
        """
        self.assertHeadRefused(
            httpHead(b"Transfer-Encoding: chunked", line=b"HEAD / HTTP/1.1") + b"zz\r\n",
            400,
        )

    def test_bodyTimedOut(self) -> None:
        """
        A C{HEAD} request whose body does not come within C{bodyTimeout}
        gets 408 and no body.
        """
        _channel, transport = self.sendRequest(
            httpHead(b"Content-Length: 5", line=b"HEAD / HTTP/1.1") + b"ab"
        )
        self.clock.advance(self.rules.bodyTimeout)
        self.assertRefusedHeadOn(transport, 408)


class RejectUnderscoreTests(FrontTestCase):
    """
    With C{rejectUnderscoreHeaders}, a field name with C{_} is refused.
    """

    rules = HTTPRules(rejectUnderscoreHeaders=True)

    def test_underscoreRefused(self) -> None:
        """
        A field name containing C{_} is refused with 400.
        """
        self.assertRefused(httpHead(b"X_Forwarded_User: admin"), 400)

    def test_dashAccepted(self) -> None:
        """
        Other names pass as before.
        """
        self.assertAccepted(httpHead(b"X-Forwarded-User: admin"))


class TimeoutTests(FrontTestCase):
    """
    The head deadline and the idle timeout, on the site's reactor.  They
    differ here (5 and 7 seconds; both 15 by default), so that a test tells
    which one fired.
    """

    rules = HTTPRules(headerTimeout=5.0, idleTimeout=7.0)

    def test_trickleNotExtended(self) -> None:
        """
        A head arriving a byte at a time is answered 408 and closed
        C{headerTimeout} seconds after its first byte, however recently
        its last byte came.
        """
        channel, transport = self.connect()
        data = httpHead(b"X-Padding: " + b"p" * 40)
        for byte in data[:40]:
            channel.dataReceived(bytes([byte]))
            self.assertEqual(transport.value(), b"")
            self.clock.advance(0.125)
        # 5 seconds after the first byte, 0.125 after the last one.
        self.assertEqual(self.clock.seconds(), 5.0)
        self.assertRefusedOn(transport, 408)

    def test_closedWithoutLinger(self) -> None:
        """
        After the 408, the connection is closed at once, not in a lingering
        close that a client trickling bytes could keep open for up to
        C{lingerTime} more.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET / HTTP/1.1\r\n")
        self.clock.advance(5.0)
        self.assertRefusedOn(transport, 408)
        self.assertFalse(channel.lingering)
        self.assertTrue(transport.disconnecting)

    def test_deadlineFromFirstByte(self) -> None:
        """
        The deadline starts with the first byte, not at connection time: a
        connection idle for a while then gets the full C{headerTimeout}.
        """
        channel, transport = self.connect()
        self.clock.advance(6.0)
        channel.dataReceived(b"G")
        self.clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertRefusedOn(transport, 408)

    def test_completeHeadCancelsDeadline(self) -> None:
        """
        Once the head is complete, the deadline no longer applies: the
        request waits for its reply as long as the dispatcher allows.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead())
        self.clock.advance(20.0)
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)
        self.assertEqual(len(self.requestsSent()), 1)

    def test_deadlineCoversBody(self) -> None:
        """
        The deadline is for the head only: a body may come more slowly.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead(b"Content-Length: 3", line=b"POST / HTTP/1.1") + b"a")
        self.clock.advance(6.0)
        channel.dataReceived(b"bc")
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.requestsSent()[0].body, [b"abc"])

    def test_idleNewConnection(self) -> None:
        """
        A connection that sends nothing is closed after C{idleTimeout},
        without a response.
        """
        _channel, transport = self.connect()
        self.clock.advance(6.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_idleAfterResponse(self) -> None:
        """
        A kept-alive connection is closed C{idleTimeout} after its response
        if no other request starts; the idle timer does not run while the
        request waits for its reply.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead())
        self.clock.advance(10.0)
        self.assertFalse(transport.disconnecting)
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.assertEqual(ParsedResponse(transport.value()).code, 200)
        self.clock.advance(6.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)

    def test_idleCountedFromLastResponse(self) -> None:
        """
        The idle time is counted from the end of the last response, not
        from when the connection was made: a request served in between
        keeps the connection for C{idleTimeout} after it.
        """
        channel, transport = self.connect()
        self.clock.advance(3.0)
        channel.dataReceived(httpHead())
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.clock.advance(6.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)

    def test_idlePausedReadsFirst(self) -> None:
        """
        An idle timer that runs late (the front was paused: SIGSTOP, swap)
        does not close the connection until L{LIVENESS_LATENESS} later,
        after the reactor's next turn, at which it reads what the client
        sent meanwhile: a request sent on a kept-alive connection during
        the pause is served, not answered with a closed connection.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead())
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        transport.clear()
        # Paused 20 s: the timer, due 7 s after the response, runs 13 s late.
        self.clock.advance(20.0)
        self.assertFalse(transport.disconnecting)
        # The reactor's next turn reads the request sent in the pause.
        channel.dataReceived(httpHead())
        self.clock.advance(LIVENESS_LATENESS)
        self.assertFalse(transport.disconnecting)
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.assertEqual(ParsedResponse(transport.value()).code, 200)
        self.assertFalse(transport.disconnecting)

    def test_idlePausedClosedAfter(self) -> None:
        """
        A connection whose idle timer ran late and whose client sent
        nothing meanwhile is closed L{LIVENESS_LATENESS} later.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead())
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.clock.advance(20.0)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(LIVENESS_LATENESS)
        self.assertTrue(transport.disconnecting)

    def test_idleCountedFromSent(self) -> None:
        """
        A response whose end the client's transport still holds (full: a
        slow client) leaves the connection busy, not idle, however long
        the client takes it; the idle time is counted from when the
        transport has sent it all.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead())
        channel.pauseProducing()
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.assertEqual(ParsedResponse(transport.value()).code, 200)
        self.clock.advance(20.0)
        self.assertFalse(transport.disconnecting)
        channel.resumeProducing()
        self.clock.advance(6.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)

    def test_nextRequestStopsIdle(self) -> None:
        """
        The first byte of the next request on a kept-alive connection stops
        the idle timer and starts that request's deadline.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead())
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        transport.clear()
        self.clock.advance(6.0)
        channel.dataReceived(b"GET / HT")
        self.clock.advance(4.0)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(b"TP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(len(self.requestsSent()), 2)
        self.clock.advance(6.0)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_pipelinedRequestDeadline(self) -> None:
        """
        A pipelined request, read while the one before it was served, gets
        its deadline when the front turns to it.
        """
        channel, transport = self.connect()
        channel.dataReceived(httpHead() + b"GET /second HT")
        self.clock.advance(10.0)
        self.assertFalse(transport.disconnecting)
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        self.assertNotIn(b"408 Request Timeout", transport.value())
        self.clock.advance(0.1)
        self.assertIn(b"408 Request Timeout", transport.value())
        self.assertClosed(transport)

    def test_timersStopOnDisconnect(self) -> None:
        """
        No timer is left when the connection is lost.
        """
        channel, _transport = self.connect()
        channel.dataReceived(b"GET")
        self.disconnect(channel)
        self.assertEqual(
            [c for c in self.clock.getDelayedCalls()
             if getattr(getattr(c, "func", None), "__self__", None) is channel],
            [],
        )


CLIENT_HOST = "192.0.2.5"


class TrustedProxyTests(FrontTestCase):
    """
    C{X-Forwarded-For} and C{X-Forwarded-Proto} from a trusted proxy (the
    test client, 192.0.2.5, is in 192.0.2.0/24).
    """

    rules = HTTPRules(
        trustedProxies=(parseNetwork("192.0.2.0/24"), parseNetwork("10.0.0.1"))
    )

    def test_lastUntrusted(self) -> None:
        """
        The client is the last untrusted address, walking from the right;
        its port is not known: 0, not the proxy's, which would make a pair
        that never was.
        """
        request = self.assertAccepted(
            httpHead(b"X-Forwarded-For: 203.0.113.9, 198.51.100.7, 10.0.0.1")
        )
        self.assertEqual(request.head.remoteAddr, "198.51.100.7")
        self.assertEqual(request.head.remotePort, 0)

    def test_unnamedKeepsPort(self) -> None:
        """
        From a trusted proxy that names no client, the peer is the client,
        with its port.
        """
        request = self.assertAccepted(httpHead(b"X-Forwarded-Proto: https"))
        self.assertEqual(
            (request.head.remoteAddr, request.head.remotePort), (CLIENT_HOST, 40000)
        )

    def test_severalFields(self) -> None:
        """
        Several C{X-Forwarded-For} fields form one list, in order.
        """
        request = self.assertAccepted(
            httpHead(b"X-Forwarded-For: 203.0.113.9", b"X-Forwarded-For: 10.0.0.1")
        )
        self.assertEqual(request.head.remoteAddr, "203.0.113.9")

    def test_allTrusted(self) -> None:
        """
        If every address is trusted, the leftmost one is the client.
        """
        request = self.assertAccepted(httpHead(b"X-Forwarded-For: 10.0.0.1, 192.0.2.77"))
        self.assertEqual(request.head.remoteAddr, "10.0.0.1")

    def test_garbageStopsWalk(self) -> None:
        """
        An entry that is not an address ends the walk at the address to
        its right.
        """
        request = self.assertAccepted(httpHead(b"X-Forwarded-For: 203.0.113.9, junk, 10.0.0.1"))
        self.assertEqual(request.head.remoteAddr, "10.0.0.1")

    def test_addressWithPort(self) -> None:
        """
        An entry may name the port beside the address, C{IPv4:port} or
        C{[IPv6]:port}, as Azure Application Gateway writes every entry
        (and nginx's realip module reads them): the address is taken, the
        walk going on past a trusted one so written.  A port that is not
        a number is no address, and ends the walk.
        """
        for value, client in [
            (b"203.0.113.9:51234", "203.0.113.9"),
            (b"[2001:db8::7]:443", "2001:db8::7"),
            (b"[2001:db8::7]", "2001:db8::7"),
            (b"203.0.113.9:51234, 10.0.0.1:80", "203.0.113.9"),
            (b"203.0.113.9:x, 10.0.0.1", "10.0.0.1"),
            (b"203.0.113.9:, 10.0.0.1", "10.0.0.1"),
            (b"203.0.113.9:\xb2, 10.0.0.1", "10.0.0.1"),
            (b"[2001:db8::7]x, 10.0.0.1", "10.0.0.1"),
        ]:
            self.socket.clear()
            self.hello(1)
            request = self.assertAccepted(httpHead(b"X-Forwarded-For: " + value))
            self.assertEqual(request.head.remoteAddr, client, value)
            # (Not the entry's port: a port the proxy names is left off.)
            self.assertEqual(request.head.remotePort, 0, value)

    def test_addressWithPortAgrees(self) -> None:
        """
        A proxy that writes the client's address with its port in both
        C{Forwarded} and C{X-Forwarded-For} says the same client in both:
        the request is served, not refused as contradictory.
        """
        request = self.assertAccepted(httpHead(
            b'Forwarded: for="203.0.113.9:51234"',
            b"X-Forwarded-For: 203.0.113.9:51234",
        ))
        self.assertEqual(request.head.remoteAddr, "203.0.113.9")

    def test_noHeader(self) -> None:
        """
        Without C{X-Forwarded-For}, the peer is the client.
        """
        request = self.assertAccepted(httpHead())
        self.assertEqual(request.head.remoteAddr, CLIENT_HOST)
        self.assertEqual(request.head.scheme, "http")

    def test_proto(self) -> None:
        """
        C{X-Forwarded-Proto: https} makes the scheme C{https}.
        """
        request = self.assertAccepted(httpHead(b"X-Forwarded-Proto: https"))
        self.assertEqual(request.head.scheme, "https")

    def test_httpsTarget(self) -> None:
        """
        An absolute-form C{https} target from a trusted proxy is served over
        a connection not secured (a trusted gateway, RFC 9110 section 7.4),
        whether or not it says its client used C{https} (HAProxy passes an
        absolute-form target on as it came, and says nothing); the scheme
        is what it says.  A scheme other than C{http} and C{https} is
        refused from it too (421).
        """
        self.assertRefused(httpHead(line=b"GET ftp://h/a HTTP/1.1"), 421)
        said = self.assertAccepted(
            httpHead(b"X-Forwarded-Proto: https", line=b"GET https://h/a HTTP/1.1")
        )
        self.assertEqual(said.head.scheme, "https")

    def test_httpsTargetUnsaid(self) -> None:
        """
        An absolute-form C{https} target from a trusted proxy that says
        nothing of its client's scheme is served, its scheme the
        connection's.
        """
        unsaid = self.assertAccepted(httpHead(line=b"GET https://h/a HTTP/1.1"))
        self.assertEqual(unsaid.head.scheme, "http")

    def test_protoOther(self) -> None:
        """
        A C{X-Forwarded-Proto} other than C{http} or C{https} is ignored.
        """
        request = self.assertAccepted(httpHead(b"X-Forwarded-Proto: gopher"))
        self.assertEqual(request.head.scheme, "http")


    def test_forwardedHost(self) -> None:
        """
        C{X-Forwarded-Host} names the server: C{server_name}, port left
        off; the C{Host} field is passed on as sent.
        """
        request = self.assertAccepted(httpHead(b"X-Forwarded-Host: shop.example:8443"))
        self.assertEqual(request.head.serverName, "shop.example")
        self.assertIn(("Host", "h"), request.head.headers)

    def test_forwardedHostMalformed(self) -> None:
        """
        A forwarded host that is no valid host (whitespace, a path,
        userinfo) is ignored: C{server_name} comes from C{Host}.
        """
        for value in [b"a b", b"evil.example/x", b"user@evil.example"]:
            self.socket.clear()
            request = self.assertAccepted(httpHead(b"X-Forwarded-Host: " + value))
            self.assertEqual(request.head.serverName, "h", value)
        self.socket.clear()
        request = self.assertAccepted(httpHead(b'Forwarded: host="a b"'))
        self.assertEqual(request.head.serverName, "h")

    def test_forwarded(self) -> None:
        """
        C{Forwarded} (RFC 7239) is read as C{X-Forwarded-*} is: the client
        walked from the right, and the C{proto} and C{host} of its element.
        (With C{X-Forwarded-*} fields that say otherwise, it is refused:
        L{txmp.test.test_front.ForwardedTests}.)
        """
        request = self.assertAccepted(httpHead(
            b'Forwarded: for="[2001:db8::7]:4711";proto=https;host=shop.example',
            b"Forwarded: for=10.0.0.1;proto=http",
        ))
        self.assertEqual(request.head.remoteAddr, "2001:db8::7")
        self.assertEqual(request.head.scheme, "https")
        self.assertEqual(request.head.serverName, "shop.example")

    def test_forwardedUnknown(self) -> None:
        """
        A C{for=} that is no address (C{unknown}, an obfuscated node, as
        YARP writes by default) ends the walk, keeping the peer; its
        element is still the client's: its C{proto} and C{host} are
        believed, as the trusted hop that wrote it says them.
        """
        for node in [b"unknown", b"_hidden", b'"_x:_y"']:
            self.socket.clear()
            request = self.assertAccepted(
                httpHead(b"Forwarded: for=" + node + b";proto=https;host=shop.example")
            )
            self.assertEqual(request.head.remoteAddr, CLIENT_HOST, node)
            self.assertEqual(request.head.scheme, "https", node)
            self.assertEqual(request.head.serverName, "shop.example", node)

    def test_forwardedWithoutFor(self) -> None:
        """
        An element without C{for=}, as YARP writes with its C{for} format
        set to none, is the client's, its address not said: its C{proto}
        and C{host} are believed and the peer kept, as for C{for=unknown}.
        """
        request = self.assertAccepted(httpHead(b"Forwarded: proto=https;host=shop.example"))
        self.assertEqual(
            (request.head.remoteAddr, request.head.scheme, request.head.serverName),
            (CLIENT_HOST, "https", "shop.example"),
        )

    def test_forwardedUnknownPastTrusted(self) -> None:
        """
        Walked past a trusted hop, an element whose C{for=} is no address
        ends the walk: the client is the trusted hop's address, as
        before, and the scheme the one the unknown client used, which its
        element says, not the trusted hop's.
        """
        request = self.assertAccepted(
            httpHead(b"Forwarded: for=unknown;proto=https, for=10.0.0.1;proto=http")
        )
        self.assertEqual(request.head.remoteAddr, "10.0.0.1")
        self.assertEqual(request.head.scheme, "https")


class ForwardedParsingTests(SynchronousTestCase):
    """
    Tests for L{parseForwarded}.
    """

    def test_elements(self) -> None:
        """
        Elements are split on commas and parameters on semicolons, outside
        quoted strings; names are lower-cased and quotes removed; a
        malformed element is empty.
        """
        self.assertEqual(
            parseForwarded([b'For="[::1]:80";Proto=https, for=192.0.2.1;by="a,b"',
                            b"garbage, for=10.0.0.1"]),
            [{"for": "[::1]:80", "proto": "https"},
             {"for": "192.0.2.1", "by": "a,b"},
             {},
             {"for": "10.0.0.1"}],
        )


class UnixPeerTests(FrontTestCase):
    """
    A proxy on the same host over a UNIX socket, trusted with
    C{--trusted-proxy unix}.
    """

    rules = HTTPRules(trustUnixPeers=True)

    def fromUnixPeer(self, data: bytes) -> protocol.Request:
        """
        Send C{data} on a connection from a peer on a UNIX socket.

        @return: the C{REQ} the handler got.
        """
        channel = self.site.buildProtocol(None)
        transport = StringTransport(hostAddress=UNIXAddress(b"/run/http.sock"),
                                    peerAddress=UNIXAddress(None))
        channel.makeConnection(transport)
        self.addCleanup(self.disconnect, channel)
        channel.dataReceived(data)
        return self.lastRequest()

    def test_trusted(self) -> None:
        """
        From a UNIX-socket peer, the forwarded client and scheme are
        believed.
        """
        request = self.fromUnixPeer(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n"
            b"X-Forwarded-Proto: https\r\n\r\n"
        )
        self.assertEqual(request.head.remoteAddr, "203.0.113.9")
        self.assertEqual(request.head.scheme, "https")

    def test_serverPortFromHost(self) -> None:
        """
        A UNIX socket has no port: C{server_port} (WSGI C{SERVER_PORT}) is
        the port the C{Host} field names, as under gunicorn, not C{0}.
        """
        request = self.fromUnixPeer(b"GET / HTTP/1.1\r\nHost: h:8443\r\n\r\n")
        self.assertEqual((request.head.serverName, request.head.serverPort), ("h", 8443))

    def test_serverPortOfScheme(self) -> None:
        """
        On a UNIX socket, a C{Host} without a port (nginx's C{$host}), or
        with one that no TCP port can be, gives the port of the scheme:
        C{443} for C{https} (a trusted proxy's C{X-Forwarded-Proto}), else
        C{80}.
        """
        for fields, port in [
            (b"Host: h\r\n", 80),
            (b"Host: h:\r\n", 80),
            (b"Host: h:99999\r\n", 80),
            (b"Host: h:0\r\n", 80),
            (b"Host: h\r\nX-Forwarded-Proto: https\r\n", 443),
        ]:
            request = self.fromUnixPeer(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
            self.assertEqual(request.head.serverPort, port, fields)

    def test_serverWithoutHost(self) -> None:
        """
        On a UNIX socket, which has no address to name, an HTTP/1.0
        request without C{Host} (or with an empty one) gets C{localhost} as
        its C{server_name}, as under waitress (PEP 3333: C{SERVER_NAME} is
        never empty), and the port of its scheme.
        """
        for data in [b"GET / HTTP/1.0\r\n\r\n", b"GET / HTTP/1.0\r\nHost:\r\n\r\n"]:
            request = self.fromUnixPeer(data)
            self.assertEqual(
                (request.head.serverName, request.head.serverPort), ("localhost", 80), data
            )

    def test_serverPortOfForwardedHost(self) -> None:
        """
        On a UNIX socket, the port comes from the host that
        C{server_name} comes from: a trusted proxy's C{X-Forwarded-Host}
        or C{Forwarded} C{host=}, else C{Host}, which carries an
        absolute-form target's authority.
        """
        for data, port in [
            (b"GET / HTTP/1.1\r\nX-Forwarded-Host: example.org:8080\r\n", 8080),
            (b"GET / HTTP/1.1\r\nX-Forwarded-Host: example.org\r\n", 80),
            (b"GET / HTTP/1.1\r\nForwarded: for=203.0.113.9;host=example.org:82\r\n", 82),
            (b"GET http://example.org:83/ HTTP/1.1\r\n", 83),
        ]:
            request = self.fromUnixPeer(data + b"Host: h:81\r\n\r\n")
            self.assertEqual(
                (request.head.serverName, request.head.serverPort),
                ("example.org", port),
                data,
            )

    def test_notTrustedByDefault(self) -> None:
        """
        Without C{trustUnixPeers}, a UNIX-socket peer's headers change
        nothing: there is no client address.
        """
        self.site.httpRules = HTTPRules()
        request = self.fromUnixPeer(
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"
        )
        self.assertEqual(request.head.remoteAddr, "")


class UntrustedProxyTests(FrontTestCase):
    """
    From a peer that is not trusted, the headers change nothing but are
    passed on.
    """

    rules = HTTPRules(trustedProxies=(parseNetwork("10.0.0.0/8"),))

    def test_ignored(self) -> None:
        """
        C{remote_addr} and C{scheme} are the peer's, and the fields reach
        the application as sent.
        """
        request = self.assertAccepted(
            httpHead(b"X-Forwarded-For: 203.0.113.9", b"X-Forwarded-Proto: https")
        )
        self.assertEqual(request.head.remoteAddr, CLIENT_HOST)
        self.assertEqual(request.head.scheme, "http")
        self.assertIn(("X-Forwarded-For", "203.0.113.9"), request.head.headers)
        self.assertIn(("X-Forwarded-Proto", "https"), request.head.headers)

    def test_noneTrustedByDefault(self) -> None:
        """
        By default no peer is trusted.
        """
        self.site = FrontFactory(self.dispatcher, self.clock)
        request = self.assertAccepted(httpHead(b"X-Forwarded-For: 203.0.113.9"))
        self.assertEqual(request.head.remoteAddr, CLIENT_HOST)


class PureRuleTests(SynchronousTestCase):
    """
    The functions of L{txmp._http} on their own.
    """

    def test_checkRequestLine(self) -> None:
        """
        L{checkRequestLine} returns L{None} for good lines and the status
        for bad ones.
        """
        self.assertIsNone(checkRequestLine(b"GET /a HTTP/1.0", 100))
        self.assertIsNone(checkRequestLine(b"PURGE https://x/y HTTP/1.1", 100))
        self.assertEqual(checkRequestLine(b"GET /a HTTP/1.0", 10), 414)
        # No method begins so: 400 however long, as from its first byte.
        self.assertEqual(checkRequestLine(b"\x16" + b"a" * 20, 10), 400)
        self.assertEqual(checkRequestLine(b"GET /a", 100), 400)
        self.assertEqual(checkRequestLine(b"GET /a HTTP/1.1 x", 100), 400)
        self.assertEqual(checkRequestLine(b"GET a:b HTTP/1.1", 100), 400)
        self.assertEqual(checkRequestLine(b"CONNECT / HTTP/1.1", 100), 400)
        self.assertEqual(checkRequestLine(b"CONNECT http://h:443/ HTTP/1.1", 100), 400)
        # Methods are case-sensitive (RFC 9110 section 9.1): not CONNECT.
        self.assertIsNone(checkRequestLine(b"connect / HTTP/1.1", 100))

    def test_splitFieldLine(self) -> None:
        """
        L{splitFieldLine} splits good lines and refuses bad ones.
        """
        self.assertEqual(splitFieldLine(b"A:  b c \t"), (b"A", b"b c"))
        self.assertIsNone(splitFieldLine(b" A: b"))
        self.assertIsNone(splitFieldLine(b"A b"))
        self.assertIsNone(splitFieldLine(b": b"))

    def test_requestHead(self) -> None:
        """
        L{RequestHead} keeps fields and drops the ones with C{_}.
        """
        checker = RequestHead(HTTPRules())
        self.assertIsNone(checker.requestLine(b"GET / HTTP/1.1"))
        self.assertEqual(checker.fieldLine(b"A: 1"), (None, True))
        self.assertEqual(checker.fieldLine(b"A_B: 1"), (None, False))
        self.assertEqual(checker.end(), 400)
        self.assertEqual(checker.fieldLine(b"Host: h"), (None, True))
        self.assertIsNone(checker.end())

    def test_fieldLinesCached(self) -> None:
        """
        A field line of up to C{_CACHED_LINE} bytes is split and checked
        once, not for every head that has it (clients repeat the same lines
        on every request); a malformed one is refused every time; a longer
        one is checked each time, and not kept.
        """
        def fields(*lines: bytes) -> list[tuple[int | None, bool]]:
            head = RequestHead(HTTPRules())
            head.requestLine(b"GET / HTTP/1.1")
            return [head.fieldLine(line) for line in lines]

        fields(b"X-Cached-Line: a")
        before = _splitCached.cache_info()
        self.assertEqual(fields(b"X-Cached-Line: a"), [(None, True)])
        self.assertEqual(_splitCached.cache_info().hits, before.hits + 1)
        for _ in range(2):
            self.assertEqual(fields(b"X-Cached-Line : a"), [(400, False)])
        long = b"X-Long: " + b"v" * _CACHED_LINE
        before = _splitCached.cache_info()
        self.assertEqual(fields(long, long + b"\x01"), [(None, True), (400, False)])
        self.assertEqual(_splitCached.cache_info(), before)

    def test_trust(self) -> None:
        """
        L{isTrusted} checks addresses against networks; nothing is trusted
        when no network is given, nor a peer that is not an IP address.
        """
        trusted = (parseNetwork("10.0.0.0/8"), parseNetwork("::1"))
        self.assertTrue(isTrusted("10.1.2.3", trusted))
        self.assertTrue(isTrusted("::1", trusted))
        self.assertFalse(isTrusted("11.0.0.1", trusted))
        self.assertFalse(isTrusted("", trusted))
        self.assertFalse(isTrusted("10.1.2.3", ()))
        self.assertRaises(ValueError, parseNetwork, "example.com")

    def test_trustMapped(self) -> None:
        """
        An IPv4-mapped IPv6 address, which a dual-stack socket gives its
        IPv4 peers, is trusted as the IPv4 address it maps, whether the
        peer or a hop of C{X-Forwarded-For} or C{Forwarded}; a network
        named in its IPv6 form still matches it.
        """
        trusted = (parseNetwork("10.0.0.0/8"),)
        self.assertTrue(isTrusted("::ffff:10.1.2.3", trusted))
        self.assertFalse(isTrusted("::ffff:11.0.0.1", trusted))
        self.assertFalse(isTrusted("::a01:203", trusted))
        self.assertTrue(isTrusted("::ffff:10.1.2.3", (parseNetwork("::ffff:10.1.2.3"),)))
        self.assertEqual(
            forwardedClient("::ffff:10.0.0.1", [b"2.2.2.2, ::ffff:10.0.0.2"], trusted),
            "2.2.2.2",
        )
        elements = parseForwarded([b'for=2.2.2.2, for="[::ffff:10.0.0.2]";proto=https'])
        self.assertEqual(
            forwardedFromElements("::ffff:10.0.0.1", elements, trusted)[0], "2.2.2.2"
        )

    def test_forwarded(self) -> None:
        """
        L{forwardedClient} walks from the right; L{forwardedScheme} takes
        only C{http} and C{https}.
        """
        trusted = (parseNetwork("10.0.0.0/8"),)
        self.assertEqual(forwardedClient("10.0.0.1", [b"1.1.1.1, 2.2.2.2, 10.0.0.2"], trusted),
                         "2.2.2.2")
        self.assertEqual(forwardedClient("10.0.0.1", [], trusted), "10.0.0.1")
        self.assertEqual(forwardedClient("10.0.0.1", [b"2001:db8::1"], trusted), "2001:db8::1")
        self.assertEqual(forwardedScheme([b" HTTPS "]), "https")
        self.assertIsNone(forwardedScheme([b"https, http"]))
        self.assertIsNone(forwardedScheme([]))

    def test_forwardedMappedText(self) -> None:
        """
        A client a trusted proxy names by its IPv4-mapped IPv6 address (a
        proxy on a dual-stack socket writes an IPv4 client so) is given in
        mixed notation, C{::ffff:203.0.113.9} (RFC 5952 section 5), as the
        front's own dual-stack peers are, whatever Python's L{ipaddress}
        writes (C{::ffff:cb00:7109} before 3.13); its case and zeros are
        made canonical, and other addresses are as before.
        """
        trusted = (parseNetwork("10.0.0.0/8"),)
        for named in [b"::ffff:203.0.113.9", b"::FFFF:203.0.113.9", b"::ffff:cb00:7109",
                      b"0:0:0:0:0:ffff:203.0.113.9", b"[::ffff:203.0.113.9]:443"]:
            self.assertEqual(
                forwardedClient("10.0.0.1", [named + b", 10.0.0.2"], trusted),
                "::ffff:203.0.113.9",
            )
        elements = parseForwarded([b'for="[::ffff:203.0.113.9]:443";proto=https'])
        self.assertEqual(
            forwardedFromElements("10.0.0.1", elements, trusted),
            ("::ffff:203.0.113.9", "https", None),
        )
        self.assertEqual(forwardedClient("10.0.0.1", [b"::a01:203"], trusted), "::a01:203")
        self.assertEqual(forwardedClient("10.0.0.1", [b"2001:DB8::0:1"], trusted), "2001:db8::1")
        self.assertEqual(forwardedClient("10.0.0.1", [b"203.0.113.9"], trusted), "203.0.113.9")



# RFC 9110 section 5.6.2, as written there: tchar = "!" / "#" / "$" / "%" /
# "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT /
# ALPHA.
_RFC_TCHAR = frozenset(
    b"!#$%&'*+-.^_`|~0123456789"
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
# RFC 9110 section 5.5: field-value characters are VCHAR, obs-text, SP and
# HTAB.
_RFC_FIELD_CHARS = frozenset([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])


class SharedRuleTests(SynchronousTestCase):
    """
    The rules of L{txmp._http} that the front's request heads, a handler's
    C{RESP} (L{txmp.protocol}) and an application's C{start_response}
    (L{txmp._wsgi}) all follow, checked byte by byte against the RFC.
    """

    def accepted(self, name: bytes, value: bytes) -> list[bool]:
        """
        Whether a field C{name: value} passes each of the three checks: the
        front's, the wire format's and the WSGI runner's.
        """
        front = splitFieldLine(name + b": " + value) is not None
        try:
            protocol.decode(
                protocol.encodeResponse(b"id", 200, b"OK", [(name, value)])
            )
        except protocol.ProtocolError:
            wire = False
        else:
            wire = True
        text = (name.decode("latin-1"), value.decode("latin-1"))
        wsgi = bool(_wsgi._TOKEN.match(text[0]) and _wsgi._FIELD_VALUE.match(text[1]))
        return [front, wire, wsgi]

    def test_token(self) -> None:
        """
        A field name of one byte is accepted by all three exactly when the
        byte is an RFC 9110 C{tchar}.
        """
        for byte in range(256):
            name = bytes([byte])
            expected = byte in _RFC_TCHAR
            self.assertEqual(self.accepted(name, b"v"), [expected] * 3, name)

    def test_fieldValue(self) -> None:
        """
        A field value holding one byte (between two letters, as surrounding
        whitespace is not part of a value) is accepted by all three exactly
        when the byte may stand in an RFC 9110 field value; a reason phrase
        follows the same rule.
        """
        for byte in range(256):
            if byte == 0:
                continue  # NUL separates the fields of a RESP.
            value = b"a" + bytes([byte]) + b"b"
            expected = byte in _RFC_FIELD_CHARS
            self.assertEqual(self.accepted(b"N", value), [expected] * 3, value)
            self.assertEqual(
                _wsgi._STATUS.match("200 " + value.decode("latin-1")) is not None,
                expected,
            )
            try:
                protocol.decode(protocol.encodeResponse(b"id", 200, value, []))
            except protocol.ProtocolError:
                self.assertFalse(expected, value)
            else:
                self.assertTrue(expected, value)

    def test_plainPage(self) -> None:
        """
        L{plainPage} is the page the front and a handler write themselves:
        plain text, by default the status and its reason.
        """
        self.assertEqual(
            plainPage(502),
            (
                [(b"Content-Type", b"text/plain; charset=utf-8"),
                 (b"Content-Length", b"16")],
                b"502 Bad Gateway\n",
            ),
        )
        self.assertEqual(plainPage(200, b"")[0][1], (b"Content-Length", b"0"))

class OptionsTests(SynchronousTestCase):
    """
    The C{mpfront} options of these rules.
    """

    def test_defaults(self) -> None:
        """
        By default the rules are L{HTTPRules}' defaults.
        """
        options = Options()
        options.parseOptions([])
        self.assertEqual(httpRules(options.settings()), HTTPRules())

    def test_options(self) -> None:
        """
        Each option sets its rule; C{--trusted-proxy} is repeatable and
        takes addresses and networks.
        """
        options = Options()
        options.parseOptions([
            "--header-timeout", "5", "--idle-timeout", "6",
            "--max-request-line", "100", "--max-headers", "10",
            "--max-header-bytes", "1000", "--reject-underscore-headers",
            "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1",
        ])
        self.assertEqual(
            httpRules(options.settings()),
            HTTPRules(
                headerTimeout=5.0, idleTimeout=6.0, maxRequestLine=100,
                maxHeaders=10, maxHeaderBytes=1000, rejectUnderscoreHeaders=True,
                trustedProxies=(parseNetwork("10.0.0.0/8"), parseNetwork("::1")),
            ),
        )

    def test_badTrustedProxy(self) -> None:
        """
        A C{--trusted-proxy} that is not an address or network is a usage
        error.
        """
        self.assertRaises(UsageError, Options().parseOptions, ["--trusted-proxy", "proxy.local"])
