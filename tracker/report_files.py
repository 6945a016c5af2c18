"""A progress report as files people download: CSV and XLSX (one row per initiative and side), and PDF.

A frozen or published report never changes, so each file is built once per language and kept under
REPORT_CACHE_DIR: a PDF of the whole catalog costs seconds of CPU (scripts/bench_reports.py), and the public page
lets anyone ask for one. Freezing a report asks a worker to build its files in every language at once
(`prebuild`), so that downloads find them ready. Its times are printed in UTC, named, so that one file serves
readers in every zone. A draft's files are built on every download, from the live figures. The cache is derived
data: deleting the folder only costs the next download its build time.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.utils import timezone, translation
from django.utils.text import slugify

from tracker import exports, reports


def _filename(report, fmt: str) -> str:
    return f"{slugify(report.title) or 'progress-report'}.{fmt}"


def csv_bytes(snapshot: dict) -> bytes:
    buffer = io.StringIO()
    # Summaries are typed by officials: a cell a spreadsheet would run as a formula is written as text.
    csv.writer(buffer).writerows(exports.safe_row(row) for row in reports.table_rows(snapshot))
    return (exports.BOM + buffer.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8 (Korean, Spanish)


def xlsx_bytes(snapshot: dict, title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=exports.sheet_title(title, "Report"))
    for row in reports.table_rows(snapshot):
        sheet.append(exports.xlsx_row(sheet, row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def build(report, fmt: str, *, language: str) -> bytes:
    """The file's bytes, built now from the report's content (its snapshot once frozen)."""
    snapshot = reports.content(report, language)
    if fmt == "csv":
        return csv_bytes(snapshot)
    if fmt == "xlsx":
        return xlsx_bytes(snapshot, report.title)
    from tracker.report_pdf import render_pdf

    return render_pdf(report, snapshot, language=language)


def cached_path(report, fmt: str, *, language: str) -> Path:
    """Where the built file of a frozen report is kept: named by everything that shapes its bytes."""
    shape = "|".join([report.title, report.frozen_at.isoformat(), language, fmt])
    digest = hashlib.sha256(shape.encode()).hexdigest()[:16]
    return Path(settings.REPORT_CACHE_DIR) / f"report-{report.pk}-{digest}.{fmt}"


def _build_cached(report, fmt: str, *, language: str) -> Path:
    path = cached_path(report, fmt, language=language)
    if not path.exists():
        with timezone.override(datetime.UTC):
            body = build(report, fmt, language=language)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a reader never sees half a file, and two builds at once both succeed.
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, path)
    return path


def prebuild(report_id: int) -> None:
    """Build a frozen report's files in every language, ahead of the first download; safe to run twice."""
    from tracker.models import ProgressReport

    report = ProgressReport.objects.filter(pk=report_id, frozen_at__isnull=False).first()
    if report is None:
        return
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for fmt in CONTENT_TYPES:
                _build_cached(report, fmt, language=language)


def download(report, fmt: str, *, language: str) -> HttpResponse:
    if fmt not in CONTENT_TYPES:
        raise Http404
    filename = _filename(report, fmt)
    if report.snapshot is None or report.frozen_at is None:
        response = HttpResponse(build(report, fmt, language=language), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    path = _build_cached(report, fmt, language=language)
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt])
