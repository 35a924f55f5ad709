# -*- test-case-name: txmp.test.test_responseoracle -*-
"""
What a WSGI application returns, as a strict client reads it: the bytes a
client gets from the front, for the responses that hypothesis has an
application give, are read by h11's client (C{h11.Connection(h11.CLIENT)})
without error, with the status, header fields and body the application
gave but for the rewrites docs/deployment.md and PEP 3333 make (a 500 for
an invalid status or header; the front's C{Server}, C{Date},
C{X-Request-Id} and framing), or the connection is aborted where a
response cannot be completed; and the connection carries the next
pipelined request exactly when it should (keep-alive rules, HTTP/1.0 with
and without C{keep-alive}, C{Connection: close}).

Driven at unit level: a real L{WSGIRunner} on a L{SynchronousThreadPool}
and a L{FakeReactor}, in a real L{FrontLink}, joined through a
L{MemoryNetwork} to a real L{Dispatcher} and L{FrontFactory}, whose client
sends raw bytes over a L{TCPStringTransport}, cut into reads anywhere, and
maybe reads nothing (the front paused, holding what it streams) until it
has sent some of them.  What the handler sends is modelled
(L{handlerSends}) from PEP 3333 and docs/deployment.md ("Applications
moved from another server"), what the front writes of it
(L{frontWrites}) from RFC 9112 and docs/deployment.md ("Keep-alive and
HTTP/1.0", "HTTP limits").

The application's thread is the reactor's: it cannot wait, so its
response bodies stay within the response window and it does not read a
request body streamed to it (one of L{BIG_BODY} bytes): that one it
answers early, while the body comes.

It found the abort of a response its client had whole, sent while the
request body came, when its handler then sent C{ERROR}
(L{ExampleTests.test_errorAfterEarlyResponse}): the handler sent C{ERROR}
after a head without a body when the application's C{close()} raised,
and the front aborted the connection.  Both are fixed, each with its own
test (test_wsgi's C{ErrorTests.test_closeFailsAfterHeadWithoutBody},
test_front's C{StreamingTests.test_errorAfterWholeEarlyResponse}); this
module's example fails only with both fixes taken back.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txmp._defaults import FRAME_JOIN, SMALL_BODY
from txmp._front import FrontFactory
from txmp._http import HOP_BY_HOP, REASONS, SERVER_SOFTWARE, plainPage
from txmp._wsgi import WSGIRunner
from txmp.test.properties import REPRODUCIBLE
from txmp.testing import (
    ClosingIterable,
    MemoryNetwork,
    SynchronousThreadPool,
    TCPStringTransport,
    memoryFront,
    memoryLink,
    runningReactor,
)

ORACLE = settings(REPRODUCIBLE, max_examples=150)

# A request body streamed to the handler.
BIG_BODY = SMALL_BODY + 100

SEND = "inproc://send"
RETURN = "inproc://return"
_CLIENT = IPv4Address("TCP", "192.0.2.5", 40000)
_SERVER = IPv4Address("TCP", "10.0.0.1", 8080)


@dataclass
class _Answer:
    """
    What the test's application answers one request with.

    @ivar status: its status, as given to C{start_response}.
    @ivar headers: its header fields, as given to C{start_response}.
    @ivar kind: how it gives its body: C{"list"} (returned), C{"excinfo"}
        (returned, after a first head replaced with C{exc_info}),
        C{"gen"} (an iterable without a length, a generator's like),
        C{"write"} (the C{write} callable, then an empty iterable),
        C{"mixed"} (the first chunk by C{write}, the others from an
        iterable), C{"bytesio"} or C{"file"} (C{wsgi.file_wrapper} on a
        L{io.BytesIO} or on a real file, at L{path}).
    @ivar chunks: its body, in chunks.
    @ivar raiseAt: with C{"gen"} or C{"write"}, raise after this many
        chunks (as many as there are: after the last), or not (L{None}).
    @ivar closeRaises: whether its iterable's C{close()} raises.
    @ivar path: where C{"file"} writes its body.
    """

    status: str
    headers: list[tuple[str, str]]
    kind: str
    chunks: list[bytes]
    raiseAt: int | None = None
    closeRaises: bool = False
    path: str = field(default="", repr=False)


def _fails() -> bytes:
    """
    A chunk of L{ClosingIterable} that fails.
    """
    raise RuntimeError("application failed while streaming")


def _application(answers: list[_Answer]) -> Callable[[dict[str, Any], Any], Any]:
    """
    A WSGI application that answers a request for C{/N} with C{answers[N]}.
    """

    def application(environ: dict[str, Any], startResponse: Any) -> Any:
        answer = answers[int(environ["PATH_INFO"][1:])]
        if environ.get("CONTENT_LENGTH") != str(BIG_BODY):
            # (A body streamed to the handler is not read: the test's
            # threads are the reactor's, and would wait for it for ever.)
            environ["wsgi.input"].read()
        if answer.kind == "excinfo":
            # A head replaced before it went out.
            try:
                startResponse("200 OK", [("X-First", "1")])
                raise ValueError("replaced")
            except ValueError:
                startResponse(answer.status, answer.headers, sys.exc_info())
            return list(answer.chunks)
        if answer.kind == "mixed":
            write = startResponse(answer.status, answer.headers)
            if answer.chunks:
                write(answer.chunks[0])
            return ClosingIterable(answer.chunks[1:])
        closeError = RuntimeError("close failed") if answer.closeRaises else None
        if answer.kind == "write":
            write = startResponse(answer.status, answer.headers)
            for index, chunk in enumerate(answer.chunks):
                if index == answer.raiseAt:
                    raise RuntimeError("application failed")
                write(chunk)
            if answer.raiseAt == len(answer.chunks):
                raise RuntimeError("application failed")
            return ClosingIterable([], closeError)
        startResponse(answer.status, answer.headers)
        if answer.kind == "list":
            return list(answer.chunks)
        if answer.kind == "gen":
            items: list[bytes | Callable[[], bytes]] = list(answer.chunks)
            if answer.raiseAt is not None:
                items[answer.raiseAt:] = [_fails]
            return ClosingIterable(items, closeError)
        content = b"".join(answer.chunks)
        if answer.kind == "bytesio":
            return environ["wsgi.file_wrapper"](io.BytesIO(content))
        with open(answer.path, "wb") as f:
            f.write(content)
        return environ["wsgi.file_wrapper"](open(answer.path, "rb"))

    return application


# The handler's rules for what start_response is given (txmp._wsgi): a
# final status of 200 to 599, a space and a reason phrase; a field name a
# token, a value of visible characters, obs-text, spaces and tabs; no
# hop-by-hop field; at most one Content-Length, of 1 to 18 digits.
_STATUS = re.compile("[2-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*\\Z")
_TOKEN = re.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+\\Z")
_VALUE = re.compile("[\t\x20-\x7e\x80-\xff]*\\Z")
_LENGTH = re.compile("[0-9]{1,18}\\Z")
_NO_BODY = {204, 205, 304}


def _validHead(answer: _Answer) -> bool:
    """
    Whether the handler takes C{answer}'s status and header fields
    (docs/deployment.md, "Applications moved from another server").
    """
    lengths = [value for name, value in answer.headers if name.lower() == "content-length"]
    return bool(
        _STATUS.match(answer.status)
        and all(_TOKEN.match(name) and _VALUE.match(value)
                and name.lower().encode("latin-1") not in HOP_BY_HOP
                for name, value in answer.headers)
        and len(lengths) <= 1
        and all(_LENGTH.match(value.strip(" \t")) for value in lengths)
    )


@dataclass
class _Outcome:
    """
    What the handler sends for one request: a head, a body, and whether
    the response ends (C{complete}) or the handler reports its failure
    after its head (the front aborts the connection).
    """

    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    complete: bool = True


def _failed() -> _Outcome:
    fields, page = plainPage(500)
    return _Outcome(500, REASONS[500], fields, page)


def handlerSends(answer: _Answer, method: str) -> _Outcome:
    """
    What the handler sends for C{answer} to a request of C{method}, as PEP
    3333 and docs/deployment.md say: a 500 page for an invalid status or
    header, a body shorter than its C{Content-Length} before its head went
    or an application that failed before it; the body cut at its
    C{Content-Length}; none for HEAD, 204, 205 and 304; a
    C{Content-Length} added to a body sent whole; after its head, a
    failure ends the response at its C{Content-Length} if all of it went,
    else it is reported (incomplete).
    """
    if not _validHead(answer):
        return _failed()
    code = int(answer.status[:3])
    reason = answer.status[4:].encode("latin-1")
    headers = [(name.encode("latin-1"), value.strip(" \t").encode("latin-1"))
               for name, value in answer.headers]
    lengths = [int(value) for name, value in headers if name.lower() == b"content-length"]
    length = lengths[0] if lengths else None
    hasBody = method != "HEAD" and code not in _NO_BODY
    addLength = code not in _NO_BODY and length is None
    limit = length if hasBody else None
    content = b"".join(answer.chunks)
    if answer.kind in ("list", "excinfo"):
        if limit is not None and len(content) < limit:
            return _failed()
        if addLength and (content or hasBody):
            headers.append((b"Content-Length", b"%d" % (len(content),)))
        return _Outcome(code, reason, headers, content[:limit] if hasBody else b"")
    items = answer.chunks if answer.kind in ("gen", "write", "mixed") else [content]
    headSent = failed = overran = False
    sent = b""
    for index in range(len(items) + 1):
        if index == answer.raiseAt:
            failed = True
            break
        if index == len(items):
            break
        chunk = items[index]
        writing = answer.kind == "write" or (answer.kind == "mixed" and index == 0)
        if writing:
            if chunk and overran:
                # (write() past the Content-Length raises.)
                failed = True
                break
            if not chunk or not hasBody:
                headSent = True
                continue
        elif not chunk:
            continue
        elif not hasBody:
            break
        if limit is not None and len(chunk) > limit - len(sent):
            overran = True
            chunk = chunk[:limit - len(sent)]
        if chunk:
            headSent = True
            sent += chunk
        if overran and not writing:
            # (PEP 3333: no more is asked of the iterable.)
            break
    failed = failed or answer.closeRaises
    short = limit is not None and len(sent) < limit
    if headSent:
        # (A failure after all of a Content-Length, or after a head without
        # a body, leaves the response complete.)
        complete = not hasBody or (not short and (not failed or limit is not None))
        return _Outcome(code, reason, headers, sent, complete=complete)
    if failed or short:
        return _failed()
    if addLength and hasBody:
        headers.append((b"Content-Length", b"0"))
    return _Outcome(code, reason, headers, b"")


def clientKeeps(version: bytes, option: bytes | None) -> bool:
    """
    Whether a request leaves its connection open for the next (RFC 9112
    section 9.3).
    """
    options = [word.strip(b" \t").lower() for word in (option or b"").split(b",")]
    if b"close" in options:
        return False
    return version == b"HTTP/1.1" or b"keep-alive" in options


def frontWrites(outcome: _Outcome, method: str, version: bytes,
                keeps: bool) -> tuple[list[tuple[bytes, bytes | None]], bool]:
    """
    The header fields the front writes for C{outcome} (C{None} for the
    values of its own C{Date} and C{X-Request-Id}), and whether the
    connection carries another request after it: the handler's fields
    (but a 204's or 205's C{Content-Length}), a 205's C{Content-Length: 0},
    C{Server}, C{Date} and C{X-Request-Id} unless given, chunked framing
    for a body without C{Content-Length} on HTTP/1.1 (on 1.0 the close
    ends it), and C{Connection} (docs/deployment.md, "Keep-alive and
    HTTP/1.0").
    """
    code = outcome.status
    fields: list[tuple[bytes, bytes | None]] = [
        (name, value) for name, value in outcome.headers
        if not (code in (204, 205) and name.lower() == b"content-length")
    ]
    if code == 205:
        fields.append((b"Content-Length", b"0"))
    names = {name.lower() for name, _ in outcome.headers}
    if b"server" not in names:
        fields.append((b"Server", _SERVER_SOFTWARE))
    if b"date" not in names:
        fields.append((b"Date", None))
    if b"x-request-id" not in names:
        fields.append((b"X-Request-Id", None))
    hasBody = method != "HEAD" and code not in _NO_BODY
    delimited = True
    if hasBody and b"content-length" not in names:
        if version == b"HTTP/1.1":
            fields.append((b"Transfer-Encoding", b"chunked"))
        else:
            delimited = False
    persistent = keeps and delimited and outcome.complete
    if not (keeps and delimited):
        fields.append((b"Connection", b"close"))
    elif version == b"HTTP/1.0":
        fields.append((b"Connection", b"keep-alive"))
    return fields, persistent


_SERVER_SOFTWARE = SERVER_SOFTWARE.encode("ascii")

# A request of the test's client: method, version, its Connection option,
# its body (C{""}: none, C{"small"}, C{"big"}: L{BIG_BODY} bytes,
# C{"chunked"}), and whether it says C{Expect: 100-continue}.
Request = tuple[str, bytes, "bytes | None", str, bool]


def requestBytes(index: int, request: Request) -> bytes:
    """
    The bytes of C{request} for C{/index}.
    """
    method, version, option, body, expect = request
    data = b"%s /%d %s\r\nHost: a\r\n" % (method.encode("ascii"), index, version)
    if option is not None:
        data += b"Connection: " + option + b"\r\n"
    if expect:
        data += b"Expect: 100-continue\r\n"
    if body == "small":
        return data + b"Content-Length: 3\r\n\r\nabc"
    if body == "big":
        return data + b"Content-Length: %d\r\n\r\n" % (BIG_BODY,) + b"b" * BIG_BODY
    if body == "chunked":
        return data + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    return data + b"\r\n"


@dataclass
class _Read:
    """
    One response as h11's client read it, and whether it ended.
    """

    version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    complete: bool


def h11Read(data: bytes, method: str, closed: bool) -> tuple[_Read, bytes]:
    """
    Read one response to C{method} from C{data} with h11's client, C{closed}
    if the connection was closed after C{data} (not aborted).

    @return: the response, and the bytes after it.
    @raise h11.RemoteProtocolError: if h11 finds the response invalid.
    """
    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "a")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    if closed:
        client.receive_data(b"")
    response: Any = None
    body = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            complete = True
            break
        elif event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            complete = False
            break
        else:
            raise AssertionError(event)
    if response is None:
        raise ValueError(f"no response head in {data!r}")
    rest = client.trailing_data[0] if complete else b""
    read = _Read(b"HTTP/" + response.http_version, response.status_code, response.reason,
                 list(response.headers.raw_items()), body, complete)
    return read, rest


class ResponseOracleTestCase(SynchronousTestCase):
    """
    A front and a handler running the test's application, joined in
    memory; a client sending bytes in pieces.
    """

    def serve(self, answers: list[_Answer], pieces: list[bytes],
              unread: int = 0) -> tuple[bytes, StringTransport, int]:
        """
        Serve C{pieces}, one read each, on a new connection to a new front
        whose handler's application answers a request for C{/N} with
        C{answers[N]}.

        @param unread: how many pieces the client sends before it reads
            what comes (its transport is full at the front's first write,
            and pauses it, until then).

        @return: what the client received, its transport, and how many
            requests reached the application.
        """
        reactor = runningReactor()
        network = MemoryNetwork()
        dispatcher, _, _ = memoryFront(
            network, reactor, SEND, RETURN, instance="front1"
        )
        called = []
        application = _application(answers)

        def counting(environ: dict[str, Any], startResponse: Any) -> Any:
            called.append(environ["PATH_INFO"])
            return application(environ, startResponse)

        runner = WSGIRunner(reactor, SynchronousThreadPool(), counting)
        link, _, _ = memoryLink(network, reactor, runner, SEND, RETURN, b"h", capacity=2)
        dispatcher.start()
        link.start()
        network.flush()
        site = FrontFactory(dispatcher, reactor)
        channel = site.buildProtocol(_CLIENT)
        transport = TCPStringTransport(hostAddress=_SERVER, peerAddress=_CLIENT)
        if unread:
            transport.stopReading()
        channel.makeConnection(transport)

        def settle() -> None:
            while network.flush() + reactor.flush():
                pass

        for index, piece in enumerate(pieces):
            if transport.disconnecting:
                break
            if index == unread:
                transport.readAgain()
                settle()
            channel.dataReceived(piece)
            settle()
        transport.readAgain()
        settle()
        if not transport.disconnecting:
            # (A lingering close ends at lingerTimeout.)
            reactor.advance(site.httpRules.lingerTimeout)
            settle()
        output = transport.value()
        if not transport.disconnecting:
            channel.connectionLost(Failure(ConnectionDone()))
        link.stop()
        dispatcher.stop()
        settle()
        return output, transport, len(called)

    def check(self, answers: list[_Answer], requests: list[Request],
              pieces: list[bytes], unread: int = 0) -> None:
        """
        Serve C{requests} for C{answers} in C{pieces} (the client reading
        nothing until it has sent C{unread} of them), and check what the
        client reads of it: each response as L{handlerSends} and
        L{frontWrites} say, read by h11's client, whole or (cut by a
        failure after its head) aborted; each request that follows a
        response that keeps the connection served, none after one that
        does not; the connection left open exactly when the last response
        keeps it.
        """
        output, transport, called = self.serve(answers, pieces, unread)
        aborted = transport.disconnected
        closed = transport.disconnecting and not aborted
        rest = output
        # (What a failure shows: the long fields drawn make it long.)
        about = repr((
            requests, aborted, output[:800], output[-800:],
            [(a.status, a.headers[:6], len(a.headers), a.kind, [c[:8] for c in a.chunks],
              a.raiseAt, a.closeRaises) for a in answers],
        ))
        for index, (method, version, option, body, expect) in enumerate(requests):
            outcome = handlerSends(answers[index], method)
            keeps = clientKeeps(version, option)
            fields, persistent = frontWrites(outcome, method, version, keeps)
            interim = b"HTTP/1.1 100 Continue\r\n\r\n"
            if expect and version == b"HTTP/1.1":
                self.assertTrue(rest.startswith(interim), about)
                rest = rest[len(interim):]
            last = not persistent or index == len(requests) - 1
            read, rest = h11Read(rest, method, closed and last)
            if body == "big" and (b"Connection", b"close") in read.headers:
                # Answered before its body was all in (as the cuts fell):
                # the connection ends with the response
                # (docs/deployment.md, "HTTP limits").
                fields, persistent = frontWrites(outcome, method, version, keeps=False)
            self.assertEqual((read.version, read.status, read.reason),
                             (version, outcome.status, outcome.reason), about)
            # (The values of the front's own Date and X-Request-Id: any.)
            self.assertEqual(
                read.headers,
                [(name, readValue if value is None else value)
                 for (name, value), (_, readValue) in zip(fields, read.headers)],
                about,
            )
            given = outcome.body if method != "HEAD" else b""
            if not outcome.complete:
                # Cut, aborted: what the client got of it, maybe less than
                # the handler sent (held for a client not reading).
                given = given[:len(read.body)]
            self.assertEqual((read.body, read.complete), (given, outcome.complete), about)
            if not persistent:
                self.assertEqual((rest, called, transport.disconnecting, aborted),
                                 (b"", index + 1, True, not outcome.complete), about)
                return
        self.assertEqual((rest, called, transport.disconnecting),
                         (b"", len(requests), False), about)

# What a field value or reason phrase may hold: visible characters,
# obs-text, spaces and tabs.
_TEXT = "\t" + "".join(map(chr, [*range(0x20, 0x7F), *range(0x80, 0x100)]))
# Mostly statuses the handler takes, with 204, 205 and 304; 1xx, which an
# application must not send (500).
_CODES = st.one_of(
    st.sampled_from([200, 200, 201, 204, 205, 304, 404, 500, 503]),
    st.integers(200, 599),
)
_REASONS = st.one_of(
    st.sampled_from(["OK", "OK", "", " ", "Not  Found", "a\tb", "\xe9t\xe9", "x" * 300, "OK "]),
    st.text(_TEXT, max_size=8),
)
_VALID_STATUSES = st.tuples(_CODES, _REASONS).map(lambda status: "%d %s" % status)
# 1xx, which an application must not send; no reason phrase
# (docs/deployment.md); controls in it; other invalid forms: all 500.
_INVALID_STATUSES = st.one_of(
    st.tuples(st.integers(100, 199), _REASONS).map(lambda status: "%d %s" % status),
    _CODES.map(str),
    st.sampled_from([" 200 OK", "2000 OK", "20 OK", "600 X", "099 X", "200\tOK",
                     "200 O\x00K", "200 O\rK", "200 \x7f", "200 a\nb", "200 \u0100"]),
)


@st.composite
def statuses(draw: Callable[..., Any]) -> str:
    """
    A status, one in eight invalid.
    """
    return draw(_INVALID_STATUSES if draw(st.integers(0, 7)) == 0 else _VALID_STATUSES)

_NAMES = st.one_of(
    st.sampled_from([
        "Content-Type", "content-type", "X-A", "x-a", "Set-Cookie", "Vary", "Location",
        "Date", "date", "Server", "X-Request-Id", "Cache-Control", "X_Under",
    ]),
    st.text("!#$%&'*+-.^_`|~09azAZ", min_size=1, max_size=8),
)
_HOP = st.sampled_from([
    "Connection", "connection", "Transfer-Encoding", "Keep-Alive", "Upgrade", "TE",
    "Trailer", "Proxy-Connection",
])
_BAD_NAMES = st.sampled_from(["X A", "", "X:", "X\x00", "\xe9"])
_VALUES = st.one_of(
    st.sampled_from(["", "v", " padded\t", "a, b", "\xe9", "x" * 5000, "text/html; a=b"]),
    st.text(_TEXT, max_size=12),
)
_BAD_VALUES = st.sampled_from(["a\rb", "a\nb", "a\x00b", "\x7f", "\u0100"])


@st.composite
def answers(draw: Callable[..., Any]) -> _Answer:
    """
    An application's answer: a status, header fields (maybe invalid,
    hop-by-hop, repeated), maybe a C{Content-Length} right, short, long,
    twice or not a number, and a body given one of the ways of PEP 3333.
    """
    chunks = draw(st.lists(st.one_of(
        st.just(b""), st.binary(max_size=20), st.binary(max_size=20), st.binary(max_size=20),
        # Larger than a frame the handler joins (FRAME_JOIN), within the
        # response window (the test's application threads are the
        # reactor's: they cannot wait for WINDOW).
        st.integers(FRAME_JOIN - 2, FRAME_JOIN + 2).map(lambda size: b"z" * size),
    ), max_size=4))
    size = sum(map(len, chunks))
    headers = draw(st.lists(st.tuples(_NAMES, _VALUES), max_size=4))
    if draw(st.integers(0, 15)) == 0:
        # Many fields, or a long one.
        headers.extend(draw(st.sampled_from([
            [("X-N%d" % (n,), "v" * 10) for n in range(300)],
            [("X-Long", "y" * 100000)],
        ])))
    if draw(st.integers(0, 9)) == 0:
        headers.append((draw(_HOP), draw(_VALUES)))
    if draw(st.integers(0, 15)) == 0:
        headers.append((draw(_BAD_NAMES), "v"))
    if draw(st.integers(0, 15)) == 0:
        headers.append(("X-B", draw(_BAD_VALUES)))
    lengths = draw(st.sampled_from([
        [], [], [], [str(size)], [str(size)], [" %d " % (size,)], ["0%d" % (size,)],
        [str(max(size - 1, 0))], [str(size + 1)], ["0"],
        [str(size), str(size)], ["-1"], ["x"],
    ]))
    for length in lengths:
        headers.insert(draw(st.integers(0, len(headers))), (
            draw(st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"])), length
        ))
    kind = draw(st.sampled_from(
        ["list", "gen", "gen", "write", "bytesio", "file", "excinfo", "mixed"]
    ))
    raiseAt = None
    closeRaises = False
    if kind in ("gen", "write"):
        raiseAt = draw(st.one_of(st.none(), st.none(), st.integers(0, len(chunks))))
        closeRaises = draw(st.integers(0, 4)) == 0
    return _Answer(draw(statuses()), headers, kind, chunks, raiseAt, closeRaises)


@st.composite
def requests(draw: Callable[..., Any]) -> Request:
    """
    A request: GET, HEAD or POST (a body small, streamed or chunked, maybe
    with C{Expect: 100-continue}), HTTP/1.1 or 1.0, with or without a
    C{Connection} option.
    """
    method = draw(st.sampled_from(["GET", "GET", "HEAD", "POST"]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"]))
    option = draw(st.sampled_from(
        [None, None, b"close", b"keep-alive", b"Keep-Alive", b"Keep-Alive, close", b"foo"]
    ))
    if method != "POST":
        return method, version, option, "", False
    bodies = ["small", "small", "big"] + (["chunked"] if version == b"HTTP/1.1" else [])
    return method, version, option, draw(st.sampled_from(bodies)), draw(st.booleans())


REQUESTS = requests()


@st.composite
def cuts(draw: Callable[..., Any], data: bytes) -> list[bytes]:
    """
    C{data} cut into reads at points hypothesis chooses.
    """
    points = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=6))))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)]) if data[a:b]]


class ResponseTests(ResponseOracleTestCase):
    """
    What an application answers reaches the client as h11's client reads
    it, with what the application gave but for the documented rewrites.
    """

    @ORACLE
    @given(st.lists(st.tuples(answers(), REQUESTS), min_size=1, max_size=3), st.data())
    def test_asApplicationGave(self, exchanges: list[tuple[_Answer, Request]],
                               data: st.DataObject) -> None:
        """
        One to three pipelined requests, cut at any points, each answered
        by the application as drawn, are answered in order as
        L{handlerSends} and L{frontWrites} say, each read whole by h11's
        client (or cut, the connection aborted, where the application
        failed after its head), and the connection is left open exactly
        when the last response allows it.
        """
        path = self.mktemp()
        for answer, _request in exchanges:
            answer.path = path
        answered = [answer for answer, _request in exchanges]
        requests = [request for _answer, request in exchanges]
        stream = b"".join(requestBytes(index, request) for index, request in enumerate(requests))
        pieces = data.draw(cuts(stream))
        unread = data.draw(st.integers(0, len(pieces)))
        try:
            self.check(answered, requests, pieces, unread)
        finally:
            self.flushLoggedErrors()


class ExampleTests(ResponseOracleTestCase):
    """
    Cases of L{ResponseTests} chosen by hand: each status code, HTTP/1.0
    keep-alive, and what the oracle found.
    """

    def serveAll(self, exchanges: list[tuple[_Answer, Request]]) -> None:
        """
        Check C{exchanges} pipelined in one read, and a byte a read.
        """
        answers = [answer for answer, _request in exchanges]
        requests = [request for _answer, request in exchanges]
        stream = b"".join(requestBytes(index, request) for index, request in enumerate(requests))
        try:
            self.check(answers, requests, [stream])
            self.check(answers, requests, [stream[i:i + 1] for i in range(len(stream))])
        finally:
            self.flushLoggedErrors()

    def test_everyStatus(self) -> None:
        """
        Each status code of 100 to 599, given by an application, reaches
        the client with its body and the connection kept for the next
        request, or (1xx, which an application must not send) as a 500.
        """
        get: Request = ("GET", b"HTTP/1.1", None, "", False)
        for code in range(100, 600):
            answer = _Answer("%d Reason" % (code,), [], "list", [b"ab"])
            answers = [answer, _Answer("200 OK", [], "gen", [b"next"])]
            requests = [get, get]
            stream = requestBytes(0, get) + requestBytes(1, get)
            try:
                self.check(answers, requests, [stream])
            finally:
                self.flushLoggedErrors()

    def test_http10KeepAlive(self) -> None:
        """
        An HTTP/1.0 client that asks for keep-alive keeps its connection
        after a response with C{Content-Length} (given, or added by the
        handler to a body held whole) or without a body, not after a body
        streamed without one (it ends with the connection).
        """
        keep = ("GET", b"HTTP/1.0", b"keep-alive", "", False)
        head = ("HEAD", b"HTTP/1.0", b"Keep-Alive", "", False)
        self.serveAll([
            (_Answer("200 OK", [], "list", [b"a", b"b"]), keep),
            (_Answer("200 OK", [("Content-Length", "2")], "gen", [b"a", b"b"]), keep),
            (_Answer("200 OK", [], "gen", [b"a", b"b"]), head),
            (_Answer("304 Not Modified", [], "gen", [b"x"]), keep),
            (_Answer("200 OK", [], "gen", [b"a", b"b"]), keep),
            (_Answer("200 OK", [], "list", [b"never"]), keep),
        ])

    def test_errorAfterEarlyResponse(self) -> None:
        """
        A response without a body sent with C{write()} while the request's
        body is still coming, whose application then fails (its
        C{close()} raises), reaches the client whole, the connection
        closed after it, not aborted; the request pipelined after the body
        reaches no application.
        """
        post = ("POST", b"HTTP/1.1", None, "big", False)
        get = ("GET", b"HTTP/1.1", None, "", False)
        answers = [_Answer("204 No Content", [], "write", [b""], closeRaises=True),
                   _Answer("200 OK", [], "list", [b"never"])]
        stream = requestBytes(0, post) + requestBytes(1, get)
        try:
            self.check(answers, [post, get], [stream[:200], stream[200:]])
        finally:
            self.flushLoggedErrors()
