# -*- test-case-name: txmp.test.test_tap,txmp.test.test_security -*-
"""
C{twistd mpfront}: its options, what they hold once parsed
(L{FrontSettings}, the type the front's services read), and
L{makeService}, which makes the front's service tree
(L{txmp._frontservice}).

twistd imports this module to parse the options, C{--help} included: it
imports only what they need (no ZeroMQ, Twisted Web or pyOpenSSL; see
"Start-up" in C{docs/benchmarks.md}).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Optional, TypedDict, cast

from twisted.python import usage

from txmp import protocol
from txmp._defaults import (
    ACCESS_LOG_FORMATS,
    DEFAULT_ACCESS_LOG_FORMAT,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_GRACEFUL_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HEARTBEAT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_LISTEN,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_MESSAGE,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_REQUEST_LINE,
    DEFAULT_PREFETCH,
    DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_RETURN,
    DEFAULT_SEND,
    DEFAULT_THREADS,
    DEFAULT_TIMEOUT,
    DEFAULT_WINDOW,
    FD_RESERVE,
    MAX_CREDITS,
    MIN_HEARTBEAT,
    MIN_MAX_MESSAGE,
    MIN_PROGRESS,
)
from txmp._http import Network, parseNetwork
from txmp._options import (
    OptParameter,
    TxmpOptions,
    checkAddresses,
    checkJitter,
    checkPrefetch,
    checkPrivateDirectory,
    checkWritable,
    findSpec,
    handlerSearchPath,
    nonNegative,
    passedOnToHandlers,
    positive,
    reactorOrGlobal,
    refuseDaemonStdout,
    scriptName,
    splitApplication,
)
from txmp._security import checkFrontSecurity

if TYPE_CHECKING:
    from twisted.application.service import MultiService

    from txmp._interfaces import IFrontReactor


#: What L{Options} holds once parsed (C{postOptions} done), each key with
#: the type of its value then: the options (a flag is Twisted's 0 or 1),
#: and what C{postOptions} adds (C{trust-unix}, C{private-addresses}, the
#: loaded CURVE keys).  (The functional form: the keys have hyphens.  At
#: run time, on Python 3.9: C{Optional}, not C{X | None}.)
_FrontParsed = TypedDict("_FrontParsed", {
    "access-log": Optional[str],
    "access-log-format": str,
    "app": Optional[str],
    "body-timeout": float,
    "config": Optional[str],
    "curve": Optional[tuple[bytes, bytes]],
    "curve-allow": Optional[str],
    "curve-allowed": Optional[frozenset[bytes]],
    "curve-secret-key": Optional[str],
    "graceful-timeout": float,
    "header-timeout": float,
    "heartbeat": float,
    "idle-timeout": float,
    "insecure": int,
    "listen": list[str],
    "log-format": str,
    "log-level": str,
    "max-body": int,
    "max-connections": int,
    "max-header-bytes": int,
    "max-headers": int,
    "max-message": int,
    "max-queue": int,
    "max-request-line": int,
    "max-requests": int,
    "max-requests-jitter": int,
    "private-addresses": bool,
    "queue-timeout": float,
    "reject-underscore-headers": int,
    "reload": int,
    "return": str,
    "script-name": Optional[str],
    "send": str,
    "spawn": int,
    "stats": Optional[str],
    "threads": Optional[int],
    "prefetch": Optional[int],
    "timeout": float,
    "trust-unix": bool,
    "trusted-proxy": list[Network],
    "window": int,
})

#: What the front's services add once it starts: with C{--spawn} and
#: CURVE, the public key of the spawned handlers
#: (L{txmp._frontservice.PrivateLinks}).
_FrontStarted = TypedDict("_FrontStarted", {
    "curve-spawn-key": bytes,
}, total=False)


class FrontSettings(_FrontParsed, _FrontStarted):
    """
    The parsed options of C{twistd mpfront}, typed (L{Options.settings}):
    what the front's services read.
    """


def checkSpawnedValues(settings: FrontSettings) -> None:
    """
    Refuse, with a usage error naming them as the C{--spawn} handlers',
    values from the C{[mphandler]} table of C{--config} (or C{TXMP_CONFIG})
    or from C{TXMP_MPHANDLER_} variables that every handler would refuse
    (C{threads = 0}): each would exit at once, and the front after three of
    them, with status 3, where a usage error of its own is one line.  What
    the front passes on to its handlers (L{passedOnToHandlers}) wins over
    those, as it does when they start.
    """
    # (Not at the top: twistd mpfront --help need not import the handler's.)
    from txmp.handlertap import checkSpawnedOptions

    try:
        checkSpawnedOptions(passedOnToHandlers(settings))
    except usage.UsageError as e:
        raise usage.UsageError(
            f"the --spawn handlers would refuse their options: {e} (from the "
            "[mphandler] table of the --config file, or the environment)"
        ) from None


def checkApplicationModule(spec: str, searchPath: tuple[list[str], str]) -> None:
    """
    Check that C{--app} has the form handlers take (L{splitApplication})
    and that its module can be found where spawned handlers will look for
    it (their C{pythonpath} and working directory, L{handlerSearchPath},
    then C{sys.path}), importing
    nothing (L{findSpec}): a typo is refused at once instead of by handlers that fail
    to boot over and over.  An app that is found but fails to import is
    caught by L{txmp._frontservice.SpawnedHandlers} when its handlers fail
    to boot.

    @param searchPath: the handlers' C{pythonpath} and working directory
        (L{handlerSearchPath}).
    @raise usage.UsageError: if the module cannot be found.
    """
    moduleName = splitApplication(spec)[0]
    pythonpath, directory = searchPath
    try:
        found = findSpec(moduleName, directory, pythonpath)
    except ValueError as e:
        raise usage.UsageError(f"--app {spec}: {e}") from None
    if found is None:
        raise usage.UsageError(f"--app {spec}: no module named {moduleName!r}")


class Options(TxmpOptions):
    """
    Options of C{twistd mpfront}.

    @ivar handlerPath: with C{--spawn}, where the spawned handlers
        will look for C{--app} (L{handlerSearchPath}); else L{None}.
    """

    handlerPath: tuple[list[str], str] | None = None

    command = "mpfront"

    # (Opened once the front starts, an empty --access-log failed under the
    # first --listen's name.)
    emptyHints: ClassVar[dict[str, str]] = {
        "access-log": "a file, or - for standard output",
    }

    longdesc = (
        "Accept HTTP and pass every request over ZeroMQ to mphandler "
        "processes, which connect to the --send and --return addresses."
    )
    optParameters: ClassVar[list[OptParameter]] = [
        ["send", None, None,
         "ZeroMQ address to bind for requests (default " + DEFAULT_SEND
         + "; with --spawn and neither --send nor --return, ipc:// in a "
         "private directory)."],
        ["return", None, None,
         "ZeroMQ address to bind for replies (default " + DEFAULT_RETURN
         + "; see --send)."],
        ["timeout", None, DEFAULT_TIMEOUT,
         "Seconds to wait for a reply: then 504 (mid-body, an abort, once "
         "neither the handler sends nor the client takes %d KiB of what the "
         "front holds for it in that long; after the reply, once the client "
         "takes less than %d KiB of what the front still holds for it in "
         "that long); " % (MIN_PROGRESS // 1024, MIN_PROGRESS // 1024) +
         "not counted while the client's request body is awaited "
         "(--body-timeout). A client that acknowledges nothing sent to it "
         "in that long (15 s at least; its network gone) is disconnected "
         "(TCP_USER_TIMEOUT). "
         "Also how long (at least 10 heartbeats) a --spawn "
         "handler declared dead may take to join again before it is killed "
         "and restarted.",
         positive(float)],
        ["queue-timeout", None, DEFAULT_QUEUE_TIMEOUT,
         "Seconds a request may wait for a handler with capacity: then 503.",
         positive(float)],
        ["max-queue", None, DEFAULT_MAX_QUEUE, "How many requests may wait: more get 503.",
         positive(int)],
        ["heartbeat", None, DEFAULT_HEARTBEAT,
         "Seconds between heartbeats; a handler silent for "
         f"{protocol.SILENT_INTERVALS} is dead (at least {MIN_HEARTBEAT:g}).",
         positive(float, least=MIN_HEARTBEAT)],
        ["window", None, DEFAULT_WINDOW,
         "Response-body bytes a handler may send for one request before the "
         "client has taken them (flow control).",
         # Told to handlers with every request (REQ's window).
         positive(int, most=protocol.MAX_INT)],
        ["max-body", None, DEFAULT_MAX_BODY,
         "Largest request body in bytes: a larger one gets 413.",
         positive(int)],
        ["header-timeout", None, DEFAULT_HEADER_TIMEOUT,
         "Seconds from the first byte of a request to the end of its head: "
         "then 408 (not extended by more bytes).",
         positive(float)],
        ["body-timeout", None, DEFAULT_BODY_TIMEOUT,
         "Seconds a request body may take to arrive, counted while the "
         "front reads it: then 408 and the request is cancelled (not "
         "extended by more bytes).",
         positive(float)],
        ["idle-timeout", None, DEFAULT_IDLE_TIMEOUT,
         "Seconds a connection may stay open with no request, counted from "
         "when its last response was all sent: then it is closed.",
         positive(float)],
        ["max-request-line", None, DEFAULT_MAX_REQUEST_LINE,
         "Longest request line in bytes: a longer one gets 414.",
         positive(int)],
        ["max-headers", None, DEFAULT_MAX_HEADERS,
         "Most header fields in a request: more get 431.",
         positive(int)],
        ["max-header-bytes", None, DEFAULT_MAX_HEADER_BYTES,
         "Most bytes of header fields in a request: more get 431.",
         positive(int)],
        ["max-connections", None, DEFAULT_MAX_CONNECTIONS,
         "Most client connections open at once: at this many a new client "
         "takes the place of the connection idle the longest, and with none "
         "idle the front stops accepting, and new clients wait in the listen "
         f"backlog (0: the file descriptor limit less {FD_RESERVE}).",
         nonNegative(int)],
        ["access-log", None, None,
         "Write an access log to this file, or to stdout with -; SIGUSR1 "
         "reopens the file (for logrotate)."],
        ["access-log-format", None, DEFAULT_ACCESS_LOG_FORMAT,
         "Access log format: combined (Apache's, then the duration in "
         "seconds and the request id) or json (an object per line)."],
        ["stats", None, None,
         "Serve the front's counts on this endpoint (e.g. "
         "tcp:8081:interface=127.0.0.1): JSON at /, Prometheus metrics at "
         "/metrics, /healthz and /readyz."],
        ["spawn", None, 0, "Start and supervise this many local mphandlers.",
         nonNegative(int)],
        ["app", None, None, "WSGI application (mod:app) for --spawn handlers."],
        ["threads", None, None, "--threads of --spawn handlers (default: mphandler's, "
         f"{DEFAULT_THREADS}).",
         positive(int, most=MAX_CREDITS)],
        ["prefetch", None, None, "--prefetch of --spawn handlers (default: "
         f"mphandler's, {DEFAULT_PREFETCH}).",
         nonNegative(int)],
        ["graceful-timeout", None, DEFAULT_GRACEFUL_TIMEOUT,
         "Seconds to finish the requests in progress when stopping (SIGTERM), "
         "for the front and its --spawn handlers.",
         positive(float)],
        ["max-requests", None, 0, "--max-requests of --spawn handlers.",
         nonNegative(int)],
        ["max-requests-jitter", None, 0, "--max-requests-jitter of --spawn handlers.",
         nonNegative(int)],
        ["script-name", None, None,
         "--script-name of --spawn handlers: the path prefix their "
         "application is mounted under (default: mphandler's)."],
        ["curve-secret-key", None, None,
         "CURVE: the front's secret certificate (NAME.key_secret, from "
         "python -m txmp.keys NAME); with --curve-allow."],
        ["curve-allow", None, None,
         "CURVE: directory of the public certificates (*.key) of the "
         "handlers allowed to connect, read again when it changes; every "
         "other peer is refused."],
        ["max-message", None, DEFAULT_MAX_MESSAGE,
         "Largest ZeroMQ frame accepted from a peer, in bytes: a peer that "
         f"sends a larger one is disconnected (at least {MIN_MAX_MESSAGE}).",
         # Told to every handler in WELCOME (max_message).
         positive(int, most=protocol.MAX_INT, least=MIN_MAX_MESSAGE)],
    ]
    optFlags: ClassVar[list[list[str | None]]] = [
        ["reload", None,
         "Development: reload the --spawn handlers (as SIGHUP does) when a "
         ".py file of the --app's package changes (of the whole directory "
         "it is in, if that is the handlers' working directory or one of "
         "their pythonpath directories)."],
        ["reject-underscore-headers", None,
         "Answer 400 to a header name containing '_' instead of dropping "
         "the header."],
        ["insecure", None,
         "Allow --send/--return addresses reachable from other hosts "
         "without CURVE."],
    ]

    def __init__(self) -> None:
        TxmpOptions.__init__(self)
        settings = self.settings()
        settings["listen"] = []
        settings["trusted-proxy"] = []
        settings["trust-unix"] = False

    def opt_listen(self, description: str) -> None:
        self.settings()["listen"].append(description)

    opt_listen.__doc__ = f"""
        Listen for HTTP on this endpoint (a strports description such as
        tcp:8080 or ssl:8443:privateKey=key.pem); repeatable; default
        {DEFAULT_LISTEN}.
        """

    def opt_trusted_proxy(self, description: str) -> None:
        """
        Believe Forwarded, X-Forwarded-For, -Proto and -Host, and
        X-Request-Id from this address or CIDR network (e.g. 10.0.0.0/8), or
        with "unix" from peers on a UNIX socket (it must set or clear each);
        repeatable; default none.
        """
        if description.strip() == "unix":
            self["trust-unix"] = True
            return
        try:
            self.settings()["trusted-proxy"].append(parseNetwork(description))
        except ValueError:
            try:
                # 10.0.0.1/8: trusting the whole network, as nginx's
                # set_real_ip_from does (with a warning), may trust far
                # more than was meant.
                network = ipaddress.ip_network(description.strip(), strict=False)
            except ValueError:
                raise usage.UsageError(
                    f"--trusted-proxy must be an IP address or network, not {description!r}"
                ) from None
            raise usage.UsageError(
                f"--trusted-proxy {description.strip()} has host bits set: "
                f"write {network} for the network, or "
                f"{description.strip().split('/')[0]} for the one address"
            ) from None

    def settings(self) -> FrontSettings:
        """
        These options, typed: call once they are parsed (or, while they
        are, for what has its parsed type already).

        @return: this very object (a L{dict}), as L{FrontSettings}: what
            the front's services change in it (L{PrivateLinks
            <txmp._frontservice.PrivateLinks>} sets C{send} and C{return})
            changes these options.
        """
        return cast(FrontSettings, self)

    def postOptions(self) -> None:
        self.refuseEmpty()
        # Each option read below has its parsed type (FrontSettings) but
        # --send and --return, which are given their defaults here.
        settings = self.settings()
        # twistd's own options (--rundir, --nodaemon), when run by twistd.
        parent: object = getattr(self, "parent", None)
        twistd = cast("Mapping[str, object]", parent) if isinstance(parent, dict) else None
        if not settings["listen"]:
            settings["listen"] = [DEFAULT_LISTEN]
        app = settings["app"]
        if settings["spawn"] and not app:
            raise usage.UsageError("--spawn needs --app")
        if app and not settings["spawn"]:
            raise usage.UsageError("--app is only for --spawn")
        if app:
            # (So --spawn.)  Read once, from the [mphandler] table and
            # TXMP_MPHANDLER_ variables: --reload watches there too
            # (_frontservice).  They start where twistd --rundir (-d)
            # changes directory to.
            runDirectory = cast("str | None", twistd.get("rundir")) if twistd is not None else None
            self.handlerPath = handlerSearchPath(settings["config"], runDirectory)
            checkApplicationModule(app, self.handlerPath)
        if settings["reload"] and not settings["spawn"]:
            raise usage.UsageError("--reload is for --spawn handlers")
        if not settings["spawn"]:
            # Passed to the handlers the front spawns, and to nothing else:
            # without --spawn they would change nothing, silently.
            given: Mapping[str, object] = settings
            for name in (
                "threads", "prefetch", "max-requests", "max-requests-jitter", "script-name"
            ):
                if given[name] != self.defaults[name]:
                    raise usage.UsageError(
                        f"--{name} is for --spawn handlers (give it to mphandler)"
                    )
        checkJitter(settings)
        if settings["prefetch"] is not None:
            # mphandler refuses a --prefetch given over what its --threads
            # leave of the credits a front accepts: refused now, not by
            # every handler spawned.
            checkPrefetch(settings["threads"] or DEFAULT_THREADS, settings["prefetch"])
        if settings["script-name"] is not None:
            # Refused now, not by every handler spawned; passed on as given.
            scriptName(settings["script-name"])
        if app:
            # Checked once the front's own options are: those it passes on
            # win over what the handlers read themselves.
            checkSpawnedValues(settings)
        try:
            # Told to every handler in WELCOME, which writes at most 18
            # digits before the point (MIN_HEARTBEAT keeps it from having
            # too few after it): refused now, not at the first HELLO.
            protocol.encodeDecimal(settings["heartbeat"])
        except ValueError:
            raise usage.UsageError(
                f"--heartbeat {settings['heartbeat']!r} is too large to tell handlers"
            ) from None
        send: str | None = self["send"]
        returnTo: str | None = self["return"]
        # Only its own handlers need reach a front that spawns them and
        # was given no address: ipc:// in its private directory, which
        # L{PrivateLinks} makes at start, not the default TCP ports that
        # every local user can reach.
        settings["private-addresses"] = bool(settings["spawn"]) and (
            send is None and returnTo is None
        )
        if settings["private-addresses"]:
            checkPrivateDirectory()
        # The file read (TXMP_CONFIG's too, which the --spawn handlers would
        # read from their environment), for the --spawn handlers: resolved
        # now, since twistd --rundir changes directory before they start.
        if self.configFile:
            settings["config"] = os.path.abspath(self.configFile)
        settings["send"] = DEFAULT_SEND if send is None else send
        settings["return"] = DEFAULT_RETURN if returnTo is None else returnTo
        checkAddresses("--send", [settings["send"]])
        checkAddresses("--return", [settings["return"]])
        if settings["send"] == settings["return"]:
            # Its second bind would fail, blaming another process (ipc://:
            # another front running): its own --send's.
            raise usage.UsageError(
                f"--send and --return are both {settings['send']}: give two addresses"
            )
        checkFrontSecurity(settings)
        if settings["access-log-format"] not in ACCESS_LOG_FORMATS:
            raise usage.UsageError(
                "--access-log-format must be one of "
                f"{', '.join(ACCESS_LOG_FORMATS)}, not {settings['access-log-format']!r}"
            )
        accessLog = settings["access-log"]
        refuseDaemonStdout("--access-log", accessLog, twistd)
        if accessLog is not None and accessLog != "-":
            # Checked, not created: under twistd --uid the file is opened,
            # and so created, as that user, once the front starts.
            settings["access-log"] = checkWritable("--access-log", accessLog)


def makeService(options: Options, reactor: IFrontReactor | None = None) -> MultiService:
    """
    The service tree of C{twistd mpfront}
    (L{txmp._frontservice.serviceTree}).
    """
    # Imported here, not at the top: twistd imports this module to parse
    # the options, and --help or a usage error must not pay for what only a
    # running front needs (ZeroMQ, Twisted Web, pyOpenSSL).
    from txmp._frontservice import serviceTree

    return serviceTree(
        options.settings(),
        reactorOrGlobal(reactor),
        options.handlerPath,
        options.configTable,
        options.configOverridden,
    )
