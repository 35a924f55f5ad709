# -*- test-case-name: txmp.test.test_signals -*-
"""
Tests for L{txmp._signals}.
"""

from __future__ import annotations

import signal

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from txmp._signals import SignalActions
from txmp.testing import FakeReactor


def callHandler(number: int) -> None:
    """
    Call the Python handler of signal C{number}, as the signal would.
    """
    handler = signal.getsignal(number)
    assert callable(handler)
    handler(number, None)


def reactorStopped(reactor: FakeReactor) -> None:
    """
    Stop C{reactor}, and let it fire its shutdown triggers.
    """
    reactor.stop()
    reactor.flush()


_CHANGED = (signal.SIGUSR2, signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


class SignalActionsTests(SynchronousTestCase):
    """
    Tests for L{SignalActions}.  The handlers are called directly, as the
    interpreter would: no signal is sent.
    """

    def setUp(self) -> None:
        # The tests change these handlers: each gets this process's back.
        for number in _CHANGED:
            self.addCleanup(signal.signal, number, signal.getsignal(number))

    def test_actionScheduled(self) -> None:
        """
        Once started, the signal's handler schedules the action in the
        reactor thread (it does not run it in the handler); the previous
        Python handler is called too.
        """
        called: list[int] = []
        signal.signal(signal.SIGUSR2, lambda number, frame: called.append(number))
        reactor = FakeReactor()
        ran: list[str] = []
        service = SignalActions(reactor, {signal.SIGUSR2: lambda: ran.append("x")})
        service.startService()
        reactor.run()
        callHandler(signal.SIGUSR2)
        self.assertEqual(ran, [])
        self.assertEqual(len(reactor.pending), 1)
        reactor.flush()
        self.assertEqual(ran, ["x"])
        self.assertEqual(called, [signal.SIGUSR2])

    def test_installedWhenRunning(self) -> None:
        """
        SIGINT and SIGTERM handlers are installed once the reactor runs
        (after its own), others when the service starts.
        """
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        reactor = FakeReactor()
        service = SignalActions(reactor, {signal.SIGUSR2: lambda: None},
                                once=[signal.SIGINT, signal.SIGTERM])
        service.startService()
        self.assertNotEqual(signal.getsignal(signal.SIGUSR2), signal.SIG_IGN)
        self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_IGN)
        reactor.run()
        self.assertNotEqual(signal.getsignal(signal.SIGTERM), signal.SIG_IGN)
        self.assertNotEqual(signal.getsignal(signal.SIGINT), signal.SIG_IGN)
        service.stopService()
        reactorStopped(reactor)
        self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_IGN)

    def test_immediate(self) -> None:
        """
        An immediate action runs in the signal handler itself, before the
        scheduled one is even scheduled.
        """
        reactor = FakeReactor()
        order: list[str] = []
        service = SignalActions(
            reactor, {signal.SIGUSR2: lambda: order.append("scheduled")},
            immediate={signal.SIGUSR2: lambda: order.append(
                "now, %d scheduled" % (len(reactor.pending),))},
        )
        service.startService()
        reactor.run()
        callHandler(signal.SIGUSR2)
        self.assertEqual(order, ["now, 0 scheduled"])
        self.assertEqual(len(reactor.pending), 1)

    def test_stopRestores(self) -> None:
        """
        Once the reactor has stopped, the previous handler is back.
        """
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        reactor = FakeReactor()
        service = SignalActions(reactor, {signal.SIGUSR2: lambda: None})
        service.startService()
        reactor.run()
        self.assertNotEqual(signal.getsignal(signal.SIGUSR2), signal.SIG_IGN)
        service.stopService()
        reactorStopped(reactor)
        self.assertEqual(signal.getsignal(signal.SIGUSR2), signal.SIG_IGN)

    def test_handledWhileStopping(self) -> None:
        """
        While the process stops (the service stopped, the reactor not yet:
        a front or handler draining), the handler stays and the action still
        runs, rather than the previous handler, the default action of which
        (for C{SIGUSR1}, C{SIGUSR2}, C{SIGHUP}) would kill the process.
        """
        signal.signal(signal.SIGUSR2, signal.SIG_DFL)
        reactor = FakeReactor()
        ran: list[str] = []
        service = SignalActions(reactor, {signal.SIGUSR2: lambda: ran.append("x")})
        service.startService()
        reactor.run()
        service.stopService()
        callHandler(signal.SIGUSR2)
        reactor.flush()
        self.assertEqual(ran, ["x"])

    def test_once(self) -> None:
        """
        For the signals in C{once}, the previous handler runs for the first
        of them only: a second stop signal does not stop the reactor again.
        """
        called: list[int] = []
        for number in (signal.SIGUSR2, signal.SIGHUP):
            signal.signal(number, lambda number, frame: called.append(number))
        reactor = FakeReactor()
        service = SignalActions(reactor, {}, once=[signal.SIGUSR2, signal.SIGHUP])
        service.startService()
        reactor.run()
        callHandler(signal.SIGUSR2)
        callHandler(signal.SIGHUP)
        callHandler(signal.SIGUSR2)
        self.assertEqual(called, [signal.SIGUSR2])

    def test_onceAfterStop(self) -> None:
        """
        Once the service has stopped (the process stops for a reason of
        its own: a handler's C{--max-requests}), a signal in C{once} is
        the second: the previous handler, the reactor's, which would stop
        the stopping reactor again and raise, is not called; it is logged
        as ignored.
        """
        called: list[int] = []
        signal.signal(signal.SIGTERM, lambda number, frame: called.append(number))
        reactor = FakeReactor()
        service = SignalActions(reactor, {}, once=[signal.SIGINT, signal.SIGTERM])
        service.startService()
        reactor.run()
        service.stopService()
        with capturedLogs() as events:
            callHandler(signal.SIGTERM)
            reactor.flush()
        self.assertEqual(called, [])
        self.assertEqual(
            [formatEvent(event) for event in events],
            ["signal %d ignored: already stopping" % (signal.SIGTERM,)],
        )

    def test_alias(self) -> None:
        """
        A signal in C{aliases} does all the signal it names does (its
        immediate action, its previous handler, its place in C{once}),
        saying so first; its handler is installed once the reactor runs,
        with the reactor's.
        """
        called: list[int] = []
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
        reactor = FakeReactor()
        stopping: list[str] = []
        service = SignalActions(
            reactor, {}, immediate={signal.SIGTERM: lambda: stopping.append("now")},
            once=[signal.SIGTERM], aliases={signal.SIGQUIT: signal.SIGTERM},
        )
        service.startService()
        self.assertEqual(signal.getsignal(signal.SIGQUIT), signal.SIG_DFL)
        # The reactor's own handler, which it installs as it starts.
        signal.signal(signal.SIGTERM, lambda number, frame: called.append(number))
        with capturedLogs() as events:
            reactor.run()
            callHandler(signal.SIGQUIT)
            callHandler(signal.SIGQUIT)
            callHandler(signal.SIGTERM)
            reactor.flush()
        self.assertEqual((stopping, called), (["now"] * 3, [signal.SIGTERM]))
        self.assertEqual(
            [formatEvent(event) for event in events],
            ["SIGQUIT: handled as SIGTERM",
             "SIGQUIT: handled as SIGTERM",
             f"signal {int(signal.SIGQUIT)} ignored: already stopping",
             f"signal {int(signal.SIGTERM)} ignored: already stopping"],
        )

    def test_ignoredStopSignal(self) -> None:
        """
        SIGINT in C{once}, which the process was started ignoring (a shell
        script's background job), and for which the reactor so installed
        no handler, stops the process as SIGTERM does, saying so: it
        neither stops nothing while marking the process as stopping, so
        that the SIGTERM sent next would be ignored, nor is its handler
        left out.
        """
        called: list[int] = []
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        reactor = FakeReactor()
        stopping: list[str] = []
        service = SignalActions(
            reactor, {},
            immediate={
                signal.SIGINT: lambda: stopping.append("int"),
                signal.SIGTERM: lambda: stopping.append("term"),
            },
            once=[signal.SIGINT, signal.SIGTERM],
        )
        service.startService()
        # The reactor's own SIGTERM handler, which it installs as it
        # starts; not one for SIGINT, which is ignored.
        signal.signal(signal.SIGTERM, lambda number, frame: called.append(number))
        with capturedLogs() as events:
            reactor.run()
            callHandler(signal.SIGINT)
            callHandler(signal.SIGTERM)
            reactor.flush()
        self.assertEqual((stopping, called), (["term", "term"], [signal.SIGTERM]))
        self.assertEqual(
            [formatEvent(event) for event in events],
            ["SIGINT: handled as SIGTERM",
             f"signal {int(signal.SIGTERM)} ignored: already stopping"],
        )
        reactorStopped(reactor)
        self.assertEqual(signal.getsignal(signal.SIGINT), signal.SIG_IGN)

    def test_noAliasWithoutReactorHandlers(self) -> None:
        """
        Where the reactor installed no handlers (not under twistd:
        C{installSignalHandlers=False}), no stop signal is made an alias of
        another: SIGTERM, at its default, does not become one of SIGINT
        (whose handler, Python's, would raise C{KeyboardInterrupt}), nor
        SIGINT, ignored, one of SIGTERM.  The aliases given are not
        changed.
        """
        for interrupt in (signal.default_int_handler, signal.SIG_IGN):
            signal.signal(signal.SIGINT, interrupt)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            given: dict[int, int] = {signal.SIGQUIT: signal.SIGTERM}
            reactor = FakeReactor()
            service = SignalActions(
                reactor, {}, once=[signal.SIGINT, signal.SIGTERM], aliases=given
            )
            service.startService()
            reactor.run()
            reactor.flush()
            self.assertEqual(service.aliases, {signal.SIGQUIT: signal.SIGTERM}, interrupt)
            self.assertEqual(given, {signal.SIGQUIT: signal.SIGTERM})
            service.stopService()
            reactorStopped(reactor)
