# -*- test-case-name: tests.test_frameworks -*-
"""
Applications written for Flask and Django are served unchanged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from ._harness import SystemTestCase, asyncTest

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


class DjangoTests(FrameworkTestsMixin, SystemTestCase):
    """
    A Django application is served unchanged.
    """

    app = "tests.apps.djangoapp:app"
