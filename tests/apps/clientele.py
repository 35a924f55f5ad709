# -*- test-case-name: tests.test_clients -*-
"""
What the Python HTTP clients of C{tests.test_clients} are served: bodies
returned whole, as frameworks return them.

  - C{GET /whole?size=N}: the first N bytes of L{tests.apps.bigbody}'s
    body, returned as a list of one string with its C{Content-Length}, as
    Flask's C{Response(data)} and Django's C{HttpResponse} are (the
    handler sends it in one message, the front writes it in one go).
  - anything else: L{OK}.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from tests.apps import bigbody

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

OK = b"ok\n"


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/whole":
        size = int(parse_qs(environ.get("QUERY_STRING", ""))["size"][0])
        startResponse(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
        )
        return [b"".join(bigbody.blocks(size))]
    startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(OK)))])
    return [OK]
