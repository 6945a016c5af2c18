"""Accounts: preferences, two-factor sign-in, the language switcher, password reset."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST

from tracker import permissions, security
from tracker.forms import PreferencesForm, TwoFactorCodeForm

# --- Accounts ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """Language, time zone, and whether reminders come one by one or as a daily digest."""
    profile = permissions.profile_of(request.user)
    if profile is None:
        raise PermissionDenied
    # A profile without a language yet shows the one the pages are in (the browser's), chosen when saved.
    form = PreferencesForm(request.POST or None, instance=profile, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your preferences are saved."))
        response = redirect("tracker:preferences")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, profile.language)
        return response
    return render(
        request,
        "tracker/preferences.html",
        {"form": form, "two_factor_on": security.has_two_factor(request.user)},
    )


# --- Two-factor sign-in ----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Turn two-factor sign-in on (scan the code, confirm with the first six digits) or off (with a current code)."""
    import base64

    import segno
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    next_url = security.redirect_after_sign_in(request, default=reverse("tracker:preferences"))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    required = security.two_factor_required(request.user)
    if device is not None:  # on: the page offers to turn it off, unless the role requires it
        form = TwoFactorCodeForm(request.POST or None, device=device)
        if request.method == "POST" and not required and form.is_valid():
            TOTPDevice.objects.filter(user=request.user).delete()
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("tracker:preferences")
        return render(request, "tracker/two_factor.html", {"form": form, "on": True, "required": required})

    # Off: one unconfirmed device holds the secret the user is adding to an app, until a code confirms it.
    pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if pending is None:
        pending = TOTPDevice.objects.create(user=request.user, name=_("Authenticator app"), confirmed=False)
    form = TwoFactorCodeForm(request.POST or None, device=pending)
    if request.method == "POST" and form.is_valid():
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        otp_login(request, pending)
        messages.success(request, _("Two-factor sign-in is on. From now on you will give a code after your password."))
        return redirect(next_url)
    return render(
        request,
        "tracker/two_factor.html",
        {
            "form": form,
            "on": False,
            "required": required,
            "waived": not settings.TWO_FACTOR_REQUIRED,
            "qr_code": segno.make(pending.config_url, error="m").svg_data_uri(scale=5, border=2),
            "secret": base64.b32encode(pending.bin_key).decode(),
            "next": next_url,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """After the password: the code from the user's authenticator app."""
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    next_url = security.redirect_after_sign_in(request)
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None or request.user.is_verified():
        return redirect(next_url)
    form = TwoFactorCodeForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        otp_login(request, device)
        return redirect(next_url)
    return render(request, "tracker/two_factor_verify.html", {"form": form, "next": next_url})


@require_POST
def set_language(request):
    """The language switcher on every page: Django's own view (the cookie, then back to the same page), and for a
    logged-in user the profile too, which decides the language of the pages, emails and PDFs from then on."""
    response = i18n.set_language(request)
    language = request.POST.get("language")
    profile = permissions.profile_of(request.user)
    if profile is not None and language in dict(settings.LANGUAGES) and profile.language != language:
        profile.language = language
        profile.save(update_fields=["language"])
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links point at SITE_URL, never at whatever Host header the request carried."""

    def form_valid(self, form):
        site = urlsplit(settings.SITE_URL)
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        return HttpResponseRedirect(self.get_success_url())
