# -*- test-case-name: txmp.test.test_pool -*-
"""
Tests for L{txmp._pool}: no threads are started; a fake thread runs its
target when joined, and L{FakeReactor} stands for the reactor.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from txmp._pool import ReactorCalls, WorkerPool
from txmp.testing import FakeThread, runningReactor


class WorkerPoolTests(SynchronousTestCase):
    """
    L{WorkerPool} runs work in its threads, in order, and logs failures.
    """

    def setUp(self) -> None:
        self.made: list[FakeThread] = []

        def factory(**kw: Any) -> FakeThread:
            thread = FakeThread(**kw)
            self.made.append(thread)
            return thread

        self.pool = WorkerPool(3, "wsgi", factory)

    def test_startMakesNamedThreads(self) -> None:
        """
        L{WorkerPool.start} starts C{size} threads from the factory, named
        as Twisted's pool names them.
        """
        self.pool.start()
        self.assertEqual(
            [t.name for t in self.made],
            ["PoolThread-wsgi-0", "PoolThread-wsgi-1", "PoolThread-wsgi-2"],
        )
        self.assertTrue(all(t.started for t in self.made))
        self.assertEqual(self.pool.threads, self.made)
        self.assertTrue(self.pool.started)

    def test_startTwice(self) -> None:
        """
        Starting a started pool makes no more threads.
        """
        self.pool.start()
        self.pool.start()
        self.assertEqual(len(self.made), 3)

    def test_runsInOrder(self) -> None:
        """
        Work given before and after L{WorkerPool.start} runs, in the order
        it was given, with its positional and keyword arguments, before
        L{WorkerPool.stop} returns.
        """
        calls: list[Any] = []
        self.pool.callInThread(calls.append, 1)
        self.pool.start()
        self.pool.callInThread(lambda x, y: calls.append((x, y)), 2, y=3)
        self.assertEqual(calls, [])
        self.pool.stop()
        self.assertEqual(calls, [1, (2, 3)])
        self.assertTrue(all(t.joined for t in self.made))

    def test_failureLogged(self) -> None:
        """
        An exception escaping a call is logged, and the thread goes on with
        the next call.
        """
        calls: list[int] = []
        self.pool.start()
        self.pool.callInThread(lambda: 1 // 0)
        self.pool.callInThread(calls.append, 1)
        self.pool.stop()
        self.assertEqual(calls, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_stopDropsLaterWork(self) -> None:
        """
        After L{WorkerPool.stop}, work is dropped, and the pool has no
        thread; L{WorkerPool.start} makes new ones.
        """
        calls: list[int] = []
        self.pool.start()
        self.pool.stop()
        self.pool.callInThread(calls.append, 1)
        self.assertEqual(self.pool.threads, [])
        self.assertFalse(self.pool.started)
        self.pool.start()
        self.assertEqual(len(self.made), 6)
        self.pool.callInThread(calls.append, 2)
        self.pool.stop()
        self.assertEqual(calls, [2])

    def test_stopUnstarted(self) -> None:
        """
        Stopping a pool that never started does nothing.
        """
        self.pool.stop()
        self.assertEqual(self.made, [])


class WorkerPoolDivideTests(SynchronousTestCase):
    """
    L{WorkerPool.divide} sets the pool's threads apart for each lane: the
    work of one lane never takes the threads of another.
    """

    def setUp(self) -> None:
        self.made: list[FakeThread] = []
        # The thread running work: a FakeThread runs its target when joined.
        self.running: list[str] = []

        test = self

        class NamedThread(FakeThread):
            def join(self, timeout: float | None = None) -> None:
                test.running.append(self.name)
                super().join(timeout)
                test.running.pop()

        def factory(**kw: Any) -> FakeThread:
            thread = NamedThread(**kw)
            self.made.append(thread)
            return thread

        self.factory = factory

    def test_divideFirst(self) -> None:
        """
        A pool that has started, or been given work, cannot be divided: its
        threads read their queue already, or the work would stay on one
        that no thread reads.
        """
        started = WorkerPool(2, threadFactory=self.factory)
        started.start()
        self.assertRaises(RuntimeError, started.divide, 2)
        started.stop()
        given = WorkerPool(2, threadFactory=self.factory)
        given.callInThread(lambda: None)
        self.assertRaises(RuntimeError, given.divide, 2)

    def ranIn(self, pool: WorkerPool, lanes: list[Any], work: list[int]) -> list[tuple[int, str]]:
        """
        Give each lane the work listed for it by lane number, start the
        pool and stop it (which runs everything).

        @return: which lane's work ran in which thread, in order.
        """
        calls: list[tuple[int, str]] = []
        for n in work:
            lanes[n].callInThread(lambda n: calls.append((n, self.running[-1])), n)
        pool.start()
        pool.stop()
        return calls

    def test_lanesOwnThreads(self) -> None:
        """
        A pool of four threads divided in two lanes runs the work of the
        first lane in the first two threads only, and of the second in the
        last two, each lane's in the order it was given: a lane whose
        threads are all busy with work waiting (a front's requests beyond
        its threads, its C{--prefetch}) does not hold up the other lane's
        work, nor take its threads as they come free.
        """
        pool = WorkerPool(4, "wsgi", self.factory)
        lanes = pool.divide(2)
        calls = self.ranIn(pool, lanes, [0, 0, 0, 1, 0, 1])
        self.assertEqual([n for n, _ in calls if n == 0], [0, 0, 0, 0])
        self.assertEqual(
            {thread for n, thread in calls if n == 0},
            {"PoolThread-wsgi-0"},
        )
        self.assertEqual(
            {thread for n, thread in calls if n == 1},
            {"PoolThread-wsgi-2"},
        )
        self.assertEqual(len(self.made), 4)

    def test_unevenLanes(self) -> None:
        """
        Threads that do not divide evenly go to the first lanes: of five
        threads in two lanes, the first three are the first lane's (the
        threads are joined in order, and the first of a lane's threads
        joined runs its work).
        """
        pool = WorkerPool(5, "wsgi", self.factory)
        lanes = pool.divide(2)
        self.assertEqual(
            self.ranIn(pool, lanes, [1, 0]),
            [(0, "PoolThread-wsgi-0"), (1, "PoolThread-wsgi-3")],
        )

    def test_fewerThreadsThanLanes(self) -> None:
        """
        With fewer threads than lanes, the n-th lane's work runs in the
        (n modulo threads)-th thread, in the order it was given.
        """
        pool = WorkerPool(2, "wsgi", self.factory)
        lanes = pool.divide(3)
        calls = self.ranIn(pool, lanes, [2, 1, 0, 2])
        self.assertEqual(
            calls,
            [
                (2, "PoolThread-wsgi-0"),
                (0, "PoolThread-wsgi-0"),
                (2, "PoolThread-wsgi-0"),
                (1, "PoolThread-wsgi-1"),
            ],
        )

    def test_poolWorkInFirstLane(self) -> None:
        """
        Work given to a divided pool itself runs in the first lane's
        threads; after L{WorkerPool.stop}, work given to a lane is dropped.
        """
        pool = WorkerPool(2, "wsgi", self.factory)
        lanes = pool.divide(2)
        calls: list[str] = []
        pool.callInThread(lambda: calls.append(self.running[-1]))
        pool.start()
        pool.stop()
        lanes[1].callInThread(calls.append, "dropped")
        self.assertEqual(calls, ["PoolThread-wsgi-0"])


class ReactorCallsTests(SynchronousTestCase):
    """
    L{ReactorCalls} runs calls in the reactor thread in order, waking the
    reactor once for calls made together.
    """

    def setUp(self) -> None:
        self.reactor = runningReactor()
        self.calls = ReactorCalls(self.reactor)

    def test_oneWakeUp(self) -> None:
        """
        Calls made before the reactor runs any are run in order by one
        reactor call.
        """
        done: list[Any] = []
        self.calls.callFromThread(done.append, 1)
        self.calls.callFromThread(lambda a, b: done.append((a, b)), 2, 3)
        self.calls.callFromThread(done.append, 4)
        self.assertEqual(len(self.reactor.pending), 1)
        self.assertEqual(done, [])
        self.assertEqual(self.reactor.flush(), 1)
        self.assertEqual(done, [1, (2, 3), 4])

    def test_wakesAgainOnceDrained(self) -> None:
        """
        A call made after a drain emptied the queue wakes the reactor
        again.
        """
        done: list[int] = []
        self.calls.callFromThread(done.append, 1)
        self.reactor.flush()
        self.calls.callFromThread(done.append, 2)
        self.assertEqual(len(self.reactor.pending), 1)
        self.reactor.flush()
        self.assertEqual(done, [1, 2])

    def test_callsMadeWhileDraining(self) -> None:
        """
        A call made while a drain runs (by another thread, or by a call
        being run) is not run by that drain, but by another one, scheduled
        once, after what the reactor has queued meanwhile.
        """
        done: list[str] = []

        def first() -> None:
            done.append("first")
            self.calls.callFromThread(done.append, "later")
            self.calls.callFromThread(done.append, "later2")
            self.reactor.callFromThread(done.append, "reactor")

        self.calls.callFromThread(first)
        self.calls.callFromThread(done.append, "second")
        self.assertEqual(self.reactor.flush(), 3)
        self.assertEqual(done, ["first", "second", "reactor", "later", "later2"])

    def test_failureLogged(self) -> None:
        """
        A call that raises is logged, and the calls after it run.
        """
        done: list[int] = []
        self.calls.callFromThread(lambda: 1 // 0)
        self.calls.callFromThread(done.append, 1)
        self.reactor.flush()
        self.assertEqual(done, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.calls.callFromThread(done.append, 2)
        self.reactor.flush()
        self.assertEqual(done, [1, 2])

    def test_raceWithDrain(self) -> None:
        """
        The race that could lose a wake-up: a call appended by another
        thread after a drain ran the calls it found, before it checks the
        queue to clear its flag.  The caller, finding the flag set, wakes
        nobody; the drain finds the call, schedules itself again, and the
        call runs.
        """
        done: list[int] = []
        self.calls.callFromThread(done.append, 1)
        # The racing thread appends when the drain checks whether the
        # queue is empty: the latest moment it can.  (The check is its
        # truth: __len__ on CPython 3.10 and later and PyPy, __bool__ on
        # CPython 3.9, whose deque has one of its own.)
        original = self.calls._calls
        calls = self.calls

        class Racing(type(original)):  # type: ignore[misc]
            raced = False

            def race(self) -> None:
                if not Racing.raced and calls._scheduled and not super().__len__():
                    Racing.raced = True
                    self.append((done.append, (2,)))

            def __len__(self) -> int:
                self.race()
                return super().__len__()

            def __bool__(self) -> bool:
                self.race()
                return super().__len__() > 0

        self.calls._calls = Racing(original)
        self.reactor.flush()
        self.assertTrue(Racing.raced)
        self.assertEqual(done, [1, 2])
        self.assertFalse(self.calls._scheduled)
