"""
CPU per request of every thread of running processes, under one wrk load.

    python benchmarks/threadcpu.py URL PID [PID...] [--connections C] [--duration S]

Reads C{utime} and C{stime} of every thread (C{/proc/PID/task/TID/stat})
of each process, runs C{wrk -t1 -cC -dSs URL}, reads them again, and
prints each thread's CPU time divided by the requests wrk counted, in µs,
with its system-time share: which thread of a front or a handler (reactor,
ZeroMQ's I/O thread, pool threads) spends what.  Threads that used less
than half a µs a request are left out.  Linux only; it starts nothing but
wrk, and the processes must be serving URL already.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys


def threadTimes(pid: int) -> dict[str, tuple[str, int, int]]:
    """
    C{{tid: (name, utime + stime, stime)}} of every thread of C{pid}, in
    clock ticks.
    """
    times = {}
    for tid in os.listdir("/proc/%d/task" % (pid,)):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except FileNotFoundError:  # The thread ended meanwhile.
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        user, system = int(fields[11]), int(fields[12])
        times[tid] = (name, user + system, system)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("pids", type=int, nargs="+", metavar="PID")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=6)
    args = parser.parse_args(argv)
    before = {pid: threadTimes(pid) for pid in args.pids}
    output = subprocess.run(
        ["wrk", "-t1", "-c%d" % (args.connections,), "-d%ds" % (args.duration,), args.url],
        capture_output=True, text=True, check=True,
    ).stdout
    after = {pid: threadTimes(pid) for pid in args.pids}
    match = re.search(r"(\d+) requests in", output)
    if match is None:
        sys.exit("wrk counted no requests:\n" + output)
    requests = int(match.group(1))
    perTick = 1e6 / os.sysconf("SC_CLK_TCK") / requests
    print("%d requests, wrk -t1 -c%d -d%ds" % (requests, args.connections, args.duration))
    for pid in args.pids:
        total = 0.0
        for tid, (name, cpu, system) in sorted(after[pid].items(), key=lambda i: int(i[0])):
            _, cpu0, system0 = before[pid].get(tid, (name, 0, 0))
            used = (cpu - cpu0) * perTick
            total += used
            if used >= 0.5:
                print("  %d/%s %-16s %6.1f µs/req (system %5.1f)"
                      % (pid, tid, name, used, (system - system0) * perTick))
        print("  %d in all           %6.1f µs/req" % (pid, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
