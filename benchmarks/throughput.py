"""
Hello-world throughput, latency and CPU per request of txmp against Twisted
Web alone, Twisted's own WSGI server and gunicorn, all in the same run.

    python benchmarks/throughput.py [--duration S] [--rounds R]
        [--only NAME[,NAME...]] [--front-python PATH|pypy3]
        [--handler-python PATH] [--handlers K] [--threads N]
        [--app hello|helloGenerator]
        [--sweep [--plot FILE.png]]

Starts, on 127.0.0.1 only, every server below (or those named by
C{--only}; C{txmp-bare} and C{split-batch} only when it names them), all
serving the same 13 bytes with the same two headers:

    - B{raw}: C{rawweb.py}, a Twisted Web leaf resource (the ceiling of any
      Twisted front), run by the front's interpreter;
    - B{txmp}: C{twistd mpfront} (front's interpreter) and K C{twistd
      mphandler --app benchapps:hello} (handlers' interpreter; K is 1 and
      the handler's options are its defaults unless told), joined by ipc://
      ZeroMQ addresses in a temporary directory;
    - B{txmp-prefetch0}: the same with C{mphandler --prefetch 0}, so that
      the handlers take no request beyond their threads (as before
      C{--prefetch}, 2026-12-05): what prefetching buys, in the same run;
    - B{txmp-bare}: txmp's front with C{barehandler.py} in place of
      C{mphandler}: a handler of txmp's protocol in plain pyzmq and
      threads, as cheap as the bare split's, to show what txmp's front
      serves when the handler costs next to nothing;
    - B{spawn2}: C{twistd mpfront --spawn 2 --app benchapps:hello}, the
      README's demo (mpfront starts its handlers with its own interpreter);
    - B{split}: C{split.py}, the bare split issue 12 cites as its
      prototype (Twisted Web and pyzmq PUSH/PULL, one handler calling the
      application inline, no credits), front and handler on their
      interpreters;
    - B{split-batch}: the same, batched as txmp batches: the front sends
      the requests of a reactor turn, at most 16, as one message, and the
      handler's receiving thread hands them to four threads, which send
      the replies (C{split.py --batch 16}, C{--shape handoff});
    - B{twistd-wsgi}: C{twistd web --wsgi benchapps.hello} (Twisted's
      in-process WSGI), handlers' interpreter, access log to /dev/null;
    - B{gunicorn-sync}: gunicorn, 2 sync workers, handlers' interpreter;
    - B{gunicorn-gthread}: gunicorn, 2 gthread workers x 4 threads;
    - B{raw-handlers}: C{rawweb.py} on the handlers' interpreter, only when
      it is not the front's (C{--front-python pypy3}): the baseline of the
      handler's CPU per request.

It checks one response of each, warms each up, then loads them in turn with
wrk: R rounds (3) of S seconds (10) at 50 connections (C{wrk -t1 -c50}),
reading each server process's CPU time from C{/proc/PID/stat} (utime +
stime) before and after; then R rounds at 1 connection (C{wrk -t1 -c1}) for
the unloaded median latency.  It prints a table (medians of the rounds) and
every ratio that issue 12 sets a target for.  With C{--sweep} it then
measures every server once at 1, 10, 50 and 200 connections and draws
req/s and p50/p99 latency against connections into a PNG (matplotlib).

Any response that is not 2xx, and any socket error, fails the run (in the
sweep they are reported instead).  Every process started, and every process
those started (mpfront's spawned handlers, gunicorn's workers), is stopped
by its PID at the end, also on an error or a Ctrl-C.  The machine should be
otherwise idle; on a shared one, only ratios of figures taken in the same
run mean anything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Any, Callable

from _harness import (
    HERE,
    BenchmarkError,
    ProcessGroup,
    Servers,
    WrkResult,
    argumentParser,
    checkResponse,
    describeInterpreters,
    describeMachine,
    interleaved,
    median,
    medians,
    moduleVersion,
    positiveNumbers,
    requireAtLeastOne,
    requireModules,
    runBenchmark,
    startFront,
    startTxmp,
    twistdArgs,
    withCpu,
    wrk,
)

BODY = b"Hello, world!"

# The servers, in the order of the table; the names are those of --only.
NAMES = [
    "raw",
    "raw-handlers",
    "txmp",
    "txmp-prefetch0",
    "txmp-bare",
    "spawn2",
    "split",
    "split-batch",
    "twistd-wsgi",
    "gunicorn-sync",
    "gunicorn-gthread",
]

# Servers measured only when --only names them: they show where a limit
# lies, not how txmp compares, and would lengthen every default run.
OPT_IN = {"txmp-bare", "split-batch"}

# Connections of the --sweep, as issue 12 asks for its plot.
SWEEP = [1, 10, 50, 200]

# The applications of --app, in benchmarks/benchapps.py.
APPS = ["hello", "helloGenerator"]

# Warm-up per server, in seconds: a PyPy process needs longer for its JIT
# (after 1 s, a 2-handler PyPy run measured 0.03 of raw instead of 0.07).
WARMUP = 3.0
WARMUP_PYPY = 10.0

# gunicorn's worker counts, as issue 12 names them.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4

HOW_TO_INSTALL = "see docs/benchmarks.md, 'Throughput': pip install -e '.[bench]'"


class Target:
    """
    One server under test.

    @ivar name: its name for C{--only}.
    @ivar label: its name in the table.
    @ivar url: where wrk loads it.
    @ivar processes: what to read CPU time from, by role (C{front},
        C{handler}, C{workers}...), for L{withCpu}.
    @ivar pypy: whether any of its processes runs on PyPy (longer warm-up).
    """

    def __init__(
        self, name: str, label: str, port: int, processes: dict[str, Any], pypy: bool
    ) -> None:
        self.name = name
        self.label = label
        self.url = "http://127.0.0.1:%d/" % (port,)
        self.processes = processes
        self.pypy = pypy


class Summary:
    """
    The medians of one server's rounds, and its best round's req/s
    (C{best}).
    """

    def __init__(self, c50: Sequence[WrkResult], c1: Sequence[WrkResult]) -> None:
        self.rps, self.cpu = medians(c50)
        self.best = max(r.rps for r in c50)
        self.p50 = _medianOf([r.p50 for r in c50])
        self.p99 = _medianOf([r.p99 for r in c50])
        self.c1p50 = _medianOf([r.p50 for r in c1])


def _medianOf(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return median(known) if known else None


def names(text: str) -> list[str]:
    """
    The server names of one C{--only} argument, separated by commas.
    """
    chosen = [part for part in text.split(",") if part]
    unknown = [part for part in chosen if part not in NAMES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            "unknown server(s) %s; choose among %s"
            % (", ".join(unknown) or "(none)", ", ".join(NAMES))
        )
    return chosen


def parseArguments(argv: list | None = None) -> argparse.Namespace:
    parser = argumentParser(
        "Hello-world req/s, latency and CPU per request of txmp, Twisted Web alone, "
        "twistd web --wsgi and gunicorn, in one run.",
        "mpfront (also --spawn's handlers) and of the raw Twisted Web baseline",
        rounds=3, roundsHelp="measure every server R times in turn, at c50 and at c1; medians",
    )
    parser.add_argument("--only", type=names, action="append", metavar="NAME",
                        help="measure only these servers (comma-separated or "
                        "repeated), of: " + ", ".join(NAMES) + " ("
                        + " and ".join(sorted(OPT_IN)) + " only when named)")
    parser.add_argument("--app", choices=APPS, default="hello",
                        help="the WSGI application every server but raw runs, of "
                        "benchmarks/benchapps.py: hello (a list, the default) or "
                        "helloGenerator (the same 13 bytes from a generator, which "
                        "has no len(), as Flask's and Django's responses)")
    parser.add_argument("--handlers", type=int, default=1, metavar="K",
                        help="handler processes of 'txmp' (default 1)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="--threads of the handlers of 'txmp' (default: mphandler's)")
    parser.add_argument("--warmup", type=float, default=None, metavar="S",
                        help="seconds of unmeasured load on each server first "
                        "(default %g; %g for a server on PyPy, for its JIT)"
                        % (WARMUP, WARMUP_PYPY))
    parser.add_argument("--connections", type=int, default=50, metavar="C",
                        help="wrk connections of the main measurement (default 50)")
    parser.add_argument("--wrk-threads", type=int, default=1, metavar="T",
                        help="wrk threads (default 1)")
    parser.add_argument("--sweep", action="store_true",
                        help="then measure every server once at each of "
                        "--sweep-connections and plot it")
    parser.add_argument("--sweep-connections", type=positiveNumbers, default=SWEEP,
                        metavar="C,C,...",
                        help="connections of the sweep (default %s)"
                        % (",".join(map(str, SWEEP)),))
    parser.add_argument("--plot", default=os.path.join(HERE, "results", "throughput.png"),
                        metavar="FILE",
                        help="the sweep's PNG (default benchmarks/results/throughput.png)")
    args = parser.parse_args(argv)
    requireAtLeastOne(parser, args, "handlers", "rounds", "duration")
    if args.connections < args.wrk_threads:
        parser.error("wrk needs at least as many connections as threads")
    args.only = sorted({n for group in args.only for n in group}, key=NAMES.index) \
        if args.only else None
    return args


def startRaw(servers: Servers, name: str, label: str, python: str, pypy: bool) -> Target:
    """
    Start C{rawweb.py} on C{python}.
    """
    raw = servers.start(name, [python, os.path.join(HERE, "rawweb.py")])
    port = int(raw.waitFor(r"rawweb ready: port (\d+)").group(1))
    return Target(name, label, port, {"raw": raw}, pypy)


def startSpawn(servers: Servers, python: str, pypy: bool, app: str) -> Target:
    """
    Start C{mpfront --spawn 2} and wait until both its handlers joined.
    """
    front, port = startFront(
        servers, python, servers.ipc("s-send"), servers.ipc("s-return"),
        extra=["--spawn", "2", "--app", "benchapps:" + app],
    )
    for n in (1, 2):
        front.waitFor(r"handler \S*:spawn-%d joined" % (n,))
    handlers = front.adoptChildren(2)
    return Target("spawn2", "txmp --spawn 2", port,
                  {"front": front, "handlers": ProcessGroup(handlers)}, pypy)


def startSplit(
    servers: Servers, frontPython: str, handlerPython: str, pypy: bool, app: str,
    batched: bool = False,
) -> Target:
    """
    Start C{split.py}'s front (front's interpreter) and one handler
    (handlers' interpreter): the bare split, without txmp.

    @param batched: the front sends the requests of a reactor turn as one
        message (C{--batch 16}) to a handler whose receiving thread hands
        them to four threads (C{--shape handoff}), as txmp's C{BATCH} and
        thread pool do (C{split-batch}); else one message a request to a
        handler of one thread (C{split}).
    """
    name = "split-batch" if batched else "split"
    send, ret = servers.ipc(name + "-send"), servers.ipc(name + "-return")
    script = os.path.join(HERE, "split.py")
    front = servers.start(name + " front", [
        frontPython, script, "front", "--send", send, "--return", ret,
        *(["--batch", "16"] if batched else [])])
    port = int(front.waitFor(r"split front ready: port (\d+)").group(1))
    handler = servers.start(name + " handler", [
        handlerPython, script, "handler", "--send", send, "--return", ret,
        "--app", "benchapps:" + app,
        *(["--shape", "handoff", "--threads", "4"] if batched else [])])
    handler.waitFor(r"split handler ready")
    label = ("bare split, batched, 4 threads" if batched else "bare split (split.py)")
    return Target(name, label, port, {"front": front, "handler": handler}, pypy)


def startTxmpBare(
    servers: Servers, frontPython: str, handlerPython: str, pypy: bool, app: str
) -> Target:
    """
    Start txmp's front (front's interpreter) with C{barehandler.py}
    (handlers' interpreter) in place of C{mphandler}: what txmp's front
    serves with a handler as cheap as the bare split's.
    """
    send, ret = servers.ipc("bare-send"), servers.ipc("bare-return")
    front, port = startFront(servers, frontPython, send, ret)
    handler = servers.start("bare handler", [
        handlerPython, os.path.join(HERE, "barehandler.py"), "--send", send,
        "--return", ret, "--app", "benchapps:" + app])
    handler.waitFor(r"bare handler ready")
    front.waitFor(r"handler bare:\d+ joined")
    return Target("txmp-bare", "txmp front + barehandler.py", port,
                  {"front": front, "handler": handler}, pypy)


def startTwistdWeb(servers: Servers, python: str, pypy: bool, app: str) -> Target:
    """
    Start C{twistd web --wsgi benchapps.APP}.  Twisted Web logs every
    request by default and has no option not to: the log goes to
    C{/dev/null}, not through our pipe.
    """
    web = servers.start("twistd web", twistdArgs(
        python, "web", "--wsgi", "benchapps." + app,
        "--listen", "tcp:0:interface=127.0.0.1", "--logfile", os.devnull,
    ))
    port = int(web.waitFor(r"Site starting on (\d+)").group(1))
    return Target("twistd-wsgi", "twistd web --wsgi", port, {"twistd": web}, pypy)


def gunicornControlSocketOption(python: str) -> list[str]:
    """
    C{--no-control-socket} if this gunicorn has a control socket: it would
    be one path in C{~/.gunicorn} for both our gunicorns.
    """
    completed = subprocess.run(
        [python, "-m", "gunicorn", "--help"], capture_output=True, text=True, timeout=120
    )
    return ["--no-control-socket"] if "--no-control-socket" in completed.stdout else []


def startGunicorn(
    servers: Servers, python: str, workerClass: str, extra: list[str], pypy: bool,
    app: str,
) -> Target:
    """
    Start gunicorn with L{GUNICORN_WORKERS} workers of C{workerClass}
    (L{GUNICORN_THREADS} threads each for C{gthread}) and wait for its
    workers.
    """
    args = [python, "-m", "gunicorn", "--workers", str(GUNICORN_WORKERS),
            "--worker-class", workerClass, "--bind", "127.0.0.1:0", *extra]
    if workerClass == "gthread":
        # (--threads with the sync class would make it gthread.)
        args += ["--threads", str(GUNICORN_THREADS)]
        label = "gunicorn %d gthread x %d" % (GUNICORN_WORKERS, GUNICORN_THREADS)
    else:
        label = "gunicorn %d %s" % (GUNICORN_WORKERS, workerClass)
    name = "gunicorn-" + workerClass
    master = servers.start(name, [*args, "benchapps:" + app])
    port = int(master.waitFor(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))
    workers = master.adoptChildren(GUNICORN_WORKERS)
    return Target(name, label, port,
                  {"master": master, "workers": ProcessGroup(workers)}, pypy)


def startTargets(
    servers: Servers, args: argparse.Namespace, chosen: list[str],
    frontPyPy: bool, handlerPyPy: bool,
) -> list[Target]:
    """
    Start every server in C{chosen}, in the order of L{NAMES}.
    """
    front, handler = args.front_python, args.handler_python
    gunicornExtra: list[str] = []
    if any(name.startswith("gunicorn") for name in chosen):
        gunicornExtra = gunicornControlSocketOption(handler)
    targets = []
    for name in chosen:
        if name == "raw":
            target = startRaw(servers, "raw", "raw Twisted Web", front, frontPyPy)
        elif name == "raw-handlers":
            target = startRaw(servers, "raw-handlers", "raw Twisted Web, handlers' Python",
                              handler, handlerPyPy)
        elif name in ("txmp", "txmp-prefetch0"):
            extra = ["--prefetch", "0"] if name == "txmp-prefetch0" else []
            txmp = startTxmp(servers, front, handler, "benchapps:" + args.app,
                             args.handlers, args.threads, tag=name + "-h", extra=extra)
            handlers = [s for n, s in txmp.servers.items() if n != "front"]
            label = "txmp 1 front + %d handler%s" % (
                args.handlers, "" if args.handlers == 1 else "s")
            if args.threads is not None:
                label += " x %d threads" % (args.threads,)
            if extra:
                label += ", --prefetch 0"
            target = Target(name, label, txmp.port,
                            {"front": txmp.front, "handler": ProcessGroup(handlers)},
                            frontPyPy or handlerPyPy)
        elif name == "txmp-bare":
            target = startTxmpBare(servers, front, handler, frontPyPy or handlerPyPy, args.app)
        elif name == "spawn2":
            target = startSpawn(servers, front, frontPyPy, args.app)
        elif name in ("split", "split-batch"):
            target = startSplit(servers, front, handler, frontPyPy or handlerPyPy, args.app,
                                batched=name == "split-batch")
        elif name == "twistd-wsgi":
            target = startTwistdWeb(servers, handler, handlerPyPy, args.app)
        elif name == "gunicorn-sync":
            target = startGunicorn(servers, handler, "sync", gunicornExtra, handlerPyPy,
                                   args.app)
        else:
            target = startGunicorn(servers, handler, "gthread", gunicornExtra, handlerPyPy,
                                   args.app)
        targets.append(target)
    return targets


def describePids(target: Target) -> str:
    """
    C{"front 123, handler 124"}.
    """
    parts = []
    for role, process in target.processes.items():
        members = process.members if isinstance(process, ProcessGroup) else [process]
        parts.append("%s %s" % (role, "+".join(str(m.pid) for m in members)))
    return ", ".join(parts)


def describeCpu(perRequest: dict[str, float]) -> str:
    """
    C{"front 250 + handler 300 = 550"} (microseconds per request).
    """
    if not perRequest:
        return "?"
    text = " + ".join("%s %.0f" % item for item in perRequest.items())
    if len(perRequest) > 1:
        text += " = %.0f" % (sum(perRequest.values()),)
    return text


def ms(value: float | None) -> str:
    """
    A latency in milliseconds, to about three significant figures.
    """
    if value is None:
        return "?"
    return ("%.3f ms" if value < 1 else "%.2f ms" if value < 100 else "%.0f ms") % (value,)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def fmtRatio(value: float | None) -> str:
    return "n/a" if value is None else "%.2f" % (value,)


def printTable(targets: list[Target], summaries: dict[str, Summary], connections: int) -> None:
    """
    The main table, in Markdown, ratios against raw Twisted Web (the
    front's interpreter).
    """
    raw = summaries.get("raw")
    print()
    print("| server | req/s c%d | x raw | p50 c%d | p99 c%d | p50 c1 | c1 p50 x raw "
          "| CPU us/req (c%d) |" % (connections, connections, connections, connections))
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for target in targets:
        s = summaries[target.name]
        print("| %s | %.0f | %s | %s | %s | %s | %s | %s |" % (
            target.label, s.rps,
            fmtRatio(ratio(s.rps, raw.rps if raw else None)),
            ms(s.p50), ms(s.p99), ms(s.c1p50),
            fmtRatio(ratio(s.c1p50, raw.c1p50 if raw else None)),
            describeCpu(s.cpu),
        ))


def targetRatios(
    summaries: dict[str, Summary], frontPyPy: bool, handlersSeparate: bool,
    subject: str = "txmp",
) -> list[tuple[str, float | None, str, float | None, bool]]:
    """
    Every ratio issue 12 sets a target for: (what, value, C{>=} or C{<=},
    target, whether the target applies to this run's front).

    @param subject: the server the ratios are of: C{txmp}; C{split} to see
        which targets the bare split itself meets; C{txmp-bare} or
        C{split-batch} to see which txmp's front with a bare handler, or
        the batched bare split, meets.

    Against gunicorn, the subject's median is set against gunicorn's best
    round: a round of gunicorn's can collapse (2 gthread workers on this
    machine type served 4,734 and 5,315 req/s in rounds where they served
    12,691 and 13,002 in the others, 2026-12-04 and 05), and a median
    with such a round would call a target met that is not.
    """
    def rps(name: str) -> float | None:
        return summaries[name].rps if name in summaries else None

    def best(name: str) -> float | None:
        return summaries[name].best if name in summaries else None

    def cpu(name: str, role: str) -> float | None:
        return summaries[name].cpu.get(role) if name in summaries else None

    def c1(name: str) -> float | None:
        return summaries[name].c1p50 if name in summaries else None

    handlerBase = "raw-handlers" if handlersSeparate else "raw"
    return [
        (subject + " req/s / raw Twisted Web req/s", ratio(rps(subject), rps("raw")),
         ">=", 0.85, not frontPyPy),
        (subject + " req/s / gunicorn 2 sync's best round",
         ratio(rps(subject), best("gunicorn-sync")), ">=", 1.0, not frontPyPy),
        (subject + " req/s / gunicorn 2 gthread x 4's best round",
         ratio(rps(subject), best("gunicorn-gthread")), ">=", 1.0, frontPyPy),
        (subject + " p50 / raw p50, c1", ratio(c1(subject), c1("raw")), "<=", 2.0, True),
        (subject + " front CPU/req / raw CPU/req", ratio(cpu(subject, "front"), cpu("raw", "raw")),
         "<=", 2.0 if frontPyPy else 1.5, True),
        (subject + " handler CPU/req / %s CPU/req" % (handlerBase,),
         ratio(cpu(subject, "handler"), cpu(handlerBase, "raw")), "<=", 1.0, True),
    ]


def printRatios(
    ratios: list[tuple[str, float | None, str, float | None, bool]], frontPyPy: bool,
    heading: str = "Issue 12's targets (ratios of figures from this run):",
) -> None:
    print()
    print(heading)
    for what, value, op, target, applies in ratios:
        if value is None:
            verdict = "not measured (see --only)"
        elif not applies:
            verdict = "(target %s %.2f is for a %s front)" % (
                op, target, "CPython" if frontPyPy else "PyPy")
        else:
            met = value >= target if op == ">=" else value <= target
            verdict = "target %s %.2f: %s" % (op, target, "met" if met else "NOT met")
        print("  %-50s %6s   %s" % (what, fmtRatio(value), verdict))


def runSweep(
    targets: list[Target], args: argparse.Namespace, log: Callable[[str], None]
) -> dict[str, dict[int, WrkResult]]:
    """
    Measure every target once at each of C{args.sweep_connections}, the
    targets in turn (each count starting with the next one).
    """
    results: dict[str, dict[int, WrkResult]] = {t.name: {} for t in targets}
    for n, connections in enumerate(args.sweep_connections):
        order = targets[n % len(targets):] + targets[:n % len(targets)]
        for target in order:
            result = wrk(target.url, args.duration, connections=connections,
                         threads=min(args.wrk_threads, connections), check=False)
            results[target.name][connections] = result
            problems = result.problems()
            log("  c%-4d %-18s %8.0f req/s  p50 %-10s p99 %s%s" % (
                connections, target.name, result.rps, ms(result.p50), ms(result.p99),
                "  PROBLEMS: " + "; ".join(problems) if problems else ""))
    return results


def printSweep(
    targets: list[Target], results: dict[str, dict[int, WrkResult]], counts: list[int]
) -> None:
    print()
    print("Sweep (one measurement each; req/s, p50 / p99 latency; * = errors, see above):")
    print("| server | " + " | ".join("c%d" % (c,) for c in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for target in targets:
        cells = []
        for c in counts:
            r = results[target.name][c]
            cells.append("%.0f, %s / %s%s" % (
                r.rps, ms(r.p50), ms(r.p99), " *" if r.problems() else ""))
        print("| %s | %s |" % (target.label, " | ".join(cells)))


def plotSweep(
    targets: list[Target], results: dict[str, dict[int, WrkResult]], counts: list[int],
    path: str, title: str,
) -> None:
    """
    Draw req/s, p50 latency and p99 latency of every target against
    connections, side by side, into the PNG C{path}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("rps", "requests per second", "linear"),
        ("p50", "p50 latency, ms", "log"),
        ("p99", "p99 latency, ms", "log"),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(15, 5.5))
    for target in targets:
        points = results[target.name]
        for (key, _, _), ax in zip(panels, axes):
            pairs = [(c, getattr(points[c], key)) for c in counts
                     if c in points and getattr(points[c], key) is not None]
            ax.plot([c for c, _ in pairs], [v for _, v in pairs], marker="o",
                    label=target.label)
    for (_, ylabel, scale), ax in zip(panels, axes):
        ax.set_xscale("log")
        ax.set_xticks(counts)
        ax.set_xticklabels([str(c) for c in counts])
        ax.minorticks_off()
        ax.set_xlabel("connections (wrk -c)")
        ax.set_ylabel(ylabel)
        ax.set_yscale(scale)
        if scale == "linear":
            ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4),
                  fontsize="small")
    figure.suptitle(title, fontsize="small")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list | None = None) -> int:
    args = parseArguments(argv)
    return runBenchmark(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """
    Check what the chosen servers need, start and measure them, print the
    table, the ratios against their targets and, with C{--sweep}, the
    sweep and its plot.
    """
    frontName, handlerName = describeInterpreters(args)
    frontPyPy = frontName.startswith("PyPy")
    handlerPyPy = handlerName.startswith("PyPy")
    separate = frontName != handlerName
    chosen = args.only or [
        n for n in NAMES if n not in OPT_IN and (n != "raw-handlers" or separate)
    ]
    if shutil.which("wrk") is None:
        raise BenchmarkError("no wrk on PATH; " + HOW_TO_INSTALL)
    frontNeeds = {
        "raw", "txmp", "txmp-prefetch0", "txmp-bare", "spawn2", "split", "split-batch",
    } & set(chosen)
    if frontNeeds:
        requireModules(args.front_python, ["twisted", "txzmq"],
                       "the front's interpreter needs Twisted and txZMQ; for "
                       "PyPy: pypy3 -m venv .venv-pypy3 && .venv-pypy3/bin/pip "
                       "install twisted txzmq, then --front-python pypy3")
    requireModules(args.handler_python, ["twisted", "txzmq"], HOW_TO_INSTALL)
    if any(n.startswith("gunicorn") for n in chosen):
        requireModules(args.handler_python, ["gunicorn"], HOW_TO_INSTALL)
    if args.sweep:
        requireModules(sys.executable, ["matplotlib"], HOW_TO_INSTALL)

    wrkVersion = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    gunicornVersion = (
        moduleVersion(args.handler_python, "gunicorn")
        if any(n.startswith("gunicorn") for n in chosen) else "not used"
    )
    print("machine:  " + describeMachine())
    print("front:    %s (%s), Twisted %s; raw Twisted Web and --spawn's handlers on the same"
          % (frontName, args.front_python, moduleVersion(args.front_python, "twisted")))
    print("handlers: %s (%s), Twisted %s, gunicorn %s; twistd web --wsgi and gunicorn on the same"
          % (handlerName, args.handler_python, moduleVersion(args.handler_python, "twisted"),
             gunicornVersion))
    print("wrk:      %s" % ((wrkVersion.splitlines() or ["?"])[0],))
    print("load:     wrk -t%d -c%d -d%ds, then -t1 -c1, %d round(s) each; servers: %s"
          % (args.wrk_threads, args.connections, args.duration, args.rounds,
             ", ".join(chosen)), flush=True)

    def log(line: str) -> None:
        print(line, flush=True)

    def load(target: Target, duration: float, connections: int, threads: int):
        return lambda: wrk(target.url, duration, connections=connections, threads=threads)

    sweep: dict[str, dict[int, WrkResult]] | None = None
    with Servers() as servers:
        targets = startTargets(servers, args, chosen, frontPyPy, handlerPyPy)
        for target in targets:
            log("pids:     %-18s %s" % (target.name, describePids(target)))
            checkResponse(target.url, BODY, target.label)
        for target in targets:
            warmup = args.warmup
            if warmup is None:
                warmup = WARMUP_PYPY if target.pypy else WARMUP
            if warmup > 0:
                load(target, warmup, args.connections, args.wrk_threads)()
        log("c%d:" % (args.connections,))
        c50 = interleaved(
            {t.name: withCpu(load(t, args.duration, args.connections, args.wrk_threads),
                             t.processes)
             for t in targets},
            args.rounds, log,
        )
        log("c1:")
        c1 = interleaved(
            {t.name: load(t, args.duration, 1, 1) for t in targets}, args.rounds, log
        )
        summaries = {t.name: Summary(c50[t.name], c1[t.name]) for t in targets}
        printTable(targets, summaries, args.connections)
        ratios = targetRatios(summaries, frontPyPy, separate)
        printRatios(ratios, frontPyPy)
        if "txmp-prefetch0" in summaries and "txmp" in summaries:
            print("\nWhat --prefetch buys: txmp ÷ txmp --prefetch 0, this run:")
            for what, ofTxmp, ofBefore in [
                ("req/s c%d" % (args.connections,), summaries["txmp"].rps,
                 summaries["txmp-prefetch0"].rps),
                ("front CPU/req", summaries["txmp"].cpu.get("front"),
                 summaries["txmp-prefetch0"].cpu.get("front")),
                ("handler CPU/req", summaries["txmp"].cpu.get("handler"),
                 summaries["txmp-prefetch0"].cpu.get("handler")),
                ("p50 c1", summaries["txmp"].c1p50, summaries["txmp-prefetch0"].c1p50),
            ]:
                print("  %-40s %s" % (what, fmtRatio(ratio(ofTxmp, ofBefore))))
        if "split" in summaries:
            printRatios(targetRatios(summaries, frontPyPy, separate, "split"), frontPyPy,
                        "The same targets, of the bare split (split.py), the floor "
                        "of the split's cost:")
        if "txmp-bare" in summaries:
            printRatios(targetRatios(summaries, frontPyPy, separate, "txmp-bare"), frontPyPy,
                        "The same targets, of txmp's front with barehandler.py, a "
                        "handler as cheap as the bare split's:")
        if "split-batch" in summaries:
            printRatios(targetRatios(summaries, frontPyPy, separate, "split-batch"), frontPyPy,
                        "The same targets, of the bare split batched as txmp batches "
                        "(split.py --batch 16, handler --shape handoff):")
        print(
            "SUMMARY | front %s, handlers %s | wrk -c%d %ds x%d | %s | %s |" % (
                frontName, handlerName, args.connections, args.duration, args.rounds,
                " | ".join("%s %.0f req/s" % (t.name, summaries[t.name].rps)
                           for t in targets),
                " | ".join("%s %s" % (what, fmtRatio(value))
                           for what, value, _, _, _ in ratios),
            ), flush=True,
        )
        if args.sweep:
            log("")
            log("sweep: wrk -t%d -cC -d%ds, C in %s" % (
                args.wrk_threads, args.duration,
                ", ".join(map(str, args.sweep_connections))))
            sweep = runSweep(targets, args, log)

    if sweep is not None:
        printSweep(targets, sweep, args.sweep_connections)
        plotSweep(
            targets, sweep, args.sweep_connections, args.plot,
            "hello world (13 bytes), wrk -t%d -d%ds; front %s, handlers %s; %s"
            % (args.wrk_threads, args.duration, frontName, handlerName, describeMachine()),
        )
        print("plot:     %s" % (args.plot,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
