# -*- test-case-name: txmp.test.test_testing -*-
"""
Tests for L{txmp.testing}: each fake against the suite it shares with the
real thing it stands for (L{txmp.test.contracts}; the real side of the
suites that need sockets, threads or the reactor is in
L{txmp.test.test_integration}), and what only the fakes do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import providedBy
from zope.interface.verify import verifyObject

from txmp._front import Exchange
from txmp._handler import _ReplySink
from txmp._interfaces import IHandlerReactor
from txmp._pool import ReactorCalls, WorkerPool
from txmp._wsgi import RunningRequest, WSGIRunner
from txmp._zmq import ZmqContext, ZmqSocket
from txmp.test.contracts import (
    CallbackThreadPoolTestsMixin,
    FakeSide,
    ReactorCallsTestsMixin,
    ReactorStopTestsMixin,
    RunnerTestsMixin,
    ZmqContextTestsMixin,
    signatureDifferences,
)
from txmp.testing import (
    FakeReactor,
    MemoryNetwork,
    MemoryRun,
    MemoryRunner,
    MemorySocket,
    RecordingConsumer,
    RecordingSink,
    SynchronousThreadPool,
    requestHead,
)

_addresses = itertools.count()


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


class FakeReactorContractTests(
    FakeSide, ReactorCallsTestsMixin, ReactorStopTestsMixin, SynchronousTestCase
):
    """
    L{FakeReactor} does what a reactor does, the calls from threads running
    when flushed.
    """

    immediate = False

    def setUp(self) -> None:
        self.reactor = FakeReactor(immediate=self.immediate)

    def makeCaller(self) -> FakeReactor:
        return self.reactor

    def ran(self, d: Deferred[None]) -> Deferred[None]:
        self.reactor.flush()
        return d

    def stoppedReactor(self) -> FakeReactor:
        # MemoryReactorClock.run returns stopped.
        self.reactor.run()
        return self.reactor


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


class WSGIRunnerContractTests(RunnerTestsMixin, SynchronousTestCase):
    """
    L{WSGIRunner}, over L{SynchronousThreadPool} and L{FakeReactor}, sends
    what L{MemoryRunner} sends.
    """

    def respond(
        self, sink: RecordingSink, status: int, reason: bytes,
        headers: list[tuple[bytes, bytes]], body: list[bytes], failAfterHead: bool = False,
    ) -> RunningRequest:
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

        reactor = FakeReactor()
        running = WSGIRunner(reactor, SynchronousThreadPool(), application).run(
            b"r1", requestHead(), [], sink
        )
        reactor.flush()
        return running


class SignatureTests(SynchronousTestCase):
    """
    Each fake's methods take what the real thing's take.
    """

    def test_signatures(self) -> None:
        """
        The methods of L{MemoryNetwork}, L{MemorySocket},
        L{SynchronousThreadPool}, L{MemoryRunner}, L{MemoryRun},
        L{RecordingSink} and L{RecordingConsumer} have the parameters of
        those of L{ZmqContext}, L{ZmqSocket}, L{WorkerPool} (and Twisted's
        L{ThreadPool}), L{WSGIRunner}, L{RunningRequest}, the handler's sink
        and the front's L{Exchange}.
        """
        for fake, real, names in [
            (MemoryNetwork, ZmqContext, "socket shutdown"),
            (MemorySocket, ZmqSocket, "bind connect send close backlog"),
            (SynchronousThreadPool, WorkerPool, "start stop callInThread"),
            (SynchronousThreadPool, ThreadPool, "callInThreadWithCallback"),
            (MemoryRunner, WSGIRunner, "run"),
            (MemoryRun, RunningRequest, "cancel bodyReceived windowReceived"),
            (RecordingSink, _ReplySink, "sendHead sendBody sendError sendWindow finished"),
            (RecordingConsumer, Exchange, "writeBody finishBody abortBody"),
        ]:
            self.assertEqual(signatureDifferences(fake, real, names.split()), [], fake)

    def test_differences(self) -> None:
        """
        L{signatureDifferences} names the methods that differ or are
        missing.
        """

        class Real:
            def same(self, a: int, b: int = 1) -> None: ...

            def other(self, a: int) -> None: ...

            @property
            def value(self) -> int:
                return 1

        class Fake:
            def same(self, a: str, b: int = 1) -> None: ...

            def other(self, b: int) -> None: ...

            value = 1

        self.assertEqual(
            [line.split(":")[0] for line in signatureDifferences(
                Fake, Real, ["same", "other", "value", "missing"]
            )],
            ["other", "value", "missing"],
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

    def test_deferToThreadPool(self) -> None:
        """
        With L{FakeReactor}, the pool serves L{deferToThreadPool}: the
        result arrives when the reactor is flushed.
        """
        reactor = FakeReactor()
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
        reactor = FakeReactor()
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
        reactor = FakeReactor()
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
        reactor = FakeReactor(immediate=True)
        calls: list[str] = []

        def first() -> None:
            reactor.callFromThread(calls.append, "second")
            calls.append("first")

        reactor.callFromThread(first)
        self.assertEqual((calls, reactor.pending), (["first", "second"], []))

    def test_stopOnce(self) -> None:
        """
        A reactor that has not stopped stops once, as a running reactor.
        """
        reactor = FakeReactor()
        reactor.stop()
        self.assertTrue(reactor.hasStopped)

