# -*- test-case-name: txmp.test.test_memory -*-
"""
In-memory fakes of txmp's ZeroMQ sockets and of the handler's runner, for
tests that drive a L{Dispatcher} and L{FrontLink}s without sockets, threads
or a real reactor.

L{MemorySocket} stands in for one L{txmp._zmq.ZmqSocket}: it records what is
sent.  L{MemoryNetwork} joins a front's L{Dispatcher} to any number of
handlers' L{FrontLink}s the way the two ROUTER/DEALER socket pairs do.
L{MemoryRunner} stands in for L{txmp._wsgi.WSGIRunner}: it records every
request and lets the test answer it through the request's sink.

Everything here runs in the calling thread; nothing here touches the global
reactor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import (
    Any,
    Callable,
)

from twisted.internet.interfaces import IReactorTime

from txmp import protocol
from txmp._defaults import DEFAULT_HEARTBEAT, DEFAULT_THREADS
from txmp._dispatch import Dispatcher
from txmp._handler import FrontLink
from txmp._zmq import PeerUnreachable

FramesReceiver = Callable[[list[bytes]], None]


class MemorySocket:
    """
    A fake L{txmp._zmq.ZmqSocket} that records every message sent on it.

    As a ROUTER (C{router=True}) the first frame of every message names the
    peer it is addressed to, and L{send} raises L{PeerUnreachable} for the
    peers in L{unreachable}, as a C{ROUTER_MANDATORY} socket does for a peer
    that is not connected; the message is then not recorded.

    @ivar sent: the frames of every message sent, oldest first; a ROUTER's
        messages include the peer id as their first frame.
    @ivar unreachable: peer ids for which L{send} raises L{PeerUnreachable}.
        Only consulted if this is a ROUTER.
    @ivar router: whether this is a ROUTER.
    @ivar closed: whether L{close} was called; L{send} on a closed socket
        does nothing, like the real one.
    """

    def __init__(
        self,
        router: bool = False,
        deliver: FramesReceiver | None = None,
    ) -> None:
        """
        @param router: whether this is a ROUTER socket (see above).
        @param deliver: if given, called with a copy of the frames of each
            message sent, after it is recorded; it may raise
            L{PeerUnreachable}, and the message is then not recorded.
        """
        self.router = router
        self.sent: list[list[bytes]] = []
        self.unreachable: set[bytes] = set()
        self.closed = False
        self._deliver = deliver

    def send(self, frames: list[bytes]) -> None:
        """
        Record one multipart message.

        @raise PeerUnreachable: if this is a ROUTER and the message's peer
            is in L{unreachable}.
        """
        if self.closed:
            return
        frames = list(frames)
        if self.router and frames and frames[0] in self.unreachable:
            raise PeerUnreachable(frames[0])
        if self._deliver is not None:
            self._deliver(list(frames))
        self.sent.append(frames)

    def close(self) -> None:
        """
        Close the socket: later messages are discarded.
        """
        self.closed = True

    @property
    def backlog(self) -> int:
        """
        How many messages wait to be sent: always 0 here.
        """
        return 0

    def messages(self) -> list[protocol.Message]:
        """
        The messages sent on this DEALER, decoded.

        @raise protocol.ProtocolError: if one of them is not a valid message.
        """
        return [protocol.decode(frames) for frames in self.sent]

    def routedMessages(self) -> list[tuple[bytes, protocol.Message]]:
        """
        The messages sent on this ROUTER, decoded, each with the id of the
        peer it was sent to.

        @raise protocol.ProtocolError: if one of them is not a valid message.
        """
        return [(frames[0], protocol.decode(frames[1:])) for frames in self.sent]

    def clear(self) -> None:
        """
        Forget the messages sent so far.
        """
        del self.sent[:]


class _Link:
    """
    One handler as L{MemoryNetwork} knows it.
    """

    def __init__(self, routingId: bytes) -> None:
        self.routingId = routingId
        self.receiver: FramesReceiver | None = None
        self.connected = True
        self.sendSocket: MemorySocket | None = None
        self.returnSocket: MemorySocket | None = None


class MemoryNetwork:
    """
    The two socket pairs between one front and its handlers, in memory.

    A front's send socket is a ROUTER: what its L{Dispatcher} sends to a
    routing id arrives at that handler's C{controlReceived} without the id,
    and sending to an id that no connected handler has raises
    L{PeerUnreachable}.  A handler's send and return sockets are DEALERs
    with the handler's routing id: what it sends on them arrives at the
    dispatcher's C{controlReceived} and C{replyReceived}, with the routing
    id prepended.

    Delivery is explicit: messages wait in L{inTransit} until L{flush}, so
    that no message is ever delivered while its sender is still in the
    middle of sending it, as with real sockets.  Tests may inspect, drop or
    reorder the messages in L{inTransit} before flushing.

    With C{immediate=True}, every send flushes before it returns (except a
    send made during a flush, whose message joins the flush in progress).
    That saves the calls to L{flush}, but it is reentrant in a way real
    sockets never are: the answer to a message can arrive before the
    sender's C{send} call has returned.  For instance the dispatcher records
    which handler has a request only after sending it, so a runner that
    answers inside C{run} (L{MemoryRunner.respondWith}) has its reply
    dropped as not coming from that handler.  Prefer L{flush}.

    @ivar frontSocket: the ROUTER to give the L{Dispatcher} as its send
        socket.  It records what it sends (see L{MemorySocket.sent}).
    @ivar dispatcher: the front, once L{attachFront} was called.
    @ivar inTransit: messages sent and not yet delivered, oldest first, as
        C{(receiver, frames)}.
    @ivar delivered: how many messages have been delivered so far.
    """

    # Flushing more than this many messages at once means two parties keep
    # answering each other: a bug in the code under test.
    maxDeliveries = 100000

    def __init__(self, immediate: bool = False) -> None:
        self.immediate = immediate
        self.frontSocket = MemorySocket(router=True, deliver=self._fromFront)
        self.dispatcher: Dispatcher | None = None
        self.inTransit: deque[tuple[FramesReceiver, list[bytes]]] = deque()
        self.delivered = 0
        self._links: dict[bytes, _Link] = {}
        self._flushing = False

    # -- wiring --------------------------------------------------------------

    def attachFront(self, dispatcher: Dispatcher) -> None:
        """
        Deliver what handlers send to C{dispatcher}, which must send with
        L{frontSocket}.
        """
        self.dispatcher = dispatcher

    def makeDispatcher(self, reactor: IReactorTime, **kwargs: Any) -> Dispatcher:
        """
        Make a L{Dispatcher} sending with L{frontSocket} and attach it.

        @param kwargs: the L{Dispatcher}'s other arguments.
        """
        dispatcher = Dispatcher(reactor, self.frontSocket, **kwargs)
        self.attachFront(dispatcher)
        return dispatcher

    def dealerSockets(self, routingId: bytes) -> tuple[MemorySocket, MemorySocket]:
        """
        The send and return DEALER sockets of a handler with C{routingId}.
        The front's sends to C{routingId} raise L{PeerUnreachable} until
        L{attachHandler} says where they go.
        """
        link = self._links.get(routingId)
        if link is None:
            link = self._links[routingId] = _Link(routingId)
        if link.sendSocket is None or link.returnSocket is None:
            link.sendSocket = MemorySocket(
                deliver=lambda frames: self._fromHandler(link, frames, True)
            )
            link.returnSocket = MemorySocket(
                deliver=lambda frames: self._fromHandler(link, frames, False)
            )
        return link.sendSocket, link.returnSocket

    def attachHandler(self, routingId: bytes, receiver: FramesReceiver) -> None:
        """
        Deliver what the front sends to C{routingId} to C{receiver}
        (a L{FrontLink}'s C{controlReceived}).
        """
        self.dealerSockets(routingId)
        self._links[routingId].receiver = receiver

    def makeLink(
        self,
        reactor: IReactorTime,
        runner: Any,
        routingId: bytes,
        name: str | None = None,
        capacity: int = DEFAULT_THREADS,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> FrontLink:
        """
        Make a L{FrontLink} on a new pair of DEALER sockets and attach it.
        It is not started: call its C{start} (and then L{flush}).

        @param name: its name; by default the routing id.
        @param capacity: its credits, a handler's C{--threads}; by default
            mphandler's.
        """
        sendSocket, returnSocket = self.dealerSockets(routingId)
        link = FrontLink(
            reactor,
            runner,
            sendSocket,
            returnSocket,
            name if name is not None else routingId.decode("ascii", "replace"),
            capacity,
            heartbeat=heartbeat,
        )
        self.attachHandler(routingId, link.controlReceived)
        return link

    def disconnect(self, routingId: bytes) -> None:
        """
        Cut a handler off, as if its process died: the front's sends to it
        raise L{PeerUnreachable}, and what it sends (now or already in
        transit) is lost.
        """
        link = self._links.get(routingId)
        if link is not None:
            link.connected = False
        self.inTransit = deque(
            (receiver, frames)
            for receiver, frames in self.inTransit
            if not self._involves(routingId, receiver, frames)
        )

    def reconnect(self, routingId: bytes) -> None:
        """
        Undo L{disconnect}.
        """
        link = self._links.get(routingId)
        if link is not None:
            link.connected = True

    def _involves(self, routingId: bytes, receiver: FramesReceiver,
                  frames: list[bytes]) -> bool:
        link = self._links[routingId]
        if receiver == link.receiver:
            return True
        return bool(frames) and frames[0] == routingId and receiver in (
            self._toControl,
            self._toReply,
        )

    # -- transport -----------------------------------------------------------

    def _fromFront(self, frames: list[bytes]) -> None:
        routingId = frames[0]
        link = self._links.get(routingId)
        if link is None or not link.connected or link.receiver is None:
            raise PeerUnreachable(routingId)
        self._post(link.receiver, frames[1:])

    def _fromHandler(self, link: _Link, frames: list[bytes], control: bool) -> None:
        if not link.connected:
            return
        self._post(self._toControl if control else self._toReply,
                   [link.routingId, *frames])

    def _toControl(self, frames: list[bytes]) -> None:
        if self.dispatcher is not None:
            self.dispatcher.controlReceived(frames)

    def _toReply(self, frames: list[bytes]) -> None:
        if self.dispatcher is not None:
            self.dispatcher.replyReceived(frames)

    def _post(self, receiver: FramesReceiver, frames: list[bytes]) -> None:
        self.inTransit.append((receiver, frames))
        if self.immediate and not self._flushing:
            self.flush()

    def flush(self) -> int:
        """
        Deliver every message in transit, and those sent while delivering
        them, until none is left.

        @return: how many messages were delivered.
        @raise RuntimeError: if more than L{maxDeliveries} are.
        """
        if self._flushing:
            raise RuntimeError("MemoryNetwork.flush() called while flushing")
        self._flushing = True
        count = 0
        try:
            while self.inTransit:
                count += 1
                if count > self.maxDeliveries:
                    raise RuntimeError("messages keep flowing: a loop?")
                receiver, frames = self.inTransit.popleft()
                self.delivered += 1
                receiver(frames)
        finally:
            self._flushing = False
        return count


class MemoryRun:
    """
    One request given to a L{MemoryRunner}.

    @ivar requestId: the request's id.
    @ivar head: its L{protocol.RequestHead}.
    @ivar body: its first body frames.
    @ivar sink: where its response goes: C{sendHead(status, reason, headers,
        body, more)}, C{sendBody(chunks, end)}, C{sendError(message)} and
        C{finished()}; and C{sendWindow(size)} to let the front send more
        of a streamed request body (see L{grantInput}).
    @ivar cancelled: whether the link called L{cancel}.
    @ivar bodyParts: the chunks of each later part of the request body
        (for a head with C{more} set), in order.
    @ivar bodyEnded: whether the end of the request body was received.
    @ivar windows: the size of each response window the front granted
        after the request (C{WINDOW}), in order; the first window is the
        request's C{window} meta attribute (C{head.extra["window"]}).
    """

    def __init__(self, requestId: bytes, head: protocol.RequestHead,
                 body: list[bytes], sink: Any) -> None:
        self.requestId = requestId
        self.head = head
        self.body = body
        self.sink = sink
        self.cancelled = False
        self.bodyParts: list[list[bytes]] = []
        self.bodyEnded = False
        self.windows: list[int] = []

    def cancel(self) -> None:
        """
        Record that the front no longer wants this response.
        """
        self.cancelled = True

    def bodyReceived(self, chunks: list[bytes], end: bool) -> None:
        """
        Record more of the request body, as
        L{txmp._wsgi.RunningRequest.bodyReceived} takes it.
        """
        self.bodyParts.append(list(chunks))
        if end:
            self.bodyEnded = True

    def windowReceived(self, size: int) -> None:
        """
        Record a response window, as
        L{txmp._wsgi.RunningRequest.windowReceived} takes it.
        """
        self.windows.append(size)

    def grantInput(self, size: int) -> None:
        """
        Let the front send C{size} more bytes of the request body, as the
        WSGI runner does when the application has read that much.
        """
        self.sink.sendWindow(size)

    def respond(
        self,
        status: int = 200,
        reason: bytes = b"OK",
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: Sequence[bytes] = (),
    ) -> None:
        """
        Send a complete response in one message and finish the run.
        """
        self.sink.sendHead(status, reason, list(headers), list(body), False)
        self.sink.finished()

    def fail(self, message: str = "failed") -> None:
        """
        Send C{ERROR} and finish the run.
        """
        self.sink.sendError(message)
        self.sink.finished()


class MemoryRunner:
    """
    A runner for L{FrontLink} that runs nothing: it records each request as
    a L{MemoryRun}, which the test completes through its sink.

    @ivar runs: every request given to L{run}, oldest first.
    @ivar respondWith: if not L{None}, every run is answered at once with
        this C{(status, reason, headers, body)}, synchronously inside L{run}.
    """

    def __init__(self) -> None:
        self.runs: list[MemoryRun] = []
        self.respondWith: (
            tuple[int, bytes, Sequence[tuple[bytes, bytes]], Sequence[bytes]] | None
        ) = None

    def run(self, requestId: bytes, head: protocol.RequestHead, body: list[bytes],
            sink: Any) -> MemoryRun:
        """
        Record a request.

        @return: its L{MemoryRun}, which the link cancels if the front
            sends C{CANCEL}.
        """
        run = MemoryRun(requestId, head, body, sink)
        self.runs.append(run)
        if self.respondWith is not None:
            run.respond(*self.respondWith)
        return run


__all__ = ["MemoryNetwork", "MemoryRun", "MemoryRunner", "MemorySocket"]
