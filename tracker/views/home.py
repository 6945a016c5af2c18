"""The home page: an official's worklist, the secretariat's dashboard."""

from __future__ import annotations

from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation

from tracker import figures, permissions, reports
from tracker.choices import ReviewState
from tracker.models import Initiative
from tracker.tables import with_sides
from tracker.views.common import open_period, tracker_user_required
from tracker.views.worklist import worklist_page

HOME_QUEUE_SIZE = 10  # the review queue's first updates, on the secretariat's home


def _on_their_side(user, agencies: list[dict]) -> list[dict]:
    """The agencies nobody can be reminded at that a reviewer answers for: its own country's (an admin, both)."""
    if permissions.is_admin(user):
        return agencies
    return [agency for agency in agencies if agency["country"] == permissions.agency_of(user).country]


@tracker_user_required
def home(request):
    """An official's worklist; the secretariat's queue, what is late and what happened."""
    period = open_period()
    if permissions.is_official(request.user):
        return worklist_page(request, period)
    queue = (
        permissions.reviewable_updates(request.user)
        .select_related("initiative", "agency", "period", "author")
        .order_by("submitted_at", "pk")
    )
    queue_size = queue.count()
    queue = queue[:HOME_QUEUE_SIZE]
    overdue = with_sides(Initiative.objects.overdue()).order_by("position")[:50]
    recent = (
        permissions.visible_updates(request.user)
        .exclude(review_state=ReviewState.DRAFT)
        .select_related("initiative", "agency", "author", "reviewed_by")
        .order_by("-updated_at")[:15]
    )
    dashboard, figures_html = None, ""
    if period:
        dashboard = figures.dashboard(period, translation.get_language())
        figures_html = figures.fragment(
            dashboard,
            lambda: render_to_string(
                "tracker/_dashboard_figures.html",
                {**dashboard, "status_codes": reports.STATUS_ORDER, "sides": reports.SIDES},
                request,
            ),
        )
    return render(
        request,
        "tracker/home_secretariat.html",
        {
            "period": period,
            "queue": queue,
            "queue_size": queue_size,
            "overdue": overdue,
            "recent": recent,
            "content": dashboard["content"] if dashboard else None,
            "unreachable": _on_their_side(request.user, dashboard["unreachable"] if dashboard else []),
            "figures_html": figures_html,
        },
    )
