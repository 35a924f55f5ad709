"""
The baseline of C{bigbody.py}: Twisted Web alone, answering C{GET
/?size=N} with the same bytes as C{bigapp.app} (100 MiB by default), with a
C{Content-Length}, in 64 KiB chunks, in one of two ways:

    - C{--mode loop}: C{request.write(chunk)} for every chunk, then
      C{request.finish()}, all in C{render_GET}: what a naive resource does.
      Twisted buffers the whole body in the transport at once (memory grows
      by the body's size), and sends it as fast as the client reads;
    - C{--mode producer}: a push producer registered on the request writes
      chunks while the transport accepts them, paused while its buffer is
      full: the bounded-memory way, as txmp's front does.

    python benchmarks/rawbig.py --mode loop|producer [--port N]

Listens on 127.0.0.1 (port 0, the default, picks a free one) and prints
C{rawbig ready: port N} once listening.  Runs until SIGTERM or SIGINT.
Twisted only, so that it runs on the interpreter of the front under test.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from bigapp import chunks, requestedSize
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import react
from twisted.web.http import Request
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from zope.interface import implementer


@implementer(IPushProducer)
class ChunkProducer:
    """
    Write chunks to a request while its transport accepts them.
    """

    def __init__(self, request: Request, body: Iterator[bytes]) -> None:
        self._request = request
        self._body = body
        self._paused = False
        self._done = False

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        while not self._paused and not self._done:
            chunk = next(self._body, None)
            if chunk is None:
                self._done = True
                self._request.unregisterProducer()
                self._request.finish()
                return
            self._request.write(chunk)

    def stopProducing(self) -> None:
        self._done = True


class Big(Resource):
    """
    C{size} bytes from L{bigapp.chunks}, for any path.
    """

    isLeaf = True

    def __init__(self, mode: str) -> None:
        Resource.__init__(self)
        self._mode = mode

    def render_GET(self, request: Request) -> Any:
        query = request.uri.partition(b"?")[2].decode("ascii")
        size = requestedSize(query)
        request.setHeader(b"Content-Type", b"application/octet-stream")
        request.setHeader(b"Content-Length", b"%d" % (size,))
        if self._mode == "loop":
            for chunk in chunks(size):
                request.write(chunk)
            request.finish()
        else:
            producer = ChunkProducer(request, chunks(size))
            request.registerProducer(producer, True)
            producer.resumeProducing()
        return NOT_DONE_YET


class QuietSite(Site):
    """
    No access log, as the front has none by default.
    """

    def log(self, request: Request) -> None:
        pass


async def serve(reactor: Any, port: int, mode: str) -> None:
    """
    Listen, say so, and serve until the reactor stops.
    """
    endpoint = TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    listening = await endpoint.listen(QuietSite(Big(mode)))
    print("rawbig ready: port %d" % (listening.getHost().port,), flush=True)
    await Deferred()  # Never fires: SIGTERM or SIGINT stops the reactor.


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Serve a large body with Twisted Web alone, on 127.0.0.1."
    )
    parser.add_argument("--mode", choices=["loop", "producer"], default="loop")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    react(lambda reactor: Deferred.fromCoroutine(serve(reactor, args.port, args.mode)))


if __name__ == "__main__":
    main()
