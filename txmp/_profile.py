# -*- test-case-name: txmp.test.test_profile -*-
"""
Profiling a running handler: its reactor thread and every request its WSGI
threads run, into one file that C{pstats} (and tools built on it, such as
snakeviz or gprof2dot) reads.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
from typing import Callable


class Profiler:
    """
    Profiles the reactor thread, and each request run through
    L{runProfiled} in the application threads, between L{start} and
    L{stop}.

    Each request gets a profile of its own, enabled in its thread while it
    runs: C{cProfile} profiles only the thread that enables it, and the
    pool's threads are already running when profiling starts.  A request
    still running when profiling stops is left out.

    Except where one profile sees every thread and no second may be enabled
    beside it (CPython 3.12 and later, whose C{cProfile} runs on
    C{sys.monitoring}: C{ValueError}, "Another profiling tool is already
    active"): there the reactor thread's profile is the only one, and the
    file holds what every thread ran between L{start} and L{stop}, the part
    of a request running at either end included; such a request is not
    counted.  L{start} finds out which, each time.

    @ivar active: whether profiling is on; read in the reactor thread to
        decide whether a request is run through L{runProfiled}.
    """

    def __init__(self, newProfile: Callable[[], cProfile.Profile] = cProfile.Profile) -> None:
        self.active = False
        self._newProfile = newProfile
        self._lock = threading.Lock()
        self._finished: list[cProfile.Profile] = []
        # Requests run while one profile sees every thread (see above).
        self._counted = 0
        self._allThreads = False
        self._generation = 0
        self._reactorProfile: cProfile.Profile | None = None

    def start(self) -> None:
        """
        Start profiling.  Called in the reactor thread.
        """
        if self.active:
            raise RuntimeError("already profiling")
        with self._lock:
            self._finished = []
            self._counted = 0
            self._generation += 1
        self._allThreads = self._profilesAllThreads()
        self._reactorProfile = self._newProfile()
        self._reactorProfile.enable()
        self.active = True

    def _profilesAllThreads(self) -> bool:
        """
        Whether a profile enabled now would see every thread, as no second
        profile may be enabled beside it.  (Not found with the reactor
        thread's own: where a profile sees one thread, a second enabled in
        that thread would take its place.)
        """
        first = self._newProfile()
        first.enable()
        try:
            second = self._newProfile()
            try:
                second.enable()
            except ValueError:
                return True
            second.disable()
            return False
        finally:
            first.disable()

    def runProfiled(self, f: Callable[[], object]) -> None:
        """
        Call C{f} with a profile of its own enabled in this thread (none
        where the reactor thread's sees every thread).  Called in an
        application thread.
        """
        generation = self._generation
        if self._allThreads:
            try:
                f()
            finally:
                with self._lock:
                    if generation == self._generation:
                        self._counted += 1
            return
        profile = self._newProfile()
        profile.enable()
        try:
            f()
        finally:
            profile.disable()
            with self._lock:
                if generation == self._generation:
                    self._finished.append(profile)

    def stop(self, path: str) -> int:
        """
        Stop profiling and write what was profiled to C{path}, in
        C{pstats}'s format.  Called in the reactor thread.

        @return: how many requests the file covers.
        @raise OSError: if the file cannot be written.
        """
        if not self.active or self._reactorProfile is None:
            raise RuntimeError("not profiling")
        self.active = False
        self._reactorProfile.disable()
        with self._lock:
            finished, self._finished = self._finished, []
            counted, self._counted = self._counted, 0
            self._generation += 1
        stats = pstats.Stats(self._reactorProfile)
        for profile in finished:
            try:
                stats.add(profile)
            except TypeError:
                # pstats refuses a profile that recorded no call.
                pass
        self._reactorProfile = None
        stats.dump_stats(path)
        return len(finished) + counted
