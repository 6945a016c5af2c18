"""The reporting loop in a real browser, as an official and a reviewer do it: report, return, revise, accept.

Every step goes through the pages (log in, click, type, attach a file) and checks what the user sees.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.once]

PHONE = {"width": 390, "height": 844}


def minimal_pdf() -> bytes:
    """A small, valid one-page PDF (catalog, page tree, page, text stream, cross-reference table)."""
    stream = b"BT /F1 12 Tf 72 720 Td (Minutes of the standards meeting) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


# --- What a user does ----------------------------------------------------------------------------------


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Log out", include_hidden=True)).to_have_count(1)  # a phone: in the menu


def open_menu(page: Page) -> None:
    """On a phone the header's menu folds behind a button: open it (nothing to do on a wider screen)."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible() and menu.get_attribute("aria-expanded") == "false":
        menu.click()


def log_out(page: Page) -> None:
    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def open_review_of(page: Page, code: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review", exact=True).click()
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=code)).to_have_count(1)
    page.get_by_role("link", name=f"Review {code}").click()
    expect(page.get_by_role("heading", name=f"Review the update on {code}", level=1)).to_be_visible()


def record_decision(page: Page, decision: str, comment: str = "") -> None:
    page.get_by_label(decision, exact=True).check()
    if comment:
        page.get_by_label("Comment to the official").fill(comment)
    page.get_by_role("button", name="Record decision").click()


def messages(page: Page):
    return page.get_by_role("status")


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- Tests ---------------------------------------------------------------------------------------------


def test_report_return_revise_accept(page: Page, personas, period, tmp_path):
    marker = f"MRA-{uuid.uuid4().hex[:10]}"
    first_summary = f"Standards bodies met to plan mutual recognition for IT equipment ({marker}, first draft)."
    revised_summary = f"Standards bodies signed a work plan for IT equipment MRAs ({marker}, with the figures)."
    comment = "Please add how many product categories the work plan covers."
    link = "https://www.gob.mx/se/prensa/mra-it-equipment"
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(minimal_pdf())

    # alice reports progress on A-318, which her agency (SE) owns.
    log_in(page, "alice")
    expect(page.get_by_role("heading", name="My updates", level=1)).to_be_visible()
    page.goto("/initiatives/A-318/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("A-318")
    page.get_by_role("link", name="Report progress").click()
    expect(page.get_by_role("heading", name="Report progress", level=1)).to_be_visible()
    page.get_by_role("combobox", name="Status", exact=True).select_option(label="On track")
    page.get_by_role("spinbutton", name="Progress (%)").fill("40")
    page.get_by_role("textbox", name="Summary of progress").fill(first_summary)
    page.get_by_role("textbox", name="Evidence links").fill(link)
    page.get_by_label("Evidence files").set_input_files(pdf)
    page.get_by_role("button", name="Submit for review").click()

    # She sees it was submitted and that it is now read-only.
    expect(messages(page)).to_contain_text("Your update was submitted for review")
    expect(page.get_by_role("heading", name="Update on A-318", level=1)).to_be_visible()
    expect(page.get_by_text(first_summary)).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("On track")
    expect(page.locator(".facts")).to_contain_text("40%")
    expect(page.locator(".facts")).to_contain_text("Submitted")
    expect(page.get_by_role("link", name=link)).to_be_visible()
    expect(page.get_by_role("link", name="minutes.pdf")).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    # The file she attached comes back as it went in.
    with page.expect_download() as download:
        page.get_by_role("link", name="minutes.pdf").click()
    assert download.value.suggested_filename == "minutes.pdf"
    assert download.value.path().read_bytes() == pdf.read_bytes()
    # The initiative's page says it waits for review instead of offering a second report.
    page.goto("/initiatives/A-318/")
    expect(page.get_by_role("link", name="Your update waits for review")).to_be_visible()
    expect(page.get_by_role("link", name="Report progress")).to_have_count(0)
    log_out(page)

    # Mexico's secretariat returns it with a comment.
    log_in(page, "sec_mx")
    open_review_of(page, "A-318")
    expect(page.get_by_text(first_summary)).to_be_visible()
    expect(page.get_by_role("link", name="minutes.pdf")).to_be_visible()
    record_decision(page, "Return for revision", comment)
    expect(messages(page)).to_contain_text("Returned to")
    expect(page.get_by_role("row").filter(has_text="A-318")).to_have_count(0)
    log_out(page)

    # alice finds it on her home page with the comment, revises the summary and submits again.
    log_in(page, "alice")
    returned = page.locator(".worklist > li").first  # started work comes first, the returned before the rest
    expect(returned).to_contain_text("A-318")
    expect(returned).to_contain_text("Returned to you")
    expect(returned).to_contain_text(comment)
    returned.get_by_role("link", name="Revise A-318").click()
    expect(page.get_by_role("heading", name="Edit your update", level=1)).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text(comment)
    summary = page.get_by_role("textbox", name="Summary of progress")
    expect(summary).to_have_value(first_summary)
    expect(page.get_by_role("combobox", name="Status", exact=True)).to_have_value("on_track")
    expect(page.get_by_role("spinbutton", name="Progress (%)")).to_have_value("40")
    summary.fill(revised_summary)
    page.get_by_role("button", name="Submit for review").click()
    expect(messages(page)).to_contain_text("Your update was submitted for review")
    expect(page.get_by_text(revised_summary)).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    log_out(page)

    # The secretariat accepts the revised update.
    log_in(page, "sec_mx")
    open_review_of(page, "A-318")
    # What changed since the return is shown first: the summary before and after.
    since = page.get_by_role("region", name=re.compile("Since it was returned"))
    expect(since).to_contain_text(first_summary)
    expect(since).to_contain_text(revised_summary)
    expect(page.get_by_role("paragraph").filter(has_text=revised_summary)).to_be_visible()
    record_decision(page, "Accept")
    expect(messages(page)).to_contain_text("Accepted: it is now the current status of A-318.")

    # The list shows the new status on Mexico's side, and the initiative's page the accepted summary.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Initiatives").click()
    page.get_by_role("searchbox", name="Search").fill("A-318")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]q=A-318(&|$)"))
    headers = page.locator("table.initiatives thead th").all_inner_texts()
    mexico = [text.strip() for text in headers].index("Mexico")
    korea = [text.strip() for text in headers].index("Korea")
    row = page.locator("table.initiatives tbody tr").filter(has_text="A-318")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(mexico).locator(".badge")).to_have_text("On track")
    expect(row.locator("td").nth(mexico)).to_contain_text("40%")
    expect(row.locator("td").nth(korea)).to_contain_text("No accepted report yet")

    row.get_by_role("link", name="A-318").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("A-318")
    mexico_side = page.get_by_role("region", name="Mexico", exact=True)
    expect(mexico_side.locator(".badge").first).to_have_text("On track")
    expect(mexico_side).to_contain_text("40%")
    history = page.get_by_role("region", name="Accepted updates")
    expect(history).to_contain_text(revised_summary)
    expect(history.get_by_role("link", name=link)).to_be_visible()
    expect(page.get_by_text(first_summary)).to_have_count(0)


def test_list_and_update_form_fit_a_phone(new_page, personas, period):
    page = new_page(viewport=PHONE)
    log_in(page, "alice")

    page.goto("/initiatives/")
    expect(page.get_by_role("heading", name="Initiatives", level=1)).to_be_visible()
    assert no_horizontal_overflow(page), "the initiative list scrolls sideways on a phone"
    filters = page.get_by_role("search", name="Filter initiatives")
    expect(filters).to_be_visible()
    expect(filters.get_by_role("searchbox", name="Search")).to_be_visible()
    filter_button = filters.get_by_role("button", name="Filter")
    filter_button.scroll_into_view_if_needed()
    expect(filter_button).to_be_in_viewport()
    filters.get_by_role("searchbox", name="Search").fill("A-318")
    filter_button.click()
    expect(page.locator("table.initiatives tbody tr")).to_have_count(1)
    assert no_horizontal_overflow(page), "the filtered list scrolls sideways on a phone"

    page.goto("/initiatives/A-318/")
    page.get_by_role("link", name="Report progress").click()
    expect(page.get_by_role("heading", name="Report progress", level=1)).to_be_visible()
    assert no_horizontal_overflow(page), "the update form scrolls sideways on a phone"
    fields = [("combobox", "Status"), ("spinbutton", "Progress (%)"), ("textbox", "Summary of progress")]
    fields += [("textbox", "Evidence links"), ("button", "Evidence files")]
    for role, label in fields:
        field = page.get_by_role(role, name=label, exact=True)
        expect(field).to_be_visible()
        box = field.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{label} is cut off"
    submit = page.get_by_role("button", name="Submit for review")
    submit.scroll_into_view_if_needed()
    expect(submit).to_be_in_viewport(ratio=1)
