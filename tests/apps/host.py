# -*- test-case-name: tests.test_requestframing -*-
"""
Say which host the request was addressed to: the body is
C{"SERVER_NAME HTTP_HOST"} (C{-} for an absent C{HTTP_HOST}).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    body = f"{environ['SERVER_NAME']} {environ.get('HTTP_HOST', '-')}".encode("latin-1")
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
