# -*- test-case-name: tests -*-
"""
Where the processes of a system test listen: free TCP ports on the loopback
interface, and the endpoint and ZeroMQ address strings built from them.

The ZeroMQ addresses a test uses by default are C{ipc://} paths relative to
its own directory (see L{tests._harness.case.SystemTestCase}); the
C{tcp://} ones here are for what needs TCP (CURVE, say).
"""

from __future__ import annotations

import socket

#: The interface every process of a test listens on, and the only one it
#: sends traffic to.
LOOPBACK = "127.0.0.1"


def freePort() -> int:
    """
    Find a TCP port on C{127.0.0.1} that nothing listens on right now.

    @return: The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def loopbackEndpoint(port: int) -> str:
    """
    The Twisted endpoint string that listens on C{port} of the loopback
    interface (for C{mpfront --listen} and C{--stats}).
    """
    return f"tcp:{port}:interface={LOOPBACK}"


def zmqTCPAddresses() -> tuple[str, str]:
    """
    A C{--send} and a C{--return} address on free TCP ports of the
    loopback interface.

    @return: The two C{tcp://} addresses.
    """
    return f"tcp://{LOOPBACK}:{freePort()}", f"tcp://{LOOPBACK}:{freePort()}"
