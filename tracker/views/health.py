"""Health, the favicon, the error pages and the benchmark's baseline."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tracker.celery import app as celery_app
from tracker.models import SweepRun

# --- Health --------------------------------------------------------------------------------------------


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # any failure is the answer, not an error page
        return f"error: {error.__class__.__name__}"


def _broker_state() -> str:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"error: {error.__class__.__name__}"


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@never_cache
@require_GET
def healthz(request):
    """The state of the services the tracker needs, for monitors: 200 when the database answers."""
    database = _database_state()
    last = SweepRun.objects.exclude(finished_at=None).first() if database == "ok" else None
    state = {
        "database": database,
        "broker": _broker_state(),
        "last_sweep": last.finished_at.isoformat() if last else None,
    }
    return JsonResponse(state, status=200 if state["database"] == "ok" else 503)


# --- Error pages -----------------------------------------------------------------------------------------------


def server_error(request):
    """The 500 handler: a database that is briefly unreachable (restarting, failing over) gets a 503 that says
    so and asks to retry, not an error page; anything else gets the plain 500 page. Both render without the
    database (no user, no context processors), since it may be what failed."""
    import sys

    from django.db import InterfaceError, OperationalError

    error = sys.exc_info()[1]
    if isinstance(error, (OperationalError, InterfaceError)):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "10"
        return response
    return HttpResponse(render_to_string("500.html"), status=500)


# --- Benchmark baseline (only with BENCHMARK_BASELINE; scripts/bench_web.py) ----------------------------------------


def benchmark_baseline(request):
    """A constant answer through the same middleware: what the benchmark compares each page with."""
    return HttpResponse(b"ok", content_type="text/plain")
