"""The report as the Commission wrote it, and the matrix as it laid it out, each linked to the tracker."""

import re

import pytest
from django.urls import reverse

from tracker.models import Initiative, MatrixIssue

pytestmark = pytest.mark.django_db


def test_every_tracked_recommendation_is_highlighted_and_linked(client, personas):
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:report")).content.decode()
    for initiative in Initiative.objects.all():
        assert f'id="{initiative.code}"' in page, initiative.code  # the anchor "show in the report" jumps to
        assert f'href="/initiatives/{initiative.code}/"' in page, initiative.code
    marked = " ".join(re.findall(r'<mark class="tracked">(?:<span[^>]*></span>)*(.*?)</mark>', page, re.S))
    assert "Launch a direct air route." in marked
    assert "The Commission was officially established in Seoul" not in marked  # history is not a recommendation


def test_paragraphs_are_anchored_and_the_whole_text_is_there(client, personas):
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:report")).content.decode()
    assert 'id="p-1"' in page and 'href="#p-1"' in page
    assert "Dear Ministers," in page
    assert "the formation of networks of creative writers" in page  # the report's last paragraph


def test_an_initiative_links_to_its_passage(client, personas):
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:initiative-detail", args=["SI-06"])).content.decode()
    assert 'href="/report/#SI-06"' in page


def test_the_status_shows_next_to_the_passage(client, personas, make_update):
    make_update(personas.alice, "SI-01", state="accepted", reviewer=personas.sec_mx, status="at_risk", progress=20)
    client.force_login(personas.charlie)
    page = client.get(reverse("tracker:report")).content.decode()
    chip = re.search(r'<a class="chip status-(\w+)" href="/initiatives/SI-01/"[^>]*>', page)
    assert chip and chip.group(1) == "at_risk"
    assert "Mexico: At risk, 20%" in chip.group(0)


def test_the_matrix_lists_each_row_with_its_bodies_and_initiatives(client, personas, make_update):
    make_update(personas.charlie, "A-314", state="accepted", reviewer=personas.sec_kr, status="blocked", progress=5)
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:matrix")).content.decode()
    for issue in MatrixIssue.objects.all():
        assert issue.issue in page
    assert "Both countries may agree on the convenience of private sector participation" in page
    customs = page[page.index("Customs cooperation") :]
    customs = customs[: customs.index("</tr>")]
    assert "Korea Customs Service" in customs and "Secretary of Finance (SHCP)" in customs
    assert 'class="cell cell-blocked"' in customs  # the Korean side: KCS's update says blocked
    assert 'href="/initiatives/A-314/"' in customs
