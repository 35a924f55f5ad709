# -*- test-case-name: txmp.test.test_access -*-
"""
Tests for L{txmp._access}.
"""

from __future__ import annotations

import errno
import io
import json
import sys
from typing import Any, cast

from twisted.logger import ILogObserver, Logger, LogLevel, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from txmp._access import AccessLog
from txmp.testing import FailingFile, FinishedRequest

# 2026-12-01 21:30:05.250 UTC
NOW = 1796160605.25


def finishedRequest() -> FinishedRequest:
    """
    A request as the access log sees it once finished.
    """
    request = FinishedRequest([b"x"])
    request.method = b"POST"
    request.uri = b'/a?b="c"'
    request.clientproto = b"HTTP/1.1"
    request.code = 201
    request.sentLength = 13
    request.requestHeaders.setRawHeaders(b"referer", [b"http://r/"])
    request.requestHeaders.setRawHeaders(b"user-agent", [b"curl/8 \xff"])
    return request


class AccessLogTests(SynchronousTestCase):
    """
    Tests for L{AccessLog}.
    """

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp())

    def test_combined(self) -> None:
        """
        A combined line is Apache's (client unquoted), then the duration in
        seconds and the request id; quotes and undecodable bytes
        are escaped.
        """
        log = AccessLog(self.path.path, now=lambda: NOW)
        log.open()
        log.write(finishedRequest(), "10.0.0.7", 0.0021, "abc123")
        log.close()
        self.assertEqual(
            self.path.getContent().decode("utf-8"),
            '10.0.0.7 - - [01/Dec/2026:21:30:05 +0000] "POST /a?b=\\"c\\" HTTP/1.1" '
            '201 13 "http://r/" "curl/8 \\xff" 0.002100 abc123\n',
        )

    def combinedLines(self, *agents: bytes) -> list[str]:
        """
        The combined lines of a request for each of C{agents}, its
        C{User-Agent}.
        """
        log = AccessLog(self.path.path, now=lambda: NOW)
        log.open()
        for agent in agents:
            request = finishedRequest()
            request.requestHeaders.setRawHeaders(b"user-agent", [agent])
            log.write(request, "10.0.0.7", 0.0021, "abc123")
        log.close()
        return self.path.getContent().decode("utf-8").splitlines()

    def test_combinedBackslashes(self) -> None:
        """
        A backslash the client sent is doubled, so that an undecodable
        byte (C{\\xHH}) and the same four characters typed by the client
        (C{\\\\xHH}) log apart.
        """
        first, second = self.combinedLines(b"u\xffv", b"u\\xffv")
        self.assertIn(' "u\\xffv" ', first)
        self.assertIn(' "u\\\\xffv" ', second)

    def test_combinedControlOrByte(self) -> None:
        """
        A C1 control character (NEL, U+0085, sent as UTF-8) and the byte
        0x85 that is not UTF-8 log apart: the character as C{\\u0085},
        the byte as C{\\x85}.
        """
        first, second = self.combinedLines(b"u\xc2\x85v", b"u\x85v")
        self.assertIn(' "u\\u0085v" ', first)
        self.assertIn(' "u\\x85v" ', second)

    def test_combinedUnicodeControls(self) -> None:
        """
        Characters that end or rewrite a line for what reads the log, but
        that UTF-8 field values and targets may hold (a request's bytes
        over 0x7f are taken): C1 controls (NEL, U+0085, which
        C{str.splitlines} and log shippers take for a line end; CSI,
        U+009B, a terminal's escape), the line and paragraph separators,
        and bidirectional overrides, are escaped in a combined line, as
        nginx escapes every byte over 0x7e in its access log.
        """
        request = finishedRequest()
        request.uri = b"/a\xc2\x85127.0.0.1 - - [x] \xe2\x80\xa8b"
        request.requestHeaders.setRawHeaders(
            b"user-agent", [b"\xc2\x9b2J\xe2\x80\xaeevil \xc3\xa9t\xc3\xa9"]
        )
        log = AccessLog(self.path.path, now=lambda: NOW)
        log.open()
        log.write(request, "10.0.0.7", 0.0021, "abc123")
        log.close()
        text = self.path.getContent().decode("utf-8")
        self.assertEqual(len(text.splitlines()), 1, text)
        self.assertIn('"POST /a\\u0085127.0.0.1 - - [x] \\u2028b HTTP/1.1"', text)
        # Printable non-ASCII text stays as it is.
        self.assertIn('"\\u009b2J\\u202eevil \u00e9t\u00e9"', text)

    def test_json(self) -> None:
        """
        A JSON line is one object with the same facts under names.
        """
        log = AccessLog(self.path.path, "json", now=lambda: NOW)
        log.open()
        log.write(finishedRequest(), "::1", 0.5)
        log.close()
        [line] = self.path.getContent().decode("utf-8").splitlines()
        self.assertEqual(
            json.loads(line),
            {
                "time": "2026-12-01T21:30:05.250+00:00",
                "remote_addr": "::1",
                "method": "POST",
                "target": '/a?b="c"',
                "protocol": "HTTP/1.1",
                "status": 201,
                "bytes": 13,
                "referer": "http://r/",
                "user_agent": "curl/8 \\xff",
                "duration": 0.5,
                "request_id": None,
            },
        )

    def test_stdout(self) -> None:
        """
        C{-} is the process's standard output (not a replaced
        C{sys.stdout}), flushed after every line, and not closed.
        """
        out = io.StringIO()
        self.patch(sys, "__stdout__", out)
        self.patch(sys, "stdout", io.StringIO())
        log = AccessLog("-", now=lambda: NOW)
        log.open()
        log.write(finishedRequest(), "127.0.0.1", 0.0)
        log.close()
        self.assertFalse(out.closed)
        self.assertTrue(out.getvalue().startswith("127.0.0.1 - - [01/Dec/2026"))
        self.assertFalse(self.path.exists())

    def test_writeFailureLoggedOnce(self) -> None:
        """
        A line that cannot be written (a full disk) is lost without an
        exception to the request it logs; the front's log says so once,
        not at every line, and once again when lines are written again.
        """
        out = FailingFile()
        self.patch(sys, "__stdout__", out)
        events: list[dict[str, Any]] = []
        self.patch(AccessLog, "_log", Logger(observer=cast(ILogObserver, events.append)))
        log = AccessLog("-", now=lambda: NOW)
        log.open()
        out.error = OSError(errno.ENOSPC, "No space left on device")
        for client in ["a", "b"]:
            log.write(finishedRequest(), client, 0.0)
        self.assertEqual(out.getvalue(), "")
        [failed] = events
        self.assertEqual(failed["log_level"], LogLevel.error)
        self.assertIn("No space left on device", formatEvent(failed))
        out.error = None
        log.write(finishedRequest(), "c", 0.0)
        log.write(finishedRequest(), "d", 0.0)
        self.assertEqual([line[:1] for line in out.getvalue().splitlines()], ["c", "d"])
        self.assertEqual(len(events), 2)
        self.assertIn("written again", formatEvent(events[1]))

    def test_reopen(self) -> None:
        """
        After the file was moved away (logrotate), L{AccessLog.reopen}
        makes the next line go to a new file by the same path.
        """
        log = AccessLog(self.path.path, now=lambda: NOW)
        log.open()
        log.write(finishedRequest(), "a", 0.0)
        rotated = self.path.siblingExtension(".1")
        self.path.moveTo(rotated)
        log.reopen()
        log.write(finishedRequest(), "b", 0.0)
        log.close()
        self.assertTrue(rotated.getContent().startswith(b"a - -"))
        self.assertTrue(self.path.getContent().startswith(b"b - -"))
        self.assertEqual(len(self.path.getContent().splitlines()), 1)

    def test_noRotation(self) -> None:
        """
        The file is never rotated by the front itself, whatever its size.
        """
        log = AccessLog(self.path.path, now=lambda: NOW)
        log.open()
        request = finishedRequest()
        request.uri = b"/" + b"x" * 100_000
        for _ in range(12):
            log.write(request, "a", 0.0)
        log.close()
        self.assertEqual(len(self.path.getContent().splitlines()), 12)
        self.assertFalse(self.path.siblingExtension(".1").exists())

    def test_unknownFormat(self) -> None:
        """
        A format other than C{combined} and C{json} is refused.
        """
        self.assertRaises(ValueError, AccessLog, "-", "common")
