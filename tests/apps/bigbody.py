# -*- test-case-name: tests.test_streaming -*-
"""
Large bodies, both ways, without ever holding one whole.

Every call writes C{app called: METHOD PATH} to C{wsgi.errors} first.

    - C{GET /download?size=N}: N bytes of L{blocks}, yielded 64 KiB at a
      time by a generator, without a C{Content-Length} (so chunked), or
      with one if the query has C{length=1}.  The iterable writes
      C{download closed after K bytes} to C{wsgi.errors} when it is
      closed, however the response ended.
    - C{POST /upload}: reads C{wsgi.input} 64 KiB at a time, to
      C{CONTENT_LENGTH} or to its end, writing C{first bytes read} to
      C{wsgi.errors} after the first non-empty read; answers
      C{SHA256HEX LENGTH\\n}.
    - C{GET /file?path=P}: the file P (relative to the working directory)
      through C{wsgi.file_wrapper}, with its C{Content-Length}.
    - anything else: C{small\\n}.

The content of a body is L{blocks}: block I is the 8-byte big-endian I
followed by the same 65,528 pseudo-random bytes, so that a reordered, lost
or repeated block changes the digest.  The tests import this module to
compute what to expect, and to generate what they upload.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

BLOCK = 65536

_FILLER = random.Random(20240611).randbytes(BLOCK - 8)

SMALL_BODY = b"small\n"


def block(index: int) -> bytes:
    """
    Block C{index} of every body: its index, then the filler.
    """
    return struct.pack(">Q", index) + _FILLER


def blocks(size: int) -> Iterator[bytes]:
    """
    The first C{size} bytes of the body, in blocks of L{BLOCK} bytes (the
    last one shorter if C{size} is not a multiple).
    """
    index = 0
    while size > 0:
        data = block(index)
        if size < BLOCK:
            data = data[:size]
        yield data
        size -= len(data)
        index += 1


def expectedDigest(size: int) -> str:
    """
    The SHA-256 of the first C{size} bytes of the body, in hex, computed
    block by block.
    """
    digest = hashlib.sha256()
    for data in blocks(size):
        digest.update(data)
    return digest.hexdigest()


class _Download:
    """
    The iterable of C{/download}: says on C{wsgi.errors} when it is closed.
    """

    def __init__(self, size: int, errors: object) -> None:
        self._blocks = blocks(size)
        self._errors = errors
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data = next(self._blocks)
        self.sent += len(data)
        return data

    def close(self) -> None:
        self._errors.write(f"download closed after {self.sent} bytes\n")  # type: ignore[attr-defined]
        self._errors.flush()  # type: ignore[attr-defined]


def _upload(environ: WSGIEnvironment) -> bytes:
    stream = environ["wsgi.input"]
    errors = environ["wsgi.errors"]
    length = environ.get("CONTENT_LENGTH")
    remaining: int | None = int(length) if length else None
    digest = hashlib.sha256()
    # What is hashed is copied into one buffer first: PyPy 7.3's hashlib
    # keeps a raw copy of each new bytes object it hashes until its next
    # major collection, which the collector does not count (a 1 GiB
    # upload grew the PyPy handler's peak by 88 to 98 MiB, 13 with the
    # buffer): a cost of this application, not of txmp, whose memory the
    # tests measure.
    # (The whole bytearray: a memoryview of part of it is copied again.)
    scratch = bytearray(BLOCK)
    total = 0
    while remaining is None or remaining > 0:
        data = stream.read(BLOCK if remaining is None else min(BLOCK, remaining))
        if not data:
            break
        if not total:
            errors.write("first bytes read\n")
            errors.flush()
        size = len(data)
        if size == BLOCK:
            scratch[:] = data
            digest.update(scratch)
        else:
            digest.update(data)
        total += size
        if remaining is not None:
            remaining -= len(data)
    return f"{digest.hexdigest()} {total}\n".encode("ascii")


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    errors = environ["wsgi.errors"]
    path = environ.get("PATH_INFO", "")
    errors.write(f"app called: {environ['REQUEST_METHOD']} {path}\n")
    errors.flush()
    query = parse_qs(environ.get("QUERY_STRING", ""))
    headers: list[tuple[str, str]] = [("Content-Type", "application/octet-stream")]
    if path == "/download":
        size = int(query["size"][0])
        if query.get("length") == ["1"]:
            headers.append(("Content-Length", str(size)))
        startResponse("200 OK", headers)
        return _Download(size, errors)
    if path == "/upload":
        body = _upload(environ)
    elif path == "/file":
        name = query["path"][0]
        size = os.path.getsize(name)
        headers.append(("Content-Length", str(size)))
        startResponse("200 OK", headers)
        return environ["wsgi.file_wrapper"](open(name, "rb"), BLOCK)
    else:
        body = SMALL_BODY
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    startResponse("200 OK", headers)
    return [body]
