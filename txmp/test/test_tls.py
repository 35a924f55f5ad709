# -*- test-case-name: txmp.test.test_tls -*-
"""
Tests for L{txmp._tls}: the certificate chain of C{--listen ssl:}.
"""

from __future__ import annotations

import importlib

from twisted.internet.endpoints import _parse, serverFromString
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols.wire import Echo
from twisted.python.filepath import FilePath
from twisted.test.iosim import connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase

from txmp import _frontservice
from txmp._tls import (
    ReloadableCertificate,
    certificateFilesError,
    chainInCertificateFile,
    reloadableCertificate,
    withCertificateChain,
)
from txmp.testing import certificateChain

try:
    importlib.import_module("cryptography")  # what certificateChain needs
    from OpenSSL import crypto
    from twisted.internet import ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory
except ImportError:
    # The tls extra is not installed: on Debian's PyPy 3.9 it cannot be.
    ssl = None  # type: ignore[assignment]



def echoedOverTLS(
    creator: IOpenSSLServerConnectionCreator, root: bytes, reactor: MemoryReactorClock
) -> bytes:
    """
    Connect over memory a client that trusts C{root} alone and checks the
    server's certificate for C{localhost}, as curl does, to an echo server
    whose TLS connections C{creator} makes (an C{ssl:} endpoint's).

    @return: what the server echoed of the client's C{ping}: nothing if the
        handshake failed.
    """
    class Received(Protocol):
        received = b""

        def dataReceived(self, data: bytes) -> None:
            self.received += data

    server = TLSMemoryBIOFactory(creator, False, Factory.forProtocol(Echo), reactor)
    received = Received()
    client = TLSMemoryBIOFactory(
        ssl.optionsForClientTLS("localhost", trustRoot=ssl.Certificate.loadPEM(root)),
        True,
        ClientFactory.forProtocol(lambda: received),
        reactor,
    )
    clientProtocol, _, pump = connectedServerAndClient(
        lambda: server.buildProtocol(None),
        lambda: client.buildProtocol(None),
        clock=reactor,
    )
    clientProtocol.write(b"ping")
    pump.flush()
    return received.received

class DescriptionParserTests(SynchronousTestCase):
    """
    Twisted's private description parser, which L{chainInCertificateFile}
    reads a C{--listen} description with, parses as it relies on.
    """

    def test_parse(self) -> None:
        """
        C{_parse} gives the positional parameters, then the keyword ones by
        name, values with C{=} and escaped C{:} and C{=} whole.
        """
        self.assertEqual(
            _parse("ssl:8443:interface=\\:\\:1:privateKey=/k\\=1.pem:certKey=c=2.pem"),
            (
                ["ssl", "8443"],
                {"interface": "::1", "privateKey": "/k=1.pem", "certKey": "c=2.pem"},
            ),
        )


class CertificateChainTests(SynchronousTestCase):
    """
    C{--listen ssl:} sends the certificates that follow the server's in its
    C{certKey} file (Let's Encrypt's C{fullchain.pem}), as
    C{extraCertChain=} would have it send them.
    """

    if ssl is None:
        skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    def setUp(self) -> None:
        self.root, self.fullChain, self.key = certificateChain("localhost")
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.keyPath = directory.child("privkey.pem")
        self.keyPath.setContent(self.key)
        self.chainPath = directory.child("fullchain.pem")
        self.chainPath.setContent(self.fullChain)
        self.certificatePath = directory.child("cert.pem")
        self.certificatePath.setContent(self.fullChain.split(b"-----END CERTIFICATE-----")[0]
                                        + b"-----END CERTIFICATE-----\n")

    def description(self, certificate: FilePath[str], *extra: str) -> str:
        return ":".join(
            ["ssl:0", f"privateKey={self.keyPath.path}", f"certKey={certificate.path}", *extra]
        )

    def handshake(self, description: str) -> bytes:
        """
        Make the endpoint that C{description} describes (as the front does:
        L{withCertificateChain} after L{serverFromString}), and connect to
        it over memory a client that trusts the root authority alone and
        checks the server's certificate, as curl does.

        @return: what the server echoed of the client's C{ping}: nothing if
            the handshake failed.
        """
        reactor = MemoryReactorClock()
        endpoint = serverFromString(reactor, description)
        withCertificateChain(endpoint, description)
        return echoedOverTLS(endpoint._sslContextFactory, self.root, reactor)

    def test_fullChainInCertKey(self) -> None:
        """
        With C{certKey} naming a file of the server's certificate and the
        intermediate one after it, a client that trusts only the root
        authority verifies the server's certificate (Twisted's C{ssl:}
        alone sends the server's, which such a client cannot verify).
        """
        self.assertEqual(self.handshake(self.description(self.chainPath)), b"ping")

    def test_extraCertChainKept(self) -> None:
        """
        A description that names its own C{extraCertChain} is left to it:
        the chain it names is sent.
        """
        description = self.description(
            self.certificatePath, f"extraCertChain={self.chainPath.path}"
        )
        self.assertEqual(chainInCertificateFile(description), [])
        self.assertEqual(self.handshake(description), b"ping")

    def test_certificateAlone(self) -> None:
        """
        A C{certKey} of one certificate has no chain to send: a client that
        trusts only the root authority cannot verify it (the operator must
        name the chain).
        """
        description = self.description(self.certificatePath)
        self.assertEqual(chainInCertificateFile(description), [])
        self.assertEqual(self.handshake(description), b"")

    def test_contextMadeAtReload(self) -> None:
        """
        L{ReloadableCertificate.reload} makes the new OpenSSL context: one
        that cannot be made (a C{dhParameters=} file gone, which Twisted
        reads only as it makes the context, lazily) makes the reload
        raise, and the options read before serve on; it passed the reload,
        said "read again", and failed every connection after it.
        """
        old = object()

        class Unusable:
            def getContext(self) -> None:
                raise OSError(2, "No such file or directory", "dh.pem")

        certificate = ReloadableCertificate(old, Unusable)
        self.assertRaises(OSError, certificate.reload)
        self.assertIs(certificate.options, old)

    def test_notTLS(self) -> None:
        """
        Other endpoints have no chain, and their files are not read.
        """
        def read(path: str) -> bytes:
            raise AssertionError(path)

        for description in ["tcp:8080", "unix:/run/txmp/http.sock", "systemd:domain=INET:index=0"]:
            self.assertEqual(chainInCertificateFile(description, read), [], description)


class CertificateFilesErrorTests(SynchronousTestCase):
    """
    L{certificateFilesError} says in one line why C{ssl:} could not read its
    certificate and key, where pyOpenSSL's error is a list of OpenSSL's
    triples.
    """

    if ssl is None:
        skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    def test_encryptedKey(self) -> None:
        """
        A private key with a passphrase (which OpenSSL asks for on the
        terminal, if there is one) is said to be encrypted, with what to
        do: Twisted's C{ssl:} cannot be given a passphrase.  The triples
        are those OpenSSL 3 gave a front started without a terminal.
        """
        error = crypto.Error([
            ("UI routines", "", "processing error"),
            ("PEM routines", "", "problems getting password"),
            ("common libcrypto routines", "", "interrupted or cancelled"),
            ("Provider routines", "", "unable to get passphrase"),
            ("PEM routines", "", "bad password read"),
        ])
        self.assertEqual(
            certificateFilesError(error),
            "the private key is encrypted, and ssl: has no way to be given its "
            "passphrase: keep a copy without one that only the front's user can "
            "read (openssl pkey -in KEY -out PLAIN.pem; chmod 600 PLAIN.pem) and "
            "name it as privateKey=",
        )

    def test_notPEM(self) -> None:
        """
        A C{privateKey} file that holds no key (here, text) is said to hold
        no PEM certificate and key, with OpenSSL's reasons once each; the
        front's start line says so for its C{--listen}, where it printed
        pyOpenSSL's list of triples.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        _root, fullChain, _key = certificateChain("localhost")
        junk, chain = directory.child("junk.pem"), directory.child("fullchain.pem")
        junk.setContent(b"not a key\n")
        chain.setContent(fullChain)
        description = f"ssl:0:privateKey={junk.path}:certKey={chain.path}"
        error = self.assertRaises(
            crypto.Error, serverFromString, MemoryReactorClock(), description
        )
        self.assertRegex(
            certificateFilesError(error) or "",
            r"^OpenSSL found no PEM certificate and private key in the privateKey= "
            r"and certKey= files \([^;()]+\)$",
        )
        self.assertEqual(
            _frontservice._endpointError(description, error), certificateFilesError(error)
        )

    def test_otherErrors(self) -> None:
        """
        Any other error is not one of these.
        """
        self.assertIsNone(certificateFilesError(OSError(2, "No such file or directory")))
        self.assertIsNone(certificateFilesError(ValueError([("a", "b", "c")])))


class ReloadableCertificateTests(SynchronousTestCase):
    """
    L{reloadableCertificate}: an C{ssl:} endpoint reads its certificate and
    key files again on L{ReloadableCertificate.reload} (SIGHUP), for the
    connections made afterwards, as nginx does on reload.
    """

    if ssl is None:
        skip = "the tls extra (pyOpenSSL, cryptography) is not installed"

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.keyPath = directory.child("privkey.pem")
        self.chainPath = directory.child("fullchain.pem")
        self.description = (
            f"ssl:0:privateKey={self.keyPath.path}:certKey={self.chainPath.path}"
        )
        self.reactor = MemoryReactorClock()

    def issue(self) -> bytes:
        """
        Write a new certificate and key in the files, as certbot renews
        them; return the root authority's certificate that verifies it.
        """
        root, fullChain, key = certificateChain("localhost")
        self.keyPath.setContent(key)
        self.chainPath.setContent(fullChain)
        return root

    def handshake(self, creator: ReloadableCertificate, root: bytes) -> bytes:
        """
        Connect over memory a client that trusts C{root} alone to a server
        whose connections C{creator} makes.

        @return: what the server echoed of the client's C{ping}: nothing if
            the handshake failed.
        """
        return echoedOverTLS(creator, root, self.reactor)

    def endpoint(self) -> tuple[object, ReloadableCertificate]:
        """
        The endpoint of L{description}, made as the front makes it, and its
        L{ReloadableCertificate}.
        """
        endpoint = serverFromString(self.reactor, self.description)
        withCertificateChain(endpoint, self.description)
        certificate = reloadableCertificate(
            endpoint, self.description, lambda d: serverFromString(self.reactor, d)
        )
        assert certificate is not None
        self.assertIs(endpoint._sslContextFactory, certificate)
        return endpoint, certificate

    def test_renewedServedAfterReload(self) -> None:
        """
        The certificate in the files when the endpoint was made is served
        until L{ReloadableCertificate.reload}; the one written since (with
        its chain) is served after it.
        """
        first = self.issue()
        _endpoint, certificate = self.endpoint()
        self.assertEqual(self.handshake(certificate, first), b"ping")
        renewed = self.issue()
        self.assertEqual(self.handshake(certificate, renewed), b"")
        certificate.reload()
        self.assertEqual(self.handshake(certificate, renewed), b"ping")
        self.assertEqual(self.handshake(certificate, first), b"")

    def test_unreadableKeepsOld(self) -> None:
        """
        Files that cannot be read (a key written in the middle of a
        renewal, gone) make L{ReloadableCertificate.reload} raise, and the
        certificate read before is served still.
        """
        first = self.issue()
        _endpoint, certificate = self.endpoint()
        self.keyPath.setContent(b"not a key\n")
        self.assertRaises(crypto.Error, certificate.reload)
        self.keyPath.remove()
        self.assertRaises(OSError, certificate.reload)
        self.assertEqual(self.handshake(certificate, first), b"ping")

    def test_notTLS(self) -> None:
        """
        Another endpoint has no certificate to read again.
        """
        endpoint = serverFromString(self.reactor, "tcp:0")
        self.assertIsNone(
            reloadableCertificate(endpoint, "tcp:0", lambda d: serverFromString(self.reactor, d))
        )
