# -*- test-case-name: tests -*-
"""
Waiting for a condition on something that changes by events (a request
ending, bytes arriving), without polling: whatever changes it calls
L{Conditions.check}.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet.defer import Deferred, succeed


class Conditions:
    """
    L{Deferred}s waiting for predicates, fired when L{check} finds them
    true.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[], bool], Deferred[None]]] = []

    def wait(self, predicate: Callable[[], bool]) -> Deferred[None]:
        """
        Wait until C{predicate} is true, now or at a later L{check}.

        @return: A cancellable L{Deferred} that fires with L{None}.
        """
        if predicate():
            return succeed(None)
        waiter: Deferred[None] = Deferred(lambda d: self._waiting.remove(entry))
        entry = (predicate, waiter)
        self._waiting.append(entry)
        return waiter

    def check(self) -> None:
        """
        Fire every waiter whose predicate is true now.
        """
        for entry in list(self._waiting):
            # A waiter fired earlier in this loop may have fired this one.
            if entry in self._waiting and entry[0]():
                self._waiting.remove(entry)
                entry[1].callback(None)

    def failAll(self, reason: Exception) -> None:
        """
        Fail every waiter with C{reason}.
        """
        waiting, self._waiting = self._waiting, []
        for _, d in waiting:
            d.errback(reason)
