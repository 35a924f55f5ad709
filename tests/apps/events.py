# -*- test-case-name: tests.test_events -*-
"""
Server-sent events, as a site writes them: a generator that yields an
event, waits (sending a comment as a heartbeat meanwhile, if asked), and
yields the next, for as long as its client stays.

C{/events?count=N&gap=S&heartbeat=H}: C{N} events (0: for ever), C{S}
seconds apart, with a comment every C{H} seconds between them (none
without C{heartbeat}).  When its iterable is closed or ends, it prints
C{events stream closed after event K} to its standard output, as a
generator's C{finally} that releases what the stream holds would run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIEnvironment

HEARTBEAT = b": keep-alive\n\n"


def _events(count: int, gap: float, heartbeat: float) -> Iterator[bytes]:
    sent = 0
    try:
        while True:
            sent += 1
            yield b"id: %d\ndata: event %d\n\n" % (sent, sent)
            if sent == count:
                return
            due = time.monotonic() + gap
            while heartbeat and due - time.monotonic() > heartbeat:
                time.sleep(heartbeat)
                yield HEARTBEAT
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        print(f"events stream closed after event {sent}", flush=True)


def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    count = int(query.get("count", ["0"])[0])
    gap = float(query.get("gap", ["1"])[0])
    heartbeat = float(query.get("heartbeat", ["0"])[0])
    startResponse(
        "200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
    )
    return _events(count, gap, heartbeat)
