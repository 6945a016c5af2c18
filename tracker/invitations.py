"""Inviting officials and secretariat members: accounts made by the admin or a secretariat, opened by their owners.

The rules
---------
- **Who may invite whom** is `permissions.can_invite`: an admin anyone, a secretariat member the officials and
  secretariat members of its own country's agencies, an official nobody. An administrator's account is never
  invited: it is made in the Django admin.
- **An invitation** (`invite`) makes an inactive account (no usable password) with its profile — the role, the
  agency, the language the row or the form gave (blank: the agency's country's language for the emails, and the
  browser's at the first sign-in) and the agency's country's time zone — and an `Invitation`; the invitation
  email is recorded in the outbox (`Reminder`, kind "invitation", key `invitation:u<user>:n<sending>`) in the same
  transaction, and a worker is asked to deliver it after the commit, so it is retried and logged like every other
  email. The username is the email's part before the @, made unique (`maria.lopez`, then `maria.lopez2`); the
  email and the set-password page show it.
- **A list of people** (CSV or XLSX, read by tracker/tabular.py: columns Name, Email, Agency, Language, Role,
  headed in English, Spanish or Korean) is checked whole first (`read_people`): an unknown or ambiguous agency, an
  email already used by an account or twice in the file, an invalid email, a missing name, a language or role
  that cannot be read, or an agency or role the inviter may not invite is an error named by row and column, and
  if there is one, nothing of the file is saved. Otherwise every row is invited in one transaction.
- **The link** (`/accounts/invitation/<uidb64>/<token>/`): no token is stored. `InvitationTokenGenerator` (Django's
  password-reset tokens, with their own salt) signs the account's state — its id, password hash, last sign-in,
  whether it is active, its email — with the number of the sending and the time the email was planned for (the
  sending's `planned_at`, so that a retry of the same email carries the same link). So a link:
  works once (setting the password changes the hash, and signing in the last sign-in); expires 7 days after it
  was sent; and is void once the invitation is **sent again** — each sending is counted in the hash and only the
  latest count is accepted, so that a link left in an old email (forwarded, or in a mailbox someone else reads)
  cannot open the account after a new one was asked for. Re-sending makes a new email with a new link.
- **Opening the link** (`check_link`): a valid link shows the set-password form; an expired one, one replaced by a
  later sending, one used already, or one that is not ours is refused with a page that says which and whom to
  ask, never with the form. A link that does not verify says nothing of the account it names, so the page tells
  nothing about who exists.
- **Accepting** (`accept`): the password is set (the project's validators), the account activated, the invitation
  marked accepted (claimed with a conditional UPDATE: a double click accepts once), any email of it not yet sent
  cancelled; the view signs the user in and sends them to the home page, in the language the row gave.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

from django import forms
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.functional import Promise
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from tracker import emails, permissions, tabular, tasks
from tracker.choices import COUNTRY_TIME_ZONES, ReminderKind, ReminderState, Role
from tracker.filters import AgencyField
from tracker.models import Agency, Invitation, Profile, Reminder

User = get_user_model()

VALID_FOR = datetime.timedelta(days=7)
LANGUAGES = ("en", "es", "ko")
# The roles a person can be invited to.
INVITED_ROLES = (Role.OFFICIAL, Role.SECRETARIAT)
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 500  # each row is an account, a profile, an invitation and an email, all saved in one transaction
KEY = re.compile(r"^invitation:u(?P<user>\d+):n(?P<sent>\d+)$")


# --- The link ------------------------------------------------------------------------------------------------


def _naive_utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """The token of the `sent`-th sending of an invitation (module docstring: one-time, 7 days, the latest only).

    Django's generator counts its timestamp in the server's local time and its timeout from
    PASSWORD_RESET_TIMEOUT; this one counts in UTC from a given moment (the email's planned time), and for 7 days.
    """

    key_salt = "tracker.invitations.InvitationTokenGenerator"

    def __init__(self, sent: int):
        super().__init__()
        self.sent = sent

    def _make_hash_value(self, user, timestamp) -> str:
        # Truncated as Django does: a database without microseconds gives back the same value.
        login = "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None)
        return f"{user.pk}|{user.password}|{login}|{user.is_active}|{user.email}|{timestamp}|{self.sent}"

    def _now(self) -> datetime.datetime:
        return _naive_utc(timezone.now())

    def make_token_at(self, user, moment: datetime.datetime) -> str:
        return self._make_token_with_timestamp(user, self._num_seconds(_naive_utc(moment)), self.secret)

    def signed_at(self, user, token: str) -> datetime.datetime | None:
        """When the token was made, if it is this sending's token of the account as it is now; else None."""
        try:
            stamp, _hash = token.split("-")
            timestamp = base36_to_int(stamp)
        except ValueError:
            return None
        if timestamp > 10**10:  # base36_to_int reads up to 13 characters: far beyond any real date
            return None
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token):
                moment = datetime.datetime(2001, 1, 1) + datetime.timedelta(seconds=timestamp)
                return moment.replace(tzinfo=datetime.UTC)
        return None

    def check_token(self, user, token) -> bool:
        if not (user and token):
            return False
        signed = self.signed_at(user, token)
        return signed is not None and timezone.now() - signed <= VALID_FOR


def link_for(user, sent: int, moment: datetime.datetime) -> str:
    """The address of the `sent`-th sending's link, made at `moment` (the email's planned time)."""
    token = InvitationTokenGenerator(sent).make_token_at(user, moment)
    path = reverse("invitation-accept", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": token})
    return emails.absolute(path)


class LinkState:
    VALID = "valid"
    EXPIRED = "expired"
    REPLACED = "replaced"  # the invitation was sent again: only the latest link works
    USED = "used"
    BAD = "bad"  # not a link we made, or for an account that is no longer invited: nothing more is said


@dataclass
class Link:
    """What an opened link is. The status of a refusal: 400 for a link that is not one we made (a client error;
    an unknown account answers the same, so that the page tells nothing about who exists), 410 Gone for one that
    worked once and never will again (expired, replaced, used): a new invitation is needed."""

    state: str
    invitation: Invitation | None = None
    signed_at: datetime.datetime | None = None

    @property
    def user(self):
        return self.invitation.user if self.invitation else None

    @property
    def status(self) -> int:
        return {LinkState.VALID: 200, LinkState.BAD: 400}.get(self.state, 410)

    @property
    def expires_at(self) -> datetime.datetime | None:
        return self.signed_at + VALID_FOR if self.signed_at else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_link(uidb64: str, token: str) -> Link:
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        return Link(LinkState.BAD)
    invitation = Invitation.objects.select_related("user__profile__agency", "invited_by").filter(user_id=pk).first()
    if invitation is None:
        return Link(LinkState.BAD)
    if invitation.accepted_at is not None:
        if invitation.accepted_link and constant_time_compare(_digest(token), invitation.accepted_link):
            return Link(LinkState.USED, invitation)
        return Link(LinkState.BAD)
    user = invitation.user
    for sent in range(invitation.times_sent, 0, -1):
        signed = InvitationTokenGenerator(sent).signed_at(user, token)
        if signed is None:
            continue
        if sent < invitation.times_sent:
            return Link(LinkState.REPLACED, invitation, signed)
        if timezone.now() - signed > VALID_FOR:
            return Link(LinkState.EXPIRED, invitation, signed)
        return Link(LinkState.VALID, invitation, signed)
    return Link(LinkState.BAD)


class LinkGone(Exception):
    """The link stopped working between opening the page and sending the form (used, or sent again)."""


def accept(link: Link, form: SetPasswordForm, token: str):
    """Set the password the form holds, activate the account and mark the invitation accepted; the user."""
    invitation, now = link.invitation, timezone.now()
    with transaction.atomic():
        # Claimed first, with a conditional UPDATE: a second click, or a sending made meanwhile, finds it gone.
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, times_sent=invitation.times_sent
        ).update(accepted_at=now, accepted_link=_digest(token))
        if not claimed:
            raise LinkGone
        user = form.save(commit=False)
        user.is_active = True
        user._history_user = user  # the audit history says who: the person themselves
        user.save()
        # Saved again through the model for its audit record (the UPDATE above writes none).
        invitation.accepted_at, invitation.accepted_link = now, _digest(token)
        invitation._history_user = user
        invitation.save(update_fields=["accepted_at", "accepted_link"])
        Reminder.objects.filter(recipient=user, kind=ReminderKind.INVITATION, state=ReminderState.PENDING).update(
            state=ReminderState.CANCELLED
        )
    return user


# --- Making invitations ----------------------------------------------------------------------------------------


@dataclass
class Person:
    """Someone to invite, as checked: from the form, or one row of a file."""

    name: str
    email: str
    agency: Agency
    language: str  # "" until chosen
    role: str
    row: int | None = None


class NotInvited(Exception):
    """Nothing was saved; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normal_email(email: str) -> str:
    return User.objects.normalize_email(email.strip())


def taken_emails(addresses) -> set[str]:
    """Which of the addresses (compared without case) an account uses already: one query."""
    lowered = {address.lower() for address in addresses}
    if not lowered:
        return set()
    return set(
        User.objects.annotate(lowered=Lower("email")).filter(lowered__in=lowered).values_list("lowered", flat=True)
    )


def _username(email: str, chosen: set[str]) -> str:
    """The part of the email before the @, in the characters a username may hold, made unique (2, 3, ...)."""
    base = re.sub(r"[^\w.+-]", "", email.rsplit("@", 1)[0].lower())[:140].strip(".") or "user"
    taken = {
        name.lower() for name in User.objects.filter(username__istartswith=base).values_list("username", flat=True)
    }
    taken |= chosen
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}{number}"
    chosen.add(candidate)
    return candidate


def invite(people: list[Person], *, by) -> list[Invitation]:
    """Invite everyone in one transaction, or no one (`NotInvited`). The people are checked already (the form,
    `read_people`); who may invite whom and the emails are checked again here, against the database as it is."""
    for person in people:
        if person.role not in INVITED_ROLES or not permissions.can_invite(by, person.agency):
            raise NotInvited(_("You may not invite %(name)s to this agency.") % {"name": person.name})
    if taken_emails(person.email for person in people):
        raise NotInvited(_("An account with one of these emails was made meanwhile. Nothing was saved; check again."))
    now = timezone.now()
    chosen: set[str] = set()
    invitations = []
    try:
        with transaction.atomic():
            for person in people:
                user = User(
                    username=_username(person.email, chosen),
                    email=person.email,
                    # The whole name in one field: Spanish has two surnames, Korean writes the family name first;
                    # get_full_name() gives it back as typed.
                    first_name=person.name,
                    is_active=False,
                )
                user.set_unusable_password()
                user._history_user = by
                user.save()
                profile = Profile(
                    user=user,
                    role=person.role,
                    agency=person.agency,
                    language=person.language,
                    time_zone=COUNTRY_TIME_ZONES[person.agency.country],
                )
                profile._history_user = by
                profile.save()
                invitation = Invitation(user=user, invited_by=by, created_at=now, last_sent_at=now, times_sent=1)
                invitation._history_user = by
                invitation.save()
                _record_email(invitation, person.agency, now)
                invitations.append(invitation)
            transaction.on_commit(tasks.kick_delivery)
    except IntegrityError as error:  # a username taken by someone saving at the same moment
        raise NotInvited(_("Someone else was saving at the same moment. Nothing was saved; try again.")) from error
    return invitations


def _record_email(invitation: Invitation, agency: Agency | None, now: datetime.datetime) -> None:
    Reminder.objects.get_or_create(
        key=f"invitation:u{invitation.user_id}:n{invitation.times_sent}",
        defaults={
            "kind": ReminderKind.INVITATION,
            "recipient_id": invitation.user_id,
            "agency": agency,
            "planned_at": now,
            "next_attempt_at": now,
        },
    )


def resend(invitation: Invitation, *, by) -> Invitation:
    """Send the invitation again: a new email with a new link; the earlier links stop working. Refused
    (`NotInvited`) once the account is open."""
    now = timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.select_related("user__profile__agency").get(pk=invitation.pk)
        user = invitation.user
        agency = user.profile.agency if hasattr(user, "profile") else None
        if not permissions.can_invite(by, agency):
            raise NotInvited(_("You may not invite people to this agency."))
        if invitation.accepted_at is not None or user.is_active:
            raise NotInvited(
                _("%(name)s has set a password already: there is nothing to send.")
                % {"name": user.get_full_name() or user.username}
            )
        # The emails of earlier sendings not yet sent would carry links that no longer work.
        Reminder.objects.filter(recipient=user, kind=ReminderKind.INVITATION, state=ReminderState.PENDING).update(
            state=ReminderState.CANCELLED
        )
        invitation.times_sent += 1
        invitation.last_sent_at = now
        invitation._history_user = by
        invitation.save(update_fields=["times_sent", "last_sent_at"])
        # Two clicks at once count the same sending: the outbox's unique key keeps one email of it.
        _record_email(invitation, agency, now)
        transaction.on_commit(tasks.kick_delivery)
    return invitation


# --- The email ---------------------------------------------------------------------------------------------


class AlreadyAccepted(Exception):
    """The account was opened before this email could be sent: it is not sent (the outbox marks it failed)."""


def _when(moment: datetime.datetime) -> str:
    """A moment as the active language writes it, in the active zone, with the zone's name."""
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.tzname()}"


def invitation_email(group_key: str, reminder: Reminder, *, late: bool) -> EmailMultiAlternatives:
    """The invitation email of one sending (`reminder`, recorded by `invite` or `resend`), in the invitee's
    language and time zone, with the link made now for the sending's planned time."""
    user = reminder.recipient
    profile = user.profile
    invitation = Invitation.objects.select_related("invited_by").get(user=user)
    if invitation.accepted_at is not None or user.is_active:
        raise AlreadyAccepted(f"{user.username} opened the account before this invitation was sent")
    match = KEY.match(reminder.key)
    sent = int(match["sent"]) if match else invitation.times_sent
    language = profile.email_language
    inviter = invitation.invited_by
    with translation.override(language), timezone.override(profile.time_zone):
        context = {
            "language": language,
            "recipient_name": user.get_full_name() or user.username,
            "username": user.username,
            "inviter_name": (inviter.get_full_name() or inviter.username) if inviter else "",
            "agency_name": profile.agency.display_name if profile.agency else "",
            "secretariat": profile.role == Role.SECRETARIAT,
            "link": link_for(user, sent, reminder.planned_at),
            "expires": _when(reminder.planned_at + VALID_FOR),
            "days": VALID_FOR.days,
            "again": sent > 1,
            "login_url": emails.absolute(reverse("login")),
            "late": False,  # not a reminder: the expiry date it gives is what matters
        }
        subject = render_to_string("emails/invitation/subject.txt", context).strip()
        context["subject"] = subject
        text = render_to_string("emails/invitation/body.txt", context)
        html = render_to_string("emails/invitation/body.html", context)
    headers = {
        "Message-ID": emails.message_id(group_key),
        "X-Tracker-Reminder": group_key,
        "Auto-Submitted": "auto-generated",
    }
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email], headers=headers)
    message.attach_alternative(html, "text/html")
    return message


# --- Where each person stands (the people page) ---------------------------------------------------------------


class PersonState:
    ACTIVE = "active"
    INVITED = "invited"
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"


def state_of(user, invitation: Invitation | None, now: datetime.datetime | None = None) -> str:
    if user.is_active:
        return PersonState.ACTIVE
    if invitation is not None and invitation.accepted_at is None:
        return (
            PersonState.INVITED
            if (now or timezone.now()) < invitation.last_sent_at + VALID_FOR
            else PersonState.EXPIRED
        )
    return PersonState.DEACTIVATED


@dataclass
class PersonRow:
    profile: Profile
    state: str
    invitation: Invitation | None

    @property
    def user(self):
        return self.profile.user

    @property
    def expires_at(self) -> datetime.datetime | None:
        return self.invitation.last_sent_at + VALID_FOR if self.invitation else None

    @property
    def can_resend(self) -> bool:
        return self.state in (PersonState.INVITED, PersonState.EXPIRED)


@dataclass
class AgencyPeople:
    agency: Agency
    people: list[PersonRow] = field(default_factory=list)


def people_of(user) -> list[AgencyPeople]:
    """The people the user may invite, by agency (in the agencies' order), each with where they stand: one query."""
    profiles = (
        permissions.invitable_people(user)
        .select_related("user__invitation__invited_by", "agency")
        .order_by("agency__country", "agency__name", "user__first_name", "user__username")
    )
    now = timezone.now()
    groups: dict[int, AgencyPeople] = {}
    for profile in profiles:
        invitation = getattr(profile.user, "invitation", None)
        group = groups.setdefault(profile.agency_id, AgencyPeople(profile.agency))
        group.people.append(PersonRow(profile, state_of(profile.user, invitation, now), invitation))
    return list(groups.values())


# --- The form: one person by hand -------------------------------------------------------------------------


def _role_choices() -> list[tuple[str, Promise]]:
    return [(role.value, role.label) for role in INVITED_ROLES]


def _cannot_invite_to(user, agency: Agency) -> str:
    own = permissions.agency_of(user)
    if own is None:
        return _("You may not invite people.")
    return _("%(agency)s is an agency of %(country)s: you may invite people of %(own)s's agencies only.") % {
        "agency": agency,
        "country": agency.get_country_display(),
        "own": own.get_country_display(),
    }


class InviteForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("a person's", "Name"), max_length=150)
    email = forms.EmailField(label=gettext_lazy("Email"), max_length=254)
    agency = AgencyField(
        label=gettext_lazy("Agency"), help_text=gettext_lazy("Acronym or name; suggestions appear as you type.")
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        help_text=gettext_lazy(
            "Of the invitation and of every page and email after it. Not chosen: the language of the agency's "
            "country for the emails, and the browser's at the first sign-in."
        ),
    )
    role = forms.ChoiceField(label=gettext_lazy("Role"), widget=forms.RadioSelect, initial=Role.OFFICIAL)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["language"].choices = [("", gettext_lazy("Not chosen")), *settings.LANGUAGES]
        self.fields["role"].choices = _role_choices()

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_email(self) -> str:
        email = normal_email(self.cleaned_data["email"])
        if taken_emails([email]):
            raise ValidationError(_("An account with this email exists already."), code="taken")
        return email

    def clean_agency(self) -> Agency:
        agency = self.cleaned_data["agency"]
        if not permissions.can_invite(self.user, agency):
            raise ValidationError(_cannot_invite_to(self.user, agency), code="not_yours")
        return agency

    def person(self) -> Person:
        data = self.cleaned_data
        return Person(data["name"], data["email"], data["agency"], data["language"], data["role"])


# --- The file: many people at once ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: Promise
    # Other headings accepted, as people write them in each language: recognised whatever the catalogs say.
    aliases: tuple[str, ...] = ()


COLUMNS = [
    Column(
        "name",
        pgettext_lazy("a person's", "Name"),
        ("Name", "Full name", "Nombre", "Nombre completo", "Nombre y apellidos", "이름", "성명"),
    ),
    Column(
        "email",
        gettext_lazy("Email"),
        (
            "E-mail",
            "Email address",
            "E-mail address",
            "Correo",
            "Correo electrónico",
            "이메일",
            "이메일 주소",
            "전자우편",
        ),
    ),
    Column("agency", gettext_lazy("Agency"), ("Dependencia", "Institución", "Organismo", "기관", "소속", "소속 기관")),
    Column("language", gettext_lazy("Language"), ("Idioma", "Lengua", "언어")),
    Column("role", gettext_lazy("Role"), ("Función", "Rol", "역할")),
]
BY_KEY = {column.key: column for column in COLUMNS}
REQUIRED = ("name", "email", "agency")


def header(key: str) -> str:
    return force_str(BY_KEY[key].header)


@cache
def heading_names() -> dict[str, str]:
    """Every heading recognised (each column's in each language, its aliases, its key) -> the column's key."""
    names = {}
    for language in LANGUAGES:
        with translation.override(language):
            for column in COLUMNS:
                for name in (column.header, *column.aliases, column.key):
                    names.setdefault(tabular.normal(name), column.key)
    return names


# Ways of naming a language or a role that the catalogs may not give.
LANGUAGE_ALIASES = {"en": ("Ingles",), "es": ("Castellano", "Espanol"), "ko": ("한국말", "Hangul")}
ROLE_ALIASES = {
    Role.OFFICIAL: (
        "Funcionario",
        "Funcionaria",
        "Servidor público",
        "Servidora pública",
        "담당관",
        "담당자",
        "공무원",
    ),
    Role.SECRETARIAT: ("Secretariat", "Secretaría", "Secretaria", "Secretaría Técnica", "사무국", "기술사무국"),
    Role.ADMIN: ("Admin",),
}


@cache
def language_names() -> dict[str, str]:
    """Every way a language may be written (its code, its name in English, in itself and in each of the three
    languages) -> its code."""
    names = {}
    for code, label in settings.LANGUAGES:
        info = LANG_INFO.get(code, {})
        for name in (code, info.get("name", ""), info.get("name_local", ""), *LANGUAGE_ALIASES.get(code, ())):
            names.setdefault(tabular.normal(name), code)
        for language in LANGUAGES:
            with translation.override(language):
                names.setdefault(tabular.normal(label), code)
    names.pop("", None)
    return names


@cache
def role_names() -> dict[str, str]:
    names = {}
    for role in Role:
        for language in LANGUAGES:
            with translation.override(language):
                names.setdefault(tabular.normal(role.label), role.value)
        for name in (role.value, *ROLE_ALIASES.get(role, ())):
            names.setdefault(tabular.normal(name), role.value)
    return names


def _no_headings() -> tabular.BadFile:
    return tabular.BadFile(
        _(
            "No row of this file has the headings of a list of people (%(headings)s). Put them in the first row, "
            "one column each."
        )
        % {"headings": ", ".join(header(column.key) for column in COLUMNS)}
    )


def _missing(keys: list[str]) -> tabular.BadFile:
    return tabular.BadFile(
        ngettext(
            "The file has no %(columns)s column: every person needs a name, an email and an agency.",
            "The file has no %(columns)s columns: every person needs a name, an email and an agency.",
            len(keys),
        )
        % {"columns": ", ".join(header(key) for key in keys)}
    )


def _not_a_spreadsheet() -> tabular.BadFile:
    return tabular.BadFile(
        _(
            "This file is not a list the tracker can read. Upload an Excel workbook (.xlsx) or a CSV file with the "
            "columns %(headings)s."
        )
        % {"headings": ", ".join(header(column.key) for column in COLUMNS)}
    )


def _too_big() -> tabular.BadFile:
    return tabular.BadFile(_("This file unpacks to far more than a list of people needs, so it was not read."))


SPEC = tabular.Spec(
    names=heading_names,
    label=header,
    required=REQUIRED,
    no_headings=_no_headings,
    missing=_missing,
    not_a_spreadsheet=_not_a_spreadsheet,
    too_big=_too_big,
    max_bytes=MAX_BYTES,
    max_rows=MAX_ROWS,
)


@dataclass
class Problem:
    row: int | None  # the spreadsheet's own row number; None: the whole file
    column: str  # the column's heading in the user's language ("" for the whole row)
    message: str


@dataclass
class PeopleFile:
    people: list[Person] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)


class PeopleFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("List of people"),
        help_text=gettext_lazy(
            "Excel (.xlsx) or CSV, up to 5 MB and 500 people, one per row, with the columns Name, Email, Agency, "
            "Language and Role (headings in English, Spanish or Korean)."
        ),
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > MAX_BYTES:
            raise ValidationError(SPEC.too_large(uploaded.size).message)
        return uploaded


def read_people(data: bytes, *, by) -> PeopleFile:
    """Every row of the file checked against the database now: the people to invite, or every problem (row,
    column, message). `BadFile` if the file cannot be read at all. A fixed number of queries, and one or two per
    agency named (`AgencyField`'s own)."""
    table = tabular.read_table(data, SPEC)
    result = PeopleFile(unknown_columns=table.unknown)
    agencies = _Agencies(by)
    rows = []
    for row in table.rows:
        problems, values = _Problems(row.number), {}
        for key in table.columns:
            cell = row.cells[key]
            if cell.formula:
                problems.add(key, _("This cell holds a formula; type the value itself."))
                values[key] = None  # reported: no other problem is looked for in it
            else:
                values[key] = " ".join(tabular.text_of(cell).split())
        rows.append((row, values, problems))
    emails_in_file: dict[str, list[int]] = defaultdict(list)
    for row, values, _problems in rows:
        email = normal_email(values.get("email") or "")
        if email:
            emails_in_file[email.lower()].append(row.number)
    taken = taken_emails(emails_in_file)
    for row, values, problems in rows:
        person = _person(row.number, values, problems, agencies, emails_in_file, taken)
        if problems.found:
            result.problems.extend(problems.found)
        elif person is not None:
            result.people.append(person)
    if not result.problems and not result.people:
        result.problems.append(
            Problem(None, "", _("The file lists nobody: add one person per row below the headings."))
        )
    return result


class _Problems:
    def __init__(self, row: int):
        self.row, self.found = row, []

    def add(self, key: str, message: str) -> None:
        self.found.append(Problem(self.row, header(key) if key else "", message))


class _Agencies:
    """The agencies the rows name, each read once by the agency box's own rules (acronym, name in any language)."""

    def __init__(self, user):
        self.user, self.field, self.known = user, AgencyField(), {}

    def get(self, text: str) -> Agency:
        key = text.casefold()
        if key not in self.known:
            try:
                self.known[key] = self.field.clean(text)
            except ValidationError as error:
                self.known[key] = error
        found = self.known[key]
        if isinstance(found, ValidationError):
            raise found
        return found


def _person(number, values, problems, agencies, emails_in_file, taken) -> Person | None:
    """The row's person, or None with its problems added. A value None is a formula cell, reported already."""
    name = _name(values.get("name", ""), problems)
    email = _email(values.get("email", ""), number, problems, emails_in_file, taken)
    agency = _agency(values.get("agency", ""), problems, agencies)
    language = _language(values.get("language") or "", problems)
    role = _role(values.get("role") or "", problems)
    if problems.found:
        return None
    return Person(name, email, agency, language, role, row=number)


def _name(name: str | None, problems: _Problems) -> str:
    if name == "":
        problems.add("name", _("Every person needs a name."))
    elif name is not None and len(name) > 150:
        problems.add("name", _("A name can be at most 150 characters long."))
    return name or ""


def _email(text: str | None, number: int, problems: _Problems, emails_in_file, taken) -> str:
    if text is None:
        return ""
    email = normal_email(text)
    if not email:
        problems.add("email", _("Every person needs an email: the invitation is sent there."))
        return ""
    try:
        validate_email(email)
        if len(email) > 254:
            raise ValidationError("too long")
    except ValidationError:
        problems.add("email", _("“%(value)s” is not an email address.") % {"value": email[:80]})
        return ""
    others = [other for other in emails_in_file[email.lower()] if other != number]
    if others:
        problems.add(
            "email",
            ngettext(
                "%(email)s is also on row %(rows)s: invite each person once.",
                "%(email)s is also on rows %(rows)s: invite each person once.",
                len(others),
            )
            % {"email": email, "rows": ", ".join(str(other) for other in others)},
        )
    if email.lower() in taken:
        problems.add("email", _("An account with this email exists already."))
    return email


def _agency(text: str | None, problems: _Problems, agencies: _Agencies) -> Agency | None:
    if text is None:
        return None
    if not text:
        problems.add("agency", _("Every person needs an agency: its acronym or its name."))
        return None
    try:
        agency = agencies.get(text)
    except ValidationError as error:
        problems.add("agency", " ".join(error.messages))
        return None
    if not permissions.can_invite(agencies.user, agency):
        problems.add("agency", _cannot_invite_to(agencies.user, agency))
    return agency


def _language(text: str, problems: _Problems) -> str:
    if not text:
        return ""
    names = language_names()
    code = names.get(tabular.normal(text)) or names.get(tabular.normal(re.split(r"[-_]", text)[0]))
    if code is None:
        problems.add(
            "language",
            _("“%(value)s” is not a language of the tracker. Write one of: %(choices)s.")
            % {"value": text[:40], "choices": ", ".join(f"{label} ({code})" for code, label in settings.LANGUAGES)},
        )
        return ""
    return code


def _role(text: str, problems: _Problems) -> str:
    if not text:
        return Role.OFFICIAL
    role = role_names().get(tabular.normal(text))
    if role == Role.ADMIN:
        problems.add(
            "role",
            _(
                "Administrators are not invited: their accounts are made in the administration. Write one of: "
                "%(choices)s."
            )
            % {"choices": ", ".join(str(label) for _value, label in _role_choices())},
        )
    elif role is None:
        problems.add(
            "role",
            _("“%(value)s” is not a role. Write one of: %(choices)s.")
            % {"value": text[:40], "choices": ", ".join(str(label) for _value, label in _role_choices())},
        )
    return role or Role.OFFICIAL
