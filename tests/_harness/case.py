# -*- test-case-name: tests -*-
"""
L{SystemTestCase}: a test that starts C{twistd mpfront} and C{twistd
mphandler}, waits for the log lines those commands promise (C{mpfront
ready}, C{handler NAME joined}, C{mphandler NAME started}) and talks HTTP
to the front on C{127.0.0.1}; and L{asyncTest}, to write its methods as
coroutines.

Every process a test starts (see L{tests._harness.processes}) is stopped
by its PID when the test ends, and what is left of its process group
killed; every connection and load it opens is closed or aborted then.

The ZeroMQ addresses are C{ipc://} paths relative to a per-test directory
that is the working directory of every process the test starts: relative
paths keep them short (a UNIX socket path has a limit of 107 bytes, which
trial's nested temporary directories exceed) and private to the test.

Every process a test starts has a C{TMPDIR} of the test's own, a short
directory in C{/tmp} removed when the test ends: a C{--spawn} front makes
its private C{ipc://} directory there (a path that must stay under 107
bytes too), and one the test kills with C{SIGKILL}, which cannot remove it,
leaves nothing behind in C{/tmp}.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal as signals
import tempfile
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, Callable, TypeVar
from urllib.parse import quote

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError, ProcessDone, ProcessTerminated
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IBodyProducer, IResponse

from . import clients
from ._reactor import reactor
from .addresses import LOOPBACK, freePort, loopbackEndpoint
from .clients import (
    REQUEST_TIMEOUT,
    BodyDigest,
    ClientConnection,
    HTTPResult,
    RawHTTPClient,
    RawResponse,
    formatRequest,
    streamedExchange,
)
from .load import BoundedLoad, PlannedRequest
from .processes import (
    STOP_GRACE,
    LineTimeout,
    TwistdProcess,
    childEnvironment,
    inOwnSession,
    twistdCommand,
)

_T = TypeVar("_T")
_SelfT = TypeVar("_SelfT")
_ClientT = TypeVar("_ClientT", bound=ClientConnection)

#: twistd's last line, as the process itself logs it in text: not one of a
#: front's spawned handlers, whose lines it logs as C{[NAME namespace#level]}
#: (and, since it waits for them to exit, before its own).
_SHUT_DOWN = re.compile(r"\[[^\] ]+\] Server Shut Down\.$")

#: How long L{SystemTestCase.assertIdle} gives a front to forget the
#: requests it has answered, and how often it asks meanwhile.
IDLE_WAIT = 5.0
IDLE_POLL = 0.05


def asyncTest(
    method: Callable[[_SelfT], Coroutine[Any, Any, None]],
) -> Callable[[_SelfT], Deferred[None]]:
    """
    Let a test method be written as a coroutine.

    Trial runs test methods that return a L{Deferred}; this wraps a
    coroutine function so it returns one, keeping its name and docstring.

    @param method: An C{async def} test method.
    @return: A test method returning a L{Deferred}.
    """

    @functools.wraps(method)
    def wrapper(self: _SelfT) -> Deferred[None]:
        return Deferred.fromCoroutine(method(self))

    return wrapper


class SystemTestCase(TestCase):
    """
    A test that starts a front and handlers and talks HTTP to the front.

    @ivar workdir: The per-test directory that is every process's working
        directory and holds the ZeroMQ C{ipc://} sockets.
    @ivar tmpdir: The per-test directory that is every process's
        C{TMPDIR}: short, in C{/tmp} (a C{--spawn} front's C{ipc://} paths
        in it must fit in 107 bytes), and removed, with
        whatever is in it, once the test's processes have been stopped.
    @ivar sendAddress: The front's C{--send} address.
    @ivar returnAddress: The front's C{--return} address.
    @ivar httpPort: The TCP port the front listens on.
    @ivar processes: Every process this test started, in order.
    """

    timeout = 60

    def addCleanup(  # type: ignore[override]
        self, f: Callable[..., object], *args: object, **kwargs: object
    ) -> None:
        """
        Add a cleanup, which may be a coroutine function: trial awaits the
        L{Deferred} made of the coroutine it returns.

        Recent trial (26.10's, which runs each cleanup through
        C{maybeDeferred}) does this itself; Twisted 23.10's, the oldest
        that C{setup.cfg} allows, yields the coroutine from its cleanup
        loop without awaiting it, so that the processes a test started
        were never stopped (and their pipes left the reactor dirty).

        @param f: The cleanup; its result, if a coroutine, is awaited.
        @param args: Its positional arguments.
        @param kwargs: Its keyword arguments.
        """

        @functools.wraps(f)
        def cleanup() -> object:
            result = f(*args, **kwargs)
            if isinstance(result, Coroutine):
                return Deferred.fromCoroutine(result)
            return result

        super().addCleanup(cleanup)

    def setUp(self) -> None:
        self.workdir = FilePath(self.mktemp())
        self.workdir.makedirs()
        # Not in workdir, whose path trial makes long; removed after the
        # processes are stopped (cleanups run last first).
        self.tmpdir = FilePath(tempfile.mkdtemp(prefix="txmp-test-", dir="/tmp"))
        self.addCleanup(shutil.rmtree, self.tmpdir.path)
        self.sendAddress = "ipc://send.ipc"
        self.returnAddress = "ipc://return.ipc"
        self.httpPort = freePort()
        self.processes: list[TwistdProcess] = []
        self._environment = dict(childEnvironment(), TMPDIR=self.tmpdir.path)
        self.agent = Agent(reactor, pool=self.connectionPool(persistent=False))

    # Processes

    def transcript(self) -> str:
        """
        Every process's output, for assertion messages.

        @return: The transcripts of all processes started by this test.
        """
        return "\nProcess output:\n" + "\n".join(p.transcript() for p in self.processes)

    def startTwistd(self, label: str, arguments: Sequence[str]) -> TwistdProcess:
        """
        Start C{twistd -n} in the foreground, logging to stdout, without a
        pidfile, in L{workdir}, in a session of its own; stop it, and kill
        what is left of its process group, when the test ends.

        @param label: A name for the process in transcripts.
        @param arguments: The plugin name and its options.
        @return: The started process.
        """
        return self.startProcess(
            label,
            [*twistdCommand(), "--nodaemon", "--logfile=-", "--pidfile=", *arguments],
        )

    def startProcess(self, label: str, argv: Sequence[str]) -> TwistdProcess:
        """
        Start a process in L{workdir}, with the test environment, in a
        session of its own; stop it, and kill what is left of its process
        group, when the test ends.

        @param label: A name for the process in transcripts.
        @param argv: The command line, the executable's path first.
        @return: The started process.
        """
        argv = inOwnSession(argv)
        process = TwistdProcess(reactor, label)
        reactor.spawnProcess(
            process, argv[0], list(argv), env=self._environment, path=self.workdir.path
        )
        process.group = process.pid
        self.processes.append(process)
        self.addCleanup(self._stopInCleanup, process)
        return process

    @contextlib.contextmanager
    def extraEnvironment(self, **variables: str) -> Iterator[None]:
        """
        Add environment variables for the processes this test starts inside
        the C{with} block (L{startProcess} reads the environment when it
        spawns).

        @param variables: The variables to add or replace.
        """
        saved = self._environment
        self._environment = dict(saved, **variables)
        try:
            yield
        finally:
            self._environment = saved

    async def _stopInCleanup(self, process: TwistdProcess) -> None:
        await process.stop()
        process.killGroup()
        if process.killed:
            self.fail(
                f"{process.label} did not exit within {STOP_GRACE} seconds of"
                f" SIGTERM and was killed" + self.transcript()
            )

    def assertStoppedCleanly(self, process: TwistdProcess) -> None:
        """
        Assert that a process that was asked to stop stopped by itself
        after shutting down: with exit code 0 or, as twistd does when a
        signal stopped its reactor, by raising that signal again (so that
        its parent sees why it stopped) once it logged C{Server Shut Down}
        (itself: its spawned handlers' are in its output too).

        @param process: A process that has ended.
        """
        end = process.end
        clean = isinstance(end, ProcessDone) or (
            isinstance(end, ProcessTerminated)
            and end.signal == signals.SIGTERM
            and process.countLines(_SHUT_DOWN) == 1
        )
        self.assertTrue(
            clean and not process.killed,
            f"{process.label} did not stop cleanly" + self.transcript(),
        )

    def frontArguments(
        self,
        *extra: str,
        port: int | None = None,
        addresses: tuple[str, str] | None = None,
        statsPort: int | None = None,
    ) -> list[str]:
        """
        The arguments for an C{mpfront} using this test's addresses.

        @param extra: More C{mpfront} options.
        @param port: The HTTP port, by default L{httpPort}.
        @param addresses: The C{--send} and C{--return} addresses, by
            default L{sendAddress} and L{returnAddress}.
        @param statsPort: A port on C{127.0.0.1} for C{--stats}, if any.
        """
        send, ret = addresses or (self.sendAddress, self.returnAddress)
        stats = [] if statsPort is None else ["--stats", loopbackEndpoint(statsPort)]
        return [
            "mpfront",
            "--listen",
            loopbackEndpoint(self.httpPort if port is None else port),
            "--send",
            send,
            "--return",
            ret,
            *stats,
            *extra,
        ]

    async def startFront(
        self,
        *extra: str,
        label: str = "front",
        port: int | None = None,
        addresses: tuple[str, str] | None = None,
        statsPort: int | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd mpfront} and wait until it says it is ready.

        @param extra: More C{mpfront} options.
        @param label: A name for the process in transcripts.
        @param port: The HTTP port, by default L{httpPort}.
        @param addresses: The C{--send} and C{--return} addresses, by
            default L{sendAddress} and L{returnAddress}.
        @param statsPort: A port on C{127.0.0.1} for C{--stats}, if any.
        @return: The front, listening.
        """
        front = self.startTwistd(
            label,
            self.frontArguments(*extra, port=port, addresses=addresses, statsPort=statsPort),
        )
        await front.waitForLine("mpfront ready")
        return front

    def startHandlerProcess(
        self,
        name: str,
        app: str,
        *extra: str,
        fronts: Sequence[tuple[str, str]] | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd mphandler} without waiting for anything.

        @param name: The handler's C{--name}, also its label.
        @param app: The C{--app} to serve.
        @param extra: More C{mphandler} options.
        @param fronts: The C{--send} and C{--return} address pairs of the
            fronts to serve, by default this test's one front.
        @return: The process.
        """
        pairs = fronts or [(self.sendAddress, self.returnAddress)]
        addresses = [a for (send, ret) in pairs for a in ("--send", send, "--return", ret)]
        return self.startTwistd(
            name,
            ["mphandler", "--app", app, *addresses, "--name", name, *extra],
        )

    async def startHandler(
        self,
        name: str,
        app: str,
        *extra: str,
        front: TwistdProcess | None = None,
        fronts: Sequence[tuple[str, str]] | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd mphandler} and wait until it has started and, if
        C{front} is given, until that front says the handler joined.

        @param name: The handler's C{--name}.
        @param app: The C{--app} to serve.
        @param extra: More C{mphandler} options.
        @param front: The front it should join.
        @param fronts: The C{--send} and C{--return} address pairs of the
            fronts to serve, by default this test's one front.
        @return: The handler.
        """
        handler = self.startHandlerProcess(name, app, *extra, fronts=fronts)
        await handler.waitForLine(f"mphandler {name} started")
        if front is not None:
            await self.joined(front, name)
        return handler

    async def joined(self, front: TwistdProcess, name: str) -> None:
        """
        Wait until C{front} says the handler C{name} joined.

        @param front: The front.
        @param name: The handler's C{--name}.
        """
        try:
            await front.waitForLine(f"handler {name} joined")
        except LineTimeout as e:
            self.fail(f"handler {name} never joined: {e}" + self.transcript())

    async def startFrontAndHandler(
        self, app: str, *handlerArguments: str, frontArguments: Sequence[str] = ()
    ) -> tuple[TwistdProcess, TwistdProcess]:
        """
        Start a front, then one handler named C{h1} serving C{app}, and
        wait until the handler joined.

        @return: The front and the handler.
        """
        front = await self.startFront(*frontArguments)
        handler = await self.startHandler("h1", app, *handlerArguments, front=front)
        return front, handler

    # HTTP

    def url(self, path: str, port: int | None = None) -> bytes:
        """
        The URL of C{path} on the front.

        @param path: Path and query, starting with C{/}.
        @param port: The front's port, by default L{httpPort}.
        """
        return f"http://{self.host(port)}{path}".encode("ascii")

    def host(self, port: int | None = None) -> str:
        """
        The front's address as a C{Host} header gives it.

        @param port: The front's port, by default L{httpPort}.
        """
        return f"{LOOPBACK}:{self.httpPort if port is None else port}"

    def connectionPool(self, persistent: bool, maxPerHost: int = 2) -> HTTPConnectionPool:
        """
        Make an HTTP connection pool whose cached connections are closed
        when the test ends.

        @param persistent: Whether to keep connections open between requests.
        @param maxPerHost: How many idle connections to keep per host.
        """
        pool = HTTPConnectionPool(reactor, persistent=persistent)
        pool.maxPersistentPerHost = maxPerHost
        # A retried request would hide a connection the front broke.
        pool.retryAutomatically = False
        self.addCleanup(pool.closeCachedConnections)
        return pool

    def persistentAgent(self, connections: int) -> Agent:
        """
        Make an agent that keeps up to C{connections} connections open for
        reuse.
        """
        return Agent(reactor, pool=self.connectionPool(True, connections))

    def request(
        self,
        method: bytes,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        agent: Agent | None = None,
        chunked: bool = False,
        port: int | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Deferred[HTTPResult]:
        """
        Make one HTTP request to the front and read the whole response.

        @param method: C{b"GET"}, C{b"POST"}...
        @param path: Path and query, starting with C{/}.
        @param body: The request body, if any.
        @param headers: Request headers.
        @param agent: The agent to use, by default a non-persistent one.
        @param chunked: Send C{body} with chunked transfer-encoding.
        @param port: The front's port, by default L{httpPort}.
        @param timeout: Seconds before the request is cancelled.
        @return: A L{Deferred} firing with an L{HTTPResult}.
        """
        return clients.request(
            agent or self.agent,
            reactor,
            method,
            self.url(path, port),
            body,
            headers,
            chunked,
            timeout,
        )

    def heldRequest(self) -> tuple[str, Callable[[], None]]:
        """
        A target of C{tests.apps.slow} whose request runs (after its
        C{slow request started} line) until released, and the function
        that releases it: for a test that acts while a request is in
        progress, however long that takes on a loaded machine.  It is
        released at the end of the test, if not before.
        """
        # (Not in tmpdir, which some tests find empty at the end.)
        path = os.path.abspath(self.mktemp())

        def release() -> None:
            open(path, "w").close()

        # Released at the end whatever happens, first of the cleanups (the
        # last added): a test failing before it releases would otherwise
        # leave the request held for up to HELD_AT_MOST, and a stopping
        # front waiting for it.
        self.addCleanup(release)
        return f"/slow?until={quote(path)}", release

    def get(self, path: str, **kwargs: Any) -> Deferred[HTTPResult]:
        """
        L{request} with C{GET}.
        """
        return self.request(b"GET", path, **kwargs)

    async def streamedRequest(
        self,
        method: bytes,
        path: str,
        body: IBodyProducer | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT,
        port: int | None = None,
    ) -> tuple[IResponse, BodyDigest]:
        """
        Make one HTTP request to the front with L{agent} and receive the
        response body into a L{BodyDigest}, never holding either body whole.

        @param body: The request body, if any (see L{GeneratedBody}).
        @param timeout: Seconds the whole exchange may take.
        @return: The response and the digest of its body.
        """
        return await self.withTimeout(
            Deferred.fromCoroutine(
                streamedExchange(self.agent, method, self.url(path, port), body, headers)
            ),
            timeout,
            f"{method.decode()} {path}",
        )

    def assertResponse(
        self,
        result: HTTPResult,
        code: int,
        body: bytes | None = None,
    ) -> None:
        """
        Assert a response's status and, if given, its exact body; the
        message carries the response and every process's output.

        @param result: The response.
        @param code: The expected status code.
        @param body: The expected body, or L{None} not to check it.
        """
        description = (
            f"response {result.code} {dict(result.headers.getAllRawHeaders())!r}"
            f" body {result.body[:2000]!r}"
        )
        self.assertEqual(
            result.code, code, f"expected status {code}, got {description}" + self.transcript()
        )
        if body is not None:
            self.assertEqual(
                result.body, body, f"unexpected body in {description}" + self.transcript()
            )

    # Raw connections

    async def connect(self, client: _ClientT, port: int | None = None) -> _ClientT:
        """
        Connect C{client} to the front over TCP; abort the connection when
        the test ends, if it is still open, and wait until it is closed.

        @param client: The protocol of the connection.
        @param port: The front's port, by default L{httpPort}.
        @return: C{client}, connected.
        """
        endpoint = TCP4ClientEndpoint(
            reactor, LOOPBACK, self.httpPort if port is None else port, timeout=10
        )
        await connectProtocol(endpoint, client)
        self.addCleanup(client.abort)
        return client

    async def accepts(self, port: int | None = None) -> bool:
        """
        Whether something accepts a TCP connection on C{port} of the
        loopback interface now; the connection, if any, is aborted at once.

        @param port: By default L{httpPort}.
        """
        try:
            client = await self.connect(ClientConnection(), port)
        except ConnectionRefusedError:
            return False
        await client.abort()
        return True

    async def rawConnection(self, port: int | None = None) -> RawHTTPClient:
        """
        Open a TCP connection to the front with a L{RawHTTPClient}, closed
        when the test ends.

        @param port: The front's port, by default L{httpPort}.
        """
        return await self.connect(RawHTTPClient(), port)

    def rawRequest(
        self,
        method: str,
        path: str,
        version: str = "HTTP/1.1",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        port: int | None = None,
    ) -> bytes:
        """
        Format a request for L{RawHTTPClient.request}.

        @return: The request bytes, with a C{Host} header.
        """
        return formatRequest(method, path, self.host(port), version, headers, body)

    async def assertRejected(self, data: bytes, status: int, what: str) -> RawResponse:
        """
        Send C{data} on a new connection and assert that the front answers
        it with C{status} and C{Connection: close}, then closes the
        connection having sent nothing after that response (so nothing
        pipelined after C{data} was answered).

        @param data: The request bytes, and whatever follows them.
        @param status: The expected status code.
        @param what: What C{data} is, for messages.
        @return: The response.
        """
        client = await self.rawConnection()
        response = await self.withTimeout(client.request(data), 10, f"a reply to {what}")
        self.assertEqual(response.code, status, f"{what}: {response!r}" + self.transcript())
        self.assertEqual(response.header(b"connection"), b"close", what)
        await self.withTimeout(client.closed, 10, f"the front to close after {what}")
        self.assertEqual(client.unparsed, b"", what)
        return response

    async def assertHeadResponse(self, length: int) -> RawResponse:
        """
        Assert that C{HEAD /}, on a connection it asks the front to close,
        is answered 200 with a C{Content-Length} of C{length} and not a
        byte of body.

        @param length: The length of the body a C{GET} would have.
        @return: The response.
        """
        client = await self.rawConnection()
        response = await client.request(
            self.rawRequest("HEAD", "/", headers=[("Connection", "close")]), head=True
        )
        await self.withTimeout(client.closed, 10, "the front to close the connection")
        self.assertEqual(response.code, 200, self.transcript())
        self.assertEqual(
            response.header(b"content-length"), str(length).encode("ascii"), self.transcript()
        )
        self.assertEqual(client.unparsed, b"", "HEAD response had a body" + self.transcript())
        return response

    async def assertOnlyCalledFor(
        self, handler: TwistdProcess, path: str, called: str = "app called"
    ) -> None:
        """
        Get C{path} (a 200), and assert that the application, which logs
        C{"CALLED METHOD PATH"} when it is called, was called for it and
        for nothing before it.

        @param handler: The handler whose log shows the calls.
        @param path: The path of a good request.
        @param called: What the application logs first when called.
        """
        self.assertResponse(await self.get(path), 200)
        await handler.waitForLine(f"{called} GET {path}")
        self.assertEqual(handler.countLines(called), 1, self.transcript())

    # Load

    def startLoad(
        self,
        plan: Callable[[int], PlannedRequest],
        inFlight: int,
        total: int,
        duration: float | None = None,
        agent: Agent | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> BoundedLoad:
        """
        Start a L{BoundedLoad} on the front(s), aborted when the test ends.

        @param plan: Say what the C{n}-th request (from 0) is.
        @param inFlight: How many requests to keep in flight.
        @param total: The most requests to make.
        @param duration: The most seconds to go on making requests for.
        @param agent: The agent to use, by default a non-persistent one.
        @param timeout: Seconds before a request is cancelled.
        """

        def send(planned: PlannedRequest) -> Deferred[HTTPResult]:
            return self.request(
                planned.method,
                planned.path,
                body=planned.body,
                port=planned.port,
                agent=agent,
                timeout=timeout,
            )

        load = BoundedLoad(reactor, send, plan, inFlight, total, duration)
        self.addCleanup(load.abort)
        load.start()
        return load

    def startSteadyLoad(
        self, path: str, inFlight: int, total: int, duration: float
    ) -> BoundedLoad:
        """
        Start a L{BoundedLoad} of C{GET path} over as many persistent
        connections as requests in flight, aborted when the test ends.

        @param path: Path and query, starting with C{/}.
        @param inFlight: How many requests to keep in flight.
        @param total: The most requests to make.
        @param duration: The most seconds to go on making requests for.
        """
        planned = PlannedRequest(b"GET", path)
        return self.startLoad(
            lambda n: planned, inFlight, total, duration, agent=self.persistentAgent(inFlight)
        )

    # The front's statistics, and waiting

    async def frontStats(self, statsPort: int) -> dict[str, Any]:
        """
        Read a front's C{--stats} JSON.

        @param statsPort: The front's C{--stats} port on C{127.0.0.1}.
        @return: The decoded JSON object.
        """
        result = await self.withTimeout(
            self.get("/", port=statsPort), REQUEST_TIMEOUT, "the front's --stats"
        )
        self.assertResponse(result, 200)
        stats: dict[str, Any] = json.loads(result.body)
        return stats

    async def waitForQueued(self, statsPort: int, count: int) -> None:
        """
        Wait, up to 10 seconds, until a front has C{count} requests or more
        queued for want of a handler with room.

        @param statsPort: The front's C{--stats} port on C{127.0.0.1}.
        """
        await self.waitForCount(statsPort, "queued", count)

    async def waitForCount(self, statsPort: int, name: str, count: int) -> None:
        """
        Wait, up to 10 seconds, until a front's count C{name} (of its
        statistics' C{counts}: C{queued}, C{inFlight}, ...) is C{count} or
        more.  (The front pushes no event for a request it queued or sent:
        its statistics are asked every L{IDLE_POLL} seconds.)

        @param statsPort: The front's C{--stats} port on C{127.0.0.1}.
        """

        async def reached() -> None:
            while (await self.frontStats(statsPort))["counts"][name] < count:
                await deferLater(reactor, IDLE_POLL)

        await self.withTimeout(
            Deferred.fromCoroutine(reached()), 10, f"{name} to reach {count}"
        )

    async def assertIdle(
        self, statsPort: int, label: str = "front", credits: list[int] | None = None
    ) -> dict[str, Any]:
        """
        Assert that a front holds no request any more: nothing pending,
        queued or in flight.  Call it once traffic has stopped and every
        response has been read, or once the handler has logged the
        request's cancellation (a front forgets the request before it
        sends C{CANCEL}).

        A front may answer a request before it forgets it: a streamed
        response is complete for its client at its C{Content-Length}, and
        the handler's C{END} follows.  So the statistics are asked again,
        every L{IDLE_POLL} seconds, for up to L{IDLE_WAIT} seconds: the
        front holds nothing then, or it is a leak.  (The front pushes no
        event to wait for.)  No request may end in a timeout, a lost
        handler or a cancellation meanwhile: a stuck request that a short
        C{--timeout} reaps while the statistics are asked again would
        otherwise pass for one that ended.

        @param statsPort: The front's C{--stats} port on C{127.0.0.1}.
        @param label: The front's name, for messages.
        @param credits: if given, the front's credits for each of its
            handlers, in its order, once idle, asked again as the rest: a
            request's credit may come back by C{CREDIT}, on the send
            socket, after its reply on the return socket.
        @return: The front's statistics.
        """
        names = ("pending", "queued", "inFlight")
        ends = ("status502", "status504", "cancelled")
        idle = {name: 0 for name in names}
        deadline = reactor.seconds() + IDLE_WAIT
        first: dict[str, Any] | None = None
        while True:
            stats = await self.frontStats(statsPort)
            if first is None:
                first = stats
            counts = stats["counts"]
            held = {name: counts.get(name) for name in names}
            given = [h["credits"] for h in stats["handlers"]]
            if (held == idle and (credits is None or given == credits)) or (
                reactor.seconds() >= deadline
            ):
                break
            await deferLater(reactor, IDLE_POLL)
        self.assertEqual(
            held,
            idle,
            f"{label} still holds requests {IDLE_WAIT} s after traffic stopped: {stats}"
            + self.transcript(),
        )
        if credits is not None:
            self.assertEqual(
                given, credits,
                f"{label}'s credits {IDLE_WAIT} s after traffic stopped: {stats}"
                + self.transcript(),
            )
        self.assertEqual(
            {name: stats["stats"].get(name) for name in ends},
            {name: first["stats"].get(name) for name in ends},
            f"{label}'s requests ended in failures after traffic stopped: {first}, "
            f"then {stats}" + self.transcript(),
        )
        return stats

    async def withTimeout(self, d: Deferred[_T], timeout: float, what: str) -> _T:
        """
        Wait for C{d}, failing the test with every process's output if it
        takes longer than C{timeout} seconds.

        @param d: What to wait for.
        @param timeout: Seconds.
        @param what: What C{d} is, for the failure message.
        @return: The result of C{d}.
        """
        try:
            return await d.addTimeout(timeout, reactor)
        except DeferredTimeoutError:
            self.fail(f"timed out after {timeout} seconds waiting for {what}" + self.transcript())


def firstOf(ds: Sequence[Deferred[_T]]) -> Deferred[tuple[_T, int]]:
    """
    Wait for the first of several L{Deferred}s to succeed, without
    cancelling the others (unlike L{twisted.internet.defer.race}).

    @return: A L{Deferred} firing with the first result and its index.
    """
    return DeferredList(list(ds), fireOnOneCallback=True, consumeErrors=False)
