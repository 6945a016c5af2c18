"""What a progress report contains, and how it is built, frozen and published.

A report's content is a plain, JSON-serialisable snapshot:

- every initiative with its code, title, theme, High Level Meeting, lead agency on each side, and on each side
  the accepted status, progress and latest accepted summary, what changed since the previous report, and
  whether the side's update for the period is overdue;
- counts by status per theme and per High Level Meeting (one count per initiative and side);
- reporting compliance per lead agency: updates due, submitted, and submitted on time;
- the list of what is overdue.

Statuses and themes are stored as codes and labelled when shown, and titles and names are stored in the report's
English with the catalog's Spanish and Korean versions beside them ("names"), so one frozen snapshot can be read
in English, Spanish or Korean (`localized`). A draft report is built afresh each time it is looked at;
`freeze_report` stores the snapshot, after which nothing that happens in the tracker changes the report.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tracker.catalog_files import TRANSLATED_LANGUAGES
from tracker.choices import COUNTRY_TIME_ZONES, Country, OwnershipRole, ReportState, ReviewState, Status, Theme
from tracker.models import (
    CurrentStatus,
    Initiative,
    Mechanism,
    Ownership,
    ProgressReport,
    ReportingPeriod,
    StatusUpdate,
)

SIDES = (Country.MEXICO.value, Country.KOREA.value)
NO_REPORT = "none"
STATUS_ORDER = [s.value for s in Status] + [NO_REPORT]


def end_of_due_day(period: ReportingPeriod, country: str) -> datetime.datetime:
    """Updates are due by the end of the due date in the reporting agency's country."""
    zone = ZoneInfo(COUNTRY_TIME_ZONES[country])
    return datetime.datetime.combine(period.due_date + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)


def build_snapshot(period: ReportingPeriod, *, previous: ProgressReport | None = None, now=None) -> dict:
    now = now or timezone.now()
    initiatives = list(Initiative.objects.select_related("matrix_issue__mechanism").order_by("position"))
    mechanisms = list(Mechanism.objects.order_by("position"))
    meetings = [m.name for m in mechanisms]
    leads: dict[tuple[int, str], Ownership] = {
        (o.initiative_id, o.country): o
        for o in Ownership.objects.filter(role=OwnershipRole.LEAD).select_related("agency")
    }
    current = {
        (c.initiative_id, c.country): c
        for c in CurrentStatus.objects.select_related("update").only(
            "initiative_id", "country", "status", "progress", "update__summary", "update__reviewed_at"
        )
    }
    done = defaultdict(list)  # (initiative, agency) -> submission times of this period's submitted/accepted updates
    for initiative_id, agency_id, state, first_submitted_at in StatusUpdate.objects.filter(
        period=period, first_submitted_at__isnull=False
    ).values_list("initiative_id", "agency_id", "review_state", "first_submitted_at"):
        # Compliance counts the first time the agency submitted, even if the update was returned and revised.
        done[(initiative_id, agency_id)].append((first_submitted_at, state))
    before = {row["code"]: row for row in (previous.snapshot or {}).get("initiatives", [])} if previous else {}
    # English title or name -> its translation, for every one the snapshot mentions that has one.
    names: dict[str, dict[str, str]] = {language: {} for language in TRANSLATED_LANGUAGES}

    def remember(instance, field: str) -> None:
        for language in TRANSLATED_LANGUAGES:
            if translated := getattr(instance, f"{field}_{language}"):
                names[language][getattr(instance, field)] = translated

    for mechanism in mechanisms:
        remember(mechanism, "name")
    for lead in leads.values():
        remember(lead.agency, "name")

    rows, overdue = [], []
    by_theme: dict[str, Counter] = defaultdict(Counter)
    by_meeting: dict[str, Counter] = defaultdict(Counter)
    compliance: dict[int, dict] = {}
    for initiative in initiatives:
        remember(initiative, "title")
        row = {
            "code": initiative.code,
            "title": initiative.title,
            "kind": initiative.kind,
            "theme": initiative.theme,
            "meeting": initiative.matrix_issue.mechanism.name if initiative.matrix_issue_id else "",
            "sides": {},
        }
        for side in SIDES:
            lead = leads.get((initiative.pk, side))
            status = current.get((initiative.pk, side))
            submissions = done.get((initiative.pk, lead.agency_id), []) if lead else []
            # Overdue means still owed: nothing submitted or accepted stands (a returned update is owed again).
            owed = not any(state in (ReviewState.SUBMITTED, ReviewState.ACCEPTED) for _, state in submissions)
            late = bool(lead) and owed and now >= end_of_due_day(period, side)
            cell = {
                "lead": lead.agency.name if lead else "",
                "lead_acronym": lead.agency.acronym if lead else "",
                "status": status.status if status else NO_REPORT,
                "progress": status.progress if status else None,
                "summary": status.update.summary if status else "",
                "accepted_at": status.update.reviewed_at.isoformat() if status and status.update.reviewed_at else None,
                "overdue": late,
                "change": _change(before.get(initiative.code, {}).get("sides", {}).get(side), status, previous),
            }
            row["sides"][side] = cell
            by_theme[initiative.theme][cell["status"]] += 1
            if row["meeting"]:
                by_meeting[row["meeting"]][cell["status"]] += 1
            if lead:
                entry = compliance.setdefault(
                    lead.agency_id,
                    {"agency": lead.agency.name, "country": side, "due": 0, "submitted": 0, "on_time": 0},
                )
                entry["due"] += 1
                if submissions:
                    entry["submitted"] += 1
                    if min(at for at, _ in submissions) < end_of_due_day(period, side):
                        entry["on_time"] += 1
            if late:
                overdue.append(
                    {"code": initiative.code, "title": initiative.title, "agency": lead.agency.name, "country": side}
                )
        rows.append(row)

    return {
        "period": {
            "name": period.name,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "due_date": period.due_date.isoformat(),
        },
        "built_at": now.isoformat(),
        "previous": {"id": previous.pk, "title": previous.title} if previous else None,
        "initiatives": rows,
        "by_theme": [{"theme": theme, "counts": dict(by_theme[theme])} for theme in Theme.values if theme in by_theme],
        "by_meeting": [{"meeting": name, "counts": dict(by_meeting[name])} for name in meetings if name in by_meeting],
        "compliance": sorted(compliance.values(), key=lambda e: (e["country"], e["agency"])),
        "overdue": overdue,
        "totals": dict(Counter(cell["status"] for row in rows for cell in row["sides"].values())),
        "names": names,
    }


def localized(snapshot: dict, language: str) -> dict:
    """The snapshot with its titles and names in `language` where the catalog had them when it was built."""
    names = (snapshot.get("names") or {}).get(language.split("-")[0])
    if not names:
        return snapshot

    def name(text: str) -> str:
        return names.get(text, text)

    return {
        **snapshot,
        "initiatives": [
            {
                **row,
                "title": name(row["title"]),
                "meeting": name(row["meeting"]),
                "sides": {side: {**cell, "lead": name(cell["lead"])} for side, cell in row["sides"].items()},
            }
            for row in snapshot["initiatives"]
        ],
        "by_meeting": [{**group, "meeting": name(group["meeting"])} for group in snapshot["by_meeting"]],
        "compliance": sorted(  # in the reader's alphabet
            ({**entry, "agency": name(entry["agency"])} for entry in snapshot["compliance"]),
            key=lambda entry: (entry["country"], entry["agency"]),
        ),
        "overdue": [
            {**item, "title": name(item["title"]), "agency": name(item["agency"])} for item in snapshot["overdue"]
        ],
    }


def _change(before: dict | None, status: CurrentStatus | None, previous) -> dict | None:
    """What changed on one side since the previous report: status and progress then and now."""
    if previous is None:
        return None
    then_status = before["status"] if before else NO_REPORT
    then_progress = before["progress"] if before else None
    now_status = status.status if status else NO_REPORT
    now_progress = status.progress if status else None
    if (then_status, then_progress) == (now_status, now_progress):
        return None
    return {"status_from": then_status, "progress_from": then_progress}


def previous_report(report: ProgressReport) -> ProgressReport | None:
    """The latest frozen or published report of an earlier period, to compare with."""
    return (
        ProgressReport.objects.exclude(pk=report.pk)
        .exclude(state=ReportState.DRAFT)
        .filter(period__due_date__lt=report.period.due_date)
        .order_by("-period__due_date", "-frozen_at")
        .first()
    )


def content(report: ProgressReport, language: str | None = None) -> dict:
    """A report's content in `language` (the active one by default): its frozen snapshot, or for a draft, today's
    figures."""
    if report.snapshot is not None:
        snapshot = report.snapshot
    else:
        snapshot = build_snapshot(report.period, previous=previous_report(report))
    return localized(snapshot, language or translation.get_language() or "en")


@transaction.atomic
def freeze_report(report: ProgressReport, *, user) -> ProgressReport:
    report = ProgressReport.objects.select_for_update().get(pk=report.pk)
    if report.state != ReportState.DRAFT:
        raise ValidationError(_("This report is already frozen."))
    report.snapshot = build_snapshot(report.period, previous=previous_report(report))
    report.state = ReportState.FROZEN
    report.frozen_at = timezone.now()
    report.frozen_by = user
    report.save()
    return report


@transaction.atomic
def publish_report(report: ProgressReport, *, user) -> ProgressReport:
    report = ProgressReport.objects.select_for_update().get(pk=report.pk)
    if report.state != ReportState.FROZEN:
        raise ValidationError(_("Freeze the report before publishing it, so that what is published cannot change."))
    report.state = ReportState.PUBLISHED
    report.published_at = timezone.now()
    report.published_by = user
    report.save()
    return report


def status_label(code: str) -> str:
    return str(_("No accepted report yet") if code == NO_REPORT else Status(code).label)


def table_rows(snapshot: dict) -> list[list]:
    """One row per initiative and side, for the CSV and XLSX downloads."""
    header = [
        _("Code"),
        _("Title"),
        _("Theme"),
        _("High Level Meeting"),
        _("Side"),
        _("Lead agency"),
        _("Status"),
        _("Progress (%)"),
        _("Latest accepted summary"),
        _("Overdue"),
        _("Status in the previous report"),
    ]
    rows = [header]
    for row in snapshot["initiatives"]:
        for side in SIDES:  # in a fixed order: PostgreSQL's JSON does not keep the keys' order
            cell = row["sides"][side]
            change = cell.get("change")
            rows.append(
                [
                    row["code"],
                    row["title"],
                    str(Theme(row["theme"]).label),
                    row["meeting"],
                    str(Country(side).label),
                    cell["lead"],
                    status_label(cell["status"]),
                    cell["progress"] if cell["progress"] is not None else "",
                    cell["summary"],
                    _("Yes") if cell["overdue"] else _("No"),
                    status_label(change["status_from"]) if change else "",
                ]
            )
    return rows


def progress_over_periods() -> list[dict]:
    """Average accepted progress on each side, period by period: how far the whole programme has come."""
    from django.db.models import Avg, Count

    rows = (
        StatusUpdate.objects.filter(review_state=ReviewState.ACCEPTED)
        .values("period__name", "period__due_date", "agency__country")
        .annotate(average=Avg("progress"), updates=Count("id"))
        .order_by("period__due_date")
    )
    periods: dict[str, dict] = {}
    for row in rows:
        entry = periods.setdefault(row["period__name"], {"period": row["period__name"], "sides": {}})
        entry["sides"][row["agency__country"]] = {"average": round(row["average"]), "updates": row["updates"]}
    return list(periods.values())
