# -*- test-case-name: tests.test_lifecycle -*-
"""
C{GET /?seconds=N}: C{ok}, with its C{Content-Length}, from an iterable
whose C{close()} takes N seconds (1 by default), as an application's
cleanup after the response (Werkzeug's C{call_on_close}, Django's
C{request_finished}) may: it writes C{closing} and then C{closed} to
C{wsgi.errors}.  The client has the whole response before the handler
ends it.

L{drip} streams for ever, and says when it is closed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


class _SlowClose:
    def __init__(self, errors: object, seconds: float) -> None:
        self._errors = errors
        self._seconds = seconds

    def __iter__(self) -> Iterator[bytes]:
        yield b"ok"

    def close(self) -> None:
        write = self._errors.write  # type: ignore[attr-defined]
        write("closing\n")
        time.sleep(self._seconds)
        write("closed\n")


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> _SlowClose:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return _SlowClose(environ["wsgi.errors"], float(query.get("seconds", ["1"])[0]))


def _drip(errors: object) -> Iterator[bytes]:
    write = errors.write  # type: ignore[attr-defined]
    try:
        while True:
            time.sleep(0.1)
            yield b"."
    finally:
        write("drip closed\n")


def drip(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterator[bytes]:
    """
    A stream that never ends, one byte every 0.1 s, from a generator whose
    C{finally} block (what C{close()} runs) writes C{drip closed} to
    C{wsgi.errors}.
    """
    environ["wsgi.errors"].write("drip started\n")
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return _drip(environ["wsgi.errors"])
