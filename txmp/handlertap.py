# -*- test-case-name: txmp.test.test_tap,txmp.test.test_security -*-
"""
C{twistd mphandler}: its options, what they hold once parsed
(L{HandlerSettings}, the type the handler's services read), loading the
application, and L{makeService}, which makes the handler's service tree
(L{txmp._handlerservice}).

twistd imports this module to parse the options, C{--help} included: it
imports only what they need (no ZeroMQ or WSGI runner; see "Start-up" in
C{docs/benchmarks.md}).
"""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import sys
import sysconfig
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, Optional, TypedDict, cast

from twisted.python import usage

from txmp._defaults import (
    DEFAULT_GRACEFUL_TIMEOUT,
    DEFAULT_HEARTBEAT,
    DEFAULT_PREFETCH,
    DEFAULT_PROFILE_SECONDS,
    DEFAULT_RETURN,
    DEFAULT_SEND,
    DEFAULT_THREADS,
    MAX_CREDITS,
    MIN_HEARTBEAT,
)
from txmp._exit import ExitWithoutThreads
from txmp._logs import standardStreamsLateBound
from txmp._options import (
    OptParameter,
    TxmpOptions,
    checkAddresses,
    checkJitter,
    checkPrefetch,
    checkWritable,
    nonNegative,
    positive,
    reactorOrGlobal,
    scriptName,
    splitApplication,
    splitDirectories,
)
from txmp._security import checkHandlerSecurity
from txmp._signals import ForkedChildSignals

if TYPE_CHECKING:
    from twisted.application.service import MultiService

    from txmp._interfaces import IHandlerReactor
    from txmp._wsgi import Application


#: What L{Options} holds once parsed (C{postOptions} done), each key with
#: the type of its value then: the options, and what C{postOptions} adds
#: (C{fronts}, the loaded CURVE keys, the loaded C{application}).  (The
#: functional form: the keys have hyphens.  At run time, on Python 3.9:
#: C{Optional}, not C{X | None}; L{Application} by name, since
#: L{txmp._wsgi} is imported only once the handler runs.)
_HandlerParsed = TypedDict("_HandlerParsed", {
    "app": str,
    "application": "Application",
    "chdir": Optional[str],
    "config": Optional[str],
    "curve": Optional[list[tuple[bytes, bytes, bytes]]],
    "curve-secret-key": Optional[str],
    "curve-server-key": list[str],
    "fronts": list[tuple[str, str]],
    "graceful-timeout": float,
    "heartbeat": float,
    "log-format": str,
    "log-level": str,
    "max-requests": int,
    "max-requests-jitter": int,
    # Set, if not given, once the handler starts (after twistd forked).
    "name": Optional[str],
    "parent-pid": Optional[int],
    "profile": Optional[str],
    "profile-seconds": float,
    "prefetch": int,
    "pythonpath": list[str],
    "return": list[str],
    "script-name": Optional[str],
    "send": list[str],
    "threads": int,
})


class _HandlerUnderTwistd(TypedDict, total=False):
    """
    What C{postOptions} adds only when twistd parses the options (their
    C{parent} is twistd's), for the process that serves.
    """

    exiting: ExitWithoutThreads
    childSignals: ForkedChildSignals
    streamDescriptors: bool


class HandlerSettings(_HandlerParsed, _HandlerUnderTwistd):
    """
    The parsed options of C{twistd mphandler}, typed
    (L{Options.settings}): what the handler's services read.
    """


def _raisedAt(error: BaseException) -> str:
    """
    Say where in the application's code C{error} was raised, for the one
    line that reports it: the innermost frame of its traceback that is
    neither importlib's nor this module's.

    @return: C{" (at FILE, line N)"}, or C{""} if no frame is the
        application's (a module that does not exist) or the error names
        its place itself (a L{SyntaxError}).
    """
    if isinstance(error, SyntaxError):
        return ""
    ours = {importlib.__file__, __file__}
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith("<") and frame.filename not in ours
    ]
    if not frames:
        return ""
    innermost = frames[-1]
    # Raised in the standard library or an installed package (Django's
    # get_wsgi_application() with its settings module missing): the line
    # of the application's own code that called it first, which is the
    # operator's to read, then the library's.
    libraries = _libraryDirectories()
    if innermost.filename.startswith(libraries):
        own = [frame for frame in frames if not frame.filename.startswith(libraries)]
        if own:
            return (
                f" (at {own[-1].filename}, line {own[-1].lineno}; raised in "
                f"{innermost.filename}, line {innermost.lineno})"
            )
    return f" (at {innermost.filename}, line {innermost.lineno})"


def _libraryDirectories() -> tuple[str, ...]:
    """
    The directories of the standard library and of installed packages
    (C{sysconfig}'s, which a virtual environment's are), each ending in a
    separator.
    """
    paths = sysconfig.get_paths()
    return tuple(
        {
            os.path.join(os.path.realpath(paths[name]), "")
            for name in ("stdlib", "platstdlib", "purelib", "platlib")
            if name in paths
        }
        | {os.path.join(paths[name], "") for name in ("stdlib", "purelib") if name in paths}
    )


def _described(error: BaseException) -> str:
    """
    Say what the application's code raised, for the one line that reports
    it: C{"TYPE: MESSAGE"}, or for a L{SystemExit} the call that raised it
    (C{sys.exit(4)}, C{sys.exit('no settings')}), whose bare message would
    be a status or nothing.
    """
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r})"
    return f"{type(error).__name__}: {error}"


class _Terminated(BaseException):
    """
    C{SIGTERM} came while the application loaded (L{_interruptible}).  Not
    an L{Exception}: the application's import should not catch it
    (L{_Interruption} remembers it if it does).
    """


class _Interruption:
    """
    What came while the application loaded (L{_interruptible}).

    @ivar terminated: whether C{SIGTERM} came: remembered, since the
        application's code may catch the L{_Terminated} it raised (a bare
        C{except:} around an optional import) and go on loading, or raise
        another error in its place.
    """

    terminated = False

    def terminate(self, signum: int, frame: object) -> None:
        """
        The handler of C{SIGTERM} while the application loads.
        """
        self.terminated = True
        raise _Terminated()


def _dieBy(signum: int) -> None:
    """
    End this process with the default action of C{signum}, as twistd ends
    one its reactor stopped for a signal: a service manager that sent it
    sees the process killed by it, as it asked.
    """
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextmanager
def _interruptible() -> Iterator[_Interruption]:
    """
    Make C{SIGINT} raise L{KeyboardInterrupt} for the duration, in the main
    thread, even in a process started with it ignored (a shell script's
    background job), whose handler does not stop on it until its reactor
    runs (L{txmp._signals}); and C{SIGTERM}, unless ignored, raise
    L{_Terminated}, where its default action killed the handler without a
    word, and be remembered in the L{_Interruption} given; put back what
    they were after.
    """
    interruption = _Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield interruption
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    previousTerm = signal.getsignal(signal.SIGTERM)
    if previousTerm == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interruption.terminate)
    try:
        yield interruption
    finally:
        if previousTerm == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # (None: a handler not set from Python, which cannot be put back.)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def loadApplication(spec: str) -> Application:
    """
    Load a WSGI application named C{module:attribute} or
    C{module:factory()}, with C{sys.stdout} and C{sys.stderr} late-bound
    (L{standardStreamsLateBound}): what the application keeps of them
    writes into the handler's log once twistd has begun it.

    C{SIGTERM} while it loads (a service manager's stop, a C{--spawn}
    front stopping while a framework loads) ends the process by that
    signal, as it would have, but first says so on C{sys.stderr}, in one
    line: it was killed without a word.  So it does if the application's
    code caught what the signal raised (a bare C{except:} around an
    optional import) and went on loading, or raised another error instead.

    @raise usage.UsageError: if it cannot be imported or is not callable,
        or if C{SIGINT} came while it loaded (Ctrl-C, which reaches a
        C{--spawn} front's handlers too, while an application is slow to
        import): the handler stops there, in one line, as it would once
        running.
    """
    interruption = _Interruption()
    try:
        with standardStreamsLateBound(), _interruptible() as interruption:
            try:
                application = _load(spec)
            except KeyboardInterrupt:
                raise usage.UsageError(
                    f"--app {spec}: interrupted (SIGINT) while loading it"
                ) from None
    except (_Terminated, usage.UsageError):
        # (A SIGTERM the application's code caught and turned into
        # another error is reported as the SIGTERM it was.)
        if not interruption.terminated:
            raise
    else:
        if not interruption.terminated:
            return application
    line = f"mphandler: --app {spec}: stopped (SIGTERM) while loading it"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    _dieBy(signal.SIGTERM)
    # (Only where the signal does not end the process: a test's.)
    raise usage.UsageError(line)


def _load(spec: str) -> Application:
    moduleName, attribute, call = splitApplication(spec)
    try:
        module = importlib.import_module(moduleName)
    # The user's module: whatever its import raises is a usage error, and
    # so is its sys.exit(), which would end the handler without a word
    # (with status 0 for none, a normal stop to a service manager).
    except (Exception, SystemExit) as e:  # noqa: BLE001
        raise usage.UsageError(
            f"--app {spec}: cannot import {moduleName}: {_described(e)}"
            + _raisedAt(e)
        ) from None
    target: object = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            # (A module alone names its "application", as under gunicorn.)
            raise usage.UsageError(
                f"--app {spec}: {moduleName} has no attribute {attribute}"
                + ("" if ":" in spec else f" (give --app {moduleName}:NAME)")
            ) from None
        # The user's code too: a module's __getattr__ that makes the
        # application lazily (PEP 562), a property on the way.
        except (Exception, SystemExit) as e:  # noqa: BLE001
            raise usage.UsageError(
                f"--app {spec}: reading {attribute} failed: {_described(e)}"
                + _raisedAt(e)
            ) from None
    if call is not None:
        if not callable(target):
            raise usage.UsageError(f"--app {spec}: {attribute} is not callable")
        arguments, keywords = call
        try:
            target = target(*arguments, **keywords)
        # The user's factory: whatever it raises is a usage error, its
        # sys.exit() too.
        except (Exception, SystemExit) as e:  # noqa: BLE001
            raise usage.UsageError(
                f"--app {spec}: {spec.partition(':')[2]} failed: {_described(e)}"
                + _raisedAt(e)
            ) from None
    if not callable(target):
        raise usage.UsageError(f"--app {spec}: not a callable WSGI application")
    if _isAsync(target):
        # Called as WSGI, it would fail every request, with a 500 each
        # ("missing 1 required positional argument: 'send'", or "'coroutine'
        # object is not iterable"): refused at once, as uvicorn tells the
        # interfaces apart by the same check.
        raise usage.UsageError(
            f"--app {spec}: an async callable (an ASGI application?); "
            "mphandler runs WSGI (PEP 3333) applications, such as Django's "
            "wsgi.py application or Flask's app"
        )
    # (Callable and not async is all that can be checked before it is
    # called.)
    return cast("Application", target)


def _isAsync(target: object) -> bool:
    """
    Whether calling C{target} makes a coroutine or an asynchronous
    generator: an C{async def} function, or an object whose C{__call__} is
    one (Starlette's, FastAPI's or Django's ASGI application).
    """
    # (The class's __call__: an instance's async one, not type.__call__.)
    call: object = type(target).__call__
    for function in (target, call):
        if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(
            function
        ):
            return True
    return False


def _checkDistinct(sends: list[str], returns: list[str]) -> None:
    """
    Refuse, with a usage error, an address given twice among C{sends} and
    C{returns}.  A pair repeated (a front listed twice in a configuration)
    registered the handler twice with that front, as two handlers of the
    same name sharing the threads; and both of a pair's sockets on one
    address share a routing id at the front's send socket, which gives it
    to the last to connect: the front's C{WELCOME} went to the return
    socket, and the handler never registered.
    """
    seen: dict[str, str] = {}
    for option, addresses in (("--send", sends), ("--return", returns)):
        for address in addresses:
            if address in seen:
                raise usage.UsageError(
                    f"{address} is given twice (as {seen[address]} and {option}): "
                    "give each front once, and its --send and --return are two "
                    "addresses"
                )
            seen[address] = option


class Options(TxmpOptions):
    """
    Options of C{twistd mphandler}.
    """

    command = "mphandler"

    longdesc = (
        "Run a WSGI application in a thread pool, serving the requests of "
        "one or more mpfronts over ZeroMQ.  To serve several fronts, repeat "
        "--send and --return: the n-th --send pairs with the n-th --return."
    )
    optParameters: ClassVar[list[OptParameter]] = [
        ["app", None, None,
         "The WSGI application: module:app, module:make_app() (with literal "
         "arguments if any: module:make_app('prod', debug=False)), or a "
         "module alone (module:application)."],
        ["threads", None, DEFAULT_THREADS,
         "Size of the WSGI thread pool: requests run at once (at most "
         f"{MAX_CREDITS}, the credits a front accepts).",
         positive(int, most=MAX_CREDITS)],
        # None: not given (postOptions), for the default alone gives way
        # to a large --threads.
        ["prefetch", None, None,
         "Requests taken beyond --threads, to wait for a thread: fewer "
         "messages and wake-ups under load (0: none; with --threads, at "
         f"most {MAX_CREDITS}). A front sends them only while no handler "
         f"has a thread free (default {DEFAULT_PREFETCH}).",
         nonNegative(int)],
        ["name", None, None,
         "Name in logs and at the front (default host:pid, the PID of the "
         "process that serves: a daemon's, not the command's)."],
        ["heartbeat", None, DEFAULT_HEARTBEAT,
         f"Seconds between heartbeats (at least {MIN_HEARTBEAT:g}).",
         positive(float, least=MIN_HEARTBEAT)],
        ["graceful-timeout", None, DEFAULT_GRACEFUL_TIMEOUT,
         "Seconds to finish running requests when stopping (SIGTERM).",
         positive(float)],
        ["max-requests", None, 0,
         "Drain and exit after about this many requests (0: never).",
         nonNegative(int)],
        ["max-requests-jitter", None, 0,
         "Add a random 0..J to --max-requests, so handlers recycle apart.",
         nonNegative(int)],
        ["curve-secret-key", None, None,
         "CURVE: this handler's secret certificate (NAME.key_secret, from "
         "python -m txmp.keys NAME); with --curve-server-key."],
        ["profile", None, None,
         "Profile this handler from start to stop (its reactor thread and "
         "every request) and write the profile to this file (pstats)."],
        ["profile-seconds", None, DEFAULT_PROFILE_SECONDS,
         "Seconds a profile started by SIGUSR2 lasts; it is written to "
         "mphandler-NAME-TIME.pstats in the working directory.",
         positive(float)],
        ["chdir", None, None,
         "Change to this directory before loading the app [default: stay]; "
         "the working directory comes first on sys.path either way, after "
         "--pythonpath."],
        ["script-name", None, None,
         "Mount the application under this path prefix (e.g. /app, behind a "
         "proxy that passes /app/... on whole): it moves from PATH_INFO to "
         "SCRIPT_NAME, and a path outside it gets 404 [default: the "
         "SCRIPT_NAME environment variable, as gunicorn's; else none]."],
        ["parent-pid", None, None,
         "Stop when process PID is no longer this handler's parent (mpfront "
         "--spawn gives its own: a spawned handler dies with its front). With "
         "one front, the parent is taken for it: the handler stops at once, "
         "cutting its running requests; with several, it drains as on SIGTERM.",
         positive(int)],
    ]

    def __init__(self) -> None:
        TxmpOptions.__init__(self)
        settings = self.settings()
        settings["send"] = []
        settings["return"] = []
        settings["curve-server-key"] = []
        settings["pythonpath"] = []

    def opt_pythonpath(self, directories: str) -> None:
        """
        Directories to put first on sys.path, comma-separated (as gunicorn's
        --pythonpath); repeatable; default none.
        """
        self.settings()["pythonpath"].extend(splitDirectories(directories))

    def opt_send(self, address: str) -> None:
        self.settings()["send"].append(address)

    opt_send.__doc__ = f"""
        A front's --send address to connect to; repeatable (default
        {DEFAULT_SEND}).
        """

    def opt_return(self, address: str) -> None:
        self.settings()["return"].append(address)

    opt_return.__doc__ = f"""
        A front's --return address to connect to; repeatable, paired with
        --send in order (default {DEFAULT_RETURN}).
        """

    def opt_curve_server_key(self, path: str) -> None:
        """
        CURVE: the front's public certificate (NAME.key); repeatable, paired
        with --send in order, for fronts with keys of their own (default
        none; one certificate is every front's).
        """
        self.settings()["curve-server-key"].append(path)

    def settings(self) -> HandlerSettings:
        """
        These options, typed: call once they are parsed (or, while they
        are, for what has its parsed type already).

        @return: this very object (a L{dict}), as L{HandlerSettings}: what
            the handler's services change in it (L{HandlerTree
            <txmp._handlerservice.HandlerTree>} sets C{name}) changes these
            options.
        """
        return cast(HandlerSettings, self)

    def checkValues(self) -> None:
        """
        Refuse, with a usage error, values that no handler could run with
        (each option's own check is made as it is parsed): what this can
        tell without touching anything, importing the application or
        changing directory, so that a C{--spawn} front checks, as it starts,
        what its handlers will be given (L{checkSpawnedOptions}).  Sets
        C{prefetch} and C{script-name} to what the handler uses.
        """
        self.refuseEmpty()
        # Each option read below has its parsed type (HandlerSettings) but
        # --app and --prefetch, None if not given, which are checked here.
        settings = self.settings()
        app: str | None = self["app"]
        if not app:
            raise usage.UsageError("--app is required")
        checkJitter(settings)
        # Threads and prefetch together are the credits a front accepts:
        # the default prefetch gives way to --threads, one given is refused.
        prefetch: int | None = self["prefetch"]
        settings["prefetch"] = checkPrefetch(settings["threads"], prefetch)
        given = "--script-name"
        if settings["script-name"] is None:
            # gunicorn's variable, for operators who set it for gunicorn (an
            # empty one mounts nothing there either).
            settings["script-name"] = os.environ.get("SCRIPT_NAME") or None
            # (Named in a usage error: no --script-name was given.)
            given = "the SCRIPT_NAME environment variable (--script-name overrides it)"
        if settings["script-name"] is not None:
            settings["script-name"] = scriptName(settings["script-name"], given) or None

    def postOptions(self) -> None:
        self.checkValues()
        settings = self.settings()
        app: str | None = self["app"]
        assert app is not None, "checkValues() refuses it"
        if not settings["send"] and not settings["return"]:
            settings["send"], settings["return"] = [DEFAULT_SEND], [DEFAULT_RETURN]
        if len(settings["send"]) != len(settings["return"]):
            raise usage.UsageError(
                "give one --return for each --send (one pair per front)"
            )
        checkAddresses("--send", settings["send"])
        checkAddresses("--return", settings["return"])
        _checkDistinct(settings["send"], settings["return"])
        settings["fronts"] = list(zip(settings["send"], settings["return"]))
        checkHandlerSecurity(settings)
        if settings["chdir"] is not None:
            try:
                os.chdir(settings["chdir"])
            except OSError as e:
                raise usage.UsageError(f"--chdir {settings['chdir']}: {e.strerror}") from None
        if settings["profile"]:
            # Written when the handler stops: refused now, not after a
            # whole run profiled for nothing.
            settings["profile"] = checkWritable("--profile", settings["profile"])
        # As gunicorn does: --pythonpath first, then the directory it runs
        # in (twistd's script would put only its own bin directory first).
        for directory in reversed([*map(os.path.abspath, settings["pythonpath"]), os.getcwd()]):
            if directory in sys.path:
                sys.path.remove(directory)
            sys.path.insert(0, directory)
        if self.parent is not None:
            # Parsed by twistd (a test parses these options alone): this
            # process is the handler's, and must exit once stopped, or
            # once the application failed to load, whatever threads the
            # application left running.
            settings["exiting"] = ExitWithoutThreads()
            settings["exiting"].install()
        settings["application"] = loadApplication(app)
        if self.parent is not None:
            # (Its handlers now, the application's included; installed
            # once the process that serves has started.)
            settings["childSignals"] = ForkedChildSignals()
            settings["streamDescriptors"] = True
        # Without --name, the handler is named when it starts
        # (L{txmp._handlerservice.HandlerTree}): after twistd has forked, if
        # it runs as a daemon, so the name holds the daemon's PID.


class _ValuesOnly(Options):
    """
    L{Options} that, once parsed, only check their values
    (L{Options.checkValues}).
    """

    def postOptions(self) -> None:
        self.checkValues()


def checkSpawnedOptions(arguments: list[str]) -> None:
    """
    Check the options that C{mphandler} would be started with, given
    C{arguments} (those a C{--spawn} front passes on, and C{--config}),
    then the C{[mphandler]} table of that file and the C{TXMP_MPHANDLER_}
    variables, as it reads them: each value, and what L{Options.checkValues}
    checks; not the addresses, which a front gives its handlers, nor what
    needs the handler's working directory or the application.

    @raise usage.UsageError: for a value the handlers would refuse, where
        each would exit at once, and the front after three of them.
    """
    options = _ValuesOnly()
    usage.Options.parseOptions(options, options._configured(arguments, os.environ) + arguments)


def makeService(options: Options, reactor: IHandlerReactor | None = None) -> MultiService:
    """
    The service tree of C{twistd mphandler}
    (L{txmp._handlerservice.serviceTree}).

    @param reactor: the reactor to build on; L{None} (as twistd calls it)
        for the global one.
    """
    # Imported here, not at the top: twistd imports this module to parse
    # the options, and --help or a usage error must not pay for what only a
    # running handler needs (ZeroMQ, the WSGI runner).
    from txmp._handlerservice import serviceTree

    return serviceTree(options.settings(), reactorOrGlobal(reactor))
