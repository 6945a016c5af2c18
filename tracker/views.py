from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tracker.celery import app as celery_app


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


@never_cache
@require_GET
def healthz(request):
    """The state of the services the tracker needs, for monitors: 200 when the database answers."""
    state = {"database": _database_state(), "broker": _broker_state(), "last_sweep": None}
    return JsonResponse(state, status=200 if state["database"] == "ok" else 503)
