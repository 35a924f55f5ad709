# -*- test-case-name: txmp.test.test_curve -*-
"""
Integration tests of CURVE, ZAP (L{txmp._zap}) and hostile peers: the
front and handler services in this process over real ZeroMQ sockets on
C{ipc://}.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, cast

import zmq
from twisted.internet import reactor as globalReactor
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import LogLevel, capturedLogs, formatEvent

from txmp import protocol
from txmp._defaults import PEER_BACKLOG
from txmp._interfaces import IFrontReactor
from txmp._zmq import ZmqContext, createKeyPair, curveAvailable, loadKeyPair, newRoutingId
from txmp.test.services import ServicesTestCase

# Every reactor provides what the services need (txmp._interfaces).
reactor = cast(IFrontReactor, globalReactor)


def wait(seconds: float) -> Any:
    return deferLater(reactor, seconds, lambda: None)


class CurveTests(ServicesTestCase):
    """
    A front with CURVE serves allowed handlers only.
    """

    heartbeat = "0.2"

    def setUp(self) -> None:
        if not curveAvailable():
            raise self.skipTest("no CURVE in this libzmq")
        ServicesTestCase.setUp(self)
        self.keys = os.path.join(self.base, "keys")
        self.allow = os.path.join(self.base, "allow")
        os.makedirs(self.allow)
        for name in ["front", "good", "rogue", "other"]:
            createKeyPair(self.keys, name)
        shutil.copy(os.path.join(self.keys, "good.key"), self.allow)

    def key(self, name: str) -> str:
        return os.path.join(self.keys, name)

    def frontCurve(self) -> list[str]:
        return ["--curve-secret-key", self.key("front.key_secret"), "--curve-allow", self.allow]

    def handlerCurve(self, name: str, server: str = "front") -> list[str]:
        return ["--curve-secret-key", self.key(name + ".key_secret"),
                "--curve-server-key", self.key(server + ".key")]

    @inlineCallbacks
    def test_allowedServed(self) -> Any:
        """
        A handler whose key is allowed serves requests over CURVE.
        """
        front = yield self.startFront(*self.frontCurve())
        self.startHandler("good", *self.handlerCurve("good"))
        code, body = yield self.get()
        self.assertEqual(code, 200)
        self.assertTrue(body.startswith(b"Hello from txmp handler"))
        self.assertEqual([h.name for h in front.dispatcher.handlers.values()], ["good"])

    @inlineCallbacks
    def test_noKeyAllowedWarned(self) -> Any:
        """
        A front whose C{--curve-allow} directory holds no public
        certificate (one a deployment has yet to fill, or the wrong one)
        warns at start that every handler is refused until one is copied
        there, where it logged C{0 handler keys allowed} at level info.
        """
        os.remove(os.path.join(self.allow, "good.key"))
        # (A secret key is not a handler's certificate: still none.)
        shutil.copy(self.key("good.key_secret"), self.allow)
        with capturedLogs() as events:
            yield self.startFront(*self.frontCurve())
        warned = [
            formatEvent(e) for e in events
            if e["log_level"] == LogLevel.warn and "no handler key allowed" in e["log_format"]
        ]
        self.assertEqual(
            warned,
            [f"mpfront: CURVE on, public key {loadKeyPair(self.key('front.key'))[0].decode()}, "
             "and no handler key allowed: every handler is refused until its public "
             f"certificate (*.key) is copied into --curve-allow {self.allow}"],
        )

    @inlineCallbacks
    def test_unknownKeyNeverRegisters(self) -> Any:
        """
        A handler whose key is not allowed is refused by ZAP (logged on
        both sides) and never says HELLO, while an allowed one serves.
        """
        front = yield self.startFront(*self.frontCurve())
        rogue = self.startHandler("rogue", *self.handlerCurve("rogue"))
        self.startHandler("good", *self.handlerCurve("good"))
        for _ in range(4):
            code, _body = yield self.get()
            self.assertEqual(code, 200)
        # Once both of its sockets were refused, no HELLO of the rogue's
        # can come: libzmq passes no message before a handshake succeeds.
        yield self.until(
            lambda: all(r.failures for r in rogue.redials), "both of the rogue's refusals"
        )
        self.assertEqual([h.name for h in front.dispatcher.handlers.values()], ["good"])
        rogueKey = loadKeyPair(self.key("rogue.key"))[0]
        self.assertGreater(front.zap.denials.get(rogueKey, 0), 0)
        self.assertEqual(rogue.links[0].running, {})

    @inlineCallbacks
    def test_wrongServerKeyNeverRegisters(self) -> Any:
        """
        A handler given the wrong server key fails the handshake (it logs
        it) and never registers; the ZAP handler is never even asked, and
        the front logs, for each of its sockets, that a peer holds another
        server key.
        """
        with capturedLogs() as events:
            front = yield self.startFront(*self.frontCurve())
            wrong = self.startHandler("wrong", *self.handlerCurve("good", server="other"))
            yield self.until(
                lambda: all(r.failures for r in wrong.redials), "both sockets' failed handshakes"
            )
            yield self.until(
                lambda: len(front.handshakes.failures) == 2, "the front's two failures"
            )
        self.assertEqual(front.dispatcher.handlers, {})
        self.assertEqual(front.zap.denials, {})
        logged = {
            e["address"] for e in events
            if e.get("log_format", "").startswith("a CURVE handshake at")
            and "is not this front's public key" in e["why"]
        }
        self.assertEqual(logged, {self.send, self.ret})

    @inlineCallbacks
    def test_frontsWithKeysOfTheirOwn(self) -> Any:
        """
        A handler serving two fronts, each with a key pair of its own, is
        given each front's public certificate, in the order of its
        C{--send}: it registers with both.
        """
        first = yield self.startFront(*self.frontCurve())
        send, ret = self.send, self.ret
        self.send, self.ret = send + "2", ret + "2"
        second = yield self.startFront(
            "--curve-secret-key", self.key("other.key_secret"), "--curve-allow", self.allow
        )
        self.send, self.ret = send, ret
        # The first front's addresses come first (startHandler's own).
        self.startHandler(
            "good", "--send", send + "2", "--return", ret + "2",
            "--curve-secret-key", self.key("good.key_secret"),
            "--curve-server-key", self.key("front.key"),
            "--curve-server-key", self.key("other.key"),
        )
        yield self.until(
            lambda: first.dispatcher.handlers and second.dispatcher.handlers,
            "the handler registered with both fronts",
        )

    @inlineCallbacks
    def test_plainHandlerRefused(self) -> Any:
        """
        A handler without CURVE never registers with a CURVE front.  (The
        front may count its failed handshakes, or not: the handler may see
        the mismatch first and close, which the front sees as a connection
        closed during the handshake.)
        """
        front = yield self.startFront(*self.frontCurve())
        self.startHandler("plain")
        yield wait(1.0)
        self.assertEqual(front.dispatcher.handlers, {})


class HostilePeerTests(ServicesTestCase):
    """
    Garbage from a raw DEALER on both of the front's sockets while real
    requests flow: the front drops, counts and goes on serving.
    """

    heartbeat = "0.2"

    @inlineCallbacks
    def test_garbage(self) -> Any:
        """
        Malformed, unknown, misdirected and oversized messages are dropped
        or cut off, and every real request succeeds.
        """
        front = yield self.startFront("--max-message", "100000")
        self.startHandler("real")
        code, _ = yield self.get()
        self.assertEqual(code, 200)
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        routingId = newRoutingId()
        rawSend = context.socket("dealer", lambda frames: None, 100, routingId)
        rawReturn = context.socket("dealer", lambda frames: None, 100, routingId)
        rawSend.connect(self.send)
        rawReturn.connect(self.ret)
        garbage = [
            [b"x"],
            [b"\xff", b"\x00"],
            [protocol.VERSION, b"NOPE", b"1"],
            [b"9", protocol.PING],
            [],
        ]
        requests: list[Deferred[Any]] = []
        for _round in range(5):
            for frames in garbage:
                if frames:
                    rawSend.send(frames)
                    rawReturn.send(frames)
            # A well-formed reply for a request nobody gave this peer.
            rawReturn.send(protocol.encodeResponse(b"no-such-request", 200, b"OK", []))
            rawReturn.send(protocol.encodeBody(b"no-such-request", [b"x"], True))
            requests.extend(self.get() for _ in range(5))
            yield wait(0.05)
        results = yield DeferredList(requests, consumeErrors=True)
        self.assertEqual([(ok, r[0] if ok else r) for ok, r in results],
                         [(True, 200)] * len(requests))
        stats = front.dispatcher.stats
        self.assertGreater(stats["badMessages"], 0)
        self.assertGreater(stats["droppedReplies"], 0)
        # Oversized: the peer is disconnected, the front keeps serving.
        rawReturn.send([b"y" * 200000])
        yield wait(0.2)
        code, _ = yield self.get()
        self.assertEqual(code, 200)

    @inlineCallbacks
    def test_peerThatDoesNotRead(self) -> Any:
        """
        A peer that sends on the send socket and never reads what the
        front answers (a C{BYE} to each message: it is not registered)
        fills its pipe; what the front keeps for it is bounded, and holds
        up no message to the real handler, which goes on serving.
        """
        front = yield self.startFront("--timeout", "2")
        self.startHandler("real")
        code, _ = yield self.get()
        self.assertEqual(code, 200)
        context = zmq.Context()
        self.addCleanup(context.term)
        raw = context.socket(zmq.DEALER)
        self.addCleanup(raw.close, 0)
        raw.setsockopt(zmq.ROUTING_ID, newRoutingId())
        raw.setsockopt(zmq.RCVHWM, 1)
        raw.setsockopt(zmq.RCVBUF, 4096)
        raw.setsockopt(zmq.SNDHWM, 100000)
        raw.connect(self.send)
        sendSocket = front._sockets[0]
        full = False
        with capturedLogs() as events:
            for _round in range(200):
                for _ in range(2000):
                    try:
                        raw.send_multipart(protocol.encodeCredit(0), zmq.NOBLOCK)
                    except zmq.Again:
                        break
                yield wait(0.02)
                self.assertLessEqual(sendSocket.backlog, PEER_BACKLOG)
                full = sendSocket.backlog > 0 or any(
                    "takes no messages" in e["log_format"] for e in events
                )
                if full:
                    break
        self.assertTrue(full, "the peer's pipe never filled")
        code, _ = yield self.get()
        self.assertEqual(code, 200)

