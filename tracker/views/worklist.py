"""An official's worklist (the home page), and the way from one item to the next (tracker.worklist)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse

from tracker import permissions, worklist
from tracker.filters import WorklistFilter
from tracker.models import Initiative, ReportingPeriod
from tracker.worklist import Item, WorkState

WORKLIST_PAGE_SIZE = 50  # an agency with 500 initiatives gets ten pages, each rendering 50 cards
LIST_PARAMETER = "list"  # the worklist's filters and sort, carried by the update form to find "the next one"


def worklist_page(request, period: ReportingPeriod | None):
    agency = permissions.agency_of(request.user)
    items = worklist.items(agency, period)
    filters = WorklistFilter(request.GET or None)
    page = Paginator(filters.ordered(items), WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    list_query = list_query_of(request.GET)
    urls = ItemUrls(list_query)
    for item in page.object_list:
        item.action_url, item.detail_url = urls.action(item), urls.detail(item)
    counts = worklist.counts(items)
    return render(
        request,
        "tracker/home_official.html",
        {
            "period": period,
            "agency": agency,
            "filters": filters,
            "chosen": filters.chosen(),
            "current_state": request.GET.get("state") if not filters.errors else None,
            "page": page,
            "items": page.object_list,
            "counts": counts,
            "states": [(state, state.label, counts["by_state"][state]) for state in WorkState],
            "list_query": list_query,
        },
    )


def with_list(url: str, list_query: str) -> str:
    """`url` carrying the worklist's filters, so that the page after it can go on to the next item of the list."""
    return f"{url}?{urlencode({LIST_PARAMETER: list_query})}" if list_query else url


def list_query_of(params: QueryDict) -> str:
    """The worklist's own parameters (filters and sort, not the page) as a query string."""
    kept = [(name, value) for name in WorklistFilter.base_fields for value in params.getlist(name) if value]
    return urlencode(kept)


class ItemUrls:
    """Where an item's button leads (the form of the update in the making, a new one, or the update to read) and
    its initiative's page, with the worklist's filters carried along. Each address is reversed once and filled
    in per item: a page of 50 items has a hundred of them, and reverse() costs tens of microseconds a call."""

    ID, CODE = 999999999, "CODE"  # stand-ins, replaced by each item's own

    def __init__(self, list_query: str = ""):
        self.list_query = list_query
        self.edit = reverse("tracker:update-edit", args=[self.ID])
        self.read = reverse("tracker:update-detail", args=[self.ID])
        self.new = reverse("tracker:update-create", args=[self.CODE])
        self.initiative = reverse("tracker:initiative-detail", args=[self.CODE])

    def action(self, item: Item) -> str:
        if item.work_state in (WorkState.RETURNED, WorkState.DRAFT):
            url = self.edit.replace(str(self.ID), str(item.update_id))
        elif item.work_state in (WorkState.TO_DO, WorkState.OPTIONAL):
            url = self.new.replace(self.CODE, quote(item.code))
        else:
            url = self.read.replace(str(self.ID), str(item.update_id))
        return with_list(url, self.list_query)

    def detail(self, item: Item) -> str:
        return self.initiative.replace(self.CODE, quote(item.code))


def next_item(user, period: ReportingPeriod, current: Initiative, list_query: str) -> Item | None:
    """The next item that needs the official after `current`, in the worklist as they had filtered and sorted it,
    with `action_url` set; None when nothing is left."""
    filters = WorklistFilter(QueryDict(list_query) or None)
    item = worklist.next_after(filters.walked(worklist.items(permissions.agency_of(user), period)), current)
    if item is not None:
        item.action_url = ItemUrls(list_query).action(item)
    return item
