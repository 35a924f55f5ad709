"""
The front's own Python per request, without ZeroMQ, sockets or a running
reactor: keep-alive GETs fed as bytes to one L{FrontConnection} on a
L{StringTransport}, each answered at once by a one-frame C{RESP} (with its
credit) delivered to the L{Dispatcher} as its return socket would.

What it leaves out is what the front pays for I/O: ZeroMQ's calls and
I/O thread, the client's C{recv}/C{send}, epoll.  Timers are the real
reactor's (not running: each round trip ends with its C{runUntilCurrent},
as a turn of the reactor does).  Set beside the front's
CPU per request in C{benchmarks/throughput.py}, it says how much of that is
txmp's Python.  Prints the median and best of the runs (five by default), in CPU
microseconds per request (the thread's own CPU time).

    .venv/bin/python benchmarks/frontpath.py [--head wrk|browser] [--requests N]
        [--runs R] [--profile]
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from _harness import timePythonPath
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from txmp import protocol
from txmp._dispatch import Dispatcher
from txmp._front import FrontConnection, FrontFactory

HANDLER = b"handler-a"
# The request heads: as wrk sends them, and as a browser asks for a
# stylesheet (Firefox 128's fields).
HEADS = {
    "wrk": b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n\r\n",
    "browser": (
        b"GET /static/app.css HTTP/1.1\r\nHost: localhost:8080\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        b"Accept: text/css,*/*;q=0.1\r\nAccept-Language: en-US,en;q=0.5\r\n"
        b"Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\n"
        b"Referer: http://localhost:8080/\r\nSec-Fetch-Dest: style\r\n"
        b"Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\nPriority: u=2\r\n\r\n"
    ),
}
# The reply, encoded once: only its request id (frame 3) changes.
REPLY = protocol.encodeResponse(
    b"", 200, b"OK", [(b"Content-Type", b"text/plain"), (b"Content-Length", b"13")],
    [b"Hello, world!"], False, True,
)


class Router:
    """
    The front's send socket: keeps the last message sent.
    """

    def __init__(self) -> None:
        self.last: list[bytes] = []

    def send(self, frames: list[bytes]) -> None:
        self.last = frames


def frontConnection(
    router: Router, packed: bool = False
) -> tuple[Dispatcher, FrontConnection, StringTransport]:
    """
    A front sending on C{router}, with one handler of 4 credits (that takes
    packed messages, if C{packed}), and one client connection to it on a
    L{StringTransport}.
    """
    dispatcher = Dispatcher(reactor, router, instance="front1")
    dispatcher.controlReceived([HANDLER, *protocol.encodeHello("a", 4, packed=packed)])
    connection = FrontFactory(dispatcher, reactor).buildProtocol(
        IPv4Address("TCP", "127.0.0.1", 40000)
    )
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 40000),
    )
    connection.makeConnection(transport)
    return dispatcher, connection, transport


def makeFront(request: bytes) -> Callable[[], None]:
    """
    A front with one handler of 4 credits; return one round trip of
    C{request} as a function.
    """
    router = Router()
    dispatcher, connection, transport = frontConnection(router)
    reply = [HANDLER, *REPLY]

    def roundTrip() -> None:
        connection.dataReceived(request)
        reply[3] = router.last[3]
        dispatcher.replyReceived(reply)
        transport.clear()
        reactor.runUntilCurrent()

    return roundTrip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, metavar="N",
                        help="requests per run (default 20000)")
    parser.add_argument("--head", choices=sorted(HEADS), default="wrk",
                        help="the request head: wrk's (2 fields, the default) or "
                        "a browser's (11 fields)")
    parser.add_argument("--runs", type=int, default=5, metavar="R",
                        help="timed runs (default 5)")
    parser.add_argument("--profile", action="store_true",
                        help="one run under cProfile; print the top functions")
    options = parser.parse_args(argv)
    roundTrip = makeFront(HEADS[options.head])
    for _ in range(2000):
        roundTrip()

    def run() -> None:
        for _ in range(options.requests):
            roundTrip()

    timePythonPath(
        f"front Python per request, {options.head}'s head", run, options.requests,
        options.runs, options.profile,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
