"""The secretariat runs the reporting cycle in the browser; everyone sets their own preferences."""

import datetime

import pytest
from django.urls import reverse

from tracker.models import ReportingPeriod

pytestmark = pytest.mark.django_db


def test_the_secretariat_opens_a_period_and_closes_it(client, personas):
    client.force_login(personas.sec_kr)
    response = client.post(
        reverse("tracker:period-create"),
        {"name": "2027 Q1", "start": "2027-01-01", "end": "2027-03-31", "due_date": "2027-04-15"},
        follow=True,
    )
    assert "Reporting period 2027 Q1 saved." in response.content.decode()
    period = ReportingPeriod.objects.get(name="2027 Q1")
    assert period.state == "open" and period.due_date == datetime.date(2027, 4, 15)

    response = client.post(reverse("tracker:period-state", args=[period.pk]), {"state": "closed"}, follow=True)
    assert "no more reminders for it" in response.content.decode()
    period.refresh_from_db()
    assert period.state == "closed"
    assert period.history.count() == 2  # created, then closed: both in the audit history


def test_impossible_dates_are_refused_with_a_clear_message(client, personas):
    client.force_login(personas.sec_mx)
    response = client.post(
        reverse("tracker:period-create"),
        {"name": "Backwards", "start": "2027-03-31", "end": "2027-01-01", "due_date": "2026-12-01"},
    )
    page = response.content.decode()
    assert "The period cannot end before it starts." in page
    assert "The due date cannot come before the period starts." in page
    assert 'value="Backwards"' in page  # what was typed is kept
    assert not ReportingPeriod.objects.filter(name="Backwards").exists()


def test_a_duplicate_period_name_is_refused(client, personas, period):
    client.force_login(personas.sec_mx)
    response = client.post(
        reverse("tracker:period-create"),
        {"name": period.name, "start": "2027-01-01", "end": "2027-03-31", "due_date": "2027-04-15"},
    )
    assert "Reporting period with this Name already exists." in response.content.decode()


def test_officials_cannot_manage_periods(client, personas, period):
    client.force_login(personas.alice)
    assert client.get(reverse("tracker:periods")).status_code == 403
    response = client.post(reverse("tracker:period-state", args=[period.pk]), {"state": "closed"})
    assert response.status_code == 403
    period.refresh_from_db()
    assert period.state == "open"


def test_an_official_chooses_a_daily_digest_language_and_zone(client, personas):
    client.force_login(personas.charlie)
    response = client.post(
        reverse("tracker:preferences"),
        {"language": "ko", "time_zone": "Asia/Seoul", "email_preference": "digest"},
        follow=True,
    )
    assert response.status_code == 200
    profile = personas.charlie.profile
    profile.refresh_from_db()
    assert (profile.language, str(profile.time_zone), profile.email_preference) == ("ko", "Asia/Seoul", "digest")
    assert client.cookies["django_language"].value == "ko"  # the pages switch to Korean too


def test_an_unknown_time_zone_is_refused(client, personas):
    client.force_login(personas.charlie)
    response = client.post(
        reverse("tracker:preferences"), {"language": "en", "time_zone": "Mars/Olympus", "email_preference": "each"}
    )
    assert "Select a valid choice" in response.content.decode()
    personas.charlie.profile.refresh_from_db()
    assert str(personas.charlie.profile.time_zone) == "Asia/Seoul"
