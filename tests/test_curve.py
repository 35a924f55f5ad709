# -*- test-case-name: tests.test_curve -*-
"""
CURVE between real C{twistd} processes on C{tcp://127.0.0.1}: a handler
whose key the front allows serves; a rogue handler whose key it does not
allow never gets a request; a handler whose key is allowed while both run
joins; a handler given the wrong server key never talks to the front;
certificates made by pyzmq work as they are; a secret certificate where a
public one belongs is refused; and a front refuses a public bind without
CURVE.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import zmq.auth

from ._harness import (
    SystemTestCase,
    asyncTest,
    childEnvironment,
    freePort,
    zmqTCPAddresses,
)

WHOAMI = "tests.apps.whoami:app"


class CurveTests(SystemTestCase):
    """
    The front's allow-list, enforced by its ZAP handler, decides which
    handlers may serve.
    """

    def setUp(self) -> None:
        SystemTestCase.setUp(self)
        self.keys = self.workdir.child("keys")
        self.allowed = self.workdir.child("allowed")
        self.allowed.makedirs()
        for name in ("front", "good", "rogue", "impostor"):
            self.makeKeys(name)
        # Only the good handler's public key is allowed.
        self.keys.child("good.key").copyTo(self.allowed.child("good.key"))
        self.sendAddress, self.returnAddress = zmqTCPAddresses()

    def makeKeys(self, name: str) -> None:
        """
        Make a key pair with the documented command, C{python -m txmp.keys}.
        """
        subprocess.run(
            [sys.executable, "-m", "txmp.keys", self.keys.path, name],
            check=True, env=childEnvironment(), stdout=subprocess.DEVNULL,
        )
        self.assertEqual(
            os.stat(self.keys.child(name + ".key_secret").path).st_mode & 0o777, 0o600
        )

    def frontCurve(self) -> list[str]:
        """
        The front's CURVE options: its key, and the allow-list.
        """
        return ["--curve-secret-key", self.keys.child("front.key_secret").path,
                "--curve-allow", self.allowed.path]

    def handlerCurve(self, name: str, server: str = "front") -> list[str]:
        """
        A handler's CURVE options: its key C{name}, and the public key of
        C{server} as the front's.
        """
        return ["--curve-secret-key", self.keys.child(name + ".key_secret").path,
                "--curve-server-key", self.keys.child(server + ".key").path]

    @asyncTest
    async def test_onlyAllowedHandlerServes(self) -> None:
        """
        With an allowed handler and a rogue one running, every request is
        served by the allowed one; the rogue one never registers, its
        refusal is logged by the front, and it tries again.
        """
        front = await self.startFront(*self.frontCurve())
        rogue = self.startHandlerProcess("rogue", WHOAMI, *self.handlerCurve("rogue"))
        await front.waitForLine("refused a connection from")
        good = await self.startHandler(
            "good", WHOAMI, *self.handlerCurve("good"), front=front
        )
        for _ in range(10):
            result = await self.get("/")
            self.assertResponse(result, 200)
            self.assertEqual(result.body, str(good.pid).encode("ascii"), self.transcript())
        self.assertEqual(front.countLines("handler rogue joined"), 0, self.transcript())
        self.assertEqual(rogue.countLines("registered with front"), 0, self.transcript())
        # libzmq would never try again: the handler does, and says when;
        # the front refuses each of its two sockets again (the front logs
        # the 1st, 2nd, 4th... refusal of a key).
        await rogue.waitForLine(
            "the front refused this handler's key (ZAP status 400); trying again in 1 s"
        )
        await front.waitForLine("4 refused for this key")

    @asyncTest
    async def test_keyAllowedWhileRunning(self) -> None:
        """
        A rolling key change: a handler whose key the front does not allow
        yet is refused and says when it tries again; once its public
        certificate is put in the front's C{--curve-allow} directory, with
        both running, the front reads it again and the handler joins by
        itself, within the back-off, and serves.
        """
        self.makeKeys("late")
        front = await self.startFront(*self.frontCurve())
        late = self.startHandlerProcess("late", WHOAMI, *self.handlerCurve("late"))
        await late.waitForLine(
            "the front refused this handler's key (ZAP status 400); trying again in 1 s"
        )
        self.assertEqual(front.countLines("handler late joined"), 0, self.transcript())
        # As docs/deployment.md says: under another name, then renamed.
        scratch = self.allowed.child(".late.key.tmp")
        self.keys.child("late.key").copyTo(scratch)
        scratch.moveTo(self.allowed.child("late.key"))
        # The next try is 1 s after the refusal just logged (2, 4... s
        # later on a machine slow to get here), and its HELLO a heartbeat
        # later: within the harness's wait for a line (30 s, the longest
        # wait between two tries).  Before, never: the handler did not try
        # again, and the front read the directory at start only.
        await front.waitForLine("handler late joined")
        await front.waitForLine(
            f"mpfront: --curve-allow {self.allowed.path} changed: 2 handler keys "
            "allowed (1 added, 0 removed)"
        )
        await late.waitForLine(
            re.compile(r"CURVE handshake with \S+ succeeded after \d+ failures")
        )
        result = await self.get("/")
        self.assertResponse(result, 200)
        self.assertEqual(result.body, str(late.pid).encode("ascii"), self.transcript())

    @asyncTest
    async def test_wrongServerKey(self) -> None:
        """
        A handler given the wrong server key fails its handshake, says so in
        its log, and never registers; the front says that a peer holds
        another server key.
        """
        front = await self.startFront(*self.frontCurve())
        impostor = self.startHandlerProcess(
            "impostor", WHOAMI, *self.handlerCurve("good", server="impostor")
        )
        await impostor.waitForLine("CURVE handshake with")
        await front.waitForLine(
            f"a CURVE handshake at {self.sendAddress} failed: its first message does "
            "not decrypt: a handler whose --curve-server-key is not this front's "
            "public key? (1 such failures)"
        )
        self.assertEqual(front.countLines("handler impostor joined"), 0, self.transcript())

    @asyncTest
    async def test_handlerWithoutCurve(self) -> None:
        """
        A handler given no CURVE keys, against a front that uses CURVE, says
        so and which options it needs, in its log and in its warning that no
        front answers (it guessed at the addresses before); it never
        registers.
        """
        front = await self.startFront(*self.frontCurve())
        plain = self.startHandlerProcess("plain", WHOAMI)
        # (Whichever side sees the mismatch first: the front closes the
        # connection, or the handler finds it.)
        why = r"[^;]*give this handler --curve-server-key and --curve-secret-key"
        await plain.waitForLine(re.compile(
            f"ZeroMQ handshake with {re.escape(self.sendAddress)} failed: the front {why}"
        ))
        await plain.waitForLine(
            re.compile(f"still trying: its last handshake failed: the front {why}")
        )
        self.assertEqual(front.countLines("handler plain joined"), 0, self.transcript())

    @asyncTest
    async def test_pyzmqCertificates(self) -> None:
        """
        Certificates made by pyzmq's C{zmq.auth.create_certificates}, used
        as they are (the front's C{front.key_secret}, the handler's public
        C{h.key} in the allow directory, the handler's C{h.key_secret} and
        the front's public C{front.key}), let the handler serve.
        """
        frontDir, handlerDir, allowDir = (
            self.workdir.child(name) for name in ("pyzmq-front", "pyzmq-h", "pyzmq-allow")
        )
        for directory in (frontDir, handlerDir, allowDir):
            directory.makedirs()
        zmq.auth.create_certificates(frontDir.path, "front")
        zmq.auth.create_certificates(handlerDir.path, "h")
        handlerDir.child("h.key").copyTo(allowDir.child("h.key"))
        front = await self.startFront(
            "--curve-secret-key", frontDir.child("front.key_secret").path,
            "--curve-allow", allowDir.path,
        )
        handler = await self.startHandler(
            "h", WHOAMI,
            "--curve-secret-key", handlerDir.child("h.key_secret").path,
            "--curve-server-key", frontDir.child("front.key").path,
            front=front,
        )
        result = await self.get("/")
        self.assertResponse(result, 200)
        self.assertEqual(result.body, str(handler.pid).encode("ascii"), self.transcript())

    @asyncTest
    async def test_secretCertificateAsServerKey(self) -> None:
        """
        A handler given the front's secret certificate as
        C{--curve-server-key} refuses to start, saying why in one line.
        """
        path = self.keys.child("front.key_secret").path
        handler = self.startHandlerProcess(
            "h", WHOAMI,
            "--curve-secret-key", self.keys.child("good.key_secret").path,
            "--curve-server-key", path,
        )
        end = await handler.whenEnded()
        self.assertNotEqual(getattr(end, "exitCode", None), 0, self.transcript())
        await handler.waitForLine(
            f"--curve-server-key {path}: holds a secret-key; give the public "
            "certificate NAME.key"
        )

    @asyncTest
    async def test_spawnWithCurve(self) -> None:
        """
        C{mpfront --spawn} with CURVE (refused before) gives its handlers an
        ephemeral key pair, which it allows besides the keys of
        C{--curve-allow}: the spawned handler serves over CURVE, with key
        files in a private directory on its command line and no key; a
        handler with an allowed key of its own still joins.
        """
        front = await self.startFront(*self.frontCurve(), "--spawn", "1", "--app", WHOAMI)
        self.assertEqual(front.countLines("2 handler keys allowed"), 1, self.transcript())
        await front.waitForLine(re.compile(r"handler \S+:spawn-1 joined"))
        result = await self.get("/")
        self.assertResponse(result, 200)
        with open(f"/proc/{int(result.body)}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        secretFile = argv[argv.index(b"--curve-secret-key") + 1].decode()
        serverFile = argv[argv.index(b"--curve-server-key") + 1].decode()
        self.assertEqual(os.path.dirname(secretFile), os.path.dirname(serverFile))
        self.assertEqual(os.stat(os.path.dirname(secretFile)).st_mode & 0o777, 0o700)
        frontSecret = self.keys.child("front.key_secret").getContent()
        secretKey = re.search(rb'secret-key = "(.+)"', frontSecret)
        assert secretKey is not None
        self.assertNotIn(secretKey.group(1), b" ".join(argv))
        await self.startHandler("good", WHOAMI, *self.handlerCurve("good"), front=front)
        self.assertEqual(front.countLines("refused a connection"), 0, self.transcript())

    @asyncTest
    async def test_publicBindNeedsCurve(self) -> None:
        """
        A front asked to bind a non-loopback address without CURVE refuses
        to start and says why.
        """
        public = (f"tcp://0.0.0.0:{freePort()}", f"tcp://0.0.0.0:{freePort()}")
        front = self.startTwistd("front", self.frontArguments(addresses=public))
        end = await front.whenEnded()
        self.assertNotEqual(getattr(end, "exitCode", None), 0, self.transcript())
        self.assertIn("--insecure", front.transcript(), self.transcript())
