"""A whole reporting period as two officials live it by email, with the clock frozen and swept hour by hour:
one Mexican official (Spanish) and one Korean official (Korean), on the default daily digest."""

import datetime
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from tests.conftest import make_person
from tracker import reminders
from tracker.models import ReportingPeriod, SweepRun

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
MEXICO = ZoneInfo("America/Mexico_City")
DUE = datetime.date(2026, 11, 30)  # a Monday; 14 days before is Mexico's Revolution Day (Monday 16 November)
LATE_ES = "se envía con retraso"
LATE_KO = "늦게 발송되었습니다"


@pytest.fixture
def period(db):
    """Open since the start of the quarter, and the tracker running since then: nothing before the window is
    missed."""
    SweepRun.objects.create(started_at=datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC))
    return ReportingPeriod.objects.create(
        name="2026 Q4",
        start=datetime.date(2026, 10, 1),
        end=datetime.date(2026, 12, 31),
        due_date=DUE,
        opened_at=datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC),
    )


@pytest.fixture
def people(db):
    """Alice reports for the Secretary of Economy in Spanish, Charlie for Korea Customs Service in Korean; both on
    the default daily digest, in post long before the period."""
    alice = make_person("alice", "official", "se", language="es")
    charlie = make_person("charlie", "official", "kcs", language="ko")
    for user in (alice, charlie):
        user.date_joined = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        user.save()
        assert user.profile.email_preference == "digest"  # nobody chose it: the default
    return {"alice": alice, "charlie": charlie}


def sweep_hourly(start: datetime.datetime, end: datetime.datetime, *, skip=lambda moment: False) -> list:
    """Every hour from `start` to `end`, one sweep, as beat runs it (minus the hours `skip` says were missed)."""
    sent = []
    moment = start
    while moment < end:
        if not skip(moment):
            mail.outbox = []
            with time_machine.travel(moment, tick=False):  # the clock, as the sweep and the "sent" marks read it
                reminders.sweep(moment)
            sent += [(moment, message) for message in mail.outbox]
        moment += datetime.timedelta(hours=1)
    return sent


def by_local_day(sent, user, zone) -> dict:
    days = defaultdict(list)
    for moment, message in sent:
        if message.to == [user.email]:
            days[moment.astimezone(zone).date()].append(message)
    return dict(days)


WINDOW = (datetime.datetime(2026, 11, 10, tzinfo=datetime.UTC), datetime.datetime(2026, 12, 10, tzinfo=datetime.UTC))


def test_a_whole_period_is_one_email_a_day_at_most_in_each_officials_language(people, period):
    sent = sweep_hourly(*WINDOW)
    alice, charlie = by_local_day(sent, people["alice"], MEXICO), by_local_day(sent, people["charlie"], SEOUL)
    assert all(len(messages) == 1 for messages in (*alice.values(), *charlie.values()))
    day = datetime.date
    # The ladder: 14 and 3 days before, on the day, 1 and 7 days after; the Mexican official's first rung moved
    # off Revolution Day to the working day before (Friday 13), the Korean's stayed on Monday 16.
    assert sorted(alice) == [
        day(2026, 11, 13),
        day(2026, 11, 27),
        day(2026, 11, 30),
        day(2026, 12, 1),
        day(2026, 12, 7),
    ]
    assert sorted(charlie) == [
        day(2026, 11, 16),
        day(2026, 11, 27),
        day(2026, 11, 30),
        day(2026, 12, 1),
        day(2026, 12, 7),
    ]
    owed = len(alice[day(2026, 11, 13)][0].body.split("/updates/new/")) - 1
    assert owed > 40  # every initiative SE leads, in one email

    # The subject says what and when, in the recipient's language; the body how each item stands that day.
    subject = {when: messages[0].subject for when, messages in alice.items()}
    assert subject[day(2026, 11, 13)] == f"{owed} con vencimiento el 30 de noviembre"
    assert subject[day(2026, 11, 30)] == f"{owed} vencen hoy"
    assert subject[day(2026, 12, 1)] == f"{owed} actualizaciones vencidas"
    body = {when: messages[0].body for when, messages in alice.items()}
    assert "VENCE EN 17 DÍAS" in body[day(2026, 11, 13)]
    assert "VENCE EN 3 DÍAS" in body[day(2026, 11, 27)]
    assert "VENCE HOY" in body[day(2026, 11, 30)]
    assert "VENCIDA HACE 1 DÍA" in body[day(2026, 12, 1)]
    assert "VENCIDA HACE 7 DÍAS" in body[day(2026, 12, 7)]

    subject = {when: messages[0].subject for when, messages in charlie.items()}
    assert subject[day(2026, 11, 16)] == "11월 30일 마감 1건"
    assert subject[day(2026, 11, 30)] == "오늘 마감 1건"
    assert subject[day(2026, 12, 7)] == "기한 경과 현황 보고 1건"
    body = {when: messages[0].body for when, messages in charlie.items()}
    assert "마감 14일 전" in body[day(2026, 11, 16)] and "A-314" in body[day(2026, 11, 16)]
    assert "기한 7일 경과" in body[day(2026, 12, 7)]

    for messages in (*alice.values(), *charlie.values()):
        message = messages[0]
        text, html = message.body, message.alternatives[0][0]
        for part in (text, html):
            assert reverse("tracker:home") in part and reverse("tracker:worklist-sheet", args=["xlsx"]) in part
            assert LATE_ES not in part and LATE_KO not in part  # a fresh installation, no sweep missed
        assert "Dear" not in text and "due by the end of" not in text


def test_a_sweep_that_really_missed_a_day_still_apologises(people, period):
    def beat_down_on_the_27th(moment):  # from the first hour of the 27th in Seoul to the last in Mexico City
        return datetime.datetime(2026, 11, 27, tzinfo=SEOUL) <= moment < datetime.datetime(2026, 11, 28, tzinfo=MEXICO)

    sent = sweep_hourly(*WINDOW, skip=beat_down_on_the_27th)
    alice = by_local_day(sent, people["alice"], MEXICO)
    assert datetime.date(2026, 11, 27) not in alice
    late = alice[datetime.date(2026, 11, 28)][0]
    assert LATE_ES in late.body and "VENCE EN 2 DÍAS" in late.body  # how it stands when it finally arrives
    assert all(LATE_ES not in messages[0].body for day, messages in alice.items() if day != datetime.date(2026, 11, 28))


def test_reminders_planned_before_the_period_opened_are_on_time_at_the_first_sweep(people):
    SweepRun.objects.create(started_at=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC))  # running for weeks
    opened = datetime.datetime(2026, 11, 20, 21, 0, tzinfo=datetime.UTC)
    with time_machine.travel(opened, tick=False):
        ReportingPeriod.objects.create(
            name="2026 Q4", start=datetime.date(2026, 10, 1), end=datetime.date(2026, 12, 31), due_date=DUE
        )
    sent = sweep_hourly(opened, opened + datetime.timedelta(hours=2))
    (first,) = [message for _moment, message in sent if message.to == [people["charlie"].email]]
    # The 14-day rung, planned before the period opened, and how it stands that day (Saturday 21 in Seoul).
    assert "마감 9일 전" in first.body and LATE_KO not in first.body


def test_a_second_digest_the_same_day_waits_for_the_next_working_day(people, period):
    alice = people["alice"]
    morning = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=MEXICO)  # a Friday: the 3-day rung
    sweep_hourly(morning, morning + datetime.timedelta(hours=1))
    # At three in the afternoon the secretariat opens a second period, whose 14-day rung is today.
    with time_machine.travel(morning + datetime.timedelta(hours=6), tick=False):
        ReportingPeriod.objects.create(
            name="2027 Q1", start=datetime.date(2027, 1, 1), end=datetime.date(2027, 3, 31),
            due_date=datetime.date(2026, 12, 11),
        )  # fmt: skip
    sent = sweep_hourly(morning + datetime.timedelta(hours=6), datetime.datetime(2026, 12, 1, tzinfo=MEXICO))
    days = by_local_day(sent, alice, MEXICO)
    assert sorted(days) == [datetime.date(2026, 11, 30)]  # not the same afternoon, not on the weekend
    (monday,) = days[datetime.date(2026, 11, 30)]
    assert "2026 Q4" in monday.body and "2027 Q1" in monday.body  # both periods in Monday's one email
    assert "VENCE HOY" in monday.body and "VENCE EN 11 DÍAS" in monday.body
    assert LATE_ES not in monday.body


def test_one_email_per_item_stays_a_choice(people, period):
    charlie = people["charlie"]
    charlie.profile.email_preference = "each"
    charlie.profile.save()
    sent = sweep_hourly(datetime.datetime(2026, 11, 16, tzinfo=SEOUL), datetime.datetime(2026, 11, 17, tzinfo=SEOUL))
    (message,) = [m for _moment, m in sent if m.to == [charlie.email]]
    assert message.extra_headers["X-Tracker-Reminder"].startswith("upcoming-14:")


def test_a_secretariat_member_gets_one_escalation_email_naming_every_late_agency(period, people):
    sec_kr = make_person("sec_kr", "secretariat", "mofat", language="en")  # on the default digest
    sec_kr.date_joined = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    sec_kr.save()
    sent = sweep_hourly(datetime.datetime(2026, 12, 7, tzinfo=SEOUL), datetime.datetime(2026, 12, 8, tzinfo=SEOUL))
    escalations = [
        m for _moment, m in sent if m.to == [sec_kr.email] and "escalation" in m.extra_headers["X-Tracker-Reminder"]
    ]
    (message,) = escalations  # seven days after the due date: one email, not one per late agency
    late = [line for line in message.body.splitlines() if line.isupper() and not line.startswith("*")]
    assert len(late) > 3 and "KOREA CUSTOMS SERVICE" in late
    assert message.subject.startswith(f"{len(late)} agencies are late with ")
    kcs = message.body.split("KOREA CUSTOMS SERVICE")[1]
    assert "despite the reminders sent to its officials" in kcs.split("\n\n")[0]
