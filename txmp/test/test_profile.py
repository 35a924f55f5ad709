# -*- test-case-name: txmp.test.test_profile -*-
"""
Tests for L{txmp._profile}, and for the handler's use of it.
"""

from __future__ import annotations

import cProfile
import pstats
from typing import TYPE_CHECKING, Callable

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


def stoppedWhileRunning(
    profiler: Profiler, path: str, laterPath: str
) -> tuple[int, list[str], list[str]]:
    """
    Profile a request that stops the profiler (to C{path}) and starts it
    again as it runs, then another, then stop (to C{laterPath}).

    @return: the requests the second profile counted, and the functions of
        each file.
    """
    profiler.start()

    def request() -> None:
        distinctiveRequestWork()
        profiler.stop(path)
        profiler.start()

    profiler.runProfiled(request)
    profiler.runProfiled(otherWork)
    counted = profiler.stop(laterPath)
    return counted, functions(path), functions(laterPath)


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


if TYPE_CHECKING:
    # What the mixin is mixed into; at run time a plain class, so that
    # trial finds no test in it.
    _TestCase = SynchronousTestCase
else:
    _TestCase = object


class ProfilerTestsMixin(_TestCase):
    """
    What a L{Profiler} does whichever profiles it makes: a case's C{setUp}
    sets C{profiler} and C{path}, where its profile is written.
    """

    profiler: Profiler
    path: str

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


class ProfilerTests(ProfilerTestsMixin, SynchronousTestCase):
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
        counted, first, later = stoppedWhileRunning(self.profiler, self.path, self.mktemp())
        self.assertEqual(counted, 1)
        self.assertNotIn("distinctiveRequestWork", first)
        self.assertNotIn("distinctiveRequestWork", later)
        self.assertIn("otherWork", later)

    def test_startTwice(self) -> None:
        """
        Starting an active profiler is an error.
        """
        self.profiler.start()
        self.addCleanup(self.profiler.stop, self.path)
        self.assertRaises(RuntimeError, self.profiler.start)



class ExclusiveProfilerTests(ProfilerTestsMixin, SynchronousTestCase):
    """
    Tests for L{Profiler} where no second profile may be enabled beside the
    first, which sees every thread (CPython 3.12 and later): profiles made
    by L{exclusiveProfiles}, on any Python.
    """

    def setUp(self) -> None:
        self.profiler = Profiler(exclusiveProfiles())
        self.path = FilePath(self.mktemp()).path

    def test_runningAtStopNotCounted(self) -> None:
        """
        A request still running when profiling stops is counted in neither
        this profile nor the next; what it ran before the stop is in this
        one's file, as everything every thread ran.
        """
        counted, first, later = stoppedWhileRunning(self.profiler, self.path, self.mktemp())
        self.assertEqual(counted, 1)
        self.assertIn("distinctiveRequestWork", first)
        self.assertNotIn("distinctiveRequestWork", later)
        self.assertIn("otherWork", later)
