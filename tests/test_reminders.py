"""Who gets which reminder when, in which zone and language — with the clock frozen."""

import datetime
import email.policy
import re
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command

from tests.conftest import make_person
from tracker import reminders
from tracker.models import Initiative, Reminder, ReminderRule, ReportingPeriod, StatusUpdate, SweepRun

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
MEXICO = ZoneInfo("America/Mexico_City")
DUE = datetime.date(2026, 12, 11)  # a Friday


@pytest.fixture
def period(db):
    return ReportingPeriod.objects.create(
        name="2026 Q4", start=datetime.date(2026, 10, 1), end=datetime.date(2026, 12, 31), due_date=DUE
    )


@pytest.fixture
def people(db):
    """Officials of the Secretary of Economy (Mexico City) and Korea Customs Service (Seoul), and both
    secretariats; created long before the period so that every rung of the ladder applies to them. All chose one
    email per item, so that each rung (and each late agency) is its own email here (the default daily digest,
    which gathers them: tests/test_digest.py)."""
    joined = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    users = {
        "alice": make_person("alice", "official", "se", language="es", email_preference="each"),
        "charlie": make_person("charlie", "official", "kcs", language="ko", email_preference="each"),
        "sec_mx": make_person("sec_mx", "secretariat", "sre", language="en", email_preference="each"),
        "sec_kr": make_person("sec_kr", "secretariat", "mofat", language="en", email_preference="each"),
    }
    for user in users.values():
        user.date_joined = joined
        user.save()
    return users


def sweep(at: datetime.datetime):
    mail.outbox = []
    return reminders.sweep(at)


def to(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def kinds_for(user):
    return sorted(m.extra_headers["X-Tracker-Reminder"].split(":")[0] for m in to(user))


def test_the_ladder_arrives_in_the_morning_in_each_recipients_zone(people, period):
    charlie = people["charlie"]  # KCS leads only A-314
    # 14 days before, 8:59 in Seoul: not yet. 9:00 in Seoul: the first reminder.
    sweep(datetime.datetime(2026, 11, 27, 8, 59, tzinfo=SEOUL))
    assert to(charlie) == []
    sweep(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL))
    assert kinds_for(charlie) == ["upcoming-14"]
    message = to(charlie)[0]
    assert "A-314" in message.subject
    # The same moment is still the previous evening in Mexico City: nothing for alice yet.
    assert to(people["alice"]) == []
    sweep(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=MEXICO))
    assert (
        kinds_for(people["alice"])
        == ["upcoming-14"] * Initiative.objects.led_by(people["alice"].profile.agency).count()
    )


def test_each_rung_is_sent_once_however_many_sweeps_run(people, period):
    moment = datetime.datetime(2026, 12, 8, 9, 30, tzinfo=SEOUL)  # three days before, 9:30 in Seoul
    sweep(moment)
    first = kinds_for(people["charlie"])
    assert first == ["upcoming-14", "upcoming-3"]  # the -14 one is late: it was never sent
    late = next(m for m in to(people["charlie"]) if "upcoming-14" in m.extra_headers["X-Tracker-Reminder"])
    assert "늦게 발송되었습니다" in late.body  # charlie reads Korean: "is sent late"
    on_time = next(m for m in to(people["charlie"]) if "upcoming-3" in m.extra_headers["X-Tracker-Reminder"])
    assert "늦게 발송되었습니다" not in on_time.body
    sweep(moment + datetime.timedelta(minutes=5))
    sweep(moment + datetime.timedelta(minutes=10))
    assert to(people["charlie"]) == []
    assert Reminder.objects.filter(recipient=people["charlie"]).count() == 2


def test_due_day_overdue_and_escalation(people, period):
    charlie, sec_kr, sec_mx = people["charlie"], people["sec_kr"], people["sec_mx"]
    sweep(datetime.datetime(2026, 12, 11, 9, 0, tzinfo=SEOUL))
    assert "due+0" in kinds_for(charlie)
    # A day after the Friday due date is a Saturday: the overdue reminder waits for Monday, the next working day
    # (never the Friday before, when nothing is overdue yet).
    sweep(datetime.datetime(2026, 12, 12, 9, 0, tzinfo=SEOUL))
    assert kinds_for(charlie) == []
    sweep(datetime.datetime(2026, 12, 14, 9, 0, tzinfo=SEOUL))
    assert kinds_for(charlie) == ["overdue+1"]
    sweep(datetime.datetime(2026, 12, 18, 9, 0, tzinfo=SEOUL))
    assert kinds_for(charlie) == ["overdue+7"]
    escalations = [m for m in to(sec_kr) if m.extra_headers["X-Tracker-Reminder"].startswith("escalation")]
    about_kcs = [m for m in escalations if "Korea Customs Service" in m.subject]
    assert len(about_kcs) == 1  # one email per late agency, listing its late updates
    assert "A-314" in about_kcs[0].body and "1 update" in about_kcs[0].subject
    # The Mexican secretariat hears about Mexican agencies, not about KCS.
    assert not any("Korea Customs Service" in m.subject for m in to(sec_mx))


def test_a_submitted_update_stops_every_later_reminder(people, period, make_update):
    charlie = people["charlie"]
    sweep(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL))
    assert kinds_for(charlie) == ["upcoming-14"]
    make_update(charlie, "A-314", period=period)
    for day in (8, 11, 12, 18, 25):
        sweep(datetime.datetime(2026, 12, day, 9, 0, tzinfo=SEOUL))
        assert to(charlie) == [], day
        assert not any("Korea Customs Service" in m.subject for m in to(people["sec_kr"]))


def test_a_reminder_recorded_before_the_update_arrived_is_not_sent(people, period, make_update):
    charlie = people["charlie"]
    moment = datetime.datetime(2026, 12, 8, 9, 0, tzinfo=SEOUL)
    reminders.record_due_reminders(moment)
    pending = Reminder.objects.filter(recipient=charlie, state="pending")
    assert pending.count() == 2
    make_update(charlie, "A-314", period=period)
    assert not Reminder.objects.filter(recipient=charlie, state="pending").exists()
    # Even a row that a worker had already claimed is dropped at send time.
    Reminder.objects.filter(recipient=charlie).update(state="pending")
    sweep(moment)
    assert to(charlie) == []
    assert set(Reminder.objects.filter(recipient=charlie).values_list("state", flat=True)) == {"cancelled"}


def test_reminders_are_in_the_recipients_language_and_zone(people, period):
    sweep(datetime.datetime(2026, 12, 11, 9, 0, tzinfo=SEOUL))
    korean = to(people["charlie"])[0]
    text, html = korean.body, korean.alternatives[0][0]
    assert "2026년 12월 11일" in text and "2026년 12월 11일" in html  # the due date, as Koreans write it
    assert "http://127.0.0.1:8000/initiatives/A-314/updates/new/" in text
    assert 'href="http://127.0.0.1:8000/initiatives/A-314/updates/new/"' in html
    assert korean.alternatives[0][1] == "text/html"
    assert korean.extra_headers["Message-ID"].endswith("@127.0.0.1>")


def test_a_daily_digest_gathers_the_days_reminders(people, period):
    alice = people["alice"]
    alice.profile.email_preference = "digest"
    alice.profile.save()
    sweep(datetime.datetime(2026, 12, 11, 9, 0, tzinfo=MEXICO))
    messages = to(alice)
    led = Initiative.objects.led_by(alice.profile.agency).count()
    assert len(messages) == 1 and led > 1
    assert messages[0].extra_headers["X-Tracker-Reminder"].startswith("daily_digest:")
    assert "List-Unsubscribe" in messages[0].extra_headers
    assert messages[0].body.count("/updates/new/") == led
    # The three rungs due by now (14 and 3 days before, and today) are all marked sent with that one email.
    assert Reminder.objects.filter(recipient=alice, state="sent").count() == 3 * led


def test_the_weekly_digest_reaches_each_secretariat_on_monday_morning(people, period):
    sec_kr = people["sec_kr"]
    sweep(datetime.datetime(2026, 12, 7, 8, 0, tzinfo=SEOUL))  # Monday, 8:00 in Seoul
    assert not [m for m in to(sec_kr) if "weekly_digest" in m.extra_headers["X-Tracker-Reminder"]]
    sweep(datetime.datetime(2026, 12, 7, 9, 0, tzinfo=SEOUL))
    digest = [m for m in to(sec_kr) if "weekly_digest" in m.extra_headers["X-Tracker-Reminder"]]
    assert len(digest) == 1
    assert "A-314" in digest[0].body  # a Korean agency's missing update
    assert "— Korea Customs Service" in digest[0].body
    assert "— Secretary of Economy" not in digest[0].body  # Mexican agencies are the Mexican secretariat's
    sweep(datetime.datetime(2026, 12, 8, 9, 0, tzinfo=SEOUL))
    assert not [m for m in to(sec_kr) if "weekly_digest" in m.extra_headers["X-Tracker-Reminder"]]


def test_the_admin_edits_the_ladder_without_a_deploy(people, period):
    ReminderRule.objects.filter(kind="upcoming", days=-14).update(days=-10, hour=8)
    sweep(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL))
    assert to(people["charlie"]) == []
    sweep(datetime.datetime(2026, 12, 1, 8, 0, tzinfo=SEOUL))
    assert kinds_for(people["charlie"]) == ["upcoming-10"]


def test_closing_a_period_stops_its_reminders(people, period):
    period.state = "closed"
    period.save()
    sweep(datetime.datetime(2026, 12, 12, 9, 0, tzinfo=SEOUL))
    assert mail.outbox == []


def test_a_failing_send_is_retried_with_backoff_then_marked_failed(people, period, settings):
    settings.EMAIL_BACKEND = "tests.test_reminders.RefusingBackend"
    moment = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL)
    result = sweep(moment)
    assert result.sent == [] and result.failed
    row = Reminder.objects.get(recipient=people["charlie"])
    assert (row.state, row.attempts) == ("pending", 1)
    assert "SMTPDataError" in row.last_error
    assert row.next_attempt_at == moment + datetime.timedelta(minutes=1)
    # Not retried before its time; retried with a growing delay after it.
    sweep(moment + datetime.timedelta(seconds=30))
    row.refresh_from_db()
    assert row.attempts == 1
    at = moment
    for _ in range(reminders.MAX_ATTEMPTS - 1):
        at += datetime.timedelta(hours=1)
        sweep(at)
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("failed", reminders.MAX_ATTEMPTS)
    assert reminders.backoff(6) <= reminders.MAX_BACKOFF < datetime.timedelta(hours=1)


def test_an_abandoned_claim_is_taken_over_after_the_lease(people, period):
    moment = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL)
    reminders.record_due_reminders(moment)
    row = Reminder.objects.get(recipient=people["charlie"])
    Reminder.objects.filter(pk=row.pk).update(state="sending", claimed_at=moment, claimed_by="dead-worker")
    sweep(moment + datetime.timedelta(minutes=5))
    assert to(people["charlie"]) == []  # still within the dead worker's lease
    sweep(moment + reminders.LEASE + datetime.timedelta(minutes=1))
    assert len(to(people["charlie"])) == 1
    row.refresh_from_db()
    assert row.state == "sent" and row.message_id


def test_review_decisions_email_the_author_after_commit(
    people, period, make_update, django_capture_on_commit_callbacks
):
    alice = people["alice"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        update = make_update(alice, "A-318", state="returned", reviewer=people["sec_mx"])
    assert callbacks  # a delivery is asked for only once the decision is committed
    mail.outbox = []
    reminders.deliver(datetime.datetime.now(datetime.UTC))
    (message,) = to(alice)
    assert "A-318" in message.subject
    assert "Please add the figures." in message.body
    assert f"/updates/{update.pk}/edit/" in message.body


def test_send_reminders_prints_one_line_per_email_and_dry_run_changes_nothing(people, period):
    from io import StringIO

    out = StringIO()
    call_command("send_reminders", "--now", "2026-11-27T09:00+09:00", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("would be sent charlie@example.invalid upcoming-14") for line in lines)
    assert not Reminder.objects.exists() and mail.outbox == []
    out = StringIO()
    call_command("send_reminders", "--now", "2026-11-27T09:00+09:00", stdout=out)
    sent = [line for line in out.getvalue().splitlines() if line.startswith("sent ")]
    assert any(line.startswith("sent charlie@example.invalid upcoming-14") for line in sent)
    assert len(mail.outbox) == len(sent)
    with pytest.raises(Exception, match="time zone"):
        call_command("send_reminders", "--now", "2026-11-27T09:00", stdout=StringIO())


def test_nobody_is_reminded_of_an_initiative_a_supporting_agency_owns(people, period):
    # SCT supports SI-06 (SCT is also a lead there: transport); SE supports SI-06: no reminder for SE on it.
    sweep(datetime.datetime(2026, 12, 11, 9, 0, tzinfo=MEXICO))
    assert not any("SI-06" in m.subject for m in to(people["alice"]))
    assert StatusUpdate.objects.count() == 0


class RefusingBackend:
    """An SMTP server that refuses every message."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        import smtplib

        raise smtplib.SMTPDataError(554, b"Transaction failed")


def test_an_unreachable_mail_server_stops_the_sweep_without_using_up_attempts(people, period, settings):
    settings.EMAIL_BACKEND = "tests.test_reminders.UnreachableBackend"
    moment = datetime.datetime(2026, 12, 11, 9, 0, tzinfo=MEXICO)
    result = sweep(moment)
    assert len(result.failed) == 1  # it tried once, then gave the rest back
    rows = Reminder.objects.all()
    assert rows.count() > 10
    assert set(rows.values_list("state", flat=True)) == {"pending"}
    assert sorted(set(rows.values_list("attempts", flat=True))) == [0, 1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    result = sweep(moment + datetime.timedelta(seconds=30))
    assert len(result.sent) == rows.count() - 1  # the one that failed waits for its backoff (a minute)
    assert rows.filter(state="pending").count() == 1 and rows.filter(state="sent").count() == rows.count() - 1


class UnreachableBackend(RefusingBackend):
    def open(self):
        raise ConnectionRefusedError(111, "Connection refused")


class Meanwhile(LocmemBackend):
    """A mail server that, once it has accepted the `at`-th email and before the sender hears so, lets
    `action` happen: another sender at work, or the clock running on while the reply is slow to come."""

    def __init__(self, at, action):
        super().__init__()
        self.at, self.action, self.count = at, action, 0

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        self.count += 1
        if self.count == self.at:
            self.action()
        return sent


def test_a_burst_is_shared_by_several_senders_and_each_email_leaves_once(people, period, monkeypatch):
    asked = []
    # A sweep with less than a batch due delivers it alone.
    sweep(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL))
    reminders.sweep(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL), fan_out=asked.append)
    assert asked == []

    monkeypatch.setattr(reminders, "BATCH", 5)  # a burst of several batches
    moment = datetime.datetime(2026, 12, 11, 9, 0, tzinfo=MEXICO)
    earlier = list(Reminder.objects.values_list("pk", flat=True))
    helped = []

    def helper():  # another worker process, asked by the sweep, delivering while the sweep's 2nd email is in flight
        helped.append(reminders.deliver(moment, sweep_run=asked[-1]))

    mail.outbox = []
    result = reminders.sweep(moment, connection=Meanwhile(at=2, action=helper), fan_out=asked.append)

    run = SweepRun.objects.latest("started_at")
    assert asked == [run.pk]
    assert result.sent and helped[0].sent  # both delivered part of the burst
    keys = Counter(m.extra_headers["X-Tracker-Reminder"] for m in mail.outbox)
    rows = Reminder.objects.exclude(pk__in=earlier)
    assert set(keys) == set(rows.values_list("key", flat=True))  # every due reminder, each once
    assert set(keys.values()) == {1}
    assert set(rows.values_list("state", flat=True)) == {"sent"}
    assert (run.recorded, run.sent, run.failed) == (rows.count(), len(mail.outbox), 0)  # the helper's count too
    assert run.finished_at is not None


def test_a_sender_held_up_past_its_lease_leaves_the_rest_to_the_sender_that_took_over(people, period, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(reminders, "_clock", lambda: clock[0])
    moment = datetime.datetime(2026, 12, 11, 9, 0, tzinfo=MEXICO)
    reminders.record_due_reminders(moment)

    def stalled():
        # The server holds its reply for longer than the lease; meanwhile the next sweep takes the claims over.
        clock[0] += (reminders.LEASE + datetime.timedelta(minutes=1)).total_seconds()
        Reminder.objects.filter(state="sending").update(
            claimed_at=moment - reminders.LEASE - datetime.timedelta(minutes=1)
        )
        reminders.deliver(moment)

    mail.outbox = []
    reminders.deliver(moment, connection=Meanwhile(at=3, action=stalled))

    message_ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    counts = Counter(message_ids)
    repeated = {mid for mid, n in counts.items() if n > 1}
    # Only what the held-up sender had sent and not yet marked (its first three emails: fewer than MARK_EVERY)
    # can arrive twice, the one in flight among them; the rest of its batch is left to the new holder.
    assert message_ids[2] in repeated
    assert repeated <= set(message_ids[:3])
    assert set(counts.values()) <= {1, 2}
    rows = Reminder.objects.all()
    assert set(rows.values_list("state", flat=True)) == {"sent"}
    assert set(rows.values_list("message_id", flat=True)) == set(counts)


def test_emails_are_written_exactly_as_the_email_package_writes_them(people, period):
    """The faster way the tracker writes its emails changes no byte of them."""
    alice = people["alice"]
    alice.profile.email_preference = "digest"
    alice.profile.save()
    messages = []
    for moment in (  # every rung, the escalation and both digests, in Spanish, Korean and English
        datetime.datetime(2026, 12, 8, 9, 0, tzinfo=SEOUL),
        datetime.datetime(2026, 12, 14, 9, 0, tzinfo=SEOUL),
        datetime.datetime(2026, 12, 14, 9, 0, tzinfo=MEXICO),
        datetime.datetime(2026, 12, 18, 9, 0, tzinfo=SEOUL),
    ):
        sweep(moment)
        messages += mail.outbox
    kinds = {m.extra_headers["X-Tracker-Reminder"].split(":")[0] for m in messages}
    assert {"upcoming-14", "overdue+1", "escalation+7", "daily_digest", "weekly_digest"} <= kinds
    folded = re.compile(rb"^[\w-]+: .*\r\n[ \t]", re.MULTILINE)  # a header too long for one line
    assert any(folded.search(m.message().as_bytes(linesep="\r\n").split(b"\r\n\r\n")[0]) for m in messages)
    date = re.compile(rb"^Date: .*\r\n", re.MULTILINE)  # the moment of writing
    for message in messages:
        ours, theirs = message.message(), message.message()
        theirs.policy = email.policy.compat32  # Django's own message, written the standard library's way
        ours.set_boundary("boundary")
        theirs.set_boundary("boundary")
        assert date.sub(b"", ours.as_bytes(linesep="\r\n")) == date.sub(b"", theirs.as_bytes(linesep="\r\n"))


def test_an_escalation_says_whether_anyone_was_reminded_and_who_nobody_can_reach(people, period):
    sec_kr = people["sec_kr"]
    for day in (11, 14):  # the due day and the first working day after: KCS's official is reminded
        sweep(datetime.datetime(2026, 12, day, 9, 0, tzinfo=SEOUL))
    sweep(datetime.datetime(2026, 12, 18, 9, 0, tzinfo=SEOUL))
    escalations = {m.subject: m.body for m in to(sec_kr) if m.extra_headers["X-Tracker-Reminder"].startswith("escal")}
    kcs = next(body for subject, body in escalations.items() if "Korea Customs Service" in subject)
    assert "despite the reminders sent to its officials" in kcs
    mofat = next(body for subject, body in escalations.items() if subject.startswith("Ministry of Foreign Affairs"))
    assert "has no active official in the tracker, so nobody could be reminded" in mofat
    assert "despite the reminders" not in mofat
    # Every escalation names the agencies of the country nobody can be reminded at, with what each owes.
    assert "Nobody can be reminded at these agencies" in kcs
    assert "* Ministry of Foreign Affairs and Trade: 82" in kcs
    assert "Korea Customs Service:" not in kcs.split("Nobody can be reminded")[1]  # it has an official
    assert "Secretary of Economy" not in kcs  # Mexico's agencies are the other secretariat's
