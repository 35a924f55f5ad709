# -*- test-case-name: txmp.test.test_handler -*-
"""
A handler's link to one front (L{FrontLink}): registering with it
(C{HELLO}), credits and heartbeats, taking its requests for the WSGI
runner, and sending the runner's output back (L{_ReplySink}); and the
warnings of what goes wrong with it: no front answers, the return socket
does not connect, a request is stuck in the application after its
C{CANCEL} (where, from L{Running.where}).
"""

from __future__ import annotations

import errno
import math
import os
import resource
import stat
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable, Protocol, cast

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorFromThreads, IReactorTime
from twisted.logger import Logger, LogLevel

from txmp import protocol
from txmp._defaults import (
    DEFAULT_HEARTBEAT,
    DEFAULT_MAX_MESSAGE,
    DOUBT_AFTER,
    FRAME_JOIN,
    HUNG_AFTER_CANCEL,
    INPUT_WINDOW,
    LIVENESS_LATENESS,
    MAX_FRAME,
    MIN_HEARTBEAT,
    NO_FRONT_WARNING,
    NO_FRONT_WARNING_INTERVAL,
    OWED_HELLO_MAX_WAIT,
    PACK_LIMIT,
)
from txmp._http import REASONS, plainPage
from txmp._interfaces import cancelCall
from txmp._peerlog import PacedLog, idText, printable
from txmp._zmq import MessageSender, ReplySender, inThisThread, ipcPath, listening
from txmp.protocol import Frame

if TYPE_CHECKING:
    from txmp._wsgi import ResponseSink


def frameChunks(
    chunks: list[bytes], size: int = MAX_FRAME, join: int = FRAME_JOIN
) -> list[bytes]:
    """
    C{chunks} as the body frames of one message: every chunk longer than
    C{size} split into pieces of at most C{size} bytes, and each run of
    chunks shorter than C{join} joined into frames of at most C{join} (or
    C{size}) bytes.

    The pieces are memoryviews of the chunk, not copies, which would double
    what a large body returned whole (a Django C{HttpResponse} or a Flask
    C{Response} of a file read into memory) costs in time, and in memory
    that each application thread's allocator keeps once it is freed:
    pieces of L{ZERO_COPY_SEND <txmp._defaults.ZERO_COPY_SEND>} bytes, views
    of C{bytes}, then go to ZeroMQ without a copy at all.

    The joins keep the frames of a message few, whatever the application
    yields: one that yields a byte at a time (a Django
    C{StreamingHttpResponse} given a string iterates it a character at a
    time) made messages of 262,144 frames of one byte, which ZeroMQ sends
    and the front reads frame by frame (see L{FRAME_JOIN
    <txmp._defaults.FRAME_JOIN>}).
    """
    if len(chunks) <= 1 and (not chunks or len(chunks[0]) <= size):
        return chunks
    join = min(join, size)
    if max(map(len, chunks)) < join:
        # All small (a byte at a time, say): joined at once, and cut, in C
        # rather than a chunk at a time (a reviewer's 262,144 one-byte
        # chunks: 51 ms a chunk at a time, 9 ms so).
        whole = b"".join(chunks)
        if len(whole) <= join:
            return [whole]
        view = memoryview(whole)
        return [cast(bytes, view[n:n + join]) for n in range(0, len(whole), join)]
    result: list[bytes] = []
    run: list[bytes] = []
    runSize = 0
    for chunk in chunks:
        length = len(chunk)
        if length < join:
            if runSize + length > join:
                result.append(_joined(run))
                run, runSize = [], 0
            run.append(chunk)
            runSize += length
            continue
        if run:
            result.append(_joined(run))
            run, runSize = [], 0
        if length <= size:
            result.append(chunk)
        else:
            view = memoryview(chunk)
            # (Typed as the bytes they stand for: all that takes them, the
            # join of protocol.pack and pyzmq's send, takes any buffer.)
            result.extend(cast(bytes, view[n:n + size]) for n in range(0, length, size))
    if run:
        result.append(_joined(run))
    return result


def _joined(run: list[bytes]) -> bytes:
    return run[0] if len(run) == 1 else b"".join(run)


# The messages about requests, which a link that doubts the front still
# knows its requests holds (FrontLink._doubt).
_ABOUT_REQUESTS = (
    protocol.Request, protocol.Body, protocol.Cancel, protocol.Window, protocol.Recall,
)


class Running(Protocol):
    """
    A request being run: L{txmp._wsgi.RunningRequest}.  Every method is
    called in the reactor thread.
    """

    def cancel(self) -> None:
        ...

    @property
    def cancelled(self) -> bool:
        """
        Whether L{cancel} was called (by this link or otherwise).
        """

    def bodyReceived(self, chunks: list[bytes], end: bool) -> None:
        ...

    def windowReceived(self, size: int) -> None:
        ...

    def withdraw(self) -> bool:
        """
        Take the request back if no application thread has taken it, for
        good: nothing more is heard of it.

        @return: whether it was taken back.
        """

    @property
    def started(self) -> bool:
        """
        Whether an application thread has taken the request.
        """

    @property
    def logId(self) -> str:
        """
        The request's id in logs: its C{X-Request-Id} (a trusted proxy's,
        or the front's own id), as its access log line, its application and
        the front's log name it.
        """

    @property
    def waitingOnFront(self) -> bool:
        """
        Whether the application thread waits for the front: for more of
        the request body, or for response window.
        """

    @property
    def betweenChunks(self) -> bool:
        """
        Whether the application thread, its response's head sent, waits to
        give the next chunk: in the response's iterable, or in the
        application's call between two C{write()}s.
        """

    def where(self) -> str | None:
        """
        Where the application thread running the request is, as traceback
        lines (oldest call first), or L{None} if no thread runs it now (none
        has taken it yet, or its thread is done with it).
        """


class Runner(Protocol):
    """
    What runs a request through the application: L{txmp._wsgi.WSGIRunner}.
    """

    def run(self, requestId: bytes, head: protocol.RequestHead, body: list[bytes],
            sink: ResponseSink) -> Running:
        ...


class _ReplySink:
    """
    Sends one request's response to the front it came from.  L{sendHead},
    L{sendBody}, L{sendError} and L{finished} are called in the application
    thread that runs the request (or in the reactor thread); the first
    three give their message to the return socket holding the link's lock
    (L{FrontLink._lock}), which orders a request's messages, and send what
    was combined (L{FrontLink._reply}) once they release it.  L{sendWindow}
    is called in the reactor thread.

    No frame may be larger than the front accepts (its C{--max-message},
    which it announces in C{WELCOME}): the front would cut the handler off
    and the client would wait for its C{--timeout}.  Body chunks are split
    to fit; a response head too large is replaced with a 500 (and logged),
    and the request is cancelled.

    @ivar _refused: whether the head was replaced with a 500, or the
        response abandoned (L{abandon}): nothing more is sent for the
        request.
    @ivar _streaming: whether the head of a streamed response went to the
        front, and its end did not: its client has an unfinished response.
        Changed and read holding the link's lock.
    @ivar _headSent: whether the response's head went to the front (with
        L{_streaming} false then, the whole response did).
    """

    _log = Logger()

    def __init__(self, link: FrontLink, requestId: bytes) -> None:
        self._link = link
        self._requestId = requestId
        self._refused = False
        self._streaming = False
        self._headSent = False
        # Whether no CREDIT must give the request's credit back: it went
        # with its reply.
        self.credited = False
        # The link's HELLOs when the request came: one more since, and the
        # credit goes by CREDIT (see FrontLink._hello).
        self.hellos = link.hellos
        # The HELLO the front last registered the link anew from while the
        # request ran, if it did: whether a CREDIT is owed is its to say
        # (FrontLink._registeredAnew).
        self.since: int | None = None

    def _split(self, chunks: list[bytes]) -> list[bytes]:
        return frameChunks(chunks, min(MAX_FRAME, self._link.maxMessage))

    def sendHead(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]],
                 body: list[bytes], more: bool) -> None:
        # A complete reply, sent as the request ends, gives its credit back
        # itself, if the front said it takes that (WELCOME credit_in_reply).
        link = self._link
        # Holding the lock, the link's state cannot change between the
        # choice of credit and the send (see FrontLink._hello).
        with link._lock:
            if self._refused:
                return
            credit = not more and link.creditInReply and self._mayCredit()
            frames = protocol.encodeResponse(
                self._requestId, status, reason, headers, self._split(body), more,
                credit,
            )
            # Frames 3 and 4: the meta (with the reason) and the headers.
            size = max(len(frames[3]), len(frames[4]))
            if size > link.maxMessage:
                self._headTooLarge(size)
            else:
                self.credited = self.credited or credit
                link._reply(frames)
                self._streaming = more
                self._headSent = True
        link._return.sendCombined()

    def _headTooLarge(self, size: int) -> None:
        self._refused = True
        running = self._link.running.get(self._requestId)
        self._log.error(
            "request {requestId}: the response head ({size} bytes) is larger "
            "than front {address} accepts in a frame (its --max-message, "
            "{limit} bytes): answering 500 instead",
            # Its X-Request-Id, as the access log and the application's lines
            # name it (Running.logId).
            requestId=idText(self._requestId) if running is None else running.logId,
            size=size,
            address=self._link.address,
            limit=self._link.maxMessage,
        )
        fields, body = plainPage(500)
        self._link._reply(
            protocol.encodeResponse(self._requestId, 500, REASONS[500], fields, [body])
        )
        # Stop the application: nothing more it produces can be sent.
        if running is not None:
            running.cancel()

    def _mayCredit(self) -> bool:
        """
        Whether the message that completes the response may give the
        request's credit back (to a front that takes it so): not while
        draining, nor once the link said C{HELLO} again since the request
        came (that C{HELLO} counted it busy: its credit must follow by
        C{CREDIT}, on the same socket).  Called holding the link's lock.
        """
        link = self._link
        return not link.draining and link.hellos == self.hellos

    def sendBody(self, chunks: list[bytes], end: bool) -> None:
        link = self._link
        with link._lock:
            if not self._refused:
                credit = end and link.creditInEnd and self._mayCredit()
                link._reply(
                    protocol.encodeBody(
                        self._requestId, self._split(chunks), end, credit
                    )
                )
                self.credited = self.credited or credit
                if end:
                    self._streaming = False
        link._return.sendCombined()

    def sendError(self, message: str) -> None:
        link = self._link
        with link._lock:
            if not self._refused:
                link._reply(protocol.encodeError(self._requestId, message))
        link._return.sendCombined()

    def abandon(self, why: str, unbegun: bool = False) -> None:
        """
        The request was cancelled here, not by the front (L{FrontLink.cut},
        or, with C{unbegun}, L{FrontLink._heartbeat}'s silent front): if
        its response is streaming, end it with C{ERROR}, on which the front
        aborts its client's connection at once, as a gunicorn worker's exit
        closes its; and send nothing more for it.  A response not begun is
        left to the front, which finds the handler gone and retries the
        request if it is idempotent; unless C{unbegun}: a front that is
        silent, perhaps only paused, still waits for it, and answers 502
        on the C{ERROR} rather than 504 at its C{--timeout}.  Nothing for a
        response sent whole already.  Called in the reactor thread, once
        the request is cancelled.
        """
        link = self._link
        with link._lock:
            if not self._refused and (
                self._streaming or (unbegun and not self._headSent)
            ):
                link._reply(protocol.encodeError(self._requestId, why))
            # (Also a head its thread was about to send as it was cut: the
            # front is left to find the request not begun.)
            self._refused = True
            self._streaming = False
        link._return.sendCombined()

    def sendWindow(self, size: int) -> None:
        # Steering the front, so the control plane: the send socket.
        self._link._send.send(protocol.encodeWindow(self._requestId, size))

    def finished(self) -> None:
        self._link._ended(self)


def _ipcHint(address: str) -> str:
    """
    What is missing of an C{ipc://} address that no front answers at (its
    directory, or a socket in it), said after the warning's question; an
    empty string for other addresses (an abstract C{ipc://@NAME} too), or
    a socket that is there.  The handler starts all the same: its front
    may make them after it.
    """
    path = ipcPath(address)
    if path is None:
        return ""
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        return f" (the directory {directory} does not exist)"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f" (no socket at {path}: no front has bound it)"
    except OSError:
        return ""
    if not stat.S_ISSOCK(mode):
        return f" ({path} is not a socket)"
    if listening(path) is False:
        return (
            f" (the socket at {path} refuses connections: the front that"
            " bound it is not running)"
        )
    return ""


#: What L{_openFiles} says of a process that has no descriptor left.
OUT_OF_FILES = -1

#: How close to its open files limit a handler counts as out of them
#: (L{_descriptorHint}): libzmq takes the descriptor that one of its
#: retries frees for the next, so a handler out of them may have one or
#: two free at the moment it counts.
_FILES_MARGIN = 2


def _openFiles() -> int | None:
    """
    How many files this process has open (C{/proc/self/fd}): C{None}
    where that cannot be read, L{OUT_OF_FILES} if it has no descriptor
    left to read it with.
    """
    try:
        # Less the descriptor that reads the directory, listed too.
        return len(os.listdir("/proc/self/fd")) - 1
    except OSError as e:
        if e.errno in (errno.EMFILE, errno.ENFILE):
            return OUT_OF_FILES
        return None


def _descriptorHint(
    openFiles: Callable[[], int | None] | None = None,
    getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
) -> str:
    """
    What a link that no front answers at (or whose C{--return} does not
    connect) says after its warning's question when this handler has no
    file descriptor left: libzmq then retries its connections silently,
    as it does to a front that is not running.  An empty string otherwise.

    @param openFiles: how many files the process has open (by default
        L{_openFiles}).
    @param getrlimit: L{resource.getrlimit}.
    """
    count = (openFiles or _openFiles)()
    if count is None:
        return ""
    limit = getrlimit(resource.RLIMIT_NOFILE)[0]
    if count != OUT_OF_FILES and (
        limit == resource.RLIM_INFINITY or count < limit - _FILES_MARGIN
    ):
        return ""
    return (
        f" (this handler has used up its open files limit, {limit} (ulimit -n),"
        " and ZeroMQ cannot open a connection: raise the limit, or look for"
        " files the application leaves open)"
    )


#: The one peer a link's L{PacedLog} counts lines about: its front.
_FRONT = b"front"


@define(slots=False, eq=False, repr=False)
class FrontLink:
    """
    A handler's link to one front: its send socket (control plane) and its
    return socket (replies), both DEALERs with the same routing id.

    Until the front has answered C{HELLO} with C{WELCOME}, the link sends
    C{HELLO} instead of C{PING} at every heartbeat, so that a front that
    (re)starts learns of this handler without either being restarted.

    C{HELLO} announces, as its C{window} attribute, L{INPUT_WINDOW}: how
    much of a streamed request body the front may send ahead of the
    C{WINDOW}s this link sends as the application reads it.

    A front that no longer knows this link's requests (it answers C{BYE},
    or a new front instance answers C{HELLO}) will never send the window or
    body they may be waiting for: they are cancelled.

    A request that comes when the front may have given it up already (no
    front has welcomed the link since it lost its front, or the link or its
    front was silent for too long) is held, with every message about
    requests after it, until a C{WELCOME} answers the C{HELLO} it sends
    then (see L{_doubt}): so a request starts only once a front has
    welcomed the link since it last needed one, and its credit goes back
    as it ends (once the C{WELCOME} says whether it is owed, for one that
    came after a C{HELLO} not answered yet, and for a request held then
    cancelled while one is: L{_settleOwed}).

    The application threads send their replies themselves, on the return
    socket (shared with them: L{ZmqSocket.shareWithThreads}), holding
    C{_lock} (a reply combined then goes once it is released, by this
    thread or by one sending already: L{_reply}); the reactor thread holds
    it whenever it changes what a reply depends on (C{hellos},
    C{draining}, what C{WELCOME} says, a sink's C{credited}).  A request
    that ends in an application thread is noted (L{_ended}) and finished by
    the reactor thread at the next thing it does for the link (a message
    from the front, a heartbeat, a C{HELLO}): its credit went back with
    its reply already, and the next request is that thing, so a loaded
    link is woken up once per request, not twice.
    The reactor is woken up for it only when its credit must go by
    C{CREDIT}, or while the link drains; a link that gets no more requests
    finishes it at its next heartbeat.

    ZeroMQ retries its connections silently: a link that no front has
    welcomed for L{NO_FRONT_WARNING} seconds (since it started, or since
    its front went silent or said C{BYE}) logs a warning naming the
    front's addresses, again every L{NO_FRONT_WARNING_INTERVAL} seconds,
    and says after how long once a front welcomes it.  Checked at each
    heartbeat; not while draining.

    @param capacity: how many requests this link may have at once, running
        or waiting for a thread: the credits it announces.
    @param prefetch: how many of those wait for a thread (the C{prefetch}
        it announces: the front sends them only while no handler has a
        thread free).
    @param address: the front's C{--send} address, for the log.
    @param returnAddress: the front's C{--return} address, for the log.
    """

    _log = Logger()

    _reactor: IReactorTime
    _runner: Runner
    _send: MessageSender = field(alias="sendSocket")
    _return: ReplySender = field(alias="returnSocket")
    name: str
    capacity: int
    prefetch: int = 0
    heartbeat: float = DEFAULT_HEARTBEAT
    address: str = ""
    returnAddress: str = ""
    running: dict[bytes, Running | None] = field(init=False, factory=dict)
    # The reply sinks of the running requests (see free).
    _sinks: dict[bytes, _ReplySink] = field(init=False, factory=dict)
    front: str | None = field(init=False, default=None)
    # The largest frame the front accepts: its WELCOME says; until then,
    # mpfront's default --max-message.
    maxMessage: int = field(init=False, default=DEFAULT_MAX_MESSAGE)
    # Whether the front takes credits back in complete replies (its
    # WELCOME says credit_in_reply); until it says, CREDIT.
    creditInReply: bool = field(init=False, default=False)
    # Whether the front takes credits back in a streamed reply's end (its
    # WELCOME says credit_in_end): the END is then a LAST.
    creditInEnd: bool = field(init=False, default=False)
    # Whether the front takes packed messages (its WELCOME says packed=1):
    # replies go packed (protocol.pack) once it said so.
    packed: bool = field(init=False, default=False)
    # Whether the front takes BATCH messages (its WELCOME says batch=1, with
    # packed=1): the replies that fit in one packed frame are then combined
    # (_reply).
    batch: bool = field(init=False, default=False)
    # How many HELLOs this link has sent.
    hellos: int = field(init=False, default=0)
    # The latest HELLO a WELCOME has answered (its hello; all sent then,
    # for a front that does not say).
    _answered: int = field(init=False, default=0)
    # The credits that wait for every HELLO sent to be answered, each as
    # the link's HELLOs when its request came and when it ended (the same
    # for one that never ran), and the HELLO the front last said it
    # registered the link from since (see _owe, _settleOwed).
    _owed: list[list[int | None]] = field(init=False, factory=list)
    # While credits wait (_owed), how many heartbeats have passed since the
    # link last said HELLO, and how many it lets pass before it says HELLO
    # again: doubled each time, so that a front slower to answer than a
    # heartbeat answers the last one at length (see _heartbeat).
    _owedBeats: int = field(init=False, default=0)
    _owedWait: int = field(init=False, default=1)
    # The instance id of the front that last welcomed this link, kept while
    # the front is silent, to tell a restarted front.
    _welcomedBy: str | None = field(init=False, default=None)
    draining: bool = field(init=False, default=False)
    # The heartbeat interval of the front that last welcomed the link, as
    # its WELCOME says, if it does: a front that beats less often than the
    # link is silent only after three of its own intervals.
    _frontHeartbeat: float | None = field(init=False, default=None)
    _lastHeard: float = field(init=False, default=0.0)
    _beat: IDelayedCall | None = field(init=False, default=None)
    # When the heartbeat last sent PING or HELLO (or the link started), and
    # when it will have failed to run for DOUBT_AFTER of the front's
    # intervals (infinite until the link starts): a REQ that comes after it
    # is held (_doubt).
    _beatAt: float = field(init=False, default=0.0)
    _doubtAt: float = field(init=False, default=math.inf)
    # DOUBT_AFTER of the front's intervals (its WELCOME's heartbeat, or
    # this link's until it says): the front declares a handler dead after
    # three of its own.
    _doubtSpan: float = field(init=False, default=DOUBT_AFTER * DEFAULT_HEARTBEAT)
    # While the link doubts that the front still knows the requests it
    # sends (see _doubt): the messages about requests that came since,
    # held until a WELCOME settles it.  None otherwise.
    # (Each as it came, and decoded.)
    _held: list[tuple[Sequence[Frame], protocol.Message]] | None = field(init=False, default=None)
    # The HELLO whose answer (or a later one's) settles what is held: one
    # that answers an older HELLO, sent before the link began to doubt,
    # says nothing of what came since.
    _heldFrom: int = field(init=False, default=0)
    # When a late heartbeat last put off judging the front's silence (this
    # process was paused): once per silence, as the front does its
    # handlers' (txmp._registry).  (The heartbeat is the check: one due in
    # a pause runs late, unlike the front's, whose check needs PauseWatch.)
    _gracedAt: float = field(init=False, default=-math.inf)
    _byeAcknowledged: bool = field(init=False, default=False)
    # The last HELLO that asked the front to register the link anew (a
    # connection was lost, see connectionLost), 0 for none.
    _anewHello: int = field(init=False, default=0)
    # While no front has welcomed the link: since when; when it next warns
    # of it; whether it has warned since then.
    _frontlessSince: float | None = field(init=False, default=None)
    _nextWarning: float = field(init=False, default=0.0)
    _warned: bool = field(init=False, default=False)
    # Why the last handshake of this link's sockets with its front
    # failed, if it did (set by the handler's service, from its sockets'
    # monitors; a success clears it): what the warning that no front
    # answers then says, rather than a guess.
    handshakeFailure: str | None = field(init=False, default=None)
    # Since when the return socket has had no connection (from its monitor,
    # through returnConnected), or None while it has one, or when nothing
    # tells; when a registered link next warns of it.
    _returnDownSince: float | None = field(init=False, default=None)
    _nextReturnWarning: float = field(init=False, default=0.0)
    _drained: Deferred[None] | None = field(init=False, default=None)
    stats: dict[str, int] = field(
        init=False, factory=lambda: {"requests": 0, "badMessages": 0, "recalled": 0}
    )
    # Held by an application thread sending a reply, and by the reactor
    # thread changing what a reply depends on (see the class docstring).
    _lock: threading.RLock = field(init=False, factory=threading.RLock)
    # The sinks of the requests that ended in an application thread and
    # are not finished yet (see _ended): appended in those threads, taken
    # in the reactor thread (deque's append and popleft are atomic).
    _endedSinks: deque[_ReplySink] = field(init=False, factory=deque)
    # Whether an application thread woke the reactor to finish the ended
    # requests, and it has not begun to (see _collect).
    _wakeAsked: bool = field(init=False, default=False)
    # Whether a call comes from the reactor thread: by default, from the
    # thread that made the link.  (Tests pass a fake.)
    _inReactorThread: Callable[[], bool] = field(
        alias="inReactorThread", kw_only=True, factory=inThisThread
    )
    # Called in the reactor thread with 1 when a request comes, and with -1
    # when one is given back (RECALLED): the count of the requests this link
    # serves (for --max-requests).
    requestObservers: list[Callable[[int], None]] = field(init=False, factory=list)
    # For each request the front cancelled while it ran: the call that
    # checks, HUNG_AFTER_CANCEL seconds later, whether it still runs (see
    # _stillRunning); None once it has (a request is warned of once).
    _hungChecks: dict[bytes, IDelayedCall | None] = field(init=False, factory=dict)
    # What the front does wrong (a bad message, a duplicate request),
    # logged at a bounded rate: a front may send them as fast as it likes.
    _paced: PacedLog = field(init=False)
    # Fired once no request runs (see whenIdle).
    _idleWaiters: list[Deferred[None]] = field(init=False, factory=list)

    @_paced.default
    def _pacedLog(self) -> PacedLog:
        return PacedLog(
            self._reactor,
            describe=lambda _: f"front {self.address} (to mphandler {self.name})",
        )

    @property
    def free(self) -> int:
        """
        How many more requests this link can take now, as a C{HELLO} says:
        a request still running whose credit no C{CREDIT} will give back
        counts as free.  That is one whose complete C{RESP} gave it back (a
        front that registers the link anew from the C{HELLO} does not take
        the C{RESP}'s credit, which belongs to the registration it forgot).
        """
        credited = sum(1 for sink in self._sinks.values() if sink.credited)
        return max(0, self.capacity - len(self.running) + credited)

    def start(self) -> None:
        """
        Register with the front and start heartbeats.
        """
        self._beatAt = self._reactor.seconds()
        self._doubtSpan = DOUBT_AFTER * (self._frontHeartbeat or self.heartbeat)
        self._doubtAt = self._beatAt + self._doubtSpan
        self._frontLost(self._beatAt)
        self._hello()
        self._beat = self._reactor.callLater(self.interval, self._heartbeat)

    def stop(self) -> None:
        """
        Stop heartbeats, and the checks of cancelled requests.
        """
        cancelCall(self._beat)
        self._beat = None
        for check in self._hungChecks.values():
            cancelCall(check)
        self._hungChecks.clear()
        self._paced.flush()

    def drain(self) -> Deferred[None]:
        """
        Take no new requests: send C{BYE}, go on serving what the front sent
        before it saw the C{BYE}, and fire once the front has acknowledged
        (with C{BYE}) and every running request has finished.  Heartbeats go
        on meanwhile, so that the front does not take a long request for a
        dead handler.
        """
        if self._drained is None:
            self._drained = Deferred()
            with self._lock:
                # From now on, a request that ends wakes the reactor up.
                self.draining = True
            # A draining link gives no credit back.
            self._owed.clear()
            self._collect()
            if self.front is None:
                # Not registered (no front yet, or it went): no front is
                # sending us anything to wait for.
                self._byeAcknowledged = True
            self._send.send(protocol.encodeBye())
            self._say(
                LogLevel.info,
                "mphandler {name} draining from front {address}: "
                "{count} requests running",
                count=len(self.running),
            )
            self._checkDrained()
        return self._drained

    def cut(self) -> int:
        """
        Cancel every request still running: the handler stops, and its
        C{--graceful-timeout} has passed.  Each application thread then
        stops at its next chunk, C{write()} or read of C{wsgi.input} (or
        wait for window), and closes its response iterable (PEP 3333
        C{close()}: Django's C{request_finished}, Flask's teardown), which a
        process exiting with its threads in the application would never
        do.  Called in the reactor thread.

        A response already streaming ends with C{ERROR} (L{_ReplySink.abandon}):
        the front aborts its client's connection at once, instead of once it
        finds this handler gone, three heartbeats after it exits (and
        forgets the handler then, rather than declaring it dead).

        @return: how many requests were cancelled.
        """
        running = [
            (requestId, r) for requestId, r in self.running.items()
            if r is not None and not r.cancelled
        ]
        for _, request in running:
            # First: the application thread sends nothing more then.
            request.cancel()
        for requestId, _ in running:
            sink = self._sinks.get(requestId)
            if sink is not None:
                sink.abandon("the handler stopped: --graceful-timeout passed")
        return len(running)

    def whenIdle(self) -> Deferred[None]:
        """
        A L{Deferred} that fires once no request runs on this link (at
        once if none does).  Called in the reactor thread.
        """
        d: Deferred[None] = Deferred()
        if self.running:
            self._idleWaiters.append(d)
        else:
            d.callback(None)
        return d

    def _checkDrained(self) -> None:
        if (
            self._drained is not None
            and not self._drained.called
            and self._byeAcknowledged
            and not self.running
        ):
            self._drained.callback(None)

    def _hello(self, anew: bool = False) -> None:
        # A HELLO counts the requests running now as busy: their credits
        # must come after it, so by CREDIT on this same socket, not in a
        # RESP on the other one, which could reach the front first.  Under
        # the lock, every request whose RESP went before it (with its
        # credit, as hellos was then) is finished first, and counted free;
        # every other sees hellos changed, and sends no credit in its RESP.
        with self._lock:
            self._collect()
            self.hellos += 1
            self._owedBeats = 0
            if anew:
                self._anewHello = self.hellos
            self._send.send(
                protocol.encodeHello(
                    self.name, self.free, window=INPUT_WINDOW, sequence=self.hellos,
                    packed=True, prefetch=self.prefetch, batch=True, recall=True,
                    # Said again until answered: the first may be lost too
                    # (written on a connection about to be found broken).
                    anew=self._anewHello if self._answered < self._anewHello else None,
                )
            )

    def connectionLost(self, isReturn: bool) -> None:
        """
        A connection of this link's send socket (or of its return socket,
        C{isReturn}) to the front was lost, as its monitor says; ZeroMQ
        connects again by itself.  Called by the handler's service in the
        reactor thread.

        What was on its way on it is lost: a C{REQ} the front sent, or a
        reply with the credit it gave back, which the front would wait
        for until its C{--timeout} (a 504) and then miss for good, the
        handler registered all along (a connection reset: a helper's 2 s
        of C{iptables -j REJECT --reject-with tcp-reset} left a front
        serving nothing, every credit of its handlers lost).  So the
        link asks the front to forget it and register it anew
        (C{HELLO} with C{anew}, docs/protocol.md, 5.2): the front retries
        or fails the requests it sent here, and its C{WELCOME} says
        C{registered}, so that the link cancels those it still runs
        (L{_registeredAnew}) and drops those that came since (held, as
        L{_doubt} holds them, until that C{WELCOME}).  Every C{HELLO} says
        it until one is answered, as the first may be lost too, with the
        same C{anew} (the number of the first), so that the front forgets
        the link once for it.  A loss while one is not answered is another
        loss, with another C{anew}: the front may have read the first
        C{HELLO} and registered the link anew, and the C{WELCOME} that says
        so and that registration's C{REQ}s be lost with the second
        connection (the same C{anew}, it took the next C{HELLO} for a
        repeat: those C{REQ}s waited for C{--timeout}, and the link ran
        what it held of the registration the front had forgotten).  Both
        sockets often lose theirs at once: the front then forgets the link
        twice, and fails or retries the requests it sent between reading
        the two C{HELLO}s.  Also while no front has
        welcomed the link since it last said C{HELLO}: the front may have
        registered it from that C{HELLO}, and its C{WELCOME} and first
        C{REQ}s be lost with the connection; a C{HELLO} without C{anew}
        would then only update that registration, those C{REQ}s waiting
        for C{--timeout} (504) and their credits missing for good (a front
        that does not know the link registers it, C{anew} or not).  Not
        while it drains (it holds nothing, and sends no C{HELLO}).
        """
        if self._beat is None or self.draining:
            return
        self._say(
            # A warning while a front counts on the link; no front does once
            # it said BYE (it stops or restarts: its connections go next) or
            # went silent (warned of already), nor before one welcomed it.
            LogLevel.info if self.front is None else LogLevel.warn,
            "mphandler {name}: its connection to {front} at {socket} was "
            "lost: what was on its way on it may be lost too; registering anew",
            socket=(
                "--return " + self.returnAddress if isReturn else "--send " + self.address
            ),
            front="the front" if self.front is None else "front " + printable(self.front),
        )
        if self._held is None:
            self._doubt("a connection to the front was lost")
        else:
            self._heldFrom = self.hellos + 1
        self._hello(anew=True)

    def _frontLost(self, since: float) -> None:
        """
        No front has welcomed this link since C{since} (it starts, or its
        front went silent or said C{BYE}): warn if none does before
        L{NO_FRONT_WARNING} seconds have passed.
        """
        if self._frontlessSince is None:
            self._frontlessSince = since
            self._nextWarning = since + NO_FRONT_WARNING
            self._warned = False

    def _warnIfFrontless(self) -> None:
        """
        Warn, at most every L{NO_FRONT_WARNING_INTERVAL} seconds, that no
        front has welcomed this link for L{NO_FRONT_WARNING} seconds or more.
        """
        now = self._reactor.seconds()
        if self._frontlessSince is None or now < self._nextWarning:
            return
        self._warned = True
        self._nextWarning = now + NO_FRONT_WARNING_INTERVAL
        failure = self.handshakeFailure
        self._say(
            LogLevel.warn,
            "mphandler {name}: no front has answered at --send {address} "
            "(--return {returnAddress}) for {seconds} s; still trying: {hint}",
            returnAddress=self.returnAddress,
            seconds=round(now - self._frontlessSince),
            hint=(
                "is the front running, and are these its addresses?"
                + (_ipcHint(self.address) or _descriptorHint()) if failure is None
                else "its last handshake failed: " + failure
            ),
        )

    def _frontFound(self, front: str) -> None:
        """
        The front C{front} welcomed this link.
        """
        since = self._frontlessSince
        self._frontlessSince = None
        if front == self.front:
            return
        # A return socket not connected yet is warned of only once it has
        # had NO_FRONT_WARNING seconds from now to connect to this front.
        self._nextReturnWarning = max(
            self._nextReturnWarning, self._reactor.seconds() + NO_FRONT_WARNING
        )
        if self._warned and since is not None:
            self._say(
                LogLevel.info,
                "mphandler {name} registered with front {front} at {address}, "
                "after {seconds} s without one",
                front=printable(front),
                seconds=round(self._reactor.seconds() - since),
            )
        else:
            self._say(
                LogLevel.info,
                "mphandler {name} registered with front {front} at {address}",
                front=printable(front),
            )
        self._warned = False
        self.front = front

    def _say(self, level: LogLevel, format: str, **fields: object) -> None:
        """
        Log C{format} at C{level} with this link's C{name} and front
        C{address} among its fields.
        """
        self._log.emit(level, format, name=self.name, address=self.address, **fields)

    def _cancelAll(self, why: str, waitingOnly: bool = False) -> list[bytes]:
        """
        Cancel every running request (or, if C{waitingOnly}, those waiting
        for body or window): the front will send nothing more for them.
        Their slots come back as they finish.  Those cancelled already are
        left out, of the count logged too: a front restarted on the same
        addresses answers with C{BYE} then C{WELCOME}, each of which would
        otherwise log the same requests again.

        @return: the ids of the requests cancelled.
        """
        running = [
            (requestId, r) for requestId, r in self.running.items()
            if r is not None and not r.cancelled
            and (not waitingOnly or r.waitingOnFront)
        ]
        if running:
            self._log.warn(
                "mphandler {name}: cancelling {count} requests: {why}",
                name=self.name,
                count=len(running),
                why=why,
            )
        for _, request in running:
            request.cancel()
        return [requestId for requestId, _ in running]

    def _doubt(self, what: str) -> None:
        """
        Doubt that the front still knows the requests it sends: no front
        has welcomed this link since it lost its front (silent, or it said
        C{BYE}: a C{REQ} sent before, delivered late), or a C{REQ} came
        more than L{DOUBT_AFTER} of the front's intervals after anything
        else from it (a network cut), or this link's heartbeat failed to
        run for that long (the process was paused).  The front, having
        heard nothing for three, may have declared it dead and answered
        its requests, a POST 502, or sent them elsewhere.  Started, such a
        request would run though its client was answered (a helper's
        SIGSTOP and network cuts: a POST answered 502 ran when its handler
        came back).  So every message about requests is held from now on
        until a C{WELCOME} answers the C{HELLO} that the caller sends now,
        and says which it is (L{_settleHeld}).

        @param what: what made the link doubt, for the log.
        """
        self._held = []
        # (Each caller says HELLO next.)
        self._heldFrom = self.hellos + 1
        self._say(
            LogLevel.info,
            "mphandler {name}: {what}: requests from front {address} are held "
            "until it answers a HELLO, which says whether it still knows them",
            what=what,
        )

    def _settleHeld(self, registeredAnew: bool) -> None:
        """
        A C{WELCOME} came while requests were held (L{_doubt}): if the
        front registered this link anew, it had forgotten them (and
        answered or retried them): they are dropped.  Otherwise it still
        counts on them: they are handled now, in the order they came, but
        for a request that a C{CANCEL} or C{RECALL} held after it takes
        back: that one never starts (the application would begin what no
        one waits for, or what the front means to send elsewhere).  It is
        given back by C{RECALLED} if recalled (the front sends it on, and
        counts its slot free), else its credit goes back by C{CREDIT}.
        """
        held, self._held = self._held or [], None
        if registeredAnew:
            self._dropHeld(held)
            return
        takenBack = {
            message.requestId: isinstance(message, protocol.Recall)
            for _, message in held
            if isinstance(message, (protocol.Cancel, protocol.Recall))
        }
        cancelled = sum(
            1 for _, message in held
            if isinstance(message, protocol.Request)
            and takenBack.get(message.requestId) is False
        )
        if cancelled and not self.draining:
            if self._answered < self.hellos:
                # A HELLO sent while they were held, not answered yet,
                # counted them free: a front that registers the link anew
                # from it takes no CREDIT for them.
                self._owe(self.hellos, self.hellos, cancelled)
            else:
                # Before what is replayed: a REQ replayed may begin another
                # hold, whose HELLO must come after this credit (a front
                # that forgot the link registers it from that HELLO, the
                # slot counted free).
                self._send.send(protocol.encodeCredit(cancelled))
        for frames, message in held:
            if isinstance(message, protocol.Request) and message.requestId in takenBack:
                # (Its CANCEL or RECALL, and all else about it, is then for
                # an id not running: ignored.)
                if takenBack[message.requestId]:
                    self.stats["recalled"] += 1
                    self._send.send(protocol.encodeRecalled(message.requestId))
            else:
                self.controlReceived(frames)

    def _dropHeld(self, held: list[tuple[Sequence[Frame], protocol.Message]]) -> None:
        requests = sum(1 for _, message in held if isinstance(message, protocol.Request))
        if requests:
            self._say(
                LogLevel.info,
                "mphandler {name}: dropped {count} requests held from front "
                "{address}: it had forgotten this handler (declared it dead), "
                "and answered or retried them",
                count=requests,
            )

    def _registeredAnew(self, sequence: int) -> None:
        """
        The front registered this link anew from its C{HELLO} number
        C{sequence}: it knows none of the requests running here (it
        declared the link dead, or forgot it otherwise, and retried or
        failed them), and will send none of the body or window they may
        wait for.  Cancel them all; a C{REQ} of the new registration comes
        after the C{WELCOME}.  Those that came after that C{HELLO} (sent
        before the front forgot the link, and delivered late) were counted
        free by it: no C{CREDIT} must follow them, unless a front registers
        the link anew from a later C{HELLO}, which counted them busy (one
        restarted since): which, the answers to every C{HELLO} sent say
        once they end (L{_settleOwed}).  Called holding the lock.
        """
        for sink in self._sinks.values():
            # (Not settled now: a front that registers the link from a later
            # HELLO, which counted the request busy, is owed its credit.)
            sink.since = sequence
        self._cancelAll("the front registered this handler anew: it forgot them")

    def returnConnected(self, connected: bool) -> None:
        """
        The return socket completed a handshake with a front (C{connected})
        or has no connection (it has not connected yet, or lost it), as its
        monitor says.  Called by the handler's service in the reactor
        thread.
        """
        if connected:
            self._returnDownSince = None
        elif self._returnDownSince is None:
            self._returnDownSince = self._reactor.seconds()
            self._nextReturnWarning = self._returnDownSince + NO_FRONT_WARNING

    def _warnIfReturnDown(self) -> None:
        """
        Warn, at most every L{NO_FRONT_WARNING_INTERVAL} seconds, that a
        front answers on the send socket while the return socket has had
        no connection for L{NO_FRONT_WARNING} seconds or more: the front
        sends requests, and gets none of their replies (a wrong
        C{--return}, or a firewall that lets one port through): its
        clients get 504 after its C{--timeout}, and nothing else says why.
        """
        since = self._returnDownSince
        now = self._reactor.seconds()
        if since is None or self.front is None or now < self._nextReturnWarning:
            return
        self._nextReturnWarning = now + NO_FRONT_WARNING_INTERVAL
        self._say(
            LogLevel.warn,
            "mphandler {name}: front {front} answers at --send {address}, but "
            "--return {returnAddress} has not connected for {seconds} s: the "
            "front gets no reply of this handler's, and its clients 504; is "
            "--return that front's, and reachable?{hint}",
            hint=_descriptorHint(),
            front=printable(self.front),
            returnAddress=self.returnAddress,
            seconds=round(now - since),
        )

    @property
    def interval(self) -> float:
        """
        Seconds between its heartbeats: its own (C{heartbeat}, from
        C{--heartbeat}), or the front's from its C{WELCOME} if that is
        shorter, so that the front never finds it silent.
        """
        if self._frontHeartbeat is None:
            return self.heartbeat
        return min(self.heartbeat, self._frontHeartbeat)

    def _heartbeat(self) -> None:
        now = self._reactor.seconds()
        if now > self._doubtAt and not self.draining:
            # (Before the REQs that wait to be read: a paused reactor may
            # run its timers first.)
            if self._held is None:
                self._doubt(
                    "its heartbeat ran %.1f s after the one before (was it paused?)"
                    % (now - self._beatAt,)
                )
            else:
                # Paused again while holding: only the answer to the HELLO
                # this heartbeat says settles what is held, which an older
                # answer, sent before this pause, would not.
                self._heldFrom = self.hellos + 1
        self._beatAt = now
        self._doubtAt = now + self._doubtSpan
        late = 0.0 if self._beat is None else now - self._beat.getTime()
        self._beat = self._reactor.callLater(self.interval, self._heartbeat)
        self._collect()
        # (Three of the front's intervals, if it said: it pings at those.)
        silence = protocol.SILENT_INTERVALS * (self._frontHeartbeat or self.heartbeat)
        silent = self.front is not None and now - self._lastHeard > silence
        paused = late > LIVENESS_LATENESS
        if silent and protocol.sparedForPause(paused, self._lastHeard, self._gracedAt):
            # This process was not running (paused): what the front sent
            # meanwhile is not read yet.  Judged at the next heartbeat.
            self._gracedAt = now
            silent = False
            self._log.warn(
                "mphandler {name}: its heartbeat ran {late:.3f} s late (the"
                " handler was paused?): front {front}'s silence is judged at"
                " the next one, once what it sent meanwhile is read",
                name=self.name,
                late=late,
                front=printable(self.front or "?"),
            )
        if silent:
            self._log.warn(
                "mphandler {name}: front {front} at {address} is silent: {then}",
                name=self.name,
                front=printable(self.front or "?"),
                address=self.address,
                # A draining link registers no more: it takes the front for
                # gone, its drain acknowledged; the drain still waits for
                # the requests running (those that need nothing more from
                # the front), within --graceful-timeout.
                then=(
                    "registering again" if not self.draining
                    else "taken for gone, draining ends" if not self.running
                    else "taken for gone, draining ends once the %d requests "
                    "running end" % (len(self.running),)
                ),
            )
            self.front = None
            with self._lock:
                self.creditInReply = self.creditInEnd = self.packed = self.batch = False
            # Silent since it was last heard.
            self._frontLost(self._lastHeard)
            if self.draining:
                # Its acknowledgement will not come: the front is gone.
                self._byeAcknowledged = True
                self._checkDrained()
        if self.front is None and self.running:
            # Its front went silent, and is likely to have forgotten the
            # requests running here (it took this handler for dead too,
            # as it does after the same silence), or is gone for good: a
            # request that waits for body or window from it, now or once
            # it gets to reading or writing, would wait for ever, holding
            # its thread from the handler's other fronts.  Those that need
            # nothing more from it run on; their replies go if it is back.
            # A front only paused may not have forgotten them (it spares
            # its handlers a pause): each ends with ERROR, which waits in
            # ZeroMQ until it reads, so that its client is answered then,
            # not at its --timeout.  (A front that forgot them drops it.)
            for requestId in self._cancelAll(
                "they wait for body or window from a silent front",
                waitingOnly=True,
            ):
                sink = self._sinks.get(requestId)
                if sink is not None:
                    sink.abandon(
                        "cancelled: it waited for body or window from this "
                        "front, silent for 3 heartbeats",
                        unbegun=True,
                    )
        # Once a silent front is forgotten: its link warns of that instead.
        self._warnIfReturnDown()
        if self.draining:
            self._send.send(protocol.encodePing())
        elif self.front is None:
            self._hello()
            self._warnIfFrontless()
        elif self._held is not None:
            # Requests wait for a WELCOME, which may have been lost: the
            # answer to this HELLO settles them.
            self._hello()
        elif self._owed and self._owedBeats + 1 >= self._owedWait:
            # Credits wait for the answer to every HELLO sent, which may
            # have been lost: this one's settles them.  Less and less often
            # (1, 2, 4... heartbeats, then every OWED_HELLO_MAX_WAIT): a
            # front slower to answer than a heartbeat (its reactor busy, or
            # far away) would otherwise
            # read each HELLO before it answered the one before, the last
            # never answered in time, and the credits would wait for good.
            self._owedWait = min(2 * self._owedWait, OWED_HELLO_MAX_WAIT)
            self._hello()
        else:
            self._owedBeats += 1
            self._send.send(protocol.encodePing())

    def _reply(self, frames: list[bytes]) -> None:
        """
        Send a reply, holding C{_lock}: a message that is one packed frame,
        to a front that takes C{BATCH}, is combined with those of other
        threads (L{ReplySender.combine}), and sent by the caller's
        L{ReplySender.sendCombined} once it releases the lock.
        """
        if self.packed:
            # The packed frame too must fit in the front's --max-message.
            frames = protocol.pack(frames, min(PACK_LIMIT, self.maxMessage))
            if self.batch and len(frames) == 1:
                self._return.combine(frames[0])
                return
        self._return.send(frames)

    def _ended(self, sink: _ReplySink) -> None:
        """
        The request of C{sink} ended (L{_ReplySink.finished}), in the
        reactor thread or in an application thread.  In the reactor thread
        it is finished at once; in another, noted for the reactor thread
        (see the class docstring), which is woken up for it only if its
        credit did not go with its reply (a C{CREDIT} must give it back) or
        the link drains.
        """
        if self._inReactorThread():
            self._finished(sink._requestId, sink.credited)
            return
        # Appended first, then the flag read: if it is set, the collection
        # it asked for has not cleared it yet, and so takes this one too
        # (see _collect).  A race between two threads only wakes the
        # reactor twice.  The link need not be locked: a request whose
        # credit went with its reply counts free already (see free).
        self._endedSinks.append(sink)
        if not self._wakeAsked and (not sink.credited or self.draining):
            self._wakeAsked = True
            # (Handler services pass a real reactor.)
            cast(IReactorFromThreads, self._reactor).callFromThread(self._collect)

    def _collect(self) -> None:
        """
        Finish the requests that ended in application threads (L{_ended}).
        Called in the reactor thread.
        """
        # Cleared before taking them: a request that ends meanwhile and
        # finds it clear wakes the reactor again.
        self._wakeAsked = False
        ended = self._endedSinks
        while ended:
            sink = ended.popleft()
            self._finished(sink._requestId, sink.credited)

    def _finished(self, requestId: bytes, credited: bool = False) -> None:
        """
        A request ended, or was given back to the front (C{RECALLED});
        C{credited} if its credit went back already (with its reply, or
        the C{RECALLED}).  Called in the reactor thread.
        """
        # The entry is None while the runner's run() has not returned yet.
        if requestId not in self.running:
            return
        del self.running[requestId]
        cancelCall(self._hungChecks.pop(requestId, None))
        sink = self._sinks.pop(requestId, None)
        # (Waiters only while a handler stops: the cheap test first.)
        if self._idleWaiters and not self.running:
            waiters, self._idleWaiters = self._idleWaiters, []
            for waiter in waiters:
                waiter.callback(None)
        if self.draining:
            self._checkDrained()
        elif not credited:
            if sink is not None and (sink.hellos > self._answered or sink.since is not None):
                # It came after a HELLO not answered yet (a front that
                # registers the link anew from that one counted its slot
                # free, and takes no CREDIT for it), or the front registered
                # the link anew while it ran: the answers say.
                self._owe(sink.hellos, self.hellos, since=sink.since)
                self._settleOwed(None)
            else:
                self._creditBack()

    def _creditBack(self) -> None:
        """
        Give back, by C{CREDIT}, the credit of a request that ended and
        whose reply did not.  At once, for a request that came once every
        C{HELLO} sent before it was answered (others wait: L{_settleOwed}):
        a request starts only once a front has welcomed the link since it
        last needed one (others are held, L{_doubt}), so that front's count
        took it, and a C{HELLO} sent after it came counted it busy
        (docs/protocol.md, section 5, rules 1 and 2).  (Not always: a
        front that forgets the link between reading two of its C{HELLO}s
        and registers it anew from the later counts the request's slot
        free, and this credit once too many.)
        """
        self._send.send(protocol.encodeCredit(1))

    def _owe(
        self, came: int, ended: int, count: int = 1, since: int | None = None
    ) -> None:
        """
        Keep C{count} credits until every C{HELLO} sent is answered (see
        L{_settleOwed}): of requests that came when the link had said
        C{HELLO} C{came} times, and ended when it had said it C{ended}
        times (a C{HELLO} sent meanwhile counted them busy); C{ended} is
        C{came} for a request that never ran (held, then cancelled), which
        every C{HELLO} counted free.  C{since}: the C{HELLO} the front last
        registered the link anew from while it ran, if it did.  Called in
        the reactor thread.
        """
        self._owed.extend([came, ended, since] for _ in range(count))

    def _settleOwed(self, registered: int | None) -> None:
        """
        A C{WELCOME} came, which registered the link anew from its C{HELLO}
        C{registered}, if not L{None}: once every C{HELLO} sent is answered,
        so that the front that reads a C{CREDIT} now has read them all, give
        back the credits that waited for it (L{_owe}), as docs/protocol.md,
        section 5, rule 1 says.  If the front registered the link anew
        since a credit's request ended, it is owed only if the C{HELLO} the
        front registered from counted the request busy (sent after it came,
        before it ended).  Otherwise the front kept its count, which took
        the request: it is owed.  Called in the reactor thread.
        """
        if registered is not None:
            for entry in self._owed:
                entry[2] = registered
        if self._answered < self.hellos or not self._owed:
            return
        owed = 0
        for came, ended, since in self._owed:
            assert came is not None and ended is not None
            owed += since is None or came < since <= ended
        self._owed = []
        self._owedWait = 1
        if owed and not self.draining:
            self._send.send(protocol.encodeCredit(owed))

    def controlReceived(self, frames: Sequence[Frame]) -> None:
        """
        A message arrived from the front on the send socket (the socket
        reads a C{BATCH} as its messages, one call each).  Must be called in
        the reactor thread.
        """
        if self._endedSinks:
            self._collect()
        try:
            message = protocol.decode(frames)
        except protocol.ProtocolError as e:
            self.stats["badMessages"] += 1
            self._paced.warn(
                self._log,
                _FRONT,
                "bad messages",
                "mphandler {name}: dropped a bad message from front {address}: {why}",
                name=self.name,
                address=self.address,
                why=str(e),
            )
            return
        heard = self._lastHeard
        now = self._lastHeard = self._reactor.seconds()
        if self._held is not None and isinstance(message, _ABOUT_REQUESTS):
            self._held.append((frames, message))
        elif isinstance(message, protocol.Request):
            if (
                now > self._doubtAt or self.front is None or now - heard > self._doubtSpan
            ) and not self.draining:
                self._doubt(
                    "a request came while no front had welcomed this handler"
                    if self.front is None
                    else "a request came %.1f s after this handler's last "
                    "heartbeat (was it paused?)" % (now - self._beatAt,)
                    if now > self._doubtAt
                    else "a request came %.1f s after the front was last heard "
                    "(a network cut?)" % (now - heard,)
                )
                self._held = [(frames, message)]
                self._hello()
                # (Heard now: what the front sends after answering it is
                # not in doubt, heartbeat or not.)
                self._doubtAt = now + self._doubtSpan
            else:
                self._request(message)
        elif isinstance(message, protocol.Cancel):
            running = self.running.get(message.requestId)
            if running is not None:
                if not running.cancelled:
                    # Info, not a warning: most often the client went away,
                    # no fault of the handler's, and the front warns of a
                    # --timeout itself.  (Once: a front may send CANCEL
                    # again, as often as it likes.)
                    self._log.info(
                        "request {requestId} cancelled by the front while {state} "
                        "(its client gone, a bad request body, a timeout of the "
                        "front's, or a reply the front refused: its access log and log say which)",
                        requestId=running.logId,
                        # One of --prefetch may not have reached a thread yet.
                        state="running" if running.started else "waiting for a thread",
                    )
                running.cancel()
                if message.requestId not in self._hungChecks:
                    self._hungChecks[message.requestId] = self._reactor.callLater(
                        HUNG_AFTER_CANCEL, self._stillRunning, message.requestId
                    )
        elif isinstance(message, protocol.Recall):
            self._recall(message.requestId)
        elif isinstance(message, protocol.Ping):
            pass
        elif isinstance(message, protocol.Body) and not message.credit:
            # More request body, for a REQ with more=1; ignored for an id
            # that is not running (docs/protocol.md, section 8).
            running = self.running.get(message.requestId)
            if running is not None:
                # The links' sockets receive every frame as bytes.  (Not
                # typing.cast: a call, and a list[bytes] made, per BODY.)
                running.bodyReceived(message.chunks, message.end)  # type: ignore[arg-type]
        elif isinstance(message, protocol.Window):
            # The client took more of the response; ignored for an id that
            # is not running.
            running = self.running.get(message.requestId)
            if running is not None:
                running.windowReceived(message.size)
        elif isinstance(message, protocol.Welcome):
            # Holding the lock: replies depend on what it changes.
            with self._lock:
                front = message.front or "?"
                if (
                    self._welcomedBy not in (None, "?")
                    and front not in ("?", self._welcomedBy)
                ):
                    self._cancelAll(
                        f"front {printable(self._welcomedBy)} was replaced by"
                        f" {printable(front)}"
                    )
                self._welcomedBy = front
                if message.registered is not None:
                    self._registeredAnew(message.registered)
                self._frontFound(front)
                # Beat at least as often as the front expects, or it would
                # declare this handler dead (interval).  (Not under
                # MIN_HEARTBEAT: a front's nanoseconds would have it send
                # at every turn of its reactor.)
                before = self.interval
                frontBeat = message.heartbeat
                self._frontHeartbeat = (
                    None if frontBeat is None else max(frontBeat, MIN_HEARTBEAT)
                )
                if self.interval != before and self._beat is not None and self._beat.active():
                    self._beat.reset(self.interval)
                span = DOUBT_AFTER * (self._frontHeartbeat or self.heartbeat)
                if span != self._doubtSpan:
                    # A front that beats at another pace than the link did
                    # (the first WELCOME, most often): counted from now, as
                    # the front answers the link's HELLO.  (Not at every
                    # WELCOME: one read late, after a pause, would hide it.)
                    self._doubtSpan = span
                    if self._beat is not None:
                        self._doubtAt = self._lastHeard + span
                self.maxMessage = message.maxMessage or DEFAULT_MAX_MESSAGE
                self.creditInReply = message.creditInReply
                self.creditInEnd = message.creditInEnd
                self.packed = message.packed
                self.batch = message.batch
            answers = message.answers
            # (An older front says not which HELLO it answers: all sent.)
            self._answered = max(
                self._answered, self.hellos if answers is None else answers
            )
            if self._owed:
                # Before what is replayed, as _settleHeld's credit.
                self._settleOwed(message.registered)
            if self._held is None:
                pass
            elif (
                message.registered is not None and answers is not None
                and answers < self._anewHello
            ):
                # Registered anew from a HELLO older than one with anew
                # not answered yet: what is held, the front forgot; what
                # comes next belongs to that registration, which the front
                # forgets too once it reads the HELLO with anew: held on
                # until its answer.  (Run, such a REQ took a slot the
                # front counts free, its credit given back twice.)
                self._dropHeld(self._held)
                self._held = []
            elif (
                message.registered is not None or answers is None
                or answers >= self._heldFrom
            ):
                # (An older front says not which HELLO it answers: taken
                # for the answer.)
                self._settleHeld(message.registered is not None)
        elif isinstance(message, protocol.Bye):
            if self.draining:
                # The acknowledgement of ours: no REQ can follow it.
                self._byeAcknowledged = True
                self._checkDrained()
            else:
                # The front does not know us (it restarted or declared us
                # dead) or is going away: either way it has forgotten our
                # requests, those held too.
                if self._held:
                    self._dropHeld(self._held)
                    self._held = []
                if self.front is not None:
                    # Said when it happens: the warning that no front
                    # answers comes 10 s later, and a restarted front's
                    # WELCOME follows at once (logged with its new name).
                    self._say(
                        LogLevel.info,
                        "mphandler {name}: front {front} at {address} said BYE "
                        "(it stopped or restarted, or took this handler for "
                        "dead): registering again",
                        front=printable(self.front),
                    )
                with self._lock:
                    self._frontLost(self._reactor.seconds())
                    self.front = None
                    self.creditInReply = self.creditInEnd = self.packed = self.batch = False
                    self._cancelAll("the front does not know this handler")
                    self._hello()
        else:
            self.stats["badMessages"] += 1
            self._paced.warn(
                self._log,
                _FRONT,
                "bad messages",
                "mphandler {name}: dropped an unexpected message from front {address}",
                name=self.name,
                address=self.address,
            )

    def _recall(self, requestId: bytes) -> None:
        """
        The front wants C{requestId} back, to send it where there is room
        (this handler's threads turned slow): if no thread of this one has
        taken it, it is taken back (L{Running.withdraw}), forgotten, and
        given back with C{RECALLED}, which returns its slot too; otherwise
        (it runs, or ran, or is unknown) nothing is done, and its reply
        comes as always.

        Nothing is done either while no front has welcomed the link since
        it lost its front: its C{HELLO} since counted the request busy, and
        a front that registers the link anew from it (it declared the link
        dead meanwhile: a network cut delivers the C{RECALL} late) never had
        the request, and would take a C{RECALLED} for no slot, one credit
        lost for good.  The request stays: that registration cancels it,
        and its credit goes back by C{CREDIT}, which every answer counts.
        """
        running = self.running.get(requestId)
        if self.front is None or running is None or not running.withdraw():
            return
        self.stats["recalled"] += 1
        self._send.send(protocol.encodeRecalled(requestId))
        # Its slot went back with the RECALLED.
        self._finished(requestId, credited=True)
        for observer in self.requestObservers:
            observer(-1)

    def _stillRunning(self, requestId: bytes) -> None:
        """
        L{HUNG_AFTER_CANCEL} seconds ago the front cancelled the request
        C{requestId}, and it has not finished (else L{_finished} would have
        cancelled this call): its thread is stuck in the application.  Say
        where, once: no Python thread can be made to leave a call.  Or no
        thread has taken it yet: every one is busy (stuck, as likely).
        """
        self._hungChecks[requestId] = None
        # (One that ended in its thread may wait for the reactor's next
        # message to be finished: see _ended.)
        self._collect()
        running = self.running.get(requestId)
        if running is None:
            return
        stack = running.where()
        if stack is not None:
            if running.betweenChunks:
                # A stream that waits between events (server-sent events, a
                # long poll's heartbeats), in its iterable or between
                # write()s, does so for as long as it likes: its next chunk
                # ends it.  Not stuck, so not a warning.
                level, state = LogLevel.info, (
                    "its response streams, and its next chunk (yielded, or "
                    "given to write()), which ends it, has not come; it holds "
                    "one of this handler's threads until then, at"
                )
            else:
                level, state = LogLevel.warn, (
                    "the application does not return, and holds one of this "
                    "handler's threads until it does; it is at"
                )
            self._log.emit(
                level,
                "request {requestId} still running {seconds:g} s after the "
                "front cancelled it: {state} (most recent call last):\n{stack}",
                requestId=running.logId,
                seconds=HUNG_AFTER_CANCEL,
                state=state,
                stack=stack.rstrip("\n"),
            )
        elif not running.started:
            self._log.warn(
                "request {requestId} still waiting for a thread {seconds:g} s "
                "after the front cancelled it: every thread that runs this "
                "front's requests is busy",
                requestId=running.logId,
                seconds=HUNG_AFTER_CANCEL,
            )

    def _request(self, request: protocol.Request) -> None:
        """
        Run C{request}, which the front sent now.
        """
        requestId = request.requestId
        if requestId in self.running:
            self.stats["badMessages"] += 1
            self._paced.warn(
                self._log,
                _FRONT,
                "duplicate requests",
                "mphandler {name}: dropped a duplicate request {requestId}",
                name=self.name,
                requestId=idText(requestId),
            )
            # The front took a credit for it, and it took no slot: its
            # credit goes back (no ERROR: that id's reply is the first's).
            if not self.draining:
                self._creditBack()
            return
        self.stats["requests"] += 1
        for observer in self.requestObservers:
            observer(1)
        sink = _ReplySink(self, requestId)
        self._sinks[requestId] = sink
        self.running[requestId] = None
        running = self._runner.run(requestId, request.head, request.body, sink)
        # A synchronous runner (in tests) may have finished already.
        if requestId in self.running:
            self.running[requestId] = running
