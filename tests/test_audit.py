"""Every write leaves exactly one audit record: who, when, what changed — and nothing on what it did not touch.

The writes are made as their users make them (the pages and the admin), so that the audit records carry the
person who acted (django-simple-history's HistoryRequestMiddleware). Derived rows (an initiative's current
status, reminders) are not audited: they are rebuilt from the audited ones.
"""

from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.test_admin import _change_form_data, _change_url
from tracker.models import (
    Agency,
    Evidence,
    Initiative,
    Ownership,
    Profile,
    ProgressReport,
    ReportingPeriod,
    StatusUpdate,
)

pytestmark = pytest.mark.django_db

AUDITED = [Initiative, Ownership, StatusUpdate, Evidence, ReportingPeriod, ProgressReport, Profile, get_user_model()]


def counts() -> dict:
    return {model: model.history.count() for model in AUDITED}


@contextmanager
def exactly_one_record(model, user, *changed_fields):
    """The block writes one audit record on `model`, by `user`, naming `changed_fields`; none on the others."""
    before = counts()
    yield
    after = counts()
    grown = {m.__name__: after[m] - before[m] for m in AUDITED if after[m] != before[m]}
    assert grown == {model.__name__: 1}, f"audit records written: {grown}"
    record = model.history.order_by("-history_id").first()
    assert record.history_user == user
    assert record.history_date is not None
    if changed_fields:
        previous = record.prev_record
        assert previous is not None
        assert set(changed_fields) <= set(record.diff_against(previous).changed_fields)


def test_an_update_from_draft_to_accepted_leaves_one_record_per_step(client, personas, period):
    alice, sec_mx = personas.alice, personas.sec_mx
    client.force_login(alice)
    form = {"status": "on_track", "progress": "40", "summary": "Talks held.", "next_steps": "", "blockers": ""}
    with exactly_one_record(StatusUpdate, alice):
        client.post(reverse("tracker:update-create", args=["A-318"]), form)
    update = StatusUpdate.objects.get(initiative__code="A-318")
    with exactly_one_record(StatusUpdate, alice, "progress", "review_state"):
        client.post(reverse("tracker:update-edit", args=[update.pk]), {**form, "progress": "45", "submit": "1"})
    client.force_login(sec_mx)
    with exactly_one_record(StatusUpdate, sec_mx, "review_state", "reviewed_by"):
        client.post(reverse("tracker:review-update", args=[update.pk]), {"decision": "accept", "comment": "Fine."})


def test_a_return_is_one_record_by_the_reviewer(client, personas, period, make_update):
    update = make_update(personas.alice, "A-318")
    client.force_login(personas.sec_mx)
    with exactly_one_record(StatusUpdate, personas.sec_mx, "review_state", "review_comment"):
        client.post(
            reverse("tracker:review-update", args=[update.pk]), {"decision": "return", "comment": "Add figures."}
        )


def test_periods_and_progress_reports(client, personas, period):
    sec_mx = personas.sec_mx
    client.force_login(sec_mx)
    with exactly_one_record(ReportingPeriod, sec_mx):
        client.post(
            reverse("tracker:period-create"),
            {"name": "2027 Q1", "start": "2027-01-01", "end": "2027-03-31", "due_date": "2027-04-15"},
        )
    with exactly_one_record(ReportingPeriod, sec_mx, "state"):
        client.post(reverse("tracker:period-state", args=[period.pk]), {"state": "closed"})
    with exactly_one_record(ProgressReport, sec_mx):
        client.post(reverse("tracker:reports"), {"period": period.pk, "title": "For the ministers"})
    report = ProgressReport.objects.get()
    with exactly_one_record(ProgressReport, sec_mx, "state", "frozen_at", "frozen_by"):
        client.post(reverse("tracker:progress-report-state", args=[report.pk]), {"action": "freeze"})
    with exactly_one_record(ProgressReport, sec_mx, "state", "published_at"):
        client.post(reverse("tracker:progress-report-state", args=[report.pk]), {"action": "publish"})


def test_the_admin_edits_an_initiative_and_its_owners_each_once(client, personas):
    boss = personas.admin
    client.force_login(boss)
    initiative = Initiative.objects.get(code="SI-06")
    with exactly_one_record(Initiative, boss, "title"):
        client.post(_change_url(initiative), _change_form_data(initiative, title="Open a direct air route"))
    initiative.refresh_from_db()
    data = _change_form_data(initiative)
    extra = Agency.objects.filter(country="KR").exclude(ownerships__initiative=initiative).first()
    index = int(data["ownerships-TOTAL_FORMS"])
    data.update(
        {
            "ownerships-TOTAL_FORMS": str(index + 1),
            f"ownerships-{index}-initiative": initiative.pk,
            f"ownerships-{index}-agency": extra.pk,
            f"ownerships-{index}-role": "supporting",
            f"ownerships-{index}-source": "manual",
        }
    )
    with exactly_one_record(Ownership, boss):  # the initiative itself did not change: no record for it
        assert client.post(_change_url(initiative), data).status_code == 302


def test_accounts_and_preferences(client, personas):
    boss, alice = personas.admin, personas.alice
    client.force_login(alice)
    with exactly_one_record(Profile, alice, "language"):
        client.post(
            reverse("tracker:preferences"),
            {"language": "es", "time_zone": "America/Mexico_City", "email_preference": "each"},
        )
    client.force_login(boss)
    charlie = personas.charlie
    with exactly_one_record(get_user_model(), boss, "is_active"):
        charlie.is_active = False
        charlie._history_user = boss
        charlie.save()
