# -*- test-case-name: txmp.test.test_zmq -*-
"""
Unit tests for L{txmp._zmq.ZmqSocket}'s backlog, with a fake ZeroMQ socket
and a L{Clock}: no socket is made.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable, cast

import zmq
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txmp._defaults import (
    BATCH_LIMIT,
    PEER_LOG_BURST,
    PEER_LOG_INTERVAL,
    READ_BATCH,
    ZERO_COPY_SEND,
)
from txmp._zmq import (
    _EVENTS,
    _NOBLOCK,
    _POLLIN,
    _POLLOUT,
    _SNDMORE,
    MAX_OPTION_MILLISECONDS,
    OutOfFiles,
    PeerUnreachable,
    ZmqSocket,
    _descriptorsNeeded,
)
from txmp.protocol import BATCH, VERSION, Frame, encodeBatch
from txmp.testing import FakeRawSocket, FakeZmqConnection, fakeZmqSocket, runningReactor

if TYPE_CHECKING:
    from txmp._zmq import _Connection


def socketWithBacklog(
    clock: Clock, raw: FakeRawSocket, *messages: bytes
) -> tuple[ZmqSocket, FakeZmqConnection]:
    """
    A L{ZmqSocket} over C{raw} whose backlog holds C{messages}, one frame
    each: they were sent while ZeroMQ took none.  The read that sending
    schedules has run then (and would have sent them, had there been
    room), and is not counted; ZeroMQ has C{raw}'s room again.

    @return: the socket and its connection.
    """
    socket, connection = fakeZmqSocket(clock, raw)
    room, raw.room = raw.room, 0
    for message in messages:
        socket.send([message])
    clock.advance(0)
    raw.room = room
    connection.reads = 0
    return socket, connection


class DescriptorsNeededTests(SynchronousTestCase):
    """
    Tests for L{_descriptorsNeeded}: libzmq's errors for want of file
    descriptors, as L{ZmqContext} makes a context or a socket.
    """

    def test_outOfFiles(self) -> None:
        """
        C{EMFILE} and C{ENFILE} become L{OutOfFiles} with libzmq's words;
        another error goes on as it is.
        """
        for number in [errno.EMFILE, errno.ENFILE]:
            with self.assertRaises(OutOfFiles) as raised, _descriptorsNeeded():
                raise zmq.ZMQError(number)
            self.assertEqual(str(raised.exception), zmq.ZMQError(number).strerror)
        with self.assertRaises(zmq.ZMQError), _descriptorsNeeded():
            raise zmq.ZMQError(errno.EINVAL)


class BacklogTests(SynchronousTestCase):
    """
    Messages that wait for ZeroMQ to take them.
    """

    def test_sentInOrderWhileThereIsRoom(self) -> None:
        """
        The backlog goes out in order for as long as ZeroMQ takes messages;
        the rest waits.
        """
        raw = FakeRawSocket(room=2)
        socket, _ = socketWithBacklog(Clock(), raw, b"a", b"b", b"c")
        socket._flush()
        self.assertEqual(raw.sent, [[b"a"], [b"b"]])
        self.assertEqual(socket.backlog, 1)

    def test_readAfterSending(self) -> None:
        """
        Sending from the backlog, as any send, may consume the readiness
        that ZeroMQ signals once for messages that came meanwhile: the
        socket reads again on the next turn of the reactor.
        """
        clock = Clock()
        socket, connection = socketWithBacklog(clock, FakeRawSocket(room=1), b"a")
        socket._flush()
        clock.advance(0)
        self.assertEqual(connection.reads, 1)

    def test_noReadWithoutSending(self) -> None:
        """
        While ZeroMQ takes nothing, no read is scheduled.
        """
        clock = Clock()
        socket, _ = socketWithBacklog(clock, FakeRawSocket(room=0), b"a")
        socket._flush()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(socket.backlog, 1)


class PeerBacklogTests(SynchronousTestCase):
    """
    A ROUTER's messages that wait for ZeroMQ, per peer: one peer that does
    not read holds up no other, and costs bounded memory.
    """

    def router(self, raw: FakeRawSocket, peerBacklog: int = 3) -> ZmqSocket:
        """
        A ROUTER L{ZmqSocket} over C{raw}.
        """
        return fakeZmqSocket(Clock(), raw, router=True, peerBacklog=peerBacklog)[0]

    def test_fullPeerHoldsUpNoOther(self) -> None:
        """
        Messages to a peer whose pipe is full wait; those to another peer
        go at once.
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        socket = self.router(raw)
        socket.send([b"slow", b"1"])
        socket.send([b"fast", b"2"])
        socket.send([b"slow", b"3"])
        socket.send([b"fast", b"4"])
        self.assertEqual(raw.sent, [[b"fast", b"2"], [b"fast", b"4"]])
        self.assertEqual(socket.backlog, 2)

    def test_peerFlushedInOrder(self) -> None:
        """
        Once the peer's pipe has room, what waited for it goes out, in
        order, and nothing waits any more.
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        socket = self.router(raw)
        socket.send([b"slow", b"1"])
        socket.send([b"slow", b"2"])
        raw.full.clear()
        socket._flush()
        self.assertEqual(raw.sent, [[b"slow", b"1"], [b"slow", b"2"]])
        self.assertEqual(socket.backlog, 0)

    def test_fullBacklogUnreachable(self) -> None:
        """
        A peer with C{peerBacklog} messages waiting is unreachable: the
        next send to it raises L{PeerUnreachable}, and what waited is
        discarded, so that it costs bounded memory.
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        socket = self.router(raw, peerBacklog=3)
        for n in range(3):
            socket.send([b"slow", b"%d" % (n,)])
        self.assertRaises(PeerUnreachable, socket.send, [b"slow", b"x"])
        self.assertEqual(socket.backlog, 0)
        self.assertEqual(raw.sent, [])

    def test_unreachableLogPaced(self) -> None:
        """
        A peer found unreachable again and again (it comes back with the
        same routing id, and again reads nothing) has its first
        L{PEER_LOG_BURST} discards logged, then one summary per
        L{PEER_LOG_INTERVAL}: a peer that never read made 189 lines.
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        clock = Clock()
        socket, _ = fakeZmqSocket(clock, raw, router=True, peerBacklog=1)
        with capturedLogs() as events:
            for _ in range(189):
                socket.send([b"slow", b"1"])
                self.assertRaises(PeerUnreachable, socket.send, [b"slow", b"2"])
            clock.advance(PEER_LOG_INTERVAL)
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(len(warnings), PEER_LOG_BURST + 1)
        self.assertEqual(warnings[-1]["count"], 189 - PEER_LOG_BURST)
        self.assertIn("peer slow takes no messages", formatEvent(warnings[-1]))

    def test_goneWhileWaiting(self) -> None:
        """
        A peer found gone (C{EHOSTUNREACH}) while messages wait for it: they
        are all dropped, and logged once.
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        socket = self.router(raw)
        for n in range(3):
            socket.send([b"slow", b"%d" % (n,)])
        raw.full.clear()
        raw.gone.add(b"slow")
        with capturedLogs() as events:
            socket._flush()
        self.assertEqual(socket.backlog, 0)
        self.assertEqual(
            [e["log_format"] for e in events if e["log_level"] is LogLevel.warn],
            ["dropped {count} queued messages to peer {peer}: {error}"],
        )

    def test_goneWhileWaitingReported(self) -> None:
        """
        A peer found gone while messages wait for it is reported to
        C{peerLost} with all of them, in order, once the backlogs are
        consistent (it may send: here, to another peer); the others' are
        kept.
        """
        raw = FakeRawSocket(room=100)
        raw.full.update([b"slow", b"other"])
        socket = self.router(raw, peerBacklog=10)
        for n in range(3):
            socket.send([b"slow", b"%d" % (n,)])
        socket.send([b"other", b"x"])
        reported: list[tuple[bytes, list[list[bytes]]]] = []

        def peerLost(peer: bytes, dropped: list[list[bytes]]) -> None:
            reported.append((peer, dropped))
            socket.send([b"fast", b"y"])

        socket.peerLost = peerLost
        raw.full.discard(b"slow")
        raw.gone.add(b"slow")
        socket._flush()
        self.assertEqual(
            reported, [(b"slow", [[b"slow", b"0"], [b"slow", b"1"], [b"slow", b"2"]])]
        )
        self.assertEqual(raw.sent, [[b"fast", b"y"]])
        self.assertEqual(socket.backlog, 1)

    def test_peerLostFailureLogged(self) -> None:
        """
        An exception from C{peerLost} is logged, not raised out of the read
        that flushed the backlog (the reactor would drop the socket).
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        socket = self.router(raw)
        socket.send([b"slow", b"0"])

        def peerLost(peer: bytes, dropped: list[list[bytes]]) -> None:
            raise ZeroDivisionError("bug")

        socket.peerLost = peerLost
        raw.full.clear()
        raw.gone.add(b"slow")
        socket._flush()
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_fullBacklogDropped(self) -> None:
        """
        The L{PeerUnreachable} raised for a peer whose backlog is full
        carries the messages discarded, in order.
        """
        raw = FakeRawSocket(room=100)
        raw.full.add(b"slow")
        socket = self.router(raw, peerBacklog=2)
        socket.send([b"slow", b"0"])
        socket.send([b"slow", b"1"])
        error = self.assertRaises(PeerUnreachable, socket.send, [b"slow", b"x"])
        self.assertEqual(error.dropped, [[b"slow", b"0"], [b"slow", b"1"]])

    def test_forget(self) -> None:
        """
        L{ZmqSocket.forget} discards, and returns, what waits for a peer:
        if the peer comes back, none of it reaches it.  Other peers' wait.
        """
        raw = FakeRawSocket(room=100)
        raw.full.update([b"slow", b"other"])
        socket = self.router(raw)
        socket.send([b"slow", b"0"])
        socket.send([b"other", b"1"])
        self.assertEqual(socket.forget(b"slow"), [[b"slow", b"0"]])
        self.assertEqual(socket.forget(b"slow"), [])
        raw.full.clear()
        socket._flush()
        self.assertEqual(raw.sent, [[b"other", b"1"]])

    def test_dealerUnbounded(self) -> None:
        """
        A DEALER has one peer, its front: its messages all wait, in order,
        however many (replies are back-pressure, never loss).
        """
        raw = FakeRawSocket(room=0)
        socket, _ = fakeZmqSocket(Clock(), raw, peerBacklog=2)
        for n in range(5):
            socket.send([b"%d" % (n,)])
        self.assertEqual(socket.backlog, 5)
        raw.room = 5
        socket._flush()
        self.assertEqual(raw.sent, [[b"%d" % (n,)] for n in range(5)])


class SendSoonTests(SynchronousTestCase):
    """
    L{ZmqSocket.sendSoon}: the messages of one turn of the reactor to a
    peer go to it as one C{BATCH} message, in order with the rest.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.raw = FakeRawSocket(room=100)
        self.socket, self.connection = fakeZmqSocket(
            self.clock, self.raw, router=True, peerBacklog=10
        )
        self.lost: list[tuple[bytes, list[list[bytes]]]] = []
        self.socket.peerLost = lambda peer, dropped: self.lost.append((peer, dropped))

    def test_endOfTurn(self) -> None:
        """
        What is sent soon goes at the end of the turn, with the read that
        follows every send: several messages to a peer as one C{BATCH}
        message, in order, one alone as itself; each peer's apart.
        """
        self.socket.sendSoon(b"a", b"1")
        self.socket.sendSoon(b"b", b"x")
        self.socket.sendSoon(b"a", b"2")
        self.socket.sendSoon(b"a", b"3")
        self.assertEqual(self.raw.sent, [])
        self.clock.advance(0)
        self.assertEqual(
            self.raw.sent,
            [[b"a", VERSION, BATCH, b"1", b"2", b"3"], [b"b", b"x"]],
        )
        self.assertEqual(self.connection.reads, 1)
        self.clock.advance(0)
        self.assertEqual(len(self.raw.sent), 2)

    def test_limit(self) -> None:
        """
        Once L{BATCH_LIMIT} messages wait for a peer, they go at once, and
        the next ones wait for the end of the turn.
        """
        for n in range(BATCH_LIMIT + 1):
            self.socket.sendSoon(b"a", b"%d" % (n,))
        self.assertEqual(
            self.raw.sent,
            [[b"a", VERSION, BATCH, *(b"%d" % (n,) for n in range(BATCH_LIMIT))]],
        )
        self.clock.advance(0)
        self.assertEqual(self.raw.sent[1:], [[b"a", b"%d" % (BATCH_LIMIT,)]])

    def test_sendKeepsOrder(self) -> None:
        """
        A message sent to the peer at once sends what waits for it first;
        what waits for another peer still waits.
        """
        self.socket.sendSoon(b"a", b"1")
        self.socket.sendSoon(b"a", b"2")
        self.socket.sendSoon(b"b", b"x")
        self.socket.send([b"a", b"3"])
        self.assertEqual(
            self.raw.sent, [[b"a", VERSION, BATCH, b"1", b"2"], [b"a", b"3"]]
        )
        self.clock.advance(0)
        self.assertEqual(self.raw.sent[2:], [[b"b", b"x"]])

    def test_goneAtEndOfTurn(self) -> None:
        """
        A peer found gone at the end of the turn is told to C{peerLost},
        with what waited for it, in order.
        """
        self.socket.sendSoon(b"a", b"1")
        self.socket.sendSoon(b"a", b"2")
        self.raw.gone.add(b"a")
        self.clock.advance(0)
        self.assertEqual(self.lost, [(b"a", [[b"a", b"1"], [b"a", b"2"]])])
        self.assertEqual(self.raw.sent, [])

    def test_aloneGoneAtEndOfTurn(self) -> None:
        """
        So is a peer found gone with one message waiting for it.
        """
        self.socket.sendSoon(b"a", b"1")
        self.raw.gone.add(b"a")
        self.clock.advance(0)
        self.assertEqual(self.lost, [(b"a", [[b"a", b"1"]])])

    def test_goneAtSend(self) -> None:
        """
        A peer found gone by a message sent at once raises
        L{PeerUnreachable}, whose C{dropped} is what waited for it; that
        message is not sent, and C{peerLost} is not told.
        """
        self.socket.sendSoon(b"a", b"1")
        self.raw.gone.add(b"a")
        error = self.assertRaises(PeerUnreachable, self.socket.send, [b"a", b"2"])
        self.assertEqual(error.dropped, [[b"a", b"1"]])
        self.clock.advance(0)
        self.assertEqual((self.raw.sent, self.lost), ([], []))

    def test_goneAtLimit(self) -> None:
        """
        A peer found gone when L{BATCH_LIMIT} messages go at once raises
        L{PeerUnreachable} out of C{sendSoon}, with all of them, the last
        one given included.
        """
        for n in range(BATCH_LIMIT - 1):
            self.socket.sendSoon(b"a", b"%d" % (n,))
        self.raw.gone.add(b"a")
        error = self.assertRaises(PeerUnreachable, self.socket.sendSoon, b"a", b"last")
        self.assertEqual(
            error.dropped,
            [*([b"a", b"%d" % (n,)] for n in range(BATCH_LIMIT - 1)), [b"a", b"last"]],
        )

    def test_lostSendsToAnotherAtEndOfTurn(self) -> None:
        """
        A peer found gone at the end of the turn whose C{peerLost} sends at
        once to another peer that has messages waiting (a retried request
        too large for a C{BATCH}) sends those first; the end of the turn
        goes on: every other peer's go too, and the socket is read.
        """
        def lost(peer: bytes, dropped: list[list[bytes]]) -> None:
            self.lost.append((peer, dropped))
            self.socket.send([b"b", b"big", b"body"])

        self.socket.peerLost = lost
        self.socket.sendSoon(b"a", b"1")
        self.socket.sendSoon(b"b", b"x")
        self.socket.sendSoon(b"c", b"y")
        self.raw.gone.add(b"a")
        self.clock.advance(0)
        self.assertEqual(self.lost, [(b"a", [[b"a", b"1"]])])
        self.assertEqual(
            self.raw.sent, [[b"b", b"x"], [b"b", b"big", b"body"], [b"c", b"y"]]
        )
        self.assertGreater(self.connection.reads, 0)

    def test_fullKeepsMessages(self) -> None:
        """
        What ZeroMQ cannot take at the end of the turn waits as the
        messages it is, and goes one by one once the peer takes more.
        """
        self.raw.full.add(b"a")
        self.socket.sendSoon(b"a", b"1")
        self.socket.sendSoon(b"a", b"2")
        self.clock.advance(0)
        self.assertEqual(self.socket.backlog, 2)
        self.raw.full.clear()
        self.socket._flush()
        self.assertEqual(self.raw.sent, [[b"a", b"1"], [b"a", b"2"]])

    def test_behindBacklog(self) -> None:
        """
        Messages for a peer that has some waiting already join them, one by
        one, behind them.
        """
        self.raw.full.add(b"a")
        self.socket.send([b"a", b"0"])
        self.socket.sendSoon(b"a", b"1")
        self.socket.sendSoon(b"a", b"2")
        self.clock.advance(0)
        self.assertEqual(self.socket.backlog, 3)
        self.assertEqual(
            self.socket.forget(b"a"), [[b"a", b"0"], [b"a", b"1"], [b"a", b"2"]]
        )

    def test_forget(self) -> None:
        """
        L{ZmqSocket.forget} returns what waits for the end of the turn too,
        after what ZeroMQ could not take; none of it is sent.
        """
        self.raw.full.add(b"a")
        self.socket.send([b"a", b"0"])
        self.raw.full.clear()
        self.socket.sendSoon(b"a", b"1")
        self.assertEqual(self.socket.forget(b"a"), [[b"a", b"0"], [b"a", b"1"]])
        self.clock.advance(0)
        self.assertEqual(self.raw.sent, [])


class SharedSocketTests(SynchronousTestCase):
    """
    A socket shared with other threads (L{ZmqSocket.shareWithThreads}), as
    a handler's return socket, on which its application threads send their
    replies.  The thread a call comes from is faked, with C{inThread}.
    """

    def setUp(self) -> None:
        self.reactor = runningReactor()
        self.raw = FakeRawSocket(room=2)
        self.socket, self.connection = fakeZmqSocket(self.reactor, self.raw)
        self.inReactor = True
        self.socket.shareWithThreads(self.reactor, lambda: self.inReactor)

    def inThread(self, *messages: bytes) -> None:
        """
        Send C{messages}, one frame each, as an application thread does.
        """
        self.inReactor = False
        try:
            for message in messages:
                self.socket.send([message])
        finally:
            self.inReactor = True

    def test_sendFromThread(self) -> None:
        """
        A send from another thread goes to ZeroMQ at once, and neither
        schedules a read nor wakes the reactor: the socket receives
        nothing that a read could be owed for.
        """
        self.inThread(b"a")
        self.assertEqual(self.raw.sent, [[b"a"]])
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(self.reactor.pending, [])

    def test_sendFromReactorThread(self) -> None:
        """
        A send from the reactor thread reads again soon, as on a socket
        that is not shared.
        """
        self.socket.send([b"a"])
        self.assertEqual(self.raw.sent, [[b"a"]])
        self.reactor.advance(0)
        self.assertEqual(self.connection.reads, 1)

    def test_fullFromThread(self) -> None:
        """
        A message that ZeroMQ cannot take now, sent from another thread,
        waits in the backlog, and the reactor is woken up to read the
        socket, whose readiness then sends it once ZeroMQ can take it.
        """
        self.raw.room = 0
        self.inThread(b"a")
        self.assertEqual((self.raw.sent, self.socket.backlog), ([], 1))
        self.assertEqual(len(self.reactor.pending), 1)
        self.reactor.flush()
        self.reactor.advance(0)
        self.assertEqual(self.connection.reads, 1)
        self.raw.room = 1
        self.connection.doRead()
        self.assertEqual((self.raw.sent, self.socket.backlog), ([[b"a"]], 0))

    def test_behindBacklog(self) -> None:
        """
        While messages wait, one sent from another thread waits behind them,
        in order, without waking the reactor again: the flush that the first
        one asked for sends them all.
        """
        self.raw.room = 0
        self.inThread(b"a", b"b")
        self.assertEqual(len(self.reactor.pending), 1)
        self.raw.room = 2
        self.connection.doRead()
        self.assertEqual(self.raw.sent, [[b"a"], [b"b"]])

    def test_closedFromThread(self) -> None:
        """
        A send from another thread on a closed socket does nothing.
        """
        self.socket.close()
        self.inThread(b"a")
        self.assertEqual(self.reactor.pending, [])

    def test_routerNotShared(self) -> None:
        """
        A ROUTER cannot be shared: its sends name a peer and may raise.
        """
        router, _ = fakeZmqSocket(self.reactor, FakeRawSocket(room=1), router=True)
        self.assertRaises(ValueError, router.shareWithThreads, self.reactor)

    def test_endpointsChangedHoldingLock(self) -> None:
        """
        Connecting and disconnecting, in the reactor thread while
        application threads may send (a handler trying a front again after
        a refusal), are done holding the socket's lock.
        """
        held: list[tuple[str, bool]] = []
        lock = self.socket._lock
        assert lock is not None

        def record(what: str) -> Callable[[object], None]:
            def call(argument: object) -> None:
                # Owned by this thread: another's acquire would wait.
                held.append((what, lock._is_owned()))  # type: ignore[attr-defined]
            return call

        self.connection.addEndpoints = record("connect")  # type: ignore[attr-defined]
        self.connection.removeEndpoint = record("disconnect")  # type: ignore[attr-defined]
        self.socket.connect("tcp://127.0.0.1:5556")
        self.socket.disconnect("tcp://127.0.0.1:5556")
        self.assertEqual(held, [("connect", True), ("disconnect", True)])

    def test_disconnectClosed(self) -> None:
        """
        Disconnecting a closed socket (the handler stopping) does nothing.
        """
        self.socket.close()
        self.socket.disconnect("tcp://127.0.0.1:5556")

    def combinedInThread(self, *messages: bytes) -> None:
        """
        Combine C{messages} and send them, as an application thread's
        reply does.
        """
        self.inReactor = False
        try:
            for message in messages:
                self.socket.combine(message)
            self.socket.sendCombined()
        finally:
            self.inReactor = True

    def test_combinedFromThread(self) -> None:
        """
        Messages combined go as one C{BATCH} of at most L{BATCH_LIMIT} (one
        alone as itself), and neither schedule a read nor wake the reactor.
        """
        self.raw.room = 3
        messages = [b"m%d" % (n,) for n in range(BATCH_LIMIT + 1)]
        self.combinedInThread(*messages)
        self.combinedInThread(b"c")
        self.assertEqual(
            self.raw.sent,
            [encodeBatch(messages[:BATCH_LIMIT]), [messages[BATCH_LIMIT]], [b"c"]],
        )
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(self.reactor.pending, [])

    def test_combinedWhileSending(self) -> None:
        """
        A thread that combines a message while another sends the combined
        ones leaves its own to that one and returns at once: the sending
        thread sends it as soon as its send returns.
        """
        send = self.raw.send
        returned: list[list[list[bytes]]] = []

        def sendAndInterleave(frame: bytes, flags: int, copy: bool) -> None:
            send(frame, flags, copy)
            if not returned:
                # Another application thread ends its request meanwhile.
                self.combinedInThread(b"b")
                returned.append(list(self.raw.sent))

        self.raw.send = sendAndInterleave  # type: ignore[method-assign]
        self.combinedInThread(b"a")
        self.assertEqual(returned, [[[b"a"]]])
        self.assertEqual(self.raw.sent, [[b"a"], [b"b"]])

    def test_combinedFull(self) -> None:
        """
        Combined messages that ZeroMQ cannot take now wait, as one
        C{BATCH}, and the reactor is woken up to send it once it can.
        """
        self.raw.room = 0
        self.combinedInThread(b"a", b"b")
        self.assertEqual((self.raw.sent, self.socket.backlog), ([], 1))
        self.assertEqual(len(self.reactor.pending), 1)
        self.reactor.flush()
        self.raw.room = 1
        self.connection.doRead()
        self.assertEqual(self.raw.sent, [encodeBatch([b"a", b"b"])])

    def test_combinedBeforeSent(self) -> None:
        """
        A message sent with C{send}, in any thread, goes after those
        combined before it, which it sends first.
        """
        self.raw.room = 4
        self.socket.combine(b"a")
        self.inThread(b"x")
        self.socket.combine(b"b")
        self.socket.send([b"y"])
        self.assertEqual(self.raw.sent, [[b"a"], [b"x"], [b"b"], [b"y"]])

    def test_combinedAsSenderLeaves(self) -> None:
        """
        A message combined by a thread that finds another still marked as
        sending, once that one has sent all it found (the lost wake-up of
        a hand-off: it released the socket, and has not yet said it is
        done), is sent by that one before its L{ZmqSocket.sendCombined}
        returns, not left for a later reply.
        """
        sendShared = self.socket._sendShared
        late: list[bool] = []

        def sendThenInterleave(lock: threading.RLock, frames: list[bytes] | None) -> None:
            sendShared(lock, frames)
            if not late:
                # Another application thread ends its request just then.
                self.combinedInThread(b"b")
                late.append(self.raw.sent == [[b"a"]])

        self.socket._sendShared = sendThenInterleave  # type: ignore[method-assign]
        self.combinedInThread(b"a")
        self.assertEqual(late, [True])
        self.assertEqual(self.raw.sent, [[b"a"], [b"b"]])
        self.assertEqual(self.reactor.pending, [])


class ReadBATCHTests(SynchronousTestCase):
    """
    A socket reads a C{BATCH} (L{txmp.protocol.encodeBatch}: a peer's
    C{sendSoon} or C{sendCombined}) as its messages.
    """

    def read(self, router: bool, incoming: list[bytes]) -> tuple[list[list[Frame]], list[str]]:
        """
        What a socket's receiver is called with for the one message
        C{incoming}, a receiver that raises for C{b"b"}; and the failures
        logged.
        """
        raw = FakeRawSocket(room=0)
        raw.incoming.append(incoming)
        received: list[list[Frame]] = []

        def receiver(frames: Sequence[Frame]) -> None:
            received.append(list(frames))
            if frames[-1] == b"b":
                raise RuntimeError("bug")

        _socket, connection = fakeZmqSocket(Clock(), raw, receiver, router=router)
        with capturedLogs() as events:
            connection.doRead()
        self.flushLoggedErrors(RuntimeError)
        return received, [formatEvent(e) for e in events if "log_failure" in e]

    def test_router(self) -> None:
        """
        A ROUTER hands each message of a C{BATCH} on in order, after its
        sender's id, each as if it had come alone: one whose handling
        raises is logged, and the others are handed on.
        """
        received, failures = self.read(True, [b"peer", *encodeBatch([b"a", b"b", b"c"])])
        self.assertEqual(received, [[b"peer", b"a"], [b"peer", b"b"], [b"peer", b"c"]])
        self.assertEqual(len(failures), 1)

    def test_dealer(self) -> None:
        """
        A DEALER hands each message of a C{BATCH} on in order, alone.
        """
        received, failures = self.read(False, encodeBatch([b"a", b"c"]))
        self.assertEqual(received, [[b"a"], [b"c"]])
        self.assertEqual(failures, [])

    def test_notBatch(self) -> None:
        """
        A message whose second frame (after a ROUTER's peer id) is not
        C{BATCH}, or whose first is not the protocol's version, is handed on
        whole.
        """
        for router, incoming in [
            (True, [b"peer", VERSION, b"RESP", b"x"]),
            (True, [VERSION, BATCH, b"x"]),
            (False, [b"TXMP9", BATCH, b"x"]),
            (False, [VERSION, BATCH]),
        ]:
            received, _ = self.read(router, incoming)
            self.assertEqual(received, [incoming], incoming)


class ReadBatchTests(SynchronousTestCase):
    """
    A socket hands at most L{READ_BATCH} messages to its receiver in a turn
    of the reactor: a peer that sends faster than the front handles its
    messages cannot starve the front's clients.
    """

    def reading(
        self, count: int
    ) -> tuple[Clock, FakeZmqConnection, list[bytes]]:
        """
        A socket to which a peer has sent C{count} messages, and the
        messages its receiver got.
        """
        clock = Clock()
        raw = FakeRawSocket(room=0)
        raw.incoming.extend([b"%d" % (n,)] for n in range(count))
        received: list[bytes] = []
        _socket, connection = fakeZmqSocket(
            clock, raw, lambda frames: received.append(frames[0])
        )
        return clock, connection, received

    def test_batch(self) -> None:
        """
        Past L{READ_BATCH} messages the socket stops, and reads on at the
        next turn of the reactor (ZeroMQ signals no new edge for what is
        already there), until it has read every message, in order.
        """
        count = READ_BATCH * 2 + 5
        clock, connection, received = self.reading(count)
        connection.doRead()
        self.assertEqual(len(received), READ_BATCH)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        # (Each read at the next turn schedules the next: two more.)
        clock.advance(0)
        self.assertEqual(connection.reads, 3)
        self.assertEqual(received, [b"%d" % (n,) for n in range(count)])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_noReadScheduledWhenDrained(self) -> None:
        """
        A read that takes every message waiting schedules no other.
        """
        clock, connection, received = self.reading(READ_BATCH)
        connection.doRead()
        self.assertEqual(len(received), READ_BATCH)
        self.assertEqual(clock.getDelayedCalls(), [])


class FlagTests(SynchronousTestCase):
    """
    The flags L{ZmqSocket} sends with, as plain integers.
    """

    def test_libzmqValues(self) -> None:
        """
        They are libzmq's C{ZMQ_DONTWAIT} and C{ZMQ_SNDMORE}, C{ZMQ_EVENTS},
        C{ZMQ_POLLIN} and C{ZMQ_POLLOUT}.
        """
        self.assertEqual(
            (_NOBLOCK, _SNDMORE, _EVENTS, _POLLIN, _POLLOUT),
            (int(zmq.NOBLOCK), int(zmq.SNDMORE), int(zmq.EVENTS), int(zmq.POLLIN),
             int(zmq.POLLOUT)),
        )

    def test_largeNotCopied(self) -> None:
        """
        A frame of L{ZERO_COPY_SEND} bytes or more, C{bytes} or a view of
        C{bytes} (a piece of a body returned whole), goes to ZeroMQ without
        a copy; smaller ones, and one whose buffer can change (a
        C{bytearray}, or a view of one), are copied.
        """
        if ZERO_COPY_SEND is None:
            raise SkipTest("frames are always copied here (PyPy)")
        raw = FakeRawSocket(room=1)
        socket, _ = socketWithBacklog(Clock(), raw)
        body = b"b" * (2 * ZERO_COPY_SEND)
        view = memoryview(body)[:ZERO_COPY_SEND]
        mutable = bytearray(ZERO_COPY_SEND)
        small = b"s" * (ZERO_COPY_SEND - 1)
        frames = [b"peer", b"RESP", body, view, mutable, memoryview(mutable), small]
        socket.send(frames)  # type: ignore[arg-type]
        self.assertEqual(raw.sent, [frames])
        self.assertEqual(len(raw.uncopied), 2)
        self.assertIs(raw.uncopied[0], body)
        self.assertIs(raw.uncopied[1], view)

    def test_multipart(self) -> None:
        """
        A message of several frames goes out whole, in order.
        """
        raw = FakeRawSocket(room=1)
        socket, _ = socketWithBacklog(Clock(), raw)
        socket.send([b"peer", b"REQ", b"body"])
        self.assertEqual(raw.sent, [[b"peer", b"REQ", b"body"]])


class KeepAliveTests(SynchronousTestCase):
    """
    L{ZmqSocket.keepAlive} and L{ZmqSocket.tcpKeepAlive} over a real
    C{zmq.Socket}, never bound nor connected.
    """

    def setUp(self) -> None:
        context = zmq.Context()
        self.raw = context.socket(zmq.DEALER)
        self.addCleanup(context.term)
        self.addCleanup(self.raw.close, 0)
        connection = FakeZmqConnection(cast(FakeRawSocket, self.raw))
        self.socket = ZmqSocket(
            Clock(), lambda frames: None, connection=cast("_Connection", connection)
        )
        connection.owner = self.socket

    def options(self) -> tuple[int, int, int]:
        """
        The socket's C{HEARTBEAT_IVL}, C{HEARTBEAT_TIMEOUT} and
        C{CONNECT_TIMEOUT}, in milliseconds.
        """
        return (
            cast(int, self.raw.getsockopt(zmq.HEARTBEAT_IVL)),
            cast(int, self.raw.getsockopt(zmq.HEARTBEAT_TIMEOUT)),
            cast(int, self.raw.getsockopt(zmq.CONNECT_TIMEOUT)),
        )

    def test_milliseconds(self) -> None:
        """
        The times are given to libzmq in milliseconds, at least 1.
        """
        self.socket.keepAlive(1.5, 10.0, 0.0001)
        self.assertEqual(self.options(), (1500, 10000, 1))

    def test_longestTaken(self) -> None:
        """
        A time longer than libzmq takes (a C int of milliseconds, 24.8
        days) is given as the longest it takes, not refused with an
        C{OverflowError}: a handler of C{--heartbeat 1e6} (whose dead
        connection's time is four of them) stopped at start with a
        traceback.
        """
        self.assertEqual(MAX_OPTION_MILLISECONDS, 2**31 - 1)
        self.socket.keepAlive(1e6, 4e6, 1e300)
        self.assertEqual(self.options(), (1_000_000_000,) + (MAX_OPTION_MILLISECONDS,) * 2)

    def test_tcpKeepAlive(self) -> None:
        """
        L{ZmqSocket.tcpKeepAlive} turns TCP keepalive on, with the idle
        time, interval and count given, in seconds and probes.
        """
        self.socket.tcpKeepAlive(60, 10, 3)
        self.assertEqual(
            [self.raw.getsockopt(option) for option in (
                zmq.TCP_KEEPALIVE, zmq.TCP_KEEPALIVE_IDLE,
                zmq.TCP_KEEPALIVE_INTVL, zmq.TCP_KEEPALIVE_CNT,
            )],
            [1, 60, 10, 3],
        )
