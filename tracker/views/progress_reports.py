"""Progress reports: build, freeze, publish, download."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tracker import permissions, report_files, reports, tasks
from tracker.forms import ProgressReportForm
from tracker.models import ProgressReport
from tracker.views.common import open_period, tracker_user_required


@tracker_user_required
@require_http_methods(["GET", "POST"])
def report_list(request):
    reports = (
        permissions.visible_reports(request.user).select_related("period").defer("snapshot").order_by("-created_at")
    )
    form = None
    if permissions.can_manage_reports(request.user):
        form = ProgressReportForm(request.POST or None, initial={"period": open_period()})
        if request.method == "POST" and form.is_valid():
            report = form.save(commit=False)
            report.created_by = request.user
            report.save()
            messages.success(request, _("Draft report created: its figures stay live until you freeze it."))
            return redirect(report)
    elif request.method == "POST":
        raise PermissionDenied
    return render(request, "tracker/report_list.html", {"reports": reports, "form": form})


def _visible_report_or_404(user, pk) -> ProgressReport:
    return get_object_or_404(permissions.visible_reports(user).select_related("period"), pk=pk)


@tracker_user_required
def progress_report(request, pk):
    report = _visible_report_or_404(request.user, pk)
    return render(
        request,
        "tracker/progress_report.html",
        {
            "report": report,
            "content": reports.content(report),
            "status_codes": reports.STATUS_ORDER,
            "sides": reports.SIDES,
            "can_manage": permissions.can_manage_reports(request.user),
        },
    )


@tracker_user_required
@require_POST
def progress_report_state(request, pk):
    """Freeze a draft, or publish a frozen report."""
    report = _visible_report_or_404(request.user, pk)
    if not permissions.can_manage_reports(request.user):
        raise PermissionDenied
    try:
        if request.POST.get("action") == "freeze":
            reports.freeze_report(report, user=request.user)
            tasks.kick_report_files(report.pk)  # the files in every language, ready before anyone asks
            messages.success(request, _("Frozen: this report will not change any more."))
        elif request.POST.get("action") == "publish":
            reports.publish_report(report, user=request.user)
            messages.success(request, _("Published: the report is now on the public page."))
        else:
            messages.error(request, _("Choose whether to freeze or to publish the report."))
    except ValidationError as error:
        messages.error(request, error.messages[0])
    return redirect(report)


@tracker_user_required
def progress_report_download(request, pk, fmt):
    report = _visible_report_or_404(request.user, pk)
    return report_files.download(report, fmt, language=translation.get_language())
