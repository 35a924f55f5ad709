# -*- test-case-name: txmp.test.test_logs -*-
"""
The logs of C{twistd mpfront} and C{twistd mphandler}: text or JSON (one
object per line), filtered by level, to twistd's C{--logfile} (never
rotated by us: reopened on SIGUSR1); and the log lines of spawned handlers
read back as events, so that the front's log is one stream in which each
handler event keeps its own time, level and source.  And the standard
streams an application takes while it is imported
(L{standardStreamsLateBound}), which follow twistd's into the log; and
C{sys.stdout} and C{sys.stderr} given the process's own descriptors
(L{DescriptorLoggingFile}).
"""

from __future__ import annotations

import codecs
import os
import stat
import string
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import IO, Callable, Protocol, TextIO, TypedDict, cast

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogEvent,
    Logger,
    LoggingFile,
    LogLevel,
    LogLevelFilterPredicate,
    eventAsJSON,
    eventFromJSON,
    formatEvent,
    textFileLogObserver,
)
from twisted.python.failure import Failure
from twisted.python.reflect import safe_str
from zope.interface import implementer

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warn", "error", "critical")

# Parses a log format as Twisted does (its fields, specs and conversions).
_FORMATTER = string.Formatter()
_CONVERSIONS: dict[str, Callable[[object], str]] = {"r": repr, "s": str, "a": ascii}

# Twisted's classes, typed once: to mypy their constructors take Any (a
# log level is constantly's NamedConstant, which is not typed; Failure's
# arguments are not annotated; an interface adapts any object), and so
# does each class where it is read.
_LOGGING_FILE: type[LoggingFile] = LoggingFile
_FAILURE: type[Failure] = Failure
_LOG_OBSERVER: type[ILogObserver] = ILogObserver

# The levels of a spawned handler's line that is no event (L{ChildLog}):
# from stderr, from stdout.  (Objects: constantly's constants are Any to
# mypy.)
_STDERR_LEVEL: object = LogLevel.warn
_STDOUT_LEVEL: object = LogLevel.info


class LateBoundStream:
    """
    What an application finds as C{sys.stdout} or C{sys.stderr} while it is
    imported (L{standardStreamsLateBound}): a stream that writes, at each
    write, to twistd's redirection of that stream into the log, once
    twistd has made it, and to the stream it stood for until then.

    The handler imports its application while twistd parses the options,
    before twistd begins logging and redirects C{sys.stdout} and
    C{sys.stderr} into the log.  What the import keeps of them (Django's
    C{LOGGING} console handler, C{logging.basicConfig()}: a
    C{StreamHandler} holds the stream it was made with) would otherwise
    write to the process's own standard error for ever: to a terminal
    instead of C{--logfile}, to C{/dev/null} in a daemon.  Python's own
    C{logging.lastResort} handler takes C{sys.stderr} at each write, for
    the same reason.

    Only a redirection of twistd's (a L{LoggingFile}) is followed, and only
    if the import left this stream in place: an application that put a
    stream of its own there may wrap this one, and the log's observer,
    made after the import, could then write through it into the log again.

    @ivar following: whether writes may follow twistd's redirection.
    """

    def __init__(self, name: str, original: TextIO) -> None:
        """
        @param name: C{"stdout"} or C{"stderr"}: the attribute of L{sys}.
        @param original: the stream it stands for.
        """
        self._name = name
        self._original = original
        self.following = True

    def _target(self) -> TextIO:
        current: object = getattr(sys, self._name)
        if self.following and isinstance(current, _LOGGING_FILE):
            return cast(TextIO, current)
        return self._original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> object:
        # The rest of a text stream (encoding, isatty, fileno...): the
        # target's.
        attribute: object = getattr(self._target(), name)
        return attribute


@contextmanager
def standardStreamsLateBound() -> Iterator[None]:
    """
    Make C{sys.stdout} and C{sys.stderr} L{LateBoundStream}s for the
    duration: what is written to them goes where it went, and what keeps
    them follows twistd's redirection into the log later.  Each is put back
    after, unless the code that ran replaced it (then its own stays, and
    the late-bound one never follows: see L{LateBoundStream}).
    """
    saved = [(name, cast(TextIO, getattr(sys, name))) for name in ("stdout", "stderr")]
    streams = [(name, LateBoundStream(name, stream)) for name, stream in saved]
    for name, stream in streams:
        setattr(sys, name, stream)
    try:
        yield
    finally:
        for (name, original), (_, stream) in zip(saved, streams):
            if cast(object, getattr(sys, name)) is stream:
                setattr(sys, name, original)
            else:
                stream.following = False


class _WriteOnly:
    """
    What a stream that can only be written says of itself, as
    L{io.IOBase} has it (a L{LoggingFile} says nothing).
    """

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False


class DescriptorLoggingFile(_WriteOnly, LoggingFile):
    """
    twistd's redirection of C{sys.stdout} or C{sys.stderr} into the log (a
    L{LoggingFile}), with the file descriptor of the stream it replaced:
    what is written to it is logged, and what is given its C{fileno()} (a
    child process, C{subprocess.run(..., stderr=sys.stderr)};
    L{faulthandler}) writes to the process's own descriptor, as under
    gunicorn: a L{LoggingFile} has none, so that such a call raised
    L{io.UnsupportedOperation}, and the request failed.  For the same
    reason it has the rest of a text stream that code written for the
    process's own streams calls: a C{buffer} (L{LoggedBytes}) for bytes,
    C{errors}, C{writable()}, C{readable()} and C{seekable()}; a
    L{LoggingFile} has none of them, and C{sys.stdout.buffer.write(data)}
    in an application raised L{AttributeError}.
    """

    def __init__(self, redirected: LoggingFile, original: TextIO | None) -> None:
        """
        @param redirected: twistd's redirection, whose logger, level and
            encoding this one takes.
        @param original: the process's own stream (C{sys.__stderr__}), or
            L{None} if it has none.
        """
        # (Its level is constantly's NamedConstant, untyped.)
        level: object = redirected.level
        _LOGGING_FILE.__init__(self, redirected.log, level, redirected.encoding)
        self._original = original
        self.buffer = LoggedBytes(self)

    # The rest of a text stream's interface that a LoggingFile lacks, which
    # code written for the process's own stream calls (io.TextIOBase's):
    # under gunicorn an application's sys.stdout is that stream.
    errors = "strict"

    # (LoggingFile's always raises, typed NoReturn.)
    def fileno(self) -> int:  # type: ignore[override]
        """
        The descriptor of the process's own stream: C{1} or C{2}, a
        terminal in the foreground, C{/dev/null} in a daemon, a pipe to the
        front that spawned this handler (which logs what comes through it).

        @raise io.UnsupportedOperation: if the process has no such stream.
        """
        if self._original is None:
            return _LOGGING_FILE.fileno(self)
        return self._original.fileno()


class LoggedBytes(_WriteOnly):
    """
    The C{buffer} of a L{DescriptorLoggingFile}: the binary stream under a
    text stream, which code that writes bytes to C{sys.stdout} or
    C{sys.stderr} uses (C{sys.stdout.buffer.write(data)},
    C{io.TextIOWrapper(sys.stdout.buffer, ...)}).  What is written to it is
    logged as what is written to its text stream is, decoded with that
    stream's encoding (a byte that does not decode is logged escaped, a
    character cut between two writes whole); its C{fileno()} is its text
    stream's.
    """

    def __init__(self, text: DescriptorLoggingFile) -> None:
        """
        @param text: the text stream whose buffer this is.
        """
        self._text = text
        self._decoder = codecs.getincrementaldecoder(text.encoding)("backslashreplace")

    @property
    def closed(self) -> bool:
        return self._text.closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """
        Log C{data}, as its text stream logs text.

        @return: how many bytes were written: all of them.
        """
        self._text.write(self._decoder.decode(bytes(data)))
        return len(data)

    def writelines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._text.flush()

    def close(self) -> None:
        """
        Flush, and stay open: an L{io.TextIOWrapper} over this buffer closes
        it as it is closed or collected, and the log is the whole process's.
        """
        self.flush()

    def fileno(self) -> int:
        return self._text.fileno()

    def isatty(self) -> bool:
        return self._text.isatty()


def giveStandardStreamsDescriptors() -> None:
    """
    Replace twistd's redirections of C{sys.stdout} and C{sys.stderr} into
    the log with L{DescriptorLoggingFile}s; a stream that is not one of
    them (an application's own) is left alone.  Called once twistd has
    begun logging.
    """
    for name in ("stdout", "stderr"):
        current: object = getattr(sys, name)
        if type(current) is _LOGGING_FILE:
            original: TextIO | None = getattr(sys, f"__{name}__")
            setattr(sys, name, DescriptorLoggingFile(current, original))


class ReopenableFile:
    """
    A log file opened for appending by its path, line-buffered, that
    L{reopen} opens again (after logrotate moved it): the log's, and the
    front's access log (L{txmp._access.AccessLog}).

    @raise OSError: if it cannot be opened.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = self._open()

    def _open(self) -> IO[str]:
        # Open for the file's life (until reopen or close): no block to
        # close it in.
        return open(self.path, "a", 1, encoding="utf-8", newline="\n")

    def write(self, text: str) -> int:
        return self._file.write(text)

    def flush(self) -> None:
        self._file.flush()

    def reopen(self) -> None:
        """
        Close the file and open it again by its path.  A file made anew
        (logrotate moved the old one away, without its C{create}) gets the
        old one's group, if this process may give it (root, or a member),
        and permissions, not what the process's umask leaves (twistd sets
        077 for a daemon: a log readable by its group, as the operator made
        it, turned private at its first rotation).

        @raise OSError: if it cannot be opened; lines go on to the old one.
        """
        old = self._file
        made = not os.path.exists(self.path)
        self._file = self._open()
        if made:
            was = os.fstat(old.fileno())
            fd = self._file.fileno()
            try:
                # (Before the mode: a group changed by one not root loses
                # its set-group-ID bit.)
                os.fchown(fd, -1, was.st_gid)
            except OSError:
                # (Not a member of it: the process's own group stays.)
                pass
            try:
                os.fchmod(fd, stat.S_IMODE(was.st_mode))
            except OSError:
                # (Made meanwhile by another user, such as logrotate's
                # create: its own mode stays.)
                pass
        old.close()

    def close(self) -> None:
        self._file.close()


#: The log files opened by L{makeObserver} in this process, for
#: L{reopenLogFiles}.
_openFiles: list[ReopenableFile] = []


def reopenLogFiles() -> None:
    """
    Reopen the log files of this process (SIGUSR1).

    @raise OSError: if one cannot be opened.
    """
    for f in _openFiles:
        f.reopen()


def logReopenFailure(log: Logger, command: str, path: str | None, error: OSError) -> None:
    """
    Log, at level C{error}, that SIGUSR1 could not open the log file
    C{path} again (L{reopenLogFiles}, L{txmp._access.AccessLog.reopen}):
    which file, why, what happens meanwhile and what to do.  The line
    goes to the file still open, where logrotate moved it.

    @param command: C{mpfront} or C{mphandler}.
    @param path: the file, or C{None} for the one C{error} names.
    """
    path = path or str(cast(object, error.filename))
    log.error(
        "{command}: cannot reopen {path}: {why}; its lines go on to the file "
        "open until now (where logrotate moved it?): make {path} a file this "
        "process's user can create or write, then send SIGUSR1 again",
        command=command, path=path, why=error.strerror,
    )


class _TextOutput(Protocol):
    """
    Where a log is written: standard output or a L{ReopenableFile}.
    """

    def write(self, text: str) -> int: ...

    def flush(self) -> None: ...


class _EscapingOutput:
    """
    A L{_TextOutput} that escapes what its stream's encoding cannot encode,
    as a Python literal does (C{\\udcff}), instead of raising.

    A lone surrogate (what C{os.fsdecode} makes of a file name that is not
    UTF-8) in a line an application writes to C{wsgi.errors}, or in the
    message of an exception it raises, cannot be encoded in UTF-8: an
    observer that raised for it would lose the whole event, traceback and
    all, as L{twisted.logger.LogPublisher} drops it and tells only the
    other observers, of which the log has none.
    """

    def __init__(self, out: _TextOutput) -> None:
        self._out = out
        # (Typed: getattr's answer is Any to mypy.)
        encoding: str | None = getattr(out, "encoding", None)
        self._encoding = encoding or "utf-8"

    def write(self, text: str) -> int:
        try:
            return self._out.write(text)
        except UnicodeEncodeError:
            escaped = text.encode(self._encoding, "backslashreplace")
            return self._out.write(escaped.decode(self._encoding))

    def flush(self) -> None:
        self._out.flush()


def _portableFailure(failure: Failure) -> Failure:
    """
    A copy of C{failure} whose exception is its text.

    Twisted's JSON writes an exception object as C{{"unpersistable":
    true}}, so a traceback read back from a JSON line (the front's, of a
    spawned handler's event) would end in C{{'unpersistable': True}}
    instead of the exception's message; the text is what a traceback shows
    of it anyway.
    """
    # Not copy.copy: Twisted 23.10's Failure (the oldest supported) cannot
    # be copied so (its __init__ wants a current exception).
    portable = _FAILURE.__new__(_FAILURE)
    # (Whatever their types: Failure annotates only some.)
    attributes: dict[str, object] = portable.__dict__
    attributes.update(cast("dict[str, object]", failure.__dict__))
    # (Failure types its value as an exception; Twisted reads any value.)
    portable.value = safe_str(failure.value)  # type: ignore[assignment]
    return portable


def _formatSpecsApplied(event: LogEvent) -> LogEvent:
    """
    C{event} with the values of its format's fields that have a format
    spec (C{{late:.3f}}) written as the spec says, where
    C{eventAsJSON} writes them: it flattens the event, and Twisted
    formats a flattened event (one read back from JSON: a C{--spawn}
    front's copy of its handler's, or C{eventsFromJSONLogFile}'s) with
    C{str(value)} alone, so that C{ran {late:.3f} s late} read C{ran
    3.509033679962158 s late}.  The keys are Twisted's
    (C{twisted.logger._flatten}: C{NAME!CONVERSION:SPEC}, C{/N} added for
    the Nth of the same); fields without a spec are left to it, and so are
    a field of another form (C{a.b}, C{a[0]}, C{a()}; txmp's formats name
    their fields) and a value its spec cannot format.
    """
    given: Mapping[str, object] = event
    logFormat = given.get("log_format")
    if not isinstance(logFormat, str) or "log_flattened" in given:
        return event
    flattened: dict[str, object] = {}
    seen: dict[str, int] = {}

    def key(name: str, spec: str, conversion: str) -> str:
        text = f"{name}!{conversion}:{spec}"
        seen[text] = seen.get(text, 0) + 1
        return text if seen[text] == 1 else f"{text}/{seen[text]}"

    try:
        parsed = list(_FORMATTER.parse(logFormat))
    except ValueError:
        return event
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        flatKey = key(name, spec or "", "r" if conversion == "r" else "s")
        structuredKey = key(name, spec or "", "")
        if not spec or name not in given or flatKey in flattened:
            continue
        value = given[name]
        try:
            shown = _CONVERSIONS[conversion](value) if conversion else value
            flattened[flatKey] = format(shown, spec)
        except (KeyError, ValueError, TypeError):
            continue
        flattened[structuredKey] = value
    if not flattened:
        return event
    result: dict[str, object] = {**given, "log_flattened": flattened}
    return result


def _jsonObserver(out: _TextOutput) -> ILogObserver:
    """
    Twisted's JSON observer (one object per line, which L{eventFromJSON}
    reads back), with the message as text too, under C{text}: what a
    person or C{jq} looks for first; a failure's exception is written as
    its text (L{_portableFailure}).
    """

    @implementer(_LOG_OBSERVER)
    def observe(event: LogEvent) -> None:
        if "text" not in event:
            event = dict(event, text=formatEvent(event))
        failure = event.get("log_failure")
        if isinstance(failure, _FAILURE) and not isinstance(failure.value, str):
            event = dict(event, log_failure=_portableFailure(failure))
        out.write(eventAsJSON(_formatSpecsApplied(event)) + "\n")
        # As Twisted's file observers do: standard output on a pipe (a
        # spawned handler's, systemd's, a container's) is block-buffered,
        # and what it held would be lost at os._exit.
        out.flush()

    # (What implementer returns is not typed.)
    observer: ILogObserver = observe
    return observer


def makeObserver(
    format: str, level: str, logfile: str | None, nodaemon: bool
) -> ILogObserver:
    """
    The observer of this process's log, in place of twistd's own.

    @param logfile: twistd's C{--logfile}: C{-} or nothing (when not a
        daemon) for standard output, else a path (C{twistd.log} if
        nothing is given to a daemon).
    """
    out: _TextOutput
    if logfile == "-" or (nodaemon and not logfile):
        out = sys.stdout
    else:
        out = ReopenableFile(logfile or "twistd.log")
        _openFiles.append(out)
    out = _EscapingOutput(out)
    if format == "json":
        observer = _jsonObserver(out)
    else:
        # (Typed as taking an IO, it only writes and flushes.)
        observer = textFileLogObserver(cast(IO[str], out))
    return FilteringLogObserver(
        observer,
        [LogLevelFilterPredicate(defaultLogLevel=cast(object, LogLevel.levelWithName(level)))],
    )


#: What L{twistdObserver} makes: set by L{configureTwistd}.
class _TwistdSettings(TypedDict, total=False):
    format: str
    level: str
    logfile: str | None
    nodaemon: bool


_twistdSettings: _TwistdSettings = {}


def configureTwistd(options: MutableMapping[str, object], format: str, level: str) -> None:
    """
    Make twistd log with L{makeObserver}, unless it was given its own
    C{--logger} or C{--syslog}.  Called while twistd parses our options,
    before it makes its logger.

    @param options: twistd's own options (the parent of ours).  Its
        C{logger} must be a name, which twistd imports once it has parsed
        the options: L{twistdObserver}, which reads what this sets.
    """
    # twistd's parent, waiting for a daemon to start, writes the daemon's
    # failure ("An error has occurred: ...") to sys.__stderr__ and leaves
    # by os._exit, without a flush: on PyPy, whose standard error on a pipe
    # (systemd's, a script's) is block-buffered, the line was lost, and a
    # daemon that failed to start said nothing.  CPython's is line-buffered.
    stderr = sys.__stderr__
    if stderr is not None and not stderr.line_buffering:
        try:
            stderr.reconfigure(line_buffering=True)
        except (AttributeError, ValueError, OSError):
            pass
    if options.get("logger") or options.get("syslog"):
        return
    _twistdSettings.update({
        "format": format, "level": level,
        "logfile": cast("str | None", options.get("logfile")),
        "nodaemon": bool(options.get("nodaemon")),
    })
    options["logger"] = "txmp._logs.twistdObserver"


def twistdObserver() -> ILogObserver:
    """
    The observer of twistd's log that L{configureTwistd} set up.
    """
    return makeObserver(**_twistdSettings)


class ChildLog:
    """
    Turns the output of a spawned handler, which logs JSON to its standard
    output, back into log events, each with its own time, level and
    namespace, and its handler's name as C{log_system}.  A line that is not
    such an event (what a process prints before its logging starts, or to
    stderr) becomes an event of its own, C{warn} from stderr and C{info}
    from stdout.
    """

    def __init__(self, name: str, publish: Callable[[LogEvent], None]) -> None:
        self._name = name
        self._publish = publish
        self._partial = {1: b"", 2: b""}

    def dataReceived(self, fd: int, data: bytes) -> None:
        """
        Bytes the child wrote to C{fd} (1 or 2).
        """
        *lines, self._partial[fd] = (self._partial.get(fd, b"") + data).split(b"\n")
        for line in lines:
            self._line(fd, line)

    def ended(self) -> None:
        """
        The child exited: what it left without a newline is a line too.
        """
        for fd, rest in self._partial.items():
            if rest:
                self._line(fd, rest)
        self._partial = {1: b"", 2: b""}

    def _line(self, fd: int, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").strip("\r\x1e")
        if not text:
            return
        # (A LogEvent, whose values are Any to mypy: read as objects.)
        event: dict[str, object] | None = None
        if text.startswith("{"):
            try:
                event = eventFromJSON(text)
            except ValueError:
                event = None
        if event is None or "log_level" not in event:
            event = {
                "log_format": "{line}",
                "line": text,
                "log_level": _STDERR_LEVEL if fd == 2 else _STDOUT_LEVEL,
                "log_namespace": "txmp.spawned",
                "log_time": None,
            }
        event["log_system"] = "%s %s#%s" % (
            self._name,
            event.get("log_namespace", "-"),
            cast(object, getattr(event.get("log_level"), "name", "info")),
        )
        event.setdefault("txmp_handler", self._name)
        if event.get("log_time") is None:
            event["log_time"] = time.time()
        self._publish(event)
