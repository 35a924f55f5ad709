# -*- test-case-name: tests.test_curl -*-
"""
The real C{curl} against a front and a handler, with the habits curl has
and the other clients of the suite do not: C{Expect: 100-continue} before
a large body, multipart file uploads, chunked uploads from standard input,
several URLs on one connection, C{HEAD}, HTTP/1.0, C{Accept-Encoding}, a
reader slower than the response, ranges and a transfer cut by its own
deadline.

Each test checks what curl reports (C{-w}'s variables, its exit code, the
file it wrote and, where it tells, C{--trace-ascii}'s record of the
exchange) and what the application saw.  curl runs as a process of the
test (L{SystemTestCase.startProcess}), waited for on the reactor and
stopped by its PID if it outlives the test.  Needs curl (C{.ci/run}
installs it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.error import ProcessTerminated
from twisted.python.filepath import FilePath

from ._harness import SystemTestCase, TwistdProcess, asyncTest, freePort, loopbackEndpoint
from .apps import bigbody
from .apps.flaskapp import BLOB

CURL = shutil.which("curl")

MiB = 1024 * 1024

#: What C{-w} writes after each transfer: one line per URL, the values of
#: L{WRITE_OUT_FIELDS} after a tag that no body line begins with.
WRITE_OUT_FIELDS = (
    "http_code",
    "size_download",
    "size_upload",
    "num_connects",
    "http_version",
    "exitcode",
    "time_total",
)
_WRITE_OUT_TAG = "curl-w:"
WRITE_OUT = _WRITE_OUT_TAG + " " + " ".join("%{" + f + "}" for f in WRITE_OUT_FIELDS) + "\\n"

#: How long one curl command may take before the test fails.
CURL_TIMEOUT = 30.0

#: curl's exit code when C{--max-time} ran out.
OPERATION_TIMEDOUT = 28


def sha256(data: bytes) -> str:
    """
    The SHA-256 of C{data}, in hex.
    """
    return hashlib.sha256(data).hexdigest()


@dataclass
class CurlResult:
    """
    What one curl command did.

    @ivar exitCode: curl's exit code.
    @ivar transfers: For each URL, in order, the C{-w} variables of
        L{WRITE_OUT_FIELDS} by name.
    @ivar process: The curl process, its output in its lines.
    """

    exitCode: int
    transfers: list[dict[str, str]]
    process: TwistdProcess


class CurlTests(SystemTestCase):
    """
    curl, as people run it, against a front and a handler.
    """

    if CURL is None:
        skip = "curl is not installed (.ci/run installs it)"

    timeout = 60

    def path(self, name: str) -> FilePath[str]:
        """
        A file of this test's working directory, where curl runs.

        @param name: Its name.
        """
        return self.workdir.child(name)

    def makeFile(self, name: str, content: bytes) -> str:
        """
        Write C{content} to a file of the working directory.

        @return: The file's path.
        """
        path = self.path(name)
        path.setContent(content)
        return path.path

    def trace(self, name: str) -> str:
        """
        What C{--trace-ascii NAME} recorded.
        """
        return self.path(name).getContent().decode("latin-1")

    async def curl(
        self, *arguments: str, stdin: Sequence[bytes] = (), timeout: float = CURL_TIMEOUT
    ) -> CurlResult:
        """
        Run C{curl -sS ARGUMENTS -w WRITE_OUT} to its end.

        @param arguments: curl's arguments (URLs, C{-o FILE}s, options); a
            C{-w} of their own after a C{--next} is theirs to add.
        @param stdin: What to write to curl's standard input, which is
            then closed (it is left open if this is empty and unused).
        @param timeout: Seconds curl may take.
        @return: What curl did.
        """
        assert CURL is not None
        process = self.startProcess("curl", [CURL, "-sS", "-w", WRITE_OUT, *arguments])
        transport = process.transport
        assert transport is not None
        for piece in stdin:
            transport.write(piece)
        transport.closeStdin()
        end = await self.withTimeout(process.whenEnded(), timeout, "curl to exit")
        if isinstance(end, ProcessTerminated) and end.signal is not None:
            self.fail(f"curl died of signal {end.signal}" + self.transcript())
        transfers = []
        for line in process.lines:
            if line.startswith(_WRITE_OUT_TAG):
                values = line[len(_WRITE_OUT_TAG) :].split()
                transfers.append(dict(zip(WRITE_OUT_FIELDS, values)))
        return CurlResult(end.exitCode or 0, transfers, process)

    def assertTransfers(
        self, result: CurlResult, expected: Sequence[dict[str, str]], exitCode: int = 0
    ) -> None:
        """
        Assert curl's exit code and, for each transfer, the C{-w}
        variables named in C{expected}'s.

        @param result: What curl did.
        @param expected: For each transfer, some of its variables.
        @param exitCode: The exit code curl should have.
        """
        message = f"curl reported {result.transfers}" + self.transcript()
        self.assertEqual(result.exitCode, exitCode, message)
        self.assertEqual(
            [{name: transfer.get(name) for name in wanted} for transfer, wanted in zip(
                result.transfers, expected
            )],
            list(expected),
            message,
        )
        self.assertEqual(len(result.transfers), len(expected), message)

    def reflected(self, name: str) -> dict[str, Any]:
        """
        What L{tests.apps.reflect} answered, in the file curl wrote.
        """
        answer: dict[str, Any] = json.loads(self.path(name).getContent())
        return answer

    def assertBeforeFirst(self, trace: str, first: str, then: str) -> None:
        """
        Assert that C{first} is in curl's trace, before any C{then}.
        """
        self.assertIn(first, trace, self.transcript())
        if then in trace:
            self.assertLess(
                trace.index(first),
                trace.index(then),
                f"curl's trace has {then!r} before {first!r}:\n{trace[:4000]}",
            )

    # Uploads

    @asyncTest
    async def test_dataBinaryExpectContinue(self) -> None:
        """
        C{--data-binary @FILE} of 2 MiB to two URLs: for each, curl asks
        C{Expect: 100-continue} and sends the body once the front's C{100
        Continue} came (before its one-second wait ran out: the first 100
        precedes every body byte in its trace); the application reads all
        of each, and the second goes over the first's connection.
        """
        _, handler = await self.startFrontAndHandler("tests.apps.reflect:app")
        body = os.urandom(2 * MiB)
        upload = self.makeFile("upload.bin", body)
        result = await self.curl(
            "--trace-ascii", "trace.txt", "--data-binary", f"@{upload}",
            "-o", "first.json", self.url("/post/1").decode(),
            "-o", "second.json", self.url("/post/2").decode(),
        )
        self.assertTransfers(
            result,
            [
                {"http_code": "200", "size_upload": str(2 * MiB), "num_connects": "1"},
                {"http_code": "200", "size_upload": str(2 * MiB), "num_connects": "0"},
            ],
        )
        trace = self.trace("trace.txt")
        self.assertEqual(trace.count("Expect: 100-continue"), 2, trace[:4000])
        self.assertEqual(trace.count("HTTP/1.1 100 Continue"), 2, trace[:4000])
        self.assertBeforeFirst(trace, "HTTP/1.1 100 Continue", "=> Send data")
        for n, name in enumerate(["first.json", "second.json"], 1):
            answer = self.reflected(name)
            self.assertEqual(
                (answer["method"], answer["headers"]["CONTENT_LENGTH"], answer["length"]),
                ("POST", str(2 * MiB), 2 * MiB),
            )
            self.assertEqual(answer["sha256"], sha256(body))
            await handler.waitForLine(f"reflect POST /post/{n} {2 * MiB}")

    @asyncTest
    async def test_expectRefused(self) -> None:
        """
        A body over C{--max-body} announced with C{Expect: 100-continue}
        is refused with 413 instead of a 100: curl sends none of it, the
        application is never called, and the next request (a C{GET}) is
        answered.
        """
        _, handler = await self.startFrontAndHandler(
            "tests.apps.reflect:app", frontArguments=["--max-body", str(MiB)]
        )
        upload = self.makeFile("upload.bin", os.urandom(2 * MiB))
        result = await self.curl(
            "--trace-ascii", "trace.txt", "--data-binary", f"@{upload}",
            "-o", "answer.txt", self.url("/post").decode(),
            "--next", "-sS", "-w", WRITE_OUT, "-o", "after.json", self.url("/after").decode(),
        )
        self.assertTransfers(
            result,
            [{"http_code": "413", "size_upload": "0"}, {"http_code": "200"}],
        )
        trace = self.trace("trace.txt")
        self.assertNotIn("100 Continue", trace)
        self.assertEqual(self.path("answer.txt").getContent(), b"413 Content Too Large\n")
        await handler.waitForLine("reflect GET /after")
        self.assertEqual(handler.countLines("reflect POST /post"), 0, self.transcript())

    @asyncTest
    async def test_multipartFile(self) -> None:
        """
        C{-F upload=@FILE;type=...} and C{-F field=value}: Flask's
        C{request.files} holds the file whole, with its name and type, and
        C{request.form} the field.
        """
        await self.startFrontAndHandler("tests.apps.flaskapp:app")
        content = os.urandom(MiB + 12345)
        upload = self.makeFile("photo.jpg", content)
        result = await self.curl(
            "--trace-ascii", "trace.txt",
            "-F", f"upload=@{upload};type=image/jpeg", "-F", "caption=by curl",
            "-o", "answer.json", self.url("/multipart").decode(),
        )
        self.assertTransfers(result, [{"http_code": "200"}])
        trace = self.trace("trace.txt")
        self.assertIn("Content-Type: multipart/form-data; boundary=", trace)
        self.assertBeforeFirst(trace, "HTTP/1.1 100 Continue", "=> Send data")
        self.assertEqual(
            json.loads(self.path("answer.json").getContent()),
            {
                "files": {
                    "upload": {
                        "filename": "photo.jpg",
                        "contentType": "image/jpeg",
                        "length": len(content),
                        "sha256": sha256(content),
                    }
                },
                "fields": {"caption": "by curl"},
            },
            self.transcript(),
        )

    @asyncTest
    async def test_uploadStdinChunked(self) -> None:
        """
        C{-T -}: curl PUTs standard input, of a size it cannot know, with
        C{Transfer-Encoding: chunked} (after a C{100 Continue}); the
        application reads every byte to the end of the body.
        """
        _, handler = await self.startFrontAndHandler("tests.apps.reflect:app")
        size = 3 * MiB + 1000
        result = await self.curl(
            "--trace-ascii", "trace.txt", "-T", "-", "-o", "answer.json",
            self.url("/put/here").decode(),
            stdin=list(bigbody.blocks(size)),
        )
        # (size_upload counts the chunks' framing too.)
        self.assertTransfers(result, [{"http_code": "200"}])
        trace = self.trace("trace.txt")
        self.assertIn("Transfer-Encoding: chunked", trace)
        self.assertBeforeFirst(trace, "HTTP/1.1 100 Continue", "=> Send data")
        answer = self.reflected("answer.json")
        self.assertEqual(
            (answer["method"], answer["length"], answer["sha256"]),
            ("PUT", size, bigbody.expectedDigest(size)),
        )
        self.assertNotIn("CONTENT_LENGTH", answer["headers"])
        await handler.waitForLine(f"reflect PUT /put/here {size}")

    # One connection, several requests

    @asyncTest
    async def test_severalURLsOneConnection(self) -> None:
        """
        Several URLs on one command line go over one connection (curl
        reuses it: one connect in all), each answered whole.
        """
        _, handler = await self.startFrontAndHandler("tests.apps.reflect:app")
        names = ["first", "second", "third"]
        arguments = []
        for name in names:
            arguments += ["-o", f"{name}.json", self.url(f"/{name}?n={name}").decode()]
        result = await self.curl(*arguments)
        self.assertTransfers(
            result,
            [
                {"http_code": "200", "num_connects": "1"},
                {"http_code": "200", "num_connects": "0"},
                {"http_code": "200", "num_connects": "0"},
            ],
        )
        for name in names:
            answer = self.reflected(f"{name}.json")
            self.assertEqual((answer["path"], answer["query"]), (f"/{name}", f"n={name}"))
            await handler.waitForLine(f"reflect GET /{name} 0")

    @asyncTest
    async def test_headThenGet(self) -> None:
        """
        C{-I} on a response the application streams without a length
        (chunked to a GET) gets its head and no body; a GET after it, on
        the same connection (C{--next}), gets its whole body: the front
        sent nothing after the C{HEAD}'s head.
        """
        _, handler = await self.startFrontAndHandler("tests.apps.reflect:app")
        size = 200000
        result = await self.curl(
            "-I", "-o", "head.txt", self.url(f"/download?size={size}").decode(),
            "--next", "-sS", "-w", WRITE_OUT, "-o", "body.bin",
            self.url(f"/download?size={size}").decode(),
        )
        self.assertTransfers(
            result,
            [
                {"http_code": "200", "size_download": "0", "num_connects": "1"},
                {"http_code": "200", "size_download": str(size), "num_connects": "0"},
            ],
        )
        head = self.path("head.txt").getContent()
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(sha256(self.path("body.bin").getContent()), bigbody.expectedDigest(size))
        await handler.waitForLine("app called: HEAD /download")
        await handler.waitForLine("app called: GET /download")

    @asyncTest
    async def test_http10(self) -> None:
        """
        C{--http1.0}: the application is told C{HTTP/1.0}; a response it
        streams without a length reaches curl whole and unchunked, ended
        by the connection's close, so the next URL takes a new connection.
        """
        await self.startFrontAndHandler("tests.apps.reflect:app")
        size = 300000
        result = await self.curl(
            "--http1.0", "-D", "headers.txt", "-o", "answer.json", self.url("/what").decode(),
            "-o", "body.bin", self.url(f"/download?size={size}").decode(),
        )
        self.assertTransfers(
            result,
            [
                {"http_code": "200", "http_version": "1", "num_connects": "1"},
                {
                    "http_code": "200",
                    "http_version": "1",
                    "size_download": str(size),
                    "num_connects": "1",
                },
            ],
        )
        self.assertEqual(self.reflected("answer.json")["protocol"], "HTTP/1.0")
        # (curl would decode a chunked body even in an HTTP/1.0 response.)
        headers = self.path("headers.txt").getContent().lower()
        self.assertEqual(headers.count(b"http/1.0 200 ok\r\n"), 2, headers)
        self.assertNotIn(b"transfer-encoding", headers)
        self.assertEqual(sha256(self.path("body.bin").getContent()), bigbody.expectedDigest(size))

    @asyncTest
    async def test_http2Upgrade(self) -> None:
        """
        C{--http2} on an C{http:} URL asks to upgrade to C{h2c}: the front
        does not, and answers in HTTP/1.1, the request reaching the
        application as sent.
        """
        await self.startFrontAndHandler("tests.apps.reflect:app")
        result = await self.curl("--http2", "-o", "answer.json", self.url("/h2c").decode())
        self.assertTransfers(result, [{"http_code": "200", "http_version": "1.1"}])
        answer = self.reflected("answer.json")
        self.assertEqual(
            (answer["protocol"], answer["headers"]["HTTP_UPGRADE"]), ("HTTP/1.1", "h2c")
        )

    # Headers through to the application, and back

    @asyncTest
    async def test_compressed(self) -> None:
        """
        C{--compressed}: the application sees curl's C{Accept-Encoding} as
        curl sent it, and its gzip-encoded answer reaches curl as sent
        (fewer bytes than the JSON curl decodes and writes).
        """
        await self.startFrontAndHandler("tests.apps.reflect:app")
        result = await self.curl(
            "--compressed", "--trace-ascii", "trace.txt", "-o", "answer.json",
            self.url("/gz?gzip=1&pad=" + "a" * 2000).decode(),
        )
        self.assertTransfers(result, [{"http_code": "200"}])
        sent = [
            line.split(":", 1)[1].strip()
            for line in self.trace("trace.txt").splitlines()
            if line.startswith("0") and ": Accept-Encoding:" in line
        ]
        self.assertEqual(len(sent), 1, self.trace("trace.txt"))
        self.assertIn("gzip", sent[0])
        content = self.path("answer.json").getContent()
        answer = json.loads(content)
        self.assertEqual(answer["headers"]["HTTP_ACCEPT_ENCODING"], sent[0].split(": ", 1)[1])
        self.assertLess(int(result.transfers[0]["size_download"]), len(content))

    @asyncTest
    async def test_range(self) -> None:
        """
        C{-r 0-99}: the C{Range} header reaches the application (Flask's
        C{send_file}), whose C{206} with the first 100 bytes reaches curl.
        """
        await self.startFrontAndHandler("tests.apps.flaskapp:app")
        result = await self.curl(
            "-r", "0-99", "-D", "headers.txt", "-o", "part.bin", self.url("/blob").decode()
        )
        self.assertTransfers(result, [{"http_code": "206", "size_download": "100"}])
        self.assertEqual(self.path("part.bin").getContent(), BLOB[:100])
        headers = self.path("headers.txt").getContent().lower()
        self.assertIn(f"content-range: bytes 0-99/{len(BLOB)}".encode(), headers)

    # Slow and impatient readers

    @asyncTest
    async def test_limitRate(self) -> None:
        """
        C{--limit-rate 100k} on a 1 MiB download: the slow reader gets
        every byte, the application's iterable is closed after all of it,
        and the front holds nothing after.

        (curl 7.88 averages its rate over seconds and reads whatever the
        kernel holds in one go: on loopback, where the whole body fits in
        the socket buffers, it may read it in well under a second or take
        the ten seconds the rate says.  C{tests.test_streaming}'s raw slow
        reader is the one whose pace is sure.)
        """
        statsPort = freePort()
        _, handler = await self.startFrontAndHandler(
            "tests.apps.reflect:app",
            frontArguments=["--stats", loopbackEndpoint(statsPort)],
        )
        result = await self.curl(
            "--limit-rate", "100k", "-o", "body.bin",
            self.url(f"/download?size={MiB}").decode(),
        )
        self.assertTransfers(result, [{"http_code": "200", "size_download": str(MiB)}])
        self.assertEqual(sha256(self.path("body.bin").getContent()), bigbody.expectedDigest(MiB))
        await handler.waitForLine(f"download closed after {MiB} bytes")
        stats = await self.assertIdle(statsPort)
        self.assertEqual(stats["stats"]["cancelled"], 0, f"statistics {stats}")

    @asyncTest
    async def test_maxTimeMidDownload(self) -> None:
        """
        C{--max-time 1} on a download that takes far longer (rate-limited):
        curl gives up with exit code 28 having read part of it; the front
        cancels the request (C{cancelled} in its statistics), the handler
        closes the application's iterable, and nothing is left pending.
        """
        statsPort = freePort()
        _, handler = await self.startFrontAndHandler(
            "tests.apps.reflect:app",
            frontArguments=["--stats", loopbackEndpoint(statsPort)],
        )
        size = 64 * MiB
        result = await self.curl(
            "--max-time", "1", "--limit-rate", "200k", "-o", "body.bin",
            self.url(f"/download?size={size}").decode(),
        )
        self.assertTransfers(
            result, [{"http_code": "200", "exitcode": str(OPERATION_TIMEDOUT)}],
            exitCode=OPERATION_TIMEDOUT,
        )
        got = int(result.transfers[0]["size_download"])
        self.assertTrue(0 < got < size, f"curl read {got} bytes")
        await handler.waitForLine("download closed after", timeout=10)
        stats = await self.assertIdle(statsPort)
        self.assertEqual(stats["stats"]["cancelled"], 1, f"statistics {stats}" + self.transcript())

    @asyncTest
    async def test_maxTimeMidUpload(self) -> None:
        """
        C{--max-time 1} on a rate-limited upload: curl gives up with exit
        code 28 mid-body; the front cancels the request the application
        was reading, and nothing is left pending.
        """
        statsPort = freePort()
        _, handler = await self.startFrontAndHandler(
            "tests.apps.reflect:app",
            frontArguments=["--stats", loopbackEndpoint(statsPort)],
        )
        upload = self.makeFile("upload.bin", os.urandom(2 * MiB))
        result = await self.curl(
            "--max-time", "1", "--limit-rate", "200k", "-T", upload,
            "-o", "answer.json", self.url("/cut").decode(),
        )
        self.assertTransfers(
            result, [{"exitcode": str(OPERATION_TIMEDOUT)}], exitCode=OPERATION_TIMEDOUT
        )
        sent = int(result.transfers[0]["size_upload"])
        self.assertTrue(0 < sent < 2 * MiB, f"curl sent {sent} bytes")
        await handler.waitForLine("cancelled by the front while running", timeout=10)
        stats = await self.assertIdle(statsPort)
        self.assertEqual(stats["stats"]["cancelled"], 1, f"statistics {stats}" + self.transcript())
        self.assertEqual(handler.countLines("reflect PUT /cut"), 0, self.transcript())
