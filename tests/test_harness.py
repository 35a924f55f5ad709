# -*- test-case-name: tests.test_harness -*-
"""
The harness's own promises, where no front is needed to check them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from twisted.trial.unittest import TestCase

from ._harness import ProcessHandle, asyncTest
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
