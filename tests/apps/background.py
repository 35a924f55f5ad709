# -*- test-case-name: tests.test_daemon -*-
"""
An application with a background thread (a metrics exporter, a scheduler),
started in the two ways docs/deployment.md ("Daemons") compares: one when
the module is imported, the other lazily, by the first request, in the
process that serves it.  Every response says whether each is alive:

    at-import alive
    lazy alive
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

_never = threading.Event()


def _work() -> None:
    _never.wait()


# Daemons: they never end, and must not make the handler wait at exit.
_atImport = threading.Thread(target=_work, name="started-at-import", daemon=True)
_atImport.start()

_lazy: threading.Thread | None = None
_lazyLock = threading.Lock()


def _lazyThread() -> threading.Thread:
    """
    The thread started lazily: started by the first call, or again by a
    call in a process that does not run it (one forked since).
    """
    global _lazy
    with _lazyLock:
        if _lazy is None or not _lazy.is_alive():
            _lazy = threading.Thread(target=_work, name="started-lazily", daemon=True)
            _lazy.start()
        return _lazy


def _state(thread: threading.Thread) -> bytes:
    return b"alive" if thread.is_alive() else b"dead"


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    body = b"at-import %s\nlazy %s\n" % (_state(_atImport), _state(_lazyThread()))
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
