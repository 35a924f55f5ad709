# -*- test-case-name: tests.test_errors -*-
"""
A handler written with raw pyzmq and no txmp import, as a handler in another
language would be, that frames its responses wrongly in each of the ways
docs/protocol.md says the front must catch (section RESP):

  - C{/long}: C{Content-Length: 5}, and L{LONG} in one C{RESP}.
  - C{/long-stream}: the same in a C{RESP}, two C{BODY}s and an C{END}.
  - C{/short}: C{Content-Length: 50} and L{SHORT} in one C{RESP}.
  - C{/short-stream}: the same, streamed.
  - C{/duplicate}: C{Content-Length} twice, C{5} and C{50}.
  - C{/interim}: status 100.
  - C{/control}: a header value holding C{0x01}.
  - anything else: L{OK}, correctly framed.

Usage: python rawframing.py SEND_ADDRESS RETURN_ADDRESS

It is txmp/test/rawhandler.py (loaded by its path: neither imports txmp)
answering with L{reply}: it prints "rawframing handler ready" once it has
sent HELLO, takes one request at a time, and exits on SIGTERM.
"""
from __future__ import annotations

import importlib.util
import os
import sys

LONG = b"hello, and a forged response: HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
SHORT = b"hello"
OK = b"ok\n"


def _rawhandler():
    path = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "txmp", "test", "rawhandler.py"
    )
    spec = importlib.util.spec_from_file_location("rawhandler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rawhandler = _rawhandler()
encodePairs = rawhandler.encodePairs


def head(status, headers, more):
    meta = encodePairs([(b"status", status), (b"reason", b"X"), (b"more", more)])
    return [meta, encodePairs(headers)]


def reply(requestId, meta, headers, body):
    """
    The messages (each a list of frames after the request id) answering the
    request's target.
    """
    target = meta[b"target"]
    length5 = [(b"Content-Length", b"5")]
    length50 = [(b"Content-Length", b"50")]
    if target == b"/long":
        return [(b"RESP", [*head(b"200", length5, b"0"), LONG])]
    if target == b"/long-stream":
        return [
            (b"RESP", [*head(b"200", length5, b"1"), LONG[:3]]),
            (b"BODY", [LONG[3:20]]),
            (b"BODY", [LONG[20:]]),
            (b"END", []),
        ]
    if target == b"/short":
        return [(b"RESP", [*head(b"200", length50, b"0"), SHORT])]
    if target == b"/short-stream":
        return [(b"RESP", [*head(b"200", length50, b"1"), SHORT]), (b"END", [])]
    if target == b"/duplicate":
        return [(b"RESP", [*head(b"200", length5 + length50, b"0"), SHORT])]
    if target == b"/interim":
        return [(b"RESP", head(b"100", [], b"0"))]
    if target == b"/control":
        return [(b"RESP", [*head(b"200", [*length5, (b"X-A", b"a\x01b")], b"0"), SHORT])]
    return [(b"RESP", [*head(b"200", [(b"Content-Length", b"%d" % len(OK))], b"0"), OK])]


if __name__ == "__main__":
    rawhandler.main(sys.argv[1], sys.argv[2], reply, b"rawframing")
