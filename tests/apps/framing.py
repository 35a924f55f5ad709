# -*- test-case-name: tests.test_errors -*-
"""
An application whose C{Content-Length} is wrong, in each of the ways
applications get it wrong.

  - C{/long}: C{Content-Length: 5} and the body L{LONG} (a list).
  - C{/long-stream}: the same, yielded in pieces by a generator.
  - C{/long-endless}: C{Content-Length: 5} and a generator that never ends.
  - C{/nonascii}: the everyday C{str(len(text))} of a non-ASCII L{TEXT},
    whose UTF-8 encoding is longer.
  - C{/short}: C{Content-Length: 50} and a generator yielding L{SHORT}.
  - C{/short-list}: the same as a list.
  - C{/duplicate}: C{Content-Length} twice, C{5} and C{50}.
  - C{/big-head}: a C{Set-Cookie} of L{BIG_COOKIE} bytes.
  - anything else: C{ok}, correctly framed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


LONG = b"hello, and a forged response: HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
TEXT = "h\xe9llo w\xf6rld, \u00fcber \u2603\n"
SHORT = b"hello"
OK = b"ok\n"
BIG_COOKIE = 200_000


def _pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 3):
        yield data[start:start + 3]


def _endless() -> Iterator[bytes]:
    while True:
        yield LONG


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    plain = ("Content-Type", "text/plain; charset=utf-8")
    if path == "/long":
        startResponse("200 OK", [plain, ("Content-Length", "5")])
        return [LONG]
    if path == "/long-stream":
        startResponse("200 OK", [plain, ("Content-Length", "5")])
        return _pieces(LONG)
    if path == "/long-endless":
        startResponse("200 OK", [plain, ("Content-Length", "5")])
        return _endless()
    if path == "/nonascii":
        startResponse("200 OK", [plain, ("Content-Length", str(len(TEXT)))])
        return [TEXT.encode("utf-8")]
    if path == "/short":
        startResponse("200 OK", [plain, ("Content-Length", "50")])
        return _pieces(SHORT)
    if path == "/short-list":
        startResponse("200 OK", [plain, ("Content-Length", "50")])
        return [SHORT]
    if path == "/duplicate":
        startResponse(
            "200 OK", [plain, ("Content-Length", "5"), ("Content-Length", "50")]
        )
        return [SHORT]
    if path == "/big-head":
        startResponse(
            "200 OK",
            [plain, ("Content-Length", "3"), ("Set-Cookie", "a=" + "x" * BIG_COOKIE)],
        )
        return [OK]
    startResponse("200 OK", [plain, ("Content-Length", str(len(OK)))])
    return [OK]
