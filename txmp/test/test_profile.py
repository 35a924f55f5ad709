# -*- test-case-name: txmp.test.test_profile -*-
"""
Tests for L{txmp._profile}, and for the handler's use of it.
"""

from __future__ import annotations

import cProfile
import pstats
from typing import Callable

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txmp._profile import Profiler


def distinctiveRequestWork() -> int:
    """
    A function whose name a profile can be searched for.
    """
    return sum(range(100))


def otherWork() -> int:
    """
    Another one.
    """
    return sum(range(10))


def functions(path: str) -> list[str]:
    """
    The names of the functions a pstats file holds.
    """
    stats = pstats.Stats(path)
    return [name for (_, _, name) in stats.stats]  # type: ignore[attr-defined]


def exclusiveProfiles() -> Callable[[], cProfile.Profile]:
    """
    Make profiles that, as those of CPython 3.12 and later (on
    C{sys.monitoring}), may not be enabled while another is: C{ValueError}.
    The tests run in one thread, which a profile sees wherever it runs.
    """
    enabled: list[cProfile.Profile] = []

    class ExclusiveProfile(cProfile.Profile):
        def enable(self, *args: bool, **kwargs: bool) -> None:
            if enabled and enabled[0] is not self:
                raise ValueError("Another profiling tool is already active")
            cProfile.Profile.enable(self, *args, **kwargs)
            enabled[:] = [self]

        def disable(self) -> None:
            cProfile.Profile.disable(self)
            if enabled and enabled[0] is self:
                enabled.clear()

    return ExclusiveProfile


class ProfilerTests(SynchronousTestCase):
    """
    Tests for L{Profiler}.  The "application threads" are this thread:
    L{Profiler.runProfiled} is what runs in one.
    """

    def setUp(self) -> None:
        self.profiler = Profiler()
        self.path = FilePath(self.mktemp()).path

    def test_inactive(self) -> None:
        """
        A new profiler is not active; stopping it is an error.
        """
        self.assertFalse(self.profiler.active)
        self.assertRaises(RuntimeError, self.profiler.stop, self.path)

    def test_requestsProfiled(self) -> None:
        """
        Between L{Profiler.start} and L{Profiler.stop}, what is run through
        L{Profiler.runProfiled} is in the file written, which C{pstats}
        reads; the count of requests is returned.
        """
        self.profiler.start()
        self.assertTrue(self.profiler.active)
        self.profiler.runProfiled(distinctiveRequestWork)
        self.profiler.runProfiled(distinctiveRequestWork)
        self.assertEqual(self.profiler.stop(self.path), 2)
        self.assertFalse(self.profiler.active)
        self.assertIn("distinctiveRequestWork", functions(self.path))

    def test_failingRequest(self) -> None:
        """
        A request that raises is profiled too, and the exception goes on.
        """
        self.profiler.start()
        self.assertRaises(ZeroDivisionError, self.profiler.runProfiled, lambda: 1 / 0)
        self.assertEqual(self.profiler.stop(self.path), 1)

    def test_runningAtStopLeftOut(self) -> None:
        """
        A request still running when profiling stops is left out of this
        profile and of the next one.
        """
        if self.profiler._profilesAllThreads():
            raise SkipTest(
                "one profile sees every thread (CPython 3.12 and later): "
                "see ExclusiveProfilerTests"
            )
        self.profiler.start()
        later = FilePath(self.mktemp()).path

        def request() -> None:
            distinctiveRequestWork()
            self.profiler.stop(self.path)
            self.profiler.start()

        self.profiler.runProfiled(request)
        self.profiler.runProfiled(otherWork)
        self.assertEqual(self.profiler.stop(later), 1)
        self.assertNotIn("distinctiveRequestWork", functions(self.path))
        self.assertNotIn("distinctiveRequestWork", functions(later))
        self.assertIn("otherWork", functions(later))

    def test_startTwice(self) -> None:
        """
        Starting an active profiler is an error.
        """
        self.profiler.start()
        self.addCleanup(self.profiler.stop, self.path)
        self.assertRaises(RuntimeError, self.profiler.start)



class ExclusiveProfilerTests(SynchronousTestCase):
    """
    Tests for L{Profiler} where no second profile may be enabled beside the
    first, which sees every thread (CPython 3.12 and later): profiles made
    by L{exclusiveProfiles}, on any Python.
    """

    def setUp(self) -> None:
        self.profiler = Profiler(exclusiveProfiles())
        self.path = FilePath(self.mktemp()).path

    def test_requestsProfiled(self) -> None:
        """
        What is run through L{Profiler.runProfiled} is in the file written
        and counted, no profile of its own enabled (which would raise
        C{ValueError}: on CPython 3.12 every request failed while a handler
        profiled).
        """
        self.profiler.start()
        self.profiler.runProfiled(distinctiveRequestWork)
        self.profiler.runProfiled(distinctiveRequestWork)
        self.assertEqual(self.profiler.stop(self.path), 2)
        self.assertFalse(self.profiler.active)
        self.assertIn("distinctiveRequestWork", functions(self.path))

    def test_failingRequest(self) -> None:
        """
        A request that raises is counted, and the exception goes on.
        """
        self.profiler.start()
        self.assertRaises(ZeroDivisionError, self.profiler.runProfiled, lambda: 1 / 0)
        self.assertEqual(self.profiler.stop(self.path), 1)

    def test_runningAtStopNotCounted(self) -> None:
        """
        A request still running when profiling stops is counted in neither
        this profile nor the next; what it ran before the stop is in this
        one's file, as everything every thread ran.
        """
        self.profiler.start()
        later = FilePath(self.mktemp()).path

        def request() -> None:
            distinctiveRequestWork()
            self.profiler.stop(self.path)
            self.profiler.start()

        self.profiler.runProfiled(request)
        self.profiler.runProfiled(otherWork)
        self.assertEqual(self.profiler.stop(later), 1)
        self.assertIn("distinctiveRequestWork", functions(self.path))
        self.assertNotIn("distinctiveRequestWork", functions(later))
        self.assertIn("otherWork", functions(later))

    def test_startAgain(self) -> None:
        """
        Profiling starts again after it stopped, each file with its own.
        """
        self.profiler.start()
        self.profiler.runProfiled(distinctiveRequestWork)
        self.assertEqual(self.profiler.stop(self.path), 1)
        later = FilePath(self.mktemp()).path
        self.profiler.start()
        self.profiler.runProfiled(otherWork)
        self.assertEqual(self.profiler.stop(later), 1)
        self.assertNotIn("distinctiveRequestWork", functions(later))
        self.assertIn("otherWork", functions(later))
