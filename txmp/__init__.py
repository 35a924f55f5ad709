# -*- test-case-name: txmp.test.test_tap -*-
"""
txmp: a Twisted front and WSGI handler processes joined by ZeroMQ.
"""
from __future__ import annotations

__version__ = "0.1.0"
