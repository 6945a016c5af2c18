"""What the audit history (django-simple-history) tells about an update, in words a reviewer reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.choices import ReviewState, Status
from tracker.models import Evidence, StatusUpdate

# The fields an official writes, in the order the form has them.
WRITTEN_FIELDS = ("status", "progress", "summary", "next_steps", "blockers")


@dataclass
class SinceReturn:
    """How an update differs now from what the reviewer returned: each changed field (label, before, after)
    and the evidence added and removed."""

    returned_at: object
    returned_by: object
    comment: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    added: list[Evidence] = field(default_factory=list)
    removed: list[Evidence] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.fields or self.added or self.removed)


def _shown(name: str, value) -> str:
    if name == "status":
        return str(Status(value).label) if value else ""
    if name == "progress":
        return f"{value} %"
    return value or ""


def since_return(update: StatusUpdate) -> SinceReturn | None:
    """What changed in `update` since it was last returned for revision; None if it never was."""
    if update.first_submitted_at == update.submitted_at:
        return None  # submitted once, never returned: nothing to read in the history
    # The return is the record where a submitted update became returned; the official's saves while revising
    # it are recorded as "returned" too, so the latest such record is not the one.
    returned, previous = None, None
    for record in update.history.order_by("history_date", "history_id"):
        if record.review_state == ReviewState.RETURNED and previous == ReviewState.SUBMITTED:
            returned = record
        previous = record.review_state
    if returned is None:
        return None
    changes = SinceReturn(
        returned_at=returned.history_date, returned_by=returned.reviewed_by, comment=returned.review_comment
    )
    for name in WRITTEN_FIELDS:
        before, after = getattr(returned, name), getattr(update, name)
        if before != after:
            label = StatusUpdate._meta.get_field(name).verbose_name
            changes.fields.append((str(label), _shown(name, before), _shown(name, after)))
    then = {item.pk: item for item in Evidence.history.as_of(returned.history_date).filter(update_id=update.pk)}
    now = {item.pk: item for item in update.evidence.all()}
    changes.added = [item for pk, item in now.items() if pk not in then]
    changes.removed = [item for pk, item in then.items() if pk not in now]
    return changes
