# -*- test-case-name: txmp.test.test_testing -*-
"""
Tests for L{txmp.testing}: each fake against the suite it shares with the
real thing it stands for (L{txmp.test.contracts}; the real side of the
suites that need sockets, threads or the reactor is in
L{txmp.test.test_integration}), and what only the fakes do.
"""

from __future__ import annotations

import ast
import errno
import io
import itertools
import os
import re
import resource
import signal
import threading
import tokenize
import types
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, Callable, TypeVar, cast

import zmq
from twisted.application.service import ServiceMaker
from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated, ReactorAlreadyRunning
from twisted.internet.process import Process
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.python.threadpool import ThreadPool
from twisted.scripts._twistd_unix import ServerOptions
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request
from zope.interface import providedBy
from zope.interface.verify import verifyObject

import txmp
from txmp import protocol
from txmp._dispatch import Dispatcher, FrontError, Reply
from txmp._front import Exchange, Refusal
from txmp._handler import FrontLink, _ReplySink
from txmp._http import HTTPRules, RequestHead
from txmp._interfaces import IHandlerReactor
from txmp._pool import ReactorCalls, WorkerPool
from txmp._wsgi import RunningRequest, WSGIRunner
from txmp._zmq import ZmqContext, ZmqSocket, _Connection
from txmp.test.contracts import (
    BatchingPortTestsMixin,
    CallbackThreadPoolTestsMixin,
    ConditionTestsMixin,
    FakeSide,
    FileLimitsTestsMixin,
    FileReadTestsMixin,
    FullFileTestsMixin,
    ListeningPortTestsMixin,
    LoggedRequestTestsMixin,
    ProcessTestsMixin,
    RawRouterTestsMixin,
    RawSocketTestsMixin,
    ReactorCallsTestsMixin,
    ReactorLifeTestsMixin,
    ReplyConsumerTestsMixin,
    ResponseIterableTestsMixin,
    ResponseSinkTestsMixin,
    RunnerTestsMixin,
    SignalsTestsMixin,
    TCPTransportTestsMixin,
    ThreadPoolTestsMixin,
    ThreadTestsMixin,
    TwistdOptionsTestsMixin,
    ZmqConnectionTestsMixin,
    ZmqContextTestsMixin,
    signatureDifferences,
)
from txmp.testing import (
    ClosingIterable,
    CountingCondition,
    FailingFile,
    FakeFileLimits,
    FakePort,
    FakeProcess,
    FakeRawSocket,
    FakeReactor,
    FakeSignals,
    FakeTCPPort,
    FakeThread,
    FakeTwistdOptions,
    FakeZmqConnection,
    FinishedRequest,
    FrontTestCase,
    LockstepAbandoned,
    LockstepCondition,
    LockstepPool,
    LockstepThread,
    MemoryNetwork,
    MemoryRun,
    MemoryRunner,
    MemorySocket,
    ParsedResponse,
    PausingRunner,
    PausingSink,
    RecordingConsumer,
    RecordingFile,
    RecordingSink,
    ScriptedCondition,
    SynchronousThreadPool,
    TCPStringTransport,
    fakeZmqSocket,
    httpHead,
    requestHead,
    requestMeta,
    runningReactor,
)

_addresses = itertools.count()

_Node = TypeVar("_Node", bound=ast.AST)


class MemoryNetworkContractTests(FakeSide, ZmqContextTestsMixin, SynchronousTestCase):
    """
    L{MemoryNetwork} does what L{ZmqContext} does.
    """

    def setUp(self) -> None:
        self.network = self.context = MemoryNetwork()
        self.addCleanup(self.network.shutdown)

    def address(self) -> str:
        return "inproc://memory-%d" % (next(_addresses),)

    def delivered(self, d: Deferred[None]) -> Deferred[None]:
        self.network.flush()
        return d


class FakeRawSocketContractTests(RawSocketTestsMixin, SynchronousTestCase):
    """
    L{FakeRawSocket} is full when a C{zmq.Socket} is, and receives as
    one does.
    """

    def rawSocket(self, room: int) -> FakeRawSocket:
        return FakeRawSocket(room)

    def rawSocketReceiving(self, messages: list[list[bytes]]) -> FakeRawSocket:
        raw = FakeRawSocket(0)
        raw.incoming.extend(messages)
        return raw


class FakeRawRouterContractTests(RawRouterTestsMixin, SynchronousTestCase):
    """
    L{FakeRawSocket}, as a ROUTER, refuses a full peer and a gone one as a
    C{zmq.Socket} does.
    """

    def rawRouter(self) -> tuple[FakeRawSocket, bytes, bytes, bytes]:
        raw = FakeRawSocket(room=10)
        raw.full.add(b"full")
        raw.gone.add(b"gone")
        return raw, b"full", b"other", b"gone"


class RecordingSinkContractTests(ResponseSinkTestsMixin, SynchronousTestCase):
    """
    L{RecordingSink} records what a handler's sink sends.
    """

    def runningSink(self) -> RecordingSink:
        self.sink = RecordingSink()
        return self.sink

    def delivered(self) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        steering = {"sendWindow", "finished"}
        return (
            [call for call in self.sink.calls if call[0] not in steering],
            [call for call in self.sink.calls if call[0] in steering],
        )


class ReplySinkContractTests(ResponseSinkTestsMixin, SynchronousTestCase):
    """
    The sink a L{FrontLink} (on L{MemorySocket}s, welcomed by a front,
    which then sent it a request) gives its runner sends what
    L{RecordingSink} records.
    """

    def runningSink(self) -> object:
        self.sendSocket, self.returnSocket = MemorySocket(), MemorySocket()
        runner = MemoryRunner()
        link = FrontLink(
            Clock(), runner, self.sendSocket, self.returnSocket, "host:123",
            capacity=2, address="tcp://front:5556",
        )
        self.addCleanup(link.stop)
        link.controlReceived(protocol.encodeWelcome({"front": "front1", "heartbeat": "1.0"}))
        link.controlReceived(protocol.encodeRequest(b"front1.1", requestMeta(), [], []))
        self.sendSocket.clear()
        [run] = runner.runs
        return run.sink

    def delivered(self) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        replies: list[tuple[object, ...]] = []
        for message in self.returnSocket.messages():
            if isinstance(message, protocol.Response):
                head = message.head
                replies.append((
                    "sendHead", head.status, head.reason, list(head.headers),
                    [bytes(chunk) for chunk in message.body], head.more,
                ))
            elif isinstance(message, protocol.Body):
                chunks = [bytes(chunk) for chunk in message.chunks]
                replies.append(("sendBody", chunks, message.end))
            elif isinstance(message, protocol.Error):
                replies.append(("sendError", message.message))
        steering: list[tuple[object, ...]] = []
        for message in self.sendSocket.messages():
            if isinstance(message, protocol.Window):
                steering.append(("sendWindow", message.size))
            elif isinstance(message, protocol.Credit):
                # (The front said nothing of credit_in_reply: each request's
                # credit goes back by CREDIT when it ends.)
                steering.extend([("finished",)] * message.credits)
        return replies, steering


class PausingSinkContractTests(ReplySinkContractTests):
    """
    A L{PausingSink} of a L{FrontLink}'s sink sends what that sink sends
    (called in the test's thread, as the suite calls it: it does not
    pause).
    """

    def runningSink(self) -> PausingSink:
        return PausingSink(cast(_ReplySink, super().runningSink()), b"front1.1")


class RecordingConsumerContractTests(ReplyConsumerTestsMixin, SynchronousTestCase):
    """
    L{RecordingConsumer} records what the front's L{Exchange} gives its
    client.
    """

    handlerId = b"handler-a"

    def setUp(self) -> None:
        self.socket = MemorySocket(router=True)
        self.dispatcher = Dispatcher(Clock(), self.socket, instance="front1")
        self.dispatcher.controlReceived([self.handlerId, *protocol.encodeHello("a", 5)])

    def request(self) -> bytes:
        self.consumer = RecordingConsumer()
        self.consumer.submit(self.dispatcher, requestMeta(), [(b"Host", b"h")], [])
        [request] = [
            message for _peer, message in self.socket.routedMessages()
            if isinstance(message, protocol.Request)
        ]
        return request.requestId

    def outcome(self) -> tuple[int, bytes, str]:
        consumer = self.consumer
        self.assertTrue(consumer.answer.called)
        answer = consumer.answer.result
        if isinstance(answer, Failure):
            # (Handled: the error is the answer.)
            consumer.answer.addErrback(lambda failure: None)
            error = answer.value
            assert isinstance(error, FrontError)
            return error.status, b"", "complete"
        assert isinstance(answer, Reply)
        body = b"".join(bytes(chunk) for chunk in [*answer.body, *consumer.chunks])
        if consumer.aborted:
            return answer.status, body, "aborted"
        if consumer.finished or not answer.more:
            return answer.status, body, "complete"
        return answer.status, body, "coming"


class ExchangeConsumerContractTests(ReplyConsumerTestsMixin, FrontTestCase):
    """
    The front's L{Exchange} gives its client what L{RecordingConsumer}
    records.
    """

    def request(self) -> bytes:
        _channel, self.transport = self.get()
        return self.lastRequest().requestId

    def outcome(self) -> tuple[int, bytes, str]:
        response = ParsedResponse(self.transport.value())
        if self.transport.disconnected:
            return response.code, response.body, "aborted"
        return response.code, response.body, "complete" if response.complete else "coming"


class FakeZmqConnectionContractTests(ZmqConnectionTestsMixin, SynchronousTestCase):
    """
    L{FakeZmqConnection} reads for its socket as the txzmq connection of a
    real one does.
    """

    def readingSocket(
        self, receiver: Callable[[Sequence[Any]], None]
    ) -> tuple[ZmqSocket, FakeZmqConnection, Callable[[list[bytes]], None]]:
        raw = FakeRawSocket(room=10)
        socket, connection = fakeZmqSocket(Clock(), raw, receiver)
        return socket, connection, raw.incoming.append


class FakeThreadContractTests(ThreadTestsMixin, SynchronousTestCase):
    """
    L{FakeThread} runs its target as a L{threading.Thread} does.
    """

    def makeThread(self, target: Callable[[], object], name: str) -> FakeThread:
        return FakeThread(target=target, name=name)


class ScriptedConditionContractTests(ConditionTestsMixin, SynchronousTestCase):
    """
    L{ScriptedCondition} does what a L{threading.Condition} does, the
    other thread's action being the next step of its script.
    """

    def makeCondition(self) -> ScriptedCondition:
        return ScriptedCondition()

    def meanwhile(self, condition: ScriptedCondition, action: Callable[[], object]) -> None:
        condition.steps.append(action)


class LockstepConditionContractTests(ConditionTestsMixin, SynchronousTestCase):
    """
    L{LockstepCondition} does what a L{threading.Condition} does, the other
    thread a L{LockstepThread} that the wait gives a turn.
    """

    def makeCondition(self) -> LockstepCondition:
        self.pool = LockstepPool(1)
        self.pool.start()
        self.addCleanup(self.pool.stop)
        return LockstepCondition(self.pool)

    def meanwhile(self, condition: LockstepCondition, action: Callable[[], object]) -> None:
        self.pool.callInThread(action)


class ClosingIterableContractTests(ResponseIterableTestsMixin, SynchronousTestCase):
    """
    L{ClosingIterable} does what a generator does.
    """

    def makeIterable(self, items: list[bytes]) -> ClosingIterable:
        return ClosingIterable(items)


class GeneratorContractTests(ResponseIterableTestsMixin, SynchronousTestCase):
    """
    A generator (the real side, needing no thread) does what
    L{ClosingIterable} does.
    """

    def makeIterable(self, items: list[bytes]) -> Generator[bytes, None, None]:
        return (item for item in items)


class RecordingFileContractTests(FileReadTestsMixin, SynchronousTestCase):
    """
    L{RecordingFile} reads as an L{io.BytesIO} does.
    """

    def makeFile(self, data: bytes) -> RecordingFile:
        return RecordingFile(data)


class BytesIOContractTests(FileReadTestsMixin, SynchronousTestCase):
    """
    An L{io.BytesIO} (the real side, needing no thread) reads as
    L{RecordingFile} does.
    """

    def makeFile(self, data: bytes) -> io.BytesIO:
        return io.BytesIO(data)


class FakeFileLimitsContractTests(FileLimitsTestsMixin, SynchronousTestCase):
    """
    L{FakeFileLimits} gets and sets limits as the L{resource} module does.
    """

    def makeLimits(self) -> FakeFileLimits:
        return FakeFileLimits(1024, 4096)


class ResourceContractTests(FileLimitsTestsMixin, SynchronousTestCase):
    """
    The L{resource} module (the real side: a system call, no socket or
    thread) gets and sets this process's limits as L{FakeFileLimits} does.
    """

    def makeLimits(self) -> Any:
        before = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, before)
        return resource


class FakeSignalsContractTests(SignalsTestsMixin, SynchronousTestCase):
    """
    L{FakeSignals} sets handlers, masks and a wake-up descriptor as the
    L{signal} module does.
    """

    def makeSignals(self) -> FakeSignals:
        return FakeSignals({signal.SIGUSR2: signal.SIG_DFL})


class SignalModuleContractTests(SignalsTestsMixin, SynchronousTestCase):
    """
    The L{signal} module (the real side: system calls, no socket or thread)
    sets this process's handlers, its main thread's mask and its wake-up
    descriptor as L{FakeSignals} does.
    """

    def makeSignals(self) -> Any:
        handler = signal.getsignal(signal.SIGUSR2)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        fd = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(fd)
        self.addCleanup(signal.signal, signal.SIGUSR2, handler)
        self.addCleanup(signal.pthread_sigmask, signal.SIG_SETMASK, mask)
        self.addCleanup(signal.set_wakeup_fd, fd)
        return signal


class FailingFileContractTests(FullFileTestsMixin, SynchronousTestCase):
    """
    L{FailingFile}, its error a full disk's, fails as a file on a full disk
    does.
    """

    def makeFullFile(self) -> FailingFile:
        f = FailingFile()
        f.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return f


class DevFullContractTests(FullFileTestsMixin, SynchronousTestCase):
    """
    C{/dev/full} (the real side: Linux's full disk) fails as L{FailingFile}
    does.
    """

    if not os.path.exists("/dev/full"):
        skip = "no /dev/full"

    def makeFullFile(self) -> io.TextIOWrapper:
        # Closed by the cleanup, which outlives the test's failed flush.
        f = open("/dev/full", "w")  # noqa: SIM115

        def close() -> None:
            # Closing flushes what the failed flush kept, and fails again.
            try:
                f.close()
            except OSError:
                pass

        self.addCleanup(close)
        return f


class SynchronousThreadPoolContractTests(CallbackThreadPoolTestsMixin, SynchronousTestCase):
    """
    L{SynchronousThreadPool} does what a pool of threads does, the work
    having run by the time it is given.
    """

    def makePool(self) -> SynchronousThreadPool:
        return SynchronousThreadPool()

    def settle(self, pool: SynchronousThreadPool) -> None:
        pass


class HeldThreadPoolContractTests(CallbackThreadPoolTestsMixin, SynchronousTestCase):
    """
    L{SynchronousThreadPool} without C{immediate} does what a pool of
    threads does, the work running when flushed.
    """

    def makePool(self) -> SynchronousThreadPool:
        return SynchronousThreadPool(immediate=False)

    def settle(self, pool: SynchronousThreadPool) -> None:
        pool.flush()


class LockstepPoolContractTests(ThreadPoolTestsMixin, SynchronousTestCase):
    """
    L{LockstepPool}, with one thread, does what a pool of threads does, a
    thread taking the work when the test lets it.
    """

    def makePool(self) -> LockstepPool:
        return LockstepPool(1)

    def settle(self, pool: LockstepPool) -> None:
        # The suite's work never hands the turn back: each runs to its end.
        while pool.startOne():
            pass


class FakeReactorContractTests(
    FakeSide, ReactorCallsTestsMixin, ReactorLifeTestsMixin, SynchronousTestCase
):
    """
    L{FakeReactor} does what a reactor does, the calls from threads running
    when flushed.
    """

    immediate = False

    def setUp(self) -> None:
        self.reactor = FakeReactor(immediate=self.immediate)

    def makeCaller(self) -> FakeReactor:
        self.reactor.run()
        return self.reactor

    def ran(self, d: Deferred[None]) -> Deferred[None]:
        self.reactor.flush()
        return d

    def newReactor(self) -> FakeReactor:
        return FakeReactor(immediate=self.immediate)

    def runReactor(self, reactor: FakeReactor) -> None:
        reactor.run()
        reactor.flush()


class ImmediateFakeReactorContractTests(FakeReactorContractTests):
    """
    L{FakeReactor} with C{immediate} does what a reactor does, the calls
    from threads running at once.
    """

    immediate = True

    def ran(self, d: Deferred[None]) -> Deferred[None]:
        return d


class ReactorCallsOverFakeReactorTests(FakeSide, ReactorCallsTestsMixin, SynchronousTestCase):
    """
    L{ReactorCalls} over a L{FakeReactor} passes the suite its fake passes.
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.reactor.run()

    def makeCaller(self) -> ReactorCalls:
        return ReactorCalls(self.reactor)

    def ran(self, d: Deferred[None]) -> Deferred[None]:
        self.reactor.flush()
        return d


class MemoryRunnerContractTests(RunnerTestsMixin, SynchronousTestCase):
    """
    L{MemoryRunner} sends what L{WSGIRunner} sends, the test answering for
    the application.
    """

    def respond(
        self, sink: RecordingSink, status: int, reason: bytes,
        headers: list[tuple[bytes, bytes]], body: list[bytes], failAfterHead: bool = False,
    ) -> MemoryRun:
        run = MemoryRunner().run(b"r1", requestHead(), [], sink)
        if failAfterHead:
            run.sink.sendHead(status, reason, headers, body, True)
            run.fail("the application failed")
        else:
            run.respond(status, reason, headers, body)
        return run

    def queued(self, sink: RecordingSink) -> MemoryRun:
        return MemoryRunner().run(b"r1", requestHead(), [], sink)

    def threadsFree(self) -> None:
        # (No thread comes to a MemoryRun: the test answers it.)
        pass


def _responding(
    status: int, reason: bytes, headers: list[tuple[bytes, bytes]], body: list[bytes],
    failAfterHead: bool,
) -> Callable[[dict[str, Any], Callable[..., object]], Iterable[bytes]]:
    """
    A WSGI application that responds with C{status}, C{reason}, C{headers}
    and C{body}, and raises after the body if C{failAfterHead}: what
    L{RunnerTestsMixin.respond} asks of a runner.
    """

    def failing() -> Iterator[bytes]:
        yield from body
        raise RuntimeError("the application failed")

    def application(
        environ: dict[str, Any], startResponse: Callable[..., object]
    ) -> Iterable[bytes]:
        startResponse(
            "%d %s" % (status, reason.decode("latin-1")),
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers],
        )
        return failing() if failAfterHead else body

    return application


class WSGIRunnerContractTests(RunnerTestsMixin, SynchronousTestCase):
    """
    L{WSGIRunner}, over L{SynchronousThreadPool} and L{FakeReactor}, sends
    what L{MemoryRunner} sends.
    """

    def respond(
        self, sink: RecordingSink, status: int, reason: bytes,
        headers: list[tuple[bytes, bytes]], body: list[bytes], failAfterHead: bool = False,
    ) -> RunningRequest:
        application = _responding(status, reason, headers, body, failAfterHead)
        reactor = runningReactor()
        running = WSGIRunner(reactor, SynchronousThreadPool(), application).run(
            b"r1", requestHead(), [], sink
        )
        reactor.flush()
        return running

    def queued(self, sink: RecordingSink) -> RunningRequest:
        def application(
            environ: dict[str, Any], startResponse: Callable[..., object]
        ) -> Iterable[bytes]:
            startResponse("200 OK", [])
            return [b"ran"]

        self.reactor = runningReactor()
        self.pool = SynchronousThreadPool(immediate=False)
        return WSGIRunner(self.reactor, self.pool, application).run(
            b"r1", requestHead(), [], sink
        )

    def threadsFree(self) -> None:
        self.pool.flush()
        self.reactor.flush()


class PausingRunnerContractTests(RunnerTestsMixin, SynchronousTestCase):
    """
    A L{PausingRunner} of a L{WSGIRunner} over a L{LockstepPool} and a
    L{FakeReactor} sends what L{MemoryRunner} sends, its threads given turns
    until they end.
    """

    def setUp(self) -> None:
        self.reactor = runningReactor()
        self.pool = LockstepPool(1)
        self.pool.start()
        self.addCleanup(self.pool.stop)

    def runner(self, application: Callable[..., Iterable[bytes]]) -> PausingRunner:
        return PausingRunner(WSGIRunner(
            self.reactor, self.pool, application,
            newCondition=partial(LockstepCondition, self.pool),  # type: ignore[arg-type]
        ))

    def threadsFree(self) -> None:
        moved = 1
        while moved:
            moved = self.reactor.flush() + self.pool.startOne()
            for worker in self.pool.active():
                worker.resume()
                moved += 1

    def respond(
        self, sink: RecordingSink, status: int, reason: bytes,
        headers: list[tuple[bytes, bytes]], body: list[bytes], failAfterHead: bool = False,
    ) -> Any:
        application = _responding(status, reason, headers, body, failAfterHead)
        running = self.runner(application).run(b"r1", requestHead(), [], sink)
        self.threadsFree()
        return running

    def queued(self, sink: RecordingSink) -> Any:
        def application(
            environ: dict[str, Any], startResponse: Callable[..., object]
        ) -> Iterable[bytes]:
            startResponse("200 OK", [])
            return [b"ran"]

        return self.runner(application).run(b"r1", requestHead(), [], sink)


class LockstepTests(SynchronousTestCase):
    """
    L{LockstepPool}'s threads run one at a time, each when the test gives
    it a turn.
    """

    def test_turns(self) -> None:
        """
        Work runs when a thread takes it (L{LockstepPool.startOne}), until
        it pauses, in the state it gives; it goes on, with the command the
        test gives, when resumed; C{current} is the thread, in it.
        """
        seen: list[object] = []

        def work() -> None:
            thread = LockstepThread.current()
            assert thread is not None
            seen.append(thread)
            thread.pause("idle", "about")
            seen.append(thread.command)

        pool = LockstepPool(1)
        pool.callInThread(work)
        self.assertFalse(pool.startOne())
        pool.start()
        self.addCleanup(pool.stop)
        self.assertEqual(seen, [])
        self.assertTrue(pool.startOne())
        [worker] = pool.workers
        self.assertEqual((seen, worker.state, worker.about), ([worker], "idle", "about"))
        self.assertIsNone(LockstepThread.current())
        worker.resume(("go",))
        self.assertEqual((seen[1], worker.state, pool.active()), (("go",), "done", []))

    def test_threads(self) -> None:
        """
        No more than C{threads} threads are in their work at once.
        """
        pool = LockstepPool(1)
        pool.start()
        self.addCleanup(pool.stop)
        for _ in range(2):
            pool.callInThread(lambda: cast(LockstepThread, LockstepThread.current()).pause("idle"))
        self.assertTrue(pool.startOne())
        self.assertFalse(pool.startOne())
        pool.workers[0].resume()
        self.assertTrue(pool.startOne())

    def test_stopAbandons(self) -> None:
        """
        L{LockstepPool.stop} ends each thread in its work with
        L{LockstepAbandoned} where it paused, logging nothing, and drops the
        work no thread took.
        """
        raised: list[BaseException] = []
        ran: list[int] = []

        def work() -> None:
            try:
                cast(LockstepThread, LockstepThread.current()).pause("idle")
            except BaseException as e:
                raised.append(e)
                raise

        pool = LockstepPool(1)
        pool.start()
        pool.callInThread(work)
        pool.callInThread(ran.append, 1)
        pool.startOne()
        pool.stop()
        self.assertEqual([type(e) for e in raised], [LockstepAbandoned])
        self.assertEqual((pool.active(), pool.queue, ran, pool.started), ([], [], [], False))
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_pausingSink(self) -> None:
        """
        A call to a L{PausingSink} from a L{LockstepThread} hands the turn
        back first, the thread's state C{"sending"} and its C{about} the
        request's id; the sink hears it once the thread is resumed.
        """
        sink = RecordingSink()
        pausing = PausingSink(sink, b"r1")
        pool = LockstepPool(1)
        pool.start()
        self.addCleanup(pool.stop)
        pool.callInThread(pausing.sendWindow, 5)
        pool.startOne()
        [worker] = pool.workers
        self.assertEqual((worker.state, worker.about, sink.calls), ("sending", b"r1", []))
        worker.resume()
        self.assertEqual((worker.state, sink.calls), ("done", [("sendWindow", 5)]))


class FakePortContractTests(ListeningPortTestsMixin, SynchronousTestCase):
    """
    L{FakePort} accepts when a listening port of Twisted's does.
    """

    def makePort(self) -> FakePort:
        return FakePort()

    def accepting(self, port: FakePort) -> bool:
        return port.accepting


class FakeTCPPortContractTests(BatchingPortTestsMixin, SynchronousTestCase):
    """
    L{FakeTCPPort} accepts, and in batches of the size, that a C{tcp.Port}
    does.
    """

    def makePort(self) -> FakeTCPPort:
        return FakeTCPPort()

    def accepting(self, port: FakeTCPPort) -> bool:
        return port.accepting

    def acceptBatch(self, port: FakeTCPPort, waiting: int) -> None:
        self.assertEqual(port.acceptBatch(waiting), min(waiting, port.numberAccepts))


class TCPStringTransportContractTests(TCPTransportTestsMixin, SynchronousTestCase):
    """
    L{TCPStringTransport} keeps the options, and the connection open, as a
    C{tcp.Server} does.
    """

    def makeTransport(self) -> TCPStringTransport:
        return TCPStringTransport()

    def test_fullWhileNotRead(self) -> None:
        """
        Once its client stops reading, the next write pauses the producer
        (not before: nothing is held), once; once it reads again, the
        producer resumes.
        """
        transport = self.makeTransport()
        calls: list[str] = []
        transport.registerProducer(types.SimpleNamespace(
            pauseProducing=lambda: calls.append("pause"),
            resumeProducing=lambda: calls.append("resume"),
        ), True)
        transport.stopReading()
        self.assertEqual(calls, [])
        transport.write(b"a")
        transport.write(b"b")
        self.assertEqual((calls, transport.full), (["pause"], True))
        transport.readAgain()
        self.assertEqual((calls, transport.full), (["pause", "resume"], False))
        transport.write(b"c")
        self.assertEqual(calls, ["pause", "resume"])

    def test_recorded(self) -> None:
        """
        It records what each write wrote, and the closing of its writing
        half.
        """
        transport = self.makeTransport()
        transport.write(b"ab")
        transport.writeSequence([b"c", b"d"])
        transport.loseWriteConnection()
        self.assertEqual((transport.writes, transport.value()), ([b"ab", b"cd"], b"abcd"))
        self.assertTrue(transport.writeClosed)


class FinishedRequestContractTests(LoggedRequestTestsMixin, SynchronousTestCase):
    """
    L{FinishedRequest} gives an access log what a request does.
    """

    def loggedRequest(self, fields: list[tuple[bytes, bytes]]) -> FinishedRequest:
        request = FinishedRequest()
        request.clientproto = b"HTTP/1.1"
        for name, value in fields:
            request.requestHeaders.addRawHeader(name, value)
        return request


class ExchangeContractTests(LoggedRequestTestsMixin, FrontTestCase):
    """
    A request the front passed to a handler (an L{Exchange}), answered,
    gives an access log what L{FinishedRequest} does.
    """

    def loggedRequest(self, fields: list[tuple[bytes, bytes]]) -> Exchange:
        done: list[Exchange] = []
        self.patch(self.site, "requestDone", done.append)
        self.sendRequest(httpHead(*[name + b": " + value for name, value in fields]))
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        [exchange] = done
        return exchange


class RefusalContractTests(LoggedRequestTestsMixin, SynchronousTestCase):
    """
    A request the front answered itself (L{Refusal}) gives an access log
    what L{FinishedRequest} does.
    """

    def loggedRequest(self, fields: list[tuple[bytes, bytes]]) -> Refusal:
        head = RequestHead(HTTPRules())
        head.requestLine(b"GET / HTTP/1.1")
        for name, value in fields:
            head.fieldLine(name + b": " + value)
        head.end()
        return Refusal(400, head, "192.0.2.7")


class FakeTwistdOptionsContractTests(TwistdOptionsTestsMixin, SynchronousTestCase):
    """
    L{FakeTwistdOptions} is to a tap's options what twistd's are.
    """

    def makeTwistdOptions(self, subCommand: str, **options: object) -> FakeTwistdOptions:
        return FakeTwistdOptions(subCommand, **options)


class ServerOptionsContractTests(TwistdOptionsTestsMixin, SynchronousTestCase):
    """
    twistd's own options (the real side: its C{ServerOptions} parsing a
    command line, which needs no process) are to the subcommand's what
    L{FakeTwistdOptions} is.
    """

    def makeTwistdOptions(self, subCommand: str, **options: object) -> ServerOptions:
        twistd = ServerOptions()
        # The plugin twistd finds for the subcommand, its options a plain
        # usage.Options: a tap's own would set up this process's logging.
        plugin = ServiceMaker(subCommand, "twisted.python.usage", "", subCommand)
        self.patch(twistd, "_getPlugins", lambda interface: [plugin])
        twistd.parseOptions([
            *(f"--{name}" if value is True else f"--{name}={value}"
              for name, value in options.items()),
            subCommand,
        ])
        return twistd


class SignatureTests(SynchronousTestCase):
    """
    Each fake's methods take what the real thing's take.
    """

    def test_signatures(self) -> None:
        """
        Each fake's methods have the parameters of those of the real class
        it stands for (and its attributes are attributes there too): the
        front's parts an L{Exchange} talks to (L{Dispatcher},
        L{FrontFactory}, L{FrontConnection}, L{Reply}, a TCP transport, a
        finished L{Request}); ZeroMQ's (L{ZmqContext}, L{ZmqSocket}, its
        txzmq connection, a C{zmq.Socket}, whose C{send} the contract
        L{RawSocketTestsMixin} checks); threads (L{threading.Thread},
        L{threading.Condition}, L{WorkerPool} and Twisted's L{ThreadPool});
        a spawned L{Process}; the handler's (L{WSGIRunner},
        L{RunningRequest}, its sink, a file).  (L{FakeReactor}'s
        C{spawnProcess} is checked against L{IReactorProcess} by
        L{FakeReactorTests.test_interfaces}; a response iterable's C{close}
        by L{ResponseIterableTestsMixin}; L{RecordingFile}'s C{read} by
        L{FileReadTestsMixin}, as C{BytesIO.read} is built in, with
        another signature on PyPy than on CPython.)
        """
        for fake, real, names in [
            (
                TCPStringTransport,
                tcp.Server,
                "setTcpNoDelay getTcpNoDelay setTcpKeepAlive getTcpKeepAlive "
                "loseWriteConnection",
            ),
            (FakePort, tcp.Port, "pauseProducing resumeProducing stopProducing"),
            (FinishedRequest, Request, "code sentLength"),
            (FakeRawSocket, zmq.Socket, "getsockopt"),
            (FakeZmqConnection, _Connection, "doRead shutdown"),
            (FakeThread, threading.Thread, "start join"),
            (ScriptedCondition, threading.Condition, "__enter__ __exit__ wait notify_all"),
            (CountingCondition, threading.Condition, "__enter__ notify_all"),
            (FakeProcess, Process, "signalProcess"),
            (MemoryNetwork, ZmqContext, "socket shutdown"),
            (
                MemorySocket,
                ZmqSocket,
                "bind connect disconnect curveClient monitorHandshakes send sendSoon close "
                "backlog lingerOnClose",
            ),
            (SynchronousThreadPool, WorkerPool, "start stop callInThread"),
            (LockstepPool, WorkerPool, "start stop callInThread"),
            (LockstepCondition, threading.Condition, "__enter__ __exit__ wait notify notify_all"),
            (PausingRunner, WSGIRunner, "run"),
            (PausingSink, _ReplySink, "sendHead sendBody sendError sendWindow finished"),
            (SynchronousThreadPool, ThreadPool, "callInThreadWithCallback"),
            (MemoryRunner, WSGIRunner, "run"),
            (MemoryRun, RunningRequest, "cancel bodyReceived windowReceived logId"),
            (RecordingSink, _ReplySink, "sendHead sendBody sendError sendWindow finished"),
            (RecordingConsumer, Exchange, "replyReceived requestFailed clientTaking"),
            (RecordingConsumer, Exchange, "writeBody finishBody abortBody"),
        ]:
            self.assertEqual(signatureDifferences(fake, real, names.split()), [], fake)

    def test_differences(self) -> None:
        """
        L{signatureDifferences} names the methods that differ or are
        missing, and a method that is a plain attribute on the other side;
        a plain attribute on both sides is no difference.
        """

        class Real:
            def same(self, a: int, b: int = 1) -> None: ...

            def other(self, a: int) -> None: ...

            @property
            def value(self) -> int:
                return 1

        class StandIn:
            def same(self, a: str, b: int = 1) -> None: ...

            def other(self, b: int) -> None: ...

            value = 1
            code = 1

            def attribute(self) -> None: ...

        Real.code = 2  # type: ignore[attr-defined]
        Real.attribute = 3  # type: ignore[attr-defined]
        self.assertEqual(
            [line.split(":")[0] for line in signatureDifferences(
                StandIn, Real, ["same", "other", "value", "missing", "code", "attribute"]
            )],
            ["other", "value", "missing", "attribute"],
        )


class SynchronousThreadPoolTests(SynchronousTestCase):
    """
    What only L{SynchronousThreadPool} does.
    """

    def test_held(self) -> None:
        """
        Without C{immediate}, the work waits in C{pending} until C{flush},
        which runs it, and the work it gives, and says how much it ran.
        """
        calls: list[int] = []
        pool = SynchronousThreadPool(immediate=False)
        pool.callInThread(lambda: pool.callInThread(calls.append, 2))
        pool.callInThread(calls.append, 1)
        self.assertEqual((calls, len(pool.pending)), ([], 2))
        self.assertEqual(pool.flush(), 3)
        self.assertEqual((calls, pool.pending), ([1, 2], []))

    def test_divide(self) -> None:
        """
        L{SynchronousThreadPool.divide} gives as many lanes as asked, each
        of them the pool, as it has no threads to set apart; work given to
        them waits with the pool's, in order.
        """
        calls: list[int] = []
        pool = SynchronousThreadPool(immediate=False)
        lanes = pool.divide(2)
        self.assertEqual(lanes, [pool, pool])
        lanes[1].callInThread(calls.append, 1)
        lanes[0].callInThread(calls.append, 2)
        pool.flush()
        self.assertEqual(calls, [1, 2])

    def test_deferToThreadPool(self) -> None:
        """
        With L{FakeReactor}, the pool serves L{deferToThreadPool}: the
        result arrives when the reactor is flushed.
        """
        reactor = runningReactor()
        d = deferToThreadPool(
            reactor, SynchronousThreadPool(), lambda: "done"  # type: ignore[arg-type]
        )
        self.assertNoResult(d)
        reactor.flush()
        self.assertEqual(self.successResultOf(d), "done")


class FakeReactorTests(SynchronousTestCase):
    """
    What only L{FakeReactor} does.
    """

    def test_interfaces(self) -> None:
        """
        It provides L{IReactorFromThreads} and what a handler's services
        take (L{IHandlerReactor}: a test gives it to them as it is), and
        every interface it claims in full.
        """
        reactor = FakeReactor()
        interfaces = list(providedBy(reactor))
        self.assertIn("IReactorFromThreads", [i.__name__ for i in interfaces])
        self.assertTrue(IHandlerReactor.providedBy(reactor))
        for interface in interfaces:
            self.assertTrue(verifyObject(interface, reactor), interface)

    def test_queued(self) -> None:
        """
        C{callFromThread} runs nothing; C{flush} runs the calls in order,
        with their arguments, and those they queue, and says how many.
        """
        reactor = runningReactor()
        calls: list[tuple[Any, ...]] = []
        reactor.callFromThread(calls.append, (1,))
        reactor.callFromThread(
            lambda: reactor.callFromThread(lambda **kw: calls.append((2, kw)), x=3)
        )
        self.assertEqual(calls, [])
        self.assertEqual(len(reactor.pending), 2)
        self.assertEqual(reactor.flush(), 3)
        self.assertEqual(calls, [(1,), (2, {"x": 3})])
        self.assertEqual(reactor.pending, [])
        self.assertEqual(reactor.flush(), 0)

    def test_failureLogged(self) -> None:
        """
        A call that raises is logged, and the next ones still run.
        """
        reactor = runningReactor()
        calls: list[int] = []
        reactor.callFromThread(lambda: 1 // 0)
        reactor.callFromThread(calls.append, 1)
        self.assertEqual(reactor.flush(), 2)
        self.assertEqual(calls, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_immediate(self) -> None:
        """
        With C{immediate}, a call runs before C{callFromThread} returns;
        one it makes runs after it, as the reactor runs calls one at a
        time.
        """
        reactor = runningReactor(immediate=True)
        calls: list[str] = []

        def first() -> None:
            reactor.callFromThread(calls.append, "second")
            calls.append("first")

        reactor.callFromThread(first)
        self.assertEqual((calls, reactor.pending), (["first", "second"], []))

    def test_heldUntilRun(self) -> None:
        """
        Before L{FakeReactor.run}, a flush runs no call from a thread, nor
        does C{immediate}: they wait for the reactor to run, then run (with
        C{immediate}, as it starts).
        """
        for immediate in (False, True):
            reactor = FakeReactor(immediate=immediate)
            calls: list[int] = []
            reactor.callFromThread(calls.append, 1)
            self.assertEqual((reactor.flush(), calls), (0, []))
            reactor.run()
            if not immediate:
                self.assertEqual(reactor.flush(), 1)
            self.assertEqual((calls, reactor.pending), ([1], []))

    def test_notRunningBeforeRun(self) -> None:
        """
        Made, it is not running; C{callWhenRunning} waits for
        L{FakeReactor.run}, which makes the calls as it starts, the
        reactor running, and returns with it running.
        """
        reactor = FakeReactor()
        calls: list[bool] = []
        reactor.callWhenRunning(lambda: calls.append(reactor.running))
        self.assertEqual((reactor.running, reactor.hasRun, calls), (False, False, []))
        reactor.run()
        self.assertEqual((reactor.running, reactor.hasRun, calls), (True, True, [True]))
        self.assertRaises(ReactorAlreadyRunning, reactor.run)

    def test_shutdownAtNextIteration(self) -> None:
        """
        Stopped, it still runs, as a real reactor does until its next
        iteration: the C{shutdown} event fires at the end of the next
        C{flush} or C{advance}, after the calls and timed calls due.
        """
        for iterate in ("flush", "advance"):
            reactor = runningReactor()
            events: list[str] = []
            reactor.callFromThread(events.append, "call")
            reactor.callLater(0, events.append, "timed")
            reactor.addSystemEventTrigger("after", "shutdown", events.append, "after")
            reactor.stop()
            self.assertTrue(reactor.hasStopped)
            self.assertTrue(reactor.running)
            self.assertEqual(events, [])
            if iterate == "flush":
                reactor.flush()
                self.assertEqual(events, ["call", "after"])
            else:
                reactor.advance(0)
                self.assertEqual(events, ["timed", "after"])
            self.assertFalse(reactor.running)

    def test_triggerFailureLogged(self) -> None:
        """
        A system event trigger that raises is logged, and the next ones
        still run.
        """
        reactor = FakeReactor()
        calls: list[int] = []
        reactor.callWhenRunning(lambda: 1 // 0)
        reactor.callWhenRunning(calls.append, 1)
        reactor.run()
        self.assertEqual(calls, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class FakeThreadTests(SynchronousTestCase):
    """
    What only L{FakeThread} does.
    """

    def test_runsWhenJoined(self) -> None:
        """
        C{start} runs nothing; C{join} runs the target, in the joining
        thread.
        """
        calls: list[int] = []
        thread = FakeThread(target=lambda: calls.append(1), name="t")
        thread.start()
        self.assertEqual((calls, thread.started, thread.joined), ([], True, False))
        thread.join()
        self.assertEqual((calls, thread.joined), ([1], True))


class ConditionFakesTests(SynchronousTestCase):
    """
    What only L{ScriptedCondition} and L{CountingCondition} do.
    """

    def test_scriptedCounts(self) -> None:
        """
        L{ScriptedCondition} runs a step per C{wait}, in order, and counts
        waits and notifications.
        """
        calls: list[int] = []
        condition = ScriptedCondition(lambda: calls.append(1), lambda: calls.append(2))
        with condition:
            condition.wait()
            condition.notify_all()
            condition.wait()
        self.assertEqual((calls, condition.waits, condition.notifies), ([1, 2], 2, 1))

    def test_countingCounts(self) -> None:
        """
        L{CountingCondition} counts how often it is entered and notified.
        """
        condition = CountingCondition()
        with condition:
            condition.notify_all()
        with condition:
            pass
        self.assertEqual((condition.entered, condition.notified), (2, 1))


class FakeProcessContractTests(FakeSide, ProcessTestsMixin, SynchronousTestCase):
    """
    L{FakeProcess} behaves as a process the reactor spawns does.
    """

    def spawn(self, protocol: ProcessProtocol) -> FakeProcess:
        return cast(FakeProcess, FakeReactor().spawnProcess(protocol, "/bin/x", ["x"]))

    def killed(self, process: FakeProcess) -> None:
        process.exit(Failure(ProcessTerminated(signal=signal.SIGKILL)))


class FakeTwistdOptionsTests(SynchronousTestCase):
    """
    What only L{FakeTwistdOptions} does.
    """

    def test_onlyTwistds(self) -> None:
        """
        It takes only the options twistd has, and the status pipe its runner
        adds once daemonized: a test cannot give a tap a parent holding what
        twistd's never holds.
        """
        error = self.assertRaises(KeyError, FakeTwistdOptions, "mpfront", rundri="/srv")
        self.assertIn("rundri", str(error))
        self.assertEqual(FakeTwistdOptions(statusPipe=3)["statusPipe"], 3)
        self.assertEqual(FakeTwistdOptions().subCommand, "mpfront")


class FakeProcessTests(SynchronousTestCase):
    """
    L{FakeReactor.spawnProcess} and L{FakeProcess}.
    """

    def test_spawned(self) -> None:
        """
        A spawned process is recorded with its arguments, not run; its
        protocol is connected to a L{FakeProcess}, which records signals.
        """
        reactor = FakeReactor()
        protocol = ProcessProtocol()
        reactor.spawnProcess(protocol, "/bin/x", ["x", "--y"])
        [(args, process)] = reactor.spawned
        self.assertEqual(args, ["x", "--y"])
        self.assertIs(protocol.transport, process)
        process.signalProcess("TERM")
        self.assertEqual(process.signals, ["TERM"])

    def test_exitedNotEnded(self) -> None:
        """
        A process that exits with its output still open (held by a child
        of its) tells its protocol it exited, not that it ended; it has no
        PID.
        """
        reactor = FakeReactor()
        told: list[str] = []

        class Told(ProcessProtocol):
            def processExited(self, reason: Failure) -> None:
                told.append("exited")

            def processEnded(self, reason: Failure) -> None:
                told.append("ended")

        reactor.spawnProcess(Told(), "/bin/x", ["x"])
        [(_, process)] = reactor.spawned
        process.exit(Failure(ProcessDone(0)), outputClosed=False)
        self.assertEqual((told, process.pid), (["exited"], None))


def testSources() -> list[tuple[str, str]]:
    """
    The modules under C{txmp/test} and C{tests/} (the system tests, with
    their harness and applications, where the source tree has them): each
    module's path from the source tree's root (C{"tests/apps/slow.py"}) and
    its source.
    """
    root = FilePath(txmp.__file__).parent().parent()
    found: list[tuple[str, str]] = []
    for top in (root.descendant(["txmp", "test"]), root.child("tests")):
        if top.isdir():
            found.extend(
                ("/".join(module.segmentsFrom(root)), module.getContent().decode("utf-8"))
                for module in top.walk()
                if module.path.endswith(".py")
            )
    return found


def insideFunctions(source: str, kinds: tuple[type[_Node], ...]) -> list[_Node]:
    """
    The statements of the types C{kinds} inside a function or method of
    C{source} (at any depth), in order.
    """
    found: list[_Node] = []

    def visit(node: ast.AST, inFunction: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if inFunction and isinstance(child, kinds):
                found.append(child)
            visit(child, inFunction or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(source), False)
    return found


def classesMadeTwice(sources: Iterable[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """
    The classes made inside functions of the modules C{sources} (each its
    path and its source) that another such class copies: one of the same
    module has the same name, or one of any module the same bases,
    decorators and body, under any name.  Each class of a copy is given, as
    C{(path, line, name)}.
    """
    made = [
        (relative, node, tuple(
            ast.dump(part)
            for part in [*node.bases, *node.keywords, *node.decorator_list, *node.body]
        ))
        for relative, source in sources
        for node in insideFunctions(source, (ast.ClassDef,))
    ]
    names = Counter((relative, node.name) for relative, node, _ in made)
    shapes = Counter(shape for _, _, shape in made)
    return [
        (relative, node.lineno, node.name)
        for relative, node, shape in made
        if names[relative, node.name] > 1 or shapes[shape] > 1
    ]


_FAKE_NAME = re.compile(r"_*(Fake|Recording|Stub|Dummy|Memory|Null)")

# Classes of the test modules that match the rule but are not fakes.
_NOT_FAKES = {
    # The fake's side of a shared suite, a mixin of txmp.test.contracts.
    ("txmp/test/contracts.py", "FakeSide"),
    # A real HTTP client over real TCP for the system tests, which records
    # what it reads: it stands in for nothing.
    ("tests/_harness/clients.py", "RecordingConnection"),
}


# Classes at the top level of the unit tests' modules that are neither test
# cases nor suites, and stand for nothing.
_NOT_TESTS = {
    # The two sides of a shared suite (txmp.test.contracts).
    ("contracts.py", "FakeSide"),
    ("contracts.py", "RealSide"),
    # The two ends of a real TCP or UNIX connection.
    ("test_eager.py", "_Server"),
    ("test_eager.py", "_Client"),
    # The real AccessLog, counting its close calls.
    ("test_front.py", "_CountedAccessLog"),
    # Reads the lines of a real twistd process.
    ("test_integration.py", "_Lines"),
    # The test itself: a hypothesis state machine, which makes its TestCase.
    ("test_linkstate.py", "LinkMachine"),
    ("test_lossstate.py", "LossMachine"),
    ("test_frontstate.py", "FrontMachine"),
    # The front's state machine's model of what a handler and a client
    # hold: no class of txmp's, nor of Twisted's, that they stand for.
    ("test_frontstate.py", "_Held"),
    ("test_frontstate.py", "_Handler"),
    ("test_frontstate.py", "_Client"),
    # The response oracle's model: what an application answers, what the
    # handler sends of it, and what h11's client read.
    ("test_responseoracle.py", "_Answer"),
    ("test_responseoracle.py", "_Outcome"),
    ("test_responseoracle.py", "_Read"),
}


def fakesDefined(source: str) -> list[str]:
    """
    The names of the classes defined in C{source}, at any depth, that look
    like fakes: named C{Fake...}, C{Recording...}, C{Stub...},
    C{Dummy...}, C{Memory...} or C{Null...} (with or without leading
    underscores), but for test cases and suites (C{...Tests},
    C{...TestCase}, C{...Mixin}).
    """
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
        and _FAKE_NAME.match(node.name)
        and not node.name.endswith(("Tests", "TestCase", "Mixin"))
    ]


class NoFakesInTestsTests(SynchronousTestCase):
    """
    Fakes live in L{txmp.testing}, checked against the real things, and
    nowhere else.
    """

    def test_noFakeInTests(self) -> None:
        """
        No module under C{txmp/test} or C{tests/} (the system tests, with
        their harness and applications, where the source tree has them)
        defines a class named as a fake (see L{fakesDefined}).  The
        exceptions, in C{_NOT_FAKES}, are classes so named that stand for
        nothing: the fake's side of a shared suite (C{FakeSide}) and the
        system tests' recording HTTP client (C{RecordingConnection}).
        """
        found = [
            (relative, name)
            for relative, source in testSources()
            for name in fakesDefined(source)
            if (relative, name) not in _NOT_FAKES
        ]
        self.assertEqual(found, [])

    def test_unitTestModulesDefineTests(self) -> None:
        """
        A module under C{txmp/test} defines, at its top level, test cases
        and suites (C{...Tests}, C{...TestCase}, C{...Mixin}), and no other
        class but those in C{_NOT_TESTS}, which stand for nothing: so a
        fake named otherwise than L{fakesDefined} looks for is found too.
        (A class made inside one test, for it alone, is that test's: see
        L{test_noClassMadeTwice}.)
        """
        directory = FilePath(txmp.__file__).parent().child("test")
        found = [
            (module.basename(), node.name)
            for module in directory.globChildren("*.py")
            for node in ast.parse(module.getContent().decode("utf-8")).body
            if isinstance(node, ast.ClassDef)
            and not node.name.endswith(("Tests", "TestCase", "Mixin"))
            and (module.basename(), node.name) not in _NOT_TESTS
        ]
        self.assertEqual(found, [])

    def test_noClassMadeTwice(self) -> None:
        """
        No class made inside a function of a module under C{txmp/test} or
        C{tests/} is made again, in another function or test (see
        L{classesMadeTwice}): made for one test alone it is that test's,
        but one that several tests make, whatever its name, is a fake that
        belongs in L{txmp.testing}, checked against the real thing.
        """
        self.assertEqual(classesMadeTwice(testSources()), [])

    def test_madeTwiceRule(self) -> None:
        """
        L{classesMadeTwice} finds classes made inside functions under one
        name in one module, or with the same bases and body in any; not
        classes made once, nor those at the top of a module, nor those of
        one name in two modules that are not the same.
        """
        first = (
            "class Top: pass\n"
            "def a():\n"
            "    class Parent(dict):\n"
            "        subCommand = 'mpfront'\n"
            "    class Once(Base):\n"
            "        x = 1\n"
            "def b():\n"
            "    class Parent(dict):\n"
            "        subCommand = 'mphandler'\n"
            "    class Other(Base):\n"
            "        x = 2\n"
            "class CaseTests:\n"
            "    def test_c(self):\n"
            "        def inner():\n"
            "            class Refusing(Service):\n"
            "                def startService(self): raise SystemExit('no')\n"
            "    def test_d(self):\n"
            "        class Top: pass\n"
        )
        second = (
            "def e():\n"
            "    class Stand(Service):\n"
            "        def startService(self): raise SystemExit('no')\n"
            "    class Once(Base):\n"
            "        x = 3\n"
        )
        self.assertEqual(
            classesMadeTwice([("first.py", first), ("second.py", second)]),
            [("first.py", 3, "Parent"), ("first.py", 8, "Parent"), ("first.py", 15, "Refusing"),
             ("second.py", 2, "Stand")],
        )

    def test_rule(self) -> None:
        """
        L{fakesDefined} finds classes named as fakes, nested ones too, and
        not test cases, suites or other classes.
        """
        source = (
            "class FakeThing: pass\n"
            "class _RecordingReply: pass\n"
            "class Helper:\n"
            "    class NullConsumer: pass\n"
            "def f():\n"
            "    class StubClock: pass\n"
            "class DummyApp: pass\n"
            "class MemoryStore: pass\n"
            "class MemorySocketTests: pass\n"
            "class FakeTestCase: pass\n"
            "class FakeSuiteMixin: pass\n"
            "class Recorder: pass\n"
        )
        self.assertEqual(
            sorted(fakesDefined(source)),
            ["DummyApp", "FakeThing", "MemoryStore", "NullConsumer", "StubClock",
             "_RecordingReply"],
        )


# A test module: a module test_... of the unit tests or the system tests.
_TEST_MODULE = re.compile(r"(txmp\.test|tests)\.test_\w+\Z")


def testModulesImported(package: str, source: str) -> list[str]:
    """
    The test modules (C{txmp.test.test_...}, C{tests.test_...}) that
    C{source}, a module of C{package}, imports, at its top or in a
    function, by an absolute or a relative import.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.extend(name for name in names if _TEST_MODULE.match(name))
    return found


class TestModulesApartTests(SynchronousTestCase):
    """
    Test modules import no other test module: what tests share is in
    L{txmp.testing}, L{txmp.test.contracts}, L{txmp.test.services},
    L{txmp.test.sourcetree} or the system tests' C{tests/_harness}.
    """

    def test_noTestModuleImported(self) -> None:
        """
        No module under C{txmp/test} or C{tests/} (where the source tree has
        them) imports a test module (see L{testModulesImported}).
        """
        found = [
            (relative, name)
            for relative, source in testSources()
            for name in testModulesImported(
                relative.rpartition("/")[0].replace("/", "."), source
            )
        ]
        self.assertEqual(found, [])

    def test_rule(self) -> None:
        """
        L{testModulesImported} finds test modules imported absolutely or
        relatively, whole or for a name, in a function too; not the
        modules that tests share, nor a name that begins with C{test_}.
        """
        source = (
            "import txmp.test.test_a\n"
            "from txmp.test.test_b import helper\n"
            "from txmp.test import test_c, contracts\n"
            "from .test_d import helper\n"
            "from . import test_e\n"
            "def f():\n"
            "    from tests.test_f import g\n"
            "from txmp.test.contracts import test_shared\n"
            "from txmp.testing import FakeReactor\n"
            "from ._harness import SystemTestCase\n"
            "import test_elsewhere\n"
        )
        self.assertEqual(
            sorted(testModulesImported("tests", source)),
            ["tests.test_d", "tests.test_e", "tests.test_f", "txmp.test.test_a",
             "txmp.test.test_b", "txmp.test.test_c"],
        )
        self.assertEqual(
            testModulesImported("txmp.test", "from .test_g import h\n"), ["txmp.test.test_g"]
        )


# What a comment says to a linter or a type checker alone: no reason.
_TOOL_COMMENT = re.compile(r"(noqa|type:|pragma:|fmt:)")


def importsWithoutReason(source: str) -> list[tuple[int, str]]:
    """
    The imports inside a function of C{source} that say nothing of why they
    are there, as C{(line, statement)}: one gives its reason in a comment on
    its line, or just above it (above the imports it follows, for a run of
    them), as the package's own do.  A comment that only speaks to a tool
    (C{# noqa: F401}, C{# type: ignore[...]}) gives none.
    """
    reasons = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and any(
            part.strip() and not _TOOL_COMMENT.match(part.strip())
            for part in token.string.split("#")
        ):
            reasons.add(token.start[0])
    lines = source.splitlines()
    inner = insideFunctions(source, (ast.Import, ast.ImportFrom))
    importLines = {
        line for node in inner for line in range(node.lineno, (node.end_lineno or 0) + 1)
    }
    found = []
    for node in inner:
        explained = not reasons.isdisjoint(range(node.lineno, (node.end_lineno or 0) + 1))
        above = node.lineno - 1
        while not explained and above in importLines:
            above -= 1
        if not explained and above in reasons:
            explained = lines[above - 1].lstrip().startswith("#")
        if not explained:
            found.append((node.lineno, ast.unparse(node)))
    return found


class InnerImportsTests(SynchronousTestCase):
    """
    The tests import at their modules' tops, as the package does, but for
    an import that must wait (for a patch, for the reactor it would install)
    or may fail (an optional dependency), which says why in a comment.
    """

    def test_reasonGiven(self) -> None:
        """
        No module under C{txmp/test} or C{tests/} (where the source tree has
        them) has an import inside a function without a reason (see
        L{importsWithoutReason}).
        """
        found = [
            f"{relative}:{line}: {statement}"
            for relative, source in testSources()
            for line, statement in importsWithoutReason(source)
        ]
        self.assertEqual(found, [])

    def test_rule(self) -> None:
        """
        L{importsWithoutReason} finds the imports inside functions, methods
        and nested functions that have no comment on their line or just
        above them, or only one for a tool; not those at the top or in a
        class body, nor those a comment explains, on their line or above
        them or above the imports they follow.
        """
        source = (
            "import os  # 1\n"
            "def a():\n"
            "    import b\n"
            "def c():\n"
            "    # Installs the global reactor.\n"
            "    import d\n"
            "    from e import (\n"
            "        f,\n"
            "    )\n"
            "    from g import h\n"
            "def i():\n"
            "    import j  # (Not at the top: j imports this module.)\n"
            "    import k  # noqa: F401\n"
            "    import l  # type: ignore[import]  # An optional one.\n"
            "class M:\n"
            "    import n\n"
            "    def o(self):\n"
            "        def p():\n"
            "            import q\n"
            "        # About r.\n"
            "        r = 1\n"
            "        import s\n"
            "        # About t.\n"
            "\n"
            "        import t\n"
            "        x = '# not a comment'; import u\n"
            "async def v():\n"
            "    import w\n"
        )
        self.assertEqual(
            importsWithoutReason(source),
            [(3, "import b"), (13, "import k"), (19, "import q"), (22, "import s"),
             (25, "import t"), (26, "import u"), (28, "import w")],
        )
