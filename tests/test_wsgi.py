# -*- test-case-name: tests.test_wsgi -*-
"""
The handler is a PEP 3333 server: an application wrapped in
L{wsgiref.validate.validator} runs without a single validator error.

The validator raises C{AssertionError} inside the application when the
server breaks the specification, which the front reports as a 500; so every
test here asserts a 200 and the exact body.
"""

from __future__ import annotations

import json

from ._harness import SystemTestCase, asyncTest
from .apps import validated

APP = "tests.apps.validated:app"

LINES = b"first line\nsecond, longer line of input\n\n\xff\x00 binary line\nno newline at end"


class ValidatedApplicationTests(SystemTestCase):
    """
    Each test starts a front and one single-threaded handler serving the
    validated application, so requests run one after the other.
    """

    BOOLEANS = frozenset({"wsgi.multithread", "wsgi.multiprocess"})

    async def setUpProcesses(self) -> None:
        """
        Start the front and the handler.
        """
        self.front, self.handler = await self.startFrontAndHandler(APP, "--threads", "1")

    @asyncTest
    async def test_listBody(self) -> None:
        """
        A body given as a list with a C{Content-Length} is served.
        """
        await self.setUpProcesses()
        self.assertResponse(await self.get("/"), 200, validated.HELLO)

    @asyncTest
    async def test_generatorBodyIsClosed(self) -> None:
        """
        A body iterable without C{Content-Length}, with an empty piece, is
        served whole, and the server calls its C{close} method once per
        response.
        """
        await self.setUpProcesses()
        for _ in range(3):
            self.assertResponse(
                await self.get("/generator"), 200, b"".join(validated.GENERATOR_PIECES)
            )
        result = await self.get("/closes")
        self.assertResponse(result, 200)
        self.assertEqual(
            json.loads(result.body),
            {"iterables": 3, "closed": 3},
            "the server did not close every body iterable" + self.transcript(),
        )

    @asyncTest
    async def test_writeCallable(self) -> None:
        """
        Bytes given to the C{write} callable come first, followed by the
        returned iterable.
        """
        await self.setUpProcesses()
        self.assertResponse(
            await self.get("/write"),
            200,
            b"".join(validated.WRITTEN + validated.RETURNED),
        )

    @asyncTest
    async def test_input(self) -> None:
        """
        C{wsgi.input} gives the request body through C{read(size)},
        C{readline()}, C{readline(size)}, C{readlines()} and iteration, and
        ends at the end of the body.
        """
        await self.setUpProcesses()
        for mode in ["read", "readline", "readline-sized", "readlines", "iter"]:
            result = await self.request(b"POST", f"/input?mode={mode}", LINES)
            self.assertEqual(
                (result.code, result.body),
                (200, LINES),
                f"wsgi.input mode {mode}" + self.transcript(),
            )

    @asyncTest
    async def test_emptyInput(self) -> None:
        """
        A request without a body reads as empty.
        """
        await self.setUpProcesses()
        for mode in ["read", "readline", "readlines", "iter"]:
            result = await self.get(f"/input?mode={mode}")
            self.assertEqual(
                (result.code, result.body),
                (200, b""),
                f"wsgi.input mode {mode}" + self.transcript(),
            )

    @asyncTest
    async def test_errors(self) -> None:
        """
        The application can write text to C{wsgi.errors}.
        """
        await self.setUpProcesses()
        self.assertResponse(await self.get("/errors"), 200, b'"ok"')

    @asyncTest
    async def test_environ(self) -> None:
        """
        The environment carries the method, the unquoted path, the raw
        query string, the content type and length, the protocol and the
        request headers, with the CGI names PEP 3333 gives them; and the
        handler of one thread says the application is not multithreaded.
        """
        await self.setUpProcesses()
        result = await self.request(
            b"POST",
            "/environ/a%20b?x=1&y=%20z",
            b"field=value",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Custom-Header": "custom value",
            },
        )
        self.assertResponse(result, 200)
        environ = json.loads(result.body)
        self.assertEqual(
            {k: v for (k, v) in environ.items() if k not in self.BOOLEANS},
            {
                "REQUEST_METHOD": "POST",
                "SCRIPT_NAME": "",
                "PATH_INFO": "/environ/a b",
                "QUERY_STRING": "x=1&y=%20z",
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "CONTENT_LENGTH": "11",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_X_CUSTOM_HEADER": "custom value",
                "wsgi.url_scheme": "http",
                "wsgi.run_once": False,
            },
            self.transcript(),
        )
        # One thread (--threads 1): the application is never invoked by
        # two threads at once, and may rely on it (docs/benchmarks.md).
        self.assertIs(
            environ["wsgi.multithread"],
            False,
            "wsgi.multithread must be false with --threads 1" + self.transcript(),
        )
        # Several handler processes may run the same application at once:
        # an application that keeps state in memory needs to know.
        self.assertIs(
            environ["wsgi.multiprocess"],
            True,
            "wsgi.multiprocess must be true when handlers are processes" + self.transcript(),
        )

    @asyncTest
    async def test_head(self) -> None:
        """
        A C{HEAD} request runs the validated application and is answered
        with its headers and no body.
        """
        await self.setUpProcesses()
        await self.assertHeadResponse(len(validated.HELLO))

    @asyncTest
    async def test_validatorNeverComplained(self) -> None:
        """
        After a request of every kind, the handler has logged no validator
        complaint (such as an iterable collected without being closed).
        """
        await self.setUpProcesses()
        for path in ["/", "/generator", "/write", "/errors", "/environ"]:
            self.assertResponse(await self.get(path), 200)
        await self.handler.stop()
        output = "\n".join(self.handler.lines)
        for complaint in ["AssertionError", "WSGIWarning", "without being closed"]:
            self.assertNotIn(complaint, output, self.transcript())
