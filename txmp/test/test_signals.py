"""
Tests for L{txmp._signals}.
"""

from __future__ import annotations

import signal
from typing import Any, List

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from txmp._signals import SignalActions


class FromThreadsReactor(MemoryReactorClock):
    """
    A memory reactor that records what is called from threads (as a signal
    handler does) instead of running it.
    """

    def __init__(self) -> None:
        MemoryReactorClock.__init__(self)
        self.fromThreads: List[Any] = []

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        self.fromThreads.append(f)


class SignalActionsTests(SynchronousTestCase):
    """
    Tests for L{SignalActions}.  The handlers are called directly, as the
    interpreter would: no signal is sent.
    """

    def setUp(self) -> None:
        original = signal.getsignal(signal.SIGUSR2)
        self.addCleanup(signal.signal, signal.SIGUSR2, original)

    def test_actionScheduled(self) -> None:
        """
        Once started, the signal's handler schedules the action in the
        reactor thread (it does not run it in the handler); the previous
        Python handler is called too.
        """
        called: List[int] = []
        signal.signal(signal.SIGUSR2, lambda number, frame: called.append(number))
        reactor = FromThreadsReactor()
        ran: List[str] = []
        service = SignalActions(reactor, {signal.SIGUSR2: lambda: ran.append("x")})
        service.startService()
        signal.getsignal(signal.SIGUSR2)(signal.SIGUSR2, None)  # type: ignore[operator]
        self.assertEqual(ran, [])
        self.assertEqual(len(reactor.fromThreads), 1)
        reactor.fromThreads[0]()
        self.assertEqual(ran, ["x"])
        self.assertEqual(called, [signal.SIGUSR2])

    def test_stopRestores(self) -> None:
        """
        Stopping puts the previous handler back.
        """
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        service = SignalActions(FromThreadsReactor(), {signal.SIGUSR2: lambda: None})
        service.startService()
        self.assertNotEqual(signal.getsignal(signal.SIGUSR2), signal.SIG_IGN)
        service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGUSR2), signal.SIG_IGN)
