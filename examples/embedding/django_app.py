"""rota inside a Django project, in one file: jobs live beside the views; the engine starts in
the WSGI entry point, not in ``AppConfig.ready`` (which also runs for ``migrate`` and every
other management command, and twice under ``runserver``'s reloader).

Run it with ``python -m examples.embedding.django_app runserver --noreload`` and open /jobs.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from rota import Rota, RunContext, weekly

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        SECRET_KEY="example-only",
    )
    django.setup()

rota = Rota(os.environ.get("ROTA_EXAMPLE_DATABASE", "sqlite:///django-app.db"))


@rota.job("recommendations", schedule=weekly("sun", "04:00"))
def recommendations(ctx: RunContext) -> None:
    """Build each user's recommendations."""
    ctx.log.info("built recommendations for 3 users")


def jobs(request: HttpRequest) -> JsonResponse:
    listing: list[dict[str, Any]] = [
        {"name": job.name, "next": job.next_fire_at} for job in rota.jobs()
    ]
    return JsonResponse(listing, safe=False)


def run(request: HttpRequest, name: str) -> JsonResponse:
    finished = rota.wait(rota.run_now(name), timeout=30)
    return JsonResponse({"id": finished.id, "status": finished.status.value})


urlpatterns = [path("jobs", jobs), path("jobs/<str:name>/run", run)]


def application(environ: dict[str, Any], start_response: Any) -> Any:
    """The WSGI entry point: the first request's process starts the engine."""
    return _wsgi()(environ, start_response)


def _wsgi() -> Any:
    global _handler
    if _handler is None:
        from django.core.wsgi import get_wsgi_application

        _handler = get_wsgi_application()
        rota.start()
        atexit.register(rota.stop)
    return _handler


_handler: Any = None

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    rota.start()
    atexit.register(rota.stop)
    execute_from_command_line(sys.argv)
