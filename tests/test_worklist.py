"""An official's quarter from the home page: what is left, started work first, and on to the next one."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tracker.models import Initiative, Ownership, StatusUpdate

pytestmark = pytest.mark.django_db


def _form(**overrides):
    data = {"status": "on_track", "progress": "40", "summary": "Work plan agreed.", "next_steps": "", "blockers": ""}
    data.update(overrides)
    return data


def _se_lead_codes():
    return list(
        Initiative.objects.filter(ownerships__agency__key="se", ownerships__role="lead")
        .order_by("position")
        .values_list("code", flat=True)
    )


def test_the_home_page_counts_what_is_left_and_lists_started_work_first(client, personas, make_update):
    codes = _se_lead_codes()
    make_update(personas.alice, codes[10], state="accepted", reviewer=personas.sec_mx)
    make_update(personas.alice, codes[11])  # submitted
    make_update(personas.alice, codes[40], state="draft")
    make_update(personas.alice, codes[45], state="returned", reviewer=personas.sec_mx)
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:home")).content.decode()
    owed = len(codes)
    assert f"2 of {owed} due updates done" in page
    # The counts, each a link to the items in that state.
    assert '<span class="number">1</span> Returned to you' in page
    assert '<span class="number">1</span> Draft' in page
    assert f'<span class="number">{owed - 4}</span> To do' in page
    assert '<span class="number">1</span> Waiting for review' in page
    # Returned first, with the reviewer's comment, then the draft, then what is still to do.
    returned, draft, first_to_do = page.index(codes[45]), page.index(codes[40]), page.index(codes[0])
    assert returned < draft < first_to_do
    assert "Please add the figures." in page
    assert page.index("Please add the figures.") < draft


def test_the_worklist_filters_and_sorts_and_keeps_the_choice_in_the_address(client, personas, make_update):
    codes = _se_lead_codes()
    make_update(personas.alice, codes[3], state="draft")
    client.force_login(personas.alice)
    drafts = client.get(reverse("tracker:home"), {"state": "draft"}).content.decode()
    assert codes[3] in drafts and codes[4] not in drafts
    supporting = Ownership.objects.filter(agency__key="se", role="supporting").values_list(
        "initiative__code", flat=True
    )
    page = client.get(reverse("tracker:home"), {"role": "supporting"}).content.decode()
    assert all(code in page for code in supporting) and codes[0] not in page
    trade = client.get(reverse("tracker:home"), {"theme": "trade", "sort": "code"}).content.decode()
    shown = [code for code in codes if code in trade]
    assert shown and all(Initiative.objects.get(code=code).theme == "trade" for code in shown)
    # The items' buttons carry the list, so that the form can go on to the next one of the same list.
    assert "list=theme%3Dtrade%26sort%3Dcode" in trade
    nonsense = client.get(reverse("tracker:home"), {"state": "nonsense"})
    assert nonsense.status_code == 200 and "Select a valid choice" in nonsense.content.decode()


def test_save_and_go_to_the_next_one_keeps_a_draft_and_opens_the_next_item(client, personas, period):
    codes = _se_lead_codes()
    client.force_login(personas.alice)
    response = client.post(
        reverse("tracker:update-create", args=[codes[0]]), {**_form(), "draft_next": "1", "list": "sort=report"}
    )
    assert StatusUpdate.objects.get(initiative__code=codes[0]).review_state == "draft"
    assert response.status_code == 302
    url = urlsplit(response.url)
    assert url.path == reverse("tracker:update-create", args=[codes[1]])
    assert parse_qs(url.query) == {"list": ["sort=report"]}
    page = client.get(response.url, follow=True).content.decode()
    assert f"Draft saved for {codes[0]}. Next: {codes[1]}." in page
    # And on: the draft just saved does not come back before the rest of the list.
    response = client.post(response.url, {**_form(), "draft_next": "1", "list": "sort=report"})
    assert urlsplit(response.url).path == reverse("tracker:update-create", args=[codes[2]])


def test_after_submitting_the_page_leads_to_the_next_item_due(client, personas, period):
    codes = _se_lead_codes()
    client.force_login(personas.alice)
    response = client.post(reverse("tracker:update-create", args=[codes[0]]), {**_form(), "submit": "1"}, follow=True)
    page = response.content.decode()
    assert "Your update was submitted for review" in page
    assert "Next one" in page and codes[1] in page
    assert reverse("tracker:update-create", args=[codes[1]]) in page


def test_the_last_item_of_the_list_says_nothing_is_left(client, personas, period):
    code = _se_lead_codes()[0]
    client.force_login(personas.alice)
    response = client.post(
        reverse("tracker:update-create", args=[code]), {**_form(), "draft_next": "1", "list": "state=draft"}
    )
    assert response.url == reverse("tracker:home") + "?state=draft"
    page = client.get(response.url).content.decode()
    assert f"Draft saved for {code}. Nothing else in this list needs you." in page


def test_the_worklist_is_paged_and_its_queries_do_not_grow_with_the_agency(client, personas, period, make_update):
    make_update(personas.alice, _se_lead_codes()[0], state="returned", reviewer=personas.sec_mx)
    client.force_login(personas.alice)
    client.get(reverse("tracker:home"))  # warm: the session and the user's profile
    counts = []
    for extra in (0, 200):
        others = Initiative.objects.exclude(ownerships__agency__key="se")[:extra]
        Ownership.objects.bulk_create(
            [
                Ownership(initiative=i, agency=personas.alice.profile.agency, country="MX", role="supporting")
                for i in others
            ]
        )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("tracker:home"))
        counts.append(len(queries))
        assert response.status_code == 200
    page = response.content.decode()
    assert "Page 1 of" in page and page.count('class="work-item ') == 50
    # 1-2 session and user, 3 the open period, 4 the counts, 5 the page's COUNT, 6 its rows,
    # 7 the meetings offered by the filter.
    assert counts[0] == counts[1] <= 10
