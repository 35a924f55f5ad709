# -*- test-case-name: tests.test_lifecycle -*-
"""
Stopping a front: SIGTERM stops accepting connections and finishes the
requests in progress (within C{--graceful-timeout}) before the front and
its spawned handlers exit.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import sys

from twisted.internet.defer import gatherResults
from twisted.trial.unittest import SkipTest
from twisted.web.client import ResponseNeverReceived

from txmp._defaults import EXIT_HOOKS_TIMEOUT

from ._harness import (
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    childPids,
    freePort,
    loopbackEndpoint,
    reap,
    twistdCommand,
    whenExited,
)
from ._harness.clients import IncompleteResponse
from ._harness.procfs import hasExited


class FrontStopTests(SystemTestCase):
    """
    SIGTERM to a front with a slow request in progress.
    """

    async def assertDrains(
        self, front: TwistdProcess, handlerOutput: TwistdProcess, signalName: str = "TERM"
    ) -> None:
        """
        Start a request, SIGTERM C{front} once the application runs it,
        and assert that new connections are refused while the request is
        in progress, that it is answered in full once the application
        ends it, and that the front then exits cleanly, by SIGTERM
        (status 143 to a shell, whatever the signal: docs/deployment.md,
        Signals).

        @param handlerOutput: the process whose output shows the
            application's lines.
        @param signalName: the signal sent instead of C{SIGTERM}.
        """
        target, release = self.heldRequest()
        slow = self.get(target)
        await handlerOutput.waitForLine("slow request started: GET")
        front.signal(signalName)
        await front.waitForLine("mpfront stopping: finishing 1 requests")
        if await self.accepts():
            self.fail("the stopping front accepted a connection" + self.transcript())
        release()
        try:
            result = await slow
        except Exception as e:  # noqa: BLE001 (any failure of it fails the test)
            self.fail(f"the request in progress failed: {e}" + self.transcript())
        self.assertResponse(result, 200, b"slow\n")
        await front.whenEnded()
        self.assertStoppedCleanly(front)
        self.assertEqual(
            getattr(front.end, "signal", None), signal.SIGTERM, self.transcript()
        )

    @asyncTest
    async def test_frontDrains(self) -> None:
        """
        A front with a separate handler answers the request it had when it
        got SIGTERM.
        """
        front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        await self.assertDrains(front, handler)

    @asyncTest
    async def test_quitDrains(self) -> None:
        """
        SIGQUIT (gunicorn's quick shutdown, nginx's graceful one; Ctrl-\\ in
        a terminal) stops a C{--spawn} front as SIGTERM does, its handler
        too: its default action killed the front at once, dumping core, the
        request cut and the front's private directory left behind.
        """
        front = await self.startFront("--spawn", "1", "--app", "tests.apps.slow:app")
        await front.waitForLine("joined")
        await self.assertDrains(front, front, "QUIT")
        await front.waitForLine("SIGQUIT: handled as SIGTERM")
        self.assertEqual(self.tmpdir.listdir(), [], self.transcript())

    @asyncTest
    async def test_handlerQuitDrains(self) -> None:
        """
        SIGQUIT drains a handler as SIGTERM does: the request it runs is
        answered, and it stops cleanly.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        target, release = self.heldRequest()
        slow = self.get(target)
        await handler.waitForLine("slow request started: GET")
        handler.signal("QUIT")
        await handler.waitForLine("draining from front")
        release()
        self.assertResponse(await slow, 200, b"slow\n")
        await handler.whenEnded()
        self.assertStoppedCleanly(handler)

    @asyncTest
    async def test_answeredRequestEnded(self) -> None:
        """
        A request whose client has its whole response (complete at its
        C{Content-Length}) while its application's C{close()} still runs
        is let end when the front stops: the front waits for it before
        its C{BYE}, and the handler cancels nothing.
        """
        front, handler = await self.startFrontAndHandler("tests.apps.slowclose:app")
        self.assertResponse(await self.get("/?seconds=1"), 200, b"ok")
        await handler.waitForLine("closing")
        front.signal("TERM")
        await front.whenEnded()
        self.assertStoppedCleanly(front)
        await handler.waitForLine("closed")
        self.assertEqual(handler.countLines("cancel"), 0, self.transcript())
        self.assertEqual(front.countLines("not ended"), 0, self.transcript())

    @asyncTest
    async def test_answeredRequestCancelledAtGracefulTimeout(self) -> None:
        """
        One whose application's C{close()} outlasts the front's
        C{--graceful-timeout} is waited for that long only: then the front
        says so and cancels it, and exits.
        """
        front, handler = await self.startFrontAndHandler(
            "tests.apps.slowclose:app", frontArguments=["--graceful-timeout", "1"]
        )
        self.assertResponse(await self.get("/?seconds=5"), 200, b"ok")
        await handler.waitForLine("closing")
        front.signal("TERM")
        await front.waitForLine(
            "1 requests answered but not ended by their handlers within "
            "--graceful-timeout: cancelled"
        )
        await handler.waitForLine("cancelled by the front while running")
        await front.whenEnded()
        self.assertStoppedCleanly(front)
        self.assertEqual(handler.countLines("closed"), 0, self.transcript())

    @asyncTest
    async def test_drainedRequestLogged(self) -> None:
        """
        The request a stopping front finishes has its access-log line: the
        log stays open until the front has answered everything it had, not
        only until its listening ports are closed.
        """
        path = self.workdir.child("access.log")
        front, handler = await self.startFrontAndHandler(
            "tests.apps.slow:app", frontArguments=["--access-log", path.path]
        )
        await self.assertDrains(front, handler)
        self.assertRegex(
            path.getContent(), rb'"GET /slow\?until=\S+ HTTP/1\.1" 200 5 ', self.transcript()
        )

    @asyncTest
    async def test_spawnedHandlersStopAfter(self) -> None:
        """
        With C{--spawn}, the spawned handler is stopped only once the front
        has finished its request, and stops too.
        """
        front = await self.startFront("--spawn", "1", "--app", "tests.apps.slow:app")
        await front.waitForLine("joined")
        await self.assertDrains(front, front)

    @asyncTest
    async def test_bootingHandlerServesQueue(self) -> None:
        """
        A request waiting in the queue of a C{--spawn} front told to stop
        while its handler still imports the application is served once that
        handler joins, and the front then exits: the front's private
        directory, with its C{ipc://} sockets, stays until it has stopped.
        It was removed as the front began to stop, so the handler could not
        connect, never joined, and the request got 503 at
        C{--queue-timeout} (a restart during a reload, or while a handler
        recycled by C{--max-requests} was being replaced, did the same).
        """
        statsPort = freePort()
        front = self.startTwistd("front", [
            "mpfront", "--listen", loopbackEndpoint(self.httpPort),
            "--stats", loopbackEndpoint(statsPort), "--spawn", "1",
            "--app", "tests.apps.slowimport:app", "--queue-timeout", "20",
        ])
        await front.waitForLine("mpfront ready")
        queued = self.get("/")
        await self.waitForQueued(statsPort, 1)
        # (The application takes 3 s to import.)
        self.assertEqual(front.countLines("joined"), 0, self.transcript())
        front.signal("TERM")
        result = await self.withTimeout(queued, 15, "the queued request's answer")
        self.assertResponse(result, 200)
        await self.withTimeout(front.whenEnded(), 30, "the front to exit")
        self.assertEqual(front.countLines("Traceback"), 0, self.transcript())

    @asyncTest
    async def test_ignoredInterruptDrains(self) -> None:
        """
        A front started as a shell script's background job, which POSIX
        shells start with SIGINT ignored (the reactor then installs no
        SIGINT handler of its own): SIGINT drains it as SIGTERM does, as
        the signal table says.  It used to mark the front as stopping and
        stop nothing, and the SIGTERM sent next was ignored as a second
        stop signal, leaving the front and its handlers running until
        SIGKILL.  (Not on PyPy, which never leaves SIGINT ignored.)
        """
        if platform.python_implementation() == "PyPy":
            # PyPy installs its SIGINT handler over one inherited ignored
            # (CPython keeps SIG_IGN), so the reactor handles SIGINT itself.
            raise SkipTest("PyPy never starts with SIGINT ignored")
        ignoring = (
            "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        front = self.startProcess(
            "front",
            [sys.executable, "-c", ignoring, *twistdCommand(), "--nodaemon",
             "--logfile=-", "--pidfile=",
             *self.frontArguments("--spawn", "1", "--app", "tests.apps.slow:app")],
        )
        await front.waitForLine("joined")
        await self.assertDrains(front, front, "INT")
        await front.waitForLine("SIGINT: handled as SIGTERM")


class LastReplyTests(SystemTestCase):
    """
    A handler that stops sends what it has queued before it closes its
    sockets: the end of its last replies, which its application threads
    queued before its drain ended.
    """

    @asyncTest
    async def test_recycledAfterLargeReply(self) -> None:
        """
        A handler recycled by C{--max-requests 1} right after a reply of
        30 MiB in one message (L{tests.apps.echo} returns the body it read
        as a list of one) delivers it: the client gets the whole body, not
        a 502 for a handler gone with the reply unsent.
        """
        _front, handler = await self.startFrontAndHandler(
            "tests.apps.echo:app", "--max-requests", "1"
        )
        body = os.urandom(30 * 1024 * 1024)
        result = await self.request(b"POST", "/", body)
        self.assertResponse(result, 200)
        self.assertEqual(len(result.body), len(body), self.transcript())
        self.assertTrue(result.body == body, "the body came back changed")
        await self.withTimeout(handler.whenEnded(), 10, "the recycled handler to exit")


class StoppedWhenReadyTests(SystemTestCase):
    """
    A front may be stopped as soon as it says it is ready, and a handler
    as soon as it says it started.
    """

    @asyncTest
    async def test_spawnFrontStoppedAtReady(self) -> None:
        """
        A C{--spawn} front sent C{SIGTERM} as soon as it logs C{mpfront
        ready} stops cleanly and removes its private directory: the line
        comes once its signal handlers are in place, where before
        C{SIGTERM}'s default action could kill it, leaving the directory.
        """
        front = self.startTwistd("front", [
            "mpfront", "--listen", loopbackEndpoint(self.httpPort),
            "--spawn", "1", "--app", "tests.apps.hello:app",
        ])
        await front.waitForLine("mpfront ready")
        front.signal("TERM")
        await front.whenEnded()
        self.assertStoppedCleanly(front)
        # The front's TMPDIR, where it made its private directory.
        self.assertEqual(self.tmpdir.listdir(), [], self.transcript())

    @asyncTest
    async def test_handlerStoppedAtStarted(self) -> None:
        """
        A handler sent C{SIGTERM} as soon as it logs C{mphandler NAME
        started} stops cleanly: the line comes once its signal handlers are
        in place, where before C{SIGTERM}'s default action could kill it.
        """
        handler = self.startHandlerProcess("h1", "tests.apps.hello:app")
        await handler.waitForLine("mphandler h1 started")
        handler.signal("TERM")
        await handler.whenEnded()
        self.assertStoppedCleanly(handler)


class ExitHooksTests(SystemTestCase):
    """
    A handler runs the application's L{atexit} hooks when it stops, as a
    gunicorn worker does.
    """

    @asyncTest
    async def test_stoppedBySignal(self) -> None:
        """
        A handler stopped by C{SIGTERM} runs them, into its log, and stops
        cleanly: twistd ends a process its reactor stopped for a signal by
        killing it with that signal, which skipped them.
        """
        handler = self.startHandlerProcess("h1", "tests.apps.exithook:app")
        await handler.waitForLine("mphandler h1 started")
        handler.signal("TERM")
        await handler.whenEnded()
        self.assertStoppedCleanly(handler)
        self.assertEqual(handler.countLines("exit hook ran"), 1, self.transcript())


    @asyncTest
    async def test_stuckHookBounded(self) -> None:
        """
        A handler whose application left a child process running, which
        L{multiprocessing}'s own exit hook waits for, stops all the same
        once its hooks have had L{EXIT_HOOKS_TIMEOUT} seconds, saying so:
        running the hooks in its reactor thread, without a bound, it hung
        for ever after C{SIGTERM}.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.forking:app")
        self.assertResponse(await self.get("/leave"), 200, b"left")
        pid = handler.pid
        assert pid is not None
        left = childPids(pid)
        self.assertEqual(len(left), 1, self.transcript())
        handler.signal("TERM")
        # (Its end as a child of this test waits for the pipes the child it
        # left holds; its process's is what matters.)
        await self.withTimeout(
            whenExited(pid), EXIT_HOOKS_TIMEOUT + 10, "the handler to exit"
        )
        for child in left:
            os.kill(child, signal.SIGKILL)
        await self.withTimeout(handler.whenEnded(), 10, "the handler's pipes to close")
        self.assertEqual(
            handler.countLines("the application's atexit hooks still ran after"),
            1,
            self.transcript(),
        )


class GracefulTimeoutTests(SystemTestCase):
    """
    A request still running when C{--graceful-timeout} passes.
    """

    @asyncTest
    async def test_gaveUp(self) -> None:
        """
        The front stops after C{--graceful-timeout}, saying how many
        connections it closed unfinished, and does not wait for the
        request, which its access log records as closed without an answer
        (444).
        """
        path = self.workdir.child("access.log")
        front, handler = await self.startFrontAndHandler(
            "tests.apps.slow:app", "--graceful-timeout", "1",
            frontArguments=["--graceful-timeout", "1", "--access-log", path.path],
        )
        slow = self.get("/slow?seconds=20")
        await handler.waitForLine("slow request started: GET")
        front.signal("TERM")
        line = await front.waitForLine(
            "1 connections not done within --graceful-timeout 1.0 s: closed, 1 requests cut ("
        )
        await front.whenEnded()
        self.assertStoppedCleanly(front)
        with self.assertRaises(ResponseNeverReceived):
            await slow
        [logged] = path.getContent().decode("ascii").splitlines()
        self.assertIn('"GET /slow?seconds=20 HTTP/1.1" 444 - ', logged, self.transcript())
        # The line names the request cut as its access log line does.
        self.assertIn("(%s)" % (logged.split()[-1],), line, self.transcript())


    @asyncTest
    async def test_handlerClosesCut(self) -> None:
        """
        A handler whose C{--graceful-timeout} passes with a response still
        streaming cuts it, and its application closes it (PEP 3333
        C{close()}, where Django and Flask release their connections)
        once, before the handler exits, saying so: it exited with the
        response never closed.
        """
        _front, handler = await self.startFrontAndHandler(
            "tests.apps.slowclose:drip", "--graceful-timeout", "1",
        )
        client = await self.rawConnection()
        # Ended, unfinished, when the front finds the handler gone.
        client.request(self.rawRequest("GET", "/")).addErrback(lambda _: None)
        await handler.waitForLine("drip started")
        handler.signal("TERM")
        await handler.whenEnded()
        self.assertStoppedCleanly(handler)
        self.assertEqual(handler.countLines("drip closed"), 1, self.transcript())
        self.assertEqual(
            handler.countLines("the 1 requests cut ended, their responses closed"),
            1,
            self.transcript(),
        )

    @asyncTest
    async def test_frontEndsCutStream(self) -> None:
        """
        A response streaming when its handler cuts it at
        C{--graceful-timeout} ends then at the front, which aborts its
        client's connection and lets the drained handler go: it waited
        until it found the handler silent (three heartbeats after it
        exited), and declared it dead.
        """
        front, handler = await self.startFrontAndHandler(
            "tests.apps.slowclose:drip", "--graceful-timeout", "1",
        )
        client = await self.rawConnection()
        response = client.request(self.rawRequest("GET", "/"))
        await handler.waitForLine("drip started")
        handler.signal("TERM")
        await handler.whenEnded()
        await front.waitForLine("the handler stopped: --graceful-timeout passed")
        await front.waitForLine("drained and left")
        with self.assertRaises(IncompleteResponse):
            await response
        self.assertEqual(front.countLines("declared dead"), 0, self.transcript())


class SpawnedHandlersExitFirstTests(SystemTestCase):
    """
    A front with C{--spawn} exits only after its handlers, as gunicorn's
    arbiter waits for its workers.
    """

    @asyncTest
    async def test_handlersExitBeforeFront(self) -> None:
        """
        SIGTERM to a front whose spawned handler is still running a request
        the front gave up on (504): when the front has exited, both its
        handlers have too, their stop lines are in its output, and it said
        that it waited for them.
        """
        front = await self.startFront(
            "--spawn", "2", "--app", "tests.apps.slow:app", "--timeout", "1"
        )
        await front.waitForLine("joined", count=2)
        assert front.pid is not None
        pids = sorted(childPids(front.pid))
        self.addCleanup(reap, front, pids)
        self.assertEqual(len(pids), 2, self.transcript())
        result = await self.get("/slow?seconds=4")
        self.assertEqual(result.code, 504, self.transcript())
        front.signal("TERM")
        await front.whenEnded()
        self.assertStoppedCleanly(front)
        self.assertEqual([pid for pid in pids if not hasExited(pid)], [], self.transcript())
        stopLine = re.compile(r"mphandler \S+:spawn-[12] stopped after \d+ requests")
        self.assertEqual(front.countLines(stopLine), 2, self.transcript())
        self.assertEqual(
            front.countLines(
                re.compile(r"mpfront stopping: waited [\d.]+ s for 2 spawned handlers to exit")
            ),
            1,
            self.transcript(),
        )


class CtrlCTests(SystemTestCase):
    """
    Ctrl-C on the demo: SIGINT to the whole process group, the front and
    its spawned handlers at once.
    """

    @asyncTest
    async def test_cleanStop(self) -> None:
        """
        The front and its spawned handlers stop, the front with status 0 or
        by SIGINT after shutting down; no traceback is printed, no handler
        is replaced or restarted while they stop.
        """
        front = await self.startFront("--spawn", "2", "--app", "txmp.demo:app")
        await front.waitForLine("joined", count=2)
        self.assertEqual((await self.get("/")).code, 200)
        assert front.group is not None
        os.killpg(front.group, signal.SIGINT)
        await front.whenEnded()
        await front.waitForLine("Server Shut Down.")
        output = "\n".join(front.lines)
        self.assertNotIn("Traceback", output, self.transcript())
        self.assertNotIn("replacing draining handler", output, self.transcript())
        self.assertEqual(front.countLines("spawn-3"), 0, self.transcript())


    @asyncTest
    async def test_queuedAnsweredAtOnce(self) -> None:
        """
        Requests that wait in the front's queue when Ctrl-C comes get 503
        as soon as the handlers, which drain at once, have all said so:
        no handler can join a stopping front's private addresses, so
        nothing could serve them, and waiting for C{--queue-timeout} (60 s
        here) would only hold the front up.  The request running is served.
        """
        statsPort = freePort()
        front = self.startTwistd("front", [
            "mpfront", "--listen", loopbackEndpoint(self.httpPort),
            "--stats", loopbackEndpoint(statsPort), "--spawn", "1", "--threads", "1",
            "--app", "tests.apps.slow:app", "--queue-timeout", "60",
        ])
        await front.waitForLine("joined")
        target, release = self.heldRequest()
        running = self.get(target)
        await front.waitForLine("slow request started: GET")
        queued = [self.get("/fast") for _ in range(2)]
        await self.waitForQueued(statsPort, 2)
        assert front.group is not None
        os.killpg(front.group, signal.SIGINT)
        for result in await self.withTimeout(
            gatherResults(queued), 20, "the queued requests' answers"
        ):
            self.assertResponse(result, 503)
        release()
        self.assertResponse(await running, 200, b"slow\n")
        await self.withTimeout(front.whenEnded(), 30, "the front to exit")
        self.assertEqual(front.countLines("Traceback"), 0, self.transcript())


class StraySignalsTests(SystemTestCase):
    """
    Signals an operator of gunicorn or uWSGI may send out of habit to a
    process that has no use for them: C{SIGUSR2} (gunicorn's binary
    upgrade) to a front, C{SIGTTIN} and C{SIGTTOU} to a front without
    C{--spawn} or to a handler.  Their default actions would kill the
    process (C{SIGUSR2}) or freeze it (C{SIGTTIN}, C{SIGTTOU}).
    """

    async def assertIgnored(
        self, process: TwistdProcess, signals: list[str], handler: TwistdProcess
    ) -> None:
        """
        While a slow request runs, send C{signals} to C{process}: each is
        logged as ignored, the request is answered, and the next one too.

        @param handler: the process whose output shows the application's
            lines.
        """
        target, release = self.heldRequest()
        slow = self.get(target)
        await handler.waitForLine("slow request started: GET")
        for name in signals:
            process.signal(name)
            await process.waitForLine(f"SIG{name}: ")
        release()
        self.assertResponse(await slow, 200, b"slow\n")
        self.assertResponse(
            await self.withTimeout(self.get("/slow?seconds=0"), 5, "the next request"),
            200, b"slow\n",
        )
        self.assertIsNone(process.end, self.transcript())

    @asyncTest
    async def test_frontIgnores(self) -> None:
        """
        A front without C{--spawn} logs C{SIGUSR2}, C{SIGTTIN} and
        C{SIGTTOU} and goes on serving: none kills or stops it.
        """
        front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        await self.assertIgnored(front, ["USR2", "TTIN", "TTOU"], handler)

    @asyncTest
    async def test_spawnFrontIgnoresUsr2(self) -> None:
        """
        A C{--spawn} front logs C{SIGUSR2} and goes on serving, its
        handlers with it.
        """
        front = await self.startFront("--spawn", "1", "--app", "tests.apps.slow:app")
        await front.waitForLine("joined")
        await self.assertIgnored(front, ["USR2"], front)

    @asyncTest
    async def test_handlerIgnores(self) -> None:
        """
        A handler logs C{SIGTTIN} and C{SIGTTOU} and goes on serving,
        instead of being stopped by them and declared dead.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        await self.assertIgnored(handler, ["TTIN", "TTOU"], handler)

    @asyncTest
    async def test_handlerHangupKeepsServing(self) -> None:
        """
        A handler started apart (not by a front's C{--spawn}) has nothing
        to reload: C{SIGHUP} (what systemd's C{ExecReload} or a closing
        terminal sends) is logged and changes nothing.  The request it was
        running is answered, and it serves the next one.
        """
        _front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        await self.assertIgnored(handler, ["HUP"], handler)
        self.assertEqual(
            handler.countLines("SIGHUP: a handler has nothing to reload"), 1, self.transcript()
        )


class SignalsWhileStoppingTests(SystemTestCase):
    """
    Signals that do not stop a process, sent while it stops: logrotate's
    C{SIGUSR1}, a reload's C{SIGHUP}, C{SIGUSR2} to profile.
    """

    async def assertSignalsWhileDraining(
        self, which: str, draining: str, signals: list[str]
    ) -> None:
        """
        Start a front and a handler, and while a request is held, send
        C{SIGTERM} then C{signals} to one of them: the request is answered
        once released, and the process stops cleanly.

        @param which: C{"front"} or C{"handler"}, the process signalled.
        @param draining: the line it logs once draining.
        """
        front, handler = await self.startFrontAndHandler("tests.apps.slow:app")
        process = front if which == "front" else handler
        target, release = self.heldRequest()
        slow = self.get(target)
        await handler.waitForLine("slow request started: GET")
        process.signal("TERM")
        await process.waitForLine(draining)
        for name in signals:
            process.signal(name)
        release()
        self.assertResponse(await slow, 200, b"slow\n")
        await process.whenEnded()
        self.assertStoppedCleanly(process)

    @asyncTest
    async def test_frontReopensWhileDraining(self) -> None:
        """
        C{SIGUSR1} (logrotate) and C{SIGHUP} to a front finishing a request
        after C{SIGTERM} neither kill it nor cut the request: the request is
        answered and the front stops cleanly.
        """
        await self.assertSignalsWhileDraining(
            "front", "mpfront stopping: finishing 1 requests", ["USR1", "HUP"]
        )

    @asyncTest
    async def test_handlerSignalledWhileDraining(self) -> None:
        """
        C{SIGUSR1}, C{SIGUSR2} and C{SIGHUP} to a handler draining a request
        after C{SIGTERM} neither kill it nor cut the request: the request is
        answered and the handler stops cleanly.
        """
        await self.assertSignalsWhileDraining(
            "handler", "draining from front", ["USR1", "USR2", "HUP"]
        )
