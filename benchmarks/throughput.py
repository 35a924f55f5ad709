"""
Hello-world throughput of txmp against Twisted Web alone, in the same run.

    python benchmarks/throughput.py [--front-python PATH] [--handler-python PATH]
        [--handlers K] [--threads N] [--duration S] [--rounds R]

Starts, on 127.0.0.1 only:

    - B{raw}: C{rawweb.py}, a Twisted Web leaf resource returning 13 bytes,
      run by the front's interpreter;
    - B{txmp}: C{twistd mpfront} run by the same interpreter, and K
      C{twistd mphandler --app benchapps:hello} (the same 13 bytes and
      headers from WSGI) run by the handlers' interpreter, joined by ipc://
      ZeroMQ addresses in a temporary directory.

Then it warms both up, and loads them in turn with wrk (50 connections by
default), R rounds (3) of S seconds (10) each; prints the requests per
second of each (median of the rounds), the ratio txmp/raw, the CPU time
each process spent per request, and a one-line summary.
Any response that is not 2xx, and any socket error, fails the run.  Every
process started is stopped by its PID at the end, also on an error or a
Ctrl-C.  The machine should be otherwise idle; on a shared one, only the
ratio of figures taken in the same run means anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from _harness import (
    addInterpreterArguments,
    HERE,
    BenchmarkError,
    Servers,
    checkResponse,
    describeMachine,
    describePython,
    interleaved,
    describeCpuPerRequest,
    median,
    medianCpuPerRequest,
    startTxmp,
    withCpu,
    wrk,
)

BODY = b"Hello, world!"


def parseArguments(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Hello-world throughput of txmp against Twisted Web alone."
    )
    addInterpreterArguments(parser, "mpfront and of the raw Twisted Web baseline")
    parser.add_argument("--handlers", type=int, default=1, metavar="K",
                        help="handler processes (default 1)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="--threads of each handler (default: mphandler's)")
    parser.add_argument("--duration", type=float, default=10.0, metavar="S",
                        help="seconds per measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=3, metavar="R",
                        help="measure raw, txmp R times in turn; medians (default 3)")
    parser.add_argument("--warmup", type=float, default=None, metavar="S",
                        help="seconds of unmeasured load first (default 3; "
                        "10 if the front runs on PyPy, for its JIT)")
    parser.add_argument("--connections", type=int, default=50,
                        help="wrk connections (default 50)")
    parser.add_argument("--wrk-threads", type=int, default=2,
                        help="wrk threads (default 2)")
    args = parser.parse_args(argv)
    if args.handlers < 1 or args.rounds < 1 or args.duration < 1:
        parser.error("--handlers, --rounds and --duration must be at least 1")
    return args


def main(argv: Optional[list] = None) -> int:
    args = parseArguments(argv)
    try:
        frontName = describePython(args.front_python)
        handlerName = describePython(args.handler_python)
    except BenchmarkError as e:
        print("FAILED: %s" % (e,), file=sys.stderr)
        return 1
    if args.warmup is None:
        args.warmup = 10.0 if frontName.startswith("PyPy") else 3.0
    threads = "default" if args.threads is None else str(args.threads)
    print("machine:  " + describeMachine())
    print("front:    %s (%s); raw Twisted Web on the same" % (frontName, args.front_python))
    print("handlers: %d x %s (%s), --threads %s"
          % (args.handlers, handlerName, args.handler_python, threads))
    print("load:     wrk -t%d -c%d -d%ds, %d round(s) after %ss warm-up"
          % (args.wrk_threads, args.connections, args.duration, args.rounds, args.warmup))

    def load(port: int, duration: float):
        return lambda: wrk(
            "http://127.0.0.1:%d/" % (port,),
            duration,
            connections=args.connections,
            threads=args.wrk_threads,
        )

    try:
        with Servers() as servers:
            raw = servers.start(
                "rawweb", [args.front_python, os.path.join(HERE, "rawweb.py")]
            )
            rawPort = int(raw.waitFor(r"rawweb ready: port (\d+)").group(1))
            txmp = startTxmp(
                servers, args.front_python, args.handler_python,
                "benchapps:hello", args.handlers, args.threads,
            )
            txmpPort = txmp.port
            offered = {server.credits for name, server in txmp.servers.items()
                       if name != "front"}
            if args.threads is None and len(offered) == 1:
                credits = offered.pop()
                if credits is not None:
                    threads = "%d (mphandler's default)" % (credits,)
            print("pids:     rawweb %d, %s" % (raw.pid, ", ".join(
                "%s %d" % (name, server.pid) for name, server in txmp.servers.items()
            )), flush=True)
            checkResponse("http://127.0.0.1:%d/" % (rawPort,), BODY, "rawweb")
            checkResponse(txmp.url, BODY, "txmp")
            if args.warmup > 0:
                load(rawPort, args.warmup)()
                load(txmpPort, args.warmup)()
            results = interleaved(
                {
                    "raw Twisted Web": withCpu(
                        load(rawPort, args.duration), {"rawweb": raw}
                    ),
                    "txmp": withCpu(load(txmpPort, args.duration), txmp.servers),
                },
                args.rounds,
                lambda line: print(line, flush=True),
            )
    except BenchmarkError as e:
        print("FAILED: %s" % (e,), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; every server was stopped", file=sys.stderr)
        return 130

    rawRps = median([r.rps for r in results["raw Twisted Web"]])
    txmpRps = median([r.rps for r in results["txmp"]])
    roundRatios = [
        t.rps / r.rps for r, t in zip(results["raw Twisted Web"], results["txmp"])
    ]
    rawCpu = medianCpuPerRequest(results["raw Twisted Web"])
    txmpCpu = medianCpuPerRequest(results["txmp"])
    print("raw Twisted Web: %8.0f req/s   CPU per request: %s"
          % (rawRps, describeCpuPerRequest(rawCpu)))
    print("txmp:            %8.0f req/s   CPU per request: %s"
          % (txmpRps, describeCpuPerRequest(txmpCpu)))
    print("txmp/raw:        %8.2f   (per round: %s)"
          % (txmpRps / rawRps, ", ".join("%.2f" % r for r in roundRatios)))
    print(
        "SUMMARY | front %s | %d handler(s) %s, threads %s | wrk -c%d %ds x%d "
        "| raw %.0f req/s | txmp %.0f req/s | txmp/raw %.2f "
        "| CPU/req raw %s, txmp %s |"
        % (frontName, args.handlers, handlerName, threads, args.connections,
           args.duration, args.rounds, rawRps, txmpRps, txmpRps / rawRps,
           describeCpuPerRequest(rawCpu), describeCpuPerRequest(txmpCpu))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
