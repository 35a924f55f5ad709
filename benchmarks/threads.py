"""
How many threads should an mphandler run?  Throughput through txmp of one
handler process at several C{--threads}, for a CPU-bound and an I/O-bound
application, in the same run; and, for comparison, of K single-threaded
handler processes.

    python benchmarks/threads.py [--apps hello,cpu,io] [--threads 1,2,4,10]
        [--processes 4] [--duration S] [--rounds R]
        [--front-python PATH] [--handler-python PATH]

The applications are in C{benchapps.py}: C{hello} answers at once (what
txmp itself costs), C{cpu} computes for a few milliseconds holding the
GIL, C{io} sleeps 10 ms (a database call, say).
For each application, a front and its handler(s) are started for every
configuration (one handler at each C{--threads}; C{--processes} handlers
of one thread each), all on 127.0.0.1 and ipc:// addresses, and loaded in
turn with wrk (50 connections), R rounds of S seconds each.  Prints req/s
(median of the rounds), the ratio to one handler with one thread, the CPU
each process spent per request, and one summary line per configuration.
Any response that is not 2xx fails the run; every process started is
stopped by its PID at the end, also on an error or a Ctrl-C.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _harness import (
    HERE,
    BenchmarkError,
    Servers,
    argumentParser,
    checkResponse,
    describeCpuPerRequest,
    describeInterpreters,
    describeMachine,
    interleaved,
    medians,
    positiveNumbers,
    requireAtLeastOne,
    runBenchmark,
    startTxmp,
    withCpu,
    wrk,
)

BODY = b"Hello, world!"

APPS = {
    "hello": "benchapps:hello",
    "cpu": "benchapps:cpu",
    "io": "benchapps:io",
}


def parseArguments(argv: list | None = None) -> argparse.Namespace:
    parser = argumentParser(
        "Throughput of one mphandler at several --threads.", "mpfront",
        rounds=1, roundsHelp="measure every configuration R times in turn",
    )
    parser.add_argument("--apps", default="hello,cpu,io",
                        help="applications, of: %s (default: all)" % (", ".join(APPS),))
    parser.add_argument("--threads", type=positiveNumbers, default=[1, 2, 4, 10],
                        help="--threads values to measure (default 1,2,4,10)")
    parser.add_argument("--processes", type=int, default=4, metavar="K",
                        help="also measure K handlers of 1 thread each (0: don't; default 4)")
    parser.add_argument("--warmup", type=float, default=2.0, metavar="S",
                        help="seconds of unmeasured load per configuration (default 2)")
    parser.add_argument("--connections", type=int, default=50,
                        help="wrk connections (default 50)")
    parser.add_argument("--wrk-threads", type=int, default=2,
                        help="wrk threads (default 2)")
    args = parser.parse_args(argv)
    args.apps = [name for name in args.apps.split(",") if name]
    unknown = [name for name in args.apps if name not in APPS]
    if unknown or not args.apps:
        parser.error("unknown application(s): %s" % (", ".join(unknown),))
    requireAtLeastOne(parser, args, "rounds", "duration")
    if args.processes < 0:
        parser.error("--processes must not be negative")
    return args


def workMilliseconds(python: str) -> float:
    """
    What C{benchapps.work()} costs on C{python}, in milliseconds (the best
    of a few calls, after a few to warm up).
    """
    code = (
        "import sys, time\n"
        "sys.path.insert(0, %r)\n"
        "import benchapps\n"
        "best = None\n"
        "for _ in range(30):\n"
        "    start = time.perf_counter()\n"
        "    benchapps.work()\n"
        "    took = time.perf_counter() - start\n"
        "    best = took if best is None else min(best, took)\n"
        "print(best * 1000)\n" % (HERE,)
    )
    completed = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=120
    )
    if completed.returncode != 0:
        raise BenchmarkError("cannot time benchapps.work():\n" + completed.stderr)
    return float(completed.stdout)


def configurations(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    """
    (label, handlers, threads) for every configuration, the baseline
    (one handler, one thread) first.
    """
    configs = [("1 handler x %d thread%s" % (t, "" if t == 1 else "s"), 1, t)
               for t in sorted(set(args.threads) | {1})]
    if args.processes > 1:
        configs.append(("%d handlers x 1 thread" % (args.processes,), args.processes, 1))
    return configs


def measureApp(args: argparse.Namespace, app: str) -> list[str]:
    """
    Measure every configuration serving C{app}; print the table.

    @return: the summary lines.
    """
    configs = configurations(args)
    print()
    print("== %s (%s)" % (app, APPS[app]), flush=True)
    with Servers() as servers:
        targets = {}
        for n, (label, handlers, threads) in enumerate(configs):
            txmp = startTxmp(
                servers, args.front_python, args.handler_python, APPS[app],
                handlers, threads, tag="c%dh" % (n + 1,),
            )
            checkResponse(txmp.url, BODY, label)

            def load(url: str = txmp.url, duration: float = args.duration):
                return wrk(url, duration, connections=args.connections,
                           threads=args.wrk_threads)

            if args.warmup > 0:
                load(duration=args.warmup)
            targets[label] = withCpu(load, txmp.servers)
        results = interleaved(targets, args.rounds, lambda line: print(line, flush=True))
    figures = {label: medians(rounds) for label, rounds in results.items()}
    baseline = figures[configs[0][0]][0]
    summaries = []
    print("%-24s %9s %9s  %s" % ("configuration", "req/s", "ratio", "CPU per request"))
    for label, handlers, _threads in configs:
        rps, cpu = figures[label]
        if handlers > 1:
            # Per process figures of K alike handlers: give their sum.
            handlerCpu = sum(v for k, v in cpu.items() if k != "front")
            cpuText = "front %.0f + %d handlers %.0f = %.0f us" % (
                cpu.get("front", 0), handlers, handlerCpu, sum(cpu.values()))
        else:
            cpuText = describeCpuPerRequest(cpu)
        print("%-24s %9.0f %9.2f  %s" % (label, rps, rps / baseline, cpuText))
        summaries.append(
            "SUMMARY | %s app | %s | %.0f req/s | x%.2f of 1x1 | CPU/req %s |"
            % (app, label, rps, rps / baseline, cpuText)
        )
    return summaries


def main(argv: list | None = None) -> int:
    args = parseArguments(argv)
    return runBenchmark(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """
    Measure every application of C{args.apps}, and print the summaries.
    """
    frontName, handlerName = describeInterpreters(args)
    print("machine:  " + describeMachine())
    print("front:    %s (%s)" % (frontName, args.front_python))
    print("handlers: %s (%s)" % (handlerName, args.handler_python))
    print("load:     wrk -t%d -c%d -d%ds, %d round(s), %ss warm-up per configuration"
          % (args.wrk_threads, args.connections, args.duration, args.rounds,
             args.warmup))
    if "cpu" in args.apps:
        print("cpu app:  benchapps.work() takes %.1f ms on the handlers' interpreter"
              % (workMilliseconds(args.handler_python),))
    if "io" in args.apps:
        print("io app:   time.sleep(0.01) per request")
    summaries: list[str] = []
    for app in args.apps:
        summaries += measureApp(args, app)
    print()
    for line in summaries:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
