"""Every email the tracker sends: one builder, three templates per kind (subject, text, HTML).

Each email is written in its recipient's language and shows times in the recipient's zone; its links are
built from SITE_URL. The Message-ID is derived from what the email is about, so a repeat after a crash
carries the same Message-ID as the first copy.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation

from tracker.choices import ReminderKind

DIGEST_KINDS = (ReminderKind.DAILY_DIGEST, ReminderKind.WEEKLY_DIGEST)
MAX_ITEMS = 100


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


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
    if kind == ReminderKind.RETURNED:
        return [_item(first.initiative, absolute(reverse("tracker:update-edit", args=[first.update_id])))], 1
    if kind == ReminderKind.ACCEPTED:
        return [_item(first.initiative, absolute(first.initiative.get_absolute_url()))], 1
    owed = owed_updates(first.period).select_related("initiative", "agency").order_by("agency__name", "initiative")
    if kind == ReminderKind.ESCALATION:
        owed = owed.filter(agency_id=first.agency_id)
    else:  # the weekly digest: the recipient's country
        owed = owed.filter(agency__country=first.recipient.profile.agency.country)
    items = [_item(o.initiative, absolute(o.initiative.get_absolute_url()), o.agency) for o in owed[:MAX_ITEMS]]
    return items, (owed.count() if len(items) == MAX_ITEMS else len(items))


def reminder_email(group_key: str, group: list, *, late: bool) -> EmailMultiAlternatives:
    """The email for one group of reminders to one recipient."""
    first = group[0]
    recipient = first.recipient
    profile = recipient.profile
    kind = ReminderKind.DAILY_DIGEST if group_key.startswith("daily_digest:") else first.kind
    zone = ZoneInfo(str(profile.time_zone))
    with translation.override(profile.language), timezone.override(zone):
        due = first.period.due_date if first.period else None
        context = {
            "language": profile.language,
            "recipient_name": recipient.get_full_name() or recipient.username,
            "agency_name": (first.agency or profile.agency).display_name if (first.agency or profile.agency) else "",
            "period_name": first.period.name if first.period else "",
            "due": formats.date_format(due, "DATE_FORMAT") if due else "",
            "late": late,
            "planned_at": f"{formats.date_format(first.planned_at.astimezone(zone), 'DATETIME_FORMAT')} "
            f"{first.planned_at.astimezone(zone).tzname()}",
            "list_url": absolute(reverse("tracker:initiative-list")) + "?overdue=true",
            "preferences_url": absolute(reverse("tracker:preferences")),
            "comment": first.update.review_comment if first.update_id else "",
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
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient.email], headers=headers)
    message.attach_alternative(html, "text/html")
    return message
