from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Create the demo accounts (one line each: username role agency). Refused where demo data is not allowed."

    def add_arguments(self, parser):
        parser.add_argument("--password", required=True, help="The password every demo account gets.")

    def handle(self, *args, password, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError("Demo data is not allowed on this installation (DEMO_DATA_ALLOWED is off).")
        user, _ = get_user_model().objects.update_or_create(
            username=DEMO_ADMIN,
            defaults={
                "email": "admin@demo.invalid",
                "first_name": "Demo",
                "last_name": "Administrator",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        user.set_password(password)
        user.save()
        self.stdout.write(f"{user.username} admin -")
