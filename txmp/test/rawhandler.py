# -*- test-case-name: txmp.test.test_integration -*-
"""
A minimal txmp handler written from docs/protocol.md alone, with raw pyzmq
and no txmp imports: the proof that the spec is enough to write a handler in
another language.

Usage: python rawhandler.py SEND_ADDRESS RETURN_ADDRESS

It answers every request with 200 and a text body echoing the method, the
target, the header count and the request body length, one request at a time
(one credit).  It prints "raw handler ready" once it has sent HELLO, and
exits on SIGTERM.
"""
from __future__ import annotations

import os
import sys

import zmq

VERSION = b"TXMP1"


def pairs(frame):
    if not frame:
        return []
    fields = frame.split(b"\0")
    return list(zip(fields[0::2], fields[1::2]))


def encodePairs(items):
    return b"\0".join(field for pair in items for field in pair)


def echo(requestId, meta, headers, body):
    """
    This handler's answer: 200 and a text body echoing the method, the
    target, the header count and the request body length.

    @return: the messages answering the request, each as its type and the
        frames after the request id.
    """
    text = b"%s %s headers=%d body=%d\n" % (
        meta[b"method"],
        meta[b"target"],
        len(headers),
        len(body),
    )
    responseMeta = encodePairs([(b"status", b"200"), (b"reason", b"OK"), (b"more", b"0")])
    responseHeaders = encodePairs(
        [
            (b"Content-Type", b"text/plain"),
            (b"Content-Length", b"%d" % (len(text),)),
            (b"X-Handler", b"raw"),
        ]
    )
    return [(b"RESP", [responseMeta, responseHeaders, text])]


def connect(sendAddress, returnAddress):
    """
    A handler's two DEALER sockets, connected to a front's send and return
    addresses, with one routing id (docs/protocol.md, 2.1).

    @return: the send socket and the return socket.
    """
    context = zmq.Context()
    routingId = os.urandom(16).hex().encode("ascii")
    send = context.socket(zmq.DEALER)
    ret = context.socket(zmq.DEALER)
    for sock, address in ((send, sendAddress), (ret, returnAddress)):
        sock.setsockopt(zmq.ROUTING_ID, routingId)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.LINGER, 0)
        # A connection a network cut left open is found dead, and made
        # again (section 2.3).
        sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 10000)
        sock.setsockopt(zmq.CONNECT_TIMEOUT, 2000)
        sock.connect(address)
    return send, ret


def main(sendAddress, returnAddress, answer=echo, name=b"raw"):
    """
    Register with the front at C{sendAddress} and C{returnAddress} and
    answer each request with C{answer(requestId, meta, headers, body)}.
    """
    send, ret = connect(sendAddress, returnAddress)
    hello = [VERSION, b"HELLO", encodePairs([(b"name", name), (b"credits", b"1")])]
    send.send_multipart(hello)
    print("%s handler ready" % (name.decode("ascii"),), flush=True)
    while True:
        frames = send.recv_multipart()
        if len(frames) < 2 or frames[0] != VERSION:
            continue
        kind = frames[1]
        if kind == b"PING":
            send.send_multipart([VERSION, b"PING"])
        elif kind == b"BYE":
            send.send_multipart(hello)
        elif kind == b"REQ":
            requestId = frames[2]
            meta = dict(pairs(frames[3]))
            headers = pairs(frames[4])
            body = b"".join(frames[5:])
            if meta[b"more"] == b"1":
                # The rest of the body follows in BODY messages, then END.
                # (No "window" in our HELLO: the front sends it unthrottled.)
                while True:
                    more = send.recv_multipart()
                    if more[1] in (b"BODY", b"END") and more[2] == requestId:
                        body += b"".join(more[3:])
                        if more[1] == b"END":
                            break
                    elif more[1] == b"PING":
                        send.send_multipart([VERSION, b"PING"])
            for messageType, rest in answer(requestId, meta, headers, body):
                ret.send_multipart([VERSION, messageType, requestId, *rest])
            send.send_multipart([VERSION, b"CREDIT", b"1"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
