"""People: who may be chased for updates, inviting officials and secretariat members, and opening an invitation.

The rules are tracker/invitations.py's; who may invite whom is permissions.can_invite.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from tracker import invitations, permissions, reminders, tabular
from tracker.choices import Role
from tracker.filters import AgencyField, agency_label
from tracker.models import Agency, Invitation
from tracker.views.common import open_period, tracker_user_required

# The backend that reads the signed-in user with the profile (settings.AUTHENTICATION_BACKENDS); the invitee is
# signed in by the link, not by a password the backends would check.
SIGN_IN_BACKEND = "tracker.security.ModelBackendWithProfile"


def _inviter_or_403(request) -> None:
    if not permissions.can_invite(request.user):
        raise PermissionDenied


@tracker_user_required
def people(request):
    """The people the user may invite, by agency, with where each stands; first, the agencies nobody can be chased
    for this period (no active official)."""
    _inviter_or_403(request)
    groups = invitations.people_of(request.user)
    period = open_period()
    unchased = []
    if period is not None:
        invited = {
            group.agency.pk: sum(
                1
                for row in group.people
                if row.profile.role == Role.OFFICIAL and row.state == invitations.PersonState.INVITED
            )
            for group in groups
        }
        unchased = [
            {"agency": agency, "owed": owed, "invited": invited.get(agency.pk, 0)}
            for agency, owed in reminders.agencies_without_officials(period)
            if permissions.can_invite(request.user, agency)
        ]
    return render(
        request,
        "tracker/people_list.html",
        {"groups": groups, "period": period, "unchased": unchased, "states": invitations.PersonState},
    )


def _prefilled(request) -> dict:
    """The by-hand form's first values from the address: `?agency=<id>&role=official` (the people page's links) or
    `?agency=<acronym or name>` (the dashboard's), shown in the agency box as typed there."""
    initial = {"role": Role.OFFICIAL}
    if request.GET.get("role") in invitations.INVITED_ROLES:
        initial["role"] = request.GET["role"]
    text = request.GET.get("agency", "").replace("\x00", "").strip()[:200]
    number = text.isascii() and text.isdigit()
    agency = Agency.objects.filter(pk=int(text)).first() if number and len(text) < 10 else None
    if text and not number:
        initial["agency"] = text
    elif agency is not None:
        # What the box shows: the acronym (or name) when it names this agency alone, else its key, which always does.
        label = agency_label(agency)
        try:
            initial["agency"] = label if AgencyField().clean(label) == agency else agency.key
        except ValidationError:
            initial["agency"] = agency.key
    return initial


@tracker_user_required
@require_http_methods(["GET", "POST"])
def people_invite(request):
    """One person by hand, or a list of people from a file; the file is checked whole, and saved whole or not at
    all."""
    _inviter_or_403(request)
    sent = "file" if "file" in request.FILES or request.POST.get("form") == "file" else "person"
    posted = request.method == "POST"
    form = invitations.InviteForm(
        request.POST if posted and sent == "person" else None, user=request.user, initial=_prefilled(request)
    )
    file_form = invitations.PeopleFileForm(
        request.POST if posted and sent == "file" else None, request.FILES if posted and sent == "file" else None
    )
    checked = None  # the file's rows as checked, when it has problems
    if posted and sent == "person" and form.is_valid():
        try:
            invitations.invite([form.person()], by=request.user)
        except invitations.NotInvited as refused:
            form.add_error(None, refused.message)
        else:
            person = form.cleaned_data
            messages.success(request, _("The invitation to %(name)s is on its way to %(email)s.") % person)
            return redirect("tracker:people")
    elif posted and sent == "file" and file_form.is_valid():
        try:
            checked = invitations.read_people(file_form.cleaned_data["file"].read(), by=request.user)
        except tabular.BadFile as problem:
            file_form.add_error("file", problem.message)
        else:
            if not checked.problems:
                try:
                    invited = invitations.invite(checked.people, by=request.user)
                except invitations.NotInvited as refused:
                    file_form.add_error("file", refused.message)
                else:
                    count = len(invited)
                    messages.success(
                        request,
                        ngettext(
                            "%(count)d invitation sent: each person gets an email with a link to choose a password.",
                            "%(count)d invitations sent: each person gets an email with a link to choose a password.",
                            count,
                        )
                        % {"count": count},
                    )
                    return redirect("tracker:people")
    return render(
        request,
        "tracker/people_invite.html",
        {"form": form, "file_form": file_form, "checked": checked, "columns": invitations.COLUMNS},
    )


@tracker_user_required
@require_POST
def people_resend(request, pk):
    """Send an invitation again: a new email with a new link, the earlier links void."""
    _inviter_or_403(request)
    invitation = get_object_or_404(Invitation.objects.select_related("user__profile__agency"), pk=pk)
    profile = getattr(invitation.user, "profile", None)
    if profile is None or not permissions.invitable_people(request.user).filter(pk=profile.pk).exists():
        raise Http404  # someone this user may not invite: answered as if it did not exist
    try:
        invitations.resend(invitation, by=request.user)
    except invitations.NotInvited as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request,
            _("The invitation to %(name)s was sent again, with a new link; the earlier links no longer work.")
            % {"name": invitation.user.get_full_name() or invitation.user.username},
        )
    return redirect("tracker:people")


# --- Opening an invitation ----------------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def invitation_accept(request, uidb64, token):
    """The link of an invitation email: choose a password, and be signed in.

    A link that no longer works, or never did, gets a page saying which and whom to ask, in the visitor's language,
    never the form: 400 for a link that is not one of ours (an unknown account answers the same), 410 for one that
    worked once (expired, replaced by a new sending, used).
    """
    link = invitations.check_link(uidb64, token)
    if link.state != invitations.LinkState.VALID:
        return _refused(request, link)
    # The page speaks the language the invitation gave, when it gave one (else the browser's); a language chosen
    # with the switcher on this page wins, and is kept in the profile.
    profile = link.user.profile
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    chosen = chosen if chosen in dict(settings.LANGUAGES) else ""
    language = chosen or profile.language
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = language
    form = SetPasswordForm(link.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.accept(link, form, token)
        except invitations.LinkGone:
            return _refused(request, invitations.check_link(uidb64, token))
        if chosen and chosen != profile.language:
            profile.language = chosen
            profile.save(update_fields=["language"])
        login(request, user, backend=SIGN_IN_BACKEND)
        messages.success(request, _("Welcome! Your password is set, and you are signed in."))
        response = redirect("tracker:home")
        if user.profile.language:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.profile.language)
        return response
    return render(request, "tracker/people_invitation.html", {"form": form, "invited": link.user, "link": link})


def _refused(request, link: invitations.Link):
    profile = getattr(link.user, "profile", None) if link.user else None
    if profile is not None and not request.user.is_authenticated:
        timezone.activate(ZoneInfo(str(profile.time_zone)))  # the dates as the invitee's email gave them
    return render(
        request,
        "tracker/people_invitation_refused.html",
        {"link": link, "states": invitations.LinkState},
        status=link.status,
    )
