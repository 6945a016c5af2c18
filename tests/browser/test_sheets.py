"""The spreadsheet round trip in a real browser: an official downloads the period's sheet, fills it in (with
openpyxl, as Excel would), uploads it, reads the preview, submits, and finds the updates on the worklist; the
secretariat finds them in its review queue. And the preview on a phone does not scroll sideways.
"""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.test_review_loop import PHONE, log_in, log_out, messages, no_horizontal_overflow
from tests.test_sheets import COLUMN, fill, saved

pytestmark = [pytest.mark.browser, pytest.mark.once]

FILLED = {
    "A-316": {"status": "On track", "progress": 35, "summary": "The standards bodies exchanged their draft texts."},
    "A-317": {"status": "At risk", "progress": 10, "summary": "The budget for the pilot is not approved yet."},
    "A-318": {"status": "Completed", "progress": 100, "summary": "The mutual recognition agreement was signed."},
}


def download_sheet(page: Page, tmp_path) -> bytes:
    """Click the worklist's "Excel (XLSX)" link; until the home page has it, the one on the upload page."""
    page.goto("/")
    link = page.get_by_role("link", name="Excel (XLSX)")
    if link.count() == 0:
        page.goto("/worklist/upload/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").first.click()
    assert re.fullmatch(r"updates-SE-.+\.xlsx", download.value.suggested_filename)
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return path.read_bytes()


def open_upload_page(page: Page) -> None:
    page.goto("/")
    link = page.get_by_role("link", name="Upload a filled-in spreadsheet")
    if link.count():
        link.first.click()
    else:
        page.goto("/worklist/upload/")
    expect(page.get_by_role("heading", name="Upload a filled-in spreadsheet", level=1)).to_be_visible()


def upload_through_the_page(page: Page, path, mode: str) -> None:
    open_upload_page(page)
    page.get_by_label("Filled-in spreadsheet").set_input_files(path)
    page.get_by_label(mode, exact=True).check()
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Preview of the import", level=1)).to_be_visible()


def filled_in(content: bytes, tmp_path, rows=FILLED):
    book = load_workbook(io.BytesIO(content))
    for code, values in rows.items():
        fill(book.worksheets[0], code, **values)
    path = tmp_path / "filled-in.xlsx"
    path.write_bytes(saved(book))
    return path


def test_an_official_reports_through_the_spreadsheet_and_the_secretariat_finds_the_updates(
    page: Page, personas, period, tmp_path
):
    log_in(page, "alice")
    content = download_sheet(page, tmp_path)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    assert sheet.cell(row=1, column=COLUMN["code"]).value == "Code"
    path = filled_in(content, tmp_path)

    # The preview, first as drafts (the default), then switched to "submit for review".
    upload_through_the_page(page, path, "Save as drafts")
    summary = page.locator("#plan-summary")
    expect(summary).to_contain_text("3 drafts will be saved.")
    changes = page.locator(".sheet-change")
    expect(changes).to_have_count(3)
    for code, values in FILLED.items():
        change = changes.filter(has_text=code)
        expect(change).to_contain_text("New draft")
        expect(change).to_contain_text(values["summary"])
        expect(change).to_contain_text(values["status"])
    page.get_by_role("link", name="Preview “Submit for review” instead").click()
    expect(summary).to_contain_text("3 updates will be submitted for review.")
    expect(changes.first).to_contain_text("Submitted for review")
    # The confirmation is offered at the top, by the summary, and again below the list of changes.
    expect(page.get_by_role("button", name="Submit 3 updates for review")).to_have_count(2)
    summary.get_by_role("button", name="Submit 3 updates for review").click()

    # Back on the worklist: the message, and each update waiting for review.
    expect(messages(page)).to_contain_text("3 updates submitted for review; reminders stop for them.")
    expect(page).to_have_url(re.compile(r"/$"))
    # The worklist puts what needs the official first; its filter (kept in the URL) shows what waits for review.
    page.goto("/?state=submitted")
    main = page.locator("main")
    for code in FILLED:
        item = main.locator("tr, li, article").filter(has_text=code).last
        expect(item).to_contain_text(re.compile("Submitted|Waiting for review"))
    log_out(page)

    # Mexico's secretariat finds the three in its queue.
    log_in(page, "sec_mx")
    page.goto("/review/")
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    for code, values in FILLED.items():
        row = page.get_by_role("row").filter(has_text=code)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(values["summary"])


def test_the_preview_fits_a_phone(page: Page, personas, period, tmp_path):
    log_in(page, "alice")
    content = download_sheet(page, tmp_path)
    page.set_viewport_size(PHONE)  # signed in at desktop width: the header's phone menu is not what is tested here
    long_link = "https://www.gob.mx/se/documentos/acuerdos/mutual-recognition-agreement-it-equipment-2026-final.pdf"
    rows = {
        "A-316": {**FILLED["A-316"], "evidence_links": long_link},
        "A-317": {**FILLED["A-317"], "progress": 150},  # an error: the table of errors shows too
    }
    upload_through_the_page(page, filled_in(content, tmp_path, rows), "Save as drafts")
    expect(page.locator("#plan-summary")).to_contain_text("The file has 1 error: nothing will be saved.")
    expect(page.get_by_role("cell", name="Progress is a percentage between 0 and 100.")).to_be_visible()
    expect(page.locator(".sheet-change").filter(has_text="A-316")).to_contain_text(long_link)
    assert no_horizontal_overflow(page), "the preview scrolls sideways on a phone"
    open_upload_page(page)
    assert no_horizontal_overflow(page), "the upload form scrolls sideways on a phone"
