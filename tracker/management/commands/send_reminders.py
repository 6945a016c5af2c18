import datetime

from django.core.management.base import BaseCommand, CommandError

from tracker.reminders import sweep


class Command(BaseCommand):
    help = "Run one reminder sweep now (the same function the Celery beat task runs); prints one line per email."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", help="Pretend it is this moment (ISO 8601 with a zone, e.g. 2026-12-12T09:00+09:00)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Show what would be sent; change and send nothing.")

    def handle(self, *args, now=None, dry_run=False, **options):
        moment = None
        if now:
            try:
                moment = datetime.datetime.fromisoformat(now)
            except ValueError as error:
                raise CommandError(f"--now must be an ISO time such as 2026-12-12T09:00+09:00: {error}") from error
            if moment.tzinfo is None:
                raise CommandError("--now needs a time zone, e.g. 2026-12-12T09:00+09:00 or 2026-12-12T00:00Z.")
        result = sweep(moment, dry_run=dry_run)
        for line in result.sent + result.failed:
            self.stdout.write(("would be " if dry_run else "") + line)
        self.stdout.write(
            f"{result.recorded} recorded, {len(result.sent)} sent, {len(result.failed)} failed, "
            f"{result.cancelled} cancelled{' (dry run: nothing was changed)' if dry_run else ''}"
        )
