"""Pages. Thin: permissions come from `tracker.permissions`, writes go through `tracker.actions`."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Prefetch, Q
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from tracker import actions, exports, figures, permissions, report_browser, report_files, reports, security, tasks
from tracker.celery import app as celery_app
from tracker.choices import Country, PeriodState, ReportState, ReviewState, Visibility
from tracker.filters import (
    InitiativeFilter,
    PublicInitiativeFilter,
    StatusUpdateExportFilter,
    agency_label,
    matching_agencies,
)
from tracker.forms import (
    PreferencesForm,
    ProgressReportForm,
    ReportingPeriodForm,
    ReviewForm,
    StatusUpdateForm,
    TwoFactorCodeForm,
)
from tracker.models import (
    CurrentStatus,
    Evidence,
    Initiative,
    MatrixIssue,
    Mechanism,
    Ownership,
    ProgressReport,
    Report,
    ReportingPeriod,
    StatusUpdate,
    SweepRun,
)
from tracker.tables import InitiativeTable, PublicInitiativeTable, most_urgent, with_sides


def tracker_user_required(view):
    """Logged in, with a role in the tracker; anyone else is sent to the login page or refused."""

    @login_required
    def wrapped(request, *args, **kwargs):
        if not permissions.can_use_tracker(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _open_period() -> ReportingPeriod | None:
    return ReportingPeriod.objects.open().order_by("due_date").first()


# --- Home --------------------------------------------------------------------------------------------


REVIEW_PAGE_SIZE = 50  # the review queue's page; the home page shows its first HOME_QUEUE_SIZE
HOME_QUEUE_SIZE = 10


@tracker_user_required
def home(request):
    """An official's initiatives and what is due; the secretariat's queue, what is late and what happened."""
    period = _open_period()
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


# --- Initiatives ---------------------------------------------------------------------------------------


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
            "period": _open_period(),
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


# --- Updates -------------------------------------------------------------------------------------------


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
    period = _open_period()
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


def _visible_update_or_404(user, pk) -> StatusUpdate:
    return get_object_or_404(
        permissions.visible_updates(user).select_related("initiative", "agency", "period", "author", "reviewed_by"),
        pk=pk,
    )


@tracker_user_required
@require_http_methods(["GET", "POST"])
def update_edit(request, pk):
    update = _visible_update_or_404(request.user, pk)
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
    update = _visible_update_or_404(request.user, pk)
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


# --- Review --------------------------------------------------------------------------------------------


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


@tracker_user_required
@require_http_methods(["GET", "POST"])
def review_update(request, pk):
    update = _visible_update_or_404(request.user, pk)
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


# --- Progress reports ---------------------------------------------------------------------------------


@tracker_user_required
@require_http_methods(["GET", "POST"])
def report_list(request):
    reports = (
        permissions.visible_reports(request.user).select_related("period").defer("snapshot").order_by("-created_at")
    )
    form = None
    if permissions.can_manage_reports(request.user):
        form = ProgressReportForm(request.POST or None, initial={"period": _open_period()})
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


# --- Reporting periods ---------------------------------------------------------------------------------


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


# --- Accounts ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """Language, time zone, and whether reminders come one by one or as a daily digest."""
    profile = permissions.profile_of(request.user)
    if profile is None:
        raise PermissionDenied
    form = PreferencesForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your preferences are saved."))
        response = redirect("tracker:preferences")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, profile.language)
        return response
    return render(
        request,
        "tracker/preferences.html",
        {"form": form, "two_factor_on": security.has_two_factor(request.user)},
    )


# --- Two-factor sign-in ----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Turn two-factor sign-in on (scan the code, confirm with the first six digits) or off (with a current code)."""
    import base64

    import segno
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    next_url = security.redirect_after_sign_in(request, default=reverse("tracker:preferences"))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    required = security.two_factor_required(request.user)
    if device is not None:  # on: the page offers to turn it off, unless the role requires it
        form = TwoFactorCodeForm(request.POST or None, device=device)
        if request.method == "POST" and not required and form.is_valid():
            TOTPDevice.objects.filter(user=request.user).delete()
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("tracker:preferences")
        return render(request, "tracker/two_factor.html", {"form": form, "on": True, "required": required})

    # Off: one unconfirmed device holds the secret the user is adding to an app, until a code confirms it.
    pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if pending is None:
        pending = TOTPDevice.objects.create(user=request.user, name=_("Authenticator app"), confirmed=False)
    form = TwoFactorCodeForm(request.POST or None, device=pending)
    if request.method == "POST" and form.is_valid():
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        otp_login(request, pending)
        messages.success(request, _("Two-factor sign-in is on. From now on you will give a code after your password."))
        return redirect(next_url)
    return render(
        request,
        "tracker/two_factor.html",
        {
            "form": form,
            "on": False,
            "required": required,
            "waived": not settings.TWO_FACTOR_REQUIRED,
            "qr_code": segno.make(pending.config_url, error="m").svg_data_uri(scale=5, border=2),
            "secret": base64.b32encode(pending.bin_key).decode(),
            "next": next_url,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """After the password: the code from the user's authenticator app."""
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    next_url = security.redirect_after_sign_in(request)
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None or request.user.is_verified():
        return redirect(next_url)
    form = TwoFactorCodeForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        otp_login(request, device)
        return redirect(next_url)
    return render(request, "tracker/two_factor_verify.html", {"form": form, "next": next_url})


@require_POST
def set_language(request):
    """The language switcher on every page: Django's own view (the cookie, then back to the same page), and for a
    logged-in user the profile too, which decides the language of the pages, emails and PDFs from then on."""
    response = i18n.set_language(request)
    language = request.POST.get("language")
    profile = permissions.profile_of(request.user)
    if profile is not None and language in dict(settings.LANGUAGES) and profile.language != language:
        profile.language = language
        profile.save(update_fields=["language"])
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links point at SITE_URL, never at whatever Host header the request carried."""

    def form_valid(self, form):
        site = urlsplit(settings.SITE_URL)
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        return HttpResponseRedirect(self.get_success_url())


# --- Health --------------------------------------------------------------------------------------------


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # any failure is the answer, not an error page
        return f"error: {error.__class__.__name__}"


def _broker_state() -> str:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"error: {error.__class__.__name__}"


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@never_cache
@require_GET
def healthz(request):
    """The state of the services the tracker needs, for monitors: 200 when the database answers."""
    database = _database_state()
    last = SweepRun.objects.exclude(finished_at=None).first() if database == "ok" else None
    state = {
        "database": database,
        "broker": _broker_state(),
        "last_sweep": last.finished_at.isoformat() if last else None,
    }
    return JsonResponse(state, status=200 if state["database"] == "ok" else 503)


# --- Error pages -----------------------------------------------------------------------------------------------


def server_error(request):
    """The 500 handler: a database that is briefly unreachable (restarting, failing over) gets a 503 that says
    so and asks to retry, not an error page; anything else gets the plain 500 page. Both render without the
    database (no user, no context processors), since it may be what failed."""
    import sys

    from django.db import InterfaceError, OperationalError
    from django.template.loader import render_to_string

    error = sys.exc_info()[1]
    if isinstance(error, (OperationalError, InterfaceError)):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "10"
        return response
    return HttpResponse(render_to_string("500.html"), status=500)


# --- Benchmark baseline (only with BENCHMARK_BASELINE; scripts/bench_web.py) ----------------------------------------


def benchmark_baseline(request):
    """A constant answer through the same middleware: what the benchmark compares each page with."""
    return HttpResponse(b"ok", content_type="text/plain")
