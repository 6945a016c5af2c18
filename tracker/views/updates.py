"""An agency's status updates: report, edit, read, download evidence, export."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods

from tracker import actions, exports, permissions
from tracker.choices import ReviewState
from tracker.filters import StatusUpdateExportFilter
from tracker.forms import StatusUpdateForm
from tracker.models import CurrentStatus, Evidence, Initiative, StatusUpdate
from tracker.views.common import open_period, tracker_user_required
from tracker.views.worklist import LIST_PARAMETER, next_item, with_list

READ_ONLY = _lazy("This update is submitted and waits for review: it is read-only until a reviewer returns it.")


def _save_from_form(request, form, update, period):
    """Save the form through `actions.save_update`, then go where the official asked: the update, or the next
    item of their worklist ("Save and go to the next one"). A race or a stale form loses nothing typed."""
    submit = "submit" in request.POST
    list_query = request.POST.get(LIST_PARAMETER, "")
    try:
        update = actions.save_update(
            form.save(commit=False),
            submit=submit,
            links=form.cleaned_data["evidence_links"],
            files=form.cleaned_data["evidence_files"],
            remove_evidence=form.cleaned_data.get("remove_evidence") or (),
            user=request.user,
            seen_version=form.cleaned_data["seen_version"] or None,
        )
    except actions.UpdateAlreadyStarted as race:
        return _already_started(request, race.existing, form, period, list_query)
    except actions.ChangedMeanwhile as stale:
        # Their text stays in the form; the next save goes over the version they have now been shown.
        data = request.POST.copy()
        data["seen_version"] = stale.current.version
        form = StatusUpdateForm(data, instance=StatusUpdate.objects.get(pk=stale.current.pk))
        form.is_valid()
        messages.error(request, stale.messages[0])
        return _form_page(request, form, stale.current, period, list_query, newer=stale.current)
    except actions.StaleUpdate as error:
        current = StatusUpdate.objects.get(pk=update.pk)
        if current.review_state == ReviewState.SUBMITTED:
            messages.info(request, READ_ONLY)  # e.g. the second click of a double-clicked "Submit"
        else:
            messages.error(request, error.messages[0])
        return redirect(with_list(reverse("tracker:update-detail", args=[update.pk]), list_query))
    code = update.initiative.code
    if submit:
        messages.success(request, _("Your update was submitted for review. Thank you."))
        return redirect(with_list(reverse("tracker:update-detail", args=[update.pk]), list_query))
    if "draft_next" in request.POST:
        following = next_item(request.user, period, update.initiative, list_query)
        if following is not None:
            messages.success(
                request,
                _("Draft saved for %(code)s. Next: %(next)s.") % {"code": code, "next": following.code},
            )
            return redirect(following.action_url)
        messages.success(request, _("Draft saved for %(code)s. Nothing else in this list needs you.") % {"code": code})
        return redirect(_with_query(reverse("tracker:home"), list_query))
    messages.success(request, _("Your draft was saved. Submit it when it is ready."))
    return redirect(with_list(reverse("tracker:update-detail", args=[update.pk]), list_query))


def _already_started(request, existing, form, period, list_query):
    """The first save lost a race: open the update that won it. A second click of the same person lands on what
    it saved; a colleague's draft opens with what this official typed shown beside it, not lost."""
    typed = form.cleaned_data
    same = all(getattr(existing, name) == typed.get(name) for name in ("status", "progress", "summary", "next_steps"))
    if existing.author_id == request.user.pk and same:
        messages.info(request, _("Your update was already saved (the form was sent twice)."))
        return redirect(with_list(reverse("tracker:update-detail", args=[existing.pk]), list_query))
    if existing.author_id == request.user.pk:
        messages.warning(
            request, _("You had already started this update: that one is shown. What you typed is below it.")
        )
    else:
        name = existing.author.get_full_name() or existing.author.username
        messages.warning(
            request,
            _("%(name)s started this update a moment before you, so theirs is shown. What you typed is below it.")
            % {"name": name},
        )
    if not existing.is_editable:
        return redirect(with_list(reverse("tracker:update-detail", args=[existing.pk]), list_query))
    return _form_page(request, StatusUpdateForm(instance=existing), existing, period, list_query, unsaved=form)


def _form_page(request, form, update, period, list_query, *, newer=None, unsaved=None):
    return render(
        request,
        "tracker/statusupdate_form.html",
        {
            "form": form,
            "update": update,
            "period": period,
            "list_query": list_query,
            "newer": newer,
            "unsaved": unsaved.cleaned_data if unsaved is not None else None,
        },
    )


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


@tracker_user_required
@require_http_methods(["GET", "POST"])
def update_create(request, code):
    initiative = get_object_or_404(Initiative.objects.prefetch_related("ownerships"), code=code)
    if not permissions.can_report_on(request.user, initiative):
        raise PermissionDenied
    agency = permissions.agency_of(request.user)
    period = open_period()
    list_query = request.GET.get(LIST_PARAMETER) or request.POST.get(LIST_PARAMETER, "")
    if period is None:
        messages.error(request, _("No reporting period is open, so there is nothing to report yet."))
        return redirect(initiative)
    existing = StatusUpdate.objects.in_progress().filter(initiative=initiative, agency=agency, period=period).first()
    if existing is not None and request.method == "GET":
        if existing.is_editable:
            return redirect(with_list(reverse("tracker:update-edit", args=[existing.pk]), list_query))
        messages.info(request, _("Your agency's update for this period is already submitted and waits for review."))
        return redirect(with_list(reverse("tracker:update-detail", args=[existing.pk]), list_query))
    update = StatusUpdate(initiative=initiative, agency=agency, period=period, author=request.user)
    latest = CurrentStatus.objects.filter(initiative=initiative, country=agency.country).first()
    initial = {"status": latest.status, "progress": latest.progress} if latest else {}
    form = StatusUpdateForm(request.POST or None, request.FILES or None, instance=update, initial=initial)
    if request.method == "POST" and form.is_valid():
        if existing is not None:  # started since this form was opened: the same answer as a lost race
            return _already_started(request, existing, form, period, list_query)
        return _save_from_form(request, form, update, period)
    return _form_page(request, form, update, period, list_query)


def visible_update_or_404(user, pk) -> StatusUpdate:
    return get_object_or_404(
        permissions.visible_updates(user).select_related("initiative", "agency", "period", "author", "reviewed_by"),
        pk=pk,
    )


@tracker_user_required
@require_http_methods(["GET", "POST"])
def update_edit(request, pk):
    update = visible_update_or_404(request.user, pk)
    list_query = request.GET.get(LIST_PARAMETER) or request.POST.get(LIST_PARAMETER, "")
    if not permissions.can_edit_update(request.user, update):
        if permissions.agency_of(request.user) == update.agency:
            messages.info(request, READ_ONLY)
            return redirect(with_list(reverse("tracker:update-detail", args=[update.pk]), list_query))
        raise PermissionDenied
    form = StatusUpdateForm(request.POST or None, request.FILES or None, instance=update)
    if request.method == "POST" and form.is_valid():
        update.author = request.user
        return _save_from_form(request, form, update, update.period)
    return _form_page(request, form, update, update.period, list_query)


@tracker_user_required
def update_detail(request, pk):
    update = visible_update_or_404(request.user, pk)
    evidence = [e for e in update.evidence.all() if permissions.can_view_evidence_of_visible_update(request.user, e)]
    following = None
    is_own = permissions.is_official(request.user) and permissions.agency_of(request.user) == update.agency
    if is_own:
        # The way on through the worklist, for the official who has just submitted (or opened) this one.
        period = open_period()
        if period is not None and period.pk == update.period_id:
            following = next_item(request.user, period, update.initiative, request.GET.get(LIST_PARAMETER, ""))
    return render(
        request,
        "tracker/statusupdate_detail.html",
        {
            "update": update,
            "evidence": evidence,
            "can_edit": permissions.can_edit_update(request.user, update),
            "can_review": permissions.can_review(request.user, update),
            "next_item": following,
            "is_own": is_own,
            "list_query": request.GET.get(LIST_PARAMETER, ""),
        },
    )


@tracker_user_required
def evidence_download(request, pk):
    """An evidence file, only to those who may see it, always as a download."""
    evidence = get_object_or_404(Evidence.objects.select_related("update"), pk=pk)
    if not evidence.file or not permissions.can_view_evidence(request.user, evidence):
        raise Http404
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name or "evidence",
        content_type=evidence.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@tracker_user_required
@require_GET
def update_export(request):
    """The status updates the user may export, filtered, as a CSV streamed a row at a time (tracker.exports)."""
    filterset = StatusUpdateExportFilter(
        request.GET or None, queryset=permissions.exportable_updates(request.user), request=request
    )
    if filterset.is_bound and not filterset.is_valid():
        if permissions.can_manage_reports(request.user):
            # Back to the form on the reports page, which shows what was typed and what is wrong with it.
            messages.error(request, _("The spreadsheet was not made: check the filters below."))
            return redirect(f"{reverse('tracker:reports')}?{request.GET.urlencode()}#update-export-heading")
        return HttpResponseBadRequest(filterset.form.errors.as_text(), content_type="text/plain; charset=utf-8")
    period = filterset.form.cleaned_data.get("period") if filterset.is_bound else None
    name = f"status-updates-{slugify(period.name)}" if period else "status-updates"
    return exports.status_updates_csv(filterset.qs, filename=f"{name}.csv")
