# -*- test-case-name: txmp.test.test_peerlog -*-
"""
What the front logs about its ZeroMQ peers, made safe against a peer that
misbehaves on purpose: a bounded rate of lines per peer and kind of
trouble (L{PacedLog}), and text a peer chose (a handler's C{HELLO} name)
cut short and its control characters escaped (L{printable}, which a
handler's L{txmp._wsgi.Mounted} uses too, for a client's path).

Both are for error paths only: nothing here runs for a request that goes
well.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Callable

from attrs import define, field
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel, formatEvent

from txmp._defaults import (
    LOG_NAME_LENGTH,
    PEER_LOG_BURST,
    PEER_LOG_INTERVAL,
    PEER_LOG_KEYS,
    PEER_LOG_KIND_BURST,
)
from txmp._interfaces import cancelCall

# C0 controls, DEL and C1 controls: what a terminal or a log reader may
# take for a line break or an escape sequence.  Each is written as \xNN.
_CONTROLS = {
    **{c: "\\x%02x" % (c,) for c in range(0x20)},
    **{c: "\\x%02x" % (c,) for c in range(0x7F, 0xA0)},
    # Unicode's line and paragraph separators.
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}

#: The peer L{PacedLog} files lines under once it keeps L{PEER_LOG_KEYS}
#: others.
OTHER_PEERS = b""


def printable(text: str, length: int = LOG_NAME_LENGTH) -> str:
    """
    C{text}, a label a peer chose, as the front writes it in a log line (or
    a client's path, as a handler does): at most C{length} characters of
    it, then C{...} if there was more, each control character written as
    C{\\xNN}, so that it can neither make a line as long as it likes nor
    start one that looks like the process's own.

    @param text: the text the peer sent (a C{HELLO}'s C{name}, an
        C{ERROR}'s message), or the client's.
    @param length: how many of its characters to show.
    @return: text the same as C{text} when C{text} is short and has no
        control character.
    """
    if len(text) > length:
        text = text[:length] + "..."
    return text.translate(_CONTROLS)


#: The characters an id is written as it is with: what txmp's own ids use
#: (hexadecimal digits, a front's "INSTANCE.N" request ids and their
#: retries' "/N"), none that could start a line or pass for words of it.
_ID_TEXT = re.compile(rb"[0-9A-Za-z._:/+=-]+")


def idText(identifier: bytes) -> str:
    """
    An opaque id a peer chose, a ZeroMQ routing id or a request id, as log
    lines, C{/metrics} (its C{id} label) and C{environ["txmp.request_id"]}
    write it: as it is when it holds only letters, digits and C{._:/+=-}, as
    txmp's own ids do (a handler's routing id, L{txmp._zmq.newRoutingId}; a
    front's request ids), so that a line names a handler as C{/metrics}
    does; else C{0x} and its bytes in hexadecimal, whole (libzmq's own
    routing ids, for a peer that set none, start with a zero byte), so that
    no id can start a line, read as words of one (C{x (handler web1)}), or
    be mistaken for another's (one that starts with C{0x} is written in
    hexadecimal too).
    """
    # (Matched as bytes: every request's environ has one.)
    if _ID_TEXT.fullmatch(identifier) and not identifier.startswith(b"0x"):
        return identifier.decode("ascii")
    return "0x" + identifier.hex()


def someIds(requestIds: Sequence[bytes], most: int = 10) -> str:
    """
    C{requestIds} for a log line: the first C{most} of them in
    parentheses, then how many more; nothing if there are none.
    """
    if not requestIds:
        return ""
    shown = " ".join(r.decode("ascii", "replace") for r in requestIds[:most])
    more = len(requestIds) - most
    return f" ({shown}{f' and {more} more' if more > 0 else ''})"


def _routingId(peer: bytes) -> str:
    """
    A peer as the front's summaries name it: by its routing id, as its
    other lines do (L{idText}).
    """
    return "peer " + idText(peer)


@define(slots=False, eq=False, repr=False)
class _Window:
    """
    One peer's lines of one kind in the current interval.

    @ivar start: when the interval began.
    @ivar logged: lines written in it.
    @ivar suppressed: lines not written in it, for the summary.
    @ivar last: the last of those, as a log event's format and fields.
    @ivar log: the logger of the last line, for the summary.
    @ivar summary: the call that writes the summary at the interval's end.
    """

    start: float
    logged: int = 0
    suppressed: int = 0
    last: dict[str, object] = field(factory=dict)
    log: Logger | None = None
    summary: IDelayedCall | None = None


class PacedLog:
    """
    Warnings about peers, at most L{burst} lines per peer and kind of
    trouble in an interval of L{interval} seconds, as nginx and HAProxy
    limit theirs: the first ones are written, the rest counted, and at the
    interval's end one line says how many were not written (with the last
    of them).  While a peer keeps on, each later interval writes that one
    summary line only; an interval without any of its lines starts the
    count again.

    Whatever is counted elsewhere (C{badMessages}) is counted by its
    caller, before and whatever this writes.  It remembers at most
    L{maxPeers} pairs of peer and kind, whatever ids peers make up: past
    that, new peers share one count, as L{OTHER_PEERS}.  And it writes at
    most L{kindBurst} lines of one kind in an interval from all peers
    together, summaries included, and one summary of other peers, since a
    peer may make up a new id for each line, and many may each flood: past
    them, lines are counted (those of a peer it has no count for, with
    L{OTHER_PEERS}) and summarised at their interval's end, and a peer's
    summary goes to that of other peers.

    Must be called in the reactor thread.

    @param clock: the time, and the timer of summaries.
    @param describe: how a summary names a peer: the front's say
        C{peer} and its routing id (L{idText}); a handler's link, whose
        one peer is its front, says which.
    """

    def __init__(
        self,
        clock: IReactorTime,
        burst: int = PEER_LOG_BURST,
        interval: float = PEER_LOG_INTERVAL,
        maxPeers: int = PEER_LOG_KEYS,
        describe: Callable[[bytes], str] = _routingId,
        kindBurst: int = PEER_LOG_KIND_BURST,
    ) -> None:
        self._clock = clock
        self._describe = describe
        self.burst = burst
        self.interval = interval
        self.maxPeers = maxPeers
        self.kindBurst = kindBurst
        # Oldest interval first: the first is the one to forget.
        self._windows: OrderedDict[tuple[bytes, str], _Window] = OrderedDict()
        # Each kind's lines from all peers in its current interval.
        self._kinds: dict[str, _Window] = {}

    def warn(
        self, log: Logger, peer: bytes, kind: str, format: str, /, **fields: object
    ) -> None:
        """
        Write a warning about C{peer} to C{log}, unless its C{kind} of
        lines has had its L{burst} in this interval.

        @param log: the caller's logger (the line keeps its namespace);
            the summary goes to the last one given.

        @param peer: the peer's routing id.
        @param kind: what went wrong, as a plural for the summary
            (C{"bad messages"}): lines of one kind are counted together.
        @param format: the line's PEP 3101 format, as for L{Logger.warn}.
        @param fields: its fields (which may be named C{peer}, C{kind} or
            C{format}: the four before are positional only).
        """
        self.emit(LogLevel.warn, log, peer, kind, format, **fields)

    def emit(
        self,
        level: LogLevel,
        log: Logger,
        peer: bytes,
        kind: str,
        format: str,
        /,
        **fields: object,
    ) -> None:
        """
        As L{warn}, at C{level}: for what a peer may make the front say as
        often as it likes though each line alone is no trouble (a handler
        joining and leaving).  The summary of the lines not written is a
        warning all the same: so many are.
        """
        now = self._clock.seconds()
        self._forgetEnded(now)
        allPeers = self._allPeers(kind, now)
        spent = allPeers.logged >= self.kindBurst
        key = (peer, kind)
        window = self._windows.get(key)
        if window is None:
            # (A new peer past the kind's lines: counted with other peers,
            # so that a flood of new ids is remembered once.)
            key = (OTHER_PEERS, kind) if spent else self._room(key, now)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(now)
        elif window.summary is None and now - window.start >= self.interval:
            # Quiet for an interval: the count starts again.
            window.start, window.logged = now, 0
            self._windows.move_to_end(key)
        if window.logged < self.burst and not spent:
            window.logged += 1
            allPeers.logged += 1
            log.emit(level, format, **fields)
            return
        window.suppressed += 1
        window.log = log
        window.last = dict(fields, log_format=format)
        self._summaryDue(key, window, now)

    def _summaryDue(self, key: tuple[bytes, str], window: _Window, now: float) -> None:
        """
        Have the summary of C{key}'s lines not written come at the end of
        its interval, if it is not due already.
        """
        if window.summary is None:
            window.summary = self._clock.callLater(
                max(0.0, window.start + self.interval - now), self._summarise, key
            )

    def _allPeers(self, kind: str, now: float) -> _Window:
        """
        The lines of C{kind} from all peers in its current interval (one
        begun now, if the last has ended).
        """
        allPeers = self._kinds.get(kind)
        if allPeers is None or now - allPeers.start >= self.interval:
            allPeers = self._kinds[kind] = _Window(now)
        return allPeers

    def remembered(self) -> int:
        """
        How many pairs of peer and kind it remembers: those whose interval
        has not ended, or has a summary pending (and, until the next line
        comes, those that ended since).
        """
        return len(self._windows)

    def _forgetEnded(self, now: float) -> None:
        """
        Forget the intervals that ended without a summary pending, oldest
        first (the windows are in the order their intervals began): a line
        of theirs would start a count again anyway.  Else each peer that
        ever had a line would be remembered until L{maxPeers} of them were:
        every handler a front ever had, with a line when it joined.
        """
        windows = self._windows
        while windows:
            oldest = next(iter(windows.values()))
            if oldest.summary is not None or now - oldest.start < self.interval:
                return
            windows.popitem(last=False)

    def _room(self, key: tuple[bytes, str], now: float) -> tuple[bytes, str]:
        """
        Make room for C{key}, new: forget the oldest intervals that ended
        without a summary pending.

        @return: C{key}, or L{OTHER_PEERS}'s for its kind if none could be
            forgotten.
        """
        windows = self._windows
        while len(windows) >= self.maxPeers:
            oldest = next(iter(windows.values()))
            if oldest.summary is not None or now - oldest.start < self.interval:
                return (OTHER_PEERS, key[1])
            windows.popitem(last=False)
        return key

    def _summarise(self, key: tuple[bytes, str]) -> None:
        """
        The interval of C{key} ended with lines not written: say how many.
        Its next interval starts now, and writes no line but its summary.
        A summary is a line of its kind: past the kind's L{kindBurst}, its
        count goes to the summary of other peers, so that many peers each
        over its own burst (each keeping its routing id) cannot have a
        summary line each.
        """
        window = self._windows[key]
        now = self._clock.seconds()
        assert window.log is not None  # (set with the first not written)
        peer, kind = key
        if peer != OTHER_PEERS:
            allPeers = self._allPeers(kind, now)
            if allPeers.logged >= self.kindBurst:
                otherKey = (OTHER_PEERS, kind)
                other = self._windows.get(otherKey)
                if other is None:
                    other = self._windows[otherKey] = _Window(now)
                other.suppressed += window.suppressed
                other.log, other.last = window.log, window.last
                self._summaryDue(otherKey, other, now)
                self._nextInterval(key, window, now)
                return
            allPeers.logged += 1
        window.log.warn(
            "... and {count} more {kind} from {peer} in the last {seconds:.0f} s"
            " (not logged; the last: {last})",
            count=window.suppressed,
            kind=key[1],
            peer=self._describe(key[0]) if key[0] else "other peers",
            seconds=now - window.start,
            last=formatEvent(window.last),
        )
        self._nextInterval(key, window, now)

    def _nextInterval(self, key: tuple[bytes, str], window: _Window, now: float) -> None:
        """
        Start C{key}'s next interval, now, its summary said.
        """
        window.start, window.suppressed, window.summary = now, 0, None
        window.last, window.log = {}, None
        self._windows.move_to_end(key)

    def flush(self) -> None:
        """
        Write every summary now, and forget every count: the front stops.
        """
        # (Twice: a summary past the kind's lines makes the one of other
        # peers due, which the second pass writes.)
        for _ in range(2):
            for key, window in list(self._windows.items()):
                if window.summary is not None:
                    cancelCall(window.summary)
                    self._summarise(key)
        self._windows.clear()
        self._kinds.clear()
