# -*- test-case-name: txmp.test.test_credits -*-
"""
Credit accounting end to end: the front's L{Dispatcher} and mphandler's
L{FrontLink}s wired in memory, through pauses, network cuts, cancels,
recalls, timeouts and registrations anew; once everything has ended, the
front's count of each handler's credits equals its free capacity.

A credit lost is a slot the front never uses again; a credit too many is a
request sent to a handler with no room for it.  Either shows only once
traffic stops, which is what each test here waits for
(L{CreditTestCase.assertConverged}).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txmp import protocol
from txmp._defaults import (
    DEFAULT_HEARTBEAT,
    DEFAULT_TIMEOUT,
    DOUBT_AFTER,
    HIGH_WATER_MARK,
    LARGE_FRAME,
    LIVENESS_LATENESS,
    RECALL_AFTER,
)
from txmp._dispatch import Dispatcher, HandlerFailed, PendingRequest, Reply, ReplyTimeout
from txmp._handler import FrontLink
from txmp.testing import MemoryNetwork, MemoryRun, MemoryRunner, RecordingConsumer, requestMeta

META = requestMeta()

# Where the front binds, as mpfront's --send and --return.
SEND = "inproc://send"
RETURN = "inproc://return"

# The step in which time passes: well under the lateness by which a timer
# finds its process was paused, so that only a pause the test makes looks
# like one.
STEP = LIVENESS_LATENESS / 5

# A silence longer than the three heartbeats after which the front takes a
# handler for dead, and a handler its front for silent (docs/protocol.md,
# section 6), but shorter than four and a half.
SILENCE = 4.5 * DEFAULT_HEARTBEAT

_F = TypeVar("_F", bound=Sequence[protocol.Frame])


def _error(failure: Failure) -> BaseException:
    """
    @return: the error C{failure} holds, as a result (a client's answer).
    """
    error = failure.value
    assert error is not None
    return error


class CreditTestCase(SynchronousTestCase):
    """
    A front (a L{Dispatcher}, not yet started) on a L{MemoryNetwork}, to
    which subclasses add handlers (L{FrontLink}s running requests on
    L{MemoryRunner}s, the test answering them), wired as mpfront and
    mphandler wire them to their ZeroMQ sockets.

    Each party has its own L{Clock}, and time passes for all of them
    together, in small steps, each followed by the delivery of what was
    sent (L{advance}), unless the test cuts the network between the front
    and a handler (L{cut}), or pauses a handler's process (L{pause}), until
    it heals (L{heal}).

    @ivar now: the time of every party's clock but a paused one's.
    @ivar dispatcher: the front.
    @ivar frontClock: the front's clock.
    @ivar frontSockets: the front's send and return sockets (ROUTERs).
    @ivar links: each handler's link to the front, by routing id.
    @ivar runners: each handler's runner, by routing id.
    @ivar clocks: each handler's clock, by routing id.
    """

    def setUp(self) -> None:
        self.network = MemoryNetwork()
        self.now = 0.0
        self.links: dict[bytes, FrontLink] = {}
        self.runners: dict[bytes, MemoryRunner] = {}
        self.clocks: dict[bytes, Clock] = {}
        # The handlers whose messages the front does not hear, those the
        # front's messages do not reach, and those paused; what waits in
        # the network for them meanwhile, in the order it was sent.
        self._unheard: set[bytes] = set()
        self._unreached: set[bytes] = set()
        self._paused: set[bytes] = set()
        self._held: list[Callable[[], object]] = []
        self.dispatcher = self.makeFront("front1")

    def _clockAtNow(self) -> Clock:
        """
        @return: a new L{Clock} that says L{now}.
        """
        clock = Clock()
        clock.advance(self.now)
        return clock

    def makeFront(self, instance: str) -> Dispatcher:
        """
        Make a front whose sockets are bound at L{SEND} and L{RETURN}, with
        a clock of its own (L{frontClock}); not started.

        @param instance: its instance id, which begins its request ids.
        @return: its L{Dispatcher}.
        """
        dispatcher: Dispatcher

        def control(frames: list[bytes]) -> None:
            dispatcher.controlReceived(frames)

        def replies(frames: Sequence[protocol.Frame]) -> None:
            dispatcher.replyReceived(frames)

        sendSocket = self.network.socket("router", self._toFront(control), HIGH_WATER_MARK)
        returnSocket = self.network.socket(
            "router", self._toFront(replies), HIGH_WATER_MARK, largeFrame=LARGE_FRAME
        )
        sendSocket.bind(SEND)
        returnSocket.bind(RETURN)
        self.frontSockets = [sendSocket, returnSocket]
        self.frontClock: Clock | None = self._clockAtNow()
        dispatcher = Dispatcher(self.frontClock, sendSocket, instance=instance)
        self.addCleanup(dispatcher.stop)
        return dispatcher

    def _toFront(self, receive: Callable[[_F], None]) -> Callable[[_F], None]:
        """
        @return: a receiver for one of the front's sockets that gives
            C{receive} what a handler sends, unless the front does not hear
            that handler now (then it waits).
        """

        def received(frames: _F) -> None:
            if bytes(frames[0]) in self._unheard:
                self._held.append(partial(receive, frames))
            else:
                receive(frames)

        return received

    def crashFront(self) -> None:
        """
        Crash the front: its process is gone, its timers with it, and its
        sockets closed (what is on its way to them is lost); it says no
        C{BYE}.
        """
        for socket in self.frontSockets:
            socket.close()
        self.frontClock = None

    def makeLink(self, routingId: bytes, capacity: int, prefetch: int = 0) -> FrontLink:
        """
        Make a handler whose sockets are connected to L{SEND} and
        L{RETURN}, with a clock and a L{MemoryRunner} of its own; not
        started.

        @param routingId: its sockets' routing id, and its name.
        @param capacity: how many requests it may have at once.
        @param prefetch: how many of those may wait for a thread.
        @return: its link.
        """
        link: FrontLink

        def control(frames: list[bytes]) -> None:
            if routingId in self._unreached:
                self._held.append(partial(link.controlReceived, frames))
            else:
                link.controlReceived(frames)

        def nothing(frames: list[bytes]) -> None:
            # The front sends nothing on its return socket.
            raise AssertionError("the front sent on its return socket")

        sendSocket = self.network.socket("dealer", control, HIGH_WATER_MARK, routingId)
        returnSocket = self.network.socket("dealer", nothing, HIGH_WATER_MARK, routingId)
        sendSocket.connect(SEND)
        returnSocket.connect(RETURN)
        clock = self._clockAtNow()
        runner = MemoryRunner()
        link = FrontLink(
            clock,
            runner,
            sendSocket,
            returnSocket,
            routingId.decode("ascii"),
            capacity,
            prefetch=prefetch,
        )
        self.links[routingId] = link
        self.runners[routingId] = runner
        self.clocks[routingId] = clock
        self.addCleanup(link.stop)
        return link

    def start(self) -> None:
        """
        Start the front and every handler made so far, and let them
        register.
        """
        self.dispatcher.start()
        for link in self.links.values():
            link.start()
        self.network.flush()

    def join(self, routingId: bytes, capacity: int) -> None:
        """
        Make a handler, start it, and let it register with the front.

        @param routingId: its routing id.
        @param capacity: how many requests it may have at once.
        """
        self.makeLink(routingId, capacity).start()
        self.network.flush()

    def submit(self) -> tuple[PendingRequest, Deferred[Reply | BaseException]]:
        """
        Submit a request (one the front may retry) to the front, as a
        client's connection does; it is not sent yet.

        @return: the request, whose C{cancel} is its client going away, and
            the answer the client gets: the reply, or the error.
        """
        consumer = RecordingConsumer()
        request = self.dispatcher.submit(META, [], [], consumer, idempotent=True)
        return request, consumer.answer.addErrback(_error)

    def lastRun(self, routingId: bytes) -> MemoryRun:
        """
        @return: the request that the handler C{routingId} got last.
        """
        return self.runners[routingId].runs[-1]

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass in L{STEP}s, each followed by the delivery of
        what was sent, but for what a cut or a pause holds.
        """
        for _ in range(round(seconds / STEP)):
            self.now += STEP
            if self.frontClock is not None:
                self.frontClock.advance(STEP)
            for routingId, clock in self.clocks.items():
                if routingId not in self._paused:
                    clock.advance(STEP)
            self.network.flush()

    def cut(self, routingId: bytes, oneWay: bool = False) -> None:
        """
        Cut the network between the front and a handler until L{heal}:
        what either sends the other waits, as in TCP's buffers, and
        arrives, in order, once it heals.

        @param routingId: the handler's routing id.
        @param oneWay: whether only the front's messages to the handler
            wait, the handler's reaching the front.
        """
        self._unreached.add(routingId)
        if not oneWay:
            self._unheard.add(routingId)

    def pause(self, routingId: bytes) -> None:
        """
        Stop a handler's process until L{heal} (C{SIGSTOP}): its clock stands
        still and what the front sends it waits; what it sent before
        reaches the front.

        @param routingId: the handler's routing id.
        """
        self._paused.add(routingId)
        self._unreached.add(routingId)

    def heal(self) -> None:
        """
        End every cut and pause: a paused handler's clock jumps to L{now}
        first (its timers run late, as a process let go on runs them before
        it reads its sockets), then what waited is delivered, in the order
        it was sent, and what that sends.
        """
        for routingId in self._paused:
            clock = self.clocks[routingId]
            clock.advance(self.now - clock.seconds())
        self._paused.clear()
        self._unheard.clear()
        self._unreached.clear()
        held, self._held = self._held, []
        for deliver in held:
            deliver()
        self.network.flush()

    def endAll(self) -> None:
        """
        Let every handler end every request it has: answer it, or end it
        if the front cancelled it; and again for those that this sends, a
        few rounds of L{advance} apart.
        """
        for _ in range(5):
            for routingId, link in self.links.items():
                runs = {run.requestId: run for run in self.runners[routingId].runs}
                for requestId in list(link.running):
                    run = runs[requestId]
                    if run.cancelled:
                        run.sink.finished()
                    else:
                        run.respond()
            self.advance(5 * STEP)

    def assertConverged(self) -> None:
        """
        Assert that, nothing running at any handler and nothing in transit,
        the front has every handler registered with as many credits as its
        capacity, and holds no request; and that no party took a message
        for a bad one.
        """
        self.network.flush()
        self.assertEqual((self._held, list(self.network.inTransit)), ([], []))
        self.assertEqual(
            {routingId: link.running for routingId, link in self.links.items()},
            {routingId: {} for routingId in self.links},
            "requests still running at the handlers",
        )
        self.assertEqual(
            {
                routingId: (handler.credits, len(handler.inFlight))
                for routingId, handler in self.dispatcher.handlers.items()
            },
            {routingId: (link.capacity, 0) for routingId, link in self.links.items()},
            "the front's credits (and requests in flight) for each handler",
        )
        counts = self.dispatcher.counts()
        self.assertEqual((counts["pending"], counts["queued"]), (0, 0))
        self.assertEqual(
            [self.dispatcher.stats["badMessages"]]
            + [link.stats["badMessages"] for link in self.links.values()],
            [0] * (1 + len(self.links)),
        )

    def sentToHandler(self, routingId: bytes) -> list[protocol.Message]:
        """
        @return: the messages the front sent the handler C{routingId} on
            its send socket so far.
        """
        return [
            message
            for peer, message in self.frontSockets[0].routedMessages()
            if peer == routingId
        ]


class PrefetchTests(CreditTestCase):
    """
    Sequences around a request waiting in a handler's prefetch, which the
    front may ask back (C{RECALL}) for another handler with a thread free.
    """

    def setUp(self) -> None:
        super().setUp()
        # One thread and one place to wait.
        self.makeLink(b"A", capacity=2, prefetch=1)
        self.start()

    def prefetchOne(self) -> tuple[MemoryRun, MemoryRun, PendingRequest]:
        """
        Let A serve two fast requests, so that the front sends it a request
        to wait for its thread; then give it one that takes its thread (R1)
        and one that waits in its prefetch (R2).

        @return: R1's and R2's runs at A, and R2 at the front.
        """
        for _ in range(2):
            self.submit()
            self.network.flush()
            self.lastRun(b"A").respond()
            self.network.flush()
        self.submit()
        self.network.flush()
        first = self.lastRun(b"A")
        first.started = True
        self.submit()
        self.network.flush()
        second = self.lastRun(b"A")
        self.assertNotEqual(first.requestId, second.requestId)
        self.assertEqual(self.dispatcher.handlers[b"A"].credits, 0)
        return first, second, self.dispatcher.pending[second.requestId]

    def deadWithRecallWaiting(
        self, interrupt: Callable[[bytes], None]
    ) -> tuple[MemoryRun, MemoryRun]:
        """
        L{prefetchOne}, then B joins, with a thread free; C{interrupt}
        (L{cut} or L{pause}) handler A, and let L{SILENCE} pass: the front
        sends A a C{RECALL} of the request waiting there, which waits in
        the network, and takes A for dead.

        @return: A's two requests, the running one first.
        """
        first, second, _ = self.prefetchOne()
        self.join(b"B", capacity=1)
        interrupt(b"A")
        self.advance(SILENCE)
        self.assertIn(protocol.Recall(second.requestId), self.sentToHandler(b"A"))
        self.assertNotIn(b"A", self.dispatcher.handlers)
        return first, second

    def test_recallAcrossCut(self) -> None:
        """
        A C{RECALL} that a two-way network cut delivers late, once the
        front has taken the handler for dead and the handler has said
        C{HELLO} to its silent front, counting the request busy, takes
        nothing back: the front registers the handler anew from that
        C{HELLO}, which cancels the request, and its credit comes back by
        C{CREDIT}.
        """
        first, second = self.deadWithRecallWaiting(self.cut)
        self.assertIsNone(self.links[b"A"].front)
        self.heal()
        self.assertIn(b"A", self.dispatcher.handlers)
        self.assertEqual(self.links[b"A"].stats["recalled"], 0)
        self.assertEqual(
            [(run.cancelled, run.withdrawn) for run in (first, second)],
            [(True, False), (True, False)],
        )
        self.endAll()
        self.assertConverged()

    def test_recalledCrossesCancel(self) -> None:
        """
        A request the handler gives back (C{RECALLED}) while its client
        goes (the front's C{CANCEL} crossing the C{RECALLED}) frees its slot
        once.
        """
        _, second, request = self.prefetchOne()
        self.join(b"B", capacity=1)
        self.cut(b"A")
        self.advance(2 * RECALL_AFTER)
        self.assertIn(protocol.Recall(second.requestId), self.sentToHandler(b"A"))
        request.cancel()
        self.assertIn(protocol.Cancel(second.requestId), self.sentToHandler(b"A"))
        self.heal()
        self.assertEqual(self.links[b"A"].stats["recalled"], 1)
        self.endAll()
        self.assertConverged()

    def test_recallToPausedHandler(self) -> None:
        """
        A C{RECALL} that waits for a handler's paused process (C{SIGSTOP})
        while the front takes it for dead takes nothing back: the
        handler's late heartbeat finds the pause, it holds what comes about
        requests, and the registration anew drops the C{RECALL} and cancels
        the request.
        """
        first, second = self.deadWithRecallWaiting(self.pause)
        self.heal()
        self.assertIn(b"A", self.dispatcher.handlers)
        self.assertEqual(self.links[b"A"].stats["recalled"], 0)
        self.assertEqual([run.cancelled for run in (first, second)], [True, True])
        self.endAll()
        self.assertConverged()

    def test_cancelAcrossCut(self) -> None:
        """
        A C{CANCEL} that a two-way network cut delivers late, after the
        handler said C{HELLO} to its silent front, counting the request
        busy, and the front took it for dead, ends the request, whose
        credit comes back by C{CREDIT}.
        """
        _, second, request = self.prefetchOne()
        self.cut(b"A")
        request.cancel()
        self.advance(SILENCE)
        self.assertNotIn(b"A", self.dispatcher.handlers)
        self.assertIsNone(self.links[b"A"].front)
        self.heal()
        self.assertTrue(second.cancelled)
        self.endAll()
        self.assertConverged()


class ReplyTests(CreditTestCase):
    """
    Sequences of a request's end at a handler of two threads, and what
    crosses it.
    """

    def setUp(self) -> None:
        super().setUp()
        self.makeLink(b"A", capacity=2)
        self.start()

    def test_cancelBeforeStart(self) -> None:
        """
        A request whose client goes before a thread of the handler takes
        it is cancelled there, and its credit comes back once it ends.
        """
        request, _ = self.submit()
        self.network.flush()
        request.cancel()
        self.network.flush()
        self.assertTrue(self.lastRun(b"A").cancelled)
        self.endAll()
        self.assertConverged()

    def test_timeoutCrossesReply(self) -> None:
        """
        A complete reply (C{RESP}, its credit in it) that the network
        delays past the front's C{--timeout} gives the credit back all the
        same, the front having given the request up (its C{CANCEL}
        crossing the reply), and the handler gives none of its own.
        """
        _, answer = self.submit()
        self.network.flush()
        self.advance(DEFAULT_TIMEOUT - STEP)
        self.lastRun(b"A").respond()
        self.cut(b"A")
        self.advance(2 * STEP)
        self.assertIsInstance(self.successResultOf(answer), ReplyTimeout)
        self.heal()
        self.assertConverged()

    def test_creditAndReplyEitherOrder(self) -> None:
        """
        Two requests end at once, one by a failure (C{ERROR}, its credit by
        C{CREDIT} on the send socket) and one by a complete reply (C{RESP},
        its credit in it, on the return socket), whichever reaches the
        front first: both credits come back.
        """
        for reverse in (False, True):
            (_, failed), (_, replied) = self.submit(), self.submit()
            self.network.flush()
            [*_, first, second] = self.runners[b"A"].runs
            first.fail()
            second.respond()
            if reverse:
                self.network.inTransit.reverse()
            self.network.flush()
            self.assertIsInstance(self.successResultOf(failed), HandlerFailed)
            self.assertIsInstance(self.successResultOf(replied), Reply)
            self.assertConverged()

    def test_streamedEndCrossesCancel(self) -> None:
        """
        A streamed reply's end, its credit in it, that crosses the
        C{CANCEL} of its client going away gives the credit back once.
        """
        request, _ = self.submit()
        self.network.flush()
        run = self.lastRun(b"A")
        run.started = True
        run.sink.sendHead(200, b"OK", [], [b"a"], True)
        self.network.flush()
        run.sink.sendBody([b"b"], True)
        run.sink.finished()
        request.cancel()
        self.network.flush()
        self.assertFalse(run.cancelled)
        self.assertConverged()

    def test_errorAfterHead(self) -> None:
        """
        A streamed reply that fails after its head (C{ERROR}) gives its
        credit back.
        """
        self.submit()
        self.network.flush()
        run = self.lastRun(b"A")
        run.started = True
        run.sink.sendHead(200, b"OK", [], [b"a"], True)
        run.sink.sendError("boom")
        run.sink.finished()
        self.endAll()
        self.assertConverged()


class SilenceTests(CreditTestCase):
    """
    Sequences in which the front and a handler of two threads lose each
    other for a while: a network cut, a pause, a crash.
    """

    def setUp(self) -> None:
        super().setUp()
        self.makeLink(b"A", capacity=2)
        self.start()

    def test_oneWayCut(self) -> None:
        """
        A handler whose front's messages are cut off (its own reaching the
        front) takes the front for silent and says C{HELLO}, which the
        front takes for a repeat, keeping its count: the reply of the
        request it runs then carries no credit, which goes by C{CREDIT}.
        """
        self.submit()
        self.network.flush()
        hellos = self.links[b"A"].hellos
        self.cut(b"A", oneWay=True)
        self.advance(SILENCE)
        self.assertIsNone(self.links[b"A"].front)
        self.assertGreater(self.links[b"A"].hellos, hellos)
        self.assertIn(b"A", self.dispatcher.handlers)
        self.lastRun(b"A").respond()
        self.network.flush()
        self.heal()
        self.endAll()
        self.assertConverged()

    def test_cutReplyBeforeHello(self) -> None:
        """
        A request that ends (its reply carrying its credit) during a
        two-way cut, before the handler takes its front for silent and says
        C{HELLO}, the front taking the handler for dead, leaves the
        handler's count right once the front registers it anew.
        """
        self.submit()
        self.network.flush()
        hellos = self.links[b"A"].hellos
        self.cut(b"A")
        self.advance(DEFAULT_HEARTBEAT)
        self.lastRun(b"A").respond()
        self.advance(SILENCE - DEFAULT_HEARTBEAT)
        self.assertGreater(self.links[b"A"].hellos, hellos)
        self.assertNotIn(b"A", self.dispatcher.handlers)
        self.heal()
        self.endAll()
        self.assertConverged()

    def test_cutReplyAfterHello(self) -> None:
        """
        A request that ends during a two-way cut, after the handler took
        its front for silent and said C{HELLO}, counting it busy, the front
        taking the handler for dead, leaves the handler's count right once
        the front registers it anew.
        """
        self.submit()
        self.network.flush()
        self.cut(b"A")
        self.advance(SILENCE)
        self.assertIsNone(self.links[b"A"].front)
        self.assertNotIn(b"A", self.dispatcher.handlers)
        self.lastRun(b"A").respond()
        self.heal()
        self.endAll()
        self.assertConverged()

    def test_requestAcrossCut(self) -> None:
        """
        A request that a two-way cut delivers late, after the front took
        the handler for dead, is held by the handler, which doubts its
        front knows it still, and dropped once the front registers the
        handler anew: it never runs, and its slot counts free.
        """
        self.submit()
        self.network.flush()
        self.lastRun(b"A").started = True
        request, _ = self.submit()
        heldId = request.requestId
        self.cut(b"A")
        self.advance(SILENCE)
        self.assertNotIn(b"A", self.dispatcher.handlers)
        self.heal()
        self.assertIn(b"A", self.dispatcher.handlers)
        self.endAll()
        self.assertConverged()
        self.assertNotIn(heldId, [run.requestId for run in self.runners[b"A"].runs])

    def test_pausedHandlerHoldsCancelled(self) -> None:
        """
        A request that comes as a handler's process goes on after a pause
        (C{SIGSTOP}) longer than two heartbeats, but not three, is held
        until the front answers the handler's C{HELLO}; cancelled
        meanwhile (its client gone), it never starts, and its credit comes
        back by C{CREDIT} once the front answers, not having taken the
        handler for dead.
        """
        # Just after the handler's heartbeat: silent for less than three
        # through the pause.
        self.advance(DEFAULT_HEARTBEAT)
        self.pause(b"A")
        request, _ = self.submit()
        self.advance(DOUBT_AFTER * DEFAULT_HEARTBEAT + 10 * STEP)
        request.cancel()
        self.assertIn(b"A", self.dispatcher.handlers)
        self.heal()
        self.assertEqual(self.runners[b"A"].runs, [])
        self.assertConverged()

    def test_frontCrashes(self) -> None:
        """
        A front that crashes (no C{BYE}) while a handler runs a request, the
        request ending before another front starts on the same addresses,
        leaves the handler's count right at the new front.
        """
        self.submit()
        self.network.flush()
        run = self.lastRun(b"A")
        self.crashFront()
        self.advance(SILENCE - DEFAULT_HEARTBEAT)
        self.assertIsNone(self.links[b"A"].front)
        run.respond()
        self.advance(DEFAULT_HEARTBEAT / 2)
        self.dispatcher = self.makeFront("front2")
        self.dispatcher.start()
        self.advance(2 * DEFAULT_HEARTBEAT)
        self.assertEqual(self.links[b"A"].front, "front2")
        self.assertConverged()
