"""The public view: no login."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from tracker import report_files
from tracker.choices import Country, ReportState, Visibility
from tracker.filters import PublicInitiativeFilter
from tracker.models import CurrentStatus, Initiative, ProgressReport
from tracker.tables import PublicInitiativeTable, with_sides
from tracker.views.initiatives import PageSizePaginator, TableKeptMixin

# --- The public view ---------------------------------------------------------------------------------
# No login. Published initiatives and their accepted status only: never a draft, a submitted or returned update,
# private evidence, or the name or address of a person.


class PublicInitiativeListView(TableKeptMixin, SingleTableMixin, FilterView):
    table_class = PublicInitiativeTable
    filterset_class = PublicInitiativeFilter
    template_name = "tracker/public_list.html"
    table_pagination = {"per_page": 25, "paginator_class": PageSizePaginator}

    def get_queryset(self):
        return with_sides(Initiative.objects.filter(visibility=Visibility.PUBLIC)).order_by("position")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The list needs titles and dates, not the snapshots (the whole catalog's figures, each).
        context["published_reports"] = (
            ProgressReport.objects.filter(state=ReportState.PUBLISHED).select_related("period").defer("snapshot")
        )
        return context


def public_initiative(request, code):
    initiative = get_object_or_404(
        Initiative.objects.select_related("parent", "matrix_issue__mechanism"), code=code, visibility=Visibility.PUBLIC
    )
    ownerships = list(initiative.ownerships.select_related("agency").order_by("role", "pk"))
    current = {c.country: c for c in CurrentStatus.objects.filter(initiative=initiative).select_related("update")}
    sides = [
        {
            "label": Country(country).label,
            "owners": [o for o in ownerships if o.country == country],
            "current": current.get(country),
        }
        for country in (Country.MEXICO, Country.KOREA)
    ]
    return render(request, "tracker/public_detail.html", {"initiative": initiative, "sides": sides})


def public_report_download(request, pk, fmt):
    report = get_object_or_404(ProgressReport, pk=pk, state=ReportState.PUBLISHED)
    return report_files.download(report, fmt, language=translation.get_language())
