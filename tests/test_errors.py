# -*- test-case-name: tests.test_errors -*-
"""
The front answers for the application when it cannot: 503 when no handler
can take a request, 504 when the application is too slow, 500 when it
raises, 502 when the handler is lost.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from ._harness import (
    HTTPResult,
    IncompleteResponse,
    RawResponse,
    SystemTestCase,
    asyncTest,
    firstOf,
)
from .apps import failing, hello

HELLO = "tests.apps.hello:app"
SLOW = "tests.apps.slow:app"
FAILING = "tests.apps.failing:app"


class UnavailableTests(SystemTestCase):
    """
    Requests wait in a bounded queue for a handler, for a bounded time.
    """

    def assertRetryAfter(self, result: HTTPResult) -> None:
        """
        Assert that C{result} is a 503 with a valid C{Retry-After}.
        """
        self.assertResponse(result, 503)
        retryAfter = result.header("retry-after")
        self.assertIsNotNone(retryAfter, "503 without Retry-After" + self.transcript())
        assert retryAfter is not None
        if not retryAfter.isdigit():
            # The other form RFC 9110 allows is an HTTP-date.
            try:
                parsedate_to_datetime(retryAfter)
            except (TypeError, ValueError):
                self.fail(f"invalid Retry-After: {retryAfter!r}" + self.transcript())

    @asyncTest
    async def test_noHandler(self) -> None:
        """
        With no handler connected, a request waits C{--queue-timeout}
        seconds and is answered 503 with C{Retry-After}.
        """
        await self.startFront("--queue-timeout", "0.5")
        result = await self.get("/")
        self.assertRetryAfter(result)
        self.assertTrue(
            0.4 <= result.elapsed < 5,
            f"503 after {result.elapsed:.2f}s with --queue-timeout 0.5" + self.transcript(),
        )

    @asyncTest
    async def test_queueFullThenHandlerJoins(self) -> None:
        """
        With C{--max-queue 1} and no handler, of two requests one waits and
        the other is answered 503 at once; a handler that joins within the
        queue timeout then serves the waiting one.
        """
        front = await self.startFront("--max-queue", "1", "--queue-timeout", "25")
        requests = [self.get("/"), self.get("/")]
        rejected, index = await self.withTimeout(
            firstOf(requests), 10, "the front to reject a request beyond --max-queue"
        )
        self.assertRetryAfter(rejected)
        waiting = requests[1 - index]
        self.assertNoResult(waiting)
        await self.startHandler("h1", HELLO, front=front)
        self.assertResponse(await waiting, 200, hello.BODY)


class GatewayTimeoutTests(SystemTestCase):
    """
    An application slower than the front's C{--timeout} gets a 504.
    """

    @asyncTest
    async def test_slowApplication(self) -> None:
        """
        A request the application takes 3 seconds over, with C{--timeout 1},
        is answered 504 after about a second; the handler still serves the
        next request.
        """
        await self.startFrontAndHandler(
            SLOW, "--threads", "2", frontArguments=["--timeout", "1"]
        )
        result = await self.get("/slow?seconds=3")
        self.assertResponse(result, 504)
        self.assertTrue(
            0.9 <= result.elapsed < 2.5,
            f"504 after {result.elapsed:.2f}s with --timeout 1" + self.transcript(),
        )
        self.assertResponse(await self.get("/fast"), 200, b"fast\n")


class ApplicationErrorTests(SystemTestCase):
    """
    An exception in the application is a 500 with a plain body that tells
    the client nothing about it; the handler logs it and carries on.
    """

    async def assertInternalError(self, path: str) -> None:
        """
        Assert that C{path} is answered 500 with a plain body that does not
        reveal the exception.
        """
        result = await self.get(path)
        self.assertResponse(result, 500)
        self.assertTrue(
            (result.header("content-type") or "").startswith("text/plain"),
            f"500 with Content-Type {result.header('content-type')}" + self.transcript(),
        )
        for secret in [failing.SECRET, "Traceback", "ApplicationFailure", 'File "']:
            self.assertNotIn(secret.encode("utf-8"), result.body, self.transcript())

    @asyncTest
    async def test_exceptionFromCall(self) -> None:
        """
        An application that raises when called is a 500, and the handler
        logs the exception.
        """
        _, handler = await self.startFrontAndHandler(FAILING)
        await self.assertInternalError("/call")
        await handler.waitForLine("(from the application call)", timeout=10)
        self.assertResponse(await self.get("/ok"), 200, b"ok\n")

    @asyncTest
    async def test_exceptionFromBody(self) -> None:
        """
        An application whose body iterable raises before producing anything
        is a 500, and the handler logs the exception.
        """
        _, handler = await self.startFrontAndHandler(FAILING)
        await self.assertInternalError("/iterate")
        await handler.waitForLine("(from the body iterable)", timeout=10)
        self.assertResponse(await self.get("/ok"), 200, b"ok\n")

    @asyncTest
    async def test_exceptionAfterHead(self) -> None:
        """
        An application that raises after part of its body went out cannot
        be a 500 any more: the client gets a broken connection (or a 502
        if nothing was sent yet), never what looks like a complete
        response.
        """
        _, handler = await self.startFrontAndHandler(FAILING)
        client = await self.rawConnection()
        outcome: RawResponse | IncompleteResponse
        try:
            outcome = await self.withTimeout(
                client.request(self.rawRequest("GET", "/late")), 20, "the /late response"
            )
        except IncompleteResponse as e:
            outcome = e
        if isinstance(outcome, RawResponse):
            self.assertEqual(
                outcome.code,
                502,
                f"a failed response arrived complete: {outcome!r}" + self.transcript(),
            )
        await handler.waitForLine("(after the head was sent)", timeout=10)
        self.assertResponse(await self.get("/ok"), 200, b"ok\n")


class HandlerLostTests(SystemTestCase):
    """
    A handler that dies with a request in flight: the front retries an
    idempotent request on another handler, and answers 502 to others.
    """

    async def requestOnDyingHandler(self, method: bytes) -> HTTPResult:
        """
        Make a request that a slow handler starts on, start a second
        handler serving hello-world, kill the slow handler, and wait for
        the response.

        @param method: The request method.
        @return: The response.
        """
        front = await self.startFront("--timeout", "25")
        slow = await self.startHandler("slow", SLOW, front=front)
        response = self.request(
            method, "/slow?seconds=30", body=b"payload" if method == b"POST" else None
        )
        await slow.waitForLine(f"slow request started: {method.decode()}", timeout=10)
        await self.startHandler("other", HELLO, front=front)
        slow.signal("KILL")
        return await self.withTimeout(response, 15, "a response after the handler died")

    @asyncTest
    async def test_getRetried(self) -> None:
        """
        A C{GET} in flight on a handler that dies is served by another
        handler.
        """
        result = await self.requestOnDyingHandler(b"GET")
        self.assertResponse(result, 200, hello.BODY)

    @asyncTest
    async def test_postFails(self) -> None:
        """
        A C{POST} in flight on a handler that dies, which it would be unsafe
        to repeat, is answered 502.
        """
        result = await self.requestOnDyingHandler(b"POST")
        self.assertResponse(result, 502)
