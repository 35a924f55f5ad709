# -*- test-case-name: txmp.test.test_registry -*-
"""
Tests for L{txmp._registry.HandlerRegistry}, the front's handlers and their
liveness, driven by a L{Clock}, with what it sends recorded.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from txmp import _defaults, protocol
from txmp._defaults import LIVENESS_LATENESS
from txmp._peerlog import idText
from txmp._registry import HandlerRegistry, HandlerState
from txmp.protocol import SILENT_INTERVALS

A = b"handler-a"
B = b"handler-b"
C = b"handler-c"


class RegistryTestCase(SynchronousTestCase):
    """
    A L{HandlerRegistry} of string "requests", sending into a list.

    @ivar unreachable: the handlers a send finds unreachable: the send
        removes them, as the dispatcher's does.
    """

    heartbeat = 1.0

    def setUp(self) -> None:
        self.clock = Clock()
        self.sent: list[tuple[bytes, protocol.Message]] = []
        self.lost: list[list[tuple[bytes, list[str]]]] = []
        self.unreachable: set[bytes] = set()
        self.registry: HandlerRegistry[str] = HandlerRegistry(
            self.clock,
            self.send,
            self.handlersLost,
            heartbeat=self.heartbeat,
            instance="front1",
            maxMessage=1000,
        )

    def send(self, handler: HandlerState[str], frames: list[bytes]) -> None:
        if handler.identity in self.unreachable:
            self.registry.remove(handler)
        else:
            self.sent.append((handler.identity, protocol.decode(frames)))

    def handlersLost(self, lost: list[tuple[HandlerState[str], list[str]]]) -> None:
        # Every handler is gone by the time any is reported.
        for handler, _requests in lost:
            assert handler.identity not in self.registry.handlers
        self.lost.append([(handler.identity, requests) for handler, requests in lost])

    def helloMessage(self, identity: bytes, credits: int, **meta: str) -> protocol.Hello:
        message = protocol.decode(protocol.encodeHello(identity.decode(), credits, meta))
        assert isinstance(message, protocol.Hello)
        return message

    def hello(self, identity: bytes, credits: int, **meta: str) -> HandlerState[str]:
        """
        Register a reachable handler.
        """
        handler = self.registry.hello(identity, self.helloMessage(identity, credits, **meta))
        assert handler is not None
        return handler

    def dispatch(self, requestId: bytes) -> bytes:
        """
        Do what the dispatcher does to send a request: pick, and take.

        @return: the identity of the handler picked.
        """
        handler = self.registry.pick()
        assert handler is not None
        self.registry.took(handler, requestId, requestId.decode())
        return handler.identity


class RegistrationTests(RegistryTestCase):
    """
    C{HELLO}, C{WELCOME}, C{BYE} and removal.
    """

    def test_helloRegistersAndWelcomes(self) -> None:
        """
        A C{HELLO} registers its sender with its credits and request window,
        tells the join observers, and is answered C{WELCOME} with the
        front's attributes.
        """
        joined: list[str] = []
        self.registry.joinObservers.append(joined.append)
        handler = self.hello(A, 3, window="100")
        self.assertIs(self.registry.get(A), handler)
        self.assertEqual((handler.name, handler.credits, handler.inputWindow),
                         ("handler-a", 3, 100))
        self.assertEqual(joined, ["handler-a"])
        self.assertEqual(
            self.sent,
            [(A, protocol.Welcome({"front": "front1", "heartbeat": "1.0",
                                   "credit_in_reply": "1", "max_message": "1000",
                                   "packed": "1", "credit_in_end": "1",
                                   "batch": "1"}))],
        )

    def test_helloAgainKeepsCredits(self) -> None:
        """
        A repeated C{HELLO} is welcomed again but keeps the count the
        registry holds (the repeat's may be stale), and is not a new join.
        """
        joined: list[str] = []
        self.registry.joinObservers.append(joined.append)
        self.hello(A, 2)
        self.dispatch(b"r1")
        handler = self.hello(A, 2)
        self.assertEqual(handler.credits, 1)
        self.assertEqual(joined, ["handler-a"])
        self.assertEqual(len(self.sent), 2)

    def test_welcomeNamesNewRegistration(self) -> None:
        """
        The C{WELCOME} that answers a C{HELLO} from a handler not
        registered says C{registered}, with that C{HELLO}'s C{hello}: the
        handler must cancel what it runs of a registration the front
        forgot.  One answering a repeated C{HELLO}, or one without
        C{hello}, does not say it.
        """
        self.hello(A, 2, hello="3")
        self.hello(A, 2, hello="4")
        self.hello(B, 2)
        self.assertEqual(
            [(identity, message.registered) for identity, message in self.sent
             if isinstance(message, protocol.Welcome)],
            [(A, 3), (A, None), (B, None)],
        )

    def test_welcomeNamesHelloAnswered(self) -> None:
        """
        Every C{WELCOME} says which C{HELLO} it answers (C{hello}), if the
        C{HELLO} said: a handler holding requests until the answer to one
        of its own must not take an older one's for it.
        """
        self.hello(A, 2, hello="3")
        self.hello(A, 2, hello="4")
        self.hello(B, 2)
        self.assertEqual(
            [(identity, message.answers) for identity, message in self.sent
             if isinstance(message, protocol.Welcome)],
            [(A, 3), (A, 4), (B, None)],
        )

    def test_helloUnreachable(self) -> None:
        """
        A handler that the C{WELCOME} finds unreachable (the send removes
        it) did not join: L{HandlerRegistry.hello} gives L{None}, the join
        observers are not told, and no join is logged.
        """
        joined: list[str] = []
        self.registry.joinObservers.append(joined.append)
        self.unreachable.add(A)
        with capturedLogs() as events:
            self.assertIsNone(self.registry.hello(A, self.helloMessage(A, 3)))
        self.assertEqual(joined, [])
        self.assertIsNone(self.registry.get(A))
        self.assertNotIn("joined", " ".join(formatEvent(e) for e in events))

    def test_byeDrains(self) -> None:
        """
        C{BYE} marks a handler draining (told to the drain observers once),
        is acknowledged with C{BYE} each time, and the handler is forgotten
        once its last request is finished.
        """
        drained: list[str] = []
        self.registry.drainObservers.append(drained.append)
        handler = self.hello(A, 2)
        self.dispatch(b"r1")
        self.registry.bye(handler)
        self.registry.bye(handler)
        self.assertEqual(drained, ["handler-a"])
        self.assertEqual([m for _, m in self.sent[1:]], [protocol.Bye(), protocol.Bye()])
        self.assertIsNone(self.registry.pick())
        self.assertIs(self.registry.get(A), handler)
        self.registry.finished(handler, b"r1")
        self.assertIsNone(self.registry.get(A))

    def test_helloAfterBye(self) -> None:
        """
        A draining handler that says C{HELLO} joins again, with the credits
        it offers now.
        """
        joined: list[str] = []
        self.registry.joinObservers.append(joined.append)
        handler = self.hello(A, 1)
        self.dispatch(b"r1")
        self.registry.bye(handler)
        self.assertIs(self.hello(A, 4), handler)
        self.assertFalse(handler.draining)
        self.assertEqual(handler.credits, 4)
        self.assertEqual(joined, ["handler-a", "handler-a"])

    def test_registrationsPaced(self) -> None:
        """
        A peer that says C{HELLO} and C{BYE} in turn, as fast as it likes,
        makes the front write at most L{_defaults.PEER_LOG_BURST} lines of
        its joining, draining and leaving in an interval of
        L{_defaults.PEER_LOG_INTERVAL} seconds, then one warning of how many
        more there were; each is registered and drained all the same, and
        another handler's joining is written.  (Three lines for each pair
        of messages before: a loop of them wrote 9000 lines in 1.5 s.)
        """
        joined: list[str] = []
        self.registry.joinObservers.append(joined.append)
        with capturedLogs() as events:
            for _ in range(1000):
                self.registry.bye(self.hello(A, 0))
            self.assertIsNone(self.registry.get(A))
            self.hello(B, 1)
            self.clock.advance(_defaults.PEER_LOG_INTERVAL)
        lines = [formatEvent(e) for e in events if e["log_level"] >= LogLevel.info]
        self.assertEqual(len(joined), 1001)
        self.assertEqual(
            lines[: _defaults.PEER_LOG_BURST],
            ["handler handler-a joined with 0 credits",
             "handler handler-a is draining with 0 requests in flight",
             "handler handler-a drained and left"] * (_defaults.PEER_LOG_BURST // 3)
            + ["handler handler-a joined with 0 credits"],
        )
        self.assertEqual(
            lines[_defaults.PEER_LOG_BURST:],
            ["handler handler-b joined with 1 credits",
             "... and 2990 more registrations from peer %s in the last 10 s"
             " (not logged; the last: handler handler-a drained and left)" % (idText(A),)],
        )

    def test_removeGivesRequestsBack(self) -> None:
        """
        L{HandlerRegistry.remove} forgets a handler and gives back the
        requests it had; removing it again gives L{None}.
        """
        handler = self.hello(A, 2)
        self.dispatch(b"r1")
        self.dispatch(b"r2")
        self.assertEqual(self.registry.remove(handler), ["r1", "r2"])
        self.assertEqual(self.registry.handlers, {})
        self.assertEqual(handler.inFlight, {})
        self.assertIsNone(self.registry.remove(handler))


class CreditTests(RegistryTestCase):
    """
    Credits, and the choice of a handler.
    """

    def test_mostCredit(self) -> None:
        """
        L{HandlerRegistry.pick} picks the handler with the most credit, and
        L{HandlerRegistry.took} takes one of its credits.
        """
        self.hello(A, 1)
        self.hello(B, 3)
        self.assertEqual(self.dispatch(b"r1"), B)
        self.assertEqual(self.registry.handlers[B].credits, 2)
        self.assertEqual(self.registry.handlers[B].inFlight, {b"r1": "r1"})

    def test_noCredit(self) -> None:
        """
        With no handler, or none with credit, L{HandlerRegistry.pick} gives
        L{None}.
        """
        self.assertIsNone(self.registry.pick())
        self.hello(A, 0)
        self.assertIsNone(self.registry.pick())

    def test_roundRobinAmongTies(self) -> None:
        """
        Among handlers with as much credit, one never dispatched to wins
        (the newest first), then the one dispatched to longest ago.
        """
        for identity in (A, B, C):
            self.hello(identity, 5)
        served = []
        for n in range(6):
            identity = self.dispatch(b"r%d" % (n,))
            served.append(identity)
            handler = self.registry.handlers[identity]
            self.registry.finished(handler, b"r%d" % (n,))
            self.assertTrue(self.registry.credit(handler, 1))
        self.assertEqual(served, [C, B, A, C, B, A])

    def test_newHandlerWinsTies(self) -> None:
        """
        A handler that joins after others were dispatched to wins ties.
        """
        self.hello(A, 2)
        self.hello(B, 2)
        self.dispatch(b"r1")
        self.dispatch(b"r2")
        self.hello(C, 1)
        self.hello(A, 1)  # Repeated: not new.
        self.assertEqual(self.registry.pick(), self.registry.handlers[C])

    def test_creditCap(self) -> None:
        """
        Credits that would take a handler over L{_defaults.MAX_CREDITS} are
        refused and leave its count as it was.
        """
        handler = self.hello(A, _defaults.MAX_CREDITS - 1)
        self.assertFalse(self.registry.credit(handler, 2))
        self.assertEqual(handler.credits, _defaults.MAX_CREDITS - 1)
        self.assertTrue(self.registry.credit(handler, 1))
        self.assertEqual(handler.credits, _defaults.MAX_CREDITS)


class PrefetchTests(RegistryTestCase):
    """
    Handlers whose C{HELLO} says C{prefetch}: some of their credits are for
    requests that wait for a thread.
    """

    def finish(self, identity: bytes, requestId: bytes) -> None:
        """
        Do what the dispatcher does when a request ends with its credit.
        """
        handler = self.registry.handlers[identity]
        self.registry.finished(handler, requestId)
        self.assertTrue(self.registry.credit(handler, 1))

    def test_joinedLogged(self) -> None:
        """
        A handler that joins is logged with the credits it offers and its
        prefetch, as a setting of its own: one that joins again with
        requests in hand (found silent, then heard) offers fewer credits
        than its slots, maybe fewer than its prefetch, where the line said
        C{joined with 27 credits, 28 of them prefetch}.
        """
        with capturedLogs() as events:
            self.hello(A, 32, prefetch="28")
            self.hello(B, 4)
            self.registry.remove(self.registry.handlers[A])
            self.hello(A, 27, prefetch="28")
        self.assertEqual(
            [formatEvent(e) for e in events if "joined" in e["log_format"]],
            ["handler handler-a joined with 32 credits (prefetch 28)",
             "handler handler-b joined with 4 credits",
             "handler handler-a joined with 27 credits (prefetch 28)"],
        )

    def test_prefetchRead(self) -> None:
        """
        The handler's state has its latest C{HELLO}'s C{prefetch}; 0 for a
        C{HELLO} without one.
        """
        self.assertEqual(self.hello(A, 6, prefetch="4").prefetch, 4)
        self.assertEqual(self.hello(A, 6).prefetch, 0)

    def test_freeThreadFirst(self) -> None:
        """
        A handler with a thread free (more credits than its C{prefetch})
        wins over one with more credits and none: a request does not wait
        behind busy threads while another handler has one free.  Among
        those with threads free, the most free wins.
        """
        self.hello(A, 16, prefetch="12")  # 4 threads free.
        self.hello(B, 3)  # 3 threads free; newer, so it would win a tie.
        self.assertEqual(self.dispatch(b"r0"), A)
        self.assertEqual(self.dispatch(b"r1"), B)
        self.finish(B, b"r1")
        self.finish(A, b"r0")
        self.assertEqual(self.dispatch(b"r0b"), A)
        # Two ended just now: A may be prefetched to.
        self.finish(A, b"r0b")
        for n in range(2, 6):
            self.dispatch(b"r%d" % (n,))
        self.assertEqual(
            [(h.credits, h.credits - h.prefetch) for h in self.registry.handlers.values()],
            [(14, 2), (1, 1)],
        )
        self.assertEqual([self.dispatch(b"r%d" % (n,)) for n in range(6, 9)], [A, B, A])
        # Now neither has a thread free: A, which has credit and finished
        # a request just now, takes the next to wait for a thread.
        self.assertEqual(self.dispatch(b"r9"), A)
        self.assertEqual(self.registry.handlers[A].credits, 11)

    def test_prefetchOnlyWhenFinishingRecently(self) -> None:
        """
        With no thread free anywhere, a request goes to wait at a handler
        that ended two requests in the last L{_defaults.PREFETCH_STALL}
        seconds (it serves fast requests), the one with the most credit;
        one that did not gets none, and the request waits at the front
        instead, for the first credit back.  One request ended is not
        enough, even just now: a handler whose threads are all held by
        slow requests ends one now and then, just as requests wait.
        """
        self.hello(A, 3, prefetch="2")
        self.hello(B, 3, prefetch="2")
        self.dispatch(b"a")
        self.dispatch(b"b")
        # Never finished a request: no prefetch.
        self.assertIsNone(self.registry.pick())
        self.clock.advance(5)
        self.finish(A, b"a")
        self.assertEqual(self.dispatch(b"a2"), A)
        # Its request took 5 s: its thread may be as slow.
        self.assertIsNone(self.registry.pick())
        self.clock.advance(_defaults.PREFETCH_STALL / 2)
        self.finish(A, b"a2")
        self.assertEqual(self.dispatch(b"a3"), A)
        self.assertEqual(self.dispatch(b"a4"), A)
        self.assertEqual(self.registry.handlers[A].credits, 1)
        self.clock.advance(_defaults.PREFETCH_STALL)
        self.assertIsNone(self.registry.pick())
        # B ends its request: a thread of it is free.
        self.finish(B, b"b")
        self.assertEqual(self.dispatch(b"b2"), B)
        self.assertIsNone(self.registry.pick())
        # B ends the next at once.
        self.finish(B, b"b2")
        self.assertEqual(self.dispatch(b"b3"), B)
        # Every thread busy again, and B ended two just now: it has the
        # most credit of those that did.
        self.assertEqual(self.dispatch(b"b4"), B)
        self.assertEqual(self.dispatch(b"b5"), B)
        self.assertEqual(self.registry.handlers[B].credits, 0)
        self.assertIsNone(self.registry.pick())

    def test_creditsAtOnce(self) -> None:
        """
        A C{CREDIT} of more than one gives back as many requests ended: two
        or more at once are enough to be prefetched to.
        """
        handler = self.hello(A, 4, prefetch="2")
        for requestId in [b"a", b"a2"]:
            self.dispatch(requestId)
        self.assertIsNone(self.registry.pick())
        self.registry.finished(handler, b"a")
        self.registry.finished(handler, b"a2")
        self.assertTrue(self.registry.credit(handler, 2))
        self.assertEqual(
            [self.dispatch(b"a%d" % (n,)) for n in range(3, 7)], [A, A, A, A]
        )
        self.assertIsNone(self.registry.pick())

    def test_notToWaitUnlessMay(self) -> None:
        """
        C{pick(mayWait=False)}, for a request that must not wait for a
        thread, gives only a handler with a thread free.
        """
        self.hello(A, 3, prefetch="2")
        self.assertEqual(self.dispatch(b"a"), A)
        self.finish(A, b"a")
        self.dispatch(b"a2")
        self.finish(A, b"a2")
        self.dispatch(b"a3")
        self.assertEqual(self.registry.pick(), self.registry.handlers[A])
        self.assertIsNone(self.registry.pick(mayWait=False))

    def test_drainingGetsNone(self) -> None:
        """
        A draining handler gets no request to wait either.
        """
        handler = self.hello(A, 3, prefetch="2")
        for requestId in [b"a", b"a2"]:
            self.dispatch(requestId)
            self.finish(A, requestId)
        self.dispatch(b"a3")
        self.assertIs(self.registry.pick(), handler)
        self.registry.bye(handler)
        self.assertIsNone(self.registry.pick())


class RecallTests(RegistryTestCase):
    """
    L{HandlerRegistry.stalled}, L{HandlerRegistry.waiting} and
    L{HandlerRegistry.recalled}: requests waiting in handlers whose threads
    turned slow, and those given back.
    """

    def test_stalled(self) -> None:
        """
        A handler that says C{recall=1}, with requests waiting for a thread
        (fewer credits than its C{prefetch}), is waiting, with how many
        wait; stalled once it gave no credit back for
        L{_defaults.RECALL_AFTER} seconds.  A draining one is neither (it
        gives no credit back while it drains).  C{room} counts the threads
        free of those not draining.
        """
        a = self.hello(A, 3, prefetch="3", recall="1")
        b = self.hello(B, 4, prefetch="1", recall="1")
        c = self.hello(b"c", 5, prefetch="1")
        self.registry.bye(c)
        for requestId in [b"a1", b"a2"]:
            self.registry.took(a, requestId, requestId.decode())
        self.assertEqual(self.registry.waiting(), [(a, 2)])
        self.assertEqual(self.registry.room(), 3)
        self.assertEqual(self.registry.stalled(), [(a, 2)])
        self.registry.credit(a, 1)
        self.assertEqual(self.registry.stalled(), [])
        self.clock.advance(_defaults.RECALL_AFTER)
        self.assertEqual(self.registry.stalled(), [(a, 1)])
        self.registry.took(b, b"b1", "b1")
        self.registry.took(b, b"b2", "b2")
        self.registry.took(b, b"b3", "b3")
        self.assertEqual(self.registry.room(), 0)
        self.registry.credit(b, 1)
        self.registry.bye(a)
        self.assertEqual(self.registry.waiting(), [])
        self.assertEqual(self.registry.stalled(), [])

    def test_onlyIfSaid(self) -> None:
        """
        A handler that did not say C{recall=1} is never stalled, nor counted
        as waiting.
        """
        a = self.hello(A, 3, prefetch="3")
        self.hello(B, 4)
        self.registry.took(a, b"a1", "a1")
        self.assertEqual(self.registry.waiting(), [])
        self.assertEqual(self.registry.stalled(), [])

    def test_recalled(self) -> None:
        """
        A request given back leaves its handler, and its slot is free, as
        no request ended (no credit time noted); one given up before
        gives its slot back once; one the handler never had gives nothing.
        A draining handler gets no slot back, and leaves once it has no
        request.
        """
        a = self.hello(A, 3, prefetch="2", recall="1")
        self.registry.took(a, b"a1", "a1")
        self.registry.took(a, b"a2", "a2")
        self.assertEqual(self.registry.recalled(a, b"a1"), "a1")
        self.assertEqual((a.credits, list(a.inFlight), a.lastCredit), (2, [b"a2"], -math.inf))
        self.assertTrue(self.registry.abandon(a, b"a2"))
        self.registry.finished(a, b"a2")
        self.assertIsNone(self.registry.recalled(a, b"a2"))
        self.assertIsNone(self.registry.recalled(a, b"a2"))
        self.assertIsNone(self.registry.recalled(a, b"never"))
        self.assertEqual(a.credits, 3)
        self.registry.took(a, b"a3", "a3")
        self.registry.bye(a)
        self.assertEqual(self.registry.recalled(a, b"a3"), "a3")
        self.assertEqual(a.credits, 2)
        self.assertNotIn(A, self.registry.handlers)


class AbandonTests(RegistryTestCase):
    """
    Requests the front gave up on, and the credit of their late replies.
    """

    def test_lateCreditOwedOnce(self) -> None:
        """
        A request abandoned while its handler had it leaves a credit owed
        to that handler, once.
        """
        handler = self.hello(A, 1)
        self.dispatch(b"r1")
        self.registry.finished(handler, b"r1")
        self.assertTrue(self.registry.abandon(handler, b"r1"))
        self.assertIs(self.registry.lateCredit(A, b"r1"), handler)
        self.assertIsNone(self.registry.lateCredit(A, b"r1"))
        self.assertIsNone(self.registry.lateCredit(A, b"r2"))
        self.assertIsNone(self.registry.lateCredit(B, b"r1"))

    def test_notForAnotherRegistration(self) -> None:
        """
        A handler removed and registered again is owed nothing for the
        requests of its earlier registration; abandoning one for a handler
        no longer registered says so (no C{CANCEL} is due).
        """
        handler = self.hello(A, 1)
        self.dispatch(b"r1")
        self.registry.remove(handler)
        self.assertFalse(self.registry.abandon(handler, b"r1"))
        self.hello(A, 1)
        self.assertIsNone(self.registry.lateCredit(A, b"r1"))

    def test_notWhileDraining(self) -> None:
        """
        A draining handler is owed no credit: it gives none back.
        """
        handler = self.hello(A, 2)
        self.dispatch(b"r1")
        self.dispatch(b"r2")
        self.registry.finished(handler, b"r1")
        self.registry.abandon(handler, b"r1")
        self.registry.bye(handler)
        self.assertIsNone(self.registry.lateCredit(A, b"r1"))

    def test_bounded(self) -> None:
        """
        A handler remembers at most L{_defaults.MAX_CREDITS} abandoned
        requests: the oldest goes first.
        """
        handler = self.hello(A, 1)
        for n in range(_defaults.MAX_CREDITS + 1):
            self.registry.abandon(handler, b"r%d" % (n,))
        self.assertEqual(len(handler.abandoned), _defaults.MAX_CREDITS)
        self.assertIsNone(self.registry.lateCredit(A, b"r0"))
        self.assertIs(self.registry.lateCredit(A, b"r1"), handler)


class LivenessTests(RegistryTestCase):
    """
    Heartbeats and silence.
    """

    def setUp(self) -> None:
        RegistryTestCase.setUp(self)
        self.registry.start()
        self.addCleanup(self.registry.stop)

    def test_pings(self) -> None:
        """
        Every handler gets a C{PING} each interval.
        """
        handler = self.hello(A, 1)
        del self.sent[:]
        self.registry.heard(handler)
        self.clock.advance(self.heartbeat)
        self.registry.heard(handler)
        self.clock.advance(self.heartbeat)
        self.assertEqual(self.sent, [(A, protocol.Ping()), (A, protocol.Ping())])

    def test_silentRemoved(self) -> None:
        """
        Handlers silent for three intervals are removed at that moment, all
        of them before C{lost} is told of any, with their requests; a
        handler heard from is kept.
        """
        self.hello(A, 2)
        self.hello(B, 2)
        c = self.hello(C, 2)
        self.dispatch(b"r1")
        self.dispatch(b"r2")
        for _ in range(2):
            self.clock.advance(self.heartbeat)
            self.registry.heard(c)
        self.clock.advance(self.heartbeat * 0.99)
        self.assertEqual(self.lost, [])
        self.clock.advance(self.heartbeat * 0.01)
        self.assertEqual(list(self.registry.handlers), [C])
        self.assertEqual(len(self.lost), 1)
        # r1 went to C, the newest, r2 to B.
        self.assertEqual(self.lost, [[(A, []), (B, ["r2"])]])
        self.assertEqual(self.registry.handlers[C].inFlight, {b"r1": "r1"})

    def test_pausedFrontGivesOneMoreHeartbeat(self) -> None:
        """
        A check of silence that runs late (the front was paused: its clock
        jumped past the check) declares no handler dead: what they sent
        meanwhile is not read yet.  It logs why, and gives them one more
        heartbeat; a handler heard from in it is kept, one still silent is
        declared dead at its end.
        """
        a = self.hello(A, 1)
        self.hello(B, 1)
        with capturedLogs() as events:
            self.clock.advance(SILENT_INTERVALS * self.heartbeat + 0.5)
        self.assertEqual(self.lost, [])
        self.assertEqual(sorted(self.registry.handlers), [A, B])
        [line] = [formatEvent(e) for e in events if e["log_level"] is LogLevel.warn]
        self.assertIn("ran 0.500 s late", line)
        self.assertIn("2 unheard for 3 heartbeats get one more", line)
        # The reactor reads what A sent while the front was paused.
        self.registry.heard(a)
        self.clock.advance(self.heartbeat * 0.99)
        self.assertEqual(self.lost, [])
        self.clock.advance(self.heartbeat * 0.01)
        self.assertEqual(self.lost, [[(B, [])]])
        self.assertEqual(list(self.registry.handlers), [A])

    def test_pauseEndingJustBeforeCheck(self) -> None:
        """
        A check that runs on time, or a little late, just after the front
        ran again after a pause that another of its timers found (the
        heartbeat's, due in the pause), declares no handler dead either:
        the reactor has not read what they sent meanwhile yet.
        """
        silence = SILENT_INTERVALS * self.heartbeat
        for resumed, checked in [(silence - 0.001, silence), (silence + 0.01, silence + 0.01)]:
            self.setUp()
            a = self.hello(A, 1)
            # The front stops hearing at 0 (paused), and runs again at
            # RESUMED: the heartbeat due at 1 runs then, late.
            self.clock.advance(resumed)
            self.clock.advance(checked - resumed)
            self.assertEqual(
                (self.lost, list(self.registry.handlers)), ([], [A]), (resumed, checked)
            )
            self.registry.heard(a)
            self.clock.advance(self.heartbeat)
            self.assertEqual(list(self.registry.handlers), [A])

    def test_slightlyLateCheckJudges(self) -> None:
        """
        A check that runs no later than L{LIVENESS_LATENESS}, as a busy
        reactor's timers do, declares the silent dead as one on time does.
        """
        self.hello(A, 1)
        self.clock.pump([self.heartbeat] * (SILENT_INTERVALS - 1))
        self.clock.advance(self.heartbeat + LIVENESS_LATENESS)
        self.assertEqual(self.lost, [[(A, [])]])

    def test_alwaysLateReactorStillJudges(self) -> None:
        """
        A silence gets one heartbeat more, however late the checks run: on
        a reactor whose every timer runs late (overloaded, not paused), a
        handler still silent after it is declared dead at the next check,
        not given another; one heard from in it, and silent again later,
        gets one again.
        """

        def runUntil(time: float) -> None:
            # Each call the clock has runs 2 * LIVENESS_LATENESS late.
            while self.clock.seconds() < time:
                due = min(call.getTime() for call in self.clock.getDelayedCalls())
                self.clock.advance(
                    max(0.0, due - self.clock.seconds()) + 2 * LIVENESS_LATENESS
                )

        silence = SILENT_INTERVALS * self.heartbeat
        a = self.hello(A, 1)
        self.hello(B, 1)
        runUntil(silence)
        self.assertEqual((self.lost, sorted(self.registry.handlers)), ([], [A, B]))
        self.registry.heard(a)
        heard = self.clock.seconds()
        runUntil(heard + 2 * self.heartbeat)
        self.assertEqual(self.lost, [[(B, [])]])
        self.assertEqual(list(self.registry.handlers), [A])
        runUntil(heard + silence)
        self.assertEqual((len(self.lost), list(self.registry.handlers)), (1, [A]))
        runUntil(self.clock.seconds() + 2 * self.heartbeat)
        self.assertEqual(self.lost, [[(B, [])], [(A, [])]])

    def test_checkAtItsDeadline(self) -> None:
        """
        A check run at the time it was set for declares dead a handler
        heard last a silence before, however that sum rounds: heard at
        0.566 with a heartbeat of 1, the check is due at 3.566, and
        3.566 - 3 < 0.566 in floating point.  The check does not find the
        handler alive and set itself again for the same time, without end.
        """
        silence = SILENT_INTERVALS * self.heartbeat
        heardAt = 0.566
        self.assertLess((heardAt + silence) - silence, heardAt)
        # A Clock runs a call set for the time it is at within the same
        # advance: fail, rather than hang, at the thousandth.
        callLater = self.clock.callLater
        spins: list[float] = []

        def guarded(delay: float, f: Callable[[], object]) -> IDelayedCall:
            if delay <= 0:
                spins.append(self.clock.seconds())
                if len(spins) > 1000:
                    self.fail(f"the check set again and again for {spins[-1]}")
            return callLater(delay, f)

        self.patch(self.clock, "callLater", guarded)
        self.clock.advance(heardAt)
        self.hello(A, 1)
        # Each heartbeat on time (no pause), then the check.
        for beat in range(1, SILENT_INTERVALS + 1):
            self.clock.advance(beat * self.heartbeat - self.clock.seconds())
        self.clock.advance(heardAt + silence - self.clock.seconds())
        self.assertEqual(self.lost, [[(A, [])]])

    def test_exitedDeclaredDead(self) -> None:
        """
        The handlers registered under the name of a process that exited
        (L{HandlerRegistry.exited}) are declared dead C{grace} seconds later
        with their requests, though heard from meanwhile: what they sent
        before is read first (a reply read in the grace ends its request,
        which is not lost with them), and the silence observers are not
        told; a
        handler of another name, and one that registers under the name
        after the exit (the process started again), are kept.
        """
        told: list[str] = []
        self.registry.silenceObservers.append(told.append)
        a = self.hello(A, 2)
        self.hello(B, 0)
        self.dispatch(b"r1")
        self.dispatch(b"r2")
        self.registry.exited(A.decode(), 0.25)
        self.clock.advance(0.1)
        self.registry.heard(a)
        self.registry.finished(a, b"r2")
        again = self.registry.hello(C, self.helloMessage(A, 1))
        assert again is not None
        with capturedLogs() as events:
            self.clock.advance(0.15)
        self.assertEqual(self.lost, [[(A, ["r1"])]])
        self.assertEqual(sorted(self.registry.handlers), [B, C])
        self.assertEqual(told, [])
        self.assertIn(
            "handler handler-a exited: declared dead",
            [formatEvent(e) for e in events if e["log_level"] is LogLevel.warn],
        )

    def test_exitAfterPauseGrace(self) -> None:
        """
        A handler whose process exited is declared dead C{grace} seconds
        later also when, less than a heartbeat before, a check found the
        front paused and gave the silent a heartbeat more: that heartbeat
        is for reading their next C{PING}, which an exited process does
        not send.
        """
        a = self.hello(A, 1)
        b = self.hello(B, 1)
        # Paused from 0 to 4: the check due at 3 runs at 4, late.
        self.clock.advance(SILENT_INTERVALS * self.heartbeat + 1)
        self.assertEqual(self.lost, [])
        self.registry.heard(a)
        self.registry.heard(b)
        self.clock.advance(0.1)
        self.registry.exited(A.decode(), 0.25)
        self.clock.advance(0.25)
        self.assertEqual((self.lost, list(self.registry.handlers)), ([[(A, [])]], [B]))

    def test_exitedPausedCheck(self) -> None:
        """
        A check at an exited handler's deadline that finds the front was
        paused (what the handler sent before it exited is not read yet)
        gives it its C{grace} again, once: not a heartbeat, as the silent
        get, and it is not counted among them (no warning of handlers
        unheard, and their heartbeat more is not spent).  A check late
        again then declares it dead.
        """
        a = self.hello(A, 1)
        self.hello(B, 1)
        self.registry.heard(a)
        self.clock.advance(0.5)
        self.registry.exited(A.decode(), 0.25)
        with capturedLogs() as events:
            # Paused from 0.6 to 0.9 (the check due at 0.75 runs late).
            self.clock.advance(0.1)
            self.clock.advance(0.3)
            self.assertEqual(sorted(self.registry.handlers), [A, B])
            # Its grace again, from 0.9: the check due at 1.15 runs late too.
            self.clock.advance(0.25 + 2 * LIVENESS_LATENESS)
        self.assertEqual((self.lost, list(self.registry.handlers)), ([[(A, [])]], [B]))
        self.assertEqual(
            [formatEvent(e) for e in events if e["log_level"] is LogLevel.warn],
            ["handler handler-a exited: declared dead"],
        )

    def test_silenceObserved(self) -> None:
        """
        L{HandlerRegistry.silenceObservers} are told the name of each
        handler declared dead for its silence, once it is removed; not of
        one heard from, nor of one removed otherwise (found unreachable).
        """
        told: list[tuple[str, list[bytes]]] = []
        self.registry.silenceObservers.append(
            lambda name: told.append((name, sorted(self.registry.handlers)))
        )
        a = self.hello(A, 1)
        self.hello(B, 1)
        c = self.hello(C, 1)
        self.registry.remove(a)
        for _ in range(2):
            self.clock.advance(self.heartbeat)
            self.registry.heard(c)
        self.assertEqual(told, [])
        self.clock.advance(self.heartbeat)
        self.assertEqual(told, [(B.decode(), [C])])

    def test_stop(self) -> None:
        """
        L{HandlerRegistry.stop} tells every handler C{BYE} and leaves no
        timer.
        """
        self.hello(A, 1)
        self.hello(B, 1)
        del self.sent[:]
        self.registry.stop()
        self.assertEqual(self.sent, [(A, protocol.Bye()), (B, protocol.Bye())])
        self.assertEqual(self.clock.getDelayedCalls(), [])
