# -*- test-case-name: txmp.test.test_http -*-
"""
The front's HTTP/1.1 request-head rules (RFC 9110, RFC 9112): which heads
are refused, with which status, before any handler sees them; and whose
C{X-Forwarded-For}/C{X-Forwarded-Proto} are believed.

Pure: no I/O, no reactor.  L{txmp._resource.FrontChannel} feeds a
L{RequestHead} the lines of each request head and answers a refusal.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_HEADER_TIMEOUT = 15.0
DEFAULT_IDLE_TIMEOUT = 15.0
DEFAULT_MAX_REQUEST_LINE = 8190
DEFAULT_MAX_HEADERS = 100
DEFAULT_MAX_HEADER_BYTES = 16 * 1024

REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Visible ASCII only: no whitespace or control characters in a target.
_ORIGIN_FORM = re.compile(rb"/[\x21-\x7e]*\Z")
_ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*://[\x21-\x7e]*\Z")
_VERSION = re.compile(rb"HTTP/1\.[01]\Z")
# Field values may hold HTAB and obs-text, but no other control character.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]+\Z")


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
    @ivar trustedProxies: the peers whose C{X-Forwarded-For} and
        C{X-Forwarded-Proto} are believed.
    """

    headerTimeout: float = DEFAULT_HEADER_TIMEOUT
    idleTimeout: float = DEFAULT_IDLE_TIMEOUT
    maxRequestLine: int = DEFAULT_MAX_REQUEST_LINE
    maxHeaders: int = DEFAULT_MAX_HEADERS
    maxHeaderBytes: int = DEFAULT_MAX_HEADER_BYTES
    rejectUnderscoreHeaders: bool = False
    trustedProxies: Tuple[Network, ...] = ()


def errorResponse(status: int) -> bytes:
    """
    A complete response refusing a request: status line, a plain text body
    with its C{Content-Length}, and C{Connection: close}.
    """
    reason = REASONS[status]
    body = b"%d %s\n" % (status, reason)
    return (
        b"HTTP/1.1 %d %s\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (status, reason, len(body), body)
    )


def checkRequestLine(line: bytes, maxLength: int) -> Optional[int]:
    """
    The status refusing a request line, or L{None} if it is acceptable:
    C{method SP request-target SP HTTP-version}, the method a token, the
    target in origin-form, absolute-form or (for C{OPTIONS}) asterisk-form.
    """
    if len(line) > maxLength:
        return 414
    parts = line.split(b" ")
    if len(parts) != 3:
        return 400
    method, target, version = parts
    if not _TOKEN.match(method) or not _VERSION.match(version):
        return 400
    if _ORIGIN_FORM.match(target) or _ABSOLUTE_FORM.match(target):
        return None
    if target == b"*" and method == b"OPTIONS":
        return None
    return 400


def splitFieldLine(line: bytes) -> Optional[Tuple[bytes, bytes]]:
    """
    The name and value (without surrounding whitespace) of a header field
    line, or L{None} if it is malformed: an obs-fold continuation, no
    colon, a name that is not a token (whitespace before the colon, control
    characters), or a control character other than HTAB in the value.
    """
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.match(name):
        return None
    value = value.strip(b" \t")
    if _CONTROL.search(value):
        return None
    return name, value


class RequestHead:
    """
    Checks one request head, line by line, as it arrives.

    Each method returns the status refusing the request, or L{None}.
    """

    def __init__(self, rules: HTTPRules) -> None:
        self._rules = rules
        self._version = b""
        self._fields = 0
        self._bytes = 0
        self._hosts = 0
        self._lengths = 0
        self._encoded = False

    def requestLine(self, line: bytes) -> Optional[int]:
        """
        The request line came.
        """
        status = checkRequestLine(line, self._rules.maxRequestLine)
        if status is None:
            self._version = line.rsplit(b" ", 1)[-1]
        return status

    def fieldLine(self, line: bytes) -> Tuple[Optional[int], bool]:
        """
        A header field line came.

        @return: the status refusing the request, if any, and whether the
            field is to be kept (a name with C{_} is dropped).
        """
        self._fields += 1
        self._bytes += len(line) + 2
        if self._fields > self._rules.maxHeaders or self._bytes > self._rules.maxHeaderBytes:
            return 431, False
        split = splitFieldLine(line)
        if split is None:
            return 400, False
        name, value = split
        if b"_" in name:
            # CGI and WSGI turn "-" into "_": X_Foo would pass for X-Foo.
            return (400 if self._rules.rejectUnderscoreHeaders else None), False
        lower = name.lower()
        if lower == b"host":
            self._hosts += 1
            if self._hosts > 1:
                return 400, False
        elif lower == b"content-length":
            self._lengths += 1
            if self._lengths > 1 or not _DIGITS.match(value):
                return 400, False
        elif lower == b"transfer-encoding":
            self._encoded = True
        if self._lengths and self._encoded:
            # The request smuggling pair (RFC 9112 section 6.1).
            return 400, False
        return None, True

    def end(self) -> Optional[int]:
        """
        The empty line ending the head came.
        """
        if self._version == b"HTTP/1.1" and not self._hosts:
            return 400
        return None


def parseNetwork(description: str) -> Network:
    """
    An IP address or CIDR network, as a network.

    @raise ValueError: if C{description} is neither.
    """
    return ipaddress.ip_network(description.strip(), strict=False)


def _address(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def isTrusted(host: str, trusted: Sequence[Network]) -> bool:
    """
    Whether the peer address C{host} is in one of the C{trusted} networks.
    """
    address = _address(host) if trusted else None
    return address is not None and any(address in network for network in trusted)


def forwardedClient(peer: str, forwardedFor: Iterable[bytes],
                    trusted: Sequence[Network]) -> str:
    """
    The client's address behind the trusted proxy C{peer}: the last address
    in C{X-Forwarded-For} that is not trusted, walking from the right as
    gunicorn and uvicorn do (the leftmost one if all are trusted).  The walk
    stops at an entry that is not an IP address, keeping the address
    before it.

    @param forwardedFor: the values of the C{X-Forwarded-For} fields.
    """
    hops: List[str] = []
    for value in forwardedFor:
        hops.extend(value.decode("latin-1").split(","))
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client


def forwardedScheme(forwardedProto: Sequence[bytes]) -> Optional[str]:
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
