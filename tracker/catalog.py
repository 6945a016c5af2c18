"""The catalog as data: from the files to the database, from the database to JSON, and back.

One plain structure is used everywhere (the `export_catalog` JSON): a report, its agencies, its matrix and
its initiatives with their owners. `catalog_from_files()` builds it from `fixtures/catalog/`, deriving the
owners by the ownership rule below; `export_catalog()` reads it from the database; `apply_catalog()` writes it.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction

from tracker.catalog_files import CATALOG_DIR, TRANSLATED_LANGUAGES, Catalog, CatalogError, load_checked_catalog
from tracker.choices import Country, InitiativeKind, OwnershipRole, OwnershipSource, Visibility
from tracker.models import (
    Agency,
    Initiative,
    MatrixIssue,
    MatrixResponsibility,
    Mechanism,
    Ownership,
    Report,
)
from tracker.report_text import REPORT_PATH, ReportText

CHANGE_REASON = "load_report"


def translated_fields(base: str) -> list[str]:
    """The fields holding `base` in the other languages: title -> title_es, title_ko."""
    return [f"{base}_{language}" for language in TRANSLATED_LANGUAGES]


TRANSLATED_FIELDS = {*translated_fields("title"), *translated_fields("name")}
GENERAL_COORDINATION_ROW = "general-coordination"
SIDES = {Country.MEXICO: "mexico", Country.KOREA: "korea"}

REPORT = {
    "slug": "mexico-korea-21st-century-commission",
    "title": "Mexico-Korea 21st Century Commission: Final Report",
    "date": "2005-06-01",
    "language": "en",
}


# --- The ownership rule ------------------------------------------------------------------------------


def derive_owners(initiative: dict, catalog: Catalog) -> list[dict]:
    """Who owns an initiative, on each side, and why.

    The lead is the first body of the matrix row that fits the initiative; where no row fits, the first
    body the report names for it on that side; where it names none, General Coordination (the Secretariat
    for Foreign Relations and the Ministry of Foreign Affairs and Trade). Every other body of the row or of
    the text supports. Each owner records where it came from.
    """
    owners: list[dict] = []
    matrix_key = initiative.get("matrix_issue")
    row = catalog.matrix_issue(matrix_key) if matrix_key else None
    for country, side in SIDES.items():
        candidates: list[tuple[str, str, str | None]] = []
        if row:
            candidates += [(key, OwnershipSource.MATRIX, matrix_key) for key in row[side]["agencies"]]
        for key in initiative.get("named") or []:
            if catalog.agency(key)["country"] == country:
                candidates.append((key, OwnershipSource.NAMED, None))
        if not candidates:
            default_row = catalog.matrix_issue(GENERAL_COORDINATION_ROW)
            candidates = [(default_row[side]["agencies"][0], OwnershipSource.DEFAULT, None)]
        seen: set[str] = set()
        for key, source, row_key in candidates:
            if key in seen:
                continue
            owners.append(
                {
                    "agency": key,
                    "country": country.value,
                    "role": OwnershipRole.SUPPORTING.value if seen else OwnershipRole.LEAD.value,
                    "source": source.value,
                    "matrix_issue": row_key,
                }
            )
            seen.add(key)
    return owners


# --- Files -> structure --------------------------------------------------------------------------------


def catalog_from_files(directory=CATALOG_DIR) -> dict:
    """The catalog files as the export structure, checked, with owners derived."""
    catalog = load_checked_catalog(directory)
    agency_fields = ("key", "country", "name", "acronym", "kind")

    def translated(kind: str, key: str, base: str) -> dict:
        return {f"{base}_{language}": catalog.translation(language, kind, key) for language in TRANSLATED_LANGUAGES}

    return {
        "report": dict(REPORT),
        "agencies": [
            {
                **{name: agency.get(name) or "" for name in agency_fields},
                **translated("agencies", agency["key"], "name"),
                "parent": agency.get("parent"),
            }
            for agency in catalog.agencies
        ],
        "matrix": [
            {
                "key": mechanism["key"],
                "name": mechanism["name"],
                **translated("mechanisms", mechanism["key"], "name"),
                "kind": mechanism["kind"],
                "footnote": mechanism.get("footnote") or "",
                "issues": [
                    {
                        "key": issue["key"],
                        "issue": issue["issue"],
                        "mexico": {"text": issue["mexico"]["text"], "agencies": list(issue["mexico"]["agencies"])},
                        "korea": {"text": issue["korea"]["text"], "agencies": list(issue["korea"]["agencies"])},
                    }
                    for issue in mechanism["issues"]
                ],
            }
            for mechanism in catalog.mechanisms
        ],
        "initiatives": [
            {
                "code": initiative["code"],
                "title": initiative["title"],
                **translated("initiatives", initiative["code"], "title"),
                "kind": initiative["kind"],
                "parent": initiative.get("parent"),
                "theme": initiative["theme"],
                "section": initiative["section"],
                "paragraph": str(initiative["paragraph"]),
                "quote": initiative["quote"],
                "target": initiative.get("target") or "",
                "matrix_issue": initiative.get("matrix_issue"),
                "visibility": initiative.get("visibility") or Visibility.PUBLIC.value,
                "owners": derive_owners(initiative, catalog),
            }
            for initiative in catalog.initiatives
        ],
    }


# --- Database -> structure -----------------------------------------------------------------------------


def export_catalog() -> dict:
    """The catalog in the database, in the structure `apply_catalog` reads."""
    report = Report.objects.get(slug=REPORT["slug"])
    agencies = Agency.objects.select_related("parent").order_by("id")
    mechanisms = Mechanism.objects.filter(report=report).prefetch_related("issues__responsibilities__agency")
    initiatives = (
        Initiative.objects.filter(report=report)
        .select_related("parent", "matrix_issue")
        .prefetch_related("ownerships__agency", "ownerships__matrix_issue")
    )

    def cell(issue: MatrixIssue, country: str) -> dict:
        text = issue.mexico_text if country == Country.MEXICO else issue.korea_text
        keys = [r.agency.key for r in issue.responsibilities.all() if r.agency.country == country]
        return {"text": text, "agencies": keys}

    def owner_order(ownership: Ownership) -> tuple:
        return (ownership.country != Country.MEXICO, ownership.role != OwnershipRole.LEAD, ownership.pk)

    return {
        "report": {
            "slug": report.slug,
            "title": report.title,
            "date": report.date.isoformat(),
            "language": report.language,
        },
        "agencies": [
            {
                "key": agency.key,
                "country": agency.country,
                "name": agency.name,
                **{name: getattr(agency, name) for name in translated_fields("name")},
                "acronym": agency.acronym,
                "kind": agency.kind,
                "parent": agency.parent.key if agency.parent else None,
            }
            for agency in agencies
        ],
        "matrix": [
            {
                "key": mechanism.key,
                "name": mechanism.name,
                **{name: getattr(mechanism, name) for name in translated_fields("name")},
                "kind": mechanism.kind,
                "footnote": mechanism.footnote,
                "issues": [
                    {
                        "key": issue.key,
                        "issue": issue.issue,
                        "mexico": cell(issue, Country.MEXICO),
                        "korea": cell(issue, Country.KOREA),
                    }
                    for issue in mechanism.issues.all()
                ],
            }
            for mechanism in mechanisms
        ],
        "initiatives": [
            {
                "code": initiative.code,
                "title": initiative.title,
                **{name: getattr(initiative, name) for name in translated_fields("title")},
                "kind": initiative.kind,
                "parent": initiative.parent.code if initiative.parent else None,
                "theme": initiative.theme,
                "section": initiative.section,
                "paragraph": initiative.paragraph,
                "quote": initiative.quote,
                "target": initiative.target_phrase,
                "matrix_issue": initiative.matrix_issue.key if initiative.matrix_issue else None,
                "visibility": initiative.visibility,
                "owners": [
                    {
                        "agency": ownership.agency.key,
                        "country": ownership.country,
                        "role": ownership.role,
                        "source": ownership.source,
                        "matrix_issue": ownership.matrix_issue.key if ownership.matrix_issue else None,
                    }
                    for ownership in sorted(initiative.ownerships.all(), key=owner_order)
                ],
            }
            for initiative in initiatives
        ],
    }


# --- Structure -> database -----------------------------------------------------------------------------


@dataclass
class ApplyResult:
    """What `apply_catalog` did, per kind of row: created, updated, unchanged, kept (differs, not overwritten)."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    def lines(self) -> list[str]:
        order = ("created", "updated", "unchanged", "kept")
        return [
            f"{kind}: " + ", ".join(f"{counter[o]} {o}" for o in order if counter[o])
            for kind, counter in self.counts.items()
        ]

    @property
    def changed(self) -> bool:
        return any(counter["created"] or counter["updated"] for counter in self.counts.values())


def _upsert(result: ApplyResult, kind: str, model, lookup: dict, values: dict, overwrite: bool):
    """Create the row, or bring an existing one in line when `overwrite`; never save an unchanged row."""
    instance = model.objects.filter(**lookup).first()
    if instance is None:
        instance = model(**lookup, **values)
        instance._change_reason = CHANGE_REASON
        instance.save()
        result.count(kind, "created")
        return instance, True
    differs = {name: value for name, value in values.items() if getattr(instance, name) != value}
    # A translation the catalog gained since the row was loaded fills an empty field even without `overwrite`:
    # nobody's edit is lost, and an installation gets the new Spanish and Korean titles on its next load.
    fills = {
        name: value for name, value in differs.items() if name in TRANSLATED_FIELDS and not getattr(instance, name)
    }
    if fills and not overwrite:
        for name, value in fills.items():
            setattr(instance, name, value)
        instance._change_reason = CHANGE_REASON
        instance.save()
        differs = {name: value for name, value in differs.items() if name not in fills}
    if not differs:
        result.count(kind, "updated" if fills else "unchanged")
    elif overwrite:
        for name, value in differs.items():
            setattr(instance, name, value)
        instance._change_reason = CHANGE_REASON
        instance.save()
        result.count(kind, "updated")
    else:
        result.count(kind, "kept")
    return instance, False


def check_structure(data: dict) -> list[str]:
    """What in an export structure refers to nothing, or leaves an initiative without its two leads."""
    problems: list[str] = []
    agencies = {row["key"]: row for row in data.get("agencies", [])}
    issues = {issue["key"] for mechanism in data.get("matrix", []) for issue in mechanism["issues"]}
    kinds = {row["code"]: row["kind"] for row in data.get("initiatives", [])}
    for row in data.get("agencies", []):
        if row.get("parent") and row["parent"] not in agencies:
            problems.append(f"agency {row['key']}: unknown parent {row['parent']}")
    for mechanism in data.get("matrix", []):
        for issue in mechanism["issues"]:
            for side in ("mexico", "korea"):
                problems += [
                    f"matrix issue {issue['key']}: unknown agency {key}"
                    for key in issue[side]["agencies"]
                    if key not in agencies
                ]
    for row in data.get("initiatives", []):
        label = f"initiative {row['code']}"
        if row["kind"] == InitiativeKind.ACTION and kinds.get(row.get("parent")) != InitiativeKind.STRATEGIC:
            problems.append(f"{label}: parent {row.get('parent')} is not a strategic initiative")
        if row.get("matrix_issue") and row["matrix_issue"] not in issues:
            problems.append(f"{label}: unknown matrix issue {row['matrix_issue']}")
        leads = []
        for owner in row.get("owners", []):
            if owner["agency"] not in agencies:
                problems.append(f"{label}: unknown agency {owner['agency']}")
            elif owner["role"] == OwnershipRole.LEAD:
                leads.append(agencies[owner["agency"]]["country"])
        if sorted(leads) != sorted(Country.values):
            problems.append(f"{label}: needs exactly one lead agency in Mexico and one in Korea")
    return problems


@transaction.atomic
def apply_catalog(data: dict, *, overwrite: bool = False, report_text: str | None = None) -> ApplyResult:
    """Write the catalog into the database.

    Rows that are missing are created. Rows that exist and differ from `data` (an administrator may have
    edited them) are kept as they are unless `overwrite` is set. Running it twice changes nothing.
    """
    problems = check_structure(data)
    if problems:
        raise CatalogError("\n".join(problems))
    result = ApplyResult()
    text = report_text if report_text is not None else REPORT_PATH.read_text(encoding="utf-8")
    located = ReportText(text)
    meta = data["report"]
    report, _ = _upsert(
        result,
        "report",
        Report,
        {"slug": meta["slug"]},
        {
            "title": meta["title"],
            "date": datetime.date.fromisoformat(meta["date"]),
            "language": meta["language"],
            "source_text": text,
        },
        overwrite,
    )

    agencies: dict[str, Agency] = {}
    for row in data["agencies"]:
        values = {name: row[name] for name in ("country", "name", "acronym", "kind")}
        values.update({name: row.get(name) or "" for name in translated_fields("name")})
        agencies[row["key"]], _ = _upsert(result, "agencies", Agency, {"key": row["key"]}, values, overwrite)
    for row in data["agencies"]:  # parents, once every body exists
        parent = agencies[row["parent"]] if row.get("parent") else None
        agency = agencies[row["key"]]
        if agency.parent_id != (parent.pk if parent else None) and (overwrite or agency.parent_id is None):
            agency.parent = parent
            agency._change_reason = CHANGE_REASON
            agency.save()

    matrix_issues: dict[str, MatrixIssue] = {}
    for position, row in enumerate(data["matrix"]):
        mechanism, _ = _upsert(
            result,
            "mechanisms",
            Mechanism,
            {"key": row["key"]},
            {
                "report": report,
                "name": row["name"],
                **{name: row.get(name) or "" for name in translated_fields("name")},
                "kind": row["kind"],
                "footnote": row["footnote"],
                "position": position,
            },
            overwrite,
        )
        for issue_position, issue_row in enumerate(row["issues"]):
            issue, created = _upsert(
                result,
                "matrix issues",
                MatrixIssue,
                {"key": issue_row["key"]},
                {
                    "mechanism": mechanism,
                    "issue": issue_row["issue"],
                    "position": issue_position,
                    "mexico_text": issue_row["mexico"]["text"],
                    "korea_text": issue_row["korea"]["text"],
                },
                overwrite,
            )
            matrix_issues[issue.key] = issue
            if created or overwrite:
                wanted = [
                    (agencies[key], position)
                    for side in ("mexico", "korea")
                    for position, key in enumerate(issue_row[side]["agencies"])
                ]
                _sync_responsibilities(issue, wanted)

    initiatives: dict[str, Initiative] = {}
    # Strategic initiatives first, so that every action's parent exists when the action is written.
    in_order = sorted(enumerate(data["initiatives"]), key=lambda item: item[1]["kind"] != InitiativeKind.STRATEGIC)
    for position, row in in_order:
        values = {
            "report": report,
            "title": row["title"],
            **{name: row.get(name) or "" for name in translated_fields("title")},
            "kind": row["kind"],
            "theme": row["theme"],
            "section": row["section"],
            "paragraph": row["paragraph"],
            "quote": row["quote"],
            "target_phrase": row["target"],
            "matrix_issue": matrix_issues[row["matrix_issue"]] if row["matrix_issue"] else None,
            "visibility": row.get("visibility") or Visibility.PUBLIC,
            "position": position,
            "parent": initiatives[row["parent"]] if row["parent"] else None,
        }
        initiative, created = _upsert(result, "initiatives", Initiative, {"code": row["code"]}, values, overwrite)
        initiatives[initiative.code] = initiative
        _place(initiative, located)
        if created or overwrite:
            _sync_owners(result, initiative, row["owners"], agencies, matrix_issues)
        else:
            result.count("ownerships", "unchanged")
    return result


def _place(initiative: Initiative, text: ReportText) -> None:
    """Keep where the quote sits in the report up to date: derived data, so no audit record for it."""
    before = (initiative.report_line, initiative.quote_start, initiative.quote_end)
    initiative.place_in_report(text)
    after = (initiative.report_line, initiative.quote_start, initiative.quote_end)
    if after != before:
        Initiative.objects.filter(pk=initiative.pk).update(
            report_line=initiative.report_line, quote_start=initiative.quote_start, quote_end=initiative.quote_end
        )


def _sync_responsibilities(issue: MatrixIssue, wanted: list[tuple[Agency, int]]) -> None:
    existing = {r.agency_id: r for r in issue.responsibilities.all()}
    for agency, position in wanted:
        responsibility = existing.pop(agency.pk, None)
        if responsibility is None:
            responsibility = MatrixResponsibility(matrix_issue=issue, agency=agency, position=position)
        elif responsibility.position == position:
            continue
        responsibility.position = position
        responsibility._change_reason = CHANGE_REASON
        responsibility.save()
    for responsibility in existing.values():
        responsibility._change_reason = CHANGE_REASON
        responsibility.delete()


def _sync_owners(result, initiative, owners, agencies, matrix_issues) -> None:
    existing = {o.agency_id: o for o in initiative.ownerships.all()}
    wanted = []
    for owner in owners:
        agency = agencies[owner["agency"]]
        values = {
            "role": owner["role"],
            "source": owner["source"],
            "matrix_issue": matrix_issues[owner["matrix_issue"]] if owner.get("matrix_issue") else None,
        }
        wanted.append((agency, values))
    # Removed owners go first and leads last, so "one lead per country" holds after every statement.
    for agency_id in set(existing) - {agency.pk for agency, _ in wanted}:
        ownership = existing.pop(agency_id)
        ownership._change_reason = CHANGE_REASON
        ownership.delete()
    wanted.sort(key=lambda item: item[1]["role"] == OwnershipRole.LEAD)
    for agency, values in wanted:
        ownership = existing.get(agency.pk)
        if ownership is None:
            ownership = Ownership(initiative=initiative, agency=agency, **values)
            outcome = "created"
        elif all(getattr(ownership, name) == value for name, value in values.items()):
            result.count("ownerships", "unchanged")
            continue
        else:
            if values["role"] == OwnershipRole.LEAD:
                initiative.ownerships.filter(country=agency.country, role=OwnershipRole.LEAD).exclude(
                    pk=ownership.pk
                ).update(role=OwnershipRole.SUPPORTING)
            for name, value in values.items():
                setattr(ownership, name, value)
            outcome = "updated"
        ownership._change_reason = CHANGE_REASON
        ownership.save()
        result.count("ownerships", outcome)
