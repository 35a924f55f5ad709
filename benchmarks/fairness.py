"""
Two things txmp already does right, measured so that a rebuild of the
request path cannot lose them unnoticed (issue 12, "No regression"):

    python benchmarks/fairness.py [--duration S] [--rounds R]
        [--only slow,cpu] [--clients C] [--cpu-ms MS]
        [--front-python PATH] [--handler-python PATH]

1. B{slow}: a slow request never holds a fast one back while another
   handler has room.  One C{twistd mpfront} and two C{twistd mphandler
   --app benchapps:mixed} at their defaults (4 threads each), on
   ipc:// addresses.  A load generator in this script (asyncio, one
   keep-alive connection per client, closed loop: each client sends its
   next request when the last is answered) runs C clients (default: the
   handlers' threads less one, 7), each asking for C{/slow} (1 s of sleep)
   every tenth request and C{/} (hello world) otherwise, so that exactly
   one request in ten is slow; the clients start 1/C s apart, so that
   about C - 1 slow requests are always in flight while the remaining
   client's fast ones pass them.  With fewer clients than threads a
   handler thread is always free, whatever the front does; the question is
   whether the front finds it.  It prints the fast requests' latency
   (p50, p99, max) apart from the slow ones'.  Target: fast p99 <= 50 ms.

2. B{cpu}: a CPU-bound application scales with handler processes.
   C{twistd mpfront --spawn 1} and C{--spawn 2}, both with C{--app
   benchapps:cpu}, its loop calibrated first to about 5 ms on the front's
   interpreter (which runs C{--spawn}'s handlers); loaded with C{wrk -t1
   -c50} in alternate rounds, reading each process's CPU time from
   C{/proc}.  Prints req/s, CPU per request of each process, and the
   ratio.  Target: C{--spawn 2} >= 1.8 x C{--spawn 1}.

Any error response or socket error fails the run.  Every process started,
and the handlers mpfront starts, are stopped by their PIDs at the end, also
on an error, Ctrl-C or SIGTERM (see C{_harness.Servers}).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Callable, Optional

import benchapps
from _harness import (
    BenchmarkError,
    Servers,
    WrkResult,
    argumentParser,
    checkResponse,
    describeCpu,
    describeCpuPerRequest,
    describeInterpreters,
    describeMachine,
    interleaved,
    medians,
    requireAtLeastOne,
    requireModules,
    runBenchmark,
    startFront,
    startTxmp,
    withCpu,
    wrk,
)
from threads import workMilliseconds
from throughput import fmtRatio, ms, ratio

PARTS = ["slow", "cpu"]

# One request in EVERY is slow (issue 12: 10%).
EVERY = 10

# The targets.
FAST_P99_TARGET_MS = 50.0
SPAWN_RATIO_TARGET = 1.8

# How long one request may take before the run fails: the front answers 504
# after its --timeout of 30 s anyway.
REQUEST_TIMEOUT = 60.0

HOW_TO_INSTALL = "see docs/benchmarks.md, 'Throughput': benchmarks/install"

# One figure against its target: (what, value, ">=" or "<=", target, why it
# is not judged in this run or None).
Row = tuple[str, Optional[float], str, float, Optional[str]]

Log = Callable[[str], None]


def parts(text: str) -> list[str]:
    """
    The parts of one C{--only} argument, separated by commas.
    """
    chosen = [part for part in text.split(",") if part]
    if not chosen or any(part not in PARTS for part in chosen):
        raise argparse.ArgumentTypeError("choose among " + ", ".join(PARTS))
    return chosen


def parseArguments(argv: list | None = None) -> argparse.Namespace:
    parser = argumentParser(
        "No regression where txmp is already right: fast requests beside slow ones, "
        "and a CPU-bound application with --spawn 1 and 2.",
        "mpfront and of --spawn's handlers", rounds=3, roundsHelp="measurements of each",
    )
    parser.add_argument("--only", type=parts, metavar="PART",
                        help="measure only these parts, of: " + ", ".join(PARTS))
    parser.add_argument("--clients", type=int, default=None, metavar="C",
                        help="slow: concurrent clients (default: the two "
                        "handlers' threads less one)")
    parser.add_argument("--cpu-ms", type=float, default=5.0, metavar="MS",
                        help="cpu: milliseconds of computing per request (default 5)")
    parser.add_argument("--connections", type=int, default=50, metavar="C",
                        help="cpu: wrk connections (default 50)")
    parser.add_argument("--warmup", type=float, default=2.0, metavar="S",
                        help="seconds of unmeasured load before each measurement "
                        "of 'slow' (at least 1, for the clients to start) and "
                        "once per server of 'cpu' (default 2)")
    args = parser.parse_args(argv)
    requireAtLeastOne(parser, args, "rounds", "duration")
    if args.clients is not None:
        requireAtLeastOne(parser, args, "clients")
    if args.cpu_ms <= 0 or args.connections < 1:
        parser.error("--cpu-ms and --connections must be positive")
    args.warmup = max(args.warmup, 1.0)
    args.only = args.only or PARTS
    return args


def percentile(values: Sequence[float], p: float) -> float | None:
    """
    The C{p}th percentile of C{values} by the nearest rank (the smallest
    value that at least C{p}% of them do not exceed), or C{None}.
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class MixedResult:
    """
    What one run of L{mixedLoad} measured: latencies in milliseconds of the
    requests sent in its window, fast and slow apart.  Has the attributes
    that L{withCpu} fills in.
    """

    def __init__(self, fast: list[float], slow: list[float], generatorCpu: float) -> None:
        self.fast = fast
        self.slow = slow
        # CPU seconds this process (the load generator) spent on the run,
        # and the requests it made, warm-up included.
        self.generatorCpu = generatorCpu
        self.sent = 0
        self.cpu: dict[str, float] = {}
        self.cpuSeconds: dict[str, float] = {}
        self.machineBusy: float | None = None

    @property
    def requests(self) -> int:
        return len(self.fast) + len(self.slow)

    def describe(self) -> str:
        """
        C{"fast 612 p50 1.21 ms p99 3.02 ms max 4.10 ms | slow 68 p50 1002 ms ..."}.
        """
        return " | ".join(
            "%s %d p50 %s p99 %s max %s" % (
                name, len(values), ms(percentile(values, 50)),
                ms(percentile(values, 99)), ms(max(values) if values else None))
            for name, values in (("fast", self.fast), ("slow", self.slow))
        )


async def _readResponse(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    # The status and body of one response with a Content-Length (what the
    # front sends for benchapps.mixed); anything else fails the run.
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(None, 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise BenchmarkError("a response without Content-Length: %r" % (head,))
    return status, await reader.readexactly(length)


async def _client(
    port: int, index: int, clients: int, start: float, windowStart: float,
    windowEnd: float, result: MixedResult,
) -> None:
    # Client `index` of `clients`: starts index/clients s after `start`,
    # then asks for / EVERY - 1 times and /slow once, again and again, one
    # request at a time, until windowEnd; records the latency of those sent
    # from windowStart on.
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start + index / clients - loop.time()))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        n = 0
        while loop.time() < windowEnd:
            slow = n % EVERY == EVERY - 1
            n += 1
            path = benchapps.SLOW_PATH if slow else "/"
            sentAt = loop.time()
            result.sent += 1
            began = time.perf_counter()
            writer.write(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                         % (path.encode("ascii"), port))
            try:
                status, body = await asyncio.wait_for(_readResponse(reader), REQUEST_TIMEOUT)
            except (OSError, EOFError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, asyncio.TimeoutError) as e:
                raise BenchmarkError("GET %s: %s: %s" % (path, type(e).__name__, e)) from e
            took = (time.perf_counter() - began) * 1e3
            if status != 200 or body != benchapps.BODY:
                raise BenchmarkError("GET %s: %d %r" % (path, status, body[:200]))
            if sentAt >= windowStart:
                (result.slow if slow else result.fast).append(took)
    finally:
        writer.close()


async def _mixedLoad(port: int, clients: int, warmup: float, duration: float) -> MixedResult:
    loop = asyncio.get_running_loop()
    result = MixedResult([], [], 0.0)
    start = loop.time()
    cpuBefore = time.process_time()
    await asyncio.gather(*[
        _client(port, index, clients, start, start + warmup, start + warmup + duration,
                result)
        for index in range(clients)
    ])
    result.generatorCpu = time.process_time() - cpuBefore
    return result


def mixedLoad(port: int, clients: int, warmup: float, duration: float) -> MixedResult:
    """
    Load the front on C{port} with C{clients} closed-loop clients, one slow
    request in L{EVERY}, for C{warmup} (unmeasured; the clients start
    within its first second) then C{duration} seconds, and wait for the
    last answers.
    """
    return asyncio.run(_mixedLoad(port, clients, warmup, duration))


def measureSlow(servers: Servers, args: argparse.Namespace, log: Log) -> tuple[Row, str]:
    """
    Part 1: start a front and two handlers serving C{benchapps:mixed},
    load them L{mixedLoad}'s way C{args.rounds} times.

    @return: the target's row, and the summary.
    """
    txmp = startTxmp(servers, args.front_python, args.handler_python,
                     "benchapps:mixed", 2, None)
    handlers = [s for name, s in txmp.servers.items() if name != "front"]
    credits = [h.credits for h in handlers]
    threads = [h.threads for h in handlers]
    total = sum(c for c in threads if c is not None) if None not in threads else None
    clients = args.clients or (total - 1 if total else 7)
    # The claim holds only while a handler has room: fewer requests in
    # flight (one per closed-loop client at most) than threads (a
    # handler's credits beyond its threads are its --prefetch: requests
    # sent there wait for a thread).
    premise = total is not None and clients < total
    log("slow:     front pid %d, handlers %s; threads %s, credits %s; %d clients, 1 request "
        "in %d "
        "to %s (%g s), %s" % (
            txmp.front.pid, ", ".join("%s %d" % (n, s.pid) for n, s in txmp.servers.items()
                                      if n != "front"),
            " + ".join(str(t) for t in threads), " + ".join(str(c) for c in credits),
            clients, EVERY, benchapps.SLOW_PATH,
            benchapps.SLOW_SECONDS,
            "so one handler thread is always free" if premise
            else "NOT fewer than the threads (or these are unknown): the target "
            "is not judged"))
    checkResponse(txmp.url, benchapps.BODY, "txmp, fast")
    checkResponse(txmp.url + benchapps.SLOW_PATH.lstrip("/"), benchapps.BODY, "txmp, slow")
    fast: list[float] = []
    slow: list[float] = []
    generatorCpu = 0.0
    sent = 0
    for n in range(args.rounds):
        result = withCpu(
            lambda: mixedLoad(txmp.port, clients, args.warmup, args.duration),
            txmp.servers,
        )()
        log("  round %d/%d  %s  cores used: %s" % (
            n + 1, args.rounds, result.describe(), describeCpu(result)))
        fast += result.fast
        slow += result.slow
        generatorCpu += result.generatorCpu
        sent += result.sent
    count = len(fast) + len(slow)
    fastP99 = percentile(fast, 99)
    print()
    print("slow: the requests sent in the measured windows of %d round(s), %d fast and %d "
          "slow (%.1f%% slow):" % (args.rounds, len(fast), len(slow),
                                   100.0 * len(slow) / count if count else 0))
    print("| requests | count | p50 | p99 | max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in (("fast (/)", fast), ("slow (%s)" % (benchapps.SLOW_PATH,), slow)):
        print("| %s | %d | %s | %s | %s |" % (
            name, len(values), ms(percentile(values, 50)), ms(percentile(values, 99)),
            ms(max(values) if values else None)))
    print("load generator (this process): %.0f us of CPU per request, over the %d "
          "requests it made (warm-up included)" % (generatorCpu / sent * 1e6, sent))
    row: Row = ("slow: fast requests' p99 latency, ms", fastP99, "<=", FAST_P99_TARGET_MS,
                None if premise else "no thread always free: %d clients, %s threads"
                % (clients, total if total is not None else "unknown"))
    summary = ("slow | %d handlers %s threads, %s credits, %d clients | fast p50 %s p99 %s | "
               "slow p50 %s") % (
        len(handlers), "+".join(map(str, threads)), "+".join(map(str, credits)), clients,
        ms(percentile(fast, 50)),
        ms(fastP99), ms(percentile(slow, 50)))
    return row, summary


def startSpawn(servers: Servers, python: str, count: int) -> tuple[str, dict[str, Any]]:
    """
    Start C{mpfront --spawn COUNT --app benchapps:cpu} and wait until its
    handlers joined.

    @return: its URL and its processes by role, for L{withCpu}.
    """
    tag = "spawn%d" % (count,)
    front, port = startFront(servers, python, servers.ipc(tag + "-send"),
                             servers.ipc(tag + "-return"),
                             extra=["--spawn", str(count), "--app", "benchapps:cpu"])
    for n in range(1, count + 1):
        front.waitFor(r"handler \S*:spawn-%d joined" % (n,))
    processes: dict[str, Any] = {"front": front}
    for n, child in enumerate(front.adoptChildren(count)):
        processes["handler%d" % (n + 1,)] = child
    return "http://127.0.0.1:%d/" % (port,), processes


def calibrate(python: str, target: float) -> tuple[int, float]:
    """
    Set C{BENCHAPPS_CPU_ITERATIONS} in this process's environment (which
    the servers inherit) to what makes C{benchapps.work()} take about
    C{target} ms on C{python}.

    @return: the iterations, and what they take.
    """
    iterations = benchapps.CPU_ITERATIONS
    took = workMilliseconds(python)
    iterations = max(1, round(iterations * target / took))
    os.environ["BENCHAPPS_CPU_ITERATIONS"] = str(iterations)
    return iterations, workMilliseconds(python)


def measureCpu(servers: Servers, args: argparse.Namespace, log: Log) -> tuple[Row, str]:
    """
    Part 2: C{--spawn 1} and C{--spawn 2} serving C{benchapps:cpu}, loaded
    with wrk in alternate rounds.

    @return: the target's row, and the summary.
    """
    iterations, took = calibrate(args.front_python, args.cpu_ms)
    log("cpu:      benchapps.work() with %d iterations takes %.2f ms on the front's "
        "interpreter (target %g ms)" % (iterations, took, args.cpu_ms))
    targets = {}
    for count in (1, 2):
        url, processes = startSpawn(servers, args.front_python, count)
        log("pids:     spawn%d %s" % (count, ", ".join(
            "%s %d" % (role, p.pid) for role, p in processes.items())))
        checkResponse(url, benchapps.BODY, "--spawn %d" % (count,))

        def load(url: str = url, duration: float = args.duration) -> WrkResult:
            return wrk(url, duration, connections=args.connections, threads=1)

        load(duration=args.warmup)
        targets["spawn%d" % (count,)] = withCpu(load, processes)
    results = {name: medians(rounds)
               for name, rounds in interleaved(targets, args.rounds, log).items()}
    rps = {name: figures[0] for name, figures in results.items()}
    print()
    print("cpu: benchapps:cpu, %.2f ms of computing per request; wrk -t1 -c%d, median of %d "
          "round(s):" % (took, args.connections, args.rounds))
    print("| server | req/s | CPU us/req of each process |")
    print("| --- | ---: | --- |")
    for name in targets:
        print("| mpfront --spawn %s | %.0f | %s |" % (
            name[-1], rps[name], describeCpuPerRequest(results[name][1])))
    value = ratio(rps["spawn2"], rps["spawn1"])
    row: Row = ("cpu: --spawn 2 req/s / --spawn 1 req/s", value, ">=", SPAWN_RATIO_TARGET,
                None)
    summary = "cpu %.1f ms | spawn1 %.0f req/s | spawn2 %.0f req/s | ratio %s" % (
        took, rps["spawn1"], rps["spawn2"], fmtRatio(value))
    return row, summary


def printTargets(rows: list[Row]) -> None:
    """
    Each figure with its target and C{met} or C{NOT met}.
    """
    print("Issue 12's no-regression targets (figures from this run):")
    for what, value, op, target, notJudged in rows:
        verdict = "target %s %g: " % (op, target)
        if value is None:
            verdict += "not measured"
        elif notJudged:
            verdict += "not judged (%s)" % (notJudged,)
        else:
            met = value >= target if op == ">=" else value <= target
            verdict += "met" if met else "NOT met"
        print("  %-40s %8s   %s" % (what, fmtRatio(value), verdict))


def main(argv: list | None = None) -> int:
    args = parseArguments(argv)
    return runBenchmark(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """
    Measure the parts of C{args.only}, print each figure against its
    target and a summary line.
    """

    def log(line: str) -> None:
        print(line, flush=True)

    frontName, handlerName = describeInterpreters(args)
    requireModules(args.front_python, ["twisted", "txzmq"], HOW_TO_INSTALL)
    requireModules(args.handler_python, ["twisted", "txzmq"], HOW_TO_INSTALL)
    log("machine:  " + describeMachine())
    log("front:    %s (%s); --spawn's handlers on the same" % (
        frontName, args.front_python))
    log("handlers: %s (%s)" % (handlerName, args.handler_python))
    log("measure:  %s; %d round(s) of %g s, after %g s of warm-up" % (
        ", ".join(args.only), args.rounds, args.duration, args.warmup))
    rows: list[Row] = []
    summaries: list[str] = []
    with Servers() as servers:
        for part, measure in (("slow", measureSlow), ("cpu", measureCpu)):
            if part in args.only:
                row, summary = measure(servers, args, log)
                rows.append(row)
                summaries.append(summary)
                log("")
    printTargets(rows)
    print("SUMMARY | front %s, handlers %s | %g s x%d | %s |" % (
        frontName, handlerName, args.duration, args.rounds, " | ".join(summaries)),
        flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
