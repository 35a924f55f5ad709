"""
The bare front/handler split that issue 12 cites ("a throwaway prototype of
the same split ... served 0.80x raw Twisted Web"), rebuilt so that it runs
in the same run as txmp and its figures can be compared with txmp's.

    python benchmarks/split.py front --send ADDR --return ADDR [--port N] [--window N]
    python benchmarks/split.py handler --send ADDR --return ADDR --app MOD:APP
        [--shape inline|handoff|sockets] [--threads N]

The front is a Twisted Web leaf resource that sends every request as one
ZeroMQ message on a PUSH socket and finishes it when the reply comes back
on a PULL socket, whose descriptor the reactor watches (pyzmq directly, no
txzmq).  The handler is one thread of plain pyzmq: it receives a request,
calls the WSGI application inline, and sends the reply.  Nothing else:
no credits (PUSH queues every request in the one handler), no heartbeats,
no timeouts, no retries, no streaming, no thread pool, and an environ with
only what C{benchapps.hello} reads.  It is the floor of the split's cost,
not a server: C{throughput.py --only split} measures it.

Knobs, off by default, measure what txmp's design costs against it
(docs/benchmarks.md, "Prefetch"): the front's C{--window N} sends at most N
requests unanswered and holds the rest, as credits did; the handler's
C{--shape handoff} receives in one thread and hands each request to
C{--threads} threads through a queue, as txmp's handler does, and
C{--shape sockets} runs C{--threads} threads, each with sockets of its own.
The front's C{--batch N} measures several requests a message
(docs/benchmarks.md, "Several messages a send"): the requests of one
reactor turn go as one message, at most N (a handler takes a message's
frames four by four, whether it is one request or several).

Prints C{split front ready: port N} and C{split handler ready} once ready.
Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import queue
import signal
import threading
from typing import Any, Callable

import zmq


def serveFront(send: str, ret: str, port: int, window: int = 0, batch: int = 0) -> None:
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
    # --window: the requests sent and not answered, and those held.
    unanswered = [0]
    held: collections.deque[list[bytes]] = collections.deque()
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
                unanswered[0] -= 1
                if held:
                    unanswered[0] += 1
                    push.send_multipart(held.popleft())
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
    # --batch N: the requests of one reactor turn, sent together as one
    # message (its frames four by four), at most N of them: sent at the
    # end of the turn, or once there are N.
    batched: list[bytes] = []
    scheduled: list[Any] = [None]

    def sendBatch() -> None:
        message = batched[:]
        del batched[:]
        push.send_multipart(message)

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
            message = [key, request.method, request.uri, headers]
            if window and unanswered[0] >= window:
                held.append(message)
            elif batch:
                if not batched:
                    scheduled[0] = reactor.callLater(0, sendBatch)
                batched.extend(message)
                if len(batched) >= 4 * batch:
                    scheduled[0].cancel()
                    sendBatch()
            else:
                unanswered[0] += 1
                push.send_multipart(message)
            readSoon()
            return NOT_DONE_YET

    class QuietSite(Site):
        def log(self, request: Any) -> None:
            pass

    reactor.addReader(replies)
    listening = reactor.listenTCP(port, QuietSite(Forward()), interface="127.0.0.1")
    print("split front ready: port %d" % (listening.getHost().port,), flush=True)
    reactor.run()


def serveHandler(
    send: str, ret: str, app: str, shape: str = "inline", threads: int = 1
) -> None:
    module, _, name = app.partition(":")
    application = getattr(importlib.import_module(module), name)
    context = zmq.Context()

    def socket(kind: int, address: str) -> Any:
        made = context.socket(kind)
        made.connect(address)
        return made

    if shape == "inline":
        pull, push = socket(zmq.PULL, send), socket(zmq.PUSH, ret)
        answer = answerer(application)
        print("split handler ready", flush=True)
        while True:
            frames = pull.recv_multipart()
            for start in range(0, len(frames), 4):
                push.send_multipart(answer(frames[start:start + 4]))
    work: queue.SimpleQueue[list[bytes]] = queue.SimpleQueue()

    def serve() -> None:
        answer = answerer(application)
        if shape == "sockets":
            pull, push = socket(zmq.PULL, send), socket(zmq.PUSH, ret)
            while True:
                frames = pull.recv_multipart()
                for start in range(0, len(frames), 4):
                    push.send_multipart(answer(frames[start:start + 4]))
        push = socket(zmq.PUSH, ret)
        while True:
            push.send_multipart(answer(work.get()))

    for _ in range(threads):
        threading.Thread(target=serve, daemon=True).start()
    print("split handler ready", flush=True)
    if shape == "sockets":
        threading.Event().wait()
    pull = socket(zmq.PULL, send)
    while True:
        frames = pull.recv_multipart()
        for start in range(0, len(frames), 4):
            work.put(frames[start:start + 4])


def answerer(application: Any) -> Callable[[list[bytes]], list[bytes]]:
    """
    A function of one thread's: the frames of a request to the frames of
    the reply of C{application}.
    """
    started: list[Any] = []

    def startResponse(status: str, headers: list, excInfo: Any = None) -> None:
        started[:] = [status, headers]

    def answer(frames: list[bytes]) -> list[bytes]:
        key, method, uri, _headers = frames
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
        return [
            key,
            status.encode("latin-1"),
            "\n".join("%s: %s" % pair for pair in headers).encode("latin-1"),
            body,
        ]

    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description="The bare front/handler split.")
    parser.add_argument("role", choices=["front", "handler"])
    parser.add_argument("--send", required=True)
    parser.add_argument("--return", dest="ret", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app", default="benchapps:hello")
    parser.add_argument("--window", type=int, default=0,
                        help="front: at most this many requests unanswered (0: no limit)")
    parser.add_argument("--batch", type=int, default=0,
                        help="front: send the requests of one reactor turn, at most N, "
                        "as one message")
    parser.add_argument("--shape", choices=["inline", "handoff", "sockets"], default="inline",
                        help="handler: one thread; a receiving thread handing off to "
                        "--threads threads; --threads threads with sockets of their own")
    parser.add_argument("--threads", type=int, default=4,
                        help="handler: threads of --shape handoff or sockets")
    args = parser.parse_args()
    # os._exit: the threads of --shape wait in ZeroMQ calls, which
    # sys.exit would wait for.
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    if args.window and args.batch:
        parser.error("--window and --batch do not go together")
    if args.role == "front":
        serveFront(args.send, args.ret, args.port, args.window, args.batch)
    else:
        serveHandler(args.send, args.ret, args.app, args.shape, args.threads)


if __name__ == "__main__":
    main()
