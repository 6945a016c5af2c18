from django.core.management.base import BaseCommand, CommandError

from tracker.backup import BackupError, write_backup


class Command(BaseCommand):
    help = (
        "Write a complete backup to PATH (one .tar.gz archive): every table of the database, read in one "
        "transaction, and every uploaded file under MEDIA_ROOT, with a manifest of row counts and SHA-256 "
        "checksums. Sessions and the report cache are left out. Restore it with `restore`. "
        "See tracker/backup.py for what is and is not in a backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The archive to write, e.g. backups/tracker-2026-05-01.tar.gz.")

    def handle(self, *args, path, **options):
        try:
            manifest = write_backup(path)
        except (BackupError, OSError) as error:
            raise CommandError(f"No backup was written: {error}") from error
        rows = sum(manifest["counts"].values())
        size = sum(entry["size"] for entry in manifest["files"])
        if options["verbosity"] > 1:
            for label, count in manifest["counts"].items():
                self.stdout.write(f"  {label}: {count}")
        self.stdout.write(
            f"{rows} rows of {len(manifest['counts'])} tables and {len(manifest['files'])} files "
            f"({size} bytes) from MEDIA_ROOT, as of {manifest['created_at']}."
        )
        self.stdout.write("Not included: sessions (everybody signs in again after a restore) and the report cache.")
        for relative in manifest["skipped_files"]:
            self.stderr.write(f"Skipped (not a regular file): {relative}")
        for name in manifest["missing_files"]:
            self.stderr.write(self.style.WARNING(f"Missing from MEDIA_ROOT although a row names it: {name}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {path} ({manifest['archive_size']} bytes, {manifest['seconds']:.1f} s)."
            )
        )
