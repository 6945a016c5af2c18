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


def test_a_due_date_on_a_public_holiday_warns_the_secretariat(client, personas):
    client.force_login(personas.sec_mx)
    response = client.post(
        reverse("tracker:period-create"),
        {"name": "2026 Q4 (late)", "start": "2026-10-01", "end": "2026-12-31", "due_date": "2026-12-25"},
        follow=True,
    )
    page = response.content.decode()
    assert "Reporting period 2026 Q4 (late) saved." in page
    assert "is a public holiday in Mexico (Christmas Day)" in page  # named in the reader's language
    assert "is a public holiday in Korea (Christmas Day)" in page
    assert "sent on the working day before" in page
    quiet = client.post(
        reverse("tracker:period-create"),
        {"name": "2027 Q1", "start": "2027-01-01", "end": "2027-03-31", "due_date": "2027-04-15"},
        follow=True,
    )
    assert "public holiday" not in quiet.content.decode()  # a Thursday, no holiday on either side


def test_a_new_account_reads_its_browsers_language_and_the_first_sign_in_records_it(client, personas):
    from tests.conftest import PASSWORD, make_person

    dora = make_person("dora", "official", "kcs")  # a new account: no language chosen yet
    assert dora.profile.language == ""
    login = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5")
    assert '<html lang="ko">' in login.content.decode()
    response = client.post(
        reverse("login"), {"username": "dora", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9", follow=True
    )
    assert '<html lang="ko">' in response.content.decode()  # after signing in too
    dora.profile.refresh_from_db()
    assert dora.profile.language == "ko"  # recorded, so the emails are in Korean from now on
    # Chosen now: a browser in another language does not change it.
    page = client.get(reverse("tracker:home"), HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="ko">' in page.content.decode()


def test_until_someone_signs_in_their_emails_are_in_their_countrys_language(personas):
    from tests.conftest import make_person

    assert make_person("eva", "official", "kcs").profile.email_language == "ko"
    assert make_person("fer", "official", "se").profile.email_language == "es"
    assert make_person("gil", "official", "se", language="en").profile.email_language == "en"
