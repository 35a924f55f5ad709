# -*- test-case-name: tests.test_profiling -*-
"""
Profiling live handlers, both ways, while the front keeps serving: SIGUSR2
makes a running handler profile itself for C{--profile-seconds}; or one
more handler started with C{--profile FILE} takes its share of the traffic
and writes the file when stopped.  Every request is answered.
"""

from __future__ import annotations

import pstats
import re

from twisted.internet.defer import gatherResults

from ._harness import SystemTestCase, asyncTest


def profiledFiles(path: str) -> set[str]:
    """
    The source files of the functions a pstats file holds.
    """
    stats = pstats.Stats(path)
    return {filename for (filename, _, _) in stats.stats}  # type: ignore[attr-defined]


class LiveProfilingTests(SystemTestCase):
    """
    A front and handlers serving C{tests.apps.whoami}, profiled live.
    """

    @asyncTest
    async def test_signal(self) -> None:
        """
        SIGUSR2 to a running handler profiles it for C{--profile-seconds}
        while it serves, then writes a pstats file holding the
        application's code.
        """
        _front, handler = await self.startFrontAndHandler(
            "tests.apps.whoami:app", "--profile-seconds", "1"
        )
        handler.signal("USR2")
        await handler.waitForLine("profiling for 1.0 s")
        results = await gatherResults([self.get("/") for _ in range(5)])
        self.assertEqual([r.code for r in results], [200] * 5, self.transcript())
        line = await handler.waitForLine("profile of")
        match = re.search(r"profile of (\d+) requests written to (\S+)", line)
        assert match is not None, line
        self.assertEqual(int(match.group(1)), 5, self.transcript())
        files = profiledFiles(match.group(2))
        self.assertTrue(
            any(f.endswith("tests/apps/whoami.py") for f in files), sorted(files)
        )
        # The handler goes on serving, unprofiled.
        self.assertEqual((await self.get("/")).code, 200)

    @asyncTest
    async def test_profiledHandler(self) -> None:
        """
        One more handler started with C{--profile FILE} beside another
        takes its share of the requests and, stopped gracefully, writes the
        profile; no request fails.
        """
        front, _ = await self.startFrontAndHandler("tests.apps.whoami:app")
        path = self.workdir.child("h2.pstats").path
        profiled = await self.startHandler(
            "h2", "tests.apps.whoami:app", "--profile", path, front=front
        )
        # More at once than one handler's 4 threads: both serve.
        results = await gatherResults(
            [self.get("/?sleep=0.2") for _ in range(12)]
        )
        self.assertEqual([r.code for r in results], [200] * 12, self.transcript())
        self.assertEqual(len({r.body for r in results}), 2, self.transcript())
        await profiled.stop()
        self.assertStoppedCleanly(profiled)
        await profiled.waitForLine("profile of")
        files = profiledFiles(path)
        self.assertTrue(
            any(f.endswith("tests/apps/whoami.py") for f in files), sorted(files)
        )
