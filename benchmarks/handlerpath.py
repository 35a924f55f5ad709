"""
The handler's own Python per request, without ZeroMQ, sockets, threads or
a running reactor: C{REQ} messages as a front sends them (packed, made by
the front's own L{Dispatcher} from keep-alive GETs, set up as
C{frontpath.py} sets it up) delivered to one
L{FrontLink}, whose L{WSGIRunner} runs the application at once in the
calling thread, as an application thread would, and whose reply goes to
a return socket that keeps it.

What it leaves out is what the handler pays for I/O and threads: ZeroMQ's
calls and I/O thread, epoll, the reactor's turns, the hand-off to a pool
thread and the GIL passing.  Set beside the handler's CPU per request in
C{benchmarks/throughput.py} or C{benchmarks/threadcpu.py}, it says how much
of that is txmp's Python, and C{--profile} says where it goes.  Prints the
median and best of the runs (five by default), in CPU microseconds per request (the
thread's own CPU time).

    .venv/bin/python benchmarks/handlerpath.py [--app hello|helloGenerator]
        [--requests N] [--runs R] [--profile]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import benchapps
from _harness import timePythonPath
from frontpath import HANDLER, HEADS, REPLY, Router, frontConnection
from twisted.internet import reactor

from txmp import protocol
from txmp._handler import FrontLink
from txmp._wsgi import WSGIRunner


class _Socket:
    """
    A handler's socket: counts the messages sent.  As a return socket it is
    a L{txmp._zmq.ReplySender}: what L{combine} is given goes as one message
    at L{sendCombined}, which every reply sink calls after its reply.
    """

    def __init__(self) -> None:
        self.sent = 0
        self._combined = 0

    def send(self, frames: list[bytes]) -> None:
        self.sent += 1

    def combine(self, message: bytes) -> None:
        self._combined += 1

    def sendCombined(self) -> None:
        if self._combined:
            self._combined = 0
            self.sent += 1


def requests(count: int) -> list[list[bytes]]:
    """
    C{count} C{REQ} messages (without the handler's routing id), as a front
    sends them to a handler that says C{packed=1}: wrk's GETs of C{/} on one
    keep-alive connection, each answered so that the next can go.
    """
    router = Router()
    dispatcher, connection, _transport = frontConnection(router, packed=True)
    reply = [HANDLER, *REPLY]
    messages = []
    for _ in range(count):
        connection.dataReceived(HEADS["wrk"])
        messages.append(router.last[1:])
        reply[3] = protocol.unpack(router.last[1:])[2]
        dispatcher.replyReceived(reply)
        reactor.runUntilCurrent()
    connection.transport.loseConnection()
    return messages


class _InlinePool:
    """
    A thread pool that runs each call at once, with the link told that the
    call comes from an application thread.
    """

    def __init__(self) -> None:
        self.inReactor = True

    def callInThread(self, f: Callable[..., object], *args: Any, **kw: Any) -> None:
        self.inReactor = False
        try:
            f(*args, **kw)
        finally:
            self.inReactor = True


def makeHandler(app: str) -> tuple[FrontLink, _Socket]:
    """
    A welcomed link with 4 credits to a front that takes packed messages
    and credits in replies, serving C{benchapps.<app>}; and its return
    socket.
    """
    pool = _InlinePool()
    runner = WSGIRunner(reactor, pool, getattr(benchapps, app))
    sendSocket, returnSocket = _Socket(), _Socket()
    # Heartbeats of an hour: the reactor does not run here, and a link
    # whose heartbeat has not run for two intervals holds the requests that
    # come (FrontLink._doubt), as a paused handler must.
    link = FrontLink(
        reactor, runner, sendSocket, returnSocket, "bench",
        capacity=4, address="ipc://front", returnAddress="ipc://return",
        inReactorThread=lambda: pool.inReactor, heartbeat=3600.0,
    )
    link.start()
    link.controlReceived(protocol.encodeWelcome({
        "front": "front1", "heartbeat": "3600", "packed": "1",
        "credit_in_reply": "1", "credit_in_end": "1",
    }))
    return link, returnSocket


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", default="hello", choices=["hello", "helloGenerator"],
                        help="the benchapps application (default hello)")
    parser.add_argument("--requests", type=int, default=20000, metavar="N",
                        help="requests per run (default 20000)")
    parser.add_argument("--runs", type=int, default=5, metavar="R",
                        help="timed runs (default 5)")
    parser.add_argument("--profile", action="store_true",
                        help="one run under cProfile; print the top functions")
    options = parser.parse_args(argv)
    messages = requests(options.requests)
    link, returnSocket = makeHandler(options.app)
    deliver = link.controlReceived
    warmUp = messages[:2000]
    for message in warmUp:
        deliver(message)
    if link.stats["requests"] != len(warmUp) or returnSocket.sent < len(warmUp):
        raise SystemExit(
            f"handlerpath: {returnSocket.sent} replies to {len(warmUp)} requests"
        )

    def run() -> None:
        for message in messages:
            deliver(message)

    sent = returnSocket.sent
    timePythonPath(
        f"handler Python per request, {options.app}", run, len(messages),
        options.runs, options.profile,
    )
    runs = 1 if options.profile else options.runs
    if returnSocket.sent - sent < runs * len(messages):
        raise SystemExit(
            f"handlerpath: {returnSocket.sent - sent} replies to {runs} runs of "
            f"{len(messages)} requests"
        )
    link.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
