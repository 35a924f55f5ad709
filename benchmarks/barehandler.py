"""
The least a handler speaking txmp's protocol can cost: plain pyzmq and
threads, no Twisted, no txmp, for C{throughput.py}'s C{txmp-bare} (txmp's
own front with this handler in place of C{mphandler}), to measure how far
txmp's front could go with a handler as cheap as the bare split's
(C{split.py --shape handoff}).  Not a server: it answers every request with
what the application returns, through an environ of five keys, as
C{split.py}'s handler does, and reads no streamed body, no C{CANCEL}, no
C{WINDOW}.

What it does of docs/protocol.md: C{HELLO} with C{packed=1 batch=1} and
the credits and prefetch of C{mphandler}'s defaults (4 threads, 28
prefetched); C{REQ}s, packed, alone or in a C{BATCH}, handed from the
receiving thread to four threads by a C{queue.SimpleQueue}, as txmp's
handler hands them to its pool; each complete C{RESP}, packed into one
frame, with C{credit=1}, sent by the thread that made it on the one return
socket, under a lock; C{PING} answered with C{PING}; C{BYE} answered with
C{HELLO}.

What it takes for granted, true of txmp's front and not of every front:
the C{WELCOME} says C{packed=1} and C{credit_in_reply=1} (it is not
read); and the front sends C{PING} at every heartbeat whatever else it
sent (C{txmp._registry.HandlerRegistry._heartbeatTick}), so that
answering each keeps this handler alive, idle or not, without the
C{PING}s of its own at every interval that docs/protocol.md section 6
asks of a handler.

What it does less than txmp's handler, beyond the environ: it never
combines replies into a C{BATCH} (each thread sends its own, waiting for
the lock, as txmp's handler did before "Replies combined" in
docs/benchmarks.md, which took 6% off the front's CPU a request there),
so the front reads one message a reply; it calls no C{close()} of the
application's iterable (nor does C{split.py}'s handler); an application
that raises ends its thread, and that request waits for the front's
timeout, its credit never given back; and its C{HELLO} after a C{BYE}
offers every slot, busy or not.

    python barehandler.py --send ADDRESS --return ADDRESS [--app benchapps:hello]

Prints C{bare handler ready} once it has sent C{HELLO}; exits on SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import os
import queue
import signal
import struct
import threading
from typing import Any

from txmp.test.rawhandler import connect

VERSION = b"TXMP1"
_LENGTH = struct.Struct("!I")
THREADS = 4
PREFETCH = 28


def unpack(frame: bytes) -> list[bytes]:
    """
    The frames of a packed message, the version first (docs/protocol.md,
    3.1).
    """
    frames = [VERSION]
    position, end = len(VERSION), len(frame)
    while position < end:
        (length,) = _LENGTH.unpack_from(frame, position)
        position += 4
        frames.append(frame[position:position + length])
        position += length
    return frames


def pack(frames: list[bytes]) -> bytes:
    """
    C{frames} (the version first) packed into one frame.
    """
    parts = [VERSION]
    for frame in frames[1:]:
        parts.append(_LENGTH.pack(len(frame)))
        parts.append(frame)
    return b"".join(parts)


def answerer(application: Any) -> Any:
    """
    A function of one thread's: a C{REQ}'s id, meta and headers frames to
    the packed C{RESP} of C{application}'s answer.
    """
    started: list[Any] = []

    def startResponse(status: str, headers: list, excInfo: Any = None) -> None:
        started[:] = [status, headers]

    def answer(requestId: bytes, meta: bytes, headers: bytes) -> bytes:
        fields = meta.split(b"\0")
        attributes = dict(zip(fields[0::2], fields[1::2]))
        path, _, query = attributes[b"target"].partition(b"?")
        environ = {
            "REQUEST_METHOD": attributes[b"method"].decode("latin-1"),
            "PATH_INFO": path.decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_PROTOCOL": attributes[b"version"].decode("latin-1"),
            "wsgi.url_scheme": attributes[b"scheme"].decode("latin-1"),
        }
        body = b"".join(application(environ, startResponse))
        status, pairs = started
        code, _, reason = status.partition(" ")
        return pack([
            VERSION, b"RESP", requestId,
            b"status\0%s\0reason\0%s\0more\x000\0credit\x001" % (
                code.encode("latin-1"), reason.encode("latin-1")),
            b"\0".join(part.encode("latin-1") for pair in pairs for part in pair),
            body,
        ])

    return answer


def serve(send: str, ret: str, app: str) -> None:
    module, _, name = app.partition(":")
    application = getattr(importlib.import_module(module), name)
    # The sockets of txmp/test/rawhandler.py, the handler written from
    # docs/protocol.md alone: the same two DEALERs with one routing id.
    sendSocket, returnSocket = connect(send, ret)
    returnLock = threading.Lock()
    work: queue.SimpleQueue[tuple[bytes, bytes, bytes]] = queue.SimpleQueue()

    def worker() -> None:
        answer = answerer(application)
        get = work.get
        while True:
            reply = answer(*get())
            with returnLock:
                returnSocket.send(reply)

    for _ in range(THREADS):
        threading.Thread(target=worker, daemon=True).start()
    meta = b"name\0bare:%d\0credits\0%d\0prefetch\0%d\0packed\x001\0batch\x001" % (
        os.getpid(), THREADS + PREFETCH, PREFETCH)
    hello = [VERSION, b"HELLO", meta]
    sendSocket.send_multipart(hello)
    print("bare handler ready", flush=True)
    put = work.put
    while True:
        frames = sendSocket.recv_multipart()
        # A first frame longer than the version is a packed message, whose
        # own frames after it may be anything (a body frame b"BATCH" too).
        if len(frames[0]) > len(VERSION):
            messages = [unpack(frames[0]) + frames[1:]]
        elif frames[1] == b"BATCH":
            messages = [unpack(frame) for frame in frames[2:]]
        else:
            messages = [frames]
        for message in messages:
            kind = message[1]
            if kind == b"REQ":
                put((message[2], message[3], message[4]))
            elif kind == b"PING":
                sendSocket.send_multipart([VERSION, b"PING"])
            elif kind == b"BYE":
                sendSocket.send_multipart(hello)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--send", required=True)
    parser.add_argument("--return", dest="ret", required=True)
    parser.add_argument("--app", default="benchapps:hello")
    args = parser.parse_args()
    # os._exit: the threads wait in ZeroMQ calls and the queue, which
    # sys.exit would wait for.
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    serve(args.send, args.ret, args.app)


if __name__ == "__main__":
    main()
