#!/usr/bin/env python3
"""
Measure encoding and decoding of a realistic HTTP request head: JSON versus
txmp's NUL-separated pair lists (versus msgpack, when it is importable).

This script uses only the standard library and does B{not} import txmp, so
that it runs on a bare interpreter, e.g. C{/usr/bin/pypy3
benchmarks/head_encoding.py}.  The two pair-list functions below are copies
of C{txmp.protocol.encodePairs} and C{txmp.protocol.decodePairs} (without the
odd-field check's exception class); keep them in step with that module.

What each codec does, per operation, is what the front and a handler do:

    - B{encode}: from what Twisted Web hands the front (the method, target
      and header names and values as C{bytes}, the peer address as C{str}
      and C{int}) to the bytes that go on the wire.  Pairs: two frames
      (meta, headers).  JSON: one UTF-8 document (byte strings must first be
      decoded to text, as JSON has no bytes type).
    - B{decode}: from the wire bytes to native strings: a C{dict} of meta
      attributes and a list of C{(name, value)} header pairs in order.  The
      JSON decoder is given a small advantage: its header pairs are left as
      2-item lists rather than converted to tuples.

Usage::

    python benchmarks/head_encoding.py [--number N] [--repeat R]

Each figure is the best of C{R} runs (default 50) of C{N} operations
(default 10,000), in microseconds per operation.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import timeit

try:
    import msgpack  # type: ignore[import-not-found]
except ImportError:
    msgpack = None


# -- The pair-list codec, copied from txmp.protocol -------------------------


def encodePairs(pairs):
    """
    Join C{(name, value)} byte strings with single NUL bytes.
    """
    return b"\0".join([item for pair in pairs for item in pair])


def decodePairs(frame):
    """
    Split a pair-list frame into C{(name, value)} native strings.
    """
    if not frame:
        return []
    fields = frame.decode("latin-1").split("\0")
    if len(fields) % 2:
        raise ValueError("pair list with an odd number of fields")
    each = iter(fields)
    return list(zip(each, each))


# -- The sample: a browser's GET, as Twisted Web hands it to the front --------

METHOD = b"GET"
TARGET = b"/articles/2024/zeromq-front-back-split?page=2&sort=recent"
VERSION = b"HTTP/1.1"
REMOTE_ADDR = "192.168.1.23"
REMOTE_PORT = 51234
SERVER_NAME = b"www.example.com"
SERVER_PORT = 443
SCHEME = b"https"

HEADERS = [
    (b"Host", b"www.example.com"),
    (
        b"User-Agent",
        b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ),
    (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"Accept-Language", b"en-GB,en;q=0.5"),
    (b"Accept-Encoding", b"gzip, deflate, br, zstd"),
    (b"Connection", b"keep-alive"),
    (b"Cookie", b"sessionid=8f3a2c91d0e54b7a9c6e1f2d3b4a5c6d; theme=dark"),
]


def encodeHeadPairs():
    """
    Encode the sample head as txmp does: a meta frame and a headers frame.
    """
    meta = [
        (b"method", METHOD),
        (b"target", TARGET),
        (b"version", VERSION),
        (b"remote_addr", REMOTE_ADDR.encode("latin-1")),
        (b"remote_port", b"%d" % (REMOTE_PORT,)),
        (b"server_name", SERVER_NAME),
        (b"server_port", b"%d" % (SERVER_PORT,)),
        (b"scheme", SCHEME),
        (b"more", b"0"),
    ]
    return [encodePairs(meta), encodePairs(HEADERS)]


def decodeHeadPairs(frames):
    """
    Decode what L{encodeHeadPairs} made.
    """
    return dict(decodePairs(frames[0])), decodePairs(frames[1])


def _textHead():
    return {
        "method": METHOD.decode("latin-1"),
        "target": TARGET.decode("latin-1"),
        "version": VERSION.decode("latin-1"),
        "remote_addr": REMOTE_ADDR,
        "remote_port": REMOTE_PORT,
        "server_name": SERVER_NAME.decode("latin-1"),
        "server_port": SERVER_PORT,
        "scheme": SCHEME.decode("latin-1"),
        "more": False,
        "headers": [
            [name.decode("latin-1"), value.decode("latin-1")]
            for name, value in HEADERS
        ],
    }


def encodeHeadJSON():
    """
    Encode the sample head as one JSON document.
    """
    return json.dumps(_textHead()).encode("utf-8")


def decodeHeadJSON(data):
    """
    Decode what L{encodeHeadJSON} made.
    """
    head = json.loads(data)
    headers = head.pop("headers")
    return head, headers


def encodeHeadMsgpack():
    """
    Encode the sample head as one msgpack document (text as msgpack str).
    """
    return msgpack.packb(_textHead())


def decodeHeadMsgpack(data):
    """
    Decode what L{encodeHeadMsgpack} made.
    """
    head = msgpack.unpackb(data)
    headers = head.pop("headers")
    return head, headers


# -- Measuring ----------------------------------------------------------------


def best(func, arg, number, repeat):
    """
    Best time of C{repeat} runs of C{number} calls, in microseconds per call.
    """
    if arg is None:
        timer = timeit.Timer(func)
    else:
        timer = timeit.Timer(lambda: func(arg))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Many short runs: their minimum is the figure least disturbed by other
    # processes, which matters on a shared or busy machine.
    parser.add_argument("--number", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=50)
    options = parser.parse_args(argv)

    # The codecs must agree on what they carry before they are timed.
    pairFrames = encodeHeadPairs()
    pairMeta, pairHeaders = decodeHeadPairs(pairFrames)
    jsonMeta, jsonHeaders = decodeHeadJSON(encodeHeadJSON())
    assert [tuple(h) for h in jsonHeaders] == pairHeaders
    assert pairMeta["target"] == jsonMeta["target"]
    assert int(pairMeta["remote_port"]) == jsonMeta["remote_port"]

    codecs = [
        ("json", encodeHeadJSON, decodeHeadJSON, lambda data: len(data)),
        ("pairs", encodeHeadPairs, decodeHeadPairs, lambda fr: sum(map(len, fr))),
    ]
    if msgpack is not None:
        codecs.append(
            ("msgpack", encodeHeadMsgpack, decodeHeadMsgpack, lambda data: len(data))
        )

    impl = platform.python_implementation()
    version = sys.version.split()[0]
    if impl == "PyPy":
        version += " (PyPy %d.%d.%d)" % sys.pypy_version_info[:3]
    print("%s %s: %d headers, best of %d x %d ops" % (
        impl, version, len(HEADERS), options.repeat, options.number))
    if msgpack is None:
        print("msgpack: not importable, skipped")

    results = {}
    for name, encode, decode, size in codecs:
        data = encode()
        results[name] = (
            best(encode, None, options.number, options.repeat),
            best(decode, data, options.number, options.repeat),
            size(data),
        )

    print("%-8s %12s %12s %8s" % ("codec", "encode µs", "decode µs", "bytes"))
    for name, (enc, dec, nbytes) in results.items():
        print("%-8s %12.2f %12.2f %8d" % (name, enc, dec, nbytes))
    jEnc, jDec, jSize = results["json"]
    pEnc, pDec, pSize = results["pairs"]
    print("json/pairs: encode %.1fx, decode %.1fx, size %.2fx" % (
        jEnc / pEnc, jDec / pDec, jSize / pSize))
    if "msgpack" in results:
        mEnc, mDec, mSize = results["msgpack"]
        print("msgpack/pairs: encode %.1fx, decode %.1fx, size %.2fx" % (
            mEnc / pEnc, mDec / pDec, mSize / pSize))


if __name__ == "__main__":
    main()
