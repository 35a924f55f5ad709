# -*- test-case-name: tests.test_resilience -*-
"""
Say which request this was and which process served it, so that a test
under load can match every response to its request and its handler.

Routes:
  - C{/stream?token=T&interval=I&count=N}: a body of C{N} chunks
    C{"chunk K\\n"}, one every C{I} seconds (defaults: 0.1 and 600), from
    an iterable whose C{close()} writes C{"stream T closed after K chunks
    at SECONDS"} to C{wsgi.errors}, C{SECONDS} being C{time.time()}; and
    C{"stream T started"} when the first chunk is asked for.
  - any other path, C{?token=T&sleep=S&log=1}: reads the request body,
    holds the request C{S} seconds (default 0), and answers
    C{"T METHOD PID\\n"} (see L{body}).  With C{log=1} it first writes
    C{"begin METHOD T"} to C{wsgi.errors}, so that a test can see which
    requests a handler has started.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


def body(token: str, method: str, pid: int) -> bytes:
    """
    The body of the answer to a request.

    @param token: The request's C{token}.
    @param method: The request method.
    @param pid: The serving process's ID.
    """
    return f"{token} {method} {pid}\n".encode("ascii")


def parseBody(data: bytes) -> tuple[str, str, int] | None:
    """
    Read back what L{body} wrote.

    @return: The token, method and PID, or L{None} if C{data} is not such
        a body.
    """
    parts = data.decode("ascii", "replace").split()
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


class _Stream:
    """
    A slow streamed body that records when the server closes it.
    """

    def __init__(
        self, environ: WSGIEnvironment, token: str, interval: float, count: int
    ) -> None:
        self._errors = environ["wsgi.errors"]
        self._token = token
        self._interval = interval
        self._count = count
        self.produced = 0

    def __iter__(self) -> Iterator[bytes]:
        self._errors.write(f"stream {self._token} started\n")
        self._errors.flush()
        for n in range(self._count):
            if n:
                time.sleep(self._interval)
            self.produced += 1
            yield f"chunk {n}\n".encode("ascii")

    def close(self) -> None:
        self._errors.write(
            f"stream {self._token} closed after {self.produced} chunks"
            f" at {time.time():.6f}\n"
        )
        self._errors.flush()


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    token = query.get("token", ["-"])[0]
    method = environ["REQUEST_METHOD"]
    if environ.get("PATH_INFO") == "/stream":
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return _Stream(
            environ,
            token,
            float(query.get("interval", ["0.1"])[0]),
            int(query.get("count", ["600"])[0]),
        )
    if query.get("log") == ["1"]:
        errors = environ["wsgi.errors"]
        errors.write(f"begin {method} {token}\n")
        errors.flush()
    length = environ.get("CONTENT_LENGTH")
    if length:
        environ["wsgi.input"].read(int(length))
    if "sleep" in query:
        time.sleep(float(query["sleep"][0]))
    data = body(token, method, os.getpid())
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))],
    )
    return [data]
