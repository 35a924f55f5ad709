# -*- test-case-name: tests.test_harness -*-
"""
The harness's own promises, where no front is needed to check them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

from twisted.trial.unittest import SkipTest, TestCase

from txmp._options import IPC_PATH_MAX, PRIVATE_PREFIX, ipcPathLength, privateAddresses

from ._harness import (
    LOOPBACK,
    ProcessHandle,
    SystemTestCase,
    addresses,
    asyncTest,
    freePort,
    loopbackEndpoint,
)
from ._harness.processes import _pollForExit


class ProcessHandleTests(TestCase):
    """
    Tests for L{ProcessHandle}, how the harness signals and waits for
    processes it did not start itself.
    """

    timeout = 30

    def sleeper(self) -> subprocess.Popen[bytes]:
        """
        A child process that sleeps until it is killed (killed and reaped
        when the test ends, if it has not been).
        """
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

        def kill() -> None:
            child.kill()
            child.wait()

        self.addCleanup(kill)
        return child

    @asyncTest
    async def test_signalAndWait(self) -> None:
        """
        A handle signals its process and fires when the process has exited;
        where Linux and Python have pidfds, it signals by its pidfd, never
        by the PID, which may belong to another process by then.
        """
        child = self.sleeper()
        handle = ProcessHandle(child.pid)
        self.addCleanup(handle.close)
        if hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal"):

            def byPid(pid: int, signum: int) -> None:
                raise AssertionError(f"os.kill({pid}, {signum}) instead of the pidfd")

            self.patch(os, "kill", byPid)
        handle.signal(signal.SIGKILL)
        await handle.whenExited()
        self.assertEqual(child.wait(), -signal.SIGKILL)

    @asyncTest
    async def test_pollSeesZombie(self) -> None:
        """
        Without pidfds, the wait polls: a process that has exited counts as
        exited even while it is a zombie its parent has not reaped yet
        (C{kill(pid, 0)} still finds it), as a child of the test is here.
        """
        child = self.sleeper()
        child.send_signal(signal.SIGKILL)
        await _pollForExit(child.pid)
        self.assertEqual(child.wait(), -signal.SIGKILL)


class TemporaryDirectoryTests(SystemTestCase):
    """
    Every process a system test starts has a C{TMPDIR} of the test's own,
    so that what they leave there (a killed C{--spawn} front's private
    directory) goes with the test.
    """

    @asyncTest
    async def test_processTemporaryDirectory(self) -> None:
        """
        A process's temporary directory is the test's
        L{SystemTestCase.tmpdir}, a directory of its own in C{/tmp}, short
        enough for the C{ipc://} addresses a C{--spawn} front makes there.
        """
        process = self.startProcess("tmp", [
            sys.executable, "-c", "import tempfile; print('TMP', tempfile.gettempdir())",
        ])
        line = await process.waitForLine("TMP ")
        await process.whenEnded()
        self.assertEqual(line, f"TMP {self.tmpdir.path}")
        self.assertTrue(self.tmpdir.basename().startswith("txmp-test-"))
        self.assertEqual(self.tmpdir.dirname(), "/tmp")
        directory = self.tmpdir.child(PRIVATE_PREFIX + "XXXXXXXX").path
        for address in privateAddresses(directory):
            self.assertLessEqual(ipcPathLength(address), IPC_PATH_MAX, address)

    @asyncTest
    async def test_killedSpawnFront(self) -> None:
        """
        A C{--spawn} front given no addresses makes its private directory
        in the test's L{SystemTestCase.tmpdir}: killed with C{SIGKILL}, it
        leaves the directory there, removed with the test's, not in
        C{/tmp}.
        """
        front = self.startTwistd("front", [
            "mpfront", "--listen", loopbackEndpoint(self.httpPort),
            "--spawn", "1", "--app", "tests.apps.hello:app",
        ])
        ready = await front.waitForLine("mpfront ready")
        match = re.search(r"send ipc://(\S+)/send", ready)
        assert match is not None, ready + self.transcript()
        directory = match.group(1)
        self.assertEqual(os.path.dirname(directory), self.tmpdir.path, self.transcript())
        front.signal("KILL")
        await front.whenEnded()
        self.assertEqual(self.tmpdir.listdir(), [os.path.basename(directory)])


class FreePortTests(TestCase):
    """
    Tests for L{freePort}, where a system test's processes listen.
    """

    def test_outsideEphemeralRange(self) -> None:
        """
        L{freePort} gives ports outside the kernel's ephemeral range, which
        no outgoing connection can take between the test choosing one and
        its process listening on it; and not the same port twice running.
        """
        if not addresses._PORTS:
            raise SkipTest("the ephemeral range leaves too few ports outside it")
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            low, high = (int(n) for n in ranges.read().split()[:2])
        ports = [freePort() for _ in range(3)]
        self.assertEqual(len(set(ports)), 3)
        for port in ports:
            self.assertFalse(low <= port <= high, f"{port} in {low}-{high}")
            self.assertGreaterEqual(port, 1024)

    def test_skipsListened(self) -> None:
        """
        A port something listens on is never given.
        """
        if not addresses._PORTS:
            raise SkipTest("the ephemeral range leaves too few ports outside it")
        port = freePort()
        addresses._next = addresses._PORTS.index(port)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
            holder.bind((LOOPBACK, port))
            holder.listen()
            self.assertNotEqual(freePort(), port)

    def test_fallback(self) -> None:
        """
        Without ports outside the ephemeral range (C{1024 65535}), a port
        the kernel chose is given.
        """
        self.patch(addresses, "_PORTS", [])
        port = freePort()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, port))
