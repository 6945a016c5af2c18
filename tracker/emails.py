"""Every email the tracker sends: one builder, three templates per kind (subject, text, HTML).

Each email is written in its recipient's language and shows times in the recipient's zone; its links are
built from SITE_URL. The Message-ID is derived from what the email is about, so a repeat after a crash
carries the same Message-ID as the first copy.

A burst of reminders is thousands of emails, so building one is kept cheap (scripts/bench_reminders.py):
links and dates that are the same in every email are worked out once, and the MIME text is written
without the email package's most expensive steps, to the same bytes.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import uuid
from email.policy import Compat32
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import formats, timezone, translation

from tracker.choices import ReminderKind

DIGEST_KINDS = (ReminderKind.DAILY_DIGEST, ReminderKind.WEEKLY_DIGEST)
MAX_ITEMS = 100


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _page(name: str) -> str:
    """The address of a page without arguments (the preferences, the list): the same in every email."""
    return absolute(_path(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF))


@functools.lru_cache(maxsize=64)
def _path(name: str, script_prefix: str, urlconf: str) -> str:
    # reverse() costs tens of microseconds; the prefix and URLconf are only the cache's key.
    return reverse(name, urlconf=urlconf)


@functools.lru_cache(maxsize=256)
def _date(value: datetime.date, language: str) -> str:
    """A date as the recipient's language writes it (a period's due date is in most emails of a burst)."""
    with translation.override(language):
        return formats.date_format(value, "DATE_FORMAT")


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    # Tests change settings while the process runs; a deployment does not.
    _path.cache_clear()
    _date.cache_clear()


class _Headers(Compat32):
    """The email package's default policy, without its cost for the headers that need nothing done.

    Django encodes every non-ASCII header before the message is written, so nearly every header is one
    short line of ASCII already; for those, Header.encode() gives back the same line at many times the
    cost of writing it as it is. Anything else goes through the usual folding.
    """

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and value == value.strip()
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_HEADERS = _Headers()


class _Email(EmailMultiAlternatives):
    def message(self):
        message = super().message()
        message.policy = _HEADERS  # the writer takes the outermost part's policy for every part
        if message.is_multipart():
            # A boundary chosen now: otherwise the writer makes one up and, to rule out a clash, searches the
            # whole text with a regular expression compiled for it. Random 128 bits cannot occur in text
            # written before they were drawn.
            message.set_boundary(f"=_{uuid.uuid4().hex}")
        return message


def message_id(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    domain = urlsplit(settings.SITE_URL).hostname or "tracker.invalid"
    return f"<{digest}@{domain}>"


def _item(initiative, url: str, agency=None) -> dict:
    # Built under the recipient's language: titles and names in it where the catalog has them.
    return {
        "code": initiative.code,
        "title": initiative.display_title,
        "url": url,
        "agency": agency.display_name if agency else "",
    }


def _items(kind: str, group) -> tuple[list[dict], int]:
    """The initiatives an email is about, at most MAX_ITEMS of them, and how many there are in all."""
    from tracker.reminders import owed_updates  # the same rule that planned the reminder

    first = group[0]
    if kind in (ReminderKind.UPCOMING, ReminderKind.DUE, ReminderKind.OVERDUE, ReminderKind.DAILY_DIGEST):
        initiatives = {r.initiative.code: r.initiative for r in group}  # a digest names each initiative once
        items = [
            _item(initiative, absolute(reverse("tracker:update-create", args=[code])))
            for code, initiative in sorted(initiatives.items())
        ]
        return items, len(items)
    if kind in (ReminderKind.RETURNED, ReminderKind.ACCEPTED):
        # One decision, or several delivered together (a review of several updates): each initiative once, with
        # the link that moves it on, and the reviewer's comment on it when the decisions' comments differ.
        comments = {r.update.review_comment for r in group}
        items = []
        for reminder in sorted(group, key=lambda r: r.initiative.code)[:MAX_ITEMS]:
            if kind == ReminderKind.RETURNED:
                url = absolute(reverse("tracker:update-edit", args=[reminder.update_id]))
            else:
                url = absolute(reminder.initiative.get_absolute_url())
            item = _item(reminder.initiative, url)
            item["comment"] = reminder.update.review_comment if len(comments) > 1 else ""
            items.append(item)
        return items, len(group)
    owed = owed_updates(first.period).select_related("initiative", "agency").order_by("agency__name", "initiative")
    if kind == ReminderKind.ESCALATION:
        owed = owed.filter(agency_id=first.agency_id)
    else:  # the weekly digest: the recipient's country
        owed = owed.filter(agency__country=first.recipient.profile.agency.country)
    items = [_item(o.initiative, absolute(o.initiative.get_absolute_url()), o.agency) for o in owed[:MAX_ITEMS]]
    return items, (owed.count() if len(items) == MAX_ITEMS else len(items))


def _one_comment(group) -> bool:
    return len({r.update.review_comment for r in group if r.update_id}) <= 1


def reminder_email(group_key: str, group: list, *, late: bool) -> EmailMultiAlternatives:
    """The email for one group of reminders to one recipient."""
    first = group[0]
    recipient = first.recipient
    profile = recipient.profile
    kind = ReminderKind.DAILY_DIGEST if group_key.startswith("daily_digest:") else first.kind
    zone = ZoneInfo(str(profile.time_zone))
    with translation.override(profile.language), timezone.override(zone):
        due = first.period.due_date if first.period else None
        planned_at = first.planned_at.astimezone(zone)
        context = {
            "language": profile.language,
            "recipient_name": recipient.get_full_name() or recipient.username,
            "agency_name": (first.agency or profile.agency).display_name if (first.agency or profile.agency) else "",
            "period_name": first.period.name if first.period else "",
            "due": _date(due, profile.language) if due else "",
            "late": late,
            # Only a late email says when it was planned.
            "planned_at": f"{formats.date_format(planned_at, 'DATETIME_FORMAT')} {planned_at.tzname()}" if late else "",
            "list_url": _page("tracker:initiative-list") + "?overdue=true",
            "preferences_url": _page("tracker:preferences"),
            # A decision's comment; for several decisions delivered together, the one they share (else each
            # item carries its own).
            "comment": first.update.review_comment if first.update_id and _one_comment(group) else "",
            "reviewer_name": (
                first.update.reviewed_by.get_full_name() or first.update.reviewed_by.username
                if first.update_id and first.update.reviewed_by_id
                else ""
            ),
        }
        context["items"], context["total"] = _items(kind, group)
        context["more"] = context["total"] - len(context["items"])
        for item in context["items"]:
            item["link_label"] = translation.gettext("Open %(code)s") % {"code": item["code"]}
        subject = render_to_string(f"emails/{kind}/subject.txt", context).strip()
        context["subject"] = subject
        text = render_to_string(f"emails/{kind}/body.txt", context)
        html = render_to_string(f"emails/{kind}/body.html", context)
    headers = {
        "Message-ID": message_id(group_key),
        "X-Tracker-Reminder": group_key,
        "Auto-Submitted": "auto-generated",
    }
    if kind in DIGEST_KINDS:
        headers["List-Unsubscribe"] = f"<{context['preferences_url']}>"
    message = _Email(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient.email], headers=headers)
    message.attach_alternative(html, "text/html")
    return message
