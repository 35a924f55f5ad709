# -*- test-case-name: txmp.test.test_zap,txmp.test.test_curve -*-
"""
The front's ZAP handler (ZeroMQ RFC 27): which handlers may connect.

libzmq asks the ZAP handler of a socket's context about every peer that
completes a CURVE handshake with a CURVE server socket; the front answers
200 only for CURVE clients whose public key is in its allow-list (the
public certificates, C{*.key}, of C{--curve-allow}; see
L{txmp._security.loadAllowList}), and 400 to anything else:
another mechanism, another domain, an unknown key, a malformed request.
A denied peer's connection never completes, so it never says C{HELLO}.

The decision (L{zapDecision}) is pure; L{ZapHandler} speaks ZAP over a
ROUTER socket bound to C{inproc://zeromq.zap.01} (see L{txmp._zmq}), in
the reactor thread.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from twisted.logger import Logger

from txmp._defaults import MAX_DENIAL_KEYS
from txmp._zmq import MessageSender, PeerUnreachable, z85Encode

ZAP_VERSION = b"1.0"

# The ZAP domain of the front's sockets: with ZAP_ENFORCE_DOMAIN, a socket
# without a ZAP handler for it refuses every peer.
ZAP_DOMAIN = b"txmp"


def zapDecision(
    request: list[bytes], allowed: AbstractSet[bytes], domain: bytes = ZAP_DOMAIN
) -> tuple[bytes, bytes, bytes | None]:
    """
    Decide on a ZAP request.

    @param request: the request's frames: version, request id, domain,
        address, routing id, mechanism, credentials.
    @param allowed: the allowed public keys, in Z85.
    @return: the status code (C{b"200"} or C{b"400"}), the status text, and
        the client's public key in Z85 if it gave one.
    """
    if len(request) < 6 or request[0] != ZAP_VERSION:
        return b"400", b"malformed ZAP request", None
    requestDomain, mechanism, credentials = request[2], request[5], request[6:]
    key: bytes | None = None
    if mechanism == b"CURVE" and len(credentials) == 1 and len(credentials[0]) == 32:
        key = z85Encode(credentials[0])
    if requestDomain != domain:
        return b"400", b"unknown domain", key
    if mechanism != b"CURVE":
        return b"400", b"CURVE required", key
    if key is None:
        return b"400", b"malformed CURVE credentials", key
    if key not in allowed:
        return b"400", b"key not allowed", key
    return b"200", b"OK", key


class ZapHandler:
    """
    Answers ZAP requests arriving on a ROUTER socket (C{frames[0]} is
    libzmq's routing id, C{frames[1]} the empty delimiter of its REQ
    socket).  Denials are logged with the client's key and address: the
    first one for a key, then every time their count doubles (a denied
    peer retries several times a second).

    @ivar denials: how many requests were denied, by key (C{b""} for none).
    """

    _log = Logger()

    def __init__(self, allowed: AbstractSet[bytes], domain: bytes = ZAP_DOMAIN) -> None:
        self._allowed = allowed
        self._domain = domain
        self._socket: MessageSender | None = None
        self.denials: dict[bytes, int] = {}

    def listen(self, socket: MessageSender) -> None:
        """
        Answer on C{socket}.
        """
        self._socket = socket

    def requestReceived(self, frames: list[bytes]) -> None:
        """
        A ZAP request: answer it.  Must be called in the reactor thread.
        """
        if len(frames) < 3 or frames[1] != b"" or self._socket is None:
            return  # Not from a libzmq REQ: nobody to answer.
        envelope, request = frames[:2], frames[2:]
        status, text, key = zapDecision(request, self._allowed, self._domain)
        if status != b"200":
            self._denied(request, text, key)
        requestId = request[1] if len(request) > 1 else b""
        try:
            self._socket.send(
                [*envelope, ZAP_VERSION, requestId, status, text,
                 key if status == b"200" and key else b"", b""]
            )
        except PeerUnreachable:
            pass

    def _denied(self, request: list[bytes], why: bytes, key: bytes | None) -> None:
        if len(self.denials) >= MAX_DENIAL_KEYS and (key or b"") not in self.denials:
            # A peer trying endless new keys must not grow this for ever.
            self.denials.clear()
        count = self.denials.get(key or b"", 0) + 1
        self.denials[key or b""] = count
        if count & (count - 1):
            return  # Not a power of two.
        address = request[3] if len(request) > 3 else b""
        mechanism = request[5] if len(request) > 5 else b""
        self._log.warn(
            "refused a connection from {address}: {why} (mechanism {mechanism}, "
            "key {key}; {count} refused for this key)",
            address=address.decode("utf-8", "replace") or "(unknown)",
            why=why.decode("ascii"),
            mechanism=mechanism.decode("ascii", "replace") or "(none)",
            key=key.decode("ascii") if key else "(none)",
            count=count,
        )
