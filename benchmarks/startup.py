"""
The start-up of the commands that stop before serving: C{twistd --help},
C{twistd mpfront --help} and C{twistd mphandler --help}, and a usage error
of each (C{--send bogus}, C{--threads x}).  For each command and each tree
of txmp given, prints the modules in C{sys.modules} when twistd is done,
and the median and best wall and CPU (user + system) time of C{--runs}
runs, the trees' runs alternating so that the machine's load falls on
all of them alike.

    .venv/bin/python benchmarks/startup.py [--runs N] [--tree LABEL=DIR ...]

Without C{--tree}, measures this checkout; C{--tree main=../main --tree
new=.} compares two (each put first on C{PYTHONPATH}; this interpreter's
packages, Twisted and pyzmq, for all).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["--help"],
    ["mpfront", "--help"],
    ["mpfront", "--send", "bogus"],
    ["mphandler", "--help"],
    ["mphandler", "--threads", "x"],
]

# twistd, then the number of modules imported, on stderr.
COUNT = """
import os, sys
sys.argv[0] = "twistd"
from twisted.scripts.twistd import run
try:
    run()
except SystemExit:
    pass
os.write(2, b"\\nMODULES %d\\n" % len(sys.modules))
"""

RUN = "import sys; sys.argv[0] = 'twistd'; from twisted.scripts.twistd import run; run()"


def environment(tree: str) -> dict[str, str]:
    """
    The environment of a command run on C{tree}.
    """
    return dict(os.environ, PYTHONPATH=os.path.abspath(tree))


def moduleCount(tree: str, command: list[str]) -> int:
    """
    How many modules twistd has imported when C{command} is done.
    """
    result = subprocess.run(
        [sys.executable, "-c", COUNT, *command],
        capture_output=True, text=True, env=environment(tree), check=False,
    )
    return int(result.stderr.rpartition("MODULES ")[2])


def timed(tree: str, command: list[str]) -> tuple[float, float]:
    """
    Run C{command} once: its wall and CPU (user + system) seconds.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", RUN, *command],
        capture_output=True, env=environment(tree), check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command and tree")
    parser.add_argument("--tree", action="append", default=[], metavar="LABEL=DIR",
                        help="a checkout of txmp to measure; repeatable (default: this one)")
    arguments = parser.parse_args()
    trees = [tree.partition("=")[::2] for tree in arguments.tree] or [
        ("this", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ]
    for command in COMMANDS:
        times: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in trees}
        for _ in range(arguments.runs):
            for label, tree in trees:
                times[label].append(timed(tree, command))
        print("twistd " + " ".join(command))
        for label, tree in trees:
            walls = [wall for wall, _ in times[label]]
            cpus = [cpu for _, cpu in times[label]]
            print(
                f"  {label}: {moduleCount(tree, command)} modules, wall"
                f" {statistics.median(walls) * 1000:.0f} ms (best"
                f" {min(walls) * 1000:.0f}), CPU {statistics.median(cpus) * 1000:.0f} ms"
                f" (best {min(cpus) * 1000:.0f})"
            )


if __name__ == "__main__":
    main()
