"""The initiative list's filters. Every choice offered is public catalog data: no filter reveals drafts."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.forms.utils import flatatt
from django.urls import reverse_lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tracker import permissions
from tracker.choices import Country, InitiativeKind, OwnershipRole, ReviewState, Status, Theme
from tracker.models import Agency, CurrentStatus, Initiative, Mechanism, Ownership, ReportingPeriod, StatusUpdate
from tracker.tables import URGENCY
from tracker.worklist import WorkState

NO_REPORT = "none"
ANY = _("Any")  # an unused filter's choice


class SearchField(forms.CharField):
    """The search text without NUL characters: no one types them (only an edited address carries them), and the
    initiative list has no room for an error under the search box, so they are dropped instead of refused."""

    def to_python(self, value):
        return super().to_python(value).replace("\x00", "")


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


def agencies_with_initiatives():
    return Agency.objects.filter(Exists(Ownership.objects.filter(agency=OuterRef("pk"))))


def agency_label(agency: Agency) -> str:
    """What the agency filter shows and accepts for an agency: its acronym, or its name where it has none."""
    return agency.acronym or agency.display_name


def matching_agencies(text: str, limit: int | None = None) -> list[Agency]:
    """Agencies that own initiatives whose acronym or name (in any of the three languages) contains `text`, best
    first: the acronym itself, then acronyms that start with it, then names that do, then the rest."""
    text = text.strip()
    found = agencies_with_initiatives().filter(
        Q(acronym__icontains=text) | Q(name__icontains=text) | Q(name_es__icontains=text) | Q(name_ko__icontains=text)
    )
    lowered = text.lower()

    def rank(agency: Agency) -> tuple:
        acronym = agency.acronym.lower()
        names = (agency.name, agency.name_es, agency.name_ko)
        closeness = (
            0
            if acronym == lowered
            else 1
            if acronym.startswith(lowered)
            else 2
            if any(name.lower().startswith(lowered) for name in names if name)
            else 3
        )
        return closeness, agency.country, agency_label(agency).lower()

    found = sorted(found, key=rank)
    return found[:limit] if limit else found


class AgencyField(forms.CharField):
    """An agency typed by acronym or name, with suggestions as one types (static/js/agency-suggestions.js).

    A drop-down would list every agency: hundreds once a ministry tracks several reports. The box accepts an
    acronym, a name in any of the three languages, or part of one that only one agency matches; anything
    else is answered with what it matched, so that the user can type more. (A number is an agency's id:
    links written before this box existed still work.)
    """

    widget = forms.TextInput(attrs={"list": "agency-suggestions", "autocomplete": "off", "spellcheck": "false"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.widget.attrs["data-suggestions"] = reverse_lazy("tracker:agency-suggestions")

    def to_python(self, value):
        text = super().to_python(value).replace("\x00", "").strip()
        if not text:
            return None
        owners = agencies_with_initiatives()
        if text.isdecimal():  # isdigit() would pass "²", which int() refuses
            agency = owners.filter(pk=int(text)).first()
            if agency is None:
                raise ValidationError(_("No agency has this number."), code="unknown")
            return agency
        exact = Q(acronym__iexact=text) | Q(key__iexact=text)
        exact |= Q(name__iexact=text) | Q(name_es__iexact=text) | Q(name_ko__iexact=text)
        found = list(owners.filter(exact)[:2]) or matching_agencies(text, limit=6)
        if len(found) == 1:
            return found[0]
        if not found:
            raise ValidationError(
                _("No agency with initiatives matches “%(text)s”."), code="unknown", params={"text": text}
            )
        names = ", ".join(agency_label(a) for a in found[:5])
        raise ValidationError(
            _("Several agencies match “%(text)s”: %(names)s. Type more of the name."),
            code="ambiguous",
            params={"text": text, "names": names + (" …" if len(found) > 5 else "")},
        )


class AgencyFilter(django_filters.Filter):
    field_class = AgencyField


class InitiativeFilter(django_filters.FilterSet):
    q = SearchFilter(
        label=pgettext_lazy("the filter's text box", "Search"),
        method="filter_text",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=InitiativeKind.choices)
    theme = django_filters.ChoiceFilter(label=_("Theme"), choices=Theme.choices)
    meeting = django_filters.ModelChoiceFilter(
        label=_("High Level Meeting"),
        field_name="matrix_issue__mechanism",
        queryset=Mechanism.objects.all(),
    )
    agency = AgencyFilter(
        label=_("Agency"), method="filter_agency", help_text=_("Acronym or name; suggestions appear as you type.")
    )
    country = django_filters.ChoiceFilter(
        label=_("Side"),
        choices=Country.choices,
        method="filter_noop",
        help_text=_("Apply the status and overdue filters to one country's side only."),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[(NO_REPORT, _("No accepted report yet")), *Status.choices],
        method="filter_status",
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue"),
        method="filter_overdue",
        widget=forms.Select(choices=[("", _("Any")), ("true", _("Update overdue")), ("false", _("Not overdue"))]),
    )

    class Meta:
        model = Initiative
        fields = ["q", "kind", "theme", "meeting", "agency", "country", "status", "overdue"]

    def _side(self) -> str | None:
        side = self.form.cleaned_data.get("country")
        return side or None

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(code__icontains=value)
            | Q(title__icontains=value)
            | Q(title_es__icontains=value)
            | Q(title_ko__icontains=value)
            | Q(quote__icontains=value)
        )

    def filter_agency(self, queryset, name, agency):
        return queryset.filter(Exists(Ownership.objects.filter(initiative=OuterRef("pk"), agency=agency)))

    def filter_noop(self, queryset, name, value):
        return queryset  # read by the status and overdue filters

    def filter_status(self, queryset, name, value):
        sides = [self._side()] if self._side() else Country.values
        statuses = CurrentStatus.objects.filter(initiative=OuterRef("pk"), country__in=sides)
        if value == NO_REPORT:
            if len(sides) == 1:
                return queryset.exclude(Exists(statuses))
            return queryset.exclude(Exists(statuses.filter(country=Country.MEXICO))) | queryset.exclude(
                Exists(statuses.filter(country=Country.KOREA))
            )
        return queryset.filter(Exists(statuses.filter(status=value)))

    def filter_overdue(self, queryset, name, value):
        overdue = Initiative.objects.overdue(country=self._side()).values("pk")
        return queryset.filter(pk__in=overdue) if value else queryset.exclude(pk__in=overdue)


class PublicInitiativeFilter(InitiativeFilter):
    """The public view's filters: catalog data and accepted statuses only."""

    class Meta(InitiativeFilter.Meta):
        fields = ["q", "kind", "theme", "meeting", "country", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("agency", "overdue"):
            self.filters.pop(name, None)


class StatusUpdateExportFilter(django_filters.FilterSet):
    """The status update export's filters (tracker.exports). The rows are limited to what the user may export
    (permissions.exportable_updates) before any filter applies; the choices are periods and catalog data."""

    period = django_filters.ModelChoiceFilter(label=_("Period"), queryset=ReportingPeriod.objects.order_by("-due_date"))
    review_state = django_filters.ChoiceFilter(label=_("Review state"), choices=ReviewState.choices)
    country = django_filters.ChoiceFilter(label=_("Side"), field_name="agency__country", choices=Country.choices)
    agency = AgencyFilter(
        label=_("Agency"), field_name="agency", help_text=_("Acronym or name; suggestions appear as you type.")
    )
    status = django_filters.ChoiceFilter(label=_("Status"), choices=Status.choices)

    class Meta:
        model = StatusUpdate
        fields = ["period", "review_state", "country", "agency", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = getattr(self.request, "user", None)
        if user is not None and permissions.is_official(user):
            # An official's file holds its own agency's updates only: there is no side or agency to choose.
            for name in ("country", "agency"):
                self.filters.pop(name)
        else:
            # Only an official sees drafts (its own agency's): nobody else is offered them.
            self.filters["review_state"].extra["choices"] = [
                (value, label) for value, label in ReviewState.choices if value != ReviewState.DRAFT
            ]


class QuickSelect(forms.Select):
    """A drop-down written in one pass: Django renders a template per option (the worklist's five drop-downs
    took 5 ms of its page), here each option is one formatted string. Same markup, same attributes."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(item) for item in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((str(key), mark_safe(" selected") if str(key) in chosen else "", label) for key, label in self.choices),
        )
        return format_html(
            "<select{}>{}</select>", flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name})), options
        )


class WorklistFilter(forms.Form):
    """The official's worklist (tracker.worklist.items, a list): by where each item stands, theme, High Level
    Meeting and the agency's role, in the order chosen. The choice is kept in the URL, so that a bookmarked
    worklist opens the same and the update form can go on to the next item of the same list.

    The worklist is in memory (a few hundred items at most), so the filters and the order apply to the list."""

    # What `sort` offers: the order of the list, and the order the "next one" walks in (the same without the
    # grouping by state, which would bring a draft just saved back to the top).
    SORTS = {
        "due": (_("What needs you first"), lambda item: (item.position, item.pk)),
        "report": (_("Report order"), lambda item: (item.position, item.pk)),
        "code": (_("Code"), lambda item: (item.code,)),
        "title": (_("Title"), lambda item: (item.display_title.casefold(), item.code)),
        "status": (_("Current status"), lambda item: (URGENCY.index(item.our_status), item.position, item.pk)),
    }

    state = forms.ChoiceField(
        label=_("Where it stands"), choices=[("", ANY), *WorkState.choices], required=False, widget=QuickSelect
    )
    theme = forms.ChoiceField(label=_("Theme"), choices=[("", ANY), *Theme.choices], required=False, widget=QuickSelect)
    meeting = forms.ModelChoiceField(
        label=_("High Level Meeting"),
        queryset=Mechanism.objects.all(),
        empty_label=ANY,
        required=False,
        widget=QuickSelect,
    )
    role = forms.ChoiceField(
        label=_("Our role"), choices=[("", ANY), *OwnershipRole.choices], required=False, widget=QuickSelect
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        choices=[(key, label) for key, (label, _order) in SORTS.items()],
        required=False,
        widget=QuickSelect,
    )

    def _chosen(self) -> dict:
        return self.cleaned_data if self.is_bound and self.is_valid() else {}

    def select(self, worklist: list) -> list:
        """The items the filters keep (all of them when a filter's value is not one offered)."""
        chosen = self._chosen()
        meeting = chosen.get("meeting")
        return [
            item
            for item in worklist
            if (not chosen.get("state") or item.work_state == chosen["state"])
            and (not chosen.get("theme") or item.theme == chosen["theme"])
            and (meeting is None or item.mechanism_id == meeting.pk)
            and (not chosen.get("role") or item.role == chosen["role"])
        ]

    def _sort(self) -> str:
        return self._chosen().get("sort") or "due"

    def walked(self, worklist: list) -> list:
        """The items kept, in the order the update form's "next one" follows."""
        return sorted(self.select(worklist), key=self.SORTS[self._sort()][1])

    def ordered(self, worklist: list) -> list:
        """The items kept in the list's order: by default what needs the official first (returned, drafts, to do,
        ...), each group in the report's order."""
        walked = self.walked(worklist)
        return sorted(walked, key=lambda item: item.work_rank) if self._sort() == "due" else walked

    def chosen(self) -> list[str]:
        """The filters in use, as the reader would name them ("To do", "Trade, investment and business")."""
        chosen = self._chosen()
        names = []
        for name in ("state", "theme", "meeting", "role"):
            value = chosen.get(name)
            if value:
                names.append(str(value) if name == "meeting" else str(dict(self.fields[name].choices)[value]))
        return names


class ReviewQueueFilter(django_filters.FilterSet):
    """The review queue's filters (the updates already limited to what the reviewer may review): what a reviewer
    narrows a long queue by before deciding on several updates at once. Kept in the URL."""

    period = django_filters.ModelChoiceFilter(
        label=_("Period"), queryset=ReportingPeriod.objects.order_by("-due_date"), empty_label=ANY, widget=QuickSelect
    )
    agency = AgencyFilter(
        label=_("Agency"), field_name="agency", help_text=_("Acronym or name; suggestions appear as you type.")
    )
    theme = django_filters.ChoiceFilter(
        label=_("Theme"), field_name="initiative__theme", choices=Theme.choices, empty_label=ANY, widget=QuickSelect
    )
    meeting = django_filters.ModelChoiceFilter(
        label=_("High Level Meeting"),
        field_name="initiative__matrix_issue__mechanism",
        queryset=Mechanism.objects.all(),
        empty_label=ANY,
        widget=QuickSelect,
    )
    status = django_filters.ChoiceFilter(label=_("Status"), choices=Status.choices, empty_label=ANY, widget=QuickSelect)

    class Meta:
        model = StatusUpdate
        fields = ["period", "agency", "theme", "meeting", "status"]
