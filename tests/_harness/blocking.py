# -*- test-case-name: tests -*-
"""
Blocking HTTP clients of the system tests (the standard library's,
requests, httpx), run in a thread of the reactor's pool (L{inThread})
while the test waits on the reactor, and what they read: at a set rate
(L{readAtRate}) through a small receive window (L{SMALL_WINDOW}), as a
client on a slow link does.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any, Callable, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool

from ._reactor import reactor

_T = TypeVar("_T")

#: Seconds any one client call may take.
CLIENT_TIMEOUT = 30.0

#: The receive buffer of a client on a slow link.
SMALL_WINDOW = 64 * 1024

#: What a client reads at a time.
PIECE = 64 * 1024


def inThread(f: Callable[..., _T], *args: Any) -> Deferred[_T]:
    """
    Call C{f(*args)} in a thread of the reactor's pool.

    @return: A L{Deferred} firing with its result, in the reactor thread.
    """
    return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args)


def readAtRate(pieces: Iterator[bytes], rate: float) -> tuple[int, str]:
    """
    Take every piece, at no more than C{rate} bytes a second.

    @return: How many bytes came, and their SHA-256 in hex.
    """
    digest = hashlib.sha256()
    count = 0
    start = time.monotonic()
    for piece in pieces:
        digest.update(piece)
        count += len(piece)
        ahead = count / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    return count, digest.hexdigest()


def reads(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """
    The pieces C{read(PIECE)} gives, to its end.
    """
    while True:
        piece = read(PIECE)
        if not piece:
            return
        yield piece
