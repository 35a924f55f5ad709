# -*- test-case-name: tests.test_events -*-
"""
Responses held open, as server-sent events are (docs/deployment.md,
"Server-sent events and long polling"): a stream that sends a heartbeat
more often than C{--timeout} lasts longer than it, one silent for
C{--timeout} is cut, and a client that leaves between two events has its
stream closed at the next one, the handler saying so without a warning.
"""

from __future__ import annotations

import time

from ._harness import RecordingConnection, SystemTestCase, asyncTest

EVENTS = "tests.apps.events:app"


class EventStreamTests(SystemTestCase):
    """
    L{tests.apps.events} behind a front and a handler.
    """

    timeout = 60

    @asyncTest
    async def test_heartbeatOutlastsTimeout(self) -> None:
        """
        A stream whose events come 2.5 s apart, with a comment every 0.4 s
        between them, outlasts the front's C{--timeout 1}: its client gets
        every event and the end of the response.
        """
        await self.startFrontAndHandler(EVENTS, frontArguments=["--timeout", "1"])
        started = time.monotonic()
        result = await self.get("/events?count=2&gap=2.5&heartbeat=0.4")
        elapsed = time.monotonic() - started
        self.assertResponse(result, 200)
        self.assertIn(b"data: event 1\n\n", result.body, self.transcript())
        self.assertTrue(
            result.body.endswith(b"data: event 2\n\n"), repr(result.body) + self.transcript()
        )
        self.assertIn(b": keep-alive\n\n", result.body)
        self.assertGreater(elapsed, 2.4)

    @asyncTest
    async def test_silenceCut(self) -> None:
        """
        A stream silent for the front's C{--timeout} (1 s; 3 s between
        events) is cut: its client's connection is closed after the first
        event, about a second later, without the second.
        """
        await self.startFrontAndHandler(EVENTS, frontArguments=["--timeout", "1"])
        client = await self.connect(RecordingConnection())
        client.send(self.rawRequest("GET", "/events?count=2&gap=3"))
        await self.withTimeout(client.until(b"data: event 1\n\n"), 10, "the first event")
        started = time.monotonic()
        await self.withTimeout(client.closed, 10, "the front to cut the stream")
        self.assertLess(time.monotonic() - started, 2.5, self.transcript())
        self.assertNotIn(b"event 2", client.received)

    @asyncTest
    async def test_clientGoneBetweenEvents(self) -> None:
        """
        A client that leaves a stream whose events are 7 s apart: its
        stream is closed when the next event comes (its C{finally} runs),
        and the handler, 5 s after the front cancelled it, logs at info
        level that it waits for that event, with where: not the warning of
        an application that does not return.
        """
        _front, handler = await self.startFrontAndHandler(EVENTS)
        client = await self.connect(RecordingConnection())
        client.send(self.rawRequest("GET", "/events?count=3&gap=7"))
        await self.withTimeout(client.until(b"data: event 1\n\n"), 10, "the first event")
        await client.abort()
        line = await handler.waitForLine("still running 5 s after the front cancelled it")
        self.assertIn("[txmp._handler.FrontLink#info]", line, self.transcript())
        self.assertIn(
            "its response streams, and its next chunk (yielded, or given to write()), "
            "which ends it, has not come",
            line,
            self.transcript(),
        )
        await handler.waitForLine("time.sleep(max(0.0, due - time.monotonic()))")
        await handler.waitForLine("events stream closed after event 2", timeout=10)
        self.assertEqual(
            handler.countLines("the application does not return"), 0, self.transcript()
        )
