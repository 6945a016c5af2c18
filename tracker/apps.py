from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = _("Commission tracker")

    def ready(self):
        # Connect their signal receivers: the sign-in log, the version the cached figures are kept under, and the
        # language a first sign-in records.
        from tracker import figures, middleware, security  # noqa: F401
