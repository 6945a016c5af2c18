"""Sign-in security as an attacker and as a user would meet it: lockouts, sessions, two-factor sign-in, headers.

The rules are in tracker/security.py and the "Security" block of tracker/settings.py.
"""

import datetime
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER, OFFICE = "203.0.113.7", "198.51.100.20"


def sign_in(client, username, password, address=OFFICE):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return client.get(reverse("tracker:home")).status_code == 200


# --- Guessing passwords --------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_that_account_from_that_address_for_a_while(personas):
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(attacker, "alice", "guess-123456789", ATTACKER)
        assert response.status_code == 200 and "Please enter a correct" in response.content.decode()
    locked = sign_in(attacker, "alice", "guess-123456789", ATTACKER)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "Try again in 15 minutes." in locked.content.decode()
    # Even the right password is refused from there while the lock lasts...
    assert sign_in(attacker, "alice", PASSWORD, ATTACKER).status_code == 429
    # ...but alice, at her own desk, signs in: an attacker cannot lock a ministry out.
    office = Client()
    assert sign_in(office, "alice", PASSWORD, OFFICE).status_code == 302 and signed_in(office)
    # And the lock ends by itself.
    with time_machine.travel(datetime.timedelta(minutes=16)):
        later = Client()
        assert sign_in(later, "alice", PASSWORD, ATTACKER).status_code == 302 and signed_in(later)


def test_sign_ins_sign_outs_and_failures_are_recorded(personas, caplog):
    from axes.models import AccessFailureLog, AccessLog

    caplog.set_level(logging.INFO, logger="tracker.security")
    client = Client()
    sign_in(client, "alice", "not-her-password-1", ATTACKER)
    sign_in(client, "alice", PASSWORD, OFFICE)
    client.post(reverse("logout"), REMOTE_ADDR=OFFICE)

    failure = AccessFailureLog.objects.get()
    assert failure.username == "alice" and failure.ip_address == ATTACKER
    entry = AccessLog.objects.get(username="alice")
    assert entry.ip_address == OFFICE and entry.logout_time is not None
    lines = [record.getMessage() for record in caplog.records]
    assert f"failed login user=alice address={ATTACKER}" in lines
    assert f"login user=alice address={OFFICE}" in lines
    assert f"logout user=alice address={OFFICE}" in lines
    assert not any("not-her-password-1" in line for line in lines)


def test_behind_a_trusted_proxy_the_address_is_the_one_the_proxy_saw(personas, settings):
    from tracker.security import client_address

    settings.TRUSTED_PROXIES = 1

    class Request:
        META = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, " + ATTACKER}

    # The client wrote "1.2.3.4" itself; the proxy appended the address it received the request from.
    assert client_address(Request) == ATTACKER
    settings.TRUSTED_PROXIES = 0
    assert client_address(Request) == "10.0.0.2"


def test_a_password_must_be_long_and_not_a_common_one(client, personas):
    client.force_login(personas.alice)
    for weak in ("short-pw1", "password1234"):
        response = client.post(
            reverse("password_change"),
            {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 200
        errors = " ".join(response.context["form"].errors["new_password2"])
        assert "at least 12 characters" in errors or "too common" in errors
    personas.alice.refresh_from_db()
    assert personas.alice.check_password(PASSWORD)


# --- Sessions ---------------------------------------------------------------------------------------------------


def test_an_idle_session_ends_and_says_so(personas):
    client = Client()
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC), tick=False) as clock:
        sign_in(client, "alice", PASSWORD)
        assert signed_in(client)
        clock.shift(datetime.timedelta(minutes=settings.SESSION_IDLE_MINUTES - 5))
        assert signed_in(client)  # activity keeps it alive
        clock.shift(datetime.timedelta(minutes=settings.SESSION_IDLE_MINUTES + 1))
        response = client.get(reverse("tracker:initiative-list"))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={reverse('tracker:initiative-list')}"
        page = client.get(response["Location"]).content.decode()
        assert "Your session has ended. Please log in again." in page


def test_a_session_ends_after_its_maximum_age_even_while_in_use(personas):
    client = Client()
    with time_machine.travel(datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.UTC), tick=False) as clock:
        sign_in(client, "alice", PASSWORD)
        for _ in range(settings.SESSION_MAX_HOURS * 2 + 2):
            clock.shift(datetime.timedelta(minutes=30))
            if not signed_in(client):
                break
        elapsed = time.time() - datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.UTC).timestamp()
    assert not signed_in(client)
    assert elapsed <= settings.SESSION_MAX_HOURS * 3600 + 1800


def test_a_deactivated_accounts_sessions_end_at_once(personas):
    client = Client()
    sign_in(client, "alice", PASSWORD)
    assert signed_in(client)
    personas.alice.is_active = False
    personas.alice.save()
    assert not signed_in(client)
    assert sign_in(Client(), "alice", PASSWORD).status_code == 200  # and it cannot sign in again


def test_a_form_replayed_after_logging_out_is_refused_with_a_clear_page(personas):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    token = page.cookies["csrftoken"].value
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token})
    form = client.get(reverse("tracker:preferences"))
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())[1]
    client.post(reverse("logout"), {"csrfmiddlewaretoken": form_token})
    replay = client.post(
        reverse("tracker:preferences"),
        {"language": "ko", "time_zone": "Asia/Seoul", "email_preference": "each", "csrfmiddlewaretoken": form_token},
    )
    assert replay.status_code in (302, 403)  # sent to sign in, or refused with the expired-form page
    if replay.status_code == 403:
        assert "This form has expired" in replay.content.decode()
    personas.alice.profile.refresh_from_db()
    assert personas.alice.profile.language == "en"


# --- Two-factor sign-in -----------------------------------------------------------------------------------------


def current_code(device) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_a_secretariat_member_must_set_up_two_factor_sign_in_when_production_requires_it(personas, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC), tick=False) as clock:
        settings.TWO_FACTOR_REQUIRED = True
        client = Client()
        sign_in(client, "sec_mx", PASSWORD)
        response = client.get(reverse("tracker:review"))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('two-factor')}?next={reverse('tracker:review')}"
        setup = client.get(response["Location"]).content.decode()
        assert 'src="data:image/svg+xml' in setup  # the QR code, with no request to any other site
        device = TOTPDevice.objects.get(user=personas.sec_mx, confirmed=False)
        wrong = client.post(reverse("two-factor"), {"code": "000000", "next": reverse("tracker:review")})
        assert "That code is not right" in wrong.content.decode()
        assert not TOTPDevice.objects.filter(user=personas.sec_mx, confirmed=True).exists()
        # Each wrong code makes the next try wait longer (a guesser gets nowhere); a person retyping hardly notices.
        hurried = client.post(reverse("two-factor"), {"code": current_code(device), "next": reverse("tracker:review")})
        assert "Wait a few seconds" in hurried.content.decode()
        clock.shift(3)
        done = client.post(reverse("two-factor"), {"code": current_code(device), "next": reverse("tracker:review")})
        assert done.status_code == 302 and done["Location"] == reverse("tracker:review")
        assert client.get(reverse("tracker:review")).status_code == 200

        # The next sign-in asks for a code after the password, before any page.
        clock.shift(31)  # a code is good once: the next one
        later = Client()
        sign_in(later, "sec_mx", PASSWORD)
        gate = later.get(reverse("tracker:home"))
        assert gate.status_code == 302 and gate["Location"].startswith(reverse("two-factor-verify"))
        assert later.get(reverse("admin:index")).status_code == 302  # the admin is behind it too
        refused = later.post(reverse("two-factor-verify"), {"code": "123456", "next": "/"})
        assert "That code is not right" in refused.content.decode()
        clock.shift(3)
        device.refresh_from_db()
        passed = later.post(reverse("two-factor-verify"), {"code": current_code(device), "next": "/"})
        assert passed.status_code == 302 and signed_in(later)
        # A secretariat member cannot turn it off while it is required.
        assert "cannot be turned off" in later.get(reverse("two-factor")).content.decode()


def test_an_official_may_turn_two_factor_sign_in_on_and_off(personas, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.TWO_FACTOR_REQUIRED = True
    client = Client()
    sign_in(client, "alice", PASSWORD)
    assert signed_in(client)  # not required of an official
    client.get(reverse("two-factor"))
    device = TOTPDevice.objects.get(user=personas.alice)
    client.post(reverse("two-factor"), {"code": current_code(device)})
    assert "On: after your password" in client.get(reverse("tracker:preferences")).content.decode()
    with time_machine.travel(datetime.timedelta(seconds=31)):
        client.post(reverse("two-factor"), {"code": current_code(device)})
    assert not TOTPDevice.objects.filter(user=personas.alice).exists()
    assert "Off: your password alone" in client.get(reverse("tracker:preferences")).content.decode()


def test_the_demo_run_waives_two_factor_sign_in_and_says_so(personas, settings):
    settings.TWO_FACTOR_REQUIRED = False
    client = Client()
    sign_in(client, "sec_kr", PASSWORD)
    assert signed_in(client)
    assert "the demo run waives it" in client.get(reverse("two-factor")).content.decode()


# --- Headers and the deployment check ----------------------------------------------------------------------------


def test_every_page_carries_a_content_security_policy_without_inline_code(client, personas):
    client.force_login(personas.sec_mx)
    for path in (reverse("tracker:home"), reverse("tracker:public"), reverse("admin:index")):
        response = client.get(path)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
    # No template served to a browser holds inline script, event handlers or style attributes.
    templates = Path(settings.BASE_DIR) / "templates"
    offending = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if not path.is_relative_to(templates / "emails")  # emails are not pages; mail clients need inline style
        and path.name != "progress_report_pdf.html"  # rendered by WeasyPrint, never served as a page
        and re.search(r"<script(?![^>]*\bsrc=)|\son[a-z]+=|\sstyle=", path.read_text())
    ]
    assert not offending, offending


@pytest.mark.once
def test_the_production_settings_pass_djangos_deployment_checks():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "a-production-like-secret-key-" + "x7Qp2" * 10,
        "ALLOWED_HOSTS": "tracker.example.org",
    }
    # What the test process may carry that a deployment does not (the browser tests set the last one).
    for name in ("HTTPS", "TWO_FACTOR_REQUIRED", "SECURE_HSTS_SECONDS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    without_key = {**env, "SECRET_KEY": ""}
    refused = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=without_key, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr


def test_a_database_that_does_not_answer_gets_a_clear_503_page_not_an_error_page(client, personas, monkeypatch):
    from django.db import OperationalError

    from tracker.views import initiatives as views

    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: server closed the connection")

    monkeypatch.setattr(views, "with_sides", unreachable)
    client.force_login(personas.alice)
    client.raise_request_exception = False
    response = client.get(reverse("tracker:initiative-list"))
    assert response.status_code == 503 and response["Retry-After"] == "10"
    page = response.content.decode()
    assert "The tracker is briefly unavailable" in page and "send the form again" in page
    assert "OperationalError" not in page and "127.0.0.1" not in page
