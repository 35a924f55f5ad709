# -*- test-case-name: txmp.test.test_demo -*-
"""
The demo application: C{twistd mphandler --app txmp.demo:app}.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import Any, Callable


def app(environ: dict, startResponse: Callable[..., Any]) -> Iterable[bytes]:
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
