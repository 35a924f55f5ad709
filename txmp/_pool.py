# -*- test-case-name: txmp.test.test_pool -*-
"""
The handler's two hand-offs between threads, each as cheap as it can be
made in Python: L{WorkerPool} takes work from the reactor thread to the
WSGI threads, L{ReactorCalls} brings calls back.

Both replace a Twisted class on the handler's per-request path, whose
generality costs CPU on every request:

  - L{twisted.python.threadpool.ThreadPool.callInThread} wraps each call
    in two closures and a context-tracker frame, and hands it over
    through C{Team}, a coordinator C{LockWorker} and a C{queue.Queue}
    (Python locks and a C{threading.Condition}) in the reactor thread.
    L{WorkerPool} puts a tuple on a C{queue.SimpleQueue}, whose C{put}
    and C{get} are C code.

  - L{IReactorFromThreads.callFromThread} writes to the reactor's waker
    on every call (a system call, and a wake-up of the reactor), though a
    request hands back two or three calls in a row.  L{ReactorCalls}
    queues calls and wakes the reactor only for the first one it finds
    queued; the reactor thread runs them all in one wake-up.
"""

from __future__ import annotations

import threading
from collections import deque
from functools import partial
from queue import SimpleQueue
from typing import Callable, Optional, Protocol

from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

_Job = Optional[tuple[Callable[..., object], tuple[object, ...], dict[str, object]]]


class PoolThread(Protocol):
    """
    One of a pool's threads: a L{threading.Thread}, or a fake of one.
    """

    def start(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


class ThreadFactory(Protocol):
    """
    Makes a pool's threads, as L{threading.Thread} does.
    """

    def __call__(self, *, target: Callable[[], object], name: str) -> PoolThread:
        """
        A thread, not started, that will run C{target}.
        """


def shareOut(total: int, parts: int) -> list[int]:
    """
    C{total} shared out evenly among C{parts}, the first ones getting one
    more where it does not divide (none where there are fewer than
    C{parts}).
    """
    share, extra = divmod(total, parts)
    return [share + (1 if n < extra else 0) for n in range(parts)]


class PoolLane:
    """
    Runs calls in the threads of a L{WorkerPool} set apart for it
    (L{WorkerPool.divide}), in the order they were given.
    """

    def __init__(self, pool: WorkerPool, queue: SimpleQueue[_Job]) -> None:
        self._pool = pool
        self._queue = queue

    def callInThread(
        self, func: Callable[..., object], /, *args: object, **kw: object
    ) -> None:
        """
        Call C{func(*args, **kw)} in a thread of this lane, once one is
        free.  Called in any thread.
        """
        if not self._pool.joined:
            self._queue.put((func, args, kw))


class WorkerPool:
    """
    A fixed number of threads running calls in the order they were given,
    each in whichever thread is free.  The part of
    L{twisted.python.threadpool.ThreadPool}'s interface that the handler
    uses: L{callInThread}, L{start}, L{stop}; and L{divide}, which sets
    threads apart for each of several callers (a handler's fronts).

    Work given before L{start} waits for it.  An exception escaping a call
    is logged, and the thread goes on with the next call.

    @ivar size: how many threads L{start} starts.
    @ivar name: the pool's name: its threads are named
        C{PoolThread-NAME-N}, N from 0, as Twisted's pool names them.
    @ivar threadFactory: makes the threads, called as
        L{threading.Thread} is, with C{target} and C{name}.
    @ivar threads: the threads started and not joined yet.
    @ivar started: whether L{start} was called more recently than L{stop}.
    @ivar joined: whether L{stop} was called more recently than L{start};
        work given meanwhile is dropped, as Twisted's pool drops it.
    """

    _log = Logger()

    def __init__(
        self,
        size: int,
        name: str = "wsgi",
        threadFactory: ThreadFactory = threading.Thread,
    ) -> None:
        self.size = size
        self.name = name
        self.threadFactory = threadFactory
        self.threads: list[PoolThread] = []
        self.started = False
        self.joined = False
        # None is the "stop" sentinel: one per thread.
        self._queue: SimpleQueue[_Job] = SimpleQueue()
        # The queue each thread takes its work from, by thread number.
        self._threadQueues = [self._queue] * size

    def divide(self, lanes: int) -> list[PoolLane]:
        """
        Set the threads apart for C{lanes} callers, evenly (L{shareOut}):
        the work given to a lane runs only in its threads, so that work
        waiting in one lane (a front's requests beyond its threads, its
        C{--prefetch}) never waits for, nor takes, the threads of another.
        With fewer threads than lanes, each thread serves several lanes,
        the n-th lane the (n modulo C{size})-th thread, in the order their
        work was given.  Called once, before any work is given and before
        L{start}.

        @return: the lanes, each with the L{callInThread} of a pool; work
            given to the pool itself goes to the first.
        @raise RuntimeError: the pool has started, or been given work: its
            threads read their queue already, or the work would stay on a
            queue that no thread reads.
        """
        if self.threads or not self._queue.empty():
            raise RuntimeError("a pool is divided before it starts and is given work")
        if lanes <= self.size:
            queues: list[SimpleQueue[_Job]] = [SimpleQueue() for _ in range(lanes)]
            self._threadQueues = [
                queue
                for queue, share in zip(queues, shareOut(self.size, lanes))
                for _ in range(share)
            ]
        else:
            queues = [SimpleQueue() for _ in range(self.size)]
            self._threadQueues = queues
        self._queue = queues[0]
        return [PoolLane(self, queues[n % len(queues)]) for n in range(lanes)]

    def start(self) -> None:
        """
        Start the threads.  Called in the reactor thread.
        """
        self.started = True
        self.joined = False
        for n in range(len(self.threads), self.size):
            thread = self.threadFactory(
                target=partial(self._work, self._threadQueues[n]),
                name=f"PoolThread-{self.name}-{n}",
            )
            self.threads.append(thread)
            thread.start()

    def callInThread(
        self, func: Callable[..., object], /, *args: object, **kw: object
    ) -> None:
        """
        Call C{func(*args, **kw)} in a thread of the pool, once one is free.
        Called in any thread.
        """
        if not self.joined:
            self._queue.put((func, args, kw))

    def stop(self) -> None:
        """
        Let each thread finish the work given before this call, then end,
        and wait until they have: call it only when no call can block for
        long (a handler stops its pool once every request has finished).
        Called in the reactor thread.
        """
        self.joined = True
        self.started = False
        threads, self.threads = self.threads, []
        for queue in self._threadQueues[: len(threads)]:
            queue.put(None)
        for thread in threads:
            thread.join()

    def _work(self, queue: SimpleQueue[_Job]) -> None:
        """
        Run calls from C{queue} until the stop sentinel.  The loop of each
        thread.
        """
        get = queue.get
        log = self._log
        while True:
            job = get()
            if job is None:
                return
            func, args, kw = job
            # Not held while waiting for the next job: the work's
            # arguments (a finished request) would stay alive.
            del job
            try:
                func(*args, **kw)
            # As Twisted's ThreadPool: whatever the work raises (even
            # SystemExit) is logged and the worker takes the next job.
            except BaseException:  # noqa: BLE001
                log.failure("work in thread pool {name} failed", name=self.name)
            del func, args, kw


class ReactorCalls:
    """
    Calls from other threads, run in the reactor thread in the order they
    were made, coalesced: the reactor is woken up (with
    L{IReactorFromThreads.callFromThread}) only by a call that finds none
    waiting, and one wake-up runs all that are waiting.

    A drain runs the calls waiting when it starts, not those made while it
    runs (it wakes the reactor again for them), so that threads that keep
    handing back calls cannot starve the reactor's I/O.

    Race-free by this rule: a call is appended to C{_calls} B{before}
    C{_scheduled} is read, and C{_scheduled} is cleared only while
    C{_calls} is seen empty; both the read and the check-and-clear are
    done holding C{_lock}.  Take a caller that appends, then takes the
    lock and finds C{_scheduled} set, so that it wakes nobody.  The drain
    that will clear it takes the lock after the caller released it (the
    lock orders them), so it sees the call appended, finds C{_calls} not
    empty and keeps itself scheduled: the call is run.  If instead the
    drain cleared C{_scheduled} first, the caller, taking the lock after
    it, finds it clear and schedules a drain itself.  Either way no call
    is left waiting with no drain to come (a lost wake-up), and there is
    never more than one drain scheduled.

    @ivar _calls: the calls waiting, as C{(callable, args)}; C{append} and
        C{popleft} of a L{deque} are atomic.
    @ivar _scheduled: whether a drain is scheduled or running.  Guarded by
        C{_lock}.
    """

    _log = Logger()

    def __init__(self, reactor: IReactorFromThreads) -> None:
        """
        @param reactor: wakes the reactor thread up to run the calls.
        """
        self._reactor = reactor
        self._calls: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def callFromThread(self, callable: Callable[..., object], *args: object) -> None:
        """
        Have the reactor thread call C{callable(*args)}, after the calls
        made before this one.  Called in any thread.
        """
        self._calls.append((callable, args))
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._reactor.callFromThread(self._drain)

    def _drain(self) -> None:
        """
        Run the calls waiting, in order; log what one raises and go on.
        Called in the reactor thread.
        """
        calls = self._calls
        for _ in range(len(calls)):
            f, args = calls.popleft()
            try:
                f(*args)
            # As the reactor does with its calls: log anything and go on.
            except BaseException:  # noqa: BLE001
                self._log.failure("call from a thread failed")
        with self._lock:
            if not calls:
                self._scheduled = False
                return
        # Calls were made while these ran: run them in a wake-up of their
        # own, after the reactor's I/O.
        self._reactor.callFromThread(self._drain)


__all__ = ["PoolLane", "ReactorCalls", "WorkerPool", "shareOut"]
