# -*- test-case-name: txmp.test.test_zap,txmp.test.test_curve -*-
"""
The front's ZAP handler (ZeroMQ RFC 27): which handlers may connect (the
CURVE keys of L{AllowList}); and the handshakes that fail before it is
asked, logged (L{HandshakeFailures}).

libzmq asks the ZAP handler of a socket's context about every peer that
completes a CURVE handshake with a CURVE server socket; the front answers
200 only for CURVE clients whose public key is in its allow-list (the
public certificates, C{*.key}, of C{--curve-allow}; see
L{txmp._security.loadAllowList}), and 400 to anything else:
another mechanism, another domain, an unknown key, a malformed request.
A denied peer's connection never completes, so it never says C{HELLO}.

The decision (L{zapDecision}) is pure; L{ZapHandler} speaks ZAP over a
ROUTER socket bound to C{inproc://zeromq.zap.01} (see L{txmp._zmq}), in
the reactor thread, asking an L{AllowList} for the keys allowed at each
request, which reads the directory again when it has changed.
L{HandshakeFailures} logs the peers that fail before the ZAP handler is
asked: those without CURVE, or with another front's public key.
"""

from __future__ import annotations

import os
from collections.abc import Set as AbstractSet
from typing import Callable, Union

from twisted.logger import Logger
from twisted.python.usage import UsageError

from txmp._defaults import MAX_DENIAL_KEYS
from txmp._security import loadAllowList
from txmp._zmq import (
    CRYPTOGRAPHIC,
    MECHANISM_MISMATCH,
    OLD_PUBLIC_SUFFIX,
    PUBLIC_SUFFIX,
    MessageSender,
    PeerUnreachable,
    z85Encode,
)

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


# What tells whether a directory's certificates have changed: the name,
# inode, size, modification and change times of each, or why they cannot
# be listed.
_Signature = Union[tuple[tuple[str, int, int, int, int], ...], str]


def certificatesSignature(directory: str) -> _Signature:
    """
    What changes when a public certificate (C{*.key}, or one under txmp's
    old name, C{*.key_public}, which L{loadAllowList} refuses) is added to
    C{directory}, removed, replaced or written to; a symbolic link is
    followed (as a Kubernetes secret's files are links).

    @return: the name, inode, size, modification and change times of each
        (a certificate rewritten with one of the same size, within the
        file system's time resolution, changes its change time too),
        sorted;
        or, if they cannot be listed, why.
    """
    try:
        with os.scandir(directory) as entries:
            found = []
            for entry in entries:
                if entry.name.endswith((PUBLIC_SUFFIX, OLD_PUBLIC_SUFFIX)):
                    status = entry.stat()
                    found.append(
                        (
                            entry.name, status.st_ino, status.st_size,
                            status.st_mtime_ns, status.st_ctime_ns,
                        )
                    )
    except OSError as e:
        # (PyPy's scandir names the directory in bytes.)
        where = directory if e.filename is None else os.fsdecode(e.filename)
        return f"{where}: {e.strerror}"
    return tuple(sorted(found))


class AllowList:
    """
    The keys a front allows: those of the public certificates in its
    C{--curve-allow} directory, and C{fixed} ones besides (the ephemeral
    key of a C{--spawn} front's handlers).  The directory is read again
    (L{loadAllowList}) when its certificates have changed
    (L{certificatesSignature}, a look at each certificate's metadata,
    cheaper than a CURVE handshake): so a key allowed while the front runs
    lets its handler in at its next try, and one removed keeps out its
    handler's next connection (not one it has already).

    A directory that no longer reads, or holds what the front would have
    refused to start with (a secret key, a file that is no certificate),
    leaves the keys allowed as they were; that is logged, once for each
    change.  A change of the keys is logged.

    Called in the reactor thread.

    @param directory: the C{--curve-allow} directory.
    @param keys: its keys, read when the options were checked.
    @param fixed: keys allowed besides, whatever the directory holds.
    @param load: L{loadAllowList}, or a fake.
    @param signature: L{certificatesSignature}, or a fake.
    """

    _log = Logger()

    def __init__(
        self,
        directory: str,
        keys: AbstractSet[bytes],
        fixed: AbstractSet[bytes] = frozenset(),
        load: Callable[[str], AbstractSet[bytes]] = loadAllowList,
        signature: Callable[[str], _Signature] = certificatesSignature,
    ) -> None:
        self.directory = directory
        self._keys = frozenset(keys)
        self._fixed = frozenset(fixed)
        self._load = load
        self._signatureOf = signature
        # Unknown: the directory may have changed since the options read
        # it (twistd forks in between), so the first call reads it again.
        self._signature: _Signature | None = None
        # Whether the last reading failed.
        self._unreadable = False

    def __call__(self) -> AbstractSet[bytes]:
        """
        The keys allowed now, the directory read again if its certificates
        have changed since it was last read.
        """
        signature = self._signatureOf(self.directory)
        if signature != self._signature:
            self._signature = signature
            self._reload()
        return self._keys | self._fixed

    def _reload(self) -> None:
        try:
            keys = frozenset(self._load(self.directory))
        except UsageError as e:
            self._unreadable = True
            self._log.error(
                "mpfront: --curve-allow not read again: {why}; the {count} handler "
                "keys allowed before still are",
                why=str(e), count=len(self._keys | self._fixed),
            )
            return
        if self._unreadable and keys == self._keys:
            # Mended, without a change of the keys: say so.
            self._log.info(
                "mpfront: --curve-allow {directory} read again: {count} handler "
                "keys allowed, as before",
                directory=self.directory, count=len(keys | self._fixed),
            )
        self._unreadable = False
        if keys != self._keys:
            self._log.info(
                "mpfront: --curve-allow {directory} changed: {count} handler keys "
                "allowed ({added} added, {removed} removed)",
                directory=self.directory,
                count=len(keys | self._fixed),
                added=len(keys - self._keys),
                removed=len(self._keys - keys),
            )
            self._keys = keys


class ZapHandler:
    """
    Answers ZAP requests arriving on a ROUTER socket (C{frames[0]} is
    libzmq's routing id, C{frames[1]} the empty delimiter of its REQ
    socket).  Denials are logged with the client's key and address: the
    first one for a key, then every time their count doubles (a denied
    peer tries again: a handler after 1 s, then less often).

    @param allowed: returns the keys allowed, asked at each request (an
        L{AllowList}).
    @ivar denials: how many requests were denied, by key (C{b""} for none).
    """

    _log = Logger()

    def __init__(
        self, allowed: Callable[[], AbstractSet[bytes]], domain: bytes = ZAP_DOMAIN
    ) -> None:
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
        status, text, key = zapDecision(request, self._allowed(), self._domain)
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


class HandshakeFailures:
    """
    Logs the CURVE handshakes that fail at the front's sockets before its
    ZAP handler is asked, as read from their socket monitors (the observer
    of L{txmp._zmq.ZmqSocket.monitorHandshakes}): a peer whose first
    message does not decrypt holds another server key (a handler whose
    C{--curve-server-key} is not this front's, such as one left with the
    key of before a change), and a peer without CURVE uses another
    mechanism.  Neither reaches the ZAP handler, so without this the front
    said nothing while such a handler tried again several times a second
    and never joined.  A refused key (C{HANDSHAKE_FAILED_AUTH}) is the ZAP
    handler's to log, and a connection closed before its handshake ended
    (C{HANDSHAKE_FAILED_NO_DETAIL}: a port scan, a health check) is not
    logged.  A kind of failure at an address is logged the first time,
    then every time its count doubles, counted since the last handshake
    that succeeded there (a later incident is told from its first
    failure); the monitor does not name the peer.

    @ivar failures: how many handshakes failed, by address and reason.
    """

    _log = Logger()

    def __init__(self) -> None:
        self.failures: dict[tuple[str, str], int] = {}

    def observe(self, event: str, value: int, address: str) -> None:
        """
        A socket's monitor saw C{event} (with C{value}) at C{address}, the
        address the socket is bound to.  Called in the reactor thread.
        """
        if event == "HANDSHAKE_SUCCEEDED":
            for key in [key for key in self.failures if key[0] == address]:
                del self.failures[key]
            return
        if event != "HANDSHAKE_FAILED_PROTOCOL":
            return
        if value == CRYPTOGRAPHIC:
            why = (
                "its first message does not decrypt: a handler whose "
                "--curve-server-key is not this front's public key?"
            )
        elif value == MECHANISM_MISMATCH:
            why = "the peer does not use CURVE: a handler without --curve-server-key?"
        else:
            why = "ZMTP protocol error %#x" % (value,)
        # Bounded: two addresses, and as many reasons as libzmq has.
        count = self.failures.get((address, why), 0) + 1
        self.failures[(address, why)] = count
        if count & (count - 1):
            return  # Not a power of two.
        self._log.warn(
            "a CURVE handshake at {address} failed: {why} ({count} such failures)",
            address=address,
            why=why,
            count=count,
        )
