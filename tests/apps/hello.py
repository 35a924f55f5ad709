# -*- test-case-name: tests.test_serving -*-
"""
Hello, world, with a C{Content-Length}; the same without one, as a
one-item list (L{unsized}); and a factory for C{--app
tests.apps.hello:makeApp()}.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # wsgiref.types is new in Python 3.11.
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment


BODY = b"Hello, world!\n"
FACTORY_BODY = b"Hello from a factory!\n"


def _helloApp(body: bytes) -> WSGIApplication:
    def app(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
        startResponse(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    return app


app: WSGIApplication = _helloApp(BODY)


def unsized(environ: WSGIEnvironment, startResponse: StartResponse) -> Iterable[bytes]:
    """
    L{BODY} as a one-item list, without a C{Content-Length}, whatever the
    method: the server works the length out.
    """
    startResponse("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [BODY]


def makeApp() -> WSGIApplication:
    """
    Make an application that says it came from this factory.

    @return: A WSGI application.
    """
    return _helloApp(FACTORY_BODY)


__all__ = ["BODY", "FACTORY_BODY", "app", "makeApp", "unsized"]
