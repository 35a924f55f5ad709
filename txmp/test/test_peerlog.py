# -*- test-case-name: txmp.test.test_peerlog -*-
"""
Tests for L{txmp._peerlog}: paced warnings about peers, and labels peers
chose made safe for a log line.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from txmp._defaults import (
    LOG_NAME_LENGTH,
    PEER_LOG_BURST,
    PEER_LOG_INTERVAL,
    PEER_LOG_KIND_BURST,
)
from txmp._peerlog import PacedLog, idText, printable
from txmp._zmq import newRoutingId

P = b"\x01peer"
Q = b"\x02peer"


class PacedLogTests(SynchronousTestCase):
    """
    L{PacedLog} writes the first lines of a peer's kind of trouble, then
    one summary per interval.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.events: list[LogEvent] = []
        self.logger = Logger(observer=cast(ILogObserver, self.events.append))
        self.log = PacedLog(self.clock)

    def lines(self) -> list[str]:
        """
        The lines written so far, formatted.
        """
        return [formatEvent(e) for e in self.events]

    def flood(self, count: int, peer: bytes = P, kind: str = "bad messages") -> None:
        """
        Warn C{count} times about C{peer}.
        """
        for i in range(count):
            self.log.warn(
                self.logger, peer, kind, "bad message {i} from {peer}", i=i, peer=peer.hex()
            )

    def test_defaults(self) -> None:
        """
        By default, L{PEER_LOG_BURST} lines per L{PEER_LOG_INTERVAL}, and
        L{PEER_LOG_KIND_BURST} of one kind from all peers.
        """
        self.assertEqual(
            (self.log.burst, self.log.interval, self.log.kindBurst),
            (PEER_LOG_BURST, PEER_LOG_INTERVAL, PEER_LOG_KIND_BURST),
        )

    def test_firstLogged(self) -> None:
        """
        The first L{PEER_LOG_BURST} warnings about a peer are written as
        given, at the warn level; the rest are not, and no summary comes
        before the interval has passed.
        """
        self.flood(PEER_LOG_BURST + 5)
        self.assertEqual(
            self.lines(),
            ["bad message %d from %s" % (i, P.hex()) for i in range(PEER_LOG_BURST)],
        )
        self.assertEqual({e["log_level"] for e in self.events}, {LogLevel.warn})
        self.clock.advance(PEER_LOG_INTERVAL - 0.001)
        self.assertEqual(len(self.events), PEER_LOG_BURST)

    def test_summary(self) -> None:
        """
        Once the interval has passed, one line says how many were not
        written, from which peer, in how long, and what the last said; the
        count is exact.
        """
        self.flood(100000)
        self.clock.advance(PEER_LOG_INTERVAL)
        self.assertEqual(len(self.events), PEER_LOG_BURST + 1)
        summary = self.events[-1]
        self.assertEqual(summary["count"], 100000 - PEER_LOG_BURST)
        self.assertEqual(summary["log_level"], LogLevel.warn)
        self.assertEqual(
            self.lines()[-1],
            "... and 99990 more bad messages from peer %s in the last 10 s"
            " (not logged; the last: bad message 99999 from %s)" % (idText(P), P.hex()),
        )

    def test_floodGoesOn(self) -> None:
        """
        While a peer keeps on, each later interval writes its summary
        only, with that interval's exact count; an interval without any
        of its lines starts the count again, with L{PEER_LOG_BURST} lines.
        """
        self.flood(50)
        self.clock.advance(PEER_LOG_INTERVAL)
        self.flood(7)
        self.clock.advance(PEER_LOG_INTERVAL / 2)
        self.flood(3)
        self.assertEqual(len(self.events), PEER_LOG_BURST + 1)
        self.clock.advance(PEER_LOG_INTERVAL / 2)
        self.assertEqual(len(self.events), PEER_LOG_BURST + 2)
        self.assertEqual(self.events[-1]["count"], 10)
        # Nothing for an interval: no summary, and the count starts again.
        self.clock.advance(PEER_LOG_INTERVAL)
        self.assertEqual(len(self.events), PEER_LOG_BURST + 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.flood(PEER_LOG_BURST)
        self.assertEqual(len(self.events), 2 * PEER_LOG_BURST + 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_fewNoSummary(self) -> None:
        """
        A peer with no more than L{PEER_LOG_BURST} lines in an interval has
        them all written, and no summary or timer.
        """
        self.flood(PEER_LOG_BURST)
        self.clock.advance(PEER_LOG_INTERVAL)
        self.flood(PEER_LOG_BURST)
        self.assertEqual(len(self.events), 2 * PEER_LOG_BURST)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_perPeerAndKind(self) -> None:
        """
        Each peer, and each kind of line about a peer, has its own count.
        """
        self.flood(20, P)
        self.flood(20, Q)
        self.flood(20, P, "credits over the cap")
        self.assertEqual(len(self.events), 3 * PEER_LOG_BURST)
        self.clock.advance(PEER_LOG_INTERVAL)
        summaries = sorted(
            (e["peer"], e["kind"], e["count"]) for e in self.events[3 * PEER_LOG_BURST:]
        )
        self.assertEqual(
            summaries,
            [
                ("peer " + idText(P), "bad messages", 10),
                ("peer " + idText(P), "credits over the cap", 10),
                ("peer " + idText(Q), "bad messages", 10),
            ],
        )

    def test_boundedPeers(self) -> None:
        """
        At most C{maxPeers} peers are counted apart: past that, a new peer
        shares the count of other peers, while the old ones' intervals run;
        one whose interval ended without a summary pending is forgotten to
        make room.
        """
        log = PacedLog(self.clock, burst=1, maxPeers=2)
        for peer in [P, Q, b"\x03", b"\x04", b"\x05"]:
            log.warn(self.logger, peer, "bad", "from {peer}", peer=peer.hex())
        self.assertEqual(self.lines(), ["from " + P.hex(), "from " + Q.hex(), "from 03"])
        self.clock.advance(PEER_LOG_INTERVAL)
        self.assertEqual(self.events[-1]["peer"], "other peers")
        self.assertEqual(self.events[-1]["count"], 2)
        # Every interval has ended: P's is forgotten for the new one's.
        log.warn(self.logger, b"\x06", "bad", "from {peer}", peer="06")
        self.assertEqual(self.lines()[-1], "from 06")
        self.assertEqual(len(log._windows), 2)

    def test_kindBounded(self) -> None:
        """
        At most L{PEER_LOG_KIND_BURST} lines of one kind are written in an
        interval from all peers together: a peer making up a new routing
        id for each line (a new ZeroMQ socket a connection) has the rest
        counted with other peers, remembered once, and summarised at the
        interval's end.  The next interval writes lines again, and other
        kinds keep their own count.
        """
        peers = [b"rogue%d" % (i,) for i in range(3 * PEER_LOG_KIND_BURST)]
        for peer in peers:
            self.log.emit(LogLevel.info, self.logger, peer, "registrations", "joined {p}", p=peer)
        self.assertEqual(len(self.events), PEER_LOG_KIND_BURST)
        self.assertEqual(self.log.remembered(), PEER_LOG_KIND_BURST + 1)
        self.flood(1, Q)
        self.assertEqual(len(self.events), PEER_LOG_KIND_BURST + 1)
        self.clock.advance(PEER_LOG_INTERVAL)
        summary = self.events[-1]
        self.assertEqual(
            (summary["peer"], summary["kind"], summary["count"]),
            ("other peers", "registrations", 2 * PEER_LOG_KIND_BURST),
        )
        self.log.emit(LogLevel.info, self.logger, b"honest", "registrations", "joined")
        self.assertEqual(self.lines()[-1], "joined")

    def test_knownPeerPastKindBurst(self) -> None:
        """
        Once a kind has had its L{PEER_LOG_KIND_BURST} lines in an
        interval, a peer with lines of its own left in that interval has
        them counted too, in its own summary.
        """
        log = PacedLog(self.clock, kindBurst=3)
        log.warn(self.logger, P, "bad", "from P")
        log.warn(self.logger, Q, "bad", "from Q")
        log.warn(self.logger, b"\x03", "bad", "from 03")
        log.warn(self.logger, P, "bad", "from P again")
        self.assertEqual(self.lines(), ["from P", "from Q", "from 03"])
        self.clock.advance(PEER_LOG_INTERVAL)
        self.assertEqual(
            (self.events[-1]["peer"], self.events[-1]["count"]),
            ("peer " + idText(P), 1),
        )

    def test_kindBoundedSummaries(self) -> None:
        """
        Summaries count among a kind's lines: many peers, each keeping its
        id and flooding past its own burst, have at most
        L{PacedLog.kindBurst} lines of the kind written in an interval,
        summaries included, and one summary of other peers, which counts
        the rest; every line is counted once.
        """
        log = PacedLog(self.clock, burst=1, kindBurst=3)
        peers = [b"peer%d" % (i,) for i in range(20)]
        sent = 0
        for _ in range(12):
            # An interval: the summaries of the last, then its own lines.
            before = len(self.events)
            self.clock.advance(PEER_LOG_INTERVAL)
            for peer in peers:
                for _ in range(2):
                    log.warn(self.logger, peer, "bad", "from {peer}", peer=peer)
                    sent += 1
            self.assertLessEqual(len(self.events) - before, 3 + 1)
        log.flush()
        summaries = [e for e in self.events if "count" in e]
        self.assertEqual(
            len(self.events) - len(summaries) + sum(e["count"] for e in summaries), sent
        )

    def test_emitAtLevel(self) -> None:
        """
        L{PacedLog.emit} paces lines of another level as L{PacedLog.warn}
        does its warnings: the first L{PEER_LOG_BURST} are written at that
        level, and the summary of the rest is a warning.
        """
        for i in range(PEER_LOG_BURST + 4):
            self.log.emit(LogLevel.info, self.logger, P, "joins", "joined {i}", i=i)
        self.assertEqual(self.lines(), ["joined %d" % (i,) for i in range(PEER_LOG_BURST)])
        self.assertEqual({e["log_level"] for e in self.events}, {LogLevel.info})
        self.clock.advance(PEER_LOG_INTERVAL)
        self.assertEqual(self.events[-1]["log_level"], LogLevel.warn)
        self.assertEqual(
            self.lines()[-1],
            "... and 4 more joins from peer %s in the last 10 s"
            " (not logged; the last: joined %d)" % (idText(P), PEER_LOG_BURST + 3),
        )

    def test_flush(self) -> None:
        """
        L{PacedLog.flush} writes the summaries pending, cancels their
        timers and forgets every count.
        """
        self.flood(PEER_LOG_BURST + 3)
        self.log.flush()
        self.assertEqual(self.events[-1]["count"], 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.flood(1)
        self.assertEqual(self.lines()[-1], "bad message 0 from %s" % (P.hex(),))


class PrintableTests(SynchronousTestCase):
    """
    L{printable} makes a label a peer chose safe for a log line.
    """

    def test_unchanged(self) -> None:
        """
        A short label of printable characters, non-ASCII ones included, is
        unchanged.
        """
        for name in ["web1:4242", "h\u00e9", "x" * LOG_NAME_LENGTH]:
            self.assertEqual(printable(name), name)

    def test_long(self) -> None:
        """
        A label longer than L{LOG_NAME_LENGTH} is cut there, with C{...}.
        """
        self.assertEqual(printable("y" * 1000), "y" * LOG_NAME_LENGTH + "...")

    def test_controls(self) -> None:
        """
        Control characters (C0, DEL, C1, and Unicode's line separators) are
        written as escapes: a name cannot start a log line of its own, nor
        move a terminal's cursor.
        """
        self.assertEqual(
            printable("a\nb\r\x1b[2J\x7f\x85\u2028"),
            "a\\x0ab\\x0d\\x1b[2J\\x7f\\x85\\u2028",
        )


class PacedLogMemoryTests(SynchronousTestCase):
    """
    What L{PacedLog} remembers stays within what the last interval saw.
    """

    def test_endedForgotten(self) -> None:
        """
        The intervals of peers quiet for an interval are forgotten at the
        next line: a front whose handlers come and go (recycled every
        second for days) does not remember every one that ever joined, up
        to L{PacedLog.maxPeers}.
        """
        clock = Clock()
        log = PacedLog(clock)
        logger = Logger(observer=cast(ILogObserver, lambda event: None))
        for n in range(100):
            log.emit(LogLevel.info, logger, b"peer%d" % (n,), "registrations", "joined")
            clock.advance(1)
        # Those of the last 10 s only (the one that began 10 s ago ended).
        self.assertEqual(log.remembered(), 10)
        clock.advance(10)
        log.emit(LogLevel.info, logger, b"last", "registrations", "joined")
        self.assertEqual(log.remembered(), 1)

    def test_pendingKept(self) -> None:
        """
        An interval with a summary pending is not forgotten before its
        summary is written: the lines it did not write are said.
        """
        clock = Clock()
        log = PacedLog(clock, burst=1)
        lines: list[str] = []
        logger = Logger(
            observer=cast(ILogObserver, lambda event: lines.append(formatEvent(event)))
        )
        log.warn(logger, b"a", "bad messages", "bad")
        log.warn(logger, b"a", "bad messages", "bad")
        clock.advance(9.9)
        log.warn(logger, b"b", "bad messages", "bad")
        self.assertEqual(log.remembered(), 2)
        clock.advance(0.1)
        self.assertEqual(len(lines), 3)
        self.assertIn("1 more bad messages from peer a", lines[-1])


class IdTextTests(SynchronousTestCase):
    """
    L{idText} writes an id a peer chose as the front's and the handler's
    log lines, C{/metrics} and C{environ["txmp.request_id"]} all write it.
    """

    def test_txmpIds(self) -> None:
        """
        txmp's own ids (a handler's routing id, hexadecimal digits; a
        front's request id and its retry's) are written as they are: as
        C{/metrics} labels the handler, so that a log line about the peer
        can be matched with its metrics.
        """
        identity = newRoutingId()
        self.assertEqual(idText(identity), identity.decode("ascii"))
        for text in ["handler-a", "8503d8fd43009688.1", "8503d8fd43009688.1/2", "a_b:c+d="]:
            self.assertEqual(idText(text.encode("ascii")), text)

    def test_otherIds(self) -> None:
        """
        Any other id, libzmq's own (a zero byte first), one with a control,
        a space or a non-ASCII byte, is C{0x} and its bytes in hexadecimal,
        whole: nothing a peer chose can start a line, read as words of one,
        or pass for another id, one that starts with C{0x} included.
        """
        self.assertEqual(idText(b"\x00k\x8bEg"), "0x006b8b4567")
        self.assertEqual(idText(b"a\nb"), "0x610a62")
        self.assertEqual(idText("é".encode()), "0xc3a9")
        self.assertEqual(idText(b"x (handler web1)"), "0x" + b"x (handler web1)".hex())
        self.assertEqual(idText(b"0x0102"), "0x307830313032")
        self.assertNotEqual(idText(b"0x0102"), idText(b"\x01\x02"))
        self.assertEqual(idText(b"a" * 300), "a" * 300)
