# -*- test-case-name: txmp.test.test_tap -*-
"""
What txmp's services need of the reactor, as zope interfaces for the type
checker.

Twisted's reactors declare their interfaces one by one (L{IReactorTime},
L{IReactorCore}, ...), and a parameter is typed with the narrowest of them
that it uses.  The services that use several take one of these, each the
union of Twisted's interfaces it names, as Twisted's own
C{twisted.internet._IReactorCommon} does for the global reactor: no
reactor class declares them, and every reactor of Twisted's provides them
(L{txmp._options.reactorOrGlobal} casts the global reactor to the widest,
for the taps; tests cast their fakes).

And L{cancelCall}, the one way txmp cancels a timer that may have run.
"""

from __future__ import annotations

from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorCore,
    IReactorFDSet,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTime,
)


class IZmqReactor(IReactorFDSet, IReactorTime):
    """
    What ZeroMQ sockets need (L{txmp._zmq.ZmqContext}): to watch their
    descriptor (txzmq's connections), and to schedule reads.
    """


class ISignalReactor(IReactorCore, IReactorFromThreads):
    """
    What L{txmp._signals.SignalActions} needs: to know when the reactor
    runs, and to be called from a signal handler.
    """


class IHandlerReactor(IZmqReactor, ISignalReactor):
    """
    What a handler's services need (L{txmp._handlerservice}): sockets, time,
    calls from the WSGI threads and from signal handlers, and stopping.
    """


class IFrontReactor(IHandlerReactor, IReactorProcess):
    """
    What the front's services need (L{txmp._frontservice}): a handler's, and
    processes for C{--spawn}.
    """


def cancelCall(call: IDelayedCall | None) -> None:
    """
    Cancel C{call}, if there is one and it has neither run nor been
    cancelled.  (The caller then forgets it.)
    """
    if call is not None and call.active():
        call.cancel()


__all__ = [
    "IFrontReactor",
    "IHandlerReactor",
    "ISignalReactor",
    "IZmqReactor",
    "cancelCall",
]
