"""
The WSGI applications the benchmarks serve through txmp:

    - L{hello}: a fixed 13-byte body with C{Content-Length}, as
      C{rawweb.py} serves it with Twisted Web alone;
    - L{cpu}: a few milliseconds of pure Python work per request (about
      4 ms on CPython 3.11 on the 2-core machine of docs/benchmarks.md;
      C{threads.py} prints what it costs on the handler's interpreter),
      holding the GIL all along;
    - L{io}: C{time.sleep(0.01)} per request, standing in for a database
      call or any other wait that releases the GIL;
    - L{mixed}: hello world, except on the path C{/slow}, which sleeps 1 s
      first: the load generator chooses which requests are slow
      (C{fairness.py});
    - L{counted}: the application C{BENCHAPPS_COUNTED} names (L{hello} by
      default), counting the requests of its process in a file
      (C{handlerab.py}, which tells two handlers of one front apart).

C{BENCHAPPS_CPU_ITERATIONS} in the environment sets the iterations of
L{cpu}'s loop (C{fairness.py} sets what takes about 5 ms on the machine it
runs on; C{mpfront --spawn} passes its environment to its handlers).

The handler finds this module because the benchmarks put this directory on
its C{PYTHONPATH}: C{--app benchapps:hello}.  Standard library only.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any, Callable

BODY = b"Hello, world!"

# Iterations of the loop in work(): about 4 ms on CPython 3.11 here, unless
# the environment says otherwise.
CPU_ITERATIONS = int(os.environ.get("BENCHAPPS_CPU_ITERATIONS", "60000"))

# Seconds the I/O-bound application waits per request.
IO_SECONDS = 0.01

# The path of mixed()'s slow requests, and how long they sleep.
SLOW_PATH = "/slow"
SLOW_SECONDS = 1.0

_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(BODY))),
]


def hello(environ: dict, startResponse: Callable[..., Any]) -> Iterable[bytes]:
    """
    Hello, world: 13 bytes, with a C{Content-Length}.
    """
    startResponse("200 OK", list(_HEADERS))
    return [BODY]


def helloGenerator(
    environ: dict, startResponse: Callable[..., Any]
) -> Iterator[bytes]:
    """
    The same hello, world from a generator: an iterable without C{len()},
    as Flask's and Django's responses are (throughput.py C{--app}).
    """
    startResponse("200 OK", list(_HEADERS))
    yield BODY


def work(iterations: int = CPU_ITERATIONS) -> int:
    """
    Pure Python arithmetic that holds the GIL for its whole duration.
    """
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def cpu(environ: dict, startResponse: Callable[..., Any]) -> list[bytes]:
    """
    Compute for a few milliseconds, then say hello.
    """
    work()
    startResponse("200 OK", list(_HEADERS))
    return [BODY]


def io(environ: dict, startResponse: Callable[..., Any]) -> list[bytes]:
    """
    Wait 10 ms without holding the GIL, then say hello.
    """
    time.sleep(IO_SECONDS)
    startResponse("200 OK", list(_HEADERS))
    return [BODY]


def mixed(environ: dict, startResponse: Callable[..., Any]) -> list[bytes]:
    """
    Say hello at once; on the path L{SLOW_PATH}, after L{SLOW_SECONDS} of
    waiting without holding the GIL (a slow query, say).
    """
    if environ.get("PATH_INFO") == SLOW_PATH:
        time.sleep(SLOW_SECONDS)
    startResponse("200 OK", list(_HEADERS))
    return [BODY]


# counted(): how often it writes its count, and where (a file named after
# the process's PID in this directory).
COUNT_EVERY = 50
COUNT_DIRECTORY = os.environ.get("BENCHAPPS_COUNT_DIR", "")
_counter = itertools.count(1)


def counted(environ: dict, startResponse: Callable[..., Any]) -> Iterable[bytes]:
    """
    The application of this module that C{BENCHAPPS_COUNTED} names
    (L{hello} by default); every L{COUNT_EVERY} requests the count so far
    is written to C{BENCHAPPS_COUNT_DIR/PID}.  (C{next} on an
    C{itertools.count} holds the GIL: no two threads get the same number.)
    """
    n = next(_counter)
    if n % COUNT_EVERY == 0 and COUNT_DIRECTORY:
        path = os.path.join(COUNT_DIRECTORY, str(os.getpid()))
        temporary = "%s.%d.tmp" % (path, n)
        with open(temporary, "w") as f:
            f.write(str(n))
        os.replace(temporary, path)
    return _COUNTED(environ, startResponse)


_COUNTED = globals()[os.environ.get("BENCHAPPS_COUNTED", "hello")]
