# -*- test-case-name: txmp.test.test_testing,txmp.test.test_integration -*-
"""
What a fake of L{txmp.testing} and the real thing it stands for must both
do, as mixins of tests (the pattern of Twisted's C{InputStreamTestMixin}):
each is subclassed once for the fake, in L{txmp.test.test_testing}, and
once for the real thing, in L{txmp.test.test_integration} where it needs
real sockets, threads or the reactor.  A fake that drifts from the real
thing fails its side.

A test here is written once for both: a generator, run by
L{inlineCallbacks}, that waits on the Deferreds of what it expects (a
message received, a call run).  The case's C{wait} hook decides how: a
fake's case (with L{FakeSide}) lets the fake deliver (C{network.flush()})
and asserts that the test finished; the real thing's (with L{RealSide})
returns the Deferred to trial, which waits for the reactor.

This is not a test module: it holds no test case, and test modules import
it (as they may not import each other).
"""

from __future__ import annotations

import errno
import gc
import inspect
import resource
import signal
from collections.abc import Generator, Iterable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable

import zmq
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import (
    ProcessExitedAlready,
    ProcessTerminated,
    ReactorNotRestartable,
    ReactorNotRunning,
)
from twisted.internet.interfaces import IPushProducer, ITCPTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from txmp import _zmq, protocol
from txmp._defaults import BATCH_LIMIT
from txmp._zmq import AddressError, PeerUnreachable, _receive, _sendMultipart
from txmp.testing import RecordingSink, runningReactor

Scenario = Callable[[Any], Generator[Any, Any, None]]

if TYPE_CHECKING:
    # What the mixins are mixed into; at run time they are plain classes,
    # so that trial finds no test in them.
    from twisted.trial.unittest import SynchronousTestCase as _TestCase

    from txmp._zmq import ZmqContext
    from txmp.testing import MemoryNetwork
else:
    _TestCase = object


def bothSides(scenario: Scenario) -> Callable[[Any], object]:
    """
    Make a test method of a generator C{scenario}, run with
    L{inlineCallbacks}, whose result the case's C{wait} hook takes.
    """

    @wraps(scenario)
    def test(self: Any) -> object:
        return self.wait(inlineCallbacks(scenario)(self))

    return test


class FakeSide:
    """
    For the fake's case (a L{SynchronousTestCase}): the test must have
    finished when its generator returns, the fake having done at once
    everything the test waited for.
    """

    def wait(self, d: Deferred[None]) -> None:
        """
        Assert that C{d}, the test, has finished, and raise what it raised.
        """
        results: list[object] = []
        d.addBoth(results.append)
        if not results:
            raise AssertionError("the test waited for something the fake never did")
        if isinstance(results[0], Failure):
            results[0].raiseException()


class RealSide:
    """
    For the real thing's case (a L{TestCase}): trial waits for the test.
    """

    def wait(self, d: Deferred[None]) -> Deferred[None]:
        """
        Return C{d}, the test, to trial.
        """
        return d


def collector(
    count: int,
) -> tuple[list[list[Any]], Deferred[None], Callable[[Sequence[Any]], None]]:
    """
    A receiver of messages that fires a Deferred once C{count} have come.

    @return: the list the messages go to, the Deferred, the receiver.
    """
    received: list[list[Any]] = []
    done: Deferred[None] = Deferred()

    def receive(frames: Sequence[Any]) -> None:
        received.append(list(frames))
        if len(received) == count:
            done.callback(None)

    return received, done, receive


class ZmqContextTestsMixin(_TestCase):
    """
    What L{txmp.testing.MemoryNetwork} and L{txmp._zmq.ZmqContext} both
    do: ROUTER and DEALER sockets joined by address.

    Hooks: C{context}, the test's context (shut down after the test);
    C{address()} returns a new address to bind; C{delivered(d)} lets
    messages travel until C{d} has fired, and returns it.
    """

    context: ZmqContext | MemoryNetwork
    address: Callable[[], str]
    delivered: Callable[[Deferred[None]], Deferred[None]]

    def pair(
        self, atRouter: Callable[[list[Any]], None], atDealer: Callable[[list[Any]], None],
        routingId: bytes = b"dealer-1", highWaterMark: int = 10,
    ) -> tuple[Any, Any, str]:
        """
        A ROUTER bound to a new address, and a DEALER connected to it.

        @return: the ROUTER, the DEALER and the address.
        """
        address = self.address()
        router = self.context.socket("router", atRouter, highWaterMark)
        router.bind(address)
        dealer = self.context.socket("dealer", atDealer, highWaterMark, routingId)
        dealer.connect(address)
        return router, dealer, address

    @bothSides
    def test_dealerToRouter(self) -> Generator[Any, Any, None]:
        """
        A DEALER's message arrives at the ROUTER with the DEALER's routing
        id first, and the ROUTER's answer arrives back at the DEALER.
        """
        atRouter, routerDone, toRouter = collector(1)
        atDealer, dealerDone, toDealer = collector(1)
        router, dealer, _ = self.pair(toRouter, toDealer)
        dealer.send([b"hello", b"world"])
        yield self.delivered(routerDone)
        self.assertEqual(atRouter, [[b"dealer-1", b"hello", b"world"]])
        router.send([b"dealer-1", b"back"])
        yield self.delivered(dealerDone)
        self.assertEqual(atDealer, [[b"back"]])

    @bothSides
    def test_inOrder(self) -> Generator[Any, Any, None]:
        """
        Messages arrive in the order they were sent, their frames intact,
        empty and binary ones too.
        """
        messages = [[b"%d" % (n,), b"", bytes(range(256))] for n in range(5)]
        atRouter, done, toRouter = collector(5)
        _router, dealer, _ = self.pair(toRouter, lambda frames: None)
        for message in messages:
            dealer.send(message)
        yield self.delivered(done)
        self.assertEqual(atRouter, [[b"dealer-1", *message] for message in messages])

    @bothSides
    def test_dealerWithoutRoutingId(self) -> Generator[Any, Any, None]:
        """
        A DEALER made without a routing id is named by the ROUTER as
        ZeroMQ names it: five bytes, the first 0; the ROUTER answers it by
        that name.
        """
        atRouter, routerDone, toRouter = collector(1)
        atDealer, dealerDone, toDealer = collector(1)
        address = self.address()
        router = self.context.socket("router", toRouter, 10)
        router.bind(address)
        dealer = self.context.socket("dealer", toDealer, 10)
        dealer.connect(address)
        dealer.send([b"hello"])
        yield self.delivered(routerDone)
        [[peer, hello]] = atRouter
        self.assertEqual((len(peer), peer[:1], hello), (5, b"\0", b"hello"))
        router.send([peer, b"back"])
        yield self.delivered(dealerDone)
        self.assertEqual(atDealer, [[b"back"]])

    @bothSides
    def test_receiverFailureLogged(self) -> Generator[Any, Any, None]:
        """
        A receiver that raises for one message (a bug, a full disk under
        the access log) does not stop its socket: the failure is logged,
        and the messages after it, sent with it, are received.
        """
        failing = [True]
        atRouter, done, collect = collector(2)

        def receive(frames: list[Any]) -> None:
            if failing:
                del failing[:]
                raise ZeroDivisionError("bug")
            collect(frames)

        _router, dealer, _ = self.pair(receive, lambda frames: None)
        for name in [b"first", b"second", b"third"]:
            dealer.send([name])
        yield self.delivered(done)
        self.assertEqual(atRouter, [[b"dealer-1", b"second"], [b"dealer-1", b"third"]])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    @bothSides
    def test_sentBeforeBind(self) -> Generator[Any, Any, None]:
        """
        What a DEALER sends before a ROUTER binds its address waits, and
        arrives, in order, once one does.
        """
        address = self.address()
        dealer = self.context.socket("dealer", lambda frames: None, 10, b"early")
        dealer.connect(address)
        dealer.send([b"1"])
        dealer.send([b"2"])
        atRouter, done, toRouter = collector(2)
        self.context.socket("router", toRouter, 10).bind(address)
        yield self.delivered(done)
        self.assertEqual(atRouter, [[b"early", b"1"], [b"early", b"2"]])

    @bothSides
    def test_routerToUnknownPeer(self) -> Generator[Any, Any, None]:
        """
        A ROUTER send to a peer that is not connected raises
        L{PeerUnreachable} instead of dropping the message silently.
        """
        router = self.context.socket("router", lambda frames: None, 10)
        router.bind(self.address())
        exc = self.assertRaises(PeerUnreachable, router.send, [b"nobody", b"x"])
        self.assertEqual(exc.args, (b"nobody",))
        yield None

    @bothSides
    def test_sameRoutingIdTakesOver(self) -> Generator[Any, Any, None]:
        """
        A DEALER that connects with the routing id of one already connected
        (a handler reconnecting) takes it over: the ROUTER's messages to
        that id go to the newer one.
        """
        atRouter: list[list[Any]] = []
        arrived = [Deferred[None](), Deferred[None]()]

        def toRouter(frames: list[Any]) -> None:
            atRouter.append(frames)
            arrived[len(atRouter) - 1].callback(None)

        atOld: list[list[Any]] = []
        atNew, newDone, toNew = collector(1)
        router, old, address = self.pair(toRouter, atOld.append, routingId=b"same")
        old.send([b"old"])
        yield self.delivered(arrived[0])
        new = self.context.socket("dealer", toNew, 10, b"same")
        new.connect(address)
        new.send([b"new"])
        yield self.delivered(arrived[1])
        self.assertEqual(atRouter, [[b"same", b"old"], [b"same", b"new"]])
        router.send([b"same", b"answer"])
        yield self.delivered(newDone)
        self.assertEqual((atOld, atNew), ([], [[b"answer"]]))

    @bothSides
    def test_largeFramesWithoutCopy(self) -> Generator[Any, Any, None]:
        """
        A socket made with C{largeFrame} gets frames of at least that many
        bytes as read-only memoryviews, and shorter ones as L{bytes}, with
        the same contents as were sent.
        """
        address = self.address()
        atRouter, done, toRouter = collector(1)
        router = self.context.socket("router", toRouter, 10, largeFrame=100)
        router.bind(address)
        dealer = self.context.socket("dealer", lambda frames: None, 10, b"dealer-1")
        dealer.connect(address)
        large = bytes(range(100))
        dealer.send([b"x" * 99, large])
        yield self.delivered(done)
        [frames] = atRouter
        self.assertEqual([type(frame) for frame in frames], [bytes, bytes, memoryview])
        self.assertTrue(frames[2].readonly)
        self.assertEqual(frames, [b"dealer-1", b"x" * 99, large])

    @bothSides
    def test_unlimitedHighWaterMarkRefused(self) -> Generator[Any, Any, None]:
        """
        A high-water mark of 0, which ZeroMQ takes as unlimited memory, is
        refused.
        """
        self.assertRaises(
            ValueError, self.context.socket, "dealer", lambda frames: None, 0
        )
        yield None

    @bothSides
    def test_closedSendsNothing(self) -> Generator[Any, Any, None]:
        """
        Sending on a closed socket, or disconnecting it, does nothing, and
        raises nothing: the process is stopping.
        """
        atRouter, done, toRouter = collector(1)
        _router, dealer, address = self.pair(toRouter, lambda frames: None)
        dealer.close()
        dealer.send([b"lost"])
        dealer.disconnect(address)
        self.assertEqual(dealer.backlog, 0)
        second = self.context.socket("dealer", lambda frames: None, 10, b"second")
        second.connect(address)
        second.send([b"after"])
        yield self.delivered(done)
        self.assertEqual(atRouter, [[b"second", b"after"]])

    @bothSides
    def test_disconnectAndConnectAgain(self) -> Generator[Any, Any, None]:
        """
        A DEALER that disconnects from the ROUTER's address and connects
        to it again (a handler trying a front again after a refusal)
        reaches it again under the same routing id: what it sent while
        connected nowhere waits and arrives first, in order, and the
        ROUTER's answer reaches it.
        """
        atRouter: list[list[Any]] = []
        arrived = {1: Deferred[None](), 3: Deferred[None]()}

        def toRouter(frames: list[Any]) -> None:
            atRouter.append(frames)
            if len(atRouter) in arrived:
                arrived[len(atRouter)].callback(None)

        atDealer, dealerDone, toDealer = collector(1)
        router, dealer, address = self.pair(toRouter, toDealer)
        dealer.send([b"before"])
        yield self.delivered(arrived[1])
        dealer.disconnect(address)
        dealer.send([b"meanwhile"])
        dealer.connect(address)
        dealer.send([b"after"])
        yield self.delivered(arrived[3])
        self.assertEqual(
            atRouter,
            [[b"dealer-1", b"before"], [b"dealer-1", b"meanwhile"], [b"dealer-1", b"after"]],
        )
        router.send([b"dealer-1", b"back"])
        yield self.delivered(dealerDone)
        self.assertEqual(atDealer, [[b"back"]])

    @bothSides
    def test_disconnectNotConnected(self) -> Generator[Any, Any, None]:
        """
        Disconnecting from an address a socket is not connected to (any
        more) raises L{AddressError}, which says so.
        """
        _router, dealer, address = self.pair(lambda frames: None, lambda frames: None)
        other = self.address()
        exc = self.assertRaises(AddressError, dealer.disconnect, other)
        self.assertEqual(str(exc), f"cannot disconnect from {other}: not connected to it")
        dealer.disconnect(address)
        exc = self.assertRaises(AddressError, dealer.disconnect, address)
        self.assertEqual(str(exc), f"cannot disconnect from {address}: not connected to it")
        yield None

    @bothSides
    def test_securityBeforeConnect(self) -> Generator[Any, Any, None]:
        """
        CURVE and the handshake monitor apply to the connections made
        after them only: a socket connected already, or once, refuses them.
        """
        _router, dealer, address = self.pair(lambda frames: None, lambda frames: None)
        self.assertRaises(RuntimeError, dealer.curveClient, b"p" * 40, b"s" * 40, b"f" * 40)
        self.assertRaises(
            RuntimeError, dealer.monitorHandshakes, self.context, lambda *event: None
        )
        # Nor once it has disconnected: they would apply to no connection.
        dealer.disconnect(address)
        self.assertRaises(RuntimeError, dealer.curveClient, b"p" * 40, b"s" * 40, b"f" * 40)
        yield None

    @bothSides
    def test_sharedWithThreads(self) -> Generator[Any, Any, None]:
        """
        A DEALER shared with threads says so, and sends as before; a ROUTER
        cannot be shared (its sends name a peer and may raise).
        """
        atRouter, done, toRouter = collector(1)
        router, dealer, _address = self.pair(toRouter, lambda frames: None)
        reactor = runningReactor()
        self.assertRaises(ValueError, router.shareWithThreads, reactor)
        self.assertFalse(dealer.shared)
        dealer.shareWithThreads(reactor)
        self.assertTrue(dealer.shared)
        dealer.send([b"a"])
        yield self.delivered(done)
        self.assertEqual(atRouter, [[b"dealer-1", b"a"]])

    @bothSides
    def test_combined(self) -> Generator[Any, Any, None]:
        """
        What a shared DEALER is given to L{combine} goes at
        L{sendCombined}, and arrives in order, each message alone (the real
        socket sends several as C{BATCH} messages of at most
        L{BATCH_LIMIT}, which the ROUTER reads as their messages); a message
        sent with C{send} after some were combined arrives after them.
        """
        atRouter, done, toRouter = collector(BATCH_LIMIT + 4)
        _router, dealer, _address = self.pair(toRouter, lambda frames: None, highWaterMark=100)
        dealer.shareWithThreads(runningReactor())
        dealer.combine(b"alone")
        dealer.sendCombined()
        messages = [b"m%d" % (n,) for n in range(BATCH_LIMIT + 1)]
        for message in messages:
            dealer.combine(message)
        dealer.sendCombined()
        dealer.combine(b"before")
        dealer.send([b"after", b"frame"])
        yield self.delivered(done)
        self.assertEqual(
            atRouter,
            [
                [b"dealer-1", b"alone"],
                *([b"dealer-1", message] for message in messages),
                [b"dealer-1", b"before"],
                [b"dealer-1", b"after", b"frame"],
            ],
        )


class ThreadPoolTestsMixin(_TestCase):
    """
    What L{txmp.testing.SynchronousThreadPool} and a pool of real threads
    (L{txmp._pool.WorkerPool}, Twisted's C{ThreadPool}), each with one
    thread, both do with the work they are given.

    Hooks: C{makePool()} returns a new pool, not started; C{settle(pool)}
    returns once the work given so far has run.
    """

    makePool: Callable[[], Any]
    settle: Callable[[Any], None]

    def startedPool(self) -> Any:
        """
        A new pool, started, stopped after the test if it is still running.
        """
        pool = self.makePool()
        pool.start()
        self.addCleanup(lambda: pool.stop() if pool.started else None)
        return pool

    def test_arguments(self) -> None:
        """
        The work is called with its positional and keyword arguments.
        """
        calls: list[object] = []
        pool = self.startedPool()
        pool.callInThread(lambda *a, **kw: calls.append((a, kw)), 1, 2, x=3)
        self.settle(pool)
        self.assertEqual(calls, [((1, 2), {"x": 3})])

    def test_inOrder(self) -> None:
        """
        The work runs in the order it was given.
        """
        calls: list[int] = []
        pool = self.startedPool()
        for n in range(5):
            pool.callInThread(calls.append, n)
        self.settle(pool)
        self.assertEqual(calls, [0, 1, 2, 3, 4])

    def test_givenBeforeStart(self) -> None:
        """
        Work given before the pool starts runs once it has.
        """
        calls: list[int] = []
        pool = self.makePool()
        pool.callInThread(calls.append, 1)
        pool.start()
        self.addCleanup(lambda: pool.stop() if pool.started else None)
        self.settle(pool)
        self.assertEqual(calls, [1])

    def test_failureLogged(self) -> None:
        """
        What the work raises is logged, not raised to the caller, and the
        work given after it still runs.
        """
        calls: list[int] = []
        pool = self.startedPool()
        pool.callInThread(lambda: 1 // 0)
        pool.callInThread(calls.append, 1)
        self.settle(pool)
        self.assertEqual(calls, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_startStop(self) -> None:
        """
        C{started} says whether L{start} was called more recently than
        L{stop}.
        """
        pool = self.makePool()
        self.assertFalse(pool.started)
        pool.start()
        self.assertTrue(pool.started)
        pool.stop()
        self.assertFalse(pool.started)


class CallbackThreadPoolTestsMixin(ThreadPoolTestsMixin):
    """
    What L{txmp.testing.SynchronousThreadPool} and Twisted's C{ThreadPool}
    both do, and L{txmp._pool.WorkerPool} does not:
    C{callInThreadWithCallback}, which L{deferToThreadPool} uses.
    """

    def test_callbackResult(self) -> None:
        """
        C{onResult} gets C{True} and the result.
        """
        results: list[tuple[bool, object]] = []
        pool = self.startedPool()
        pool.callInThreadWithCallback(
            lambda ok, result: results.append((ok, result)), lambda x, y: x + y, 1, y=2
        )
        self.settle(pool)
        self.assertEqual(results, [(True, 3)])

    def test_callbackFailure(self) -> None:
        """
        C{onResult} gets C{False} and a L{Failure} for what the work raised;
        nothing is logged.
        """
        results: list[tuple[bool, Any]] = []
        pool = self.startedPool()
        pool.callInThreadWithCallback(
            lambda ok, result: results.append((ok, result)), lambda: 1 // 0
        )
        self.settle(pool)
        [(ok, failure)] = results
        self.assertFalse(ok)
        self.assertIsInstance(failure, Failure)
        self.assertIsInstance(failure.value, ZeroDivisionError)
        self.assertEqual(self.flushLoggedErrors(ZeroDivisionError), [])


class ReactorCallsTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeReactor} and the real reactor's
    C{callFromThread}, and L{txmp._pool.ReactorCalls} over either, all do:
    run calls in the reactor thread, in order, logging failures.

    Hooks: C{makeCaller()} returns what has C{callFromThread};
    C{ran(d)} lets the calls made so far (and those they make) run until
    C{d} has fired, and returns it.
    """

    makeCaller: Callable[[], Any]
    ran: Callable[[Deferred[None]], Deferred[None]]

    @bothSides
    def test_inOrder(self) -> Generator[Any, Any, None]:
        """
        Calls run in the order they were made, with their arguments.
        """
        calls: list[object] = []
        done: Deferred[None] = Deferred()
        caller = self.makeCaller()
        caller.callFromThread(calls.append, 1)
        caller.callFromThread(lambda a, b: calls.append((a, b)), 2, 3)
        caller.callFromThread(done.callback, None)
        yield self.ran(done)
        self.assertEqual(calls, [1, (2, 3)])

    @bothSides
    def test_callsMadeByCalls(self) -> Generator[Any, Any, None]:
        """
        A call made by a call that runs runs too, after it.  (Whether
        before or after a call made meanwhile by another thread is the
        reactor's choice.)
        """
        calls: list[str] = []
        done: Deferred[None] = Deferred()
        caller = self.makeCaller()

        def first() -> None:
            calls.append("first")
            caller.callFromThread(calls.append, "third")
            caller.callFromThread(done.callback, None)

        caller.callFromThread(first)
        caller.callFromThread(calls.append, "second")
        yield self.ran(done)
        self.assertEqual(calls[0], "first")
        self.assertEqual(sorted(calls), ["first", "second", "third"])

    @bothSides
    def test_failureLogged(self) -> Generator[Any, Any, None]:
        """
        A call that raises is logged, and the calls after it run.
        """
        calls: list[int] = []
        done: Deferred[None] = Deferred()
        caller = self.makeCaller()
        caller.callFromThread(lambda: 1 // 0)
        caller.callFromThread(calls.append, 1)
        caller.callFromThread(done.callback, None)
        yield self.ran(done)
        self.assertEqual(calls, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class ReactorLifeTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeReactor} and a real reactor both do as they
    start and stop, as twistd drives them and the services rely on: the
    services start before the reactor runs (a front dead meanwhile, a
    signal sent meanwhile), and stop as the reactor stops (a handler
    stopping on C{--max-requests} while a signal stops it too).

    Hooks: C{newReactor()} returns a reactor that has not run;
    C{runReactor(reactor)} runs it, and lets it go on (its calls from
    threads, its shutdown) until it has stopped: something the test
    arranged before stops it.
    """

    newReactor: Callable[[], Any]
    runReactor: Callable[[Any], None]

    def stoppedReactor(self) -> Any:
        """
        A reactor that ran and was stopped.
        """
        reactor = self.newReactor()
        reactor.callWhenRunning(reactor.stop)
        self.runReactor(reactor)
        return reactor

    def test_notRunningBeforeRun(self) -> None:
        """
        Before it runs, a reactor is not running, and stopping it raises
        L{ReactorNotRunning} (where it would be lost: nothing would stop
        the reactor once it runs).
        """
        reactor = self.newReactor()
        self.assertFalse(reactor.running)
        self.assertRaises(ReactorNotRunning, reactor.stop)

    def test_callWhenRunning(self) -> None:
        """
        C{callWhenRunning} before the reactor runs calls nothing yet; the
        calls are made once it runs, in order, with their arguments; made
        while it runs, a call is made at once.
        """
        reactor = self.newReactor()
        calls: list[object] = []

        def whenRunning(a: object, b: object = None) -> None:
            calls.append((a, b, reactor.running))

        def atOnce() -> None:
            before = list(calls)
            reactor.callWhenRunning(calls.append, "at once")
            calls.append(calls[len(before):] == ["at once"])
            reactor.stop()

        reactor.callWhenRunning(whenRunning, 1, b=2)
        reactor.callWhenRunning(whenRunning, 3)
        reactor.callWhenRunning(atOnce)
        self.assertEqual(calls, [])
        self.runReactor(reactor)
        self.assertEqual(calls, [(1, 2, True), (3, None, True), "at once", True])

    def test_callFromThreadOnceRunning(self) -> None:
        """
        A call from another thread (or a signal handler) made before the
        reactor runs waits for it to run, after its C{callWhenRunning}
        calls.
        """
        reactor = self.newReactor()
        calls: list[str] = []
        reactor.callFromThread(calls.append, "from a thread")

        def running() -> None:
            calls.append("running")
            reactor.stop()

        reactor.callWhenRunning(running)
        self.assertEqual(calls, [])
        self.runReactor(reactor)
        self.assertEqual(calls, ["running", "from a thread"])

    def test_stopWhileStopping(self) -> None:
        """
        Stopping a reactor asked to stop already raises
        L{ReactorNotRunning}, even while it still runs (its shutdown
        event not fired yet, or waiting for a service to drain).
        """
        reactor = self.newReactor()
        seen: list[object] = []

        def stopTwice() -> None:
            reactor.stop()
            seen.append(reactor.running)
            self.assertRaises(ReactorNotRunning, reactor.stop)

        def beforeShutdown() -> None:
            seen.append(reactor.running)
            self.assertRaises(ReactorNotRunning, reactor.stop)

        reactor.callWhenRunning(stopTwice)
        reactor.addSystemEventTrigger("before", "shutdown", beforeShutdown)
        self.runReactor(reactor)
        self.assertEqual(seen, [True, True])

    def test_stopStopped(self) -> None:
        """
        Stopping a stopped reactor raises L{ReactorNotRunning}.
        """
        self.assertRaises(ReactorNotRunning, self.stoppedReactor().stop)

    def test_notRestartable(self) -> None:
        """
        A stopped reactor does not run again, nor does it make the calls
        asked of it once it runs.
        """
        reactor = self.stoppedReactor()
        calls: list[int] = []
        reactor.callWhenRunning(calls.append, 1)
        self.assertRaises(ReactorNotRestartable, reactor.run)
        self.assertEqual(calls, [])

    def test_shutdownEvent(self) -> None:
        """
        Stopping fires the C{shutdown} event: its C{before} triggers while
        the reactor still runs, waiting for the Deferreds they return (a
        service draining: calls from threads still run meanwhile); then
        its C{during} and C{after} triggers, the reactor no longer running.
        """
        reactor = self.newReactor()
        events: list[tuple[str, bool]] = []
        drained: Deferred[None] = Deferred()

        def drain() -> Deferred[None]:
            events.append(("before", reactor.running))
            reactor.callFromThread(drained.callback, None)
            return drained

        def record(phase: str) -> None:
            events.append((phase, reactor.running))

        drained.addCallback(lambda _: record("drained"))
        reactor.addSystemEventTrigger("after", "shutdown", record, "after")
        reactor.addSystemEventTrigger("during", "shutdown", record, "during")
        reactor.addSystemEventTrigger("before", "shutdown", drain)
        reactor.callWhenRunning(reactor.stop)
        self.runReactor(reactor)
        self.assertEqual(
            events,
            [("before", True), ("drained", True), ("during", False), ("after", False)],
        )
        self.assertFalse(reactor.running)


def signatureDifferences(fake: type, real: type, names: Iterable[str]) -> list[str]:
    """
    How the methods C{names} of C{fake} differ from those of C{real}, in
    their parameters' names, kinds and defaults (not their annotations,
    which may be spelled differently); a property must be one on both, and
    a plain attribute (such as C{Request.code}) an attribute on both.

    @return: one line per difference; none if they agree.
    """
    differences = []
    for name in names:
        fakeAttribute = inspect.getattr_static(fake, name, None)
        realAttribute = inspect.getattr_static(real, name, None)
        if realAttribute is None or fakeAttribute is None:
            differences.append(f"{name}: missing from the {'real' if fakeAttribute else 'fake'}")
            continue
        if isinstance(realAttribute, property) or isinstance(fakeAttribute, property):
            if type(realAttribute) is not type(fakeAttribute):
                differences.append(f"{name}: a property on one side only")
            continue
        if not callable(realAttribute) or not callable(fakeAttribute):
            if callable(realAttribute) or callable(fakeAttribute):
                differences.append(f"{name}: a method on one side only")
            continue
        fakeSignature = _parameters(getattr(fake, name))
        realSignature = _parameters(getattr(real, name))
        if fakeSignature != realSignature:
            differences.append(f"{name}: {fakeSignature} against {realSignature}")
    return differences


def _parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    return [
        (parameter.name, parameter.kind, parameter.default)
        for parameter in inspect.signature(function).parameters.values()
    ]


class RunnerTestsMixin(_TestCase):
    """
    What L{txmp.testing.MemoryRunner} and L{txmp._wsgi.WSGIRunner} both
    send to a request's sink, as L{txmp._handler.FrontLink} relies on:
    the head, then body or an error, then C{finished}, once.

    Hook: C{respond(sink, status, reason, headers, body, failAfterHead)}
    runs a request whose application answers C{status}, C{reason},
    C{headers} and C{body} (or, with C{failAfterHead}, fails after sending
    the head and the body), to the end, with C{sink}; it returns the
    request's L{txmp._handler.Running}.  C{queued(sink)} gives a request,
    with C{sink}, to a runner whose threads are all busy, and returns its
    L{txmp._handler.Running}; C{threadsFree()} lets a thread come to it.
    """

    respond: Callable[..., Any]
    queued: Callable[[RecordingSink], Any]
    threadsFree: Callable[[], None]

    def test_response(self) -> None:
        """
        A complete response is one C{sendHead}, with the status, reason,
        headers and body, that says no more follows, then C{finished}.
        """
        sink = RecordingSink()
        self.respond(sink, 201, b"Created", [(b"A", b"1")], [b"x"])
        [head, finished] = sink.calls
        self.assertEqual((head[0], head[1], head[2]), ("sendHead", 201, b"Created"))
        self.assertIn((b"A", b"1"), head[3])
        self.assertEqual((head[4], head[5]), ([b"x"], False))
        self.assertEqual(finished, ("finished",))

    def test_failureAfterHead(self) -> None:
        """
        An application that fails once its head went gives a head that
        says more follows, C{sendError}, and C{finished}.
        """
        sink = RecordingSink()
        self.respond(sink, 200, b"OK", [], [b"a"], failAfterHead=True)
        self.flushLoggedErrors()
        self.assertEqual([call[0] for call in sink.calls], ["sendHead", "sendError", "finished"])
        self.assertEqual(sink.calls[0][4:], ([b"a"], True))

    def test_cancelFinished(self) -> None:
        """
        Cancelling a request that finished sends nothing more.
        """
        sink = RecordingSink()
        running = self.respond(sink, 200, b"OK", [], [])
        calls = list(sink.calls)
        running.cancel()
        self.assertEqual(sink.calls, calls)

    def test_withdrawFinished(self) -> None:
        """
        A request that a thread ran cannot be taken back: C{withdraw}
        says so, and sends nothing.
        """
        sink = RecordingSink()
        running = self.respond(sink, 200, b"OK", [], [])
        self.assertTrue(running.started)
        calls = list(sink.calls)
        self.assertFalse(running.withdraw())
        self.assertEqual(sink.calls, calls)

    def test_withdrawQueued(self) -> None:
        """
        A request that no thread has taken is not started, and can be
        taken back, once: the thread that comes to it later leaves it, and
        the sink hears nothing of it, not even C{finished}.
        """
        sink = RecordingSink()
        running = self.queued(sink)
        self.assertFalse(running.started)
        self.assertTrue(running.withdraw())
        self.assertFalse(running.withdraw())
        self.threadsFree()
        self.assertFalse(running.started)
        self.assertEqual(sink.calls, [])


class ResponseSinkTestsMixin(_TestCase):
    """
    What L{txmp.testing.RecordingSink} and a handler's sink (a
    C{txmp._handler._ReplySink}, which a L{txmp._handler.FrontLink} gives
    its runner) both do with a runner's calls: what each says reaches the
    front as it was said, in order.

    Hooks: C{runningSink()} returns the sink of a request that runs;
    C{delivered()}, what reached the front so far, as the calls that said
    it (tuples as L{RecordingSink.calls} holds them), in two lists: those
    about the response (C{sendHead}, C{sendBody}, C{sendError}, which a
    handler sends on its return socket), and those that steer the front
    (C{sendWindow}, and C{finished}, which gives the request's credit back:
    on its send socket).  Body chunks are compared joined: where one ends
    is the sink's to choose (a handler's joins small ones and splits large
    ones to fit the front's C{--max-message}, L{txmp._handler.frameChunks}).
    """

    runningSink: Callable[[], Any]
    delivered: Callable[[], tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]

    def received(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """
        L{delivered}, each call's body chunks joined.
        """
        replies, steering = self.delivered()
        joined = []
        for call in replies:
            if call[0] == "sendHead":
                call = (*call[:4], b"".join(call[4]), call[5])
            elif call[0] == "sendBody":
                call = ("sendBody", b"".join(call[1]), call[2])
            joined.append(call)
        return joined, steering

    def test_whole(self) -> None:
        """
        A response in one call: its status, reason, fields and body as
        given, then the request's end.
        """
        sink = self.runningSink()
        sink.sendHead(200, b"OK", [(b"Content-Length", b"2")], [b"ok"], False)
        sink.finished()
        self.assertEqual(
            self.received(),
            ([("sendHead", 200, b"OK", [(b"Content-Length", b"2")], b"ok", False)],
             [("finished",)]),
        )

    def test_streamed(self) -> None:
        """
        A streamed response: its head with no body, its body as given, in
        as many messages as calls, and its end with none.
        """
        sink = self.runningSink()
        sink.sendHead(201, b"Created", [(b"X-A", b"1"), (b"X-A", b"2")], [], True)
        sink.sendBody([b"a", b"bc"], False)
        sink.sendBody([b"d"], False)
        sink.sendBody([], True)
        sink.finished()
        self.assertEqual(
            self.received(),
            ([("sendHead", 201, b"Created", [(b"X-A", b"1"), (b"X-A", b"2")], b"", True),
              ("sendBody", b"abc", False),
              ("sendBody", b"d", False),
              ("sendBody", b"", True)],
             [("finished",)]),
        )

    def test_error(self) -> None:
        """
        A streamed response that the application failed: its error, after
        what went before.
        """
        sink = self.runningSink()
        sink.sendHead(200, b"OK", [], [b"a"], True)
        sink.sendError("WSGI application error")
        sink.finished()
        self.assertEqual(
            self.received(),
            ([("sendHead", 200, b"OK", [], b"a", True),
              ("sendError", "WSGI application error")],
             [("finished",)]),
        )

    def test_window(self) -> None:
        """
        Each grant of request body window, as given.
        """
        sink = self.runningSink()
        sink.sendWindow(100)
        sink.sendWindow(20)
        self.assertEqual(self.received(), ([], [("sendWindow", 100), ("sendWindow", 20)]))


class ReplyConsumerTestsMixin(_TestCase):
    """
    What L{txmp.testing.RecordingConsumer} and the front's
    L{txmp._front.Exchange} both make of what a L{txmp._dispatch.Dispatcher}
    gives a request's L{txmp._dispatch.ReplyConsumer}: the status and body
    the client gets, and whether its response is complete, cut off, or
    still coming.

    Hooks: C{dispatcher}, a L{txmp._dispatch.Dispatcher} with handler
    C{handlerId} registered; C{request()} submits a request through a
    consumer (an HTTP/1.1 C{GET}) and returns its id as sent to the
    handler; C{outcome()} returns the status, the body so far, and
    C{"coming"}, C{"complete"} or C{"aborted"}.
    """

    dispatcher: Any
    handlerId: bytes
    request: Callable[[], bytes]
    outcome: Callable[[], tuple[int, bytes, str]]

    def handlerSends(self, frames: list[bytes]) -> None:
        """
        Deliver C{frames} from the handler on the return socket.
        """
        self.dispatcher.replyReceived([self.handlerId, *frames])

    def test_whole(self) -> None:
        """
        A complete reply is the client's whole response.
        """
        requestId = self.request()
        self.handlerSends(
            protocol.encodeResponse(requestId, 201, b"Created", [(b"Content-Length", b"2")],
                                    [b"ok"], False)
        )
        self.assertEqual(self.outcome(), (201, b"ok", "complete"))

    def test_streamed(self) -> None:
        """
        A streamed reply's body reaches the client as it comes, and its
        end completes the response.
        """
        requestId = self.request()
        self.handlerSends(protocol.encodeResponse(requestId, 200, b"OK", [], [b"a"], True))
        self.assertEqual(self.outcome(), (200, b"a", "coming"))
        self.handlerSends(protocol.encodeBody(requestId, [b"b", b"c"], False))
        self.assertEqual(self.outcome(), (200, b"abc", "coming"))
        self.handlerSends(protocol.encodeBody(requestId, [b"d"], True))
        self.assertEqual(self.outcome(), (200, b"abcd", "complete"))

    def test_failedAfterHead(self) -> None:
        """
        A streamed reply whose handler fails after its head (C{ERROR}) is
        cut off: the client never sees it complete.
        """
        requestId = self.request()
        self.handlerSends(protocol.encodeResponse(requestId, 200, b"OK", [], [b"a"], True))
        self.handlerSends(protocol.encodeError(requestId, "WSGI application error"))
        self.assertEqual(self.outcome(), (200, b"a", "aborted"))

    def test_failedBeforeHead(self) -> None:
        """
        A request whose handler fails before the head is answered 502.
        """
        requestId = self.request()
        self.handlerSends(protocol.encodeError(requestId, "WSGI application error"))
        self.assertEqual(self.outcome()[0], 502)


class RawSocketTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeRawSocket} and a C{zmq.Socket} both
    do at their high-water mark, as L{txmp._zmq.ZmqSocket} sends to them.

    Hooks: C{rawSocket(room)} returns a socket that takes C{room} messages,
    then is full; C{rawSocketReceiving(messages)} one to which a peer has
    sent C{messages}.
    """

    rawSocket: Callable[[int], Any]
    rawSocketReceiving: Callable[[list[list[bytes]]], Any]

    def test_receives(self) -> None:
        """
        The socket says it is readable (C{POLLIN}) while messages wait, and
        gives them whole, in order; then it says it is not, and refuses
        to receive, with C{zmq.Again}.
        """
        messages = [[b"a", b"b"], [b"c"]]
        raw = self.rawSocketReceiving(messages)
        received = []
        for _ in messages:
            self.assertTrue(raw.getsockopt(zmq.EVENTS) & zmq.POLLIN)
            received.append(raw.recv_multipart(zmq.NOBLOCK))
        self.assertEqual(received, messages)
        self.assertFalse(raw.getsockopt(zmq.EVENTS) & zmq.POLLIN)
        self.assertRaises(zmq.Again, raw.recv_multipart, zmq.NOBLOCK)

    def test_receivedWhole(self) -> None:
        """
        L{txmp._zmq._receive} reads each message whole, in order (by each
        frame's C{more} where pyzmq sets it, else as C{recv_multipart}
        does), its frames of C{largeFrame} bytes or more as read-only
        memoryviews; then it raises C{zmq.Again}.
        """
        self.assertReceivedWhole()

    def test_receivedWholeByRecvMultipart(self) -> None:
        """
        L{txmp._zmq._receive} reads as L{test_receivedWhole} says where
        pyzmq does not set a frame's C{more} (its CFFI backend, PyPy's),
        with C{recv_multipart}: a test on CPython reads that way too.
        """
        self.patch(_zmq, "_FRAME_MORE", False)
        self.assertReceivedWhole()

    def assertReceivedWhole(self) -> None:
        raw = self.rawSocketReceiving([[b"a", b"bcd", b"e"], [b"f"], [b"gh", b""]])
        self.assertEqual(_receive(raw, None), [b"a", b"bcd", b"e"])
        self.assertEqual(_receive(raw, None), [b"f"])
        frames = _receive(raw, 2)
        self.assertEqual([bytes(frame) for frame in frames], [b"gh", b""])
        self.assertIsInstance(frames[0], memoryview)
        self.assertTrue(memoryview(frames[0]).readonly)
        self.assertIsInstance(frames[1], bytes)
        self.assertRaises(zmq.Again, _receive, raw, None)

    def test_largeFrameOutlivesItsMessage(self) -> None:
        """
        A large frame that L{txmp._zmq._receive} gives as a memoryview
        reads what was sent for as long as it is referred to, after the
        garbage collector has run: a view of ZeroMQ's buffer keeps it.
        """
        large = bytes(range(256)) * 256
        raw = self.rawSocketReceiving([[b"id", large]])
        [_, view] = _receive(raw, 1024)
        gc.collect()
        # What the freed buffer's memory may be taken for.
        taken = [bytes([n]) * len(large) for n in range(16)]
        self.assertEqual(bytes(view), large)
        del taken

    def test_fullAfterRoom(self) -> None:
        """
        The socket says it is writable (C{POLLOUT}) and takes whole
        messages until it is full; then it says so, and refuses the next
        message at its first frame, with C{zmq.Again}.
        """
        for room in (1, 3):
            raw = self.rawSocket(room)
            for _ in range(room):
                self.assertTrue(raw.getsockopt(zmq.EVENTS) & zmq.POLLOUT)
                _sendMultipart(raw, [b"a", b"b"])
            self.assertFalse(raw.getsockopt(zmq.EVENTS) & zmq.POLLOUT)
            self.assertRaises(zmq.Again, _sendMultipart, raw, [b"c", b"d"])


class RawRouterTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeRawSocket} and a C{ROUTER_MANDATORY}
    C{zmq.Socket} both do for a peer whose pipe is full and for a peer
    that is not connected, as L{txmp._zmq.ZmqSocket} sends to them.

    Hook: C{rawRouter()} returns a socket and three peer ids: one whose
    pipe is full, one connected with room, one not connected.
    """

    rawRouter: Callable[[], tuple[Any, bytes, bytes, bytes]]

    def test_fullPeerOnly(self) -> None:
        """
        A message to the full peer is refused at its first frame with
        C{zmq.Again}; one to another peer is taken, and the socket says it
        is writable (C{POLLOUT}: some pipe has room).
        """
        raw, full, other, _gone = self.rawRouter()
        self.assertRaises(zmq.Again, _sendMultipart, raw, [full, b"x"])
        self.assertTrue(raw.getsockopt(zmq.EVENTS) & zmq.POLLOUT)
        _sendMultipart(raw, [other, b"y"])

    def test_gone(self) -> None:
        """
        A message to a peer that is not connected is refused at its first
        frame with C{EHOSTUNREACH}.
        """
        raw, _full, other, gone = self.rawRouter()
        error = self.assertRaises(zmq.ZMQError, _sendMultipart, raw, [gone, b"x"])
        self.assertEqual(error.errno, zmq.EHOSTUNREACH)
        _sendMultipart(raw, [other, b"y"])


class ZmqConnectionTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeZmqConnection} and the txzmq connection of a
    real L{txmp._zmq.ZmqSocket} both do for the socket that owns it: the
    connection's C{doRead} is what ZeroMQ's descriptor calls when it
    signals, and reads for its socket.

    Hook: C{readingSocket(receiver)} returns a DEALER socket whose messages
    go to C{receiver}, its connection (read by nothing but the test: its
    reactor does not run), and C{send(frames)}, which has a peer send it a
    message, there once C{send} returns.
    """

    readingSocket: Callable[
        [Callable[[Sequence[Any]], None]],
        tuple[Any, Any, Callable[[list[bytes]], None]],
    ]

    def test_doReadHandsOn(self) -> None:
        """
        C{doRead} hands the socket's receiver every message waiting, whole
        and in order; nothing reaches it before, and nothing more after.
        """
        received: list[list[Any]] = []
        _socket, connection, send = self.readingSocket(
            lambda frames: received.append([bytes(frame) for frame in frames])
        )
        send([b"a", b"b"])
        send([b"c"])
        self.assertEqual(received, [])
        connection.doRead()
        self.assertEqual(received, [[b"a", b"b"], [b"c"]])
        connection.doRead()
        self.assertEqual(len(received), 2)

    def test_shutdown(self) -> None:
        """
        Once its socket is closed, the connection has no C{socket}, and
        C{doRead} hands nothing on.
        """
        received: list[Sequence[Any]] = []
        socket, connection, send = self.readingSocket(received.append)
        send([b"a"])
        socket.close()
        self.assertIsNone(connection.socket)
        self.assertTrue(socket.closed)
        connection.doRead()
        self.assertEqual(received, [])


class ThreadTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeThread} and a L{threading.Thread} both do, as
    L{txmp._pool.WorkerPool} uses them: once started and joined, the
    thread has run its target, once, and it keeps its name.

    Hook: C{makeThread(target, name)} returns an unstarted thread.
    """

    makeThread: Callable[..., Any]

    def test_startJoin(self) -> None:
        """
        After C{start} and C{join}, the target has run once; the thread has
        the name it was given.
        """
        calls: list[str] = []
        thread = self.makeThread(target=lambda: calls.append("ran"), name="PoolThread-x-0")
        thread.start()
        thread.join()
        self.assertEqual((calls, thread.name), (["ran"], "PoolThread-x-0"))


class ConditionTestsMixin(_TestCase):
    """
    What L{txmp.testing.ScriptedCondition} and a L{threading.Condition}
    (and L{txmp.testing.CountingCondition}) both do, as
    L{txmp._wsgi.InputStream} and L{txmp._wsgi.ResponseStream} use them:
    a thread holding the condition waits until another, taking it in
    turn, changes what it waits for and notifies it.

    Hooks: C{makeCondition()} returns a condition; C{meanwhile(condition,
    action)} has C{action} run by another thread (a step of the fake's
    script, or a real thread) while this one waits.
    """

    makeCondition: Callable[[], Any]
    meanwhile: Callable[[Any, Callable[[], object]], None]

    def test_waitUntilNotified(self) -> None:
        """
        C{wait()}, with the condition held, lets the other thread take it,
        and returns C{True} once notified; the waiter then sees the
        change.
        """
        condition = self.makeCondition()
        changed: list[bool] = []

        def other() -> None:
            with condition:
                changed.append(True)
                condition.notify_all()

        with condition:
            self.meanwhile(condition, other)
            while not changed:
                self.assertTrue(condition.wait(10))
        self.assertEqual(changed, [True])

    def test_notifyWithoutWaiter(self) -> None:
        """
        C{notify_all()}, with the condition held and no thread waiting,
        does nothing.
        """
        condition = self.makeCondition()
        with condition:
            condition.notify_all()


class ResponseIterableTestsMixin(_TestCase):
    """
    What L{txmp.testing.ClosingIterable} and a generator, as a WSGI
    application returns them, both do as L{txmp._wsgi.WSGIRunner} uses
    them: iterated, they yield their items in order; C{close()} may be
    called after a part of them was read, and again.

    Hook: C{makeIterable(items)} returns an iterable of C{items}.
    """

    makeIterable: Callable[[list[bytes]], Any]

    def test_items(self) -> None:
        """
        Iterating yields the items, in order, then stops.
        """
        self.assertEqual(list(self.makeIterable([b"a", b"b", b"c"])), [b"a", b"b", b"c"])

    def test_closeEarly(self) -> None:
        """
        C{close()} after the first item, and again, raises nothing.
        """
        iterable = self.makeIterable([b"a", b"b"])
        self.assertEqual(next(iter(iterable)), b"a")
        iterable.close()
        iterable.close()


class FileReadTestsMixin(_TestCase):
    """
    What L{txmp.testing.RecordingFile} and an L{io.BytesIO} both do as
    L{txmp._wsgi.FileWrapper} reads them: C{read(size)} gives at most
    C{size} bytes, C{read()} the rest, then C{b""}.

    Hook: C{makeFile(data)} returns a file that holds C{data}.
    """

    makeFile: Callable[[bytes], Any]

    def test_read(self) -> None:
        """
        Reads of a size, then of the rest, then at the end.
        """
        f = self.makeFile(b"abcdefg")
        self.assertEqual(
            [f.read(3), f.read(3), f.read(), f.read(3), f.read(None), f.read(-1)],
            [b"abc", b"def", b"g", b"", b"", b""],
        )
        f.close()
        self.assertTrue(f.closed)


class FileLimitsTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeFileLimits} and the L{resource} module both do
    as L{txmp._accept.raiseFileLimit} uses them: C{getrlimit} of
    C{RLIMIT_NOFILE} gives the soft and hard limits on open files, two
    integers, the soft one at most the hard one; C{setrlimit} sets them.

    Hook: C{makeLimits()} returns an object with C{getrlimit} and
    C{setrlimit}, whose limits the test may change (and the case puts back).
    """

    makeLimits: Callable[[], Any]

    def test_setAndGet(self) -> None:
        """
        The limits are two integers, soft first; a lower soft limit set is
        the one got.
        """
        limits = self.makeLimits()
        soft, hard = limits.getrlimit(resource.RLIMIT_NOFILE)
        self.assertEqual((type(soft), type(hard)), (int, int))
        self.assertTrue(hard == resource.RLIM_INFINITY or soft <= hard)
        lower = max(1, soft - 1)
        limits.setrlimit(resource.RLIMIT_NOFILE, (lower, hard))
        self.assertEqual(limits.getrlimit(resource.RLIMIT_NOFILE), (lower, hard))


class FullFileTestsMixin(_TestCase):
    """
    What L{txmp.testing.FailingFile}, its C{error} a full disk's, and a
    file on a full disk both do as L{txmp._access.AccessLog} writes a line
    and flushes it: raise C{OSError} with C{ENOSPC}.

    Hook: C{makeFullFile()} returns a text file open for writing, on a full
    disk.
    """

    makeFullFile: Callable[[], Any]

    def test_full(self) -> None:
        """
        Writing a line and flushing it raises C{ENOSPC}.
        """
        f = self.makeFullFile()

        def writeLine() -> None:
            f.write("a line\n")
            f.flush()

        error = self.assertRaises(OSError, writeLine)
        self.assertEqual(error.errno, errno.ENOSPC)


def _ignoreSignal(number: int, frame: object) -> None:
    """
    A signal handler for L{SignalsTestsMixin}, which sends no signal.
    """


class SignalsTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeSignals} and the L{signal} module both do as
    L{txmp._signals.ForkedChildSignals} uses them, in the main thread:
    C{getsignal} gives what C{signal} set, which returns the previous
    handler; C{pthread_sigmask} blocks and sets the thread's signal mask
    and returns the previous one; C{set_wakeup_fd} returns the previous
    descriptor.

    Hook: C{makeSignals()} returns such an object, whose handler of
    C{SIGUSR2}, mask and wake-up descriptor the test may change (and the
    case puts back).
    """

    makeSignals: Callable[[], Any]

    def test_handlers(self) -> None:
        """
        C{SIGUSR2} is a valid signal; the handler set is the one got, and
        setting returns the previous one.
        """
        signals = self.makeSignals()
        self.assertIn(signal.SIGUSR2, signals.valid_signals())
        before = signals.getsignal(signal.SIGUSR2)
        self.assertIs(signals.signal(signal.SIGUSR2, _ignoreSignal), before)
        self.assertIs(signals.getsignal(signal.SIGUSR2), _ignoreSignal)
        self.assertIs(signals.signal(signal.SIGUSR2, signal.SIG_DFL), _ignoreSignal)
        self.assertEqual(signals.getsignal(signal.SIGUSR2), signal.SIG_DFL)

    def test_mask(self) -> None:
        """
        Blocking adds to the mask and returns the previous one, a set of
        signal numbers; setting it back returns the blocked one.
        """
        signals = self.makeSignals()
        before = signals.pthread_sigmask(signal.SIG_BLOCK, [])
        self.assertNotIn(signal.SIGUSR2, before)
        self.assertEqual(
            set(signals.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2: None})),
            set(before),
        )
        self.assertEqual(
            set(signals.pthread_sigmask(signal.SIG_SETMASK, before)),
            {*before, signal.SIGUSR2},
        )
        self.assertEqual(set(signals.pthread_sigmask(signal.SIG_BLOCK, [])), set(before))

    def test_wakeupFd(self) -> None:
        """
        Setting the wake-up descriptor returns the previous one, C{-1} for
        none.
        """
        signals = self.makeSignals()
        before = signals.set_wakeup_fd(-1)
        self.assertIsInstance(before, int)
        self.assertEqual(signals.set_wakeup_fd(before), -1)


class ProcessTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeProcess} and a spawned process's transport (a
    L{twisted.internet.process.Process}) both do, as
    L{txmp._frontservice.SpawnedProcess} uses them: a running process has
    a PID and takes signals; once it has exited, its protocol is told, it
    has no PID, and a signal raises L{ProcessExitedAlready} (its PID may
    be another process's by then).

    Hooks: C{spawn(protocol)} starts a process that runs until it is
    killed, for C{protocol}, and returns its transport; C{killed(process)}
    is called once C{SIGKILL} has been sent to it (the fake's case makes it
    exit, as the kernel would).
    """

    spawn: Callable[[ProcessProtocol], Any]
    killed: Callable[[Any], None]

    @bothSides
    def test_signalAfterExit(self) -> Generator[Deferred[object], object, None]:
        """
        A process killed has ended with C{SIGKILL}; it then has no PID, and
        a signal raises L{ProcessExitedAlready}.
        """
        ended: Deferred[object] = Deferred()

        class Ended(ProcessProtocol):
            def processEnded(self, reason: Failure) -> None:
                ended.callback(reason.value)

        process = self.spawn(Ended())
        self.assertIsInstance(process.pid, int)
        process.signalProcess("KILL")
        self.killed(process)
        reason = yield ended
        assert isinstance(reason, ProcessTerminated)
        self.assertEqual(reason.signal, signal.SIGKILL)
        self.assertIsNone(process.pid)
        self.assertRaises(ProcessExitedAlready, process.signalProcess, "KILL")


class ListeningPortTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakePort} and a listening port of Twisted's (a
    C{tcp.Port}) both do as L{txmp._accept.AcceptLimit} pauses and resumes
    them: a push producer of connections that accepts none while paused
    (however many times it was paused), accepts again once resumed, and,
    stopped, accepts no more, resumed or not (the front stops its ports
    while connections drain, which resumes them below the limit).

    Hooks: C{makePort()} returns a port that listens (the case closes it);
    C{accepting(port)} says whether it accepts connections now.
    """

    makePort: Callable[[], Any]
    accepting: Callable[[Any], bool]

    def test_pushProducer(self) -> None:
        """
        The port is a push producer, which accepts once listening.
        """
        port = self.makePort()
        self.assertTrue(IPushProducer.providedBy(port))
        self.assertTrue(self.accepting(port))

    def test_pauseResume(self) -> None:
        """
        Paused, once or twice, the port accepts nothing; resumed once, it
        accepts again.
        """
        port = self.makePort()
        port.pauseProducing()
        self.assertFalse(self.accepting(port))
        port.pauseProducing()
        self.assertFalse(self.accepting(port))
        port.resumeProducing()
        self.assertTrue(self.accepting(port))

    def test_stopped(self) -> None:
        """
        Stopped, the port accepts nothing, and resuming it does not make
        it accept.
        """
        port = self.makePort()
        port.pauseProducing()
        port.stopProducing()
        self.assertFalse(self.accepting(port))
        port.resumeProducing()
        self.assertFalse(self.accepting(port))


class BatchingPortTestsMixin(ListeningPortTestsMixin):
    """
    What L{txmp.testing.FakeTCPPort} and a C{tcp.Port} both do as well
    (L{txmp._accept._BatchAccepting}): each time it is readable, the port
    accepts up to C{numberAccepts} connections, starting at Twisted's 100;
    after a full batch it takes 20 more the next time, after one that
    found fewer waiting, as many as it found.

    Hook: C{acceptBatch(port, waiting)} lets C{waiting} clients connect to
    the port, and lets it accept one batch.
    """

    acceptBatch: Callable[[Any, int], None]

    def test_batchSize(self) -> None:
        """
        The first batch is Twisted's size; a full batch grows the next by
        20; a batch that finds fewer clients waiting sets the next to
        their number.
        """
        port = self.makePort()
        self.assertEqual(port.numberAccepts, 100)
        port.numberAccepts = 2
        self.acceptBatch(port, 2)
        self.assertEqual(port.numberAccepts, 22)
        port.numberAccepts = 5
        self.acceptBatch(port, 3)
        self.assertEqual(port.numberAccepts, 3)


class TCPTransportTestsMixin(_TestCase):
    """
    What L{txmp.testing.TCPStringTransport} and a client's TCP transport (a
    C{tcp.Server}) both do as L{txmp._front.FrontConnection} uses them: it
    provides L{ITCPTransport}; the options set are those got; closing its
    writing half (as the front lingers over a request body it refused)
    does not close the connection, which reads on.

    Hook: C{makeTransport()} returns a connected transport (the case closes
    it).
    """

    makeTransport: Callable[[], Any]

    def test_interface(self) -> None:
        """
        The transport provides L{ITCPTransport}.
        """
        self.assertTrue(verifyObject(ITCPTransport, self.makeTransport()))

    def test_options(self) -> None:
        """
        C{TCP_NODELAY} and C{SO_KEEPALIVE}, set on and off, are got as set.
        """
        transport = self.makeTransport()
        for enabled in (True, False, True):
            transport.setTcpNoDelay(enabled)
            self.assertEqual(bool(transport.getTcpNoDelay()), enabled)
            transport.setTcpKeepAlive(enabled)
            self.assertEqual(bool(transport.getTcpKeepAlive()), enabled)

    def test_loseWriteConnection(self) -> None:
        """
        Closing the writing half does not close the connection.
        """
        transport = self.makeTransport()
        transport.loseWriteConnection()
        self.assertFalse(transport.disconnecting)


class LoggedRequestTestsMixin(_TestCase):
    """
    What L{txmp.testing.FinishedRequest} and the requests an access log is
    given (L{txmp._access.LoggedRequest}: the front's L{txmp._front.Exchange}
    and L{txmp._front.Refusal}) both give L{txmp._access.AccessLog}: a
    header's last value, by its name in lower case.

    Hook: C{loggedRequest(fields)} returns a finished C{GET /} request
    whose head had the header fields C{fields}, in order.
    """

    loggedRequest: Callable[[list[tuple[bytes, bytes]]], Any]

    def test_getHeader(self) -> None:
        """
        C{getHeader} gives the last value of a field given twice, the
        case of its name, given or in the head, making no difference (as
        in Twisted's C{Request.getHeader}), and L{None} for a field not
        given.
        """
        request = self.loggedRequest(
            [(b"User-Agent", b"first"), (b"Referer", b"http://r/"), (b"user-AGENT", b"last")]
        )
        self.assertEqual(request.getHeader(b"user-agent"), b"last")
        self.assertEqual(request.getHeader(b"USER-Agent"), b"last")
        self.assertEqual(request.getHeader(b"referer"), b"http://r/")
        self.assertIsNone(request.getHeader(b"x-missing"))

    def test_attributes(self) -> None:
        """
        Its method, target and protocol are bytes; its status and the
        length of body sent are integers.
        """
        request = self.loggedRequest([])
        self.assertEqual(
            (request.method, request.uri, request.clientproto), (b"GET", b"/", b"HTTP/1.1")
        )
        self.assertEqual((type(request.code), type(request.sentLength)), (int, int))


class TwistdOptionsTestsMixin(_TestCase):
    """
    What L{txmp.testing.FakeTwistdOptions} and twistd's own options, having
    parsed a command line that names a subcommand, both are to the
    subcommand's options (their C{parent}), as the taps read them: a dict
    of twistd's options by name, a flag given true and a parameter given
    its value, whose C{subCommand} names the subcommand.

    Hook: C{makeTwistdOptions(subCommand, **options)} returns twistd's
    options for a command line giving C{options} (C{True} for a flag) and
    naming C{subCommand}.
    """

    makeTwistdOptions: Callable[..., Any]

    def test_subCommand(self) -> None:
        """
        The options are a dict, and name the subcommand.
        """
        for name in ["mpfront", "mphandler"]:
            options = self.makeTwistdOptions(name)
            self.assertIsInstance(options, dict)
            self.assertEqual(options.subCommand, name)

    def test_given(self) -> None:
        """
        A parameter given holds its value (an empty one too), a flag given
        is true.
        """
        options = self.makeTwistdOptions(
            "mphandler", rundir="/srv/run", logfile="-", pidfile="", nodaemon=True,
            syslog=True,
        )
        self.assertEqual(
            (options["rundir"], options["logfile"], options["pidfile"]), ("/srv/run", "-", "")
        )
        self.assertTrue(options["nodaemon"])
        self.assertTrue(options["syslog"])
