# -*- test-case-name: txmp.test.test_deadlines -*-
"""
L{Deadlines}: many timers of one length as one L{IDelayedCall}.

The front gives every request it waits on the same reply timeout, restarted
at each sign of progress and stopped when the reply is complete: a timer
per request, of which almost none fires.  One C{callLater} and its
C{cancel} per request cost the front about 2.4 microseconds of its 29
(C{benchmarks/frontpath.py}), and the reactor's heap of cancelled calls
more under load (docs/benchmarks.md, "One route for the answer, one timer
for the replies").  Timers of one length end in the order they start, so
they can wait in a dict in that order, behind one delayed call for the
first of them: starting, restarting and stopping one is a dict operation.

The front's queue timeout is the same: the requests queued for want of a
handler with credit, each for C{--queue-timeout} from when it joined the
queue.

L{PauseGrace}: what the front's timers of its handlers' replies and
credits (this module's L{Deadlines}) do when
they run late, the front having been paused: they wait a little more, once,
so that what the handlers sent meanwhile is read first.  L{PauseWatch}
tells them, and the check of the handlers' silence, that the process was
paused.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Callable, Generic, TypeVar

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from txmp._defaults import LIVENESS_LATENESS
from txmp._interfaces import cancelCall

_Key = TypeVar("_Key", bound=Hashable)


class PauseWatch:
    """
    Whether this process was paused until just now, as its timers find: a
    timer that runs more than L{LIVENESS_LATENESS} seconds after it was
    due finds that the process was not running (a pause: garbage
    collection, swap, C{SIGSTOP}, a virtual machine's stolen time), and
    ran again just now.  A timer due just after the process ran again runs
    on time, and what its peers sent meanwhile may still wait unread all
    the same: so a timer that runs no more than L{LIVENESS_LATENESS}
    seconds after another found a pause finds it too.  (The front's
    heartbeat runs every heartbeat: a pause as long as one that makes its
    handlers seem silent always has it run late.)

    @ivar lateness: how late the timer that last found a pause ran.
    """

    def __init__(self) -> None:
        self.lateness = 0.0
        self._resumedAt = -math.inf

    def paused(self, due: float, now: float) -> bool:
        """
        Whether a timer due at C{due} that runs at C{now} finds the process
        paused until just now.  Called by each timer that runs.
        """
        if now - due > LIVENESS_LATENESS:
            self.lateness = now - due
            self._resumedAt = now
            return True
        return now - self._resumedAt <= LIVENESS_LATENESS


class PauseGrace:
    """
    Whether a timer that runs late is given more time.  A timer that runs
    more than L{LIVENESS_LATENESS} seconds after it was due finds that this
    process was not running (a pause: garbage collection, swap, C{SIGSTOP},
    a virtual machine's stolen time), and that what its peers sent
    meanwhile may wait unread: a message from a handler is read from
    ZeroMQ's socket only once ZeroMQ's I/O thread, paused with the rest of
    the process, has moved it there, which the reactor's timers do not wait
    for.  A reply that came in time would be answered 504, a credit that
    came in time leave a request to 503.  Such a timer is given C{grace}
    seconds more, as the front's check of its handlers' silence gives them
    one heartbeat more (L{txmp.protocol.sparedForPause}); but once a pause:
    a timer due before the end of the last grace given is not, so that a
    reactor that runs every timer late still ends them, each at most
    C{grace} seconds later.  A timer that runs on time just after another
    found a pause (L{PauseWatch}) is given the same.

    @ivar grace: the seconds given.
    """

    def __init__(self, grace: float, watch: PauseWatch | None = None) -> None:
        """
        @param watch: what the process's other timers found of a pause; a
            watch of this one's timers alone by default.
        """
        self.grace = grace
        self._watch = watch if watch is not None else PauseWatch()
        self._until = -math.inf

    def spare(self, due: float, now: float) -> float | None:
        """
        Whether a timer due at C{due} that runs at C{now} is given more
        time: if so, until when (C{now} plus L{grace}), else L{None}.
        """
        if not self._watch.paused(due, now) or due <= self._until:
            return None
        self._until = until = now + self.grace
        return until


class Deadlines(Generic[_Key]):
    """
    Timers, each for a key, that end C{period} seconds after they start,
    unless stopped first: then C{expired} is called with the key (the
    timer no longer runs then: C{expired} may start it again).  The timers
    of keys whose time has come all end in one turn of the reactor, in the
    order they started.  One whose C{expired} raises is logged, and the
    others end all the same.

    A timer that would end before one started earlier (the period was
    shortened, or the clock set back, meanwhile) ends with that one, not
    before: each waits behind those started before it.

    Timers whose time came while this process was paused end C{grace}
    seconds later (L{PauseGrace}), unless stopped or started again first.

    @ivar period: how long a timer runs, read when it starts.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        period: float,
        expired: Callable[[_Key], object],
        grace: float = 0.0,
        watch: PauseWatch | None = None,
    ) -> None:
        """
        @param grace: what a timer that ran late, the process paused, is
            given more (L{PauseGrace}).
        @param watch: what the process's other timers found of a pause.
        """
        self.period = period
        self._pauses = PauseGrace(grace, watch)
        self._reactor = reactor
        self._expired = expired
        # Every running timer's end, in the order they end.
        self._ends: dict[_Key, float] = {}
        # The delayed call for the first end (or an earlier one: a stopped
        # timer's), and when it was asked for.
        self._call: IDelayedCall | None = None
        self._callAt = 0.0

    def __contains__(self, key: _Key) -> bool:
        """
        Whether C{key}'s timer runs.
        """
        return key in self._ends

    def start(self, key: _Key) -> None:
        """
        Start C{key}'s timer, or start it again if it runs.
        """
        ends = self._ends
        ends.pop(key, None)
        end = ends[key] = self._reactor.seconds() + self.period
        if self._call is None:
            self._callAt = end
            self._call = self._reactor.callLater(self.period, self._fired)

    def restart(self, key: _Key) -> None:
        """
        Start C{key}'s timer again, if it runs.
        """
        if key in self._ends:
            self.start(key)

    def stop(self, key: _Key) -> None:
        """
        Stop C{key}'s timer, if it runs.
        """
        ends = self._ends
        if ends.pop(key, None) is not None and not ends:
            self._cancel()

    def _cancel(self) -> None:
        cancelCall(self._call)
        self._call = None

    def _fired(self) -> None:
        self._call = None
        now = self._reactor.seconds()
        ends = self._ends
        if ends and next(iter(ends.values())) <= now:
            until = self._pauses.spare(self._callAt, now)
            if until is not None:
                self._callAt = until
                self._call = self._reactor.callLater(until - now, self._fired)
                return
        while ends:
            key = next(iter(ends))
            end = ends[key]
            if end > now:
                # (A timer that expired may have been started again, and
                # asked for a call at its new end, after this one.)
                if self._call is None:
                    self._call = self._reactor.callLater(end - now, self._fired)
                elif end < self._callAt:
                    self._call.reset(end - now)
                else:
                    return
                self._callAt = end
                return
            del ends[key]
            try:
                self._expired(key)
            except Exception:  # noqa: BLE001 (any bug: the other timers must end)
                # (Each had a delayed call of its own before, which the
                # reactor logged alone.)
                self._log.failure("ending a timer failed; the others end all the same")
        # No timer runs: no call either.  (An expiry may have started one,
        # asking for a call, and stopped it while others ran, which stop
        # leaves: they ended here since.)
        self._cancel()
