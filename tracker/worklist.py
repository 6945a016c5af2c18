"""An agency's worklist for a reporting period: every initiative it owns, where this period's update on it
stands, and what is left to do.

The one place that says what an official still has to do: the home page lists it, the update form's "next
one" follows it, and the period's spreadsheet (tracker.sheets) has a row per item.

- An initiative the agency **leads** is owed: until an update is submitted it is *to do*.
- One it **supports** may be reported on: until then it is *optional*.
- Once an update exists for the period, its review state decides: *returned* (the reviewer asked for changes),
  *draft*, *waiting for review* (submitted), *accepted*. The latest update of the period counts (a correction
  after an acceptance is a new update).

Returned updates and drafts come first: they are started work that only the official can finish.

The worklist is read in two queries (the agency's initiatives, this period's updates) and worked out here, in
Python: an agency owns at most a few hundred initiatives, and deciding each one's state in SQL took a subquery
per state and row (60 ms for 101 initiatives on the benchmark's data set, against a few here).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import F, OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from tracker.choices import OwnershipRole, ReviewState
from tracker.models import Agency, CurrentStatus, Initiative, ReportingPeriod, StatusUpdate, in_language


class WorkState(models.TextChoices):
    """Where an item stands for the official, in the order the worklist shows them."""

    RETURNED = "returned", _("Returned to you")
    DRAFT = "draft", _("Draft")
    TO_DO = "to_do", _("To do")
    OPTIONAL = "optional", _("Optional")
    SUBMITTED = "submitted", _("Waiting for review")
    ACCEPTED = "accepted", _("Accepted")


# What needs the official: started work first, then what is owed.
ACTIONABLE = (WorkState.RETURNED, WorkState.DRAFT, WorkState.TO_DO)
# The official's part is done once the update is submitted.
DONE = (WorkState.SUBMITTED, WorkState.ACCEPTED)
RANK = {state: rank for rank, state in enumerate(WorkState.values)}
_FROM_REVIEW_STATE = {
    ReviewState.RETURNED: WorkState.RETURNED,
    ReviewState.DRAFT: WorkState.DRAFT,
    ReviewState.SUBMITTED: WorkState.SUBMITTED,
    ReviewState.ACCEPTED: WorkState.ACCEPTED,
}


def state_of(role: str, review_state: str | None) -> WorkState:
    """Where an item stands, from the agency's role and the review state of this period's latest update."""
    if review_state is not None:
        return _FROM_REVIEW_STATE[review_state]
    return WorkState.TO_DO if role == OwnershipRole.LEAD else WorkState.OPTIONAL


@dataclass(slots=True)
class Item:
    """One initiative of the worklist: what the worklist shows of it, and where this period's update stands."""

    pk: int
    code: str
    title: str
    title_es: str
    title_ko: str
    theme: str
    position: int
    mechanism_id: int | None  # its High Level Meeting (or General Coordination), if a matrix row fits it
    role: str  # the agency's role: lead or supporting
    our_status: str | None  # the current accepted status and progress on the agency's side
    our_progress: int | None
    update_id: int | None = None  # this period's latest update, its review state and the reviewer's comment
    update_state: str | None = None
    update_comment: str | None = None
    work_state: WorkState = WorkState.TO_DO
    work_rank: int = 0
    action_url: str = ""  # where the item's button leads, and its initiative's page: set by the page showing it
    detail_url: str = ""

    @property
    def display_title(self) -> str:
        return in_language(self, "title")


# What an Item reads of the initiative, its owner and its current status (one row each).
_ITEM_FIELDS = ("pk", "code", "title", "title_es", "title_ko", "theme", "position", "mechanism_id", "role")


def items(agency: Agency, period: ReportingPeriod | None) -> list[Item]:
    """The agency's initiatives in the report's order, each an `Item` (read as plain rows: building model
    instances for a few hundred initiatives cost more than the query)."""
    current = CurrentStatus.objects.filter(initiative=OuterRef("pk"), country=agency.country)
    rows = (
        Initiative.objects.filter(ownerships__agency=agency)
        .annotate(
            role=F("ownerships__role"),
            mechanism_id=F("matrix_issue__mechanism_id"),
            our_status=Subquery(current.values("status")[:1]),
            our_progress=Subquery(current.values("progress")[:1]),
        )
        .order_by("position", "code")
        .values_list(*_ITEM_FIELDS, "our_status", "our_progress")
    )
    worklist = [Item(*row) for row in rows]
    latest = {}
    if period is not None:
        updates = StatusUpdate.objects.filter(agency=agency, period=period).order_by("created_at", "pk")
        for update in updates.values_list("initiative_id", "pk", "review_state", "review_comment"):
            latest[update[0]] = update  # the latest one wins
    for item in worklist:
        if item.pk in latest:
            _initiative, item.update_id, item.update_state, item.update_comment = latest[item.pk]
        item.work_state = state_of(item.role, item.update_state)
        item.work_rank = RANK[item.work_state]
    return worklist


def counts(worklist: list[Item]) -> dict:
    """How many items stand in each state, and the headline: updates done out of those owed.

    `owed` counts the initiatives the agency leads; `done` those of them submitted or accepted this period
    (supporting ones are optional: reporting on them is welcome, not owed, so they are counted apart).
    """
    by_state = {state: 0 for state in WorkState.values}
    done = owed = 0
    for item in worklist:
        by_state[item.work_state] += 1
        if item.role == OwnershipRole.LEAD:
            owed += 1
            done += item.work_state in DONE
    return {"by_state": by_state, "owed": owed, "done": done, "total": len(worklist)}


def next_after(walk: list[Item], current: Initiative) -> Item | None:
    """The item to work on after `current`: the first one that needs the official (returned, draft or to do)
    after it in `walk` (the worklist as the official filtered and sorted it), else the first before it.

    "After" is in the list's order without its grouping by state, so that saving a draft and going on moves
    forward instead of coming back to the draft just saved.
    """
    ids = [item.pk for item in walk]
    start = ids.index(current.pk) + 1 if current.pk in ids else 0
    for item in walk[start:] + walk[:start]:
        if item.pk != current.pk and item.work_state in ACTIONABLE:
            return item
    return None
