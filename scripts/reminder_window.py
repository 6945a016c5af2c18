"""What the demo's people receive over a reporting period's whole reminder window, swept hour by hour.

    .venv/bin/python scripts/reminder_window.py [--days-before 15] [--days-after 9] [--show-subjects]

Builds a fresh installation in a temporary folder (SQLite, the report, the demo accounts and their period due in
14 days, exactly as `scripts/run` makes them), then runs one reminder sweep per hour of the window with the clock
frozen at that hour (time-machine), into Django's in-memory mail outbox, and prints per person: how many emails,
on how many days, the most on any one day, and (with --show-subjects) each email's local day and subject. It is
the question "how many emails does a quarter cost each person?", answered by the code that sends them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days-before", type=int, default=15, help="start this many days before the due date")
    parser.add_argument("--days-after", type=int, default=9, help="end this many days after it")
    parser.add_argument("--show-subjects", action="store_true")
    parser.add_argument("--save", metavar="DIR", help="write each email to DIR as .eml (to open in a mail program)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="reminder-window-"))
    os.environ.update(
        DATABASE_URL=f"sqlite:///{folder / 'tracker.sqlite3'}",
        DEBUG="true",
        EMAIL_URL="memorymail://",
        SITE_URL="http://127.0.0.1:8000",
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    import django

    django.setup()
    import time_machine
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command

    from tracker import reminders
    from tracker.models import ReportingPeriod

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    call_command("migrate", verbosity=0)
    call_command("load_report", verbosity=0)
    call_command("seed_demo", password="reminder-window-1", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    period = ReportingPeriod.objects.open().order_by("due_date").first()
    start = datetime.datetime.combine(
        period.due_date - datetime.timedelta(days=args.days_before), datetime.time(), tzinfo=datetime.UTC
    )
    end = datetime.datetime.combine(
        period.due_date + datetime.timedelta(days=args.days_after), datetime.time(), tzinfo=datetime.UTC
    )
    # The demo's period was opened (and the installation's first sweep runs) at the window's start.
    ReportingPeriod.objects.filter(pk=period.pk).update(opened_at=start)

    received: dict[str, list[tuple[datetime.date, str]]] = defaultdict(list)
    zones = {}
    from django.contrib.auth import get_user_model

    for user in get_user_model().objects.select_related("profile"):
        zones[user.email] = ZoneInfo(str(user.profile.time_zone)) if hasattr(user, "profile") else datetime.UTC
    moment, sweeps = start, 0
    while moment < end:
        mail.outbox = []
        with time_machine.travel(moment, tick=False):
            reminders.sweep(moment)
        sweeps += 1
        for message in mail.outbox:
            address = message.to[0]
            if args.save:
                local = moment.astimezone(zones.get(address, datetime.UTC))
                path = Path(args.save) / f"{local:%Y-%m-%d}-{address.split('@')[0]}-{len(received[address]) + 1}.eml"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(message.message().as_bytes())
            received[address].append((moment.astimezone(zones.get(address, datetime.UTC)).date(), message.subject))
        moment += datetime.timedelta(hours=1)

    print(f"Period {period.name}, due {period.due_date}: {sweeps} hourly sweeps, {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    print(f"{'recipient':<34} {'emails':>6} {'days':>5} {'most in a day':>14}")
    total = 0
    for address in sorted(received):
        days = Counter(day for day, _subject in received[address])
        total += len(received[address])
        print(f"{address:<34} {len(received[address]):>6} {len(days):>5} {max(days.values()):>14}")
        if args.show_subjects:
            for day, subject in received[address]:
                print(f"    {day}  {subject}")
    print(f"{'all':<34} {total:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
