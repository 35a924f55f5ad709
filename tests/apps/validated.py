# -*- test-case-name: tests.test_wsgi -*-
"""
An application wrapped in L{wsgiref.validate.validator}, so that any
departure from PEP 3333 by the server raises C{AssertionError} inside the
application (and the server answers 500 instead of the expected 200).
C{wsgiref.validate}'s warnings are made errors too.

Routes:
  - C{/}: a fixed body with a C{Content-Length}.
  - C{/generator}: a body iterable with a C{close} method and no
    C{Content-Length}.
  - C{/write}: a body given to the C{write} callable, then an iterable.
  - C{/input?mode=M}: the request body read back through C{wsgi.input}
    with C{read(size)}, C{readline()}, C{readline(size)}, C{readlines()} or
    iteration (C{M} is C{read}, C{readline}, C{readline-sized},
    C{readlines} or C{iter}).
  - C{/errors}: writes to C{wsgi.errors}.
  - C{/environ...}: some of the environment, as JSON.
  - C{/closes}: how many C{/generator} iterables were made and how many
    the server closed, as JSON.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


warnings.simplefilter("error", WSGIWarning)

HELLO = b"Hello, validated world!\n"
GENERATOR_PIECES = [b"generated ", b"in ", b"", b"pieces\n"]
WRITTEN = [b"written first\n", b"written second\n"]
RETURNED = [b"returned last\n"]
ENVIRON_KEYS = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_PROTOCOL",
    "HTTP_X_CUSTOM_HEADER",
    "wsgi.url_scheme",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
]

_lock = threading.Lock()
_counts = {"iterables": 0, "closed": 0}


class _ClosingIterable:
    """
    A body iterable that counts its C{close} calls.
    """

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces
        with _lock:
            _counts["iterables"] += 1

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._pieces)

    def close(self) -> None:
        with _lock:
            _counts["closed"] += 1


def _readInput(environ: WSGIEnvironment, mode: str) -> bytes:
    stream = environ["wsgi.input"]
    if mode == "read":
        remaining = int(environ.get("CONTENT_LENGTH") or "0")
        pieces = []
        while remaining > 0:
            piece = stream.read(min(remaining, 1000))
            assert piece, "wsgi.input ended before CONTENT_LENGTH"
            pieces.append(piece)
            remaining -= len(piece)
        return b"".join(pieces)
    lines: list[bytes] = []
    if mode == "readline":
        while True:
            line = stream.readline()
            if not line:
                return b"".join(lines)
            lines.append(line)
    if mode == "readline-sized":
        while True:
            line = stream.readline(7)
            assert len(line) <= 7, f"readline(7) returned {len(line)} bytes"
            if not line:
                return b"".join(lines)
            lines.append(line)
    if mode == "readlines":
        return b"".join(stream.readlines())
    if mode == "iter":
        return b"".join(line for line in stream)
    raise ValueError(mode)


def _json(startResponse: StartResponse, value: object) -> list[bytes]:
    body = json.dumps(value, sort_keys=True).encode("utf-8")
    startResponse(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _inner(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/":
        startResponse(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))],
        )
        return [HELLO]
    if path == "/generator":
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return _ClosingIterable(GENERATOR_PIECES)
    if path == "/write":
        write = startResponse("200 OK", [("Content-Type", "text/plain")])
        for piece in WRITTEN:
            write(piece)
        return RETURNED
    if path == "/input":
        mode = parse_qs(environ.get("QUERY_STRING", ""))["mode"][0]
        body = _readInput(environ, mode)
        startResponse(
            "200 OK",
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
    if path == "/errors":
        errors = environ["wsgi.errors"]
        errors.write("validated app: a line on wsgi.errors\n")
        errors.writelines(["validated app: writelines one\n", "validated app: two\n"])
        errors.flush()
        return _json(startResponse, "ok")
    if path.startswith("/environ"):
        return _json(startResponse, {key: environ.get(key) for key in ENVIRON_KEYS})
    if path == "/closes":
        with _lock:
            return _json(startResponse, dict(_counts))
    startResponse("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


app = validator(_inner)
