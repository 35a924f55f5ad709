"""
What reading one two-frame ZeroMQ message costs in pyzmq, each way txmp
could read it (docs/benchmarks.md, "A message's frames without
getsockopt(RCVMORE)"): C{recv_multipart}; C{recv(copy=False)} frame by frame
until a frame's C{more} is false (what C{txmp._zmq._receive} does on
pyzmq's Cython backend); and the C{getsockopt(EVENTS)} that precedes each
read, with the C{SocketOption} enum call pyzmq 27 makes of its option.
Over C{inproc://}, without I/O threads; µs per operation, best of five.

    .venv/bin/python benchmarks/zmqrecv.py [--messages N]
"""

from __future__ import annotations

import argparse

import zmq
from _harness import bestOfFive

MESSAGE = [b"peer-id-xx", b"x" * 200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=50_000)
    count = parser.parse_args().messages
    context = zmq.Context()
    sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    for sock in (sender, receiver):
        sock.set_hwm(0)
    sender.bind("inproc://zmqrecv")
    receiver.connect("inproc://zmqrecv")

    def fill() -> None:
        for _ in range(count):
            sender.send_multipart(MESSAGE)

    def multipart() -> None:
        for _ in range(count):
            receiver.recv_multipart(zmq.NOBLOCK)

    def byMore() -> None:
        for _ in range(count):
            while True:
                frame = receiver.recv(zmq.NOBLOCK, copy=False)
                frame.bytes  # noqa: B018 (the copy _receive makes of a small frame)
                if not frame.more:
                    break

    def events() -> None:
        for _ in range(count):
            receiver.getsockopt(zmq.EVENTS)

    def enum() -> None:
        for _ in range(count):
            zmq.SocketOption(15)

    print(f"pyzmq {zmq.__version__}, {zmq.backend.Socket.__module__}")
    print(f"recv_multipart              {bestOfFive(multipart, count, fill):.2f} us")
    print(f"recv(copy=False) by .more   {bestOfFive(byMore, count, fill):.2f} us")
    print(f"getsockopt(EVENTS)          {bestOfFive(events, count):.2f} us")
    print(f"zmq.SocketOption(15)        {bestOfFive(enum, count):.2f} us")
    sender.close(0)
    receiver.close(0)
    context.term()


if __name__ == "__main__":
    main()
