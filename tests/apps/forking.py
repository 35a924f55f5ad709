# -*- test-case-name: tests.test_misbehaving -*-
"""
An application that forks without C{exec}, as L{multiprocessing} does with
its C{fork} start method (Linux's default before Python 3.14): C{/terminate}
starts a process that would sleep for ever, terminates it (C{SIGTERM}) and
answers with its exit code (C{-15}), or C{alive} if it is still there 5 s
later; C{/leave} starts one and leaves it running; C{/pool} maps with a
L{multiprocessing.Pool} in a C{with} block,
which terminates its workers as it ends; C{/subprocess} runs a command
given C{sys.stderr} as its standard error, which writes C{child's
stderr}, and answers with its standard output; C{/buffer} writes the
line C{bytes through sys.stdout.buffer} as bytes, to C{sys.stdout.buffer},
as code written for the process's own standard output may.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

_fork = multiprocessing.get_context("fork")


def _sleep() -> None:
    time.sleep(3600)


def _square(n: int) -> int:
    return n * n


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/subprocess":
        body = subprocess.run(
            [sys.executable, "-c",
             "import sys; sys.stderr.write(\"child's stderr\\n\"); print('out')"],
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            check=True,
        ).stdout
    elif environ.get("PATH_INFO") == "/buffer":
        sys.stdout.buffer.write(b"bytes through sys.stdout.buffer\n")
        sys.stdout.buffer.flush()
        body = b"written"
    elif environ.get("PATH_INFO") == "/leave":
        # A child left running, not a daemon: multiprocessing's atexit hook
        # joins it, for ever.
        _fork.Process(target=_sleep).start()
        body = b"left"
    elif environ.get("PATH_INFO") == "/pool":
        with _fork.Pool(2) as pool:
            body = repr(pool.map(_square, range(4))).encode("ascii")
    else:
        process = _fork.Process(target=_sleep)
        process.start()
        process.terminate()
        process.join(5)
        if process.exitcode is None:
            process.kill()
            process.join()
            body = b"alive"
        else:
            body = b"%d" % (process.exitcode,)
    startResponse(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]
