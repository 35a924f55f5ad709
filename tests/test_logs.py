# -*- test-case-name: tests.test_logs -*-
"""
The logs as an operator reads them: JSON lines that parse one by one, and
a front whose spawned handlers' events appear in its log once each, with
their own time and level.
"""

from __future__ import annotations

import json
import re

from ._harness import SystemTestCase, asyncTest

# A line of twistd's text log starts with one time stamp.
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"


class LogTests(SystemTestCase):
    """
    Fronts and handlers with C{--log-format} and C{--log-level}.
    """

    @asyncTest
    async def test_jsonLines(self) -> None:
        """
        With C{--log-format json}, every line a front and a handler write is
        a JSON object; the handler's C{wsgi.errors} line carries the request
        id.
        """
        front = await self.startFront("--log-format", "json")
        handler = self.startHandlerProcess(
            "h1", "tests.apps.slow:app", "--log-format", "json"
        )
        await handler.waitForLine("registered with front")
        self.assertEqual((await self.get("/slow?seconds=0")).code, 200)
        await handler.waitForLine("slow request started")
        for process in (front, handler):
            events = [json.loads(line) for line in process.lines]
            self.assertTrue(all("log_level" in e and "text" in e for e in events),
                            process.transcript())
        self.assertIn("mphandler h1 started: app tests.apps.slow:app",
                      [json.loads(line)["text"].split(",")[0] for line in handler.lines])
        [started] = [json.loads(line) for line in handler.lines
                     if "slow request started" in line]
        self.assertRegex(started["requestId"], r"^[0-9a-f]+\.[0-9a-f]+$")

    @asyncTest
    async def test_childGivenStandardError(self) -> None:
        """
        A command the application runs with C{stderr=sys.stderr}, as under
        gunicorn, writes to the handler's own standard error: twistd's
        C{sys.stderr}, which logs what is written to it, had no C{fileno()},
        and the request failed.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.forking:app")
        self.assertResponse(await self.get("/subprocess"), 200, b"out\n")
        await handler.waitForLine("child's stderr")

    @asyncTest
    async def test_bytesToStandardOutput(self) -> None:
        """
        An application that writes bytes to C{sys.stdout.buffer}, as code
        written for the process's own standard output may (and does under
        gunicorn), is answered, and what it wrote is in the handler's log
        as a line of its standard output: twistd's C{sys.stdout}, which
        logs what is written to it, had no C{buffer}, and the request got
        500.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.forking:app")
        self.assertResponse(await self.get("/buffer"), 200, b"written")
        await handler.waitForLine("[stdout#info] bytes through sys.stdout.buffer")

    @asyncTest
    async def test_levelFilters(self) -> None:
        """
        C{--log-level warn} leaves the info lines out.
        """
        front = self.startTwistd(
            "front", self.frontArguments("--log-level", "warn", "--access-log", "-")
        )
        handler = await self.startHandler("h1", "tests.apps.hello:app")
        await handler.waitForLine("registered with front")
        self.assertEqual((await self.get("/")).code, 200)
        # (The access log is not the log: it goes to stdout whatever the level.)
        await front.waitForLine('"GET / HTTP/1.1" 200')
        self.assertEqual(front.countLines("#info]"), 0, self.transcript())
        self.assertEqual(front.countLines("mpfront ready"), 0, self.transcript())

    @asyncTest
    async def test_spawnedHandlersOneStream(self) -> None:
        """
        A spawned handler's events appear in its front's log once each,
        with one time stamp, their own level and namespace, and the
        handler's name.
        """
        front = await self.startFront("--spawn", "1", "--app", "tests.apps.failing:app")
        line = await front.waitForLine("registered with front")
        self.assertRegex(
            line, rf"^{STAMP} \[\S+:spawn-1 txmp\._handler\.FrontLink#info\] mphandler "
        )
        for text in front.lines:
            self.assertIsNone(re.search(STAMP + ".*" + STAMP, text), self.transcript())
