# -*- test-case-name: txmp.test.test_httporacle -*-
"""
The front's HTTP/1.1 parser (L{txmp._http.RequestHead},
L{txmp._http.ChunkedDecoder}, L{txmp._front.FrontConnection}) against an
oracle, h11's server (C{h11.Connection(h11.SERVER)}), over requests that
hypothesis makes: what a handler receives (method, target, version, header
fields in order as bytes, body bytes) is what h11 parsed, but for the
rules docs/deployment.md ("HTTP limits") says the front is stricter on or
rewrites; a request h11 refuses, the front refuses too; and a stream of
pipelined requests gives the handler the same requests, and the client the
same bytes, however it is cut into reads.

Driven as L{txmp.testing.FrontTestCase} drives the front: a real
L{Dispatcher} on a L{MemorySocket}, a L{Clock}, raw bytes over a
L{StringTransport}; the test answers each request as its handler once its
body has ended, which lets the front read the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import h11
from hypothesis import given, settings
from hypothesis import strategies as st

from txmp._defaults import SMALL_BODY
from txmp._http import HTTPRules
from txmp.test.properties import REPRODUCIBLE
from txmp.testing import FrontTestCase

# A request as the handler has it, or as h11 parsed it: method, target,
# version, header fields in order, body; all bytes.
Parsed = tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]], bytes]

ORACLE = settings(REPRODUCIBLE, max_examples=100)

_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHARS = "".join(map(chr, range(0x21, 0x7F)))
_OBS_TEXT = "".join(map(chr, range(0x80, 0x100)))


def _latin1(alphabet: str, minSize: int = 0, maxSize: int = 12) -> st.SearchStrategy[bytes]:
    """
    Byte strings of C{alphabet}'s characters (as ISO-8859-1).
    """
    return st.text(alphabet, min_size=minSize, max_size=maxSize).map(
        lambda text: text.encode("latin-1")
    )


# Strategies are made once: made anew in every draw, hypothesis validates
# each again (most of the time of an example).

# Tokens (RFC 9110 section 5.6.2).
TOKENS = _latin1(_TCHARS, 1, 10)
# Field values (RFC 9110 section 5.5): empty, or visible characters and
# obs-text with spaces and tabs inside.
_EDGE = _latin1(_VCHARS + _OBS_TEXT, 1, 1)
FIELD_VALUES = st.one_of(
    st.just(b""),
    _EDGE,
    st.tuples(_EDGE, _latin1(_VCHARS + _OBS_TEXT + " \t"), _EDGE).map(b"".join),
)
# Optional whitespace around a field value; line ends (RFC 9112 section
# 2.2 lets a server take LF alone, as h11 and the front do).
_OWS = st.sampled_from([b"", b" ", b"\t", b"  ", b" \t "])
_EOL = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"])
# Host values (RFC 9110 section 7.2): a registered name, an IPv4 or IPv6
# address, with or without a port; or, for the field, empty.
_HOST_NAMES = st.one_of(
    st.sampled_from([b"example.com", b"localhost", b"a", b"xn--bcher-kva.example"]),
    _latin1("abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=", 1, 12),
    st.sampled_from([b"127.0.0.1", b"[::1]", b"[2001:db8::7]", b"192.0.2.5"]),
)
_PORTS = st.one_of(st.just(b""), st.integers(0, 65535).map(lambda port: b":%d" % (port,)))
# (RFC 9110 section 4.2.1: an http URI has a host.)
AUTHORITIES = st.tuples(_HOST_NAMES, _PORTS).map(b"".join)
HOSTS = st.one_of(AUTHORITIES, st.just(b""))
# origin-form request-targets (RFC 9112 section 3.2.1), as h11 takes them:
# visible ASCII (bytes over 0x7f, which the front takes and h11 refuses,
# are docs/deployment.md's), without an encoded NUL in the path (refused by
# the front: docs/deployment.md).
ORIGIN_TARGETS = _latin1(_VCHARS, 0, 16).map(lambda path: b"/" + path).filter(
    lambda target: b"%00" not in target.partition(b"?")[0]
)
# origin-form and absolute-form (http only: https on a plain connection is
# 421, docs/deployment.md) request-targets.
TARGETS = st.one_of(
    ORIGIN_TARGETS,
    ORIGIN_TARGETS,
    st.tuples(
        st.sampled_from([b"http://", b"HTTP://", b"Http://"]),
        AUTHORITIES,
        st.one_of(st.just(b""), ORIGIN_TARGETS),
    ).map(b"".join),
)
_METHODS = st.one_of(
    st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS"]),
    # (Methods are case-sensitive, RFC 9110 section 9.1: "connect" is none.)
    TOKENS.filter(lambda method: method != b"CONNECT"),
)
# Field names the front reads itself: not drawn among the others.
_FRAMING = {b"host", b"content-length", b"transfer-encoding", b"content-type",
            b"connection", b"expect", b"x-request-id", b"forwarded"}
_FIELDS = st.lists(
    st.tuples(TOKENS.filter(lambda name: name.lower() not in _FRAMING), FIELD_VALUES),
    max_size=6,
)
_TRAILERS = st.lists(st.tuples(_latin1(_TCHARS.replace("_", ""), 1, 10), FIELD_VALUES),
                     max_size=3)
# chunk-ext (RFC 9112 section 7.1.1): BWS ";" BWS name [BWS "=" BWS
# value], a value a token or a quoted-string; without the BWS before ";",
# which h11 refuses (the front takes it: BodyTests.test_everyCut).
_BWS = st.sampled_from([b"", b" ", b"\t"])
_EXTENSION_VALUES = st.one_of(
    st.just(b""),
    st.tuples(_BWS, _BWS, st.one_of(
        TOKENS, _latin1("abc xyz!#\t", 0, 6).map(lambda text: b'"' + text + b'"')
    )).map(lambda value: value[0] + b"=" + value[1] + value[2]),
)
CHUNK_EXTENSIONS = st.lists(
    st.tuples(_BWS, TOKENS, _EXTENSION_VALUES).map(lambda ext: b";" + b"".join(ext)),
    max_size=2,
).map(b"".join)
# Leading zeros of a chunk size, and whether its digits are upper case.
_SIZE_FORMS = st.tuples(st.integers(0, 15), st.booleans())
CONTENT = _latin1("".join(map(chr, range(256))), 0, 40)


def chunkSize(draw: Callable[..., Any], size: int) -> bytes:
    """
    A way to write a chunk size of C{size}: hex in either case, with
    leading zeros up to 16 digits (the front's limit, docs/deployment.md).
    """
    digits = b"%x" % (size,)
    zeros, upper = draw(_SIZE_FORMS)
    return b"0" * min(zeros, 16 - len(digits)) + (digits.upper() if upper else digits)


@st.composite
def chunkedBodies(draw: Callable[..., Any], body: bytes) -> bytes:
    """
    C{body} chunked: in chunks of any sizes, with extensions, and trailer
    fields.
    """
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    out = b""
    for start, end in zip([0, *cuts], [*cuts, len(body)]):
        if end > start:
            out += (chunkSize(draw, end - start) + draw(CHUNK_EXTENSIONS) + b"\r\n"
                    + body[start:end] + b"\r\n")
    out += chunkSize(draw, 0) + draw(CHUNK_EXTENSIONS) + b"\r\n"
    for name, value in draw(_TRAILERS):
        out += name + b":" + draw(_OWS) + value + draw(_OWS) + b"\r\n"
    return out + b"\r\n"


@st.composite
def validRequests(draw: Callable[..., Any], bodies: st.SearchStrategy[bytes] = CONTENT,
                  persistent: bool = False) -> bytes:
    """
    A request h11's server accepts and the front takes: a method, an
    origin-form or absolute-form target, HTTP/1.1 or 1.0, fields with OWS
    and obs-text, empty values, repeated fields, names with C{_} (which the
    front drops), a C{Host} (on 1.1; maybe on 1.0), a body of C{bodies}
    framed by C{Content-Length} (maybe with leading zeros) or chunked
    (1.1), lines ended by CRLF or LF alone, C{Connection} options, maybe
    C{Expect: 100-continue}.

    @param persistent: whether the request leaves the connection open for
        the next: HTTP/1.1 without C{Connection: close}.
    """
    version = b"HTTP/1.1" if persistent else draw(_VERSIONS)
    method = draw(_METHODS)
    target = draw(TARGETS)
    fields = draw(_FIELDS)
    if fields and draw(st.booleans()):
        # A repeated field.
        fields.append((fields[0][0], draw(FIELD_VALUES)))
    if version == b"HTTP/1.1" or draw(st.booleans()):
        fields.insert(draw(st.integers(0, len(fields))),
                      (draw(_HOST_NAMES_CASES), draw(HOSTS)))
    if draw(st.booleans()):
        fields.append((b"Content-Type", b"text/plain"))
    option = draw(_KEEPING if persistent else _OPTIONS)
    if option is not None:
        fields.append((b"Connection", option))
    if draw(st.integers(0, 7)) == 0:
        fields.append((b"Expect", b"100-continue"))
    content = draw(bodies)
    body = b""
    chunked = version == b"HTTP/1.1" and draw(st.booleans())
    if chunked:
        fields.insert(draw(st.integers(0, len(fields))), (b"Transfer-Encoding", b"chunked"))
        body = draw(chunkedBodies(content))
    elif content or draw(st.booleans()):
        zeros = b"0" * draw(st.integers(0, 3))
        fields.insert(draw(st.integers(0, len(fields))),
                      (b"Content-Length", zeros + b"%d" % (len(content),)))
        body = content
    head = method + b" " + target + b" " + version + draw(_EOL)
    for name, value in fields:
        head += name + b":" + draw(_OWS) + value + draw(_OWS) + draw(_EOL)
    return head + draw(_EOL) + body


_VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"])
_HOST_NAMES_CASES = st.sampled_from([b"Host", b"host", b"HOST"])
_KEEPING = st.sampled_from([None, b"keep-alive", b"Keep-Alive, foo"])
_OPTIONS = st.sampled_from([None, b"keep-alive", b"Keep-Alive, foo", b"close"])


def h11Parse(data: bytes) -> tuple[list[Parsed], int | None]:
    """
    The requests h11's server reads from C{data}, each answered with an
    empty 200 so that it reads the next, and the status it refuses the
    next with (L{None} if it waits for more, or the connection must
    close).
    """
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    parsed: list[Parsed] = []
    current: list[Any] = []
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as error:
            return parsed, error.error_status_hint
        if isinstance(event, h11.Request):
            current = [event.method, event.target, b"HTTP/" + event.http_version,
                       list(event.headers.raw_items()), b""]
        elif isinstance(event, h11.Data):
            current[4] += event.data
        elif isinstance(event, h11.EndOfMessage):
            parsed.append(tuple(current))
            if current[0] == b"CONNECT":
                # CONNECT: a tunnel, if the answer is 2xx.
                return parsed, None
            connection.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
            connection.send(h11.EndOfMessage())
            if connection.our_state is h11.MUST_CLOSE:
                return parsed, None
            connection.start_next_cycle()
        else:
            return parsed, None


def _authority(target: bytes) -> bytes | None:
    """
    The authority of an absolute-form C{target}, else L{None}.
    """
    if target.startswith(b"/") or b"://" not in target:
        return None
    rest = target.partition(b"://")[2]
    for delimiter in (b"/", b"?", b"#"):
        rest = rest.partition(delimiter)[0]
    return rest


def asHandlerSees(request: Parsed) -> Parsed:
    """
    A request as h11 parsed it, as the front gives it to a handler, by the
    rules of docs/deployment.md ("HTTP limits"): a field whose name has
    C{_} dropped, and any C{X-Request-Id} of a client not trusted (the
    front adds its own); an absolute-form target's authority for C{Host}
    (added on HTTP/1.0 without one); a higher minor version as 1.1.
    """
    method, target, version, fields, body = request
    authority = _authority(target)
    kept = []
    for name, value in fields:
        lower = name.lower()
        if b"_" in name or lower == b"x-request-id":
            continue
        if lower == b"host" and authority is not None:
            value = authority
        kept.append((name, value))
    if authority is not None and not any(name.lower() == b"host" for name, _ in kept):
        kept.append((b"Host", authority))
    return method, target, (b"HTTP/1.0" if version == b"HTTP/1.0" else b"HTTP/1.1"), kept, body


class OracleTestCase(FrontTestCase):
    """
    A front fed byte streams, read by a handler the test plays: it answers
    each request, once its body has ended, with an empty 200.
    """

    def feed(self, pieces: Sequence[bytes]) -> tuple[list[Parsed], bytes, bool]:
        """
        Deliver C{pieces}, one read each, to a new connection of a new
        front.

        @return: the requests its handler received, as they came (the
            front's own C{X-Request-Id} left out), what the client received,
            and whether the front closes the connection.
        """
        self.setUp()
        channel, transport = self.connect()
        order: list[bytes] = []
        answered: set[bytes] = set()
        for piece in pieces:
            channel.dataReceived(piece)
            answering = True
            while answering:
                answering = False
                for request in self.requestsSent():
                    requestId = request.requestId
                    if requestId not in order:
                        order.append(requestId)
                    if requestId in answered:
                        continue
                    if request.head.more and not self.streamedBody(requestId)[1]:
                        continue
                    answered.add(requestId)
                    self.respond(requestId, headers=[(b"Content-Length", b"0")])
                    answering = True
        requests = {request.requestId: request for request in self.requestsSent()}
        received: list[Parsed] = []
        for requestId in order:
            head = requests[requestId].head
            streamed, _ended = self.streamedBody(requestId)
            received.append((
                head.method.encode("latin-1"),
                head.target.encode("latin-1"),
                head.version.encode("latin-1"),
                [(name.encode("latin-1"), value.encode("latin-1"))
                 for name, value in head.headers if name != "X-Request-Id"],
                b"".join(requests[requestId].body) + streamed,
            ))
        if not transport.disconnecting:
            # (A refusal's lingering close ends at lingerTimeout.)
            self.clock.advance(self.rules.lingerTimeout)
        closing = transport.disconnecting
        self.disconnect(channel)
        return received, transport.value(), closing


def statuses(output: bytes) -> list[int]:
    """
    The statuses of the responses in C{output} (each ends before the next
    status line: the test's handler sends no body).
    """
    return [
        int(line.split(b" ")[1])
        for line in output.split(b"\r\n")
        if line.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")) and b" 100 " not in line
    ]


class ValidRequestTests(OracleTestCase):
    """
    Requests h11 accepts reach the handler as h11 read them.
    """

    @ORACLE
    @given(validRequests())
    def test_asH11Reads(self, data: bytes) -> None:
        """
        A request h11's server accepts reaches the handler with the method,
        target, version, header fields (in order, as bytes) and body that
        h11 read, but for the front's documented rewrites
        (L{asHandlerSees}), and is answered.
        """
        parsed, refusal = h11Parse(data)
        self.assertEqual((len(parsed), refusal), (1, None), data)
        received, output, _closing = self.feed([data])
        self.assertEqual(received, [asHandlerSees(parsed[0])], data)
        self.assertEqual(statuses(output), [200], data)


# Requests the front refuses, each for a rule docs/deployment.md ("HTTP
# limits") names, and h11 too but where said: the smuggling classes.
_HOST = b"Host: a\r\n"
_POST = b"POST / HTTP/1.1\r\n" + _HOST
_CHUNKED = _POST + b"Transfer-Encoding: chunked\r\n\r\n"
REFUSED = [
    # Content-Length with Transfer-Encoding (h11 takes the chunked body).
    (_POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     400, False),
    (_POST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     400, False),
    # Two Content-Lengths, even the same (h11 takes these).
    (_POST + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, False),
    (_POST + b"Content-Length: 3, 3\r\n\r\nabc", 400, False),
    (_POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, True),
    # Transfer-Encoding not ending in chunked once (h11: 501).
    (_POST + b"Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400, True),
    (_POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, True),
    (_POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, True),
    (_POST + b"Transfer-Encoding: identity\r\n\r\n", 400, True),
    (_POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, True),
    # Transfer-Encoding on HTTP/1.0 (h11 takes it).
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, False),
    # Bare CR, NUL, whitespace before the colon, obs-fold (h11 unfolds it).
    (b"GET / HTTP/1.1\rHost: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX\x00: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX : a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX\t: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, False),
    (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400, False),
    (b"GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", 400, True),
    # Chunk sizes: not hex, signs, 0x, too many digits (h11 takes 20),
    # trailing whitespace (h11 takes it), overflow.
    (_CHUNKED + b"0x3\r\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"+3\r\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"-3\r\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b" 3\r\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"3 \r\nabc\r\n0\r\n\r\n", 400, False),
    (_CHUNKED + b"3\t\r\nabc\r\n0\r\n\r\n", 400, False),
    (_CHUNKED + b"g\r\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"\r\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"00000000000000003\r\nabc\r\n0\r\n\r\n", 400, False),
    (_CHUNKED + b"10000000000000003\r\nabc\r\n0\r\n\r\n", 400, False),
    (_CHUNKED + b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400, False),
    (_CHUNKED + b"ffffffffffffffff\r\nabc\r\n0\r\n\r\n", 413, False),
    (_CHUNKED + b"3;a=b c\r\nabc\r\n0\r\n\r\n", 400, False),
    (_CHUNKED + b"3;\x00\r\nabc\r\n0\r\n\r\n", 400, False),
    # A chunk line over 1024 bytes (MAX_CHUNK_LINE), its extensions counted.
    (_CHUNKED + b"3;a=" + b"b" * 1100 + b"\r\nabc\r\n0\r\n\r\n", 400, False),
    # Chunk framing: LF alone, data longer than its size, no CRLF after it.
    (_CHUNKED + b"3\nabc\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"3\r\nabc\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"3\r\nabcd\r\n0\r\n\r\n", 400, True),
    (_CHUNKED + b"3\r\nabcXX0\r\n\r\n", 400, True),
    (_CHUNKED + b"3\r\nabc\r\n0\r\n\n", 400, False),
    (_CHUNKED + b"3\r\nabc\r\n0\r\nT: 1\n\r\n", 400, False),
    # Trailers that are no field lines; the final CRLF missing before a
    # pipelined request.
    (_CHUNKED + b"3\r\nabc\r\n0\r\nT : 1\r\n\r\n", 400, True),
    (_CHUNKED + b"3\r\nabc\r\n0\r\n folded\r\n\r\n", 400, True),
    (_CHUNKED + b"3\r\nabc\r\n0\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    # Content-Length: signs, hex, too large.
    (_POST + b"Content-Length: +3\r\n\r\nabc", 400, True),
    (_POST + b"Content-Length: -3\r\n\r\nabc", 400, True),
    (_POST + b"Content-Length: 0x3\r\n\r\nabc", 400, True),
    (_POST + b"Content-Length: 3a\r\n\r\nabc", 400, True),
    (_POST + b"Content-Length:\r\n\r\n", 400, True),
    (_POST + b"Content-Length: 1 2\r\n\r\nabc", 400, True),
    (_POST + b"Content-Length: 99999999999999999999\r\n\r\n", 413, False),
    (_POST + b"Content-Length: 2000000000\r\n\r\n", 413, False),
    # Request lines: two spaces, a space at the end, a lower-case or no
    # version, CONNECT, the asterisk but for OPTIONS, authority-form.
    (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, True),
    (b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    (b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    (b"GET / http/1.1\r\nHost: a\r\n\r\n", 400, True),
    (b"GET /\r\nHost: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\x00\r\nHost: a\r\n\r\n", 400, True),
    (b"G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    (b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    (b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400, False),
    (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, False),
    (b"GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, False),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, False),
    # Absolute-form with userinfo, or no host.
    (b"GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, False),
    (b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, False),
    (b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, False),
    (b"GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 421, False),
    # Host missing on 1.1, twice, or no host.
    (b"GET / HTTP/1.1\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, True),
    (b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, False),
    (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, False),
    (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, False),
    # Two Content-Types; two empty lines before the request line.
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n", 400, False),
    (b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, True),
    # Not HTTP at all.
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, True),
]


class RefusedTests(OracleTestCase):
    """
    Requests h11 refuses, and those the front is documented to refuse where
    h11 takes them, are refused before any handler sees them.
    """

    def test_refused(self) -> None:
        """
        Each of L{REFUSED} gets its status and a closed connection, whole
        or a byte at a time, and no handler sees it.
        """
        for data, status, _h11Refuses in REFUSED:
            for pieces in ([data], [data[i:i + 1] for i in range(len(data))]):
                received, output, closing = self.feed(pieces)
                self.assertEqual((received, statuses(output), closing), ([], [status], True),
                                 (data, len(pieces)))

    def test_h11Refuses(self) -> None:
        """
        h11 refuses the requests of L{REFUSED} said to be refused by it
        (and reads no request of them), and takes or waits on the others,
        where the front is stricter (as docs/deployment.md says).
        """
        for data, _status, h11Refuses in REFUSED:
            parsed, refusal = h11Parse(data)
            self.assertEqual((refusal is not None, parsed if h11Refuses else []),
                             (h11Refuses, []), data)


@st.composite
def cuts(draw: Callable[..., Any], data: bytes) -> list[bytes]:
    """
    C{data} cut into reads at points hypothesis chooses.
    """
    points = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=10))))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)]) if data[a:b]]


def pipelines(tail: st.SearchStrategy[bytes]) -> st.SearchStrategy[tuple[list[bytes], bytes]]:
    """
    Zero to three requests that keep the connection and a last one that
    may close it; and C{tail}, to send after them.
    """
    return st.tuples(
        st.lists(validRequests(persistent=True), max_size=3),
        validRequests(),
        tail,
    ).map(lambda parts: ([*parts[0], parts[1]], parts[2]))


# What may follow a pipeline: nothing, a refused request (then a request
# that must not reach a handler), or bytes that begin a request.
_REFUSED = {data: status for data, status, _h11 in REFUSED}
_NEXT = b"GET /never HTTP/1.1\r\nHost: a\r\n\r\n"
TAILS = st.one_of(
    st.just(b""),
    st.sampled_from(sorted(_REFUSED)).map(lambda data: data + _NEXT),
    st.sampled_from(
        [b"G", b"GET / HTTP/1.1\r", b"\r", b"\r\n", b"POST / HTTP/1.1\r\nHost: a\r\n"]
    ),
)


def lastOnConnection(request: Parsed) -> bool:
    """
    Whether the client said C{request} is its last on the connection:
    C{Connection: close}, or HTTP/1.0 without C{keep-alive} (RFC 9112
    section 9.3).
    """
    _method, _target, version, fields, _body = request
    options = [option.strip(b" \t").lower()
               for name, value in fields if name.lower() == b"connection"
               for option in value.split(b",")]
    return b"close" in options or (version == b"HTTP/1.0" and b"keep-alive" not in options)


class SegmentationTests(OracleTestCase):
    """
    However a stream of pipelined requests is cut into reads, the handler
    gets the same requests, and the client the same bytes.
    """

    # Small limits, so that the requests drawn reach them.
    rules = HTTPRules(maxRequestLine=48, maxHeaders=6, maxHeaderBytes=160)

    @settings(ORACLE, max_examples=50)
    @given(pipelines(TAILS), st.data())
    def test_cutAnywhere(self, pipeline: tuple[list[bytes], bytes], data: st.DataObject) -> None:
        """
        Pipelined requests, maybe followed by a refused one, cut at any
        points, reach the handler as when they come in one read, and the
        client receives the same responses, in order.
        """
        stream = b"".join(pipeline[0]) + pipeline[1]
        whole = self.feed([stream])
        self.assertEqual(self.feed(data.draw(cuts(stream))), whole, stream)

    @settings(ORACLE, max_examples=20)
    @given(pipelines(TAILS))
    def test_byteByByte(self, pipeline: tuple[list[bytes], bytes]) -> None:
        """
        The same, a byte a read.
        """
        stream = b"".join(pipeline[0]) + pipeline[1]
        whole = self.feed([stream])
        self.assertEqual(self.feed([bytes([byte]) for byte in stream]), whole, stream)


    def test_notARequestLong(self) -> None:
        """
        A first line that cannot begin a request (its first byte begins no
        method) is refused with 400 whether it comes whole or its first
        byte alone, also when it is longer than C{maxRequestLine} (it is
        no request line of that length: not 414 when whole).
        """
        for line in [b"\x16" + b"a" * self.rules.maxRequestLine, b"(" * 100]:
            data = line + b"\r\n\r\n"
            for pieces in ([data], [data[:1], data[1:]]):
                received, output, closing = self.feed(pieces)
                self.assertEqual((received, statuses(output), closing), ([], [400], True),
                                 (line, len(pieces)))

    def test_trailerLineEndedByLF(self) -> None:
        """
        A trailer line ended by LF alone, which makes the trailers reach
        C{maxHeaderBytes} when counted without its line end, is refused
        with one status however it comes: in one read, or cut between the
        line and its LF (where the front counts it without an end).
        """
        rules = self.rules
        for size in range(rules.maxHeaderBytes - 8, rules.maxHeaderBytes + 2):
            data = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"0\r\nX: " + b"v" * (size - 3) + b"\n\r\n")
            whole = self.feed([data])
            self.assertEqual(whole[0], [])
            cut = len(data) - 3
            self.assertEqual(self.feed([data[:cut], data[cut:]]), whole, size)


class PipelineTests(OracleTestCase):
    """
    Pipelined requests are read as h11 reads them, answered in order, and
    none after a refused one reaches a handler.
    """

    @settings(ORACLE, max_examples=50)
    @given(pipelines(TAILS))
    def test_asH11Reads(self, pipeline: tuple[list[bytes], bytes]) -> None:
        """
        The requests of a pipeline reach the handler as h11 read them
        (L{asHandlerSees}), each answered in order; a refused request
        after them is answered with its status, and the request after it
        reaches no handler.
        """
        requests, tail = pipeline
        parsed, refusal = h11Parse(b"".join(requests))
        self.assertEqual((len(parsed), refusal), (len(requests), None))
        received, output, closing = self.feed([b"".join(requests) + tail])
        self.assertEqual(received, [asHandlerSees(request) for request in parsed])
        answers = [200] * len(requests)
        last = lastOnConnection(parsed[-1])
        refused = tail[:-len(_NEXT)]
        if refused in _REFUSED and not last:
            answers.append(_REFUSED[refused])
        self.assertEqual((statuses(output), closing), (answers, last or refused in _REFUSED))

    def test_answeredByFront(self) -> None:
        """
        C{OPTIONS *} (asterisk-form, RFC 9112 section 3.2.4), which h11
        reads as a request and the front answers itself, is answered in its
        place among pipelined requests, cut anywhere, and reaches no
        handler.
        """
        stream = (b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        parsed, refusal = h11Parse(stream)
        self.assertEqual(([request[:2] for request in parsed], refusal),
                         ([(b"GET", b"/a"), (b"OPTIONS", b"*"), (b"GET", b"/b")], None))
        whole = self.feed([stream])
        self.assertEqual([request[:2] for request in whole[0]], [(b"GET", b"/a"), (b"GET", b"/b")])
        self.assertEqual(statuses(whole[1]), [200, 200, 200])
        self.assertIn(b"\r\nAllow: ", whole[1].split(b"HTTP/1.1 ")[2])
        for cut in range(1, len(stream)):
            self.assertEqual(self.feed([stream[:cut], stream[cut:]]), whole, cut)


def _pattern(size: int) -> bytes:
    """
    C{size} bytes that are not all the same.
    """
    return bytes(index % 251 for index in range(size))


# Bodies about as large as a small one: some are read whole, some streamed
# to the handler in BODY messages as they come.
BODIES = st.one_of(
    st.integers(SMALL_BODY - 8, SMALL_BODY + 8),
    st.integers(SMALL_BODY - 2000, SMALL_BODY + 2000),
).map(_pattern)


class BodyTests(OracleTestCase):
    """
    Bodies framed by C{Content-Length} or chunked reach the handler byte
    for byte, however they come.
    """

    @settings(ORACLE, max_examples=20)
    @given(st.lists(validRequests(BODIES, persistent=True), min_size=1, max_size=2),
           st.data())
    def test_inPieces(self, requests: list[bytes], data: st.DataObject) -> None:
        """
        Requests with bodies of about C{SMALL_BODY} bytes (read whole or
        streamed), cut at any points (in a chunk-size line, between its CR
        and LF, in a chunk, in the trailers), reach the handler byte for
        byte as h11 reads them.
        """
        stream = b"".join(requests)
        parsed, refusal = h11Parse(stream)
        self.assertEqual((len(parsed), refusal), (len(requests), None))
        received, output, _closing = self.feed(data.draw(cuts(stream)))
        self.assertEqual(received, [asHandlerSees(request) for request in parsed])
        self.assertEqual(statuses(output), [200] * len(requests))

    def test_everyCut(self) -> None:
        """
        Pipelined requests with chunked bodies (extensions, trailers, a
        body ending in the line of the last chunk's size), a
        C{Content-Length} body and none, cut in two at every byte, reach
        the handler as in one read, and are answered alike.  (The BWS
        before C{;} in a chunk extension, which RFC 9112 section 7.1.1
        allows, h11 refuses.)
        """
        stream = (
            b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;x=\"y z\"\r\nhello\r\nA ; n\r\n0123456789\r\n0\r\nT: 1\r\n\r\n"
            b"PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
            b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n!\r\n0\r\n\r\n"
            b"GET /d HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        whole = self.feed([stream])
        self.assertEqual([request[4] for request in whole[0]],
                         [b"hello0123456789", b"body", b"!", b""])
        self.assertEqual(statuses(whole[1]), [200] * 4)
        for cut in range(1, len(stream)):
            self.assertEqual(self.feed([stream[:cut], stream[cut:]]), whole, cut)


def limitRefusal(request: bytes, rules: HTTPRules) -> int | None:
    """
    The status docs/deployment.md ("HTTP limits") says the front refuses
    C{request}, one of L{validRequests} with an empty body, with under
    C{rules}: 414 for a request line longer than C{maxRequestLine}, 431
    for more header fields than C{maxHeaders} or more bytes of field lines,
    each counted with its CRLF, than C{maxHeaderBytes}, in the head or in
    the trailers of a chunked body; or L{None}.
    """
    head, _, body = request.replace(b"\r\n", b"\n").partition(b"\n\n")
    line, *fields = head.split(b"\n")
    # A chunked body of no chunk: its last chunk's line, then trailers.
    trailers = body.split(b"\n")[1:-1]
    if len(line) > rules.maxRequestLine:
        return 414
    for lines in (fields, trailers):
        if len(lines) > rules.maxHeaders or sum(len(f) + 2 for f in lines) > rules.maxHeaderBytes:
            return 431
    return None


class LimitTests(OracleTestCase):
    """
    Requests h11 takes reach the handler, or are refused for the limits
    docs/deployment.md ("HTTP limits") says, with its statuses.
    """

    rules = HTTPRules(maxRequestLine=40, maxHeaders=5, maxHeaderBytes=120)

    @settings(ORACLE, max_examples=60)
    @given(validRequests(st.just(b"")), st.data())
    def test_limits(self, request: bytes, data: st.DataObject) -> None:
        """
        A request h11 takes is refused with 414 or 431 if its request line,
        head or trailers pass a limit as the documentation counts it
        (L{limitRefusal}), however it is cut; else it reaches the handler
        as h11 read it.
        """
        parsed, refusal = h11Parse(request)
        self.assertEqual((len(parsed), refusal), (1, None))
        status = limitRefusal(request, self.rules)
        received, output, closing = self.feed(data.draw(cuts(request)))
        if status is None:
            self.assertEqual((received, statuses(output)), ([asHandlerSees(parsed[0])], [200]))
        else:
            self.assertEqual((received, statuses(output), closing), ([], [status], True))
