# -*- test-case-name: tests.test_errors -*-
"""
The front answers for the application when it cannot: 503 when no handler
can take a request, 504 when the application is too slow, 500 when it
raises or frames its response wrongly, 502 when the handler is lost.
"""

from __future__ import annotations

import sys
from email.utils import parsedate_to_datetime

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath

from txmp._defaults import DEFAULT_PREFETCH

from ._harness import (
    READY_TIMEOUT,
    HTTPResult,
    IncompleteResponse,
    RawHTTPClient,
    RawResponse,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    firstOf,
    freePort,
)
from .apps import failing, framing, hello, rawframing

HELLO = "tests.apps.hello:app"
SLOW = "tests.apps.slow:app"
FAILING = "tests.apps.failing:app"
FRAMING = "tests.apps.framing:app"


class _AnsweringTestCase(SystemTestCase):
    """
    What the front answers when a handler or its application fails, and
    that the handler goes on serving.
    """

    async def assertCarriesOn(
        self, handler: TwistdProcess, logged: str, ok: bytes, timeout: float = READY_TIMEOUT
    ) -> None:
        """
        Wait until C{handler} logs C{logged}, then assert that it serves
        C{/ok} with a 200 and the body C{ok}.

        @param timeout: Seconds the log line may take.
        """
        await handler.waitForLine(logged, timeout=timeout)
        self.assertResponse(await self.get("/ok"), 200, ok)

    async def assertCutShort(self, path: str, what: str) -> None:
        """
        Get C{path} and C{/ok} pipelined on one connection, and assert that
        the front closes the connection with neither response complete, so
        that the second cannot be read as the rest of the first.

        @param what: What the front does to the connection, for messages.
        """
        client = await self.rawConnection()
        response = client.request(self.rawRequest("GET", path))
        following = client.request(self.rawRequest("GET", "/ok"))
        await self.withTimeout(client.closed, 20, f"the front to {what} the connection")
        # (Aborted, the connection may lose the head as well, still unsent.)
        self.failureResultOf(response, IncompleteResponse)
        self.failureResultOf(following, IncompleteResponse)


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

    @asyncTest
    async def test_stuckApplicationLocated(self) -> None:
        """
        A request still in the application 5 seconds after its 504 (the
        front cancelled it, and the application does not return) is logged
        by the handler with where the application is stuck: the operator
        sees the line of the call, not only a 504.
        """
        _front, handler = await self.startFrontAndHandler(
            SLOW, frontArguments=["--timeout", "1"]
        )
        result = await self.get("/slow?seconds=8")
        self.assertResponse(result, 504)
        line = await handler.waitForLine("still running 5 s after", timeout=10)
        self.assertIn("holds one of this handler's threads until it does", line, self.transcript())
        self.assertIn("it is at (most recent call last):", line, self.transcript())
        # The stack's last frame is the application's call that blocks...
        await handler.waitForLine(
            "time.sleep(float(query.get(\"seconds\", [\"3\"])[0]))", timeout=5
        )
        # ... and its first is the application's: not the pool's and the
        # runner's frames that lead to it.
        lines = handler.lines
        [at] = [n for n, text in enumerate(lines) if "still running 5 s after" in text]
        self.assertRegex(
            lines[at + 1], r'File ".*[/\\]tests[/\\]apps[/\\]slow\.py", line \d+, in app$',
            self.transcript(),
        )


class ApplicationErrorTests(_AnsweringTestCase):
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
        await self.assertCarriesOn(handler, "(from the application call)", b"ok\n", 10)

    @asyncTest
    async def test_exceptionFromBody(self) -> None:
        """
        An application whose body iterable raises before producing anything
        is a 500, and the handler logs the exception.
        """
        _, handler = await self.startFrontAndHandler(FAILING)
        await self.assertInternalError("/iterate")
        await self.assertCarriesOn(handler, "(from the body iterable)", b"ok\n", 10)

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
        await self.assertCarriesOn(handler, "(after the head was sent)", b"ok\n", 10)


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


class FrozenFrontTests(SystemTestCase):
    """
    A front stopped (SIGSTOP) for longer than three heartbeats while its
    one handler runs a request (a pause as garbage collection, swap or a
    virtual machine's stolen time make): the handler, finding the front
    silent, registers again; the front, once it runs again, reads what the
    handler sent meanwhile before it judges the handler's silence.
    """

    async def pauseFront(self, front: TwistdProcess, handler: TwistdProcess) -> None:
        """
        Stop C{front} (SIGSTOP) until C{handler} has found it silent for
        three heartbeats and registered again, and one heartbeat more (1 s),
        then let it run again (SIGCONT).  The heartbeat more is so that the
        front's check of the handler's silence is overdue when it runs
        again (the handler's last PING before the pause came at most a
        heartbeat before the front's last one), as its reply and queue
        timers are: these tests are of timers that run late.  (A check due
        just after the front runs again runs on time, and is told of the
        pause by the heartbeat's timer, which ran late: C{PauseWatch},
        tested in C{txmp.test.test_registry} and C{test_dispatch}, since
        which of the two comes first here is a matter of milliseconds.)
        """
        front.signal("STOP")
        self.addCleanup(front.signal, "CONT")
        await handler.waitForLine("is silent: registering again", timeout=10)
        await deferLater(reactor, 1.5)
        front.signal("CONT")

    @asyncTest
    async def test_handlerKeptAcrossPause(self) -> None:
        """
        The front does not declare the live handler dead: the C{GET} runs
        once, is served, and the handler's credits all come back.
        """
        statsPort = freePort()
        front = await self.startFront("--timeout", "20", statsPort=statsPort)
        handler = await self.startHandler("h1", SLOW, "--threads", "2", front=front)
        response = self.get("/slow?seconds=6")
        await handler.waitForLine("slow request started: GET", timeout=10)
        await self.pauseFront(front, handler)
        result = await self.withTimeout(response, 15, "the response after the front ran again")
        self.assertResponse(result, 200, b"slow\n")
        # (Its credit comes back by CREDIT, a HELLO having gone since the
        # request came: maybe after the reply, on the other socket.)
        stats = await self.assertIdle(statsPort, credits=[2 + DEFAULT_PREFETCH])
        # (Whether the front's overdue check runs before it reads what
        # waits, and logs that it "ran ... late", depends on the runtime:
        # on CPython the check ran first, on PyPy the read did.  Either
        # way, no handler is declared dead.)
        self.assertEqual(front.countLines("declared dead"), 0, self.transcript())
        self.assertEqual(
            handler.countLines("slow request started: GET"), 1, self.transcript()
        )
        self.assertEqual(stats["stats"]["retried"], 0, self.transcript())

    @asyncTest
    async def test_replyReadBeforeTimeout(self) -> None:
        """
        A reply that came while the front was stopped, its request's
        C{--timeout} passed meanwhile, is read and served: not a 504 for
        a request its handler answered in time.
        """
        statsPort = freePort()
        front = await self.startFront("--timeout", "2", statsPort=statsPort)
        handler = await self.startHandler("h1", SLOW, front=front)
        response = self.get("/slow?seconds=1")
        await handler.waitForLine("slow request started: GET", timeout=10)
        # The reply sent 1 s in, the reply timer due 2 s in: both while the
        # front is stopped.
        await self.pauseFront(front, handler)
        result = await self.withTimeout(response, 15, "the response after the front ran again")
        self.assertResponse(result, 200, b"slow\n")
        await self.assertIdle(statsPort)
        self.assertEqual(
            handler.countLines("slow request started: GET"), 1, self.transcript()
        )

    @asyncTest
    async def test_creditReadBeforeQueueTimeout(self) -> None:
        """
        A request queued for want of a thread, whose thread came free while
        the front was stopped, its C{--queue-timeout} passed meanwhile, is
        served once the front runs again: not a 503.
        """
        statsPort = freePort()
        front = await self.startFront("--queue-timeout", "2", statsPort=statsPort)
        handler = await self.startHandler(
            "h1", SLOW, "--threads", "1", "--prefetch", "0", front=front
        )
        slow = self.get("/slow?seconds=1")
        await handler.waitForLine("slow request started: GET", timeout=10)
        queued = self.get("/fast")
        await self.waitForQueued(statsPort, 1)
        await self.pauseFront(front, handler)
        for response, body in ((slow, b"slow\n"), (queued, b"fast\n")):
            result = await self.withTimeout(response, 15, "a response after the front ran again")
            self.assertResponse(result, 200, body)
        await self.assertIdle(statsPort)
        self.assertEqual(
            handler.countLines("slow request started: GET"), 1, self.transcript()
        )

    @asyncTest
    async def test_cancelledWhilePausedEndsAtOnce(self) -> None:
        """
        A download that waits for window from the stopped front (its
        handler, finding the front silent, cancels it, as nothing could
        come from a front gone for good) ends at the front as soon as it
        runs again: the handler ends it with C{ERROR}, and the front aborts
        its client's connection, instead of waiting for C{--timeout} (then
        a 504) for a request the handler no longer runs.
        """
        statsPort = freePort()
        front = await self.startFront("--timeout", "60", statsPort=statsPort)
        handler = await self.startHandler("h1", "tests.apps.bigbody:app", front=front)
        client = await self.rawConnection()
        # A client that reads nothing yet: the download cannot end first.
        client.transport.pauseProducing()  # type: ignore[union-attr]
        size = 100 * 2**20
        response = client.request(self.rawRequest("GET", f"/download?size={size}&length=1"))
        await handler.waitForLine("app called: GET /download")
        await self.pauseFront(front, handler)
        await handler.waitForLine("cancelling 1 requests: they wait for body or window")
        await front.waitForLine("waited for body or window from this front")
        client.transport.resumeProducing()  # type: ignore[union-attr]
        with self.assertRaises(IncompleteResponse):
            await self.withTimeout(response, 10, "the download's end")
        stats = await self.assertIdle(statsPort)
        self.assertEqual(stats["stats"]["status504"], 0, self.transcript())


class ResponseFramingTests(_AnsweringTestCase):
    """
    An application's wrong C{Content-Length} never desynchronises a
    persistent connection: a body longer than it is cut (no forged
    response reaches the client), one shorter than it closes the
    connection, and a repeated one is a 500.
    """

    async def pipelined(self, *paths: str) -> tuple[list[RawResponse], RawHTTPClient]:
        """
        Send a C{GET} for each of C{paths} on one connection, pipelined,
        then one more for C{/ok}, once their responses are in: were there
        one response too many, the extra one would be taken for its answer.

        @return: The responses to C{paths}, and the connection.
        """
        client = await self.rawConnection()
        responses = [client.request(self.rawRequest("GET", path)) for path in paths]
        results = [
            await self.withTimeout(d, 20, f"the response to {path}")
            for d, path in zip(responses, paths)
        ]
        last = await self.withTimeout(
            client.request(self.rawRequest("GET", "/ok")), 20, "the response to /ok"
        )
        self.assertEqual((last.code, last.body), (200, framing.OK), self.transcript())
        self.assertEqual(client.unparsed, b"", self.transcript())
        return results, client

    @asyncTest
    async def test_longerBodyPipelined(self) -> None:
        """
        Two pipelined requests to an application whose body is longer than
        its C{Content-Length}, once collected and once streamed, get
        exactly two responses, each the declared 5 bytes, on a connection
        that goes on serving; the handler logs the overrun.
        """
        _, handler = await self.startFrontAndHandler(FRAMING)
        results, client = await self.pipelined("/long", "/long-stream")
        for result in results:
            self.assertEqual((result.code, result.body), (200, framing.LONG[:5]))
        self.assertTrue(client.connected)
        await handler.waitForLine("longer than its Content-Length of 5 bytes")

    @asyncTest
    async def test_longerEndlessStream(self) -> None:
        """
        A generator that never ends, under a C{Content-Length} of 5: the
        client gets the 5 bytes, and the next request on the connection is
        answered at once, because the handler stops iterating at the
        overrun (PEP 3333) and ends the response.
        """
        await self.startFrontAndHandler(FRAMING)
        [result], client = await self.pipelined("/long-endless")
        self.assertEqual((result.code, result.body), (200, framing.LONG[:5]))
        self.assertTrue(client.connected)

    @asyncTest
    async def test_nonAsciiLength(self) -> None:
        """
        C{Content-Length: str(len(text))} for a non-ASCII text gets the
        client that many bytes, and the next response on the connection is
        intact.
        """
        await self.startFrontAndHandler(FRAMING)
        [result], _ = await self.pipelined("/nonascii")
        length = len(framing.TEXT)
        self.assertEqual(result.body, framing.TEXT.encode("utf-8")[:length])

    @asyncTest
    async def test_shorterBodyCloses(self) -> None:
        """
        A streamed body that ends short of its C{Content-Length} closes the
        connection before the response is complete, so that the next
        response cannot be read as the rest of it; the handler logs why.
        A collected one, whose head was not sent, is a 500.
        """
        _, handler = await self.startFrontAndHandler(FRAMING)
        await self.assertCutShort("/short", "close")
        await handler.waitForLine("shorter than its Content-Length of 50")
        self.assertResponse(await self.get("/short-list"), 500)

    @asyncTest
    async def test_duplicateContentLength(self) -> None:
        """
        Two C{Content-Length} headers from the application are a 500, and
        the handler logs why.
        """
        _, handler = await self.startFrontAndHandler(FRAMING)
        self.assertResponse(await self.get("/duplicate"), 500)
        await self.assertCarriesOn(handler, "more than one Content-Length", framing.OK)

    @asyncTest
    async def test_headLargerThanMaxMessage(self) -> None:
        """
        A response head larger than the front's C{--max-message} is a 500
        at once (not a 504 at C{--timeout}), and the handler logs why; the
        handler goes on serving.
        """
        _, handler = await self.startFrontAndHandler(
            FRAMING, frontArguments=["--max-message", "100000", "--timeout", "30"]
        )
        result = await self.get("/big-head", timeout=20)
        self.assertResponse(result, 500)
        await self.assertCarriesOn(handler, "is larger than front", framing.OK)


class RawHandlerFramingTests(_AnsweringTestCase):
    """
    The front frames responses itself, whatever a handler sends: checked
    with a handler written without txmp (C{tests/apps/rawframing.py}) that
    gets the framing wrong on purpose.
    """

    async def startFrontAndRawHandler(self) -> None:
        """
        Start a front, then the raw handler, and wait until it joined.
        """
        front = await self.startFront()
        script = FilePath(__file__).sibling("apps").child("rawframing.py").path
        raw = self.startProcess(
            "rawframing", [sys.executable, script, self.sendAddress, self.returnAddress]
        )
        await raw.waitForLine("rawframing handler ready")
        await self.joined(front, "rawframing")

    @asyncTest
    async def test_longerCut(self) -> None:
        """
        More body than the C{Content-Length}, in one C{RESP} or streamed:
        the client gets the declared bytes as a complete response, and the
        connection is closed after it, so that with a request pipelined
        behind it no other response (forged by the extra bytes or not)
        follows.
        """
        await self.startFrontAndRawHandler()
        for path in ["/long", "/long-stream"]:
            client = await self.rawConnection()
            first = client.request(self.rawRequest("GET", path))
            second = client.request(self.rawRequest("GET", "/ok"))
            response = await self.withTimeout(first, 20, f"the response to {path}")
            self.assertEqual((response.code, response.body), (200, rawframing.LONG[:5]))
            await self.withTimeout(client.closed, 20, f"the front to close after {path}")
            self.failureResultOf(second, IncompleteResponse)
            self.assertEqual(client.unparsed, b"", self.transcript())

    @asyncTest
    async def test_shorter(self) -> None:
        """
        Less body than the C{Content-Length}: a 502 for a complete C{RESP};
        once the head of a streamed one is out, a connection closed before
        the response is complete.
        """
        await self.startFrontAndRawHandler()
        self.assertResponse(await self.get("/short"), 502)
        await self.assertCutShort("/short-stream", "abort")

    @asyncTest
    async def test_invalidHeads(self) -> None:
        """
        Two C{Content-Length}s, a 1xx status, or a control character in a
        header value: 502, and the front goes on serving.
        """
        await self.startFrontAndRawHandler()
        for path in ["/duplicate", "/interim", "/control"]:
            self.assertResponse(await self.get(path), 502)
        self.assertResponse(await self.get("/ok"), 200, rawframing.OK)
