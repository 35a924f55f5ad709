# -*- test-case-name: txmp.test.test_zmq -*-
"""
Unit tests for L{txmp._zmq.ZmqSocket}'s backlog, with a fake ZeroMQ socket
and a L{Clock}: no socket is made.
"""

from __future__ import annotations

from typing import cast

import zmq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txmp._zmq import (
    _EVENTS,
    _NOBLOCK,
    _POLLIN,
    _POLLOUT,
    _SNDMORE,
    ZmqSocket,
    _Connection,
)
from txmp.testing import FakeRawSocket, FakeZmqConnection


def socketWithBacklog(
    clock: Clock, connection: FakeZmqConnection, *messages: bytes
) -> ZmqSocket:
    """
    A L{ZmqSocket} over C{connection} whose backlog holds C{messages}, one
    frame each: they were sent while ZeroMQ took none.  The read that
    sending schedules has run, and is not counted.
    """
    raw = connection.socket
    socket = ZmqSocket(clock, lambda frames: None, connection=cast(_Connection, connection))
    room, raw.room = raw.room, 0
    for message in messages:
        socket.send([message])
    raw.room = room
    clock.advance(0)
    connection.reads = 0
    return socket


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
        socket = socketWithBacklog(Clock(), FakeZmqConnection(raw), b"a", b"b", b"c")
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
        connection = FakeZmqConnection(FakeRawSocket(room=1))
        socket = socketWithBacklog(clock, connection, b"a")
        socket._flush()
        clock.advance(0)
        self.assertEqual(connection.reads, 1)

    def test_noReadWithoutSending(self) -> None:
        """
        While ZeroMQ takes nothing, no read is scheduled.
        """
        clock = Clock()
        socket = socketWithBacklog(clock, FakeZmqConnection(FakeRawSocket(room=0)), b"a")
        socket._flush()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(socket.backlog, 1)


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

    def test_multipart(self) -> None:
        """
        A message of several frames goes out whole, in order.
        """
        raw = FakeRawSocket(room=1)
        socket = socketWithBacklog(Clock(), FakeZmqConnection(raw))
        socket.send([b"peer", b"REQ", b"body"])
        self.assertEqual(raw.sent, [[b"peer", b"REQ", b"body"]])
