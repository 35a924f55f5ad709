"""
What decoding one C{RESP} costs the front (C{txmp.protocol.decode}), as a
hello world handler sends it (packed; 200 OK, two header fields, C{credit}),
three ways (docs/benchmarks.md, "Response heads decoded once"): the same
meta and headers frames every time (an application that repeats its
head); the same meta with a C{Content-Length} that differs every time (of
5,000 in turn: the headers frame is read anew, the meta is remembered);
and both frames new every time (a reason phrase and a length of 5,000 in
turn).  Microseconds a message, best of five runs.  Runs the C{txmp} that
C{PYTHONPATH} names first, to compare two checkouts:

    .venv/bin/python benchmarks/respdecode.py [--messages N]
    PYTHONPATH=/work/wt-before .venv/bin/python benchmarks/respdecode.py
"""

from __future__ import annotations

import argparse
import time
from itertools import cycle

from txmp import protocol

HEADERS = [(b"Content-Type", b"text/plain"), (b"Content-Length", b"13")]
VARIANTS = 5000


def response(reason: bytes, length: int) -> list[bytes]:
    frames = protocol.encodeResponse(
        b"front1.1",
        200,
        reason,
        [(b"Content-Type", b"application/json"), (b"Content-Length", b"%d" % length)],
        [b"x"],
        False,
        True,
    )
    return protocol.pack(frames)


def best(messages: list[list[bytes]], count: int) -> float:
    decode = protocol.decode
    times = []
    for _ in range(5):
        each = cycle(messages)
        start = time.perf_counter()
        for _ in range(count):
            decode(next(each))
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=50_000)
    count = parser.parse_args().messages
    same = protocol.pack(
        protocol.encodeResponse(
            b"front1.1", 200, b"OK", HEADERS, [b"Hello, world!"], False, True
        )
    )
    lengths = [response(b"OK", 100 + n) for n in range(VARIANTS)]
    both = [response(b"OK %d" % n, 100 + n) for n in range(VARIANTS)]
    print(
        f"RESP decoded ({protocol.__file__}): "
        f"same head {best([same], count):.2f} us, "
        f"new Content-Length {best(lengths, count):.2f} us, "
        f"both frames new {best(both, count):.2f} us"
    )


if __name__ == "__main__":
    main()
