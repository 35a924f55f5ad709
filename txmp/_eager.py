# -*- test-case-name: txmp.test.test_eager -*-
"""
Writing to a client connection at once, without a turn of the reactor.

Twisted's TCP transport buffers every write and sends it when the reactor
next finds the socket writable: per response, an C{epoll_ctl} to watch for
writability, a turn of the reactor, the C{send}, and an C{epoll_ctl} to stop
watching.  When the transport holds nothing, L{eagerWrite} sends at once and
gives the transport only what the socket did not take.

L{unsentBytes} says how much a transport still holds for its client: the
front watches a slow client take the last of a response by it.

This is the one module of txmp that reads private attributes of Twisted's
transports (L{twisted.internet.abstract.FileDescriptor}'s C{dataBuffer},
C{offset} and C{_tempDataLen}: what it holds unsent; C{socket}), and it
only does so for the transport classes it was checked against; every other
transport (TLS, a test's) gets a plain C{write}, and its unsent bytes are
not known.  C{txmp.test.test_eager} pins what it relies on.
"""

from __future__ import annotations

from twisted.internet import tcp, unix
from twisted.internet.interfaces import ITransport

# The transports whose buffers eagerWrite knows.
EAGER_TYPES = (tcp.Server, unix.Server)


def holdsNothing(transport: tcp.Server | unix.Server) -> bool:
    """
    Whether a TCP or UNIX transport has nothing buffered to send.
    """
    return not transport._tempDataLen and transport.offset == len(transport.dataBuffer)


def unsentBytes(transport: ITransport) -> int | None:
    """
    How many bytes C{transport} holds that its socket has not taken yet,
    if it is one of L{EAGER_TYPES}; L{None} (not known) for any other.
    """
    if type(transport) is tcp.Server or type(transport) is unix.Server:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    return None


def eagerWrite(transport: ITransport, data: bytes) -> None:
    """
    C{transport.write(data)}; but if C{transport} is one of L{EAGER_TYPES},
    is connected and not closing, and holds nothing unsent, first send what
    its socket takes at once, and give the transport only the rest.

    A failed send (the client reset the connection, say) is left for the
    transport to find on its own write, as it would have.
    """
    if (
        # type(transport) in EAGER_TYPES, as mypy reads it.
        (type(transport) is tcp.Server or type(transport) is unix.Server)
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
