"""
Run twistd with txmp's ZeroMQ sends made through libzmq's C{zmq_send}
called by C{ctypes.PyDLL}, which holds the GIL, where pyzmq releases it
around every send; with C{TXMP_GILHELD} unset, as usual.  Not part of
txmp: the measurement of docs/benchmarks.md, "The handler's threads,
counted".

    TXMP_GILHELD=1 python benchmarks/experiments/gilheld.py -n --pidfile= mphandler ...
"""

from __future__ import annotations

import ctypes
import glob
import os

import zmq
from twisted.scripts.twistd import run

import txmp._zmq

_libraries = os.path.join(os.path.dirname(zmq.__file__), os.pardir, "pyzmq.libs")
_zmqSend = ctypes.PyDLL(glob.glob(os.path.join(_libraries, "libzmq-*.so*"))[0]).zmq_send
_zmqSend.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
_zmqSend.restype = ctypes.c_int


def _sendMultipart(socket: zmq.Socket[bytes], frames: list[bytes]) -> None:
    """
    L{txmp._zmq._sendMultipart}, the GIL held.
    """
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        data = bytes(frame)
        flags = zmq.NOBLOCK | (zmq.SNDMORE if index < last else 0)
        if _zmqSend(socket.underlying, data, len(data), flags) < 0:
            errno = zmq.zmq_errno()
            raise zmq.Again() if errno == zmq.EAGAIN else zmq.ZMQError(errno)


if os.environ.get("TXMP_GILHELD"):
    txmp._zmq._sendMultipart = _sendMultipart
run()
