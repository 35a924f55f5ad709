# -*- test-case-name: tests.test_frameworks -*-
"""
A Django site set up as C{django-admin startproject} leaves one, as far as
the tests need: C{CommonMiddleware} and C{CsrfViewMiddleware}, Django's
default request size limits, and logging to the console, as Django's
documentation shows it (a C{StreamHandler}, on standard error).  Served
by txmp unchanged through C{django.core.wsgi.get_wsgi_application()}.

  - C{/csrf}: a form with Django's CSRF token to a C{GET}, which sets the
    C{csrftoken} cookie; C{posted NAME} to a C{POST} of it that passes
    Django's CSRF checks;
  - C{/cookies}: three C{Set-Cookie} fields;
  - C{/file?path=P}: a C{FileResponse} of the file C{P} (relative to the
    handler's working directory);
  - C{/stream?count=N}: a C{StreamingHttpResponse} of N lines C{%05d};
  - C{/finished}: how many responses Django has seen closed so far;
  - C{/form}: the C{summary} of the C{blob} field of a posted form;
  - C{/boom}: logs a warning, then raises C{RuntimeError(BOOM)}.
"""

from __future__ import annotations

import logging

from django.conf import settings

from tests.apps import DJANGO_SETTINGS

settings.configure(
    **DJANGO_SETTINGS,
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["console"], "level": "WARNING"},
    },
)

from django.core.signals import request_finished  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import (  # noqa: E402
    FileResponse,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.middleware.csrf import get_token  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from tests.apps.wholebody import summary  # noqa: E402

#: The message of the exception C{/boom} raises.
BOOM = "djangosite boom"

_log = logging.getLogger(__name__)

# How many responses Django has seen closed: it sends request_finished
# from the response's close(), and closes its database connections then.
_finished = [0]


def _countFinished(sender: object, **kwargs: object) -> None:
    _finished[0] += 1


request_finished.connect(_countFinished)


def csrfForm(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return HttpResponse("posted " + request.POST["name"], content_type="text/plain")
    return HttpResponse(
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken"'
        f' value="{get_token(request)}"><input name="name"></form>'
    )


def cookies(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("three cookies", content_type="text/plain")
    response.set_cookie("first", "1")
    response.set_cookie("second", "2", httponly=True)
    response.set_cookie("third", "3", max_age=60, samesite="Strict")
    return response


def file(request: HttpRequest) -> FileResponse:
    return FileResponse(open(request.GET["path"], "rb"))


def stream(request: HttpRequest) -> StreamingHttpResponse:
    count = int(request.GET["count"])
    return StreamingHttpResponse(
        (f"{n:05d}\n".encode("ascii") for n in range(count)), content_type="text/plain"
    )


def finished(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(_finished[0]), content_type="text/plain")


def form(request: HttpRequest) -> HttpResponse:
    return HttpResponse(summary(request.POST["blob"].encode("latin-1")))


def boom(request: HttpRequest) -> HttpResponse:
    _log.warning("the boom view is about to raise")
    raise RuntimeError(BOOM)


urlpatterns = [
    path("csrf", csrfForm),
    path("cookies", cookies),
    path("file", file),
    path("stream", stream),
    path("finished", finished),
    path("form", csrf_exempt(form)),
    path("boom", boom),
]

app = get_wsgi_application()
