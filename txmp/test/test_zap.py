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
from typing import Any

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from txmp import _zap, fronttap, handlertap, keys
from txmp._defaults import DEFAULT_MAX_MESSAGE, MAX_FRAME
from txmp._handler import splitChunks
from txmp._security import isLocalAddress, loadAllowList
from txmp._zap import ZAP_DOMAIN, ZapHandler, zapDecision
from txmp._zmq import loadKeyPair
from txmp.testing import MemorySocket

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


def usageError(case: Any, *args: str) -> str:
    """
    The message of the usage error that C{case.parse(*args)} raises.
    """
    return str(case.assertRaises(usage.UsageError, case.parse, *args))


def zapRequest(domain: bytes = ZAP_DOMAIN, mechanism: bytes = b"CURVE",
               credentials: tuple[bytes, ...] = (CLIENT,)) -> list[bytes]:
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
        status, _text, key = zapDecision(zapRequest(), {b"x" * 40})
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


class ZapHandlerTests(SynchronousTestCase):
    """
    L{ZapHandler} answers over its socket and logs denials.
    """

    def setUp(self) -> None:
        from txmp._zmq import z85Encode

        self.key = z85Encode(CLIENT)
        self.socket = MemorySocket(router=True)
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
        events: list[Any] = []
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
        self.socket.unreachable.add(b"peer")
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

    def keysWithAllowed(
        self, names: tuple[str, ...], keyFile: str, allowedName: str
    ) -> tuple[str, str, str]:
        """
        Key pairs for C{names}, and an allow directory that holds their file
        C{keyFile} as C{allowedName}.

        @return: the directory of the keys, the allow directory, and the
            path of the file there.
        """
        directory = makeKeys(self, *names)
        allow = makeKeys(self)
        path = os.path.join(allow, allowedName)
        os.rename(os.path.join(directory, keyFile), path)
        return directory, allow, path

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
        for args in [("--curve-secret-key", os.path.join(directory, "front.key_secret")),
                     ("--curve-allow", directory)]:
            e = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn("go together", str(e))

    def test_curveLoaded(self) -> None:
        """
        The front's key pair (from NAME.key_secret) and the allowed keys
        (the public certificates, *.key, only) are loaded; a network
        address is then accepted.
        """
        directory = makeKeys(self, "front")
        allow = makeKeys(self, "h1", "h2")
        for name in ["h1", "h2"]:
            os.rename(os.path.join(allow, name + ".key_secret"),
                      os.path.join(directory, name + ".key_secret"))
        options = self.parse(
            "--send", "tcp://*:7000",
            "--curve-secret-key", os.path.join(directory, "front.key_secret"),
            "--curve-allow", allow,
        )
        public, secret = loadKeyPair(os.path.join(directory, "front.key_secret"))
        self.assertEqual(options["curve"], (public, secret))
        self.assertEqual(
            options["curve-allowed"],
            {loadKeyPair(os.path.join(allow, n + ".key"))[0] for n in ["h1", "h2"]},
        )

    def test_pyzmqCertificates(self) -> None:
        """
        Certificates made by pyzmq's C{zmq.auth.create_certificates} are
        used as they are: NAME.key_secret for --curve-secret-key, a
        directory of NAME.key files for --curve-allow (a NAME.key_secret
        beside them is ignored).
        """
        import zmq.auth

        directory, allow = self.mktemp(), self.mktemp()
        os.makedirs(directory)
        os.makedirs(allow)
        zmq.auth.create_certificates(directory, "front")
        zmq.auth.create_certificates(allow, "h1")
        options = self.parse(
            "--curve-secret-key", os.path.join(directory, "front.key_secret"),
            "--curve-allow", allow,
        )
        self.assertEqual(
            options["curve"],
            zmq.auth.load_certificate(os.path.join(directory, "front.key_secret")),
        )
        self.assertEqual(
            options["curve-allowed"],
            {zmq.auth.load_certificate(os.path.join(allow, "h1.key"))[0]},
        )

    def test_publicFileIsNoSecret(self) -> None:
        """
        A public certificate given as --curve-secret-key is refused in one
        line that names the option, the file and the file wanted.
        """
        directory = makeKeys(self, "front")
        path = os.path.join(directory, "front.key")
        self.assertEqual(
            usageError(self, "--curve-secret-key", path, "--curve-allow", makeKeys(self)),
            f"--curve-secret-key {path}: a public certificate, with no "
            "secret-key; give the secret one, NAME.key_secret (python -m "
            "txmp.keys NAME writes both)",
        )

    def test_secretFileInAllowList(self) -> None:
        """
        A secret certificate named like a public one (NAME.key) in the
        allow directory is refused in one line, naming it: whoever copied
        it there handed over a handler's secret key.
        """
        _, allow, stray = self.keysWithAllowed(("front",), "front.key_secret", "h1.key")
        self.assertEqual(
            usageError(self, "--curve-secret-key", stray, "--curve-allow", allow),
            f"--curve-allow {stray}: holds a secret-key; give the public "
            "certificate NAME.key, and keep NAME.key_secret on the host it "
            "belongs to",
        )

    def test_oldPublicNameRefused(self) -> None:
        """
        A C{*.key_public} file (txmp's old name for a public certificate)
        in the allow directory is refused, saying what to rename it, rather
        than ignored: the front would silently allow no one.
        """
        directory, allow, old = self.keysWithAllowed(("front", "h1"), "h1.key", "h1.key_public")
        self.assertEqual(
            usageError(
                self,
                "--curve-secret-key", os.path.join(directory, "front.key_secret"),
                "--curve-allow", allow,
            ),
            f"--curve-allow {old}: txmp's old name for a public certificate; "
            "rename it h1.key",
        )

    def test_missingFiles(self) -> None:
        """
        A missing key file or allow directory is refused with "no such
        file" (or directory), naming the option and the path.
        """
        directory = makeKeys(self, "front")
        secret = os.path.join(directory, "front.key_secret")
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--curve-secret-key", secret + "x",
                              "--curve-allow", directory)
        self.assertEqual(str(e), f"--curve-secret-key {secret}x: no such file")
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--curve-secret-key", secret,
                              "--curve-allow", directory + "x")
        self.assertEqual(str(e), f"--curve-allow {directory}x: no such directory")

    def test_notCertificates(self) -> None:
        """
        A file that is no certificate, as the secret key or in the allow
        directory, is a usage error naming it.
        """
        directory = makeKeys(self, "front")
        secret = os.path.join(directory, "front.key_secret")
        bad = os.path.join(directory, "bad.key")
        with open(bad, "w") as f:
            f.write("nothing\npublic-key\n")
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--curve-secret-key", bad, "--curve-allow", directory)
        self.assertEqual(
            str(e), f"--curve-secret-key {bad}: not a CURVE certificate (no public-key)"
        )
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--curve-secret-key", secret, "--curve-allow", directory)
        self.assertEqual(
            str(e), f"--curve-allow {bad}: not a CURVE certificate (no public-key)"
        )

    def test_spawnWithCurve(self) -> None:
        """
        --spawn works with CURVE (it was refused): the spawned handlers get
        an ephemeral key pair when the front starts (see
        L{fronttap.PrivateLinks}).
        """
        directory = makeKeys(self, "front")
        options = self.parse(
            "--spawn", "1", "--app", "txmp.demo:app",
            "--curve-secret-key", os.path.join(directory, "front.key_secret"),
            "--curve-allow", makeKeys(self),
        )
        self.assertEqual(options["curve"], loadKeyPair(os.path.join(directory, "front.key_secret")))
        self.assertEqual(options["curve-allowed"], frozenset())

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
        for args in [("--curve-secret-key", os.path.join(directory, "h.key_secret")),
                     ("--curve-server-key", os.path.join(directory, "h.key"))]:
            e = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn("go together", str(e))

    def test_loaded(self) -> None:
        """
        The handler's pair (NAME.key_secret) and the server's public key
        (the front's public certificate, NAME.key) are loaded.
        """
        directory = makeKeys(self, "h", "front")
        public, secret = loadKeyPair(os.path.join(directory, "h.key_secret"))
        server, _ = loadKeyPair(os.path.join(directory, "front.key"))
        options = self.parse(
            "--curve-secret-key", os.path.join(directory, "h.key_secret"),
            "--curve-server-key", os.path.join(directory, "front.key"),
        )
        self.assertEqual(options["curve"], (public, secret, server))

    def test_publicFileIsNoSecret(self) -> None:
        """
        A public certificate as --curve-secret-key is refused in one line.
        """
        directory = makeKeys(self, "h", "front")
        path = os.path.join(directory, "h.key")
        e = self.assertRaises(
            usage.UsageError, self.parse,
            "--curve-secret-key", path,
            "--curve-server-key", os.path.join(directory, "front.key"),
        )
        self.assertIn(f"--curve-secret-key {path}: a public certificate", str(e))
        self.assertNotIn("\n", str(e))

    def test_secretFileIsNoPublic(self) -> None:
        """
        The front's secret certificate as --curve-server-key is refused in
        one line: the front's secret key does not belong on a handler's
        host.
        """
        directory = makeKeys(self, "h", "front")
        path = os.path.join(directory, "front.key_secret")
        self.assertEqual(
            usageError(
                self,
                "--curve-secret-key", os.path.join(directory, "h.key_secret"),
                "--curve-server-key", path,
            ),
            f"--curve-server-key {path}: holds a secret-key; give the public "
            "certificate NAME.key, and keep NAME.key_secret on the host it "
            "belongs to",
        )

    def test_missingFile(self) -> None:
        """
        A missing key file says "no such file".
        """
        directory = makeKeys(self, "h")
        path = os.path.join(directory, "front.key")
        e = self.assertRaises(
            usage.UsageError, self.parse,
            "--curve-secret-key", os.path.join(directory, "h.key_secret"),
            "--curve-server-key", path,
        )
        self.assertEqual(str(e), f"--curve-server-key {path}: no such file")


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
        import zmq.auth

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
        status, out, err = self.keys(os.path.join(directory, "front"))
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
