# -*- test-case-name: tests.test_errors -*-
"""
C{/slow?seconds=N} writes C{slow request started: METHOD} to
C{wsgi.errors} and answers after N seconds (3 by default);
C{/slow?until=PATH} does the same once the file C{PATH} exists (or after
L{HELD_AT_MOST}), for a test that holds a request as long as it needs
to; any other path answers C{fast} at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment


#: How long C{/slow?until=PATH} waits for C{PATH} at most, in seconds.
HELD_AT_MOST = 60.0


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/slow":
        errors = environ["wsgi.errors"]
        errors.write(f"slow request started: {environ['REQUEST_METHOD']}\n")
        errors.flush()
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "until" in query:
            deadline = time.monotonic() + HELD_AT_MOST
            while not os.path.exists(query["until"][0]) and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            time.sleep(float(query.get("seconds", ["3"])[0]))
        body = b"slow\n"
    else:
        body = b"fast\n"
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
