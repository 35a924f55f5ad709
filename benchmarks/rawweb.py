"""
The baseline of C{throughput.py}: Twisted Web alone, serving the same 13
bytes as C{benchapps.hello} from a leaf resource, with the same headers and
no access log (as C{mpfront} without C{--access-log}).

    python benchmarks/rawweb.py [--port N]

Listens on 127.0.0.1 (port 0, the default, picks a free one) and prints
C{rawweb ready: port N} once listening.  Runs until SIGTERM or SIGINT.
Twisted only, so that it runs on the interpreter of the front under test.
"""

from __future__ import annotations

import argparse
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import react
from twisted.web.http import Request
from twisted.web.resource import Resource
from twisted.web.server import Site

BODY = b"Hello, world!"


class Hello(Resource):
    """
    Hello, world, for any path.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Content-Length", b"%d" % (len(BODY),))
        return BODY


class QuietSite(Site):
    """
    No access log, as the front has none by default.
    """

    def log(self, request: Request) -> None:
        pass


async def serve(reactor: Any, port: int) -> None:
    """
    Listen, say so, and serve until the reactor stops.
    """
    endpoint = TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    listening = await endpoint.listen(QuietSite(Hello()))
    print("rawweb ready: port %d" % (listening.getHost().port,), flush=True)
    await Deferred()  # Never fires: SIGTERM or SIGINT stops the reactor.


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Serve 13 bytes with Twisted Web alone, on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    react(lambda reactor: Deferred.fromCoroutine(serve(reactor, args.port)))


if __name__ == "__main__":
    main()
