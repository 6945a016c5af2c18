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
import logging
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from tracker.charts import CHART_COLOURS, status_bar
from tracker.choices import Country, Theme
from tracker.reports import SIDES, STATUS_ORDER, status_label

TEMPLATE = "tracker/progress_report_pdf.html"
STATIC_DIR = Path(settings.BASE_DIR) / "static"

# WeasyPrint logs every step and every page at INFO; the project's root logger is at INFO, so without this each
# download would add some forty lines to the log. Settings can still set a level for it (LOGGING["loggers"]).
if logging.getLogger("weasyprint.progress").level == logging.NOTSET:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

# Text drawn on a chart segment of this colour is white; on the light ones, dark.


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
        "built_at": _moment(snapshot.get("built_at")),
        "statuses": [_status(code) for code in STATUS_ORDER],  # the tables' columns, as on the web page
        "legend": [_status(code) for code in CHART_COLOURS],  # in the order the bars are stacked
        "totals": _group("", totals, width=720, height=22),
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


def _status(code: str) -> dict:
    return {"code": code, "label": status_label(code), "colour": CHART_COLOURS[code]}


def _moment(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _group(label: str, counts: dict, *, width: int = 400, height: int = 16) -> dict:
    total = sum(counts.values())
    return {
        "label": label,
        "counts": [counts.get(code, 0) for code in STATUS_ORDER],
        "by_status": [
            {
                **_status(code),
                "count": counts.get(code, 0),
                "share": _share(counts.get(code, 0), total),
            }
            for code in STATUS_ORDER
        ],
        "total": total,
        "bar": status_bar(counts, width=width, height=height),
        "done": round(100 * counts.get("completed", 0) / total) if total else 0,
    }


def _share(count: int, total: int) -> str:
    """A percentage for the totals table: "<1" rather than a misleading "0" for a few out of hundreds."""
    share = round(100 * count / total) if total else 0
    return "<1" if count and not share else str(share)


def _initiative(row: dict) -> dict:
    sides = []
    # Mexico, then Korea, whatever order the stored snapshot has (PostgreSQL's jsonb reorders object keys).
    for side, cell in sorted(row["sides"].items(), key=lambda item: _side_order(item[0])):
        change = cell.get("change")
        sides.append(
            {
                **cell,
                "side_label": Country(side).label,
                "status_label": status_label(cell["status"]),
                "change_label": status_label(change["status_from"]) if change else "",
                "accepted_on": _moment(cell.get("accepted_at")),
            }
        )
    return {**row, "theme_label": Theme(row["theme"]).label, "side_cells": sides}


def _side_order(side: str) -> int:
    return SIDES.index(side) if side in SIDES else len(SIDES)
