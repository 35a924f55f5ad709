# -*- test-case-name: txmp.test.test_zmq,txmp.test.test_integration,txmp.test.test_curve -*-
"""
The ZeroMQ adapter, the only module that imports C{zmq} and C{txzmq}:
contexts and ROUTER/DEALER sockets in the reactor (L{ZmqContext},
L{ZmqSocket}), and CURVE keys and their certificate files.

txzmq's L{ZmqConnection} is used for what it does well, draining ZeroMQ's
edge-triggered descriptor in the reactor, and corrected where it does not
fit: it schedules on the global reactor, defaults every high-water mark to
0 (unlimited memory), and drops a message silently when a peer is slow.
Here the reactor is the one passed in, high-water marks are explicit,
ROUTER sockets are C{ROUTER_MANDATORY}, and a message that ZeroMQ cannot
take now (C{EAGAIN}) waits in a local queue until the socket is writable
again instead of being lost: a ROUTER keeps one queue per peer, so that a
peer that does not read holds up no other, and a bounded one (a peer
whose queue is full is unreachable, L{PeerUnreachable}).

All of this must be used in the reactor thread only, but for the sends of
a socket made for it (L{ZmqSocket.shareWithThreads}): a handler's
application threads send their replies themselves; L{inThisThread}
tells which thread a call comes from.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Callable, Protocol, cast, overload

import zmq
import zmq.auth
from twisted.internet.interfaces import IDelayedCall, IReactorFromThreads, IReactorTime
from twisted.logger import Logger
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from txmp._defaults import BATCH_LIMIT, PEER_BACKLOG, READ_BATCH, ZERO_COPY_SEND
from txmp._interfaces import IZmqReactor
from txmp._peerlog import PacedLog, idText
from txmp.protocol import BATCH, Frame, batched, encodeBatch

# What a socket calls, in the reactor thread, with the frames of each
# message it receives (a ROUTER's first frame is the sender's id).
FramesReceiver = Callable[[list[bytes]], None]

# The same for a socket made with C{largeFrame}: its large frames come as
# read-only memoryviews.
LargeFramesReceiver = Callable[[Sequence[Frame]], None]


class MessageSender(Protocol):
    """
    What sends messages: a L{ZmqSocket} (ROUTER or DEALER), or a fake of
    one.  Called in the reactor thread.
    """

    def send(self, frames: list[bytes]) -> None:
        """
        Send one multipart message; a ROUTER's first frame is the peer's id.

        @raise PeerUnreachable: if this is a ROUTER and the peer is not
            connected.
        """


class ReplySender(MessageSender, Protocol):
    """
    A DEALER's L{MessageSender} shared with threads (a handler's return
    socket), which combines the one-frame messages of threads that send
    at the same time (see L{ZmqSocket.combine}).  Any thread.
    """

    def combine(self, message: bytes) -> None:
        """
        Add C{message}, one whole message packed into one frame, to those
        that L{sendCombined} sends next.
        """

    def sendCombined(self) -> None:
        """
        Send what L{combine} was given, unless another thread is sending it
        now: that one sends it too.
        """


class PeerSender(MessageSender, Protocol):
    """
    A ROUTER's L{MessageSender}, which keeps what a peer cannot take yet
    (see L{ZmqSocket.send}).
    """

    def forget(self, peer: bytes) -> list[list[bytes]]:
        """
        Discard the messages that wait to be sent to C{peer}, which is gone:
        if it came back (the same routing id), they must not reach it.

        @return: the messages discarded, oldest first.
        """

    def sendSoon(self, peer: bytes, message: bytes) -> None:
        """
        Send C{message}, one whole message packed into one frame, to
        C{peer} at the end of this turn of the reactor, with the others sent
        so to it meanwhile: as one C{BATCH} message if there are several.
        A message sent to C{peer} with L{send} meanwhile sends them first.

        @raise PeerUnreachable: if they are sent now (there are enough of
            them) and the peer is not connected.
        """


# txzmq is imported in the functions that use it, never at the top: importing
# it installs the global reactor, and importing this module must not (a tap
# imports it, and twistd imports the tap to parse its options before it
# installs the reactor that its --reactor option names).

# Where libzmq sends ZAP requests, in the context of the socket that
# authenticates (RFC 27).
ZAP_ADDRESS = "inproc://zeromq.zap.01"

# Called with an event name (such as C{"HANDSHAKE_FAILED_AUTH"}), the
# event's value (an errno, a ZAP status or a protocol error) and the peer's
# address.
HandshakeObserver = Callable[[str, int, str], None]

# The value of C{HANDSHAKE_FAILED_PROTOCOL} when the peer uses another
# security mechanism: a CURVE client's front does not use CURVE.
MECHANISM_MISMATCH = int(zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)

# The value of C{HANDSHAKE_FAILED_PROTOCOL} at a CURVE server whose client's
# first message does not decrypt: the client holds another server key.
CRYPTOGRAPHIC = int(zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)


class AddressError(Exception):
    """
    ZeroMQ cannot bind or connect to an address: the message says which
    address and why, in one line.
    """


class OutOfFiles(Exception):
    """
    ZeroMQ cannot make a context or a socket for want of file descriptors
    (C{EMFILE}, C{ENFILE}: each takes some, for its mailbox): the message
    is libzmq's (C{Too many open files}).
    """


@contextmanager
def _descriptorsNeeded() -> Iterator[None]:
    """
    Turn libzmq's C{EMFILE} and C{ENFILE} into L{OutOfFiles}: the
    process's open files limit, not a bug, which its caller says in one
    line.
    """
    try:
        yield
    except zmq.ZMQError as e:
        if e.errno in (errno.EMFILE, errno.ENFILE):
            raise OutOfFiles(e.strerror) from None
        raise


def ipcPath(address: str) -> str | None:
    """
    The file of an C{ipc://} address, or L{None} for any other address
    (an abstract C{ipc://@NAME} too: Linux's abstract namespace has no
    file).
    """
    if not address.startswith("ipc://") or address.startswith("ipc://@"):
        return None
    return address[len("ipc://"):]


def listening(path: str) -> bool | None:
    """
    Whether a process listens on the Unix socket at C{path}: L{True} if a
    connection to it is made (closed at once: a ZeroMQ peer drops one that
    sends nothing), waits in a full backlog, or finds a socket of another
    type that a process holds (a datagram socket), L{False} if it is
    refused (libzmq leaves the file of an C{ipc://} socket when it closes
    it, and a killed process cannot remove it) or the file is not there,
    L{None} if that cannot be told (no permission, not a socket).
    """
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return None
    except FileNotFoundError:
        return False
    except OSError:
        return None
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        return False
    except BlockingIOError:
        # EAGAIN: its listen backlog is full.
        return True
    except FileNotFoundError:
        return False
    except OSError as e:
        # EPROTOTYPE: a socket of another type is bound there (a closed
        # one refuses the connection, as above).
        return True if e.errno == errno.EPROTOTYPE else None
    finally:
        probe.close()
    return True


def _unremovable(path: str) -> str | None:
    """
    Why this user cannot remove the socket file at C{path}, or L{None} if
    it can (or that cannot be told).  libzmq's bind removes whatever is at
    an C{ipc://} path, ignoring a failure to, and then fails with
    C{EADDRINUSE}: "Address already in use", though no process listens
    there (a socket a front left when run as another user, root, in
    C{/tmp} or in a directory this one may not write).
    """
    directory = os.path.dirname(path) or "."
    try:
        owner = os.lstat(path).st_uid
        directoryStat = os.stat(directory)
    except OSError:
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        why = f"it may not write to {directory}"
    elif directoryStat.st_mode & stat.S_ISVTX and os.geteuid() not in (
        0, owner, directoryStat.st_uid
    ):
        why = f"{directory} is sticky (mode +t), and neither it nor the socket is this user's"
    else:
        return None
    return (
        f"{path} is a socket of uid {owner}, which this user cannot remove as "
        f"libzmq must to bind there ({why}): remove it, or give another path"
    )


class PeerUnreachable(Exception):
    """
    A ROUTER socket has no connection to the peer a message is addressed to,
    or the peer takes no more messages (see L{ZmqSocket.send}).

    @ivar dropped: the messages to that peer that waited to be sent and
        were discarded with it (each with the peer's id first), oldest
        first: none of them reached it.
    """

    def __init__(self, peer: bytes, dropped: Sequence[list[bytes]] = ()) -> None:
        Exception.__init__(self, peer)
        self.dropped = list(dropped)


#: Told, in the reactor thread, of a peer found gone while messages waited
#: for it, with those messages (each with the peer's id first), oldest
#: first: none of them reached it.
PeerLost = Callable[[bytes, list[list[bytes]]], None]


def newRoutingId() -> bytes:
    """
    A routing id for a handler's sockets: 16 random bytes as 32 hex digits,
    so that ids do not repeat across processes and restarts, print well in
    logs, and never start with the zero byte that libzmq reserves.
    """
    return os.urandom(16).hex().encode("ascii")


def curveAvailable() -> bool:
    """
    Whether this libzmq was built with CURVE (libsodium).
    """
    return bool(zmq.has("curve"))


# The names of certificate files, as pyzmq (zmq.auth.create_certificates)
# and czmq (zcert) write them: NAME.key is the public certificate, to
# hand out; NAME.key_secret holds both keys, to keep.
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
# What txmp 0.1.0 and earlier named a public certificate: refused in an
# allow directory, with a word on renaming it (txmp._security).
OLD_PUBLIC_SUFFIX = ".key_public"

# The longest time libzmq takes in a socket option, in milliseconds (a C
# int): longer ones raise OverflowError.
MAX_OPTION_MILLISECONDS = 2**31 - 1


def optionMilliseconds(seconds: float) -> int:
    """
    C{seconds} as a time option of a ZeroMQ socket takes it: in
    milliseconds, at least 1, at most L{MAX_OPTION_MILLISECONDS} (24.8
    days; a longer time is as good as never).
    """
    return max(1, min(MAX_OPTION_MILLISECONDS, round(seconds * 1000)))


def createKeyPair(directory: str, name: str) -> tuple[str, str]:
    """
    Write a new CURVE key pair as pyzmq's C{create_certificates} does:
    C{NAME.key} (the public certificate) and C{NAME.key_secret} (both
    keys, mode 0600 from the start).

    @return: the paths of the secret and the public file.
    @raise FileExistsError: if either file exists (neither is replaced).
    """
    secretPath = os.path.join(directory, name + SECRET_SUFFIX)
    publicPath = os.path.join(directory, name + PUBLIC_SUFFIX)
    for path in (secretPath, publicPath):
        if os.path.exists(path):
            raise FileExistsError(path)
    os.makedirs(directory, exist_ok=True)
    # Written in a private scratch directory, so that the secret is never
    # readable by others, then linked into place (a link never replaces).
    scratch = tempfile.mkdtemp(prefix=".txmp-keys-", dir=directory)
    try:
        public, secret = zmq.auth.create_certificates(scratch, name)
        os.chmod(secret, 0o600)
        os.link(secret, secretPath)
        try:
            os.link(public, publicPath)
        except OSError:
            os.unlink(secretPath)
            raise
    finally:
        for leftover in os.listdir(scratch):
            os.unlink(os.path.join(scratch, leftover))
        os.rmdir(scratch)
    return secretPath, publicPath


def writePublicCertificate(path: str, publicKey: bytes) -> None:
    """
    Write a public certificate for C{publicKey} (Z85), in the format of
    pyzmq and czmq, that L{loadKeyPair} reads back.
    """
    with open(path, "x", encoding="ascii") as f:
        f.write(
            "#   ZeroMQ CURVE Public Certificate, written by txmp\n\n"
            "metadata\n"
            "curve\n"
            '    public-key = "%s"\n' % (publicKey.decode("ascii"),)
        )


def loadKeyPair(path: str) -> tuple[bytes, bytes | None]:
    """
    Read a certificate written by L{createKeyPair} (or by pyzmq's or
    czmq's tools).

    @return: the public key and the secret key (C{None} in a public
        certificate), both in Z85 (40 characters).
    @raise ValueError: if the file is missing, cannot be read or holds no
        key, with a one-line message that starts with the path.
    """
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror or e}") from None
    except (ValueError, IndexError):  # IndexError: "public-key" without "=".
        raise ValueError(f"{path}: not a CURVE certificate (no public-key)") from None
    if not public or len(public) != 40:
        raise ValueError(f"{path}: not a CURVE certificate (malformed public-key)")
    if secret is not None and len(secret) != 40:
        raise ValueError(f"{path}: malformed secret-key")
    # A key of 40 characters not all Z85's (mistyped, or pasted with one
    # changed): libzmq refused a secret one with EINVAL as the service
    # started, a traceback, and a public one in an allow directory matched
    # no handler, in silence.
    for name, key in [("secret-key", secret), ("public-key", public)]:
        wrong = None if key is None else _notZ85(key)
        if wrong is not None:
            raise ValueError(f"{path}: not a CURVE certificate ({name} not Z85: {wrong})")
    return public, secret


def _notZ85(key: bytes) -> str | None:
    """
    What makes C{key} (40 characters) no Z85 encoding of a 32-byte key, or
    L{None} if it is one.
    """
    for byte in key:
        if byte not in z85.Z85CHARS:
            return f"{chr(byte)!r} is not one of its characters"
    try:
        z85.decode(key)
    # (Five characters whose value passes 2**32, which struct refuses.)
    except Exception:  # noqa: BLE001
        return "a group of five characters is out of range"
    return None


def z85Encode(key: bytes) -> bytes:
    """
    A 32-byte CURVE key (as ZAP gives it) in Z85.
    """
    return z85.encode(key)


class ZmqContext:
    """
    A ZeroMQ context bound to a reactor, making sockets for it.

    @param reactor: the reactor whose thread owns every socket made here.
    """

    def __init__(self, reactor: IZmqReactor) -> None:
        # Installs the global reactor (see the top).
        from txzmq import ZmqFactory

        with _descriptorsNeeded():
            self._factory: _Factory = ZmqFactory()
        # txzmq reads the reactor from its factory; never the global one.
        self._factory.reactor = reactor
        self._factory.lingerPeriod = 0
        # The sockets made here, to close those shared with threads first
        # (see shutdown).
        self._sockets: list[ZmqSocket] = []

    @overload
    def socket(
        self,
        kind: str,
        receiver: FramesReceiver,
        highWaterMark: int,
        routingId: bytes | None = None,
        largeFrame: None = None,
    ) -> ZmqSocket: ...

    @overload
    def socket(
        self,
        kind: str,
        receiver: LargeFramesReceiver,
        highWaterMark: int,
        routingId: bytes | None = None,
        *,
        largeFrame: int,
    ) -> ZmqSocket: ...

    def socket(
        self,
        kind: str,
        receiver: FramesReceiver | LargeFramesReceiver,
        highWaterMark: int,
        routingId: bytes | None = None,
        largeFrame: int | None = None,
    ) -> ZmqSocket:
        """
        Make a socket.

        @raise OutOfFiles: the process has no file descriptor left for it.

        @param kind: C{"router"}, C{"dealer"} or C{"pair"}.
        @param receiver: called in the reactor thread with the frames of each
            message received (a ROUTER's first frame is the sender's id).
        @param highWaterMark: the send and receive high-water mark, in
            messages; never 0 (unlimited).
        @param largeFrame: if not L{None}, frames of at least this many
            bytes are received without a copy: the receiver gets them as
            read-only C{memoryview}s of ZeroMQ's buffer (of a copy on
            PyPy: see L{_receive}), and the others as L{bytes}.
        """
        with _descriptorsNeeded():
            sock = ZmqSocket.open(
                self._factory, kind, receiver, highWaterMark, routingId, largeFrame
            )
        self._sockets.append(sock)
        return sock

    def shutdown(self, linger: float = 0.0) -> None:
        """
        Close every socket and terminate the context.  A socket shared
        with threads (L{ZmqSocket.shareWithThreads}) is closed holding its
        lock, so that a thread still sending on it (a handler's application
        thread past its C{--graceful-timeout}) finds it closed instead of
        using it as it closes.

        @param linger: how long, in seconds, ZeroMQ may go on sending what
            the sockets still have queued (a stopping process's last
            messages); by default it is dropped.
        """
        for sock in self._sockets:
            if linger and not sock.closed:
                # What it keeps for the end of this turn, which it will
                # not see, among what is queued.
                sock.sendKept()
                sock.lingerOnClose(int(linger * 1000))
            if sock.shared:
                sock.close()
        self._sockets.clear()
        if self._factory.context is not None:
            self._factory.shutdown()


class _Factory(Protocol):
    """
    What we use of txzmq's C{ZmqFactory} (txzmq has no types).
    """

    reactor: IZmqReactor
    lingerPeriod: int
    context: object

    def shutdown(self) -> None: ...


class _Endpoint(Protocol):
    """
    A txzmq C{ZmqEndpoint}.
    """

    @property
    def type(self) -> str: ...

    @property
    def address(self) -> str: ...


class _Connection(Protocol):
    """
    What we use of a txzmq C{ZmqConnection}: our subclass of it, made by
    L{_connectionClass}.
    """

    socket: zmq.Socket[bytes] | None

    def addEndpoints(self, endpoints: list[_Endpoint]) -> None: ...

    def removeEndpoint(self, address: str) -> None: ...

    def doRead(self) -> None: ...

    def shutdown(self) -> None: ...


def _connectionClass() -> Callable[[_Factory, ZmqSocket, int, bytes | None], _Connection]:
    # Installs the global reactor (see the top).
    from txzmq import ZmqConnection, ZmqEndpointType

    # (txzmq has no types: its class is Any to mypy.)
    class _TxmpConnection(ZmqConnection):  # type: ignore[misc]
        socketType = None
        socket: zmq.Socket[bytes] | None
        endpoints: list[_Endpoint]

        def __init__(self, factory: _Factory, owner: ZmqSocket, socketType: int,
                     identity: bytes | None) -> None:
            self.socketType = socketType
            self._owner = owner
            ZmqConnection.__init__(self, factory, None, identity)

        def doRead(self) -> None:
            # (Called by txzmq's __init__ too: before open() sets _conn.)
            self._owner._read(self)

        def removeEndpoint(self, address: str) -> None:
            # What txzmq lacks to undo addEndpoints: disconnect, and forget
            # the endpoint, which would otherwise be listed once more at
            # every connect to the same address.
            if self.socket is not None:
                self.socket.disconnect(address)
            self.endpoints = [
                endpoint for endpoint in self.endpoints
                if (endpoint.type, endpoint.address) != (ZmqEndpointType.connect, address)
            ]

    return _TxmpConnection


# ZMQ_DONTWAIT and ZMQ_SNDMORE, ZMQ_EVENTS and its ZMQ_POLLIN and
# ZMQ_POLLOUT, from zmq.h (part of libzmq's ABI): pyzmq's enums cost a
# call each time they are used (getsockopt(zmq.EVENTS) & zmq.POLLIN, 4.0
# microseconds, against 2.5 with integers; timeit on this machine).
_NOBLOCK = 1
_SNDMORE = 2
_EVENTS = 15
_POLLIN = 1
_POLLOUT = 2


# Whether pyzmq's Socket.recv(copy=False) sets the Frame's "more" as it
# receives it (its Cython backend, on CPython, asking RCVMORE itself, in C;
# not its CFFI backend, on PyPy): if so, a message is read by each frame's
# "more", not by recv_multipart, which asks RCVMORE after every frame
# through pyzmq's getsockopt, and that makes an enum of it.
_FRAME_MORE = zmq.backend.Socket.__module__.startswith("zmq.backend.cython")


def _receive(sock: zmq.Socket[bytes], largeFrame: int | None) -> Sequence[Frame]:
    """
    One whole message from C{sock}: its frames as L{bytes}, but those of
    C{largeFrame} bytes or more as read-only memoryviews, each valid for
    as long as it is referred to: of ZeroMQ's buffer, not copied, on
    pyzmq's Cython backend (the view keeps its C{zmq.Frame} alive); of a
    copy on its CFFI backend (PyPy), where a Frame's buffer does not keep
    the Frame alive, and the Frame frees ZeroMQ's memory when the garbage
    collector takes it (a view read then reads freed memory).

    @raise zmq.Again: if none waits.
    """
    if not _FRAME_MORE:
        copies = sock.recv_multipart(_NOBLOCK)
        if largeFrame is None:
            return copies
        return [
            copy if len(copy) < largeFrame else memoryview(copy) for copy in copies
        ]
    frames: list[Frame] = []
    while True:
        frame = sock.recv(_NOBLOCK, copy=False)
        if largeFrame is None or len(frame) < largeFrame:
            frames.append(frame.bytes)
        else:
            frames.append(frame.buffer.toreadonly())
        if not frame.more:
            return frames


def inThisThread() -> Callable[[], bool]:
    """
    A function that tells whether it is called in the thread that called
    this one: made in the reactor thread, whether a call comes from it
    (the front's and the handler's sockets ask; so does the handler's
    L{txmp._handler.FrontLink}).
    """
    ident = threading.get_ident()
    return lambda: threading.get_ident() == ident


def isIPv6Address(address: str) -> bool:
    """
    Whether C{address} is a ZeroMQ C{tcp://} address whose host is an
    IPv6 address, as C{tcp://[::1]:5556} (or without the brackets, which
    ZeroMQ takes too).
    """
    if not address.startswith("tcp://"):
        return False
    host = address[len("tcp://"):].rpartition(":")[0]
    # What comes before a ';' is a source address (tcp://SOURCE;HOST:PORT),
    # whose port would look like an IPv6 colon.
    return ":" in host.rpartition(";")[2]


def _reason(error: zmq.ZMQError) -> str:
    """
    Why ZeroMQ refused an address, for a one-line message: not
    C{error.strerror}, which pyzmq 26 and later end with the address again
    ("(addr='tcp://...')").
    """
    return error.strerror if error.errno is None else zmq.strerror(error.errno)


def _immutable(frame: Frame) -> bool:
    """
    Whether C{frame} is C{bytes}, or a memoryview of C{bytes}: a buffer
    that nobody can change while ZeroMQ sends it without a copy.
    """
    return type(frame) is bytes or (
        type(frame) is memoryview and type(frame.obj) is bytes
    )


def _sendMultipart(socket: zmq.Socket[bytes], frames: list[bytes]) -> None:
    """
    C{socket.send_multipart(frames, NOBLOCK, copy=True)}, with the flags
    as plain integers: pyzmq's own combines enum flags for every frame,
    which costs more than the send itself (7.2 against 2.5 microseconds
    for a four-frame message, measured with C{timeit} on this machine).

    But a frame of L{ZERO_COPY_SEND} bytes or more that is immutable is
    sent with C{copy=False}: ZeroMQ then holds it, not a copy of it.
    """
    last = len(frames) - 1
    send = socket.send
    more = _NOBLOCK | _SNDMORE
    large = ZERO_COPY_SEND
    for index, frame in enumerate(frames):
        send(
            frame,
            more if index < last else _NOBLOCK,
            copy=large is None or len(frame) < large or not _immutable(frame),
        )


class ZmqSocket:
    """
    One ROUTER or DEALER socket in the reactor.

    @ivar peerLost: for a ROUTER, told when messages that waited for a
        peer are dropped because it is gone (L{PeerLost}); L{None} to
        tell no one.  (A send that finds a peer gone raises
        L{PeerUnreachable} instead.)
    """

    _log = Logger()
    peerLost: PeerLost | None = None

    # The txzmq connection (set by L{__init__}, or by L{open} once this
    # socket exists: the connection calls back into it).
    _conn: _Connection
    # Whether a call comes from the reactor thread (set by
    # shareWithThreads).
    _inReactorThread: Callable[[], bool]

    def __init__(
        self,
        reactor: IReactorTime,
        receiver: FramesReceiver | LargeFramesReceiver,
        router: bool = False,
        largeFrame: int | None = None,
        connection: _Connection | None = None,
        peerBacklog: int = PEER_BACKLOG,
    ) -> None:
        """
        A socket over a txzmq connection, or over a fake of one in a test.
        L{ZmqContext.socket} makes real ones (with L{open}).

        @param reactor: schedules the reads that follow a send.
        @param receiver: see L{ZmqContext.socket}.
        @param router: whether this is a ROUTER socket (whose first frame
            names the peer).
        @param largeFrame: see L{ZmqContext.socket}.
        @param connection: the txzmq connection, or any object with its
            C{socket} (a C{zmq.Socket}: C{send}, C{getsockopt},
            C{setsockopt}), C{doRead}, C{addEndpoints} and C{shutdown};
            L{None} for L{open}, which sets it at once.
        @param peerBacklog: for a ROUTER, how many messages may wait for
            one peer (see L{send}).
        """
        # (Only a socket with largeFrame receives memoryviews.)
        self._receiver = cast(LargeFramesReceiver, receiver)
        self._largeFrame = largeFrame
        self._reactor = reactor
        self._router = router
        if connection is not None:
            self._conn = connection
        # The messages that wait for ZeroMQ, by peer (a DEALER's all under
        # b""): a ROUTER's peers each have a pipe of their own, and one
        # whose pipe is full must not hold up the others.
        self._backlogs: dict[bytes, deque[list[bytes]]] = {}
        self._peerBacklog = peerBacklog
        # Peers' trouble, logged at a bounded rate per peer: a ROUTER's
        # peer that never reads may come back again and again.
        self._paced = PacedLog(reactor)
        self._flushCall: IDelayedCall | None = None
        # What sendSoon keeps for the end of the turn, by peer.
        self._batches: dict[bytes, list[bytes]] = {}
        # What combine was given and sendCombined has not sent yet, and
        # whether a thread is sending it (see sendCombined).
        self._combined: deque[bytes] = deque()
        self._combining = False
        self._connected = False
        self._monitor: ZmqSocket | None = None
        # Set by shareWithThreads: held around every use of the ZeroMQ
        # socket once other threads send on it.
        self._lock: threading.RLock | None = None
        self._wake: IReactorFromThreads | None = None

    @classmethod
    def open(
        cls,
        factory: _Factory,
        kind: str,
        receiver: FramesReceiver | LargeFramesReceiver,
        highWaterMark: int,
        routingId: bytes | None,
        largeFrame: int | None = None,
    ) -> ZmqSocket:
        """
        Make a ZeroMQ socket of C{kind} in txzmq's C{factory}; the
        parameters are L{ZmqContext.socket}'s.
        """
        if highWaterMark <= 0:
            raise ValueError("a high-water mark of 0 means unlimited memory")
        socketType = {"router": zmq.ROUTER, "dealer": zmq.DEALER, "pair": zmq.PAIR}[kind]
        self = cls(factory.reactor, receiver, socketType == zmq.ROUTER, largeFrame)
        # The connection reads (and so calls back into this socket) as soon
        # as it is made: it is made once the socket is ready.
        self._conn = _connectionClass()(factory, self, socketType, routingId)
        sock = self._socket()
        sock.setsockopt(zmq.SNDHWM, highWaterMark)
        sock.setsockopt(zmq.RCVHWM, highWaterMark)
        sock.setsockopt(zmq.LINGER, 0)
        if self._router:
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            # A handler that reconnects (after a network cut, say) takes its
            # routing id over from its stale connection instead of being
            # ignored.
            sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        return self

    def _socket(self) -> zmq.Socket[bytes]:
        """
        The C{zmq.Socket}, to set an option.

        @raise RuntimeError: if it is closed.
        """
        sock = self._conn.socket
        if sock is None:
            raise RuntimeError("the socket is closed")
        return sock

    def _beforeEndpoints(self, what: str) -> None:
        # libzmq applies security options to connections made afterwards
        # only: set late, they would leave the first link in clear text.
        if self._connected:
            raise RuntimeError(f"{what} must be set before bind or connect")

    def curveServer(self, secretKey: bytes, zapDomain: bytes) -> None:
        """
        Make this socket a CURVE server with this secret key (Z85), whose
        clients are authenticated by the ZAP handler of its context
        (L{ZmqContext.socket} bound to L{ZAP_ADDRESS}) for C{zapDomain}.
        Without a ZAP handler, every client is refused
        (C{ZAP_ENFORCE_DOMAIN}).  Call before L{bind}.
        """
        self._beforeEndpoints("CURVE")
        sock = self._socket()
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secretKey)
        sock.setsockopt(zmq.ZAP_DOMAIN, zapDomain)
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)

    def curveClient(self, publicKey: bytes, secretKey: bytes, serverKey: bytes) -> None:
        """
        Make this socket a CURVE client with this key pair, talking only
        to the server whose public key is C{serverKey} (all in Z85).  Call
        before L{connect}.
        """
        self._beforeEndpoints("CURVE")
        sock = self._socket()
        sock.setsockopt(zmq.CURVE_PUBLICKEY, publicKey)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secretKey)
        sock.setsockopt(zmq.CURVE_SERVERKEY, serverKey)

    def keepAlive(self, interval: float, timeout: float, connectTimeout: float) -> None:
        """
        Have ZeroMQ tell a dead connection from a quiet one, and connect
        again: it sends a ZMTP heartbeat every C{interval} seconds, closes
        a connection that has brought nothing for C{timeout} seconds, and
        gives up a TCP connect not made in C{connectTimeout} seconds, to
        try again at once.  Without, a connection a network cut left open
        holds what is sent on it until the kernel's next retransmission,
        whose wait doubles for as long as the cut lasts (48 s after a cut
        of 60 s, in a helper's test), and a connect tried during the cut
        waits for the kernel's SYN retries (up to two minutes).  A time
        over L{MAX_OPTION_MILLISECONDS} is given as that (a handler's
        C{--heartbeat} of a week has its dead connections found after
        24.8 days, not an C{OverflowError} at start).  Call before
        L{connect}.
        """
        self._beforeEndpoints("HEARTBEAT")
        sock = self._socket()
        sock.setsockopt(zmq.HEARTBEAT_IVL, optionMilliseconds(interval))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, optionMilliseconds(timeout))
        sock.setsockopt(zmq.CONNECT_TIMEOUT, optionMilliseconds(connectTimeout))

    def tcpKeepAlive(self, idle: int, interval: int, count: int) -> None:
        """
        Have the kernel probe a TCP connection that has carried nothing for
        C{idle} seconds, every C{interval} seconds, and close it after
        C{count} probes unanswered or answered by a reset: a connection
        whose peer is gone without the kernel hearing of it (the peer's
        end reset by a firewall, its host down) is then closed, and ZeroMQ
        forgets it, rather than keep it, its descriptor and what it has
        received unread, for as long as the process lives.  The kernel
        answers the probes of a live peer, paused or not.  Call before
        L{bind}/L{connect}.
        """
        self._beforeEndpoints("TCP_KEEPALIVE")
        sock = self._socket()
        sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
        sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, idle)
        sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, interval)
        sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, count)

    def maxMessageSize(self, size: int) -> None:
        """
        Disconnect a peer that sends a frame larger than C{size} bytes,
        instead of buffering it.  Call before L{bind}/L{connect}.
        """
        self._beforeEndpoints("MAXMSGSIZE")
        self._socket().setsockopt(zmq.MAXMSGSIZE, size)

    def monitorHandshakes(self, context: ZmqContext, observer: HandshakeObserver) -> None:
        """
        Call C{observer} in the reactor thread with every failed (and
        succeeded) security handshake and every disconnection of this
        socket, read from a ZeroMQ socket monitor.  Call before
        L{bind}/L{connect}, so that no event is missed.

        After C{HANDSHAKE_FAILED_AUTH} (the peer's ZAP handler refused our
        key) or C{HANDSHAKE_FAILED_PROTOCOL} (such as a peer that does not
        use CURVE), libzmq does not connect to that address again, as it
        does after any other failure: to try again, L{disconnect} and
        L{connect}.

        @param context: the context this socket was made in.
        """
        self._beforeEndpoints("the monitor")
        names = {
            getattr(zmq, name): name
            for name in (
                "EVENT_HANDSHAKE_FAILED_NO_DETAIL",
                "EVENT_HANDSHAKE_FAILED_PROTOCOL",
                "EVENT_HANDSHAKE_FAILED_AUTH",
                "EVENT_HANDSHAKE_SUCCEEDED",
                "EVENT_DISCONNECTED",
            )
        }
        events = 0
        for value in names:
            events |= value
        address = "inproc://txmp-monitor-" + newRoutingId().decode("ascii")
        with _descriptorsNeeded():
            self._socket().monitor(address, events)

        def received(frames: list[bytes]) -> None:
            try:
                event = parse_monitor_message(frames)
            # A malformed message (RuntimeError) or an event this pyzmq
            # does not know (ValueError from zmq.Event): not one we watch.
            except (RuntimeError, ValueError):
                return
            name = names.get(event["event"])
            if name is not None:
                observer(
                    name[len("EVENT_"):],
                    event["value"],
                    event["endpoint"].decode("utf-8", "replace"),
                )

        self._monitor = context.socket("pair", received, 1000)
        self._monitor.connect(address)

    def bind(self, address: str) -> None:
        """
        Bind to a ZeroMQ address.

        @raise AddressError: ZeroMQ refused the address, or it is an
            C{ipc://} path that another process listens on, or a file that
            is not a socket: libzmq would remove that file, whatever it
            is, and take its place, where a C{tcp://} address in use is
            refused; or a directory, which libzmq refuses as an address in
            use.
        """
        # Installs the global reactor (see the top).
        from txzmq import ZmqEndpoint, ZmqEndpointType

        path = ipcPath(address)
        if path is not None:
            if listening(path):
                raise AddressError(
                    f"cannot bind {address}: another process listens on {path}"
                    " (a front running already?)"
                )
            try:
                mode: int | None = os.stat(path).st_mode
            except OSError:
                mode = None  # (No file: libzmq removes nothing.)
            if mode is not None and stat.S_ISDIR(mode):
                # (libzmq cannot remove it, and says "Address already in
                # use", as for another front's socket.)
                directory = path.rstrip("/") or "/"
                raise AddressError(
                    f"cannot bind {address}: {directory} is a directory: give the "
                    f"path of a socket to make in it, such as {directory.rstrip('/')}/send"
                )
            if mode is not None and stat.S_ISSOCK(mode):
                unremovable = _unremovable(path)
                if unremovable is not None:
                    raise AddressError(f"cannot bind {address}: {unremovable}")
            if mode is not None and not stat.S_ISSOCK(mode):
                raise AddressError(
                    f"cannot bind {address}: {path} is not a socket, which libzmq"
                    " would remove: give the path of a socket, or of no file"
                )
        self._addEndpoint(ZmqEndpoint(ZmqEndpointType.bind, address), "bind")
        # A pipe attached now (inproc, at once) signals ZeroMQ's descriptor
        # only once a read has found it empty: read once more.
        self._scheduleRead()

    def _addEndpoint(self, endpoint: _Endpoint, verb: str) -> None:
        """
        Bind or connect to C{endpoint}.

        @raise AddressError: ZeroMQ refused the address (in use, malformed,
            unknown transport).
        """
        try:
            with self._lockIfShared():
                if isIPv6Address(endpoint.address):
                    # libzmq refuses an IPv6 address to bind ("No such
                    # device") and never reaches one it connects to, unless
                    # told IPv6 first: only then, so that a host name still
                    # means its IPv4 address, as without.
                    self._socket().setsockopt(zmq.IPV6, 1)
                self._conn.addEndpoints([endpoint])
        except zmq.ZMQError as e:
            raise AddressError(f"cannot {verb} {endpoint.address}: {_reason(e)}") from None
        self._connected = True

    def connect(self, address: str) -> None:
        """
        Connect to a ZeroMQ address; ZeroMQ reconnects by itself, but not
        after a peer ended the security handshake for good (see
        L{monitorHandshakes}): then L{disconnect} and connect again.
        """
        # Installs the global reactor (see the top).
        from txzmq import ZmqEndpoint, ZmqEndpointType

        self._addEndpoint(ZmqEndpoint(ZmqEndpointType.connect, address), "connect to")
        # A pipe attached now (inproc, at once) signals ZeroMQ's descriptor
        # only once a read has found it empty: read once more.
        self._scheduleRead()

    def disconnect(self, address: str) -> None:
        """
        Undo L{connect}: ZeroMQ closes the connection to C{address},
        discarding the messages in its pipe, and no longer reconnects
        there.  What waits here for ZeroMQ to take it (L{backlog}) stays.
        A closed socket does nothing.

        Called in the reactor thread, holding the lock of a socket shared
        with threads (L{shareWithThreads}).

        @raise AddressError: if this socket is not connected to C{address}.
        """
        if self._conn.socket is None:
            return
        try:
            with self._lockIfShared():
                self._conn.removeEndpoint(address)
        except zmq.ZMQError as e:
            reason = "not connected to it" if e.errno == errno.ENOENT else _reason(e)
            raise AddressError(f"cannot disconnect from {address}: {reason}") from None

    def _lockIfShared(self) -> AbstractContextManager[object]:
        """
        The lock of a socket shared with threads, to connect or disconnect
        while they send; otherwise nothing to hold.
        """
        return nullcontext() if self._lock is None else self._lock

    def shareWithThreads(
        self,
        reactor: IReactorFromThreads,
        inReactorThread: Callable[[], bool] | None = None,
    ) -> None:
        """
        Let any thread call L{send} from now on, not only the reactor's:
        ZeroMQ sockets are not thread-safe, but may pass from thread to
        thread across a full memory barrier, so every use of this one is
        then made holding a lock.  Call it before other threads use the
        socket.

        For a socket that only sends (a handler's return socket): a send
        from another thread schedules no read, as one in the reactor thread
        does (L{_scheduleRead}), unless ZeroMQ could not take the message
        (then the reactor is woken, to send it once it can).

        @param reactor: the reactor that owns the socket, woken with
            C{callFromThread}.
        @param inReactorThread: tells whether a call comes from the reactor
            thread; by default, from the thread that calls this method.
        @raise ValueError: for a ROUTER, whose sends name a peer and may
            raise L{PeerUnreachable}: only DEALERs are shared.
        """
        if self._router:
            raise ValueError("only a DEALER socket can be shared with threads")
        self._lock = threading.RLock()
        self._wake = reactor
        self._inReactorThread = (
            inThisThread() if inReactorThread is None else inReactorThread
        )

    @property
    def shared(self) -> bool:
        """
        Whether L{shareWithThreads} was called.
        """
        return self._lock is not None

    def send(self, frames: list[bytes]) -> None:
        """
        Send one multipart message; a ROUTER's first frame is the peer's id.

        Messages ZeroMQ cannot take now wait here, in order, until the socket
        is writable again.  A ROUTER keeps them per peer: a peer whose pipe
        is full (it does not read) holds up no message to another.  At most
        C{peerBacklog} wait for one peer: past that, the peer counts as
        unreachable, and what waited for it is discarded (it is as good as
        gone, and would otherwise cost memory without bound).

        @raise PeerUnreachable: if this is a ROUTER and the peer is not
            connected, or has C{peerBacklog} messages waiting already (the
            message is not sent).

        Sending on a closed socket does nothing.

        Called in the reactor thread, or in any thread once
        L{shareWithThreads} was called.
        """
        lock = self._lock
        if lock is None:
            if self._batches:
                # Those first, to keep the order of what goes to the peer.
                peer = frames[0] if self._router else b""
                if peer in self._batches:
                    self._sendBatch(peer, raiseLost=True)
            self._send(frames)
            return
        self._sendShared(lock, frames)

    def _sendShared(self, lock: threading.RLock, frames: list[bytes] | None) -> None:
        """
        L{send} C{frames} on a socket shared with threads, after what
        L{combine} was given (all of it, if C{frames} is L{None}).
        """
        with lock:
            inReactorThread = self._inReactorThread()
            # Messages waiting already have a flush to come.
            waiting = bool(self._backlogs)
            combined = self._combined
            while combined:
                # What ZeroMQ cannot take waits whole, a BATCH as one.
                count = min(len(combined), BATCH_LIMIT)
                if count == 1:
                    self._send([combined.popleft()], read=inReactorThread)
                else:
                    messages = [combined.popleft() for _ in range(count)]
                    self._send(encodeBatch(messages), read=inReactorThread)
            if frames is not None:
                self._send(frames, read=inReactorThread)
            full = not inReactorThread and not waiting and bool(self._backlogs)
        if full and self._wake is not None:
            # ZeroMQ is full: its descriptor signals when it can take more,
            # if the reactor reads it again (see _scheduleRead).
            self._wake.callFromThread(self._scheduleRead)

    def combine(self, message: bytes) -> None:
        """
        Add C{message}, one whole message packed into one frame
        (L{txmp.protocol.pack}), to those that L{sendCombined} sends next,
        in order: a handler's reply, added holding the lock that orders
        its request's replies, and sent once that is released.  Any thread,
        on a DEALER shared with threads (L{shareWithThreads}) whose peer
        takes C{BATCH}.
        """
        self._combined.append(message)

    def sendCombined(self) -> None:
        """
        Send what L{combine} was given: one message alone, several as one
        C{BATCH} (L{txmp.protocol.encodeBatch}) of at most L{BATCH_LIMIT},
        after any sent before with L{send}, and before any sent after.

        A thread that finds another sending them leaves its own to that
        one, which sends what it finds once its send returns, instead of
        waiting for the lock: the replies of application threads that end
        together go as one message, each thread back to its next request
        at once.  ZeroMQ's I/O threads and the front's reactor are then
        woken up once for several replies (docs/benchmarks.md, "Replies
        combined").  Any thread, on a DEALER shared with threads
        (L{shareWithThreads}).
        """
        lock = self._lock
        combined = self._combined
        while combined and not self._combining:
            # No atomic test-and-set is needed: two threads that both find
            # it clear both send, in turn, holding the lock.
            self._combining = True
            try:
                assert lock is not None, "combine() is for a shared socket"
                self._sendShared(lock, None)
            finally:
                # Cleared before the queue is looked at again: a message
                # added meanwhile by a thread that found it set is sent
                # by this one's next round.
                self._combining = False

    def _send(self, frames: list[bytes], read: bool = True) -> None:
        """
        L{send}, in the reactor thread or holding the lock; C{read}: read
        again soon after sending (see L{_scheduleRead}).
        """
        sock = self._conn.socket
        if sock is None:
            return  # closed: the process is stopping
        peer = frames[0] if self._router else b""
        backlog = self._backlogs.get(peer)
        if backlog is not None:
            if self._router and len(backlog) >= self._peerBacklog:
                del self._backlogs[peer]
                self._paced.warn(
                    self._log,
                    peer,
                    "peers taking no messages",
                    "peer {peer} takes no messages: {count} discarded, and"
                    " it counts as unreachable",
                    peer=idText(peer),
                    count=len(backlog),
                )
                raise PeerUnreachable(peer, backlog)
            backlog.append(frames)
            return
        self._sendNow(sock, frames, peer)
        if read:
            self._scheduleRead()

    def _sendNow(
        self,
        sock: zmq.Socket[bytes],
        frames: list[bytes],
        peer: bytes,
        waiting: Iterable[list[bytes]] | None = None,
    ) -> None:
        """
        Send C{frames} now, or keep them for when ZeroMQ can take them: as
        the messages C{waiting}, if given (a C{BATCH}'s own, see
        L{_sendBatch}).
        """
        try:
            # Copied below ZERO_COPY_SEND, measured (docs/benchmarks.md,
            # "Large bodies"): a zero-copy send of a 64 KiB body chunk costs
            # more than the copy (pyzmq's garbage-collector thread must
            # release each frame) and, on PyPy, holds the frames' memory
            # until a collection.
            _sendMultipart(sock, frames)
        except zmq.Again:
            self._backlogs[peer] = deque([frames] if waiting is None else waiting)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                raise PeerUnreachable(peer) from None
            raise

    def _scheduleRead(self) -> None:
        # Sending consumes ZeroMQ's edge-triggered readiness: read again soon
        # (what txzmq does, but on our reactor, once per turn at most).  Not
        # EVENTS at once, measured: docs/benchmarks.md, "A read after every
        # send".
        if self._flushCall is None:
            self._flushCall = self._reactor.callLater(0, self._readSoon)

    def _readSoon(self) -> None:
        self._flushCall = None
        if self._batches:
            self.sendKept()
        if self._conn.socket is not None:
            self._conn.doRead()

    def sendKept(self) -> None:
        """
        Send now what L{sendSoon} keeps for the end of the turn: there, and
        before the socket closes (L{ZmqContext.shutdown}: a stopping
        front's last C{BYE}s).  A peer found unreachable is told to
        L{peerLost}.  Reactor thread only.
        """
        for peer in list(self._batches):
            # (A peerLost told of one may have sent another's at once.)
            if peer in self._batches:
                self._sendBatch(peer)

    def sendSoon(self, peer: bytes, message: bytes) -> None:
        """
        Send C{message}, one whole message packed into one frame
        (L{txmp.protocol.pack}), to C{peer} at the end of this turn of the
        reactor (with the read that follows every send, L{_scheduleRead}),
        together with the others sent so to it meanwhile: as one C{BATCH}
        message (L{txmp.protocol.encodeBatch}) if there are several, at
        most L{BATCH_LIMIT}.  One ZeroMQ message instead of several costs
        ZeroMQ's I/O threads and the peer's reactor one wake-up instead of
        several (docs/benchmarks.md, "Several messages a send").

        A message sent to C{peer} with L{send} meanwhile sends those first,
        so that the peer gets every message in the order given.  A peer
        found unreachable when they are sent at the end of the turn is told
        to L{peerLost}, with them.  When they are sent at once, by L{send}
        or here, a peer found unreachable raises L{PeerUnreachable} with
        them in its C{dropped} (L{send}'s own message is not sent, and is
        not among them).

        Reactor thread only, on a ROUTER not shared with threads (a front's
        send socket).

        @raise PeerUnreachable: if C{peer} is not connected when this
            sends what was kept for it (there are L{BATCH_LIMIT} messages).
        """
        batch = self._batches.get(peer)
        if batch is None:
            self._batches[peer] = [message]
            self._scheduleRead()
            return
        batch.append(message)
        if len(batch) >= BATCH_LIMIT:
            self._sendBatch(peer, raiseLost=True)

    def _sendBatch(self, peer: bytes, raiseLost: bool = False) -> None:
        """
        Send what L{sendSoon} keeps for C{peer}.

        @param raiseLost: raise L{PeerUnreachable} if the peer is gone, as
            L{send} does; else tell L{peerLost}.
        """
        batch = self._batches.pop(peer)
        sock = self._conn.socket
        if sock is None:
            return  # closed: the process is stopping
        sent = 0
        try:
            if len(batch) == 1 or peer in self._backlogs:
                # Behind those waiting, if any, as messages of their own.
                for message in batch:
                    self._send([peer, message], read=False)
                    sent += 1
            else:
                # What ZeroMQ cannot take waits as the messages it holds.
                self._sendNow(
                    sock, [peer, *encodeBatch(batch)], peer,
                    waiting=([peer, message] for message in batch),
                )
        except PeerUnreachable as e:
            # What waited for it, then those of the batch not sent.
            dropped = [*e.dropped, *([peer, message] for message in batch[sent:])]
            if raiseLost:
                raise PeerUnreachable(peer, dropped) from None
            self._tellLost(peer, dropped)

    def _read(self, conn: _Connection) -> None:
        """
        L{_readNow}, holding the lock if the socket is shared with threads
        (L{shareWithThreads}).
        """
        lock = self._lock
        if lock is None:
            self._readNow(conn)
        else:
            with lock:
                self._readNow(conn)

    def _readNow(self, conn: _Connection) -> None:
        """
        Hand the messages ZeroMQ has for C{conn}, this socket's connection,
        to the receiver, then send what waits (L{_flush}).  The
        connection's C{doRead}: what txzmq's does (drain until ZeroMQ has
        nothing: its descriptor is edge-triggered), a whole message per
        call instead of a frame (L{_receive}), checking EVENTS, at a time;
        but at most L{READ_BATCH} messages in a turn of the reactor, the
        rest at the next, so that a peer sending faster than its messages
        are handled cannot keep the reactor from everything else.  A
        C{BATCH} (a peer's L{sendSoon} or L{sendCombined}) is handed to the
        receiver as its messages, one call each, as if each had come alone.
        Must be called in the reactor thread.
        """
        receiver = self._receiver
        largeFrame = self._largeFrame
        frames: Sequence[Frame]
        budget = READ_BATCH
        # Where a message's own frames begin: after a ROUTER's peer id.
        start = 1 if self._router else 0
        # Asking EVENTS first costs less than the zmq.Again that ends the
        # loop otherwise (getsockopt: get() makes an enum of it).
        while (
            conn.socket is not None
            # (EVENTS is an int: pyzmq types every option int | bytes.)
            and conn.socket.getsockopt(_EVENTS) & _POLLIN  # type: ignore[operator]
        ):
            if not budget:
                # More waits: ZeroMQ signals no edge for what is already
                # there, so read again at the next turn.
                self._scheduleRead()
                break
            budget -= 1
            try:
                frames = _receive(conn.socket, largeFrame)
            except zmq.Again:
                break
            # A BATCH (a peer's sendSoon or sendCombined) is read as its
            # messages, each one packed frame, as if each had come alone.
            batch = (
                batched(frames[start:])
                if len(frames) > start + 2 and frames[start + 1] == BATCH
                else None
            )
            for message in (
                (frames,) if batch is None
                else ([*frames[:start], frame] for frame in batch)
            ):
                try:
                    receiver(message)
                except Exception:  # noqa: BLE001 (any bug: logged, and reading goes on)
                    # Raised out of doRead, it would make the reactor drop
                    # this connection: the socket would never be read again,
                    # and a front would answer nothing but 504.  (And the
                    # other messages of a BATCH, up to BATCH_LIMIT requests
                    # or replies, must not be lost with one.)
                    self._log.failure(
                        "handling a received ZeroMQ message failed; reading on"
                    )
        self._flush()

    def forget(self, peer: bytes) -> list[list[bytes]]:
        """
        Discard what waits to be sent to C{peer} (see L{PeerSender}): what
        ZeroMQ could not take, then what L{sendSoon} keeps.
        """
        soon = [[peer, message] for message in self._batches.pop(peer, ())]
        return [*self._backlogs.pop(peer, ()), *soon]

    def _flush(self) -> None:
        sent = False
        lost: list[tuple[bytes, list[list[bytes]]]] = []
        for peer in list(self._backlogs):
            backlog = self._backlogs[peer]
            while backlog and self._conn.socket is not None:
                # (EVENTS is an int: pyzmq types every option int | bytes.
                # Not typing.cast: a call per message sent from the
                # backlog.)  A ROUTER is writable if any of its pipes is.
                events = self._conn.socket.getsockopt(_EVENTS)
                if not events & _POLLOUT:  # type: ignore[operator]
                    break
                frames = backlog.popleft()
                try:
                    _sendMultipart(self._conn.socket, frames)
                except zmq.Again:
                    backlog.appendleft(frames)
                    break
                except zmq.ZMQError as e:
                    # Its peer is gone (EHOSTUNREACH): so is the rest.
                    self._paced.warn(
                        self._log,
                        peer,
                        "queued messages dropped",
                        "dropped {count} queued messages to peer {peer}: {error}",
                        count=len(backlog) + 1,
                        peer=idText(peer),
                        error=e.strerror,
                    )
                    lost.append((peer, [frames, *backlog]))
                    backlog.clear()
                sent = True
            if not backlog:
                del self._backlogs[peer]
        if sent:
            # As after any send: a message that came meanwhile may have
            # consumed the descriptor's edge.
            self._scheduleRead()
        # Told once the backlogs are consistent: the observer may send.
        for peer, dropped in lost:
            self._tellLost(peer, dropped)

    def _tellLost(self, peer: bytes, dropped: list[list[bytes]]) -> None:
        """
        Tell L{peerLost} that C{peer} is gone with C{dropped}; what it
        raises is logged, not raised out of the reactor's call (which would
        drop the socket), as a receiver's is (see L{_readNow}).
        """
        if self.peerLost is not None:
            try:
                self.peerLost(peer, dropped)
            except Exception:  # noqa: BLE001 (any bug: logged)
                self._log.failure("handling dropped messages failed")

    @property
    def backlog(self) -> int:
        """
        How many messages wait for ZeroMQ to take them.
        """
        lock = self._lock
        if lock is None:
            return sum(map(len, self._backlogs.values()))
        # (Another thread may add a backlog meanwhile.)
        with lock:
            return sum(map(len, self._backlogs.values()))

    @property
    def closed(self) -> bool:
        """
        Whether the socket is closed.
        """
        return self._conn.socket is None

    def lingerOnClose(self, milliseconds: int) -> None:
        """
        When closed, try for this long to send what is queued (the last
        messages of a process that stops, such as C{BYE}).
        """
        self._socket().setsockopt(zmq.LINGER, milliseconds)

    def close(self) -> None:
        """
        Close the socket at once, discarding what is unsent.
        """
        lock = self._lock
        if lock is None:
            self._close()
        else:
            with lock:
                self._close()

    def _close(self) -> None:
        if self._flushCall is not None:
            self._flushCall.cancel()
            self._flushCall = None
        self._batches.clear()
        self._combined.clear()
        self._paced.flush()
        if self._monitor is not None:
            if self._conn.socket is not None:
                try:
                    self._conn.socket.disable_monitor()
                except zmq.ZMQError:
                    pass
            self._monitor.close()
            self._monitor = None
        if self._conn.socket is not None:
            self._conn.shutdown()
