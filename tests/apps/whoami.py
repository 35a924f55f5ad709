# -*- test-case-name: tests.test_topology -*-
"""
Say which process served the request: the body is the handler's PID.

C{?sleep=SECONDS} holds the request that long first, so that concurrent
requests really overlap.
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



def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "sleep" in query:
        time.sleep(float(query["sleep"][0]))
    body = str(os.getpid()).encode("ascii")
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
