# -*- test-case-name: tests.test_reload -*-
"""
A module that is found but cannot be imported: what a spawned handler with
a broken application runs into at boot.
"""
from __future__ import annotations

raise RuntimeError("this application cannot start")
