# -*- test-case-name: txmp.test.test_security,txmp.test.test_keys -*-
"""
The security options of C{twistd mpfront} and C{twistd mphandler}: CURVE
certificates and the allow-list of handlers' keys, and which ZeroMQ
addresses are local and may go without them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import TYPE_CHECKING, Callable

from twisted.python import usage

if TYPE_CHECKING:
    from txmp.fronttap import FrontSettings
    from txmp.handlertap import HandlerSettings

# txmp._zmq, and so ZeroMQ, is imported by the functions that read CURVE
# certificates, not here: the taps import this module to parse their
# options, and only the CURVE options need ZeroMQ (--help and a usage error
# do without it: "Start-up" in docs/benchmarks.md).


def isLocalAddress(address: str) -> bool:
    """
    Whether a ZeroMQ bind address is reachable from this host only:
    C{ipc://}, C{inproc://}, or C{tcp://} on a loopback address
    (127.0.0.0/8, ::1, localhost).  Wildcards (C{tcp://*}, 0.0.0.0),
    interface names and every other transport are not.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        return False
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host, sep, _port = rest.rpartition(":")
    if not sep:
        return False
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unknownHost(address: str) -> str | None:
    """
    The host of a C{tcp://} bind address if it is neither an IP address,
    nor C{*}, nor an interface of this host, nor a name that resolves (a
    typo: C{tcp://locahost:5556}); else L{None}.  Called only for an
    address about to be refused as reachable from other hosts, so that the
    refusal names the mistake: a name is looked up then only.
    """
    scheme, sep, rest = address.partition("://")
    if scheme != "tcp" or not sep:
        return None
    host = rest.rpartition(":")[0]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or host == "*":
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    names = interfaceNames()
    if names is None or host in names:
        return None
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return host
    except OSError:
        return None
    return None


def interfaceNames() -> set[str] | None:
    """
    The names of this host's network interfaces, or L{None} if they cannot
    be read: L{socket.if_nameindex}, which PyPy 3.9 has not, else Linux's
    C{/sys/class/net}.
    """
    nameindex: Callable[[], list[tuple[int, str]]] | None = getattr(
        socket, "if_nameindex", None
    )
    try:
        if nameindex is not None:
            return {name for _index, name in nameindex()}
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return None


def loadSecretCertificate(path: str, option: str) -> tuple[bytes, bytes]:
    """
    The key pair of a secret certificate (C{NAME.key_secret}), given as
    C{option}.

    @return: the public and the secret key, in Z85.
    @raise usage.UsageError: with a one-line message if the file is
        missing, is no certificate, or is a public certificate.
    """
    from txmp._zmq import loadKeyPair  # (Not at the top: see there.)

    try:
        public, secret = loadKeyPair(path)
    except ValueError as e:
        raise usage.UsageError(f"{option} {e}") from None
    if secret is None:
        raise usage.UsageError(
            f"{option} {path}: a public certificate, with no secret-key; give "
            "the secret one, NAME.key_secret (python -m txmp.keys NAME writes both)"
        )
    return public, secret


def loadPublicCertificate(path: str, option: str) -> bytes:
    """
    The public key of a public certificate (C{NAME.key}), given as
    C{option} (or found in its directory).

    @return: the public key, in Z85.
    @raise usage.UsageError: with a one-line message if the file is
        missing, is no certificate, or holds a secret key: a secret
        certificate where a public one belongs is a secret on its way to
        another host.
    """
    from txmp._zmq import loadKeyPair  # (Not at the top: see there.)

    try:
        public, secret = loadKeyPair(path)
    except ValueError as e:
        raise usage.UsageError(f"{option} {e}") from None
    if secret is not None:
        raise usage.UsageError(
            f"{option} {path}: holds a secret-key; give the public certificate "
            "NAME.key, and keep NAME.key_secret on the host it belongs to"
        )
    return public


def loadAllowList(directory: str, option: str = "--curve-allow") -> frozenset[bytes]:
    """
    The public keys (Z85) of the public certificates, C{*.key}, in
    C{directory}; other files are ignored, pyzmq's and czmq's
    C{*.key_secret} included.

    @raise usage.UsageError: if the directory cannot be read, a C{*.key}
        file is not a public certificate, or a file has txmp's old name for
        one (C{*.key_public}), which would otherwise be ignored: a front
        that silently allowed no handler.
    """
    from txmp._zmq import OLD_PUBLIC_SUFFIX, PUBLIC_SUFFIX  # (Not at the top: see there.)

    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        raise usage.UsageError(f"{option} {directory}: no such directory") from None
    except OSError as e:
        raise usage.UsageError(f"{option} {directory}: {e.strerror}") from None
    keys = set()
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(OLD_PUBLIC_SUFFIX):
            raise usage.UsageError(
                f"{option} {path}: txmp's old name for a public certificate; "
                f"rename it {name[:-len(OLD_PUBLIC_SUFFIX)]}{PUBLIC_SUFFIX}"
            )
        if name.endswith(PUBLIC_SUFFIX):
            keys.add(loadPublicCertificate(path, option))
    return frozenset(keys)


def _requireCurve() -> None:
    from txmp._zmq import curveAvailable  # (Not at the top: see there.)

    if not curveAvailable():
        raise usage.UsageError(
            "this libzmq has no CURVE support (built without libsodium)"
        )


def checkFrontSecurity(options: FrontSettings) -> None:
    """
    Check and load the front's security options: C{curve} becomes the
    front's (public, secret) key pair and C{curve-allowed} the allowed
    client keys, or both C{None}; C{curve-allow}, if given, an absolute
    path.

    @raise usage.UsageError: if only one of the CURVE options is given, a
        key cannot be loaded, or an address is open to the network
        without CURVE and without C{--insecure}.
    """
    secretFile: str | None = options["curve-secret-key"]
    allowDir: str | None = options["curve-allow"]
    options["curve"] = options["curve-allowed"] = None
    if bool(secretFile) != bool(allowDir):
        raise usage.UsageError(
            "--curve-secret-key and --curve-allow go together: the front's "
            "key, and the directory of the handler keys it accepts"
        )
    if secretFile and allowDir:  # (Both or neither, by now.)
        _requireCurve()
        options["curve"] = loadSecretCertificate(secretFile, "--curve-secret-key")
        options["curve-allowed"] = loadAllowList(allowDir)
        # Read again while the front runs (txmp._zap.AllowList): resolved
        # now, since twistd --rundir changes directory before it starts.
        options["curve-allow"] = os.path.abspath(allowDir)
        return
    if options["insecure"]:
        return
    for name, address in [("send", options["send"]), ("return", options["return"])]:
        if not isLocalAddress(address):
            unknown = unknownHost(address)
            if unknown is not None:
                # (Refused as reachable, it wanted CURVE or --insecure, and
                # then libzmq said "No such device".)
                raise usage.UsageError(
                    f"--{name} {address}: no interface or host is named "
                    f"{unknown!r}: a typo? (give an address, such as "
                    "tcp://127.0.0.1:5556, a host name or an interface)"
                )
            raise usage.UsageError(
                f"--{name} {address} is reachable from other hosts, and "
                "without CURVE anyone who connects to it is a handler: "
                "whoever connects to the send socket receives every request, "
                "cookies and credentials included, and can answer them.  "
                "Use --curve-secret-key and --curve-allow (see "
                "docs/deployment.md), bind to 127.0.0.1 or ipc://, or give "
                "--insecure on a network you trust."
            )


def checkHandlerSecurity(options: HandlerSettings) -> None:
    """
    Check and load the handler's CURVE options: C{curve} becomes, for each
    of its fronts (C{fronts}), the handler's public and secret keys and
    that front's public key, or C{None}.  One C{--curve-server-key} is
    every front's; several are paired with C{--send} in order.

    @raise usage.UsageError: if only one of the options is given, if the
        front certificates are neither one nor one per front, or if a key
        cannot be loaded.
    """
    secretFile: str | None = options["curve-secret-key"]
    serverFiles: list[str] = options["curve-server-key"]
    options["curve"] = None
    if bool(secretFile) != bool(serverFiles):
        raise usage.UsageError(
            "--curve-secret-key and --curve-server-key go together: the "
            "handler's key, and the front's public key"
        )
    if not secretFile or not serverFiles:  # (Both or neither, by now.)
        return
    fronts = len(options["fronts"])
    if len(serverFiles) not in (1, fronts):
        raise usage.UsageError(
            f"{len(serverFiles)} --curve-server-key for {fronts} fronts: give "
            "one for every front, or one for each --send, in the same order"
        )
    _requireCurve()
    public, secret = loadSecretCertificate(secretFile, "--curve-secret-key")
    servers = [loadPublicCertificate(path, "--curve-server-key") for path in serverFiles]
    options["curve"] = [(public, secret, server) for server in servers * (fronts // len(servers))]
