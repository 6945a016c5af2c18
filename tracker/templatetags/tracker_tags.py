from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from tracker.charts import status_bar
from tracker.choices import Country, Status

register = template.Library()


@register.simple_tag
def status_badge(status: str | None, progress: int | None = None) -> str:
    """A status as a coloured, labelled badge (the label, not only the colour, carries the meaning)."""
    if not status:
        return format_html('<span class="badge status-none">{}</span>', _("No accepted report yet"))
    badge = format_html('<span class="badge status-{}">{}</span>', status, Status(status).label)
    if progress is None:
        return badge
    return format_html('{} <span class="progress-text">{}%</span>', badge, progress)


@register.simple_tag
def side_status(initiative, country: str) -> str:
    """The current status on one side of an initiative annotated by `tables.with_sides`."""
    prefix = "mx" if country == Country.MEXICO else "kr"
    return status_badge(getattr(initiative, f"{prefix}_status"), getattr(initiative, f"{prefix}_progress"))


@register.filter
def when(value) -> str:
    """A moment in the viewer's time zone, with the zone named: "Nov. 28, 2026, 4:48 a.m. KST"."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.tzname()}"


@register.simple_tag
def status_chip(code: str, url: str, title: str, status: str | None, progress: int | None) -> str:
    """A compact link for an initiative, coloured by its status, the status spelled out for screen readers."""
    label = Status(status).label if status else _("No accepted report yet")
    text = f"{label}, {progress}%" if status else label
    return format_html(
        '<a class="chip status-{}" href="{}" title="{} — {}">{}<span class="visually-hidden"> — {}</span></a>',
        status or "none",
        url,
        title,
        text,
        code,
        text,
    )


@register.simple_tag
def initiative_chip(initiative) -> str:
    """A link to an initiative annotated by `tables.with_sides`, coloured by its more urgent side, both sides'
    status spelled out in its tooltip and for screen readers."""
    from django.urls import reverse

    from tracker.tables import most_urgent

    sides = []
    for label, prefix in ((Country.MEXICO.label, "mx"), (Country.KOREA.label, "kr")):
        status, progress = getattr(initiative, f"{prefix}_status"), getattr(initiative, f"{prefix}_progress")
        sides.append(f"{label}: " + (f"{Status(status).label}, {progress}%" if status else _("No accepted report yet")))
    colour = most_urgent([initiative.mx_status, initiative.kr_status]) or "none"
    text = "; ".join(sides)
    return format_html(
        '<a class="chip status-{}" href="{}" title="{} — {}">{}<span class="visually-hidden"> — {}</span></a>',
        colour,
        reverse("tracker:initiative-detail", args=[initiative.code]),
        initiative.title,
        text,
        initiative.code,
        text,
    )


@register.simple_tag
def stacked_bar(counts: dict, width: int = 320, height: int = 18) -> str:
    """A horizontal bar of status counts as inline SVG (the same bars as in the PDF)."""
    return status_bar(counts, width=width, height=height)


@register.filter
def status_name(code: str) -> str:
    from tracker.reports import status_label

    return status_label(code)


@register.filter
def work_state_name(code: str) -> str:
    """Where a worklist item stands (tracker.worklist.WorkState), in the reader's language."""
    from tracker.worklist import WorkState

    return WorkState(code).label


@register.filter
def theme_name(code: str) -> str:
    from tracker.choices import Theme

    return Theme(code).label


@register.filter
def get_count(counts: dict, code: str) -> int:
    return counts.get(code, 0)


@register.filter
def get_side(sides: dict, side: str):
    return sides.get(side)


@register.filter
def country_name(code: str) -> str:
    return Country(code).label


@register.filter
def minutes(value) -> int:
    """A timedelta in whole minutes, rounded up: "try again in 15 minutes"."""
    if not value:
        return 0
    return -(-int(value.total_seconds()) // 60)


@register.inclusion_tag("tracker/_update_export.html", takes_context=True)
def update_export_form(context) -> dict:
    """The status update export's filters (tracker.filters.StatusUpdateExportFilter) as a form whose answer is the
    CSV download, for the pages where people prepare reports. The filters the user may not use are left out."""
    from tracker.filters import StatusUpdateExportFilter
    from tracker.models import StatusUpdate

    request = context["request"]
    # Bound to the query string when the export sent the user back here with filters it could not use.
    filterset = StatusUpdateExportFilter(request.GET or None, queryset=StatusUpdate.objects.none(), request=request)
    filterset.form.auto_id = "update-export-%s"  # the page may have a form with a "period" field of its own
    if filterset.is_bound:
        filterset.form.is_valid()  # the errors, shown under each field
    return {"form": filterset.form, "time_zone": timezone.get_current_timezone_name()}


@register.simple_tag
def worklist_cards(items, period) -> str:
    """The worklist's items as cards (templates/tracker/home_official.html), written in one pass: a page has 50
    of them, and the template language (or format_html per piece) costs several times as much per card.

    Each card: code and title (to the initiative), the agency's role, the accepted status on its side, where
    this period's update stands (with the reviewer's comment when it was returned) and the one button that moves
    it on. The button's words name the initiative for screen readers ("Report progress A-042"). Every value is
    escaped here (`escape`); the words are the catalog's, escaped once."""
    from html import escape

    from django.template.defaultfilters import truncatechars
    from django.utils.safestring import mark_safe

    from tracker.worklist import WorkState

    words = {key: escape(str(text)) for key, text in (("lead", _("Lead")), ("supporting", _("Supporting")))}
    states = {state.value: escape(str(state.label)) for state in WorkState}
    buttons = {
        WorkState.RETURNED: (escape(_("Revise")), ""),
        WorkState.DRAFT: (escape(_("Continue")), ""),
        WorkState.TO_DO: (escape(_("Report progress")), ""),
        WorkState.OPTIONAL: (escape(_("Report progress")), " secondary"),
        WorkState.SUBMITTED: (escape(_("View")), " secondary"),
        WorkState.ACCEPTED: (escape(_("View")), " secondary"),
    }
    accepted = escape(_("Accepted:"))
    badges = {}  # a status and progress shows the same on every card that has it
    cards = []
    for item in items:
        state = item.work_state
        comment = ""
        if state == WorkState.RETURNED and item.update_comment:
            comment = f'<q class="work-comment">{escape(truncatechars(item.update_comment, 240))}</q>'
        badge = f'<span class="badge work-badge-{state}">{states[state]}</span>' if period else ""
        button = ""
        if period or state in (WorkState.SUBMITTED, WorkState.ACCEPTED):
            label, style = buttons[state]
            button = (
                f'<a class="button small{style}" href="{escape(item.action_url)}">{label}'
                f'<span class="visually-hidden"> {escape(item.code)}</span></a>'
            )
        current = (item.our_status, item.our_progress)
        if current not in badges:
            badges[current] = status_badge(*current)
        cards.append(
            f'<li class="work-item work-{state}"><div class="work-title"><a href="{escape(item.detail_url)}">'
            f'<span class="code">{escape(item.code)}</span> {escape(item.display_title)}</a></div>'
            f'<div class="work-facts"><span class="badge role-{escape(item.role)}">{words.get(item.role, "")}</span> '
            f'<span class="work-current"><span class="meta">{accepted}</span>&nbsp;{badges[current]}</span></div>'
            f'<div class="work-state">{badge}{comment}</div><div class="work-action">{button}</div></li>'
        )
    return mark_safe("".join(cards))  # every value escaped above


@register.simple_tag
def review_rows(queue) -> str:
    """The review queue's rows (templates/tracker/review_queue.html), written in one pass like the worklist's
    cards: a box to tick (carrying the version the page shows, for `actions.review_updates`), the initiative with
    the start of the summary, the agency, the status, when it was submitted, and the button to review it alone."""
    from html import escape

    from django.template.defaultfilters import truncatechars
    from django.urls import reverse
    from django.utils.safestring import mark_safe

    review = escape(_("Review"))
    url = reverse("tracker:review-update", args=[999999999])
    rows = []
    for update in queue:
        code = escape(update.initiative.code)
        rows.append(
            f'<tr><td class="tick"><input type="checkbox" name="updates" value="{update.pk}:{escape(update.version)}"'
            f' id="tick-{update.pk}"><label for="tick-{update.pk}" class="visually-hidden">{code}</label></td>'
            f'<td><span class="code">{code}</span> {escape(update.initiative.display_title)}'
            f'<div class="summary meta">{escape(truncatechars(update.summary, 160))}</div></td>'
            f"<td>{escape(update.agency.display_name)}</td><td>{status_badge(update.status, update.progress)}</td>"
            f"<td>{escape(when(update.submitted_at))}</td>"
            f'<td><a class="button small" href="{url.replace("999999999", str(update.pk))}">{review}'
            f'<span class="visually-hidden"> {code}</span></a></td></tr>'
        )
    return mark_safe("".join(rows))  # every value escaped above
