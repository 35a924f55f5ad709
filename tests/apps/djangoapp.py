# -*- test-case-name: tests.test_frameworks -*-
"""
A Django application, configured in this module and served by txmp
unchanged through C{django.core.wsgi.get_wsgi_application()}.
"""

from __future__ import annotations

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="txmp-system-tests-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1"],
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import (  # noqa: E402
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.urls import path  # noqa: E402


def greet(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("name", "nobody")
    times = int(request.GET.get("times", "1"))
    return HttpResponse(f"Hello, {name}! " * times, content_type="text/plain; charset=utf-8")


def form(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return JsonResponse(
        {
            "fields": {key: request.POST.getlist(key) for key in request.POST},
            "method": request.method,
        }
    )


urlpatterns = [path("greet", greet), path("form", form)]

app = get_wsgi_application()
