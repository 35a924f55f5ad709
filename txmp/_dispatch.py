# -*- test-case-name: txmp.test.test_dispatch -*-
"""
The front's dispatcher: every request from its submission until its reply
has been delivered (the pending table, the queue, timeouts, retries), and
the decoding of what comes on both sockets.  The handlers, and the choice
of one for a request, are its L{txmp._registry.HandlerRegistry}'s.

Pure logic over two message channels and a clock: it never touches a socket
or the global reactor, so that unit tests drive it with fakes and a
L{twisted.internet.task.Clock}.
"""

from __future__ import annotations

import enum
import itertools
import os
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from attrs import define
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel

from txmp import protocol
from txmp._deadlines import Deadlines, PauseWatch
from txmp._defaults import (
    DEFAULT_HEARTBEAT,
    DEFAULT_MAX_QUEUE,
    DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_TIMEOUT,
    DEFAULT_WINDOW,
    GRANT_DIVISOR,
    LOG_MESSAGE_LENGTH,
    MAX_CREDITS,
    MAX_PEER_IDS,
    RECALL_AFTER,
)
from txmp._interfaces import cancelCall
from txmp._metrics import QUEUE_BUCKETS, Histogram
from txmp._peerlog import PacedLog, idText, printable, someIds
from txmp._registry import HandlerRegistry, HandlerState
from txmp._zmq import PeerSender, PeerUnreachable

#: What a request's id gets at its end for its second attempt (a retry):
#: the first's replies, still on their way, are then told from the
#: retry's (docs/protocol.md, 3.4).  No id of this front's has a C{/}.
RETRY_SUFFIX = b"/2"

IDEMPOTENT_METHODS = frozenset([b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"])


class FrontError(Exception):
    """
    A request could not be answered by a handler.

    @cvar status: the HTTP status the client gets (with its reason in
        L{txmp._http.REASONS}).
    """

    status = 500


class NoCapacity(FrontError):
    """
    No handler had capacity: the queue was full or the wait too long.
    """

    status = 503


class HandlerFailed(FrontError):
    """
    The handler reported that it could not produce a response, or was lost.
    """

    status = 502


class ReplyTimeout(FrontError):
    """
    No reply came within the timeout.
    """

    status = 504


class ReplyConsumer(Protocol):
    """
    Where a request's answer goes: its reply's head, then the rest of its
    body, or the error that ends it instead.  Called in the reactor thread;
    the consumer handles what it raises itself (the dispatcher is in the
    middle of reading its socket).

    @ivar complete: whether the client has the whole response already (it
        was complete at its C{Content-Length}, or its head was all of it),
        before the handler's C{END}: a failure of the reply after that is
        not the client's.
    @ivar requestId: the request's id as its access log line, its
        application and its handler's log know it (its C{X-Request-Id}):
        not always the dispatcher's own (L{PendingRequest.requestId}),
        which is another for a trusted proxy's id and for a retry.
    """

    complete: bool
    requestId: bytes

    def replyReceived(self, reply: Reply) -> None:
        """
        The reply's head and first body chunks; if C{reply.more}, the rest
        follows through L{writeBody} and L{finishBody} (or L{abortBody}).
        """

    def requestFailed(self, error: FrontError) -> None:
        """
        The request ends without a reply: C{error} says with which status
        to answer the client.  (A reply that has begun ends with
        L{abortBody} instead.)
        """

    def writeBody(self, chunks: Sequence[protocol.Frame]) -> None:
        """
        More body bytes: L{bytes}, or memoryviews of frames received
        without a copy, valid for as long as they are referred to.
        """

    def finishBody(self) -> None:
        """
        The body is complete.
        """

    def abortBody(self) -> None:
        """
        The body cannot be completed: the client must not see it as complete.
        """

    def abortSlow(self, timeout: float) -> None:
        """
        The client took too little of the response within the reply
        timeout, C{timeout} seconds (L{clientTaking} said C{False}): say so
        in the log, paced by client (a client may do it as often as it
        likes, on as many connections), and abort the body (L{abortBody}).
        """

    def clientTaking(self) -> bool | None:
        """
        The reply timeout passed: L{None} if the client's transport takes
        what is written (the reply waits for its handler), or what the
        client took is not known; else whether the client took enough of
        the response (L{MIN_PROGRESS} bytes, or all) since its transport
        filled, or since the last call (the handler may be waiting for
        window, which the front grants as the client takes the response).
        """


class RequestBodySource(Protocol):
    """
    Where a streamed request body comes from: the client's connection.
    Called in the reactor thread.
    """

    def startReading(self, sink: PendingRequest) -> None:
        """
        The request was dispatched (again, if it was retried): deliver
        the body with C{sink.bodyData(data)} and C{sink.bodyEnd()} from
        now on (what was received before, first).
        """

    def pauseReading(self) -> None:
        """
        The handler's window is used up, or body is held: read no more from
        the client.  (What comes meanwhile may still be delivered: it is
        held.)
        """

    def resumeReading(self) -> None:
        """
        The handler granted more window, and nothing is held.
        """

    def stopReading(self) -> None:
        """
        The request was abandoned: deliver nothing more.
        """


class Reply:
    """
    The head of a reply and its first body chunks, as the dispatcher gives
    them to the request's L{ReplyConsumer}.

    @ivar more: whether more body follows (through the L{ReplyConsumer}).
    @ivar contentLength: the reply's C{Content-Length}, if it has one (a
        single valid one: the decoder refuses others).
    """

    def __init__(
        self,
        pending: PendingRequest,
        head: protocol.ResponseHead,
        body: list[protocol.Frame],
    ) -> None:
        # Bytes as they came (checked by the decoder): what the front
        # writes to its client.
        self.status = head.status
        self.reason = head.reason
        self.headers = head.headers
        self.body = body
        self.more = head.more
        self.contentLength = head.contentLength
        self._pending = pending

    def cancel(self, clientGone: bool = True) -> None:
        """
        The client has gone, or the front answered it otherwise: stop the
        rest of this reply (L{PendingRequest.cancel}).
        """
        self._pending.cancel(clientGone)

    def invalid(self, why: str, status: int | None = None) -> None:
        """
        The front found this reply invalid where the decoder could not (its
        body does not match its C{Content-Length}): log and count it, and
        tell the handler to stop if it is still replying.

        @param status: the status the client was answered instead, if any.
        """
        self._pending.dispatcher._invalidReply(self._pending, why, status)

    def written(self, size: int, clientReady: bool) -> None:
        """
        C{size} body bytes went to the client's transport; see
        L{PendingRequest.bodyWritten}.
        """
        self._pending.bodyWritten(size, clientReady)

    def clientReady(self, grant: bool = True) -> None:
        """
        The client's transport accepts data again; see
        L{PendingRequest.clientReady}.
        """
        self._pending.clientReady(grant)


class RequestState(enum.Enum):
    """
    Where a L{PendingRequest} is.
    """

    # Waiting in the dispatcher's queue for a handler with credit.
    QUEUED = "queued"
    # Sent to a handler, which has not begun its reply.
    DISPATCHED = "dispatched"
    # The handler's reply has begun and more of it is coming.
    STREAMING = "streaming"
    # Answered, failed or abandoned: nothing more happens to it.
    DONE = "done"


# The members as module names: the per-request checks read a global, not
# an attribute of the enum class.
QUEUED, DISPATCHED, STREAMING, DONE = RequestState


@define(slots=False, eq=False, repr=False)
class PendingRequest:
    """
    One request from submission until its reply is complete or abandoned.

    @ivar streamed: whether its body follows the C{REQ} in C{BODY}/C{END}
        messages, read from its C{bodySource}.
    """

    # The state of a streamed request body, set on the instance only for
    # one (nothing per request for the others).
    streamed = False
    # Whether its handler was asked for it back (RECALL) and has not
    # answered, and how many times one gave it back (RECALLED): set on the
    # instance only then, as streamed is.
    recalled = False
    recalls = 0
    # Request body read from the client that the handler's window does not
    # let the front send yet (at most about a read: reading stops while any
    # is held), and whether its END waits behind it.
    _heldBody = b""
    _heldEnd = False
    # Whether the front is reading its streamed body from the client (the
    # client's body timeout runs, and the reply timeout does not).
    _readingBody = False

    dispatcher: Dispatcher
    requestId: bytes
    frames: list[bytes]
    idempotent: bool
    consumer: ReplyConsumer

    def __attrs_post_init__(self) -> None:
        # Its state is set here, not declared as fields: attrs' __init__
        # would fetch each default from its table, slower on every request.
        self.state = QUEUED
        self.handler: HandlerState[PendingRequest] | None = None
        self.attempts = 0
        self.queuedAt = 0.0
        self.bodySource: RequestBodySource | None = None
        # Request-body bytes the handler lets us send (None: unlimited).
        self.bodyWindow: int | None = None
        # Whether a BODY or END was sent: if so, it is never retried.
        self.bodySent = False
        self._readingPaused = False
        # Response-body bytes written to the client, not yet granted back.
        self._owed = 0
        # Response-body bytes received, and the window granted so far (the
        # REQ's, plus every WINDOW sent): a handler whose window is used up
        # must wait for a WINDOW (docs/protocol.md).
        self.responseBytes = 0
        self.granted = self.dispatcher.window

    @property
    def logId(self) -> str:
        """
        The request's id in the front's log: its consumer's
        (L{ReplyConsumer.requestId}, its C{X-Request-Id}), as its access
        log line, its application and its handler's log name it; not
        L{requestId}, which is another for a trusted proxy's id and for a
        retry.  (Only worked out for a line that is written.)
        """
        return (self.consumer.requestId or self.requestId).decode("ascii", "replace")

    def bodyData(self, data: bytes) -> None:
        """
        More request body from the client: pass it to the handler within
        its window (docs/protocol.md, "Streamed bodies and window").  A
        read that fits goes in one C{BODY}; one that passes the window's
        edge is split there, the rest held, and reading from the client
        stops until C{WINDOW}s have let all of it go.  While the request
        waits for another handler (retried), everything is held.
        """
        state = self.state
        if state is DONE:
            return
        window = self.bodyWindow
        if self._heldBody or state is QUEUED or (
            window is not None and len(data) >= window
        ):
            self._heldBody += data
            self._sendHeldBody()
            return
        if window is not None:
            self.bodyWindow = window - len(data)
        self._sendBody(data, False)

    def bodyEnd(self) -> None:
        """
        The request body is complete: C{END}, after what is held.
        """
        self.bodySource = None
        if self.state is not DONE:
            self._heldEnd = True
            self._sendHeldBody()

    def _bodyDispatched(self, window: int | None) -> None:
        """
        The request was dispatched to a handler whose request-body window
        is C{window}: send what waited for it, within the window, and read
        the rest.
        """
        self.bodyWindow = window
        self._sendHeldBody()
        if self.bodySource is not None:
            self.bodySource.startReading(self)

    def _sendHeldBody(self) -> None:
        """
        Send what is held, as far as the window allows, in one C{BODY}, and
        the C{END} once the body ended and nothing is held; then read from
        the client only if nothing is held and window is left.
        """
        if self.state is DISPATCHED or self.state is STREAMING:
            held = self._heldBody
            window = self.bodyWindow
            if held and (window is None or window > 0):
                if window is None or window >= len(held):
                    self._heldBody = b""
                else:
                    held, self._heldBody = held[:window], held[window:]
                if window is not None:
                    self.bodyWindow = window - len(held)
                self._sendBody(held, False)
            if self._heldEnd and not self._heldBody and (
                self.state is DISPATCHED or self.state is STREAMING
            ):
                self._heldEnd = False
                self._sendBody(b"", True)
        window = self.bodyWindow
        self._setReading(
            self.state is not QUEUED
            and not self._heldBody
            and (window is None or window > 0)
        )

    def _sendBody(self, data: bytes, end: bool) -> None:
        """
        Send C{data} to the handler in a C{BODY}, or in an C{END} if C{end}
        (with no data).  Once one is sent the request is not retried: the
        front keeps no copy of the body.  One that finds the handler
        unreachable is held again: if nothing of the body reached the
        handler (this was the first, or all before it were dropped unsent),
        a retry (see L{Dispatcher._requestsLost}) sends the body whole.
        """
        handler = self.handler
        if handler is None:
            return
        def holdAgain() -> None:
            # Kept if the request is retried (as what was dropped with it
            # is, see Dispatcher._requestsLost).
            self._heldBody = data + self._heldBody
            self._heldEnd = self._heldEnd or end

        dispatcher = self.dispatcher
        try:
            if dispatcher._sendTo(
                handler,
                protocol.encodeBody(self.requestId, [data] if data else [], end),
                unsent=holdAgain,
            ):
                self.bodySent = True
        except Exception:  # noqa: BLE001 (any bug: the client must not wait)
            dispatcher._bodyFailed(self)

    def _setReading(self, wanted: bool) -> None:
        """
        Have the body source read from the client, or not.
        """
        if wanted is self._readingPaused:
            self._readingPaused = not wanted
            source = self.bodySource
            if source is not None:
                if wanted:
                    source.resumeReading()
                else:
                    source.pauseReading()

    def readingBody(self, reading: bool) -> None:
        """
        The front is now reading this request's streamed body from the
        client (C{reading}: the handler has it and window is left, so the
        client's C{--body-timeout} runs), or no longer is (the body ended,
        the handler's window is used up, or the client's transport is
        full).  The reply timeout runs only while it is not: a handler
        waiting for a body the client stopped sending is not late, and the
        client gets 408 at its body timeout, not 504; the handler gets the
        whole reply timeout once the front waits for it again.
        """
        if reading is self._readingBody:
            return
        self._readingBody = reading
        if reading:
            self.dispatcher.replyTimes.stop(self)
        elif self.state is DISPATCHED or self.state is STREAMING:
            self.dispatcher.replyTimes.start(self)

    def _bodyWindowReceived(self, size: int) -> None:
        """
        The handler grants C{size} more bytes of request body.
        """
        if self.bodyWindow is not None:
            self.bodyWindow += size
            self._sendHeldBody()

    def bodyWritten(self, size: int, clientReady: bool) -> None:
        """
        C{size} bytes of the response body went to the client's transport.
        While it accepts more (C{clientReady}), grant the handler as much
        window back, half the window at a time (L{GRANT_DIVISOR}); while it
        does not, grant nothing, so that the application's thread waits.
        """
        self._owed += size
        if clientReady:
            self._grant()

    def clientReady(self, grant: bool = True) -> None:
        """
        The client's transport, which was full, has sent what it held: the
        client took some of the response, which, as a message from the
        handler does, restarts the reply timeout (a handler waiting for
        window sends nothing while a slow client reads).  Grant what was
        written.

        @param grant: whether to grant now; not while the front still
            holds more for the client than it writes at once, so that the
            window goes back in large grants (docs/benchmarks.md, "Held
            writes in pieces").
        """
        self.dispatcher.replyTimes.restart(self)
        if grant:
            self._grant()

    def _grant(self) -> None:
        """
        Grant the handler the response body written to the client, once it
        is half the window (L{GRANT_DIVISOR}).
        """
        window = self.dispatcher.window
        if self._owed and self._owed * GRANT_DIVISOR >= window and self.state is STREAMING:
            owed, self._owed = self._owed, 0
            self.granted += owed
            if self.handler is not None:
                self.dispatcher._sendTo(
                    self.handler, protocol.encodeWindow(self.requestId, owed)
                )

    def cancel(self, clientGone: bool = True) -> None:
        """
        Abandon this request: free its entry and tell the handler that has
        it, if any.

        @param clientGone: whether its client went away (counted as
            C{cancelled}), rather than the front ending the request itself
            (a refusal of its body, a stopping front's cut).
        """
        if self.state is not DONE:
            dispatcher = self.dispatcher
            if self.state is QUEUED:
                # Its wait counts too, as one ended by --queue-timeout does
                # (_queueTimedOut): left out, clients that give up sooner
                # than the front (a proxy's timeout) hid every long wait.
                dispatcher.queueWait.observe(dispatcher._reactor.seconds() - self.queuedAt)
            dispatcher._abandon(self)
            if clientGone:
                dispatcher.stats["cancelled"] += 1


def _unsentBodies(
    dropped: Sequence[list[bytes]],
) -> dict[bytes, tuple[list[protocol.Frame], bool]]:
    """
    The requests whose C{REQ} is among C{dropped} (messages to a handler,
    each with its id first, dropped unsent), each with the body chunks of
    its C{BODY}s among them and whether its C{END} is.
    """
    unsent: dict[bytes, tuple[list[protocol.Frame], bool]] = {}
    for frames in dropped:
        message = protocol.decode(frames[1:])
        if isinstance(message, protocol.Request):
            unsent[message.requestId] = ([], False)
        elif isinstance(message, protocol.Body) and message.requestId in unsent:
            chunks, end = unsent[message.requestId]
            chunks.extend(message.chunks)
            unsent[message.requestId] = (chunks, end or message.end)
    return unsent


def _requestIds(dropped: Sequence[list[bytes]]) -> set[bytes]:
    """
    The ids of the requests that messages among C{dropped} (messages to a
    handler, each with its id first, dropped unsent) were about: a C{REQ},
    a C{BODY}, a C{WINDOW} or a C{CANCEL}.  Not a C{RECALL}: the handler
    that missed one answers its request as always.
    """
    ids = set()
    for frames in dropped:
        message = protocol.decode(frames[1:])
        requestId = getattr(message, "requestId", None)
        if requestId is not None and not isinstance(message, protocol.Recall):
            ids.add(requestId)
    return ids


class Dispatcher:
    """
    Load-aware dispatch of requests to handlers.

    A handler announces with C{HELLO} how many requests it can take now
    (credits); each request sent to it takes one, and it gives them back
    with C{CREDIT}.  A request goes to the handler with the most credit, or
    waits in a bounded FIFO queue until one has some.

    The handlers themselves (registration, credits, the choice among them,
    heartbeats and liveness) are its L{HandlerRegistry}'s; the dispatcher
    keeps the requests (the pending table, the queue, timeouts, retries)
    and decodes what comes on both sockets.

    @ivar registry: the handlers.

    @param reactor: the clock for timeouts.
    @param sendSocket: the send socket (ROUTER), for requests and control.
    @param timeout: seconds to wait for each reply message after a request
        was dispatched; then the client gets 504 (or, mid-body, the
        connection is aborted).
    @param queueTimeout: seconds a request may wait for a handler with
        capacity; then the client gets 503.
    @param maxQueue: how many requests may wait; more get 503 at once.
    @param heartbeat: seconds between heartbeats, told to handlers; also
        what a reply or queue timer that ran late (a pause) waits more.
    @param window: response-body bytes a handler may send for one request
        before the front grants more (flow control).
    @param maxMessage: the largest frame the front's sockets accept
        (C{--max-message}), told to handlers in C{WELCOME}, or L{None} not
        to tell them.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        sendSocket: PeerSender,
        timeout: float = DEFAULT_TIMEOUT,
        queueTimeout: float = DEFAULT_QUEUE_TIMEOUT,
        maxQueue: int = DEFAULT_MAX_QUEUE,
        heartbeat: float = DEFAULT_HEARTBEAT,
        instance: str | None = None,
        window: int = DEFAULT_WINDOW,
        maxMessage: int | None = None,
    ) -> None:
        self.window = window
        self._reactor = reactor
        self._send = sendSocket
        # Each request's reply timer: L{timeout} for its handler's next
        # reply message, from when it is sent (or waits for the handler
        # again) and from each message that shows progress.
        # A timer that runs late, the front having been paused, or just
        # after another found a pause (one watch for all: the heartbeat's
        # finds every pause long enough to matter), waits one heartbeat
        # more (PauseGrace): as long as the check of the handlers' silence
        # gives them.
        pauses = PauseWatch()
        self.replyTimes: Deadlines[PendingRequest] = Deadlines(
            reactor, timeout, self._timedOut, grace=heartbeat, watch=pauses
        )
        # Each queued request's timer: --queue-timeout from when it joins
        # the queue, stopped when it leaves; paused as the reply timers are.
        self.queueTimes: Deadlines[PendingRequest] = Deadlines(
            reactor, queueTimeout, self._queueTimedOut, grace=heartbeat, watch=pauses
        )
        self.maxQueue = maxQueue
        self.instance = instance if instance is not None else os.urandom(8).hex()
        self._prefix = self.instance.encode("ascii") + b"."
        self._counter = itertools.count(1)
        # What peers do wrong, logged at a bounded rate per peer and kind
        # (a peer may send bad messages as fast as it likes); counted in
        # stats all the same.  The registry's lines about handlers joining
        # and leaving too: a peer may say HELLO and BYE as fast.
        self._paced = PacedLog(reactor)
        self.registry: HandlerRegistry[PendingRequest] = HandlerRegistry(
            reactor,
            self._sendTo,
            self._handlersLost,
            heartbeat=heartbeat,
            instance=self.instance,
            maxMessage=maxMessage,
            pauses=pauses,
            paced=self._paced,
        )
        self.pending: dict[bytes, PendingRequest] = {}
        self.queue: OrderedDict[bytes, PendingRequest] = OrderedDict()
        # Routing ids that registered, or whose dropped replies were
        # logged: a reply dropped from any other is logged, once per id
        # (at most MAX_PEER_IDS of them, see _peerSeen).
        self._peersSeen: set[bytes] = set()
        # The next look for requests waiting in handlers whose threads
        # turned slow (_checkRecalls), while any wait.
        self._recallTimer: IDelayedCall | None = None
        # Waiting for the pending table to empty (whenIdle).
        self._idleWaiters: list[Deferred[None]] = []
        # Whether a handler may still join, once told that no other will
        # (see lastHandlers); None until then.
        self._mayJoin: Callable[[], bool] | None = None
        # Seconds requests waited for a handler with capacity (metrics).
        self.queueWait = Histogram(QUEUE_BUCKETS)
        # A Counter: any status (a FrontError subclass may bring a new one)
        # counts from 0, and the usual ones show in --stats at 0.
        self.stats: dict[str, int] = Counter(
            dict.fromkeys(
                [
                    "requests",
                    "replies",
                    "retried",
                    "recalled",
                    "cancelled",
                    "slowClients",
                    "status502",
                    "status503",
                    "status504",
                    "droppedReplies",
                    "badMessages",
                ],
                0,
            )
        )

    @property
    def handlers(self) -> dict[bytes, HandlerState[PendingRequest]]:
        """
        The registered handlers by routing id (L{HandlerRegistry.handlers}):
        read only.
        """
        return self.registry.handlers

    # -- lifetime ------------------------------------------------------------

    def start(self) -> None:
        """
        Start heartbeats: a C{PING} to every handler each interval; a
        handler silent for three intervals is removed.
        """
        self.registry.start()

    def whenIdle(self) -> Deferred[None]:
        """
        A L{Deferred} that fires once no request is pending (at once if
        none is).  A stopping front waits so for the requests whose
        responses are complete but not yet ended by their handlers (a
        streamed response complete at its C{Content-Length} before the
        C{END}), so that its C{BYE} does not cancel them.  Cancelling it
        stops the wait.
        """
        if not self.pending:
            return succeed(None)
        waiter: Deferred[None] = Deferred(self._idleWaiters.remove)
        self._idleWaiters.append(waiter)
        return waiter

    def abandonAll(self) -> None:
        """
        Abandon every pending request, telling the handlers that have them
        C{CANCEL}: a stopping front that waited long enough for them.
        Their clients have had what they will get (the front's connections
        are closed by then).
        """
        for pending in list(self.pending.values()):
            self._abandon(pending)

    def lastHandlers(self, mayJoin: Callable[[], bool]) -> None:
        """
        No handler will join any more but those for which C{mayJoin} says
        so (a stopping front whose only handlers are those it spawned: it
        starts no more, and C{mayJoin} says whether one it started has not
        joined yet).  From then on, once no handler takes requests (each is
        draining, as Ctrl-C makes them, or gone) and none may join, every
        queued request fails at once with 503, as it would at
        C{--queue-timeout}, rather than waiting for a handler that cannot
        come: at the next C{BYE}, dispatch or request, or L{failStranded}.

        Only sets an attribute: may be called from a signal handler.
        """
        self._mayJoin = mayJoin

    def failStranded(self) -> None:
        """
        Fail the queued requests if no handler can ever take them (see
        L{lastHandlers}).  Called in the reactor thread.
        """
        mayJoin = self._mayJoin
        if mayJoin is None or not self.queue or mayJoin() or any(
            not handler.draining for handler in self.registry.handlers.values()
        ):
            return
        now = self._reactor.seconds()
        for pending in list(self.queue.values()):
            # (A 503 may bring a pipelined request, failed by a call of its
            # own, with those after it.)
            if pending.requestId in self.queue:
                self.queueWait.observe(now - pending.queuedAt)
                self._fail(pending, NoCapacity("no handler is left to take it"))

    def stop(self) -> None:
        """
        Stop heartbeats and tell every handler that this front is going.

        The front calls this once it holds no request: its stop
        (L{txmp._frontservice.FrontService.stopService}) first lets every
        connection finish, and abandons the requests of those still busy
        past C{--graceful-timeout}, then waits for the requests whose
        responses are complete to end (L{whenIdle}) for the rest of that
        time and abandons those left (L{abandonAll}), so a handler found
        unreachable here has nothing left to retry or fail.
        """
        self.registry.stop()
        cancelCall(self._recallTimer)
        self._recallTimer = None
        self._paced.flush()

    # -- the resource's side ------------------------------------------------

    def newRequestId(self) -> bytes:
        """
        A request id never used by this front: its instance, a dot, and a
        count in hex.
        """
        return self._prefix + b"%x" % (next(self._counter),)

    def submit(
        self,
        meta: protocol.BytesPairs,
        headers: protocol.BytesPairs,
        body: Sequence[bytes],
        consumer: ReplyConsumer,
        idempotent: bool = False,
        bodySource: RequestBodySource | None = None,
        requestId: bytes | None = None,
    ) -> PendingRequest:
        """
        Send a request to a handler as soon as one has capacity.  Its
        answer goes to C{consumer}: L{ReplyConsumer.replyReceived} with the
        reply's head, or L{ReplyConsumer.requestFailed} with a
        L{FrontError} (at once, if the queue is full).

        @param meta: the C{REQ} meta pairs (see L{protocol.encodeRequest}),
            without C{more} and C{window}, which this adds.
        @param requestId: its id, from L{newRequestId}; a new one if not
            given.
        @param body: the whole request body, if not streamed.
        @param bodySource: where the body comes from, if streamed: it is
            read once the request is dispatched, within the handler's
            window.
        @return: the request: its L{PendingRequest.cancel} abandons it (and
            does nothing once it has ended).
        """
        if requestId is None:
            requestId = self.newRequestId()
        frames = protocol.encodeRequest(
            requestId, meta, headers, body,
            more=bodySource is not None, window=self.window,
        )
        pending = PendingRequest(self, requestId, frames, idempotent, consumer)
        if bodySource is not None:
            pending.bodySource = bodySource
            pending.streamed = True
        self.pending[requestId] = pending
        self.stats["requests"] += 1
        if not self.queue and self._dispatch(pending):
            self.queueWait.observeZero()
            if self.queue:
                # A handler found unreachable left requests to retry.
                self._drainQueue()
            return pending
        if len(self.queue) >= self.maxQueue:
            self._fail(pending, NoCapacity("the queue is full"))
        else:
            self._enqueue(pending)
            self.failStranded()
        return pending

    def counts(self) -> dict[str, int]:
        """
        The sizes of everything that must return to its steady size when
        traffic stops: for tests and metrics.
        """
        return {
            "pending": len(self.pending),
            "queued": len(self.queue),
            "handlers": len(self.registry.handlers),
            "inFlight": sum(len(h.inFlight) for h in self.registry.handlers.values()),
            # What the handlers can take now: not a draining one's, which
            # takes none whatever it has left (its own stay in --stats).
            "credits": sum(
                h.credits for h in self.registry.handlers.values() if not h.draining
            ),
        }

    # -- dispatch ----------------------------------------------------------------

    def _dispatch(self, pending: PendingRequest) -> bool:
        """
        Send C{pending} to the handler the registry picks (the one with the
        most credit, see L{HandlerRegistry.pick}), if any has some.

        @return: whether it was sent.
        """
        while True:
            # Only a request the front may retry waits for a thread at a
            # handler: one that dies takes its waiting requests with it,
            # and one that never ran must not get 502 for that.
            handler = self.registry.pick(mayWait=pending.idempotent)
            if handler is None:
                return False
            # One found unreachable is removed, and the next one tried; the
            # caller dispatches what that removal queued.
            if self._sendTo(handler, pending.frames, drain=False):
                break
        self.registry.took(handler, pending.requestId, pending)
        pending.handler = handler
        pending.state = DISPATCHED
        pending.attempts += 1
        if self._recallTimer is None and handler.credits < handler.prefetch:
            # It waits for a thread there: look again in a while (if it
            # may be asked back: _checkRecalls arms no more otherwise).
            self._armRecalls()
        if not pending._readingBody:
            self.replyTimes.start(pending)
        if pending.streamed:
            try:
                pending._bodyDispatched(handler.inputWindow)
            except Exception:  # noqa: BLE001 (any bug: the client must not wait)
                self._bodyFailed(pending)
        return True

    def _armRecalls(self) -> None:
        self._recallTimer = self._reactor.callLater(RECALL_AFTER, self._checkRecalls)

    def _checkRecalls(self) -> None:
        """
        Ask the handlers whose threads turned slow while requests waited in
        them (L{HandlerRegistry.stalled}) for their waiting requests back
        (C{RECALL}), as many as the handlers could take now (threads free,
        or places to wait in a handler that serves fast requests:
        L{HandlerRegistry.room}), counting those asked already and not
        answered; look again in L{RECALL_AFTER} seconds while requests wait
        in handlers.  The requests that wait are a handler's newest (its
        threads take them in order) whose reply has not begun; of those,
        only one whose body is not streamed is asked for (the body's bytes
        sent would be lost).  The handler gives back only one that no
        thread took (C{RECALLED}); it answers the others as always.
        """
        self._recallTimer = None
        # One count for all: each place free takes one request given back.
        free = self.registry.room()
        for handler, waiting in self.registry.stalled() if free else ():
            for pending in reversed(handler.inFlight.values()):
                if not (waiting and free):
                    break
                if pending.state is not DISPATCHED:
                    continue
                waiting -= 1
                if pending.streamed:
                    continue
                free -= 1
                if not pending.recalled:
                    pending.recalled = True
                    if not self._sendTo(handler, protocol.encodeRecall(pending.requestId)):
                        # Unreachable: removed, its requests retried.
                        break
        if self.registry.waiting():
            self._armRecalls()

    def _recalled(self, handler: HandlerState[PendingRequest], requestId: bytes) -> None:
        """
        C{handler} gave C{requestId} back (C{RECALLED}): no thread of it
        took the request.  It goes first in the queue, and to a handler
        with a thread free if one has one; its slot at C{handler} is free.
        A handler gives back only what it was asked for (C{RECALL}): any
        other is a bad message (a request whose reply has begun, or whose
        streamed body was partly sent, must not be sent again).
        """
        pending = handler.inFlight.get(requestId)
        if pending is not None and not (pending.recalled and pending.state is DISPATCHED):
            self._bad(handler.identity, "RECALLED for a request not recalled")
            return
        self.registry.recalled(handler, requestId)
        if pending is None:
            # Given up meanwhile (its CANCEL crossed the RECALLED): its slot
            # may be free all the same.
            self._drainQueue()
            return
        self.stats["recalled"] += 1
        self.replyTimes.stop(pending)
        pending.handler = None
        pending.recalled = False
        # It never ran: a retry if its next handler dies is still its due.
        pending.recalls += 1
        self._enqueue(pending, first=True)
        self._drainQueue()

    def _enqueue(self, pending: PendingRequest, first: bool = False) -> None:
        pending.state = QUEUED
        pending.queuedAt = self._reactor.seconds()
        self.queue[pending.requestId] = pending
        if first:
            self.queue.move_to_end(pending.requestId, last=False)
        self.queueTimes.start(pending)

    def _queueTimedOut(self, pending: PendingRequest) -> None:
        # Its wait counts too: left out, the histogram showed no wait at
        # all while every client got 503 after waiting.
        self.queueWait.observe(self._reactor.seconds() - pending.queuedAt)
        self._fail(pending, NoCapacity("no handler had capacity in time"))

    def _drainQueue(self) -> None:
        while self.queue:
            head = next(iter(self.queue.values()))
            del self.queue[head.requestId]
            if not self._dispatch(head):
                self.queue[head.requestId] = head
                self.queue.move_to_end(head.requestId, last=False)
                break
            self.queueTimes.stop(head)
            self.queueWait.observe(self._reactor.seconds() - head.queuedAt)
        self.failStranded()

    # -- endings -------------------------------------------------------------

    def _release(self, pending: PendingRequest) -> None:
        """
        Remove every reference the dispatcher holds to C{pending}.
        """
        pending.state = DONE
        self.pending.pop(pending.requestId, None)
        if self._idleWaiters and not self.pending:
            waiters, self._idleWaiters = self._idleWaiters, []
            for waiter in waiters:
                waiter.callback(None)
        self.queue.pop(pending.requestId, None)
        self.queueTimes.stop(pending)
        if pending.handler is not None:
            self.registry.finished(pending.handler, pending.requestId)
        self.replyTimes.stop(pending)
        if pending.bodySource is not None:
            source, pending.bodySource = pending.bodySource, None
            source.stopReading()

    def _fail(
        self, pending: PendingRequest, error: FrontError, cancel: bool = False
    ) -> None:
        """
        End C{pending} with C{error}: the client gets its status, or, if the
        response has started, an aborted connection.

        @param cancel: whether to tell the handler that has it to stop.
        """
        wasStreaming = pending.state is STREAMING
        if cancel:
            self._abandon(pending)
        else:
            self._release(pending)
        if wasStreaming:
            # (Asked after abortBody: a response whole for its client,
            # written while the request's body still came, is complete only
            # once it ends there.)
            pending.consumer.abortBody()
            if not pending.consumer.complete:
                # (Else not a status the client got: it had its response.)
                self.countStatus(error.status)
        else:
            self.countStatus(error.status)
            pending.consumer.requestFailed(error)

    def _bodyFailed(self, pending: PendingRequest) -> None:
        """
        Forwarding C{pending}'s streamed request body failed unexpectedly
        (a bug): log it, and end the request with 500 (or, if its response
        has started, an aborted connection), telling the handler C{CANCEL},
        rather than leave the client and the handler waiting for a body
        that will not come until the timeout.  Called from within the
        C{except} clause.
        """
        self._log.failure(
            "forwarding the body of request {requestId} failed",
            requestId=pending.logId,
        )
        if pending.state is not DONE:
            self._fail(pending, FrontError("forwarding the body failed"), cancel=True)

    def _consumerFailed(self, pending: PendingRequest) -> None:
        """
        Writing C{pending}'s reply body to the client failed unexpectedly
        (a bug): log it, tell the handler C{CANCEL} if it is still replying,
        and abort the client's connection (the response cannot be completed,
        and must not look complete) instead of leaving it waiting until the
        timeout, or for ever after the C{END}.  Called from within the
        C{except} clause.
        """
        self._log.failure(
            "writing the reply to request {requestId} failed",
            requestId=pending.logId,
        )
        if pending.state is not DONE:
            self._abandon(pending)
        self.countStatus(FrontError.status)
        pending.consumer.abortBody()

    def countStatus(self, status: int) -> None:
        """
        Count a response the front made up itself, with C{status}.
        """
        self.stats["status%d" % (status,)] += 1

    def _invalidReply(
        self, pending: PendingRequest, why: str, status: int | None
    ) -> None:
        """
        See L{Reply.invalid}.
        """
        self.stats["badMessages"] += 1
        if status is not None:
            self.countStatus(status)
        self._paced.warn(
            self._log,
            pending.handler.identity if pending.handler else b"",
            "invalid replies",
            "handler {name} sent an invalid reply to request {requestId}: {why}",
            name=pending.handler.label if pending.handler else "?",
            requestId=pending.logId,
            why=why,
        )
        if pending.state is not DONE:
            self._abandon(pending)

    def _abandon(self, pending: PendingRequest) -> None:
        """
        Release C{pending} and, if a handler has it, send that handler
        C{CANCEL}.  (Released first: a send that finds the handler gone
        removes it, and must not find this request among its own.)
        """
        handler = pending.handler
        # Asked before the release, which forgets a draining handler whose
        # last request this was: it must be told all the same, or it runs
        # the request on (a response waiting for window that will not
        # come) until its --graceful-timeout.
        tell = (
            pending.state in (DISPATCHED, STREAMING)
            and handler is not None
            and self.registry.abandon(handler, pending.requestId)
        )
        self._release(pending)
        if tell and handler is not None:
            self._sendTo(handler, protocol.encodeCancel(pending.requestId))

    @property
    def timeout(self) -> float:
        """
        Seconds a handler has for each message of a reply (the first, then
        each that shows progress); read when a request's timer starts.
        """
        return self.replyTimes.period

    @timeout.setter
    def timeout(self, timeout: float) -> None:
        self.replyTimes.period = timeout

    @property
    def queueTimeout(self) -> float:
        """
        Seconds a request may wait in the queue for a handler with credit;
        read when it joins the queue.
        """
        return self.queueTimes.period

    def _timedOut(self, pending: PendingRequest) -> None:
        if pending.state is STREAMING:
            if pending.consumer.complete:
                # Its client has the whole response; the handler has not
                # ended it (an application's close() that takes long): no
                # 504.
                self._log.info(
                    "request {requestId}: answered, but not ended by handler "
                    "{name} within {timeout}s: cancelled",
                    requestId=pending.logId,
                    name=pending.handler.label if pending.handler else "?",
                    timeout=self.timeout,
                )
                self._abandon(pending)
                return
            taking = pending.consumer.clientTaking()
            if taking:
                # A slow client, taking the response: the handler waits
                # for the window it frees.
                self.replyTimes.start(pending)
                return
            if taking is not None:
                self.stats["slowClients"] += 1
                self._abandon(pending)
                pending.consumer.abortSlow(self.timeout)
                return
        self._log.warn(
            "request {requestId} timed out on handler {name}",
            requestId=pending.logId,
            name=pending.handler.label if pending.handler else "?",
        )
        self._fail(pending, ReplyTimeout("no reply in time"), cancel=True)

    def _sendTo(
        self,
        handler: HandlerState[PendingRequest],
        frames: list[bytes],
        drain: bool = True,
        unsent: Callable[[], object] | None = None,
    ) -> bool:
        """
        Send C{frames} (a request, a body, or control) to C{handler} on the
        send socket, packed if it takes that.  (The registry's way of
        sending, too.)  A handler found unreachable is gone: it is removed,
        and its requests retried or failed (see L{_requestsLost}).

        @param drain: whether to dispatch what waits after such a removal
            (not from within a dispatch, which goes on by itself).
        @param unsent: called if the handler is unreachable, before its
            requests are retried or failed (a body takes its data back).
        @return: whether it was sent, or kept to go with the others of this
            turn to a handler that takes C{BATCH} messages
            (L{txmp._zmq.PeerSender.sendSoon}).
        """
        if handler.packed:
            frames = protocol.pack(frames)
        try:
            if handler.batch and len(frames) == 1 and unsent is None:
                # With the rest of this turn's to it; a handler found gone
                # at the end of the turn is told to messagesDropped, with
                # them.  (Not a body chunk: one that finds the handler gone
                # must be held again at once.)
                self._send.sendSoon(handler.identity, frames[0])
            else:
                self._send.send([handler.identity, *frames])
        except PeerUnreachable as e:
            if unsent is not None:
                unsent()
            self._unreachable(handler, e.dropped, drain)
            return False
        return True

    def messagesDropped(self, identity: bytes, dropped: list[list[bytes]]) -> None:
        """
        The send socket found the peer C{identity} gone while C{dropped}
        (its messages, each with the peer's id first) waited for it, and
        dropped them (L{txmp._zmq.ZmqSocket.peerLost}): if it is a
        registered handler, it is gone, as if a send had found it
        unreachable (L{_unreachable}), at once rather than at the next
        send or heartbeat.  Must be called in the reactor thread.
        """
        handler = self.registry.get(identity)
        if handler is not None:
            self._unreachable(handler, dropped)

    def _unreachable(
        self,
        handler: HandlerState[PendingRequest],
        dropped: Sequence[list[bytes]] = (),
        drain: bool = True,
    ) -> None:
        """
        C{handler} was found unreachable: it is gone.  Remove it, and retry
        or fail its requests (see L{_requestsLost}).

        A draining handler with requests in flight is kept for their
        replies, unless one of them never reached it: it leaves only once
        it holds the front's C{BYE} and runs nothing, so it has answered
        every request it was sent, and closing its sockets can make a
        message to it (a C{PING}) fail while its last replies are still on
        their way on the return socket.  Should they not come (it died),
        its silence removes it (L{HandlerRegistry}, three heartbeats).

        @param dropped: the messages to it that were dropped unsent.
        @param drain: see L{_sendTo}.
        """
        if handler.draining and handler.inFlight:
            dropped = [*dropped, *self._send.forget(handler.identity)]
            if not _requestIds(dropped) & handler.inFlight.keys():
                return
        lost = self.registry.remove(handler)
        if lost is not None:
            self._paced.warn(
                self._log,
                handler.identity,
                "removals as unreachable",
                "handler {name} is unreachable: removed",
                name=handler.label,
            )
            self._requestsLost(
                lost, [*dropped, *self._send.forget(handler.identity)], handler.label
            )
            if drain:
                self._drainQueue()

    def _registerAnew(self, handler: HandlerState[PendingRequest]) -> None:
        """
        C{handler} said C{HELLO} with C{anew}, other than the one it was
        registered from: a connection of its to this front broke, and what
        went on it either way may be lost, a C{REQ} or a reply, and the
        credit it gave back (docs/protocol.md, 5.2).  Forget it as if it
        were declared dead: retry or fail its requests
        (L{_requestsLost}), none of which it will answer, and drop
        what waits to be sent to it; the C{HELLO} then registers it anew,
        with the credits it offers now, and its C{WELCOME} says
        C{registered}, so that it cancels what it still runs of them.
        Otherwise a lost reply would wait for C{--timeout} (a 504) and its
        credit would be missing for good while the handler stays
        registered.
        """
        # (Paced: a peer may say it as often as it likes.)
        if handler.inFlight:
            self._paced.warn(
                self._log,
                handler.identity,
                "registrations anew",
                "handler {name} lost a connection to this front (its HELLO says):"
                " registered anew, its requests retried or failed",
                name=handler.label,
            )
        else:
            # Nothing of this front's lost: no warning.  The usual case is
            # a front started anew on the addresses of one that stopped:
            # each of that one's handlers, whose connections to it broke,
            # asks this one so (twice, once a socket), and it cannot tell
            # whose connections they were.
            self._paced.emit(
                LogLevel.info,
                self._log,
                handler.identity,
                "registrations anew",
                "handler {name} lost a connection to a front at these addresses"
                " (its HELLO says): registered anew, with no request of this"
                " front's in flight",
                name=handler.label,
            )
        lost = self.registry.remove(handler)
        if lost is not None:
            self._requestsLost(
                lost, self._send.forget(handler.identity), handler.label,
                connectionLost=True,
            )

    def _sendPeer(self, identity: bytes, frames: list[bytes]) -> bool:
        """
        Send C{frames} to the peer C{identity} on the send socket.

        @return: whether it was sent: not if ZeroMQ found the peer
            unreachable (L{PeerUnreachable}).
        """
        try:
            self._send.send([identity, *frames])
        except PeerUnreachable:
            return False
        return True

    def _handlersLost(
        self, lost: list[tuple[HandlerState[PendingRequest], list[PendingRequest]]]
    ) -> None:
        """
        The registry found handlers silent, and removed them all: retry or
        fail their requests (see L{_requestsLost}), then dispatch what
        waits.
        """
        for handler, requests in lost:
            # What waits to be sent to it must not reach it if it comes
            # back: its requests are retried or failed now.
            self._requestsLost(
                requests, self._send.forget(handler.identity), handler.label
            )
        self._drainQueue()

    def _requestsLost(
        self,
        lost: list[PendingRequest],
        dropped: Sequence[list[bytes]],
        name: str,
        connectionLost: bool = False,
    ) -> None:
        """
        The handler that had C{lost} is gone.  Each is retried once on
        another handler if it is idempotent, its response has not begun
        and no byte of its body was sent (so the front holds all of it, or
        the client has yet to send it), and fails with 502 otherwise.  As
        nginx's C{proxy_next_upstream} does, a non-idempotent request is
        not retried once its C{REQ} was sent: the application may have
        acted on it, even before reading its body.

        But a request whose C{REQ} is among C{dropped}, messages to the
        handler that were dropped unsent, never reached it: it is retried
        whatever its method, with the body of its C{BODY}s among them held
        again.

        @param dropped: the messages to the handler dropped unsent (each
            with its id first), oldest first.
        @param connectionLost: whether the handler is forgotten because a
            connection of its broke (L{_registerAnew}), which is no fault
            of the requests: this loss does not count among a request's
            attempts, so that an idempotent one that was retried once
            already is retried again (a reset breaks both of a handler's
            connections, each said with its own C{anew}: a C{GET} retried
            on the first registration anew was failed with 502 on the
            second).
        @param name: the handler's name as logged: what became of its
            requests is logged, as nginx logs each request an
            upstream's death failed, since the front's own 502s (or
            responses cut) are otherwise only in the access log; not
            those whose clients have their whole response, which did not
            fail.
        """
        unsent = _unsentBodies(dropped)
        retried: list[bytes] = []
        failed: list[bytes] = []
        for pending in lost:
            self.replyTimes.stop(pending)
            pending.handler = None
            body = unsent.get(pending.requestId)
            if body is not None:
                # All its BODYs came after its REQ: they are all here.
                pending._heldBody = b"".join(body[0]) + pending._heldBody
                pending._heldEnd = pending._heldEnd or body[1]
                pending.bodySent = False
            if (
                pending.state is DISPATCHED
                and (pending.idempotent or body is not None)
                and not pending.bodySent
                and pending.attempts - pending.recalls - connectionLost < 2
            ):
                self.stats["retried"] += 1
                retried.append(pending.consumer.requestId)
                # (A RECALL it had is not answered now.)
                pending.recalled = False
                self._renewRequestId(pending)
                self._enqueue(pending, first=True)
            else:
                if not (pending.state is STREAMING and pending.consumer.complete):
                    # (One whose client has its whole response already, which
                    # only the handler's END was missing, did not fail.)
                    failed.append(pending.consumer.requestId)
                self._fail(pending, HandlerFailed("handler lost"))
        if retried or failed:
            self._log.warn(
                "handler {name} was lost with {count} requests: {retried} retried"
                " on another handler{retriedIds}, {failed} failed (502, or their"
                " responses cut){failedIds}",
                name=name,
                count=len(retried) + len(failed),
                retried=len(retried),
                retriedIds=someIds(retried),
                failed=len(failed),
                failedIds=someIds(failed),
            )

    def _renewRequestId(self, pending: PendingRequest) -> None:
        """
        Give C{pending}, about to be retried, a request id of its own for
        its second attempt: its first one's, then C{/2}.  The retry may go
        to the same handler, registered anew, and replies of the first
        attempt may still be on their way (sent before the handler heard
        it was forgotten): with the first id, they are dropped as late,
        never taken for the retry's (docs/protocol.md, 3.4).
        """
        del self.pending[pending.requestId]
        pending.requestId = pending.frames[2] = pending.requestId + RETRY_SUFFIX
        self.pending[pending.requestId] = pending

    # -- messages from handlers ----------------------------------------------

    def _bad(self, identity: bytes, why: str) -> None:
        self.stats["badMessages"] += 1
        handler = self.registry.handlers.get(identity)
        self._paced.warn(
            self._log,
            identity,
            "bad messages",
            "dropped a bad message from peer {peer}{handler}: {why}",
            peer=idText(identity),
            handler="" if handler is None else f" (handler {handler.label})",
            why=why,
        )

    def controlReceived(self, frames: list[bytes]) -> None:
        """
        A message arrived on the send socket.  C{frames[0]} is the sender's
        routing id.  Must be called in the reactor thread.
        """
        if not frames:
            return
        identity = frames[0]
        try:
            message = protocol.decode(frames[1:])
        except protocol.ProtocolError as e:
            self._bad(identity, str(e))
            return
        if isinstance(message, protocol.Hello):
            if identity[:1] == b"\0":
                # An id libzmq made up, for a socket that set none: the
                # peer's return socket has another, so its every reply
                # would be dropped and every request it took would time
                # out (docs/protocol.md, 2.1).  Not answered: a BYE would
                # bring the next HELLO at once.
                # Or what a handler sent on a connection that its next
                # one took over (ZMQ_ROUTER_HANDOVER names the old one so)
                # before this front read it: a front paused, or a network
                # cut, longer than the handlers' DEAD_CONNECTION.
                self._bad(
                    identity,
                    "HELLO from a routing id that starts with a zero byte"
                    " (the peer set no ZMQ_ROUTING_ID, or it is what a"
                    " handler sent on a connection that its next one took"
                    " over, after this front was paused or the network cut):"
                    " not registered",
                )
                return
            self._peerSeen(identity)
            known = self.registry.get(identity)
            if (
                message.anew is not None and known is not None
                and not known.draining and message.anew != known.anew
            ):
                self._registerAnew(known)
            # (One the WELCOME finds unreachable is removed by the send,
            # which dispatches what waits.)
            if self.registry.hello(identity, message) is not None:
                self._drainQueue()
            return
        handler = self.registry.get(identity)
        if handler is None:
            # A peer this front does not know (it restarted, or declared the
            # peer dead): BYE asks it to HELLO again.
            self._sendPeer(identity, protocol.encodeBye())
            return
        self.registry.heard(handler)
        if isinstance(message, protocol.Credit):
            self._credit(handler, message.credits)
        elif isinstance(message, protocol.Ping):
            pass
        elif isinstance(message, protocol.Recalled):
            self._recalled(handler, message.requestId)
        elif isinstance(message, protocol.Window):
            pending = handler.inFlight.get(message.requestId)
            if pending is not None:
                # The application is reading the body: that is progress.
                self.replyTimes.restart(pending)
                pending._bodyWindowReceived(message.size)
        elif isinstance(message, protocol.Bye):
            self.registry.bye(handler)
            self.failStranded()
        else:
            self._bad(identity, "unexpected message on the send socket")

    def _peerSeen(self, identity: bytes) -> None:
        """
        Remember C{identity} as a routing id that registered, or whose
        dropped replies were logged.  At most L{MAX_PEER_IDS} are kept:
        past that, all are forgotten, whatever ids peers use.
        """
        peers = self._peersSeen
        if len(peers) >= MAX_PEER_IDS and identity not in peers:
            peers.clear()
        peers.add(identity)

    def _unregisteredReply(self, identity: bytes) -> None:
        """
        A reply came on the return socket from C{identity}, a routing id
        that never registered: log it, once per id.  A handler whose return
        socket has another routing id than its send socket (or libzmq's,
        for none) has every reply dropped, and the front answers its
        requests 504 (docs/protocol.md, 2.1): without this line, only
        C{droppedReplies} would say why.
        """
        self._peerSeen(identity)
        if identity[:1] == b"\0":
            # Or replies sent on a connection that the handler's next one
            # took over (ZMQ_ROUTER_HANDOVER names the old one so) before
            # this front read them: as for a HELLO (controlReceived).
            why = (
                "; it starts with a zero byte: the peer set no ZMQ_ROUTING_ID"
                " on its return socket, or they came on a connection that a"
                " handler's next one took over, after this front was paused"
                " or the network cut (that handler registers anew, its"
                " requests retried or failed)"
            )
        else:
            # (Late replies of a handler of this front's previous run come
            # so too, before that handler has registered again.)
            why = (
                " (yet: if it registers within a few heartbeats, it was a"
                " handler's reply to the front's previous run)"
            )
        self._log.warn(
            "dropped replies from peer {peer}: that routing id has not"
            " registered{why}; each of a handler's two sockets must set the"
            " same ZMQ_ROUTING_ID (docs/protocol.md, 2.1), or every reply"
            " it sends is dropped and its requests time out"
            " (logged once per routing id)",
            peer=idText(identity),
            why=why,
        )

    def _credit(self, handler: HandlerState[PendingRequest], credits: int) -> None:
        """
        C{handler} gives C{credits} back (C{CREDIT}, or a C{RESP} with
        C{credit=1}): dispatch what waits.  Credits over the cap
        (L{HandlerRegistry.credit}) are a bad message.
        """
        if not self.registry.credit(handler, credits):
            self._bad(
                handler.identity,
                "CREDIT %d would give handler %s more than %d credits"
                % (credits, handler.label, MAX_CREDITS),
            )
            return
        self._drainQueue()

    def replyReceived(self, frames: Sequence[protocol.Frame]) -> None:
        """
        A message arrived on the return socket.  C{frames[0]} is the
        sender's routing id.  Body chunks may be memoryviews (see
        L{protocol.decode}), and are passed on so to the
        L{ReplyConsumer}.  Must be called in the reactor thread.
        """
        if not frames:
            return
        identity = bytes(frames[0])
        try:
            message = protocol.decode(frames[1:])
        except protocol.ProtocolError as e:
            self._bad(identity, str(e))
            # A garbled reply to a request this peer has: 502 now, not 504
            # later.
            requestId = protocol.requestIdOf(frames[1:])
            pending = self.pending.get(requestId) if requestId is not None else None
            if pending is not None and pending.handler is not None and (
                pending.handler.identity == identity
            ):
                self._fail(pending, HandlerFailed("invalid reply"), cancel=True)
            if requestId is not None and protocol.givesCreditBack(frames[1:]):
                # Owed as a late reply's (this one's request is given up
                # now, or was before): the handler is done with it.
                owed = self.registry.lateCredit(identity, requestId)
                if owed is not None:
                    self._credit(owed, 1)
            return
        if not isinstance(message, (protocol.Response, protocol.Body, protocol.Error)):
            self._bad(identity, "unexpected message on the return socket")
            return
        pending = self.pending.get(message.requestId)
        if (
            pending is None
            or pending.handler is None
            or pending.handler.identity != identity
        ):
            # Late (after a timeout or cancel), or not this peer's to answer.
            self.stats["droppedReplies"] += 1
            if identity not in self._peersSeen and identity not in self.handlers:
                self._unregisteredReply(identity)
            if not isinstance(message, protocol.Error) and message.credit:
                # The credit it carries is owed all the same, if this
                # registration of the handler had the request.
                owed = self.registry.lateCredit(identity, message.requestId)
                if owed is not None:
                    self._credit(owed, 1)
            return
        self.registry.heard(pending.handler)
        replyTimes = self.replyTimes
        if pending in replyTimes and not pending.consumer.complete and (
            message.head.more
            if isinstance(message, protocol.Response)
            else (
                not isinstance(message, protocol.Body)
                or message.end
                or any(message.chunks)
            )
        ):
            # Progress restarts the timeout.  (A complete reply's timer is
            # cancelled next, not reset; a BODY without a body byte is no
            # progress: a handler sending nothing else must not hold the
            # client past --timeout; nor is body the client will never
            # see, once it has the whole response, to HEAD say: the END
            # is due within --timeout of that, or a body without end would
            # run for ever, granted back as it is dropped.)
            replyTimes.start(pending)
        handler = pending.handler
        if isinstance(message, protocol.Response):
            if pending.state is not DISPATCHED:
                self._bad(identity, "a second RESP for one request")
                return
            self.stats["replies"] += 1
            if message.head.more:
                pending.state = STREAMING
                pending.responseBytes = sum(map(len, message.body))
            else:
                self._release(pending)
            pending.consumer.replyReceived(Reply(pending, message.head, message.body))
        elif isinstance(message, protocol.Body):
            if pending.state is not STREAMING:
                self._bad(identity, "BODY before RESP")
                return
            if message.chunks and not message.end:
                if pending.responseBytes >= pending.granted:
                    # Body past the window, not held for a client that
                    # does not read: the front would hold all a handler
                    # sent.  (An END may overshoot: the last message,
                    # which txmp's handler sends with the chunks of a
                    # result it collected, after write() used the window.)
                    self._bad(identity, "response body sent past its window")
                    self._fail(pending, HandlerFailed("window overrun"), cancel=True)
                    return
                pending.responseBytes += sum(map(len, message.chunks))
            if message.end:
                self._release(pending)
            try:
                if message.chunks:
                    pending.consumer.writeBody(message.chunks)
                if message.end:
                    pending.consumer.finishBody()
            except Exception:  # noqa: BLE001 (any bug: the client must not wait)
                self._consumerFailed(pending)
        else:
            self._log.warn(
                "handler {name} failed request {requestId}: {why}",
                name=pending.handler.label,
                requestId=pending.logId,
                # (Not "message": a legacy log observer, as trial installs,
                # replaces a "message" that is not a tuple with ().)
                why=printable(message.message, LOG_MESSAGE_LENGTH),
            )
            self._fail(pending, HandlerFailed(message.message))
            return
        if message.credit and not handler.draining:
            # A complete RESP's credit, or a LAST's, once the response is on
            # its way: the next request waits for this one's write less
            # than this one waited.
            self._credit(handler, 1)
