# -*- test-case-name: tests.test_wholebody -*-
"""
Read the whole request body in one call, the way applications and
frameworks do, and answer with its length and SHA-256 digest.

The path chooses the call:

  - C{/read-length}: C{wsgi.input.read(int(CONTENT_LENGTH))};
  - C{/read-all}: C{wsgi.input.read()};
  - C{/readline}: one C{wsgi.input.readline()}.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


def summary(data: bytes) -> bytes:
    """
    What the tests compare: the length and the digest of C{data}.
    """
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode("ascii")


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    path = environ["PATH_INFO"]
    if path == "/read-length":
        data = stream.read(int(environ["CONTENT_LENGTH"]))
    elif path == "/read-all":
        data = stream.read()
    elif path == "/readline":
        data = stream.readline()
    else:
        startResponse("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such reader\n"]
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return [summary(data)]
