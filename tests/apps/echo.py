# -*- test-case-name: tests.test_serving -*-
"""
Echo the request body back, byte for byte, with a C{Content-Length}.

The body is read with C{wsgi.input.read(size)} up to C{CONTENT_LENGTH}
when the request has one, and to end of input otherwise (a chunked
request).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


_PIECE = 65536


def readBody(environ: WSGIEnvironment) -> bytes:
    """
    Read the whole request body.

    @param environ: The WSGI environment.
    @return: The body.
    """
    stream = environ["wsgi.input"]
    pieces = []
    length = environ.get("CONTENT_LENGTH")
    if length:
        remaining = int(length)
        while remaining > 0:
            piece = stream.read(min(remaining, _PIECE))
            if not piece:
                break
            pieces.append(piece)
            remaining -= len(piece)
    else:
        while True:
            piece = stream.read(_PIECE)
            if not piece:
                break
            pieces.append(piece)
    return b"".join(pieces)


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    body = readBody(environ)
    startResponse(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(len(body))),
            ("X-Request-Content-Length", environ.get("CONTENT_LENGTH") or "absent"),
        ],
    )
    return [body]
