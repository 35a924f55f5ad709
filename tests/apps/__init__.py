# -*- test-case-name: tests -*-
"""
WSGI applications served by the system tests.

Each module exposes a WSGI callable named C{app} that C{twistd mphandler
--app tests.apps.MODULE:app} loads in a separate process.  Nothing here
knows about txmp: the applications are what a user would write.
"""

#: The Django settings that the Django applications here (L{djangoapp},
#: L{djangosite}) share; each adds its own URLs, middleware and limits.
from __future__ import annotations

DJANGO_SETTINGS = {
    "DEBUG": False,
    "SECRET_KEY": "txmp-system-tests-only",
    "ALLOWED_HOSTS": ["127.0.0.1"],
    "INSTALLED_APPS": [],
    "USE_TZ": True,
}
