# -*- test-case-name: txmp.test.test_dispatch -*-
"""
Tests for L{txmp._dispatch.Dispatcher}, the front's dispatcher, driven by a
L{Clock} and a L{MemorySocket}.

Every test that ends a request checks with L{DispatcherTestCase.assertNoLeak}
that the dispatcher holds nothing of it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txmp import protocol
from txmp._defaults import (
    DEFAULT_HEARTBEAT,
    DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_TIMEOUT,
    LIVENESS_LATENESS,
    LOG_MESSAGE_LENGTH,
    LOG_NAME_LENGTH,
    MAX_CREDITS,
    MAX_PEER_IDS,
    PACK_LIMIT,
    PEER_LOG_BURST,
    PEER_LOG_INTERVAL,
    PREFETCH_STALL,
    RECALL_AFTER,
)
from txmp._dispatch import (
    RETRY_SUFFIX,
    Dispatcher,
    FrontError,
    HandlerFailed,
    NoCapacity,
    Reply,
    ReplyTimeout,
)
from txmp._peerlog import idText
from txmp._zmq import PeerUnreachable
from txmp.testing import (
    FakeRawSocket,
    MemorySocket,
    RecordingConsumer,
    fakeZmqSocket,
    requestMeta,
)

A = b"handler-a"
B = b"handler-b"
C = b"handler-c"

META = requestMeta(target=b"/path?q=1", remote_addr=b"192.0.2.1", remote_port=b"40000")


class DispatcherTestCase(SynchronousTestCase):
    """
    A L{Dispatcher} sending on a L{MemorySocket}, timed by a L{Clock}, with
    helpers to play the handlers' part.

    It has mpfront's defaults, but for C{maxQueue}: 3 instead of 1000, so
    that a test can fill the queue.
    """

    timeout = DEFAULT_TIMEOUT
    queueTimeout = DEFAULT_QUEUE_TIMEOUT
    maxQueue = 3
    heartbeat = DEFAULT_HEARTBEAT

    def setUp(self) -> None:
        self.clock = Clock()
        self.socket = MemorySocket(router=True)
        self.dispatcher = Dispatcher(
            self.clock,
            self.socket,
            timeout=self.timeout,
            queueTimeout=self.queueTimeout,
            maxQueue=self.maxQueue,
            heartbeat=self.heartbeat,
            instance="front1",
        )

    # -- playing the handlers ------------------------------------------------

    def control(self, identity: bytes, frames: list[bytes]) -> None:
        """
        Deliver C{frames} from C{identity} on the send socket.
        """
        self.dispatcher.controlReceived([identity, *frames])

    def reply(self, identity: bytes, frames: list[bytes]) -> None:
        """
        Deliver C{frames} from C{identity} on the return socket.
        """
        self.dispatcher.replyReceived([identity, *frames])

    def hello(self, identity: bytes, credits: int, name: str | None = None) -> None:
        """
        Register a handler.
        """
        name = name if name is not None else identity.decode("ascii")
        self.control(identity, protocol.encodeHello(name, credits))

    def credit(self, identity: bytes, credits: int = 1) -> None:
        """
        Give a handler's credits back.
        """
        self.control(identity, protocol.encodeCredit(credits))

    def respond(
        self,
        identity: bytes,
        requestId: bytes,
        status: int = 200,
        body: Sequence[bytes] = (b"hello",),
        more: bool = False,
        headers: Sequence[tuple[bytes, bytes]] = ((b"Content-Type", b"text/plain"),),
    ) -> None:
        """
        Send a C{RESP} from C{identity}.
        """
        self.reply(
            identity,
            protocol.encodeResponse(requestId, status, b"OK", headers, body, more),
        )

    def abandoned(self) -> bytes:
        """
        Register handler A with one credit and send it a request that the
        client then gives up on: its id.  The credit is still taken.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        request, = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        d.cancel()
        self.failureResultOf(d)
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)
        return request.requestId

    def submit(
        self, idempotent: bool = True, body: Sequence[bytes] = ()
    ) -> tuple[Deferred[Reply], RecordingConsumer]:
        """
        Submit a request.
        """
        consumer = RecordingConsumer()
        d = consumer.submit(
            self.dispatcher, META, [(b"Host", b"example.com")], body, idempotent=idempotent
        )
        return d, consumer

    # -- observing -----------------------------------------------------------

    def sent(self, identity: bytes | None = None) -> list[protocol.Message]:
        """
        The messages sent so far (to C{identity}, if given), decoded.
        """
        return [
            message
            for peer, message in self.socket.routedMessages()
            if identity is None or peer == identity
        ]

    def requestIds(self, identity: bytes) -> list[bytes]:
        """
        The ids of the requests sent to C{identity}, in order.
        """
        return [
            m.requestId for m in self.sent(identity) if isinstance(m, protocol.Request)
        ]

    def cancels(self, identity: bytes) -> list[bytes]:
        """
        The ids of the C{CANCEL} messages sent to C{identity}, in order.
        """
        return [
            m.requestId for m in self.sent(identity) if isinstance(m, protocol.Cancel)
        ]

    def assertNoLeak(self, timers: bool = True) -> None:
        """
        Assert that the dispatcher holds no request any more: no pending
        entry, nothing queued, nothing in flight on any handler, and (if
        C{timers}, for a dispatcher that was not started) no timer left in
        the clock.
        """
        counts = self.dispatcher.counts()
        self.assertEqual(
            (counts["pending"], counts["queued"], counts["inFlight"]), (0, 0, 0),
            counts,
        )
        for handler in self.dispatcher.handlers.values():
            self.assertEqual(handler.inFlight, {})
        if timers:
            self.assertEqual(self.clock.getDelayedCalls(), [])

    def runFor(self, seconds: float) -> None:
        """
        Advance the clock C{seconds}, a heartbeat at most at a time, as a
        reactor that is not paused runs its timers (a jump of a heartbeat
        or more is a pause: the heartbeat runs late, PauseWatch).
        """
        until = self.clock.seconds() + seconds
        while self.clock.seconds() < until:
            self.clock.advance(min(self.heartbeat, until - self.clock.seconds()))

    def assertFrontError(self, d: Deferred[Reply], kind: type, status: int) -> FrontError:
        """
        Assert that C{d} failed with a C{kind} L{FrontError} for C{status}.
        """
        error = self.failureResultOf(d, kind).value
        assert isinstance(error, FrontError)
        self.assertEqual(error.status, status)
        return error


class RegistrationTests(DispatcherTestCase):
    """
    Handlers joining, leaving and talking nonsense.
    """

    def test_helloRegisters(self) -> None:
        """
        C{HELLO} registers the handler with its name and credits and is
        answered with C{WELCOME} naming this front and its heartbeat.
        """
        self.hello(A, 4, name="host:1")
        handler = self.dispatcher.handlers[A]
        self.assertEqual((handler.name, handler.credits), ("host:1", 4))
        welcome = {"front": "front1", "heartbeat": "1.0", "credit_in_reply": "1",
                   "packed": "1", "credit_in_end": "1", "batch": "1"}
        self.assertEqual(self.sent(A), [protocol.Welcome(welcome)])
        self.assertEqual(self.dispatcher.counts()["credits"], 4)

    def test_welcomeTellsMaxMessage(self) -> None:
        """
        A dispatcher given C{maxMessage} tells handlers in C{WELCOME}, as
        C{max_message}, the largest frame its sockets accept.
        """
        dispatcher = Dispatcher(self.clock, self.socket, instance="front1",
                                maxMessage=100000)
        dispatcher.controlReceived([A, *protocol.encodeHello("a", 1)])
        self.assertEqual(
            self.sent(A),
            [protocol.Welcome(
                {"front": "front1", "heartbeat": "1.0", "credit_in_reply": "1",
                 "max_message": "100000", "packed": "1", "credit_in_end": "1", "batch": "1"}
            )],
        )

    def test_helloBadWindow(self) -> None:
        """
        A C{HELLO} whose C{window} is not an integer (by the wire format's
        one rule) is a bad message: dropped and counted, the handler not
        registered (it was once registered without flow control).
        """
        self.control(A, protocol.encodeHello("a", 1, {"window": " 10"}))
        self.assertEqual(self.dispatcher.handlers, {})
        self.assertEqual(self.sent(A), [])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)

    def test_helloWithoutRoutingId(self) -> None:
        """
        A C{HELLO} from a routing id that starts with a zero byte, which
        libzmq makes up for a socket that set no C{ZMQ_ROUTING_ID}, is a
        bad message: dropped, counted and logged, the peer not registered
        nor answered.  Its return socket has another made-up id, so its
        every reply would be dropped and every request it took would wait
        for the timeout, while a real handler idled.
        """
        self.hello(A, 1)
        with capturedLogs() as events:
            self.control(b"\x00\x80\x00\x41\xa7", protocol.encodeHello("noid", 1000))
        text = " ".join(formatEvent(e) for e in events)
        self.assertIn("ZMQ_ROUTING_ID", text)
        self.assertEqual(list(self.dispatcher.handlers), [A])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.sent(b"\x00\x80\x00\x41\xa7"), [])
        _d, _ = self.submit()
        self.assertEqual(len(self.requestIds(A)), 1)

    def test_helloFromTakenOverConnection(self) -> None:
        """
        The line logged for a C{HELLO} from a routing id that starts with a
        zero byte names the other cause of such an id, as libzmq
        (C{ZMQ_ROUTER_HANDOVER}) names the old connection of a handler
        that connected again: what the handler sent on it, read after its
        new connection took it over (the front was paused, or the network
        cut, longer than the handler's heartbeat timeout).  A handler whose
        two sockets set the same routing id is not to blame.
        """
        with capturedLogs() as events:
            self.control(b"\x00\x6b\x8b\x45\x67", protocol.encodeHello("h1", 16))
        text = " ".join(formatEvent(e) for e in events)
        self.assertIn("set no ZMQ_ROUTING_ID, or it is what a handler sent on a"
                      " connection that its next one took over", text)

    def test_helloAgainKeepsCredits(self) -> None:
        """
        A second C{HELLO} from a known handler is welcomed again but leaves
        the front's count of its credits alone: a request that crossed the
        C{HELLO} would otherwise be credited twice, for good.  The handler
        is not duplicated.
        """
        self.hello(A, 4)
        _d, _ = self.submit()
        self.hello(A, 4)
        self.assertEqual(list(self.dispatcher.handlers), [A])
        self.assertEqual(self.dispatcher.handlers[A].credits, 3)
        self.assertEqual(
            [type(m) for m in self.sent(A)],
            [protocol.Welcome, protocol.Request, protocol.Welcome],
        )

    def test_helloAnewForgets(self) -> None:
        """
        A C{HELLO} with C{anew} from a registered handler (a connection
        of its to the front broke: a C{REQ}, or a reply with the credit it
        gave back, may be lost with it) makes the front forget it as if it
        were declared dead: its idempotent request is retried (here on
        itself, registered anew), its C{POST} fails with 502, what waited
        to be sent to it is dropped, and it is registered from the
        C{HELLO}'s credits, the C{WELCOME} saying C{registered}; once for
        each C{anew}, which the C{HELLO}s that repeat it say too.  Without
        it, a reply lost in a connection reset waited for C{--timeout}
        (504) and its credit was missing for good: a helper's 2 s of
        C{iptables -j REJECT --reject-with tcp-reset} under load left a
        front serving nothing (every request 503 after C{--queue-timeout}),
        both handlers idle and registered.
        """
        self.hello(A, 2)
        get, getConsumer = self.submit()
        post, _ = self.submit(idempotent=False)
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)
        first = self.requestIds(A)
        self.socket.clear()
        with capturedLogs() as events:
            self.control(A, protocol.encodeHello("handler-a", 2, sequence=7, anew=7))
        self.assertIn(
            "handler handler-a lost a connection to this front (its HELLO says): registered"
            " anew, its requests retried or failed",
            [formatEvent(e) for e in events],
        )
        self.assertFrontError(post, HandlerFailed, 502)
        welcome, request = self.sent(A)
        assert isinstance(welcome, protocol.Welcome)
        self.assertEqual(welcome.registered, 7)
        assert isinstance(request, protocol.Request)
        self.assertNotIn(request.requestId, first)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.assertEqual(self.dispatcher.stats["retried"], 1)
        # Replies of the forgotten registration are dropped, and their
        # credits not taken: the HELLO counted their slots.
        self.respond(A, first[0])
        self.assertNoResult(get)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.respond(A, request.requestId)
        self.successResultOf(get)
        self.assertEqual(getConsumer.requestId + b"/2", request.requestId)
        # A HELLO that repeats it (the handler says it until answered)
        # asks for nothing more; a later loss's does.
        again, _ = self.submit()
        self.control(A, protocol.encodeHello("handler-a", 2, sequence=8, anew=7))
        self.assertNoResult(again)
        self.assertEqual(len(self.dispatcher.handlers[A].inFlight), 1)
        self.control(A, protocol.encodeHello("handler-a", 2, sequence=9, anew=9))
        self.assertEqual(list(self.dispatcher.handlers[A].inFlight), [b"front1.3/2"])
        self.assertEqual(self.dispatcher.stats["retried"], 2)

    def test_helloAnewRetriedAgain(self) -> None:
        """
        An idempotent request retried once already, then lost again when
        its handler is registered anew (a broken connection, no fault of
        the request), is retried again: a reset breaks both of a handler's
        connections, each said with its own C{anew}, and a C{GET} retried
        on the first registration anew was failed with 502 on the second
        (tests/test_resilience's ConnectionResetTests saw it).  A handler's
        death still ends a twice-tried request with 502.
        """
        self.hello(A, 1)
        get, getConsumer = self.submit()
        self.control(A, protocol.encodeHello("handler-a", 1, sequence=7, anew=7))
        self.control(A, protocol.encodeHello("handler-a", 1, sequence=8, anew=8))
        [request] = [
            message for message in self.sent(A) if isinstance(message, protocol.Request)
        ][-1:]
        self.assertEqual(request.requestId, getConsumer.requestId + b"/2/2")
        self.assertEqual(self.dispatcher.stats["retried"], 2)
        self.respond(A, request.requestId)
        self.successResultOf(get)

    def test_helloAnewUnknown(self) -> None:
        """
        A C{HELLO} with C{anew} from a handler the front does not know
        (it restarted, say) registers it, as any C{HELLO} does; one from a
        draining handler changes nothing of its requests, which it still
        answers (it asks for nothing anew while it drains).
        """
        self.control(A, protocol.encodeHello("a", 2, sequence=3, anew=3))
        welcome, = self.sent(A)
        assert isinstance(welcome, protocol.Welcome)
        self.assertEqual(welcome.registered, 3)
        d, _ = self.submit()
        self.control(A, protocol.encodeBye())
        self.control(A, protocol.encodeHello("a", 2, sequence=4, anew=4))
        self.assertNoResult(d)
        self.assertEqual(len(self.dispatcher.handlers[A].inFlight), 1)

    def test_helloAnewIdleInfo(self) -> None:
        """
        A C{HELLO} with C{anew} from a registered handler with no request
        of this front's in flight (as each handler of a front that stopped
        says to the front started anew on its addresses, which registered
        it from its last C{HELLO} a moment before) is said at level info,
        without the words of a loss that did not happen: neither
        "this front", whose connections may not be the ones that broke,
        nor requests "retried or failed".  With requests in flight it is a
        warning (L{test_helloAnewForgets}).
        """
        self.hello(A, 2)
        with capturedLogs() as events:
            self.control(A, protocol.encodeHello("handler-a", 2, sequence=7, anew=7))
            self.control(A, protocol.encodeHello("handler-a", 2, sequence=8, anew=8))
        anew = [
            (e["log_level"], formatEvent(e)) for e in events if "lost a" in formatEvent(e)
        ]
        self.assertEqual(
            anew,
            [(LogLevel.info,
              "handler handler-a lost a connection to a front at these addresses (its"
              " HELLO says): registered anew, with no request of this front's in flight")]
            * 2,
        )
        self.assertEqual(self.dispatcher.handlers[A].credits, 2)

    def test_joinedLoggedOnce(self) -> None:
        """
        A handler that repeats C{HELLO} (it queued one per heartbeat before
        the front started) is logged as joined once, at the info level.
        """
        with capturedLogs() as events:
            for _ in range(3):
                self.hello(A, 4, name="host:1")
        joined = [
            e for e in events
            if e.get("log_format", "").startswith("handler {name} joined")
            and e["log_level"] >= LogLevel.info
        ]
        self.assertEqual(len(joined), 1, events)

    def test_helloEndsDraining(self) -> None:
        """
        A handler that drains and then says C{HELLO} again (it changed its
        mind, or it is a new process with the same routing id) takes
        requests again.
        """
        self.hello(A, 1)
        _d, _ = self.submit()
        self.control(A, protocol.encodeBye())
        self.hello(A, 2)
        self.assertFalse(self.dispatcher.handlers[A].draining)
        _d2, _ = self.submit()
        self.assertEqual(len(self.requestIds(A)), 2)

    def test_byeAcknowledged(self) -> None:
        """
        C{BYE} from a handler is answered with C{BYE}: after it, no C{REQ}
        comes on that socket, so the handler may leave once its requests
        are done.
        """
        self.hello(A, 5)
        self.socket.clear()
        self.control(A, protocol.encodeBye())
        self.assertEqual(self.sent(A), [protocol.Bye()])

    def test_drainingHandlerKeptUntilDone(self) -> None:
        """
        A draining handler stays registered while it has requests in flight,
        its replies are delivered, and it is forgotten once they are done.
        """
        observed: list[str] = []
        self.dispatcher.registry.drainObservers.append(observed.append)
        self.hello(A, 2)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.control(A, protocol.encodeBye())
        self.assertEqual(observed, [self.dispatcher.handlers[A].name])
        self.assertTrue(self.dispatcher.handlers[A].draining)
        self.respond(A, requestId)
        self.successResultOf(d)
        self.assertEqual(self.dispatcher.handlers, {})
        self.assertNoLeak()

    def test_drainedHandlerGoneBeforeItsReply(self) -> None:
        """
        A draining handler found unreachable (its sockets closed: a
        C{PING} to it fails) while a request is in flight at the front has
        answered it (it leaves only once it runs nothing), and the reply
        that was still on its way is delivered, not replaced by a 502.
        """
        self.hello(A, 2)
        d, _ = self.submit(idempotent=False)
        [requestId] = self.requestIds(A)
        self.control(A, protocol.encodeBye())
        self.socket.unreachable.add(A)
        self.dispatcher.registry.start()
        self.clock.advance(self.heartbeat)
        self.assertNoResult(d)
        self.respond(A, requestId)
        self.successResultOf(d)
        self.assertEqual(self.dispatcher.handlers, {})
        self.dispatcher.registry.stop()
        self.assertNoLeak()

    def test_drainedHandlerGoneSilent(self) -> None:
        """
        If the replies of such a handler never come (it died), its silence
        removes it: its requests fail with 502 after three heartbeats.
        """
        self.hello(A, 2)
        d, _ = self.submit(idempotent=False)
        self.control(A, protocol.encodeBye())
        self.socket.unreachable.add(A)
        self.dispatcher.registry.start()
        self.clock.advance(self.heartbeat)
        self.assertNoResult(d)
        self.clock.pump([self.heartbeat] * protocol.SILENT_INTERVALS)
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertEqual(self.dispatcher.handlers, {})
        self.dispatcher.registry.stop()
        self.assertNoLeak()

    def test_drainedHandlerBodyDropped(self) -> None:
        """
        A draining handler found unreachable is removed at once, and its
        requests fail or are retried as any lost handler's, if a message
        about one of them was dropped unsent (a C{BODY} of its streamed
        body): kept, its application would read a body with a hole.
        """
        self.hello(A, 2)
        d, _ = self.submit(idempotent=False)
        [requestId] = self.requestIds(A)
        self.control(A, protocol.encodeBye())
        self.dispatcher.messagesDropped(
            A, [[A, *protocol.encodeBody(requestId, [b"part"], False)]]
        )
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertEqual(self.dispatcher.handlers, {})
        self.assertNoLeak()

    def test_unknownPeerGetsBye(self) -> None:
        """
        A control message other than C{HELLO} from a peer this front does
        not know is answered with C{BYE}, and the peer is not registered.
        """
        self.credit(A, 3)
        self.control(A, protocol.encodePing())
        self.assertEqual(self.sent(A), [protocol.Bye(), protocol.Bye()])
        self.assertEqual(self.dispatcher.handlers, {})

    def test_unknownUnreachablePeer(self) -> None:
        """
        If the unknown peer cannot even be told C{BYE}, nothing happens.
        """
        self.socket.unreachable.add(A)
        self.credit(A, 3)
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.dispatcher.handlers, {})

    def test_byeDrains(self) -> None:
        """
        A handler that sent C{BYE} gets no new requests, even with credit:
        they go to another handler or wait.
        """
        self.hello(A, 5)
        self.control(A, protocol.encodeBye())
        d, _ = self.submit()
        self.assertEqual(self.requestIds(A), [])
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.hello(B, 1)
        [requestId] = self.requestIds(B)
        self.respond(B, requestId)
        self.successResultOf(d)
        self.assertEqual(self.requestIds(A), [])
        self.assertNoLeak()

    def test_drainingCreditsNotCounted(self) -> None:
        """
        A draining handler's credits are not among those the handlers can
        take now (the C{credits} of L{Dispatcher.counts}: C{txmp_credits},
        and C{--stats}' counts), as it takes no request whatever it has
        left: a request that waits while one drains found 4 counted.  Its
        own stay (C{txmp_handler_credits}, beside C{txmp_handler_draining}).
        """
        self.hello(A, 5)
        self.hello(B, 1)
        self.submit()
        self.control(A, protocol.encodeBye())
        self.assertEqual(self.dispatcher.handlers[A].credits, 4)
        self.assertEqual(self.dispatcher.counts()["credits"], 1)
        self.submit()
        self.submit()
        self.assertEqual(
            (self.dispatcher.counts()["credits"], self.dispatcher.counts()["queued"]),
            (0, 1),
        )

    def test_byeKeepsInFlight(self) -> None:
        """
        A draining handler's in-flight requests still get their replies.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        self.control(A, protocol.encodeBye())
        [requestId] = self.requestIds(A)
        self.respond(A, requestId)
        self.assertEqual(self.successResultOf(d).status, 200)
        self.assertNoLeak()

    def test_badControlMessage(self) -> None:
        """
        A control message that does not decode is counted in
        C{stats["badMessages"]} and otherwise ignored.
        """
        self.hello(A, 1)
        self.control(A, [b"TXMP0", protocol.PING])
        self.control(A, [protocol.VERSION, b"NONSENSE"])
        self.control(A, [protocol.VERSION, protocol.CREDIT, b"-1"])
        self.assertEqual(self.dispatcher.stats["badMessages"], 3)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)

    def test_dataMessageOnControlSocket(self) -> None:
        """
        A reply sent on the send socket instead of the return socket is a
        bad message.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.control(A, protocol.encodeResponse(requestId, 200, b"OK", [], []))
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertNoResult(d)

    def test_emptyMessages(self) -> None:
        """
        A message without any frame, not even the routing id, is ignored.
        """
        self.dispatcher.controlReceived([])
        self.dispatcher.replyReceived([])
        self.assertEqual(self.sent(), [])

    def test_controlMessageOnReturnSocket(self) -> None:
        """
        A control message sent on the return socket is a bad message.
        """
        self.hello(A, 1)
        self.reply(A, protocol.encodeCredit(3))
        self.reply(A, [b"garbage"])
        self.assertEqual(self.dispatcher.stats["badMessages"], 2)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)

    def test_badMessageNamesHandler(self) -> None:
        """
        The line about a bad message names its peer by routing id and,
        once it has registered, by its handler's name too, as the other
        lines about that handler do; an unregistered peer by routing id
        alone.
        """
        self.hello(A, 1)
        with capturedLogs() as events:
            self.control(A, [protocol.VERSION, b"NONSENSE"])
            self.control(B, [protocol.VERSION, b"NONSENSE"])
        [fromA, fromB] = [formatEvent(e) for e in events]
        self.assertIn(f"from peer {idText(A)} (handler handler-a): unknown message type", fromA)
        self.assertIn(f"from peer {idText(B)}: unknown message type", fromB)

    def test_badMessageFloodPaced(self) -> None:
        """
        A peer flooding bad messages (C{CREDIT}s over the cap, and
        messages that do not decode) has the first L{PEER_LOG_BURST} of
        each kind logged, then, once L{PEER_LOG_INTERVAL} has passed, one
        line saying how many more came, naming the peer; every one is
        counted in C{badMessages}.
        """
        self.hello(A, 4)
        with capturedLogs() as events:
            for _ in range(1000):
                self.credit(A, MAX_CREDITS)
            for _ in range(500):
                self.control(A, [protocol.VERSION, b"NONSENSE"])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1500)
        self.assertEqual(self.dispatcher.handlers[A].credits, 4)
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(len(warnings), PEER_LOG_BURST)
        with capturedLogs() as events:
            self.clock.advance(PEER_LOG_INTERVAL)
        [summary] = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(summary["count"], 1500 - PEER_LOG_BURST)
        self.assertIn("peer " + idText(A), formatEvent(summary))
        self.assertIn("unknown message type", formatEvent(summary))

    def test_pacedPerPeer(self) -> None:
        """
        One peer's flood of bad messages does not hide another's first.
        """
        self.hello(A, 1)
        self.hello(B, 1)
        with capturedLogs() as events:
            for _ in range(100):
                self.credit(A, MAX_CREDITS)
            self.credit(B, MAX_CREDITS)
        self.assertEqual(len(events), PEER_LOG_BURST + 1)
        self.assertIn(idText(B), formatEvent(events[-1]))

    def test_stopWritesSummaries(self) -> None:
        """
        A front that stops writes the summaries pending at once, and leaves
        no timer of them.
        """
        self.hello(A, 1)
        for _ in range(PEER_LOG_BURST + 2):
            self.credit(A, MAX_CREDITS)
        with capturedLogs() as events:
            self.dispatcher.stop()
        self.assertEqual([e.get("count") for e in events if "kind" in e], [2])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_longNameLogged(self) -> None:
        """
        A handler's C{HELLO} name, of any length and any characters but
        NUL (docs/protocol.md: a label for logs), is registered as sent,
        but every log line about the handler shows at most
        L{LOG_NAME_LENGTH} characters of it, then C{...}, with its control
        characters escaped: a peer cannot make each line 1000 bytes long,
        nor write one that looks like the front's own.
        """
        name = "\r\n2026-01-01T00:00:00+0000 [-] forged" + "x" * 1000
        self.hello(A, 1, name=name)
        self.assertEqual(self.dispatcher.handlers[A].name, name)
        with capturedLogs() as events:
            self.hello(A, 1, name=name)
            self.credit(A, MAX_CREDITS)
            self.dispatcher.registry.stop()
            self.dispatcher.registry.start()
            self.clock.pump([DEFAULT_HEARTBEAT] * 10)
        lines = [formatEvent(e) for e in events]
        self.assertEqual(len(lines), 4, lines)
        shown = "\\x0d\\x0a2026-01-01T00:00:00+0000 [-] forged" + "x" * 27 + "..."
        for line in lines:
            self.assertIn(shown, line)
            self.assertNotIn("x" * (LOG_NAME_LENGTH + 1), line)
            self.assertNotIn("\n", line)
            self.assertNotIn("\r", line)

    def test_helloOverCreditCap(self) -> None:
        """
        A C{HELLO} claiming more than L{MAX_CREDITS} credits (a
        local peer once claimed 10**18 and took every request) registers
        nothing: it is dropped, counted and logged, and requests go to the
        real handler.
        """
        self.hello(A, 2)
        for credits in [b"%d" % (MAX_CREDITS + 1,), b"999999999999999999"]:
            meta = protocol.encodePairs([(b"name", b"greedy"), (b"credits", credits)])
            with capturedLogs() as events:
                self.control(B, [protocol.VERSION, protocol.HELLO, meta])
            self.assertIn(
                "over the cap of %d" % (MAX_CREDITS,),
                " ".join(formatEvent(e) for e in events),
            )
        self.assertEqual(list(self.dispatcher.handlers), [A])
        self.assertEqual(self.dispatcher.stats["badMessages"], 2)
        self.assertEqual(self.sent(B), [])
        _d, _ = self.submit()
        self.assertEqual(len(self.requestIds(A)), 1)

    def test_creditOverCap(self) -> None:
        """
        A C{CREDIT} that would give a handler more than
        L{MAX_CREDITS} credits in all is dropped, counted and
        logged, never granted, so that capped C{CREDIT}s cannot add up
        without bound; up to the cap is granted.
        """
        self.hello(A, 4)
        with capturedLogs() as events:
            self.credit(A, MAX_CREDITS)
        self.assertEqual(self.dispatcher.handlers[A].credits, 4)
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertIn(
            "more than %d credits" % (MAX_CREDITS,),
            " ".join(formatEvent(e) for e in events),
        )
        self.credit(A, MAX_CREDITS - 4)
        self.assertEqual(self.dispatcher.handlers[A].credits, MAX_CREDITS)
        self.credit(A, 1)
        self.assertEqual(self.dispatcher.handlers[A].credits, MAX_CREDITS)
        self.assertEqual(self.dispatcher.stats["badMessages"], 2)


class DispatchTests(DispatcherTestCase):
    """
    Which handler gets a request, and when.
    """

    def test_requestFrames(self) -> None:
        """
        The C{REQ} carries a fresh id prefixed with the front's instance,
        the meta with C{more=0}, the headers and the body.
        """
        self.hello(A, 2)
        self.submit(body=[b"part1", b"part2"])
        self.submit()
        requests = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        first, second = requests
        self.assertTrue(first.requestId.startswith(b"front1."))
        self.assertNotEqual(first.requestId, second.requestId)
        self.assertEqual(first.head.method, "GET")
        self.assertEqual(first.head.target, "/path?q=1")
        self.assertFalse(first.head.more)
        self.assertEqual(first.head.headers, [("Host", "example.com")])
        self.assertEqual(first.body, [b"part1", b"part2"])
        self.assertEqual(self.dispatcher.stats["requests"], 2)

    def test_packedToHandlersThatTakeIt(self) -> None:
        """
        A handler whose C{HELLO} says C{packed=1} gets its messages packed
        (L{protocol.pack}: a C{REQ} without a body is one ZeroMQ frame
        after its id); one that does not say so gets plain C{TXMP1} frames,
        as handlers written before packing expect.  Each decodes the same.
        """
        self.control(A, protocol.encodeHello("a", 1, packed=True))
        self.hello(B, 1)
        self.socket.clear()
        self.submit()
        self.submit()
        framesTo = {frames[0]: frames[1:] for frames in self.socket.sent}
        self.assertEqual(len(framesTo[A]), 1)
        self.assertEqual(framesTo[B][:2], [protocol.VERSION, protocol.REQ])
        toA, toB = protocol.decode(framesTo[A]), protocol.decode(framesTo[B])
        assert isinstance(toA, protocol.Request) and isinstance(toB, protocol.Request)
        self.assertEqual(toA.head, toB.head)

    def test_packedAsLatestHelloSays(self) -> None:
        """
        Whether a handler is sent packed messages follows its latest
        C{HELLO}: one that comes back under the same routing id without
        C{packed=1} (an older handler) is sent plain ones again.
        """
        self.control(A, protocol.encodeHello("a", 2, packed=True))
        self.control(A, protocol.encodeHello("a", 2))
        self.socket.clear()
        self.submit()
        [frames] = self.socket.sent
        self.assertEqual(frames[1:3], [protocol.VERSION, protocol.REQ])

    def test_packedDroppedRequestRetried(self) -> None:
        """
        A packed C{REQ} that ZeroMQ dropped unsent for a gone handler is
        known for one that never left, and retried on another handler.
        """
        self.control(A, protocol.encodeHello("a", 1, packed=True))
        self.socket.clear()
        d, _ = self.submit(idempotent=False)
        [frames] = self.socket.sent
        self.hello(B, 1)
        self.socket.clear()
        self.dispatcher.messagesDropped(A, [frames])
        self.assertEqual(len(self.requestIds(B)), 1)
        self.assertNoResult(d)

    def test_batchToHandlersThatTakeIt(self) -> None:
        """
        A handler whose C{HELLO} says C{batch=1} (with C{packed=1}) has its
        messages kept for the end of the turn, to go as one C{BATCH}
        (L{PeerSender.sendSoon}); one that says only C{packed=1} gets each
        at once, as does a C{REQ} too large for one packed frame.
        """
        self.control(A, protocol.encodeHello("a", 2, packed=True, batch=True))
        self.control(B, protocol.encodeHello("b", 1, packed=True))
        self.socket.clear()
        self.submit()
        self.submit()
        self.submit(body=[b"x" * (PACK_LIMIT + 1)])
        self.assertEqual([frames[0] for frames in self.socket.sent], [A, B, A])
        [kept] = self.socket.kept
        self.assertEqual(kept, self.socket.sent[0])

    def test_requestWireBytes(self) -> None:
        """
        The C{REQ} meta frame is the meta given, then C{more} and the
        response C{window} (docs/protocol.md, REQ): byte for byte what the
        front has always sent.
        """
        self.hello(A, 2)
        self.socket.clear()
        self.dispatcher.submit(META, [(b"Host", b"example.com")], [b"x"],
                               RecordingConsumer())
        [frames] = self.socket.sent
        self.assertEqual(frames[0:3], [A, protocol.VERSION, b"REQ"])
        self.assertEqual(
            frames[4:],
            [
                b"method\0GET\0target\0/path?q=1\0version\0HTTP/1.1\0"
                b"remote_addr\x00192.0.2.1\0remote_port\x0040000\0"
                b"server_name\0example.com\0server_port\x008080\0scheme\0http\0"
                b"more\x000\0window\0" + b"%d" % (self.dispatcher.window,),
                b"Host\0example.com",
                b"x",
            ],
        )

    def test_mostCredit(self) -> None:
        """
        A request goes to the handler with the most credit, and takes one.
        """
        self.hello(A, 1)
        self.hello(B, 3)
        self.hello(C, 2)
        self.submit()
        self.assertEqual(self.requestIds(B), [self.requestIds(B)[0]])
        self.assertEqual(self.dispatcher.handlers[B].credits, 2)
        counts = self.dispatcher.counts()
        self.assertEqual((counts["pending"], counts["inFlight"], counts["queued"]),
                         (1, 1, 0))
        self.assertEqual(counts["credits"], 5)

    def test_spreadsLoad(self) -> None:
        """
        As credits are used, requests move on to the handler that now has
        the most.
        """
        self.hello(A, 2)
        self.hello(B, 2)
        for _ in range(4):
            self.submit()
        self.assertEqual((len(self.requestIds(A)), len(self.requestIds(B))), (2, 2))
        self.assertEqual(self.dispatcher.counts()["credits"], 0)

    def test_noCreditQueues(self) -> None:
        """
        Without a handler with credit, the request waits in the queue and
        nothing is sent.
        """
        self.hello(A, 0)
        d, _ = self.submit()
        self.assertNoResult(d)
        self.assertEqual(self.requestIds(A), [])
        self.assertEqual(self.dispatcher.counts()["queued"], 1)

    def test_creditDrainsFifo(self) -> None:
        """
        C{CREDIT} sends queued requests in the order they came, as many as
        the credits allow.
        """
        self.hello(A, 0)
        first, _ = self.submit()
        second, _ = self.submit()
        third, _ = self.submit()
        ids = list(self.dispatcher.queue)
        self.credit(A, 2)
        self.assertEqual(self.requestIds(A), ids[:2])
        self.assertEqual(list(self.dispatcher.queue), ids[2:])
        self.credit(A, 1)
        self.assertEqual(self.requestIds(A), ids)
        for requestId in ids:
            self.respond(A, requestId)
        for d in (first, second, third):
            self.successResultOf(d)
        self.assertNoLeak()

    def test_helloDrainsQueue(self) -> None:
        """
        A handler that joins takes queued requests at once.
        """
        d, _ = self.submit()
        self.hello(A, 1)
        [requestId] = self.requestIds(A)
        self.respond(A, requestId)
        self.successResultOf(d)
        self.assertNoLeak()

    def test_newRequestsQueueBehindWaitingOnes(self) -> None:
        """
        A new request does not overtake queued ones.
        """
        self.hello(A, 0)
        self.submit()
        self.submit()
        ids = list(self.dispatcher.queue)
        self.credit(A, 1)
        self.submit()
        self.assertEqual(self.requestIds(A), ids[:1])
        self.assertEqual(self.dispatcher.counts()["queued"], 2)

    def test_slowHandlerDoesNotBlock(self) -> None:
        """
        A request that handler A is slow to answer does not hold back a new
        request while handler B has credit: B gets it and answers first.
        """
        self.hello(B, 1)
        self.hello(A, 1)
        # (The handler that joined last wins the first tie.)
        slow, _ = self.submit()
        fast, _ = self.submit()
        [slowId] = self.requestIds(A)
        [fastId] = self.requestIds(B)
        self.respond(B, fastId)
        self.successResultOf(fast)
        self.assertNoResult(slow)
        self.respond(A, slowId)
        self.successResultOf(slow)
        self.assertNoLeak()

    def test_queueFull(self) -> None:
        """
        A request that finds the queue full fails at once with
        L{NoCapacity}, a 503, and leaves nothing behind.
        """
        waiting = [self.submit()[0] for _ in range(self.maxQueue)]
        d, _ = self.submit()
        self.assertFrontError(d, NoCapacity, 503)
        self.assertEqual(self.dispatcher.stats["status503"], 1)
        self.assertEqual(self.dispatcher.counts()["pending"], self.maxQueue)
        for w in waiting:
            w.cancel()
            self.failureResultOf(w, CancelledError)
        self.assertNoLeak()

    def test_queueTimeout(self) -> None:
        """
        A request that waited C{queueTimeout} seconds fails with
        L{NoCapacity}, and its entry is freed; later ones wait their own
        full time.
        """
        first, _ = self.submit()
        self.clock.advance(4)
        second, _ = self.submit()
        self.clock.advance(self.queueTimeout - 4 - 0.1)
        self.assertNoResult(first)
        self.clock.advance(0.1)
        self.assertFrontError(first, NoCapacity, 503)
        self.assertNoResult(second)
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.clock.advance(4)
        self.assertFrontError(second, NoCapacity, 503)
        self.assertEqual(self.dispatcher.stats["status503"], 2)
        self.assertNoLeak()

    def test_queueTimeoutAfterPause(self) -> None:
        """
        The queue's timer, run late (the front was paused past it), waits
        one heartbeat more: a credit read meanwhile takes the request.
        Without one, it fails then with L{NoCapacity}.
        """
        self.hello(A, 0)
        first, _ = self.submit()
        self.clock.advance(self.queueTimeout + 2)
        self.assertNoResult(first)
        self.credit(A)
        self.assertEqual(len(self.requestIds(A)), 1)
        self.assertNoResult(first)
        second, _ = self.submit()
        self.clock.advance(self.queueTimeout + 2)
        self.clock.advance(self.heartbeat - 0.01)
        self.assertNoResult(second)
        self.clock.advance(0.01)
        self.assertFrontError(second, NoCapacity, 503)

    def test_queueTimerEarlyAfterPause(self) -> None:
        """
        The queue's timer, run late for a request that left the queue
        meanwhile (its timer fires early for those after it), spends no
        grace: the next request whose time comes in a pause still waits
        one heartbeat more.
        """
        self.hello(A, 0)
        first, _ = self.submit()
        self.clock.advance(2)
        second, _ = self.submit()
        self.clock.advance(1)
        self.credit(A)
        self.assertEqual(len(self.requestIds(A)), 1)
        self.assertNoResult(first)
        # The timer for the first's deadline runs 1 s late: the second's
        # has not come.
        self.clock.advance(self.queueTimeout - 3 + 1)
        self.assertNoResult(second)
        # The second's timer, 2 s late: it waits a heartbeat, in which a
        # credit takes it.
        self.clock.advance(3)
        self.assertNoResult(second)
        self.credit(A)
        self.assertEqual(len(self.requestIds(A)), 2)
        self.assertNoResult(second)

    def test_lastHandlersDraining(self) -> None:
        """
        After L{Dispatcher.lastHandlers}, the requests queued fail with 503
        at once when the last handler that takes requests drains (its
        C{BYE}), not at C{queueTimeout}: none can come to take them.  Its
        requests in flight go on.
        """
        self.hello(A, 1)
        self.hello(B, 1)
        inFlight = [self.submit()[0] for _ in range(2)]
        queued = [self.submit()[0] for _ in range(2)]
        self.dispatcher.lastHandlers(lambda: False)
        self.control(A, protocol.encodeBye())
        for d in queued:
            self.assertNoResult(d)
        self.control(B, protocol.encodeBye())
        for d in queued:
            self.assertFrontError(d, NoCapacity, 503)
        self.assertEqual(self.dispatcher.counts()["queued"], 0)
        # Their waits are observed, as at --queue-timeout (with the two
        # dispatched at once).
        self.assertEqual(self.dispatcher.queueWait.count, 4)
        for d in inFlight:
            self.assertNoResult(d)
        # And one that comes now fails at once too.
        late, _ = self.submit()
        self.assertFrontError(late, NoCapacity, 503)
        self.assertEqual(self.dispatcher.stats["status503"], 3)

    def test_lastHandlersBusy(self) -> None:
        """
        After L{Dispatcher.lastHandlers}, a request waits in the queue as
        usual while a handler that takes requests is registered, without
        credit for now: it will have some.
        """
        self.hello(A, 1)
        self.submit()
        second, _ = self.submit()
        self.dispatcher.lastHandlers(lambda: False)
        self.dispatcher.failStranded()
        self.assertNoResult(second)
        [request] = self.requestIds(A)
        self.respond(A, request)
        self.credit(A)
        self.assertEqual(len(self.requestIds(A)), 2)
        self.assertNoResult(second)

    def test_lastHandlersGone(self) -> None:
        """
        After L{Dispatcher.lastHandlers}, with no handler registered, a
        request submitted fails with 503 at once; before, it waits for one
        to join.
        """
        waiting, _ = self.submit()
        self.assertNoResult(waiting)
        self.dispatcher.lastHandlers(lambda: False)
        # (It only notes it: it may be called from a signal handler.)
        self.assertNoResult(waiting)
        self.dispatcher.failStranded()
        self.assertFrontError(waiting, NoCapacity, 503)
        self.assertNoLeak()

    def test_lastHandlersBooting(self) -> None:
        """
        After L{Dispatcher.lastHandlers}, requests wait in the queue while
        a handler may still join (one spawned still boots), though none
        registered takes requests; once none may, they fail at the next
        occasion.
        """
        self.hello(A, 1)
        self.submit()
        waiting, _ = self.submit()
        booting = [True]
        self.dispatcher.lastHandlers(lambda: booting[0])
        self.control(A, protocol.encodeBye())
        self.dispatcher.failStranded()
        self.assertNoResult(waiting)
        booting[0] = False
        self.dispatcher.failStranded()
        self.assertFrontError(waiting, NoCapacity, 503)

    def test_queueTimeoutFailsEachOnce(self) -> None:
        """
        Retried requests that reach C{queueTimeout} together each fail
        once, though the 503 of the first brings its connection's next
        request, whose submission fails the others as stranded
        (L{Dispatcher.lastHandlers}: a handler the front spawned died
        booting, which nothing else tells it): they are not failed a second
        time, nor counted twice.
        """
        booting = [True]
        self.dispatcher.lastHandlers(lambda: booting[0])
        self.hello(A, 2)
        retried = [self.submit()[0] for _ in range(2)]
        self.dispatcher.messagesDropped(A, [])
        self.assertEqual(self.dispatcher.stats["retried"], 2)
        successors: list[Deferred[Reply]] = []
        brought = [False]

        def pipelined(failure: Failure) -> Failure:
            # (The first 503 only: its connection's next request.)
            if not brought[0]:
                brought[0] = True
                successors.append(self.submit()[0])
            return failure

        for d in retried:
            d.addErrback(pipelined)
        booting[0] = False
        self.clock.advance(self.queueTimeout)
        for d in [*retried, *successors]:
            self.assertFrontError(d, NoCapacity, 503)
        self.assertEqual(self.dispatcher.stats["status503"], 3)
        self.assertEqual(self.dispatcher.queueWait.count, 5)
        self.assertNoLeak()

    def test_queueTimeoutWaitObserved(self) -> None:
        """
        The wait of a request that got 503 after C{queueTimeout} seconds in
        the queue is in the queue-wait histogram (C{txmp_queue_wait_seconds}),
        as is that of one dispatched after waiting: the histogram showed no
        wait at all while every request waited and failed.
        """
        first, _ = self.submit()
        self.clock.advance(self.queueTimeout)
        self.assertFrontError(first, NoCapacity, 503)
        wait = self.dispatcher.queueWait
        self.assertEqual((wait.count, wait.sum), (1, self.queueTimeout))
        self.assertNoLeak()

    def test_cancelledWaitObserved(self) -> None:
        """
        The wait of a request whose client went away while it was queued
        (a proxy's or a client's timeout shorter than C{queueTimeout}) is
        in the queue-wait histogram too, once: else clients that give up
        sooner than the front hide every long wait.  One cancelled after it
        was dispatched is not counted again.
        """
        first, _ = self.submit()
        second, _ = self.submit()
        self.clock.advance(2)
        first.cancel()
        self.failureResultOf(first)
        wait = self.dispatcher.queueWait
        self.assertEqual((wait.count, wait.sum), (1, 2))
        self.clock.advance(1)
        self.hello(A, 1)
        second.cancel()
        self.failureResultOf(second)
        self.assertEqual((wait.count, wait.sum), (2, 5))
        self.assertEqual(self.dispatcher.stats["cancelled"], 2)
        self.assertNoLeak(timers=False)

    def test_dispatchedRequestsDoNotQueueTimeout(self) -> None:
        """
        A request taken from the queue no longer counts towards the queue
        timeout.
        """
        d, _ = self.submit()
        self.clock.advance(self.queueTimeout - 1)
        self.hello(A, 1)
        self.clock.advance(5)
        self.assertNoResult(d)
        [requestId] = self.requestIds(A)
        self.respond(A, requestId)
        self.successResultOf(d)
        self.assertNoLeak()


class ReplyTests(DispatcherTestCase):
    """
    Replies from handlers.
    """

    def setUp(self) -> None:
        DispatcherTestCase.setUp(self)
        self.hello(A, 1)
        self.hello(B, 0)
        self.d, self.consumer = self.submit()
        [self.requestId] = self.requestIds(A)

    def test_completeReply(self) -> None:
        """
        A C{RESP} without more body fires the Deferred with a L{Reply}
        holding its status, reason, headers and body, and frees the entry.
        The handler's credit stays used until it sends C{CREDIT}.
        """
        self.reply(A, protocol.encodeResponse(
            self.requestId, 201, b"Created",
            [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")], [b"a", b"b"]))
        reply = self.successResultOf(self.d)
        self.assertEqual(reply.status, 201)
        self.assertEqual(reply.reason, b"Created")
        self.assertEqual(reply.headers, ((b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")))
        self.assertEqual(reply.body, [b"a", b"b"])
        self.assertFalse(reply.more)
        self.assertEqual(self.dispatcher.stats["replies"], 1)
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)
        self.assertNoLeak()

    def test_cancelCompleteReply(self) -> None:
        """
        Cancelling a complete L{Reply} does nothing: no C{CANCEL} is sent.
        """
        self.respond(A, self.requestId)
        self.successResultOf(self.d).cancel()
        self.assertEqual(self.cancels(A), [])
        self.assertEqual(self.dispatcher.stats["cancelled"], 0)
        self.assertNoLeak()

    def test_streamedReply(self) -> None:
        """
        After a C{RESP} with more to come, C{BODY} chunks go to the
        consumer, and C{END} finishes it and frees the entry.
        """
        self.respond(A, self.requestId, body=[b"first"], more=True)
        reply = self.successResultOf(self.d)
        self.assertTrue(reply.more)
        self.assertEqual(reply.body, [b"first"])
        self.assertEqual(self.dispatcher.counts()["pending"], 1)
        self.reply(A, protocol.encodeBody(self.requestId, [b"x", b"y"], False))
        self.reply(A, protocol.encodeBody(self.requestId, [], False))
        self.assertEqual(self.consumer.chunks, [b"x", b"y"])
        self.assertEqual(self.consumer.finished, 0)
        self.reply(A, protocol.encodeBody(self.requestId, [b"z"], True))
        self.assertEqual(self.consumer.chunks, [b"x", b"y", b"z"])
        self.assertEqual((self.consumer.finished, self.consumer.aborted), (1, 0))
        self.assertNoLeak()

    def test_errorBeforeHead(self) -> None:
        """
        C{ERROR} before any C{RESP} fails the Deferred with
        L{HandlerFailed}, a 502 carrying the handler's message.
        """
        self.reply(A, protocol.encodeError(self.requestId, "boom"))
        error = self.assertFrontError(self.d, HandlerFailed, 502)
        self.assertEqual(str(error), "boom")
        self.assertEqual(self.dispatcher.stats["status502"], 1)
        self.assertNoLeak()

    def test_errorMessageLogged(self) -> None:
        """
        C{ERROR}'s message, text the handler chose, is logged with its
        control characters escaped and cut after L{LOG_MESSAGE_LENGTH}
        characters, as a C{HELLO}'s name is: a handler cannot write a line
        that looks like the front's own, nor one as long as it likes.
        """
        message = "boom\r\n2026-01-01T00:00:00+0000 [-] forged" + "x" * 1000
        with capturedLogs() as events:
            self.reply(A, protocol.encodeError(self.requestId, message))
        [line] = [formatEvent(e) for e in events if "failed request" in formatEvent(e)]
        self.assertIn("boom\\x0d\\x0a2026-01-01T00:00:00+0000 [-] forged", line)
        self.assertNotIn("\n", line)
        self.assertNotIn("x" * (LOG_MESSAGE_LENGTH + 1), line)
        self.assertTrue(line.endswith("..."), line)
        self.assertEqual(str(self.assertFrontError(self.d, HandlerFailed, 502)), message)

    def test_linesNameAccessLogId(self) -> None:
        """
        The front's lines about a request (failed by its handler, timed
        out, answered with an invalid reply) name it by the id its access
        log line, its application and its handler's log give it (its
        consumer's: the C{X-Request-Id}), as the line for a lost handler
        does (L{UnreachableTests.test_lostLoggedByAccessLogId}), not by the
        dispatcher's own id, which is another for a trusted proxy's
        C{X-Request-Id}.
        """
        # As a trusted proxy's X-Request-Id, which the dispatcher does not
        # take for its own.
        self.consumer.requestId = b"proxy-id-1"
        with capturedLogs() as events:
            self.reply(A, protocol.encodeError(self.requestId, "boom"))
        self.assertIn(
            "handler handler-a failed request proxy-id-1: boom",
            [formatEvent(e) for e in events],
        )
        self.assertFrontError(self.d, HandlerFailed, 502)
        self.credit(A)
        d, consumer = self.submit()
        consumer.requestId = b"proxy-id-2"
        with capturedLogs() as events:
            self.clock.advance(self.timeout)
        self.assertIn(
            "request proxy-id-2 timed out on handler handler-a",
            [formatEvent(e) for e in events],
        )
        self.assertFrontError(d, ReplyTimeout, 504)
        self.credit(A)
        d, consumer = self.submit()
        consumer.requestId = b"proxy-id-3"
        self.respond(A, self.requestIds(A)[-1])
        with capturedLogs() as events:
            self.successResultOf(d).invalid("too short", 502)
        self.assertIn(
            "handler handler-a sent an invalid reply to request proxy-id-3: too short",
            [formatEvent(e) for e in events],
        )
        self.assertNoLeak()

    def test_errorAfterHead(self) -> None:
        """
        C{ERROR} after a C{RESP} with more to come aborts the body.
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        self.reply(A, protocol.encodeError(self.requestId, "boom"))
        self.assertEqual((self.consumer.finished, self.consumer.aborted), (0, 1))
        self.assertNoLeak()

    def test_replyFromAnotherHandler(self) -> None:
        """
        A reply from a routing id other than the one the request was sent
        to is dropped and counted; the right handler can still answer.
        """
        self.respond(B, self.requestId)
        self.reply(B, protocol.encodeError(self.requestId, "not yours"))
        self.assertNoResult(self.d)
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 2)
        self.respond(A, self.requestId)
        self.successResultOf(self.d)
        self.assertNoLeak()

    def test_replyFromUnregisteredPeerLogged(self) -> None:
        """
        Replies from a routing id that never registered (a handler whose
        return socket's C{ZMQ_ROUTING_ID} differs from its send socket's,
        or is unset: docs/protocol.md, 2.1) are dropped and counted, and
        logged once per routing id as a warning naming it, saying why all
        of them are dropped.  A registered handler's dropped replies (late,
        or for another's request) are not logged.
        """
        other = b"return-of-a"
        with capturedLogs() as events:
            self.respond(other, self.requestId)
            self.reply(other, protocol.encodeError(self.requestId, "again"))
            self.respond(B, self.requestId)
            self.respond(A, b"front1.ffff")
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 4)
        warnings = [e for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(len(warnings), 1, events)
        text = formatEvent(warnings[0])
        self.assertIn(idText(other), text)
        self.assertIn("has not registered (yet", text)
        self.assertIn("ZMQ_ROUTING_ID", text)
        self.assertNoResult(self.d)

    def test_replyFromFormerHandlerNotLogged(self) -> None:
        """
        Late replies from a handler the front forgot (drained, or declared
        dead) are dropped and counted without a warning: that routing id
        did register.
        """
        self.control(B, protocol.encodeBye())
        self.assertNotIn(B, self.dispatcher.handlers)
        with capturedLogs() as events:
            self.respond(B, self.requestId)
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)
        self.assertEqual(
            [e for e in events if e["log_level"] >= LogLevel.warn], []
        )

    def test_replyFromMadeUpIdLogged(self) -> None:
        """
        Replies from a routing id that starts with a zero byte (libzmq's,
        for a return socket that set no C{ZMQ_ROUTING_ID}) are logged once
        per id, saying so; each new connection of such a socket has a new
        id, logged again.
        """
        with capturedLogs() as events:
            for identity in [b"\x00\x80\x00\x41\xa7", b"\x00\x80\x00\x41\xa7",
                             b"\x00\x80\x00\x41\xa8"]:
                self.respond(identity, self.requestId)
        texts = [formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(len(texts), 2, texts)
        self.assertIn("00800041a7", texts[0])
        self.assertIn("set no ZMQ_ROUTING_ID", texts[0])
        # Or, after a pause of the front, a handler's old connection.
        self.assertIn("or they came on a connection that a handler's next one"
                      " took over", texts[0])

    def test_unregisteredPeerMemoryBounded(self) -> None:
        """
        The routing ids remembered so (that registered, or whose replies
        were logged) are at most L{MAX_PEER_IDS}, whatever ids a peer
        makes up: past that they are forgotten, and logged again.
        """
        with capturedLogs() as events:
            for n in range(MAX_PEER_IDS + 5):
                self.respond(b"peer%d" % (n,), self.requestId)
        self.assertLessEqual(len(self.dispatcher._peersSeen), MAX_PEER_IDS)
        self.assertEqual(
            len([e for e in events if e["log_level"] >= LogLevel.warn]),
            MAX_PEER_IDS + 5,
        )
        with capturedLogs() as events:
            self.respond(A, b"front1.ffff")
        self.assertEqual(events, [])

    def test_unknownRequestId(self) -> None:
        """
        A reply for a request id the front does not have is dropped and
        counted.
        """
        self.respond(A, b"front1.ffff")
        self.reply(A, protocol.encodeBody(b"nope", [b"x"], True))
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 2)
        self.assertNoResult(self.d)

    def test_bodyBeforeHead(self) -> None:
        """
        C{BODY} before C{RESP} is a bad message and is not delivered.
        """
        self.reply(A, protocol.encodeBody(self.requestId, [b"x"], True))
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.consumer.chunks, [])
        self.assertNoResult(self.d)

    def test_secondHead(self) -> None:
        """
        A second C{RESP} for a streaming request is a bad message.
        """
        self.respond(A, self.requestId, more=True)
        self.respond(A, self.requestId, body=[b"again"])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.consumer.chunks, [])
        self.reply(A, protocol.encodeBody(self.requestId, [], True))
        self.assertEqual(self.consumer.finished, 1)
        self.assertNoLeak()

    def test_badReplyFrames(self) -> None:
        """
        A garbled reply to a request the sender has is counted in
        C{stats["badMessages"]} and fails the request with L{HandlerFailed}
        at once, rather than with L{ReplyTimeout} later.
        """
        self.reply(A, [protocol.VERSION, protocol.RESP, self.requestId, b"status\x00x", b""])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        error = self.assertFrontError(self.d, HandlerFailed, 502)
        self.assertEqual(str(error), "invalid reply")
        self.assertNoLeak()

    def test_badPackedReply(self) -> None:
        """
        A garbled packed reply (docs/protocol.md, 3.1) to a request the
        sender has fails it at once too: its id is read from the packed
        frame.
        """
        garbled = [protocol.VERSION, protocol.RESP, self.requestId, b"status\x00x", b""]
        self.reply(A, protocol.pack(garbled))
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertFrontError(self.d, HandlerFailed, 502)
        self.assertNoLeak()

    def test_badPackingCounted(self) -> None:
        """
        A packed frame whose lengths run past its end is a bad message,
        counted, failing no request.
        """
        [packed] = protocol.pack([protocol.VERSION, protocol.BODY, self.requestId])
        self.reply(A, [packed[:-1]])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertNoResult(self.d)

    def test_badReplyFramesMidStream(self) -> None:
        """
        A garbled message in the middle of a streamed reply aborts it.
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        self.reply(A, [b"TXMP0", protocol.BODY, self.requestId, b"x"])
        self.assertEqual((self.consumer.finished, self.consumer.aborted), (0, 1))
        self.assertNoLeak()

    def test_badReplyFramesFromOtherPeer(self) -> None:
        """
        A garbled reply naming a request that another handler has is only
        counted: it does not fail that request.
        """
        self.reply(B, [protocol.VERSION, protocol.RESP, self.requestId, b"status", b""])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertNoResult(self.d)

    def test_badReplyFramesWithoutId(self) -> None:
        """
        A garbled reply too short to name a request is only counted.
        """
        self.reply(A, [protocol.VERSION, protocol.RESP])
        self.reply(A, [b"junk"])
        self.assertEqual(self.dispatcher.stats["badMessages"], 2)
        self.assertNoResult(self.d)

    def test_timeout(self) -> None:
        """
        Without any reply within C{timeout} seconds the Deferred fails with
        L{ReplyTimeout}, a 504; the handler is told C{CANCEL}, the entry is
        freed, and a late reply is dropped and counted.
        """
        self.clock.advance(self.timeout - 0.5)
        self.assertNoResult(self.d)
        self.clock.advance(0.5)
        self.assertFrontError(self.d, ReplyTimeout, 504)
        self.assertEqual(self.cancels(A), [self.requestId])
        self.assertEqual(self.dispatcher.stats["status504"], 1)
        self.assertNoLeak()
        self.respond(A, self.requestId)
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)
        self.assertNoLeak()

    def test_timeoutAfterPause(self) -> None:
        """
        A reply timer whose call runs late, the front having been paused
        past it, waits one heartbeat more: a reply read meanwhile (it came
        while the front was paused, ZeroMQ's I/O thread had yet to hand it
        on) is served, not answered 504.  Without one, the request times
        out then.
        """
        self.clock.advance(self.timeout + 2)
        self.assertNoResult(self.d)
        self.respond(A, self.requestId)
        self.assertEqual(self.successResultOf(self.d).status, 200)
        self.assertEqual(self.dispatcher.stats["status504"], 0)
        self.credit(A)
        other, _ = self.submit()
        [otherId] = self.requestIds(A)[1:]
        self.clock.advance(self.timeout + 2)
        self.clock.advance(self.heartbeat - 0.01)
        self.assertNoResult(other)
        self.clock.advance(0.01)
        self.assertFrontError(other, ReplyTimeout, 504)
        self.assertEqual(self.cancels(A), [otherId])

    def test_anyStatusCounted(self) -> None:
        """
        A request failed with a L{FrontError} of any status, not only the
        usual 502, 503 and 504, is answered and counted under that status.
        """

        class Teapot(FrontError):
            status = 418

        self.dispatcher._fail(self.dispatcher.pending[self.requestId], Teapot("tea"))
        self.assertFrontError(self.d, Teapot, 418)
        self.assertEqual(self.dispatcher.stats["status418"], 1)
        self.assertEqual(self.dispatcher.stats["status500"], 0)
        self.assertNoLeak()

    def test_invalidWhileStreaming(self) -> None:
        """
        A reply the front finds invalid while the handler still sends it
        (its body passed its C{Content-Length}) is logged and counted, and
        the handler is told C{CANCEL}; what it sends after is dropped.
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        self.respond(A, self.requestId, more=True)
        reply = self.successResultOf(self.d)
        reply.invalid("too long")
        self.assertEqual(self.cancels(A), [self.requestId])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.dispatcher.stats["cancelled"], 0)
        self.assertNoLeak()
        self.reply(A, protocol.encodeBody(self.requestId, [b"more"], True))
        self.assertEqual(self.consumer.chunks, [])
        [event] = [e for e in events if "invalid reply" in e["log_format"]]
        self.assertEqual((event["name"], event["why"]), ("handler-a", "too long"))

    def test_invalidComplete(self) -> None:
        """
        A complete reply found invalid is logged and counted, with the
        status the client got instead; no C{CANCEL} is sent for it.
        """
        self.respond(A, self.requestId)
        self.successResultOf(self.d).invalid("too short", 502)
        self.assertEqual(self.cancels(A), [])
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.dispatcher.stats["status502"], 1)
        self.assertNoLeak()

    def test_timeoutRestartsOnEachMessage(self) -> None:
        """
        The timeout counts from the latest reply message: a slow but steady
        stream is not cut off.
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        for _ in range(3):
            self.clock.advance(self.timeout - 1)
            self.reply(A, protocol.encodeBody(self.requestId, [b"."], False))
        self.assertEqual(self.consumer.aborted, 0)
        self.reply(A, protocol.encodeBody(self.requestId, [], True))
        self.assertEqual(self.consumer.finished, 1)
        self.assertNoLeak()

    def test_emptyBodyNoProgress(self) -> None:
        """
        A C{BODY} without a body byte (no frame, or empty frames) is no
        progress: a handler that sends nothing else for C{timeout} seconds
        has its stream aborted and gets C{CANCEL}, however many such
        messages it sends.
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        self.clock.advance(1)
        self.reply(A, protocol.encodeBody(self.requestId, [b"."], False))
        for chunks in ([], [b""], [b"", b""]) * 3:
            self.clock.advance(self.timeout / 10)
            self.reply(A, protocol.encodeBody(self.requestId, chunks, False))
        self.clock.advance(self.timeout / 10 - 0.5)
        self.assertEqual(self.consumer.aborted, 0)
        self.clock.advance(0.5)
        self.assertEqual((self.consumer.finished, self.consumer.aborted), (0, 1))
        self.assertEqual(self.cancels(A), [self.requestId])
        self.assertNoLeak()

    def test_timeoutRestartsOnWindow(self) -> None:
        """
        A C{WINDOW} from the handler (its application reading the request
        body) is progress too: the timeout counts from it.
        """
        self.clock.advance(self.timeout - 1)
        self.control(A, protocol.encodeWindow(self.requestId, 10))
        self.clock.advance(self.timeout - 1)
        self.assertNoResult(self.d)
        self.clock.advance(1)
        self.assertFrontError(self.d, ReplyTimeout, 504)
        self.assertNoLeak()

    def test_timeoutWhileStreaming(self) -> None:
        """
        A stream that stalls for C{timeout} seconds is aborted and the
        handler told C{CANCEL}.
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        self.clock.advance(self.timeout)
        self.assertEqual((self.consumer.finished, self.consumer.aborted), (0, 1))
        self.assertEqual(self.cancels(A), [self.requestId])
        self.assertNoLeak()
        self.reply(A, protocol.encodeBody(self.requestId, [b"late"], True))
        self.assertEqual(self.consumer.chunks, [])
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)

    def test_slowClientNotTimedOut(self) -> None:
        """
        A stream whose client's transport is full when C{timeout} passes,
        the client having taken some of the response meanwhile (the handler
        waits for the window that frees), gets C{timeout} more: the stream
        goes on, and is aborted, the handler told C{CANCEL}, only once a
        timeout passes with the client full and taking nothing, which is
        said as the client's doing, not the handler's, and counted as no
        status of the front's but as C{slowClients}; the consumer says so
        (L{ReplyConsumer.abortSlow}: the front's, paced by client).
        """
        events: list[LogEvent] = []
        self.dispatcher._log = Logger(observer=cast(ILogObserver, events.append))
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        self.consumer.taking = True
        for _ in range(3):
            self.clock.advance(self.timeout)
        self.assertEqual(self.consumer.aborted, 0)
        self.assertEqual(self.cancels(A), [])
        self.consumer.taking = False
        self.clock.advance(self.timeout - 0.5)
        self.assertEqual(self.consumer.aborted, 0)
        self.clock.advance(0.5)
        self.assertEqual((self.consumer.finished, self.consumer.aborted), (0, 1))
        self.assertEqual(self.cancels(A), [self.requestId])
        self.assertEqual(self.dispatcher.stats["status504"], 0)
        self.assertEqual(self.dispatcher.stats["slowClients"], 1)
        self.assertNoLeak()
        self.assertEqual(self.consumer.slow, [self.timeout])
        self.assertEqual([e for e in events if "timed out" in e["log_format"]], [])

    def test_whenIdle(self) -> None:
        """
        L{Dispatcher.whenIdle} fires once no request is pending, at once
        if none is; cancelled, it is forgotten (the last request's end
        then fires nothing).
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        idle = self.dispatcher.whenIdle()
        forgotten = self.dispatcher.whenIdle()
        forgotten.cancel()
        self.failureResultOf(forgotten, CancelledError)
        self.assertNoResult(idle)
        self.reply(A, protocol.encodeBody(self.requestId, [], True))
        self.successResultOf(idle)
        self.successResultOf(self.dispatcher.whenIdle())

    def test_abandonAll(self) -> None:
        """
        L{Dispatcher.abandonAll} tells the handler of every pending request
        C{CANCEL} and frees them, counting none as cancelled by a client.
        """
        self.respond(A, self.requestId, more=True)
        self.successResultOf(self.d)
        self.dispatcher.abandonAll()
        self.assertEqual(self.cancels(A), [self.requestId])
        self.assertEqual(self.dispatcher.stats["cancelled"], 0)
        self.assertNoLeak()

    def test_clientTakingOnlyWhileStreaming(self) -> None:
        """
        Before its reply has begun, a request times out on its handler
        whatever its client's transport holds (a pipelined response before
        it): the client is not asked.
        """
        self.consumer.taking = True
        self.clock.advance(self.timeout)
        self.assertFrontError(self.d, ReplyTimeout, 504)
        self.assertEqual(self.cancels(A), [self.requestId])


class TieTests(DispatcherTestCase):
    """
    Among handlers with as much credit, requests are spread.
    """

    def test_roundRobinAmongTies(self) -> None:
        """
        Sequential requests (each answered before the next) to handlers
        with equal credit go to each in turn, the newest first.
        """
        self.hello(A, 2)
        self.hello(B, 2)
        served = []
        for _ in range(4):
            d, _ = self.submit()
            [(identity, request)] = [
                (peer, m) for peer, m in self.socket.routedMessages()
                if isinstance(m, protocol.Request)
            ][-1:]
            served.append(identity)
            self.respond(identity, request.requestId)
            self.credit(identity)
            self.successResultOf(d)
        self.assertEqual(served, [B, A, B, A])

    def test_newHandlerFirstAmongTies(self) -> None:
        """
        A handler that joins wins ties with handlers already dispatched to.
        """
        self.hello(A, 2)
        _d, _ = self.submit()
        [request] = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        self.respond(A, request.requestId)
        self.credit(A)
        self.hello(B, 2)
        self.submit()
        self.assertEqual(len([m for m in self.sent(B) if isinstance(m, protocol.Request)]), 1)


class PrefetchTests(DispatcherTestCase):
    """
    Handlers with a C{prefetch} get requests to wait for a thread only
    while no handler has one free, and only while they end requests.
    """

    def busyHandlers(self) -> tuple[bytes, bytes]:
        """
        Register handlers A and B, each of one thread and C{prefetch} 2,
        and give each a request, which keeps its thread.

        @return: the ids of A's request and of B's.
        """
        for identity in (A, B):
            self.control(identity, protocol.encodeHello(
                identity.decode(), 3, prefetch=2))
        self.submit()
        self.submit()
        [slowA] = self.requestIds(A)
        [slowB] = self.requestIds(B)
        return slowA, slowB

    def test_waitsAtFrontWhileThreadsHeld(self) -> None:
        """
        While every thread of every handler is busy and neither ended a
        request in the last L{PREFETCH_STALL} seconds (slow requests, say),
        a request waits in the front's queue although both have credits
        left, and goes to the first handler that ends one: no timer is
        needed, since only credit coming back makes a handler eligible.
        Once a handler ends requests, requests are sent to wait there.
        """
        slowA, slowB = self.busyHandlers()
        self.clock.advance(1)
        waiting, _ = self.submit()
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.clock.advance(PREFETCH_STALL * 10)
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.respond(B, slowB)
        self.credit(B)
        self.assertEqual(self.dispatcher.counts()["queued"], 0)
        self.assertEqual(len(self.requestIds(B)), 2)
        # B's only thread is busy again, and the request it ended took a
        # second: the next request waits at the front.
        self.submit()
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        # B ends the next one at once: it serves fast requests now, and
        # takes one for its thread and one to wait for it.
        self.clock.advance(PREFETCH_STALL / 2)
        self.respond(B, self.requestIds(B)[1])
        self.credit(B)
        self.submit()
        self.assertEqual(self.dispatcher.counts()["queued"], 0)
        self.assertEqual(len(self.requestIds(B)), 4)
        self.assertEqual(self.requestIds(A), [slowA])
        # The request that waited at the front was answered by B.
        self.successResultOf(waiting)

    def test_backlogNotSentBehindSlowThreads(self) -> None:
        """
        A handler that ends a long request gets the head of the front's
        queue, for the thread that request freed, and no more: the queue
        drains as credit comes back, so every handler's credit comes back
        just as requests wait, and one request ended says nothing of how
        fast its threads go.  The rest of the queue waits at the front,
        for the first thread free anywhere, until a handler ends two
        requests within L{PREFETCH_STALL} seconds.
        """
        slowA, _ = self.busyHandlers()
        for _ in range(3):
            self.submit()
        self.assertEqual(self.dispatcher.counts()["queued"], 3)
        self.clock.advance(1)
        self.respond(A, slowA)
        self.credit(A)
        self.assertEqual(len(self.requestIds(A)), 2)
        self.assertEqual(self.dispatcher.counts()["queued"], 2)
        # A ends that one at once: it serves fast requests now.
        self.clock.advance(PREFETCH_STALL / 2)
        self.respond(A, self.requestIds(A)[1])
        self.credit(A)
        self.assertEqual(self.dispatcher.counts()["queued"], 0)
        self.assertEqual(len(self.requestIds(A)), 4)

    def test_onlyRetriableRequestsWait(self) -> None:
        """
        A request the front may not retry (not idempotent) is never sent
        to wait for a thread: a handler that dies takes its waiting
        requests with it, and such a request would get 502 without ever
        having run.  It waits at the front for a thread free, and the
        queue behind it keeps its order.
        """
        self.control(A, protocol.encodeHello("A", 4, prefetch=3))
        self.submit()
        # A ends two requests at once: it serves fast requests.
        for _ in range(2):
            self.respond(A, self.requestIds(A)[-1])
            self.credit(A)
            self.submit()
        self.assertEqual(len(self.requestIds(A)), 3)
        post, _ = self.submit(idempotent=False)
        get, _ = self.submit()
        self.assertEqual(self.dispatcher.counts()["queued"], 2)
        self.assertEqual(len(self.requestIds(A)), 3)
        # A's thread is free again: the POST goes to it, then the GET to
        # wait behind it.
        self.respond(A, self.requestIds(A)[-1])
        self.credit(A)
        self.assertEqual(self.dispatcher.counts()["queued"], 0)
        self.assertEqual(len(self.requestIds(A)), 5)
        self.assertNoResult(post)
        self.assertNoResult(get)


class RecallTests(DispatcherTestCase):
    """
    Requests that wait for a thread in a handler whose threads turned slow
    are asked back (C{RECALL}) for a handler with a thread free, and sent
    there if no thread took them (C{RECALLED}).
    """

    def register(self, identity: bytes, recall: bool = True) -> None:
        """
        Register C{identity} with one thread and C{prefetch} 2.
        """
        self.control(identity, protocol.encodeHello(
            identity.decode(), 3, prefetch=2, recall=recall))

    def prefetched(self, recall: bool = True) -> list[Deferred[Reply]]:
        """
        Register handler A, let it end two requests at once (it serves
        fast requests), then send it three more: one for its thread, two
        to wait for it; then register B, whose thread is free.

        @return: the three requests' answers, in order.
        """
        self.register(A, recall)
        for _ in range(2):
            self.submit()
            self.respond(A, self.requestIds(A)[-1])
            self.credit(A)
        answers = [self.submit()[0] for _ in range(3)]
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)
        self.register(B)
        return answers

    def fastC(self, requests: int) -> None:
        """
        Take B's thread with a request; register C (one thread, C{prefetch}
        2), let it end two requests at once (it serves fast requests), then
        send it C{requests} more.
        """
        self.submit()
        self.register(C)
        for _ in range(2):
            self.submit()
            self.respond(C, self.requestIds(C)[-1])
            self.credit(C)
        for _ in range(requests):
            self.submit()

    def recalls(self, identity: bytes) -> list[bytes]:
        """
        The ids of the C{RECALL} messages sent to C{identity}, in order.
        """
        return [
            m.requestId for m in self.sent(identity) if isinstance(m, protocol.Recall)
        ]

    def test_recalledToFreeThread(self) -> None:
        """
        A handler that gave no credit back for L{RECALL_AFTER} seconds while
        requests wait in it is asked back the newest, as many as other
        handlers have threads free; one given back goes to such a thread,
        and its answer to its client; its slot at the first handler is
        free again.  While requests wait, the front looks again every
        L{RECALL_AFTER} seconds.
        """
        running, first, second = self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER / 2)
        self.assertEqual(self.recalls(A), [])
        self.clock.advance(RECALL_AFTER / 2)
        self.assertEqual(self.recalls(A), [idsA[-1]])
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(self.requestIds(B), [idsA[-1]])
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.assertEqual(self.dispatcher.stats["recalled"], 1)
        self.respond(B, idsA[-1])
        self.assertEqual(self.successResultOf(second).status, 200)
        # B's thread is free again: the other request waiting at A goes
        # there next.
        self.credit(B)
        self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [idsA[-1], idsA[-2]])
        self.control(A, protocol.encodeRecalled(idsA[-2]))
        self.respond(B, idsA[-2])
        self.credit(B)
        self.successResultOf(first)
        # Nothing waits at A any more: no more looks.
        self.clock.advance(RECALL_AFTER * 10)
        self.assertEqual(len(self.recalls(A)), 2)
        self.respond(A, idsA[-3])
        self.successResultOf(running)
        self.assertNoLeak(timers=False)

    def test_notWhileEnding(self) -> None:
        """
        A handler that gives credit back (a thread of it ends requests) is
        asked for nothing: its waiting requests are served soon.
        """
        self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER * 0.9)
        self.respond(A, idsA[-3])
        self.credit(A)
        self.clock.advance(RECALL_AFTER * 0.9)
        self.assertEqual(self.recalls(A), [])

    def test_notWithoutRoomElsewhere(self) -> None:
        """
        While no other handler has a thread free, nothing is asked back:
        the requests would only wait at the front instead.
        """
        self.prefetched()
        self.submit()
        self.assertEqual(len(self.requestIds(B)), 1)
        for _ in range(3):
            self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [])

    def test_toFastHandler(self) -> None:
        """
        A handler with no thread free that serves fast requests (it ended
        two in the last L{PREFETCH_STALL} seconds) has room as well: the
        requests waiting behind threads turned slow are asked back, and
        wait there instead.
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        self.submit()
        self.clock.advance(RECALL_AFTER - PREFETCH_STALL / 2)
        [slowB] = self.requestIds(B)
        self.respond(B, slowB)
        self.credit(B)
        self.submit()
        self.respond(B, self.requestIds(B)[-1])
        self.credit(B)
        self.submit()
        # B's thread is taken again, and it ended two requests just now.
        self.assertEqual(self.dispatcher.registry.room(), 2)
        self.clock.advance(PREFETCH_STALL / 2)
        self.assertEqual(self.recalls(A), [idsA[-1], idsA[-2]])
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(self.requestIds(B)[-1], idsA[-1])
        self.respond(B, idsA[-1])
        self.assertEqual(self.successResultOf(second).status, 200)

    def test_onlyFromHandlersThatSaySo(self) -> None:
        """
        A handler whose C{HELLO} did not say C{recall=1} is never sent
        C{RECALL}.
        """
        self.prefetched(recall=False)
        for _ in range(3):
            self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [])

    def test_startedNotAskedAgain(self) -> None:
        """
        A handler that does not give a request back (a thread took it
        meanwhile) answers it as always, and is not asked for it again.
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        for _ in range(3):
            self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [idsA[-1]])
        self.respond(A, idsA[-1])
        self.assertEqual(self.successResultOf(second).status, 200)
        self.assertEqual(self.dispatcher.stats["recalled"], 0)

    def test_givenUpMeanwhile(self) -> None:
        """
        A request given up (its client went away) while its C{RECALL} was
        on its way is not sent again when it comes back; its slot is free
        all the same.
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER)
        second.cancel()
        self.failureResultOf(second, CancelledError)
        self.assertEqual(self.cancels(A), [idsA[-1]])
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(self.requestIds(B), [])
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.assertEqual(self.dispatcher.stats["recalled"], 0)

    def test_repliedIsBad(self) -> None:
        """
        C{RECALLED} for a request whose reply has begun is a bad message:
        the request stays where it is.
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [idsA[-1]])
        self.respond(A, idsA[-1], more=True)
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.requestIds(B), [])
        self.assertIn(idsA[-1], self.dispatcher.handlers[A].inFlight)
        self.assertEqual(self.successResultOf(second).status, 200)


    def test_droppedRecallProvesNothing(self) -> None:
        """
        A C{RECALL} dropped unsent to a draining handler found gone (its
        sockets closed at the end of the turn) does not make the request
        one that never reached it: the handler answers it, and it is not
        run again elsewhere.
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [idsA[-1]])
        self.control(A, protocol.encodeBye())
        self.dispatcher.messagesDropped(A, [[A, *protocol.encodeRecall(idsA[-1])]])
        self.assertEqual(self.requestIds(B), [])
        self.respond(A, idsA[-1])
        self.assertEqual(self.successResultOf(second).status, 200)

    def test_notFromDraining(self) -> None:
        """
        A draining handler is asked for nothing: it gives no credit back
        while it drains, so its silence says nothing of its threads.
        """
        self.prefetched()
        self.control(A, protocol.encodeBye())
        for _ in range(3):
            self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [])

    def test_retriedAskedAgain(self) -> None:
        """
        A request whose handler was lost while its C{RECALL} was on its
        way is retried, and asked back again where it waits next, if that
        handler stalls too.
        """
        self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER)
        self.assertEqual(self.recalls(A), [idsA[-1]])
        # C takes one request, for its thread.
        self.fastC(1)
        # A is lost: its two waiting requests are retried, first in the
        # queue; C takes them to wait (its credits were its last), the
        # third waits at the front.
        self.dispatcher.messagesDropped(A, [])
        retried = idsA[-1] + RETRY_SUFFIX
        self.assertIn(retried, self.requestIds(C))
        # D registers with three threads, one for the request that waited
        # at the front: C, which has ended nothing since, is asked for both
        # its waiting requests, the retried one too.
        self.control(b"handler-d", protocol.encodeHello("d", 5, prefetch=2, recall=True))
        for _ in range(2):
            self.clock.advance(RECALL_AFTER)
        self.assertIn(retried, self.recalls(C))

    def test_queueTimeoutBehindRecalled(self) -> None:
        """
        A request queued at the front still gets 503 at C{--queue-timeout}
        when a request given back goes ahead of it in the queue.
        """
        self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER)
        self.submit()
        queued, _ = self.submit()
        self.assertEqual(len(self.dispatcher.queue), 1)
        self.clock.advance(1)
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(len(self.dispatcher.queue), 2)
        # (Past it: at exactly its deadline, float sums made by Clock
        # may fall an ulp short, and the timer fires again and again.)
        self.clock.advance(self.queueTimeout - 1 + 0.01)
        self.assertFrontError(queued, NoCapacity, 503)

    def test_retriedOnceAfterRecalled(self) -> None:
        """
        A request given back never ran: if the handler it goes to next is
        lost, it is retried as any request sent once is.
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        self.clock.advance(RECALL_AFTER)
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(self.requestIds(B), [idsA[-1]])
        self.dispatcher.messagesDropped(B, [])
        self.assertEqual(self.dispatcher.stats["retried"], 1)
        self.assertNoResult(second)

    def test_oneFreeThreadOneRecall(self) -> None:
        """
        With one thread free in all, two stalled handlers are asked for
        one request between them, not one each.
        """
        self.prefetched()
        # C takes three: one for its thread, two to wait; then B's thread
        # is free again.
        self.fastC(3)
        self.assertEqual(len(self.requestIds(C)), 5)
        self.respond(B, self.requestIds(B)[-1])
        self.credit(B)
        self.assertEqual(self.dispatcher.registry.room(), 1)
        for _ in range(2):
            self.clock.advance(RECALL_AFTER)
        self.assertEqual(len(self.recalls(A)) + len(self.recalls(C)), 1)

    def test_stopEndsLooks(self) -> None:
        """
        A stopped dispatcher leaves no timer to look for requests to ask
        back.
        """
        self.prefetched()

        def looks() -> list[object]:
            return [
                call for call in self.clock.calls
                if call.func == self.dispatcher._checkRecalls
            ]

        self.assertEqual(len(looks()), 1)
        self.dispatcher.stop()
        self.assertEqual(looks(), [])

    def test_notAskedIsBad(self) -> None:
        """
        C{RECALLED} for a request the front did not ask back is a bad
        message: the request stays where it is (a handler that gave back
        a request whose streamed body was partly sent would have it sent
        again without that part).
        """
        _, _, second = self.prefetched()
        idsA = self.requestIds(A)
        self.control(A, protocol.encodeRecalled(idsA[-1]))
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.requestIds(B), [])
        self.respond(A, idsA[-1])
        self.assertEqual(self.successResultOf(second).status, 200)


class CreditInReplyTests(DispatcherTestCase):
    """
    A complete C{RESP} with C{credit=1} gives its handler's credit back, as
    a C{CREDIT} would.
    """

    def test_creditInReply(self) -> None:
        """
        The credit dispatches the next queued request to that handler; a
        reply without it gives nothing back.
        """
        self.hello(A, 1)
        self.submit()
        self.submit()
        self.submit()
        first, = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        self.reply(A, protocol.encodeResponse(first.requestId, 200, b"OK", [], [b"x"],
                                              credit=True))
        requests = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        self.assertEqual(len(requests), 2)
        self.reply(A, protocol.encodeResponse(requests[1].requestId, 200, b"OK", [], []))
        self.assertEqual(
            len([m for m in self.sent(A) if isinstance(m, protocol.Request)]), 2
        )
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)


    def test_lateReplyStillCredits(self) -> None:
        """
        A reply with C{credit=1} to a request the front gave up on (the
        client left) still gives the credit back: the handler's slot is
        free all the same.
        """
        requestId = self.abandoned()
        self.reply(A, protocol.encodeResponse(requestId, 200, b"OK", [], [],
                                              credit=True))
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)

    def test_lateReplyAfterRegisteringAgain(self) -> None:
        """
        A late reply with C{credit=1} from before its handler registered
        anew (the front had forgotten it) gives the new registration
        nothing: that HELLO counted the slot already.
        """
        self.hello(A, 1)
        d, _ = self.submit(idempotent=False)
        request, = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        self.dispatcher.start()
        self.addCleanup(self.dispatcher.stop)
        for _ in range(5):
            self.clock.advance(self.heartbeat)
        # Silent for 3 heartbeats: declared dead, its request failed.
        self.assertNotIn(A, self.dispatcher.handlers)
        self.hello(A, 1)
        self.reply(A, protocol.encodeResponse(request.requestId, 200, b"OK", [], [],
                                              credit=True))
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.failureResultOf(d)

    def test_invalidReplyStillCredits(self) -> None:
        """
        A complete C{RESP} with C{credit=1} that the front refuses (a
        header value that would inject a line) fails its request with 502,
        and its credit is counted all the same: the handler, which cannot
        know it was refused, is done with the request and ignores the
        C{CANCEL}.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        request, = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        meta = b"status\x00200\x00reason\x00OK\x00more\x000\x00credit\x001"
        self.reply(A, [protocol.VERSION, protocol.RESP, request.requestId, meta,
                       b"X\x00a\x0ab"])
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertIn(protocol.Cancel(request.requestId), self.sent(A))
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.assertNoLeak()

    def test_lateInvalidReplyStillCredits(self) -> None:
        """
        A refused C{RESP} with C{credit=1} and C{more=0} to a request the
        front gave up on (the client left) gives its credit back too, as a
        late valid one does, and only once: a second gives nothing.
        """
        requestId = self.abandoned()
        meta = b"status\x00200\x00reason\x00OK\x00more\x000\x00credit\x001"
        refused = [protocol.VERSION, protocol.RESP, requestId, meta, b"X\x00a\x0ab"]
        self.reply(A, refused)
        self.assertEqual(self.dispatcher.stats["badMessages"], 1)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)
        self.reply(A, refused)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)

    def test_invalidStreamedReplyNoCredit(self) -> None:
        """
        A refused C{RESP} that says C{credit=1} with C{more=1} (invalid
        for that too) gives nothing back: its handler may still be
        producing the response, and returns the credit with C{CREDIT} once
        the C{CANCEL} has stopped it.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        request, = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        meta = b"status\x00200\x00reason\x00OK\x00more\x001\x00credit\x001"
        self.reply(A, [protocol.VERSION, protocol.RESP, request.requestId, meta, b""])
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)
        self.credit(A)
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)


class CreditInEndTests(DispatcherTestCase):
    """
    A C{LAST}, the C{END} of a streamed response with the request's credit,
    gives its handler's credit back, as a C{CREDIT} would.
    """

    def streaming(self) -> tuple[bytes, RecordingConsumer]:
        """
        Register handler A with one credit, submit two requests, and start
        streaming the response to the first: its id and its consumer.
        """
        self.hello(A, 1)
        _, consumer = self.submit()
        self.submit()
        first, = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        self.reply(A, protocol.encodeResponse(first.requestId, 200, b"OK", [], [b"a"],
                                              more=True))
        return first.requestId, consumer

    def requests(self) -> int:
        return len([m for m in self.sent(A) if isinstance(m, protocol.Request)])

    def test_lastCredits(self) -> None:
        """
        C{LAST} ends the response, then dispatches the next queued request
        to the handler; an C{END} gives nothing back.
        """
        requestId, consumer = self.streaming()
        self.reply(A, protocol.encodeBody(requestId, [b"b"], True, credit=True))
        self.assertEqual((consumer.chunks, consumer.finished), ([b"b"], 1))
        self.assertEqual(self.requests(), 2)
        second = [m for m in self.sent(A) if isinstance(m, protocol.Request)][1]
        self.reply(A, protocol.encodeResponse(second.requestId, 200, b"OK", [], [],
                                              more=True))
        self.reply(A, protocol.encodeBody(second.requestId, [], True))
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)

    def test_noCreditWhileDraining(self) -> None:
        """
        A C{LAST} from a draining handler gives nothing back, as its
        complete C{RESP} would not: its credit count stays at 0 while its
        other request runs.
        """
        self.hello(A, 2)
        self.submit()
        self.submit()
        first, _second = [m for m in self.sent(A) if isinstance(m, protocol.Request)]
        self.reply(A, protocol.encodeResponse(first.requestId, 200, b"OK", [], [b"a"],
                                              more=True))
        self.control(A, protocol.encodeBye())
        self.reply(A, protocol.encodeBody(first.requestId, [], True, credit=True))
        self.assertEqual(self.dispatcher.handlers[A].credits, 0)
        self.assertEqual(self.dispatcher.counts()["credits"], 0)

    def test_lateLastStillCredits(self) -> None:
        """
        A C{LAST} for a request the front gave up on (the client left)
        still gives the credit back, as a late C{RESP} with C{credit=1}
        does.
        """
        requestId = self.abandoned()
        self.reply(A, protocol.encodeBody(requestId, [], True, credit=True))
        self.assertEqual(self.dispatcher.handlers[A].credits, 1)


class CancelTests(DispatcherTestCase):
    """
    The client going away: cancelling the Deferred or the L{Reply}.
    """

    def test_cancelQueued(self) -> None:
        """
        Cancelling a queued request frees its entry, sends nothing, and its
        queue timeout never fires.
        """
        d, _ = self.submit()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.dispatcher.stats["cancelled"], 1)
        self.assertNoLeak()
        self.clock.advance(self.queueTimeout * 2)
        self.assertEqual(self.dispatcher.stats["status503"], 0)
        self.hello(A, 1)
        self.assertEqual(self.requestIds(A), [])

    def test_cancelQueuedKeepsOthers(self) -> None:
        """
        Cancelling one queued request leaves the others queued in order,
        and their queue timeout is kept.
        """
        first, _ = self.submit()
        self.clock.advance(2)
        second, _ = self.submit()
        third, _ = self.submit()
        ids = list(self.dispatcher.queue)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertEqual(list(self.dispatcher.queue), ids[1:])
        self.clock.advance(self.queueTimeout - 2)
        self.assertNoResult(second)
        self.clock.advance(2)
        self.assertFrontError(second, NoCapacity, 503)
        self.assertFrontError(third, NoCapacity, 503)
        self.assertNoLeak()

    def test_cancelDispatched(self) -> None:
        """
        Cancelling a dispatched request frees its entry, stops its timer,
        and sends C{CANCEL} to the handler that has it; its late reply is
        dropped.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.cancels(A), [requestId])
        self.assertEqual(self.dispatcher.stats["cancelled"], 1)
        self.assertNoLeak()
        self.respond(A, requestId)
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)

    def test_cancelStreaming(self) -> None:
        """
        Cancelling the L{Reply} of a streaming request frees its entry and
        sends C{CANCEL}; later body messages are dropped.
        """
        self.hello(A, 1)
        d, consumer = self.submit()
        [requestId] = self.requestIds(A)
        self.respond(A, requestId, more=True)
        self.successResultOf(d).cancel()
        self.assertEqual(self.cancels(A), [requestId])
        self.assertNoLeak()
        self.reply(A, protocol.encodeBody(requestId, [b"x"], True))
        self.assertEqual((consumer.chunks, consumer.finished, consumer.aborted),
                         ([], 0, 0))
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)

    def test_cancelDrainingLast(self) -> None:
        """
        Cancelling the last request of a draining handler, dispatched or
        streaming (its client gone), sends that handler C{CANCEL} as it
        forgets it: the handler used to run the request on (a response
        waiting for window that will never come) until its
        C{--graceful-timeout}, so a handler recycled or stopped while a
        client left a download lingered that long.
        """
        for more in [False, True]:
            self.hello(A, 1)
            d, _ = self.submit()
            [requestId] = self.requestIds(A)
            cancel = d.cancel
            if more:
                self.respond(A, requestId, more=True)
                cancel = self.successResultOf(d).cancel
            self.control(A, protocol.encodeBye())
            self.socket.clear()
            cancel()
            self.assertEqual(self.cancels(A), [requestId], more)
            self.assertEqual(self.dispatcher.handlers, {})
            self.assertNoLeak()
            if not more:
                self.failureResultOf(d, CancelledError)

    def test_cancelAfterHandlerGone(self) -> None:
        """
        Cancelling a request whose handler is unreachable does not fail.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        self.socket.unreachable.add(A)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.dispatcher.handlers, {})
        self.assertNoLeak()


class UnreachableTests(DispatcherTestCase):
    """
    Sending to a handler that ZeroMQ says is not connected.
    """

    def test_requestGoesElsewhere(self) -> None:
        """
        If the chosen handler is unreachable it is removed and the request
        goes to another one.
        """
        self.hello(A, 5)
        self.hello(B, 1)
        self.socket.unreachable.add(A)
        d, _ = self.submit()
        self.assertNotIn(A, self.dispatcher.handlers)
        [requestId] = self.requestIds(B)
        self.respond(B, requestId)
        self.successResultOf(d)
        self.assertNoLeak()

    def test_noOtherHandler(self) -> None:
        """
        If no other handler has credit the request waits in the queue.
        """
        self.hello(A, 5)
        self.socket.unreachable.add(A)
        d, _ = self.submit()
        self.assertNoResult(d)
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.clock.advance(self.queueTimeout)
        self.assertFrontError(d, NoCapacity, 503)
        self.assertNoLeak()

    def test_retriedWaitsWithoutReplyTimer(self) -> None:
        """
        A request retried from a handler found unreachable waits in the
        queue for C{queueTimeout}, from then: the reply timer of its first
        attempt no longer runs, and does not fail it with 504 while queued.
        """
        self.hello(A, 5)
        d, _ = self.submit()
        self.clock.advance(self.timeout - 1)
        self.dispatcher.messagesDropped(A, [])
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.clock.advance(1)
        self.assertNoResult(d)
        self.assertEqual(self.dispatcher.stats["status504"], 0)
        self.clock.advance(self.queueTimeout - 1)
        self.assertFrontError(d, NoCapacity, 503)
        self.assertNoLeak()

    def test_inFlightRetriedElsewhere(self) -> None:
        """
        When a handler is found unreachable, its in-flight idempotent
        requests are sent to another handler with credit at once, not left
        waiting in the queue.
        """
        self.hello(A, 5)
        # Fewer than A has after its first request: the next goes to A.
        self.hello(B, 3)
        earlier, _ = self.submit()
        [earlierId] = self.requestIds(A)
        self.socket.unreachable.add(A)
        later, _ = self.submit()
        self.assertEqual(len(self.requestIds(B)), 2)
        self.assertIn(earlierId + RETRY_SUFFIX, self.requestIds(B))
        self.assertEqual(self.dispatcher.counts()["queued"], 0)
        self.assertEqual(self.dispatcher.stats["retried"], 1)
        for requestId in self.requestIds(B):
            self.respond(B, requestId)
        self.successResultOf(earlier)
        self.successResultOf(later)
        self.assertNoLeak()

    def test_inFlightNotIdempotentFails(self) -> None:
        """
        When a handler is found unreachable, its in-flight requests that
        are not idempotent fail with L{HandlerFailed}, and the front's log
        names them.
        """
        self.hello(A, 5)
        # Fewer than A has after its first request: the next goes to A.
        self.hello(B, 3)
        earlier, _ = self.submit(idempotent=False)
        self.socket.unreachable.add(A)
        with capturedLogs() as events:
            later, _ = self.submit()
        self.assertFrontError(earlier, HandlerFailed, 502)
        self.assertIn(
            "handler handler-a was lost with 1 requests: 0 retried on another"
            " handler, 1 failed (502, or their responses cut) (front1.1)",
            [formatEvent(e) for e in events],
        )
        [laterId] = self.requestIds(B)
        self.respond(B, laterId)
        self.successResultOf(later)
        self.assertNoLeak()

    def test_lostLoggedByAccessLogId(self) -> None:
        """
        The front's line for a lost handler names each request by the id
        its access log line, its application and its handler's log give it
        (its consumer's: the C{X-Request-Id}), not by the dispatcher's own
        id, which is another for a trusted proxy's C{X-Request-Id}, and
        gains C{/2} on a retry.
        """
        self.hello(A, 5)
        self.hello(B, 3)
        d, consumer = self.submit()
        # As a trusted proxy's X-Request-Id, which the dispatcher does not
        # take for its own.
        consumer.requestId = b"proxy-id"
        for handler, line in [
            (A, "handler handler-a was lost with 1 requests: 1 retried on another"
                " handler (proxy-id), 0 failed (502, or their responses cut)"),
            (B, "handler handler-b was lost with 1 requests: 0 retried on another"
                " handler, 1 failed (502, or their responses cut) (proxy-id)"),
        ]:
            with capturedLogs() as events:
                self.dispatcher.messagesDropped(handler, [])
            self.assertIn(line, [formatEvent(e) for e in events])
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertNoLeak()

    def test_lostCompleteNotLoggedFailed(self) -> None:
        """
        A request whose client has its whole response already, of which
        only the handler's C{END} was missing, is not among the requests
        the front logs as failed with a lost handler: it did not fail (nor
        is its 502 counted).
        """
        self.hello(A, 5)
        _, consumer = self.submit()
        [requestId] = self.requestIds(A)
        self.respond(A, requestId, more=True)
        consumer.complete = True
        with capturedLogs() as events:
            self.dispatcher.messagesDropped(A, [])
        self.assertEqual(
            [line for line in map(formatEvent, events) if "was lost" in line], []
        )
        self.assertEqual(self.dispatcher.stats["status502"], 0)
        self.assertEqual(consumer.aborted, 1)
        self.assertNoLeak()

    def test_unreachableLogged(self) -> None:
        """
        A handler that any message finds unreachable, a request or control
        (here C{CANCEL}), is logged as removed, and its requests are
        retried or failed.
        """
        self.hello(A, 3)
        self.hello(B, 1)
        first, _ = self.submit()
        second, _ = self.submit()
        self.assertEqual(len(self.requestIds(A)), 2)
        self.socket.unreachable.add(A)
        with capturedLogs() as events:
            first.cancel()
        self.failureResultOf(first, CancelledError)
        lines = [formatEvent(e) for e in events]
        self.assertIn("handler handler-a is unreachable: removed", lines)
        # What became of its requests, which the front's log said nowhere:
        # the one cancelled is not among them.
        self.assertIn(
            "handler handler-a was lost with 1 requests: 1 retried on another"
            " handler (front1.2), 0 failed (502, or their responses cut)",
            lines,
        )
        [retriedId] = self.requestIds(B)
        self.respond(B, retriedId)
        self.successResultOf(second)
        self.assertNoLeak()

    def test_welcomeUnreachable(self) -> None:
        """
        A handler that cannot be welcomed is forgotten again.
        """
        self.socket.unreachable.add(A)
        self.hello(A, 5)
        self.assertEqual(self.dispatcher.handlers, {})

    def test_welcomeUnreachableNotJoined(self) -> None:
        """
        A handler that cannot be welcomed did not join: the join observers
        are not told of it, and what waits is dispatched once, when it is
        removed (not again for its C{HELLO}).
        """
        joined: list[str] = []
        self.dispatcher.registry.joinObservers.append(joined.append)
        drains: list[None] = []
        drainQueue = self.dispatcher._drainQueue

        def countingDrain() -> None:
            drains.append(None)
            drainQueue()

        self.patch(self.dispatcher, "_drainQueue", countingDrain)
        self.socket.unreachable.add(A)
        self.hello(A, 5)
        self.assertEqual((joined, len(drains)), ([], 1))


class DroppedTests(DispatcherTestCase):
    """
    Messages to a handler that the send socket dropped unsent: the handler
    is gone, and the requests whose C{REQ} never reached it may go
    elsewhere whatever their method.
    """

    def sentFrames(self, identity: bytes, requestId: bytes) -> list[list[bytes]]:
        """
        The messages sent to C{identity} for C{requestId}, as the socket
        was given them (with the peer's id first).
        """
        return [
            frames for frames in self.socket.sent
            if frames[0] == identity and frames[3:4] == [requestId]
        ]

    def twoNotIdempotent(self) -> tuple[Deferred[Reply], Deferred[Reply], bytes]:
        """
        Register handler A with 5 credits and B with none, and submit two
        requests that are not idempotent, both to A.

        @return: the first request's and the second's results, and the
            second's id.
        """
        self.hello(A, 5)
        self.hello(B, 0)
        delivered, _ = self.submit(idempotent=False)
        dropped, _ = self.submit(idempotent=False)
        [_deliveredId, droppedId] = self.requestIds(A)
        return delivered, dropped, droppedId

    def assertOnlyDroppedRetried(
        self, delivered: Deferred[Reply], dropped: Deferred[Reply], droppedId: bytes
    ) -> None:
        """
        The request delivered to the lost handler got 502; the dropped one
        goes to B once it has a credit.
        """
        self.assertFrontError(delivered, FrontError, 502)
        self.credit(B)
        self.assertEqual(self.requestIds(B), [droppedId + RETRY_SUFFIX])
        self.assertNoResult(dropped)

    def test_droppedRequestRetriedAtOnce(self) -> None:
        """
        A handler whose queued messages were dropped (it is gone) is
        removed at once, not at the next send or heartbeat, and a request
        whose C{REQ} was among them goes to another handler, even if it is
        not idempotent: no application saw it.
        """
        self.hello(A, 5)
        self.hello(B, 0)
        d, _ = self.submit(idempotent=False)
        [requestId] = self.requestIds(A)
        self.dispatcher.messagesDropped(A, self.sentFrames(A, requestId))
        self.assertNotIn(A, self.dispatcher.handlers)
        self.assertNoResult(d)
        self.credit(B)
        self.assertEqual(self.requestIds(B), [requestId + RETRY_SUFFIX])
        self.assertEqual(self.dispatcher.stats["retried"], 1)
        self.respond(B, requestId + RETRY_SUFFIX)
        self.successResultOf(d)
        self.assertNoLeak()

    def test_onlyDroppedRequestsRetried(self) -> None:
        """
        Of the lost handler's requests that are not idempotent, only those
        whose C{REQ} was dropped are retried: the others may have run, and
        get 502.
        """
        delivered, dropped, droppedId = self.twoNotIdempotent()
        self.dispatcher.messagesDropped(A, self.sentFrames(A, droppedId))
        self.assertOnlyDroppedRetried(delivered, dropped, droppedId)

    def test_fullBacklogRetried(self) -> None:
        """
        The same holds for the messages dropped when a send finds the
        handler's backlog full (L{PeerUnreachable} carries them).
        """
        delivered, dropped, droppedId = self.twoNotIdempotent()
        backlog = self.sentFrames(A, droppedId)
        send = self.socket.send

        def fullBacklog(frames: list[bytes]) -> None:
            if frames[0] == A:
                raise PeerUnreachable(A, backlog)
            send(frames)

        self.patch(self.socket, "send", fullBacklog)
        self.submit(idempotent=False)
        self.assertNotIn(A, self.dispatcher.handlers)
        self.assertOnlyDroppedRetried(delivered, dropped, droppedId)

    def test_unknownPeer(self) -> None:
        """
        Messages dropped for a peer that is not a registered handler change
        nothing.
        """
        self.hello(A, 1)
        self.dispatcher.messagesDropped(C, [[C, *protocol.encodeBye()]])
        self.assertEqual(list(self.dispatcher.handlers), [A])



class ForgottenBacklogTests(SynchronousTestCase):
    """
    A handler declared dead, over a real L{ZmqSocket} (on a fake ZeroMQ
    socket) that holds messages for it.
    """

    def test_staleRequestsNotDelivered(self) -> None:
        """
        What waited in the send socket for a handler declared dead (silent)
        is forgotten: if it comes back with the same routing id, none of
        the C{REQ}s that the front has retried elsewhere reaches it.  Those
        requests never reached it, so they are all retried, whatever their
        method.
        """
        clock = Clock()
        raw = FakeRawSocket(room=1000)
        socket, _ = fakeZmqSocket(clock, raw, router=True)
        dispatcher = Dispatcher(clock, socket, instance="front1")
        dispatcher.start()
        dispatcher.controlReceived([A, *protocol.encodeHello("a", 5)])
        dispatcher.controlReceived([B, *protocol.encodeHello("b", 0)])
        raw.full.add(A)
        meta, headers = META, [(b"Host", b"example.com")]
        get = RecordingConsumer().submit(dispatcher, meta, headers, [], idempotent=True)
        post = RecordingConsumer().submit(dispatcher, meta, headers, [], idempotent=False)
        self.assertEqual(socket.backlog, 2)
        for _ in range(4):
            dispatcher.controlReceived([B, *protocol.encodePing()])
            clock.advance(DEFAULT_HEARTBEAT)
        self.assertEqual(list(dispatcher.handlers), [B])
        self.assertNoResult(get)
        self.assertNoResult(post)
        raw.full.clear()
        socket._flush()
        self.assertEqual(
            [protocol.decode(frames[1:]) for frames in raw.sent if frames[0] == A],
            [protocol.Welcome({"front": "front1", "heartbeat": "1.0",
                               "credit_in_reply": "1", "packed": "1", "credit_in_end": "1",
                               "batch": "1"})],
        )
        dispatcher.controlReceived([B, *protocol.encodeCredit(2)])
        self.assertEqual(
            [type(protocol.decode(frames[1:])) for frames in raw.sent if frames[0] == B],
            [protocol.Welcome, protocol.Ping, protocol.Ping, protocol.Ping,
             protocol.Ping, protocol.Request, protocol.Request],
        )
        dispatcher.stop()



class HeartbeatTests(DispatcherTestCase):
    """
    Heartbeats, and what becomes of a dead handler's requests.
    """

    def setUp(self) -> None:
        DispatcherTestCase.setUp(self)
        self.dispatcher.start()
        self.addCleanup(self.dispatcher.stop)

    def keepAlive(self, *identities: bytes) -> None:
        """
        Advance one heartbeat, with C{identities} sending C{PING} first.
        """
        for identity in identities:
            self.control(identity, protocol.encodePing())
        self.clock.advance(self.heartbeat)

    def outlive(self, *identities: bytes) -> None:
        """
        Advance four heartbeats, with C{identities} sending C{PING} before
        each: the other handlers, silent for three intervals, are dead.
        """
        for _ in range(4):
            self.keepAlive(*identities)

    def test_pingsEachInterval(self) -> None:
        """
        Every handler gets a C{PING} each heartbeat interval.
        """
        self.hello(A, 1)
        self.socket.clear()
        self.keepAlive(A)
        self.keepAlive(A)
        self.assertEqual(self.sent(A), [protocol.Ping(), protocol.Ping()])

    def test_silentHandlerRemoved(self) -> None:
        """
        A handler silent for three heartbeat intervals is removed then, not
        at a later heartbeat; one that keeps talking is not.
        """
        self.hello(A, 1)
        self.hello(B, 1)
        for _ in range(2):
            self.keepAlive(B)
        self.control(B, protocol.encodePing())
        self.clock.advance(self.heartbeat * 0.99)
        self.assertIn(A, self.dispatcher.handlers)
        self.clock.advance(self.heartbeat * 0.01)
        self.assertEqual(list(self.dispatcher.handlers), [B])

    def test_repliesCountAsLife(self) -> None:
        """
        A handler that sends replies is alive even if it sends no C{PING}.
        """
        self.hello(A, 1)
        _d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.respond(A, requestId, more=True)
        for _ in range(6):
            self.reply(A, protocol.encodeBody(requestId, [b"."], False))
            self.clock.advance(self.heartbeat)
        self.assertIn(A, self.dispatcher.handlers)

    def test_deadHandlerIdempotentRetried(self) -> None:
        """
        The in-flight idempotent requests of a dead handler that have no
        reply yet are sent to another handler, once.
        """
        self.hello(A, 5)
        self.hello(B, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.outlive(B)
        self.assertNotIn(A, self.dispatcher.handlers)
        self.assertEqual(self.requestIds(B), [requestId + RETRY_SUFFIX])
        self.assertEqual(self.dispatcher.stats["retried"], 1)
        self.respond(A, requestId)
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)
        self.assertNoResult(d)
        self.respond(B, requestId + RETRY_SUFFIX)
        self.successResultOf(d)
        self.assertNoLeak(timers=False)

    def test_retryOnSameHandlerTellsLateReplies(self) -> None:
        """
        A request retried on the handler it was lost on, registered anew
        (it was silent), has an id of its own: the first attempt's replies,
        still on their way, are dropped as late, not taken for the retry's
        (a first attempt's C{RESP} head, then the retry's, was a protocol
        error, and the client got a truncated response).
        """
        self.hello(A, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.outlive()
        self.assertNotIn(A, self.dispatcher.handlers)
        self.hello(A, 1)
        [retryId] = self.requestIds(A)[1:]
        self.assertEqual(retryId, requestId + RETRY_SUFFIX)
        self.respond(A, requestId, more=True)
        self.assertEqual(self.dispatcher.stats["droppedReplies"], 1)
        self.assertNoResult(d)
        self.respond(A, retryId)
        self.successResultOf(d)
        self.assertNoLeak(timers=False)

    def test_retriedOnlyOnce(self) -> None:
        """
        A request whose second handler dies too fails with
        L{HandlerFailed}.
        """
        self.hello(A, 5)
        self.hello(B, 1)
        self.hello(C, 0)
        d, _ = self.submit()
        self.outlive(B, C)
        [_requestId] = self.requestIds(B)
        self.credit(C, 1)
        self.outlive(C)
        self.assertNotIn(B, self.dispatcher.handlers)
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertEqual(self.requestIds(C), [])
        self.assertNoLeak(timers=False)

    def test_retryWaitsForCapacity(self) -> None:
        """
        A request to retry waits in the queue if no handler has credit, and
        is served by the next one that has.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.outlive()
        self.assertEqual(self.dispatcher.counts()["queued"], 1)
        self.hello(B, 1)
        self.assertEqual(self.requestIds(B), [requestId + RETRY_SUFFIX])
        self.respond(B, requestId + RETRY_SUFFIX)
        self.successResultOf(d)
        self.assertNoLeak(timers=False)

    def test_lastHandlerLost(self) -> None:
        """
        After L{Dispatcher.lastHandlers}, the last handler that takes
        requests declared dead leaves its retried request, and those
        queued, with no handler: they fail with 503 then, not at
        C{queueTimeout}.
        """
        self.hello(A, 1)
        sent, _ = self.submit()
        queued, _ = self.submit()
        self.dispatcher.lastHandlers(lambda: False)
        self.outlive()
        self.assertEqual(self.dispatcher.handlers, {})
        self.assertFrontError(sent, NoCapacity, 503)
        self.assertFrontError(queued, NoCapacity, 503)
        self.assertNoLeak(timers=False)

    def test_retryGoesFirst(self) -> None:
        """
        A request to retry goes before requests that were already queued.
        """
        self.hello(A, 1)
        self.hello(B, 0)
        _retried, _ = self.submit()
        [retriedId] = self.requestIds(A)
        _queued, _ = self.submit()
        [queuedId] = list(self.dispatcher.queue)
        self.outlive(B)
        self.assertEqual(list(self.dispatcher.queue), [retriedId + RETRY_SUFFIX, queuedId])
        self.credit(B, 1)
        self.assertEqual(self.requestIds(B), [retriedId + RETRY_SUFFIX])

    def test_replyTimerJustAfterPause(self) -> None:
        """
        A reply timer that runs on time just after the front ran again
        from a pause that its heartbeat found (due in the pause, it ran
        late) waits one heartbeat more, as one that ran late does: the
        reply that came meanwhile is served, not answered 504.
        """
        self.hello(A, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.clock.advance(self.timeout - LIVENESS_LATENESS / 2)
        self.clock.advance(LIVENESS_LATENESS / 2)
        self.assertNoResult(d)
        self.respond(A, requestId)
        self.assertEqual(self.successResultOf(d).status, 200)
        self.assertEqual(self.dispatcher.stats["status504"], 0)

    def test_queueTimerJustAfterPause(self) -> None:
        """
        The queue's timer, run on time just after the front ran again from
        a pause that its heartbeat found, waits one heartbeat more, as one
        that ran late does (one L{txmp._deadlines.PauseWatch} for all the
        front's timers): the credit that came meanwhile takes the request,
        not a 503.
        """
        self.hello(A, 0)
        d, _ = self.submit()
        self.clock.advance(self.queueTimeout - LIVENESS_LATENESS / 2)
        self.clock.advance(LIVENESS_LATENESS / 2)
        self.assertNoResult(d)
        self.credit(A)
        [requestId] = self.requestIds(A)
        self.respond(A, requestId)
        self.assertEqual(self.successResultOf(d).status, 200)
        self.assertEqual(self.dispatcher.stats["status503"], 0)

    def test_queueTimeoutBehindRetry(self) -> None:
        """
        A request queued behind a request to retry still fails with
        L{NoCapacity} C{queueTimeout} seconds after it was queued.
        """
        self.hello(A, 1)
        self.hello(B, 0)
        retried, _ = self.submit()
        queued, _ = self.submit()
        self.outlive(B)
        self.assertEqual(self.dispatcher.counts()["queued"], 2)
        [requeuedAt] = [p.queuedAt for p in self.dispatcher.queue.values() if p.attempts]
        self.runFor(self.queueTimeout - 4)
        self.assertFrontError(queued, NoCapacity, 503)
        self.assertNoResult(retried)
        # (To the retried request's deadline, not beyond: a timer that ran
        # late would wait one heartbeat more, PauseGrace.)
        self.runFor(requeuedAt + self.queueTimeout - self.clock.seconds())
        self.assertFrontError(retried, NoCapacity, 503)
        self.assertNoLeak(timers=False)

    def test_deadHandlerNotIdempotentFails(self) -> None:
        """
        The in-flight requests of a dead handler that are not idempotent
        fail with L{HandlerFailed}.
        """
        self.hello(A, 5)
        self.hello(B, 1)
        d, _ = self.submit(idempotent=False)
        self.outlive(B)
        self.assertFrontError(d, HandlerFailed, 502)
        self.assertEqual(self.requestIds(B), [])
        self.assertEqual(self.dispatcher.stats["status502"], 1)
        self.assertNoLeak(timers=False)

    def test_deadHandlerStreamingAborted(self) -> None:
        """
        The requests of a dead handler that already got their head are
        aborted, not retried.
        """
        self.hello(A, 5)
        self.hello(B, 1)
        d, consumer = self.submit()
        [requestId] = self.requestIds(A)
        self.respond(A, requestId, more=True)
        self.successResultOf(d)
        self.outlive(B)
        self.assertEqual(consumer.aborted, 1)
        self.assertEqual(self.requestIds(B), [])
        self.assertNoLeak(timers=False)

    def test_twoDeadHandlersAtOnce(self) -> None:
        """
        When two handlers are found dead at the same heartbeat, a request
        of the first is retried on a live handler, not on the second dead
        one (which would use up its only retry).
        """
        self.hello(A, 5)
        self.hello(B, 4)
        self.hello(C, 1)
        d, _ = self.submit()
        [requestId] = self.requestIds(A)
        self.outlive(C)
        self.assertEqual(list(self.dispatcher.handlers), [C])
        self.assertEqual(self.requestIds(B), [])
        self.assertEqual(self.requestIds(C), [requestId + RETRY_SUFFIX])
        self.assertNoResult(d)
        self.respond(C, requestId + RETRY_SUFFIX)
        self.successResultOf(d)
        self.assertNoLeak(timers=False)

    def test_removedHandlerMustHelloAgain(self) -> None:
        """
        A handler declared dead that speaks again is told C{BYE}; after a
        new C{HELLO} it gets requests again.
        """
        self.hello(A, 1)
        self.outlive()
        self.socket.clear()
        self.credit(A, 1)
        self.assertEqual(self.sent(A), [protocol.Bye()])
        self.hello(A, 1)
        _d, _ = self.submit()
        self.assertEqual(len(self.requestIds(A)), 1)

    def test_stop(self) -> None:
        """
        L{Dispatcher.stop} tells every handler C{BYE} and stops heartbeats.
        """
        self.hello(A, 1)
        self.hello(B, 1)
        self.socket.clear()
        self.dispatcher.stop()
        self.assertEqual(self.sent(), [protocol.Bye(), protocol.Bye()])
        self.assertEqual(self.clock.getDelayedCalls(), [])
