"""
The large response that C{bigbody.py} downloads, as a WSGI application and
as the chunks C{rawbig.py} writes with Twisted Web alone: the same bytes
from both.

    - L{app}: C{GET /?size=N} answers N bytes (100 MiB by default) with a
      C{Content-Length}, from a generator yielding 64 KiB chunks, as an
      application streaming a large file or export naively would; with
      C{&whole=1}, as one C{bytes} in a list, as a Django C{HttpResponse} or
      a Flask C{Response} of a file read into memory gives it; and
      C{POST /}: the request body read whole (C{wsgi.input.read()}, as
      Flask's C{get_data()} and Django's C{request.body} read it), its
      length answered.

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


def wholeRequested(query: str) -> bool:
    """
    Whether the query string asks for the body whole (C{whole=1}).
    """
    return parse_qs(query).get("whole") == ["1"]


def requestedSize(query: str) -> int:
    """
    The C{size} in a query string, or L{DEFAULT_SIZE}.
    """
    return int(parse_qs(query).get("size", [str(DEFAULT_SIZE)])[0])


def app(environ: dict, startResponse: Callable[..., Any]) -> Iterable[bytes]:
    """
    C{size} bytes (from the query) in 64 KiB chunks, or whole, with a
    C{Content-Length}.
    """
    if environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read()
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return [b"%d\n" % (len(body),)]
    query = environ.get("QUERY_STRING", "")
    size = requestedSize(query)
    startResponse(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
    )
    if wholeRequested(query):
        return [b"".join(chunks(size))]
    return chunks(size)
