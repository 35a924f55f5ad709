# -*- test-case-name: txmp.test.test_front,txmp.test.test_requestframing,txmp.test.test_http -*-
"""
The front's HTTP/1.1 server: a connection protocol that reads request
heads and bodies by the rules of L{txmp._http}, and one L{Exchange} per
request that carries it to a handler through the L{Dispatcher} and writes
its response.

This replaces Twisted Web's C{HTTPChannel}, C{Request}, C{Site} and
C{Resource} on the front's request path: they cost a third of the front's
CPU per request (docs/benchmarks.md, "Where the time went before the rebuild"), and the
front needs none of what they offer beyond reading and writing HTTP/1.1.
Header fields stay bytes from the client's head to the C{REQ}, and from
the C{RESP} to the client.

Every method runs in the reactor thread.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

from attrs import define, field
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IProtocolNegotiationFactory,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from twisted.web.http import datetimeToString
from zope.interface import classImplements, implementer

import twisted
from txmp import protocol
from txmp._accept import AcceptLimit
from txmp._access import AccessLog
from txmp._defaults import (
    ABORT_TIMEOUT,
    DEFAULT_MAX_BODY,
    LIVENESS_LATENESS,
    MIN_PROGRESS,
    MIN_USER_TIMEOUT,
    PIPELINE_BUFFER,
    RECLAIM_ABORT,
    RECLAIM_IDLE,
    RECLAIM_PENDING,
    SEND_LIMIT,
    SMALL_BODY,
)
from txmp._dispatch import (
    IDEMPOTENT_METHODS,
    Dispatcher,
    FrontError,
    NoCapacity,
    PendingRequest,
    Reply,
)
from txmp._eager import eagerWrite, setUserTimeout, unsentBytes
from txmp._http import (
    HOP_BY_HOP,
    LINE_START,
    NO_BODY_CODES,
    REASONS,
    SERVER_SOFTWARE,
    ChunkedDecoder,
    FramingError,
    HTTPRules,
    RequestHead,
    checkHost,
    forwardedClient,
    forwardedFromElements,
    forwardedScheme,
    hostPort,
    isHeadLine,
    isTrusted,
    misdirected,
    parseForwarded,
    plainPage,
)
from txmp._interfaces import cancelCall
from txmp._metrics import FrontMetrics
from txmp._peerlog import PacedLog
from txmp.protocol import Frame

DEFAULT_RULES = HTTPRules()

# The Server header of responses whose application set none.
_SERVER = SERVER_SOFTWARE.encode("ascii")

# What OPTIONS * is told the server allows.
_ALLOW = b"GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"

_REQUEST_ID_CHARS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@/+=-"
)


# What a proxy's fields say about its client: address, scheme, host, each
# None if they do not say (FrontConnection._forwarding).
_Forwarding = tuple[Optional[str], Optional[str], Optional[str]]
# What the dispatcher answers a request with: a Reply, or a FrontError.
_Answer = TypeVar("_Answer", Reply, FrontError)

# Who a request's client is (FrontConnection.client): its address, the
# scheme it used, and the host it asked for if a proxy says.
Client = tuple[str, bytes, Optional[str]]


def plausibleRequestId(value: bytes) -> bool:
    """
    Whether a proxy's C{X-Request-Id} is used as it is: one to 128
    characters of a safe set.
    """
    return 0 < len(value) <= 128 and _REQUEST_ID_CHARS.issuperset(value)


def lastField(fields: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """
    The value of the last of C{fields} named C{name}, if any, names
    compared without case (as Twisted's C{Request.getHeader} compares them).
    """
    name = name.lower()
    found = None
    for key, value in fields:
        if key.lower() == name:
            found = value
    return found


def plainResponse(
    version: bytes,
    status: int,
    date: bytes,
    extra: Sequence[bytes] = (),
    connection: bytes | None = None,
    withBody: bool = True,
    body: bytes | None = None,
) -> tuple[bytes, int]:
    """
    A whole response the front writes itself (a refusal, an error page, the
    answer to C{OPTIONS *}): its L{plainPage}, with C{Server}, C{Date}, the
    C{extra} header lines, and C{Connection} if C{connection} is given.

    @param status: a status of L{REASONS}.
    @param connection: the value of C{Connection} (L{Exchange.connectionOption}).
    @param body: the body, if not the status and its reason.
    @param withBody: whether the body is sent (not for C{HEAD}); its
        C{Content-Length} is, either way.
    @return: the response, and how many bytes of body it holds.
    """
    fields, page = plainPage(status, body)
    lines = [
        b"%s %d %s" % (version, status, REASONS[status]),
        *extra,
        b"Server: " + _SERVER,
        b"Date: " + date,
        *[name + b": " + value for name, value in fields],
    ]
    if connection is not None:
        lines.append(b"Connection: " + connection)
    lines.append(b"\r\n")
    head = b"\r\n".join(lines)
    if not withBody:
        return head, 0
    return head + page, len(page)


# The statuses logged, never sent, for a request whose response had not
# started when its connection ended: its client went away (nginx's 499,
# "client closed request"), or the front closed it without an answer, as
# a stopping front does past --graceful-timeout (nginx's 444).
CLIENT_CLOSED = 499
CLOSED_UNANSWERED = 444


def _pieceLength(frames: Sequence[Frame]) -> int:
    """
    How many of C{frames}, from the first, make a piece to write at once:
    about L{SEND_LIMIT} bytes, what the transport sends at a turn.
    """
    size = 0
    for count, frame in enumerate(frames, 1):
        size += len(frame)
        if size >= SEND_LIMIT:
            return count
    return len(frames)


class _DateCache:
    """
    The C{Date} header value, formatted once a second.
    """

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self, now: float) -> bytes:
        second = int(now)
        if second != self._second:
            self._second = second
            self._value = datetimeToString(second)
        return self._value


class ResponseState(enum.Enum):
    """
    Where an exchange's response is.
    """

    # Submitted: waiting for the reply's head (or an error).
    WAITING = "waiting"
    # The head went to the client; body follows.
    WRITING = "writing"
    # Finished, aborted, or abandoned: nothing more is written.
    DONE = "done"


class BodyState(enum.Enum):
    """
    Where an exchange's request body is.
    """

    # None, or all of it read.
    COMPLETE = "complete"
    # A small body, read whole before the request is submitted.
    READING = "reading"
    # A large or chunked body, streamed to the handler within its window.
    STREAMING = "streaming"


class Exchange:
    """
    One request at the front, from its head to the end of its response:
    it submits the request to the L{Dispatcher}, forwards a streamed body
    (the dispatcher's C{RequestBodySource}), and writes the reply (the
    dispatcher's C{ReplyConsumer}) framed by its C{Content-Length}.

    The front owns the framing (docs/protocol.md, RESP): whatever a handler
    sends, no more body than the C{Content-Length} reaches the client (the
    response ends there and the connection is closed after it), and a body
    that ends short of it aborts the connection, so that neither can be
    taken for, or swallow, the next response on the connection.

    While the client's transport is full (its connection's
    C{transportFull}), the chunks that come are kept as they are (within
    the handler's window, so bounded) and written in one piece when it has
    sent what it had (L{transportResumed}).

    For the access log it has the attributes of a Twisted Web request that
    L{AccessLog.write} reads: C{method}, C{uri}, C{clientproto}, C{code},
    C{sentLength}, C{getHeader}.

    @ivar state: where the response is (L{ResponseState}).
    @ivar body: where the request body is (L{BodyState}).
    @ivar requestId: the id of the request (its C{X-Request-Id}).
    @ivar bodyBytes: how many bytes of body the client has sent so far.
    @ivar sentLength: how many bytes of response body were written.
    @ivar complete: whether a streamed response was complete for the client
        before its handler's C{END} (L{ReplyConsumer.complete}).
    """

    _log = Logger()
    complete = False

    def __init__(
        self, connection: FrontConnection, head: RequestHead, client: Client
    ) -> None:
        self.connection = connection
        self.method = head.method
        self.uri = head.target
        self.clientproto = head.version
        self.headers = head.fields
        self.code = 0
        self.sentLength = 0
        self.bodyBytes = 0
        self.state = ResponseState.WAITING
        self.body = BodyState.COMPLETE
        self.requestId = b""
        # Who the client is (FrontConnection.client), for submit.
        self._client = client
        # The client's address, which the access log reads.
        self.remoteAddr = client[0]
        self.startedAt: float | None = None
        self._host = head.host
        self._small: list[bytes] = []
        # The dispatcher's request, until its answer comes.
        self._pending: PendingRequest | None = None
        # The reply, until nothing more of it can come.  It holds the
        # dispatcher's request, which holds this exchange: the exchange lets
        # go of it at the reply's end, so that reference counting frees the
        # request's objects at once (a cycle would wait for the garbage
        # collector: 17 objects a request, docs/benchmarks.md, "Garbage").
        self._reply: Reply | None = None
        # The dispatcher's side of a streamed body, once it reads it.
        self._sink: PendingRequest | None = None
        self._buffered: list[bytes] = []
        # Whether the handler's window is used up.
        self._windowClosed = False
        self._held: list[Frame] = []
        self._chunked = False
        # Whether the response has a body (not for HEAD, 204, 205, 304).
        self._hasBody = True
        # Body bytes the Content-Length still allows (None: not framed by one).
        self._remaining: int | None = None
        # Whether it was counted and logged (_logDone).
        self._logged = False

    def getHeader(self, name: bytes) -> bytes | None:
        """
        The last value of the request's header field C{name}, if any.
        """
        return lastField(self.headers, name)

    # The request body, from the connection.

    @property
    def readingWanted(self) -> bool:
        """
        Whether the connection may read more of the request body now: not
        before the handler has the request, nor while its window is used up.
        """
        if self.body is BodyState.READING:
            return True
        return (
            self.body is BodyState.STREAMING and self._sink is not None and not self._windowClosed
        )

    def bodyData(self, data: bytes) -> None:
        """
        More of the request body came.
        """
        self.bodyBytes += len(data)
        if self.body is BodyState.READING:
            self._small.append(data)
            if self.bodyBytes > SMALL_BODY:
                # A chunked body larger than a small one: stream it, what
                # came first.
                self.body = BodyState.STREAMING
                self._buffered, self._small = self._small, []
                self.submit()
        elif self._sink is not None:
            self._sink.bodyData(data)
        elif self.state is ResponseState.WAITING:
            self._buffered.append(data)

    def bodyEnd(self) -> None:
        """
        The whole request body came.
        """
        reading = self.body is BodyState.READING
        self.body = BodyState.COMPLETE
        if reading:
            self.submit()
        elif self._sink is not None:
            sink, self._sink = self._sink, None
            sink.bodyEnd()

    # RequestBodySource: the dispatcher reads a streamed body.

    def startReading(self, sink: PendingRequest) -> None:
        buffered, self._buffered = self._buffered, []
        if buffered:
            # One message for what came before the handler had the request.
            sink.bodyData(buffered[0] if len(buffered) == 1 else b"".join(buffered))
        if self.body is BodyState.COMPLETE:
            sink.bodyEnd()
        else:
            self._sink = sink
            self.connection.readingChanged()
            # (The body deadline may have run already, for what came before.)
            self.readingBodyChanged()

    def readingBodyChanged(self) -> None:
        """
        The connection started or stopped reading the request body (its
        body deadline runs while it reads): tell the handler's side, whose
        reply timeout runs while it does not (L{PendingRequest.readingBody}).
        """
        sink = self._sink
        if sink is not None:
            sink.readingBody(self.connection.readingBody)

    def pauseReading(self) -> None:
        self._windowClosed = True
        self.connection.readingChanged()

    def resumeReading(self) -> None:
        self._windowClosed = False
        self.connection.readingChanged()

    def stopReading(self) -> None:
        self._sink = None
        self._buffered = []

    # Submitting, and the reply.

    def start(self, streaming: bool) -> None:
        """
        The head is in: submit the request now if its body is streamed or
        empty, else once the body is read (L{bodyEnd}).
        """
        self.startedAt = self.connection.factory.reactor.seconds()
        if self.uri == b"*":
            # OPTIONS * asks about the server, not a resource: answered
            # here, as Twisted Web did.
            self.answer(200, [b"Allow: " + _ALLOW], body=b"")
        elif streaming:
            self.body = BodyState.STREAMING
            self.submit()
        elif self.connection.bodyPending:
            self.body = BodyState.READING
        else:
            self.submit()

    def submit(self) -> None:
        connection = self.connection
        factory = connection.factory
        dispatcher = factory.dispatcher
        remoteAddr, scheme, forwardedHost = self._client
        host = self._host
        # The authority server_name comes from: a trusted proxy's forwarded
        # host, if valid, else Host (None: the latter).
        authority = None
        if forwardedHost is not None:
            authority = forwardedHost.encode("latin-1")
            forwarded = checkHost(authority)
            if forwarded:
                host = forwarded
            else:
                authority = None
        if host:
            serverName = host[1:-1] if host.startswith(b"[") else host
        else:
            serverName = connection.localHost
        headers, self.requestId, given = self._withRequestId(
            connection.trusted, dispatcher.newRequestId
        )
        meta = [
            (b"method", self.method),
            (b"target", self.uri),
            (b"version", self.clientproto),
            (b"remote_addr", remoteAddr.encode("ascii")),
            # (A client a trusted proxy names: its port is not known, and
            # the proxy's would make a pair that never was, as uvicorn's 0.)
            (b"remote_port",
             connection.peerPort if remoteAddr == connection.peerHost else b"0"),
            (b"server_name", serverName),
            (b"server_port", connection.localPort or self._namedPort(scheme, authority)),
            (b"scheme", scheme),
        ]
        streaming = self.body is BodyState.STREAMING
        small, self._small = self._small, []
        pending = dispatcher.submit(
            meta,
            headers,
            [] if streaming else ([b"".join(small)] if small else []),
            self,
            idempotent=self.method in IDEMPOTENT_METHODS,
            bodySource=self if streaming else None,
            requestId=None if given else self.requestId,
        )
        if self.state is ResponseState.WAITING:
            # Not answered at once (a full queue is): its answer will come.
            # (Held until then only: the request refers to this exchange,
            # and the cycle must not be left to the garbage collector.)
            self._pending = pending

    def _namedPort(self, scheme: bytes, authority: bytes | None) -> bytes:
        """
        The port the request was sent to, for a connection on a socket that
        has none (UNIX): the port of the host it names, as C{server_name}
        is that host (C{authority}, a trusted proxy's forwarded host, which
        L{submit} checked; else C{Host}, which carries an absolute-form
        target's authority), else the scheme's, as gunicorn does.  WSGI
        applications read it as C{SERVER_PORT} (Django's C{get_port}), and
        nginx in front on port 80 or 443 is the usual reason for such a
        socket.
        """
        value = authority if authority is not None else self.getHeader(b"host")
        port = None if value is None else hostPort(value)
        if port is None:
            port = 443 if scheme == b"https" else 80
        return protocol.encodeInt(port)

    def _withRequestId(
        self, trusted: bool, newRequestId: Callable[[], bytes]
    ) -> tuple[list[tuple[bytes, bytes]], bytes, bool]:
        """
        The header pairs for the handler with the request's
        C{X-Request-Id}: the one it came with if the peer is a trusted
        proxy and the value is plausible (L{plausibleRequestId}), else a
        new one (any the client sent is dropped).

        @return: the pairs, the id, and whether it was the proxy's.
        """
        pairs = self.headers
        given = [value for name, value in pairs if name.lower() == b"x-request-id"]
        if given:
            if trusted and len(given) == 1 and plausibleRequestId(given[0]):
                return pairs, given[0], True
            pairs = [pair for pair in pairs if pair[0].lower() != b"x-request-id"]
        requestId = newRequestId()
        return [*pairs, (b"X-Request-Id", requestId)], requestId, False

    # ReplyConsumer: the answer.

    def replyReceived(self, reply: Reply) -> None:
        self._answerWith(self._respond, reply)

    def requestFailed(self, error: FrontError) -> None:
        self._answerWith(self._failed, error)

    def _answerWith(self, answer: Callable[[_Answer], None], value: _Answer) -> None:
        """
        Let go of the dispatcher's request, and answer the client with
        C{answer(value)}.  What that raises is this exchange's
        (L{_unexpected}), not the dispatcher's, which is reading its
        socket.
        """
        self._pending = None
        try:
            answer(value)
        except Exception:  # noqa: BLE001 (any bug: logged, and the client answered)
            self._unexpected(Failure())

    def _respond(self, reply: Reply) -> None:
        if self.state is not ResponseState.WAITING:
            reply.cancel(clientGone=False)
            return
        self._reply = reply
        hasBody = self._hasBody = (
            self.method != b"HEAD" and reply.status not in NO_BODY_CODES
        )
        remaining = reply.contentLength
        if remaining is not None and hasBody:
            self._remaining = remaining
            size = sum(len(chunk) for chunk in reply.body)
            if size < remaining and not reply.more:
                # Nothing was written yet: the client can still be told.
                reply.invalid(
                    "body %d bytes short of its Content-Length" % (remaining - size,), 502
                )
                self.answer(502)
                return
            if size > remaining:
                # It overruns its Content-Length already (_overrun): the
                # head can still say that the connection closes after it.
                self.connection.persistent = False
        self.code = reply.status
        head = self._head(reply, hasBody)
        if reply.more:
            self.state = ResponseState.WRITING
            self._writeBody(reply.body, head)
        else:
            self._writeWhole(head, reply.body)
            self._reply = None

    def _head(self, reply: Reply, hasBody: bool) -> bytes:
        """
        The response head: the reply's fields without hop-by-hop ones,
        C{Server} and C{Date} unless the application set them, the
        request's C{X-Request-Id} unless it did, and the framing.
        """
        connection = self.connection
        lines = [b"%s %d %s" % (self.clientproto, reply.status, reply.reason)]
        seen: set[bytes] = set()
        status = reply.status
        ownLength = status == 204 or status == 205
        for name, value in reply.headers:
            lower = name.lower()
            if lower in HOP_BY_HOP or (ownLength and lower == b"content-length"):
                # RFC 9110 section 8.6: no Content-Length in a 204; a 205's
                # is the front's (below).
                continue
            seen.add(lower)
            lines.append(name + b": " + value)
        if status == 205:
            # RFC 9110 section 15.3.6: no content, and the client told so.
            lines.append(b"Content-Length: 0")
        if b"server" not in seen:
            lines.append(b"Server: " + _SERVER)
        if b"date" not in seen:
            lines.append(b"Date: " + connection.factory.date())
        if b"x-request-id" not in seen:
            lines.append(b"X-Request-Id: " + self.requestId)
        delimited = True
        if hasBody and reply.contentLength is None:
            if self.clientproto == b"HTTP/1.1":
                self._chunked = True
                lines.append(b"Transfer-Encoding: chunked")
            else:
                # HTTP/1.0 has no chunked coding: the body ends with the
                # connection.
                delimited = False
        option = self.connectionOption(delimited)
        if option is not None:
            lines.append(b"Connection: " + option)
        lines.append(b"\r\n")
        return b"\r\n".join(lines)

    def connectionOption(self, delimited: bool = True) -> bytes | None:
        """
        The C{Connection} field of the response, as the connection decides
        whether another request may follow it (L{FrontConnection.keepAlive}):
        C{close} if none may; C{keep-alive} if one may and the client
        speaks HTTP/1.0, whose connection would otherwise end with the
        response (RFC 9112 section 9.3); none for HTTP/1.1, whose
        connections persist unless one side says C{close}.

        @param delimited: whether the end of the response is known without
            the connection's close (a C{Content-Length}, chunked framing,
            or no body).
        """
        if not self.connection.keepAlive(self, delimited):
            return b"close"
        if self.clientproto == b"HTTP/1.0":
            return b"keep-alive"
        return None

    def _fit(self, chunks: Sequence[Frame]) -> tuple[Sequence[Frame], bool]:
        """
        The part of C{chunks} the C{Content-Length} still allows (counted
        against it), and whether there was more.
        """
        remaining = self._remaining
        if remaining is None:
            return chunks, False
        fitting: list[Frame] = []
        for chunk in chunks:
            size = len(chunk)
            if size > remaining:
                if remaining:
                    fitting.append(chunk[:remaining])
                self._remaining = 0
                return fitting, True
            fitting.append(chunk)
            remaining -= size
        self._remaining = remaining
        return fitting, False

    def _framed(self, chunks: Sequence[Frame]) -> list[Frame]:
        """
        C{chunks} as written to the client: as they are, or as one chunk
        of a chunked body; nothing for a response without a body.
        """
        if not self._hasBody:
            return []
        size = sum(len(chunk) for chunk in chunks)
        if not size:
            return []
        self.sentLength += size
        if self._chunked:
            return [b"%x\r\n" % (size,), *chunks, b"\r\n"]
        return list(chunks)

    def _writeWhole(self, head: bytes, chunks: Sequence[Frame]) -> None:
        """
        Write the whole response of a complete reply, in one piece.
        """
        chunks, overrun = self._fit(chunks)
        data = [head, *self._framed(chunks)]
        if self._chunked and not overrun:
            data.append(b"0\r\n\r\n")
        if overrun:
            # All the Content-Length allows: the response is complete.
            self._logDone()
            self.connection.write(b"".join(data))
            self._overrun()
        else:
            self._end(b"".join(data))

    # ReplyConsumer: the rest of a streamed reply.

    def writeBody(self, chunks: Sequence[Frame]) -> None:
        if self.state is ResponseState.WRITING:
            self._writeBody(chunks)
        elif self._remaining == 0 and self._reply is not None and any(chunks):
            # More than the Content-Length, after the response ended at it
            # (_writeBody): dropped, and the handler told to stop.
            self._reply.invalid(
                "body longer than its Content-Length of %d bytes: cut"
                % (self._reply.contentLength or 0,)
            )
        elif not self._hasBody and self._reply is not None:
            # The body of a response that has none (HEAD, 204, 304),
            # complete at its head: dropped, and granted back as written,
            # or a handler that sends one waits for WINDOW until its
            # reply times out.
            size = sum(len(chunk) for chunk in chunks)
            if size:
                self._reply.written(size, True)

    def _writeBody(self, chunks: Sequence[Frame], head: bytes = b"") -> None:
        """
        Write C{chunks} of a streamed body, after C{head} if they are the
        first (then in one write: one send, one packet), or hold them while
        the client's transport is full.
        """
        chunks, overrun = self._fit(chunks)
        if overrun:
            self._writeHeld()
            self._write(chunks, head)
            self._overrun()
        elif (
            (self._remaining == 0 or not self._hasBody)
            and not self.connection.bodyPending
        ):
            # All its Content-Length (or a response without a body: its
            # head): the response is complete for the client, which may
            # read the next one, or leave, before the handler's END comes
            # (that is no cancelled request, and its handler is not told to
            # stop).  The END is then nothing to do (finishBody).  Not while
            # the request's body still comes: the exchange forwards it to
            # the handler, which would otherwise never have its END.
            self._writeHeld()
            self._write(chunks, head)
            self.complete = True
            self._end()
        elif self.connection.transportFull:
            # (A pipelined response before it is still going out.)
            if head:
                self.connection.write(head)
            # Not empty chunks: they pass the handler's window, so nothing
            # else would bound how many of them are held.
            self._held.extend([chunk for chunk in chunks if len(chunk)])
        else:
            self._write(chunks, head)

    def finishBody(self) -> None:
        if self.state is ResponseState.WRITING:
            self._writeHeld()
            if self._remaining:
                if self._reply is not None:
                    self._reply.invalid(
                        "body ended %d bytes short of its Content-Length: "
                        "connection aborted" % (self._remaining,)
                    )
                self.abortBody()
            else:
                self._end(b"0\r\n\r\n" if self._chunked else b"")
        # The reply's END: nothing more of it comes.
        self._reply = None

    def abortBody(self) -> None:
        # A truncated response must not look complete: abort, don't finish;
        # logged with its status and the body bytes that went.
        if self.state is ResponseState.DONE:
            return
        if (
            self.state is ResponseState.WRITING
            and (self._remaining == 0 or not self._hasBody)
        ):
            # The client has the whole response (at its Content-Length, or
            # a head without a body), sent while its request's body still
            # came (else it was complete at once, _writeBody): nothing is
            # truncated, and it ends as at the handler's END, with the
            # lingering close (aborted, the transport would throw away
            # what it had not sent yet of the response).
            self.complete = True
            self._reply = None
            self._writeHeld()
            self._end()
            return
        self.state = ResponseState.DONE
        self._held = []
        self._reply = None
        self._logDone()
        self.connection.abort()

    def _write(self, chunks: Sequence[Frame], head: bytes = b"") -> None:
        """
        Write C{chunks} of the body, framed, after C{head} (the response
        head, when they are its first), in one write.
        """
        size = sum(len(chunk) for chunk in chunks)
        framed = self._framed(chunks) if size else []
        if size and self._remaining == 0:
            # The last bytes its Content-Length allows: logged before they go.
            self._logDone()
        if head:
            framed.insert(0, head)
        if framed:
            # One bytes, as the transport wants (a single bytes is not copied).
            first = framed[0]
            self.connection.write(
                first if len(framed) == 1 and type(first) is bytes else b"".join(framed)
            )
        if size and self._reply is not None:
            # (Writing may have filled the transport.)
            self._reply.written(size, not self.connection.transportFull)

    def _writeHeld(self) -> None:
        held, self._held = self._held, []
        if held:
            self._write(held)

    def _overrun(self) -> None:
        """
        The handler sent more body than its C{Content-Length}, and all that
        it allows was written: end the response there, close the
        connection after it (what came after cannot be trusted to be the
        next response's), and stop the handler.
        """
        if self._reply is not None:
            self._reply.invalid(
                "body longer than its Content-Length of %d bytes: cut"
                % (self._reply.contentLength or 0,)
            )
        self.connection.persistent = False
        self._end()

    def _end(self, last: bytes = b"") -> None:
        """
        The response is complete with C{last}, its last bytes: count and
        log it before they go, so that a client that has the whole
        response finds its access-log line, then let the connection go on.
        """
        self.state = ResponseState.DONE
        self._held = []
        self._logDone()
        if last:
            self.connection.write(last)
        self.connection.exchangeDone(self)

    def _logDone(self) -> None:
        """
        Count the request and write its access-log line
        (L{FrontFactory.requestDone}), once: before the last bytes of its
        response go, or when it is abandoned or cut.
        """
        if not self._logged:
            self._logged = True
            self.connection.factory.requestDone(self)

    def abortSlow(self, timeout: float) -> None:
        """
        See L{ReplyConsumer.abortSlow}.
        """
        self.connection.logClient(
            "responses not taken",
            "request {requestId}: its client took too little of the response in"
            " {timeout}s (less than {minimum} bytes): connection aborted",
            requestId=self.requestId.decode("ascii", "replace"),
            timeout=timeout,
            minimum=MIN_PROGRESS,
        )
        self.abortBody()

    def clientTaking(self) -> bool | None:
        """
        See L{ReplyConsumer.clientTaking}.
        """
        if self.state is not ResponseState.WRITING or not self.connection.transportFull:
            # (Ended at its Content-Length: the transport may be another
            # response's.)
            return None
        return self.connection.clientTook()

    def transportResumed(self) -> None:
        """
        The client's transport has sent what it held: grant that to the
        handler (the client's progress, which restarts the reply timeout),
        then write what was held meanwhile, a piece of about L{SEND_LIMIT}
        bytes (what the transport sends at a turn) at a time while the
        transport takes it.  A client that reads slowly so shows its
        progress at every piece, not only once it has taken a whole window.
        """
        held = self._held
        count = _pieceLength(held)
        if self._reply is not None and self.state is ResponseState.WRITING:
            # Granted once the rest goes out with this piece: in grants as
            # large as when all that was held went at once.
            self._reply.clientReady(count == len(held))
        while held and not self.connection.transportFull:
            self._held = held[count:]
            self._write(held[:count])
            held = self._held
            count = _pieceLength(held)

    # Errors, and the client going away.

    def _failed(self, error: FrontError) -> None:
        extra = []
        if isinstance(error, NoCapacity):
            extra.append(b"Retry-After: %d" % (self.connection.factory.retryAfter,))
        self.answer(error.status, extra)

    def _unexpected(self, failure: Failure) -> None:
        """
        Answering the request failed in a way nothing else handles: log it,
        stop the handler's reply if there is one, and give the client a
        500, or, if its response has started, an aborted connection (never
        one that looks complete).
        """
        self._log.failure(
            "unexpected failure answering request {requestId}: {method} {uri}",
            failure,
            # (As its access log line names it: a 500, or its response cut.)
            requestId=self.requestId.decode("ascii", "replace") or "-",
            method=self.method.decode("latin-1"),
            uri=self.uri.decode("latin-1"),
        )
        if self._reply is not None:
            # (Let go of: it holds the dispatcher's request, which holds
            # this exchange, a cycle left to the garbage collector.)
            reply, self._reply = self._reply, None
            reply.cancel(clientGone=False)
        if self.state is ResponseState.WAITING:
            self.connection.factory.dispatcher.countStatus(500)
            self.answer(500)
        elif self.state is ResponseState.WRITING:
            self.abortBody()

    def answer(
        self,
        status: int,
        extra: Sequence[bytes] = (),
        body: bytes | None = None,
    ) -> None:
        """
        Answer the request here (L{plainResponse}), if its response has
        not started.

        @param status: a status of L{REASONS}.
        @param extra: more header lines.
        @param body: the body, if not the status and its reason.
        """
        if self.state is not ResponseState.WAITING:
            return
        self.code = status
        if self.requestId:
            extra = [*extra, b"X-Request-Id: " + self.requestId]
        response, self.sentLength = plainResponse(
            self.clientproto, status, self.connection.factory.date(),
            extra, self.connectionOption(), self.method != b"HEAD", body,
        )
        self._end(response)

    def abandon(
        self, logged: bool = True, unstarted: int = CLIENT_CLOSED, clientGone: bool = True
    ) -> None:
        """
        The client is gone, or the request was refused: stop the handler's
        work on it, and write nothing more.

        @param logged: whether to count it and write its access-log line
            (L{FrontFactory.requestDone}): with the status already sent if
            its response had started, with the bytes of body sent so far,
            or with C{unstarted} if not.  A refusal written before any
            response (L{FrontConnection.refuse}) logs itself instead.
        @param unstarted: the status logged if the response had not
            started: L{CLIENT_CLOSED} or L{CLOSED_UNANSWERED}.
        @param clientGone: whether the client went away (the dispatcher
            counts it as C{cancelled}), not the front (a refusal, a
            stopping front's cut).
        """
        state, self.state = self.state, ResponseState.DONE
        self._sink = None
        self._buffered = []
        self._small = []
        self._held = []
        if state is ResponseState.DONE:
            return
        if self._reply is not None:
            self._reply.cancel(clientGone)
            self._reply = None
        elif self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel(clientGone)
        if logged:
            if state is ResponseState.WAITING:
                self.code = unstarted
            self._logDone()


class Refusal:
    """
    A request the front answered itself (L{FrontConnection.refuse}), with
    what the access log reads of a request: what is known of it (a head
    may have been refused before its request line was read).

    @param remoteAddr: the peer's address: the client logged for a head
        refused (whose forwarding headers are not believed); a request
        whose head was read names its client (L{Exchange.remoteAddr}: the
        one a trusted proxy forwarded).
    @ivar sentLength: how many bytes of response body were written.
    """

    def __init__(
        self, code: int, request: Exchange | RequestHead | None, remoteAddr: str
    ) -> None:
        self.code = code
        self.sentLength = 0
        self.method: bytes | None = None
        self.uri: bytes | None = None
        self.clientproto: bytes | None = None
        self.requestId = b""
        self.remoteAddr = remoteAddr
        self.startedAt: float | None = None
        self.bodyBytes = 0
        self._fields: Sequence[tuple[bytes, bytes]] = ()
        if isinstance(request, Exchange):
            self.method, self.uri = request.method, request.uri
            self.clientproto = request.clientproto
            # Its head was whole: the forwarded client, submitted or not.
            self.remoteAddr = request.remoteAddr
            self._fields = request.headers
            self.requestId = request.requestId
            self.startedAt = request.startedAt
            self.bodyBytes = request.bodyBytes
        elif request is not None:
            self.method = request.method or None
            # A request line refused whole is logged as its target (nginx
            # logs it whole as $request).
            self.uri = request.target or request.refusedLine or None
            self.clientproto = request.version or None
            self._fields = request.fields

    def getHeader(self, name: bytes) -> bytes | None:
        return lastField(self._fields, name)


def _tookEnough(seen: int, left: int) -> bool:
    """
    Whether a slow client took enough of what the front held for it, from
    C{seen} bytes not taken to C{left}: L{MIN_PROGRESS} bytes, or all that
    was left if less (a client trickling a few bytes per C{--timeout} must
    not hold a thread or a connection for ever).
    """
    return seen - left >= min(MIN_PROGRESS, seen)


class IClientTransport(ITCPTransport, IConsumer, IPushProducer):
    """
    What a L{FrontConnection} needs of its client's transport: a TCP
    transport's methods (which UNIX and TLS transports have too), to
    register itself as its producer, and to pause and resume its reading.
    """


def _descriptorOf(transport: object) -> int | None:
    """
    The file descriptor of a client connection's socket, under its TLS
    layer if it has one; L{None} if it has none (a test's transport).
    """
    for candidate in (transport, getattr(transport, "transport", None)):
        if isinstance(candidate, FileDescriptor):
            try:
                return int(candidate.fileno())
            except (OSError, ValueError):
                return None
    return None


@implementer(IPushProducer)
class FrontConnection(Protocol):
    """
    One client connection: HTTP/1.1 with pipelining, one request at a time
    (the next one is read once the response to this one is complete).

    Each request head is checked line by line (L{RequestHead}) and a bad
    one is answered (400, 414, 431, 501, 505) before any handler sees the
    request; a head must be complete within C{headerTimeout} of its first
    byte (else 408), however slowly its bytes come; a body within
    C{bodyTimeout} of reading time (else 408, and the handler's request is
    cancelled); and a connection carrying no request is closed after
    C{idleTimeout}, counted from when its last response was all sent: the
    end of a response still going out to a slow client is watched instead
    (L{_watchSending}).  A C{Content-Length} over C{maxBody} is refused with
    413 before any C{100 Continue}.

    After a refusal, or after a response sent while the request body is
    still coming, the connection is closed with a lingering close: the
    front half-closes it (on TCP and UNIX connections), then reads and
    discards what the client still sends, within C{lingerTime},
    C{lingerTimeout}, and C{lingerBytes} beyond the rest of the body its
    C{Content-Length} declared, so that a client still sending reads the
    answer instead of a reset.

    It is the transport's producer: while the client's transport is full
    (L{transportFull}) it reads nothing more, and the response being
    streamed holds what comes.

    @ivar exchange: the request in progress, from the end of its head to
        the end of its response.
    @ivar persistent: whether another request may follow on the connection.
    @ivar bodyPending: whether the body of the request in progress is still
        coming.
    """

    _log = Logger()
    factory: FrontFactory
    transport: IClientTransport

    # The state every connection starts in, as class attributes (as
    # Twisted's HTTPChannel keeps its own): a connection sets its own value
    # of one when it changes.
    exchange: Exchange | None = None
    persistent = True
    bodyPending = False
    _buffer = b""
    _head: RequestHead | None = None
    # Whether an empty line came where a request line was expected (one is
    # forgiven, RFC 9112 section 2.2).
    _emptyLine = False
    _decoder: ChunkedDecoder | None = None
    _bodyLeft = 0
    _parsing = False
    _readingPaused = False
    _transportFull = False
    _draining = False
    # Whether the client said that its request is its last (Connection:
    # close, or HTTP/1.0 without keep-alive): it sends nothing after it.
    _clientCloses = False
    # Refused or closing: read nothing more (but discard it, lingering).
    _closing = False
    _lost = False
    _headerCall: IDelayedCall | None = None
    _idleCall: IDelayedCall | None = None
    _idleSince = 0.0
    # Whether the idle timer, run late (the front was paused), was set
    # again to let the reactor read first (_idleTimedOut).
    _idleSpared = False
    # From the first byte of a request to the end of its response.
    _inRequest = False
    _bodyCall: IDelayedCall | None = None
    _bodyBudget = 0.0
    _bodyStarted = 0.0
    _lingerCall: IDelayedCall | None = None
    _lingerEndCall: IDelayedCall | None = None
    _lingered = 0
    # How many bytes the lingering close discards before it closes.
    _lingerLimit = 0
    # The decoder of a chunked body still coming while the connection
    # lingers: it finds the body's end, from which lingerBytes count.
    _lingerDecoder: ChunkedDecoder | None = None
    # Watching the client take what the transport holds (_watchSending).
    _sendCall: IDelayedCall | None = None
    _unsentSeen: int | None = None
    # What the client had not taken when clientTook last looked (or its
    # transport filled): apart from the watch's, which may run meanwhile
    # (the end of a response before a pipelined one).
    _progressSeen: int | None = None
    _sendPeriod = 0.0
    _registered = False
    trusted = False
    peerHost = ""
    peerPort = b"0"
    localHost = b""
    # None on a socket without ports (UNIX): see Exchange._namedPort.
    localPort: bytes | None = None
    scheme = b"http"

    def __init__(self, factory: FrontFactory) -> None:
        self.factory = factory
        self.rules = factory.httpRules

    # Connection facts, once per connection.

    def connectionMade(self) -> None:
        transport = self.transport
        if not self.factory.admits(_descriptorOf(transport)):
            # Accepted over --max-connections (see AcceptLimit): closed at
            # once, never counted.
            self._closing = True
            transport.abortConnection()
            return
        if isinstance(transport, FileDescriptor):
            transport.SEND_LIMIT = SEND_LIMIT
        if ITCPTransport.providedBy(transport):
            # Writes go out at once (eagerWrite), a response's head and body
            # often apart: with Nagle's algorithm, the second waits for the
            # client's delayed ACK of the first, 40 ms on Linux, at every
            # request of a kept-alive connection.  (Twisted's HTTPChannel
            # does the same.)  Refused, it is only slower: Twisted 23.10's
            # UNIX server transport says it is TCP and raises EOPNOTSUPP
            # (later ones ignore the call), and Twisted's TCP transports
            # now swallow such errors too.
            try:
                transport.setTcpNoDelay(True)
            except OSError:
                pass
        # A client whose host vanished (no FIN, no RST) acknowledges
        # nothing: without this, a stream that sends (server-sent events'
        # heartbeats) would be written to it, and its handler's thread
        # held, for as long as TCP retransmits, about 15 minutes.
        setUserTimeout(transport, max(MIN_USER_TIMEOUT, self.factory.dispatcher.timeout))
        peer = transport.getPeer()
        host = getattr(peer, "host", None)
        if host is None:
            self.trusted = self.rules.trustUnixPeers and isinstance(peer, UNIXAddress)
        else:
            self.peerHost = host
            self.trusted = isTrusted(host, self.rules.trustedProxies)
        self.peerPort = protocol.encodeInt(getattr(peer, "port", 0))
        local = transport.getHost()
        # (A UNIX socket has no address to name: SERVER_NAME, never empty in
        # WSGI, is then localhost for a request without Host, as waitress.)
        self.localHost = getattr(local, "host", "localhost").encode("latin-1")
        port = getattr(local, "port", None)
        self.localPort = None if port is None else protocol.encodeInt(port)
        if ISSLTransport.providedBy(transport):
            self.scheme = b"https"
        transport.registerProducer(self, True)
        self._registered = True
        self.factory.connectionOpened(self)
        self._startIdle()
        # Waiting for its first request, it may be closed for a new client
        # as a kept-alive one may (nginx's connections waiting for a
        # request are reusable too): a client that opened a connection it
        # does not use (a browser's preconnect, or one holding places)
        # keeps it only until --max-connections are open and RECLAIM_IDLE
        # has passed, not for --idle-timeout.
        self.factory.connectionIdle(self, self._idleSince)

    def logClient(self, kind: str, format: str, /, **fields: object) -> None:
        """
        Log, at level info, a line about what this connection's client did
        (a bad request body, a timeout of its request, its response not
        taken), paced per client address (L{FrontFactory.clientLog}): a
        client may do it as often as it likes, each time on a new
        connection.

        @param kind: what the client did, as a plural for the summary of
            the lines not written (C{"bad request bodies"}).
        """
        peer = self.transport.getPeer() if self.transport is not None else None
        host = getattr(peer, "host", None)
        self.factory.clientLog.emit(
            LogLevel.info, self._log,
            host.encode("utf-8", "replace") if isinstance(host, str) else b"unix",
            kind, format, **fields,
        )

    def client(self, headers: Sequence[tuple[bytes, bytes]]) -> Client | None:
        """
        The client's address and the scheme it used, and the host it asked
        for if a proxy says: the peer's, unless the peer is a trusted proxy
        and says otherwise, each in C{Forwarded} (RFC 7239) if that names
        it, else in C{X-Forwarded-For}, C{X-Forwarded-Proto} or
        C{X-Forwarded-Host}.

        @return: that, or L{None} if a trusted proxy's C{Forwarded} and
            C{X-Forwarded-*} fields both name the client, its scheme or its
            host, and name another.  A proxy that sets one kind passes the
            other on as its client sent it (nginx sets C{X-Forwarded-For}
            and passes C{Forwarded} on): believing the one the client wrote
            would let it choose its C{REMOTE_ADDR}, and the front cannot
            tell which one the proxy wrote.  gunicorn refuses contradictory
            scheme headers (400) likewise; waitress makes its operator
            choose one kind.
        """
        if not self.trusted:
            return self.peerHost, self.scheme, None
        said = list(zip(*self._forwarding(headers)))
        if any(
            forwarded is not None and other is not None
            and forwarded.lower() != other.lower()
            for forwarded, other in said
        ):
            return None
        client, scheme, host = (
            forwarded if forwarded is not None else other for forwarded, other in said
        )
        return (
            self.peerHost if client is None else client,
            self.scheme if scheme is None else scheme.encode("ascii"),
            host,
        )

    def _forwarding(
        self, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[_Forwarding, _Forwarding]:
        """
        What a trusted peer says about its client, by C{Forwarded} and by
        C{X-Forwarded-*}: the client's address, scheme and host, each
        L{None} if that kind of field does not name it.
        """
        nothing: _Forwarding = (None, None, None)
        rules = self.rules
        forwarded: list[bytes] = []
        forwardedFor: list[bytes] = []
        forwardedProto: list[bytes] = []
        forwardedHost: list[bytes] = []
        for name, value in headers:
            lower = name.lower()
            if lower == b"forwarded":
                forwarded.append(value)
            elif lower == b"x-forwarded-for":
                forwardedFor.append(value)
            elif lower == b"x-forwarded-proto":
                forwardedProto.append(value)
            elif lower == b"x-forwarded-host":
                forwardedHost.append(value)
        byForwarded = nothing
        if forwarded:
            elements = parseForwarded(forwarded)
            client, proto, host = forwardedFromElements(
                self.peerHost, elements, rules.trustedProxies
            )
            # Elements without for= (proto=https alone) name no client's
            # address: X-Forwarded-For may.
            named = any("for" in element for element in elements)
            byForwarded = (client if named else None), proto, host
        byX = (
            forwardedClient(self.peerHost, forwardedFor, rules.trustedProxies)
            if forwardedFor else None,
            forwardedScheme(forwardedProto),
            forwardedHost[-1].decode("latin-1").split(",")[-1].strip()
            if forwardedHost else None,
        )
        return byForwarded, byX

    @property
    def busy(self) -> bool:
        """
        Whether a request is in progress (from its first byte to the end of
        its response).
        """
        return self._inRequest

    @property
    def transportFull(self) -> bool:
        """
        Whether the client's transport has paused its producer (this).
        """
        return self._transportFull

    @property
    def idle(self) -> bool:
        """
        Whether the connection waits for a request, with nothing of one
        received and nothing of a response left to send.
        """
        return not (
            self._inRequest or self._transportFull or self._closing or self._lost
            or self._buffer
        )

    def closeIdle(self) -> None:
        """
        Close the connection, idle (L{idle}), to make room for a new one
        under C{--max-connections}, as its idle timeout would; abort it if
        it is not gone within L{RECLAIM_ABORT} seconds (a TLS client that
        does not answer the close).
        """
        self._close()
        if not self._lost:
            # In place of _close's ABORT_TIMEOUT.
            self._stopWatching()
            self._watchSending(RECLAIM_ABORT)

    def _answered(self) -> None:
        """
        A response is all sent: if the connection is now idle, the factory
        may close it for a new one (L{FrontFactory.connectionIdle}).
        """
        if self.idle:
            self.factory.connectionIdle(self, self._idleSince)

    @property
    def lingering(self) -> bool:
        """
        Whether the connection is in its lingering close.
        """
        return self._lingerEndCall is not None

    # Reading.

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            self._discard(data)
            return
        self._buffer += data
        self._parse()

    def _parse(self) -> None:
        """
        Read what the buffer holds: heads, and the body of the request in
        progress.  Not re-entered: a response finished while this runs
        lets the loop go on to the next request.
        """
        if self._parsing:
            return
        self._parsing = True
        try:
            while self._buffer and not self._closing:
                if self.bodyPending:
                    if not self._readBody():
                        break
                elif self.exchange is not None:
                    # Pipelined: read once this response is complete.
                    break
                elif self._transportFull:
                    # Pipelined behind a response the client has not taken
                    # yet: read once the transport has sent it
                    # (resumeProducing), as nginx reads a pipelined request
                    # only once the response before it is sent.  Else a
                    # client that reads nothing would have the front hold
                    # the response to each of PIPELINE_BUFFER bytes of small
                    # requests.
                    break
                elif not self._readHead():
                    break
        finally:
            self._parsing = False
        self._updateReading()

    def _readHead(self) -> bool:
        """
        Read head lines from the buffer.

        @return: whether the head ended (or was refused).
        """
        buffer = self._buffer
        # The first byte of a request: from now it is in progress, and its
        # head has headerTimeout, however the rest of it is paced (the
        # timer starts only if the head is not all here: see below).
        if not self._inRequest:
            self._inRequest = True
            self.factory.connectionBusy()
        position = 0
        end = len(buffer)
        while position < end:
            newline = buffer.find(b"\n", position)
            if newline < 0:
                if self._head is None and buffer[position] not in LINE_START:
                    # Not HTTP (a TLS ClientHello begins with 0x16): no
                    # line end need come, so no waiting for one (408).
                    self._buffer = b""
                    self.refuse(400)
                    return True
                self._buffer = buffer[position:]
                if self._headerCall is None:
                    self._headerCall = self.factory.reactor.callLater(
                        self.rules.headerTimeout, self._headerTimedOut
                    )
                # (A CR at its end may be the start of the line's end,
                # which is not counted in it.)
                partial = end - position - (buffer[-1] == 13)
                if self._head is None:
                    if partial > self.rules.maxRequestLine:
                        self.refuse(414)
                elif partial:
                    # Counted with the field lines before it: a head stays
                    # within --max-header-bytes however its lines are paced.
                    status = self._head.partialFieldLine(partial)
                    if status is not None:
                        self.refuse(status)
                return False
            line = buffer[position:newline]
            position = newline + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            head = self._head
            if head is None:
                if not line and not self._emptyLine:
                    self._emptyLine = True
                    continue
                head = self._head = RequestHead(self.rules)
                status = head.requestLine(line)
            elif line:
                status = head.fieldLine(line)[0]
            else:
                self._buffer = buffer[position:]
                status = head.end()
                if status is None:
                    self._headReceived(head)
                else:
                    self.refuse(status)
                return True
            if status is not None:
                self._buffer = b""
                self.refuse(status)
                return True
        self._buffer = b""
        if self._head is None:
            # Only the empty line forgiven before a request line.
            self._inRequest = False
        elif self._headerCall is None:
            self._headerCall = self.factory.reactor.callLater(
                self.rules.headerTimeout, self._headerTimedOut
            )
        return False

    def _headReceived(self, head: RequestHead) -> None:
        self._emptyLine = False
        self._cancelHeaderCall()
        if head.close or (head.version != b"HTTP/1.1" and not head.keepAlive):
            # An HTTP/1.0 connection ends with the response unless the
            # client asked to keep it with the keep-alive option (RFC 9112
            # section 9.3), as ApacheBench's -k does; even then, only a
            # response whose end is known without the close keeps it
            # (keepAlive).
            self.persistent = False
            self._clientCloses = True
        client = self.client(head.fields)
        if client is None:
            self.logClient(
                "contradictory forwarding fields",
                "contradictory Forwarded and X-Forwarded-* fields from {peer}",
                peer=str(self.transport.getPeer()),
            )
            self.refuse(400)
            return
        if head.authority is not None and misdirected(
            head.target, self.trusted or client[1] == b"https"
        ):
            # (In the access log, as any refusal: proxy scanners send such.)
            self.refuse(421)
            return
        length = head.contentLength
        if head.chunked:
            length = None
            self._decoder = ChunkedDecoder(
                self._chunkData, self._chunkedEnd, self.factory.maxBody, self.rules
            )
        elif length is None:
            length = 0
        if length is not None and length > self.factory.maxBody:
            # (Logged with its request line: the head is still kept.)
            self.refuse(413)
            return
        self._head = None
        exchange = self.exchange = Exchange(self, head, client)
        if length != 0:
            self.bodyPending = True
            self._bodyLeft = length or 0
            self._bodyBudget = self.rules.bodyTimeout
        # A body of up to SMALL_BODY bytes is read whole before the request
        # goes to a handler: one message, and for a chunked body, its
        # framing (chunk sizes, --max-body, trailers) checked before any
        # application sees the request.  A larger one is streamed: at once
        # if its length says so, else once it passes SMALL_BODY.
        exchange.start(length is not None and length > SMALL_BODY)
        if (
            length != 0 and head.expectContinue and head.version == b"HTTP/1.1"
            and exchange.state is ResponseState.WAITING
        ):
            # Only once the request is submitted (or waits for its body to
            # be): one answered at once (a 503 with the queue full, OPTIONS
            # *) gets its final status alone, and its client need not send
            # a body that would only be discarded (RFC 9110 section 10.1.1).
            # Nothing of a response can have been written before: the
            # exchange's answer writes it, and it is still awaited.
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _readBody(self) -> bool:
        """
        Read body bytes from the buffer, as far as the request allows.

        @return: whether to go on reading the buffer.
        """
        # What came is read even while the handler's window is used up
        # (reading from the client is paused then, so little comes): a
        # framing error in it is answered at once.
        exchange = self.exchange
        if exchange is None:
            return False
        data, self._buffer = self._buffer, b""
        decoder = self._decoder
        if decoder is not None:
            try:
                decoder.dataReceived(data)
            except FramingError as error:
                self.logClient(
                    "bad request bodies",
                    "bad request body from {peer}: {why}",
                    peer=str(self.transport.getPeer()),
                    why=str(error),
                )
                self.refuse(error.status)
            return True
        left = self._bodyLeft
        if len(data) > left:
            data, self._buffer = data[:left], data[left:]
        self._bodyLeft = left - len(data)
        exchange.bodyData(data)
        if not self._bodyLeft:
            self._bodyDone()
        return True

    def _chunkData(self, data: bytes) -> None:
        if self.exchange is not None:
            self.exchange.bodyData(data)

    def _chunkedEnd(self, rest: bytes) -> None:
        self._decoder = None
        self._buffer = rest + self._buffer
        self._bodyDone()

    def _bodyDone(self) -> None:
        self.bodyPending = False
        self._stopBodyClock()
        exchange = self.exchange
        if exchange is not None:
            exchange.bodyEnd()

    def readingChanged(self) -> None:
        """
        What the request in progress wants read has changed (the handler
        has it, or its window closed or opened): read what is buffered, and
        pause or resume reading from the client.
        """
        if self._buffer and not self._parsing:
            self._parse()
        else:
            self._updateReading()

    def _updateReading(self) -> None:
        """
        Pause or resume reading from the client, as the request in progress
        needs: read while a head is being read or the body is wanted, not
        while the handler's window is used up or a response is awaited, nor
        while the client's transport is full.
        """
        if self._lost or self._closing:
            return
        exchange = self.exchange
        if exchange is None:
            wanted = True
        elif self.bodyPending:
            wanted = exchange.readingWanted
        else:
            # Awaiting the response: keep reading (pausing and resuming
            # costs two epoll_ctl calls per request), so that a client
            # that goes away is seen at once, and its request cancelled;
            # pipelined requests are kept, up to a bound.
            wanted = len(self._buffer) < PIPELINE_BUFFER
        if self.bodyPending and wanted and not self._transportFull:
            self._startBodyClock()
        else:
            self._stopBodyClock()
        wanted = wanted and not self._transportFull
        if wanted == self._readingPaused:
            self._readingPaused = not wanted
            if wanted:
                self.transport.resumeProducing()
            else:
                self.transport.pauseProducing()

    # Writing.

    def write(self, data: bytes) -> None:
        """
        Write response bytes to the client.
        """
        if not self._lost:
            eagerWrite(self.transport, data)

    def keepAlive(self, exchange: Exchange, delimited: bool = True) -> bool:
        """
        Whether the connection carries another request after C{exchange}'s
        response: not if the client or the front said close (an HTTP/1.0
        client says close unless it asks for keep-alive), nor while the
        request's body is still coming (it must never be read as a next
        request), nor if the response ends only with the connection.

        @param delimited: whether the end of the response is known without
            the connection's close: not for a body without
            C{Content-Length} to an HTTP/1.0 client, which cannot be
            chunked.
        """
        if self.bodyPending or self._draining or not delimited:
            self.persistent = False
        return self.persistent

    def exchangeDone(self, exchange: Exchange) -> None:
        """
        C{exchange}'s response is complete (and logged): read the next
        request, or close.
        """
        if self.exchange is not exchange:
            return
        self.exchange = None
        self._inRequest = False
        if not self.persistent or self._draining:
            self.persistent = False
            if self.bodyPending or (
                (self._buffer or not self._clientCloses)
                and isinstance(self.transport, FileDescriptor)
            ):
                # Answered before its body ended; or the front ends a
                # connection its client may have sent more on (requests
                # pipelined after this one): a TCP socket closed with
                # bytes unread is reset, which destroys what the kernel has
                # not sent yet of the response (RFC 9112 section 9.6).
                # Linger: half-close, and discard what comes.  (Only where
                # it can half-close: elsewhere, TLS, the client would wait
                # for the end of a response delimited by the close.)
                decoder = self._decoder if self.bodyPending else None
                self._linger(self._bodyRest())
                if decoder is not None and self._lingerCall is not None:
                    # The rest of a chunked body, to its end (or a framing
                    # error, or --max-body), within the bounds of time.
                    decoder.discard(self._lingeredBodyEnd)
                    self._lingerDecoder = decoder
            else:
                self._close()
            return
        if self._transportFull:
            # Its end is still going out: not idle until it is sent
            # (resumeProducing), and the client is watched taking it.
            self._watchSending(self.factory.dispatcher.timeout)
        self._startIdle()
        self.readingChanged()
        self._answered()

    def cut(self) -> None:
        """
        Abort the connection and the request in progress, if any, without
        an answer: a stopping front that waited long enough for it.
        """
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.abandon(unstarted=CLOSED_UNANSWERED, clientGone=False)
        self.abort()

    def abort(self) -> None:
        """
        Abort the connection: a response that cannot be completed.
        """
        self._closing = True
        self._cancelTimers()
        if not self._lost:
            self.transport.abortConnection()

    # IPushProducer, for the transport.

    def pauseProducing(self) -> None:
        self._transportFull = True
        # Where the client is, for clientTook.
        self._progressSeen = unsentBytes(self.transport)
        self.readingChanged()

    def resumeProducing(self) -> None:
        self._transportFull = False
        if self.exchange is not None:
            self.exchange.transportResumed()
        elif not self._inRequest:
            # The last response is all sent: idle from now.
            self._stopWatching()
            self._startIdle()
        self.readingChanged()
        self._answered()

    def stopProducing(self) -> None:
        # The connection is going: connectionLost abandons the exchange.
        pass

    # Refusing, closing, lingering.

    def refuse(self, status: int, linger: bool = True) -> None:
        """
        Answer C{status} (L{plainResponse}), abandon the request in
        progress (its handler gets C{CANCEL}) and close the connection,
        reading nothing more from it: with a lingering close (unless not
        C{linger}: then at once), or, if the request's response had started
        (it cannot be followed by another, and must not look complete), by
        aborting it.
        """
        if self._closing:
            return
        rest = self._bodyRest()
        exchange = self.exchange
        started = exchange is not None and exchange.state is not ResponseState.WAITING
        refusal = None if started else Refusal(
            status, exchange if exchange is not None else self._head, self.peerHost
        )
        if refusal is not None and exchange is None and self._headerCall is not None:
            # A head refused that came in more than one read (a 408 for
            # one too slow): it began when its timer started, and its
            # duration is logged and counted from then, not as 0.
            refusal.startedAt = self._headerCall.getTime() - self.rules.headerTimeout
        # No body to HEAD, as for any response to it (RFC 9110 section
        # 9.3.2): its client would take one for the next response.  A
        # request line refused has no method: its first word says, in the
        # line refused whole, or in the buffer for one not yet whole (too
        # long: 414; too slow: 408).
        line = (self._head.refusedLine if self._head is not None else b"") or self._buffer
        head = refusal is not None and (
            refusal.method == b"HEAD" or (refusal.method is None and isHeadLine(line))
        )
        self._closing = True
        self._head = None
        self._buffer = b""
        self.exchange = None
        if exchange is not None:
            # Its response started: logged with what it sent, then cut.
            exchange.abandon(logged=started, clientGone=False)
        if refusal is None:
            self.abort()
            return
        extra = [b"X-Request-Id: " + refusal.requestId] if refusal.requestId else []
        response, refusal.sentLength = plainResponse(
            b"HTTP/1.1", status, self.factory.date(), extra, connection=b"close",
            withBody=not head,
        )
        self.transport.write(response)
        # Counted and logged as the requests answered by handlers are.
        self.factory.requestDone(refusal)
        if linger:
            self._linger(rest)
        else:
            self._close()

    def _bodyRest(self) -> int:
        """
        How many bytes of the request's body its C{Content-Length} says are
        still to come (0 for a chunked body, whose length is not known, or
        for none): a client that writes its whole body before it reads (the
        standard library's C{http.client} and C{urllib.request}, wget)
        sends them all, whatever the answer.
        """
        if self.bodyPending:
            return self._bodyLeft if self._decoder is None else 0
        head = self._head
        if head is None or head.chunked or not head.contentLength:
            return 0
        # A head refused (413 over --max-body, say): what came after it is
        # in the buffer.
        return max(head.contentLength - len(self._buffer), 0)

    def _close(self) -> None:
        """
        Close the connection once what was written is sent.
        """
        self._closing = True
        self._cancelTimers()
        self._cancelLinger()
        if self._lost:
            return
        self._unregister()
        if self._readingPaused:
            # Read again, to see the client close (TLS waits for its
            # close_notify); what comes is discarded.
            self._readingPaused = False
            self.transport.resumeProducing()
        self.transport.loseConnection()
        # A client that reads nothing must not keep the connection; one
        # still taking the end of a response is given the time a response
        # gets (--timeout) for each piece it takes.
        self._watchSending(
            self.factory.dispatcher.timeout if self._transportFull else ABORT_TIMEOUT
        )

    def _unregister(self) -> None:
        if self._registered:
            self._registered = False
            self.transport.unregisterProducer()

    def _watchSending(self, period: float) -> None:
        """
        Watch the client take what the transport holds for it, after a
        response (or while the connection closes): unless it takes some
        within C{period} seconds, and again within the front's C{--timeout}
        after each time it did, abort the connection (L{_sendWatchFired}).
        Mid-response, the reply timeout watches the client so (see
        L{PendingRequest.clientReady}); this goes on from the response's
        end, which a transport may hold for long, when the client is slow.
        """
        if self._sendCall is None and not self._lost:
            self._unsentSeen = unsentBytes(self.transport)
            self._sendPeriod = period
            self._sendCall = self.factory.reactor.callLater(period, self._sendWatchFired)

    def clientTook(self) -> bool | None:
        """
        Whether the client took enough (L{_tookEnough}) of what was written
        for it since its transport filled, or since the last call: of what
        it has not made room for (L{unsentBytes}, the kernel's part too).
        For timers that run while the transport is full: the transport,
        which writes again only once the kernel's buffer is a third free,
        may show nothing of a slow client's reading for long.

        @return: L{None} if that is not known (a TLS connection), or the
            connection is gone.
        """
        if self._lost:
            return None
        seen, left = self._progressSeen, unsentBytes(self.transport)
        self._progressSeen = left
        if seen is None or left is None:
            return None
        return _tookEnough(seen, left)

    def _stopWatching(self) -> None:
        cancelCall(self._sendCall)
        self._sendCall = None

    def _sendWatchFired(self) -> None:
        self._sendCall = None
        if self._lost or (self.exchange is not None and not self._closing):
            # A request in progress: its own timeouts watch the client.
            return
        seen, left = self._unsentSeen, unsentBytes(self.transport)
        if left and seen is not None and _tookEnough(seen, left):
            # The client took some: slow, not gone.
            self._watchSending(self.factory.dispatcher.timeout)
            return
        if left or (left is None and self._transportFull):
            self.logClient(
                "responses not taken",
                "client {peer} took too little of its response in {timeout}s"
                " (less than {minimum} bytes): connection aborted",
                peer=str(self.transport.getPeer()),
                timeout=self._sendPeriod,
                minimum=MIN_PROGRESS,
            )
        elif not self._closing:
            # All sent (resumeProducing comes, if it has not).
            return
        self.abort()

    def _linger(self, declared: int = 0) -> None:
        """
        Start the lingering close: half-close the connection after what was
        written (on TCP and UNIX connections; the TLS layer cannot), and
        read and discard until the client closes its side or a bound of
        the rules passes; then close.

        @param declared: the bytes of the request body its
            C{Content-Length} says are still to come (L{_bodyRest}): they
            are discarded, within the bounds of time, and C{lingerBytes}
            more.  (Closed after C{lingerBytes} alone, the connection of a
            client still writing a larger body was reset before it read the
            answer, as nginx and Apache, bounded by time alone, do not.)
        """
        self._closing = True
        self._inRequest = False
        self.bodyPending = False
        self._decoder = None
        self._cancelTimers()
        if self._lost:
            return
        rules = self.rules
        transport = self.transport
        # Twisted pauses reading when writes back up, and stops closing
        # while a producer is registered: neither may hold the close up.
        self._unregister()
        if isinstance(transport, FileDescriptor):
            transport.loseWriteConnection()
        # Read what comes, to discard it (even if reading was paused).
        self._readingPaused = False
        transport.resumeProducing()
        self._lingered = 0
        self._lingerLimit = rules.lingerBytes + declared
        reactor = self.factory.reactor
        self._lingerCall = reactor.callLater(rules.lingerTimeout, self._lingerDone)
        self._lingerEndCall = reactor.callLater(rules.lingerTime, self._lingerDone)

    def _discard(self, data: bytes) -> None:
        """
        Data came after a refusal: during a lingering close, count it (and
        decode the rest of a chunked body, to find its end).
        """
        if self._lingerCall is None:
            return
        self._lingered += len(data)
        decoder = self._lingerDecoder
        if decoder is not None:
            try:
                decoder.dataReceived(data)
            except FramingError:
                self._lingerDone()
                return
        if self._lingerDecoder is None and self._lingered > self._lingerLimit:
            self._lingerDone()
        else:
            self._lingerCall.reset(self.rules.lingerTimeout)

    def _lingeredBodyEnd(self, rest: bytes) -> None:
        """
        The chunked body discarded while lingering ended, C{rest} after it:
        C{lingerBytes} more are read from there.
        """
        self._lingerDecoder = None
        self._lingerLimit = self._lingered - len(rest) + self.rules.lingerBytes

    def _lingerDone(self) -> None:
        self._cancelLinger()
        self.exchange = None
        self._close()

    def drain(self) -> None:
        """
        The front is stopping: close now if no request is in progress,
        else once its response is complete (sent with C{Connection:
        close}).
        """
        self._draining = True
        self.persistent = False
        if not self.busy and not self.lingering:
            self._close()
        # A lingering close runs to its end, within its bounds: closed now
        # with what the client sent unread, the socket would be reset under
        # the end of the answer.

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        self._closing = True
        self._cancelTimers()
        self._cancelLinger()
        self._stopWatching()
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.abandon()
        self.factory.connectionClosed(self)

    # Timers.

    def _headerTimedOut(self) -> None:
        # (Its call is forgotten once refuse has read from it when the
        # head began.)
        self._timedOut("head", self.rules.headerTimeout)
        self._headerCall = None

    def _timedOut(self, what: str, timeout: float) -> None:
        """
        The request's C{what} did not come within C{timeout}: 408, and the
        connection closed at once, not lingering (as nginx, which closes
        it without an answer): a client too slow for the timeout would
        otherwise hold the connection through the lingering close too
        (up to C{lingerTime} more, a byte every C{lingerTimeout}), its
        slot of C{--max-connections} with it.
        """
        self.logClient(
            "requests not complete in time",
            "request {what} not complete within {timeout}s: closing {peer}",
            what=what,
            timeout=timeout,
            peer=str(self.transport.getPeer()),
        )
        self.refuse(408, linger=False)

    # The idle timer is armed once, not per request: when it fires it
    # closes the connection if it has been idle for idleTimeout, and else
    # waits for the rest of that time (or, while a request is in
    # progress, for the next idle time).

    def _startIdle(self) -> None:
        if self._closing or self._lost:
            return
        self._idleSince = self.factory.reactor.seconds()
        self._idleSpared = False
        if self._idleCall is None:
            self._idleCall = self.factory.reactor.callLater(
                self.rules.idleTimeout, self._idleTimedOut
            )

    def _idleTimedOut(self) -> None:
        self._idleCall = None
        if self._inRequest or self._transportFull:
            # Not idle: a request is in progress, or the last response is
            # still going out (resumeProducing starts the idle time then).
            return
        # The deadline as the timer's time was summed (_startIdle): now -
        # _idleSince may round below idleTimeout at that very time, and the
        # timer, set again for now, would find it so without end (a Clock
        # never moves on by itself).  Set for the rest of a deadline, it
        # runs at it exactly.
        due = self._idleSince + self.rules.idleTimeout
        now = self.factory.reactor.seconds()
        if now - due > LIVENESS_LATENESS and not self._idleSpared:
            # Run late: the front was paused (SIGSTOP, swap, a virtual
            # machine's stolen time), and timers run before the reactor
            # reads its sockets (a paused epoll_wait returns EINTR), so a
            # request the client sent meanwhile waits unread, and closing
            # now would answer it with a closed connection.  Set again, the
            # timer runs once the reactor has read (at its next turn, after
            # its I/O, and a little later, as it must on a Clock too).
            self._idleSpared = True
            self._idleCall = self.factory.reactor.callLater(
                LIVENESS_LATENESS, self._idleTimedOut
            )
        elif now >= due:
            self._close()
        else:
            self._idleCall = self.factory.reactor.callLater(due - now, self._idleTimedOut)

    def _cancelIdle(self) -> None:
        cancelCall(self._idleCall)
        self._idleCall = None

    def _cancelHeaderCall(self) -> None:
        cancelCall(self._headerCall)
        self._headerCall = None

    def _cancelTimers(self) -> None:
        self._cancelIdle()
        self._cancelHeaderCall()
        self._stopBodyClock()

    # The body deadline: a budget of reading time, spent only while the
    # front reads the body, so that neither a trickle (its bytes do not
    # restart it) nor a wait for a handler's window (not the client's
    # doing) moves it.

    # The reply timeout of a streamed body's request runs while this one
    # does not: the exchange tells its handler's side of each change.

    @property
    def readingBody(self) -> bool:
        """
        Whether the body deadline runs: the front is reading the body.
        """
        return self._bodyCall is not None

    def _startBodyClock(self) -> None:
        if self.bodyPending and self._bodyCall is None and not self._closing:
            reactor = self.factory.reactor
            self._bodyStarted = reactor.seconds()
            self._bodyCall = reactor.callLater(max(self._bodyBudget, 0.0), self._bodyTimedOut)
            if self.exchange is not None:
                self.exchange.readingBodyChanged()

    def _stopBodyClock(self) -> None:
        if self._bodyCall is not None:
            cancelCall(self._bodyCall)
            self._bodyCall = None
            self._bodyBudget -= self.factory.reactor.seconds() - self._bodyStarted
            if self.exchange is not None:
                self.exchange.readingBodyChanged()

    def _bodyTimedOut(self) -> None:
        self._bodyCall = None
        self._timedOut("body", self.rules.bodyTimeout)

    def _cancelLinger(self) -> None:
        self._lingerDecoder = None
        cancelCall(self._lingerCall)
        cancelCall(self._lingerEndCall)
        self._lingerCall = self._lingerEndCall = None


if TYPE_CHECKING:
    # (Factory is generic in Twisted's types, but cannot be subscripted at
    # run time in Twisted 23.10, the oldest supported.)
    _ServerFactory = ServerFactory[FrontConnection]
else:
    _ServerFactory = ServerFactory


def negotiatesOnContext(twistedVersion: str) -> bool:
    """
    Whether this release of Twisted sets TLS's ALPN up on each context
    once, asking the server's factory for its protocols at every handshake
    (26.4 and later), so that the factory must name them: such a Twisted
    fails the handshake of every client that offers protocols when it names
    none.  Earlier releases set the factory's protocols on the shared
    context as each connection is made (C{TLSMemoryBIOFactory}'s
    C{_applyProtocolNegotiation}), which pyOpenSSL 26 refuses ("Context
    has already been used to create a Connection"), failing every
    connection; there the factory names none, and clients fall back to
    HTTP/1.1 without ALPN.

    @param twistedVersion: Twisted's version, C{twisted.__version__}.
    """
    major, minor = twistedVersion.split(".")[:2]
    return (int(major), int(minor)) >= (26, 4)


def _clientText(host: bytes) -> str:
    """
    A client, as the summary of lines about it names it (L{PacedLog}).
    """
    return "client " + host.decode("utf-8", "replace")


@define(slots=False, eq=False, repr=False)
class FrontFactory(_ServerFactory):
    """
    The front's HTTP server: a L{FrontConnection} per client connection,
    serving every request through the dispatcher.

    @ivar accessLog: the access log, if any: the default, a line per
        request in the twistd log, costs throughput that most deployments
        spend on the proxy in front instead.
    @ivar metrics: where finished requests are counted, if anywhere.
    @ivar maxBody: the largest request body accepted, in bytes.
    @ivar httpRules: the limits, timeouts and trusted proxies.
    @ivar retryAfter: the C{Retry-After} seconds sent with 503.
    @ivar connections: the open connections.
    @ivar acceptLimit: what stops the ports from accepting at
        C{--max-connections} open connections, if anything.
    """

    noisy = False
    retryAfter = 1

    dispatcher: Dispatcher
    reactor: IReactorTime
    accessLog: AccessLog | None = None
    maxBody: int = DEFAULT_MAX_BODY
    httpRules: HTTPRules = field(default=DEFAULT_RULES, alias="rules")
    metrics: FrontMetrics | None = None
    connections: set[FrontConnection] = field(init=False, factory=set)
    acceptLimit: AcceptLimit | None = field(init=False, default=None)
    # Whether its listening ports are all closed (stopFactory); not
    # numPorts == 0, which is so before the first one listens too.
    _stopped: bool = field(init=False, default=False)
    _drainWaiters: list[Deferred[None]] = field(init=False, factory=list)
    # The connections that became idle after a response, in the order they
    # did, and when (some since busy again or closing: _idlest skips them).
    _idle: dict[FrontConnection, float] = field(init=False, factory=dict)
    # Set to look again when the idlest connection will have been idle for
    # RECLAIM_IDLE (_spare).
    _spareCall: IDelayedCall | None = field(init=False, default=None)
    # Whether --max-connections are open (set by _connectionsChanged).
    _atLimit: bool = field(init=False, default=False)
    # The connections closed for new ones and not gone yet (see _spare).
    _reclaiming: set[FrontConnection] = field(init=False, factory=set)
    _dates: _DateCache = field(init=False, factory=_DateCache)
    # What it logs of its clients (FrontConnection.logClient), paced as
    # what it logs of its ZeroMQ peers is, per client address and kind of
    # line (made in __attrs_post_init__, for its reactor).
    clientLog: PacedLog = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.clientLog = PacedLog(self.reactor, describe=_clientText)

    def buildProtocol(self, addr: IAddress | None) -> FrontConnection:
        return FrontConnection(self)

    def acceptableProtocols(self) -> list[bytes]:
        """
        The protocols the front speaks, for TLS's ALPN (C{--listen ssl:}):
        HTTP/1.1, and HTTP/1.0 for clients that offer it alone (C{curl
        --http1.0}), as nginx names both.  Twisted 26.10's TLS fails the
        handshake (an C{internal_error} alert) of every client that offers
        none of them, so of every client that offers protocols if there
        are none (browsers, curl and Python's C{http.client} do).  Declared
        (L{IProtocolNegotiationFactory}) only where Twisted asks for them
        without mutating a shared context: L{negotiatesOnContext}.
        """
        return [b"http/1.1", b"http/1.0"]

    def date(self) -> bytes:
        """
        The C{Date} header value for now.
        """
        return self._dates.value(self.reactor.seconds())

    def requestDone(self, request: Exchange | Refusal) -> None:
        """
        A request's response is complete, or the front refused the request
        itself (as nginx logs the 400s it answers): count it, and write its
        access-log line.
        """
        metrics, accessLog = self.metrics, self.accessLog
        if metrics is None and accessLog is None:
            return
        started = request.startedAt
        duration = 0.0 if started is None else self.reactor.seconds() - started
        if metrics is not None:
            metrics.requestFinished(
                request.code, duration, request.bodyBytes, request.sentLength
            )
        if accessLog is not None:
            accessLog.write(
                request, request.remoteAddr, duration,
                request.requestId.decode("ascii") or None,
            )

    def drain(self) -> Deferred[None]:
        """
        Close every connection once its request in progress, if any, is
        answered (L{FrontConnection.drain}).

        @return: fires once every connection is closed.
        """
        waiter: Deferred[None] = Deferred()
        self._drainWaiters.append(waiter)
        for connection in list(self.connections):
            connection.drain()
        self._checkDrained()
        return waiter

    def cutAll(self) -> list[bytes]:
        """
        Abort every connection (L{FrontConnection.cut}): a stopping front
        gives up on what they have not finished.

        @return: the ids of the requests cut (their C{X-Request-Id}, as
            their access log lines say), for the front's log.
        """
        cut = []
        for connection in list(self.connections):
            exchange = connection.exchange
            if exchange is not None and exchange.requestId:
                cut.append(exchange.requestId)
            connection.cut()
        return cut

    def admits(self, descriptor: int | None = None) -> bool:
        """
        Whether a connection just accepted may open: below
        C{--max-connections}; at it, in the place of the connection idle
        the longest, if for L{RECLAIM_IDLE} at least, closed now (as nginx
        reuses its idle kept-alive connections when it has no free one);
        not if none is (L{AcceptLimit.admits}).  Nor, at any count, a
        connection given one of the last file descriptors below the open
        files limit, kept for ZeroMQ (L{AcceptLimit.hasDescriptor}).

        @param descriptor: the connection's file descriptor, if known.
        """
        limit = self.acceptLimit
        if limit is None:
            return True
        count = len(self.connections)
        if not limit.hasDescriptor(descriptor):
            # Not in an idle one's place: the descriptor that one frees
            # is a lower one, which the next client would take.
            assert descriptor is not None
            return limit.descriptorRefused(count, descriptor)
        if count < limit.limit:
            return True
        idlest = self._idlest()
        if idlest is None or not self._spare():
            return limit.admits(count)
        limit.reclaimed(count)
        self._reclaiming.add(idlest)
        idlest.closeIdle()
        return True

    def connectionIdle(self, connection: FrontConnection, since: float) -> None:
        """
        C{connection} has answered a request, or is new, and waits for a
        request since C{since}: at C{--max-connections} it is the one a new client would
        take the place of, after those idle longer, once it has been idle
        for L{RECLAIM_IDLE}.  (Once a request: kept cheap.)
        """
        idle = self._idle
        idle.pop(connection, None)
        idle[connection] = since
        if self._atLimit:
            # The ports accept again, if they had stopped for want of one.
            self._connectionsChanged()

    def connectionBusy(self) -> None:
        """
        A connection has begun a request: at C{--max-connections}, the
        ports stop accepting if it was the last one idle.
        """
        if self._atLimit:
            self._connectionsChanged()

    def _idlest(self) -> FrontConnection | None:
        """
        The connection idle the longest (since its last response, or since
        it opened if it has carried none), if any.
        """
        idle = self._idle
        while idle:
            connection = next(iter(idle))
            if connection.idle:
                return connection
            del idle[connection]
        return None

    def _spare(self) -> bool:
        """
        Whether a connection has been idle for L{RECLAIM_IDLE} since its
        last response (or since it opened): a new one may take its place.
        If one is idle for less, look again (L{_connectionsChanged}) when it
        will have been.
        Not while L{RECLAIM_PENDING} connections closed for new ones are
        still open: each holds a descriptor beyond C{--max-connections}
        (their closing looks again).
        """
        if len(self._reclaiming) >= RECLAIM_PENDING:
            return False
        idlest = self._idlest()
        if idlest is None:
            return False
        wait = self._idle[idlest] + RECLAIM_IDLE - self.reactor.seconds()
        if wait <= 0:
            return True
        if self._spareCall is None and not self._stopped:
            self._spareCall = self.reactor.callLater(wait, self._lookAgain)
        return False

    def _lookAgain(self) -> None:
        self._spareCall = None
        self._connectionsChanged()

    def connectionOpened(self, connection: FrontConnection) -> None:
        """
        C{connection} is open.
        """
        self.connections.add(connection)
        self._connectionsChanged()

    def connectionClosed(self, connection: FrontConnection) -> None:
        """
        C{connection} is closed.
        """
        self.connections.discard(connection)
        self._idle.pop(connection, None)
        self._reclaiming.discard(connection)
        self._connectionsChanged()
        self._checkDrained()
        if self._stopped:
            self._closeAccessLog()

    def _connectionsChanged(self) -> None:
        count = len(self.connections)
        limit = self.acceptLimit
        if limit is not None:
            atLimit = self._atLimit = count >= limit.limit
            limit.connectionsChanged(count, atLimit and self._spare())
        if self.metrics is not None:
            self.metrics.connections = count

    def _checkDrained(self) -> None:
        if not self.connections and self._drainWaiters:
            waiters, self._drainWaiters = self._drainWaiters, []
            for waiter in waiters:
                waiter.callback(None)

    def startFactory(self) -> None:
        self._stopped = False
        if self.accessLog is not None:
            self.accessLog.open()

    def stopFactory(self) -> None:
        # The ports are closed, but the connections they accepted may still
        # be answering (a stopping front drains them): the access log stays
        # open until the last of them is closed.
        self._stopped = True
        cancelCall(self._spareCall)
        self._spareCall = None
        self._closeAccessLog()

    def _closeAccessLog(self) -> None:
        if self.connections:
            return
        # (Its summaries, written now: no connection is left to log.)
        self.clientLog.flush()
        if self.accessLog is not None:
            self.accessLog.close()


if negotiatesOnContext(twisted.__version__):
    classImplements(FrontFactory, IProtocolNegotiationFactory)
