"""
Two txmps' CPU per request, measured in turn under the same load: a change
to the front (or to both halves) measured against the code before it.

    python benchmarks/frontab.py BEFORE [--after AFTER] [--app hello]
        [--rounds 5] [--duration 5] [--connections 50]

BEFORE and AFTER are txmp checkouts (AFTER is this one by default; make
BEFORE with C{git worktree add --detach /tmp/before REV}).  A front and a
handler of each (each with its checkout first on its C{PYTHONPATH}, on
this interpreter, at their defaults) run side by side; each round loads
one, then the other (in turns, so that neither always goes first), with
C{wrk -t1 -cC -dSs}, and prints each one's requests a second and the CPU
per request of its front and its handler (user and system, all threads,
from C{/proc}), then the ratios, AFTER's over BEFORE's.  The medians of the
ratios come last.

Unlike C{handlerab.py}, whose two handlers share one front and every
moment of its load, the two sides here are loaded one after the other:
a patch of a noisy machine falls on one only, so use more rounds, and
read the medians.  Linux only.
"""

from __future__ import annotations

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


def main(argv: list[str] | None = None) -> int:
    args, checkouts = parseComparison(__doc__, argv, duration=5)

    def run() -> int:
        with Servers() as servers:
            sides = {}
            for label, checkout in checkouts.items():
                send, ret = servers.ipc(label + "-send"), servers.ipc(label + "-return")
                front, port = startFront(servers, sys.executable, send, ret, checkout=checkout)
                handler = startHandler(servers, front, sys.executable, "benchapps:" + args.app,
                                       send, ret, label, checkout=checkout)
                url = "http://127.0.0.1:%d/" % (port,)
                wrk(url, 2, args.connections, threads=1)
                sides[label] = (url, {"front": front, "handler": handler})
            print("app %s, wrk -t1 -c%d -d%ds; before %s, after %s"
                  % (args.app, args.connections, args.duration,
                     checkouts["before"], checkouts["after"]))
            ratios: dict[str, list[float]] = {"req/s": [], "front": [], "handler": []}
            labels = list(sides)
            for n in range(args.rounds):
                figures: dict[str, dict[str, float]] = {}
                for label in inTurn(labels, n):
                    url, processes = sides[label]
                    start = {role: p.cpuSeconds() for role, p in processes.items()}
                    result = wrk(url, args.duration, args.connections, threads=1)
                    if not result.requests:
                        raise BenchmarkError("%s served nothing" % (label,))
                    figures[label] = {"req/s": result.rps}
                    for role, p in processes.items():
                        cpu0, cpu1 = start[role], p.cpuSeconds()
                        if cpu0 is None or cpu1 is None:
                            raise BenchmarkError("the %s %s exited" % (label, role))
                        figures[label][role] = (cpu1 - cpu0) * 1e6 / result.requests
                line = []
                for key in ratios:
                    ratio = figures["after"][key] / figures["before"][key]
                    ratios[key].append(ratio)
                    line.append("%s %.0f -> %.0f (%.3f)" % (
                        key if key == "req/s" else key + " µs/req",
                        figures["before"][key], figures["after"][key], ratio))
                print("round %d: %s" % (n + 1, ", ".join(line)))
            print("median after/before: " + ", ".join(
                "%s %.3f" % (key, median(values)) for key, values in ratios.items()))
        return 0

    return runBenchmark(run)


if __name__ == "__main__":
    sys.exit(main())
