"""The catalog's pages: the initiative list and detail, the matrix, the report's text."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.views.decorators.http import require_GET
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from tracker import exports, figures, permissions, report_browser
from tracker.choices import Country, ReviewState
from tracker.filters import InitiativeFilter, agency_label, matching_agencies
from tracker.models import CurrentStatus, Evidence, Initiative, MatrixIssue, Mechanism, Ownership, Report, StatusUpdate
from tracker.tables import InitiativeTable, most_urgent, with_sides
from tracker.views.common import open_period, tracker_user_required


class PageSizePaginator(Paginator):
    def __init__(self, object_list, per_page, *args, **kwargs):
        super().__init__(object_list, min(max(int(per_page), 1), 100), *args, **kwargs)


class TableKeptMixin:
    """The list's table (rows, headers, pagination) and its count, rendered once and kept under the figures'
    version (tracker.figures.kept) for this query string and language: the table shows nothing but the counted
    data (initiatives, owners, agencies, current statuses, periods, submitted updates), the same to every reader,
    and any write to it changes the version. A repeated page then costs no COUNT, no rows and no rendering of
    them. Its context has `table_html` and `table_count` (and `table` when it was built)."""

    def get_context_data(self, **kwargs):
        built = {}

        def build():
            context = super(TableKeptMixin, self).get_context_data(**kwargs)
            built["context"] = context
            table = context["table"]
            return {"html": table.as_html(self.request), "count": table.paginator.count}

        query = "&".join(f"{k}={v}" for k, v in sorted(self.request.GET.lists()))
        variant = f"{self.request.path}:{translation.get_language()}:{query}"
        kept = figures.kept("table", variant, build)
        if "context" in built:
            context = built["context"]
        else:
            # The filters without the table: FilterView's own context (SingleTableMixin's would build the table).
            context = super(SingleTableMixin, self).get_context_data(**kwargs)
        context.update(table_html=kept["html"], table_count=kept["count"])
        return context


class InitiativeListView(LoginRequiredMixin, TableKeptMixin, SingleTableMixin, FilterView):
    table_class = InitiativeTable
    filterset_class = InitiativeFilter
    template_name = "tracker/initiative_list.html"
    # django-tables2 paginates (the view must not paginate a second time, which would count twice); the page
    # size is clamped so that ?per_page=-1 or ?per_page=100000 cannot break or overload the page.
    table_pagination = {"per_page": 25, "paginator_class": PageSizePaginator}
    # ?_export=csv or xlsx: every row of the page's filters and sort, as a file (tracker.exports). Any other value
    # shows the page. The parameter's name is also read by django-tables2's {% export_url %} tag.
    export_trigger_param = "_export"
    export_formats = ("csv", "xlsx")
    export_name = "initiatives"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not permissions.can_use_tracker(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return with_sides(Initiative.objects.all()).order_by("position")

    def get(self, request, *args, **kwargs):
        export_format = request.GET.get(self.export_trigger_param)
        if export_format not in self.export_formats:
            return super().get(request, *args, **kwargs)
        # The rows FilterView.get would list, sorted as the table is, without a page (so without a COUNT).
        filterset = self.get_filterset(self.get_filterset_class())
        if not filterset.is_bound or filterset.is_valid() or not self.get_strict():
            rows = filterset.qs
        else:
            rows = filterset.queryset.none()
        table = RequestConfig(request, paginate=False).configure(self.get_table_class()(data=rows))
        return exports.table_download(table, export_format, filename=f"{self.export_name}.{export_format}")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Keep the extra filters unfolded while one of them is in use.
        context["more_filters_active"] = any(
            self.request.GET.get(name) for name in self.filterset_class.base_filters if name != "q"
        )
        return context


@tracker_user_required
@require_GET
def agency_suggestions(request):
    """Suggestions for the initiative list's agency box, as the user types: at most 20, best first."""
    text = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    agencies = matching_agencies(text, limit=20) if text else []
    suggestions = [
        {"value": agency_label(agency), "label": f"{agency.display_name} · {agency.get_country_display()}"}
        for agency in agencies
    ]
    return JsonResponse({"suggestions": suggestions})


@tracker_user_required
def initiative_detail(request, code):
    owners = Ownership.objects.select_related("agency__parent", "matrix_issue").order_by("role", "pk")
    initiative = get_object_or_404(
        Initiative.objects.select_related("parent", "matrix_issue__mechanism", "report").prefetch_related(
            Prefetch("ownerships", queryset=owners)
        ),
        code=code,
    )
    ownerships = list(initiative.ownerships.all())
    current = {c.country: c for c in CurrentStatus.objects.filter(initiative=initiative).select_related("update")}
    accepted = (
        initiative.updates.filter(review_state=ReviewState.ACCEPTED)
        .select_related("agency", "period", "author")
        .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("created_at")))
        .order_by("-reviewed_at")
    )
    sides = [
        {
            "country": country,
            "label": Country(country).label,
            "owners": [o for o in ownerships if o.country == country],
            "current": current.get(country),
        }
        for country in (Country.MEXICO, Country.KOREA)
    ]
    mine = None
    if permissions.is_official(request.user):
        mine = (
            StatusUpdate.objects.in_progress()
            .filter(initiative=initiative, agency=permissions.agency_of(request.user))
            .select_related("period")
            .first()
        )
    evidence_visible = {
        evidence.pk
        for update in accepted
        for evidence in update.evidence.all()
        if permissions.can_view_evidence_of_visible_update(request.user, evidence)
    }
    return render(
        request,
        "tracker/initiative_detail.html",
        {
            "initiative": initiative,
            "sides": sides,
            "accepted": accepted,
            "revisions": initiative.target_revisions.all(),
            "actions": initiative.actions.all() if initiative.kind == "strategic" else None,
            "can_report": permissions.can_report_on(request.user, initiative),
            "mine": mine,
            "period": open_period(),
            "evidence_visible": evidence_visible,
        },
    )


@tracker_user_required
def matrix(request):
    """The responsibility matrix as the report lays it out, each side's cell with the initiatives it owns."""
    rows = Prefetch("initiatives", queryset=with_sides(Initiative.objects.all()).order_by("position"))
    mechanisms = Mechanism.objects.prefetch_related(
        Prefetch("issues", queryset=MatrixIssue.objects.prefetch_related(rows).order_by("position"))
    )
    for mechanism in mechanisms:
        for issue in mechanism.issues.all():
            owned = list(issue.initiatives.all())
            issue.sides = [
                {
                    "label": Country(country).label,
                    "text": issue.mexico_text if country == Country.MEXICO else issue.korea_text,
                    "initiatives": [
                        (i, getattr(i, f"{prefix}_status"), getattr(i, f"{prefix}_progress")) for i in owned
                    ],
                    "colour": most_urgent(getattr(i, f"{prefix}_status") for i in owned),
                }
                for country, prefix in ((Country.MEXICO, "mx"), (Country.KOREA, "kr"))
            ]
    return render(request, "tracker/matrix.html", {"mechanisms": mechanisms})


@tracker_user_required
def report_text(request):
    """The whole report, paragraphs anchored, each tracked recommendation highlighted and linked."""
    report = get_object_or_404(Report.objects.order_by("pk")[:1])
    initiatives = with_sides(Initiative.objects.filter(report=report)).only("code", "title", "quote_start", "quote_end")
    return render(
        request,
        "tracker/report_text.html",
        {"report": report, "paragraphs": report_browser.paragraphs(report.source_text, initiatives)},
    )
