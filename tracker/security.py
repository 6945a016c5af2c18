"""Sign-in security: session time limits, two-factor sign-in, the client's address, and the sign-in log.

The rules live here and in settings (the "Security" block); the two-factor pages are in tracker/views/accounts.py.

- A session ends after SESSION_IDLE_MINUTES without a request, and SESSION_MAX_HOURS after signing in.
- Two-factor sign-in (TOTP): a user who turned it on must give a code after the password before seeing any
  page; with TWO_FACTOR_REQUIRED, a secretariat member or admin without it is sent to set it up first.
- django-axes counts failed sign-ins by account and address; `client_address` tells it the address.
- Sign-ins, sign-outs and failed sign-ins are logged (logger "tracker.security") besides axes' own records.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from tracker.choices import Role
from tracker.permissions import role_of

log = logging.getLogger("tracker.security")

STARTED, SEEN = "tracker_session_started", "tracker_session_seen"
# Set once the session's user is known to have no two-factor device: saves a query on every page.
NO_SECOND_FACTOR = "tracker_no_second_factor"
# Writing the session on every request would cost a database write each time; once a minute is precise enough.
SEEN_RESOLUTION = 60


class ModelBackendWithProfile(ModelBackend):
    """Django's ModelBackend, reading the signed-in user with their profile and agency in one query.

    Every page reads the profile (language, time zone, role) and most read the agency (the header, "mine");
    loaded with the user they cost nothing more. Authentication itself (password, inactive users) is Django's.
    """

    def get_user(self, user_id):
        try:
            user = get_user_model()._default_manager.select_related("profile__agency").get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def client_address(request) -> str | None:
    """The client's address: the connection's, or behind TRUSTED_PROXIES proxies, what the nearest says.

    Each trusted proxy appends the address it received from; the client's is the one the outermost trusted
    proxy appended. An address the client wrote itself (further left) is never believed.
    """
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class SessionTimeoutMiddleware:
    """End a signed-in session that was idle too long, or that began too long ago."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.setdefault(STARTED, now)
            seen = request.session.get(SEEN, now)
            idle = now - seen > settings.SESSION_IDLE_MINUTES * 60
            too_old = now - started > settings.SESSION_MAX_HOURS * 3600
            if idle or too_old:
                logout(request)
                messages.info(request, _("Your session has ended. Please log in again."))
                return redirect_to_login(request.get_full_path())
            if now - seen >= SEEN_RESOLUTION or SEEN not in request.session:
                request.session[SEEN] = now
        return self.get_response(request)


def two_factor_required(user) -> bool:
    return settings.TWO_FACTOR_REQUIRED and role_of(user) in (Role.SECRETARIAT, Role.ADMIN)


def has_two_factor(user) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


class TwoFactorMiddleware:
    """Between the password and every page: the code, for whoever has two-factor sign-in (or must have it)."""

    # Reachable before the second factor: the two-factor pages themselves, signing out, the language switcher,
    # the health check and static files.
    # An invitation's link sets another account's password: it must open even in a half-signed-in session.
    OPEN_PATHS = (
        "/accounts/two-factor/",
        "/accounts/invitation/",
        "/accounts/logout/",
        "/i18n/",
        "/healthz",
        "/static/",
        "/favicon.ico",
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified() and not request.path.startswith(self.OPEN_PATHS):
            if not request.session.get(NO_SECOND_FACTOR) and has_two_factor(user):
                return redirect(f"{reverse('two-factor-verify')}?next={request.get_full_path()}")
            if two_factor_required(user):
                messages.info(request, _("Your role requires two-factor sign-in. Set it up to continue."))
                return redirect(f"{reverse('two-factor')}?next={request.get_full_path()}")
        return self.get_response(request)


# --- The sign-in log ----------------------------------------------------------------------------------------


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    if request is not None:
        request.session[STARTED] = request.session[SEEN] = time.time()
        # Asked once here rather than on every page (a device added later is asked for at the next sign-in).
        request.session[NO_SECOND_FACTOR] = not has_two_factor(user)
    log.info("login user=%s address=%s", user.get_username(), client_address(request) if request else "-")


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    name = user.get_username() if user else "-"
    log.info("logout user=%s address=%s", name, client_address(request) if request else "-")


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # The username tried, never the password.
    log.warning(
        "failed login user=%s address=%s", credentials.get("username", "-"), client_address(request) if request else "-"
    )


def redirect_after_sign_in(request, default: str = "/") -> str:
    """The `next` address if it is on this site, else `default`."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default
