import zoneinfo

from django.utils import timezone, translation

from tracker.permissions import profile_of


class UserPreferencesMiddleware:
    """Show every page in the viewer's own language and time zone (stored times are UTC).

    A logged-in user's profile decides both, wherever they sign in from; the language switcher saves its choice
    to the profile (tracker.views.accounts.set_language), so the pages, the emails and the PDFs agree. A visitor gets
    Django's LocaleMiddleware choice: the switcher's cookie, else the browser's Accept-Language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        profile = profile_of(request.user)
        if profile is not None and profile.time_zone:
            timezone.activate(zoneinfo.ZoneInfo(str(profile.time_zone)))
        else:
            timezone.deactivate()
        if profile is not None and profile.language:
            translation.activate(profile.language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
