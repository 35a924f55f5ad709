# -*- test-case-name: txmp.test.test_logs -*-
"""
Tests for L{txmp._logs}.
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import sys
from collections.abc import Sequence
from typing import Any

from twisted.logger import (
    LogEvent,
    Logger,
    LoggingFile,
    LogLevel,
    capturedLogs,
    eventAsJSON,
    formatEvent,
)
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txmp import _logs
from txmp._logs import ChildLog, configureTwistd, makeObserver, standardStreamsLateBound
from txmp.testing import FakeTwistdOptions


class ObserverTests(SynchronousTestCase):
    """
    Tests for L{makeObserver} and L{configureTwistd}.
    """

    def setUp(self) -> None:
        self.addCleanup(_logs._openFiles.clear)

    def test_jsonFiltered(self) -> None:
        """
        The JSON observer writes one object per line, the event's fields
        included; events under the level are dropped.
        """
        path = FilePath(self.mktemp())
        observer = makeObserver("json", "info", path.path, nodaemon=True)
        log = Logger(namespace="t", observer=observer)
        log.debug("not {this}", this="that")
        log.info("request {requestId} done", requestId="abc.1")
        log.error("bad")
        lines = path.getContent().decode("utf-8").splitlines()
        events = [json.loads(line) for line in lines]
        self.assertEqual([e["log_level"]["name"] for e in events], ["info", "error"])
        self.assertEqual(events[0]["requestId"], "abc.1")
        self.assertEqual(events[0]["log_namespace"], "t")

    def test_eachEventFlushed(self) -> None:
        """
        Each event written to standard output is flushed as soon as it is
        written, in either format: on a pipe (a spawned handler's, under
        systemd or in a container) the stream is block-buffered, and what
        it held would come late, or never, the process ending with
        L{os._exit}.
        """
        for format in ["json", "text"]:
            written = io.BytesIO()
            # (A buffered text stream, as sys.stdout is on a pipe: what is
            # written reaches the bytes below only when flushed.)
            self.patch(sys, "stdout", io.TextIOWrapper(written, encoding="utf-8"))
            log = Logger(observer=makeObserver(format, "info", None, nodaemon=True))
            log.info("first")
            self.assertIn(b"first", written.getvalue(), format)
            log.info("second")
            self.assertIn(b"second", written.getvalue(), format)

    def test_jsonFailureKeepsMessage(self) -> None:
        """
        A failure logged as JSON keeps its exception's message: read back
        (as the front reads a spawned handler's lines), its traceback ends
        with the exception's type and message, not with what JSON makes of
        an exception object (C{{'unpersistable': True}}); the failure the
        other observers see is left as it was.
        """
        path = FilePath(self.mktemp())
        observer = makeObserver("json", "info", path.path, nodaemon=True)
        try:
            raise RuntimeError("close failed: caf\xe9")
        except RuntimeError:
            failure = Failure()
        Logger(namespace="t", observer=observer).failure("app failed", failure)
        events: list[dict[str, Any]] = []
        child = ChildLog("h:spawn-1", events.append)
        child.dataReceived(1, path.getContent())
        [event] = events
        traceback = event["log_failure"].getTraceback()
        self.assertTrue(
            traceback.endswith("builtins.RuntimeError: close failed: caf\xe9\n"), traceback
        )
        self.assertIsInstance(failure.value, RuntimeError)

    def test_textToStdout(self) -> None:
        """
        With no log file (or C{-}) in the foreground, lines go to stdout,
        as twistd's do.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        for logfile in (None, "-"):
            Logger(namespace="t", observer=makeObserver("text", "warn", logfile, True)).warn("x")
        self.assertEqual(out.getvalue().count("[t#warn] x"), 2)

    def test_textUnencodable(self) -> None:
        """
        A text event holding what UTF-8 cannot encode (a lone surrogate, as
        C{os.fsdecode} makes of a file name that is not UTF-8), written by
        an application to C{wsgi.errors} or in an exception's message, is
        written with that character escaped, to a log file and to a strict
        stdout alike, instead of being lost: an observer that raises loses
        the event (L{twisted.logger.LogPublisher} drops it, and tells only
        the other observers, of which there are none).
        """
        path = FilePath(self.mktemp())
        stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
        self.patch(sys, "stdout", stdout)
        for logfile in (path.path, "-"):
            log = Logger(namespace="t", observer=makeObserver("text", "info", logfile, True))
            log.error("wsgi.errors: {line}", line="file \udcff.txt")
            try:
                raise ValueError("no \udcfe here")
            except ValueError:
                log.failure("app failed")
        stdout.flush()
        buffer = stdout.buffer
        assert isinstance(buffer, io.BytesIO)
        for written in (path.getContent(), buffer.getvalue()):
            text = written.decode("utf-8")
            self.assertIn("[t#error] wsgi.errors: file \\udcff.txt\n", text)
            self.assertIn("builtins.ValueError: no \\udcfe here\n", text)

    def test_reopen(self) -> None:
        """
        L{_logs.reopenLogFiles} reopens the files by their path.
        """
        path = FilePath(self.mktemp())
        log = Logger(namespace="t", observer=makeObserver("text", "info", path.path, False))
        log.info("one")
        rotated = path.siblingExtension(".1")
        path.moveTo(rotated)
        _logs.reopenLogFiles()
        log.info("two")
        self.assertIn(b"one", rotated.getContent())
        self.assertIn(b"two", path.getContent())
        self.assertNotIn(b"one", path.getContent())

    def test_reopenKeepsPermissions(self) -> None:
        """
        A file that L{_logs.ReopenableFile.reopen} makes anew (logrotate
        moved the old one away) gets the old one's permissions, whatever
        the umask (twistd's 077 for a daemon); one that is there already
        (logrotate's C{create} made it) keeps its own.
        """
        path = FilePath(self.mktemp())
        log = _logs.ReopenableFile(path.path)
        self.addCleanup(log.close)
        path.chmod(0o640)
        path.moveTo(path.siblingExtension(".1"))
        self.addCleanup(os.umask, os.umask(0o077))
        log.reopen()
        self.assertEqual(stat.S_IMODE(os.stat(path.path).st_mode), 0o640)
        path.moveTo(path.siblingExtension(".2"))
        path.touch()
        path.chmod(0o600)
        log.reopen()
        self.assertEqual(stat.S_IMODE(os.stat(path.path).st_mode), 0o600)

    def test_reopenKeepsGroup(self) -> None:
        """
        A file that L{_logs.ReopenableFile.reopen} makes anew gets the old
        one's group too, if this process may give it (root, or a member of
        it): a log made readable by a group (C{chgrp adm}, C{chmod 640})
        stays readable by that group, not by this process's own.
        """
        others = [gid for gid in os.getgroups() if gid != os.getegid()]
        if os.geteuid() == 0:
            group = os.getegid() + 4242
        elif others:
            group = others[0]
        else:
            raise SkipTest("this process may give its files no other group")
        path = FilePath(self.mktemp())
        log = _logs.ReopenableFile(path.path)
        self.addCleanup(log.close)
        os.chown(path.path, -1, group)
        path.chmod(0o640)
        path.moveTo(path.siblingExtension(".1"))
        self.addCleanup(os.umask, os.umask(0o077))
        log.reopen()
        made = os.stat(path.path)
        self.assertEqual((made.st_gid, stat.S_IMODE(made.st_mode)), (group, 0o640))

    def test_standardErrorLineBuffered(self) -> None:
        """
        L{configureTwistd} makes the process's standard error line-buffered,
        as CPython's is and PyPy's on a pipe is not: twistd's parent writes
        a daemon's failure there and leaves by L{os._exit}, without a
        flush.
        """
        written = io.BytesIO()
        stderr = io.TextIOWrapper(written, encoding="utf-8")
        self.patch(sys, "__stderr__", stderr)
        self.patch(_logs, "_twistdSettings", {})
        configureTwistd(FakeTwistdOptions(syslog=True), "text", "info")
        stderr.write("An error has occurred: b'...'\n")
        self.assertEqual(written.getvalue(), b"An error has occurred: b'...'\n")

    def test_configureTwistd(self) -> None:
        """
        twistd's C{--logger} becomes a factory of our observer, unless
        C{--logger} or C{--syslog} was given.
        """
        options = FakeTwistdOptions(logfile="-", nodaemon=True)
        self.patch(_logs, "_twistdSettings", {})
        configureTwistd(options, "json", "warn")
        self.assertEqual(options["logger"], "txmp._logs.twistdObserver")
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        Logger(namespace="t", observer=_logs.twistdObserver()).error("x")
        self.assertEqual(json.loads(out.getvalue())["log_level"]["name"], "error")
        mine = object()
        given = FakeTwistdOptions(logger=mine)
        configureTwistd(given, "json", "info")
        self.assertIs(given["logger"], mine)
        syslog = FakeTwistdOptions(syslog=True)
        configureTwistd(syslog, "json", "info")
        self.assertNotIn("logger", syslog)


class ChildLogTests(SynchronousTestCase):
    """
    Tests for L{ChildLog}.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.child = ChildLog("h:spawn-1", self.events.append)

    def test_jsonEvents(self) -> None:
        """
        A child's JSON event, however its bytes are split, is published
        with its own time, level, namespace and fields, and the handler's
        name as its system.
        """
        event = {"log_format": "request {requestId} ran", "requestId": "r.1",
                 "log_level": LogLevel.warn, "log_namespace": "txmp._wsgi",
                 "log_time": 1234.5}
        line = eventAsJSON(event).encode("utf-8") + b"\n"
        self.child.dataReceived(1, line[:10])
        self.assertEqual(self.events, [])
        self.child.dataReceived(1, line[10:])
        [got] = self.events
        self.assertEqual(got["log_time"], 1234.5)
        self.assertEqual(got["log_level"], LogLevel.warn)
        self.assertEqual(got["log_namespace"], "txmp._wsgi")
        self.assertEqual(got["log_system"], "h:spawn-1 txmp._wsgi#warn")
        self.assertEqual(formatEvent(got), "request r.1 ran")

    def test_formatSpecsKept(self) -> None:
        """
        A handler's event whose format gives a field a spec
        (C{{late:.3f}}) reads at its front, from the handler's JSON, as it
        reads in the handler's own log: a C{--spawn} front wrote
        C{its heartbeat ran 3.509033679962158 s late}, since Twisted
        formats an event read back from JSON with each field's C{str()}.
        Fields without a spec, a conversion and a field given twice are
        formatted too; a value its spec cannot format is left to Twisted.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        log = Logger(namespace="txmp._handler", observer=makeObserver("json", "info", None, True))
        formats: list[tuple[str, dict[str, object], str]] = [
            ("ran {late:.3f} s late, {name} {late:.1f} {late!r:>20} {n:03d}",
             {"late": 3.509033679962158, "name": "h1", "n": 7},
             "ran 3.509 s late, h1 3.5    3.509033679962158 007"),
            ("{seconds:g} s, {seconds:g} again", {"seconds": 5.0}, "5 s, 5 again"),
            # (Left to Twisted, which formats a flattened event's fields
            # with str().)
            ("{bad:.3f} {fine}", {"bad": "text", "fine": 1}, "text 1"),
        ]
        for logFormat, fields, _ in formats:
            log.warn(logFormat, **fields)
        for line, (logFormat, _, expected) in zip(
            out.getvalue().splitlines(), formats
        ):
            self.child.dataReceived(1, line.encode("utf-8") + b"\n")
            self.assertEqual(formatEvent(self.events[-1]), expected, logFormat)
        self.assertEqual(
            [json.loads(line)["text"] for line in out.getvalue().splitlines()[:2]],
            [expected for _, _, expected in formats[:2]],
        )

    def test_otherLines(self) -> None:
        """
        A line that is not an event is one: C{warn} from stderr, C{info}
        from stdout; a last line without a newline counts when the child
        ends.
        """
        self.child.dataReceived(2, b"twistd mphandler: --app x: no module\n")
        self.child.dataReceived(1, b"plain\npartial")
        self.child.ended()
        self.assertEqual(
            [(formatEvent(e), e["log_level"]) for e in self.events],
            [("twistd mphandler: --app x: no module", LogLevel.warn),
             ("plain", LogLevel.info), ("partial", LogLevel.info)],
        )
        self.assertTrue(all(e["log_system"].startswith("h:spawn-1 ") for e in self.events))


class StandardStreamsLateBoundTests(SynchronousTestCase):
    """
    Tests for L{standardStreamsLateBound}: what code run under it keeps of
    C{sys.stdout} and C{sys.stderr} writes where they go, and follows
    twistd's redirection of them into the log once it is made.
    """

    def setUp(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)

    def redirect(self) -> None:
        """
        Do what twistd does when it begins logging: make C{sys.stdout} and
        C{sys.stderr} L{LoggingFile}s.
        """
        sys.stdout = LoggingFile(Logger(namespace="stdout"))
        sys.stderr = LoggingFile(Logger(namespace="stderr"), LogLevel.error)

    def logged(self, events: Sequence[LogEvent]) -> list[tuple[str, str, str]]:
        """
        The namespace, level name and text of each of C{events}.
        """
        return [(e["log_namespace"], e["log_level"].name, formatEvent(e)) for e in events]

    def test_streamHandlerFollowsRedirection(self) -> None:
        """
        A L{logging.StreamHandler} made under it (Django's C{LOGGING}
        console handler) writes to the process's standard error while it
        runs and after, and into the log once twistd has redirected
        standard error, line by line, at C{error} level, as twistd logs
        any line written there.
        """
        with standardStreamsLateBound():
            handler = logging.StreamHandler()
            handler.emit(logging.makeLogRecord({"msg": "while importing"}))
        handler.emit(logging.makeLogRecord({"msg": "before logging began"}))
        self.assertIs(sys.stderr, self.err)
        self.assertEqual(self.err.getvalue(), "while importing\nbefore logging began\n")
        self.redirect()
        with capturedLogs() as events:
            handler.emit(logging.makeLogRecord({"msg": "Internal Server Error: /\nTraceback"}))
        self.assertEqual(
            self.logged(events),
            [("stderr", "error", "Internal Server Error: /"),
             ("stderr", "error", "Traceback")],
        )
        self.assertEqual(self.err.getvalue(), "while importing\nbefore logging began\n")

    def test_stdout(self) -> None:
        """
        Standard output kept under it follows twistd's redirection too, at
        C{info} level; other attributes are the current stream's.
        """
        with standardStreamsLateBound():
            kept = sys.stdout
        kept.write("printed early\n")
        self.assertEqual(self.out.getvalue(), "printed early\n")
        self.redirect()
        with capturedLogs() as events:
            print("printed late", file=kept)
        self.assertEqual(self.logged(events), [("stdout", "info", "printed late")])
        self.assertEqual(kept.encoding, sys.stdout.encoding)

    def test_replacedStreamKept(self) -> None:
        """
        A stream that the code run under it put in place of C{sys.stderr}
        stays there, and the late-bound stream it may wrap never follows
        twistd's redirection: the log's observer, made after, might write
        through it.
        """
        mine = io.StringIO()
        with standardStreamsLateBound():
            kept = sys.stderr
            sys.stderr = mine
        self.assertIs(sys.stderr, mine)
        self.assertIs(sys.stdout, self.out)
        self.redirect()
        with capturedLogs() as events:
            kept.write("still to standard error\n")
        self.assertEqual(self.err.getvalue(), "still to standard error\n")
        self.assertEqual(events, [])


class DescriptorLoggingFileTests(SynchronousTestCase):
    """
    Tests for L{_logs.giveStandardStreamsDescriptors} and
    L{_logs.DescriptorLoggingFile}: twistd's C{sys.stdout} and
    C{sys.stderr} keep logging what is written to them, and have the
    descriptors of the process's own streams.
    """

    def setUp(self) -> None:
        self.patch(sys, "stdout", LoggingFile(Logger(namespace="stdout")))
        self.patch(sys, "stderr", LoggingFile(Logger(namespace="stderr"), LogLevel.error))

    def test_descriptors(self) -> None:
        """
        Each has the C{fileno()} of the process's own stream, and logs what
        is written, with the namespace, level and encoding of twistd's.
        """
        self.patch(sys, "__stdout__", io.TextIOWrapper(io.BytesIO()))
        self.patch(sys.__stdout__, "fileno", lambda: 11)
        self.patch(sys, "__stderr__", io.TextIOWrapper(io.BytesIO()))
        self.patch(sys.__stderr__, "fileno", lambda: 12)
        _logs.giveStandardStreamsDescriptors()
        self.assertIsInstance(sys.stdout, _logs.DescriptorLoggingFile)
        self.assertEqual((sys.stdout.fileno(), sys.stderr.fileno()), (11, 12))
        with capturedLogs() as events:
            print("printed")
            sys.stderr.write("oops\n")
        self.assertEqual(
            [(e["log_namespace"], e["log_level"], formatEvent(e)) for e in events],
            [("stdout", LogLevel.info, "printed"), ("stderr", LogLevel.error, "oops")],
        )
        self.assertEqual(sys.stderr.encoding, sys.getdefaultencoding())

    def test_textStream(self) -> None:
        """
        Each has the rest of a text stream's interface that code written for
        the process's own streams uses: bytes written to its C{buffer} are
        logged as text written to it is, decoded with its encoding (a
        character cut between two writes whole, a byte that does not decode
        escaped); the C{buffer} has the stream's descriptor; neither can be
        read or sought.
        """
        self.patch(sys, "__stdout__", io.TextIOWrapper(io.BytesIO()))
        self.patch(sys.__stdout__, "fileno", lambda: 11)
        _logs.giveStandardStreamsDescriptors()
        self.assertEqual(sys.stdout.encoding, "utf-8")
        encoded = "caf\xe9 \u2713\n".encode("utf-8")
        with capturedLogs() as events:
            written = sys.stdout.buffer.write(encoded[:4])
            sys.stdout.buffer.write(encoded[4:])
            sys.stdout.write("text, then ")
            sys.stdout.buffer.write(bytearray(b"bytes \xff\n"))
            sys.stdout.buffer.flush()
        self.assertEqual(written, 4)
        self.assertEqual(
            [(e["log_namespace"], formatEvent(e)) for e in events],
            [("stdout", "caf\xe9 \u2713"), ("stdout", "text, then bytes \\xff")],
        )
        self.assertEqual(sys.stdout.buffer.fileno(), 11)
        self.assertEqual(
            (sys.stdout.writable(), sys.stdout.readable(), sys.stdout.seekable()),
            (True, False, False),
        )
        self.assertEqual(sys.stdout.errors, "strict")

    def test_textWrapperOverBuffer(self) -> None:
        """
        An L{io.TextIOWrapper} over a stream's C{buffer} (the docstring's
        C{io.TextIOWrapper(sys.stdout.buffer)}) can be closed, as a C{with}
        block or its collection closes it: that flushes the buffer into the
        log and leaves the stream open, for the rest of the process.
        """
        self.patch(sys, "__stdout__", io.TextIOWrapper(io.BytesIO()))
        self.patch(sys.__stdout__, "fileno", lambda: 11)
        _logs.giveStandardStreamsDescriptors()
        with capturedLogs() as events:
            with io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8") as wrapper:
                wrapper.write("through a wrapper\n")
            sys.stdout.write("and the stream still\n")
        self.assertEqual(
            [formatEvent(e) for e in events],
            ["through a wrapper", "and the stream still"],
        )
        self.assertFalse(sys.stdout.buffer.closed)

    def test_noOwnStream(self) -> None:
        """
        A process without its own stream (C{sys.__stderr__} is L{None}, as
        under C{pythonw}) has no descriptor to give: its C{fileno()} is
        twistd's (which raises L{io.UnsupportedOperation}, or before
        Twisted 26.10 returns C{-1}).
        """

        def descriptor(stream: Any) -> object:
            try:
                return stream.fileno()
            except io.UnsupportedOperation:
                return io.UnsupportedOperation

        self.patch(sys, "__stderr__", None)
        _logs.giveStandardStreamsDescriptors()
        self.assertIsInstance(sys.stderr, _logs.DescriptorLoggingFile)
        self.assertEqual(descriptor(sys.stderr), descriptor(LoggingFile(Logger())))
        self.assertIn(descriptor(sys.stderr), (io.UnsupportedOperation, -1))

    def test_applicationsOwn(self) -> None:
        """
        A stream that is not twistd's (one the application put there) is
        left alone.
        """
        own = io.StringIO()
        self.patch(sys, "stdout", own)
        _logs.giveStandardStreamsDescriptors()
        self.assertIs(sys.stdout, own)
