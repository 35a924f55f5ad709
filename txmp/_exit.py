# -*- test-case-name: txmp.test.test_tap -*-
"""
How a C{twistd mphandler} process exits: without waiting for threads the
application left running (L{ExitWithoutThreads}), after running its
C{atexit} hooks for L{EXIT_HOOKS_TIMEOUT} at most.  And how either
command gives up when it cannot start: one line logged (L{failToStart}),
its pidfile removed and its launching C{twistd} told (L{leaveTwistd}).

Imported by L{txmp.handlertap} when it parses the options, so as light as
that module.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Container, Iterable
from typing import Any, Callable, NoReturn

from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger

from txmp._defaults import EXIT_HOOKS_TIMEOUT


class StartFailure(SystemExit):
    """
    A process that cannot start, once twistd has begun its log: exits with
    status 1 and prints nothing, since L{failToStart} logged its line.  A
    C{SystemExit} of the line itself would print it to C{sys.stderr},
    which twistd has made a log of level C{error}: C{--log-level critical}
    dropped it, and the process exited 1 without a word.

    @ivar line: the line (also C{str()} of the exception).
    """

    def __init__(self, line: str) -> None:
        SystemExit.__init__(self, line)
        self.line = line
        self.code = 1


def failToStart(log: Logger, line: str) -> NoReturn:
    """
    Log C{line}, which says why this process cannot start, at level
    C{critical}, which C{--log-level} never drops, and exit with it.

    @raise StartFailure: always.
    """
    log.critical("{line}", line=line)
    raise StartFailure(line)


def leaveTwistd(options: object, line: str | None = None) -> None:
    """
    Do what twistd does for a process that fails to start with an
    exception, which it does not do for C{SystemExit} (how txmp gives up
    with one line), nor for an exit by L{os._exit}: remove its pidfile,
    and, given the C{line} saying why it could not start, pass it to the
    C{twistd} that launched this daemon.  Without that, that C{twistd}
    waited for ever for word of the start, and a pidfile naming a dead
    process was left behind.

    @param options: the command's options, whose C{parent} is twistd's
        (none when they were parsed alone, as by a test: then nothing is
        done).
    @param line: why this process could not start; L{None} once it has
        started, when twistd has told its launcher already (and closed the
        pipe, whose number may since name another file).
    """
    twistd = getattr(options, "parent", None)
    if not isinstance(twistd, dict):
        return
    # The pidfile first: the launcher exits as soon as it reads the line,
    # and what runs next (a service manager's restart, a script's) must
    # not find this process's pidfile still there.
    pidfile = twistd.get("pidfile")
    if isinstance(pidfile, str) and pidfile:
        try:
            with open(pidfile, "rb") as f:
                ours = f.read().strip() == b"%d" % (os.getpid(),)
            if ours:
                os.unlink(pidfile)
        except OSError:
            pass
    pipe = twistd.get("statusPipe")
    if line is not None and isinstance(pipe, int):
        # As twistd writes an exception: "1 " and the line, 100 bytes at
        # most (its launcher prints them, then exits with status 1).
        message = ("1 " + line).encode("ascii", "backslashreplace")[:100]
        twistd["statusPipe"] = None
        try:
            os.write(pipe, message)
            os.close(pipe)
        except OSError:
            pass


def lingeringThreads(
    threads: Iterable[threading.Thread],
    main: threading.Thread,
    joined: Container[threading.Thread] = (),
) -> list[threading.Thread]:
    """
    The threads that Python's exit would wait for: alive, not C{main}, and
    not daemons unless in C{joined}.

    @param threads: every thread (L{threading.enumerate}).
    @param main: the main thread (L{threading.main_thread}).
    @param joined: daemon threads that Python's exit joins all the same
        (L{_executorThreads}).
    """
    return [
        t for t in threads
        if t is not main and (not t.daemon or t in joined) and t.is_alive()
    ]


def _executorThreads() -> Container[threading.Thread]:
    """
    The worker threads of the L{concurrent.futures.ThreadPoolExecutor}s of
    this process: daemons, but the exit hook of L{concurrent.futures}
    joins each, so one running a task that never ends would keep the
    process alive for ever.
    """
    module = sys.modules.get("concurrent.futures.thread")
    # (Private: a weak mapping of its threads to their queues, 3.9+.)
    threads = getattr(module, "_threads_queues", None)
    return set(threads.keys()) if threads is not None else ()


def _lingeringNames() -> list[str]:
    return [
        t.name
        for t in lingeringThreads(
            threading.enumerate(), threading.main_thread(), _executorThreads()
        )
    ]


def _nothing() -> None:
    """
    Do nothing.
    """


def _runExitHooks(
    timeout: float = EXIT_HOOKS_TIMEOUT,
    thread: Callable[..., Any] = threading.Thread,
    run: Callable[[], object] | None = None,
    forget: Callable[[], object] | None = None,
) -> bool:
    """
    Run the L{atexit} hooks registered so far (the application's, its
    libraries', L{logging.shutdown}), each once: they are then forgotten,
    so that the interpreter's exit does not run them again.  What one
    raises is printed to C{sys.stderr}, and the others run.

    They run in a thread of their own (a daemon), waited for C{timeout}
    seconds at most: a hook may wait for ever (multiprocessing's joins the
    child processes the application left running), and the handler must
    exit all the same.  Those not run by then are forgotten too.

    @param thread: makes the thread (L{threading.Thread}, or a fake).
    @param run: runs the hooks (L{atexit._run_exitfuncs} by default).
    @param forget: forgets them (L{atexit._clear} by default).
    @return: whether they all ran within C{timeout}.
    """
    # (Private, in CPython and PyPy alike; uWSGI runs the hooks so too.)
    hooks: Callable[[], object] | None = run or getattr(atexit, "_run_exitfuncs", None)
    if hooks is None:
        return True
    ended: list[bool] = []

    def runAll() -> None:
        assert hooks is not None
        hooks()
        ended.append(True)

    runner = thread(target=runAll, name="txmp-atexit-hooks")
    runner.daemon = True
    runner.start()
    runner.join(timeout)
    if not ended:
        if forget is None:
            forget = getattr(atexit, "_clear", _nothing)
        forget()
        return False
    return True


def _registerBeforeJoin(call: Callable[[], None]) -> None:
    """
    Have C{call} called when the interpreter exits, before it joins the
    threads that are not daemons (where L{atexit} would be too late: it
    runs after).  Private in L{threading} (what L{concurrent.futures} uses),
    present in CPython 3.9+ and PyPy 3.9; elsewhere, nothing is done.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        # Registered first, concurrent.futures's hook (which joins its
        # executors' threads, C{_python_exit}) runs after C{call}: the hooks
        # run in the reverse order.  Imported later (by the application),
        # it would run first, and wait for a task that never ends.
        import concurrent.futures.thread  # noqa: F401

        register(call)


class ExitWithoutThreads:
    """
    Lets a C{twistd mphandler} process exit once twistd is done with it,
    without waiting for threads the application started and left running.

    Python's exit waits for every thread that is not a daemon, so one that
    never ends (a background thread started at import or per request)
    would keep a handler that stopped in order (recycled by
    C{--max-requests}, or whose front is gone) alive for ever, deaf to
    C{SIGTERM}.  gunicorn's and uWSGI's workers exit regardless, and so does
    a handler stopped by C{SIGTERM} (twistd kills itself with the signal).
    So, if such threads are left once the interpreter exits, the process
    leaves with L{os._exit}, after twistd has shut down (its log written,
    its pidfile removed).

    Either way, and whether the handler stops by C{SIGTERM} or by itself,
    the L{atexit} hooks registered (by the application and its libraries,
    and L{logging.shutdown}) run once the reactor has stopped, with every
    request finished, while the log is still open, as they run when a
    gunicorn or uWSGI worker exits: twistd kills itself with the signal
    that stopped it, and L{os._exit} leaves, so the interpreter's exit
    would not run them.  The threads of a
    L{concurrent.futures.ThreadPoolExecutor} count too: daemons, but
    joined by that module's own exit hook, which runs after this one.

    @ivar status: the exit status then: 0 once the reactor has run and
        stopped (twistd returns normally), 1 before (the application could
        not be loaded, or twistd failed to start: its message is printed
        already).
    """

    _log = Logger()

    def __init__(
        self,
        lingering: Callable[[], list[str]] | None = None,
        exit: Callable[[int], object] = os._exit,
        registerBeforeJoin: Callable[[Callable[[], None]], None] = _registerBeforeJoin,
        runExitHooks: Callable[[], bool] = _runExitHooks,
    ) -> None:
        """
        @param lingering: the names of the threads Python's exit would wait
            for (by default, L{lingeringThreads} of this process's).
        @param exit: L{os._exit}, or a fake.
        @param registerBeforeJoin: registers a call for the interpreter's
            exit, before it joins threads.
        @param runExitHooks: runs the L{atexit} hooks registered so far,
            and forgets them; returns whether they ended in time.
        """
        self._name = ""
        self._lingering = lingering or _lingeringNames
        self._exit = exit
        self._registerBeforeJoin = registerBeforeJoin
        self._runExitHooks = runExitHooks
        self.status = 1

    def install(self) -> None:
        """
        Watch for the interpreter's exit.  Called before the application is
        imported: one that starts a thread, then fails to import, leaves it.
        """
        self._registerBeforeJoin(self.interpreterExiting)

    def watch(self, reactor: IReactorCore, name: str) -> None:
        """
        Watch for the end of C{reactor}, the handler's, which serves as
        C{name}.
        """
        self._name = name
        reactor.addSystemEventTrigger("after", "shutdown", self.reactorStopped)

    def reactorStopped(self) -> None:
        """
        The reactor has stopped: run the L{atexit} hooks (which may end
        threads they started), then log the threads the process will not
        wait for, while the log is still open.  Called in the reactor
        thread.
        """
        self.status = 0
        if not self._runExitHooks():
            self._log.warn(
                "mphandler {name}: the application's atexit hooks still ran after "
                "{seconds} s: exiting without waiting for them",
                name=self._name, seconds=EXIT_HOOKS_TIMEOUT,
            )
        lingering = self._lingering()
        if lingering:
            self._log.warn(
                "mphandler {name}: exiting without waiting for {count} threads "
                "the application left running: {threads}",
                name=self._name, count=len(lingering), threads=" ".join(lingering),
            )

    def interpreterExiting(self) -> None:
        """
        The interpreter is exiting and about to wait for the threads that
        are not daemons: if there are any, run the L{atexit} hooks not run
        yet (the reactor never ran: the application could not be loaded),
        and exit now instead.  Called in the main thread.
        """
        if self._lingering():
            self._runExitHooks()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass  # Closed, or its reader gone: nothing to save.
            self._exit(self.status)


__all__ = ["ExitWithoutThreads", "lingeringThreads"]
