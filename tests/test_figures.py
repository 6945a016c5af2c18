"""The dashboard's figures are cached, and never older than the last write that changes them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


def on_track_in_mexico(client) -> int:
    content = client.get(reverse("tracker:home")).context["content"]
    return sum(1 for row in content["initiatives"] if row["sides"]["MX"]["status"] == "on_track")


def queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("tracker:home"))
    return len(captured)


def test_the_dashboard_is_served_from_the_cache_until_an_update_is_accepted(client, personas, period, make_update):
    from django.core.cache import cache

    client.force_login(personas.sec_mx)
    first, again = queries(client), queries(client)
    assert again < first - 3, "the figures were built again although nothing changed"
    assert on_track_in_mexico(client) == 0
    cache.clear()

    update = make_update(personas.alice, "A-318")  # submitted: nothing accepted yet
    assert on_track_in_mexico(client) == 0
    from tracker import actions

    actions.accept_update(update, user=personas.sec_mx)
    assert on_track_in_mexico(client) == 1  # at once, not when the cache expires


def test_the_figures_follow_the_readers_language_and_an_owner_changed_in_the_admin(client, personas, period):
    from tracker.models import Initiative, Ownership

    client.force_login(personas.sec_mx)
    content = client.get(reverse("tracker:home")).context["content"]
    lead = next(row for row in content["initiatives"] if row["code"] == "SI-06")["sides"]["KR"]["lead"]
    ownership = Ownership.objects.get(initiative=Initiative.objects.get(code="SI-06"), country="KR", role="lead")
    other = type(ownership.agency).objects.filter(country="KR").exclude(pk=ownership.agency_id).first()
    ownership.agency = other
    ownership.save()
    content = client.get(reverse("tracker:home")).context["content"]
    now = next(row for row in content["initiatives"] if row["code"] == "SI-06")["sides"]["KR"]["lead"]
    assert now != lead and now == other.name
    personas.sec_mx.profile.language = "ko"
    personas.sec_mx.profile.save()
    content = client.get(reverse("tracker:home")).context["content"]
    korean = next(row for row in content["initiatives"] if row["code"] == "SI-06")["sides"]["KR"]["lead"]
    assert korean == (other.name_ko or other.name)
