# -*- test-case-name: txmp.test.test_tap,txmp.test.test_security -*-
"""
The service tree of C{twistd mpfront}: the front's sockets, dispatcher and
ports (L{FrontService}), its private directory (L{PrivateLinks}) and its
spawned handlers (L{SpawnedHandlers}).

Imported by L{txmp.fronttap.makeService} only, once the options are
parsed: this is what loads ZeroMQ, Twisted Web and (through Twisted's
endpoints) pyOpenSSL, which C{twistd mpfront --help} and a usage error do
without.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Callable, NoReturn, cast

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import (
    CannotListenError,
    ProcessExitedAlready,
    ProcessTerminated,
    ReactorNotRunning,
)
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IProcessTransport,
    IProtocolFactory,
    IReactorCore,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import LogEvent, Logger, globalLogPublisher
from twisted.python.failure import Failure
from twisted.python.systemd import ListenFDs
from twisted.python.usage import UsageError

from txmp._accept import AcceptLimit, defaultMaxConnections, raiseFileLimit, withBacklog
from txmp._access import AccessLog
from txmp._defaults import (
    BOOT_FAILURES,
    BYE_LINGER,
    FRONT_KEEPALIVE_COUNT,
    FRONT_KEEPALIVE_IDLE,
    FRONT_KEEPALIVE_INTERVAL,
    HIGH_WATER_MARK,
    LARGE_FRAME,
    SILENT_KILL_HEARTBEATS,
    SPAWN_EXITED_GRACE,
    SPAWN_KILL_MARGIN,
    SPAWN_OUTPUT_GRACE,
    SPAWN_REAP_MARGIN,
    SPAWN_RESTART_MAX_DELAY,
)
from txmp._dispatch import Dispatcher
from txmp._exit import failToStart, leaveTwistd
from txmp._front import FrontFactory
from txmp._http import HTTPRules
from txmp._interfaces import IFrontReactor, cancelCall
from txmp._logs import ChildLog, logReopenFailure, reopenLogFiles
from txmp._metrics import FrontMetrics
from txmp._options import PRIVATE_PREFIX, passedOnToHandlers, privateAddresses, readConfig
from txmp._peerlog import someIds
from txmp._reload import CodeWatcher, sourceRoot
from txmp._signals import SignalActions, explanation
from txmp._stats import makeStatsSite
from txmp._tls import (
    ReloadableCertificate,
    certificateFilesError,
    reloadableCertificate,
    withCertificateChain,
)
from txmp._zap import ZAP_DOMAIN, AllowList, HandshakeFailures, ZapHandler
from txmp._zmq import (
    ZAP_ADDRESS,
    AddressError,
    ZmqContext,
    ZmqSocket,
    createKeyPair,
    loadKeyPair,
    writePublicCertificate,
)

if TYPE_CHECKING:
    # (Only for types: importing procmon installs the global reactor.)
    from twisted.runner.procmon import LoggingProtocol, ProcessMonitor

    from txmp.fronttap import FrontSettings


def connectableAddress(address: str) -> str:
    """
    The address a local handler connects to for a front bound to
    C{address}: wildcard TCP hosts become the loopback address.
    """
    for wildcard in ("tcp://*:", "tcp://0.0.0.0:"):
        if address.startswith(wildcard):
            return "tcp://127.0.0.1:" + address[len(wildcard):]
    return address


# Twisted's exceptions whose constructors are not annotated, typed once (to
# mypy each class holds Any where it is read).
_CANNOT_LISTEN: type[CannotListenError] = CannotListenError
_PROCESS_TERMINATED: type[ProcessTerminated] = ProcessTerminated


class ListenError(Exception):
    """
    The front cannot listen on one of its endpoints; the message names the
    option and the endpoint.
    """


def _reason(error: BaseException | None) -> str:
    """
    One line saying why an endpoint could not be made or listen, or its
    certificate files read again (L{certificateFilesError}: pyOpenSSL's
    errors in words).
    """
    certificate = None if error is None else certificateFilesError(error)
    if certificate is not None:
        return certificate
    if isinstance(error, _CANNOT_LISTEN):
        # (Its attributes are not typed: the socket's error, or a message.)
        socketError: object = error.socketError
        if socketError == "Cannot acquire lock":
            # Twisted's UNIX port (unix:, lockfile=1 by default) holds
            # PATH.lock while it listens: another process holds it.
            path: str | bytes = error.port
            return (
                f"in use: another process holds {os.fsdecode(path)}.lock"
                " (a front listening there already?)"
            )
        return str(socketError) if socketError else str(error)
    if isinstance(error, OSError):
        # (Python types it as Any.)
        filename2: str | bytes | None = error.filename2
        if filename2 is not None:
            # The same port making PATH.lock, a link to its PID: Python's line
            # names the PID as a file ("'4242' -> b'/run/txmp/http.sock.lock'").
            return f"{error.strerror}: {os.fsdecode(filename2)}"
    return str(error) or type(error).__name__


# An IPv6 address written into an endpoint description without escaping
# its colons (interface=::1, interface=[::1], tcp:[::1]:8080): Twisted
# splits it at each colon, and says only that an argument came twice.
_UNESCAPED_IPV6 = re.compile(r"(?:^|:)interface=(?:\[|[0-9A-Fa-f]*:)|^\w+:\[")


# An address written as a URL or a ZeroMQ address (tcp://HOST:PORT), which
# no endpoint of Twisted's takes.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

# Twisted's parser passes an endpoint's key=value parameters to its
# function as keyword arguments: one it does not take is a TypeError.
_UNKNOWN_PARAMETER = re.compile(r"got an unexpected keyword argument '([^']*)'")


# What the tls extra installs, which Twisted's ssl: endpoints import.
_TLS_MODULES = ("OpenSSL", "cryptography", "service_identity")


def _endpointError(description: str, error: Exception) -> str:
    """
    One line saying why C{description} could not be made into an endpoint.

    An IPv6 address whose colons are not escaped makes Twisted's parser
    raise C{TypeError} (C{_parseTCP() got multiple values for argument
    'interface'}): say how to write one.

    Twisted's C{systemd:} endpoint raises C{IndexError} or C{KeyError} for
    an index or a name among no socket, or too few: say what is missing.

    An C{ssl:} endpoint without pyOpenSSL raises C{ModuleNotFoundError}
    (C{No module named 'OpenSSL'}): say that the C{tls} extra brings it.

    A description written as a URL or a ZeroMQ address
    (C{tcp://127.0.0.1:8080}) makes Twisted's parser raise C{ValueError}
    (C{invalid literal for int() with base 10: '//127.0.0.1'}): say what
    C{--listen} takes instead.

    A description with white space in it (C{tcp:8081 tcp:8082}, two
    endpoints in one C{--stats}, or in one C{TXMP_MPFRONT_STATS}, which
    is not a list) makes Twisted's parser raise C{ValueError} or
    C{TypeError} (C{invalid literal for int() with base 10: '8081 tcp'}):
    say that an endpoint is one word.

    A parameter the endpoint does not take (C{tcp:8080:interfce=...}) makes
    it raise C{TypeError} naming a function of Twisted's (C{_parseTCP() got
    an unexpected keyword argument 'interfce'}): say it is not a parameter
    of that kind of endpoint.
    """
    if description.startswith("systemd:") and isinstance(error, LookupError):
        count = len(ListenFDs.fromEnvironment().inheritedDescriptors())
        return (
            f"no socket passed by systemd at that index or name ({count} passed): "
            "run mpfront from its .socket unit (Twisted needs LISTEN_FDS, "
            "LISTEN_PID and LISTEN_FDNAMES; systemd-socket-activate sets the "
            "last with --fdname)"
        )
    if isinstance(error, ImportError) and error.name in _TLS_MODULES:
        # Twisted's ssl: parser imports twisted.internet.ssl, which needs
        # pyOpenSSL: say which extra brings it (Debian's PyPy cannot build it).
        return (
            f"TLS needs pyOpenSSL, of txmp's tls extra, which is not installed ({error}): "
            "install txmp with [tls], or terminate TLS in a proxy "
            '(see "TLS" in docs/deployment.md)'
        )
    if isinstance(error, ValueError) and _URL.match(description):
        # tcp://127.0.0.1:8080, as --send is written: Twisted's parser
        # takes "//127.0.0.1" for the port (invalid literal for int()).
        return (
            "not a Twisted endpoint: --listen and --stats take descriptions "
            "such as tcp:8080:interface=127.0.0.1 or unix:/run/txmp/http.sock, "
            "--send and --return ZeroMQ addresses (tcp://HOST:PORT)"
        )
    if isinstance(error, (ValueError, TypeError)) and description.split() != [description]:
        return (
            "an endpoint has no white space: give each --listen as an option "
            "of its own (in TXMP_MPFRONT_LISTEN, separated by spaces; in a "
            "--config file, as a list); --stats takes one"
        )
    if isinstance(error, TypeError) and _UNESCAPED_IPV6.search(description):
        return (
            "an IPv6 address in an endpoint has each ':' escaped with a backslash, "
            "without brackets: tcp6:8080:interface=\\:\\:1 (in single quotes in "
            "a shell or a TOML file)"
        )
    unknown = _UNKNOWN_PARAMETER.search(str(error))
    if isinstance(error, TypeError) and unknown is not None:
        # (Twisted said "_parseTCP() got an unexpected keyword argument".)
        kind = description.split(":", 1)[0]
        return (
            f"{kind}: endpoints take no parameter {unknown.group(1)!r} (a typo? "
            "see Twisted's endpoint descriptions: tcp takes interface and "
            "backlog, unix mode and lockfile, ssl privateKey, certKey and more)"
        )
    return _reason(error)


def _stopAndExit(reactor: IReactorCore, status: int, options: object = None) -> None:
    """
    Stop the reactor (gracefully, as on SIGTERM), then exit with C{status}
    (twistd would exit 0).

    @param options: the front's options: their twistd's pidfile is
        removed, as twistd would once its reactor returned (L{leaveTwistd}).
    """

    def exitNow() -> None:
        leaveTwistd(options)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)

    reactor.addSystemEventTrigger("after", "shutdown", exitNow)
    try:
        reactor.stop()
    except ReactorNotRunning:
        # Already stopping (SIGTERM came first): it exits so once stopped.
        pass


def _typed(value: object) -> object:
    """
    A TOML value, compared with its type: C{2} and C{2.0}, C{1} and
    C{true}, are equal in Python, but not to an option (C{--max-queue=2.0}
    is refused).
    """
    if isinstance(value, list):
        return tuple(_typed(item) for item in cast("list[object]", value))
    return (type(value), value)


class FrontService(Service):
    """
    Owns the front's ZeroMQ sockets, its dispatcher and its HTTP ports.

    @ivar dispatcher: the L{Dispatcher}, once started.
    @ivar listening: fires with the listening ports once they all listen.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IFrontReactor,
        options: FrontSettings,
        configTable: dict[str, object] | None = None,
        configOverridden: frozenset[str] = frozenset(),
    ) -> None:
        self._reactor = reactor
        self._options = options
        self.dispatcher: Dispatcher | None = None
        # The --listen ports, once listening; the --stats one apart, which
        # closes last, when the front has stopped (stopService).
        self._ports: list[IListeningPort] = []
        self._statsSite: IProtocolFactory | None = None
        self._statsPort: IListeningPort | None = None
        self._sockets: list[ZmqSocket] = []
        self._drainWaiters: list[Deferred[None]] = []
        # Those of whenStopped, while stopService runs (None otherwise).
        self._stopWaiters: list[Deferred[None]] | None = None
        # The HTTP site, once started.
        self._site: FrontFactory | None = None
        # What pauses the HTTP ports at --max-connections, once started.
        self.acceptLimit: AcceptLimit | None = None
        # The access log, if any, once started (see reopenLogs).
        self.accessLog: AccessLog | None = None
        # While startService runs; the first endpoint error seen meanwhile.
        self._starting = False
        self._startError: str | None = None
        self._context: ZmqContext | None = None
        # The ZAP handler (L{txmp._zap.ZapHandler}) with CURVE, once started.
        self.zap: ZapHandler | None = None
        # The handshakes that failed before ZAP (L{HandshakeFailures}), with
        # CURVE, once started.
        self.handshakes: HandshakeFailures | None = None
        self.listening: Deferred[list[IListeningPort]] = Deferred()
        # The certificates of the ssl: --listen endpoints, each with its
        # option and description, once started (see hangup).
        self._certificates: list[tuple[str, ReloadableCertificate]] = []
        # The --config file's [mpfront] table as the options were read from
        # it (None without one): SIGHUP says what changed in it since,
        # which only a new front applies.
        self._configTable = configTable
        # The options given on its command line or by environment
        # variables: the file's are not those, nor would be after a
        # restart.
        self._configOverridden = configOverridden
        # What SIGHUP reloads after the certificates: the --spawn handlers
        # (serviceTree).
        self.reloadHandlers: Callable[[], None] = _nothingToReload
        # Called with a handler's name when it starts draining.
        self.drainObservers: list[Callable[[str], None]] = []
        # Called with a handler's name when it registers anew.
        self.joinObservers: list[Callable[[str], None]] = []
        # Called with a handler's name when it is declared dead for silence.
        self.silenceObservers: list[Callable[[str], None]] = []

    def privilegedStartService(self) -> None:
        """
        Listen on the HTTP ports (and C{--stats}) before twistd's C{--uid}
        and C{--gid} take effect, as Twisted's own servers do
        (C{strports.service}): C{twistd -u txmp -g txmp mpfront --listen
        tcp:80} serves port 80 as that user.  No connection is accepted
        before the reactor runs, after L{startService}.  The ZeroMQ
        addresses and the access log are opened in L{startService}, as the
        user: they are its files.
        """
        Service.privilegedStartService(self)
        self._prepare()

    def startService(self) -> None:
        Service.startService(self)
        if self._site is None:
            # Started without privilegedStartService (a test's tree).
            self._prepare()
        options = self._options
        assert self._context is not None and self.dispatcher is not None
        assert self._site is not None
        # With --spawn, PrivateLinks has completed the options by now (the
        # private addresses, the handlers' CURVE key).
        self._secure(self._context, self._sockets)
        addresses = [("--send", options["send"]), ("--return", options["return"])]
        for (option, address), sock in zip(addresses, self._sockets):
            try:
                sock.bind(address)
            except AddressError as e:
                self._abandon(f"{option}: {e}")
        self.dispatcher.start()
        if options["access-log"] is not None:
            # Opened now, as the user twistd --uid runs us as (fronttap
            # checked it as the user that parsed the options), and here, to
            # say which option failed.
            accessLog = AccessLog(options["access-log"], options["access-log-format"])
            try:
                accessLog.open()
            except OSError as e:
                self._abandon(f"--access-log {options['access-log']}: {e.strerror}")
            self.accessLog = self._site.accessLog = accessLog

    def _prepare(self) -> None:
        """
        Make the ZeroMQ sockets (not bound yet), the dispatcher and the HTTP
        site, and listen on the ports.
        """
        options = self._options
        self._context = context = ZmqContext(self._reactor)
        # The dispatcher and the sockets refer to each other: the sockets
        # deliver to the dispatcher, which sends on the send socket.
        holder: list[Dispatcher] = []

        def controlReceived(frames: list[bytes]) -> None:
            holder[0].controlReceived(frames)

        def replyReceived(frames: Sequence[bytes | memoryview]) -> None:
            holder[0].replyReceived(frames)

        sendSocket = context.socket("router", controlReceived, HIGH_WATER_MARK)
        returnSocket = context.socket(
            "router", replyReceived, HIGH_WATER_MARK, largeFrame=LARGE_FRAME
        )
        self.dispatcher = dispatcher = Dispatcher(
            self._reactor,
            sendSocket,
            timeout=options["timeout"],
            queueTimeout=options["queue-timeout"],
            maxQueue=options["max-queue"],
            heartbeat=options["heartbeat"],
            window=options["window"],
            maxMessage=options["max-message"],
        )
        holder.append(dispatcher)
        sendSocket.peerLost = dispatcher.messagesDropped
        dispatcher.registry.drainObservers.extend(self.drainObservers)
        dispatcher.registry.joinObservers.extend(self.joinObservers)
        dispatcher.registry.silenceObservers.extend(self.silenceObservers)
        self._sockets = [sendSocket, returnSocket]
        metrics = FrontMetrics() if options["stats"] else None
        # Its access log is given it by startService: the ports start it as
        # they listen (startFactory opens its access log), perhaps as root.
        site = FrontFactory(
            dispatcher, self._reactor, None, options["max-body"],
            httpRules(options), metrics,
        )
        # Before any port listens, and before --spawn handlers start (they
        # inherit it).
        before, fileLimit = raiseFileLimit()
        if fileLimit != before:
            self._log.info(
                "mpfront: open files limit raised from {before} to {after}",
                before=before, after=fileLimit,
            )
        most = defaultMaxConnections(fileLimit)
        maxConnections = options["max-connections"] or most
        if maxConnections > most:
            # Past it the process may run out of file descriptors: the
            # last DESCRIPTOR_MARGIN are kept from clients (AcceptLimit),
            # one given such a descriptor reset.  nginx warns so of a
            # worker_connections over its open files limit.
            self._log.warn(
                "mpfront: --max-connections {limit} is more than the open files"
                " limit ({files}) leaves room for, with the descriptors of ZeroMQ,"
                " logs and handlers: past {most} connections, new clients may be"
                " reset instead of waiting in the listen backlog, and handlers"
                " may fail to connect; raise the limit (ulimit -n, LimitNOFILE=) or"
                " lower --max-connections",
                limit=maxConnections,
                files=fileLimit,
                most=most,
            )
        site.acceptLimit = self.acceptLimit = AcceptLimit(
            self._reactor, maxConnections, fileLimit
        )
        if metrics is not None:
            metrics.connectionLimit = maxConnections
        self._site = site
        endpoints: list[tuple[str, str, IProtocolFactory]] = [
            ("--listen", description, site) for description in options["listen"]
        ]
        if options["stats"]:
            statsSite = self._statsSite = makeStatsSite(
                dispatcher, self._reactor, metrics, stopping=lambda: not self.running
            )
            endpoints.append(("--stats", options["stats"], statsSite))
        # Ports fail synchronously (in use, no permission) while we start,
        # before the reactor runs: then we exit here with one line.
        self._starting = True
        listening: list[Deferred[IListeningPort]] = []
        for option, description, factory in endpoints:
            what = f"{option} {description}"
            try:
                endpoint = self._endpoint(description)
                # A certKey of the whole chain (fullchain.pem) sends it all.
                withCertificateChain(endpoint, description)
                certificate = reloadableCertificate(endpoint, description, self._endpoint)
                if certificate is not None:
                    self._certificates.append((what, certificate))
            # The operator's string, parsed by whichever endpoint plugin it
            # names: any error is a one-line refusal to start.
            except Exception as e:  # noqa: BLE001
                self._abandon(f"{what}: {_endpointError(description, e)}")
            listening.append(
                endpoint.listen(factory)
                .addCallback(self._portListening, factory)
                .addErrback(self._cannotListen, what)
            )

        def reported(failure: Failure) -> None:
            # Nothing more: _cannotListen reported each port's failure.
            pass

        gatherResults(listening, consumeErrors=True).addCallbacks(self._listening, reported)
        self._starting = False
        if self._startError is not None:
            self._abandon(self._startError)

    def _endpoint(self, description: str) -> IStreamServerEndpoint:
        """
        The endpoint that C{description} makes, with the front's listen
        backlog (L{withBacklog}).
        """
        endpoint: IStreamServerEndpoint = serverFromString(
            self._reactor, withBacklog(description)
        )
        return endpoint

    def _abandon(self, error: str) -> NoReturn:
        """
        Give up starting: close what is open, and exit with one line.
        """
        self.stopService()
        if self._context is not None:
            # The ports close in the reactor, which will not run.
            self._context.shutdown()
            self._context = None
        # So stopped for good: what waits for it (the private directory's
        # removal) goes on.
        self._stopped(None)
        failToStart(self._log, f"mpfront: {error}")

    def _secure(self, context: ZmqContext, sockets: list[ZmqSocket]) -> None:
        """
        Set the security options of the front's sockets, before they bind:
        the largest frame, TCP keepalive (a connection whose handler's end
        is gone without a word is closed), and CURVE with our ZAP handler
        if configured.
        """
        options = self._options
        for sock in sockets:
            sock.maxMessageSize(options["max-message"])
            sock.tcpKeepAlive(
                FRONT_KEEPALIVE_IDLE, FRONT_KEEPALIVE_INTERVAL, FRONT_KEEPALIVE_COUNT
            )
        curve = options.get("curve")
        if curve is None:
            return
        # (checkFrontSecurity sets the three together.)
        directory, keys = options["curve-allow"], options["curve-allowed"]
        assert directory is not None and keys is not None
        spawnKey: bytes | None = options.get("curve-spawn-key")
        allowed = AllowList(
            directory, keys,
            fixed=frozenset() if spawnKey is None else {spawnKey},
        )
        # Bound first, in the context of the front's sockets: libzmq asks
        # the ZAP handler of the socket's own context.
        self.zap = zap = ZapHandler(allowed)
        zapSocket = context.socket("router", zap.requestReceived, 1000)
        zapSocket.bind(ZAP_ADDRESS)
        zap.listen(zapSocket)
        self.handshakes = handshakes = HandshakeFailures()
        for sock in sockets:
            sock.curveServer(curve[1], ZAP_DOMAIN)
            sock.monitorHandshakes(context, handshakes.observe)
        count = len(allowed())
        if count:
            self._log.info(
                "mpfront: CURVE on, public key {key}, {count} handler keys allowed",
                key=curve[0].decode("ascii"), count=count,
            )
        else:
            # Not an error: the directory is read again at each handshake,
            # and a deployment may copy the handlers' certificates in after
            # the front starts.  But until then every handler is refused,
            # which an info line saying 0 left to be found in the handlers'.
            self._log.warn(
                "mpfront: CURVE on, public key {key}, and no handler key allowed: "
                "every handler is refused until its public certificate (*.key) is "
                "copied into --curve-allow {directory}",
                key=curve[0].decode("ascii"), directory=directory,
            )

    def _portListening(self, port: IListeningPort, factory: IProtocolFactory) -> IListeningPort:
        if factory is self._statsSite:
            self._statsPort = port
            return port
        self._ports.append(port)
        site = self._site
        if factory is site and site is not None and site.acceptLimit is not None:
            site.acceptLimit.addPort(port)
        return port

    def _listening(self, ports: list[IListeningPort]) -> None:
        # Said once the reactor runs, when its SIGTERM and SIGINT handlers
        # are in place: whoever reads it may stop the front at once, and
        # before, SIGTERM's default action would kill it undrained, leaving
        # a --spawn front's private directory behind.  (Its addresses are
        # read then: the ports listen in privilegedStartService, before
        # PrivateLinks has made a --spawn front's private ones.)
        self._reactor.callWhenRunning(self._sayReady, ports)
        self.listening.callback(ports)

    def _sayReady(self, ports: list[IListeningPort]) -> None:
        self._log.info(
            "mpfront ready: front {instance}, http {listen}, send {send}, "
            "return {ret}",
            instance=self.dispatcher.instance if self.dispatcher is not None else None,
            listen=" ".join(str(p.getHost()) for p in ports[: len(self._options["listen"])]),
            send=self._options["send"],
            ret=self._options["return"],
        )

    def _cannotListen(self, failure: Failure, what: str) -> Failure:
        error = f"{what}: {_reason(failure.value)}"
        if self._starting:
            # startService exits with it.
            if self._startError is None:
                self._startError = error
            return failure
        if not self.listening.called:
            self.listening.errback(Failure(ListenError(error)))
        # An endpoint that failed once the reactor ran: stop, and exit
        # non-zero once the reactor has stopped.
        self._log.critical("mpfront: {error}", error=error)
        _stopAndExit(self._reactor, 1, self._options)
        return failure

    def hangup(self) -> None:
        """
        SIGHUP: read the certificate and key files of the C{ssl:} C{--listen}
        endpoints again, for the connections made from now on (a renewed
        certificate, as nginx's reload), keeping those read before where
        they cannot be read; then L{reloadHandlers}.  Must be called in the
        reactor thread.
        """
        for what, certificate in self._certificates:
            try:
                certificate.reload()
            except Exception as e:  # noqa: BLE001
                self._log.error(
                    "mpfront: {what}: certificate and key not read again: {why}; "
                    "the ones read before serve on",
                    what=what, why=_reason(e),
                )
            else:
                self._log.info("mpfront: {what}: certificate and key read again", what=what)
        self._configUnapplied()
        self.reloadHandlers()

    def _configUnapplied(self) -> None:
        """
        Say which of the C{--config} file's C{[mpfront]} settings changed
        since the front started: a front reads its own options at start
        only (as gunicorn's SIGHUP would apply them, an operator may think
        they were).  Not those its command line or environment variables
        override, which a restart would not apply either.
        """
        path = self._options["config"]
        before = self._configTable
        if path is None or before is None:
            return
        try:
            now = readConfig(path, "mpfront")
        except UsageError as e:
            self._log.warn(
                "mpfront: SIGHUP: {why}; the front's own options are those "
                "it started with",
                why=str(e),
            )
            return
        changed = sorted(
            name for name in (before.keys() | now.keys()) - self._configOverridden
            if _typed(before.get(name)) != _typed(now.get(name))
        )
        if changed:
            self._log.warn(
                "mpfront: SIGHUP: [mpfront] of {path} changed ({names}): not applied, "
                "a front reads its own options (and those it passes to --spawn "
                "handlers) at start only; restart it to apply them. New --spawn "
                "handlers read [mphandler] anew",
                path=path,
                names=", ".join(changed),
            )

    def handlerExited(self, name: str) -> None:
        """
        The process of the handler C{name}, one this front spawned, exited:
        it is declared dead once what it sent before is read
        (L{SPAWN_EXITED_GRACE}), its requests retried or failed then, not
        three heartbeats later.  Called in the reactor thread.
        """
        if self.dispatcher is not None:
            self.dispatcher.registry.exited(name, SPAWN_EXITED_GRACE)

    def reopenLogs(self) -> None:
        """
        Reopen the log file and the access log file (SIGUSR1): after
        logrotate moved them, the next lines go to new files.  Must be
        called in the reactor thread.
        """
        try:
            reopenLogFiles()
        except OSError as e:
            logReopenFailure(self._log, "mpfront", None, e)
        if self.accessLog is not None:
            try:
                reopened = self.accessLog.reopen()
            except OSError as e:
                logReopenFailure(self._log, "mpfront", self.accessLog.path, e)
            else:
                # (Standard output, --access-log -, has nothing to reopen.)
                if reopened:
                    self._log.info("mpfront: access log reopened")

    def _endPending(self, deadline: float) -> Deferred[None]:
        """
        The connections are done: wait until C{deadline} for the requests
        whose responses are complete but which their handlers have not
        ended yet (an C{END} after a response complete at its
        C{Content-Length}), then abandon those left, so that the C{BYE}
        that follows cancels nothing in a handler.
        """
        dispatcher = self.dispatcher
        if dispatcher is None or not dispatcher.pending:
            return succeed(None)
        ended = dispatcher.whenIdle()
        ended.addTimeout(max(0.0, deadline - self._reactor.seconds()), self._reactor)

        def gaveUp(failure: Failure) -> None:
            failure.trap(DeferredTimeoutError)
            self._log.warn(
                "mpfront stopping: {count} requests answered but not ended by "
                "their handlers within --graceful-timeout: cancelled",
                count=len(dispatcher.pending),
            )
            dispatcher.abandonAll()

        return ended.addErrback(gaveUp)

    def whenDrained(self) -> Deferred[None]:
        """
        A L{Deferred} that fires once the front, stopping, has finished the
        requests it had or given up on them (C{--graceful-timeout}): the
        spawned handlers stop only then, so that those requests are served.
        """
        waiter: Deferred[None] = Deferred()
        self._drainWaiters.append(waiter)
        return waiter

    def whenStopped(self) -> Deferred[None]:
        """
        A L{Deferred} that fires once the front, stopping, has closed its
        sockets (L{stopService} is done, whatever its result); at once if
        it is not stopping.  Until then a handler may still join it, and
        serve the requests that wait in its queue.
        """
        if self._stopWaiters is None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._stopWaiters.append(waiter)
        return waiter

    def _stopped(self, result: object) -> object:
        """
        The end of L{stopService}: fire the L{whenStopped} waiters and pass
        C{result} on.
        """
        waiters, self._stopWaiters = self._stopWaiters or [], None
        for waiter in waiters:
            waiter.callback(None)
        return result

    def _stopListening(self, port: IListeningPort) -> Deferred[None]:
        """
        Stop listening on C{port}.  A port that fails to close is logged,
        and the stop goes on: a UNIX socket whose file was removed while
        the front ran (a cleaner of /tmp or /run, a deploy script) failed
        Twisted's C{os.unlink} of it, and with it the whole stop, which
        then never ended the requests, said C{BYE} or stopped the
        C{--spawn} handlers, waiting for ever.
        """

        def notClosed(failure: Failure) -> None:
            self._log.warn(
                "mpfront stopping: {address} not closed cleanly: {reason}; going on",
                address=port.getHost(), reason=_reason(failure.value),
            )

        stopped = port.stopListening()
        return (succeed(None) if stopped is None else stopped).addErrback(notClosed)

    def stopService(self) -> Deferred[None]:
        """
        Stop: stop accepting connections, let the requests in progress
        finish for up to C{--graceful-timeout} seconds, then say C{BYE} to
        the handlers and close the sockets.  The C{--stats} port closes
        last: its C{/healthz} answers through the stop, its C{/readyz} says
        503, and C{/metrics} counts the requests the stop lets finish.
        """
        Service.stopService(self)
        self._stopWaiters = []
        if self.acceptLimit is not None:
            self.acceptLimit.stop()
        stopping = [self._stopListening(port) for port in self._ports]
        self._ports = []

        graceful = self._options["graceful-timeout"]

        def drain(result: object) -> Deferred[None]:
            # The ports are closed: no connection can come in any more.
            deadline = self._reactor.seconds() + graceful

            def endPending(ignored: None) -> Deferred[None]:
                return self._endPending(deadline)

            return drainConnections().addCallback(endPending)

        def drainConnections() -> Deferred[None]:
            site = self._site
            if site is None or not site.connections:
                return succeed(None)
            busy = sum(1 for connection in site.connections if connection.busy)
            self._log.info(
                "mpfront stopping: finishing {busy} requests, closing {idle} idle "
                "connections (at most {graceful} s)",
                busy=busy, idle=len(site.connections) - busy, graceful=graceful,
            )
            drained = site.drain()
            drained.addTimeout(graceful, self._reactor)

            def gaveUp(failure: Failure) -> None:
                # (addTimeout turns the cancellation into a TimeoutError.)
                failure.trap(DeferredTimeoutError)
                count = len(site.connections)
                cut = site.cutAll()
                # (Named as their access log lines name them, 444 or the
                # status of a response cut: their handlers' lines say so too.)
                self._log.warn(
                    "mpfront stopping: {count} connections not done within "
                    "--graceful-timeout {graceful} s: closed{requests}",
                    count=count, graceful=graceful,
                    requests=f", {len(cut)} requests cut{someIds(cut)}" if cut else "",
                )

            return drained.addErrback(gaveUp)

        def drainedNow(result: Failure | None) -> Failure | None:
            # Whatever the drain's result: the --spawn handlers wait for
            # this (whenDrained), and would otherwise run on for ever.
            waiters, self._drainWaiters = self._drainWaiters, []
            for waiter in waiters:
                waiter.callback(None)
            if self.dispatcher is not None:
                # (Its BYEs are sent as the sockets close: BYE_LINGER.)
                self.dispatcher.stop()
            return result

        def closeSockets(result: Failure | None) -> Failure | None:
            if self._context is not None:
                self._context.shutdown(BYE_LINGER)
                self._context = None
            return result

        def closeStats(result: Failure | None) -> Deferred[None]:
            port, self._statsPort = self._statsPort, None
            closed = (None if port is None else port.stopListening()) or succeed(None)

            def passOn(ignored: object) -> Failure | None:
                return result

            return closed.addBoth(passOn)

        return (
            gatherResults(stopping)
            .addCallback(drain)
            .addBoth(drainedNow)
            .addBoth(closeSockets)
            .addBoth(closeStats)
            .addBoth(self._stopped)
        )


def httpRules(options: FrontSettings) -> HTTPRules:
    """
    The front's HTTP limits, timeouts and trusted proxies from C{options}.
    """
    return HTTPRules(
        headerTimeout=options["header-timeout"],
        idleTimeout=options["idle-timeout"],
        bodyTimeout=options["body-timeout"],
        maxRequestLine=options["max-request-line"],
        maxHeaders=options["max-headers"],
        maxHeaderBytes=options["max-header-bytes"],
        rejectUnderscoreHeaders=bool(options["reject-underscore-headers"]),
        trustedProxies=tuple(options["trusted-proxy"]),
        trustUnixPeers=bool(options.get("trust-unix")),
    )


def handlerCommand(
    options: FrontSettings,
    name: str,
    parentPid: int | None = None,
    curveFiles: tuple[str, str] | None = None,
) -> list[str]:
    """
    The command line of a local handler for C{--spawn}: with the front's
    C{--config} file, if it was given one, whose C{[mphandler]} table the
    handler reads.

    @param parentPid: the front's PID, which the handler dies with.
    @param curveFiles: with CURVE, the handler's secret certificate and the
        front's public one (files in L{PrivateLinks}'s directory: no key is
        on a command line, which every local user can read).
    """
    args = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "--nodaemon",
        "--pidfile=",
        "mphandler",
        "--name", name,
        "--send", connectableAddress(options["send"]),
        "--return", connectableAddress(options["return"]),
        # Read back as events by the front (txmp._logs.ChildLog): one log.
        "--log-format", "json",
        *passedOnToHandlers(options),
    ]
    if parentPid is not None:
        args.extend(["--parent-pid", str(parentPid)])
    if curveFiles is not None:
        args.extend(
            ["--curve-secret-key", curveFiles[0], "--curve-server-key", curveFiles[1]]
        )
    return args


class PrivateLinks(Service):
    """
    The private directory of a front with C{--spawn}, if it needs one:
    made, mode 0700 (so that no other local user can reach what is in it),
    when the front starts, and removed when it stops.  It holds:

      - with neither C{--send} nor C{--return} given, the C{ipc://} sockets
        the front binds, so that only its own handlers can join it;
      - with CURVE, an ephemeral key pair for the spawned handlers
        (C{spawn.key_secret}, C{spawn.key}), whose public key the front
        allows besides those of C{--curve-allow} (its option
        C{curve-spawn-key}), and the front's public certificate
        (C{front.key}).

    It completes the options that the L{FrontService} and the
    L{SpawnedHandlers} read when they start, so it must start before them.

    @ivar directory: the directory, while running.
    @ivar handlerCurve: with CURVE, the spawned handlers'
        C{--curve-secret-key} and C{--curve-server-key} files.
    """

    _log = Logger()

    def __init__(self, options: FrontSettings) -> None:
        self._options = options
        self.directory: str | None = None
        self.handlerCurve: tuple[str, str] | None = None
        # Called when stopping; the directory is removed once its result
        # fires (FrontService.whenStopped).
        self.stopAfter: Callable[[], Deferred[None]] | None = None

    def startService(self) -> None:
        Service.startService(self)
        options = self._options
        if not options["private-addresses"] and options["curve"] is None:
            return  # Nothing to keep private.
        self.directory = directory = tempfile.mkdtemp(prefix=PRIVATE_PREFIX)
        if options["private-addresses"]:
            # (Not too long: fronttap's checkPrivateDirectory.)
            options["send"], options["return"] = privateAddresses(directory)
        if options["curve"] is not None:
            secretFile, publicFile = createKeyPair(directory, "spawn")
            serverFile = os.path.join(directory, "front.key")
            writePublicCertificate(serverFile, options["curve"][0])
            options["curve-spawn-key"] = loadKeyPair(publicFile)[0]
            self.handlerCurve = (secretFile, serverFile)

    def stopService(self) -> Deferred[None] | None:
        """
        Remove the directory, once L{stopAfter} has fired if set (the
        front's sockets closed): a handler started before the front began
        to stop (a reload's, or one replacing a recycled handler) may still
        be booting, and must find the front's sockets and its keys to join
        and serve the requests that wait in the front's queue.
        """
        Service.stopService(self)
        if self.stopAfter is None:
            self._remove()
            return None

        def remove(result: object) -> None:
            self._remove()

        return self.stopAfter().addBoth(remove)

    def _remove(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


#: The exit status of a front whose spawned handlers cannot boot (gunicorn's).
BOOT_FAILED_STATUS = 3


def _handlerMonitor(
    reactor: IFrontReactor,
    started: Callable[[str], None],
    exited: Callable[[str], None],
    publish: Callable[[LogEvent], None],
    supervised: Container[str],
    running: dict[str, SpawnedProcess],
    booting: Container[str],
) -> ProcessMonitor:
    """
    A process monitor that calls C{started} with a process's name each time
    it starts it, so that a handler restarted before it ever joined is seen
    as failing to boot, and C{exited} each time one exits (before it is
    started again), and whose processes' log lines are read back as events
    and given to C{publish}.  (Made here: importing procmon installs
    the global reactor.)

    A process that exits while C{booting} (it never joined) is restarted
    after a delay that doubles at each such exit in a row, from procmon's
    C{minRestartDelay} to its C{maxRestartDelay}; one that joined, at once.
    procmon itself goes by how long the process ran (its C{threshold}, 1 s),
    which lets through an application that takes longer than that to load
    and fail, and backs off a handler that served and then crashed.

    @param supervised: the names of the processes it supervises, kept by
        its owner (procmon's own record, its C{processes} property, is
        deprecated, and Twisted says to keep one).
    @param running: filled with a L{SpawnedProcess} for each process it
        starts, by name, until that process has ended: those it supervises,
        and those it no longer does (removed) that have not exited yet.
    @param booting: the names of the processes started and not joined
        since, kept by its owner.
    """
    # Importing procmon installs the global reactor: only when made.
    from twisted.runner.procmon import ProcessMonitor

    _log = Logger(namespace="txmp._frontservice.HandlerMonitor")

    class HandlerMonitor(ProcessMonitor):
        # Never reached: every exit takes procmon's back-off path, whose
        # delay _delayFor sets first.
        threshold = 2**62

        def startProcess(self, name: str) -> None:
            if name not in self.protocols:
                started(name)
            # (started may have given up on it.)
            if name in supervised:
                try:
                    ProcessMonitor.startProcess(self, name)
                except OSError as e:
                    # Twisted before 25.5 lets spawnProcess's error out,
                    # the process's record left as if it ran: ended as for
                    # an exit, restarted with the delay of a boot failure.
                    self._cannotStart(name, e)
                    self.connectionLost(name)
                    return
                protocol = self.protocols.get(name)
                if protocol is not None:
                    process = SpawnedProcess(
                        name, protocol, ChildLog(name, publish), reactor, exited
                    )
                    running[name] = process

                    def ended(ignored: None) -> SpawnedProcess | None:
                        # Forgotten, unless another started since under its name.
                        return running.pop(name, None) if running.get(name) is process else None

                    process.whenEnded().addCallback(ended)

        # procmon keeps a record of every name it ever started (its
        # delay, start time and restart call) after removeProcess, and
        # every retired handler has a new name: a front recycling a
        # handler a second (--max-requests) grew by the records of 86,400
        # names a day.  A name no longer supervised is forgotten once its
        # process has exited (procmon reads the record then), or at once
        # if none runs.

        def removeProcess(self, name: str) -> None:
            ProcessMonitor.removeProcess(self, name)
            if name not in self.protocols:
                self._forget(name)

        # Each process's protocol tells the monitor it exited through
        # _monitoredProcessExited since Twisted 25.5, and through
        # connectionLost before: both are caught, and only one is called.

        def _monitoredProcessExited(
            self, name: str, reason: Failure | None = None
        ) -> None:
            # (Failure.check is not typed: the class matched, or None.)
            if reason is not None and cast("type[BaseException] | None", reason.check(OSError)):
                # spawnProcess raised: procmon's own line for it, whose
                # format names a key its event does not have, cannot be
                # formatted ("Unable to format event", and a traceback).
                self._cannotStart(name, reason.value)
                reason = None
            joined = self._delayFor(name)
            ProcessMonitor._monitoredProcessExited(self, name, reason)
            self._exited(name, joined)

        def connectionLost(self, name: str) -> None:
            joined = self._delayFor(name)
            ProcessMonitor.connectionLost(self, name)
            self._exited(name, joined)

        def _forceStopProcess(self, proc: IProcessTransport) -> None:
            # Said, with why: else the handler's exit line ("killed by
            # signal 9") reads as a kill from outside (an operator, the
            # kernel's OOM killer).
            # (A process that exited is still running while its output is
            # read, SPAWN_OUTPUT_GRACE at most, but has no PID: procmon's
            # signal then finds it gone, and none is sent.)
            pid: int | None = proc.pid
            found = [p for p in running.values() if p.runsAs(proc)]
            if found and pid is not None:
                _log.warn(
                    "spawned handler {name} (PID {pid}) still there {seconds} s after "
                    "SIGTERM (its --graceful-timeout and {margin} s): sending SIGKILL",
                    name=found[0].name, pid=found[0].pid, seconds=self.killTime,
                    margin=SPAWN_KILL_MARGIN,
                )
            ProcessMonitor._forceStopProcess(self, proc)

        def _cannotStart(self, name: str, error: BaseException | None) -> None:
            if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
                # Its pipes: not the Python's fault.
                why = (
                    "the front has no file descriptor left for its pipes (see"
                    " its open files limit, ulimit -n, and --max-connections)"
                )
            else:
                why = (
                    "is the Python that runs the front there, and may the"
                    " front's user, after twistd --uid, run it?"
                )
            _log.error(
                "spawned handler {name} could not be started: {error} ({why})",
                name=name, error=str(error), why=why,
            )

        def _delayFor(self, name: str) -> bool:
            """
            Before procmon restarts C{name}, which exited: if it had
            joined, make its restart immediate.

            @return: whether it had joined.
            """
            joined = name not in booting
            if joined and name in self.delay:
                self.delay[name] = 0
            return joined

        def _exited(self, name: str, joined: bool) -> None:
            if name not in supervised:
                self._forget(name)
            elif joined:
                # Its next exit before joining waits the least delay.
                self.delay[name] = self.minRestartDelay

        def _forget(self, name: str) -> None:
            self.delay.pop(name, None)
            self.timeStarted.pop(name, None)
            # A restart still due (it died, and was retired meanwhile)
            # would start it again.
            cancelCall(self.restart.pop(name, None))

    return HandlerMonitor(reactor=reactor)


#: The signals by which a handler that stopped as asked exits: twistd
#: raises again the one that stopped its reactor (SIGQUIT is taken as
#: SIGTERM).
_STOPPING_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


class SpawnedProcess:
    """
    One run of a spawned handler's process, from its start to its end: it
    hands the process's output to a L{ChildLog} instead of procmon's
    logging each line as an C{info} event of its own, with a second time
    stamp; and it says when the process has ended.

    The process has ended once it has exited and all it wrote has been
    read, or L{SPAWN_OUTPUT_GRACE} seconds after it exited if its output is
    still open then (a process it started, which inherited its standard
    output, holds it).

    @ivar name: the handler's name.
    @ivar pid: its process ID.
    @ivar ended: whether it has ended.
    """

    _log = Logger()

    def __init__(
        self,
        name: str,
        protocol: LoggingProtocol,
        childLog: ChildLog,
        clock: IReactorTime,
        exited: Callable[[str], None],
    ) -> None:
        """
        @param exited: called with its name when the process exits (it is
            reaped: its output may still be read after).
        """
        self.name = name
        transport = protocol.transport
        self._transport = transport
        self.pid: int | None = getattr(transport, "pid", None)
        self.ended = False
        self._waiters: list[Deferred[None]] = []
        self._outputCall: IDelayedCall | None = None
        # (Replaced on this instance: procmon makes it, and has no hook.)
        ended = protocol.processEnded
        protocol.outReceived = lambda data: childLog.dataReceived(1, data)  # type: ignore[method-assign]
        protocol.errReceived = lambda data: childLog.dataReceived(2, data)  # type: ignore[method-assign]

        def processExited(reason: Failure) -> None:
            # Reaped: its PID is gone, its pipes may still hold lines.
            self._logAbnormalExit(reason)
            exited(name)
            if not self.ended:
                self._outputCall = clock.callLater(SPAWN_OUTPUT_GRACE, self._end)

        def processEnded(reason: Failure) -> None:
            childLog.ended()
            ended(reason)
            self._end()

        protocol.processExited = processExited  # type: ignore[method-assign]
        protocol.processEnded = processEnded  # type: ignore[method-assign]

    def runsAs(self, transport: IProcessTransport) -> bool:
        """
        Whether C{transport} is this run's process.
        """
        return self._transport is transport

    def kill(self) -> bool:
        """
        Send the process C{SIGKILL}, unless it has exited already (reaped:
        its PID may be another process's by now).

        @return: whether it was sent.
        """
        if self._transport is None:
            return False
        try:
            self._transport.signalProcess("KILL")
        except ProcessExitedAlready:
            return False
        return True

    def _logAbnormalExit(self, reason: Failure) -> None:
        """
        Say how the process exited, if not as a handler stops: with a
        status other than 0, or killed by a signal other than those that
        stop it (twistd raises again the one that stopped its reactor).
        Its own log says nothing of a SIGKILL (the kernel's OOM killer, an
        operator) or a crash, and procmon restarts it without a word.
        """
        value = reason.value
        if not isinstance(value, _PROCESS_TERMINATED):
            return
        # (Not typed by Twisted.)
        signalNumber: int | None = value.signal
        exitCode: int | None = value.exitCode
        if signalNumber is not None:
            if signalNumber in _STOPPING_SIGNALS:
                return
            try:
                name = signal.Signals(signalNumber).name
            except ValueError:
                name = str(signalNumber)
            how = f"killed by signal {signalNumber} ({name})"
        else:
            how = f"exited with status {exitCode}"
        self._log.warn(
            "spawned handler {name} (PID {pid}) {how}",
            name=self.name, pid=self.pid, how=how,
        )

    def whenEnded(self) -> Deferred[None]:
        """
        A L{Deferred} that fires once the process has ended (at once if it
        has), and that may be cancelled.
        """
        if self.ended:
            return succeed(None)
        waiter: Deferred[None] = Deferred(self._waiters.remove)
        self._waiters.append(waiter)
        return waiter

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        cancelCall(self._outputCall)
        self._outputCall = None
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)


def _handlerNumber(name: str) -> int:
    """
    The number at the end of a spawned handler's name (C{HOST:spawn-3}):
    they are numbered as they start.
    """
    return int(name.rsplit("-", 1)[1])


class SpawnedHandlers(MultiService):
    """
    The local handlers of C{--spawn}: started, restarted when they die (by
    a L{ProcessMonitor}), and replaced as soon as one starts draining (it was
    recycled by --max-requests, or stopped by hand), so that its
    replacement boots while it finishes its requests: the capacity lost is
    the draining one's for the replacement's boot, not for its drain.

    Signals to the front act on them (see L{serviceTree}): SIGHUP reloads
    them (L{reload}), SIGTTIN adds one (L{increase}), SIGTTOU drains one
    (L{decrease}).  If they exit before joining L{BOOT_FAILURES} times in a
    row, the front exits (L{bootFailed}).

    @ivar bootFailed: called when spawned handlers cannot boot, outside a
        reload; stops the front.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IFrontReactor,
        options: FrontSettings,
        links: PrivateLinks | None = None,
        publish: Callable[[LogEvent], None] = globalLogPublisher,
    ) -> None:
        MultiService.__init__(self)
        self._reactor = reactor
        self._options = options
        self._links = links
        # Called when stopping; the handlers are stopped once its result
        # fires (FrontService.whenDrained).
        self.stopAfter: Callable[[], Deferred[None]] | None = None
        self.bootFailed: Callable[[], None] = self._exitBootFailed
        # The names of the handlers supervised now: added before the
        # monitor starts one, removed when it stops supervising it.
        self._supervised: set[str] = set()
        # The processes started and not ended yet, supervised or retiring.
        self._running: dict[str, SpawnedProcess] = {}
        # Started (or restarted) and not joined since.
        self._notJoined: set[str] = set()
        # Called with a handler's name when its process exits.
        self.exitObservers: list[Callable[[str], None]] = []
        self._monitor = _handlerMonitor(
            reactor, self._processStarted, self._processExited, publish,
            self._supervised, self._running, self._notJoined,
        )
        # A draining handler gets its --graceful-timeout before SIGKILL.
        # (Seconds, a float, as Twisted documents it; its default, 5, types
        # it int.)
        killTime = options["graceful-timeout"] + SPAWN_KILL_MARGIN
        self._monitor.killTime = killTime  # type: ignore[assignment]
        # One that dies before it joined is restarted after a delay that
        # doubles (see _handlerMonitor), up to this.
        self._monitor.maxRestartDelay = SPAWN_RESTART_MAX_DELAY
        # How long one declared dead for its silence has to join again.
        self._silentKillDelay: float = max(
            options["timeout"], SILENT_KILL_HEARTBEATS * options["heartbeat"]
        )
        self._monitor.setServiceParent(self)
        self._host = socket.gethostname()
        self._count = 0
        self._stopping = False
        self._bootFailures = 0
        # During a reload: the old handler each new one retires once it joins.
        self._retiring: dict[str, str] = {}
        # A reload asked for during one, to start once that one is over.
        self._reloadAgain = False
        # Handlers declared dead for their silence and not joined since:
        # the call that kills each if it stays silent (L{handlerSilent}).
        self._silent: dict[str, IDelayedCall] = {}

    def startService(self) -> None:
        # The commands are made now: the addresses and keys are known only
        # once L{PrivateLinks} has started, and our PID once twistd has
        # daemonised.
        for _ in range(self._options["spawn"]):
            self._add()
        MultiService.startService(self)

    @property
    def booting(self) -> bool:
        """
        Whether a handler it started, and still supervises, has not joined
        the front yet.
        """
        return bool(self._notJoined & self._supervised)

    def frontStopping(self) -> None:
        """
        The front is stopping: from now on, a handler that drains or exits
        (Ctrl-C reaches the whole process group) is neither replaced nor
        restarted.  Only sets flags: called from a signal handler.
        """
        self._stopping = True
        self._monitor.running = False

    def stopService(self) -> Deferred[None]:
        """
        Stop the handlers (SIGTERM: they drain), once L{stopAfter} has
        fired if set: the front's requests in progress need them.  Fire
        once every handler process has ended (L{_waitForHandlers}), as
        gunicorn's arbiter waits for its workers, so that the front exits
        after them, with their last lines in its log.
        """
        self.frontStopping()
        drained = succeed(None) if self.stopAfter is None else self.stopAfter()

        def stopHandlers(ignored: None) -> Deferred[None]:
            return self._stopHandlers()

        return drained.addCallback(stopHandlers)

    def _stopHandlers(self) -> Deferred[None]:
        began = self._reactor.seconds()
        for call in self._silent.values():
            cancelCall(call)
        self._silent.clear()
        # The monitor sends SIGTERM to those it supervises, and SIGKILL to
        # any still there killTime seconds later.  Those retiring (drained
        # by SIGTTOU, a reload, --max-requests) got theirs when they were
        # removed, so earlier.
        MultiService.stopService(self)
        return self._waitForHandlers(
            list(self._running.values()),
            began,
            self._monitor.killTime + SPAWN_REAP_MARGIN,
        )

    def _waitForHandlers(
        self, processes: list[SpawnedProcess], began: float, bound: float
    ) -> Deferred[None]:
        """
        Wait until each of C{processes} has ended, for at most C{bound}
        seconds: every one of them has been sent SIGKILL by then, and one
        still not reaped (stuck in the kernel) must not keep the front
        from exiting.  Log how many were waited for, and for how long.
        """
        count = len(processes)

        def ended(result: object) -> None:
            # Whether all ended, or the bound came first (then the wait
            # was cancelled): what is left says which.
            seconds = round(self._reactor.seconds() - began, 1)
            left = [process for process in processes if not process.ended]
            if not left:
                self._log.info(
                    "mpfront stopping: waited {seconds} s for {count} spawned "
                    "handlers to exit",
                    seconds=seconds, count=count,
                )
                return
            self._log.warn(
                "mpfront stopping: {left} of {count} spawned handlers still "
                "there {seconds} s after SIGTERM, SIGKILL included: {names}; "
                "exiting without them",
                left=len(left), count=count, seconds=seconds,
                names=" ".join(
                    "%s (PID %s)" % (process.name, process.pid) for process in left
                ),
            )

        waiting = gatherResults(
            [process.whenEnded() for process in processes], consumeErrors=True
        )
        waiting.addTimeout(bound, self._reactor, onTimeoutCancel=lambda result, timeout: None)
        return waiting.addCallback(ended)

    def _add(self) -> str:
        self._count += 1
        name = "%s:spawn-%d" % (self._host, self._count)
        curveFiles = self._links.handlerCurve if self._links is not None else None
        # Before addProcess, which starts it at once if the monitor runs.
        self._supervised.add(name)
        self._monitor.addProcess(
            name,
            handlerCommand(self._options, name, os.getpid(), curveFiles),
            env=dict(os.environ),
        )
        return name

    def _retire(self, name: str) -> None:
        # SIGTERM: it drains; SIGKILLed only if still there after its
        # graceful timeout.  No longer supervised, so not replaced.
        self._notJoined.discard(name)
        cancelCall(self._silent.pop(name, None))
        self._supervised.discard(name)
        self._monitor.removeProcess(name)

    @property
    def names(self) -> list[str]:
        """
        The names of the handlers supervised now, oldest first.
        """
        return sorted(self._supervised, key=_handlerNumber)

    def handlerDraining(self, name: str) -> None:
        """
        A handler is draining: if it is one of ours, start its replacement
        now, and stop supervising it (it exits when drained).
        """
        if name not in self._supervised or self._stopping:
            return
        if name in self._retiring.values():
            # A reload's new handler replaces it already: another would
            # leave one handler more after the reload, at every SIGHUP
            # that finds one recycling (--max-requests).
            self._log.info(
                "draining handler {name} is replaced by the reload", name=name
            )
        else:
            self._log.info("replacing draining handler {name}", name=name)
            self._add()
        self._retire(name)

    def handlerSilent(self, name: str) -> None:
        """
        A handler was declared dead for its silence (three heartbeats): if
        it is one of ours and has not joined again C{--timeout} seconds
        later (or L{SILENT_KILL_HEARTBEATS} heartbeats, if longer), kill it
        (C{SIGKILL}), and the monitor starts another, as gunicorn's arbiter
        kills a worker silent for its C{--timeout}.  A
        handler that is frozen (C{SIGSTOP}), or stuck in its reactor thread,
        would otherwise keep its place for ever, serving nothing.

        One that lives joins again within a few heartbeats: after a
        C{SIGCONT}, or after the front itself was frozen, which declares
        every handler dead when it wakes.
        """
        process = self._running.get(name)
        if (
            name not in self._supervised
            or self._stopping
            or process is None
            # The process under its name now never joined: the silent one
            # died, and this one, started since, is booting.
            or name in self._notJoined
        ):
            return
        cancelCall(self._silent.pop(name, None))
        self._silent[name] = self._reactor.callLater(
            self._silentKillDelay, self._killSilent, name, process
        )

    def _killSilent(self, name: str, process: SpawnedProcess) -> None:
        del self._silent[name]
        # The same run of it, not ended (then it would be gone from
        # _running), still supervised: one that died meanwhile and was
        # restarted under its name is booting, not silent.
        if (
            self._stopping
            or name not in self._supervised
            or self._running.get(name) is not process
        ):
            return
        if process.kill():
            self._log.warn(
                "spawned handler {name} (PID {pid}) has not joined again {seconds} s "
                "after it was declared dead: killed (SIGKILL), to be restarted",
                name=name, pid=process.pid, seconds=self._silentKillDelay,
            )

    def handlerJoined(self, name: str) -> None:
        """
        A handler registered with the front: if it is one of ours, it
        booted; if it replaces an old one in a reload, drain the old one.
        """
        cancelCall(self._silent.pop(name, None))
        if name not in self._supervised:
            return
        self._notJoined.discard(name)
        self._bootFailures = 0
        if name not in self._retiring:
            return
        old = self._retiring.pop(name)
        if old in self._supervised:
            self._log.info(
                "reload: {new} joined, draining {old}", new=name, old=old
            )
            self._retire(old)
        # (An old one that drained by itself meanwhile is gone already.)
        if not self._retiring:
            self._reloadDone()

    def _reloadDone(self) -> None:
        self._log.info("reload: done, handlers {names}", names=" ".join(self.names))
        self._reloadIfAsked()

    def _processExited(self, name: str) -> None:
        for observer in self.exitObservers:
            observer(name)

    def _processStarted(self, name: str) -> None:
        if name in self._notJoined:
            # Restarted without ever joining.
            self._bootFailures += 1
            self._log.error(
                "spawned handler {name} exited before joining ({count} in a row)",
                name=name, count=self._bootFailures,
            )
            if self._bootFailures >= BOOT_FAILURES:
                self._bootFailures = 0
                # Those that joined and have not died since.
                serving = self._supervised - self._notJoined - {name}
                if self._retiring:
                    self._abandonReload()
                elif serving:
                    # (One added by SIGTTIN, or the replacement of one
                    # recycled or crashed, once the code on disk is broken.)
                    # Exiting would take the handlers that serve with it.
                    self._log.error(
                        "spawned handler {name} failed to boot {count} times in "
                        "a row (see its lines above): started again, while "
                        "{serving} other handlers serve",
                        name=name, count=BOOT_FAILURES, serving=len(serving),
                    )
                else:
                    self._notJoined.clear()
                    # Not started again (the monitor asks this first): the
                    # front gives up, and would only stop it.
                    self._supervised.discard(name)
                    self.bootFailed()
                    return
        self._notJoined.add(name)

    def _abandonReload(self) -> None:
        self._log.error(
            "reload failed: the new handlers do not boot (see their lines "
            "above); the old ones go on serving"
        )
        for new, old in list(self._retiring.items()):
            # One whose old handler drained meanwhile is its replacement,
            # as it would be outside a reload: kept (its boot failures go
            # on counting).
            if new in self._supervised and old in self._supervised:
                self._retire(new)
        self._retiring.clear()
        self._reloadIfAsked()

    def _reloadIfAsked(self) -> None:
        """
        A reload is over: start the one asked for meanwhile, if any (in
        the next iteration, not inside the process monitor's call that
        ended this one).
        """
        if self._reloadAgain:
            self._reloadAgain = False
            self._reactor.callLater(0, self.reload)

    def _exitBootFailed(self) -> None:
        if self._stopping:
            return
        self._log.critical(
            "mpfront: spawned handlers failed to boot {count} times in a row "
            "(see their lines above): exiting",
            count=BOOT_FAILURES,
        )
        _stopAndExit(self._reactor, BOOT_FAILED_STATUS, self._options)

    def reload(self) -> None:
        """
        Replace every handler by a new one, which loads the application's
        code anew, draining each old one once its replacement has joined:
        no request is refused or lost meanwhile (SIGHUP).

        Asked again during a reload (the code changed again: a second
        deployment, or C{--reload} seeing another edit), it starts another
        once this one is over, since the new handlers may have imported
        the code before the change; asked several times, only one.  If
        the new handlers have failed to boot already (a broken file saved,
        then fixed), this one is abandoned at once for the next, rather
        than after their restarts, with the process monitor's growing
        delay, have failed L{BOOT_FAILURES} times: those would only import
        the code again, which has changed since.
        """
        if self._stopping:
            self._log.info("reload: not started: the front is stopping")
            return
        if self._retiring:
            if self._bootFailures and self._notJoined & set(self._retiring):
                self._bootFailures = 0
                self._reloadAgain = True
                self._abandonReload()
                return
            if not self._reloadAgain:
                self._reloadAgain = True
                self._log.info(
                    "reload: already reloading; another will follow once it is done"
                )
            return
        old = self.names
        self._log.info("reload: starting {count} new handlers", count=len(old))
        for name in old:
            self._retiring[self._add()] = name

    def increase(self) -> None:
        """
        Start one more handler (SIGTTIN).
        """
        if self._stopping:
            self._log.info("not adding a handler: the front is stopping")
            return
        name = self._add()
        self._log.info("adding handler {name}: {count} now",
                       name=name, count=len(self.names) - len(self._replaced()))

    def _replaced(self) -> dict[str, str]:
        """
        During a reload, the old handlers supervised still, each with the
        new one that replaces it: on their way out, they do not count.
        """
        return {
            old: new for new, old in self._retiring.items() if old in self._supervised
        }

    def decrease(self) -> None:
        """
        Drain the oldest handler that does not serve (one booting, added or
        restarted, or declared dead for its silence), else the oldest, unless
        it is the last one (SIGTTOU): draining the one that serves while
        another boots would leave none serving until that one joined, and
        none at all, the front exiting, if it cannot boot.

        During a reload, the new handler started to replace it is stopped
        too: else it would take its place, and the reload end with as many
        handlers as it began with.
        """
        if self._stopping:
            self._log.info("not removing a handler: the front is stopping")
            return
        names = self.names
        replacing = self._replaced()
        count = len(names) - len(replacing)
        if count <= 1:
            self._log.info("not removing the last handler")
            return
        # A reload's new handler whose old one is still there goes with
        # that old one.
        replacements = set(replacing.values())
        candidates = [name for name in names if name not in replacements]
        idle = [
            name for name in candidates
            if name in self._notJoined or name in self._silent
        ]
        oldest = (idle or candidates)[0]
        replacement = replacing.get(oldest)
        if replacement is None:
            self._log.info("removing handler {name}: {count} now",
                           name=oldest, count=count - 1)
            self._retire(oldest)
            # It may be a reload's new handler whose old one has drained
            # already (recycled): the reload waits for it no more.
            if self._retiring.pop(oldest, None) is not None and not self._retiring:
                self._reloadDone()
            return
        self._log.info(
            "removing handler {name}, and {new}, started to replace it: {count} now",
            name=oldest, new=replacement, count=count - 1,
        )
        del self._retiring[replacement]
        self._retire(replacement)
        self._retire(oldest)
        if not self._retiring:
            self._reloadDone()


_nothingToReload = explanation(
    "txmp.fronttap",
    "SIGHUP: no --spawn handlers to reload; handlers started apart are "
    "reloaded by starting new ones and stopping the old (docs/deployment.md)"
)


_profileElsewhere = explanation(
    "txmp.fronttap",
    "SIGUSR2: ignored; a front has nothing to profile or upgrade (SIGUSR2 "
    "to an mphandler profiles it; SIGHUP reloads --spawn handlers)"
)


_noHandlersToAdd = explanation(
    "txmp.fronttap",
    "SIGTTIN: ignored; no --spawn handlers to add to: start another mphandler"
)


_noHandlersToRemove = explanation(
    "txmp.fronttap",
    "SIGTTOU: ignored; no --spawn handlers to remove: send SIGTERM to an "
    "mphandler, which drains it"
)


class _FrontTree(MultiService):
    """
    The services of C{twistd mpfront}: those that started are stopped when
    one of the next cannot start (it raises C{SystemExit}, with its one
    line), so that what they made (the C{--spawn} front's private
    directory) is not left behind; twistd exits without running the
    reactor, and so without stopping them, nor removing its pidfile or
    telling the twistd that launched it as a daemon (L{leaveTwistd}).

    @ivar options: the front's options.
    """

    def __init__(self, options: object = None) -> None:
        MultiService.__init__(self)
        self.options = options

    def privilegedStartService(self) -> None:
        try:
            MultiService.privilegedStartService(self)
        except SystemExit as e:
            # (Only the front's ports are open, and it closed them.)
            leaveTwistd(self.options, str(e))
            raise

    def startService(self) -> None:
        try:
            MultiService.startService(self)
        except SystemExit as e:
            # (Each a Service: IService does not type running.)
            services: list[Service] = list(self)
            for service in reversed(services):
                if service.running:
                    service.stopService()
            # (The line: str() of a StartFailure, whose code is 1.)
            leaveTwistd(self.options, str(e))
            raise


def serviceTree(
    options: FrontSettings,
    reactor: IFrontReactor,
    handlerPath: tuple[list[str], str] | None = None,
    configTable: dict[str, object] | None = None,
    configOverridden: frozenset[str] = frozenset(),
) -> MultiService:
    """
    The service tree of C{twistd mpfront}, for L{txmp.fronttap.makeService}.

    Every signal of the table in docs/deployment.md ("Signals") has an
    action, if only to log that it changes nothing: the default actions of
    C{SIGUSR2}, C{SIGTTIN} and C{SIGTTOU} (which operators of gunicorn send
    to its master) would kill or freeze the front.

    @param options: the front's parsed options.
    @param handlerPath: with C{--spawn}, where the spawned handlers look
        for C{--app} (L{txmp.fronttap.Options.handlerPath}): what
        C{--reload} watches.
    @param configTable: the C{[mpfront]} table of the C{--config} file, as
        the options were read from it (SIGHUP says what changed since).
    @param configOverridden: the options given on the command line or by
        environment variables, which override that file's.
    """
    top = _FrontTree(options)
    links: PrivateLinks | None = None
    if options["spawn"]:
        # Started before the front and its handlers, whose options it
        # completes.
        links = PrivateLinks(options)
        links.setServiceParent(top)
    front = FrontService(reactor, options, configTable, configOverridden)
    front.setServiceParent(top)
    if links is not None:
        # Its sockets and keys stay while the front stops: a handler still
        # booting may join it yet.
        links.stopAfter = front.whenStopped
    signals = SignalActions(
        reactor,
        {
            signal.SIGUSR1: front.reopenLogs,
            signal.SIGHUP: front.hangup,
            signal.SIGUSR2: _profileElsewhere,
            signal.SIGTTIN: _noHandlersToAdd,
            signal.SIGTTOU: _noHandlersToRemove,
        },
        once=[signal.SIGINT, signal.SIGTERM],
        # Its default action would kill the front at once (and dump core),
        # leaving its pidfile, private directory and requests in progress.
        aliases={signal.SIGQUIT: signal.SIGTERM},
    )
    signals.setServiceParent(top)
    if options["spawn"]:
        spawned = SpawnedHandlers(reactor, options, links)
        front.drainObservers.append(spawned.handlerDraining)
        front.joinObservers.append(spawned.handlerJoined)
        front.silenceObservers.append(spawned.handlerSilent)
        spawned.exitObservers.append(front.handlerExited)
        front.reloadHandlers = spawned.reload
        signals.actions.update({
            signal.SIGTTIN: spawned.increase,
            signal.SIGTTOU: spawned.decrease,
        })
        spawned.stopAfter = front.whenDrained
        def frontStopping() -> None:
            # (In the signal handler: flags, and a call scheduled.)
            spawned.frontStopping()
            dispatcher = front.dispatcher
            if options["private-addresses"] and dispatcher is not None:
                # None but its own handlers can reach its private addresses,
                # and it starts no more: once they drain and none still
                # boots, nothing can serve what waits in its queue (503
                # then, not at --queue-timeout).
                dispatcher.lastHandlers(lambda: spawned.booting)
                reactor.callFromThread(dispatcher.failStranded)

        # Ctrl-C reaches the spawned handlers too, which drain at once: the
        # front must know it is stopping before it reads their BYEs.
        signals.immediate = {
            signal.SIGINT: frontStopping,
            signal.SIGTERM: frontStopping,
        }
        spawned.setServiceParent(top)
        app = options["app"]
        # (All three, or --reload not given: postOptions checks them.)
        if options["reload"] and handlerPath is not None and app is not None:
            pythonpath, directory = handlerPath
            root = sourceRoot(app, directory, pythonpath)
            if root is not None:

                def changed(paths: list[str]) -> None:
                    Logger(namespace="txmp.fronttap").info(
                        "mpfront --reload: {paths} changed", paths=" ".join(paths)
                    )
                    spawned.reload()

                CodeWatcher(reactor, root, changed).setServiceParent(top)
    return top
