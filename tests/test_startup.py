# -*- test-case-name: tests.test_startup -*-
"""
Start-up errors: a front or a handler that cannot start exits at once with
a non-zero status and one line that says why, naming the option, and no
traceback.
"""

from __future__ import annotations

import os
import signal
import socket

from twisted.internet.error import ProcessTerminated

from ._harness import (
    ProcessHandle,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    freePort,
    loopbackEndpoint,
    twistdCommand,
)


class StartupErrorTests(SystemTestCase):
    """
    C{twistd mpfront} and C{twistd mphandler} given what they cannot use.
    """

    async def assertFailsToStart(
        self, process: TwistdProcess, *words: str
    ) -> str:
        """
        Wait for C{process} to exit, and assert that it exited with a
        non-zero status, wrote one line that holds every one of C{words}
        (on stderr, or in its log when twistd has started logging), and no
        traceback.

        @return: The line.
        """
        end = await process.whenEnded()
        self.assertIsInstance(end, ProcessTerminated, self.transcript())
        assert isinstance(end, ProcessTerminated)
        self.assertNotEqual(end.exitCode, 0, self.transcript())
        self.assertNotIn("Traceback", "\n".join(process.lines), self.transcript())
        errors = [
            line for line in process.lines if all(word in line for word in words)
        ]
        self.assertEqual(len(errors), 1, self.transcript())
        return errors[0]

    def occupiedPort(self) -> int:
        """
        A port on 127.0.0.1 that a socket of this test listens on until the
        test ends.
        """
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port: int = holder.getsockname()[1]
        return port

    @asyncTest
    async def test_httpPortInUse(self) -> None:
        """
        A front whose HTTP port is in use exits, naming C{--listen}.
        """
        front = self.startTwistd("front", self.frontArguments(port=self.occupiedPort()))
        await self.assertFailsToStart(front, "mpfront:", "--listen", "in use")

    @asyncTest
    async def test_statsPortInUse(self) -> None:
        """
        A front whose C{--stats} port is in use exits, naming C{--stats}.
        """
        front = self.startTwistd(
            "front", self.frontArguments(statsPort=self.occupiedPort())
        )
        await self.assertFailsToStart(front, "mpfront:", "--stats", "in use")

    @asyncTest
    async def test_failureShownAtEveryLogLevel(self) -> None:
        """
        A front and a handler that cannot start once logging has begun (a
        port in use, an address ZeroMQ cannot use) say why at C{--log-level
        critical} too, where they exited 1 without a word: the line went to
        C{sys.stderr}, which twistd logs at level C{error}.
        """
        front = self.startTwistd(
            "front",
            self.frontArguments("--log-level", "critical", port=self.occupiedPort()),
        )
        await self.assertFailsToStart(front, "mpfront:", "--listen", "in use")
        handler = self.startHandlerProcess(
            "h1", "tests.apps.hello:app", "--log-level", "critical",
            fronts=[(self.sendAddress, "tcp://127.0.0.1:notaport")],
        )
        await self.assertFailsToStart(handler, "mphandler:", "--return", "Invalid argument")

    @asyncTest
    async def test_badListen(self) -> None:
        """
        A C{--listen} description that is not an endpoint (C{tpc:8080}) is
        refused with the endpoint's error.
        """
        arguments = self.frontArguments()
        arguments[arguments.index("--listen") + 1] = "tpc:8080"
        front = self.startTwistd("front", arguments)
        await self.assertFailsToStart(front, "mpfront:", "--listen tpc:8080", "tpc")

    @asyncTest
    async def test_noSystemdSocket(self) -> None:
        """
        A C{systemd:} endpoint with no socket passed by systemd (the unit's
        command run by hand, or without its C{.socket} unit) is refused
        with a line that says so, not Python's C{list index out of range}.
        """
        arguments = self.frontArguments()
        arguments[arguments.index("--listen") + 1] = "systemd:domain=INET:index=0"
        front = self.startTwistd("front", arguments)
        line = await self.assertFailsToStart(
            front, "mpfront:", "--listen systemd:domain=INET:index=0",
            "no socket passed by systemd",
        )
        self.assertNotIn("out of range", line)

    @asyncTest
    async def test_badStats(self) -> None:
        """
        A C{--stats} description with a port that is not a number is
        refused, naming C{--stats}.
        """
        front = self.startTwistd("front", [*self.frontArguments(), "--stats", "tcp:abc"])
        await self.assertFailsToStart(front, "mpfront:", "--stats tcp:abc")

    @asyncTest
    async def test_zmqAddressInUse(self) -> None:
        """
        A front whose C{--send} address is in use exits, naming C{--send}
        and the address once, as docs/deployment.md shows.
        """
        address = f"tcp://127.0.0.1:{self.occupiedPort()}"
        front = self.startTwistd(
            "front", self.frontArguments(addresses=(address, self.returnAddress))
        )
        line = await self.assertFailsToStart(front, "mpfront:", "--send", address, "in use")
        self.assertTrue(
            line.endswith(f"mpfront: --send: cannot bind {address}: Address already in use"),
            line,
        )

    @asyncTest
    async def test_ipcAddressOfRunningFront(self) -> None:
        """
        A second front given the C{ipc://} addresses of one that runs exits,
        naming C{--send} and the address, instead of taking them over (as
        libzmq does, removing the first's socket file: its handlers would
        join the second, and the first would serve 503 for ever).  The
        first serves on.
        """
        front = await self.startFront()
        await self.startHandler("h1", "tests.apps.hello:app", front=front)
        second = self.startTwistd("second", self.frontArguments(port=freePort()))
        line = await self.assertFailsToStart(
            second, "mpfront:", "--send", self.sendAddress, "another process listens"
        )
        self.assertTrue(line.endswith("(a front running already?)"), line)
        result = await self.withTimeout(self.get("/"), 10, "the first front's answer")
        self.assertResponse(result, 200)

    @asyncTest
    async def test_badHandlerAddress(self) -> None:
        """
        A handler given a C{--return} address ZeroMQ cannot use exits,
        naming C{--return} and the address once, as docs/deployment.md
        shows.
        """
        handler = self.startHandlerProcess(
            "h1", "tests.apps.hello:app",
            fronts=[(self.sendAddress, "tcp://127.0.0.1:notaport")],
        )
        line = await self.assertFailsToStart(handler, "mphandler:", "--return")
        self.assertTrue(
            line.endswith(
                "mphandler: --return: cannot connect to tcp://127.0.0.1:notaport: "
                "Invalid argument"
            ),
            line,
        )

    @asyncTest
    async def test_spawnPrivateDirectoryRemoved(self) -> None:
        """
        A C{--spawn} front that cannot start (its port in use) removes the
        private directory it made for its C{ipc://} sockets: a service
        manager restarting it on failure leaves no directory behind.
        """
        front = self.startTwistd("front", [
            "mpfront", "--listen", loopbackEndpoint(self.occupiedPort()),
            "--spawn", "1", "--app", "tests.apps.hello:app",
        ])
        await self.assertFailsToStart(front, "mpfront:", "--listen", "in use")
        # The front's TMPDIR.
        self.assertEqual(self.tmpdir.listdir(), [], self.transcript())

    @asyncTest
    async def test_spawnTemporaryDirectoryTooLong(self) -> None:
        """
        A C{--spawn} front given no address, whose C{TMPDIR} is too long for
        the C{ipc://} paths it would bind there (107 bytes at most), is
        refused in one line that says so and what to do (where ZeroMQ said
        only "File name too long"), and makes no directory.
        """
        temporary = self.workdir.child("t" * 100)
        temporary.makedirs()
        with self.extraEnvironment(TMPDIR=temporary.path):
            front = self.startTwistd("front", [
                "mpfront", "--listen", loopbackEndpoint(freePort()),
                "--spawn", "1", "--app", "tests.apps.hello:app",
            ])
        line = await self.assertFailsToStart(
            front, "twistd mpfront: --spawn:", temporary.path, "at most 107",
            "set TMPDIR to a shorter one, or give --send and --return",
        )
        self.assertNotIn("File name too long", line)
        self.assertEqual(temporary.listdir(), [], self.transcript())

    @asyncTest
    async def test_unwritableAccessLog(self) -> None:
        """
        An access log the front cannot write is refused before it starts,
        naming C{--access-log}.
        """
        path = self.workdir.child("no-such-dir").child("access.log").path
        front = self.startTwistd(
            "front", self.frontArguments("--access-log", path)
        )
        await self.assertFailsToStart(front, "--access-log", path)

    @asyncTest
    async def test_unwritableLogfileAndPidfile(self) -> None:
        """
        A twistd C{--logfile} or C{--pidfile} in a directory that does not
        exist is refused before anything starts, in one line naming the
        option, for a daemon and in the foreground, where twistd failed
        with a traceback (the pidfile's after the start-up lines, then
        another one for the pidfile it could not remove).
        """
        missing = self.workdir.child("no-such-dir")
        logfile, pidfile = missing.child("front.log").path, missing.child("front.pid").path
        for label, twistd, option, path in [
            ("logfile", ["--nodaemon", f"--logfile={logfile}", "--pidfile="],
             "--logfile", logfile),
            ("pidfile", ["--nodaemon", "--logfile=-", f"--pidfile={pidfile}"],
             "--pidfile", pidfile),
            ("daemon", [f"--logfile={logfile}", f"--pidfile={pidfile}"],
             "--logfile", logfile),
        ]:
            front = self.startProcess(
                label, [*twistdCommand(), *twistd, *self.frontArguments()]
            )
            line = await self.assertFailsToStart(front, "twistd mpfront:", option, path)
            self.assertIn("No such file or directory", line)
            self.assertEqual(len(front.lines), 1, self.transcript())
        handler = self.startProcess("handler", [
            *twistdCommand(), "--nodaemon", "--logfile=-", f"--pidfile={pidfile}",
            "mphandler", "--app", "tests.apps.hello:app",
        ])
        await self.assertFailsToStart(handler, "twistd mphandler:", "--pidfile", pidfile)
        self.assertFalse(missing.exists())

    @asyncTest
    async def test_pidfileOfRunningProcess(self) -> None:
        """
        A C{--pidfile} that names a process still running (the same
        service started twice) is refused in one line naming the option
        and the process, as a daemon and in the foreground, by both
        commands, and the pidfile is left as it was: twistd said so in
        four lines, a blank one among them.
        """
        pidfile = self.workdir.child("front.pid")
        running = b"%d" % (os.getpid(),)
        pidfile.setContent(running)
        for label, twistd in [
            ("foreground", ["--nodaemon", "--logfile=-", f"--pidfile={pidfile.path}"]),
            ("daemon", [f"--logfile={self.workdir.child('front.log').path}",
                        f"--pidfile={pidfile.path}"]),
        ]:
            front = self.startProcess(
                label, [*twistdCommand(), *twistd, *self.frontArguments()]
            )
            line = await self.assertFailsToStart(
                front, "twistd mpfront:", "--pidfile", pidfile.path, running.decode()
            )
            self.assertEqual(
                [line], [x for x in front.lines if x.strip()], self.transcript()
            )
        handler = self.startProcess("handler", [
            *twistdCommand(), "--nodaemon", "--logfile=-", f"--pidfile={pidfile.path}",
            "mphandler", "--app", "tests.apps.hello:app",
        ])
        await self.assertFailsToStart(handler, "twistd mphandler:", "--pidfile", pidfile.path)
        self.assertEqual(pidfile.getContent(), running)

    @asyncTest
    async def test_pidfileNamingNoPID(self) -> None:
        """
        An empty C{--pidfile} (cut short by a crash, or made beforehand to
        be owned by the service's user) names no process: it is stale, and
        a front and a daemon start at it, where twistd refused, saying
        C{Pidfile ... contains non-numeric value}, as it said "Another
        twistd server is running, PID 0" in four lines for one holding
        C{0}.  One holding something else is refused in one line naming
        the option, and left as it was.
        """
        pidfile = self.workdir.child("front.pid")
        for label, content, twistd in [
            ("foreground", b"", ["--nodaemon", "--logfile=-", f"--pidfile={pidfile.path}"]),
            ("zero", b"0\n", ["--nodaemon", "--logfile=-", f"--pidfile={pidfile.path}"]),
        ]:
            pidfile.setContent(content)
            front = self.startProcess(
                label, [*twistdCommand(), *twistd, *self.frontArguments(port=freePort())]
            )
            await front.waitForLine("mpfront ready")
            self.assertEqual(pidfile.getContent(), str(front.pid).encode("ascii"))
            front.signal("TERM")
            await front.whenEnded()
        pidfile.setContent(b"")
        log = self.workdir.child("front.log")
        launcher = self.startProcess("daemon", [
            *twistdCommand(), f"--logfile={log.path}", f"--pidfile={pidfile.path}",
            *self.frontArguments(port=freePort()),
        ])
        end = await self.withTimeout(launcher.whenEnded(), 30, "the daemon's twistd")
        self.assertFalse(isinstance(end, ProcessTerminated), self.transcript())
        daemon = ProcessHandle(int(pidfile.getContent()))
        # Not left running should an assertion below fail.
        self.addCleanup(daemon.signal, signal.SIGKILL)
        daemon.signal(signal.SIGTERM)
        await self.withTimeout(daemon.whenExited(), 30, "the daemon's end")
        self.assertFalse(pidfile.exists())
        pidfile.setContent(b"twistd\n")
        front = self.startProcess("other", [
            *twistdCommand(), "--nodaemon", "--logfile=-", f"--pidfile={pidfile.path}",
            *self.frontArguments(),
        ])
        line = await self.assertFailsToStart(
            front, "twistd mpfront:", "--pidfile", pidfile.path, "not a PID"
        )
        self.assertEqual([line], [x for x in front.lines if x.strip()], self.transcript())
        self.assertEqual(pidfile.getContent(), b"twistd\n")

    @asyncTest
    async def test_daemonCannotStart(self) -> None:
        """
        A daemon (twistd without C{-n}, as in docs/deployment.md's "One
        host, one command") that cannot start, a front whose port is in use
        or a handler given a bad address, makes the C{twistd} command that
        launched it exit at once with status 1, printing the line, and
        leaves no pidfile; that command waited for ever (twistd tells it
        of an exception, not of the C{SystemExit} carrying the line), and
        the pidfile named a dead process.
        """
        run = self.workdir.child("run")
        run.makedirs()
        for label, arguments, words in [
            ("front", self.frontArguments(port=self.occupiedPort()),
             ["mpfront: --listen", "Address already in use"]),
            ("handler", ["mphandler", "--app", "tests.apps.hello:app",
                         "--send", self.sendAddress, "--return", "tcp://127.0.0.1:x"],
             ["mphandler: --return: cannot connect to tcp://127.0.0.1:x"]),
        ]:
            pidfile = run.child(label + ".pid")
            launcher = self.startProcess(label, [
                *twistdCommand(), f"--pidfile={pidfile.path}",
                f"--logfile={run.child(label + '.log').path}", *arguments,
            ])
            end = await self.withTimeout(launcher.whenEnded(), 30, f"the {label}'s twistd")
            self.assertIsInstance(end, ProcessTerminated, self.transcript())
            assert isinstance(end, ProcessTerminated)
            self.assertEqual(end.exitCode, 1, self.transcript())
            [said] = [line for line in launcher.lines if "An error has occurred" in line]
            for word in words:
                self.assertIn(word, said, self.transcript())
            self.assertFalse(pidfile.exists(), self.transcript())

    @asyncTest
    async def test_usageErrorOneLine(self) -> None:
        """
        A usage error is one line naming the option, not the usage text.
        """
        front = self.startTwistd("front", self.frontArguments("--timeout", "0"))
        await self.assertFailsToStart(front, "twistd mpfront:", "--timeout")
        self.assertEqual(len(front.lines), 1, self.transcript())
        handler = self.startHandlerProcess("h1", "tests.apps.hello:app", "--threads", "x")
        await self.assertFailsToStart(handler, "twistd mphandler:", "--threads")
        self.assertEqual(len(handler.lines), 1, self.transcript())

    @asyncTest
    async def test_spawnAppTypo(self) -> None:
        """
        C{--spawn} with an C{--app} whose module does not exist (a typo) is
        refused before any handler is spawned, in one line.
        """
        front = self.startTwistd(
            "front", self.frontArguments("--spawn", "2", "--app", "txmp.dmeo:app")
        )
        await self.assertFailsToStart(front, "twistd mpfront:", "--app txmp.dmeo:app")
        self.assertEqual(front.countLines("spawn-1"), 0, self.transcript())

    @asyncTest
    async def test_spawnHandlerTableRefused(self) -> None:
        """
        A C{--spawn} front whose C{--config} file gives its handlers a
        value they refuse (C{[mphandler]} C{threads = 0}) is refused in one
        line naming the option, before any handler is spawned, where it
        said it was ready, spawned handlers that each exited with that
        line, and exited with status 3 after three of them.
        """
        config = self.workdir.child("txmp.toml")
        config.setContent(b"[mphandler]\nthreads = 0\n")
        front = self.startTwistd("front", self.frontArguments(
            "--spawn", "2", "--app", "tests.apps.hello:app", "--config", config.path,
        ))
        await self.assertFailsToStart(
            front, "twistd mpfront:", "--spawn handlers", "--threads must be positive"
        )
        self.assertEqual(len(front.lines), 1, self.transcript())

    @asyncTest
    async def test_portFreeStarts(self) -> None:
        """
        The same front, given a free port, starts: the failures above are
        the ports', not the command's.
        """
        front = await self.startFront(port=freePort())
        self.assertEqual(front.end, None)
