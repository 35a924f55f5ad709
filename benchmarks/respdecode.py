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

With C{--memory}, no timing: what the remembered heads hold when full
(C{DECODED_FRAMES} of each kind, as C{tracemalloc} counts it, keys
included; CPython only: PyPy has no C{tracemalloc}), for the hello world
heads above with as many lengths, and for frames of C{DECODED_FRAME} bytes
built to cost the most (distinct two-byte names with empty values:
unknown meta attributes of Latin-1 letters, header fields of ASCII ones);
then what a handler's caches hold full: C{encodeResponse}'s meta frames
with reasons of C{DECODED_FRAME} bytes, and C{start_response}'s parsed
statuses of C{_CACHED_FIELD} characters.
"""

from __future__ import annotations

import argparse
import platform
from itertools import cycle, product
from typing import Callable

from _harness import bestOfFive

from txmp import _defaults, _wsgi, protocol

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
    """
    The best of five runs of C{count} decodings of C{messages} in turn, in
    µs a message.
    """
    decode = protocol.decode
    each = cycle(messages)

    def run() -> None:
        for _ in range(count):
            decode(next(each))

    return bestOfFive(run, count)


def costly(n: int, names: bytes, base: bytes) -> bytes:
    """
    A pair list of C{DECODED_FRAME} bytes at most, C{base} and C{n}, then
    as many pairs as fit of two bytes from C{names} and an empty value.
    """
    frame = base + b"%d" % n
    for a, b in product(names, repeat=2):
        if len(frame) + 4 > _defaults.DECODED_FRAME:
            break
        frame += b"\0" + bytes([a, b]) + b"\0"
    return frame


def forget() -> None:
    """
    Empty every per-message cache of C{txmp.protocol} and C{txmp._wsgi}.
    """
    protocol._responseMetas.clear()
    protocol._responseFields.clear()
    protocol._responseMetaFrames.clear()
    _wsgi._parsedStatus.cache_clear()


def held(fill: Callable[[], object]) -> float:
    """
    KiB that the caches hold once C{fill} ran, with nothing cached before.
    """
    # (Here: PyPy has no tracemalloc, and the timings run there too.)
    import tracemalloc

    forget()
    tracemalloc.start()
    fill()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    forget()
    return size / 1024


def decodeAll(messages: list[list[bytes]]) -> Callable[[], None]:
    def fill() -> None:
        for message in messages:
            protocol.decode(message)

    return fill


def memory() -> None:
    count = _defaults.DECODED_FRAMES
    hello = [response(b"OK", 100 + n) for n in range(count)]
    latin1 = bytes(range(0xC0, 0x100))
    letters = bytes(range(0x41, 0x5B)) + bytes(range(0x61, 0x7B))
    worst = [
        protocol.pack(
            [
                protocol.VERSION,
                protocol.RESP,
                b"front1.1",
                costly(n, latin1, b"status\x00200\x00reason\x00OK\x00more\x000\x00n\x00"),
                costly(n, letters, b"X\x00"),
            ]
        )
        for n in range(count)
    ]
    print(
        f"Remembered heads, {count} of each ({protocol.__file__}): "
        f"hello world {held(decodeAll(hello)):.0f} KiB, "
        f"frames built to cost the most {held(decodeAll(worst)) / 1024:.1f} MiB"
    )
    reason = b"r" * (_defaults.DECODED_FRAME - 3)

    def metaFrames() -> None:
        for n in range(count):
            protocol.encodeResponse(b"r.1", 200, reason + b"%03d" % n, [])

    statuses = _wsgi._parsedStatus.cache_info().maxsize or 0
    text = "r" * (_wsgi._CACHED_FIELD - 7)

    def parsed() -> None:
        for n in range(statuses):
            _wsgi._parsedStatus(f"200 {text}{n:03d}")

    print(
        f"A handler's, full: {count} meta frames with reasons of "
        f"{_defaults.DECODED_FRAME} bytes {held(metaFrames):.0f} KiB, "
        f"{statuses} statuses of {_wsgi._CACHED_FIELD} characters {held(parsed):.0f} KiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--memory", action="store_true")
    options = parser.parse_args()
    if options.memory:
        if platform.python_implementation() != "CPython":
            parser.error("--memory needs CPython's tracemalloc")
        memory()
        return
    count = options.messages
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
