# -*- test-case-name: tests.test_resilience -*-
"""
No request is lost when handlers come and go under load: rolling restarts,
handlers killed or frozen, a front restarted, two fronts sharing handlers,
clients that disconnect, handlers recycled by C{--max-requests}.

Every scenario runs real processes under a bounded load (L{BoundedLoad})
and ends by checking, through the front's C{--stats}, that the front holds
no request any more (nothing pending, queued or in flight) and credits no
handler with more requests than the handler offers it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable

from twisted.internet.defer import gatherResults
from twisted.internet.task import deferLater

from txmp._defaults import DEFAULT_PREFETCH

from ._harness import (
    BoundedLoad,
    HTTPResult,
    Outcome,
    PlannedRequest,
    RecordingConnection,
    Relay,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    freePort,
    reactor,
    reap,
    zmqTCPAddresses,
)
from .apps import tagged

TAGGED = "tests.apps.tagged:app"

#: The heartbeat interval of every front and handler here, in seconds.
HEARTBEAT = 0.5

#: How late a log line may reach the test after the event it reports: the
#: pipe from the process, the test's reactor busy with the load, and a
#: message a handler sent just before it was frozen, which the front may
#: read just after.  Measured here at a few milliseconds; allowed 0.25 s.
LOG_LATENCY = 0.25

#: The front's --timeout where handlers are killed or frozen: every request
#: must be answered sooner.
FRONT_TIMEOUT = 5.0

BEGIN = re.compile(r"begin (GET|POST) (\S+)$")
JOINED = re.compile(r"handler \S+ joined")


def answeredBy(request: PlannedRequest, result: HTTPResult | None) -> int | None:
    """
    The PID of the handler that answered a request, if the response is the
    C{tagged} application's correct answer to that very request.

    @return: The PID, or L{None} if the response is not a 200 whose body
        names the request's token and method.
    """
    if result is None or result.code != 200:
        return None
    parsed = tagged.parseBody(result.body)
    if parsed is None:
        return None
    token, method, pid = parsed
    if token != request.token or method != request.method.decode():
        return None
    return pid


def servedBy(outcome: Outcome) -> int | None:
    """
    L{answeredBy} for a request of a L{BoundedLoad}.
    """
    return answeredBy(outcome.request, outcome.result)


def begun(handler: TwistdProcess) -> dict[str, float]:
    """
    The requests a handler of the C{tagged} application has started (with
    C{log=1}), by token, with the time the test learnt of each.
    """
    started: dict[str, float] = {}
    for line, when in zip(handler.lines, handler.lineTimes):
        match = BEGIN.search(line)
        if match is not None:
            started[match.group(2)] = when
    return started


def get(
    token: str, sleep: float = 0, port: int | None = None, log: bool = False
) -> PlannedRequest:
    """
    A C{GET} for the C{tagged} application.
    """
    extra = "&log=1" if log else ""
    return PlannedRequest(b"GET", f"/?token={token}&sleep={sleep}{extra}", token, port=port)


def post(token: str, sleep: float, log: bool = False) -> PlannedRequest:
    """
    A C{POST}, with a body, for the C{tagged} application.
    """
    extra = "&log=1" if log else ""
    return PlannedRequest(
        b"POST", f"/?token={token}&sleep={sleep}{extra}", token, body=b"payload"
    )


@dataclass
class _Victim:
    """
    A handler to be lost while it runs a C{GET} and a C{POST} of a load.

    @ivar chosen: The tokens of that C{GET} and that C{POST}.
    """

    front: TwistdProcess
    process: TwistdProcess
    pid: int
    load: BoundedLoad
    chosen: tuple[str, str]


class ResilienceTestCase(SystemTestCase):
    """
    Fronts and handlers with a short heartbeat, serving the C{tagged}
    application; the front has C{--stats}.

    @ivar statsPort: The front's C{--stats} port.
    """

    def setUp(self) -> None:
        super().setUp()
        self.statsPort = freePort()

    async def startTaggedFront(self, *extra: str, label: str = "front") -> TwistdProcess:
        """
        Start a front with L{HEARTBEAT} and C{--stats} on L{statsPort}.
        """
        return await self.startFront(
            "--heartbeat", str(HEARTBEAT), *extra, label=label, statsPort=self.statsPort
        )

    async def startTaggedHandler(
        self, name: str, front: TwistdProcess | None, threads: int = 2
    ) -> TwistdProcess:
        """
        Start a handler of the C{tagged} application with L{HEARTBEAT}, and
        wait until C{front} says it joined.
        """
        return await self.startHandler(
            name,
            TAGGED,
            "--threads",
            str(threads),
            "--heartbeat",
            str(HEARTBEAT),
            front=front,
        )

    async def assertServes(self, handler: TwistdProcess, timeout: float) -> None:
        """
        Assert that a request made now is answered, within C{timeout}
        seconds, by C{handler} (its only handler, or one whose thread a
        test has just seen freed).
        """
        following = get("next")
        result = await self.get(following.path, timeout=timeout)
        self.assertEqual(
            answeredBy(following, result),
            handler.pid,
            f"response {result.code} {result.body!r}" + self.transcript(),
        )

    def describe(self, load: BoundedLoad) -> str:
        """
        The load's summary and every process's output, for messages.
        """
        return "\nLoad: " + load.summary() + self.transcript()

    def assertAllServed(self, load: BoundedLoad) -> None:
        """
        Assert that every request of C{load} got a 200 with the right body.
        """
        self.assertTrue(load.finished, "the load is still running" + self.describe(load))
        wrong = [o.describe() for o in load.outcomes if servedBy(o) is None]
        self.assertEqual(wrong, [], "requests failed" + self.describe(load))

    def assertCreditsWithin(
        self, stats: dict[str, Any], threads: int, label: str = "front",
        prefetch: int = DEFAULT_PREFETCH,
    ) -> None:
        """
        Assert that a front credits no handler with more requests than the
        handler offers it: the front's credits for a handler are what the
        handler offered less the requests it was sent and has not given
        back, so they can never be more, whatever is in flight.

        @param stats: The front's statistics.
        @param threads: How many threads each handler offers this front.
        @param prefetch: How many credits each handler offers this front
            beyond its threads (its C{--prefetch}, or its share of it),
            which its C{HELLO} says.
        """
        offered = threads + prefetch
        excess = {
            h["name"]: (h["credits"], h["prefetch"]) for h in stats["handlers"]
            if h["credits"] > offered or h["prefetch"] != prefetch
        }
        self.assertEqual(
            excess,
            {},
            f"{label} credits handlers beyond the {threads} + {prefetch} they offer, "
            f"or does not know their prefetch: {stats}" + self.transcript(),
        )

    def servedPids(self, load: BoundedLoad) -> set[int]:
        """
        The PIDs of the handlers that served C{load}'s requests.
        """
        return {pid for pid in map(servedBy, load.outcomes) if pid is not None}

    async def waitForBusyVictim(
        self, victim: TwistdProcess, load: BoundedLoad
    ) -> tuple[str, str]:
        """
        Wait until C{victim} is running both a C{GET} and a C{POST}, each
        started less than 0.1 seconds ago (the application holds them 0.2
        seconds) and not answered yet.

        @return: The tokens of that C{GET} and that C{POST}.
        """
        chosen: list[str] = []

        def busy(line: str) -> bool:
            if BEGIN.search(line) is None:
                return False
            now = reactor.seconds()
            answered = {o.request.token for o in load.completed}
            recent = sorted(
                (when, token)
                for token, when in begun(victim).items()
                if now - when < 0.1 and token not in answered
            )
            gets = [token for (_, token) in recent if token.startswith("g")]
            posts = [token for (_, token) in recent if token.startswith("p")]
            if gets and posts:
                chosen[:] = [gets[-1], posts[-1]]
                return True
            return False

        await victim.waitForLine(busy, timeout=20)
        return chosen[0], chosen[1]

    def assertOnlyVictimPostsFailed(
        self,
        load: BoundedLoad,
        victim: TwistdProcess,
        victimPid: int,
        chosen: tuple[str, str],
        stats: dict[str, Any],
    ) -> None:
        """
        Assert what becomes of the requests of a handler that was lost with
        requests in flight: every request got a response before
        L{FRONT_TIMEOUT}; every C{GET} got a 200 with the right body, the
        ones the lost handler had started from another handler (retried);
        the only failures are the C{POST}s that the lost handler had
        started and not answered, each a 502 (a C{POST} is never sent to
        wait for a thread, so none that never ran fails); and the front's
        statistics agree: a 502 for each of those, and a retry for each
        C{GET} it had started, and for any it had waiting for a thread
        (its C{--prefetch}), which no log line shows.

        @param chosen: The tokens of a C{GET} and a C{POST} known to have
            been running on the victim when it was lost.
        """
        message = self.describe(load)
        noResponse = [o.describe() for o in load.outcomes if o.result is None]
        self.assertEqual(noResponse, [], "requests got no response" + message)
        slow = [
            f"{o.describe()} after {o.ended - o.started:.2f}s"
            for o in load.outcomes
            if o.ended is not None and o.ended - o.started >= FRONT_TIMEOUT
        ]
        self.assertEqual(slow, [], f"answers not within --timeout {FRONT_TIMEOUT}" + message)
        byToken = {o.request.token: o for o in load.outcomes}
        failedGets = [
            o.describe()
            for o in load.outcomes
            if o.request.method == b"GET" and servedBy(o) is None
        ]
        self.assertEqual(failedGets, [], "GETs failed" + message)
        lost = {
            token
            for token in begun(victim)
            if token in byToken and servedBy(byToken[token]) != victimPid
        }
        lostGets = {token for token in lost if token.startswith("g")}
        lostPosts = lost - lostGets
        failed = {o.request.token: o.code for o in load.outcomes if servedBy(o) is None}
        self.assertEqual(
            failed,
            dict.fromkeys(lostPosts, 502),
            "the failures are not exactly the POSTs lost with the handler, as 502s"
            + message,
        )
        chosenGet, chosenPost = chosen
        self.assertIn(chosenGet, lostGets, f"{chosenGet} was not lost with the handler" + message)
        self.assertIn(
            chosenPost, lostPosts, f"{chosenPost} was not lost with the handler" + message
        )
        counters = stats["stats"]
        self.assertEqual(
            counters["status502"], len(lostPosts),
            f"front statistics {stats} for lost POSTs {sorted(lostPosts)}" + message,
        )
        self.assertGreaterEqual(
            counters["retried"], len(lostGets),
            f"front statistics {stats} for lost GETs {sorted(lostGets)}" + message,
        )

    def startMixedLoad(self, total: int) -> BoundedLoad:
        """
        Keep 12 requests in flight, alternately C{GET} and C{POST}, each
        held 0.2 seconds by the application, which logs when it starts
        each.
        """
        return self.startLoad(
            lambda n: (
                get(f"g{n}", 0.2, log=True) if n % 2 == 0 else post(f"p{n}", 0.2, log=True)
            ),
            inFlight=12,
            total=total,
            timeout=FRONT_TIMEOUT * 2,
        )


class RollingRestartTests(ResilienceTestCase):
    """
    Handlers replaced one by one under load lose no request.
    """

    timeout = 90

    def startsSlow(self, handler: TwistdProcess, line: str, since: float) -> bool:
        """
        Whether a line of C{handler}'s log says that it started a slow
        request, and arrived after C{since}.
        """
        match = BEGIN.search(line)
        return (
            match is not None
            and match.group(2).startswith("s")
            and begun(handler)[match.group(2)] >= since
        )

    @asyncTest
    async def test_rollingRestart(self) -> None:
        """
        With 50 requests kept in flight, both handlers are replaced one at
        a time: start a new one, SIGTERM an old one while it runs a slow
        request, wait until it exits.  Each old one drained with requests
        in flight, answered its slow request, and stopped cleanly; every
        response is a 200 with the right body; old and new handlers served.

        Most requests take 0.01 seconds; every fourth takes 0.3 seconds and
        is logged when it starts, so that an old handler can be stopped
        while it certainly has a request to finish.
        """
        front = await self.startTaggedFront()
        old = [await self.startTaggedHandler(name, front) for name in ("old-1", "old-2")]
        oldPids = {h.pid for h in old}
        load = self.startLoad(
            lambda n: get(f"s{n}", 0.3, log=True) if n % 4 == 0 else get(f"r{n}", 0.01),
            inFlight=50,
            total=1000,
            timeout=20,
        )
        await self.withTimeout(
            load.until(lambda: len(load.completed) >= 50), 20, "50 responses before the restart"
        )
        new: list[TwistdProcess] = []
        finishing: dict[str, int] = {}
        for n, victim in enumerate(old, 1):
            new.append(await self.startTaggedHandler(f"new-{n}", front))
            self.assertEqual(load.inFlight, 50, "the load stopped early" + self.describe(load))
            since = reactor.seconds()
            slow = await victim.waitForLine(
                functools.partial(self.startsSlow, victim, since=since), timeout=10
            )
            victimPid = victim.pid
            assert victimPid is not None
            finishing[slow.split()[-1]] = victimPid
            victim.signal("TERM")
            draining = await front.waitForLine(
                re.compile(rf"handler {victim.label} is draining with \d+ requests"), timeout=10
            )
            inFlight = int(re.findall(r"with (\d+) requests", draining)[0])
            self.assertGreater(
                inFlight, 0, f"{victim.label} drained with nothing in flight" + self.transcript()
            )
            await self.withTimeout(victim.whenEnded(), 20, f"{victim.label} to exit")
            self.assertStoppedCleanly(victim)
            await victim.waitForLine(f"mphandler {victim.label} stopped after")
            await front.waitForLine(f"handler {victim.label} drained and left", timeout=5)
        newPids = {h.pid for h in new}
        await self.withTimeout(
            load.until(
                lambda: all(
                    sum(1 for o in load.completed if servedBy(o) == pid) >= 20 for pid in newPids
                )
            ),
            20,
            "20 responses from each new handler",
        )
        await self.withTimeout(load.stop(), 20, "the load to end")
        self.assertAllServed(load)
        byToken = {o.request.token: o for o in load.outcomes}
        self.assertEqual(
            {token: servedBy(byToken[token]) for token in finishing},
            finishing,
            "slow requests running at SIGTERM not answered by their handler"
            + self.describe(load),
        )
        self.assertEqual(self.servedPids(load), oldPids | newPids, self.describe(load))
        self.assertCreditsWithin(await self.assertIdle(self.statsPort), 2)


class HandlerLostTests(ResilienceTestCase):
    """
    A handler killed or frozen with requests in flight costs only the
    C{POST}s it had started, which get 502 before the front's C{--timeout};
    its C{GET}s are retried on another handler.
    """

    timeout = 60

    async def busyVictim(self, total: int) -> _Victim:
        """
        Start a front with L{FRONT_TIMEOUT} and three handlers of two
        threads, put them under L{startMixedLoad} of C{total} requests, and
        wait until the first handler runs both a C{GET} and a C{POST}.
        """
        front = await self.startTaggedFront("--timeout", str(FRONT_TIMEOUT))
        handlers = [await self.startTaggedHandler(f"h{n}", front) for n in (1, 2, 3)]
        victim = handlers[0]
        assert victim.pid is not None
        load = self.startMixedLoad(total=total)
        chosen = await self.waitForBusyVictim(victim, load)
        return _Victim(front, victim, victim.pid, load, chosen)

    async def chosenAnswered(self, victim: _Victim, after: str) -> None:
        """
        Wait until the C{GET} and the C{POST} the victim was running have
        ended, within twice L{FRONT_TIMEOUT}.

        @param after: What happened to the victim, for messages.
        """
        load = victim.load
        await self.withTimeout(
            load.until(
                lambda: all(o.ended for o in load.outcomes if o.request.token in victim.chosen)
            ),
            FRONT_TIMEOUT * 2,
            f"answers to {victim.chosen} after {after}",
        )

    async def assertLossContained(self, victim: _Victim) -> None:
        """
        Stop the load, then assert that the front holds no request, credits
        no handler beyond its two threads, and that only the victim's
        C{POST}s failed (L{assertOnlyVictimPostsFailed}).
        """
        await self.withTimeout(victim.load.stop(), FRONT_TIMEOUT * 2, "the load to end")
        stats = await self.assertIdle(self.statsPort)
        self.assertCreditsWithin(stats, 2)
        self.assertOnlyVictimPostsFailed(
            victim.load, victim.process, victim.pid, victim.chosen, stats
        )

    @asyncTest
    async def test_killed(self) -> None:
        """
        Under a load of C{GET}s and C{POST}s, a handler is killed (SIGKILL)
        while it runs a C{GET} and a C{POST}: the C{POST}s it had started
        get 502, its C{GET}s are served by another handler, everything
        else succeeds, and everything is answered before C{--timeout}.
        """
        victim = await self.busyVictim(total=300)
        victim.process.signal("KILL")
        await self.chosenAnswered(victim, "the handler was killed")
        await self.assertLossContained(victim)

    @asyncTest
    async def test_frozen(self) -> None:
        """
        Under a load of C{GET}s and C{POST}s, a handler is frozen (SIGSTOP)
        while it runs a C{GET} and a C{POST}: the front declares it dead
        within three heartbeats (and not within one), its requests fare as
        a killed handler's; after SIGCONT it joins again and serves.
        """
        victim = await self.busyVictim(total=400)
        front, process, load = victim.front, victim.process, victim.load
        stoppedAt = reactor.seconds()
        process.signal("STOP")
        self.addCleanup(process.signal, "CONT")
        deadAt = await front.timeOfLine(
            f"handler {process.label} silent for 3 heartbeats: declared dead", timeout=10
        )
        # The front must hear nothing for 3 intervals: at most 3 after the
        # SIGSTOP, and, as the handler sends something every interval, at
        # least 2; more than 1 leaves a whole interval for timer jitter.
        detection = deadAt - stoppedAt
        self.assertTrue(
            HEARTBEAT < detection <= 3 * HEARTBEAT + LOG_LATENCY,
            f"declared dead {detection:.3f}s after SIGSTOP, with --heartbeat"
            f" {HEARTBEAT} (allowing {LOG_LATENCY}s for the log line to arrive)"
            + self.transcript(),
        )
        await self.chosenAnswered(victim, "the handler was declared dead")
        continuedAt = reactor.seconds()
        process.signal("CONT")
        rejoinedAt = await front.timeOfLine(f"handler {process.label} joined", count=2, timeout=10)
        self.assertLessEqual(
            rejoinedAt - continuedAt,
            3 * HEARTBEAT + LOG_LATENCY,
            "slow to join again after SIGCONT" + self.transcript(),
        )
        await self.withTimeout(
            load.until(
                lambda: any(
                    servedBy(o) == victim.pid and o.started >= rejoinedAt for o in load.completed
                )
            ),
            10,
            "the handler to serve again after SIGCONT",
        )
        await self.assertLossContained(victim)


class ConnectionResetTests(ResilienceTestCase):
    """
    A handler's connections to its front are reset (a firewall or NAT
    dropping them) after what was on its way on them was dropped: the
    requests whose messages were lost are treated as a lost handler's,
    not left to C{--timeout}, and no credit is lost.
    """

    timeout = 60

    @asyncTest
    async def test_resetRegistersAnew(self) -> None:
        """
        Under a load of C{GET}s and C{POST}s, while a handler runs both,
        everything on its way between it and the front is dropped for 0.3
        s (less than the front's judgement of silence), then its
        connections are reset on its side, as a firewall's C{REJECT
        --reject-with tcp-reset} does (the front's side is told nothing):
        it connects again and asks to be registered anew.  Every request is answered before
        C{--timeout}; every C{GET} gets a 200 (one whose reply was lost is
        retried); only C{POST}s fail, with 502; and once the load has
        ended, the front holds nothing and credits each handler with all
        it offers.  (Before, each request whose C{REQ} or reply was
        dropped got 504 at C{--timeout}, and its credit was lost for good:
        a helper's two seconds of C{iptables -j REJECT --reject-with
        tcp-reset} under load left a front answering every request 503.)
        """
        send, ret = zmqTCPAddresses()
        front = await self.startFront(
            "--heartbeat", str(HEARTBEAT), "--timeout", str(FRONT_TIMEOUT),
            addresses=(send, ret), statsPort=self.statsPort,
        )
        relays = [Relay(int(address.rsplit(":", 1)[1])) for address in (send, ret)]
        relayed = [f"tcp://127.0.0.1:{await relay.start()}" for relay in relays]
        for relay in relays:
            self.addCleanup(relay.stop)
        victim = await self.startHandler(
            "h1", TAGGED, "--threads", "2", "--heartbeat", str(HEARTBEAT),
            front=front, fronts=[(relayed[0], relayed[1])],
        )
        for name in ("h2", "h3"):
            await self.startHandler(
                name, TAGGED, "--threads", "2", "--heartbeat", str(HEARTBEAT),
                front=front, fronts=[(send, ret)],
            )
        load = self.startMixedLoad(total=300)
        await self.waitForBusyVictim(victim, load)
        for relay in relays:
            relay.dropping = True
        # (The cut's length, not a wait for an event.)
        await deferLater(reactor, 0.3)
        reset = sum(relay.reset() for relay in relays)
        for relay in relays:
            relay.dropping = False
        self.assertEqual(reset, 2, "the handler's two connections")
        await self.withTimeout(load.stop(), FRONT_TIMEOUT * 3, "the load to end")
        message = self.describe(load)
        slow = [
            f"{o.describe()} after {o.ended - o.started:.2f}s"
            for o in load.outcomes
            if o.ended is not None and o.ended - o.started >= FRONT_TIMEOUT
        ]
        self.assertEqual(slow, [], f"answers not within --timeout {FRONT_TIMEOUT}" + message)
        failed = [
            o.describe() for o in load.outcomes
            if servedBy(o) is None and (o.request.method != b"POST" or o.code != 502)
        ]
        self.assertEqual(failed, [], "failures other than POSTs' 502" + message)
        await self.assertIdle(self.statsPort, credits=[2 + DEFAULT_PREFETCH] * 3)
        await front.waitForLine(
            "handler h1 lost a connection to this front (its HELLO says): registered anew",
            timeout=1,
        )


class FrontRestartTests(ResilienceTestCase):
    """
    Handlers serve a front that replaces theirs on the same addresses.
    """

    timeout = 60

    async def pidsServing(self, prefix: str) -> set[int]:
        """
        Make eight concurrent requests that each take 0.1 seconds, assert
        that each is answered correctly, and say which handlers served them.
        """
        requests = [get(f"{prefix}{n}", 0.1) for n in range(8)]
        results = await self.withTimeout(
            gatherResults([self.get(request.path) for request in requests]),
            15,
            f"answers to {prefix} requests",
        )
        pids: set[int] = set()
        for request, result in zip(requests, results):
            pid = answeredBy(request, result)
            if pid is None:
                self.fail(f"response {result.code} {result.body!r}" + self.transcript())
            pids.add(pid)
        return pids

    @asyncTest
    async def test_frontRestart(self) -> None:
        """
        When the front is stopped and a new one started on the same
        addresses, the two handlers, left running, serve the new front's
        first request within 3 seconds of its C{mpfront ready}, and both
        serve it.
        """
        first = await self.startTaggedFront(label="front-1")
        handlers = [await self.startTaggedHandler(n, first) for n in ("h1", "h2")]
        pids = {h.pid for h in handlers}
        self.assertEqual(await self.pidsServing("before"), pids, self.transcript())
        self.assertCreditsWithin(await self.assertIdle(self.statsPort, "front-1"), 2, "front-1")
        await first.stop()
        self.assertStoppedCleanly(first)
        second = await self.startTaggedFront(label="front-2")
        readyAt = await second.timeOfLine("mpfront ready")
        answeredAt: list[float] = []

        def answered(result: HTTPResult) -> HTTPResult:
            if result.code == 200:
                answeredAt.append(reactor.seconds())
            return result

        probes = [get(f"after{n}") for n in range(4)]
        results = await self.withTimeout(
            gatherResults([self.get(p.path).addCallback(answered) for p in probes]),
            15,
            "the new front's answers",
        )
        for probe, result in zip(probes, results):
            self.assertIn(
                answeredBy(probe, result),
                pids,
                f"response {result.code} {result.body!r}" + self.transcript(),
            )
        self.assertLessEqual(
            min(answeredAt) - readyAt,
            3.0,
            "the first 200 from the new front came too late" + self.transcript(),
        )
        for handler in handlers:
            await self.joined(second, handler.label)
            self.assertIsNone(handler.end, f"{handler.label} exited" + self.transcript())
        self.assertEqual(await self.pidsServing("later"), pids, self.transcript())
        self.assertCreditsWithin(await self.assertIdle(self.statsPort, "front-2"), 2, "front-2")


class FrontKilledTests(ResilienceTestCase):
    """
    A handler whose front is killed for good frees what waited on it.
    """

    timeout = 60

    @asyncTest
    async def test_waitingForBodyCancelled(self) -> None:
        """
        A front killed (C{SIGKILL}) while its client sends a body the
        application waits for does not leave that application thread
        waiting for ever: three heartbeats later the handler, taking the
        front for silent, cancels the request, says so, and its thread
        serves the front that replaces the dead one.
        """
        front = await self.startTaggedFront()
        handler = await self.startTaggedHandler("h1", front, threads=1)
        uploader = await self.connect(RecordingConnection())
        uploader.send(
            b"POST /?token=u1&log=1 HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b"x" * 100000
        )
        await handler.waitForLine("begin POST u1", timeout=10)
        front.signal("KILL")
        await self.withTimeout(front.whenEnded(), 10, "the killed front to end")
        await handler.waitForLine(
            "cancelling 1 requests: they wait for body or window from a silent front",
            timeout=10,
        )
        successor = await self.startTaggedFront(label="front-2")
        await successor.waitForLine(JOINED, timeout=10)
        await self.assertServes(handler, timeout=10)


class SeveralFrontsTests(ResilienceTestCase):
    """
    Handlers that serve two fronts answer each front's requests to it.
    """

    timeout = 60

    async def startFronts(
        self, statsPorts: dict[str, int] | None = None
    ) -> tuple[dict[str, int], dict[str, tuple[str, str]], dict[str, TwistdProcess]]:
        """
        Start fronts C{A} and C{B}, each on its own HTTP port and C{ipc://}
        addresses (and its C{statsPorts} one, if given).

        @return: their HTTP ports, their (send, return) addresses, and the
            fronts, by name.
        """
        ports = {"A": self.httpPort, "B": freePort()}
        addresses = {name: (f"ipc://{name}-send.ipc", f"ipc://{name}-return.ipc") for name in "AB"}
        fronts = {
            name: await self.startFront(
                "--heartbeat",
                str(HEARTBEAT),
                label=f"front-{name}",
                port=ports[name],
                addresses=addresses[name],
                statsPort=None if statsPorts is None else statsPorts[name],
            )
            for name in "AB"
        }
        return ports, addresses, fronts

    @asyncTest
    async def test_twoFrontsShareHandlers(self) -> None:
        """
        Two handlers each serve two fronts, which are both under load: every
        response is the right one (it echoes a token only that front's
        requests carry), both handlers serve both fronts, each handler
        offers each front one of its two threads, and each front's
        statistics count its own requests and nothing else.
        """
        statsPorts = {"A": self.statsPort, "B": freePort()}
        ports, addresses, fronts = await self.startFronts(statsPorts)
        handlers = []
        for name in ("h1", "h2"):
            handler = await self.startHandler(
                name,
                TAGGED,
                "--threads",
                "2",
                "--heartbeat",
                str(HEARTBEAT),
                fronts=[addresses["A"], addresses["B"]],
            )
            handlers.append(handler)
            for front in fronts.values():
                line = await front.waitForLine(re.compile(rf"handler {name} joined"))
                # One thread each, and half of --prefetch.
                self.assertIn(
                    f"with {1 + DEFAULT_PREFETCH // 2} credits (prefetch "
                    f"{DEFAULT_PREFETCH // 2})", line, f"{front.label}: {line}" + self.transcript()
                )
        pids = {h.pid for h in handlers}

        def planFor(name: str) -> Callable[[int], PlannedRequest]:
            return lambda n: get(f"{name}{n}", 0.01, port=ports[name])

        loads = {name: self.startLoad(planFor(name), inFlight=8, total=150) for name in "AB"}
        await self.withTimeout(
            gatherResults([load.whenDone() for load in loads.values()]), 40, "both loads to end"
        )
        for name, load in loads.items():
            self.assertAllServed(load)
            self.assertEqual(
                self.servedPids(load), pids, f"front {name} served by" + self.describe(load)
            )
            stats = await self.assertIdle(statsPorts[name], f"front-{name}")
            self.assertCreditsWithin(stats, 1, f"front-{name}", DEFAULT_PREFETCH // 2)
            counters = stats["stats"]
            self.assertEqual(
                {k: counters[k] for k in ("requests", "replies", "droppedReplies", "badMessages")},
                {"requests": 150, "replies": 150, "droppedReplies": 0, "badMessages": 0},
                f"front-{name} statistics {stats}" + self.transcript(),
            )
            self.assertEqual(
                sorted(h["name"] for h in stats["handlers"]),
                ["h1", "h2"],
                f"front-{name} statistics {stats}" + self.transcript(),
            )


    @asyncTest
    async def test_busyFrontKeepsToItsThreads(self) -> None:
        """
        A handler of two fronts runs each front's requests in that front's
        share of its threads (docs/deployment.md, "Several fronts"): while
        one front keeps it busy with slow requests, and sends it more to
        wait for a thread (C{--prefetch}), the other front's requests are
        answered at once by threads of their own, not after the first
        front's requests waiting in the handler.
        """
        ports, addresses, fronts = await self.startFronts()
        await self.startHandler(
            "h1",
            TAGGED,
            "--threads",
            "4",
            "--prefetch",
            "8",
            "--heartbeat",
            str(HEARTBEAT),
            fronts=[addresses["A"], addresses["B"]],
        )
        for front in fronts.values():
            await front.waitForLine(re.compile(r"handler h1 joined with 6 credits \(prefetch 4\)"))

        def busy(n: int) -> PlannedRequest:
            # Fast requests, which give credit back quickly and so have the
            # front send requests to wait in the handler, and slow ones,
            # which then wait there for front A's two threads.
            return get(f"a{n}", 0 if n % 2 else 1.0, port=ports["A"])

        load = self.startLoad(busy, inFlight=12, total=36)
        await deferLater(reactor, 1.5, lambda: None)
        delays = []
        for n in range(10):
            request = get(f"b{n}", port=ports["B"])
            start = reactor.seconds()
            result = await self.get(request.path, port=ports["B"])
            delays.append(round(reactor.seconds() - start, 3))
            self.assertIsNotNone(
                answeredBy(request, result), f"{result.code} {result.body!r}" + self.describe(load)
            )
        self.assertFalse(load.finished, "front A's load ended too soon" + self.describe(load))
        self.assertLess(
            max(delays), 0.5, f"front B's requests took {delays} s" + self.describe(load)
        )
        await self.withTimeout(load.whenDone(), 40, "front A's load to end")
        self.assertAllServed(load)


class CancelTests(ResilienceTestCase):
    """
    A client that goes away stops the application's work at once.
    """

    timeout = 60

    @asyncTest
    async def test_disconnectClosesIterable(self) -> None:
        """
        A client that disconnects in the middle of a response streamed a
        chunk every 0.1 seconds (for a minute, were it not cancelled) makes
        the handler close the application's iterable within a heartbeat
        interval, and frees the handler's only thread for the next request.
        """
        front = await self.startTaggedFront()
        handler = await self.startTaggedHandler("h1", front, threads=1)
        reader = await self.connect(RecordingConnection())
        reader.send(
            self.rawRequest("GET", "/stream?token=s1&interval=0.1&count=600")
        )
        await self.withTimeout(reader.until(b"chunk 3\n"), 10, "the first chunks")
        disconnectedAt = reactor.seconds()
        await reader.abort()
        line = await handler.waitForLine(
            re.compile(r"stream s1 closed after (\d+) chunks at ([\d.]+)"), timeout=10
        )
        lineAt = await handler.timeOfLine("stream s1 closed")
        chunks, closedAt = re.findall(r"closed after (\d+) chunks at ([\d.]+)", line)[0]
        delay = float(closedAt) - disconnectedAt
        self.assertTrue(
            0 <= delay <= HEARTBEAT,
            f"the iterable was closed {delay:.3f}s after the client disconnected"
            f" (its log line arrived after {lineAt - disconnectedAt:.3f}s)"
            + self.transcript(),
        )
        self.assertLess(int(chunks), 20, "the iterable kept going" + self.transcript())
        await handler.waitForLine("cancelled by the front while running", timeout=5)
        stats = await self.assertIdle(self.statsPort)
        self.assertCreditsWithin(stats, 1)
        self.assertEqual(stats["stats"]["cancelled"], 1, f"statistics {stats}" + self.transcript())
        await self.assertServes(handler, timeout=5)


class RecyclingTests(ResilienceTestCase):
    """
    Handlers spawned by the front and recycled by C{--max-requests} are
    replaced without losing a request.
    """

    timeout = 90

    @asyncTest
    async def test_recycledUnderLoad(self) -> None:
        """
        C{mpfront --spawn 2 --max-requests 50 --max-requests-jitter 10}
        under 300 requests, 10 in flight: every response is a 200 with the
        right body; handlers recycled after 50 to 60 requests, the front
        replaced them as they began draining, and the replacements served.
        """
        front = await self.startTaggedFront(
            "--spawn",
            "2",
            "--app",
            TAGGED,
            "--threads",
            "2",
            "--max-requests",
            "50",
            "--max-requests-jitter",
            "10",
            "--graceful-timeout",
            "10",
        )
        pids: set[int] = set()
        self.addCleanup(lambda: reap(front, pids))
        await front.waitForLine(JOINED, count=2)
        load = self.startLoad(lambda n: get(f"c{n}", 0.005), inFlight=10, total=300)
        await self.withTimeout(load.whenDone(), 60, "300 requests")
        pids.update(self.servedPids(load))
        self.assertAllServed(load)
        recycled = [
            int(count)
            for line in front.lines
            for count in re.findall(r"served (\d+) requests: recycling", line)
        ]
        self.assertTrue(recycled, "no handler recycled" + self.describe(load))
        self.assertTrue(
            all(50 <= count <= 60 for count in recycled),
            f"recycled after {recycled} requests" + self.transcript(),
        )
        self.assertGreaterEqual(
            front.countLines("replacing draining handler"),
            1,
            "no replacement started" + self.transcript(),
        )
        self.assertGreater(len(pids), 2, f"served by {pids}" + self.describe(load))
        self.assertCreditsWithin(await self.assertIdle(self.statsPort), 2)
