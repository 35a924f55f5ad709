# -*- test-case-name: txmp.test.test_testing,txmp.test.test_wsgi -*-
"""
Test fakes for code that uses txmp: no sockets, no threads, no wall clock.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

_R = TypeVar("_R")


class SynchronousThreadPool:
    """
    A stand-in for L{twisted.python.threadpool.ThreadPool} that runs the
    work at once, in the calling thread, so the "thread" has finished when
    L{callInThread} returns.

    As in a real pool, an exception raised by the work is logged, not
    raised to the caller; trial fails the test that logged it unless the
    test flushes it.

    @ivar started: whether L{start} was called more recently than L{stop}.
    """

    _log = Logger()

    def __init__(self) -> None:
        self.started = False

    def start(self) -> None:
        """
        Nothing to start; records that it was called.
        """
        self.started = True

    def stop(self) -> None:
        """
        Nothing to stop; records that it was called.
        """
        self.started = False

    def callInThread(self, func: Callable[..., object], *args: Any, **kw: Any) -> None:
        """
        Call C{func(*args, **kw)} now, logging what it raises.
        """
        try:
            func(*args, **kw)
        # As txmp._pool.ThreadPool (and Twisted's) does: log anything.
        except BaseException:  # noqa: BLE001
            self._log.failure("work in a SynchronousThreadPool failed")

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object] | None,
        func: Callable[..., _R],
        *args: Any,
        **kw: Any,
    ) -> None:
        """
        Call C{func(*args, **kw)} now, then C{onResult(True, result)}, or
        C{onResult(False, failure)} if it raised, as
        L{twisted.python.threadpool.ThreadPool.callInThreadWithCallback}
        does; this makes the pool usable with
        L{twisted.internet.threads.deferToThreadPool}.
        """
        try:
            result: Any = func(*args, **kw)
            ok = True
        # As Twisted's ThreadPool.callInThreadWithCallback: any failure.
        except BaseException:  # noqa: BLE001
            result = Failure()  # type: ignore[no-untyped-call]
            ok = False
        if onResult is not None:
            onResult(ok, result)
        elif not ok:
            self._log.failure("work in a SynchronousThreadPool failed", result)


@implementer(IReactorFromThreads)
class FakeReactorFromThreads:
    """
    A fake of the reactor as seen from other threads: L{callFromThread}
    queues the call, and L{flush} runs the queue, as the reactor thread
    would on its next iteration.

    Queueing, rather than calling at once, lets a test act in the reactor
    thread between the moment a thread hands a call over and the moment
    the reactor runs it (a request cancelled with a response on its way,
    say).

    @ivar pending: the calls not run yet, in order, as C{(callable, args,
        kwargs)}.
    """

    _log = Logger()

    def __init__(self) -> None:
        self.pending: list[
            tuple[Callable[..., object], tuple[object, ...], dict[str, object]]
        ] = []

    def callFromThread(
        self, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """
        Queue C{callable(*args, **kwargs)} until L{flush}.
        """
        self.pending.append((callable, args, kwargs))

    def flush(self) -> int:
        """
        Run the queued calls in order, including those they queue, until
        none is left.  As the reactor does, log what a call raises and go on
        with the next one.

        @return: how many calls were run.
        """
        count = 0
        while self.pending:
            callable, args, kwargs = self.pending.pop(0)
            count += 1
            try:
                callable(*args, **kwargs)
            # As the reactor does with its calls: log anything and go on.
            except BaseException:  # noqa: BLE001
                self._log.failure("call from a thread failed")
        return count


# The in-memory network that wires a front's dispatcher to handlers' links
# without sockets, and a runner that tests complete by hand.
from txmp._memory import MemoryNetwork, MemoryRun, MemoryRunner, MemorySocket  # noqa: E402

__all__ = [
    "FakeReactorFromThreads",
    "MemoryNetwork",
    "MemoryRun",
    "MemoryRunner",
    "MemorySocket",
    "SynchronousThreadPool",
]
