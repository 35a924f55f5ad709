# -*- test-case-name: tests -*-
"""
The one place the system tests take the global reactor from.

System tests use the real reactor: that is what they test.  Every other
module of the harness, and every test that needs a reactor, imports it
from here.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor as _globalReactor

reactor: Any = _globalReactor
