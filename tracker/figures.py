"""The secretariat dashboard's figures, built once and then served from the cache until anything they count
changes.

Building them reads every initiative, lead, current status and update of the period (tens of milliseconds for
the report's 159 initiatives, two seconds for 10,000). Every write that can change a figure — an update
submitted, accepted or returned (a draft counts nowhere: saving one changes nothing), a current status, an
owner, an initiative, an agency, a meeting or a period — gives one database row (`FiguresVersion`, through the
signals below) a new random value; cached figures are keyed by that value (random rather than counting, so that
a restored backup cannot bring back a number that meant other data in a running process's cache), by the
period, by the language and by today's date in both countries (a due date ending at midnight makes updates
overdue with no write at all). So an accepted update shows on the next dashboard, on every web process.

With CACHE_URL set to Redis (production), the web processes share one copy: built once per change, not once
in each process. The figures' HTML is kept with them. A cache that fails costs a rebuild, never the page.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import translation

from tracker import reminders, reports
from tracker.choices import Country, ReviewState
from tracker.models import (
    Agency,
    CurrentStatus,
    FiguresVersion,
    Initiative,
    Mechanism,
    Ownership,
    Profile,
    ReportingPeriod,
    StatusUpdate,
    local_today,
)

logger = logging.getLogger(__name__)

COUNTED = (StatusUpdate, CurrentStatus, Ownership, Initiative, Agency, Mechanism, ReportingPeriod)
PEOPLE = (User, Profile)
LIFETIME = 24 * 3600  # a bound on memory, not on correctness: the key changes with anything the figures count


def version() -> int:
    row = FiguresVersion.objects.filter(pk=1).values_list("value", flat=True).first()
    return row or 0


def bump() -> None:
    value = secrets.randbits(62)
    if not FiguresVersion.objects.filter(pk=1).update(value=value):
        FiguresVersion.objects.update_or_create(pk=1, defaults={"value": value})


@receiver(post_save)
@receiver(post_delete)
def _figures_changed(sender, instance=None, **kwargs):
    if sender in COUNTED and not (sender is StatusUpdate and instance.review_state == ReviewState.DRAFT):
        bump()
    elif sender in PEOPLE and set(kwargs.get("update_fields") or ()) != {"last_login"}:
        bump()  # who can be reminded (the agencies without an active official); not every sign-in


# What the dashboard shows of a report's content: the counts, not the rows (10,000 initiatives would make the
# cached value megabytes, read on every request).
DASHBOARD_PARTS = ("by_theme", "by_meeting", "compliance", "totals")


def dashboard(period: ReportingPeriod, language: str) -> dict:
    """The open period's figures (tracker.reports.build_snapshot) and the progress over all periods
    (tracker.reports.progress_over_periods) in `language`, from the cache when still current."""
    key = f"tracker:dashboard:{period.pk}:{version()}:{_days()}:{language}"

    def build() -> dict:
        content = reports.localized(reports.build_snapshot(period), language)
        return {
            "content": {part: content[part] for part in DASHBOARD_PARTS if part in content},
            "progress": reports.progress_over_periods(),
            "unreachable": [
                {"name": agency.display_name, "acronym": agency.acronym, "country": agency.country, "count": count}
                for agency, count in reminders.agencies_without_officials(period)
            ],
            "key": key,
        }

    return _kept_under(key, build)


def kept(name: str, variant: str, build: Callable[[], object]):
    """`build()`, kept under the version: for what shows only the counted data (the initiative lists' tables),
    by `variant` (what else decides it: the query string, the language) and today's dates."""
    # Hashed: a query string is user input (spaces, any character, any length), a key is not.
    return _kept_under(f"tracker:{name}:{version()}:{_days()}:{hashlib.sha256(variant.encode()).hexdigest()}", build)


def fragment(figures: dict, render: Callable[[], str]) -> str:
    """The figures as HTML (`render()`), kept with them: rendering the tables of 200 agencies costs more than
    reading the figures. The key is the figures' own, with the active language, so it changes when they do."""
    return _kept_under(f"{figures['key']}:html:{translation.get_language()}", render)


def _days() -> str:
    """Today in both countries: a due date ending at midnight changes what is overdue with no write at all."""
    return "-".join(local_today(country).isoformat() for country in Country.values)


# A cache that does not answer (Redis down) costs a rebuild, never the page.


def _kept_under(key: str, build: Callable[[], object]):
    value = _cache_get(key)
    if value is None:
        value = build()
        _cache_set(key, value)
    return value


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - any cache failure: build the figures instead
        logger.warning("the cache did not answer; the figures are built for this request", exc_info=True)
        return None


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, LIFETIME)
    except Exception:  # noqa: BLE001
        logger.warning("the cache did not answer; the figures were not kept", exc_info=True)
