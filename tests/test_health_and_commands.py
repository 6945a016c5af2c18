import io
import os

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.conftest import need_service

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert set(body) == {"database", "broker", "last_sweep"}


@pytest.mark.redis
def test_healthz_sees_the_redis_broker(client, settings):
    if not os.environ.get("REDIS_URL"):
        need_service("Redis", "REDIS_URL is not set")
    body = client.get("/healthz").json()
    assert body["broker"] == "ok", body


def test_healthz_says_when_the_broker_is_down(client, settings):
    from tracker.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        body = client.get("/healthz").json()
    finally:
        app.conf.broker_url = previous
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_seed_demo_creates_the_admin_account(django_user_model):
    out = io.StringIO()
    call_command("seed_demo", "--password", "a-demo-password-1", stdout=out)
    assert out.getvalue().splitlines()[0].startswith("admin admin")
    user = django_user_model.objects.get(username="admin")
    assert user.is_superuser and user.check_password("a-demo-password-1")


@override_settings(DEMO_DATA_ALLOWED=False)
def test_seed_demo_is_refused_where_demo_data_is_not_allowed(django_user_model):
    with pytest.raises(CommandError, match="not allowed"):
        call_command("seed_demo", "--password", "a-demo-password-1", stdout=io.StringIO())
    assert not django_user_model.objects.filter(username="admin").exists()


def test_the_suite_runs_on_the_database_it_was_given():
    from django.db import connection

    url = os.environ.get("DATABASE_URL", "")
    assert connection.vendor == ("postgresql" if url.startswith("postgres") else "sqlite")


def test_seed_demo_creates_the_whole_demo_set(django_user_model):
    import datetime

    from django.utils import timezone

    from tracker.models import StatusUpdate

    out = io.StringIO()
    call_command("seed_demo", "--password", "a-demo-password-1", stdout=out)
    lines = out.getvalue().splitlines()
    accounts = [line.split() for line in lines if not line.startswith("period ")]
    officials = {agency for _, role, agency in accounts if role == "official"}
    assert len(officials) >= 6
    countries = {
        django_user_model.objects.get(username=u).profile.agency.country for u, r, _ in accounts if r == "official"
    }
    assert countries == {"MX", "KR"}
    secretariats = [u for u, role, _ in accounts if role == "secretariat"]
    assert {django_user_model.objects.get(username=u).profile.agency.country for u in secretariats} == {"MX", "KR"}
    due = timezone.localdate() + datetime.timedelta(days=14)
    assert any(line.startswith("period ") and line.endswith(f"due {due.isoformat()}") for line in lines)
    demo = StatusUpdate.objects.filter(is_demo=True)
    assert set(demo.values_list("review_state", flat=True)) == {"draft", "submitted", "accepted", "returned"}
    assert all(update.summary.startswith("[Demo]") for update in demo)
    # Running it again adds nothing.
    call_command("seed_demo", "--password", "a-demo-password-1", stdout=io.StringIO())
    assert StatusUpdate.objects.filter(is_demo=True).count() == demo.count()
