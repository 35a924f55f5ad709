# -*- test-case-name: txmp.test.test_signals -*-
"""
Signal handlers as a service: installed when it starts, the previous ones
put back once the reactor has stopped, each running its action in the
reactor thread.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from types import FrameType
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
