"""The initiative list's filters. Every choice offered is public catalog data: no filter reveals drafts."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tracker.choices import Country, InitiativeKind, Status, Theme
from tracker.models import Agency, CurrentStatus, Initiative, Mechanism, Ownership

NO_REPORT = "none"


class SearchField(forms.CharField):
    """The search text without NUL characters: no one types them (only an edited address carries them), and the
    initiative list has no room for an error under the search box, so they are dropped instead of refused."""

    def to_python(self, value):
        return super().to_python(value).replace("\x00", "")


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


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
    agency = django_filters.ModelChoiceFilter(
        label=_("Agency"), queryset=Agency.objects.filter(ownerships__isnull=False).distinct(), method="filter_agency"
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
