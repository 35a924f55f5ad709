"""
Tests for L{txmp.testing}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from txmp.testing import FakeReactor, SynchronousThreadPool


class SynchronousThreadPoolTests(SynchronousTestCase):
    """
    L{SynchronousThreadPool} runs work at once.
    """

    def test_callInThread(self) -> None:
        """
        C{callInThread} calls the function before returning, with the
        arguments given.
        """
        calls: list[tuple[Any, ...]] = []
        SynchronousThreadPool().callInThread(
            lambda *a, **kw: calls.append((a, kw)), 1, 2, x=3
        )
        self.assertEqual(calls, [((1, 2), {"x": 3})])

    def test_callInThreadLogs(self) -> None:
        """
        What the work raises is logged, not raised, as in a real pool.
        """
        SynchronousThreadPool().callInThread(lambda: 1 // 0)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_startStop(self) -> None:
        """
        C{start} and C{stop} only record that they were called.
        """
        pool = SynchronousThreadPool()
        self.assertFalse(pool.started)
        pool.start()
        self.assertTrue(pool.started)
        pool.stop()
        self.assertFalse(pool.started)

    def test_callInThreadWithCallback(self) -> None:
        """
        C{callInThreadWithCallback} reports the result, or the failure.
        """
        results: list[tuple[bool, Any]] = []
        pool = SynchronousThreadPool()
        pool.callInThreadWithCallback(
            lambda ok, r: results.append((ok, r)), lambda x: x + 1, 1
        )
        pool.callInThreadWithCallback(
            lambda ok, r: results.append((ok, r)), lambda: 1 // 0
        )
        self.assertEqual(results[0], (True, 2))
        self.assertFalse(results[1][0])
        self.assertIsInstance(results[1][1], Failure)
        self.assertIsInstance(results[1][1].value, ZeroDivisionError)

    def test_deferToThreadPool(self) -> None:
        """
        With L{FakeReactor}, the pool serves
        L{deferToThreadPool}: the result arrives when the reactor is
        flushed.
        """
        reactor = FakeReactor()
        d = deferToThreadPool(
            reactor, SynchronousThreadPool(), lambda: "done"  # type: ignore[arg-type]
        )
        self.assertNoResult(d)
        reactor.flush()
        self.assertEqual(self.successResultOf(d), "done")


class FakeReactorTests(SynchronousTestCase):
    """
    L{FakeReactor} queues calls until flushed.
    """

    def test_interface(self) -> None:
        """
        It provides L{IReactorFromThreads}.
        """
        self.assertTrue(verifyObject(IReactorFromThreads, FakeReactor()))

    def test_queued(self) -> None:
        """
        C{callFromThread} runs nothing; C{flush} runs the calls in order,
        with their arguments, and those they queue, and says how many.
        """
        reactor = FakeReactor()
        calls: list[tuple[Any, ...]] = []
        reactor.callFromThread(calls.append, (1,))
        reactor.callFromThread(
            lambda: reactor.callFromThread(lambda **kw: calls.append((2, kw)), x=3)
        )
        self.assertEqual(calls, [])
        self.assertEqual(len(reactor.pending), 2)
        self.assertEqual(reactor.flush(), 3)
        self.assertEqual(calls, [(1,), (2, {"x": 3})])
        self.assertEqual(reactor.pending, [])
        self.assertEqual(reactor.flush(), 0)

    def test_failureLogged(self) -> None:
        """
        A call that raises is logged, and the next ones still run.
        """
        reactor = FakeReactor()
        calls: list[int] = []
        reactor.callFromThread(lambda: 1 // 0)
        reactor.callFromThread(calls.append, 1)
        self.assertEqual(reactor.flush(), 2)
        self.assertEqual(calls, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
