"""A progress report as files people download: CSV and XLSX (one row per initiative and side), and PDF."""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpResponse
from django.utils.text import slugify

from tracker import reports


def _filename(report, fmt: str) -> str:
    return f"{slugify(report.title) or 'progress-report'}.{fmt}"


def csv_bytes(snapshot: dict) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(reports.table_rows(snapshot))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8 (Korean, Spanish)


def xlsx_bytes(snapshot: dict, title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Report")
    for row in reports.table_rows(snapshot):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def download(report, fmt: str, *, language: str) -> HttpResponse:
    if fmt not in CONTENT_TYPES:
        raise Http404
    snapshot = reports.content(report)
    if fmt == "csv":
        body = csv_bytes(snapshot)
    elif fmt == "xlsx":
        body = xlsx_bytes(snapshot, report.title)
    else:
        from tracker.report_pdf import render_pdf

        body = render_pdf(report, snapshot, language=language)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, fmt)}"'
    return response
