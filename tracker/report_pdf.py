"""A progress report as a PDF, rendered by WeasyPrint from templates/tracker/progress_report_pdf.html.

The PDF shows exactly what the report's snapshot holds (`reports.content`), in the language asked for: a title
page, the totals, status by theme and by High Level Meeting (vector bar charts, each with its numbers as a
table), reporting compliance per agency, the overdue list, and one entry per initiative.

Nothing is fetched from the network: the only resources the template may load are files under the project's
static directory (the print stylesheet); every other URL is refused. Korean needs a CJK font on the machine
(Debian's fonts-noto-cjk, "Noto Sans CJK KR"), which WeasyPrint embeds, subsetted, in the PDF.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tracker.choices import Country, Theme
from tracker.reports import NO_REPORT, STATUS_ORDER, status_label
from tracker.templatetags.tracker_tags import CHART_COLOURS

TEMPLATE = "tracker/progress_report_pdf.html"
STATIC_DIR = Path(settings.BASE_DIR) / "static"

# Text drawn on a chart segment of this colour is white; on the light ones, dark.
LIGHT_COLOURS = {"not_started", NO_REPORT, "on_track", "at_risk"}


def _url_fetcher(root: Path):
    """A WeasyPrint URL fetcher that serves files under `root` and refuses everything else (no network)."""
    from weasyprint.urls import URLFetcher

    root = root.resolve()

    class LocalFilesOnly(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
                raise ValueError(f"Refused to fetch {url!r}: a report PDF loads only its own static files.")
            path = Path(url2pathname(parts.path)).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise ValueError(f"Refused to fetch {url!r}: not a file under {root}.")
            return super().fetch(path.as_uri(), headers)

    return LocalFilesOnly(allowed_protocols={"file"}, timeout=5)


def render_pdf(report, snapshot: dict, *, language: str) -> bytes:
    """The report `report` with the content `snapshot`, as PDF bytes, with its text in `language`."""
    from weasyprint import HTML

    with translation.override(language):
        html = render_to_string(TEMPLATE, _context(report, snapshot))
        document = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=_url_fetcher(STATIC_DIR))
        return document.write_pdf()


# --- What the template shows ---------------------------------------------------------------------------


def _context(report, snapshot: dict) -> dict:
    """Everything labelled in the active language, and the charts drawn, so the template only lays out."""
    period = snapshot["period"]
    totals = snapshot.get("totals", {})
    return {
        "report": report,
        "content": snapshot,
        "period": {
            "name": period["name"],
            "start": datetime.date.fromisoformat(period["start"]),
            "end": datetime.date.fromisoformat(period["end"]),
            "due_date": datetime.date.fromisoformat(period["due_date"]),
        },
        "built_at": datetime.datetime.fromisoformat(snapshot["built_at"]) if snapshot.get("built_at") else None,
        "statuses": [{"code": code, "label": status_label(code), "colour": CHART_COLOURS[code]} for code in STATUS_ORDER],
        "totals": _group("", totals),
        "initiative_count": len(snapshot["initiatives"]),
        "by_theme": [_group(Theme(group["theme"]).label, group["counts"]) for group in snapshot["by_theme"]],
        "by_meeting": [_group(group["meeting"], group["counts"]) for group in snapshot["by_meeting"]],
        "compliance": [
            {
                **entry,
                "country_label": Country(entry["country"]).label,
                "rate": round(100 * entry["submitted"] / entry["due"]) if entry["due"] else None,
            }
            for entry in snapshot["compliance"]
        ],
        "overdue": [{**item, "country_label": Country(item["country"]).label} for item in snapshot["overdue"]],
        "initiatives": [_initiative(row) for row in snapshot["initiatives"]],
    }


def _group(label: str, counts: dict) -> dict:
    total = sum(counts.values())
    return {
        "label": label,
        "counts": [counts.get(code, 0) for code in STATUS_ORDER],
        "by_status": [
            {
                "label": status_label(code),
                "colour": CHART_COLOURS[code],
                "count": counts.get(code, 0),
                "share": round(100 * counts.get(code, 0) / total) if total else 0,
            }
            for code in STATUS_ORDER
        ],
        "total": total,
        "bar": status_bar(counts),
        "done": round(100 * counts.get("completed", 0) / total) if total else 0,
    }


def _initiative(row: dict) -> dict:
    sides = []
    for side, cell in row["sides"].items():
        change = cell.get("change")
        sides.append(
            {
                **cell,
                "side_label": Country(side).label,
                "status_label": status_label(cell["status"]),
                "change_label": status_label(change["status_from"]) if change else "",
                "accepted_on": datetime.datetime.fromisoformat(cell["accepted_at"]) if cell.get("accepted_at") else None,
            }
        )
    return {**row, "theme_label": Theme(row["theme"]).label, "side_cells": sides}


def status_bar(counts: dict, *, width: int = 300, height: int = 16) -> str:
    """One bar of status counts, stacked in the badges' colours and scaled to the whole, as inline SVG; each
    segment wide enough carries its count, so the chart reads without colour too. The numbers are also in the
    table that goes with every chart."""
    total = sum(counts.values())
    parts, label = [], []
    x = 0.0
    for code, colour in CHART_COLOURS.items():
        count = counts.get(code, 0)
        if not count:
            continue
        w = width * count / total
        parts.append(
            format_html(
                '<rect x="{}" y="0" width="{}" height="{}" fill="{}" stroke="#fff" stroke-width="0.8"/>',
                f"{x:.2f}",
                f"{w:.2f}",
                height,
                colour,
            )
        )
        if w >= 6 + 5 * len(str(count)):
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" font-size="9" fill="{}">{}</text>',
                    f"{x + w / 2:.2f}",
                    height / 2 + 3.2,
                    "#1d2433" if code in LIGHT_COLOURS else "#fff",
                    count,
                )
            )
        label.append(f"{status_label(code)}: {count}")
        x += w
    if not total:
        parts.append(format_html('<rect x="0" y="0" width="{}" height="{}" fill="#eceff3"/>', width, height))
    return format_html(
        '<svg class="bar" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{}"'
        ' viewBox="0 0 {} {}">{}</svg>',
        "; ".join(label),
        width,
        height,
        width,
        height,
        mark_safe("".join(parts)),  # each part was built with format_html
    )

