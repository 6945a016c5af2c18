import json

from django.core.management.base import BaseCommand, CommandError

from tracker.catalog import apply_catalog, catalog_from_files
from tracker.catalog_files import CatalogError


class Command(BaseCommand):
    help = (
        "Load the Commission's report into the database: agencies, the responsibility matrix and every "
        "initiative with its owners. Running it again changes nothing; rows an administrator has edited are "
        "kept unless --overwrite is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-json",
            metavar="FILE",
            help="Load a catalog written by export_catalog instead of the catalog files in fixtures/catalog/.",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Bring rows that differ from the catalog back in line with it (their history keeps the old values).",
        )

    def handle(self, *args, from_json=None, overwrite=False, **options):
        try:
            if from_json:
                with open(from_json, encoding="utf-8") as handle:
                    data = json.load(handle)
            else:
                data = catalog_from_files()
            result = apply_catalog(data, overwrite=overwrite)
        except (OSError, ValueError, CatalogError) as error:
            raise CommandError(f"The catalog cannot be loaded; nothing was changed.\n{error}") from error
        for line in result.lines():
            self.stdout.write(line)
        kept = sum(counter["kept"] for counter in result.counts.values())
        if kept:
            self.stdout.write(
                f"{kept} rows differ from the catalog and were kept as edited; use --overwrite to replace them."
            )
        self.stdout.write(self.style.SUCCESS("catalog loaded" if result.changed else "catalog already up to date"))
