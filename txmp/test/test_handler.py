# -*- test-case-name: txmp.test.test_handler -*-
"""
Tests for L{txmp._handler.FrontLink}, the handler's side of the protocol,
driven by a L{Clock}, two L{MemorySocket}s and a L{MemoryRunner}.
"""

from __future__ import annotations

import errno
import os
import resource
from collections.abc import Iterator, Sequence
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txmp import _defaults, _handler, _handlerservice, handlertap, protocol
from txmp._exit import StartFailure
from txmp._handler import FrontLink, _ReplySink, frameChunks
from txmp._handlerservice import HandlerService, keepAliveTimes
from txmp._interfaces import IHandlerReactor
from txmp._pool import PoolLane, WorkerPool
from txmp._wsgi import WSGIRunner
from txmp._zmq import MECHANISM_MISMATCH, AddressError, OutOfFiles
from txmp.testing import (
    FakeReactor,
    FakeThread,
    MemoryNetwork,
    MemoryRunner,
    MemorySocket,
    SynchronousThreadPool,
    requestMeta,
    runningReactor,
)

META = requestMeta(method=b"POST", target=b"/submit?x=1", scheme=b"https")


class FrontLinkTestCase(SynchronousTestCase):
    """
    A L{FrontLink} with capacity 2 on fake sockets, not yet started: 2
    rather than mphandler's 4 threads, so that a test can use them all up.
    Every call comes from the reactor thread, but in L{inThread}.
    """

    heartbeat = _defaults.DEFAULT_HEARTBEAT

    def makeClock(self) -> Clock:
        """
        The link's reactor: a L{Clock}, which takes no calls from threads.
        """
        return Clock()

    def setUp(self) -> None:
        self.clock = self.makeClock()
        self.inReactor = True
        self.sendSocket = MemorySocket()
        self.returnSocket = MemorySocket()
        self.runner = MemoryRunner()
        self.link = FrontLink(
            self.clock,
            self.runner,
            self.sendSocket,
            self.returnSocket,
            "host:123",
            capacity=2,
            heartbeat=self.heartbeat,
            address="tcp://front:5556",
            inReactorThread=lambda: self.inReactor,
        )
        self.addCleanup(self.link.stop)

    def inThread(self, call: Any, *args: Any) -> None:
        """
        Call C{call(*args)} as an application thread does.
        """
        self.inReactor = False
        try:
            call(*args)
        finally:
            self.inReactor = True

    def fromFront(self, frames: list[bytes]) -> None:
        """
        Deliver C{frames} from the front on the send socket.
        """
        self.link.controlReceived(frames)

    def frontAnswers(self, beats: int) -> None:
        """
        Let C{beats} heartbeat intervals pass, the front sending C{PING}
        before each.
        """
        for _ in range(beats):
            self.fromFront(protocol.encodePing())
            self.clock.advance(self.heartbeat)

    def welcome(self, front: str = "front1", **meta: str) -> None:
        """
        Deliver C{WELCOME} from the front named C{front}, with C{meta} as
        well.
        """
        self.fromFront(
            protocol.encodeWelcome({"front": front, "heartbeat": "1.0", **meta})
        )

    def request(
        self,
        requestId: bytes = b"front1.1",
        headers: Sequence[tuple[bytes, bytes]] = ((b"Host", b"example.com"),),
        body: Sequence[bytes] = (b"a=1",),
    ) -> None:
        """
        Deliver a C{REQ} from the front.
        """
        self.fromFront(protocol.encodeRequest(requestId, META, headers, body))

    def helloAgainWhileRunning(self, **meta: str) -> None:
        """
        Let the front welcome the link (with C{meta} as well), send it
        request C{front1.1}, and forget it (C{BYE}), so that the link says
        C{HELLO} again while the request runs; welcome it again, and forget
        what the link sent.
        """
        self.welcome(**meta)
        self.request(b"front1.1")
        self.fromFront(protocol.encodeBye())
        self.welcome(**meta)
        self.sendSocket.clear()

    def startWelcomed(self, **meta: str) -> None:
        """
        Start the link and let the front welcome it (with C{meta} as well);
        forget what it sent.
        """
        self.link.start()
        self.welcome(**meta)
        self.sendSocket.clear()

    def control(self) -> list[protocol.Message]:
        """
        The messages sent on the send socket so far, decoded.
        """
        return self.sendSocket.messages()

    def replies(self) -> list[protocol.Message]:
        """
        The messages sent on the return socket so far, decoded.
        """
        return self.returnSocket.messages()


class RegistrationTests(FrontLinkTestCase):
    """
    C{HELLO}, C{WELCOME}, C{BYE} and heartbeats.
    """

    def test_startSendsHello(self) -> None:
        """
        L{FrontLink.start} sends C{HELLO} with the link's name and its
        capacity as credits, on the send socket.
        """
        self.link.start()
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.name, hello.credits), ("host:123", 2))
        self.assertEqual(self.replies(), [])

    def test_helloAnnouncesWindow(self) -> None:
        """
        Every C{HELLO} announces, as its C{window} attribute,
        L{INPUT_WINDOW}: how much of a streamed request body the front may
        send ahead of the link's C{WINDOW}s.
        """
        self.link.start()
        self.clock.advance(self.heartbeat)
        hellos = self.control()
        self.assertEqual(len(hellos), 2)
        for hello in hellos:
            assert isinstance(hello, protocol.Hello)
            self.assertEqual(hello.meta["window"], str(_defaults.INPUT_WINDOW))
        self.assertEqual(_defaults.INPUT_WINDOW, 262144)

    def test_helloAnnouncesPrefetch(self) -> None:
        """
        A link's C{HELLO} says its C{prefetch}, if it has one: how many of
        the credits it announces are for requests that wait for a thread.
        """
        self.link.start()
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertNotIn("prefetch", hello.meta)
        link = FrontLink(self.clock, self.runner, self.sendSocket, self.returnSocket,
                         "h", capacity=5, prefetch=3)
        link.start()
        self.addCleanup(link.stop)
        [_, hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.credits, hello.prefetch), (5, 3))

    def test_helloTakesPacked(self) -> None:
        """
        Every C{HELLO} says C{packed=1}, C{batch=1} and C{recall=1}: the
        link takes packed messages, and C{BATCH} messages of them, and
        answers C{RECALL}.
        """
        self.link.start()
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.packed, hello.batch, hello.recall), (True, True, True))

    def test_repliesPackedOnceFrontSays(self) -> None:
        """
        Replies are plain C{TXMP1} frames until the front's C{WELCOME}
        says C{packed=1} (a front written before packing does not), packed
        (L{protocol.pack}) from then on, and plain again once a C{BYE}
        says the front forgot the link, until a C{WELCOME} says again.
        """
        packedWelcome = protocol.encodeWelcome(
            {"front": "front1", "heartbeat": "1.0"}, packed=True)
        plainWelcome = protocol.encodeWelcome({"front": "front1", "heartbeat": "1.0"})
        steps = [(plainWelcome, False), (packedWelcome, True),
                 (protocol.encodeBye(), False), (packedWelcome, True)]
        for n, (fromFront, packed) in enumerate(steps):
            # (A request comes only once a front welcomed the link: the one
            # the BYE finds running answers after it.)
            bye = fromFront == protocol.encodeBye()
            if not bye:
                self.fromFront(fromFront)
            self.request(b"front1.%d" % (n,))
            if bye:
                self.fromFront(fromFront)
            self.runner.runs[n].respond()
            frames = self.returnSocket.sent[-1]
            self.assertEqual(
                (len(frames), frames[:2]),
                (1, frames[:1]) if packed else (5, [protocol.VERSION, protocol.RESP]),
            )
        self.assertEqual(
            [r.requestId for r in self.replies() if isinstance(r, protocol.Response)],
            [b"front1.0", b"front1.1", b"front1.2", b"front1.3"],
        )

    def test_packedWithinMaxMessage(self) -> None:
        """
        A packed reply keeps within the front's C{max_message}: frames that
        would take the packed frame past it go as frames of their own, as
        they would plain.
        """
        self.fromFront(protocol.encodeWelcome(
            {"front": "front1", "heartbeat": "1.0", "max_message": "1000"}, packed=True))
        self.request(b"front1.1")
        self.runner.runs[0].respond(body=[b"x" * 950])
        frames = self.returnSocket.sent[-1]
        self.assertEqual(len(frames), 2)
        self.assertLessEqual(max(map(len, frames)), 1000)
        [reply] = self.replies()
        assert isinstance(reply, protocol.Response)
        self.assertEqual(reply.body, [b"x" * 950])

    def test_repliesCombinedOnceFrontSays(self) -> None:
        """
        Once the front's C{WELCOME} says C{batch=1} (with C{packed=1}),
        a reply that is one packed frame is combined with those of other
        threads (L{txmp._zmq.ZmqSocket.combine}) and sent as the sink
        returns; one with a frame of its own (a large body) goes alone, as
        does every reply to a front that does not say it, or once a C{BYE}
        says it forgot the link.
        """
        front = {"front": "front1", "heartbeat": "1.0"}
        batchWelcome = protocol.encodeWelcome(front, packed=True, batch=True)
        steps = [
            (protocol.encodeWelcome(front, packed=True), b"x", False),
            (batchWelcome, b"x", True),
            (batchWelcome, b"x" * (_defaults.PACK_LIMIT + 1), False),
            (protocol.encodeBye(), b"x", False),
            (batchWelcome, b"x", True),
        ]
        for n, (fromFront, body, combined) in enumerate(steps):
            # (As in test_repliesPackedOnceFrontSays.)
            bye = fromFront == protocol.encodeBye()
            if not bye:
                self.fromFront(fromFront)
            self.returnSocket.kept.clear()
            self.request(b"front1.%d" % (n,))
            if bye:
                self.fromFront(fromFront)
            self.runner.runs[n].respond(body=[body])
            self.assertEqual(self.returnSocket.combined, [])
            self.assertEqual(
                self.returnSocket.kept, [self.returnSocket.sent[-1]] if combined else []
            )
        self.assertEqual(
            [r.requestId for r in self.replies() if isinstance(r, protocol.Response)],
            [b"front1.%d" % (n,) for n in range(len(steps))],
        )

    def test_helloUntilWelcomed(self) -> None:
        """
        Until the front answers with C{WELCOME}, the link sends C{HELLO}
        again every heartbeat interval, never C{PING}.
        """
        self.link.start()
        self.clock.advance(self.heartbeat)
        self.clock.advance(self.heartbeat)
        kinds = [type(m) for m in self.control()]
        self.assertEqual(kinds, [protocol.Hello] * 3)
        self.assertIsNone(self.link.front)

    def test_pingOnceWelcomed(self) -> None:
        """
        Once welcomed, the link sends C{PING} every heartbeat interval and
        remembers the front's name.
        """
        self.link.start()
        self.welcome()
        self.assertEqual(self.link.front, "front1")
        self.sendSocket.clear()
        self.frontAnswers(3)
        self.assertEqual(self.control(), [protocol.Ping()] * 3)

    def test_fasterFrontHeartbeat(self) -> None:
        """
        A front whose C{WELCOME} announces a shorter heartbeat than the
        link's gets C{PING}s at its own, shorter, interval from then on.
        """
        self.link.start()
        self.clock.advance(0.2)
        self.fromFront(protocol.encodeWelcome({"front": "f", "heartbeat": "0.25"}))
        self.assertEqual(self.link.interval, 0.25)
        self.sendSocket.clear()
        self.clock.advance(0.25)
        self.assertEqual(self.control(), [protocol.Ping()])
        self.clock.advance(0.25)
        self.assertEqual(self.control(), [protocol.Ping()] * 2)

    def test_tinyFrontHeartbeat(self) -> None:
        """
        A C{WELCOME} announcing a heartbeat under L{MIN_HEARTBEAT} (a
        front's nanoseconds) is taken as L{MIN_HEARTBEAT}: the link sends a
        C{PING} every 10 ms, not at every turn of its reactor.
        """
        self.link.start()
        self.fromFront(
            protocol.encodeWelcome({"front": "f", "heartbeat": "0.000000000000000001"})
        )
        self.assertEqual(self.link.interval, _defaults.MIN_HEARTBEAT)
        self.sendSocket.clear()
        self.clock.advance(_defaults.MIN_HEARTBEAT)
        self.assertEqual(self.control(), [protocol.Ping()])

    def test_heartbeatBackWithSlowerFront(self) -> None:
        """
        A link that beat faster for a front's shorter heartbeat beats at
        its own again once a front welcomes it with a longer one (the
        front restarted with another C{--heartbeat}, or another front).
        """
        self.link.start()
        self.fromFront(protocol.encodeWelcome({"front": "f", "heartbeat": "0.25"}))
        self.assertEqual(self.link.interval, 0.25)
        self.fromFront(protocol.encodeWelcome({"front": "g", "heartbeat": "2.0"}))
        self.assertEqual(self.link.interval, self.heartbeat)
        self.fromFront(protocol.encodeWelcome({"front": "g", "heartbeat": "0.5"}))
        self.fromFront(protocol.encodeWelcome({"front": "g"}))
        self.assertEqual(self.link.interval, self.heartbeat)

    def test_slowerOrBadFrontHeartbeat(self) -> None:
        """
        A C{WELCOME} announcing a longer heartbeat, or one that is not a
        positive finite number, or none, leaves the link's heartbeat as it
        is.
        """
        self.link.start()
        for value in ["2.0", "0", "-1", "nan", "inf", "soon", ""]:
            self.fromFront(protocol.encodeWelcome({"front": "f", "heartbeat": value}))
            self.assertEqual(self.link.interval, self.heartbeat, value)
        self.fromFront(protocol.encodeWelcome({"front": "f"}))
        self.assertEqual(self.link.interval, self.heartbeat)

    def test_silentFront(self) -> None:
        """
        A front silent for more than three heartbeat intervals is forgotten,
        and the handler says so: the link sends C{HELLO} again, with its
        free capacity as credits.
        """
        self.link.start()
        self.welcome()
        self.request()
        self.sendSocket.clear()
        for _ in range(3):
            self.clock.advance(self.heartbeat)
        self.assertEqual(self.control(), [protocol.Ping()] * 3)
        with capturedLogs() as events:
            self.clock.advance(self.heartbeat)
        self.assertIsNone(self.link.front)
        hello = self.control()[-1]
        assert isinstance(hello, protocol.Hello)
        self.assertEqual(hello.credits, 1)
        # Named as the handler's other lines are (it lacked the prefix).
        self.assertIn(
            "mphandler host:123: front front1 at tcp://front:5556 is silent: "
            "registering again",
            [formatEvent(e) for e in events],
        )

    def test_pausedHandlerReadsFirst(self) -> None:
        """
        A heartbeat that runs late (the handler was paused: its clock
        jumped past it) does not take the front for silent, nor cancel a
        request waiting on it: what the front sent meanwhile is not read
        yet.  It says so; what is read then keeps the front; a front still
        silent at the next heartbeat is taken for gone then, whether that
        one is late too or not (once per silence).
        """
        self.startWelcomed()
        self.request(b"front1.1")
        [waiting] = self.runner.runs
        waiting.waitingOnFront = True
        with capturedLogs() as events:
            self.clock.advance(3.5 * self.heartbeat)
        self.assertEqual((self.link.front, waiting.cancelled), ("front1", False))
        [line] = [formatEvent(e) for e in events if "late" in formatEvent(e)]
        self.assertIn("heartbeat ran 2.500 s late", line)
        # The front's PING, sent while the handler was paused, is read.
        self.fromFront(protocol.encodePing())
        self.clock.pump([self.heartbeat] * 3)
        self.assertEqual((self.link.front, waiting.cancelled), ("front1", False))
        self.clock.advance(3.5 * self.heartbeat)
        self.assertEqual(self.link.front, "front1")
        self.clock.advance(1.5 * self.heartbeat)
        self.assertIsNone(self.link.front)
        self.assertTrue(waiting.cancelled)

    def test_silentFrontCancelsWaiting(self) -> None:
        """
        Once its front is silent, a running request that waits for body or
        window from it is cancelled (the front took the handler for dead
        after the same silence and forgot it, or is gone for good: it would
        wait for ever, holding its thread), and so is one that begins
        waiting later, at the next heartbeat, while no front knows the
        link; one that waits for nothing runs on.  Each is said once.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.request(b"front1.2")
        waiting, computing = self.runner.runs
        waiting.waitingOnFront = True
        with capturedLogs() as events:
            for _ in range(3):
                self.clock.advance(self.heartbeat)
            self.assertFalse(waiting.cancelled)
            self.clock.advance(self.heartbeat)
            self.assertIsNone(self.link.front)
            self.assertEqual((waiting.cancelled, computing.cancelled), (True, False))
            self.clock.advance(self.heartbeat)
            self.assertFalse(computing.cancelled)
            computing.waitingOnFront = True
            self.clock.advance(self.heartbeat)
            self.assertTrue(computing.cancelled)
            self.clock.advance(self.heartbeat)
        self.assertEqual(
            [formatEvent(e) for e in events if "cancelling" in formatEvent(e)],
            [
                "mphandler host:123: cancelling 1 requests: they wait for body "
                "or window from a silent front"
            ] * 2,
        )

    def test_silentFrontToldOfCancelled(self) -> None:
        """
        Each request cancelled so is ended with C{ERROR}, for a front that
        was only paused and spared the handler, which would otherwise wait
        its C{--timeout} for it (then 504): one not begun (502 at the
        front) and one whose response streams (its client's connection
        aborted).  Not one whose response went whole, though it waits for
        the rest of its body, nor one that waits for nothing.  Their
        credits come back as their threads end, as for any cancelled
        request.
        """
        self.startWelcomed()
        for n in range(4):
            self.request(b"front1.%d" % (n,))
        unbegun, streaming, answered, _computing = self.runner.runs
        for run in (unbegun, streaming, answered):
            run.waitingOnFront = True
        streaming.sink.sendHead(200, b"OK", [], [b"part"], True)
        answered.sink.sendHead(200, b"OK", [], [b"all"], False)
        before = len(self.replies())
        for _ in range(4):
            self.clock.advance(self.heartbeat)
        self.assertIsNone(self.link.front)
        self.assertEqual(
            [(r.cancelled) for r in self.runner.runs], [True, True, True, False]
        )
        why = "cancelled: it waited for body or window from this front, silent for 3 heartbeats"
        self.assertEqual(
            [m for m in self.replies()[before:] if isinstance(m, protocol.Error)],
            [protocol.Error(b"front1.0", why), protocol.Error(b"front1.1", why)],
        )
        # Nothing more from the application for them.
        streaming.sink.sendBody([b"late"], True)
        self.assertEqual(
            [m for m in self.replies()[before:] if isinstance(m, protocol.Body)], []
        )

    def test_answeringFrontWaitingKept(self) -> None:
        """
        A request that waits for body or window from a front that answers
        (however long it waits) is not cancelled: the front paces it.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        [waiting] = self.runner.runs
        waiting.waitingOnFront = True
        self.frontAnswers(10)
        self.assertEqual((self.link.front, waiting.cancelled), ("front1", False))

    def test_slowerFrontNotSilent(self) -> None:
        """
        A front whose C{WELCOME} announces a longer heartbeat than the
        link's, and which so sends its C{PING}s less often, is silent only
        after three of its own intervals: the link, counting three of its
        own, took a front beating every 5 s for gone every 5 s while idle,
        logging C{front ... is silent: registering again} each time.
        """
        self.link.start()
        self.fromFront(protocol.encodeWelcome({"front": "f", "heartbeat": "5.0"}))
        beats = 0
        for _ in range(3):
            # The front's PING, every 5 s, and the link's 5 beats between.
            for _ in range(5):
                self.clock.advance(self.heartbeat)
                beats += 1
            self.fromFront(protocol.encodePing())
            self.assertEqual(self.link.front, "f", beats)
        self.sendSocket.clear()
        for _ in range(15):
            self.clock.advance(self.heartbeat)
        self.assertEqual(self.link.front, "f")
        self.assertEqual(self.control(), [protocol.Ping()] * 15)
        self.clock.advance(self.heartbeat)
        self.assertIsNone(self.link.front)

    def test_byeMeansHelloNow(self) -> None:
        """
        C{BYE} from the front is answered with C{HELLO} at once.
        """
        self.link.start()
        self.welcome()
        self.sendSocket.clear()
        self.fromFront(protocol.encodeBye())
        self.assertIsNone(self.link.front)
        [hello] = self.control()
        self.assertIsInstance(hello, protocol.Hello)

    def test_byeCancelsRequests(self) -> None:
        """
        C{BYE} from the front means it has forgotten this link's requests
        (it restarted, or declared the handler dead): it will send no
        window or body for them, so they are cancelled.  Their slots are
        not announced as free until they finish.
        """
        self.link.start()
        self.welcome()
        self.request(b"front1.1")
        self.sendSocket.clear()
        self.fromFront(protocol.encodeBye())
        self.assertTrue(self.runner.runs[0].cancelled)
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual(hello.credits, 1)

    def test_newFrontCancelsRequests(self) -> None:
        """
        A C{WELCOME} from another front instance than the one that welcomed
        the link before (the front restarted while silent) cancels the
        requests still running: the old front is gone with them.  A
        repeated C{WELCOME} from the same front cancels nothing.
        """
        self.link.start()
        self.welcome("front1")
        self.request(b"front1.1")
        self.welcome("front1")
        self.assertFalse(self.runner.runs[0].cancelled)
        for _ in range(4):
            self.clock.advance(self.heartbeat)
        self.assertIsNone(self.link.front)
        self.welcome("front2")
        self.assertTrue(self.runner.runs[0].cancelled)

    def test_registeredAnewCancelsRequests(self) -> None:
        """
        A C{WELCOME} saying that the front registered the link anew
        (C{registered}: the front forgot it, say declared it dead while
        this process was stopped, and retried or failed its requests)
        cancels every request still running, which would otherwise wait
        for ever for a body or window the front will not send, holding
        their threads and credits.  The one that was running when the
        C{HELLO} the front registered from was sent (counted busy by it)
        gives its credit back by C{CREDIT}; one that came after it (sent
        before the front forgot the link), held as no front had welcomed
        the link since, is dropped, never run: the front answered it (a
        POST 502) or sent it elsewhere.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        while self.link.hellos < 2:
            self.clock.advance(self.heartbeat)
        hello = self.control()[-1]
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.credits, hello.sequence), (1, 2))
        self.request(b"front1.2")
        self.sendSocket.clear()
        self.fromFront(protocol.encodeWelcome(front="front1", registered=2))
        self.assertEqual([run.cancelled for run in self.runner.runs], [True])
        for run in self.runner.runs:
            run.sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1)])
        self.assertEqual(self.link.running, {})

    def test_connectionLostRegistersAnew(self) -> None:
        """
        A registered link whose connection to the front was lost (its
        socket's monitor says so, L{FrontLink.connectionLost}) says
        C{HELLO} with C{anew} at once, its running request counted busy:
        a C{REQ} or a reply lost with the connection would otherwise wait
        for the front's C{--timeout} and its credit be missing for good.
        Every C{HELLO} says the same C{anew} till one is answered (the
        first may be lost too).  A request that comes meanwhile is held;
        the front's C{WELCOME} saying C{registered} drops it and cancels
        the running one, whose credit then goes back by C{CREDIT}; a later
        loss asks again.
        """
        self.link.returnAddress = "tcp://front:5555"
        self.startWelcomed(credit_in_reply="1")
        self.request(b"front1.1")
        self.sendSocket.clear()
        with capturedLogs() as events:
            self.link.connectionLost(True)
        self.assertIn(
            ("mphandler host:123: its connection to front front1 at --return "
             "tcp://front:5555 was lost: what was on its way on it may be lost "
             "too; registering anew", LogLevel.warn),
            [(formatEvent(e), e["log_level"]) for e in events],
        )
        first, = self.control()
        assert isinstance(first, protocol.Hello)
        self.assertEqual((first.anew, first.credits), (first.sequence, 1))
        self.request(b"front1.2")
        self.assertEqual(len(self.runner.runs), 1)
        self.sendSocket.clear()
        # Said again, as the same loss, at the next heartbeat: the first
        # may be lost too.
        self.frontAnswers(1)
        hello, = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual(hello.anew, first.sequence)
        self.sendSocket.clear()
        self.fromFront(protocol.encodeWelcome(
            front="front1", registered=hello.sequence, answers=hello.sequence
        ))
        [run] = self.runner.runs
        self.assertTrue(run.cancelled)
        run.sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1)])
        self.assertEqual(self.link.free, 2)
        self.sendSocket.clear()
        self.frontAnswers(1)
        self.assertEqual(self.control(), [protocol.Ping()])
        self.sendSocket.clear()
        self.link.connectionLost(False)
        hello, = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual(hello.anew, hello.sequence)

    def test_connectionLostAgain(self) -> None:
        """
        A connection lost again while the link's C{HELLO} with C{anew} is
        not answered is another loss, asked for with another C{anew}: the
        front may have read the first and registered the link anew, its
        C{WELCOME} saying so and the C{REQ}s of that registration lost with
        the second connection; with the same C{anew}, the front took the
        link's next C{HELLO} for a repeat, the lost C{REQ}s waited for
        C{--timeout} (504) with their credits, and the link, answered
        without C{registered}, ran the requests it held of the registration
        the front had forgotten (found by test_lossstate: the front counted
        3 credits of 2, or 0 of 1).  The answer to the first drops what is
        held; that to the second settles it.
        """
        self.startWelcomed()
        self.sendSocket.clear()
        self.link.connectionLost(True)
        self.link.connectionLost(False)
        first, second = self.control()
        assert isinstance(first, protocol.Hello) and isinstance(second, protocol.Hello)
        self.assertEqual(
            (first.anew, second.anew), (first.sequence, second.sequence)
        )
        self.request(b"front1.1")
        self.fromFront(protocol.encodeWelcome(
            front="front1", registered=first.sequence, answers=first.sequence
        ))
        self.request(b"front1.2")
        self.fromFront(protocol.encodeWelcome(
            front="front1", registered=second.sequence, answers=second.sequence
        ))
        self.request(b"front1.3")
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.3"])

    def test_connectionLostOlderFront(self) -> None:
        """
        A front that does not know C{anew} answers the link's C{HELLO} as a
        repeated one, without C{registered}: the request held meanwhile
        runs, and the running one runs on.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.link.connectionLost(False)
        self.request(b"front1.2")
        self.welcome()
        self.assertEqual(
            [(run.requestId, run.cancelled) for run in self.runner.runs],
            [(b"front1.1", False), (b"front1.2", False)],
        )

    def test_connectionLostBeforeWelcome(self) -> None:
        """
        A connection lost while no front has welcomed the link since its
        C{HELLO} asks to be registered anew too: the front may have
        registered the link from that C{HELLO}, its C{WELCOME} and first
        C{REQ} lost with the connection, and a C{HELLO} without C{anew}
        would only update that registration, the C{REQ} waiting for
        C{--timeout} (504) and its credit missing for good (found by
        test_lossstate: the front counted 0 credits of 1, the link idle).
        A request that comes meanwhile is held, and dropped once the
        front's C{WELCOME} says it registered the link anew.
        """
        self.link.start()
        self.sendSocket.clear()
        with capturedLogs() as events:
            self.link.connectionLost(False)
        # (No front known: not "front ?"; and no front counts on the link
        # yet: information, not a warning.)
        self.assertIn(
            ("mphandler host:123: its connection to the front at --send "
             f"{self.link.address} was lost: what was on its way on it may be "
             "lost too; registering anew", LogLevel.info),
            [(formatEvent(e), e["log_level"]) for e in events],
        )
        hello, = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual(hello.anew, hello.sequence)
        self.request(b"front1.1")
        self.fromFront(protocol.encodeWelcome(
            front="front1", registered=hello.sequence, answers=hello.sequence
        ))
        self.assertEqual(self.runner.runs, [])
        self.assertEqual(self.link.free, self.link.capacity)

    def test_registeredFromOlderHelloHoldsOn(self) -> None:
        """
        A C{WELCOME} that says the front registered the link from a
        C{HELLO} older than the one the link holds requests for (here: its
        first, its C{HELLO} with C{anew} sent since, as a connection was
        lost) drops what is held, but holds on until the answer to that
        one: the front may have read it already, and forgotten the
        registration the C{REQ}s that follow belong to.  Otherwise such a
        C{REQ} ran (found by test_lossstate: a link of one slot ran two
        requests, and gave two credits back: the front counted 2 of 1).
        """
        self.link.start()
        self.link.connectionLost(False)
        self.assertEqual(self.link.hellos, 2)
        self.fromFront(protocol.encodeWelcome(front="front1", registered=1, answers=1))
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        self.fromFront(protocol.encodeWelcome(front="front1", registered=2, answers=2))
        self.request(b"front1.1/2")
        self.assertEqual(
            [(run.requestId, run.cancelled) for run in self.runner.runs],
            [(b"front1.1/2", False)],
        )

    def test_connectionLostDraining(self) -> None:
        """
        A connection lost while the link drains sends nothing: it holds
        nothing, and asks for nothing anew.
        """
        self.link.start()
        self.welcome()
        self.link.drain()
        self.sendSocket.clear()
        self.link.connectionLost(True)
        self.assertEqual(self.control(), [])

    def test_frontRestartedCancelsOnce(self) -> None:
        """
        A front restarted on the same addresses answers the link's next
        message with C{BYE} (it does not know the link), then welcomes it
        under a new name, registered anew: the running requests are
        cancelled and said to be once, in one warning that counts only
        those the front had not cancelled already, not in a line for each
        of the C{BYE}, the new name and the new registration.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.request(b"front1.2")
        self.fromFront(protocol.encodeCancel(b"front1.2"))
        with capturedLogs() as events:
            self.fromFront(protocol.encodeBye())
            self.fromFront(protocol.encodeWelcome(front="front2", registered=2))
        self.assertEqual([run.cancelled for run in self.runner.runs], [True, True])
        self.assertEqual(
            [formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn],
            [
                "mphandler host:123: cancelling 1 requests: "
                "the front does not know this handler"
            ],
        )

    def test_byeLogged(self) -> None:
        """
        A C{BYE} from the front that welcomed the link (it stops, or
        restarted) is logged when it comes, naming that front and its
        address, once: not again for a C{BYE} while unregistered.
        """
        self.startWelcomed()
        with capturedLogs() as events:
            self.fromFront(protocol.encodeBye())
            self.fromFront(protocol.encodeBye())
        self.assertEqual(
            [formatEvent(e) for e in events],
            [
                "mphandler host:123: front front1 at tcp://front:5556 said BYE (it "
                "stopped or restarted, or took this handler for dead): registering again"
            ],
        )

    def forgottenWhileRunning(self) -> None:
        """
        Run C{front1.1}, then have the front register the link anew (it
        forgot the link, and so the request, which is cancelled but still
        holds its thread), and clear what was sent.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        while self.link.hellos < 2:
            self.clock.advance(self.heartbeat)
        self.fromFront(protocol.encodeWelcome(front="front1", registered=2))
        self.assertTrue(self.runner.runs[0].cancelled)
        self.sendSocket.clear()

    def test_retriedWhileCancelledRuns(self) -> None:
        """
        A front that registered the link anew retries the requests it
        forgot under new ids (docs/protocol.md, 3.4), and may send one to
        this same link while its first run, cancelled, still holds its
        thread: the retry runs at once, in a free thread.  The first run's
        credit goes back when it ends, the retry's when it does.
        """
        self.forgottenWhileRunning()
        self.request(b"front1.1/2")
        self.assertEqual(len(self.runner.runs), 2)
        self.assertFalse(self.runner.runs[1].cancelled)
        self.runner.runs[0].sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1)])
        self.runner.runs[1].sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1), protocol.Credit(1)])
        self.assertEqual(self.link.running, {})

    def test_forgottenSentAgainDropped(self) -> None:
        """
        A C{REQ} with the id of a forgotten request that still runs is a
        duplicate like any other: dropped, and counted (a front gives a
        retry a new id).
        """
        self.forgottenWhileRunning()
        self.request(b"front1.1")
        self.assertEqual(len(self.runner.runs), 1)
        self.assertEqual(self.link.stats["badMessages"], 1)
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def lateRequest(self) -> protocol.Hello:
        """
        Let the welcomed link's front fall silent until the link says
        C{HELLO} again (its second), then deliver a C{REQ} sent before that
        C{HELLO} reached the front (the front may have declared the link
        dead, and answered the request): no front has welcomed the link
        since, so the request is held, not run, and a third C{HELLO} goes at
        once (L{FrontLink._doubt}).

        @return: the second C{HELLO}.
        """
        self.startWelcomed()
        while self.link.hellos < 2:
            self.clock.advance(self.heartbeat)
        hello = self.control()[-1]
        assert isinstance(hello, protocol.Hello)
        self.sendSocket.clear()
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        [doubt] = self.control()
        assert isinstance(doubt, protocol.Hello)
        # (The request held counts free.)
        self.assertEqual((doubt.credits, doubt.sequence), (2, 3))
        self.sendSocket.clear()
        return hello

    def test_lateRequestRegisteredAnew(self) -> None:
        """
        A request held until the front answers (L{lateRequest}) is dropped,
        never run, if the C{WELCOME} says the front registered the link
        anew: it had forgotten the link and its requests, and answered them
        (a POST 502) or sent them elsewhere; a helper saw a POST answered
        502 run when its handler came back.  No C{CREDIT} follows: the
        C{HELLO} counted the slot free.
        """
        hello = self.lateRequest()
        self.assertEqual((hello.credits, hello.sequence), (2, 2))
        with capturedLogs() as events:
            self.fromFront(protocol.encodeWelcome(front="front1", registered=2))
        self.assertEqual(self.runner.runs, [])
        self.assertEqual(self.control(), [])
        self.assertEqual(self.link.free, 2)
        self.assertIn(
            "mphandler host:123: dropped 1 requests held from front tcp://front:5556: "
            "it had forgotten this handler (declared it dead), and answered or "
            "retried them",
            [formatEvent(e) for e in events],
        )

    def test_lateRequestWelcomedAgain(self) -> None:
        """
        A request held until the front answers runs once a C{WELCOME}
        without C{registered} comes (the front kept its count, which the
        request took), and gives its credit back as it ends.
        """
        self.lateRequest()
        self.welcome()
        [run] = self.runner.runs
        self.assertEqual(run.requestId, b"front1.1")
        run.sink.sendHead(200, b"OK", [], [b"done"], False)
        run.sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_lateRequestWelcomeLost(self) -> None:
        """
        While a request is held, the link says C{HELLO} at every heartbeat,
        so that a lost C{WELCOME} holds it for no more than one; the next
        settles it.
        """
        self.lateRequest()
        self.frontAnswers(1)
        hello, = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.credits, hello.sequence), (2, 4))
        self.assertEqual(self.runner.runs, [])
        self.sendSocket.clear()
        self.welcome()
        self.assertEqual(len(self.runner.runs), 1)
        self.frontAnswers(1)
        self.assertEqual(self.control(), [protocol.Ping()])

    def test_heldInOrder(self) -> None:
        """
        What comes about requests while one is held is held after it, and
        handled in the order it came once the front answers: a C{CANCEL}
        held after a held request keeps it from starting at all, and its
        credit goes back at once; a second request runs; a C{CANCEL} of
        it, held after it, cancels it as it runs.
        """
        self.lateRequest()
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.request(b"front1.2")
        self.request(b"front1.3")
        self.fromFront(protocol.encodeBody(b"front1.3", [b"late"], end=True))
        self.fromFront(protocol.encodeCancel(b"front1.3"))
        self.assertEqual(self.runner.runs, [])
        self.welcome()
        self.assertEqual(
            [(run.requestId, run.cancelled) for run in self.runner.runs],
            [(b"front1.2", False)],
        )
        self.assertEqual(self.control(), [protocol.Credit(2)])

    def test_heldCancelledCreditBeforeNewHold(self) -> None:
        """
        The credit of a held request that a held C{CANCEL} keeps from
        starting goes before anything replayed after it: when a later held
        request begins another hold (the link was paused again before it
        read the answer), its C{HELLO} follows that C{CREDIT}, so that a
        front that forgot the link and registers it anew from that
        C{HELLO} (which counts the slot free) does not count it twice.
        """
        self.lateRequest()
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.request(b"front1.2")
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        # (The answer to the HELLO that began the hold.)
        self.fromFront(protocol.encodeWelcome(front="front1", answers=self.link.hellos))
        self.assertEqual(self.runner.runs, [])
        self.assertEqual(
            [type(m) for m in self.control()], [protocol.Credit, protocol.Hello]
        )

    def test_heldRecalled(self) -> None:
        """
        A held request that a C{RECALL} held after it asks back (the front
        means to send it where there is room) never starts once the front
        answers: it is given back by C{RECALLED}, with its slot, and no
        C{CREDIT} follows.
        """
        self.lateRequest()
        self.fromFront(protocol.encodeRecall(b"front1.1"))
        self.welcome()
        self.assertEqual(self.runner.runs, [])
        self.assertEqual(self.control(), [protocol.Recalled(b"front1.1")])
        self.assertEqual(self.link.stats["recalled"], 1)
        self.assertEqual(self.link.running, {})

    def test_pausedRequestHeld(self) -> None:
        """
        A request that comes when the link's heartbeat last ran more than
        L{_defaults.DOUBT_AFTER} intervals ago (the process was paused, and
        the front may have declared it dead meanwhile) is held too, the
        front still said to be the link's, until a C{WELCOME} answers the
        C{HELLO} sent then; one that comes sooner runs at once.
        """
        self.startWelcomed()
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        self.assertEqual(self.link.front, "front1")
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.fromFront(protocol.encodeWelcome(front="front1", registered=hello.sequence))
        self.assertEqual(self.runner.runs, [])
        self.request(b"front1.2")
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.2"])

    def test_pausedHeartbeatFirst(self) -> None:
        """
        A paused link whose heartbeat runs before it reads what came
        meanwhile (a reactor may run its timers first) doubts as the
        heartbeat finds the pause: it says C{HELLO}, and the requests that
        come are held until the answer, dropped if the front registered the
        link anew.
        """
        self.startWelcomed()
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.clock.advance(0)
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        self.fromFront(protocol.encodeWelcome(front="front1", registered=hello.sequence))
        self.assertEqual(self.runner.runs, [])
        self.request(b"front1.2")
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.2"])

    def test_shorterFrontHeartbeat(self) -> None:
        """
        A front that beats faster than the link (front 0.1 s, link 1 s),
        welcoming it half a second after its last heartbeat, has the
        deadline counted from its C{WELCOME}: the first request runs, and
        the next heartbeat, on time, is a C{PING}.  (A reviewer's: the
        deadline, two of the front's intervals after the link's last
        heartbeat, was past already.)
        """
        self.link.start()
        self.clock.advance(0.5)
        self.fromFront(protocol.encodeWelcome(front="front1", heartbeat=0.1))
        self.sendSocket.clear()
        self.request(b"front1.1")
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.1"])
        self.clock.advance(0.1)
        self.assertEqual(self.control(), [protocol.Ping()])

    def test_frontsIntervals(self) -> None:
        """
        The pause is counted in the front's intervals, not the link's: a
        link of 0.2 s behind a front of 1 s (which declares it dead after
        3 s) does not hold a request after a stall of 0.5 s.
        """
        link = FrontLink(self.clock, self.runner, self.sendSocket, self.returnSocket,
                         "h", capacity=2, heartbeat=0.2, inReactorThread=lambda: True)
        self.addCleanup(link.stop)
        link.start()
        link.controlReceived(protocol.encodeWelcome(front="front1", heartbeat=1.0))
        self.clock.rightNow += 0.5
        link.controlReceived(protocol.encodeRequest(b"front1.1", META, [], []))
        self.assertEqual(len(self.runner.runs), 1)

    def test_networkCutHeld(self) -> None:
        """
        A request that comes more than L{_defaults.DOUBT_AFTER} of the
        front's intervals after anything else from it is held, though the
        link's heartbeats ran and it has not yet found the front silent: a
        network cut from which the front had declared the link dead (after
        three) and answered the request.
        """
        self.startWelcomed()
        self.clock.advance(0.95)
        self.fromFront(protocol.encodePing())
        for _ in range(3):
            self.clock.advance(self.heartbeat)
        self.assertEqual(self.link.front, "front1")
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])

    def test_secondPauseKeepsHeld(self) -> None:
        """
        A second pause found while requests are held does not start the
        hold afresh, which would drop them unanswered.
        """
        self.startWelcomed()
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.clock.advance(0)
        self.welcome()
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.1"])

    def test_drainingHoldsNothing(self) -> None:
        """
        A draining link holds nothing, whether a request or its heartbeat
        finds the pause: it says no C{HELLO} (which would make the front
        dispatch to it again), so no C{WELCOME} would settle a hold, and it
        must serve what the front sent before its C{BYE}.
        """
        self.startWelcomed()
        self.link.drain()
        self.sendSocket.clear()
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.request(b"front1.1")
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.clock.advance(0)
        self.request(b"front1.2")
        self.assertEqual(len(self.runner.runs), 2)
        self.assertNotIn(protocol.Hello, [type(m) for m in self.control()])

    def test_staleWelcomeKeepsHold(self) -> None:
        """
        A C{WELCOME} that answers a C{HELLO} sent before the link began to
        hold (its C{hello} says which) settles nothing: the front sent it
        before the pause, and what came after may be what the front gave
        up since.  The answer to the link's own C{HELLO} does.  (A
        reviewer's: a second pause, the first's answer read after it.)
        """
        self.startWelcomed()
        pause = self.heartbeat * (_defaults.DOUBT_AFTER + 0.5)
        self.clock.rightNow += pause
        self.clock.advance(0)
        [first] = self.control()
        assert isinstance(first, protocol.Hello)
        self.sendSocket.clear()
        self.clock.rightNow += pause
        self.clock.advance(0)
        [second] = [m for m in self.control() if isinstance(m, protocol.Hello)]
        self.fromFront(protocol.encodeWelcome(front="front1", answers=first.sequence))
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        self.fromFront(protocol.encodeWelcome(
            front="front1", answers=second.sequence, registered=second.sequence))
        self.assertEqual(self.runner.runs, [])

    def test_staleWelcomeFrontless(self) -> None:
        """
        So for a link whose front had fallen silent: a late heartbeat
        begins the hold (a C{WELCOME} to a C{HELLO} from before the pause
        would otherwise make the link take itself as registered, and run
        what the front gave up meanwhile); the answer to its own C{HELLO}
        settles it.
        """
        self.startWelcomed()
        for _ in range(protocol.SILENT_INTERVALS + 1):
            self.clock.advance(self.heartbeat)
        self.assertIsNone(self.link.front)
        self.sendSocket.clear()
        self.clock.rightNow += self.heartbeat * (_defaults.DOUBT_AFTER + 3)
        self.clock.advance(0)
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        assert hello.sequence is not None
        self.fromFront(protocol.encodeWelcome(front="front1", answers=hello.sequence - 1))
        self.request(b"front1.1")
        self.assertEqual(self.runner.runs, [])
        self.fromFront(protocol.encodeWelcome(front="front1", answers=hello.sequence))
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.1"])

    def test_lateRequestDraining(self) -> None:
        """
        A request held when the link starts draining runs once the front
        answers that it kept the link (a draining handler serves what the
        front sent it), and gives no credit back.
        """
        self.lateRequest()
        self.link.drain()
        self.welcome()
        self.assertEqual(len(self.runner.runs), 1)
        self.runner.runs[0].sink.finished()
        self.assertEqual(self.control(), [protocol.Bye()])

    def test_lateRequestBye(self) -> None:
        """
        A request held is dropped by a C{BYE}: the front forgot the link,
        and the C{HELLO} that answers the C{BYE} counts the slot free.
        """
        self.lateRequest()
        self.fromFront(protocol.encodeBye())
        self.welcome()
        self.assertEqual(self.runner.runs, [])
        self.assertEqual([type(m) for m in self.control()], [protocol.Hello])

    def test_requestBeforeHelloCreditsAtOnce(self) -> None:
        """
        A request that was running when the link said C{HELLO} again
        (counted busy by it) gives its credit back by C{CREDIT} as soon as
        it ends, before any answer to that C{HELLO}: whether the front
        registers the link anew from that C{HELLO} or kept its count, the
        credit is owed.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        while self.link.hellos < 2:
            self.clock.advance(self.heartbeat)
        self.sendSocket.clear()
        self.runner.runs[0].sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1)])
        self.fromFront(protocol.encodeWelcome(front="front1", registered=2))
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def requestAfterUnansweredHello(self) -> None:
        """
        Have the link run C{front2.1}, which comes after a C{HELLO} (3) that
        no front has answered yet, then lose its front (C{BYE}: it says
        C{HELLO} 4) and end the request, cancelled; clear what was sent.

        So it goes when messages of two fronts wait for the link (paused,
        say), the first restarted and the second stopped meanwhile: a
        C{REQ} of the first, held as the link had lost it, makes it say
        C{HELLO} 3, which the third front will read; the second's
        C{WELCOME} (to C{HELLO} 2) settles the hold, and its C{REQ} runs;
        then its last C{BYE}.
        """
        self.startWelcomed()
        self.fromFront(protocol.encodeBye())
        self.request(b"front1.9")
        self.assertEqual((self.runner.runs, self.link.hellos), ([], 3))
        self.fromFront(protocol.encodeWelcome(front="front2", answers=2, registered=2))
        self.request(b"front2.1")
        self.fromFront(protocol.encodeBye())
        self.assertEqual(self.link.hellos, 4)
        [run] = self.runner.runs
        self.assertTrue(run.cancelled)
        run.sink.finished()
        self.assertEqual([type(m) for m in self.control()], [protocol.Hello] * 3)
        self.sendSocket.clear()

    def test_creditAfterUnansweredHelloWaits(self) -> None:
        """
        The credit of a request that came after a C{HELLO} not answered yet
        and ended before its answer waits for the C{WELCOME}: a front that
        registers the link anew from that C{HELLO} counted its slot free,
        and takes no C{CREDIT} for it (else it holds a credit more than the
        link has slots, for good: the fault of the state machine of
        test_linkstate, which shrank to this).
        """
        self.requestAfterUnansweredHello()
        self.fromFront(protocol.encodeWelcome(front="front3", answers=3, registered=3))
        self.fromFront(protocol.encodeWelcome(front="front3", answers=4))
        self.assertEqual(self.control(), [])

    def test_creditAfterUnansweredHelloOwed(self) -> None:
        """
        Such a credit goes once the C{WELCOME} says it is owed: the front
        registered the link from a C{HELLO} that counted the request busy
        (sent after it came, before it ended), or kept its count.
        """
        self.requestAfterUnansweredHello()
        self.fromFront(protocol.encodeWelcome(front="front3", answers=4, registered=4))
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_creditAfterUnansweredHelloKept(self) -> None:
        """
        So too when the answers do not say C{registered}: the front kept
        its count, which took the request.  Once every C{HELLO} sent is
        answered: a front that reads the C{CREDIT} has read them all, and
        registered the link anew from none.
        """
        self.requestAfterUnansweredHello()
        self.fromFront(protocol.encodeWelcome(front="front2", answers=3))
        self.assertEqual(self.control(), [])
        self.fromFront(protocol.encodeWelcome(front="front2", answers=4))
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def heldCancelledWhileHelloUnanswered(self) -> None:
        """
        Have the link hold C{front1.1} and its C{CANCEL} (its front fell
        silent: it says C{HELLO} 3 as the request comes), say C{HELLO} 4 at
        its next heartbeat, and settle them with the front's answer to
        C{HELLO} 3, which kept the link; clear what was sent.
        """
        self.startWelcomed()
        for _ in range(protocol.SILENT_INTERVALS + 1):
            self.clock.advance(self.heartbeat)
        self.assertEqual((self.link.front, self.link.hellos), (None, 2))
        self.request(b"front1.1")
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.clock.advance(self.heartbeat)
        self.assertEqual(self.link.hellos, 4)
        self.sendSocket.clear()
        self.fromFront(protocol.encodeWelcome(front="front1", answers=3))
        self.assertEqual(self.runner.runs, [])

    def test_heldCancelledCreditWaits(self) -> None:
        """
        The credit of a request held and cancelled (it never runs) waits
        too while a C{HELLO} sent as it was held is not answered: that
        C{HELLO} counted the slot free, and a front that registers the link
        anew from it (the first one restarted meanwhile) takes no C{CREDIT}
        for it (else, a credit more than the link has slots, for good: the
        state machine of test_linkstate).
        """
        self.heldCancelledWhileHelloUnanswered()
        self.assertEqual(self.control(), [])
        self.fromFront(protocol.encodeWelcome(front="front2", answers=4, registered=4))
        self.assertEqual(self.control(), [])

    def test_heldCancelledCreditKept(self) -> None:
        """
        That credit goes once the front that kept the link answers every
        C{HELLO}.
        """
        self.heldCancelledWhileHelloUnanswered()
        self.fromFront(protocol.encodeWelcome(front="front1", answers=4))
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_creditAfterUnansweredHelloAsked(self) -> None:
        """
        While such a credit waits, the link says C{HELLO} at its
        heartbeats, so that a C{WELCOME} lost does not keep it for good.
        """
        self.requestAfterUnansweredHello()
        self.fromFront(protocol.encodeWelcome(front="front3", answers=2))
        self.clock.advance(self.heartbeat)
        [hello] = self.control()
        assert isinstance(hello, protocol.Hello)
        self.fromFront(protocol.encodeWelcome(front="front3", answers=hello.sequence))
        self.assertEqual(self.control(), [hello, protocol.Credit(1)])

    def test_creditAfterUnansweredHelloSlowFront(self) -> None:
        """
        Such a credit goes to a front that answers each C{HELLO} a
        heartbeat late (its reactor busy, or far away: a short
        C{--heartbeat}): the link says C{HELLO} less and less often while
        it waits.  Else each C{HELLO} of its heartbeats goes before the
        answer to the one before comes, and the credit waits for good.
        """
        self.heldCancelledWhileHelloUnanswered()
        for _ in range(4):
            answers = self.link.hellos
            self.clock.advance(self.heartbeat)
            self.fromFront(protocol.encodeWelcome(front="front1", answers=answers))
        credits = [m for m in self.control() if isinstance(m, protocol.Credit)]
        self.assertEqual(credits, [protocol.Credit(1)])
        self.assertEqual(self.link._owed, [])

    def test_owedHelloWaitBounded(self) -> None:
        """
        While such a credit waits for a front that answers C{PING}s but
        not the C{HELLO}s (a lost C{WELCOME}), the link says C{HELLO} at
        least every L{OWED_HELLO_MAX_WAIT} heartbeats, however long it has
        waited: the wait doubles up to that, not for ever.
        """
        self.heldCancelledWhileHelloUnanswered()
        self.frontAnswers(5 * _defaults.OWED_HELLO_MAX_WAIT)
        before = self.link.hellos
        self.frontAnswers(2 * _defaults.OWED_HELLO_MAX_WAIT)
        self.assertGreaterEqual(self.link.hellos - before, 2)
        self.assertEqual(len(self.link._owed), 1)

    def registeredAnewTwiceWhileRunning(self) -> None:
        """
        Have the link run C{front2.1}, which comes after its C{HELLO} 3;
        then the front that sent it stops (C{BYE}: the link says C{HELLO}
        4, which counts the request busy), a front restarted meanwhile
        answers C{HELLO} 3, registered from it (which counted the request
        free), and the request ends; clear what was sent.
        """
        self.startWelcomed()
        self.fromFront(protocol.encodeBye())
        self.clock.advance(self.heartbeat)
        self.assertEqual(self.link.hellos, 3)
        self.fromFront(protocol.encodeWelcome(front="front2", answers=2, registered=2))
        self.request(b"front2.1")
        self.fromFront(protocol.encodeBye())
        self.fromFront(protocol.encodeWelcome(front="front3", answers=3, registered=3))
        [run] = self.runner.runs
        self.assertTrue(run.cancelled)
        self.sendSocket.clear()
        run.sink.finished()
        self.assertEqual(self.control(), [])

    def test_registeredAnewFromLaterHello(self) -> None:
        """
        A front that registers the link anew from a C{HELLO} that counted
        a request busy (a third front, the second crashed) gets its credit
        when it ends, though an earlier registration, from a C{HELLO} that
        counted it free, said none was owed: else the front has a credit
        less than the link has slots, for good (the state machine of
        test_linkstate, a front restarted twice while the link read
        late).
        """
        self.registeredAnewTwiceWhileRunning()
        self.fromFront(protocol.encodeWelcome(front="front4", answers=4, registered=4))
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_registeredAnewEarlierHelloKept(self) -> None:
        """
        A front that registered the link from the C{HELLO} that counted the
        request free, and kept it, gets no credit for it.
        """
        self.registeredAnewTwiceWhileRunning()
        self.fromFront(protocol.encodeWelcome(front="front3", answers=4))
        self.assertEqual(self.control(), [])

    def test_welcomedAgainKeepsRequests(self) -> None:
        """
        A C{WELCOME} without C{registered} (the front answers a repeated
        C{HELLO} of a link it still knows) cancels nothing.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        while self.link.hellos < 2:
            self.clock.advance(self.heartbeat)
        self.welcome()
        self.assertFalse(self.runner.runs[0].cancelled)

    def test_requestBeforeWelcomeHeld(self) -> None:
        """
        A request to a link no front has welcomed (its C{WELCOME} lost) is
        held, and a C{HELLO} goes at once; the C{WELCOME} that answers it
        runs the request, and the next heartbeat is a C{PING}.
        """
        self.link.start()
        self.request()
        self.assertEqual(self.runner.runs, [])
        self.assertEqual([type(m) for m in self.control()], [protocol.Hello] * 2)
        self.welcome()
        self.assertEqual(len(self.runner.runs), 1)
        self.sendSocket.clear()
        self.clock.advance(self.heartbeat)
        self.assertEqual(self.control(), [protocol.Ping()])

    def test_stop(self) -> None:
        """
        L{FrontLink.stop} stops the heartbeats.
        """
        self.link.start()
        self.link.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_badMessages(self) -> None:
        """
        Messages that do not decode, and messages a front never sends on
        this socket, are counted in C{stats["badMessages"]} and ignored.
        """
        self.link.start()
        self.fromFront([b"TXMP0", protocol.PING])
        self.fromFront([protocol.VERSION, protocol.REQ, b"id"])
        self.fromFront(protocol.encodeCredit(1))
        self.fromFront(protocol.encodeResponse(b"x", 200, b"OK", [], []))
        self.assertEqual(self.link.stats["badMessages"], 4)
        self.assertEqual(self.runner.runs, [])
        self.assertEqual(len(self.control()), 1)


class RequestTests(FrontLinkTestCase):
    """
    Requests, and what their sink sends back.
    """

    def setUp(self) -> None:
        FrontLinkTestCase.setUp(self)
        self.startWelcomed()

    def test_requestRuns(self) -> None:
        """
        C{REQ} runs the runner with the request id, the decoded head and
        the body frames.
        """
        self.request(b"front1.7", body=[b"one", b"two"])
        [run] = self.runner.runs
        self.assertEqual(run.requestId, b"front1.7")
        self.assertEqual(run.head.method, "POST")
        self.assertEqual(run.head.target, "/submit?x=1")
        self.assertEqual(run.head.scheme, "https")
        self.assertEqual(run.head.headers, [("Host", "example.com")])
        self.assertEqual(run.body, [b"one", b"two"])
        self.assertEqual(self.link.stats["requests"], 1)
        self.assertEqual(self.link.free, 1)
        self.assertEqual(self.link.running, {b"front1.7": run})

    def test_badBatched(self) -> None:
        """
        A message that is a packed C{BATCH} (one inside a C{BATCH}, as the
        socket hands it on) or a bare version frame is counted in
        C{stats["badMessages"]} and ignored; the next is read.
        """
        inner = protocol.pack(protocol.encodeBatch([
            protocol.pack(protocol.encodeRequest(b"front1.6", META, [], []))[0]
        ]))[0]
        self.fromFront([inner])
        self.fromFront([b"TXMP1"])
        self.fromFront(protocol.pack(protocol.encodeRequest(b"front1.7", META, [], [])))
        self.assertEqual([run.requestId for run in self.runner.runs], [b"front1.7"])
        self.assertEqual(self.link.stats["badMessages"], 2)

    def test_head(self) -> None:
        """
        The sink's C{sendHead} becomes a C{RESP} on the return socket.
        """
        self.request(b"front1.7")
        self.runner.runs[0].sink.sendHead(
            404, b"Not Found", [(b"Set-Cookie", b"a"), (b"Set-Cookie", b"b")],
            [b"nope"], False,
        )
        [response] = self.replies()
        self.assertEqual(
            response,
            protocol.Response(
                b"front1.7",
                protocol.ResponseHead(
                    404, b"Not Found", ((b"Set-Cookie", b"a"), (b"Set-Cookie", b"b")),
                    False,
                ),
                [b"nope"],
            ),
        )
        self.assertEqual(self.control(), [])

    def welcomeWithMaxMessage(self, size: str) -> None:
        """
        Deliver a C{WELCOME} whose C{max_message} is C{size}.
        """
        self.welcome(max_message=size)

    def test_maxMessageFromWelcome(self) -> None:
        """
        The link takes the largest frame the front accepts from the
        C{max_message} of its C{WELCOME}; without one, or with one that is
        not a positive integer, it assumes C{mpfront}'s default.
        """
        self.assertEqual(self.link.maxMessage, _defaults.DEFAULT_MAX_MESSAGE)
        self.welcomeWithMaxMessage("1000")
        self.assertEqual(self.link.maxMessage, 1000)
        for bad in ["", "0", "-1", "1e6", "1" * 19, "\u0661"]:
            self.welcomeWithMaxMessage("1000")
            self.welcomeWithMaxMessage(bad)
            self.assertEqual(self.link.maxMessage, _defaults.DEFAULT_MAX_MESSAGE, bad)
        self.welcomeWithMaxMessage("1000")
        self.welcome()
        self.assertEqual(self.link.maxMessage, _defaults.DEFAULT_MAX_MESSAGE)

    def test_headTooLarge(self) -> None:
        """
        A response head that would not fit in a frame the front accepts
        (headers, or a reason phrase, larger than its C{max_message}) is
        replaced with a 500 and logged (by the request's C{X-Request-Id}),
        and the request is cancelled; nothing else is sent for it, and its
        credit comes back when it finishes.
        """
        self.welcomeWithMaxMessage("200")
        for reason, headers in [
            (b"OK", [(b"Set-Cookie", b"x" * 200)]),
            (b"O" * 200, []),
        ]:
            del self.returnSocket.sent[:], self.sendSocket.sent[:]
            events: list[LogEvent] = []
            self.patch(_ReplySink, "_log", Logger(observer=cast(ILogObserver, events.append)))
            self.request(b"front1.7", headers=[(b"X-Request-Id", b"proxy-id")])
            run = self.runner.runs[-1]
            run.sink.sendHead(200, reason, headers, [b"body"], True)
            run.sink.sendBody([b"more"], False)
            run.sink.sendError("late")
            [response] = self.replies()
            assert isinstance(response, protocol.Response)
            self.assertEqual(
                (response.requestId, response.head.status, response.head.more),
                (b"front1.7", 500, False),
            )
            self.assertEqual(b"".join(response.body), b"500 Internal Server Error\n")
            self.assertTrue(run.cancelled)
            [event] = events
            # Named by its X-Request-Id, as its access log line is.
            self.assertEqual((event["limit"], event["requestId"]), (200, "proxy-id"))
            self.assertGreater(event["size"], 200)
            run.sink.finished()
            self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_headThatFits(self) -> None:
        """
        A head exactly as large as the front accepts goes as it is.
        """
        self.welcomeWithMaxMessage("200")
        self.request(b"front1.7")
        value = b"x" * (200 - len(b"Set-Cookie\0"))
        self.runner.runs[0].sink.sendHead(200, b"OK", [(b"Set-Cookie", value)], [], False)
        [response] = self.replies()
        assert isinstance(response, protocol.Response)
        self.assertEqual(response.head.status, 200)

    def test_bodyFramesFitMaxMessage(self) -> None:
        """
        Body frames are split to fit the front's C{max_message} when that
        is smaller than L{MAX_FRAME}.
        """
        self.welcomeWithMaxMessage("100")
        self.request(b"front1.7")
        sink = self.runner.runs[0].sink
        sink.sendHead(200, b"OK", [], [b"a" * 150], True)
        sink.sendBody([b"b" * 250], True)
        frames = [frames for frames in self.returnSocket.sent]
        self.assertEqual([len(f) for f in frames[0][5:]], [100, 50])
        self.assertEqual([len(f) for f in frames[1][3:]], [100, 100, 50])

    def test_streamedBody(self) -> None:
        """
        After a head with more to come, C{sendBody} becomes C{BODY}, and
        with C{end} C{END}; small chunks go joined (L{frameChunks}).
        """
        self.request(b"front1.7")
        sink = self.runner.runs[0].sink
        sink.sendHead(200, b"OK", [], [], True)
        sink.sendBody([b"a", b"b"], False)
        sink.sendBody([b"c"], True)
        self.assertEqual(
            self.replies()[1:],
            [protocol.Body(b"front1.7", [b"ab"], False),
             protocol.Body(b"front1.7", [b"c"], True)],
        )
        head = self.replies()[0]
        assert isinstance(head, protocol.Response)
        self.assertTrue(head.head.more)

    def test_error(self) -> None:
        """
        The sink's C{sendError} becomes C{ERROR}.
        """
        self.request(b"front1.7")
        self.runner.runs[0].sink.sendError("it broke")
        self.assertEqual(self.replies(), [protocol.Error(b"front1.7", "it broke")])

    def test_finishedGivesCredit(self) -> None:
        """
        The sink's C{finished} sends C{CREDIT 1} on the send socket and
        frees the capacity the request took, once only.
        """
        self.request()
        run = self.runner.runs[0]
        run.respond()
        self.assertEqual(self.control(), [protocol.Credit(1)])
        self.assertEqual(self.link.running, {})
        self.assertEqual(self.link.free, 2)
        run.sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_creditInReply(self) -> None:
        """
        Once the front's C{WELCOME} says C{credit_in_reply}, a complete
        reply carries its request's credit (C{credit=1}) and no C{CREDIT}
        follows; a streamed reply and an error still give it back with
        C{CREDIT}.
        """
        self.welcome(credit_in_reply="1")
        self.sendSocket.clear()
        self.request(b"front1.1")
        self.runner.runs[0].respond()
        [reply] = self.replies()
        assert isinstance(reply, protocol.Response)
        self.assertTrue(reply.head.credit)
        self.assertEqual(self.control(), [])
        self.request(b"front1.2")
        run = self.runner.runs[1]
        run.sink.sendHead(200, b"OK", [], [b"a"], True)
        run.sink.sendBody([b"b"], True)
        run.sink.finished()
        self.request(b"front1.3")
        self.runner.runs[2].fail()
        self.assertEqual(self.control(), [protocol.Credit(1), protocol.Credit(1)])
        streamed = self.replies()[1]
        assert isinstance(streamed, protocol.Response)
        self.assertFalse(streamed.head.credit)

    def test_noCreditInReplyAcrossHello(self) -> None:
        """
        A request running when the link says C{HELLO} again (the front
        forgot it) gives its credit back by C{CREDIT}, which comes after
        that C{HELLO} on the same socket: a C{RESP} could overtake it.
        """
        self.helloAgainWhileRunning(credit_in_reply="1")
        self.runner.runs[0].respond()
        reply = self.replies()[-1]
        assert isinstance(reply, protocol.Response)
        self.assertFalse(reply.head.credit)
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_creditInReplyBeforeHello(self) -> None:
        """
        A request whose complete C{RESP} gave its credit back, and which is
        still running (its iterable being closed) when the link says
        C{HELLO} again, counts as free in that C{HELLO}: the front that
        registers the link anew drops that C{RESP}'s credit (it belongs to
        the registration the front forgot), and no C{CREDIT} follows.
        Counted busy, its slot would be lost for good (seen with a handler
        stopped by SIGSTOP past its front's liveness check, and continued).
        """
        self.welcome(credit_in_reply="1")
        self.request(b"front1.1")
        run = self.runner.runs[0]
        run.sink.sendHead(200, b"OK", [], [b"done"], False)
        self.fromFront(protocol.encodeBye())
        run.sink.finished()
        self.assertEqual(self.link.free, 2)
        hello, *rest = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.credits, rest), (2, []))

    def test_noCreditInReplyUnlessSaid(self) -> None:
        """
        A front that does not say C{credit_in_reply} (an older one) gets
        C{CREDIT}s only; so does one whose handler drains.
        """
        self.welcome()
        self.request(b"front1.1")
        self.runner.runs[0].respond()
        reply = self.replies()[-1]
        assert isinstance(reply, protocol.Response)
        self.assertFalse(reply.head.credit)
        self.assertEqual(self.control()[-1], protocol.Credit(1))

    def test_synchronousRunner(self) -> None:
        """
        A runner that finishes inside C{run} leaves nothing running.
        """
        self.runner.respondWith = (200, b"OK", [], [b"done"])
        self.request()
        self.assertEqual(len(self.replies()), 1)
        self.assertEqual(self.control(), [protocol.Credit(1)])
        self.assertEqual(self.link.running, {})

    def test_cancel(self) -> None:
        """
        C{CANCEL} cancels the running request with that id, and only it,
        and says so at level info: a client that goes away is no fault of
        the handler's (the front warns of a C{--timeout} itself).  The line
        names every reason a front has (it said "client gone or --timeout
        passed" of a request a stopping front cut past its
        C{--graceful-timeout}, or of a C{--body-timeout}), and whether the
        request was running or still waiting for a thread (one of
        C{--prefetch}).
        """
        self.request(b"front1.1")
        self.request(b"front1.2")
        self.request(b"front1.3")
        self.runner.runs[1].started = True
        with capturedLogs() as events:
            self.fromFront(protocol.encodeCancel(b"front1.2"))
            self.fromFront(protocol.encodeCancel(b"front1.3"))
        self.assertEqual([r.cancelled for r in self.runner.runs], [False, True, True])
        reasons = (
            "(its client gone, a bad request body, a timeout of the "
            "front's, or a reply the front refused: its access log and log say which)"
        )
        self.assertEqual(
            [(e["log_level"], formatEvent(e)) for e in events],
            [
                (LogLevel.info,
                 "request front1.2 cancelled by the front while running " + reasons),
                (LogLevel.info,
                 "request front1.3 cancelled by the front while waiting for a thread "
                 + reasons),
            ],
        )

    def test_cancelNamesRequestIdHeader(self) -> None:
        """
        The line of a cancelled request names it by its C{X-Request-Id}
        (a trusted proxy's), as its application's lines, the front's and
        its access log line do, not by the front's id for it.
        """
        self.request(b"front1.1", headers=[(b"X-Request-Id", b"proxy-id")])
        with capturedLogs() as events:
            self.fromFront(protocol.encodeCancel(b"front1.1"))
        [line] = [formatEvent(e) for e in events]
        self.assertTrue(
            line.startswith("request proxy-id cancelled by the front while"), line
        )

    def test_cancelUnknown(self) -> None:
        """
        C{CANCEL} for a request that is not running (it finished already)
        is ignored.
        """
        self.request()
        self.runner.runs[0].respond()
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.fromFront(protocol.encodeCancel(b"never"))
        self.assertFalse(self.runner.runs[0].cancelled)
        self.assertEqual(self.link.stats["badMessages"], 0)

    def test_recall(self) -> None:
        """
        C{RECALL} of a request no thread has taken takes it back
        (L{Running.withdraw}), forgets it and answers C{RECALLED}, which
        gives its slot back: the link sends no C{CREDIT} for it, counts it
        free, and nothing of it reaches the front later.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.request(b"front1.2")
        self.assertEqual(self.link.free, 0)
        self.fromFront(protocol.encodeRecall(b"front1.2"))
        self.assertTrue(self.runner.runs[1].withdrawn)
        self.assertEqual(self.control(), [protocol.Recalled(b"front1.2")])
        self.assertEqual((self.link.free, list(self.link.running)), (1, [b"front1.1"]))
        self.assertEqual(self.link.stats["recalled"], 1)
        self.runner.runs[0].respond()
        self.assertEqual(
            [type(m) for m in self.control()], [protocol.Recalled, protocol.Credit]
        )

    def test_recallStarted(self) -> None:
        """
        C{RECALL} of a request a thread has taken, or of one the link does
        not have (it ended), does nothing: the reply comes as always.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.runner.runs[0].started = True
        self.fromFront(protocol.encodeRecall(b"front1.1"))
        self.fromFront(protocol.encodeRecall(b"never"))
        self.assertEqual(self.control(), [])
        self.assertFalse(self.runner.runs[0].withdrawn)
        self.runner.runs[0].respond()
        self.assertEqual([type(m) for m in self.replies()], [protocol.Response])
        self.assertEqual(
            (self.link.stats["recalled"], self.link.stats["badMessages"]), (0, 0)
        )

    def test_recallWhileFrontless(self) -> None:
        """
        A C{RECALL} that comes while no front has welcomed the link since
        it lost its front (its front silent: a network cut, which delivers
        the C{RECALL} late) takes nothing back: the link's C{HELLO} counted
        the request busy, and a front that registers the link anew from it
        would count no slot for a C{RECALLED}.  The registration anew
        cancels the request, whose credit then goes by C{CREDIT}.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.request(b"front1.2")
        self.runner.runs[0].started = True
        while self.link.front is not None:
            self.clock.advance(self.heartbeat)
        self.fromFront(protocol.encodeRecall(b"front1.2"))
        self.assertFalse(self.runner.runs[1].withdrawn)
        self.assertEqual(self.link.stats["recalled"], 0)
        self.sendSocket.clear()
        hellos = self.link.hellos
        self.fromFront(
            protocol.encodeWelcome(front="front1", answers=hellos, registered=hellos)
        )
        self.assertEqual([run.cancelled for run in self.runner.runs], [True, True])
        for run in self.runner.runs:
            run.sink.finished()
        self.assertEqual(self.control(), [protocol.Credit(1), protocol.Credit(1)])

    def test_recallWhileDraining(self) -> None:
        """
        A draining link gives a request back as well, and is drained once
        the front acknowledged its C{BYE} and the rest ended.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        d = self.link.drain()
        self.fromFront(protocol.encodeBye())
        self.assertNoResult(d)
        self.fromFront(protocol.encodeRecall(b"front1.1"))
        self.successResultOf(d)
        self.assertEqual(self.control(), [protocol.Bye(), protocol.Recalled(b"front1.1")])

    def test_stillRunningAfterCancel(self) -> None:
        """
        A request still running L{_defaults.HUNG_AFTER_CANCEL} seconds
        after the front cancelled it is stuck in the application: the link
        warns, once, with where its thread is (L{Running.where}).  A
        second C{CANCEL} for it, before the warning or after, makes no
        second warning.
        """
        self.request(b"front1.1")
        self.request(b"front1.2")
        [first, second] = self.runner.runs
        second.started = True
        second.stack = '  File "app.py", line 7, in view\n    lock.acquire()\n'
        beats = len(self.clock.getDelayedCalls())
        self.fromFront(protocol.encodeCancel(b"front1.2"))
        self.assertEqual(len(self.clock.getDelayedCalls()), beats + 1)
        self.clock.advance(_defaults.HUNG_AFTER_CANCEL - 1)
        self.fromFront(protocol.encodeCancel(b"front1.2"))
        with capturedLogs() as events:
            self.clock.advance(1)
            self.fromFront(protocol.encodeCancel(b"front1.2"))
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
        # (The front, silent meanwhile, is warned of too.)
        self.assertEqual(
            [
                (e["log_level"], formatEvent(e))
                for e in events
                if "still running" in e["log_format"]
            ],
            [
                (
                    LogLevel.warn,
                    "request front1.2 still running 5 s after the front cancelled "
                    "it: the application does not return, and holds one of this "
                    "handler's threads until it does; it is at (most recent "
                    'call last):\n  File "app.py", line 7, in view\n'
                    "    lock.acquire()",
                )
            ],
        )
        self.assertFalse(first.cancelled)

    def test_stillStreamingAfterCancel(self) -> None:
        """
        A cancelled request whose thread, L{_defaults.HUNG_AFTER_CANCEL}
        seconds later, waits in its streamed response's iterable for the
        next chunk (L{Running.betweenChunks}: server-sent events between
        two events) is not stuck: its next chunk ends it.  The link says
        so, with where the thread is, at info level, once.
        """
        self.request(b"front1.1")
        [run] = self.runner.runs
        run.started = True
        run.betweenChunks = True
        run.stack = '  File "app.py", line 9, in events\n    time.sleep(15)\n'
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        with capturedLogs() as events:
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
        self.assertEqual(
            [
                (e["log_level"], formatEvent(e))
                for e in events
                if "cancelled it" in e["log_format"]
            ],
            [
                (
                    LogLevel.info,
                    "request front1.1 still running 5 s after the front cancelled "
                    "it: its response streams, and its next chunk (yielded, or "
                    "given to write()), which ends it, has not come; it holds "
                    "one of this handler's threads until then, at (most recent "
                    'call last):\n  File "app.py", line 9, in events\n'
                    "    time.sleep(15)",
                )
            ],
        )

    def test_stillWaitingForThread(self) -> None:
        """
        If no thread runs the cancelled request when it is checked (none
        has taken it yet: all are busy), the warning says so.
        """
        self.request(b"front1.1")
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        with capturedLogs() as events:
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
        self.assertEqual(
            [formatEvent(e) for e in events if "cancelled it" in e["log_format"]],
            [
                "request front1.1 still waiting for a thread 5 s after the front "
                "cancelled it: every thread that runs this front's requests is busy"
            ],
        )

    def test_leftByItsThread(self) -> None:
        """
        A cancelled request whose thread is done with it (it ends, and the
        link will know at once) is not warned of: no thread runs it, but
        one took it.
        """
        self.request(b"front1.1")
        self.runner.runs[0].started = True
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        with capturedLogs() as events:
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
        self.assertEqual([e for e in events if "cancelled it" in e["log_format"]], [])

    def test_finishedAfterCancel(self) -> None:
        """
        A cancelled request that finishes within
        L{_defaults.HUNG_AFTER_CANCEL} seconds is not checked again: no
        warning, and nothing left in the reactor.
        """
        self.request(b"front1.1")
        beats = len(self.clock.getDelayedCalls())
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.assertEqual(len(self.clock.getDelayedCalls()), beats + 1)
        self.runner.runs[0].fail()
        self.assertEqual(len(self.clock.getDelayedCalls()), beats)
        with capturedLogs() as events:
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
        self.assertEqual([e for e in events if "cancelled it" in e["log_format"]], [])

    def test_stopCancelsChecks(self) -> None:
        """
        Stopping the link cancels the checks of cancelled requests.
        """
        self.request(b"front1.1")
        beats = len(self.clock.getDelayedCalls())
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.assertEqual(len(self.clock.getDelayedCalls()), beats + 1)
        self.link.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_requestBody(self) -> None:
        """
        C{BODY} and C{END} from the front for a running request (whose head
        had C{more} set) feed the run more of the request body.
        """
        self.fromFront(protocol.encodeRequest(b"r", META, [], [b"first"], more=True))
        self.fromFront(protocol.encodeBody(b"r", [b"a", b"b"], False))
        self.fromFront(protocol.encodeBody(b"r", [b"c"], True))
        [run] = self.runner.runs
        self.assertTrue(run.head.more)
        self.assertEqual(run.body, [b"first"])
        self.assertEqual(run.bodyParts, [[b"a", b"b"], [b"c"]])
        self.assertTrue(run.bodyEnded)
        self.assertEqual(self.link.stats["badMessages"], 0)

    def test_ignoredForUnknownIds(self) -> None:
        """
        As C{docs/protocol.md} says, C{BODY}, C{END} and C{WINDOW} for a
        request that is not running are ignored, not counted as bad.
        """
        self.fromFront(protocol.encodeBody(b"gone", [b"x"], False))
        self.fromFront(protocol.encodeBody(b"gone", [], True))
        self.fromFront(protocol.encodeWindow(b"gone", 100))
        self.assertEqual(self.link.stats["badMessages"], 0)
        self.assertEqual(self.runner.runs, [])

    def test_window(self) -> None:
        """
        C{WINDOW} from the front for a running request gives that request
        more response window.
        """
        self.request(b"r")
        self.request(b"s")
        self.fromFront(protocol.encodeWindow(b"r", 100))
        self.fromFront(protocol.encodeWindow(b"r", 5))
        self.assertEqual([run.windows for run in self.runner.runs], [[100, 5], []])
        self.assertEqual(self.link.stats["badMessages"], 0)

    def test_responseWindowMeta(self) -> None:
        """
        The front's initial response window, its C{window} attribute in
        C{REQ}, reaches the runner in the head (L{protocol.RequestHead.window}).
        """
        self.fromFront(
            protocol.encodeRequest(b"r", META, [], [], window=65536)
        )
        self.assertEqual(self.runner.runs[0].head.window, 65536)

    def test_sendWindow(self) -> None:
        """
        The sink's C{sendWindow} becomes C{WINDOW} for the request on the
        send socket (the control plane), not on the return socket.
        """
        self.request(b"front1.7")
        self.runner.runs[0].grantInput(65536)
        self.assertEqual(self.control(), [protocol.Window(b"front1.7", 65536)])
        self.assertEqual(self.replies(), [])

    def test_streamedBodyBeforeThread(self) -> None:
        """
        A streamed request body whose C{BODY}s and C{END} all arrive before
        the runner's thread starts reaches the application whole, and what
        it reads is granted back with C{WINDOW}.
        """
        reactor = runningReactor()
        pool = SynchronousThreadPool(immediate=False)

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [])
            return [environ["wsgi.input"].read()]

        sendSocket, returnSocket = MemorySocket(), MemorySocket()
        link = FrontLink(self.clock, WSGIRunner(reactor, pool, app), sendSocket,
                         returnSocket, "h", capacity=1)
        link.controlReceived(protocol.encodeWelcome(front="f"))
        link.controlReceived(protocol.encodeRequest(b"r", META, [], [b"ab"], more=True))
        link.controlReceived(protocol.encodeBody(b"r", [b"cd"], False))
        link.controlReceived(protocol.encodeBody(b"r", [b"ef"], True))
        pool.flush()
        reactor.flush()
        # (The credit goes as the request ends, the grant through the
        # reactor thread: either may come first.)
        self.assertCountEqual(
            sendSocket.messages(), [protocol.Window(b"r", 6), protocol.Credit(1)]
        )
        [response] = returnSocket.messages()
        assert isinstance(response, protocol.Response)
        self.assertEqual(response.body, [b"abcdef"])

    def test_byteAtATime(self) -> None:
        """
        An application that yields its body a byte at a time (a Django
        C{StreamingHttpResponse} given a string) has it sent in a few
        frames of L{_defaults.FRAME_JOIN} bytes, not a frame a byte, which
        ZeroMQ would send and the front read one at a time.
        """
        reactor = runningReactor()
        count = 2 * _defaults.FRAME_JOIN + 3

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", [])
            return (b"x" for _ in range(count))

        sendSocket, returnSocket = MemorySocket(), MemorySocket()
        link = FrontLink(self.clock, WSGIRunner(reactor, SynchronousThreadPool(), app),
                         sendSocket, returnSocket, "h", capacity=1)
        link.controlReceived(protocol.encodeWelcome(front="f"))
        link.controlReceived(protocol.encodeRequest(b"r", META, [], []))
        reactor.flush()
        frames = []
        for message in returnSocket.messages():
            assert isinstance(message, (protocol.Response, protocol.Body)), message
            frames.extend(message.body if isinstance(message, protocol.Response)
                          else message.chunks)
        self.assertEqual(b"".join(frames), b"x" * count)
        self.assertLessEqual(len(frames), 5)

    def test_duplicateRequest(self) -> None:
        """
        A C{REQ} with the id of a request still running is dropped and
        counted as a bad message, and its credit given back.
        """
        self.request(b"front1.1")
        self.sendSocket.clear()
        self.request(b"front1.1")
        self.assertEqual(len(self.runner.runs), 1)
        self.assertEqual(self.link.stats["badMessages"], 1)
        self.assertEqual(self.link.stats["requests"], 1)
        # The front took a credit for the duplicate, which took no slot.
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_sameIdAfterFinish(self) -> None:
        """
        An id may be used again once its request has finished.
        """
        self.request(b"front1.1")
        self.runner.runs[0].respond()
        self.request(b"front1.1")
        self.assertEqual(len(self.runner.runs), 2)


class ApplicationThreadTests(FrontLinkTestCase):
    """
    Requests that end in an application thread: their replies go out at
    once, and the reactor thread finishes them when it next does something
    for the link, woken up only when a C{CREDIT} must go or the link
    drains.  Which thread a call comes from is faked (C{inThread}).
    """

    clock: FakeReactor

    def makeClock(self) -> FakeReactor:
        """
        A reactor that takes calls from threads: the link wakes it up.
        """
        return runningReactor()

    def test_creditedEndWaits(self) -> None:
        """
        A request whose reply gave its credit back and that ended in an
        application thread wakes nothing up: it is finished by the next
        message from the front, with no C{CREDIT}.
        """
        self.startWelcomed(credit_in_reply="1")
        self.request(b"front1.1")
        self.inThread(self.runner.runs[0].respond)
        [reply] = self.replies()
        assert isinstance(reply, protocol.Response)
        self.assertTrue(reply.head.credit)
        self.assertEqual(self.clock.pending, [])
        self.assertIn(b"front1.1", self.link.running)
        self.fromFront(protocol.encodePing())
        self.assertEqual(self.link.running, {})
        self.assertEqual(self.control(), [])

    def test_endedInThreadNotWarned(self) -> None:
        """
        A cancelled request that ended in its application thread, its
        credit given back with its reply (the reactor not woken: see
        L{FrontLink._ended}), is finished when its check comes, not warned
        of as still waiting, though no message from the front came since.
        """
        # (No heartbeat, which finishes them too, before the check.)
        beat = _defaults.HUNG_AFTER_CANCEL * 4
        self.link.heartbeat = beat
        self.startWelcomed(credit_in_reply="1", heartbeat=str(beat))
        self.request(b"front1.1")
        self.fromFront(protocol.encodeCancel(b"front1.1"))
        run = self.runner.runs[0]
        run.started = True
        self.inThread(run.respond)
        self.assertIn(b"front1.1", self.link.running)
        with capturedLogs() as events:
            self.clock.advance(_defaults.HUNG_AFTER_CANCEL)
        self.assertEqual(self.link.running, {})
        self.assertEqual([e for e in events if "cancelled it" in e["log_format"]], [])

    def test_heartbeatFinishes(self) -> None:
        """
        A link that gets no more messages finishes the requests that ended
        at its next heartbeat.
        """
        self.startWelcomed(credit_in_reply="1")
        self.request(b"front1.1")
        self.inThread(self.runner.runs[0].respond)
        self.clock.advance(self.heartbeat)
        self.assertEqual(self.link.running, {})

    def test_uncreditedEndWakes(self) -> None:
        """
        A request whose credit must go by C{CREDIT} (the front takes none in
        replies) wakes the reactor up once, which sends it.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.request(b"front1.2")
        self.inThread(self.runner.runs[0].respond)
        self.inThread(self.runner.runs[1].respond)
        self.assertEqual(self.control(), [])
        self.assertEqual(len(self.clock.pending), 1)
        self.clock.flush()
        self.assertEqual(self.control(), [protocol.Credit(1), protocol.Credit(1)])
        self.assertEqual(self.link.running, {})

    def test_wakesAgainAfterCollecting(self) -> None:
        """
        Once the reactor has finished the requests that woke it, the next
        one to end wakes it up again.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.request(b"front1.2")
        self.inThread(self.runner.runs[0].respond)
        self.clock.flush()
        self.inThread(self.runner.runs[1].respond)
        self.assertEqual(len(self.clock.pending), 1)
        self.clock.flush()
        self.assertEqual(self.control(), [protocol.Credit(1), protocol.Credit(1)])

    def test_drainingWakes(self) -> None:
        """
        While the link drains, a request that ends wakes the reactor up:
        the drain waits for it.
        """
        self.startWelcomed(credit_in_reply="1")
        self.request(b"front1.1")
        drained = self.link.drain()
        self.fromFront(protocol.encodeBye())
        self.assertNoResult(drained)
        self.inThread(self.runner.runs[0].respond)
        self.assertEqual(len(self.clock.pending), 1)
        self.clock.flush()
        self.successResultOf(drained)

    def test_helloFinishesEndedFirst(self) -> None:
        """
        A C{HELLO} finishes the requests that ended first: one whose reply
        gave its credit back counts free, and no C{CREDIT} follows it.
        """
        self.startWelcomed(credit_in_reply="1")
        self.request(b"front1.1")
        self.inThread(self.runner.runs[0].respond)
        self.fromFront(protocol.encodeBye())
        hello, *rest = self.control()
        assert isinstance(hello, protocol.Hello)
        self.assertEqual((hello.credits, rest), (2, []))
        self.assertEqual(self.link.running, {})

    def test_lastCarriesCredit(self) -> None:
        """
        To a front that says C{credit_in_end}, a streamed response ends with
        C{LAST}, which gives the request's credit back: no C{CREDIT}
        follows, and nothing wakes the reactor.
        """
        self.startWelcomed(credit_in_reply="1", credit_in_end="1")
        self.request(b"front1.1")
        sink = self.runner.runs[0].sink
        self.inThread(sink.sendHead, 200, b"OK", [], [b"a"], True)
        self.inThread(sink.sendBody, [b"b"], True)
        self.inThread(sink.finished)
        _head, end = self.replies()
        assert isinstance(end, protocol.Body)
        self.assertEqual((end.end, end.credit, end.chunks), (True, True, [b"b"]))
        self.assertEqual(self.clock.pending, [])
        self.fromFront(protocol.encodePing())
        self.assertEqual((self.link.running, self.control()), ({}, []))

    def test_endWithoutCreditUnlessSaid(self) -> None:
        """
        To a front that does not say C{credit_in_end} (an older one), a
        streamed response ends with C{END}, and C{CREDIT} follows.
        """
        self.startWelcomed(credit_in_reply="1")
        self.request(b"front1.1")
        sink = self.runner.runs[0].sink
        sink.sendHead(200, b"OK", [], [b"a"], True)
        sink.sendBody([], True)
        sink.finished()
        _head, end = self.replies()
        assert isinstance(end, protocol.Body)
        self.assertEqual((end.end, end.credit), (True, False))
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_noLastAcrossHello(self) -> None:
        """
        A request running when the link says C{HELLO} again ends with
        C{END}: its credit goes by C{CREDIT}, after that C{HELLO}.
        """
        self.helloAgainWhileRunning(credit_in_end="1")
        sink = self.runner.runs[0].sink
        sink.sendHead(200, b"OK", [], [b"a"], True)
        sink.sendBody([], True)
        sink.finished()
        end = self.replies()[-1]
        assert isinstance(end, protocol.Body)
        self.assertFalse(end.credit)
        self.assertEqual(self.control(), [protocol.Credit(1)])

    def test_noLastWhileDraining(self) -> None:
        """
        A draining link gives no credit back, not in C{LAST} either.
        """
        self.startWelcomed(credit_in_end="1")
        self.request(b"front1.1")
        self.link.drain()
        sink = self.runner.runs[0].sink
        sink.sendHead(200, b"OK", [], [b"a"], True)
        sink.sendBody([], True)
        end = self.replies()[-1]
        assert isinstance(end, protocol.Body)
        self.assertFalse(end.credit)

    def test_lastFromFrontDropped(self) -> None:
        """
        C{LAST} goes from handler to front only: one from the front is
        dropped and counted, not taken for the end of a request body.
        """
        self.startWelcomed()
        self.fromFront(protocol.encodeRequest(
            b"front1.1", META, [], [b"ab"], more=True))
        self.fromFront(protocol.encodeBody(b"front1.1", [b"cd"], True, credit=True))
        self.assertEqual(self.runner.runs[0].bodyParts, [])
        self.assertEqual(self.link.stats["badMessages"], 1)


class DrainTests(FrontLinkTestCase):
    """
    L{FrontLink.drain}: graceful stop without losing a request.
    """

    def setUp(self) -> None:
        FrontLinkTestCase.setUp(self)
        self.startWelcomed()

    def test_byeSent(self) -> None:
        """
        Draining sends C{BYE} to the front and no C{CREDIT} afterwards.
        """
        self.request(b"r.1")
        self.link.drain()
        self.runner.runs[0].respond()
        self.assertEqual(self.control(), [protocol.Bye()])

    def test_firesWhenAcknowledgedAndIdle(self) -> None:
        """
        Draining ends once the front has acknowledged the C{BYE} and every
        request has finished, in either order; a request that arrives after
        the C{BYE} but before the acknowledgement is served, not lost.
        """
        d = self.link.drain()
        self.request(b"r.1")
        self.assertEqual(len(self.runner.runs), 1)
        self.fromFront(protocol.encodeBye())
        self.assertNoResult(d)
        self.runner.runs[0].respond()
        self.successResultOf(d)
        self.assertEqual(
            [type(m) for m in self.replies()], [protocol.Response]
        )

    def test_idleDrainNeedsAcknowledgement(self) -> None:
        """
        An idle link is drained only once the front acknowledged: until
        then a C{REQ} may still be on its way.
        """
        d = self.link.drain()
        self.assertNoResult(d)
        self.fromFront(protocol.encodeBye())
        self.successResultOf(d)

    def test_heartbeatsGoOn(self) -> None:
        """
        A draining link keeps sending C{PING}, so that the front does not
        declare it dead while a long request finishes, and does not
        register again.
        """
        self.request(b"r.1")
        self.link.drain()
        self.fromFront(protocol.encodeBye())
        self.sendSocket.clear()
        self.clock.advance(self.heartbeat)
        self.clock.advance(self.heartbeat)
        self.assertEqual(self.control(), [protocol.Ping(), protocol.Ping()])

    def test_requestObservers(self) -> None:
        """
        Each request that comes is reported to the request observers (the
        --max-requests counter) with 1, and each given back to the front
        (C{RECALLED}) with -1.
        """
        seen: list[int] = []
        self.link.requestObservers.append(seen.append)
        self.request(b"r.1")
        self.request(b"r.2")
        self.fromFront(protocol.encodeRecall(b"r.2"))
        self.assertEqual(seen, [1, 1, -1])

    def test_unregisteredDrainsAtOnce(self) -> None:
        """
        A link that no front has welcomed (or whose front went) has nothing
        to wait for: draining ends as soon as its requests are done.
        """
        link = FrontLink(self.clock, self.runner, MemorySocket(), MemorySocket(),
                         "h", capacity=1)
        self.successResultOf(link.drain())

    def test_frontGoneWhileDraining(self) -> None:
        """
        A draining link whose front falls silent for three intervals stops
        waiting for the acknowledgement, and says so: not that it registers
        again, which a draining link does not do.
        """
        d = self.link.drain()
        with capturedLogs() as events:
            for _ in range(4):
                self.clock.advance(self.heartbeat)
        self.successResultOf(d)
        self.assertEqual(
            [formatEvent(e) for e in events if "is silent" in formatEvent(e)],
            ["mphandler host:123: front front1 at tcp://front:5556 is silent: taken for "
             "gone, draining ends"],
        )

    def test_frontGoneWhileDrainingRunning(self) -> None:
        """
        A draining link whose front falls silent while requests run takes
        the front for gone, and says that its drain ends once they do (not
        at once): it waits for them still.
        """
        self.request(b"r.1")
        d = self.link.drain()
        with capturedLogs() as events:
            for _ in range(4):
                self.clock.advance(self.heartbeat)
        self.assertNoResult(d)
        self.assertEqual(
            [formatEvent(e) for e in events if "is silent" in formatEvent(e)],
            ["mphandler host:123: front front1 at tcp://front:5556 is silent: taken for "
             "gone, draining ends once the 1 requests running end"],
        )
        self.runner.runs[0].respond()
        self.successResultOf(d)


class LoggedLinkTestCase(FrontLinkTestCase):
    """
    A link with a return address, whose log events are kept in C{events}.
    """

    returnAddress = "tcp://front:5555"

    def setUp(self) -> None:
        super().setUp()
        self.link.returnAddress = self.returnAddress
        self.events: list[LogEvent] = []
        self.patch(FrontLink, "_log", Logger(observer=cast(ILogObserver, self.events.append)))


class NoFrontWarningTests(LoggedLinkTestCase):
    """
    A link that no front welcomes says so: ZeroMQ retries a connection
    silently, so a front that is not running, or a wrong C{--send}, would
    otherwise look like an idle handler.
    """

    def warnings(self) -> list[LogEvent]:
        """
        The warnings that no front answers, logged so far.
        """
        return [e for e in self.events if "no front has answered" in e["log_format"]]

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass, a heartbeat at a time.
        """
        for _ in range(round(seconds / self.heartbeat)):
            self.clock.advance(self.heartbeat)

    def test_defaults(self) -> None:
        """
        The first warning comes after 10 seconds, the next ones every
        minute.
        """
        self.assertEqual(
            (_defaults.NO_FRONT_WARNING, _defaults.NO_FRONT_WARNING_INTERVAL), (10.0, 60.0)
        )

    def test_ipcAddressNotThere(self) -> None:
        """
        For an C{ipc://} C{--send} whose directory does not exist (a typo,
        or a front not started yet that makes it), or that has no socket in
        it (no front bound it), the warning says which: the handler starts
        all the same, since its front may start after it.
        """
        directory = FilePath(self.mktemp())
        self.link.address = "ipc://" + directory.child("send").path
        self.link.start()
        self.advance(_defaults.NO_FRONT_WARNING)
        directory.makedirs()
        self.advance(_defaults.NO_FRONT_WARNING_INTERVAL)
        self.assertEqual([formatEvent(w).partition("still trying: ")[2]
                          for w in self.warnings()], [
            f"is the front running, and are these its addresses? (the directory "
            f"{directory.path} does not exist)",
            f"is the front running, and are these its addresses? (no socket at "
            f"{directory.child('send').path}: no front has bound it)",
        ])

    def test_abstractIpcAddressNoHint(self) -> None:
        """
        For an C{ipc://@NAME} C{--send} (Linux's abstract namespace, which
        has no file to look at), the warning guesses nothing of a
        directory or a socket file.
        """
        self.link.address = "ipc://@txmp-send"
        self.link.start()
        self.advance(_defaults.NO_FRONT_WARNING)
        self.assertEqual(
            [formatEvent(w).partition("still trying: ")[2] for w in self.warnings()],
            ["is the front running, and are these its addresses?"],
        )

    def test_outOfFiles(self) -> None:
        """
        A handler that has used up its open files limit (too many fronts
        for C{ulimit -n}, or an application that leaves files open) cannot
        open a connection, which libzmq retries silently as to a front that
        is not running: the warning says so, and which limit.
        """
        self.patch(_handler, "_openFiles", lambda: _handler.OUT_OF_FILES)
        self.link.start()
        self.advance(_defaults.NO_FRONT_WARNING)
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.assertEqual(
            [formatEvent(w).partition("still trying: ")[2] for w in self.warnings()],
            [f"is the front running, and are these its addresses? (this handler"
             f" has used up its open files limit, {limit} (ulimit -n), and ZeroMQ"
             f" cannot open a connection: raise the limit, or look for files the"
             f" application leaves open)"],
        )

    def test_warnedAtBoundedRate(self) -> None:
        """
        A link that no front has welcomed L{NO_FRONT_WARNING} seconds after
        it started logs a warning naming its name, the front's C{--send}
        and C{--return} addresses and how long it has waited; then again
        every L{NO_FRONT_WARNING_INTERVAL} seconds, and only then.
        """
        self.link.start()
        self.advance(_defaults.NO_FRONT_WARNING - self.heartbeat)
        self.assertEqual(self.warnings(), [])
        self.advance(self.heartbeat)
        [warning] = self.warnings()
        self.assertEqual(warning["log_level"], LogLevel.warn)
        self.assertEqual(
            formatEvent(warning),
            "mphandler host:123: no front has answered at --send tcp://front:5556 "
            "(--return tcp://front:5555) for 10 s; still trying: is the front "
            "running, and are these its addresses?",
        )
        self.advance(_defaults.NO_FRONT_WARNING_INTERVAL - self.heartbeat)
        self.assertEqual(len(self.warnings()), 1)
        self.advance(self.heartbeat)
        self.advance(_defaults.NO_FRONT_WARNING_INTERVAL)
        self.assertEqual(
            [w["seconds"] for w in self.warnings()],
            [10 + i * _defaults.NO_FRONT_WARNING_INTERVAL for i in range(3)],
        )

    def test_registeredAfterWarning(self) -> None:
        """
        A link welcomed after such a warning logs, at C{info}, that it
        registered and after how long; then warns no more while its front
        answers.
        """
        self.link.start()
        self.advance(25)
        self.welcome()
        [registered] = [e for e in self.events if "registered" in e["log_format"]]
        self.assertEqual(registered["log_level"], LogLevel.info)
        self.assertEqual(
            formatEvent(registered),
            "mphandler host:123 registered with front front1 at tcp://front:5556, "
            "after 25 s without one",
        )
        self.frontAnswers(200)
        self.assertEqual(len(self.warnings()), 1)

    def test_welcomedInTime(self) -> None:
        """
        A link welcomed within L{NO_FRONT_WARNING} seconds warns of nothing,
        and its registration line does not say how long it waited.
        """
        self.link.start()
        self.advance(_defaults.NO_FRONT_WARNING - self.heartbeat)
        self.welcome()
        self.frontAnswers(100)
        self.assertEqual(self.warnings(), [])
        self.assertEqual(
            [formatEvent(e) for e in self.events],
            ["mphandler host:123 registered with front front1 at tcp://front:5556"],
        )

    def test_requestAfterWarning(self) -> None:
        """
        A request from the front (whose C{WELCOME} was lost) is held, and
        says so; the C{WELCOME} that answers the C{HELLO} sent then ends the
        warnings.
        """
        self.link.start()
        self.advance(_defaults.NO_FRONT_WARNING)
        self.request()
        self.welcome()
        self.assertEqual(
            [formatEvent(e) for e in self.events[-2:]],
            ["mphandler host:123: a request came while no front had welcomed this "
             "handler: requests from front tcp://front:5556 are held until it "
             "answers a HELLO, which says whether it still knows them",
             "mphandler host:123 registered with front front1 at tcp://front:5556, "
             "after 10 s without one"],
        )
        self.frontAnswers(100)
        self.assertEqual(len(self.warnings()), 1)

    def test_silentFront(self) -> None:
        """
        A front that falls silent counts from when it was last heard: the
        warning comes L{NO_FRONT_WARNING} seconds after that.
        """
        self.link.start()
        self.welcome()
        self.advance(_defaults.NO_FRONT_WARNING - self.heartbeat)
        self.assertIsNone(self.link.front)
        self.assertEqual(self.warnings(), [])
        self.advance(self.heartbeat)
        [warning] = self.warnings()
        self.assertEqual(warning["seconds"], 10)

    def test_bye(self) -> None:
        """
        A C{BYE} from the front starts the wait anew: the warning comes
        L{NO_FRONT_WARNING} seconds later unless a front welcomes the link.
        """
        self.link.start()
        self.advance(5)
        self.welcome()
        self.fromFront(protocol.encodeBye())
        self.advance(_defaults.NO_FRONT_WARNING - self.heartbeat)
        self.assertEqual(self.warnings(), [])
        self.advance(self.heartbeat)
        self.assertEqual(len(self.warnings()), 1)

    def test_notWhileDraining(self) -> None:
        """
        A draining link, which no longer registers, does not warn.
        """
        self.link.start()
        self.link.drain()
        self.advance(2 * _defaults.NO_FRONT_WARNING)
        self.assertEqual(self.warnings(), [])


class MisbehavingFrontLogTests(LoggedLinkTestCase):
    """
    What a link logs of a front that does wrong over and over is paced, as
    the front paces what it logs of its peers: a front (a buggy one, or
    whatever binds its address) may send bad messages as fast as it likes.
    """

    def lines(self, text: str) -> list[str]:
        """
        The lines logged so far that say C{text}.
        """
        return [formatEvent(e) for e in self.events if text in formatEvent(e)]

    def test_badMessagesPaced(self) -> None:
        """
        Of messages that do not decode and messages a front never sends,
        the first L{_defaults.PEER_LOG_BURST} in an interval of
        L{_defaults.PEER_LOG_INTERVAL} seconds are logged, and then one
        line says how many more came, with the last; every one is counted.
        Each names the handler, as its other lines do (several share a
        log under a C{--spawn} front, all naming the same front).
        (One line each before: 1,500 of them for 1,500 bad messages.)
        """
        self.startWelcomed()
        for _ in range(1000):
            self.fromFront([b"TXMP0", protocol.PING])
            self.fromFront(protocol.encodeCredit(1))
        self.assertEqual(self.link.stats["badMessages"], 2000)
        self.assertEqual(
            self.lines("dropped"),
            ["mphandler host:123: dropped a bad message from front tcp://front:5556: "
             "unknown protocol version",
             "mphandler host:123: dropped an unexpected message from front "
             "tcp://front:5556"]
            * (_defaults.PEER_LOG_BURST // 2),
        )
        self.frontAnswers(int(_defaults.PEER_LOG_INTERVAL))
        self.assertEqual(
            self.lines("more bad messages"),
            ["... and 1990 more bad messages from front tcp://front:5556 (to mphandler"
             " host:123) in the last 10 s (not logged; the last: mphandler host:123:"
             " dropped an unexpected message from front tcp://front:5556)"],
        )

    def test_stopWritesSummary(self) -> None:
        """
        L{FrontLink.stop} writes the summary of the lines not written yet,
        and leaves no timer.
        """
        self.startWelcomed()
        for _ in range(_defaults.PEER_LOG_BURST + 3):
            self.fromFront([b"TXMP0", protocol.PING])
        self.link.stop()
        self.assertEqual(len(self.lines("3 more bad messages")), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_duplicatesPaced(self) -> None:
        """
        Duplicates of a running request are each counted and given their
        credit back, and logged as bad messages are, at a bounded rate.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        for _ in range(100):
            self.request(b"front1.1")
        self.assertEqual(len(self.runner.runs), 1)
        self.assertEqual(self.link.stats["badMessages"], 100)
        self.assertEqual(self.control(), [protocol.Credit(1)] * 100)
        self.assertEqual(
            len(self.lines("dropped a duplicate request")), _defaults.PEER_LOG_BURST
        )

    def test_frontTextEscaped(self) -> None:
        """
        What the front chose that a link logs cannot start a line of its
        own, or clear a terminal: its instance id (C{WELCOME}'s C{front}) is
        cut short and its control characters escaped, as the front shows a
        handler's name; a request id with other bytes than txmp's ids have
        is written C{0x} and its hexadecimal, whole, as the runner's lines
        and C{environ["txmp.request_id"]} write it (L{txmp._peerlog.idText}).  (A rogue
        front's id wrote 100 lines of its own into the handler's log.)
        """
        evil = "\x1b[2Jevil\nline"
        self.link.start()
        self.welcome(front=evil * 10)
        self.request(b"\x1b[2Jid\nfake")
        self.request(b"\x1b[2Jid\nfake")
        self.fromFront(protocol.encodeCancel(b"\x1b[2Jid\nfake"))
        self.welcome(front="front2")
        self.fromFront(protocol.encodeBye())
        lines = [formatEvent(e) for e in self.events]
        self.assertEqual([line for line in lines if "\n" in line or "\x1b" in line], [])
        escaped = (evil * 10)[:64].replace("\x1b", r"\x1b").replace("\n", r"\x0a") + "..."
        self.assertIn(
            "mphandler host:123 registered with front %s at tcp://front:5556" % (escaped,),
            lines,
        )
        written = "0x" + b"\x1b[2Jid\nfake".hex()
        self.assertIn("mphandler host:123: dropped a duplicate request " + written, lines)
        self.assertTrue(
            [line for line in lines if line.startswith(f"request {written} cancelled")]
        )

    def test_cancelLoggedOnce(self) -> None:
        """
        A request is logged as cancelled by the front once, however many
        C{CANCEL}s come for it while it runs.
        """
        self.startWelcomed()
        self.request(b"front1.1")
        self.runner.runs[0].started = True
        for _ in range(100):
            self.fromFront(protocol.encodeCancel(b"front1.1"))
        self.assertTrue(self.runner.runs[0].cancelled)
        self.assertEqual(len(self.lines("cancelled by the front")), 1)


class DescriptorHintTests(SynchronousTestCase):
    """
    L{_handler._descriptorHint} says when a handler has no file descriptor
    left, from the files it has open and its open files limit.
    """

    def hint(self, count: int | None, limit: int) -> str:
        return _handler._descriptorHint(lambda: count, lambda which: (limit, limit * 2))

    def test_atTheLimit(self) -> None:
        """
        A process that cannot count its files for want of a descriptor,
        or that has its soft limit open, or within two of it (libzmq frees
        one at each retry), is out of them; the soft limit is named.
        """
        for count in [_handler.OUT_OF_FILES, 40, 39, 38]:
            self.assertEqual(
                self.hint(count, 40),
                " (this handler has used up its open files limit, 40 (ulimit -n),"
                " and ZeroMQ cannot open a connection: raise the limit, or look"
                " for files the application leaves open)",
                count,
            )

    def test_belowTheLimit(self) -> None:
        """
        Below that, or where the files open cannot be counted (no
        C{/proc}), or the limit is infinite, nothing is said.
        """
        self.assertEqual(self.hint(37, 40), "")
        self.assertEqual(self.hint(None, 40), "")
        self.assertEqual(self.hint(10**6, resource.RLIM_INFINITY), "")

    def test_openFiles(self) -> None:
        """
        L{_handler._openFiles} counts this process's open files, less the
        one it reads them with.
        """
        if not os.path.isdir("/proc/self/fd"):
            raise SkipTest("no /proc/self/fd")
        before = _handler._openFiles()
        assert before is not None
        descriptor = os.open(os.devnull, os.O_RDONLY)
        try:
            self.assertEqual(_handler._openFiles(), before + 1)
        finally:
            os.close(descriptor)


class ReturnDownWarningTests(LoggedLinkTestCase):
    """
    A link whose front answers on the send socket while its return socket
    has no connection (a wrong C{--return}) says so: the front registers
    it and sends it requests, and gets none of their replies.
    """

    returnAddress = "tcp://front:5599"

    def warnings(self) -> list[str]:
        """
        The warnings that the return socket is not connected, so far.
        """
        return [formatEvent(e) for e in self.events if "has not connected" in e["log_format"]]

    def test_warned(self) -> None:
        """
        Registered, with a return socket not connected since the start: a
        warning after L{NO_FRONT_WARNING} seconds naming both addresses,
        again every L{NO_FRONT_WARNING_INTERVAL} seconds, and none once it
        connects.
        """
        self.link.returnConnected(False)
        self.startWelcomed()
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING / self.heartbeat) - 1)
        self.assertEqual(self.warnings(), [])
        self.frontAnswers(1)
        self.assertEqual(
            self.warnings(),
            [
                "mphandler host:123: front front1 answers at --send tcp://front:5556, "
                "but --return tcp://front:5599 has not connected for 10 s: the front "
                "gets no reply of this handler's, and its clients 504; is --return "
                "that front's, and reachable?"
            ],
        )
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING_INTERVAL / self.heartbeat))
        self.assertEqual(len(self.warnings()), 2)
        self.link.returnConnected(True)
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING_INTERVAL / self.heartbeat))
        self.assertEqual(len(self.warnings()), 2)

    def test_outOfFiles(self) -> None:
        """
        A return socket that cannot connect because the handler has used
        up its open files limit: the warning says so.
        """
        self.patch(_handler, "_openFiles", lambda: _handler.OUT_OF_FILES)
        self.link.returnConnected(False)
        self.startWelcomed()
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING / self.heartbeat))
        [warning] = self.warnings()
        self.assertTrue(
            warning.endswith(
                "reachable? (this handler has used up its open files limit, %d"
                " (ulimit -n), and ZeroMQ cannot open a connection: raise the"
                " limit, or look for files the application leaves open)"
                % (resource.getrlimit(resource.RLIMIT_NOFILE)[0],)
            ),
            warning,
        )

    def test_frontLate(self) -> None:
        """
        A front that welcomes the link long after it started (it was not
        running yet) leaves the return socket L{NO_FRONT_WARNING} seconds
        from then to connect to it before the warning.
        """
        self.link.returnConnected(False)
        self.link.start()
        self.clock.advance(_defaults.NO_FRONT_WARNING * 6)
        self.welcome()
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING / self.heartbeat) - 1)
        self.assertEqual(self.warnings(), [])
        self.frontAnswers(1)
        self.assertEqual(len(self.warnings()), 1)
        self.assertIn("has not connected for 70 s", self.warnings()[0])

    def test_notWhileConnected(self) -> None:
        """
        A return socket that connects in time, or that no monitor reports
        on, gives no warning; neither does one that lost its connection
        while no front answers (the front is gone: the link warns of that).
        """
        self.startWelcomed()
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING_INTERVAL / self.heartbeat))
        self.link.returnConnected(False)
        self.frontAnswers(2)
        self.link.returnConnected(True)
        self.frontAnswers(round(_defaults.NO_FRONT_WARNING / self.heartbeat) + 1)
        self.link.returnConnected(False)
        # (A heartbeat at a time: a heartbeat that runs late puts off
        # taking the front for silent.)
        self.clock.pump(
            [self.heartbeat] * round(_defaults.NO_FRONT_WARNING_INTERVAL / self.heartbeat)
        )
        self.assertEqual(self.warnings(), [])


class HandlerServiceStopTests(SynchronousTestCase):
    """
    L{txmp._handlerservice.HandlerService} stops by draining, within
    C{--graceful-timeout}, and recycles after C{--max-requests}.
    """

    def service(self, **options: Any) -> tuple[Any, FrontLink, FakeReactor]:
        """
        A started-looking service with one welcomed link on fake sockets,
        its reactor running.
        """
        clock = runningReactor()
        opts = {"graceful-timeout": 30.0, "name": "h", "max-requests": 0}
        opts.update(options)
        service = HandlerService(clock, opts)  # type: ignore[arg-type]
        link = FrontLink(clock, MemoryRunner(), MemorySocket(), MemorySocket(), "h",
                         capacity=2)
        link.start()
        link.controlReceived(protocol.encodeWelcome({"front": "f", "heartbeat": "1"}))
        link.requestObservers.append(service._requestsCounted)
        service.links = [link]
        pool = SynchronousThreadPool()
        pool.start()
        service._pool = cast(WorkerPool, pool)
        service.running = True
        return service, link, clock

    def sockets(self, service: Any, count: int) -> list[MemorySocket]:
        """
        C{count} connected sockets of a memory network given to C{service}
        as its ZeroMQ context, to see how stopping closes them.
        """
        network = MemoryNetwork()
        sockets = [network.socket("dealer", lambda frames: None, 1, b"h") for _ in range(count)]
        for sock in sockets:
            sock.connect("inproc://front")
        service._context = network
        return sockets

    def stoppingWithOneRequest(
        self, graceful: float, after: float
    ) -> tuple[Any, Deferred[None], Any, list[MemorySocket], FakeReactor]:
        """
        A service of C{--graceful-timeout} C{graceful} and two memory
        sockets, running one request, told to stop C{after} seconds ago.

        @return: the service, its stop's L{Deferred}, the request's run,
            the sockets and the reactor.
        """
        service, link, clock = self.service(**{"graceful-timeout": graceful})
        sockets = self.sockets(service, 2)
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        d = service.stopService()
        clock.advance(after)
        return service, d, link._runner.runs[0], sockets, clock  # type: ignore[attr-defined]

    def test_stopsOnceDrained(self) -> None:
        """
        Stopping waits for the running request and the front's
        acknowledgement, then joins the thread pool.
        """
        service, link, _clock = self.service()
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        d = service.stopService()
        link.controlReceived(protocol.encodeBye())
        self.assertNoResult(d)
        link._runner.runs[0].respond()  # type: ignore[attr-defined]
        self.successResultOf(d)
        self.assertFalse(service._pool.started)

    def test_lingersOnClose(self) -> None:
        """
        Once drained, the handler closes its links' sockets having set them
        to send for up to L{_defaults.STOP_LINGER} what is still queued on
        them (the end of the last replies, which the application threads
        queued before the drain ended), instead of dropping it.
        """
        service, link, _clock = self.service()
        sockets = self.sockets(service, 2)
        d = service.stopService()
        link.controlReceived(protocol.encodeBye())
        self.successResultOf(d)
        milliseconds = int(_defaults.STOP_LINGER * 1000)
        self.assertEqual(
            [(sock.linger, sock.closed) for sock in sockets],
            [((milliseconds, False), True)] * 2,
        )

    def test_gracefulTimeout(self) -> None:
        """
        A request still running after C{--graceful-timeout} does not keep
        the handler: it is cancelled then, and stopping ends at most
        L{_defaults.CUT_CLOSE_TIMEOUT} seconds later, without joining the
        stuck thread, saying which request it left in the application.
        """
        service, link, clock = self.service(**{"graceful-timeout": 5.0})
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        d = service.stopService()
        link.controlReceived(protocol.encodeBye())
        clock.advance(4.9)
        self.assertNoResult(d)
        run = link._runner.runs[0]  # type: ignore[attr-defined]
        self.assertFalse(run.cancelled)
        with capturedLogs() as events:
            clock.advance(0.1)
            self.assertTrue(run.cancelled)
            self.assertNoResult(d)
            clock.advance(_defaults.CUT_CLOSE_TIMEOUT)
        self.successResultOf(d)
        self.assertTrue(service._pool.started)
        self.assertIn(b"r.1", link.running)
        logged = [formatEvent(e) for e in events]
        self.assertIn(
            "mphandler h: --graceful-timeout 5.0s passed with 1 requests still "
            "running: r.1; cutting them, waiting up to 2.0 s for their "
            "responses to close",
            logged,
        )
        self.assertIn(
            "mphandler h: 1 of the 1 requests cut not ended after 2.0 s (stuck "
            "in the application, or waiting for a thread), their responses not "
            "closed: r.1; exiting anyway",
            logged,
        )

    def test_frontGoneCutsAtOnce(self) -> None:
        """
        A handler whose front is gone (L{HandlerService.frontIsGone}: its
        parent, which spawned it, exited) waits for no acknowledgement and
        no C{--graceful-timeout}: it cuts its running requests as it starts
        to stop, saying why, and stops once their responses are closed,
        leaving no timer behind.
        """
        service, link, clock = self.service(**{"graceful-timeout": 30.0})
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        service.frontIsGone()
        with capturedLogs() as events:
            d = service.stopService()
            run = link._runner.runs[0]  # type: ignore[attr-defined]
            self.assertTrue(run.cancelled)
            self.assertNoResult(d)
            run.sink.finished()
        self.successResultOf(d)
        self.assertFalse(service._pool.started)
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertIn(
            "mphandler h: its front is gone with 1 requests still running: r.1; "
            "cutting them, waiting up to 2.0 s for their responses to close",
            [formatEvent(e) for e in events],
        )

    def test_frontGoneNoLinger(self) -> None:
        """
        With its front gone and no request running, the handler stops at
        once, warning of nothing, and closes its sockets without lingering:
        no one will take what they hold.
        """
        service, _link, _clock = self.service()
        sockets = self.sockets(service, 2)
        service.frontIsGone()
        with capturedLogs() as events:
            d = service.stopService()
        self.successResultOf(d)
        self.assertEqual([(sock.linger, sock.closed) for sock in sockets], [(None, True)] * 2)
        self.assertEqual([e for e in events if e.get("log_level") is LogLevel.warn], [])
        self.assertFalse(service._pool.started)

    def test_silentFrontNoLinger(self) -> None:
        """
        A handler told to stop just after its front went (killed, its host
        down: nothing said) drains until the front has been silent three
        heartbeats, then closes its sockets without lingering: what they
        hold (its C{BYE} and C{PING}s) no one will take, and lingering would
        only hold its exit for L{_defaults.STOP_LINGER} more.
        """
        service, _link, clock = self.service()
        sockets = self.sockets(service, 2)
        d = service.stopService()
        clock.pump([1.0] * protocol.SILENT_INTERVALS)
        self.assertNoResult(d)
        clock.pump([0.5, 0.5])
        self.successResultOf(d)
        self.assertEqual([(sock.linger, sock.closed) for sock in sockets], [(None, True)] * 2)

    def test_forgottenNoLinger(self) -> None:
        """
        Nor does a handler whose front said C{BYE} before it began to stop
        (the front stopped, or took it for dead): that front has forgotten
        its requests, and takes no reply to them.
        """
        service, link, _clock = self.service()
        sockets = self.sockets(service, 2)
        link.controlReceived(protocol.encodeBye())
        self.successResultOf(service.stopService())
        self.assertEqual([(sock.linger, sock.closed) for sock in sockets], [(None, True)] * 2)

    def test_frontGoneWhileDraining(self) -> None:
        """
        A handler stopping already (C{SIGTERM}, C{--max-requests}), waiting
        for its drain within C{--graceful-timeout}, whose front then goes
        (L{HandlerService.frontIsGone}) waits no more: it cuts its running
        requests at once, saying why, stops once their responses are closed,
        and closes its sockets without lingering.
        """
        service, d, run, sockets, clock = self.stoppingWithOneRequest(30.0, 1)
        self.assertFalse(run.cancelled)
        with capturedLogs() as events:
            service.frontIsGone()
            self.assertTrue(run.cancelled)
            self.assertNoResult(d)
            run.sink.finished()
        self.successResultOf(d)
        self.assertFalse(service._pool.started)
        self.assertEqual([(sock.linger, sock.closed) for sock in sockets], [(None, True)] * 2)
        self.assertEqual(
            [formatEvent(e) for e in events if e.get("log_level") is LogLevel.warn],
            ["mphandler h: its front is gone with 1 requests still running: r.1; "
             "cutting them, waiting up to 2.0 s for their responses to close"],
        )
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_frontGoneWhileCut(self) -> None:
        """
        A front gone once the handler has cut its requests (its
        C{--graceful-timeout} passed) changes nothing of the wait for their
        responses to close, which ends as they do; only the sockets no
        longer linger.
        """
        service, d, run, sockets, _clock = self.stoppingWithOneRequest(5.0, 5)
        self.assertTrue(run.cancelled)
        with capturedLogs() as events:
            service.frontIsGone()
            self.assertNoResult(d)
            run.sink.finished()
        self.successResultOf(d)
        self.assertFalse(service._pool.started)
        self.assertEqual([(sock.linger, sock.closed) for sock in sockets], [(None, True)] * 2)
        self.assertEqual([e for e in events if e.get("log_level") is LogLevel.warn], [])

    def test_gracefulTimeoutCloses(self) -> None:
        """
        Requests still running after C{--graceful-timeout} are cancelled, so
        that their application threads stop and close their responses (PEP
        3333 C{close()}: Django's C{request_finished}, Flask's teardown):
        once they all have, the handler stops at once, joining the thread
        pool, and says how many it cut.
        """
        service, link, clock = self.service(**{"graceful-timeout": 5.0})
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        link.controlReceived(protocol.encodeRequest(b"r.2", META, [], []))
        d = service.stopService()
        link.controlReceived(protocol.encodeBye())
        runs = link._runner.runs  # type: ignore[attr-defined]
        with capturedLogs() as events:
            clock.advance(5.0)
            self.assertEqual([run.cancelled for run in runs], [True, True])
            runs[0].sink.finished()
            self.assertNoResult(d)
            runs[1].sink.finished()
        self.successResultOf(d)
        self.assertFalse(service._pool.started)
        self.assertIn(
            "mphandler h: the 2 requests cut ended, their responses closed",
            [formatEvent(e) for e in events],
        )

    def test_gracefulTimeoutEndsStreams(self) -> None:
        """
        A request cut at C{--graceful-timeout} whose response is streaming
        ends with C{ERROR}, so that the front aborts its client's
        connection then, not three heartbeats after the handler exits,
        when it finds it gone; nothing more goes for it.  A response not
        begun is left to the front (it retries an idempotent request on
        another handler), and a head its thread sends once it is cut does
        not go.
        """
        service, link, clock = self.service(**{"graceful-timeout": 5.0})
        for requestId in [b"r.1", b"r.2", b"r.3"]:
            link.controlReceived(protocol.encodeRequest(requestId, META, [], []))
        streaming, notBegun, ended = link._runner.runs  # type: ignore[attr-defined]
        streaming.sink.sendHead(200, b"OK", [], [b"a"], True)
        ended.sink.sendHead(200, b"OK", [], [b"a"], True)
        ended.sink.sendBody([b"b"], True)
        service.stopService()
        link.controlReceived(protocol.encodeBye())
        sent = link._return.sent  # type: ignore[attr-defined]
        before = len(sent)
        clock.advance(5.0)
        self.assertEqual(
            [protocol.decode(frames) for frames in sent[before:]],
            [protocol.Error(b"r.1", "the handler stopped: --graceful-timeout passed")],
        )
        streaming.sink.sendBody([b"c"], True)
        notBegun.sink.sendHead(200, b"OK", [], [b"late"], False)
        self.assertEqual(len(sent), before + 1)

    def test_maxRequests(self) -> None:
        """
        After C{--max-requests} requests (no jitter), the handler stops the
        reactor, which drains it; not before.
        """
        service, link, clock = self.service(**{"max-requests": 2})
        service._limit = 2
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        self.assertFalse(clock.hasStopped)
        link.controlReceived(protocol.encodeRequest(b"r.2", META, [], []))
        self.assertTrue(clock.hasStopped)

    def test_givenBackNotCounted(self) -> None:
        """
        A request given back to the front before a thread took it
        (C{RECALLED}) does not count toward C{--max-requests}: the handler
        did not serve it.
        """
        service, link, clock = self.service(**{"max-requests": 2})
        service._limit = 2
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        link.controlReceived(protocol.encodeRecall(b"r.1"))
        link.controlReceived(protocol.encodeRequest(b"r.2", META, [], []))
        self.assertFalse(clock.hasStopped)
        link.controlReceived(protocol.encodeRequest(b"r.3", META, [], []))
        self.assertTrue(clock.hasStopped)

    def test_maxRequestsWhileDraining(self) -> None:
        """
        The last of C{--max-requests} requests, arriving while the handler
        drains (SIGTERM, or its front gone: the front sent it before it saw
        the C{BYE}), runs as any other; the reactor, stopping already, is
        not stopped again (it would refuse, failing the request before it
        ran, and the front would wait for its answer).
        """
        service, link, clock = self.service(**{"max-requests": 2})
        service._limit = 2
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        clock.stop()
        service.stopService()
        with capturedLogs() as events:
            link.controlReceived(protocol.encodeRequest(b"r.2", META, [], []))
        self.assertEqual(set(link.running), {b"r.1", b"r.2"})
        self.assertNotIn("recycling", " ".join(formatEvent(e) for e in events))

    def test_maxRequestsWhileStoppingUntold(self) -> None:
        """
        The last of C{--max-requests} requests, arriving once the reactor
        was asked to stop but before the services were told (in the same
        iteration as a signal's stop), runs: the reactor's refusal to stop
        twice is no error.
        """
        service, link, clock = self.service(**{"max-requests": 2})
        service._limit = 2
        link.controlReceived(protocol.encodeRequest(b"r.1", META, [], []))
        clock.stop()
        link.controlReceived(protocol.encodeRequest(b"r.2", META, [], []))
        self.assertEqual(set(link.running), {b"r.1", b"r.2"})


class HandlerServiceStartLinksTests(SynchronousTestCase):
    """
    L{txmp._handlerservice.HandlerService} registers with its fronts only once the
    reactor runs, after every service (the signal handlers too) started.
    """

    def test_helloWhenRunning(self) -> None:
        """
        C{_startLinks}, which C{startService} leaves to the reactor's
        start, sends each link's C{HELLO}.
        """
        service = HandlerService(Clock(), {})  # type: ignore[arg-type, typeddict-item]
        sendSocket = MemorySocket()
        link = FrontLink(Clock(), MemoryRunner(), sendSocket, MemorySocket(), "h",
                         capacity=2)
        self.addCleanup(link.stop)
        service.links = [link]
        service.running = True
        service._startLinks()
        self.assertEqual(protocol.decode(sendSocket.sent[0]).name, "h")  # type: ignore[union-attr]

    def test_notWhenStopped(self) -> None:
        """
        A service stopped before the reactor ran sends no C{HELLO}.
        """
        service = HandlerService(Clock(), {})  # type: ignore[arg-type, typeddict-item]
        sendSocket = MemorySocket()
        link = FrontLink(Clock(), MemoryRunner(), sendSocket, MemorySocket(), "h",
                         capacity=2)
        service.links = [link]
        service._startLinks()
        self.assertEqual(sendSocket.sent, [])


class HandlerServiceCapacityTests(SynchronousTestCase):
    """
    What a handler's links offer their fronts: a share of the threads and
    of C{--prefetch} each.
    """

    def test_threadsAndPrefetchShared(self) -> None:
        """
        Each link's capacity (the credits it announces) is its share of
        C{--threads} plus its share of C{--prefetch}, which its C{HELLO}
        says as C{prefetch}; by default, L{_defaults.DEFAULT_PREFETCH}.
        """
        network = MemoryNetwork()
        self.patch(_handlerservice, "ZmqContext", lambda reactor: network)
        self.patch(_handlerservice, "newPool", lambda threads: SynchronousThreadPool())
        cases = [
            ([], [(_defaults.DEFAULT_THREADS + _defaults.DEFAULT_PREFETCH,
                   _defaults.DEFAULT_PREFETCH)]),
            (["--threads", "3", "--prefetch", "5", "--send", "ipc://s2", "--return",
              "ipc://r2"], [(2 + 3, 3), (1 + 2, 2)]),
            (["--prefetch", "0"], [(_defaults.DEFAULT_THREADS, 0)]),
        ]
        for args, expected in cases:
            options = handlertap.Options()
            fronts = ["--send", "ipc://s1", "--return", "ipc://r1"]
            options.parseOptions(["--app", "txmp.demo:app", "--name", "h1", *fronts, *args])
            service = HandlerService(
                cast(IHandlerReactor, FakeReactor()), options.settings()
            )
            service.startService()
            self.assertEqual(
                [(link.capacity, link.prefetch) for link in service.links], expected
            )
            self.successResultOf(service.stopService())


class HandlerServiceOutOfFilesTests(SynchronousTestCase):
    """
    A handler's start where its open files limit leaves too few descriptors.
    """

    def test_outOfFiles(self) -> None:
        """
        A handler that has no file descriptor left for the ZeroMQ sockets of
        its fronts (L{OutOfFiles}: libzmq's C{socket()} fails with
        C{EMFILE}, many fronts under a low open files limit), or for its
        context, cannot start, in one line that says so with the limit, not
        a traceback; its sockets made so far are closed, with the context.
        """
        self.patch(resource, "getrlimit", lambda which: (30, 4096))
        line = (
            "mphandler: cannot open the ZeroMQ sockets of its 2 fronts: Too many "
            "open files (its open files limit is 30, ulimit -n; each front takes "
            "two sockets, their connections and monitors)"
        )
        for failing in [3, 0]:
            network = MemoryNetwork()
            made: list[MemorySocket] = []

            def socket(
                kind: str, *args: Any, made: list[MemorySocket] = made,
                failing: int = failing, network: MemoryNetwork = network,
                **kwargs: Any,
            ) -> MemorySocket:
                if len(made) == failing:
                    raise OutOfFiles("Too many open files")
                made.append(MemoryNetwork.socket(network, kind, *args, **kwargs))
                return made[-1]

            def context(
                reactor: object, failing: int = failing, network: MemoryNetwork = network
            ) -> MemoryNetwork:
                if failing == 0:
                    raise OutOfFiles("Too many open files")
                return network

            self.patch(network, "socket", socket)
            self.patch(_handlerservice, "ZmqContext", context)
            self.patch(_handlerservice, "newPool", lambda threads: SynchronousThreadPool())
            options = handlertap.Options()
            options.parseOptions([
                "--app", "txmp.demo:app", "--name", "h1",
                "--send", "ipc://s1", "--return", "ipc://r1",
                "--send", "ipc://s2", "--return", "ipc://r2",
            ])
            service = HandlerService(
                cast(IHandlerReactor, FakeReactor()), options.settings()
            )
            with capturedLogs() as events:
                error = self.assertRaises(StartFailure, service.startService)
            self.assertEqual(str(error), line)
            self.assertEqual([formatEvent(e) for e in events], [line])
            self.assertEqual(len(made), failing)
            self.assertTrue(all(sock.closed for sock in made), made)
            self.assertIsNone(service._context)


class HandlerServiceLanesTests(SynchronousTestCase):
    """
    A handler of several fronts runs each front's requests in that front's
    share of its threads (L{WorkerPool.divide}).
    """

    def test_laneEachFront(self) -> None:
        """
        Each front's link runs its requests through a lane of the handler's
        pool of its own: with one for all, the requests one front sends to
        wait for a thread (its C{--prefetch}) took the other's threads.
        """
        network = MemoryNetwork()
        pool = WorkerPool(4, threadFactory=FakeThread)
        self.patch(_handlerservice, "ZmqContext", lambda reactor: network)
        self.patch(_handlerservice, "newPool", lambda threads: pool)
        options = handlertap.Options()
        options.parseOptions([
            "--app", "txmp.demo:app", "--name", "h1", "--threads", "4",
            "--send", "ipc://s1", "--return", "ipc://r1",
            "--send", "ipc://s2", "--return", "ipc://r2",
        ])
        service = HandlerService(cast(IHandlerReactor, FakeReactor()), options.settings())
        service.startService()
        self.addCleanup(lambda: self.successResultOf(service.stopService()))
        lanes = [
            cast(WSGIRunner, link._runner)._threadpool for link in service.links
        ]
        self.assertEqual([type(lane) for lane in lanes], [PoolLane, PoolLane])
        self.assertIsNot(lanes[0], lanes[1])
        self.assertIsNot(
            cast(PoolLane, lanes[0])._queue, cast(PoolLane, lanes[1])._queue
        )


class HandshakeTestCase(SynchronousTestCase):
    """
    A started L{txmp._handlerservice.HandlerService} of one front, with
    CURVE keys if L{curve}, whose sockets are a L{MemoryNetwork}'s, told of
    handshakes by the test; time is a L{FakeReactor}'s.
    """

    curve = True

    def setUp(self) -> None:
        network = MemoryNetwork()
        self.patch(_handlerservice, "ZmqContext", lambda reactor: network)
        self.patch(_handlerservice, "newPool", lambda threads: SynchronousThreadPool())
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", "--name", "h1"])
        if self.curve:
            # Keys as parsed from --curve-secret-key and --curve-server-key.
            options["curve"] = [(b"p" * 40, b"s" * 40, b"f" * 40)]
        self.reactor = FakeReactor()
        self.service = HandlerService(
            cast(IHandlerReactor, self.reactor), options.settings()
        )
        self.service.startService()
        self.addCleanup(self.stop)
        [link] = self.service.links
        self.send, self.ret = link.address, link.returnAddress
        self.sockets = {
            self.send: cast(MemorySocket, link._send),
            self.ret: cast(MemorySocket, link._return),
        }

    def stop(self) -> None:
        if self.service.running:
            self.successResultOf(self.service.stopService())

    def handshake(self, address: str, event: str, value: int = 400) -> list[str]:
        """
        Tell the socket connected to C{address} that its handshake C{event}
        happened, as its monitor does.

        @return: the lines logged meanwhile.
        """
        sock = self.sockets[address]
        assert sock.handshakeObserver is not None
        with capturedLogs() as events:
            sock.handshakeObserver(event, value, address)
        return [formatEvent(event) for event in events]

    def assertConnectsAfter(self, address: str, delay: float) -> None:
        """
        Assert that the socket connected to C{address} connects again
        C{delay} seconds from now, and not before.
        """
        sock = self.sockets[address]
        connects = sock.connects
        self.reactor.advance(delay - 0.001)
        self.assertEqual(sock.connects, connects, f"connected again before {delay} s")
        self.reactor.advance(0.001)
        self.assertEqual(
            (sock.connects, sock.address), (connects + 1, address),
            f"not connected again after {delay} s",
        )



class HandlerServiceRefusedTests(HandshakeTestCase):
    """
    A handler whose CURVE handshake a front ends for good (a refused key, a
    front without CURVE), after which libzmq never tries that front again,
    tries again itself (L{txmp._handlerservice.HandlerService},
    L{txmp._handlerservice.Redial}): one socket at a time, after
    C{REFUSED_RETRY} seconds, doubled at each refusal in a row up to
    C{REFUSED_RETRY_MAX}, and from C{REFUSED_RETRY} again once a handshake
    succeeds.
    """

    def test_curveSockets(self) -> None:
        """
        With CURVE, both sockets of a link are CURVE clients whose
        handshakes are watched, each once connected to its front address.
        """
        for address, sock in self.sockets.items():
            self.assertEqual(sock.curve, (b"p" * 40, b"s" * 40, b"f" * 40))
            self.assertIsNotNone(sock.handshakeObserver)
            self.assertEqual((sock.address, sock.connects), (address, 1))

    def test_keptAlive(self) -> None:
        """
        Both sockets of a link have ZeroMQ find a connection that a network
        cut left open dead and connect again (L{MemorySocket.keepAlive}):
        heartbeats at the handler's C{--heartbeat}, a connection dead after
        L{_defaults.DEAD_CONNECTION}, connects given up after
        L{_defaults.CONNECT_TIMEOUT}.
        """
        for sock in self.sockets.values():
            self.assertEqual(
                sock.keptAlive,
                (_defaults.DEFAULT_HEARTBEAT, _defaults.DEAD_CONNECTION,
                 _defaults.CONNECT_TIMEOUT),
            )

    def test_keepAliveTimes(self) -> None:
        """
        A dead connection's time outlasts a front's judgement of silence
        for a long C{--heartbeat} (four of them), with three ZMTP
        heartbeats to it at least, never more often than
        L{_defaults.KEEPALIVE_MIN}.
        """
        connect = _defaults.CONNECT_TIMEOUT
        self.assertEqual(keepAliveTimes(30.0), (30.0, 120.0, connect))
        self.assertEqual(keepAliveTimes(1.0), (1.0, _defaults.DEAD_CONNECTION, connect))
        self.assertEqual(
            keepAliveTimes(0.01), (_defaults.KEEPALIVE_MIN, _defaults.DEAD_CONNECTION, connect)
        )

    def test_returnConnectionWatched(self) -> None:
        """
        The return socket's monitor tells its link whether it is
        connected: not until a handshake succeeds, and not after a
        disconnection.
        """
        [link] = self.service.links
        self.assertIsNotNone(link._returnDownSince)
        self.handshake(self.ret, "HANDSHAKE_SUCCEEDED", 0)
        self.assertIsNone(link._returnDownSince)
        self.handshake(self.send, "DISCONNECTED", 0)
        self.assertIsNone(link._returnDownSince)
        self.handshake(self.ret, "DISCONNECTED", 0)
        self.assertIsNotNone(link._returnDownSince)

    def test_frontlessWarningSaysWhy(self) -> None:
        """
        While a front refuses the handler's key, the link's warning that no
        front has answered says so, not that the front may not run or the
        addresses be wrong; once a handshake succeeds, it says that again.
        """
        [link] = self.service.links
        self.reactor.run()
        self.handshake(self.ret, "HANDSHAKE_FAILED_AUTH")
        with capturedLogs() as events:
            self.reactor.advance(_defaults.NO_FRONT_WARNING + link.heartbeat)
        [line] = [
            formatEvent(e) for e in events if "no front has answered" in e["log_format"]
        ]
        self.assertTrue(
            line.endswith(
                "still trying: its last handshake failed: the front refused "
                "this handler's key (ZAP status 400)"
            ),
            line,
        )
        self.handshake(self.ret, "HANDSHAKE_SUCCEEDED")
        self.assertIsNone(link.handshakeFailure)

    def test_refusedTriesAgain(self) -> None:
        """
        A socket whose key the front refused (ZAP) is connected again a
        second later, and says so; the other socket is left alone.
        """
        lines = self.handshake(self.send, "HANDSHAKE_FAILED_AUTH", 400)
        self.assertEqual(lines, [
            f"mphandler h1: CURVE handshake with {self.send} failed: the front "
            "refused this handler's key (ZAP status 400); trying again in 1 s, "
            "then at doubling intervals up to 30 s",
        ])
        self.assertConnectsAfter(self.send, _defaults.REFUSED_RETRY)
        self.assertEqual(self.sockets[self.ret].connects, 1)

    def test_connectAgainFails(self) -> None:
        """
        Connecting again that fails (not expected: the socket was connected
        to the address) is logged and tried again after the next wait,
        rather than ending the retries.
        """
        sock = self.sockets[self.send]
        real = sock.disconnect
        failures = [AddressError(f"cannot disconnect from {self.send}: not connected to it")]

        def disconnect(address: str) -> None:
            if failures:
                raise failures.pop()
            real(address)

        self.patch(sock, "disconnect", disconnect)
        self.handshake(self.send, "HANDSHAKE_FAILED_AUTH")
        with capturedLogs() as events:
            self.reactor.advance(_defaults.REFUSED_RETRY)
        self.assertEqual([formatEvent(e) for e in events], [
            f"mphandler: connecting to {self.send} again failed: cannot disconnect "
            f"from {self.send}: not connected to it; trying again in 2 s",
        ])
        self.assertConnectsAfter(self.send, 2 * _defaults.REFUSED_RETRY)

    def test_backOff(self) -> None:
        """
        Refused again and again, a socket waits twice as long each time, up
        to C{REFUSED_RETRY_MAX}; only the first refusal is logged.
        """
        self.assertEqual((_defaults.REFUSED_RETRY, _defaults.REFUSED_RETRY_MAX), (1.0, 30.0))
        lines = []
        for delay in [1, 2, 4, 8, 16, 30, 30]:
            lines += self.handshake(self.ret, "HANDSHAKE_FAILED_AUTH")
            self.assertConnectsAfter(self.ret, delay)
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(
            {redial.address: redial.failures for redial in self.service.redials},
            {self.send: 0, self.ret: 7},
        )

    def test_successResets(self) -> None:
        """
        A handshake that succeeds after refusals is logged, and a refusal
        after it starts a run of its own: logged, and tried again after
        C{REFUSED_RETRY}.
        """
        for delay in [1, 2, 4]:
            self.handshake(self.send, "HANDSHAKE_FAILED_AUTH")
            self.assertConnectsAfter(self.send, delay)
        self.assertEqual(self.handshake(self.send, "HANDSHAKE_SUCCEEDED", 0), [
            f"mphandler h1: CURVE handshake with {self.send} succeeded after 3 failures",
        ])
        [line] = self.handshake(self.send, "HANDSHAKE_FAILED_AUTH")
        self.assertIn("trying again in 1 s", line)
        self.assertConnectsAfter(self.send, 1)

    def test_failuresCounted(self) -> None:
        """
        A failure libzmq retries itself (the front closed the connection) is
        counted in the run that the success ends, with the refusals, but
        does not lengthen the next wait after a refusal; only the first of
        the run is logged.
        """
        [line] = self.handshake(self.send, "HANDSHAKE_FAILED_NO_DETAIL")
        self.assertIn("retrying", line)
        self.assertEqual(self.handshake(self.send, "HANDSHAKE_FAILED_NO_DETAIL"), [])
        self.assertEqual(self.handshake(self.send, "HANDSHAKE_FAILED_AUTH"), [])
        self.assertConnectsAfter(self.send, 1)
        self.assertEqual(self.handshake(self.send, "HANDSHAKE_SUCCEEDED", 0), [
            f"mphandler h1: CURVE handshake with {self.send} succeeded after 3 failures",
        ])
        self.assertEqual([r.failures for r in self.service.redials], [0, 0])

    def test_socketsApart(self) -> None:
        """
        Each socket of a link is tried again on its own schedule.
        """
        self.handshake(self.send, "HANDSHAKE_FAILED_AUTH")
        self.assertConnectsAfter(self.send, 1)
        self.handshake(self.send, "HANDSHAKE_FAILED_AUTH")
        self.handshake(self.ret, "HANDSHAKE_FAILED_AUTH")
        self.assertConnectsAfter(self.ret, 1)
        self.assertConnectsAfter(self.send, 1)

    def test_noCurve(self) -> None:
        """
        A front that does not use CURVE (a mechanism mismatch, which libzmq
        takes as final too) is tried again as a refusal is.
        """
        lines = self.handshake(self.send, "HANDSHAKE_FAILED_PROTOCOL", MECHANISM_MISMATCH)
        self.assertEqual(lines, [
            f"mphandler h1: CURVE handshake with {self.send} failed: the front "
            "does not use CURVE; trying again in 1 s, then at doubling intervals "
            "up to 30 s",
        ])
        self.assertConnectsAfter(self.send, 1)

    def test_closedLeftToZeroMQ(self) -> None:
        """
        A front that closed the connection during the handshake (a wrong
        server key) is left to ZeroMQ, which tries it again by itself.
        """
        lines = self.handshake(self.send, "HANDSHAKE_FAILED_NO_DETAIL", 32)
        self.assertEqual(lines, [
            f"mphandler h1: CURVE handshake with {self.send} failed: the front "
            "closed the connection (a wrong --curve-server-key?); retrying",
        ])
        self.reactor.advance(_defaults.REFUSED_RETRY_MAX)
        self.assertEqual(self.sockets[self.send].connects, 1)

    def test_notWhileStopping(self) -> None:
        """
        Stopping cancels a retry to come, and a refusal after it is not
        tried again.
        """
        self.handshake(self.send, "HANDSHAKE_FAILED_AUTH")
        self.stop()
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        [line] = self.handshake(self.ret, "HANDSHAKE_FAILED_AUTH")
        self.assertTrue(line.endswith("(ZAP status 400)"), line)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class HandlerServicePlainTests(HandshakeTestCase):
    """
    Without CURVE, a handler watches both sockets' handshakes too: the
    return socket's connection, for its links' warning of a return socket
    that does not connect, and a front that uses CURVE, which ends the
    handshake for good.
    """

    curve = False

    def test_returnWatched(self) -> None:
        """
        The return socket's monitor tells the link when it connects.
        """
        [link] = self.service.links
        self.assertIsNotNone(link._returnDownSince)
        self.handshake(self.ret, "HANDSHAKE_SUCCEEDED")
        self.assertIsNone(link._returnDownSince)

    def test_lostOnlyOnceConnected(self) -> None:
        """
        A connection lost is told to the link (C{FrontLink.connectionLost},
        which asks the front to register it anew) only if its handshake had
        succeeded: libzmq sends nothing on a connection before, so nothing
        was lost with one whose handshake failed (a peer that accepts and
        closes, as a front's HTTP port given for C{--return} does, at every
        one of ZeroMQ's reconnects, several a second).  Once per
        connection.
        """
        [link] = self.service.links
        lost: list[bool] = []
        self.patch(link, "connectionLost", lost.append)
        for _ in range(3):
            self.handshake(self.ret, "HANDSHAKE_FAILED_NO_DETAIL", 32)
            self.handshake(self.ret, "DISCONNECTED", 0)
        self.handshake(self.ret, "HANDSHAKE_SUCCEEDED", 0)
        self.handshake(self.send, "DISCONNECTED", 0)
        self.assertEqual(lost, [])
        self.handshake(self.ret, "DISCONNECTED", 0)
        self.handshake(self.ret, "DISCONNECTED", 0)
        self.assertEqual(lost, [True])
        self.handshake(self.send, "HANDSHAKE_SUCCEEDED", 0)
        self.handshake(self.send, "DISCONNECTED", 0)
        self.assertEqual(lost, [True, False])

    def test_frontUsesCurve(self) -> None:
        """
        A front that uses CURVE (a mechanism mismatch) is said to, naming
        the options that would let the handler in, in the log and in the
        warning that no front answers, instead of a guess at the address;
        the handler tries again as after a refusal.
        """
        [link] = self.service.links
        self.reactor.run()
        lines = self.handshake(self.send, "HANDSHAKE_FAILED_PROTOCOL", MECHANISM_MISMATCH)
        why = "the front uses CURVE: give this handler --curve-server-key and --curve-secret-key"
        self.assertEqual(lines, [
            f"mphandler h1: ZeroMQ handshake with {self.send} failed: {why}; trying "
            "again in 1 s, then at doubling intervals up to 30 s",
        ])
        self.assertConnectsAfter(self.send, 1)
        with capturedLogs() as events:
            self.reactor.advance(_defaults.NO_FRONT_WARNING + link.heartbeat)
        [line] = [
            formatEvent(e) for e in events if "no front has answered" in e["log_format"]
        ]
        self.assertTrue(line.endswith(f"still trying: its last handshake failed: {why}"), line)

    def test_closed(self) -> None:
        """
        A front that closed the connection during the handshake (as one
        that uses CURVE does when it sees the mismatch first) is said to,
        asking whether it uses CURVE, and left to ZeroMQ to try again.
        """
        lines = self.handshake(self.send, "HANDSHAKE_FAILED_NO_DETAIL", 32)
        self.assertEqual(lines, [
            f"mphandler h1: ZeroMQ handshake with {self.send} failed: the front "
            "closed the connection (does it use CURVE? then give this handler "
            "--curve-server-key and --curve-secret-key); retrying",
        ])
        self.reactor.advance(_defaults.REFUSED_RETRY_MAX)
        self.assertEqual(self.sockets[self.send].connects, 1)


    def test_notAnswered(self) -> None:
        """
        A handshake that libzmq's timer ended (C{EAGAIN}: the front's
        kernel accepted the connection, and the front, paused or
        overloaded, did not answer) is said to be so, not taken for a
        front that closed it, and left to ZeroMQ to try again.
        """
        lines = self.handshake(self.send, "HANDSHAKE_FAILED_NO_DETAIL", errno.EAGAIN)
        self.assertEqual(lines, [
            f"mphandler h1: ZeroMQ handshake with {self.send} failed: the front "
            "accepted the connection but did not answer in 30 s (ZeroMQ's "
            "handshake timeout: a front paused, overloaded or out of file "
            "descriptors, its connection left in its listen backlog; or not a "
            "front); retrying",
        ])
        self.reactor.advance(_defaults.REFUSED_RETRY_MAX)
        self.assertEqual(self.sockets[self.send].connects, 1)


class FrameChunksTests(SynchronousTestCase):
    """
    L{frameChunks} keeps every frame a handler sends under L{MAX_FRAME},
    and the frames of a message few.
    """

    def test_oneKept(self) -> None:
        """
        One chunk no larger than the size is kept as it is (the list
        itself), as is no chunk.
        """
        for chunks in [[b"b" * _defaults.MAX_FRAME], [b"a"], []]:
            self.assertIs(frameChunks(chunks), chunks)

    def test_large(self) -> None:
        """
        A large chunk is split, in order, into pieces of at most the size.
        """
        self.assertEqual(frameChunks([b"x", b"abcdefg", b"y"], 3, 2),
                         [b"x", b"abc", b"def", b"g", b"y"])

    def test_largeNotCopied(self) -> None:
        """
        The pieces of a large chunk are views of it, not copies: a body
        returned whole is not copied once here and again by ZeroMQ.
        """
        chunk = b"abcdefg"
        pieces = frameChunks([b"x", chunk], 3, 2)
        self.assertEqual(pieces, [b"x", b"abc", b"def", b"g"])
        for piece in pieces[1:]:
            assert isinstance(piece, memoryview), piece
            self.assertIs(piece.obj, chunk)

    def test_smallJoined(self) -> None:
        """
        Each run of chunks shorter than the join size goes in frames of at
        most that size, in order; a chunk of the join size or more goes as
        it is, between them.
        """
        self.assertEqual(
            frameChunks([b"a", b"b", b"c", b"dd", b"e", b"ffff", b"g", b"h"], 10, 4),
            [b"abc", b"dde", b"ffff", b"gh"],
        )

    def test_byteAtATime(self) -> None:
        """
        A batch of one-byte chunks, as an application that yields a byte
        at a time streams, goes in frames of L{_defaults.FRAME_JOIN} bytes.
        """
        frames = frameChunks([b"x"] * _defaults.BODY_BATCH)
        self.assertEqual(
            [len(frame) for frame in frames],
            [_defaults.FRAME_JOIN] * (_defaults.BODY_BATCH // _defaults.FRAME_JOIN),
        )

    def test_joinUnderSize(self) -> None:
        """
        The frames joined are no larger than the size either, if it is the
        smaller (a front's small C{--max-message}).
        """
        self.assertEqual(frameChunks([b"a", b"b", b"c"], 2, 4), [b"ab", b"c"])
