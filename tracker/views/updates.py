"""An agency's status updates: report, edit, read, download evidence, export."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tracker import actions, exports, permissions
from tracker.filters import StatusUpdateExportFilter
from tracker.forms import StatusUpdateForm
from tracker.models import CurrentStatus, Evidence, Initiative, StatusUpdate
from tracker.views.common import open_period, tracker_user_required


def _save_from_form(request, form, update):
    submit = "submit" in request.POST
    try:
        update = actions.save_update(
            form.save(commit=False),
            submit=submit,
            links=form.cleaned_data["evidence_links"],
            files=form.cleaned_data["evidence_files"],
            user=request.user,
        )
    except actions.StaleUpdate as error:
        messages.error(request, error.messages[0])
        return redirect("tracker:update-detail", pk=update.pk)
    if submit:
        messages.success(request, _("Your update was submitted for review. Thank you."))
    else:
        messages.success(request, _("Your draft was saved. Submit it when it is ready."))
    return redirect("tracker:update-detail", pk=update.pk)


@tracker_user_required
@require_http_methods(["GET", "POST"])
def update_create(request, code):
    initiative = get_object_or_404(Initiative, code=code)
    if not permissions.can_report_on(request.user, initiative):
        raise PermissionDenied
    agency = permissions.agency_of(request.user)
    period = open_period()
    if period is None:
        messages.error(request, _("No reporting period is open, so there is nothing to report yet."))
        return redirect(initiative)
    existing = StatusUpdate.objects.in_progress().filter(initiative=initiative, agency=agency, period=period).first()
    if existing is not None:
        if existing.is_editable:
            return redirect("tracker:update-edit", pk=existing.pk)
        messages.info(request, _("Your agency's update for this period is already submitted and waits for review."))
        return redirect("tracker:update-detail", pk=existing.pk)
    update = StatusUpdate(initiative=initiative, agency=agency, period=period, author=request.user)
    latest = CurrentStatus.objects.filter(initiative=initiative, country=agency.country).first()
    initial = {"status": latest.status, "progress": latest.progress} if latest else {}
    form = StatusUpdateForm(request.POST or None, request.FILES or None, instance=update, initial=initial)
    if request.method == "POST" and form.is_valid():
        return _save_from_form(request, form, update)
    return render(request, "tracker/statusupdate_form.html", {"form": form, "update": update, "period": period})


def visible_update_or_404(user, pk) -> StatusUpdate:
    return get_object_or_404(
        permissions.visible_updates(user).select_related("initiative", "agency", "period", "author", "reviewed_by"),
        pk=pk,
    )


@tracker_user_required
@require_http_methods(["GET", "POST"])
def update_edit(request, pk):
    update = visible_update_or_404(request.user, pk)
    if not permissions.can_edit_update(request.user, update):
        if permissions.agency_of(request.user) == update.agency:
            messages.info(request, _("This update is submitted and read-only until a reviewer returns it."))
            return redirect("tracker:update-detail", pk=update.pk)
        raise PermissionDenied
    form = StatusUpdateForm(request.POST or None, request.FILES or None, instance=update)
    if request.method == "POST" and form.is_valid():
        update.author = request.user
        return _save_from_form(request, form, update)
    return render(request, "tracker/statusupdate_form.html", {"form": form, "update": update, "period": update.period})


@tracker_user_required
def update_detail(request, pk):
    update = visible_update_or_404(request.user, pk)
    evidence = [e for e in update.evidence.all() if permissions.can_view_evidence_of_visible_update(request.user, e)]
    return render(
        request,
        "tracker/statusupdate_detail.html",
        {
            "update": update,
            "evidence": evidence,
            "can_edit": permissions.can_edit_update(request.user, update),
            "can_review": permissions.can_review(request.user, update),
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
