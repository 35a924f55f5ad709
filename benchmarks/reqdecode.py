"""
What decoding one C{REQ} costs a handler's reactor thread
(C{txmp.protocol.decode}), as a front sends it to a handler that takes packed
messages: made by the front's own L{Dispatcher} from a keep-alive GET with
wrk's head (2 fields) or a browser's (11 fields), as C{frontpath.py} makes
them.  Microseconds a message, best of five runs.  Runs the C{txmp} that
C{PYTHONPATH} names first, to compare two checkouts:

    .venv/bin/python benchmarks/reqdecode.py [--messages N]
    PYTHONPATH=/work/wt-before .venv/bin/python benchmarks/reqdecode.py
"""

from __future__ import annotations

import argparse

from _harness import bestOfFive
from frontpath import HEADS, Router, frontConnection

from txmp import protocol


def request(head: bytes) -> list[bytes]:
    """
    The frames of the C{REQ} a front sends a packed handler for C{head}
    (without the routing id).
    """
    router = Router()
    _dispatcher, connection, _transport = frontConnection(router, packed=True)
    connection.dataReceived(head)
    return list(router.last[1:])


def best(frames: list[bytes], count: int) -> float:
    """
    The best of five runs of C{count} decodings of C{frames}, in µs a
    message.
    """
    decode = protocol.decode

    def run() -> None:
        for _ in range(count):
            decode(frames)

    return bestOfFive(run, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=50_000)
    count = parser.parse_args().messages
    figures = ", ".join(
        f"{name}'s head {best(request(head), count):.2f} us"
        for name, head in sorted(HEADS.items())
    )
    print(f"REQ decoded ({protocol.__file__}): {figures}")


if __name__ == "__main__":
    main()
