# -*- test-case-name: txmp.test.test_wsgi -*-
"""
Tests for L{txmp._wsgi}.
"""

from __future__ import annotations

import io
import pstats
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from typing import (
    Any,
    Callable,
    cast,
)
from wsgiref.util import request_uri
from wsgiref.validate import validator

if sys.implementation.name == "cpython":
    # (PyPy has no _tracemalloc.)
    import tracemalloc

from twisted.logger import ILogObserver, Logger, LogLevel, capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txmp import __version__, _wsgi
from txmp._defaults import (
    BODY_BATCH,
    FILE_CHUNK_SIZE,
    INPUT_GRANT_DIVISOR,
    INPUT_WINDOW,
    LOG_MESSAGE_LENGTH,
)
from txmp._profile import Profiler
from txmp._wsgi import (
    _CACHED_FIELD,
    ErrorStream,
    FileWrapper,
    InputStream,
    Mounted,
    RequestCancelled,
    ResponseStream,
    RunningRequest,
    WSGIRunner,
    _checkedField,
    _headerKey,
    _parsedStatus,
)
from txmp.protocol import RequestHead
from txmp.testing import (
    ClosingIterable,
    CountingCondition,
    FakeReactor,
    MemoryRun,
    RecordingFile,
    RecordingSink,
    ScriptedCondition,
    SynchronousThreadPool,
    requestHead,
    runningReactor,
)

ERROR_HEAD = (
    "sendHead",
    500,
    b"Internal Server Error",
    [
        (b"Content-Type", b"text/plain; charset=utf-8"),
        (b"Content-Length", b"26"),
    ],
    # The front's error page (txmp._http.plainPage), from the handler too.
    [b"500 Internal Server Error\n"],
    False,
)
FINISHED = ("finished",)
TEXT = [("Content-Type", "text/plain")]
BTEXT = [(b"Content-Type", b"text/plain")]


def sentHead(
    body: list[bytes],
    more: bool = False,
    headers: list[tuple[bytes, bytes]] = BTEXT,
    status: int = 200,
    reason: bytes = b"OK",
) -> tuple[Any, ...]:
    """
    The sink call that sends a response head with the first C{body}
    chunks; by default a whole C{200 OK} C{text/plain} response.
    """
    return ("sendHead", status, reason, headers, body, more)


def whole(body: list[bytes], **kw: Any) -> list[tuple[Any, ...]]:
    """
    The sink calls of a response sent whole: its L{sentHead} with all its
    C{body}, then C{finished}.
    """
    return [sentHead(body, False, **kw), FINISHED]


def failedAfter(first: list[bytes], **kw: Any) -> list[tuple[Any, ...]]:
    """
    The sink calls of a response that failed once its L{sentHead}, with
    the C{first} chunks, had gone: C{sendError}, then C{finished}.
    """
    return [sentHead(first, True, **kw), ("sendError", "WSGI application error"), FINISHED]


def answering(body: Any) -> Callable[[Any, Any], Any]:
    """
    An application that answers C{200 OK}, C{text/plain}, with the
    iterable C{body}.
    """

    def app(environ: Any, startResponse: Any) -> Any:
        startResponse("200 OK", TEXT)
        return body

    return app


def echoBody(environ: Any, startResponse: Any) -> list[bytes]:
    """
    An application that answers the request body, read whole.
    """
    startResponse("200 OK", TEXT)
    return [environ["wsgi.input"].read()]


def writingTwice(raised: list[BaseException]) -> Callable[[Any, Any], list[bytes]]:
    """
    An application that writes C{b"a"}, then C{b"b"}, with C{write()}; what
    the second write raises it records in C{raised}, and raises again.
    """

    def app(environ: Any, startResponse: Any) -> list[bytes]:
        write = startResponse("200 OK", TEXT)
        write(b"a")
        try:
            write(b"b")
        except RequestCancelled as e:
            raised.append(e)
            raise
        return []

    return app


def replacesHeadAfterEmptyChunk(
    status: str, chunks: list[bytes], reached: list[bytes]
) -> Callable[[Any, Any], Iterator[bytes]]:
    """
    An application that starts a C{200 OK}, yields an empty chunk, then
    replaces the head with C{status} (with C{exc_info}) and yields
    C{chunks}, recording in C{reached} each chunk after whose C{yield} it
    was resumed.
    """

    def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
        startResponse("200 OK", TEXT)
        yield b""
        try:
            raise ValueError("boom")
        except ValueError:
            startResponse(status, TEXT, sys.exc_info())
        for chunk in chunks:
            yield chunk
            reached.append(chunk)

    return app


def streamed(first: list[bytes], *chunks: list[bytes], **kw: Any) -> list[tuple[Any, ...]]:
    """
    The sink calls of a streamed response: its L{sentHead} with the C{first}
    chunks, a C{sendBody} for each of C{chunks}, the end (an empty
    C{sendBody}), then C{finished}.
    """
    return [
        sentHead(first, True, **kw),
        *[("sendBody", more, False) for more in chunks],
        ("sendBody", [], True),
        FINISHED,
    ]


def sentChunks(call: tuple[object, ...]) -> list[bytes]:
    """
    The body chunks of a recorded C{sendHead} or C{sendBody} call.
    """
    chunks = call[4] if call[0] == "sendHead" else call[1]
    assert isinstance(chunks, list), call
    return chunks


def recordingLogger(events: list[dict[str, Any]]) -> Logger:
    """
    A logger whose events are appended to C{events}.
    """
    return Logger(observer=cast(ILogObserver, events.append))


def raiser(exception: BaseException) -> Callable[[], Any]:
    def raiseIt() -> Any:
        raise exception

    return raiseIt


class RunnerMixin:
    """
    Run applications with a L{SynchronousThreadPool} and a
    L{FakeReactor}, logging to C{self.events}.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.logger = recordingLogger(self.events)

    def runApp(
        self,
        app: Callable[..., Any],
        head: RequestHead | None = None,
        body: Sequence[bytes] = (),
        requestId: bytes = b"req-1",
    ) -> list[tuple[Any, ...]]:
        """
        Run C{app} on one request to the end.

        @return: the sink calls.
        """
        reactor = runningReactor()
        sink = RecordingSink()
        runner = WSGIRunner(reactor, SynchronousThreadPool(), app, self.logger)
        runner.run(requestId, head or requestHead(), list(body), sink)
        reactor.flush()
        return sink.calls

    def startRun(
        self,
        app: Callable[..., Any],
        *,
        head: RequestHead | None = None,
        body: Sequence[bytes] = (),
        reactor: Any = None,
        newCondition: Callable[[], Any] = threading.Condition,
    ) -> tuple[RunningRequest, SynchronousThreadPool, RecordingSink]:
        """
        Start C{app} on a request, without running it yet: its thread's
        work waits in the pool until flushed, and its sink calls run at
        once unless a C{reactor} is given.
        """
        pool = SynchronousThreadPool(immediate=False)
        sink = RecordingSink()
        runner = WSGIRunner(
            reactor or runningReactor(immediate=True), pool, app, self.logger, newCondition
        )
        running = runner.run(b"req-1", head or requestHead(), list(body), sink)
        return running, pool, sink

    def environFor(
        self, head: RequestHead, requestId: bytes = b"req-1"
    ) -> dict[str, Any]:
        """
        The environ an application gets for C{head}.
        """
        environs = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            environs.append(environ)
            startResponse("204 No Content", [])
            return []

        self.runApp(app, head, requestId=requestId)
        return environs[0]

    def failures(self) -> list[dict[str, Any]]:
        """
        The failures logged.
        """
        return [event for event in self.events if "log_failure" in event]


class EnvironTests(RunnerMixin, SynchronousTestCase):
    """
    The environ given to the application.
    """

    def test_headerKeysCached(self) -> None:
        """
        The environ key of a header name is worked out once, not for every
        request that has the header.
        """
        head = requestHead(headers=[("X-Cached-Name", "1")])
        self.environFor(head)
        before = _headerKey.cache_info().hits
        environ = self.environFor(head)
        self.assertEqual(_headerKey.cache_info().hits, before + 1)
        self.assertEqual(environ["HTTP_X_CACHED_NAME"], "1")

    def test_cgiKeys(self) -> None:
        """
        The CGI keys have native string values taken from the request head;
        C{SCRIPT_NAME} is empty; ports are strings; C{SERVER_SOFTWARE}
        names txmp and its version, as the front's C{Server} header does
        (RFC 3875 requires it; gunicorn, waitress and wsgiref set it).
        """
        environ = self.environFor(requestHead("/a/b?x=1", method="PUT"))
        expected = {
            "REQUEST_METHOD": "PUT",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/a/b",
            "QUERY_STRING": "x=1",
            "REQUEST_URI": "/a/b?x=1",
            "SERVER_NAME": "example.com",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "txmp/" + __version__,
            "REMOTE_ADDR": "192.0.2.7",
            "REMOTE_PORT": "51234",
        }
        self.assertEqual({key: environ[key] for key in expected}, expected)
        for key, value in environ.items():
            if "." not in key:
                self.assertIs(type(value), str, key)

    def test_ipv6ServerName(self) -> None:
        """
        An IPv6 address as C{SERVER_NAME} (from C{Host: [::1]:8080}, or
        the server's address when the request has no C{Host}) is in
        brackets, as RFC 3875 section 4.1.14 writes it and C{Host} does:
        PEP 3333's URL reconstruction (C{SERVER_NAME}, C{:}, C{SERVER_PORT}
        when there is no C{HTTP_HOST}) then gives a URL, and Django's
        C{get_host} a host it can check; a name or IPv4 address is as
        given.
        """
        for name, expected in [
            ("::1", "[::1]"),
            ("2001:db8::7", "[2001:db8::7]"),
            ("192.0.2.1", "192.0.2.1"),
            ("example.com", "example.com"),
        ]:
            environ = self.environFor(replace(requestHead(), serverName=name))
            self.assertEqual(environ["SERVER_NAME"], expected)
            self.assertEqual(
                request_uri(environ, include_query=False), f"http://{expected}:8080/"
            )

    def test_wsgiKeys(self) -> None:
        """
        The C{wsgi.*} keys have the values PEP 3333 asks for; the environ
        says the application may run in several threads and processes.
        """
        environ = self.environFor(requestHead(scheme="https"))
        self.assertEqual(environ["wsgi.version"], (1, 0))
        self.assertIs(type(environ["wsgi.version"]), tuple)
        self.assertEqual(environ["wsgi.url_scheme"], "https")
        self.assertIsInstance(environ["wsgi.input"], InputStream)
        self.assertIsInstance(environ["wsgi.errors"], ErrorStream)
        self.assertIs(environ["wsgi.multithread"], True)
        self.assertIs(environ["wsgi.multiprocess"], True)
        self.assertIs(environ["wsgi.run_once"], False)
        self.assertIs(environ["wsgi.file_wrapper"], FileWrapper)
        self.assertIs(environ["wsgi.input_terminated"], True)

    def test_singleThread(self) -> None:
        """
        A runner told its application runs in one thread says
        C{wsgi.multithread} false (PEP 3333: true only if the application
        may be invoked by another thread of the process at the same time).
        """
        environs: list[dict[str, Any]] = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            environs.append(environ)
            startResponse("204 No Content", [])
            return []

        runner = WSGIRunner(
            runningReactor(), SynchronousThreadPool(), app, self.logger, multithread=False
        )
        runner.run(b"req-1", requestHead(), [], RecordingSink())
        self.assertIs(environs[0]["wsgi.multithread"], False)
        self.assertIs(environs[0]["wsgi.multiprocess"], True)

    def test_requestId(self) -> None:
        """
        C{txmp.request_id} is the request id as a native string.
        """
        environ = self.environFor(requestHead(), requestId=b"abc-123")
        self.assertEqual(environ["txmp.request_id"], "abc-123")

    def test_binaryRequestId(self) -> None:
        """
        A request id with bytes other than letters, digits and C{._:/+=-}
        is given as C{0x} and its hexadecimal, as log lines write it
        (L{txmp._peerlog.idText}).
        """
        environ = self.environFor(requestHead(), requestId=b"\x00\xff\n")
        self.assertEqual(environ["txmp.request_id"], "0x00ff0a")
        environ = self.environFor(requestHead(), requestId=b"r 1")
        self.assertEqual(environ["txmp.request_id"], "0x722031")

    def test_pathInfoPercentDecoded(self) -> None:
        """
        C{PATH_INFO} is the path percent-decoded to bytes, including
        C{%2F}, and given as an ISO-8859-1 string; C{REQUEST_URI} keeps the
        raw target.
        """
        environ = self.environFor(requestHead("/a%20b/c%2Fd/caf%C3%A9"))
        self.assertEqual(environ["PATH_INFO"], "/a b/c/d/caf\xc3\xa9")
        self.assertEqual(environ["REQUEST_URI"], "/a%20b/c%2Fd/caf%C3%A9")

    def test_targetsAsGunicorn(self) -> None:
        """
        C{PATH_INFO} and C{QUERY_STRING} are those gunicorn's gthread worker
        (27.0.1) gives for the same request line, checked live: C{%2F},
        C{%25}, C{;} parameters, C{//} and C{..} left in the path, C{+} and
        C{%} escapes left in the query, a fragment dropped, a malformed
        escape kept as it came.  (An absolute-form target without a path is
        C{/} here, as RFC 9110 section 4.2.3 has it, where gunicorn gives
        C{""}.)
        """
        for target, pathInfo, query in [
            ("/a%2Fb/%25/c%20d;p=1//x/../y?q=a+b%20c&&z",
             "/a/b/%/c d;p=1//x/../y", "q=a+b%20c&&z"),
            ("/a#frag?x", "/a", ""),
            ("/a?x#frag", "/a", "x"),
            ("/?", "/", ""),
            ("/a??b", "/a", "?b"),
            ("/a%zz", "/a%zz", ""),
            ("/a%", "/a%", ""),
            ("/a%2", "/a%2", ""),
            ("/a%3Fb?c", "/a?b", "c"),
            ("/%E2%82%AC", "/\xe2\x82\xac", ""),
            ("/caf%C3%A9;v=1", "/caf\xc3\xa9;v=1", ""),
            ("HTTP://Abs.Example/x?q", "/x", "q"),
            ("http://abs.example:80/x", "/x", ""),
            ("http://abs.example?x=1", "/", "x=1"),
        ]:
            environ = self.environFor(requestHead(target))
            self.assertEqual(
                (environ["PATH_INFO"], environ["QUERY_STRING"], environ["REQUEST_URI"]),
                (pathInfo, query, target),
                target,
            )

    def test_pathInfoRawLatin1(self) -> None:
        """
        Octets that were not percent-encoded stay as they were.
        """
        environ = self.environFor(requestHead("/caf\xe9/%41"))
        self.assertEqual(environ["PATH_INFO"], "/caf\xe9/A")

    def test_queryStringRaw(self) -> None:
        """
        C{QUERY_STRING} is not decoded, and may itself contain C{?}.
        """
        environ = self.environFor(requestHead("/p%20q?a=%20b&c=d+e?f"))
        self.assertEqual(environ["PATH_INFO"], "/p q")
        self.assertEqual(environ["QUERY_STRING"], "a=%20b&c=d+e?f")

    def test_noQueryString(self) -> None:
        """
        C{QUERY_STRING} is empty without a query, or with an empty one.
        """
        self.assertEqual(self.environFor(requestHead("/p"))["QUERY_STRING"], "")
        self.assertEqual(self.environFor(requestHead("/p?"))["QUERY_STRING"], "")

    def test_absoluteForm(self) -> None:
        """
        For an absolute-form target, C{PATH_INFO} and C{QUERY_STRING} come
        from the path and query of the URI.
        """
        environ = self.environFor(requestHead("http://example.com:8080/p%41th/?q=1"))
        self.assertEqual(environ["PATH_INFO"], "/pAth/")
        self.assertEqual(environ["QUERY_STRING"], "q=1")

    def test_absoluteFormEmptyPath(self) -> None:
        """
        An absolute-form target with an empty path has C{PATH_INFO} C{"/"}.
        """
        environ = self.environFor(requestHead("https://example.com?q"))
        self.assertEqual(environ["PATH_INFO"], "/")
        self.assertEqual(environ["QUERY_STRING"], "q")

    def test_asteriskForm(self) -> None:
        """
        C{OPTIONS *} has C{PATH_INFO} C{"*"}, as under gunicorn and
        waitress.
        """
        environ = self.environFor(requestHead("*", method="OPTIONS"))
        self.assertEqual(environ["PATH_INFO"], "*")
        self.assertEqual(environ["QUERY_STRING"], "")

    def test_fragmentDropped(self) -> None:
        """
        A fragment in the target is not part of the path or query.
        """
        environ = self.environFor(requestHead("/p?q=1#frag"))
        self.assertEqual(environ["PATH_INFO"], "/p")
        self.assertEqual(environ["QUERY_STRING"], "q=1")

    def test_contentTypeAndLength(self) -> None:
        """
        C{Content-Type} and C{Content-Length}, whatever their case, become
        C{CONTENT_TYPE} and C{CONTENT_LENGTH} and nothing else.
        """
        environ = self.environFor(
            requestHead(
                method="POST",
                headers=[("content-TYPE", "text/plain"), ("Content-Length", "3")],
            )
        )
        self.assertEqual(environ["CONTENT_TYPE"], "text/plain")
        self.assertEqual(environ["CONTENT_LENGTH"], "3")
        self.assertNotIn("HTTP_CONTENT_TYPE", environ)
        self.assertNotIn("HTTP_CONTENT_LENGTH", environ)

    def test_noContentTypeOrLength(self) -> None:
        """
        Without those headers, there is no C{CONTENT_TYPE} or
        C{CONTENT_LENGTH}.
        """
        environ = self.environFor(requestHead())
        self.assertNotIn("CONTENT_TYPE", environ)
        self.assertNotIn("CONTENT_LENGTH", environ)

    def environWithBody(self, head: RequestHead, body: Sequence[bytes]) -> dict[str, Any]:
        """
        The environ an application gets for C{head} with the body frames
        C{body} in the C{REQ}, and the body it reads.
        """
        environs = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            environs.append(environ)
            if not head.more:
                environ["read"] = environ["wsgi.input"].read()
            startResponse("204 No Content", [])
            return []

        self.runApp(app, head, body)
        return environs[0]

    def test_wholeChunkedBodyLength(self) -> None:
        """
        A chunked body that came whole with the request (the front reads
        one of up to 64 KiB before sending it) has its length as
        C{CONTENT_LENGTH}, and no C{HTTP_TRANSFER_ENCODING}: Django reads
        C{CONTENT_LENGTH} bytes of C{wsgi.input}, none without it.
        """
        environ = self.environWithBody(
            requestHead(method="POST", headers=[("Transfer-Encoding", "chunked")]),
            [b"abc", b"de"],
        )
        self.assertEqual(environ["CONTENT_LENGTH"], "5")
        self.assertNotIn("HTTP_TRANSFER_ENCODING", environ)
        self.assertEqual(environ["read"], b"abcde")

    def test_emptyChunkedBodyLength(self) -> None:
        """
        An empty chunked body that came with the request has a
        C{CONTENT_LENGTH} of C{0}.
        """
        environ = self.environWithBody(
            requestHead(method="POST", headers=[("Transfer-Encoding", "chunked")]), []
        )
        self.assertEqual(environ["CONTENT_LENGTH"], "0")

    def test_streamedChunkedBodyNoLength(self) -> None:
        """
        A chunked body still coming (C{more}) has no C{CONTENT_LENGTH}, and
        its C{HTTP_TRANSFER_ENCODING} is kept: its length is not known.
        """
        environ = self.environWithBody(
            requestHead(
                method="POST", headers=[("Transfer-Encoding", "chunked")], more=True
            ),
            [b"abc"],
        )
        self.assertNotIn("CONTENT_LENGTH", environ)
        self.assertEqual(environ["HTTP_TRANSFER_ENCODING"], "chunked")

    def test_httpHeaders(self) -> None:
        """
        Other headers become C{HTTP_} keys: the name upper-cased, C{-}
        replaced by C{_}.
        """
        environ = self.environFor(
            requestHead(headers=[("host", "example.com"), ("X-Forwarded-For", "a")])
        )
        self.assertEqual(environ["HTTP_HOST"], "example.com")
        self.assertEqual(environ["HTTP_X_FORWARDED_FOR"], "a")

    def test_latin1Headers(self) -> None:
        """
        Header values are ISO-8859-1 native strings, as received; a
        non-ASCII name is upper-cased in ASCII only, so its key stays
        ISO-8859-1.
        """
        environ = self.environFor(requestHead(headers=[("X-\xff\xe9", "caf\xe9 \xff")]))
        self.assertEqual(environ["HTTP_X_\xff\xe9"], "caf\xe9 \xff")

    def test_duplicateHeaders(self) -> None:
        """
        Repeated headers are joined with C{", "}, in order, whatever the
        case of their names.
        """
        environ = self.environFor(
            requestHead(headers=[("Accept", "a"), ("X-Other", "o"), ("accept", "b")])
        )
        self.assertEqual(environ["HTTP_ACCEPT"], "a, b")

    def test_duplicateCookies(self) -> None:
        """
        Repeated C{Cookie} headers are joined with C{"; "}.
        """
        environ = self.environFor(
            requestHead(headers=[("Cookie", "a=1"), ("cookie", "b=2")])
        )
        self.assertEqual(environ["HTTP_COOKIE"], "a=1; b=2")

    def test_underscoreHeadersDropped(self) -> None:
        """
        A header whose name contains C{_} is dropped, so that it cannot pass
        for the C{-} header a proxy sets.
        """
        environ = self.environFor(
            requestHead(headers=[("X-Real-IP", "192.0.2.1"), ("X_Real_IP", "spoof")])
        )
        self.assertEqual(environ["HTTP_X_REAL_IP"], "192.0.2.1")


class MountedTests(RunnerMixin, SynchronousTestCase):
    """
    Tests for L{Mounted}, an application under C{--script-name}.
    """

    def mountedEnviron(self, target: str, prefix: str = "/app") -> dict[str, Any]:
        """
        The environ an application mounted under C{prefix} gets for a
        C{GET} of C{target}.
        """
        environs: list[dict[str, Any]] = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            environs.append(environ)
            startResponse("204 No Content", [])
            return []

        self.runApp(Mounted(app, prefix), requestHead(target))
        [environ] = environs
        return environ

    def test_prefixMoved(self) -> None:
        """
        The prefix moves from C{PATH_INFO} to C{SCRIPT_NAME}, as gunicorn
        moves its C{SCRIPT_NAME} variable's: what the application rebuilds
        (PEP 3333's URL reconstruction, Django's C{request.path}) is the
        path requested; C{REQUEST_URI} and C{QUERY_STRING} are unchanged.
        """
        environ = self.mountedEnviron("/app/users/7?tab=1")
        self.assertEqual(
            (environ["SCRIPT_NAME"], environ["PATH_INFO"], environ["QUERY_STRING"],
             environ["REQUEST_URI"]),
            ("/app", "/users/7", "tab=1", "/app/users/7?tab=1"),
        )
        self.assertEqual(request_uri(environ), "http://example.com:8080/app/users/7?tab=1")

    def test_prefixAlone(self) -> None:
        """
        The prefix alone, with or without its slash, is the application's
        root: C{PATH_INFO} C{""} or C{"/"} (PEP 3333, waitress).
        """
        self.assertEqual(self.mountedEnviron("/app")["PATH_INFO"], "")
        self.assertEqual(self.mountedEnviron("/app/")["PATH_INFO"], "/")

    def test_decodedPath(self) -> None:
        """
        The prefix is matched against the percent-decoded path, and a
        non-ASCII one is given, as C{PATH_INFO} is, as the ISO-8859-1
        string of its UTF-8 bytes.
        """
        prefix = "/caf\xc3\xa9"
        environ = self.mountedEnviron("/caf%C3%A9/x", prefix)
        self.assertEqual((environ["SCRIPT_NAME"], environ["PATH_INFO"]), (prefix, "/x"))

    def test_outsideNotFound(self) -> None:
        """
        A path outside the prefix (one that only starts with its letters,
        C{/application}, included) is answered 404 without calling the
        application, and logged: the application is not mounted there.
        """
        called: list[object] = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            called.append(environ)
            startResponse("200 OK", [])
            return [b"x"]

        with capturedLogs() as events:
            for target in ["/", "/other/x", "/application", "/ap"]:
                self.assertEqual(
                    self.runApp(Mounted(app, "/app"), requestHead(target)),
                    [("sendHead", 404, b"Not Found",
                      [(b"Content-Type", b"text/plain; charset=utf-8"),
                       (b"Content-Length", b"14")],
                      [b"404 Not Found\n"], False),
                     FINISHED],
                    target,
                )
        self.assertEqual(called, [])
        self.assertIn(
            "/application is not under --script-name /app: 404",
            [formatEvent(event) for event in events],
        )

    def test_outsideNotFoundLoggedReadably(self) -> None:
        """
        The log line of a path outside a non-ASCII prefix shows the path
        and the prefix as the operator and the client wrote them (their
        UTF-8 decoded), not as the ISO-8859-1 strings of their bytes that
        PEP 3333 makes them (C{/cafÃ©}).
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [])
            return [b"x"]

        with capturedLogs() as events:
            self.runApp(Mounted(app, "/caf\xc3\xa9"), requestHead("/th%C3%A9"))
        self.assertIn(
            "/th\xe9 is not under --script-name /caf\xe9: 404",
            [formatEvent(event) for event in events],
        )

    def test_outsideNotFoundLoggedPrintable(self) -> None:
        """
        The client's path in that log line has its control characters
        escaped, so that a C{%0A} in it cannot start a line of its own, and
        is cut short after L{LOG_MESSAGE_LENGTH} characters.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [])
            return [b"x"]

        mounted = Mounted(app, "/app")
        with capturedLogs() as events:
            self.runApp(mounted, requestHead("/x%0A2026-01-01 forged"))
            self.runApp(mounted, requestHead("/" + "y" * (2 * LOG_MESSAGE_LENGTH)))
        lines = [formatEvent(event) for event in events]
        self.assertIn("/x\\x0a2026-01-01 forged is not under --script-name /app: 404", lines)
        self.assertIn(
            "/" + "y" * (LOG_MESSAGE_LENGTH - 1) + "... is not under --script-name /app: 404",
            lines,
        )


class InputStreamTestMixin:
    """
    Tests for a C{wsgi.input} stream, mirroring Twisted's
    C{InputStreamTestMixin}.  Subclasses say how to make a stream holding
    some bytes; running the suite against L{io.BytesIO} too keeps the
    expectations honest.
    """

    assertEqual: Callable[..., None]

    def makeStream(self, content: bytes) -> Any:
        raise NotImplementedError()

    def test_readAll(self) -> None:
        """
        C{read()} returns the whole stream.
        """
        self.assertEqual(
            self.makeStream(b"some bytes are here").read(), b"some bytes are here"
        )

    def test_readSome(self) -> None:
        """
        C{read(n)} returns the first C{n} bytes.
        """
        self.assertEqual(self.makeStream(b"hello, world.").read(3), b"hel")

    def test_readMoreThan(self) -> None:
        """
        C{read(n)} with C{n} larger than the stream returns the whole stream.
        """
        data = b"some bytes are here"
        self.assertEqual(self.makeStream(data).read(len(data) + 3), data)

    def test_readTwice(self) -> None:
        """
        A second C{read} goes on where the first stopped.
        """
        stream = self.makeStream(b"some bytes, hello")
        stream.read(3)
        self.assertEqual(stream.read(), b"e bytes, hello")

    def test_readNone(self) -> None:
        """
        C{read(None)} returns the whole stream.
        """
        self.assertEqual(
            self.makeStream(b"the entire stream").read(None), b"the entire stream"
        )

    def test_readNegative(self) -> None:
        """
        C{read(-1)} returns the whole stream.
        """
        self.assertEqual(
            self.makeStream(b"all of the input").read(-1), b"all of the input"
        )

    def test_readZero(self) -> None:
        """
        C{read(0)} returns C{b""} and consumes nothing.
        """
        stream = self.makeStream(b"abc")
        self.assertEqual(stream.read(0), b"")
        self.assertEqual(stream.read(), b"abc")

    def test_readAtEnd(self) -> None:
        """
        Reads at the end of the stream return C{b""}.
        """
        stream = self.makeStream(b"abc")
        stream.read()
        self.assertEqual(stream.read(), b"")
        self.assertEqual(stream.read(5), b"")
        self.assertEqual(stream.readline(), b"")

    def test_readline(self) -> None:
        """
        C{readline()} returns one line, newline included.
        """
        self.assertEqual(self.makeStream(b"hello\nworld").readline(), b"hello\n")

    def test_readlineSome(self) -> None:
        """
        C{readline(n)} returns at most C{n} bytes of the line.
        """
        self.assertEqual(self.makeStream(b"goodbye\nworld").readline(3), b"goo")

    def test_readlineMoreThan(self) -> None:
        """
        C{readline(n)} with C{n} larger than the line returns the line.
        """
        self.assertEqual(
            self.makeStream(b"some lines\nof text").readline(20), b"some lines\n"
        )

    def test_readlineExact(self) -> None:
        """
        C{readline(n)} with C{n} the length of the line, newline included,
        returns the line.
        """
        self.assertEqual(self.makeStream(b"ab\ncd").readline(3), b"ab\n")

    def test_readlineZero(self) -> None:
        """
        C{readline(0)} returns C{b""}.
        """
        self.assertEqual(self.makeStream(b"ab\ncd").readline(0), b"")

    def test_readlineTwice(self) -> None:
        """
        A second C{readline} returns the next line.
        """
        stream = self.makeStream(b"first line\nsecond line\nlast line")
        stream.readline()
        self.assertEqual(stream.readline(), b"second line\n")

    def test_readlineNone(self) -> None:
        """
        C{readline(None)} returns one line.
        """
        self.assertEqual(
            self.makeStream(b"this is one line\nthis is another line").readline(None),
            b"this is one line\n",
        )

    def test_readlineNegative(self) -> None:
        """
        C{readline(-1)} returns one line.
        """
        self.assertEqual(
            self.makeStream(b"input stream line one\nline two").readline(-1),
            b"input stream line one\n",
        )

    def test_readlineLast(self) -> None:
        """
        The last line may lack a newline.
        """
        stream = self.makeStream(b"one\ntwo")
        stream.readline()
        self.assertEqual(stream.readline(), b"two")

    def test_readlineSomeThenRest(self) -> None:
        """
        After C{readline(n)} stopped within a line, C{readline()} returns
        the rest of it.
        """
        stream = self.makeStream(b"abcdef\ngh")
        self.assertEqual(stream.readline(2), b"ab")
        self.assertEqual(stream.readline(), b"cdef\n")
        self.assertEqual(stream.readline(), b"gh")

    def test_readlines(self) -> None:
        """
        C{readlines()} returns all the lines.
        """
        self.assertEqual(
            self.makeStream(b"alice\nbob\ncarol").readlines(),
            [b"alice\n", b"bob\n", b"carol"],
        )

    def test_readlinesSome(self) -> None:
        """
        C{readlines(hint)} returns lines holding at least C{hint} bytes.
        """
        lines = self.makeStream(b"123\n456\n789\n0").readlines(5)
        self.assertEqual(lines[:2], [b"123\n", b"456\n"])

    def test_readlinesMoreThan(self) -> None:
        """
        C{readlines(hint)} with C{hint} larger than the stream returns all
        the lines.
        """
        self.assertEqual(
            self.makeStream(b"one potato\ntwo potato\nthree potato").readlines(100),
            [b"one potato\n", b"two potato\n", b"three potato"],
        )

    def test_readlinesAfterRead(self) -> None:
        """
        C{readlines} after C{read} starts where C{read} stopped.
        """
        stream = self.makeStream(b"hello\nworld\nfoo")
        stream.read(7)
        self.assertEqual(stream.readlines(), [b"orld\n", b"foo"])

    def test_readlinesNone(self) -> None:
        """
        C{readlines(None)} returns all the lines.
        """
        self.assertEqual(
            self.makeStream(b"one fish\ntwo fish\n").readlines(None),
            [b"one fish\n", b"two fish\n"],
        )

    def test_readlinesNegative(self) -> None:
        """
        C{readlines(-1)} returns all the lines.
        """
        self.assertEqual(
            self.makeStream(b"red fish\nblue fish\n").readlines(-1),
            [b"red fish\n", b"blue fish\n"],
        )

    def test_iterable(self) -> None:
        """
        Iterating over the stream gives its lines.
        """
        self.assertEqual(
            list(self.makeStream(b"green eggs\nand ham\n")),
            [b"green eggs\n", b"and ham\n"],
        )

    def test_iterableAfterRead(self) -> None:
        """
        Iterating after C{read} starts where C{read} stopped.
        """
        stream = self.makeStream(b"green eggs\nand ham\n")
        stream.read(3)
        self.assertEqual(list(stream), [b"en eggs\n", b"and ham\n"])

    def test_readAcrossLines(self) -> None:
        """
        C{read}, C{readline} and C{readlines} mix.
        """
        stream = self.makeStream(b"ab\ncd\nef\ngh")
        self.assertEqual(stream.read(4), b"ab\nc")
        self.assertEqual(stream.readline(), b"d\n")
        self.assertEqual(stream.read(1), b"e")
        self.assertEqual(stream.readlines(), [b"f\n", b"gh"])


class BytesIOInputStreamTests(InputStreamTestMixin, SynchronousTestCase):
    """
    The mixin's expectations hold for L{io.BytesIO}.
    """

    def makeStream(self, content: bytes) -> Any:
        return io.BytesIO(content)


class WholeInputStreamTests(InputStreamTestMixin, SynchronousTestCase):
    """
    L{InputStream} fed the whole body in one chunk.
    """

    def makeStream(self, content: bytes) -> Any:
        stream = InputStream()
        stream.feed(content)
        stream.finish()
        return stream


class BytewiseInputStreamTests(InputStreamTestMixin, SynchronousTestCase):
    """
    L{InputStream} fed the body one byte per chunk.
    """

    def makeStream(self, content: bytes) -> Any:
        stream = InputStream()
        for i in range(len(content)):
            stream.feed(content[i : i + 1])
        stream.finish()
        return stream


class InputStreamTests(SynchronousTestCase):
    """
    L{InputStream} fed while the application reads.
    """

    def streamWith(
        self, *steps: Callable[[InputStream], object]
    ) -> tuple[InputStream, ScriptedCondition]:
        """
        A stream whose waits run C{steps} on it in turn.
        """
        condition = ScriptedCondition()
        stream = InputStream(condition)  # type: ignore[arg-type]
        condition.steps = [partial(step, stream) for step in steps]
        return stream, condition

    def test_readWaitsForEnough(self) -> None:
        """
        C{read(n)} waits until C{n} bytes are there.
        """
        stream, condition = self.streamWith(
            lambda s: s.feed(b"cd"), lambda s: s.feed(b"efg")
        )
        stream.feed(b"ab")
        self.assertEqual(stream.read(5), b"abcde")
        self.assertEqual(condition.waits, 2)
        self.assertEqual(stream.read(2), b"fg")

    def test_waiting(self) -> None:
        """
        L{InputStream.waiting} is true while the application thread waits
        for more of the body, and only then.
        """
        seen: list[bool] = []

        def feed(stream: InputStream) -> None:
            seen.append(stream.waiting)
            stream.feed(b"b")

        stream, _condition = self.streamWith(feed)
        self.assertFalse(stream.waiting)
        stream.feed(b"a")
        self.assertEqual(stream.read(2), b"ab")
        self.assertEqual((seen, stream.waiting), ([True], False))

    def test_readAllWaitsForFinish(self) -> None:
        """
        C{read()} waits for the end of the body.
        """
        stream, condition = self.streamWith(
            lambda s: s.feed(b"b"), lambda s: s.finish()
        )
        stream.feed(b"a")
        self.assertEqual(stream.read(), b"ab")
        self.assertEqual(condition.waits, 2)

    def test_readReturnsShortAtEnd(self) -> None:
        """
        C{read(n)} returns fewer bytes if the body ends first.
        """
        stream, _condition = self.streamWith(lambda s: s.finish())
        stream.feed(b"ab")
        self.assertEqual(stream.read(5), b"ab")

    def test_readlineWaitsForNewline(self) -> None:
        """
        C{readline()} waits until the line is complete, and leaves the rest.
        """
        stream, condition = self.streamWith(
            lambda s: s.feed(b"cd"), lambda s: s.feed(b"e\nf")
        )
        stream.feed(b"ab")
        self.assertEqual(stream.readline(), b"abcde\n")
        self.assertEqual(condition.waits, 2)
        stream.finish()
        self.assertEqual(stream.readline(), b"f")

    def test_readlineLimitDoesNotWait(self) -> None:
        """
        C{readline(n)} returns once C{n} bytes are there, newline or not.
        """
        stream, condition = self.streamWith()
        stream.feed(b"abcdef")
        self.assertEqual(stream.readline(4), b"abcd")
        self.assertEqual(condition.waits, 0)

    def test_zeroDoesNotWait(self) -> None:
        """
        C{read(0)} and C{readline(0)} return C{b""} at once while the body
        is still coming, with data there or not.
        """
        stream, condition = self.streamWith()
        self.assertEqual((stream.read(0), stream.readline(0)), (b"", b""))
        stream.feed(b"ab")
        self.assertEqual((stream.read(0), stream.readline(0)), (b"", b""))
        self.assertEqual(condition.waits, 0)

    def test_abortWakesReader(self) -> None:
        """
        A read blocked when the request is cancelled raises
        L{RequestCancelled}, and so do later reads.
        """
        stream, _condition = self.streamWith(lambda s: s.abort())
        stream.feed(b"ab")
        self.assertRaises(RequestCancelled, stream.read, 3)
        self.assertRaises(RequestCancelled, stream.readline)

    def test_abortIsConnectionAborted(self) -> None:
        """
        L{RequestCancelled} is a L{ConnectionAbortedError}.
        """
        stream = InputStream()
        stream.feed(b"ab")
        stream.abort()
        self.assertRaises(ConnectionAbortedError, stream.read)

    def test_feedAfterFinish(self) -> None:
        """
        Feeding data after the end of the body is an error.
        """
        stream = InputStream()
        stream.finish()
        self.assertRaises(ValueError, stream.feed, b"x")

    def test_wholeChunksNotCopied(self) -> None:
        """
        A read that returns exactly a chunk that was fed returns it as is.
        """
        first = b"x" * 1000
        second = b"y" * 1000
        stream = InputStream()
        stream.feed(first)
        stream.feed(second)
        stream.finish()
        self.assertIs(stream.read(1000), first)
        self.assertIs(stream.read(), second)


class InputConsumedTests(SynchronousTestCase):
    """
    L{InputStream} reporting what was read, for request body flow control.
    """

    def setUp(self) -> None:
        self.reported: list[int] = []

    def test_batched(self) -> None:
        """
        Reads are reported once they add up to C{batch} bytes, all at
        once.
        """
        stream = InputStream(consumed=self.reported.append, batch=10)
        stream.feed(b"x" * 30)
        for _ in range(3):
            stream.read(4)
        self.assertEqual(self.reported, [12])
        stream.read(9)
        self.assertEqual(self.reported, [12])
        stream.read(1)
        self.assertEqual(self.reported, [12, 10])

    def test_wholeBodyHeldOnce(self) -> None:
        """
        A C{read()} of a whole body that comes as it is read, a chunk at a
        time (a large upload, which the front sends within the window the
        reads grant), holds about the body once at its peak, not the
        chunks it took and their join besides; and returns the body.
        """
        if sys.implementation.name != "cpython":
            raise SkipTest("tracemalloc is CPython's")
        chunk, count = 256 * 1024, 32
        fed: list[None] = []

        def consumed(size: int) -> None:
            # The next chunk comes once the last was granted, as the front
            # sends it.
            if len(fed) < count:
                fed.append(None)
                stream.feed(bytes([len(fed)]) * chunk)
            else:
                stream.finish()

        stream = InputStream(consumed=consumed, batch=1)
        fed.append(None)
        stream.feed(bytes([1]) * chunk)
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        before = tracemalloc.get_traced_memory()[0]
        body = stream.read()
        peak = tracemalloc.get_traced_memory()[1] - before
        self.assertEqual(body, b"".join(bytes([n]) * chunk for n in range(1, count + 1)))
        self.assertLess(peak, 1.5 * chunk * count)

    def test_atEnd(self) -> None:
        """
        Once the body is read to its end, what was not reported yet is.
        """
        stream = InputStream(consumed=self.reported.append, batch=100)
        stream.feed(b"ab\ncd")
        self.assertEqual(stream.readline(), b"ab\n")
        self.assertEqual(self.reported, [])
        stream.finish()
        self.assertEqual(stream.readline(), b"cd")
        self.assertEqual(self.reported, [5])
        self.assertEqual(stream.read(), b"")
        self.assertEqual(self.reported, [5])

    def test_everyRead(self) -> None:
        """
        C{read}, C{readline}, C{readlines} and iteration all count.
        """
        stream = InputStream(consumed=self.reported.append, batch=1)
        stream.feed(b"a\nbb\nccc\ndddd\neeeee")
        stream.finish()
        stream.read(2)
        stream.readline()
        stream.readlines(1)
        self.assertEqual(next(iter(stream)), b"dddd\n")
        stream.read()
        self.assertEqual(self.reported, [2, 3, 4, 5, 5])

    def test_notAfterAbort(self) -> None:
        """
        Nothing is reported once the stream was aborted.
        """
        stream = InputStream(consumed=self.reported.append, batch=10)
        stream.feed(b"x" * 30)
        stream.read(5)
        stream.abort()
        self.assertRaises(RequestCancelled, stream.read, 5)
        self.assertEqual(self.reported, [])

    def test_outsideLock(self) -> None:
        """
        The report is made without the stream's lock held, so that it may
        take its time (or feed the stream) without blocking the reactor
        thread.
        """
        condition = threading.Condition(threading.Lock())
        free: list[bool] = []

        def consumed(size: int) -> None:
            free.append(condition.acquire(blocking=False))
            condition.release()

        stream = InputStream(condition, consumed, 1)
        stream.feed(b"ab\n")
        stream.read(1)
        stream.readline()
        self.assertEqual(free, [True, True])


class ResponseStreamTests(SynchronousTestCase):
    """
    L{ResponseStream}: the application thread waits for the front's window
    and queues chunks; the reactor thread grants window and sends.  Each
    C{wait()} of a L{ScriptedCondition} runs what the reactor thread would
    do meanwhile; a L{FakeReactor} holds the flushes until the
    test runs them.
    """

    def setUp(self) -> None:
        self.sent: list[tuple[list[bytes], bool]] = []
        self.reactor = runningReactor()

    def streamWith(
        self, window: int | None, *steps: Callable[[ResponseStream], object]
    ) -> tuple[ResponseStream, ScriptedCondition]:
        """
        A stream granted C{window} with the request, whose waits run
        C{steps} on it in turn, sending to C{self.sent} through
        C{self.reactor}.
        """
        condition = ScriptedCondition()
        stream = ResponseStream(
            self.reactor,
            lambda chunks, end: self.sent.append((chunks, end)),
            window,
            condition,  # type: ignore[arg-type]
        )
        condition.steps = [partial(step, stream) for step in steps]
        return stream, condition

    def test_awaitWindowCounts(self) -> None:
        """
        L{ResponseStream.awaitWindow} returns at once while the window is
        positive, counting the chunk against it, even past zero (a chunk
        is never split); once it is not positive, it waits until
        L{ResponseStream.windowReceived} makes it positive again.
        """
        stream, condition = self.streamWith(
            5,
            lambda s: s.windowReceived(1),
            lambda s: s.windowReceived(2),
        )
        stream.awaitWindow(3)
        stream.awaitWindow(3)
        self.assertEqual(condition.waits, 0)
        # 5 - 3 - 3 = -1; +1 = 0: waits again; +2: goes on.
        stream.awaitWindow(1)
        self.assertEqual(condition.waits, 2)
        self.assertEqual(stream._window, 1)

    def test_waiting(self) -> None:
        """
        L{ResponseStream.waiting} is true while the application thread waits
        for window, and only then.
        """
        seen: list[bool] = []

        def grant(stream: ResponseStream) -> None:
            seen.append(stream.waiting)
            stream.windowReceived(10)

        stream, _condition = self.streamWith(0, grant)
        self.assertFalse(stream.waiting)
        stream.awaitWindow(4)
        self.assertEqual((seen, stream.waiting), ([True], False))

    def test_zeroWindowWaits(self) -> None:
        """
        With a window of zero, even the first chunk waits.
        """
        stream, condition = self.streamWith(0, lambda s: s.windowReceived(10))
        stream.awaitWindow(4)
        self.assertEqual(condition.waits, 1)

    def test_unpaced(self) -> None:
        """
        Without a window (a front that paces nothing), nothing waits, and
        windows granted are ignored: nobody is woken.
        """
        stream, condition = self.streamWith(None)
        for _ in range(3):
            stream.awaitWindow(1 << 30)
        stream.windowReceived(5)
        self.assertEqual((condition.waits, condition.notifies), (0, 0))

    def test_windowReceivedWakes(self) -> None:
        """
        A window granted wakes the application thread.
        """
        stream, condition = self.streamWith(0)
        stream.windowReceived(1)
        self.assertEqual(condition.notifies, 1)

    def test_abortWakesWaiter(self) -> None:
        """
        Aborted while the application thread waits for window,
        L{ResponseStream.awaitWindow} raises L{RequestCancelled}, and so do
        later calls, window or not.
        """
        stream, condition = self.streamWith(0, lambda s: s.abort())
        self.assertRaises(RequestCancelled, stream.awaitWindow, 1)
        self.assertEqual(condition.waits, 1)
        stream, condition = self.streamWith(None)
        stream.abort()
        self.assertRaises(RequestCancelled, stream.awaitWindow, 1)

    def test_windowAfterAbort(self) -> None:
        """
        A window granted after the abort is ignored: nobody is woken.
        """
        stream, condition = self.streamWith(0)
        stream.abort()
        notified = condition.notifies
        stream.windowReceived(1)
        self.assertEqual(condition.notifies, notified)

    def test_queueSendsInReactorThread(self) -> None:
        """
        Chunks queued are sent only in the reactor thread, in order; those
        queued before it runs go out together, in one call to C{send}
        scheduled by the first of them.
        """
        stream, _condition = self.streamWith(None)
        stream.queue(b"a")
        stream.queue(b"b")
        self.assertEqual((self.sent, len(self.reactor.pending)), ([], 1))
        self.reactor.flush()
        self.assertEqual(self.sent, [([b"a", b"b"], False)])
        stream.queue(b"c")
        self.assertEqual(len(self.reactor.pending), 1)
        self.reactor.flush()
        self.assertEqual(self.sent[1:], [([b"c"], False)])

    def test_batchesBounded(self) -> None:
        """
        Chunks flushed together are split into calls to C{send} of at most
        L{BODY_BATCH} bytes each, in order; a chunk is never split, so a
        larger one goes alone.
        """
        quarter = BODY_BATCH // 4
        chunks = [b"a" * quarter] * 5 + [b"b" * (BODY_BATCH + 1), b"c"]
        stream, _condition = self.streamWith(None)
        for chunk in chunks:
            stream.queue(chunk)
        self.reactor.flush()
        self.assertEqual(
            self.sent,
            [
                (chunks[:4], False),
                (chunks[4:5], False),
                (chunks[5:6], False),
                (chunks[6:], False),
            ],
        )

    def test_batchReadPerRequest(self) -> None:
        """
        A request's stream takes L{txmp._wsgi.BODY_BATCH} as it is when the
        request starts, so that setting the module's constant
        (C{benchmarks/bigbody.py --variant LABEL:txmp._wsgi.BODY_BATCH=1})
        changes the batches.
        """
        self.patch(_wsgi, "BODY_BATCH", 1)
        running = RunningRequest(
            self.reactor, lambda e, s: [], Logger(), b"r", requestHead(),
            RecordingSink(),
        )
        running.output.queue(b"a")
        running.output.queue(b"b")
        self.reactor.flush()
        self.assertEqual(
            running._sink.calls,  # type: ignore[attr-defined]
            [("sendBody", [b"a"], False), ("sendBody", [b"b"], False)],
        )

    def test_abortDropsQueued(self) -> None:
        """
        Chunks queued but not sent when the stream is aborted are dropped.
        """
        stream, _condition = self.streamWith(None)
        stream.queue(b"a")
        stream.abort()
        self.reactor.flush()
        self.assertEqual(self.sent, [])

    def test_abortBetweenBatches(self) -> None:
        """
        Aborted while a flush sends several batches (by what C{send} does,
        say), the flush sends no more.
        """
        condition = ScriptedCondition()

        def send(chunks: list[bytes], end: bool) -> None:
            self.sent.append((chunks, end))
            stream.abort()

        stream = ResponseStream(self.reactor, send, None, condition)  # type: ignore[arg-type]
        big = b"x" * BODY_BATCH
        for chunk in [big, big, big]:
            stream.queue(chunk)
        self.reactor.flush()
        self.assertEqual(self.sent, [([big], False)])

    def test_outsideLock(self) -> None:
        """
        The flush is scheduled, and C{send} called, without the stream's
        lock held: neither may block the other thread.
        """
        lock = threading.Condition(threading.Lock())
        free: list[bool] = []

        def check(*args: object) -> None:
            free.append(lock.acquire(blocking=False))
            lock.release()

        class CheckingReactor(FakeReactor):
            def callFromThread(self, callable: Any, *args: Any, **kw: Any) -> None:
                check()
                super().callFromThread(callable, *args, **kw)

        reactor = CheckingReactor()
        reactor.run()
        stream = ResponseStream(reactor, check, 1, lock)
        stream.awaitWindow(1)
        stream.queue(b"a")
        reactor.flush()
        self.assertEqual(free, [True, True])


class ErrorStreamTests(SynchronousTestCase):
    """
    L{ErrorStream} logs lines with the request id.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.stream = ErrorStream(recordingLogger(self.events), "req-9")

    def lines(self) -> list[str]:
        for event in self.events:
            self.assertEqual(event["requestId"], "req-9")
        return [event["line"] for event in self.events]

    def test_lines(self) -> None:
        """
        Each complete line is logged once, without its newline; an
        incomplete line waits for its end.
        """
        self.assertEqual(self.stream.write("one\ntw"), 6)
        self.assertEqual(self.lines(), ["one"])
        self.stream.write("o\nthree\n")
        self.assertEqual(self.lines(), ["one", "two", "three"])

    def test_flush(self) -> None:
        """
        C{flush} logs an incomplete line.
        """
        self.stream.write("partial")
        self.stream.flush()
        self.stream.flush()
        self.assertEqual(self.lines(), ["partial"])

    def test_writelines(self) -> None:
        """
        C{writelines} writes each string.
        """
        self.stream.writelines(["a\n", "b", "c\n"])
        self.assertEqual(self.lines(), ["a", "bc"])

    def test_bytesRefused(self) -> None:
        """
        Writing bytes raises L{TypeError}.
        """
        self.assertRaises(TypeError, self.stream.write, b"x\n")

    def test_fromApplication(self) -> None:
        """
        What the application writes to C{wsgi.errors} is logged with its
        request id, an incomplete last line included.
        """
        events: list[dict[str, Any]] = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            print("oops", file=environ["wsgi.errors"])
            environ["wsgi.errors"].write("no newline")
            startResponse("200 OK", [])
            return []

        reactor = runningReactor()
        runner = WSGIRunner(
            reactor, SynchronousThreadPool(), app, recordingLogger(events)
        )
        runner.run(b"req-5", requestHead(), [], RecordingSink())
        self.assertEqual(
            [(e["requestId"], e["line"]) for e in events],
            [("req-5", "oops"), ("req-5", "no newline")],
        )

    def test_idEscaped(self) -> None:
        """
        A request id with control characters (a front's of its choosing:
        txmp's sends none) cannot start a line of its own: its X-Request-Id
        is logged escaped, and the id of the C{REQ} as C{0x} and its
        hexadecimal (L{txmp._peerlog.idText}), as the link's lines write it.
        """
        events: list[dict[str, Any]] = []

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            print("oops", file=environ["wsgi.errors"])
            startResponse("200 OK", [])
            return []

        reactor = runningReactor()
        runner = WSGIRunner(
            reactor, SynchronousThreadPool(), app, recordingLogger(events)
        )
        runner.run(b"r\n1", requestHead(headers=[("X-Request-Id", "\x1b[2Jid\nfake")]), [],
                   RecordingSink())
        runner.run(b"r\n2", requestHead(), [], RecordingSink())
        self.assertEqual(
            [e["requestId"] for e in events], ["\\x1b[2Jid\\x0afake", "0x720a32"]
        )

    def test_logId(self) -> None:
        """
        L{RunningRequest.logId}, by which the handler's link names the
        request in its lines (a C{CANCEL}'s), is the id its application's
        lines give it: its X-Request-Id (escaped), else the id of the
        C{REQ}; as L{txmp.testing.MemoryRun.logId} is.
        """
        reactor = runningReactor()
        runner = WSGIRunner(reactor, SynchronousThreadPool(immediate=False), lambda e, s: [])
        heads = [
            requestHead(headers=[("X-Request-Id", "proxy-id")]),
            requestHead(headers=[("X-Request-Id", "\x1b[2Jid\nfake")]),
            requestHead(),
        ]
        runs = [
            (runner.run(b"r\n%d" % (i,), head, [], RecordingSink()),
             MemoryRun(b"r\n%d" % (i,), head, [], RecordingSink()))
            for i, head in enumerate(heads)
        ]
        self.assertEqual(
            [(real.logId, fake.logId) for real, fake in runs],
            [("proxy-id",) * 2, ("\\x1b[2Jid\\x0afake",) * 2, ("0x720a32",) * 2],
        )


class ResponseTests(RunnerMixin, SynchronousTestCase):
    """
    How responses are sent to the sink.
    """

    def test_listBatched(self) -> None:
        """
        A list is sent as one C{sendHead} with all its non-empty chunks and
        C{more} false, and a C{Content-Length} if the application set none
        (not only for one chunk, as waitress: txmp sends the list whole).
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"a", b"", b"b"]

        self.assertEqual(
            self.runApp(app), whole([b"a", b"b"], headers=[*BTEXT, (b"Content-Length", b"2")])
        )

    def test_tupleBatched(self) -> None:
        """
        A tuple is sent like a list.
        """

        def app(environ: Any, startResponse: Any) -> tuple[bytes, ...]:
            startResponse("200 OK", TEXT)
            return (b"a", b"b")

        self.assertEqual(
            self.runApp(app), whole([b"a", b"b"], headers=[*BTEXT, (b"Content-Length", b"2")])
        )

    def test_singleChunkContentLength(self) -> None:
        """
        A one-item list gets a C{Content-Length} if the application set
        none.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"hello"]

        self.assertEqual(
            self.runApp(app),
            whole([b"hello"], headers=[*BTEXT, (b"Content-Length", b"5")]),
        )

    def test_singleEmptyChunkContentLength(self) -> None:
        """
        A list holding one empty chunk gets C{Content-Length: 0}.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b""]

        self.assertEqual(self.runApp(app), whole([], headers=[*BTEXT, (b"Content-Length", b"0")]))

    def test_lenOneIterable(self) -> None:
        """
        Any iterable whose C{len()} is 1 is collected and gets a
        C{Content-Length}.
        """

        class One:
            def __len__(self) -> int:
                return 1

            def __iter__(self) -> Iterator[bytes]:
                yield b"abc"

        def app(environ: Any, startResponse: Any) -> One:
            startResponse("200 OK", TEXT)
            return One()

        self.assertEqual(
            self.runApp(app),
            whole([b"abc"], headers=[*BTEXT, (b"Content-Length", b"3")]),
        )

    def test_contentLengthKept(self) -> None:
        """
        The application's own C{Content-Length} is not doubled.
        """
        headers = [("Content-Length", "5"), ("Content-Type", "text/plain")]

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", headers)
            return [b"hello"]

        self.assertEqual(
            self.runApp(app),
            whole([b"hello"], headers=[(b"Content-Length", b"5"), *BTEXT]),
        )

    def test_noContentLengthForHeadRequest(self) -> None:
        """
        No C{Content-Length} is added for a C{HEAD} request whose body is
        empty, as a list or from a generator: the application may have left
        out a body it knows the length of (Werkzeug does).
        """

        def listed(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"", b""]

        def generated(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b""

        for app in (listed, generated):
            self.assertEqual(self.runApp(app, requestHead(method="HEAD")), whole([]))

    def test_headContentLengthAsForGet(self) -> None:
        """
        A C{HEAD} request whose application makes its body anyway, as a
        list, gets the C{Content-Length} a C{GET} would (RFC 9110 section
        9.3.2: the same header fields), and no body.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"hel", b"lo"]

        self.assertEqual(
            self.runApp(app, requestHead(method="HEAD")),
            whole([], headers=[*BTEXT, (b"Content-Length", b"5")]),
        )

    def test_noContentLengthWithoutContent(self) -> None:
        """
        No C{Content-Length} is added to a 204, 205 or 304 response,
        whatever body the application returns, to C{GET} or C{HEAD} (the
        front gives a 205 its own).
        """
        for status in ["204 No Content", "205 Reset Content", "304 Not Modified"]:
            for body in ([b""], [b"a", b"b"]):
                for method in ("GET", "HEAD"):

                    def app(
                        environ: Any, startResponse: Any, status: str = status,
                        body: list[bytes] = body,
                    ) -> list[bytes]:
                        startResponse(status, [])
                        return body

                    calls = self.runApp(app, requestHead(method=method))
                    self.assertEqual(calls[0][3], [], (status, body, method))

    def test_emptyList(self) -> None:
        """
        An empty list gives a head without body and C{more} false.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("204 No Content", [])
            return []

        self.assertEqual(self.runApp(app), whole([], headers=[], status=204, reason=b"No Content"))

    def test_generatorStreamed(self) -> None:
        """
        A generator's head goes with its first non-empty chunk and C{more}
        true, each later non-empty chunk in a C{sendBody}, then an empty
        C{sendBody} with C{end} true.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b""
            yield b"a"
            yield b""
            yield b"b"

        self.assertEqual(self.runApp(app), streamed([b"a"], [b"b"]))

    def test_emptyGenerator(self) -> None:
        """
        A generator without non-empty chunks gives a head without body and
        C{more} false, and C{Content-Length: 0}.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b""

        self.assertEqual(self.runApp(app), whole([], headers=[*BTEXT, (b"Content-Length", b"0")]))

    def test_startResponseInGenerator(self) -> None:
        """
        C{start_response} may be called as late as the first iteration.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("201 Created", TEXT)
            yield b"made"

        self.assertEqual(self.runApp(app), streamed([b"made"], status=201, reason=b"Created"))

    def test_write(self) -> None:
        """
        What C{write()} is given is sent in order, before what the iterable
        yields.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"1")
            write(b"2")
            return iter([b"3"])

        self.assertEqual(self.runApp(app), streamed([b"1"], [b"2", b"3"]))

    def test_emptyWriteSendsHead(self) -> None:
        """
        A first C{write()}, even of nothing, sends the head (PEP 3333: "upon
        the application's first invocation of the write() callable"), as
        wsgiref, gunicorn, waitress and Werkzeug's server do: an
        application flushes its head so before a long wait.  Later empty
        writes send nothing.
        """
        sink = RecordingSink()
        written: list[list[tuple[Any, ...]]] = []

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"")
            written.append(list(sink.calls))
            write(b"")
            write(b"1")
            return iter([b"2"])

        reactor = runningReactor()
        runner = WSGIRunner(reactor, SynchronousThreadPool(), app, self.logger)
        runner.run(b"req-1", requestHead(), [], sink)
        reactor.flush()
        self.assertEqual(written, [[sentHead([], True)]])
        self.assertEqual(sink.calls, streamed([], [b"1", b"2"]))

    def test_emptyWriteThenExcInfoReraises(self) -> None:
        """
        Once an empty C{write()} has sent the head, C{start_response} with
        C{exc_info} raises that exception again, as after any write.
        """
        raised: list[BaseException] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"")
            try:
                raise ValueError("late")
            except ValueError:
                try:
                    startResponse("500 Oops", [], sys.exc_info())
                except ValueError as e:
                    raised.append(e)
            return [b"x"]

        self.runApp(app)
        self.assertEqual([str(e) for e in raised], ["late"])

    def test_chunksWhileReactorBusyBatched(self) -> None:
        """
        Body chunks that the application produces before the reactor thread
        has sent the previous ones go out together, in one C{sendBody}; a
        chunk produced after the reactor ran goes in a message of its own.
        """
        reactor = runningReactor()
        sink = RecordingSink()

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            yield b"b"
            yield b"c"
            reactor.flush()
            yield b"d"

        runner = WSGIRunner(reactor, SynchronousThreadPool(), app, self.logger)
        runner.run(b"req-1", requestHead(), [], sink)
        reactor.flush()
        self.assertEqual(sink.calls, streamed([b"a"], [b"b", b"c"], [b"d"]))

    def test_batchesBounded(self) -> None:
        """
        A batch of chunks is split into C{sendBody} calls of at most
        L{BODY_BATCH} bytes each, in order; a chunk is never split, so a
        larger one goes alone.
        """
        quarter = BODY_BATCH // 4
        chunks = [b"a" * quarter] * 5 + [b"b" * (BODY_BATCH + 1), b"c"]

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"head"
            yield from chunks

        calls = self.runApp(app)
        self.assertEqual(
            [call[1] for call in calls[1:-2]],
            [chunks[:4], chunks[4:5], chunks[5:6], chunks[6:]],
        )
        self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED])

    def test_writeThenList(self) -> None:
        """
        After C{write()}, a returned list is sent in one final C{sendBody},
        without a C{Content-Length}, even if it has one item.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"a")
            return [b"b"]

        self.assertEqual(
            self.runApp(app),
            [
                sentHead([b"a"], True),
                ("sendBody", [b"b"], True),
                FINISHED,
            ],
        )

    def test_statusAndHeaders(self) -> None:
        """
        The status code, reason and headers are sent as ISO-8859-1 bytes,
        in the application's order, repeated headers kept.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse(
                "404 Pas trouv\xe9",
                [("Set-Cookie", "a=1"), ("X-Name", "caf\xe9"), ("Set-Cookie", "b=2")],
            )
            return []

        self.assertEqual(
            self.runApp(app),
            whole([], headers=[
                        (b"Set-Cookie", b"a=1"),
                        (b"X-Name", b"caf\xe9"),
                        (b"Set-Cookie", b"b=2"),
                        (b"Content-Length", b"0"),
                    ], status=404, reason=b"Pas trouv\xe9"),
        )

    def test_postBody(self) -> None:
        """
        The body given to L{WSGIRunner.run} is the application's
        C{wsgi.input}, ending there.
        """

        calls = self.runApp(echoBody, requestHead(method="POST"), [b"ab", b"cd"])
        self.assertEqual(calls[0][4], [b"abcd"])

    def test_bodyReceived(self) -> None:
        """
        With C{more} set in the head, the body is complete only once
        L{RunningRequest.bodyReceived} says so; what the application read
        is granted back to the front at the end of the body, through the
        reactor thread (the send socket's), while the application thread
        sends the response itself.
        """
        reactor = runningReactor()
        running, pool, sink = self.startRun(
            echoBody, head=requestHead(method="POST", more=True), body=[b"ab"], reactor=reactor
        )
        running.bodyReceived([b"cd"], False)
        running.bodyReceived([b"ef"], True)
        pool.flush()
        response = [
            sentHead([b"abcdef"], headers=[*BTEXT, (b"Content-Length", b"6")]),
            FINISHED,
        ]
        self.assertEqual(sink.calls, response)
        reactor.flush()
        self.assertEqual(sink.calls, [*response, ("sendWindow", 6)])

    def test_streamedBodyShort(self) -> None:
        """
        A streamed body that ends short of its C{Content-Length} (messages
        of it lost with a broken ZeroMQ connection) fails the application's
        reads, with a warning: the application answers 500, never 200 for
        what it took for the whole body.  One of its length is read whole.
        """
        head = requestHead(method="POST", more=True, headers=[("Content-Length", "6")])
        running, pool, sink = self.startRun(echoBody, head=head, body=[b"ab"])
        running.bodyReceived([b"ef"], True)
        pool.flush()
        self.assertEqual(sink.calls[0][:2], ("sendHead", 500))
        said = [formatEvent(event) for event in self.events]
        self.assertIn(
            "request req-1: request body lost: 4 bytes came of its Content-Length of 6; "
            "its reads fail",
            said,
        )
        head = requestHead(method="POST", more=True, headers=[("Content-Length", "6")])
        running, pool, sink = self.startRun(echoBody, head=head, body=[b"ab"])
        running.bodyReceived([b"cd"], False)
        running.bodyReceived([b"ef"], True)
        pool.flush()
        [sent] = [call for call in sink.calls if call[0] == "sendHead"]
        self.assertEqual(sent[1:2] + sent[4:5], (200, [b"abcdef"]))

    def test_sentFromApplicationThread(self) -> None:
        """
        The application thread sends the head, the end and the finish
        itself: the reactor is not woken up for them.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"

        reactor = runningReactor()
        sink = RecordingSink()
        WSGIRunner(reactor, SynchronousThreadPool(), app, self.logger).run(
            b"r", requestHead(), [], sink
        )
        self.assertEqual(
            sink.calls, [sentHead([b"a"], True), ("sendBody", [], True), FINISHED]
        )
        self.assertEqual(reactor.flush(), 0)

    def test_threadBoundary(self) -> None:
        """
        Once body chunks went to the reactor thread (to be batched), the
        rest of the response and the finish follow them there, in order:
        one wake-up of the reactor for the chunk, the end and the finish
        that the application thread handed back together.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            yield b"b"

        reactor = runningReactor()
        sink = RecordingSink()
        WSGIRunner(reactor, SynchronousThreadPool(), app, self.logger).run(
            b"r", requestHead(), [], sink
        )
        self.assertEqual(sink.calls, [sentHead([b"a"], True)])
        self.assertEqual(reactor.flush(), 1)
        self.assertEqual(
            sink.calls,
            [sentHead([b"a"], True), ("sendBody", [b"b"], False),
             ("sendBody", [], True), FINISHED],
        )

    def test_requestsShareWakeUp(self) -> None:
        """
        Requests whose calls go to the reactor thread and that finish
        before it runs share its wake-up: their sink calls come in one
        C{reactor.callFromThread}, each request's in order, the requests in
        the order they finished.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"/"
            yield environ["PATH_INFO"][1:].encode("ascii")

        reactor = runningReactor()
        pool = SynchronousThreadPool(immediate=False)
        runner = WSGIRunner(reactor, pool, app, self.logger)
        sinks = [RecordingSink(), RecordingSink()]
        runner.run(b"r1", requestHead(target="/1"), [], sinks[0])
        runner.run(b"r2", requestHead(target="/2"), [], sinks[1])
        order: list[str] = []
        sinks[0].onBody = lambda: order.append("r1")
        sinks[1].onBody = lambda: order.append("r2")
        pool.flush()
        self.assertEqual(reactor.flush(), 1)
        self.assertEqual(order, ["r1", "r1", "r2", "r2"])
        for n, sink in enumerate(sinks, 1):
            self.assertEqual(
                sink.calls,
                [sentHead([b"/"], True), ("sendBody", [b"%d" % (n,)], False),
                 ("sendBody", [], True), FINISHED],
            )


class ReactorThreadWorkTests(RunnerMixin, SynchronousTestCase):
    """
    What can run in the application thread does: the reactor thread only
    receives and sends.
    """

    def test_environBuiltInApplicationThread(self) -> None:
        """
        L{WSGIRunner.run} neither builds the environ nor looks for the
        request's X-Request-Id: the application thread does, when it runs
        the request.
        """
        built: list[str] = []
        searched: list[str] = []
        buildEnviron = _wsgi.buildEnviron
        xRequestId = _wsgi._xRequestId
        def building(*a: Any) -> dict[str, Any]:
            built.append("built")
            return buildEnviron(*a)

        def searching(*a: Any) -> str | None:
            searched.append("searched")
            return xRequestId(*a)

        self.patch(_wsgi, "buildEnviron", building)
        self.patch(_wsgi, "_xRequestId", searching)
        environs: list[dict[str, Any]] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            environs.append(environ)
            startResponse("200 OK", TEXT)
            return [b"ok"]

        _running, pool, _sink = self.startRun(
            app, head=requestHead(headers=[("X-Request-Id", "abc")]), reactor=runningReactor()
        )
        self.assertEqual((built, searched), ([], []))
        pool.flush()
        self.assertEqual((built, searched), (["built"], ["searched"]))
        self.assertEqual(environs[0]["PATH_INFO"], "/")

    def test_environFailure(self) -> None:
        """
        A failure building the environ is the application's: logged, and
        answered 500.
        """
        def broken(*args: object) -> dict[str, Any]:
            raise ValueError("broken")

        self.patch(_wsgi, "buildEnviron", broken)
        calls = self.runApp(lambda environ, startResponse: [])
        self.assertEqual(calls[0][:2], ("sendHead", 500))
        self.assertEqual(calls[-1], FINISHED)
        [failure] = [e["log_failure"] for e in self.events if "log_failure" in e]
        self.assertIsInstance(failure.value, ValueError)

    def test_wholeBodyTakesNoLock(self) -> None:
        """
        The body that came with the head is given to C{wsgi.input} without
        taking its lock or notifying it: no application thread has the
        request yet.  The application reads it all.
        """
        conditions: list[CountingCondition] = []

        def newCondition() -> CountingCondition:
            conditions.append(CountingCondition())
            return conditions[-1]

        reactor = runningReactor()
        _running, pool, sink = self.startRun(
            echoBody, head=requestHead(method="POST"), body=[b"ab", b"", b"cd"],
            reactor=reactor, newCondition=newCondition,
        )
        self.assertEqual((conditions[0].entered, conditions[0].notified), (0, 0))
        pool.flush()
        reactor.flush()
        self.assertEqual(sink.calls[0][4], [b"abcd"])

    def test_streamedBodyEndsLater(self) -> None:
        """
        A request whose body is streamed (C{more}) is not at its end with
        the body frames of the head: reads wait for L{bodyReceived}.
        """
        reactor = runningReactor()
        running, pool, sink = self.startRun(
            echoBody, head=requestHead(method="POST", more=True), body=[b"ab"], reactor=reactor
        )
        self.assertFalse(running.input._finished)
        running.bodyReceived([b"cd"], True)
        pool.flush()
        reactor.flush()
        [head] = [call for call in sink.calls if call[0] == "sendHead"]
        self.assertEqual(head[4], [b"abcd"])


class FileWrapperTests(RunnerMixin, SynchronousTestCase):
    """
    C{wsgi.file_wrapper}.
    """

    def test_iteration(self) -> None:
        """
        Iterating over a L{FileWrapper} reads C{blksize} bytes at a time;
        C{close()} closes the file.
        """
        f = RecordingFile(b"abcdefg")
        wrapper = FileWrapper(f, 3)
        self.assertEqual(list(wrapper), [b"abc", b"def", b"g"])
        self.assertEqual(f.sizes, [3, 3, 3, 3])
        wrapper.close()
        self.assertTrue(f.closed)

    def test_defaultBlockSize(self) -> None:
        """
        A L{FileWrapper} given no block size (PEP 3333 makes it optional)
        reads L{FILE_CHUNK_SIZE} bytes at a time when iterated, as the
        runner reads one.
        """
        data = b"x" * (FILE_CHUNK_SIZE + 1)
        f = RecordingFile(data)
        wrapper = FileWrapper(f)
        self.assertEqual(wrapper.blksize, FILE_CHUNK_SIZE)
        self.assertEqual(b"".join(wrapper), data)
        self.assertEqual(f.sizes, [FILE_CHUNK_SIZE] * 3)

    def test_seek(self) -> None:
        """
        A L{FileWrapper} of a file that can seek says it can, and is its
        own iterator: seeking it (as Werkzeug does to answer a C{Range}
        request) moves the file, and iterating it then reads from there,
        C{blksize} bytes at a time.
        """
        f = RecordingFile(b"abcdefghij")
        wrapper = FileWrapper(f, 3)
        self.assertTrue(wrapper.seekable())
        self.assertIs(iter(wrapper), wrapper)
        self.assertEqual(wrapper.seek(6), 6)
        self.assertEqual(wrapper.tell(), 6)
        self.assertEqual(list(wrapper), [b"ghi", b"j"])
        self.assertEqual(f.sizes, [3, 3, 3])
        self.assertEqual(wrapper.seek(-2, io.SEEK_END), 8)

    def test_notSeekable(self) -> None:
        """
        A L{FileWrapper} of a file that has no C{seekable} method (here a
        request's C{wsgi.input}, an L{InputStream}), or says it cannot seek,
        says it cannot.
        """

        class Pipe(io.BytesIO):
            def seekable(self) -> bool:
                return False

        self.assertFalse(FileWrapper(InputStream()).seekable())  # type: ignore[arg-type]
        self.assertFalse(FileWrapper(Pipe()).seekable())

    def test_closeOptional(self) -> None:
        """
        A file-like object without C{close} (here a request's
        C{wsgi.input}, an L{InputStream}) can be wrapped and closed.
        """
        FileWrapper(InputStream()).close()  # type: ignore[arg-type]

    def test_runnerReadsLargeChunks(self) -> None:
        """
        The runner reads a wrapped file 64 KiB at a time, never whole, sends
        it streamed and closes it.  The chunks read while the reactor had
        not run go out together, in one C{BODY} message.
        """
        data = bytes(range(256)) * 1000
        f = RecordingFile(data)

        def app(environ: dict[str, Any], startResponse: Any) -> Any:
            startResponse("200 OK", TEXT)
            return environ["wsgi.file_wrapper"](f, 1024)

        calls = self.runApp(app)
        # Four reads with data, one that finds the end.
        self.assertEqual(f.sizes, [65536] * 5)
        self.assertEqual(calls[0], sentHead([data[:65536]], True))
        self.assertEqual(
            calls[1:],
            [
                (
                    "sendBody",
                    [data[65536:131072], data[131072:196608], data[196608:]],
                    False,
                ),
                ("sendBody", [], True),
                FINISHED,
            ],
        )
        self.assertTrue(f.closed)

    def test_runnerKeepsLargerBlocks(self) -> None:
        """
        A C{blksize} above 64 KiB is kept.
        """
        f = RecordingFile(b"x" * 100000)

        def app(environ: dict[str, Any], startResponse: Any) -> Any:
            startResponse("200 OK", TEXT)
            return environ["wsgi.file_wrapper"](f, 100000)

        self.runApp(app)
        self.assertEqual(f.sizes, [100000, 100000])


class StartResponseTests(RunnerMixin, SynchronousTestCase):
    """
    C{start_response} checks its arguments and applies the C{exc_info}
    rules.
    """

    def startResponseError(self, *args: Any) -> BaseException:
        """
        Call C{start_response} with C{args} in an application, and return
        what it raised.  The application then responds normally.
        """
        raised: list[BaseException] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            try:
                startResponse(*args)
            # Whatever it raises, for the caller to check.
            except BaseException as e:  # noqa: BLE001
                raised.append(e)
            startResponse("200 OK", TEXT)
            return [b"ok"]

        calls = self.runApp(app)
        self.assertEqual(calls[0][1], 200)
        self.assertEqual(len(raised), 1)
        return raised[0]

    def test_returnsWrite(self) -> None:
        """
        C{start_response} returns the C{write} callable.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)(b"x")
            return []

        self.assertEqual(self.runApp(app)[0][4], [b"x"])

    def test_statusType(self) -> None:
        """
        A status that is not a L{str} raises L{TypeError}.
        """
        self.assertIsInstance(self.startResponseError(b"200 OK", TEXT), TypeError)

    def test_statusFormat(self) -> None:
        """
        A status that is not three digits, a space and a reason raises
        L{ValueError}, and so does a 1xx status, and one of 600 to 999 (RFC
        9110 section 15: no status).
        """
        for status in [
            "200",
            "200OK",
            "20 OK",
            "OK 200",
            "2000 OK",
            "200 OK\r\nX: y",
            "100 Continue",
            "600 Weird",
            "999 X",
        ]:
            self.assertIsInstance(
                self.startResponseError(status, TEXT), ValueError, status
            )

    def test_headersType(self) -> None:
        """
        Headers that are not a list of C{(str, str)} tuples raise
        L{TypeError}.
        """
        for headers in [
            "Content-Type: text/plain",
            [("Content-Type",)],
            [(b"Content-Type", "text/plain")],
            [("Content-Length", 3)],
            ["Content-Type"],
        ]:
            self.assertIsInstance(
                self.startResponseError("200 OK", headers), TypeError, headers
            )

    def test_headerInjection(self) -> None:
        """
        Header names that are not tokens, and values with control
        characters, raise L{ValueError}.
        """
        for header in [
            ("X-A", "a\r\nSet-Cookie: x"),
            ("X A", "a"),
            ("X-A:", "a"),
            ("X-A", "a\0"),
        ]:
            self.assertIsInstance(
                self.startResponseError("200 OK", [header]), ValueError, header
            )

    def test_headerValueWhitespace(self) -> None:
        """
        Spaces and tabs around a header value are not part of it (RFC 9110
        section 5.5) and are not sent: Django gives every C{Set-Cookie} a
        leading space, which gunicorn strips too.  Whitespace inside a value
        stays.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse(
                "200 OK",
                [
                    ("Set-Cookie", " a=1; Path=/"),
                    ("X-Padded", "\t a  b \t"),
                    ("Content-Length", " 2 "),
                ],
            )
            return [b"ok"]

        self.assertEqual(
            self.runApp(app),
            whole(
                [b"ok"],
                headers=[
                    (b"Set-Cookie", b"a=1; Path=/"),
                    (b"X-Padded", b"a  b"),
                    (b"Content-Length", b"2"),
                ],
            ),
        )

    def test_headerFieldsCached(self) -> None:
        """
        A response header field is checked and encoded once, not for every
        response that has it; a field that fails the check is not kept, and
        fails again.
        """
        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [("X-Cached-Field", "1")])
            return [b"ok"]

        self.runApp(app)
        before = _checkedField.cache_info().hits
        calls = self.runApp(app)
        self.assertEqual(_checkedField.cache_info().hits, before + 1)
        self.assertEqual(calls, whole([b"ok"], headers=[
            (b"X-Cached-Field", b"1"), (b"Content-Length", b"2"),
        ]))
        for _ in range(2):
            self.assertIsInstance(
                self.startResponseError("200 OK", [("X-A", "a\r\nB: c")]), ValueError
            )

    def test_statusCached(self) -> None:
        """
        A status is checked and parsed once, not for every response that
        has it; one that fails the check is not kept, and fails again; one
        longer than C{_CACHED_FIELD} is parsed each time, and sent.
        """
        status = "299 Made Here"

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse(status, TEXT)
            return [b"ok"]

        self.runApp(app)
        before = _parsedStatus.cache_info().hits
        calls = self.runApp(app)
        self.assertEqual(_parsedStatus.cache_info().hits, before + 1)
        self.assertEqual(calls[0][:2], ("sendHead", 299))
        self.assertEqual(calls[0][2], b"Made Here")
        for _ in range(2):
            self.assertIsInstance(self.startResponseError("299 Made\n", TEXT), ValueError)
        status = "298 " + "r" * _CACHED_FIELD
        info = _parsedStatus.cache_info()
        calls = self.runApp(app)
        self.assertEqual(_parsedStatus.cache_info(), info)
        self.assertEqual(calls[0][:3], ("sendHead", 298, b"r" * _CACHED_FIELD))

    def test_statusStrSubclass(self) -> None:
        """
        A status of a subclass of L{str} is parsed as the string it holds,
        each time: one equal by its own C{__eq__} to a status parsed before
        is not given that status's reason.
        """

        class Folded(str):
            def __eq__(self, other: object) -> bool:
                return isinstance(other, str) and self.lower() == other.lower()

            def __hash__(self) -> int:
                return hash(self.lower())

        statuses = [Folded("299 made here"), Folded("299 MADE HERE")]

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse(statuses.pop(0), TEXT)
            return [b"ok"]

        self.assertEqual(self.runApp(app)[0][:3], ("sendHead", 299, b"made here"))
        self.assertEqual(self.runApp(app)[0][:3], ("sendHead", 299, b"MADE HERE"))

    def test_longHeaderFieldsNotCached(self) -> None:
        """
        A response header field longer than C{_CACHED_FIELD} (name and
        value) is checked and sent, but not kept in the cache, whose size
        is bounded in entries only.
        """
        value = "v" * (_CACHED_FIELD - len("X-Long") + 1)
        name = "X-" + "n" * _CACHED_FIELD

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [("X-Long", value), (name, "v")])
            return [b"ok"]

        before = _checkedField.cache_info()
        calls = self.runApp(app)
        self.assertEqual(_checkedField.cache_info(), before)
        self.assertEqual(calls, whole([b"ok"], headers=[
            (b"X-Long", value.encode("ascii")), (name.encode("ascii"), b"v"),
            (b"Content-Length", b"2"),
        ]))
        self.assertIsInstance(
            self.startResponseError("200 OK", [("X-Long", value + "\n")]), ValueError
        )

    def test_headerStrSubclass(self) -> None:
        """
        A header name or value of a subclass of L{str} is sent as the
        string it holds.
        """

        class Text(str):
            def encode(self, *args: Any) -> bytes:
                return b"not this"

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [(Text("X-Sub"), Text("value"))])
            return [b"ok"]

        self.assertEqual(self.runApp(app), whole([b"ok"], headers=[
            (b"X-Sub", b"value"), (b"Content-Length", b"2"),
        ]))

    def test_hopByHop(self) -> None:
        """
        Hop-by-hop headers raise L{ValueError}, as PEP 3333 asks (the same
        list the front drops from any handler's reply).
        """
        for name in ["Connection", "transfer-encoding", "Keep-Alive", "Upgrade",
                     "Proxy-Connection", "Proxy-Authenticate"]:
            self.assertIsInstance(
                self.startResponseError("200 OK", [(name, "x")]), ValueError, name
            )

    def test_secondCallWithoutExcInfo(self) -> None:
        """
        Calling C{start_response} again without C{exc_info} raises
        L{RuntimeError}, and the first head stands.
        """
        raised: list[BaseException] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            try:
                startResponse("201 Created", TEXT)
            except RuntimeError as e:
                raised.append(e)
            return []

        self.assertEqual(self.runApp(app)[0][1], 200)
        self.assertEqual(len(raised), 1)

    def test_excInfoReplacesPendingHead(self) -> None:
        """
        With C{exc_info}, before the head was sent, C{start_response}
        replaces the pending head.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [*TEXT, ("Content-Length", "5")])
            try:
                raise ValueError("boom")
            except ValueError:
                startResponse(
                    "503 Unavailable", [("Content-Type", "text/html")], sys.exc_info()
                )
            return [b"sorry!!"]

        # (The replaced head's Content-Length of 5 is gone: the body's own,
        # 7, is added.)
        self.assertEqual(
            self.runApp(app),
            whole(
                [b"sorry!!"],
                headers=[(b"Content-Type", b"text/html"), (b"Content-Length", b"7")],
                status=503,
                reason=b"Unavailable",
            ),
        )

    def test_excInfoBeforeFirstChunk(self) -> None:
        """
        The head is pending until the first non-empty chunk, so a generator
        can still replace it after yielding empty chunks.
        """

        app = replacesHeadAfterEmptyChunk("500 Oops", [b"oops"], [])
        self.assertEqual(
            self.runApp(app)[0], sentHead([b"oops"], True, status=500, reason=b"Oops")
        )

    def test_excInfoAfterHeadReraises(self) -> None:
        """
        With C{exc_info}, after the head was sent, C{start_response}
        re-raises the exception; the response ends with C{sendError}.
        """
        error = ValueError("late")
        raised: list[BaseException] = []

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            try:
                raise error
            except ValueError:
                try:
                    startResponse("500 Oops", TEXT, sys.exc_info())
                except ValueError as e:
                    raised.append(e)
                    raise

        self.assertEqual(self.runApp(app), failedAfter([b"a"]))
        self.assertEqual(raised, [error])
        self.assertIs(self.failures()[0]["log_failure"].value, error)


class ContentLengthTests(RunnerMixin, SynchronousTestCase):
    """
    The application's C{Content-Length} frames the response: it must be
    single and numeric, no more body than it says is sent, and a body
    that ends short of it is an error, never a complete response.
    """

    def overruns(self) -> list[dict[str, Any]]:
        """
        The events that log a body longer than its C{Content-Length}.
        """
        return [
            event
            for event in self.events
            if "longer than its Content-Length" in event.get("log_format", "")
        ]

    def test_repeatedOrMalformedRefused(self) -> None:
        """
        C{start_response} raises L{ValueError} for two C{Content-Length}
        headers (equal or not, whatever their case) or one that is not a
        number; an application that lets it through gets a 500, and the
        failure is logged.
        """
        for headers in [
            [("Content-Length", "5"), ("Content-Length", "50")],
            [("Content-Length", "5"), ("content-length", "5")],
            [("Content-Length", "5, 5")],
            [("Content-Length", "")],
            [("Content-Length", "-1")],
            [("Content-Length", "+5")],
            [("Content-Length", "5.0")],
            [("Content-Length", "0x5")],
            [("Content-Length", "\u0665")],
        ]:
            raised: list[BaseException] = []

            def app(
                environ: Any,
                startResponse: Any,
                headers: list[tuple[str, str]] = headers,
                raised: list[BaseException] = raised,
            ) -> list[bytes]:
                try:
                    startResponse("200 OK", headers)
                except ValueError as e:
                    raised.append(e)
                    raise
                return [b"hello"]

            del self.events[:]
            self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED], headers)
            self.assertEqual(len(raised), 1, headers)
            self.assertEqual(len(self.failures()), 1, headers)

    def test_spacesAroundValue(self) -> None:
        """
        Spaces and tabs around the value are allowed, as HTTP allows them,
        and are not sent.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [("Content-Length", " 5\t")])
            return [b"hello"]

        self.assertEqual(
            self.runApp(app),
            whole([b"hello"], headers=[(b"Content-Length", b"5")]),
        )

    def test_collectedTruncated(self) -> None:
        """
        A collected body longer than its C{Content-Length} is cut to it, and
        that is logged once: the everyday C{str(len(text))} of a non-ASCII
        text, here.
        """
        text = "h\xe9llo w\xf6rld"

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [("Content-Length", str(len(text)))])
            return [b"<", text.encode("utf-8"), b">"]

        self.assertEqual(
            self.runApp(app),
            whole([b"<", text.encode("utf-8")[:10]], headers=[(b"Content-Length", b"11")]),
        )
        self.assertEqual(len(self.overruns()), 1)
        self.assertEqual(self.overruns()[0]["length"], 11)
        self.assertEqual(self.overruns()[0]["requestId"], "req-1")

    def test_streamedTruncated(self) -> None:
        """
        A streamed body is cut where it passes its C{Content-Length}: what
        the application yields after that is dropped, and the response ends
        normally; the overrun is logged once.
        """
        iterable = ClosingIterable([b"ab", b"cdef", b"gh", b"ij"])

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            startResponse("200 OK", [("Content-Length", "3")])
            return iterable

        calls = self.runApp(app)
        self.assertEqual(calls[0], sentHead([b"ab"], True, headers=[(b"Content-Length", b"3")]))
        self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED])
        body = b"".join(b"".join(call[1]) for call in calls if call[0] == "sendBody")
        self.assertEqual(body, b"c")
        self.assertEqual(iterable.closes, 1)
        self.assertEqual(len(self.overruns()), 1)

    def test_streamedOverrunStopsIterating(self) -> None:
        """
        A streamed iterable that passes its C{Content-Length} is not
        advanced further (PEP 3333: the server "should stop iterating over
        the response when enough data has been sent"): an endless one would
        never end the response, and the next request on the client's
        connection would wait for it.
        """
        iterable = self.assertStreamsThree([b"ab", b"cdef", b"never", b"reached"])
        self.assertEqual((iterable.nexts, iterable.closes), (2, 1))

    def test_streamedExactLengthIteratedToEnd(self) -> None:
        """
        A streamed iterable as long as its C{Content-Length} is iterated to
        its end, so that what a generator does after its last C{yield}
        still runs.
        """
        iterable = self.assertStreamsThree([b"ab", b"c"])
        self.assertEqual((iterable.nexts, iterable.closes), (3, 1))

    def assertStreamsThree(self, chunks: list[bytes]) -> ClosingIterable:
        """
        Run an application that declares a C{Content-Length} of 3 and
        returns C{chunks} as a L{ClosingIterable}, and assert that the
        handler streams C{b"ab"}, then C{b"c"}.

        @return: The iterable, to check how far it was iterated.
        """
        iterable = ClosingIterable(chunks)

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            startResponse("200 OK", [("Content-Length", "3")])
            return iterable

        self.assertEqual(
            self.runApp(app),
            streamed([b"ab"], [b"c"], headers=[(b"Content-Length", b"3")]),
        )
        return iterable

    def test_writeTruncated(self) -> None:
        """
        The C{write()} that passes the C{Content-Length} sends only what
        fits, and does not raise.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", [("Content-Length", "4")])
            write(b"abc")
            write(b"def")
            write(b"")
            return []

        calls = self.runApp(app)
        self.assertEqual(calls[0][4], [b"abc"])
        body = b"".join(b"".join(call[1]) for call in calls if call[0] == "sendBody")
        self.assertEqual(body, b"d")
        self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED])
        self.assertEqual(len(self.overruns()), 1)
        self.assertEqual(self.failures(), [])

    def test_writePastLengthRaises(self) -> None:
        """
        A C{write()} with data after the one that passed the
        C{Content-Length} raises L{RuntimeError} (PEP 3333: the server
        should "raise an error if the application tries to write() past
        that point"), so that an endless writer stops at once instead of
        holding its thread until the front's C{--timeout}; nothing more is
        sent, and the response, whole, ends normally (an error would make
        the front abort the connection under what a slow client has not
        taken yet).
        """
        raised: list[BaseException] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", [("Content-Length", "4")])
            try:
                # (Bounded: without the error, the test would not end.)
                for _ in range(10):
                    write(b"abc")
            except RuntimeError as e:
                raised.append(e)
                raise
            return []

        calls = self.runApp(app)
        self.assertEqual(len(raised), 1)
        self.assertIn("Content-Length of 4", str(raised[0]))
        body = b"".join(b"".join(call[1]) for call in calls if call[0] == "sendBody")
        self.assertEqual(calls[0][4] + [body], [b"abc", b"a"])
        self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED])
        self.assertEqual(len(self.overruns()), 1)
        self.assertEqual(len(self.failures()), 1)

    def test_replacedHeadWritesAnew(self) -> None:
        """
        A head replaced with C{exc_info} before it was sent takes its own
        C{Content-Length}: what the replaced one cut does not make
        C{write()} raise for the new one.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", [("Content-Length", "0")])
            write(b"cut")
            try:
                raise ValueError("replaced")
            except ValueError:
                write = startResponse(
                    "500 Oops", [("Content-Length", "2")], sys.exc_info()
                )
            write(b"no")
            return []

        calls = self.runApp(app)
        self.assertEqual(calls[0][:2], ("sendHead", 500))
        body = calls[0][4] + [b"".join(call[1]) for call in calls if call[0] == "sendBody"]
        self.assertEqual(b"".join(body), b"no")
        self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED])
        self.assertEqual(self.failures(), [])

    def test_exactLength(self) -> None:
        """
        A body exactly as long as its C{Content-Length} goes as it is, and
        nothing is logged.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", [("Content-Length", "5")])
            yield b"he"
            yield b"llo"

        calls = self.runApp(app)
        self.assertEqual(calls[0][4], [b"he"])
        self.assertEqual(calls[-1], FINISHED)
        self.assertEqual(calls[-2][2], True)
        self.assertEqual(self.overruns(), [])
        self.assertEqual(self.failures(), [])

    def test_collectedShort(self) -> None:
        """
        A collected body shorter than its C{Content-Length}, which the
        client would wait for the rest of, is a 500, and is logged.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [("Content-Length", "50")])
            return [b"hello"]

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        [failure] = self.failures()
        self.assertIsInstance(failure["log_failure"].value, ValueError)
        self.assertIn("shorter than its Content-Length", str(failure["log_failure"].value))

    def test_streamedShort(self) -> None:
        """
        A streamed body that ends short of its C{Content-Length} ends with
        C{sendError} (the front aborts the connection), not with the end of
        the body.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", [("Content-Length", "50")])
            yield b"hello"

        self.assertEqual(
            self.runApp(app),
            failedAfter([b"hello"], headers=[(b"Content-Length", b"50")]),
        )
        self.assertEqual(len(self.failures()), 1)

    def test_emptyShort(self) -> None:
        """
        An empty body with a non-zero C{Content-Length} is a 500.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", [("Content-Length", "5")])
            yield b""

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])

    def test_noBodyResponses(self) -> None:
        """
        The response to C{HEAD}, and C{204}, C{205} and C{304} responses,
        have no body whatever their C{Content-Length} says: nothing is cut, no body
        is missing, and none is sent.
        """
        for status, method, body in [
            ("200 OK", "HEAD", []),
            ("200 OK", "HEAD", [b"0123456789"]),
            ("304 Not Modified", "GET", []),
            ("204 No Content", "GET", []),
            ("205 Reset Content", "GET", [b"01234"]),
        ]:

            def app(
                environ: Any, startResponse: Any, status: str = status, body: list[bytes] = body
            ) -> list[bytes]:
                startResponse(status, [("Content-Length", "5")])
                return body

            calls = self.runApp(app, requestHead(method=method))
            self.assertEqual(calls[0][0], "sendHead", (status, method))
            self.assertEqual(calls[0][4], [], (status, method))
        self.assertEqual(self.failures(), [])
        self.assertEqual(self.overruns(), [])


class NoBodyTests(RunnerMixin, SynchronousTestCase):
    """
    A response without a body (to C{HEAD}, or with status C{204}, C{205} or
    C{304}) is not produced past its head, which is final at the first
    non-empty chunk (PEP 3333): the front would drop the rest.
    """

    def test_headStopsStream(self) -> None:
        """
        For C{HEAD}, a streamed iterable (an endless event stream, a large
        download from a generator) is advanced to its first non-empty
        chunk, then closed, and the head is sent complete, alone.
        """
        body = ClosingIterable([b"", b"first", b"second", b"third"])
        calls = self.runApp(answering(body), requestHead(method="HEAD"))
        self.assertEqual(calls, whole([]))
        self.assertEqual((body.nexts, body.closes), (2, 1))

    def test_headStopsFileWrapper(self) -> None:
        """
        For C{HEAD}, a C{wsgi.file_wrapper} (Django's C{FileResponse}) is
        read once, then closed.
        """
        file = RecordingFile(b"x" * (FILE_CHUNK_SIZE * 3))

        def app(environ: Any, startResponse: Any) -> Any:
            startResponse("200 OK", TEXT)
            return environ["wsgi.file_wrapper"](file)

        calls = self.runApp(app, requestHead(method="HEAD"))
        self.assertEqual(calls, whole([]))
        self.assertEqual((len(file.sizes), file.closed), (1, True))

    def test_noBodyStatusStopsStream(self) -> None:
        """
        A C{204}, C{205} or C{304} response's streamed iterable is advanced
        to its first non-empty chunk, then closed.
        """
        for code, reason in [(204, "No Content"), (205, "Reset Content"), (304, "Not Modified")]:
            body = ClosingIterable([b"first", b"second"])

            def app(
                environ: Any,
                startResponse: Any,
                status: str = f"{code} {reason}",
                body: ClosingIterable = body,
            ) -> ClosingIterable:
                startResponse(status, [])
                return body

            self.assertEqual(
                self.runApp(app),
                whole([], headers=[], status=code, reason=reason.encode("ascii")),
                code,
            )
            self.assertEqual((body.nexts, body.closes), (1, 1), code)

    def test_headReplacedBeforeFirstChunk(self) -> None:
        """
        For C{HEAD} too, the head can be replaced (with C{exc_info}) until
        the first non-empty chunk, and that chunk ends the iteration.
        """
        reached: list[bytes] = []
        app = replacesHeadAfterEmptyChunk("503 Unavailable", [b"sorry", b"more"], reached)
        calls = self.runApp(app, requestHead(method="HEAD"))
        self.assertEqual(calls, whole([], status=503, reason=b"Unavailable"))
        self.assertEqual(reached, [])

    def test_headWrite(self) -> None:
        """
        For C{HEAD}, what the application gives C{write()} is dropped: the
        head goes at the first write, and the response ends when the
        application returns.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"a")
            write(b"b")
            return [b"c"]

        self.assertEqual(
            self.runApp(app, requestHead(method="HEAD")),
            [sentHead([], True), ("sendBody", [], True), FINISHED],
        )

    def test_getStreamed(self) -> None:
        """
        A C{GET} response with a body is streamed whole, as before.
        """
        body = ClosingIterable([b"first", b"second"])
        self.assertEqual(
            self.runApp(answering(body)), streamed([b"first"], [b"second"])
        )
        self.assertEqual((body.nexts, body.closes), (3, 1))


class ErrorTests(RunnerMixin, SynchronousTestCase):
    """
    Application failures.
    """

    def assertLogged(self, exceptionType: type) -> None:
        """
        One failure of C{exceptionType} was logged, with the request id.
        """
        failures = self.failures()
        self.assertEqual(len(failures), 1)
        self.assertIsInstance(failures[0]["log_failure"].value, exceptionType)
        self.assertEqual(failures[0]["requestId"], "req-1")
        self.assertIn("{requestId}", failures[0]["log_format"])
        self.assertEqual(failures[0]["log_level"], LogLevel.error)

    def test_loggedAsError(self) -> None:
        """
        An application's exception is logged at level C{error}, as
        gunicorn's "Error handling request" and waitress's are, not at
        C{critical} (L{Logger.failure}'s default), which the commands keep
        for what stops a process (a port in use, handlers that cannot
        boot): an alert on C{critical} lines would otherwise fire at every
        500 of the application, and C{--log-level critical} would keep
        every traceback.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            raise ValueError("boom")

        self.runApp(app)
        [failure] = self.failures()
        self.assertEqual(failure["log_level"], LogLevel.error)

    def test_raiseBeforeHead(self) -> None:
        """
        An application that raises before the head was sent gets a plain
        500 response that does not tell the client what went wrong; the
        failure is logged with the request id.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            raise ValueError("secret detail")

        calls = self.runApp(app)
        self.assertEqual(calls, [ERROR_HEAD, FINISHED])
        self.assertNotIn(b"secret", b"".join(calls[0][4]))
        self.assertLogged(ValueError)

    def test_raiseAfterStartResponse(self) -> None:
        """
        The 500 response replaces a head that was given but not sent.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b""
            raise ValueError("boom")

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(ValueError)

    def test_raiseAfterHead(self) -> None:
        """
        An application that raises after the head was sent ends the response
        with C{sendError}.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            raise ValueError("secret detail")

        self.assertEqual(self.runApp(app), failedAfter([b"a"]))
        self.assertLogged(ValueError)

    def test_noStartResponse(self) -> None:
        """
        An application that never calls C{start_response} gets a 500.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            return [b"x"]

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(RuntimeError)

    def test_startResponseMisuse(self) -> None:
        """
        An application that lets a C{start_response} error propagate gets a
        500.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [("Connection", "close")])
            return [b"x"]

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(ValueError)

    def test_nonBytesInList(self) -> None:
        """
        A list with a chunk that is not L{bytes} gets a 500.
        """

        def app(environ: Any, startResponse: Any) -> list[Any]:
            startResponse("200 OK", TEXT)
            return [b"a", "b"]

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(TypeError)

    def test_nonBytesAfterHead(self) -> None:
        """
        A streamed chunk that is not L{bytes} ends the response with
        C{sendError}.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[Any]:
            startResponse("200 OK", TEXT)
            yield b"a"
            yield "b"

        self.assertEqual(self.runApp(app), failedAfter([b"a"]))
        self.assertLogged(TypeError)

    def test_nonBytesWrite(self) -> None:
        """
        C{write()} of something other than L{bytes} raises L{TypeError}.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)("text")
            return []

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(TypeError)

    def test_notIterable(self) -> None:
        """
        An application that returns something not iterable gets a 500.
        """

        def app(environ: Any, startResponse: Any) -> None:
            startResponse("200 OK", TEXT)

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(TypeError)

    def test_closeFailsBatched(self) -> None:
        """
        A collected response is sent only once C{close()} has returned, so
        a failing C{close()} turns it into a 500.
        """

        class Failing(list):
            def close(self) -> None:
                raise ValueError("commit failed")

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return Failing([b"a"])

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertLogged(ValueError)

    def test_closeFailsStreamed(self) -> None:
        """
        A streamed response is ended only once C{close()} has returned, so a
        failing C{close()} ends it with C{sendError}.
        """
        iterable = ClosingIterable([b"a"], ValueError("commit failed"))

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            startResponse("200 OK", TEXT)
            return iterable

        self.assertEqual(self.runApp(app), failedAfter([b"a"]))
        self.assertLogged(ValueError)

    def test_closeFailsAfterWholeLength(self) -> None:
        """
        A streamed response whose whole C{Content-Length} was sent ends
        normally though C{close()} fails (logged): the client has all it was
        promised, and C{sendError} would make the front abort the connection
        under what a slow client has not taken yet.
        """
        iterable = ClosingIterable([b"a", b"b"], ValueError("commit failed"))

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            startResponse("200 OK", [("Content-Length", "2")])
            return iterable

        calls = self.runApp(app)
        self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED])
        self.assertNotIn("sendError", [call[0] for call in calls])
        self.assertLogged(ValueError)

    def test_closeFailsAfterHeadWithoutBody(self) -> None:
        """
        A response without a body (204, 304, to C{HEAD}) whose head was
        sent by C{write()} ends normally though C{close()} fails (logged):
        its head is the whole response.
        """
        cases = [("204 No Content", "GET"), ("304 Not Modified", "GET"), ("200 OK", "HEAD")]
        for status, method in cases:

            def app(environ: Any, startResponse: Any, status: str = status) -> ClosingIterable:
                startResponse(status, [])(b"")
                return ClosingIterable([], ValueError("commit failed"))

            calls = self.runApp(app, requestHead(method=method))
            self.assertEqual(calls[-2:], [("sendBody", [], True), FINISHED], status)
            self.assertNotIn("sendError", [call[0] for call in calls])
        self.assertEqual([type(failure["log_failure"].value) for failure in self.failures()],
                         [ValueError] * len(cases))


class CloseTests(RunnerMixin, SynchronousTestCase):
    """
    The iterable's C{close()} is called once on every path.
    """

    def closes(
        self, items: Sequence[Any], startFirst: bool = True
    ) -> tuple[ClosingIterable, list[tuple[Any, ...]]]:
        """
        Run an application returning a L{ClosingIterable} of C{items}.
        """
        iterable = ClosingIterable(items)

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            iterable.startResponse = startResponse  # type: ignore[attr-defined]
            if startFirst:
                startResponse("200 OK", TEXT)
            return iterable

        calls = self.runApp(app)
        self.assertEqual(iterable.closes, 1)
        return iterable, calls

    def test_normalEnd(self) -> None:
        """
        C{close()} is called after the iterable is exhausted.
        """
        self.assertEqual(
            self.closes([b"a", b"b"])[1][-2:], [("sendBody", [], True), FINISHED]
        )

    def test_exceptionInIteration(self) -> None:
        """
        C{close()} is called when iterating raises.
        """
        _iterable, calls = self.closes([b"a", raiser(ValueError("boom"))])
        self.assertEqual(
            calls[-2:], [("sendError", "WSGI application error"), FINISHED]
        )

    def test_nonBytes(self) -> None:
        """
        C{close()} is called when the iterable yields something not
        L{bytes}.
        """
        self.assertEqual(self.closes([1])[1], [ERROR_HEAD, FINISHED])

    def test_startResponseMisuse(self) -> None:
        """
        C{close()} is called when C{start_response} is misused during
        iteration.
        """
        holder: list[ClosingIterable] = []

        def misuse() -> bytes:
            holder[0].startResponse("200 OK", TEXT)  # type: ignore[attr-defined]
            return b"x"

        iterable = ClosingIterable([misuse])
        holder.append(iterable)

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            iterable.startResponse = startResponse  # type: ignore[attr-defined]
            startResponse("200 OK", TEXT)
            return iterable

        self.assertEqual(self.runApp(app), [ERROR_HEAD, FINISHED])
        self.assertEqual(iterable.closes, 1)
        self.assertEqual(len(self.failures()), 1)

    def test_noStartResponse(self) -> None:
        """
        C{close()} is called when C{start_response} was never called.
        """
        self.assertEqual(
            self.closes([b"a"], startFirst=False)[1], [ERROR_HEAD, FINISHED]
        )

    def test_generatorClosed(self) -> None:
        """
        A generator left unfinished is closed: its C{finally} runs.
        """
        cleanedUp = []

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            try:
                yield b"a"
                yield 1  # type: ignore[misc]
                yield b"never"
            finally:
                cleanedUp.append(True)

        self.runApp(app)
        self.assertEqual(cleanedUp, [True])


class CancelTests(RunnerMixin, SynchronousTestCase):
    """
    L{RunningRequest.cancel}.
    """

    def cancelledAtHead(self, app: Callable[..., Any], **kw: Any) -> RecordingSink:
        """
        Run C{app} on a request (see L{startRun}) that is cancelled as soon
        as its head reaches the sink.

        @return: the sink.
        """
        running, pool, sink = self.startRun(app, **kw)
        sink.onHead = running.cancel
        pool.flush()
        return sink

    def test_betweenChunks(self) -> None:
        """
        Cancelled between two chunks, the iterable is not advanced again but
        is closed, and the sink gets nothing more but C{finished}; no
        failure is logged.
        """
        iterable = ClosingIterable([b"a", b"b"])
        sink = self.cancelledAtHead(answering(iterable))
        self.assertEqual(sink.calls, [sentHead([b"a"], True), FINISHED])
        self.assertEqual(iterable.nexts, 1)
        self.assertEqual(iterable.closes, 1)
        self.assertEqual(self.failures(), [])

    def test_queuedCallsDropped(self) -> None:
        """
        Sink calls that the application thread handed over before the
        cancellation but that the reactor had not run yet are dropped.
        C{cancelled} says that it was cancelled.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            yield b"b"

        reactor = runningReactor()
        running, pool, sink = self.startRun(app, reactor=reactor)
        pool.flush()
        self.assertFalse(running.cancelled)
        running.cancel()
        self.assertTrue(running.cancelled)
        reactor.flush()
        # The head went from the application thread, before the
        # cancellation; the second chunk and the end were dropped.
        self.assertEqual(sink.calls, [sentHead([b"a"], True), FINISHED])

    def test_betweenBatches(self) -> None:
        """
        Cancelled while a batch of chunks goes out in several C{sendBody}
        calls, the rest of the batch is dropped.
        """
        big = b"x" * BODY_BATCH

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            yield big
            yield big
            yield big

        reactor = runningReactor()
        running, pool, sink = self.startRun(app, reactor=reactor)
        sink.onBody = running.cancel
        pool.flush()
        reactor.flush()
        self.assertEqual(
            [call[0] for call in sink.calls], ["sendHead", "sendBody", "finished"]
        )

    def test_beforeStart(self) -> None:
        """
        Cancelled before a thread took it, the application is not called.
        """
        called = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            called.append(True)
            return []

        running, pool, sink = self.startRun(app)
        running.cancel()
        pool.flush()
        self.assertEqual(called, [])
        self.assertEqual(sink.calls, [FINISHED])

    def test_write(self) -> None:
        """
        After the cancellation, C{write()} raises L{RequestCancelled}; this
        is not logged as a failure.
        """
        raised: list[BaseException] = []
        sink = self.cancelledAtHead(writingTwice(raised))
        self.assertEqual(sink.calls, [sentHead([b"a"], True), FINISHED])
        self.assertEqual(len(raised), 1)
        self.assertEqual(self.failures(), [])

    def test_input(self) -> None:
        """
        After the cancellation, reading C{wsgi.input} raises
        L{RequestCancelled}.
        """
        raised: list[BaseException] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)(b"a")
            try:
                environ["wsgi.input"].read()
            except RequestCancelled as e:
                raised.append(e)
            return [b"b"]

        sink = self.cancelledAtHead(app, head=requestHead(method="POST", more=True))
        self.assertEqual(len(raised), 1)
        self.assertEqual(sink.calls, [sentHead([b"a"], True), FINISHED])

    def test_otherFailureLogged(self) -> None:
        """
        Another exception after the cancellation is logged, and still
        nothing but C{finished} reaches the sink.
        """
        sink = self.cancelledAtHead(
            answering(ClosingIterable([b"a"], ValueError("close failed")))
        )
        self.assertEqual(sink.calls, [sentHead([b"a"], True), FINISHED])
        self.assertEqual(len(self.failures()), 1)

    def test_afterFinished(self) -> None:
        """
        Cancelling a finished request does nothing.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return []

        running, pool, sink = self.startRun(app)
        pool.flush()
        running.cancel()
        running.cancel()
        self.assertEqual(sink.calls, whole([], headers=[*BTEXT, (b"Content-Length", b"0")]))


class WithdrawTests(RunnerMixin, SynchronousTestCase):
    """
    L{RunningRequest.withdraw}: a request no thread has taken is taken back
    for good.
    """

    def test_beforeThread(self) -> None:
        """
        Taken back before a thread takes it, the application is never
        called and the sink hears nothing, not even C{finished}, when the
        thread comes to it; it cannot be taken back twice.
        """
        called = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            called.append(environ)
            startResponse("200 OK", TEXT)
            return [b"a"]

        running, pool, sink = self.startRun(app)
        self.assertTrue(running.withdraw())
        self.assertFalse(running.withdraw())
        pool.flush()
        self.assertEqual((called, sink.calls), ([], []))
        self.assertFalse(running.started)

    def test_afterThread(self) -> None:
        """
        Once a thread has taken the request, it cannot be taken back: the
        response goes to the sink as always.
        """
        seen: list[bool] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            seen.append(running.withdraw())
            startResponse("200 OK", TEXT)
            return [b"a"]

        running, pool, sink = self.startRun(app)
        pool.flush()
        self.assertEqual(seen, [False])
        self.assertEqual(sink.calls[-1], FINISHED)
        self.assertFalse(running.withdraw())


class WhereTests(RunnerMixin, SynchronousTestCase):
    """
    L{RunningRequest.where}: where the application thread running a
    request is, for the warning of a request stuck after its cancel.
    """

    def test_inApplication(self) -> None:
        """
        While the application runs, C{where} gives its thread's stack from
        the application's call on, with the application's own line: not
        the frames that lead to it (the test's, the pool's, L{_run}'s and
        this module's).  (Here it is asked in the application's thread, so
        the stack goes on into C{where}.)
        """
        stacks: list[str | None] = []

        def stuckView(environ: Any, startResponse: Any) -> list[bytes]:
            stacks.append(running.where())  # the line a stuck call would be on
            startResponse("204 No Content", [])
            return []

        running, pool, _sink = self.startRun(stuckView)
        pool.flush()
        [stack] = stacks
        assert stack is not None
        self.assertTrue(
            stack.startswith(f'  File "{__file__}", line '), stack
        )
        self.assertIn(
            ", in stuckView\n"
            "    stacks.append(running.where())  # the line a stuck call would be on\n"
            "  File ",
            stack,
        )
        self.assertEqual(stack.count("  File "), 2, stack)

    def test_betweenChunks(self) -> None:
        """
        L{RunningRequest.betweenChunks} is true while the application
        thread is in the iterable of a response that streams, its head
        sent, for the next chunk (a stream between two events): not in the
        application's call, nor while the first chunk is made (no head
        sent: the response has not begun), nor once the request is done.
        """
        seen: list[tuple[str, int, bool]] = []

        def events() -> Iterator[bytes]:
            seen.append(("first", len(sink.calls), running.betweenChunks))
            yield b"data: 1\n\n"
            seen.append(("second", len(sink.calls), running.betweenChunks))
            yield b"data: 2\n\n"
            seen.append(("end", len(sink.calls), running.betweenChunks))

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            seen.append(("call", len(sink.calls), running.betweenChunks))
            startResponse("200 OK", [("Content-Type", "text/event-stream")])
            return events()

        running, pool, sink = self.startRun(app)
        self.assertFalse(running.betweenChunks)
        pool.flush()
        # (The head goes with the first chunk: one call of the sink.)
        self.assertEqual(
            seen,
            [("call", 0, False), ("first", 0, False), ("second", 1, True),
             ("end", 2, True)],
        )
        self.assertEqual(sink.calls[-1], FINISHED)
        self.assertFalse(running.betweenChunks)

    def test_betweenWrites(self) -> None:
        """
        L{RunningRequest.betweenChunks} is true too while an application
        that streams with C{write()} is in its own call after a write (its
        next C{write()} raises once cancelled): not before its first one,
        nor once the request is done.  (A handler warned of every such
        stream its client left, "the application does not return".)
        """
        seen: list[tuple[str, bool]] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", [("Content-Type", "text/event-stream")])
            seen.append(("called", running.betweenChunks))
            write(b"data: 1\n\n")
            seen.append(("written", running.betweenChunks))
            write(b"data: 2\n\n")
            return []

        running, pool, sink = self.startRun(app)
        pool.flush()
        self.assertEqual(seen, [("called", False), ("written", True)])
        self.assertEqual(sink.calls[-1], FINISHED)
        self.assertFalse(running.betweenChunks)

    def test_writesEndWithTheCall(self) -> None:
        """
        Once the application's call that wrote returns, its writes no longer
        make L{RunningRequest.betweenChunks} true: a wait in its result's
        C{close()} (a teardown that blocks) is no stream between two events,
        and no chunk ends it, so that a handler warns of it once cancelled
        as of any call that does not return.  In the result's iterable it is
        true as for any other.
        """
        seen: list[tuple[str, bool]] = []

        class Result:
            def __iter__(self) -> Iterator[bytes]:
                seen.append(("iterated", running.betweenChunks))
                yield b"data: 2\n\n"

            def close(self) -> None:
                seen.append(("closed", running.betweenChunks))

        def app(environ: Any, startResponse: Any) -> Result:
            write = startResponse("200 OK", [("Content-Type", "text/event-stream")])
            write(b"data: 1\n\n")
            return Result()

        running, pool, sink = self.startRun(app)
        pool.flush()
        self.assertEqual(seen, [("iterated", True), ("closed", False)])
        self.assertEqual(sink.calls[-1], FINISHED)

    def test_notRunning(self) -> None:
        """
        Before a thread takes the request, and once it is done, C{where} is
        L{None}.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("204 No Content", [])
            return []

        running, pool, sink = self.startRun(app)
        self.assertIsNone(running.where())
        self.assertFalse(running.started)
        pool.flush()
        self.assertEqual(sink.calls[-1], FINISHED)
        self.assertIsNone(running.where())
        self.assertTrue(running.started)


class ValidatorTests(RunnerMixin, SynchronousTestCase):
    """
    Applications wrapped in L{wsgiref.validate.validator} find nothing
    wrong with the runner.
    """

    def runValidated(
        self,
        app: Callable[..., Any],
        head: RequestHead | None = None,
        body: Sequence[bytes] = (),
    ) -> list[tuple[Any, ...]]:
        """
        Run C{validator(app)}; check that nothing failed or warned, and
        that the iterable was closed.
        """
        results: list[Any] = []
        checked = validator(app)

        def keeping(environ: Any, startResponse: Any) -> Any:
            result = checked(environ, startResponse)
            results.append(result)
            return result

        calls = self.runApp(keeping, head, body)
        self.assertEqual(self.failures(), [])
        self.assertEqual(self.flushWarnings(), [])
        self.assertTrue(results[0].closed)
        return calls

    def test_get(self) -> None:
        """
        A C{GET} answered with a list.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"hello"]

        self.assertEqual(
            self.runValidated(
                app, requestHead("/p%20q?x=1", headers=[("Host", "example.com")])
            ),
            streamed([b"hello"]),
        )

    def test_post(self) -> None:
        """
        A C{POST} whose body the application reads.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            length = int(environ["CONTENT_LENGTH"])
            data = environ["wsgi.input"].read(length)
            environ["wsgi.errors"].write("read body\n")
            startResponse("200 OK", TEXT)
            return [data.upper()]

        head = requestHead(
            method="POST",
            headers=[("Content-Type", "text/plain"), ("Content-Length", "6")],
        )
        self.assertEqual(
            self.runValidated(app, head, [b"abc", b"def"])[0][4], [b"ABCDEF"]
        )

    def test_generator(self) -> None:
        """
        A generator application.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"
            yield b"b"

        self.assertEqual(self.runValidated(app), streamed([b"a"], [b"b"]))

    def test_write(self) -> None:
        """
        An application using C{write()}.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"a")
            return []

        self.assertEqual(self.runValidated(app), streamed([b"a"]))


class PacedTestCase(RunnerMixin, SynchronousTestCase):
    """
    Run applications whose thread waits, for window or for request body, on
    a L{ScriptedCondition}: each wait runs the next step, in the reactor
    thread's place.
    """

    def start(
        self, app: Callable[..., Any], *steps: Callable[[RunningRequest], object], **kw: Any
    ) -> tuple[RunningRequest, SynchronousThreadPool, RecordingSink, ScriptedCondition]:
        """
        Start C{app} on a request, without running it yet.

        @param steps: what to do at each wait, given the running request.
        @param kw: L{startRun}'s keyword arguments.
        """
        condition = ScriptedCondition()
        running, pool, sink = self.startRun(app, newCondition=lambda: condition, **kw)
        condition.steps = [partial(step, running) for step in steps]
        return running, pool, sink, condition


class ResponseWindowTests(PacedTestCase):
    """
    The front's response window paces what the application sends.  The
    windows here are a few bytes (mpfront grants 2 MiB), so that a few
    short chunks use them up.
    """

    def test_windowBlocksIteration(self) -> None:
        """
        Once the window is used up, the application thread waits before
        sending the next chunk, and does not ask the iterable for another,
        until L{RunningRequest.windowReceived} makes the window positive
        again.
        """
        iterable = ClosingIterable([b"ab", b"cd", b"ef", b"gh"])
        seen: list[tuple[int, int]] = []

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            startResponse("200 OK", TEXT)
            return iterable

        def grant(size: int, running: RunningRequest) -> None:
            seen.append((iterable.nexts, len(sink.calls)))
            running.windowReceived(size)

        _running, pool, sink, _condition = self.start(
            app, partial(grant, 1), partial(grant, 2), partial(grant, 1),
            head=requestHead(window=3),
        )
        pool.flush()
        # 3 - 2 - 2 = -1: waits before "ef"; +1 = 0: waits again; +2: sends
        # "ef" (window 0) and waits before "gh"; +1: sends "gh".
        self.assertEqual(seen, [(3, 2), (3, 2), (4, 3)])
        self.assertEqual(sink.calls, streamed([b"ab"], [b"cd"], [b"ef"], [b"gh"]))

    def test_windowReopened(self) -> None:
        """
        A window that is granted as the client takes the body lets the whole
        response through, in order, ending as usual.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield from [b"a", b"b", b"c"]

        def grant(running: RunningRequest) -> None:
            running.windowReceived(1)

        _running, pool, sink, condition = self.start(
            app, grant, grant, head=requestHead(window=1)
        )
        pool.flush()
        self.assertEqual(condition.waits, 2)
        self.assertEqual(sink.calls, streamed([b"a"], [b"b"], [b"c"]))

    def startGranting(
        self, app: Callable[..., Any], window: int, size: int
    ) -> tuple[SynchronousThreadPool, RecordingSink, list[int]]:
        """
        Start C{app} with a response window of C{window}, where the
        application's first wait records how many sink calls were made
        before it, and grants C{size} bytes.

        @return: the pool, the sink and what the wait recorded.
        """
        sent: list[int] = []

        def grant(running: RunningRequest) -> None:
            sent.append(len(sink.calls))
            running.windowReceived(size)

        _running, pool, sink, _condition = self.start(
            app, grant, head=requestHead(window=window)
        )
        return pool, sink, sent

    def test_firstChunkWaits(self) -> None:
        """
        With a window of zero, even the head and first chunk wait.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield b"a"

        pool, sink, sent = self.startGranting(app, 0, 10)
        pool.flush()
        self.assertEqual(sent, [0])
        self.assertEqual(sink.calls[0], sentHead([b"a"], True))

    def test_bigChunkWhole(self) -> None:
        """
        A chunk bigger than what is left of the window is sent whole, and
        the window goes below zero: the next chunk waits until the window
        is positive again.
        """
        big = b"x" * 100

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            yield big
            yield b"y"

        def grant(size: int, running: RunningRequest) -> None:
            running.windowReceived(size)

        _running, pool, sink, condition = self.start(
            app, partial(grant, 98), partial(grant, 1), partial(grant, 1),
            head=requestHead(window=1),
        )
        pool.flush()
        # 1 - 100 = -99; +98 = -1: waits again; +1 = 0: waits again; +1.
        self.assertEqual(condition.waits, 3)
        self.assertIs(sentChunks(sink.calls[0])[0], big)
        self.assertEqual(sink.calls[1:], [
            ("sendBody", [b"y"], False), ("sendBody", [], True), FINISHED
        ])

    def test_write(self) -> None:
        """
        C{write()} waits for window like the iterable.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            write = startResponse("200 OK", TEXT)
            write(b"ab")
            write(b"c")
            return []

        pool, sink, sent = self.startGranting(app, 2, 5)
        pool.flush()
        self.assertEqual(sent, [1])
        self.assertEqual(sink.calls, streamed([b"ab"], [b"c"]))

    def test_fileWrapper(self) -> None:
        """
        A L{FileWrapper} is read one 64 KiB chunk at a time, each chunk
        waiting for window, never the whole file and never more than one
        chunk ahead of what the window lets through.
        """
        data = b"z" * 200000
        f = RecordingFile(data)
        seen: list[tuple[int, int]] = []

        def app(environ: dict[str, Any], startResponse: Any) -> Any:
            startResponse("200 OK", TEXT)
            return environ["wsgi.file_wrapper"](f)

        def grant(running: RunningRequest) -> None:
            seen.append((len(f.sizes), len(sink.calls)))
            running.windowReceived(65536)

        _running, pool, sink, _condition = self.start(
            app, grant, grant, grant, head=requestHead(window=65536)
        )
        pool.flush()
        self.assertEqual(seen, [(2, 1), (3, 2), (4, 3)])
        self.assertEqual(f.sizes, [65536] * 5)
        self.assertEqual(
            [len(sentChunks(call)[0]) for call in sink.calls[:4]],
            [65536, 65536, 65536, 200000 - 3 * 65536],
        )
        self.assertEqual(sink.calls[4:], [("sendBody", [], True), FINISHED])
        self.assertTrue(f.closed)

    def test_listNotPaced(self) -> None:
        """
        A list is sent whole with its head, whatever the window: it is in
        memory already.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"a", b"b", b"c"]

        _running, pool, sink, condition = self.start(app, head=requestHead(window=1))
        pool.flush()
        self.assertEqual(condition.waits, 0)
        self.assertEqual(
            sink.calls, whole([b"a", b"b", b"c"], headers=[*BTEXT, (b"Content-Length", b"3")])
        )

    def test_unlimitedWithoutWindow(self) -> None:
        """
        A request without a C{window} attribute (from a front that does not
        pace responses) is never paced, and C{WINDOW}s for it are ignored.
        """

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", TEXT)
            for _ in range(10):
                yield b"x" * 1000

        running, pool, sink, condition = self.start(app)
        notified = condition.notifies
        running.windowReceived(5)
        self.assertEqual(condition.notifies, notified)
        pool.flush()
        self.assertEqual(condition.waits, 0)
        self.assertEqual(len(sink.calls), 12)

    def test_windowReceivedWakes(self) -> None:
        """
        L{RunningRequest.windowReceived} wakes the application thread.
        """
        running, _pool, _sink, condition = self.start(
            lambda environ, startResponse: [], head=requestHead(window=0)
        )
        notified = condition.notifies
        running.windowReceived(1)
        self.assertEqual(condition.notifies, notified + 1)

    def test_cancelWakesWaiter(self) -> None:
        """
        Cancelled while waiting for window, the application thread stops
        waiting, does not send the chunk, closes the iterable, and the sink
        gets nothing more but C{finished}; no failure is logged.
        """
        iterable = ClosingIterable([b"ab", b"cd", b"ef"])

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            startResponse("200 OK", TEXT)
            return iterable

        _running, pool, sink, condition = self.start(
            app, lambda running: running.cancel(), head=requestHead(window=2)
        )
        pool.flush()
        self.assertEqual(condition.waits, 1)
        self.assertEqual(sink.calls, [sentHead([b"ab"], True), FINISHED])
        self.assertEqual((iterable.nexts, iterable.closes), (2, 1))
        self.assertEqual(self.failures(), [])

    def test_waitingOnFront(self) -> None:
        """
        L{RunningRequest.waitingOnFront} is true while the application
        thread waits for body, and while it waits for window; not before
        it runs nor after.
        """
        seen: list[bool] = []

        def app(environ: Any, startResponse: Any) -> Iterator[bytes]:
            environ["wsgi.input"].read(100)
            startResponse("200 OK", TEXT)
            yield b"ab"
            yield b"cd"

        def body(running: RunningRequest) -> None:
            seen.append(running.waitingOnFront)
            running.bodyReceived([b"x"], True)

        def window(running: RunningRequest) -> None:
            seen.append(running.waitingOnFront)
            running.windowReceived(10)

        running, pool, _sink, condition = self.start(
            app, body, window,
            head=requestHead(method="POST", more=True, window=2), body=[b"x" * 99],
        )
        self.assertFalse(running.waitingOnFront)
        pool.flush()
        self.assertEqual((condition.waits, seen), (2, [True, True]))
        self.assertFalse(running.waitingOnFront)

    def test_cancelWakesWriter(self) -> None:
        """
        Cancelled while C{write()} waits for window, C{write()} raises
        L{RequestCancelled}.
        """
        raised: list[BaseException] = []
        _running, pool, sink, _condition = self.start(
            writingTwice(raised), lambda running: running.cancel(), head=requestHead(window=1)
        )
        pool.flush()
        self.assertEqual(len(raised), 1)
        self.assertEqual(sink.calls, [sentHead([b"a"], True), FINISHED])
        self.assertEqual(self.failures(), [])

    def test_windowAfterCancel(self) -> None:
        """
        A window granted after the cancellation is ignored.
        """
        running, _pool, _sink, condition = self.start(
            lambda environ, startResponse: [], head=requestHead(window=0)
        )
        running.cancel()
        notified = condition.notifies
        running.windowReceived(1)
        self.assertEqual(condition.notifies, notified)


class RequestBodyFlowTests(PacedTestCase):
    """
    A streamed request body (C{more} set): reads wait for it, and what the
    application read is granted back to the front.
    """

    def windows(self, calls: list[tuple[Any, ...]]) -> list[int]:
        """
        The windows granted in C{calls} to a sink.
        """
        return [call[1] for call in calls if call[0] == "sendWindow"]

    def test_grantsBatched(self) -> None:
        """
        What the application reads is granted in batches of a quarter of
        L{INPUT_WINDOW}, and what is left at the end of the body, through
        the reactor thread.
        """
        body = [b"q" * 40000] * 5

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            read = environ["wsgi.input"].read
            while read(10000):
                pass
            startResponse("204 No Content", [])
            return []

        reactor = runningReactor()
        running, pool, sink, _condition = self.start(
            app, head=requestHead(method="POST", more=True), body=body[:1],
            reactor=reactor,
        )
        running.bodyReceived(body[1:], True)
        pool.flush()
        response = whole([], headers=[], status=204, reason=b"No Content")
        self.assertEqual(sink.calls, response)
        reactor.flush()
        self.assertEqual(INPUT_WINDOW // INPUT_GRANT_DIVISOR, 65536)
        self.assertEqual(self.windows(sink.calls), [70000, 70000, 60000])
        self.assertEqual(sink.calls[:2], response)

    def test_readWaitsForBody(self) -> None:
        """
        A read waits until the front sends enough of the body, and the
        grants follow the reads.
        """
        chunk = b"r" * 65536
        reads: list[bytes] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            reads.append(environ["wsgi.input"].read(65536))
            reads.append(environ["wsgi.input"].read(65536))
            reads.append(environ["wsgi.input"].read(65536))
            startResponse("204 No Content", [])
            return []

        def more(end: bool, running: RunningRequest) -> None:
            running.bodyReceived([chunk], end)

        _running, pool, sink, condition = self.start(
            app, partial(more, False), partial(more, True),
            head=requestHead(method="POST", more=True),
        )
        pool.flush()
        self.assertEqual(condition.waits, 2)
        self.assertEqual(reads, [chunk, chunk, b""])
        self.assertEqual(self.windows(sink.calls), [65536, 65536])

    def test_bodyBeforeThread(self) -> None:
        """
        Body that arrives before the application thread starts waits for
        it in the stream.
        """

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            startResponse("200 OK", TEXT)
            return [b"".join(environ["wsgi.input"])]

        running, pool, sink, condition = self.start(
            app, head=requestHead(method="POST", more=True), body=[b"a\n"]
        )
        running.bodyReceived([b"b\n", b"c"], False)
        running.bodyReceived([], True)
        pool.flush()
        self.assertEqual(condition.waits, 0)
        self.assertEqual(sink.calls[1][4], [b"a\nb\nc"])

    def readPaced(self, read: Callable[[Any], bytes], body: bytes) -> bytes:
        """
        Run an application that reads a streamed request body with C{read}
        from a front that honours the handler's window, as the real one
        does: it sends L{INPUT_WINDOW} bytes ahead of what was granted, and
        no more.

        @return: what C{read} returned.
        @raise AssertionError: if the application waits for body that the
            front may not send yet: a deadlock.
        """
        sent = min(INPUT_WINDOW, len(body))
        result: list[bytes] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            result.append(read(environ["wsgi.input"]))
            startResponse("204 No Content", [])
            return []

        def front(running: RunningRequest) -> None:
            nonlocal sent
            allowed = min(INPUT_WINDOW + sum(self.windows(sink.calls)), len(body))
            if allowed <= sent:
                raise AssertionError(
                    "the application waits for body beyond the window: deadlock"
                )
            running.bodyReceived([body[sent:allowed]], allowed == len(body))
            sent = allowed

        running, pool, sink, _condition = self.start(
            app, *[front] * (2 + 4 * len(body) // INPUT_WINDOW),
            head=requestHead(method="POST", more=True), body=[body[:sent]],
        )
        if sent == len(body):
            running.bodyReceived([], True)
        pool.flush()
        self.assertEqual(self.failures(), [])
        self.assertEqual(len(result), 1)
        return result[0]

    def test_readMoreThanWindow(self) -> None:
        """
        C{read(n)} for more than the handler's window completes: while it
        waits, what it has taken so far is granted, so the front sends the
        rest.
        """
        body = bytes(range(256)) * (INPUT_WINDOW // 64 + 3)
        self.assertEqual(
            self.readPaced(lambda stream: stream.read(len(body)), body), body
        )

    def test_readAllMoreThanWindow(self) -> None:
        """
        C{read()} of a body of unknown length, larger than the window,
        returns all of it.
        """
        body = b"0123456789abcdef" * (INPUT_WINDOW // 8 + 1)
        self.assertEqual(self.readPaced(lambda stream: stream.read(), body), body)

    def test_readlineMoreThanWindow(self) -> None:
        """
        C{readline()} on a body with no newline, larger than the window,
        returns all of it; C{readline(n)} returns C{n} bytes.
        """
        body = b"z" * (2 * INPUT_WINDOW + 7)
        self.assertEqual(
            self.readPaced(lambda stream: stream.readline(), body), body
        )
        limit = INPUT_WINDOW + 9
        self.assertEqual(
            self.readPaced(lambda stream: stream.readline(limit), body),
            body[:limit],
        )

    def test_readlineLongLine(self) -> None:
        """
        A line longer than the window, then more lines: C{readlines()}
        returns them all.
        """
        body = b"a" * (INPUT_WINDOW + 3) + b"\nb\n" + b"c" * INPUT_WINDOW
        self.assertEqual(
            self.readPaced(lambda stream: b"|".join(stream.readlines()), body),
            b"|".join(body.splitlines(True)),
        )

    def test_wholeBodyNotGranted(self) -> None:
        """
        A body that came whole with the request (C{more} not set) is not
        paced: nothing is granted.
        """

        calls = self.runApp(echoBody, requestHead(method="POST"), [b"x" * 100000])
        self.assertEqual(self.windows(calls), [])

    def test_cancelWakesReader(self) -> None:
        """
        Cancelled while a read waits for body, the read raises
        L{RequestCancelled}, the application's iterable is closed, and the
        sink gets nothing but C{finished} after the grant of what the read
        had taken before it waited.
        """
        raised: list[BaseException] = []
        iterable = ClosingIterable([])

        def app(environ: Any, startResponse: Any) -> ClosingIterable:
            try:
                environ["wsgi.input"].read(100)
            except RequestCancelled as e:
                raised.append(e)
            startResponse("200 OK", TEXT)
            return iterable

        _running, pool, sink, _condition = self.start(
            app, lambda running: running.cancel(),
            head=requestHead(method="POST", more=True), body=[b"x" * 99],
        )
        pool.flush()
        self.assertEqual(len(raised), 1)
        self.assertEqual(iterable.closes, 1)
        self.assertEqual(sink.calls, [("sendWindow", 99), FINISHED])
        self.assertEqual(self.failures(), [])

    def test_grantDroppedAfterCancel(self) -> None:
        """
        A grant on its way to the reactor thread when the request is
        cancelled is dropped.
        """

        started: list[RunningRequest] = []

        def app(environ: Any, startResponse: Any) -> list[bytes]:
            environ["wsgi.input"].read()
            # The reactor thread cancels the request now, the grant for
            # what was read not sent yet.
            started[0].cancel()
            startResponse("200 OK", TEXT)
            return []

        reactor = runningReactor()
        running, pool, sink, _condition = self.start(
            app, head=requestHead(method="POST", more=True), body=[b"x" * 100000],
            reactor=reactor,
        )
        started.append(running)
        running.bodyReceived([], True)
        pool.flush()
        reactor.flush()
        self.assertEqual(sink.calls, [FINISHED])

    def test_bodyAfterEnd(self) -> None:
        """
        Body received after its end (a misbehaving front) is dropped, and
        logged once for the request, however often it comes: a front may
        send it as fast as it likes.
        """

        running, pool, sink, _condition = self.start(
            echoBody, head=requestHead(method="POST", more=True), body=[b"a"]
        )
        running.bodyReceived([b"b"], True)
        for _ in range(100):
            running.bodyReceived([b"c"], False)
        running.bodyReceived([b"d"], True)
        pool.flush()
        self.assertEqual(sink.calls[1][4], [b"ab"])
        self.assertEqual(
            len([e for e in self.events if "after its end" in e["log_format"]]), 1
        )


class ProfilingTests(SynchronousTestCase):
    """
    L{WSGIRunner} runs requests profiled while its profiler is active.
    """

    def test_profiledWhileActive(self) -> None:
        """
        A request run while the runner's profiler is active is in the
        profile; one run before it started is not.
        """
        calls: list[str] = []

        def distinctiveRequestWork() -> None:
            calls.append("work")

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            if len(calls) == 1:
                distinctiveRequestWork()
            else:
                calls.append("before")
            startResponse("204 No Content", [])
            return []

        reactor = runningReactor()
        runner = WSGIRunner(reactor, SynchronousThreadPool(), app)
        runner.profiler = Profiler()
        runner.run(b"req-1", requestHead(), [], RecordingSink())
        runner.profiler.start()
        runner.run(b"req-2", requestHead(), [], RecordingSink())
        reactor.flush()
        path = FilePath(self.mktemp()).path
        self.assertEqual(runner.profiler.stop(path), 1)
        self.assertEqual(calls, ["before", "work"])
        names = [name for (_, _, name) in pstats.Stats(path).stats]  # type: ignore[attr-defined]
        self.assertIn("distinctiveRequestWork", names)
