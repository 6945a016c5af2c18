from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = _("Commission tracker")

    def ready(self):
        from tracker import security  # noqa: F401  (connects the sign-in log to Django's auth signals)
