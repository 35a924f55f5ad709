# -*- test-case-name: txmp.test.test_signals -*-
"""
Tests for L{txmp._signals}.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable

from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from txmp._signals import ForkedChildSignals, SignalActions
from txmp.testing import FakeReactor, FakeSignals


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


def appHandler(number: int, frame: object) -> None:
    """
    An application's own signal handler.
    """


def reactorHandler(number: int, frame: object) -> None:
    """
    A handler that the reactor or the handler installs.
    """


class ForkedChildSignalsTests(SynchronousTestCase):
    """
    Tests for L{ForkedChildSignals}: a child that the application forks
    without C{exec} starts with the signal handlers that the process had
    once the application was imported.
    """

    def setUp(self) -> None:
        self.signals = FakeSignals({
            signal.SIGTERM: signal.SIG_DFL,
            signal.SIGINT: signal.default_int_handler,
            signal.SIGUSR1: appHandler,
            signal.SIGHUP: signal.SIG_IGN,
            signal.SIGSEGV: None,
        })
        self.child = ForkedChildSignals(self.signals)  # type: ignore[arg-type]
        # Then the reactor and the handler install theirs.
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGSEGV):
            self.signals.handlers[number] = reactorHandler
        self.signals.calls.clear()
        self.hooks: dict[str, Callable[[], None]] = {}
        self.child.install(lambda **hooks: self.hooks.update(hooks))

    def test_installed(self) -> None:
        """
        L{ForkedChildSignals.install} registers its three fork hooks.
        """
        self.assertEqual(
            self.hooks,
            {
                "before": self.child.forking,
                "after_in_parent": self.child.forked,
                "after_in_child": self.child.restore,
            },
        )

    def test_child(self) -> None:
        """
        In the child, the handlers taken at first are put back where they
        changed (the application's own, Python's default ones), but not one
        Python did not set (L{None}); there is no wake-up descriptor; and
        the signals blocked for the fork are unblocked last, once their
        handlers are back.
        """
        self.hooks["before"]()
        self.assertEqual(
            self.signals.blocked,
            {signal.SIGPIPE, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1},
        )
        self.signals.calls.clear()
        self.hooks["after_in_child"]()
        self.assertEqual(
            self.signals.handlers,
            {
                signal.SIGTERM: signal.SIG_DFL,
                signal.SIGINT: signal.default_int_handler,
                signal.SIGUSR1: appHandler,
                signal.SIGHUP: signal.SIG_IGN,
                signal.SIGSEGV: reactorHandler,
            },
        )
        self.assertEqual(self.signals.calls[0], "wakeup -1")
        self.assertEqual(self.signals.calls[-1], f"mask {[signal.SIGPIPE]}")
        self.assertEqual(self.signals.blocked, {signal.SIGPIPE})

    def test_parent(self) -> None:
        """
        In the parent, the forking thread's signal mask is put back after
        the fork, and the handlers are left alone.
        """
        self.hooks["before"]()
        self.hooks["after_in_parent"]()
        self.assertEqual(self.signals.blocked, {signal.SIGPIPE})
        self.assertEqual(self.signals.handlers[signal.SIGTERM], reactorHandler)
        self.assertEqual(self.child._masks, {})

    def test_otherThreadForking(self) -> None:
        """
        Each forking thread gets its own mask back.
        """
        self.hooks["before"]()
        mine = threading.get_ident()
        self.child._masks[mine + 1] = {signal.SIGUSR2}
        self.hooks["after_in_parent"]()
        self.assertEqual(self.signals.blocked, {signal.SIGPIPE})
        self.assertEqual(self.child._masks, {mine + 1: {signal.SIGUSR2}})

    def test_notMainThread(self) -> None:
        """
        If the handlers cannot be set (L{ValueError}: not a main thread),
        the signals are unblocked all the same.
        """

        def refuse(number: int, handler: object) -> object:
            raise ValueError("signal only works in main thread")

        self.signals.signal = refuse  # type: ignore[method-assign]
        self.hooks["before"]()
        self.hooks["after_in_child"]()
        self.assertEqual(self.signals.blocked, {signal.SIGPIPE})
