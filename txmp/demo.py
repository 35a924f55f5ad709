# -*- test-case-name: txmp.test.test_demo -*-
"""
The demo application: C{twistd mphandler --app txmp.demo:app}.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from txmp._wsgi import Environ, StartResponse


def app(environ: Environ, startResponse: StartResponse) -> Iterable[bytes]:
    """
    Say hello, and which handler process answered.
    """
    body = b"Hello from txmp handler %s:%d\n" % (
        socket.gethostname().encode("ascii", "replace"),
        os.getpid(),
    )
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
