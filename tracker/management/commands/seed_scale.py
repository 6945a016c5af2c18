"""A deterministic synthetic data set at a ministry's scale, for the benchmarks (scripts/bench_web.py).

    python manage.py seed_scale [--initiatives 10000] [--agencies 200] [--users 2000] [--periods 40]
                                [--updates 200000] [--reminders 500000] [--password PW]

On top of the loaded report, it adds a second, synthetic report ("Synthetic commission") with its initiatives
(one strategic initiative for every twenty actions), agencies on both sides, officials and secretariat members,
quarterly reporting periods (the last one open), accepted status updates spread over the periods (with each
side's current status), the open period's updates in every review state, and sent reminders. The same
arguments always give the same rows. Rows are written in bulk, so this is not audited (a benchmark fixture,
never production data: refused unless DEMO_DATA_ALLOWED).
"""

from __future__ import annotations

import datetime
import random
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from tracker.choices import (
    COUNTRY_TIME_ZONES,
    AgencyKind,
    Country,
    InitiativeKind,
    OwnershipRole,
    OwnershipSource,
    PeriodState,
    ReminderKind,
    ReminderState,
    ReviewState,
    Role,
    Status,
    Theme,
)
from tracker.models import (
    Agency,
    CurrentStatus,
    Initiative,
    MatrixIssue,
    Ownership,
    Profile,
    Reminder,
    Report,
    ReportingPeriod,
    StatusUpdate,
)

SLUG = "synthetic-commission"
BATCH = 5000
SUMMARIES = [
    "The working group met twice this quarter and agreed the terms of reference.",
    "Talks continued; both sides exchanged draft texts and scheduled the next round.",
    "A pilot project started with two partner institutions; first results are expected next quarter.",
    "Funding was approved; procurement is under way and the first call for proposals is published.",
    "Progress slowed while the responsible office was reorganised; a new focal point was named.",
]
WORDS = (
    "cooperation exchange agreement programme network dialogue investment training standards research "
    "customs logistics energy culture tourism finance innovation trade education maritime"
).split()


class Command(BaseCommand):
    help = "Build a deterministic synthetic data set at scale, for the benchmarks (never on a real installation)."

    def add_arguments(self, parser):
        parser.add_argument("--initiatives", type=int, default=10_000)
        parser.add_argument("--agencies", type=int, default=200)
        parser.add_argument("--users", type=int, default=2_000)
        parser.add_argument("--periods", type=int, default=40)
        parser.add_argument("--updates", type=int, default=200_000)
        parser.add_argument("--reminders", type=int, default=500_000)
        parser.add_argument("--password", default="bench-password-123")
        parser.add_argument("--seed", type=int, default=2005)

    def handle(self, *args, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError("Refused: DEMO_DATA_ALLOWED is off (this is a production installation).")
        if Report.objects.filter(slug=SLUG).exists():
            raise CommandError("The synthetic data set is already here; start from an empty database.")
        if not MatrixIssue.objects.exists():
            raise CommandError("Load the report first: python manage.py load_report")
        self.random = random.Random(options["seed"])
        self.started = time.monotonic()
        with transaction.atomic():
            self.report = Report.objects.create(
                slug=SLUG, title="Synthetic commission", date=datetime.date(2015, 1, 1), language="en", source_text=""
            )
            agencies = self._agencies(options["agencies"])
            users = self._users(options["users"], agencies, options["password"])
            initiatives = self._initiatives(options["initiatives"])
            leads = self._ownerships(initiatives, agencies)
            periods = self._periods(options["periods"])
            self._updates(options["updates"], initiatives, leads, periods, users)
            self._reminders(options["reminders"], leads, periods, users)
        if connection.vendor == "postgresql":
            # Planner statistics now, as autovacuum would later: without them the first benchmark plans every
            # query for empty tables (nested loops over 200,000 updates).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            self._say("planner statistics gathered (ANALYZE)")
        self._say(f"done in {time.monotonic() - self.started:.0f} s")

    def _say(self, text: str) -> None:
        self.stdout.write(f"[{time.monotonic() - self.started:6.1f} s] {text}")

    def _bulk(self, model, rows: list) -> list:
        made = []
        for start in range(0, len(rows), BATCH):
            made += model.objects.bulk_create(rows[start : start + BATCH])
        return made

    def _agencies(self, count: int) -> dict[str, list[Agency]]:
        rows = [
            Agency(
                key=f"synthetic-{country.lower()}-{n:04d}",
                country=country,
                name=f"{'Mexican' if country == Country.MEXICO else 'Korean'} synthetic agency {n}",
                acronym=f"{country}{n:04d}",
                kind=AgencyKind.AGENCY,
            )
            for n in range(count // 2)
            for country in (Country.MEXICO, Country.KOREA)
        ]
        self._bulk(Agency, rows)
        made = Agency.objects.filter(key__startswith="synthetic-").order_by("key")
        by_country = {Country.MEXICO: [], Country.KOREA: []}
        for agency in made:
            by_country[agency.country].append(agency)
        self._say(f"{len(rows)} agencies")
        return by_country

    def _users(self, count: int, agencies, password: str) -> dict:
        hashed = make_password(password)  # one hash for all: hashing 2,000 passwords would take minutes
        users, profiles = [], []
        secretariat = {Country.MEXICO: agencies[Country.MEXICO][0], Country.KOREA: agencies[Country.KOREA][0]}
        for n in range(count):
            country = Country.MEXICO if n % 2 == 0 else Country.KOREA
            users.append(
                get_user_model()(username=f"bench{n:05d}", email=f"bench{n:05d}@bench.invalid", password=hashed)
            )
        made = self._bulk(get_user_model(), users)
        made = list(get_user_model().objects.filter(username__startswith="bench").order_by("username"))
        officials = {Country.MEXICO: {}, Country.KOREA: {}}
        for n, user in enumerate(made):
            country = Country.MEXICO if n % 2 == 0 else Country.KOREA
            role = Role.SECRETARIAT if n < 10 else Role.OFFICIAL
            pool = agencies[country]
            agency = secretariat[country] if role == Role.SECRETARIAT else pool[(n // 2) % len(pool)]
            profiles.append(
                Profile(
                    user=user,
                    role=role,
                    agency=agency,
                    language=("es", "ko", "en")[n % 3],
                    time_zone=COUNTRY_TIME_ZONES[country],
                )
            )
            if role == Role.OFFICIAL:
                officials[country].setdefault(agency.pk, user)
        self._bulk(Profile, profiles)
        self._say(f"{len(made)} users (bench00000 .. ; the first ten are secretariat members)")
        return officials

    def _initiatives(self, count: int) -> list[Initiative]:
        issues = list(MatrixIssue.objects.order_by("pk"))
        themes = list(Theme.values)
        strategic_count = max(1, count // 21)
        strategic = [
            Initiative(
                report=self.report,
                code=f"XS-{n:04d}",
                title=self._title(),
                kind=InitiativeKind.STRATEGIC,
                theme=themes[n % len(themes)],
                section="Synthetic section",
                paragraph=str(n + 1),
                quote="Synthetic recommendation.",
                matrix_issue=issues[n % len(issues)],
                position=10_000 + n,
            )
            for n in range(strategic_count)
        ]
        strategic = self._bulk(Initiative, strategic)
        strategic = list(Initiative.objects.filter(report=self.report).order_by("code"))
        actions = [
            Initiative(
                report=self.report,
                code=f"XA-{n:05d}",
                title=self._title(),
                kind=InitiativeKind.ACTION,
                parent=strategic[n % len(strategic)],
                theme=themes[(n * 7) % len(themes)],
                section="Synthetic section",
                paragraph=str(n % 40 + 1),
                quote="Synthetic recommendation.",
                matrix_issue=issues[(n * 3) % len(issues)],
                position=20_000 + n,
            )
            for n in range(count - strategic_count)
        ]
        self._bulk(Initiative, actions)
        made = list(Initiative.objects.filter(report=self.report).order_by("position"))
        self._say(f"{len(made)} initiatives ({strategic_count} strategic)")
        return made

    def _title(self) -> str:
        words = self.random.sample(WORDS, 4)
        return f"Strengthen {words[0]} and {words[1]} {words[2]} for {words[3]}".capitalize()

    def _ownerships(self, initiatives, agencies) -> dict:
        rows, leads = [], {}
        for n, initiative in enumerate(initiatives):
            for country in (Country.MEXICO, Country.KOREA):
                pool = agencies[country]
                lead = pool[1 + (n * 7 + (country == Country.KOREA)) % (len(pool) - 1)]
                rows.append(
                    Ownership(
                        initiative=initiative,
                        agency=lead,
                        country=country,
                        role=OwnershipRole.LEAD,
                        source=OwnershipSource.MANUAL,
                    )
                )
                leads[(initiative.pk, country)] = lead
                if n % 3 == 0:
                    support = pool[1 + (n * 11 + 5) % (len(pool) - 1)]
                    if support != lead:
                        rows.append(
                            Ownership(
                                initiative=initiative,
                                agency=support,
                                country=country,
                                role=OwnershipRole.SUPPORTING,
                                source=OwnershipSource.MANUAL,
                            )
                        )
        self._bulk(Ownership, rows)
        self._say(f"{len(rows)} ownerships")
        return leads

    def _periods(self, count: int) -> list[ReportingPeriod]:
        today = timezone.localdate()
        rows = []
        for n in range(count):
            quarters_ago = count - 1 - n
            end = today + datetime.timedelta(days=30 - 91 * quarters_ago)
            rows.append(
                ReportingPeriod(
                    name=f"Synthetic {n + 1:02d}",
                    start=end - datetime.timedelta(days=90),
                    end=end,
                    due_date=end + datetime.timedelta(days=-16 if quarters_ago == 0 else 14),
                    state=PeriodState.OPEN if quarters_ago == 0 else PeriodState.CLOSED,
                )
            )
        made = self._bulk(ReportingPeriod, rows)
        made = list(ReportingPeriod.objects.filter(name__startswith="Synthetic ").order_by("end"))
        self._say(f"{len(made)} periods (the last one open)")
        return made

    def _updates(self, count, initiatives, leads, periods, officials) -> None:
        statuses = [Status.ON_TRACK, Status.ON_TRACK, Status.AT_RISK, Status.NOT_STARTED, Status.COMPLETED]
        sides = [(initiative, country) for initiative in initiatives for country in (Country.MEXICO, Country.KOREA)]
        per_period = max(1, count // len(periods))
        rows, latest = [], {}
        open_period = periods[-1]
        states = [ReviewState.SUBMITTED, ReviewState.ACCEPTED, ReviewState.DRAFT, ReviewState.RETURNED]
        reviewer = get_user_model().objects.filter(username="bench00000").first()
        for period in periods:
            chosen = self.random.sample(sides, min(per_period, len(sides)))
            moment = datetime.datetime.combine(period.due_date, datetime.time(12), tzinfo=datetime.UTC)
            for n, (initiative, country) in enumerate(chosen):
                agency = leads[(initiative.pk, country)]
                author = officials[country].get(agency.pk) or reviewer
                state = states[n % len(states)] if period == open_period else ReviewState.ACCEPTED
                submitted = state != ReviewState.DRAFT
                update = StatusUpdate(
                    initiative=initiative,
                    agency=agency,
                    period=period,
                    author=author,
                    status=statuses[n % len(statuses)],
                    progress=min(100, (n % 10) * 10 + periods.index(period)),
                    summary=SUMMARIES[n % len(SUMMARIES)],
                    review_state=state,
                    submitted_at=moment if submitted else None,
                    first_submitted_at=moment if submitted else None,
                    reviewed_by=reviewer if state in (ReviewState.ACCEPTED, ReviewState.RETURNED) else None,
                    reviewed_at=moment + datetime.timedelta(days=3) if state != ReviewState.DRAFT else None,
                    review_comment="Please add the figures." if state == ReviewState.RETURNED else "",
                )
                rows.append(update)
        made = self._bulk(StatusUpdate, rows)
        for update in made:  # in period order: the last accepted one per side is the current status
            if update.review_state == ReviewState.ACCEPTED:
                latest[(update.initiative_id, update.agency.country)] = update
        current = [
            CurrentStatus(
                initiative_id=initiative_id,
                country=country,
                update=update,
                status=update.status,
                progress=update.progress,
            )
            for (initiative_id, country), update in latest.items()
        ]
        self._bulk(CurrentStatus, current)
        self._say(f"{len(made)} status updates, {len(current)} current statuses")

    def _reminders(self, count, leads, periods, officials) -> None:
        kinds = [ReminderKind.UPCOMING, ReminderKind.UPCOMING, ReminderKind.DUE, ReminderKind.OVERDUE]
        offsets = {0: -14, 1: -3, 2: 0, 3: 1}
        keys = list(leads.items())
        rows, n = [], 0
        closed = periods[:-1] or periods
        while len(rows) < count:
            period = closed[n % len(closed)]
            (initiative_id, country), agency = keys[(n // len(closed)) % len(keys)]
            rung = (n // (len(closed) * len(keys))) % len(kinds)
            recipient = officials[country].get(agency.pk)
            n += 1
            if recipient is None:
                continue
            planned = datetime.datetime.combine(
                period.due_date + datetime.timedelta(days=offsets[rung]), datetime.time(9), tzinfo=datetime.UTC
            )
            kind = kinds[rung]
            rows.append(
                Reminder(
                    key=f"{kind}{offsets[rung]:+d}:u{recipient.pk}:p{period.pk}:i{initiative_id}:a{agency.pk}",
                    kind=kind,
                    recipient=recipient,
                    period=period,
                    initiative_id=initiative_id,
                    agency=agency,
                    planned_at=planned,
                    state=ReminderState.SENT,
                    attempts=1,
                    sent_at=planned + datetime.timedelta(minutes=2),
                    message_id=f"<bench-{n}@bench.invalid>",
                )
            )
        self._bulk(Reminder, rows)
        self._say(f"{len(rows)} reminders (sent)")
