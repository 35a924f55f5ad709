"""
What a large body returned whole, and a large upload read whole, cost a
front and a handler in memory: their peak RSS (C{VmHWM}) and RSS
(C{VmRSS}) after each, in the same run for txmp as it is and for each
C{--variant} (the same pair with module constants set, to undo a change).

    python benchmarks/bodymemory.py [--size BYTES] [--front-python PATH]
        [--handler-python PATH] [--variant LABEL:MODULE.NAME=VALUE[,...]]...

Starts, on 127.0.0.1 and ipc:// addresses only, one front and one handler
(default threads) of C{bigapp:app} per target, then for each: a small
request (the baseline), C{--size} bytes (200 MiB by default) uploaded
C{--rounds} times with a C{Content-Length} and read whole by the
application (C{wsgi.input.read()}), then downloaded as many times as one
C{bytes} the application returns (C{&whole=1}).  Prints each process's peak and RSS
after each step, in MiB, and growth of the peak over the baseline.  Memory
only: for times, C{bigbody.py --whole}.  Every process started is stopped
by its PID at the end.
"""

from __future__ import annotations

import argparse
import socket
import sys
from functools import partial

from _harness import (
    BenchmarkError,
    Servers,
    argumentParser,
    describeInterpreters,
    runBenchmark,
    startFront,
    startHandler,
)
from bigbody import MiB, download, parseSizes, parseVariant, peakRss

BLOCK = b"u" * MiB


def residentRss(pid: int) -> int:
    """
    The resident set size of a process now (C{VmRSS}), in bytes.
    """
    with open("/proc/%d/status" % (pid,)) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchmarkError("no VmRSS for pid %d" % (pid,))


def upload(port: int, size: int) -> None:
    """
    POST C{size} bytes to 127.0.0.1:C{port} on a new connection, and check
    that the application read them all.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
        connection.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (port, size)
        )
        left = size
        while left:
            piece = BLOCK[:min(left, len(BLOCK))]
            connection.sendall(piece)
            left -= len(piece)
        answer = b""
        while True:
            data = connection.recv(65536)
            if not data:
                break
            answer += data
    if not answer.startswith(b"HTTP/1.1 200") or not answer.endswith(b"\n%d\n" % (size,)):
        raise BenchmarkError("port %d answered the upload with %r" % (port, answer[:200]))


def parseArguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argumentParser(
        "Peak memory of a front and a handler for large whole bodies.",
        "mpfront", rounds=3, roundsHelp="uploads, then downloads, per target",
        duration=False,
    )
    parser.add_argument("--size", type=parseSizes, default=[200 * MiB], metavar="BYTES",
                        help="body size, e.g. 200M (default 200 MiB)")
    parser.add_argument(
        "--variant", type=parseVariant, action="append", default=[],
        metavar="LABEL:MODULE.NAME=VALUE[,MODULE.NAME=VALUE...]",
        help="also measure a pair whose front and handler set these constants "
        "first (see bigbody.py); may be repeated",
    )
    args = parser.parse_args(argv)
    args.size = args.size[0]
    return args


def run(args: argparse.Namespace) -> int:
    frontName, handlerName = describeInterpreters(args)
    print("front %s, handler %s; body %d MiB, %d upload(s) then %d download(s)"
          % (frontName, handlerName, args.size // MiB, args.rounds, args.rounds))
    with Servers() as servers:
        for n, (label, patches) in enumerate([("txmp", []), *args.variant]):
            send, ret = servers.ipc("%d-send" % (n,)), servers.ipc("%d-return" % (n,))
            front, port = startFront(servers, args.front_python, send, ret, patches=patches)
            handler = startHandler(
                servers, front, args.handler_python, "bigapp:app", send, ret, "h1",
                patches=patches,
            )
            processes = {"front": front.pid, "handler": handler.pid}
            download(port, 65536)
            baseline = {name: peakRss(pid) for name, pid in processes.items()}
            # The upload first: the download's peak would hide its.
            steps = [("upload", partial(upload, port, args.size)),
                     ("download", partial(download, port, args.size, whole=True))]
            for step, act in steps:
                for _ in range(args.rounds):
                    act()
                print("%-12s after %-8s %s" % (label, step, "; ".join(
                    "%s peak %.0f (+%.0f) RSS %.0f MiB" % (
                        name, peakRss(pid) / MiB, (peakRss(pid) - baseline[name]) / MiB,
                        residentRss(pid) / MiB,
                    )
                    for name, pid in processes.items()
                )), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parseArguments(argv)
    return runBenchmark(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
