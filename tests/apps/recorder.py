# -*- test-case-name: tests.test_hardening -*-
"""
Record every call: write C{"app called METHOD REQUEST_URI"} to
C{wsgi.errors} (so that a test can count, in the handler's log, the
requests that reached the application), and answer with what the
application was told about the client: C{"REMOTE_ADDR SCHEME"} and then
the names of the C{HTTP_X_*} variables, one per line.  With the query
C{server}, a line C{"server SERVER_NAME SERVER_PORT"} follows the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    environ["wsgi.errors"].write(
        f"app called {environ['REQUEST_METHOD']} {environ.get('REQUEST_URI', '')}\n"
    )
    lines = [f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}"]
    if environ.get("QUERY_STRING") == "server":
        lines.append(f"server {environ['SERVER_NAME']} {environ['SERVER_PORT']}")
    lines.extend(sorted(name for name in environ if name.startswith("HTTP_X_")))
    body = ("\n".join(lines) + "\n").encode("latin-1")
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
