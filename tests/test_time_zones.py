"""Mexico City and Seoul, fifteen hours apart, around the same due date.

A due date is a calendar date that ends at midnight in the reporting agency's country: Seoul's 11 December ends
at 15:00 UTC, Mexico City's at 06:00 UTC on the 12th. Every moment is stored in UTC and shown in the viewer's
zone, with the zone named. The clock is frozen at chosen moments (time-machine).
"""

import datetime

import pytest
import time_machine
from django.urls import reverse

from tracker.models import Initiative, ReportingPeriod, StatusUpdate

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
DUE = datetime.date(2026, 12, 11)
SEOUL_DAY_ENDED = datetime.datetime(
    2026, 12, 11, 16, 0, tzinfo=UTC
)  # 01:00 on the 12th in Seoul, 10:00 on the 11th in Mexico City
MEXICO_DAY_ENDED = datetime.datetime(2026, 12, 12, 6, 30, tzinfo=UTC)  # 00:30 on the 12th in Mexico City


@pytest.fixture
def q4(period):
    """The open period, due on 11 December whatever day the tests run."""
    ReportingPeriod.objects.filter(pk=period.pk).update(
        start=datetime.date(2026, 10, 1), end=datetime.date(2026, 12, 31), due_date=DUE
    )
    period.refresh_from_db()
    return period


def overdue_codes(country):
    return set(Initiative.objects.overdue(country).values_list("code", flat=True))


def listed(client, **query) -> set[str]:
    """The codes on the initiative list's page for these filters."""
    table = client.get(reverse("tracker:initiative-list"), query).context["table"]
    return {row.record.code for row in table.paginated_rows}


def test_the_same_due_date_ends_first_in_seoul_then_in_mexico_city(client, personas, q4):
    with time_machine.travel(datetime.datetime(2026, 12, 11, 14, 59, tzinfo=UTC)):  # 23:59 in Seoul
        assert "A-314" not in overdue_codes("KR")
    with time_machine.travel(SEOUL_DAY_ENDED):
        assert "A-314" in overdue_codes("KR")  # KCS's update is late in Seoul
        assert "A-318" not in overdue_codes("MX")  # while SE still has the rest of its day
        client.force_login(personas.charlie)
        assert "A-314" in listed(client, overdue="true", q="A-314")
        client.force_login(personas.alice)
        home = client.get(reverse("tracker:home")).content.decode()
        assert "updates are due by the end of <strong>Dec. 11, 2026</strong> in Mexico." in home
        assert "A-318" not in listed(client, overdue="true", country="MX", q="A-318")
        assert "A-318" in listed(client, overdue="false", country="MX", q="A-318")
    with time_machine.travel(MEXICO_DAY_ENDED):
        assert "A-318" in overdue_codes("MX")
        client.force_login(personas.alice)  # a new sign-in: the earlier session has been idle for 14 hours
        assert "A-318" in listed(client, overdue="true", country="MX", q="A-318")


def test_an_update_sent_before_midnight_in_its_country_is_on_time_though_already_the_next_day_elsewhere(
    personas, q4, make_update
):
    from tracker import reports

    # 23:30 on the 11th in Mexico City is 05:30 on the 12th in UTC and 14:30 on the 12th in Seoul.
    with time_machine.travel(datetime.datetime(2026, 12, 12, 5, 30, tzinfo=UTC)):
        make_update(personas.alice, "A-318", period=q4)
    with time_machine.travel(MEXICO_DAY_ENDED):
        snapshot = reports.build_snapshot(q4)
        assert "A-318" not in overdue_codes("MX")
    se = next(entry for entry in snapshot["compliance"] if entry["agency"] == "Secretary of Economy")
    assert se["submitted"] == 1 and se["on_time"] == 1


def test_one_moment_reads_in_each_viewers_zone_with_the_zone_named(client, personas, q4, make_update):
    # Submitted at 14:30 UTC on the 11th: 08:30 that morning in Mexico City, 23:30 that night in Seoul.
    with time_machine.travel(datetime.datetime(2026, 12, 11, 14, 30, tzinfo=UTC)):
        update = make_update(personas.alice, "A-318", period=q4)
    assert StatusUpdate.objects.get(pk=update.pk).submitted_at == datetime.datetime(2026, 12, 11, 14, 30, tzinfo=UTC)
    page = reverse("tracker:update-detail", args=[update.pk])

    client.force_login(personas.sec_mx)
    assert "Dec. 11, 2026, 8:30 a.m. CST" in client.get(page).content.decode()
    client.force_login(personas.sec_kr)
    assert "Dec. 11, 2026, 11:30 p.m. KST" in client.get(page).content.decode()
    personas.sec_kr.profile.language = "ko"
    personas.sec_kr.profile.save()
    assert "2026년 12월 11일 11:30 오후 KST" in client.get(page).content.decode()
