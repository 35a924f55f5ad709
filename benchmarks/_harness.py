"""
What the txmp benchmarks share: starting servers and waiting for the lines
they log when ready, stopping every one of them by PID, and running wrk.

Not a benchmark itself; C{throughput.py} and C{threads.py} import it (the
directory of the script being run is on C{sys.path}).  Standard library
only, so that it runs on any interpreter the benchmarks are run with.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import os
import platform
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))

# The checkout: on the servers' PYTHONPATH, so that they run its txmp (and
# twistd finds its plugins) whether or not it is installed.
CHECKOUT = os.path.dirname(HERE)

# How long a server may take to log that it is ready (PyPy imports slowly).
READY_TIMEOUT = 60.0


class BenchmarkError(Exception):
    """
    A benchmark could not produce a trustworthy figure.
    """


class Server:
    """
    A server process whose output (stdout and stderr together) is read in a
    thread, so that we can wait for the line it logs when ready.

    It runs in a session of its own, so that a Ctrl-C at the terminal
    reaches only this script, which then stops it by PID (see L{stop}).
    """

    def __init__(
        self,
        label: str,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.label = label
        self.args = list(args)
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._condition = threading.Condition()
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        self.pid = self.process.pid
        # For a handler: the credits it offered the front when it joined,
        # and how many of them are threads (the rest its prefetch).
        self.credits: int | None = None
        self.threads: int | None = None
        # Processes it started itself (mpfront --spawn's handlers, gunicorn's
        # workers), stopped by their PIDs after it if still there.
        self.children: list[ChildProcess] = []
        self._eof = False
        self._reader = threading.Thread(
            target=self._read, name="output of " + label, daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._condition:
                self._lines.append(line.rstrip("\n"))
                self._condition.notify_all()
        with self._condition:
            self._eof = True
            self._condition.notify_all()

    def tail(self, count: int = 30) -> str:
        """
        The last C{count} lines of output, indented, for error messages.
        """
        with self._condition:
            lines = list(self._lines)[-count:]
        return "\n".join("    " + line for line in lines)

    def waitFor(self, pattern: str, timeout: float = READY_TIMEOUT) -> re.Match[str]:
        """
        Wait until a line of output matches the regular expression
        C{pattern} (lines seen before the call count too).

        @return: the match.
        @raise BenchmarkError: if the process exits or C{timeout} passes
            first.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._condition:
            while True:
                lines = list(self._lines)
                for line in lines[seen:]:
                    match = regex.search(line)
                    if match is not None:
                        return match
                # The deque is bounded; rescan from its start if it wrapped.
                seen = len(lines) if len(lines) < (self._lines.maxlen or 0) else 0
                if self._eof:
                    raise BenchmarkError(
                        "%s (pid %d) exited before logging %r; its output:\n%s"
                        % (self.label, self.pid, pattern, self.tail())
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BenchmarkError(
                        "%s (pid %d) did not log %r within %.0f s; its output:\n%s"
                        % (self.label, self.pid, pattern, timeout, self.tail())
                    )
                self._condition.wait(remaining)

    def cpuSeconds(self) -> float | None:
        """
        User and system CPU time used so far by the process (not its
        children), from C{/proc}; C{None} where that cannot be read.
        """
        return processCpuSeconds(self.pid)

    def adoptChildren(self, count: int, timeout: float = READY_TIMEOUT) -> list[ChildProcess]:
        """
        Find the C{count} processes this one started (their parent PID is
        its PID), wait for them if they are not all there yet, and keep them
        in L{children}, to be stopped after it.

        @raise BenchmarkError: if there are not exactly C{count} after
            C{timeout} seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            pids = childPids(self.pid)
            if len(pids) == count:
                break
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise BenchmarkError(
                    "%s (pid %d) has %d child processes, expected %d; its output:\n%s"
                    % (self.label, self.pid, len(pids), count, self.tail())
                )
            # Nothing to wait on for another process's children: poll.
            time.sleep(0.05)
        self.children = [
            ChildProcess("%s child %d" % (self.label, pid), pid) for pid in pids
        ]
        return self.children

    def stop(self, grace: float = 10.0) -> None:
        """
        Stop the process by its PID: SIGTERM, then SIGKILL if it is still
        there after C{grace} seconds; then any of its L{children} still
        there (it stops them itself, normally), the same way.
        """
        try:
            self._stopSelf(grace)
        finally:
            for child in self.children:
                child.stop(grace)

    def _stopSelf(self, grace: float) -> None:
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                print(
                    "%s (pid %d) ignored SIGTERM; killing it" % (self.label, self.pid),
                    file=sys.stderr,
                )
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(5)


def statFields(path: str) -> tuple[str, list[str]] | None:
    """
    The command name and the fields after it of a C{stat} file of
    C{/proc} (C{/proc/PID/stat}, C{/proc/PID/task/TID/stat}): index 0 of
    the fields is field 3 of proc(5), the state; 11 and 12 are utime and
    stime.  C{None} if it cannot be read (the process or thread is gone).
    """
    try:
        with open(path) as f:
            stat = f.read()
    except OSError:
        return None
    # The name is between the first "(" and the last ")": it may hold
    # spaces and brackets.
    head, _, rest = stat.rpartition(")")
    return head.partition("(")[2], rest.split()


def _statFields(pid: int) -> list[str] | None:
    found = statFields("/proc/%d/stat" % (pid,))
    return None if found is None else found[1]


def processCpuSeconds(pid: int) -> float | None:
    """
    User and system CPU time used so far by process C{pid} (all its
    threads, not its children), from C{/proc/PID/stat}; C{None} where that
    cannot be read.
    """
    fields = _statFields(pid)
    if fields is None:
        return None
    # Fields 14 and 15 of proc(5), utime and stime, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def childPids(pid: int) -> list[int]:
    """
    The PIDs of the live (not zombie) processes whose parent is C{pid}.
    """
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _statFields(int(entry))
            # Field 4 of proc(5): the parent's PID.
            if fields is not None and fields[0] != "Z" and int(fields[1]) == pid:
                children.append(int(entry))
    return sorted(children)


class ChildProcess:
    """
    A process started by one of our servers, not by us: we can read its CPU
    time and stop it by its PID, but not wait for it.  Its start time (field
    22 of C{/proc/PID/stat}) is noted when it is found, so that a PID reused
    by another process after it exited is never read nor signalled.
    """

    def __init__(self, label: str, pid: int) -> None:
        self.label = label
        self.pid = pid
        fields = _statFields(pid)
        self._started = fields[19] if fields is not None else None

    def _fields(self) -> list[str] | None:
        fields = _statFields(self.pid)
        if fields is None or fields[19] != self._started or fields[0] == "Z":
            return None
        return fields

    def alive(self) -> bool:
        """
        Whether the process is still there (and not a zombie).
        """
        return self._fields() is not None

    def cpuSeconds(self) -> float | None:
        """
        See L{Server.cpuSeconds}.
        """
        fields = self._fields()
        if fields is None:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, grace: float = 10.0) -> None:
        """
        If it is still there: SIGTERM, then SIGKILL after C{grace} seconds.
        """
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.alive():
                return
            if sig == signal.SIGKILL:
                print("%s (pid %d) ignored SIGTERM; killing it" % (self.label, self.pid),
                      file=sys.stderr)
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            # Not our child: no wait(), poll /proc.
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)


class ProcessGroup:
    """
    Several processes counted as one for L{withCpu} (a server's workers).
    """

    def __init__(self, members: Sequence[Any]) -> None:
        self.members = list(members)

    def cpuSeconds(self) -> float | None:
        """
        The CPU time of all members; C{None} if any cannot be read (one
        exited: the sum would be wrong).
        """
        total = 0.0
        for member in self.members:
            seconds = member.cpuSeconds()
            if seconds is None:
                return None
            total += seconds
        return total


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM: unwind like Ctrl-C, so that the servers are stopped.
    raise KeyboardInterrupt("signal %d" % (signum,))


class Servers:
    """
    Every server a benchmark starts, and a temporary directory for their
    ipc:// addresses; on exit from the C{with} block (normally, by an
    exception, by Ctrl-C or by a SIGTERM to the benchmark, which raises
    L{KeyboardInterrupt} inside the block) every server is stopped by its
    PID, the latest first, and the directory removed.
    """

    def __init__(self) -> None:
        self._servers: list[Server] = []
        self.directory = tempfile.mkdtemp(prefix="txmp-bench-")
        self._previousTerm: Any = None

    def __enter__(self) -> Servers:
        self._previousTerm = signal.signal(signal.SIGTERM, _interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stopAll()
        finally:
            signal.signal(signal.SIGTERM, self._previousTerm)

    def start(self, label: str, args: Sequence[str], checkout: str = CHECKOUT) -> Server:
        """
        Start a server in the temporary directory, with this directory
        (for C{benchapps}) and C{checkout} (this one by default: its txmp,
        and its twistd plugins) first on its C{PYTHONPATH}.
        """
        server = Server(label, args, withPythonPath(HERE, checkout), self.directory)
        self._servers.append(server)
        return server

    def stopAll(self) -> None:
        # Ctrl-C or SIGTERM while stopping must not leave the rest running.
        previous = {
            sig: signal.signal(sig, signal.SIG_IGN)
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while self._servers:
                self._servers.pop().stop()
            shutil.rmtree(self.directory, ignore_errors=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def ipc(self, name: str) -> str:
        """
        An ipc:// ZeroMQ address in the temporary directory.
        """
        return "ipc://" + os.path.join(self.directory, name)


# Run by a server started with patches: set each module constant, refusing a
# name the module does not have (a typo would otherwise measure nothing).
_PATCH = """
import importlib
for _path, _value in {patches!r}:
    _module, _, _name = _path.rpartition(".")
    _module = importlib.import_module(_module)
    if not hasattr(_module, _name):
        raise SystemExit("no constant " + _path)
    setattr(_module, _name, _value)
"""


def twistdArgs(
    python: str, *args: str, patches: Sequence[tuple[str, object]] = ()
) -> list[str]:
    """
    The command line of C{twistd -n --pidfile= ARGS} run by C{python}
    (which need not have a C{twistd} script of its own).

    @param patches: C{(module.NAME, value)} pairs set before twistd starts,
        to measure another value of a constant without editing the code.
    """
    code = "from twisted.scripts.twistd import run; run()"
    if patches:
        code = _PATCH.format(patches=list(patches)) + code
    return [python, "-c", code, "--nodaemon", "--pidfile=", *args]


def withPythonPath(*directories: str) -> dict[str, str]:
    """
    This process's environment, with C{directories} first on
    C{PYTHONPATH}.
    """
    env = dict(os.environ)
    parts = list(directories)
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def startFront(
    servers: Servers,
    python: str,
    send: str,
    ret: str,
    extra: Sequence[str] = (),
    patches: Sequence[tuple[str, object]] = (),
    checkout: str = CHECKOUT,
) -> tuple[Server, int]:
    """
    Start C{twistd mpfront} on an ephemeral loopback port and wait until it
    logs C{mpfront ready}.

    @param patches: see L{twistdArgs}.
    @param checkout: the txmp checkout the front runs (see L{Servers.start}).
    @return: the server and its HTTP port.
    """
    front = servers.start(
        "mpfront",
        twistdArgs(
            python,
            "mpfront",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--send",
            send,
            "--return",
            ret,
            *extra,
            patches=patches,
        ),
        checkout,
    )
    match = front.waitFor(r"mpfront ready:.*port=(\d+)")
    return front, int(match.group(1))


def startHandler(
    servers: Servers,
    front: Server,
    python: str,
    app: str,
    send: str,
    ret: str,
    name: str,
    threads: int | None = None,
    patches: Sequence[tuple[str, object]] = (),
    checkout: str = CHECKOUT,
    extra: Sequence[str] = (),
) -> Server:
    """
    Start C{twistd mphandler} serving C{app} (from L{benchapps} or any
    importable module) and wait until the front logs that it joined.

    @param patches: see L{twistdArgs}.
    @param extra: further C{mphandler} options.
    @param checkout: the txmp checkout the handler runs (see
        L{Servers.start}).
    """
    args = ["mphandler", "--app", app, "--send", send, "--return", ret, "--name", name]
    if threads is not None:
        args += ["--threads", str(threads)]
    args += extra
    handler = servers.start(
        "mphandler " + name, twistdArgs(python, *args, patches=patches), checkout
    )
    try:
        match = front.waitFor(
            r"handler %s joined(?: with (\d+) credits(?: \(prefetch (\d+)\))?)?"
            % (re.escape(name),)
        )
    except BenchmarkError as e:
        raise BenchmarkError(
            "%s\nand the handler's output:\n%s" % (e, handler.tail())
        ) from None
    # The credits it offers: its --threads plus its --prefetch, whatever
    # the defaults are; and the threads alone.
    handler.credits = int(match.group(1)) if match.group(1) else None
    handler.threads = (
        None if handler.credits is None else handler.credits - int(match.group(2) or 0)
    )
    return handler


class Txmp:
    """
    A running front and its handlers.

    @ivar port: the front's HTTP port.
    @ivar servers: the front, then the handlers, by label (C{front},
        C{h1}, ...), for L{withCpu}.
    """

    def __init__(self, front: Server, port: int, handlers: dict[str, Server]) -> None:
        self.front = front
        self.port = port
        self.url = "http://127.0.0.1:%d/" % (port,)
        self.servers: dict[str, Server] = {"front": front}
        self.servers.update(handlers)


def startTxmp(
    servers: Servers,
    frontPython: str,
    handlerPython: str,
    app: str,
    handlers: int,
    threads: int | None,
    tag: str = "h",
    extra: Sequence[str] = (),
) -> Txmp:
    """
    Start a front and C{handlers} handlers serving C{app} on ipc://
    addresses, and wait until all of them have joined.  The handlers are
    named C{tag1}, C{tag2}, ... and given the C{mphandler} options C{extra}.
    """
    send = servers.ipc(tag + "-send")
    ret = servers.ipc(tag + "-return")
    front, port = startFront(servers, frontPython, send, ret)
    started: dict[str, Server] = {}
    for n in range(handlers):
        name = "%s%d" % (tag, n + 1)
        started[name] = startHandler(
            servers, front, handlerPython, app, send, ret, name, threads, extra=extra
        )
    return Txmp(front, port, started)


def checkResponse(url: str, body: bytes | None = None, label: str = "") -> None:
    """
    Get C{url} once and require a 200 (and C{body}, if given); C{label}
    names the server in the error.
    """
    what = "%s (%s)" % (label, url) if label else url
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status = response.status
            data = response.read()
    except Exception as e:
        raise BenchmarkError("GET %s failed: %s" % (what, e)) from e
    if status != 200 or (body is not None and data != body):
        raise BenchmarkError(
            "GET %s: expected 200 %r, got %d %r" % (what, body, status, data[:200])
        )


class WrkResult:
    """
    What wrk reported for one run.
    """

    def __init__(self, output: str) -> None:
        self.output = output
        match = re.search(r"Requests/sec:\s+([0-9.]+)", output)
        if match is None:
            raise BenchmarkError("wrk printed no Requests/sec:\n" + output)
        self.rps = float(match.group(1))
        match = re.search(r"(\d+) requests in", output)
        self.requests = int(match.group(1)) if match else 0
        match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
        self.non2xx = int(match.group(1)) if match else 0
        match = re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
        )
        self.socketErrors = tuple(int(g) for g in match.groups()) if match else (0, 0, 0, 0)
        match = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
        self.latency = match.group(1) if match else "?"
        # The latency distribution of wrk --latency, in milliseconds by
        # percentile (50, 75, 90, 99).
        self.percentiles: dict[int, float] = {
            int(m.group(1)): durationMilliseconds(m.group(2))
            for m in re.finditer(r"^\s+(\d+)%\s+([0-9.]+[a-z]+)\s*$", output, re.M)
        }
        # Filled in by withCpu: CPU used by each server, in cores.
        self.cpu: dict[str, float] = {}
        # Filled in by withCpu: CPU seconds (utime + stime) each server used
        # during the run.
        self.cpuSeconds: dict[str, float] = {}
        # Filled in by withCpu: the fraction of all CPUs busy (with
        # anything: wrk, the servers, other users of the machine).
        self.machineBusy: float | None = None

    @property
    def p50(self) -> float | None:
        """
        The median latency in milliseconds, if wrk printed it.
        """
        return self.percentiles.get(50)

    @property
    def p99(self) -> float | None:
        """
        The 99th percentile of latency in milliseconds, if wrk printed it.
        """
        return self.percentiles.get(99)

    def cpuPerRequest(self) -> dict[str, float]:
        """
        The CPU each server spent per request, in microseconds: its CPU
        time during the run divided by the requests wrk counted (a figure
        that depends less on what else the machine is doing than req/s).
        """
        if not self.requests:
            return {}
        return {name: seconds / self.requests * 1e6
                for name, seconds in self.cpuSeconds.items()}

    def problems(self) -> list[str]:
        """
        Why this run's figure cannot be trusted, if it cannot.
        """
        problems = []
        if self.non2xx:
            problems.append("%d responses were not 2xx/3xx" % (self.non2xx,))
        if any(self.socketErrors):
            problems.append(
                "socket errors: connect %d, read %d, write %d, timeout %d"
                % self.socketErrors
            )
        if not self.requests:
            problems.append("no requests completed")
        return problems


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def durationMilliseconds(text: str) -> float:
    """
    A duration as wrk prints it (C{"312.00us"}, C{"1.08ms"}, C{"2.01s"},
    C{"1.02m"}) in milliseconds.
    """
    match = re.fullmatch(r"([0-9.]+)([a-z]+)", text)
    if match is None or match.group(2) not in _UNITS:
        raise BenchmarkError("not a wrk duration: %r" % (text,))
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str, duration: float, connections: int = 50, threads: int = 2, check: bool = True
) -> WrkResult:
    """
    Run wrk against C{url} (which must be on 127.0.0.1) for C{duration}
    seconds.

    @raise BenchmarkError: if C{check} and any response was not 2xx or
        there were socket errors; wrk's output is in the message.
    """
    if not url.startswith("http://127.0.0.1:"):
        raise BenchmarkError("refusing to load anything but 127.0.0.1: " + url)
    args = [
        "wrk",
        "-t%d" % (threads,),
        "-c%d" % (connections,),
        "-d%ds" % (max(1, round(duration)),),
        "--latency",
        url,
    ]
    try:
        completed = subprocess.run(
            args, capture_output=True, text=True, timeout=duration + 60
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkError("wrk did not finish: " + " ".join(args)) from None
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise BenchmarkError("wrk failed (%d):\n%s" % (completed.returncode, output))
    result = WrkResult(output)
    if check and result.problems():
        raise BenchmarkError(
            "%s: %s\n%s" % (" ".join(args), "; ".join(result.problems()), output)
        )
    return result


def _machineTimes() -> tuple[float, float] | None:
    # (busy, total) clock ticks of all CPUs since boot, from /proc/stat.
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def withCpu(
    measure: Callable[[], WrkResult], servers: dict[str, Any]
) -> Callable[[], WrkResult]:
    """
    Wrap C{measure} so that its result also tells how much CPU each of
    C{servers} (anything with a C{cpuSeconds()}: a L{Server}, a
    L{ChildProcess}, a L{ProcessGroup}) used during it: in seconds, in
    L{WrkResult.cpuSeconds}, and in cores (1.0: one core all the time), in
    L{WrkResult.cpu}.
    """

    def measured() -> WrkResult:
        before = {name: server.cpuSeconds() for name, server in servers.items()}
        machineBefore = _machineTimes()
        start = time.monotonic()
        result = measure()
        elapsed = time.monotonic() - start
        machineAfter = _machineTimes()
        if machineBefore is not None and machineAfter is not None:
            total = machineAfter[1] - machineBefore[1]
            if total > 0:
                result.machineBusy = (machineAfter[0] - machineBefore[0]) / total
        for name, server in servers.items():
            first, after = before[name], server.cpuSeconds()
            if first is not None and after is not None:
                result.cpuSeconds[name] = after - first
                result.cpu[name] = (after - first) / elapsed
        return result

    return measured


def describeCpu(result: WrkResult) -> str:
    """
    C{"front 0.95, h1 0.40; machine 100% busy"}: the cores each server
    used and how busy the machine was, if known.
    """
    text = ", ".join("%s %.2f" % item for item in result.cpu.items())
    if result.machineBusy is not None:
        text += "; machine %.0f%% busy" % (100 * result.machineBusy,)
    return text


def describePython(python: str) -> str:
    """
    A short name of the interpreter C{python}, e.g. C{CPython 3.11.7} or
    C{PyPy 7.3.11 (Python 3.9.16)}.
    """
    code = (
        "import platform, sys\n"
        "impl = platform.python_implementation()\n"
        "if impl == 'PyPy':\n"
        "    v = sys.pypy_version_info\n"
        "    print('PyPy %d.%d.%d (Python %s)'\n"
        "          % (v.major, v.minor, v.micro, platform.python_version()))\n"
        "else:\n"
        "    print('%s %s' % (impl, platform.python_version()))\n"
    )
    try:
        return subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise BenchmarkError("cannot run %s: %s" % (python, e)) from e


def describeMachine() -> str:
    """
    The CPU count, the CPU model and the load average, for the record.
    """
    model = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    return "%d CPUs (%s), %s, %s" % (os.cpu_count() or 0, model, platform.system(), load)


def medianCpuPerRequest(results: Sequence[WrkResult]) -> dict[str, float]:
    """
    The median over C{results} of each server's CPU microseconds per
    request.
    """
    names = results[0].cpu.keys() if results else []
    return {
        name: median([r.cpuPerRequest()[name] for r in results if name in r.cpu])
        for name in names
        if any(name in r.cpu for r in results)
    }


def describeCpuPerRequest(perRequest: dict[str, float]) -> str:
    """
    C{"front 250 + h1 300 = 550 us"}.
    """
    if not perRequest:
        return "unknown"
    parts = " + ".join("%s %.0f" % item for item in perRequest.items())
    if len(perRequest) > 1:
        parts += " = %.0f" % (sum(perRequest.values()),)
    return parts + " us"


def median(values: Sequence[float]) -> float:
    """
    The median of C{values}.
    """
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# The applications that handlerab.py and frontab.py compare two checkouts
# with (benchapps).
COMPARED_APPS = ("hello", "helloGenerator")


def parseComparison(
    doc: str | None, argv: list[str] | None, duration: int
) -> tuple[argparse.Namespace, dict[str, str]]:
    """
    The arguments of a script that measures two txmp checkouts against
    each other (C{handlerab.py}, C{frontab.py}): C{BEFORE}, C{--after},
    C{--app}, C{--rounds}, C{--duration} (C{duration} by default) and
    C{--connections}.

    @return: the arguments, and the two checkouts' absolute paths by label
        (C{before}, C{after}); a path that is no txmp checkout is a usage
        error.
    """
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    parser.add_argument("before", help="the txmp checkout to compare against")
    parser.add_argument("--after", default=CHECKOUT,
                        help="the txmp checkout measured (default: this one)")
    parser.add_argument("--app", choices=COMPARED_APPS, default="hello")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=duration)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args(argv)
    checkouts = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    for label, checkout in checkouts.items():
        if not os.path.isdir(os.path.join(checkout, "txmp")):
            parser.error("%s: %s is not a txmp checkout" % (label, checkout))
    return args, checkouts


def inTurn(labels: Sequence[str], round: int) -> list[str]:
    """
    C{labels} in the order of round number C{round} (from 0) of a
    comparison: as given in even rounds, turned in odd ones, so that
    neither side always goes first (C{frontab.py}'s loads,
    C{handlerab.py}'s handlers joining the front).
    """
    turn = round % len(labels)
    return [*labels[turn:], *labels[:turn]]


def bestOfFive(
    run: Callable[[], None], count: int, prepare: Callable[[], None] = lambda: None
) -> float:
    """
    The micro-benchmarks' figure (C{zmqrecv.py}, C{respdecode.py},
    C{reqdecode.py}): call C{prepare} then C{run}, which does C{count}
    operations, five times, and return the best run's wall-clock time per
    operation, in µs (C{prepare} untimed).
    """
    times = []
    for _ in range(5):
        prepare()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


def timePythonPath(
    label: str, run: Callable[[], None], count: int, runs: int, profile: bool
) -> None:
    """
    Time one half's own Python (C{frontpath.py}, C{handlerpath.py}): call
    C{run}, which serves C{count} requests in this thread, C{runs} times, and
    print the median and best CPU time of this thread per request, in µs;
    or, with C{profile}, call it once under cProfile and print the
    functions that took the most time.
    """
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    perRequest = []
    for _ in range(runs):
        started = time.thread_time()
        run()
        perRequest.append((time.thread_time() - started) / count * 1e6)
    print(
        f"{label} ({sys.implementation.name}): median {median(perRequest):.1f} us, "
        f"best {min(perRequest):.1f} us ({count} requests x {runs})"
    )
    if platform.python_implementation() == "CPython":
        perRequestLeft, kinds = garbage(run, count)
        print(
            f"  left to the garbage collector (in reference cycles): {perRequestLeft:.2f} "
            "objects a request" + "".join(
                f", {name} {number / count:.2f}" for name, number in kinds.most_common(6)
            )
        )


def garbage(run: Callable[[], None], count: int) -> tuple[float, collections.Counter[str]]:
    """
    Call C{run}, which serves C{count} requests, with the garbage collector
    stopped, then collect: the objects per request that only the collector
    frees (reference cycles), and how many of each type in all.  On
    CPython every other object is freed as soon as the last reference to
    it goes; the collector's runs, which these objects bring about, cost a
    process CPU that no function of its own shows (docs/benchmarks.md,
    "Garbage").
    """
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        left = list(gc.garbage)
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
        if enabled:
            gc.enable()
    kinds = collections.Counter(type(thing).__qualname__ for thing in left)
    return len(left) / count, kinds


def interleaved(
    targets: dict[str, Callable[[], WrkResult]], rounds: int, log: Callable[[str], None]
) -> dict[str, list[WrkResult]]:
    """
    Measure each target once per round, one after the other, so that a
    slow patch of a noisy machine falls on all of them alike.
    """
    results: dict[str, list[WrkResult]] = {name: [] for name in targets}
    names = list(targets)
    for n in range(rounds):
        # Start each round with the next target, so that none is always
        # measured first (after the pause) or last.
        for name in names[n % len(names):] + names[:n % len(names)]:
            measure = targets[name]
            result = measure()
            results[name].append(result)
            cpu = describeCpu(result)
            p50 = "%.3fms" % (result.p50,) if result.p50 is not None else "?"
            log(
                "  round %d/%d  %-24s %8.0f req/s  latency avg %-8s p50 %s%s"
                % (n + 1, rounds, name, result.rps, result.latency, p50,
                   "  cores used: " + cpu if cpu else "")
            )
    return results


def argumentParser(
    description: str,
    interpretersOf: str,
    rounds: int,
    roundsHelp: str,
    duration: bool = True,
) -> argparse.ArgumentParser:
    """
    The parser of a benchmark's command line, with the options they all
    take: C{--duration S} (seconds per measurement, default 10; unless not
    C{duration}), C{--rounds R} and the interpreters (see
    L{addInterpreterArguments}).

    @param interpretersOf: what runs with the front's interpreter, for the
        help.
    @param rounds: the default of C{--rounds}.
    @param roundsHelp: what C{--rounds} does, for the help (its default is
        added).
    """
    parser = argparse.ArgumentParser(description=description)
    if duration:
        parser.add_argument("--duration", type=float, default=10.0, metavar="S",
                            help="seconds per measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=rounds, metavar="R",
                        help="%s (default %d)" % (roundsHelp, rounds))
    addInterpreterArguments(parser, interpretersOf)
    return parser


def requireAtLeastOne(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str
) -> None:
    """
    Stop with a usage error unless each option of C{args} named (as in
    C{args}: C{"wrk_threads"}) is at least 1.
    """
    small = ["--" + name.replace("_", "-") for name in names if getattr(args, name) < 1]
    if small:
        parser.error("%s must be at least 1" % (" and ".join(small),))


def describeInterpreters(args: argparse.Namespace) -> tuple[str, str]:
    """
    L{describePython} of C{--front-python} and of C{--handler-python}.

    @raise BenchmarkError: if either cannot be run.
    """
    return describePython(args.front_python), describePython(args.handler_python)


def runBenchmark(run: Callable[[], int]) -> int:
    """
    Run a benchmark and return its exit status: C{run}'s, or 1 (with the
    reason) if it raised L{BenchmarkError}, or 130 if it was interrupted
    (Ctrl-C, or SIGTERM inside L{Servers}), by which time L{Servers} has
    stopped every server.
    """
    try:
        return run()
    except BenchmarkError as e:
        print("FAILED: %s" % (e,), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; every server was stopped", file=sys.stderr)
        return 130


def medians(results: Sequence[WrkResult]) -> tuple[float, dict[str, float]]:
    """
    The median over C{results} of req/s, and of each server's CPU
    microseconds per request (L{medianCpuPerRequest}).
    """
    return median([r.rps for r in results]), medianCpuPerRequest(results)


def addInterpreterArguments(parser: Any, front: str) -> None:
    """
    Add C{--front-python} and C{--handler-python} to C{parser}.

    @param front: what runs with the front's interpreter, for the help.
    """
    parser.add_argument(
        "--front-python", default=sys.executable, metavar="PATH",
        type=resolvePython,
        help=f"interpreter of {front} (default: this one; a bare name such "
        "as pypy3 means the checkout's .venv-pypy3 if there is one)",
    )
    parser.add_argument(
        "--handler-python", default=sys.executable, metavar="PATH",
        type=resolvePython,
        help="interpreter of the handlers (default: this one)",
    )


def resolvePython(name: str) -> str:
    """
    The interpreter to run for C{--front-python NAME}: a path as it is; a
    bare name (C{pypy3}) is the virtualenv C{./runtests NAME} makes in the
    checkout, C{.venv-NAME}, if there is one (Debian's C{pypy3} has no
    Twisted), else the command of that name on C{PATH}.
    """
    if os.sep in name:
        return name
    venv = os.path.join(CHECKOUT, ".venv-" + name, "bin", "python")
    if os.path.exists(venv):
        return venv
    return shutil.which(name) or name


def requireModules(python: str, modules: Sequence[str], hint: str) -> None:
    """
    Check that C{python} can import every one of C{modules}.

    @param hint: how to install them, for the error.
    @raise BenchmarkError: if it cannot.
    """
    code = "import " + ", ".join(modules)
    try:
        completed = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchmarkError("cannot run %s: %s" % (python, e)) from e
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        raise BenchmarkError(
            "%s cannot import %s (%s); %s"
            % (python, ", ".join(modules), lines[-1] if lines else "?", hint)
        )


def moduleVersion(python: str, module: str) -> str:
    """
    C{module.__version__} as C{python} imports it, or C{"?"}.
    """
    try:
        return subprocess.run(
            [python, "-c", "import %s; print(%s.__version__)" % (module, module)],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def positiveNumbers(text: str) -> list[int]:
    """
    An C{argparse} type: positive integers separated by commas.
    """
    try:
        values = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers separated by commas") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive numbers")
    return values
