"""The period's spreadsheet: download it, upload it filled in, read the preview, confirm (rules: tracker/sheets.py)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracker import exports, permissions, sheets
from tracker.models import SheetUpload
from tracker.views.common import open_period, tracker_user_required

FORMATS = {"xlsx": exports.XLSX_CONTENT_TYPE, "csv": exports.CSV_CONTENT_TYPE}


def _official_or_403(request) -> None:
    if not permissions.is_official(request.user):
        raise PermissionDenied


def _no_period(request):
    messages.error(request, _("No reporting period is open, so there is no spreadsheet to fill in yet."))
    return redirect("tracker:home")


@tracker_user_required
@require_GET
def sheet_download(request, fmt):
    """The agency's spreadsheet for the open period, as XLSX or CSV."""
    if fmt not in FORMATS:
        raise Http404
    _official_or_403(request)
    period = open_period()
    if period is None:
        return _no_period(request)
    agency = permissions.agency_of(request.user)
    if fmt == "xlsx":
        content = sheets.workbook_bytes(agency, period)
    else:
        content = sheets.csv_text(agency, period).encode("utf-8")
    response = HttpResponse(content, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{sheets.filename(agency, period, fmt)}"'
    return response


@tracker_user_required
@require_http_methods(["GET", "POST"])
def sheet_upload(request):
    """The upload form; a file that cannot be imported is answered here, with the reason, and nothing is kept."""
    _official_or_403(request)
    period = open_period()
    if period is None:
        return _no_period(request)
    form = sheets.UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            upload = sheets.receive(
                form.cleaned_data["file"], user=request.user, period=period, mode=form.cleaned_data["mode"]
            )
        except sheets.BadFile as problem:
            form.add_error("file", problem.message)
        else:
            return redirect("tracker:worklist-upload-preview", pk=upload.pk)
    return render(request, "tracker/sheet_upload.html", {"form": form, "period": period})


def _own_upload_or_404(request, pk) -> SheetUpload:
    """Only the uploader sees an upload's preview: anyone else is answered as if it did not exist."""
    return get_object_or_404(SheetUpload.objects.select_related("period"), pk=pk, user=request.user)


def _mode(value: str | None, default: str) -> str:
    return value if value in sheets.Mode.values else default


@tracker_user_required
@require_GET
def sheet_preview(request, pk):
    """What importing the upload would do now, in the mode chosen (`?mode=draft|submit` switches)."""
    upload = _own_upload_or_404(request, pk)
    mode = _mode(request.GET.get("mode"), upload.mode)
    plan = sheets.plan_upload(upload, user=request.user, period=open_period(), mode=mode)
    return render(request, "tracker/sheet_preview.html", _preview_context(upload, plan))


def _preview_context(upload: SheetUpload, plan: sheets.Plan) -> dict:
    other = sheets.Mode.SUBMIT if plan.mode == sheets.Mode.DRAFT else sheets.Mode.DRAFT
    return {"upload": upload, "plan": plan, "mode": sheets.Mode(plan.mode), "other_mode": other}


@tracker_user_required
@require_POST
def sheet_confirm(request, pk):
    """Import the upload as previewed; if anything differs from the preview, show the new one and save nothing."""
    upload = _own_upload_or_404(request, pk)
    mode = _mode(request.POST.get("mode"), upload.mode)
    try:
        applied = sheets.apply_upload(
            upload,
            user=request.user,
            period=open_period(),
            mode=mode,
            confirmed=request.POST.get("fingerprint", ""),
        )
    except sheets.NotApplied as refused:
        # The preview again, made afresh: it shows the database as it is now (the reason is in the message).
        messages.error(request, refused.message)
        return redirect(f"{reverse('tracker:worklist-upload-preview', kwargs={'pk': upload.pk})}?mode={mode}")
    messages.success(request, applied.message)
    return redirect("tracker:home")
