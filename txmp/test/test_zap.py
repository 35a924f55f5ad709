# -*- test-case-name: txmp.test.test_zap -*-
"""
Tests for L{txmp._zap}: the ZAP decision, the front's ZAP handler, and its
allow-list, read again when it changes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Set as AbstractSet
from typing import Any, Callable, cast

from twisted.logger import ILogObserver, capturedLogs, formatEvent, globalLogPublisher
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from txmp import _zap
from txmp._defaults import MAX_DENIAL_KEYS
from txmp._zap import ZAP_DOMAIN, AllowList, ZapHandler, certificatesSignature, zapDecision
from txmp._zmq import CRYPTOGRAPHIC, MECHANISM_MISMATCH, createKeyPair, z85Encode
from txmp.testing import MemorySocket

CLIENT = bytes(range(32))


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
        self.key = z85Encode(CLIENT)
        self.socket = MemorySocket(router=True)
        self.handler = ZapHandler(lambda: {self.key})
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
        self.handler._allowed = frozenset
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
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.handler._allowed = frozenset
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


class DenialMemoryTests(SynchronousTestCase):
    """
    The ZAP handler's memory of refused keys is bounded.
    """

    def test_bounded(self) -> None:
        """
        A peer trying ever new keys cannot grow the handler's record of
        denials past L{MAX_DENIAL_KEYS}.
        """
        handler = _zap.ZapHandler(frozenset)
        for n in range(MAX_DENIAL_KEYS + 5):
            handler._denied([], b"key not allowed", b"%040d" % (n,))
        self.assertLessEqual(len(handler.denials), MAX_DENIAL_KEYS)


class HandshakeFailuresTests(SynchronousTestCase):
    """
    L{_zap.HandshakeFailures}: the front's log of handshakes that fail
    before its ZAP handler is asked.
    """

    def observe(self, *events: tuple[str, int, str]) -> list[str]:
        """
        Tell a new L{_zap.HandshakeFailures} of C{events}.

        @return: the lines it logged.
        """
        failures = _zap.HandshakeFailures()
        with capturedLogs() as logged:
            for event in events:
                failures.observe(*event)
        return [formatEvent(e) for e in logged]

    def test_wrongServerKey(self) -> None:
        """
        A peer whose first message does not decrypt (it holds another
        front's public key) is logged with the address, the first time,
        then every time the count doubles.
        """
        failure = ("HANDSHAKE_FAILED_PROTOCOL", CRYPTOGRAPHIC, "tcp://10.0.0.1:5556")
        lines = self.observe(*[failure] * 5)
        self.assertEqual(
            lines,
            [
                "a CURVE handshake at tcp://10.0.0.1:5556 failed: its first message "
                "does not decrypt: a handler whose --curve-server-key is not this "
                f"front's public key? ({count} such failures)"
                for count in (1, 2, 4)
            ],
        )

    def test_countedSinceSuccess(self) -> None:
        """
        A handshake that succeeds at an address starts its counts anew:
        failures after it (another incident, weeks later) are logged from
        their first, not once the old count doubles again.
        """
        address = "tcp://10.0.0.1:5556"
        failure = ("HANDSHAKE_FAILED_PROTOCOL", CRYPTOGRAPHIC, address)
        lines = self.observe(
            *[failure] * 3, ("HANDSHAKE_SUCCEEDED", 0, address), failure, failure
        )
        self.assertEqual(
            [line[-len("(1 such failures)"):] for line in lines],
            ["(1 such failures)", "(2 such failures)", "(1 such failures)",
             "(2 such failures)"],
        )

    def test_countedByAddressAndReason(self) -> None:
        """
        Each address and each reason has a count of its own: a peer
        without CURVE, at another address, is logged as its first.
        """
        lines = self.observe(
            ("HANDSHAKE_FAILED_PROTOCOL", CRYPTOGRAPHIC, "tcp://10.0.0.1:5556"),
            ("HANDSHAKE_FAILED_PROTOCOL", CRYPTOGRAPHIC, "tcp://10.0.0.1:5555"),
            ("HANDSHAKE_FAILED_PROTOCOL", MECHANISM_MISMATCH, "tcp://10.0.0.1:5556"),
            ("HANDSHAKE_FAILED_PROTOCOL", 0x10000001, "tcp://10.0.0.1:5556"),
        )
        self.assertEqual(
            [line.split(" failed: ", 1)[1] for line in lines],
            [
                "its first message does not decrypt: a handler whose "
                "--curve-server-key is not this front's public key? (1 such failures)",
                "its first message does not decrypt: a handler whose "
                "--curve-server-key is not this front's public key? (1 such failures)",
                "the peer does not use CURVE: a handler without --curve-server-key? "
                "(1 such failures)",
                "ZMTP protocol error 0x10000001 (1 such failures)",
            ],
        )

    def test_othersNotLogged(self) -> None:
        """
        A refused key is the ZAP handler's to log; a connection closed
        before its handshake ended (a port scan), a success and a
        disconnection are not logged.
        """
        address = "tcp://10.0.0.1:5556"
        self.assertEqual(
            self.observe(
                ("HANDSHAKE_FAILED_AUTH", 400, address),
                ("HANDSHAKE_FAILED_NO_DETAIL", 0, address),
                ("HANDSHAKE_SUCCEEDED", 0, address),
                ("DISCONNECTED", 0, address),
            ),
            [],
        )


class ZapHandlerAllowedTests(SynchronousTestCase):
    """
    L{ZapHandler} asks for the allowed keys at each request.
    """

    def test_askedEachTime(self) -> None:
        """
        A key refused once is allowed at the next request once the keys
        allowed include it.
        """
        key = z85Encode(CLIENT)
        allowed: set[bytes] = set()
        socket = MemorySocket(router=True)
        handler = ZapHandler(lambda: allowed)
        handler.listen(socket)
        handler.requestReceived([b"peer", b"", *zapRequest()])
        allowed.add(key)
        handler.requestReceived([b"peer", b"", *zapRequest()])
        self.assertEqual([frames[4] for frames in socket.sent], [b"400", b"200"])


class AllowListTests(SynchronousTestCase):
    """
    L{AllowList} reads the C{--curve-allow} directory again when its
    certificates have changed, and only then; here with a fake directory:
    its signature and keys are what the test says.
    """

    def setUp(self) -> None:
        self.signature: object = ("one",)
        self.keys: frozenset[bytes] | UsageError = frozenset({b"a"})
        self.loads = 0
        self.allowed = AllowList(
            "/etc/txmp/handlers", {b"a"}, fixed={b"spawn"},
            load=self.load, signature=lambda directory: self.signature,  # type: ignore[arg-type,return-value]
        )

    def load(self, directory: str) -> frozenset[bytes]:
        self.assertEqual(directory, "/etc/txmp/handlers")
        self.loads += 1
        if isinstance(self.keys, UsageError):
            raise self.keys
        return self.keys

    def call(self) -> tuple[AbstractSet[bytes], list[str]]:
        """
        Call the allow-list.

        @return: its keys, and the lines logged meanwhile.
        """
        with capturedLogs() as events:
            keys = self.allowed()
        return keys, [formatEvent(event) for event in events]

    def test_readAgainFirst(self) -> None:
        """
        The first call reads the directory again (it may have changed since
        the options were checked); unchanged, it logs nothing.
        """
        self.assertEqual(self.call(), ({b"a", b"spawn"}, []))
        self.assertEqual(self.loads, 1)

    def test_unchangedNotRead(self) -> None:
        """
        While the certificates' signature stays, the directory is not read.
        """
        self.call()
        self.keys = frozenset({b"b"})
        self.assertEqual(self.call(), ({b"a", b"spawn"}, []))
        self.assertEqual(self.loads, 1)

    def test_changedRead(self) -> None:
        """
        A certificate added, removed or changed (the signature changed): the
        directory is read again, and the change logged, with the fixed keys
        still allowed.
        """
        self.call()
        self.signature = ("two",)
        self.keys = frozenset({b"a", b"b"})
        self.assertEqual(self.call(), ({b"a", b"b", b"spawn"}, [
            "mpfront: --curve-allow /etc/txmp/handlers changed: 3 handler keys "
            "allowed (1 added, 0 removed)",
        ]))
        self.signature = ("three",)
        self.keys = frozenset({b"b"})
        self.assertEqual(self.call(), ({b"b", b"spawn"}, [
            "mpfront: --curve-allow /etc/txmp/handlers changed: 2 handler keys "
            "allowed (0 added, 1 removed)",
        ]))

    def test_unreadableKeepsKeys(self) -> None:
        """
        A directory that no longer reads as the front would start with it
        leaves the keys as they were, and is logged once per change.
        """
        self.call()
        self.signature = "/etc/txmp/handlers: Permission denied"
        self.keys = UsageError("--curve-allow /etc/txmp/handlers: Permission denied")
        self.assertEqual(self.call(), ({b"a", b"spawn"}, [
            "mpfront: --curve-allow not read again: --curve-allow /etc/txmp/handlers: "
            "Permission denied; the 2 handler keys allowed before still are",
        ]))
        self.assertEqual(self.call(), ({b"a", b"spawn"}, []))
        self.signature = ("fixed",)
        self.keys = frozenset({b"c"})
        self.assertEqual(self.call()[0], {b"c", b"spawn"})

    def test_mendedSaidOnce(self) -> None:
        """
        A directory that reads again after it did not is said to, once,
        even when its keys are those allowed before.
        """
        self.call()
        self.signature = "broken"
        self.keys = UsageError("--curve-allow /etc/txmp/handlers: not a certificate")
        self.call()
        self.signature = ("mended",)
        self.keys = frozenset({b"a"})
        self.assertEqual(self.call(), ({b"a", b"spawn"}, [
            "mpfront: --curve-allow /etc/txmp/handlers read again: 2 handler keys "
            "allowed, as before",
        ]))
        self.signature = ("touched",)
        self.assertEqual(self.call(), ({b"a", b"spawn"}, []))


class CertificatesSignatureTests(SynchronousTestCase):
    """
    L{certificatesSignature} changes with the public certificates of a
    directory, and only with them.
    """

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        createKeyPair(self.directory, "h1")

    def assertChanges(self, change: Callable[[], object], changes: bool = True) -> None:
        """
        Assert that C{change} changes the signature, or not.
        """
        before = certificatesSignature(self.directory)
        change()
        after = certificatesSignature(self.directory)
        self.assertEqual(before != after, changes, (before, after))

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def test_added(self) -> None:
        """
        A certificate copied in changes it.
        """
        self.assertChanges(lambda: shutil.copy(self.path("h1.key"), self.path("h2.key")))

    def test_removed(self) -> None:
        """
        A certificate removed changes it.
        """
        self.assertChanges(lambda: os.unlink(self.path("h1.key")))

    def test_replaced(self) -> None:
        """
        A certificate renamed over another changes it.
        """
        shutil.copy(self.path("h1.key"), self.path("new"))
        self.assertChanges(lambda: os.rename(self.path("new"), self.path("h1.key")))

    def test_rewritten(self) -> None:
        """
        A certificate written to in place changes it.
        """
        with open(self.path("h1.key"), "a") as f:
            f.write("# more\n")
        self.assertChanges(lambda: open(self.path("h1.key"), "w").close())

    def test_rewrittenSameSizeAndTime(self) -> None:
        """
        A certificate rewritten in place with one of the same size, its
        modification time kept (within a file system's time resolution, or
        by a tool that keeps it), changes it: its change time moved.
        """
        path = self.path("h1.key")

        def rewrite() -> None:
            status = os.stat(path)
            with open(path, "r+b") as f:
                content = f.read()
                f.seek(0)
                f.write(content.swapcase())
            os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))

        self.assertChanges(rewrite)

    def test_oldName(self) -> None:
        """
        A certificate under txmp's old name, which refuses the directory,
        changes it.
        """
        self.assertChanges(lambda: shutil.copy(self.path("h1.key"), self.path("h.key_public")))

    def test_otherFiles(self) -> None:
        """
        Other files, a secret certificate among them, do not change it.
        """
        self.assertChanges(
            lambda: shutil.copy(self.path("h1.key_secret"), self.path("h3.key_secret")),
            changes=False,
        )

    def test_unreadable(self) -> None:
        """
        A directory that cannot be listed gives why.
        """
        self.assertEqual(
            certificatesSignature(self.directory + "x"),
            f"{self.directory}x: No such file or directory",
        )
