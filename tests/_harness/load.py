# -*- test-case-name: tests.test_resilience -*-
"""
Load for the system tests: a number of requests kept in flight, bounded
in count and in time, and what became of every one of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from .clients import HTTPResult
from .conditions import Conditions


@dataclass(frozen=True)
class PlannedRequest:
    """
    One request that a L{BoundedLoad} is to make.

    @ivar token: What the test calls this request (for the C{tagged}
        application, the C{token} in its query).
    @ivar port: The front's port, by default the test's L{httpPort}.
    """

    method: bytes
    path: str
    token: str = ""
    body: bytes | None = None
    port: int | None = None


@dataclass
class Outcome:
    """
    What became of one request of a L{BoundedLoad}: a response or a
    failure (a connection error, a timeout).

    @ivar started: When the request was made, by the test's clock.
    @ivar ended: When its response was read or it failed, or L{None}
        while it is in flight.
    """

    index: int
    request: PlannedRequest
    started: float
    ended: float | None = None
    result: HTTPResult | None = None
    failure: Failure | None = None

    @property
    def code(self) -> int | None:
        """
        The response status, or L{None} if there was no response.
        """
        return None if self.result is None else self.result.code

    def describe(self) -> str:
        """
        The request and what became of it, for messages.
        """
        what = f"{self.request.method.decode()} {self.request.path}"
        if self.result is not None:
            return f"{what}: {self.result.code} {self.result.body[:200]!r}"
        if self.failure is not None:
            return f"{what}: {self.failure.type.__name__}: {self.failure.getErrorMessage()}"
        return f"{what}: in flight"


class LoadFinished(Exception):
    """
    A L{BoundedLoad} made all its requests before the condition waited for
    came true.
    """


class BoundedLoad:
    """
    Keep a number of requests in flight until C{total} have been made,
    C{duration} seconds have passed or L{stop} is called, whichever comes
    first, and record what becomes of every one: when it started and
    ended, and its response or failure.

    @ivar outcomes: Every request made, in the order made.
    @ivar completed: Every request that ended, in the order they ended.
    """

    def __init__(
        self,
        clock: IReactorTime,
        send: Callable[[PlannedRequest], Deferred[HTTPResult]],
        plan: Callable[[int], PlannedRequest],
        inFlight: int,
        total: int,
        duration: float | None = None,
    ) -> None:
        """
        @param clock: The clock for L{Outcome} times and C{duration}.
        @param send: Make one request.
        @param plan: Say what the C{n}-th request (from 0) is.
        @param inFlight: How many requests to keep in flight.
        @param total: The most requests to make.
        @param duration: The most seconds to go on making requests for.
        """
        self._clock = clock
        self._send, self._plan = send, plan
        self._bounds = (inFlight, total, duration)
        self._deadline: float | None = None
        self._stopped = False
        self._outstanding: dict[int, Deferred[HTTPResult]] = {}
        self._conditions = Conditions()
        self.outcomes: list[Outcome] = []
        self.completed: list[Outcome] = []

    @property
    def inFlight(self) -> int:
        """
        How many requests are in flight now.
        """
        return len(self._outstanding)

    @property
    def finished(self) -> bool:
        """
        Whether the load makes no more requests and none is in flight.
        """
        return self._stopped and not self._outstanding

    @property
    def responses(self) -> list[HTTPResult]:
        """
        The response to every request that got one, in the order they
        ended.
        """
        return [o.result for o in self.completed if o.result is not None]

    @property
    def failures(self) -> list[Failure]:
        """
        Every request that failed without a response (a connection error,
        a timeout), in the order they failed.
        """
        return [o.failure for o in self.completed if o.failure is not None]

    def start(self) -> None:
        """
        Start making requests.
        """
        inFlight, _, duration = self._bounds
        if duration is not None:
            self._deadline = self._clock.seconds() + duration
        for _ in range(inFlight):
            self._issueOne()

    def _issueOne(self) -> None:
        if (
            self._stopped
            or len(self.outcomes) >= self._bounds[1]
            or (self._deadline is not None and self._clock.seconds() >= self._deadline)
        ):
            self._stopped = True
            return
        index = len(self.outcomes)
        outcome = Outcome(index, self._plan(index), self._clock.seconds())
        self.outcomes.append(outcome)
        d = self._send(outcome.request)
        self._outstanding[index] = d

        def succeeded(result: HTTPResult) -> None:
            outcome.result = result

        def failed(failure: Failure) -> None:
            outcome.failure = failure

        d.addCallbacks(succeeded, failed)
        d.addCallback(lambda _: self._completed(outcome))

    def _completed(self, outcome: Outcome) -> None:
        outcome.ended = self._clock.seconds()
        self._outstanding.pop(outcome.index, None)
        self.completed.append(outcome)
        self._issueOne()
        self._conditions.check()
        if self.finished:
            self._conditions.failAll(
                LoadFinished(f"the load finished before the condition was met: {self.summary()}")
            )

    def until(self, predicate: Callable[[], bool]) -> Deferred[None]:
        """
        Wait until C{predicate} is true after some request ends.

        @param predicate: Checked now and after every request that ends.
        @return: A L{Deferred} that fires once C{predicate()} is true, or
            fails with L{LoadFinished} if the load finishes first.
        """
        if not predicate() and self.finished:
            return fail(LoadFinished(f"the load has finished: {self.summary()}"))
        return self._conditions.wait(predicate)

    def whenDone(self) -> Deferred[None]:
        """
        Wait until the load makes no more requests (C{total} made,
        C{duration} passed or L{stop} called) and none is in flight.
        """
        return self._conditions.wait(lambda: self.finished)

    def stop(self) -> Deferred[None]:
        """
        Make no more requests.

        @return: L{whenDone}.
        """
        self._stopped = True
        return self.whenDone()

    def abort(self) -> None:
        """
        Make no more requests, and cancel those in flight.
        """
        self._stopped = True
        for d in list(self._outstanding.values()):
            d.cancel()

    def summary(self) -> str:
        """
        How many requests ended how, and the first few that did not end
        with a 200, for messages.
        """
        codes = Counter(
            str(o.code) if o.result is not None else "no response"
            for o in self.completed
        )
        bad = [o for o in self.completed if o.code != 200]
        lines = [
            f"{len(self.outcomes)} requests made, {len(self.completed)} ended,"
            f" {self.inFlight} in flight; outcomes {dict(codes)}",
            *(f"  {o.describe()}" for o in bad[:20]),
        ]
        if len(bad) > 20:
            lines.append(f"  ... and {len(bad) - 20} more")
        return "\n".join(lines)


