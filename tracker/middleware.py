import zoneinfo

from django.utils import timezone

from tracker.permissions import profile_of


class UserTimeZoneMiddleware:
    """Show every time in the viewer's own zone (stored times are UTC)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        profile = profile_of(request.user)
        if profile is not None and profile.time_zone:
            timezone.activate(zoneinfo.ZoneInfo(str(profile.time_zone)))
        else:
            timezone.deactivate()
        return self.get_response(request)
