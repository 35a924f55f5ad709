# -*- test-case-name: txmp.test.test_accept -*-
"""
Tests for L{txmp._accept}: the front's limit on open client connections.
"""

from __future__ import annotations

import resource

from twisted.internet.abstract import FileDescriptor
from twisted.internet.endpoints import TCP4ServerEndpoint, serverFromString
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from txmp import _front
from txmp._accept import AcceptLimit, defaultMaxConnections, raiseFileLimit, withBacklog
from txmp._defaults import (
    DEFAULT_BACKLOG,
    DESCRIPTOR_MARGIN,
    DESCRIPTOR_RETRY,
    FD_RESERVE,
    MAX_CONNECTIONS_LOG_INTERVAL,
    RECLAIM_ABORT,
    RECLAIM_IDLE,
)
from txmp._front import FrontConnection
from txmp.testing import (
    FakeFileLimits,
    FakePort,
    FakeTCPPort,
    FrontTestCase,
    ParsedResponse,
)

INFINITY = resource.RLIM_INFINITY


class RaiseFileLimitTests(SynchronousTestCase):
    """
    Tests for L{raiseFileLimit}.
    """

    def test_raised(self) -> None:
        """
        A soft limit below the hard one is raised to it.
        """
        limits = FakeFileLimits(1024, 524288)
        self.assertEqual(raiseFileLimit(limits.getrlimit, limits.setrlimit), (1024, 524288))
        self.assertEqual(limits.set, [(524288, 524288)])

    def test_alreadyAtHard(self) -> None:
        """
        A soft limit at the hard one is left alone.
        """
        limits = FakeFileLimits(4096, 4096)
        self.assertEqual(raiseFileLimit(limits.getrlimit, limits.setrlimit), (4096, 4096))
        self.assertEqual(limits.set, [])

    def test_unlimited(self) -> None:
        """
        No limit is set to infinity: the soft limit stays.
        """
        limits = FakeFileLimits(1024, INFINITY)
        self.assertEqual(raiseFileLimit(limits.getrlimit, limits.setrlimit), (1024, 1024))
        self.assertEqual(limits.set, [])

    def test_refused(self) -> None:
        """
        If the kernel refuses the new limit, the soft limit stays.
        """
        for error in (ValueError, OSError):
            limits = FakeFileLimits(1024, 4096, refuse=error)
            self.assertEqual(raiseFileLimit(limits.getrlimit, limits.setrlimit), (1024, 1024))


class DefaultMaxConnectionsTests(SynchronousTestCase):
    """
    Tests for L{defaultMaxConnections}.
    """

    def test_reserve(self) -> None:
        """
        L{FD_RESERVE} descriptors are kept for what is not a client.
        """
        self.assertEqual(defaultMaxConnections(524288), 524288 - FD_RESERVE)
        self.assertEqual(defaultMaxConnections(1024), 1024 - FD_RESERVE)

    def test_half(self) -> None:
        """
        Under a small limit, half of it is for clients.
        """
        self.assertEqual(defaultMaxConnections(300), 150)
        self.assertEqual(defaultMaxConnections(1), 1)


class AcceptLimitTests(SynchronousTestCase):
    """
    Tests for L{AcceptLimit}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.limit = AcceptLimit(self.clock, 3)
        self.ports = [FakePort(), FakePort()]
        for port in self.ports:
            self.limit.addPort(port)

    def test_pausedAtLimit(self) -> None:
        """
        Below the limit the ports accept; at it, every port is paused,
        once.
        """
        self.limit.connectionsChanged(1)
        self.limit.connectionsChanged(2)
        self.assertEqual([port.calls for port in self.ports], [[], []])
        self.limit.connectionsChanged(3)
        self.limit.connectionsChanged(4)
        self.assertTrue(self.limit.paused)
        self.assertEqual([port.calls for port in self.ports], [["pause"], ["pause"]])

    def test_resumedBelow(self) -> None:
        """
        When a connection closes below the limit, every port resumes.
        """
        self.limit.connectionsChanged(3)
        self.limit.connectionsChanged(2)
        self.limit.connectionsChanged(1)
        self.assertFalse(self.limit.paused)
        self.assertEqual(
            [port.calls for port in self.ports], [["pause", "resume"]] * 2
        )

    def test_portAddedWhilePaused(self) -> None:
        """
        A port that starts listening while the others are paused is paused
        too.
        """
        self.limit.connectionsChanged(3)
        late = FakePort()
        self.limit.addPort(late)
        self.assertEqual(late.calls, ["pause"])

    def test_notAProducer(self) -> None:
        """
        A port that is not a push producer is left out.
        """
        self.limit.addPort(object())
        self.limit.connectionsChanged(3)
        self.assertTrue(self.limit.paused)

    def test_batchWithinRoom(self) -> None:
        """
        A port that accepts connections in batches, which a pause does not
        stop, is kept to batches no larger than the room left below the
        limit (at least one): when it is added, when connections open or
        close, and once a batch is over (the port resets its batch size as
        it ends one, after the connections it opened were counted).
        """
        port = FakeTCPPort()
        self.limit.addPort(port)
        self.assertEqual(port.numberAccepts, 3)
        self.limit.connectionsChanged(1)
        self.assertEqual(port.numberAccepts, 2)
        # The end of the batch that opened it: a full one grows by 20.
        port.numberAccepts = 23
        self.clock.advance(0)
        self.assertEqual(port.numberAccepts, 2)
        self.limit.connectionsChanged(3)
        self.assertEqual(port.numberAccepts, 1)
        self.limit.connectionsChanged(2)
        self.assertEqual((port.calls, port.numberAccepts), (["pause", "resume"], 1))
        self.limit.connectionsChanged(0)
        self.assertEqual(port.numberAccepts, 1)

    def test_noCallFarFromLimit(self) -> None:
        """
        Far from the limit (more room than a batch can grow to), opening a
        connection schedules nothing: the default limit, the open files
        limit, costs no timed call per connection.  Near it, the batch is
        limited again once it is over.
        """
        limit = AcceptLimit(self.clock, 1000)
        port = FakeTCPPort()
        limit.addPort(port)
        limit.connectionsChanged(1)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        limit.connectionsChanged(880)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_admits(self) -> None:
        """
        A connection is admitted below the limit; one accepted at it is
        not, and is counted into the next warning.
        """
        self.assertTrue(self.limit.admits(2))
        with capturedLogs() as events:
            self.assertFalse(self.limit.admits(3))
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual([(e["open"], e["refused"]) for e in warnings], [(3, 1)])

    def test_reclaimed(self) -> None:
        """
        A connection that took the place of an idle one is counted into the
        next warning.
        """
        with capturedLogs() as events:
            self.limit.reclaimed(3)
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(
            [(e["open"], e["refused"], e["reclaimed"]) for e in warnings], [(3, 0, 1)]
        )

    def test_warnedOncePerInterval(self) -> None:
        """
        The first pause is logged as a warning with the limit; later ones
        within L{MAX_CONNECTIONS_LOG_INTERVAL} are counted into the next
        warning, not logged each.
        """
        with capturedLogs() as events:
            for _ in range(3):
                self.limit.connectionsChanged(3)
                self.limit.connectionsChanged(2)
            self.clock.advance(MAX_CONNECTIONS_LOG_INTERVAL)
            self.limit.connectionsChanged(3)
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(
            [(e["open"], e["limit"], e["pauses"]) for e in warnings], [(3, 3, 1), (3, 3, 3)]
        )


class DescriptorMarginTests(SynchronousTestCase):
    """
    L{AcceptLimit} keeps the last L{DESCRIPTOR_MARGIN} file descriptors
    below the open files limit from client connections, whatever
    C{--max-connections} says: libzmq aborts a front that cannot accept an
    C{ipc://} connection for want of one.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.limit = AcceptLimit(self.clock, 300, 128, highestDescriptor=lambda: 30)
        self.port = FakeTCPPort()
        self.limit.addPort(self.port)

    def test_defaults(self) -> None:
        """
        32 descriptors are kept, and the ports look again a second after a
        refusal.
        """
        self.assertEqual((DESCRIPTOR_MARGIN, DESCRIPTOR_RETRY), (32, 1.0))

    def test_ceiling(self) -> None:
        """
        A connection may have a descriptor below the open files limit less
        the margin; one whose descriptor is not known, or under an
        unlimited limit or none given, always may.
        """
        self.assertEqual(self.limit.ceiling, 96)
        self.assertTrue(self.limit.hasDescriptor(95))
        self.assertFalse(self.limit.hasDescriptor(96))
        self.assertTrue(self.limit.hasDescriptor(None))
        for fileLimit in [None, INFINITY]:
            limit = AcceptLimit(self.clock, 300, fileLimit, highestDescriptor=lambda: 30)
            self.assertTrue(limit.hasDescriptor(10**6))

    def test_firstBatch(self) -> None:
        """
        A port's first batch (a hundred) is kept below the ceiling from the
        highest descriptor open when it is added, as the next ones are from
        the last connection's (descriptors are given lowest first).
        """
        self.assertEqual(self.port.numberAccepts, 96 - 30 - 1)
        self.limit.hasDescriptor(90)
        self.limit.connectionsChanged(60)
        self.assertEqual(self.port.numberAccepts, 5)
        # Refused, it sets the batch size again too, once the batch is over.
        self.clock.advance(0)
        self.port.numberAccepts = 25
        self.assertFalse(self.limit.hasDescriptor(96))
        self.limit.descriptorRefused(60, 96)
        self.clock.advance(0)
        self.assertEqual(self.port.numberAccepts, 1)

    def test_batchFromHighest(self) -> None:
        """
        A connection given a lower descriptor than one before (a hole that a
        closed connection left) does not widen the batch: the descriptors
        above it, up to the highest given, may all be in use, and a batch
        of Twisted's is not stopped by a refusal, whose descriptor closes
        only after it.  The highest open is read again once the ports were
        starved.
        """
        self.limit.hasDescriptor(90)
        self.limit.connectionsChanged(60)
        self.assertEqual(self.port.numberAccepts, 5)
        # The batch grown by the port (20 more after a full one), as a
        # connection gets a lower descriptor.
        self.port.numberAccepts = 25
        self.limit.hasDescriptor(20)
        self.limit.connectionsChanged(61)
        self.clock.advance(0)
        self.assertEqual(self.port.numberAccepts, 5)
        # Starved, then a connection closes: the highest is read again, and
        # a batch may grow to the room above it.
        self.limit._highestDescriptor = lambda: 40
        self.limit.descriptorRefused(61, 96)
        self.limit.connectionsChanged(60)
        self.port.numberAccepts = 100
        self.limit.connectionsChanged(61)
        self.assertEqual(self.port.numberAccepts, 96 - 40 - 1)

    def test_refusedPausesUntilClosed(self) -> None:
        """
        A connection given a descriptor of the margin is refused, and the
        ports stop accepting until a connection closes, with a warning that
        says why.
        """
        self.limit.connectionsChanged(66)
        with capturedLogs() as events:
            self.assertFalse(self.limit.descriptorRefused(66, 96))
            self.assertFalse(self.limit.descriptorRefused(66, 97))
        self.assertEqual(self.port.calls, ["pause"])
        [warning] = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(
            formatEvent(warning),
            "66 client connections open, and a new one was given file descriptor"
            " 96, within 32 of the open files limit (128), which are kept for"
            " handlers' ZeroMQ connections and spawned handlers: it was closed,"
            " and new clients wait in the listen backlog until a connection"
            " closes; connections closed so since the last such line: 1; raise"
            " the limit (ulimit -n, LimitNOFILE=) or lower --max-connections (300)",
        )
        self.limit.connectionsChanged(67)
        self.assertEqual(self.port.calls, ["pause"])
        self.limit.connectionsChanged(66)
        self.assertEqual(self.port.calls, ["pause", "resume"])
        self.clock.advance(DESCRIPTOR_RETRY)
        self.assertEqual(self.port.calls, ["pause", "resume"])

    def test_refusedLooksAgain(self) -> None:
        """
        With no connection closing (the descriptors may be held by others:
        handlers' connections), the ports accept again after
        L{DESCRIPTOR_RETRY} seconds, one at a time.
        """
        self.limit.connectionsChanged(10)
        self.limit.hasDescriptor(96)
        self.limit.descriptorRefused(10, 96)
        self.clock.advance(DESCRIPTOR_RETRY - 0.001)
        self.assertEqual(self.port.calls, ["pause"])
        self.clock.advance(0.001)
        self.assertEqual((self.port.calls, self.port.numberAccepts), (["pause", "resume"], 1))

    def test_stop(self) -> None:
        """
        A stopped limit looks again no more.
        """
        self.limit.descriptorRefused(10, 96)
        self.limit.stop()
        self.clock.advance(DESCRIPTOR_RETRY)
        self.assertEqual(self.port.calls, ["pause"])

    def test_descriptorOf(self) -> None:
        """
        L{_front._descriptorOf} finds a connection's socket's descriptor, under
        a TLS layer too; a transport without one has none.
        """

        class Socket(FileDescriptor):
            def fileno(self) -> int:
                return 42

        class Wrapper:
            transport = Socket()

        self.assertEqual(_front._descriptorOf(Socket()), 42)
        self.assertEqual(_front._descriptorOf(Wrapper()), 42)
        self.assertIsNone(_front._descriptorOf(StringTransport()))


class FrontFactoryLimitTests(FrontTestCase):
    """
    L{txmp._front.FrontFactory} tells its L{AcceptLimit} how many
    connections are open.
    """

    def test_countsConnections(self) -> None:
        """
        The ports pause when the factory's connections reach the limit, and
        resume when one of them closes.
        """
        port = FakePort()
        self.site.acceptLimit = limit = AcceptLimit(self.clock, 2)
        limit.addPort(port)
        first, _ = self.connect()
        self.assertEqual(port.calls, [])
        self.connect()
        self.assertEqual(port.calls, ["pause"])
        self.disconnect(first)
        self.assertEqual(port.calls, ["pause", "resume"])

    def test_overLimitClosed(self) -> None:
        """
        A connection accepted while the limit's worth are open (in the
        batch under way when the ports paused) is aborted at once and not
        counted: the ports stay paused, and resume only when one of those
        counted closes.
        """
        port = FakePort()
        self.site.acceptLimit = limit = AcceptLimit(self.clock, 1)
        limit.addPort(port)
        first, _ = self.connect()
        extra, transport = self.connect()
        self.assertTrue(transport.disconnected)
        self.assertEqual(self.site.connections, {first})
        self.disconnect(extra)
        self.assertEqual(port.calls, ["pause"])
        self.disconnect(first)
        self.assertEqual(port.calls, ["pause", "resume"])


    def test_descriptorMarginRefused(self) -> None:
        """
        A connection given one of the last descriptors below the open files
        limit is refused however few are open, and does not take the place
        of an idle one (whose descriptor, lower, the next client would
        take): ZeroMQ keeps them.
        """
        port = FakePort()
        self.site.acceptLimit = limit = AcceptLimit(
            self.clock, 1, 128, highestDescriptor=lambda: 30
        )
        limit.addPort(port)
        self.assertTrue(self.site.admits(95))
        self.assertFalse(self.site.admits(96))
        first, transport = self.connect()
        self.clock.advance(RECLAIM_IDLE)
        self.assertFalse(self.site.admits(96))
        self.assertEqual(self.site.connections, {first})
        self.assertFalse(transport.disconnecting)


class IdleReclaimTests(FrontTestCase):
    """
    At C{--max-connections}, a L{txmp._front.FrontFactory} lets a new
    client take the place of the connection idle the longest since its
    last response, if for L{RECLAIM_IDLE} at least, closed for it; its
    ports stop accepting only while none is.
    """

    def setUp(self) -> None:
        FrontTestCase.setUp(self)
        self.port = FakePort()
        self.site.acceptLimit = self.limit = AcceptLimit(self.clock, 3)
        self.limit.addPort(self.port)

    def answered(
        self, transport: StringTransport | None = None
    ) -> tuple[FrontConnection, StringTransport]:
        """
        A connection kept alive after its response, idle from now, over
        C{transport} (a new L{StringTransport} by default).
        """
        channel, transport = self.connect(transport=transport)
        channel.dataReceived(b"GET /path HTTP/1.1\r\nHost: example.com\r\n\r\n")
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        response = ParsedResponse(transport.value())
        self.assertTrue(response.complete)
        self.assertEqual(response.header(b"connection"), [])
        self.assertFalse(transport.disconnecting)
        return channel, transport

    def test_idleKeepsAccepting(self) -> None:
        """
        At the limit, the ports stop while no connection has been idle for
        L{RECLAIM_IDLE} since its last response, accept again once one
        has, and stop once it begins another request.
        """
        idle, _ = self.answered()
        self.get()
        self.get()
        self.assertEqual(self.port.calls, ["pause"])
        self.clock.advance(RECLAIM_IDLE - 0.1)
        self.assertEqual(self.port.calls, ["pause"])
        self.clock.advance(0.1)
        self.assertEqual(self.port.calls, ["pause", "resume"])
        idle.dataReceived(b"GET /again HTTP/1.1\r\n")
        self.assertEqual(self.port.calls, ["pause", "resume", "pause"])

    def test_idlestClosed(self) -> None:
        """
        A connection accepted at the limit takes the place of the one idle
        the longest: that one is closed, not the one idle since later nor
        one answering a request, and the new one is served.
        """
        _older, olderTransport = self.answered()
        self.clock.advance(1)
        _newer, newerTransport = self.answered()
        _busy, busyTransport = self.get()
        self.clock.advance(RECLAIM_IDLE)
        self.assertEqual(len(self.site.connections), 3)
        _new, newTransport = self.get()
        self.assertEqual(
            [t.disconnecting for t in (olderTransport, newerTransport, busyTransport)],
            [True, False, False],
        )
        self.assertFalse(newTransport.disconnecting)
        self.assertEqual(len(self.requestsSent()), 4)

    def test_recentlyIdleKept(self) -> None:
        """
        A connection idle for less than L{RECLAIM_IDLE} is not closed for a
        new one (its client is likely to send its next request at once): a
        connection accepted at the limit all the same is refused.
        """
        _idle, idleTransport = self.answered()
        self.get()
        self.get()
        self.clock.advance(RECLAIM_IDLE / 2)
        _extra, extraTransport = self.connect()
        self.assertEqual(
            (idleTransport.disconnecting, extraTransport.disconnecting), (False, True)
        )

    def test_idleOrder(self) -> None:
        """
        Idle means idle since the last response: a connection idle first
        that has answered another request since is closed after those idle
        longer than that.
        """
        first, firstTransport = self.answered()
        _second, secondTransport = self.answered()
        first.dataReceived(b"GET /again HTTP/1.1\r\nHost: example.com\r\n\r\n")
        self.respond(self.lastRequest().requestId, body=[b"ok"])
        self.get()
        self.clock.advance(RECLAIM_IDLE)
        self.get()
        self.assertEqual(
            (firstTransport.disconnecting, secondTransport.disconnecting), (False, True)
        )

    def test_neverUsedTaken(self) -> None:
        """
        A connection that has sent no request since it opened is idle
        since then, as nginx takes its connections waiting for a first
        request for reusable: at the limit, one accepted L{RECLAIM_IDLE}
        after it takes its place (it is closed), not one accepted sooner.
        """
        _silent, silentTransport = self.connect()
        self.get()
        self.get()
        self.assertEqual(self.port.calls, ["pause"])
        self.clock.advance(RECLAIM_IDLE - 0.1)
        _early, earlyTransport = self.connect()
        self.assertEqual(
            (earlyTransport.disconnecting, silentTransport.disconnecting),
            (True, False),
        )
        self.clock.advance(0.1)
        self.assertEqual(self.port.calls, ["pause", "resume"])
        _new, newTransport = self.get()
        self.assertEqual(
            (newTransport.disconnecting, silentTransport.disconnecting), (False, True)
        )
        self.assertEqual(len(self.requestsSent()), 3)

    def test_firstRequestNotIdle(self) -> None:
        """
        A new connection that has begun its first request is not idle: at
        the limit, none is taken for a new client.
        """
        partial, partialTransport = self.connect()
        partial.dataReceived(b"GET /path HTTP/1.1\r\n")
        self.get()
        self.get()
        self.clock.advance(RECLAIM_IDLE)
        self.assertEqual(self.port.calls, ["pause"])
        _extra, extraTransport = self.connect()
        self.assertEqual(
            (extraTransport.disconnecting, partialTransport.disconnecting),
            (True, False),
        )

    def test_idleResumes(self) -> None:
        """
        At the limit with every connection busy, the ports stop; a response
        that leaves its connection idle starts them again once it has been
        for L{RECLAIM_IDLE}.
        """
        self.get()
        self.get()
        self.get()
        requestId = self.lastRequest().requestId
        self.assertEqual(self.port.calls, ["pause"])
        self.respond(requestId, body=[b"ok"])
        self.clock.advance(RECLAIM_IDLE)
        self.assertEqual(self.port.calls, ["pause", "resume"])

    def test_closedNotIdle(self) -> None:
        """
        An idle connection that closed is not closed again for a new one,
        and the ports stop once no idle one is left.
        """
        idle, _ = self.answered()
        self.get()
        self.clock.advance(RECLAIM_IDLE)
        self.get()
        self.disconnect(idle)
        self.get()
        self.assertEqual(self.port.calls, ["pause"])

    def test_reclaimedAborted(self) -> None:
        """
        A connection closed for a new one that is not gone
        L{RECLAIM_ABORT} seconds later (a TLS client that does not answer
        the close) is aborted, not left to C{ABORT_TIMEOUT}.
        """
        _idle, idleTransport = self.answered(StringTransport())
        self.get()
        self.get()
        self.clock.advance(RECLAIM_IDLE)
        self.get()
        self.assertTrue(idleTransport.disconnecting)
        self.clock.advance(RECLAIM_ABORT - 0.1)
        self.assertFalse(idleTransport.disconnected)
        self.clock.advance(0.1)
        self.assertTrue(idleTransport.disconnected)

    def test_reclaimsPendingBounded(self) -> None:
        """
        While L{RECLAIM_PENDING} connections closed for new ones are still
        open (each holds a descriptor beyond the limit), no other is
        closed for a new one: the ports stop, and a connection accepted
        all the same is refused; once one is gone, they go on.
        """
        self.patch(_front, "RECLAIM_PENDING", 1)
        first, firstTransport = self.answered()
        _second, secondTransport = self.answered()
        self.get()
        self.clock.advance(RECLAIM_IDLE)
        self.get()
        self.assertEqual(
            (firstTransport.disconnecting, secondTransport.disconnecting), (True, False)
        )
        # (Resumed when the first had been idle long enough.)
        self.assertEqual(self.port.calls, ["pause", "resume", "pause"])
        _extra, extraTransport = self.connect()
        self.assertTrue(extraTransport.disconnecting)
        self.assertFalse(secondTransport.disconnecting)
        self.disconnect(first)
        self.assertEqual(self.port.calls, ["pause", "resume", "pause", "resume"])
        self.get()
        self.assertTrue(secondTransport.disconnecting)

    def test_closedForgotten(self) -> None:
        """
        Below the limit, a connection that closed after its response is
        forgotten at once (no idle connection kept for ever).
        """
        idle, _ = self.answered()
        self.disconnect(idle)
        self.assertEqual(self.site._idle, {})

    def test_stoppedLooksNoMore(self) -> None:
        """
        Once the factory stops, it does not look again at a connection
        idle for less than L{RECLAIM_IDLE}: the ports, closed, are not
        resumed.
        """
        self.answered()
        self.get()
        self.get()
        self.site.stopFactory()
        self.clock.advance(RECLAIM_IDLE)
        self.assertEqual(self.port.calls, ["pause"])


class WithBacklogTests(SynchronousTestCase):
    """
    Tests for L{withBacklog}, the listen backlog of the front's endpoints.
    """

    def test_added(self) -> None:
        """
        A C{tcp:}, C{tcp6:}, C{unix:} or C{ssl:} endpoint that names no
        backlog gets L{DEFAULT_BACKLOG} (nginx's), not Twisted's 50.
        """
        for description in [
            "tcp:8080",
            "tcp:8080:interface=127.0.0.1",
            "TCP6:port=8080:interface=\\:\\:",
            "unix:/run/txmp/http.sock:mode=666",
            "ssl:443:privateKey=key.pem:certKey=cert.pem",
        ]:
            self.assertEqual(
                withBacklog(description), f"{description}:backlog={DEFAULT_BACKLOG}"
            )
        self.assertEqual(DEFAULT_BACKLOG, 511)

    def test_kept(self) -> None:
        """
        An endpoint that names its own backlog, one of a type that takes
        none, and one that ends in an escaping backslash are left as given.
        """
        for description in [
            "tcp:8080:backlog=10",
            "systemd:domain=INET:index=0",
            "le:/certs:tcp:443",
            "unix:/tmp/odd\\",
        ]:
            self.assertEqual(withBacklog(description), description)

    def test_parsed(self) -> None:
        """
        What it makes is an endpoint Twisted parses, with that backlog.
        """
        endpoint = serverFromString(MemoryReactorClock(), withBacklog("tcp:8080"))
        assert isinstance(endpoint, TCP4ServerEndpoint)
        self.assertEqual(endpoint._backlog, DEFAULT_BACKLOG)
