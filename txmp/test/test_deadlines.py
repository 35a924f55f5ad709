# -*- test-case-name: txmp.test.test_deadlines -*-
"""
Tests for L{txmp._deadlines}.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txmp._deadlines import Deadlines, PauseGrace, PauseWatch
from txmp._defaults import LIVENESS_LATENESS


class DeadlinesTests(SynchronousTestCase):
    """
    L{Deadlines} ends each timer C{period} seconds after its last start,
    with one delayed call at a time.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.expired: list[tuple[str, float]] = []
        self.deadlines: Deadlines[str] = Deadlines(self.clock, 10.0, self.record)

    def record(self, key: str) -> None:
        self.expired.append((key, self.clock.seconds()))

    def test_expires(self) -> None:
        """
        A timer ends C{period} seconds after it starts, not before; then it
        no longer runs.
        """
        self.deadlines.start("a")
        self.assertIn("a", self.deadlines)
        self.clock.advance(9.999)
        self.assertEqual(self.expired, [])
        self.clock.advance(0.001)
        self.assertEqual(self.expired, [("a", 10.0)])
        self.assertNotIn("a", self.deadlines)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_oneCall(self) -> None:
        """
        However many timers run, one delayed call waits, for the first end;
        timers due together end in one call, in the order they started.
        """
        for key in "abc":
            self.deadlines.start(key)
        self.clock.advance(1)
        self.deadlines.start("d")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.assertEqual([key in self.deadlines for key in "abcd"], [True] * 4)
        self.clock.advance(9)
        self.assertEqual(self.expired, [("a", 10.0), ("b", 10.0), ("c", 10.0)])
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(1)
        self.assertEqual(self.expired[3:], [("d", 11.0)])

    def test_restart(self) -> None:
        """
        L{Deadlines.start} on a running timer, or L{Deadlines.restart},
        starts it again: it ends C{period} seconds after that, after the
        timers started before it; C{restart} starts no timer that is not
        running.
        """
        self.deadlines.start("a")
        self.deadlines.start("b")
        self.clock.advance(4)
        self.deadlines.restart("a")
        self.deadlines.restart("c")
        self.clock.advance(2)
        self.deadlines.start("b")
        self.clock.advance(8)
        self.assertEqual(self.expired, [("a", 14.0)])
        self.clock.advance(2)
        self.assertEqual(self.expired, [("a", 14.0), ("b", 16.0)])
        self.assertNotIn("c", self.deadlines)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """
        A stopped timer does not end; stopping the last one that runs
        cancels the delayed call; stopping one that does not run does
        nothing.
        """
        self.deadlines.start("a")
        self.deadlines.start("b")
        self.deadlines.stop("a")
        self.deadlines.stop("x")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.deadlines.stop("b")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(20)
        self.assertEqual(self.expired, [])

    def test_firstStopped(self) -> None:
        """
        When the first timer was stopped, the call made for it finds the
        next not due and waits again, for that one's end.
        """
        self.deadlines.start("a")
        self.clock.advance(3)
        self.deadlines.start("b")
        self.deadlines.stop("a")
        self.clock.advance(7)
        self.assertEqual(self.expired, [])
        [call] = self.clock.getDelayedCalls()
        self.assertEqual(call.getTime(), 13.0)
        self.clock.advance(3)
        self.assertEqual(self.expired, [("b", 13.0)])

    def test_startedWhenExpired(self) -> None:
        """
        A timer started again by the call that tells of its end runs again,
        and the timers due after it still end on time: the delayed call is
        brought back to the first of them.
        """
        deadlines: Deadlines[str] = Deadlines(self.clock, 10.0, self.again)
        self.deadlines = deadlines
        deadlines.start("a")
        self.clock.advance(2)
        deadlines.start("b")
        self.clock.advance(8)
        self.assertEqual(self.expired, [("a", 10.0)])
        self.assertIn("a", deadlines)
        self.clock.advance(2)
        self.assertEqual(self.expired, [("a", 10.0), ("b", 12.0)])
        self.clock.advance(8)
        self.assertEqual(self.expired[2:], [("a", 20.0)])

    def again(self, key: str) -> None:
        self.record(key)
        if key == "a":
            self.deadlines.start(key)

    def test_stoppedWhenExpired(self) -> None:
        """
        The call that tells of one timer's end may stop the others: they do
        not end, and no delayed call is left.
        """
        deadlines: Deadlines[str] = Deadlines(
            self.clock, 10.0, lambda key: self.deadlines.stop("b")
        )
        self.deadlines = deadlines
        deadlines.start("a")
        deadlines.start("b")
        self.clock.advance(10)
        self.assertNotIn("b", deadlines)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_startedAndStoppedWhenExpired(self) -> None:
        """
        A timer started and stopped again by the call that tells of another
        one's end leaves no delayed call once the last timer has ended (the
        dispatcher's: a request dispatched by a 504's pipelined successor,
        then retried at once).
        """

        def startAndStop(key: str) -> None:
            self.record(key)
            if key == "a":
                deadlines.start("c")
                deadlines.stop("c")

        deadlines: Deadlines[str] = Deadlines(self.clock, 10.0, startAndStop)
        deadlines.start("a")
        deadlines.start("b")
        self.clock.advance(10)
        self.assertEqual(self.expired, [("a", 10.0), ("b", 10.0)])
        self.assertEqual([key in deadlines for key in "abc"], [False] * 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_expiryFails(self) -> None:
        """
        A call that tells of a timer's end and raises is logged; the timers
        due with it still end, and those due later still end on time, as
        each request's own delayed call did.
        """

        def failing(key: str) -> None:
            self.record(key)
            if key == "a":
                raise ZeroDivisionError("bug")

        deadlines: Deadlines[str] = Deadlines(self.clock, 10.0, failing)
        deadlines.start("a")
        deadlines.start("b")
        self.clock.advance(1)
        deadlines.start("c")
        self.clock.advance(9)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(self.expired, [("a", 10.0), ("b", 10.0)])
        self.clock.advance(1)
        self.assertEqual(self.expired[2:], [("c", 11.0)])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_periodShortened(self) -> None:
        """
        The period is read when a timer starts; one that would end before a
        timer started earlier ends with it.
        """
        self.deadlines.start("a")
        self.deadlines.period = 5.0
        self.deadlines.start("b")
        self.clock.advance(5)
        self.assertEqual(self.expired, [])
        self.clock.advance(5)
        self.assertEqual(self.expired, [("a", 10.0), ("b", 10.0)])


class PauseGraceTests(SynchronousTestCase):
    """
    L{PauseGrace} gives a timer that ran later than L{LIVENESS_LATENESS}
    more time, once a pause.
    """

    def test_onTime(self) -> None:
        """
        A timer at most L{LIVENESS_LATENESS} late is given nothing.
        """
        pauses = PauseGrace(1.0)
        self.assertIsNone(pauses.spare(10.0, 10.0))
        self.assertIsNone(pauses.spare(10.0, 10.0 + LIVENESS_LATENESS / 2))

    def test_late(self) -> None:
        """
        A late timer is given C{grace} seconds from when it runs.
        """
        self.assertEqual(PauseGrace(1.0).spare(10.0, 13.0), 14.0)

    def test_oncePerPause(self) -> None:
        """
        A timer due before the end of the grace last given, late too, is
        given nothing (that grace's own timer, run late again, or another
        due meanwhile); one due after it is given more again.
        """
        pauses = PauseGrace(1.0)
        self.assertEqual(pauses.spare(10.0, 13.0), 14.0)
        self.assertIsNone(pauses.spare(14.0, 16.0))
        self.assertIsNone(pauses.spare(13.5, 16.0))
        self.assertEqual(pauses.spare(14.5, 16.0), 17.0)


class PauseWatchTests(SynchronousTestCase):
    """
    L{PauseWatch} finds a pause from a timer that ran late, and tells the
    timers that run soon after it.
    """

    def test_late(self) -> None:
        """
        A timer more than L{LIVENESS_LATENESS} late finds a pause, and its
        lateness is kept; one less late does not.
        """
        watch = PauseWatch()
        self.assertFalse(watch.paused(10.0, 10.0 + LIVENESS_LATENESS / 2))
        self.assertTrue(watch.paused(10.0, 12.5))
        self.assertEqual(watch.lateness, 2.5)

    def test_justAfter(self) -> None:
        """
        A timer that runs on time no more than L{LIVENESS_LATENESS} after
        another found a pause finds it too; one that runs later does not.
        """
        watch = PauseWatch()
        watch.paused(10.0, 12.5)
        self.assertTrue(watch.paused(12.5, 12.5))
        self.assertTrue(watch.paused(12.5 + LIVENESS_LATENESS / 2, 12.5 + LIVENESS_LATENESS / 2))
        self.assertFalse(watch.paused(12.6, 12.6))

    def test_shared(self) -> None:
        """
        A L{PauseGrace} given a watch spares a timer that runs on time just
        after another timer of the watch found a pause; one with a watch of
        its own does not.
        """
        watch = PauseWatch()
        shared, alone = PauseGrace(1.0, watch), PauseGrace(1.0)
        watch.paused(10.0, 12.5)
        self.assertEqual(shared.spare(12.51, 12.51), 13.51)
        self.assertIsNone(alone.spare(12.51, 12.51))


class PausedDeadlinesTests(SynchronousTestCase):
    """
    L{Deadlines} with a grace: timers whose time came while the process was
    paused end that much later, unless stopped or started again first.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.expired: list[tuple[str, float]] = []
        self.deadlines: Deadlines[str] = Deadlines(
            self.clock, 10.0, self.record, grace=1.0
        )

    def record(self, key: str) -> None:
        self.expired.append((key, self.clock.seconds()))

    def test_onTime(self) -> None:
        """
        A timer whose call runs less late than L{LIVENESS_LATENESS} ends then.
        """
        self.deadlines.start("a")
        self.clock.advance(10 + LIVENESS_LATENESS / 2)
        self.assertEqual(self.expired, [("a", 10 + LIVENESS_LATENESS / 2)])

    def test_paused(self) -> None:
        """
        Timers whose call runs later end C{grace} seconds after it; one that
        is stopped meanwhile (its reply was read) does not end, one started
        again ends a period after that.
        """
        for key in "abc":
            self.deadlines.start(key)
        self.clock.advance(13)
        self.assertEqual(self.expired, [])
        self.deadlines.stop("a")
        self.deadlines.start("b")
        self.clock.advance(1)
        self.assertEqual(self.expired, [("c", 14.0)])
        self.clock.advance(9)
        self.assertEqual(self.expired[1:], [("b", 23.0)])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_pausedAgain(self) -> None:
        """
        A timer given more time ends when its call runs next, however late:
        a reactor that runs every call late delays each end by C{grace} at
        the most.
        """
        self.deadlines.start("a")
        self.clock.advance(13)
        self.clock.advance(5)
        self.assertEqual(self.expired, [("a", 18.0)])

    def test_notYetDue(self) -> None:
        """
        A late call for a timer stopped meanwhile gives nothing to those
        not due yet: they end on time.
        """
        self.deadlines.start("a")
        self.clock.advance(5)
        self.deadlines.start("b")
        self.deadlines.stop("a")
        # The call for a's end, late, finds b not due and waits for it,
        # giving no grace (which would spend the pause's: PauseGrace).
        self.clock.advance(5.5)
        self.assertEqual(self.expired, [])
        self.assertEqual([c.getTime() for c in self.clock.getDelayedCalls()], [15.0])
        self.clock.advance(4.5)
        self.assertEqual(self.expired, [("b", 15.0)])
