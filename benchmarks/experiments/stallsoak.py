"""
Fast requests beside bursts of slow ones that can fill one handler's
threads: how many fast requests wait behind the slow ones (and get 504 if
that passes the front's --timeout) while the other handler serves.

    .venv/bin/python benchmarks/experiments/stallsoak.py [--tree PATH] [--duration S] [--timeout S]

One C{twistd mpfront --timeout T} (10 s by default) and two C{twistd mphandler --app
tests.apps.tagged:app --threads 2} (the default C{--prefetch}) of the txmp
in C{--tree} (default: this checkout), on C{ipc://} addresses in a
temporary directory; 12 clients send fast requests (2 ms) one after the
other, and every 2 s three slow ones (5 s) go at once: two at least reach the
same handler, whose two threads are then held 5 s, and what waits in it for them
(its prefetch) waits as long, past a C{--timeout} under 5 s, unless the
front takes it back (C{RECALL}, docs/protocol.md).  Prints each kind's
count by status and its latency, how many fast requests took over a
second, and the front's C{--stats} counters.  Every process is
started in a session of its own and its group stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def request(port: int, path: str, results: list, kind: str) -> None:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        status: object = int(data.split(b" ", 2)[1])
    except Exception as e:  # noqa: BLE001 (counted, shown)
        status = repr(e)
    results.append((kind, status, time.monotonic() - started))


async def fastClient(port: int, results: list, stop: float, n: int) -> None:
    i = 0
    while time.monotonic() < stop:
        i += 1
        await request(port, f"/?token=f{n}x{i}&sleep=0.002", results, "fast")


async def burster(port: int, results: list, stop: float) -> None:
    j = 0
    while time.monotonic() < stop - 6:
        await asyncio.sleep(2)
        j += 1
        await asyncio.gather(
            *[request(port, f"/?token=s{j}x{k}&sleep=5", results, "slow") for k in range(3)]
        )


async def load(port: int, stop: float) -> list:
    results: list = []
    await asyncio.gather(
        burster(port, results, stop), *[fastClient(port, results, stop, n) for n in range(12)]
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=CHECKOUT, help="the txmp checkout to run")
    parser.add_argument("--duration", type=float, default=40, help="seconds of load")
    parser.add_argument("--timeout", default="10", help="the front's --timeout")
    args = parser.parse_args()
    directory = tempfile.mkdtemp()
    port, statsPort = freePort(), freePort()
    env = dict(os.environ, PYTHONPATH=args.tree)
    env.pop("PYTHONUNBUFFERED", None)
    common = ["--send", f"ipc://{directory}/s", "--return", f"ipc://{directory}/r"]
    commands = [
        ["mpfront", *common, "--listen", f"tcp:{port}:interface=127.0.0.1",
         "--timeout", args.timeout, "--stats", f"tcp:{statsPort}:interface=127.0.0.1"],
        ["mphandler", *common, "--app", "tests.apps.tagged:app", "--threads", "2", "--name", "h1"],
        ["mphandler", *common, "--app", "tests.apps.tagged:app", "--threads", "2", "--name", "h2"],
    ]
    processes = []
    try:
        for n, command in enumerate(commands):
            with open(os.path.join(directory, f"{n}.log"), "w") as log:
                processes.append(subprocess.Popen(
                    [TWISTD, "-n", "--pidfile", "", *command], env=env,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                ))
        deadline = time.monotonic() + 20
        while True:
            try:
                stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{statsPort}/"))
                if len(stats["handlers"]) == 2:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"the handlers did not register; logs in {directory}")
            time.sleep(0.1)
        results = asyncio.run(load(port, time.monotonic() + args.duration))
        stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{statsPort}/"))
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    print(f"tree {args.tree}, {args.duration:g} s, --timeout {args.timeout}")
    for kind in ("fast", "slow"):
        rows = [r for r in results if r[0] == kind]
        latencies = sorted(r[2] for r in rows)
        print(
            f"{kind}: {len(rows)} requests, by status {dict(Counter(r[1] for r in rows))}; "
            f"latency p50 {latencies[len(latencies) // 2]:.3f} s, "
            f"p99 {latencies[int(len(latencies) * 0.99)]:.3f} s, max {latencies[-1]:.3f} s, "
            f"over 1 s: {sum(1 for latency in latencies if latency > 1)}"
        )
    print("front's counters:", {k: v for k, v in stats["stats"].items() if v})


if __name__ == "__main__":
    main()
