# -*- test-case-name: txmp.test.test_signals -*-
"""
Signal handlers as a service (L{SignalActions}): installed when it
starts, the previous ones put back once the reactor has stopped, each
running its action in the reactor thread.  And the signal handlers a
child process the application forks starts with (L{ForkedChildSignals}).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import threading
from collections.abc import Iterable
from types import FrameType, ModuleType
from typing import Callable, Union

from twisted.application.service import Service
from twisted.logger import Logger

from txmp._interfaces import ISignalReactor

#: A signal's handler, as L{signal.getsignal} returns it.
_Handler = Union[Callable[[int, Union[FrameType, None]], object], int, signal.Handlers, None]

#: The signals the reactor handles itself once it runs.
_REACTORS = {signal.SIGINT, signal.SIGTERM}


def explanation(namespace: str, line: str) -> Callable[[], None]:
    """
    A signal action that only logs C{line} (at info, in C{namespace}): what
    a signal this process has no use for did, which is nothing, and what
    would do what the operator meant.
    """
    log = Logger(namespace=namespace)

    def explain() -> None:
        log.info(line)

    return explain


class SignalActions(Service):
    """
    Runs an action in the reactor thread when the process gets a signal.

    The handlers are installed when the service starts, or for SIGINT and
    SIGTERM once the reactor runs, after the reactor's own; a previous
    handler that is a Python function
    (the reactor's, twistd's) is called too, after the action.

    They stay while the process stops (the service is stopped when the
    reactor begins to, and a front or handler then drains for up to
    C{--graceful-timeout}), and the previous ones are put back only once
    the reactor has stopped: put back earlier, the default action of
    C{SIGUSR1}, C{SIGUSR2} or C{SIGHUP} (logrotate, a reload) would kill
    the process with its requests running, and C{SIGTTIN}'s would freeze
    it.

    @ivar actions: what to do in the reactor thread, by signal number.
    @ivar immediate: what to do in the signal handler itself, by signal
        number: only what is safe between any two bytecodes of the reactor
        thread, such as setting a flag.  It runs before the reactor reads
        anything more, where a scheduled action would run after whatever
        that reading does.
    @ivar once: signals whose previous handlers run for the first of them
        only: the reactor's SIGINT and SIGTERM handlers stop it, and a
        second stop raises C{ReactorNotRunning} (a Ctrl-C that reaches a
        spawned handler is followed by its front's SIGTERM).
    @ivar aliases: signals handled as another, by signal number: C{{SIGQUIT:
        SIGTERM}} makes SIGQUIT do all SIGTERM does (its actions, its place
        in C{once}, the reactor's handler), saying so first.  Installed
        with the reactor's, once it runs.  SIGINT in C{once} that the
        process was started ignoring, and so has no reactor's handler, is
        added as an alias of SIGTERM (see L{_install}).
    """

    _log = Logger()

    def __init__(
        self,
        reactor: ISignalReactor,
        actions: dict[int, Callable[[], None]],
        immediate: dict[int, Callable[[], None]] | None = None,
        once: Iterable[int] = (),
        aliases: dict[int, int] | None = None,
    ) -> None:
        self._reactor = reactor
        self.actions = actions
        self.immediate = immediate or {}
        self.once = frozenset(once)
        self.aliases = dict(aliases or {})
        self._onceDone = False
        self._previous: dict[int, _Handler] = {}

    def startService(self) -> None:
        Service.startService(self)
        signals = {*self.actions, *self.immediate, *self.once, *self.aliases}
        # At once, so that a signal sent as soon as the process has started
        # finds its handler; but the reactor installs its own for these when
        # it starts running, so ours go after (and an alias of one of them
        # with them: before, it would find no reactor's handler to call).
        late = _REACTORS | set(self.aliases)
        self._install(signals - late)
        self._reactor.callWhenRunning(lambda: self._install(signals & late))
        self._reactor.addSystemEventTrigger("after", "shutdown", self.restore)

    def stopService(self) -> None:
        """
        The process is stopping: whatever stopped it (a signal in C{once},
        or the process itself: a handler's C{--max-requests}, its front
        gone), a signal in C{once} from now on is the second, and the
        reactor's handler must not stop it again (it raised
        C{ReactorNotRunning}, logged as critical with a traceback, at every
        recycled C{--spawn} handler, which its front sends C{SIGTERM} as
        it drains).  The handlers stay (see above).
        """
        self._onceDone = True
        Service.stopService(self)

    def _install(self, signals: set[int]) -> None:
        if not self.running:
            return
        for number in signals:
            previous = signal.getsignal(number)
            self._previous[number] = previous
            signal.signal(number, self._handler)
        # A process started with SIGINT ignored (a shell script's background
        # job, as POSIX shells start them) gets no SIGINT handler from the
        # reactor, which installs one only over Python's default: ours would
        # then mark the process as stopping and stop nothing, and the
        # SIGTERM that follows would be ignored as a second stop signal.
        # Such a SIGINT stops the process as SIGTERM does (as gunicorn's
        # does), if the reactor handles SIGTERM.
        if (
            signal.SIGINT in self.once & signals
            and signal.SIGINT not in self.aliases
            and not callable(self._previous.get(signal.SIGINT))
            and callable(self._previous.get(signal.SIGTERM))
        ):
            self.aliases[signal.SIGINT] = signal.SIGTERM

    def _handler(self, number: int, frame: FrameType | None) -> None:
        received = number
        if number in self.aliases:
            number = self.aliases[number]
            self._reactor.callFromThread(
                self._log.info, "{received}: handled as {number}",
                received=signal.Signals(received).name,
                number=signal.Signals(number).name,
            )
        now = self.immediate.get(number)
        if now is not None:
            now()
        action = self.actions.get(number)
        if action is not None:
            # A signal handler runs between two bytecodes of any code of
            # the reactor thread: only schedule.
            self._reactor.callFromThread(action)
        if number in self.once:
            if self._onceDone:
                self._reactor.callFromThread(
                    self._log.info, "signal {number} ignored: already stopping",
                    number=received,
                )
                return
            self._onceDone = True
        previous = self._previous.get(number)
        if callable(previous):
            previous(number, frame)

    def restore(self) -> None:
        """
        Put the previous handlers back: the reactor has stopped.
        """
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}


try:
    # PyPy sets signal handlers in its main thread only, unless told
    # otherwise, and a child forked from another thread (an application
    # thread) does not count that thread as its main one, as CPython does.
    _signalsEnabled: contextlib.AbstractContextManager[object] = (
        importlib.import_module("__pypy__.thread").signals_enabled
    )
except ImportError:
    _signalsEnabled = contextlib.nullcontext()


class ForkedChildSignals:
    """
    The signal handlers that a child forked by the application without
    C{exec} (a L{multiprocessing} worker, with Linux's default C{fork}
    start method, or L{os.fork}) starts with: those the process had once
    the application was imported (Python's, and the application's own),
    not the handler's and its reactor's, and no wake-up file descriptor.

    Inherited, the reactor's C{SIGTERM} handler only logged "Received
    SIGTERM, shutting down." into the handler's log and scheduled a stop
    of a reactor that the child does not run: the child ignored
    C{SIGTERM}, so that C{multiprocessing.Pool}'s C{terminate()} (which
    its C{with} block calls) and C{Process.terminate()} waited for it for
    ever, holding the request's thread.  (Twisted resets a child's signals
    likewise after it forks one, before the C{exec}.)

    The signals whose handlers are put back are blocked in the forking
    thread while it forks, so that one sent to the child at once (a
    C{terminate()} right after C{start()}) waits for its own handler,
    rather than find the reactor's or be lost as the handler is changed.

    @ivar handlers: the handlers to start a child with, by signal number.
    """

    def __init__(self, signals: ModuleType = signal) -> None:
        """
        Take the handlers as they are now: once the application is
        imported, before the reactor and the handler install theirs.

        @param signals: L{signal}, or a fake.
        """
        self._signals = signals
        self.handlers: dict[int, _Handler] = {
            number: signals.getsignal(number) for number in signals.valid_signals()
        }
        # The forking threads' signal masks before the fork, by thread.
        self._masks: dict[int, set[int]] = {}

    def install(self, register: Callable[..., None] = os.register_at_fork) -> None:
        """
        Have every child forked from now on start with L{handlers}: call it
        once the process that serves runs (after twistd's own fork, as a
        daemon), and once only, as a hook cannot be removed.
        """
        register(
            before=self.forking, after_in_parent=self.forked, after_in_child=self.restore
        )

    def _changed(self) -> dict[int, _Handler]:
        """
        The handlers to put back in a child: those that have changed.
        """
        getsignal = self._signals.getsignal
        return {
            number: handler
            for number, handler in self.handlers.items()
            # (None: a handler not set from Python, which cannot be put back.)
            if handler is not None and getsignal(number) is not handler
        }

    def forking(self) -> None:
        """
        Block the signals to put back in the child, in this thread, which is
        about to fork.
        """
        signals = self._signals
        self._masks[threading.get_ident()] = signals.pthread_sigmask(
            signals.SIG_BLOCK, self._changed()
        )

    def forked(self) -> None:
        """
        Unblock them: this thread has forked.  Called in the parent.
        """
        mask = self._masks.pop(threading.get_ident(), None)
        if mask is not None:
            self._signals.pthread_sigmask(self._signals.SIG_SETMASK, mask)

    def restore(self) -> None:
        """
        Put back L{handlers} where they changed, and no wake-up descriptor
        (the reactor's waker is the parent's); then unblock the signals,
        which a signal sent meanwhile now finds.  Called in a forked child,
        in the thread that forked, which is its main thread now.
        """
        signals = self._signals
        try:
            with _signalsEnabled:
                signals.set_wakeup_fd(-1)
                for number, handler in self._changed().items():
                    signals.signal(number, handler)
        except (OSError, ValueError):
            # (Not in a main thread: nothing can be set, and a hook's
            # exception would only be printed.)
            pass
        mask = self._masks.pop(threading.get_ident(), None)
        self._masks.clear()
        if mask is not None:
            signals.pthread_sigmask(signals.SIG_SETMASK, mask)
