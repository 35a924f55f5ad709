"""
Run twistd with CPython's garbage collector timed: every collection's
generation and duration are summed (a C{gc.callbacks} hook), and written
as one line to the file C{$GCOUT} when the reactor shuts down.  Not part
of txmp: the measurement of docs/benchmarks.md, "Garbage".

    GCOUT=gc.txt python benchmarks/experiments/gctimed.py -n --pidfile= mpfront ...
"""

from __future__ import annotations

import gc
import os
import time

from twisted.internet import reactor
from twisted.scripts.twistd import run

_stats = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
_started = [0.0]


def _timed(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        counted = _stats[info["generation"]]
        counted[0] += 1
        counted[1] += time.perf_counter() - _started[0]


def _report() -> None:
    with open(os.environ["GCOUT"], "a") as f:
        f.write(
            " ".join(
                "generation %d: %d collections, %.3f s" % (generation, count, seconds)
                for generation, (count, seconds) in _stats.items()
            )
            + "\n"
        )


gc.callbacks.append(_timed)
reactor.addSystemEventTrigger("before", "shutdown", _report)  # type: ignore[attr-defined]
run()
