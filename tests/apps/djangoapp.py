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
    # The tests post bodies of several MiB; Django's default refuses a
    # request.body over 2.5 MB, which is not what they test.
    DATA_UPLOAD_MAX_MEMORY_SIZE=None,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import (  # noqa: E402
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from tests.apps.wholebody import summary  # noqa: E402


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


def body(request: HttpRequest) -> HttpResponse:
    return HttpResponse(summary(request.body), content_type="text/plain")


def upload(request: HttpRequest) -> HttpResponse:
    return HttpResponse(summary(request.FILES["upload"].read()), content_type="text/plain")


urlpatterns = [
    path("greet", greet),
    path("form", form),
    path("data", csrf_exempt(body)),
    path("upload", csrf_exempt(upload)),
]

app = get_wsgi_application()
