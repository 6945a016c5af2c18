"""The secretariat dashboard's figures, built once and then served from the cache until anything they count
changes.

Building them reads every initiative, lead, current status and update of the period (tens of milliseconds for
the report's 159 initiatives, a second for 10,000). Every write that can change a figure — an update saved,
submitted, accepted or returned, a current status, an owner, an initiative, an agency, a meeting or a period —
gives one database row (`FiguresVersion`, through the signals below) a new random value; cached figures are
keyed by that value (random rather than counting, so that a restored backup cannot bring back a number that
meant other data in a running process's cache),
by the period, by the language and by today's date in both countries (a due date ending at midnight makes
updates overdue with no write at all). So an accepted update shows on the next dashboard, on every web process.
"""

from __future__ import annotations

import secrets

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tracker import reports
from tracker.choices import Country
from tracker.models import (
    Agency,
    CurrentStatus,
    FiguresVersion,
    Initiative,
    Mechanism,
    Ownership,
    ReportingPeriod,
    StatusUpdate,
    local_today,
)

COUNTED = (StatusUpdate, CurrentStatus, Ownership, Initiative, Agency, Mechanism, ReportingPeriod)
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
def _figures_changed(sender, **kwargs):
    if sender in COUNTED:
        bump()


def dashboard(period: ReportingPeriod, language: str) -> dict:
    """The period's figures (tracker.reports.build_snapshot) in `language`, from the cache when still current."""
    days = "-".join(local_today(country).isoformat() for country in Country.values)
    key = f"tracker:dashboard:{period.pk}:{version()}:{days}:{language}"
    figures = cache.get(key)
    if figures is None:
        figures = reports.localized(reports.build_snapshot(period), language)
        cache.set(key, figures, LIFETIME)
    return figures
