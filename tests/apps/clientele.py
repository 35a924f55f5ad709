# -*- test-case-name: tests.test_clients -*-
"""
What the Python HTTP clients of C{tests.test_clients} are served: bodies
returned whole, as frameworks return them, responses that have no body
whatever the application yields, and a record of what was posted.

  - C{GET /whole?size=N}: the first N bytes of L{tests.apps.bigbody}'s
    body, returned as a list of one string with its C{Content-Length}, as
    Flask's C{Response(data)} and Django's C{HttpResponse} are (the
    handler sends it in one message, the front writes it in one go).
  - C{/etag}: C{ETag: "v1"}; a C{GET} with C{If-None-Match: "v1"} is
    answered C{304 Not Modified} by an application that yields the body
    all the same; else C{200} and L{ETAG_BODY}, yielded by a generator
    without a length (so chunked).
  - C{/nocontent}: C{204 No Content}, with a C{Content-Length} and a body
    the application should not have given.
  - C{/resetcontent}: C{205 Reset Content}, with a body and no
    C{Content-Length}, as Django's C{HttpResponse("reset", status=205)}.
  - C{POST} anywhere: reads the body, writes C{posted PATH LENGTH} to
    C{wsgi.errors}, and answers C{posted LENGTH\\n}.
  - anything else: L{OK}.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from tests.apps import bigbody

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

ETAG = '"v1"'
ETAG_BODY = b"the first version\n" * 1000
OK = b"ok\n"


def _pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start:start + 4096]


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    method = environ["REQUEST_METHOD"]
    if method == "POST":
        length = len(environ["wsgi.input"].read())
        errors = environ["wsgi.errors"]
        errors.write(f"posted {path} {length}\n")
        errors.flush()
        body = b"posted %d\n" % (length,)
        startResponse("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/whole":
        size = int(parse_qs(environ.get("QUERY_STRING", ""))["size"][0])
        startResponse(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
        )
        return [b"".join(bigbody.blocks(size))]
    if path == "/etag":
        if environ.get("HTTP_IF_NONE_MATCH") == ETAG:
            startResponse("304 Not Modified", [("ETag", ETAG)])
        else:
            startResponse("200 OK", [("ETag", ETAG), ("Content-Type", "text/plain")])
        return _pieces(ETAG_BODY)
    if path == "/nocontent":
        startResponse("204 No Content", [("Content-Length", "5")])
        return [b"stray"]
    if path == "/resetcontent":
        startResponse("205 Reset Content", [("Content-Type", "text/plain")])
        return [b"reset"]
    startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(OK)))])
    return [OK]
