# -*- test-case-name: txmp.test.test_metrics -*-
"""
The front's C{--stats} site (Twisted Web): its counts as JSON, liveness and
readiness probes, and the Prometheus metrics.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Callable, cast

from twisted.internet.interfaces import (
    ILoggingContext,
    IProtocolFactory,
    IReactorTime,
    ITCPTransport,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import classImplementsOnly

import twisted
from txmp._defaults import MAX_CONNECTIONS_LOG_INTERVAL, STATS_MAX_CONNECTIONS
from txmp._dispatch import Dispatcher
from txmp._front import negotiatesOnContext
from txmp._http import PLAIN_TEXT
from txmp._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from txmp._metrics import FrontMetrics, exposition
from txmp._peerlog import idText


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
                    # Two handlers may share a --name: the routing id tells
                    # them apart, as /metrics's id label does.
                    "id": idText(handler.identity),
                    "credits": handler.credits,
                    "inFlight": len(handler.inFlight),
                    "prefetch": handler.prefetch,
                    "draining": handler.draining,
                }
                for handler in dispatcher.handlers.values()
            ],
        }
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(body, sort_keys=True).encode("utf-8") + b"\n"


class _TextResource(Resource):
    isLeaf = True

    def __init__(self, render: Callable[[], tuple[int, bytes, bytes]]) -> None:
        Resource.__init__(self)
        self._render = render

    def render_GET(self, request: Request) -> bytes:
        code, contentType, body = self._render()
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", contentType)
        request.setHeader(b"Cache-Control", b"no-store")
        return body


class _NotFound(Resource):
    """
    A path the site does not serve, and any below it: 404, in plain text,
    whatever the method.  (Not L{Resource.getChild}'s page, whose class,
    C{_UnsafeNoResource}, is deprecated since Twisted 22.10 and warns at
    every request; nor L{twisted.web.pages.notFound}, whose body is written
    after C{render} returns, without a C{Content-Length}.)
    """

    isLeaf = True

    def render(self, request: Request) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"Content-Type", PLAIN_TEXT)
        request.setHeader(b"Cache-Control", b"no-store")
        return b"not found\n"


class StatsRoot(Resource):
    """
    The C{--stats} endpoint: the JSON counts at C{/} (L{StatsResource}),
    and for orchestrators and Prometheus:

      - C{/healthz}: 200 while the front runs (liveness), a graceful stop
        included;
      - C{/readyz}: 200 while a handler that is not draining is
        registered and the front is not stopping, 503 otherwise
        (readiness: take the front out of a load balancer's rotation
        while it cannot serve);
      - C{/metrics}: the Prometheus text exposition (L{txmp._metrics}).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        metrics: FrontMetrics,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        """
        @param stopping: whether the front is stopping (its C{--listen}
            ports closed, the requests in progress finishing).
        """
        Resource.__init__(self)
        self._dispatcher = dispatcher
        self._stopping = stopping
        self._json = StatsResource(dispatcher)
        self._notFound = _NotFound()
        self.putChild(b"healthz", _TextResource(lambda: (200, PLAIN_TEXT, b"ok\n")))
        self.putChild(b"readyz", _TextResource(self._ready))
        self.putChild(
            b"metrics",
            _TextResource(
                lambda: (200, METRICS_CONTENT_TYPE, exposition(dispatcher, metrics))
            ),
        )

    def _ready(self) -> tuple[int, bytes, bytes]:
        if self._stopping():
            return 503, PLAIN_TEXT, b"not ready: the front is stopping\n"
        serving = [h for h in self._dispatcher.handlers.values() if not h.draining]
        if serving:
            return 200, PLAIN_TEXT, b"ready: %d handlers\n" % (len(serving),)
        draining = len(self._dispatcher.handlers)
        if draining:
            return (
                503, PLAIN_TEXT,
                b"not ready: no handler takes requests (%d draining)\n" % (draining,),
            )
        return 503, PLAIN_TEXT, b"not ready: no handler registered\n"

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self._json
        return self._notFound


class _Headless(Resource):
    """
    A resource rendered for a C{HEAD} request: the status and headers of
    its C{GET}, C{Content-Length} included, and no body.

    Twisted's request would otherwise write its body away itself, and log
    a warning that says so for every C{HEAD} probe.
    """

    isLeaf = True

    def __init__(self, resource: IResource) -> None:
        Resource.__init__(self)
        self._resource = resource

    def render(self, request: Request) -> bytes | int:
        body = self._resource.render(request)
        if body is NOT_DONE_YET or not isinstance(body, bytes):
            # (Neither happens here: every resource of this site answers at
            # once, with bytes.)
            return body
        request.setHeader(b"Content-Length", b"%d" % (len(body),))
        return b""


class _QuietRequest(Request):
    """
    A request of the C{--stats} site, which answers a C{HEAD} request as
    its C{GET} without a body (L{_Headless}).
    """

    def render(self, resrc: IResource) -> None:
        if self.method == b"HEAD":
            resrc = _Headless(resrc)
        Request.render(self, resrc)


class _StatsChannel(http.HTTPChannel):
    """
    A connection to the C{--stats} port, which tells its site when it opens
    and closes (L{_QuietSite.opened}, L{_QuietSite.closed}).
    """

    site: _QuietSite

    def connectionMade(self) -> None:
        http.HTTPChannel.connectionMade(self)
        self.site.opened(self)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self.site.closed(self)
        http.HTTPChannel.connectionLost(self, reason)


class _QuietSite(Site):
    """
    A site that logs nothing per request: probes every few seconds would
    fill the front's log.  A C{HEAD} probe, as some load balancers send,
    writes nothing either (L{_QuietRequest}).

    It holds at most L{STATS_MAX_CONNECTIONS} connections: a new one past
    them takes the place of the oldest of the address with the most open,
    aborted for it, so that the port's clients keep within the descriptors
    the front keeps for what is not a client of its HTTP ports
    (L{txmp._defaults.FD_RESERVE}), while a probe, which sends its request
    as it connects, is answered: a client opening connections as fast as
    it can from one address closes its own, not a probe of another address
    accepted among them before its request is read.  Twisted's own idle
    timeout starts again at every byte, so a head sent a byte at a time
    would otherwise hold its connection for ever.
    """

    noisy = False
    requestFactory = _QuietRequest
    # HTTP/1.1 alone: the channel that Twisted's default protocol (which
    # may turn to HTTP/2) wraps; so TLS agrees on no h2 (acceptableProtocols).
    protocol = _StatsChannel  # type: ignore[assignment]

    _log = Logger()

    def __init__(self, resource: IResource, reactor: IReactorTime) -> None:
        Site.__init__(self, resource, reactor=reactor)
        # Open connections, the oldest first, each with its peer's host
        # (None for a UNIX socket's: all one).
        self._open: dict[_StatsChannel, str | None] = {}
        self._warnedAt: float | None = None
        self._aborted = 0

    def opened(self, channel: _StatsChannel) -> None:
        """
        C{channel} is open: if that makes too many, abort the oldest of the
        address with the most open (the oldest of all, where each has as
        many).
        """
        peer = channel.transport.getPeer() if channel.transport is not None else None
        self._open[channel] = getattr(peer, "host", None)
        if len(self._open) <= STATS_MAX_CONNECTIONS:
            return
        # (At most STATS_MAX_CONNECTIONS + 1 to count.)
        counts = Counter(self._open.values())
        most = max(counts.values())
        oldest = next(c for c, host in self._open.items() if counts[host] == most)
        address = self._open.pop(oldest)
        if oldest.transport is not None:
            # (TCP's, UNIX's and TLS's transports can all abort.)
            cast(ITCPTransport, oldest.transport).abortConnection()
        self._aborted += 1
        now = self.reactor.seconds()
        if self._warnedAt is None or now - self._warnedAt >= MAX_CONNECTIONS_LOG_INTERVAL:
            self._log.warn(
                "mpfront: {limit} connections open to the --stats port, the most"
                " it holds: the oldest of the address with the most ({address})"
                " closed for new ones ({count} since the last such line)",
                limit=STATS_MAX_CONNECTIONS,
                address=address if address is not None else "unix",
                count=self._aborted,
            )
            self._warnedAt = now
            self._aborted = 0

    def closed(self, channel: _StatsChannel) -> None:
        """
        C{channel} has closed.
        """
        self._open.pop(channel, None)

    def acceptableProtocols(self) -> list[bytes]:
        """
        The protocols the C{--stats} port speaks, for TLS's ALPN (C{--stats
        ssl:}): HTTP/1.1, and HTTP/1.0 for clients that offer it alone, as
        the front's own site names them (L{txmp._front.FrontFactory}).  Not
        C{h2}, which Twisted's L{Site} names where the C{h2} package is
        installed: its channel (L{_StatsChannel}) speaks HTTP/1.1 alone, so
        that a client agreeing on C{h2} (curl, browsers, Go's default
        client) would get HTTP/1.1 where it reads HTTP/2 frames.
        """
        return [b"http/1.1", b"http/1.0"]

    def log(self, request: http.Request) -> None:
        pass


if not negotiatesOnContext(twisted.__version__):
    # A Site names protocols to TLS (IProtocolNegotiationFactory), which a
    # Twisted before 26.4 sets on the context shared by the port's
    # connections as each is made, and which pyOpenSSL 26 refuses after
    # the first: every connection to --stats ssl: but the first failed.
    # There it names none, as the front's own site (FrontFactory), and
    # clients fall back to HTTP/1.1 without ALPN.
    # (What Site implements but that.)
    classImplementsOnly(_QuietSite, IProtocolFactory, ILoggingContext)


def makeStatsSite(
    dispatcher: Dispatcher,
    reactor: IReactorTime,
    metrics: FrontMetrics | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Site:
    """
    A site serving L{StatsRoot} (for --stats).

    @param metrics: what the front's site counts (L{txmp._front.FrontFactory.metrics}).
    @param stopping: whether the front is stopping.
    """
    site = _QuietSite(
        StatsRoot(dispatcher, metrics or FrontMetrics(), stopping), reactor=reactor
    )
    site.displayTracebacks = False
    return site
