# -*- test-case-name: txmp.test.test_registry -*-
"""
The front's handler registry: which handlers are registered, how much each
can take, and whether each is still alive.

The L{txmp._dispatch.Dispatcher} owns one L{HandlerRegistry} and keeps the
requests (queue, pending table, timeouts, retries); the registry keeps the
handlers: C{HELLO} and C{WELCOME}, C{BYE} and draining, credits, the choice
of a handler for the next request, heartbeats and silence.  It never sends
a request and never decides what becomes of one: the requests a handler had
when it was lost are handed back to the dispatcher.

Pure logic over a clock and a send function, both passed in, so that unit
tests drive it with a L{twisted.internet.task.Clock}.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

from attrs import define, field
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel

from txmp import protocol
from txmp._deadlines import PauseWatch
from txmp._defaults import MAX_CREDITS, PREFETCH_STALL, RECALL_AFTER
from txmp._interfaces import cancelCall
from txmp._peerlog import PacedLog, printable

#: What the registry keeps for a handler's requests in flight: the
#: dispatcher's own record of each, opaque here.
T = TypeVar("T")


@define(slots=False, eq=False, repr=False)
class HandlerState(Generic[T]):
    """
    What the front knows of one registered handler.

    @ivar identity: its routing id on both sockets.
    @ivar name: the name it gave in C{HELLO}, as sent (for C{--stats}).
    @ivar label: that name as log lines show it (L{printable}): a peer
        chooses it, of any length.
    @ivar credits: how many more requests it can take now.
    @ivar inputWindow: the request-body window of its C{HELLO}, or L{None}
        (no flow control of request bodies).
    @ivar inFlight: the requests it has and has not finished replying to,
        by request id.
    @ivar abandoned: the requests of this registration the front gave up on
        while the handler had them: a late C{RESP} with C{credit=1} for one
        of them still frees a slot (and only for these: a C{RESP} from before
        the handler registered again must not credit the new registration).
    @ivar draining: whether it said C{BYE}: it gets no new requests.
    @ivar packed: whether its latest C{HELLO} said it takes packed messages
        (C{packed=1}): what is sent to it then is packed (L{protocol.pack}).
    @ivar batch: whether its latest C{HELLO} said it takes C{BATCH} messages
        (C{batch=1}, with C{packed=1}): what is sent to it in one turn of
        the reactor then goes as one ZeroMQ message.
    @ivar prefetch: how many of its slots are for requests that wait for a
        thread (its latest C{HELLO}'s C{prefetch}): while it has no more
        credits than this, every thread of it is busy.
    @ivar recall: whether its latest C{HELLO} said it answers C{RECALL}
        (C{recall=1}).
    @ivar lastCredit: when it last gave credit back (a request of it
        ended), on the registry's clock.
    @ivar previousCredit: when it gave credit back the time before (the
        same time, for credits given back together): a handler that ended
        two requests in the last L{PREFETCH_STALL} seconds serves fast
        ones.
    @ivar lastHeard: when the front last heard from it.
    @ivar exitDeadline: when it is declared dead, its process having
        exited (a handler the front spawned), or L{None}.
    @ivar exitGrace: the seconds its exit gave it before that deadline
        (L{HandlerRegistry.exited}), given once more if the front was
        paused at the deadline; 0 once given.
    @ivar turn: when it last got a request, in the registry's count of
        requests (negative, decreasing, for those that never did): among
        handlers with as much credit, the lowest wins.
    @ivar anew: the C{anew} of the C{HELLO} it was registered from (a
        connection of its broke), or L{None}: a C{HELLO} that repeats it
        asks for nothing more (docs/protocol.md, 5.2).
    """

    identity: bytes
    name: str
    credits: int
    inputWindow: int | None = None
    label: str = field(init=False)
    inFlight: dict[bytes, T] = field(init=False, factory=dict)
    abandoned: OrderedDict[bytes, None] = field(init=False, factory=OrderedDict)
    draining: bool = field(init=False, default=False)
    packed: bool = field(init=False, default=False)
    batch: bool = field(init=False, default=False)
    prefetch: int = field(init=False, default=0)
    recall: bool = field(init=False, default=False)
    lastCredit: float = field(init=False, default=-math.inf)
    previousCredit: float = field(init=False, default=-math.inf)
    lastHeard: float = field(init=False, default=0.0)
    exitDeadline: float | None = field(init=False, default=None)
    exitGrace: float = field(init=False, default=0.0)
    turn: int = field(init=False, default=0)
    anew: int | None = field(init=False, default=None)

    @label.default
    def _label(self) -> str:
        return printable(self.name)


#: Sends frames to a handler.  A send that finds the handler unreachable is
#: the sender's to deal with (it calls L{HandlerRegistry.remove}).  What it
#: returns is not read.
Sender = Callable[[HandlerState[T], list[bytes]], object]

#: Told the handlers found dead at one liveness check, each with the
#: requests it had, once all of them are removed.
LostHandlers = Callable[[list[tuple[HandlerState[T], list[T]]]], None]


@define(slots=False, eq=False, repr=False)
class HandlerRegistry(Generic[T]):
    """
    The handlers registered with a front, and their liveness.

    Every method must be called in the reactor thread.

    @ivar handlers: the registered handlers by routing id (read only: the
        registry's methods change it).
    @ivar drainObservers: called with a handler's name when it starts
        draining (for C{--spawn}: start its replacement at once).
    @ivar joinObservers: called with a handler's name when it registers
        anew and is welcomed (for C{--spawn}: a reload or a boot goes on).
    @ivar silenceObservers: called with a handler's name when it is declared
        dead for its silence (for C{--spawn}: kill it if it stays silent).

    @param clock: the clock of heartbeats and silence.
    @param send: how to send a handler C{WELCOME}, C{PING} and C{BYE}.
    @param lost: told of the handlers found silent for three heartbeats,
        with their requests in flight (see L{start}).
    @param heartbeat: seconds between heartbeats, told to handlers.
    @param instance: the front's instance id, told to handlers.
    @param maxMessage: the largest frame the front's sockets accept, told
        to handlers, or L{None} not to tell them.
    @param pauses: what the front's timers find of its pauses: the
        heartbeat tells it, the check of silence asks it.
    @param paced: where the lines about a handler joining, draining and
        leaving go, at a bounded rate per routing id: a peer that says
        C{HELLO} and C{BYE} in turn, as fast as it likes, would have each
        pair write three lines.  One of its own by default.
    """

    _log = Logger()

    _clock: IReactorTime
    _send: Sender[T]
    _lost: LostHandlers[T]
    heartbeat: float
    instance: str
    maxMessage: int | None = None
    pauses: PauseWatch = field(factory=PauseWatch)
    paced: PacedLog = field()
    handlers: dict[bytes, HandlerState[T]] = field(init=False, factory=dict)
    drainObservers: list[Callable[[str], None]] = field(init=False, factory=list)
    joinObservers: list[Callable[[str], None]] = field(init=False, factory=list)
    silenceObservers: list[Callable[[str], None]] = field(init=False, factory=list)
    _turns: int = field(init=False, default=0)
    _beat: IDelayedCall | None = field(init=False, default=None)
    _liveness: IDelayedCall | None = field(init=False, default=None)
    # When a late check last gave the silent handlers a heartbeat more: no
    # handler is declared dead before one heartbeat after it, and one
    # silent since before it has had its heartbeat more.
    _gracedAt: float = field(init=False, default=-math.inf)
    _running: bool = field(init=False, default=False)

    @paced.default
    def _paced(self) -> PacedLog:
        return PacedLog(self._clock)

    def _registration(self, handler: HandlerState[T], format: str, /, **fields: object) -> None:
        """
        Log that C{handler} joined, began to drain, or left (an info line),
        unless its routing id had its L{PacedLog.burst} of those lines in
        this interval: an honest handler has a few in its life.
        """
        self.paced.emit(
            LogLevel.info,
            self._log,
            handler.identity,
            "registrations",
            format,
            name=handler.label,
            **fields,
        )

    # -- lifetime ------------------------------------------------------------

    def start(self) -> None:
        """
        Start heartbeats: a C{PING} to every handler each interval; a
        handler silent for three intervals is removed then, and its
        requests are given to C{lost}.
        """
        self._running = True
        self._beat = self._clock.callLater(self.heartbeat, self._heartbeatTick)
        self._armLiveness()

    def stop(self) -> None:
        """
        Stop heartbeats and tell every handler C{BYE}: this front is going.
        """
        cancelCall(self._beat)
        cancelCall(self._liveness)
        self._beat = self._liveness = None
        self._running = False
        for handler in list(self.handlers.values()):
            self._send(handler, protocol.encodeBye())

    # -- registration --------------------------------------------------------

    def get(self, identity: bytes) -> HandlerState[T] | None:
        """
        The handler registered with routing id C{identity}, if any.
        """
        return self.handlers.get(identity)

    def hello(self, identity: bytes, hello: protocol.Hello) -> HandlerState[T] | None:
        """
        C{identity} sent C{HELLO}: register it (again), and answer
        C{WELCOME}; once that is sent, it has joined (the join observers
        are told of a handler new or draining until now).

        A handler repeats C{HELLO} at every heartbeat until C{WELCOME}
        reaches it: that one joined once, and keeps the credits it has.

        @return: its state; L{None} if the C{WELCOME} found it unreachable
            (the sender removed it: it did not join).
        """
        handler = self.handlers.get(identity)
        inputWindow = hello.window
        joined = handler is None or handler.draining
        # Registered anew, the handler must cancel what it still runs of a
        # registration this front forgot (declared dead, say): its WELCOME
        # names the HELLO it answers (docs/protocol.md, 5.1).
        registered = hello.sequence if handler is None else None
        if handler is None:
            handler = HandlerState(identity, hello.name, hello.credits, inputWindow)
            handler.anew = hello.anew
            # Never dispatched to: it wins ties with the others, the newest
            # first.
            self._turns += 1
            handler.turn = -self._turns
            self.handlers[identity] = handler
        else:
            handler.name = hello.name
            handler.label = printable(hello.name)
            if handler.draining:
                # A draining handler gives no credit back: start again from
                # what it offers now.
                handler.credits = hello.credits
            # Otherwise the count is exact since the handler registered (its
            # HELLO's credits, less the REQs sent, plus the CREDITs
            # received), while a repeated HELLO's may be stale by REQs that
            # crossed it: taking it would credit those twice, for good.
            handler.inputWindow = inputWindow
            handler.draining = False
        handler.packed = hello.packed
        handler.batch = hello.batch
        handler.prefetch = hello.prefetch
        handler.recall = hello.recall
        self.heard(handler)
        # creditInReply: a complete RESP may carry its request's credit
        # (docs/protocol.md), one message fewer per request each way, and
        # creditInEnd: so may the END of a streamed one (as LAST); packed:
        # this front takes packed messages.
        self._send(
            handler,
            protocol.encodeWelcome(
                front=self.instance,
                heartbeat=self.heartbeat,
                maxMessage=self.maxMessage,
                creditInReply=True,
                registered=registered,
                packed=True,
                creditInEnd=True,
                batch=True,
                # Which HELLO it answers: a handler that holds requests
                # until the answer to a HELLO of its own does not take an
                # older one's for it (docs/protocol.md, 5.1).
                answers=hello.sequence,
            ),
        )
        if self.handlers.get(identity) is not handler:
            return None
        # (Not "N of them prefetch": a handler that joins again with
        # requests still in hand offers fewer credits than its slots, maybe
        # fewer than its prefetch alone.)
        prefetch = f" (prefetch {handler.prefetch})" if handler.prefetch else ""
        line = "handler {name} joined with {credits} credits{prefetch}"
        if joined:
            self._registration(handler, line, credits=handler.credits, prefetch=prefetch)
        else:
            self._log.debug(
                line, name=handler.label, credits=handler.credits, prefetch=prefetch
            )
        if joined:
            for observer in self.joinObservers:
                observer(hello.name)
        return handler

    def bye(self, handler: HandlerState[T]) -> None:
        """
        C{handler} sent C{BYE}: it takes no new requests.  Acknowledge with
        C{BYE}.  Every C{REQ} sent to it before that acknowledgement reaches
        it first (one socket keeps order), so once it has the
        acknowledgement and its requests are done, it may go, and is
        forgotten.
        """
        if not handler.draining:
            handler.draining = True
            self._registration(
                handler,
                "handler {name} is draining with {count} requests in flight",
                count=len(handler.inFlight),
            )
            for callback in self.drainObservers:
                callback(handler.name)
        self._send(handler, protocol.encodeBye())
        self._forgetIfDrained(handler)

    def remove(self, handler: HandlerState[T]) -> list[T] | None:
        """
        Forget C{handler}: it is gone (unreachable, or silent).

        @return: the requests it had in flight, now the caller's; L{None}
            if it was not registered (any more).
        """
        if self.handlers.get(handler.identity) is not handler:
            return None
        del self.handlers[handler.identity]
        self._registration(handler, "handler {name} left")
        lost = list(handler.inFlight.values())
        handler.inFlight.clear()
        return lost

    def _forgetIfDrained(self, handler: HandlerState[T]) -> None:
        """
        Forget C{handler} if it is draining and has no request left.
        """
        if (
            handler.draining
            and not handler.inFlight
            and self.handlers.get(handler.identity) is handler
        ):
            del self.handlers[handler.identity]
            self._registration(handler, "handler {name} drained and left")

    # -- credits and requests ------------------------------------------------

    def pick(self, mayWait: bool = True) -> HandlerState[T] | None:
        """
        The handler the next request should go to.  First, one with a
        thread free (more credits than its C{prefetch}): the one with the
        most threads free; among equals, the one dispatched to longest ago
        (one never dispatched to first, the newest of those first), so that
        sequential requests reach every handler.  Only if none has, one
        whose every thread is busy, for the request to wait there (its
        C{prefetch}), as long as it finished two requests in the last
        L{PREFETCH_STALL} seconds: not behind threads all held by slow
        requests.  (One is not enough: the front's queue is drained when
        credit comes back, so a handler whose threads are all slow would
        have its prefetch filled each time one of them ends.)  Then the
        one with the most credit, ties as before.  Draining handlers get
        none.

        @param mayWait: whether the request may be sent to wait for a
            thread; if not, only a handler with a thread free gets it.

        @return: that handler, or L{None} if none may have it now: the
            request waits at the front, until credit comes back.
        """
        best: HandlerState[T] | None = None
        most = 0
        for handler in self.handlers.values():
            free = handler.credits - handler.prefetch
            if free > 0 and not handler.draining and (
                best is None
                or free > most
                or (free == most and handler.turn < best.turn)
            ):
                best, most = handler, free
        if best is not None or not mayWait:
            return best
        recent = self._clock.seconds() - PREFETCH_STALL
        for handler in self.handlers.values():
            if (
                handler.credits > 0
                and not handler.draining
                and handler.previousCredit >= recent
                and (
                    best is None
                    or handler.credits > best.credits
                    or (handler.credits == best.credits and handler.turn < best.turn)
                )
            ):
                best = handler
        return best

    def took(self, handler: HandlerState[T], requestId: bytes, request: T) -> None:
        """
        C{request} was sent to C{handler}: it took one credit.
        """
        handler.credits -= 1
        self._turns += 1
        handler.turn = self._turns
        handler.inFlight[requestId] = request

    def finished(self, handler: HandlerState[T], requestId: bytes) -> None:
        """
        The front is done with C{requestId} at C{handler} (its reply is
        complete, or it was given up): a draining handler with nothing
        left is forgotten.  (Its credit comes back by L{credit}.)
        """
        handler.inFlight.pop(requestId, None)
        self._forgetIfDrained(handler)

    def abandon(self, handler: HandlerState[T], requestId: bytes) -> bool:
        """
        The front gave C{requestId} up while C{handler} had it: remember
        it, so that a late C{RESP} carrying its credit still frees the
        slot (L{lateCredit}).

        @return: whether C{handler} is still registered, and so should be
            told C{CANCEL}.
        """
        if self.handlers.get(handler.identity) is not handler:
            return False
        handler.abandoned[requestId] = None
        if len(handler.abandoned) > MAX_CREDITS:
            # More than it can have had: the oldest got no RESP.
            handler.abandoned.popitem(last=False)
        return True

    def credit(self, handler: HandlerState[T], credits: int, ended: bool = True) -> bool:
        """
        C{handler} gives C{credits} back (C{CREDIT}, or a C{RESP} with
        C{credit=1}).

        @param ended: whether that many of its requests ended (noted, for
            L{pick} and L{stalled}); not for a request given back
            (L{recalled}), which says nothing of how fast its threads are.
        @return: whether they were taken: not if the handler would then
            hold more than L{MAX_CREDITS} (more than it could ever
            have been given back: a bug, or a peer claiming the traffic;
            granted, its count would grow without bound, one capped
            C{CREDIT} after another).
        """
        if handler.credits + credits > MAX_CREDITS:
            return False
        handler.credits += credits
        if credits and ended:
            now = self._clock.seconds()
            handler.previousCredit = now if credits > 1 else handler.lastCredit
            handler.lastCredit = now
        return True

    def waiting(self) -> list[tuple[HandlerState[T], int]]:
        """
        The handlers in which requests wait for a thread (fewer credits than
        their C{prefetch}) that they may be asked back: they answer
        C{RECALL} and are not draining (a draining handler gives no credit
        back: its silence says nothing).  Each with how many wait.
        """
        return [
            (handler, handler.prefetch - handler.credits)
            for handler in self.handlers.values()
            if handler.credits < handler.prefetch and handler.recall and not handler.draining
        ]

    def stalled(self) -> list[tuple[HandlerState[T], int]]:
        """
        Those of L{waiting} that gave no credit back for L{RECALL_AFTER}
        seconds: their threads turned slow after the requests were sent.
        """
        since = self._clock.seconds() - RECALL_AFTER
        return [(h, count) for h, count in self.waiting() if h.lastCredit <= since]

    def room(self) -> int:
        """
        How many requests the handlers that are not draining could take
        now, as L{pick} would send them: their threads free (credits beyond
        their C{prefetch}), and the credits of those with none free that
        ended two requests in the last L{PREFETCH_STALL} seconds (a
        request waits there for a thread of a handler that serves fast
        ones).  A handler whose threads turned slow has none.
        """
        recent = self._clock.seconds() - PREFETCH_STALL
        room = 0
        for handler in self.handlers.values():
            if handler.draining:
                continue
            if handler.credits > handler.prefetch:
                room += handler.credits - handler.prefetch
            elif handler.previousCredit >= recent:
                room += handler.credits
        return room

    def recalled(self, handler: HandlerState[T], requestId: bytes) -> T | None:
        """
        C{handler} gave C{requestId} back (C{RECALLED}): no thread of it
        took the request, and its slot is free again.  That is no request
        ended (L{credit}): the handler served none, and its threads may be
        as slow as they were.

        @return: the request, if the front still has it at C{handler}, to
            be sent again; L{None} if it gave it up meanwhile (the slot is
            counted free all the same, if this registration had it).
        """
        request = handler.inFlight.pop(requestId, None)
        if request is None and handler.abandoned.pop(requestId, False) is not None:
            return None
        if not handler.draining:
            self.credit(handler, 1, ended=False)
        self._forgetIfDrained(handler)
        return request

    def lateCredit(self, identity: bytes, requestId: bytes) -> HandlerState[T] | None:
        """
        A C{RESP} with C{credit=1} came from C{identity} for C{requestId},
        which the front no longer has.  Its credit is owed all the same if
        this registration of the handler had the request (L{abandon}) and
        the handler is not draining.

        @return: the handler to give the credit to (with L{credit}), or
            L{None}.
        """
        handler = self.handlers.get(identity)
        if (
            handler is not None
            and handler.abandoned.pop(requestId, False) is None
            and not handler.draining
        ):
            return handler
        return None

    # -- liveness ------------------------------------------------------------

    def heard(self, handler: HandlerState[T]) -> None:
        """
        A message came from C{handler}: it is alive for three more
        heartbeats.
        """
        handler.lastHeard = self._clock.seconds()
        if self._liveness is None and self._running:
            self._armLiveness()

    def exited(self, name: str, grace: float) -> None:
        """
        The process of the handlers registered as C{name} (one the front
        spawned) exited: declare them dead C{grace} seconds from now, once
        what they sent before it is read, rather than after three
        heartbeats of silence (as a check of silence does: their requests
        go to C{lost}; not told to the silence observers).  A check at
        that deadline that finds the front was paused (what they sent is
        not read yet) gives them C{grace} once more.
        """
        deadline = self._clock.seconds() + grace
        for handler in self.handlers.values():
            if handler.name == name and handler.exitDeadline is None:
                handler.exitDeadline = deadline
                handler.exitGrace = grace
        if self._running:
            cancelCall(self._liveness)
            self._armLiveness()

    def _heartbeatTick(self) -> None:
        assert self._beat is not None
        # Run every heartbeat, it finds a pause long enough to make the
        # handlers seem silent (PauseWatch).
        self.pauses.paused(self._beat.getTime(), self._clock.seconds())
        self._beat = self._clock.callLater(self.heartbeat, self._heartbeatTick)
        for handler in list(self.handlers.values()):
            self._send(handler, protocol.encodePing())

    def _armLiveness(self) -> None:
        # One timer for all handlers, at the earliest deadline; deadlines
        # only move later (but an exit's, which re-arms it), so a timer
        # that fires early just re-arms.  A silence is judged no sooner
        # than a heartbeat after a pause's grace (for their next PING); an
        # exit at its deadline all the same (an exited process sends none).
        self._liveness = None
        if self.handlers:
            silence = protocol.SILENT_INTERVALS * self.heartbeat
            due = max(
                min(h.lastHeard for h in self.handlers.values()) + silence,
                self._gracedAt + self.heartbeat,
            )
            for h in self.handlers.values():
                if h.exitDeadline is not None and h.exitDeadline < due:
                    due = h.exitDeadline
            delay = max(0.0, due - self._clock.seconds())
            self._liveness = self._clock.callLater(delay, self._checkLiveness)

    def _checkLiveness(self) -> None:
        assert self._liveness is not None
        now = self._clock.seconds()
        paused = self.pauses.paused(self._liveness.getTime(), now)
        self._liveness = None
        silence = protocol.SILENT_INTERVALS * self.heartbeat
        # (Each deadline as _armLiveness sums it: now - silence may round
        # below a lastHeard whose sum with it is now, and the check, found
        # early, would be set again for now, without end.)
        exited: list[HandlerState[T]] = []
        silent: list[HandlerState[T]] = []
        for h in self.handlers.values():
            if h.exitDeadline is not None and h.exitDeadline <= now:
                if paused and h.exitGrace:
                    # What it sent before it exited is not read yet: its
                    # grace again, once (not a heartbeat: no PING comes).
                    h.exitDeadline = now + h.exitGrace
                    h.exitGrace = 0.0
                else:
                    exited.append(h)
            elif h.lastHeard + silence <= now:
                silent.append(h)
        # The front was not running: what they sent meanwhile is not read
        # yet.  One more heartbeat, to read it and their next PING; once per
        # silence: one silent through it already is dead (a reactor late at
        # every check would keep it for ever).
        spared = [
            h for h in silent if protocol.sparedForPause(paused, h.lastHeard, self._gracedAt)
        ]
        if spared:
            silent = [h for h in silent if h.lastHeard < self._gracedAt]
            self._gracedAt = now
            self._log.warn(
                "the front's timers ran {late:.3f} s late (the front was paused?):"
                " {count} unheard for {silent} heartbeats get one more, to read"
                " what they sent meanwhile",
                late=self.pauses.lateness,
                count=len(spared),
                silent=protocol.SILENT_INTERVALS,
            )
        # Remove every dead handler before their requests are handed back,
        # lest a retry go to a handler about to be declared dead too.
        lost: list[tuple[HandlerState[T], list[T]]] = []
        for handler in exited + silent:
            hasExited = handler.exitDeadline is not None
            self._log.warn(
                "handler {name} {why}: declared dead",
                name=handler.label,
                why="exited" if hasExited else
                f"silent for {protocol.SILENT_INTERVALS} heartbeats",
            )
            requests = self.remove(handler)
            if requests is not None:
                lost.append((handler, requests))
            if not hasExited:
                for observer in self.silenceObservers:
                    observer(handler.name)
        self._armLiveness()
        if lost:
            self._lost(lost)
