# -*- test-case-name: txmp.test.test_resource,txmp.test.test_requestframing -*-
"""
The front's Twisted Web side: a leaf resource that hands every request to
the L{Dispatcher} and finishes the HTTP response when the reply arrives.
"""

from __future__ import annotations

import json
import re
from io import BytesIO
from typing import Any, Callable, List, Optional, Sequence, Set, Tuple

from zope.interface import implementer

from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import UNIXAddress
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.compat import networkString
from twisted.python.failure import Failure
from twisted.web.http import NO_BODY_CODES, HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from txmp._access import AccessLog
from txmp._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from txmp._metrics import FrontMetrics, exposition
from txmp._dispatch import (
    IDEMPOTENT_METHODS,
    Dispatcher,
    FrontError,
    NoCapacity,
    Reply,
)
from txmp._http import (
    ChunkedDecoder,
    FramingError,
    HTTPRules,
    checkHost,
    RequestHead,
    errorResponse,
    forwardedClient,
    forwardedFromElements,
    forwardedScheme,
    isTrusted,
    parseForwarded,
)
from txmp.protocol import Frame

# The most a client connection sends in one send() call (Twisted's default
# is 128 KiB), for plain TCP connections.  Every call is a turn of the
# reactor: a large response, which reaches the front in messages of up to
# 256 KiB, costs fewer turns this way (docs/benchmarks.md, "Fewer messages,
# fewer copies, larger sends", with the commands that measure it).
SEND_LIMIT = 512 * 1024

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


DEFAULT_MAX_BODY = 1 << 30

# A body of known length up to this size is read whole and sent with the
# request, in one message; larger ones, and chunked ones, are streamed.
SMALL_BODY = 64 * 1024

DEFAULT_RULES = HTTPRules()


class FrontRequest(Request):
    """
    A request that remembers its header fields in the order received, with
    their names as sent (Twisted's L{Headers} groups and recases them), and
    whose body is streamed to a handler instead of stored.

    A request with a body is processed as soon as its head is in (see
    L{FrontChannel.allHeadersReceived}); its body chunks then go to the
    dispatcher (the L{RequestBodySource} role) as they arrive, within the
    handler's window, and are never kept whole, in memory or on disk.

    @ivar streamingBody: whether a body follows the head.
    @ivar bodyComplete: whether the whole body has been received.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Request.__init__(self, *args, **kwargs)
        self.rawHeaderPairs: List[Tuple[bytes, bytes]] = []
        self.streamingBody = False
        self.bodyComplete = False
        self._bodySink: Any = None
        self._buffered: List[bytes] = []
        self._received = 0
        self._windowPaused = False

    def gotLength(self, length: Optional[int]) -> None:
        # Twisted would open a temporary file for a large body; the body is
        # streamed instead, so the content stays empty.
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        if self.finished:
            return
        self._received += len(data)
        if not self.streamingBody:
            # A small body (at most SMALL_BODY), sent whole with the head.
            self.content.write(data)
            return
        # (--max-body was checked on the Content-Length or, for a chunked
        # body, on each chunk size, before the data.)
        if self._bodySink is not None:
            self._bodySink.bodyData(data)
        else:
            self._buffered.append(data)

    @property
    def bodyBytes(self) -> int:
        """
        How many bytes of body the client has sent so far.
        """
        return self._received

    def contentEnded(self) -> None:
        """
        The channel has received the whole body.
        """
        self.bodyComplete = True
        if self._bodySink is not None:
            sink, self._bodySink = self._bodySink, None
            sink.bodyEnd()

    # RequestBodySource

    def startReading(self, sink: Any) -> None:
        self._bodySink = sink
        buffered, self._buffered = self._buffered, []
        for data in buffered:
            sink.bodyData(data)
        if self.bodyComplete:
            self._bodySink = None
            sink.bodyEnd()
        elif not self._windowPaused and self.channel is not None:
            self.channel.resumeBodyReading()

    def pauseReading(self) -> None:
        self._windowPaused = True
        if self.channel is not None:
            self.channel.pauseBodyReading()

    def resumeReading(self) -> None:
        self._windowPaused = False
        if self.channel is not None:
            self.channel.resumeBodyReading()

    def stopReading(self) -> None:
        self._bodySink = None
        self._buffered = []

    def closeIfBodyPending(self) -> None:
        """
        A response is starting while the request body is still coming: the
        connection cannot carry another request after it, so close it (with
        a lingering close: see L{FrontChannel.loseConnection}).
        """
        if self.streamingBody and not self.bodyComplete:
            self.setHeader(b"Connection", b"close")
            if self.channel is not None:
                self.channel.persistent = False

    def getRequestHostname(self) -> bytes:
        """
        The host of C{Host} (checked by L{RequestHead}; for an
        absolute-form target, the target's), without its port or the
        brackets of an IP literal; the server's address if C{Host} is
        absent or empty (allowed for a target without an authority).
        """
        value = self.getHeader(b"host")
        host = checkHost(value) if value is not None else None
        if host:
            return host[1:-1] if host.startswith(b"[") else host
        return networkString(self.getHost().host)


class FrontChannel(HTTPChannel):
    """
    An HTTP/1.1 channel that records raw header pairs on L{FrontRequest},
    refuses a Content-Length over the site's C{maxBody} with 413 before
    reading the body (and before any C{100 Continue}), and processes a
    request with a body at once, so that the body streams to a handler.

    It also enforces the site's L{HTTPRules}: each request head is checked
    line by line (L{RequestHead}) and a bad one is answered (400, 414, 431,
    501) before any handler sees the request; a head must be complete
    within C{headerTimeout} of its first byte (else 408), however slowly
    its bytes come; a body within C{bodyTimeout} of reading time (else
    408, and the handler's request is cancelled); and a connection
    carrying no request is closed after C{idleTimeout}.  The framing of
    the body is the front's own (L{RequestHead.end}, L{ChunkedDecoder}),
    not Twisted's.  All timers use the site's reactor.

    After a refusal, or after a response sent while the request body is
    still coming, the connection is closed with a lingering close: the
    front half-closes it (on TCP and UNIX connections), then reads and
    discards what the client still sends, within the site's C{lingerTime},
    C{lingerTimeout} and C{lingerBytes}, so that a client still sending
    reads the answer instead of a reset.

    This is the one place that overrides private parts of Twisted's
    L{HTTPChannel}: C{__first_line}, C{_maybeChooseTransferDecoder},
    C{_transferDecoder}, C{_finishRequestBody}, C{_handlingRequest},
    C{_networkProducer}, C{_respondToBadRequestAndDisconnect}.
    """

    _bodyReadPaused = False
    # Refused or closing: read nothing more (but discard it, lingering).
    _rejected = False
    _draining = False
    # Whether a request has started (its first byte came) and not finished.
    _inRequest = False
    # Whether the head of a request with a body was read, and not its end.
    _bodyPending = False
    # Reading time left for the body (seconds), and the timer running it
    # down while the front reads the body.
    _bodyBudget = 0.0
    _bodyCall: Optional[IDelayedCall] = None
    _lingerCall: Optional[IDelayedCall] = None
    _lingerEndCall: Optional[IDelayedCall] = None
    _lingered = 0
    _lingerStarted = False
    _head: Optional[RequestHead] = None
    _headerDeadline: Optional[IDelayedCall] = None
    _idleCall: Optional[IDelayedCall] = None

    @property
    def maxBody(self) -> int:
        return getattr(getattr(self, "site", None), "maxBody", DEFAULT_MAX_BODY)

    @property
    def rules(self) -> HTTPRules:
        return getattr(getattr(self, "site", None), "httpRules", DEFAULT_RULES)

    @property
    def lingering(self) -> bool:
        """
        Whether the connection is in its lingering close.
        """
        return self._lingerEndCall is not None

    def connectionMade(self) -> None:
        if isinstance(self.transport, FileDescriptor):
            self.transport.SEND_LIMIT = SEND_LIMIT
        rules = self.rules
        # Twisted's own limits must never fire before ours (with their bare
        # 400); LineReceiver's line limit bounds a line still incomplete.
        self.MAX_LENGTH = max(rules.maxRequestLine, rules.maxHeaderBytes)
        self.maxHeaders = rules.maxHeaders + 1
        self.totalHeadersSize = rules.maxRequestLine + rules.maxHeaderBytes + 1
        HTTPChannel.connectionMade(self)
        site = getattr(self, "site", None)
        if isinstance(site, FrontSite):
            site.channels.add(self)
        self._startIdle()

    @property
    def busy(self) -> bool:
        """
        Whether a request is in progress (from its first byte to the end of
        its response).
        """
        return self._inRequest

    def drain(self) -> None:
        """
        The front is stopping: close now if no request is in progress,
        else once its response is complete (sent with C{Connection:
        close}).
        """
        self._draining = True
        self.persistent = False
        for request in self.requests:
            if not request.startedWriting:
                request.responseHeaders.setRawHeaders(b"connection", [b"close"])
        if not self._inRequest:
            self._close()

    def checkPersistence(self, request: Request, version: bytes) -> bool:
        if self._draining:
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return HTTPChannel.checkPersistence(self, request, version)

    def dataReceived(self, data: bytes) -> None:
        if self._rejected:
            self._discard(data)
            return
        if data and not self._inRequest:
            # The first byte of a request: its head has headerTimeout from
            # now, however the rest of it is paced (Twisted's own timer
            # restarts on every byte).
            self._inRequest = True
            self._cancelIdle()
            self._headerDeadline = self.callLater(
                self.rules.headerTimeout, self._headerTimedOut
            )
        HTTPChannel.dataReceived(self, data)

    def lineReceived(self, line: bytes) -> None:
        if self._rejected:
            return
        first = self._HTTPChannel__first_line  # type: ignore[attr-defined]
        if first:
            if not self.persistent or (not line and first == 1):
                # Data after a last request, or the one empty line that
                # Twisted forgives before a request line.
                HTTPChannel.lineReceived(self, line)
                return
            self._head = RequestHead(self.rules)
            status = self._head.requestLine(line)
        elif self._head is None:
            status = 400
        elif line:
            status, keep = self._head.fieldLine(line)
            if status is None and not keep:
                return
        else:
            status = self._head.end()
        if status is not None:
            self._refuse(status)
            return
        HTTPChannel.lineReceived(self, line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._refuse(414 if self._HTTPChannel__first_line else 431)  # type: ignore[attr-defined]

    def _respondToBadRequestAndDisconnect(self) -> None:
        self._refuse(400)

    def _refuse(self, status: int) -> None:
        """
        Answer C{status} (see L{errorResponse}), abandon the request (its
        handler gets C{CANCEL}) and close the connection, reading nothing
        more from it: with a lingering close, or, if the request's response
        had started (it cannot be followed by another, and must not look
        complete), by aborting it.
        """
        if self._rejected:
            return
        self._rejected = True
        started = any(getattr(r, "startedWriting", False) for r in self.requests)
        if not started:
            response = errorResponse(status)
            self.transport.write(response)
            # Counted as the requests Twisted Web finishes are (FrontSite.log).
            metrics = getattr(getattr(self, "site", None), "metrics", None)
            if metrics is not None:
                metrics.requestFinished(status, 0.0, 0, len(response))
        self._abandonRequests()
        if started:
            self._cancelTimers()
            self.transport.abortConnection()
        else:
            self._linger()

    def _abandonRequests(self) -> None:
        """
        Tell the requests on this connection that it is lost to them (so
        that the front's resource cancels them), though it lingers.
        """
        reason = Failure(ConnectionDone("the request was refused"))
        for request in self.requests:
            request.connectionLost(reason)

    def loseConnection(self) -> None:
        """
        Close the connection once its responses are written: with a
        lingering close if the client may still be sending a body.
        """
        if self._bodyPending and not self._rejected:
            self._rejected = True
            self._linger()
        else:
            HTTPChannel.loseConnection(self)

    def _close(self) -> None:
        self._rejected = True
        self._cancelTimers()
        self._cancelLinger()
        if self._lingerStarted:
            # (_linger has unregistered from the transport already.)
            self.transport.loseConnection()
        else:
            HTTPChannel.loseConnection(self)
        if self.abortTimeout is not None and self._abortingCall is None:
            # A client that reads nothing must not keep the connection.
            self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)

    def _linger(self) -> None:
        """
        Start the lingering close: half-close the connection after what was
        written (on TCP and UNIX connections; the TLS layer cannot), and
        read and discard until the client closes its side or a bound of
        the site's rules passes; then close.
        """
        self._bodyPending = False
        # No request is in progress any more (a draining site closes the
        # connection at once).
        self._inRequest = False
        self._cancelTimers()
        rules = self.rules
        transport = self.transport
        # Twisted pauses reading when writes back up, and stops closing
        # while a producer is registered: neither may hold the close up.
        self._lingerStarted = True
        self._networkProducer.unregisterProducer()
        if isinstance(transport, FileDescriptor):
            transport.loseWriteConnection()
        self._networkProducer.resumeProducing()
        self._lingered = 0
        self._lingerCall = self.callLater(rules.lingerTimeout, self._lingerDone)
        self._lingerEndCall = self.callLater(rules.lingerTime, self._lingerDone)

    def _discard(self, data: bytes) -> None:
        """
        Data came after a refusal: during a lingering close, count it.
        """
        if self._lingerCall is None:
            return
        self._lingered += len(data)
        if self._lingered > self.rules.lingerBytes:
            self._lingerDone()
        else:
            self._lingerCall.reset(self.rules.lingerTimeout)

    def _lingerDone(self) -> None:
        self._cancelLinger()
        self._close()

    def _cancelLinger(self) -> None:
        for name in ("_lingerCall", "_lingerEndCall"):
            call = getattr(self, name)
            setattr(self, name, None)
            if call is not None and call.active():
                call.cancel()

    def _headerTimedOut(self) -> None:
        self._headerDeadline = None
        self._log.info(
            "request head not complete within {timeout}s: closing {peer}",
            timeout=self.rules.headerTimeout,
            peer=str(self.transport.getPeer()),
        )
        self._refuse(408)

    def _idleTimedOut(self) -> None:
        self._idleCall = None
        self._close()

    def _startIdle(self) -> None:
        self._cancelIdle()
        self._idleCall = self.callLater(self.rules.idleTimeout, self._idleTimedOut)

    def _cancelIdle(self) -> None:
        if self._idleCall is not None:
            call, self._idleCall = self._idleCall, None
            if call.active():
                call.cancel()

    def _cancelDeadline(self) -> None:
        if self._headerDeadline is not None:
            call, self._headerDeadline = self._headerDeadline, None
            if call.active():
                call.cancel()

    def _cancelTimers(self) -> None:
        self._cancelIdle()
        self._cancelDeadline()
        self._stopBodyClock()

    # The body deadline: a budget of reading time, spent only while the
    # front reads the body, so that neither a trickle (its bytes do not
    # restart it) nor a wait for a handler's window (not the client's
    # doing) moves it.

    def _seconds(self) -> float:
        return self.site.reactor.seconds()  # type: ignore[no-any-return]

    def _startBodyClock(self) -> None:
        if self._bodyPending and self._bodyCall is None and not self._rejected:
            self._bodyStarted = self._seconds()
            self._bodyCall = self.callLater(max(self._bodyBudget, 0.0), self._bodyTimedOut)

    def _stopBodyClock(self) -> None:
        if self._bodyCall is not None:
            call, self._bodyCall = self._bodyCall, None
            if call.active():
                call.cancel()
            self._bodyBudget -= self._seconds() - self._bodyStarted

    def _bodyTimedOut(self) -> None:
        self._bodyCall = None
        self._log.info(
            "request body not complete within {timeout}s: closing {peer}",
            timeout=self.rules.bodyTimeout,
            peer=str(self.transport.getPeer()),
        )
        self._refuse(408)

    def requestDone(self, request: Request) -> None:
        self._inRequest = False
        if self._bodyPending:
            # Answered before its body ended (closeIfBodyPending said so in
            # the response): the rest of the body must never be read as a
            # next request.
            self.persistent = False
        HTTPChannel.requestDone(self, request)
        # Unless a pipelined request started meanwhile, the connection is
        # idle now.
        transport = self.transport
        if (
            self.persistent
            and not self._inRequest
            and not self._rejected
            and transport is not None
            and not getattr(transport, "disconnecting", False)
        ):
            self._startIdle()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancelTimers()
        self._cancelLinger()
        HTTPChannel.connectionLost(self, reason)
        site = getattr(self, "site", None)
        if isinstance(site, FrontSite):
            site.channelClosed(self)

    def headerReceived(self, line: bytes) -> bool:
        head = self._head
        if head is not None and head.authority is not None:
            name, value = line.split(b":", 1)
            if name.strip().lower() == b"host":
                # RFC 9112 section 3.2.2: the target's authority, not Host.
                line = name + b": " + head.authority
        if not HTTPChannel.headerReceived(self, line):
            return False
        name, value = line.split(b":", 1)
        request = self.requests[-1]
        if isinstance(request, FrontRequest):
            request.rawHeaderPairs.append((name, value.strip(b" \t")))
        return True

    def _maybeChooseTransferDecoder(self, header: bytes, data: bytes) -> bool:
        # Transfer-Encoding is judged on the whole head (RequestHead.end),
        # not line by line: an "identity" line must not be ignored, nor
        # "chunked" on one line taken when another line follows.
        if header == b"Transfer-Encoding":
            return True
        return HTTPChannel._maybeChooseTransferDecoder(self, header, data)  # type: ignore[no-any-return]

    def allHeadersReceived(self) -> None:
        self._cancelDeadline()
        request = self.requests[-1]
        head = self._head
        if head is not None and head.authority is not None and not head.hasHost:
            # An HTTP/1.0 request in absolute-form: its Host is the target's.
            if not self.headerReceived(b"Host: " + head.authority):
                return
        if head is not None and head.chunked:
            self.length = None
            self._transferDecoder = ChunkedDecoder(
                request.handleContentChunk, self._finishRequestBody, self.maxBody, self.rules
            )
        length = self.length
        if length is not None and length > self.maxBody:
            self._refuse(413)
            return
        HTTPChannel.allHeadersReceived(self)
        if length != 0:
            self._bodyPending = True
            self._bodyBudget = self.rules.bodyTimeout
        if (length is None or length > SMALL_BODY) and isinstance(request, FrontRequest):
            request.streamingBody = True
            # Read no body until a handler has the request and its window.
            self.pauseBodyReading()
            request.requestReceived(self._command, self._path, self._version)
        else:
            self._startBodyClock()

    def rawDataReceived(self, data: bytes) -> None:
        if self._rejected:
            return
        decoder = self._transferDecoder
        if self._handlingRequest or not isinstance(decoder, ChunkedDecoder):
            HTTPChannel.rawDataReceived(self, data)
            return
        try:
            decoder.dataReceived(data)
        except FramingError as error:
            self._log.info(
                "bad request body from {peer}: {why}",
                peer=str(self.transport.getPeer()),
                why=str(error),
            )
            self._refuse(error.status)

    def allContentReceived(self) -> None:
        self._stopBodyClock()
        self._bodyPending = False
        if self._rejected:
            return
        request = self.requests[-1] if self.requests else None
        if not (isinstance(request, FrontRequest) and request.streamingBody) and (
            request is not None
        ):
            HTTPChannel.allContentReceived(self)
            return
        # The request was processed when its head came (or has been
        # answered already): reset for the next one as Twisted does, and
        # only tell the request that its body ended.
        self.length = 0
        self._receivedHeaderCount = 0
        self._receivedHeaderSize = 0
        self._HTTPChannel__first_line = 1
        self._transferDecoder = None
        del self._command, self._path, self._version
        if self.timeOut:
            self._savedTimeOut = self.setTimeout(None)
        self._handlingRequest = True
        self.setRawMode()
        if request is not None:
            request.contentEnded()

    def pauseBodyReading(self) -> None:
        """
        Read nothing more from the client until L{resumeBodyReading}.
        """
        self._bodyReadPaused = True
        self._stopBodyClock()
        if not self._rejected:
            self._networkProducer.pauseProducing()

    def resumeBodyReading(self) -> None:
        """
        Read from the client again (unless the transport is full).
        """
        self._bodyReadPaused = False
        self._startBodyClock()
        if not self._waitingForTransport and not self._handlingRequest:
            self._networkProducer.resumeProducing()

    def resumeProducing(self) -> None:
        if self._bodyReadPaused:
            # The client's transport drained, but the handler's window is
            # still used up: resume writing, not reading.
            self._waitingForTransport = False
            if self._requestProducer is not None:
                self._requestProducer.resumeProducing()
            return
        HTTPChannel.resumeProducing(self)


def _localAddress(request: Request) -> Any:
    # One getsockname() per connection, not per request.
    channel = getattr(request, "channel", None)
    address = getattr(channel, "_txmpLocalAddress", None)
    if address is None:
        address = request.getHost()
        if channel is not None:
            channel._txmpLocalAddress = address
    return address


def _headerPairs(request: Request) -> List[Tuple[bytes, bytes]]:
    pairs = getattr(request, "rawHeaderPairs", None)
    if pairs is not None:
        return pairs
    return [
        (name, value)
        for name, values in request.requestHeaders.getAllRawHeaders()
        for value in values
    ]


_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}\Z")


def _withRequestId(
    request: Request, trusted: bool, newRequestId: Callable[[], bytes]
) -> Tuple[List[Tuple[bytes, bytes]], bytes, bool]:
    """
    The request's header pairs for the handler with its C{X-Request-Id}:
    the one it came with if the peer is a trusted proxy and the value is a
    plausible id (one field of at most 128 characters of a safe set), else
    a new one (any the client sent is dropped).

    @return: the pairs, the id, and whether it was the proxy's.
    """
    pairs = _headerPairs(request)
    given = request.requestHeaders.getRawHeaders(b"x-request-id")
    if given is not None:
        if trusted and len(given) == 1 and _REQUEST_ID.match(given[0]):
            return pairs, given[0], True
        pairs = [pair for pair in pairs if pair[0].lower() != b"x-request-id"]
    requestId = newRequestId()
    return [*pairs, (b"X-Request-Id", requestId)], requestId, False


def _peer(request: Request) -> Tuple[str, bool]:
    """
    The peer's address as text (empty on a UNIX socket), and whether it is
    a trusted proxy (the site's C{httpRules}).
    """
    rules = getattr(getattr(request, "site", None), "httpRules", DEFAULT_RULES)
    peer = request.getClientAddress()
    host = getattr(peer, "host", None)
    if host is None:
        return "", rules.trustUnixPeers and isinstance(peer, UNIXAddress)
    return host, isTrusted(host, rules.trustedProxies)


def _client(request: Request, peer: str, trusted: bool) -> Tuple[str, str, Optional[str]]:
    """
    The client's address and the scheme it used, and the host it asked
    for if a proxy says: the peer's, unless the peer is a trusted proxy and
    says otherwise in C{Forwarded} (RFC 7239), or else in
    C{X-Forwarded-For}, C{X-Forwarded-Proto} and C{X-Forwarded-Host}.
    """
    scheme = "https" if request.isSecure() else "http"
    if not trusted:
        return peer, scheme, None
    rules = getattr(getattr(request, "site", None), "httpRules", DEFAULT_RULES)
    forwarded: List[bytes] = []
    forwardedFor: List[bytes] = []
    forwardedProto: List[bytes] = []
    forwardedHost: List[bytes] = []
    for name, value in _headerPairs(request):
        lower = name.lower()
        if not lower.startswith(b"x-forwarded-") and lower != b"forwarded":
            continue
        if lower == b"forwarded":
            forwarded.append(value)
        elif lower == b"x-forwarded-for":
            forwardedFor.append(value)
        elif lower == b"x-forwarded-proto":
            forwardedProto.append(value)
        elif lower == b"x-forwarded-host":
            forwardedHost.append(value)
    if forwarded:
        client, proto, host = forwardedFromElements(
            peer, parseForwarded(forwarded), rules.trustedProxies
        )
        return client, proto or scheme, host
    return (
        forwardedClient(peer, forwardedFor, rules.trustedProxies),
        forwardedScheme(forwardedProto) or scheme,
        forwardedHost[-1].decode("latin-1").split(",")[-1].strip() if forwardedHost else None,
    )


def _hostName(host: str) -> bytes:
    """
    The name in a C{host[:port]} authority (an IPv6 address keeps its
    brackets off).
    """
    if host.startswith("["):
        return host[1:].split("]", 1)[0].encode("latin-1")
    return host.rsplit(":", 1)[0].encode("latin-1") if host.count(":") == 1 else host.encode("latin-1")


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


def _hasBody(request: Request, status: int) -> bool:
    """
    Whether the response to C{request} with C{status} carries a body: not
    for C{HEAD} (Twisted sends none), nor for C{204} and C{304}.
    """
    return request.method != b"HEAD" and status not in NO_BODY_CODES


@implementer(IPushProducer)
class _ResponseBody:
    """
    Writes a reply body to a Twisted request, framed by the reply's
    C{Content-Length}, and, for a streamed reply, grants the handler
    window as the client's transport takes it (a push producer registered
    on the request: paused while the transport is full).

    The front owns the framing (docs/protocol.md, RESP): whatever a handler
    sends, no more body than the C{Content-Length} reaches the client (the
    response ends there and the connection is closed after it), and a body
    that ends short of it aborts the connection, so that neither can be
    taken for, or swallow, the next response on the connection.

    While paused, the chunks that come are kept as they are (within the
    window, so bounded) and written in one piece when the transport has
    sent everything it had: one copy of each byte out of ZeroMQ's buffers,
    instead of a copy per message and another when the transport joins the
    messages it holds.

    @ivar _remaining: how many more body bytes the C{Content-Length}
        allows, or L{None} if the body is not framed by one (none was
        given, or the response has no body).
    @ivar _done: whether the response was finished or aborted here.
    """

    def __init__(self, request: Request) -> None:
        self._request = request
        self._reply: Optional[Reply] = None
        self._paused = False
        self._held: List[Frame] = []
        self._remaining: Optional[int] = None
        self._done = False

    def started(self, reply: Reply) -> None:
        """
        The head came: note the body's length, and register as the
        request's producer if more follows.
        """
        self._reply = reply
        if reply.contentLength is not None and _hasBody(self._request, reply.status):
            self._remaining = reply.contentLength
        if reply.more:
            self._request.registerProducer(self, True)

    def missing(self, chunks: Sequence[Frame]) -> int:
        """
        How many bytes the whole body C{chunks} lacks to be as long as the
        C{Content-Length}; 0 if it is not framed by one.
        """
        if self._remaining is None:
            return 0
        return max(0, self._remaining - sum(len(chunk) for chunk in chunks))

    def _fit(self, chunks: Sequence[Frame]) -> Tuple[Sequence[Frame], bool]:
        """
        The part of C{chunks} the C{Content-Length} still allows (counted
        against it), and whether there was more.
        """
        remaining = self._remaining
        if remaining is None:
            return chunks, False
        fitting: List[Frame] = []
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

    def writeWhole(self, chunks: Sequence[Frame]) -> None:
        """
        Write the whole body of a complete reply and finish the response.
        (L{missing} was checked before the head was written.)
        """
        chunks, overrun = self._fit(chunks)
        data = b"".join(chunks)
        if data:
            self._request.write(data)
        if overrun:
            self._overrun()
        else:
            self._done = True
            self._request.finish()

    def writeBody(self, chunks: Sequence[Frame]) -> None:
        if self._done:
            return
        chunks, overrun = self._fit(chunks)
        if overrun:
            self._writeHeld()
            self._write(chunks)
            self._overrun()
        elif self._paused:
            self._held.extend(chunks)
        else:
            self._write(chunks)

    def _write(self, chunks: Sequence[Frame]) -> None:
        # One bytes, as the transport wants (a single bytes is not copied).
        data = b"".join(chunks)
        if data:
            # May pause this producer before it returns.
            self._request.write(data)
            if self._reply is not None:
                self._reply.written(len(data), not self._paused)

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
        channel = self._request.channel
        if channel is not None:
            channel.persistent = False
        self._finish()

    def _finish(self) -> None:
        self._done = True
        self._held = []
        if self._reply is not None and self._reply.more:
            self._request.unregisterProducer()
        self._request.finish()

    def finishBody(self) -> None:
        if self._done:
            return
        self._writeHeld()
        if self._remaining:
            if self._reply is not None:
                self._reply.invalid(
                    "body ended %d bytes short of its Content-Length: "
                    "connection aborted" % (self._remaining,)
                )
            self.abortBody()
            return
        self._finish()

    def abortBody(self) -> None:
        # A truncated response must not look complete: abort, don't finish.
        self._done = True
        self._held = []
        channel = self._request.channel
        if channel is not None and channel.transport is not None:
            channel.transport.abortConnection()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        # Grant what the transport has sent before giving it more.
        if self._reply is not None:
            self._reply.clientReady()
        self._writeHeld()

    def stopProducing(self) -> None:
        # The connection is going: notifyFinish's errback cancels the reply.
        self._paused = True
        self._held = []


class FrontResource(Resource):
    """
    Serve every request through the dispatcher.  Leaf: the handler's WSGI
    application sees the whole path.

    @ivar retryAfter: the C{Retry-After} seconds sent with 503.
    """

    isLeaf = True
    retryAfter = 1
    _log = Logger()

    def __init__(self, dispatcher: Dispatcher) -> None:
        Resource.__init__(self)
        self._dispatcher = dispatcher

    def render(self, request: Request) -> Any:
        """
        Submit C{request} and finish it when the reply comes.
        """
        request.defaultContentType = None
        peer = request.getClientAddress()
        local = _localAddress(request)
        peerHost, trusted = _peer(request)
        remoteAddr, scheme, forwardedHost = _client(request, peerHost, trusted)
        meta = [
            (b"method", request.method),
            (b"target", request.uri),
            (b"version", request.clientproto),
            (b"remote_addr", remoteAddr.encode("ascii")),
            (b"remote_port", b"%d" % (getattr(peer, "port", 0),)),
            (b"server_name", request.getRequestHostname() if not forwardedHost
             else _hostName(forwardedHost)),
            (b"server_port", b"%d" % (getattr(local, "port", 0),)),
            (b"scheme", scheme.encode("ascii")),
        ]
        headers, requestId, given = _withRequestId(
            request, trusted, self._dispatcher.newRequestId
        )
        request.requestId = requestId  # type: ignore[attr-defined]
        # For the access log, which would otherwise parse the headers again.
        request.remoteAddr = remoteAddr  # type: ignore[attr-defined]
        responseBody = _ResponseBody(request)
        streaming = isinstance(request, FrontRequest) and request.streamingBody
        d = self._dispatcher.submit(
            meta,
            headers,
            [] if streaming else _readBody(request),
            responseBody,
            idempotent=request.method in IDEMPOTENT_METHODS,
            bodySource=request if streaming else None,
            requestId=None if given else requestId,
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
            callbackArgs=(request, state, responseBody),
            errbackArgs=(request,),
        )
        d.addErrback(self._unexpected, request, state)
        return NOT_DONE_YET

    def _respond(
        self, reply: Reply, request: Request, state: dict, body: "_ResponseBody"
    ) -> None:
        state["reply"] = reply
        body.started(reply)
        if not reply.more:
            missing = body.missing(reply.body)
            if missing:
                # Nothing was written yet: the client can still be told.
                reply.invalid(
                    "body %d bytes short of its Content-Length" % (missing,), 502
                )
                self._errorPage(request, 502, b"Bad Gateway")
                return
        if isinstance(request, FrontRequest):
            request.closeIfBodyPending()
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
        if b"x-request-id" not in seen:
            headers.setRawHeaders(b"X-Request-Id", [request.requestId])  # type: ignore[attr-defined]
        if reply.more:
            body.writeBody(reply.body)
        else:
            body.writeWhole(reply.body)

    def _failed(self, failure: Failure, request: Request) -> None:
        if failure.check(CancelledError):
            return
        error = failure.value
        if not isinstance(error, FrontError):
            # Not one of the dispatcher's answers: a bug, for _unexpected.
            failure.raiseException()
        if isinstance(error, NoCapacity):
            request.setHeader(b"Retry-After", b"%d" % (self.retryAfter,))
        self._errorPage(request, error.status, error.reason)

    def _unexpected(self, failure: Failure, request: Request, state: dict) -> None:
        """
        Answering C{request} failed in a way nothing else handles: log it,
        stop the handler's reply if there is one, and give the client a 500,
        or, if its response has started, an aborted connection (never one
        that looks complete).
        """
        self._log.failure(
            "unexpected failure answering {method} {uri}",
            failure,
            method=request.method.decode("latin-1"),
            uri=request.uri.decode("latin-1"),
        )
        reply: Optional[Reply] = state.get("reply")
        if reply is not None:
            reply.cancel()
        if request.finished or getattr(request, "_disconnected", False):
            return
        if not request.startedWriting:
            self._dispatcher.countStatus(500)
            self._errorPage(request, 500, b"Internal Server Error")
            return
        channel = request.channel
        if channel is not None and channel.transport is not None:
            channel.transport.abortConnection()

    def _errorPage(self, request: Request, status: int, reason: bytes) -> None:
        if request.finished or request.startedWriting:
            return
        if isinstance(request, FrontRequest):
            request.closeIfBodyPending()
        body = b"%d %s\n" % (status, reason)
        requestId = getattr(request, "requestId", None)
        if requestId is not None:
            request.setHeader(b"X-Request-Id", requestId)
        request.setResponseCode(status, reason)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Content-Length", b"%d" % (len(body),))
        request.write(body)
        request.finish()


class FrontSite(Site):
    """
    A site that writes an access log only when given one (L{AccessLog}):
    the default, a line per request in the twistd log, costs throughput
    that most deployments spend on the proxy in front instead.

    @ivar accessLog: the access log, if any.
    """

    accessLog: Optional[AccessLog] = None
    metrics: Optional[FrontMetrics] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Site.__init__(self, *args, **kwargs)
        # The open connections, and who waits for them all to close.
        self.channels: Set[FrontChannel] = set()
        self._drainWaiters: List[Deferred[None]] = []

    def drain(self) -> Deferred[None]:
        """
        Close every connection once its request in progress, if any, is
        answered (L{FrontChannel.drain}).

        @return: fires once every connection is closed.
        """
        waiter: Deferred[None] = Deferred()
        self._drainWaiters.append(waiter)
        for channel in list(self.channels):
            channel.drain()
        self._checkDrained()
        return waiter

    def channelClosed(self, channel: FrontChannel) -> None:
        """
        C{channel}'s connection is closed.
        """
        self.channels.discard(channel)
        self._checkDrained()

    def _checkDrained(self) -> None:
        if not self.channels and self._drainWaiters:
            waiters, self._drainWaiters = self._drainWaiters, []
            for waiter in waiters:
                waiter.callback(None)

    def getResourceFor(self, request: Request) -> Any:
        # Called once a request's head is in: where its duration starts.
        if self.metrics is not None or self.accessLog is not None:
            request.startedAt = self.reactor.seconds()  # type: ignore[attr-defined]
        return Site.getResourceFor(self, request)

    def log(self, request: Request) -> None:
        """
        A request ended: count it, and write its access-log line.
        """
        if self.metrics is None and self.accessLog is None:
            return
        started = getattr(request, "startedAt", None)
        duration = 0.0 if started is None else self.reactor.seconds() - started
        if self.metrics is not None:
            self.metrics.requestFinished(
                request.code, duration, getattr(request, "bodyBytes", 0),
                request.sentLength,
            )
        accessLog = self.accessLog
        if accessLog is None:
            return
        client = getattr(request, "remoteAddr", None)
        if client is None:
            # Refused or failed before render saw it.
            client = _client(request, *_peer(request))[0]
        requestId = getattr(request, "requestId", None)
        accessLog.write(
            request, client, duration,
            None if requestId is None else requestId.decode("ascii"),
        )

    def startFactory(self) -> None:
        Site.startFactory(self)
        if self.accessLog is not None:
            self.accessLog.open()

    def stopFactory(self) -> None:
        Site.stopFactory(self)
        if self.accessLog is not None:
            self.accessLog.close()


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


_TEXT = b"text/plain; charset=utf-8"


class _TextResource(Resource):
    isLeaf = True

    def __init__(self, render: Callable[[], Tuple[int, bytes, bytes]]) -> None:
        Resource.__init__(self)
        self._render = render

    def render_GET(self, request: Request) -> bytes:
        code, contentType, body = self._render()
        request.setResponseCode(code)
        request.setHeader(b"Content-Type", contentType)
        request.setHeader(b"Cache-Control", b"no-store")
        return body


class StatsRoot(Resource):
    """
    The C{--stats} endpoint: the JSON counts at C{/} (L{StatsResource}),
    and for orchestrators and Prometheus:

      - C{/healthz}: 200 while the front runs (liveness);
      - C{/readyz}: 200 while a handler that is not draining is
        registered, 503 otherwise (readiness: take the front out of a load
        balancer's rotation while it cannot serve);
      - C{/metrics}: the Prometheus text exposition (L{txmp._metrics}).
    """

    def __init__(self, dispatcher: Dispatcher, metrics: FrontMetrics) -> None:
        Resource.__init__(self)
        self._dispatcher = dispatcher
        self._json = StatsResource(dispatcher)
        self.putChild(b"healthz", _TextResource(lambda: (200, _TEXT, b"ok\n")))
        self.putChild(b"readyz", _TextResource(self._ready))
        self.putChild(
            b"metrics",
            _TextResource(
                lambda: (200, METRICS_CONTENT_TYPE, exposition(dispatcher, metrics))
            ),
        )

    def _ready(self) -> Tuple[int, bytes, bytes]:
        serving = [h for h in self._dispatcher.handlers.values() if not h.draining]
        if serving:
            return 200, _TEXT, b"ready: %d handlers\n" % (len(serving),)
        return 503, _TEXT, b"not ready: no handler registered\n"

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self._json
        return Resource.getChild(self, path, request)


class _QuietSite(Site):
    """
    A site that logs nothing per request: probes every few seconds would
    fill the front's log.
    """

    noisy = False

    def log(self, request: Request) -> None:
        pass


def makeStatsSite(
    dispatcher: Dispatcher, reactor: Any, metrics: Optional[FrontMetrics] = None
) -> Site:
    """
    A site serving L{StatsRoot} (for --stats).

    @param metrics: what the front's site counts (L{FrontSite.metrics}).
    """
    site = _QuietSite(StatsRoot(dispatcher, metrics or FrontMetrics()), reactor=reactor)
    site.displayTracebacks = False
    return site


def makeSite(
    dispatcher: Dispatcher,
    reactor: Any,
    accessLog: Optional[AccessLog] = None,
    maxBody: int = DEFAULT_MAX_BODY,
    rules: HTTPRules = DEFAULT_RULES,
    metrics: Optional[FrontMetrics] = None,
) -> Site:
    """
    A Twisted Web site serving everything through C{dispatcher}.

    @param accessLog: the access log, if any.
    @param maxBody: the largest request body accepted, in bytes: a larger
        one gets 413.
    @param rules: the limits, timeouts and trusted proxies of its
        L{FrontChannel}s.
    @param metrics: where to count finished requests, if anywhere.
    """
    site = FrontSite(FrontResource(dispatcher), reactor=reactor)
    site.accessLog = accessLog
    site.metrics = metrics
    site.maxBody = maxBody
    site.httpRules = rules
    site.protocol = FrontChannel
    site.requestFactory = FrontRequest
    site.displayTracebacks = False
    return site
