# -*- test-case-name: txmp.test.test_eager -*-
"""
Writing to a client connection at once, without a turn of the reactor,
how much of what was written its client has not taken yet, and how long
the kernel waits for a client that acknowledges nothing.

Twisted's TCP transport buffers every write and sends it when the reactor
next finds the socket writable: per response, an C{epoll_ctl} to watch for
writability, a turn of the reactor, the C{send}, and an C{epoll_ctl} to stop
watching.  When the transport holds nothing, L{eagerWrite} sends at once and
gives the transport only what the socket did not take.

L{setUserTimeout} bounds how long the kernel waits for a client to
acknowledge what was sent to it (C{TCP_USER_TIMEOUT}): a client whose
network vanished, with neither FIN nor RST, is otherwise written to for
as long as TCP retransmits (about 15 minutes on Linux).

L{unsentBytes} says how much of what was written to a transport its client
has not made room for yet: what the transport holds, and what the kernel
holds unsent in the socket's send buffer (up to C{tcp_wmem}'s 4 MiB on
Linux, taken at once).  The front watches a slow client take a response by
it: the kernel frees its buffer as the client reads, long before it lets
the transport write again (epoll reports a TCP socket writable only once a
third of its buffer is free).

This is the one module of txmp that reads private attributes of Twisted's
transports (L{twisted.internet.abstract.FileDescriptor}'s C{dataBuffer},
C{offset} and C{_tempDataLen}: what it holds unsent; C{socket}; and
L{twisted.protocols.tls.TLSMemoryBIOProtocol}'s C{_appSendBuffer}), and it
only does so for the transport classes it was checked against; every other
transport (TLS, a test's) gets a plain C{write}, and what one holds unsent
is not known unless it is TLS over one of those.  C{txmp.test.test_eager}
pins what it relies on.
"""

from __future__ import annotations

import socket
import struct

from twisted.internet import tcp, unix
from twisted.internet.interfaces import ITransport

from txmp._defaults import EAGER_LIMIT

try:
    from twisted.protocols.tls import TLSMemoryBIOProtocol
except ImportError:  # pragma: no cover (the tls extra is not installed)
    TLSMemoryBIOProtocol = None  # type: ignore[assignment,misc]

try:
    import fcntl
    import termios
except ImportError:  # pragma: no cover (not POSIX)
    fcntl = termios = None  # type: ignore[assignment]

# The transports whose buffers eagerWrite knows.
EAGER_TYPES = (tcp.Server, unix.Server)

# Linux's ioctl for the bytes of a TCP socket's send buffer not sent yet
# (linux/sockios.h; since 3.12): those waiting for the client's window.
# SIOCOUTQ (TIOCOUTQ) would count the sent bytes not yet acknowledged too,
# which a client that has all may not have acknowledged yet.
SIOCOUTQNSD = 0x894B


def holdsNothing(transport: tcp.Server | unix.Server) -> bool:
    """
    Whether a TCP or UNIX transport has nothing buffered to send.
    """
    return not transport._tempDataLen and transport.offset == len(transport.dataBuffer)


def heldBytes(transport: tcp.Server | unix.Server) -> int:
    """
    How many bytes a TCP or UNIX transport holds that its socket has not
    taken yet.
    """
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def queuedBytes(skt: socket.socket | None) -> int:
    """
    How many bytes the kernel holds in C{skt}'s send buffer that its peer
    has not made room for: on TCP, those not sent yet (L{SIOCOUTQNSD}); on
    a UNIX socket, those its peer has not read (C{SIOCOUTQ}; with the
    overhead of the kernel's buffers, a little more).  0 where the
    kernel does not say (another system), or for a closed socket, or none
    (a transport whose connection is lost has no C{socket} any more).
    """
    if fcntl is None or skt is None:
        return 0
    request = termios.TIOCOUTQ if skt.family == socket.AF_UNIX else SIOCOUTQNSD
    try:
        answer = fcntl.ioctl(skt.fileno(), request, b"\0\0\0\0")
    except (OSError, ValueError):
        # (ValueError: closed, its descriptor -1.)
        return 0
    value: int = struct.unpack("i", answer)[0]
    return value


def unsentBytes(transport: ITransport) -> int | None:
    """
    How many bytes written to C{transport} its client has not made room
    for yet, if it is one of L{EAGER_TYPES}: what the transport holds
    (L{heldBytes}), and what the kernel holds of what its socket took
    (L{queuedBytes}).  For a TLS connection over one of them
    (C{--listen ssl:}), what its TCP transport and kernel hold of the
    encrypted bytes, and what the TLS layer holds unencrypted while a
    handshake is to end (C{_appSendBuffer}); otherwise it encrypts what it
    is given and hands it to the TCP transport at once, or at the next
    turn of the reactor (Twisted's C{BufferingTLSTransport} joins small
    writes, up to 64 KB, for one turn).  L{None} (not known) for any
    other.

    It asks the kernel: for timers, and when a transport fills, not for
    every write.
    """
    if type(transport) is tcp.Server or type(transport) is unix.Server:
        return heldBytes(transport) + queuedBytes(getattr(transport, "socket", None))
    if TLSMemoryBIOProtocol is not None and isinstance(transport, TLSMemoryBIOProtocol):
        tcpTransport = transport.transport
        beneath = None if tcpTransport is None else unsentBytes(tcpTransport)
        if beneath is None:
            return None
        return beneath + sum(len(data) for data in transport._appSendBuffer)
    return None


def setUserTimeout(transport: ITransport, seconds: float) -> bool:
    """
    Have the kernel end C{transport}'s connection when data sent on it
    stays unacknowledged for C{seconds} (C{TCP_USER_TIMEOUT}, in
    milliseconds, at least 1 and at most C{2**31 - 1}): the client's host
    is gone (a laptop closed, a phone out of coverage) or unreachable, not
    merely slow, as a slow client acknowledges what reaches it.  The
    transport then loses its connection (C{ETIMEDOUT}) as it would on a
    reset.

    For a TCP transport of L{EAGER_TYPES}, or TLS over one (its TCP
    transport's socket), where the system has C{TCP_USER_TIMEOUT} (Linux);
    nothing for any other (a UNIX socket, whose peer cannot vanish so).

    @return: whether it was set.
    """
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    beneath: ITransport | None = transport
    if TLSMemoryBIOProtocol is not None and isinstance(transport, TLSMemoryBIOProtocol):
        beneath = transport.transport
    if option is None or type(beneath) is not tcp.Server:
        return False
    skt = getattr(beneath, "socket", None)
    if skt is None:
        return False
    milliseconds = max(1, min(2**31 - 1, round(seconds * 1000)))
    try:
        skt.setsockopt(socket.IPPROTO_TCP, option, milliseconds)
    except (OSError, ValueError):
        # (ValueError: closed, its descriptor -1.)
        return False
    return True


def eagerWrite(transport: ITransport, data: bytes) -> None:
    """
    C{transport.write(data)}; but if C{transport} is one of L{EAGER_TYPES},
    is connected and not closing, and holds nothing unsent, first send what
    its socket takes at once, and give the transport only the rest.

    Not if C{data} is larger than L{EAGER_LIMIT}: the rest would be a copy
    of nearly all of it (the transport takes only C{bytes}), while the
    transport, given it whole, sends it without copying it (Twisted 23.10
    copies it once).

    A failed send (the client reset the connection, say) is left for the
    transport to find on its own write, as it would have.
    """
    if (
        len(data) <= EAGER_LIMIT
        # type(transport) in EAGER_TYPES, as mypy reads it.
        and (type(transport) is tcp.Server or type(transport) is unix.Server)
        and transport.connected
        and not transport.disconnecting
        and holdsNothing(transport)
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
