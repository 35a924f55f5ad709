# -*- test-case-name: tests.test_misbehaving -*-
"""
An application that leaves threads running: it starts a thread that is
not a daemon and never ends when it is imported, and another for every
request to C{/thread} (not a daemon either, which it would be by default,
as the thread starting it is); a request to C{/executor} gives a
L{concurrent.futures.ThreadPoolExecutor} a task that never ends (its
threads are daemons, but Python's exit joins them).  Every request is
answered with the handler's PID.  An L{atexit} hook prints C{exit hook
ran}.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

_never = threading.Event()
_executors: list[object] = []


def _forever() -> None:
    _never.wait()


threading.Thread(target=_forever, name="started-at-import").start()
# Run before the process leaves without waiting for the threads.
atexit.register(lambda: print("exit hook ran", flush=True))


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/thread":
        threading.Thread(target=_forever, name="started-by-request", daemon=False).start()
    elif environ.get("PATH_INFO") == "/executor":
        # (Imported here: the handler must exit whenever the application
        # imports it, after txmp's hook too.)
        from concurrent.futures import ThreadPoolExecutor

        executor = ThreadPoolExecutor(1, thread_name_prefix="executor")
        _executors.append(executor)
        executor.submit(_forever)
    body = b"%d" % (os.getpid(),)
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
