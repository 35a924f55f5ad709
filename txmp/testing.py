# -*- test-case-name: txmp.test.test_testing -*-
"""
Fakes for testing txmp, and code that uses it: no sockets, no threads
(but those run in lockstep with the test's), no wall clock.  Each fake
passes the same tests as the real thing it stands for (the mixins of
C{txmp.test.contracts}, run against both), so that a test that passes
with the fake says something about the real thing.

Threads and the reactor:

  - L{SynchronousThreadPool} stands for the handler's thread pool
    (L{txmp._pool.WorkerPool}, or Twisted's
    L{ThreadPool<twisted.python.threadpool.ThreadPool>}): the work runs in
    the calling thread, at once or when the test says.
  - L{FakeReactor} stands for the reactor, and for L{txmp._pool.ReactorCalls}:
    a L{MemoryReactorClock} that runs only once the test runs it, and
    stops as a real one does (its C{stop} refusing a reactor not running,
    its system event triggers fired), whose C{callFromThread} queues until
    the test says, and whose C{spawnProcess} records a L{FakeProcess}
    instead of running one; L{runningReactor} makes one that runs.
  - L{FakeThread} stands for a L{threading.Thread}: its target runs when
    it is joined.  L{ScriptedCondition} stands for a
    L{threading.Condition} in one thread: each C{wait} runs the next step
    the test scripted; L{CountingCondition} is a real one that counts.
  - L{LockstepPool} stands for the handler's thread pool too, with real
    threads (L{LockstepThread}s) run in lockstep with the test's: only
    one runs at a time, each when the test gives it a turn, so that the
    test chooses the interleaving and plays it again exactly (a
    hypothesis state machine's).  L{LockstepCondition} stands for a
    L{threading.Condition} between them: a wait hands the turn on.
  - L{TCPStringTransport} stands for a client's TCP transport: it
    records its socket options and each write.
  - L{FakePort} and L{FakeTCPPort} stand for listening ports, and
    L{FakeFileLimits} for the process's limits on open files, as the
    front's limit on connections (L{txmp._accept}) sees them.
  - L{FakeTwistdOptions} stands for twistd's own options, the C{parent}
    of a tap's options when twistd parses them as its subcommand.

ZeroMQ:

  - L{MemoryNetwork} stands for L{txmp._zmq.ZmqContext}: its sockets are
    joined in memory, by address, as ROUTER and DEALER sockets are, and
    messages travel when the test says.
  - L{MemorySocket} stands for L{txmp._zmq.ZmqSocket}; on its own (not made
    by a network) it only records what is sent on it.
  - L{FakeRawSocket} stands for a C{zmq.Socket} at its high-water mark,
    and L{FakeZmqConnection} for the txzmq connection that holds it and
    reads for its L{txmp._zmq.ZmqSocket}; L{fakeZmqSocket} makes a real
    L{txmp._zmq.ZmqSocket} over them.

The handler:

  - L{MemoryRunner} stands for L{txmp._wsgi.WSGIRunner}: it runs nothing,
    and the test answers each request (a L{MemoryRun}, standing for
    L{txmp._wsgi.RunningRequest}) through its sink.
  - L{RecordingSink} stands for the handler's L{txmp._wsgi.ResponseSink}:
    it records what a runner sends.
  - L{PausingRunner} stands for the runner it wraps (a
    L{txmp._wsgi.WSGIRunner} over a L{LockstepPool}), and L{PausingSink}
    for the sink it wraps: a call to the sink from a L{LockstepThread}
    first hands the turn back to the test.
  - L{ClosingIterable} stands for an application's response iterable,
    and L{RecordingFile} for a file it gives C{wsgi.file_wrapper}.

The front:

  - L{RecordingConsumer} stands for where the dispatcher sends a request's
    answer (L{txmp._dispatch.ReplyConsumer}, an L{txmp._front.Exchange}).
  - L{FinishedRequest} stands for a finished Twisted Web request, as an
    access log reads it, and L{FailingFile} for a file it cannot write
    to (a full disk).
  - L{FrontTestCase} is a front (a L{Dispatcher} with one handler
    registered, served by a L{FrontFactory}) on a L{MemorySocket} and a
    L{Clock}, fed raw HTTP over L{StringTransport}s, and
    L{ParsedResponse} reads what it writes.
  - L{requestMeta} and L{requestHead} make requests as the front sends
    them, and L{httpHead} as a client sends them.

Everything here runs in the calling thread (but the work of a
L{LockstepPool}, in its turn), and never touches the global reactor.
"""

from __future__ import annotations

import datetime
import io
import resource
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, AnyStr, Callable, TypeVar, cast

import zmq
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.error import (
    ConnectionDone,
    ProcessExitedAlready,
    ReactorAlreadyRunning,
    ReactorNotRestartable,
    ReactorNotRunning,
)
from twisted.internet.interfaces import (
    IAddress,
    IProcessProtocol,
    IProcessTransport,
    IProtocolFactory,
    IPushProducer,
    IReactorFromThreads,
    IReactorTime,
    ISSLTransport,
    ITCPTransport,
)
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.scripts._twistd_unix import ServerOptions
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from zope.interface import directlyProvides, implementer

from txmp import protocol
from txmp._defaults import DEFAULT_MAX_QUEUE, HIGH_WATER_MARK, LARGE_FRAME, PEER_BACKLOG
from txmp._dispatch import (
    Dispatcher,
    FrontError,
    PendingRequest,
    Reply,
    RequestBodySource,
)
from txmp._front import DEFAULT_RULES, FrontConnection, FrontFactory
from txmp._handler import FrontLink
from txmp._http import HTTPRules
from txmp._interfaces import IFrontReactor
from txmp._peerlog import idText, printable
from txmp._zmq import (
    AddressError,
    FramesReceiver,
    HandshakeObserver,
    LargeFramesReceiver,
    PeerUnreachable,
    ZmqSocket,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.x509 import Certificate
    from twisted.protocols.tls import TLSMemoryBIOFactory

    from txmp._handler import Runner, Running
    from txmp._wsgi import ResponseSink
    from txmp._zmq import _Connection

_R = TypeVar("_R")


# -- threads and the reactor ---------------------------------------------------


class SynchronousThreadPool:
    """
    A thread pool with no threads: the work runs in the calling thread.

    With C{immediate} (the default) it runs at once, so that the "thread"
    has finished when L{callInThread} returns.  Otherwise it waits in
    L{pending} until L{flush}, so that a test can act between handing work
    to the pool and the work running.

    As in a real pool, an exception raised by the work is logged, not
    raised to the caller; trial fails the test that logged it unless the
    test flushes it.

    @ivar started: whether L{start} was called more recently than L{stop}.
    @ivar pending: the work not run yet, in order (without C{immediate}).
    """

    _log = Logger()

    def __init__(self, immediate: bool = True) -> None:
        self.immediate = immediate
        self.started = False
        self.pending: list[Callable[[], object]] = []

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

    def divide(self, lanes: int) -> list[SynchronousThreadPool]:
        """
        As L{txmp._pool.WorkerPool.divide}: lanes to give work to, here the
        pool itself for each, as it has no threads to set apart.
        """
        return [self] * lanes

    def callInThread(self, func: Callable[..., object], /, *args: object, **kw: object) -> None:
        """
        Call C{func(*args, **kw)} now (or at the next L{flush}), logging
        what it raises.
        """
        work = partial(func, *args, **kw)
        if self.immediate:
            self._run(work)
        else:
            self.pending.append(work)

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, _R | Failure], object] | None,
        func: Callable[..., _R],
        *args: object,
        **kw: object,
    ) -> None:
        """
        Call C{func(*args, **kw)}, then C{onResult(True, result)}, or
        C{onResult(False, failure)} if it raised, as
        L{twisted.python.threadpool.ThreadPool.callInThreadWithCallback}
        does; this makes the pool usable with
        L{twisted.internet.threads.deferToThreadPool}.
        """

        def work() -> None:
            try:
                result = func(*args, **kw)
            # As Twisted's ThreadPool.callInThreadWithCallback: any failure.
            except BaseException:  # noqa: BLE001
                failure = Failure()
                if onResult is not None:
                    onResult(False, failure)
                else:
                    self._log.failure("work in a SynchronousThreadPool failed", failure)
                return
            if onResult is not None:
                onResult(True, result)

        self.callInThread(work)

    def flush(self) -> int:
        """
        Run the pending work in order, including the work it gives the
        pool, until none is left.

        @return: how much work was run.
        """
        count = 0
        while self.pending:
            count += 1
            self._run(self.pending.pop(0))
        return count

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        # As txmp._pool.WorkerPool (and Twisted's pool) does: log anything.
        except BaseException:  # noqa: BLE001
            self._log.failure("work in a SynchronousThreadPool failed")


@dataclass
class FakeThread:
    """
    A L{threading.Thread} (as L{txmp._pool.WorkerPool}'s thread factory
    makes it) that runs its target only when joined, in the joining thread.

    @ivar started: whether L{start} was called.
    @ivar joined: whether L{join} was called.
    """

    target: Callable[[], object]
    name: str
    started: bool = False
    joined: bool = False

    def start(self) -> None:
        """
        Record that the thread was started; its target waits for L{join}.
        """
        self.started = True

    def join(self, timeout: float | None = None) -> None:
        """
        Run the target, in the calling thread.
        """
        self.joined = True
        self.target()


class ScriptedCondition:
    """
    A single-threaded stand-in for L{threading.Condition}: each C{wait()}
    runs the next scripted step, as another thread (the reactor's) would
    while the waiting thread (an application's) waits.

    @ivar steps: the steps not run yet, in order.
    @ivar waits: how many times C{wait} was called.
    @ivar notifies: how many times C{notify_all} was called.
    """

    def __init__(self, *steps: Callable[[], object]) -> None:
        self.steps = list(steps)
        self.waits = 0
        self.notifies = 0

    def __enter__(self) -> ScriptedCondition:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def notify_all(self) -> None:
        """
        Count a call: nobody else waits.
        """
        self.notifies += 1

    def wait(self, timeout: float | None = None) -> bool:
        """
        Run the next step.

        @return: C{True}, as a real condition's when notified.
        """
        self.waits += 1
        self.steps.pop(0)()
        return True


class CountingCondition(threading.Condition):
    """
    A real L{threading.Condition} that counts how often it was taken and
    notified.

    @ivar entered: how many times it was entered (C{with condition}).
    @ivar notified: how many times C{notify_all} was called.
    """

    def __init__(self) -> None:
        super().__init__()
        self.entered = 0
        self.notified = 0

    def __enter__(self) -> bool:
        self.entered += 1
        return super().__enter__()

    def notify_all(self) -> None:
        self.notified += 1
        super().notify_all()


# -- threads in lockstep -------------------------------------------------------


class LockstepAbandoned(BaseException):
    """
    Raised in a L{LockstepThread} that the test gave up on (its pool was
    stopped with the thread still in its work), where it would have handed
    the turn back: whatever the code under test does then, it does not wait
    again.  A L{BaseException}, as the code under test lets it through.
    """


_current = threading.local()


class LockstepThread:
    """
    One real thread of a L{LockstepPool}, running one piece of its work in
    lockstep with the test's thread: only one of them runs at a time.  The
    thread runs when the test L{resume}s it, until it hands the turn back
    (L{pause}) or its work returns.

    @ivar state: C{"new"} until it first runs, then the C{state} it last
        paused in (the code under test's to name: C{"blocked"} while it
        waits on a L{LockstepCondition}), C{"done"} once its work returned.
    @ivar about: what it paused about (the code under test's to give), or
        L{None}.
    @ivar command: what the test gave it with its last turn.
    @ivar started: whether its real thread was started.
    """

    def __init__(self, pool: LockstepPool, work: Callable[[], object]) -> None:
        self._pool = pool
        self._work = work
        self._go = threading.Semaphore(0)
        self.state = "new"
        self.about: object = None
        self.command: tuple[Any, ...] = ()
        self.started = False
        self._thread = threading.Thread(target=self._main, daemon=True)

    @staticmethod
    def current() -> LockstepThread | None:
        """
        The lockstep thread that calls this, or L{None} in any other thread
        (the test's).
        """
        thread: LockstepThread | None = getattr(_current, "thread", None)
        return thread

    def _main(self) -> None:
        _current.thread = self
        self._go.acquire()
        try:
            if not self._pool.abandoning:
                self._work()
        except LockstepAbandoned:
            pass
        # As txmp._pool.WorkerPool does: log anything.
        except BaseException:  # noqa: BLE001
            self._pool._log.failure("work in a LockstepPool failed")
        finally:
            self.state = "done"
            self._pool._back.release()

    def pause(self, state: str, about: object = None) -> None:
        """
        Hand the turn back to the test, and wait for the next.  Called in
        this thread.

        @param state: why it waits, for the test to read in L{state}.
        @param about: what it waits about, for the test to read in
            L{about}.
        @raise LockstepAbandoned: once the test gave up on the thread.
        """
        if self._pool.abandoning:
            raise LockstepAbandoned()
        self.state = state
        self.about = about
        self._pool._back.release()
        self._go.acquire()
        if self._pool.abandoning:
            raise LockstepAbandoned()

    def resume(self, command: tuple[Any, ...] = ()) -> None:
        """
        Let the thread run, with C{command} in L{command}, until it hands
        the turn back or its work returns.  Called in the test's thread.

        @raise AssertionError: if the thread keeps the turn for longer than
            any step takes (ten seconds): it has deadlocked.
        """
        if not self.started:
            self.started = True
            self._thread.start()
        self.command = command
        self._go.release()
        if not self._pool._back.acquire(timeout=10.0):
            raise AssertionError("a lockstep thread kept the turn: deadlock")


class LockstepPool:
    """
    A pool of C{threads} real threads (L{LockstepThread}s) that runs in
    lockstep with the test's thread, standing for the handler's pool
    (L{txmp._pool.WorkerPool}): work given waits until the test lets a
    thread free take it (L{startOne}), and each thread runs only when the
    test gives it a turn, so that every interleaving a test chooses is
    one real threads may go through, played again exactly.

    As in a real pool, work runs in the order given, work given before
    L{start} waits for it, and what the work raises is logged.  Unlike
    one, L{stop} gives up on the threads still in their work, and drops
    the work none took.

    @ivar threads: how many threads may run work at once.
    @ivar queue: the work no thread took yet, in order.
    @ivar workers: every thread that took work, oldest first.
    @ivar started: whether L{start} was called more recently than L{stop}.
    @ivar abandoning: whether L{stop} gave up on the threads.
    """

    _log = Logger()

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.queue: list[Callable[[], object]] = []
        self.workers: list[LockstepThread] = []
        self.started = False
        self.abandoning = False
        # Released by a thread as it hands the turn back to the test.
        self._back = threading.Semaphore(0)

    def start(self) -> None:
        """
        Let threads take work (L{startOne}).
        """
        self.started = True
        self.abandoning = False

    def stop(self) -> None:
        """
        Give up on the threads: each still in its work raises
        L{LockstepAbandoned} where it would hand the turn back, and ends;
        the work no thread took is dropped.  Returns once they all ended.
        """
        self.started = False
        self.abandoning = True
        self.queue.clear()
        for worker in self.active():
            if worker.started:
                worker.resume()

    def callInThread(self, func: Callable[..., object], /, *args: object, **kw: object) -> None:
        """
        Give the pool C{func(*args, **kw)} to run, once the test lets a
        thread take it.  Called in any thread.
        """
        if not self.abandoning:
            self.queue.append(partial(func, *args, **kw))

    def active(self) -> list[LockstepThread]:
        """
        The threads in their work, oldest first.
        """
        return [worker for worker in self.workers if worker.state != "done"]

    def startOne(self) -> bool:
        """
        If the pool is started, has work waiting, and a thread free, a
        thread takes the next work and runs until it hands the turn back.
        Called in the test's thread.

        @return: whether a thread took work.
        """
        if not (self.started and self.queue) or len(self.active()) >= self.threads:
            return False
        worker = LockstepThread(self, self.queue.pop(0))
        self.workers.append(worker)
        worker.resume()
        return True

    def turn(self) -> bool:
        """
        Give one thread a turn: a thread free takes the next work
        (L{startOne}), else the oldest thread waiting on a
        L{LockstepCondition} wakes.  Called in the test's thread.

        @return: whether a thread ran.
        """
        if self.startOne():
            return True
        for worker in self.active():
            if worker.state == "blocked":
                worker.resume()
                return True
        return False


class LockstepCondition:
    """
    A L{threading.Condition}, as the streams of a request
    (L{txmp._wsgi.InputStream}, L{txmp._wsgi.ResponseStream}) use it, for
    the threads of a L{LockstepPool}: its C{wait} lets another thread run.
    Waited on in a L{LockstepThread}, it hands the turn back to the test
    (the thread's state C{"blocked"}), which wakes it by giving it a turn
    (L{LockstepPool.turn}): a spurious wake-up as far as the waiter knows,
    which every waiter allows for.  Waited on in the test's thread, it
    gives the pool's threads a turn (L{LockstepPool.turn}).  Only one
    thread runs at a time: no lock is needed, and notifying does nothing.
    """

    def __init__(self, pool: LockstepPool) -> None:
        self._pool = pool

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *args: object) -> None:
        return None

    def notify(self, n: int = 1) -> None:
        """
        Nothing: a waiting thread wakes when the test gives it a turn.
        """

    def notify_all(self) -> None:
        """
        Nothing: a waiting thread wakes when the test gives it a turn.
        """

    def wait(self, timeout: float | None = None) -> bool:
        """
        Let another thread run: in a L{LockstepThread}, hand the turn back
        to the test; in the test's thread, give a thread of the pool a
        turn.

        @return: C{True}, as a real condition's when notified; C{False} if
            waited on in the test's thread, with a C{timeout}, and no
            thread could run (a real one's would time out).
        @raise AssertionError: if waited on in the test's thread without a
            C{timeout}, and no thread could run: a real one's would wait
            for ever.
        """
        thread = LockstepThread.current()
        if thread is not None:
            thread.pause("blocked")
            return True
        if self._pool.turn():
            return True
        if timeout is None:
            raise AssertionError("waited on a LockstepCondition with no thread to run")
        return False


class PausingSink:
    """
    A request's sink (a L{txmp._wsgi.ResponseSink}, as a
    L{txmp._handler.FrontLink} gives its runner) that passes every call
    on, but that a call made in a L{LockstepThread} first hands the turn
    back to the test (the thread's state C{"sending"}, its C{about} the
    request's id): the reactor may then do anything between the runner's
    choice to send and the send (take a C{CANCEL}, a C{BYE}, a C{WELCOME}
    that registers the link anew).  L{PausingRunner} makes them.

    @ivar sink: the sink it passes calls on to.
    @ivar requestId: the request's id.
    """

    def __init__(self, sink: ResponseSink, requestId: bytes) -> None:
        self.sink = sink
        self.requestId = requestId

    def _pause(self) -> None:
        thread = LockstepThread.current()
        if thread is not None:
            thread.pause("sending", self.requestId)

    def sendHead(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]],
                 body: list[bytes], more: bool) -> None:
        self._pause()
        self.sink.sendHead(status, reason, headers, body, more)

    def sendBody(self, chunks: list[bytes], end: bool) -> None:
        self._pause()
        self.sink.sendBody(chunks, end)

    def sendError(self, message: str) -> None:
        self._pause()
        self.sink.sendError(message)

    def sendWindow(self, size: int) -> None:
        self._pause()
        self.sink.sendWindow(size)

    def finished(self) -> None:
        self._pause()
        self.sink.finished()


class PausingRunner:
    """
    A runner (a L{txmp._wsgi.WSGIRunner} over a L{LockstepPool}) whose
    requests' sinks are L{PausingSink}s.

    @ivar runner: the runner it passes requests on to.
    """

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def run(self, requestId: bytes, head: protocol.RequestHead, body: list[bytes],
            sink: ResponseSink) -> Running:
        """
        Run the request with C{runner}, its sink a L{PausingSink} of
        C{sink}.
        """
        return self.runner.run(requestId, head, body, PausingSink(sink, requestId))


class FakeProcess:
    """
    The transport of a process that L{FakeReactor.spawnProcess} pretends to
    spawn (a L{twisted.internet.process.Process}): it records the signals
    sent to it, and exits when the test says (L{exit}), after which, as a
    real one reaped, it has no PID and a signal raises
    L{ProcessExitedAlready} (L{txmp.test.contracts.ProcessTestsMixin}
    checks both).

    @ivar signals: the signals sent, in order.
    @ivar pid: its process ID, or C{None} once it has exited.
    """

    def __init__(self, protocol: IProcessProtocol | None = None) -> None:
        self.signals: list[str] = []
        self.pid: int | None = 1
        self._protocol = protocol

    def signalProcess(self, signalID: str | int) -> None:
        """
        Record C{signalID}.

        @raise ProcessExitedAlready: if the process has exited.
        """
        if self.pid is None:
            raise ProcessExitedAlready()
        self.signals.append(str(signalID))

    def exit(self, reason: Failure, outputClosed: bool = True) -> None:
        """
        The process exits with C{reason} (a L{ProcessDone} or
        L{ProcessTerminated}) and is reaped: its protocol's
        C{processExited}, then, if C{outputClosed}, its C{processEnded}
        (a process whose output a child of its still holds open has
        exited but not ended).
        """
        self.pid = None
        if self._protocol is not None:
            self._protocol.processExited(reason)
            if outputClosed:
                self._protocol.processEnded(reason)


@implementer(IReactorFromThreads, IFrontReactor)
class FakeReactor(MemoryReactorClock):
    """
    A L{MemoryReactorClock} (time, listening, connecting) that other
    threads can call into, and that starts and stops as a real reactor
    does (as L{txmp.test.contracts.ReactorLifeTestsMixin} checks of both).

    Its life, as a real reactor's, as twistd drives it:

      - Made, it is not running: the services start (twistd starts them
        before it runs the reactor), C{callWhenRunning} waits for L{run},
        calls from threads wait in L{pending}, and L{stop} raises
        L{ReactorNotRunning}.
      - L{run} fires the C{startup} event: its C{before} triggers, then
        C{running} is true, then its C{during} and C{after} triggers (the
        C{callWhenRunning} calls, in the order they were made).  A real
        reactor's C{run} then loops until stopped; this one returns, still
        running, and the test plays its iterations: L{flush} runs the calls
        from threads, C{advance} the timed calls.  It runs once only:
        again, L{run} raises L{ReactorAlreadyRunning} or
        L{ReactorNotRestartable}.
      - L{stop} asks it to stop: a second L{stop} raises
        L{ReactorNotRunning}, and the C{shutdown} event fires at the end of
        its next iteration (L{flush} or C{advance}), as a real reactor's
        does.  Its C{before} triggers may return Deferreds (twistd's
        C{stopService}, a drain), for which the reactor waits, running
        still (calls from threads and time go on); then C{running} is
        false, and the C{during} and C{after} triggers run.  Calls from
        threads never run again.

    Time is the test's, whatever the reactor's life: C{advance} runs the
    timed calls due even before L{run} or after L{stop} (a real reactor
    would not, and no service here schedules one that must wait).

    L{callFromThread} queues the call in L{pending}, and L{flush} runs the
    queue, as the reactor thread would on its next iteration.  Queueing,
    rather than calling at once, lets a test act in the reactor thread
    between the moment a thread hands a call over and the moment the
    reactor runs it (a request cancelled with a response on its way, say).
    With C{immediate}, calls run at once instead (from L{run} on): the
    reactor thread running them before the calling thread goes on, which a
    real reactor may also do.

    It provides what a front's and a handler's services take of a reactor
    (L{txmp._interfaces.IFrontReactor}): L{spawnProcess} records the
    process in L{spawned} instead of running it.

    @ivar pending: the calls not run yet, in order, as C{(callable, args,
        kwargs)}.
    @ivar spawned: the processes spawned, in order, as C{(args, process)}.
    @ivar running: whether it runs: from L{run} until the C{shutdown}
        event's C{during} phase, as L{IReactorCore.running}.
    @ivar hasRun: whether L{run} was called.
    @ivar hasStopped: whether L{stop} was called (and did not raise).
    @ivar triggers: the system event triggers not run yet, as
        C{triggers[phase][eventType]}, a list of C{(callable, args,
        kwargs)}.
    """

    _log = Logger()

    def __init__(self, immediate: bool = False) -> None:
        MemoryReactorClock.__init__(self)
        # Not run, not stopped: said here, since Twisted 23.10's
        # MemoryReactor (the oldest supported) starts with hasRun and
        # hasStopped true.
        self.running = False
        self.hasRun = False
        self.hasStopped = False
        self.immediate = immediate
        self.pending: list[
            tuple[Callable[..., object], tuple[object, ...], dict[str, object]]
        ] = []
        self._flushing = False
        # Stopped, and the shutdown event not fired yet: it fires at the
        # end of the next iteration.
        self._stopAsked = False
        self.spawned: list[tuple[list[bytes | str], FakeProcess]] = []

    # -- its life ---------------------------------------------------------------

    def run(self) -> None:
        """
        Start running: fire the C{startup} event, and return running (the
        test plays the iterations).  With C{immediate}, run the calls from
        threads made before.

        @raise ReactorAlreadyRunning: if it runs already.
        @raise ReactorNotRestartable: if it was stopped.
        """
        if self.running:
            raise ReactorAlreadyRunning()
        if self.hasStopped:
            raise ReactorNotRestartable()
        self.hasRun = True
        self._fireSystemEvent("startup", self._started)
        if self.immediate:
            self.flush()

    def _started(self) -> None:
        self.running = True

    def stop(self) -> None:
        """
        Ask the reactor to stop: the C{shutdown} event fires at the end of
        its next iteration (L{flush} or C{advance}).

        @raise ReactorNotRunning: if it is not running (not yet, or not any
            more), or was asked to stop already.
        """
        if not self.running or self.hasStopped:
            raise ReactorNotRunning()
        self.hasStopped = True
        self._stopAsked = True

    def _iterated(self) -> None:
        """
        End of an iteration: fire the C{shutdown} event if asked to stop.
        """
        if self._stopAsked:
            self._stopAsked = False
            self._fireSystemEvent("shutdown", self._stopped)

    def _stopped(self) -> None:
        self.running = False

    def callWhenRunning(
        self, callable: Callable[..., object], *args: object, **kw: object
    ) -> None:
        """
        Call C{callable(*args, **kw)} now if the reactor runs, or else as
        an C{after startup} trigger: once it runs, if it ever does.
        """
        if self.running:
            callable(*args, **kw)
        else:
            self.addSystemEventTrigger("after", "startup", callable, *args, **kw)

    def _fireSystemEvent(self, eventType: str, between: Callable[[], None]) -> None:
        """
        Fire C{eventType}'s triggers, as a real reactor does: the C{before}
        ones, then (once the Deferreds they returned have fired) C{between},
        then the C{during} and C{after} ones.  What a trigger raises is
        logged.  Triggers added meanwhile to a phase not over yet run too.
        """
        waits: list[Deferred[object]] = []
        for result in self._runTriggers("before", eventType):
            if isinstance(result, Deferred):
                waits.append(result)

        def rest(_: object) -> None:
            between()
            for phase in ("during", "after"):
                self._runTriggers(phase, eventType)

        DeferredList(waits).addCallback(rest)

    def _runTriggers(self, phase: str, eventType: str) -> list[object]:
        triggers = self.triggers.get(phase, {}).get(eventType, [])
        results = []
        while triggers:
            callable, args, kwargs = triggers.pop(0)
            try:
                results.append(callable(*args, **kwargs))
            # As the reactor does with its triggers: log anything and go on.
            except BaseException:  # noqa: BLE001
                self._log.failure("{phase} {event} trigger failed", phase=phase,
                                  event=eventType)
        return results

    # -- its iterations ---------------------------------------------------------

    def callFromThread(
        self, callable: Callable[..., object], *args: object, **kwargs: object
    ) -> None:
        """
        Queue C{callable(*args, **kwargs)} until L{flush}, or call it now
        with C{immediate} (if the reactor runs).
        """
        self.pending.append((callable, args, kwargs))
        if self.immediate:
            self.flush()

    def flush(self) -> int:
        """
        Iterate, as the reactor does while it runs, until no call from a
        thread is left: run the queued calls in order, including those they
        queue; then, if asked to stop, fire the C{shutdown} event, and run
        the calls that its triggers queue while the reactor still runs.  As
        the reactor does, log what a call raises and go on with the next
        one.  Called while it runs (by a call, with C{immediate}), it
        returns at once: the running flush goes on with the queue.

        A reactor that does not run runs no call: they wait for L{run},
        or for ever once it has stopped.

        @return: how many calls were run.
        """
        if self._flushing:
            return 0
        count = 0
        while self.running and (self.pending or self._stopAsked):
            self._flushing = True
            try:
                while self.pending:
                    callable, args, kwargs = self.pending.pop(0)
                    count += 1
                    try:
                        callable(*args, **kwargs)
                    # As the reactor does with its calls: log anything and go on.
                    except BaseException:  # noqa: BLE001
                        self._log.failure("call from a thread failed")
            finally:
                self._flushing = False
            self._iterated()
        return count

    def advance(self, amount: float) -> None:
        """
        Move time on by C{amount} seconds, running the timed calls due;
        then, if asked to stop, fire the C{shutdown} event.
        """
        MemoryReactorClock.advance(self, amount)
        self._iterated()

    # -- processes --------------------------------------------------------------

    def spawnProcess(
        self,
        processProtocol: IProcessProtocol,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: Mapping[AnyStr, AnyStr] | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, int | str] | None = None,
    ) -> IProcessTransport:
        """
        Record the process in L{spawned} instead of running it, and connect
        C{processProtocol} to its L{FakeProcess}.
        """
        process = FakeProcess(processProtocol)
        # A FakeProcess has only what a process monitor uses of a process's
        # transport: its pid, and signalProcess.
        transport = cast(IProcessTransport, process)
        processProtocol.makeConnection(transport)
        self.spawned.append((list(args), process))
        return transport


def runningReactor(immediate: bool = False) -> FakeReactor:
    """
    A L{FakeReactor} that runs, as the reactor of a process that serves
    does (twistd has run it): calls from threads run when flushed (or at
    once, with C{immediate}), and it can be stopped.
    """
    reactor = FakeReactor(immediate=immediate)
    reactor.run()
    return reactor


@implementer(ITCPTransport)
class TCPStringTransport(StringTransport):
    """
    A client's TCP transport: a L{StringTransport} that provides
    L{ITCPTransport}, as the front's connections do (Twisted's
    C{tcp.Server}), records its socket options, the closing of its writing
    half, and what each C{write} call wrote.

    @ivar noDelay: what C{setTcpNoDelay} set last.
    @ivar keepAlive: what C{setTcpKeepAlive} set last.
    @ivar writeClosed: whether C{loseWriteConnection} was called (which,
        as on a real transport, leaves the connection open: it reads on).
    @ivar writes: the data of each C{write} call, in order.
    @ivar reading: whether its client reads what is written (see
        L{stopReading}).
    @ivar full: whether it holds its producer paused, as full.
    """

    noDelay = False
    keepAlive = False
    writeClosed = False
    reading = True
    full = False

    def __init__(
        self, hostAddress: IAddress | None = None, peerAddress: IAddress | None = None
    ) -> None:
        StringTransport.__init__(self, hostAddress, peerAddress)
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        StringTransport.write(self, data)
        if not self.reading and self.producer is not None and not self.full:
            self.full = True
            self.producer.pauseProducing()

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def stopReading(self) -> None:
        """
        Its client stops reading: from the next write on, the transport is
        full and pauses its producer, as a real one does once what it holds
        passes its high-water mark.  (Not before a write: a transport with
        nothing held is not full.)
        """
        self.reading = False

    def readAgain(self) -> None:
        """
        Its client reads again: the transport empties, and resumes its
        producer if it held it paused.
        """
        self.reading = True
        if self.full:
            self.full = False
            if self.producer is not None:
                self.producer.resumeProducing()

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.noDelay = enabled

    def getTcpNoDelay(self) -> bool:
        return self.noDelay

    def setTcpKeepAlive(self, enabled: bool) -> None:
        self.keepAlive = enabled

    def getTcpKeepAlive(self) -> bool:
        return self.keepAlive

    def loseWriteConnection(self) -> None:
        self.writeClosed = True


@implementer(IPushProducer)
class FakePort:
    """
    A listening port, as the front's L{txmp._accept.AcceptLimit} sees one:
    a push producer of connections, which accepts none while paused, and
    none once stopped, resumed or not, as a port of Twisted's.

    @ivar calls: C{"pause"}, C{"resume"} and C{"stop"}, in order.
    @ivar accepting: whether it accepts connections now.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.accepting = True
        self._stopped = False

    def pauseProducing(self) -> None:
        self.calls.append("pause")
        self.accepting = False

    def resumeProducing(self) -> None:
        self.calls.append("resume")
        self.accepting = not self._stopped

    def stopProducing(self) -> None:
        self.calls.append("stop")
        self._stopped = True
        self.accepting = False


class FakeTCPPort(FakePort):
    """
    A listening TCP port of Twisted's (C{tcp.Port}): it accepts up to
    C{numberAccepts} connections each time it is readable, and sets that
    number itself after each batch (see L{txmp._accept._BatchAccepting});
    it starts at Twisted's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.numberAccepts = 100

    def acceptBatch(self, waiting: int) -> int:
        """
        Accept one batch of the C{waiting} clients, and set the size of
        the next as C{tcp.Port} does: 20 more after a full batch, else the
        number accepted.

        @return: the number accepted.
        """
        accepted = min(waiting, self.numberAccepts)
        if accepted == self.numberAccepts:
            self.numberAccepts += 20
        else:
            self.numberAccepts = accepted
        return accepted


class FakeFileLimits:
    """
    A process's limits on open files, as L{resource.getrlimit} and
    L{resource.setrlimit} give and set them, for
    L{txmp._accept.raiseFileLimit}.

    @ivar limits: the soft and hard limits.
    @ivar refuse: an exception type that C{setrlimit} raises, as the kernel
        refuses a limit, or L{None}.
    @ivar set: the limits set, in order.
    """

    def __init__(self, soft: int, hard: int, refuse: type[Exception] | None = None) -> None:
        self.limits = (soft, hard)
        self.refuse = refuse
        self.set: list[tuple[int, int]] = []

    def getrlimit(self, which: int, /) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int], /) -> None:
        assert which == resource.RLIMIT_NOFILE
        if self.refuse is not None:
            raise self.refuse("refused")
        self.set.append(limits)
        self.limits = limits


class FakeSignals:
    """
    The part of L{signal} that L{txmp._signals.ForkedChildSignals} uses,
    in one thread, recording what is done to it.

    @ivar handlers: the handlers, by signal number: the signals there are.
    @ivar blocked: the signals blocked (C{SIGPIPE} at first).
    @ivar wakeupFd: the wake-up file descriptor.
    @ivar calls: what was called, in order.
    """

    SIG_DFL = signal.SIG_DFL
    SIG_BLOCK = signal.SIG_BLOCK
    SIG_SETMASK = signal.SIG_SETMASK

    def __init__(self, handlers: dict[int, object]) -> None:
        self.handlers = dict(handlers)
        self.blocked: set[int] = {signal.SIGPIPE}
        self.wakeupFd = 3
        self.calls: list[str] = []

    def valid_signals(self) -> set[int]:
        return set(self.handlers)

    def getsignal(self, number: int) -> object:
        return self.handlers[number]

    def signal(self, number: int, handler: object) -> object:
        self.calls.append(f"signal {number}")
        previous, self.handlers[number] = self.handlers[number], handler
        return previous

    def set_wakeup_fd(self, fd: int) -> int:
        self.calls.append(f"wakeup {fd}")
        previous, self.wakeupFd = self.wakeupFd, fd
        return previous

    def pthread_sigmask(self, how: int, mask: object) -> set[int]:
        previous = set(self.blocked)
        numbers = set(cast("Iterable[int]", mask))
        if how == signal.SIG_BLOCK:
            self.blocked |= numbers
        else:
            self.blocked = numbers
        self.calls.append(f"mask {sorted(self.blocked)}")
        return previous


# The options twistd has (on POSIX, where twisted.scripts.twistd takes its
# ServerOptions from _twistd_unix), and the one its runner adds once it has
# daemonized: the descriptor of its status pipe to the twistd that launched it.
_TWISTD_OPTIONS = frozenset(ServerOptions()) | {"statusPipe"}


class FakeTwistdOptions(usage.Options):
    """
    twistd's own options (its C{ServerOptions}), as a tap's options find
    them in their C{parent} when twistd parses a command line naming the
    tap as its subcommand: a dict of twistd's options by name, and the
    subcommand's name.  It holds only the options given, where twistd's
    hold every other at its default (C{pidfile} is C{twistd.pid} unless
    given): a test gives those the code it tests reads.
    """

    def __init__(self, subCommand: str = "mpfront", /, **options: object) -> None:
        """
        @param subCommand: the subcommand, C{mpfront} or C{mphandler}.
        @param options: twistd's options by name (C{True} for a flag given):
            only names twistd has, as C{rundir}, C{nodaemon},
            C{statusPipe}.

        @raise KeyError: for a name twistd has no option of.
        """
        usage.Options.__init__(self)
        for name in options:
            if name not in _TWISTD_OPTIONS:
                raise KeyError(f"twistd has no option {name!r}")
        self.update(options)
        self.subCommand = subCommand


# -- ZeroMQ ---------------------------------------------------------------------


class MemorySocket:
    """
    A fake L{txmp._zmq.ZmqSocket} that records every message sent on it.

    Made by a L{MemoryNetwork}, it also carries them, as a ZeroMQ socket
    does (see there).  On its own, it only records them: as a ROUTER
    (C{router=True}) the first frame of every message names the peer it is
    addressed to, and L{send} raises L{PeerUnreachable} for the peers in
    L{unreachable}, as a C{ROUTER_MANDATORY} socket does for a peer that is
    not connected; the message is then not recorded.

    @ivar sent: the frames of every message sent, oldest first; a ROUTER's
        messages include the peer id as their first frame.
    @ivar kept: those of them given to L{sendSoon}, which a real socket
        keeps for the end of the turn (this one sends them at once), and
        those given to L{combine}.
    @ivar combined: what L{combine} was given and L{sendCombined} has not
        sent yet.
    @ivar unreachable: peer ids for which L{send} raises L{PeerUnreachable}.
        Only consulted if this is a ROUTER.
    @ivar router: whether this is a ROUTER.
    @ivar closed: whether L{close} was called; L{send} on a closed socket
        does nothing, like the real one.
    @ivar routingId: a DEALER's routing id, given by the network.
    @ivar address: the address it is bound or connected to, if any.
    @ivar connects: how many times L{connect} was called.
    @ivar forgotten: the peers L{forget} was called for, in order.
    @ivar shared: whether L{shareWithThreads} was called.
    @ivar curve: the keys given to L{curveClient}, if it was called.
    @ivar keptAlive: what L{keepAlive} was given, if it was called.
    @ivar handshakeObserver: the observer given to L{monitorHandshakes}, if
        it was called, for the test to tell it of a handshake as a real
        socket's monitor does (C{("HANDSHAKE_FAILED_AUTH", 400,
        address)}, say): a network makes no handshakes.
    @ivar linger: what L{lingerOnClose} was given last (milliseconds), if
        it was called, and whether the socket was closed then.
    """

    _log = Logger()

    def __init__(
        self,
        router: bool = False,
        receiver: FramesReceiver | LargeFramesReceiver | None = None,
        routingId: bytes | None = None,
        network: MemoryNetwork | None = None,
    ) -> None:
        """
        @param router: whether this is a ROUTER socket (see above).
        @param receiver: called with the frames of each message the
            network delivers to this socket.
        @param routingId: a DEALER's routing id, as the ROUTER it connects
            to sees it.
        @param network: the network carrying its messages, if any.
        """
        self.router = router
        self.routingId = routingId
        self.sent: list[list[bytes]] = []
        self.kept: list[list[bytes]] = []
        self.combined: list[bytes] = []
        self.unreachable: set[bytes] = set()
        self.closed = False
        self.address: str | None = None
        self.connects = 0
        self.forgotten: list[bytes] = []
        self.shared = False
        self.curve: tuple[bytes, bytes, bytes] | None = None
        self.keptAlive: tuple[float, float, float] | None = None
        self.handshakeObserver: HandshakeObserver | None = None
        self.linger: tuple[int, bool] | None = None
        # (Only a socket with largeFrame receives memoryviews.)
        self._receiver = cast("LargeFramesReceiver | None", receiver)
        self._network = network

    def bind(self, address: str) -> None:
        """
        Bind to C{address}: the DEALERs connected to it are this ROUTER's
        peers.

        @raise AddressError: if another socket is bound there.
        """
        assert self._network is not None, "only a network's sockets bind"
        self._network._bind(self, address)

    def connect(self, address: str) -> None:
        """
        Connect to the ROUTER bound at C{address}, now or later.
        """
        assert self._network is not None, "only a network's sockets connect"
        self.address = address
        self.connects += 1
        self._network._connected(self)

    def disconnect(self, address: str) -> None:
        """
        Undo L{connect}, as L{txmp._zmq.ZmqSocket.disconnect} does: the
        messages in transit between this DEALER and the ROUTER at
        C{address}, or waiting for one to bind there, are lost, as those in
        ZeroMQ's pipe are; the ROUTER's sends to it raise
        L{PeerUnreachable}; what it sends from now on waits for its next
        L{connect}.  A closed socket does nothing.

        @raise AddressError: if this socket is not connected to C{address}.
        """
        if self.closed:
            return
        if self.address != address or self.router:
            raise AddressError(f"cannot disconnect from {address}: not connected to it")
        assert self._network is not None, "only a network's sockets connect"
        self._network._disconnected(self)
        self.address = None

    def _beforeEndpoints(self, what: str) -> None:
        # As the real socket: security options apply to later connections,
        # and are refused once it was bound or connected (even if it has
        # disconnected since).
        if self.address is not None or self.connects:
            raise RuntimeError(f"{what} must be set before bind or connect")

    def curveClient(self, publicKey: bytes, secretKey: bytes, serverKey: bytes) -> None:
        """
        Record the keys in L{curve}; refused once bound or connected, as
        by L{txmp._zmq.ZmqSocket.curveClient}.

        @raise RuntimeError: if bound or connected.
        """
        self._beforeEndpoints("CURVE")
        self.curve = (publicKey, secretKey, serverKey)

    def keepAlive(self, interval: float, timeout: float, connectTimeout: float) -> None:
        """
        Record the arguments in L{keptAlive}; refused once bound or
        connected, as by L{txmp._zmq.ZmqSocket.keepAlive}.

        @raise RuntimeError: if bound or connected.
        """
        self._beforeEndpoints("HEARTBEAT")
        self.keptAlive = (interval, timeout, connectTimeout)

    def monitorHandshakes(self, context: MemoryNetwork, observer: HandshakeObserver) -> None:
        """
        Keep C{observer} in L{handshakeObserver}; refused once bound or
        connected, as by L{txmp._zmq.ZmqSocket.monitorHandshakes}.

        @raise RuntimeError: if bound or connected.
        """
        self._beforeEndpoints("the monitor")
        self.handshakeObserver = observer

    def shareWithThreads(
        self,
        reactor: IReactorFromThreads,
        inReactorThread: Callable[[], bool] | None = None,
    ) -> None:
        """
        Let any thread send, as L{txmp._zmq.ZmqSocket.shareWithThreads}
        does; this one sends from any thread already (in tests, there is
        only one).

        @raise ValueError: for a ROUTER.
        """
        if self.router:
            raise ValueError("only a DEALER socket can be shared with threads")
        self.shared = True

    def send(self, frames: list[bytes]) -> None:
        """
        Send, and record, one multipart message.

        @raise PeerUnreachable: if this is a ROUTER and the message's peer
            is in L{unreachable} or (on a network) not connected to it; the
            message is then not recorded.
        """
        if self.closed:
            return
        if self.combined:
            self.sendCombined()
        frames = list(frames)
        if self.router and frames and frames[0] in self.unreachable:
            raise PeerUnreachable(frames[0])
        if self._network is not None:
            self._network._send(self, list(frames))
        self.sent.append(frames)

    def combine(self, message: bytes) -> None:
        """
        Add C{message} to L{combined}, as
        L{txmp._zmq.ZmqSocket.combine} does, and record it in L{kept}.
        """
        self.combined.append(message)
        self.kept.append([message])

    def sendCombined(self) -> None:
        """
        Send, and record, what L{combine} was given, in order, as
        L{txmp._zmq.ZmqSocket.sendCombined} does: each as a message of its
        own, as the peer's socket reads them out of a real one's C{BATCH}
        (see L{sendSoon}).
        """
        combined, self.combined = self.combined, []
        for message in combined:
            self.send([message])

    def sendSoon(self, peer: bytes, message: bytes) -> None:
        """
        Send, and record, C{message} to C{peer} at once, as L{send} does: a
        memory socket has no turns of a reactor to keep messages for, so
        L{sent} records each as a message of its own, as the peer reads
        them out of a real socket's C{BATCH}, and L{kept} too.

        @raise PeerUnreachable: as L{send} does (the real socket may, when
            it sends what it kept).
        """
        self.send([peer, message])
        self.kept.append([peer, message])

    def forget(self, peer: bytes) -> list[list[bytes]]:
        """
        Record C{peer} in L{forgotten}.  Nothing waits to be sent here (a
        message is sent or refused at once), so nothing is discarded:
        messages in transit (L{MemoryNetwork.inTransit}) are ZeroMQ's, as
        those in a real socket's pipe, and still arrive.

        @return: an empty list.
        """
        self.forgotten.append(peer)
        return []

    def lingerOnClose(self, milliseconds: int) -> None:
        """
        Record how long L{close} is to try to send what is queued: a memory
        socket has nothing queued.
        """
        self.linger = (milliseconds, self.closed)

    def close(self) -> None:
        """
        Close the socket: later messages are discarded, and those on their
        way to it are lost.
        """
        self.closed = True
        if self._network is not None:
            self._network._closed(self)

    @property
    def backlog(self) -> int:
        """
        How many messages wait to be sent: always 0 here.
        """
        return 0

    def messages(self) -> list[protocol.Message]:
        """
        The messages sent on this DEALER, decoded.

        @raise protocol.ProtocolError: if one of them is not a valid message.
        """
        return [protocol.decode(frames) for frames in self.sent]

    def routedMessages(self) -> list[tuple[bytes, protocol.Message]]:
        """
        The messages sent on this ROUTER, decoded, each with the id of the
        peer it was sent to.

        @raise protocol.ProtocolError: if one of them is not a valid message.
        """
        return [(frames[0], protocol.decode(frames[1:])) for frames in self.sent]

    def clear(self) -> None:
        """
        Forget the messages sent so far.
        """
        del self.sent[:]
        del self.kept[:]


class MisusedNetwork(RuntimeError):
    """
    A L{MemoryNetwork} was used as a real network cannot be: flushed while
    flushing.
    """


class MemoryNetwork:
    """
    A fake L{txmp._zmq.ZmqContext}: its ROUTER and DEALER sockets
    (L{MemorySocket}s) are joined in memory, by address.

    What a DEALER sends arrives at the ROUTER bound at its address, with
    the DEALER's routing id first; what a ROUTER sends to a routing id
    arrives at the DEALER with that id connected to it (the one connected
    last, as with C{ROUTER_HANDOVER}), without the id, and a ROUTER's send
    to an id that no DEALER there has raises L{PeerUnreachable}.  What a
    DEALER sends while no ROUTER is bound at its address waits for one, as
    ZeroMQ queues it; what it sends while connected nowhere (after
    L{MemorySocket.disconnect}) waits for its next connect, as a real
    socket keeps it.  Frames of at least C{largeFrame} bytes arrive as
    read-only C{memoryview}s, the others as L{bytes}.

    Delivery is explicit: messages wait in L{inTransit} until L{flush}, so
    that no message is ever delivered while its sender is still in the
    middle of sending it, as with real sockets.  Tests may inspect, drop or
    reorder the messages in L{inTransit} before flushing.

    L{disconnect} cuts a DEALER's link, as a network failure or a process
    that died does.

    @ivar inTransit: messages sent and not yet delivered, oldest first, as
        C{(socket, frames)}.
    @ivar delivered: how many messages have been delivered so far.
    """

    # Flushing more than this many messages at once means two parties keep
    # answering each other: a bug in the code under test.
    maxDeliveries = 100000

    def __init__(self) -> None:
        self.inTransit: deque[tuple[MemorySocket, list[protocol.Frame]]] = deque()
        self.delivered = 0
        self._routers: dict[str, MemorySocket] = {}
        self._dealers: list[MemorySocket] = []
        self._waiting: dict[str, list[tuple[MemorySocket, list[bytes]]]] = {}
        self._unconnected: dict[MemorySocket, list[list[bytes]]] = {}
        self._cut: set[bytes] = set()
        self._largeFrames: dict[MemorySocket, int] = {}
        self._flushing = False
        self._unnamed = 0
        # Every socket made, bound, connected or neither (shutdown).
        self._made: list[MemorySocket] = []

    def socket(
        self,
        kind: str,
        receiver: FramesReceiver | LargeFramesReceiver,
        highWaterMark: int,
        routingId: bytes | None = None,
        largeFrame: int | None = None,
    ) -> MemorySocket:
        """
        Make a socket, as L{txmp._zmq.ZmqContext.socket} does.

        @param kind: C{"router"} or C{"dealer"}.
        @param highWaterMark: not used, but for refusing 0 (unlimited), as
            the real one does.
        @param routingId: a DEALER's routing id; without one, it gets one
            as ZeroMQ's ROUTER names such a peer: five bytes, the first 0.
        """
        if highWaterMark <= 0:
            raise ValueError("a high-water mark of 0 means unlimited memory")
        if kind not in ("router", "dealer"):
            raise ValueError(f"a MemoryNetwork has no {kind} sockets")
        if kind == "dealer" and routingId is None:
            self._unnamed += 1
            routingId = b"\0" + self._unnamed.to_bytes(4, "big")
        socket = MemorySocket(kind == "router", receiver, routingId, self)
        if largeFrame is not None:
            self._largeFrames[socket] = largeFrame
        self._made.append(socket)
        return socket

    def shutdown(self, linger: float = 0.0) -> None:
        """
        Close every socket made here, as L{txmp._zmq.ZmqContext.shutdown}
        does (one neither bound nor connected too), each told to linger for
        C{linger} seconds first if that is not 0 (a memory socket has
        nothing to send then: see L{MemorySocket.linger}).
        """
        for socket in self._made:
            if linger and not socket.closed:
                socket.lingerOnClose(int(linger * 1000))
            socket.close()

    def disconnect(self, routingId: bytes) -> None:
        """
        Cut the DEALERs with C{routingId} off, as if their process died: a
        ROUTER's sends to them raise L{PeerUnreachable}, and what they send
        (now or already in transit) is lost, as is what is in transit to
        them.
        """
        self._cut.add(routingId)
        for address, waiting in self._waiting.items():
            self._waiting[address] = [
                (dealer, frames) for dealer, frames in waiting if dealer.routingId != routingId
            ]
        self.inTransit = deque(
            (socket, frames)
            for socket, frames in self.inTransit
            if socket.routingId != routingId
            and not (socket.router and frames and frames[0] == routingId)
        )

    def reconnect(self, routingId: bytes) -> None:
        """
        Undo L{disconnect}.
        """
        self._cut.discard(routingId)

    def flush(self) -> int:
        """
        Deliver every message in transit, and those sent while delivering
        them, until none is left.

        @return: how many messages were delivered.
        @raise MisusedNetwork: if called while flushing.
        @raise RuntimeError: if more than
            L{maxDeliveries} are delivered.
        """
        if self._flushing:
            raise MisusedNetwork("MemoryNetwork.flush() called while flushing")
        self._flushing = True
        count = 0
        try:
            while self.inTransit:
                socket, frames = self.inTransit.popleft()
                if socket.closed or socket._receiver is None:
                    continue
                count += 1
                if count > self.maxDeliveries:
                    raise RuntimeError("messages keep flowing: a loop?")
                self.delivered += 1
                try:
                    socket._receiver(frames)
                except MisusedNetwork:
                    # The test's mistake, not the receiver's.
                    raise
                except Exception:  # noqa: BLE001 (as txmp._zmq)
                    # As a real socket does (txmp._zmq): logged, and the
                    # next message is delivered.
                    socket._log.failure(
                        "handling a received ZeroMQ message failed; reading on"
                    )
        finally:
            self._flushing = False
        return count

    # -- what the sockets tell it ---------------------------------------------

    def _bind(self, router: MemorySocket, address: str) -> None:
        if address in self._routers:
            raise AddressError(f"cannot bind {address}: Address already in use")
        self._routers[address] = router
        router.address = address
        for dealer, frames in self._waiting.pop(address, []):
            self._post(router, self._fromDealer(dealer, frames))

    def _connected(self, dealer: MemorySocket) -> None:
        self._dealers.append(dealer)
        for frames in self._unconnected.pop(dealer, []):
            self._send(dealer, frames)

    def _disconnected(self, dealer: MemorySocket) -> None:
        address = dealer.address
        if dealer in self._dealers:
            self._dealers.remove(dealer)
        if address in self._waiting:
            self._waiting[address] = [
                (sender, frames) for sender, frames in self._waiting[address]
                if sender is not dealer
            ]
        router = self._routers.get(address) if address is not None else None
        self.inTransit = deque(
            (socket, frames)
            for socket, frames in self.inTransit
            if socket is not dealer
            and not (socket is router and frames and frames[0] == dealer.routingId)
        )

    def _closed(self, socket: MemorySocket) -> None:
        self._unconnected.pop(socket, None)
        if socket.router and socket.address is not None:
            if self._routers.get(socket.address) is socket:
                del self._routers[socket.address]
        elif socket in self._dealers:
            self._dealers.remove(socket)

    def _send(self, socket: MemorySocket, frames: list[bytes]) -> None:
        if socket.router:
            peer = frames[0]
            for dealer in reversed(self._dealers):
                if dealer.routingId == peer and dealer.address == socket.address:
                    break
            else:
                raise PeerUnreachable(peer)
            if peer in self._cut:
                raise PeerUnreachable(peer)
            self._post(dealer, frames[1:])
        elif socket.routingId in self._cut:
            pass
        elif socket.address is None:
            # Connected nowhere (disconnected): it waits, as in a real
            # socket's backlog, for the next connect.
            self._unconnected.setdefault(socket, []).append(frames)
        else:
            router = self._routers.get(socket.address)
            if router is None:
                self._waiting.setdefault(socket.address, []).append((socket, frames))
            else:
                self._post(router, self._fromDealer(socket, frames))

    @staticmethod
    def _fromDealer(dealer: MemorySocket, frames: list[bytes]) -> list[bytes]:
        """
        C{frames} as a ROUTER receives them from C{dealer}: its routing id
        first (every DEALER of a network has one, see L{socket}).
        """
        assert dealer.routingId is not None, "a DEALER not made by the network"
        return [dealer.routingId, *frames]

    def _post(self, socket: MemorySocket, frames: list[bytes]) -> None:
        largeFrame = self._largeFrames.get(socket)
        received: list[protocol.Frame]
        if largeFrame is None:
            received = list(frames)
        else:
            received = [
                memoryview(frame).toreadonly() if len(frame) >= largeFrame else frame
                for frame in frames
            ]
        self.inTransit.append((socket, received))


class FakeRawSocket:
    """
    A C{zmq.Socket}, as L{txmp._zmq.ZmqSocket} sends on it, that takes
    C{room} messages, then is full.

    As a C{ROUTER_MANDATORY} socket, it also refuses messages addressed (by
    their first frame) to a peer in L{full}, whose pipe is full, with
    C{zmq.Again}, and to a peer in L{gone} with C{EHOSTUNREACH}, both at
    the first frame, as libzmq does.

    It receives the messages put in L{incoming}, as one that peers sent
    them to.

    @ivar room: how many messages it takes before it is full.
    @ivar sent: the messages taken, in order.
    @ivar uncopied: the frames taken without a copy (C{copy=False}), in
        order.
    @ivar full: the peers whose pipes are full.
    @ivar gone: the peers not connected.
    @ivar incoming: the messages waiting to be received, in order.
    """

    def __init__(self, room: int) -> None:
        self.room = room
        self.sent: list[list[bytes]] = []
        self.uncopied: list[bytes] = []
        self.full: set[bytes] = set()
        self.gone: set[bytes] = set()
        self.incoming: deque[list[bytes]] = deque()
        self._partial: list[bytes] | None = None
        # The rest of the message recv is reading.
        self._receiving: deque[bytes] = deque()

    def getsockopt(self, option: int) -> int:
        """
        C{zmq.EVENTS}: C{POLLOUT} until it is full, and C{POLLIN} while a
        message waits in L{incoming}.
        """
        assert option == zmq.EVENTS
        return (zmq.POLLOUT if len(self.sent) < self.room else 0) | (
            zmq.POLLIN if self.incoming else 0
        )

    def recv_multipart(self, flags: int, copy: bool = True) -> list[bytes]:
        """
        The next message of L{incoming}, whole; C{zmq.Again} if there is
        none (with C{NOBLOCK}, as L{txmp._zmq.ZmqSocket} asks).
        """
        assert flags & zmq.NOBLOCK and copy
        if not self.incoming:
            raise zmq.Again()
        return self.incoming.popleft()

    def recv(self, flags: int, copy: bool = True) -> zmq.Frame:
        """
        The next frame of L{incoming}'s first message, as a C{zmq.Frame}
        whose C{more} says whether others of it follow (as pyzmq's Cython
        backend sets it); C{zmq.Again} if there is none.
        """
        assert flags & zmq.NOBLOCK and not copy
        if not self._receiving:
            if not self.incoming:
                raise zmq.Again()
            self._receiving = deque(self.incoming.popleft())
        frame = zmq.Frame(self._receiving.popleft())
        frame.more = bool(self._receiving)
        return frame

    def send(self, frame: bytes, flags: int, copy: bool) -> None:
        """
        One frame, as ZeroMQ takes it: a message is refused (C{zmq.Again},
        with C{NOBLOCK}) only at its first frame, and ends at the first
        frame sent without C{SNDMORE}.
        """
        assert flags & zmq.NOBLOCK
        if self._partial is None:
            if len(self.sent) >= self.room or frame in self.full:
                raise zmq.Again()
            if frame in self.gone:
                raise zmq.ZMQError(zmq.EHOSTUNREACH)
            self._partial = []
        self._partial.append(frame)
        if not copy:
            self.uncopied.append(frame)
        if not flags & zmq.SNDMORE:
            self.sent.append(self._partial)
            self._partial = None


class FakeZmqConnection:
    """
    The txzmq connection of a L{txmp._zmq.ZmqSocket} (a
    C{txmp._zmq._Connection}) over a L{FakeRawSocket}: C{doRead} reads for
    the socket that owns it, as the real one does, and counts its calls;
    C{shutdown} closes it.  L{fakeZmqSocket} makes a socket over one.

    @ivar socket: the L{FakeRawSocket}; L{None} once shut down.
    @ivar owner: the socket it reads for.
    @ivar reads: how many times C{doRead} was called.
    """

    owner: ZmqSocket

    def __init__(self, socket: FakeRawSocket) -> None:
        self.socket: FakeRawSocket | None = socket
        self.reads = 0

    def doRead(self) -> None:
        """
        Count a read, and hand L{owner} what the socket has for it (the
        real connection's C{doRead}, which ZeroMQ's descriptor calls).
        """
        self.reads += 1
        self.owner._read(cast("_Connection", self))

    def shutdown(self) -> None:
        """
        Close: no socket any more.
        """
        self.socket = None


def memoryFront(
    network: MemoryNetwork, reactor: IReactorTime, send: str, returnAddress: str,
    **settings: Any,
) -> tuple[Dispatcher, MemorySocket, MemorySocket]:
    """
    A front's L{Dispatcher} on C{network}, as
    L{txmp._frontservice.FrontService} makes one on real sockets: its
    ROUTER sockets bound at C{send} (the requests' way, which it sends on)
    and C{returnAddress} (the replies'), each giving what arrives to the
    dispatcher, at the front's high-water mark and large-frame size.

    @param settings: keyword arguments of L{Dispatcher}.
    @return: the dispatcher, not started, and its send and return sockets.
    """
    dispatcher: Dispatcher
    sendSocket = network.socket(
        "router", lambda frames: dispatcher.controlReceived(frames), HIGH_WATER_MARK
    )
    returnSocket = network.socket(
        "router", lambda frames: dispatcher.replyReceived(frames), HIGH_WATER_MARK,
        largeFrame=LARGE_FRAME,
    )
    sendSocket.bind(send)
    returnSocket.bind(returnAddress)
    dispatcher = Dispatcher(reactor, sendSocket, **settings)
    return dispatcher, sendSocket, returnSocket


def memoryLink(
    network: MemoryNetwork, reactor: IReactorTime, runner: Runner, send: str,
    returnAddress: str, routingId: bytes, capacity: int, **settings: Any,
) -> tuple[FrontLink, MemorySocket, MemorySocket]:
    """
    A handler's L{FrontLink} on C{network}, as
    L{txmp._handlerservice.HandlerService} makes one on real sockets: its
    DEALER sockets, both with C{routingId}, connected to a front's C{send}
    and C{returnAddress} (see L{memoryFront}), what comes on the first
    given to the link; the link named after C{routingId}.

    @param settings: keyword arguments of L{FrontLink}.
    @return: the link, not started, and its send and return sockets.
    """
    link: FrontLink
    sendSocket = network.socket(
        "dealer", lambda frames: link.controlReceived(frames), HIGH_WATER_MARK, routingId
    )
    returnSocket = network.socket("dealer", lambda frames: None, HIGH_WATER_MARK, routingId)
    sendSocket.connect(send)
    returnSocket.connect(returnAddress)
    link = FrontLink(
        reactor, runner, sendSocket, returnSocket, routingId.decode("ascii"), capacity,
        **settings,
    )
    return link, sendSocket, returnSocket


def fakeZmqSocket(
    reactor: IReactorTime,
    raw: FakeRawSocket,
    receiver: FramesReceiver | LargeFramesReceiver = lambda frames: None,
    router: bool = False,
    largeFrame: int | None = None,
    peerBacklog: int = PEER_BACKLOG,
) -> tuple[ZmqSocket, FakeZmqConnection]:
    """
    A real L{txmp._zmq.ZmqSocket} over C{raw}, through a
    L{FakeZmqConnection} that reads for it, as L{ZmqSocket.open} makes one
    over a C{zmq.Socket} (the other parameters are its own).

    @return: the socket and its connection.
    """
    connection = FakeZmqConnection(raw)
    socket = ZmqSocket(
        reactor, receiver, router=router, largeFrame=largeFrame,
        connection=cast("_Connection", connection), peerBacklog=peerBacklog,
    )
    connection.owner = socket
    return socket, connection


# -- the handler ----------------------------------------------------------------


class RecordingSink:
    """
    A L{txmp._wsgi.ResponseSink} that records its calls as tuples, such as
    C{("sendHead", status, reason, headers, body, more)} and
    C{("finished",)}.

    @ivar calls: the calls, in order.
    @ivar onHead: called after C{sendHead} is recorded, if not L{None}.
    @ivar onBody: called after C{sendBody} is recorded, if not L{None}.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.onHead: Callable[[], None] | None = None
        self.onBody: Callable[[], None] | None = None

    def sendHead(
        self,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        body: list[bytes],
        more: bool,
    ) -> None:
        """
        Record C{("sendHead", status, reason, headers, body, more)}.
        """
        self.calls.append(("sendHead", status, reason, headers, body, more))
        if self.onHead is not None:
            self.onHead()

    def sendBody(self, chunks: list[bytes], end: bool) -> None:
        """
        Record C{("sendBody", chunks, end)}.
        """
        self.calls.append(("sendBody", chunks, end))
        if self.onBody is not None:
            self.onBody()

    def sendError(self, message: str) -> None:
        """
        Record C{("sendError", message)}.
        """
        self.calls.append(("sendError", message))

    def sendWindow(self, size: int) -> None:
        """
        Record C{("sendWindow", size)}.
        """
        self.calls.append(("sendWindow", size))

    def finished(self) -> None:
        """
        Record C{("finished",)}.
        """
        self.calls.append(("finished",))


@dataclass(eq=False)
class MemoryRun:
    """
    One request given to a L{MemoryRunner}.

    @ivar requestId: the request's id.
    @ivar head: its L{protocol.RequestHead}.
    @ivar body: its first body frames.
    @ivar sink: where its response goes (a L{txmp._wsgi.ResponseSink}).
    @ivar cancelled: whether the link called L{cancel}.
    @ivar bodyParts: the chunks of each later part of the request body
        (for a head with C{more} set), in order.
    @ivar bodyEnded: whether the end of the request body was received.
    @ivar windows: the size of each response window the front granted
        after the request (C{WINDOW}), in order; the first window is the
        request's C{window} meta attribute (C{head.window}).
    @ivar stack: what L{where} says: the test sets it.
    @ivar started: whether an application thread has taken the request:
        the test sets it.
    @ivar withdrawn: whether the link took it back (L{withdraw}).
    @ivar waitingOnFront: whether the application thread waits for body or
        window: the test sets it.
    @ivar betweenChunks: whether the application thread waits to give a
        streamed response's next chunk (in its iterable, or between
        C{write()}s): the test sets it.
    """

    requestId: bytes
    head: protocol.RequestHead
    body: list[bytes]
    sink: ResponseSink
    cancelled: bool = False
    bodyParts: list[list[bytes]] = field(default_factory=list)
    bodyEnded: bool = False
    windows: list[int] = field(default_factory=list)
    stack: str | None = None
    started: bool = False
    waitingOnFront: bool = False
    betweenChunks: bool = False
    withdrawn: bool = False

    def cancel(self) -> None:
        """
        Record that the front no longer wants this response.
        """
        self.cancelled = True

    def withdraw(self) -> bool:
        """
        Take the request back, as L{txmp._wsgi.RunningRequest.withdraw}
        does, if it has not C{started}.
        """
        if self.started or self.withdrawn:
            return False
        self.withdrawn = True
        return True

    def where(self) -> str | None:
        """
        C{stack}: where the test says the application thread is.
        """
        return self.stack

    @property
    def logId(self) -> str:
        """
        The request's id in logs, as L{txmp._wsgi.RunningRequest.logId}
        has it: its C{X-Request-Id}, else its id as text.
        """
        for name, value in self.head.headers:
            if name.lower() == "x-request-id":
                return value if value.isprintable() else printable(value)
        return idText(self.requestId)

    def bodyReceived(self, chunks: list[bytes], end: bool) -> None:
        """
        Record more of the request body, as
        L{txmp._wsgi.RunningRequest.bodyReceived} takes it.
        """
        self.bodyParts.append(list(chunks))
        if end:
            self.bodyEnded = True

    def windowReceived(self, size: int) -> None:
        """
        Record a response window, as
        L{txmp._wsgi.RunningRequest.windowReceived} takes it.
        """
        self.windows.append(size)

    def grantInput(self, size: int) -> None:
        """
        Let the front send C{size} more bytes of the request body, as the
        WSGI runner does when the application has read that much.
        """
        self.sink.sendWindow(size)

    def respond(
        self,
        status: int = 200,
        reason: bytes = b"OK",
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: Sequence[bytes] = (),
    ) -> None:
        """
        Send a complete response in one message and finish the run (a
        thread took it: it is C{started}).
        """
        self.started = True
        self.sink.sendHead(status, reason, list(headers), list(body), False)
        self.sink.finished()

    def fail(self, message: str = "failed") -> None:
        """
        Send C{ERROR} and finish the run (a thread took it: it is
        C{started}).
        """
        self.started = True
        self.sink.sendError(message)
        self.sink.finished()


class MemoryRunner:
    """
    A runner for L{txmp._handler.FrontLink} that runs nothing: it records
    each request as a L{MemoryRun}, which the test completes through its
    sink.

    @ivar runs: every request given to L{run}, oldest first.
    @ivar respondWith: if not L{None}, every run is answered at once with
        this C{(status, reason, headers, body)}, synchronously inside L{run}.
    """

    def __init__(self) -> None:
        self.runs: list[MemoryRun] = []
        self.respondWith: (
            tuple[int, bytes, Sequence[tuple[bytes, bytes]], Sequence[bytes]] | None
        ) = None

    def run(
        self, requestId: bytes, head: protocol.RequestHead, body: list[bytes], sink: ResponseSink
    ) -> MemoryRun:
        """
        Record a request.

        @return: its L{MemoryRun}, which the link cancels if the front
            sends C{CANCEL}.
        """
        run = MemoryRun(requestId, head, body, sink)
        self.runs.append(run)
        if self.respondWith is not None:
            run.respond(*self.respondWith)
        return run


class ClosingIterable:
    """
    A WSGI application's response iterable (a generator, say) that counts
    C{next()} and C{close()} calls.  An item that is callable is called,
    and its result yielded.

    @ivar nexts: how many times C{next()} was called.
    @ivar closes: how many times C{close()} was called.
    """

    def __init__(
        self,
        items: Sequence[bytes | Callable[[], bytes]],
        closeError: BaseException | None = None,
    ) -> None:
        """
        @param closeError: if not L{None}, what C{close()} raises.
        """
        self.items = list(items)
        self.nexts = 0
        self.closes = 0
        self.closeError = closeError

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.nexts += 1
        if not self.items:
            raise StopIteration
        item = self.items.pop(0)
        return item() if callable(item) else item

    def close(self) -> None:
        """
        Count a call; raise C{closeError} if there is one.
        """
        self.closes += 1
        if self.closeError is not None:
            raise self.closeError


class RecordingFile(io.BytesIO):
    """
    A file (an L{io.BytesIO}), as an application gives
    C{wsgi.file_wrapper}, that records the sizes asked of C{read}.

    @ivar sizes: the sizes asked, in order.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        """
        Record C{size}, and read.
        """
        self.sizes.append(size)
        return super().read(size)


class FailingFile(io.StringIO):
    """
    A text file, as the access log writes to, whose writes raise C{error},
    unless it is L{None}: set it to C{OSError(errno.ENOSPC, ...)} for a
    full disk.
    """

    error: Exception | None = None

    def write(self, text: str, /) -> int:
        if self.error is not None:
            raise self.error
        return super().write(text)


# -- the front ------------------------------------------------------------------


class RecordingConsumer:
    """
    A L{txmp._dispatch.ReplyConsumer} that records what it is told, and
    gives the answer to L{answer}.

    @ivar answer: fires with the reply, or fails with the error, that the
        dispatcher gives; cancelling it abandons the request given to
        L{submit}.
    @ivar chunks: every chunk written, in order.
    @ivar finished: how many times L{finishBody} was called.
    @ivar aborted: how many times L{abortBody} (or L{abortSlow}) was called.
    @ivar slow: the timeout given to each call of L{abortSlow}.
    @ivar taking: what L{clientTaking} answers: set it to play a client
        whose transport is full, taking the response (C{True}) or not
        (C{False}).
    @ivar complete: whether the client has the whole response: set it to
        play one complete before the C{END}.
    @ivar requestId: the request's id, as an L{txmp._front.Exchange} has
        it: one from the dispatcher, made by L{submit} (set it to play a
        trusted proxy's C{X-Request-Id}).
    """

    complete = False
    requestId = b""

    def __init__(self) -> None:
        self.answer: Deferred[Reply] = Deferred(self._cancel)
        self.chunks: list[protocol.Frame] = []
        self.finished = 0
        self.aborted = 0
        self.slow: list[float] = []
        self.taking: bool | None = None
        self._request: PendingRequest | None = None

    def submit(
        self,
        dispatcher: Dispatcher,
        meta: protocol.BytesPairs,
        headers: protocol.BytesPairs,
        body: Sequence[bytes],
        idempotent: bool = False,
        bodySource: RequestBodySource | None = None,
    ) -> Deferred[Reply]:
        """
        Submit a request to C{dispatcher} with this consumer, as an
        L{txmp._front.Exchange} does.

        @return: L{answer}.
        """
        # (Its id first, as an Exchange has its X-Request-Id first: the
        # submission may lose a handler, and log this request's id.)
        self.requestId = dispatcher.newRequestId()
        self._request = dispatcher.submit(
            meta, headers, body, self, idempotent=idempotent, bodySource=bodySource,
            requestId=self.requestId,
        )
        return self.answer

    def _cancel(self, answer: Deferred[Reply]) -> None:
        if self._request is not None:
            self._request.cancel()

    def replyReceived(self, reply: Reply) -> None:
        """
        Fire L{answer} with C{reply}.
        """
        self.answer.callback(reply)

    def requestFailed(self, error: FrontError) -> None:
        """
        Fail L{answer} with C{error}.
        """
        self.answer.errback(error)

    def writeBody(self, chunks: Sequence[protocol.Frame]) -> None:
        """
        Record C{chunks}.
        """
        self.chunks.extend(chunks)

    def finishBody(self) -> None:
        """
        Count a call.
        """
        self.finished += 1

    def abortBody(self) -> None:
        """
        Count a call.
        """
        self.aborted += 1

    def abortSlow(self, timeout: float) -> None:
        """
        Record C{timeout}, and count a call of L{abortBody}.
        """
        self.slow.append(timeout)
        self.abortBody()

    def clientTaking(self) -> bool | None:
        """
        L{taking}.
        """
        return self.taking


class FinishedRequest:
    """
    A request once finished, as an access log reads it
    (L{txmp._access.LoggedRequest}: the front gives it an
    L{txmp._front.Exchange} or a L{txmp._front.Refusal}, which copy the
    attributes of a Twisted Web request): its method, target, protocol,
    request headers, C{code} and C{sentLength}.

    (Not Twisted's C{DummyRequest}: importing C{twisted.web.test.requesthelper}
    installs the global reactor, which importing this module must not.)
    """

    code = 200
    sentLength = 0

    def __init__(self, postpath: Sequence[bytes] = ()) -> None:
        """
        @param postpath: the segments of the request's path.
        """
        self.method = b"GET"
        self.uri = b"/" + b"/".join(postpath)
        self.clientproto = b"HTTP/1.0"
        self.requestHeaders = Headers()

    def getHeader(self, name: bytes) -> bytes | None:
        """
        The last value of the request header C{name} (compared without
        case), or L{None}.
        """
        values = self.requestHeaders.getRawHeaders(name)
        return None if values is None else values[-1]


_REQUEST_META: list[tuple[bytes, bytes]] = [
    (b"method", b"GET"),
    (b"target", b"/"),
    (b"version", b"HTTP/1.1"),
    (b"remote_addr", b"192.0.2.7"),
    (b"remote_port", b"51234"),
    (b"server_name", b"example.com"),
    (b"server_port", b"8080"),
    (b"scheme", b"http"),
]


def requestMeta(**changes: bytes) -> list[tuple[bytes, bytes]]:
    """
    The required meta pairs of a C{REQ}, in the order the front sends them:
    a C{GET /} over HTTP/1.1 from C{192.0.2.7:51234} to
    C{example.com:8080}, over C{http}, but for C{changes}.

    @param changes: values by name (C{target=b"/a"}, C{remote_port=b"1"}).
    """
    unknown = set(changes) - {name.decode("ascii") for name, _ in _REQUEST_META}
    if unknown:
        raise TypeError(f"no such meta attribute: {sorted(unknown)}")
    return [(name, changes.get(name.decode("ascii"), value)) for name, value in _REQUEST_META]


def requestHead(
    target: str = "/",
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    more: bool = False,
    scheme: str = "http",
    window: int | None = None,
) -> protocol.RequestHead:
    """
    The head of a request as a handler gets it, with the addresses of
    L{requestMeta}.

    @param window: the C{window} meta attribute, if any.
    """
    return protocol.RequestHead(
        method=method,
        target=target,
        version="HTTP/1.1",
        headers=list(headers),
        remoteAddr="192.0.2.7",
        remotePort=51234,
        serverName="example.com",
        serverPort=8080,
        scheme=scheme,
        more=more,
        window=window,
    )


def httpHead(*fields: bytes, line: bytes = b"GET / HTTP/1.1") -> bytes:
    """
    The head of an HTTP request, as a client writes it: the request
    C{line}, C{Host: h}, then the header C{fields}.
    """
    return b"\r\n".join([line, b"Host: h", *fields]) + b"\r\n\r\n"


def _issue(
    subject: str,
    key: EllipticCurvePrivateKey,
    issuer: str,
    signer: EllipticCurvePrivateKey,
    authority: bool,
) -> Certificate:
    """
    A certificate for C{subject} with C{key}'s public key, signed by
    C{signer} in the name of C{issuer}, valid for a day: an authority's
    (C{authority}: it may sign certificates), or a server's (its
    C{subject} as its DNS name).  Needs cryptography (see
    L{selfSignedCertificate}): imported here.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if authority:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), True
        ).add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), False
        )
    return builder.sign(signer, hashes.SHA256())


def _pem(*certificates: Certificate, key: EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    """
    C{certificates} one after the other, and C{key}, as PEM.  Needs
    cryptography (see L{selfSignedCertificate}): imported here.
    """
    from cryptography.hazmat.primitives import serialization

    pem = serialization.Encoding.PEM
    return (
        b"".join(certificate.public_bytes(pem) for certificate in certificates),
        key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def selfSignedCertificate(hostname: str) -> tuple[bytes, bytes]:
    """
    A new self-signed certificate for C{hostname}, and its key, as PEM:
    what a test serving TLS listens with.

    It needs cryptography, of the C{tls} extra, which Debian's PyPy cannot
    install (setup.cfg): imported here, so that importing this module does
    not need it.
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(_issue(hostname, key, hostname, key, False), key=key)


def certificateChain(hostname: str) -> tuple[bytes, bytes, bytes]:
    """
    A new certificate for C{hostname} signed by an intermediate authority
    signed by a root one, as a public authority issues them: the root's
    certificate (what clients trust), the full chain (the certificate,
    then the intermediate's, as Let's Encrypt's C{fullchain.pem} has them)
    and the certificate's key, as PEM.

    It needs cryptography, of the C{tls} extra (see
    L{selfSignedCertificate}).
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    rootKey, intermediateKey, key = (ec.generate_private_key(ec.SECP256R1()) for _ in "abc")
    root = _issue("txmp test root", rootKey, "txmp test root", rootKey, True)
    intermediate = _issue(
        "txmp test intermediate", intermediateKey, "txmp test root", rootKey, True
    )
    leaf = _issue(hostname, key, "txmp test intermediate", intermediateKey, False)
    fullChain, keyPem = _pem(leaf, intermediate, key=key)
    return _pem(root, key=rootKey)[0], fullChain, keyPem


def tlsClientFactory(
    certificate: bytes, offered: list[bytes], clock: IReactorTime, factory: IProtocolFactory
) -> TLSMemoryBIOFactory:
    """
    TLS over memory for a client of C{localhost} that trusts C{certificate}
    (PEM, as L{selfSignedCertificate} makes it) and offers C{offered} in
    ALPN, wrapping C{factory}'s protocols: a test's client of a site that a
    C{TLSMemoryBIOFactory} serves (connected by
    C{twisted.test.iosim.connectedServerAndClient}).

    It needs pyOpenSSL, of the C{tls} extra (see L{selfSignedCertificate}).
    """
    from twisted.internet import ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory

    options = ssl.optionsForClientTLS(
        "localhost", trustRoot=ssl.Certificate.loadPEM(certificate), acceptableProtocols=offered
    )
    return TLSMemoryBIOFactory(options, True, factory, clock)


class ParsedResponse:
    """
    An HTTP/1.1 response as written to a transport.

    @ivar statusLine: its status line.
    @ivar version: its HTTP version, such as C{b"HTTP/1.1"}.
    @ivar code: its status code.
    @ivar reason: its reason phrase.
    @ivar headers: its header fields, as C{(name, value)}, in order.
    @ivar body: its body, de-chunked.
    @ivar complete: whether the body was complete (its last chunk, or all
        of its C{Content-Length}, was there).
    """

    def __init__(self, data: bytes) -> None:
        """
        @raise ValueError: if C{data} does not hold a whole response head.
        """
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError(f"no complete head in {data!r}")
        lines = head.split(b"\r\n")
        self.statusLine = lines[0]
        self.version, code, self.reason = self.statusLine.split(b" ", 2)
        self.code = int(code)
        self.headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, value = line.split(b":", 1)
            self.headers.append((name, value.strip()))
        if self.header(b"transfer-encoding") == [b"chunked"]:
            self.body, self.complete = self._unchunk(rest)
        else:
            self.body = rest
            length = self.header(b"content-length")
            self.complete = bool(length) and len(rest) == int(length[0])

    @staticmethod
    def _unchunk(data: bytes) -> tuple[bytes, bool]:
        body = b""
        while data:
            sizeLine, _, data = data.partition(b"\r\n")
            size = int(sizeLine, 16)
            if size == 0:
                return body, True
            body += data[:size]
            data = data[size + 2 :]
        return body, False

    def header(self, name: bytes) -> list[bytes]:
        """
        The values of the header C{name}, in order.
        """
        return [v for n, v in self.headers if n.lower() == name.lower()]


class FrontTestCase(SynchronousTestCase):
    """
    A front: a L{Dispatcher} with one handler registered (L{handlerId}, with
    5 credits), served by a L{FrontFactory} with L{rules}, sending on a
    L{MemorySocket} (L{socket}) and timed by a L{Clock} (L{clock}).  Its
    clients send raw bytes over L{StringTransport}s (L{sendRequest}); the
    test answers as the handler (L{respond}).

    It has mpfront's defaults; a subclass may set a smaller L{maxQueue} or
    other L{rules} (and say why).

    @ivar site: the L{FrontFactory}.
    """

    maxQueue = DEFAULT_MAX_QUEUE
    rules: HTTPRules = DEFAULT_RULES
    handlerId = b"handler-a"
    clientAddress = IPv4Address("TCP", "192.0.2.5", 40000)
    serverAddress = IPv4Address("TCP", "10.0.0.1", 8080)

    def setUp(self) -> None:
        self.clock = Clock()
        self.socket = MemorySocket(router=True)
        self.dispatcher = Dispatcher(
            self.clock, self.socket, maxQueue=self.maxQueue, instance="front1",
        )
        self.hello(5)
        self.site = FrontFactory(self.dispatcher, self.clock, rules=self.rules)
        self._lost: set[FrontConnection] = set()

    # -- playing the handler ----------------------------------------------------

    def control(self, frames: list[bytes]) -> None:
        """
        Deliver a message from L{handlerId} on the send socket.
        """
        self.dispatcher.controlReceived([self.handlerId, *frames])

    def reply(self, frames: list[bytes]) -> None:
        """
        Deliver a message from L{handlerId} on the return socket.
        """
        self.dispatcher.replyReceived([self.handlerId, *frames])

    def hello(self, credits: int) -> None:
        """
        Register L{handlerId} with C{credits} credits or, if it is
        registered, leave it exactly C{credits} (a repeated C{HELLO} does
        not change them: the rest comes with C{CREDIT}).
        """
        handler = self.dispatcher.handlers.get(self.handlerId)
        if handler is None:
            self.control(protocol.encodeHello("a", credits))
        else:
            handler.credits = 0
            if credits:
                self.control(protocol.encodeCredit(credits))
        self.socket.clear()

    def respond(
        self,
        requestId: bytes,
        status: int = 200,
        reason: bytes = b"OK",
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: Sequence[bytes] = (),
        more: bool = False,
    ) -> None:
        """
        Deliver a C{RESP} from L{handlerId}.
        """
        self.reply(protocol.encodeResponse(requestId, status, reason, headers, body, more))

    # -- playing the clients ----------------------------------------------------

    def connect(
        self, secure: bool = False, transport: StringTransport | None = None
    ) -> tuple[FrontConnection, StringTransport]:
        """
        Connect a client to the site, over C{transport} (by default a new
        L{StringTransport} between L{clientAddress} and L{serverAddress}).

        @param secure: whether the transport is TLS: over TCP, as
            L{ISSLTransport} extends L{ITCPTransport} (by default a
            L{TCPStringTransport}).
        """
        channel = self.site.buildProtocol(self.clientAddress)
        if transport is None:
            kind: type[StringTransport] = TCPStringTransport if secure else StringTransport
            transport = kind(hostAddress=self.serverAddress, peerAddress=self.clientAddress)
        if secure:
            directlyProvides(transport, ISSLTransport)
        channel.makeConnection(transport)
        self.addCleanup(self.disconnect, channel)
        return channel, transport

    def disconnect(self, channel: FrontConnection) -> None:
        """
        Tell C{channel} its connection is gone (if not told already).
        """
        if channel.transport is not None and channel not in self._lost:
            self._lost.add(channel)
            channel.connectionLost(Failure(ConnectionDone()))

    def sendRequest(
        self, data: bytes, secure: bool = False
    ) -> tuple[FrontConnection, StringTransport]:
        """
        Connect and send C{data}.
        """
        channel, transport = self.connect(secure)
        channel.dataReceived(data)
        return channel, transport

    def get(self, target: bytes = b"/path") -> tuple[FrontConnection, StringTransport]:
        """
        Send a simple C{GET}.
        """
        return self.sendRequest(
            b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\n\r\n"
        )

    # -- observing --------------------------------------------------------------

    def requestsSent(self) -> list[protocol.Request]:
        """
        Every C{REQ} sent to a handler so far.
        """
        return [
            message
            for peer, message in self.socket.routedMessages()
            if isinstance(message, protocol.Request)
        ]

    def lastRequest(self) -> protocol.Request:
        """
        The last C{REQ} sent to a handler.
        """
        requests = self.requestsSent()
        self.assertTrue(requests, "no request was sent")
        return requests[-1]

    def cancels(self) -> list[bytes]:
        """
        The ids of the C{CANCEL} messages sent so far.
        """
        return [
            message.requestId
            for peer, message in self.socket.routedMessages()
            if isinstance(message, protocol.Cancel)
        ]

    def streamedBody(self, requestId: bytes) -> tuple[bytes, bool]:
        """
        The request body sent so far in C{BODY}/C{END} messages for
        C{requestId}, and whether C{END} was sent.
        """
        data, ended = b"", False
        for _peer, message in self.socket.routedMessages():
            if isinstance(message, protocol.Body) and message.requestId == requestId:
                data += b"".join(message.chunks)
                ended = ended or message.end
        return data, ended

    def assertClosed(self, transport: StringTransport) -> None:
        """
        Assert that the front closes C{transport}: at once or, in a
        lingering close, once the client has sent nothing for the site's
        C{lingerTimeout} (the clock is advanced by that much).
        """
        if not transport.disconnecting:
            self.clock.advance(self.site.httpRules.lingerTimeout)
        self.assertTrue(transport.disconnecting)

    def assertNoLeak(self) -> None:
        """
        Assert that the dispatcher holds no request any more.
        """
        counts = self.dispatcher.counts()
        self.assertEqual(
            (counts["pending"], counts["queued"], counts["inFlight"]), (0, 0, 0),
            counts,
        )

    def assertRefused(self, data: bytes, status: int) -> ParsedResponse:
        """
        Assert that C{data} is answered with a complete plain-text C{status}
        and C{Connection: close}, the connection closed, and no request sent
        to a handler.
        """
        _channel, transport = self.sendRequest(data)
        return self.assertRefusedOn(transport, status)

    def assertRefusedOn(self, transport: StringTransport, status: int) -> ParsedResponse:
        """
        Assert that C{transport} got a complete refusal with C{status}, is
        closing, and that no request was sent to a handler.
        """
        response = ParsedResponse(transport.value())
        self.assertEqual(response.code, status, transport.value())
        self.assertEqual(response.header(b"connection"), [b"close"])
        self.assertEqual(response.header(b"content-type"), [b"text/plain; charset=utf-8"])
        # As every response of the front's: who answered, and when.
        self.assertEqual(len(response.header(b"server")), 1)
        self.assertEqual(len(response.header(b"date")), 1)
        self.assertEqual(response.body, b"%d %s\n" % (status, response.reason))
        self.assertTrue(response.complete)
        self.assertClosed(transport)
        self.assertEqual(self.requestsSent(), [])
        self.assertNoLeak()
        return response

    def assertAccepted(self, data: bytes) -> protocol.Request:
        """
        Assert that C{data} reached a handler, and nothing was answered yet.
        """
        _channel, transport = self.sendRequest(data)
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)
        requests = self.requestsSent()
        self.assertEqual(len(requests), 1)
        return requests[0]


__all__ = [
    "ClosingIterable",
    "CountingCondition",
    "FailingFile",
    "FakeFileLimits",
    "FakePort",
    "FakeProcess",
    "FakeRawSocket",
    "FakeReactor",
    "FakeSignals",
    "FakeTCPPort",
    "FakeThread",
    "FakeZmqConnection",
    "FinishedRequest",
    "FrontTestCase",
    "LockstepAbandoned",
    "LockstepCondition",
    "LockstepPool",
    "LockstepThread",
    "MemoryNetwork",
    "MemoryRun",
    "MemoryRunner",
    "MemorySocket",
    "MisusedNetwork",
    "ParsedResponse",
    "PausingRunner",
    "PausingSink",
    "RecordingConsumer",
    "RecordingFile",
    "RecordingSink",
    "ScriptedCondition",
    "SynchronousThreadPool",
    "TCPStringTransport",
    "fakeZmqSocket",
    "httpHead",
    "memoryFront",
    "memoryLink",
    "requestHead",
    "requestMeta",
    "runningReactor",
    "selfSignedCertificate",
    "tlsClientFactory",
]
