# -*- test-case-name: txmp.test.test_tap -*-
"""
Tests for L{txmp.fronttap}, L{txmp.handlertap}, L{txmp._options} and the
twistd plugins that name the taps.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import errno
import functools
import importlib
import io
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Callable as CallableABC
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union, cast, get_args, get_origin, get_type_hints

import twisted.internet
import zmq
from twisted.application.service import IServiceCollection, MultiService, Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError, ProcessDone, ProcessTerminated
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogEvent, Logger, LoggingFile, LogLevel, capturedLogs, formatEvent
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.runner.procmon import ProcessMonitor
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import txmp
from twisted.plugins import txmp_plugins
from txmp import _defaults, _exit, _frontservice, _handlerservice, demo, fronttap, handlertap
from txmp import _logs as logs
from txmp._accept import withBacklog
from txmp._access import AccessLog
from txmp._defaults import (
    DEFAULT_MAX_MESSAGE,
    DEFAULT_TIMEOUT,
    MAX_FRAME,
    MIN_HEARTBEAT,
    MIN_MAX_MESSAGE,
    SILENT_KILL_HEARTBEATS,
    SPAWN_OUTPUT_GRACE,
    SPAWN_RESTART_MAX_DELAY,
)
from txmp._dispatch import Dispatcher
from txmp._interfaces import IFrontReactor, IHandlerReactor
from txmp._options import IPC_PATH_MAX, _Number, checkNotRunning, positive, readConfig
from txmp._pool import WorkerPool, shareOut
from txmp._signals import ForkedChildSignals, SignalActions
from txmp._wsgi import Application, Mounted, WSGIRunner
from txmp._zmq import createKeyPair, loadKeyPair
from txmp.protocol import MAX_INT, encodeWelcome
from txmp.testing import (
    FakeProcess,
    FakeReactor,
    FakeThread,
    FakeTwistdOptions,
    MemoryNetwork,
    MemorySocket,
    SynchronousThreadPool,
)

APPS = "txmp_test_tap_apps"


def wsgiApp(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
    """
    A WSGI application.
    """
    startResponse("200 OK", [])
    return [b""]


def makeApp() -> Any:
    """
    A factory of WSGI applications.
    """
    return wsgiApp


def configuredApp(*arguments: object, **keywords: object) -> Any:
    """
    A factory of WSGI applications that takes arguments: the application
    it makes carries them.
    """

    def app(environ: Any, startResponse: Any) -> list[bytes]:
        return wsgiApp(environ, startResponse)

    app.made = (arguments, keywords)  # type: ignore[attr-defined]
    return app


def brokenFactory() -> Any:
    """
    A factory that fails.
    """
    raise RuntimeError("no database")


def makeNotCallable() -> Any:
    """
    A factory of something that is no WSGI application.
    """
    return 42


def exitingFactory() -> Any:
    """
    A factory that exits, as an application does that finds its
    configuration missing.
    """
    sys.exit("DATABASE_URL is not set")


def reopenFailureLines(
    case: SynchronousTestCase, module: types.ModuleType, service: Any, error: OSError
) -> list[str]:
    """
    The lines C{service.reopenLogs()} (SIGUSR1) logs when C{module}'s
    C{reopenLogFiles} raises C{error} (patched for C{case}), each checked
    to be at level C{error}.
    """

    def reopenLogFiles() -> None:
        raise error

    case.patch(module, "reopenLogFiles", reopenLogFiles)
    with capturedLogs() as events:
        service.reopenLogs()
    case.assertEqual({e["log_level"] for e in events}, {LogLevel.error})
    return [formatEvent(e) for e in events]


def reopenFailureLine(command: str, path: str, why: str) -> str:
    """
    What C{command} says of a log file C{path} SIGUSR1 could not open again.
    """
    return (
        f"{command}: cannot reopen {path}: {why}; its lines go on to the file open "
        f"until now (where logrotate moved it?): make {path} a file this "
        "process's user can create or write, then send SIGUSR1 again"
    )


class OptionsTestCase(SynchronousTestCase):
    """
    Tests of a tap's options: L{optionsClass}.
    """

    optionsClass: type[usage.Options]

    def parse(self, *args: str) -> Any:
        """
        Parse C{args} as C{twistd} would.
        """
        options = self.optionsClass()
        options.parseOptions(list(args))
        return options


class FrontOptionsTests(OptionsTestCase):
    """
    Tests for L{fronttap.Options}.
    """

    optionsClass = fronttap.Options

    def test_defaults(self) -> None:
        """
        Without arguments, the front listens for HTTP on port 8080, binds
        its send and return sockets on the loopback ports 5556 and 5555, and
        has the documented timeouts, queue size and heartbeat.
        """
        options = self.parse()
        self.assertEqual(options["listen"], ["tcp:8080"])
        self.assertEqual(options["send"], "tcp://127.0.0.1:5556")
        self.assertEqual(options["return"], "tcp://127.0.0.1:5555")
        self.assertEqual(options["timeout"], 30)
        self.assertEqual(options["queue-timeout"], 10)
        self.assertEqual(options["max-queue"], 1000)
        self.assertEqual(options["heartbeat"], 1)
        self.assertEqual(options["spawn"], 0)
        self.assertIsNone(options["app"])
        self.assertIsNone(options["threads"])

    def test_trustedProxy(self) -> None:
        """
        C{--trusted-proxy} takes addresses and networks of both families,
        repeated.
        """
        options = self.parse("--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.0.2.7",
                             "--trusted-proxy", "2001:db8::/32")
        self.assertEqual(
            [str(network) for network in options["trusted-proxy"]],
            ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"],
        )

    def test_trustedProxyHostBits(self) -> None:
        """
        A network with host bits set (C{10.0.0.1/8}), which was trusted as
        the whole network C{10.0.0.0/8} in silence (a slip for one host's
        address trusted sixteen million), is a usage error naming both
        readings; what is no address is said so.
        """
        for given, said in [
            ("10.0.0.1/8", "--trusted-proxy 10.0.0.1/8 has host bits set: "
                           "write 10.0.0.0/8 for the network, or 10.0.0.1 for the one address"),
            ("2001:db8::7/32", "--trusted-proxy 2001:db8::7/32 has host bits set: "
                               "write 2001:db8::/32 for the network, or 2001:db8::7 "
                               "for the one address"),
            ("proxy.example", "--trusted-proxy must be an IP address or network, "
                              "not 'proxy.example'"),
        ]:
            error = self.assertRaises(usage.UsageError, self.parse, "--trusted-proxy", given)
            self.assertEqual(str(error), said)

    def test_sendIsReturn(self) -> None:
        """
        One address given as both C{--send} and C{--return} is a usage
        error naming it, not the failure to bind the second (which, for an
        C{ipc://} address, blamed another front running: the front's own
        C{--send} listens there).
        """
        for address in ("ipc:///tmp/txmp-s", "tcp://127.0.0.1:7000"):
            error = self.assertRaises(
                usage.UsageError, self.parse, "--send", address, "--return", address
            )
            self.assertEqual(
                str(error),
                f"--send and --return are both {address}: give two addresses",
            )

    def test_values(self) -> None:
        """
        The options take values of their types.
        """
        options = self.parse(
            "--send", "tcp://*:7000", "--return", "ipc:///tmp/r", "--insecure",
            "--timeout", "2.5", "--queue-timeout", "0.5", "--max-queue", "7",
            "--heartbeat", "0.25",
        )
        self.assertEqual(
            (options["send"], options["return"], options["timeout"],
             options["queue-timeout"], options["max-queue"], options["heartbeat"]),
            ("tcp://*:7000", "ipc:///tmp/r", 2.5, 0.5, 7, 0.25),
        )
        self.assertIsInstance(options["max-queue"], int)

    def test_listenRepeatable(self) -> None:
        """
        C{--listen} may be given more than once, and replaces the default.
        """
        options = self.parse("--listen", "tcp:80", "--listen", "ssl:443:privateKey=k")
        self.assertEqual(options["listen"], ["tcp:80", "ssl:443:privateKey=k"])

    def test_listenNotShared(self) -> None:
        """
        Each L{fronttap.Options} has its own list of listen addresses.
        """
        self.parse("--listen", "tcp:80")
        self.assertEqual(self.parse()["listen"], ["tcp:8080"])

    def test_nonPositiveNumbers(self) -> None:
        """
        Zero, negative numbers and words are refused for every numeric
        option.
        """
        for option in ["--timeout", "--queue-timeout", "--max-queue", "--heartbeat"]:
            for value in ["0", "-1", "many"]:
                self.assertRaises(usage.UsageError, self.parse, option, value)

    def test_notFinite(self) -> None:
        """
        C{nan} and C{inf} are refused as durations.
        """
        for option in ["--timeout", "--queue-timeout", "--heartbeat"]:
            for value in ["nan", "inf"]:
                self.assertRaises(usage.UsageError, self.parse, option, value)

    def test_heartbeatTooSmall(self) -> None:
        """
        A C{--heartbeat} under L{MIN_HEARTBEAT} (10 ms) is refused at once,
        saying so: a heartbeat of nanoseconds would have the front and its
        handlers send at every turn of their reactors.
        """
        self.assertEqual(MIN_HEARTBEAT, 0.01)
        for value in ["1e-19", "1e-9", "0.009"]:
            e = self.assertRaises(usage.UsageError, self.parse, "--heartbeat", value)
            self.assertEqual(str(e), "--heartbeat must be at least 0.01")
        self.assertEqual(self.parse("--heartbeat", "0.01")["heartbeat"], 0.01)

    def test_maxMessageTooSmall(self) -> None:
        """
        A C{--max-message} under L{MIN_MAX_MESSAGE} (64 KiB) is refused at
        once, saying so: below the size of a handler's C{HELLO}, sent
        before the front's C{WELCOME} tells it the limit, every handler was
        disconnected as it registered, again and again (a warning in its
        log several times a second), while the front said nothing and its
        clients waited for a handler.
        """
        self.assertEqual(MIN_MAX_MESSAGE, 65536)
        for value in ["10", "1000", "65535"]:
            e = self.assertRaises(usage.UsageError, self.parse, "--max-message", value)
            self.assertEqual(str(e), "--max-message must be at least 65536")
        self.assertEqual(self.parse("--max-message", "65536")["max-message"], 65536)

    def test_heartbeatTooLarge(self) -> None:
        """
        A C{--heartbeat} too large for C{WELCOME}'s 18 digits before the
        point is refused at once, rather than when a handler says C{HELLO}.
        """
        e = self.assertRaises(usage.UsageError, self.parse, "--heartbeat", "1e18")
        self.assertEqual(str(e), "--heartbeat 1e+18 is too large to tell handlers")
        self.assertEqual(self.parse("--heartbeat", "1e17")["heartbeat"], 1e17)

    def test_maxQueueInteger(self) -> None:
        """
        C{--max-queue} must be a whole number, and the error says so (1.5
        is a number); a seconds option says "a number".
        """
        e = self.assertRaises(usage.UsageError, self.parse, "--max-queue", "1.5")
        self.assertEqual(str(e), "--max-queue must be a whole number, not '1.5'")
        e = self.assertRaises(usage.UsageError, self.parse, "--timeout", "soon")
        self.assertEqual(str(e), "--timeout must be a number, not 'soon'")

    def test_negativeSpawn(self) -> None:
        """
        C{--spawn} must not be negative.
        """
        self.assertRaises(usage.UsageError, self.parse, "--spawn", "-1",
                          "--app", "txmp.demo:app")

    def test_spawnNeedsApp(self) -> None:
        """
        C{--spawn} without C{--app} is a usage error.
        """
        self.assertRaises(usage.UsageError, self.parse, "--spawn", "2")

    def test_appNeedsSpawn(self) -> None:
        """
        C{--app} without C{--spawn} is a usage error: the front itself runs
        no application.
        """
        self.assertRaises(usage.UsageError, self.parse, "--app", "txmp.demo:app")

    def test_handlerOptionsNeedSpawn(self) -> None:
        """
        C{--threads}, C{--prefetch} (even 0), C{--max-requests},
        C{--max-requests-jitter} and C{--script-name}, which the front
        passes to its C{--spawn} handlers, are usage errors without
        C{--spawn}, naming the option: they would change nothing.
        """
        for args in [["--threads", "8"], ["--prefetch", "0"], ["--max-requests", "100"],
                     ["--max-requests", "100", "--max-requests-jitter", "10"],
                     ["--script-name", "/app"]]:
            error = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertEqual(
                str(error), f"{args[0]} is for --spawn handlers (give it to mphandler)"
            )
        options = self.parse("--spawn", "1", "--app", "txmp.demo:app", "--threads", "8",
                             "--max-requests", "100", "--max-requests-jitter", "10")
        self.assertEqual(
            (options["threads"], options["max-requests"], options["max-requests-jitter"]),
            (8, 100, 10),
        )

    def test_spawnScriptNameChecked(self) -> None:
        """
        A C{--script-name} for the C{--spawn} handlers that is not a path is
        a usage error of the front's, not of every handler it spawns; a
        path is kept as given, for their command line.
        """
        error = self.assertRaises(
            usage.UsageError, self.parse,
            "--spawn", "1", "--app", "txmp.demo:app", "--script-name", "app",
        )
        self.assertEqual(
            str(error), "--script-name must be a path starting with /, such as /app, not 'app'"
        )
        options = self.parse("--spawn", "1", "--app", "txmp.demo:app", "--script-name", "/app/")
        self.assertEqual(options["script-name"], "/app/")

    def test_jitterNeedsMaxRequests(self) -> None:
        """
        C{--max-requests-jitter} without C{--max-requests} is a usage error:
        it is added to that limit, and the front would not even pass it on.
        """
        error = self.assertRaises(
            usage.UsageError, self.parse,
            "--spawn", "1", "--app", "txmp.demo:app", "--max-requests-jitter", "10",
        )
        self.assertEqual(
            str(error), "--max-requests-jitter is added to --max-requests, which is not given"
        )

    def test_spawnAppNotFound(self) -> None:
        """
        C{--spawn} with an C{--app} whose module cannot be found (a typo) is
        a usage error naming the module, before any handler is spawned; a
        module that is found is not imported, nor is its package (its code
        would raise here).
        """
        for spec, name in [("txmp.dmeo:app", "txmp.dmeo"),
                           ("nosuchpackage.wsgi:app", "nosuchpackage")]:
            error = self.assertRaises(
                usage.UsageError, self.parse, "--spawn", "1", "--app", spec
            )
            self.assertIn("--app %s" % (spec,), str(error))
            self.assertIn(name, str(error))
        directory = FilePath(self.mktemp())
        package = directory.child("txmp_unimported_pkg")
        package.makedirs()
        package.child("__init__.py").setContent(b"raise RuntimeError('imported')\n")
        package.child("wsgi.py").setContent(b"app = None\n")
        self.patch(os, "getcwd", lambda: directory.path)
        self.parse("--spawn", "1", "--app", "txmp_unimported_pkg.wsgi:app")
        self.assertNotIn("txmp_unimported_pkg", sys.modules)
        self.assertRaises(usage.UsageError, self.parse, "--spawn", "1",
                          "--app", "txmp_unimported_pkg.nosuch:app")

    def test_spawnAppForm(self) -> None:
        """
        C{--spawn} with an C{--app} that is not C{module:attribute} (or
        C{module:factory()}) is a usage error at once, with the words a
        handler would use, not handlers that fail to boot over and over.
        """
        for spec in [
            "txmp.demo:", ":app", "txmp..demo", "txmp-demo:app",
            # An attribute that is no Python name: a typo in the call, a
            # number, an index, a call's result called, keywords unpacked.
            "txmp.demo:app(", "txmp.demo:app)", "txmp.demo:1app",
            "txmp.demo:app.", "txmp.demo:()", "txmp.demo:apps[0]",
            "txmp.demo:make_app()()", "txmp.demo:make_app(**{})",
            # A keyword given twice (Python refuses it), a comment, lines.
            "txmp.demo:make_app(a=1, a=2)", "txmp.demo:app # the app",
            "txmp.demo:app\n", "txmp.demo:make_app(\n1)",
        ]:
            error = self.assertRaises(
                usage.UsageError, self.parse, "--spawn", "1", "--app", spec
            )
            self.assertEqual(
                str(error),
                "--app must look like module:app, module:make_app() or "
                f"module:make_app('argument', key=1), not {spec!r}",
            )
        # A call with literal arguments is the handlers' to make; a "#" in
        # one is no comment.
        self.parse("--spawn", "1", "--app", "txmp.demo:make_app('#x', key=1)")

    def test_spawnAppTooLong(self) -> None:
        """
        An C{--app} longer than L{_options.APP_SPEC_MAX} characters is a
        usage error that says so, without parsing it: a long one could
        exhaust the parser (a dotted name of 1,200 parts, or 100,000
        signs before a number, made it raise C{RecursionError} or
        C{MemoryError}, a traceback).
        """
        for spec in [
            "txmp.demo:" + ".".join(["a"] * 1200),
            "txmp.demo:make_app(" + "-" * 100000 + "1)",
        ]:
            error = self.assertRaises(
                usage.UsageError, self.parse, "--spawn", "1", "--app", spec
            )
            self.assertTrue(
                str(error).startswith(f"--app is {len(spec)} characters long, more than 1000"),
                str(error),
            )

    def test_accessLogCheckedNotCreated(self) -> None:
        """
        C{--access-log} in a directory that does not exist is a usage
        error; one that can be created is not created while parsing (under
        C{twistd --uid} it must be the user's file, opened once started).
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        path = directory.child("access.log")
        self.parse("--access-log", path.path)
        self.assertFalse(path.exists())
        error = self.assertRaises(usage.UsageError, self.parse, "--access-log",
                                  directory.child("no").child("access.log").path)
        self.assertIn("No such file or directory", str(error))

    def test_spawnAppInCurrentDirectory(self) -> None:
        """
        A module in the current directory is found, as spawned handlers
        will find it.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        directory.child("cwdapp_for_test.py").setContent(b"app = None\n")
        self.patch(os, "getcwd", lambda: directory.path)
        self.parse("--spawn", "1", "--app", "cwdapp_for_test:app")
        self.assertNotIn(directory.path, sys.path)

    def test_spawnAppInRunDirectory(self) -> None:
        """
        Under twistd's C{--rundir} (C{-d}), the spawned handlers start in
        that directory, and the front looks for C{--app} there, not in the
        directory it was started from: it refused a module found in the
        run directory, and took one found only in the current directory,
        whose handlers then failed to boot (status 3).
        """
        directory = FilePath(self.mktemp())
        run = directory.child("run")
        run.makedirs()
        run.child("txmp_rundir_app.py").setContent(b"app = None\n")
        here = directory.child("here")
        here.makedirs()
        here.child("txmp_here_app.py").setContent(b"app = None\n")
        self.patch(os, "getcwd", lambda: here.path)
        self.patch(os, "environ", {})

        def parse(app: str, rundir: str) -> fronttap.Options:
            options = fronttap.Options()
            options.parent = FakeTwistdOptions(rundir=rundir)
            options.parseOptions(["--spawn", "1", "--app", app])
            return options

        for rundir in [run.path, "../run"]:
            options = parse("txmp_rundir_app:app", rundir)
            self.assertEqual(options.handlerPath, ([], run.path))
            error = self.assertRaises(SystemExit, parse, "txmp_here_app:app", rundir)
            self.assertEqual(
                str(error),
                "twistd mpfront: --app txmp_here_app:app: no module named "
                "'txmp_here_app' (see twistd mpfront --help)",
            )
        self.assertEqual(parse("txmp_here_app:app", ".").handlerPath, ([], here.path))

    def test_configVariableRelativeResolved(self) -> None:
        """
        A relative C{TXMP_CONFIG} is made absolute, as C{--config} is, and
        given to the spawned handlers as C{--config}: they start in
        twistd's C{--rundir} (C{-d}) and read their C{[mphandler]} table
        from C{TXMP_CONFIG}, which they found no more there (C{--config
        txmp.toml: No such file or directory}, three boot failures, status
        3), while the front had read the file where it was started.
        """
        directory = FilePath(self.mktemp())
        run = directory.child("run")
        run.makedirs()
        here = directory.child("here")
        here.makedirs()
        here.child("txmp.toml").setContent(b"[mphandler]\nthreads = 2\n")
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(here.path)
        self.patch(os, "environ", {"TXMP_CONFIG": "txmp.toml"})

        options = fronttap.Options()
        options.parent = FakeTwistdOptions(rundir=run.path)
        options.parseOptions(["--spawn", "1", "--app", "txmp.demo:app"])
        path = here.child("txmp.toml").path
        self.assertEqual(options["config"], path)
        command = _frontservice.handlerCommand(options.settings(), "h")
        self.assertEqual(command[command.index("--config") + 1], path)

    def test_accessLogRelativeResolved(self) -> None:
        """
        A relative C{--access-log} is made absolute as it is checked: it is
        opened as the front starts, after twistd's C{--rundir} (C{-d}) has
        changed directory, so that the file checked was not the one written.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.patch(os, "getcwd", lambda: directory.path)
        options = self.parse("--access-log", "access.log")
        self.assertEqual(options["access-log"], directory.child("access.log").path)
        self.assertEqual(self.parse("--access-log", "-")["access-log"], "-")

    def test_spawnAppOnHandlersPath(self) -> None:
        """
        A module found only where the spawned handlers will look for it,
        on the C{pythonpath} (or in the C{chdir}) of the C{[mphandler]}
        table of the front's C{--config} file, or of C{TXMP_MPHANDLER_}
        variables, is found: C{mpfront} has no C{--pythonpath} of its own,
        and refused such an C{--app} as not found although its handlers
        would import it.  One found nowhere is still refused.
        """
        directory = FilePath(self.mktemp())
        code = directory.child("code")
        code.makedirs()
        code.child("txmp_handlerpath_app.py").setContent(b"app = None\n")
        elsewhere = directory.child("elsewhere")
        elsewhere.makedirs()
        self.patch(os, "getcwd", lambda: elsewhere.path)
        self.patch(os, "environ", {})
        spawn = ["--spawn", "1", "--app", "txmp_handlerpath_app:app"]
        self.assertRaises(usage.UsageError, self.parse, *spawn)
        for table in [f'pythonpath = "{code.path}"', 'pythonpath = "../code"',
                      'chdir = ".."\npythonpath = "code"', f'chdir = "{code.path}"']:
            config = directory.child("txmp.toml")
            config.setContent(f"[mphandler]\n{table}\n".encode())
            self.parse("--config", config.path, *spawn)
            self.patch(os, "environ", {"TXMP_CONFIG": config.path})
            self.parse(*spawn)
            self.patch(os, "environ", {})
        self.patch(os, "environ", {"TXMP_MPHANDLER_PYTHONPATH": code.path})
        self.parse(*spawn)
        self.patch(os, "environ", {"TXMP_MPHANDLER_CHDIR": code.path})
        self.parse(*spawn)
        self.patch(os, "environ", {"TXMP_MPHANDLER_PYTHONPATH": elsewhere.path})
        self.assertRaises(usage.UsageError, self.parse, *spawn)
        self.assertNotIn("txmp_handlerpath_app", sys.modules)
        self.assertNotIn(code.path, sys.path)
        # A chdir the handlers could not make is said to be one, not an
        # --app not found.
        self.patch(os, "environ", {"TXMP_MPHANDLER_CHDIR": directory.child("gone").path})
        error = self.assertRaises(usage.UsageError, self.parse, *spawn)
        self.assertIn(f"--chdir {directory.child('gone').path}: no such directory", str(error))

    def test_spawnHandlerValuesChecked(self) -> None:
        """
        A value that every C{--spawn} handler would refuse, from the
        C{[mphandler]} table of the front's C{--config} file or from a
        C{TXMP_MPHANDLER_} variable (C{threads = 0}, a C{prefetch} over
        what the threads leave, a C{max-requests-jitter} without
        C{max-requests}), is refused as the front's options are parsed, in
        one line naming the option, where the front started, said it was
        ready, and exited with status 3 once three handlers had exited
        with it.  One that the front's own passes on override (its
        C{--threads}) is not the handlers', and stands.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.patch(os, "environ", {})
        config = directory.child("txmp.toml")
        spawn = ["--spawn", "1", "--app", "txmp.demo:app", "--config", config.path]
        for table, words in [
            ("threads = 0", "--threads must be positive"),
            ("threads = -3", "--threads must be positive"),
            ("prefetch = 999", "--prefetch must be at most 996"),
            ("max-requests-jitter = 5", "--max-requests-jitter is added to --max-requests"),
            ('script-name = "app"', "--script-name must be a path starting with /"),
        ]:
            config.setContent(f"[mphandler]\n{table}\n".encode())
            error = self.assertRaises(usage.UsageError, self.parse, *spawn)
            self.assertTrue(
                str(error).startswith("the --spawn handlers would refuse their options: "),
                str(error),
            )
            self.assertIn(words, str(error))
        config.setContent(b"[mphandler]\nthreads = 0\n")
        self.assertEqual(self.parse(*spawn, "--threads", "2")["threads"], 2)
        config.setContent(b"[mphandler]\nthreads = 8\n")
        self.parse(*spawn)
        self.patch(os, "environ", {"TXMP_MPHANDLER_THREADS": "x"})
        error = self.assertRaises(usage.UsageError, self.parse, *spawn)
        self.assertIn("--threads must be a whole number, not 'x'", str(error))

    def test_privateAddresses(self) -> None:
        """
        With C{--spawn} and neither C{--send} nor C{--return}, the front's
        addresses are to be private ones (made by L{_frontservice.PrivateLinks}
        at start); given either address, or without C{--spawn}, they are
        not, and the defaults stand for what is not given.
        """
        spawn = ["--spawn", "1", "--app", "txmp.demo:app"]
        self.assertTrue(self.parse(*spawn)["private-addresses"])
        self.assertFalse(self.parse()["private-addresses"])
        options = self.parse(*spawn, "--send", "ipc:///tmp/s")
        self.assertFalse(options["private-addresses"])
        self.assertEqual(
            (options["send"], options["return"]), ("ipc:///tmp/s", _defaults.DEFAULT_RETURN)
        )
        options = self.parse(*spawn, "--return", "ipc:///tmp/r")
        self.assertFalse(options["private-addresses"])
        self.assertEqual(options["send"], _defaults.DEFAULT_SEND)

    def test_temporaryDirectoryTooLong(self) -> None:
        """
        With C{--spawn} and neither C{--send} nor C{--return}, a temporary
        directory (C{$TMPDIR}) too long for the C{ipc://} paths of the
        private directory made in it (at most 107 bytes, a Unix socket's) is
        refused before anything starts, in one line that says so and what
        to do; the longest that fits is taken, and a too long one is no
        matter with addresses given.
        """
        spawn = ["--spawn", "1", "--app", "txmp.demo:app"]
        # /d...d/txmp-front-XXXXXXXX/return: 1 + N + 27 bytes.
        fits = "/" + "d" * (107 - 28)
        self.patch(tempfile, "tempdir", fits)
        self.assertTrue(self.parse(*spawn)["private-addresses"])
        tooLong = fits + "d"
        self.patch(tempfile, "tempdir", tooLong)
        e = self.assertRaises(usage.UsageError, self.parse, *spawn)
        self.assertEqual(
            str(e),
            f"--spawn: the private addresses it would bind, such as "
            f"ipc://{tooLong}/txmp-front-XXXXXXXX/return, are 108 bytes long, and "
            f"an ipc:// path (a Unix socket's) may have at most 107: the temporary "
            f"directory {tooLong} ($TMPDIR) is too long; set TMPDIR to a shorter "
            "one, or give --send and --return",
        )
        self.parse(*spawn, "--send", "ipc:///tmp/s", "--return", "ipc:///tmp/r")
        self.parse("--send", "ipc:///tmp/s", "--return", "ipc:///tmp/r")

    def test_spawnThreads(self) -> None:
        """
        C{--threads} for spawned handlers must be a positive number, checked
        by the front rather than by handlers that would fail over and over.
        """
        for value in ["0", "-2", "lots"]:
            self.assertRaises(
                usage.UsageError, self.parse,
                "--spawn", "1", "--app", "txmp.demo:app", "--threads", value,
            )
        options = self.parse("--spawn", "1", "--app", "txmp.demo:app",
                             "--threads", "4")
        self.assertEqual(int(options["threads"]), 4)
        self.assertRaises(
            usage.UsageError, self.parse,
            "--spawn", "1", "--app", "txmp.demo:app",
            "--threads", str(_defaults.MAX_CREDITS + 1),
        )

    def test_spawnPrefetchCapped(self) -> None:
        """
        C{--prefetch} for spawned handlers is at most what their
        C{--threads} (the front's, or mphandler's default) leave of the
        L{_defaults.MAX_CREDITS} a front accepts, checked by the front
        rather than by handlers that would fail over and over.
        """
        spawn = ("--spawn", "1", "--app", "txmp.demo:app")
        error = self.assertRaises(
            usage.UsageError, self.parse, *spawn, "--threads", "990", "--prefetch", "11"
        )
        self.assertEqual(
            str(error),
            "--prefetch must be at most 10 with --threads 990 (together, at most 1000)",
        )
        room = _defaults.MAX_CREDITS - _defaults.DEFAULT_THREADS
        error = self.assertRaises(
            usage.UsageError, self.parse, *spawn, "--prefetch", str(room + 1)
        )
        self.assertEqual(
            str(error),
            f"--prefetch must be at most {room} with --threads "
            f"{_defaults.DEFAULT_THREADS} (together, at most 1000)",
        )
        options = self.parse(*spawn, "--threads", "990", "--prefetch", "10")
        self.assertEqual((options["threads"], options["prefetch"]), (990, 10))
        # Without --prefetch, mphandler's default gives way to --threads.
        options = self.parse(*spawn, "--threads", "990")
        self.assertIsNone(options["prefetch"])

    def test_maxMessage(self) -> None:
        """
        --max-message defaults to 16 MiB, well above a handler's frames,
        and must be at least L{MIN_MAX_MESSAGE}.
        """
        self.assertEqual(self.parse()["max-message"], DEFAULT_MAX_MESSAGE)
        self.assertGreaterEqual(DEFAULT_MAX_MESSAGE, 8 * MAX_FRAME)
        self.assertEqual(self.parse("--max-message", "100000")["max-message"], 100000)
        self.assertRaises(usage.UsageError, self.parse, "--max-message", "0")

    def test_toldToHandlersTooLarge(self) -> None:
        """
        C{--max-message} and C{--window}, which a front tells its handlers
        (C{WELCOME}'s C{max_message}, every C{REQ}'s C{window}), are
        refused at once over the wire's 18 digits, saying so: a front
        started with either, then failed every C{HELLO} (handlers never
        joined) or every request (the connection dropped), with a
        traceback each; a C{--max-message} over 2**63 - 1 failed at start
        with one (C{OverflowError} from C{setsockopt}).
        """
        for option in ["--max-message", "--window"]:
            for value in ["1" + "0" * 18, "9" * 23]:
                e = self.assertRaises(usage.UsageError, self.parse, option, value)
                self.assertEqual(str(e), f"{option} must be at most {'9' * 18}")
            self.assertEqual(self.parse(option, "9" * 18)[option[2:]], MAX_INT)
        encodeWelcome(maxMessage=MAX_INT)


class AddressOptionTests(SynchronousTestCase):
    """
    The ZeroMQ addresses C{--send} and C{--return} take, on both commands.
    """

    def parsers(self) -> list[Callable[..., None]]:
        """
        Parse the arguments given as each command would.
        """

        def front(*args: str) -> None:
            fronttap.Options().parseOptions(list(args))

        def handler(*args: str) -> None:
            handlertap.Options().parseOptions(["--app", "txmp.demo:app", *args])

        return [front, handler]

    def test_notZeroMQ(self) -> None:
        """
        An address that is not a ZeroMQ one (a Twisted endpoint string, a
        bare host and port, inproc://, which no other process reaches) is
        refused in one line naming the option and the forms it takes,
        before anything is bound or connected.
        """
        for parse in self.parsers():
            for option, other in [("--send", "--return"), ("--return", "--send")]:
                for bad in ["bogus", "tcp:5556", "127.0.0.1:5556", "inproc://front",
                            "tcp://", "TCP://127.0.0.1:5556"]:
                    e = self.assertRaises(
                        usage.UsageError, parse, option, bad, other, "ipc:///tmp/txmp-x"
                    )
                    self.assertTrue(
                        str(e).startswith(f"{option} {bad} is not a ZeroMQ address"), str(e)
                    )
                    self.assertIn("tcp://", str(e))

    def test_tcpPortOutOfRange(self) -> None:
        """
        A C{tcp://} address whose port is a number over 65535 (a typo), 0
        or C{*} is refused in one line naming the option, by both
        commands: ZeroMQ took a larger port's last 16 bits, so that
        C{mpfront --send tcp://127.0.0.1:99999} bound port 34463 and said
        it was ready at C{tcp://127.0.0.1:99999}, and bound 0 or C{*} to a
        port the kernel chose, which no handler could know (a handler
        tried to connect to port 0 for ever).  65535 is taken.
        """
        for parse in self.parsers():
            for good in ["tcp://127.0.0.1:65535", "tcp://[::1]:65535"]:
                parse("--send", good, "--return", "ipc:///tmp/r")
            for option, other in [("--send", "--return"), ("--return", "--send")]:
                for bad, port in [("tcp://127.0.0.1:99999", "99999"),
                                  ("tcp://[::1]:65536", "65536"),
                                  ("tcp://localhost:0655360", "0655360"),
                                  ("tcp://127.0.0.1:0", "0"),
                                  ("tcp://127.0.0.1:*", "*")]:
                    e = self.assertRaises(
                        usage.UsageError, parse, option, bad, other, "ipc:///tmp/r"
                    )
                    self.assertEqual(
                        str(e), f"{option} {bad}: port {port} is not one of 1 to 65535",
                        (option, bad),
                    )

    def test_tcpNoPort(self) -> None:
        """
        A C{tcp://} address without a port (C{tcp://127.0.0.1}, a slip) is
        refused in one line naming the option and the form, by both
        commands: the front said that such an address on loopback was
        reachable from other hosts and asked for CURVE, and a handler
        failed to connect with ZeroMQ's "Invalid argument".
        """
        for parse in self.parsers():
            for option, other in [("--send", "--return"), ("--return", "--send")]:
                for bad in ["tcp://127.0.0.1", "tcp://localhost:", "tcp://[::1]",
                            "tcp://10.0.0.1"]:
                    e = self.assertRaises(
                        usage.UsageError, parse, option, bad, other, "ipc:///tmp/r"
                    )
                    self.assertEqual(
                        str(e), f"{option} {bad}: no port: give tcp://HOST:PORT",
                        (option, bad),
                    )

    def test_ipcPathTooLong(self) -> None:
        """
        An C{ipc://} address whose path is longer than a Unix socket's
        (107 bytes, counted encoded) is refused in one line naming the
        option, its length and the limit, before anything is bound or
        connected; one of 107 bytes is taken.
        """
        longest = "ipc:///tmp/" + "s" * (107 - len("/tmp/"))
        # 57 characters, 109 bytes.
        tooLong = "ipc:///tmp/" + "\N{LATIN SMALL LETTER E WITH ACUTE}" * 52
        for parse in self.parsers():
            parse("--send", longest, "--return", "ipc:///tmp/r")
            for option, other in [("--send", "--return"), ("--return", "--send")]:
                e = self.assertRaises(
                    usage.UsageError, parse, option, tooLong, other, "ipc:///tmp/r"
                )
                self.assertEqual(
                    str(e),
                    f"{option} {tooLong}: the path is 109 bytes long, and an ipc:// "
                    "path (a Unix socket's) may have at most 107: give a shorter one",
                )

    def test_ipcPathMax(self) -> None:
        """
        L{txmp._options.IPC_PATH_MAX} is the limit pyzmq states for the
        libzmq it runs with.
        """
        stated = getattr(zmq, "IPC_PATH_MAX_LEN", 0)
        if not stated:
            # pyzmq's CFFI backend (PyPy's) says 0: it does not know.
            raise SkipTest("this pyzmq does not state libzmq's limit")
        self.assertEqual(IPC_PATH_MAX, stated)

    def test_zeroMQ(self) -> None:
        """
        TCP and IPC addresses are taken.
        """
        for parse in self.parsers():
            parse("--send", "tcp://127.0.0.1:7001", "--return", "ipc:///tmp/txmp-r")
            parse("--send", "tcp://[::1]:7001", "--return", "tcp://localhost:7002")


class ConnectableAddressTests(SynchronousTestCase):
    """
    Tests for L{_frontservice.connectableAddress}.
    """

    def test_wildcards(self) -> None:
        """
        Wildcard TCP hosts become the loopback address.
        """
        self.assertEqual(_frontservice.connectableAddress("tcp://*:5556"),
                         "tcp://127.0.0.1:5556")
        self.assertEqual(_frontservice.connectableAddress("tcp://0.0.0.0:5555"),
                         "tcp://127.0.0.1:5555")

    def test_others(self) -> None:
        """
        Other addresses are kept as they are.
        """
        for address in ["tcp://127.0.0.1:5556", "tcp://10.1.2.3:1", "ipc:///tmp/x",
                        "inproc://front", "tcp://eth0:5556"]:
            self.assertEqual(_frontservice.connectableAddress(address), address)


class HandlerCommandTests(SynchronousTestCase):
    """
    Tests for L{_frontservice.handlerCommand}, the command line of C{--spawn}
    handlers.
    """

    def options(self, *args: str) -> fronttap.FrontSettings:
        """
        Front options with C{--spawn 2 --app txmp.demo:app} and C{args}.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "2", "--app", "txmp.demo:app", *args])
        return options.settings()

    def test_command(self) -> None:
        """
        A spawned handler runs C{twistd mphandler} in the foreground with
        this Python, the front's application, addresses it can connect to,
        and the front's heartbeat; it logs JSON, at the front's level,
        which the front reads back as events.
        """
        command = _frontservice.handlerCommand(
            self.options("--send", "tcp://*:6000", "--return", "tcp://0.0.0.0:6001",
                         "--insecure",
                         "--heartbeat", "0.5", "--log-level", "warn"),
            "h:spawn-1",
        )
        self.assertEqual(
            command,
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
             "--nodaemon", "--pidfile=", "mphandler", "--name", "h:spawn-1",
             "--send", "tcp://127.0.0.1:6000", "--return", "tcp://127.0.0.1:6001",
             "--log-format", "json", "--app", "txmp.demo:app",
             "--heartbeat", "0.5", "--graceful-timeout", "30.0", "--log-level", "warn"],
        )

    def test_threads(self) -> None:
        """
        C{--threads} is passed on, as a string.
        """
        command = _frontservice.handlerCommand(self.options("--threads", "3"), "n")
        self.assertEqual(command[-2:], ["--threads", "3"])

    def test_prefetch(self) -> None:
        """
        C{--prefetch} is passed on, as a string, even 0 (none); without it,
        none is, and the handlers take their own default.
        """
        for value in ["0", "20"]:
            command = _frontservice.handlerCommand(self.options("--prefetch", value), "n")
            self.assertEqual(command[-2:], ["--prefetch", value])
        self.assertNotIn("--prefetch", _frontservice.handlerCommand(self.options(), "n"))

    def test_scriptName(self) -> None:
        """
        C{--script-name} is passed on as given; without it, none is, and
        the handlers take theirs from their C{--config} table, their
        C{TXMP_MPHANDLER_SCRIPT_NAME} or gunicorn's C{SCRIPT_NAME}.
        """
        command = _frontservice.handlerCommand(self.options("--script-name", "/app/"), "n")
        self.assertEqual(command[-2:], ["--script-name", "/app/"])
        self.assertNotIn("--script-name", _frontservice.handlerCommand(self.options(), "n"))

    def test_configPassedOn(self) -> None:
        """
        The front's C{--config} file is passed on by its absolute path, so
        that its C{[mphandler]} table reaches the spawned handlers; an
        option the front passes on itself (C{--threads}) wins over the
        file's.
        """
        path = FilePath(self.mktemp())
        path.setContent(b'[mpfront]\nspawn = 2\n[mphandler]\nthreads = 8\nheartbeat = 2\n')
        relative = os.path.relpath(path.path)
        for extra, threads in [((), 8), (("--threads", "3"), 3)]:
            command = _frontservice.handlerCommand(
                self.options("--config", relative, *extra), "n"
            )
            self.assertEqual(command[command.index("--config") + 1], path.path)
            options = handlertap.Options()
            options.parseOptions(command[command.index("mphandler") + 1:])
            # (The front passes its own --heartbeat on.)
            self.assertEqual((options["threads"], options["heartbeat"]), (threads, 1.0))

    def test_configResolvedWhenParsed(self) -> None:
        """
        A relative C{--config} is passed on as the file the front read: its
        absolute path from the directory the options were parsed in, not
        from the one the handlers start in (C{twistd --rundir} changes
        directory between the two).
        """
        path = FilePath(self.mktemp())
        path.setContent(b"[mphandler]\nthreads = 8\n")
        options = self.options("--config", os.path.relpath(path.path))
        rundir = FilePath(self.mktemp())
        rundir.makedirs()
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(rundir.path)
        command = _frontservice.handlerCommand(options, "n")
        self.assertEqual(command[command.index("--config") + 1], path.path)

    def test_recycling(self) -> None:
        """
        C{--max-requests}, C{--max-requests-jitter} and
        C{--graceful-timeout} are passed on.
        """
        command = _frontservice.handlerCommand(
            self.options("--max-requests", "50", "--max-requests-jitter", "5",
                         "--graceful-timeout", "7"),
            "n",
        )
        options = handlertap.Options()
        options.parseOptions(command[command.index("mphandler") + 1:])
        self.assertEqual(
            (options["max-requests"], options["max-requests-jitter"],
             options["graceful-timeout"]),
            (50, 5, 7.0),
        )

    def test_parentAndCurve(self) -> None:
        """
        The front's PID and the CURVE files of its private directory are
        passed on as C{--parent-pid}, C{--curve-secret-key} and
        C{--curve-server-key}: file names, never keys.
        """
        command = _frontservice.handlerCommand(
            self.options(), "n", 4321, ("/p/spawn.key_secret", "/p/front.key")
        )
        self.assertEqual(
            command[-6:],
            ["--parent-pid", "4321", "--curve-secret-key", "/p/spawn.key_secret",
             "--curve-server-key", "/p/front.key"],
        )
        self.assertNotIn("--parent-pid", _frontservice.handlerCommand(self.options(), "n"))

    def test_commandParses(self) -> None:
        """
        What follows C{mphandler} in the command is valid C{mphandler}
        options, meaning the same as the front's.
        """
        command = _frontservice.handlerCommand(
            self.options("--threads", "3", "--heartbeat", "0.5"), "h:spawn-2"
        )
        options = handlertap.Options()
        options.parseOptions(command[command.index("mphandler") + 1:])
        self.assertEqual(
            (options["app"], options["fronts"], options["threads"],
             options["heartbeat"], options["name"]),
            ("txmp.demo:app", [("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5555")], 3,
             0.5, "h:spawn-2"),
        )


class FrontMakeServiceTests(SynchronousTestCase):
    """
    Tests for L{fronttap.makeService}, without starting anything.
    """

    def test_front(self) -> None:
        """
        The service tree holds the front's service, and its signal actions:
        SIGUSR1 reopens the logs.
        """
        options = fronttap.Options()
        options.parseOptions([])
        top = fronttap.makeService(options, cast(IFrontReactor, MemoryReactorClock()))
        self.assertIsInstance(top, MultiService)
        [front, signals] = list(IServiceCollection(top))
        self.assertIsInstance(front, _frontservice.FrontService)
        self.assertIsInstance(signals, SignalActions)
        self.assertEqual(signals.actions, {
            signal.SIGUSR1: front.reopenLogs,
            signal.SIGHUP: front.hangup,
            signal.SIGUSR2: _frontservice._profileElsewhere,
            signal.SIGTTIN: _frontservice._noHandlersToAdd,
            signal.SIGTTOU: _frontservice._noHandlersToRemove,
        })
        self.assertIs(front.reloadHandlers, _frontservice._nothingToReload)
        self.assertEqual(signals.once, {signal.SIGINT, signal.SIGTERM})
        # (Its default action would kill the front at once.)
        self.assertEqual(signals.aliases, {signal.SIGQUIT: signal.SIGTERM})

    def test_hangupReadsCertificatesAgain(self) -> None:
        """
        SIGHUP (L{FrontService.hangup}) reads the certificate and key files
        of each C{ssl:} C{--listen} again, saying so, or why not and that
        the ones read before serve on; then reloads the handlers.
        """
        try:
            from OpenSSL import crypto  # The tls extra's, which may be missing.
        except ImportError:
            raise SkipTest("the tls extra (pyOpenSSL) is not installed") from None

        class Certificate:
            def __init__(self, error: Exception | None) -> None:
                self.error = error

            def reload(self) -> None:
                if self.error is not None:
                    raise self.error

        options = fronttap.Options()
        options.parseOptions([])
        front = _frontservice.FrontService(
            cast(IFrontReactor, MemoryReactorClock()), options.settings()
        )
        front._certificates = [
            ("--listen ssl:443:privateKey=a.pem", cast(Any, Certificate(None))),
            ("--listen ssl:8443:privateKey=b.pem",
             cast(Any, Certificate(crypto.Error([("PEM routines", "", "no start line")])))),
        ]
        reloaded: list[str] = []
        front.reloadHandlers = lambda: reloaded.append("handlers")
        with capturedLogs() as events:
            front.hangup()
        self.assertEqual([formatEvent(e) for e in events], [
            "mpfront: --listen ssl:443:privateKey=a.pem: certificate and key read again",
            "mpfront: --listen ssl:8443:privateKey=b.pem: certificate and key not read "
            "again: OpenSSL found no PEM certificate and private key in the privateKey= "
            "and certKey= files (no start line); the ones read before serve on",
        ])
        self.assertEqual(reloaded, ["handlers"])

    def test_hangupSaysWhatConfigChanged(self) -> None:
        """
        SIGHUP says which settings of the C{--config} file's C{[mpfront]}
        table changed since the front read it, as not applied (a front reads
        its own options at start only), or why the file could not be read
        again (gone, or not UTF-8); nothing when they are unchanged.  It
        reloads the handlers all the same.
        """
        config = FilePath(self.mktemp())
        config.setContent(b'[mpfront]\ntimeout = 20\nheartbeat = 2\n[mphandler]\nthreads = 2\n')
        options = fronttap.Options()
        options.parseOptions(["--config", config.path])
        self.assertEqual(options.configTable, {"timeout": 20, "heartbeat": 2})
        top = _frontservice.serviceTree(
            options.settings(),
            cast(IFrontReactor, MemoryReactorClock()),
            configTable=options.configTable,
        )
        [front, _] = list(IServiceCollection(top))
        assert isinstance(front, _frontservice.FrontService)
        reloaded: list[str] = []
        front.reloadHandlers = lambda: reloaded.append("handlers")
        said: list[list[str]] = []
        for content in (
            b"[mpfront]\ntimeout = 20\nheartbeat = 2\n[mphandler]\nthreads = 4\n",
            b"[mpfront]\ntimeout = 10\nspawn = 3\n",
            # (Saved as Latin-1: its error went up, and no handler reloaded.)
            b"[mpfront]\ntimeout = 10 # caf\xe9\n",
            None,
        ):
            if content is None:
                config.remove()
            else:
                config.setContent(content)
            with capturedLogs() as events:
                front.hangup()
            said.append([formatEvent(e) for e in events])
        self.assertEqual(said, [
            [],
            [f"mpfront: SIGHUP: [mpfront] of {config.path} changed (heartbeat, "
             "spawn, timeout): not applied, a front reads its own options (and those it "
             "passes to --spawn handlers) at start only; restart it to apply them. "
             "New --spawn handlers read [mphandler] anew"],
            [f"mpfront: SIGHUP: --config {config.path}: not UTF-8, which TOML files "
             "are: byte 0xe9 at offset 28; the front's own options are those it "
             "started with"],
            [f"mpfront: SIGHUP: --config {config.path}: No such file or directory; "
             "the front's own options are those it started with"],
        ])
        self.assertEqual(reloaded, ["handlers"] * 4)

    def hangupLines(self, before: bytes, after: bytes, *arguments: str) -> list[str]:
        """
        What a front started with the C{--config} file C{before} (and
        C{arguments}) logs at SIGHUP once the file is C{after}.
        """
        config = FilePath(self.mktemp())
        config.setContent(before)
        options = fronttap.Options()
        options.parseOptions(["--config", config.path, *arguments])
        top = _frontservice.serviceTree(
            options.settings(),
            cast(IFrontReactor, MemoryReactorClock()),
            configTable=options.configTable,
            configOverridden=options.configOverridden,
        )
        [front, *_] = list(IServiceCollection(top))
        assert isinstance(front, _frontservice.FrontService)
        front.reloadHandlers = lambda: None
        config.setContent(after)
        with capturedLogs() as events:
            front.hangup()
        return [formatEvent(e) for e in events]

    def test_hangupConfigSpelling(self) -> None:
        """
        A key of the C{[mpfront]} table written anew with C{-} for C{_} (or
        the other way) names the same option: no change.  A value written
        with another type, which the option reads otherwise (C{5} and
        C{5.0}: C{--max-queue=5.0} is refused at the next start), is one.
        """
        self.assertEqual(
            self.hangupLines(b"[mpfront]\nmax_queue = 5\n", b"[mpfront]\nmax-queue = 5\n"),
            [],
        )
        [line] = self.hangupLines(
            b"[mpfront]\nmax_queue = 5\n", b"[mpfront]\nmax_queue = 5.0\n"
        )
        self.assertIn(" changed (max-queue): not applied", line)

    def test_hangupConfigOverridden(self) -> None:
        """
        A setting of the C{[mpfront]} table that the command line or an
        environment variable overrides is not said changed: a restart
        would not apply it either.  The others are.
        """
        self.patch(os, "environ", {"TXMP_MPFRONT_HEARTBEAT": "2"})
        [line] = self.hangupLines(
            b"[mpfront]\ntimeout = 20\nheartbeat = 3\nmax-queue = 5\n",
            b"[mpfront]\ntimeout = 30\nheartbeat = 4\nmax-queue = 6\n",
            "--timeout", "5",
        )
        self.assertIn(" changed (max-queue): not applied", line)

    def test_reopenLogsSaysWhatItReopened(self) -> None:
        """
        SIGUSR1 (L{FrontService.reopenLogs}) says it reopened the access
        log only when that is a file: standard output (C{--access-log -})
        has nothing to reopen.
        """
        options = fronttap.Options()
        options.parseOptions([])
        front = _frontservice.FrontService(
            cast(IFrontReactor, MemoryReactorClock()), options.settings()
        )
        for path, said in [("-", []), (self.mktemp(), ["mpfront: access log reopened"])]:
            front.accessLog = AccessLog(path)
            front.accessLog.open()
            self.addCleanup(front.accessLog.close)
            with capturedLogs() as events:
                front.reopenLogs()
            self.assertEqual([formatEvent(e) for e in events], said)

    def test_reopenFailureSaysWhatToDo(self) -> None:
        """
        A log file that SIGUSR1 cannot open again (its directory not
        writable by the front's user after logrotate moved it, a directory
        in its place) is named, with what happens meanwhile and what to do:
        the line said only C{mpfront: cannot reopen its log file: Is a
        directory}, without the file, for the log file.
        """
        options = fronttap.Options()
        options.parseOptions([])
        front = _frontservice.FrontService(
            cast(IFrontReactor, MemoryReactorClock()), options.settings()
        )
        directory = FilePath(self.mktemp())
        directory.makedirs()
        access = directory.child("access.log")
        front.accessLog = AccessLog(access.path)
        front.accessLog.open()
        self.addCleanup(front.accessLog.close)
        access.moveTo(directory.child("access.log.1"))
        access.makedirs()
        logFile = directory.child("front.log").path
        error = IsADirectoryError(21, "Is a directory", logFile)
        self.assertEqual(reopenFailureLines(self, _frontservice, front, error), [
            reopenFailureLine("mpfront", path, "Is a directory")
            for path in [logFile, access.path]
        ])

    def test_accessLogOpenedAtStart(self) -> None:
        """
        The access log is opened as the front starts, and one that cannot
        be opened then (its directory gone
        since the options were checked, or not the user's that twistd
        C{--uid} runs the front as) stops it in one line naming
        C{--access-log}: the file was opened as the first C{--listen} port
        started, which took the blame (C{mpfront: --listen tcp:80:
        [Errno 13] Permission denied: '/var/log/txmp/access.log'}).
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        path = directory.child("access.log")
        options = fronttap.Options()
        options.parseOptions(["--access-log", path.path])
        self.patch(_frontservice, "ZmqContext", lambda reactor: MemoryNetwork())
        self.patch(_frontservice, "raiseFileLimit", lambda: (1024, 1024))
        # (No ZeroMQ socket options on memory sockets.)
        self.patch(_frontservice.FrontService, "_secure", lambda *args: None)
        reactor = MemoryReactorClock()
        front = _frontservice.FrontService(cast(IFrontReactor, reactor), options.settings())
        front.startService()
        self.addCleanup(front.stopService)
        self.assertTrue(path.exists())
        self.assertEqual(reactor.tcpServers[0][0], 8080)
        directory.remove()
        front = _frontservice.FrontService(
            cast(IFrontReactor, MemoryReactorClock()), options.settings()
        )
        error = self.assertRaises(SystemExit, front.startService)
        self.assertEqual(
            str(error), f"mpfront: --access-log {path.path}: No such file or directory"
        )

    def memoryFront(self) -> _frontservice.FrontService:
        """
        A front at its default options on a L{MemoryReactorClock}, its
        ZeroMQ sockets L{MemoryNetwork}'s, not started.
        """
        options = fronttap.Options()
        options.parseOptions([])
        self.patch(_frontservice, "ZmqContext", lambda reactor: MemoryNetwork())
        self.patch(_frontservice, "raiseFileLimit", lambda: (1024, 1024))
        self.patch(_frontservice.FrontService, "_secure", lambda *args: None)
        return _frontservice.FrontService(
            cast(IFrontReactor, MemoryReactorClock()), options.settings()
        )

    def test_whenStopped(self) -> None:
        """
        L{_frontservice.FrontService.whenStopped} fires at once when the
        front is not stopping, and otherwise once its stop is done (its
        requests ended and its sockets closed), not before.
        """
        front = self.memoryFront()
        self.successResultOf(front.whenStopped())
        front.startService()
        self.successResultOf(front.whenStopped())
        # Requests the front is finishing.
        ended: Deferred[None] = Deferred()
        self.patch(front, "_endPending", lambda deadline: ended)
        stopped = front.stopService()
        waiting = front.whenStopped()
        self.assertNoResult(waiting)
        ended.callback(None)
        self.successResultOf(stopped)
        self.successResultOf(waiting)
        self.successResultOf(front.whenStopped())

    def test_portNotClosed(self) -> None:
        """
        A port that fails to close as the front stops (a UNIX socket whose
        file was removed while the front ran: Twisted's C{os.unlink} of it
        raises) is logged, and the stop goes on: the requests are ended,
        the C{--spawn} handlers told (L{FrontService.whenDrained}) and the
        sockets closed.  The whole stop failed with it, and so waited for
        ever for handlers never told to stop.
        """
        front = self.memoryFront()
        front.startService()
        [port] = front._ports
        error = FileNotFoundError(2, "No such file or directory", "/run/txmp/http.sock")
        self.patch(port, "stopListening", lambda: fail(error))
        drained = front.whenDrained()
        with capturedLogs() as events:
            stopped = front.stopService()
        self.successResultOf(drained)
        self.successResultOf(stopped)
        self.successResultOf(front.whenStopped())
        self.assertIn(
            "mpfront stopping: IPv4Address(type='TCP', host='0.0.0.0', port=8080) not "
            "closed cleanly: [Errno 2] No such file or directory: '/run/txmp/http.sock'; "
            "going on",
            [formatEvent(event) for event in events],
        )

    def test_portsBeforeUser(self) -> None:
        """
        L{FrontService.privilegedStartService}, which twistd calls before
        C{--uid} and C{--gid} take effect, listens on the ports, as
        Twisted's own servers do (so that a port below 1024 can be served
        as another user), but neither binds the ZeroMQ addresses nor opens
        the access log: L{FrontService.startService} does, as the user,
        whose files they are.
        """
        path = FilePath(self.mktemp())
        options = fronttap.Options()
        options.parseOptions([
            "--access-log", path.path, "--listen", "tcp:80", "--stats", "tcp:8081",
        ])
        network = MemoryNetwork()
        sockets: list[MemorySocket] = []

        def socket(*args: Any, **kwargs: Any) -> MemorySocket:
            made = MemoryNetwork.socket(network, *args, **kwargs)
            sockets.append(made)
            return made

        self.patch(network, "socket", socket)
        self.patch(_frontservice, "ZmqContext", lambda reactor: network)
        self.patch(_frontservice, "raiseFileLimit", lambda: (1024, 1024))
        self.patch(_frontservice.FrontService, "_secure", lambda *args: None)
        reactor = MemoryReactorClock()
        front = _frontservice.FrontService(cast(IFrontReactor, reactor), options.settings())
        front.privilegedStartService()
        self.addCleanup(front.stopService)
        self.assertEqual([server[0] for server in reactor.tcpServers], [80, 8081])
        self.assertEqual(
            (path.exists(), [sock.address for sock in sockets]), (False, [None, None])
        )
        front.startService()
        self.assertTrue(path.exists())
        self.assertEqual(
            [sock.address for sock in sockets], [options["send"], options["return"]]
        )
        self.assertEqual(len(reactor.tcpServers), 2)

    def test_unixListenErrors(self) -> None:
        """
        A C{unix:} C{--listen} whose lock file another process holds (a
        front listening there already) is said to be in use, naming the
        lock file, where Twisted says only C{Cannot acquire lock}; one whose
        lock file cannot be made names it, not the PID the lock links to
        (C{[Errno 2] No such file or directory: '4242' ->
        b'/run/txmp/http.sock.lock'}).
        """
        self.assertEqual(
            _frontservice._reason(
                CannotListenError(None, b"/run/txmp/http.sock", "Cannot acquire lock")
            ),
            "in use: another process holds /run/txmp/http.sock.lock"
            " (a front listening there already?)",
        )
        self.assertEqual(
            _frontservice._reason(OSError(
                2, "No such file or directory", "4242", None, b"/run/txmp/http.sock.lock"
            )),
            "No such file or directory: /run/txmp/http.sock.lock",
        )
        self.assertEqual(
            _frontservice._reason(OSError(98, "Address already in use")),
            "[Errno 98] Address already in use",
        )

    def test_unescapedIPv6Listen(self) -> None:
        """
        A C{--listen} whose IPv6 address is written without escaping its
        colons, or in brackets, is said to need them escaped, with an
        example, where Twisted's parser said only C{_parseTCP() got
        multiple values for argument 'interface'}; one escaped is made.
        """
        said = (
            "an IPv6 address in an endpoint has each ':' escaped with a backslash, "
            "without brackets: tcp6:8080:interface=\\:\\:1 (in single quotes in "
            "a shell or a TOML file)"
        )
        reactor = MemoryReactorClock()
        for description in ["tcp6:8080:interface=::1", "tcp:8080:interface=[::1]",
                            "tcp6:8080:interface=fe80::1", "tcp:[::1]:8080",
                            "ssl:8443:interface=::1:privateKey=key.pem"]:
            error = self.assertRaises(
                TypeError, serverFromString, reactor, withBacklog(description)
            )
            self.assertEqual(_frontservice._endpointError(description, error), said, description)
        serverFromString(reactor, withBacklog("tcp6:8080:interface=\\:\\:1"))
        self.assertNotEqual(
            _frontservice._endpointError("tcp:8080:interface=127.0.0.1", TypeError("x")), said
        )

    def test_urlListen(self) -> None:
        """
        A C{--listen} or C{--stats} written as a URL or as C{--send} is
        (C{tcp://127.0.0.1:8080}, C{http://...}), which Twisted's parser
        refused with C{invalid literal for int() with base 10:
        '//127.0.0.1'}, is said not to be an endpoint, with examples of
        one; an endpoint's own error is said as before.
        """
        said = (
            "not a Twisted endpoint: --listen and --stats take descriptions "
            "such as tcp:8080:interface=127.0.0.1 or unix:/run/txmp/http.sock, "
            "--send and --return ZeroMQ addresses (tcp://HOST:PORT)"
        )
        reactor = MemoryReactorClock()
        for description in ["tcp://127.0.0.1:8080", "http://127.0.0.1:8080/",
                            "tcp://*:8080"]:
            error = self.assertRaises(
                ValueError, serverFromString, reactor, withBacklog(description)
            )
            self.assertEqual(_frontservice._endpointError(description, error), said, description)
        self.assertEqual(
            _frontservice._endpointError("tcp:80x", ValueError("x")), "x"
        )

    def test_spacedEndpoint(self) -> None:
        """
        Two endpoints in one value (C{--stats "tcp:8081 tcp:8082"}, or
        C{TXMP_MPFRONT_STATS} so set, which is not a list), which Twisted's
        parser refused with C{invalid literal for int() with base 10:
        '8081 tcp'} or C{got multiple values for argument 'interface'}, are
        said to be one endpoint each.
        """
        said = (
            "an endpoint has no white space: give each --listen as an option "
            "of its own (in TXMP_MPFRONT_LISTEN, separated by spaces; in a "
            "--config file, as a list); --stats takes one"
        )
        reactor = MemoryReactorClock()
        for description in ["tcp:8081 tcp:8082",
                            "tcp:8081:interface=127.0.0.1 tcp:8082:interface=127.0.0.1",
                            "tcp:8081\ttcp:8082"]:
            error = self.assertRaises(
                (ValueError, TypeError), serverFromString, reactor, withBacklog(description)
            )
            self.assertEqual(_frontservice._endpointError(description, error), said, description)

    def test_unknownParameter(self) -> None:
        """
        A parameter the endpoint does not take (a typo, C{interfce=}), which
        Twisted's parser refused with C{_parseTCP() got an unexpected keyword
        argument 'interfce'}, naming a function of Twisted's, is said to be
        none of that kind of endpoint's.
        """
        reactor = MemoryReactorClock()
        for description, kind, name in [
            ("tcp:8080:interfce=127.0.0.1", "tcp", "interfce"),
            ("unix:/run/txmp.sock:bogus=1", "unix", "bogus"),
        ]:
            error = self.assertRaises(TypeError, serverFromString, reactor,
                                      withBacklog(description))
            self.assertEqual(
                _frontservice._endpointError(description, error),
                f"{kind}: endpoints take no parameter {name!r} (a typo? see "
                "Twisted's endpoint descriptions: tcp takes interface and "
                "backlog, unix mode and lockfile, ssl privateKey, certKey and "
                "more)",
                description,
            )

    def test_tlsExtraMissing(self) -> None:
        """
        A C{--listen ssl:} that Twisted cannot make for want of pyOpenSSL
        (the C{tls} extra not installed, as on Debian's PyPy, which cannot
        build it) is said to need the C{tls} extra, where Twisted said only
        C{No module named 'OpenSSL'}; another module missing is not.
        """
        description = "ssl:8443:privateKey=key.pem"
        said = _frontservice._endpointError(
            description, ModuleNotFoundError("No module named 'OpenSSL'", name="OpenSSL")
        )
        self.assertEqual(
            said,
            "TLS needs pyOpenSSL, of txmp's tls extra, which is not installed "
            "(No module named 'OpenSSL'): install txmp with [tls], or terminate "
            'TLS in a proxy (see "TLS" in docs/deployment.md)',
        )
        self.assertEqual(
            _frontservice._endpointError(
                description, ModuleNotFoundError("No module named 'foo'", name="foo")
            ),
            "No module named 'foo'",
        )

    def test_startFailureLoggedCritical(self) -> None:
        """
        A front that cannot start once twistd has begun its log (here, its
        access log gone) logs its one line at level C{critical}, which no
        C{--log-level} drops, and exits with status 1 printing nothing
        more: the line was the C{SystemExit}'s, which Python prints to
        C{sys.stderr}, a log of level C{error} under twistd, so that
        C{--log-level critical} dropped it and the front exited 1 without
        a word.  The exception still holds the line, for the twistd that
        launched a daemon (L{_exit.leaveTwistd}).
        """
        path = FilePath(self.mktemp()).child("access.log")
        path.parent().makedirs()
        options = fronttap.Options()
        options.parseOptions(["--access-log", path.path])
        path.parent().remove()
        self.patch(_frontservice, "ZmqContext", lambda reactor: MemoryNetwork())
        self.patch(_frontservice.FrontService, "_secure", lambda *args: None)
        front = _frontservice.FrontService(
            cast(IFrontReactor, MemoryReactorClock()), options.settings()
        )
        line = f"mpfront: --access-log {path.path}: No such file or directory"
        with capturedLogs() as events:
            error = self.assertRaises(SystemExit, front.startService)
        self.assertEqual(
            [(e["log_level"], formatEvent(e)) for e in events], [(LogLevel.critical, line)]
        )
        self.assertEqual((error.code, str(error)), (1, line))

    def test_straySignalsLogged(self) -> None:
        """
        A front's actions for C{SIGUSR2}, and without C{--spawn} for
        C{SIGTTIN} and C{SIGTTOU}, each log one line naming the signal,
        saying it is ignored and what to do instead.
        """
        for action, name, advice in [
            (_frontservice._profileElsewhere, "SIGUSR2", "mphandler"),
            (_frontservice._noHandlersToAdd, "SIGTTIN", "start another mphandler"),
            (_frontservice._noHandlersToRemove, "SIGTTOU", "SIGTERM"),
        ]:
            with capturedLogs() as events:
                action()
            [event] = events
            text = formatEvent(event)
            self.assertTrue(text.startswith(name + ": ignored; "), text)
            self.assertIn(advice, text)

    def test_spawn(self) -> None:
        """
        With C{--spawn N}, the tree holds, in the order they start, the
        front's private directory, the front (and its signal actions, where
        C{SIGTTIN} adds a handler and C{SIGUSR2} is still only logged), and
        the spawned handlers, whose process monitor is given nothing to run
        before it starts (their command lines need the directory).
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "2", "--app", "txmp.demo:app"])
        top = fronttap.makeService(options, cast(IFrontReactor, MemoryReactorClock()))
        links, front, actions, spawned = list(IServiceCollection(top))
        self.assertIsInstance(links, _frontservice.PrivateLinks)
        self.assertIsInstance(front, _frontservice.FrontService)
        self.assertIsInstance(actions, SignalActions)
        self.assertIsInstance(spawned, _frontservice.SpawnedHandlers)
        self.assertEqual(set(actions.immediate), {signal.SIGINT, signal.SIGTERM})
        self.assertIs(actions.immediate[signal.SIGINT], actions.immediate[signal.SIGTERM])
        self.assertEqual(actions.actions[signal.SIGTTIN], spawned.increase)
        self.assertEqual(actions.actions[signal.SIGUSR2], _frontservice._profileElsewhere)
        [monitor] = [s for s in IServiceCollection(spawned)
                     if isinstance(s, ProcessMonitor)]
        # (Its delays, one per process added: not its processes property,
        # deprecated since Twisted 18.7.)
        self.assertEqual(monitor.delay, {})
        self.assertEqual(monitor.killTime, 40)
        self.assertEqual(
            [str(w["message"]) for w in self.flushWarnings()
             if issubclass(w["category"], DeprecationWarning)],
            [],
        )

    def test_stoppingWithPrivateAddresses(self) -> None:
        """
        With C{--spawn} and no C{--send} or C{--return}, SIGINT and SIGTERM
        tell the spawned handlers' service that the front stops, and the
        dispatcher, from the signal handler, that no handler can join but
        one of those that still boots (none other can reach its private
        addresses), then, in the reactor thread, to answer its queue if no
        handler can take it.  Given an address, other handlers may join,
        and the dispatcher is not told.
        """
        for extra, private in [([], True), (["--send", "tcp://127.0.0.1:19999"], False)]:
            options = fronttap.Options()
            options.parseOptions(["--spawn", "2", "--app", "txmp.demo:app", *extra])
            reactor = FakeReactor()
            top = fronttap.makeService(options, cast(IFrontReactor, reactor))
            _links, front, actions, spawned = list(IServiceCollection(top))
            assert isinstance(front, _frontservice.FrontService)
            assert isinstance(spawned, _frontservice.SpawnedHandlers)
            told: list[object] = []
            # The dispatcher a started front has, as far as this goes.
            front.dispatcher = cast(Dispatcher, types.SimpleNamespace(
                lastHandlers=told.append,
                failStranded=functools.partial(told.append, "failStranded"),
            ))
            actions.immediate[signal.SIGTERM]()
            self.assertTrue(spawned._stopping)
            if not private:
                reactor.run()
                self.assertEqual((told, reactor.flush()), ([], 0))
                continue
            [mayJoin] = told
            assert callable(mayJoin)
            self.assertEqual(mayJoin(), spawned.booting)
            reactor.run()
            reactor.flush()
            self.assertEqual(told[1:], ["failStranded"])

    def test_spawnedCommands(self) -> None:
        """
        Started after the private directory, the spawned handlers run
        L{_frontservice.handlerCommand} with the front's PID and the private
        C{ipc://} addresses.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "2", "--app", "txmp.demo:app"])
        links = _frontservice.PrivateLinks(options.settings())
        links.startService()
        self.addCleanup(links.stopService)
        reactor = FakeReactor()
        spawned = _frontservice.SpawnedHandlers(
            cast(IFrontReactor, reactor), options.settings(), links
        )
        spawned.startService()
        self.addCleanup(spawned.stopService)
        host = socket.gethostname()
        self.assertEqual(
            [args for args, _ in reactor.spawned],
            [_frontservice.handlerCommand(
                options.settings(), host + ":spawn-%d" % (n,), os.getpid()
            ) for n in (1, 2)],
        )
        args = reactor.spawned[0][0]
        assert links.directory is not None
        self.assertEqual(
            args[args.index("--send") + 1], "ipc://" + os.path.join(links.directory, "send")
        )

    def spawnedHandlers(
        self, count: int
    ) -> tuple[_frontservice.SpawnedHandlers, FakeReactor]:
        """
        The L{SpawnedHandlers} of C{mpfront --spawn COUNT --app
        txmp.demo:app}, not started, and the fake reactor they spawn with.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", str(count), "--app", "txmp.demo:app"])
        reactor = FakeReactor()
        spawned = _frontservice.SpawnedHandlers(cast(IFrontReactor, reactor), options.settings())
        return spawned, reactor

    def test_spawnedHandlerNamesInStartOrder(self) -> None:
        """
        L{SpawnedHandlers.names} lists the handlers in the order they
        started, by the number their names end in: C{spawn-10} after
        C{spawn-9}, not after C{spawn-1} as it sorts as text.
        """
        spawned, _ = self.spawnedHandlers(10)
        spawned.startService()
        self.addCleanup(spawned.stopService)
        host = socket.gethostname()
        self.assertEqual(spawned.names, [f"{host}:spawn-{n}" for n in range(1, 11)])

    def test_drainingSpawnedHandlerReplaced(self) -> None:
        """
        When a spawned handler starts draining, a replacement is added at
        once and the draining one is no longer supervised; a handler that
        is not ours changes nothing.
        """
        spawned, reactor = self.spawnedHandlers(2)
        spawned.startService()
        self.addCleanup(spawned.stopService)
        host = socket.gethostname()
        spawned.handlerDraining("elsewhere:1234")
        self.assertEqual(spawned.names, [host + ":spawn-1", host + ":spawn-2"])
        spawned.handlerDraining(host + ":spawn-1")
        self.assertEqual(spawned.names, [host + ":spawn-2", host + ":spawn-3"])
        # Started: the two first, then the replacement; the draining one
        # got SIGTERM (which it ignores: it is draining already).
        self.assertEqual(
            [args[args.index("--name") + 1] for args, _ in reactor.spawned],
            [host + ":spawn-1", host + ":spawn-2", host + ":spawn-3"],
        )
        self.assertEqual(reactor.spawned[0][1].signals, ["TERM"])


    def test_stopAfterFrontDrained(self) -> None:
        """
        Stopping, the spawned handlers get C{SIGTERM} only once C{stopAfter}
        (the front's drain) has fired: the requests the front is finishing
        need them.
        """
        spawned, reactor = self.spawnedHandlers(1)
        drained: Deferred[None] = Deferred()
        spawned.stopAfter = lambda: drained
        spawned.startService()
        [(_, process)] = reactor.spawned
        stopped = spawned.stopService()
        self.assertEqual(process.signals, [])
        self.assertNoResult(stopped)
        # Meanwhile, a handler that drains is not replaced.
        name = socket.gethostname() + ":spawn-1"
        spawned.handlerDraining(name)
        self.assertEqual(spawned.names, [name])
        drained.callback(None)
        self.assertEqual(process.signals, ["TERM"])
        self.assertEqual(len(reactor.spawned), 1)


class FrontTreeTests(SynchronousTestCase):
    """
    Tests for L{_frontservice._FrontTree}, the service tree of C{mpfront}.
    """

    def test_startFailureStopsStarted(self) -> None:
        """
        When a service cannot start (C{SystemExit}, the one-line refusal),
        those started before it are stopped, last first, and the
        C{SystemExit} goes on to twistd; those after it never start.
        """
        stopped: list[str] = []

        class Started(Service):
            def __init__(self, name: str) -> None:
                self.label = name

            def stopService(self) -> None:
                Service.stopService(self)
                stopped.append(self.label)

        class Refusing(Service):
            def startService(self) -> None:
                raise SystemExit("mpfront: --listen tcp:80: in use")

        tree = _frontservice._FrontTree()
        first, second, after = Started("first"), Started("second"), Started("after")
        for service in [first, second, Refusing(), after]:
            service.setServiceParent(tree)
        error = self.assertRaises(SystemExit, tree.startService)
        self.assertEqual(str(error), "mpfront: --listen tcp:80: in use")
        self.assertEqual(stopped, ["second", "first"])
        self.assertFalse(after.running)

    def test_spawnDirectoryRemoved(self) -> None:
        """
        A C{--spawn} front whose front service cannot start leaves no
        private directory: the tree stops the L{_frontservice.PrivateLinks}
        that made it.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "1", "--app", "txmp.demo:app"])
        top = fronttap.makeService(options, cast(IFrontReactor, MemoryReactorClock()))
        links, front = list(IServiceCollection(top))[:2]
        assert isinstance(links, _frontservice.PrivateLinks)
        made: list[str] = []

        def refuse() -> None:
            assert links.directory is not None
            made.append(links.directory)
            raise SystemExit("mpfront: --listen tcp:80: in use")

        front.startService = refuse
        self.assertRaises(SystemExit, top.startService)
        self.assertEqual(len(made), 1)
        self.assertFalse(os.path.exists(made[0]))

    def test_spawnDirectoryKeptWhileFrontStops(self) -> None:
        """
        Stopping, a C{--spawn} front's tree removes its private directory
        only once the front has stopped (L{_frontservice.FrontService.whenStopped}),
        not as the front begins to drain: a handler still booting then
        found no socket to connect to, never joined, and the requests in
        the front's queue waited for C{--queue-timeout} and got 503.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "1", "--app", "txmp.demo:app"])
        top = fronttap.makeService(options, cast(IFrontReactor, MemoryReactorClock()))
        links, front = list(IServiceCollection(top))[:2]
        assert isinstance(links, _frontservice.PrivateLinks)
        assert isinstance(front, _frontservice.FrontService)
        self.assertEqual(links.stopAfter, front.whenStopped)

    def test_spawnDirectoryRemovedAfterAbandon(self) -> None:
        """
        A C{--spawn} front that gives up starting once its sockets are
        made (its access log cannot be opened) counts as stopped: its
        tree still removes the private directory, though the front's stop,
        which waits for the reactor, never ends.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        options = fronttap.Options()
        options.parseOptions([
            "--spawn", "1", "--app", "txmp.demo:app",
            "--access-log", directory.child("access.log").path,
        ])
        # (Gone since the options were checked.)
        directory.remove()
        self.patch(_frontservice, "ZmqContext", lambda reactor: MemoryNetwork())
        self.patch(_frontservice, "raiseFileLimit", lambda: (1024, 1024))
        self.patch(_frontservice.FrontService, "_secure", lambda *args: None)
        reactor = MemoryReactorClock()
        listenTCP = reactor.listenTCP

        def listen(*args: Any, **kwargs: Any) -> Any:
            # A real port closes in the reactor, which will not run.
            port = listenTCP(*args, **kwargs)
            port.stopListening = Deferred
            return port

        self.patch(reactor, "listenTCP", listen)
        top = fronttap.makeService(options, cast(IFrontReactor, reactor))
        links = next(iter(IServiceCollection(top)))
        assert isinstance(links, _frontservice.PrivateLinks)
        made: list[str] = []
        start = links.startService

        def startLinks() -> None:
            start()
            assert links.directory is not None
            made.append(links.directory)

        links.startService = startLinks  # type: ignore[method-assign]
        error = self.assertRaises(SystemExit, top.startService)
        self.assertIn("--access-log", str(error))
        self.assertEqual(len(made), 1)
        self.assertFalse(os.path.exists(made[0]))

    def test_startFailureLeavesTwistd(self) -> None:
        """
        A front that cannot start removes its twistd's pidfile and tells
        the twistd that launched it as a daemon why (L{_exit.leaveTwistd}):
        twistd does so for an exception, not for the C{SystemExit} that
        carries the one line, and its launcher waited for ever.
        """
        daemon, pidfile, read = underTwistdDaemon(self)
        options = fronttap.Options()
        options.parseOptions([])
        options.parent = daemon.parent
        # The front's tree, whose front refuses as one whose port is in use.
        top = fronttap.makeService(options, cast(IFrontReactor, MemoryReactorClock()))
        front = next(iter(IServiceCollection(top)))

        def refuse() -> None:
            raise SystemExit("mpfront: --listen tcp:80: in use")

        front.startService = refuse
        self.assertRaises(SystemExit, top.startService)
        self.assertFalse(pidfile.exists())
        self.assertEqual(os.read(read, 200), b"1 mpfront: --listen tcp:80: in use")


def underTwistdDaemon(case: SynchronousTestCase) -> tuple[Any, FilePath[str], int]:
    """
    Options whose C{parent} is twistd's, as a daemon that twistd has
    started: its pidfile, which holds this process's PID, and its status
    pipe to the launching C{twistd}, whose reading end is returned.
    """
    pidfile = FilePath(case.mktemp())
    pidfile.setContent(b"%d" % (os.getpid(),))
    read, write = os.pipe()
    case.addCleanup(os.close, read)
    # (Closed by the code under test, unless it fails.)
    case.addCleanup(lambda: os.close(write) if twistd["statusPipe"] is not None else None)
    twistd = FakeTwistdOptions(pidfile=pidfile.path, statusPipe=write)
    options = types.SimpleNamespace(parent=twistd)
    return options, pidfile, read


class LeaveTwistdTests(SynchronousTestCase):
    """
    Tests for L{_exit.leaveTwistd}, what twistd does for a process that
    cannot start, done for the one-line C{SystemExit} txmp raises.
    """

    def test_startFailed(self) -> None:
        """
        Given the line saying why it could not start, it removes the
        pidfile, and writes C{1} and the line to the launching C{twistd}'s
        status pipe, then closes it, as twistd does for an exception
        (that C{twistd} prints it and exits with status 1).
        """
        options, pidfile, read = underTwistdDaemon(self)
        _exit.leaveTwistd(options, "mpfront: --listen tcp:80: in use")
        self.assertFalse(pidfile.exists())
        self.assertEqual(os.read(read, 200), b"1 mpfront: --listen tcp:80: in use")
        self.assertEqual(os.read(read, 200), b"")

    def test_pidfileRemovedBeforeLauncherTold(self) -> None:
        """
        The pidfile is gone by the time the line is written to the status
        pipe: the launching C{twistd} exits as soon as it reads it, and a
        service manager or script that then starts the service again found
        the failed daemon's pidfile, naming a process still running (the
        system test C{test_daemonCannotStart} saw it, under load).
        """
        options, pidfile, read = underTwistdDaemon(self)
        existed: list[bool] = []
        write = os.write

        def writeSeeing(fd: int, data: bytes) -> int:
            existed.append(pidfile.exists())
            return write(fd, data)

        self.patch(os, "write", writeSeeing)
        _exit.leaveTwistd(options, "mpfront: --listen tcp:80: in use")
        self.assertEqual(existed, [False])
        self.assertEqual(os.read(read, 200), b"1 mpfront: --listen tcp:80: in use")

    def test_longLine(self) -> None:
        """
        At most 100 bytes go down the pipe, as twistd writes: its launcher
        reads 100.
        """
        options, _, read = underTwistdDaemon(self)
        _exit.leaveTwistd(options, "x" * 200)
        self.assertEqual(os.read(read, 200), b"1 " + b"x" * 98)

    def test_exiting(self) -> None:
        """
        Without a line (exiting once started, when twistd has written to
        the pipe already and closed it), only the pidfile is removed.
        """
        options, pidfile, _ = underTwistdDaemon(self)
        write = options.parent["statusPipe"]
        _exit.leaveTwistd(options)
        self.assertFalse(pidfile.exists())
        self.assertEqual(options.parent["statusPipe"], write)

    def test_othersPidfile(self) -> None:
        """
        A pidfile that names another process (another twistd's, written
        over ours) is left alone.
        """
        options, pidfile, _ = underTwistdDaemon(self)
        pidfile.setContent(b"1")
        _exit.leaveTwistd(options, "why")
        self.assertEqual(pidfile.getContent(), b"1")

    def test_notUnderTwistd(self) -> None:
        """
        Options parsed alone (no twistd parent), or under a twistd in the
        foreground without a pidfile, are no error.
        """
        _exit.leaveTwistd(object(), "why")
        _exit.leaveTwistd(types.SimpleNamespace(parent=None), "why")
        _exit.leaveTwistd(
            types.SimpleNamespace(parent=FakeTwistdOptions(pidfile="", statusPipe=None)), "why"
        )


class StopAndExitTests(SynchronousTestCase):
    """
    Tests for L{_frontservice._stopAndExit}, how a front that cannot go on
    exits non-zero.
    """

    def stoppedWith(self, reactor: FakeReactor) -> list[int]:
        """
        The statuses the process exits with once C{reactor} has stopped.
        """
        exits: list[int] = []
        self.patch(os, "_exit", exits.append)
        reactor.flush()
        return exits

    def test_stopsThenExits(self) -> None:
        """
        The reactor stops, then the process exits with the status.
        """
        reactor = FakeReactor()
        reactor.run()
        _frontservice._stopAndExit(reactor, 3)
        self.assertEqual(self.stoppedWith(reactor), [3])

    def test_pidfileRemoved(self) -> None:
        """
        Given the front's options, it removes their twistd's pidfile before
        the exit, which skips twistd's own removal.
        """
        options, pidfile, _ = underTwistdDaemon(self)
        reactor = FakeReactor()
        reactor.run()
        _frontservice._stopAndExit(reactor, 3, options)
        self.assertTrue(os.path.exists(pidfile.path))
        self.assertEqual(self.stoppedWith(reactor), [3])
        self.assertFalse(os.path.exists(pidfile.path))

    def test_alreadyStopping(self) -> None:
        """
        A front already stopping (SIGTERM came first) exits with the status
        once stopped, and nothing raises.
        """
        reactor = FakeReactor()
        reactor.run()
        reactor.stop()
        _frontservice._stopAndExit(reactor, 3)
        self.assertEqual(self.stoppedWith(reactor), [3])


class ReadyLineTests(SynchronousTestCase):
    """
    L{_frontservice.FrontService} says C{mpfront ready} once it can be
    stopped in good order.
    """

    def test_readyOnceRunning(self) -> None:
        """
        Its ports listening before the reactor runs (as twistd starts the
        services), the front says C{mpfront ready} only once the reactor
        runs, when the reactor's C{SIGTERM} and C{SIGINT} handlers are in
        place: whoever reads the line may stop the front at once, which
        before would kill it undrained (C{SIGTERM}'s default action).  Its
        C{listening} fires at once.
        """
        reactor = MemoryReactorClock()
        options = fronttap.Options()
        options.parseOptions([])
        front = _frontservice.FrontService(cast(IFrontReactor, reactor), options.settings())
        with capturedLogs() as events:
            front._listening([])
            self.assertEqual(self.successResultOf(front.listening), [])
            self.assertEqual(events, [])
            reactor.run()
        [ready] = events
        self.assertTrue(formatEvent(ready).startswith("mpfront ready: "), formatEvent(ready))

    def test_handlerStartedOnceRunning(self) -> None:
        """
        Its services started before the reactor runs (as twistd starts
        them), a handler says C{mphandler NAME started} only once the
        reactor runs, when the reactor's C{SIGTERM} and C{SIGINT} handlers
        are in place: whoever reads the line may stop the handler at once,
        which before would kill it undrained (C{SIGTERM}'s default action).
        """
        network = MemoryNetwork()
        self.patch(_handlerservice, "ZmqContext", lambda reactor: network)
        self.patch(_handlerservice, "newPool", lambda threads: SynchronousThreadPool())
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", "--name", "h1"])
        reactor = FakeReactor()
        handler = _handlerservice.HandlerService(
            cast(IHandlerReactor, reactor), options.settings()
        )

        def startedLines() -> list[str]:
            return [line for line in (formatEvent(event) for event in events)
                    if line.startswith("mphandler h1 started: ")]

        with capturedLogs() as events:
            handler.startService()
            self.addCleanup(handler.stopService)
            self.assertEqual(startedLines(), [])
            reactor.run()
        self.assertEqual(len(startedLines()), 1, events)


class HandlerMountTests(SynchronousTestCase):
    """
    A handler given C{--script-name} runs its application mounted there.
    """

    def startedWith(self, *args: str) -> tuple[object, list[str]]:
        """
        Start a handler's service with C{args}, in memory.

        @return: the application its runner was given, and the lines
            logged.
        """
        network = MemoryNetwork()
        self.patch(_handlerservice, "ZmqContext", lambda reactor: network)
        self.patch(_handlerservice, "newPool", lambda threads: SynchronousThreadPool())
        given: list[object] = []
        runner = WSGIRunner

        def recording(reactor: Any, pool: Any, application: Any, **kw: Any) -> Any:
            given.append(application)
            return runner(reactor, pool, application, **kw)

        self.patch(_handlerservice, "WSGIRunner", recording)
        self.patch(os, "environ", {})
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", "--name", "h1", *args])
        reactor = FakeReactor()
        handler = _handlerservice.HandlerService(
            cast(IHandlerReactor, reactor), options.settings()
        )
        with capturedLogs() as events:
            handler.startService()
            self.addCleanup(handler.stopService)
            reactor.run()
        [application] = given
        return application, [formatEvent(event) for event in events]

    def test_mounted(self) -> None:
        """
        With C{--script-name}, the runner runs the application under
        L{Mounted}, and the handler says where when it starts.
        """
        application, lines = self.startedWith("--script-name", "/app/")
        assert isinstance(application, Mounted)
        self.assertIs(application.application, demo.app)
        self.assertEqual(application.prefix, "/app")
        self.assertIn("app txmp.demo:app under /app,", "\n".join(lines))

    def test_mountedShownAsWritten(self) -> None:
        """
        The handler says where it mounts its application as the operator
        wrote the prefix, not as PEP 3333's string of its UTF-8 bytes, as
        its line for a path outside the prefix says it.
        """
        application, lines = self.startedWith("--script-name", "/caf\xe9")
        assert isinstance(application, Mounted)
        self.assertEqual(application.prefix, "/caf\xc3\xa9")
        self.assertIn("app txmp.demo:app under /caf\xe9,", "\n".join(lines))

    def test_notMounted(self) -> None:
        """
        Without it, the runner runs the application itself.
        """
        application, lines = self.startedWith()
        self.assertIs(application, demo.app)
        self.assertNotIn(" under ", "\n".join(lines))


class PrivateLinksTests(SynchronousTestCase):
    """
    Tests for L{_frontservice.PrivateLinks}, the private directory of a front
    that spawns its handlers.
    """

    def start(self, *args: str) -> tuple[fronttap.Options, _frontservice.PrivateLinks]:
        """
        Parse C{--spawn 1 --app txmp.demo:app} and C{args}, and start a
        L{_frontservice.PrivateLinks} with these options.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "1", "--app", "txmp.demo:app", *args])
        links = _frontservice.PrivateLinks(options.settings())
        links.startService()
        self.addCleanup(links.stopService)
        return options, links

    def test_privateAddresses(self) -> None:
        """
        With no address given, the front binds C{ipc://} sockets in a new
        directory of mode 0700 owned by this user, which is removed when
        the front stops.
        """
        options, links = self.start()
        directory = links.directory
        assert directory is not None
        status = os.stat(directory)
        self.assertEqual(stat.S_IMODE(status.st_mode), 0o700)
        self.assertEqual(status.st_uid, os.getuid())
        self.assertEqual(
            (options["send"], options["return"]),
            ("ipc://" + os.path.join(directory, "send"),
             "ipc://" + os.path.join(directory, "return")),
        )
        self.assertIsNone(links.handlerCurve)
        links.stopService()
        self.assertFalse(os.path.exists(directory))
        self.assertIsNone(links.directory)

    def test_removedOnceFrontStopped(self) -> None:
        """
        With C{stopAfter} set (the front's L{_frontservice.FrontService.whenStopped}),
        stopping leaves the directory, its sockets and keys, until its
        result fires: a handler that was still booting as the front began
        to stop (a reload's, or one that replaces a recycled handler) can
        still join, and serve the requests waiting in the front's queue.
        Its removal then fires the stop's L{Deferred}.
        """
        _options, links = self.start()
        directory = links.directory
        assert directory is not None
        frontStopped: Deferred[None] = Deferred()
        links.stopAfter = lambda: frontStopped
        stopped = links.stopService()
        assert stopped is not None
        self.assertNoResult(stopped)
        self.assertTrue(os.path.isdir(directory))
        frontStopped.callback(None)
        self.assertIsNone(self.successResultOf(stopped))
        self.assertFalse(os.path.exists(directory))
        self.assertIsNone(links.directory)

    def test_givenAddresses(self) -> None:
        """
        With addresses given and no CURVE, nothing is made and the
        addresses stay.
        """
        options, links = self.start("--send", "ipc:///tmp/s", "--return", "ipc:///tmp/r")
        self.assertIsNone(links.directory)
        self.assertEqual((options["send"], options["return"]), ("ipc:///tmp/s", "ipc:///tmp/r"))

    def test_curve(self) -> None:
        """
        With CURVE, the directory holds an ephemeral key pair for the
        spawned handlers, whose public key the front allows besides those
        of C{--curve-allow} (C{curve-spawn-key}), and the front's public
        certificate (no secret key in it); a spawned handler's command line
        names the files, and C{mphandler} loads them into the keys of the
        front's pair.
        """
        keys, allow = os.path.abspath(self.mktemp()), os.path.abspath(self.mktemp())
        os.makedirs(allow)
        createKeyPair(keys, "front")
        createKeyPair(keys, "other")
        os.rename(os.path.join(keys, "other.key"), os.path.join(allow, "other.key"))
        options, links = self.start(
            "--curve-secret-key", os.path.join(keys, "front.key_secret"),
            "--curve-allow", allow,
        )
        assert links.directory is not None and links.handlerCurve is not None
        secretFile, serverFile = links.handlerCurve
        self.assertEqual(os.path.dirname(secretFile), links.directory)
        self.assertEqual(stat.S_IMODE(os.stat(secretFile).st_mode), 0o600)
        frontPublic, _frontSecret = options["curve"]
        self.assertEqual(loadKeyPair(serverFile), (frontPublic, None))
        spawnPublic, spawnSecret = loadKeyPair(secretFile)
        self.assertEqual(options["curve-spawn-key"], spawnPublic)
        self.assertEqual(
            options["curve-allowed"], {loadKeyPair(os.path.join(allow, "other.key"))[0]}
        )
        command = _frontservice.handlerCommand(options.settings(), "n", 1, links.handlerCurve)
        handlerOptions = handlertap.Options()
        handlerOptions.parseOptions(command[command.index("mphandler") + 1:])
        self.assertEqual(handlerOptions["curve"], [(spawnPublic, spawnSecret, frontPublic)])
        self.assertEqual(handlerOptions["fronts"], [(options["send"], options["return"])])


class ParentWatchTests(SynchronousTestCase):
    """
    Tests for L{_handlerservice.ParentWatch}: a spawned handler stops when its
    front is gone.  Its reactor runs once the watch has started, as twistd
    runs it once every service has.
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.parent = 100
        self.asked = 0

        def dieWithParent() -> bool:
            self.asked += 1
            return True

        self.gone: list[bool] = []

        def onGone() -> None:
            # Told before the reactor stops (then the handler stops).
            self.gone.append(self.reactor.hasStopped)

        self.watch = _handlerservice.ParentWatch(
            cast(IHandlerReactor, self.reactor), 100, lambda: "h:spawn-1", 1.0,
            getppid=lambda: self.parent, dieWithParent=dieWithParent, onGone=onGone,
        )

    def start(self) -> None:
        """
        Start the watch, then run the reactor, as twistd does.
        """
        self.watch.startService()
        self.reactor.run()

    def test_parentAlive(self) -> None:
        """
        While the parent lives, the handler runs on; at start, the kernel
        was asked to say when the parent exits.
        """
        self.start()
        self.assertEqual(self.asked, 1)
        self.reactor.advance(10)
        self.assertFalse(self.reactor.hasStopped)

    def test_parentGone(self) -> None:
        """
        When the kernel says the parent exited (C{SIGHUP} calls
        L{_handlerservice.ParentWatch.parentGone}), the handler is told its
        front is gone (C{onGone}), then the reactor is stopped (the handler
        stops, as for C{SIGTERM}), and the reason is logged.
        """
        self.start()
        with capturedLogs() as events:
            self.watch.parentGone()
        self.assertTrue(self.reactor.hasStopped)
        self.assertEqual(self.gone, [False])
        self.assertIn(
            "mphandler h:spawn-1: its front (parent process 100) is gone: stopping",
            [formatEvent(e) for e in events],
        )
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_hangupParentGone(self) -> None:
        """
        C{SIGHUP} (L{_handlerservice.ParentWatch.hangup}) once the parent
        has exited, as Linux sends it then, stops the handler.
        """
        self.start()
        self.parent = 1
        self.watch.hangup()
        self.assertTrue(self.reactor.hasStopped)

    def test_hangupParentRunning(self) -> None:
        """
        C{SIGHUP} while the parent still runs (a terminal's hangup, or
        C{kill -HUP} to the front's whole process group, reach the handlers
        with their front) does not stop the handler, which logs that its
        front is running and what reloads it.
        """
        self.start()
        with capturedLogs() as events:
            self.watch.hangup()
        self.assertFalse(self.reactor.hasStopped)
        self.assertFalse(self.watch.gone)
        self.assertEqual(
            [formatEvent(e) for e in events],
            ["mphandler h:spawn-1: SIGHUP ignored: its front (parent process "
             "100) is running; SIGHUP to the front alone reloads its handlers"],
        )

    def test_watch(self) -> None:
        """
        Where the kernel does not say so, the handler notices within one
        interval that its parent process changed (it was re-parented).
        """
        self.start()
        self.parent = 1
        self.reactor.advance(0.9)
        self.assertFalse(self.reactor.hasStopped)
        self.reactor.advance(0.1)
        self.assertTrue(self.reactor.hasStopped)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_goneBeforeStart(self) -> None:
        """
        A parent that died before the watch started (the kernel would never
        say so) is found gone at once: no check is scheduled, and the
        reason is logged once.
        """
        self.parent = 1
        with capturedLogs() as events:
            self.start()
        self.assertTrue(self.reactor.hasStopped)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(len(events), 1)

    def test_goneBeforeReactorRuns(self) -> None:
        """
        A parent that died while the handler imported its application,
        before its reactor runs (whose C{stop} then raises
        L{ReactorNotRunning}), stops the handler as soon as the reactor
        runs, instead of leaving it running for ever.
        """
        self.parent = 1
        self.watch.startService()
        self.assertFalse(self.reactor.hasStopped)
        self.reactor.run()
        self.assertTrue(self.reactor.hasStopped)
        self.reactor.flush()
        self.assertFalse(self.reactor.running)

    def test_alreadyStopping(self) -> None:
        """
        A front that goes while its handler stops already (C{SIGTERM}, or
        C{--max-requests}) was killed (one that stops in good order
        outlives its handlers): the handler is told (C{onGone}), so that it
        waits no more for that front, once, and the reason is logged; the
        reactor, stopping already, is left alone.
        """
        self.start()
        self.reactor.stop()
        self.watch.stopService()
        with capturedLogs() as events:
            self.watch.parentGone()
            self.watch.parentGone()
        self.assertEqual(self.gone, [True])
        self.assertEqual(
            [formatEvent(e) for e in events],
            ["mphandler h:spawn-1: its front (parent process 100) is gone "
             "while it stops"],
        )

    def test_hangupWhileStopping(self) -> None:
        """
        C{SIGHUP} from the kernel, its parent gone, reaches a handler that
        stops already (its signal handlers stay until the reactor has
        stopped): it is told its front is gone.
        """
        self.start()
        self.reactor.stop()
        self.watch.stopService()
        self.parent = 1
        self.watch.hangup()
        self.assertEqual(self.gone, [True])

    def test_goneBeforeStartNotTold(self) -> None:
        """
        A parent found gone before the watch has started (C{SIGHUP} may come
        as soon as the signal actions are in place) is left to the check
        at start, which stops the reactor: not taken as gone while the
        handler stops.
        """
        self.parent = 1
        self.watch.hangup()
        self.assertFalse(self.watch.gone)
        self.assertEqual(self.gone, [])
        self.start()
        self.assertTrue(self.reactor.hasStopped)
        self.assertEqual(self.gone, [False])

    def test_stoppingUntold(self) -> None:
        """
        If the reactor is stopping before the services have been told, the
        reactor's refusal to stop twice is no error; the parent is gone
        once only.
        """
        self.start()
        self.reactor.stop()
        with capturedLogs() as events:
            self.watch.parentGone()
            self.watch.parentGone()
        self.assertEqual(len(events), 1)

    def test_makeService(self) -> None:
        """
        C{mphandler --parent-pid PID} adds a watch of that parent, whose
        L{_handlerservice.ParentWatch.hangup} C{SIGHUP} calls; without it,
        there is no watch and no C{SIGHUP} action.
        """
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", "--parent-pid", "1234"])
        self.assertEqual(options["parent-pid"], 1234)
        reactor = cast(IHandlerReactor, self.reactor)
        services = list(IServiceCollection(handlertap.makeService(options, reactor)))
        self.assertEqual(
            [type(service) for service in services],
            [_handlerservice.HandlerService, SignalActions, _handlerservice.ParentWatch],
        )
        handler, actions, watch = services
        assert isinstance(actions, SignalActions)
        assert isinstance(watch, _handlerservice.ParentWatch)
        assert isinstance(handler, _handlerservice.HandlerService)
        self.assertEqual(watch._onGone, handler.frontIsGone)
        self.assertEqual(actions.actions, {signal.SIGHUP: watch.hangup,
                                           signal.SIGUSR1: handler.reopenLogs,
                                           signal.SIGUSR2: handler.profileFor,
                                           signal.SIGTTIN: _handlerservice._noWorkersToAdd,
                                           signal.SIGTTOU: _handlerservice._noWorkersToRemove})
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app"])
        self.assertIsNone(options["parent-pid"])
        reactor = cast(IHandlerReactor, self.reactor)
        services = list(IServiceCollection(handlertap.makeService(options, reactor)))
        self.assertEqual(
            [type(service) for service in services],
            [_handlerservice.HandlerService, SignalActions],
        )
        assert isinstance(services[1], SignalActions)
        self.assertEqual(services[1].actions[signal.SIGHUP], _handlerservice._nothingToReload)

    def test_severalFrontsNotGone(self) -> None:
        """
        A handler of several fronts given C{--parent-pid} (run by hand: a
        spawned one has its front alone) does not take its parent for its
        front: when the parent goes, it stops as on C{SIGTERM}, draining
        its other fronts' requests, not cutting them and dropping their
        replies.
        """
        options = handlertap.Options()
        options.parseOptions([
            "--app", "txmp.demo:app", "--parent-pid", "1234",
            "--send", "tcp://127.0.0.1:5556", "--return", "tcp://127.0.0.1:5555",
            "--send", "tcp://127.0.0.1:6556", "--return", "tcp://127.0.0.1:6555",
        ])
        reactor = cast(IHandlerReactor, self.reactor)
        handler, _actions, watch = list(
            IServiceCollection(handlertap.makeService(options, reactor))
        )
        assert isinstance(handler, _handlerservice.HandlerService)
        assert isinstance(watch, _handlerservice.ParentWatch)
        watch._onGone()
        self.assertFalse(handler.frontGone)


class ExitWithoutThreadsTests(SynchronousTestCase):
    """
    Tests for L{_exit.ExitWithoutThreads}: a handler process
    leaves once twistd is done, whatever threads the application left
    running.
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.lingering: list[str] = []
        self.registered: list[Callable[[], None]] = []
        self.exits: list[int] = []
        # What happened, in order: "hooks" for each run of the atexit hooks.
        self.happened: list[str] = []
        self.hook = _exit.ExitWithoutThreads(
            lingering=lambda: self.lingering,
            exit=self.exits.append,
            registerBeforeJoin=self.registered.append,
            runExitHooks=self.runHooks,
        )
        self.hook.install()
        self.hook.watch(self.reactor, "h1")
        self.reactor.run()

    def runHooks(self) -> bool:
        """
        Stand in for L{_exit._runExitHooks}: record that they ran, in time.
        """
        self.happened.append("hooks")
        return True

    def stopReactor(self) -> list[str]:
        """
        Stop the reactor, which fires its shutdown triggers.

        @return: what they logged.
        """
        with capturedLogs() as events:
            self.reactor.stop()
            self.reactor.flush()
        return [formatEvent(e) for e in events]

    def test_noThreadsLeft(self) -> None:
        """
        With no thread left but the main one and daemons, the process exits
        as Python makes it: nothing is logged and nothing forced.
        """
        self.assertEqual(self.registered, [self.hook.interpreterExiting])
        self.assertEqual(self.stopReactor(), [])
        self.hook.interpreterExiting()
        self.assertEqual(self.exits, [])

    def test_lingeringAfterStop(self) -> None:
        """
        Threads that are not daemons, alive once the reactor has stopped,
        are named in the log, and the process exits with status 0 when the
        interpreter would wait for them.
        """
        self.lingering.append("flusher")
        self.assertEqual(
            self.stopReactor(),
            ["mphandler h1: exiting without waiting for 1 threads the application"
             " left running: flusher"],
        )
        self.hook.interpreterExiting()
        self.assertEqual(self.exits, [0])

    def test_lingeringBeforeRun(self) -> None:
        """
        If twistd exits before the reactor ran (the handler could not
        start), the exit status is 1, twistd's.
        """
        self.lingering.append("flusher")
        self.hook.interpreterExiting()
        self.assertEqual(self.exits, [1])

    def test_exitHooksWhenStopped(self) -> None:
        """
        The L{atexit} hooks run once the reactor has stopped (whether by
        C{SIGTERM}, after which twistd kills itself with the signal, or by
        itself), before the lingering threads are counted: a hook may end
        the threads it started, and then none is named.
        """
        self.lingering.append("flusher")
        self.reactor.addSystemEventTrigger(
            "after", "shutdown", lambda: self.happened.append("stopped")
        )
        self.happened.append("running")

        def runHooks() -> bool:
            self.happened.append("hooks")
            self.lingering.clear()
            return True

        self.hook._runExitHooks = runHooks
        self.assertEqual(self.stopReactor(), [])
        self.assertEqual(self.happened, ["running", "hooks", "stopped"])
        self.hook.interpreterExiting()
        self.assertEqual(self.exits, [])

    def test_exitHooksBeforeForcedExit(self) -> None:
        """
        A process that leaves by L{os._exit} (threads lingering, and the
        reactor never ran) runs the L{atexit} hooks first, which Python's
        exit would have run after joining the threads.
        """
        self.lingering.append("flusher")
        self.hook._exit = lambda status: self.happened.append(f"exit {status}")
        self.hook.interpreterExiting()
        self.assertEqual(self.happened, ["hooks", "exit 1"])

    def test_exitHooksRunOnce(self) -> None:
        """
        L{_exit._runExitHooks} runs the hooks registered with L{atexit}
        and forgets them, as L{atexit._run_exitfuncs} does.
        """
        ran: list[str] = []
        self.patch(atexit, "_run_exitfuncs", lambda: ran.append("run"))
        self.assertTrue(_exit._runExitHooks(thread=FakeThread))
        self.assertEqual(ran, ["run"])

    def test_exitHooksBounded(self) -> None:
        """
        L{_exit._runExitHooks} runs the hooks in a thread of their own, a
        daemon, waited for L{_defaults.EXIT_HOOKS_TIMEOUT} seconds: hooks
        still running then (multiprocessing's, joining a child process the
        application left running, waits for ever, and held the handler's
        exit for ever) are forgotten, so that the interpreter's exit does
        not run them again, and it says so.
        """
        made: list[FakeThread] = []
        forgotten: list[bool] = []

        def stuck(target: Callable[[], object], name: str) -> FakeThread:
            # A thread whose target has not ended when its join times out.
            thread = FakeThread(lambda: None, name)
            made.append(thread)
            return thread

        ended = _exit._runExitHooks(
            thread=stuck, run=lambda: None, forget=lambda: forgotten.append(True)
        )
        [thread] = made
        self.assertEqual(
            (ended, forgotten, thread.started, thread.joined, getattr(thread, "daemon", None)),
            (False, [True], True, True, True),
        )

    def test_exitHooksTooLongSaid(self) -> None:
        """
        Hooks that do not end in time are said, and the handler stops all
        the same.
        """
        self.hook._runExitHooks = lambda: False
        self.assertEqual(self.stopReactor(), [
            "mphandler h1: the application's atexit hooks still ran after "
            f"{_defaults.EXIT_HOOKS_TIMEOUT} s: exiting without waiting for them",
        ])

    def test_lingeringThreads(self) -> None:
        """
        L{_exit.lingeringThreads} are the threads that are alive,
        not daemons, and not the main thread.
        """
        alive = threading.current_thread()
        notStarted = threading.Thread(target=lambda: None)
        daemon = threading.Thread(target=lambda: None, daemon=True)
        main = threading.Thread(target=lambda: None)
        self.assertEqual(
            _exit.lingeringThreads([alive, notStarted, daemon, main], main),
            [alive],
        )
        self.assertEqual(_exit.lingeringThreads([alive], alive), [])

    def test_executorThreadsJoined(self) -> None:
        """
        A daemon thread that Python's exit joins all the same (an
        executor's, given as C{joined}) lingers; another daemon does not.
        """

        class AliveDaemon(threading.Thread):
            # (Alive without running: a unit test starts no thread.)
            def is_alive(self) -> bool:
                return True

        worker = AliveDaemon(daemon=True)
        other = AliveDaemon(daemon=True)
        main = threading.Thread(target=lambda: None)
        self.assertEqual(
            _exit.lingeringThreads([worker, other], main, joined={worker}), [worker]
        )

    def test_executorsJoinedAfter(self) -> None:
        """
        The hook is registered after L{concurrent.futures}' own (which
        joins its executors' threads), so that it runs before it: the
        hooks run in the reverse order, and an application imports
        L{concurrent.futures} after the hook is installed.
        """
        registered: list[Callable[[], None]] = []
        self.patch(threading, "_register_atexit", registered.append)
        name = "concurrent.futures.thread"
        old = sys.modules.pop(name, None)

        def restore() -> None:
            if old is not None:
                sys.modules[name] = old
                concurrent.futures.thread = old
            else:
                sys.modules.pop(name, None)

        self.addCleanup(restore)
        hook = _exit.ExitWithoutThreads()
        hook.install()
        self.assertEqual(
            registered, [sys.modules[name]._python_exit, hook.interpreterExiting]
        )

    def test_onlyTwistdsProcess(self) -> None:
        """
        Options parsed alone (by a test, not as twistd's subcommand) change
        nothing about how the process exits.
        """
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app"])
        self.assertNotIn("exiting", options)
        self.assertNotIn("childSignals", options)
        self.assertNotIn("streamDescriptors", options)
        reactor = MemoryReactorClock()
        handlertap.makeService(options, cast(IHandlerReactor, reactor))
        self.assertNotIn("after", reactor.triggers)


class HandlerNameTests(SynchronousTestCase):
    """
    A handler given no C{--name} is named C{HOST:PID} after the process
    that starts its services (L{_handlerservice.HandlerTree}).  twistd
    parses the options and makes the services (L{handlertap.makeService}),
    then, as a daemon, forks, and only then starts them: the process that
    parsed the options has exited by then.
    """

    def setUp(self) -> None:
        network = MemoryNetwork()
        self.patch(_handlerservice, "ZmqContext", lambda reactor: network)
        self.patch(_handlerservice, "newPool", lambda threads: SynchronousThreadPool())
        for number in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTTIN,
                       signal.SIGTTOU, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
            self.addCleanup(signal.signal, number, signal.getsignal(number))
        self.reactor = FakeReactor()
        self.lingering: list[str] = []
        self.daemon = os.getpid() + 1

    def startForked(self, *arguments: str) -> tuple[Any, list[str]]:
        """
        Parse C{mphandler}'s options C{arguments} and make its services as
        twistd does, with an L{_exit.ExitWithoutThreads} for its exit; then,
        as the daemon twistd forked (whose PID is L{daemon}), start them
        and run the reactor; then stop it.

        @return: the options, and the lines logged meanwhile.
        """
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", *arguments])
        options["exiting"] = _exit.ExitWithoutThreads(
            lingering=lambda: ["worker"], exit=lambda status: None,
            registerBeforeJoin=lambda call: None, runExitHooks=lambda: True,
        )
        self.forkHooks: list[dict[str, object]] = []
        forkHooks = self.forkHooks

        class Recorded(ForkedChildSignals):
            def install(self, register: Callable[..., None] = print) -> None:
                forkHooks.append({"pid": os.getpid()})

        options["childSignals"] = Recorded()
        top = handlertap.makeService(options, cast(IHandlerReactor, self.reactor))
        self.patch(os, "getpid", lambda: self.daemon)
        with capturedLogs() as events:
            # As twistd starts and stops the services.
            top.startService()
            self.reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
            self.reactor.run()
            self.reactor.stop()
            self.reactor.flush()
        return options, [formatEvent(event) for event in events]

    def test_namedWhenStarted(self) -> None:
        """
        Given no C{--name}, the handler's name holds the PID of the process
        that started its services, the daemon's: in its lines, in the
        C{HELLO} its front reads, and in what its exit logs.
        """
        options, lines = self.startForked()
        name = "%s:%d" % (socket.gethostname(), self.daemon)
        self.assertEqual(options["name"], name)
        self.assertIn(f"mphandler {name} started", " ".join(lines))
        self.assertIn(f"mphandler {name} stopped", " ".join(lines))
        self.assertIn(f"mphandler {name}: exiting without waiting for 1 threads",
                      " ".join(lines))

    def test_forkHooksWhenStarted(self) -> None:
        """
        The handlers that the application's forked children start with are
        installed when the services start, in the daemon (twistd's own fork,
        before, keeps twistd's handlers).
        """
        self.startForked()
        self.assertEqual(self.forkHooks, [{"pid": self.daemon}])

    def test_nameGiven(self) -> None:
        """
        A C{--name} given is the handler's name, whatever its PID.
        """
        options, lines = self.startForked("--name", "web-3")
        self.assertEqual(options["name"], "web-3")
        self.assertIn("mphandler web-3 started", " ".join(lines))

    def test_parentWatchNamed(self) -> None:
        """
        The watch of a spawned handler's front logs the name given when the
        handler started.
        """
        watchClass = _handlerservice.ParentWatch
        self.patch(_handlerservice, "ParentWatch", functools.partial(
            watchClass, getppid=lambda: 1234, dieWithParent=lambda: True
        ))
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", "--parent-pid", "1234"])
        top = handlertap.makeService(options, cast(IHandlerReactor, self.reactor))
        [_, _, watch] = list(IServiceCollection(top))
        assert isinstance(watch, watchClass)
        self.patch(os, "getpid", lambda: self.daemon)
        top.startService()
        self.reactor.run()
        with capturedLogs() as events:
            watch.parentGone()
            self.reactor.flush()
        self.assertIn(
            "mphandler %s:%d: its front" % (socket.gethostname(), self.daemon),
            " ".join(formatEvent(event) for event in events),
        )


class SpawnedHandlersTests(SynchronousTestCase):
    """
    Tests for L{_frontservice.SpawnedHandlers}' reload, resizing and boot
    failures, with processes that a memory reactor pretends to spawn.
    """

    def setUp(self) -> None:
        options = fronttap.Options()
        options.parseOptions(["--spawn", "2", "--app", "txmp.demo:app"])
        self.reactor = FakeReactor()
        self.spawned = _frontservice.SpawnedHandlers(
            cast(IFrontReactor, self.reactor), options.settings()
        )
        self.spawned.startService()
        self.host = socket.gethostname()

    def name(self, number: int) -> str:
        return "%s:spawn-%d" % (self.host, number)

    def started(self) -> list[bytes | str]:
        """
        The names of the processes started so far, in order.
        """
        return [args[args.index("--name") + 1] for args, _ in self.reactor.spawned]

    def signals(self, name: str) -> list[str]:
        """
        The signals sent to every process named C{name}.
        """
        return [sig for args, process in self.reactor.spawned
                if args[args.index("--name") + 1] == name for sig in process.signals]

    def exits(self, name: str) -> None:
        """
        The process C{name} exits by itself, and its output closes.
        """
        protocol = self.spawned._monitor.protocols[name]
        protocol.processExited(Failure(ProcessDone(0)))
        protocol.processEnded(Failure(ProcessDone(0)))

    def stopping(self, events: Sequence[LogEvent]) -> list[str]:
        """
        The lines that C{events} hold about the front's stopping.
        """
        return [line for line in (formatEvent(event) for event in events)
                if line.startswith("mpfront stopping")]

    def test_booting(self) -> None:
        """
        L{_frontservice.SpawnedHandlers.booting} says whether a handler it
        started and supervises has not joined yet: one retired before it
        joined does not count.
        """
        self.assertTrue(self.spawned.booting)
        self.spawned.handlerJoined(self.name(1))
        self.assertTrue(self.spawned.booting)
        self.spawned.handlerJoined(self.name(2))
        self.assertFalse(self.spawned.booting)
        self.spawned.increase()
        self.assertTrue(self.spawned.booting)
        self.spawned._retire(self.name(3))
        self.assertFalse(self.spawned.booting)

    def test_exitObserved(self) -> None:
        """
        L{_frontservice.SpawnedHandlers.exitObservers} are told the name of
        a handler whose process exits, as it is reaped (before its output
        closes, and before the monitor starts it again).
        """
        told: list[tuple[str, int]] = []
        self.spawned.exitObservers.append(
            lambda name: told.append((name, len(self.reactor.spawned)))
        )
        self.spawned.handlerJoined(self.name(1))
        protocol = self.spawned._monitor.protocols[self.name(1)]
        protocol.processExited(Failure(ProcessTerminated(signal=9)))
        self.assertEqual(told, [(self.name(1), 2)])
        protocol.processEnded(Failure(ProcessTerminated(signal=9)))
        self.reactor.advance(0)
        self.assertEqual(told, [(self.name(1), 2)])
        self.assertEqual(self.started(), [self.name(1), self.name(2), self.name(1)])

    def test_stopWaitsForHandlers(self) -> None:
        """
        Stopping sends C{SIGTERM} to every handler, and fires only once
        each has exited, as gunicorn's arbiter waits for its workers: the
        front exits after them, with all they logged.  It says how many it
        waited for, and how long.
        """
        with capturedLogs() as events:
            stopped = self.spawned.stopService()
            self.assertEqual(self.signals(self.name(1)), ["TERM"])
            self.assertEqual(self.signals(self.name(2)), ["TERM"])
            self.reactor.advance(2)
            self.exits(self.name(1))
            self.assertNoResult(stopped)
            self.reactor.advance(1.5)
            self.exits(self.name(2))
            self.successResultOf(stopped)
        self.assertEqual(
            self.stopping(events),
            ["mpfront stopping: waited 3.5 s for 2 spawned handlers to exit"],
        )
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_stopWaitsForRetiring(self) -> None:
        """
        A handler still draining when the front stops, retired earlier
        (by SIGTTOU here), is waited for too, though no longer supervised.
        """
        with capturedLogs() as events:
            self.spawned.decrease()
            self.reactor.advance(10)
            stopped = self.spawned.stopService()
            self.assertEqual(self.signals(self.name(1)), ["TERM"])
            self.assertEqual(self.signals(self.name(2)), ["TERM"])
            self.exits(self.name(2))
            self.assertNoResult(stopped)
            self.exits(self.name(1))
            self.successResultOf(stopped)
        self.assertEqual(
            self.stopping(events),
            ["mpfront stopping: waited 0.0 s for 2 spawned handlers to exit"],
        )

    def test_stopDuringReload(self) -> None:
        """
        Stopped during a reload, the front waits for the old handlers, the
        one already draining and the one not yet, and for the new ones,
        joined or not: all get C{SIGTERM}, and no handler is started.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.spawned.handlerJoined(self.name(3))
        stopped = self.spawned.stopService()
        names = [self.name(n) for n in (1, 2, 3, 4)]
        self.assertEqual([self.signals(name) for name in names], [["TERM"]] * 4)
        for name in names[:3]:
            self.exits(name)
            self.reactor.advance(1)
            self.assertNoResult(stopped)
        self.exits(names[3])
        self.successResultOf(stopped)
        self.assertEqual(self.started(), names)

    def test_stopBounded(self) -> None:
        """
        A handler still there after C{--graceful-timeout} is sent
        C{SIGKILL} (10 s later: L{SPAWN_KILL_MARGIN}); one that is not gone even then (the kernel
        has not reaped it) keeps the front at most 5 s more, and is named.
        """
        with capturedLogs() as events:
            stopped = self.spawned.stopService()
            self.reactor.advance(39.9)
            self.assertEqual(self.signals(self.name(1)), ["TERM"])
            self.reactor.advance(0.1)
            self.assertEqual(self.signals(self.name(1)), ["TERM", "KILL"])
            self.assertEqual(self.signals(self.name(2)), ["TERM", "KILL"])
            self.exits(self.name(1))
            self.reactor.advance(4.9)
            self.assertNoResult(stopped)
            self.reactor.advance(0.1)
            self.successResultOf(stopped)
        self.assertEqual(
            self.stopping(events),
            ["mpfront stopping: 1 of 2 spawned handlers still there 45.0 s after "
             "SIGTERM, SIGKILL included: %s (PID 1); exiting without them"
             % (self.name(2),)],
        )

    def test_killSaid(self) -> None:
        """
        A handler sent C{SIGKILL} for being still there C{--graceful-timeout}
        and 10 s after C{SIGTERM} is named in a warning that says so, before
        its exit line: that line alone ("killed by signal 9") reads as a kill
        from outside (an operator-tester's finding).
        """
        with capturedLogs() as events:
            self.spawned.stopService()
            self.reactor.advance(39.9)
            self.assertEqual(
                [e for e in events if "sending SIGKILL" in e["log_format"]], []
            )
            self.reactor.advance(0.1)
        self.assertEqual(
            sorted(
                formatEvent(e) for e in events
                if e["log_level"] == LogLevel.warn and "sending SIGKILL" in e["log_format"]
            ),
            sorted(
                "spawned handler %s (PID %s) still there 40.0 s after SIGTERM (its "
                "--graceful-timeout and 10.0 s): sending SIGKILL"
                % (name, self.spawned._running[name].pid)
                for name in (self.name(1), self.name(2))
            ),
        )

    def test_killNotSaidOnceExited(self) -> None:
        """
        A handler that exited just before its C{SIGKILL} was due, while its
        output is still read, is sent none, and no line says it is: the
        warning said "sending SIGKILL" to a process already gone.
        """
        with capturedLogs() as events:
            self.spawned.stopService()
            self.reactor.advance(39.5)
            # Exited by its SIGTERM; a process it started holds its output.
            process = self.spawned._monitor.protocols[self.name(1)].transport
            assert isinstance(process, FakeProcess)
            process.exit(Failure(ProcessTerminated(signal=15)), outputClosed=False)
            self.reactor.advance(0.5)
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.signals(self.name(2)), ["TERM", "KILL"])
        self.assertEqual(
            [formatEvent(e) for e in events if "sending SIGKILL" in e["log_format"]],
            ["spawned handler %s (PID %s) still there 40.0 s after SIGTERM (its "
             "--graceful-timeout and 10.0 s): sending SIGKILL"
             % (self.name(2), self.spawned._running[self.name(2)].pid)],
        )

    def test_outputHeldOpen(self) -> None:
        """
        A handler that has exited while a process it started holds its
        output open is waited for 1 s more, not until that process ends.
        """
        stopped = self.spawned.stopService()
        for name in (self.name(1), self.name(2)):
            self.spawned._monitor.protocols[name].processExited(
                Failure(ProcessDone(0))
            )
        self.reactor.advance(0.9)
        self.assertNoResult(stopped)
        self.reactor.advance(0.1)
        self.successResultOf(stopped)

    def test_stopWithHandlersGone(self) -> None:
        """
        Handlers that exited before the front stopped (Ctrl-C reaches them
        too) are neither restarted nor waited for.
        """
        with capturedLogs() as events:
            self.spawned.frontStopping()
            self.exits(self.name(1))
            self.exits(self.name(2))
            self.reactor.advance(60)
            self.successResultOf(self.spawned.stopService())
        self.assertEqual(len(self.started()), 2)
        self.assertEqual(
            self.stopping(events),
            ["mpfront stopping: waited 0.0 s for 0 spawned handlers to exit"],
        )

    def test_abnormalExitLogged(self) -> None:
        """
        A handler that exits with a status other than 0, or is killed by a
        signal other than SIGTERM or SIGINT (which twistd raises again once
        stopped), is named in a warning with its PID and how it ended:
        procmon restarts it without a word, and a SIGKILL (the OOM killer)
        or a crash leaves nothing in its own log.
        """
        for name in (self.name(1), self.name(2)):
            self.spawned.handlerJoined(name)
        pid = self.spawned._running[self.name(1)].pid
        endings = [
            (self.name(1), ProcessTerminated(signal=signal.SIGKILL)),
            (self.name(2), ProcessTerminated(exitCode=2)),
            (self.name(1), ProcessDone(0)),
            (self.name(2), ProcessTerminated(signal=signal.SIGTERM)),
            (self.name(1), ProcessTerminated(signal=signal.SIGINT)),
        ]
        lines = []
        for name, how in endings:
            protocol = self.spawned._monitor.protocols[name]
            with capturedLogs() as events:
                protocol.processExited(Failure(how))
                protocol.processEnded(Failure(how))
            lines.append([(formatEvent(e), e["log_level"]) for e in events
                          if e.get("log_namespace") == "txmp._frontservice.SpawnedProcess"])
            # (Restarted by procmon; joined again.)
            self.reactor.advance(60)
            self.spawned.handlerJoined(name)
        self.assertEqual(lines, [
            [(f"spawned handler {self.name(1)} (PID {pid}) killed by signal 9 (SIGKILL)",
              LogLevel.warn)],
            [(f"spawned handler {self.name(2)} (PID {pid}) exited with status 2",
              LogLevel.warn)],
            [], [], [],
        ])

    def test_bootFailuresBackOff(self) -> None:
        """
        A handler that exits before it joined (an application that takes
        seconds to load, then fails) is restarted after a delay that
        doubles at each such exit in a row, however long it ran, up to
        L{SPAWN_RESTART_MAX_DELAY}; one that exits after it joined is
        restarted at once, however soon, and its next boot failure waits
        the least delay again.
        """
        name = self.name(1)
        self.spawned.handlerJoined(self.name(2))
        waited = []
        for _ in range(8):
            self.reactor.advance(45)
            with capturedLogs():
                self.exits(name)
            starts = self.started().count(name)
            delay = 0
            while self.started().count(name) == starts:
                self.reactor.advance(1)
                delay += 1
            waited.append(delay)
        self.assertEqual(waited, [1, 2, 4, 8, 16, 32, SPAWN_RESTART_MAX_DELAY,
                                  SPAWN_RESTART_MAX_DELAY])
        self.spawned.handlerJoined(name)
        self.reactor.advance(1)
        starts = self.started().count(name)
        self.exits(name)
        self.reactor.advance(0)
        self.assertEqual(self.started().count(name), starts + 1)
        self.reactor.advance(5)
        with capturedLogs():
            self.exits(name)
        self.reactor.advance(0.99)
        self.assertEqual(self.started().count(name), starts + 1)
        self.reactor.advance(0.01)
        self.assertEqual(self.started().count(name), starts + 2)

    def silentFor(self, name: str, seconds: float) -> list[str]:
        """
        The front declares handler C{name} dead for its silence, and
        C{seconds} pass.

        @return: the lines the spawned handlers' supervisor logged.
        """
        with capturedLogs() as events:
            self.spawned.handlerSilent(name)
            self.reactor.advance(seconds)
        return [formatEvent(e) for e in events
                if e.get("log_namespace") == "txmp._frontservice.SpawnedHandlers"]

    def test_silentKilled(self) -> None:
        """
        A spawned handler declared dead for its silence that has not joined
        again C{--timeout} seconds later (a frozen one: C{SIGSTOP}) is
        killed with C{SIGKILL}, once, with a warning that names it and its
        PID, as gunicorn kills a silent worker; the monitor restarts it.
        The others are left alone.
        """
        for name in (self.name(1), self.name(2)):
            self.spawned.handlerJoined(name)
        self.spawned.handlerSilent(self.name(1))
        self.reactor.advance(DEFAULT_TIMEOUT - 0.1)
        self.assertEqual(self.signals(self.name(1)), [])
        self.reactor.advance(0.1)
        self.assertEqual(self.signals(self.name(1)), ["KILL"])
        self.assertEqual(self.signals(self.name(2)), [])
        self.reactor.advance(DEFAULT_TIMEOUT)
        self.assertEqual(self.signals(self.name(1)), ["KILL"])

    def test_silentKilledLogged(self) -> None:
        """
        Killing a silent handler is logged as a warning, with its name, its
        PID and how long it was given.
        """
        self.spawned.handlerJoined(self.name(1))
        pid = self.spawned._running[self.name(1)].pid
        self.assertEqual(self.silentFor(self.name(1), DEFAULT_TIMEOUT), [
            f"spawned handler {self.name(1)} (PID {pid}) has not joined again"
            f" {DEFAULT_TIMEOUT} s after it was declared dead: killed (SIGKILL),"
            " to be restarted",
        ])

    def test_silentJoinsAgain(self) -> None:
        """
        A handler declared dead that joins again within C{--timeout} (it
        was continued, or the front itself was frozen) is not killed.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerSilent(self.name(1))
        self.reactor.advance(DEFAULT_TIMEOUT / 2)
        self.spawned.handlerJoined(self.name(1))
        self.reactor.advance(DEFAULT_TIMEOUT)
        self.assertEqual(self.signals(self.name(1)), [])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_silentRestartedMeanwhile(self) -> None:
        """
        A silent handler that dies by itself meanwhile is not killed: nor
        is the new process that the monitor starts under its name, which
        is booting, not silent.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerSilent(self.name(1))
        self.exits(self.name(1))
        self.reactor.advance(DEFAULT_TIMEOUT)
        self.assertEqual(self.started().count(self.name(1)), 2)
        self.assertEqual(self.signals(self.name(1)), [])

    def test_silentExitedNotKilled(self) -> None:
        """
        A silent handler that has exited, its output still open (a process
        it started holds it) when its time is up, is not signalled: it was
        reaped, and its PID may be another process's.  Nothing is logged
        of a kill.
        """
        self.spawned.handlerJoined(self.name(1))
        [(_, process)] = [(args, p) for args, p in self.reactor.spawned
                          if args[args.index("--name") + 1] == self.name(1)]
        with capturedLogs() as events:
            self.spawned.handlerSilent(self.name(1))
            self.reactor.advance(DEFAULT_TIMEOUT - SPAWN_OUTPUT_GRACE / 2)
            process.exit(Failure(ProcessDone(0)), outputClosed=False)
            self.reactor.advance(SPAWN_OUTPUT_GRACE / 2)
        self.assertEqual(self.signals(self.name(1)), [])
        self.assertEqual([formatEvent(e) for e in events if "killed" in formatEvent(e)], [])

    def test_silentRetired(self) -> None:
        """
        A silent handler retired meanwhile (SIGTTOU, a reload) is only
        drained, not killed: it is no longer supervised.
        """
        for name in (self.name(1), self.name(2)):
            self.spawned.handlerJoined(name)
        self.spawned.handlerSilent(self.name(1))
        self.spawned.decrease()
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.reactor.advance(DEFAULT_TIMEOUT)
        self.assertEqual(self.signals(self.name(1)), ["TERM"])

    def test_silentWhileStopping(self) -> None:
        """
        No silent handler is killed once the front stops: it stops them,
        and its monitor kills those that outstay their --graceful-timeout.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerSilent(self.name(1))
        self.spawned.stopService()
        # (Before the monitor's own SIGKILL of those that outstay their
        # --graceful-timeout.)
        self.assertLess(DEFAULT_TIMEOUT, self.spawned._monitor.killTime)
        self.reactor.advance(DEFAULT_TIMEOUT)
        self.assertEqual(self.signals(self.name(1)), ["TERM"])

    def test_silentThenRestartedBooting(self) -> None:
        """
        A handler found silent only after it died and was restarted (it
        fell silent, then the kernel killed it) leaves the new process,
        still booting, alone: its application may take longer than
        C{--timeout} to load.
        """
        name = self.name(1)
        self.spawned.handlerJoined(name)
        self.reactor.advance(40)
        self.exits(name)
        self.reactor.advance(0)
        self.assertEqual(self.started().count(name), 2)
        self.spawned.handlerSilent(name)
        self.reactor.advance(DEFAULT_TIMEOUT)
        self.assertEqual(self.signals(name), [])

    def test_silentKillDelayHeartbeats(self) -> None:
        """
        With a C{--timeout} shorter than L{SILENT_KILL_HEARTBEATS}
        heartbeats, a silent handler has that many heartbeats to join
        again: a front whose reactor was starved for a while finds every
        handler silent, and must not kill them all.
        """
        options = fronttap.Options()
        options.parseOptions(["--spawn", "1", "--app", "txmp.demo:app",
                              "--timeout", "2", "--heartbeat", "0.5"])
        spawned = _frontservice.SpawnedHandlers(
            cast(IFrontReactor, self.reactor), options.settings()
        )
        spawned.startService()
        # (Its first handler has the name of the first of self.spawned,
        # which is sent no signal.)
        name = self.name(1)
        spawned.handlerJoined(name)
        spawned.handlerSilent(name)
        self.reactor.advance(SILENT_KILL_HEARTBEATS * 0.5 - 0.01)
        self.assertEqual(self.signals(name), [])
        self.reactor.advance(0.01)
        self.assertEqual(self.signals(name), ["KILL"])

    def test_reload(self) -> None:
        """
        SIGHUP starts a new handler for each, and drains each old one (by
        SIGTERM) only once a new one has joined.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.assertEqual(self.started(), [self.name(n) for n in (1, 2, 3, 4)])
        self.assertEqual(self.signals(self.name(1)), [])
        self.spawned.handlerJoined(self.name(3))
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.signals(self.name(2)), [])
        self.spawned.handlerJoined(self.name(4))
        self.assertEqual(self.signals(self.name(2)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(3), self.name(4)])
        # The old ones draining are not replaced again.
        self.spawned.handlerDraining(self.name(1))
        self.assertEqual(len(self.started()), 4)

    def test_reloadWhileOldRecycles(self) -> None:
        """
        An old handler that drains by itself during a reload (it reached
        C{--max-requests}) is not replaced again: the reload's new handler
        replaces it, so that the reload ends with as many handlers as it
        began with; the reload is done once every new one has joined, and
        one asked for meanwhile follows.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        with capturedLogs() as events:
            self.spawned.handlerDraining(self.name(1))
            self.spawned.reload()
            self.assertEqual(self.signals(self.name(1)), ["TERM"])
            self.assertEqual(len(self.started()), 4)
            self.spawned.handlerJoined(self.name(3))
            self.spawned.handlerJoined(self.name(4))
        self.assertEqual(self.spawned.names, [self.name(3), self.name(4)])
        self.assertIn(
            "reload: done, handlers %s %s" % (self.name(3), self.name(4)),
            [formatEvent(event) for event in events],
        )
        self.reactor.advance(0)
        self.assertEqual(self.started(), [self.name(n) for n in range(1, 7)])

    def test_abandonedReloadKeepsReplacement(self) -> None:
        """
        A reload whose new handlers cannot boot is abandoned, but the new
        handler of an old one that drained by itself meanwhile is kept, as
        its replacement outside a reload would be: the front does not lose
        that handler.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.spawned.handlerDraining(self.name(1))
        for _ in range(_defaults.BOOT_FAILURES):
            self.exits(self.name(3))
            self.reactor.advance(60)
        self.assertEqual(self.spawned.names, [self.name(2), self.name(3)])

    def test_reloadDuringReload(self) -> None:
        """
        SIGHUP during a reload (the code changed again) starts one more
        reload once the first is over, since its new handlers may have
        imported the code before the change: however many came meanwhile,
        one.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        with capturedLogs() as events:
            self.spawned.reload()
            self.spawned.reload()
            self.spawned.reload()
        self.assertIn(
            "reload: already reloading; another will follow once it is done",
            [formatEvent(event) for event in events],
        )
        self.assertEqual(len(self.started()), 4)
        self.spawned.handlerJoined(self.name(3))
        self.spawned.handlerJoined(self.name(4))
        self.reactor.advance(0)
        self.assertEqual(self.started(), [self.name(n) for n in range(1, 7)])
        self.spawned.handlerJoined(self.name(5))
        self.assertEqual(self.signals(self.name(3)), ["TERM"])
        self.spawned.handlerJoined(self.name(6))
        self.assertEqual(self.signals(self.name(4)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(5), self.name(6)])
        self.reactor.advance(0)
        self.assertEqual(len(self.started()), 6)

    def test_reloadAfterAbandonedReload(self) -> None:
        """
        SIGHUP during a reload whose new handlers cannot boot (the second
        deployment fixes the first, say) starts another reload once the
        first is abandoned.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.spawned.reload()
        for _ in range(_defaults.BOOT_FAILURES):
            self.exits(self.name(3))
            self.reactor.advance(60)
        self.assertEqual(self.started()[-2:], [self.name(5), self.name(6)])
        self.spawned.handlerJoined(self.name(5))
        self.spawned.handlerJoined(self.name(6))
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.signals(self.name(2)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(5), self.name(6)])

    def test_reloadAfterFailedBoot(self) -> None:
        """
        SIGHUP during a reload whose new handlers have failed to boot
        already (C{--reload} seeing a broken file saved, then fixed a
        moment later) abandons that reload at once and starts another with
        the code as it is now: waiting for those handlers' restarts, with
        the process monitor's growing delay (1, 2, then 4 seconds), to
        fail L{_defaults.BOOT_FAILURES} times would only delay the fixed
        code by up to 7 seconds.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.exits(self.name(3))
        # Restarted after the monitor's delay: it failed to boot once.
        self.reactor.advance(1)
        self.assertEqual(self.started().count(self.name(3)), 2)
        with capturedLogs() as events:
            self.spawned.reload()
            self.reactor.advance(0)
        self.assertIn(
            "reload failed: the new handlers do not boot (see their lines "
            "above); the old ones go on serving",
            [formatEvent(event) for event in events],
        )
        self.assertEqual(self.started()[-2:], [self.name(5), self.name(6)])
        self.assertEqual(self.signals(self.name(3))[-1:], ["TERM"])
        self.assertEqual(self.signals(self.name(4)), ["TERM"])
        self.spawned.handlerJoined(self.name(5))
        self.spawned.handlerJoined(self.name(6))
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.signals(self.name(2)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(5), self.name(6)])
        # The abandoned reload's failure is not counted against the next.
        self.assertEqual(self.spawned._bootFailures, 0)

    def test_noDeprecatedProcmon(self) -> None:
        """
        Starting, reloading, resizing, replacing and stopping handlers, and
        waiting for them to exit, uses none of procmon's deprecated API (its
        C{processes} property, which warns): L{_frontservice.SpawnedHandlers}
        keeps its own record of the handlers it supervises and runs.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.spawned.handlerJoined(self.name(3))
        self.spawned.handlerJoined(self.name(4))
        self.spawned.increase()
        self.spawned.decrease()
        self.spawned.handlerDraining(self.name(4))
        self.assertEqual(self.spawned.names, [self.name(3), self.name(6)])
        stopped = self.spawned.stopService()
        for name in list(self.spawned._monitor.protocols):
            self.exits(name)
        self.successResultOf(stopped)
        self.assertEqual(
            [str(w["message"]) for w in self.flushWarnings()
             if w["category"] is DeprecationWarning],
            [],
        )

    def test_increaseDecrease(self) -> None:
        """
        SIGTTIN starts one more handler; SIGTTOU drains the oldest, but
        never the last one.
        """
        self.spawned.increase()
        self.assertEqual(self.spawned.names, [self.name(n) for n in (1, 2, 3)])
        self.spawned.decrease()
        self.spawned.decrease()
        self.assertEqual(self.spawned.names, [self.name(3)])
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.signals(self.name(2)), ["TERM"])
        self.spawned.decrease()
        self.assertEqual(self.spawned.names, [self.name(3)])
        self.assertEqual(self.signals(self.name(3)), [])

    def test_decreaseKeepsServing(self) -> None:
        """
        SIGTTOU drains a handler that does not serve (one still booting,
        added by SIGTTIN or restarted after it died, or one declared dead
        for its silence) rather than the oldest, when the oldest serves:
        draining the handler that serves while the other boots would leave
        none serving until it joined, and none at all, the front exiting,
        if the code on disk cannot boot.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.increase()
        self.assertEqual(
            self.spawned.names, [self.name(n) for n in (1, 2, 3)]
        )
        with capturedLogs() as events:
            self.spawned.decrease()
            self.spawned.decrease()
        self.assertEqual(self.signals(self.name(1)), [])
        self.assertEqual(self.signals(self.name(2)), ["TERM"])
        self.assertEqual(self.signals(self.name(3)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(1)])
        self.assertEqual(
            [formatEvent(event) for event in events],
            [
                "removing handler %s: 2 now" % (self.name(2),),
                "removing handler %s: 1 now" % (self.name(3),),
            ],
        )
        # Declared dead for its silence, it does not serve either.
        self.spawned.increase()
        self.spawned.handlerJoined(self.name(4))
        self.spawned.handlerSilent(self.name(1))
        self.spawned.decrease()
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(4)])

    def test_resizeWhileStopping(self) -> None:
        """
        SIGHUP, SIGTTIN and SIGTTOU to a stopping front change nothing,
        and each says why: SIGTTOU said C{not removing the last handler},
        whatever their number.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.frontStopping()
        with capturedLogs() as events:
            self.spawned.reload()
            self.spawned.increase()
            self.spawned.decrease()
        self.assertEqual(
            [formatEvent(event) for event in events],
            [
                "reload: not started: the front is stopping",
                "not adding a handler: the front is stopping",
                "not removing a handler: the front is stopping",
            ],
        )
        self.assertEqual(self.spawned.names, [self.name(1), self.name(2)])
        self.assertEqual(len(self.started()), 2)
        self.assertEqual(self.signals(self.name(1)), [])

    def test_decreaseKeepsServingDuringReload(self) -> None:
        """
        SIGTTOU during a reload drains an old handler that does not serve
        (added by SIGTTIN just before, still booting), and the new one
        started to replace it, rather than the oldest, which serves.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.decrease()
        self.spawned.increase()
        self.assertEqual(self.spawned.names, [self.name(1), self.name(3)])
        self.spawned.reload()
        self.spawned.decrease()
        self.assertEqual(self.signals(self.name(1)), [])
        self.assertEqual(self.signals(self.name(3)), ["TERM"])
        self.assertEqual(self.signals(self.name(5)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(1), self.name(4)])
        self.spawned.handlerJoined(self.name(4))
        self.assertEqual(self.signals(self.name(1)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(4)])

    def test_decreaseDuringReload(self) -> None:
        """
        SIGTTOU during a reload drains the oldest handler and stops the new
        one meant to replace it, so that the reload ends with one handler
        fewer than it began with, as it would have after it; and it never
        leaves none.  SIGTTIN meanwhile counts, in its line, the handlers
        that the reload leaves.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        with capturedLogs() as events:
            self.spawned.decrease()
            self.assertEqual(self.signals(self.name(1)), ["TERM"])
            self.assertEqual(self.spawned.names, [self.name(2), self.name(4)])
            self.spawned.decrease()
            self.assertEqual(self.spawned.names, [self.name(2), self.name(4)])
            self.spawned.increase()
            self.spawned.handlerJoined(self.name(4))
        self.assertEqual(self.signals(self.name(2)), ["TERM"])
        self.assertEqual(self.spawned.names, [self.name(4), self.name(5)])
        self.assertEqual(
            [formatEvent(event) for event in events],
            [
                "removing handler %s, and %s, started to replace it: 1 now"
                % (self.name(1), self.name(3)),
                "not removing the last handler",
                "adding handler %s: 2 now" % (self.name(5),),
                "reload: %s joined, draining %s" % (self.name(4), self.name(2)),
                "reload: done, handlers %s %s" % (self.name(4), self.name(5)),
            ],
        )

    def test_decreaseNewDuringReload(self) -> None:
        """
        SIGTTOU during a reload whose old handlers have drained by
        themselves (recycled) stops the oldest new one, and the reload no
        longer waits for it: it ends once the other joins, and the next
        reload starts.
        """
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        self.spawned.handlerDraining(self.name(1))
        self.spawned.handlerDraining(self.name(2))
        self.assertEqual(self.spawned.names, [self.name(3), self.name(4)])
        with capturedLogs() as events:
            self.spawned.decrease()
            self.spawned.handlerJoined(self.name(4))
        self.assertEqual(self.signals(self.name(3)), ["TERM"])
        self.assertEqual(
            [formatEvent(event) for event in events][-1],
            "reload: done, handlers %s" % (self.name(4),),
        )
        self.spawned.reload()
        self.assertEqual(self.spawned.names, [self.name(4), self.name(5)])

    def monitorRecords(self) -> set[str]:
        """
        The names the process monitor keeps a record of.
        """
        monitor = self.spawned._monitor
        return (
            set(monitor.delay) | set(monitor.timeStarted) | set(monitor.restart)
            | set(monitor.murder) | set(monitor.protocols)
        )

    def test_recycledForgotten(self) -> None:
        """
        A handler recycled (it drains, by C{--max-requests}, and exits)
        leaves no record in the process monitor once it has exited: each
        has a new name, and a front recycling one a second would otherwise
        keep 86,400 more a day.  One killed and restarted is remembered
        under its name (its restart back-off) while it is supervised.
        """
        self.spawned.handlerJoined(self.name(2))
        protocol = self.spawned._monitor.protocols[self.name(2)]
        protocol.processExited(Failure(ProcessTerminated(signal=9)))
        protocol.processEnded(Failure(ProcessTerminated(signal=9)))
        self.reactor.advance(1)
        for _ in range(100):
            name = self.spawned.names[0]
            self.spawned.handlerJoined(name)
            self.spawned.handlerDraining(name)
            self.reactor.advance(1)
            self.exits(name)
            self.reactor.advance(1)
        self.assertEqual(len(self.reactor.spawned), 103)
        self.assertEqual(self.monitorRecords(), set(self.spawned.names))
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_retiredWhileRestartDue(self) -> None:
        """
        A handler retired while its restart is due (it died at once, and
        procmon backs off) is not started again: its restart is cancelled
        and the monitor forgets it.
        """
        self.exits(self.name(1))
        self.assertIn(self.name(1), self.spawned._monitor.restart)
        self.spawned.decrease()
        self.assertEqual(self.spawned.names, [self.name(2)])
        self.reactor.advance(60)
        self.assertEqual(self.started(), [self.name(1), self.name(2)])
        self.assertEqual(self.monitorRecords(), {self.name(2)})
        self.assertNotIn(self.name(1), self.spawned._notJoined)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_bootFailures(self) -> None:
        """
        Handlers that exit before joining L{_defaults.BOOT_FAILURES} times in
        a row make the front give up; one that joined and later died is no
        boot failure.
        """
        failed: list[bool] = []
        self.spawned.bootFailed = lambda: failed.append(True)
        self.spawned.handlerJoined(self.name(2))
        self.exits(self.name(2))
        self.reactor.advance(60)
        for _ in range(_defaults.BOOT_FAILURES - 1):
            self.exits(self.name(1))
            self.reactor.advance(60)
        self.assertEqual(failed, [])
        self.exits(self.name(1))
        self.reactor.advance(60)
        self.assertEqual(failed, [True])

    def test_cannotSpawn(self) -> None:
        """
        A handler whose process cannot be started at all (its Python is
        not there, or not one the front's user may run after twistd
        C{--uid}: C{spawnProcess} raises) is said to be so, in one line
        naming the executable and the error, as a boot failure: restarted
        with procmon's growing delay, and the front gives up after
        L{_defaults.BOOT_FAILURES} in a row.  procmon's own line for it
        cannot be formatted (C{Unable to format event}, and a traceback).
        """
        failed: list[bool] = []
        self.spawned.bootFailed = lambda: failed.append(True)
        executable = "/srv/myproject/venv/bin/python"

        def spawnProcess(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", executable)

        self.patch(self.reactor, "spawnProcess", spawnProcess)
        with capturedLogs() as events:
            self.exits(self.name(1))
            for _ in range(_defaults.BOOT_FAILURES + 1):
                self.reactor.advance(60)
        lines = [formatEvent(e) for e in events]
        self.assertFalse([line for line in lines if "Unable to format" in line], lines)
        cannot = [(e["log_level"], formatEvent(e)) for e in events
                  if "could not be started" in formatEvent(e)]
        self.assertEqual(cannot[0], (
            LogLevel.error,
            f"spawned handler {self.name(1)} could not be started: [Errno 13] "
            f"Permission denied: '{executable}' (is the Python that runs the "
            "front there, and may the front's user, after twistd --uid, run "
            "it?)",
        ))
        self.assertEqual(failed, [True])

    def test_cannotSpawnOutOfFiles(self) -> None:
        """
        A handler that cannot be started for want of file descriptors for
        its pipes (the front's, at its open files limit) is said to be so,
        not blamed on its Python.
        """
        def spawnProcess(*args: object, **kwargs: object) -> None:
            raise OSError(errno.EMFILE, "Too many open files")

        self.patch(self.reactor, "spawnProcess", spawnProcess)
        with capturedLogs() as events:
            self.exits(self.name(1))
            self.reactor.advance(60)
        cannot = [formatEvent(e) for e in events if "could not be started" in formatEvent(e)]
        self.assertEqual(cannot[0], (
            f"spawned handler {self.name(1)} could not be started: [Errno 24] "
            "Too many open files (the front has no file descriptor left for its"
            " pipes (see its open files limit, ulimit -n, and --max-connections))"
        ))

    def test_noStartAfterGivingUp(self) -> None:
        """
        Once its handlers have failed to boot L{_defaults.BOOT_FAILURES}
        times in a row and the front gives up (it exits), the restart that
        made it give up starts no process: one was started as the front
        exited, and stopped with it ("waited ... for 1 spawned handlers").
        """
        failed: list[bool] = []
        self.spawned.bootFailed = lambda: failed.append(True)
        spawned: list[object] = []

        def spawnProcess(*args: object, **kwargs: object) -> None:
            spawned.append(args)
            raise PermissionError(13, "Permission denied", "python")

        self.patch(self.reactor, "spawnProcess", spawnProcess)
        self.exits(self.name(1))
        for _ in range(_defaults.BOOT_FAILURES + 1):
            self.reactor.advance(60)
        # Each restart but the one that gave up tried to start a process.
        self.assertEqual((failed, len(spawned)), ([True], _defaults.BOOT_FAILURES - 1))

    def test_bootFailuresWhileOthersServe(self) -> None:
        """
        A handler that cannot boot while others serve (one added by
        SIGTTIN, the replacement of one recycled or crashed, once the
        application's code on disk is broken) does not make the front exit,
        taking the handlers that serve with it: it is logged, and started
        again.  Once none serves, the front gives up.
        """
        failed: list[bool] = []
        self.spawned.bootFailed = lambda: failed.append(True)
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.increase()
        with capturedLogs() as events:
            for _ in range(_defaults.BOOT_FAILURES):
                self.exits(self.name(3))
                self.reactor.advance(60)
        self.assertEqual(failed, [])
        self.assertIn(
            "spawned handler %s failed to boot %d times in a row (see its lines "
            "above): started again, while 2 other handlers serve"
            % (self.name(3), _defaults.BOOT_FAILURES),
            [formatEvent(event) for event in events],
        )
        self.assertEqual(self.started().count(self.name(3)), _defaults.BOOT_FAILURES + 1)
        self.assertEqual(
            self.spawned.names, [self.name(1), self.name(2), self.name(3)]
        )
        # The two that served die, and come back unable to boot too.
        self.exits(self.name(1))
        self.exits(self.name(2))
        self.reactor.advance(60)
        for _ in range(_defaults.BOOT_FAILURES):
            self.exits(self.name(3))
            self.reactor.advance(60)
        self.assertEqual(failed, [True])

    def test_reloadThatCannotBoot(self) -> None:
        """
        A reload whose new handlers cannot boot is abandoned: the new ones
        are stopped, the old ones go on, and the front does not exit.
        """
        failed: list[bool] = []
        self.spawned.bootFailed = lambda: failed.append(True)
        self.spawned.handlerJoined(self.name(1))
        self.spawned.handlerJoined(self.name(2))
        self.spawned.reload()
        for _ in range(_defaults.BOOT_FAILURES):
            self.exits(self.name(3))
            self.reactor.advance(60)
        self.assertEqual(failed, [])
        self.assertEqual(self.spawned.names, [self.name(1), self.name(2)])
        self.assertEqual(self.signals(self.name(1)), [])


class NewPoolTests(SynchronousTestCase):
    """
    Tests for L{_handlerservice.newPool}, the handler's WSGI thread pool.
    """

    def test_pool(self) -> None:
        """
        The pool is a L{txmp._pool.WorkerPool} of C{--threads} threads
        named C{PoolThread-wsgi-N}, not started.
        """
        pool = _handlerservice.newPool(3)
        self.assertIsInstance(pool, WorkerPool)
        self.assertEqual((pool.size, pool.name, pool.threads), (3, "wsgi", []))

    def test_daemonThreads(self) -> None:
        """
        Its threads are daemons: an application stuck past
        C{--graceful-timeout} does not keep the process alive.
        """
        pool = _handlerservice.newPool(1)
        thread = pool.threadFactory(target=lambda: None, name="t")
        assert isinstance(thread, threading.Thread)
        self.assertTrue(thread.daemon)
        self.assertEqual(thread.name, "t")


class LoadApplicationTests(SynchronousTestCase):
    """
    Tests for L{handlertap.loadApplication}.
    """

    def setUp(self) -> None:
        module = types.ModuleType(APPS)
        module.app = wsgiApp  # type: ignore[attr-defined]
        module.makeApp = makeApp  # type: ignore[attr-defined]
        module.configuredApp = configuredApp  # type: ignore[attr-defined]
        module.brokenFactory = brokenFactory  # type: ignore[attr-defined]
        module.makeNotCallable = makeNotCallable  # type: ignore[attr-defined]
        module.exitingFactory = exitingFactory  # type: ignore[attr-defined]
        module.notCallable = 3  # type: ignore[attr-defined]
        module.holder = types.SimpleNamespace(app=wsgiApp)  # type: ignore[attr-defined]
        sys.modules[APPS] = module
        self.addCleanup(sys.modules.pop, APPS, None)

    def assertUsageError(self, spec: str, *words: str) -> None:
        """
        Assert that loading C{spec} is a usage error whose message names
        the spec and C{words}.
        """
        error = self.assertRaises(usage.UsageError, handlertap.loadApplication, spec)
        for word in (spec, *words):
            self.assertIn(word, str(error))

    def test_attribute(self) -> None:
        """
        C{module:attribute} names the application.
        """
        self.assertIs(handlertap.loadApplication(APPS + ":app"), wsgiApp)

    def test_moduleAlone(self) -> None:
        """
        A module alone names its C{application}, as under gunicorn and
        uWSGI (what Django's C{wsgi.py} defines): C{--app myproject.wsgi}.
        A module without one is a usage error that says how to name
        another.
        """
        module = sys.modules[APPS]
        module.application = wsgiApp  # type: ignore[attr-defined]
        self.assertIs(handlertap.loadApplication(APPS), wsgiApp)
        del module.application
        self.assertUsageError(APPS, "has no attribute application", f"--app {APPS}:NAME")
        self.assertIs(handlertap.loadApplication("txmp.demo:app"), demo.app)

    def test_dottedAttribute(self) -> None:
        """
        The attribute may be a dotted path.
        """
        self.assertIs(handlertap.loadApplication(APPS + ":holder.app"), wsgiApp)

    def test_attributeRaises(self) -> None:
        """
        An attribute whose reading raises something other than
        L{AttributeError} (a module's C{__getattr__} that makes the
        application lazily, PEP 562, and fails; a property on the dotted
        path) is a usage error saying what it raised, and where, as for a
        factory that fails, where it went up as a traceback; its
        C{sys.exit()} too.
        """
        module = sys.modules[APPS]

        def lazily(name: str) -> object:
            if name == "application":
                raise RuntimeError("no database")
            if name == "exiting":
                sys.exit("DATABASE_URL is not set")
            raise AttributeError(name)

        class Holder:
            @property
            def app(self) -> object:
                raise KeyError("SECRET_KEY")

        module.__getattr__ = lazily  # type: ignore[method-assign]
        module.broken = Holder()  # type: ignore[attr-defined]
        self.assertUsageError(
            APPS, "reading application failed: RuntimeError: no database",
            f"(at {__file__}, line",
        )
        self.assertUsageError(
            APPS + ":exiting",
            "reading exiting failed: it called sys.exit('DATABASE_URL is not set')",
        )
        self.assertUsageError(
            APPS + ":broken.app", "reading broken.app failed: KeyError: 'SECRET_KEY'"
        )
        # (Its AttributeError is an attribute missing, as before.)
        self.assertUsageError(APPS + ":other", "has no attribute other")

    def test_factory(self) -> None:
        """
        C{module:factory()} calls the factory for the application.
        """
        self.assertIs(handlertap.loadApplication(APPS + ":makeApp()"), wsgiApp)

    def test_factoryArguments(self) -> None:
        """
        A factory may be given literal arguments, positional and keyword,
        as gunicorn takes them: C{--app 'app:create_app("production")'},
        as Flask's application factories are often named.
        """
        app = handlertap.loadApplication(
            APPS + ":configuredApp('production', 2, debug=False, hosts=['a', 'b'], x=None)"
        )
        self.assertEqual(
            app.made,  # type: ignore[attr-defined]
            (("production", 2), {"debug": False, "hosts": ["a", "b"], "x": None}),
        )

    def test_factoryArgumentsNotLiterals(self) -> None:
        """
        A factory's argument that is not a literal (a name, an expression
        to evaluate) is a usage error that says the arguments must be
        literals: nothing of the command line is run as code.
        """
        for spec in [
            APPS + ":configuredApp(os)",
            APPS + ":configuredApp(__import__('os'))",
            APPS + ":configuredApp(*[1])",
            APPS + ":configuredApp(name=1 + x)",
        ]:
            self.assertUsageError(spec, "the factory's arguments must be literals")

    def test_badSpec(self) -> None:
        """
        A spec without a module or an attribute is a usage error.
        """
        for spec in ["txmp.demo", ":app", "txmp.demo:", "txmp.demo:()"]:
            self.assertRaises(usage.UsageError, handlertap.loadApplication, spec)

    def test_notImportable(self) -> None:
        """
        A module that does not exist, or fails to import, is a usage error.
        """
        self.assertUsageError("txmp.test.no_such_module_here:app", "cannot import")
        # None in sys.modules makes importing the name fail.
        sys.modules["txmp_test_tap_broken"] = None  # type: ignore[assignment]
        self.addCleanup(sys.modules.pop, "txmp_test_tap_broken", None)
        self.assertUsageError("txmp_test_tap_broken:app", "cannot import")

    def test_importFailureNamesItsPlace(self) -> None:
        """
        A module whose import raises is a usage error that says where in
        the application's code: the file and line of the innermost frame
        that is the application's (gunicorn prints the whole traceback;
        the error stays one line).  A missing module, and a syntax error
        (whose message names its place), say nothing more.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        broken = directory.child("txmp_test_tap_raises.py")
        broken.setContent(b"import os\n\nvalue = undefinedName\n")
        bad = directory.child("txmp_test_tap_syntax.py")
        bad.setContent(b"def f(:\n")
        sys.path.insert(0, directory.path)
        self.addCleanup(sys.path.remove, directory.path)
        for name in ["txmp_test_tap_raises", "txmp_test_tap_syntax"]:
            self.addCleanup(sys.modules.pop, name, None)
        self.assertUsageError(
            "txmp_test_tap_raises:app",
            "NameError",
            f"(at {broken.path}, line 3)",
        )
        error = self.assertRaises(
            usage.UsageError, handlertap.loadApplication, "txmp_test_tap_syntax:app"
        )
        # CPython says "(txmp_test_tap_syntax.py, line 1)", PyPy "lines 1-2".
        self.assertEqual(str(error).count("txmp_test_tap_syntax.py"), 1, str(error))
        self.assertNotIn("(at ", str(error))
        error = self.assertRaises(
            usage.UsageError, handlertap.loadApplication, "txmp.test.no_such_module_here:app"
        )
        self.assertNotIn("(at ", str(error))

    def test_importRaisesInLibrary(self) -> None:
        """
        A module whose import raises in code it calls from the standard
        library or an installed package (Django's C{get_wsgi_application()}
        with its settings module missing) says the line of the
        application's own code that called it, and then where it was
        raised: only the library's place was said, a file of Django's that
        the operator did not write.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        calling = directory.child("txmp_test_tap_library.py")
        calling.setContent(b"import json\n\nsettings = json.loads('{')\n")
        sys.path.insert(0, directory.path)
        self.addCleanup(sys.path.remove, directory.path)
        self.addCleanup(sys.modules.pop, "txmp_test_tap_library", None)
        error = self.assertRaises(
            usage.UsageError, handlertap.loadApplication, "txmp_test_tap_library:app"
        )
        # (Where in json, and its words, are CPython's or PyPy's own.)
        self.assertRegex(
            str(error),
            r"JSONDecodeError: .* \(at " + re.escape(calling.path) + r", line 3; raised"
            r" in " + re.escape(os.path.dirname(json.__file__)) + r"/\w+\.py, line \d+\)$",
        )

    def test_importExits(self) -> None:
        """
        A module whose import calls C{sys.exit}, with a status, a message
        or nothing (an application that finds its configuration missing),
        is a usage error that says so, with the status or message and the
        place: the handler exited silently, with the status given (0 for
        none, which a service manager takes for a normal stop, and after
        which a C{--spawn} front said "see their lines above" of lines
        there were not).
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        sys.path.insert(0, directory.path)
        self.addCleanup(sys.path.remove, directory.path)
        for name, call, said in [
            ("txmp_test_tap_exits_none", "sys.exit()", "sys.exit(None)"),
            ("txmp_test_tap_exits_zero", "sys.exit(0)", "sys.exit(0)"),
            ("txmp_test_tap_exits_four", "raise SystemExit(4)", "sys.exit(4)"),
            ("txmp_test_tap_exits_text", "sys.exit('no settings')",
             "sys.exit('no settings')"),
        ]:
            module = directory.child(name + ".py")
            module.setContent(b"import sys\n\n" + call.encode() + b"\n")
            self.addCleanup(sys.modules.pop, name, None)
            self.assertUsageError(
                name + ":app", f"cannot import {name}: it called {said}",
                f"(at {module.path}, line 3)",
            )

    def moduleDirectory(self, signum: int) -> FilePath:
        """
        A directory on C{sys.path} for the modules a test writes, which
        changes C{signum}'s handler: it is put back after the test.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        sys.path.insert(0, directory.path)
        self.addCleanup(sys.path.remove, directory.path)
        previous = signal.getsignal(signum)
        self.addCleanup(signal.signal, signum, previous)
        return directory

    def terminationRecorded(self) -> tuple[FilePath, list[int]]:
        """
        A L{moduleDirectory} for C{SIGTERM}, and the signals the process
        would die by (L{handlertap._dieBy}, recorded instead of sent).
        """
        directory = self.moduleDirectory(signal.SIGTERM)
        died: list[int] = []
        self.patch(handlertap, "_dieBy", died.append)
        return directory, died

    def test_interruptedWhileImporting(self) -> None:
        """
        C{SIGINT} while the application imports (Ctrl-C at a terminal,
        which reaches a C{--spawn} front's handlers too, while a framework
        loads) is a usage error of one line, where a traceback of the
        import was printed; it is so even in a process started with
        C{SIGINT} ignored (a shell script's background job), which went
        on to serve; and C{SIGINT}'s handler is put back after.
        """
        directory = self.moduleDirectory(signal.SIGINT)
        handlers: list[tuple[str, Callable[[int, Any], Any] | signal.Handlers]] = [
            ("txmp_test_tap_interrupted", signal.default_int_handler),
            ("txmp_test_tap_interrupted_ignored", signal.SIG_IGN),
        ]
        for name, handler in handlers:
            directory.child(name + ".py").setContent(
                b"import os, signal, time\n"
                b"os.kill(os.getpid(), signal.SIGINT)\n"
                # The handler runs between two bytecodes.
                b"for _ in range(1000):\n"
                b"    time.sleep(0)\n"
                b"app = None\n"
            )
            self.addCleanup(sys.modules.pop, name, None)
            signal.signal(signal.SIGINT, handler)
            self.assertUsageError(name + ":app", "interrupted (SIGINT)")
            self.assertEqual(signal.getsignal(signal.SIGINT), handler, name)

    def test_terminatedWhileImporting(self) -> None:
        """
        C{SIGTERM} while the application imports (a service manager's stop
        while a framework loads) says so in one line on C{sys.stderr},
        then ends the process by C{SIGTERM}, as its default action did
        without a word; C{SIGTERM}'s handler is put back after.  Ignored,
        it stays ignored.
        """
        directory, died = self.terminationRecorded()
        name = "txmp_test_tap_terminated"
        directory.child(name + ".py").setContent(
            b"import os, signal, time\n"
            b"os.kill(os.getpid(), signal.SIGTERM)\n"
            # The handler runs between two bytecodes.
            b"for _ in range(1000):\n"
            b"    time.sleep(0)\n"
            b"app = None\n"
        )
        self.addCleanup(sys.modules.pop, name, None)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        self.assertRaises(usage.UsageError, handlertap.loadApplication, name + ":app")
        self.assertEqual(died, [signal.SIGTERM])
        self.assertEqual(
            stderr.getvalue(),
            f"mphandler: --app {name}:app: stopped (SIGTERM) while loading it\n",
        )
        self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)
        ignored = name + "_ignored"
        directory.child(ignored + ".py").setContent(
            b"import os, signal\n"
            b"os.kill(os.getpid(), signal.SIGTERM)\n"
            b"app = lambda environ, startResponse: []\n"
        )
        self.addCleanup(sys.modules.pop, ignored, None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        handlertap.loadApplication(ignored + ":app")
        self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_IGN)

    def test_terminatedCaughtByApplication(self) -> None:
        """
        C{SIGTERM} while the application imports ends the process (saying
        so) even if the exception it raises is caught by the application's
        code (a bare C{except:} around an optional import), which would
        otherwise go on loading and serve, the stop lost; or turned into
        another error by it (an C{ImportError} that wraps it), which is not
        then reported instead: as gunicorn's worker, the handler remembers
        the signal and acts on it once the load is over.
        """
        directory, died = self.terminationRecorded()
        modules = {
            "txmp_test_tap_swallowed": b"    pass\n",
            "txmp_test_tap_wrapped": b"    raise ImportError('no optional module')\n",
        }
        for name, handling in modules.items():
            directory.child(name + ".py").setContent(
                b"import os, signal, time\n"
                b"try:\n"
                b"    os.kill(os.getpid(), signal.SIGTERM)\n"
                # The handler runs between two bytecodes.
                b"    for _ in range(1000):\n"
                b"        time.sleep(0)\n"
                b"except:\n" + handling
                + b"app = lambda environ, startResponse: []\n"
            )
            self.addCleanup(sys.modules.pop, name, None)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            stderr = io.StringIO()
            self.patch(sys, "stderr", stderr)
            del died[:]
            error = self.assertRaises(
                usage.UsageError, handlertap.loadApplication, name + ":app"
            )
            self.assertEqual(died, [signal.SIGTERM], name)
            line = f"mphandler: --app {name}:app: stopped (SIGTERM) while loading it"
            self.assertEqual(stderr.getvalue(), line + "\n")
            self.assertEqual(str(error), line)
            self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)

    def test_factoryExits(self) -> None:
        """
        A factory that calls C{sys.exit} is a usage error that says so.
        """
        self.assertUsageError(
            APPS + ":exitingFactory()",
            "exitingFactory() failed: it called sys.exit('DATABASE_URL is not set')",
            f"(at {__file__}, line",
        )

    def test_missingAttribute(self) -> None:
        """
        An attribute the module lacks is a usage error.
        """
        self.assertUsageError(APPS + ":nope", "no attribute")
        self.assertUsageError(APPS + ":holder.nope", "no attribute")

    def test_notCallable(self) -> None:
        """
        An application that is not callable is a usage error, and so is a
        factory that is not, or that makes something that is not.
        """
        self.assertUsageError(APPS + ":notCallable", "not a callable")
        self.assertUsageError(APPS + ":notCallable()", "not callable")
        self.assertUsageError(APPS + ":makeNotCallable()", "not a callable")

    def test_async(self) -> None:
        """
        An async callable (an ASGI application: an C{async def} function,
        or an object whose C{__call__} is one, as Starlette's and Django's
        are) is a usage error at load, which says it is not WSGI: called as
        WSGI, it failed every request with a 500.
        """

        async def asgi(scope: object, receive: object, send: object) -> None:
            pass

        class ASGIApp:
            async def __call__(self, scope: object, receive: object, send: object) -> None:
                pass

        async def streaming(environ: object, startResponse: object) -> Any:
            yield b""

        module = sys.modules[APPS]
        module.asgi = asgi  # type: ignore[attr-defined]
        module.asgiApp = ASGIApp()  # type: ignore[attr-defined]
        module.makeAsgi = ASGIApp  # type: ignore[attr-defined]
        module.streaming = streaming  # type: ignore[attr-defined]
        for name in ["asgi", "asgiApp", "makeAsgi()", "streaming"]:
            self.assertUsageError(f"{APPS}:{name}", "async", "ASGI", "WSGI")

    def test_callableInstanceOrClass(self) -> None:
        """
        An object whose C{__call__} is a WSGI application, or a class whose
        instances are a response iterable (PEP 3333 allows both), loads.
        """

        class Instance:
            def __call__(self, environ: object, startResponse: object) -> list[bytes]:
                return []

        class Response:
            def __init__(self, environ: object, startResponse: object) -> None:
                pass

            def __iter__(self) -> Any:
                return iter([])

        module = sys.modules[APPS]
        module.instance = Instance()  # type: ignore[attr-defined]
        module.Response = Response  # type: ignore[attr-defined]
        self.assertIs(handlertap.loadApplication(APPS + ":instance"), module.instance)
        self.assertIs(handlertap.loadApplication(APPS + ":Response"), Response)

    def test_factoryRaises(self) -> None:
        """
        A factory that raises is a usage error that says what it raised.
        """
        self.assertUsageError(
            APPS + ":brokenFactory()", "RuntimeError", "no database", f"(at {__file__}, line"
        )

    def test_standardStreamsLateBound(self) -> None:
        """
        The application is loaded with C{sys.stderr} late-bound: a stream
        it keeps while loading (a C{logging.StreamHandler}'s) writes into
        the log once twistd has redirected standard error there, instead of
        to the process's standard error, which twistd does not redirect
        (C{/dev/null} in a daemon).
        """
        kept: list[Any] = []

        def keepingFactory() -> Any:
            kept.append(sys.stderr)
            return wsgiApp

        sys.modules[APPS].keepingFactory = keepingFactory  # type: ignore[attr-defined]
        err = io.StringIO()
        self.patch(sys, "stderr", err)
        self.assertIs(handlertap.loadApplication(APPS + ":keepingFactory()"), wsgiApp)
        self.assertIs(sys.stderr, err)
        self.patch(sys, "stderr", LoggingFile(Logger(namespace="stderr")))
        with capturedLogs() as events:
            kept[0].write("Internal Server Error: /\n")
        self.assertEqual([formatEvent(e) for e in events], ["Internal Server Error: /"])
        self.assertEqual(err.getvalue(), "")


class HandlerOptionsTests(OptionsTestCase):
    """
    Tests for L{handlertap.Options}.
    """

    optionsClass = handlertap.Options

    def keepPathAndDirectory(self) -> None:
        """
        Put C{sys.path} and the working directory back when the test ends.
        """
        self.addCleanup(os.chdir, os.getcwd())
        self.addCleanup(sys.path.__setitem__, slice(None), list(sys.path))

    def appDirectory(self, module: str) -> FilePath[str]:
        """
        A new directory holding C{module}.py, whose C{app} is a WSGI app.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        directory.child(module + ".py").setContent(
            b"def app(environ, start_response):\n    return []\n"
        )
        return directory

    def test_workingDirectoryImportable(self) -> None:
        """
        The application is imported from the directory the handler runs
        in, as with C{python -m} and gunicorn (twistd's script would not
        look there).
        """
        self.keepPathAndDirectory()
        directory = self.appDirectory("txmp_cwd_app")
        os.chdir(directory.path)
        options = self.parse("--app", "txmp_cwd_app:app")
        self.assertTrue(callable(options["application"]))
        self.assertEqual(sys.path[0], directory.path)

    def test_jitterNeedsMaxRequests(self) -> None:
        """
        C{--max-requests-jitter} without C{--max-requests} is a usage error:
        it is added to that limit, and without one it would do nothing.
        """
        error = self.assertRaises(
            usage.UsageError, self.parse, "--app", "txmp.demo:app",
            "--max-requests-jitter", "10",
        )
        self.assertEqual(
            str(error), "--max-requests-jitter is added to --max-requests, which is not given"
        )
        options = self.parse("--app", "txmp.demo:app", "--max-requests", "5",
                             "--max-requests-jitter", "10")
        self.assertEqual(options["max-requests-jitter"], 10)

    def test_profileCheckedNotCreated(self) -> None:
        """
        C{--profile FILE} that the handler could not write (its directory
        does not exist) is a usage error when it starts, not a line in its
        log when it stops, the whole run's profile lost; one it can write
        is not created while parsing.
        """
        self.keepPathAndDirectory()
        directory = FilePath(self.mktemp())
        directory.makedirs()
        path = directory.child("run.pstats")
        self.parse("--app", "txmp.demo:app", "--profile", path.path)
        self.assertFalse(path.exists())
        missing = directory.child("no").child("run.pstats").path
        error = self.assertRaises(
            usage.UsageError, self.parse, "--app", "txmp.demo:app", "--profile", missing
        )
        self.assertEqual(str(error), f"--profile {missing}: No such file or directory")

    def test_profileRelativeResolved(self) -> None:
        """
        A relative C{--profile} is made absolute as it is checked: the
        profile is written when the handler stops, after twistd's
        C{--rundir} (C{-d}) has changed directory, so that it went to
        another directory than the one checked (or failed, unchecked).
        """
        self.keepPathAndDirectory()
        directory = FilePath(self.mktemp())
        directory.makedirs()
        os.chdir(directory.path)
        options = self.parse("--app", "txmp.demo:app", "--profile", "run.pstats")
        self.assertEqual(options["profile"], directory.child("run.pstats").path)

    def test_chdir(self) -> None:
        """
        C{--chdir DIR} changes to DIR before loading the application from
        it; a directory that does not exist is a usage error saying so.
        """
        self.keepPathAndDirectory()
        directory = self.appDirectory("txmp_chdir_app")
        options = self.parse("--app", "txmp_chdir_app:app", "--chdir", directory.path)
        self.assertTrue(callable(options["application"]))
        self.assertEqual(os.getcwd(), directory.path)
        error = self.assertRaises(usage.UsageError, self.parse, "--app",
                                  "txmp.demo:app", "--chdir", "/no/such/dir")
        self.assertEqual(str(error), "--chdir /no/such/dir: No such file or directory")

    def test_pythonpath(self) -> None:
        """
        C{--pythonpath A,B} puts A then B first on C{sys.path}, before the
        working directory, and the application is found there.
        """
        self.keepPathAndDirectory()
        first = self.appDirectory("txmp_path_app")
        second = FilePath(self.mktemp())
        options = self.parse("--app", "txmp_path_app:app",
                             "--pythonpath", first.path + "," + second.path)
        self.assertTrue(callable(options["application"]))
        self.assertEqual(sys.path[:3], [first.path, second.path, os.getcwd()])

    def test_scriptName(self) -> None:
        """
        C{--script-name PREFIX} is the C{SCRIPT_NAME} the application is
        mounted under: without its trailing slash, percent-decoded and as
        the ISO-8859-1 string of its UTF-8 bytes, as C{PATH_INFO} is; C{/}
        mounts nothing.  Without it, there is no prefix.
        """
        self.patch(os, "environ", {})
        for given, expected in [("/app", "/app"), ("/app/", "/app"),
                                ("/a%20b/c", "/a b/c"), ("/caf\xe9", "/caf\xc3\xa9"),
                                ("/", None)]:
            options = self.parse("--app", "txmp.demo:app", "--script-name", given)
            self.assertEqual(options["script-name"], expected, given)
        self.assertIsNone(self.parse("--app", "txmp.demo:app")["script-name"])

    def test_scriptNameNotPath(self) -> None:
        """
        A C{--script-name} that is not a path (no leading C{/}, or a query
        or fragment in it) is a usage error.
        """
        for given in ["app", "http://example.com/app", "/app?x=1", "/app#top"]:
            error = self.assertRaises(
                usage.UsageError, self.parse, "--app", "txmp.demo:app", "--script-name", given
            )
            self.assertEqual(
                str(error),
                f"--script-name must be a path starting with /, such as /app, not {given!r}",
            )

    def test_scriptNameVariable(self) -> None:
        """
        Without C{--script-name}, gunicorn's C{SCRIPT_NAME} environment
        variable gives the prefix, so that a service set up for gunicorn
        mounts its application under it the same way; C{--script-name}
        overrides it, and an empty one mounts nothing, as under gunicorn.
        """
        self.patch(os, "environ", {"SCRIPT_NAME": "/shop/"})
        self.assertEqual(self.parse("--app", "txmp.demo:app")["script-name"], "/shop")
        options = self.parse("--app", "txmp.demo:app", "--script-name", "/app")
        self.assertEqual(options["script-name"], "/app")
        self.patch(os, "environ", {"SCRIPT_NAME": ""})
        self.assertIsNone(self.parse("--app", "txmp.demo:app")["script-name"])

    def test_scriptNameVariableNotPath(self) -> None:
        """
        A C{SCRIPT_NAME} environment variable that is not a path is a usage
        error that names the variable, not a C{--script-name} the operator
        did not give.
        """
        self.patch(os, "environ", {"SCRIPT_NAME": "shop"})
        error = self.assertRaises(usage.UsageError, self.parse, "--app", "txmp.demo:app")
        self.assertEqual(
            str(error),
            "the SCRIPT_NAME environment variable (--script-name overrides it) "
            "must be a path starting with /, such as /app, not 'shop'",
        )

    def test_defaults(self) -> None:
        """
        A handler connects to the front's default addresses and runs
        L{_defaults.DEFAULT_THREADS} threads; given no name, it is named
        when it starts (L{HandlerNameTests}).
        """
        options = self.parse("--app", "txmp.demo:app")
        self.assertEqual(
            options["fronts"], [("tcp://127.0.0.1:5556", "tcp://127.0.0.1:5555")]
        )
        self.assertEqual(
            options["fronts"], [(_defaults.DEFAULT_SEND, _defaults.DEFAULT_RETURN)]
        )
        self.assertEqual(options["graceful-timeout"], 30)
        self.assertEqual(options["max-requests"], 0)
        self.assertEqual(options["max-requests-jitter"], 0)
        self.assertEqual(options["threads"], _defaults.DEFAULT_THREADS)
        self.assertEqual(options["heartbeat"], 1)
        self.assertIsNone(options["name"])
        self.assertIs(options["application"], demo.app)

    def test_values(self) -> None:
        """
        The options take values of their types.
        """
        options = self.parse("--app", "txmp.demo:app", "--threads", "8",
                             "--name", "worker-1", "--heartbeat", "2.5",
                             "--send", "ipc:///s", "--return", "ipc:///r")
        self.assertEqual(
            (options["threads"], options["name"], options["heartbeat"],
             options["fronts"]),
            (8, "worker-1", 2.5, [("ipc:///s", "ipc:///r")]),
        )

    def test_severalFronts(self) -> None:
        """
        C{--send} and C{--return} repeat, one pair per front, paired in
        order; unpaired addresses are a usage error.
        """
        options = self.parse("--app", "txmp.demo:app",
                             "--send", "ipc:///s1", "--return", "ipc:///r1",
                             "--send", "ipc:///s2", "--return", "ipc:///r2")
        self.assertEqual(
            options["fronts"], [("ipc:///s1", "ipc:///r1"), ("ipc:///s2", "ipc:///r2")]
        )
        self.assertRaises(usage.UsageError, self.parse, "--app", "txmp.demo:app",
                          "--send", "ipc:///s1", "--return", "ipc:///r1",
                          "--send", "ipc:///s2")

    def test_addressGivenTwice(self) -> None:
        """
        An address given twice, as a repeated pair (a front listed twice)
        or as both addresses of a pair, is a usage error naming it; the
        handler would have registered twice with that front, or never (the
        front's C{WELCOME} going to its return socket).
        """
        for args, message in [
            (("--send", "ipc:///s1", "--return", "ipc:///r1",
              "--send", "ipc:///s1", "--return", "ipc:///r1"),
             "ipc:///s1 is given twice (as --send and --send)"),
            (("--send", "ipc:///s1", "--return", "ipc:///s1"),
             "ipc:///s1 is given twice (as --send and --return)"),
            (("--send", "ipc:///s1", "--return", "ipc:///r1",
              "--send", "ipc:///s2", "--return", "ipc:///r1"),
             "ipc:///r1 is given twice (as --return and --return)"),
        ]:
            error = self.assertRaises(
                usage.UsageError, self.parse, "--app", "txmp.demo:app", *args
            )
            self.assertTrue(str(error).startswith(message + ": give each front once"), error)

    def test_splitCapacity(self) -> None:
        """
        Each front gets an even share of the threads as credits, at least
        one.
        """
        self.assertEqual(_handlerservice.splitCapacity(4, 1), [4])
        self.assertEqual(_handlerservice.splitCapacity(4, 2), [2, 2])
        self.assertEqual(_handlerservice.splitCapacity(5, 2), [3, 2])
        self.assertEqual(_handlerservice.splitCapacity(1, 3), [1, 1, 1])

    def test_shareOut(self) -> None:
        """
        Each front gets an even share of C{--prefetch} (L{shareOut}), none
        if there is not one each.
        """
        self.assertEqual(shareOut(12, 1), [12])
        self.assertEqual(shareOut(12, 2), [6, 6])
        self.assertEqual(shareOut(5, 2), [3, 2])
        self.assertEqual(shareOut(1, 3), [1, 0, 0])
        self.assertEqual(shareOut(0, 2), [0, 0])

    def test_appRequired(self) -> None:
        """
        C{--app} is required.
        """
        self.assertRaises(usage.UsageError, self.parse)

    def test_badApp(self) -> None:
        """
        An application that cannot be loaded is a usage error.
        """
        self.assertRaises(usage.UsageError, self.parse, "--app", "txmp.demo:nothing")

    def test_nonPositiveNumbers(self) -> None:
        """
        Zero, negative and non-numbers are refused for C{--threads} and
        C{--heartbeat}.
        """
        for option in ["--threads", "--heartbeat"]:
            for value in ["0", "-1", "x", "nan"]:
                self.assertRaises(usage.UsageError, self.parse,
                                  "--app", "txmp.demo:app", option, value)
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--app", "txmp.demo:app", "--heartbeat", "0.001")
        self.assertEqual(str(e), "--heartbeat must be at least 0.01")

    def test_threadsCapped(self) -> None:
        """
        C{--threads} is at most L{_defaults.MAX_CREDITS}: the front refuses
        a handler that claims more credits; so is C{--threads} plus
        C{--prefetch}, the credits a handler offers.
        """
        options = self.parse("--app", "txmp.demo:app", "--threads", "1000")
        self.assertEqual(options["threads"], _defaults.MAX_CREDITS)
        # Threads and prefetch together are the credits: the default
        # prefetch gives way, one given is refused.
        self.assertEqual(options["prefetch"], 0)
        options = self.parse("--app", "txmp.demo:app", "--threads", "990")
        self.assertEqual(options["prefetch"], 10)
        options = self.parse("--app", "txmp.demo:app", "--threads", "990", "--prefetch", "10")
        self.assertEqual(options["prefetch"], 10)
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--app", "txmp.demo:app", "--threads", "990", "--prefetch", "11")
        self.assertEqual(
            str(e), "--prefetch must be at most 10 with --threads 990 (together, at most 1000)"
        )
        # Given, even as the default's value, it is refused, not lowered.
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--app", "txmp.demo:app", "--threads", "990",
                              "--prefetch", str(_defaults.DEFAULT_PREFETCH))
        self.assertEqual(
            str(e), "--prefetch must be at most 10 with --threads 990 (together, at most 1000)"
        )
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--app", "txmp.demo:app", "--threads", "1001")
        self.assertEqual(str(e), "--threads must be at most 1000")

    def test_makeService(self) -> None:
        """
        L{handlertap.makeService} makes a tree holding the handler's
        service, without starting it, and signal actions that stop it once
        for SIGINT then SIGTERM.
        """
        options = self.parse("--app", "txmp.demo:app")
        top = handlertap.makeService(options, cast(IHandlerReactor, MemoryReactorClock()))
        self.assertIsInstance(top, _handlerservice.HandlerTree)
        [handler, signals] = list(IServiceCollection(top))
        self.assertIsInstance(handler, _handlerservice.HandlerService)
        self.assertFalse(handler.running)
        self.assertEqual(handler.links, [])
        self.assertIsInstance(signals, SignalActions)
        self.assertEqual(signals.once, {signal.SIGINT, signal.SIGTERM})
        self.assertEqual(signals.aliases, {signal.SIGQUIT: signal.SIGTERM})
        self.assertEqual(signals.actions, {
            signal.SIGUSR1: handler.reopenLogs,
            signal.SIGUSR2: handler.profileFor,
            signal.SIGHUP: _handlerservice._nothingToReload,
            signal.SIGTTIN: _handlerservice._noWorkersToAdd,
            signal.SIGTTOU: _handlerservice._noWorkersToRemove,
        })

    def test_reopenFailureSaysWhatToDo(self) -> None:
        """
        A log file that SIGUSR1 cannot open again is named, with what
        happens meanwhile and what to do, as the front's is.
        """
        options = self.parse("--app", "txmp.demo:app")
        top = handlertap.makeService(options, cast(IHandlerReactor, MemoryReactorClock()))
        [handler, _signals] = list(IServiceCollection(top))
        assert isinstance(handler, _handlerservice.HandlerService)
        logFile = "/var/log/txmp/handler.log"
        error = PermissionError(13, "Permission denied", logFile)
        self.assertEqual(
            reopenFailureLines(self, _handlerservice, handler, error),
            [reopenFailureLine("mphandler", logFile, "Permission denied")],
        )

    def test_profileDirectoryUnwritable(self) -> None:
        """
        SIGUSR2 (L{HandlerService.profileFor}) in a working directory the
        handler cannot write to (the project's directory, owned by another
        user than the service's, as under the systemd unit of
        docs/deployment.md) profiles nothing and says at once which
        directory and what to do: it profiled for C{--profile-seconds},
        then said only that it could not write the file.
        """
        options = self.parse("--app", "txmp.demo:app", "--name", "web-3")
        reactor = MemoryReactorClock()
        top = handlertap.makeService(options, cast(IHandlerReactor, reactor))
        [handler, _signals] = list(IServiceCollection(top))
        assert isinstance(handler, _handlerservice.HandlerService)
        directory = os.getcwd()
        self.patch(os, "access", lambda path, mode: path != directory)
        with capturedLogs() as events:
            handler.profileFor(5)
        self.assertEqual([formatEvent(e) for e in events], [
            f"mphandler web-3: not profiling: the working directory {directory}, "
            "where the profile is written, is not writable by this handler's "
            "user: start the handler in one that is (twistd --rundir DIR; "
            "--chdir DIR for the application), or use --profile FILE"
        ])
        self.assertFalse(handler.profiler.active)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_jobControlLogged(self) -> None:
        """
        A handler's actions for C{SIGTTIN} and C{SIGTTOU} each log one line
        naming the signal, saying it is ignored and what to do instead.
        """
        for action, name in [
            (_handlerservice._noWorkersToAdd, "SIGTTIN"),
            (_handlerservice._noWorkersToRemove, "SIGTTOU"),
        ]:
            with capturedLogs() as events:
                action()
            [event] = events
            text = formatEvent(event)
            self.assertTrue(text.startswith(name + ": ignored; "), text)
            self.assertIn("--spawn front", text)

    def test_hangupLogged(self) -> None:
        """
        SIGHUP's action for a handler started apart says, in one line, that
        there is nothing to reload and how to run new code.
        """
        with capturedLogs() as events:
            _handlerservice._nothingToReload()
        [event] = events
        self.assertIn("SIGHUP: a handler has nothing to reload", formatEvent(event))
        self.assertIn("SIGTERM", formatEvent(event))


class LazyImportTests(SynchronousTestCase):
    """
    twistd imports the plugin and a tap to parse its options before it
    installs the reactor its C{--reactor} names: neither they, nor
    L{txmp.testing} (which tests import before they pick a reactor), may
    import the global reactor, or txzmq or procmon, which install it.
    """

    def assertNotImported(self, script: str, names: tuple[str, ...]) -> None:
        """
        Assert that a fresh interpreter (on this one's C{sys.path}) that
        runs C{script} has imported none of the modules C{names}.
        """
        script += f"import sys\nprint(' '.join(n for n in {names!r} if n in sys.modules))\n"
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        )
        self.assertEqual(result.stdout.strip(), "", result.stderr)

    def test_noReactorInstalled(self) -> None:
        """
        A fresh interpreter that imports the plugin, both taps and
        L{txmp.testing} has not imported C{twisted.internet.reactor},
        C{txzmq} or C{twisted.runner.procmon}.
        """
        self.assertNotImported(
            "import twisted.plugins.txmp_plugins, txmp.fronttap, txmp.handlertap, txmp.testing\n",
            ("twisted.internet.reactor", "txzmq", "twisted.runner.procmon"),
        )

    def test_optionsImportLittle(self) -> None:
        """
        A fresh interpreter that imports the plugin and both taps, prints
        their help and parses their options, valid or not (what
        C{twistd mpfront --help} or C{twistd mpfront --send bogus} does),
        has imported neither ZeroMQ, pyOpenSSL, Twisted's endpoints nor
        Twisted Web, nor the taps' service trees: those wait for
        C{makeService}.
        """
        self.assertNotImported(
            "from twisted.python import usage\n"
            "import twisted.plugins.txmp_plugins\n"
            "from txmp import fronttap, handlertap\n"
            "for tap, argv in [(fronttap, ['--listen', 'tcp:0']),\n"
            "                  (fronttap, ['--send', 'bogus']),\n"
            "                  (handlertap, ['--app', 'txmp.demo:app']),\n"
            "                  (handlertap, ['--app', 'txmp.demo:app', '--threads', 'x'])]:\n"
            "    options = tap.Options()\n"
            "    options.getUsage()\n"
            "    try:\n"
            "        options.parseOptions(argv)\n"
            "    except usage.UsageError:\n"
            "        pass\n",
            ("zmq", "OpenSSL", "twisted.internet.endpoints", "twisted.web.http",
             "txmp._frontservice", "txmp._handlerservice", "txmp._wsgi"),
        )


class PluginTests(SynchronousTestCase):
    """
    Tests for the twistd plugins in C{twisted/plugins/txmp_plugins.py}.
    """

    taps = ("txmp.fronttap", "txmp.handlertap")

    def forgetTaps(self) -> None:
        """
        Make Python forget the tap modules for this test, and restore them
        afterwards (in C{sys.modules} and as attributes of L{txmp}).
        """
        savedModules = {name: sys.modules.pop(name) for name in self.taps
                        if name in sys.modules}
        savedAttributes = {name: getattr(txmp, name.split(".")[1])
                           for name in self.taps}

        def restore() -> None:
            for name in self.taps:
                sys.modules.pop(name, None)
                setattr(txmp, name.split(".")[1], savedAttributes[name])
            sys.modules.update(savedModules)

        self.addCleanup(restore)
        for name in self.taps:
            delattr(txmp, name.split(".")[1])

    def loadPlugins(self) -> types.ModuleType:
        """
        Import the plugin module afresh.
        """
        return importlib.reload(txmp_plugins)

    def test_serviceMakers(self) -> None:
        """
        The plugins are C{mpfront} and C{mphandler}, naming the tap
        modules.
        """
        plugins = self.loadPlugins()
        self.assertEqual(
            (plugins.TxmpFront.tapname, plugins.TxmpFront.module),
            ("mpfront", "txmp.fronttap"),
        )
        self.assertEqual(
            (plugins.TxmpHandler.tapname, plugins.TxmpHandler.module),
            ("mphandler", "txmp.handlertap"),
        )

    def test_lazy(self) -> None:
        """
        Importing the plugin module imports neither tap; asking a plugin
        for its options imports its tap, and only its tap.
        """
        self.forgetTaps()
        plugins = self.loadPlugins()
        self.assertNotIn("txmp.fronttap", sys.modules)
        self.assertNotIn("txmp.handlertap", sys.modules)
        self.assertEqual(plugins.TxmpFront.options.__name__, "Options")
        self.assertIn("txmp.fronttap", sys.modules)
        self.assertNotIn("txmp.handlertap", sys.modules)
        self.assertIs(plugins.TxmpFront.options,
                      sys.modules["txmp.fronttap"].Options)
        self.assertIs(plugins.TxmpFront.makeService,
                      sys.modules["txmp.fronttap"].makeService)
        self.assertIs(plugins.TxmpHandler.options,
                      sys.modules["txmp.handlertap"].Options)

    def test_tapsImportNoReactor(self) -> None:
        """
        Importing a tap imports neither txzmq nor procmon nor the global
        reactor (each of which installs the default reactor): twistd imports
        the tap to parse its options, and only then installs the reactor its
        C{--reactor} option names.
        """
        self.forgetTaps()
        forbidden = ["txzmq", "twisted.runner.procmon", "twisted.internet.reactor"]
        saved = {name: sys.modules.get(name) for name in forbidden}

        def restore() -> None:
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module

        self.addCleanup(restore)
        # None in sys.modules makes importing the name fail.
        for name in forbidden:
            sys.modules[name] = None  # type: ignore[assignment]
        # And 'from twisted.internet import reactor' finds the installed
        # reactor as an attribute of the package before it looks there:
        # take it away for the test (patch puts it back).
        if "reactor" in vars(twisted.internet):
            self.patch(twisted.internet, "reactor", None)
            del twisted.internet.reactor
        importlib.import_module("txmp.fronttap")
        importlib.import_module("txmp.handlertap")


class TxmpOptionsTests(SynchronousTestCase):
    """
    Tests for L{txmp._options}, what the options of both taps share.
    """

    def test_pidfileRunning(self) -> None:
        """
        L{checkNotRunning} refuses a pidfile that names a running process
        (this one's too, as twistd does), or one it may not signal
        (another user's), naming the option, the file and the PID.
        """
        pidfile = FilePath(self.mktemp())
        pidfile.setContent(b"%d\n" % (os.getpid(),))
        error = self.assertRaises(usage.UsageError, checkNotRunning, pidfile.path)
        self.assertIn(f"--pidfile {pidfile.path} names PID {os.getpid()}", str(error))

        def refused(pid: int, signal: int) -> None:
            raise PermissionError(1, "Operation not permitted")

        pidfile.setContent(b"42")
        error = self.assertRaises(
            usage.UsageError, checkNotRunning, pidfile.path, refused
        )
        self.assertIn("names PID 42", str(error))

    def test_pidfileLeftToTwistd(self) -> None:
        """
        L{checkNotRunning} leaves to twistd a pidfile that does not exist,
        or names a PID that no process has (stale), which twistd removes.
        """

        def gone(pid: int, signal: int) -> None:
            raise ProcessLookupError(3, "No such process")

        pidfile = FilePath(self.mktemp())
        checkNotRunning(pidfile.path)
        pidfile.setContent(b"42")
        checkNotRunning(pidfile.path, gone)
        self.assertTrue(pidfile.exists())

    def test_pidfileNamingNoPID(self) -> None:
        """
        L{checkNotRunning} removes a pidfile that is empty (cut short by a
        crash, or made beforehand to be owned by the service's user) or
        names no PID above 0, as stale, where twistd refused to start,
        saying "Pidfile ... contains non-numeric value", or, for C{0} and
        C{-1}, "Another twistd server is running, PID 0" in four lines.
        """

        def never(pid: int, signal: int) -> None:
            raise AssertionError(f"kill({pid}, {signal})")

        pidfile = FilePath(self.mktemp())
        # (NUL bytes: what a power loss may leave of a file just written.)
        for content in [b"", b"\n", b"  ", b"0", b"0\n", b"-1", b"\0" * 6, b"\0\0\n"]:
            pidfile.setContent(content)
            checkNotRunning(pidfile.path, never)
            self.assertFalse(pidfile.exists(), content)

    def test_pidfileNotAPidfile(self) -> None:
        """
        L{checkNotRunning} refuses, in one line naming the option and the
        file, a pidfile that holds something other than a PID (perhaps not
        a pidfile at all: a slip of the option), and leaves it as it is,
        where twistd said "Pidfile ... contains non-numeric value", naming
        neither the command nor the option.
        """
        pidfile = FilePath(self.mktemp())
        # The second not text either: refused in one line all the same, not
        # a traceback (UnicodeDecodeError).
        for content, shown in [
            (b"twistd\n", "'twistd'"),
            (b"\xff\xfe\x00binary", "'\\xff\\xfe\\x00binary'"),
        ]:
            pidfile.setContent(content)
            error = self.assertRaises(usage.UsageError, checkNotRunning, pidfile.path)
            self.assertEqual(
                str(error),
                f"--pidfile {pidfile.path} holds {shown}, not a PID: is it the right "
                "file? (remove it if it is)",
            )
            self.assertEqual(pidfile.getContent(), content)

    def test_positive(self) -> None:
        """
        L{positive} makes a coerce function that accepts positive finite
        numbers of its kind and refuses anything else with a usage error
        naming the option.
        """
        check = positive(float).named("--thing")
        self.assertEqual(check("0.5"), 0.5)
        self.assertEqual(positive(int)("3"), 3)
        for value in ["0", "-0.0", "-3", "nan", "inf", "-inf", "three", ""]:
            error = self.assertRaises(usage.UsageError, check, value)
            self.assertIn("--thing", str(error))
        self.assertRaises(usage.UsageError, positive(int), "2.5")

    def test_numberErrorsNameTheirOption(self) -> None:
        """
        Every option of both commands that takes a value checked on the
        way in is a number, and given a value below its range, or a word
        (C{spawn = "two"} in a configuration file, say: C{--spawn} said
        only "Parameter type enforcement failed: invalid literal for int()
        with base 10"), is refused with a usage error that names it: the
        row that declares the option gives its check the name.
        """
        for options in [fronttap.Options, handlertap.Options]:
            checked = [
                row[0] for row in options.optParameters
                if len(row) > 4 and row[4] is not None
            ]
            numbers = [
                row[0] for row in options.optParameters
                if isinstance(row[4] if len(row) > 4 else None, _Number)
            ]
            self.assertEqual(numbers, checked)
            self.assertIn("threads", numbers)
            if options is fronttap.Options:
                self.assertIn("spawn", numbers)
            for name in numbers:
                for value in ["-1", "two"]:
                    error = self.assertRaises(
                        usage.UsageError, options().parseOptions, [f"--{name}={value}"]
                    )
                    self.assertTrue(
                        str(error).startswith(f"--{name} must be "), (value, str(error))
                    )

    def test_synopsis(self) -> None:
        """
        The usage line of each command names it.
        """
        self.assertEqual(fronttap.Options().synopsis, "[mpfront options]")
        self.assertEqual(handlertap.Options().synopsis, "[mphandler options]")

    def config(self, text: str) -> str:
        """
        A TOML file holding C{text}.
        """
        path = FilePath(self.mktemp())
        path.setContent(text.encode("utf-8"))
        return path.path

    def parseFront(self, *args: str, environ: dict[str, str] | None = None) -> fronttap.Options:
        if environ is None:
            environ = {}
        self.patch(os, "environ", dict(environ))
        options = fronttap.Options()
        options.parseOptions(list(args))
        return options

    def parseHandler(
        self, *args: str, environ: dict[str, str] | None = None
    ) -> handlertap.Options:
        self.patch(os, "environ", dict(environ or {}))
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app", *args])
        return options

    def test_configFile(self) -> None:
        """
        C{--config FILE} reads the options of the command's table of a TOML
        file: values, lists for repeatable options, and booleans for flags;
        another command's table is ignored.
        """
        path = self.config(
            '[mpfront]\nlisten = ["tcp:8081", "tcp:8082"]\ntimeout = 12\n'
            'max_body = 1000\nreject-underscore-headers = true\ninsecure = false\n'
            '[mphandler]\nthreads = 9\n'
        )
        options = self.parseFront("--config", path)
        self.assertEqual(options["listen"], ["tcp:8081", "tcp:8082"])
        self.assertEqual(options["timeout"], 12.0)
        self.assertEqual(options["max-body"], 1000)
        self.assertTrue(options["reject-underscore-headers"])
        self.assertFalse(options["insecure"])

    def test_precedence(self) -> None:
        """
        The environment (C{TXMP_MPFRONT_<OPTION>}, also naming the file with
        C{TXMP_CONFIG}) overrides the file, and the command line overrides
        both; a repeatable option given on the command line replaces the
        file's list.
        """
        path = self.config('[mpfront]\nlisten = ["tcp:8081"]\ntimeout = 12\nmax-queue = 5\n')
        environ = {"TXMP_CONFIG": path, "TXMP_MPFRONT_TIMEOUT": "7",
                   "TXMP_MPFRONT_HEARTBEAT": "2", "TXMP_MPHANDLER_THREADS": "x"}
        options = self.parseFront("--heartbeat", "3", "--listen", "tcp:9", environ=environ)
        self.assertEqual(options["timeout"], 7.0)
        self.assertEqual(options["heartbeat"], 3.0)
        self.assertEqual(options["max-queue"], 5)
        self.assertEqual(options["listen"], ["tcp:9"])
        options = self.parseFront(environ={"TXMP_MPFRONT_LISTEN": "tcp:1 tcp:2",
                                           "TXMP_MPFRONT_INSECURE": "yes"})
        self.assertEqual(options["listen"], ["tcp:1", "tcp:2"])
        self.assertTrue(options["insecure"])

    def test_configErrors(self) -> None:
        """
        A missing or malformed file (named by the option or the variable
        that gave it), an unknown option in the file or the environment, a
        key outside the commands' tables (or a table of another name), a
        flag that is not a boolean, and a bad value are usage errors saying
        where.
        """
        cases = [
            (["--config", "/no/such.toml"], {},
             "--config /no/such.toml: No such file or directory"),
            # Named by the variable, where no --config was given.
            ([], {"TXMP_CONFIG": "/no/such.toml"},
             "TXMP_CONFIG /no/such.toml: No such file or directory"),
            ([], {"TXMP_CONFIG": self.config("[mpfront\n")}, "TXMP_CONFIG /"),
            (["--config", self.config("[mpfront\n")], {}, "not TOML"),
            (["--config", self.config("[mpfront]\ntimeuot = 3\n")], {},
             "unknown option 'timeuot'"),
            # Ignored in silence, as was the whole file for a typo in its
            # only table's name.
            (["--config", self.config("timeout = 3\n[mpfront]\n")], {},
             "key 'timeout' outside a table; options go in a table named after"
             " the command, [mpfront] or [mphandler]"),
            (["--config", self.config("[mpfrnt]\ntimeout = 3\n")], {},
             "table [mpfrnt]; options go in a table named after"),
            ([], {"TXMP_MPFRONT_NOPE": "1"}, "TXMP_MPFRONT_NOPE: unknown option 'nope'"),
            ([], {"TXMP_MPFRONT_INSECURE": "maybe"}, "must be true or false"),
            ([], {"TXMP_MPFRONT_TIMEOUT": "0"}, "--timeout must be positive"),
        ]
        for args, environ, message in cases:
            error = self.assertRaises(usage.UsageError, self.parseFront, *args,
                                      environ=environ)
            self.assertIn(message, str(error))

    def test_strayArgument(self) -> None:
        """
        An argument that is no option is refused naming it, where Twisted
        said "Wrong number of arguments."; one that looks like an
        application (C{myproject.wsgi:application}, given as gunicorn takes
        it) is said to be given with C{--app}; another, such as the second
        word of an unquoted value, is said to need quoting.
        """
        for parse, command in [(self.parseFront, "mpfront"), (self.parseHandler, "mphandler")]:
            error = self.assertRaises(usage.UsageError, parse, "myproject.wsgi:application")
            self.assertEqual(
                str(error),
                "unexpected argument 'myproject.wsgi:application': give the "
                "application as --app myproject.wsgi:application (not an argument, "
                f"as gunicorn takes it); {command} takes options only",
            )
            error = self.assertRaises(usage.UsageError, parse, "--heartbeat", "5", "6", "7")
            self.assertEqual(
                str(error),
                "unexpected arguments '6', '7': a value with spaces must be "
                f"quoted; {command} takes options only",
            )

    def test_configNotUTF8(self) -> None:
        """
        A file that is not UTF-8 (TOML's encoding: one saved as Latin-1 or
        UTF-16 by an editor) is a usage error naming the file, and so one
        line from twistd, where tomllib's L{UnicodeDecodeError} went up as a
        traceback; L{readConfig} gives the same error to a SIGHUP that
        reads the file again.
        """
        for content in [b"\xff\xfe[\x00m\x00p\x00", b"[mpfront]\napp = 'caf\xe9:app'\n"]:
            path = FilePath(self.mktemp())
            path.setContent(content)
            error = self.assertRaises(usage.UsageError, self.parseFront, "--config", path.path)
            self.assertIn(f"--config {path.path}: not UTF-8", str(error))
            error = self.assertRaises(usage.UsageError, readConfig, path.path, "mpfront")
            self.assertIn("not UTF-8", str(error))

    def test_listForOneValueRefused(self) -> None:
        """
        A list in the file for an option that takes one value is refused,
        naming it: each item was given in turn, so that C{stats =
        ["tcp:8081", "tcp:8082"]} served the second alone and C{timeout =
        []} left the default, in silence.  A repeatable option takes one
        (C{listen = ["tcp:8081"]}) or a string alone.
        """
        for text, message in [
            ('stats = ["tcp:8081", "tcp:8082"]\n',
             "stats takes one value, not a list: ['tcp:8081', 'tcp:8082']"),
            ("timeout = []\n", "timeout takes one value, not a list: []"),
            ("max-queue = [5]\n", "max-queue takes one value, not a list: [5]"),
        ]:
            path = self.config("[mpfront]\n" + text)
            error = self.assertRaises(usage.UsageError, self.parseFront, "--config", path)
            self.assertEqual(str(error), f"{path} [mpfront]: {message}")
        path = self.config('[mphandler]\nthreads = [2, 8]\n')
        error = self.assertRaises(usage.UsageError, self.parseHandler, "--config", path)
        self.assertEqual(
            str(error), f"{path} [mphandler]: threads takes one value, not a list: [2, 8]"
        )
        path = self.config('[mpfront]\nlisten = "tcp:8081"\ntrusted-proxy = ["10.0.0.1"]\n')
        options = self.parseFront("--config", path)
        self.assertEqual(options["listen"], ["tcp:8081"])
        self.assertEqual(len(options["trusted-proxy"]), 1)
        path = self.config('[mphandler]\nsend = ["tcp://127.0.0.1:1", "tcp://127.0.0.1:3"]\n'
                           'return = ["tcp://127.0.0.1:2", "tcp://127.0.0.1:4"]\n')
        self.assertEqual(len(self.parseHandler("--config", path)["send"]), 2)

    def test_emptyValuesRefused(self) -> None:
        """
        Any option given an empty value, on the command line, in the file
        or from the environment, is a usage error naming it: most often a
        shell variable that was not set, which was taken for the option
        left out, and so turned CURVE off (C{--curve-secret-key=$KEY}), or
        C{--stats}, C{--profile} or C{--config}, in silence.
        """
        message = "--{} is empty (an unset variable?): give it a value, or leave it out"
        for parse, name, args, environ in [
            (self.parseFront, "curve-secret-key", ["--curve-secret-key="], {}),
            (self.parseFront, "stats", [], {"TXMP_MPFRONT_STATS": ""}),
            (self.parseFront, "stats",
             ["--config", self.config('[mpfront]\nstats = ""\n')], {}),
            (self.parseFront, "config", ["--config", ""], {}),
            (self.parseFront, "listen", ["--listen", "tcp:8080", "--listen="], {}),
            (self.parseHandler, "curve-secret-key", ["--curve-secret-key="], {}),
            (self.parseHandler, "profile", ["--profile", ""], {}),
            (self.parseHandler, "name", ["--name="], {}),
        ]:
            error = self.assertRaises(usage.UsageError, parse, *args, environ=environ)
            self.assertEqual(str(error), message.format(name), (name, args, environ))

    def test_emptyRepeatableVariableRefused(self) -> None:
        """
        A repeatable option's variable set empty (or to spaces) is refused
        as an empty value, as any other option's is: it gave no value, and
        so replaced the file's list with nothing, in silence
        (C{TXMP_MPFRONT_LISTEN=$LISTEN}, C{LISTEN} unset, served the
        default C{tcp:8080} on every interface instead of the file's
        C{--listen}; C{TXMP_MPHANDLER_SEND} connected to the default
        front).
        """
        message = "--{} is empty (an unset variable?): give it a value, or leave it out"
        path = self.config('[mpfront]\nlisten = ["tcp:8081:interface=127.0.0.1"]\n')
        for parse, name, args, environ in [
            (self.parseFront, "listen", ["--config", path], {"TXMP_MPFRONT_LISTEN": ""}),
            (self.parseFront, "listen", [], {"TXMP_MPFRONT_LISTEN": "  "}),
            (self.parseHandler, "send", [], {"TXMP_MPHANDLER_SEND": ""}),
        ]:
            error = self.assertRaises(usage.UsageError, parse, *args, environ=environ)
            self.assertEqual(str(error), message.format(name), (name, args, environ))
        # (Its own check refuses it first.)
        error = self.assertRaises(usage.UsageError, self.parseFront,
                                  environ={"TXMP_MPFRONT_TRUSTED_PROXY": ""})
        self.assertIn("--trusted-proxy", str(error))

    def test_emptyListRefused(self) -> None:
        """
        An empty list in the file for a repeatable option is refused, as
        an empty value is anywhere: it gave none, and left the option's
        default, so that C{listen = []} served C{tcp:8080} on every
        interface, and a handler's C{send = []} and C{return = []}
        connected to the default front, in silence.
        """
        for parse, table, name in [
            (self.parseFront, "mpfront", "listen"),
            (self.parseFront, "mpfront", "trusted-proxy"),
            (self.parseHandler, "mphandler", "send"),
        ]:
            path = self.config(f"[{table}]\n{name} = []\n")
            error = self.assertRaises(usage.UsageError, parse, "--config", path)
            self.assertEqual(
                str(error),
                f"{path} [{table}]: {name} = [] gives no value: give it one, or "
                "leave it out",
            )

    def test_accessLogEmpty(self) -> None:
        """
        An empty C{--access-log}, on the command line, in the file or from
        the environment (a container's C{TXMP_MPFRONT_ACCESS_LOG=$VAR},
        C{VAR} unset), is a usage error naming C{--access-log}: the front
        started, then failed to open C{''} and exited blaming its first
        C{--listen} (C{--listen tcp:8080: [Errno 2] No such file or
        directory: ''}).
        """
        for args, environ in [
            (["--access-log", ""], {}),
            (["--access-log="], {}),
            (["--config", self.config('[mpfront]\naccess-log = ""\n')], {}),
            ([], {"TXMP_MPFRONT_ACCESS_LOG": ""}),
        ]:
            error = self.assertRaises(usage.UsageError, self.parseFront, *args,
                                      environ=environ)
            self.assertEqual(
                str(error),
                "--access-log is empty (an unset variable?): give a file, or - for"
                " standard output, or leave it out",
                (args, environ),
            )

    def test_version(self) -> None:
        """
        C{--version} shows txmp's version, then Twisted's and Python's, and
        exits with status 0.
        """
        for module in [fronttap, handlertap]:
            output = io.StringIO()
            self.patch(sys, "stdout", output)
            error = self.assertRaises(SystemExit, module.Options().parseOptions,
                                      ["--version"])
            self.assertEqual(error.code, 0)
            self.assertTrue(
                output.getvalue().startswith("txmp %s (Twisted " % (txmp.__version__,)),
                output.getvalue(),
            )

    def test_helpText(self) -> None:
        """
        The help of both taps has no runs of spaces inside a text (only the
        indentation of its columns), and every option shows its default.
        """
        for module in [fronttap, handlertap]:
            options = module.Options()
            for name, doc in options.docs.items():
                self.assertNotIn("  ", doc, name)
                if name in ("help", "version"):
                    continue
                # getUsage adds "[default: ...]" for the others.
                self.assertTrue(
                    "default" in doc or options.defaults.get(name) is not None, name
                )
            self.assertNotIn("  ", options.longdesc)
            self.assertNotIn(".  ", str(options))

    def test_usageErrorAlone(self) -> None:
        """
        Parsed on their own, the taps' options raise L{usage.UsageError}.
        """
        self.assertRaises(usage.UsageError, fronttap.Options().parseOptions,
                          ["--timeout", "0"])

    def underTwistd(self, **twistd: object) -> tuple[dict[str, object], Callable[..., None]]:
        """
        twistd's options C{twistd} (its C{subCommand} C{mpfront}), and a
        function that parses C{mpfront}'s arguments as their subcommand,
        as twistd does: its usage errors exit.
        """
        parent = FakeTwistdOptions(**twistd)
        # (configureTwistd records the settings of the log it makes.)
        self.patch(logs, "_twistdSettings", {})

        def parse(*args: str) -> None:
            options = fronttap.Options()
            options.parent = parent
            options.parseOptions(list(args))

        return parent, parse

    def test_twistdFilesUnwritable(self) -> None:
        """
        A C{--logfile} or C{--pidfile} of twistd's own that the process
        could not write (its directory does not exist, or it is a
        directory), or a C{--rundir} it could not change to, makes it exit
        at once with one line naming the option, where twistd would fail
        with a traceback once started.
        """
        missing = FilePath(self.mktemp()).child("front")
        cases: list[tuple[dict[str, object], str]] = [
            ({"nodaemon": True, "logfile": missing.path + ".log", "pidfile": ""},
             f"--logfile {missing.path}.log: No such file or directory"),
            ({"nodaemon": False, "logfile": missing.path + ".log", "pidfile": ""},
             f"--logfile {missing.path}.log: No such file or directory"),
            ({"nodaemon": True, "logfile": "-", "pidfile": missing.path + ".pid"},
             f"--pidfile {missing.path}.pid: No such file or directory"),
            ({"nodaemon": True, "logfile": "-", "pidfile": os.getcwd()},
             f"--pidfile {os.getcwd()}: Is a directory"),
            # twistd changes to it once started: a traceback then, and a
            # daemon's command exited 1 saying nothing.
            ({"nodaemon": False, "logfile": "front.log", "pidfile": "",
              "rundir": missing.path},
             f"--rundir {missing.path}: No such file or directory"),
            ({"nodaemon": True, "logfile": "-", "pidfile": "", "rundir": __file__},
             f"--rundir {__file__}: Not a directory"),
        ]
        for twistd, line in cases:
            _, parse = self.underTwistd(**twistd)
            error = self.assertRaises(SystemExit, parse)
            self.assertEqual(
                str(error.code), f"twistd mpfront: {line} (see twistd mpfront --help)"
            )

    def test_twistdFilesWritable(self) -> None:
        """
        A log file and a pidfile that can be written are neither refused
        nor created while parsing; standard output (C{--logfile -}, or no
        C{--logfile} in the foreground) is no file, and neither is a
        C{--logfile} that twistd's C{--syslog} or C{--logger} leaves
        unused.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        missing = directory.child("no").child("front.log").path
        cases: list[dict[str, object]] = [
            {"nodaemon": False, "logfile": directory.child("front.log").path,
             "pidfile": directory.child("front.pid").path},
            {"nodaemon": True, "logfile": "-", "pidfile": ""},
            {"nodaemon": True, "logfile": None, "pidfile": ""},
            {"nodaemon": True, "logfile": missing, "pidfile": "", "syslog": True},
            {"nodaemon": True, "logfile": missing, "pidfile": "", "logger": "a.b"},
            {"nodaemon": True, "logfile": "-", "pidfile": "", "rundir": "."},
            {"nodaemon": True, "logfile": "-", "pidfile": "", "rundir": directory.path},
            {"nodaemon": True, "logfile": "-", "pidfile": "", "rundir": missing,
             "chroot": directory.path},
        ]
        for twistd in cases:
            _, parse = self.underTwistd(**twistd)
            parse()
        self.assertEqual(directory.listdir(), [])

    def test_accessLogStdoutOfDaemon(self) -> None:
        """
        C{--access-log -} is refused for a daemon (twistd without C{-n}),
        whose standard output is C{/dev/null}: every line was lost without
        a word.  In the foreground it is taken.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        logfile = directory.child("front.log").path
        _, parse = self.underTwistd(nodaemon=False, logfile=logfile, pidfile="")
        error = self.assertRaises(SystemExit, parse, "--access-log", "-")
        self.assertEqual(
            str(error.code),
            "twistd mpfront: --access-log -: a daemon's standard output is"
            " /dev/null: give a file, or run twistd with -n"
            " (see twistd mpfront --help)",
        )
        _, parse = self.underTwistd(nodaemon=True, logfile="-", pidfile="")
        parse("--access-log", "-")

    def test_logfileStdoutOfDaemon(self) -> None:
        """
        twistd's C{--logfile -} is refused for a daemon (twistd without
        C{-n}), whose standard output is C{/dev/null}, as twistd's own
        logger refuses it (C{Daemons cannot log to stdout}): the log txmp
        makes in its place lost every line after the first two without a
        word.  In the foreground, or with twistd's C{--syslog} or
        C{--logger} (which do not write it), it is taken.
        """
        _, parse = self.underTwistd(nodaemon=False, logfile="-", pidfile="")
        error = self.assertRaises(SystemExit, parse)
        self.assertEqual(
            str(error.code),
            "twistd mpfront: --logfile -: a daemon's standard output is"
            " /dev/null: give a file, or run twistd with -n"
            " (see twistd mpfront --help)",
        )
        cases: list[dict[str, object]] = [
            {"nodaemon": True},
            {"nodaemon": False, "syslog": True},
            {"nodaemon": False, "logger": "a.b"},
        ]
        for twistd in cases:
            _, parse = self.underTwistd(logfile="-", pidfile="", **twistd)
            parse()

    def test_usageErrorUnderTwistd(self) -> None:
        """
        Parsed as a subcommand of twistd, the taps' options exit with one
        line naming the subcommand and the option, and no usage text.
        """
        for module, name in [(fronttap, "mpfront"), (handlertap, "mphandler")]:
            options = module.Options()
            options.parent = FakeTwistdOptions(name)
            error = self.assertRaises(SystemExit, options.parseOptions,
                                      ["--heartbeat", "0"])
            self.assertIn("twistd %s:" % (name,), str(error.code))
            self.assertIn("--heartbeat", str(error.code))
            self.assertNotIn("\n", str(error.code))


def conforms(value: object, annotation: object) -> bool:
    """
    Whether C{value} has the type C{annotation}, one of the forms the
    taps' settings use: a class (C{int}, C{float}, C{bool}, C{str} and
    C{bytes} exactly: a flag's 0 is no L{bool}, an C{int} default no
    C{float}), C{Optional}/C{Union}, C{list[X]}, C{frozenset[X]},
    C{tuple[X, Y]} and a C{Callable}.

    @raise TypeError: for any other form, which this check would
        otherwise pass unexamined.
    """
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Union:
        return any(conforms(value, each) for each in arguments)
    if origin in (list, frozenset):
        return (
            isinstance(value, (list, frozenset))
            and type(value) is origin
            and all(conforms(item, arguments[0]) for item in value)
        )
    if origin is tuple:
        return (
            isinstance(value, tuple)
            and len(value) == len(arguments)
            and all(conforms(item, each) for item, each in zip(value, arguments))
        )
    if origin is CallableABC:
        return callable(value)
    if annotation is type(None):
        return value is None
    if annotation in (int, float, bool, str, bytes):
        return type(value) is annotation
    if origin is None and isinstance(annotation, type):
        return isinstance(value, annotation)
    raise TypeError(f"no check for {annotation!r}")


class SettingsTypeTests(SynchronousTestCase):
    """
    L{fronttap.FrontSettings} and L{handlertap.HandlerSettings} say what
    the parsed options hold: every key, each value of its type, for
    command lines that give no option and every option.
    """

    def makeKeys(self) -> str:
        """
        A new directory with the key pairs C{front} and C{handler}.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        for name in ("front", "handler"):
            createKeyPair(directory, name)
        return directory

    def assertSettings(
        self, settings: Mapping[str, object],
        kind: Any, underTwistd: bool = False,
    ) -> None:
        """
        Assert that C{settings} has exactly the keys of the L{TypedDict}
        C{kind} (its optional ones only if C{underTwistd}; the front has
        none once parsed) and that each value conforms to its annotation.

        @param kind: L{fronttap.FrontSettings} or
            L{handlertap.HandlerSettings} (a L{TypedDict} class, which mypy
            can type only as itself).
        """
        hints = get_type_hints(kind, localns={"Application": Application})
        required, optional = kind.__required_keys__, kind.__optional_keys__
        expected = set(required) | (set(optional) if underTwistd else set())
        self.assertEqual(set(hints), set(required) | set(optional))
        self.assertEqual(sorted(settings), sorted(expected))
        for key, value in settings.items():
            self.assertTrue(
                conforms(value, hints[key]), f"{key}: {value!r} is no {hints[key]}"
            )

    def assertEveryOption(self, options: usage.Options, args: Sequence[str]) -> None:
        """
        Assert that C{args} give every option of C{options} but C{--help}
        and C{--version}: an option added is given here, and checked.
        """
        given = {arg[2:] for arg in args if arg.startswith("--")}
        every = {name.rstrip("=") for name in options.longOpt} - {"help", "version"}
        self.assertEqual(sorted(every - given), [])

    def test_frontDefaults(self) -> None:
        """
        With no option, and with C{--spawn} and C{--app} alone (private
        addresses), the front's parsed options are L{fronttap.FrontSettings}.
        """
        for args in [[], ["--spawn", "1", "--app", "txmp.demo:app"]]:
            options = fronttap.Options()
            options.parseOptions(args)
            self.assertSettings(options.settings(), fronttap.FrontSettings)

    def test_frontEveryOption(self) -> None:
        """
        With every option given (CURVE included), the front's parsed
        options are L{fronttap.FrontSettings}.
        """
        keys = self.makeKeys()
        allowed = os.path.join(keys, "allowed")
        os.makedirs(allowed)
        os.rename(os.path.join(keys, "handler.key"), os.path.join(allowed, "handler.key"))
        config = self.mktemp()
        FilePath(config).setContent(b"[mpfront]\n")
        args = [
            "--listen", "tcp:19500", "--send", "tcp://127.0.0.1:19501",
            "--return", "tcp://127.0.0.1:19502", "--timeout", "5",
            "--queue-timeout", "2", "--max-queue", "10", "--heartbeat", "0.5",
            "--window", "4096", "--max-body", "100", "--header-timeout", "3",
            "--body-timeout", "4", "--idle-timeout", "6", "--max-request-line", "200",
            "--max-headers", "20", "--max-header-bytes", "3000",
            "--max-connections", "50", "--access-log", self.mktemp(),
            "--access-log-format", "json", "--stats", "tcp:19503", "--spawn", "2",
            "--app", "txmp.demo:app", "--threads", "3", "--prefetch", "0",
            "--graceful-timeout", "7",
            "--max-requests", "100", "--max-requests-jitter", "10",
            "--script-name", "/app", "--curve-secret-key",
            os.path.join(keys, "front.key_secret"), "--curve-allow", allowed,
            "--max-message", "65536", "--reload", "--reject-underscore-headers",
            "--insecure", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "unix",
            "--log-format", "json", "--log-level", "debug", "--config", config,
        ]
        options = fronttap.Options()
        self.assertEveryOption(options, args)
        options.parseOptions(args)
        self.assertSettings(options.settings(), fronttap.FrontSettings)

    def test_frontStarted(self) -> None:
        """
        The key the front's services add once it starts is one of
        L{fronttap.FrontSettings}, and optional.
        """
        self.assertEqual(fronttap.FrontSettings.__optional_keys__, {"curve-spawn-key"})
        self.assertIs(get_type_hints(fronttap.FrontSettings)["curve-spawn-key"], bytes)

    def handlerArgs(self) -> list[str]:
        """
        Every option of C{mphandler}, the working directory and
        C{sys.path} put back when the test ends (C{--chdir} and
        C{--pythonpath} change them).
        """
        self.addCleanup(os.chdir, os.getcwd())
        self.addCleanup(sys.path.__setitem__, slice(None), list(sys.path))
        keys = self.makeKeys()
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        config = self.mktemp()
        FilePath(config).setContent(b"[mphandler]\n")
        return [
            "--app", "txmp.demo:app", "--threads", "2", "--prefetch", "3", "--name", "h",
            "--heartbeat", "0.5", "--graceful-timeout", "7", "--max-requests", "100",
            "--max-requests-jitter", "10",
            "--curve-secret-key", os.path.join(keys, "handler.key_secret"),
            "--curve-server-key", os.path.join(keys, "front.key"),
            "--profile", os.path.join(directory, "h.pstats"), "--profile-seconds", "5",
            "--chdir", directory, "--script-name", "/app", "--parent-pid", "1",
            "--pythonpath", directory, "--send", "tcp://127.0.0.1:19501",
            "--return", "tcp://127.0.0.1:19502", "--log-format", "json",
            "--log-level", "debug", "--config", config,
        ]

    def test_handlerDefaults(self) -> None:
        """
        With only C{--app}, the handler's parsed options are
        L{handlertap.HandlerSettings}, without the keys added under twistd.
        """
        options = handlertap.Options()
        options.parseOptions(["--app", "txmp.demo:app"])
        self.assertSettings(options.settings(), handlertap.HandlerSettings)

    def test_handlerEveryOption(self) -> None:
        """
        With every option given (CURVE included), the handler's parsed
        options are L{handlertap.HandlerSettings}.
        """
        args = self.handlerArgs()
        options = handlertap.Options()
        self.assertEveryOption(options, args)
        options.parseOptions(args)
        self.assertSettings(options.settings(), handlertap.HandlerSettings)

    def test_handlerUnderTwistd(self) -> None:
        """
        Parsed by twistd, the handler's options are
        L{handlertap.HandlerSettings} with the keys for the process that
        serves.
        """

        class NotInstalled(_exit.ExitWithoutThreads):
            def install(self) -> None:
                """
                Leave this test's process alone.
                """

        self.patch(handlertap, "ExitWithoutThreads", NotInstalled)
        for args in [["--app", "txmp.demo:app"], self.handlerArgs()]:
            options = handlertap.Options()
            options.parent = FakeTwistdOptions(
                "mphandler", nodaemon=True, logger="a.b", pidfile=""
            )
            options.parseOptions(args)
            self.assertSettings(options.settings(), handlertap.HandlerSettings, True)

    def test_conforms(self) -> None:
        """
        L{conforms} tells the types of the settings apart, and refuses a
        form it cannot check.
        """
        self.assertTrue(conforms(None, Optional[int]))
        self.assertTrue(conforms(1, Optional[int]))
        self.assertFalse(conforms(1, float))
        self.assertFalse(conforms(0, bool))
        self.assertFalse(conforms(True, int))
        self.assertTrue(conforms([("a", "b")], list[tuple[str, str]]))
        self.assertFalse(conforms([("a", 1)], list[tuple[str, str]]))
        self.assertFalse(conforms([("a",)], list[tuple[str, str]]))
        self.assertFalse(conforms(["a"], frozenset[str]))
        self.assertTrue(conforms(wsgiApp, Application))
        self.assertRaises(TypeError, conforms, {}, dict[str, str])
