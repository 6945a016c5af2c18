"""Who is reminded of what, and when — and the sweep that sends it.

The rules (DESIGN §4), all derived from the database at every sweep:

- In each open reporting period, each *lead* agency owes one update per initiative it leads, by the end of
  the period's due date in its own country. It stops owing the moment an update is submitted.
- The agency's officials get the ladder's reminders (`ReminderRule`: upcoming, due, overdue) at
  `due date + days`, planned for `hour` o'clock in each official's own time zone.
- `days` after the due date, each member of the Technical Secretariat of the agency's country gets one
  escalation listing that agency's late updates.
- Each secretariat member gets a weekly digest of what is still missing in their country.
- An official who prefers a daily digest gets each day's reminders in one email instead of one per item.
- A reviewer's decision (returned, accepted) is an email to the update's author, recorded in the same
  transaction as the decision.

Delivery is state-derived: a sweep records every reminder that is due under a unique key (so a reminder is
recorded once, whatever happens), claims rows with a conditional UPDATE (so two senders never hold the same
row), sends, and marks them sent. Any number of senders may work at once, each claiming its own batches: a
burst (more than one batch due) is shared by the whole worker pool, the beat task's sweep asking the other
pool processes to deliver with it, and each of those processes running SENDERS senders. A sender that dies
mid-send leaves its rows claimed; after `LEASE` another sweep takes them over. A sender renews its claims
every CHECKPOINT, so one held up past the lease (a mail server slow to reply) leaves the rows it lost to the
sender that took them over. Retries back off up to `MAX_BACKOFF`; after `MAX_ATTEMPTS` a row is marked
failed with its error, for the admin to see.

The guarantee is *at least once*. A sender marks its emails sent MARK_EVERY at a time (and at every
CHECKPOINT), with one UPDATE, not one per email: a sender that dies, or is held up past its lease, after
the SMTP server accepted some emails and before it marked them sent, has them sent again — at most
MARK_EVERY emails per sender, the one in flight included (so at most SENDERS x MARK_EVERY for a worker
process killed while delivering a burst). Each repeat carries the same Message-ID as its first copy (derived
from the key), so it is recognisable.
"""

from __future__ import annotations

import datetime
import functools
import logging
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.core import mail
from django.db import connections, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from tracker import emails
from tracker.choices import (
    COUNTRY_TIME_ZONES,
    Country,
    EmailPreference,
    OwnershipRole,
    ReminderKind,
    ReminderState,
    ReviewState,
    Role,
)
from tracker.models import (
    Agency,
    Ownership,
    Profile,
    Reminder,
    ReminderRule,
    ReportingPeriod,
    StatusUpdate,
    SweepRun,
)

logger = logging.getLogger(__name__)

LEASE = datetime.timedelta(minutes=10)  # a claim older than this belongs to a dead worker
MAX_ATTEMPTS = 6
MAX_BACKOFF = datetime.timedelta(minutes=30)  # well below Redis's one-hour visibility timeout
LATE_AFTER = datetime.timedelta(hours=1)  # an email sent later than this after its planned time says so
BATCH = 200  # rows a sender claims at a time
MARK_EVERY = 10  # emails a sender marks "sent" in one UPDATE: a sender killed mid-batch repeats at most this many
CHECKPOINT = datetime.timedelta(seconds=1)  # a sender renews its claims (and writes its marks) at least this often
SENDERS = 2  # senders in each process that delivers a burst: one renders while another waits for the mail server

LADDER_KINDS = (ReminderKind.UPCOMING, ReminderKind.DUE, ReminderKind.OVERDUE)
REVIEW_KINDS = (ReminderKind.ACCEPTED, ReminderKind.RETURNED)
DONE_STATES = (ReviewState.SUBMITTED, ReviewState.ACCEPTED)


@functools.cache
def _public_holidays(country: str, year: int, language: str) -> dict[datetime.date, str]:
    """The country's public holidays of a year (the `holidays` library: Mexico's federal, South Korea's national
    ones, substitute days included), named in `language` where the library has it, else in English."""
    calendar = holidays.country_holidays(country).__class__
    name_language = language if language in calendar.supported_languages else "en_US"
    return dict(holidays.country_holidays(country, years=year, language=name_language))


def holiday(day: datetime.date, country: str, language: str = "en") -> str | None:
    """The public holiday `day` is in `country`, if it is one, named in `language`."""
    return _public_holidays(country, day.year, language).get(day)


def is_working_day(day: datetime.date, country: str) -> bool:
    return day.weekday() < 5 and holiday(day, country) is None


def working_day(day: datetime.date, country: str, *, after: datetime.date | None = None) -> datetime.date:
    """`day`, or the working day before it when it falls on a weekend or a public holiday in `country`, so that a
    reminder reaches people at work, ahead of the deadline rather than after it. A reminder that must come after
    a day (`after`: an overdue reminder after the due date, a weekly digest in its own week) moves to the next
    working day instead when the one before would be too early. (`REMINDER_WORKING_DAYS=false` keeps every day.)"""
    if not settings.REMINDER_WORKING_DAYS:
        return day
    earlier = day
    while not is_working_day(earlier, country):
        earlier -= datetime.timedelta(days=1)
    if after is None or earlier > after:
        return earlier
    later = day
    while not is_working_day(later, country):
        later += datetime.timedelta(days=1)
    return later


def due_date_warnings(due: datetime.date, language: str) -> list[str]:
    """What the secretariat should know of a period's due date: a weekend or a public holiday in either country,
    when officials may not be at work (the reminders of that day are sent the working day before)."""
    warnings = []
    with translation.override(language):
        when = formats.date_format(due, "DATE_FORMAT")
        for country in COUNTRY_TIME_ZONES:
            name = holiday(due, country, language)
            if name:
                warnings.append(
                    _(
                        "The due date, %(date)s, is a public holiday in %(country)s (%(holiday)s): its officials may "
                        "not be at work. The reminders planned for that day are sent on the working day before."
                    )
                    % {"date": when, "country": Country(country).label, "holiday": name}
                )
        if due.weekday() >= 5:
            warnings.append(
                _(
                    "The due date, %(date)s, is a %(weekday)s. The reminders planned for that day are sent on the "
                    "working day before."
                )
                % {"date": when, "weekday": formats.date_format(due, "l")}
            )
    return warnings


def planned_time(day: datetime.date, hour: int, time_zone) -> datetime.datetime:
    """`hour` o'clock on `day` in the recipient's zone: a working-hour morning wherever they are."""
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=ZoneInfo(str(time_zone)))


def backoff(attempts: int) -> datetime.timedelta:
    """1, 2, 4, 8, 16, then 30 minutes between attempts."""
    return min(datetime.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def owed_updates(period: ReportingPeriod):
    """The lead ownerships that still owe an update for the period."""
    done = StatusUpdate.objects.filter(
        initiative=OuterRef("initiative"), agency=OuterRef("agency"), period=period, review_state__in=DONE_STATES
    )
    return Ownership.objects.filter(role=OwnershipRole.LEAD).exclude(Exists(done))


def agencies_without_officials(period: ReportingPeriod) -> list[tuple[Agency, int]]:
    """The agencies that still owe updates this period but have no active official to remind: nobody is chased
    for them (the dashboard and the escalation email say so). Each with how many updates it owes, most first."""
    active = Profile.objects.filter(agency=OuterRef("agency"), role=Role.OFFICIAL, user__is_active=True)
    owed = (
        owed_updates(period)
        .exclude(Exists(active))
        .values("agency")
        .annotate(owed=Count("pk"))
        .order_by("-owed", "agency__name")
    )
    counts = {row["agency"]: row["owed"] for row in owed}
    agencies = Agency.objects.in_bulk(list(counts))
    return [(agencies[pk], count) for pk, count in counts.items()]


def cancel_remaining(update: StatusUpdate) -> int:
    """The update arrived: no later reminder for its initiative, agency and period."""
    return Reminder.objects.filter(
        initiative_id=update.initiative_id,
        agency_id=update.agency_id,
        period_id=update.period_id,
        kind__in=LADDER_KINDS,
        state=ReminderState.PENDING,
    ).update(state=ReminderState.CANCELLED)


# --- Recording what is due ------------------------------------------------------------------------------


@dataclass
class Planned:
    key: str
    kind: str
    recipient_id: int
    planned_at: datetime.datetime
    period_id: int | None = None
    initiative_id: int | None = None
    agency_id: int | None = None

    def as_row(self) -> Reminder:
        return Reminder(
            key=self.key,
            kind=self.kind,
            recipient_id=self.recipient_id,
            planned_at=self.planned_at,
            period_id=self.period_id,
            initiative_id=self.initiative_id,
            agency_id=self.agency_id,
            next_attempt_at=self.planned_at,
        )


def due_reminders(now: datetime.datetime) -> list[Planned]:
    """Every reminder whose planned time has come, for every open period (recorded or not)."""
    rules = list(ReminderRule.objects.filter(active=True))
    people = list(
        Profile.objects.filter(user__is_active=True, role__in=[Role.OFFICIAL, Role.SECRETARIAT])
        .exclude(agency=None)
        .select_related("agency", "user")
    )
    officials: dict[int, list[Profile]] = defaultdict(list)
    secretariat: dict[str, list[Profile]] = defaultdict(list)
    for profile in people:
        if profile.role == Role.OFFICIAL:
            officials[profile.agency_id].append(profile)
        else:
            secretariat[profile.agency.country].append(profile)

    planned: list[Planned] = []
    for period in ReportingPeriod.objects.open():
        owed = list(owed_updates(period).select_related("agency").only("initiative_id", "agency_id", "agency__country"))
        late_agencies: dict[int, str] = {o.agency_id: o.agency.country for o in owed}
        for rule in rules:
            rung = period.due_date + datetime.timedelta(days=rule.days)
            # Moved off weekends and public holidays in the recipient's country; never before the due date for
            # what comes after it.
            days = {
                country: working_day(rung, country, after=period.due_date if rule.days > 0 else None)
                for country in COUNTRY_TIME_ZONES
            }
            if rule.kind in LADDER_KINDS:
                for ownership in owed:
                    for profile in officials.get(ownership.agency_id, ()):
                        at = planned_time(days[profile.agency.country], rule.hour, profile.time_zone)
                        local_today = now.astimezone(ZoneInfo(str(profile.time_zone))).date()
                        if at > now or at < profile.user.date_joined:
                            continue
                        if rule.kind == ReminderKind.UPCOMING and local_today > period.due_date:
                            continue  # "due soon" makes no sense once the day has passed
                        planned.append(
                            Planned(
                                key=f"{rule.kind}{rule.days:+d}:u{profile.user_id}:p{period.pk}"
                                f":i{ownership.initiative_id}:a{ownership.agency_id}",
                                kind=rule.kind,
                                recipient_id=profile.user_id,
                                planned_at=at,
                                period_id=period.pk,
                                initiative_id=ownership.initiative_id,
                                agency_id=ownership.agency_id,
                            )
                        )
            elif rule.kind == ReminderKind.ESCALATION:
                for agency_id, country in late_agencies.items():
                    for profile in secretariat.get(country, ()):
                        at = planned_time(days[country], rule.hour, profile.time_zone)
                        if at > now or at < profile.user.date_joined:
                            continue
                        planned.append(
                            Planned(
                                key=f"escalation{rule.days:+d}:u{profile.user_id}:p{period.pk}:a{agency_id}",
                                kind=rule.kind,
                                recipient_id=profile.user_id,
                                planned_at=at,
                                period_id=period.pk,
                                agency_id=agency_id,
                            )
                        )
    planned += _weekly_digests(rules, secretariat, now)
    return planned


def _weekly_digests(rules, secretariat, now) -> list[Planned]:
    """This week's digest for each secretariat member, once its time has come, while a period is open."""
    period = ReportingPeriod.objects.open().order_by("due_date").first()
    if period is None:
        return []
    planned = []
    for rule in rules:
        if rule.kind != ReminderKind.WEEKLY_DIGEST or rule.weekday is None:
            continue
        for profiles in secretariat.values():
            for profile in profiles:
                local = now.astimezone(ZoneInfo(str(profile.time_zone)))
                day = local.date() - datetime.timedelta(days=(local.weekday() - rule.weekday) % 7)
                # A holiday on the digest's day moves it later in its own week, never into the week before.
                day = working_day(day, profile.agency.country, after=day - datetime.timedelta(days=1))
                at = planned_time(day, rule.hour, profile.time_zone)
                if at > now or at < profile.user.date_joined:
                    continue  # this week's digest is not due yet; last week's is superseded
                year, week, _ = at.isocalendar()
                planned.append(
                    Planned(
                        key=f"weekly_digest:u{profile.user_id}:w{year}-{week:02d}",
                        kind=ReminderKind.WEEKLY_DIGEST,
                        recipient_id=profile.user_id,
                        planned_at=at,
                        period_id=period.pk,
                    )
                )
    return planned


def record_due_reminders(now: datetime.datetime) -> int:
    """Record every reminder that is due and not yet recorded; returns how many were new."""
    planned = due_reminders(now)
    if not planned:
        return 0
    keys = [p.key for p in planned]
    known: set[str] = set()
    for start in range(0, len(keys), 900):  # stay below SQLite's limit on query parameters
        known.update(Reminder.objects.filter(key__in=keys[start : start + 900]).values_list("key", flat=True))
    new = [p.as_row() for p in planned if p.key not in known]
    # Another sweep may record the same keys at the same moment: the unique key keeps one row.
    Reminder.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return len(new)


def record_review_email(update: StatusUpdate, kind: str) -> None:
    """Tell an update's author about the reviewer's decision; part of the decision's own transaction."""
    now = timezone.now()
    Reminder.objects.get_or_create(
        key=f"{kind}:u{update.author_id}:update{update.pk}:r{update.reviewed_at:%Y%m%d%H%M%S%f}",
        defaults={
            "kind": kind,
            "recipient_id": update.author_id,
            "period_id": update.period_id,
            "initiative_id": update.initiative_id,
            "agency_id": update.agency_id,
            "update": update,
            "planned_at": now,
            "next_attempt_at": now,
        },
    )


# --- Sending --------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    recorded: int = 0
    sent: list[str] = field(default_factory=list)  # one line per email
    failed: list[str] = field(default_factory=list)
    cancelled: int = 0


def _claimable(now: datetime.datetime) -> Q:
    ready = Q(state=ReminderState.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    abandoned = Q(state=ReminderState.SENDING, claimed_at__lt=now - LEASE)
    return ready | abandoned


def _lease_start(now: datetime.datetime) -> datetime.datetime:
    # A lease runs from the real time at least: a sweep that pretends an earlier moment (`send_reminders
    # --now`) must not write claims that every other sender already sees as abandoned.
    return max(now, timezone.now())


def _claim(ids: list[int], now: datetime.datetime, token: str) -> list[Reminder]:
    """Take the rows no one else holds: a conditional UPDATE, the same on SQLite and PostgreSQL."""
    Reminder.objects.filter(pk__in=ids).filter(_claimable(now)).update(
        state=ReminderState.SENDING, claimed_at=_lease_start(now), claimed_by=token, attempts=F("attempts") + 1
    )
    return list(
        Reminder.objects.filter(pk__in=ids, claimed_by=token, state=ReminderState.SENDING).select_related(
            "recipient__profile__agency", "period", "initiative", "agency", "update__reviewed_by"
        )
    )


def _still_owed(reminders: list[Reminder]) -> tuple[list[Reminder], list[Reminder]]:
    """Split claimed ladder reminders into those still owed and those whose update has arrived."""
    ladder = [r for r in reminders if r.kind in LADDER_KINDS]
    if not ladder:
        return reminders, []
    done = set(
        StatusUpdate.objects.filter(
            review_state__in=DONE_STATES,
            period_id__in={r.period_id for r in ladder},
            initiative_id__in={r.initiative_id for r in ladder},
        ).values_list("initiative_id", "agency_id", "period_id")
    )
    arrived = {r.pk for r in ladder if (r.initiative_id, r.agency_id, r.period_id) in done}
    return [r for r in reminders if r.pk not in arrived], [r for r in reminders if r.pk in arrived]


def _group(reminders: list[Reminder], now: datetime.datetime) -> list[tuple[str, list[Reminder]]]:
    """One email per reminder, except:

    - an official's ladder reminders when they prefer a daily digest: those that are due together go in one
      email, named after the day and its first reminder;
    - the reviewers' decisions on one official's updates that are delivered together (a review of several
      updates at once asks for delivery once, when all are decided): one email per official and kind of decision
      ("12 of your updates were accepted"), named after its first row. A single decision keeps its own key;
    - a secretariat member's escalations of one period due together, when they prefer the digest: one email naming
      every late agency instead of one per agency.
    """
    groups: dict[str, list[Reminder]] = {}
    digests: dict[int, list[Reminder]] = defaultdict(list)
    decisions: dict[tuple[int, str], list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        profile = getattr(reminder.recipient, "profile", None)
        digest = profile is not None and profile.email_preference == EmailPreference.DIGEST
        if reminder.kind in LADDER_KINDS and digest:
            digests[reminder.recipient_id].append(reminder)
        elif reminder.kind in REVIEW_KINDS or (reminder.kind == ReminderKind.ESCALATION and digest):
            decisions[(reminder.recipient_id, f"{reminder.kind}:p{reminder.period_id}")].append(reminder)
        else:
            groups[reminder.key] = [reminder]
    for recipient_id, rows in digests.items():
        day = now.astimezone(ZoneInfo(str(rows[0].recipient.profile.time_zone))).date()
        groups[f"daily_digest:u{recipient_id}:d{day.isoformat()}:r{min(r.pk for r in rows)}"] = rows
    for (recipient_id, kind), rows in decisions.items():
        rows.sort(key=lambda row: row.pk)
        key = rows[0].key if len(rows) == 1 else f"{kind}:u{recipient_id}:together:r{rows[0].pk}:n{len(rows)}"
        groups[key] = rows
    return list(groups.items())


def _rest_of_their_digests(claimed: list[Reminder], now: datetime.datetime, token: str) -> list[Reminder]:
    """The other reminders due now for the people whose digest this batch holds, so that each gets one digest
    with all of them (an agency with 500 initiatives has more reminders than a batch)."""
    readers = {
        r.recipient_id
        for r in claimed
        if r.kind in LADDER_KINDS and r.recipient.profile.email_preference == EmailPreference.DIGEST
    }
    if not readers:
        return []
    more = list(
        Reminder.objects.filter(_claimable(now), recipient_id__in=readers, kind__in=LADDER_KINDS)
        .exclude(pk__in=[r.pk for r in claimed])
        .values_list("pk", flat=True)
    )
    return _claim(more, now, token) if more else []


def _one_digest_a_day(groups: list[tuple[str, list[Reminder]]], now: datetime.datetime, token: str):
    """Someone who prefers the daily digest gets at most one a day: a digest for a person who has had one today
    already (a period opened in the afternoon, a sweep catching up) is held for the next working day's, at the
    same hour, where its reminders join that day's own (planned for then, so that it is not called late)."""
    digests = [rows for key, rows in groups if key.startswith("daily_digest:")]
    if not digests:
        return groups
    recipients = {rows[0].recipient_id for rows in digests}
    sent = defaultdict(list)
    recent = Reminder.objects.filter(
        recipient_id__in=recipients,
        kind__in=LADDER_KINDS,
        state=ReminderState.SENT,
        sent_at__gte=now - datetime.timedelta(days=1),
    )
    for recipient_id, sent_at in recent.values_list("recipient_id", "sent_at"):
        sent[recipient_id].append(sent_at)
    kept = []
    for key, rows in groups:
        if key.startswith("daily_digest:"):
            zone = ZoneInfo(str(rows[0].recipient.profile.time_zone))
            today = now.astimezone(zone).date()
            if any(moment.astimezone(zone).date() == today for moment in sent[rows[0].recipient_id]):
                hour = min(row.planned_at.astimezone(zone).time() for row in rows)
                country = rows[0].recipient.profile.agency.country
                day = working_day(today + datetime.timedelta(days=1), country, after=today)
                tomorrow = datetime.datetime.combine(day, hour, tzinfo=zone)
                Reminder.objects.filter(pk__in=[row.pk for row in rows], claimed_by=token).update(
                    state=ReminderState.PENDING,
                    claimed_by="",
                    claimed_at=None,
                    planned_at=tomorrow,
                    next_attempt_at=tomorrow,
                    attempts=F("attempts") - 1,  # held, not tried
                )
                continue
        kept.append((key, rows))
    return kept


def deliver(now: datetime.datetime, *, connection=None, sweep_run: int | None = None) -> SweepResult:
    """Claim, send and mark every reminder whose time has come, one batch of rows at a time.

    Any number of senders may run at once (a sweep and its helpers, a kick after a reviewer's decision):
    each claims its own batches, so none sends a row another holds. With `sweep_run`, what this sender sent
    and failed is added to that sweep's record.
    """
    result = SweepResult()
    token = uuid.uuid4().hex
    outbox = _Outbox(connection or mail.get_connection())
    installed = _installed_at() or now
    try:
        while True:
            # Rows this sender claimed, sent, cancelled or rescheduled are no longer claimable, and rows
            # another sender claimed are not either, so each round sees new rows only.
            ids = list(
                Reminder.objects.filter(_claimable(now))
                .order_by("planned_at", "pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            claimed = _claim(ids, now, token)  # empty when another sender took these rows first: try the next
            claimed += _rest_of_their_digests(claimed, now, token)
            claimed, arrived = _still_owed(claimed)
            if arrived:
                Reminder.objects.filter(pk__in=[r.pk for r in arrived], claimed_by=token).update(
                    state=ReminderState.CANCELLED
                )
                result.cancelled += len(arrived)
            groups = _one_digest_a_day(_group(claimed, now), now, token)
            if not _send_batch(groups, now, outbox, token, result, installed):
                break
    finally:
        outbox.close()
    if sweep_run is not None:
        SweepRun.objects.filter(pk=sweep_run).update(
            sent=F("sent") + len(result.sent), failed=F("failed") + len(result.failed)
        )
    return result


def deliver_burst(now: datetime.datetime, *, connection=None, sweep_run: int | None = None) -> SweepResult:
    """This process's share of a burst: SENDERS senders at once, each in a thread of its own with its own
    database and mail server connections.

    Python runs one thread's code at a time, but a sender spends much of each email waiting for the mail
    server's replies, and another sender's rendering fills that time. With a `connection` given (a test, an
    instrumented benchmark), one sender uses it.
    """
    if connection is not None:
        return deliver(now, connection=connection, sweep_run=sweep_run)
    results: list[SweepResult] = []
    errors: list[Exception] = []

    def sender() -> None:
        try:
            results.append(deliver(now, sweep_run=sweep_run))
        except Exception as error:  # raised again below, in the task's own thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's own connections

    threads = [threading.Thread(target=sender, name=f"reminder-sender-{i}") for i in range(1, SENDERS)]
    for thread in threads:
        thread.start()
    try:
        results.append(deliver(now, sweep_run=sweep_run))
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    total = SweepResult()
    for result in results:
        total.sent += result.sent
        total.failed += result.failed
        total.cancelled += result.cancelled
    return total


def _send_batch(groups, now, outbox, token, result, installed) -> bool:
    """Send one email per group; False when the mail server cannot be reached."""
    batch = _Batch(token, now, [r.pk for _, rows in groups for r in rows])
    try:
        for index, (group_key, group) in enumerate(groups):
            pks = [r.pk for r in group]
            if not batch.still_held(pks):
                continue  # taken over while this sender was held up: the new holder sends it
            if not _send_group(group_key, group, now, outbox, batch, result, installed):
                # Give back what this sender holds, untouched, to the next sweep, instead of waiting for a
                # timeout on every row.
                rest = [r.pk for _, rows in groups[index + 1 :] for r in rows]
                Reminder.objects.filter(pk__in=rest, claimed_by=token).update(
                    state=ReminderState.PENDING, attempts=F("attempts") - 1, claimed_by=""
                )
                return False
    finally:
        batch.write_marks()
    return True


def _clock() -> float:
    return time.monotonic()


class _Batch:
    """A sender's hold on the rows it claimed together: the "sent" marks it owes, and its claims' lease.

    Marks are written MARK_EVERY emails at a time, and whenever the claims are renewed, instead of one
    UPDATE per email: that is what bounds a crash's repeats (module docstring). The claims are renewed
    when the last renewal is CHECKPOINT old. Until then no other sender can have taken them over, since
    the lease is far longer, so a sender checks nothing before each email; a sender held up for longer
    (a slow mail server) learns here which of its rows are gone.
    """

    def __init__(self, token: str, now: datetime.datetime, pks: list[int]):
        self.token = token
        self.now = now
        self.unsent = set(pks)  # held, not yet sent or given up
        self.lost: set[int] = set()  # taken over by another sender
        self.marks: list[tuple[list[int], str, datetime.datetime]] = []  # (rows, Message-ID, sent at)
        self.renewed = _clock()  # the claim itself was taken a moment ago

    def still_held(self, pks: list[int]) -> bool:
        if _clock() - self.renewed >= CHECKPOINT.total_seconds():
            self.write_marks()
            self.renew()
        if self.lost.intersection(pks):
            self.unsent.difference_update(pks)
            return False
        return True

    def renew(self) -> None:
        held = Reminder.objects.filter(pk__in=self.unsent, claimed_by=self.token, state=ReminderState.SENDING)
        if held.update(claimed_at=_lease_start(self.now)) < len(self.unsent):
            kept = set(held.values_list("pk", flat=True))
            self.lost |= self.unsent - kept
            self.unsent &= kept
        self.renewed = _clock()

    def sent(self, pks: list[int], message_id: str) -> None:
        self.unsent.difference_update(pks)
        self.marks.append((pks, message_id, timezone.now()))
        if len(self.marks) >= MARK_EVERY:
            self.write_marks()

    def given_up(self, pks: list[int]) -> None:
        self.unsent.difference_update(pks)

    def write_marks(self) -> None:
        """One UPDATE for every email sent since the last one; rows another sender took over meanwhile
        are left to it."""
        if not self.marks:
            return
        marks, self.marks = self.marks, []
        rows = [(pk, message_id, at) for pks, message_id, at in marks for pk in pks]
        # Plain SQL: building the ORM's Case(When(...)) for each row costs more than the one-row UPDATEs this
        # replaces. CASE … WHEN is the same on SQLite and PostgreSQL.
        database = connections[Reminder.objects.db]
        quote, adapt = database.ops.quote_name, database.ops.adapt_datetimefield_value
        whens = " ".join(["WHEN %s THEN %s"] * len(rows))
        with database.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(Reminder._meta.db_table)} SET state = %s, last_error = %s,"
                f" sent_at = CASE id {whens} END, message_id = CASE id {whens} END"
                f" WHERE id IN ({', '.join(['%s'] * len(rows))}) AND claimed_by = %s",
                [ReminderState.SENT.value, ""]
                + [value for pk, _, at in rows for value in (pk, adapt(at))]
                + [value for pk, message_id, _ in rows for value in (pk, message_id)]
                + [pk for pk, _, _ in rows]
                + [self.token],
            )


class _Outbox:
    """One connection to the mail server for the whole delivery, opened only when there is something to send."""

    def __init__(self, connection):
        self.connection = connection
        self.opened = False

    def send(self, message) -> None:
        if not self.opened:
            try:
                self.connection.open()
            except Exception as error:
                raise MailServerDown(error) from error
            self.opened = True
        try:
            self.connection.send_messages([message])
        except Exception:
            self.close()  # the next email starts from a fresh connection
            raise

    def close(self) -> None:
        if self.opened:
            self.opened = False
            try:
                self.connection.close()
            except Exception:
                logger.warning("Closing the mail server connection failed", exc_info=True)


class MailServerDown(Exception):
    pass


def _installed_at() -> datetime.datetime | None:
    """When the tracker's first reminder sweep ran: nothing planned before then was missed."""
    return SweepRun.objects.order_by("started_at").values_list("started_at", flat=True).first()


def sendable_since(reminder: Reminder, installed: datetime.datetime) -> datetime.datetime:
    """When the reminder could first have been sent: its planned time, or later if its period was opened after it
    (a period opened at 15:00 cannot have its 9:00 reminder on time), or if the tracker's first sweep ran after it.
    An email is late, and says so, only when it goes out more than LATE_AFTER after this: a sweep was missed."""
    opened = reminder.period.opened_at if reminder.period_id and reminder.period.opened_at else reminder.planned_at
    return max(reminder.planned_at, opened, installed)


def _send_group(group_key, group, now, outbox, batch, result, installed) -> bool:
    """Send one email for the group and record the outcome; False when the mail server is unreachable."""
    pks = [r.pk for r in group]
    # A digest is on time when its newest reminder is: older ones it gathers are simply still open.
    late = now - max(sendable_since(r, installed) for r in group) > LATE_AFTER
    try:
        message = emails.reminder_email(group_key, group, late=late, now=now)
        outbox.send(message)
    except Exception as error:  # SMTP down, refused, timed out...: retry later, never drop
        batch.given_up(pks)
        attempts = max(r.attempts for r in group)
        state = ReminderState.FAILED if attempts >= MAX_ATTEMPTS else ReminderState.PENDING
        Reminder.objects.filter(pk__in=pks, claimed_by=batch.token).update(
            state=state,
            last_error=f"{error.__class__.__name__}: {error}"[:2000],
            next_attempt_at=now + backoff(attempts),
        )
        line = (
            f"{'failed' if state == ReminderState.FAILED else 'retry'} {group[0].recipient.email} {group_key}: {error}"
        )
        result.failed.append(line)
        logger.warning("reminder %s", line)
        return not isinstance(error, MailServerDown)
    batch.sent(pks, message.extra_headers["Message-ID"])
    result.sent.append(f"sent {message.to[0]} {group_key}{' (late)' if late else ''}: {message.subject}")
    return True


def sweep(now: datetime.datetime | None = None, *, dry_run: bool = False, connection=None, fan_out=None) -> SweepResult:
    """One reminder sweep: what the beat task and `manage.py send_reminders` run.

    With `fan_out`, a burst (more than one batch due) is delivered by several processes at once:
    `fan_out(sweep_run_id)` asks for helpers (the beat task's asks the rest of the worker pool for
    `deliver_reminders` tasks), and this process delivers alongside them, with SENDERS senders as each of
    them does. Without it (`manage.py send_reminders`), one sender in this process delivers everything.
    With `dry_run`, everything happens inside a transaction that is rolled back, and no email leaves.
    """
    now = now or timezone.now()
    if dry_run:
        with transaction.atomic():
            result = _sweep(now, mail.get_connection("django.core.mail.backends.dummy.EmailBackend"), None)
            transaction.set_rollback(True)
        return result
    return _sweep(now, connection, fan_out)


def _sweep(now, connection, fan_out) -> SweepResult:
    run = SweepRun.objects.create(started_at=timezone.now())
    recorded = record_due_reminders(now)
    SweepRun.objects.filter(pk=run.pk).update(recorded=recorded)
    if fan_out is not None and len(Reminder.objects.filter(_claimable(now)).values_list("pk")[: BATCH + 1]) > BATCH:
        fan_out(run.pk)  # a burst: the rest of the worker pool delivers with this process
        result = deliver_burst(now, connection=connection, sweep_run=run.pk)
    else:
        result = deliver(now, connection=connection, sweep_run=run.pk)
    result.recorded = recorded
    # Finished means this process's share is done; helpers add what they sent when theirs is.
    SweepRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    return result
