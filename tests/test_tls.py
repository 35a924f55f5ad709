# -*- test-case-name: tests.test_tls -*-
"""
A front listening with C{--listen ssl:...} (the C{tls} extra) serves HTTPS
with a certificate of the operator's.
"""

from __future__ import annotations

import http.client
import importlib
import socket
import ssl as stdssl
from typing import Any

from zope.interface import implementer

try:
    importlib.import_module("cryptography")  # what selfSignedCertificate needs
    from twisted.internet import ssl
    importlib.import_module("OpenSSL")  # what ssl: endpoints need
except ImportError:
    # The tls extra is not installed: on Debian's PyPy 3.9 it cannot be
    # (setup.cfg).
    ssl = None  # type: ignore[assignment]
from twisted.web.client import Agent, readBody
from twisted.web.iweb import IPolicyForHTTPS

from txmp.testing import certificateChain, selfSignedCertificate

from ._harness import (
    CLIENT_TIMEOUT,
    SMALL_WINDOW,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    inThread,
    reactor,
    readAtRate,
    reads,
)
from .apps import bigbody

MiB = 1024 * 1024


@implementer(IPolicyForHTTPS)
class TrustOnly:
    """
    Trust one certificate, checking the host name against it, and offer
    C{protocols} in ALPN.
    """

    def __init__(self, certificate: bytes, protocols: tuple[bytes, ...] = ()) -> None:
        self._root = ssl.Certificate.loadPEM(certificate)
        self._protocols = list(protocols) or None

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return ssl.optionsForClientTLS(
            "localhost", trustRoot=self._root, acceptableProtocols=self._protocols
        )


class TLSTests(SystemTestCase):
    """
    HTTPS through the front.
    """

    if ssl is None:
        skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    @asyncTest
    async def test_sslListen(self) -> None:
        """
        A front with C{--listen ssl:PORT:privateKey=...:certKey=...} serves
        the application over TLS with that certificate, and the
        application sees C{https}.
        """
        await self.assertServedOverTLS(())

    @asyncTest
    async def test_clientOfferingProtocols(self) -> None:
        """
        A client that offers C{h2} and C{http/1.1} in ALPN, as browsers,
        curl and Python's C{http.client} do, is served too (Twisted 26.10
        failed its handshake when the front named no protocol).
        """
        await self.assertServedOverTLS((b"h2", b"http/1.1"))

    @asyncTest
    async def test_slowReaderOfWholeResponse(self) -> None:
        """
        A client that reads a 6 MiB response returned whole (as
        frameworks return bodies) at 1 MiB/s through a small window, so
        for about 6 seconds, most of it after the front has written it all
        to its transport, gets all of it with C{--timeout 2}: over TLS, as
        over TCP, the front sees the client take its response (the TLS
        layer's TCP transport and the kernel hold what it has not taken),
        and gives it the time it takes as long as it takes some in each
        C{--timeout}.  (The front aborted the connection 2 seconds after
        the response's end, as it did to any TLS client that had not
        taken all of a response in a C{--timeout} after its end.)
        """
        front, certificate = await self.startTLSFront("--timeout", "2")
        await self.startHandler("h1", "tests.apps.clientele:app", front=front)
        size = 6 * MiB

        def read() -> tuple[int, str]:
            context = stdssl.create_default_context(cadata=certificate.decode("ascii"))
            context.check_hostname = False
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_WINDOW)
            sock.settimeout(CLIENT_TIMEOUT)
            sock.connect(("127.0.0.1", self.httpPort))
            connection = http.client.HTTPSConnection(
                "localhost", self.httpPort, timeout=CLIENT_TIMEOUT, context=context
            )
            connection.sock = context.wrap_socket(sock, server_hostname="localhost")
            try:
                connection.request("GET", f"/whole?size={size}")
                response = connection.getresponse()
                return readAtRate(reads(response.read), MiB)
            finally:
                connection.close()

        result = await self.withTimeout(inThread(read), 60, "the client to read")
        self.assertEqual(result, (size, bigbody.expectedDigest(size)), self.transcript())

    @asyncTest
    async def test_fullChainCertificate(self) -> None:
        """
        With C{certKey} naming a file of the whole chain (the server's
        certificate, then the intermediate authority's: Let's Encrypt's
        C{fullchain.pem}, as docs/deployment.md's recipe has it), a client
        that trusts only the root authority, as clients do, verifies the
        front's certificate and is served.  (Twisted's C{ssl:} sent the
        server's certificate alone: "unable to get local issuer
        certificate".)
        """
        root, fullChain, key = certificateChain("localhost")
        self.workdir.child("fullchain.pem").setContent(fullChain)
        self.workdir.child("privkey.pem").setContent(key)
        listen = (
            f"ssl:{self.httpPort}:interface=127.0.0.1:privateKey=privkey.pem"
            ":certKey=fullchain.pem"
        )
        front = self.startTwistd(
            "front",
            ["mpfront", "--listen", listen, "--send", self.sendAddress,
             "--return", self.returnAddress],
        )
        await front.waitForLine("mpfront ready")
        await self.startHandler("h1", "tests.apps.recorder:app", front=front)

        def get() -> int:
            context = stdssl.create_default_context(cadata=root.decode("ascii"))
            connection = http.client.HTTPSConnection(
                "localhost", self.httpPort, timeout=CLIENT_TIMEOUT, context=context
            )
            try:
                connection.request("GET", "/")
                return connection.getresponse().status
            finally:
                connection.close()

        status = await self.withTimeout(inThread(get), 30, "the client's GET")
        self.assertEqual(status, 200, self.transcript())

    async def startTLSFront(self, *arguments: str) -> tuple[TwistdProcess, bytes]:
        """
        Start a front listening with C{ssl:}, with a self-signed
        certificate for C{localhost}, and C{arguments}.

        @return: The front, and the certificate in PEM.
        """
        certificate, key = selfSignedCertificate("localhost")
        self.workdir.child("cert.pem").setContent(certificate)
        self.workdir.child("key.pem").setContent(key)
        listen = (
            f"ssl:{self.httpPort}:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem"
        )
        front = self.startTwistd(
            "front",
            ["mpfront", "--listen", listen, "--send", self.sendAddress,
             "--return", self.returnAddress, *arguments],
        )
        await front.waitForLine("mpfront ready")
        return front, certificate

    async def assertServedOverTLS(self, protocols: tuple[bytes, ...]) -> None:
        """
        Start a front listening with C{ssl:} and a handler, and check that
        a client offering C{protocols} in ALPN gets its response over TLS,
        the application seeing C{https}.
        """
        front, certificate = await self.startTLSFront()
        await self.startHandler("h1", "tests.apps.recorder:app", front=front)
        agent = Agent(reactor, contextFactory=TrustOnly(certificate, protocols))
        response = await agent.request(
            b"GET", b"https://127.0.0.1:%d/" % (self.httpPort,)
        )
        body = await readBody(response)
        self.assertEqual(response.code, 200, self.transcript())
        self.assertEqual(body.split(b"\n")[0], b"127.0.0.1 https", self.transcript())
