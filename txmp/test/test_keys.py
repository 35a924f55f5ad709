# -*- test-case-name: txmp.test.test_keys -*-
"""
Tests for L{txmp.keys}, the C{python -m txmp.keys} command.
"""

from __future__ import annotations

import io
import os
import stat
import sys

import zmq.auth
from twisted.trial.unittest import SynchronousTestCase

from txmp import keys
from txmp._security import loadAllowList
from txmp._zmq import loadKeyPair


class KeysCommandTests(SynchronousTestCase):
    """
    C{python -m txmp.keys [DIRECTORY] NAME}.
    """

    def keys(self, *args: str) -> tuple[int, str, str]:
        """
        Run the command with C{args}.

        @return: its exit status, standard output and standard error.
        """
        out, err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stderr", err)
        status = keys.main(list(args))
        return status, out.getvalue(), err.getvalue()

    def test_writes(self) -> None:
        """
        It writes NAME.key_secret (both keys, mode 0600) and NAME.key (the
        public certificate), named and formatted as pyzmq's
        C{create_certificates} does, creating the directory.
        """
        directory = os.path.join(self.mktemp(), "keys")
        status, out, err = self.keys(directory, "h1")
        self.assertEqual(status, 0, err)
        secretFile = os.path.join(directory, "h1.key_secret")
        publicFile = os.path.join(directory, "h1.key")
        self.assertEqual(stat.S_IMODE(os.stat(secretFile).st_mode), 0o600)
        public, secret = zmq.auth.load_certificate(secretFile)
        self.assertIsNotNone(secret)
        self.assertEqual(zmq.auth.load_certificate(publicFile), (public, None))
        self.assertEqual(sorted(os.listdir(directory)), ["h1.key", "h1.key_secret"])
        self.assertIn(secretFile, out)
        self.assertIn(publicFile, out)

    def test_pathName(self) -> None:
        """
        With one argument, NAME may be a path: C{DIR/NAME} is C{DIR NAME};
        a bare NAME writes in the current directory.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        status, _out, err = self.keys(os.path.join(directory, "front"))
        self.assertEqual(status, 0, err)
        self.assertEqual(
            sorted(os.listdir(directory)), ["front.key", "front.key_secret"]
        )
        here = os.getcwd()
        os.chdir(directory)
        self.addCleanup(os.chdir, here)
        status, _out, err = self.keys("h1")
        self.assertEqual(status, 0, err)
        self.assertIn("h1.key_secret", os.listdir(directory))

    def test_noOverwrite(self) -> None:
        """
        An existing key is never overwritten.
        """
        directory = self.mktemp()
        self.keys(directory, "h1")
        with open(os.path.join(directory, "h1.key_secret"), "rb") as f:
            before = f.read()
        status, _out, err = self.keys(directory, "h1")
        self.assertEqual(status, 1)
        self.assertIn("exists", err)
        with open(os.path.join(directory, "h1.key_secret"), "rb") as f:
            self.assertEqual(f.read(), before)

    def test_cannotWrite(self) -> None:
        """
        A directory that cannot be made or written (a file in the way, or
        C{/etc/txmp} run as a user who may not write there) is one line
        naming the path and why, and status 1: it was a Python traceback.
        """
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        status, out, err = self.keys(os.path.join(blocker, "front"))
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err, f"txmp.keys: cannot write {os.path.join(blocker, 'front')}: File exists\n"
        )

    def test_usage(self) -> None:
        """
        Wrong arguments print the usage and exit 2.
        """
        for args in [(), ("d", "n", "x"), ("d", "a/b"), ("-h",), ("d/",)]:
            status, _out, _err = self.keys(*args)
            self.assertEqual(status, 2, args)

    def test_allowList(self) -> None:
        """
        L{loadAllowList} reads the public certificates (*.key) only.
        """
        directory = self.mktemp()
        self.keys(directory, "h1")
        self.assertEqual(
            loadAllowList(directory),
            {loadKeyPair(os.path.join(directory, "h1.key"))[0]},
        )
