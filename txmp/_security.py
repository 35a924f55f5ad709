# -*- test-case-name: txmp.test.test_zap -*-
"""
The security options of C{twistd mpfront} and C{twistd mphandler}: CURVE
keys, and which ZeroMQ addresses may go without them.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Optional

from twisted.python import usage

# The largest frame a front accepts from a peer (ZMQ_MAXMSGSIZE): a peer
# that sends a larger one is disconnected instead of buffered.  Handlers
# send body frames of at most txmp._handler.MAX_FRAME (1 MiB) and heads
# bounded by the HTTP header limits, so this leaves a wide margin.
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024


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
    host, sep, port = rest.rpartition(":")
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


def _keyPair(path: str, what: str) -> Any:
    from txmp._zmq import loadKeyPair

    try:
        return loadKeyPair(path)
    except ValueError as e:
        raise usage.UsageError(f"{what}: {e}") from None


def _requireCurve() -> None:
    from txmp._zmq import curveAvailable

    if not curveAvailable():
        raise usage.UsageError(
            "this libzmq has no CURVE support (built without libsodium)"
        )


def checkFrontSecurity(options: Any) -> None:
    """
    Check and load the front's security options: C{curve} becomes the
    front's (public, secret) key pair and C{curve-allowed} the allowed
    client keys, or both C{None}.

    @raise usage.UsageError: if only one of the CURVE options is given, a
        key cannot be loaded, or an address is open to the network
        without CURVE and without C{--insecure}.
    """
    from txmp._zap import loadAllowList

    secretFile: Optional[str] = options["curve-secret-key"]
    allowDir: Optional[str] = options["curve-allow"]
    options["curve"] = options["curve-allowed"] = None
    if bool(secretFile) != bool(allowDir):
        raise usage.UsageError(
            "--curve-secret-key and --curve-allow go together: the front's "
            "key, and the directory of the handler keys it accepts"
        )
    if secretFile:
        _requireCurve()
        public, secret = _keyPair(secretFile, "--curve-secret-key")
        if secret is None:
            raise usage.UsageError(
                f"--curve-secret-key {secretFile}: holds no secret-key (give "
                "the NAME.key file, not NAME.key_public)"
            )
        options["curve"] = (public, secret)
        try:
            options["curve-allowed"] = loadAllowList(allowDir)  # type: ignore[arg-type]
        except ValueError as e:
            raise usage.UsageError(f"--curve-allow: {e}") from None
        return
    if options["insecure"]:
        return
    for name in ("send", "return"):
        address = options[name]
        if not isLocalAddress(address):
            raise usage.UsageError(
                f"--{name} {address} is reachable from other hosts, and "
                "without CURVE anyone who connects to it is a handler: "
                "whoever connects to the send socket receives every request, "
                "cookies and credentials included, and can answer them.  "
                "Use --curve-secret-key and --curve-allow (see "
                "docs/deployment.md), bind to 127.0.0.1 or ipc://, or give "
                "--insecure on a network you trust."
            )


def checkHandlerSecurity(options: Any) -> None:
    """
    Check and load the handler's CURVE options: C{curve} becomes the
    handler's (public, secret, server public) keys, or C{None}.

    @raise usage.UsageError: if only one of the options is given or a key
        cannot be loaded.
    """
    secretFile: Optional[str] = options["curve-secret-key"]
    serverFile: Optional[str] = options["curve-server-key"]
    options["curve"] = None
    if bool(secretFile) != bool(serverFile):
        raise usage.UsageError(
            "--curve-secret-key and --curve-server-key go together: the "
            "handler's key, and the front's public key"
        )
    if not secretFile:
        return
    _requireCurve()
    public, secret = _keyPair(secretFile, "--curve-secret-key")
    if secret is None:
        raise usage.UsageError(
            f"--curve-secret-key {secretFile}: holds no secret-key (give the "
            "NAME.key file, not NAME.key_public)"
        )
    server, _ = _keyPair(serverFile, "--curve-server-key")  # type: ignore[arg-type]
    options["curve"] = (public, secret, server)
