"""A secretariat builds, freezes and publishes a progress report; a visitor finds it on the public page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_loop import log_in, log_out, messages

pytestmark = [pytest.mark.browser, pytest.mark.once]


def test_build_freeze_publish_and_the_public_sees_it(page: Page, personas, period, tmp_path):
    log_in(page, "sec_mx")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Progress reports").click()
    expect(page.get_by_role("heading", name="Progress reports", level=1)).to_be_visible()
    page.locator("form.stacked-form").get_by_label("Period").select_option(label=period.name)
    page.get_by_label("Title").fill("Progress report to the ministers, 2026 Q4")
    page.get_by_role("button", name="Build the draft").click()
    expect(messages(page)).to_contain_text("Draft report created")
    expect(page.get_by_role("heading", name="Status by theme")).to_be_visible()

    page.get_by_role("button", name="Freeze the report").click()
    expect(messages(page)).to_contain_text("Frozen")
    page.get_by_role("button", name="Publish the report").click()
    expect(messages(page)).to_contain_text("Published")

    # The whole catalog's PDF takes seconds of CPU to build, more on a busy CI machine.
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("link", name="Download PDF").click(timeout=60_000)
    pdf = tmp_path / "report.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert download_info.value.suggested_filename.endswith(".pdf")
    log_out(page)

    page.goto("/public/")
    expect(page.get_by_role("heading", name="Published progress reports")).to_be_visible()
    entry = page.get_by_role("listitem").filter(has_text="Progress report to the ministers, 2026 Q4")
    expect(entry).to_have_count(1)
    with page.expect_download() as public_download:
        entry.get_by_role("link", name="PDF").click()
    assert public_download.value.suggested_filename.endswith(".pdf")
