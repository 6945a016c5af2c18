from django.core.management.base import BaseCommand, CommandError

from tracker.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup written by `backup` into an EMPTY installation: runs `migrate` on a database with no "
        "tables, refuses a database that holds data or is at another migration state, checks every checksum "
        "before changing anything, loads every row in one transaction and puts the files into MEDIA_ROOT."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The archive written by `python manage.py backup`.")

    def handle(self, *args, path, **options):
        try:
            result = restore_backup(path)
        except (BackupError, OSError) as error:
            raise CommandError(str(error)) from error
        if result["migrated"]:
            self.stdout.write("The database had no tables: ran migrate first.")
        self.stdout.write(f"Restored the backup of {result['created_at']} (made on {result['database']}):")
        width = max((len(label) for label in result["rows"]), default=0)
        for label, count in result["rows"].items():
            self.stdout.write(f"  {label.ljust(width)}  {count}")
        self.stdout.write(f"{sum(result['rows'].values())} rows; {result['files']} files ({result['bytes']} bytes).")
        self.stdout.write("Sessions are not in a backup: everybody signs in again.")
        self.stdout.write(self.style.SUCCESS(f"Restore complete ({result['seconds']:.1f} s)."))
