# -*- test-case-name: txmp.test.test_security -*-
"""
Tests for L{txmp._security}: which addresses are local, and the CURVE
options of C{mpfront} and C{mphandler} it checks and loads.
"""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace
from typing import Any

import zmq.auth
from twisted.python import usage
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txmp import _security, fronttap, handlertap
from txmp._security import isLocalAddress
from txmp._zmq import _notZ85, createKeyPair, loadKeyPair


def makeKeys(test: SynchronousTestCase, *names: str) -> str:
    """
    A fresh directory with a key pair for each name.
    """
    directory = test.mktemp()
    os.makedirs(directory)
    for name in names:
        createKeyPair(directory, name)
    return directory


def spoilKey(path: str, which: str) -> None:
    """
    Put C{~}, which Z85 does not have, first in the C{which} key
    (C{public-key} or C{secret-key}) of the certificate C{path}, keeping
    its 40 characters: a key mistyped, or cut and pasted with a character
    changed.
    """
    with open(path) as f:
        lines = f.read().splitlines(keepends=True)
    for index, line in enumerate(lines):
        name, equals, value = line.partition("=")
        if name.strip() == which and equals:
            lines[index] = f'{name}= "~{value.strip().strip(chr(34))[1:]}"\n'
    with open(path, "w") as f:
        f.write("".join(lines))


def usageError(case: Any, *args: str) -> str:
    """
    The message of the usage error that C{case.parse(*args)} raises.
    """
    return str(case.assertRaises(usage.UsageError, case.parse, *args))


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

    def test_unknownHostRefused(self) -> None:
        """
        A C{tcp://} address whose host is neither an address, nor a name
        that resolves, nor an interface of this host (a typo,
        C{tcp://locahost:5556}) is refused saying so, where it was said to
        be reachable from other hosts and to want CURVE or C{--insecure},
        given which libzmq said "No such device".  Names that resolve and
        interfaces are refused as reachable, as before.
        """

        def resolve(host: str, *args: object, **kwargs: object) -> object:
            if host == "front.example":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 0))]
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        self.patch(socket, "getaddrinfo", resolve)
        self.patch(_security, "interfaceNames", lambda: {"lo", "eth0"})
        for option in ["--send", "--return"]:
            self.assertEqual(
                usageError(self, option, "tcp://locahost:5556"),
                f"{option} tcp://locahost:5556: no interface or host is named "
                "'locahost': a typo? (give an address, such as tcp://127.0.0.1:5556, "
                "a host name or an interface)",
            )
        for address in ["tcp://front.example:5556", "tcp://eth0:5556"]:
            self.assertIn("reachable from other hosts", usageError(self, "--send", address))

    def test_interfaceNames(self) -> None:
        """
        L{_security.interfaceNames} reads this host's interfaces from
        L{socket.if_nameindex}, or, where there is none (PyPy 3.9), from
        Linux's C{/sys/class/net}: the loopback's is among them.
        """
        if not os.path.isdir("/sys/class/net"):
            raise SkipTest("no /sys/class/net: not Linux")
        self.assertIn("lo", _security.interfaceNames() or set())
        self.patch(_security, "socket", SimpleNamespace())
        self.assertIn("lo", _security.interfaceNames() or set())

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

    def test_allowDirectoryAbsolute(self) -> None:
        """
        A relative --curve-allow is made absolute: the front reads it again
        while it runs, and twistd --rundir changes directory before that.
        """
        directory = makeKeys(self, "front")
        allow = makeKeys(self, "h1")
        options = self.parse(
            "--curve-secret-key", os.path.join(directory, "front.key_secret"),
            "--curve-allow", os.path.relpath(allow),
        )
        self.assertEqual(options["curve-allow"], os.path.abspath(allow))

    def test_pyzmqCertificates(self) -> None:
        """
        Certificates made by pyzmq's C{zmq.auth.create_certificates} are
        used as they are: NAME.key_secret for --curve-secret-key, a
        directory of NAME.key files for --curve-allow (a NAME.key_secret
        beside them is ignored).
        """
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

    def test_keysNotZ85(self) -> None:
        """
        A key of 40 characters that are not all Z85's (C{~} in it), as the
        front's secret or public key or in the allow directory, is refused
        in one line naming the file: libzmq refused the secret key with a
        traceback ("ZMQError: Invalid argument") once the front had begun
        to start, and a public key so in the allow directory allowed no
        handler, in silence.
        """
        directory = makeKeys(self, "front", "h")
        secret = os.path.join(directory, "front.key_secret")
        allow = makeKeys(self)
        os.rename(os.path.join(directory, "h.key"), os.path.join(allow, "h.key"))
        for which in ["secret-key", "public-key"]:
            spoiled = self.mktemp()
            with open(secret) as f, open(spoiled, "w") as g:
                g.write(f.read())
            spoilKey(spoiled, which)
            self.assertEqual(
                usageError(self, "--curve-secret-key", spoiled, "--curve-allow", allow),
                f"--curve-secret-key {spoiled}: not a CURVE certificate ({which} "
                "not Z85: '~' is not one of its characters)",
            )
        spoilKey(os.path.join(allow, "h.key"), "public-key")
        self.assertEqual(
            usageError(self, "--curve-secret-key", secret, "--curve-allow", allow),
            f"--curve-allow {os.path.join(allow, 'h.key')}: not a CURVE certificate "
            "(public-key not Z85: '~' is not one of its characters)",
        )

    def test_spawnWithCurve(self) -> None:
        """
        --spawn works with CURVE (it was refused): the spawned handlers get
        an ephemeral key pair when the front starts (see
        L{txmp._frontservice.PrivateLinks}).
        """
        directory = makeKeys(self, "front")
        options = self.parse(
            "--spawn", "1", "--app", "txmp.demo:app",
            "--curve-secret-key", os.path.join(directory, "front.key_secret"),
            "--curve-allow", makeKeys(self),
        )
        secret = os.path.join(directory, "front.key_secret")
        self.assertEqual(options["curve"], loadKeyPair(secret))
        self.assertEqual(options["curve-allowed"], frozenset())


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
        self.assertEqual(options["curve"], [(public, secret, server)])

    def test_serverKeyPerFront(self) -> None:
        """
        Several --curve-server-key are paired with --send in order, for
        fronts with keys of their own; one is every front's; any other
        count is a usage error.
        """
        directory = makeKeys(self, "h", "front1", "front2")
        public, secret = loadKeyPair(os.path.join(directory, "h.key_secret"))
        server1, _ = loadKeyPair(os.path.join(directory, "front1.key"))
        server2, _ = loadKeyPair(os.path.join(directory, "front2.key"))

        def parse(*servers: str, fronts: int = 2) -> handlertap.Options:
            args = ["--curve-secret-key", os.path.join(directory, "h.key_secret")]
            for n in range(fronts):
                args += ["--send", f"ipc:///s{n}", "--return", f"ipc:///r{n}"]
            for server in servers:
                args += ["--curve-server-key", os.path.join(directory, server + ".key")]
            return self.parse(*args)

        self.assertEqual(
            parse("front1", "front2")["curve"],
            [(public, secret, server1), (public, secret, server2)],
        )
        self.assertEqual(
            parse("front2")["curve"], [(public, secret, server2), (public, secret, server2)]
        )
        e = self.assertRaises(usage.UsageError, parse, "front1", "front2", fronts=3)
        self.assertEqual(
            str(e),
            "2 --curve-server-key for 3 fronts: give one for every front, or one "
            "for each --send, in the same order",
        )

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

    def test_keysNotZ85(self) -> None:
        """
        A key that is not Z85, the handler's secret one or the front's
        public one, is refused in one line naming the file, where libzmq's
        "Invalid argument" went up as a traceback as the handler started.
        """
        directory = makeKeys(self, "h", "front")
        secret = os.path.join(directory, "h.key_secret")
        server = os.path.join(directory, "front.key")
        spoilKey(server, "public-key")
        self.assertEqual(
            usageError(self, "--curve-secret-key", secret, "--curve-server-key", server),
            f"--curve-server-key {server}: not a CURVE certificate (public-key not "
            "Z85: '~' is not one of its characters)",
        )
        spoilKey(secret, "secret-key")
        self.assertIn(
            f"--curve-secret-key {secret}: not a CURVE certificate (secret-key not Z85",
            usageError(self, "--curve-secret-key", secret, "--curve-server-key", server),
        )
        # Z85's characters, but more than 32 bits in a group of five.
        self.assertEqual(
            _notZ85(b"%nSc1" * 8), "a group of five characters is out of range"
        )
        self.assertIsNone(_notZ85(b"%nSc0" * 8))

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
