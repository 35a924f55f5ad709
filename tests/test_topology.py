# -*- test-case-name: tests.test_topology -*-
"""
Fronts and handlers find each other in any order, handlers join while
requests flow, and C{mpfront --spawn} runs its own handlers.
"""

from __future__ import annotations

import os
import re
import signal
import stat
from collections import Counter

from twisted.internet.defer import gatherResults

from ._harness import (
    HTTPResult,
    ProcessHandle,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    childPids,
    freePort,
    reap,
    whenExited,
)
from .apps import hello

HELLO = "tests.apps.hello:app"
WHOAMI = "tests.apps.whoami:app"
JOINED = re.compile(r"handler \S+ joined")


def servedBy(results: list[HTTPResult]) -> Counter[int]:
    """
    Count the responses of the C{whoami} application by handler PID.

    @param results: Responses from C{tests.apps.whoami}.
    @return: How many each PID served.
    """
    return Counter(int(r.body) for r in results if r.code == 200 and r.body.isdigit())


class StartingOrderTests(SystemTestCase):
    """
    A handler serves whether it starts before or after the front, and
    rejoins a front that restarts.
    """

    @asyncTest
    async def test_handlerFirst(self) -> None:
        """
        A handler started before the front joins it once it is up.
        """
        handler = self.startHandlerProcess("h1", HELLO)
        await handler.waitForLine("mphandler h1 started")
        front = await self.startFront()
        await self.joined(front, "h1")
        self.assertResponse(await self.get("/"), 200, hello.BODY)

    @asyncTest
    async def test_noFrontWarned(self) -> None:
        """
        A handler that no front has welcomed 10 seconds after it started
        (txmp's default, L{txmp._defaults.NO_FRONT_WARNING}) logs a warning
        naming the front's addresses; once a front is up it joins it, and
        says after how long.
        """
        handler = self.startHandlerProcess("h1", HELLO)
        line = await handler.waitForLine("no front has answered", timeout=20)
        self.assertIn(
            f"mphandler h1: no front has answered at --send {self.sendAddress} "
            f"(--return {self.returnAddress}) for 10 s",
            line,
        )
        self.assertIn("#warn]", line)
        front = await self.startFront()
        await self.joined(front, "h1")
        await handler.waitForLine(re.compile(r"registered with front .* after \d+ s"))
        self.assertResponse(await self.get("/"), 200, hello.BODY)
        self.assertEqual(handler.countLines("no front has answered"), 1, self.transcript())

    @asyncTest
    async def test_frontFirst(self) -> None:
        """
        A handler started after the front joins it.
        """
        front = await self.startFront()
        await self.startHandler("h1", HELLO, front=front)
        self.assertResponse(await self.get("/"), 200, hello.BODY)

    @asyncTest
    async def test_frontRestarts(self) -> None:
        """
        A handler that outlives its front joins the front that replaces it
        on the same addresses.
        """
        first = await self.startFront(label="front-1")
        await self.startHandler("h1", HELLO, front=first)
        self.assertResponse(await self.get("/"), 200, hello.BODY)
        await first.stop()
        self.assertFalse(first.killed, "the front ignored SIGTERM" + self.transcript())
        second = await self.startFront(label="front-2")
        await self.joined(second, "h1")
        self.assertResponse(await self.get("/"), 200, hello.BODY)


class JoiningUnderLoadTests(SystemTestCase):
    """
    Handlers that join a front while requests flow take a share of them,
    and no request fails.
    """

    @asyncTest
    async def test_secondAndThirdHandlerJoin(self) -> None:
        """
        With 20 requests kept in flight against one handler, a second and a
        third handler join; each of them serves requests, and every request
        succeeds.
        """
        front = await self.startFront()
        first = await self.startHandler("h1", WHOAMI, "--threads", "4", front=front)
        load = self.startSteadyLoad("/?sleep=0.02", inFlight=20, total=5000, duration=40)
        await self.withTimeout(
            load.until(lambda: len(load.completed) >= 40), 20, "40 answers from the first handler"
        )
        later = [
            self.startHandlerProcess(name, WHOAMI, "--threads", "4") for name in ["h2", "h3"]
        ]
        for handler in later:
            await handler.waitForLine(f"mphandler {handler.label} started")
            await self.joined(front, handler.label)
        handlers: list[TwistdProcess] = [first, *later]
        pids = {h.pid for h in handlers if h.pid is not None}
        await self.withTimeout(
            load.until(
                lambda: all(servedBy(load.responses)[pid] >= 5 for pid in pids)
                or bool(load.failures)
            ),
            20,
            f"every handler to serve 5 requests (served so far:"
            f" {dict(servedBy(load.responses))}, handler pids"
            f" { {h.label: h.pid for h in handlers} })",
        )
        await self.withTimeout(load.stop(), 20, "the load to end")
        self.assertEqual(
            [f.getErrorMessage() for f in load.failures],
            [],
            "requests failed" + self.transcript(),
        )
        codes = Counter(r.code for r in load.responses)
        self.assertEqual(set(codes), {200}, f"statuses {codes}" + self.transcript())
        served = servedBy(load.responses)
        self.assertEqual(
            set(served),
            pids,
            f"served by {served}, handlers { {h.label: h.pid for h in handlers} }"
            + self.transcript(),
        )


class SpawnTests(SystemTestCase):
    """
    C{mpfront --spawn N --app APP} starts, uses and supervises N handlers
    of its own.
    """

    async def startSpawningFront(self, *extra: str) -> TwistdProcess:
        """
        Start a front that spawns two C{whoami} handlers, and wait until
        both joined.

        @param extra: More C{mpfront} options.
        """
        front = await self.startFront(
            "--spawn", "2", "--app", WHOAMI, "--timeout", "5", *extra
        )
        await front.waitForLine(JOINED, count=2)
        return front

    @asyncTest
    async def test_sequentialRequestsSpread(self) -> None:
        """
        Sequential requests, each answered before the next, reach both
        spawned handlers in turn (round-robin among handlers with as much
        free capacity), so that recycling wears them evenly.
        """
        await self.startSpawningFront()
        pids = [(await self.get("/")).body for _ in range(6)]
        self.assertEqual(len(set(pids)), 2, pids)
        self.assertNotEqual(pids[0], pids[1], pids)

    async def concurrentPids(self, front: TwistdProcess) -> Counter[int]:
        """
        Make 16 concurrent requests that each take 0.1 seconds, assert they
        all succeed, and say which processes served them.

        @return: How many requests each PID served.
        """
        results = await gatherResults([self.get("/?sleep=0.1") for _ in range(16)])
        for result in results:
            self.assertResponse(result, 200)
        served = servedBy(results)
        self.assertNotIn(front.pid, served, "the front ran the application" + self.transcript())
        for pid in served:
            self.addCleanup(reap, front, [pid])
        return served

    @asyncTest
    async def test_spawnedHandlersServe(self) -> None:
        """
        A front started with C{--spawn 2} and no other handler serves
        concurrent requests with both of its handlers.
        """
        front = await self.startSpawningFront()
        served = await self.concurrentPids(front)
        self.assertEqual(len(served), 2, f"served by {served}" + self.transcript())

    @asyncTest
    async def test_spawnedHandlersStopWithFront(self) -> None:
        """
        When the front stops on C{SIGTERM}, so do the handlers it spawned.
        """
        front = await self.startSpawningFront()
        served = await self.concurrentPids(front)
        await front.stop()
        self.assertFalse(front.killed, "the front ignored SIGTERM" + self.transcript())
        for pid in served:
            await self.withTimeout(
                whenExited(pid), 10, f"spawned handler {pid} to exit after the front"
            )

    @asyncTest
    async def test_spawnedHandlersDieWithKilledFront(self) -> None:
        """
        When the front is killed with C{SIGKILL}, and so cannot stop them,
        the handlers it spawned exit by themselves at once (they take the
        front for gone: no wait for three heartbeats of its silence, nor
        for sockets to linger, which took them 5 s) instead of trying to
        reach a dead front for ever.
        """
        front = await self.startSpawningFront()
        served = await self.concurrentPids(front)
        front.signal("KILL")
        await front.whenEnded()
        for pid in served:
            await self.withTimeout(
                # (Under half a second here; the old way took 5.)
                whenExited(pid), 4, f"spawned handler {pid} to exit after its front was killed"
            )

    @asyncTest
    async def test_frontKilledWhileHandlerImports(self) -> None:
        """
        When the front is killed while its spawned handler still imports
        the application (before the handler's reactor runs, so before the
        kernel can be asked to signal the parent's death), the handler
        exits once it has started, instead of running for ever.
        """
        front = self.startTwistd(
            "front", self.frontArguments("--spawn", "1", "--app", "tests.apps.slowimport:app")
        )
        await front.waitForLine("spawn-1 twisted.scripts._twistd_unix.UnixAppLogger#info")
        assert front.pid is not None
        [handler] = childPids(front.pid)
        front.signal("KILL")
        await front.whenEnded()
        await self.withTimeout(
            # Importing tests.apps.slowimport here would sleep as long.
            whenExited(handler), 3 + 10,
            f"spawned handler {handler} to exit after its front was killed",
        )

    @asyncTest
    async def test_privateAddresses(self) -> None:
        """
        A front started with C{--spawn} and neither C{--send} nor
        C{--return} binds C{ipc://} sockets in a directory of mode 0700,
        made for the run, rather than TCP ports any local user can reach;
        its handlers serve through them; the directory is gone once the
        front has stopped.
        """
        front = self.startTwistd(
            "front",
            ["mpfront", "--listen", f"tcp:{self.httpPort}:interface=127.0.0.1",
             "--spawn", "1", "--app", WHOAMI],
        )
        ready = await front.waitForLine("mpfront ready")
        match = re.search(r"send ipc://(\S+)/send, return ipc://(\S+)/return", ready)
        assert match is not None, ready + self.transcript()
        directory = match.group(1)
        self.assertEqual(match.group(2), directory)
        status = os.stat(directory)
        self.assertEqual(stat.S_IMODE(status.st_mode), 0o700, directory)
        self.assertEqual(status.st_uid, os.getuid())
        await front.waitForLine(JOINED)
        result = await self.get("/")
        self.assertResponse(result, 200)
        handler = int(result.body)
        self.addCleanup(reap, front, [handler])
        await front.stop()
        self.assertFalse(front.killed, "the front ignored SIGTERM" + self.transcript())
        self.assertFalse(os.path.exists(directory), f"{directory} left behind")

    @asyncTest
    async def test_harnessKillsProcessGroup(self) -> None:
        """
        Every process a test starts leads a session, and so a process
        group, of its own, which the handlers it spawns share; the harness
        can kill the whole group (it does when a test ends), so that no
        test leaves processes behind.
        """
        front = await self.startSpawningFront()
        served = await self.concurrentPids(front)
        assert front.pid is not None
        self.assertEqual(os.getsid(front.pid), front.pid)
        for pid in served:
            self.assertEqual(os.getpgid(pid), front.pid)
        front.killGroup()
        for pid in served:
            await self.withTimeout(whenExited(pid), 10, f"spawned handler {pid} to be killed")
        end = await front.whenEnded()
        self.assertEqual(getattr(end, "signal", None), 9, self.transcript())

    async def servingHandler(self, front: TwistdProcess) -> ProcessHandle:
        """
        One of the spawned handlers that serve C{front}'s concurrent
        requests (L{concurrentPids}), to signal.
        """
        handle = ProcessHandle(next(iter(await self.concurrentPids(front))))
        self.addCleanup(handle.close)
        return handle

    async def assertReplaced(self, front: TwistdProcess, victim: ProcessHandle) -> None:
        """
        C{victim} exits, a third handler joins, and concurrent requests are
        served by two handlers, none of them C{victim}.
        """
        await self.withTimeout(victim.whenExited(), 10, f"handler {victim.pid} to die")
        await front.waitForLine(JOINED, count=3)
        served = await self.concurrentPids(front)
        self.assertNotIn(victim.pid, served, self.transcript())
        self.assertEqual(len(served), 2, f"served by {served}" + self.transcript())

    @asyncTest
    async def test_spawnedHandlerRestarted(self) -> None:
        """
        A spawned handler that dies is replaced, and requests go to the
        replacement and not to the dead handler.
        """
        front = await self.startSpawningFront()
        victim = await self.servingHandler(front)
        victim.signal(signal.SIGKILL)
        await self.assertReplaced(front, victim)

    @asyncTest
    async def test_killedHandlerDeclaredDeadAtOnce(self) -> None:
        """
        A spawned handler killed (C{SIGKILL}) while it runs requests is
        declared dead as soon as its process exits: not when the front's
        next C{PING} finds it unreachable (up to a heartbeat, 30 s here),
        nor after three heartbeats of its silence.  The GETs it ran are
        retried on the other handler at once, and all are served.
        """
        statsPort = freePort()
        front = await self.startFront(
            "--spawn", "2", "--app", WHOAMI, "--heartbeat", "30", statsPort=statsPort
        )
        await front.waitForLine(JOINED, count=2)
        victim = await self.servingHandler(front)
        # One for each thread of the two (four each): ties go round-robin,
        # so the victim runs four.
        responses = [self.get("/?sleep=1") for _ in range(8)]
        await self.waitForCount(statsPort, "inFlight", 8)
        victim.signal(signal.SIGKILL)
        results = await self.withTimeout(
            gatherResults(responses), 10, "the requests, retried once the victim exited"
        )
        for result in results:
            self.assertResponse(result, 200)
        self.assertNotIn(victim.pid, servedBy(results), self.transcript())
        self.assertEqual(front.countLines(" exited: declared dead"), 1, self.transcript())
        self.assertEqual(front.countLines("silent for 3 heartbeats"), 0, self.transcript())

    @asyncTest
    async def test_frozenHandlerReplaced(self) -> None:
        """
        A spawned handler frozen (C{SIGSTOP}) is declared dead, and, not
        having joined again C{--timeout} seconds later, killed and
        replaced, as gunicorn replaces a silent worker: requests go to the
        replacement, and capacity comes back.
        """
        front = await self.startSpawningFront("--heartbeat", "0.2", "--timeout", "2")
        victim = await self.servingHandler(front)
        victim.signal(signal.SIGSTOP)
        await front.waitForLine(f"(PID {victim.pid}) has not joined again 2.0 s after it"
                                " was declared dead: killed (SIGKILL)", timeout=15)
        await self.assertReplaced(front, victim)
