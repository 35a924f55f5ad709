# -*- test-case-name: txmp.test.test_accept -*-
"""
How many client connections the front holds open at once: at
C{--max-connections} a new client takes the place of the connection idle
the longest (as nginx reuses its idle connections when it has no free
one), and when none is idle the front's HTTP ports stop accepting, and new
clients wait in the kernel's listen backlog (as behind nginx's
C{worker_connections}) until a connection closes or turns idle, instead of
being accepted and reset for want of a file descriptor.  The default
follows the process's file descriptor limit, whose soft value the front
first raises to the hard one, as systemd advises programs that do not use
C{select()}.
"""

from __future__ import annotations

import resource
from typing import Callable, Protocol, cast

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger

from txmp._defaults import DEFAULT_BACKLOG, FD_RESERVE, MAX_CONNECTIONS_LOG_INTERVAL

_Limits = tuple[int, int]


#: The endpoint types of Twisted's that take C{backlog=}.
_BACKLOG_TYPES = frozenset(["tcp", "tcp6", "unix", "ssl"])


def withBacklog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    An endpoint description that listens with C{backlog}, unless it says
    its own (C{backlog=}) or is of a type that takes none (C{systemd:}, a
    plugin's).

    @param description: a server endpoint string, as C{--listen} takes.
    @return: the same string, with C{:backlog=N} added if it fits.
    """
    kind = description.split(":", 1)[0].strip().lower()
    if kind not in _BACKLOG_TYPES or "backlog=" in description or description.endswith("\\"):
        return description
    return f"{description}:backlog={backlog}"


def raiseFileLimit(
    getrlimit: Callable[[int], _Limits] = resource.getrlimit,
    setrlimit: Callable[[int, _Limits], None] = resource.setrlimit,
) -> tuple[int, int]:
    """
    Raise this process's soft limit on open files (C{RLIMIT_NOFILE}) to
    its hard limit.  systemd keeps the soft limit at 1,024 for programs
    that use C{select()}, and raises the hard one (to 524,288), for the
    others to raise their own: the front's reactor (epoll) is one.

    @return: the soft limit before and after; the same if it could not be
        raised (the hard limit is unlimited, or the kernel refused).
    """
    soft, hard = getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft, soft
    try:
        setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


class _BatchAccepting(Protocol):
    """
    A port of Twisted's (TCP, TLS, UNIX: C{twisted.internet.tcp.Port}):
    each time its socket is readable it accepts up to C{numberAccepts}
    connections in one loop, which pausing it does not stop, and then sets
    C{numberAccepts} itself (20 more after a full loop, else the number
    accepted).
    """

    numberAccepts: int


#: How much a Twisted port grows its batch after a full one
#: (C{twisted.internet.tcp.Port.doRead}).
_BATCH_GROWTH = 20


def defaultMaxConnections(fileLimit: int) -> int:
    """
    The most client connections for a process that may have C{fileLimit}
    files open: what is left once L{FD_RESERVE} descriptors are kept for
    ZeroMQ, handlers' connections, logs and spawned handlers' pipes, and
    at least half of the limit.
    """
    return max(fileLimit - FD_RESERVE, fileLimit // 2, 1)


class AcceptLimit:
    """
    Stops the front's HTTP ports from accepting while C{limit} connections
    are open, and starts them again when one closes.  Must be called in the
    reactor thread.

    A port of Twisted's accepts a batch of connections each time it is
    readable (L{_BatchAccepting}), and pausing it stops the next batch,
    not the one under way: its batch is kept within the room left below
    the limit, so that a port resumed for one connection does not take
    the whole listen backlog.  A connection accepted over the limit all
    the same (by a port that batches otherwise) is refused
    (L{admits}).

    @ivar limit: the most connections open at once (C{--max-connections}).
    @ivar paused: whether the ports have stopped accepting.
    """

    _log = Logger()

    def __init__(self, reactor: IReactorTime, limit: int) -> None:
        self._reactor = reactor
        self.limit = limit
        self.paused = False
        self._ports: list[IPushProducer] = []
        self._batching: list[_BatchAccepting] = []
        self._count = 0
        # Set after a port's batch, which resets its size when it ends.
        self._batchCall: IDelayedCall | None = None
        # When the last warning was logged, and the pauses and refusals
        # since.
        self._warnedAt: float | None = None
        self._pauses = 0
        self._refused = 0
        self._reclaimed = 0

    def addPort(self, port: object) -> None:
        """
        Pause and resume C{port} with the others: a listening port of
        Twisted's (TCP, TLS, UNIX) is a push producer of connections.  A
        port that is not one is not limited.
        """
        if IPushProducer.providedBy(port):
            producer = IPushProducer(port)
            self._ports.append(producer)
            if self.paused:
                producer.pauseProducing()
            if isinstance(getattr(port, "numberAccepts", None), int):
                self._batching.append(cast(_BatchAccepting, port))
                self._limitBatches()

    def connectionsChanged(self, count: int, spare: bool = False) -> None:
        """
        C{count} connections are open now: pause the ports at the limit,
        resume them below it.

        @param spare: whether one of them is idle, to be closed for a new
            one (L{txmp._front.FrontFactory.admits}): then the ports go on
            accepting at the limit too.
        """
        opened = count > self._count
        self._count = count
        if count >= self.limit and not spare:
            if not self.paused:
                self.paused = True
                for port in self._ports:
                    port.pauseProducing()
                self._pauses += 1
                self._warn(count)
        elif self.paused:
            self.paused = False
            for port in self._ports:
                port.resumeProducing()
        near = self._limitBatches()
        if opened and near and self._batchCall is None:
            # Opened within a port's batch, whose end sets the batch size
            # again (up to _BATCH_GROWTH more): limit it once that is
            # over, before the ports are read again.  Far from the limit
            # (the default, the open files limit), no call per connection.
            self._batchCall = self._reactor.callLater(0, self._batchEnded)

    def admits(self, count: int) -> bool:
        """
        Whether a connection just accepted may open while C{count} are
        open, none of them idle: not at the limit.  One refused is counted
        into the next warning.
        """
        if count < self.limit:
            return True
        self._refused += 1
        self._warn(count)
        return False

    def reclaimed(self, count: int) -> None:
        """
        A connection accepted while C{count} are open took the place of an
        idle one, closed for it: counted into the next warning.
        """
        self._reclaimed += 1
        self._warn(count)

    def _batchEnded(self) -> None:
        self._batchCall = None
        self._limitBatches()

    def _limitBatches(self) -> bool:
        """
        Keep each port's batch within the room left below the limit.

        @return: whether a port's batch, grown as a port grows it when a
            batch ends, could pass the room left.
        """
        room = max(self.limit - self._count, 1)
        near = False
        for port in self._batching:
            if port.numberAccepts > room:
                port.numberAccepts = room
            if port.numberAccepts + _BATCH_GROWTH >= room:
                near = True
        return near

    def _warn(self, count: int) -> None:
        # A front at its limit pauses at nearly every connection accepted:
        # one line per interval says so, with how often.
        now = self._reactor.seconds()
        if self._warnedAt is not None and now - self._warnedAt < MAX_CONNECTIONS_LOG_INTERVAL:
            return
        self._log.warn(
            "{open} client connections open, the most allowed (--max-connections"
            " {limit}): new ones take the place of idle ones, else wait in the"
            " listen backlog; pauses since the last such line: {pauses},"
            " connections closed at once: {refused}, idle connections closed for"
            " new ones: {reclaimed}",
            open=count,
            limit=self.limit,
            pauses=self._pauses,
            refused=self._refused,
            reclaimed=self._reclaimed,
        )
        self._warnedAt = now
        self._pauses = 0
        self._refused = 0
        self._reclaimed = 0
