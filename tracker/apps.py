from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = _("Commission tracker")

    def ready(self):
        # Connect their signal receivers: the sign-in log, and the version the cached figures are kept under.
        from tracker import figures, security  # noqa: F401
