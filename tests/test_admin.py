"""The administrator keeps the catalog current: finds things, edits them, sees the history, and is told
clearly when an edit would break the catalog — with nothing half-saved."""

import pytest
from django.urls import reverse

from tracker.models import Agency, Initiative, Ownership

pytestmark = pytest.mark.django_db


def _change_form_data(initiative: Initiative, **overrides) -> dict:
    """The change form's POST as a browser would send it, for the initiative as it stands."""
    data = {
        "report": initiative.report_id,
        "code": initiative.code,
        "title": initiative.title,
        "title_es": initiative.title_es,
        "title_ko": initiative.title_ko,
        "kind": initiative.kind,
        "parent": initiative.parent_id or "",
        "theme": initiative.theme,
        "visibility": initiative.visibility,
        "section": initiative.section,
        "paragraph": initiative.paragraph,
        "quote": initiative.quote,
        "target_phrase": initiative.target_phrase,
        "baseline_target_date": "",
        "matrix_issue": initiative.matrix_issue_id or "",
        "target_revisions-TOTAL_FORMS": "0",
        "target_revisions-INITIAL_FORMS": "0",
        "target_revisions-MIN_NUM_FORMS": "0",
        "target_revisions-MAX_NUM_FORMS": "1000",
    }
    ownerships = list(initiative.ownerships.order_by("pk"))
    data.update(
        {
            "ownerships-TOTAL_FORMS": str(len(ownerships)),
            "ownerships-INITIAL_FORMS": str(len(ownerships)),
            "ownerships-MIN_NUM_FORMS": "2",
            "ownerships-MAX_NUM_FORMS": "1000",
        }
    )
    for index, ownership in enumerate(ownerships):
        prefix = f"ownerships-{index}-"
        data.update(
            {
                prefix + "id": ownership.pk,
                prefix + "initiative": initiative.pk,
                prefix + "agency": ownership.agency_id,
                prefix + "role": ownership.role,
                prefix + "source": ownership.source,
                prefix + "matrix_issue": ownership.matrix_issue_id or "",
            }
        )
    data.update(overrides)
    return data


def _change_url(initiative):
    return reverse("admin:tracker_initiative_change", args=[initiative.pk])


def test_admin_finds_the_direct_air_route(admin_client):
    response = admin_client.get(reverse("admin:tracker_initiative_changelist"), {"q": "direct air route"})
    assert response.status_code == 200
    assert "Launch a direct air route" in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"kind__exact": "strategic"},
        {"theme__exact": "connectivity"},
        {"lead": "kcs"},
        {"owner": "kcs"},
        {"matrix_issue__mechanism__id__exact": "2"},
    ],
)
def test_initiative_filters_work(admin_client, params):
    response = admin_client.get(reverse("admin:tracker_initiative_changelist"), params)
    assert response.status_code == 200
    assert "Select initiative to change" in response.content.decode()


def test_the_korea_customs_service_responsibilities_are_listed(admin_client):
    kcs = Agency.objects.get(key="kcs")
    response = admin_client.get(reverse("admin:tracker_initiative_changelist"), {"owner": "kcs"})
    page = response.content.decode()
    for initiative in Initiative.objects.owned_by(kcs):
        assert initiative.title in page
    agency_page = admin_client.get(reverse("admin:tracker_agency_change", args=[kcs.pk])).content.decode()
    assert Initiative.objects.owned_by(kcs).first().code in agency_page


def test_an_edit_is_saved_and_shown_in_the_history_with_its_author(admin_client, admin_user):
    initiative = Initiative.objects.get(code="SI-06")
    new_title = "Launch a direct air route between Mexico and Korea"
    response = admin_client.post(_change_url(initiative), _change_form_data(initiative, title=new_title))
    assert response.status_code == 302, response.content.decode()[:2000]
    initiative.refresh_from_db()
    assert initiative.title == new_title
    latest = initiative.history.first()
    assert latest.history_user == admin_user

    history = admin_client.get(reverse("admin:tracker_initiative_history", args=[initiative.pk]))
    page = history.content.decode()
    assert admin_user.username in page
    assert "Launch a direct air route" in page and new_title in page  # old → new


def test_an_initiative_without_a_korean_lead_is_refused_and_nothing_is_saved(admin_client):
    initiative = Initiative.objects.get(code="SI-06")
    data = _change_form_data(initiative, title="Changed title that must not be saved")
    for index, ownership in enumerate(initiative.ownerships.order_by("pk")):
        if ownership.country == "KR" and ownership.role == "lead":
            data[f"ownerships-{index}-role"] = "supporting"
    response = admin_client.post(_change_url(initiative), data)
    assert response.status_code == 200
    assert "needs a lead agency in Korea" in response.content.decode()
    initiative.refresh_from_db()
    assert initiative.title == "Launch a direct air route"
    assert initiative.ownerships.filter(country="KR", role="lead").exists()


def test_two_leads_on_one_side_are_refused(admin_client):
    initiative = Initiative.objects.get(code="SI-06")
    data = _change_form_data(initiative)
    extra = Agency.objects.filter(country="MX").exclude(ownerships__initiative=initiative).first()
    index = int(data["ownerships-TOTAL_FORMS"])
    data.update(
        {
            "ownerships-TOTAL_FORMS": str(index + 1),
            f"ownerships-{index}-initiative": initiative.pk,
            f"ownerships-{index}-agency": extra.pk,
            f"ownerships-{index}-role": "lead",
            f"ownerships-{index}-source": "manual",
        }
    )
    response = admin_client.post(_change_url(initiative), data)
    assert "Only one agency in Mexico can lead" in response.content.decode()
    assert not Ownership.objects.filter(initiative=initiative, agency=extra).exists()


def test_a_duplicate_code_is_refused(admin_client):
    initiative = Initiative.objects.get(code="SI-06")
    response = admin_client.post(_change_url(initiative), _change_form_data(initiative, code="SI-01"))
    assert response.status_code == 200
    assert "Initiative with this Code already exists." in response.content.decode()
    assert Initiative.objects.filter(code="SI-06").exists()


def test_a_parent_that_is_an_action_is_refused(admin_client):
    action = Initiative.objects.filter(kind="action").first()
    other_action = Initiative.objects.filter(kind="action").exclude(pk=action.pk).first()
    response = admin_client.post(_change_url(action), _change_form_data(action, parent=other_action.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Select a valid choice" in page or "must be a strategic initiative" in page
    action.refresh_from_db()
    assert action.parent.kind == "strategic"


def test_an_action_without_a_parent_is_refused(admin_client):
    action = Initiative.objects.filter(kind="action").first()
    response = admin_client.post(_change_url(action), _change_form_data(action, parent=""))
    assert "An action must name the strategic initiative it serves." in response.content.decode()


def test_owner_changes_appear_in_the_initiatives_history(admin_client, admin_user):
    initiative = Initiative.objects.get(code="SI-06")
    data = _change_form_data(initiative)
    extra = Agency.objects.filter(country="KR").exclude(ownerships__initiative=initiative).first()
    index = int(data["ownerships-TOTAL_FORMS"])
    data.update(
        {
            "ownerships-TOTAL_FORMS": str(index + 1),
            f"ownerships-{index}-initiative": initiative.pk,
            f"ownerships-{index}-agency": extra.pk,
            f"ownerships-{index}-role": "supporting",
            f"ownerships-{index}-source": "manual",
        }
    )
    assert admin_client.post(_change_url(initiative), data).status_code == 302
    page = admin_client.get(reverse("admin:tracker_initiative_history", args=[initiative.pk])).content.decode()
    assert "Changes to the owners" in page
    assert extra.name in page and admin_user.username in page


@pytest.mark.parametrize("name", ["agency", "mechanism", "matrixissue", "ownership", "report", "initiative"])
def test_every_catalog_list_opens(admin_client, name):
    assert admin_client.get(reverse(f"admin:tracker_{name}_changelist")).status_code == 200
