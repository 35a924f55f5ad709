# -*- test-case-name: tests.test_serving -*-
"""
A front and a handler serve plain WSGI applications; C{mphandler} refuses
an C{--app} it cannot load.
"""

from __future__ import annotations

import hashlib
import os

from ._harness import SystemTestCase, asyncTest
from .apps import hello


def binaryBody(size: int) -> bytes:
    """
    Make a request body that holds every byte value, then random bytes.

    @param size: The length of the body, at least 512.
    @return: The body.
    """
    everyByte = bytes(range(256)) + bytes(reversed(range(256)))
    return everyByte + os.urandom(size - len(everyByte))


class HelloTests(SystemTestCase):
    """
    A front and one handler serve a hello-world application.
    """

    @asyncTest
    async def test_get(self) -> None:
        """
        A C{GET} is answered with the application's status, headers and
        body.
        """
        await self.startFrontAndHandler("tests.apps.hello:app")
        result = await self.get("/")
        self.assertResponse(result, 200, hello.BODY)
        self.assertEqual(
            result.header("content-type"), "text/plain; charset=utf-8", self.transcript()
        )
        self.assertEqual(result.length, len(hello.BODY), self.transcript())

    @asyncTest
    async def test_factoryCall(self) -> None:
        """
        C{--app module:factory()} serves the application the factory
        returns.
        """
        await self.startFrontAndHandler("tests.apps.hello:makeApp()")
        self.assertResponse(await self.get("/"), 200, hello.FACTORY_BODY)


class EchoTests(SystemTestCase):
    """
    Request bodies reach the application whole and response bodies reach
    the client whole, whatever bytes they hold.
    """

    def assertEchoed(self, body: bytes, echoed: bytes) -> None:
        self.assertEqual(
            (len(echoed), hashlib.sha256(echoed).hexdigest()),
            (len(body), hashlib.sha256(body).hexdigest()),
            "echoed body differs" + self.transcript(),
        )

    @asyncTest
    async def test_binaryBody(self) -> None:
        """
        A POST body of a few hundred KiB holding every byte value is echoed
        byte for byte, with its C{Content-Length}.
        """
        await self.startFrontAndHandler("tests.apps.echo:app")
        body = binaryBody(300 * 1024 + 7)
        result = await self.request(
            b"POST",
            "/",
            body,
            headers={"Content-Type": "application/octet-stream"},
        )
        self.assertResponse(result, 200)
        self.assertEchoed(body, result.body)
        self.assertEqual(result.length, len(body), self.transcript())
        self.assertEqual(
            result.header("x-request-content-length"), str(len(body)), self.transcript()
        )

    @asyncTest
    async def test_chunkedRequestBody(self) -> None:
        """
        A request body sent with chunked transfer-encoding reaches the
        application whole.
        """
        await self.startFrontAndHandler("tests.apps.echo:app")
        body = binaryBody(200 * 1024)
        result = await self.request(b"POST", "/", body, chunked=True)
        self.assertResponse(result, 200)
        self.assertEchoed(body, result.body)

    @asyncTest
    async def test_emptyBody(self) -> None:
        """
        An empty POST body is echoed as an empty body with
        C{Content-Length: 0}.
        """
        await self.startFrontAndHandler("tests.apps.echo:app")
        result = await self.request(b"POST", "/", b"")
        self.assertResponse(result, 200, b"")
        self.assertEqual(result.length, 0, self.transcript())


class BadApplicationTests(SystemTestCase):
    """
    C{twistd mphandler} with an C{--app} it cannot load is a usage error:
    it exits non-zero and says what was wrong.
    """

    timeout = 40

    async def assertRefused(self, app: str, *mentioned: str) -> None:
        """
        Assert that C{mphandler --app APP} exits non-zero without starting
        and that its output contains one of C{mentioned}.
        """
        handler = self.startHandlerProcess("bad", app)
        end = await self.withTimeout(handler.whenEnded(), 30, "mphandler to exit")
        self.assertNotEqual(
            getattr(end, "exitCode", 0),
            0,
            f"mphandler --app {app} exited successfully" + self.transcript(),
        )
        self.assertIsNone(
            getattr(end, "signal", None),
            f"mphandler --app {app} was killed by a signal" + self.transcript(),
        )
        output = "\n".join(handler.lines)
        self.assertTrue(
            any(text in output for text in mentioned),
            f"mphandler --app {app} did not mention any of {mentioned}" + self.transcript(),
        )
        self.assertEqual(
            handler.countLines("mphandler bad started"),
            0,
            "a handler that cannot load its application said it started" + self.transcript(),
        )

    @asyncTest
    async def test_missingModule(self) -> None:
        """
        A module that cannot be imported is refused.
        """
        await self.assertRefused("tests.apps.doesnotexist:app", "doesnotexist")

    @asyncTest
    async def test_missingAttribute(self) -> None:
        """
        A name the module does not have is refused.
        """
        await self.assertRefused("tests.apps.hello:nosuchapp", "nosuchapp")

    @asyncTest
    async def test_malformed(self) -> None:
        """
        An C{--app} that is not C{module:name} is refused.
        """
        await self.assertRefused("not a valid app spec!", "not a valid app spec!", "--app")
