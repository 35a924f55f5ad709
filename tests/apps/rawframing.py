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

It prints "raw framing handler ready" once it has sent HELLO, takes one
request at a time, and exits on SIGTERM.
"""

import os
import sys

import zmq

VERSION = b"TXMP1"
LONG = b"hello, and a forged response: HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
SHORT = b"hello"
OK = b"ok\n"


def pairs(frame):
    if not frame:
        return []
    fields = frame.split(b"\0")
    return list(zip(fields[0::2], fields[1::2]))


def encodePairs(items):
    return b"\0".join(field for pair in items for field in pair)


def head(status, headers, more):
    meta = encodePairs([(b"status", status), (b"reason", b"X"), (b"more", more)])
    return [meta, encodePairs(headers)]


def reply(target):
    """
    The messages (each a list of frames after the request id) answering
    C{target}.
    """
    length5 = [(b"Content-Length", b"5")]
    length50 = [(b"Content-Length", b"50")]
    if target == b"/long":
        return [(b"RESP", head(b"200", length5, b"0") + [LONG])]
    if target == b"/long-stream":
        return [
            (b"RESP", head(b"200", length5, b"1") + [LONG[:3]]),
            (b"BODY", [LONG[3:20]]),
            (b"BODY", [LONG[20:]]),
            (b"END", []),
        ]
    if target == b"/short":
        return [(b"RESP", head(b"200", length50, b"0") + [SHORT])]
    if target == b"/short-stream":
        return [(b"RESP", head(b"200", length50, b"1") + [SHORT]), (b"END", [])]
    if target == b"/duplicate":
        return [(b"RESP", head(b"200", length5 + length50, b"0") + [SHORT])]
    if target == b"/interim":
        return [(b"RESP", head(b"100", [], b"0"))]
    if target == b"/control":
        return [(b"RESP", head(b"200", length5 + [(b"X-A", b"a\x01b")], b"0") + [SHORT])]
    return [(b"RESP", head(b"200", [(b"Content-Length", b"%d" % len(OK))], b"0") + [OK])]


def main(sendAddress, returnAddress):
    context = zmq.Context()
    routingId = os.urandom(16).hex().encode("ascii")
    send = context.socket(zmq.DEALER)
    ret = context.socket(zmq.DEALER)
    for sock, address in ((send, sendAddress), (ret, returnAddress)):
        sock.setsockopt(zmq.ROUTING_ID, routingId)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(address)
    hello = [VERSION, b"HELLO", encodePairs([(b"name", b"rawframing"), (b"credits", b"1")])]
    send.send_multipart(hello)
    print("raw framing handler ready", flush=True)
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
            target = dict(pairs(frames[3]))[b"target"]
            for messageType, rest in reply(target):
                ret.send_multipart([VERSION, messageType, requestId, *rest])
            send.send_multipart([VERSION, b"CREDIT", b"1"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
