"""The home page: an official's worklist, the secretariat's dashboard."""

from __future__ import annotations

from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation

from tracker import figures, permissions, reports
from tracker.choices import ReviewState
from tracker.models import Initiative, Ownership, StatusUpdate
from tracker.tables import with_sides
from tracker.views.common import open_period, tracker_user_required

HOME_QUEUE_SIZE = 10  # the review queue's first updates, on the secretariat's home


@tracker_user_required
def home(request):
    """An official's initiatives and what is due; the secretariat's queue, what is late and what happened."""
    period = open_period()
    if permissions.is_official(request.user):
        agency = permissions.agency_of(request.user)
        initiatives = with_sides(Initiative.objects.owned_by(agency)).order_by("position")
        updates = {}
        if period:
            updates_this_period = StatusUpdate.objects.filter(agency=agency, period=period).select_related("initiative")
            for update in updates_this_period.order_by("created_at"):
                updates[update.initiative_id] = update  # the latest one wins
        roles = dict(Ownership.objects.filter(agency=agency).values_list("initiative_id", "role"))
        rows = [(initiative, roles.get(initiative.pk), updates.get(initiative.pk)) for initiative in initiatives]
        returned = [update for update in updates.values() if update.review_state == ReviewState.RETURNED]
        return render(
            request,
            "tracker/home_official.html",
            {"period": period, "agency": agency, "rows": rows, "returned": returned},
        )
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
            "figures_html": figures_html,
        },
    )
