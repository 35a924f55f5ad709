# -*- test-case-name: txmp.test.test_access -*-
"""
The front's access log: one line per request, in Apache's combined format
or as JSON, to a file (reopened on demand, for logrotate) or to stdout.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from typing import Callable, Protocol, TextIO

from twisted.logger import Logger
from twisted.web.http import datetimeToLogString

from txmp._defaults import ACCESS_LOG_FORMATS
from txmp._logs import ReopenableFile


class LoggedRequest(Protocol):
    """
    What the access log reads of a finished request: the attributes of a
    Twisted Web request that the front's L{txmp._front.Exchange} and
    L{txmp._front.Refusal} have too.
    """

    @property
    def method(self) -> bytes | None: ...

    @property
    def uri(self) -> bytes | None: ...

    @property
    def clientproto(self) -> bytes | None: ...

    @property
    def code(self) -> int:
        """
        The response's status.
        """

    @property
    def sentLength(self) -> int:
        """
        How many bytes of response body were written.
        """

    def getHeader(self, name: bytes) -> bytes | None:
        """
        The last value of the request's header field C{name}, if any, names
        compared without case.
        """


def _decoded(value: bytes | None) -> str | None:
    """
    A request's bytes as text, undecodable bytes escaped.
    """
    return None if value is None else value.decode("utf-8", "backslashreplace")


# The characters of a decoded request field that a combined line escapes
# besides backslash and quote: C0 and C1 controls (NEL, U+0085, is a line
# end to str.splitlines and to log shippers; CSI, U+009B, a terminal's
# escape), the line and paragraph separators, and the bidirectional
# formatting characters, which reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escapeUnsafe(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    # (A C1 control as \u00HH: \xHH over 0x7f is a byte that is not UTF-8.)
    return "\\x%02x" % (code,) if code < 0x80 else "\\u%04x" % (code,)


def _text(value: bytes | None) -> str:
    """
    A request's bytes as text for a combined line: undecodable bytes and
    characters that would end or fake a line or a quoted field, or rewrite
    what a terminal shows (L{_UNSAFE}), escaped.
    """
    if value is None:
        return "-"
    # The request's own backslashes doubled before its undecodable bytes
    # become \xHH: a byte 0xff and the four characters a client typed,
    # \xff, must not log alike.
    text = (
        value.replace(b"\\", b"\\\\")
        .replace(b'"', b'\\"')
        .decode("utf-8", "backslashreplace")
    )
    if text.isascii() and text.isprintable():
        return text
    return _UNSAFE.sub(_escapeUnsafe, text)


class AccessLog:
    """
    Writes a line per finished request.

    C{combined} is Apache's combined format (the client's address unquoted),
    followed by two fields of txmp's: the request's duration in seconds
    and its request id (C{-} if none).  C{json} is one object per line with
    the same facts under names.

    A line that cannot be written (a full disk, standard output's reader
    gone) is lost, not raised to the request it logs: the front serves on,
    as nginx and gunicorn do, and says so once in its log, and once again
    when lines are written again.

    @ivar path: the file written, or C{-} for standard output.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        format: str = "combined",
        now: Callable[[], float] = time.time,
    ) -> None:
        if format not in ACCESS_LOG_FORMATS:
            raise ValueError(
                f"access log format must be one of {ACCESS_LOG_FORMATS}, not {format!r}"
            )
        self.path = path
        self._format = format
        self._now = now
        self._file: ReopenableFile | TextIO | None = None
        self._stamp = (-1, "")
        self._failing = False

    def open(self) -> None:
        """
        Open the file (in append mode, line-buffered), or take stdout.

        Nothing if it is open already.

        @raise OSError: if the file cannot be opened.
        """
        if self._file is not None:
            return
        if self.path == "-":
            # The process's own stdout: twistd replaces sys.stdout with a
            # file that logs each line as an event of its log.
            self._file = sys.__stdout__
        else:
            self._file = ReopenableFile(self.path)

    def reopen(self) -> bool:
        """
        Close the file and open it again by its path: after logrotate has
        moved it, the next line goes to a new file.  If it cannot be
        opened, lines go on to the file open now.

        @return: whether there was a file to reopen (not so for standard
            output).
        """
        if isinstance(self._file, ReopenableFile):
            self._file.reopen()
            return True
        return False

    def close(self) -> None:
        """
        Close the file (not stdout).
        """
        if isinstance(self._file, ReopenableFile):
            self._file.close()
        self._file = None

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if self._stamp[0] != second:
            self._stamp = (second, datetimeToLogString(second))
        return self._stamp[1]

    def write(
        self,
        request: LoggedRequest,
        client: str,
        duration: float,
        requestId: str | None = None,
    ) -> None:
        """
        Write the line of a finished request.

        @param client: the client's address (the forwarded one when the
            peer is a trusted proxy).
        @param duration: seconds from its head to its end.
        """
        if self._file is None:
            return
        now = self._now()
        sent = request.sentLength
        if self._format == "json":
            line = json.dumps(
                {
                    "time": datetime.fromtimestamp(now, timezone.utc).isoformat(
                        timespec="milliseconds"
                    ),
                    "remote_addr": client,
                    "method": _decoded(request.method),
                    "target": _decoded(request.uri),
                    "protocol": _decoded(request.clientproto),
                    "status": request.code,
                    "bytes": sent,
                    "referer": _decoded(request.getHeader(b"referer")),
                    "user_agent": _decoded(request.getHeader(b"user-agent")),
                    "duration": round(duration, 6),
                    "request_id": requestId,
                },
                separators=(",", ":"),
            )
        else:
            line = '%s - - %s "%s %s %s" %d %s "%s" "%s" %.6f %s' % (
                client or "-",
                self._timestamp(now),
                _text(request.method),
                _text(request.uri),
                _text(request.clientproto),
                request.code,
                sent or "-",
                _text(request.getHeader(b"referer")),
                _text(request.getHeader(b"user-agent")),
                duration,
                requestId or "-",
            )
        try:
            self._file.write(line + "\n")
            if not isinstance(self._file, ReopenableFile):
                # Standard output, which is not line-buffered when not a tty.
                self._file.flush()
        except (OSError, ValueError) as e:
            # (ValueError: the file was closed.)
            if not self._failing:
                self._failing = True
                self._log.error(
                    "access log {path}: cannot write ({error}); its lines are "
                    "lost until it can",
                    path=self.path, error=str(e),
                )
            return
        if self._failing:
            self._failing = False
            self._log.info("access log {path}: written again", path=self.path)
