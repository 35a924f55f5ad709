# -*- test-case-name: tests.test_frameworks -*-
"""
Applications written for Flask and Django are served unchanged.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from twisted.internet.error import ConnectionDone

from ._harness import (
    RawHTTPClient,
    RawResponse,
    RecordingConnection,
    SystemTestCase,
    asyncTest,
)
from .apps.wholebody import summary

# Many times the handler's input window.
LARGE = 3 * 1024 * 1024

# Linux's shortest delayed ACK: what a response written in two pieces
# waited for at every kept-alive request while Nagle's algorithm was on.
DELAYED_ACK = 0.040

FORM = [("name", "Grace Hopper"), ("language", "COBOL"), ("language", "FLOW-MATIC"), ("empty", "")]

URLENCODED = ("Content-Type", "application/x-www-form-urlencoded")


class FrameworkCase(SystemTestCase):
    """
    A test of an application written for a framework.
    """

    async def exchange(
        self,
        client: RawHTTPClient,
        method: str,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> RawResponse:
        """
        Make one request on C{client}'s connection and read its response.

        @param path: The request-target, as ISO-8859-1 text.
        """
        return await self.withTimeout(
            client.request(
                self.rawRequest(method, path, headers=headers or [], body=body),
                head=method == "HEAD",
            ),
            10,
            f"the response to {method} {path}",
        )


if TYPE_CHECKING:
    _MixinBase = FrameworkCase
else:
    _MixinBase = object


class FrameworkTestsMixin(_MixinBase):
    """
    Tests run against each framework's application, which both implement
    C{/greet}, C{/form}, C{/data}, C{/upload}, C{/conditional},
    C{/caf\xe9} and C{/word/WORD} alike.

    @cvar app: The C{--app} to serve.
    """

    app: str

    @asyncTest
    async def test_queryString(self) -> None:
        """
        A route reads its parameters from a percent-encoded query string.
        """
        await self.startFrontAndHandler(self.app)
        result = await self.get("/greet?name=Ada%20Lovelace%20%E2%9C%93&times=2")
        self.assertResponse(result, 200, "Hello, Ada Lovelace \u2713! ".encode("utf-8") * 2)
        self.assertTrue(
            (result.header("content-type") or "").startswith("text/"), self.transcript()
        )

    @asyncTest
    async def test_postForm(self) -> None:
        """
        A URL-encoded form posted to a route reaches it field by field.
        """
        await self.startFrontAndHandler(self.app)
        result = await self.request(
            b"POST",
            "/form",
            urlencode(FORM).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertResponse(result, 200)
        self.assertEqual(
            json.loads(result.body),
            {
                "method": "POST",
                "fields": {
                    "name": ["Grace Hopper"],
                    "language": ["COBOL", "FLOW-MATIC"],
                    "empty": [""],
                },
            },
            self.transcript(),
        )

    @asyncTest
    async def test_largeBody(self) -> None:
        """
        The framework reads a 3 MiB raw body whole (Flask's C{get_data()},
        Django's C{request.body}) and the route gets it byte for byte.
        """
        await self.startFrontAndHandler(self.app, frontArguments=("--timeout", "20"))
        body = os.urandom(LARGE)
        result = await self.request(
            b"POST", "/data", body, headers={"Content-Type": "application/octet-stream"}
        )
        self.assertResponse(result, 200, summary(body))

    @asyncTest
    async def test_smallChunkedBody(self) -> None:
        """
        The framework reads a chunked body of a few KiB whole (Django's
        C{request.body} reads C{CONTENT_LENGTH} bytes, which the handler
        gives such a body: it came whole).
        """
        await self.startFrontAndHandler(self.app)
        body = os.urandom(10000)
        result = await self.request(
            b"POST",
            "/data",
            body,
            headers={"Content-Type": "application/octet-stream"},
            chunked=True,
        )
        self.assertResponse(result, 200, summary(body))

    @asyncTest
    async def test_largeUpload(self) -> None:
        """
        A 3 MiB file uploaded as C{multipart/form-data} reaches the route
        byte for byte (Flask's C{request.files}, Django's
        C{request.FILES}).
        """
        await self.startFrontAndHandler(self.app, frontArguments=("--timeout", "20"))
        content = os.urandom(LARGE)
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode("ascii"),
                b'Content-Disposition: form-data; name="upload"; filename="blob.bin"\r\n',
                b"Content-Type: application/octet-stream\r\n\r\n",
                content,
                f"\r\n--{boundary}--\r\n".encode("ascii"),
            ]
        )
        result = await self.request(
            b"POST",
            "/upload",
            body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        self.assertResponse(result, 200, summary(content))

    @asyncTest
    async def test_keptAliveNotDelayed(self) -> None:
        """
        Requests one after another on a kept-alive connection are answered
        in well under a delayed ACK each: the framework's response, whose
        head and body the front writes apart, is not held back by Nagle's
        algorithm.
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        durations = []
        for _ in range(20):
            started = time.monotonic()
            response = await self.withTimeout(
                client.request(self.rawRequest("GET", "/greet?name=Ada")),
                10,
                "a kept-alive response",
            )
            durations.append(time.monotonic() - started)
            self.assertEqual(
                (response.code, response.body), (200, b"Hello, Ada! "), self.transcript()
            )
        self.assertLess(statistics.median(durations), DELAYED_ACK * 3 / 4, durations)

    @asyncTest
    async def test_notFound(self) -> None:
        """
        The framework's own 404 reaches the client.
        """
        await self.startFrontAndHandler(self.app)
        result = await self.get("/no/such/route")
        self.assertResponse(result, 404)
        self.assertIn(b"Not Found", result.body, self.transcript())

    @asyncTest
    async def test_conditionalGet(self) -> None:
        """
        A C{GET} whose C{If-None-Match} or C{If-Modified-Since} matches
        what the route serves gets the framework's 304 (Flask's
        C{send_file(conditional=True)}, Django's C{@condition}), which
        has no body and no framing for one (RFC 9110 section 15.4.5, RFC
        9112 section 6.3): the next request on the connection is answered
        whole.
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        first = await self.exchange(client, "GET", "/conditional")
        self.assertEqual(first.code, 200, self.transcript())
        etag, modified = first.header(b"etag"), first.header(b"last-modified")
        assert etag is not None and modified is not None, first
        for name, value in [("If-None-Match", etag), ("If-Modified-Since", modified)]:
            response = await self.exchange(
                client, "GET", "/conditional", [(name, value.decode("latin-1"))]
            )
            self.assertEqual((response.code, response.body), (304, b""), name)
            self.assertIsNone(response.header(b"transfer-encoding"), name)
        again = await self.exchange(client, "GET", "/conditional")
        self.assertEqual((again.code, again.body), (200, first.body), self.transcript())
        self.assertEqual(client.unparsed, b"")

    @asyncTest
    async def test_nonAsciiPath(self) -> None:
        """
        A route whose path is not ASCII (C{/caf\xe9}) matches it asked
        for percent-encoded in UTF-8, as browsers send it, or in raw
        UTF-8, as curl sends it; a route's parameter and a query
        parameter are the text encoded: the application gets
        C{PATH_INFO} and C{QUERY_STRING} as PEP 3333 says, bytes as
        ISO-8859-1 text, which the framework encodes back to bytes and
        decodes as UTF-8.
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        cafe, ete = "/caf\xe9", "\xe9t\xe9"
        for target, expected in [
            ("/caf%C3%A9?name=%C3%A9t%C3%A9", {"path": cafe, "word": "", "name": ete}),
            (f"{cafe}?name={ete}".encode().decode("latin-1"),
             {"path": cafe, "word": "", "name": ete}),
            ("/word/%C3%A9t%C3%A9", {"path": "/word/" + ete, "word": ete, "name": ""}),
        ]:
            response = await self.exchange(client, "GET", target)
            self.assertEqual(response.code, 200, f"{target}: {response!r}" + self.transcript())
            self.assertEqual(json.loads(response.body), expected, target)


class FlaskTests(FrameworkTestsMixin, FrameworkCase):
    """
    A Flask application is served unchanged.
    """

    app = "tests.apps.flaskapp:app"

    @asyncTest
    async def test_largeFormField(self) -> None:
        """
        A URL-encoded form with a 3 MiB field, read by C{request.form},
        reaches the route whole.
        """
        await self.startFrontAndHandler(self.app, frontArguments=("--timeout", "20"))
        value = bytes(range(32, 127)) * (LARGE // 95)
        result = await self.request(
            b"POST",
            "/field",
            urlencode({"blob": value.decode("ascii")}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertResponse(result, 200, summary(value))

    @asyncTest
    async def test_rangeOfFileSeeks(self) -> None:
        """
        A C{Range} request for the last 100 bytes of an 8 MiB file that
        C{send_file} serves (as a browser asks for a part of a video it
        seeks in) gets Werkzeug's C{206} with exactly those bytes, and the
        file is read from where the range starts, not from its start:
        Werkzeug seeks in a C{wsgi.file_wrapper} that says it can, as in
        the one it uses without a server's (under the Werkzeug development
        server the same request reads 100 bytes of the file).
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        size = 8 * 1024 * 1024
        tail = bytes(n % 251 for n in range(size - 100, size))
        response = await self.exchange(
            client, "GET", f"/counted?size={size}", [("Range", f"bytes={size - 100}-")]
        )
        self.assertEqual((response.code, response.body), (206, tail), self.transcript())
        self.assertEqual(
            response.header(b"content-range"),
            f"bytes {size - 100}-{size - 1}/{size}".encode("ascii"),
        )
        read = await self.exchange(client, "GET", "/counted/read")
        self.assertEqual(read.code, 200, self.transcript())
        # What the range holds, and at most one block more (Werkzeug reads
        # the file 8 KiB at a time once it is there).
        self.assertLessEqual(int(read.body), 100 + 8192, read.body)


class DjangoTests(FrameworkTestsMixin, FrameworkCase):
    """
    A Django application is served unchanged.
    """

    app = "tests.apps.djangoapp:app"

    @asyncTest
    async def test_scriptName(self) -> None:
        """
        Behind a proxy that passes C{/app/...} on whole, a front whose
        C{--spawn} handlers are given C{--script-name /app} serves the
        application there, as gunicorn does with its C{SCRIPT_NAME}
        variable: Django routes the rest of the path, and its
        C{request.path}, which its URLs and redirects are made from,
        holds the prefix.  A path outside it gets the handler's 404.
        """
        front = await self.startFront(
            "--spawn", "1", "--app", self.app, "--script-name", "/app/"
        )
        await front.waitForLine("joined")
        client = await self.rawConnection()
        response = await self.exchange(client, "GET", "/app/word/hi?name=x")
        self.assertEqual(response.code, 200, f"{response!r}" + self.transcript())
        self.assertEqual(
            json.loads(response.body), {"path": "/app/word/hi", "word": "hi", "name": "x"}
        )
        outside = await self.exchange(client, "GET", "/word/hi")
        self.assertEqual(
            (outside.code, outside.body), (404, b"404 Not Found\n"), self.transcript()
        )


class DjangoSiteTests(FrameworkCase):
    """
    A Django site as C{startproject} sets one up (L{djangosite}): its
    middleware, its default limits and its console logging.
    """

    app = "tests.apps.djangosite:app"

    async def csrfForm(self, client: RawHTTPClient) -> tuple[str, str]:
        """
        Get Django's form on C{client}'s connection, as a browser does.

        @return: The value of the C{csrftoken} cookie Django set, and the
            token in the form.
        """
        response = await self.exchange(client, "GET", "/csrf")
        self.assertEqual(response.code, 200, self.transcript())
        cookies = [value for name, value in response.headers if name == b"set-cookie"]
        self.assertEqual(len(cookies), 1, response)
        cookie = re.match(rb"csrftoken=([^;]+);", cookies[0])
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.body)
        assert cookie is not None and token is not None, response
        return cookie.group(1).decode("ascii"), token.group(1).decode("ascii")

    def formPost(
        self, token: str, *headers: tuple[str, str]
    ) -> tuple[list[tuple[str, str]], bytes]:
        """
        The headers and body of the form posted back with C{token} in it,
        and C{headers} besides.
        """
        fields = [("csrfmiddlewaretoken", token), ("name", "Ada")]
        return [URLENCODED, *headers], urlencode(fields).encode("ascii")

    @asyncTest
    async def test_csrf(self) -> None:
        """
        Django's CSRF protection as a browser meets it, on one connection:
        a C{GET} of a form sets the C{csrftoken} cookie; the form posted
        back with the cookie and the form's token is accepted, and
        without the cookie refused with Django's 403.  The cookie reaches
        Django from a client that splits its C{Cookie} field in two (as
        an HTTP/2 client may, RFC 9113 section 8.2.3): the handler joins
        them with C{"; "}, the separator of the one C{Cookie} field a
        server expects (RFC 6265 section 5.4), not the C{", "} that joins
        other fields.
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        cookie, token = await self.csrfForm(client)
        headers, body = self.formPost(
            token, ("Cookie", "sessionid=s3ss10n"), ("Cookie", f"csrftoken={cookie}")
        )
        accepted = await self.exchange(client, "POST", "/csrf", headers, body)
        self.assertEqual((accepted.code, accepted.body), (200, b"posted Ada"), self.transcript())
        headers, body = self.formPost(token)
        refused = await self.exchange(client, "POST", "/csrf", headers, body)
        self.assertEqual(refused.code, 403, self.transcript())

    @asyncTest
    async def test_csrfBehindTLSProxy(self) -> None:
        """
        Behind a C{--trusted-proxy} that terminates TLS, a form posted from
        the site's C{https} origin passes Django's C{Origin} check (Django
        4.0 and later compare C{Origin} with the scheme the application is
        told and the C{Host}): Django is told C{https}, from the proxy's
        C{X-Forwarded-Proto}, with no C{SECURE_PROXY_SSL_HEADER}
        setting.  The same post from the C{http} origin is refused.
        """
        await self.startFrontAndHandler(
            self.app, frontArguments=["--trusted-proxy", "127.0.0.1"]
        )
        client = await self.rawConnection()
        cookie, token = await self.csrfForm(client)
        proxied = [("X-Forwarded-Proto", "https"), ("Cookie", f"csrftoken={cookie}")]
        for origin, code in [("https", 200), ("http", 403)]:
            headers, body = self.formPost(
                token, *proxied, ("Origin", f"{origin}://{self.host()}")
            )
            response = await self.exchange(client, "POST", "/csrf", headers, body)
            self.assertEqual(
                response.code, code, f"Origin {origin}: {response!r}" + self.transcript()
            )

    @asyncTest
    async def test_setCookies(self) -> None:
        """
        Each cookie Django sets reaches the client in a C{Set-Cookie}
        field of its own, whole: such fields cannot be joined into one
        (RFC 9110 section 5.3; an C{Expires} date has a comma).
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        response = await self.exchange(client, "GET", "/cookies")
        self.assertEqual(response.code, 200, self.transcript())
        cookies = [value for name, value in response.headers if name == b"set-cookie"]
        self.assertEqual(cookies[:2], [b"first=1; Path=/", b"second=2; HttpOnly; Path=/"])
        self.assertRegex(
            cookies[2],
            rb"^third=3; expires=\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT; Max-Age=60;"
            rb" Path=/; SameSite=Strict$",
        )
        self.assertEqual(len(cookies), 3, response)

    @asyncTest
    async def test_responsesClosed(self) -> None:
        """
        Django's C{FileResponse} (a file through C{wsgi.file_wrapper},
        with its C{Content-Length}) and C{StreamingHttpResponse} (20000
        small chunks, sent chunked) reach the client whole and in order
        to a C{GET}, their heads alone to a C{HEAD}, and each is closed,
        as PEP 3333 says: Django's C{request_finished} signal, on which it
        closes its database connections, came for every one.
        """
        content = os.urandom(LARGE)
        self.workdir.child("data.bin").setContent(content)
        count = 20000
        lines = b"".join(b"%05d\n" % (n,) for n in range(count))
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        for method in ["GET", "HEAD"]:
            file = await self.exchange(client, method, "/file?path=data.bin")
            self.assertEqual(file.code, 200, self.transcript())
            self.assertEqual(file.header(b"content-length"), str(LARGE).encode("ascii"))
            self.assertEqual(
                summary(file.body), summary(content if method == "GET" else b""), method
            )
            stream = await self.exchange(client, method, f"/stream?count={count}")
            self.assertEqual(stream.code, 200, self.transcript())
            self.assertEqual(stream.body, lines if method == "GET" else b"", method)
        self.assertEqual(client.unparsed, b"")
        finished = await self.exchange(client, "GET", "/finished")
        self.assertEqual((finished.code, finished.body), (200, b"4"), self.transcript())

    @asyncTest
    async def test_requestDataTooBig(self) -> None:
        """
        A form larger than Django's C{DATA_UPLOAD_MAX_MEMORY_SIZE} (2.5
        MB), sent whole at once as a browser sends it, gets Django's own
        400, which Django answers without reading the body: the client
        reads it, with C{Connection: close}, then a clean end of the
        connection, the rest of the body never taken for a request (RFC
        9112 section 9.6); the handler serves the next request.
        """
        await self.startFrontAndHandler(self.app)
        client = await self.connect(RecordingConnection())
        body = urlencode({"blob": "x" * LARGE}).encode("ascii")
        client.send(self.rawRequest("POST", "/form", headers=[URLENCODED], body=body))
        await self.withTimeout(client.closed, 10, "the front to close the connection")
        self.assertTrue(
            client.received.startswith(b"HTTP/1.1 400 "), client.received[:300]
        )
        self.assertIn(b"\r\nConnection: close\r\n", client.received)
        self.assertIn(b"<h1>Bad Request (400)</h1>", client.received)
        assert client.reason is not None
        self.assertTrue(client.reason.check(ConnectionDone), client.reason)
        small = urlencode({"blob": "x" * 1000}).encode("ascii")
        result = await self.request(
            b"POST", "/form", small, headers=dict([URLENCODED])
        )
        self.assertResponse(result, 200, summary(b"x" * 1000))

    @asyncTest
    async def test_errorLogged(self) -> None:
        """
        A view that raises gets Django's 500 page; what Django logs of it
        (the C{Internal Server Error} line and its traceback) and what
        the view logged before are in the handler's log, as twistd logs
        what is written to standard error: Django's console handler, made
        as the handler imported the application (before twistd began
        logging), writes to the log twistd redirected standard error to,
        not to the process's own standard error (C{/dev/null} in a
        daemon).  The handler serves the next request.
        """
        _, handler = await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        response = await self.exchange(client, "GET", "/boom")
        self.assertEqual(response.code, 500, self.transcript())
        self.assertIn(b"Server Error (500)", response.body)
        logged = [
            "the boom view is about to raise",
            "Internal Server Error: /boom",
            # (Not djangosite.BOOM: importing it would set Django up here.)
            "RuntimeError: djangosite boom",
        ]
        for line in logged:
            await handler.waitForLine(f"[stderr#error] {line}", timeout=10)
        self.assertEqual(
            [
                line
                for line in handler.lines
                if line.startswith("(stderr) ") and any(text in line for text in logged)
            ],
            [],
            self.transcript(),
        )
        after = await self.exchange(client, "GET", "/finished")
        self.assertEqual(after.code, 200, self.transcript())
