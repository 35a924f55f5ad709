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

import os
import resource
from typing import Callable, Protocol, cast

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger

from txmp._defaults import (
    DEFAULT_BACKLOG,
    DESCRIPTOR_MARGIN,
    DESCRIPTOR_RETRY,
    FD_RESERVE,
    MAX_CONNECTIONS_LOG_INTERVAL,
)

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


def highestDescriptor() -> int | None:
    """
    The highest file descriptor this process has open (C{/proc/self/fd}),
    or L{None} where that cannot be read.  Descriptors are given lowest
    free first: the next C{N} sockets accepted get descriptors no higher
    than this plus C{N}.
    """
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        return None


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

    Whatever the limit, a connection is never let take one of the last
    L{DESCRIPTOR_MARGIN} file descriptors below the open files limit
    (C{fileLimit}), which ZeroMQ needs to accept handlers' connections
    (libzmq aborts the process that has none for an C{ipc://} one): one
    given such a descriptor is refused, and the ports stop accepting
    until a connection closes, or for L{DESCRIPTOR_RETRY} seconds
    (L{descriptorRefused}).

    @ivar limit: the most connections open at once (C{--max-connections}).
    @ivar paused: whether the ports have stopped accepting.
    @ivar ceiling: the lowest file descriptor a connection may not have
        (C{fileLimit} less L{DESCRIPTOR_MARGIN}), or L{None}.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        limit: int,
        fileLimit: int | None = None,
        highestDescriptor: Callable[[], int | None] = highestDescriptor,
    ) -> None:
        self._reactor = reactor
        self.limit = limit
        self.fileLimit = fileLimit
        self.ceiling = (
            None if fileLimit is None or fileLimit == resource.RLIM_INFINITY
            else fileLimit - DESCRIPTOR_MARGIN
        )
        self.paused = False
        # Whether the ports stopped for want of descriptors, until a
        # connection closes or _retryCall.
        self._starved = False
        self._retryCall: IDelayedCall | None = None
        # The descriptor of the last connection accepted: the batches are
        # kept below the ceiling from it.
        self._descriptor: int | None = None
        self._highestDescriptor = highestDescriptor
        self._descriptorWarnedAt: float | None = None
        self._descriptorRefused = 0
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
                if self._descriptor is None and self.ceiling is not None:
                    # Before any is accepted: a port's first batch (a
                    # hundred) may take them all.
                    self._descriptor = self._highestDescriptor()
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
        if count < self._count and self._starved:
            # A descriptor closed with it.
            self._starved = False
            self._cancelRetry()
            self._lookAgain()
        self._count = count
        if count >= self.limit and not spare:
            if not self.paused:
                self._pause()
                self._pauses += 1
                self._warn(count)
        elif self.paused and not self._starved:
            self._resume()
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

    def hasDescriptor(self, descriptor: int | None) -> bool:
        """
        Whether a connection just accepted with the file descriptor
        C{descriptor} (L{None}: not known) leaves the last
        L{DESCRIPTOR_MARGIN} below the open files limit free.
        """
        if descriptor is None or self.ceiling is None:
            return True
        # The highest given, not the last: one given lower (a hole that a
        # closed connection left) says nothing of those above it, which
        # may all be in use (_limitBatches).
        if self._descriptor is None or descriptor > self._descriptor:
            self._descriptor = descriptor
        # (A connection admitted limits the batch from it as it opens,
        # connectionsChanged; one refused, in descriptorRefused.)
        return descriptor < self.ceiling

    def descriptorRefused(self, count: int, descriptor: int) -> bool:
        """
        A connection accepted while C{count} are open, none of them idle,
        had the file descriptor C{descriptor}, one of the last
        L{DESCRIPTOR_MARGIN} (L{hasDescriptor}): refuse it, and stop the
        ports until a connection closes, or for L{DESCRIPTOR_RETRY}
        seconds (the descriptors may be another's: handlers' connections,
        the C{--stats} port's).  Warned of at most once an interval.

        @return: C{False}: not admitted.
        """
        self._descriptorRefused += 1
        if self._limitBatches() and self._batchCall is None:
            # As for a connection opened (connectionsChanged): the batch
            # under way sets its size again.
            self._batchCall = self._reactor.callLater(0, self._batchEnded)
        if not self._starved:
            self._starved = True
            if not self.paused:
                self._pause()
            self._retryCall = self._reactor.callLater(DESCRIPTOR_RETRY, self._retry)
        self._warnDescriptors(count, descriptor)
        return False

    def _warnDescriptors(self, count: int, descriptor: int) -> None:
        now = self._reactor.seconds()
        warnedAt = self._descriptorWarnedAt
        if warnedAt is None or now - warnedAt >= MAX_CONNECTIONS_LOG_INTERVAL:
            self._log.warn(
                "{open} client connections open, and a new one was given file"
                " descriptor {descriptor}, within {margin} of the open files limit"
                " ({files}), which are kept for handlers' ZeroMQ connections and"
                " spawned handlers: it was closed, and new clients wait in the"
                " listen backlog until a connection closes; connections closed so"
                " since the last such line: {refused}; raise the limit (ulimit -n,"
                " LimitNOFILE=) or lower --max-connections ({limit})",
                open=count, descriptor=descriptor, margin=DESCRIPTOR_MARGIN,
                files=self.fileLimit, refused=self._descriptorRefused, limit=self.limit,
            )
            self._descriptorWarnedAt = now
            self._descriptorRefused = 0

    def _lookAgain(self) -> None:
        """
        The highest descriptor open now, read again once the ports were
        starved (a descriptor closed, or L{DESCRIPTOR_RETRY} passed): the
        highest given may be closed since, and hold the batches lower than
        they need be.
        """
        if self.ceiling is not None:
            highest = self._highestDescriptor()
            if highest is not None:
                self._descriptor = highest

    def _retry(self) -> None:
        self._retryCall = None
        self._starved = False
        self._lookAgain()
        if self.paused and self._count < self.limit:
            self._limitBatches()
            self._resume()

    def _pause(self) -> None:
        self.paused = True
        for port in self._ports:
            port.pauseProducing()

    def _resume(self) -> None:
        self.paused = False
        for port in self._ports:
            port.resumeProducing()

    def stop(self) -> None:
        """
        Look again no more (the front stops).
        """
        self._cancelRetry()

    def _cancelRetry(self) -> None:
        call, self._retryCall = self._retryCall, None
        if call is not None and call.active():
            call.cancel()

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
        room = self.limit - self._count
        if self._descriptor is not None and self.ceiling is not None:
            # Descriptors are given lowest first: holes below the highest
            # given first, then those above it, which are all that may be
            # free for sure (the holes' count is not known).
            room = min(room, self.ceiling - self._descriptor - 1)
        room = max(room, 1)
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
