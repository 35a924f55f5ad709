# -*- test-case-name: tests.test_reload -*-
"""
Answer with the contents of C{version.txt} in the working directory as it
was when this module was imported (which a reload must do anew), and the
handler's PID; C{?sleep=S} first holds the request S seconds.
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

with open("version.txt", "rb") as _f:
    VERSION = _f.read().strip()


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "sleep" in query:
        time.sleep(float(query["sleep"][0]))
    body = VERSION + b" %d" % (os.getpid(),)
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
