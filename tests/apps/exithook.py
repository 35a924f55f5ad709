# -*- test-case-name: tests.test_lifecycle -*-
"""
An application that registers an L{atexit} hook, as applications and their
libraries do (to flush metrics or error reports, to close a connection
pool): the hook prints C{exit hook ran} when it runs.
"""

from __future__ import annotations

import atexit

from tests.apps.hello import app


def _hook() -> None:
    print("exit hook ran", flush=True)


atexit.register(_hook)

__all__ = ["app"]
