import django_tables2 as tables
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tracker.choices import Country, OwnershipRole, Status
from tracker.models import CurrentStatus, Initiative, Ownership


def agency_name_in_language(path: str = "agency"):
    """The agency's name in the active language where the catalog has one, else the report's English (in SQL)."""
    language = (translation.get_language() or "en").split("-")[0]
    if language in ("es", "ko"):
        return Coalesce(NullIf(F(f"{path}__name_{language}"), Value("")), F(f"{path}__name"))
    return F(f"{path}__name")


def with_sides(queryset):
    """Each side's lead agency and current status as columns of the row: one query for the whole page."""
    annotations = {}
    for country, prefix in ((Country.MEXICO, "mx"), (Country.KOREA, "kr")):
        lead = Ownership.objects.filter(initiative=OuterRef("pk"), country=country, role=OwnershipRole.LEAD)
        current = CurrentStatus.objects.filter(initiative=OuterRef("pk"), country=country)
        annotations[f"{prefix}_lead"] = Subquery(lead.values("agency__acronym")[:1])
        annotations[f"{prefix}_lead_name"] = Subquery(lead.values(name=agency_name_in_language())[:1])
        annotations[f"{prefix}_status"] = Subquery(current.values("status")[:1])
        annotations[f"{prefix}_progress"] = Subquery(current.values("progress")[:1])
    return queryset.annotate(**annotations)


class StatusColumn(tables.Column):
    """A side's status as a labelled badge; exported as the plain label."""

    def render(self, value):
        return format_html('<span class="badge status-{}">{}</span>', value, Status(value).label)

    def value(self, value):
        return Status(value).label if value else ""


class SideColumn(tables.Column):
    """One country's side on the page: its lead agency, status badge and progress. Not exported as such:
    the export has the hidden columns below instead, one value per column."""

    def __init__(self, prefix: str, **kwargs):
        self.prefix = prefix
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("exclude_from_export", True)
        kwargs.setdefault("order_by", (f"{prefix}_status", f"{prefix}_progress"))
        # The label shown above the cell when the table stacks into cards on a phone.
        kwargs.setdefault("attrs", {"td": {"data-label": kwargs.get("verbose_name", "")}})
        super().__init__(**kwargs)

    def render(self, record):
        lead = getattr(record, f"{self.prefix}_lead") or getattr(record, f"{self.prefix}_lead_name")
        status = getattr(record, f"{self.prefix}_status")
        progress = getattr(record, f"{self.prefix}_progress")
        if status:
            state = format_html(
                '<span class="badge status-{}">{}</span> <span class="progress-text">{}%</span>',
                status,
                Status(status).label,
                progress,
            )
        else:
            state = format_html('<span class="badge status-none">{}</span>', _("No accepted report yet"))
        return format_html(
            '<div class="side-lead"><abbr title="{}">{}</abbr></div>{}',
            getattr(record, f"{self.prefix}_lead_name"),
            lead,
            state,
        )


class TitleColumn(tables.Column):
    """The title in the reader's language where the catalog has one; sorted by the report's English."""

    def render(self, value, record):
        return format_html('{}<div class="meta">{}</div>', record.display_title, record.get_theme_display())

    def value(self, value, record):
        return record.display_title


class InitiativeTable(tables.Table):
    code = tables.Column(
        verbose_name=_("Code"),
        linkify=("tracker:initiative-detail", {"code": tables.A("code")}),
        attrs={"td": {"class": "code"}},
    )
    title = TitleColumn(verbose_name=_("Title"), linkify=("tracker:initiative-detail", {"code": tables.A("code")}))
    mexico = SideColumn("mx", verbose_name=_("Mexico"))
    korea = SideColumn("kr", verbose_name=_("Korea"))
    # Exported, not shown: one value per column for spreadsheets.
    kind = tables.Column(verbose_name=_("Kind"), visible=False)
    theme = tables.Column(verbose_name=_("Theme"), visible=False)
    mx_lead_name = tables.Column(verbose_name=_("Lead in Mexico"), visible=False)
    mx_status = StatusColumn(verbose_name=_("Status in Mexico"), visible=False)
    mx_progress = tables.Column(verbose_name=_("Progress in Mexico (%)"), visible=False)
    kr_lead_name = tables.Column(verbose_name=_("Lead in Korea"), visible=False)
    kr_status = StatusColumn(verbose_name=_("Status in Korea"), visible=False)
    kr_progress = tables.Column(verbose_name=_("Progress in Korea (%)"), visible=False)
    quote = tables.Column(verbose_name=_("Quote"), visible=False)

    class Meta:
        model = Initiative
        fields = ["code", "title"]
        attrs = {"class": "table initiatives"}
        empty_text = _("No initiative matches these filters.")


# How alarming a status is, for colouring a group of initiatives by the most urgent one among them.
URGENCY = ["blocked", "at_risk", None, "not_started", "on_track", "completed", "discontinued"]


def most_urgent(statuses) -> str | None:
    statuses = list(statuses)
    if not statuses:
        return "empty"
    return min(statuses, key=URGENCY.index)


class PublicInitiativeTable(InitiativeTable):
    """The public list: the same columns, linking to the public page of each initiative."""

    code = tables.Column(
        verbose_name=_("Code"),
        linkify=("tracker:public-initiative", {"code": tables.A("code")}),
        attrs={"td": {"class": "code"}},
    )
    title = TitleColumn(verbose_name=_("Title"), linkify=("tracker:public-initiative", {"code": tables.A("code")}))

    class Meta(InitiativeTable.Meta):
        pass
