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
recorded once, whatever happens), claims rows with a conditional UPDATE (so two workers never send the same
row), sends, and marks them sent. A worker that dies mid-send leaves its rows claimed; after `LEASE` another
sweep takes them over. Retries back off up to `MAX_BACKOFF`; after `MAX_ATTEMPTS` a row is marked failed
with its error, for the admin to see. The guarantee is *at least once*: a crash between the SMTP server's
acceptance and the "sent" mark sends that email again, with the same Message-ID (derived from the key),
so the rare repeat is recognisable.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.core import mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from tracker import emails
from tracker.choices import EmailPreference, OwnershipRole, ReminderKind, ReminderState, ReviewState, Role
from tracker.models import (
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
BATCH = 200

LADDER_KINDS = (ReminderKind.UPCOMING, ReminderKind.DUE, ReminderKind.OVERDUE)
DONE_STATES = (ReviewState.SUBMITTED, ReviewState.ACCEPTED)


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
            day = period.due_date + datetime.timedelta(days=rule.days)
            if rule.kind in LADDER_KINDS:
                for ownership in owed:
                    for profile in officials.get(ownership.agency_id, ()):
                        at = planned_time(day, rule.hour, profile.time_zone)
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
                        at = planned_time(day, rule.hour, profile.time_zone)
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


def _claim(ids: list[int], now: datetime.datetime, token: str) -> list[Reminder]:
    """Take the rows no one else holds: a conditional UPDATE, the same on SQLite and PostgreSQL."""
    Reminder.objects.filter(pk__in=ids).filter(_claimable(now)).update(
        state=ReminderState.SENDING, claimed_at=now, claimed_by=token, attempts=F("attempts") + 1
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
    """One email per reminder, except an official's ladder reminders when they prefer a daily digest:
    those that are due together go in one email, named after the day and its first reminder."""
    groups: dict[str, list[Reminder]] = {}
    digests: dict[int, list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        profile = getattr(reminder.recipient, "profile", None)
        if reminder.kind in LADDER_KINDS and profile is not None and profile.email_preference == EmailPreference.DIGEST:
            digests[reminder.recipient_id].append(reminder)
        else:
            groups[reminder.key] = [reminder]
    for recipient_id, rows in digests.items():
        day = now.astimezone(ZoneInfo(str(rows[0].recipient.profile.time_zone))).date()
        groups[f"daily_digest:u{recipient_id}:d{day.isoformat()}:r{min(r.pk for r in rows)}"] = rows
    return list(groups.items())


def deliver(now: datetime.datetime, *, connection=None, limit: int | None = None) -> SweepResult:
    """Claim, send and mark every reminder whose time has come."""
    result = SweepResult()
    token = uuid.uuid4().hex
    outbox = _Outbox(connection or mail.get_connection())
    try:
        while limit is None or len(result.sent) < limit:
            # Rows this sweep claimed, sent, cancelled or rescheduled are no longer claimable, so each
            # round sees new rows only.
            ids = list(
                Reminder.objects.filter(_claimable(now))
                .order_by("planned_at", "pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            claimed = _claim(ids, now, token)
            claimed, arrived = _still_owed(claimed)
            if arrived:
                Reminder.objects.filter(pk__in=[r.pk for r in arrived], claimed_by=token).update(
                    state=ReminderState.CANCELLED
                )
                result.cancelled += len(arrived)
            groups = _group(claimed, now)
            for index, (group_key, group) in enumerate(groups):
                if not _send_group(group_key, group, now, outbox, token, result):
                    # The mail server cannot be reached: give back what this sweep holds, untouched, to
                    # the next sweep, instead of waiting for a timeout on every row.
                    rest = [r.pk for _, rows in groups[index + 1 :] for r in rows]
                    Reminder.objects.filter(pk__in=rest, claimed_by=token).update(
                        state=ReminderState.PENDING, attempts=F("attempts") - 1, claimed_by=""
                    )
                    return result
    finally:
        outbox.close()
    return result


class _Outbox:
    """One connection to the mail server for the whole sweep, opened only when there is something to send."""

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


def _send_group(group_key, group, now, outbox, token, result) -> bool:
    """Send one email for the group and record the outcome; False when the mail server is unreachable."""
    pks = [r.pk for r in group]
    # Renew the claim before sending: a sweep slowed down past its lease must not send what another sweep
    # has taken over in the meantime.
    renewed = Reminder.objects.filter(pk__in=pks, claimed_by=token, state=ReminderState.SENDING).update(
        claimed_at=max(now, timezone.now())
    )
    if renewed != len(pks):
        return True
    # A digest is on time when its newest reminder is: older ones it gathers are simply still open.
    late = now - max(r.planned_at for r in group) > LATE_AFTER
    try:
        message = emails.reminder_email(group_key, group, late=late)
        outbox.send(message)
    except Exception as error:  # SMTP down, refused, timed out...: retry later, never drop
        attempts = max(r.attempts for r in group)
        state = ReminderState.FAILED if attempts >= MAX_ATTEMPTS else ReminderState.PENDING
        Reminder.objects.filter(pk__in=pks, claimed_by=token).update(
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
    Reminder.objects.filter(pk__in=pks, claimed_by=token).update(
        state=ReminderState.SENT, sent_at=timezone.now(), message_id=message.extra_headers["Message-ID"], last_error=""
    )
    result.sent.append(f"sent {message.to[0]} {group_key}{' (late)' if late else ''}: {message.subject}")
    return True


def sweep(now: datetime.datetime | None = None, *, dry_run: bool = False, connection=None) -> SweepResult:
    """One reminder sweep: what the beat task and `manage.py send_reminders` run.

    With `dry_run`, everything happens inside a transaction that is rolled back, and no email leaves.
    """
    now = now or timezone.now()
    if dry_run:
        with transaction.atomic():
            result = _sweep(now, mail.get_connection("django.core.mail.backends.dummy.EmailBackend"))
            transaction.set_rollback(True)
        return result
    return _sweep(now, connection)


def _sweep(now, connection) -> SweepResult:
    run = SweepRun.objects.create(started_at=timezone.now())
    result = SweepResult(recorded=record_due_reminders(now))
    delivered = deliver(now, connection=connection)
    result.sent, result.failed, result.cancelled = delivered.sent, delivered.failed, delivered.cancelled
    SweepRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(), recorded=result.recorded, sent=len(result.sent), failed=len(result.failed)
    )
    return result
