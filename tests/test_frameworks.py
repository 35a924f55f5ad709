# -*- test-case-name: tests.test_frameworks -*-
"""
Applications written for Flask and Django are served unchanged.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from ._harness import SystemTestCase, asyncTest
from .apps.wholebody import summary

# Many times the handler's input window.
LARGE = 3 * 1024 * 1024

# Linux's shortest delayed ACK: what a response written in two pieces
# waited for at every kept-alive request while Nagle's algorithm was on.
DELAYED_ACK = 0.040

FORM = [("name", "Grace Hopper"), ("language", "COBOL"), ("language", "FLOW-MATIC"), ("empty", "")]


if TYPE_CHECKING:
    _MixinBase = SystemTestCase
else:
    _MixinBase = object


class FrameworkTestsMixin(_MixinBase):
    """
    Tests run against each framework's application, which both implement
    C{/greet} and C{/form} alike.

    @cvar app: The C{--app} to serve.
    """

    app: str

    @asyncTest
    async def test_queryString(self) -> None:
        """
        A route reads its parameters from a percent-encoded query string.
        """
        await self.startFrontAndHandler(self.app)
        result = await self.get("/greet?name=Ada%20Lovelace%20%E2%9C%93&times=2")
        self.assertResponse(result, 200, "Hello, Ada Lovelace \u2713! ".encode("utf-8") * 2)
        self.assertTrue(
            (result.header("content-type") or "").startswith("text/"), self.transcript()
        )

    @asyncTest
    async def test_postForm(self) -> None:
        """
        A URL-encoded form posted to a route reaches it field by field.
        """
        await self.startFrontAndHandler(self.app)
        result = await self.request(
            b"POST",
            "/form",
            urlencode(FORM).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertResponse(result, 200)
        self.assertEqual(
            json.loads(result.body),
            {
                "method": "POST",
                "fields": {
                    "name": ["Grace Hopper"],
                    "language": ["COBOL", "FLOW-MATIC"],
                    "empty": [""],
                },
            },
            self.transcript(),
        )

    @asyncTest
    async def test_largeBody(self) -> None:
        """
        The framework reads a 3 MiB raw body whole (Flask's C{get_data()},
        Django's C{request.body}) and the route gets it byte for byte.
        """
        await self.startFrontAndHandler(self.app, frontArguments=("--timeout", "20"))
        body = os.urandom(LARGE)
        result = await self.request(
            b"POST", "/data", body, headers={"Content-Type": "application/octet-stream"}
        )
        self.assertResponse(result, 200, summary(body))

    @asyncTest
    async def test_smallChunkedBody(self) -> None:
        """
        The framework reads a chunked body of a few KiB whole (Django's
        C{request.body} reads C{CONTENT_LENGTH} bytes, which the handler
        gives such a body: it came whole).
        """
        await self.startFrontAndHandler(self.app)
        body = os.urandom(10000)
        result = await self.request(
            b"POST",
            "/data",
            body,
            headers={"Content-Type": "application/octet-stream"},
            chunked=True,
        )
        self.assertResponse(result, 200, summary(body))

    @asyncTest
    async def test_largeUpload(self) -> None:
        """
        A 3 MiB file uploaded as C{multipart/form-data} reaches the route
        byte for byte (Flask's C{request.files}, Django's
        C{request.FILES}).
        """
        await self.startFrontAndHandler(self.app, frontArguments=("--timeout", "20"))
        content = os.urandom(LARGE)
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode("ascii"),
                b'Content-Disposition: form-data; name="upload"; filename="blob.bin"\r\n',
                b"Content-Type: application/octet-stream\r\n\r\n",
                content,
                f"\r\n--{boundary}--\r\n".encode("ascii"),
            ]
        )
        result = await self.request(
            b"POST",
            "/upload",
            body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        self.assertResponse(result, 200, summary(content))

    @asyncTest
    async def test_keptAliveNotDelayed(self) -> None:
        """
        Requests one after another on a kept-alive connection are answered
        in well under a delayed ACK each: the framework's response, whose
        head and body the front writes apart, is not held back by Nagle's
        algorithm.
        """
        await self.startFrontAndHandler(self.app)
        client = await self.rawConnection()
        durations = []
        for _ in range(20):
            started = time.monotonic()
            response = await self.withTimeout(
                client.request(self.rawRequest("GET", "/greet?name=Ada")),
                10,
                "a kept-alive response",
            )
            durations.append(time.monotonic() - started)
            self.assertEqual(
                (response.code, response.body), (200, b"Hello, Ada! "), self.transcript()
            )
        self.assertLess(statistics.median(durations), DELAYED_ACK * 3 / 4, durations)

    @asyncTest
    async def test_notFound(self) -> None:
        """
        The framework's own 404 reaches the client.
        """
        await self.startFrontAndHandler(self.app)
        result = await self.get("/no/such/route")
        self.assertResponse(result, 404)
        self.assertIn(b"Not Found", result.body, self.transcript())


class FlaskTests(FrameworkTestsMixin, SystemTestCase):
    """
    A Flask application is served unchanged.
    """

    app = "tests.apps.flaskapp:app"

    @asyncTest
    async def test_largeFormField(self) -> None:
        """
        A URL-encoded form with a 3 MiB field, read by C{request.form},
        reaches the route whole.
        """
        await self.startFrontAndHandler(self.app, frontArguments=("--timeout", "20"))
        value = bytes(range(32, 127)) * (LARGE // 95)
        result = await self.request(
            b"POST",
            "/field",
            urlencode({"blob": value.decode("ascii")}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertResponse(result, 200, summary(value))


class DjangoTests(FrameworkTestsMixin, SystemTestCase):
    """
    A Django application is served unchanged.
    """

    app = "tests.apps.djangoapp:app"
