# -*- test-case-name: txmp.test.test_memory -*-
"""
Tests for the in-memory fakes of L{txmp.testing}: sockets, network and
runner, and through them a L{Dispatcher} and L{FrontLink}s working together.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txmp import protocol
from txmp._defaults import HIGH_WATER_MARK
from txmp._dispatch import Dispatcher, HandlerFailed, Reply
from txmp._handler import FrontLink
from txmp._zmq import PeerUnreachable
from txmp.testing import (
    MemoryNetwork,
    MemoryRunner,
    MemorySocket,
    RecordingConsumer,
    memoryFront,
    memoryLink,
    requestMeta,
)

META = requestMeta()

# Where the front binds, as mpfront's --send and --return.
SEND = "inproc://send"
RETURN = "inproc://return"


class MemorySocketTests(SynchronousTestCase):
    """
    Tests for L{MemorySocket}.
    """

    def test_records(self) -> None:
        """
        L{MemorySocket.send} records a copy of each message's frames.
        """
        socket = MemorySocket()
        frames = protocol.encodePing()
        socket.send(frames)
        frames.append(b"changed later")
        socket.send(protocol.encodeCredit(2))
        self.assertEqual(socket.sent, [protocol.encodePing(), protocol.encodeCredit(2)])
        self.assertEqual(socket.messages(), [protocol.Ping(), protocol.Credit(2)])
        self.assertEqual(socket.backlog, 0)

    def test_routed(self) -> None:
        """
        L{MemorySocket.routedMessages} decodes a ROUTER's messages with the
        peer each went to.
        """
        socket = MemorySocket(router=True)
        socket.send([b"peer", *protocol.encodeBye()])
        self.assertEqual(socket.routedMessages(), [(b"peer", protocol.Bye())])

    def test_unreachable(self) -> None:
        """
        A ROUTER raises L{PeerUnreachable} for the peers in C{unreachable},
        and does not record those messages.
        """
        socket = MemorySocket(router=True)
        socket.unreachable.add(b"gone")
        exc = self.assertRaises(
            PeerUnreachable, socket.send, [b"gone", *protocol.encodePing()]
        )
        self.assertEqual(exc.args, (b"gone",))
        socket.send([b"here", *protocol.encodePing()])
        self.assertEqual(socket.routedMessages(), [(b"here", protocol.Ping())])

    def test_dealerIgnoresUnreachable(self) -> None:
        """
        A DEALER has no peer ids: C{unreachable} does not apply to it.
        """
        socket = MemorySocket()
        socket.unreachable.add(protocol.VERSION)
        socket.send(protocol.encodePing())
        self.assertEqual(len(socket.sent), 1)

    def test_closed(self) -> None:
        """
        Messages sent on a closed socket are discarded, as by the real one.
        """
        socket = MemorySocket()
        socket.close()
        socket.send(protocol.encodePing())
        self.assertEqual(socket.sent, [])

    def test_clear(self) -> None:
        """
        L{MemorySocket.clear} forgets the messages sent so far.
        """
        socket = MemorySocket()
        socket.send(protocol.encodePing())
        socket.clear()
        self.assertEqual(socket.sent, [])


class MemoryRunnerTests(SynchronousTestCase):
    """
    Tests for L{MemoryRunner} with a L{FrontLink}.
    """

    def setUp(self) -> None:
        self.runner = MemoryRunner()
        self.sendSocket = MemorySocket()
        self.returnSocket = MemorySocket()
        self.link = FrontLink(Clock(), self.runner, self.sendSocket,
                              self.returnSocket, "h", capacity=1)
        self.link.controlReceived(protocol.encodeWelcome(front="f"))

    def deliver(self, requestId: bytes) -> None:
        """
        Give the link a request.
        """
        self.link.controlReceived(
            protocol.encodeRequest(requestId, META, [], [b"b"])
        )

    def test_records(self) -> None:
        """
        Each run is recorded with its id, head, body and sink.
        """
        self.deliver(b"r1")
        [run] = self.runner.runs
        self.assertEqual((run.requestId, run.head.method, run.body), (b"r1", "GET", [b"b"]))
        self.assertFalse(run.cancelled)
        run.cancel()
        self.assertTrue(run.cancelled)

    def test_respond(self) -> None:
        """
        L{MemoryRun.respond} sends a complete response and finishes.
        """
        self.deliver(b"r1")
        self.runner.runs[0].respond(201, b"Created", [(b"A", b"1")], [b"x"])
        self.assertEqual(
            self.returnSocket.messages(),
            [protocol.Response(b"r1", protocol.ResponseHead(201, b"Created", ((b"A", b"1"),)),
                               [b"x"])],
        )
        self.assertEqual(self.sendSocket.messages(), [protocol.Credit(1)])

    def test_fail(self) -> None:
        """
        L{MemoryRun.fail} sends C{ERROR} and finishes.
        """
        self.deliver(b"r1")
        self.runner.runs[0].fail("nope")
        self.assertEqual(self.returnSocket.messages(), [protocol.Error(b"r1", "nope")])
        self.assertEqual(self.sendSocket.messages(), [protocol.Credit(1)])

    def test_window(self) -> None:
        """
        C{WINDOW}s from the front for a run are recorded in
        L{MemoryRun.windows}.
        """
        self.deliver(b"r1")
        self.link.controlReceived(protocol.encodeWindow(b"r1", 10))
        self.link.controlReceived(protocol.encodeWindow(b"r1", 20))
        self.assertEqual(self.runner.runs[0].windows, [10, 20])

    def test_grantInput(self) -> None:
        """
        L{MemoryRun.grantInput} sends C{WINDOW} for the request on the send
        socket.
        """
        self.deliver(b"r1")
        self.runner.runs[0].grantInput(4096)
        self.assertEqual(self.sendSocket.messages(), [protocol.Window(b"r1", 4096)])
        self.assertEqual(self.returnSocket.messages(), [])

    def test_respondWith(self) -> None:
        """
        With C{respondWith} set, every run is answered inside C{run}.
        """
        self.runner.respondWith = (200, b"OK", [], [b"auto"])
        self.deliver(b"r1")
        self.deliver(b"r2")
        self.assertEqual([type(m) for m in self.returnSocket.messages()],
                         [protocol.Response, protocol.Response])
        self.assertEqual(self.link.running, {})


class NetworkTestCase(SynchronousTestCase):
    """
    A front and two handlers on a L{MemoryNetwork}, wired as mpfront and
    mphandler wire them to their ZeroMQ sockets.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.network = MemoryNetwork()
        self.dispatcher = self.makeFront("front1")
        self.runnerA = MemoryRunner()
        self.runnerB = MemoryRunner()
        self.linkA = self.makeLink(self.runnerA, b"A", capacity=2)
        self.linkB = self.makeLink(self.runnerB, b"B", capacity=1)

    def makeFront(self, instance: str) -> Dispatcher:
        """
        A L{Dispatcher} whose ROUTER sockets are bound at L{SEND} and
        L{RETURN} (in L{frontSockets}).
        """
        dispatcher, sendSocket, returnSocket = memoryFront(
            self.network, self.clock, SEND, RETURN, instance=instance
        )
        self.frontSockets = [sendSocket, returnSocket]
        return dispatcher

    def makeLink(self, runner: MemoryRunner, routingId: bytes, capacity: int) -> FrontLink:
        """
        A L{FrontLink} named after its C{routingId}, whose DEALER sockets are
        connected to L{SEND} and L{RETURN}; not started.
        """
        link, _, _ = memoryLink(
            self.network, self.clock, runner, SEND, RETURN, routingId, capacity
        )
        return link

    def startAll(self) -> None:
        """
        Start the front and both links, and let them register.
        """
        self.dispatcher.start()
        self.linkA.start()
        self.linkB.start()
        self.network.flush()
        self.addCleanup(self.dispatcher.stop)
        self.addCleanup(self.linkA.stop)
        self.addCleanup(self.linkB.stop)

    def submit(self) -> tuple[Deferred[Reply], RecordingConsumer]:
        """
        Submit a request to the front.
        """
        consumer = RecordingConsumer()
        return consumer.submit(self.dispatcher, META, [], [], idempotent=True), consumer

    def assertNoLeak(self) -> None:
        """
        Assert that the front and the links hold no request.
        """
        counts = self.dispatcher.counts()
        self.assertEqual((counts["pending"], counts["queued"], counts["inFlight"]),
                         (0, 0, 0))
        self.assertEqual((self.linkA.running, self.linkB.running), ({}, {}))


class MemoryNetworkTests(NetworkTestCase):
    """
    Tests for L{MemoryNetwork}.
    """

    def test_registration(self) -> None:
        """
        Handlers' C{HELLO} reach the dispatcher with their routing id, and
        its C{WELCOME} reaches them, once flushed.
        """
        self.linkA.start()
        self.linkB.start()
        self.assertEqual(self.dispatcher.handlers, {})
        self.assertEqual(len(self.network.inTransit), 2)
        self.assertEqual(self.network.flush(), 4)
        self.assertEqual(sorted(self.dispatcher.handlers), [b"A", b"B"])
        self.assertEqual(self.dispatcher.counts()["credits"], 3)
        self.assertEqual((self.linkA.front, self.linkB.front), ("front1", "front1"))
        self.assertEqual(self.network.delivered, 4)
        self.linkA.stop()
        self.linkB.stop()

    def test_roundTrip(self) -> None:
        """
        A request submitted to the front reaches a handler's runner, and its
        response reaches the front; the handler's credit comes back.
        """
        self.startAll()
        d, _ = self.submit()
        self.network.flush()
        [run] = self.runnerA.runs
        self.assertNoResult(d)
        run.respond(200, b"OK", [(b"Content-Type", b"text/plain")], [b"hi"])
        self.network.flush()
        reply = self.successResultOf(d)
        self.assertEqual((reply.status, reply.body), (200, [b"hi"]))
        self.assertEqual(self.dispatcher.counts()["credits"], 3)
        self.assertNoLeak()

    def test_streaming(self) -> None:
        """
        A streamed response reaches the front's body consumer.
        """
        self.startAll()
        d, consumer = self.submit()
        self.network.flush()
        sink = self.runnerA.runs[0].sink
        sink.sendHead(200, b"OK", [], [b"a"], True)
        sink.sendBody([b"b"], False)
        sink.sendBody([b"c"], True)
        sink.finished()
        self.network.flush()
        self.assertTrue(self.successResultOf(d).more)
        self.assertEqual((consumer.chunks, consumer.finished), ([b"b", b"c"], 1))
        self.assertNoLeak()

    def test_cancel(self) -> None:
        """
        Cancelling at the front cancels the handler's run.
        """
        self.startAll()
        d, _ = self.submit()
        self.network.flush()
        d.cancel()
        self.failureResultOf(d)
        self.network.flush()
        self.assertTrue(self.runnerA.runs[0].cancelled)

    def test_unknownPeer(self) -> None:
        """
        The front's sends to a routing id no handler has raise
        L{PeerUnreachable}.
        """
        self.assertRaises(PeerUnreachable, self.frontSockets[0].send,
                          [b"nobody", *protocol.encodePing()])

    def test_disconnect(self) -> None:
        """
        A disconnected handler's messages in transit are lost, the front's
        sends to it fail, and the front then uses another handler.
        """
        self.startAll()
        self.network.disconnect(b"A")
        d, _ = self.submit()
        self.network.flush()
        self.assertNotIn(b"A", self.dispatcher.handlers)
        self.assertEqual(self.runnerA.runs, [])
        self.runnerB.runs[0].respond()
        self.network.flush()
        self.successResultOf(d)
        self.assertNoLeak()

    def test_disconnectDropsInTransit(self) -> None:
        """
        Messages in transit from or to a handler when it is disconnected
        are lost; others are kept.
        """
        self.linkA.start()
        self.linkB.start()
        self.network.disconnect(b"A")
        self.assertEqual(len(self.network.inTransit), 1)
        self.network.flush()
        self.assertEqual(list(self.dispatcher.handlers), [b"B"])
        self.network.reconnect(b"A")
        self.clock.advance(1)
        self.network.flush()
        self.assertEqual(sorted(self.dispatcher.handlers), [b"A", b"B"])
        self.linkA.stop()
        self.linkB.stop()

    def test_handlerDies(self) -> None:
        """
        A handler that dies with a request is declared dead after three
        silent heartbeats, and the request is retried on the other one.
        """
        self.startAll()
        d, _ = self.submit()
        self.network.flush()
        self.assertEqual(len(self.runnerA.runs), 1)
        self.network.disconnect(b"A")
        for _ in range(4):
            self.clock.advance(1)
            self.network.flush()
        self.assertEqual(list(self.dispatcher.handlers), [b"B"])
        self.runnerB.runs[0].respond()
        self.network.flush()
        self.successResultOf(d)
        self.assertEqual(self.dispatcher.stats["retried"], 1)
        self.assertEqual(self.dispatcher.counts()["pending"], 0)

    def test_frontRestarts(self) -> None:
        """
        A handler registered with a front that is replaced (it restarted)
        is told C{BYE} at its next heartbeat and registers with the new one.
        """
        self.startAll()
        for socket in self.frontSockets:
            socket.close()
        newFront = self.makeFront("front2")
        self.clock.advance(1)
        self.network.flush()
        self.assertEqual(sorted(newFront.handlers), [b"A", b"B"])
        self.assertEqual(self.linkA.front, "front2")

    def test_heartbeatsKeepAlive(self) -> None:
        """
        Front and handlers exchanging heartbeats keep each other alive.
        """
        self.startAll()
        for _ in range(10):
            self.clock.advance(1)
            self.network.flush()
        self.assertEqual(sorted(self.dispatcher.handlers), [b"A", b"B"])
        self.assertEqual(self.linkA.front, "front1")

    def test_flushNotReentrant(self) -> None:
        """
        L{MemoryNetwork.flush} called while flushing raises.
        """
        def reenter(frames: list[bytes]) -> None:
            self.network.flush()

        self.network.socket("dealer", reenter, HIGH_WATER_MARK, b"X").connect(SEND)
        self.frontSockets[0].send([b"X", *protocol.encodePing()])
        self.assertRaises(RuntimeError, self.network.flush)

    def test_endlessTraffic(self) -> None:
        """
        L{MemoryNetwork.flush} stops parties that never stop answering.
        """
        self.patch(MemoryNetwork, "maxDeliveries", 10)

        def echo(frames: list[bytes]) -> None:
            self.frontSockets[0].send([b"X", *frames])

        self.network.socket("dealer", echo, HIGH_WATER_MARK, b"X").connect(SEND)
        self.frontSockets[0].send([b"X", *protocol.encodePing()])
        self.assertRaises(RuntimeError, self.network.flush)

    def test_errorAcrossNetwork(self) -> None:
        """
        A run that fails gives the front's client a 502.
        """
        self.startAll()
        d, _ = self.submit()
        self.network.flush()
        self.runnerA.runs[0].fail("boom")
        self.network.flush()
        self.failureResultOf(d, HandlerFailed)
        self.assertNoLeak()
