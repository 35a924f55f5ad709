# -*- test-case-name: tests.test_misbehaving -*-
"""
A module that starts a thread that is not a daemon and never ends, then
fails to import: what a handler with a broken application that had
started a background worker runs into at boot.
"""

from __future__ import annotations

import threading

threading.Thread(target=threading.Event().wait, name="started-at-import").start()

raise RuntimeError("this application cannot start")
