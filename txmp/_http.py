# -*- test-case-name: txmp.test.test_http,txmp.test.test_requestframing -*-
"""
HTTP (RFC 9110, RFC 9112): the front's request rules (which heads and
bodies are refused, with which status, before any handler sees them; how a
chunked body is decoded; whose C{X-Forwarded-For}/C{X-Forwarded-Proto} are
believed), and the HTTP facts that both halves share, each once: tokens and
field values (also checked by L{txmp.protocol} and L{txmp._wsgi}),
hop-by-hop fields, reason phrases, and the plain pages txmp writes itself
(L{plainPage}).

Pure: no I/O, no reactor.  L{txmp._front.FrontConnection} feeds a
L{RequestHead} the lines of each request head, and a L{ChunkedDecoder} the
bytes of a chunked body, and answers a refusal.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Callable, Union

from attrs import define

from txmp import __version__
from txmp._defaults import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_LINGER_BYTES,
    DEFAULT_LINGER_TIME,
    DEFAULT_LINGER_TIMEOUT,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_REQUEST_LINE,
    MAX_CHUNK_LINE,
    REFUSED_LINE_LOGGED,
)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# What names this server: the front's Server header, the WSGI environ's
# SERVER_SOFTWARE (RFC 3875 section 4.1.17, which gunicorn, waitress and
# wsgiref set too).
SERVER_SOFTWARE = "txmp/" + __version__

# Hop-by-hop header fields (RFC 9110 section 7.6.1, and the older ones
# RFC 2616 section 13.5.1 named) belong to one connection: PEP 3333 forbids
# applications to set them (the handler refuses them), and the front, which
# frames the body and manages the connection itself, drops any a handler
# sends.
HOP_BY_HOP = frozenset(
    [
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    ]
)

# RFC 9110 sections 15.3.5, 15.3.6 and 15.4.5: a 204, 205 or 304 response
# has no body (1xx responses have none either, but neither a front nor a
# handler sends one).  A server MUST NOT send content in a 205, which the
# front says with Content-Length: 0 (section 15.3.6), whatever body or
# length the application gave.
NO_BODY_CODES = frozenset([204, 205, 304])

# The reason phrases of the statuses txmp writes itself: the front's
# refusals and errors, a handler's 500 when its application fails, and its
# 404 to a path outside its --script-name.
REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    421: b"Misdirected Request",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}

# The media type of the pages txmp writes itself.
PLAIN_TEXT = b"text/plain; charset=utf-8"

# RFC 9110 section 5.6.2: token = 1*tchar.  Methods and field names are
# tokens: those of a request head (here), of a RESP (txmp.protocol) and of
# an application's response (txmp._wsgi) are checked against this one set.
TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# RFC 9110 section 5.5 (field-value) and RFC 9112 section 4
# (reason-phrase), inside a character class: HTAB, SP, visible ASCII and
# obs-text.  No other control character (CR, LF, NUL, DEL...): one could
# end a header line or split a response.
FIELD_CHARS = rb"\t\x20-\x7e\x80-\xff"
# The whole of a byte string is a token.
TOKEN = re.compile(TCHAR + rb"+\Z")
# The bytes that may begin a request's first line: a method's first
# character (a tchar), or the CR of the empty line a server may ignore
# before it (RFC 9112 section 2.2).  Any other is refused at once, without
# waiting for a line end: a TLS ClientHello (0x16) sent to a plain port
# never sends one.
LINE_START = frozenset(
    i for i in range(256) if re.fullmatch(TCHAR, bytes([i]))
) | frozenset(b"\r")
# Finds a byte no field value or reason phrase may hold.
CONTROL = re.compile(rb"[^" + FIELD_CHARS + rb"]")
# Visible ASCII and obs-text: no whitespace or control characters in a
# target.  RFC 3986 has no bytes over 0x7f, but clients send them raw (curl
# sends "?q=\xc3\xa9" as typed), and nginx, Werkzeug and waitress take them;
# the application sees them as PEP 3333 says, ISO-8859-1 in PATH_INFO and
# QUERY_STRING.
_TARGET_CHARS = rb"[\x21-\x7e\x80-\xff]*\Z"
_ORIGIN_FORM = re.compile(rb"/" + _TARGET_CHARS)
_ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*://" + _TARGET_CHARS)
# HTTP-version (RFC 9112 section 2.3): one digit each side of the dot.
_VERSION = re.compile(rb"HTTP/([0-9])\.[0-9]\Z")
_DIGITS = re.compile(rb"[0-9]+\Z")
# A Content-Length of more digits (without leading zeros) is too large for
# any --max-body.
_MAX_LENGTH_DIGITS = 18
# RFC 9110 section 7.2 and RFC 3986 section 3.2.2: Host = uri-host [":"
# port], uri-host = IP-literal / IPv4address / reg-name (no userinfo, no
# path, no whitespace).
_SUB_DELIMS = rb"!$&'()*+,;="
_REG_NAME = rb"(?:[A-Za-z0-9\-._~" + _SUB_DELIMS + rb"]|%[0-9A-Fa-f]{2})*"
_IP_LITERAL = (
    rb"\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~:" + _SUB_DELIMS + rb"]+)\]"
)
_HOST = re.compile(rb"(" + _IP_LITERAL + rb"|" + _REG_NAME + rb")(?::([0-9]*))?\Z")
# RFC 9112 section 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name
# [ BWS "=" BWS chunk-ext-val ] ), a value a token or a quoted-string.
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_CHUNK_EXT = (
    rb"(?:[ \t]*;[ \t]*" + TCHAR
    + rb"+(?:[ \t]*=[ \t]*(?:" + TCHAR + rb"+|" + _QUOTED + rb"))?)*"
)
# At most 16 hex digits: a size that fits in 64 bits.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})" + _CHUNK_EXT + rb"\Z")



def plainPage(
    status: int, body: bytes | None = None
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """
    A page txmp writes itself, at the front (a refusal, a 502, 503 or 504,
    the answer to C{OPTIONS *}) or at a handler (a 500 for an application
    that failed): plain text, by default the status and its reason, as
    C{b"502 Bad Gateway\\n"}.

    @param status: a status of L{REASONS}.
    @param body: the body, if not the default.
    @return: the page's C{Content-Type} and C{Content-Length} fields, and
        its body.
    """
    if body is None:
        body = b"%d %s\n" % (status, REASONS[status])
    return [(b"Content-Type", PLAIN_TEXT), (b"Content-Length", b"%d" % (len(body),))], body


@dataclass(frozen=True)
class HTTPRules:
    """
    The limits and policies of the front's HTTP side.

    @ivar headerTimeout: seconds from the first byte of a request to the end
        of its head: then 408.
    @ivar idleTimeout: seconds a connection may carry no request: then it
        is closed.
    @ivar maxRequestLine: the longest request line, in bytes: longer is 414.
    @ivar maxHeaders: the most header fields in a request: more is 431.
    @ivar maxHeaderBytes: the most bytes of header field lines, each counted
        with its CRLF (the request line and the final empty line are not
        counted): more is 431.
    @ivar rejectUnderscoreHeaders: answer 400 to a field name containing
        C{_} instead of dropping the field.
    @ivar trustedProxies: the peers whose C{Forwarded}, C{X-Forwarded-For},
        C{X-Forwarded-Proto}, C{X-Forwarded-Host} and C{X-Request-Id} are
        believed.
    @ivar trustUnixPeers: whether peers on a UNIX socket are trusted so
        (a proxy on the same host, as nginx in front of gunicorn).
    @ivar bodyTimeout: seconds a request body may take to arrive, counted
        while the front reads it (not while it waits for a handler, or for
        the application to read): then 408.
    @ivar lingerTime: after an answer to a request whose body is still
        coming, the most seconds the front reads and discards what the
        client sends before it closes the connection.
    @ivar lingerTimeout: the same, without a byte from the client.
    @ivar lingerBytes: the same, in bytes, beyond the rest of the body the
        request's C{Content-Length} declared.
    """

    headerTimeout: float = DEFAULT_HEADER_TIMEOUT
    idleTimeout: float = DEFAULT_IDLE_TIMEOUT
    maxRequestLine: int = DEFAULT_MAX_REQUEST_LINE
    maxHeaders: int = DEFAULT_MAX_HEADERS
    maxHeaderBytes: int = DEFAULT_MAX_HEADER_BYTES
    rejectUnderscoreHeaders: bool = False
    trustedProxies: tuple[Network, ...] = ()
    trustUnixPeers: bool = False
    bodyTimeout: float = DEFAULT_BODY_TIMEOUT
    lingerTime: float = DEFAULT_LINGER_TIME
    lingerTimeout: float = DEFAULT_LINGER_TIMEOUT
    lingerBytes: int = DEFAULT_LINGER_BYTES


def checkRequestLine(line: bytes, maxLength: int) -> int | None:
    """
    The status refusing a request line, or L{None} if it is acceptable:
    C{method SP request-target SP HTTP-version}, the method a token, the
    target in origin-form, absolute-form or (for C{OPTIONS}) asterisk-form.
    C{CONNECT} is refused whatever its target: the front cannot tunnel, and
    a 2xx answer to it opens a tunnel for its client, which ignores the
    answer's C{Content-Length} (RFC 9112 section 6.3), so that the front
    and the client would disagree on where the response ends.  A line
    whose first byte can begin no method is refused with 400 whatever its
    length, as the front refuses it from that byte alone (L{LINE_START})
    when its line end has not come: one answer however its bytes come.
    """
    if line[:1] and line[0] not in LINE_START:
        return 400
    if len(line) > maxLength:
        return 414
    parts = line.split(b" ")
    if len(parts) != 3:
        return 400
    method, target, version = parts
    match = _VERSION.match(version)
    if not TOKEN.match(method) or match is None or method == b"CONNECT":
        return 400
    if match.group(1) != b"1":
        # RFC 9110 section 15.6.6: the major version is refused.
        return 505
    if _ORIGIN_FORM.match(target) or _ABSOLUTE_FORM.match(target):
        if b"%00" in target and b"%00" in target.partition(b"?")[0]:
            # A NUL in the path, once decoded (PATH_INFO): no file or route
            # has one, and an application passing it on to the file
            # system or to C fails (ValueError: embedded null byte) or
            # cuts the path there.  nginx answers 400 too.
            return 400
        return None
    if target == b"*" and method == b"OPTIONS":
        return None
    return 400


def isHeadLine(line: bytes) -> bool:
    """
    Whether a request line, whole or not yet, is a C{HEAD} request's:
    whether its method, the word before its first space, is C{HEAD}.  For
    a line refused (too long, or malformed after its method), whose answer,
    to C{HEAD}, has no body all the same (RFC 9110 section 9.3.2).
    """
    return line.startswith(b"HEAD ")


def splitFieldLine(line: bytes) -> tuple[bytes, bytes] | None:
    """
    The name and value (without surrounding whitespace) of a header field
    line, or L{None} if it is malformed: an obs-fold continuation, no
    colon, a name that is not a token (whitespace before the colon, control
    characters), or a control character other than HTAB in the value.
    """
    name, colon, value = line.partition(b":")
    if not colon or not TOKEN.match(name):
        return None
    value = value.strip(b" \t")
    if CONTROL.search(value):
        return None
    return name, value


# splitFieldLine, cached for lines of up to _CACHED_LINE bytes: a client
# sends the same field lines with every request of a connection, and a
# browser's are its User-Agent, Accept, Accept-Language... (a tenth of the
# front's Python for a browser's head of 11 fields: docs/benchmarks.md, "The
# front's field lines").  Lines made anew for each request only churn the
# cache; the size limit bounds what it holds.
_splitCached = functools.lru_cache(maxsize=512)(splitFieldLine)
_CACHED_LINE = 256


@functools.lru_cache(maxsize=256)
def checkHost(value: bytes) -> bytes | None:
    """
    The host of a C{Host} field value or of an authority (RFC 9110 section
    7.2: C{uri-host [":" port]}), without its port; or L{None} if it is
    malformed (whitespace, a path, userinfo, a bad port...).  Cached: most
    requests name the same few hosts (1.4% of a front's CPU at c50).
    """
    match = _HOST.match(value)
    return None if match is None else match.group(1)


def hostPort(value: bytes) -> int | None:
    """
    The port of a C{Host} field value or of an authority, if it names one
    that a TCP port can be (1 to 65535); L{None} if it names none, or is
    malformed.
    """
    match = _HOST.match(value)
    if match is None:
        return None
    digits = match.group(2)
    if not digits or len(digits) > 5:
        return None
    port = int(digits)
    return port if 0 < port < 65536 else None


def targetAuthority(target: bytes) -> bytes | None:
    """
    The authority of an absolute-form request-target (C{scheme://authority
    [path]}), or L{None} for any other form.
    """
    _scheme, sep, rest = target.partition(b"://")
    if not sep or target.startswith(b"/"):
        return None
    end = len(rest)
    for delimiter in b"/?#":
        found = rest.find(bytes([delimiter]))
        if 0 <= found < end:
            end = found
    return rest[:end]


def misdirected(target: bytes, secured: bool) -> bool:
    """
    Whether an absolute-form C{target} names a resource that the front may
    not answer for: one of a scheme other than C{http} and C{https}, or an
    C{https} one not received over a secured connection (RFC 9110 section
    7.4: an origin server MUST reject a request for an C{https} resource
    not received over one, unless it comes from a trusted gateway).
    Schemes are case-insensitive (RFC 3986 section 3.1).

    @param secured: whether the request came over TLS, from a client that
        a trusted proxy says used C{https}, or from a trusted proxy at all
        (the gateway the RFC exempts: HAProxy passes a client's
        absolute-form target on as it came, saying nothing of its scheme).
    """
    asked = target.partition(b"://")[0].lower()
    return asked != b"http" and (asked != b"https" or not secured)


class RequestHead:
    """
    Checks one request head, line by line, as it arrives, and works out how
    its body is framed (RFC 9112 section 6).

    Each method returns the status refusing the request, or L{None}.

    It also keeps what the front needs of an accepted head, as bytes.

    @ivar method: the method of the request line.
    @ivar target: its request-target.
    @ivar version: its HTTP version: C{HTTP/1.0}, or C{HTTP/1.1} for 1.1 and
        any higher minor version.
    @ivar authority: the authority of an absolute-form target, which
        replaces the C{Host} field (RFC 9112 section 3.2.2); L{None} for
        the other forms.
    @ivar hasHost: whether the head has a C{Host} field.
    @ivar host: the host (without port) the request is for: the
        authority's for an absolute-form target, else C{Host}'s; L{None}
        if neither names one.
    @ivar fields: the field lines kept, in order, as C{(name, value)} with
        names as sent; C{Host} is the target's authority for an
        absolute-form target (added if the head had none).
    @ivar contentLength: the C{Content-Length}, if one was given.
    @ivar chunked: whether the body is chunked (known at L{end}).
    @ivar close: whether C{Connection} lists C{close}.
    @ivar keepAlive: whether C{Connection} lists C{keep-alive}: an HTTP/1.0
        client asking to keep the connection (RFC 9112 section 9.3).
    @ivar expectContinue: whether C{Expect} is C{100-continue}.
    """

    # The request line, if it was refused (its first REFUSED_LINE_LOGGED
    # bytes): set on the instance then only, not for every request.
    refusedLine = b""

    def __init__(self, rules: HTTPRules) -> None:
        self._rules = rules
        self.method = b""
        self.target = b""
        self.version = b""
        self.host: bytes | None = None
        self.fields: list[tuple[bytes, bytes]] = []
        self.contentLength: int | None = None
        self.close = False
        self.keepAlive = False
        self.expectContinue = False
        self._fields = 0
        self._bytes = 0
        self._lengths = 0
        self._typed = False
        self._encoded = False
        self._codings: list[bytes] = []
        self.authority: bytes | None = None
        self.hasHost = False
        self.chunked = False

    def requestLine(self, line: bytes) -> int | None:
        """
        The request line came.
        """
        status = checkRequestLine(line, self._rules.maxRequestLine)
        if status is not None:
            # For the access log, as nginx logs a request line it refuses.
            self.refusedLine = line[:REFUSED_LINE_LOGGED]
            return status
        self.method, self.target, self.version = line.split(b" ")
        if self.version != b"HTTP/1.0":
            # HTTP/1.1, or a higher minor version, processed as 1.1: RFC
            # 9110 section 2.5.
            self.version = b"HTTP/1.1"
        authority = targetAuthority(self.target)
        if authority is not None:
            # No userinfo, and a host: RFC 9110 section 4.2.
            host = checkHost(authority)
            if not host:
                return 400
            self.authority = authority
            self.host = host
        return None

    def partialFieldLine(self, length: int) -> int | None:
        """
        The first C{length} bytes (C{length} > 0) of a field line came, its
        end not yet.

        @return: 431 if the line, counted with its CRLF, will pass
            C{maxHeaderBytes} with the field lines before it, whatever its
            end; else L{None}.
        """
        if self._bytes + length + 2 > self._rules.maxHeaderBytes:
            return 431
        return None

    def fieldLine(self, line: bytes) -> tuple[int | None, bool]:
        """
        A header field line came.

        @return: the status refusing the request, if any, and whether the
            field is to be kept (a name with C{_} is dropped).
        """
        self._fields += 1
        self._bytes += len(line) + 2
        if self._fields > self._rules.maxHeaders or self._bytes > self._rules.maxHeaderBytes:
            return 431, False
        split = _splitCached(line) if len(line) <= _CACHED_LINE else splitFieldLine(line)
        if split is None:
            return 400, False
        name, value = split
        if b"_" in name:
            # CGI and WSGI turn "-" into "_": X_Foo would pass for X-Foo.
            return (400 if self._rules.rejectUnderscoreHeaders else None), False
        lower = name.lower()
        if lower == b"host":
            host = checkHost(value)
            if self.hasHost or host is None:
                return 400, False
            self.hasHost = True
            if self.authority is not None:
                # RFC 9112 section 3.2.2: the target's authority, not Host.
                value = self.authority
            else:
                self.host = host or None
        elif lower == b"content-length":
            self._lengths += 1
            if self._lengths > 1 or not _DIGITS.match(value):
                return 400, False
            digits = value.lstrip(b"0")
            if len(digits) > _MAX_LENGTH_DIGITS:
                # Larger than any limit, and int() refuses over 4300 digits.
                return 413, False
            self.contentLength = int(digits or b"0")
        elif lower == b"content-type":
            # A field of one member (RFC 9110 section 5.3): two cannot be
            # combined, and their join (CONTENT_TYPE "a, b") is no media
            # type, which the application would read otherwise than a
            # proxy that took one of them.  gunicorn and waitress refuse
            # it too.
            if self._typed:
                return 400, False
            self._typed = True
        elif lower == b"transfer-encoding":
            # Several field lines make one list (RFC 9110 section 5.3).
            self._encoded = True
            self._codings.extend(
                coding for coding in (c.strip(b" \t").lower() for c in value.split(b","))
                if coding
            )
        elif lower == b"connection":
            # A list of options, case-insensitive, over every field line.
            options = [option.strip(b" \t").lower() for option in value.split(b",")]
            if b"close" in options:
                self.close = True
            if b"keep-alive" in options:
                self.keepAlive = True
        elif lower == b"expect":
            self.expectContinue = value.lower() == b"100-continue"
        if self._lengths and self._encoded:
            # The request smuggling pair (RFC 9112 section 6.1).
            return 400, False
        self.fields.append((name, value))
        return None, True

    def end(self) -> int | None:
        """
        The empty line ending the head came.
        """
        if self.version == b"HTTP/1.1" and not self.hasHost:
            return 400
        if self.authority is not None and not self.hasHost:
            # An HTTP/1.0 request in absolute-form: its Host is the target's.
            self.fields.append((b"Host", self.authority))
        if self._encoded:
            codings = self._codings
            # RFC 9112 section 6.1: Transfer-Encoding is HTTP/1.1 only; a
            # list that does not end in chunked leaves the length unknown.
            if (
                self.version != b"HTTP/1.1"
                or not codings
                or codings[-1] != b"chunked"
                or b"chunked" in codings[:-1]
            ):
                return 400
            if len(codings) > 1:
                # gzip, chunked: a coding the front does not decode.
                return 501
            self.chunked = True
        return None


class FramingError(Exception):
    """
    A request body breaks its framing, or a limit: answer C{status}.

    @ivar status: the status refusing the request.
    """

    def __init__(self, status: int, why: str) -> None:
        Exception.__init__(self, why)
        self.status = status


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def _drop(data: bytes) -> None:
    """
    Chunk data discarded (L{ChunkedDecoder.discard}).
    """


@define(slots=False, eq=False, repr=False)
class ChunkedDecoder:
    """
    Decodes a chunked request body (RFC 9112 section 7.1), strictly: every
    line ends with CRLF; a chunk size has 1 to 16 hex digits and well-formed
    extensions; the sizes announced may not add up to more than C{maxBody}
    (refused as soon as the size that passes it comes, before its data);
    trailer lines are field lines checked as those of a head, within the
    same limits.  Trailer fields are checked, then dropped.

    L{dataReceived} raises L{FramingError} for a body to refuse (once the
    data before the error is delivered); it must not be called again after
    that, nor after the body ended.

    @param dataCallback: called with the body data of each
        L{dataReceived}, all its chunks in one piece (none, if it held no
        chunk data).
    @param finishCallback: called once, at the end of the body, with the
        bytes received after it (the start of a next request).
    """

    _dataCallback: Callable[[bytes], None]
    _finishCallback: Callable[[bytes], None]
    _maxBody: int
    _rules: HTTPRules

    def __attrs_post_init__(self) -> None:
        # Its state is set here, not declared as fields: attrs' __init__
        # would fetch each default from its table, slower on every chunked
        # request.
        self._state = _SIZE
        # The start of a line not yet ended.
        self._partial = b""
        self._remaining = 0
        self._total = 0
        self._fields = 0
        self._bytes = 0

    def dataReceived(self, data: bytes) -> None:
        """
        More of the body came.

        @raise FramingError: if it breaks the framing or a limit.
        """
        position = 0
        size = len(data)
        # The chunk data of this call, delivered at its end in one piece:
        # one call per read, however small the chunks (a body of 1-byte
        # chunks would otherwise cost a BODY message per 6 bytes sent).
        pieces: list[bytes] = []
        ended = False
        try:
            while position < size:
                if self._state == _DATA:
                    take = min(self._remaining, size - position)
                    pieces.append(
                        data if take == size else data[position:position + take]
                    )
                    position += take
                    self._remaining -= take
                    if not self._remaining:
                        self._state = _DATA_END
                    continue
                if self._state == _DONE:
                    raise RuntimeError("chunked body already ended")
                newline = data.find(b"\n", position)
                if newline < 0:
                    partial = self._partial = self._partial + data[position:]
                    # (A CR at its end may be the start of the line's end,
                    # which is not counted in it, as in a head.)
                    self._checkLineLength(len(partial) - partial.endswith(b"\r"))
                    break
                line = self._partial + data[position:newline + 1]
                self._partial = b""
                position = newline + 1
                # Counted without its end, CRLF or (refused below) LF alone,
                # as the line not yet ended was: one answer however it came.
                self._checkLineLength(len(line) - 1 - line.endswith(b"\r\n"))
                if not line.endswith(b"\r\n"):
                    raise FramingError(400, "a line of a chunked body ends without CR")
                self._lineReceived(line[:-2])
                if self._state == _DONE:
                    ended = True
                    break
        except FramingError:
            # What came before the error goes on, as it would have in a
            # read of its own.
            self._deliver(pieces)
            raise
        self._deliver(pieces)
        if ended:
            self._finishCallback(data[position:])

    def discard(self, finishCallback: Callable[[bytes], None]) -> None:
        """
        Decode the rest of the body only to find its end: its data is
        dropped from now on, and C{finishCallback} is called at the end
        in place of the first one.
        """
        self._dataCallback = _drop
        self._finishCallback = finishCallback

    def _deliver(self, pieces: list[bytes]) -> None:
        """
        Give C{pieces} of chunk data to the data callback, in one call: a
        single piece as it is, several joined.
        """
        if len(pieces) == 1:
            self._dataCallback(pieces[0])
        elif pieces:
            self._dataCallback(b"".join(pieces))

    def _checkLineLength(self, length: int) -> None:
        if self._state == _TRAILER:
            if self._bytes + length > self._rules.maxHeaderBytes:
                raise FramingError(431, "trailer section too large")
        elif length > MAX_CHUNK_LINE:
            raise FramingError(400, "chunk-size line too long")

    def _lineReceived(self, line: bytes) -> None:
        state = self._state
        if state == _SIZE:
            match = _CHUNK_LINE.match(line)
            if match is None:
                raise FramingError(400, "malformed chunk-size line")
            chunkSize = int(match.group(1), 16)
            if self._total + chunkSize > self._maxBody:
                raise FramingError(413, "chunked body larger than the limit")
            self._total += chunkSize
            if chunkSize:
                self._remaining = chunkSize
                self._state = _DATA
            else:
                self._state = _TRAILER
        elif state == _DATA_END:
            if line:
                raise FramingError(400, "chunk data not followed by CRLF")
            self._state = _SIZE
        elif not line:
            self._state = _DONE
        else:
            self._fields += 1
            self._bytes += len(line) + 2
            if self._fields > self._rules.maxHeaders:
                raise FramingError(431, "too many trailer fields")
            if self._bytes > self._rules.maxHeaderBytes:
                raise FramingError(431, "trailer section too large")
            if splitFieldLine(line) is None:
                raise FramingError(400, "malformed trailer field line")


def parseNetwork(description: str) -> Network:
    """
    An IP address or CIDR network, as a network.

    @raise ValueError: if C{description} is neither, or is a network with
        host bits set (C{10.0.0.1/8}: the network C{10.0.0.0/8}, or the
        address C{10.0.0.1}?).
    """
    return ipaddress.ip_network(description.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _addressText(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """
    An address a proxy named, as text for C{REMOTE_ADDR} and the access
    log: an IPv4-mapped IPv6 address in mixed notation,
    C{::ffff:203.0.113.9} (RFC 5952 section 5), as the system writes a
    dual-stack socket's IPv4 peer, and L{ipaddress} only from Python 3.13
    (before, C{::ffff:cb00:7109}).
    """
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(address) if mapped is None else "::ffff:" + str(mapped)


def _forwardedAddress(
    text: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """
    The address a proxy names in C{X-Forwarded-For} or C{Forwarded}, or
    L{None} if it names none.  Not an IPv6 address with a zone
    (C{fe80::1%eth0}): a zone names an interface of the host that wrote
    it, and L{ipaddress} takes any characters in one (quotes, spaces,
    non-ASCII), which would reach C{REMOTE_ADDR} and the access log as the
    client wrote them.  nginx's realip module takes no zone either.
    """
    return None if "%" in text else _address(text)


def _inAny(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Sequence[Network]
) -> bool:
    """
    Whether C{address} is in one of C{networks}; an IPv4-mapped IPv6
    address (C{::ffff:127.0.0.1}, the address a dual-stack socket gives an
    IPv4 peer) is also the IPv4 address it maps.
    """
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return any(
        address in network or (mapped is not None and mapped in network)
        for network in networks
    )


def isTrusted(host: str, trusted: Sequence[Network]) -> bool:
    """
    Whether the peer address C{host} is in one of the C{trusted} networks
    (an IPv4 peer of a dual-stack port, C{::ffff:a.b.c.d}, as
    C{a.b.c.d}).
    """
    address = _address(host) if trusted else None
    return address is not None and _inAny(address, trusted)


def _forwardedForHop(text: str) -> str:
    """
    The address of an C{X-Forwarded-For} entry: the entry, or its address
    where it names a port beside it, C{IPv4:port} or C{[IPv6]:port} (Azure
    Application Gateway writes every entry so; nginx's realip module reads
    them).  An entry with anything else after its address is returned
    whole, which is no address.
    """
    text = text.strip()
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        return address if rest == "" or (rest[:1] == ":" and _isPort(rest[1:])) else text
    if text.count(":") == 1:
        address, _, port = text.partition(":")
        return address if _isPort(port) else text
    return text


def _isPort(text: str) -> bool:
    """
    Whether C{text} is a port number: ASCII digits only (C{str.isdigit}
    takes Latin-1's superscripts, C{"\\xb2"}, too).
    """
    return text.isascii() and text.isdigit()


def forwardedClient(peer: str, forwardedFor: Iterable[bytes],
                    trusted: Sequence[Network]) -> str:
    """
    The client's address behind the trusted proxy C{peer}: the last address
    in C{X-Forwarded-For} that is not trusted, walking from the right as
    gunicorn and uvicorn do (the leftmost one if all are trusted), an
    entry's port left off (L{_forwardedForHop}).  The walk stops at an
    entry that is not an IP address, keeping the address before it.

    @param forwardedFor: the values of the C{X-Forwarded-For} fields.
    """
    hops: list[str] = []
    for value in forwardedFor:
        hops.extend(value.decode("latin-1").split(","))
    client = peer
    for hop in reversed(hops):
        address = _forwardedAddress(_forwardedForHop(hop))
        if address is None:
            break
        client = _addressText(address)
        if not _inAny(address, trusted):
            break
    return client


def _forwardedNode(value: str) -> str:
    """
    The address of a C{Forwarded} C{for=} node (RFC 7239 section 6): the
    quotes, an IPv6 address's brackets and a port removed.
    """
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.split(":", 1)[0] if value.count(":") == 1 else value


def parseForwarded(values: Iterable[bytes]) -> list[dict[str, str]]:
    """
    The elements of C{Forwarded} fields (RFC 7239), each a mapping of its
    lower-cased parameter names to their values (quotes removed), in order.
    A malformed element is an empty mapping.
    """
    elements: list[dict[str, str]] = []
    for value in values:
        text = value.decode("latin-1")
        for element in _splitOutsideQuotes(text, ","):
            pairs: dict[str, str] = {}
            for pair in _splitOutsideQuotes(element, ";"):
                name, sep, item = pair.strip().partition("=")
                if not sep or not name:
                    pairs = {}
                    break
                item = item.strip()
                if len(item) >= 2 and item[0] == item[-1] == '"':
                    item = item[1:-1].replace('\\"', '"')
                pairs[name.strip().lower()] = item
            elements.append(pairs)
    return elements


def _splitOutsideQuotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def forwardedFromElements(
    peer: str, elements: Sequence[dict[str, str]], trusted: Sequence[Network]
) -> tuple[str, str | None, str | None]:
    """
    The client's address, scheme and host by C{Forwarded} elements from a
    trusted C{peer}: the address walked from the right as for
    L{forwardedClient}; the scheme and host of the element of that client
    (C{proto=} C{http} or C{https}, C{host=}), if it says.  A C{for=}
    that names no address (C{unknown}, or an obfuscated node such as
    YARP's default C{_abc}) ends the walk, the client left as it was; its
    element is still the client's, whose C{proto=} and C{host=} the hop
    that wrote it, which the walk trusts, says.  So does an element
    without C{for=} (C{proto=https;host=shop.example}: YARP's with its
    C{for} format set to none): the client's, its address not said.
    """
    client = peer
    chosen: dict[str, str] | None = None
    for element in reversed(elements):
        node = element.get("for")
        address = _forwardedAddress(_forwardedNode(node or ""))
        if address is None:
            chosen = element
            break
        chosen = element
        client = _addressText(address)
        if not _inAny(address, trusted):
            break
    if chosen is None:
        return client, None, None
    proto = chosen.get("proto", "").lower()
    return client, proto if proto in ("http", "https") else None, chosen.get("host")


def forwardedScheme(forwardedProto: Sequence[bytes]) -> str | None:
    """
    The scheme a trusted proxy says the client used (the last
    C{X-Forwarded-Proto} value, if C{http} or C{https}), or L{None}.
    """
    if not forwardedProto:
        return None
    scheme = forwardedProto[-1].strip().lower()
    if scheme in (b"http", b"https"):
        return scheme.decode("ascii")
    return None
