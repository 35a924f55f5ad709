# -*- test-case-name: tests -*-
"""
Harness for txmp's system tests: real C{twistd} processes, real sockets.

A L{SystemTestCase} starts C{twistd mpfront} and C{twistd mphandler} with
L{IReactorProcess.spawnProcess}, waits for the log lines those commands
promise (C{mpfront ready}, C{handler NAME joined}, C{mphandler NAME
started}) and talks HTTP to the front on C{127.0.0.1}.  Nothing sleeps:
every wait is on an event (a log line, a response, a process ending, a
pidfd becoming readable) and every wait is bounded.  Every process a test
starts runs in a session of its own: when the test ends it is stopped by
its PID (C{SIGTERM}, then C{SIGKILL}), and then whatever is left of its
process group (handlers it spawned, say) is killed, so that no test leaves
processes behind.

The ZeroMQ addresses are C{ipc://} paths relative to a per-test directory
that is the working directory of every process the test starts: relative
paths keep them short (a UNIX socket path has a limit of about 100 bytes,
which trial's nested temporary directories exceed) and private to the test.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import signal as signals
import socket
import stat
import sys
from collections import Counter, deque
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import (
    Any,
    Callable,
    TypeVar,
    Union,
)

from twisted.internet import reactor as _globalReactor
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    fail,
    succeed,
)
from twisted.internet.defer import (
    TimeoutError as DeferredTimeoutError,
)
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IConsumer, IReactorTime, IReadDescriptor
from twisted.internet.protocol import ProcessProtocol, Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import (
    Agent,
    FileBodyProducer,
    HTTPConnectionPool,
    ResponseDone,
    readBody,
)
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IBodyProducer, IResponse
from zope.interface import implementer

# System tests use the real reactor: that is what they test.  Only this
# module touches it; everything below takes it from here.
reactor: Any = _globalReactor

PROJECT_ROOT = FilePath(__file__).parent().parent()

#: How long a process may take to write a log line we wait for.
READY_TIMEOUT = 30.0

#: How long a process may take to exit after C{SIGTERM} before it is killed.
STOP_GRACE = 10.0

#: How long a single HTTP request may take before the client gives up.
REQUEST_TIMEOUT = 30.0

#: What a line is waited for by: a substring, a regular expression to
#: search for, or a predicate called with each line.
LinePattern = Union[str, "re.Pattern[str]", Callable[[str], bool]]
ProcessEnd = Union[ProcessDone, ProcessTerminated]

_T = TypeVar("_T")
_SelfT = TypeVar("_SelfT")


def asyncTest(
    method: Callable[[_SelfT], Coroutine[Any, Any, None]],
) -> Callable[[_SelfT], Deferred[None]]:
    """
    Let a test method be written as a coroutine.

    Trial runs test methods that return a L{Deferred}; this wraps a
    coroutine function so it returns one, keeping its name and docstring.

    @param method: An C{async def} test method.
    @return: A test method returning a L{Deferred}.
    """

    @functools.wraps(method)
    def wrapper(self: _SelfT) -> Deferred[None]:
        return Deferred.fromCoroutine(method(self))

    return wrapper


def freePort() -> int:
    """
    Find a TCP port on C{127.0.0.1} that nothing listens on right now.

    @return: The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def statsEndpoint(port: int) -> str:
    """
    The C{mpfront --stats} endpoint for C{port} on the loopback interface.
    """
    return f"tcp:{port}:interface=127.0.0.1"


def twistdCommand() -> list[str]:
    """
    The command line that runs this interpreter's C{twistd}.

    @return: C{argv} up to, and not including, twistd's own options.
    """
    script = os.path.join(os.path.dirname(sys.executable), "twistd")
    if os.path.exists(script):
        return [sys.executable, script]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


#: Run by this interpreter in front of every command a test starts: put the
#: process in a new session, whose process group is its own (so that it and
#: all it starts can be killed together, see L{TwistdProcess.killGroup}),
#: ask Linux to SIGKILL it if the test runner dies (a session of its own no
#: longer gets the terminal's Ctrl-C), then exec the command in the same
#: process.  argv: the runner's PID, then the command.
_SESSION_WRAPPER = """
import os, signal, sys
os.setsid()
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit("the test runner is gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def inOwnSession(argv: Sequence[str]) -> list[str]:
    """
    The command line that runs C{argv} in a new session of its own, dying
    with this process (see L{_SESSION_WRAPPER}).

    @param argv: The command, with an absolute path as C{argv[0]}.
    @return: The command line to spawn.
    """
    return [sys.executable, "-c", _SESSION_WRAPPER, str(os.getpid()), *argv]


def childEnvironment() -> dict[str, str]:
    """
    The environment of the processes the tests start.

    The project root goes first on C{PYTHONPATH} so C{--app tests.apps...}
    imports, and output is unbuffered so log lines arrive as written.

    @return: A new environment mapping.
    """
    env = dict(os.environ)
    paths = [PROJECT_ROOT.path]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ProcessEndedEarly(Exception):
    """
    A process ended while something still waited for a line from it.
    """


class LineTimeout(Exception):
    """
    A process did not write an expected line in time.
    """


@dataclass
class _LineWaiter:
    """
    Someone waiting for C{count} lines matching C{pattern}.
    """

    pattern: LinePattern
    count: int
    deferred: Deferred[str]
    seen: int = 0

    def matches(self, line: str) -> bool:
        if isinstance(self.pattern, str):
            return self.pattern in line
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(line) is not None
        return self.pattern(line)


class TwistdProcess(ProcessProtocol):
    """
    A process started by a test: its output, line by line, and its end.

    @ivar label: A name for this process in transcripts.
    @ivar lines: Every complete line the process wrote, stdout and stderr
        interleaved in arrival order; stderr lines are prefixed with
        C{"(stderr) "}.
    @ivar lineTimes: When each of L{lines} arrived, by the test's clock
        (the log's own timestamps only have whole seconds).
    @ivar pid: The process ID, once started.
    @ivar group: The ID of its process group if it leads one (it was
        started with L{inOwnSession}), kept after it has ended; else
        C{None}.
    @ivar end: How the process ended, once it has.
    """

    def __init__(self, clock: IReactorTime, label: str) -> None:
        self._clock = clock
        self.label = label
        self.lines: list[str] = []
        self.lineTimes: list[float] = []
        self.pid: int | None = None
        self.group: int | None = None
        self.end: ProcessEnd | None = None
        self.killed = False
        self._partial: dict[int, bytes] = {}
        self._lineWaiters: list[_LineWaiter] = []
        self._endWaiters: list[Deferred[ProcessEnd]] = []

    def connectionMade(self) -> None:
        self.pid = self.transport.pid  # type: ignore[union-attr]

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        pending = self._partial.get(childFD, b"") + data
        *complete, self._partial[childFD] = pending.split(b"\n")
        for raw in complete:
            self._lineReceived(childFD, raw)

    def _lineReceived(self, childFD: int, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self.lines.append(line if childFD != 2 else "(stderr) " + line)
        self.lineTimes.append(self._clock.seconds())
        for waiter in list(self._lineWaiters):
            if waiter.matches(line):
                waiter.seen += 1
                if waiter.seen >= waiter.count:
                    self._lineWaiters.remove(waiter)
                    waiter.deferred.callback(line)

    def processEnded(self, reason: Failure) -> None:
        for childFD, rest in sorted(self._partial.items()):
            if rest:
                self._lineReceived(childFD, rest)
        self._partial.clear()
        end = reason.value
        assert isinstance(end, (ProcessDone, ProcessTerminated))
        self.end = end
        self.pid = None
        lineWaiters, self._lineWaiters = self._lineWaiters, []
        for waiter in lineWaiters:
            waiter.deferred.errback(
                ProcessEndedEarly(
                    f"{self.label} ended ({self.describeEnd()}) before writing"
                    f" {waiter.count} line(s) matching {waiter.pattern!r}\n"
                    + self.transcript()
                )
            )
        endWaiters, self._endWaiters = self._endWaiters, []
        for d in endWaiters:
            d.callback(end)

    def describeEnd(self) -> str:
        """
        Say how the process ended, for messages.

        @return: C{"running"}, C{"exit code N"} or C{"signal N"}.
        """
        if self.end is None:
            return f"running, pid {self.pid}"
        if isinstance(self.end, ProcessTerminated) and self.end.signal is not None:
            return f"signal {self.end.signal}"
        return f"exit code {self.end.exitCode}"

    def transcript(self) -> str:
        """
        Everything the process wrote, with a heading naming it.

        @return: Text for assertion messages.
        """
        heading = f"---- {self.label} ({self.describeEnd()}) ----"
        return "\n".join([heading, *self.lines, ""])

    def countLines(self, pattern: LinePattern) -> int:
        """
        Count the lines written so far that match C{pattern}.

        @param pattern: A substring, or a regular expression to search for.
        @return: The number of matching lines.
        """
        probe = _LineWaiter(pattern, 0, Deferred())
        return sum(1 for line in self.lines if probe.matches(_unprefixed(line)))

    def waitForLine(
        self, pattern: LinePattern, count: int = 1, timeout: float = READY_TIMEOUT
    ) -> Deferred[str]:
        """
        Wait until the process has written C{count} lines matching
        C{pattern}, counting the lines it has already written.

        @param pattern: A substring, or a regular expression to search for.
        @param count: How many matching lines to wait for.
        @param timeout: Seconds to wait before failing with L{LineTimeout}.
        @return: A L{Deferred} that fires with the last matching line, or
            fails with L{LineTimeout} or L{ProcessEndedEarly}, whose
            messages carry the process's transcript.
        """
        waiter = _LineWaiter(pattern, count, Deferred(lambda d: self._forget(waiter)))
        for line in self.lines:
            line = _unprefixed(line)
            if waiter.matches(line):
                waiter.seen += 1
                if waiter.seen >= count:
                    return succeed(line)
        if self.end is not None:
            return fail(
                ProcessEndedEarly(
                    f"{self.label} already ended ({self.describeEnd()}) without"
                    f" writing {count} line(s) matching {pattern!r}\n"
                    + self.transcript()
                )
            )
        self._lineWaiters.append(waiter)

        def timedOut(result: object, timeout: float) -> Failure:
            return Failure(
                LineTimeout(
                    f"{self.label} wrote {waiter.seen} of {count} line(s)"
                    f" matching {pattern!r} in {timeout} seconds\n"
                    + self.transcript()
                )
            )

        return waiter.deferred.addTimeout(timeout, self._clock, timedOut)

    async def timeOfLine(
        self, pattern: LinePattern, count: int = 1, timeout: float = READY_TIMEOUT
    ) -> float:
        """
        Wait like L{waitForLine}, and say when the line arrived.

        @return: The time, by the test's clock, at which the C{count}-th
            line matching C{pattern} arrived.
        """
        await self.waitForLine(pattern, count, timeout)
        probe = _LineWaiter(pattern, 0, Deferred())
        for line, when in zip(self.lines, self.lineTimes):
            if probe.matches(_unprefixed(line)):
                probe.seen += 1
                if probe.seen == count:
                    return when
        raise AssertionError(f"line {count} matching {pattern!r} went missing")

    def _forget(self, waiter: _LineWaiter) -> None:
        if waiter in self._lineWaiters:
            self._lineWaiters.remove(waiter)

    def whenEnded(self) -> Deferred[ProcessEnd]:
        """
        Wait for the process to end.

        @return: A L{Deferred} that fires with L{ProcessDone} or
            L{ProcessTerminated} (as a result, not a failure).
        """
        if self.end is not None:
            return succeed(self.end)
        d: Deferred[ProcessEnd] = Deferred(lambda d: self._endWaiters.remove(d))
        self._endWaiters.append(d)
        return d

    def signal(self, name: str) -> None:
        """
        Send a signal to the process, unless it has already exited.

        @param name: C{"TERM"}, C{"KILL"}, C{"STOP"}, C{"CONT"}...
        """
        try:
            self.transport.signalProcess(  # type: ignore[union-attr]
                int(getattr(signals, "SIG" + name))
            )
        except ProcessExitedAlready:
            pass

    def killGroup(self) -> None:
        """
        C{SIGKILL} every process left in this process's group (what it
        started and did not stop), if any.
        """
        if self.group is not None:
            try:
                os.killpg(self.group, signals.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    async def stop(self, grace: float = STOP_GRACE) -> ProcessEnd:
        """
        Stop the process by its PID: C{SIGTERM}, then C{SIGKILL} if it has
        not exited C{grace} seconds later.

        @param grace: Seconds to wait for the process to exit on C{SIGTERM}.
        @return: How the process ended; L{killed} says whether it needed
            C{SIGKILL}.
        """
        if self.end is not None:
            return self.end
        ended = self.whenEnded()
        self.signal("TERM")
        try:
            return await ended.addTimeout(grace, self._clock)
        except (CancelledError, DeferredTimeoutError):
            pass
        self.killed = True
        ended = self.whenEnded()
        self.signal("KILL")
        return await ended.addTimeout(grace, self._clock)


@implementer(IReadDescriptor)
class _ExitWatcher:
    """
    Watch a Linux pidfd, which becomes readable when its process exits.
    """

    def __init__(self, fd: int, exited: Deferred[None]) -> None:
        self._fd = fd
        self._exited = exited

    def fileno(self) -> int:
        return self._fd

    def logPrefix(self) -> str:
        return "pidfd"

    def doRead(self) -> None:
        self._close()
        self._exited.callback(None)

    def connectionLost(self, reason: Failure) -> None:
        self._close()

    def _close(self) -> None:
        if self._fd >= 0:
            reactor.removeReader(self)
            os.close(self._fd)
            self._fd = -1


def whenExited(pid: int) -> Deferred[None]:
    """
    Wait for a process that this process did not start (so gets no
    C{SIGCHLD} for) to exit, without polling: a Linux pidfd becomes
    readable when its process exits.

    @param pid: The process ID.
    @return: A cancellable L{Deferred} that fires when the process has
        exited (at once if there is no such process).
    """
    if not hasattr(os, "pidfd_open"):
        return _pollForExit(pid)
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return succeed(None)
    watcher: _ExitWatcher
    exited: Deferred[None] = Deferred(lambda d: watcher._close())
    watcher = _ExitWatcher(fd, exited)
    reactor.addReader(watcher)
    return exited


def _pollForExit(pid: int) -> Deferred[None]:
    """
    Where there are no pidfds, the only way to learn that a process we did
    not start has exited is to ask, every tenth of a second.

    @param pid: The process ID.
    @return: A cancellable L{Deferred} that fires when the process has
        exited.
    """
    exited: Deferred[None] = Deferred(lambda d: poller.stop())

    def check() -> None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            poller.stop()
            exited.callback(None)

    poller = LoopingCall(check)
    poller.clock = reactor
    poller.start(0.1)
    return exited


def _unprefixed(line: str) -> str:
    return line[len("(stderr) ") :] if line.startswith("(stderr) ") else line


@implementer(IBodyProducer)
class _ChunkedBodyProducer:
    """
    A request body of unknown length, so L{Agent} sends it chunked.
    """

    length = UNKNOWN_LENGTH

    def __init__(self, body: bytes, pieceSize: int = 65536) -> None:
        self._body = body
        self._pieceSize = pieceSize

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        for start in range(0, len(self._body), self._pieceSize):
            consumer.write(self._body[start : start + self._pieceSize])
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@dataclass(frozen=True)
class HTTPResult:
    """
    A complete HTTP response as seen by L{Agent}.

    @ivar length: The C{Content-Length}, or L{None} if there was none
        (L{Agent} leaves it out of C{headers}).
    @ivar elapsed: Seconds from sending the request to reading the body.
    """

    code: int
    headers: Headers
    length: int | None
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        """
        The last value of a response header.

        @param name: The header name, any case.
        @return: Its value, or L{None}.
        """
        values = self.headers.getRawHeaders(name)
        return values[-1] if values else None


@dataclass
class RawResponse:
    """
    One HTTP response parsed from the bytes on the wire by L{RawHTTPClient}.

    @ivar chunks: The sizes of the chunks of a chunked body, or L{None} if
        the body was not chunked.
    """

    version: bytes = b""
    code: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[int] | None = None

    def header(self, name: bytes) -> bytes | None:
        """
        The last value of a response header.

        @param name: The header name, any case.
        @return: Its value, or L{None}.
        """
        values = [v for (n, v) in self.headers if n == name.lower()]
        return values[-1] if values else None


class IncompleteResponse(Exception):
    """
    The connection closed in the middle of a response.
    """


@dataclass
class _PendingResponse:
    """
    A response L{RawHTTPClient} is still parsing: C{mode} is the part it
    expects next, C{remaining} the bytes left of a body or chunk.
    """

    head: bool
    deferred: Deferred[RawResponse]
    response: RawResponse | None = None
    mode: str = "headers"
    remaining: int = 0


class RawHTTPClient(Protocol):
    """
    A minimal HTTP/1.x client that writes the bytes it is given and parses
    responses strictly, for checking framing that L{Agent} would hide:
    chunked encoding, bodyless C{HEAD} responses, several requests on one
    connection.

    @ivar closed: Fires when the connection is lost.
    @ivar unparsed: Bytes received that belong to no response.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._pending: deque[_PendingResponse] = deque()
        self.closed: Deferred[None] = Deferred()
        self.connected = False

    @property
    def unparsed(self) -> bytes:
        return self._buffer

    def connectionMade(self) -> None:
        self.connected = True

    def request(self, data: bytes, head: bool = False) -> Deferred[RawResponse]:
        """
        Send one request (or several pipelined, in one write, when called
        several times before responses arrive).

        @param data: The complete request bytes.
        @param head: Whether this is a C{HEAD} request, whose response has
            no body whatever its headers say.
        @return: A L{Deferred} firing with the parsed L{RawResponse}.
        """
        pending = _PendingResponse(head, Deferred())
        self._pending.append(pending)
        self.transport.write(data)  # type: ignore[union-attr]
        return pending.deferred

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        try:
            while self._pending and self._advance(self._pending[0]):
                done = self._pending.popleft()
                assert done.response is not None
                done.deferred.callback(done.response)
        except ValueError as e:
            # Malformed framing: fail the response being parsed, and let
            # connectionLost fail any after it.
            self._pending.popleft().deferred.errback(e)
            self.transport.abortConnection()  # type: ignore[union-attr]

    def _advance(self, p: _PendingResponse) -> bool:
        """
        Parse as much of C{p} as the buffer holds.

        @return: Whether the response is complete.
        """
        if p.mode == "headers":
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            statusLine, *headerLines = head.split(b"\r\n")
            version, code = statusLine.split(b" ", 2)[:2]
            headers = []
            for line in headerLines:
                name, _, value = line.partition(b":")
                headers.append((name.strip().lower(), value.strip()))
            p.response = RawResponse(version, int(code), headers)
            length = p.response.header(b"content-length")
            encoding = p.response.header(b"transfer-encoding")
            if p.head or p.response.code in (204, 304):
                return True
            elif encoding is not None and encoding.lower() == b"chunked":
                p.mode = "chunk-size"
                p.response.chunks = []
            elif length is not None:
                p.mode = "length"
                p.remaining = int(length)
            else:
                p.mode = "until-close"
        assert p.response is not None
        if p.mode == "length":
            if len(self._buffer) < p.remaining:
                return False
            p.response.body = self._buffer[: p.remaining]
            self._buffer = self._buffer[p.remaining :]
            return True
        while p.mode.startswith("chunk") or p.mode == "trailers":
            if p.mode in ("chunk-size", "trailers"):
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return False
                line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
                if p.mode == "trailers":
                    if line == b"":
                        return True
                    continue
                try:
                    p.remaining = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ValueError(f"bad chunk size line: {line!r}") from None
                if p.remaining == 0:
                    p.mode = "trailers"
                else:
                    assert p.response.chunks is not None
                    p.response.chunks.append(p.remaining)
                    p.mode = "chunk-data"
            else:
                if len(self._buffer) < p.remaining + 2:
                    return False
                if self._buffer[p.remaining : p.remaining + 2] != b"\r\n":
                    raise ValueError(f"chunk not followed by CRLF: {self._buffer!r}")
                p.response.body += self._buffer[: p.remaining]
                self._buffer = self._buffer[p.remaining + 2 :]
                p.mode = "chunk-size"
        return False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connected = False
        pending, self._pending = self._pending, deque()
        for p in pending:
            if p.mode == "until-close" and p.response is not None:
                p.response.body, self._buffer = self._buffer, b""
                p.deferred.callback(p.response)
            else:
                p.deferred.errback(
                    IncompleteResponse(
                        f"connection closed with response incomplete"
                        f" ({p.mode}); unparsed bytes: {self._buffer!r}"
                    )
                )
        self.closed.callback(None)


class LoadGenerator:
    """
    Keep a bounded number of requests in flight until told to stop.

    @ivar results: Every response received, in order of arrival.
    @ivar failures: Every request that failed without a response.
    """

    def __init__(self, issue: Callable[[], Deferred[HTTPResult]], inFlight: int) -> None:
        """
        @param issue: Start one request.
        @param inFlight: How many requests to keep in flight.
        """
        self._issue = issue
        self._inFlight = inFlight
        self._outstanding = 0
        self._running = False
        self._watchers: list[tuple[Callable[[], bool], Deferred[None]]] = []
        self._drained: list[Deferred[None]] = []
        self.results: list[HTTPResult] = []
        self.failures: list[Failure] = []

    def start(self) -> None:
        """
        Start issuing requests.
        """
        self._running = True
        for _ in range(self._inFlight):
            self._issueOne()

    def _issueOne(self) -> None:
        self._outstanding += 1
        d = self._issue()
        d.addCallbacks(self.results.append, self.failures.append)
        d.addBoth(self._completed)

    def _completed(self, ignored: object) -> None:
        self._outstanding -= 1
        for watcher in list(self._watchers):
            predicate, d = watcher
            if predicate():
                self._watchers.remove(watcher)
                d.callback(None)
        if self._running:
            self._issueOne()
        elif self._outstanding == 0:
            drained, self._drained = self._drained, []
            for d in drained:
                d.callback(None)

    def until(self, predicate: Callable[[], bool]) -> Deferred[None]:
        """
        Wait until C{predicate} is true after some request completes.

        @param predicate: Checked after every completed request.
        @return: A L{Deferred} that fires once C{predicate()} is true.
        """
        if predicate():
            return succeed(None)
        d: Deferred[None] = Deferred(lambda d: self._watchers.remove((predicate, d)))
        self._watchers.append((predicate, d))
        return d

    def stop(self) -> Deferred[None]:
        """
        Stop issuing requests.

        @return: A L{Deferred} that fires once no request is in flight.
        """
        self._running = False
        if self._outstanding == 0:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._drained.append(d)
        return d


@dataclass(frozen=True)
class PlannedRequest:
    """
    One request that a L{BoundedLoad} is to make.

    @ivar token: What the test calls this request (for the C{tagged}
        application, the C{token} in its query).
    @ivar port: The front's port, by default the test's L{httpPort}.
    """

    method: bytes
    path: str
    token: str = ""
    body: bytes | None = None
    port: int | None = None


@dataclass
class Outcome:
    """
    What became of one request of a L{BoundedLoad}: a response or a
    failure (a connection error, a timeout).

    @ivar started: When the request was made, by the test's clock.
    @ivar ended: When its response was read or it failed, or L{None}
        while it is in flight.
    """

    index: int
    request: PlannedRequest
    started: float
    ended: float | None = None
    result: HTTPResult | None = None
    failure: Failure | None = None

    @property
    def code(self) -> int | None:
        """
        The response status, or L{None} if there was no response.
        """
        return None if self.result is None else self.result.code

    def describe(self) -> str:
        """
        The request and what became of it, for messages.
        """
        what = f"{self.request.method.decode()} {self.request.path}"
        if self.result is not None:
            return f"{what}: {self.result.code} {self.result.body[:200]!r}"
        if self.failure is not None:
            return f"{what}: {type(self.failure.value).__name__}: {self.failure.getErrorMessage()}"
        return f"{what}: in flight"


class LoadFinished(Exception):
    """
    A L{BoundedLoad} made all its requests before the condition waited for
    came true.
    """


class BoundedLoad:
    """
    Keep a number of requests in flight until C{total} have been made,
    C{duration} seconds have passed or L{stop} is called, whichever comes
    first, and record what becomes of every one.

    @ivar outcomes: Every request made, in the order made.
    @ivar completed: Every request that ended, in the order they ended.
    """

    def __init__(
        self,
        clock: IReactorTime,
        send: Callable[[PlannedRequest], Deferred[HTTPResult]],
        plan: Callable[[int], PlannedRequest],
        inFlight: int,
        total: int,
        duration: float | None = None,
    ) -> None:
        """
        @param clock: The clock for L{Outcome} times and C{duration}.
        @param send: Make one request.
        @param plan: Say what the C{n}-th request (from 0) is.
        @param inFlight: How many requests to keep in flight.
        @param total: The most requests to make.
        @param duration: The most seconds to go on making requests for.
        """
        self._clock = clock
        self._send = send
        self._plan = plan
        self._inFlight = inFlight
        self._total = total
        self._deadline: float | None = None
        self._duration = duration
        self._stopped = False
        self._outstanding: dict[int, Deferred[HTTPResult]] = {}
        self._watchers: list[tuple[Callable[[], bool], Deferred[None]]] = []
        self._done: list[Deferred[None]] = []
        self.outcomes: list[Outcome] = []
        self.completed: list[Outcome] = []

    @property
    def inFlight(self) -> int:
        """
        How many requests are in flight now.
        """
        return len(self._outstanding)

    @property
    def finished(self) -> bool:
        """
        Whether the load makes no more requests and none is in flight.
        """
        return self._stopped and not self._outstanding

    def start(self) -> None:
        """
        Start making requests.
        """
        if self._duration is not None:
            self._deadline = self._clock.seconds() + self._duration
        for _ in range(self._inFlight):
            self._issueOne()

    def _issueOne(self) -> None:
        if (
            self._stopped
            or len(self.outcomes) >= self._total
            or (self._deadline is not None and self._clock.seconds() >= self._deadline)
        ):
            self._stopped = True
            return
        index = len(self.outcomes)
        outcome = Outcome(index, self._plan(index), self._clock.seconds())
        self.outcomes.append(outcome)
        d = self._send(outcome.request)
        self._outstanding[index] = d

        def succeeded(result: HTTPResult) -> None:
            outcome.result = result

        def failed(failure: Failure) -> None:
            outcome.failure = failure

        d.addCallbacks(succeeded, failed)
        d.addCallback(lambda _: self._completed(outcome))

    def _completed(self, outcome: Outcome) -> None:
        outcome.ended = self._clock.seconds()
        self._outstanding.pop(outcome.index, None)
        self.completed.append(outcome)
        self._issueOne()
        for watcher in list(self._watchers):
            predicate, d = watcher
            if predicate():
                self._watchers.remove(watcher)
                d.callback(None)
        if self.finished:
            watchers, self._watchers = self._watchers, []
            for _, d in watchers:
                d.errback(
                    LoadFinished(
                        f"the load finished before the condition was met: "
                        f"{self.summary()}"
                    )
                )
            done, self._done = self._done, []
            for d in done:
                d.callback(None)

    def until(self, predicate: Callable[[], bool]) -> Deferred[None]:
        """
        Wait until C{predicate} is true after some request ends.

        @param predicate: Checked now and after every request that ends.
        @return: A L{Deferred} that fires once C{predicate()} is true, or
            fails with L{LoadFinished} if the load finishes first.
        """
        if predicate():
            return succeed(None)
        if self.finished:
            return fail(LoadFinished(f"the load has finished: {self.summary()}"))
        d: Deferred[None] = Deferred(lambda d: self._watchers.remove((predicate, d)))
        self._watchers.append((predicate, d))
        return d

    def whenDone(self) -> Deferred[None]:
        """
        Wait until the load makes no more requests (C{total} made,
        C{duration} passed or L{stop} called) and none is in flight.
        """
        if self.finished:
            return succeed(None)
        d: Deferred[None] = Deferred(lambda d: self._done.remove(d))
        self._done.append(d)
        return d

    def stop(self) -> Deferred[None]:
        """
        Make no more requests.

        @return: L{whenDone}.
        """
        self._stopped = True
        return self.whenDone()

    def abort(self) -> None:
        """
        Make no more requests, and cancel those in flight.
        """
        self._stopped = True
        for d in list(self._outstanding.values()):
            d.cancel()

    def summary(self) -> str:
        """
        How many requests ended how, and the first few that did not end
        with a 200, for messages.
        """
        codes = Counter(
            str(o.code) if o.result is not None else "no response"
            for o in self.completed
        )
        bad = [o for o in self.completed if o.code != 200]
        lines = [
            f"{len(self.outcomes)} requests made, {len(self.completed)} ended,"
            f" {self.inFlight} in flight; outcomes {dict(codes)}",
            *(f"  {o.describe()}" for o in bad[:20]),
        ]
        if len(bad) > 20:
            lines.append(f"  ... and {len(bad) - 20} more")
        return "\n".join(lines)


class SystemTestCase(TestCase):
    """
    A test that starts a front and handlers and talks HTTP to the front.

    @ivar workdir: The per-test directory that is every process's working
        directory and holds the ZeroMQ C{ipc://} sockets.
    @ivar sendAddress: The front's C{--send} address.
    @ivar returnAddress: The front's C{--return} address.
    @ivar httpPort: The TCP port the front listens on.
    @ivar processes: Every process this test started, in order.
    """

    timeout = 60

    def setUp(self) -> None:
        self.workdir = FilePath(self.mktemp())
        self.workdir.makedirs()
        self.sendAddress = "ipc://send.ipc"
        self.returnAddress = "ipc://return.ipc"
        self.httpPort = freePort()
        self.processes: list[TwistdProcess] = []
        self._environment = childEnvironment()
        self.agent = Agent(reactor, pool=self.connectionPool(persistent=False))

    # Processes

    def transcript(self) -> str:
        """
        Every process's output, for assertion messages.

        @return: The transcripts of all processes started by this test.
        """
        return "\nProcess output:\n" + "\n".join(p.transcript() for p in self.processes)

    def startTwistd(self, label: str, arguments: Sequence[str]) -> TwistdProcess:
        """
        Start C{twistd -n} in the foreground, logging to stdout, without a
        pidfile, in L{workdir}, in a session of its own; stop it, and kill
        what is left of its process group, when the test ends.

        @param label: A name for the process in transcripts.
        @param arguments: The plugin name and its options.
        @return: The started process.
        """
        return self.startProcess(
            label,
            [*twistdCommand(), "--nodaemon", "--logfile=-", "--pidfile=", *arguments],
        )

    def startProcess(self, label: str, argv: Sequence[str]) -> TwistdProcess:
        """
        Start a process in L{workdir}, with the test environment, in a
        session of its own; stop it, and kill what is left of its process
        group, when the test ends.

        @param label: A name for the process in transcripts.
        @param argv: The command line, the executable's path first.
        @return: The started process.
        """
        argv = inOwnSession(argv)
        process = TwistdProcess(reactor, label)
        reactor.spawnProcess(
            process, argv[0], list(argv), env=self._environment, path=self.workdir.path
        )
        process.group = process.pid
        self.processes.append(process)
        self.addCleanup(self._stopInCleanup, process)
        return process

    async def _stopInCleanup(self, process: TwistdProcess) -> None:
        await process.stop()
        process.killGroup()
        if process.killed:
            self.fail(
                f"{process.label} did not exit within {STOP_GRACE} seconds of"
                f" SIGTERM and was killed" + self.transcript()
            )

    def assertStoppedCleanly(self, process: TwistdProcess) -> None:
        """
        Assert that a process that was asked to stop stopped by itself
        after shutting down: with exit code 0 or, as twistd does when a
        signal stopped its reactor, by raising that signal again (so that
        its parent sees why it stopped) once it logged C{Server Shut Down}.

        @param process: A process that has ended.
        """
        end = process.end
        clean = isinstance(end, ProcessDone) or (
            isinstance(end, ProcessTerminated)
            and end.signal == signals.SIGTERM
            and process.countLines("Server Shut Down.") == 1
        )
        self.assertTrue(
            clean and not process.killed,
            f"{process.label} did not stop cleanly" + self.transcript(),
        )

    def frontArguments(
        self,
        *extra: str,
        port: int | None = None,
        addresses: tuple[str, str] | None = None,
        statsPort: int | None = None,
    ) -> list[str]:
        """
        The arguments for an C{mpfront} using this test's addresses.

        @param extra: More C{mpfront} options.
        @param port: The HTTP port, by default L{httpPort}.
        @param addresses: The C{--send} and C{--return} addresses, by
            default L{sendAddress} and L{returnAddress}.
        @param statsPort: A port on C{127.0.0.1} for C{--stats}, if any.
        """
        send, ret = addresses or (self.sendAddress, self.returnAddress)
        stats = [] if statsPort is None else ["--stats", statsEndpoint(statsPort)]
        return [
            "mpfront",
            "--listen",
            f"tcp:{self.httpPort if port is None else port}:interface=127.0.0.1",
            "--send",
            send,
            "--return",
            ret,
            *stats,
            *extra,
        ]

    async def startFront(
        self,
        *extra: str,
        label: str = "front",
        port: int | None = None,
        addresses: tuple[str, str] | None = None,
        statsPort: int | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd mpfront} and wait until it says it is ready.

        @param extra: More C{mpfront} options.
        @param label: A name for the process in transcripts.
        @param port: The HTTP port, by default L{httpPort}.
        @param addresses: The C{--send} and C{--return} addresses, by
            default L{sendAddress} and L{returnAddress}.
        @param statsPort: A port on C{127.0.0.1} for C{--stats}, if any.
        @return: The front, listening.
        """
        front = self.startTwistd(
            label,
            self.frontArguments(*extra, port=port, addresses=addresses, statsPort=statsPort),
        )
        await front.waitForLine("mpfront ready")
        return front

    def startHandlerProcess(
        self,
        name: str,
        app: str,
        *extra: str,
        fronts: Sequence[tuple[str, str]] | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd mphandler} without waiting for anything.

        @param name: The handler's C{--name}, also its label.
        @param app: The C{--app} to serve.
        @param extra: More C{mphandler} options.
        @param fronts: The C{--send} and C{--return} address pairs of the
            fronts to serve, by default this test's one front.
        @return: The process.
        """
        pairs = fronts or [(self.sendAddress, self.returnAddress)]
        addresses = [a for (send, ret) in pairs for a in ("--send", send, "--return", ret)]
        return self.startTwistd(
            name,
            ["mphandler", "--app", app, *addresses, "--name", name, *extra],
        )

    async def startHandler(
        self,
        name: str,
        app: str,
        *extra: str,
        front: TwistdProcess | None = None,
        fronts: Sequence[tuple[str, str]] | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd mphandler} and wait until it has started and, if
        C{front} is given, until that front says the handler joined.

        @param name: The handler's C{--name}.
        @param app: The C{--app} to serve.
        @param extra: More C{mphandler} options.
        @param front: The front it should join.
        @param fronts: The C{--send} and C{--return} address pairs of the
            fronts to serve, by default this test's one front.
        @return: The handler.
        """
        handler = self.startHandlerProcess(name, app, *extra, fronts=fronts)
        await handler.waitForLine(f"mphandler {name} started")
        if front is not None:
            await self.joined(front, name)
        return handler

    async def joined(self, front: TwistdProcess, name: str) -> None:
        """
        Wait until C{front} says the handler C{name} joined.

        @param front: The front.
        @param name: The handler's C{--name}.
        """
        try:
            await front.waitForLine(f"handler {name} joined")
        except LineTimeout as e:
            self.fail(f"handler {name} never joined: {e}" + self.transcript())

    async def startFrontAndHandler(
        self, app: str, *handlerArguments: str, frontArguments: Sequence[str] = ()
    ) -> tuple[TwistdProcess, TwistdProcess]:
        """
        Start a front, then one handler named C{h1} serving C{app}, and
        wait until the handler joined.

        @return: The front and the handler.
        """
        front = await self.startFront(*frontArguments)
        handler = await self.startHandler("h1", app, *handlerArguments, front=front)
        return front, handler

    # HTTP

    def url(self, path: str, port: int | None = None) -> bytes:
        """
        The URL of C{path} on the front.

        @param path: Path and query, starting with C{/}.
        @param port: The front's port, by default L{httpPort}.
        """
        return f"http://127.0.0.1:{self.httpPort if port is None else port}{path}".encode(
            "ascii"
        )

    def connectionPool(self, persistent: bool, maxPerHost: int = 2) -> HTTPConnectionPool:
        """
        Make an HTTP connection pool whose cached connections are closed
        when the test ends.

        @param persistent: Whether to keep connections open between requests.
        @param maxPerHost: How many idle connections to keep per host.
        """
        pool = HTTPConnectionPool(reactor, persistent=persistent)
        pool.maxPersistentPerHost = maxPerHost
        # A retried request would hide a connection the front broke.
        pool.retryAutomatically = False
        self.addCleanup(pool.closeCachedConnections)
        return pool

    def persistentAgent(self, connections: int) -> Agent:
        """
        Make an agent that keeps up to C{connections} connections open for
        reuse.
        """
        return Agent(reactor, pool=self.connectionPool(True, connections))

    def request(
        self,
        method: bytes,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        agent: Agent | None = None,
        chunked: bool = False,
        port: int | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Deferred[HTTPResult]:
        """
        Make one HTTP request to the front and read the whole response.

        @param method: C{b"GET"}, C{b"POST"}...
        @param path: Path and query, starting with C{/}.
        @param body: The request body, if any.
        @param headers: Request headers.
        @param agent: The agent to use, by default a non-persistent one.
        @param chunked: Send C{body} with chunked transfer-encoding.
        @param port: The front's port, by default L{httpPort}.
        @param timeout: Seconds before the request is cancelled.
        @return: A L{Deferred} firing with an L{HTTPResult}.
        """
        started = reactor.seconds()
        producer: IBodyProducer | None = None
        if body is not None:
            producer = (
                _ChunkedBodyProducer(body) if chunked else FileBodyProducer(BytesIO(body))
            )
        requestHeaders = Headers({k: [v] for (k, v) in (headers or {}).items()})
        d = (agent or self.agent).request(
            method, self.url(path, port), requestHeaders, producer
        )

        def read(response: IResponse) -> Deferred[HTTPResult]:
            return readBody(response).addCallback(
                lambda body: HTTPResult(
                    response.code,
                    response.headers,
                    None if response.length is UNKNOWN_LENGTH else response.length,
                    body,
                    reactor.seconds() - started,
                )
            )

        return d.addCallback(read).addTimeout(timeout, reactor)

    def get(self, path: str, **kwargs: Any) -> Deferred[HTTPResult]:
        """
        L{request} with C{GET}.
        """
        return self.request(b"GET", path, **kwargs)

    def assertResponse(
        self,
        result: HTTPResult,
        code: int,
        body: bytes | None = None,
    ) -> None:
        """
        Assert a response's status and, if given, its exact body; the
        message carries the response and every process's output.

        @param result: The response.
        @param code: The expected status code.
        @param body: The expected body, or L{None} not to check it.
        """
        description = (
            f"response {result.code} {dict(result.headers.getAllRawHeaders())!r}"
            f" body {result.body[:2000]!r}"
        )
        self.assertEqual(
            result.code, code, f"expected status {code}, got {description}" + self.transcript()
        )
        if body is not None:
            self.assertEqual(
                result.body, body, f"unexpected body in {description}" + self.transcript()
            )

    async def rawConnection(self, port: int | None = None) -> RawHTTPClient:
        """
        Open a TCP connection to the front with a L{RawHTTPClient}, closed
        when the test ends.

        @param port: The front's port, by default L{httpPort}.
        """
        endpoint = TCP4ClientEndpoint(
            reactor, "127.0.0.1", self.httpPort if port is None else port, timeout=10
        )
        client = await connectProtocol(endpoint, RawHTTPClient())

        async def close() -> None:
            if client.connected:
                client.transport.abortConnection()
                await client.closed

        self.addCleanup(close)
        return client

    def rawRequest(
        self,
        method: str,
        path: str,
        version: str = "HTTP/1.1",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        port: int | None = None,
    ) -> bytes:
        """
        Format a request for L{RawHTTPClient.request}.

        @return: The request bytes, with a C{Host} header.
        """
        lines = [f"{method} {path} {version}", f"Host: 127.0.0.1:{port or self.httpPort}"]
        lines.extend(f"{name}: {value}" for (name, value) in headers)
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def startLoad(
        self,
        plan: Callable[[int], PlannedRequest],
        inFlight: int,
        total: int,
        duration: float | None = None,
        agent: Agent | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> BoundedLoad:
        """
        Start a L{BoundedLoad} on the front(s), aborted when the test ends.

        @param plan: Say what the C{n}-th request (from 0) is.
        @param inFlight: How many requests to keep in flight.
        @param total: The most requests to make.
        @param duration: The most seconds to go on making requests for.
        @param agent: The agent to use, by default a non-persistent one.
        @param timeout: Seconds before a request is cancelled.
        """

        def send(planned: PlannedRequest) -> Deferred[HTTPResult]:
            return self.request(
                planned.method,
                planned.path,
                body=planned.body,
                port=planned.port,
                agent=agent,
                timeout=timeout,
            )

        load = BoundedLoad(reactor, send, plan, inFlight, total, duration)
        self.addCleanup(load.abort)
        load.start()
        return load

    async def frontStats(self, statsPort: int) -> dict[str, Any]:
        """
        Read a front's C{--stats} JSON.

        @param statsPort: The front's C{--stats} port on C{127.0.0.1}.
        @return: The decoded JSON object.
        """
        result = await self.withTimeout(
            self.get("/", port=statsPort), REQUEST_TIMEOUT, "the front's --stats"
        )
        self.assertResponse(result, 200)
        stats: dict[str, Any] = json.loads(result.body)
        return stats

    async def assertIdle(self, statsPort: int, label: str = "front") -> dict[str, Any]:
        """
        Assert that a front holds no request any more: nothing pending,
        queued or in flight.  Call it once traffic has stopped and every
        response has been read (a front forgets a request before it
        answers it), or once the handler has logged the request's
        cancellation (a front forgets the request before it sends
        C{CANCEL}).

        @param statsPort: The front's C{--stats} port on C{127.0.0.1}.
        @param label: The front's name, for messages.
        @return: The front's statistics.
        """
        stats = await self.frontStats(statsPort)
        counts = stats["counts"]
        self.assertEqual(
            {name: counts.get(name) for name in ("pending", "queued", "inFlight")},
            {"pending": 0, "queued": 0, "inFlight": 0},
            f"{label} still holds requests after traffic stopped: {stats}"
            + self.transcript(),
        )
        return stats

    async def withTimeout(self, d: Deferred[_T], timeout: float, what: str) -> _T:
        """
        Wait for C{d}, failing the test with every process's output if it
        takes longer than C{timeout} seconds.

        @param d: What to wait for.
        @param timeout: Seconds.
        @param what: What C{d} is, for the failure message.
        @return: The result of C{d}.
        """
        try:
            return await d.addTimeout(timeout, reactor)
        except DeferredTimeoutError:
            self.fail(f"timed out after {timeout} seconds waiting for {what}" + self.transcript())


def firstOf(ds: Sequence[Deferred[_T]]) -> Deferred[tuple[_T, int]]:
    """
    Wait for the first of several L{Deferred}s to succeed, without
    cancelling the others (unlike L{twisted.internet.defer.race}).

    @return: A L{Deferred} firing with the first result and its index.
    """
    return DeferredList(list(ds), fireOnOneCallback=True, consumeErrors=False)


# Large bodies: streamed both ways, never held whole by the test process,
# and what the server processes hold meanwhile (memory, open files).


def memoryStatus(pid: int, field: str = "VmHWM") -> int:
    """
    Read a memory figure of a process from C{/proc/PID/status}.

    @param pid: The process ID.
    @param field: C{"VmHWM"} (the peak resident set size since the process
        started) or C{"VmRSS"} (the resident set size now).
    @return: The figure in bytes.
    @raise KeyError: If the process has no such field.
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == field:
                number, unit = value.split()
                assert unit == "kB", line
                return int(number) * 1024
    raise KeyError(f"no {field} in /proc/{pid}/status")


def regularFilesOpen(pid: int) -> set[str]:
    """
    The regular files a process has open now, from C{/proc/PID/fd}: a
    deleted or unnamed temporary file still shows there (as C{/tmp/#123
    (deleted)}), though not in any directory listing.

    @param pid: The process ID.
    @return: The targets of the descriptors that are regular files.
    """
    found = set()
    directory = f"/proc/{pid}/fd"
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            # stat() follows the link to the open file, even a deleted one.
            if stat.S_ISREG(os.stat(path).st_mode):
                found.add(os.readlink(path))
        except FileNotFoundError:
            # Closed since the listing.
            continue
    return found


@implementer(IBodyProducer)
class GeneratedBody:
    """
    A request body taken from an iterator of chunks as the connection takes
    them, so that it is never held whole: the transport pauses it while
    its buffer is full.

    Optionally it stops after C{gate[0]} bytes until the L{Deferred} that
    C{gate[1]()} returns fires (for instance, until a handler logs that the
    application read the first bytes), and calls C{observe(sent)} after
    every chunk.

    @ivar sent: How many bytes were written so far.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        length: Any = UNKNOWN_LENGTH,
        gate: tuple[int, Callable[[], Deferred[Any]]] | None = None,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        """
        @param chunks: The body, in pieces.
        @param length: Its length, or L{UNKNOWN_LENGTH} to send it chunked.
        @param gate: How many bytes to send before waiting, and what to
            wait for.
        @param observe: Called with the number of bytes sent after every
            chunk.
        """
        self.length = length
        self.sent = 0
        self._chunks = iter(chunks)
        self._gate = gate
        self._observe = observe
        self._consumer: IConsumer | None = None
        self._finished: Deferred[None] = Deferred()
        self._paused = False
        self._waiting = False
        self._stopped = False
        self._producing = False

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        self._consumer = consumer
        self._produce()
        return self._finished

    def _produce(self) -> None:
        if self._producing:
            return
        self._producing = True
        try:
            while not (self._paused or self._waiting or self._stopped):
                if self._gate is not None and self.sent >= self._gate[0]:
                    self._waiting = True
                    opened, self._gate = self._gate[1](), None
                    # If it has fired already, _gateOpened found us producing
                    # and left it to this loop to go on.
                    opened.addCallbacks(self._gateOpened, self._gateFailed)
                    continue
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self._stopped = True
                    self._finished.callback(None)
                    return
                self.sent += len(chunk)
                assert self._consumer is not None
                self._consumer.write(chunk)
                if self._observe is not None:
                    self._observe(self.sent)
        finally:
            self._producing = False

    def _gateOpened(self, ignored: object) -> None:
        self._waiting = False
        self._produce()

    def _gateFailed(self, reason: Failure) -> None:
        if not self._stopped:
            self._stopped = True
            self._finished.errback(reason)

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._produce()

    def stopProducing(self) -> None:
        # IBodyProducer: the Deferred of startProducing must then never fire.
        self._stopped = True


class BodyDigest(Protocol):
    """
    Receive a response body (given to L{IResponse.deliverBody}) keeping
    only its SHA-256, its length and its first L{keep} bytes in
    C{prefix}.

    @ivar done: Fires with this object once the whole body was received,
        or fails with the reason it was not.
    """

    #: How many bytes of the body to keep, for messages and small bodies.
    keep = 4096

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.length = 0
        self.prefix = b""
        self.done: Deferred[BodyDigest] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.digest.update(data)
        if self.length < self.keep:
            self.prefix += data[: self.keep - self.length]
        self.length += len(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if reason.check(ResponseDone):
            self.done.callback(self)
        else:
            self.done.errback(reason)

    def hexdigest(self) -> str:
        """
        The SHA-256 of what was received, in hex.
        """
        return self.digest.hexdigest()


async def streamedRequest(
    case: SystemTestCase,
    method: bytes,
    path: str,
    body: IBodyProducer | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT,
    port: int | None = None,
) -> tuple[IResponse, BodyDigest]:
    """
    Make one HTTP request to the front with C{case}'s agent and receive the
    response body into a L{BodyDigest}, never holding either body whole.

    @param case: The test.
    @param body: The request body, if any (see L{GeneratedBody}).
    @param timeout: Seconds the whole exchange may take.
    @return: The response and the digest of its body.
    """
    requestHeaders = Headers({k: [v] for (k, v) in (headers or {}).items()})

    async def exchange() -> tuple[IResponse, BodyDigest]:
        response = await case.agent.request(
            method, case.url(path, port), requestHeaders, body
        )
        receiver = BodyDigest()
        response.deliverBody(receiver)
        await receiver.done
        return response, receiver

    return await case.withTimeout(
        Deferred.fromCoroutine(exchange()), timeout, f"{method.decode()} {path}"
    )


@contextlib.contextmanager
def extraEnvironment(case: SystemTestCase, **variables: str) -> Iterator[None]:
    """
    Add environment variables for the processes C{case} starts inside the
    C{with} block (C{startTwistd} reads the environment when it spawns).

    @param variables: The variables to add or replace.
    """
    saved = case._environment
    case._environment = dict(saved, **variables)
    try:
        yield
    finally:
        case._environment = saved
