# -*- test-case-name: txmp.test.test_metrics -*-
"""
Tests for L{txmp._metrics} and the C{--stats} resources that serve them
(L{txmp._stats.StatsRoot}).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    ILoggingContext,
    IProtocolFactory,
    IProtocolNegotiationFactory,
)
from twisted.internet.protocol import ClientFactory
from twisted.internet.task import Clock
from twisted.internet.testing import AccumulatingProtocol, StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase
from twisted.web import http
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

import twisted
from txmp import protocol
from txmp._defaults import MAX_CONNECTIONS_LOG_INTERVAL, STATS_MAX_CONNECTIONS
from txmp._dispatch import Dispatcher
from txmp._front import FrontFactory, negotiatesOnContext
from txmp._metrics import QUEUE_BUCKETS, FrontMetrics, Histogram, exposition
from txmp._stats import StatsRoot, makeStatsSite
from txmp.testing import (
    MemorySocket,
    RecordingConsumer,
    selfSignedCertificate,
    tlsClientFactory,
)

try:
    from twisted.internet import ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
    from twisted.test.iosim import connectedServerAndClient
except ImportError:
    # The tls extra is not installed (Debian's PyPy 3.9: setup.cfg).
    ssl = None  # type: ignore[assignment]

META = [(b"method", b"GET"), (b"target", b"/"), (b"version", b"HTTP/1.1")]


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """
    Parse a Prometheus exposition with C{prometheus_client}'s own parser.

    @return: every sample's value by its name and sorted labels.
    """
    result = {}
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            result[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return result


class HistogramTests(SynchronousTestCase):
    """
    Tests for L{Histogram}.
    """

    def test_cumulative(self) -> None:
        """
        Each bucket counts the observations at or below its bound, C{+Inf}
        all of them; the sum and count are kept.
        """
        histogram = Histogram((0.1, 1.0))
        for value in [0.05, 0.1, 0.5, 3.0]:
            histogram.observe(value)
        self.assertEqual(
            histogram.cumulative(), [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
        )
        self.assertEqual((histogram.count, histogram.sum), (4, 3.65))

    def test_observeZero(self) -> None:
        """
        L{Histogram.observeZero} counts as C{observe(0.0)} does, whether 0
        is a bound, below the first bound, or above the last.
        """
        for bounds in [QUEUE_BUCKETS, (0.1, 1.0), (-2.0, -1.0)]:
            zero, observed = Histogram(bounds), Histogram(bounds)
            for _ in range(2):
                zero.observeZero()
                observed.observe(0.0)
            zero.observe(0.5)
            observed.observe(0.5)
            self.assertEqual(zero.cumulative(), observed.cumulative())
            self.assertEqual((zero.count, zero.sum), (observed.count, observed.sum))


class FrontMetricsTests(SynchronousTestCase):
    """
    Tests for L{exposition} of a real L{Dispatcher} and L{FrontMetrics}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.dispatcher = Dispatcher(
            self.clock, MemorySocket(router=True), instance="front1",
        )
        self.metrics = FrontMetrics()

    def hello(self, identity: bytes, credits: int) -> None:
        self.dispatcher.controlReceived(
            [identity, *protocol.encodeHello(identity.decode("ascii") + "-name", credits)]
        )

    def submit(self) -> None:
        RecordingConsumer().submit(self.dispatcher, META, [], [])

    def test_exposition(self) -> None:
        """
        The exposition parses with C{prometheus_client}'s parser and holds
        requests by status, the duration and queue-wait histograms, bytes,
        the dispatcher's gauges and per-handler gauges.
        """
        self.hello(b"A", 2)
        for _ in range(3):
            self.submit()
        self.clock.advance(0.2)
        self.dispatcher.controlReceived([b"A", *protocol.encodeCredit(1)])
        self.metrics.requestFinished(200, 0.003, 10, 13)
        self.metrics.requestFinished(200, 0.002, 0, 13)
        self.metrics.requestFinished(404, 0.7, 0, 5)
        found = samples(exposition(self.dispatcher, self.metrics))
        self.assertEqual(found[("txmp_requests_total", (("status", "200"),))], 2)
        self.assertEqual(found[("txmp_requests_total", (("status", "404"),))], 1)
        self.assertEqual(found[("txmp_request_duration_seconds_count", ())], 3)
        self.assertEqual(
            found[("txmp_request_duration_seconds_bucket", (("le", "0.005"),))], 2
        )
        self.assertEqual(found[("txmp_queue_wait_seconds_bucket", (("le", "0.0"),))], 2)
        self.assertEqual(found[("txmp_queue_wait_seconds_bucket", (("le", "0.1"),))], 2)
        self.assertEqual(found[("txmp_queue_wait_seconds_bucket", (("le", "0.5"),))], 3)
        self.assertEqual(found[("txmp_request_body_bytes_total", ())], 10)
        self.assertEqual(found[("txmp_response_body_bytes_total", ())], 31)
        self.assertEqual(found[("txmp_in_flight_requests", ())], 3)
        self.assertEqual(found[("txmp_handlers", ())], 1)
        self.assertEqual(found[("txmp_queue_length", ())], 0)
        self.assertEqual(
            found[("txmp_handler_in_flight_requests", (("handler", "A-name"), ("id", "A")))],
            3,
        )
        self.assertEqual(
            found[("txmp_front_events_total", (("event", "requests"),))], 3
        )


    def test_handlerPrefetch(self) -> None:
        """
        C{txmp_handler_prefetch} is each handler's C{prefetch}: how many of
        its credits are for requests that wait for a thread, so that
        C{txmp_handler_credits} at or below it says every thread of it is
        busy (0 for a handler that said none).
        """
        self.dispatcher.controlReceived(
            [b"A", *protocol.encodeHello("A-name", 16, prefetch=12)]
        )
        self.hello(b"B", 4)
        found = samples(exposition(self.dispatcher, self.metrics))
        self.assertEqual(
            found[("txmp_handler_prefetch", (("handler", "A-name"), ("id", "A")))], 12
        )
        self.assertEqual(
            found[("txmp_handler_prefetch", (("handler", "B-name"), ("id", "B")))], 0
        )


class StatsRootTests(SynchronousTestCase):
    """
    Tests for L{StatsRoot}, the C{--stats} endpoint.
    """

    def setUp(self) -> None:
        self.dispatcher = Dispatcher(
            Clock(), MemorySocket(router=True), instance="front1",
        )
        self.root = StatsRoot(self.dispatcher, FrontMetrics())

    def get(self, path: bytes) -> tuple[int, bytes, Any]:
        request = DummyRequest(path.strip(b"/").split(b"/"))
        resource = getChildForRequest(self.root, request)
        body = resource.render(request)
        return request.responseCode or 200, body, request

    def test_healthz(self) -> None:
        """
        C{/healthz} is 200 while the front runs, with or without handlers.
        """
        code, body, _ = self.get(b"/healthz")
        self.assertEqual((code, body), (200, b"ok\n"))

    def test_readyz(self) -> None:
        """
        C{/readyz} is 503 while no handler is registered or every one is
        draining, 200 while one can serve.
        """
        self.assertEqual(
            self.get(b"/readyz")[:2], (503, b"not ready: no handler registered\n")
        )
        self.dispatcher.controlReceived([b"A", *protocol.encodeHello("a", 2)])
        self.assertEqual(self.get(b"/readyz")[:2], (200, b"ready: 1 handlers\n"))
        self.dispatcher.handlers[b"A"].draining = True
        self.assertEqual(
            self.get(b"/readyz")[:2],
            (503, b"not ready: no handler takes requests (1 draining)\n"),
        )

    def test_readyzStopping(self) -> None:
        """
        C{/readyz} is 503 while the front is stopping (its C{--listen}
        ports closed), though a handler could serve; C{/healthz} is 200.
        """
        stopping = [False]
        self.root = StatsRoot(self.dispatcher, FrontMetrics(), lambda: stopping[0])
        self.dispatcher.controlReceived([b"A", *protocol.encodeHello("a", 2)])
        self.assertEqual(self.get(b"/readyz")[:2], (200, b"ready: 1 handlers\n"))
        stopping[0] = True
        self.assertEqual(
            self.get(b"/readyz")[:2], (503, b"not ready: the front is stopping\n")
        )
        self.assertEqual(self.get(b"/healthz")[:2], (200, b"ok\n"))

    def test_metrics(self) -> None:
        """
        C{/metrics} is the exposition, in Prometheus's text content type.
        """
        code, body, request = self.get(b"/metrics")
        self.assertEqual(code, 200)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-type"),
            [b"text/plain; version=0.0.4; charset=utf-8"],
        )
        self.assertIn(("txmp_handlers", ()), samples(body))

    def test_json(self) -> None:
        """
        C{/} is still the JSON counts.
        """
        code, body, _ = self.get(b"/")
        self.assertEqual(code, 200)
        self.assertIn(b'"counts"', body)

    def test_jsonHandlers(self) -> None:
        """
        C{/} lists each registered handler with its routing id (C{id}, as
        C{/metrics} labels it), which tells apart two handlers that share
        a C{--name}, its credits, requests in flight, prefetch, and whether
        it drains.
        """
        self.dispatcher.controlReceived([b"A", *protocol.encodeHello("web", 2)])
        self.dispatcher.controlReceived([b"B", *protocol.encodeHello("web", 3)])
        self.dispatcher.handlers[b"B"].draining = True
        _, body, _ = self.get(b"/")
        self.assertEqual(
            sorted(json.loads(body)["handlers"], key=lambda h: h["id"]),
            [
                {"name": "web", "id": "A", "credits": 2, "inFlight": 0,
                 "prefetch": 0, "draining": False},
                {"name": "web", "id": "B", "credits": 3, "inFlight": 0,
                 "prefetch": 0, "draining": True},
            ],
        )


class StatsSiteTests(SynchronousTestCase):
    """
    Tests for L{makeStatsSite}: the C{--stats} site over HTTP.
    """

    def test_headProbes(self) -> None:
        """
        A C{HEAD} request (a load balancer's health check, such as
        HAProxy's C{option httpchk HEAD /healthz}) gets the status and
        headers of a C{GET}, its C{Content-Length} included, no body, and
        writes nothing to the front's log, at every path (a missing one's
        404 too).
        """
        dispatcher = Dispatcher(Clock(), MemorySocket(router=True), instance="front1")
        site = makeStatsSite(dispatcher, Clock())
        for path, status, length in [
            (b"/healthz", b"200", b"3"),
            (b"/readyz", b"503", b"%d" % len(b"not ready: no handler registered\n")),
            (b"/nope", b"404", b"10"),
        ]:
            channel = site.buildProtocol(None)
            transport = StringTransport()
            channel.makeConnection(transport)
            with capturedLogs() as events:
                channel.dataReceived(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(events, [], path)
            head, _, body = transport.value().partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 " + status + b" "), head)
            self.assertEqual(body, b"", path)
            if length is not None:
                self.assertIn(b"\r\nContent-Length: " + length, head)

    def test_missingPathNotDeprecated(self) -> None:
        """
        A path the site does not serve, or one below it, gets a 404 in
        plain text with its C{Content-Length}, whatever the method, made
        without Twisted's deprecated C{_UnsafeNoResource} (what
        L{Resource}'s own C{getChild} returns, deprecated since Twisted
        22.10: a C{DeprecationWarning} at every such request and, where
        warnings are errors, a 500 instead of the 404).
        """
        dispatcher = Dispatcher(Clock(), MemorySocket(router=True), instance="front1")
        site = makeStatsSite(dispatcher, Clock())
        for method, path in [(b"GET", b"/nope"), (b"HEAD", b"/nope"), (b"POST", b"/a/b")]:
            channel = site.buildProtocol(None)
            transport = StringTransport()
            channel.makeConnection(transport)
            channel.dataReceived(
                method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            )
            head, _, body = transport.value().partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 404 "), head)
            self.assertIn(b"\r\nContent-Type: text/plain; charset=utf-8", head)
            self.assertIn(b"\r\nContent-Length: 10", head)
            self.assertEqual(body, b"" if method == b"HEAD" else b"not found\n")
        self.assertEqual(
            [str(w["message"]) for w in self.flushWarnings()
             if issubclass(w["category"], DeprecationWarning)],
            [],
        )


    def test_connectionsBounded(self) -> None:
        """
        The site holds at most L{STATS_MAX_CONNECTIONS} connections: a new
        one past them takes the place of the one open the longest, aborted
        for it (its descriptor freed at once), so that clients of the
        C{--stats} port, each sending a head a byte at a time, cannot take
        the descriptors that the front's HTTP ports and ZeroMQ need, and a
        probe still gets its answer.  One warning says so, at most once
        in L{MAX_CONNECTIONS_LOG_INTERVAL}.
        """
        clock = Clock()
        dispatcher = Dispatcher(Clock(), MemorySocket(router=True), instance="front1")
        site = makeStatsSite(dispatcher, clock)
        opened = []
        for _ in range(STATS_MAX_CONNECTIONS):
            channel = site.buildProtocol(None)
            transport = StringTransport()
            channel.makeConnection(transport)
            channel.dataReceived(b"GET /healthz HTTP/1.1\r\n")
            opened.append((channel, transport))
        self.assertEqual([t.disconnected for _, t in opened], [False] * STATS_MAX_CONNECTIONS)
        with capturedLogs() as events:
            for _ in range(2):
                channel = site.buildProtocol(None)
                transport = StringTransport()
                channel.makeConnection(transport)
                channel.dataReceived(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 "))
                opened.append((channel, transport))
        self.assertEqual(
            [t.disconnected for _, t in opened],
            [True, True] + [False] * STATS_MAX_CONNECTIONS,
        )
        self.assertEqual(len(events), 1, events)
        self.assertIn("--stats", events[0]["log_format"])
        # The next warning comes once the interval is over, counting those
        # closed since the last: the second above, and three here.  (Twisted's
        # own idle timeout, 60 s, closes the first ones meanwhile: not these.)
        with capturedLogs() as events:
            clock.advance(MAX_CONNECTIONS_LOG_INTERVAL - 1)
            for _ in range(2):
                opened.append((site.buildProtocol(None), StringTransport()))
                opened[-1][0].makeConnection(opened[-1][1])
            clock.advance(1)
            opened.append((site.buildProtocol(None), StringTransport()))
            opened[-1][0].makeConnection(opened[-1][1])
        self.assertEqual(
            [formatEvent(e) for e in events if "--stats" in e["log_format"]],
            [f"mpfront: {STATS_MAX_CONNECTIONS} connections open to the --stats port,"
             " the most it holds: the oldest of the address with the most (192.168.1.1)"
             " closed for new ones (4 since the last such line)"],
        )
        del opened[2:5]
        # Those aborted go (connectionLost), and one more closes: room for
        # one, taken without closing another.
        for channel, _ in opened[:3]:
            channel.connectionLost(Failure(ConnectionDone()))
        channel = site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        self.assertEqual(
            [t.disconnected for _, t in opened[3:]], [False] * (STATS_MAX_CONNECTIONS - 1)
        )
        self.assertFalse(transport.disconnected)

    def test_connectionsBoundedPerAddress(self) -> None:
        """
        The connection a new one past L{STATS_MAX_CONNECTIONS} takes the
        place of is the oldest of the address with the most open: so a
        client that opens connections as fast as it can, from one address,
        closes its own, and a probe from another address, accepted among
        them, is answered however many it opens before the probe's request
        comes.  The oldest of all was closed, so that such a client made
        some of a front's probes fail (7 in 100 of them on loopback, one
        Python process opening 1,200 connections a second): a kubelet's
        liveness probe failing three times in a row restarts the front.
        """
        clock = Clock()
        dispatcher = Dispatcher(Clock(), MemorySocket(router=True), instance="front1")
        site = makeStatsSite(dispatcher, clock)

        def connect(host: str) -> StringTransport:
            transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
            channels.append(site.buildProtocol(None))
            channels[-1].makeConnection(transport)
            return transport

        channels: list[Any] = []
        flood = [connect("192.0.2.1") for _ in range(STATS_MAX_CONNECTIONS - 1)]
        probe = connect("198.51.100.7")
        probeChannel = channels[-1]
        with capturedLogs() as events:
            flood += [connect("192.0.2.1") for _ in range(3 * STATS_MAX_CONNECTIONS)]
        self.assertFalse(probe.disconnected)
        self.assertEqual(
            [formatEvent(e) for e in events],
            [f"mpfront: {STATS_MAX_CONNECTIONS} connections open to the --stats port,"
             " the most it holds: the oldest of the address with the most (192.0.2.1)"
             " closed for new ones (1 since the last such line)"],
        )
        self.assertEqual(
            [t.disconnected for t in flood],
            [True] * (3 * STATS_MAX_CONNECTIONS) + [False] * (STATS_MAX_CONNECTIONS - 1),
        )
        probeChannel.dataReceived(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(probe.value().startswith(b"HTTP/1.1 200 "), probe.value())
        # Where every address has one, the oldest of all goes.
        site = makeStatsSite(dispatcher, clock)
        each = [connect(f"192.0.2.{n}") for n in range(1, STATS_MAX_CONNECTIONS + 3)]
        self.assertEqual(
            [t.disconnected for t in each], [True, True] + [False] * STATS_MAX_CONNECTIONS
        )

    def test_protocolsNamedWhereTwistedAsks(self) -> None:
        """
        The site names its protocols to TLS (L{IProtocolNegotiationFactory})
        only where Twisted asks for them without setting them on the
        context shared by a port's connections (L{negotiatesOnContext}), as
        the front's own site does: elsewhere pyOpenSSL 26 fails every
        connection of a C{--stats ssl:} port but the first.  It is a
        protocol factory everywhere.
        """
        clock = Clock()
        site = makeStatsSite(Dispatcher(clock, MemorySocket(router=True)), clock)
        self.assertEqual(
            IProtocolNegotiationFactory.providedBy(site), negotiatesOnContext(twisted.__version__)
        )
        self.assertTrue(IProtocolFactory.providedBy(site))
        self.assertTrue(ILoggingContext.providedBy(site))

    def test_negotiatesHTTP1(self) -> None:
        """
        Over TLS (C{--stats ssl:}), the site agrees in ALPN on the protocols
        its channel speaks, HTTP/1.1 or HTTP/1.0, never C{h2}, even where
        Twisted's HTTP/2 is installed (C{twisted[http2]}), which a L{Site}
        names first: a client offering C{h2} and C{http/1.1} (curl,
        browsers, Go's default client) agreed on C{h2} and got HTTP/1.1,
        and one offering C{http/1.0} alone (C{curl --http1.0}) had its
        handshake failed.  Each is answered.
        """
        if ssl is None:
            raise SkipTest("the tls extra (pyOpenSSL, cryptography) is not installed")
        self.patch(http, "H2_ENABLED", True)
        clock = Clock()
        dispatcher = Dispatcher(clock, MemorySocket(router=True), instance="front1")
        site = makeStatsSite(dispatcher, clock)
        certificate, key = selfSignedCertificate("localhost")
        # One context for every connection, as a port has: a Twisted
        # before 26.4 sets the protocols on it at each (pyOpenSSL 26 then
        # refuses the second), so the site names none there, and no
        # protocol is agreed (negotiatesOnContext).
        server = TLSMemoryBIOFactory(
            ssl.PrivateCertificate.loadPEM(key + certificate).options(), False, site, clock
        )
        for offered, negotiated, version in [
            ([b"h2", b"http/1.1"], b"http/1.1", b"HTTP/1.1"),
            ([b"http/1.0"], b"http/1.0", b"HTTP/1.0"),
            ([b"h2", b"http/1.1"], b"http/1.1", b"HTTP/1.1"),
        ]:
            client = tlsClientFactory(certificate, offered, clock, ClientFactory())
            received = AccumulatingProtocol()
            clientProtocol, _, pump = connectedServerAndClient(
                partial(server.buildProtocol, None),
                partial(TLSMemoryBIOProtocol, client, received),
                clock=clock,
            )
            pump.flush()
            # (Read before the response: an HTTP/1.0 one closes the connection.)
            self.assertEqual(
                clientProtocol.negotiatedProtocol,
                negotiated if negotiatesOnContext(twisted.__version__) else None,
                offered,
            )
            clientProtocol.write(b"GET /healthz " + version + b"\r\nHost: localhost\r\n\r\n")
            pump.flush()
            self.assertTrue(received.data.startswith(version + b" 200 "), received.data)


class ConnectionGaugeTests(SynchronousTestCase):
    """
    The open client connections, and the limit on them.
    """

    def test_counted(self) -> None:
        """
        L{FrontMetrics.connections} follows the site's connections as they
        open and close, and the exposition shows it with the limit once it
        is known.
        """
        metrics = FrontMetrics()
        dispatcher = Dispatcher(Clock(), MemorySocket(router=True), instance="front1")
        site = FrontFactory(dispatcher, Clock(), metrics=metrics)
        channels = []
        for port in (1, 2):
            channel = site.buildProtocol(None)
            channel.makeConnection(
                StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.1", port))
            )
            channels.append(channel)
        self.assertEqual(metrics.connections, 2)
        found = samples(exposition(dispatcher, metrics))
        self.assertEqual(found[("txmp_client_connections", ())], 2)
        self.assertNotIn(("txmp_client_connections_limit", ()), found)
        channels[0].connectionLost(Failure(ConnectionDone()))
        metrics.connectionLimit = 768
        found = samples(exposition(dispatcher, metrics))
        self.assertEqual(found[("txmp_client_connections", ())], 1)
        self.assertEqual(found[("txmp_client_connections_limit", ())], 768)


class RefusalCountTests(SynchronousTestCase):
    """
    Requests the front refuses itself, before any handler, are counted.
    """

    def test_refusalCounted(self) -> None:
        """
        A request line too long (414) is counted by status.
        """
        metrics = FrontMetrics()
        dispatcher = Dispatcher(
            Clock(), MemorySocket(router=True), instance="front1",
        )
        site = FrontFactory(dispatcher, Clock(), metrics=metrics)
        channel = site.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.1", 1))
        channel.makeConnection(transport)
        channel.dataReceived(b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 414 "))
        self.assertEqual(metrics.statuses, {414: 1})
