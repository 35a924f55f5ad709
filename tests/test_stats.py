# -*- test-case-name: tests.test_stats -*-
"""
The front's C{--stats} endpoint as orchestrators and Prometheus use it:
C{/healthz}, C{/readyz} and C{/metrics}, none of them logged.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from txmp._accept import defaultMaxConnections, raiseFileLimit
from txmp._defaults import DEFAULT_PREFETCH

from ._harness import SystemTestCase, asyncTest, freePort
from .apps import hello


class StatsEndpointTests(SystemTestCase):
    """
    A front with C{--stats}, before and after a handler joins.
    """

    @asyncTest
    async def test_probesAndMetrics(self) -> None:
        """
        C{/healthz} is 200 at once; C{/readyz} is 503 until a handler joins,
        then 200; C{/metrics} counts the requests served, by status; the
        probes are not logged.
        """
        statsPort = freePort()
        front = await self.startFront(statsPort=statsPort)
        self.assertEqual((await self.get("/healthz", port=statsPort)).code, 200)
        notReady = await self.get("/readyz", port=statsPort)
        self.assertEqual(notReady.code, 503, self.transcript())
        await self.startHandler("h1", "tests.apps.hello:app", front=front)
        self.assertEqual((await self.get("/readyz", port=statsPort)).code, 200)
        for path in ["/", "/a", "/b"]:
            self.assertResponse(await self.get(path), 200, hello.BODY)
        result = await self.get("/metrics", port=statsPort)
        self.assertEqual(result.code, 200, self.transcript())
        values = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(result.body.decode("utf-8"))
            for sample in family.samples
        }
        self.assertEqual(values[("txmp_requests_total", (("status", "200"),))], 3)
        self.assertEqual(values[("txmp_handlers", ())], 1)
        self.assertEqual(values[("txmp_request_duration_seconds_count", ())], 3)
        # The front raised its open files limit as far as this process could
        # (it inherits this process's limits), and follows it.
        _, fileLimit = raiseFileLimit(setrlimit=lambda which, limits: None)
        self.assertEqual(
            values[("txmp_client_connections_limit", ())], defaultMaxConnections(fileLimit)
        )
        for probe in ["healthz", "readyz", "metrics"]:
            self.assertEqual(front.countLines(probe), 0, self.transcript())


    @asyncTest
    async def test_probesWhileStopping(self) -> None:
        """
        Through a graceful stop (SIGTERM with a request in progress), the
        C{--stats} port still answers: C{/healthz} 200, C{/readyz} 503 (the
        front takes no new connection), C{/metrics} 200; it closes with the
        front, once the request is answered.  It closed at the SIGTERM, so
        that a liveness probe failed during the stop and the stop's last
        requests were never scraped.
        """
        statsPort = freePort()
        front = await self.startFront(statsPort=statsPort)
        handler = await self.startHandler("h1", "tests.apps.slow:app", front=front)
        # Held until the probes are done: the port closes once it is
        # answered.
        target, release = self.heldRequest()
        slow = self.get(target)
        await handler.waitForLine("slow request started: GET")
        front.signal("TERM")
        await front.waitForLine("mpfront stopping: finishing 1 requests")
        self.assertEqual((await self.get("/healthz", port=statsPort)).code, 200)
        ready = await self.get("/readyz", port=statsPort)
        self.assertEqual(
            (ready.code, ready.body), (503, b"not ready: the front is stopping\n"),
            self.transcript(),
        )
        self.assertEqual((await self.get("/metrics", port=statsPort)).code, 200)
        release()
        self.assertResponse(await slow, 200, b"slow\n")
        await front.whenEnded()
        self.assertStoppedCleanly(front)


class CreditTests(SystemTestCase):
    """
    Credits come back to the front however requests end.
    """

    @asyncTest
    async def test_clientsVanish(self) -> None:
        """
        After a burst of requests whose clients close their connections at
        once (as a load generator does when it stops), the front still has
        all of its handler's credits (its threads and its prefetch), and
        serves.
        """
        statsPort = freePort()
        front = await self.startFront("--queue-timeout", "3", statsPort=statsPort)
        await self.startHandler("h1", "tests.apps.hello:app", front=front)
        for _ in range(5):
            clients = [await self.rawConnection() for _ in range(50)]
            for client in clients:
                client.send(self.rawRequest("GET", "/") * 5)
            # Some answers are on their way back as their clients leave.
            await self.get("/")
            for client in clients:
                client.abort()
        for _ in range(10):
            self.assertResponse(await self.get("/"), 200, hello.BODY)
        # (A cancelled request's credit comes back by CREDIT, after the
        # front forgot the request.)
        await self.assertIdle(statsPort, credits=[4 + DEFAULT_PREFETCH])
