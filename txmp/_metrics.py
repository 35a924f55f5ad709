# -*- test-case-name: txmp.test.test_metrics -*-
"""
The front's metrics, and their Prometheus text exposition (format 0.0.4).

Counting costs the request path a few additions per request: a request's
status, duration and bytes are counted once, when its access-log line would
be written (L{txmp._front.FrontFactory.requestDone}), and its queue wait when it is
dispatched.  Everything else (queue length, handlers, credits) is read from
the dispatcher when scraped.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Callable

from txmp._peerlog import idText

if TYPE_CHECKING:
    # (Only for types: the dispatcher counts with this module's Histogram.)
    from txmp._dispatch import Dispatcher, PendingRequest
    from txmp._registry import HandlerState

# Seconds: from well under a millisecond (hello world) to --timeout.
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0,
)
QUEUE_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    """
    Counts of observations at or below each bound, as Prometheus's
    cumulative buckets are computed from (when exposed, not per
    observation).
    """

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        # One more for +Inf.
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0
        self._zeroBucket = bisect_left(self.bounds, 0.0)

    def observe(self, value: float) -> None:
        """
        Count one observation of C{value}.
        """
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def observeZero(self) -> None:
        """
        Count one observation of 0, as L{observe} would, for less: the
        queue wait of every request dispatched at once (about 0.1 us less
        per request on CPython).
        """
        self.counts[self._zeroBucket] += 1
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """
        The C{le} label and cumulative count of every bucket, C{+Inf} last.
        """
        total = 0
        result = []
        for bound, count in zip([*self.bounds, math.inf], self.counts):
            total += count
            result.append(("+Inf" if bound == math.inf else repr(float(bound)), total))
        return result


class FrontMetrics:
    """
    What the front counts per finished request.

    @ivar statuses: finished requests by status code.
    @ivar duration: seconds from a request's head to its end.
    @ivar bytesIn: request body bytes received.
    @ivar bytesOut: response body bytes sent.
    @ivar connections: client connections open now.
    @ivar connectionLimit: the C{--max-connections} in force, once known.
    """

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.duration = Histogram(DURATION_BUCKETS)
        self.bytesIn = 0
        self.bytesOut = 0
        self.connections = 0
        self.connectionLimit: int | None = None

    def requestFinished(
        self, status: int, duration: float, bytesIn: int, bytesOut: int
    ) -> None:
        """
        A request ended, answered with C{status}.
        """
        self.statuses[status] += 1
        self.duration.observe(duration)
        self.bytesIn += bytesIn
        self.bytesOut += bytesOut


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    escaped = (
        '%s="%s"' % (k, v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"'))
        for k, v in labels.items()
    )
    return "{" + ",".join(escaped) + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help: str) -> None:
        self.lines.append(f"# HELP {name} {help}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Mapping[str, str] = {}) -> None:
        self.lines.append(f"{name}{_labels(labels)} {float(value)!r}")

    def histogram(self, name: str, help: str, histogram: Histogram) -> None:
        self.family(name, "histogram", help)
        for le, count in histogram.cumulative():
            self.sample(name + "_bucket", count, {"le": le})
        self.sample(name + "_sum", histogram.sum)
        self.sample(name + "_count", histogram.count)


def exposition(dispatcher: Dispatcher, metrics: FrontMetrics) -> bytes:
    """
    The front's metrics in the Prometheus text format.

    @param dispatcher: the front's L{txmp._dispatch.Dispatcher}.
    """
    w = _Writer()
    w.family("txmp_requests_total", "counter", "Finished requests by status.")
    for status, count in sorted(metrics.statuses.items()):
        w.sample("txmp_requests_total", count, {"status": str(status)})
    w.histogram(
        "txmp_request_duration_seconds",
        "Seconds from a request's head to its end.",
        metrics.duration,
    )
    w.histogram(
        "txmp_queue_wait_seconds",
        "Seconds each wait in the queue for a handler with capacity lasted.",
        dispatcher.queueWait,
    )
    w.family("txmp_request_body_bytes_total", "counter", "Request body bytes received.")
    w.sample("txmp_request_body_bytes_total", metrics.bytesIn)
    w.family("txmp_response_body_bytes_total", "counter", "Response body bytes sent.")
    w.sample("txmp_response_body_bytes_total", metrics.bytesOut)
    w.family("txmp_client_connections", "gauge", "Client connections open.")
    w.sample("txmp_client_connections", metrics.connections)
    if metrics.connectionLimit is not None:
        w.family(
            "txmp_client_connections_limit", "gauge",
            "Client connections at which the front stops accepting (--max-connections).",
        )
        w.sample("txmp_client_connections_limit", metrics.connectionLimit)
    counts = dispatcher.counts()
    gauges: Iterable[tuple[str, str, str]] = [
        ("txmp_queue_length", "queued", "Requests waiting for a handler."),
        ("txmp_pending_requests", "pending", "Requests submitted and not yet ended."),
        ("txmp_in_flight_requests", "inFlight", "Requests sent to handlers, not answered."),
        ("txmp_handlers", "handlers", "Handlers registered."),
        ("txmp_credits", "credits", "Requests the handlers can take now."),
    ]
    for name, key, help in gauges:
        w.family(name, "gauge", help)
        w.sample(name, counts[key])
    stats: dict[str, int] = dispatcher.stats
    w.family("txmp_retries_total", "counter", "Requests sent again to another handler.")
    w.sample("txmp_retries_total", stats.get("retried", 0))
    w.family("txmp_timeouts_total", "counter", "Requests answered 504 (--timeout).")
    w.sample("txmp_timeouts_total", stats.get("status504", 0))
    w.family(
        "txmp_front_events_total", "counter",
        "The front's event counts, as in its JSON stats.",
    )
    for key, value in sorted(stats.items()):
        w.sample("txmp_front_events_total", value, {"event": key})
    handlers = list(dispatcher.handlers.values())
    perHandler: list[tuple[str, str, Callable[[HandlerState[PendingRequest]], int]]] = [
        ("txmp_handler_credits", "Requests this handler can take now.",
         lambda h: h.credits),
        ("txmp_handler_in_flight_requests",
         "Requests this handler has, running or waiting for a thread.",
         lambda h: len(h.inFlight)),
        ("txmp_handler_prefetch",
         "Of this handler's credits, how many are for requests that wait for a "
         "thread (its --prefetch): credits at or below it, every thread is busy.",
         lambda h: h.prefetch),
        ("txmp_handler_draining", "1 if this handler is draining.",
         lambda h: int(h.draining)),
    ]
    for name, help, measure in perHandler:
        w.family(name, "gauge", help)
        for handler in handlers:
            # Two handlers may share a --name: the routing id tells them apart.
            w.sample(name, measure(handler), {
                "handler": handler.name,
                "id": idText(handler.identity),
            })
    return ("\n".join(w.lines) + "\n").encode("utf-8")
