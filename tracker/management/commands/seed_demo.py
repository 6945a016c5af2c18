"""Demo accounts, an open reporting period and sample updates in every review state.

Everything it creates is marked as demo data (accounts' emails end in .invalid, updates carry
`is_demo` and start with "[Demo]"). Running it again resets the demo passwords and adds nothing twice.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tracker import actions
from tracker.choices import COUNTRY_TIME_ZONES, EmailPreference, PeriodState, ReviewState, Role, Status
from tracker.models import Agency, Initiative, Profile, ReportingPeriod, StatusUpdate

# username, role, agency key, first name, last name
DEMO_ACCOUNTS = [
    ("admin", Role.ADMIN, None, "Demo", "Administrator"),
    ("secretariat.mx", Role.SECRETARIAT, "sre", "Lucía", "Hernández"),
    ("secretariat.kr", Role.SECRETARIAT, "mofat", "Min-jun", "Park"),
    ("se.official", Role.OFFICIAL, "se", "Alicia", "Ramírez"),
    ("se.colleague", Role.OFFICIAL, "se", "Bruno", "Ortega"),
    ("shcp.official", Role.OFFICIAL, "shcp", "Carmen", "Vázquez"),
    ("sct.official", Role.OFFICIAL, "sct", "Diego", "Morales"),
    ("mocie.official", Role.OFFICIAL, "mocie", "Ji-woo", "Kim"),
    ("kcs.official", Role.OFFICIAL, "kcs", "Seo-yeon", "Lee"),
    ("moct.official", Role.OFFICIAL, "moct", "Hyun-woo", "Choi"),
    ("mofe.official", Role.OFFICIAL, "mofe", "Ye-jin", "Jung"),
]

# Everyone gets the daily digest (the default); one demo official chose one email per item, to show both.
PER_ITEM_READERS = {"kcs.official"}

# initiative code, author username, review state, status, progress, summary
DEMO_UPDATES = [
    (
        "SI-01",
        "se.official",
        ReviewState.ACCEPTED,
        Status.ON_TRACK,
        35,
        "Exploratory talks on the EPA's scope resumed; a joint study group met twice this quarter.",
    ),
    (
        "SI-01",
        "mocie.official",
        ReviewState.ACCEPTED,
        Status.AT_RISK,
        20,
        "Consultations with industry associations are slower than planned; agriculture remains sensitive.",
    ),
    (
        "A-314",
        "kcs.official",
        ReviewState.SUBMITTED,
        Status.ON_TRACK,
        40,
        "Pilot exchange of electronic certificates of origin with SHCP customs started in October.",
    ),
    ("SI-06", "sct.official", ReviewState.RETURNED, Status.BLOCKED, 10, "No carrier has applied for the route yet."),
    (
        "A-316",
        "se.official",
        ReviewState.DRAFT,
        Status.ON_TRACK,
        15,
        "SME programme design under way with the Small and Medium Business Administration.",
    ),
    (
        "A-301",
        "mocie.official",
        ReviewState.SUBMITTED,
        Status.ON_TRACK,
        25,
        "Supporting-industry matchmaking fair planned for March in Monterrey.",
    ),
]
RETURN_COMMENT = "Please say which carriers were contacted and what the bilateral air services agreement still needs."


class Command(BaseCommand):
    help = (
        "Create the demo accounts (one line each: username role agency), an open reporting period due in 14 days "
        "and sample updates in every review state. Refused where demo data is not allowed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", required=True, help="The password every demo account gets.")

    @transaction.atomic
    def handle(self, *args, password, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError("Demo data is not allowed on this installation (DEMO_DATA_ALLOWED is off).")
        if not Initiative.objects.exists():
            raise CommandError("Load the report first: python manage.py load_report")
        users = {}
        for username, role, agency_key, first, last in DEMO_ACCOUNTS:
            users[username] = self._account(username, role, agency_key, first, last, password)
        period = self._period()
        self.stdout.write(f"period {period.name} due {period.due_date.isoformat()}")
        for row in DEMO_UPDATES:
            self._update(period, users, *row)

    def _account(self, username, role, agency_key, first, last, password):
        agency = Agency.objects.get(key=agency_key) if agency_key else None
        user, _ = get_user_model().objects.update_or_create(
            username=username,
            defaults={
                "email": f"{username}@demo.invalid",
                "first_name": first,
                "last_name": last,
                "is_staff": role == Role.ADMIN,
                "is_superuser": role == Role.ADMIN,
                # The demo officials have been in post for a while, so this period's reminders apply to them.
                "date_joined": timezone.now() - datetime.timedelta(days=60),
            },
        )
        user.set_password(password)
        user.save()
        Profile.objects.update_or_create(
            user=user,
            defaults={
                "role": role,
                "agency": agency,
                "time_zone": COUNTRY_TIME_ZONES[agency.country] if agency else "UTC",
                "email_preference": EmailPreference.EACH if username in PER_ITEM_READERS else EmailPreference.DIGEST,
            },
        )
        self.stdout.write(f"{username} {role} {agency.acronym or agency.key if agency else '-'}")
        return user

    def _period(self) -> ReportingPeriod:
        today = timezone.localdate()
        quarter = (today.month - 1) // 3
        start = datetime.date(today.year, quarter * 3 + 1, 1)
        next_start = datetime.date(today.year + (quarter == 3), (quarter * 3 + 3) % 12 + 1, 1)
        period, _ = ReportingPeriod.objects.update_or_create(
            name=f"{today.year} Q{quarter + 1}",
            defaults={
                "start": start,
                "end": next_start - datetime.timedelta(days=1),
                "due_date": today + datetime.timedelta(days=14),
                "state": PeriodState.OPEN,
            },
        )
        return period

    def _update(self, period, users, code, username, state, status, progress, summary):
        author = users[username]
        agency = author.profile.agency
        initiative = Initiative.objects.get(code=code)
        if StatusUpdate.objects.filter(initiative=initiative, agency=agency, period=period, is_demo=True).exists():
            return
        update = StatusUpdate(
            initiative=initiative,
            agency=agency,
            period=period,
            author=author,
            status=status,
            progress=progress,
            summary=f"[Demo] {summary}",
            is_demo=True,
        )
        actions.save_update(update, submit=state != ReviewState.DRAFT, user=author)
        reviewer = users["secretariat.mx" if agency.country == "MX" else "secretariat.kr"]
        if state == ReviewState.ACCEPTED:
            actions.accept_update(update, user=reviewer, comment="[Demo] Thank you.")
        elif state == ReviewState.RETURNED:
            actions.return_update(update, user=reviewer, comment=f"[Demo] {RETURN_COMMENT}")
