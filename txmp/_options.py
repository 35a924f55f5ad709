# -*- test-case-name: txmp.test.test_tap -*-
"""
What the options of C{twistd mpfront} and C{twistd mphandler} share:
number checks, the form of C{--app} and where its module is found
(without importing it), C{--config} files and environment variables,
one-line usage errors, and the global reactor for their C{makeService}.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import platform
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib.machinery import ModuleSpec, PathFinder
from typing import (
    TYPE_CHECKING,
    Callable,
    ClassVar,
    Generic,
    NamedTuple,
    NoReturn,
    TypeVar,
    Union,
    cast,
)
from urllib.parse import unquote_to_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # Debian's PyPy is 3.9.
    import tomli as tomllib

from twisted.python import usage

import twisted
import txmp
from txmp._defaults import (
    DEFAULT_LOG_FORMAT,
    DEFAULT_LOG_LEVEL,
    DEFAULT_PREFETCH,
    MAX_CREDITS,
)
from txmp._interfaces import IFrontReactor
from txmp._logs import FORMATS, LEVELS, configureTwistd

if TYPE_CHECKING:
    from txmp.fronttap import FrontSettings

#: One of C{optParameters}: long name, short name, default, description and
#: (optionally) the coerce function.
OptParameter = list[Union[str, int, float, Callable[[str], object], None]]

_N = TypeVar("_N", int, float)


class _Number(Generic[_N]):
    """
    A coerce function for C{optParameters}: a number of C{kind}, positive
    (or, with C{zeroAllowed}, 0 or more), finite, at most C{most} and at
    least C{least} if given.  Its usage errors name the option, which
    L{TxmpOptions} gives it from its row (L{named}), so that the name is
    written once.
    """

    def __init__(
        self,
        kind: Callable[[str], _N],
        zeroAllowed: bool,
        most: int | None = None,
        option: str = "the value",
        least: float | None = None,
    ) -> None:
        self.kind: Callable[[str], _N] = kind
        self.zeroAllowed = zeroAllowed
        self.most = most
        self.option = option
        self.least = least

    def named(self, option: str) -> _Number[_N]:
        """
        The same check, for the option C{option} (C{--name}).
        """
        return _Number(self.kind, self.zeroAllowed, self.most, option, self.least)

    def __call__(self, value: str) -> _N:
        what = self.option
        try:
            result = self.kind(value)
        except ValueError:
            number = "a whole number" if self.kind is int else "a number"
            raise usage.UsageError(f"{what} must be {number}, not {value!r}") from None
        # "not >" also refuses nan; neither nan nor inf is a duration or size.
        inRange = result >= 0 if self.zeroAllowed else result > 0
        if not inRange or result == float("inf"):
            raise usage.UsageError(
                f"{what} must be {'0 or more' if self.zeroAllowed else 'positive'} "
                "and finite"
            )
        if self.most is not None and result > self.most:
            raise usage.UsageError(f"{what} must be at most {self.most}")
        if self.least is not None and result < self.least:
            raise usage.UsageError(f"{what} must be at least {self.least:g}")
        return result


def positive(
    kind: Callable[[str], _N], most: int | None = None, least: float | None = None
) -> _Number[_N]:
    """
    A coerce function for C{optParameters}: a positive number of C{kind},
    at most C{most} and at least C{least} if given.
    """
    return _Number(kind, zeroAllowed=False, most=most, least=least)


def nonNegative(kind: Callable[[str], _N]) -> _Number[_N]:
    """
    A coerce function for C{optParameters}: a number of C{kind}, 0 or more.
    """
    return _Number(kind, zeroAllowed=True)


# A factory's positional and keyword arguments, from an --app value.
FactoryCall = tuple[tuple[object, ...], dict[str, object]]


class ApplicationName(NamedTuple):
    """
    What an C{--app} value names (L{splitApplication}).

    @ivar module: the module's dotted name.
    @ivar attribute: the dotted name of the application, or of the factory
        that makes it, in the module.
    @ivar call: for a factory, the positional and keyword arguments to call
        it with; L{None} for the application itself.
    """

    module: str
    attribute: str
    call: FactoryCall | None


#: The longest C{--app} value taken: far more than any application's name
#: and a factory's arguments need, and short enough that parsing it can
#: neither run out of memory nor recurse too deep.
APP_SPEC_MAX = 1000


def _dottedName(expression: ast.expr) -> str | None:
    """
    The dotted name C{expression} is (C{a}, C{a.b.c}), or L{None}.
    """
    parts = []
    while isinstance(expression, ast.Attribute):
        parts.append(expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name):
        return None
    parts.append(expression.id)
    return ".".join(reversed(parts))


def _literal(expression: ast.expr) -> object:
    """
    The value of C{expression}, a literal (L{ast.literal_eval}, which
    Python types as L{Any}).
    """
    value: object = ast.literal_eval(expression)
    return value


def splitApplication(spec: str) -> ApplicationName:
    """
    What an C{--app} value names: C{module:attribute}, or
    C{module:factory()} to call C{factory}, with literal arguments if any
    (C{module:create_app("production", debug=False)}), as gunicorn reads
    it; or C{module} alone for C{module:application}, as gunicorn and uWSGI
    read it (Django's C{wsgi.py} names its application so).

    @raise usage.UsageError: if C{spec} has none of these forms.
    """
    moduleName, sep, attribute = spec.partition(":")
    if not sep:
        attribute = "application"
    if len(spec) > APP_SPEC_MAX:
        raise usage.UsageError(
            f"--app is {len(spec)} characters long, more than {APP_SPEC_MAX}: "
            f"{spec[:60]!r}..."
        )
    # A dotted name, called or not, with literals for arguments: anything
    # else (make_app(, make_app(x)) is refused here, before any import, by
    # a front too.  (One line, without comments: what Python reads.)
    name: str | None = None
    call: FactoryCall | None = None
    expression: ast.expr | None
    try:
        if "\n" in attribute or "\r" in attribute:
            raise SyntaxError(attribute)
        expression = ast.parse(attribute, mode="eval").body
        if expression.end_col_offset != len(attribute.rstrip().encode("utf-8")):
            # A comment after it.
            raise SyntaxError(attribute)
    # (SyntaxError, or for what is too deep to parse the others, which
    # APP_SPEC_MAX should leave no room for.)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    else:
        if isinstance(expression, ast.Call):
            try:
                call = (
                    tuple(_literal(argument) for argument in expression.args),
                    {
                        cast(str, keyword.arg): _literal(keyword.value)
                        for keyword in expression.keywords
                    },
                )
            # (ValueError for what is no literal; the others for a literal
            # too deep or too large to build.)
            except (ValueError, TypeError, MemoryError, RecursionError):
                raise usage.UsageError(
                    f"--app {spec}: the factory's arguments must be literals "
                    "(strings, numbers, True, False, None, and tuples, lists "
                    "and dicts of them)"
                ) from None
            names = [keyword.arg for keyword in expression.keywords]
            if None in names or len(set(names)) < len(names):
                # **keywords, or one given twice (which Python refuses).
                expression = None
            else:
                expression = expression.func
        if expression is not None:
            name = _dottedName(expression)
    if name is None or not all(part.isidentifier() for part in moduleName.split(".")):
        raise usage.UsageError(
            "--app must look like module:app, module:make_app() or "
            f"module:make_app('argument', key=1), not {spec!r}"
        )
    return ApplicationName(moduleName, name, call)


# The ZeroMQ transports on which a front and its handlers, in other
# processes, can meet (zmq_bind(3), zmq_connect(3)), each with its
# address after "://".
_ZMQ_ADDRESS = re.compile(r"(tcp|ipc|tipc|vmci|ws|wss)://.", re.ASCII)


#: The longest path an C{ipc://} address may have, in bytes: a Unix
#: socket's (C{sockaddr_un.sun_path} holds 108 on Linux, with the
#: terminating NUL).  ZeroMQ refuses a longer one with C{ENAMETOOLONG},
#: "File name too long", which does not say that or why.
IPC_PATH_MAX = 107

#: The name of a C{--spawn} front's private directory, in C{$TMPDIR}:
#: this prefix, then the 8 characters L{tempfile.mkdtemp} adds.
PRIVATE_PREFIX = "txmp-front-"


def privateAddresses(directory: str) -> tuple[str, str]:
    """
    The C{--send} and C{--return} addresses a C{--spawn} front binds in
    its private directory C{directory}.
    """
    return (
        "ipc://" + os.path.join(directory, "send"),
        "ipc://" + os.path.join(directory, "return"),
    )


def passedOnToHandlers(options: FrontSettings) -> list[str]:
    """
    The C{mphandler} options that a C{--spawn} front gives its handlers
    from its own: its C{--app}, C{--heartbeat}, C{--graceful-timeout} and
    C{--log-level}, and its C{--config}, C{--threads}, C{--prefetch},
    C{--script-name} and C{--max-requests} (with its jitter) if given.
    On the handlers' command line, they win over the C{[mphandler]} table
    of the C{--config} file and the C{TXMP_MPHANDLER_} variables, which the
    handlers read for the rest.
    """
    app = options["app"]
    assert app is not None, "--spawn needs --app"
    args = [
        "--app", app,
        "--heartbeat", repr(options["heartbeat"]),
        "--graceful-timeout", repr(options["graceful-timeout"]),
        "--log-level", options["log-level"],
    ]
    if options["config"]:
        args.extend(["--config", options["config"]])
    if options["threads"]:
        args.extend(["--threads", str(options["threads"])])
    if options["prefetch"] is not None:
        args.extend(["--prefetch", str(options["prefetch"])])
    if options["script-name"]:
        args.extend(["--script-name", options["script-name"]])
    if options["max-requests"]:
        args.extend(["--max-requests", str(options["max-requests"])])
        args.extend(["--max-requests-jitter", str(options["max-requests-jitter"])])
    return args


def ipcPathLength(address: str) -> int:
    """
    The length in bytes of the path of C{address}, an C{ipc://} address,
    as ZeroMQ counts it (for L{IPC_PATH_MAX}).
    """
    return len(os.fsencode(address[len("ipc://"):]))


def checkAddresses(option: str, addresses: Sequence[str]) -> None:
    """
    Refuse, with a usage error, any of C{addresses} that is not a ZeroMQ
    address another process can reach (a Twisted endpoint string such as
    C{tcp:5555} is a likely slip: C{--listen} takes those), and an
    C{ipc://} address whose path is longer than L{IPC_PATH_MAX}.

    @param option: the option given them, such as C{--send}.
    """
    for address in addresses:
        if _ZMQ_ADDRESS.match(address) is None:
            raise usage.UsageError(
                f"{option} {address} is not a ZeroMQ address such as "
                "tcp://127.0.0.1:5556 or ipc:///run/txmp/send (--listen takes "
                "Twisted's endpoints, --send and --return ZeroMQ's)"
            )
        if address.startswith("tcp://"):
            # ZeroMQ takes a larger port's last 16 bits (99999 binds 34463),
            # and binds 0 or * to a port of the kernel's choosing, which
            # no handler would know.
            # (An IPv6 address is bracketed: tcp://[::1] has no port.)
            _host, colon, port = address[len("tcp://"):].rpartition(":")
            if not colon or not port or port.endswith("]"):
                raise usage.UsageError(
                    f"{option} {address}: no port: give tcp://HOST:PORT"
                )
            if port == "*" or (port.isdigit() and not 0 < int(port) <= 65535):
                raise usage.UsageError(
                    f"{option} {address}: port {port} is not one of 1 to 65535"
                )
        if address.startswith("ipc://"):
            length = ipcPathLength(address)
            if length > IPC_PATH_MAX:
                raise usage.UsageError(
                    f"{option} {address}: the path is {length} bytes long, and "
                    f"an ipc:// path (a Unix socket's) may have at most "
                    f"{IPC_PATH_MAX}: give a shorter one"
                )


def checkPrivateDirectory() -> None:
    """
    Refuse, with a usage error, a C{$TMPDIR} too long for the C{ipc://}
    addresses a C{--spawn} front given no C{--send} nor C{--return} makes
    in it (L{privateAddresses}): checked before anything starts, where
    ZeroMQ would refuse to bind them with "File name too long".
    """
    temporary = tempfile.gettempdir()
    directory = os.path.join(temporary, PRIVATE_PREFIX + "X" * 8)
    longest = max(privateAddresses(directory), key=ipcPathLength)
    length = ipcPathLength(longest)
    if length > IPC_PATH_MAX:
        raise usage.UsageError(
            f"--spawn: the private addresses it would bind, such as {longest}, "
            f"are {length} bytes long, and an ipc:// path (a Unix socket's) may "
            f"have at most {IPC_PATH_MAX}: the temporary directory {temporary} "
            "($TMPDIR) is too long; set TMPDIR to a shorter one, or give "
            "--send and --return"
        )


def checkPrefetch(threads: int, prefetch: int | None) -> int:
    """
    The C{--prefetch} of a handler of C{threads} threads: C{prefetch}, or,
    if it was not given (L{None}), the default, lowered to what the
    threads leave of the L{MAX_CREDITS} a front accepts; one given over
    that is refused.  mphandler's check, and mpfront's of what it passes
    to its C{--spawn} handlers.
    """
    room = MAX_CREDITS - threads
    if prefetch is None:
        return min(DEFAULT_PREFETCH, room)
    if prefetch > room:
        raise usage.UsageError(
            f"--prefetch must be at most {room} with --threads {threads}"
            f" (together, at most {MAX_CREDITS})"
        )
    return prefetch


def checkJitter(options: Mapping[str, object]) -> None:
    """
    Refuse C{--max-requests-jitter} without C{--max-requests}: it is added
    to that limit, and without one it would do nothing, silently (gunicorn
    recycles every 0 to J requests then).

    @raise usage.UsageError: if so.
    """
    if options["max-requests-jitter"] and not options["max-requests"]:
        raise usage.UsageError(
            "--max-requests-jitter is added to --max-requests, which is not given"
        )


def scriptName(prefix: str, given: str = "--script-name") -> str:
    """
    The C{SCRIPT_NAME} a handler mounts its application under
    (L{txmp._wsgi.Mounted}), from the C{--script-name} or C{SCRIPT_NAME}
    an operator gives: percent-decoded, as C{PATH_INFO} is, and without
    trailing slashes (C{/app/} and C{/app} are one prefix, as for
    waitress's C{url_prefix}).

    @param prefix: the prefix given.
    @param given: where it was given, for the usage error.
    @return: the prefix as an ISO-8859-1 native string of its UTF-8 bytes
        (PEP 3333's C{SCRIPT_NAME}); C{""} for C{/}, which mounts nothing.
    @raise usage.UsageError: if C{prefix} is not a path: no leading C{/},
        or a query or fragment in it.
    """
    if not prefix.startswith("/") or "?" in prefix or "#" in prefix:
        raise usage.UsageError(
            f"{given} must be a path starting with /, such as /app, not {prefix!r}"
        )
    decoded = unquote_to_bytes(prefix.encode("utf-8")).decode("latin-1")
    return decoded.rstrip("/")


def checkWritable(option: str, path: str) -> str:
    """
    Refuse, with a usage error naming C{option}, a file this process could
    not open for appending: one that exists and is not writable, or that
    does not exist in a directory that does not exist or is not writable.
    Checked, not created: the file is opened later (under twistd C{--uid},
    as that user; a log file only once the process runs), and a failure
    then is a traceback, or a whole run lost (C{--profile}).

    @return: the path, absolute: the one to open later, since twistd
        C{--rundir} changes directory before the process starts.
    @raise usage.UsageError: if it could not be opened.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        why: str | None = "Is a directory"
    elif os.path.exists(path):
        why = None if os.access(path, os.W_OK) else "Permission denied"
    elif not os.path.isdir(directory):
        why = "No such file or directory"
    else:
        why = None if os.access(directory, os.W_OK) else "Permission denied"
    if why is not None:
        raise usage.UsageError(f"{option} {path}: {why}")
    return os.path.abspath(path)


def refuseDaemonStdout(
    option: str, value: object, twistd: Mapping[str, object] | None
) -> None:
    """
    Refuse C{option -} (standard output) in a daemon, twistd's options
    C{twistd} without C{-n}: twistd points a daemon's standard output at
    C{/dev/null}, and every line written there would be lost.

    @param twistd: twistd's options, or L{None} when not run by twistd.
    """
    if value == "-" and twistd is not None and not twistd.get("nodaemon"):
        raise usage.UsageError(
            f"{option} -: a daemon's standard output is /dev/null:"
            " give a file, or run twistd with -n"
        )


def checkTwistdFiles(twistd: Mapping[str, object], logsOurs: bool) -> None:
    """
    Refuse, with a usage error, a daemon's C{--logfile -} (its standard
    output is C{/dev/null}), a C{--rundir} this process could not change
    to, and a C{--logfile} or C{--pidfile} of twistd's own options that
    this process could not write (L{checkWritable}):
    twistd would open them only once it has started, and fail with a
    traceback (the log file's, in the foreground, before any line; the
    pidfile's after the start-up lines, leaving another traceback for the
    pidfile it then cannot remove).

    @param twistd: twistd's options, the parent of ours.
    @param logsOurs: whether this process writes the log file itself
        (L{configureTwistd}: not under twistd's C{--logger} or
        C{--syslog}, which do not open it).
    """
    logfile = twistd.get("logfile")
    if logsOurs:
        # twistd's own logger refuses this ("Daemons cannot log to
        # stdout"); ours replaces it.
        refuseDaemonStdout("--logfile", logfile, twistd)
    if logsOurs and logfile != "-" and (logfile or not twistd.get("nodaemon")):
        # (A daemon given none writes twistd.log.)
        checkWritable("--logfile", str(logfile or "twistd.log"))
    pidfile = twistd.get("pidfile")
    # Under --chroot it is written inside the new root.
    if pidfile and not twistd.get("chroot"):
        checkWritable("--pidfile", str(pidfile))
        checkNotRunning(str(pidfile))
    rundir = twistd.get("rundir")
    # twistd changes to it once started, as this user (before --uid), or
    # inside the new root under --chroot: a traceback then, which a daemon
    # writes to its log file alone, its command exiting 1 without a word.
    if rundir and not twistd.get("chroot"):
        rundir = str(rundir)
        # (From the working directory, as the handlers' path is found.)
        path = os.path.join(os.getcwd(), rundir)
        if not os.path.isdir(path):
            why = "Not a directory" if os.path.exists(path) else "No such file or directory"
            raise usage.UsageError(f"--rundir {rundir}: {why}")
        if not os.access(path, os.X_OK):
            raise usage.UsageError(f"--rundir {rundir}: Permission denied")


def checkNotRunning(pidfile: str, kill: Callable[[int, int], None] = os.kill) -> None:
    """
    Refuse, with a usage error, a C{--pidfile} that names a process still
    running: the same service started twice.  twistd refuses it too (this
    process's own PID as well), but later and in four lines.  A pidfile
    that names no process is stale (after a crash or a reboot): one that
    names a PID that is not running is left to twistd, which removes it;
    one that is empty (but for white space or NUL bytes), or names no PID
    above 0 (a file cut short by a crash, or left full of NUL bytes by a
    power loss, or made empty beforehand by a packaging script, to own
    it), is removed here, since twistd refuses to start at it (in four
    lines, as "another twistd server is running, PID 0", or one that does
    not name the option).  A file that holds something else, which may not
    be a pidfile at all, is refused, not written over.

    @param kill: L{os.kill}, which this calls with signal 0.
    @raise usage.UsageError: if the process it names is running, or the
        file is not a pidfile.
    """
    try:
        # (Bytes: a file that is not a pidfile may not be text either.)
        with open(pidfile, "rb") as f:
            content = f.read(64)
    except OSError:
        return
    # (NUL bytes: what a file system may leave of a file written just
    # before a power loss.)
    number = content.replace(b"\0", b"")
    try:
        pid = int(number) if number.strip() else 0
    except ValueError:
        shown = content.strip()[:20].decode("latin-1")
        raise usage.UsageError(
            f"--pidfile {pidfile} holds {shown!a}, not a PID: is it "
            "the right file? (remove it if it is)"
        ) from None
    if pid <= 0:
        try:
            os.remove(pidfile)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise usage.UsageError(
                f"--pidfile {pidfile} names no process, and cannot be removed: "
                f"{e.strerror}"
            ) from None
        return
    try:
        kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        # Someone else's process: running all the same.
        pass
    raise usage.UsageError(
        f"--pidfile {pidfile} names PID {pid}, which is running: this service, "
        "started already, or a process that got its PID since (then remove the file)"
    )


def splitDirectories(value: str) -> list[str]:
    """
    The directories of a comma-separated C{--pythonpath} value, empty ones
    left out.
    """
    return [d for d in value.split(",") if d]


def handlerSearchPath(
    config: str | None, runDirectory: str | None = None
) -> tuple[list[str], str]:
    """
    Where spawned handlers will look for the application first: the
    C{pythonpath} and C{chdir} that the C{[mphandler]} table of the
    front's C{--config} file (or C{TXMP_CONFIG}'s) and the
    C{TXMP_MPHANDLER_} variables give them, as the handlers read those.

    @param config: the front's C{--config} file, if any.
    @param runDirectory: twistd's C{--rundir}, where the handlers start
        (relative to the current directory); L{None} for the current one.
    @return: the C{--pythonpath} directories, absolute, and the handlers'
        working directory.
    @raise usage.UsageError: for a file or variable the handlers would
        refuse.
    """
    # (Not at the top: txmp.handlertap imports this module.)
    from txmp.handlertap import Options as HandlerOptions

    arguments = [] if config is None else ["--config", config]
    pythonpath: list[str] = []
    directory = os.path.abspath(runDirectory or ".")
    for argument in HandlerOptions()._configured(arguments, os.environ):
        name, _, value = argument.partition("=")
        if name == "--pythonpath":
            pythonpath.extend(splitDirectories(value))
        elif name == "--chdir":
            directory = os.path.join(directory, value)
    if not os.path.isdir(directory):
        # The handlers would refuse it: said here, not as an --app not found.
        raise usage.UsageError(f"the --spawn handlers' --chdir {directory}: no such directory")
    # A handler changes directory before it makes --pythonpath absolute.
    return [os.path.join(directory, d) for d in pythonpath], directory


def findSpec(
    moduleName: str, directory: str, pythonpath: Sequence[str] = ()
) -> ModuleSpec | None:
    """
    Find C{moduleName} as a spawned handler will (it runs C{python -c},
    which puts its working directory first on C{sys.path}), importing
    nothing: a package's submodules are looked for in its directory, not
    by importing the package (whose code is the application's, and is for
    the handlers to run).

    @param directory: the handlers' working directory.
    @param pythonpath: the handlers' C{--pythonpath}, absolute: searched
        first.
    @return: its spec, or L{None} if there is no such module.
    @raise ValueError: for a name that is not a module name.
    """
    if not moduleName or any(not part.isidentifier() for part in moduleName.split(".")):
        raise ValueError(f"{moduleName!r} is not a module name")
    parts = moduleName.split(".")
    found = PathFinder.find_spec(parts[0], [*pythonpath, directory, *sys.path])
    if found is None and parts[0] in sys.builtin_module_names:
        found = importlib.util.find_spec(parts[0])
    for index in range(1, len(parts)):
        if found is None or not found.submodule_search_locations:
            return None
        found = PathFinder.find_spec(
            ".".join(parts[: index + 1]), list(found.submodule_search_locations)
        )
    return found


#: The reactor a tap's C{makeService} is given, if any.
_Reactor = TypeVar("_Reactor")


def reactorOrGlobal(reactor: _Reactor | None) -> _Reactor | IFrontReactor:
    """
    C{reactor}, or if it is L{None} the global reactor: what a tap's
    C{makeService} builds on.  Only the taps touch the global reactor, and
    only once twistd has installed its own: importing it before installs
    the default one, so it is imported here, when called.

    @return: C{reactor}, or the global reactor as an L{IFrontReactor}, the
        widest of L{txmp._interfaces}: Twisted types it as its common
        interfaces, which leave out C{IReactorFromThreads}, and every
        reactor provides them all.
    """
    if reactor is not None:
        return reactor
    # Only here: importing it installs the default reactor, which twistd
    # has installed (its --reactor) by the time makeService asks.
    from twisted.internet import reactor as globalReactor

    return cast(IFrontReactor, globalReactor)


def _givenConfig(arguments: list[str]) -> str | None:
    for index, argument in enumerate(arguments):
        if argument == "--config" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--config="):
            return argument[len("--config="):]
    return None


#: The tables of a C{--config} file: one per command.
_CONFIG_TABLES = ("mpfront", "mphandler")


def readConfig(path: str, command: str, source: str = "--config") -> dict[str, object]:
    """
    The table of C{command} in the TOML file C{path} (empty if it has none),
    by option name: a key's C{_} read as C{-} (C{max_queue} is
    C{--max-queue}).

    @param source: what named the file, in an error: C{--config}, or the
        variable C{TXMP_CONFIG}.
    """
    try:
        with open(path, "rb") as f:
            document: dict[str, object] = tomllib.load(f)
    except OSError as e:
        raise usage.UsageError(f"{source} {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise usage.UsageError(f"{source} {path}: not TOML: {e}") from None
    except UnicodeDecodeError as e:
        # (tomllib decodes the whole file first: a file saved as Latin-1 or
        # UTF-16 went up as a traceback, or out of a SIGHUP's reading.)
        raise usage.UsageError(
            f"{source} {path}: not UTF-8, which TOML files are: byte "
            f"{e.object[e.start]:#04x} at offset {e.start}"
        ) from None
    for name, entry in document.items():
        # A key above the tables (the [mpfront] line forgotten) or a table
        # of another name (a typo, [mpfrnt]) was ignored in silence: the
        # options it holds, or the whole file, did nothing.
        if name not in _CONFIG_TABLES:
            what = (
                f"table [{name}]" if isinstance(entry, dict)
                else f"key {name!r} outside a table"
            )
            raise usage.UsageError(
                f"{source} {path}: {what}; options go in a table named after "
                "the command, [mpfront] or [mphandler]"
            )
    table = document.get(command, {})
    if not isinstance(table, dict):
        raise usage.UsageError(f"{source} {path}: [{command}] must be a table")
    # (A TOML table's keys are strings.)
    return {
        key.replace("_", "-"): value
        for key, value in cast("dict[str, object]", table).items()
    }


def _repeatable(options: TxmpOptions, name: str) -> bool:
    # An opt_ method that takes a value and appends it (--listen, --send...).
    method: object = getattr(options, "opt_" + name.replace("-", "_"), None)
    given: Mapping[str, object] = options
    return callable(method) and isinstance(options.defaults.get(name, given.get(name)), list)


def _truth(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise usage.UsageError(f"{what} must be true or false, not {value!r}")


class TxmpOptions(usage.Options):
    """
    Options whose usage errors, under C{twistd}, are one line and a non-zero
    exit, whatever the Twisted version: service managers must see a bad
    command line fail, and the operator the error, not the usage text
    first.
    """

    parent: usage.Options | None

    # What usage.Options.__init__ sets, which mypy infers as holding Any
    # (Twisted's __init__ is not annotated): declared with what they hold.
    defaults: dict[str, object]
    docs: dict[str, str | None]
    longOpt: list[str]

    #: The command these options are for: its section in a C{--config}
    #: file, and its environment variables' prefix (C{TXMP_MPFRONT_}).
    command = ""

    #: The configuration file read, if any: C{--config}'s, or else
    #: C{TXMP_CONFIG}'s (set as the options are parsed).
    configFile: str | None = None
    #: The table of this command in that file, as read, by option name.
    configTable: dict[str, object] | None = None
    #: The options given on the command line or by environment variables,
    #: which override that file's.
    configOverridden: frozenset[str] = frozenset()

    #: What to give instead, for an option whose empty value wants more of
    #: a hint than "a value" (L{refuseEmpty}).
    emptyHints: ClassVar[dict[str, str]] = {}

    optParameters: ClassVar[list[OptParameter]] = [
        ["log-format", None, DEFAULT_LOG_FORMAT,
         "Log format: text (twistd's) or json (one object per line, as "
         "twisted.logger writes it)."],
        ["log-level", None, DEFAULT_LOG_LEVEL,
         "Least level logged: debug, info, warn, error or critical."],
        ["config", None, None,
         "TOML file of options, in a [mpfront] or [mphandler] table (keys "
         "as the long options); TXMP_CONFIG names one too. Environment "
         "variables TXMP_<COMMAND>_<OPTION> override it; the command line "
         "overrides both."],
    ]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # A number option's row names it once; its check takes the name
        # from there.
        # (Its own rows, not those it inherits.)
        namespace = cast("Mapping[str, list[OptParameter]]", cls.__dict__)
        for row in namespace.get("optParameters", ()):
            if len(row) > 4 and isinstance(row[4], _Number):
                number: _Number[int] | _Number[float] = row[4]
                row[4] = number.named(f"--{row[0]}")

    @property
    def synopsis(self) -> str:
        """
        The usage line after C{twistd}: C{[mpfront options]}.
        """
        return f"[{self.command} options]"

    def __init__(self) -> None:
        usage.Options.__init__(self)
        optFlags: list[list[str | None]] = getattr(self, "optFlags", [])
        flags = {flag[0] for flag in optFlags}
        for name, doc in self.docs.items():
            # Docstrings of opt_ methods are indented: one space between words.
            doc = " ".join((doc or "").split())
            if name in flags and "default" not in doc:
                doc += " [default: off]"
            elif name in self.defaults and self.defaults[name] is None and "default" not in doc:
                doc += " [default: none]"
            self.docs[name] = doc
        longdesc: str | None = getattr(self, "longdesc", None)
        if longdesc:
            self.longdesc = " ".join(longdesc.split())

    def refuseEmpty(self) -> None:
        """
        Refuse an option given an empty value (once, or among those of a
        repeated option), from the command line, the environment or the
        configuration file: most often a shell variable that was not set
        (C{--curve-secret-key=$KEY}), which was taken for the option left
        out, and so turned CURVE off, or C{--stats} and C{--profile}, in
        silence.  Called first by C{postOptions}.

        @raise usage.UsageError: naming the first such option, and what to
            give it (L{emptyHints}).
        """
        given: Mapping[str, object] = self
        for name, value in given.items():
            if value == "" or (isinstance(value, list) and "" in cast("list[object]", value)):
                hint = self.emptyHints.get(name, "it a value")
                raise usage.UsageError(
                    f"--{name} is empty (an unset variable?): give {hint},"
                    " or leave it out"
                )

    def parseArgs(self, *arguments: str) -> None:
        """
        Refuse every argument that is not an option, naming it: Twisted
        said "Wrong number of arguments." and no more.  The most likely are
        an application given as gunicorn takes it (C{twistd mphandler
        myproject.wsgi:application}) and the rest of a value with a space
        in it, unquoted.

        @raise usage.UsageError: if there is any.
        """
        if not arguments:
            return
        first = arguments[0]
        try:
            splitApplication(first)
        except usage.UsageError:
            looksLikeApp = False
        else:
            looksLikeApp = not first.startswith("-") and "/" not in first
        if looksLikeApp and len(arguments) == 1:
            hint = (
                f"give the application as --app {first} (not an argument, as "
                "gunicorn takes it)"
            )
        else:
            hint = "a value with spaces must be quoted"
        plural = "s" if len(arguments) > 1 else ""
        raise usage.UsageError(
            f"unexpected argument{plural} {', '.join(map(repr, arguments))}: "
            f"{hint}; {self.command} takes options only"
        )

    def opt_version(self) -> NoReturn:
        """
        Show the versions of txmp, Twisted and Python, and exit.
        """
        print(
            f"txmp {txmp.__version__} (Twisted {twisted.__version__}, "
            f"{platform.python_implementation()} {platform.python_version()})"
        )
        raise SystemExit(0)

    def _configureLogging(self) -> None:
        for option, choices in [("log-format", FORMATS), ("log-level", LEVELS)]:
            value: object = self[option]
            if value not in choices:
                raise usage.UsageError(
                    f"--{option} must be one of {', '.join(choices)}, not {value!r}"
                )
        parent: usage.Options | None = getattr(self, "parent", None)
        if parent is not None:
            twistd: Mapping[str, object] = parent
            logsOurs = not (twistd.get("logger") or twistd.get("syslog"))
            # (Checked above: one of FORMATS, one of LEVELS.)
            logFormat: str = self["log-format"]
            logLevel: str = self["log-level"]
            configureTwistd(parent, logFormat, logLevel)
            checkTwistdFiles(twistd, logsOurs)

    def _configured(self, arguments: list[str], environ: Mapping[str, str]) -> list[str]:
        """
        The options of the C{--config} file and of the environment, as
        command-line arguments to put before C{arguments}: the environment
        overrides the file, and C{arguments} override both (an option given
        there is left out here, so that a repeatable one is replaced, not
        added to).

        @raise usage.UsageError: for a file that cannot be read or parsed,
            or an option that does not exist.
        """
        given = {
            argument[2:].split("=", 1)[0]
            for argument in arguments
            if argument.startswith("--")
        }
        known = {name.rstrip("="): name.endswith("=") for name in self.longOpt}
        settings: dict[str, tuple[str, object]] = {}
        configGiven = _givenConfig(arguments)
        path = configGiven or environ.get("TXMP_CONFIG")
        self.configFile = path or None
        if path:
            # (An error names what gave the file: an operator who gave no
            # --config looks for the variable.)
            source = "--config" if configGiven else "TXMP_CONFIG"
            self.configTable = readConfig(path, self.command, source)
            for name, value in self.configTable.items():
                settings[name] = (f"{path} [{self.command}]", value)
        prefix = f"TXMP_{self.command.upper()}_"
        overridden = set(given)
        for variable, value in environ.items():
            if variable.startswith(prefix):
                name = variable[len(prefix):].lower().replace("_", "-")
                overridden.add(name)
                if _repeatable(self, name):
                    # Set empty (an unset shell variable), it gives the one
                    # empty value that refuseEmpty refuses, not an empty
                    # list, which replaced the file's in silence.
                    settings[name] = (variable, value.split() or [""])
                else:
                    settings[name] = (variable, value)
        self.configOverridden = frozenset(overridden)
        result: list[str] = []
        for name, (source, value) in settings.items():
            if name not in known or name in ("config", "help", "version"):
                raise usage.UsageError(f"{source}: unknown option {name!r}")
            if isinstance(value, list) and known[name] and not _repeatable(self, name):
                # Each item would be given in turn, and the last kept (or,
                # for [], none: the default) in silence.
                raise usage.UsageError(
                    f"{source}: {name} takes one value, not a list: "
                    f"{cast('list[object]', value)!r}"
                )
            if isinstance(value, list) and not value:
                # (A repeatable option's: another's is refused above.)  It
                # gave no value, and left the default: listen = [] served
                # tcp:8080 on every interface, in silence.
                raise usage.UsageError(
                    f"{source}: {name} = [] gives no value: give it one, or leave it out"
                )
            if name in given:
                continue
            if not known[name]:
                if _truth(value, f"{source}: {name}"):
                    result.append(f"--{name}")
                continue
            for item in cast("list[object]", value) if isinstance(value, list) else [value]:
                result.append(f"--{name}={item}")
        return result

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        try:
            arguments = list(sys.argv[1:] if options is None else options)
            usage.Options.parseOptions(
                self, self._configured(arguments, os.environ) + arguments
            )
            self._configureLogging()
        except usage.UsageError as e:
            # A parent is set only when twistd parses us as its subcommand.
            parent: usage.Options | None = getattr(self, "parent", None)
            if parent is not None:
                raise SystemExit(
                    f"twistd {parent.subCommand}: {e} "
                    f"(see twistd {parent.subCommand} --help)"
                ) from None
            raise
