# -*- test-case-name: txmp.test.test_integration,txmp.test.test_curve -*-
"""
The front and handler services in this process, over real ZeroMQ sockets
on C{ipc://}, for the integration tests.

This is not a test module: it holds no test, and test modules import it
(as they may not import each other).
"""

from __future__ import annotations

import tempfile
from typing import Any, Callable, cast

from twisted.internet import reactor as globalReactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody

from txmp import _frontservice, _handlerservice, fronttap, handlertap
from txmp._interfaces import IFrontReactor

# Every reactor provides what the services need (txmp._interfaces).
reactor = cast(IFrontReactor, globalReactor)

#: How often L{ServicesTestCase.until} looks again, in seconds.
POLL = 0.01


def ipcDirectory(case: SynchronousTestCase) -> FilePath[str]:
    """
    A new directory for ipc sockets, removed after the test: not under
    trial's temporary directory, as ZeroMQ refuses ipc paths longer than
    about 107 bytes.
    """
    base = FilePath(tempfile.mkdtemp(prefix="txmp-"))
    case.addCleanup(base.remove)
    return base


class ServicesTestCase(TestCase):
    """
    Starts a front (L{txmp._frontservice.FrontService}) and handlers
    (L{txmp._handlerservice.HandlerService}) joined by the ipc addresses L{send} and
    L{ret}, each stopped after the test.

    @ivar heartbeat: their C{--heartbeat}, if not mpfront's.
    @ivar base: the path of the directory of the ipc sockets, for more
        files.
    @ivar url: the front's HTTP address, once it listens.
    """

    timeout = 30
    heartbeat: str | None = None

    def setUp(self) -> None:
        base = ipcDirectory(self)
        self.base = base.path
        self.send = "ipc://" + base.child("send").path
        self.ret = "ipc://" + base.child("return").path

    def _common(self) -> list[str]:
        heartbeat = [] if self.heartbeat is None else ["--heartbeat", self.heartbeat]
        return ["--send", self.send, "--return", self.ret, *heartbeat]

    @inlineCallbacks
    def startFront(self, *extra: str) -> Any:
        """
        Start a front with options C{extra}, listening on a free port of
        the loopback interface (L{url}).

        @return: a Deferred that fires with the service once it listens.
        """
        options = fronttap.Options()
        options.parseOptions(
            ["--listen", "tcp:0:interface=127.0.0.1", *self._common(), *extra]
        )
        service = _frontservice.FrontService(reactor, options.settings())
        service.startService()
        self.addCleanup(service.stopService)
        ports = yield service.listening
        self.url = b"http://127.0.0.1:%d" % (ports[0].getHost().port,)
        return service

    def startHandler(self, name: str, *extra: str, app: str = "txmp.demo:app") -> Any:
        """
        Start a handler of C{app} called C{name}, with two threads and
        options C{extra}.

        @return: the service.
        """
        options = handlertap.Options()
        options.parseOptions(
            ["--app", app, *self._common(), "--name", name, "--threads", "2", *extra]
        )
        service = _handlerservice.HandlerService(reactor, options.settings())
        service.startService()
        self.addCleanup(service.stopService)
        return service

    @inlineCallbacks
    def until(self, predicate: Callable[[], object], what: str, timeout: float = 10) -> Any:
        """
        Wait until C{predicate} is true.  What it reads changes as the
        services' sockets report events (a handshake refused, a peer
        connected), which no L{Deferred} announces: it is read again every
        L{POLL} seconds, so the test waits for the event and no longer.

        @param what: what is awaited, for the failure.
        @return: a Deferred that fires once it is true, or fails the test
            after C{timeout} seconds.
        """
        deadline = reactor.seconds() + timeout
        while not predicate():
            if reactor.seconds() > deadline:
                self.fail(f"{what}: not within {timeout:g} s")
            yield deferLater(reactor, POLL, lambda: None)

    @inlineCallbacks
    def get(self, path: bytes = b"/") -> Any:
        """
        C{GET} C{path} from the front.

        @return: a Deferred that fires with the status code and the body.
        """
        response = yield Agent(reactor).request(b"GET", self.url + path)
        body = yield readBody(response)
        return response.code, body
