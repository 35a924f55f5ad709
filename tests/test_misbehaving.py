# -*- test-case-name: tests.test_misbehaving -*-
"""
Applications that misbehave as operators of gunicorn and uWSGI know them
to: ones that leave threads running, ones that never return.  Whatever
the application does, a handler that is told to stop, or recycled, or
whose front is gone, exits within a bound.
"""

from __future__ import annotations

from twisted.internet.error import ProcessDone, ProcessTerminated

from ._harness import SystemTestCase, asyncTest, reap, whenExited

LINGERING = "tests.apps.lingering:app"


class LingeringThreadTests(SystemTestCase):
    """
    An application that starts threads that are not daemons and never end
    (L{tests.apps.lingering}): Python's exit would wait for them for ever.
    """

    async def assertRecycledExits(self, path: str, threads: str) -> None:
        """
        Start a handler of L{LINGERING} recycled after one request, and
        request C{path}: the handler answers, then exits with status 0,
        saying once which C{threads} it did not wait for, after the
        application's L{atexit} hook ran.
        """
        _front, handler = await self.startFrontAndHandler(LINGERING, "--max-requests", "1")
        # Read now: the process may have exited (its pid forgotten) by the
        # time the response is read.
        pid = handler.pid
        result = await self.get(path)
        self.assertResponse(result, 200, str(pid).encode("ascii"))
        await self.withTimeout(handler.whenEnded(), 10, "the recycled handler to exit")
        self.assertIsInstance(handler.end, ProcessDone, self.transcript())
        self.assertEqual(
            handler.countLines(
                "exiting without waiting for 2 threads the application left running: "
                + threads
            ),
            1,
            self.transcript(),
        )
        self.assertEqual(handler.countLines("exit hook ran"), 1, self.transcript())

    @asyncTest
    async def test_recycledExits(self) -> None:
        """
        A handler recycled by C{--max-requests} exits with status 0 once it
        has answered, saying which threads it did not wait for, instead of
        staying alive for ever.
        """
        await self.assertRecycledExits("/thread", "started-at-import started-by-request")

    @asyncTest
    async def test_recycledExitsWithExecutorTask(self) -> None:
        """
        A handler recycled by C{--max-requests} exits with status 0 once it
        has answered, even if a L{concurrent.futures.ThreadPoolExecutor} of
        the application's (imported after the handler began, as an
        application imports one) runs a task that never ends: Python's exit
        would join its thread for ever, daemon though it is.
        """
        await self.assertRecycledExits("/executor", "started-at-import executor_0")

    @asyncTest
    async def test_frontGoneExits(self) -> None:
        """
        A spawned handler whose front was killed (C{SIGKILL}) exits.
        """
        front = await self.startFront("--spawn", "1", "--app", LINGERING)
        await front.waitForLine("joined")
        result = await self.get("/thread")
        self.assertEqual(result.code, 200, self.transcript())
        pid = int(result.body)
        self.addCleanup(reap, front, [pid])
        front.signal("KILL")
        await self.withTimeout(whenExited(pid), 10, "the spawned handler to exit")

    @asyncTest
    async def test_terminatedExits(self) -> None:
        """
        A handler sent C{SIGTERM} exits (twistd ends it with the signal).
        """
        _front, handler = await self.startFrontAndHandler(LINGERING)
        self.assertEqual((await self.get("/thread")).code, 200, self.transcript())
        handler.signal("TERM")
        await self.withTimeout(handler.whenEnded(), 10, "the handler to exit")
        self.assertStoppedCleanly(handler)

    @asyncTest
    async def test_unbootableExits(self) -> None:
        """
        A handler whose application started such a thread, then failed to
        import, exits with status 1 after its one-line error, as without
        the thread (so a front's C{--spawn} counts a boot failure rather
        than wait for ever).
        """
        handler = self.startHandlerProcess("h1", "tests.apps.unbootablethread:app")
        end = await self.withTimeout(handler.whenEnded(), 10, "the handler to exit")
        self.assertIsInstance(end, ProcessTerminated, self.transcript())
        assert isinstance(end, ProcessTerminated)
        self.assertEqual(end.exitCode, 1, self.transcript())
        self.assertEqual(
            handler.countLines(
                "--app tests.apps.unbootablethread:app: cannot import"
                " tests.apps.unbootablethread: RuntimeError: this application cannot start"
            ),
            1,
            self.transcript(),
        )


class ForkingTests(SystemTestCase):
    """
    An application that forks without C{exec} (L{tests.apps.forking}), as
    L{multiprocessing} does.
    """

    @asyncTest
    async def test_childrenTerminate(self) -> None:
        """
        A child the application forks stops on C{SIGTERM}, as in a process
        of its own: it inherited the reactor's handler, which only logged
        "Received SIGTERM, shutting down." into the handler's log, so that
        C{Process.terminate()} did not stop it, and a
        C{multiprocessing.Pool} ending its C{with} block waited for ever.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.forking:app")
        self.assertResponse(await self.get("/terminate"), 200, b"-15")
        self.assertResponse(
            await self.withTimeout(self.get("/pool"), 10, "the pool to end"),
            200,
            b"[0, 1, 4, 9]",
        )
        self.assertEqual(handler.countLines("Received SIGTERM"), 0, self.transcript())
