"""
Downloading one large response through txmp against Twisted Web alone, in
the same run: wall time, and the peak memory of every server process.

    python benchmarks/bigbody.py [--front-python PATH] [--handler-python PATH]
        [--size BYTES] [--window BYTES[,BYTES...]]
        [--variant LABEL:MODULE.NAME=VALUE[,...]]... [--rounds R] [--warmup N]
        [--whole]

Starts, on 127.0.0.1 only, run by the front's interpreter unless said:

    - B{raw loop}: C{rawbig.py --mode loop}, a Twisted Web resource calling
      C{request.write} for every 64 KiB chunk and then C{request.finish},
      all at once: what a resource does naively (Twisted then buffers the
      whole body);
    - B{raw producer}: C{rawbig.py --mode producer}, the same chunks written
      by a push producer while the transport accepts them (memory bounded,
      as txmp's front does);
    - B{txmp}: for each C{--window} given (or once, with mpfront's default
      window), C{twistd mpfront --window W} and one C{twistd mphandler
      --app bigapp:app}, run by the handler's interpreter: a generator
      yielding the same 64 KiB chunks with a C{Content-Length}; joined by
      ipc:// addresses in a temporary directory;
    - B{txmp LABEL}: for each C{--variant LABEL:MODULE.NAME=VALUE,...}, the
      same pair (default window) with those module constants set in both
      processes before twistd starts: the way to compare another value of
      C{BODY_BATCH}, C{GRANT_DIVISOR}, C{LARGE_FRAME} or C{SEND_LIMIT}
      against the code as it is, in the same run, without editing it.

With C{--whole}, the application returns the body as one C{bytes} in a
list (as a Django C{HttpResponse} or a Flask C{Response} of a file read
into memory), which the handler sends in 1 MiB frames and the front writes
as one; the raw servers write their chunks as before.

The body is C{--size} bytes (100 MiB by default).  Each server answers a
64 KiB request, and its peak RSS (C{VmHWM}) is read then ("idle"); it is
checked once with the whole body (status, length and SHA-256), warmed up
with C{--warmup} downloads (1; 3 if the front runs on PyPy, for its JIT);
then every server is timed once per round, C{--rounds} rounds (5), each
round starting with the next server.
The client is this script: one connection, C{recv_into} a 1 MiB buffer,
discarding the bytes.  It prints, for each server, the median download time
and throughput, the CPU each process used per download, the ratio to raw
(both ways), each process's peak RSS before and after, and whether the
fastest txmp is within L{TARGET} (1.2) times each raw server.  Every process
started is stopped by its PID at the end, also on an error or a Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import time

from _harness import (
    HERE,
    BenchmarkError,
    Server,
    Servers,
    argumentParser,
    describeInterpreters,
    describeMachine,
    median,
    requireAtLeastOne,
    runBenchmark,
    startFront,
    startHandler,
)
from bigapp import chunks

MiB = 1024 * 1024

# The ratio of download times txmp/raw that txmp aims at (issue 4: "a raw
# Twisted Web resource serving the same bytes"); printed against both raw
# servers.
TARGET = 1.2


def parseSizes(text: str) -> list[int]:
    """
    C{"65536,1M,4MiB"} as a list of byte counts (K, M, G suffixes are
    powers of 1024).
    """
    sizes = []
    for part in text.split(","):
        part = part.strip().upper().removesuffix("IB").removesuffix("B")
        factor = 1
        for suffix, multiple in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
            if part.endswith(suffix):
                part, factor = part[:-1], multiple
        sizes.append(int(part) * factor)
    return sizes


def parseVariant(text: str) -> tuple[str, list[tuple[str, object]]]:
    """
    C{"LABEL:mod.NAME=VALUE,mod.NAME=VALUE"} as C{(LABEL, [(mod.NAME,
    value), ...])}, a value being a size (see L{parseSizes}) or L{None}.
    """
    label, sep, settings = text.partition(":")
    if not sep or not label or not settings:
        raise argparse.ArgumentTypeError("expected LABEL:MODULE.NAME=VALUE, got %r" % (text,))
    patches: list[tuple[str, object]] = []
    for setting in settings.split(","):
        path, sep, value = setting.partition("=")
        if not sep or "." not in path:
            raise argparse.ArgumentTypeError("expected MODULE.NAME=VALUE, got %r" % (setting,))
        try:
            patches.append((path, None if value == "None" else parseSizes(value)[0]))
        except ValueError:
            raise argparse.ArgumentTypeError("not a size or None: %r" % (value,)) from None
    return label, patches


def describeSize(size: int) -> str:
    """
    C{4194304} as C{"4 MiB"}, C{65536} as C{"64 KiB"}.
    """
    for unit, multiple in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= multiple and size % multiple == 0:
            return "%d %s" % (size // multiple, unit)
    return "%d B" % (size,)


def parseArguments(argv: list | None = None) -> argparse.Namespace:
    parser = argumentParser(
        "Download a large body through txmp and Twisted Web alone.",
        "mpfront and of the raw Twisted Web baselines",
        rounds=5, roundsHelp="time every server R times in turn; medians", duration=False,
    )
    parser.add_argument("--size", type=parseSizes, default=[100 * MiB], metavar="BYTES",
                        help="body size, e.g. 104857600 or 100M (default 100 MiB)")
    parser.add_argument(
        "--window", type=parseSizes, default=None, metavar="BYTES[,BYTES...]",
        help="mpfront --window; several (comma-separated) start one txmp each "
        "(default: mpfront's default, not passed)",
    )
    parser.add_argument(
        "--variant", type=parseVariant, action="append", default=[],
        metavar="LABEL:MODULE.NAME=VALUE[,MODULE.NAME=VALUE...]",
        help="also start a txmp (default window) whose front and handler set "
        "these constants first, e.g. send-128K:txmp._front.SEND_LIMIT=128K; "
        "VALUE is a size (K, M suffixes) or None; may be repeated",
    )
    parser.add_argument("--whole", action="store_true",
                        help="the application returns the body whole, one bytes "
                        "(default: 64 KiB chunks from a generator)")
    parser.add_argument("--warmup", type=int, default=None, metavar="N",
                        help="unmeasured downloads per server first (default 1; "
                        "3 if the front runs on PyPy)")
    args = parser.parse_args(argv)
    args.size = args.size[0]
    requireAtLeastOne(parser, args, "rounds", "size")
    return args


class Target:
    """
    A server to download from, and the processes serving it.
    """

    def __init__(self, name: str, port: int, processes: dict[str, Server]) -> None:
        self.name = name
        self.port = port
        self.processes = processes
        self.times: list[float] = []
        self.cpu: dict[str, list[float]] = {label: [] for label in processes}
        self.idlePeak: dict[str, int] = {}
        # Whether this txmp runs with patched constants (--variant).
        self.variant = False
        self.peak: dict[str, int] = {}


def peakRss(pid: int) -> int:
    """
    The peak resident set size of a process so far (C{VmHWM}), in bytes.
    """
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise BenchmarkError("no VmHWM for pid %d" % (pid,))


def download(port: int, size: int, verify: bool = False, whole: bool = False) -> float:
    """
    Download C{/?size=SIZE} from 127.0.0.1:C{port} on a new connection.

    @param verify: also check the SHA-256 of the body (slower: only for
        the first, unmeasured download).
    @param whole: ask for the body whole (C{&whole=1}, L{bigapp.app}).
    @return: seconds from connecting to the last byte.
    @raise BenchmarkError: on a wrong status, length or body.
    """
    started = time.perf_counter()
    buffer = bytearray(MiB)
    view = memoryview(buffer)
    digest = hashlib.sha256() if verify else None
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(
            b"GET /?size=%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
            % (size, b"&whole=1" if whole else b"", port)
        )
        head = b""
        while b"\r\n\r\n" not in head:
            count = connection.recv_into(buffer)
            if not count:
                raise BenchmarkError("port %d closed before the head: %r" % (port, head))
            head += bytes(view[:count])
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if lines[0].split(b" ")[1] != b"200":
            raise BenchmarkError("port %d answered %r" % (port, lines[0]))
        lengths = [
            int(line.split(b":", 1)[1])
            for line in lines[1:]
            if line.lower().startswith(b"content-length:")
        ]
        if lengths != [size]:
            raise BenchmarkError("port %d: Content-Length %r, not %d" % (port, lengths, size))
        received = len(rest)
        if digest is not None:
            digest.update(rest)
        while received < size:
            count = connection.recv_into(buffer)
            if not count:
                break
            received += count
            if digest is not None:
                digest.update(view[:count])
    elapsed = time.perf_counter() - started
    if received != size:
        raise BenchmarkError("port %d sent %d bytes of %d" % (port, received, size))
    if digest is not None:
        expected = hashlib.sha256()
        for chunk in chunks(size):
            expected.update(chunk)
        if digest.hexdigest() != expected.hexdigest():
            raise BenchmarkError("port %d sent the wrong bytes" % (port,))
    return elapsed


def measure(target: Target, size: int, whole: bool = False) -> float:
    """
    Time one download from C{target}, recording the CPU its processes
    used.
    """
    before = {label: p.cpuSeconds() for label, p in target.processes.items()}
    elapsed = download(target.port, size, whole=whole)
    for label, process in target.processes.items():
        first, after = before[label], process.cpuSeconds()
        if first is not None and after is not None:
            target.cpu[label].append(after - first)
    target.times.append(elapsed)
    return elapsed


def startTargets(servers: Servers, args: argparse.Namespace) -> list[Target]:
    """
    Start the raw servers, one txmp per window and one per variant; wait
    until all are ready.
    """
    targets = []
    for mode in ("loop", "producer"):
        raw = servers.start(
            "rawbig " + mode,
            [args.front_python, os.path.join(HERE, "rawbig.py"), "--mode", mode],
        )
        port = int(raw.waitFor(r"rawbig ready: port (\d+)").group(1))
        targets.append(Target("raw " + mode, port, {"raw": raw}))
    windows: list[int | None] = list(args.window) if args.window else [None]
    for n, window in enumerate(windows):
        tag = "w%d-" % (n,)
        send, ret = servers.ipc(tag + "send"), servers.ipc(tag + "return")
        extra = [] if window is None else ["--window", str(window)]
        front, port = startFront(servers, args.front_python, send, ret, extra)
        handler = startHandler(
            servers, front, args.handler_python, "bigapp:app", send, ret, "h1"
        )
        name = "txmp" if window is None else "txmp window %s" % (describeSize(window),)
        targets.append(Target(name, port, {"front": front, "h1": handler}))
    for n, (label, patches) in enumerate(args.variant):
        tag = "v%d-" % (n,)
        send, ret = servers.ipc(tag + "send"), servers.ipc(tag + "return")
        front, port = startFront(servers, args.front_python, send, ret, patches=patches)
        handler = startHandler(
            servers, front, args.handler_python, "bigapp:app", send, ret, "h1",
            patches=patches,
        )
        target = Target("txmp " + label, port, {"front": front, "h1": handler})
        target.variant = True
        targets.append(target)
    return targets


def describeCpu(target: Target) -> str:
    """
    C{"front 0.41 + h1 0.30 s"}: median CPU seconds per download.
    """
    parts = [
        "%s %.2f" % (label, median(values))
        for label, values in target.cpu.items()
        if values
    ]
    return " + ".join(parts) + " s" if parts else "unknown"


def describeMemory(target: Target) -> str:
    """
    C{"front 42 -> 43 MiB, h1 39 -> 40 MiB"}: peak RSS after one small
    request, and at the end.
    """
    return ", ".join(
        "%s %.0f -> %.0f MiB" % (label, target.idlePeak[label] / MiB, target.peak[label] / MiB)
        for label in target.processes
    )


def main(argv: list | None = None) -> int:
    args = parseArguments(argv)
    return runBenchmark(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """
    Start the servers, time the downloads from each, and print the times,
    the CPU and memory each server used, and the verdict on the target.
    """
    frontName, handlerName = describeInterpreters(args)
    if args.warmup is None:
        args.warmup = 3 if frontName.startswith("PyPy") else 1
    print("machine:  " + describeMachine())
    print("front:    %s (%s); raw Twisted Web on the same" % (frontName, args.front_python))
    print("handler:  1 x %s (%s), mphandler's default threads"
          % (handlerName, args.handler_python))
    print("body:     %s in 64 KiB chunks with Content-Length; %d round(s) after %d warm-up"
          " download(s) per server" % (describeSize(args.size), args.rounds, args.warmup))
    with Servers() as servers:
        targets = startTargets(servers, args)
        print("pids:     " + "; ".join(
            "%s: %s" % (t.name, ", ".join(
                "%s %d" % (label, p.pid) for label, p in t.processes.items()))
            for t in targets), flush=True)
        for target in targets:
            # Peak RSS once the server has answered a small request.
            download(target.port, 65536, verify=True)
            target.idlePeak = {
                label: peakRss(p.pid) for label, p in target.processes.items()
            }
        for target in targets:
            download(target.port, args.size, verify=True, whole=args.whole)
            for _ in range(args.warmup):
                download(target.port, args.size, whole=args.whole)
        for n in range(args.rounds):
            order = targets[n % len(targets):] + targets[:n % len(targets)]
            for target in order:
                elapsed = measure(target, args.size, args.whole)
                print("  round %d/%d  %-22s %6.3f s  %7.0f MiB/s"
                      % (n + 1, args.rounds, target.name, elapsed,
                         args.size / MiB / elapsed), flush=True)
        for target in targets:
            target.peak = {
                label: peakRss(p.pid) for label, p in target.processes.items()
            }

    rawLoop = median(targets[0].times)
    rawProducer = median(targets[1].times)
    for target in targets:
        time_ = median(target.times)
        ratios = ""
        if target.name.startswith("txmp"):
            ratios = "  txmp/raw loop %.2f, txmp/raw producer %.2f" % (
                time_ / rawLoop, time_ / rawProducer)
        print("%-22s %6.3f s %6.0f MiB/s  CPU/download %s%s"
              % (target.name, time_, args.size / MiB / time_, describeCpu(target), ratios))
        print("%-22s peak RSS %s" % ("", describeMemory(target)))
    # The verdict is on the code as it is, not on a variant.
    best = min(
        (t for t in targets if t.name.startswith("txmp") and not t.variant),
        key=lambda t: median(t.times),
    )
    for raw, rawTime in (("raw loop", rawLoop), ("raw producer", rawProducer)):
        ratio = median(best.times) / rawTime
        print("target txmp/raw <= %.1f against %s: %s (best: %s, %.2f)"
              % (TARGET, raw, "met" if ratio <= TARGET else "NOT met", best.name, ratio))
    summary = " | ".join(
        "%s %.3f s (%s)" % (t.name, median(t.times), describeMemory(t)) for t in targets
    )
    print("SUMMARY | front %s | handler %s | %s x%d | %s |"
          % (frontName, handlerName, describeSize(args.size), args.rounds, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
