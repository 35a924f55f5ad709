# -*- test-case-name: txmp.test.test_resource -*-
"""
The front's Twisted Web side: a leaf resource that hands every request to
the L{Dispatcher} and finishes the HTTP response when the reply arrives.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from txmp._dispatch import (
    IDEMPOTENT_METHODS,
    Dispatcher,
    FrontError,
    NoCapacity,
    Reply,
)

# Hop-by-hop headers belong to one connection: PEP 3333 forbids
# applications to set them, and the front frames the body itself.
_HOP_BY_HOP = frozenset(
    [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ]
)

_BODY_CHUNK = 1 << 20


class FrontRequest(Request):
    """
    A request that remembers its header fields in the order received, with
    their names as sent (Twisted's L{Headers} groups and recases them).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Request.__init__(self, *args, **kwargs)
        self.rawHeaderPairs: List[Tuple[bytes, bytes]] = []


class FrontChannel(HTTPChannel):
    """
    An HTTP/1.1 channel that records raw header pairs on L{FrontRequest}.
    """

    def headerReceived(self, line: bytes) -> bool:
        if not HTTPChannel.headerReceived(self, line):
            return False
        name, value = line.split(b":", 1)
        request = self.requests[-1]
        if isinstance(request, FrontRequest):
            request.rawHeaderPairs.append((name, value.strip(b" \t")))
        return True


def _headerPairs(request: Request) -> List[Tuple[bytes, bytes]]:
    pairs = getattr(request, "rawHeaderPairs", None)
    if pairs is not None:
        return pairs
    return [
        (name, value)
        for name, values in request.requestHeaders.getAllRawHeaders()
        for value in values
    ]


def _readBody(request: Request) -> List[bytes]:
    content = request.content
    if content is None:
        return []
    getvalue = getattr(content, "getvalue", None)
    if getvalue is not None:
        data = getvalue()
        return [data] if data else []
    content.seek(0)
    chunks = []
    while True:
        chunk = content.read(_BODY_CHUNK)
        if not chunk:
            return chunks
        chunks.append(chunk)


class _RequestBody:
    """
    Writes a streamed reply body to a Twisted request.
    """

    def __init__(self, request: Request) -> None:
        self._request = request

    def writeBody(self, chunks: List[bytes]) -> None:
        for chunk in chunks:
            self._request.write(chunk)

    def finishBody(self) -> None:
        self._request.finish()

    def abortBody(self) -> None:
        # A truncated response must not look complete: abort, don't finish.
        channel = self._request.channel
        if channel is not None and channel.transport is not None:
            channel.transport.abortConnection()


class FrontResource(Resource):
    """
    Serve every request through the dispatcher.  Leaf: the handler's WSGI
    application sees the whole path.

    @ivar retryAfter: the C{Retry-After} seconds sent with 503.
    """

    isLeaf = True
    retryAfter = 1

    def __init__(self, dispatcher: Dispatcher) -> None:
        Resource.__init__(self)
        self._dispatcher = dispatcher

    def render(self, request: Request) -> Any:
        """
        Submit C{request} and finish it when the reply comes.
        """
        request.defaultContentType = None
        peer = request.getClientAddress()
        local = request.getHost()
        meta = [
            (b"method", request.method),
            (b"target", request.uri),
            (b"version", request.clientproto),
            (b"remote_addr", getattr(peer, "host", "").encode("ascii")),
            (b"remote_port", b"%d" % (getattr(peer, "port", 0),)),
            (b"server_name", request.getRequestHostname()),
            (b"server_port", b"%d" % (getattr(local, "port", 0),)),
            (b"scheme", b"https" if request.isSecure() else b"http"),
        ]
        body = _RequestBody(request)
        d = self._dispatcher.submit(
            meta,
            _headerPairs(request),
            _readBody(request),
            body,
            idempotent=request.method in IDEMPOTENT_METHODS,
        )
        state: dict = {}

        def gone(reason: Failure) -> None:
            reply: Optional[Reply] = state.get("reply")
            if reply is None:
                d.cancel()
            else:
                reply.cancel()

        request.notifyFinish().addErrback(gone)
        d.addCallbacks(
            self._respond,
            self._failed,
            callbackArgs=(request, state),
            errbackArgs=(request,),
        )
        return NOT_DONE_YET

    def _respond(self, reply: Reply, request: Request, state: dict) -> None:
        state["reply"] = reply
        request.setResponseCode(reply.status, reply.reason)
        headers = request.responseHeaders
        seen = set()
        for name, value in reply.headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                continue
            if lower in seen:
                headers.addRawHeader(name, value)
            else:
                # Replaces Twisted's defaults (Server, Date) if the app set them.
                seen.add(lower)
                headers.setRawHeaders(name, [value])
        for chunk in reply.body:
            request.write(chunk)
        if not reply.more:
            request.finish()

    def _failed(self, failure: Failure, request: Request) -> None:
        if failure.check(CancelledError):
            return
        error = failure.value
        if not isinstance(error, FrontError):
            failure.raiseException()
        body = b"%d %s\n" % (error.status, error.reason)
        request.setResponseCode(error.status, error.reason)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Content-Length", b"%d" % (len(body),))
        if isinstance(error, NoCapacity):
            request.setHeader(b"Retry-After", b"%d" % (self.retryAfter,))
        request.write(body)
        request.finish()


class FrontSite(Site):
    """
    A site that writes an access log only when given a path for it: the
    default, a line per request in the twistd log, costs throughput that
    most deployments spend on the proxy in front instead.
    """

    def log(self, request: Request) -> None:
        if self.logPath is not None:
            Site.log(self, request)


class StatsResource(Resource):
    """
    The front's counts and statistics as JSON: what must return to its
    steady size when traffic stops, and what happened so far.
    """

    isLeaf = True

    def __init__(self, dispatcher: Dispatcher) -> None:
        Resource.__init__(self)
        self._dispatcher = dispatcher

    def render_GET(self, request: Request) -> bytes:
        dispatcher = self._dispatcher
        body = {
            "front": dispatcher.instance,
            "counts": dispatcher.counts(),
            "stats": dispatcher.stats,
            "handlers": [
                {
                    "name": handler.name,
                    "credits": handler.credits,
                    "inFlight": len(handler.inFlight),
                    "draining": handler.draining,
                }
                for handler in dispatcher.handlers.values()
            ],
        }
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(body, sort_keys=True).encode("utf-8") + b"\n"


def makeStatsSite(dispatcher: Dispatcher, reactor: Any) -> Site:
    """
    A site serving L{StatsResource} (for --stats).
    """
    site = Site(StatsResource(dispatcher), reactor=reactor)
    site.displayTracebacks = False
    return site


def makeSite(
    dispatcher: Dispatcher, reactor: Any, accessLog: Optional[str] = None
) -> Site:
    """
    A Twisted Web site serving everything through C{dispatcher}.

    @param accessLog: a file for a combined-format access log, if any.
    """
    site = FrontSite(FrontResource(dispatcher), logPath=accessLog, reactor=reactor)
    site.protocol = FrontChannel
    site.requestFactory = FrontRequest
    site.displayTracebacks = False
    return site
