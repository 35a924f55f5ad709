# -*- test-case-name: tests -*-
"""
Where the processes of a system test listen: free TCP ports on the loopback
interface, and the endpoint and ZeroMQ address strings built from them.

The ZeroMQ addresses a test uses by default are C{ipc://} paths relative to
its own directory (see L{tests._harness.case.SystemTestCase}); the
C{tcp://} ones here are for what needs TCP (CURVE, say).
"""

from __future__ import annotations

import os
import socket

#: The interface every process of a test listens on, and the only one it
#: sends traffic to.
LOOPBACK = "127.0.0.1"


def _listeningPorts() -> list[int]:
    """
    The ports a test may listen on: those outside the kernel's ephemeral
    range, below it and above it.

    A port from the ephemeral range (what binding to port 0 hands out) may be
    taken, between the test choosing it and its process listening on it, as
    the local end of any outgoing connection on the machine: a ZeroMQ
    socket's, a client's. CI saw exactly that (C{--listen} failing with
    C{EADDRINUSE}). Nothing takes a port outside the range unless it listens
    on it. If the range leaves too few (C{1024 65535}, say), none: then
    L{freePort} binds to port 0, as before.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            low, high = (int(n) for n in ranges.read().split()[:2])
    except (OSError, ValueError):
        return []
    ports = [*range(max(1024, low - 12000), low), *range(high + 1, 65536)]
    return ports if len(ports) >= 1000 else []


_PORTS = _listeningPorts()
#: Where the next search for a free port starts in L{_PORTS}: a different
#: place in each process, and never the same port twice in one process
#: while others remain.
_next = (os.getpid() * 7919) % len(_PORTS) if _PORTS else 0


def freePort() -> int:
    """
    Find a TCP port on C{127.0.0.1} that nothing listens on right now,
    outside the kernel's ephemeral range if it leaves enough (see
    L{_listeningPorts}).

    @return: The port number.
    """
    global _next
    for _ in range(len(_PORTS)):
        port = _PORTS[_next]
        _next = (_next + 1) % len(_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        found: int = probe.getsockname()[1]
    return found


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
