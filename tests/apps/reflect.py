# -*- test-case-name: tests.test_curl -*-
"""
Answer with what the application was told about the request, as JSON:
its C{method}, C{protocol} (C{SERVER_PROTOCOL}), C{path}, C{query}, every
header (C{HTTP_*}, C{CONTENT_LENGTH}, C{CONTENT_TYPE}) in C{headers}, and
the C{length} and C{sha256} of the body, read from C{wsgi.input} to its
end.  Every call writes C{reflect METHOD PATH LENGTH} to C{wsgi.errors}
once the body is read.

With C{?gzip=1}, and C{gzip} among the request's C{Accept-Encoding}, the
JSON is sent gzip-compressed, with C{Content-Encoding: gzip}.

C{/download} is L{tests.apps.bigbody}'s (C{?size=N}, chunked unless
C{length=1}).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from tests.apps import bigbody

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

_PIECE = 65536


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/download":
        return bigbody.app(environ, startResponse)
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    length = 0
    while True:
        piece = stream.read(_PIECE)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
    errors = environ["wsgi.errors"]
    errors.write(f"reflect {environ['REQUEST_METHOD']} {path} {length}\n")
    errors.flush()
    headers = {
        name: value
        for name, value in environ.items()
        if name.startswith("HTTP_") or name in ("CONTENT_LENGTH", "CONTENT_TYPE")
    }
    query = environ.get("QUERY_STRING", "")
    body = json.dumps(
        {
            "method": environ["REQUEST_METHOD"],
            "protocol": environ["SERVER_PROTOCOL"],
            "path": path,
            "query": query,
            "headers": headers,
            "length": length,
            "sha256": digest.hexdigest(),
        },
        sort_keys=True,
    ).encode("utf-8")
    responseHeaders = [("Content-Type", "application/json")]
    if parse_qs(query).get("gzip") == ["1"] and "gzip" in environ.get(
        "HTTP_ACCEPT_ENCODING", ""
    ):
        body = gzip.compress(body)
        responseHeaders.append(("Content-Encoding", "gzip"))
    responseHeaders.append(("Content-Length", str(len(body))))
    startResponse("200 OK", responseHeaders)
    return [body]
