"""The dashboard's figures are cached, and never older than the last write that changes them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


def on_track_in_mexico(client) -> int:
    """The "On track" count of the dashboard's "Status by theme" table, summed over the themes (A-318 is the only
    initiative the tests report on, on the Mexican side)."""
    content = client.get(reverse("tracker:home")).context["content"]
    return sum(group["counts"].get("on_track", 0) for group in content["by_theme"])


def compliance_agencies(client) -> list[str]:
    return [entry["agency"] for entry in client.get(reverse("tracker:home")).context["content"]["compliance"]]


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
    ownership = Ownership.objects.get(initiative=Initiative.objects.get(code="SI-06"), country="KR", role="lead")
    leading = Ownership.objects.filter(role="lead").values_list("agency", flat=True)
    other = type(ownership.agency).objects.filter(country="KR").exclude(pk__in=leading).first()
    assert other.name not in compliance_agencies(client)
    ownership.agency = other
    ownership.save()
    assert other.name in compliance_agencies(client)  # the new lead owes the update at once
    personas.sec_mx.profile.language = "ko"
    personas.sec_mx.profile.save()
    assert (other.name_ko or other.name) in compliance_agencies(client)


def test_saving_a_draft_keeps_the_figures_cached(client, personas, period, make_update):
    client.force_login(personas.sec_mx)
    queries(client)
    warm = queries(client)
    make_update(personas.alice, "A-318", state="draft")
    assert queries(client) == warm  # a draft counts nowhere: nothing to build again


def test_the_dashboard_works_when_the_cache_does_not_answer(client, personas, period, make_update, monkeypatch):
    from django.core.cache import cache

    from tracker import actions

    def refuse(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cache, "get", refuse)
    monkeypatch.setattr(cache, "set", refuse)
    client.force_login(personas.sec_mx)
    actions.accept_update(make_update(personas.alice, "A-318"), user=personas.sec_mx)
    assert on_track_in_mexico(client) == 1


def test_a_kept_list_page_shows_an_accepted_update_at_once(client, personas, period, make_update):
    """The initiative list's table is kept between requests (views.initiatives.TableKeptMixin), never past a change."""
    from tracker import actions

    client.force_login(personas.sec_mx)
    path = reverse("tracker:initiative-list") + "?q=A-318"

    def mexico_status() -> str:
        html = client.get(path).context["table_html"]
        return html.split('data-label="Mexico"')[1].split("</td>")[0]

    assert "No accepted report yet" in mexico_status()
    assert "No accepted report yet" in mexico_status()  # kept
    update = make_update(personas.alice, "A-318")
    assert "No accepted report yet" in mexico_status()  # submitted, not accepted: the list shows accepted only
    actions.accept_update(update, user=personas.sec_mx)
    assert "On track" in mexico_status()


def test_a_kept_list_page_follows_the_readers_language(client, personas, period):
    client.force_login(personas.sec_mx)
    path = reverse("tracker:initiative-list") + "?q=A-318"
    assert "No accepted report yet" in client.get(path).context["table_html"]
    personas.sec_mx.profile.language = "es"
    personas.sec_mx.profile.save()
    assert "No accepted report yet" not in client.get(path).context["table_html"]
