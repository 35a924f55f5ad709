"""
The WSGI applications the benchmarks serve through txmp:

    - L{hello}: a fixed 13-byte body with C{Content-Length}, as
      C{rawweb.py} serves it with Twisted Web alone;
    - L{cpu}: a few milliseconds of pure Python work per request (about
      4 ms on CPython 3.11 on the 2-core machine of docs/benchmarks.md;
      C{threads.py} prints what it costs on the handler's interpreter),
      holding the GIL all along;
    - L{io}: C{time.sleep(0.01)} per request, standing in for a database
      call or any other wait that releases the GIL.

The handler finds this module because the benchmarks put this directory on
its C{PYTHONPATH}: C{--app benchapps:hello}.  Standard library only.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, List

BODY = b"Hello, world!"

# Iterations of the loop in work(): about 4 ms on CPython 3.11 here.
CPU_ITERATIONS = 60000

# Seconds the I/O-bound application waits per request.
IO_SECONDS = 0.01

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


def work(iterations: int = CPU_ITERATIONS) -> int:
    """
    Pure Python arithmetic that holds the GIL for its whole duration.
    """
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def cpu(environ: dict, startResponse: Callable[..., Any]) -> List[bytes]:
    """
    Compute for a few milliseconds, then say hello.
    """
    work()
    startResponse("200 OK", list(_HEADERS))
    return [BODY]


def io(environ: dict, startResponse: Callable[..., Any]) -> List[bytes]:
    """
    Wait 10 ms without holding the GIL, then say hello.
    """
    time.sleep(IO_SECONDS)
    startResponse("200 OK", list(_HEADERS))
    return [BODY]
