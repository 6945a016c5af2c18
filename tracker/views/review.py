"""The secretariats' review of submitted updates: the queue, one update at a time, or several at once."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from tracker import actions, history, permissions
from tracker.choices import ReviewState
from tracker.filters import ReviewQueueFilter
from tracker.forms import BulkReviewForm, ReviewForm
from tracker.models import CurrentStatus, StatusUpdate
from tracker.views.common import tracker_user_required
from tracker.views.updates import visible_update_or_404

REVIEW_PAGE_SIZE = 50
FILTER_PARAMETERS = tuple(ReviewQueueFilter.base_filters)


def _queue(request, params: QueryDict) -> ReviewQueueFilter:
    updates = (
        permissions.reviewable_updates(request.user)
        .select_related("initiative", "agency", "period", "author")
        .order_by("submitted_at", "pk")
    )
    return ReviewQueueFilter(params or None, queryset=updates)


def _filter_query(params: QueryDict) -> str:
    kept = QueryDict(mutable=True)
    for name in FILTER_PARAMETERS:
        for value in params.getlist(name):
            if value:
                kept.appendlist(name, value)
    return kept.urlencode()


@tracker_user_required
def review_queue(request):
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    queue = _queue(request, request.GET)
    page = Paginator(queue.qs, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    filter_query = _filter_query(request.GET)
    return render(
        request,
        "tracker/review_queue.html",
        {
            "queue": page.object_list,
            "page": page,
            "filters": queue,
            "filtered": bool(filter_query),
            "filter_query": filter_query,
            "filter_pairs": [
                (name, value) for name in FILTER_PARAMETERS for value in request.GET.getlist(name) if value
            ],
            "form": BulkReviewForm(),
            # "All that the filter shows" takes what was there when the page was made, nothing that came later.
            "seen_at": timezone.now().isoformat(),
        },
    )


@tracker_user_required
@require_POST
def review_bulk(request):
    """Accept, or return with one comment, the updates ticked on the queue's page, or all the filter shows.

    The queue's page posts each ticked update with the version it showed; "all the filter shows" posts the
    filter and the moment the page was made, and is confirmed on a second page that lists what it covers."""
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied
    back = reverse("tracker:review") + (f"?{_filter_query(request.POST)}" if _filter_query(request.POST) else "")
    form = BulkReviewForm(request.POST)
    if not form.is_valid():
        for error in form.errors.values():
            messages.error(request, error[0])
        return redirect(back)
    if form.cleaned_data["scope"] == BulkReviewForm.FILTER:
        seen_at = parse_datetime(request.POST.get("seen_at", "")) or timezone.now()
        covered = _queue(request, request.POST).qs.filter(updated_at__lte=seen_at)
        if not request.POST.get("confirmed"):
            return render(
                request,
                "tracker/review_bulk_confirm.html",
                {
                    "form": form,
                    "covered": covered,
                    "count": covered.count(),
                    "seen_at": seen_at.isoformat(),
                    "filter_fields": [(name, request.POST.getlist(name)) for name in FILTER_PARAMETERS],
                    "back": back,
                },
            )
        seen = {update.pk: update.version for update in covered}
        later = _queue(request, request.POST).qs.filter(updated_at__gt=seen_at).count()
    else:
        seen = form.cleaned_data["updates"]
        later = 0
    if not seen:
        messages.error(request, _("Tick the updates to decide on, or choose “all that the filter shows”."))
        return redirect(back)
    accept = form.cleaned_data["decision"] == BulkReviewForm.ACCEPT
    try:
        result = actions.review_updates(seen, accept=accept, user=request.user, comment=form.cleaned_data["comment"])
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect(back)
    done = len(result.done)
    if accept:
        text = ngettext("%(count)d update accepted.", "%(count)d updates accepted.", done)
    else:
        text = ngettext(
            "%(count)d update returned with your comment.", "%(count)d updates returned with your comment.", done
        )
    messages.success(request, text % {"count": done})
    for update, reason in result.left:
        messages.warning(
            request,
            _("Left alone: %(code)s (%(agency)s): %(reason)s")
            % {"code": update.initiative.code, "agency": update.agency.acronym or update.agency, "reason": reason},
        )
    if later:
        messages.info(
            request,
            ngettext(
                "%(count)d update arrived or changed after you loaded the page: it was left for you to read.",
                "%(count)d updates arrived or changed after you loaded the page: they were left for you to read.",
                later,
            )
            % {"count": later},
        )
    return redirect(back)


@tracker_user_required
@require_http_methods(["GET", "POST"])
def review_update(request, pk):
    update = visible_update_or_404(request.user, pk)
    if not permissions.can_review(request.user, update):
        if update.review_state != ReviewState.SUBMITTED and permissions.is_reviewer(request.user):
            messages.info(request, _("This update has already been reviewed."))
            return redirect("tracker:update-detail", pk=update.pk)
        raise PermissionDenied
    form = ReviewForm(request.POST or None, initial={"seen_version": update.version})
    if request.method == "POST" and form.is_valid():
        comment = form.cleaned_data["comment"]
        seen = form.cleaned_data["seen_version"] or None
        try:
            if form.cleaned_data["decision"] == ReviewForm.ACCEPT:
                actions.accept_update(update, user=request.user, comment=comment, seen_version=seen)
                messages.success(
                    request, _("Accepted: it is now the current status of %(code)s.") % {"code": update.initiative.code}
                )
            else:
                actions.return_update(update, user=request.user, comment=comment, seen_version=seen)
                messages.success(request, _("Returned to %(agency)s with your comment.") % {"agency": update.agency})
        except actions.StaleUpdate as error:
            messages.error(request, error.messages[0])
            if StatusUpdate.objects.filter(pk=update.pk, review_state=ReviewState.SUBMITTED).exists():
                return redirect("tracker:review-update", pk=update.pk)  # changed meanwhile: read it again
        except ValidationError as error:
            form.add_error("comment", error)
            return _review_page(request, update, form)
        return redirect("tracker:review")
    return _review_page(request, update, form)


def _review_page(request, update, form):
    evidence = list(update.evidence.all())
    previous = CurrentStatus.objects.filter(initiative=update.initiative, country=update.agency.country).first()
    return render(
        request,
        "tracker/review_update.html",
        {
            "update": update,
            "form": form,
            "evidence": evidence,
            "previous": previous,
            "since_return": history.since_return(update),
        },
    )
