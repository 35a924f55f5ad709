# -*- test-case-name: tests.test_garbage -*-
"""
Random and hostile ZeroMQ messages sent to both of a real front's sockets
while real traffic flows: every real request succeeds, and the front counts
what it dropped.
"""

from __future__ import annotations

import random

from twisted.internet.task import LoopingCall

from txmp import protocol
from txmp._zmq import ZmqContext, newRoutingId

from ._harness import (
    PlannedRequest,
    SystemTestCase,
    asyncTest,
    freePort,
    reactor,
    zmqTCPAddresses,
)

HELLO = "tests.apps.hello:app"


def garbage(rng: random.Random) -> list[bytes]:
    """
    One bad message: random frames, or a valid envelope around nonsense, or
    a well-formed reply for a request this peer was never given.
    """
    kind = rng.randrange(5)
    if kind == 0:
        return [rng.randbytes(rng.randrange(1, 40)) for _ in range(rng.randrange(1, 6))]
    if kind == 1:
        return [protocol.VERSION, rng.choice([b"REQ", b"RESP", b"HELLO", b"??"]),
                rng.randbytes(8)]
    if kind == 2:
        return [b"TXMP9", protocol.PING]
    if kind == 3:
        return protocol.encodeResponse(b"nobody.%x" % (rng.randrange(1 << 30),),
                                       200, b"OK", [(b"X", b"y")], [b"forged"])
    return [protocol.VERSION, protocol.RESP, b"id", b"status\x00200", b"\xff"]


class GarbageTests(SystemTestCase):
    """
    A peer that sends garbage cannot disturb the front's real traffic.
    """

    def setUp(self) -> None:
        SystemTestCase.setUp(self)
        # tcp on loopback: the test process connects too, from its own
        # directory, and ipc paths under trial's would be too long.
        self.sendAddress, self.returnAddress = zmqTCPAddresses()
        self.statsPort = freePort()

    @asyncTest
    async def test_garbageWhileServing(self) -> None:
        """
        200 real requests, 10 at a time, all succeed while a rogue peer
        sends random garbage and forged replies to both front sockets; the
        front counts bad messages and dropped replies, and holds nothing
        afterwards.
        """
        front = await self.startFront(statsPort=self.statsPort)
        await self.startHandler("h1", HELLO, front=front)
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        rogueId = newRoutingId()
        sockets = []
        for address in (self.sendAddress, self.returnAddress):
            sock = context.socket("dealer", lambda frames: None, 1000, rogueId)
            sock.connect(address)
            sockets.append(sock)
        rng = random.Random(1234)
        sent = []

        def spray() -> None:
            for sock in sockets:
                frames = garbage(rng)
                sock.send(frames)
                sent.append(frames)

        sprayer = LoopingCall(spray)
        sprayer.clock = reactor
        sprayer.start(0.005)

        def stopSpraying() -> None:
            if sprayer.running:
                sprayer.stop()

        self.addCleanup(stopSpraying)
        load = self.startLoad(lambda n: PlannedRequest(b"GET", f"/?n={n}"), inFlight=10,
                              total=200)
        await self.withTimeout(load.whenDone(), 60, "200 requests")
        sprayer.stop()
        failed = [o.describe() for o in load.outcomes if o.code != 200]
        self.assertEqual(failed, [], self.transcript())
        self.assertGreater(len(sent), 20)
        stats = await self.assertIdle(self.statsPort)
        self.assertGreater(stats["stats"]["badMessages"], 0, stats)
        self.assertGreater(stats["stats"]["droppedReplies"], 0, stats)
        self.assertEqual(stats["stats"]["status502"], 0, stats)
