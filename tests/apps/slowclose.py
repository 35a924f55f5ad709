# -*- test-case-name: tests.test_lifecycle -*-
"""
C{GET /?seconds=N}: C{ok}, with its C{Content-Length}, from an iterable
whose C{close()} takes N seconds (1 by default), as an application's
cleanup after the response (Werkzeug's C{call_on_close}, Django's
C{request_finished}) may: it writes C{closing} and then C{closed} to
C{wsgi.errors}.  The client has the whole response before the handler
ends it.
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
