# -*- test-case-name: txmp.test.test_signals -*-
"""
Signal handlers as a service: installed when it starts, the previous ones
put back when it stops, each running its action in the reactor thread.
"""

from __future__ import annotations

import signal
from typing import Any, Callable, Dict

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorFromThreads


class SignalActions(Service):
    """
    Runs an action in the reactor thread when the process gets a signal.

    A previous handler that is a Python function (twistd's own, say) is
    called too, after the action is scheduled.

    @ivar actions: what to do, by signal number.
    """

    def __init__(
        self, reactor: IReactorFromThreads, actions: Dict[int, Callable[[], None]]
    ) -> None:
        self._reactor = reactor
        self.actions = actions
        self._previous: Dict[int, Any] = {}

    def startService(self) -> None:
        Service.startService(self)
        for number, action in self.actions.items():
            previous = signal.getsignal(number)
            self._previous[number] = previous

            def handler(
                number: int, frame: Any, action: Callable[[], None] = action,
                previous: Any = previous,
            ) -> None:
                # A signal handler runs between two bytecodes of any code of
                # the reactor thread: only schedule.
                self._reactor.callFromThread(action)
                if callable(previous):
                    previous(number, frame)

            signal.signal(number, handler)

    def stopService(self) -> None:
        Service.stopService(self)
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}
