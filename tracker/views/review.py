"""The secretariats' review of submitted updates."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tracker import actions, permissions
from tracker.choices import ReviewState
from tracker.forms import ReviewForm
from tracker.models import CurrentStatus
from tracker.views.common import tracker_user_required
from tracker.views.updates import visible_update_or_404

REVIEW_PAGE_SIZE = 50


@tracker_user_required
def review_queue(request):
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    queue = (
        permissions.reviewable_updates(request.user)
        .select_related("initiative", "agency", "period", "author")
        .order_by("submitted_at", "pk")
    )
    page = Paginator(queue, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tracker/review_queue.html", {"queue": page.object_list, "page": page})


@tracker_user_required
@require_http_methods(["GET", "POST"])
def review_update(request, pk):
    update = visible_update_or_404(request.user, pk)
    if not permissions.can_review(request.user, update):
        if update.review_state != ReviewState.SUBMITTED and permissions.is_reviewer(request.user):
            messages.info(request, _("This update has already been reviewed."))
            return redirect("tracker:update-detail", pk=update.pk)
        raise PermissionDenied
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        comment = form.cleaned_data["comment"]
        try:
            if form.cleaned_data["decision"] == ReviewForm.ACCEPT:
                actions.accept_update(update, user=request.user, comment=comment)
                messages.success(
                    request, _("Accepted: it is now the current status of %(code)s.") % {"code": update.initiative.code}
                )
            else:
                actions.return_update(update, user=request.user, comment=comment)
                messages.success(request, _("Returned to %(agency)s with your comment.") % {"agency": update.agency})
        except actions.StaleUpdate as error:
            messages.error(request, error.messages[0])
        except ValidationError as error:
            form.add_error("comment", error)
            return render(request, "tracker/review_update.html", {"update": update, "form": form})
        return redirect("tracker:review")
    evidence = list(update.evidence.all())
    previous = CurrentStatus.objects.filter(initiative=update.initiative, country=update.agency.country).first()
    return render(
        request,
        "tracker/review_update.html",
        {"update": update, "form": form, "evidence": evidence, "previous": previous},
    )
