# -*- test-case-name: tests -*-
"""
HTTP clients of the system tests, and what they send and receive.

L{request} makes one request with Twisted's L{Agent} and reads the whole
response into an L{HTTPResult}; L{streamedExchange} sends a body that a
L{GeneratedBody} makes as the connection takes it and receives the
response into a L{BodyDigest}, so that neither is ever held whole.  For
what L{Agent} hides (framing, pipelining, bytes that are not valid HTTP),
L{RawHTTPClient} writes the bytes it is given and parses the responses
strictly; every raw client is a L{ClientConnection}, which says when it
is closed and can be aborted.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Callable

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IConsumer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import FileBodyProducer, ResponseDone, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IBodyProducer, IResponse
from zope.interface import implementer

from .conditions import Conditions

#: How long a single HTTP request may take before the client gives up.
REQUEST_TIMEOUT = 30.0


def formatRequest(
    method: str,
    path: str,
    host: str,
    version: str = "HTTP/1.1",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> bytes:
    """
    Format a request for L{RawHTTPClient.request}, or to write on any
    connection.

    @param host: The C{Host} header.
    @param headers: More headers, in order.
    @param body: A body, sent with its C{Content-Length}.
    @return: The request bytes.
    """
    lines = [f"{method} {path} {version}", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for (name, value) in headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _headers(headers: Mapping[str, str] | None) -> Headers:
    return Headers({k: [v] for (k, v) in (headers or {}).items()})


class ClientConnection(Protocol):
    """
    A client connection that says when it is closed, and how, and can be
    aborted (as a test's cleanup does, see
    L{tests._harness.case.SystemTestCase.connect}).

    @ivar closed: Fires when the connection is lost.
    @ivar connected: Whether the connection is open.
    @ivar reason: Why the connection was lost, once it has been.
    """

    def __init__(self) -> None:
        self.closed: Deferred[None] = Deferred()
        self.connected = False
        self.reason: Failure | None = None

    def connectionMade(self) -> None:
        self.connected = True

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connected = False
        self.reason = reason
        self.closed.callback(None)

    def send(self, data: bytes) -> None:
        """
        Write C{data} on the connection.
        """
        self.transport.write(data)  # type: ignore[union-attr]

    def abort(self) -> Deferred[None]:
        """
        Abort the connection if it is open.

        @return: L{closed}.
        """
        if self.connected:
            self.transport.abortConnection()  # type: ignore[union-attr]
        return self.closed


class ConnectionLostEarly(Exception):
    """
    The connection was lost before what was waited for arrived.
    """


class RecordingConnection(ClientConnection):
    """
    A client connection that writes what it is told to and records every
    byte that comes back, whole.

    @ivar received: Everything received so far.
    """

    def __init__(self) -> None:
        super().__init__()
        self.received = b""
        self._arrivals = Conditions()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self._arrivals.check()

    def until(self, marker: bytes) -> Deferred[None]:
        """
        Wait until C{marker} has been received.

        @return: A L{Deferred} that fires once it has, or fails with
            L{ConnectionLostEarly} if the connection is lost first.
        """
        return self._arrivals.wait(lambda: marker in self.received)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._arrivals.failAll(
            ConnectionLostEarly(f"connection lost after receiving {self.received[:2000]!r}")
        )
        super().connectionLost(reason)


@implementer(IBodyProducer)
class _ChunkedBodyProducer:
    """
    A request body of unknown length, so L{Agent} sends it chunked.
    """

    length = UNKNOWN_LENGTH

    def __init__(self, body: bytes, pieceSize: int = 65536) -> None:
        self._body = body
        self._pieceSize = pieceSize

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        for start in range(0, len(self._body), self._pieceSize):
            consumer.write(self._body[start : start + self._pieceSize])
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@dataclass(frozen=True)
class HTTPResult:
    """
    A complete HTTP response as seen by L{Agent}.

    @ivar length: The C{Content-Length}, or L{None} if there was none
        (L{Agent} leaves it out of C{headers}).
    @ivar elapsed: Seconds from sending the request to reading the body.
    """

    code: int
    headers: Headers
    length: int | None
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        """
        The last value of a response header.

        @param name: The header name, any case.
        @return: Its value, or L{None}.
        """
        values = self.headers.getRawHeaders(name)
        return values[-1] if values else None


@dataclass
class RawResponse:
    """
    One HTTP response parsed from the bytes on the wire by L{RawHTTPClient}.

    @ivar chunks: The sizes of the chunks of a chunked body, or L{None} if
        the body was not chunked.
    """

    version: bytes = b""
    code: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[int] | None = None

    def header(self, name: bytes) -> bytes | None:
        """
        The last value of a response header.

        @param name: The header name, any case.
        @return: Its value, or L{None}.
        """
        values = [v for (n, v) in self.headers if n == name.lower()]
        return values[-1] if values else None


class IncompleteResponse(Exception):
    """
    The connection closed in the middle of a response.
    """


@dataclass
class _PendingResponse:
    """
    A response L{RawHTTPClient} is still parsing: C{mode} is the part it
    expects next, C{remaining} the bytes left of a body or chunk.
    """

    head: bool
    deferred: Deferred[RawResponse]
    response: RawResponse | None = None
    mode: str = "headers"
    remaining: int = 0


class RawHTTPClient(ClientConnection):
    """
    A minimal HTTP/1.x client that writes the bytes it is given and parses
    responses strictly, for checking framing that L{Agent} would hide:
    chunked encoding, bodyless C{HEAD} responses, several requests on one
    connection.

    @ivar unparsed: Bytes received that belong to no response.
    """

    def __init__(self) -> None:
        super().__init__()
        self._buffer = b""
        self._pending: deque[_PendingResponse] = deque()

    @property
    def unparsed(self) -> bytes:
        return self._buffer

    def request(self, data: bytes, head: bool = False) -> Deferred[RawResponse]:
        """
        Send one request (or several pipelined, in one write, when called
        several times before responses arrive).

        @param data: The complete request bytes.
        @param head: Whether this is a C{HEAD} request, whose response has
            no body whatever its headers say.
        @return: A L{Deferred} firing with the parsed L{RawResponse}.
        """
        pending = _PendingResponse(head, Deferred())
        self._pending.append(pending)
        self.transport.write(data)  # type: ignore[union-attr]
        return pending.deferred

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        try:
            while self._pending and self._advance(self._pending[0]):
                done = self._pending.popleft()
                assert done.response is not None
                done.deferred.callback(done.response)
        except ValueError as e:
            # Malformed framing: fail the response being parsed, and let
            # connectionLost fail any after it.
            self._pending.popleft().deferred.errback(e)
            self.transport.abortConnection()  # type: ignore[union-attr]

    def _advance(self, p: _PendingResponse) -> bool:
        """
        Parse as much of C{p} as the buffer holds.

        @return: Whether the response is complete.
        """
        if p.mode == "headers":
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            statusLine, *headerLines = head.split(b"\r\n")
            version, code = statusLine.split(b" ", 2)[:2]
            headers = []
            for line in headerLines:
                name, _, value = line.partition(b":")
                headers.append((name.strip().lower(), value.strip()))
            p.response = RawResponse(version, int(code), headers)
            length = p.response.header(b"content-length")
            encoding = p.response.header(b"transfer-encoding")
            if p.head or p.response.code in (204, 304):
                return True
            elif encoding is not None and encoding.lower() == b"chunked":
                p.mode = "chunk-size"
                p.response.chunks = []
            elif length is not None:
                p.mode = "length"
                p.remaining = int(length)
            else:
                p.mode = "until-close"
        assert p.response is not None
        if p.mode == "length":
            if len(self._buffer) < p.remaining:
                return False
            p.response.body = self._buffer[: p.remaining]
            self._buffer = self._buffer[p.remaining :]
            return True
        while p.mode.startswith("chunk") or p.mode == "trailers":
            if p.mode in ("chunk-size", "trailers"):
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return False
                line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
                if p.mode == "trailers":
                    if line == b"":
                        return True
                    continue
                try:
                    p.remaining = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ValueError(f"bad chunk size line: {line!r}") from None
                if p.remaining == 0:
                    p.mode = "trailers"
                else:
                    assert p.response.chunks is not None
                    p.response.chunks.append(p.remaining)
                    p.mode = "chunk-data"
            else:
                if len(self._buffer) < p.remaining + 2:
                    return False
                if self._buffer[p.remaining : p.remaining + 2] != b"\r\n":
                    raise ValueError(f"chunk not followed by CRLF: {self._buffer!r}")
                p.response.body += self._buffer[: p.remaining]
                self._buffer = self._buffer[p.remaining + 2 :]
                p.mode = "chunk-size"
        return False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # Whoever a response is given to sees the connection closed.
        self.connected = False
        pending, self._pending = self._pending, deque()
        for p in pending:
            if p.mode == "until-close" and p.response is not None:
                p.response.body, self._buffer = self._buffer, b""
                p.deferred.callback(p.response)
            else:
                p.deferred.errback(
                    IncompleteResponse(
                        f"connection closed with response incomplete"
                        f" ({p.mode}); unparsed bytes: {self._buffer!r}"
                    )
                )
        super().connectionLost(reason)


@implementer(IBodyProducer)
class GeneratedBody:
    """
    A request body taken from an iterator of chunks as the connection takes
    them, so that it is never held whole: the transport pauses it while
    its buffer is full.

    Optionally it stops after C{gate[0]} bytes until the L{Deferred} that
    C{gate[1]()} returns fires (for instance, until a handler logs that the
    application read the first bytes), and calls C{observe(sent)} after
    every chunk.

    @ivar sent: How many bytes were written so far.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        length: Any = UNKNOWN_LENGTH,
        gate: tuple[int, Callable[[], Deferred[Any]]] | None = None,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        """
        @param chunks: The body, in pieces.
        @param length: Its length, or L{UNKNOWN_LENGTH} to send it chunked.
        @param gate: How many bytes to send before waiting, and what to
            wait for.
        @param observe: Called with the number of bytes sent after every
            chunk.
        """
        self.length = length
        self.sent = 0
        self._chunks = iter(chunks)
        self._gate = gate
        self._observe = observe
        self._consumer: IConsumer | None = None
        self._finished: Deferred[None] = Deferred()
        self._paused = False
        self._waiting = False
        self._stopped = False
        self._producing = False

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        self._consumer = consumer
        self._produce()
        return self._finished

    def _produce(self) -> None:
        if self._producing:
            return
        self._producing = True
        try:
            while not (self._paused or self._waiting or self._stopped):
                if self._gate is not None and self.sent >= self._gate[0]:
                    self._waiting = True
                    opened, self._gate = self._gate[1](), None
                    # If it has fired already, _gateOpened found us producing
                    # and left it to this loop to go on.
                    opened.addCallbacks(self._gateOpened, self._gateFailed)
                    continue
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self._stopped = True
                    self._finished.callback(None)
                    return
                self.sent += len(chunk)
                assert self._consumer is not None
                self._consumer.write(chunk)
                if self._observe is not None:
                    self._observe(self.sent)
        finally:
            self._producing = False

    def _gateOpened(self, ignored: object) -> None:
        self._waiting = False
        self._produce()

    def _gateFailed(self, reason: Failure) -> None:
        if not self._stopped:
            self._stopped = True
            self._finished.errback(reason)

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._produce()

    def stopProducing(self) -> None:
        # IBodyProducer: the Deferred of startProducing must then never fire.
        self._stopped = True


class BodyDigest(Protocol):
    """
    Receive a response body (given to L{IResponse.deliverBody}) keeping
    only its SHA-256, its length and its first L{keep} bytes in
    C{prefix}.

    @ivar done: Fires with this object once the whole body was received,
        or fails with the reason it was not.
    """

    #: How many bytes of the body to keep, for messages and small bodies.
    keep = 4096

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.length = 0
        self.prefix = b""
        self.done: Deferred[BodyDigest] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.digest.update(data)
        if self.length < self.keep:
            self.prefix += data[: self.keep - self.length]
        self.length += len(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if reason.check(ResponseDone):
            self.done.callback(self)
        else:
            self.done.errback(reason)

    def hexdigest(self) -> str:
        """
        The SHA-256 of what was received, in hex.
        """
        return self.digest.hexdigest()


def request(
    agent: IAgent,
    clock: IReactorTime,
    method: bytes,
    url: bytes,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    chunked: bool = False,
    timeout: float = REQUEST_TIMEOUT,
) -> Deferred[HTTPResult]:
    """
    Make one HTTP request and read the whole response.

    @param agent: The agent that makes it.
    @param clock: What times it.
    @param method: C{b"GET"}, C{b"POST"}...
    @param url: The absolute URL.
    @param body: The request body, if any.
    @param headers: Request headers.
    @param chunked: Send C{body} with chunked transfer-encoding.
    @param timeout: Seconds before the request is cancelled.
    @return: A L{Deferred} firing with an L{HTTPResult}.
    """
    started = clock.seconds()
    producer: IBodyProducer | None = None
    if body is not None:
        producer = _ChunkedBodyProducer(body) if chunked else FileBodyProducer(BytesIO(body))
    d = agent.request(method, url, _headers(headers), producer)

    def read(response: IResponse) -> Deferred[HTTPResult]:
        return readBody(response).addCallback(
            lambda body: HTTPResult(
                response.code,
                response.headers,
                None if response.length is UNKNOWN_LENGTH else response.length,
                body,
                clock.seconds() - started,
            )
        )

    return d.addCallback(read).addTimeout(timeout, clock)


async def streamedExchange(
    agent: IAgent,
    method: bytes,
    url: bytes,
    body: IBodyProducer | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[IResponse, BodyDigest]:
    """
    Make one HTTP request and receive the response body into a
    L{BodyDigest}, never holding either body whole.

    @param body: The request body, if any (see L{GeneratedBody}).
    @return: The response and the digest of its body.
    """
    response = await agent.request(method, url, _headers(headers), body)
    receiver = BodyDigest()
    response.deliverBody(receiver)
    await receiver.done
    return response, receiver
