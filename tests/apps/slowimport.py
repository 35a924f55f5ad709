# -*- test-case-name: tests.test_topology -*-
"""
An application whose module takes L{IMPORT_SECONDS} to import (a large
framework's start-up): a window in which its spawned handler has not yet
started its services.  (Tests must not import it.)
"""

from __future__ import annotations

import time

from .hello import app

IMPORT_SECONDS = 3.0

time.sleep(IMPORT_SECONDS)

__all__ = ["app"]
