# -*- test-case-name: txmp.test.test_protocol -*-
"""
The txmp wire format: pure encoding and decoding, no I/O.

Every message is a ZeroMQ multipart message whose first frame is
L{VERSION} and whose second frame names its type; the frames after that
depend on the type.  Between peers that agreed to it, the first ZeroMQ
frame may hold the message's leading frames packed (L{pack}, L{unpack}).
C{docs/protocol.md} is the normative description; this module is its
reference implementation.

Request and response heads are I{pair lists}: a sequence of strings
joined by single NUL bytes, alternating name and value.  Fields are
ISO-8859-1 octets, which is what HTTP field values are; NUL cannot appear
in a valid HTTP request head, and the front refuses requests that contain
one.  Unknown names in a I{meta} pair list are ignored, so that new
attributes can be added without a new protocol version.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, TypeVar, Union

from txmp._defaults import (
    DECODED_FRAME,
    DECODED_FRAMES,
    MAX_CREDITS,
    PACK_LIMIT,
)
from txmp._http import CONTROL, FIELD_CHARS, TCHAR, TOKEN

VERSION = b"TXMP1"

# Message types.  Front -> handler (send socket, ROUTER -> DEALER):
REQ = b"REQ"
CANCEL = b"CANCEL"
WELCOME = b"WELCOME"
WINDOW = b"WINDOW"
# To a handler whose HELLO said recall=1: give this request back if no
# thread has taken it.
RECALL = b"RECALL"
# Handler -> front on the send socket (DEALER -> ROUTER), the control plane:
HELLO = b"HELLO"
CREDIT = b"CREDIT"
BYE = b"BYE"
# The answer to RECALL: the request never started, and its slot is free.
RECALLED = b"RECALLED"
# Both directions on the send socket:
PING = b"PING"
# Handler -> front on the return socket (DEALER -> ROUTER), the data plane:
RESP = b"RESP"
ERROR = b"ERROR"
# Body continuation and end, in either direction, for one request id:
BODY = b"BODY"
END = b"END"
# An END (handler -> front) that gives its request's credit back, to a
# front whose WELCOME said credit_in_end=1:
LAST = b"LAST"
# Several messages, each packed whole into one frame, as one ZeroMQ message
# (front -> handler, to a handler whose HELLO said batch=1; handler -> front,
# replies, to a front whose WELCOME said batch=1):
BATCH = b"BATCH"

# Heartbeats (docs/protocol.md, section 6): a peer that has heard nothing
# from the other for this many of its heartbeat intervals takes it for dead.
SILENT_INTERVALS = 3


def sparedForPause(paused: bool, lastHeard: float, gracedAt: float) -> bool:
    """
    Whether a peer that a check of silence finds silent gets one heartbeat
    more, as txmp's front grants its handlers and its handler its front
    (docs/protocol.md, section 6): this process was paused until just now
    (the check, or another timer of this process, ran more than
    L{txmp._defaults.LIVENESS_LATENESS} seconds after it was due), so it has not read what
    the peer sent meanwhile; and the peer has had none for this silence (it
    was heard at or after C{gracedAt}, when the last was given).

    @param paused: whether this process was paused until just now.
    @param lastHeard: when the peer was last heard from.
    @param gracedAt: when the checker last gave a heartbeat more
        (C{-math.inf} if never).
    """
    return paused and lastHeard >= gracedAt

Pairs = list[tuple[str, str]]

# A frame as received: bytes, or a memoryview of a frame received without a
# copy (see L{decode}).
Frame = Union[bytes, memoryview]
BytesPairs = Sequence[tuple[bytes, bytes]]


class ProtocolError(Exception):
    """
    A message does not follow the txmp wire format.  The only exception the
    decoders in this module raise for bad input.
    """


def encodePairs(pairs: BytesPairs) -> bytes:
    """
    Encode a pair list.

    @param pairs: C{(name, value)} byte strings, none containing NUL.
    @return: the names and values joined by NUL bytes; C{b""} for no pairs.
    """
    return b"\0".join([item for pair in pairs for item in pair])


def decodePairs(frame: bytes) -> Pairs:
    """
    Decode a pair list into native strings (ISO-8859-1, as PEP 3333 wants).

    @raise ProtocolError: if the frame holds an odd number of fields.
    """
    return list(_pairs(frame))


def _pairs(frame: bytes) -> Iterator[tuple[str, str]]:
    """
    The pairs of a pair list, as L{decodePairs} gives them, one by one.

    @raise ProtocolError: if the frame holds an odd number of fields.
    """
    if not frame:
        return zip()
    fields = frame.decode("latin-1").split("\0")
    if len(fields) % 2:
        raise ProtocolError("pair list with an odd number of fields")
    each = iter(fields)
    return zip(each, each)


# The integer rule (docs/protocol.md, 3.3): every integer on the wire
# (ports, status, credits, windows, sizes) is 1 to 18 ASCII digits, which any
# language parses into a signed 64-bit integer.  encodeInt writes it and
# _int reads it; nothing else in txmp does either.
_INT_LIMIT = 10**18
#: The largest integer the wire carries (18 digits): an option a front
#: tells its handlers (C{--max-message}, C{--window}) is at most this.
MAX_INT = _INT_LIMIT - 1


def encodeInt(value: int) -> bytes:
    """
    An integer attribute or frame as the wire format writes it.

    @param value: 0 to 10**18 - 1.
    @return: its decimal digits, in ASCII.
    @raise ValueError: if C{value} is negative or has more than 18 digits.
    """
    if not 0 <= value < _INT_LIMIT:
        raise ValueError(f"{value} is not an integer of 1 to 18 digits")
    return b"%d" % (value,)


def _int(value: str | bytes, what: str) -> int:
    # int() alone would also take a sign, spaces, underscores and non-ASCII
    # digits ("\u0661"; bytes.isdigit() knows ASCII digits only).
    if not (0 < len(value) <= 18 and value.isascii() and value.isdigit()):
        raise ProtocolError(f"{what} is not a decimal integer of 1 to 18 digits")
    return int(value)


# WELCOME's heartbeat as encodeDecimal writes it: digits, then a fraction or not.
_DECIMAL = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?\Z")


def encodeDecimal(value: float) -> bytes:
    """
    A positive decimal number as the wire format writes it (WELCOME's
    C{heartbeat}).

    @raise ValueError: if C{value} cannot be written so: not positive, not
        finite, too large, or zero once rounded to 18 digits after the point.
    """
    # A positive decimal number, with or without a fraction (WELCOME's
    # heartbeat), in the form Welcome.heartbeat reads (_DECIMAL): repr() is
    # exact and short, but would write 1e-05, and 0.0003333333333333333 has
    # more than 18 digits after its point: those are rounded to 18.
    text = repr(float(value))
    if _DECIMAL.match(text) is None and 0 < value < _INT_LIMIT:
        text = format(value, ".18f").rstrip("0")
        if text.endswith("."):
            text += "0"
    if _DECIMAL.match(text) is None or float(text) <= 0:
        raise ValueError(f"{value} is not a positive decimal number")
    return text.encode("ascii")


def _optionalPositive(value: str, what: str) -> int | None:
    # An optional attribute that must be a positive integer: one absent or
    # breaking that rule reads as None.
    try:
        number = _int(value, what)
    except ProtocolError:
        return None
    return number if number > 0 else None


def _credits(value: str) -> int:
    credits = _int(value, "credits")
    if credits > MAX_CREDITS:
        raise ProtocolError(f"credits {credits} over the cap of {MAX_CREDITS}")
    return credits


@dataclass
class RequestHead:
    """
    The head of an HTTP request as a handler sees it, all native strings.

    @ivar window: the response window the front grants with the request
        (its C{window} attribute), or L{None} if it has none: no pacing.
    @ivar extra: meta attributes this version does not know, kept as is.
    """

    method: str
    target: str
    version: str
    headers: Pairs
    remoteAddr: str
    remotePort: int
    serverName: str
    serverPort: int
    scheme: str
    more: bool = False
    window: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """
    A C{REQ} message: a request head and the first body frames.
    """

    requestId: bytes
    head: RequestHead
    body: list[bytes]


@dataclass
class ResponseHead:
    """
    The head of a response as a handler sends it, and as the front writes
    it to its client: the reason phrase and header fields stay the bytes
    they came as (checked: see L{decode}).

    @ivar headers: the header fields; as L{decode} gives them, a tuple
        shared with every head decoded from the same frame.
    @ivar extra: meta attributes this version does not know, kept as is
        (decoded from ISO-8859-1).
    @ivar contentLength: the value of its C{Content-Length} header, or
        L{None} if it has none (see L{contentLength}).
    @ivar credit: whether this complete reply gives its request's credit
        back, in place of a C{CREDIT} (only to a front whose C{WELCOME}
        said C{credit_in_reply}).
    """

    status: int
    reason: bytes
    headers: Sequence[tuple[bytes, bytes]]
    more: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    contentLength: int | None = None
    credit: bool = False


@dataclass
class Response:
    """
    A C{RESP} message: a response head and the first body frames.
    """

    requestId: bytes
    head: ResponseHead
    body: list[Frame]

    @property
    def credit(self) -> bool:
        """
        Whether it gives its request's credit back (C{credit=1}), as a
        L{Body} that is a C{LAST} does.
        """
        return self.head.credit


@dataclass
class Body:
    """
    A C{BODY} (C{end} false) or C{END} (C{end} true) message, or a
    C{LAST} (C{end} and C{credit} true): an C{END} that gives the
    request's credit back.
    """

    requestId: bytes
    chunks: list[Frame]
    end: bool
    credit: bool = False


@dataclass
class Error:
    """
    An C{ERROR} message: the handler could not produce (all of) a response.
    """

    requestId: bytes
    message: str


@dataclass
class Cancel:
    """
    A C{CANCEL} message: the front no longer wants this response.
    """

    requestId: bytes


@dataclass
class Recall:
    """
    A C{RECALL} message: the front asks for a request back, if no thread of
    the handler has taken it yet.
    """

    requestId: bytes


@dataclass
class Recalled:
    """
    A C{RECALLED} message: the handler gives back a request that never
    started, and the slot it held.
    """

    requestId: bytes


class _Registration:
    """
    What C{HELLO} and C{WELCOME} both say: the sender's capabilities, as
    flags of its C{meta}.
    """

    meta: dict[str, str]

    def _says(self, flag: str) -> bool:
        """
        Whether C{meta} sets C{flag} (C{flag=1}).
        """
        return self.meta.get(flag) == "1"

    @property
    def packed(self) -> bool:
        """
        Whether the sender takes packed messages (C{packed=1}).
        """
        return self._says("packed")

    @property
    def batch(self) -> bool:
        """
        Whether the sender takes C{BATCH} messages (C{batch=1}): a handler
        on its send socket, a front on its return socket.  It may be sent
        them only if it takes packed messages too.
        """
        return self._says("batch") and self.packed


@dataclass
class Hello(_Registration):
    """
    A C{HELLO} message: a handler registers with the front.

    @ivar credits: how many requests the handler can take now.
    @ivar meta: all attributes, including C{name} and C{credits}.
    @ivar window: its C{window} attribute (the request-body window), or
        L{None} if it has none.
    """

    name: str
    credits: int
    meta: dict[str, str]
    window: int | None = None

    @property
    def sequence(self) -> int | None:
        """
        Its C{hello} attribute: which of its link's C{HELLO}s this is,
        from 1; L{None} if absent or not a positive integer.
        """
        return _optionalPositive(self.meta.get("hello", ""), "hello")

    @property
    def prefetch(self) -> int:
        """
        Its C{prefetch} attribute: how many of its slots are for requests
        that wait for a thread (so that it has a thread free while it holds
        more credits than this); 0 if absent or not a positive integer.
        """
        return _optionalPositive(self.meta.get("prefetch", ""), "prefetch") or 0

    @property
    def recall(self) -> bool:
        """
        Whether the handler answers C{RECALL} (C{recall=1}).
        """
        return self._says("recall")

    @property
    def anew(self) -> int | None:
        """
        Its C{anew} attribute: a connection of the handler's to the front
        broke, and messages either way may have been lost with it, so that
        the front forgets its registration as if it had declared it dead,
        and registers it anew (docs/protocol.md, 5.2).  Its value, the
        C{hello} of the first C{HELLO} the handler said so in since, is the
        same in the C{HELLO}s that repeat it: the front forgets once per
        loss.  L{None} if absent or not a positive integer.
        """
        return _optionalPositive(self.meta.get("anew", ""), "anew")


@dataclass
class Welcome(_Registration):
    """
    A C{WELCOME} message: the front's answer to C{HELLO}.

    Its attributes are all optional to a handler: one that is absent, or
    that breaks its rule (section 4, WELCOME), reads as L{None} (C{False}
    for L{creditInReply}), and the handler keeps what it had.

    @ivar meta: all attributes, as sent.
    """

    meta: dict[str, str]

    @property
    def front(self) -> str | None:
        """
        The front's instance id.
        """
        return self.meta.get("front")

    @property
    def heartbeat(self) -> float | None:
        """
        The front's heartbeat interval in seconds: a positive decimal number,
        with or without a fraction, as L{encodeWelcome} writes it.
        """
        value = self.meta.get("heartbeat", "")
        if _DECIMAL.match(value) is None:
            return None
        seconds = float(value)
        return seconds if seconds > 0 else None

    @property
    def maxMessage(self) -> int | None:
        """
        The largest frame the front accepts: a positive integer.
        """
        return _optionalPositive(self.meta.get("max_message", ""), "max_message")

    @property
    def registered(self) -> int | None:
        """
        The C{hello} of the C{HELLO} from which the front registered the
        handler anew, knowing none of its requests: present only then.
        """
        return _optionalPositive(self.meta.get("registered", ""), "registered")

    @property
    def answers(self) -> int | None:
        """
        The C{hello} of the C{HELLO} this C{WELCOME} answers, if the front
        says (its C{hello} attribute) and the C{HELLO} had one.
        """
        return _optionalPositive(self.meta.get("hello", ""), "hello")

    @property
    def creditInReply(self) -> bool:
        """
        Whether the front takes a request's credit back from its complete
        C{RESP}.
        """
        return self._says("credit_in_reply")

    @property
    def creditInEnd(self) -> bool:
        """
        Whether the front takes a request's credit back from C{LAST}, the
        C{END} that says so.
        """
        return self._says("credit_in_end")


@dataclass
class Credit:
    """
    A C{CREDIT} message: the handler can take C{credits} more requests.
    """

    credits: int


@dataclass
class Window:
    """
    A C{WINDOW} message: the receiver may send C{size} more body bytes for
    C{requestId}.
    """

    requestId: bytes
    size: int


@dataclass
class Ping:
    """
    A C{PING} heartbeat.
    """


@dataclass
class Bye:
    """
    A C{BYE} message: the handler takes no new requests from now on.
    """


Message = Union[
    Request,
    Response,
    Body,
    Error,
    Cancel,
    Recall,
    Recalled,
    Hello,
    Welcome,
    Credit,
    Window,
    Ping,
    Bye,
]


def encodeRequest(
    requestId: bytes,
    meta: BytesPairs,
    headers: BytesPairs,
    body: Sequence[bytes] = (),
    more: bool = False,
    window: int | None = None,
) -> list[bytes]:
    """
    Frames of a C{REQ} message.

    @param meta: the attributes of the request line and connection, in
        this order: C{method}, C{target}, C{version}, C{remote_addr},
        C{remote_port}, C{server_name}, C{server_port}, C{scheme} (the
        ports written with L{encodeInt}); others after them, if any.
    @param headers: the request's header fields.
    @param body: the body frames (the whole body unless C{more}).
    @param more: whether the body continues in C{BODY} messages, ended by
        C{END} (the C{more} attribute).
    @param window: the response window (the C{window} attribute), or
        L{None} for no limit.
    """
    tail = _MORE if more else _NO_MORE
    if window is not None:
        tail += b"\0window\0" + encodeInt(window)
    encoded = encodePairs(meta) + tail if meta else tail[1:]
    return [VERSION, REQ, requestId, encoded, encodePairs(headers), *body]


_MORE = b"\0more\x001"
_NO_MORE = b"\0more\x000"


def encodeResponse(
    requestId: bytes,
    status: int,
    reason: bytes,
    headers: BytesPairs,
    body: Sequence[bytes] = (),
    more: bool = False,
    credit: bool = False,
) -> list[bytes]:
    """
    Frames of a C{RESP} message.  C{more} says whether C{BODY}/C{END}
    messages follow; C{credit}, for a complete reply (not C{more}), that it
    gives the request's credit back.
    """
    key = (status, reason, more, credit and not more)
    # Only a reason of type bytes is kept: a bytearray cannot be a key, and
    # a memoryview would keep the whole buffer it views.
    kept = type(reason) is bytes
    meta = _responseMetaFrames.get(key) if kept else None
    if meta is None:
        pairs = [
            (b"status", encodeInt(status)),
            (b"reason", reason),
            (b"more", b"1" if more else b"0"),
        ]
        if credit and not more:
            pairs.append((b"credit", b"1"))
        meta = encodePairs(pairs)
        if kept:
            _remember(_responseMetaFrames, key, len(reason), meta)
    return [VERSION, RESP, requestId, meta, encodePairs(headers), *body]


# The meta frames encodeResponse made most recently, by status, reason, more
# and credit: a handler's responses repeat a few (docs/benchmarks.md, "Status
# lines made once").  Any thread: dict lookups and stores are atomic, and a
# store lost to another thread's clearing is only made again.
_responseMetaFrames: dict[tuple[int, bytes, bool, bool], bytes] = {}


def encodeBody(
    requestId: bytes, chunks: Sequence[bytes], end: bool, credit: bool = False
) -> list[bytes]:
    """
    Frames of a C{BODY} message, or of an C{END} message if C{end}, or of
    a C{LAST} message if C{end} and C{credit}.
    """
    kind = (LAST if credit else END) if end else BODY
    return [VERSION, kind, requestId, *chunks]


def encodeError(requestId: bytes, message: str) -> list[bytes]:
    """
    Frames of an C{ERROR} message.
    """
    return [VERSION, ERROR, requestId, message.encode("utf-8")]


def encodeCancel(requestId: bytes) -> list[bytes]:
    """
    Frames of a C{CANCEL} message.
    """
    return [VERSION, CANCEL, requestId]


def encodeRecall(requestId: bytes) -> list[bytes]:
    """
    Frames of a C{RECALL} message.
    """
    return [VERSION, RECALL, requestId]


def encodeRecalled(requestId: bytes) -> list[bytes]:
    """
    Frames of a C{RECALLED} message.
    """
    return [VERSION, RECALLED, requestId]


_T = TypeVar("_T")


def _attributes(
    given: Sequence[tuple[bytes, bytes | None]], meta: Mapping[str, str]
) -> bytes:
    """
    The attribute frame of a C{HELLO} or C{WELCOME}: the attributes of
    C{given} whose value is not L{None}, in order, then those of C{meta}, as
    given.
    """
    pairs = [(name, value) for name, value in given if value is not None]
    pairs.extend((k.encode("utf-8"), v.encode("utf-8")) for k, v in meta.items())
    return encodePairs(pairs)


def _optional(encode: Callable[[_T], bytes], value: _T | None) -> bytes | None:
    """
    An optional attribute's value, C{value} encoded, or L{None} (not sent)
    if it is L{None}.
    """
    return None if value is None else encode(value)


def _flagValue(on: bool) -> bytes | None:
    """
    A flag attribute's value: C{1} if it is on; L{None} (not sent) if not.
    """
    return b"1" if on else None


def encodeHello(
    name: str,
    credits: int,
    meta: Mapping[str, str] = {},
    window: int | None = None,
    sequence: int | None = None,
    packed: bool = False,
    prefetch: int = 0,
    batch: bool = False,
    recall: bool = False,
    anew: int | None = None,
) -> list[bytes]:
    """
    Frames of a C{HELLO} message.

    @param meta: further attributes, written as given after C{name},
        C{credits}, C{window}, C{hello}, C{packed}, C{prefetch}, C{batch},
        C{recall} and C{anew}.
    @param window: the request-body window, or L{None} for none.
    @param sequence: which of its link's C{HELLO}s this is (C{hello}), or
        L{None} not to say.
    @param packed: whether the handler takes packed messages (C{packed=1}).
    @param prefetch: how many of the handler's slots are for requests that
        wait for a thread (C{prefetch}; 0: not said).
    @param batch: whether the handler takes C{BATCH} messages (C{batch=1}).
    @param recall: whether the handler answers C{RECALL} (C{recall=1}).
    @param anew: the C{hello} of the first C{HELLO} in which the handler
        asks to be registered anew since a connection of its to the front
        broke (C{anew}), or L{None} not to ask.
    """
    attributes = _attributes(
        [
            (b"name", name.encode("utf-8")),
            (b"credits", encodeInt(credits)),
            (b"window", _optional(encodeInt, window)),
            (b"hello", _optional(encodeInt, sequence)),
            (b"packed", _flagValue(packed)),
            (b"prefetch", _optional(encodeInt, prefetch or None)),
            (b"batch", _flagValue(batch)),
            (b"recall", _flagValue(recall)),
            (b"anew", _optional(encodeInt, anew)),
        ],
        meta,
    )
    return [VERSION, HELLO, attributes]


def encodeWelcome(
    meta: Mapping[str, str] = {},
    front: str | None = None,
    heartbeat: float | None = None,
    maxMessage: int | None = None,
    creditInReply: bool = False,
    registered: int | None = None,
    packed: bool = False,
    creditInEnd: bool = False,
    batch: bool = False,
    answers: int | None = None,
) -> list[bytes]:
    """
    Frames of a C{WELCOME} message.  Every attribute is optional to the
    encoder (a front MUST send C{front} and C{heartbeat}).

    @param meta: further attributes, written as given after the others.
    @param front: the front's instance id.
    @param heartbeat: its heartbeat interval, in seconds.
    @param maxMessage: the largest frame it accepts.
    @param creditInReply: whether it takes a request's credit back from
        a complete C{RESP} (C{credit_in_reply=1}).
    @param registered: the C{hello} of the C{HELLO} it registered the
        handler anew from, knowing none of its requests; L{None} if the
        handler was registered already.
    @param packed: whether the front takes packed messages (C{packed=1}).
    @param creditInEnd: whether it takes a request's credit back from
        C{LAST} (C{credit_in_end=1}).
    @param batch: whether it takes C{BATCH} messages on its return socket
        (C{batch=1}).
    @param answers: the C{hello} of the C{HELLO} it answers (C{hello}).
    """
    attributes = _attributes(
        [
            (b"front", _optional(str.encode, front)),
            (b"heartbeat", _optional(encodeDecimal, heartbeat)),
            (b"credit_in_reply", _flagValue(creditInReply)),
            (b"max_message", _optional(encodeInt, maxMessage)),
            (b"registered", _optional(encodeInt, registered)),
            (b"packed", _flagValue(packed)),
            (b"credit_in_end", _flagValue(creditInEnd)),
            (b"batch", _flagValue(batch)),
            (b"hello", _optional(encodeInt, answers)),
        ],
        meta,
    )
    return [VERSION, WELCOME, attributes]


def encodeCredit(credits: int) -> list[bytes]:
    """
    Frames of a C{CREDIT} message.
    """
    return [VERSION, CREDIT, encodeInt(credits)]


def encodeWindow(requestId: bytes, size: int) -> list[bytes]:
    """
    Frames of a C{WINDOW} message.
    """
    return [VERSION, WINDOW, requestId, encodeInt(size)]


def encodePing() -> list[bytes]:
    """
    Frames of a C{PING} message.
    """
    return [VERSION, PING]


def encodeBye() -> list[bytes]:
    """
    Frames of a C{BYE} message.
    """
    return [VERSION, BYE]


def _utf8Pairs(frame: bytes) -> dict[str, str]:
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("meta is not UTF-8") from None
    if not text:
        return {}
    fields = text.split("\0")
    if len(fields) % 2:
        raise ProtocolError("pair list with an odd number of fields")
    return dict(zip(fields[0::2], fields[1::2]))


_FLAGS: dict[str | bytes, bool] = {"0": False, "1": True, b"0": False, b"1": True}


def _flag(value: str | bytes) -> bool:
    try:
        return _FLAGS[value]
    except KeyError:
        raise ProtocolError("flag is neither 0 nor 1") from None


_REQUEST_KEYS = (
    "method",
    "target",
    "version",
    "remote_addr",
    "remote_port",
    "server_name",
    "server_port",
    "scheme",
    "more",
)


def _decodeRequest(frames: Sequence[bytes]) -> Request:
    if len(frames) < 5:
        raise ProtocolError("REQ needs at least 5 frames")
    # (Of two pairs of one name, the last counts.)
    meta = dict(_pairs(frames[3]))
    try:
        method, target, version, addr, port, name, sport, scheme, more = _requestValues(meta)
    except KeyError as e:
        raise ProtocolError(f"REQ meta lacks {e.args[0]}") from None
    window = meta.get("window")
    # (Unknown attributes are rare: looked for only if there are more.)
    known = len(_REQUEST_KEYS) if window is None else len(_REQUEST_KEYS) + 1
    extra = (
        {key: value for key, value in meta.items() if key not in _KNOWN_REQUEST_KEYS}
        if len(meta) > known
        else {}
    )
    # (Positional: keywords cost 0.5 us more a REQ, a tenth of its
    # decoding.  test_roundTrip checks the order against the fields'.)
    head = RequestHead(
        method,
        target,
        version,
        decodePairs(frames[4]),
        addr,
        _int(port, "remote_port"),
        name,
        _int(sport, "server_port"),
        scheme,
        _flag(more),
        None if window is None else _int(window, "window"),
        extra,
    )
    return Request(frames[2], head, list(frames[5:]))


# The known attributes of REQ's meta, read in one call.  (Typed: an
# itemgetter returns Any, which would let a str reach RequestHead's int
# fields, positional as they are, unchecked.)
_requestValues: Callable[[Mapping[str, str]], tuple[str, ...]] = operator.itemgetter(
    *_REQUEST_KEYS
)
_KNOWN_REQUEST_KEYS = frozenset([*_REQUEST_KEYS, "window"])


# RFC 9110: a field name is a token; a reason phrase and a field value hold
# no control character but HTAB (no CR, LF, NUL or DEL).  A front writes
# these into the client's response, so a handler (or anyone who reached the
# socket) must not be able to inject a header line or split the response.
# The characters are txmp._http's (TCHAR, FIELD_CHARS).  A whole headers
# frame of valid fields, in one match: token NUL value, joined by NUL (no
# field holds NUL, so this never backtracks).
_FIELD = TCHAR + rb"+\x00[" + FIELD_CHARS + rb"]*"
_HEADERS = re.compile(rb"(?:" + _FIELD + rb"(?:\x00" + _FIELD + rb")*)?\Z")


def contentLength(
    headers: Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]
) -> int | None:
    """
    The C{Content-Length} of a response head, as the front frames the
    response with it.

    @param headers: the response's header fields, all native strings or all
        bytes.
    @return: the length, or L{None} if there is no C{Content-Length}.
    @raise ProtocolError: if there is more than one C{Content-Length}
        field (even with equal values), or its value, without spaces and
        tabs around it, is not 1 to 18 ASCII digits.
    """
    found: str | bytes | None = None
    for name, value in headers:
        if len(name) == 14 and name.lower() in _CONTENT_LENGTH:
            if found is not None:
                raise ProtocolError("more than one Content-Length")
            found = value
    if found is None:
        return None
    if isinstance(found, bytes):
        return _int(found.strip(b" \t"), "Content-Length")
    return _int(found.strip(" \t"), "Content-Length")


_CONTENT_LENGTH = frozenset([b"content-length", "content-length"])


def _bytePairs(frame: bytes) -> Iterator[tuple[bytes, bytes]]:
    """
    The pairs of a pair list, as bytes: a C{RESP}'s meta and header
    fields.

    @raise ProtocolError: if the frame holds an odd number of fields.
    """
    if not frame:
        return zip()
    fields = frame.split(b"\0")
    if len(fields) % 2:
        raise ProtocolError("pair list with an odd number of fields")
    pairs = iter(fields)
    return zip(pairs, pairs)


def _badHeaders(frame: bytes) -> ProtocolError:
    """
    Why a C{RESP}'s headers frame that L{_HEADERS} refused is bad: its pair
    list is odd, a name is not a token, or a value holds a control
    character but HTAB.
    """
    for name, _value in _bytePairs(frame):
        if not TOKEN.match(name):
            return ProtocolError("response header name is not a token")
    return ProtocolError("response header value holds a control character")


def _decodeResponse(frames: Sequence[bytes]) -> Response:
    if len(frames) < 5:
        raise ProtocolError("RESP needs at least 5 frames")
    metaFrame = frames[3]
    meta = _responseMetas.get(metaFrame)
    if meta is None:
        meta = _remember(_responseMetas, metaFrame, len(metaFrame), _readMeta(metaFrame))
    headersFrame = frames[4]
    fields = _responseFields.get(headersFrame)
    if fields is None:
        fields = _remember(
            _responseFields, headersFrame, len(headersFrame), _readFields(headersFrame)
        )
    status, reason, more, credit, extra = meta
    headers, length = fields
    return Response(
        frames[2],
        # (Each head a dict of its own: what heads share is immutable.)
        ResponseHead(status, reason, headers, more, dict(extra), length, credit),
        list(frames[5:]),
    )


_Meta = tuple[int, bytes, bool, bool, tuple[tuple[str, str], ...]]
_Fields = tuple[tuple[tuple[bytes, bytes], ...], Union[int, None]]


def _readMeta(frame: bytes) -> _Meta:
    """
    A C{RESP}'s meta frame read: status, reason, more, credit and the
    attributes this version does not know.
    """
    meta = dict(_bytePairs(frame))
    try:
        status = _int(meta.pop(b"status"), "status")
        reason = meta.pop(b"reason")
        more = _flag(meta.pop(b"more"))
    except KeyError as e:
        raise ProtocolError(f"RESP meta lacks {e.args[0].decode()}") from None
    credit = _flag(meta.pop(b"credit", b"0"))
    if credit and more:
        raise ProtocolError("RESP with credit=1 must have more=0")
    # A reply is the final response: 1xx (interim) statuses are the
    # front's business, never a handler's; 600 to 999 are no statuses (RFC
    # 9110 section 15: values outside 100 to 599 are invalid).
    if not 200 <= status <= 599:
        raise ProtocolError("status out of range 200-599")
    if CONTROL.search(reason):
        raise ProtocolError("reason phrase holds a control character")
    extra = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in meta.items())
    return status, reason, more, credit, extra


def _readFields(frame: bytes) -> _Fields:
    """
    A C{RESP}'s headers frame read: its fields, checked (names are tokens,
    values hold no control character but HTAB), and its C{Content-Length}.
    """
    if not _HEADERS.match(frame):
        raise _badHeaders(frame)
    headers = tuple(_bytePairs(frame))
    return headers, contentLength(headers)


# What _decodeResponse read from the meta and headers frames it saw most
# recently (txmp._defaults.DECODED_FRAME), for a front's reactor thread:
# no other thread decodes a RESP.
_responseMetas: dict[bytes, _Meta] = {}
_responseFields: dict[bytes, _Fields] = {}
_K = TypeVar("_K")


def _remember(memo: dict[_K, _T], key: _K, size: int, value: _T) -> _T:
    """
    Keep C{value}, made from C{key} of C{size} bytes, in C{memo}, if that
    is small enough; if C{memo} is full, forget all it holds first
    (cheaper than forgetting the oldest, and what repeats is made again
    once).

    A dict, not L{functools.lru_cache} as C{txmp._wsgi} caches header
    fields: a front runs on PyPy, where C{lru_cache} is Python code, its
    bookkeeping on every call dearer than a dict's lookup (a87ce15's draft
    used it, and a PyPy front paid more for a new head than without it).
    """
    if size <= DECODED_FRAME:
        if len(memo) >= DECODED_FRAMES:
            memo.clear()
        memo[key] = value
    return value


_LENGTH = struct.Struct("!I")


def pack(frames: list[bytes], limit: int = PACK_LIMIT) -> list[bytes]:
    """
    The frames of one message (L{VERSION} first) for a peer that takes
    packed messages: the first ZeroMQ frame is L{VERSION} followed by as
    many of the next frames as fit in C{limit} bytes in all, each
    preceded by its length (4 bytes, big-endian); the frames that do not
    fit follow as frames of their own (docs/protocol.md, 3.1).

    @param limit: the most bytes of the packed frame: L{PACK_LIMIT}, or
        less to keep under a peer's frame limit.
    """
    parts = [VERSION]
    size = len(VERSION)
    index = 1
    count = len(frames)
    toLength = _LENGTH.pack
    while index < count:
        frame = frames[index]
        size += 4 + len(frame)
        if size > limit:
            break
        parts.append(toLength(len(frame)))
        parts.append(frame)
        index += 1
    return [b"".join(parts), *frames[index:]]


def encodeBatch(messages: Sequence[bytes]) -> list[bytes]:
    """
    Frames of a C{BATCH} message: C{messages}, each one whole message
    packed into one frame (L{pack}), to be read one after the other
    (docs/protocol.md, 3.1).
    """
    return [VERSION, BATCH, *messages]


def batched(frames: Sequence[Frame]) -> Sequence[Frame] | None:
    """
    The messages of a C{BATCH} message, each one frame, to be decoded one
    by one (L{decode} knows no C{BATCH}, so one inside another is a bad
    message); L{None} if C{frames} are not a C{BATCH}.
    """
    if len(frames) > 2 and frames[1] == BATCH and frames[0] == VERSION:
        return frames[2:]
    return None


def requestIdOf(frames: Sequence[Frame]) -> bytes | None:
    """
    The request id that the frames of a message name, plain or packed,
    read as its frame 2 whatever its type, even if the message is not
    valid otherwise (to fail the request it garbles at once); L{None} if
    there is no frame 2 to read.
    """
    try:
        frames = unpack(frames)
    except ProtocolError:
        return None
    return bytes(frames[2]) if len(frames) > 2 else None


def givesCreditBack(frames: Sequence[Frame]) -> bool:
    """
    Whether a reply that is not valid still ends its request and gives its
    credit back, read as far as it can be: a C{LAST}, or a C{RESP} whose
    meta says C{credit=1} and C{more=0}.  The handler that sent it cannot
    know that the front refused it, and will not send that credit again
    (docs/protocol.md, section 8).
    """
    try:
        frames = unpack(frames)
    except ProtocolError:
        return False
    if len(frames) < 2:
        return False
    kind = bytes(frames[1])
    if kind == LAST:
        return True
    if kind != RESP or len(frames) < 4:
        return False
    fields = bytes(frames[3]).split(b"\0")
    # (Of two pairs of one name, the last counts, as when it is valid.)
    meta = dict(zip(fields[::2], fields[1::2]))
    return meta.get(b"credit") == b"1" and meta.get(b"more") == b"0"


def unpack(frames: Sequence[Frame]) -> Sequence[Frame]:
    """
    The frames of one message as L{pack} was given them: C{frames} as they
    are, unless the first is a packed one (longer than L{VERSION}).

    @raise ProtocolError: if a packed first frame is not one.
    """
    if not frames or len(frames[0]) == len(VERSION):
        return frames
    first = bytes(frames[0])
    if not first.startswith(VERSION):
        raise ProtocolError("unknown protocol version")
    unpacked: list[Frame] = [VERSION]
    position = len(VERSION)
    end = len(first)
    fromLength = _LENGTH.unpack_from
    while position < end:
        if position + 4 > end:
            raise ProtocolError("a packed frame ends inside a length")
        (length,) = fromLength(first, position)
        position += 4
        if position + length > end:
            raise ProtocolError("a packed frame ends inside a frame")
        unpacked.append(first[position:position + length])
        position += length
    unpacked.extend(frames[1:])
    return unpacked


def _needs(frames: Sequence[bytes], count: int, what: bytes) -> None:
    if len(frames) != count:
        raise ProtocolError(f"{what.decode()} needs exactly {count} frames")


def _control(frames: Sequence[Frame], count: int) -> Sequence[bytes]:
    """
    C{frames}, with the first C{count} as L{bytes}: the frames a message's
    meaning is read from, as opposed to body chunks, which are passed on as
    they came.
    """
    for frame in frames[:count]:
        if type(frame) is not bytes:
            frames = [*map(bytes, frames[:count]), *frames[count:]]
            break
    # (Typed as all bytes: the body chunks after them are only passed on, as
    # the Frames the messages hold them as.)
    return frames  # type: ignore[return-value]


def decode(frames: Sequence[Frame]) -> Message:
    """
    Decode the frames of one message (without any ROUTER identity frame).

    A frame may be any bytes-like object (a C{memoryview} of a frame
    received without a copy, say): body chunks (of C{REQ}, C{RESP} and
    C{BODY}/C{END}) are passed on as given, every other frame is read as
    L{bytes}.

    @raise ProtocolError: if the frames are not a valid message of a type
        this version knows.
    """
    frames = unpack(frames)
    if len(frames) < 2:
        raise ProtocolError("a message needs at least 2 frames")
    kind = bytes(frames[1])
    if kind in (REQ, RESP):
        frames = _control(frames, 5)
    elif kind in (BODY, END, LAST):
        frames = _control(frames, 3)
    else:
        frames = _control(frames, len(frames))
    if frames[0] != VERSION:
        raise ProtocolError("unknown protocol version")
    if kind == REQ:
        return _decodeRequest(frames)
    if kind == RESP:
        return _decodeResponse(frames)
    if kind in (BODY, END, LAST):
        if len(frames) < 3:
            raise ProtocolError("BODY/END needs a request id")
        return Body(frames[2], list(frames[3:]), kind != BODY, kind == LAST)
    if kind == CREDIT:
        _needs(frames, 3, kind)
        return Credit(_credits(frames[2].decode("latin-1")))
    if kind == PING:
        _needs(frames, 2, kind)
        return Ping()
    if kind == CANCEL:
        _needs(frames, 3, kind)
        return Cancel(frames[2])
    if kind == RECALL:
        _needs(frames, 3, kind)
        return Recall(frames[2])
    if kind == RECALLED:
        _needs(frames, 3, kind)
        return Recalled(frames[2])
    if kind == HELLO:
        _needs(frames, 3, kind)
        meta = _utf8Pairs(frames[2])
        if "name" not in meta or "credits" not in meta:
            raise ProtocolError("HELLO needs name and credits")
        window = meta.get("window")
        return Hello(
            meta["name"],
            _credits(meta["credits"]),
            meta,
            None if window is None else _int(window, "window"),
        )
    if kind == WELCOME:
        _needs(frames, 3, kind)
        return Welcome(_utf8Pairs(frames[2]))
    if kind == ERROR:
        _needs(frames, 4, kind)
        return Error(frames[2], frames[3].decode("utf-8", "replace"))
    if kind == WINDOW:
        _needs(frames, 4, kind)
        return Window(frames[2], _int(frames[3].decode("latin-1"), "window"))
    if kind == BYE:
        _needs(frames, 2, kind)
        return Bye()
    raise ProtocolError("unknown message type")
