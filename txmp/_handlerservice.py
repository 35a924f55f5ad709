# -*- test-case-name: txmp.test.test_tap,txmp.test.test_handler -*-
"""
The service tree of C{twistd mphandler} (L{HandlerTree}, which names the
handler): the handler's thread pool, sockets and links to its fronts
(L{HandlerService}), and the watch on the front that spawned it
(L{ParentWatch}).

Imported by L{txmp.handlertap.makeService} only, once the options are
parsed: this is what loads ZeroMQ and the WSGI runner, which
C{twistd mphandler --help} and a usage error do without.
"""

from __future__ import annotations

import ctypes
import os
import random
import re
import signal
import socket
import threading
from typing import TYPE_CHECKING, Callable

from attrs import define, field
from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from txmp._defaults import HIGH_WATER_MARK, PARENT_CHECK_INTERVAL
from txmp._exit import leaveTwistd
from txmp._handler import FrontLink
from txmp._interfaces import IHandlerReactor
from txmp._logs import reopenLogFiles
from txmp._pool import WorkerPool
from txmp._profile import Profiler
from txmp._signals import SignalActions, explanation
from txmp._wsgi import WSGIRunner
from txmp._zmq import AddressError, ZmqContext, newRoutingId

if TYPE_CHECKING:
    from txmp.handlertap import Options


def defaultName() -> str:
    """
    The name of a handler given no C{--name}: C{HOST:PID}, with this
    process's PID.
    """
    return "%s:%d" % (socket.gethostname(), os.getpid())


def splitCapacity(threads: int, fronts: int) -> list[int]:
    """
    The credits each front gets: the threads shared out evenly, at least one
    each, so that a busy front cannot take every thread from another.
    """
    share, extra = divmod(threads, fronts)
    return [max(1, share + (1 if n < extra else 0)) for n in range(fronts)]


def _daemonThread(*, target: Callable[[], object], name: str) -> threading.Thread:
    # An application stuck past --graceful-timeout must not keep the
    # process alive.
    return threading.Thread(target=target, name=name, daemon=True)


def newPool(threads: int) -> WorkerPool:
    """
    The handler's WSGI thread pool: C{threads} daemon threads, named
    C{PoolThread-wsgi-N}, not started.
    """
    return WorkerPool(threads, "wsgi", _daemonThread)


class HandlerService(Service):
    """
    Owns a handler's thread pool, its ZeroMQ sockets and its links to the
    fronts.

    Stopping (SIGTERM) drains: every front is told to send nothing more,
    running requests get up to --graceful-timeout to finish, then the
    process exits.
    """

    _log = Logger()

    def __init__(self, reactor: IHandlerReactor, options: Options) -> None:
        self._reactor = reactor
        self._options = options
        self.links: list[FrontLink] = []
        self._context: ZmqContext | None = None
        self._pool: WorkerPool | None = None
        self._served = 0
        self._limit = 0
        # Failed CURVE handshakes in a row, by front address.
        self._handshakeFailures: dict[str, int] = {}
        # Profiles this handler (--profile, profileFor).
        self.profiler = Profiler()
        self._profileCall: IDelayedCall | None = None
        self._profilePath = ""

    def startService(self) -> None:
        Service.startService(self)
        options = self._options
        threads = options["threads"]
        self._pool = pool = newPool(threads)
        runner = WSGIRunner(self._reactor, pool, options["application"])
        runner.profiler = self.profiler
        if options["profile"]:
            self.profiler.start()
            self._log.info(
                "mphandler {name}: profiling until stopped, to {path}",
                name=options["name"], path=options["profile"],
            )
        if options["max-requests"]:
            self._limit = options["max-requests"] + random.randint(
                0, options["max-requests-jitter"]
            )
        self._context = context = ZmqContext(self._reactor)
        capacities = splitCapacity(threads, len(options["fronts"]))
        for (send, ret), capacity in zip(options["fronts"], capacities):
            routingId = newRoutingId()
            holder: list[FrontLink] = []

            def received(frames: list[bytes], h: list[FrontLink] = holder) -> None:
                h[0].controlReceived(frames)

            sendSocket = context.socket("dealer", received, HIGH_WATER_MARK, routingId)
            returnSocket = context.socket(
                "dealer", lambda frames: None, HIGH_WATER_MARK, routingId
            )
            # The application threads send their replies on it themselves.
            returnSocket.shareWithThreads(self._reactor)
            link = FrontLink(
                self._reactor, runner, sendSocket, returnSocket, options["name"],
                capacity=capacity, heartbeat=options["heartbeat"], address=send,
                returnAddress=ret,
            )
            link.requestObservers.append(self._requestStarted)
            holder.append(link)
            self.links.append(link)
            curve = options.get("curve")
            if curve is not None:
                for sock in (sendSocket, returnSocket):
                    sock.curveClient(*curve)
                    sock.monitorHandshakes(context, self._handshake)
            for option, sock, address in [("--send", sendSocket, send),
                                          ("--return", returnSocket, ret)]:
                try:
                    sock.connect(address)
                except AddressError as e:
                    context.shutdown()
                    line = f"mphandler: {option}: {e}"
                    leaveTwistd(options, line)
                    raise SystemExit(line) from None
        # After the sockets: threads left running by a failure above would
        # keep the process from exiting.
        pool.start()
        # HELLO once the reactor runs, when every service has started: a
        # front that has our HELLO says we joined, and whoever reads that
        # may signal us (SIGUSR2 to profile) at once, so the signal
        # handlers (SignalActions, started after this service) must be
        # there already.
        self._reactor.callWhenRunning(self._startLinks)
        # Said once the reactor runs, when its SIGTERM and SIGINT handlers
        # are in place: whoever reads it may stop the handler at once, and
        # before, SIGTERM's default action would kill it undrained.
        self._reactor.callWhenRunning(
            self._log.info,
            "mphandler {name} started: app {app}, {threads} threads, "
            "fronts {fronts}",
            name=options["name"], app=options["app"], threads=threads,
            fronts=" ".join("%s,%s" % pair for pair in options["fronts"]),
        )

    def _startLinks(self) -> None:
        """
        Register with the fronts, unless stopping already.
        """
        if self.running:
            for link in self.links:
                link.start()

    def _handshake(self, event: str, value: int, address: str) -> None:
        """
        A security handshake with a front failed or succeeded, or a
        connection was lost (from a socket monitor, in the reactor thread).
        A failure is logged when a run of them begins, since ZeroMQ retries
        several times a second; the success that ends it too.
        """
        failures = self._handshakeFailures.get(address, 0)
        if event.startswith("HANDSHAKE_FAILED"):
            self._handshakeFailures[address] = failures + 1
            if failures == 0:
                if event == "HANDSHAKE_FAILED_AUTH":
                    # libzmq does not reconnect after a peer's ERROR (ZMTP
                    # 3.1), which is how a ZAP denial reaches the handler.
                    why = (
                        "the front refused this handler's key (ZAP status %d); "
                        "ZeroMQ does not try a front again after it refuses a key: "
                        "allow the key there, then restart this handler" % (value,)
                    )
                elif event == "HANDSHAKE_FAILED_PROTOCOL":
                    why = "protocol error %d; retrying" % (value,)
                else:
                    why = (
                        "the front closed the connection: wrong "
                        "--curve-server-key, or the front does not use CURVE; retrying"
                    )
                self._log.error(
                    "mphandler {name}: CURVE handshake with {address} failed: {why}",
                    name=self._options["name"], address=address, why=why,
                )
        elif event == "HANDSHAKE_SUCCEEDED":
            if failures:
                self._log.info(
                    "mphandler {name}: CURVE handshake with {address} succeeded "
                    "after {count} failures",
                    name=self._options["name"], address=address, count=failures,
                )
            self._handshakeFailures.pop(address, None)

    def _requestStarted(self) -> None:
        self._served += 1
        # Not while draining: a request the front sent before it saw our
        # BYE still runs, and the reactor, stopping, would refuse to stop
        # again, failing the request before it starts.
        if self._limit and self._served == self._limit and self.running:
            self._log.info(
                "mphandler {name} served {count} requests: recycling",
                name=self._options["name"], count=self._served,
            )
            try:
                self._reactor.stop()
            except ReactorNotRunning:
                pass  # Stopping (a signal, its front gone), the services not told yet.

    def reopenLogs(self) -> None:
        """
        Reopen the log file (SIGUSR1), after logrotate moved it.
        """
        try:
            reopenLogFiles()
        except OSError as e:
            self._log.error("mphandler: cannot reopen its log file: {why}", why=e.strerror)

    def profileFor(self, seconds: float | None = None) -> None:
        """
        Profile this handler for C{seconds} (by default C{--profile-seconds})
        while it goes on serving, then write the profile to
        C{mphandler-NAME-TIME.pstats} in the working directory (SIGUSR2).
        Called in the reactor thread.
        """
        if self.profiler.active:
            self._log.warn(
                "mphandler {name}: already profiling", name=self._options["name"]
            )
            return
        if seconds is None:
            seconds = self._options["profile-seconds"]
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self._options["name"])
        self._profilePath = os.path.abspath(
            "mphandler-%s-%d.pstats" % (name, self._reactor.seconds())
        )
        self.profiler.start()
        self._log.info(
            "mphandler {name}: profiling for {seconds} s, to {path}",
            name=self._options["name"], seconds=seconds, path=self._profilePath,
        )
        self._profileCall = self._reactor.callLater(
            seconds, self._writeProfile, self._profilePath
        )

    def _writeProfile(self, path: str) -> None:
        self._profileCall = None
        try:
            count = self.profiler.stop(path)
        except OSError as e:
            self._log.error(
                "mphandler {name}: cannot write the profile {path}: {why}",
                name=self._options["name"], path=path, why=e.strerror,
            )
            return
        self._log.info(
            "mphandler {name}: profile of {count} requests written to {path}",
            name=self._options["name"], count=count, path=path,
        )

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        drained = gatherResults(
            [link.drain() for link in self.links], consumeErrors=True
        )
        timeout = self._options["graceful-timeout"]
        drained.addTimeout(timeout, self._reactor)

        def stuck(failure: Failure) -> bool:
            failure.trap(defer.TimeoutError, defer.FirstError)
            running = [
                requestId.decode("ascii", "replace")
                for link in self.links
                for requestId in link.running
            ]
            self._log.warn(
                "mphandler {name}: --graceful-timeout {timeout}s passed with "
                "requests still running: {requests}; exiting anyway",
                name=self._options["name"], timeout=timeout,
                requests=" ".join(running) or "(none; no front acknowledged)",
            )
            return False

        def close(finished: bool) -> None:
            if self._profileCall is not None and self._profileCall.active():
                self._profileCall.cancel()
                self._writeProfile(self._profilePath)
            elif self._options.get("profile") and self.profiler.active:
                self._writeProfile(self._options["profile"])
            for link in self.links:
                link.stop()
            # Threads still in the application are daemons: don't join them.
            if self._pool is not None and finished:
                self._pool.stop()
            if self._context is not None:
                self._context.shutdown()
                self._context = None
            self._log.info(
                "mphandler {name} stopped after {count} requests",
                name=self._options["name"], count=self._served,
            )

        return drained.addCallbacks(lambda _: True, stuck).addCallback(close)


# prctl(2): ask for a signal when the parent exits.
PR_SET_PDEATHSIG = 1


def dieWithParent() -> bool:
    """
    Ask Linux to send this process C{SIGHUP} when its parent exits, however
    it exits (C{SIGKILL} included); L{serviceTree} makes C{SIGHUP} call
    L{ParentWatch.parentGone}.

    C{SIGHUP} rather than C{SIGTERM}: a front that stops in good order has
    sent C{SIGTERM} already, and exits after that; the handler should not
    take its exit for a second request to stop.

    @return: whether the kernel took the request (only Linux does).
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(PR_SET_PDEATHSIG, int(signal.SIGHUP), 0, 0, 0) == 0)


@define(slots=False, eq=False, repr=False)
class ParentWatch(Service):
    """
    Stops a handler whose parent, the front that spawned it, is gone: such
    a handler would otherwise try to reach a dead front for ever.  The
    kernel says so at once where it can (L{dieWithParent}); otherwise, and
    for a parent gone before that was set up, the parent's PID is checked
    every C{interval} seconds.

    @param parentPid: the PID of the parent this handler must die with.
    @param name: returns the handler's name (known once it has started).
    @param getppid: L{os.getppid}, or a fake.
    @param dieWithParent: L{dieWithParent}, or a fake.
    @ivar gone: whether the parent is known to be gone.
    """

    _log = Logger()

    _reactor: IHandlerReactor
    _parentPid: int
    _name: Callable[[], str]
    _interval: float = PARENT_CHECK_INTERVAL
    _getppid: Callable[[], int] = os.getppid
    _dieWithParent: Callable[[], bool] = dieWithParent
    _loop: LoopingCall | None = field(init=False, default=None)
    gone: bool = field(init=False, default=False)

    def startService(self) -> None:
        Service.startService(self)
        self._dieWithParent()
        # After asking for the signal: a parent gone before would never
        # send it.
        self._check()
        if not self.gone:
            self._loop = loop = LoopingCall(self._check)
            loop.clock = self._reactor
            loop.start(self._interval, now=False)

    def _check(self) -> None:
        if self._getppid() != self._parentPid:
            self.parentGone()

    def parentGone(self) -> None:
        """
        The parent has exited: stop, as for C{SIGTERM} (drain, then exit),
        unless stopping already.  Must be called in the reactor thread.
        """
        if self.gone or not self.running:
            return
        self.gone = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._log.warn(
            "mphandler {name}: its front (parent process {pid}) is gone: stopping",
            name=self._name(), pid=self._parentPid,
        )
        try:
            self._reactor.stop()
        except ReactorNotRunning:
            # Stopping, and the services not told yet; or not running yet
            # (the front died while the application was imported, and
            # twistd starts the services before it runs the reactor):
            # then stop it as soon as it runs, or it would run for ever.
            self._reactor.callWhenRunning(self._stopWhenRunning)

    def _stopWhenRunning(self) -> None:
        try:
            self._reactor.stop()
        except ReactorNotRunning:
            pass  # Stopping already.

    def stopService(self) -> None:
        Service.stopService(self)
        if self._loop is not None and self._loop.running:
            self._loop.stop()


_nothingToReload = explanation(
    "txmp.handlertap",
    "SIGHUP: a handler has nothing to reload; to run new code, start a new "
    "mphandler and stop this one with SIGTERM, which drains it "
    "(docs/deployment.md)"
)


_noWorkersToAdd = explanation(
    "txmp.handlertap",
    "SIGTTIN: ignored; a handler has no workers to add: send it to a "
    "--spawn front, or start another mphandler"
)


_noWorkersToRemove = explanation(
    "txmp.handlertap",
    "SIGTTOU: ignored; a handler has no workers to remove: send it to a "
    "--spawn front, or SIGTERM to an mphandler, which drains it"
)


class HandlerTree(MultiService):
    """
    The services of C{twistd mphandler}.  Made while twistd parses the
    options and makes the application, and started once it has forked if
    it runs as a daemon: so a handler given no C{--name} is named when this
    starts (L{defaultName}), after the process that serves, whose PID is in
    twistd's pidfile, not after the one that parsed the options and is gone.

    @ivar options: the handler's options, whose C{name} the services read
        once started.
    """

    def __init__(self, options: Options, reactor: IHandlerReactor) -> None:
        MultiService.__init__(self)
        self.options = options
        self._reactor = reactor

    def startService(self) -> None:
        options = self.options
        if not options["name"]:
            options["name"] = defaultName()
        exiting = options.get("exiting")
        if exiting is not None:
            exiting.watch(self._reactor, options["name"])
        MultiService.startService(self)


def serviceTree(options: Options, reactor: IHandlerReactor) -> MultiService:
    """
    The service tree of C{twistd mphandler}, for
    L{txmp.handlertap.makeService}.

    C{SIGTTIN} and C{SIGTTOU}, which a handler has no use for, are logged:
    their default action would freeze it, and its front declare it dead.
    """
    top = HandlerTree(options, reactor)
    handler = HandlerService(reactor, options)
    handler.setServiceParent(top)
    actions: dict[int, Callable[[], None]] = {
        signal.SIGUSR1: handler.reopenLogs,
        signal.SIGUSR2: handler.profileFor,
        # Not SIGHUP's default, which kills with requests running.
        signal.SIGHUP: _nothingToReload,
        signal.SIGTTIN: _noWorkersToAdd,
        signal.SIGTTOU: _noWorkersToRemove,
    }
    watch = None
    if options["parent-pid"]:
        watch = ParentWatch(
            reactor, options["parent-pid"], lambda: options["name"], options["heartbeat"]
        )
        # What Linux sends when the front exits (see dieWithParent).
        actions[signal.SIGHUP] = watch.parentGone
    # Ctrl-C reaches a spawned handler, then its front's SIGTERM: stop once.
    SignalActions(
        reactor, actions, once=[signal.SIGINT, signal.SIGTERM],
        # Its default action would kill the handler with requests running.
        aliases={signal.SIGQUIT: signal.SIGTERM},
    ).setServiceParent(top)
    if watch is not None:
        # After the signal actions: the parent-death signal it asks for must
        # find our handler, not SIGHUP's default (which kills undrained).
        watch.setServiceParent(top)
    return top
