# -*- test-case-name: txmp.test.test_eager -*-
"""
Tests for L{txmp._eager}, on real TCP and UNIX connections (127.0.0.1 and
a socket in a temporary directory): what it relies on in Twisted's
transports, and that what it writes arrives whole and in order.
"""

from __future__ import annotations

import importlib
import socket
import sys
import tempfile
from typing import Any

from twisted.internet import reactor, unix
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    UNIXClientEndpoint,
    UNIXServerEndpoint,
    wrapClientTLS,
)
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase

from txmp._defaults import EAGER_LIMIT
from txmp._eager import (
    EAGER_TYPES,
    eagerWrite,
    heldBytes,
    holdsNothing,
    setUserTimeout,
    unsentBytes,
)
from txmp.testing import selfSignedCertificate

try:
    importlib.import_module("cryptography")  # what selfSignedCertificate needs
    from twisted.internet import ssl
    importlib.import_module("OpenSSL")  # what TLS transports need
except ImportError:
    # The tls extra is not installed: on Debian's PyPy 3.9 it cannot be.
    ssl = None  # type: ignore[assignment]


class _Server(Protocol):
    def __init__(self, ready: Deferred[Any]) -> None:
        self.ready = ready

    def connectionMade(self) -> None:
        self.ready.callback(self)


class _Client(Protocol):
    def __init__(self, size: int) -> None:
        self.size = size
        self.received: list[bytes] = []
        self.count = 0
        self.done: Deferred[bytes] = Deferred()
        self.first: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)
        self.count += len(data)
        if not self.first.called:
            self.first.callback(None)
        if self.count >= self.size and not self.done.called:
            self.done.callback(b"".join(self.received))


class EagerWriteTests(TestCase):
    timeout = 10
    """
    L{eagerWrite} on the transports of L{EAGER_TYPES}.
    """

    @inlineCallbacks
    def pair(self, unixSocket: bool, size: int, tls: bool = False) -> Any:
        """
        A server transport and a client expecting C{size} bytes: over TCP
        or a UNIX socket, and with C{tls}, TLS over TCP.
        """
        connected: Deferred[Any] = Deferred()
        factory = Factory.forProtocol(lambda: _Server(connected))
        client: IStreamClientEndpoint
        if tls:
            certificate, key = selfSignedCertificate("localhost")
            port = yield SSL4ServerEndpoint(
                reactor,
                0,
                ssl.PrivateCertificate.loadPEM(key + certificate).options(),
                interface="127.0.0.1",
            ).listen(factory)
            client = wrapClientTLS(
                ssl.optionsForClientTLS(
                    "localhost", trustRoot=ssl.Certificate.loadPEM(certificate)
                ),
                TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port),
            )
        elif unixSocket:
            path = FilePath(tempfile.mkdtemp()).child("s")
            port = yield UNIXServerEndpoint(reactor, path.path).listen(factory)
            client = UNIXClientEndpoint(reactor, path.path)
        else:
            port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
            client = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        self.addCleanup(port.stopListening)
        receiver = _Client(size)
        clientProtocol = yield client.connect(Factory.forProtocol(lambda: receiver))
        self.addCleanup(clientProtocol.transport.loseConnection)
        server = yield connected
        self.addCleanup(server.transport.loseConnection)
        return server.transport, receiver

    @inlineCallbacks
    def check(self, unixSocket: bool) -> Any:
        """
        Pieces written eagerly, some too large for the socket to take at
        once and some while the transport still holds data, all arrive in
        order; the transport is one of L{EAGER_TYPES} and holds nothing at
        first; L{unsentBytes} says how much it holds, which is nothing
        again once the client has all.
        """
        pieces = [b"a" * 100, b"b" * (8 << 20), b"c" * 100, b"d" * (1 << 20), b"e"]
        size = sum(len(piece) for piece in pieces)
        transport, receiver = yield self.pair(unixSocket, size)
        self.assertIn(type(transport), EAGER_TYPES)
        self.assertTrue(holdsNothing(transport))
        self.assertEqual(unsentBytes(transport), 0)
        for piece in pieces:
            eagerWrite(transport, piece)
        # 8 MiB does not fit a socket buffer: the rest waits in the transport.
        self.assertFalse(holdsNothing(transport))
        held = unsentBytes(transport)
        assert held is not None
        self.assertTrue(0 < heldBytes(transport) <= held, (heldBytes(transport), held))
        data = yield receiver.done
        self.assertEqual(data, b"".join(pieces))
        self.assertTrue(holdsNothing(transport))
        self.assertEqual(unsentBytes(transport), 0)

    def test_tcp(self) -> Any:
        """
        On TCP.
        """
        return self.check(False)

    def test_unix(self) -> Any:
        """
        On a UNIX socket.
        """
        return self.check(True)

    @inlineCallbacks
    def checkKernel(self, unixSocket: bool) -> Any:
        """
        What the socket took but its client has not made room for (it
        reads nothing) is counted: L{unsentBytes} is more than the
        transport holds (L{heldBytes}), even when that is nothing; once the
        client has read all, it is nothing.
        """
        size = 1 << 20
        transport, receiver = yield self.pair(unixSocket, size)
        # The client reads nothing for now.
        receiver.transport.pauseProducing()
        eagerWrite(transport, b"k" * size)
        unsent = unsentBytes(transport)
        assert unsent is not None
        self.assertLess(heldBytes(transport), unsent)
        if not unixSocket:
            # (On a UNIX socket, the kernel counts its buffers' overhead.)
            self.assertLessEqual(unsent, size)
        receiver.transport.resumeProducing()
        data = yield receiver.done
        self.assertEqual(len(data), size)
        self.assertEqual(unsentBytes(transport), 0)

    def test_kernelTcp(self) -> Any:
        """
        On TCP, the bytes not sent yet, waiting for the client's window.
        """
        return self.checkKernel(False)

    def test_kernelUnix(self) -> Any:
        """
        On a UNIX socket, the bytes the client has not read.
        """
        return self.checkKernel(True)

    if not sys.platform.startswith("linux"):
        test_kernelTcp.skip = test_kernelUnix.skip = (  # type: ignore[attr-defined]
            "only Linux says what a socket's send buffer holds"
        )

    @inlineCallbacks
    def test_tls(self) -> Any:
        """
        Over TLS (C{--listen ssl:}), what the client has not made room for
        is known too: the encrypted bytes that the TLS layer's TCP
        transport and the kernel hold, so at least what was just written,
        once the handshake is over; nothing once the client has read all.
        """
        size = 8 << 20
        transport, receiver = yield self.pair(False, size + 1, tls=True)
        self.assertNotIn(type(transport), EAGER_TYPES)
        # The handshake is over once a first byte came.
        transport.write(b"h")
        yield receiver.first
        receiver.transport.pauseProducing()
        transport.write(b"t" * size)
        unsent = unsentBytes(transport)
        assert unsent is not None
        self.assertGreaterEqual(unsent, size)
        receiver.transport.resumeProducing()
        data = yield receiver.done
        self.assertEqual(len(data), size + 1)
        self.assertEqual(unsentBytes(transport), 0)

    if ssl is None:
        test_tls.skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    @inlineCallbacks
    def test_largeNotCopied(self) -> Any:
        """
        A write larger than L{EAGER_LIMIT} (a body returned whole) goes to
        the transport as it is, the same C{bytes}, which the reactor sends
        without copying it: not sent at once, with a copy of what the
        socket did not take for the transport.
        """
        size = 8 << 20
        transport, receiver = yield self.pair(False, size)
        data = b"w" * size
        eagerWrite(transport, data)
        self.assertEqual(len(transport._tempDataBuffer), 1)
        self.assertIs(transport._tempDataBuffer[0], data)
        received = yield receiver.done
        self.assertEqual(received, data)

    @inlineCallbacks
    def test_eagerUpToLimit(self) -> Any:
        """
        A write of L{EAGER_LIMIT} bytes is still sent at once: the
        transport holds only what the socket did not take.
        """
        transport, receiver = yield self.pair(False, EAGER_LIMIT)
        eagerWrite(transport, b"u" * EAGER_LIMIT)
        self.assertLess(heldBytes(transport), EAGER_LIMIT)
        received = yield receiver.done
        self.assertEqual(len(received), EAGER_LIMIT)

    def test_heldDataFirst(self) -> None:
        """
        L{holdsNothing} is false as soon as a transport buffers a write,
        before the reactor has had a turn, and L{heldBytes} counts what it
        buffered, sent or not yet joined: a UNIX transport over a socket
        pair, whose reactor (a L{MemoryReactor}) has a turn when the test
        says (C{doWrite}).
        """
        ours, peer = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(peer.close)
        ours.setblocking(False)
        peer.setblocking(False)
        transport = unix.Server(ours, Protocol(), "", None, 1, MemoryReactor())
        self.assertTrue(holdsNothing(transport))
        transport.write(b"12345")
        self.assertFalse(holdsNothing(transport))
        self.assertEqual(heldBytes(transport), 5)
        # More than its socket takes at a turn (SEND_LIMIT at most).
        written = 5 + 2 * transport.SEND_LIMIT
        transport.write(b"x" * (written - 5))
        transport.doWrite()
        taken = 0
        while True:
            try:
                taken += len(peer.recv(written))
            except BlockingIOError:
                break
        self.assertGreater(taken, 0)
        self.assertFalse(holdsNothing(transport))
        self.assertEqual(heldBytes(transport), written - taken)
        transport.write(b"abcde")
        self.assertEqual(heldBytes(transport), written - taken + 5)

    def test_otherTransports(self) -> None:
        """
        A transport of another type gets a plain C{write}, and what it
        holds is not known.
        """
        transport = StringTransport()
        eagerWrite(transport, b"abc")
        self.assertEqual(transport.value(), b"abc")
        self.assertIsNone(unsentBytes(transport))


_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", None)


class UserTimeoutTests(TestCase):
    """
    L{setUserTimeout} on real transports: how long the kernel waits for a
    client to acknowledge what was sent to it.
    """

    timeout = 10

    def pair(self, unixSocket: bool, tls: bool = False) -> Any:
        """
        A server transport, its client connected: L{EagerWriteTests.pair}.
        """
        return EagerWriteTests.pair(self, unixSocket, 1, tls)  # type: ignore[arg-type]

    def userTimeout(self, transport: Any) -> int:
        """
        The C{TCP_USER_TIMEOUT} of C{transport}'s socket, in milliseconds.
        """
        assert _USER_TIMEOUT is not None
        value: int = transport.socket.getsockopt(socket.IPPROTO_TCP, _USER_TIMEOUT)
        return value

    @inlineCallbacks
    def test_tcp(self) -> Any:
        """
        On a TCP transport, it is set in milliseconds: C{--timeout} 30 s is
        30,000; bounded by 1 and C{2**31 - 1}, as the option takes.
        """
        transport, _receiver = yield self.pair(False)
        self.assertEqual(self.userTimeout(transport), 0)
        for seconds, expected in [(30, 30000), (0.0004, 1), (1e9, 2**31 - 1), (2.5, 2500)]:
            self.assertTrue(setUserTimeout(transport, seconds))
            self.assertEqual(self.userTimeout(transport), expected)

    @inlineCallbacks
    def test_tls(self) -> Any:
        """
        Over TLS, it is set on the TCP transport beneath.
        """
        transport, _receiver = yield self.pair(False, tls=True)
        self.assertTrue(setUserTimeout(transport, 30))
        self.assertEqual(self.userTimeout(transport.transport), 30000)

    if ssl is None:
        test_tls.skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    @inlineCallbacks
    def test_unix(self) -> Any:
        """
        On a UNIX socket, nothing: there is no such option.
        """
        transport, _receiver = yield self.pair(True)
        self.assertIsInstance(transport, unix.Server)
        self.assertFalse(setUserTimeout(transport, 30))

    def test_otherTransports(self) -> None:
        """
        On a transport of another type (a test's), nothing.
        """
        self.assertFalse(setUserTimeout(StringTransport(), 30))

    if _USER_TIMEOUT is None:
        test_tcp.skip = test_tls.skip = (  # type: ignore[attr-defined]
            "the system has no TCP_USER_TIMEOUT"
        )
