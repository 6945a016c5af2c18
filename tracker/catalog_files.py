"""The report's catalog as files: reading and checking `fixtures/catalog/*.yaml`.

`agencies.yaml` holds the bodies, `matrix.yaml` the responsibility matrix, and one file per part of the
report (`recommendations.yaml`, `political.yaml`, ...) holds its initiatives and any further bodies it
names. The format is described in `fixtures/catalog/README.md`.

Run `python -m tracker.catalog_files` to check every file against the rules below and the report text;
it needs no database.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tracker.choices import AgencyKind, Country, InitiativeKind, MechanismKind, Theme
from tracker.report_text import ReportText, normalize_quote

CATALOG_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
# Report order of the parts: the order initiatives are listed in.
PART_FILES = ["recommendations", "political", "economic", "industrial", "cultural"]

AGENCY_FIELDS = {"key", "country", "kind", "name", "acronym", "parent"}
INITIATIVE_FIELDS = {
    "code",
    "title",
    "kind",
    "parent",
    "theme",
    "section",
    "paragraph",
    "quote",
    "target",
    "matrix_issue",
    "named",
    "visibility",
    "part",
}
# translations.yaml: titles and names in the interface's other languages, by language, then kind, then key/code.
TRANSLATED_LANGUAGES = ("es", "ko")
TRANSLATED_KINDS = ("initiatives", "agencies", "mechanisms")
STRATEGIC_CODE = re.compile(r"^SI-\d{2}$")
ACTION_CODE = re.compile(r"^A-\d{3}$")


class CatalogError(ValueError):
    """The catalog files break a rule; the message lists every problem found."""


@dataclass
class Catalog:
    agencies: list[dict] = field(default_factory=list)
    mechanisms: list[dict] = field(default_factory=list)
    initiatives: list[dict] = field(default_factory=list)
    # {"es": {"initiatives": {"SI-01": "..."}, "agencies": {"se": "..."}, "mechanisms": {...}}, "ko": {...}}
    translations: dict = field(default_factory=dict)

    def translation(self, language: str, kind: str, key: str) -> str:
        return ((self.translations.get(language) or {}).get(kind) or {}).get(key) or ""

    def matrix_issue(self, key: str) -> dict:
        for mechanism in self.mechanisms:
            for issue in mechanism["issues"]:
                if issue["key"] == key:
                    return issue
        raise KeyError(key)

    def agency(self, key: str) -> dict:
        for agency in self.agencies:
            if agency["key"] == key:
                return agency
        raise KeyError(key)


def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def read_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    """Read every catalog file, without checking it."""
    catalog = Catalog()
    catalog.agencies.extend(_read(directory / "agencies.yaml").get("agencies", []))
    catalog.mechanisms.extend(_read(directory / "matrix.yaml").get("mechanisms", []))
    for part in PART_FILES:
        path = directory / f"{part}.yaml"
        if not path.exists():
            continue
        data = _read(path)
        catalog.agencies.extend(data.get("agencies") or [])
        for initiative in data.get("initiatives") or []:
            initiative["quote"] = normalize_quote(initiative.get("quote") or "")
            initiative["part"] = part
            catalog.initiatives.append(initiative)
    if (directory / "translations.yaml").exists():
        catalog.translations = _read(directory / "translations.yaml")
    return catalog


def check_catalog(catalog: Catalog, report: ReportText | None = None) -> list[str]:
    """Every rule the catalog breaks, as readable lines; empty when the catalog is sound."""
    report = report or ReportText.load()
    problems: list[str] = []

    agency_keys: set[str] = set()
    for agency in catalog.agencies:
        key = agency.get("key")
        if key in agency_keys:
            problems.append(f"agency {key}: defined twice")
        agency_keys.add(key)
        if set(agency) - AGENCY_FIELDS:
            # Usually an unquoted comma in a YAML flow mapping: "name: A, B" splits the name.
            problems.append(
                f"agency {key}: unknown fields {sorted(set(agency) - AGENCY_FIELDS)} (quote names with commas)"
            )
        if agency.get("country") not in Country.values:
            problems.append(f"agency {key}: country must be one of {Country.values}")
        if agency.get("kind") not in AgencyKind.values:
            problems.append(f"agency {key}: kind must be one of {AgencyKind.values}")
        if not agency.get("name"):
            problems.append(f"agency {key}: no name")
    for agency in catalog.agencies:
        parent = agency.get("parent")
        if parent and parent not in agency_keys:
            problems.append(f"agency {agency['key']}: unknown parent {parent}")

    issue_keys: set[str] = set()
    for mechanism in catalog.mechanisms:
        if mechanism.get("kind") not in MechanismKind.values:
            problems.append(f"mechanism {mechanism.get('key')}: bad kind")
        for issue in mechanism.get("issues", []):
            if issue["key"] in issue_keys:
                problems.append(f"matrix issue {issue['key']}: defined twice")
            issue_keys.add(issue["key"])
            for side in ("mexico", "korea"):
                cell = issue.get(side) or {}
                if not cell.get("agencies"):
                    problems.append(f"matrix issue {issue['key']}: no {side} body")
                for key in cell.get("agencies", []):
                    if key not in agency_keys:
                        problems.append(f"matrix issue {issue['key']}: unknown agency {key}")

    codes: set[str] = set()
    strategic_codes = {i.get("code") for i in catalog.initiatives if i.get("kind") == InitiativeKind.STRATEGIC}
    for initiative in catalog.initiatives:
        code = initiative.get("code")
        label = f"initiative {code}"
        if code in codes:
            problems.append(f"{label}: code used twice")
        codes.add(code)
        if set(initiative) - INITIATIVE_FIELDS:
            problems.append(f"{label}: unknown fields {sorted(set(initiative) - INITIATIVE_FIELDS)}")
        kind = initiative.get("kind")
        if kind == InitiativeKind.STRATEGIC:
            if not STRATEGIC_CODE.match(code or ""):
                problems.append(f"{label}: a strategic initiative's code looks like SI-01")
            if initiative.get("parent"):
                problems.append(f"{label}: a strategic initiative has no parent")
        elif kind == InitiativeKind.ACTION:
            if not ACTION_CODE.match(code or ""):
                problems.append(f"{label}: an action's code looks like A-001")
            if initiative.get("parent") not in strategic_codes:
                problems.append(f"{label}: parent {initiative.get('parent')} is not a strategic initiative")
        else:
            problems.append(f"{label}: kind must be one of {InitiativeKind.values}")
        for required in ("title", "section", "paragraph", "quote"):
            if not initiative.get(required):
                problems.append(f"{label}: no {required}")
        if len(initiative.get("title") or "") > 120:
            problems.append(f"{label}: title longer than 120 characters")
        if initiative.get("theme") not in Theme.values:
            problems.append(f"{label}: theme must be one of {Theme.values}")
        if initiative.get("quote") and report.locate(initiative["quote"]) is None:
            problems.append(f"{label}: quote not found in the report: {initiative['quote'][:80]!r}")
        target = initiative.get("target")
        if target and report.locate(target) is None:
            problems.append(f"{label}: target phrase {target!r} not found in the report")
        matrix_issue = initiative.get("matrix_issue")
        if matrix_issue and matrix_issue not in issue_keys:
            problems.append(f"{label}: unknown matrix issue {matrix_issue}")
        for key in initiative.get("named") or []:
            if key not in agency_keys:
                problems.append(f"{label}: unknown agency {key}")

    known = {
        "initiatives": codes,
        "agencies": agency_keys,
        "mechanisms": {mechanism.get("key") for mechanism in catalog.mechanisms},
    }
    for language, kinds in catalog.translations.items():
        if language not in TRANSLATED_LANGUAGES:
            problems.append(f"translations: language {language!r} must be one of {TRANSLATED_LANGUAGES}")
            continue
        for kind, entries in (kinds or {}).items():
            if kind not in TRANSLATED_KINDS:
                problems.append(f"translations {language}: {kind!r} must be one of {TRANSLATED_KINDS}")
                continue
            for key, text in (entries or {}).items():
                if key not in known[kind]:
                    problems.append(f"translations {language} {kind}: unknown {key}")
                elif not isinstance(text, str) or not text.strip() or len(text) > 200:
                    problems.append(f"translations {language} {kind} {key}: a text of 1 to 200 characters")
    return problems


def load_checked_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    catalog = read_catalog(directory)
    problems = check_catalog(catalog)
    if problems:
        raise CatalogError("\n".join(problems))
    return catalog


def main() -> int:
    catalog = read_catalog()
    problems = check_catalog(catalog)
    for problem in problems:
        print(problem)
    by_part: dict[str, int] = {}
    for initiative in catalog.initiatives:
        by_part[initiative["part"]] = by_part.get(initiative["part"], 0) + 1
    print(
        f"{len(catalog.initiatives)} initiatives {by_part}, {len(catalog.agencies)} agencies, {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
