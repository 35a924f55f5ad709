# -*- test-case-name: txmp.test.test_protocol -*-
"""
Tests for L{txmp.protocol}, the txmp wire format.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from random import Random
from typing import Any, Callable, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txmp import _defaults, protocol
from txmp.protocol import (
    Body,
    Bye,
    Cancel,
    Credit,
    Error,
    Hello,
    Ping,
    ProtocolError,
    Recall,
    Recalled,
    Request,
    RequestHead,
    Response,
    ResponseHead,
    Welcome,
    Window,
    decode,
    decodePairs,
    encodeBody,
    encodeBye,
    encodeCancel,
    encodeCredit,
    encodeError,
    encodeHello,
    encodePairs,
    encodePing,
    encodeRecall,
    encodeRecalled,
    encodeRequest,
    encodeResponse,
    encodeWelcome,
    encodeWindow,
)
from txmp.testing import requestMeta

V = protocol.VERSION

REQUEST_META = requestMeta(target=b"/a/b?c=d")

# The required attributes of REQ: those above, and more (an argument of
# encodeRequest).
REQUEST_KEYS = [name for name, value in REQUEST_META] + [b"more"]


def assertFrameCount(case: SynchronousTestCase, good: list[bytes], extra: bytes = b"") -> None:
    """
    Assert that the message C{good} is refused with its last frame missing,
    and with one frame more, C{extra}.
    """
    for frames in [good[:-1], [*good, extra]]:
        case.assertRaises(ProtocolError, decode, frames)


def rawRequest(
    requestId: bytes, meta: Sequence[tuple[bytes, bytes]], headers: Sequence[tuple[bytes, bytes]]
) -> list[bytes]:
    """
    The frames of a C{REQ} with exactly the meta pairs C{meta}, valid or
    not (L{encodeRequest} adds C{more} itself).
    """
    return [V, protocol.REQ, requestId, encodePairs(meta), encodePairs(headers)]


def responseFrames(meta: bytes) -> list[bytes]:
    """
    A C{RESP} message with the given meta frame and no headers.
    """
    return [V, protocol.RESP, b"r.1", meta, b""]


class PairsTests(SynchronousTestCase):
    """
    Tests for L{encodePairs} and L{decodePairs}.
    """

    def test_encodeEmpty(self) -> None:
        """
        No pairs encode to the empty frame.
        """
        self.assertEqual(encodePairs([]), b"")

    def test_decodeEmpty(self) -> None:
        """
        The empty frame decodes to no pairs.
        """
        self.assertEqual(decodePairs(b""), [])

    def test_encode(self) -> None:
        """
        Names and values alternate, joined by single NUL bytes, with no NUL
        at either end.
        """
        self.assertEqual(
            encodePairs([(b"Host", b"example.com"), (b"Accept", b"*/*")]),
            b"Host\0example.com\0Accept\0*/*",
        )

    def test_decode(self) -> None:
        """
        A pair list decodes to C{(name, value)} native strings in order.
        """
        self.assertEqual(
            decodePairs(b"Host\0example.com\0Accept\0*/*"),
            [("Host", "example.com"), ("Accept", "*/*")],
        )

    def test_emptyNameAndValue(self) -> None:
        """
        One pair whose name and value are both empty is the frame C{b"\\0"},
        which is distinct from the empty frame (no pairs).
        """
        self.assertEqual(encodePairs([(b"", b"")]), b"\0")
        self.assertEqual(decodePairs(b"\0"), [("", "")])

    def test_emptyValues(self) -> None:
        """
        Empty values survive a round trip in any position.
        """
        pairs = [(b"A", b""), (b"B", b"1"), (b"C", b"")]
        self.assertEqual(encodePairs(pairs), b"A\0\0B\x001\0C\0")
        self.assertEqual(
            decodePairs(encodePairs(pairs)), [("A", ""), ("B", "1"), ("C", "")]
        )

    def test_oddFieldCount(self) -> None:
        """
        A frame with an odd number of fields is a L{ProtocolError}.
        """
        for frame in [b"a", b"a\0b\0c", b"\0\0"]:
            self.assertRaises(ProtocolError, decodePairs, frame)

    def test_latin1(self) -> None:
        """
        Every byte but NUL round-trips, decoded as ISO-8859-1 (one code
        point per byte).
        """
        octets = bytes(range(1, 256))
        self.assertEqual(
            decodePairs(encodePairs([(b"X", octets)])),
            [("X", octets.decode("latin-1"))],
        )

    def test_duplicatesKeptInOrder(self) -> None:
        """
        Repeated names are separate pairs, in the order given.
        """
        pairs = [(b"a", b"1"), (b"B", b"2"), (b"a", b"3")]
        self.assertEqual(
            decodePairs(encodePairs(pairs)), [("a", "1"), ("B", "2"), ("a", "3")]
        )

    @given(
        st.lists(
            st.tuples(
                st.binary().filter(lambda b: b"\0" not in b),
                st.binary().filter(lambda b: b"\0" not in b),
            )
        )
    )
    def test_roundTrip(self, pairs: list[tuple[bytes, bytes]]) -> None:
        """
        Any pairs of NUL-free byte strings decode to what was encoded, as
        ISO-8859-1 text.
        """
        self.assertEqual(
            decodePairs(encodePairs(pairs)),
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in pairs],
        )


class DecodeEnvelopeTests(SynchronousTestCase):
    """
    Tests for what L{decode} checks before looking at a message's type.
    """

    def test_tooFewFrames(self) -> None:
        """
        A message needs at least a version frame and a type frame.
        """
        for frames in [[], [V]]:
            self.assertRaises(ProtocolError, decode, frames)

    def test_wrongVersion(self) -> None:
        """
        A first frame other than C{TXMP1} is a L{ProtocolError}, however
        valid the rest is.
        """
        for version in [b"TXMP2", b"txmp1", b"", b"TXMP1\0", b"TXMP"]:
            self.assertRaises(ProtocolError, decode, [version, protocol.PING])

    def test_unknownType(self) -> None:
        """
        A type this version does not know is a L{ProtocolError}; types are
        case-sensitive.
        """
        for kind in [b"NOPE", b"", b"req", b"PING "]:
            self.assertRaises(ProtocolError, decode, [V, kind, b"x"])


class BatchTests(SynchronousTestCase):
    """
    Tests for L{protocol.encodeBatch} and L{protocol.batched}: several
    packed messages as one ZeroMQ message.
    """

    def test_roundTrip(self) -> None:
        """
        A C{BATCH} is the version, its type, then each message packed into
        one frame; L{protocol.batched} gives those frames back, each of
        which decodes as its message.
        """
        messages = [encodeRequest(b"r.%d" % (n,), REQUEST_META, []) for n in range(3)]
        frames = protocol.encodeBatch([protocol.pack(m)[0] for m in messages])
        self.assertEqual(frames[:2], [V, b"BATCH"])
        batch = protocol.batched(frames)
        assert batch is not None
        self.assertEqual([decode([frame]) for frame in batch], [decode(m) for m in messages])

    def test_notBatch(self) -> None:
        """
        Any other message is not a C{BATCH}, nor is a C{BATCH} of none or
        of another version; and L{decode} knows no C{BATCH}, so that one
        inside another is a bad message.
        """
        for frames in [encodePing(), [V, b"BATCH"], [b"TXMP0", b"BATCH", b"x"]]:
            self.assertIsNone(protocol.batched(frames))
        self.assertRaises(ProtocolError, decode, protocol.encodeBatch([b"x"]))


class PackTests(SynchronousTestCase):
    """
    Tests for L{protocol.pack} and L{protocol.unpack}: a message's leading
    frames in its first ZeroMQ frame, between peers that agreed to it.
    """

    def test_helloWorldInOneFrame(self) -> None:
        """
        A C{REQ} without a body and a small C{RESP} are one ZeroMQ frame
        each, packed, and decode as the message itself.
        """
        request = encodeRequest(b"r.1", REQUEST_META, [(b"Host", b"x")])
        response = encodeResponse(b"r.1", 200, b"OK", [(b"Content-Length", b"13")],
                                  [b"Hello, world!"], credit=True)
        for frames in [request, response]:
            packed = protocol.pack(frames)
            self.assertEqual(len(packed), 1)
            self.assertEqual(decode(packed), decode(frames))

    def test_layout(self) -> None:
        """
        The packed frame is the version, then each frame after it preceded
        by its length in 4 bytes, big-endian.
        """
        self.assertEqual(
            protocol.pack([V, b"BODY", b"r.1", b""]),
            [V + b"\0\0\0\x04BODY" + b"\0\0\0\x03r.1" + b"\0\0\0\0"],
        )

    def test_largeFramesApart(self) -> None:
        """
        Frames go into the packed frame while it stays within
        C{PACK_LIMIT} bytes; the first that would not fit, and every frame
        after it, are frames of their own, not copied.
        """
        limit = _defaults.PACK_LIMIT
        # Version, then BODY and the id with their lengths: 5 + 8 + 7.
        fits = b"x" * (limit - 20 - 4)
        self.assertEqual(len(protocol.pack([V, b"BODY", b"r.1", fits])), 1)
        large = fits + b"x"
        after = b"small"
        packed = protocol.pack([V, b"BODY", b"r.1", large, after])
        self.assertEqual(len(packed), 3)
        self.assertIs(packed[1], large)
        self.assertIs(packed[2], after)
        self.assertEqual(decode(packed), Body(b"r.1", [large, after], False))

    def test_limit(self) -> None:
        """
        Given a C{limit}, the packed frame keeps within it instead.
        """
        frames = [V, b"BODY", b"r.1", b"x" * 100]
        self.assertEqual(len(protocol.pack(frames, limit=120)), 2)
        self.assertEqual(len(protocol.pack(frames, limit=124)), 1)

    def test_requestIdOf(self) -> None:
        """
        L{protocol.requestIdOf} reads frame 2 of a message, plain or
        packed, valid or not; L{None} where there is none to read.
        """
        garbled = [V, protocol.RESP, b"r.1", b"status\x00x", b""]
        self.assertEqual(protocol.requestIdOf(garbled), b"r.1")
        self.assertEqual(protocol.requestIdOf(protocol.pack(garbled)), b"r.1")
        self.assertIsNone(protocol.requestIdOf([V, protocol.RESP]))
        self.assertIsNone(protocol.requestIdOf([V + b"\0\0"]))

    def test_sparedForPause(self) -> None:
        """
        L{protocol.sparedForPause}: a peer found silent gets one heartbeat
        more only from a check that finds this process paused, and only if
        it was heard since the last one given.
        """
        self.assertTrue(protocol.sparedForPause(True, 5.0, -math.inf))
        self.assertTrue(protocol.sparedForPause(True, 5.0, 5.0))
        self.assertFalse(protocol.sparedForPause(True, 5.0, 5.5))
        self.assertFalse(protocol.sparedForPause(False, 5.0, -math.inf))

    def test_givesCreditBack(self) -> None:
        """
        L{protocol.givesCreditBack} reads, from a message that may not be
        valid, plain or packed, whether it ends its request with the
        credit: a C{RESP} saying C{credit=1} and C{more=0} (the last of two
        pairs of one name counting), or a C{LAST}.
        """
        meta = b"status\x00200\x00reason\x00OK\x00more\x000\x00credit\x001"
        badHeader = [V, protocol.RESP, b"r.1", meta, b"X\x00a\x01b"]
        self.assertTrue(protocol.givesCreditBack(badHeader))
        self.assertTrue(protocol.givesCreditBack(protocol.pack(badHeader)))
        self.assertTrue(protocol.givesCreditBack([V, protocol.LAST, b"r.1", b"\x01"]))
        for frames in [
            [V, protocol.RESP, b"r.1", meta + b"\x00credit\x000", b""],
            [V, protocol.RESP, b"r.1", meta.replace(b"more\x000", b"more\x001"), b""],
            [V, protocol.RESP, b"r.1", b"credit\x001\x00status", b""],
            [V, protocol.RESP, b"r.1"],
            [V, protocol.BODY, b"r.1", meta],
            [V + b"\0\0"],
            [V],
        ]:
            self.assertFalse(protocol.givesCreditBack(frames), frames)

    def test_plainUnchanged(self) -> None:
        """
        Frames whose first is the version alone are not packed: C{unpack}
        gives them back as they are, body chunks received without a copy
        included.
        """
        frames: list[protocol.Frame] = [V, b"BODY", b"r.1", memoryview(b"chunk")]
        self.assertIs(protocol.unpack(frames), frames)

    def test_bodyAfterPackedFrame(self) -> None:
        """
        Frames after a packed one follow its frames, as they came.
        """
        chunk = memoryview(b"chunk")
        received: list[protocol.Frame] = [V + b"\0\0\0\x04BODY\0\0\0\x03r.1", chunk]
        frames = protocol.unpack(received)
        self.assertEqual(frames[:3], [V, b"BODY", b"r.1"])
        self.assertIs(frames[3], chunk)

    def test_truncated(self) -> None:
        """
        A packed frame that ends inside a length or inside a frame is a
        L{ProtocolError}, as is one that does not start with the version.
        """
        packed = protocol.pack([V, b"BODY", b"r.1", b"abc"])[0]
        for bad in [packed[:-1], packed[:-5], packed[:7], b"TXMP2" + packed[5:]]:
            self.assertRaises(ProtocolError, decode, [bad])

    @given(st.lists(st.binary(max_size=3000), max_size=8))
    def test_roundTrip(self, frames: list[bytes]) -> None:
        """
        Any frames after the version unpack to what was packed.
        """
        message = [V, *frames]
        self.assertEqual(list(protocol.unpack(protocol.pack(message))), message)

    def test_negotiated(self) -> None:
        """
        C{HELLO} and C{WELCOME} say C{packed=1} when told to; a peer that
        does not say so takes plain messages only.
        """
        for packed in [True, False]:
            hello = decode(encodeHello("h", 1, packed=packed))
            welcome = decode(encodeWelcome(packed=packed))
            assert isinstance(hello, Hello) and isinstance(welcome, Welcome)
            self.assertEqual((hello.packed, welcome.packed), (packed, packed))


# Meta pairs a REQ may add to its required ones: repeats of those (with
# valid values), window (once or more), names that differ from known ones
# only in case, and unknown names, each maybe repeated.
_digits = st.text(alphabet="0123456789", min_size=1, max_size=5).map(str.encode)
_text = st.binary(max_size=6).filter(lambda b: b"\0" not in b)
_moreMeta = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(
                [b"method", b"target", b"version", b"remote_addr", b"server_name", b"scheme"]
            ),
            _text,
        ),
        st.tuples(st.sampled_from([b"remote_port", b"server_port", b"window"]), _digits),
        st.tuples(st.just(b"more"), st.sampled_from([b"0", b"1"])),
        st.tuples(st.sampled_from([b"Method", b"WINDOW", b"x", b"", b"\xe9"]), _text),
        st.tuples(_text.filter(lambda n: n not in [*REQUEST_KEYS, b"window"]), _text),
    ),
    max_size=6,
)


class RequestTests(SynchronousTestCase):
    """
    Tests for C{REQ} messages.
    """

    def test_frames(self) -> None:
        """
        L{encodeRequest} lays out version, type, request id, meta, headers
        and then each body frame as it is.
        """
        frames = encodeRequest(
            b"r.1", [(b"method", b"GET")], [(b"A", b"b")], [b"x", b"yz"]
        )
        self.assertEqual(
            frames,
            [V, b"REQ", b"r.1", b"method\0GET\0more\x000", b"A\0b", b"x", b"yz"],
        )

    def test_badWindow(self) -> None:
        """
        A C{REQ} whose C{window} breaks the integer rule is invalid, as
        docs/protocol.md section 3.3 says: L{decode} raises
        L{ProtocolError}, and no handler reads it some other way.
        """
        for bad in ["", "-1", "+1", "1.5", "1e3", " 1", "\u0661", "9" * 19]:
            meta = encodePairs([*REQUEST_META, (b"more", b"0"),
                                (b"window", bad.encode("utf-8"))])
            self.assertRaises(
                ProtocolError, decode, [V, protocol.REQ, b"r", meta, b""]
            )

    def test_moreAndWindow(self) -> None:
        """
        L{encodeRequest} writes C{more} after the meta it is given, then
        C{window} if it is given, an integer; without meta, C{more} alone.
        """
        frames = encodeRequest(
            b"r.1", REQUEST_META, [], [], more=True, window=262144
        )
        self.assertEqual(
            frames[3],
            b"method\0GET\0target\0/a/b?c=d\0version\0HTTP/1.1\0"
            b"remote_addr\x00192.0.2.7\0remote_port\x0051234\0"
            b"server_name\0example.com\0server_port\x008080\0scheme\0http\0"
            b"more\x001\0window\x00262144",
        )
        message = decode(frames)
        assert isinstance(message, Request)
        self.assertTrue(message.head.more)
        self.assertEqual((message.head.window, message.head.extra), (262144, {}))
        self.assertEqual(encodeRequest(b"r", [], [])[3], b"more\x000")
        self.assertRaises(ValueError, encodeRequest, b"r", [], [], window=-1)

    def test_roundTrip(self) -> None:
        """
        A request decodes to the head, headers and body frames encoded.
        """
        headers = [(b"Host", b"example.com"), (b"Content-Length", b"5")]
        message = decode(
            encodeRequest(b"f00d.1a", REQUEST_META, headers, [b"he", b"", b"llo"])
        )
        self.assertEqual(
            message,
            Request(
                requestId=b"f00d.1a",
                head=RequestHead(
                    method="GET",
                    target="/a/b?c=d",
                    version="HTTP/1.1",
                    headers=[("Host", "example.com"), ("Content-Length", "5")],
                    remoteAddr="192.0.2.7",
                    remotePort=51234,
                    serverName="example.com",
                    serverPort=8080,
                    scheme="http",
                    more=False,
                    extra={},
                ),
                body=[b"he", b"", b"llo"],
            ),
        )

    def test_noBody(self) -> None:
        """
        A request with no body frames has an empty body list.
        """
        message = decode(encodeRequest(b"r.1", REQUEST_META, []))
        assert isinstance(message, Request)
        self.assertEqual(message.body, [])
        self.assertEqual(message.head.headers, [])

    def test_more(self) -> None:
        """
        C{more} set to C{1} means body messages follow.
        """
        message = decode(encodeRequest(b"r.1", REQUEST_META, [], more=True))
        assert isinstance(message, Request)
        self.assertTrue(message.head.more)

    def test_metaOrderIrrelevant(self) -> None:
        """
        Meta attributes may come in any order.
        """
        meta = [(b"more", b"0"), *reversed(REQUEST_META)]
        message = decode(rawRequest(b"r.1", meta, []))
        assert isinstance(message, Request)
        self.assertEqual(message.head.serverPort, 8080)

    def test_repeatedMetaLastValue(self) -> None:
        """
        A meta attribute repeated after the attributes every C{REQ} has, in
        the order L{encodeRequest} writes them, takes its last value, as
        section 3 says of any repeated name.
        """
        meta = [*REQUEST_META, (b"more", b"0"), (b"method", b"POST")]
        message = decode(rawRequest(b"r.1", meta, []))
        assert isinstance(message, Request)
        self.assertEqual(message.head.method, "POST")
        self.assertEqual(message.head.extra, {})

    def test_unknownMetaKept(self) -> None:
        """
        Meta attributes this version does not know are kept in C{extra}, not
        refused.
        """
        meta = [*REQUEST_META, (b"tls_version", b"TLSv1.3"), (b"x", b"")]
        message = decode(encodeRequest(b"r.1", meta, []))
        assert isinstance(message, Request)
        self.assertEqual(message.head.extra, {"tls_version": "TLSv1.3", "x": ""})
        # With a window, which is known, and one unknown attribute.
        message = decode(encodeRequest(b"r.1", [*REQUEST_META, (b"x", b"1")], [], window=5))
        assert isinstance(message, Request)
        self.assertEqual((message.head.window, message.head.extra), (5, {"x": "1"}))

    @settings(max_examples=200, deadline=None)
    @given(_moreMeta, st.randoms(use_true_random=False))
    def test_metaReadAsADict(
        self, more: list[tuple[bytes, bytes]], random: Random
    ) -> None:
        """
        However the required meta attributes are mixed with repeats of
        them, C{window} and unknown attributes, in any order, each
        attribute has its last value (section 3.2), and C{extra} holds
        exactly the unknown names (case counts), each with its last value.
        """
        pairs = [*REQUEST_META, (b"more", b"0"), *more]
        random.shuffle(pairs)
        message = decode(rawRequest(b"r.1", pairs, []))
        assert isinstance(message, Request)
        meta = {n.decode("latin-1"): v.decode("latin-1") for n, v in pairs}
        known = {name.decode("ascii") for name in [*REQUEST_KEYS, b"window"]}
        window = meta.get("window")
        self.assertEqual(
            message.head,
            RequestHead(
                method=meta["method"],
                target=meta["target"],
                version=meta["version"],
                headers=[],
                remoteAddr=meta["remote_addr"],
                remotePort=int(meta["remote_port"]),
                serverName=meta["server_name"],
                serverPort=int(meta["server_port"]),
                scheme=meta["scheme"],
                more=meta["more"] == "1",
                window=None if window is None else int(window),
                extra={n: v for n, v in meta.items() if n not in known},
            ),
        )

    def test_duplicateHeaders(self) -> None:
        """
        Headers keep their order, their repeats and the case of their names.
        """
        headers = [
            (b"Set-Thing", b"1"),
            (b"host", b"example.com"),
            (b"set-thing", b"2"),
            (b"SET-THING", b"3"),
        ]
        message = decode(encodeRequest(b"r.1", REQUEST_META, headers))
        assert isinstance(message, Request)
        self.assertEqual(
            message.head.headers,
            [
                ("Set-Thing", "1"),
                ("host", "example.com"),
                ("set-thing", "2"),
                ("SET-THING", "3"),
            ],
        )

    def test_latin1Values(self) -> None:
        """
        Header values and the target are ISO-8859-1: non-ASCII bytes come
        back as the code points of the same numbers, as PEP 3333 wants.
        """
        message = decode(
            encodeRequest(
                b"r.1",
                requestMeta(target=b"/caf\xe9"),
                [(b"X-Name", b"Ren\xe9e \xff\x80")],
            )
        )
        assert isinstance(message, Request)
        self.assertEqual(message.head.target, "/caf\xe9")
        self.assertEqual(message.head.headers, [("X-Name", "Ren\xe9e \xff\x80")])
        self.assertEqual(
            message.head.headers[0][1].encode("latin-1"), b"Ren\xe9e \xff\x80"
        )

    def test_tooFewFrames(self) -> None:
        """
        A C{REQ} without its headers frame is a L{ProtocolError}.
        """
        frames = encodeRequest(b"r.1", REQUEST_META, [])
        for count in range(2, 5):
            self.assertRaises(ProtocolError, decode, frames[:count])

    def test_missingMeta(self) -> None:
        """
        A C{REQ} lacking any of the nine required meta attributes is a
        L{ProtocolError}.
        """
        for key in REQUEST_KEYS:
            meta = [(n, v) for n, v in [*REQUEST_META, (b"more", b"0")] if n != key]
            self.assertRaises(ProtocolError, decode, rawRequest(b"r.1", meta, []))

    def test_oddMeta(self) -> None:
        """
        A meta frame with an odd number of fields is a L{ProtocolError}.
        """
        frames = encodeRequest(b"r.1", REQUEST_META, [])
        frames[3] += b"\0dangling"
        self.assertRaises(ProtocolError, decode, frames)

    def test_oddHeaders(self) -> None:
        """
        A headers frame with an odd number of fields is a L{ProtocolError}.
        """
        frames = encodeRequest(b"r.1", REQUEST_META, [])
        frames[4] = b"Host"
        self.assertRaises(ProtocolError, decode, frames)

    def test_badPorts(self) -> None:
        """
        Ports must be non-negative decimal integers in ASCII digits.
        """
        for key in ["remote_port", "server_port"]:
            for bad in [b"", b"x", b"-1", b"8o", b"1.5", b"+1", b" 1", b"1_0", b"\xb2"]:
                self.assertRaises(
                    ProtocolError,
                    decode,
                    encodeRequest(b"r.1", requestMeta(**{key: bad}), []),
                )

    def test_badMore(self) -> None:
        """
        C{more} must be C{0} or C{1}.
        """
        for bad in [b"", b"2", b"yes", b"true", b"01", b" 1"]:
            self.assertRaises(
                ProtocolError,
                decode,
                rawRequest(b"r.1", [*REQUEST_META, (b"more", bad)], []),
            )


class ResponseTests(SynchronousTestCase):
    """
    Tests for C{RESP} messages.
    """

    def test_credit(self) -> None:
        """
        A complete C{RESP} may carry C{credit=1}; none does by default; one
        with C{more=1} may not.
        """
        frames = protocol.encodeResponse(b"r.1", 200, b"OK", [], [b"x"], credit=True)
        decoded = protocol.decode(frames)
        assert isinstance(decoded, protocol.Response)
        self.assertTrue(decoded.head.credit)
        self.assertNotIn("credit", decoded.head.extra)
        plain = protocol.decode(protocol.encodeResponse(b"r.1", 200, b"OK", []))
        assert isinstance(plain, protocol.Response)
        self.assertFalse(plain.head.credit)
        bad = protocol.encodeResponse(b"r.1", 200, b"OK", [], more=True)
        bad[3] = bad[3] + b"\0credit\x001"
        self.assertRaises(protocol.ProtocolError, protocol.decode, bad)

    def test_frames(self) -> None:
        """
        L{encodeResponse} puts status, reason and more in the meta frame,
        then headers and body frames.
        """
        self.assertEqual(
            encodeResponse(b"r.1", 200, b"OK", [(b"A", b"b")], [b"hi"]),
            [
                V,
                b"RESP",
                b"r.1",
                b"status\x00200\0reason\0OK\0more\x000",
                b"A\0b",
                b"hi",
            ],
        )

    def test_roundTrip(self) -> None:
        """
        A complete response decodes to what was encoded.
        """
        frames = encodeResponse(
            b"r.1",
            404,
            b"Not Found",
            [(b"Content-Type", b"text/plain"), (b"Content-Length", b"3")],
            [b"n", b"o!"],
        )
        self.assertEqual(
            decode(frames),
            Response(
                b"r.1",
                ResponseHead(
                    404,
                    b"Not Found",
                    ((b"Content-Type", b"text/plain"), (b"Content-Length", b"3")),
                    False,
                    {},
                    3,
                ),
                [b"n", b"o!"],
            ),
        )

    def test_more(self) -> None:
        """
        A response head whose body follows in C{BODY}/C{END} messages has
        C{more} set.
        """
        message = decode(encodeResponse(b"r.1", 200, b"OK", [], more=True))
        assert isinstance(message, Response)
        self.assertTrue(message.head.more)
        self.assertEqual(message.body, [])

    def test_duplicateHeaders(self) -> None:
        """
        Repeated response headers (e.g. C{Set-Cookie}) are kept in order.
        """
        headers = [(b"Set-Cookie", b"a=1"), (b"Vary", b"x"), (b"Set-Cookie", b"b=2")]
        message = decode(encodeResponse(b"r.1", 200, b"OK", headers))
        assert isinstance(message, Response)
        self.assertEqual(
            message.head.headers,
            ((b"Set-Cookie", b"a=1"), (b"Vary", b"x"), (b"Set-Cookie", b"b=2")),
        )

    def test_headBytes(self) -> None:
        """
        A response head's reason phrase and header fields decode to bytes,
        every octet kept, and L{protocol.contentLength} reads bytes fields
        as it reads native strings.
        """
        headers = [(b"Content-Length", b" 13\t"), (b"X-A", b"\xe9\t\xff")]
        message = decode(encodeResponse(b"r.1", 200, b"OK \x80", headers))
        assert isinstance(message, Response)
        self.assertEqual(message.head.reason, b"OK \x80")
        self.assertEqual(message.head.headers, tuple(headers))
        for name, value in message.head.headers:
            self.assertIs(type(name), bytes)
            self.assertIs(type(value), bytes)
        self.assertEqual(message.head.contentLength, 13)
        self.assertEqual(protocol.contentLength([("content-length", "7")]), 7)
        self.assertEqual(protocol.contentLength([(b"CONTENT-LENGTH", b"7")]), 7)
        self.assertRaises(
            ProtocolError,
            protocol.contentLength,
            [(b"Content-Length", b"1"), (b"content-length", b"1")],
        )

    def test_headErrorsSayWhy(self) -> None:
        """
        A bad headers frame is refused with the reason: an odd pair list, a
        name that is not a token, or a value with a control character.
        """
        for frame, why in [
            (b"A\0b\0C", "odd number"),
            (b"A\0b\0B C\0d", "not a token"),
            (b"A\0b\x0dc", "control character"),
            (b"\0b", "not a token"),
        ]:
            frames = encodeResponse(b"r.1", 200, b"OK", [])
            frames[4] = frame
            error = self.assertRaises(ProtocolError, decode, frames)
            self.assertIn(why, str(error))

    def test_latin1Reason(self) -> None:
        """
        The reason phrase is ISO-8859-1 octets, kept as the bytes they
        came as (the front writes them to its client so).
        """
        message = decode(encodeResponse(b"r.1", 200, b"Tr\xe8s bien", []))
        assert isinstance(message, Response)
        self.assertEqual(message.head.reason, b"Tr\xe8s bien")

    def test_unknownMetaKept(self) -> None:
        """
        Unknown meta attributes of a response are kept in C{extra}.
        """
        message = decode(
            responseFrames(b"status\x00200\0reason\0OK\0more\x000\0trailers\x001")
        )
        assert isinstance(message, Response)
        self.assertEqual(message.head.extra, {"trailers": "1"})

    def test_tooFewFrames(self) -> None:
        """
        A C{RESP} without its headers frame is a L{ProtocolError}.
        """
        frames = encodeResponse(b"r.1", 200, b"OK", [])
        for count in range(2, 5):
            self.assertRaises(ProtocolError, decode, frames[:count])

    def test_missingMeta(self) -> None:
        """
        C{status}, C{reason} and C{more} are all required.
        """
        for meta in [
            b"reason\0OK\0more\x000",
            b"status\x00200\0more\x000",
            b"status\x00200\0reason\0OK",
            b"",
        ]:
            self.assertRaises(ProtocolError, decode, responseFrames(meta))

    def test_statusRange(self) -> None:
        """
        The status must be an integer from 200 to 599: a reply is a final
        response, so an interim (1xx) status is invalid too, and 600 to 999
        are no statuses (RFC 9110 section 15).
        """
        for status in [b"0", b"99", b"100", b"101", b"199", b"600", b"999", b"1000",
                       b"-200", b"abc", b"", b"2OO"]:
            self.assertRaises(
                ProtocolError,
                decode,
                responseFrames(b"status\0" + status + b"\0reason\0\0more\x000"),
            )
        for status, expected in [(b"200", 200), (b"599", 599)]:
            message = decode(
                responseFrames(b"status\0" + status + b"\0reason\0\0more\x000")
            )
            assert isinstance(message, Response)
            self.assertEqual(message.head.status, expected)

    def test_badMore(self) -> None:
        """
        C{more} must be C{0} or C{1}.
        """
        self.assertRaises(
            ProtocolError,
            decode,
            responseFrames(b"status\x00200\0reason\0OK\0more\0no"),
        )

    def test_oddHeaders(self) -> None:
        """
        A headers frame with an odd number of fields is a L{ProtocolError}.
        """
        frames = encodeResponse(b"r.1", 200, b"OK", [])
        frames[4] = b"A\0b\0c"
        self.assertRaises(ProtocolError, decode, frames)

    def test_injectionRefused(self) -> None:
        """
        A reason phrase or header value holding CR or LF, or a header name
        that is not a token, is a L{ProtocolError}: the front writes these
        into the client's response, so they must not add or split lines.
        """
        for reason, headers in [
            (b"OK\r\nX-Injected: 1", []),
            (b"OK\n", []),
            (b"OK", [(b"A", b"b\r\nX-Injected: 1")]),
            (b"OK", [(b"A B", b"c")]),
            (b"OK", [(b"A:", b"c")]),
            (b"OK", [(b"", b"c")]),
        ]:
            frames = encodeResponse(b"r.1", 200, reason, headers)
            self.assertRaises(ProtocolError, decode, frames)

    def test_controlCharactersRefused(self) -> None:
        """
        Every control character but HTAB (C{0x01}-C{0x08}, C{0x0a}-C{0x1f}
        and DEL; NUL cannot be in a pair list at all) in a reason phrase or
        a header value is a L{ProtocolError}; HTAB, and octets from C{0x80}
        up, are not.
        """
        for code in [*range(0x01, 0x09), *range(0x0A, 0x20), 0x7F]:
            control = bytes([code])
            for reason, headers in [
                (b"O" + control + b"K", []),
                (b"OK", [(b"A", b"x" + control + b"y")]),
            ]:
                frames = encodeResponse(b"r.1", 200, reason, headers)
                self.assertRaises(ProtocolError, decode, frames)
        message = decode(
            encodeResponse(b"r.1", 200, b"O\tK \xe9", [(b"A", b"x\ty \xff")])
        )
        assert isinstance(message, Response)
        self.assertEqual(message.head.headers, ((b"A", b"x\ty \xff"),))

    def test_contentLength(self) -> None:
        """
        The decoded head carries the response's C{Content-Length} as an
        integer, whatever the case of the name and with spaces or tabs
        around the value; L{None} without one.
        """
        for headers, expected in [
            ([(b"Content-Length", b"12")], 12),
            ([(b"A", b"b"), (b"content-length", b" 0\t")], 0),
            ([(b"CONTENT-LENGTH", b"007")], 7),
            ([(b"A", b"b")], None),
            ([], None),
        ]:
            message = decode(encodeResponse(b"r.1", 200, b"OK", headers))
            assert isinstance(message, Response)
            self.assertEqual(message.head.contentLength, expected, headers)

    def test_badContentLength(self) -> None:
        """
        A response with more than one C{Content-Length} (equal or not, on
        two field lines or as a list), or one that is not 1 to 18 ASCII
        digits, is a L{ProtocolError}: the front could not frame it.
        """
        for headers in [
            [(b"Content-Length", b"5"), (b"Content-Length", b"50")],
            [(b"Content-Length", b"5"), (b"content-length", b"5")],
            [(b"Content-Length", b"5, 5")],
            [(b"Content-Length", b"")],
            [(b"Content-Length", b"-1")],
            [(b"Content-Length", b"+1")],
            [(b"Content-Length", b"1_0")],
            [(b"Content-Length", b"0x10")],
            [(b"Content-Length", b"1 0")],
            [(b"Content-Length", b"\xd9\xa1")],
            [(b"Content-Length", b"1" * 19)],
        ]:
            frames = encodeResponse(b"r.1", 200, b"OK", headers)
            self.assertRaises(ProtocolError, decode, frames)


class ResponseMetaFrameTests(SynchronousTestCase):
    """
    L{encodeResponse} makes the meta frame of each status, reason, C{more}
    and C{credit} once, and gives it again.
    """

    def setUp(self) -> None:
        self.patch(protocol, "_responseMetaFrames", {})

    def test_sameFrame(self) -> None:
        """
        The same status, reason, C{more} and C{credit} give the same meta
        frame (one object, made once); a C{credit} with C{more} is not
        written, as before, and shares the frame of no C{credit}; a frame
        differing in C{more} or C{credit} alone is made for its own.
        """
        first = encodeResponse(b"r.1", 200, b"OK", [], credit=True)[3]
        self.assertEqual(first, b"status\x00200\0reason\0OK\0more\x000\0credit\x001")
        self.assertIs(encodeResponse(b"r.2", 200, b"OK", [(b"A", b"b")], credit=True)[3], first)
        streamed = encodeResponse(b"r.3", 200, b"OK", [], more=True, credit=True)[3]
        self.assertEqual(streamed, b"status\x00200\0reason\0OK\0more\x001")
        self.assertIs(encodeResponse(b"r.4", 200, b"OK", [], more=True)[3], streamed)
        # Neither kept frame is given for the same status and reason with
        # no more and no credit.
        self.assertEqual(encodeResponse(b"r.5", 200, b"OK", [])[3],
                         b"status\x00200\0reason\0OK\0more\x000")
        self.assertEqual(encodeResponse(b"r.6", 404, b"OK", [])[3],
                         b"status\x00404\0reason\0OK\0more\x000")
        self.assertEqual(len(protocol._responseMetaFrames), 4)

    def test_notKept(self) -> None:
        """
        A status that is not an integer of the wire format raises each
        time and keeps nothing; a reason over L{_defaults.DECODED_FRAME}
        bytes is written, and not kept.
        """
        for _ in range(2):
            self.assertRaises(ValueError, encodeResponse, b"r.1", -1, b"OK", [])
        reason = b"r" * (_defaults.DECODED_FRAME + 1)
        meta = encodeResponse(b"r.1", 200, reason, [])[3]
        self.assertEqual(meta, b"status\x00200\0reason\0" + reason + b"\0more\x000")
        self.assertEqual(protocol._responseMetaFrames, {})

    def test_reasonNotBytes(self) -> None:
        """
        A reason given as a C{bytearray} or a C{memoryview} is written, as
        before, and not kept: a C{bytearray} cannot be a key, and a
        C{memoryview} would keep the whole buffer it views.
        """
        # (Outside the annotation: callers that are not type-checked.)
        reasons: list[Any] = [bytearray(b"OK"), memoryview(b"-OK-" * 1024)[1:3]]
        for reason in reasons:
            self.assertEqual(encodeResponse(b"r.1", 200, reason, [])[3],
                             b"status\x00200\0reason\0OK\0more\x000")
        self.assertEqual(protocol._responseMetaFrames, {})


class RememberedHeadTests(SynchronousTestCase):
    """
    A C{RESP}'s meta and headers frames are read once for each distinct
    frame of up to L{_defaults.DECODED_FRAME} bytes, and what was read is
    given again for the same bytes (L{_defaults.DECODED_FRAMES} of each at
    the most).
    """

    def setUp(self) -> None:
        # Each test starts with nothing remembered, and leaves nothing.
        self.patch(protocol, "_responseMetas", {})
        self.patch(protocol, "_responseFields", {})

    def head(self, frames: list[bytes]) -> protocol.ResponseHead:
        message = decode(frames)
        assert isinstance(message, Response)
        return message.head

    def test_sameFramesSameHead(self) -> None:
        """
        A second C{RESP} with the same meta and headers frames (another
        request id, another body) decodes to an equal head, whose fields
        are the ones read the first time; each C{RESP} keeps its own
        request id and body.
        """
        fields = [(b"Content-Type", b"text/plain"), (b"Content-Length", b"2")]
        first = encodeResponse(b"r.1", 200, b"OK", fields, [b"hi"], credit=True)
        first[3] += b"\x00trailers\x001"
        second = encodeResponse(b"r.2", 200, b"OK", fields, [b"yo"], credit=True)
        second[3] += b"\x00trailers\x001"
        one, two = decode(first), decode(second)
        assert isinstance(one, Response) and isinstance(two, Response)
        self.assertEqual(
            one.head,
            protocol.ResponseHead(200, b"OK", tuple(fields), False, {"trailers": "1"}, 2, True),
        )
        self.assertEqual(two.head, one.head)
        self.assertIs(two.head.headers, one.head.headers)
        self.assertEqual((one.requestId, one.body), (b"r.1", [b"hi"]))
        self.assertEqual((two.requestId, two.body), (b"r.2", [b"yo"]))

    def test_sharedHeadUnchanged(self) -> None:
        """
        No head can change what another decoded from the same frames gets:
        the fields they share are a tuple, and each has a dict of the
        unknown attributes of its own.
        """
        frames = responseFrames(b"status\x00200\0reason\0OK\0more\x000\0trailers\x001")
        head = self.head(frames)
        self.assertIsInstance(head.headers, tuple)
        head.extra["trailers"] = "0"
        self.assertEqual(self.head(frames).extra, {"trailers": "1"})

    def test_partlyKnown(self) -> None:
        """
        A known meta frame with headers never seen (a C{Content-Length}
        that differs from the last response's) decodes to its own fields.
        """
        heads = [
            self.head(encodeResponse(b"r.1", 200, b"OK", [(b"Content-Length", b"%d" % n)]))
            for n in (1, 22)
        ]
        self.assertEqual([head.contentLength for head in heads], [1, 22])
        self.assertEqual(heads[1].headers, ((b"Content-Length", b"22"),))
        self.assertEqual((heads[1].status, heads[1].reason), (200, b"OK"))

    def test_errorsNotRemembered(self) -> None:
        """
        A bad meta or headers frame is refused each time it comes, and the
        good frame beside it decodes to what it says afterwards.
        """
        good = encodeResponse(b"r.1", 200, b"OK", [(b"A", b"b")])
        badMeta = [*good[:3], b"status\x00200\0reason\0O\nK\0more\x000", good[4]]
        badFields = [*good[:4], b"A\0b\rc"]
        for _ in range(2):
            self.assertRaises(ProtocolError, decode, badMeta)
            self.assertRaises(ProtocolError, decode, badFields)
        head = self.head(good)
        self.assertEqual((head.reason, head.headers), (b"OK", ((b"A", b"b"),)))

    def test_largeFramesReadEachTime(self) -> None:
        """
        A frame over L{_defaults.DECODED_FRAME} bytes, by one byte even, is
        read each time (decoded rightly, not kept), so that what is kept
        stays small; one of L{_defaults.DECODED_FRAME} bytes is kept.
        """
        value = b"v" * (_defaults.DECODED_FRAME - len(b"X-Large\0") + 1)
        frames = encodeResponse(b"r.1", 200, b"OK", [(b"X-Large", value)])
        self.assertEqual(len(frames[4]), _defaults.DECODED_FRAME + 1)
        first, second = self.head(frames), self.head(frames)
        self.assertEqual(first.headers, ((b"X-Large", value),))
        self.assertEqual(second.headers, first.headers)
        self.assertIsNot(second.headers, first.headers)
        self.assertEqual(list(protocol._responseFields), [])
        self.assertEqual(len(protocol._responseMetas), 1)
        frames = encodeResponse(b"r.1", 200, b"OK", [(b"X-Large", value[1:])])
        self.assertIs(self.head(frames).headers, self.head(frames).headers)
        self.assertEqual(list(protocol._responseFields), [frames[4]])

    def test_bounded(self) -> None:
        """
        At most L{_defaults.DECODED_FRAMES} frames of each kind are
        remembered: when that many are, one more is remembered in place of
        them all, and the ones forgotten decode as before when they come
        again.
        """
        frames = [
            encodeResponse(b"r.1", 200, b"OK", [(b"Content-Length", b"%d" % n)])
            for n in range(_defaults.DECODED_FRAMES + 1)
        ]
        for each in frames[:-1]:
            self.head(each)
        self.assertEqual(len(protocol._responseFields), _defaults.DECODED_FRAMES)
        self.head(frames[-1])
        self.assertEqual(list(protocol._responseFields), [frames[-1][4]])
        self.assertEqual(self.head(frames[0]).contentLength, 0)


class BodyTests(SynchronousTestCase):
    """
    Tests for C{BODY} and C{END} messages.
    """

    def test_body(self) -> None:
        """
        A C{BODY} message carries a request id and any number of chunks.
        """
        frames = encodeBody(b"r.1", [b"a", b"bc"], end=False)
        self.assertEqual(frames, [V, b"BODY", b"r.1", b"a", b"bc"])
        self.assertEqual(decode(frames), Body(b"r.1", [b"a", b"bc"], False))

    def test_end(self) -> None:
        """
        An C{END} message is a C{BODY} message that completes the body.
        """
        frames = encodeBody(b"r.1", [b"z"], end=True)
        self.assertEqual(frames, [V, b"END", b"r.1", b"z"])
        self.assertEqual(decode(frames), Body(b"r.1", [b"z"], True))

    def test_last(self) -> None:
        """
        A C{LAST} message is an C{END} that gives the request's credit
        back: L{encodeBody} writes one for C{end} and C{credit}, and it
        decodes as an end with C{credit} set.  C{credit} without C{end}
        writes a C{BODY}: only the end may carry it.
        """
        frames = encodeBody(b"r.1", [b"z"], end=True, credit=True)
        self.assertEqual(frames, [V, b"LAST", b"r.1", b"z"])
        self.assertEqual(decode(frames), Body(b"r.1", [b"z"], True, True))
        self.assertEqual(decode(encodeBody(b"r.1", [], True, True)),
                         Body(b"r.1", [], True, True))
        self.assertEqual(encodeBody(b"r.1", [b"a"], end=False, credit=True)[1], b"BODY")
        end = decode(encodeBody(b"r.1", [b"z"], end=True))
        assert isinstance(end, Body)
        self.assertFalse(end.credit)

    def test_noChunks(self) -> None:
        """
        C{BODY} and C{END} may carry no chunks at all.
        """
        for end in [False, True]:
            self.assertEqual(
                decode(encodeBody(b"r.1", [], end)), Body(b"r.1", [], end)
            )

    def test_noRequestId(self) -> None:
        """
        C{BODY}, C{END} or C{LAST} without a request id is a
        L{ProtocolError}.
        """
        for kind in [protocol.BODY, protocol.END, protocol.LAST]:
            self.assertRaises(ProtocolError, decode, [V, kind])


class ErrorTests(SynchronousTestCase):
    """
    Tests for C{ERROR} messages.
    """

    def test_roundTrip(self) -> None:
        """
        The message is UTF-8 on the wire and text once decoded.
        """
        frames = encodeError(b"r.1", "boom \N{SNOWMAN}")
        self.assertEqual(frames, [V, b"ERROR", b"r.1", "boom \N{SNOWMAN}".encode()])
        self.assertEqual(decode(frames), Error(b"r.1", "boom \N{SNOWMAN}"))

    def test_badUTF8Replaced(self) -> None:
        """
        A message that is not UTF-8 is decoded with replacement characters
        rather than refused: the error still has to reach the client.
        """
        self.assertEqual(
            decode([V, protocol.ERROR, b"r.1", b"bad \xff"]),
            Error(b"r.1", "bad \N{REPLACEMENT CHARACTER}"),
        )

    def test_frameCount(self) -> None:
        """
        C{ERROR} has exactly four frames.
        """
        assertFrameCount(self, encodeError(b"r.1", "m"), b"x")


class CancelTests(SynchronousTestCase):
    """
    Tests for C{CANCEL} messages.
    """

    def test_roundTrip(self) -> None:
        """
        C{CANCEL} carries only the request id.
        """
        self.assertEqual(encodeCancel(b"r.1"), [V, b"CANCEL", b"r.1"])
        self.assertEqual(decode(encodeCancel(b"r.1")), Cancel(b"r.1"))

    def test_frameCount(self) -> None:
        """
        C{CANCEL} has exactly three frames.
        """
        assertFrameCount(self, encodeCancel(b"r.1"))


class RecallTests(SynchronousTestCase):
    """
    Tests for C{RECALL} and C{RECALLED} messages.
    """

    def test_roundTrip(self) -> None:
        """
        C{RECALL} and C{RECALLED} carry only the request id.
        """
        self.assertEqual(encodeRecall(b"r.1"), [V, b"RECALL", b"r.1"])
        self.assertEqual(decode(encodeRecall(b"r.1")), Recall(b"r.1"))
        self.assertEqual(encodeRecalled(b"r.1"), [V, b"RECALLED", b"r.1"])
        self.assertEqual(decode(encodeRecalled(b"r.1")), Recalled(b"r.1"))

    def test_frameCount(self) -> None:
        """
        C{RECALL} and C{RECALLED} have exactly three frames.
        """
        assertFrameCount(self, encodeRecall(b"r.1"))
        assertFrameCount(self, encodeRecalled(b"r.1"))

    def test_helloSays(self) -> None:
        """
        A C{HELLO}'s C{recall=1} flag, written last, says that its handler
        answers C{RECALL} (L{Hello.recall}); absent or anything else, it
        does not.
        """
        frames = encodeHello("h", 4, batch=True, packed=True, recall=True)
        self.assertTrue(frames[2].endswith(b"\0batch\x001\0recall\x001"))
        hello = decode(frames)
        assert isinstance(hello, Hello)
        self.assertTrue(hello.recall)
        for meta in [{}, {"recall": "0"}, {"recall": "yes"}]:
            hello = decode(encodeHello("h", 4, meta))
            assert isinstance(hello, Hello)
            self.assertFalse(hello.recall)


class HelloTests(SynchronousTestCase):
    """
    Tests for C{HELLO} messages.
    """

    def test_roundTrip(self) -> None:
        """
        C{HELLO} carries the handler's name, its credits and any other
        attributes, all UTF-8.
        """
        frames = encodeHello("h\N{SNOWMAN}st:12", 8, {"pid": "12"})
        self.assertEqual(
            frames,
            [V, b"HELLO", "name\0h\N{SNOWMAN}st:12\0credits\x008\0pid\x0012".encode()],
        )
        self.assertEqual(
            decode(frames),
            Hello(
                "h\N{SNOWMAN}st:12",
                8,
                {"name": "h\N{SNOWMAN}st:12", "credits": "8", "pid": "12"},
            ),
        )

    def test_nonASCIINames(self) -> None:
        """
        Meta names, like values, are UTF-8: a non-ASCII name round-trips.
        """
        name = "caf\N{LATIN SMALL LETTER E WITH ACUTE}"
        message = decode(encodeHello("h", 1, {name: "x"}))
        assert isinstance(message, Hello)
        self.assertEqual(message.meta[name], "x")

    def test_zeroCredits(self) -> None:
        """
        A handler may say hello with no free slot.
        """
        message = decode(encodeHello("h", 0))
        assert isinstance(message, Hello)
        self.assertEqual(message.credits, 0)

    def test_missingMeta(self) -> None:
        """
        C{name} and C{credits} are required.
        """
        for meta in [b"name\0h", b"credits\x001", b""]:
            self.assertRaises(ProtocolError, decode, [V, protocol.HELLO, meta])

    def test_badCredits(self) -> None:
        """
        C{credits} must be a non-negative decimal integer in ASCII digits.
        """
        for bad in [
            "",
            "x",
            "-1",
            "1.0",
            "\N{ARABIC-INDIC DIGIT ONE}",
            "\N{FULLWIDTH DIGIT ONE}",
        ]:
            meta = "name\0h\0credits\0" + bad
            self.assertRaises(
                ProtocolError, decode, [V, protocol.HELLO, meta.encode("utf-8")]
            )

    def test_notUTF8(self) -> None:
        """
        C{HELLO} meta that is not UTF-8 is a L{ProtocolError}.
        """
        self.assertRaises(
            ProtocolError, decode, [V, protocol.HELLO, b"name\0\xff\0credits\x001"]
        )

    def test_oddMeta(self) -> None:
        """
        C{HELLO} meta with an odd number of fields is a L{ProtocolError}.
        """
        self.assertRaises(
            ProtocolError, decode, [V, protocol.HELLO, b"name\0h\0credits\x001\0x"]
        )

    def test_creditCap(self) -> None:
        """
        C{credits} over L{_defaults.MAX_CREDITS} is invalid.
        """
        hello = decode(encodeHello("h", _defaults.MAX_CREDITS))
        assert isinstance(hello, Hello)
        self.assertEqual(hello.credits, _defaults.MAX_CREDITS)
        for bad in [_defaults.MAX_CREDITS + 1, 999999999999999999]:
            self.assertRaises(ProtocolError, decode, encodeHello("h", bad))

    def test_window(self) -> None:
        """
        C{window} is an integer attribute: L{encodeHello} writes it after
        C{credits}, as a handler giving it in C{meta} did, and L{decode}
        gives it as L{Hello.window}.
        """
        frames = encodeHello("h", 4, window=65536)
        self.assertEqual(frames, encodeHello("h", 4, {"window": "65536"}))
        self.assertEqual(frames[2], b"name\0h\0credits\x004\0window\x0065536")
        hello = decode(frames)
        assert isinstance(hello, Hello)
        self.assertEqual(hello.window, 65536)
        hello = decode(encodeHello("h", 4))
        assert isinstance(hello, Hello)
        self.assertIsNone(hello.window)

    def test_sequence(self) -> None:
        """
        C{hello} is an optional integer attribute, written after
        C{window} and read as L{Hello.sequence}; one absent, 0 or not an
        integer reads as L{None}, and leaves the C{HELLO} valid.
        """
        frames = encodeHello("h", 4, window=10, sequence=7)
        self.assertEqual(frames[2], b"name\0h\0credits\x004\0window\x0010\0hello\x007")
        hello = decode(frames)
        assert isinstance(hello, Hello)
        self.assertEqual(hello.sequence, 7)
        for bad in [None, "", "0", "x", "-1", "1.5"]:
            meta = {} if bad is None else {"hello": bad}
            hello = decode(encodeHello("h", 4, meta))
            assert isinstance(hello, Hello)
            self.assertIsNone(hello.sequence)

    def test_prefetch(self) -> None:
        """
        C{prefetch} is an optional integer attribute, written after
        C{packed} and read as L{Hello.prefetch}; one absent, 0 or not an
        integer reads as 0, and leaves the C{HELLO} valid.
        """
        frames = encodeHello("h", 16, sequence=1, packed=True, prefetch=12)
        self.assertEqual(
            frames[2], b"name\0h\0credits\x0016\0hello\x001\0packed\x001\0prefetch\x0012"
        )
        hello = decode(frames)
        assert isinstance(hello, Hello)
        self.assertEqual(hello.prefetch, 12)
        self.assertNotIn(b"prefetch", encodeHello("h", 4, prefetch=0)[2])
        for bad in [None, "", "0", "x", "-1", "1.5"]:
            meta = {} if bad is None else {"prefetch": bad}
            hello = decode(encodeHello("h", 4, meta))
            assert isinstance(hello, Hello)
            self.assertEqual(hello.prefetch, 0)

    def test_anew(self) -> None:
        """
        C{anew} is an optional positive integer attribute, written last and
        read as L{Hello.anew}; one absent or not a positive integer reads as
        L{None}, and leaves the C{HELLO} valid.
        """
        frames = encodeHello("h", 4, sequence=3, recall=True, anew=3)
        self.assertEqual(
            frames[2], b"name\0h\0credits\x004\0hello\x003\0recall\x001\0anew\x003"
        )
        hello = decode(frames)
        assert isinstance(hello, Hello)
        self.assertEqual(hello.anew, 3)
        for bad in [None, "", "0", "x", "-1", "1.5"]:
            meta = {} if bad is None else {"anew": bad}
            hello = decode(encodeHello("h", 4, meta))
            assert isinstance(hello, Hello)
            self.assertIsNone(hello.anew)

    def test_batch(self) -> None:
        """
        C{batch} is an optional flag, written after C{prefetch} and read as
        L{Hello.batch}: true only with C{packed=1} too, since a C{BATCH}
        holds packed messages.
        """
        frames = encodeHello("h", 4, packed=True, prefetch=2, batch=True)
        self.assertEqual(
            frames[2], b"name\0h\0credits\x004\0packed\x001\0prefetch\x002\0batch\x001"
        )
        hello = decode(frames)
        assert isinstance(hello, Hello)
        self.assertTrue(hello.batch)
        self.assertNotIn(b"batch", encodeHello("h", 4, packed=True)[2])
        for packed, batch in [(True, False), (False, True), (False, False)]:
            hello = decode(encodeHello("h", 4, packed=packed, batch=batch))
            assert isinstance(hello, Hello)
            self.assertFalse(hello.batch)

    def test_badWindow(self) -> None:
        """
        A C{window} that is not an integer by the one rule of the wire
        format (1 to 18 ASCII digits) makes the C{HELLO} invalid.
        """
        for bad in ["", "x", "-1", " 5", "5 ", "1_0", "1.5", "\N{FULLWIDTH DIGIT ONE}"]:
            self.assertRaises(
                ProtocolError, decode, encodeHello("h", 1, {"window": bad})
            )

    def test_frameCount(self) -> None:
        """
        C{HELLO} has exactly three frames.
        """
        assertFrameCount(self, encodeHello("h", 1))


class WelcomeTests(SynchronousTestCase):
    """
    Tests for C{WELCOME} messages.
    """

    def test_roundTrip(self) -> None:
        """
        C{WELCOME} carries UTF-8 attributes, all kept.
        """
        meta = {"front": "9f0c2e", "heartbeat": "5", "motd": "h\N{SNOWMAN}"}
        frames = encodeWelcome(meta)
        self.assertEqual(frames[:2], [V, b"WELCOME"])
        self.assertEqual(decode(frames), Welcome(meta))

    def test_nonASCIINames(self) -> None:
        """
        Meta names, like values, are UTF-8: a non-ASCII name round-trips.
        """
        meta = {
            "\N{SNOWMAN}": "\N{SNOWMAN}",
            "caf\N{LATIN SMALL LETTER E WITH ACUTE}": "1",
        }
        self.assertEqual(decode(encodeWelcome(meta)), Welcome(meta))

    def test_empty(self) -> None:
        """
        The decoder does not require any attribute of C{WELCOME}.
        """
        self.assertEqual(decode([V, protocol.WELCOME, b""]), Welcome({}))

    def test_frontAttributes(self) -> None:
        """
        L{encodeWelcome} writes the front's attributes in a fixed order,
        C{heartbeat} as a decimal number (never with an exponent) and
        C{max_message} as an integer, then any others given.
        """
        frames = encodeWelcome(
            {"x": "y"}, front="f1", heartbeat=1.0, maxMessage=16777216,
            creditInReply=True,
        )
        self.assertEqual(
            frames,
            [
                V,
                b"WELCOME",
                b"front\0f1\0heartbeat\x001.0\0credit_in_reply\x001\0"
                b"max_message\x0016777216\0x\0y",
            ],
        )
        self.assertEqual(encodeWelcome(front="f", heartbeat=0.25)[2],
                         b"front\0f\0heartbeat\x000.25")
        self.assertEqual(encodeWelcome(heartbeat=0.00001)[2], b"heartbeat\x000.00001")
        self.assertEqual(encodeWelcome(heartbeat=5)[2], b"heartbeat\x005.0")
        for bad in [float("inf"), float("nan"), -1e-9, 0, 1e-19, 1e18]:
            self.assertRaises(ValueError, encodeWelcome, heartbeat=bad)
        self.assertRaises(ValueError, encodeWelcome, maxMessage=-1)

    def test_readAttributes(self) -> None:
        """
        A decoded C{WELCOME} reads the attributes L{encodeWelcome} writes
        back as it was given them.
        """
        welcome = decode(encodeWelcome(
            front="f1", heartbeat=0.25, maxMessage=1000, creditInReply=True,
            creditInEnd=True,
        ))
        assert isinstance(welcome, Welcome)
        self.assertEqual(
            (welcome.front, welcome.heartbeat, welcome.maxMessage,
             welcome.creditInReply, welcome.creditInEnd),
            ("f1", 0.25, 1000, True, True),
        )
        welcome = decode(encodeWelcome(front="f1", creditInReply=True))
        assert isinstance(welcome, Welcome)
        self.assertFalse(welcome.creditInEnd)
        for heartbeat in [0.00001, 5, 1e6]:
            welcome = decode(encodeWelcome(heartbeat=heartbeat))
            assert isinstance(welcome, Welcome)
            self.assertEqual(welcome.heartbeat, heartbeat)

    def test_batch(self) -> None:
        """
        C{batch} is an optional flag, written after C{credit_in_end} and
        read as L{Welcome.batch}: true only with C{packed=1} too, since a
        C{BATCH} holds packed messages.
        """
        frames = encodeWelcome(front="f", packed=True, creditInEnd=True, batch=True)
        self.assertEqual(
            frames[2], b"front\0f\0packed\x001\0credit_in_end\x001\0batch\x001"
        )
        welcome = decode(frames)
        assert isinstance(welcome, Welcome)
        self.assertTrue(welcome.batch)
        self.assertNotIn(b"batch", encodeWelcome(front="f", packed=True)[2])
        for packed, batch in [(True, False), (False, True), (False, False)]:
            welcome = decode(encodeWelcome(front="f", packed=packed, batch=batch))
            assert isinstance(welcome, Welcome)
            self.assertFalse(welcome.batch)

    def test_registered(self) -> None:
        """
        C{registered} is an optional integer attribute, written last of
        the front's and read as L{Welcome.registered}; one absent, 0 or
        not an integer reads as L{None}.
        """
        frames = encodeWelcome(front="f", registered=3)
        self.assertEqual(frames[2], b"front\0f\0registered\x003")
        welcome = decode(frames)
        assert isinstance(welcome, Welcome)
        self.assertEqual(welcome.registered, 3)
        for meta in [{}, {"registered": "0"}, {"registered": "x"}]:
            welcome = decode(encodeWelcome(meta))
            assert isinstance(welcome, Welcome)
            self.assertIsNone(welcome.registered)

    @given(st.floats(min_value=1e-12, max_value=1e17))
    def test_heartbeatReadBack(self, heartbeat: float) -> None:
        """
        Every positive heartbeat L{encodeWelcome} writes is one that
        L{Welcome.heartbeat} reads back (to 18 digits after the point), even
        one whose C{repr} has more than 18 digits after it
        (C{0.0003333333333333333}) or an exponent (C{2e-07}); else a
        handler would ignore the front's heartbeat and keep a longer one of
        its own, and the front would find it silent.
        """
        welcome = decode(encodeWelcome(heartbeat=heartbeat))
        assert isinstance(welcome, Welcome)
        read = welcome.heartbeat
        assert read is not None, heartbeat
        self.assertLessEqual(abs(read - heartbeat), max(heartbeat * 1e-6, 1e-18))

    def test_heartbeatLongFraction(self) -> None:
        """
        A heartbeat whose C{repr} has more than 18 digits after its point
        is written rounded to 18, and read back.
        """
        for heartbeat in [0.0003333333333333333, 0.00012345678901234567, 2e-7]:
            welcome = decode(encodeWelcome(heartbeat=heartbeat))
            assert isinstance(welcome, Welcome)
            self.assertIsNotNone(welcome.heartbeat, heartbeat)

    def test_attributesAbsent(self) -> None:
        """
        A C{WELCOME} without the front's attributes reads them as L{None},
        and C{credit_in_reply} as C{False}.
        """
        welcome = Welcome({})
        self.assertEqual(
            (welcome.front, welcome.heartbeat, welcome.maxMessage,
             welcome.creditInReply),
            (None, None, None, False),
        )

    def test_badAttributes(self) -> None:
        """
        A C{heartbeat} that is not a positive decimal number (digits, then a
        fraction or not: the form L{encodeWelcome} writes), a C{max_message}
        that is not a positive integer of the wire format, and a
        C{credit_in_reply} other than C{1}, read as absent.
        """
        for value in ["0", "0.0", "-1", "nan", "inf", "1e3", "1.", ".5", " 1",
                      "1_0", "\u0661", "soon", ""]:
            self.assertIsNone(Welcome({"heartbeat": value}).heartbeat, value)
        for value in ["", "0", "-1", "1e6", "1" * 19, "\u0661", " 1"]:
            self.assertIsNone(Welcome({"max_message": value}).maxMessage, value)
        for value in ["0", "yes", "", "11"]:
            self.assertFalse(Welcome({"credit_in_reply": value}).creditInReply, value)
            self.assertFalse(Welcome({"credit_in_end": value}).creditInEnd, value)

    def test_bad(self) -> None:
        """
        Non-UTF-8 or odd meta, or a wrong frame count, is a
        L{ProtocolError}.
        """
        for frames in [
            [V, protocol.WELCOME, b"front\0\xc3"],
            [V, protocol.WELCOME, b"front"],
            [V, protocol.WELCOME],
            [V, protocol.WELCOME, b"", b""],
        ]:
            self.assertRaises(ProtocolError, decode, frames)


class CreditTests(SynchronousTestCase):
    """
    Tests for C{CREDIT} messages.
    """

    def test_roundTrip(self) -> None:
        """
        C{CREDIT} carries a decimal count.
        """
        self.assertEqual(encodeCredit(3), [V, b"CREDIT", b"3"])
        self.assertEqual(decode(encodeCredit(3)), Credit(3))
        self.assertEqual(decode(encodeCredit(0)), Credit(0))

    def test_badCount(self) -> None:
        """
        The count must be a non-negative decimal integer in ASCII digits.
        """
        for bad in [b"", b"-1", b"one", b"1e3", b"0x10", b"\xb9", b"1 "]:
            self.assertRaises(ProtocolError, decode, [V, protocol.CREDIT, bad])

    def test_digits(self) -> None:
        """
        Integers have 1 to 18 digits, so that they fit a signed 64-bit
        integer in any language; leading zeros are allowed.
        """
        window = [V, protocol.WINDOW, b"r.1"]
        self.assertEqual(decode([*window, b"9" * 18]), Window(b"r.1", 10**18 - 1))
        self.assertEqual(decode([V, protocol.CREDIT, b"0" * 18]), Credit(0))
        for bad in [b"1" + b"0" * 18, b"9" * 5000]:
            self.assertRaises(ProtocolError, decode, [*window, bad])
            self.assertRaises(ProtocolError, decode, [V, protocol.CREDIT, bad])

    def test_cap(self) -> None:
        """
        A count over L{_defaults.MAX_CREDITS} (1000) is invalid.
        """
        self.assertEqual(_defaults.MAX_CREDITS, 1000)
        self.assertEqual(decode(encodeCredit(1000)), Credit(1000))
        for bad in [b"1001", b"999999999999999999"]:
            self.assertRaises(ProtocolError, decode, [V, protocol.CREDIT, bad])

    def test_frameCount(self) -> None:
        """
        C{CREDIT} has exactly three frames.
        """
        assertFrameCount(self, encodeCredit(1), b"1")


class WindowTests(SynchronousTestCase):
    """
    Tests for C{WINDOW} messages.
    """

    def test_roundTrip(self) -> None:
        """
        C{WINDOW} carries a request id and a decimal size.
        """
        frames = encodeWindow(b"r.1", 65536)
        self.assertEqual(frames, [V, b"WINDOW", b"r.1", b"65536"])
        self.assertEqual(decode(frames), Window(b"r.1", 65536))

    def test_bad(self) -> None:
        """
        A bad size or a wrong frame count is a L{ProtocolError}.
        """
        for frames in [
            [V, protocol.WINDOW, b"r.1", b"-5"],
            [V, protocol.WINDOW, b"r.1", b"lots"],
            [V, protocol.WINDOW, b"r.1"],
            [V, protocol.WINDOW, b"r.1", b"5", b""],
        ]:
            self.assertRaises(ProtocolError, decode, frames)


class IntegerTests(SynchronousTestCase):
    """
    The one integer rule of the wire format: 1 to 18 ASCII digits.
    """

    def test_encodeInt(self) -> None:
        """
        L{protocol.encodeInt} writes an integer's decimal digits.
        """
        self.assertEqual(protocol.encodeInt(0), b"0")
        self.assertEqual(protocol.encodeInt(8080), b"8080")
        self.assertEqual(protocol.encodeInt(10**18 - 1), b"9" * 18)

    def test_encodeIntRefuses(self) -> None:
        """
        L{protocol.encodeInt} refuses what the decoders would: a negative
        integer, or one of more than 18 digits.
        """
        for bad in [-1, 10**18, -(10**20)]:
            self.assertRaises(ValueError, protocol.encodeInt, bad)

    def test_everyEncoderUsesIt(self) -> None:
        """
        Every encoder of an integer attribute or frame refuses what
        L{protocol.encodeInt} refuses, rather than sending what no peer
        would decode.
        """
        for encode in [
            lambda: encodeCredit(-1),
            lambda: encodeWindow(b"r", -1),
            lambda: encodeHello("h", -1),
            lambda: encodeHello("h", 1, window=-1),
            lambda: encodeResponse(b"r", 10**18, b"OK", []),
            lambda: encodeRequest(b"r", REQUEST_META, [], window=10**18),
            lambda: encodeWelcome(maxMessage=-1),
        ]:
            self.assertRaises(ValueError, encode)

    def test_decodersAgree(self) -> None:
        """
        What L{protocol.encodeInt} writes, every integer the decoders read
        reads back.
        """
        for value in [0, 1, 1000, 10**18 - 1]:
            frames = encodeWindow(b"r", value)
            message = decode(frames)
            assert isinstance(message, Window)
            self.assertEqual(message.size, value)


class EmptyMessageTests(SynchronousTestCase):
    """
    Tests for C{PING} and C{BYE}, which carry nothing.
    """

    def test_ping(self) -> None:
        """
        C{PING} is the version and the type only.
        """
        self.assertEqual(encodePing(), [V, b"PING"])
        self.assertEqual(decode(encodePing()), Ping())

    def test_bye(self) -> None:
        """
        C{BYE} is the version and the type only.
        """
        self.assertEqual(encodeBye(), [V, b"BYE"])
        self.assertEqual(decode(encodeBye()), Bye())

    def test_extraFrames(self) -> None:
        """
        C{PING} or C{BYE} with any further frame is a L{ProtocolError}.
        """
        for kind in [protocol.PING, protocol.BYE]:
            self.assertRaises(ProtocolError, decode, [V, kind, b""])


# -- Fuzzing -------------------------------------------------------------------

# Every message class decode() may return.
MESSAGE_TYPES = get_args(protocol.Message)

KINDS = [
    protocol.REQ,
    protocol.CANCEL,
    protocol.RECALL,
    protocol.RECALLED,
    protocol.WELCOME,
    protocol.WINDOW,
    protocol.HELLO,
    protocol.CREDIT,
    protocol.BYE,
    protocol.PING,
    protocol.RESP,
    protocol.ERROR,
    protocol.BODY,
    protocol.END,
]

noNul = st.binary(max_size=20).filter(lambda b: b"\0" not in b)
pairs = st.lists(st.tuples(noNul, noNul), max_size=5)
chunks = st.lists(st.binary(max_size=20), max_size=4)
names = st.text(max_size=10).filter(lambda s: "\0" not in s)
# What a valid response head holds: token field names, and reason phrases
# and values without control characters but HTAB.
tokens = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789AZaz", min_size=1, max_size=10
).map(lambda t: t.encode("ascii"))
safe = st.binary(max_size=20).filter(
    lambda b: all(c == 9 or 0x20 <= c != 0x7F for c in b)
)
responsePairs = st.lists(st.tuples(tokens, safe), max_size=5)

# Meta attributes a request does not know (a repeated known name would
# replace the valid value; window has a rule of its own: test_badWindow).
extraMeta = st.lists(
    st.tuples(noNul.filter(lambda n: n not in [*REQUEST_KEYS, b"window"]), noNul),
    max_size=3,
)

# Valid messages of every type, as frames.
validMessages = st.one_of(
    st.builds(
        lambda rid, extra, headers, body: encodeRequest(
            rid, REQUEST_META + extra, headers, body
        ),
        st.binary(max_size=10),
        extraMeta,
        pairs,
        chunks,
    ),
    st.builds(
        encodeResponse,
        st.binary(max_size=10),
        st.integers(200, 599),
        safe,
        responsePairs,
        chunks,
        st.booleans(),
    ),
    st.builds(encodeBody, st.binary(max_size=10), chunks, st.booleans()),
    st.builds(encodeError, st.binary(max_size=10), st.text(max_size=20)),
    st.builds(encodeCancel, st.binary(max_size=10)),
    st.builds(
        encodeHello,
        names,
        st.integers(0, _defaults.MAX_CREDITS),
        st.dictionaries(
            # (window has a rule of its own: test_window, test_badWindow.)
            names.filter(lambda s: s not in ("name", "credits", "window")),
            names,
            max_size=3,
        ),
    ),
    st.builds(encodeWelcome, st.dictionaries(names, names, max_size=3)),
    st.builds(encodeCredit, st.integers(0, _defaults.MAX_CREDITS)),
    st.builds(encodeWindow, st.binary(max_size=10), st.integers(0, 10**9)),
    st.just(encodePing()),
    st.just(encodeBye()),
)


def _dropFrame(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    if frames:
        del frames[index % len(frames)]
    return frames


def _duplicateFrame(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    if frames:
        i = index % len(frames)
        frames.insert(i, frames[i])
    return frames


def _replaceFrame(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    if frames:
        frames[index % len(frames)] = data
    return frames


def _appendFrame(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    frames.append(data)
    return frames


def _spliceBytes(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    if frames:
        i = index % len(frames)
        frame = frames[i]
        at = index % (len(frame) + 1)
        frames[i] = frame[:at] + data + frame[at:]
    return frames


def _truncateFrame(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    if frames:
        i = index % len(frames)
        frames[i] = frames[i][: len(data)]
    return frames


def _xorByte(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    if frames and frames[index % len(frames)]:
        i = index % len(frames)
        frame = bytearray(frames[i])
        frame[index % len(frame)] ^= data[0] if data else 0x80
        frames[i] = bytes(frame)
    return frames


Mutation = Callable[[list[bytes], int, bytes], list[bytes]]

MUTATIONS: Sequence[Mutation] = [
    _dropFrame,
    _duplicateFrame,
    _replaceFrame,
    _appendFrame,
    _spliceBytes,
    _truncateFrame,
    _xorByte,
]

# Bytes likely to matter to the decoders: NUL, non-ASCII, non-UTF-8, digits
# (and characters Python's int() takes for digits: ARABIC-INDIC DIGIT ONE,
# SUPERSCRIPT TWO).
interestingBytes = st.one_of(
    st.binary(max_size=8),
    st.sampled_from(
        [b"\x00", b"\xff", b"\xc3", b"\x80", b"-", b"+", b" ", b"_", b"0", b"9" * 4400,
         "\u0661".encode(), "\u00b2".encode(), b"\xb2"]
    ),
)

mutatedMessages = st.builds(
    lambda frames, steps: _applyAll(frames, steps),
    validMessages,
    st.lists(
        st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 2**16), interestingBytes),
        min_size=1,
        max_size=4,
    ),
)


def _applyAll(
    frames: list[bytes], steps: list[tuple[Mutation, int, bytes]]
) -> list[bytes]:
    frames = list(frames)
    for mutation, index, data in steps:
        frames = mutation(frames, index, data)
    return frames


class FuzzTests(SynchronousTestCase):
    """
    L{decode} either returns a message or raises L{ProtocolError}, whatever
    it is given.

    Example counts keep the class under ~15 seconds on PyPy (which runs
    Hypothesis slowly); no deadline, as a cold JIT makes first examples slow.
    Far longer runs (90,000 examples) found nothing more.
    """

    def assertDecodesOrRefuses(self, frames: list[bytes]) -> None:
        """
        Decode C{frames}; a L{ProtocolError} is fine, any other exception
        fails the test, and a result must be a message.
        """
        try:
            message = decode(frames)
        except ProtocolError:
            return
        self.assertIsInstance(message, MESSAGE_TYPES)

    @settings(max_examples=500, deadline=None)
    @given(st.lists(st.binary(max_size=30), max_size=8))
    def test_arbitraryFrames(self, frames: list[bytes]) -> None:
        """
        Arbitrary lists of byte strings never raise anything but
        L{ProtocolError}.
        """
        self.assertDecodesOrRefuses(frames)

    @settings(max_examples=500, deadline=None)
    @given(st.sampled_from(KINDS), st.lists(interestingBytes, max_size=7))
    def test_arbitraryFramesOfKnownType(self, kind: bytes, rest: list[bytes]) -> None:
        """
        Arbitrary frames after a valid version and a known type never raise
        anything but L{ProtocolError}.
        """
        self.assertDecodesOrRefuses([V, kind, *rest])

    @settings(
        max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(mutatedMessages)
    def test_mutatedMessages(self, frames: list[bytes]) -> None:
        """
        Valid messages with frames dropped, repeated, replaced, added,
        spliced into, truncated or bit-flipped never raise anything but
        L{ProtocolError}.
        """
        self.assertDecodesOrRefuses(frames)

    @settings(max_examples=300, deadline=None)
    @given(validMessages)
    def test_validMessagesDecode(self, frames: list[bytes]) -> None:
        """
        Everything the encoders produce decodes, and re-encoding what was
        decoded gives the same frames where the message has one encoding.
        """
        message = decode(frames)
        self.assertIsInstance(message, MESSAGE_TYPES)
        if isinstance(message, Body):
            again = encodeBody(
                message.requestId, [bytes(c) for c in message.chunks], message.end
            )
        elif isinstance(message, Error):
            again = encodeError(message.requestId, message.message)
        elif isinstance(message, Cancel):
            again = encodeCancel(message.requestId)
        elif isinstance(message, Credit):
            again = encodeCredit(message.credits)
        elif isinstance(message, Window):
            again = encodeWindow(message.requestId, message.size)
        elif isinstance(message, Response):
            head = message.head
            again = encodeResponse(
                message.requestId,
                head.status,
                head.reason,
                head.headers,
                [bytes(c) for c in message.body],
                head.more,
            )
        else:
            return
        self.assertEqual(again, frames)

    @settings(max_examples=300, deadline=None)
    @given(validMessages)
    def test_memoryviewsDecode(self, frames: list[bytes]) -> None:
        """
        Frames received without a copy, as memoryviews, decode to the same
        message as the same frames as L{bytes}: the request id is L{bytes},
        and body chunks are the very objects given.
        """
        views = [memoryview(frame) for frame in frames]
        message = decode(views)
        self.assertEqual(message, decode(frames))
        requestId = getattr(message, "requestId", b"")
        self.assertIs(type(requestId), bytes)
        if isinstance(message, Body):
            self.assertEqual(list(map(id, message.chunks)), list(map(id, views[3:])))
        elif isinstance(message, (Request, Response)):
            self.assertEqual(list(map(id, message.body)), list(map(id, views[5:])))
