# -*- test-case-name: txmp.test.test_integration -*-
"""
The ZeroMQ adapter: the only module that imports C{zmq} and C{txzmq}.

txzmq's L{ZmqConnection} is used for what it does well, draining ZeroMQ's
edge-triggered descriptor in the reactor, and corrected where it does not
fit: it schedules on the global reactor, defaults every high-water mark to
0 (unlimited memory), and drops a message silently when a peer is slow.
Here the reactor is the one passed in, high-water marks are explicit,
ROUTER sockets are C{ROUTER_MANDATORY}, and a message that ZeroMQ cannot
take now (C{EAGAIN}) waits in a local queue until the socket is writable
again instead of being lost.

All of this must be used in the reactor thread only.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Callable, Deque, List, Optional

from twisted.internet.interfaces import IReactorCore, IReactorFDSet, IReactorTime
from twisted.logger import Logger

FramesReceiver = Callable[[List[bytes]], None]


class PeerUnreachable(Exception):
    """
    A ROUTER socket has no connection to the peer a message is addressed to.
    """


def newRoutingId() -> bytes:
    """
    A routing id for a handler's sockets: 16 random bytes as 32 hex digits,
    so that ids do not repeat across processes and restarts, print well in
    logs, and never start with the zero byte that libzmq reserves.
    """
    return os.urandom(16).hex().encode("ascii")


class ZmqContext:
    """
    A ZeroMQ context bound to a reactor, making sockets for it.

    @param reactor: the reactor whose thread owns every socket made here.
    """

    def __init__(self, reactor: Any) -> None:
        from txzmq import ZmqFactory

        self._reactor = reactor
        self._factory = ZmqFactory()
        # txzmq reads the reactor from its factory; never the global one.
        self._factory.reactor = reactor
        self._factory.lingerPeriod = 0

    def socket(
        self,
        kind: str,
        receiver: FramesReceiver,
        highWaterMark: int,
        routingId: Optional[bytes] = None,
    ) -> "ZmqSocket":
        """
        Make a socket.

        @param kind: C{"router"} or C{"dealer"}.
        @param receiver: called in the reactor thread with the frames of each
            message received (a ROUTER's first frame is the sender's id).
        @param highWaterMark: the send and receive high-water mark, in
            messages; never 0 (unlimited).
        """
        return ZmqSocket(self._factory, kind, receiver, highWaterMark, routingId)

    def shutdown(self) -> None:
        """
        Close every socket and terminate the context.
        """
        if self._factory.context is not None:
            self._factory.shutdown()


def _connectionClass() -> type:
    from txzmq import ZmqConnection

    class _Connection(ZmqConnection):  # type: ignore[misc]
        socketType = None

        def __init__(self, factory: Any, owner: "ZmqSocket", socketType: int,
                     identity: Optional[bytes]) -> None:
            self.socketType = socketType
            self._owner = owner
            ZmqConnection.__init__(self, factory, None, identity)

        def messageReceived(self, message: List[bytes]) -> None:
            self._owner._receiver(message)

        def doRead(self) -> None:
            # What txzmq's doRead does (drain until ZeroMQ has nothing:
            # its descriptor is edge-triggered), a whole message per call
            # instead of a frame, checking EVENTS and RCVMORE, at a time.
            import zmq

            receiver = self._owner._receiver
            while self.socket is not None:
                try:
                    frames = self.socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                receiver(frames)
            self._owner._flush()

    return _Connection


class ZmqSocket:
    """
    One ROUTER or DEALER socket in the reactor.
    """

    _log = Logger()

    def __init__(
        self,
        factory: Any,
        kind: str,
        receiver: FramesReceiver,
        highWaterMark: int,
        routingId: Optional[bytes],
    ) -> None:
        import zmq

        if highWaterMark <= 0:
            raise ValueError("a high-water mark of 0 means unlimited memory")
        self._zmq = zmq
        self._receiver = receiver
        self._reactor: IReactorTime = factory.reactor
        self._backlog: Deque[List[bytes]] = deque()
        self._flushCall: Any = None
        socketType = {"router": zmq.ROUTER, "dealer": zmq.DEALER}[kind]
        self._router = socketType == zmq.ROUTER
        self._conn = _connectionClass()(factory, self, socketType, routingId)
        sock = self._conn.socket
        sock.setsockopt(zmq.SNDHWM, highWaterMark)
        sock.setsockopt(zmq.RCVHWM, highWaterMark)
        sock.setsockopt(zmq.LINGER, 0)
        if self._router:
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            # A handler that reconnects (after a network cut, say) takes its
            # routing id over from its stale connection instead of being
            # ignored.
            sock.setsockopt(zmq.ROUTER_HANDOVER, 1)

    @property
    def rawSocket(self) -> Any:
        """
        The C{zmq.Socket}, for options that must be set before
        L{bind}/L{connect} (CURVE, for instance).
        """
        return self._conn.socket

    def bind(self, address: str) -> None:
        """
        Bind to a ZeroMQ address.
        """
        from txzmq import ZmqEndpoint, ZmqEndpointType

        self._conn.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, address)])

    def connect(self, address: str) -> None:
        """
        Connect to a ZeroMQ address; ZeroMQ reconnects by itself.
        """
        from txzmq import ZmqEndpoint, ZmqEndpointType

        self._conn.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, address)])

    def send(self, frames: List[bytes]) -> None:
        """
        Send one multipart message; a ROUTER's first frame is the peer's id.

        Messages ZeroMQ cannot take now wait here, in order, until the socket
        is writable again.

        @raise PeerUnreachable: if this is a ROUTER and the peer is not
            connected (the message is not sent).

        Sending on a closed socket does nothing.
        """
        if self._conn.socket is None:
            return  # closed: the process is stopping
        if self._backlog:
            self._backlog.append(frames)
            return
        self._sendNow(frames)
        self._scheduleRead()

    def _sendNow(self, frames: List[bytes]) -> None:
        zmq = self._zmq
        try:
            # copy=False: pyzmq still copies frames under its copy_threshold
            # (64 KiB) and hands larger ones to libzmq without a copy.
            self._conn.socket.send_multipart(frames, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self._backlog.append(frames)
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                raise PeerUnreachable(frames[0] if self._router else b"") from None
            raise

    def _scheduleRead(self) -> None:
        # Sending consumes ZeroMQ's edge-triggered readiness: read again soon
        # (what txzmq does, but on our reactor, once per turn at most).
        if self._flushCall is None:
            self._flushCall = self._reactor.callLater(0, self._readSoon)

    def _readSoon(self) -> None:
        self._flushCall = None
        if self._conn.socket is not None:
            self._conn.doRead()

    def _flush(self) -> None:
        zmq = self._zmq
        while self._backlog and self._conn.socket is not None:
            events = self._conn.socket.getsockopt(zmq.EVENTS)
            if not events & zmq.POLLOUT:
                return
            frames = self._backlog.popleft()
            try:
                self._conn.socket.send_multipart(frames, zmq.NOBLOCK, copy=False)
            except zmq.Again:
                self._backlog.appendleft(frames)
                return
            except zmq.ZMQError as e:
                self._log.warn(
                    "dropped a queued message: {error}", error=e.strerror
                )

    @property
    def backlog(self) -> int:
        """
        How many messages wait for ZeroMQ to take them.
        """
        return len(self._backlog)

    def lingerOnClose(self, milliseconds: int) -> None:
        """
        When closed, try for this long to send what is queued (the last
        messages of a process that stops, such as C{BYE}).
        """
        self._conn.socket.setsockopt(self._zmq.LINGER, milliseconds)

    def close(self) -> None:
        """
        Close the socket at once, discarding what is unsent.
        """
        if self._flushCall is not None:
            self._flushCall.cancel()
            self._flushCall = None
        if self._conn.socket is not None:
            self._conn.shutdown()
