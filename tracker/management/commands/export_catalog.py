import json

from django.core.management.base import BaseCommand

from tracker.catalog import export_catalog


class Command(BaseCommand):
    help = (
        "Print the catalog as JSON: the report, its agencies, the responsibility matrix and every initiative "
        "with its owners. `load_report --from-json FILE` reads it back."
    )

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(export_catalog(), ensure_ascii=False, indent=2))
