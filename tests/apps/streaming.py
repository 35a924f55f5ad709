# -*- test-case-name: tests.test_http -*-
"""
A body from a generator and no C{Content-Length}: HTTP/1.1 clients should
get it chunked.  One of the pieces is empty, which a server must not turn
into the zero-length chunk that ends a chunked body.  The same in a list
(L{listed}).

L{endless} streams for ever; L{flushed} flushes its head with an empty
C{write()}, then waits to be released.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


PIECES = [b"first piece\n", b"", b"second piece\n", b"x" * 100000, b"\nlast piece\n"]
BODY = b"".join(PIECES)


def _body() -> Iterator[bytes]:
    yield from PIECES


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return _body()


def listed(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    """
    The same pieces in a list, still without a C{Content-Length}: the whole
    body is known, and the response gets one.
    """
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return list(PIECES)


def endless(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    """
    An endless stream, as an event stream is: it ends only when the client
    goes away.
    """
    startResponse("200 OK", [("Content-Type", "application/octet-stream")])
    return _endless()


def _endless() -> Iterator[bytes]:
    while True:
        yield b"x" * 65536


#: How long L{flushed} waits to be released, at most.
RELEASE_TIMEOUT = 30.0
_released = threading.Event()


def flushed(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    """
    C{/release}: release the requests waiting, and say C{released}.

    Any other path: start the response, flush its head with an empty
    C{write()} (as a long poll does, so that its client knows it was
    answered), wait until released (or L{RELEASE_TIMEOUT}), then write
    C{done}.
    """
    if environ["PATH_INFO"] == "/release":
        _released.set()
        startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"released\n"]
    write = startResponse("200 OK", [("Content-Type", "text/plain")])
    write(b"")
    _released.wait(RELEASE_TIMEOUT)
    write(b"done\n")
    return []
