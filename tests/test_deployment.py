# -*- test-case-name: tests.test_deployment -*-
"""
Recipes of docs/deployment.md run as written, with this test's paths and
ports (on 127.0.0.1) in place of the document's: "One host, one command"
as a daemon with its pidfile and log file, rotated as the logrotate recipe
of "Logs" does it, and by logrotate itself where it is installed; and the
configuration file and environment of "Configuration file and environment";
and a port below 1024 served as another user (twistd's C{--uid}).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import tempfile
from unittest import SkipTest

from twisted.internet.error import ProcessDone
from twisted.python.filepath import FilePath

from txmp._defaults import DEFAULT_PREFETCH

from ._harness import (
    PROJECT_APP,
    PROJECT_ROOT,
    STOP_GRACE,
    ProcessHandle,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    childPids,
    endProcesses,
    freePort,
)

DEPLOYMENT = PROJECT_ROOT.child("docs").child("deployment.md")
LOGROTATE = shutil.which("logrotate") or next(
    (path for path in ["/usr/sbin/logrotate"] if os.path.exists(path)), None
)


def codeBlocks(title: str) -> list[str]:
    """
    The indented blocks of the section C{title} of docs/deployment.md (a
    C{##} or C{###} heading), unindented, backslash-continued lines joined.
    """
    text = DEPLOYMENT.getContent().decode("utf-8")
    section = re.split(r"\n#+ " + re.escape(title) + "\n", text, maxsplit=1)[1]
    section = re.split(r"\n#+ ", section, maxsplit=1)[0]
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in section.splitlines():
        if line.startswith("    "):
            if current is None:
                current = []
                blocks.append(current)
            current.append(line[4:])
        elif line.strip():
            current = None
    return ["\n".join(block).replace("\\\n", "") for block in blocks]


def rotationRule() -> str:
    """
    The logrotate rule of "Logs", unindented.
    """
    [rotation] = [block for block in codeBlocks("Logs") if "postrotate" in block]
    return rotation


class DeploymentRecipeTests(SystemTestCase):
    """
    The commands and files of docs/deployment.md, in this test's directory.
    """

    timeout = 90

    def setUp(self) -> None:
        super().setUp()
        package = self.workdir.child("myproject")
        package.makedirs()
        package.child("__init__.py").setContent(b"")
        package.child("wsgi.py").setContent(PROJECT_APP)

    def adapt(self, text: str, ports: dict[int, int], paths: dict[str, str]) -> str:
        """
        C{text} with its ports and paths replaced: a bare C{tcp:PORT}
        listens on 127.0.0.1 only.
        """
        for path, replacement in paths.items():
            text = text.replace(path, replacement)
        for port, new in ports.items():
            text = re.sub(rf"\btcp:{port}\b(?!:interface)", f"tcp:{new}:interface=127.0.0.1",
                          text)
            text = re.sub(rf"(?<=[:/]){port}\b", str(new), text)
        return text

    def daemonPaths(self, run: FilePath, logs: FilePath) -> dict[str, str]:
        """
        Make C{run} and C{logs}, this test's C{/run/txmp} and
        C{/var/log/txmp}.

        @return: The document's paths, each with its replacement, for
            L{adapt}.
        """
        run.makedirs()
        logs.makedirs()
        return {"/run/txmp/": run.path + "/", "/var/log/txmp/": logs.path + "/"}

    async def startDaemon(self, paths: dict[str, str], extra: list[str]) -> list[ProcessHandle]:
        """
        Run the command of "One host, one command" with C{paths} for the
        document's and C{extra} arguments after it: it daemonizes and
        returns with status 0; then wait until the front serves, by when it
        has spawned its four handlers. They are stopped when the test ends.

        @return: The front (the PID in its pidfile), then its handlers.
        """
        command = self.adapt(codeBlocks("One host, one command")[0], {8080: self.httpPort}, paths)
        words = shlex.split(command)
        self.assertNotIn("-n", words)
        starter = self.startProcess("twistd", ["/usr/bin/env", *words, *extra])
        end = await self.withTimeout(starter.whenEnded(), 30, "twistd to daemonize")
        self.assertIsInstance(end, ProcessDone, self.transcript())
        pid = int(FilePath(paths["/run/txmp/"]).child("front.pid").getContent())
        processes = [ProcessHandle(pid)]
        self.addCleanup(self.stopDaemon, processes)
        # (Waits in the front's queue until a handler joins, by when the
        # front has spawned all four.)
        self.assertResponse(await self.get("/before"), 200, b"myproject says hello\n")
        processes += [ProcessHandle(child) for child in sorted(childPids(pid))]
        self.assertEqual(len(processes), 5, self.transcript())
        return processes

    async def stopDaemon(self, processes: list[ProcessHandle]) -> None:
        """
        Stop processes that this test did not start directly (a daemon and
        the handlers it spawned), in order: C{SIGTERM}, then C{SIGKILL} to
        any still there after L{STOP_GRACE} seconds.
        """
        await endProcesses(processes, STOP_GRACE, first=signal.SIGTERM)

    @asyncTest
    async def test_daemonPidfileAndLogrotate(self) -> None:
        """
        "One host, one command", with an access log, daemonizes: the
        command returns with status 0 once the front runs, whose PID is in
        the pidfile it was given; the front serves; after logrotate's moves
        of the log file and the access log, the recipe's C{postrotate}
        command (C{kill -USR1 $(cat PIDFILE)}) makes the front write both
        to new files of the same names, and twistd renames nothing itself
        (no C{FILE.1} of its own); C{kill -TERM} then stops the front and
        its handlers, and the pidfile is removed.
        """
        rotation = rotationRule()
        # The rule rotates the command's --logfile and the access log.
        self.assertEqual(
            rotation.splitlines()[0].split()[:2],
            ["/var/log/txmp/front.log", "/var/log/txmp/access.log"],
        )
        run, logs = self.workdir.child("run"), self.workdir.child("log")
        paths = self.daemonPaths(run, logs)
        processes = await self.startDaemon(paths, ["--access-log", logs.child("access.log").path])
        pidfile = run.child("front.pid")

        logfile, access = logs.child("front.log"), logs.child("access.log")
        logfile.moveTo(logs.child("front.log.1"))
        access.moveTo(logs.child("access.log.1"))
        postrotate = re.search(r"postrotate\n\s*(.*)\n\s*endscript", rotation)
        assert postrotate is not None, rotation
        kill = self.startProcess(
            "postrotate",
            ["/bin/sh", "-c", self.adapt(postrotate.group(1), {}, paths)],
        )
        self.assertIsInstance(await kill.whenEnded(), ProcessDone, self.transcript())
        self.assertResponse(await self.get("/after"), 200, b"myproject says hello\n")

        self.assertIn(b'"GET /before HTTP/1.1" 200', logs.child("access.log.1").getContent())
        [line] = access.getContent().splitlines()
        self.assertIn(b'"GET /after HTTP/1.1" 200', line)
        self.assertIn(b"mpfront ready", logs.child("front.log.1").getContent())
        self.assertIn(b"access log reopened", logfile.getContent())
        self.assertEqual(
            sorted(logs.listdir()),
            ["access.log", "access.log.1", "front.log", "front.log.1"],
        )

        processes[0].signal(signal.SIGTERM)
        for process in processes:
            await self.withTimeout(process.whenExited(), 20, f"process {process.pid} to exit")
        self.assertFalse(pidfile.exists())
        self.assertIn(b"Server Shut Down.", logfile.getContent())

    @asyncTest
    async def test_logrotateRule(self) -> None:
        """
        logrotate itself, given the rule of "Logs", rotates the log of the
        command of "One host, one command" as that section writes it, with
        no access log: it exits with status 0, the log file is now
        C{front.log.1}, and the front, told by the rule's C{postrotate},
        writes on to a new C{front.log}. (logrotate stops at a file of its
        rule that is missing, the access log here, unless told
        C{missingok}.)
        """
        run, logs = self.workdir.child("run"), self.workdir.child("log")
        paths = self.daemonPaths(run, logs)
        processes = await self.startDaemon(paths, [])
        config = self.workdir.child("logrotate.conf")
        config.setContent(self.adapt(rotationRule(), {}, paths).encode("utf-8"))
        assert LOGROTATE is not None
        logrotate = self.startProcess("logrotate", [
            LOGROTATE, "--force", "--state", self.workdir.child("logrotate.state").path,
            config.path,
        ])
        end = await self.withTimeout(logrotate.whenEnded(), 30, "logrotate")
        self.assertIsInstance(end, ProcessDone, self.transcript())
        self.assertResponse(await self.get("/after"), 200, b"myproject says hello\n")
        processes[0].signal(signal.SIGTERM)
        for process in processes:
            await self.withTimeout(process.whenExited(), 20, f"process {process.pid} to exit")
        self.assertEqual(sorted(logs.listdir()), ["front.log", "front.log.1"])
        self.assertIn(b"mpfront ready", logs.child("front.log.1").getContent())
        self.assertIn(b"Server Shut Down.", logs.child("front.log").getContent())

    if LOGROTATE is None:
        test_logrotateRule.skip = "logrotate is not installed"  # type: ignore[attr-defined]

    async def startConfigured(self, environment: str, command: str) -> TwistdProcess:
        """
        Run C{command}, a shell command line, with the variables
        C{environment} sets.
        """
        variables = dict(
            (name, value) for name, _, value in
            (word.partition("=") for word in shlex.split(environment))
        )
        with self.extraEnvironment(**variables):
            return self.startProcess("front", ["/usr/bin/env", *shlex.split(command)])

    @asyncTest
    async def test_configurationFile(self) -> None:
        """
        The configuration file of "Configuration file and environment",
        used by its command line: the environment's C{TXMP_MPFRONT_LISTEN}
        replaces the file's C{listen}, the file's other front options hold
        (C{--spawn 4}, the access log to stdout, C{--stats}), and its
        C{[mphandler]} table reaches the spawned handlers: they offer 8
        credits each, as their 8 threads.
        """
        blocks = codeBlocks("Configuration file and environment")
        toml = next(block for block in blocks if block.startswith("# /etc/txmp/txmp.toml"))
        [line] = [block for block in blocks if "twistd" in block]
        statsPort = freePort()
        paths = {"/run/txmp/http.sock": "http.sock",
                 "/etc/txmp/txmp.toml": self.workdir.child("txmp.toml").path}
        self.workdir.child("txmp.toml").setContent(
            self.adapt(toml, {8080: freePort(), 8081: statsPort}, paths).encode("utf-8")
        )
        environment, _, command = line.partition(" twistd ")
        front = await self.startConfigured(
            self.adapt(environment, {8080: self.httpPort}, paths),
            "twistd " + self.adapt(command, {}, paths),
        )
        await front.waitForLine("mpfront ready")
        await front.waitForLine("joined", count=4)
        # Its 8 threads, and mphandler's default --prefetch.
        self.assertEqual(
            front.countLines(
                f"joined with {8 + DEFAULT_PREFETCH} credits (prefetch {DEFAULT_PREFETCH})"
            ),
            4, self.transcript(),
        )
        self.assertResponse(await self.get("/"), 200, b"myproject says hello\n")
        await front.waitForLine('"GET / HTTP/1.1" 200')
        stats = await self.frontStats(statsPort)
        self.assertEqual(stats["counts"]["credits"], 4 * (8 + DEFAULT_PREFETCH), stats)


def freeLowPort() -> int:
    """
    A TCP port below 1024 free on 127.0.0.1, which only root may bind.
    """
    for port in range(1023, 600, -1):
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            probe.close()
        return port
    raise SkipTest("no port below 1024 is free")


class PrivilegedPortTests(SystemTestCase):
    """
    twistd's C{--uid} and C{--gid} with a port below 1024, as
    docs/deployment.md shows them.
    """

    @asyncTest
    async def test_lowPortAsUser(self) -> None:
        """
        C{twistd -u nobody -g nogroup mpfront --listen tcp:PORT}, PORT below
        1024, listens before it becomes C{nobody}, as Twisted's own servers
        do: it serves a request, runs as C{nobody}, and its access log is
        C{nobody}'s file (opened after the change of user, so that the
        user can reopen it after a rotation).
        """
        if os.getuid() != 0:
            raise SkipTest("only root can change its user")
        try:
            nobody = pwd.getpwnam("nobody")
            group = grp.getgrgid(nobody.pw_gid).gr_name
        except KeyError:
            raise SkipTest("no user nobody") from None
        port = freeLowPort()
        # Not in the test's directory, which nobody may not enter.
        logs = FilePath(tempfile.mkdtemp(prefix="txmp-uid-"))
        self.addCleanup(shutil.rmtree, logs.path)
        os.chown(logs.path, nobody.pw_uid, nobody.pw_gid)
        # (ipc:// paths in the test's directory would be root's.)
        addresses = (f"tcp://127.0.0.1:{freePort()}", f"tcp://127.0.0.1:{freePort()}")
        front = self.startTwistd("front", [
            "-u", "nobody", "-g", group,
            "mpfront", "--listen", f"tcp:{port}:interface=127.0.0.1",
            "--send", addresses[0], "--return", addresses[1],
            "--access-log", logs.child("access.log").path,
        ])
        await front.waitForLine("mpfront ready")
        await self.startHandler("h1", "txmp.demo:app", front=front, fronts=[addresses])
        result = await self.get("/", port=port)
        self.assertEqual(result.code, 200, self.transcript())
        with open(f"/proc/{front.pid}/status") as status:
            uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
        self.assertEqual({int(uid) for uid in uids}, {nobody.pw_uid}, self.transcript())
        accessLog = os.stat(logs.child("access.log").path)
        self.assertEqual(
            (accessLog.st_uid, accessLog.st_gid), (nobody.pw_uid, nobody.pw_gid)
        )
