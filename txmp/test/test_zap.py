# -*- test-case-name: txmp.test.test_zap -*-
"""
Tests for L{txmp._zap}: the ZAP decision and the front's ZAP handler.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.logger import ILogObserver, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from txmp import _zap
from txmp._defaults import MAX_DENIAL_KEYS
from txmp._zap import ZAP_DOMAIN, ZapHandler, zapDecision
from txmp._zmq import z85Encode
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
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
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


class DenialMemoryTests(SynchronousTestCase):
    """
    The ZAP handler's memory of refused keys is bounded.
    """

    def test_bounded(self) -> None:
        """
        A peer trying ever new keys cannot grow the handler's record of
        denials past L{MAX_DENIAL_KEYS}.
        """
        handler = _zap.ZapHandler(frozenset())
        for n in range(MAX_DENIAL_KEYS + 5):
            handler._denied([], b"key not allowed", b"%040d" % (n,))
        self.assertLessEqual(len(handler.denials), MAX_DENIAL_KEYS)
