"""
What a message costs to send, receive and decode, plain (one ZeroMQ frame
per protocol frame, C{TXMP1} as first written) and packed (L{protocol.pack}:
the leading frames in one), for the two messages of a hello-world request:
its C{REQ} and its C{RESP}.

    python benchmarks/packing.py [--messages N] [--runs R]

One process, a DEALER and a ROUTER on an C{ipc://} address in a temporary
directory, as a handler and its front are joined.  Each run sends N
messages (20,000) of one kind in batches of 100, the sender's way
(packed by L{protocol.pack} for each message, when packed, and sent by
C{txmp._zmq._sendMultipart}), and receives and decodes each the
receiver's way (C{recv_multipart}, L{protocol.decode}); it prints the
median and best of R runs (5) in µs per message, the runs of plain and
packed interleaved,, of this thread's CPU
time (C{time.thread_time}: ZeroMQ's I/O thread is not counted), and
packed ÷ plain.  The machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import zmq

from txmp import protocol
from txmp._zmq import _sendMultipart
from txmp.testing import requestMeta

BATCH = 100

REQUEST = protocol.encodeRequest(
    b"front1.1", requestMeta(target=b"/"), [(b"Host", b"127.0.0.1:8080")]
)
RESPONSE = protocol.encodeResponse(
    b"front1.1", 200, b"OK",
    [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Content-Length", b"13")],
    [b"Hello, world!"], credit=True,
)


def run(sender: zmq.Socket[bytes], receiver: zmq.Socket[bytes],
        frames: list[bytes], packed: bool, messages: int) -> float:
    """
    µs of this thread's CPU per message packed (if C{packed}, as the
    sender packs each message it sends), sent, received and decoded.
    """
    pack = protocol.pack
    started = time.thread_time()
    for _ in range(messages // BATCH):
        for _ in range(BATCH):
            _sendMultipart(sender, pack(frames) if packed else frames)
        for _ in range(BATCH):
            protocol.decode(receiver.recv_multipart()[1:])
    return (time.thread_time() - started) / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="txmp-packing-")
    address = "ipc://" + os.path.join(directory, "p")
    context = zmq.Context()
    receiver = context.socket(zmq.ROUTER)
    receiver.bind(address)
    sender = context.socket(zmq.DEALER)
    sender.connect(address)
    try:
        print("µs of CPU per message sent, received and decoded (median, best of %d runs "
              "of %d)" % (args.runs, args.messages))
        for name, frames in [("REQ (GET /)", REQUEST), ("RESP (hello)", RESPONSE)]:
            times: dict[bool, list[float]] = {False: [], True: []}
            for packed in times:
                run(sender, receiver, frames, packed, args.messages // 10)  # warm-up
            # Interleaved, each round starting with the other kind, so that
            # a slow patch of a shared machine falls on both alike.
            for n in range(args.runs):
                for packed in ((False, True) if n % 2 else (True, False)):
                    times[packed].append(run(sender, receiver, frames, packed, args.messages))
            figures = {packed: statistics.median(found) for packed, found in times.items()}
            for packed in times:
                print("  %-13s %-6s %d ZeroMQ frames: %6.2f µs, best %6.2f" % (
                    name, "packed" if packed else "plain",
                    len(protocol.pack(frames) if packed else frames),
                    figures[packed], min(times[packed])))
            print("  %-13s packed / plain: %.2f" % (name, figures[True] / figures[False]))
    finally:
        sender.close(linger=0)
        receiver.close(linger=0)
        context.term()
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
