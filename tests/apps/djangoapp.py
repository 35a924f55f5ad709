# -*- test-case-name: tests.test_frameworks -*-
"""
A Django application, configured in this module and served by txmp
unchanged through C{django.core.wsgi.get_wsgi_application()}.
"""

from __future__ import annotations

from datetime import datetime, timezone

from django.conf import settings

from tests.apps import DJANGO_SETTINGS

settings.configure(
    **DJANGO_SETTINGS,
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
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
from django.views.decorators.http import condition  # noqa: E402

from tests.apps.wholebody import summary  # noqa: E402

#: When what C{/conditional} serves last changed.
CHANGED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


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


def unchanged(request: HttpRequest) -> HttpResponse:
    return HttpResponse("a resource that has not changed", content_type="text/plain")


def word(request: HttpRequest, word: str = "") -> JsonResponse:
    return JsonResponse(
        {"path": request.path, "word": word, "name": request.GET.get("name", "")}
    )


urlpatterns = [
    path("greet", greet),
    path("form", form),
    path("data", csrf_exempt(body)),
    path("upload", csrf_exempt(upload)),
    # Django answers 304 to a request that matches the ETag or the date.
    path(
        "conditional",
        condition(etag_func=lambda request: '"v1"', last_modified_func=lambda request: CHANGED)(
            unchanged
        ),
    ),
    path("caf\xe9", word),
    path("word/<str:word>", word),
]

app = get_wsgi_application()
