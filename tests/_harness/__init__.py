# -*- test-case-name: tests -*-
"""
Harness for txmp's system tests: real C{twistd} processes, real sockets.

A L{SystemTestCase} starts C{twistd mpfront} and C{twistd mphandler},
waits for the log lines those commands promise and talks HTTP to the front
on C{127.0.0.1}.  Nothing sleeps: every wait is on an event (a log line, a
response, a process ending, a pidfd becoming readable) and every wait is
bounded.  Every process a test starts runs in a session of its own: when
the test ends it is stopped by its PID (C{SIGTERM}, then C{SIGKILL}), and
then whatever is left of its process group (handlers it spawned, say) is
killed, so that no test leaves processes behind.

One module owns each part, and this package gives their names to the tests:

  - L{case}: L{SystemTestCase}, the test case, and L{asyncTest};
  - L{processes}: the processes a test starts, their output and lifetime;
  - L{clients}: HTTP clients, with L{Agent} or raw bytes on a socket;
  - L{load}: L{BoundedLoad}, requests kept in flight, bounded in count and
    time, each one's outcome recorded;
  - L{conditions}: waiting for a condition that events change;
  - L{addresses}: free ports and the address strings built from them;
  - L{procfs}: what C{/proc} says about a process (children, memory, files);
  - L{relay}: L{Relay}, a TCP relay that drops what passes and resets its
    connections (a network cut, a connection reset);
  - L{_reactor}: the global reactor, taken from here alone.
"""

from __future__ import annotations

from ._reactor import reactor
from .addresses import LOOPBACK, freePort, loopbackEndpoint, zmqTCPAddresses
from .blocking import CLIENT_TIMEOUT, PIECE, SMALL_WINDOW, inThread, readAtRate, reads
from .case import SystemTestCase, asyncTest, firstOf
from .clients import (
    REQUEST_TIMEOUT,
    BodyDigest,
    ClientConnection,
    ConnectionLostEarly,
    GeneratedBody,
    HTTPResult,
    IncompleteResponse,
    RawHTTPClient,
    RawResponse,
    RecordingConnection,
    formatRequest,
)
from .conditions import Conditions
from .load import BoundedLoad, LoadFinished, Outcome, PlannedRequest
from .processes import (
    PROJECT_APP,
    PROJECT_ROOT,
    READY_TIMEOUT,
    STOP_GRACE,
    LineTimeout,
    ProcessEndedEarly,
    ProcessHandle,
    TwistdProcess,
    childEnvironment,
    endProcesses,
    reap,
    twistdCommand,
    whenExited,
)
from .procfs import childPids, memoryStatus, regularFilesOpen
from .relay import Relay

__all__ = [
    "CLIENT_TIMEOUT",
    "LOOPBACK",
    "PIECE",
    "PROJECT_APP",
    "PROJECT_ROOT",
    "READY_TIMEOUT",
    "REQUEST_TIMEOUT",
    "SMALL_WINDOW",
    "STOP_GRACE",
    "BodyDigest",
    "BoundedLoad",
    "ClientConnection",
    "Conditions",
    "ConnectionLostEarly",
    "GeneratedBody",
    "HTTPResult",
    "IncompleteResponse",
    "LineTimeout",
    "LoadFinished",
    "Outcome",
    "PlannedRequest",
    "ProcessEndedEarly",
    "ProcessHandle",
    "RawHTTPClient",
    "RawResponse",
    "RecordingConnection",
    "Relay",
    "SystemTestCase",
    "TwistdProcess",
    "asyncTest",
    "childEnvironment",
    "childPids",
    "endProcesses",
    "firstOf",
    "formatRequest",
    "freePort",
    "inThread",
    "loopbackEndpoint",
    "memoryStatus",
    "reactor",
    "readAtRate",
    "reads",
    "reap",
    "regularFilesOpen",
    "twistdCommand",
    "whenExited",
    "zmqTCPAddresses",
]
