"""
Two handlers' CPU per request, side by side on one front: a change to the
handler measured against the code before it, under the same load at the
same moments.

    python benchmarks/handlerab.py BEFORE [--after AFTER] [--app hello]
        [--rounds 5] [--duration 8] [--connections 50]

BEFORE and AFTER are txmp checkouts (AFTER is this one by default; make
BEFORE with C{git worktree add --detach /tmp/before REV}).  One front of
this checkout and one handler of each (each with its checkout first on its
C{PYTHONPATH}, both on the same interpreter and with their default
threads) serve C{benchapps:counted}, which is C{--app}'s application
counting its requests.  Each round starts the two handlers anew, BEFORE's
first in odd rounds and AFTER's first in even ones (the one that joins
first takes a little more of the load, and costs a few per cent less a
request: with one order for every round, a tree against itself gave a
median of 1.064, 2026-12-05), warms them up with C{wrk} for 2 seconds,
then runs C{wrk -t1 -cC -dSs} and reads, for
each handler, the CPU time its process used (user and system, all
threads, from C{/proc}) and the requests it served, and prints the CPU per
request of each and their ratio, AFTER's over BEFORE's.  The front spreads
requests over both by their free credits, so a handler that frees its
slots sooner also serves more of them: the shares are printed too.

Two runs of throughput.py, one per tree, differ by more than the machine's
drift between them when the change is a tenth of the handler's CPU: here
both trees run at once, and only their ratio is read.  Linux only.
"""

from __future__ import annotations

import os
import sys

from _harness import (
    BenchmarkError,
    Servers,
    inTurn,
    median,
    parseComparison,
    runBenchmark,
    startFront,
    startHandler,
    wrk,
)


def servedBy(directory: str, pid: int) -> int:
    """
    How many requests the handler of PID C{pid} has counted, to the last
    multiple of C{benchapps.COUNT_EVERY} (see C{benchapps.counted}).
    """
    try:
        with open(os.path.join(directory, str(pid))) as f:
            return int(f.read())
    except FileNotFoundError:
        return 0


def main(argv: list[str] | None = None) -> int:
    args, checkouts = parseComparison(__doc__, argv, duration=8)

    def run() -> int:
        with Servers() as servers:
            counts = os.path.join(servers.directory, "counts")
            os.mkdir(counts)
            os.environ["BENCHAPPS_COUNT_DIR"] = counts
            os.environ["BENCHAPPS_COUNTED"] = args.app
            send, ret = servers.ipc("send"), servers.ipc("return")
            front, port = startFront(servers, sys.executable, send, ret)
            url = "http://127.0.0.1:%d/" % (port,)
            print("app %s, wrk -t1 -c%d -d%ds; before %s, after %s"
                  % (args.app, args.connections, args.duration,
                     checkouts["before"], checkouts["after"]))
            ratios = []
            for n in range(args.rounds):
                order = inTurn(["before", "after"], n)
                handlers = {
                    label: startHandler(servers, front, sys.executable,
                                        "benchapps:counted", send, ret,
                                        "%s-%d" % (label, n + 1),
                                        checkout=checkouts[label])
                    for label in order
                }
                wrk(url, 2, args.connections, threads=1)
                start = {label: (h.cpuSeconds(), servedBy(counts, h.pid))
                         for label, h in handlers.items()}
                wrk(url, args.duration, args.connections, threads=1)
                perRequest = {}
                served = {}
                for label, h in handlers.items():
                    cpu0, served0 = start[label]
                    cpu1, served1 = h.cpuSeconds(), servedBy(counts, h.pid)
                    if cpu0 is None or cpu1 is None or served1 <= served0:
                        raise BenchmarkError("handler %s served nothing" % (label,))
                    served[label] = served1 - served0
                    perRequest[label] = (cpu1 - cpu0) * 1e6 / served[label]
                ratio = perRequest["after"] / perRequest["before"]
                ratios.append(ratio)
                total = sum(served.values())
                print("round %d (%s first): before %.1f µs/req (%.0f%% of requests), "
                      "after %.1f µs/req (%.0f%%): after/before %.3f"
                      % (n + 1, order[0], perRequest["before"],
                         100 * served["before"] / total,
                         perRequest["after"], 100 * served["after"] / total, ratio))
                for h in handlers.values():
                    h.stop()
            print("median after/before: %.3f" % (median(ratios),))
        return 0

    return runBenchmark(run)


if __name__ == "__main__":
    sys.exit(main())
