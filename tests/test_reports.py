"""What a progress report says about reporting compliance and what is overdue."""

import datetime

import pytest
import time_machine

from tracker import reports
from tracker.models import ReportingPeriod

pytestmark = pytest.mark.django_db


@pytest.fixture
def due_period(db):
    return ReportingPeriod.objects.create(
        name="2026 Q3",
        start=datetime.date(2026, 7, 1),
        end=datetime.date(2026, 9, 30),
        due_date=datetime.date(2026, 10, 15),
    )


def compliance_of(snapshot, agency_name):
    return next(entry for entry in snapshot["compliance"] if entry["agency"] == agency_name)


def test_a_first_submission_on_time_counts_even_if_returned_and_resubmitted_late(personas, due_period, make_update):
    with time_machine.travel(datetime.datetime(2026, 10, 14, 12, tzinfo=datetime.UTC)):
        update = make_update(personas.charlie, "A-314", period=due_period, state="returned", reviewer=personas.sec_kr)
    with time_machine.travel(datetime.datetime(2026, 10, 20, 12, tzinfo=datetime.UTC)):
        snapshot = reports.build_snapshot(due_period)
        kcs = compliance_of(snapshot, "Korea Customs Service")
        assert (kcs["due"], kcs["submitted"], kcs["on_time"]) == (1, 1, 1)
        # Returned, it is owed again: overdue until it is resubmitted.
        assert any(item["code"] == "A-314" and item["country"] == "KR" for item in snapshot["overdue"])
        from tracker import actions

        actions.save_update(update, submit=True, user=personas.charlie)
        snapshot = reports.build_snapshot(due_period)
        assert compliance_of(snapshot, "Korea Customs Service")["on_time"] == 1
        assert not any(item["code"] == "A-314" and item["country"] == "KR" for item in snapshot["overdue"])


def test_due_dates_end_at_midnight_in_the_agencys_country(personas, due_period, make_update):
    # 15 October, 23:30 in Seoul is 14:30 UTC: KCS submits in time. One hour later it would be late in Seoul.
    with time_machine.travel(datetime.datetime(2026, 10, 15, 14, 30, tzinfo=datetime.UTC)):
        make_update(personas.charlie, "A-314", period=due_period)
    with time_machine.travel(datetime.datetime(2026, 10, 16, 14, 30, tzinfo=datetime.UTC)):
        make_update(personas.alice, "A-318", period=due_period)  # 08:30 in Mexico City on the 16th: late
        snapshot = reports.build_snapshot(due_period)
    assert compliance_of(snapshot, "Korea Customs Service")["on_time"] == 1
    se = compliance_of(snapshot, "Secretary of Economy")
    assert se["submitted"] == 1 and se["on_time"] == 0
