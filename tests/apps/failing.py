# -*- test-case-name: tests.test_errors -*-
"""
An application that fails.

C{/call} raises when called; C{/iterate} calls C{start_response} and then
raises from its body iterable before yielding anything; C{/late} yields
L{PARTIAL} and then raises; any other path answers C{ok}.  The exception
message contains L{SECRET}, which must never reach the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


SECRET = "txmp-test-secret-exception-text"
PARTIAL = b"the start of a body that never ends\n"


class ApplicationFailure(RuntimeError):
    """
    The exception this application raises.
    """


def _failingBody() -> Iterator[bytes]:
    raise ApplicationFailure(SECRET + " (from the body iterable)")
    yield b"never"


def _partialBody() -> Iterator[bytes]:
    yield PARTIAL
    raise ApplicationFailure(SECRET + " (after the head was sent)")


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO")
    if path == "/call":
        raise ApplicationFailure(SECRET + " (from the application call)")
    if path == "/late":
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return _partialBody()
    if path == "/iterate":
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return _failingBody()
    startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
