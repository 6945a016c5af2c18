"""The synthetic data set for the benchmarks: the sizes asked for, consistent, and refused in production."""

import io

import pytest
from django.core.management import CommandError, call_command

from tracker.models import CurrentStatus, Initiative, Ownership, Profile, Reminder, ReportingPeriod, StatusUpdate

pytestmark = pytest.mark.django_db

SMALL = ["--initiatives", "210", "--agencies", "20", "--users", "40", "--periods", "4", "--updates", "400"]


def test_seed_scale_builds_what_was_asked_for(settings):
    settings.DEMO_DATA_ALLOWED = True
    before = Initiative.objects.count()
    call_command("seed_scale", *SMALL, "--reminders", "900", stdout=io.StringIO())
    synthetic = Initiative.objects.filter(report__slug="synthetic-commission")
    assert Initiative.objects.count() - before == synthetic.count() == 210
    assert synthetic.filter(kind="strategic").count() == 10 and synthetic.filter(parent__isnull=True).count() == 10
    # One lead on each side of every initiative, as the catalog's own rule wants.
    leads = Ownership.objects.filter(initiative__in=synthetic, role="lead")
    assert leads.count() == 2 * 210 and leads.filter(country="MX").count() == 210
    assert ReportingPeriod.objects.filter(name__startswith="Synthetic ", state="open").count() == 1
    assert StatusUpdate.objects.filter(initiative__in=synthetic).count() == 400
    assert Reminder.objects.filter(message_id__startswith="<bench-").count() == 900
    assert Profile.objects.filter(user__username__startswith="bench").count() == 40
    # Each side's current status is its latest accepted update.
    for current in CurrentStatus.objects.filter(initiative__in=synthetic).select_related("update")[:50]:
        assert current.update.review_state == "accepted" and current.status == current.update.status
    with pytest.raises(CommandError, match="already here"):
        call_command("seed_scale", *SMALL, stdout=io.StringIO())


def test_seed_scale_is_refused_on_a_production_installation(settings):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="DEMO_DATA_ALLOWED"):
        call_command("seed_scale", *SMALL, stdout=io.StringIO())
