# -*- test-case-name: tests.test_errors -*-
"""
C{/slow?seconds=N} writes C{slow request started: METHOD} to
C{wsgi.errors} and answers after N seconds (3 by default); any other path
answers C{fast} at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment



def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/slow":
        errors = environ["wsgi.errors"]
        errors.write(f"slow request started: {environ['REQUEST_METHOD']}\n")
        errors.flush()
        query = parse_qs(environ.get("QUERY_STRING", ""))
        time.sleep(float(query.get("seconds", ["3"])[0]))
        body = b"slow\n"
    else:
        body = b"fast\n"
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
