# -*- test-case-name: tests.test_streaming -*-
"""
Large bodies stream through the front and the handler, both ways, with
bounded memory: a gigabyte in either direction, a client that reads slowly
and then goes away, bodies over C{--max-body}, and C{wsgi.file_wrapper}.

Every body is checked by its SHA-256, computed as it streams; neither the
servers nor this test process ever hold one whole.  "Bounded memory" means
that the peak resident set size (C{VmHWM} in C{/proc/PID/status}) of the
front and of the handler grows by less than L{MEMORY_BOUND} over what it
was once they had started and answered one small request.

On PyPy the servers run with C{PYPY_GC_MAJOR_COLLECT=1.1} (see
L{PYPY_ENVIRONMENT}): by default PyPy's heap may grow to 1.82 times what
was live after its last major collection before it collects again, and
that slack alone (the handler's peak RSS grew by 143 to 161 MiB over its
idle 97 MiB during a 1 GiB upload, and no further over two more) would
hide what txmp itself holds.
"""

from __future__ import annotations

import functools
import platform
import re
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer, IDelayedCall, IProducer, ITransport
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import UNKNOWN_LENGTH
from zope.interface import implementer

from ._harness import (
    BodyDigest,
    ClientConnection,
    Conditions,
    ConnectionLostEarly,
    GeneratedBody,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    freePort,
    memoryStatus,
    reactor,
    regularFilesOpen,
)
from .apps import bigbody

APP = "tests.apps.bigbody:app"

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

#: How much the peak RSS of a server process may grow during a test.
MEMORY_BOUND = 64 * MiB

#: The environment of the servers when they run on PyPy (as the tests do
#: when trial runs on PyPy): a major collection once the heap has grown
#: by 10% instead of 82%, so that the GC's slack stays well within
#: L{MEMORY_BOUND} and what txmp holds shows; and a nursery of a fixed
#: size, since PyPy sizes it from the CPU's cache, which some VMs report
#: as hundreds of MiB (300 MiB of L3 here: a 240 MiB process that grew by
#: 380 MiB in a 1 GiB download).
PYPY_ENVIRONMENT = (
    {"PYPY_GC_MAJOR_COLLECT": "1.1", "PYPY_GC_NURSERY": "4MB"}
    if platform.python_implementation() == "PyPy"
    else {}
)

_log = Logger()


@functools.cache
def expectedDigest(size: int) -> str:
    """
    L{bigbody.expectedDigest}, computed once per size for the whole run.
    """
    return bigbody.expectedDigest(size)


class StreamingTestCase(SystemTestCase):
    """
    Serve L{bigbody} with one front and one handler, and watch their
    memory.

    @ivar baselines: The peak RSS of each process, by label, once it had
        served one small request.
    """

    timeout = 120

    async def startServers(
        self,
        *frontArguments: str,
        statsPort: int | None = None,
        frontEnvironment: dict[str, str] | None = None,
    ) -> tuple[TwistdProcess, TwistdProcess]:
        """
        Start a front and a handler serving L{bigbody}, have them answer one
        small request, and record their peak RSS then.

        @param frontEnvironment: More environment variables for the front.
        @return: The front and the handler.
        """
        with self.extraEnvironment(**PYPY_ENVIRONMENT, **(frontEnvironment or {})):
            front = await self.startFront(*frontArguments, statsPort=statsPort)
        with self.extraEnvironment(**PYPY_ENVIRONMENT):
            handler = await self.startHandler("h1", APP, front=front)
        await self.recordBaselines(front, handler)
        return front, handler

    async def recordBaselines(self, *processes: TwistdProcess) -> None:
        """
        Answer one small request, then record the peak RSS of C{processes}.
        """
        self.assertResponse(await self.get("/small"), 200, bigbody.SMALL_BODY)
        self.baselines = {}
        for process in processes:
            assert process.pid is not None
            self.baselines[process.label] = memoryStatus(process.pid)

    def assertMemoryBounded(self, *processes: TwistdProcess) -> None:
        """
        Assert that the peak RSS of each of C{processes} grew by less than
        L{MEMORY_BOUND} since L{recordBaselines}.
        """
        for process in processes:
            assert process.pid is not None, process.describeEnd()
            peak = memoryStatus(process.pid)
            baseline = self.baselines[process.label]
            _log.info(
                "{test}: {label} peak RSS {baseline} KiB idle, {peak} KiB after"
                " (+{growth} KiB)",
                test=self.id(),
                label=process.label,
                baseline=baseline // KiB,
                peak=peak // KiB,
                growth=(peak - baseline) // KiB,
            )
            self.assertLess(
                peak - baseline,
                MEMORY_BOUND,
                f"{process.label}'s peak RSS grew from {baseline // KiB} KiB to"
                f" {peak // KiB} KiB" + self.transcript(),
            )

    def assertDigest(self, body: BodyDigest, size: int, what: str) -> None:
        """
        Assert that C{body} is the first C{size} bytes of L{bigbody.blocks}.
        """
        self.assertEqual(
            (body.length, body.hexdigest()),
            (size, expectedDigest(size)),
            f"{what}: wrong body, starting {body.prefix[:64]!r}" + self.transcript(),
        )

    def assertUploaded(self, body: BodyDigest, size: int) -> None:
        """
        Assert that C{/upload} answered with the digest and the length of
        the first C{size} bytes of L{bigbody.blocks}.
        """
        self.assertEqual(
            body.prefix,
            f"{expectedDigest(size)} {size}\n".encode("ascii"),
            "the application read another body" + self.transcript(),
        )


class DownloadTests(StreamingTestCase):
    """
    Response bodies stream from the application's iterable to the client.
    """

    @asyncTest
    async def test_gigabyte(self) -> None:
        """
        A 1 GiB response from a generator yielding 64 KiB blocks reaches
        the client whole and in order (chunked: the application gives no
        length), while the peak RSS of the front and of the handler each
        grows by less than 64 MiB.
        """
        expectedDigest(GiB)
        front, handler = await self.startServers()
        started = reactor.seconds()
        response, body = await self.streamedRequest(
            b"GET", f"/download?size={GiB}", timeout=100
        )
        _log.info("{test}: 1 GiB down in {s:.1f} s", test=self.id(),
                  s=reactor.seconds() - started)
        self.assertEqual(response.code, 200, self.transcript())
        self.assertIs(response.length, UNKNOWN_LENGTH, self.transcript())
        self.assertDigest(body, GiB, "1 GiB download")
        self.assertMemoryBounded(front, handler)
        await handler.waitForLine(f"download closed after {GiB} bytes")


class UploadTests(StreamingTestCase):
    """
    Request bodies stream from the client to the application's
    C{wsgi.input} as they arrive, never stored by the front.
    """

    @asyncTest
    async def test_gigabyte(self) -> None:
        """
        A 1 GiB request body with a C{Content-Length} (exactly the default
        C{--max-body}) reaches the application whole; the application reads
        its first bytes while the client has sent only 1 MiB and waits; the
        front opens no file for it (none in its C{TMPDIR}, no regular file
        among its descriptors at any 64 MiB step) and the peak RSS of the
        front and of the handler each grows by less than 64 MiB.
        """
        expectedDigest(GiB)
        temporary = self.workdir.child("tmp")
        temporary.makedirs()
        front, handler = await self.startServers(
            frontEnvironment={"TMPDIR": temporary.path}
        )
        assert front.pid is not None
        frontPid = front.pid
        idleFiles = regularFilesOpen(frontPid)
        filesSeen: dict[int, set[str]] = {}
        sentBeforeRead: list[int] = []

        def firstBytesRead() -> Deferred[str]:
            sentBeforeRead.append(producer.sent)
            return handler.waitForLine("first bytes read", timeout=30)

        def observe(sent: int) -> None:
            if sent % (64 * MiB) == 0:
                filesSeen[sent] = regularFilesOpen(frontPid) - idleFiles

        producer = GeneratedBody(
            bigbody.blocks(GiB), GiB, gate=(MiB, firstBytesRead), observe=observe
        )
        started = reactor.seconds()
        response, body = await self.streamedRequest(
            b"POST",
            "/upload",
            producer,
            headers={"Content-Type": "application/octet-stream"},
            timeout=100,
        )
        _log.info("{test}: 1 GiB up in {s:.1f} s", test=self.id(),
                  s=reactor.seconds() - started)
        self.assertEqual(response.code, 200, self.transcript())
        self.assertUploaded(body, GiB)
        self.assertEqual(sentBeforeRead, [MiB], self.transcript())
        self.assertEqual(handler.countLines("first bytes read"), 1, self.transcript())
        self.assertEqual(len(filesSeen), 16, filesSeen)
        self.assertEqual(
            {sent: files for sent, files in filesSeen.items() if files},
            {},
            f"the front opened files during the upload (open when idle: {idleFiles})"
            + self.transcript(),
        )
        self.assertEqual(temporary.listdir(), [], "files left in the front's TMPDIR")
        self.assertMemoryBounded(front, handler)

    @asyncTest
    async def test_chunked(self) -> None:
        """
        A request body of a few MiB sent with chunked transfer-encoding (no
        length known in advance) reaches the application whole.
        """
        size = 5 * MiB + 1234
        await self.startServers()
        response, body = await self.streamedRequest(
            b"POST", "/upload", GeneratedBody(bigbody.blocks(size))
        )
        self.assertEqual(response.code, 200, self.transcript())
        self.assertUploaded(body, size)


class _SlowReader(ClientConnection):
    """
    Send one request, then read the response no faster than C{rate} bytes
    a second, pausing the transport (so the kernel's buffers fill and TCP
    pushes back on the server) until it is due to read more.

    @ivar received: How many bytes were received so far.
    """

    # A TCP transport: an ITCPTransport and an IPushProducer.
    transport: Any

    def __init__(self, request: bytes, rate: float) -> None:
        super().__init__()
        self._request = request
        self._rate = rate
        self._started: float | None = None
        self._resume: IDelayedCall | None = None
        self._arrivals = Conditions()
        self.received = 0

    def connectionMade(self) -> None:
        super().connectionMade()
        self.send(self._request)

    def dataReceived(self, data: bytes) -> None:
        now = reactor.seconds()
        if self._started is None:
            self._started = now
        self.received += len(data)
        self._arrivals.check()
        due = self._started + self.received / self._rate
        if due > now and self._resume is None:
            self.transport.pauseProducing()
            self._resume = reactor.callLater(due - now, self._resumeReading)

    def _resumeReading(self) -> None:
        self._resume = None
        self.transport.resumeProducing()

    def until(self, size: int) -> Deferred[None]:
        """
        Wait until at least C{size} bytes were received.
        """
        return self._arrivals.wait(lambda: self.received >= size)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        self._arrivals.failAll(ConnectionLostEarly(f"lost after {self.received} bytes"))
        super().connectionLost(reason)


class SlowClientTests(StreamingTestCase):
    """
    A client that reads slowly holds back the application, not the
    servers' memory, and nobody else.
    """

    @asyncTest
    async def test_slowReaderThenGone(self) -> None:
        """
        While a client reads a 100 MiB response at 1 MiB/s for about 8
        seconds, other clients are answered within a second, the handler
        produces only a little more than the client took, and the peak RSS
        of the front and of the handler each grows by less than 64 MiB.
        When that client disconnects, the application's iterable is
        closed and the front holds no request any more.
        """
        statsPort = freePort()
        front, handler = await self.startServers(statsPort=statsPort)
        size = 100 * MiB
        reader = _SlowReader(
            self.rawRequest("GET", f"/download?size={size}&length=1"), MiB
        )
        await self.connect(reader)
        await self.withTimeout(reader.until(2 * MiB), 10, "the first 2 MiB")
        for n in range(5):
            result = await self.get("/small", timeout=5)
            self.assertResponse(result, 200, bigbody.SMALL_BODY)
            self.assertLess(
                result.elapsed,
                1.0,
                f"GET /small took {result.elapsed:.2f} s while a client read"
                f" slowly" + self.transcript(),
            )
            await self.withTimeout(reader.until((3 + n) * MiB), 10, "another MiB")
        await self.withTimeout(reader.until(8 * MiB), 10, "8 MiB")
        received = reader.received
        await reader.abort()
        line = await handler.waitForLine("download closed after", timeout=10)
        match = re.search(r"download closed after (\d+) bytes", line)
        assert match is not None, line
        produced = int(match.group(1))
        _log.info(
            "{test}: client read {received} bytes, application produced {produced}",
            test=self.id(),
            received=received,
            produced=produced,
        )
        # What the client did not read sits in the kernel's socket buffers,
        # the front's transport buffer and the response window: a few MiB.
        self.assertLess(
            produced,
            received + 32 * MiB,
            f"the application produced {produced} bytes for a client that read"
            f" {received}" + self.transcript(),
        )
        await self.assertIdle(statsPort)
        self.assertMemoryBounded(front, handler)

    @asyncTest
    async def test_slowReaderOutlastsTimeout(self) -> None:
        """
        A client reading a streamed 6 MiB response at 1 MiB/s, so for
        about 6 times the front's C{--timeout} of 1 second, gets all of it:
        the front sees it take the response as the kernel sends it, though
        its transport, behind the kernel's 4 MiB buffer, is full for longer
        than that (the handler waiting for window meanwhile).  (The front
        used to restart the reply timeout only when its transport emptied,
        and aborted this client as a handler that timed out.)
        """
        front, _ = await self.startServers("--timeout", "1")
        size = 6 * MiB
        reader = _SlowReader(
            self.rawRequest("GET", f"/download?size={size}&length=1"), MiB
        )
        await self.connect(reader)
        await self.withTimeout(reader.until(size), 30, "the whole response")
        self.assertEqual(front.countLines("took too little"), 0, self.transcript())
        self.assertEqual(front.countLines("timed out"), 0, self.transcript())


class PipelineFloodTests(StreamingTestCase):
    """
    Responses to pipelined requests are made as the client reads them, not
    all at once into the front's memory.
    """

    @asyncTest
    async def test_floodReadSlowly(self) -> None:
        """
        A client that sends 64 KiB of pipelined requests for a 256 KiB
        response in one piece, then reads at 1 MiB/s, gets them in order,
        while the application is called for about as many as it has read;
        another client is answered meanwhile, and the peak RSS of the front
        and of the handler each grows by less than 64 MiB.  (The front
        used to answer every pipelined request at once, into the client's
        transport: with about 2,400 small requests, its RSS grew by 630 MB
        in 3 seconds.)
        """
        front, handler = await self.startServers()
        size = 256 * KiB
        request = self.rawRequest("GET", f"/download?size={size}&length=1")
        count = 64 * KiB // len(request)
        reader = _SlowReader(request * count, MiB)
        await self.connect(reader)
        for mib in range(2, 8):
            await self.withTimeout(reader.until(mib * MiB), 10, f"{mib} MiB")
            called = handler.countLines("app called: GET /download")
            # What the client did not read sits in the kernel's socket
            # buffers and the front's transport buffer: a few MiB.
            self.assertLess(
                called * size,
                reader.received + 16 * MiB,
                f"{called} of {count} pipelined requests answered for a client that"
                f" read {reader.received} bytes" + self.transcript(),
            )
        result = await self.get("/small", timeout=5)
        self.assertResponse(result, 200, bigbody.SMALL_BODY)
        await reader.abort()
        self.assertMemoryBounded(front, handler)


class EndAtLengthTests(StreamingTestCase):
    """
    A response streamed from a generator with a C{Content-Length}, as
    Django's C{HttpResponse} gives one, is complete for its client at that
    length, before the handler's C{END}.
    """

    @asyncTest
    async def test_clientClosesAtLength(self) -> None:
        """
        Clients that close their connection as soon as they have the whole
        body (as C{http.client} with a new connection per request does),
        200 in a row, are no cancelled requests: the front counts none and
        sends its handler no C{CANCEL}.  (The front waited for the C{END}
        to end the exchange; a client that left first was counted as
        cancelled, about one request in seven here, and the handler logged
        each as cancelled while running.)
        """
        statsPort = freePort()
        _, handler = await self.startServers(statsPort=statsPort)
        for _ in range(200):
            result = await self.get("/download?size=100&length=1")
            self.assertEqual((result.code, len(result.body)), (200, 100))
        stats = await self.assertIdle(statsPort)
        self.assertEqual(
            {name: stats["stats"][name] for name in ("cancelled", "status502", "status504")},
            {"cancelled": 0, "status502": 0, "status504": 0},
            f"statistics {stats}",
        )
        self.assertEqual(handler.countLines("cancelled by the front"), 0, self.transcript())


@implementer(IConsumer)
class _ChunkEncoder:
    """
    Write what is written to it to a transport as HTTP chunks, and the
    last chunk when the producer registered on it is unregistered.
    """

    def __init__(self, transport: ITransport) -> None:
        self._transport = transport

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        IConsumer(self._transport).registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        IConsumer(self._transport).unregisterProducer()
        self._transport.write(b"0\r\n\r\n")

    def write(self, data: bytes) -> None:
        self._transport.writeSequence([b"%x\r\n" % (len(data),), data, b"\r\n"])


class BodyLimitTests(StreamingTestCase):
    """
    C{mpfront --max-body} refuses larger bodies with 413, before reading a
    declared one, and as soon as a chunked one passes it.
    """

    @asyncTest
    async def test_contentLengthOverDefault(self) -> None:
        """
        A C{Content-Length} one byte over the default C{--max-body} (1 GiB)
        with C{Expect: 100-continue} is answered 413 at once (not 100
        Continue) and the connection closed; the application is never
        called.
        """
        statsPort = freePort()
        _front, handler = await self.startServers(statsPort=statsPort)
        client = await self.rawConnection()
        response = await self.withTimeout(
            client.request(
                self.rawRequest(
                    "POST",
                    "/upload",
                    headers=[
                        ("Content-Length", str(GiB + 1)),
                        ("Expect", "100-continue"),
                    ],
                )
            ),
            10,
            "the 413",
        )
        self.assertEqual(response.code, 413, f"{response!r}" + self.transcript())
        await self.withTimeout(client.closed, 10, "the front to close the connection")
        # Only the small request of startServers reached a handler.
        stats = await self.assertIdle(statsPort)
        self.assertEqual(stats["stats"]["requests"], 1, stats)
        self.assertResponse(await self.get("/small"), 200, bigbody.SMALL_BODY)
        await handler.waitForLine("app called: GET /small", count=2)
        self.assertEqual(
            handler.countLines("app called: POST"), 0, self.transcript()
        )

    @asyncTest
    async def test_limits(self) -> None:
        """
        With C{--max-body 1048576}, a body of exactly 1 MiB is accepted, a
        C{Content-Length} of 1 MiB + 1 gets 413 without the application
        being called, and a 2 MiB chunked body gets 413 as soon as it
        passes 1 MiB; the front then holds no request.
        """
        statsPort = freePort()
        _front, handler = await self.startServers(
            "--max-body", str(MiB), statsPort=statsPort
        )
        response, body = await self.streamedRequest(
            b"POST", "/upload", GeneratedBody(bigbody.blocks(MiB), MiB)
        )
        self.assertEqual(response.code, 200, self.transcript())
        self.assertUploaded(body, MiB)

        client = await self.rawConnection()
        refused = await self.withTimeout(
            client.request(
                self.rawRequest(
                    "POST", "/upload", headers=[("Content-Length", str(MiB + 1))]
                )
            ),
            10,
            "the 413",
        )
        self.assertEqual(refused.code, 413, f"{refused!r}" + self.transcript())
        self.assertEqual(handler.countLines("app called: POST"), 1, self.transcript())

        client = await self.rawConnection()
        answered = client.request(
            self.rawRequest(
                "POST", "/upload", headers=[("Transfer-Encoding", "chunked")]
            )
        )
        assert client.transport is not None
        encoder = _ChunkEncoder(client.transport)
        producer = GeneratedBody(bigbody.blocks(2 * MiB))
        encoder.registerProducer(producer, True)
        producer.startProducing(encoder).addCallback(
            lambda ignored: encoder.unregisterProducer()
        )
        tooLarge = await self.withTimeout(answered, 10, "the 413")
        self.assertEqual(tooLarge.code, 413, f"{tooLarge!r}" + self.transcript())
        await self.withTimeout(client.closed, 10, "the front to close the connection")
        await self.assertIdle(statsPort)


class FileWrapperTests(StreamingTestCase):
    """
    C{wsgi.file_wrapper} streams a file.
    """

    @asyncTest
    async def test_largeFile(self) -> None:
        """
        A 200 MiB file returned through C{wsgi.file_wrapper} reaches the
        client whole, with its C{Content-Length}, while the peak RSS of
        the handler (and of the front) grows by less than 64 MiB.
        """
        size = 200 * MiB
        path = self.workdir.child("large.bin")
        self.addCleanup(path.remove)
        with path.open("w") as f:
            for data in bigbody.blocks(size):
                f.write(data)
        expectedDigest(size)
        front, handler = await self.startServers()
        response, body = await self.streamedRequest(
            b"GET", "/file?path=large.bin", timeout=60
        )
        self.assertEqual(response.code, 200, self.transcript())
        self.assertEqual(response.length, size, self.transcript())
        self.assertDigest(body, size, "200 MiB file")
        self.assertMemoryBounded(handler, front)
