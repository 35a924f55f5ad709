# -*- test-case-name: txmp.test.test_tap -*-
"""
C{twistd mphandler}: options and the service tree of a handler.
"""

from __future__ import annotations

import importlib
import os
import socket
from typing import Any, Callable, List, Optional

from twisted.application.service import MultiService, Service
from twisted.logger import Logger
from twisted.python import usage

from txmp._options import TxmpOptions, positive
from txmp.fronttap import DEFAULT_RETURN, DEFAULT_SEND

# Replies are bounded by the front's credits; the mark bounds memory if a
# front stops reading.
HIGH_WATER_MARK = 10000

# See docs/deployment.md, "Threads": measured with benchmarks/threads.py.
DEFAULT_THREADS = 1


def loadApplication(spec: str) -> Callable[..., Any]:
    """
    Load a WSGI application named C{module:attribute} or
    C{module:factory()}.

    @raise usage.UsageError: if it cannot be imported or is not callable.
    """
    moduleName, sep, attribute = spec.partition(":")
    if not sep or not moduleName or not attribute:
        raise usage.UsageError(
            f"--app must look like module:app or module:make_app(), not {spec!r}"
        )
    call = attribute.endswith("()")
    if call:
        attribute = attribute[:-2]
    try:
        module = importlib.import_module(moduleName)
    except Exception as e:
        raise usage.UsageError(
            f"--app {spec}: cannot import {moduleName}: {type(e).__name__}: {e}"
        ) from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise usage.UsageError(
                f"--app {spec}: {moduleName} has no attribute {attribute}"
            ) from None
    if call:
        if not callable(target):
            raise usage.UsageError(f"--app {spec}: {attribute} is not callable")
        try:
            target = target()
        except Exception as e:
            raise usage.UsageError(
                f"--app {spec}: {attribute}() failed: {type(e).__name__}: {e}"
            ) from None
    if not callable(target):
        raise usage.UsageError(f"--app {spec}: not a callable WSGI application")
    return target


class Options(TxmpOptions):
    """
    Options of C{twistd mphandler}.
    """

    synopsis = "[mphandler options]"
    longdesc = (
        "Run a WSGI application in a thread pool, serving the requests of "
        "an mpfront over ZeroMQ."
    )
    optParameters = [
        ["app", None, None, "The WSGI application: module:app or module:make_app()."],
        ["send", None, DEFAULT_SEND, "The front's --send address to connect to."],
        ["return", None, DEFAULT_RETURN, "The front's --return address to connect to."],
        ["threads", None, DEFAULT_THREADS,
         "Size of the WSGI thread pool: requests run at once.",
         positive(int, "--threads")],
        ["name", None, None, "Name in logs and at the front (default host:pid)."],
        ["heartbeat", None, 1.0, "Seconds between heartbeats.",
         positive(float, "--heartbeat")],
    ]

    def postOptions(self) -> None:
        if not self["app"]:
            raise usage.UsageError("--app is required")
        self["application"] = loadApplication(self["app"])
        if not self["name"]:
            self["name"] = "%s:%d" % (socket.gethostname(), os.getpid())


class HandlerService(Service):
    """
    Owns a handler's thread pool, its ZeroMQ sockets and its link to the
    front.
    """

    _log = Logger()

    def __init__(self, reactor: Any, options: Options) -> None:
        self._reactor = reactor
        self._options = options
        self.link: Any = None
        self._context: Any = None
        self._pool: Any = None

    def startService(self) -> None:
        from twisted.python.threadpool import ThreadPool

        from txmp._handler import FrontLink
        from txmp._wsgi import WSGIRunner
        from txmp._zmq import ZmqContext, newRoutingId

        Service.startService(self)
        options = self._options
        threads = options["threads"]
        self._pool = ThreadPool(minthreads=threads, maxthreads=threads, name="wsgi")
        runner = WSGIRunner(self._reactor, self._pool, options["application"])
        self._context = ZmqContext(self._reactor)
        routingId = newRoutingId()
        holder: List[Any] = []
        sendSocket = self._context.socket(
            "dealer", lambda frames: holder[0].controlReceived(frames),
            HIGH_WATER_MARK, routingId,
        )
        returnSocket = self._context.socket(
            "dealer", lambda frames: None, HIGH_WATER_MARK, routingId
        )
        self.link = FrontLink(
            self._reactor, runner, sendSocket, returnSocket, options["name"],
            capacity=threads, heartbeat=options["heartbeat"],
            address=options["send"],
        )
        holder.append(self.link)
        sendSocket.connect(options["send"])
        returnSocket.connect(options["return"])
        self.link.start()
        # Last: threads left running by a failure above would keep the
        # process from exiting.
        self._pool.start()
        self._log.info(
            "mphandler {name} started: app {app}, {threads} threads, "
            "front {send} {ret}",
            name=options["name"], app=options["app"], threads=threads,
            send=options["send"], ret=options["return"],
        )

    def stopService(self) -> Any:
        Service.stopService(self)
        if self.link is not None:
            self.link.stop()
        if self._pool is not None:
            self._pool.stop()
        if self._context is not None:
            self._context.shutdown()
            self._context = None


def makeService(options: Options, reactor: Optional[Any] = None) -> MultiService:
    """
    The service tree of C{twistd mphandler}.
    """
    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = globalReactor
    top = MultiService()
    HandlerService(reactor, options).setServiceParent(top)
    return top
