"""
The bare front/handler split that issue 12 cites ("a throwaway prototype of
the same split ... served 0.80x raw Twisted Web"), rebuilt so that it runs
in the same run as txmp and its figures can be compared with txmp's.

    python benchmarks/split.py front --send ADDR --return ADDR [--port N]
    python benchmarks/split.py handler --send ADDR --return ADDR --app MOD:APP

The front is a Twisted Web leaf resource that sends every request as one
ZeroMQ message on a PUSH socket and finishes it when the reply comes back
on a PULL socket, whose descriptor the reactor watches (pyzmq directly, no
txzmq).  The handler is one thread of plain pyzmq: it receives a request,
calls the WSGI application inline, and sends the reply.  Nothing else:
no credits (PUSH queues every request in the one handler), no heartbeats,
no timeouts, no retries, no streaming, no thread pool, and an environ with
only what C{benchapps.hello} reads.  It is the floor of the split's cost,
not a server: C{throughput.py --only split} measures it.

Prints C{split front ready: port N} and C{split handler ready} once ready.
Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from typing import Any

import zmq


def serveFront(send: str, ret: str, port: int) -> None:
    # Here, not at the top: importing the reactor installs it, and the
    # handler runs none.
    from twisted.internet import reactor
    from twisted.web.resource import Resource
    from twisted.web.server import NOT_DONE_YET, Site

    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.bind(send)
    pull = context.socket(zmq.PULL)
    pull.bind(ret)
    pending: dict[bytes, Any] = {}
    counter = [0]
    EVENTS, POLLIN = zmq.EVENTS, zmq.POLLIN

    class Replies:
        """
        The PULL socket's descriptor, as the reactor watches it: read every
        reply there is whenever it is readable.
        """

        def fileno(self) -> int:
            return pull.getsockopt(zmq.FD)

        def logPrefix(self) -> str:
            return "split"

        def connectionLost(self, reason: object) -> None:
            pass

        def doRead(self) -> None:
            while pull.getsockopt(EVENTS) & POLLIN:
                try:
                    frames = pull.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    return
                request = pending.pop(frames[0], None)
                if request is None or request.finished or request._disconnected:
                    continue
                status, headers, body = frames[1], frames[2], frames[3]
                request.setResponseCode(int(status[:3]), status[4:])
                for line in headers.split(b"\n"):
                    name, _, value = line.partition(b": ")
                    request.responseHeaders.addRawHeader(name, value)
                request.write(body)
                request.finish()

    replies = Replies()
    reading = [False]

    def readSoon() -> None:
        # A send may consume the edge ZeroMQ signals for replies that came
        # meanwhile: look once more on the next turn, as txzmq does.
        if not reading[0]:
            reading[0] = True
            reactor.callLater(0, readNow)

    def readNow() -> None:
        reading[0] = False
        replies.doRead()

    class Forward(Resource):
        isLeaf = True

        def render(self, request: Any) -> Any:
            counter[0] += 1
            key = b"%d" % (counter[0],)
            pending[key] = request
            headers = b"\n".join(
                name + b": " + value
                for name, values in request.requestHeaders.getAllRawHeaders()
                for value in values
            )
            push.send_multipart([key, request.method, request.uri, headers])
            readSoon()
            return NOT_DONE_YET

    class QuietSite(Site):
        def log(self, request: Any) -> None:
            pass

    reactor.addReader(replies)
    listening = reactor.listenTCP(port, QuietSite(Forward()), interface="127.0.0.1")
    print("split front ready: port %d" % (listening.getHost().port,), flush=True)
    reactor.run()


def serveHandler(send: str, ret: str, app: str) -> None:
    module, _, name = app.partition(":")
    application = getattr(importlib.import_module(module), name)
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.connect(send)
    push = context.socket(zmq.PUSH)
    push.connect(ret)
    started: list[Any] = []

    def startResponse(status: str, headers: list, excInfo: Any = None) -> None:
        started[:] = [status, headers]

    print("split handler ready", flush=True)
    while True:
        key, method, uri, _headers = pull.recv_multipart()
        path, _, query = uri.partition(b"?")
        environ = {
            "REQUEST_METHOD": method.decode("latin-1"),
            "PATH_INFO": path.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
        }
        body = b"".join(application(environ, startResponse))
        status, headers = started
        push.send_multipart([
            key,
            status.encode("latin-1"),
            "\n".join("%s: %s" % pair for pair in headers).encode("latin-1"),
            body,
        ])


def main() -> None:
    parser = argparse.ArgumentParser(description="The bare front/handler split.")
    parser.add_argument("role", choices=["front", "handler"])
    parser.add_argument("--send", required=True)
    parser.add_argument("--return", dest="ret", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app", default="benchapps:hello")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    if args.role == "front":
        serveFront(args.send, args.ret, args.port)
    else:
        serveHandler(args.send, args.ret, args.app)


if __name__ == "__main__":
    main()
