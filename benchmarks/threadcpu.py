"""
CPU per request of every thread of running processes, under one wrk load.

    python benchmarks/threadcpu.py URL PID [PID...] [--connections C] [--duration S]

Reads C{utime} and C{stime} of every thread (C{/proc/PID/task/TID/stat})
of each process, runs C{wrk -t1 -cC -dSs URL} (C{_harness.wrk}: URL must
be on 127.0.0.1, and any error response or socket error fails the run),
reads them again, and prints each thread's CPU time divided by the
requests wrk counted, in µs, with its system-time share: which thread of a
front or a handler (reactor, ZeroMQ's I/O thread, pool threads) spends
what.  Threads that used less than half a µs a request are left out.
Linux only; it starts nothing but wrk, and the processes must be serving
URL already.
"""

from __future__ import annotations

import argparse
import os
import sys

from _harness import runBenchmark, statFields, wrk


def threadTimes(pid: int) -> dict[int, tuple[str, int, int]]:
    """
    C{{tid: (name, utime + stime, stime)}} of every thread of C{pid}, in
    clock ticks.
    """
    times = {}
    for tid in os.listdir("/proc/%d/task" % (pid,)):
        found = statFields("/proc/%d/task/%s/stat" % (pid, tid))
        if found is not None:  # (None: the thread ended meanwhile.)
            name, fields = found
            user, system = int(fields[11]), int(fields[12])
            times[int(tid)] = (name, user + system, system)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("pids", type=int, nargs="+", metavar="PID")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=6)
    args = parser.parse_args(argv)

    def run() -> int:
        before = {pid: threadTimes(pid) for pid in args.pids}
        result = wrk(args.url, args.duration, args.connections, threads=1)
        after = {pid: threadTimes(pid) for pid in args.pids}
        perTick = 1e6 / os.sysconf("SC_CLK_TCK") / result.requests
        print("%d requests, wrk -t1 -c%d -d%ds"
              % (result.requests, args.connections, args.duration))
        for pid in args.pids:
            total = 0.0
            for tid, (name, cpu, system) in sorted(after[pid].items()):
                _, cpu0, system0 = before[pid].get(tid, (name, 0, 0))
                used = (cpu - cpu0) * perTick
                total += used
                if used >= 0.5:
                    print("  %d/%d %-16s %6.1f µs/req (system %5.1f)"
                          % (pid, tid, name, used, (system - system0) * perTick))
            print("  %d in all           %6.1f µs/req" % (pid, total))
        return 0

    return runBenchmark(run)


if __name__ == "__main__":
    sys.exit(main())
