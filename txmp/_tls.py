# -*- test-case-name: txmp.test.test_tls -*-
"""
What C{--listen ssl:} needs beyond Twisted's C{ssl:} endpoint: the
intermediate certificates of a C{certKey} file that holds the whole chain,
as a public authority's C{fullchain.pem} (Let's Encrypt's) does and as
nginx's C{ssl_certificate} takes it.  Twisted's C{ssl:} reads only the
first certificate of that file and sends no other unless
C{extraCertChain=} names a file of them, so that clients which do not
already hold the intermediate (curl, Python's C{ssl}, any program on
OpenSSL) could not verify the front's certificate ("unable to get local
issuer certificate").  And L{ReloadableCertificate}, which reads the
files again on SIGHUP, and errors reading them said in words
(L{certificateFilesError}).

This is the one module of txmp that reads private names of Twisted's
endpoints: their description parser, C{_parse} (what C{serverFromString}
reads a description with, so that the file is the one Twisted reads), and
L{SSL4ServerEndpoint}'s C{_sslContextFactory}, the L{CertificateOptions}
that C{ssl:} made, whose C{extraCertChain} it sets before any connection
makes its context.  C{txmp.test.test_tls} pins both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from twisted.internet.endpoints import SSL4ServerEndpoint, _parse
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator, IStreamServerEndpoint
from twisted.python.filepath import FilePath
from zope.interface import implementer

if TYPE_CHECKING:
    from OpenSSL.SSL import Connection, Context

# What OpenSSL says of a private key that is encrypted, read without its
# passphrase (OpenSSL 3, asked on the terminal if there is one).
_PASSPHRASE_REASONS = frozenset(
    {"problems getting password", "bad password read", "unable to get passphrase",
     "bad decrypt"}
)

# A certificate in PEM, as Twisted's ssl: finds those of extraCertChain.
_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


def _readFile(path: str) -> bytes:
    """
    The content of the file at C{path}.
    """
    return FilePath(path).getContent()


def chainInCertificateFile(
    description: str, read: Callable[[str], bytes] = _readFile
) -> list[bytes]:
    """
    The certificates, as PEM, that follow the first in the C{certKey} file
    of an C{ssl:} description (in its C{privateKey} file if it names no
    C{certKey}, as Twisted reads it then), unless it names an
    C{extraCertChain}: none for any other description.

    @param read: what reads a file's content.
    @raise OSError: if that file cannot be read.
    """
    arguments, keywords = _parse(description)
    if not arguments or arguments[0].lower() != "ssl" or "extraCertChain" in keywords:
        return []
    path = keywords.get("certKey", keywords.get("privateKey", "server.pem"))
    return _CERTIFICATE.findall(read(path))[1:]


def withCertificateChain(
    endpoint: IStreamServerEndpoint,
    description: str,
    read: Callable[[str], bytes] = _readFile,
) -> None:
    """
    Have the endpoint that C{description} made send the certificates that
    follow the first in its C{certKey} file (L{chainInCertificateFile}),
    after its own, in every TLS handshake: what C{extraCertChain=} would
    have it send.  Any other endpoint is left as it is.

    Call it before the endpoint listens.

    @param read: what reads a file's content.
    """
    chain = chainInCertificateFile(description, read)
    if not chain:
        return
    # Only here: twisted.internet.ssl needs pyOpenSSL, of the tls extra,
    # which a front that serves no ssl: need not have.
    from twisted.internet.ssl import Certificate, CertificateOptions

    if not isinstance(endpoint, SSL4ServerEndpoint):
        return
    options = endpoint._sslContextFactory
    if isinstance(options, CertificateOptions) and not options.extraCertChain:
        options.extraCertChain = [Certificate.loadPEM(pem).original for pem in chain]


def certificateFilesError(error: BaseException) -> str | None:
    """
    One line saying why an C{ssl:} description could not be made into an
    endpoint, if C{error} is pyOpenSSL's (C{OpenSSL.crypto.Error}, raised
    as Twisted reads the C{privateKey} and C{certKey} files): its argument
    is a list of OpenSSL's (library, function, reason) triples, which
    printed as it is do not say which file, nor what to do.  L{None} for
    any other error.
    """
    if not type(error).__module__.startswith("OpenSSL.") or not error.args:
        return None
    triples = error.args[0]
    if not isinstance(triples, list):
        return None
    reasons = list(dict.fromkeys(
        str(triple[-1]) for triple in triples if isinstance(triple, tuple) and triple
    ))
    if _PASSPHRASE_REASONS.intersection(reasons):
        # nginx has ssl_password_file; Twisted's ssl: has no such parameter.
        return (
            "the private key is encrypted, and ssl: has no way to be given its "
            "passphrase: keep a copy without one that only the front's user can "
            "read (openssl pkey -in KEY -out PLAIN.pem; chmod 600 PLAIN.pem) and "
            "name it as privateKey="
        )
    return (
        "OpenSSL found no PEM certificate and private key in the privateKey= and "
        f"certKey= files ({'; '.join(reasons) or 'no reason given'})"
    )


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableCertificate:
    """
    What an C{ssl:} endpoint makes its TLS connections with: the
    L{CertificateOptions} of its description, made anew from its files by
    L{reload} for the connections made afterwards, as nginx reads its
    certificates again on reload.  A certificate renewed (certbot's, every
    60 days) is then served from the next SIGHUP on, without a restart;
    the connections open keep the one they began with.

    Used in the reactor thread.

    @ivar options: the L{CertificateOptions} new connections are made
        with.
    """

    def __init__(self, options: object, make: Callable[[], object]) -> None:
        """
        @param options: the L{CertificateOptions} to begin with.
        @param make: makes another from the files, raising if it cannot.
        """
        self.options = options
        self._make = make

    def serverConnectionForTLS(self, protocol: object) -> Connection:
        """
        A TLS connection of L{options}.
        """
        make = getattr(self.options, "serverConnectionForTLS", None)
        if make is not None:
            connection: Connection = make(protocol)
            return connection
        # An older Twisted's CertificateOptions only gives a context.
        from OpenSSL.SSL import Connection

        return Connection(self.getContext(), None)

    def getContext(self) -> Context:
        """
        The OpenSSL context of L{options}.
        """
        # (options is an object to mypy: Twisted's ssl: endpoint leaves its
        # context factory untyped; the CertificateOptions it holds has
        # getContext.)
        context: Context = self.options.getContext()  # type: ignore[attr-defined]
        return context

    def reload(self) -> None:
        """
        Read the certificate and key files again: new connections use them.
        If they cannot be read, or do not match, the ones read before stay.

        @raise Exception: what reading them raised.
        """
        fresh = self._make()
        # Twisted makes the OpenSSL context lazily, at the first connection:
        # made now, so that what only it reads (dhParameters=) fails here,
        # and the old certificate serves on, not every connection after.
        getContext = getattr(fresh, "getContext", None)
        if getContext is not None:
            getContext()
        self.options = fresh


def reloadableCertificate(
    endpoint: IStreamServerEndpoint,
    description: str,
    makeEndpoint: Callable[[str], IStreamServerEndpoint],
) -> ReloadableCertificate | None:
    """
    Have the C{ssl:} endpoint that C{description} made make its connections
    with a L{ReloadableCertificate}, which reads the files again by making
    the endpoint anew with C{makeEndpoint} (and L{withCertificateChain}).
    L{None}, and the endpoint left as it is, for any other endpoint.

    Call it before the endpoint listens.
    """
    if not isinstance(endpoint, SSL4ServerEndpoint):
        return None

    def make() -> object:
        fresh = makeEndpoint(description)
        withCertificateChain(fresh, description)
        assert isinstance(fresh, SSL4ServerEndpoint)
        return fresh._sslContextFactory

    certificate = ReloadableCertificate(endpoint._sslContextFactory, make)
    endpoint._sslContextFactory = certificate
    return certificate
