# -*- test-case-name: txmp.test.test_zap -*-
"""
Tests for L{txmp._zap}, L{txmp._security}, L{txmp.keys} and the CURVE
options of C{mpfront} and C{mphandler}.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from typing import Any, List, Tuple

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from txmp import fronttap, handlertap, keys
from txmp._handler import MAX_FRAME, splitChunks
from txmp._security import DEFAULT_MAX_MESSAGE, isLocalAddress
from txmp import _zap
from txmp._zap import ZAP_DOMAIN, ZapHandler, loadAllowList, zapDecision
from txmp._zmq import PeerUnreachable, loadKeyPair

CLIENT = bytes(range(32))


def makeKeys(test: SynchronousTestCase, *names: str) -> str:
    """
    A fresh directory with a key pair for each name.
    """
    directory = test.mktemp()
    os.makedirs(directory)
    for name in names:

        from txmp._zmq import createKeyPair

        createKeyPair(directory, name)
    return directory


def zapRequest(domain: bytes = ZAP_DOMAIN, mechanism: bytes = b"CURVE",
               credentials: Tuple[bytes, ...] = (CLIENT,)) -> List[bytes]:
    """
    The frames of a ZAP request, without libzmq's envelope.
    """
    return [b"1.0", b"7", domain, b"10.0.0.9", b"", mechanism, *credentials]


class ZapDecisionTests(SynchronousTestCase):
    """
    L{zapDecision} allows CURVE clients with an allowed key and nothing
    else.
    """

    def setUp(self) -> None:
        from txmp._zmq import z85Encode

        self.key = z85Encode(CLIENT)

    def test_allowed(self) -> None:
        """
        An allowed key in the front's domain gets 200 and is the user id.
        """
        self.assertEqual(
            zapDecision(zapRequest(), {self.key}), (b"200", b"OK", self.key)
        )

    def test_unknownKey(self) -> None:
        """
        A key not in the allow-list gets 400.
        """
        status, text, key = zapDecision(zapRequest(), {b"x" * 40})
        self.assertEqual((status, key), (b"400", self.key))

    def test_emptyAllowList(self) -> None:
        """
        An empty allow-list allows no one.
        """
        self.assertEqual(zapDecision(zapRequest(), frozenset())[0], b"400")

    def test_wrongMechanism(self) -> None:
        """
        NULL and PLAIN get 400 even in the right domain.
        """
        for mechanism, credentials in [(b"NULL", ()), (b"PLAIN", (b"u", b"p"))]:
            self.assertEqual(
                zapDecision(zapRequest(mechanism=mechanism, credentials=credentials),
                            {self.key})[0],
                b"400",
            )

    def test_wrongDomain(self) -> None:
        """
        Another domain gets 400, even with an allowed key.
        """
        self.assertEqual(zapDecision(zapRequest(domain=b""), {self.key})[0], b"400")

    def test_malformed(self) -> None:
        """
        A wrong version, too few frames, or malformed credentials get 400.
        """
        request = zapRequest()
        request[0] = b"2.0"
        for frames in [request, zapRequest()[:4],
                       zapRequest(credentials=(CLIENT[:31],)),
                       zapRequest(credentials=(CLIENT, CLIENT))]:
            self.assertEqual(zapDecision(frames, {self.key})[0], b"400")


class FakeSocket:
    """
    Records what is sent.
    """

    def __init__(self) -> None:
        self.sent: List[List[bytes]] = []
        self.unreachable = False

    def send(self, frames: List[bytes]) -> None:
        if self.unreachable:
            raise PeerUnreachable(frames[0])
        self.sent.append(frames)


class ZapHandlerTests(SynchronousTestCase):
    """
    L{ZapHandler} answers over its socket and logs denials.
    """

    def setUp(self) -> None:
        from txmp._zmq import z85Encode

        self.key = z85Encode(CLIENT)
        self.socket = FakeSocket()
        self.handler = ZapHandler({self.key})
        self.handler.listen(self.socket)

    def test_reply(self) -> None:
        """
        The reply keeps the envelope and the request id, and carries the
        key as user id when allowed.
        """
        self.handler.requestReceived([b"peer", b"", *zapRequest()])
        self.assertEqual(
            self.socket.sent,
            [[b"peer", b"", b"1.0", b"7", b"200", b"OK", self.key, b""]],
        )

    def test_deniedLogged(self) -> None:
        """
        A denial is answered 400 and logged with the address and key, the
        first time and then when the count doubles.
        """
        self.handler._allowed = frozenset()
        for _ in range(5):
            self.handler.requestReceived([b"peer", b"", *zapRequest()])
        self.assertEqual([f[4] for f in self.socket.sent], [b"400"] * 5)
        self.assertEqual(self.handler.denials, {self.key: 5})
        logged = self.flushLoggedErrors()
        self.assertEqual(logged, [])

    def test_deniedLogEvents(self) -> None:
        """
        The log event of a denial names the address and the key in Z85.
        """
        events: List[Any] = []
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.handler._allowed = frozenset()
        for _ in range(5):
            self.handler.requestReceived([b"peer", b"", *zapRequest()])
        mine = [e for e in events if e.get("log_namespace", "").startswith("txmp._zap")]
        self.assertEqual([e["count"] for e in mine], [1, 2, 4])
        self.assertEqual(mine[0]["address"], "10.0.0.9")
        self.assertEqual(mine[0]["key"], self.key.decode("ascii"))

    def test_notFromReq(self) -> None:
        """
        A message without the REQ envelope is not answered; a peer gone is
        not an error.
        """
        self.handler.requestReceived([b"peer", b"x", *zapRequest()])
        self.assertEqual(self.socket.sent, [])
        self.socket.unreachable = True
        self.handler.requestReceived([b"peer", b"", *zapRequest()])


class LocalAddressTests(SynchronousTestCase):
    """
    L{isLocalAddress}.
    """

    def test_local(self) -> None:
        """
        ipc, inproc and loopback TCP are local.
        """
        for address in ["ipc:///tmp/x", "inproc://x", "tcp://127.0.0.1:5",
                        "tcp://127.1.2.3:5", "tcp://localhost:5", "tcp://[::1]:5"]:
            self.assertTrue(isLocalAddress(address), address)

    def test_network(self) -> None:
        """
        Wildcards, other addresses, interface names and other transports
        are not.
        """
        for address in ["tcp://*:5", "tcp://0.0.0.0:5", "tcp://10.1.2.3:5",
                        "tcp://[::]:5", "tcp://eth0:5", "tcp://example.com:5",
                        "ws://127.0.0.1:5", "udp://127.0.0.1:5", "nonsense"]:
            self.assertFalse(isLocalAddress(address), address)


class FrontSecurityOptionsTests(SynchronousTestCase):
    """
    The security options of C{mpfront}.
    """

    def parse(self, *args: str) -> fronttap.Options:
        options = fronttap.Options()
        options.parseOptions(list(args))
        return options

    def test_networkRefused(self) -> None:
        """
        A non-loopback TCP address without CURVE is refused, naming the
        address and the risk.
        """
        for args in [("--send", "tcp://*:7000"), ("--return", "tcp://0.0.0.0:7001"),
                     ("--send", "tcp://10.0.0.1:7000")]:
            e = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn(args[1], str(e))
            self.assertIn("receives every request", str(e))
            self.assertIn("--insecure", str(e))

    def test_insecure(self) -> None:
        """
        --insecure allows it.
        """
        options = self.parse("--send", "tcp://*:7000", "--insecure")
        self.assertTrue(options["insecure"])
        self.assertIsNone(options["curve"])

    def test_localAllowed(self) -> None:
        """
        ipc and loopback TCP (the defaults) need nothing.
        """
        self.assertIsNone(self.parse()["curve"])
        self.parse("--send", "ipc:///tmp/s", "--return", "tcp://127.0.0.2:7")

    def test_curveTogether(self) -> None:
        """
        --curve-secret-key and --curve-allow go together.
        """
        directory = makeKeys(self, "front")
        for args in [("--curve-secret-key", os.path.join(directory, "front.key")),
                     ("--curve-allow", directory)]:
            e = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn("go together", str(e))

    def test_curveLoaded(self) -> None:
        """
        The front's key pair and the allowed keys (the *.key_public files
        only) are loaded; a network address is then accepted.
        """
        directory = makeKeys(self, "front")
        allow = makeKeys(self, "h1", "h2")
        options = self.parse(
            "--send", "tcp://*:7000",
            "--curve-secret-key", os.path.join(directory, "front.key"),
            "--curve-allow", allow,
        )
        public, secret = loadKeyPair(os.path.join(directory, "front.key"))
        self.assertEqual(options["curve"], (public, secret))
        self.assertEqual(
            options["curve-allowed"],
            {loadKeyPair(os.path.join(allow, n + ".key_public"))[0] for n in ["h1", "h2"]},
        )

    def test_publicFileIsNoSecret(self) -> None:
        """
        A public key file given as --curve-secret-key is refused.
        """
        directory = makeKeys(self, "front")
        e = self.assertRaises(
            usage.UsageError, self.parse,
            "--curve-secret-key", os.path.join(directory, "front.key_public"),
            "--curve-allow", directory,
        )
        self.assertIn("no secret-key", str(e))

    def test_badFiles(self) -> None:
        """
        A missing key file, a missing allow directory, or a file that is
        no certificate there, are usage errors.
        """
        directory = makeKeys(self, "front")
        secret = os.path.join(directory, "front.key")
        self.assertRaises(usage.UsageError, self.parse,
                          "--curve-secret-key", secret + "x", "--curve-allow", directory)
        self.assertRaises(usage.UsageError, self.parse,
                          "--curve-secret-key", secret, "--curve-allow", directory + "x")
        with open(os.path.join(directory, "bad.key_public"), "w") as f:
            f.write("nothing\n")
        self.assertRaises(usage.UsageError, self.parse,
                          "--curve-secret-key", secret, "--curve-allow", directory)

    def test_spawnWithCurve(self) -> None:
        """
        --spawn is refused with CURVE (not supported yet).
        """
        directory = makeKeys(self, "front")
        self.assertRaises(
            usage.UsageError, self.parse, "--spawn", "1", "--app", "txmp.demo:app",
            "--curve-secret-key", os.path.join(directory, "front.key"),
            "--curve-allow", directory,
        )

    def test_maxMessage(self) -> None:
        """
        --max-message defaults to 16 MiB, well above a handler's frames,
        and must be positive.
        """
        self.assertEqual(self.parse()["max-message"], DEFAULT_MAX_MESSAGE)
        self.assertGreaterEqual(DEFAULT_MAX_MESSAGE, 8 * MAX_FRAME)
        self.assertEqual(self.parse("--max-message", "1000")["max-message"], 1000)
        self.assertRaises(usage.UsageError, self.parse, "--max-message", "0")


class HandlerSecurityOptionsTests(SynchronousTestCase):
    """
    The CURVE options of C{mphandler}.
    """

    def parse(self, *args: str) -> handlertap.Options:
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", *args])
        return options

    def test_none(self) -> None:
        """
        Without them, no CURVE.
        """
        self.assertIsNone(self.parse()["curve"])

    def test_together(self) -> None:
        """
        --curve-secret-key and --curve-server-key go together.
        """
        directory = makeKeys(self, "h")
        for args in [("--curve-secret-key", os.path.join(directory, "h.key")),
                     ("--curve-server-key", os.path.join(directory, "h.key_public"))]:
            e = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn("go together", str(e))

    def test_loaded(self) -> None:
        """
        The handler's pair and the server's public key are loaded; the
        server key may be given as either file.
        """
        directory = makeKeys(self, "h", "front")
        public, secret = loadKeyPair(os.path.join(directory, "h.key"))
        server, _ = loadKeyPair(os.path.join(directory, "front.key_public"))
        for serverFile in ["front.key_public", "front.key"]:
            options = self.parse(
                "--curve-secret-key", os.path.join(directory, "h.key"),
                "--curve-server-key", os.path.join(directory, serverFile),
            )
            self.assertEqual(options["curve"], (public, secret, server))

    def test_publicFileIsNoSecret(self) -> None:
        """
        A public file as --curve-secret-key is refused.
        """
        directory = makeKeys(self, "h")
        self.assertRaises(
            usage.UsageError, self.parse,
            "--curve-secret-key", os.path.join(directory, "h.key_public"),
            "--curve-server-key", os.path.join(directory, "h.key_public"),
        )


class KeysCommandTests(SynchronousTestCase):
    """
    C{python -m txmp.keys DIRECTORY NAME}.
    """

    def run(self, *args: str) -> Tuple[int, str, str]:  # type: ignore[override]
        out, err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stderr", err)
        status = keys.main(list(args))
        return status, out.getvalue(), err.getvalue()

    def test_writes(self) -> None:
        """
        It writes NAME.key (both keys, mode 0600) and NAME.key_public
        (public only), in pyzmq's format, creating the directory.
        """
        directory = os.path.join(self.mktemp(), "keys")
        status, out, err = self.run(directory, "h1")
        self.assertEqual(status, 0, err)
        secretFile = os.path.join(directory, "h1.key")
        publicFile = os.path.join(directory, "h1.key_public")
        self.assertEqual(stat.S_IMODE(os.stat(secretFile).st_mode), 0o600)
        public, secret = loadKeyPair(secretFile)
        self.assertIsNotNone(secret)
        self.assertEqual(loadKeyPair(publicFile), (public, None))
        self.assertEqual(sorted(os.listdir(directory)), ["h1.key", "h1.key_public"])
        self.assertIn(secretFile, out)

    def test_noOverwrite(self) -> None:
        """
        An existing key is never overwritten.
        """
        directory = self.mktemp()
        self.run(directory, "h1")
        with open(os.path.join(directory, "h1.key"), "rb") as f:
            before = f.read()
        status, out, err = self.run(directory, "h1")
        self.assertEqual(status, 1)
        self.assertIn("exists", err)
        with open(os.path.join(directory, "h1.key"), "rb") as f:
            self.assertEqual(f.read(), before)

    def test_usage(self) -> None:
        """
        Wrong arguments print the usage and exit 2.
        """
        for args in [(), ("d",), ("d", "n", "x"), ("d", "a/b")]:
            status, out, err = self.run(*args)
            self.assertEqual(status, 2, args)

    def test_allowList(self) -> None:
        """
        L{loadAllowList} reads the *.key_public files only.
        """
        directory = self.mktemp()
        self.run(directory, "h1")
        self.assertEqual(
            loadAllowList(directory),
            {loadKeyPair(os.path.join(directory, "h1.key_public"))[0]},
        )


class SplitChunksTests(SynchronousTestCase):
    """
    L{splitChunks} keeps every frame a handler sends under L{MAX_FRAME}.
    """

    def test_small(self) -> None:
        """
        Small chunks are kept as they are.
        """
        chunks = [b"a", b"b" * MAX_FRAME]
        self.assertIs(splitChunks(chunks), chunks)

    def test_large(self) -> None:
        """
        A large chunk is split, in order, into pieces of at most the size.
        """
        self.assertEqual(splitChunks([b"x", b"abcdefg", b"y"], 3),
                         [b"x", b"abc", b"def", b"g", b"y"])


class DenialMemoryTests(SynchronousTestCase):
    """
    The ZAP handler's memory of refused keys is bounded.
    """

    def test_bounded(self) -> None:
        """
        A peer trying ever new keys cannot grow the handler's record of
        denials past L{_zap.MAX_DENIAL_KEYS}.
        """
        handler = _zap.ZapHandler(frozenset())
        for n in range(_zap.MAX_DENIAL_KEYS + 5):
            handler._denied([], b"key not allowed", b"%040d" % (n,))
        self.assertLessEqual(len(handler.denials), _zap.MAX_DENIAL_KEYS)
