# -*- test-case-name: txmp.test.test_lossstate,txmp.test.test_httporacle -*-
"""
How txmp's property tests (hypothesis) run: the same cases every run.

This is not a test module: it holds no test, and test modules import it
(as they may not import each other).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

#: The settings every property test starts from, giving its own
#: C{max_examples} (and a state machine its C{stateful_step_count}):
#: derandomised (the cases come from the test's seed, or its name), with no
#: example database (nothing carried from one run to the next), no deadline
#: (a loaded machine or PyPy's warm-up is no failure), and no health check
#: (the strategies are large on purpose: a slow or filtered one is meant).
REPRODUCIBLE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
