# -*- test-case-name: tests.test_daemon -*-
"""
Handlers run as daemons (twistd without C{-n}, with C{--pidfile} and
C{--logfile}), as docs/deployment.md allows ("Daemons"): the name a handler
goes by at its front, and the threads its application starts.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Sequence

from twisted.internet.error import ProcessDone
from twisted.python.filepath import FilePath

from ._harness import (
    STOP_GRACE,
    ProcessHandle,
    SystemTestCase,
    asyncTest,
    childPids,
    endProcesses,
    freePort,
    loopbackEndpoint,
    twistdCommand,
)

BACKGROUND = "tests.apps.background:app"


class DaemonTests(SystemTestCase):
    """
    C{twistd mphandler} and C{twistd mpfront --spawn} as daemons.
    """

    async def startDaemon(self, label: str, arguments: Sequence[str]) -> tuple[int, FilePath[str]]:
        """
        Run C{twistd} without C{-n} (a daemon), with a pidfile and a log
        file in this test's directory, wait for the command to return (it
        does once the daemon has started its services), and stop the
        daemon and its children when the test ends.

        @param label: A name for the command, its pidfile and its log file.
        @param arguments: The plugin name and its options.
        @return: The daemon's PID, from its pidfile, and its log file.
        """
        pidfile = self.workdir.child(label + ".pid")
        logfile = self.workdir.child(label + ".log")
        launcher = self.startProcess(label, [
            *twistdCommand(), f"--pidfile={pidfile.path}", f"--logfile={logfile.path}",
            *arguments,
        ])
        end = await self.withTimeout(launcher.whenEnded(), 30, f"the {label} to daemonize")
        self.assertIsInstance(end, ProcessDone, self.transcript())
        pid = int(pidfile.getContent())
        daemon = ProcessHandle(pid)
        self.addCleanup(self.stopDaemon, daemon)
        return pid, logfile

    async def stopDaemon(self, daemon: ProcessHandle) -> None:
        """
        Stop a daemon, which this test did not start directly, then the
        children it had: C{SIGTERM}, then C{SIGKILL} to any still there
        after L{STOP_GRACE} seconds.
        """
        children = [ProcessHandle(pid) for pid in sorted(childPids(daemon.pid))]
        await endProcesses([daemon, *children], STOP_GRACE, first=signal.SIGTERM)

    @asyncTest
    async def test_defaultNameIsDaemons(self) -> None:
        """
        A daemonized handler given no C{--name} is named C{HOST:PID} after
        the daemon, the process in its pidfile: in its front's log and
        C{--stats}, and in its own log; not after the process that parsed
        its options and forked it, which no longer exists.
        """
        statsPort = freePort()
        front = await self.startFront(statsPort=statsPort)
        pid, logfile = await self.startDaemon("handler", [
            "mphandler", "--app", "tests.apps.hello:app",
            "--send", self.sendAddress, "--return", self.returnAddress,
        ])
        name = f"{socket.gethostname()}:{pid}"
        line = await front.waitForLine("joined")
        self.assertIn(f"handler {name} joined", line, f"daemon {pid}" + self.transcript())
        stats = await self.frontStats(statsPort)
        self.assertEqual([h["name"] for h in stats["handlers"]], [name], stats)
        self.assertIn(f"mphandler {name} started".encode(), logfile.getContent())

    @asyncTest
    async def test_threadStartedAtImport(self) -> None:
        """
        A daemonized handler imports the application when its options are
        parsed, before it forks (so that an application that cannot be
        imported is one line from the command, see docs/deployment.md): a
        thread the application started at import is not running in the
        daemon, and one it starts lazily, on the first request, is, as
        "Daemons" in docs/deployment.md says.
        """
        front = await self.startFront()
        await self.startDaemon("handler", [
            "mphandler", "--app", BACKGROUND,
            "--send", self.sendAddress, "--return", self.returnAddress,
        ])
        await front.waitForLine("joined")
        self.assertResponse(await self.get("/"), 200, b"at-import dead\nlazy alive\n")

    @asyncTest
    async def test_threadStartedAtImportForeground(self) -> None:
        """
        In the foreground (twistd C{-n}, as under systemd), the same
        handler runs both threads.
        """
        await self.startFrontAndHandler(BACKGROUND)
        self.assertResponse(await self.get("/"), 200, b"at-import alive\nlazy alive\n")

    @asyncTest
    async def test_spawnedByDaemon(self) -> None:
        """
        The handlers of a daemonized C{mpfront --spawn} ("One host, one
        command") import the application after the front has forked, in
        processes of their own: the thread started at import runs.
        """
        await self.startDaemon("front", [
            "mpfront", "--listen", loopbackEndpoint(self.httpPort),
            "--spawn", "1", "--app", BACKGROUND,
        ])
        # (Waits in the front's queue until the handler joins.)
        self.assertResponse(await self.get("/"), 200, b"at-import alive\nlazy alive\n")
