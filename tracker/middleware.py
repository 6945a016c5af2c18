import zoneinfo

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone, translation

from tracker.permissions import profile_of


class UserPreferencesMiddleware:
    """Show every page in the viewer's own language and time zone (stored times are UTC).

    A logged-in user's profile decides both, wherever they sign in from; the language switcher saves its choice
    to the profile (tracker.views.accounts.set_language), so the pages, the emails and the PDFs agree. Until the
    profile has a language (a new account), and for visitors, Django's LocaleMiddleware decides: the switcher's
    cookie, else the browser's Accept-Language; the first sign-in records that choice in the profile
    (`record_language_at_first_sign_in`), so a Korean official in a Korean browser reads Korean before and after
    signing in, and gets Korean emails.
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


@receiver(user_logged_in)
def record_language_at_first_sign_in(sender, request, user, **kwargs) -> None:
    """A profile without a language takes the one its user's browser (or the switcher) chose for the sign-in page."""
    profile = profile_of(user)
    language = getattr(request, "LANGUAGE_CODE", None) if request is not None else None
    if profile is not None and not profile.language and language in dict(settings.LANGUAGES):
        profile.language = language
        profile.save(update_fields=["language"])
