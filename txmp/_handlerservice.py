# -*- test-case-name: txmp.test.test_tap,txmp.test.test_handler -*-
"""
The service tree of C{twistd mphandler} (L{HandlerTree}, which names the
handler): the handler's thread pool, sockets and links to its fronts
(L{HandlerService}, whose L{Redial}s try again a front that ended a
socket's handshake for good), and the watch on the front that spawned it
(L{ParentWatch}).

Imported by L{txmp.handlertap.makeService} only, once the options are
parsed: this is what loads ZeroMQ and the WSGI runner, which
C{twistd mphandler --help} and a usage error do without.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import re
import resource
import signal
import socket
import threading
from functools import partial
from typing import TYPE_CHECKING, Callable, Protocol, cast

from attrs import define, field
from twisted.application.internet import backoffPolicy
from twisted.application.service import MultiService, Service
from twisted.internet import defer
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from txmp._defaults import (
    CONNECT_TIMEOUT,
    CUT_CLOSE_TIMEOUT,
    DEAD_CONNECTION,
    DEAD_CONNECTION_HEARTBEATS,
    HIGH_WATER_MARK,
    KEEPALIVE_MIN,
    PARENT_CHECK_INTERVAL,
    REFUSED_RETRY,
    REFUSED_RETRY_MAX,
    STOP_LINGER,
)
from txmp._exit import failToStart, leaveTwistd
from txmp._handler import FrontLink
from txmp._interfaces import IHandlerReactor, cancelCall
from txmp._logs import giveStandardStreamsDescriptors, logReopenFailure, reopenLogFiles
from txmp._peerlog import idText
from txmp._pool import WorkerPool, shareOut
from txmp._profile import Profiler
from txmp._signals import SignalActions, explanation
from txmp._wsgi import Mounted, WSGIRunner
from txmp._zmq import MECHANISM_MISMATCH, AddressError, OutOfFiles, ZmqContext, newRoutingId

if TYPE_CHECKING:
    from txmp.handlertap import HandlerSettings


def defaultName() -> str:
    """
    The name of a handler given no C{--name}: C{HOST:PID}, with this
    process's PID.
    """
    return "%s:%d" % (socket.gethostname(), os.getpid())


def splitCapacity(threads: int, fronts: int) -> list[int]:
    """
    The credits each front gets for threads: the threads shared out evenly
    (L{shareOut}, as L{WorkerPool.divide} sets them apart for the fronts),
    at least one each, so that a busy front cannot take every thread from
    another.  (L{shareOut} shares C{--prefetch} out too.)
    """
    return [max(1, share) for share in shareOut(threads, fronts)]


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


def _returnHandshake(link: FrontLink, event: str, value: int, address: str) -> None:
    """
    Tell C{link} whether its return socket is connected, from an event of
    that socket's monitor (L{txmp._zmq.ZmqSocket.monitorHandshakes}): a
    handshake that succeeded, or a connection lost.  In the reactor
    thread.
    """
    if event == "HANDSHAKE_SUCCEEDED":
        link.returnConnected(True)
    elif event == "DISCONNECTED":
        link.returnConnected(False)


class Connecting(Protocol):
    """
    What L{Redial} connects: a L{txmp._zmq.ZmqSocket}, or a fake of one.
    """

    def connect(self, address: str) -> None: ...

    def disconnect(self, address: str) -> None: ...


# The handshake failures after which libzmq does not connect again: the
# front's ZAP handler refused the key (its denial reaches the handler as a
# ZMTP ERROR), or a protocol error, such as a front without CURVE.
_FINAL_FAILURES = frozenset({"HANDSHAKE_FAILED_AUTH", "HANDSHAKE_FAILED_PROTOCOL"})


def refusedPolicy() -> Callable[[int], float]:
    """
    The delay before a handler tries a front again after its N-th refusal
    in a row (from 0): L{REFUSED_RETRY} seconds, doubled each time, up to
    L{REFUSED_RETRY_MAX}.
    """
    return backoffPolicy(REFUSED_RETRY, REFUSED_RETRY_MAX, factor=2, jitter=lambda: 0.0)


def keepAliveTimes(heartbeat: float) -> tuple[float, float, float]:
    """
    What a handler of C{--heartbeat} C{heartbeat} gives its sockets'
    L{keepAlive <txmp._zmq.ZmqSocket.keepAlive>}: ZMTP heartbeats at its
    own, but no more often than every L{KEEPALIVE_MIN} seconds and at
    least three a dead connection's time; that time
    L{DEAD_CONNECTION}, or longer than a front of the same heartbeat
    takes to declare a silent handler dead; L{CONNECT_TIMEOUT}.
    """
    dead = max(DEAD_CONNECTION, DEAD_CONNECTION_HEARTBEATS * heartbeat)
    return max(KEEPALIVE_MIN, min(heartbeat, dead / 3)), dead, CONNECT_TIMEOUT


@define(slots=False, eq=False, repr=False)
class Redial:
    """
    The record of a handler's socket's handshakes with a front: how many
    failed in a row (L{failures}), and the connecting again when the front
    ended one in a way after which libzmq never tries again (see
    L{txmp._zmq.ZmqSocket.monitorHandshakes}): a refused key, a protocol
    error such as a front that does not use CURVE (or does, for a handler
    without it).  It waits first, longer
    at each refusal in a row (C{policy}), and the shortest wait again once
    a handshake succeeds.  Every method is called in the reactor thread.

    @param socket: the socket connected to C{address}.
    @param address: the front's address, as given to C{socket.connect}.
    @param policy: the wait, in seconds, after the Nth refusal in a row,
        counted from 0.
    @ivar failures: the handshakes that failed in a row, since the start
        or the last that succeeded, whether refused or not.
    """

    _log = Logger()

    _reactor: IReactorTime
    _socket: Connecting
    address: str
    _policy: Callable[[int], float] = field(factory=refusedPolicy)
    failures: int = field(init=False, default=0)
    # Refusals in a row, since the start or the last handshake that
    # succeeded.
    _refusals: int = field(init=False, default=0)
    _call: IDelayedCall | None = field(init=False, default=None)
    _stopped: bool = field(init=False, default=False)
    # Whether the last handshake succeeded and its connection was not lost
    # since (L{lost}).
    _connected: bool = field(init=False, default=False)

    def failed(self) -> None:
        """
        A handshake with the front failed (and, if the front ended it for
        good, L{refused} follows).
        """
        self.failures += 1

    def refused(self) -> float | None:
        """
        The front ended a handshake for good: connect again after a while.

        @return: in how many seconds; L{None} once stopped, when it will
            not.
        """
        if self._stopped:
            return None
        if self._call is not None and self._call.active():
            # (libzmq ends a connection once: not expected.)
            return self._call.getTime() - self._reactor.seconds()
        delay = self._policy(self._refusals)
        self._refusals += 1
        self._call = self._reactor.callLater(delay, self._connectAgain)
        return delay

    def succeeded(self) -> int:
        """
        A handshake with the front succeeded: the next refusal waits the
        shortest time again.

        @return: how many failed in a row before it.
        """
        failures, self.failures, self._refusals = self.failures, 0, 0
        self._connected = True
        return failures

    def lost(self) -> bool:
        """
        The socket's connection to the front was lost (C{DISCONNECTED},
        which also follows every failed handshake).

        @return: whether its handshake had succeeded: libzmq sends nothing
            on a connection before, so that only then may messages have
            been lost with it.
        """
        connected, self._connected = self._connected, False
        return connected

    def stop(self) -> None:
        """
        Connect no more (the handler stops).
        """
        self._stopped = True
        cancelCall(self._call)
        self._call = None

    def _connectAgain(self) -> None:
        self._call = None
        try:
            self._socket.disconnect(self.address)
            self._socket.connect(self.address)
        except AddressError as e:
            # Not expected (it was connected to this address): said, and
            # tried again, rather than left to end the retries.
            delay = self.refused()
            self._log.error(
                "mphandler: connecting to {address} again failed: {error}{retry}",
                address=self.address, error=str(e),
                retry="" if delay is None else "; trying again in %g s" % (delay,),
            )


class HandlerService(Service):
    """
    Owns a handler's thread pool, its ZeroMQ sockets and its links to the
    fronts.

    Stopping (SIGTERM) drains: every front is told to send nothing more,
    running requests get up to --graceful-timeout to finish, then the
    process exits.  A handler whose front is gone (L{frontIsGone}) stops
    at once instead: running requests are cut, and nothing waits for a
    front that cannot answer.

    @ivar links: its links, one for each front.
    @ivar redials: the record of each socket's handshakes (two
        for each front, its send socket's first).
    @ivar frontGone: whether its front is known to be gone (L{frontIsGone}).
    """

    _log = Logger()

    def __init__(self, reactor: IHandlerReactor, options: HandlerSettings) -> None:
        self._reactor = reactor
        self._options = options
        self.links: list[FrontLink] = []
        self._context: ZmqContext | None = None
        self._pool: WorkerPool | None = None
        self._served = 0
        self._limit = 0
        self.redials: list[Redial] = []
        # Profiles this handler (--profile, profileFor).
        self.profiler = Profiler()
        self._profileCall: IDelayedCall | None = None
        self._profilePath = ""
        self.frontGone = False
        # While stopping: the wait for the drain, or its --graceful-timeout
        # (see stopService), until either ends.
        self._grace: Deferred[list[None]] | None = None

    def frontIsGone(self) -> None:
        """
        The front that spawned this handler, its only front, is gone
        (L{ParentWatch}; L{serviceTree} has it say so only to a handler of
        one front: with several, the others live on, and their requests
        must drain): when it stops, it neither waits for that front to
        acknowledge its drain nor lets its sockets linger with messages no
        one will read, and its running requests, whose replies could reach
        no one, are cut at once (their responses closed).  Called in the
        reactor thread, before the reactor stops; or while this service
        stops already (SIGTERM, --max-requests), waiting for its drain:
        then the wait ends at once.
        """
        self.frontGone = True
        grace, self._grace = self._grace, None
        if grace is not None:
            # (Its callbacks cut the running requests: see stopService.)
            grace.cancel()

    def startService(self) -> None:
        Service.startService(self)
        options = self._options
        threads = options["threads"]
        self._pool = pool = newPool(threads)
        application = options["application"]
        mounted = ""
        if options["script-name"]:
            application = Mounted(application, options["script-name"])
            mounted = f" under {application.shown}"
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
        fronts = len(options["fronts"])
        capacities = splitCapacity(threads, fronts)
        prefetches = shareOut(options["prefetch"], fronts)
        # Each front's requests run in its share of the threads only: in
        # one queue for all, the requests a front sends to wait for a
        # thread (--prefetch) would take the threads of the others as
        # they come free, and the others' requests would wait behind them.
        lanes = pool.divide(fronts)
        try:
            self._context = context = ZmqContext(self._reactor)
            for index, ((send, ret), capacity, prefetch, lane) in enumerate(
                zip(options["fronts"], capacities, prefetches, lanes)
            ):
                runner = WSGIRunner(self._reactor, lane, application, multithread=threads > 1)
                runner.profiler = self.profiler
                routingId = newRoutingId()
                holder: list[FrontLink] = []

                def received(frames: list[bytes], h: list[FrontLink] = holder) -> None:
                    h[0].controlReceived(frames)

                sendSocket = context.socket("dealer", received, HIGH_WATER_MARK, routingId)
                returnSocket = context.socket("dealer", _nothing, HIGH_WATER_MARK, routingId)
                # The application threads send their replies on it themselves.
                returnSocket.shareWithThreads(self._reactor)
                link = FrontLink(
                    self._reactor, runner, sendSocket, returnSocket, handlerName(options),
                    capacity=capacity + prefetch, prefetch=prefetch,
                    heartbeat=options["heartbeat"], address=send,
                    returnAddress=ret,
                )
                link.requestObservers.append(self._requestsCounted)
                holder.append(link)
                self.links.append(link)
                # One (public, secret, front's public) key triple per front.
                curves = options.get("curve")
                for sock, address in [(sendSocket, send), (returnSocket, ret)]:
                    if curves is not None:
                        sock.curveClient(*curves[index])
                    # A connection a network cut left open is found dead and
                    # made again, within DEAD_CONNECTION of the cut and
                    # CONNECT_TIMEOUT of its end.
                    sock.keepAlive(*keepAliveTimes(options["heartbeat"]))
                    # Without CURVE too: a front that uses it ends the handshake
                    # for good (a mechanism mismatch), and the handler must say
                    # why it cannot join, and try again.
                    redial = Redial(self._reactor, sock, address)
                    self.redials.append(redial)
                    sock.monitorHandshakes(
                        context,
                        partial(self._handshake, link, redial, sock is returnSocket),
                    )
                # Not connected until its monitor says it is.
                link.returnConnected(False)
                for option, sock, address in [("--send", sendSocket, send),
                                              ("--return", returnSocket, ret)]:
                    try:
                        sock.connect(address)
                    except AddressError as e:
                        context.shutdown()
                        line = f"mphandler: {option}: {e}"
                        leaveTwistd(options, line)
                        failToStart(self._log, line)
        except OutOfFiles as e:
            # A handler of many fronts under a low limit went up as a
            # traceback.
            if self._context is not None:
                self._context.shutdown()
                self._context = None
            line = (
                f"mphandler: cannot open the ZeroMQ sockets of its {fronts} fronts:"
                f" {e} (its open files limit is"
                f" {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}, ulimit -n; each"
                " front takes two sockets, their connections and monitors)"
            )
            leaveTwistd(options, line)
            failToStart(self._log, line)
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
            name=options["name"], threads=threads,
            app=options["app"] + mounted,
            fronts=" ".join("%s,%s" % pair for pair in options["fronts"]),
        )

    def _startLinks(self) -> None:
        """
        Register with the fronts, unless stopping already.
        """
        if self.running:
            for link in self.links:
                link.start()

    def _handshake(
        self,
        link: FrontLink,
        redial: Redial,
        isReturn: bool,
        event: str,
        value: int,
        address: str,
    ) -> None:
        """
        A handshake of a socket with its front (CURVE's, or ZeroMQ's plain
        one without) failed or succeeded, or its connection was lost (from
        the socket's monitor, in the reactor thread).  After a failure that
        libzmq takes as final (a refused key, a protocol error such as a
        front without CURVE, or with CURVE for a handler without it),
        C{redial}, the socket's, connects it again after a while, longer at
        each refusal in a row.  A failure is logged when a run of them
        begins, saying when it is tried again, since ZeroMQ (or C{redial})
        tries again and again; the success that ends it too.  C{link}, the
        socket's, knows why while it fails, for its warning that no front
        answers; and C{link} is told whether its return socket
        (C{isReturn}) is connected.
        """
        if isReturn:
            _returnHandshake(link, event, value, address)
        if event == "DISCONNECTED" and redial.lost():
            # What was on its way on it may be lost: the link asks its
            # front to register it anew.  (Not for a connection whose
            # handshake failed, which carried nothing: a peer that accepts
            # and closes, such as an HTTP port given for --return, would
            # have it forget the link at each of ZeroMQ's reconnects,
            # several a second, each logged.)
            link.connectionLost(isReturn)
        curve = self._options.get("curve") is not None
        kind = "CURVE" if curve else "ZeroMQ"
        if event.startswith("HANDSHAKE_FAILED"):
            redial.failed()
            if event in _FINAL_FAILURES:
                delay = redial.refused()
                retry = (
                    "" if delay is None
                    else "; trying again in %g s, then at doubling intervals up to %g s"
                    % (delay, REFUSED_RETRY_MAX)
                )
            else:
                retry = "; retrying"
            if event == "HANDSHAKE_FAILED_AUTH":
                why = "the front refused this handler's key (ZAP status %d)" % (value,)
            elif event == "HANDSHAKE_FAILED_PROTOCOL" and value == MECHANISM_MISMATCH:
                why = (
                    "the front does not use CURVE" if curve
                    else "the front uses CURVE: give this handler --curve-server-key "
                    "and --curve-secret-key"
                )
            elif event == "HANDSHAKE_FAILED_PROTOCOL":
                why = "protocol error %d" % (value,)
            elif value == errno.EAGAIN:
                # libzmq's handshake timer (ZMQ_HANDSHAKE_IVL, 30 s) ended
                # it: a front that closes the connection gives EPIPE or
                # ECONNRESET.  A front paused (SIGSTOP, swap) or too busy
                # to answer, its kernel accepting for it: no CURVE matter.
                why = (
                    "the front accepted the connection but did not answer in"
                    " 30 s (ZeroMQ's handshake timeout: a front paused,"
                    " overloaded or out of file descriptors, its connection"
                    " left in its listen backlog; or not a front)"
                )
            elif curve:
                why = "the front closed the connection (a wrong --curve-server-key?)"
            else:
                # (A front that uses CURVE, finding the mismatch first, closes
                # the connection so: the likeliest cause.)
                why = (
                    "the front closed the connection (does it use CURVE? then give "
                    "this handler --curve-server-key and --curve-secret-key)"
                )
            link.handshakeFailure = why
            if redial.failures == 1:
                self._log.error(
                    "mphandler {name}: {kind} handshake with {address} failed: {why}",
                    name=self._options["name"], address=address, why=why + retry,
                    kind=kind,
                )
        elif event == "HANDSHAKE_SUCCEEDED":
            failures = redial.succeeded()
            link.handshakeFailure = None
            if failures:
                self._log.info(
                    "mphandler {name}: {kind} handshake with {address} succeeded "
                    "after {count} failures",
                    name=self._options["name"], address=address, count=failures,
                    kind=kind,
                )

    def _requestsCounted(self, count: int) -> None:
        """
        C{count} more requests came to a link (1), or one was given back to
        its front before a thread took it (-1, C{RECALLED}): it is served
        by another handler, and does not count toward C{--max-requests}.
        """
        self._served += count
        if count < 0:
            return
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
            logReopenFailure(self._log, "mphandler", None, e)

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
        directory = os.getcwd()
        if not os.access(directory, os.W_OK | os.X_OK):
            # Said now, not once the profile is done and cannot be written.
            self._log.error(
                "mphandler {name}: not profiling: the working directory "
                "{directory}, where the profile is written, is not writable by "
                "this handler's user: start the handler in one that is (twistd "
                "--rundir DIR; --chdir DIR for the application), or use "
                "--profile FILE",
                name=self._options["name"], directory=directory,
            )
            return
        if seconds is None:
            seconds = self._options["profile-seconds"]
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", handlerName(self._options))
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
        # A front that refused us is not tried again: we take no new front.
        for redial in self.redials:
            redial.stop()
        drained = gatherResults(
            [link.drain() for link in self.links], consumeErrors=True
        )
        timeout = self._options["graceful-timeout"]
        drained.addTimeout(timeout, self._reactor)
        # A front found gone (frontIsGone) cancels the wait: it acknowledges
        # nothing, and takes no reply.
        self._grace = drained

        def runningIds() -> list[str]:
            return [
                idText(requestId)
                for link in self.links
                for requestId in link.running
            ]

        def stuck(failure: Failure) -> Deferred[bool] | bool:
            # (FirstError: the drains cancelled, by the timeout or by
            # frontIsGone.)
            failure.trap(defer.TimeoutError, defer.FirstError, defer.CancelledError)
            self._grace = None
            frontGone = self.frontGone
            running = runningIds()
            if not running:
                if frontGone:
                    return True
                self._log.warn(
                    "mphandler {name}: --graceful-timeout {timeout}s passed with "
                    "requests still running: (none; no front acknowledged); "
                    "exiting anyway",
                    name=self._options["name"], timeout=timeout,
                )
                return False
            # Cut, so that their application threads close their responses
            # (PEP 3333 close(): Django's request_finished, Flask's
            # teardown), which an exit with them still in the application
            # would never do; bounded, since one stuck in the application
            # cannot be made to leave it.
            for link in self.links:
                link.cut()
            cut = len(running)
            self._log.warn(
                "mphandler {name}: {why} with "
                "{count} requests still running: {requests}; cutting them, "
                "waiting up to {seconds} s for their responses to close",
                name=self._options["name"],
                why=(
                    "its front is gone" if frontGone
                    else f"--graceful-timeout {timeout}s passed"
                ),
                count=cut, requests=" ".join(running), seconds=CUT_CLOSE_TIMEOUT,
            )
            idle = gatherResults(
                [link.whenIdle() for link in self.links], consumeErrors=True
            )
            idle.addTimeout(CUT_CLOSE_TIMEOUT, self._reactor)

            def closed(_: object) -> bool:
                self._log.info(
                    "mphandler {name}: the {count} requests cut ended, their "
                    "responses closed",
                    name=self._options["name"], count=cut,
                )
                return True

            def notClosed(failure: Failure) -> bool:
                failure.trap(defer.TimeoutError, defer.FirstError)
                left = runningIds()
                self._log.warn(
                    "mphandler {name}: {left} of the {count} requests cut not "
                    "ended after {seconds} s (stuck in the application, or "
                    "waiting for a thread), their responses not closed: "
                    "{requests}; exiting anyway",
                    name=self._options["name"], left=len(left), count=cut,
                    seconds=CUT_CLOSE_TIMEOUT, requests=" ".join(left),
                )
                return False

            return idle.addCallbacks(closed, notClosed)

        profile = self._options.get("profile")

        def close(finished: bool) -> None:
            if self._profileCall is not None and self._profileCall.active():
                self._profileCall.cancel()
                self._writeProfile(self._profilePath)
            elif profile and self.profiler.active:
                self._writeProfile(profile)
            for link in self.links:
                link.stop()
            # Threads still in the application are daemons: don't join them.
            if self._pool is not None and finished:
                self._pool.stop()
            if self._context is not None:
                # What the application threads queued last (the end of
                # their replies) is sent, not dropped with the sockets;
                # unless no front would take it: the front that spawned
                # this handler is gone, or every link has lost its front
                # (silent for three heartbeats, or it said BYE: it forgot
                # this handler's requests), or never had one.  Lingering
                # then would only hold the exit for STOP_LINGER.
                heard = any(link.front is not None for link in self.links)
                self._context.shutdown(
                    STOP_LINGER if heard and not self.frontGone else 0.0
                )
                self._context = None
            self._log.info(
                "mphandler {name} stopped after {count} requests",
                name=self._options["name"], count=self._served,
            )

        def finished(result: object) -> bool:
            self._grace = None
            return True

        stopped = drained.addCallbacks(finished, stuck).addCallback(close)
        if self.frontGone:
            # Gone before the stop began (ParentWatch stops the reactor).
            self.frontIsGone()
        return stopped


def _nothing(frames: list[bytes]) -> None:
    """
    Receive what a handler's return socket receives: nothing (the front
    sends on the send socket only).
    """


# prctl(2): ask for a signal when the parent exits.
PR_SET_PDEATHSIG = 1


def dieWithParent() -> bool:
    """
    Ask Linux to send this process C{SIGHUP} when its parent exits, however
    it exits (C{SIGKILL} included); L{serviceTree} makes C{SIGHUP} call
    L{ParentWatch.hangup}, which checks that the parent is gone.

    C{SIGHUP} rather than C{SIGTERM}: a front that stops in good order has
    sent C{SIGTERM} already, and exits after that; the handler should not
    take its exit for a second request to stop.

    @return: whether the kernel took the request (only Linux does).
    """
    try:
        prctl = cast(
            "Callable[[int, int, int, int, int], int]",
            ctypes.CDLL(None, use_errno=True).prctl,
        )
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
    @param onGone: called once the parent is found gone, before the reactor
        is stopped, or while it stops already (L{HandlerService.frontIsGone}:
        the parent is the front).
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
    _onGone: Callable[[], None] = lambda: None
    _loop: LoopingCall | None = field(init=False, default=None)
    gone: bool = field(init=False, default=False)
    # Whether it was stopped (the handler stops: the parent may still go
    # while it drains).
    _stopped: bool = field(init=False, default=False)

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
        if not self._parentRuns():
            self.parentGone()

    def _parentRuns(self) -> bool:
        # Linux re-parents a child before it sends the parent-death signal.
        return self._getppid() == self._parentPid

    def hangup(self) -> None:
        """
        C{SIGHUP}: what Linux sends when the parent exits (L{dieWithParent}),
        then stop (L{parentGone}).  But a terminal's hangup, or a C{SIGHUP}
        sent to the front's whole process group, reaches the handler with
        its front still running (which reloads its handlers, given one
        too): then it is logged and ignored.  Must be called in the reactor
        thread.
        """
        if not self._parentRuns():
            self.parentGone()
            return
        self._log.info(
            "mphandler {name}: SIGHUP ignored: its front (parent process {pid}) "
            "is running; SIGHUP to the front alone reloads its handlers",
            name=self._name(), pid=self._parentPid,
        )

    def parentGone(self) -> None:
        """
        The parent has exited: say so (C{onGone}), and stop; or, stopping
        already, only say so, so that the handler waits no more for a front
        that is gone (a front that stops in good order outlives its
        handlers: one that goes first was killed).  Must be called in the
        reactor thread.
        """
        if self.gone or not (self.running or self._stopped):
            # (Not started yet: startService checks the parent.)
            return
        self.gone = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._stopped:
            self._log.warn(
                "mphandler {name}: its front (parent process {pid}) is gone "
                "while it stops",
                name=self._name(), pid=self._parentPid,
            )
            self._onGone()
            return
        self._log.warn(
            "mphandler {name}: its front (parent process {pid}) is gone: stopping",
            name=self._name(), pid=self._parentPid,
        )
        self._onGone()
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
        self._stopped = True
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


def handlerName(options: HandlerSettings) -> str:
    """
    The handler's name: its C{--name}, or the one L{HandlerTree} gives it
    when it starts.  Read once that has started.
    """
    name = options["name"]
    assert name is not None, "no --name, and HandlerTree has not started"
    return name


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

    def __init__(self, options: HandlerSettings, reactor: IHandlerReactor) -> None:
        MultiService.__init__(self)
        self.options = options
        self._reactor = reactor

    def startService(self) -> None:
        options = self.options
        options["name"] = name = options["name"] or defaultName()
        exiting = options.get("exiting")
        if exiting is not None:
            exiting.watch(self._reactor, name)
        childSignals = options.get("childSignals")
        if childSignals is not None:
            childSignals.install()
        if options.get("streamDescriptors"):
            # (twistd has begun logging, and made them.)
            giveStandardStreamsDescriptors()
        MultiService.startService(self)


def serviceTree(options: HandlerSettings, reactor: IHandlerReactor) -> MultiService:
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
        # The parent is taken for the front (mpfront --spawn's handlers have
        # only theirs) only if the handler has one front: one of several,
        # run by hand with --parent-pid, has others alive, whose requests
        # must not be cut nor their replies dropped when the parent goes.
        watch = ParentWatch(
            reactor, options["parent-pid"], lambda: handlerName(options), options["heartbeat"],
            onGone=handler.frontIsGone if len(options["fronts"]) == 1 else (lambda: None),
        )
        # What Linux sends when the front exits (see dieWithParent).
        actions[signal.SIGHUP] = watch.hangup
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
