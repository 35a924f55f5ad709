# -*- test-case-name: txmp.test.test_wsgi -*-
"""
A handler's WSGI runner: each request through a WSGI (PEP 3333)
application in a thread of the pool, with its two flow-controlled streams.

A handler process receives each request as a L{RequestHead} and a list of
body frames.  L{WSGIRunner.run} turns them into a WSGI C{environ}, calls the
application in a thread of the pool, and hands the response to a
L{ResponseSink}, which the handler implements on top of ZeroMQ.

Threads
=======

Two kinds of thread are involved, and every method below says which one
it runs in:

  - The I{reactor thread} calls L{WSGIRunner.run}, L{RunningRequest.cancel},
    L{RunningRequest.bodyReceived} and L{RunningRequest.windowReceived}.

    It does no more than it must: the C{environ} is built, and the id
    logged worked out, in the application thread.

  - An I{application thread} of the pool calls the application, its
    C{start_response} and C{write} callables, iterates the response and
    calls its C{close()}.  It sends the response's messages itself, with
    L{ResponseSink.sendHead}, L{ResponseSink.sendBody} and
    L{ResponseSink.sendError}, and ends the request with
    L{ResponseSink.finished}: the handler's sink is thread-safe, and a
    request that needs nothing else from the reactor thread does not wake
    it up (measured: docs/benchmarks.md, "Replies from the application
    threads").

    Two things go through the runner's L{txmp._pool.ReactorCalls} instead
    (one FIFO for every request, which wakes the reactor only when it was
    empty, so that calls handed back together cost one wake-up): the
    grants of a streamed request body (L{ResponseSink.sendWindow}, on the
    handler's control socket, which only the reactor thread uses), and
    body chunks streamed after the first, which the reactor thread batches
    (see L{ResponseStream}).  Once a chunk went that way, the rest of the
    response and the finish follow it there, in order.

Flow control
============

Bodies are streamed both ways, and each way the receiver paces the sender
with windows (C{WINDOW} messages), so that neither side holds a whole body:

  - Response (L{ResponseStream}): the front grants a window with the
    request (its C{window} meta attribute) and more as the client takes
    the body (L{RunningRequest.windowReceived}).  Before handing a chunk
    to the sink, the application thread waits while the window is used
    up; a chunk bigger than what is left is sent whole.  A request without a
    window is not paced (a front that does not pace responses).  A
    collected response (a list, see below) is sent whole: it is in memory
    already.

  - Request (L{InputStream}): with C{more} set, the body comes in pieces
    (L{RunningRequest.bodyReceived}); reads of C{wsgi.input} wait for them.
    The front sends at most L{txmp._defaults.INPUT_WINDOW} bytes ahead of
    what the handler granted; as the application reads, the runner grants
    what was read, in batches of a quarter of that
    (L{txmp._defaults.INPUT_GRANT_DIVISOR}), and at the end of the body
    (L{ResponseSink.sendWindow}).  A read that must wait for more (one
    larger than the window, say) first grants everything it has taken, so
    that the front sends the rest: a read of any size completes, holding
    no more than it asked for.

A cancellation wakes an application thread waiting for either, with
L{RequestCancelled}.

Choices left open by PEP 3333
=============================

  - C{SCRIPT_NAME} is C{""}, so C{PATH_INFO} is the whole path: the
    path of the request-target, percent-decoded to bytes and presented as
    an ISO-8859-1 native string.  A handler given a prefix
    (C{--script-name}, or gunicorn's C{SCRIPT_NAME} environment variable)
    runs its application under L{Mounted}, which moves the prefix from
    C{PATH_INFO} to C{SCRIPT_NAME} and answers 404 to a path outside it.  An absolute-form target
    (C{http://host/p?q}) gives the path of the URI (C{"/"} if it is empty).
    Any other target (the asterisk-form C{*} of C{OPTIONS *}, the
    authority-form of C{CONNECT}) is given as is, so C{OPTIONS *} has
    C{PATH_INFO} C{"*"}, as under gunicorn and waitress, from a front that
    sends such targets: txmp's front answers C{OPTIONS *} itself and
    refuses C{CONNECT}, so its applications never see them.  C{QUERY_STRING}
    is the raw query (C{""} if none) and C{REQUEST_URI} the raw
    request-target, as under gunicorn and uWSGI, for applications that must
    tell C{%2F} from C{/}.  A fragment, which clients must not send, is
    dropped.

  - An IPv6 address as C{SERVER_NAME} is written in brackets, as C{Host}
    and RFC 3875 (section 4.1.14) write it: PEP 3333 rebuilds a URL from
    C{SERVER_NAME}, C{":"} and C{SERVER_PORT} when there is no
    C{HTTP_HOST}, and Django's C{get_host} checks that authority.

  - Request headers whose names contain C{_} are dropped: C{X_Foo} would
    otherwise become C{HTTP_X_FOO} like C{X-Foo}, letting a client spoof
    headers that a proxy in front of us sets (nginx, waitress and
    gunicorn drop them too).  Repeated headers are joined with C{", "},
    except C{Cookie}, joined with C{"; "}.

  - The response head goes to the sink with the first non-empty body
    chunk, or at the first call of C{write()}, even with nothing (PEP
    3333; wsgiref, gunicorn, waitress and Werkzeug's server do so too).
    If the application returns a C{list} or C{tuple} (or any iterable
    whose C{len()} is 1), the whole body is collected and sent with the
    head in one message.  A head sent with the whole body (so also that
    of a generator that yields nothing) gets a C{Content-Length} if the
    application set none, except for C{204}, C{205} and C{304} responses
    (the front gives a C{205} its own): the client then needs neither
    chunked framing nor, with HTTP/1.0 (ApacheBench's C{-k}), the end of
    the connection to tell where the body ends.
    (waitress adds one only for a C{len()} of 1, as it streams longer
    lists; txmp sends them whole.)  To C{HEAD}, the length of the
    body the application made anyway, which C{GET} would have (RFC 9110
    section 9.3.2: the same header fields), but none for an empty one,
    which may be a body it left out (Werkzeug's, to C{HEAD}).  Other
    iterables, and C{write()}, are streamed chunk by chunk.  A response
    without a body (to C{HEAD}, or C{204}, C{205} or C{304}) sends its
    head alone: its iterable is not advanced past the chunk that makes
    the head final, and what C{write()} is given is dropped, as the front
    would drop it (an endless stream asked for with C{HEAD} would
    otherwise never end).

  - The message that completes the response (the head of a collected
    response, or the end of a streamed one) is sent only once the
    iterable's C{close()} has returned, so that a failing C{close()} (a
    failed commit, say) still turns the response into an error.

  - Hop-by-hop response headers (C{Connection}, C{Transfer-Encoding}, ...)
    and 1xx statuses are refused by C{start_response}: framing the
    response is the front's business.  So are statuses of 600 to 999,
    which are none (RFC 9110 section 15; Django refuses them too): a
    client would take them for 5xx.

  - Spaces and tabs around a response header value are not part of it
    (RFC 9110 section 5.5): C{start_response} drops them, as gunicorn
    does (Django gives every C{Set-Cookie} a leading space).

  - The application's C{Content-Length} frames the response at the front,
    so it must be right.  C{start_response} refuses two of them, or one
    that is not a number (L{ValueError}: a 500, as for any bad head).  No
    more body than it says is sent: the rest is dropped and logged, a
    streamed iterable is not advanced past the chunk that passes it, a
    C{write()} after the one that passes it raises L{RuntimeError}, and
    the response ends normally (PEP 3333).  A body that ends short of it
    is an application error: a 500 if the head was not sent yet, else
    L{ResponseSink.sendError}, so that the front aborts the client's
    connection instead of leaving it waiting for the rest.  The response
    to C{HEAD}, and C{204}, C{205} and C{304} responses, have no body: their
    C{Content-Length} is not checked against one.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from functools import lru_cache
from types import TracebackType
from typing import (
    IO,
    Any,
    Callable,
    Optional,
    Protocol,
)
from urllib.parse import unquote_to_bytes

from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger, LogLevel

from txmp._defaults import (
    BODY_BATCH,
    FILE_CHUNK_SIZE,
    INPUT_GRANT_DIVISOR,
    INPUT_WINDOW,
    LOG_MESSAGE_LENGTH,
)
from txmp._http import (
    FIELD_CHARS,
    HOP_BY_HOP,
    NO_BODY_CODES,
    REASONS,
    SERVER_SOFTWARE,
    TCHAR,
    plainPage,
)
from txmp._peerlog import idText, printable
from txmp._pool import ReactorCalls
from txmp._profile import Profiler
from txmp.protocol import ProtocolError, RequestHead, contentLength

ExcInfo = tuple[type[BaseException], BaseException, Optional[TracebackType]]
# (PEP 3333: the server's and the application's values, of any type.)
Environ = dict[str, Any]
WriteCallable = Callable[[bytes], None]
StartResponse = Callable[..., WriteCallable]
Application = Callable[[Environ, StartResponse], Iterable[bytes]]

# As the front's list (the application's names are native strings).
_HOP_BY_HOP = frozenset(name.decode("latin-1") for name in HOP_BY_HOP)

# The front's rules (txmp._http), for the application's native strings: a
# final (non-1xx) status of 200 to 599 (RFC 9110 section 15: values outside
# 100 to 599 are invalid; Django refuses them too), a space, and a
# reason-phrase (RFC 9112 section 4); a field name is a token, a value holds
# no CR, LF, NUL or other control.
_FIELD_CHARS = FIELD_CHARS.decode("latin-1")
_STATUS = re.compile("([2-5][0-9][0-9]) ([" + _FIELD_CHARS + "]*)\\Z")
_TOKEN = re.compile(TCHAR.decode("latin-1") + "+\\Z")
_FIELD_VALUE = re.compile("[" + _FIELD_CHARS + "]*\\Z")


class RequestCancelled(ConnectionAbortedError):
    """
    The request was cancelled: the client is gone.

    Raised in the application thread by C{write()}, by reads of
    C{wsgi.input} and while the response is iterated, once
    L{RunningRequest.cancel} has been called.  It is a
    L{ConnectionAbortedError} so that applications which already cope with
    a client hanging up on a socket server cope with it too.
    """


class ResponseSink(Protocol):
    """
    Where the response to one request goes.  L{sendHead}, L{sendBody},
    L{sendError} and L{finished} are called in the application thread that
    runs the request, or, after body chunks went there, in the reactor
    thread; never two at once.  L{sendWindow} is called in the reactor
    thread.  Once L{RunningRequest.cancel} has been called, none but
    L{finished} is called, except one that the application thread was
    making already.
    """

    def sendHead(
        self,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        body: list[bytes],
        more: bool,
    ) -> None:
        """
        Send the response head and the first body chunks.  Called once,
        before L{sendBody} and L{sendError}.

        @param body: non-empty chunks, possibly none.
        @param more: whether L{sendBody} calls follow.
        """

    def sendBody(self, chunks: list[bytes], end: bool) -> None:
        """
        Send more of the body.  Called only after C{sendHead(more=True)};
        the last call, and only it, has C{end} true.

        @param chunks: non-empty chunks, possibly none.
        """

    def sendError(self, message: str) -> None:
        """
        The response cannot be completed: the application failed after the
        head was sent.  No L{sendBody} call follows.

        @param message: a short description, without details of the
            failure.
        """

    def sendWindow(self, size: int) -> None:
        """
        The application has read C{size} more bytes of the request body:
        the front may send that many more.  Called only for a request whose
        head had C{more} set (a streamed request body), in the reactor
        thread: a grant handed over just before the application thread
        finished the request may come after L{finished}.
        """

    def finished(self) -> None:
        """
        Called once per request, after every other call: the application's
        iterable has been closed and the thread is free.
        """


class SupportsCallFromThread(Protocol):
    """
    What brings calls back to the reactor thread: the runner's
    L{txmp._pool.ReactorCalls}, or any L{IReactorFromThreads}.
    """

    def callFromThread(self, callable: Callable[..., object], /, *args: object) -> None:
        """
        Have the reactor thread call C{callable(*args)}, after the calls made
        before.
        """


class SupportsCallInThread(Protocol):
    """
    The part of L{twisted.python.threadpool.ThreadPool} that the runner
    uses.
    """

    def callInThread(
        self, func: Callable[..., object], /, *args: object, **kw: object
    ) -> None:
        """
        Call C{func(*args, **kw)} in a thread of the pool.
        """


def _xRequestId(head: RequestHead) -> str | None:
    for name, value in head.headers:
        if len(name) == 12 and name.lower() == "x-request-id":
            return value
    return None


def _splitTarget(target: str) -> tuple[str, str]:
    """
    Split a request-target into the C{PATH_INFO} and C{QUERY_STRING}
    values.

    @param target: the raw request-target, an ISO-8859-1 native string.
    @return: the percent-decoded path and the raw query, both ISO-8859-1
        native strings.
    """
    target = target.partition("#")[0]
    path, _, query = target.partition("?")
    if not path.startswith("/"):
        _, sep, rest = path.partition("://")
        if not sep:
            # asterisk-form or authority-form: no path to decode.
            return path, query
        slash = rest.find("/")
        path = rest[slash:] if slash >= 0 else "/"
    if "%" not in path:
        return path, query
    decoded = unquote_to_bytes(path.encode("latin-1")).decode("latin-1")
    return decoded, query


@lru_cache(maxsize=512)
def _headerKey(name: str) -> str:
    # Cached: requests repeat the same few names, and this is per header
    # per request.  (A client sending made-up names only churns the cache.)
    # bytes.upper() only changes ASCII letters, so the key stays ISO-8859-1
    # (str.upper() would turn "\xff" into "\u0178").
    upper = name.encode("latin-1").upper().decode("latin-1")
    if upper == "CONTENT-TYPE":
        return "CONTENT_TYPE"
    if upper == "CONTENT-LENGTH":
        return "CONTENT_LENGTH"
    return "HTTP_" + upper.replace("-", "_")


def _checkField(name: str, value: str) -> tuple[tuple[bytes, bytes], bool]:
    """
    A response header field as C{start_response} was given it, checked
    and encoded.

    @return: the field as bytes, and whether it is C{Content-Length}.
    @raise ValueError: if the field is malformed or hop-by-hop.
    """
    if not _TOKEN.match(name) or not _FIELD_VALUE.match(value):
        raise ValueError(f"invalid header {(name, value)!r}")
    lowered = name.lower()
    if lowered in _HOP_BY_HOP:
        raise ValueError(f"hop-by-hop header {name!r} is not allowed")
    # Whitespace around a field value is not part of it (RFC 9110 section
    # 5.5): Django's Set-Cookie values start with a space.
    encoded = (name.encode("latin-1"), value.strip(" \t").encode("latin-1"))
    return encoded, lowered == "content-length"


# _checkField, cached for fields of up to _CACHED_FIELD characters (name and
# value): responses repeat the same few fields, and the check is per field
# per response (docs/benchmarks.md, "The handler's own Python").  Fields
# made anew for each response, a session cookie say, only churn the cache;
# the size limit bounds what it holds.
_checkedField = lru_cache(maxsize=512)(_checkField)
_CACHED_FIELD = 256


def _parseStatus(status: str) -> tuple[int, bytes]:
    """
    A response status as C{start_response} was given it, checked: its code
    and its reason phrase as bytes.

    @raise ValueError: if it is not a final status code, a space and a
        reason phrase.
    """
    match = _STATUS.match(status)
    if match is None:
        raise ValueError(f"invalid status {status!r}")
    return int(match.group(1)), match.group(2).encode("latin-1")


# _parseStatus, cached as _checkedField is (for statuses of up to
# _CACHED_FIELD characters, of type str only): an application gives a few
# statuses again and again (docs/benchmarks.md, "Status lines made once").
_parsedStatus = lru_cache(maxsize=64)(_parseStatus)


def buildEnviron(
    requestId: bytes,
    head: RequestHead,
    input: InputStream,
    errors: ErrorStream,
    multithread: bool = True,
) -> Environ:
    """
    Build the WSGI C{environ} for a request.  Pure: it may be called in any
    thread.

    @param requestId: the id of the request.
    @param head: the request head.
    @param input: the C{wsgi.input} stream.
    @param errors: the C{wsgi.errors} stream.
    @param multithread: C{wsgi.multithread}: whether the application may
        be running in another thread of the process at the same time.
    @return: a new C{environ} dictionary.
    """
    pathInfo, queryString = _splitTarget(head.target)
    serverName = head.serverName
    if ":" in serverName:
        # An IPv6 address: in brackets, as in Host (RFC 3875 section
        # 4.1.14), so that SERVER_NAME:SERVER_PORT is an authority.
        serverName = "[" + serverName + "]"
    environ: Environ = {
        "REQUEST_METHOD": head.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": pathInfo,
        "QUERY_STRING": queryString,
        "REQUEST_URI": head.target,
        "SERVER_NAME": serverName,
        "SERVER_PORT": str(head.serverPort),
        "SERVER_PROTOCOL": head.version,
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        "REMOTE_ADDR": head.remoteAddr,
        "REMOTE_PORT": str(head.remotePort),
        # No header makes a key of these (they have no HTTP_ prefix).
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": head.scheme,
        "wsgi.input": input,
        "wsgi.errors": errors,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input_terminated": True,
        "txmp.request_id": idText(requestId),
    }
    for name, value in head.headers:
        if "_" in name:
            continue
        key = _headerKey(name)
        previous = environ.get(key)
        if previous is None:
            environ[key] = value
        elif key == "HTTP_COOKIE":
            environ[key] = previous + "; " + value
        else:
            environ[key] = previous + ", " + value
    return environ


class Mounted:
    """
    A WSGI application mounted under a path prefix, as behind a proxy that
    passes C{/app/...} on whole (nginx's C{location /app/} with a
    C{proxy_pass} naming no path): the prefix moves from C{PATH_INFO} to
    C{SCRIPT_NAME}, so that the URLs the application makes (Django's
    C{reverse}, Flask's C{url_for}) start with it.  A path outside the
    prefix is answered 404 without calling the application: it was not
    mounted there (gunicorn answers 500, "Configuration problem"; waitress
    leaves the path whole, under a C{SCRIPT_NAME} it does not start with).
    Called in application threads.

    @ivar application: the application mounted.
    @ivar prefix: its C{SCRIPT_NAME} (see L{txmp._options.scriptName}),
        not empty.
    @ivar shown: the prefix as the operator wrote it, for logs: PEP 3333's
        string holds its UTF-8 bytes, one character a byte (C{/caf\xc3\xa9}
        for C{/caf\xe9}).
    """

    _log = Logger()

    def __init__(self, application: Application, prefix: str) -> None:
        self.application = application
        self.prefix = prefix
        self._slashed = prefix + "/"
        self.shown = prefix.encode("latin-1").decode("utf-8", "backslashreplace")

    def __call__(self, environ: Environ, startResponse: StartResponse) -> Iterable[bytes]:
        path: str = environ["PATH_INFO"]
        prefix = self.prefix
        if path.startswith(self._slashed):
            environ["PATH_INFO"] = path[len(prefix):]
        elif path == prefix:
            environ["PATH_INFO"] = ""
        else:
            self._log.info(
                "{path} is not under --script-name {prefix}: 404",
                # PEP 3333's strings of bytes, shown as UTF-8, as written;
                # the client's path cut short and its control characters
                # escaped (a %0A would otherwise start a line of its own).
                path=printable(
                    path.encode("latin-1").decode("utf-8", "backslashreplace"),
                    LOG_MESSAGE_LENGTH,
                ),
                prefix=self.shown,
            )
            fields, body = plainPage(404)
            startResponse(
                "404 Not Found",
                [(name.decode("latin-1"), value.decode("latin-1")) for name, value in fields],
            )
            return [body]
        environ["SCRIPT_NAME"] = prefix
        return self.application(environ, startResponse)


def _dechunked(environ: Environ, length: int) -> None:
    """
    Show a chunked request body that came whole with its head (the front
    reads one of up to 64 KiB before sending the request) as a body of
    known length: C{CONTENT_LENGTH} in place of C{HTTP_TRANSFER_ENCODING},
    as a proxy that buffers request bodies (nginx) or waitress sends it.
    Applications that read C{CONTENT_LENGTH} alone, not
    C{wsgi.input_terminated} (Django's C{request.body}), would read such a
    body as empty.

    @param environ: the request's environ, changed in place.
    @param length: the length of the whole body.
    """
    if "CONTENT_LENGTH" not in environ and environ.pop("HTTP_TRANSFER_ENCODING", None):
        environ["CONTENT_LENGTH"] = str(length)


def _joined(pieces: list[bytes]) -> bytes:
    """
    The concatenation of C{pieces}, without a copy when there is one.
    """
    if len(pieces) == 1:
        return pieces[0]
    return b"".join(pieces)


class InputStream:
    """
    The C{wsgi.input} stream: the request body, fed from the reactor thread
    and read from the application thread.

    Reads block until enough data has been fed or the body is complete.
    The body is kept as the chunks it was fed in; reads copy only what they
    return.

    For flow control, the stream can report how much the application has
    read: the front sends a streamed body only as far as the handler
    allows, and the handler allows more as the application reads, so what
    waits here stays bounded.

    @ivar _condition: guards every other attribute; notified on every
        change.
    @ivar _chunks: the chunks not completely read yet.
    @ivar _offset: how many bytes of C{_chunks[0]} have been read.
    @ivar _available: how many bytes of C{_chunks} have not been read.
    @ivar _scanned: how many unread bytes are known to hold no newline, so
        that L{readline} does not scan them again.
    @ivar _finished: whether the whole body has been fed.
    @ivar _aborted: whether the request was cancelled.
    @ivar waiting: whether the application thread waits for more of the
        body (which only the front sends).  Read in the reactor thread
        without the lock.
    @ivar _unreported: how many bytes were read and not reported to
        C{_consumed} yet.
    """

    def __init__(
        self,
        condition: threading.Condition | None = None,
        consumed: Callable[[int], None] | None = None,
        batch: int = 1,
    ) -> None:
        """
        @param condition: the condition variable to wait on, for tests;
            a new L{threading.Condition} by default.
        @param consumed: if not L{None}, called in the application thread,
            outside any lock, with how many bytes were read since its last
            call, once that is at least C{batch} bytes or the body has been
            read to its end; never once the stream was aborted.
        @param batch: how many bytes to read before reporting them.
        """
        self._condition = threading.Condition() if condition is None else condition
        self._consumed = consumed
        self._batch = batch
        self._chunks: deque[bytes] = deque()
        self._offset = 0
        self._available = 0
        self._scanned = 0
        self._finished = False
        self._aborted = False
        self._abortReason = "request cancelled"
        self.waiting = False
        self._unreported = 0

    def preload(self, chunks: list[bytes], end: bool) -> None:
        """
        Add the body data that came with the request head, and mark the end
        of the body if C{end}.  Called in the reactor thread, before any
        other thread has the stream: no lock to take, and no reader to
        wake.
        """
        for chunk in chunks:
            if chunk:
                self._chunks.append(chunk)
                self._available += len(chunk)
        self._finished = end

    def feed(self, data: bytes) -> None:
        """
        Add body data.  Called in the reactor thread.

        @raise ValueError: if L{finish} was called.
        """
        with self._condition:
            if self._finished:
                raise ValueError("feed() after finish()")
            if data and not self._aborted:
                self._chunks.append(data)
                self._available += len(data)
                self._condition.notify_all()

    def finish(self) -> None:
        """
        Mark the end of the body: reads past it return C{b""}.  Called in the
        reactor thread.
        """
        with self._condition:
            self._finished = True
            self._condition.notify_all()

    def abort(self, reason: str = "request cancelled") -> None:
        """
        Give up on the body: reads, including those blocked now, raise
        L{RequestCancelled} with C{reason}.  Called in the reactor thread
        (or, through L{RunningRequest.cancel}, in the application thread).
        """
        with self._condition:
            self._aborted = True
            self._abortReason = reason
            self._chunks.clear()
            self._available = self._offset = self._scanned = 0
            self._condition.notify_all()

    def _take(self, size: int) -> bytes:
        """
        Remove and return the next C{size} bytes, which must be available.
        Called with C{_condition} held.
        """
        pieces = []
        remaining = size
        while remaining:
            chunk = self._chunks[0]
            start = self._offset
            end = start + remaining
            if end >= len(chunk):
                pieces.append(chunk[start:] if start else chunk)
                remaining -= len(chunk) - start
                self._chunks.popleft()
                self._offset = 0
            else:
                pieces.append(chunk[start:end])
                self._offset = end
                remaining = 0
        self._available -= size
        self._scanned = max(0, self._scanned - size)
        self._unreported += size
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    def _lineLength(self, limit: int | None) -> int | None:
        """
        How many bytes the next line has, if that is known yet.  Called with
        C{_condition} held.

        @param limit: the most bytes the line may have, or L{None}.
        @return: the length of the next line, newline included, or C{limit}
            if that is shorter and available; L{None} if more data is needed.
        """
        position = 0
        start = self._offset
        for chunk in self._chunks:
            if limit is not None and position >= limit:
                break
            length = len(chunk) - start
            if position + length > self._scanned:
                searchFrom = start + max(0, self._scanned - position)
                index = chunk.find(b"\n", searchFrom)
                if index >= 0:
                    found = position + index - start + 1
                    self._scanned = found - 1
                    return found if limit is None else min(found, limit)
            position += length
            start = 0
        self._scanned = max(self._scanned, position)
        if limit is not None and position >= limit:
            return limit
        return None

    def _due(self, waiting: bool) -> int:
        """
        How many read bytes are to be reported to C{_consumed} now, if any;
        they count as reported from now on.  Called with C{_condition} held.

        @param waiting: whether the reader is about to wait for more data.
            Everything read is then reported, batch or not: the front
            sends only as far as it was granted, so bytes taken but not
            granted back could be the very bytes the wait is for.
        """
        if self._consumed is None or self._aborted or not self._unreported:
            return 0
        if (
            not waiting
            and self._unreported < self._batch
            and not (self._finished and not self._available)
        ):
            return 0
        due, self._unreported = self._unreported, 0
        return due

    def _report(self, due: int) -> None:
        """
        Report C{due} read bytes, if there are any.  Called in the
        application thread, without C{_condition} held.
        """
        if due and self._consumed is not None:
            self._consumed(due)

    def read(self, size: int | None = -1) -> bytes:
        """
        Read up to C{size} bytes, or to the end of the body if C{size} is
        negative or L{None}.  Called in the application thread; blocks
        until that much has been fed or the body is complete.

        A read may ask for more than the front sends ahead of what was
        read (its window): while it waits, what it has taken so far is
        reported read, so that the front sends the rest.  What it holds is
        never more than it asked for.

        @raise RequestCancelled: if the request was cancelled.
        """
        return self._collect(None if size is None or size < 0 else size, False)

    def readline(self, size: int | None = -1) -> bytes:
        """
        Read one line, newline included, or at most C{size} bytes of it if
        C{size} is not negative or L{None}.  Called in the application
        thread; blocks until the line has been fed or the body is complete.

        As with L{read}, a line longer than the front's window is taken in
        pieces while it is waited for.

        @raise RequestCancelled: if the request was cancelled.
        """
        return self._collect(None if size is None or size < 0 else size, True)

    def _collect(self, limit: int | None, line: bool) -> bytes:
        """
        Take the body's bytes until C{limit} of them are taken, the body
        ends, or, if C{line}, a newline is taken; while waiting for more,
        report what was taken first (see L{read}).  Called in the
        application thread.

        What it takes in several pieces (a read larger than the window,
        whose rest comes as it is read) goes into one buffer as it comes,
        which is then returned without a copy: a join at the end would hold
        the body twice (a 200 MB upload read with Flask's C{get_data()}
        grew the handler's peak by 410 MB; gunicorn's C{Body.read} buffers
        so too).

        @param limit: the most bytes to take, or L{None}.
        @raise RequestCancelled: if the request was cancelled.
        """
        pieces: list[bytes] = []
        buffer: io.BytesIO | None = None
        while True:
            with self._condition:
                if self._aborted:
                    raise RequestCancelled(self._abortReason)
                length = self._lineLength(limit) if line else None
                done = length is not None or self._finished
                if length is None:
                    # No line end in what is here (or no line asked for):
                    # take it all, as far as the limit.
                    length = (
                        self._available
                        if limit is None
                        else min(limit, self._available)
                    )
                if length:
                    pieces.append(self._take(length))
                if limit is not None:
                    limit -= length
                    done = done or not limit
                due = self._due(not done)
                if not (done or due):
                    self.waiting = True
                    try:
                        self._condition.wait()
                    finally:
                        self.waiting = False
                    continue
            self._report(due)
            if buffer is None and len(pieces) > 1:
                buffer = io.BytesIO()
            if buffer is not None:
                for piece in pieces:
                    buffer.write(piece)
                pieces.clear()
            if done:
                # (getvalue() returns the buffer itself: no copy.)
                return _joined(pieces) if buffer is None else buffer.getvalue()

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """
        Read lines until the end of the body, or until they hold at least
        C{hint} bytes if C{hint} is positive.  Called in the application
        thread.

        @raise RequestCancelled: if the request was cancelled.
        """
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        """
        Iterate over the lines of the body.  Called in the application
        thread.
        """
        return iter(self.readline, b"")


class ErrorStream:
    """
    The C{wsgi.errors} stream: a text stream whose lines are logged as
    errors, with the id of the request.  Written to in the application
    thread.
    """

    def __init__(self, log: Logger, requestId: str) -> None:
        """
        @param log: where the lines go.
        @param requestId: the request id, as text.
        """
        self._log = log
        self._requestId = requestId
        self._partial: list[str] = []

    def _emit(self, line: str) -> None:
        self._log.error(
            "wsgi.errors (request {requestId}): {line}",
            requestId=self._requestId,
            line=line,
        )

    def write(self, text: str) -> int:
        """
        Log each complete line of C{text}; keep an incomplete last line until
        it is completed or flushed.

        @raise TypeError: if C{text} is not a L{str}.
        @return: the length of C{text}.
        """
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        lines = text.split("\n")
        if len(lines) > 1:
            self._partial.append(lines[0])
            self._emit("".join(self._partial))
            for line in lines[1:-1]:
                self._emit(line)
            self._partial = []
        if lines[-1]:
            self._partial.append(lines[-1])
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """
        Write each of C{lines}, which carry their own newlines.
        """
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """
        Log the incomplete last line, if any.
        """
        if self._partial:
            line = "".join(self._partial)
            self._partial = []
            self._emit(line)


class FileWrapper:
    """
    The C{wsgi.file_wrapper}: iterates over a file in blocks of C{blksize}
    bytes.  PEP 3333 makes the application's block size an optional
    "suggestion" that the server need not use, and sets no default (the
    8192 of its example wrapper is the example's): the runner recognizes a
    wrapper and reads L{FILE_CHUNK_SIZE} bytes at a time unless C{blksize}
    is larger, and a wrapper given no block size has that one, so
    iterating it elsewhere (in middleware) reads as much at a time.

    It is its own iterator, and seeks in its file if the file can
    (L{seekable}, L{seek}, L{tell}), as Werkzeug's own wrapper does:
    Werkzeug answers a C{Range} request (Flask's C{send_file}) by seeking
    to the range's start in a wrapper that can, and otherwise reads the
    file up to it and throws that away.
    """

    def __init__(self, filelike: IO[bytes], blksize: int = FILE_CHUNK_SIZE) -> None:
        """
        @param filelike: an object with a C{read(size)} method returning
            bytes, and maybe a C{close()} method.
        @param blksize: how many bytes to read at a time when iterated; the
            runner reads at least L{FILE_CHUNK_SIZE}.
        """
        self.filelike = filelike
        self.blksize = blksize

    def chunks(self, size: int) -> Iterator[bytes]:
        """
        Read the file in chunks of C{size} bytes, until it returns C{b""}.
        """
        read = self.filelike.read
        while True:
            data = read(size)
            if not data:
                return
            yield data

    def __iter__(self) -> FileWrapper:
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if not data:
            raise StopIteration
        return data

    def seekable(self) -> bool:
        """
        Whether the file can seek: not if it has no C{seekable} method.
        """
        seekable = getattr(self.filelike, "seekable", None)
        return seekable is not None and bool(seekable())

    def seek(self, offset: int, whence: int = 0) -> int:
        """
        Move the file's position, as its C{seek} does.

        @return: the new position.
        """
        return self.filelike.seek(offset, whence)

    def tell(self) -> int:
        """
        The file's position.
        """
        return self.filelike.tell()

    def close(self) -> None:
        """
        Close the file, if it can be closed.
        """
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


class ResponseStream:
    """
    The response body on its way to the front, paced by the window the
    front grants: the twin of L{InputStream}, which paces the request body
    the other way.

    The front grants a window with the request and more with each
    C{WINDOW} message, as its client takes the body.  Before each chunk
    streamed, the application thread waits in L{awaitWindow} while the
    window is used up; then it hands the chunk over with L{queue}.  The
    reactor thread sends what was queued, in order, in C{BODY} messages of
    at most C{batch} bytes: chunks queued while it was busy go out
    together, and none waits for a later one.

    Threads: L{windowReceived} and L{abort} are called in the reactor
    thread, and so is the flush that L{queue} schedules, which alone calls
    C{send}; L{awaitWindow} and L{queue} are called in the application
    thread.

    @ivar _condition: what the application thread waits on for window;
        guards C{_window}, C{aborted} and C{_outgoing}.  The request's
        L{InputStream} shares it: one application thread waits for one of
        the two at a time.
    @ivar _window: how many more body bytes the front accepts now
        (negative after a chunk bigger than what was left), or L{None} if
        the front paces nothing.
    @ivar aborted: whether L{abort} was called.  Written with
        C{_condition} held; read in both threads without it (a boolean
        assignment is atomic).  For a running
        request, this is whether it was cancelled (L{RunningRequest}).
    @ivar waiting: whether the application thread waits for window (which
        only the front grants).  Read in the reactor thread without the
        lock.
    @ivar _outgoing: the chunks queued and not sent yet.  L{queue}
        schedules one flush when it finds it empty; the flush empties it.
    """

    def __init__(
        self,
        reactor: SupportsCallFromThread,
        send: Callable[[list[bytes], bool], None],
        window: int | None,
        condition: threading.Condition | None = None,
        batch: int = BODY_BATCH,
    ) -> None:
        """
        @param reactor: brings the flushes to the reactor thread.
        @param send: sends body chunks, as L{ResponseSink.sendBody}, with
            C{end} false; called in the reactor thread.
        @param window: the window granted with the request, or L{None} if
            the front paces nothing.
        @param condition: the condition variable to wait on; a new
            L{threading.Condition} by default.
        @param batch: the most bytes C{send} is given at once, unless one
            chunk is bigger (a chunk is never split).
        """
        self._reactor = reactor
        self._send = send
        self._window = window
        self._condition = threading.Condition() if condition is None else condition
        self._batch = batch
        self.aborted = False
        self.waiting = False
        self._outgoing: list[bytes] = []

    # Reactor thread.

    def windowReceived(self, size: int) -> None:
        """
        The front accepts C{size} more bytes: wake the application thread
        if it waits for window.  Ignored if the front paces nothing, or
        once the stream was aborted.  Called in the reactor thread.
        """
        with self._condition:
            if self._window is None or self.aborted:
                return
            self._window += size
            self._condition.notify_all()

    def abort(self) -> None:
        """
        Give up on the response: L{awaitWindow}, including a call blocked
        now, raises L{RequestCancelled}, and nothing more is sent.  Called
        in the reactor thread (or, through L{RunningRequest.cancel}, in the
        application thread).
        """
        with self._condition:
            self.aborted = True
            self._condition.notify_all()

    def _flush(self) -> None:
        """
        Send the chunks queued since the last flush, in order, at most
        C{batch} bytes in each call to C{send}; nothing once aborted.
        Called in the reactor thread.
        """
        with self._condition:
            chunks, self._outgoing = self._outgoing, []
        batch: list[bytes] = []
        size = 0
        for chunk in chunks:
            if batch and size + len(chunk) > self._batch:
                if self.aborted:
                    return
                self._send(batch, False)
                batch, size = [], 0
            batch.append(chunk)
            size += len(chunk)
        if batch and not self.aborted:
            self._send(batch, False)

    # Application thread.

    def awaitWindow(self, size: int) -> None:
        """
        Wait until the front accepts more of the body, then count C{size}
        bytes against its window.  The window may go below zero: a chunk
        is never split.  Called in the application thread, before each
        chunk is streamed (including one sent with the head).

        @raise RequestCancelled: if the stream is or gets aborted.
        """
        with self._condition:
            while (
                self._window is not None
                and self._window <= 0
                and not self.aborted
            ):
                self.waiting = True
                try:
                    self._condition.wait()
                finally:
                    self.waiting = False
            if self.aborted:
                raise RequestCancelled("request cancelled")
            if self._window is not None:
                self._window -= size

    def queue(self, chunk: bytes) -> None:
        """
        Hand a chunk to the reactor thread, to be sent after those queued
        before, and after the calls handed to C{reactor} before; schedule
        a flush if none is scheduled.  Called in the application thread,
        after L{awaitWindow}.
        """
        with self._condition:
            schedule = not self._outgoing
            self._outgoing.append(chunk)
        if schedule:
            self._reactor.callFromThread(self._flush)


class RunningRequest:
    """
    One request being run through the application, from L{WSGIRunner.run}
    until L{ResponseSink.finished}.

    @ivar input: the request's C{wsgi.input}.
    @ivar output: the response body streamed, paced by the front's
        window.  It shares its condition variable with C{input}: the one
        the application thread waits on.  Its C{aborted} flag says whether
        the request was cancelled (L{cancel} aborts both streams): read in
        both threads, it is not kept a second time here.
    @ivar _errors: the request's C{wsgi.errors}, made in the application
        thread when it starts running the request.
    @ivar _done: whether L{ResponseSink.finished} was called: written in
        the thread that calls it, read in the reactor thread (a boolean
        assignment is atomic).
    @ivar _bodyEnded: whether the whole request body was received.
        Reactor thread only.
    @ivar _lateBodyLogged: whether body that came after the body's end was
        logged (once a request).  Reactor thread only.
    @ivar _pending: the status code, reason and headers given to
        C{start_response} and not sent yet, or L{None}.  Application thread
        only, like C{_hasBody}, C{_addLength}, C{_limit}, C{_sent},
        C{_headSent} and C{_complete}.
    @ivar _hasBody: whether the response has a body: not for C{HEAD}, nor
        with status C{204}, C{205} or C{304}.  Without one, a streamed iterable is
        not advanced past the chunk that makes the head final, and what
        C{write()} is given is dropped.
    @ivar _addLength: whether a collected response gets a
        C{Content-Length}: its status allows a body (C{HEAD} included: its
        response has the header fields of C{GET}'s) and the application
        set none.
    @ivar _limit: the application's C{Content-Length}, if the response
        has a body (not for C{HEAD}, C{204}, C{205} or C{304}); else L{None}.  No
        more body than this is sent, and a body that ends short of it is
        an error.
    @ivar _sent: how many body bytes were handed to the reactor.
    @ivar _headSent: whether the head was handed to the reactor.
    @ivar _complete: whether the message completing the response (or
        reporting its failure) was handed to the reactor.
    @ivar _viaReactor: whether body chunks were handed to the reactor
        thread (L{ResponseStream}): every later message of the response,
        and the end of the request, follows them there, in order.
        Application thread only.
    @ivar _inIterable: whether the application thread is in the
        response iterable's C{next()}: written in the application thread,
        read in the reactor thread (L{betweenChunks}).
    """

    # (Set on the instance only when it is true: nothing more per request.)
    _lateBodyLogged = False
    # Whether the application called write() (L{betweenChunks}), until its
    # result is closed.
    _writer = False

    def __init__(
        self,
        reactor: SupportsCallFromThread,
        application: Application,
        log: Logger,
        requestId: bytes,
        head: RequestHead,
        sink: ResponseSink,
        condition: threading.Condition | None = None,
        multithread: bool = True,
    ) -> None:
        """
        Called in the reactor thread.

        @param head: the request head; its C{window} meta attribute, if any,
            is the response window the front grants to begin with.
        @param condition: the condition variable the application thread
            waits on (for response window or request body), for tests; a
            new L{threading.Condition} by default.
        @param multithread: the environ's C{wsgi.multithread}.
        """
        self._reactor = reactor
        self._multithread = multithread
        self._application = application
        self._log = log
        # The environ and the id logged are made in the application thread
        # (_respond, _requestId): the reactor thread only receives and
        # sends.
        self._requestHead = head
        self._rawId = requestId
        self._idText: str | None = None
        self._method = head.method
        self._sink = sink
        if condition is None:
            condition = threading.Condition()
        # Only a streamed request body is paced by the front; a body that
        # came whole in the REQ needs no grants.
        self.input = InputStream(
            condition,
            self._inputConsumed if head.more else None,
            INPUT_WINDOW // INPUT_GRANT_DIVISOR,
        )
        self.output = ResponseStream(
            reactor, sink.sendBody, head.window, condition, BODY_BATCH
        )
        self._errors: ErrorStream | None = None
        self._done = False
        self._bodyEnded = False
        self._wholeLength: int | None = None
        # The bytes of a streamed body that came (_bodyLost).
        self._streamed = 0
        self._pending: tuple[int, bytes, list[tuple[bytes, bytes]]] | None = None
        self._hasBody = True
        self._addLength = False
        self._limit: int | None = None
        self._sent = 0
        self._overran = False
        self._headSent = False
        self._complete = False
        self._viaReactor = False
        self._inIterable = False
        # The id of the application thread while it runs the request.
        self._thread: int | None = None
        # One token: the application thread that takes the request (_run)
        # or the reactor thread that takes it back (withdraw) pops it, and
        # the other finds none.  (list.pop is atomic: no lock a request.)
        self._claim: list[None] = [None]

    @property
    def logId(self) -> str:
        """
        The id of the request in logs (L{_requestId}), for the handler's
        lines about it (L{txmp._handler.Running.logId}).
        """
        return self._requestId

    @property
    def _requestId(self) -> str:
        """
        The id of the request in logs: its X-Request-Id, which the client
        gets back (the front makes one if no trusted proxy gave one), else
        the front's id as text.  Worked out when first needed, in either
        thread (the same value in both: a race only computes it twice).
        One that is not all printable (C{str.isprintable}: a control
        character, or a space but the ASCII one, which a front of its
        choosing may send: txmp's sends none) is cut short and its control
        characters escaped (L{printable}), lest it start a line of its own.
        """
        text = self._idText
        if text is None:
            text = _xRequestId(self._requestHead) or idText(self._rawId)
            if not text.isprintable():
                text = printable(text)
            self._idText = text
        return text

    # Reactor thread.

    def _firstBody(self, chunks: list[bytes], end: bool) -> None:
        """
        The body frames that came with the request head; C{end} if they
        are the whole body.  Called in the reactor thread, before the
        request is handed to the pool.
        """
        self.input.preload(chunks, end)
        self._bodyEnded = end
        if end:
            self._wholeLength = sum(len(chunk) for chunk in chunks)
        else:
            self._streamed = sum(len(chunk) for chunk in chunks)

    def cancel(self) -> None:
        """
        The client is gone: stop the application as soon as possible and
        send nothing more to the sink but L{ResponseSink.finished}.  The
        application sees L{RequestCancelled} from C{write()} and from
        C{wsgi.input}, also if it is blocked in them; its iterable is not
        advanced any more, and is closed.  Does nothing once the request is
        finished.  Called in the reactor thread, or by the sink in the
        application thread (a response head too large to send).
        """
        if self._done or self.output.aborted:
            return
        self.output.abort()
        self.input.abort()

    def withdraw(self) -> bool:
        """
        Take the request back if no application thread has taken it: the
        thread that comes to it later leaves it at once, and sends nothing
        to the sink, not even L{ResponseSink.finished}.  Called in the
        reactor thread.

        @return: whether it was taken back; if not, a thread runs it (or
            ran it), and the sink hears of it as always.
        """
        try:
            self._claim.pop()
        except IndexError:
            return False
        return True

    @property
    def started(self) -> bool:
        """
        Whether an application thread has taken the request: it made its
        C{wsgi.errors} (L{_run}).
        """
        return self._errors is not None

    @property
    def cancelled(self) -> bool:
        """
        Whether L{cancel} was called before the request finished.  Called
        in the reactor thread.
        """
        return self.output.aborted

    @property
    def waitingOnFront(self) -> bool:
        """
        Whether the application thread waits for the front: for more of
        the request body, or for response window.  Called in the reactor
        thread.
        """
        return self.input.waiting or self.output.waiting

    @property
    def betweenChunks(self) -> bool:
        """
        Whether the application thread, its response's head sent, waits to
        give the next chunk: in the response's iterable (L{_chunks}), or in
        the application's call after a C{write()} (L{_write}).  A stream
        between two events, as server-sent events and long polls wait, whose
        next chunk a cancel ends (the iterable closed, C{write()} raising
        L{RequestCancelled}).  Called in the reactor thread.
        """
        return (
            (self._inIterable or self._writer)
            and self._headSent
            and self._thread is not None
        )

    def where(self) -> str | None:
        """
        Where the application thread is while it runs this request, as the
        lines of a traceback (oldest call first) from the application's
        call on: the frames that lead to it (the pool's, a profiler's,
        L{_run}'s and this module's) are left out.  L{None} when no thread
        runs it, or where the interpreter cannot tell
        (C{sys._current_frames}).  Called in the reactor thread.
        """
        thread = self._thread
        currentFrames = getattr(sys, "_current_frames", None)
        if thread is None or currentFrames is None:
            return None
        frame = currentFrames().get(thread)
        if frame is None or self._thread != thread:
            # Its thread left it meanwhile (and may run another request).
            return None
        frames = []
        while frame is not None and frame.f_code is not _RUN_CODE:
            frames.append(frame)
            frame = frame.f_back
        if frame is not None:
            # Called from _run: the application's frames are the innermost,
            # after this module's that call it.
            while len(frames) > 1 and frames[-1].f_code.co_filename == _RUN_CODE.co_filename:
                frames.pop()
        return "".join(
            traceback.StackSummary.extract(
                (frame, frame.f_lineno) for frame in reversed(frames)
            ).format()
        )

    def windowReceived(self, size: int) -> None:
        """
        The front accepts C{size} more bytes of the response body: the
        client took that many.  Wakes the application thread if it waits
        for window.  Ignored if the request came without a window (the
        front paces nothing), was cancelled or is finished.  Called in the
        reactor thread.
        """
        if not self._done:
            self.output.windowReceived(size)

    def bodyReceived(self, chunks: list[bytes], end: bool) -> None:
        """
        More of the request body arrived, for a request whose head had
        C{more} set.  Called in the reactor thread.

        @param end: whether this is the end of the body.
        """
        if self.output.aborted:
            return
        if self._bodyEnded:
            if not self._lateBodyLogged:
                # (Once: a front may send more as often as it likes.)
                self._lateBodyLogged = True
                self._log.warn(
                    "request {requestId}: request body received after its end; "
                    "dropped",
                    requestId=self._requestId,
                )
            return
        for chunk in chunks:
            self._streamed += len(chunk)
            self.input.feed(chunk)
        if end:
            self._bodyEnded = True
            if self._bodyLost():
                return
            self.input.finish()

    def _bodyLost(self) -> bool:
        """
        Whether the streamed body that ended now is not as long as its
        C{Content-Length}: messages of it were lost (a ZeroMQ connection
        broken and made again, whose loss this handler had not heard of
        yet when the end came).  If so, say so, and make the application's
        reads fail: a short upload must not pass for a whole one (a chaos
        test once saw 200 for 5,046,272 bytes of 5,242,880).  Called in
        the reactor thread.
        """
        try:
            expected = contentLength(self._requestHead.headers)
        except ProtocolError:
            expected = None
        if expected is None or expected == self._streamed:
            return False
        reason = (
            f"request body lost: {self._streamed} bytes came of its "
            f"Content-Length of {expected}"
        )
        self._log.warn(
            "request {requestId}: {reason}; its reads fail",
            requestId=self._requestId, reason=reason,
        )
        self.input.abort(reason)
        return True

    def _deliver(self, method: Callable[..., None], *args: object) -> None:
        """
        Call a sink method, unless the request was cancelled.  Called in the
        reactor thread.
        """
        if not self.output.aborted:
            method(*args)

    def _finish(self) -> None:
        """
        Tell the sink the request is finished.  Called in the application
        thread, or in the reactor thread after the messages handed to it.
        """
        self._done = True
        self._sink.finished()

    # Application thread.

    def _toReactor(self, method: Callable[..., None], *args: object) -> None:
        """
        Have the reactor thread call a sink method.  Called in the
        application thread.
        """
        self._reactor.callFromThread(self._deliver, method, *args)

    def _toSink(self, method: Callable[..., None], *args: object) -> None:
        """
        Send a message of the response: from this thread, unless body
        chunks went through the reactor thread (then after them, through
        it).  Nothing once the request is cancelled.  Called in the
        application thread.
        """
        if self._viaReactor:
            self._toReactor(method, *args)
        elif not self.output.aborted:
            method(*args)

    def _inputConsumed(self, size: int) -> None:
        """
        The application has read C{size} more bytes of a streamed request
        body: let the front send as many more.  Called in the application
        thread, by L{InputStream}.
        """
        if not self.output.aborted:
            self._toReactor(self._sink.sendWindow, size)

    def _run(self) -> None:
        """
        Run the application and send its response, unless the request was
        taken back (L{withdraw}).  Called in the application thread.
        """
        try:
            self._claim.pop()
        except IndexError:
            return
        errors = self._errors = ErrorStream(self._log, self._requestId)
        self._thread = threading.get_ident()
        try:
            if not self.output.aborted:
                self._respond(errors)
        finally:
            self._thread = None
            errors.flush()
            if self._viaReactor:
                self._reactor.callFromThread(self._finish)
            else:
                self._finish()

    def _respond(self, errors: ErrorStream) -> None:
        """
        Call the application, produce its response, close its iterable, and
        turn failures into an error response.  Called in the application
        thread.

        Whatever the application (or its iterable, or its C{close}) raises,
        even C{SystemExit}, becomes a 500 or an aborted response here: hence
        the C{except BaseException} clauses.

        @param errors: the request's C{wsgi.errors}.
        """
        try:
            environ = buildEnviron(
                self._rawId, self._requestHead, self.input, errors, self._multithread
            )
            if self._wholeLength is not None:
                _dechunked(environ, self._wholeLength)
            result = self._application(environ, self._startResponse)
        except BaseException:  # noqa: BLE001 (the application's)
            self._fail()
            return
        produced: list[bytes] | None = None
        try:
            produced = self._produce(result)
        except BaseException:  # noqa: BLE001 (the application's)
            self._fail()
        if self._writer:
            # Its writes are over: a wait in close() (a teardown that
            # blocks) is no stream's between two chunks (betweenChunks).
            self._writer = False
        try:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        except BaseException:  # noqa: BLE001 (the application's)
            self._fail()
            return
        if produced is not None:
            try:
                self._completeResponse(produced)
            except BaseException:  # noqa: BLE001 (the application's)
                self._fail()

    def _produce(self, result: Iterable[bytes]) -> list[bytes]:
        """
        Iterate over the application's result, streaming what is to be
        streamed.  Called in the application thread.

        @return: the chunks collected to send when completing the response.
        """
        length: int | None
        if isinstance(result, (list, tuple)):
            length = len(result)
        else:
            try:
                # (Any iterable: a TypeError says it has no length.)
                length = len(result)  # type: ignore[arg-type]
            except TypeError:
                length = None
        if isinstance(result, (list, tuple)) or length == 1:
            return list(self._chunks(result))
        for chunk in self._chunks(result):
            if self._pending is not None and not self._hasBody:
                # The head is final at the first non-empty chunk, and a
                # response without a body needs nothing more: the front
                # would drop it, and an endless stream would never end.
                break
            self._sendChunk(chunk)
            if self._overran:
                # Past the application's Content-Length: PEP 3333 says to
                # stop iterating (an endless stream would never end).
                break
        return []

    def _completeResponse(self, body: list[bytes]) -> None:
        """
        Send the message that completes the response, once the result is
        closed: the end of a streamed response, or the head of a collected
        one, with its body.  Called in the application thread.

        @param body: the chunks not sent yet.
        @raise RuntimeError: if C{start_response} was not called.
        @raise ValueError: if the body is shorter than the application's
            C{Content-Length}.
        """
        # (All of it, for a HEAD response's Content-Length, which is GET's.)
        made = body
        if self._pending is not None and not self._hasBody:
            body = []
        if self._headSent:
            body = self._fit(body)
            self._checkComplete()
            self._sendLast(self._sink.sendBody, body, True)
            return
        status, reason, headers = self._head()
        body = self._fit(body)
        self._checkComplete()
        if self._addLength:
            # (Not cut by _fit: the application set no Content-Length.)
            size = sum(len(chunk) for chunk in made)
            # To HEAD, an empty body may be one the application left out
            # (Werkzeug does), not one of length 0: no length is made up.
            if size or self._hasBody:
                headers = [*headers, (b"Content-Length", b"%d" % (size,))]
        self._sendLast(self._sink.sendHead, status, reason, headers, body, False)

    def _fit(self, chunks: list[bytes]) -> list[bytes]:
        """
        The part of C{chunks} that fits in the application's
        C{Content-Length} after what was sent, counted as sent.  What does
        not fit is dropped (PEP 3333: a server must not send more than
        C{Content-Length}), and logged the first time.  Called in the
        application thread.
        """
        limit = self._limit
        if limit is None:
            return chunks
        fitting = []
        for chunk in chunks:
            room = limit - self._sent
            if len(chunk) > room:
                if not self._overran:
                    self._overran = True
                    self._log.warn(
                        "request {requestId}: the application's response "
                        "body is longer than its Content-Length of {length} "
                        "bytes; the rest is dropped",
                        requestId=self._requestId,
                        length=limit,
                    )
                chunk = chunk[:room]
            if chunk:
                fitting.append(chunk)
                self._sent += len(chunk)
        return fitting

    def _checkComplete(self) -> None:
        """
        Called in the application thread, once the body is complete.

        @raise ValueError: if the body is shorter than the application's
            C{Content-Length}: the front must not take it for complete.
        """
        if self._limit is not None and self._sent < self._limit:
            raise ValueError(
                f"response body of {self._sent} bytes is shorter than its "
                f"Content-Length of {self._limit}"
            )

    def _sendLast(self, method: Callable[..., None], *args: object) -> None:
        """
        Send the message that completes the response, or reports its
        failure.  Called in the application thread.
        """
        self._headSent = self._complete = True
        self._toSink(method, *args)

    def _chunks(self, result: Iterable[bytes]) -> Iterator[bytes]:
        """
        The non-empty chunks of the application's result.  Checks for
        cancellation before asking the result for each chunk.

        @raise RequestCancelled: if the request was cancelled.
        @raise TypeError: if a chunk is not L{bytes}.
        """
        iterator: Iterator[bytes]
        if type(result) is FileWrapper:
            iterator = result.chunks(max(result.blksize, FILE_CHUNK_SIZE))
        else:
            iterator = iter(result)
        output = self.output
        while True:
            if output.aborted:
                raise RequestCancelled("request cancelled")
            self._inIterable = True
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            finally:
                self._inIterable = False
            if not isinstance(chunk, bytes):
                raise TypeError(
                    f"response chunk must be bytes, not {type(chunk).__name__}"
                )
            if chunk:
                yield chunk

    def _head(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """
        The head given to C{start_response}.

        @raise RuntimeError: if C{start_response} was not called.
        """
        if self._pending is None:
            raise RuntimeError("the application did not call start_response()")
        return self._pending

    def _sendChunk(self, chunk: bytes) -> None:
        """
        Stream a non-empty chunk, with the head if it was not sent yet, once
        the front's window allows.  Called in the application thread.

        @raise RequestCancelled: if the request is or gets cancelled while
            waiting for window.
        """
        if not self._hasBody and self._pending is not None:
            # (From write(): a response without a body sends its head alone.)
            self._sendHead([])
            return
        if self._limit is not None:
            fitting = self._fit([chunk])
            if not fitting:
                return
            chunk = fitting[0]
        self.output.awaitWindow(len(chunk))
        if self._headSent:
            # Batched in the reactor thread (BODY_BATCH): what follows must
            # not overtake it.
            self._viaReactor = True
            self.output.queue(chunk)
        else:
            self._sendHead([chunk])

    def _sendHead(self, chunks: list[bytes]) -> None:
        """
        Send the head with C{chunks}, the rest to follow, unless it was
        sent.  Called in the application thread, after C{start_response}.
        """
        if not self._headSent:
            status, reason, headers = self._head()
            self._headSent = True
            self._toSink(self._sink.sendHead, status, reason, headers, chunks, True)

    def _startResponse(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> WriteCallable:
        """
        The WSGI C{start_response} callable.  Called in the application
        thread.

        @param status: C{"NNN reason"}, a final status (200 to 599).
        @param headers: a list of C{(name, value)} native strings.
        @param exc_info: L{sys.exc_info} if the application is replacing its
            response because of an error.
        @raise RuntimeError: if called again without C{exc_info}.
        @raise TypeError: if the status or a header is not a L{str}.
        @raise ValueError: if the status or a header is malformed, or is a
            hop-by-hop header, or if C{Content-Length} is repeated or not a
            number.
        @raise BaseException: C{exc_info}, if it is given and the head was
            sent.
        @return: the C{write} callable.
        """
        if exc_info:
            try:
                if self._headSent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                # Break the cycle through this frame.
                exc_info = None
        elif self._pending is not None:
            raise RuntimeError("start_response() called again without exc_info")
        if not isinstance(status, str):
            raise TypeError(f"status must be str, not {type(status).__name__}")
        # (A subclass of str may have its own equality: it is parsed each
        # time, as the str it holds.)
        if type(status) is str and len(status) <= _CACHED_FIELD:
            code, reason = _parsedStatus(status)
        else:
            code, reason = _parseStatus(status)
        if not isinstance(headers, (list, tuple)):
            raise TypeError(f"headers must be a list, not {type(headers).__name__}")
        encoded = []
        lengths = []
        for header in headers:
            if not isinstance(header, (tuple, list)) or len(header) != 2:
                raise TypeError(f"header must be a (str, str) tuple, not {header!r}")
            name, value = header
            if type(name) is not str or type(value) is not str:
                if not isinstance(name, str) or not isinstance(value, str):
                    raise TypeError(f"header must be a (str, str) tuple, not {header!r}")
                # (A subclass of str is checked as the str it holds.)
                name, value = str(name), str(value)
            if len(name) + len(value) <= _CACHED_FIELD:
                field, isLength = _checkedField(name, value)
            else:
                field, isLength = _checkField(name, value)
            if isLength:
                lengths.append(header)
            encoded.append(field)
        # The front frames the response with it (docs/protocol.md, RESP):
        # one valid Content-Length, or none.
        try:
            length = contentLength(lengths)
        except ProtocolError as e:
            raise ValueError(f"{e}: {lengths!r}") from None
        self._pending = (code, reason, encoded)
        hasBody = self._hasBody = self._method != "HEAD" and code not in NO_BODY_CODES
        self._addLength = code not in NO_BODY_CODES and length is None
        self._limit = length if hasBody else None
        # (A head replaced with exc_info was not sent: nothing of its body
        # was either, and what was cut was cut by its Content-Length.)
        self._overran = False
        return self._write

    def _write(self, data: bytes) -> None:
        """
        The WSGI C{write} callable.  Called in the application thread.  The
        data is handed to the reactor thread as soon as the front's window
        allows (blocking until then), before anything the application's
        iterable yields.  The first call sends the head if it was not
        sent, even with no data (PEP 3333: "upon the application's first
        invocation of the write() callable", as wsgiref, gunicorn, waitress
        and Werkzeug's server send it): an application may so flush its
        head before a long wait.

        Data past the application's C{Content-Length} is dropped: the call
        that passes it sends what fits, and any later call with data
        raises (PEP 3333).

        @raise RequestCancelled: if the request was cancelled.
        @raise TypeError: if C{data} is not L{bytes}.
        @raise RuntimeError: if data was given after the body passed its
            C{Content-Length}, or after the response was completed.
        """
        if self.output.aborted:
            raise RequestCancelled("request cancelled")
        self._writer = True
        if not isinstance(data, bytes):
            raise TypeError(
                f"write() argument must be bytes, not {type(data).__name__}"
            )
        if self._complete:
            raise RuntimeError("write() after the response was completed")
        if data:
            if self._overran:
                # PEP 3333: a server "should ... raise an error if the
                # application tries to write() past that point" (the
                # Content-Length): an endless writer would otherwise hold
                # its thread until the front's --timeout, its client served
                # long since.
                raise RuntimeError(
                    f"write() past the response's Content-Length of "
                    f"{self._limit} bytes"
                )
            self._sendChunk(data)
        else:
            self._sendHead([])

    def _fail(self) -> None:
        """
        Log the exception being handled and send the best error response
        still possible: a 500 response if the head was not sent, else
        L{ResponseSink.sendError}; nothing if the request was cancelled or
        the response was complete.  A response whose whole C{Content-Length}
        was sent, or whose head was sent and that has no body, ends
        normally: its client has all it was promised (an
        application that wrote past it and let L{_write}'s error out, or
        whose C{close()} raised), and an error would make the front abort
        the connection under what it still holds for a slow client.  Called
        in the application thread, in an C{except} block.
        """
        if self.output.aborted and isinstance(sys.exc_info()[1], RequestCancelled):
            self._log.debug("request {requestId} cancelled", requestId=self._requestId)
            return
        # At error, as gunicorn and waitress log an application's
        # exception: critical (failure()'s default) is for what stops a
        # process, and an alert on it would fire at every 500.
        self._log.failure(
            "WSGI application failed on request {requestId}",
            level=LogLevel.error,
            requestId=self._requestId,
        )
        if self.output.aborted or self._complete:
            return
        if self._headSent and (
            not self._hasBody or (self._limit is not None and self._sent >= self._limit)
        ):
            # (Without a body, to HEAD or a 204, 205 or 304, the head sent is
            # the whole response.)
            self._sendLast(self._sink.sendBody, [], True)
        elif self._headSent:
            self._sendLast(self._sink.sendError, "WSGI application error")
        else:
            fields, body = plainPage(500)
            self._sendLast(self._sink.sendHead, 500, REASONS[500], fields, [body], False)


# The code of RunningRequest._run, which calls the application in its
# thread: where a stuck request's stack (RunningRequest.where) begins.
_RUN_CODE = RunningRequest._run.__code__


class WSGIRunner:
    """
    Runs requests through a WSGI application in a thread pool.

    @ivar profiler: the handler's L{Profiler}, if any: while it is active,
        each request runs profiled.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorFromThreads,
        threadpool: SupportsCallInThread,
        application: Application,
        logger: Logger | None = None,
        newCondition: Callable[[], threading.Condition] = threading.Condition,
        multithread: bool = True,
    ) -> None:
        """
        @param reactor: brings body chunks, window grants and what follows
            them to the reactor thread.
        @param threadpool: runs the application; the caller starts and
            stops it.
        @param application: the WSGI application.
        @param logger: where application failures and C{wsgi.errors} go;
            the class's logger by default.
        @param newCondition: makes the condition variable each request's
            application thread waits on (for window or request body); for
            tests.
        @param multithread: whether C{threadpool} may run the application
            in several threads at once (more than one thread): the
            environ's C{wsgi.multithread}, which PEP 3333 wants false
            otherwise (gunicorn's one-thread sync worker says false).
        """
        self._multithread = multithread
        # Every request's calls back to the reactor thread go through one
        # FIFO, which wakes the reactor once for the calls made together
        # (by one request, or several).
        self._reactor = ReactorCalls(reactor)
        self._threadpool = threadpool
        self._application = application
        self._newCondition = newCondition
        # While it is active, requests run profiled (mphandler --profile,
        # SIGUSR2).
        self.profiler: Profiler | None = None
        # Bound once: reading a Logger class attribute makes a new Logger
        # each time, which costs on every request.
        self._log = logger if logger is not None else self._log

    def run(
        self,
        requestId: bytes,
        head: RequestHead,
        body: list[bytes],
        sink: ResponseSink,
    ) -> RunningRequest:
        """
        Start running a request.  Called in the reactor thread: the
        application is run with C{threadpool.callInThread}, and the sink is
        called as L{ResponseSink} says, ending with
        L{ResponseSink.finished}.

        @param requestId: the id of the request, for logs and for
            C{environ["txmp.request_id"]}.
        @param head: the request head.  Its C{window} meta attribute, if
            any, paces the response: see L{RunningRequest.windowReceived}.
        @param body: the body frames received with the head.  If C{head.more}
            is set, the rest is to be given to
            L{RunningRequest.bodyReceived}; otherwise this is the whole body.
        @param sink: where the response goes.
        @return: the running request, to cancel it or feed it more body.
        """
        running = RunningRequest(
            self._reactor,
            self._application,
            self._log,
            requestId,
            head,
            sink,
            self._newCondition(),
            self._multithread,
        )
        running._firstBody(body, not head.more)
        profiler = self.profiler
        if profiler is not None and profiler.active:
            self._threadpool.callInThread(profiler.runProfiled, running._run)
        else:
            self._threadpool.callInThread(running._run)
        return running


__all__ = [
    "ErrorStream",
    "FileWrapper",
    "InputStream",
    "Mounted",
    "RequestCancelled",
    "ResponseSink",
    "ResponseStream",
    "RunningRequest",
    "WSGIRunner",
    "buildEnviron",
]
