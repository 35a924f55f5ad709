# -*- test-case-name: txmp.test.test_integration -*-
"""
Integration tests: the front and handler services in this process, joined
by real ZeroMQ sockets on C{ipc://}, spoken to over real HTTP on loopback;
and a handler written from the protocol document alone, with raw pyzmq, in
a child process.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from typing import Any, Callable, cast

from twisted.internet import reactor as globalReactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from txmp import fronttap, handlertap
from txmp._interfaces import IFrontReactor
from txmp._zmq import PeerUnreachable, ZmqContext, newRoutingId

# Every reactor provides what the services need (txmp._interfaces).
reactor = cast(IFrontReactor, globalReactor)


def echoApp(environ: dict, startResponse: Callable[..., Any]) -> Iterable[bytes]:
    """
    Echo the method, path and body, in a generator (a streamed response).
    """
    body = environ["wsgi.input"].read()
    startResponse("201 Created", [("Content-Type", "application/octet-stream"),
                                  ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    yield environ["REQUEST_METHOD"].encode("ascii") + b" "
    yield environ["PATH_INFO"].encode("latin-1") + b" "
    yield body


class _Lines(ProcessProtocol):
    """
    Collects a child's output and fires a Deferred on the first line that
    contains a marker, and another when it ends.
    """

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.output = b""
        self.ready: Deferred[None] = Deferred()
        self.ended: Deferred[None] = Deferred()

    def childDataReceived(self, fd: int, data: bytes) -> None:
        self.output += data
        if not self.ready.called and self.marker in self.output:
            self.ready.callback(None)

    def processEnded(self, reason: Any) -> None:
        if not self.ready.called:
            self.ready.errback(reason)
        self.ended.callback(None)


class FrontAndHandlerTests(TestCase):
    """
    L{fronttap.FrontService} and L{handlertap.HandlerService} over ipc.
    """

    timeout = 30

    def setUp(self) -> None:
        # Not under trial's temporary directory: ZeroMQ refuses ipc paths
        # longer than about 107 bytes.
        base = FilePath(tempfile.mkdtemp(prefix="txmp-"))
        self.addCleanup(base.remove)
        self.send = "ipc://" + base.child("send").path
        self.ret = "ipc://" + base.child("return").path

    @inlineCallbacks
    def startFront(self, *extra: str) -> Any:
        options = fronttap.Options()
        options.parseOptions(
            ["--listen", "tcp:0:interface=127.0.0.1", "--send", self.send,
             "--return", self.ret, *extra]
        )
        service = fronttap.FrontService(reactor, options)
        service.startService()
        self.addCleanup(service.stopService)
        ports = yield service.listening
        self.url = b"http://127.0.0.1:%d" % (ports[0].getHost().port,)
        return service

    def startHandler(self, app: str, name: str) -> Any:
        options = handlertap.Options()
        options.parseOptions(
            ["--app", app, "--send", self.send, "--return", self.ret,
             "--name", name, "--threads", "2"]
        )
        service = handlertap.HandlerService(reactor, options)
        service.startService()
        self.addCleanup(service.stopService)
        return service

    @inlineCallbacks
    def test_wsgiOverZeroMQ(self) -> Any:
        """
        A POST goes from HTTP through ZeroMQ to the WSGI application and
        back: status, repeated headers and a streamed binary body arrive
        intact, and the front's tables are empty afterwards.
        """
        front = yield self.startFront()
        self.startHandler("txmp.test.test_integration:echoApp", "h1")
        payload = bytes(range(256)) * 1000
        response = yield Agent(reactor).request(
            b"POST", self.url + b"/some%20path", Headers({}),
            FileBodyProducer(__import__("io").BytesIO(payload)),
        )
        body = yield readBody(response)
        self.assertEqual(response.code, 201)
        self.assertEqual(response.headers.getRawHeaders(b"set-cookie"), [b"a=1", b"b=2"])
        self.assertEqual(body, b"POST /some path " + payload)
        counts = front.dispatcher.counts()
        self.assertEqual((counts["pending"], counts["queued"], counts["inFlight"]), (0, 0, 0))

    @inlineCallbacks
    def test_handlerBeforeFront(self) -> Any:
        """
        A handler started before its front registers once the front binds,
        and serves.
        """
        self.startHandler("txmp.demo:app", "early")
        yield self.startFront()
        response = yield Agent(reactor).request(b"GET", self.url + b"/")
        body = yield readBody(response)
        self.assertEqual(response.code, 200)
        self.assertTrue(body.startswith(b"Hello from txmp handler"))

    @inlineCallbacks
    def test_noHandler503(self) -> Any:
        """
        With no handler, a request waits --queue-timeout, then gets 503 with
        Retry-After, and leaves nothing behind.
        """
        front = yield self.startFront("--queue-timeout", "0.2")
        response = yield Agent(reactor).request(b"GET", self.url + b"/")
        yield readBody(response)
        self.assertEqual(response.code, 503)
        self.assertEqual(response.headers.getRawHeaders(b"retry-after"), [b"1"])
        self.assertEqual(front.dispatcher.counts()["pending"], 0)

    @inlineCallbacks
    def test_rawHandlerFromSpec(self) -> Any:
        """
        A handler written from docs/protocol.md with raw pyzmq and no txmp
        import serves requests behind the front.
        """
        yield self.startFront()
        script = FilePath(__file__).sibling("rawhandler.py").path
        lines = _Lines(b"raw handler ready")
        process = reactor.spawnProcess(
            lines, sys.executable, [sys.executable, script, self.send, self.ret],
            env=dict(os.environ),
        )

        def stop() -> Deferred[None]:
            if process.pid is not None:
                process.signalProcess("KILL")
            return lines.ended

        self.addCleanup(stop)
        # The request waits in the front's queue until the handler registers.
        response = yield Agent(reactor).request(
            b"POST", self.url + b"/raw?x=1", Headers({b"X-A": [b"1"]}),
            FileBodyProducer(__import__("io").BytesIO(b"12345")),
        )
        body = yield readBody(response)
        self.assertEqual(response.code, 200, lines.output)
        self.assertEqual(response.headers.getRawHeaders(b"x-handler"), [b"raw"])
        self.assertTrue(body.startswith(b"POST /raw?x=1 headers="), body)
        self.assertTrue(body.endswith(b" body=5\n"), body)


class ZmqAdapterTests(TestCase):
    """
    L{ZmqContext} and its sockets.
    """

    def ipcAddress(self) -> str:
        """
        A short ipc address in a directory removed after the test.
        """
        base = FilePath(tempfile.mkdtemp(prefix="txmp-"))
        self.addCleanup(base.remove)
        return "ipc://" + base.child("s").path

    def test_routingIds(self) -> None:
        """
        Handler routing ids are unique, printable, and never start with the
        zero byte that libzmq reserves.
        """
        ids = {newRoutingId() for _ in range(1000)}
        self.assertEqual(len(ids), 1000)
        for routingId in ids:
            self.assertNotEqual(routingId[:1], b"\0")
            self.assertTrue(routingId.isalnum())

    def test_unlimitedHighWaterMarkRefused(self) -> None:
        """
        A high-water mark of 0, which ZeroMQ takes as unlimited memory, is
        refused.
        """
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        self.assertRaises(ValueError, context.socket, "dealer", lambda f: None, 0)

    def test_routerToUnknownPeer(self) -> None:
        """
        A ROUTER send to a peer that is not connected raises
        L{PeerUnreachable} instead of dropping the message silently.
        """
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        router = context.socket("router", lambda f: None, 10)
        router.bind(self.ipcAddress())
        self.assertRaises(PeerUnreachable, router.send, [b"nobody", b"x"])

    @inlineCallbacks
    def test_dealerToRouter(self) -> Any:
        """
        A DEALER's message arrives at the ROUTER with the DEALER's routing
        id first, and the ROUTER's answer arrives back at the DEALER.
        """
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        address = self.ipcAddress()
        atRouter: Deferred[list[bytes]] = Deferred()
        atDealer: Deferred[list[bytes]] = Deferred()
        router = context.socket("router", atRouter.callback, 10)
        router.bind(address)
        dealer = context.socket("dealer", atDealer.callback, 10, b"dealer-1")
        dealer.connect(address)
        dealer.send([b"hello", b"world"])
        frames = yield atRouter
        self.assertEqual(frames, [b"dealer-1", b"hello", b"world"])
        router.send([b"dealer-1", b"back"])
        frames = yield atDealer
        self.assertEqual(frames, [b"back"])

    @inlineCallbacks
    def test_largeFramesWithoutCopy(self) -> Any:
        """
        A socket made with C{largeFrame} gets frames of at least that many
        bytes as read-only memoryviews of ZeroMQ's buffers, and shorter ones
        as L{bytes}, with the same contents as were sent.
        """
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        address = self.ipcAddress()
        atRouter: Deferred[list[Any]] = Deferred()
        router = context.socket(
            "router", lambda frames: atRouter.callback(list(frames)), 10, largeFrame=100
        )
        router.bind(address)
        dealer = context.socket("dealer", lambda f: None, 10, b"dealer-1")
        dealer.connect(address)
        large = bytes(range(100))
        dealer.send([b"x" * 99, large])
        frames = yield atRouter
        self.assertEqual(
            [type(frame) for frame in frames], [bytes, bytes, memoryview]
        )
        self.assertTrue(frames[2].readonly)
        self.assertEqual(frames, [b"dealer-1", b"x" * 99, large])

    @inlineCallbacks
    def test_backlogSentOnceConnected(self) -> Any:
        """
        Messages that a DEALER cannot queue in ZeroMQ (its high-water mark
        reached while no peer is there) wait in its backlog, and all arrive,
        in order, once a ROUTER binds the address.
        """
        context = ZmqContext(reactor)
        self.addCleanup(context.shutdown)
        address = self.ipcAddress()
        dealer = context.socket("dealer", lambda f: None, 1, b"dealer-1")
        dealer.connect(address)
        for n in range(5):
            dealer.send([b"%d" % (n,)])
        self.assertGreater(dealer.backlog, 0)
        received: list[bytes] = []
        allThere: Deferred[None] = Deferred()

        def atRouter(frames: list[bytes]) -> None:
            received.append(frames[1])
            if len(received) == 5:
                allThere.callback(None)

        router = context.socket("router", atRouter, 10)
        router.bind(address)
        yield allThere
        self.assertEqual(received, [b"0", b"1", b"2", b"3", b"4"])
        self.assertEqual(dealer.backlog, 0)
