# -*- test-case-name: tests.test_resilience -*-
"""
A TCP relay on C{127.0.0.1} between handlers and a front's ZeroMQ address,
which a test can make drop what passes and then reset its connections: a
firewall that drops packets and then resets the connections
(C{iptables -j DROP}, then C{-j REJECT --reject-with tcp-reset}), without
root.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.address import IPv4Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort, IPushProducer, ITCPTransport
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from ._reactor import reactor
from .addresses import LOOPBACK


class _Side(Protocol):
    """
    One end of a relayed connection: what it receives goes out at the
    other end, unless the relay drops it.
    """

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.peer: _Side | None = None

    def tcp(self) -> ITCPTransport:
        """
        Its transport, a TCP connection's.
        """
        assert self.transport is not None
        return cast(ITCPTransport, self.transport)

    def connectionMade(self) -> None:
        self.relay.sides.add(self)

    def dataReceived(self, data: bytes) -> None:
        if self.relay.dropping:
            return
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.relay.sides.discard(self)
        peer, self.peer = self.peer, None
        if peer is not None and peer.transport is not None:
            peer.peer = None
            peer.transport.loseConnection()


class _Accepted(_Side):
    """
    A connection accepted from a handler: it reads nothing until the
    relay's connection to the front is made.
    """

    def connectionMade(self) -> None:
        super().connectionMade()
        cast(IPushProducer, self.transport).pauseProducing()
        d = TCP4ClientEndpoint(reactor, LOOPBACK, self.relay.target).connect(
            Factory.forProtocol(lambda: _Side(self.relay))
        )
        d.addCallbacks(self._connected, self._failed)

    def _connected(self, side: _Side) -> None:
        if self not in self.relay.sides:
            # Gone meanwhile.
            assert side.transport is not None
            side.transport.loseConnection()
            return
        self.peer, side.peer = side, self
        cast(IPushProducer, self.transport).resumeProducing()

    def _failed(self, reason: Failure) -> None:
        self.tcp().abortConnection()


class Relay:
    """
    Relays TCP connections made to its port on C{127.0.0.1} to C{target},
    a port there.

    @ivar dropping: whether what is received is dropped, on both sides, as
        a firewall that drops packets does.
    @ivar sides: the open ends of the relayed connections.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.dropping = False
        self.sides: set[_Side] = set()
        self._port: IListeningPort | None = None

    async def start(self) -> int:
        """
        Listen on a free port of C{127.0.0.1}.

        @return: The port.
        """
        endpoint = TCP4ServerEndpoint(reactor, 0, interface=LOOPBACK)
        self._port = await endpoint.listen(Factory.forProtocol(lambda: _Accepted(self)))
        address = self._port.getHost()
        assert isinstance(address, IPv4Address)
        return address.port

    def reset(self) -> int:
        """
        Reset every relayed connection on the handlers' side (a TCP RST:
        what was not read or sent yet is lost), as a firewall's
        C{REJECT --reject-with tcp-reset} answers the handler's packets:
        the front's side is left open, and relays nothing more, as a front
        that is told nothing keeps its end of the connection.

        @return: How many connections were reset.
        """
        accepted = [side for side in self.sides if isinstance(side, _Accepted)]
        for side in accepted:
            peer, side.peer = side.peer, None
            if peer is not None:
                peer.peer = None
            side.tcp().abortConnection()
        return len(accepted)

    async def stop(self) -> None:
        """
        Stop listening, and reset every connection, on both sides.
        """
        if self._port is not None:
            await maybeDeferred(self._port.stopListening)
            self._port = None
        for side in list(self.sides):
            side.peer = None
            side.tcp().abortConnection()
