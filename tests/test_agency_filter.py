"""The initiative list's agency filter: a box that takes an acronym or a name, with suggestions as one types.

A drop-down of every agency stops working past a few hundred agencies; the box accepts what an official would
type, and answers a name it cannot settle with what it matched.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tracker.models import Agency, Initiative

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:initiative-list")
SUGGEST = reverse("tracker:agency-suggestions")


def codes_listed(response) -> set[str]:
    return {row.record.code for row in response.context["table"].page.object_list}


def owned_codes(key: str) -> set[str]:
    return set(Initiative.objects.owned_by(Agency.objects.get(key=key)).values_list("code", flat=True))


@pytest.mark.parametrize(
    "typed",
    ["KCS", "kcs", "Korea Customs Service", "Korea Customs", "Servicio de Aduanas de Corea", "관세청"],
)
def test_an_agency_is_found_by_acronym_or_name_in_any_language(client, personas, typed):
    client.force_login(personas.sec_mx)
    response = client.get(LIST, {"agency": typed, "per_page": 100})
    assert not response.context["filter"].form.errors
    assert codes_listed(response) == owned_codes("kcs")


def test_a_link_with_the_agency_number_still_works(client, personas):
    client.force_login(personas.sec_mx)
    response = client.get(LIST, {"agency": Agency.objects.get(key="kcs").pk, "per_page": 100})
    assert codes_listed(response) == owned_codes("kcs")


def test_a_name_several_agencies_share_is_answered_with_them(client, personas):
    client.force_login(personas.sec_mx)
    response = client.get(LIST, {"agency": "Secretary of"})
    page = response.content.decode()
    assert "Several agencies match “Secretary of”" in page and "Type more of the name." in page
    assert "SE," in page or "SE " in page  # the agencies it matched, by acronym
    assert 'value="Secretary of"' in page  # what was typed stays in the box


def test_an_unknown_agency_is_answered_clearly(client, personas):
    client.force_login(personas.sec_mx)
    page = client.get(LIST, {"agency": "Ministry of Magic"}).content.decode()
    assert "No agency with initiatives matches “Ministry of Magic”." in page


def test_the_page_offers_no_list_of_every_agency(client, personas):
    """The filter is a text box tied to an empty suggestion list, not a <select> of every agency."""
    client.force_login(personas.alice)
    page = client.get(LIST).content.decode()
    assert 'name="agency"' in page and 'list="agency-suggestions"' in page
    assert '<select name="agency"' not in page
    assert "Korea Customs Service" not in page  # no agency is listed until the user types
    assert "js/agency-suggestions" in page


def test_suggestions_match_acronyms_and_names_best_first(client, personas):
    client.force_login(personas.alice)
    suggestions = client.get(SUGGEST, {"q": "se"}).json()["suggestions"]
    values = [s["value"] for s in suggestions]
    assert values[0] in ("SE", "SEP", "SEMARNAT", "SECTUR")  # acronyms starting with "se" come first
    assert "SE" in values and len(values) <= 20
    assert "Secretary of Economy · Mexico" in [s["label"] for s in suggestions]


def test_suggestions_are_in_the_readers_language(client, personas):
    personas.charlie.profile.language = "ko"
    personas.charlie.profile.save()
    client.force_login(personas.charlie)
    suggestions = client.get(SUGGEST, {"q": "KCS"}).json()["suggestions"]
    assert suggestions == [{"value": "KCS", "label": "관세청 · 한국"}]


def test_suggestions_leave_out_agencies_without_initiatives(client, personas):
    Agency.objects.create(key="ghost", country="MX", name="Office of Ghost Affairs", acronym="OGA")
    client.force_login(personas.alice)
    assert client.get(SUGGEST, {"q": "Ghost"}).json()["suggestions"] == []


def test_suggestions_need_a_signed_in_tracker_user(client, personas):
    assert client.get(SUGGEST, {"q": "se"}).status_code == 302  # to the login page
    assert client.get(SUGGEST).status_code == 302
