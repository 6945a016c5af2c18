"""An official's quarter and a reviewer's queue in a real browser: the worklist on a phone, one update after
another without going back to the list, and a queue of updates accepted in a few clicks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_review_loop import PHONE, log_in, messages, no_horizontal_overflow
from tracker.models import Initiative, StatusUpdate

pytestmark = [pytest.mark.browser, pytest.mark.once]


def _se_lead_codes():
    return list(
        Initiative.objects.filter(ownerships__agency__key="se", ownerships__role="lead")
        .order_by("position")
        .values_list("code", flat=True)
    )


def test_the_worklist_fits_a_phone_with_each_action_in_reach(new_page, personas, period, make_update):
    codes = _se_lead_codes()
    make_update(personas.alice, codes[5], state="returned", reviewer=personas.sec_mx)
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    expect(page.get_by_role("heading", name="My updates", level=1)).to_be_visible()
    # The header is one line with a menu button: the worklist starts near the top of the screen.
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 0.12 * PHONE["height"], f"the header takes {header['height']} px of a phone"
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Initiatives")).to_be_visible()
    page.get_by_role("button", name="Menu").click()
    assert no_horizontal_overflow(page), "the worklist scrolls sideways on a phone"
    expect(page.get_by_role("heading", name=f"0 of {len(codes)} due updates done")).to_be_visible()
    # The returned update comes first, with the reviewer's comment and its button on screen.
    first = page.locator(".worklist > li").first
    expect(first).to_contain_text(codes[5])
    expect(first).to_contain_text("Please add the figures.")
    revise = first.get_by_role("link", name=f"Revise {codes[5]}")
    expect(revise).to_be_in_viewport()
    for item in page.locator(".worklist > li").all()[:10]:
        button = item.locator(".work-action .button")
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "an item's button is cut off"


def test_three_updates_in_a_row_without_going_back_to_the_list(page: Page, personas, period):
    codes = _se_lead_codes()
    log_in(page, "alice")
    page.locator("summary", has_text="Filter and sort").click()
    page.get_by_role("combobox", name="Where it stands").select_option(label="To do")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name=f"Report progress {codes[0]}").click()
    for index, code in enumerate(codes[:3]):
        expect(page.get_by_role("heading", name="Report progress", level=1)).to_be_visible()
        expect(page.get_by_role("navigation", name="Breadcrumbs")).to_contain_text(code)
        page.get_by_role("combobox", name="Status", exact=True).select_option(label="On track")
        page.get_by_role("spinbutton", name="Progress (%)").fill(str(20 + index))
        page.get_by_role("textbox", name="Summary of progress").fill(f"Quarter's work on {code}.")
        if index < 2:
            page.get_by_role("button", name="Save and go to the next one").click()
            expect(messages(page)).to_contain_text(f"Draft saved for {code}. Next: {codes[index + 1]}.")
        else:
            page.get_by_role("button", name="Submit for review").click()
            expect(messages(page)).to_contain_text("Your update was submitted for review")
    # After submitting, the page leads on to the next item still to do in the same list.
    next_one = page.get_by_role("region", name="Next one")
    expect(next_one).to_contain_text(codes[3])
    next_one.get_by_role("link", name="Back to my updates").click()
    expect(page).to_have_url(re.compile(r"/\?state=to_do(&|$)"))
    expect(page.locator("summary", has_text="Filter and sort")).to_contain_text("To do")
    expect(page.locator(".worklist > li").first).to_contain_text(codes[3])  # what is left, the two drafts gone
    states = dict(
        StatusUpdate.objects.filter(initiative__code__in=codes[:3]).values_list("initiative__code", "review_state")
    )
    assert states == {codes[0]: "draft", codes[1]: "draft", codes[2]: "submitted"}


def test_a_queue_of_fifty_reviewed_in_a_few_clicks(page: Page, personas, period, make_update):
    codes = list(
        Initiative.objects.filter(ownerships__agency__key="se").order_by("position").values_list("code", flat=True)
    )
    for code in codes[:50]:
        make_update(personas.alice, code)
    log_in(page, "sec_mx")
    page.goto("/review/")
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_contain_text("50")
    page.get_by_label("Tick every update on this page").check()
    page.get_by_role("button", name="Accept the ticked updates").click()
    expect(messages(page)).to_contain_text("50 updates accepted.")
    expect(page.get_by_text("Nothing is waiting for review.")).to_be_visible()
    assert StatusUpdate.objects.filter(review_state="accepted").count() == 50
