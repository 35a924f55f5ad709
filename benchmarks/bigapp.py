"""
The large response that C{bigbody.py} downloads, as a WSGI application and
as the chunks C{rawbig.py} writes with Twisted Web alone: the same bytes
from both.

    - L{app}: C{GET /?size=N} answers N bytes (100 MiB by default) with a
      C{Content-Length}, from a generator yielding 64 KiB chunks, as an
      application streaming a large file or export naively would.

The handler finds this module because the benchmarks put this directory on
its C{PYTHONPATH}: C{--app bigapp:app}.  Standard library only.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any, Callable
from urllib.parse import parse_qs

CHUNK = 65536

DEFAULT_SIZE = 100 * 1024 * 1024

# One chunk of pseudo-random bytes, repeated (the last one cut short).
_BLOCK = random.Random(20240611).randbytes(CHUNK)


def chunks(size: int) -> Iterator[bytes]:
    """
    The body of C{size} bytes, in chunks of L{CHUNK} bytes.
    """
    full, rest = divmod(size, CHUNK)
    for _ in range(full):
        yield _BLOCK
    if rest:
        yield _BLOCK[:rest]


def requestedSize(query: str) -> int:
    """
    The C{size} in a query string, or L{DEFAULT_SIZE}.
    """
    return int(parse_qs(query).get("size", [str(DEFAULT_SIZE)])[0])


def app(environ: dict, startResponse: Callable[..., Any]) -> Iterable[bytes]:
    """
    C{size} bytes (from the query) in 64 KiB chunks, with a
    C{Content-Length}.
    """
    size = requestedSize(environ.get("QUERY_STRING", ""))
    startResponse(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
    )
    return chunks(size)
