"""Reporting periods, managed by the secretariats."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tracker import permissions, reminders
from tracker.choices import PeriodState, ReviewState
from tracker.forms import ReportingPeriodForm
from tracker.models import ReportingPeriod
from tracker.views.common import tracker_user_required


@tracker_user_required
def period_list(request):
    if not permissions.can_manage_periods(request.user):
        raise PermissionDenied
    periods = ReportingPeriod.objects.annotate(
        submitted=Count("updates", filter=Q(updates__review_state__in=[ReviewState.SUBMITTED, ReviewState.ACCEPTED]))
    ).order_by("-due_date")
    return render(request, "tracker/period_list.html", {"periods": periods})


@tracker_user_required
@require_http_methods(["GET", "POST"])
def period_edit(request, pk=None):
    if not permissions.can_manage_periods(request.user):
        raise PermissionDenied
    period = get_object_or_404(ReportingPeriod, pk=pk) if pk else ReportingPeriod()
    form = ReportingPeriodForm(request.POST or None, instance=period)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Reporting period %(name)s saved.") % {"name": form.instance.name})
        for warning in reminders.due_date_warnings(form.instance.due_date, translation.get_language()):
            messages.warning(request, warning)
        return redirect("tracker:periods")
    return render(request, "tracker/period_form.html", {"form": form, "period": period})


@tracker_user_required
@require_POST
def period_state(request, pk):
    """Open or close a reporting period: closing it stops its reminders."""
    if not permissions.can_manage_periods(request.user):
        raise PermissionDenied
    period = get_object_or_404(ReportingPeriod, pk=pk)
    wanted = request.POST.get("state")
    if wanted not in PeriodState.values:
        messages.error(request, _("Choose whether to open or close the period."))
    else:
        period.state = wanted
        period.save(update_fields=["state"])
        if wanted == PeriodState.OPEN:
            messages.success(request, _("%(name)s is open: reminders follow its due date.") % {"name": period.name})
        else:
            messages.success(request, _("%(name)s is closed: no more reminders for it.") % {"name": period.name})
    return redirect("tracker:periods")
