# -*- test-case-name: tests -*-
"""
The processes a system test starts, and their lifetime.

A L{TwistdProcess} records what its process writes, line by line, and lets
a test wait, with a time limit, for a line or for the process's end.  Every
process is started by L{inOwnSession} in a session, and so a process group,
of its own, and dies with the test runner; L{TwistdProcess.stop} stops it by
its PID (C{SIGTERM}, then C{SIGKILL}), L{TwistdProcess.killGroup} kills what
is left of its group (the handlers a front spawned, say).  Processes a test
did not start itself (a front's spawned handlers) are waited for by
L{whenExited}, on a Linux pidfd rather than by polling, and made sure of by
L{reap}, which signals them by pidfd too (L{ProcessHandle}), never a
process that took a PID after them.
"""

from __future__ import annotations

import os
import re
import signal as signals
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Callable, Union

from twisted.internet.defer import (
    CancelledError,
    Deferred,
    fail,
    succeed,
)
from twisted.internet.defer import (
    TimeoutError as DeferredTimeoutError,
)
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IReactorTime, IReadDescriptor
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from zope.interface import implementer

from ._reactor import reactor
from .procfs import childPids, hasExited

#: The checkout: first on the C{PYTHONPATH} of every process a test starts.
PROJECT_ROOT = FilePath(__file__).parent().parent().parent()

# The application of the documents' C{myproject.wsgi:application}, as the
# source of its module: the tests that run the README's and
# docs/deployment.md's commands as written put it in their directory.
PROJECT_APP = b'''\
def application(environ, start_response):
    body = b"myproject says hello\\n"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

#: How long a process may take to write a log line we wait for.
READY_TIMEOUT = 30.0

#: How long a process may take to exit after C{SIGTERM} before it is killed.
STOP_GRACE = 10.0

#: What a line is waited for by: a substring, a regular expression to
#: search for, or a predicate called with each line.
LinePattern = Union[str, "re.Pattern[str]", Callable[[str], bool]]
ProcessEnd = Union[ProcessDone, ProcessTerminated]


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
    imports.  Output is left as buffered as a user's would be (standard
    output on a pipe is block-buffered), so that a line a process fails to
    flush is missed by the tests as it would be by its user: with
    C{PYTHONUNBUFFERED} set here, the suite could not see that JSON log
    lines were never flushed, and a spawned handler's whole log was lost.
    So it is taken out even if the environment running the tests has it.

    @return: A new environment mapping.
    """
    env = dict(os.environ)
    paths = [PROJECT_ROOT.path]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("PYTHONUNBUFFERED", None)
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


class ProcessHandle:
    """
    A process that this process did not start (a handler a front spawned),
    to signal and to wait for.  Where Python and Linux have pidfds
    (C{os.pidfd_open} and C{signal.pidfd_send_signal}: CPython 3.9+ on Linux
    5.3+; not Debian's PyPy 3.9) it is held by one, opened when the handle
    is made, so that its signals and the wait for its exit reach that
    process and never a later one that was given its PID once it was gone
    and reaped; elsewhere, by its PID.

    @ivar pid: The process ID.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd = -1
        self._gone = False
        if hasattr(os, "pidfd_open") and hasattr(signals, "pidfd_send_signal"):
            try:
                self._fd = os.pidfd_open(pid)
            except ProcessLookupError:
                self._gone = True

    def signal(self, signum: int) -> None:
        """
        Send C{signum} to the process, unless it is gone.
        """
        try:
            if self._fd >= 0:
                signals.pidfd_send_signal(self._fd, signum)
            elif not self._gone:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def whenExited(self) -> Deferred[None]:
        """
        Wait for the process to exit, without polling where there are
        pidfds: one becomes readable when its process exits.

        @return: A cancellable L{Deferred} that fires when the process has
            exited (at once if it had when the handle was made).
        """
        if self._gone:
            return succeed(None)
        if self._fd < 0:
            return _pollForExit(self.pid)
        watcher: _ExitWatcher
        exited: Deferred[None] = Deferred(lambda d: watcher._close())
        # The watcher closes its descriptor when done: a copy of ours.
        watcher = _ExitWatcher(os.dup(self._fd), exited)
        reactor.addReader(watcher)
        return exited

    def close(self) -> None:
        """
        Let go of the pidfd, if any.
        """
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def whenExited(pid: int) -> Deferred[None]:
    """
    Wait for a process that this process did not start (so gets no
    C{SIGCHLD} for) to exit (L{ProcessHandle.whenExited}).

    @param pid: The process ID.
    @return: A cancellable L{Deferred} that fires when the process has
        exited (at once if there is no such process).
    """
    handle = ProcessHandle(pid)

    def closed(result: object) -> object:
        handle.close()
        return result

    return handle.whenExited().addBoth(closed)


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
        if hasExited(pid):
            poller.stop()
            exited.callback(None)

    poller = LoopingCall(check)
    poller.clock = reactor
    poller.start(0.1)
    return exited


def _unprefixed(line: str) -> str:
    return line[len("(stderr) ") :] if line.startswith("(stderr) ") else line


async def reap(parent: TwistdProcess, pids: Iterable[int] = (), grace: float = STOP_GRACE) -> None:
    """
    Make sure that processes C{parent} started (handlers a front spawned),
    which the test did not start and so cannot wait for, are gone: stop
    C{parent}, which should stop them, then give each of C{pids}, and of
    the children C{parent} had when this was called, C{grace} seconds to
    exit, and kill any still there.

    @param parent: The process that started them.
    @param pids: Processes it started earlier, which may have left it.
    @param grace: Seconds each may take to exit once C{parent} stopped.
    """
    waitFor = set(pids)
    if parent.pid is not None:
        waitFor |= childPids(parent.pid)
    # Held before C{parent} stops: its children cannot have been reaped
    # yet, so none of their PIDs has gone to another process (those of
    # C{pids}, found earlier, are as safe as that was).
    handles = [ProcessHandle(pid) for pid in sorted(waitFor)]
    try:
        await parent.stop()
    finally:
        await endProcesses(handles, grace)


async def endProcesses(
    handles: Sequence[ProcessHandle], grace: float = STOP_GRACE, first: int | None = None
) -> None:
    """
    See each of C{handles}' processes exit, in order: send it C{first}, if
    given, and C{SIGKILL} if it is still there C{grace} seconds later; then
    let go of the handles.

    @param first: The signal that asks it to stop (C{SIGTERM}), if it has
        not been asked already.
    """
    try:
        for handle in handles:
            if first is not None:
                handle.signal(first)
            try:
                await handle.whenExited().addTimeout(grace, reactor)
            except DeferredTimeoutError:
                handle.signal(signals.SIGKILL)
                await handle.whenExited()
    finally:
        for handle in handles:
            handle.close()


