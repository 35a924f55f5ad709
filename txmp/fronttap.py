# -*- test-case-name: txmp.test.test_tap -*-
"""
C{twistd mpfront}: options and the service tree of the front.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import Logger
from twisted.python import usage

from txmp._options import TxmpOptions, positive

DEFAULT_SEND = "tcp://127.0.0.1:5556"
DEFAULT_RETURN = "tcp://127.0.0.1:5555"

# Per-peer high-water marks, in messages.  Requests are bounded by credits
# long before this; the mark only bounds memory if something goes wrong.
HIGH_WATER_MARK = 10000


def connectableAddress(address: str) -> str:
    """
    The address a local handler connects to for a front bound to
    C{address}: wildcard TCP hosts become the loopback address.
    """
    for wildcard in ("tcp://*:", "tcp://0.0.0.0:"):
        if address.startswith(wildcard):
            return "tcp://127.0.0.1:" + address[len(wildcard):]
    return address


class Options(TxmpOptions):
    """
    Options of C{twistd mpfront}.
    """

    synopsis = "[mpfront options]"
    longdesc = (
        "Accept HTTP and pass every request over ZeroMQ to mphandler "
        "processes, which connect to the --send and --return addresses."
    )
    optParameters = [
        ["send", None, DEFAULT_SEND, "ZeroMQ address to bind for requests."],
        ["return", None, DEFAULT_RETURN, "ZeroMQ address to bind for replies."],
        ["timeout", None, 30.0, "Seconds to wait for a reply: then 504.",
         positive(float, "--timeout")],
        ["queue-timeout", None, 10.0,
         "Seconds a request may wait for a handler with capacity: then 503.",
         positive(float, "--queue-timeout")],
        ["max-queue", None, 1000, "How many requests may wait: more get 503.",
         positive(int, "--max-queue")],
        ["heartbeat", None, 1.0,
         "Seconds between heartbeats; a handler silent for 3 is dead.",
         positive(float, "--heartbeat")],
        ["access-log", None, None, "Write a combined-format access log here."],
        ["spawn", None, 0, "Start and supervise this many local mphandlers.", int],
        ["app", None, None, "WSGI application (mod:app) for --spawn handlers."],
        ["threads", None, None, "--threads of --spawn handlers.",
         positive(int, "--threads")],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        Listen for HTTP on this endpoint (a strports description such as
        tcp:8080 or ssl:8443:privateKey=key.pem); repeatable; default
        tcp:8080.
        """
        self["listen"].append(description)

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = ["tcp:8080"]
        if self["spawn"] < 0:
            raise usage.UsageError("--spawn must not be negative")
        if self["spawn"] and not self["app"]:
            raise usage.UsageError("--spawn needs --app")
        if self["app"] and not self["spawn"]:
            raise usage.UsageError("--app is only for --spawn")


class FrontService(Service):
    """
    Owns the front's ZeroMQ sockets, its dispatcher and its HTTP ports.

    @ivar dispatcher: the L{Dispatcher}, once started.
    @ivar listening: fires with the listening ports once they all listen.
    """

    _log = Logger()

    def __init__(self, reactor: Any, options: Options) -> None:
        self._reactor = reactor
        self._options = options
        self.dispatcher: Any = None
        self._ports: List[Any] = []
        self._context: Any = None
        self.listening: Deferred[List[Any]] = Deferred()

    def startService(self) -> None:
        from twisted.internet.endpoints import serverFromString

        from txmp._dispatch import Dispatcher
        from txmp._resource import makeSite
        from txmp._zmq import ZmqContext

        Service.startService(self)
        options = self._options
        self._context = ZmqContext(self._reactor)
        # The dispatcher and the sockets refer to each other: the sockets
        # deliver to the dispatcher, which sends on the send socket.
        holder: List[Any] = []
        sendSocket = self._context.socket(
            "router", lambda frames: holder[0].controlReceived(frames), HIGH_WATER_MARK
        )
        returnSocket = self._context.socket(
            "router", lambda frames: holder[0].replyReceived(frames), HIGH_WATER_MARK
        )
        self.dispatcher = Dispatcher(
            self._reactor,
            sendSocket,
            timeout=options["timeout"],
            queueTimeout=options["queue-timeout"],
            maxQueue=options["max-queue"],
            heartbeat=options["heartbeat"],
        )
        holder.append(self.dispatcher)
        sendSocket.bind(options["send"])
        returnSocket.bind(options["return"])
        self._sockets = [sendSocket, returnSocket]
        self.dispatcher.start()
        site = makeSite(self.dispatcher, self._reactor, options["access-log"])
        listening = [
            serverFromString(self._reactor, description).listen(site)
            for description in options["listen"]
        ]
        gatherResults(listening, consumeErrors=True).addCallbacks(
            self._listening, self._cannotListen
        )

    def _listening(self, ports: List[Any]) -> None:
        self._ports = ports
        self._log.info(
            "mpfront ready: front {instance}, http {listen}, send {send}, "
            "return {ret}",
            instance=self.dispatcher.instance,
            listen=" ".join(str(p.getHost()) for p in ports),
            send=self._options["send"],
            ret=self._options["return"],
        )
        self.listening.callback(ports)

    def _cannotListen(self, failure: Any) -> None:
        self._log.failure("mpfront cannot listen", failure)
        self.listening.errback(failure)
        self._reactor.stop()

    def stopService(self) -> Any:
        Service.stopService(self)
        if self.dispatcher is not None:
            self.dispatcher.stop()
        stopping = [port.stopListening() for port in self._ports]
        self._ports = []

        def closeSockets(result: Any) -> Any:
            if self._context is not None:
                self._context.shutdown()
                self._context = None
            return result

        return gatherResults([d for d in stopping if d is not None]).addBoth(
            closeSockets
        )


def handlerCommand(options: Options) -> List[str]:
    """
    The command line of a local handler for C{--spawn}.
    """
    args = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "--nodaemon",
        "--pidfile=",
        "mphandler",
        "--app",
        options["app"],
        "--send",
        connectableAddress(options["send"]),
        "--return",
        connectableAddress(options["return"]),
        "--heartbeat",
        repr(options["heartbeat"]),
    ]
    if options["threads"]:
        args.extend(["--threads", str(options["threads"])])
    return args


def makeService(options: Options, reactor: Optional[Any] = None) -> MultiService:
    """
    The service tree of C{twistd mpfront}.
    """
    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = globalReactor
    top = MultiService()
    FrontService(reactor, options).setServiceParent(top)
    if options["spawn"]:
        import os

        from twisted.runner.procmon import ProcessMonitor

        monitor = ProcessMonitor(reactor=reactor)
        for n in range(options["spawn"]):
            monitor.addProcess(
                "mphandler-%d" % (n + 1,), handlerCommand(options), env=dict(os.environ)
            )
        monitor.setServiceParent(top)
    return top
