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
from collections import defaultdict
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
from django.utils.translation import gettext, ngettext

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
    # The weekly digest: what the recipient's country still owes.
    owed = owed_updates(first.period).select_related("initiative", "agency").order_by("agency__name", "initiative")
    owed = owed.filter(agency__country=first.recipient.profile.agency.country)
    items = [_item(o.initiative, absolute(o.initiative.get_absolute_url()), o.agency) for o in owed[:MAX_ITEMS]]
    return items, (owed.count() if len(items) == MAX_ITEMS else len(items))


def _digest(group, now: datetime.datetime) -> dict:
    """A daily digest's content: each initiative once, in sections by how it stands against its due date (overdue
    by 7 days, overdue by 1 day, due today, due in 3 days, ...: the ladder's own steps, as the day finds them), the
    most urgent first; and the subject that says what and when ("2 updates overdue, 12 due December 17")."""
    from tracker.models import local_today

    seen, standing = set(), defaultdict(list)
    for reminder in sorted(group, key=lambda r: r.initiative.code):
        if (reminder.initiative_id, reminder.period_id) in seen:
            continue
        seen.add((reminder.initiative_id, reminder.period_id))
        late = (local_today(reminder.agency.country, now) - reminder.period.due_date).days
        item = _item(reminder.initiative, absolute(reverse("tracker:update-create", args=[reminder.initiative.code])))
        item["period"] = reminder.period.name
        standing[late, reminder.period.due_date].append(item)
    sections, overdue, due = [], 0, defaultdict(int)
    for (late, due_date), items in sorted(standing.items(), key=lambda entry: -entry[0][0]):
        if late > 0:
            heading = ngettext("Overdue by %(count)d day", "Overdue by %(count)d days", late) % {"count": late}
            overdue += len(items)
        elif late == 0:
            heading = gettext("Due today")
            due["today"] += len(items)
        else:
            heading = ngettext("Due in %(count)d day", "Due in %(count)d days", -late) % {"count": -late}
            due[due_date] += len(items)
        for item in items:
            item["standing"] = heading
        sections.append({"heading": heading, "items": items})
    parts = []
    if overdue:
        parts.append(ngettext("%(count)d update overdue", "%(count)d updates overdue", overdue) % {"count": overdue})
    if due["today"]:
        parts.append(ngettext("%(count)d due today", "%(count)d due today", due["today"]) % {"count": due["today"]})
    for due_date, count in sorted((d, c) for d, c in due.items() if d != "today"):
        day = formats.date_format(due_date, "MONTH_DAY_FORMAT")
        text = ngettext("%(count)d due %(date)s", "%(count)d due %(date)s", count)
        parts.append(text % {"count": count, "date": day})
    periods = {name for items in standing.values() for name in (item["period"] for item in items)}
    return {
        "sections": sections,
        "digest_subject": gettext(", ").join(parts),
        "several_periods": len(periods) > 1,
        "total": len(seen),
        "worklist_url": _page("tracker:home"),
        "sheet_url": absolute(reverse("tracker:worklist-sheet", args=["xlsx"])),
    }


def _escalation(group, recipient) -> dict:
    """An escalation's content: for each late agency of the group (one, or all of a day's for a digest reader),
    its late updates and whether its officials were reminded at all (an agency with no active official was not);
    and the agencies of the recipient's country nobody can be reminded at."""
    from tracker.choices import Role
    from tracker.models import Profile, Reminder
    from tracker.reminders import LADDER_KINDS, agencies_without_officials, owed_updates

    period = group[0].period
    ids = sorted({r.agency_id for r in group})
    reminded = set(
        Reminder.objects.filter(kind__in=LADDER_KINDS, agency_id__in=ids, period=period, state="sent").values_list(
            "agency_id", flat=True
        )
    )
    staffed = set(
        Profile.objects.filter(agency_id__in=ids, role=Role.OFFICIAL, user__is_active=True).values_list(
            "agency_id", flat=True
        )
    )
    owed = defaultdict(list)
    for ownership in owed_updates(period).filter(agency_id__in=ids).select_related("initiative", "agency"):
        owed[ownership.agency_id].append(ownership)
    agencies = []
    for reminder in sorted(group, key=lambda r: r.agency.display_name):
        late = sorted(owed[reminder.agency_id], key=lambda o: o.initiative.position)
        items = [_item(o.initiative, absolute(o.initiative.get_absolute_url())) for o in late[:MAX_ITEMS]]
        agencies.append(
            {
                "name": reminder.agency.display_name,
                "reminded": reminder.agency_id in reminded,
                "has_officials": reminder.agency_id in staffed,
                "items": items,
                "total": len(late),
                "more": len(late) - len(items),
            }
        )
    country = recipient.profile.agency.country if recipient.profile.agency_id else None
    unreachable = [
        {"name": agency.display_name, "count": count}
        for agency, count in agencies_without_officials(period)
        if agency.country == country
    ]
    return {
        "agencies": agencies,
        "late_updates": sum(agency["total"] for agency in agencies),
        "unreachable": unreachable,
        "people_url": _page("tracker:people"),
    }


def _one_comment(group) -> bool:
    return len({r.update.review_comment for r in group if r.update_id}) <= 1


def reminder_email(
    group_key: str, group: list, *, late: bool, now: datetime.datetime | None = None
) -> EmailMultiAlternatives:
    """The email for one group of reminders to one recipient, as of `now` (the sweep's moment)."""
    first = group[0]
    if first.kind == ReminderKind.INVITATION:
        from tracker import invitations  # its own builder: the link is made when the email is

        return invitations.invitation_email(group_key, first, late=late)
    recipient = first.recipient
    profile = recipient.profile
    kind = ReminderKind.DAILY_DIGEST if group_key.startswith("daily_digest:") else first.kind
    zone = ZoneInfo(str(profile.time_zone))
    language = profile.email_language
    with translation.override(language), timezone.override(zone):
        due = first.period.due_date if first.period else None
        planned_at = first.planned_at.astimezone(zone)
        context = {
            "language": language,
            "recipient_name": recipient.get_full_name() or recipient.username,
            "agency_name": (first.agency or profile.agency).display_name if (first.agency or profile.agency) else "",
            "period_name": first.period.name if first.period else "",
            "due": _date(due, language) if due else "",
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
        if kind == ReminderKind.ESCALATION:
            context.update(_escalation(group, recipient), items=[], more=0, total=len(group))
        elif kind == ReminderKind.DAILY_DIGEST:
            context.update(_digest(group, now=now or timezone.now()), items=[], more=0)
        else:
            context["items"], context["total"] = _items(kind, group)
            context["more"] = context["total"] - len(context["items"])
        sections = (*context.get("sections", ()), *context.get("agencies", ()))
        for item in context["items"] + [item for section in sections for item in section["items"]]:
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
