"""
txmp: a Twisted front and WSGI handler processes joined by ZeroMQ.
"""

__version__ = "0.1.0"
