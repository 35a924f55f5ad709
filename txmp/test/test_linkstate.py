# -*- test-case-name: txmp.test.test_linkstate -*-
"""
A stateful property test (hypothesis' L{RuleBasedStateMachine}) of one
L{FrontLink} running a scripted WSGI application through a real
L{WSGIRunner}, its application threads real threads run in lockstep with
the test's (the reactor's): only one of them runs at a time, and each
hands the turn back where an application thread may be found by the
reactor, waiting for its next call into the server (C{start_response},
C{write()}, a read of C{wsgi.input}, its return) or blocked in the
server for body or window.  So every interleaving the rules choose is
one a real handler may go through, and it is played again exactly when
hypothesis shrinks a failure.

A fake front (L{LinkMachine}'s own methods) registers the link, sends it
requests (with or without a body, whole or streamed, a small or a large
response window; a request it got back, again), bodies and their ends,
windows, C{CANCEL}s, C{RECALL}s and C{PING}s, and restarts (with its last
C{BYE}, or crashing, found out by the link's heartbeats).  Its messages
reach the link when a rule says so, and it reads what the link sends when
another does, so that messages cross both ways; an application thread
about to call the link's reply sink first hands the turn back
(L{txmp.testing.PausingSink}), so that a C{CANCEL} or a new registration
may come between the runner's choice and its send.

After every step: no exception escaped to the reactor or a pool thread, no
request was answered twice, nothing was sent for one after the link took
its C{CANCEL} but what an application thread was sending as it came, and
the front never holds more credits than the link has slots.  At the end,
once every request was let finish: the link's tables are empty, and the
front's count of its credits is its capacity (none lost, none given
twice).

It found the two faults of the credits given back across registrations
that test_handler's C{RegistrationTests} now show one by one
(C{test_creditAfterUnansweredHelloWaits},
C{test_heldCancelledCreditWaits}, C{test_registeredAnewFromLaterHello}).
It still finds one (a credit too many) with the fix of commit d3af4b8
taken back: C{git show d3af4b8~1:txmp/_handler.py > txmp/_handler.py},
run this module, C{git checkout txmp/_handler.py}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from hypothesis import seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from txmp import protocol
from txmp._handler import FrontLink
from txmp._wsgi import WSGIRunner
from txmp.test.properties import REPRODUCIBLE
from txmp.testing import (
    FakeReactor,
    LockstepCondition,
    LockstepPool,
    LockstepThread,
    MemorySocket,
    PausingRunner,
    requestMeta,
    runningReactor,
)


def _application(environ: dict[str, Any], startResponse: Any) -> Any:
    """
    A WSGI application that does what the test tells its thread, one call
    into the server at a time.
    """
    worker = LockstepThread.current()
    assert worker is not None
    write = None
    while True:
        worker.pause("idle")
        kind, *args = worker.command
        if kind == "start":
            write = startResponse("200 OK", args[0])
        elif kind == "write":
            assert write is not None
            write(args[0])
        elif kind == "read":
            environ["wsgi.input"].read(args[0])
        elif kind == "return":
            return list(args[0])
        elif kind == "stream":
            return _stream(worker, args[0])
        else:
            raise RuntimeError("told to fail")


def _stream(worker: LockstepThread, chunks: list[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        worker.pause("idle")
        if worker.command[0] == "raise":
            raise RuntimeError("told to fail while streaming")
        yield chunk


CAPACITY = 3
PREFETCH = 1
THREADS = CAPACITY - PREFETCH


# The run's seed, pinned: derandomised, hypothesis would seed it from this
# class's source, so that any edit of it drew other examples.  The search is
# narrow: with the fault of d3af4b8 put back, 3 seeds of 0 to 24 find it
# within 100 examples (9 at the 8th); a change of the rules must be checked
# so again (the module docstring says how).
@seed(9)
class LinkMachine(RuleBasedStateMachine):
    """
    One L{FrontLink}, its fake front, and the application threads (a
    L{LockstepPool}'s, each request's sink a L{PausingSink
    <txmp.testing.PausingSink>}).
    """

    @dataclass
    class Request:
        """
        What the front knows of a request it sent.
        """

        requestId: bytes
        streamed: bool
        bodyEnded: bool = False
        bodyWindow: int = 256 * 1024
        replied: bool = False
        recalling: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.reactor: FakeReactor = runningReactor()
        self.pool = LockstepPool(THREADS)
        self.pool.start()
        self.runner = PausingRunner(WSGIRunner(
            self.reactor, self.pool, _application,
            newCondition=partial(LockstepCondition, self.pool),  # type: ignore[arg-type]
        ))
        # The application threads that started their response.
        self.responded: set[LockstepThread] = set()
        # The application threads paused as they were about to send for a
        # request whose CANCEL the link took meanwhile: what they send
        # crosses it.
        self.crossing: dict[LockstepThread, bytes] = {}
        self.sendSocket = MemorySocket()
        self.returnSocket = MemorySocket()
        self.link = FrontLink(
            self.reactor, self.runner, self.sendSocket, self.returnSocket,
            "machine", capacity=CAPACITY, prefetch=PREFETCH, heartbeat=1.0,
            address="inproc://send",
        )
        self._controlReceived = self.link.controlReceived
        self.link.controlReceived = self._received  # type: ignore[method-assign,assignment]
        self.failures: list[LogEvent] = []
        globalLogPublisher.addObserver(cast(ILogObserver, self._observe))
        # The front.
        self.frontNumber = 0
        self.requestNumber = 0
        self.caps: dict[str, bool] = {}
        self._newFront()
        self.sendRead = 0
        self.returnRead = 0
        # The front's messages on their way to the link, in order.
        self.transit: list[list[bytes]] = []
        # Over the link's life, whatever the front: how far each request's
        # reply went, and from which message of the return socket on none
        # may come for it (the link took its CANCEL).
        self.replyState: dict[bytes, str] = {}
        self.silencedFrom: dict[bytes, int] = {}
        self.checked = 0

    # -- the front --------------------------------------------------------------

    def _newFront(self) -> None:
        self.frontNumber += 1
        self.frontId = "front%d" % (self.frontNumber,)
        self.registered = False
        self.count = 0
        self.pending: dict[bytes, LinkMachine.Request] = {}
        self.givenUp: set[bytes] = set()
        self.recalled: list[bytes] = []
        self.sent: set[bytes] = set()

    def _toLink(self, frames: list[bytes]) -> None:
        self.transit.append(frames)

    def _deliver(self, count: int) -> int:
        """
        Deliver the first C{count} messages on their way to the link.
        """
        delivered = 0
        while self.transit and delivered < count:
            frames = self.transit.pop(0)
            delivered += 1
            self.link.controlReceived(frames)
        return delivered

    def _received(self, frames: list[bytes]) -> None:
        """
        The link's C{controlReceived}, which it calls itself too, for the
        messages it held (L{FrontLink._settleHeld}).
        """
        self._controlReceived(frames)
        held = self.link._held
        requestId = frames[2] if frames[1] == protocol.CANCEL else None
        if (
            requestId is not None and not (held and held[-1][0] is frames)
            and requestId not in self.silencedFrom
        ):
            # Taken, not held: whatever crossed it is sent already, but for
            # what an application thread chose to send before and sends
            # when next resumed (L{_resume}).
            self.silencedFrom[requestId] = len(self.returnSocket.sent)
            for worker in self.pool.active():
                if (
                    worker.state == "sending" and worker.about == requestId
                    and worker is not LockstepThread.current()
                ):
                    self.crossing[worker] = requestId

    def _welcome(self, hello: protocol.Hello) -> None:
        registered = None
        if not self.registered:
            self.registered = True
            self.count = hello.credits
            registered = hello.sequence
        self._toLink(protocol.encodeWelcome(
            front=self.frontId, heartbeat=1.0, registered=registered,
            answers=hello.sequence, creditInReply=self.caps["creditInReply"],
            creditInEnd=self.caps["creditInEnd"], packed=self.caps["packed"],
            batch=self.caps["batch"] and self.caps["packed"],
        ))

    def _credit(self, requestId: bytes) -> None:
        """
        A reply or C{RECALLED} gives C{requestId}'s credit back: counted if
        this registration had the request.
        """
        if requestId in self.pending:
            self.count += 1
            del self.pending[requestId]
        elif requestId in self.givenUp:
            self.count += 1
            self.givenUp.discard(requestId)

    def _read(self) -> int:
        """
        Read what the link sent; return how many messages.
        """
        read = 0
        while self.sendRead < len(self.sendSocket.sent):
            frames = self.sendSocket.sent[self.sendRead]
            self.sendRead += 1
            read += 1
            message = protocol.decode(frames)
            if isinstance(message, protocol.Hello):
                self._welcome(message)
            elif not self.registered:
                self._toLink(protocol.encodeBye())
            elif isinstance(message, protocol.Credit):
                self.count += message.credits
            elif isinstance(message, protocol.Recalled):
                request = self.pending.get(message.requestId)
                if request is not None and request.recalling:
                    self.recalled.append(message.requestId)
                self._credit(message.requestId)
            elif isinstance(message, protocol.Window):
                request = self.pending.get(message.requestId)
                if request is not None:
                    request.bodyWindow += message.size
        while self.returnRead < len(self.returnSocket.sent):
            frames = self.returnSocket.sent[self.returnRead]
            self.returnRead += 1
            read += 1
            message = protocol.decode(frames)
            requestId = message.requestId  # type: ignore[union-attr]
            request = self.pending.get(requestId)
            if request is not None:
                request.replied = True
            ended = (
                isinstance(message, protocol.Error)
                or (isinstance(message, protocol.Response) and not message.head.more)
                or (isinstance(message, protocol.Body) and message.end)
            )
            credit = getattr(message, "credit", False)
            if credit:
                self._credit(requestId)
            elif ended and request is not None:
                del self.pending[requestId]
        return read

    # -- checks -----------------------------------------------------------------

    def _resume(self, worker: LockstepThread, command: tuple[Any, ...] = ()) -> None:
        """
        Give C{worker} a turn.  If it was about to send for a request whose
        C{CANCEL} the link took meanwhile, what it sends now crossed the
        C{CANCEL}, as the protocol allows (the front drops it); nothing
        else may follow the C{CANCEL}.
        """
        crossing = self.crossing.pop(worker, None)
        worker.resume(command)
        if crossing is not None:
            self.silencedFrom[crossing] = len(self.returnSocket.sent)

    def _observe(self, event: LogEvent) -> None:
        if "log_failure" in event and not event.get("log_format", "").startswith(
            "WSGI application failed"
        ):
            self.failures.append(event)

    def _checkReplies(self) -> None:
        sent = self.returnSocket.sent
        while self.checked < len(sent):
            index = self.checked
            self.checked += 1
            message = protocol.decode(sent[index])
            requestId = message.requestId  # type: ignore[union-attr]
            state = self.replyState.get(requestId, "none")
            assert index < self.silencedFrom.get(requestId, index + 1), (
                f"{message!r} after the link took the request's CANCEL"
            )
            if isinstance(message, protocol.Response):
                assert state == "none", f"a second RESP for {requestId!r}: {message!r}"
                state = "streaming" if message.head.more else "ended"
            elif isinstance(message, protocol.Body):
                assert state == "streaming", f"{message!r} while {state}"
                if message.end:
                    state = "ended"
            else:
                assert isinstance(message, protocol.Error), message
                assert state in ("none", "streaming"), f"{message!r} while {state}"
                state = "ended"
            self.replyState[requestId] = state

    @invariant()
    def nothingEscaped(self) -> None:
        assert not self.failures, self.failures
        self._checkReplies()

    @invariant()
    def noCreditTooMany(self) -> None:
        assert self.count <= CAPACITY, (self.count, CAPACITY)

    # -- rules ------------------------------------------------------------------

    @initialize(
        creditInReply=st.booleans(), creditInEnd=st.booleans(),
        packed=st.booleans(), batch=st.booleans(),
    )
    def start(self, creditInReply: bool, creditInEnd: bool, packed: bool, batch: bool) -> None:
        self.caps = dict(
            creditInReply=creditInReply, creditInEnd=creditInEnd, packed=packed,
            batch=batch,
        )
        self.link.start()
        self._read()
        self._deliver(1)

    @rule()
    def frontReads(self) -> None:
        self._read()

    @rule(count=st.sampled_from([1, 2, 100]))
    def linkReads(self, count: int) -> None:
        self._deliver(count)

    @precondition(lambda self: self.registered and (self.count > 0))
    @rule(
        body=st.sampled_from(["none", "whole", "streamed"]),
        window=st.sampled_from([1, 3, 1000]),
        method=st.sampled_from([b"GET", b"POST", b"HEAD"]),
        again=st.booleans(),
    )
    def request(self, body: str, window: int, method: bytes, again: bool) -> None:
        if again and self.recalled:
            requestId = self.recalled.pop(0)
        else:
            self.requestNumber += 1
            requestId = b"%s.%d" % (self.frontId.encode(), self.requestNumber)
        self.count -= 1
        streamed = body == "streamed"
        self.pending[requestId] = self.Request(requestId, streamed, bodyEnded=not streamed)
        self.sent.add(requestId)
        self._toLink(protocol.encodeRequest(
            requestId, requestMeta(method=method), [],
            [b"abc"] if body == "whole" else [], more=streamed, window=window,
        ))

    def _pick(
        self, index: int, which: Callable[[LinkMachine.Request], bool]
    ) -> LinkMachine.Request | None:
        candidates = [r for r in self.pending.values() if which(r)]
        return candidates[index % len(candidates)] if candidates else None

    @rule(
        kind=st.sampled_from(["body", "end", "cancel", "window", "recall", "ping"]),
        index=st.integers(0, 7),
        size=st.sampled_from([0, 1, 2, 100]),
    )
    def frontSends(self, kind: str, index: int, size: int) -> None:
        """
        The front sends the link more of a request body, its end, a
        C{CANCEL}, response window, a C{RECALL}, or a C{PING}.
        """
        if kind == "ping":
            self._toLink(protocol.encodePing())
            return
        request = self._pick(index, lambda r: (
            not r.bodyEnded if kind in ("body", "end")
            else not r.replied and not r.streamed and not r.recalling if kind == "recall"
            else True
        ))
        if request is None:
            return
        requestId = request.requestId
        if kind in ("body", "end"):
            size = min(size, request.bodyWindow)
            request.bodyWindow -= size
            request.bodyEnded = kind == "end"
            self._toLink(protocol.encodeBody(requestId, [b"x" * size], kind == "end"))
        elif kind == "cancel":
            del self.pending[requestId]
            self.givenUp.add(requestId)
            self._toLink(protocol.encodeCancel(requestId))
        elif kind == "window":
            self._toLink(protocol.encodeWindow(requestId, max(size, 1)))
        else:
            request.recalling = True
            self._toLink(protocol.encodeRecall(requestId))

    @rule(bye=st.booleans(), dice=st.integers(0, 7))
    def frontRestarts(self, bye: bool, dice: int) -> None:
        """
        The front stops (saying C{BYE} if C{bye}, else crashing) and a new
        one takes its addresses: what the link sent and the old front did
        not read is lost.  (One time in eight: a front restarting at every
        other step would leave no request the time to run.)
        """
        if dice:
            return
        wasRegistered = self.registered
        self.sendRead = len(self.sendSocket.sent)
        self.returnRead = len(self.returnSocket.sent)
        self._newFront()
        if bye and wasRegistered:
            self._toLink(protocol.encodeBye())

    @rule()
    def heartbeat(self) -> None:
        """
        A heartbeat interval passes: the front pings the link if it has
        registered it, then the link's heartbeat runs.
        """
        if self.registered:
            self._toLink(protocol.encodePing())
        self.reactor.advance(self.link.interval)

    @rule()
    def reactorTurn(self) -> None:
        self.reactor.flush()

    @rule(
        index=st.integers(0, 7),
        actions=st.lists(st.tuples(
            st.sampled_from(
                ["start", "startLength", "write", "flush", "read", "return", "stream",
                 "raise"]
            ),
            st.integers(0, 5),
        ), min_size=1, max_size=3),
    )
    def applicationSteps(self, index: int, actions: list[tuple[str, int]]) -> None:
        """
        An application thread takes a step or a few (or, if none runs, or
        with C{index} 7, a thread free takes the next request).
        """
        for action, size in actions:
            self._applicationStep(index, action, size)

    def _applicationStep(self, index: int, action: str, size: int) -> None:
        workers = self.pool.active()
        if not workers or (index == 7 and self.pool.queue):
            # (A thread free takes the next request, as a pool's does.)
            self.pool.startOne()
            return
        worker = workers[index % len(workers)]
        if worker.state in ("blocked", "sending"):
            self._resume(worker)
            return
        responded = worker in self.responded
        if action.startswith("start") or (not responded and action in (
            "write", "flush", "return", "stream"
        )):
            if responded:
                action = "write"
            else:
                self.responded.add(worker)
                headers = [("Content-Type", "text/plain")]
                if action == "startLength":
                    headers.append(("Content-Length", str(size)))
                self._resume(worker, ("start", headers))
                return
        if action == "write":
            self._resume(worker, ("write", b"w" * max(size, 1)))
        elif action == "flush":
            self._resume(worker, ("write", b""))
        elif action == "read":
            self._resume(worker, ("read", size))
        elif action == "return":
            self._resume(worker, ("return", [b"r" * size]))
        elif action == "stream":
            self._resume(worker, ("stream", [b"s"] * size))
        else:
            self._resume(worker, ("raise",))

    # -- the end ----------------------------------------------------------------

    def _finishAll(self) -> None:
        """
        Let every request finish: the front sends every body's end and
        window enough, threads take every request, and each application
        returns.
        """
        for _ in range(200):
            moved = self._read() + self._deliver(len(self.transit))
            for request in list(self.pending.values()):
                if not request.bodyEnded:
                    request.bodyEnded = True
                    self._toLink(protocol.encodeBody(request.requestId, [], True))
                    moved += 1
                self._toLink(protocol.encodeWindow(request.requestId, 1000))
            moved += self.reactor.flush()
            while self.pool.startOne():
                moved += 1
            for worker in self.pool.active():
                moved += 1
                if worker.state in ("blocked", "sending"):
                    self._resume(worker)
                elif worker not in self.responded:
                    self.responded.add(worker)
                    self._resume(worker, ("start", []))
                else:
                    self._resume(worker, ("return", []))
            if self.registered:
                self._toLink(protocol.encodePing())
                self._deliver(len(self.transit))
            else:
                self.reactor.advance(self.link.interval)
                moved += 1
            self._checkReplies()
            if not moved:
                return
        raise AssertionError("requests never finished")

    def teardown(self) -> None:
        try:
            if self.failures:
                return
            self._finishAll()
            self.nothingEscaped()
            link = self.link
            assert link.running == {}, link.running
            assert link._sinks == {}, link._sinks
            assert not link._endedSinks
            assert not link._held, link._held
            assert not any(link._hungChecks.values()), link._hungChecks
            assert self.pending == {}, self.pending
            assert self.registered and link.front == self.frontId
            assert self.count == CAPACITY, (self.count, CAPACITY)
            assert link.free == CAPACITY, (link.free, CAPACITY)
        finally:
            self.link.stop()
            globalLogPublisher.removeObserver(cast(ILogObserver, self._observe))
            self.pool.stop()


class FrontLinkStateMachineTests(SynchronousTestCase):
    """
    L{LinkMachine}, a bounded and derandomised run of it.
    """

    def test_machine(self) -> None:
        """
        Whatever the front and the application threads do, in any order, the
        link answers each request once, nothing escapes to the reactor, and
        once every request has finished the front holds exactly as many
        credits as the link has slots.
        """
        try:
            run_state_machine_as_test(
                LinkMachine,
                settings=settings(REPRODUCIBLE, max_examples=100, stateful_step_count=50),
            )
        finally:
            # What the application did wrong when told to (raised, or
            # wrote less than its Content-Length), logged by the runner:
            # LinkMachine._observe lets those pass, and fails on any other.
            # Also when the machine fails, else each shows beside its
            # failure as an error of its own.
            self.flushLoggedErrors()
