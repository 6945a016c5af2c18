"""The important writes, one named function each: views and tasks call these, never `.save()` on their own.

Each function checks the state it starts from, so a stale form, a stale spreadsheet row or a second click
cannot move an update backwards or overwrite what someone else saved meanwhile, and runs in one transaction,
so nothing is half-done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker import permissions, reminders
from tracker.choices import ReminderKind, ReviewState
from tracker.models import CurrentStatus, Evidence, StatusUpdate


class StaleUpdate(ValidationError):
    """The update is no longer in the state the user saw (someone else acted on it first)."""


class ChangedMeanwhile(StaleUpdate):
    """Someone saved the update after the user opened it: saving would silently overwrite their work."""

    def __init__(self, current: StatusUpdate):
        self.current = current
        who = current.author.get_full_name() or current.author.username
        super().__init__(
            _(
                "%(name)s saved this update after you opened it. Nothing of yours was saved: compare with what "
                "is there now, then save again."
            )
            % {"name": who}
        )


class UpdateAlreadyStarted(StaleUpdate):
    """The first save of an update lost a race (a colleague, or a second click, a moment earlier): the update
    in the making exists, and this is it."""

    def __init__(self, existing: StatusUpdate):
        self.existing = existing
        super().__init__(_("This update had just been started: here it is."))


@transaction.atomic
def save_update(
    update: StatusUpdate,
    *,
    submit: bool,
    links: Iterable[str] = (),
    files: Iterable = (),
    remove_evidence: Iterable[Evidence] = (),
    user,
    seen_version: str | None = None,
) -> StatusUpdate:
    """Save an official's update as a draft or submit it, adding evidence links and files and removing the
    evidence the official took off.

    `update` is the form's (or spreadsheet row's) unsaved or changed instance; `files` are (uploaded file,
    detected content type); `seen_version` is the `version` of the update the user was looking at, if any: an
    update saved by someone else since is refused (`ChangedMeanwhile`), never overwritten. The first save of an
    update that someone started at the same moment raises `UpdateAlreadyStarted` with theirs.
    """
    if update.pk:
        current = StatusUpdate.objects.select_for_update().select_related("author").get(pk=update.pk)
        if not permissions.can_edit_update(user, current):
            raise StaleUpdate(_("This update has already been submitted and can no longer be changed."))
        if seen_version is not None and current.version != seen_version:
            raise ChangedMeanwhile(current)
    elif not permissions.can_report_on(user, update.initiative):
        raise PermissionDenied
    if submit:
        update.review_state = ReviewState.SUBMITTED
        update.submitted_at = timezone.now()
        update.first_submitted_at = update.first_submitted_at or update.submitted_at
    elif not update.pk:
        update.review_state = ReviewState.DRAFT
    if update.pk:
        update.save()
    else:
        _save_first(update)
    if submit:
        reminders.cancel_remaining(update)
    _remove_evidence(update, remove_evidence)
    for url in links:
        Evidence.objects.create(update=update, url=url, uploaded_by=user)
    for uploaded, content_type in files:
        Evidence.objects.create(
            update=update,
            file=uploaded,
            original_name=uploaded.name[:255],
            content_type=content_type,
            size=uploaded.size,
            uploaded_by=user,
        )
    return update


def _save_first(update: StatusUpdate) -> None:
    """The first save of an update; the database's one-update-in-progress rule decides a race between two."""
    try:
        with transaction.atomic():
            update.save()
    except IntegrityError:
        existing = (
            StatusUpdate.objects.in_progress()
            .filter(initiative_id=update.initiative_id, agency_id=update.agency_id, period_id=update.period_id)
            .first()
        )
        if existing is None:  # another constraint: not a race this function knows how to answer
            raise
        update.pk = None
        raise UpdateAlreadyStarted(existing) from None


def _remove_evidence(update: StatusUpdate, evidence: Iterable[Evidence]) -> None:
    """Take evidence off an update that is still being worked on. The audit history keeps what it was; the
    file itself is deleted once the transaction commits (a wrong or confidential file must not stay on disk)."""
    ids = [item.pk for item in evidence]
    if not ids:
        return
    doomed = list(Evidence.objects.filter(update=update, pk__in=ids))
    names = [item.file.name for item in doomed if item.file]
    for item in doomed:
        item.delete()  # one by one, so that each leaves its history record
    if names:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def _claim_for_review(update: StatusUpdate, user, seen_version: str | None) -> StatusUpdate:
    """Lock the update and check it still waits for this reviewer, as the reviewer saw it."""
    current = StatusUpdate.objects.select_for_update().select_related("agency").get(pk=update.pk)
    if current.review_state != ReviewState.SUBMITTED:
        raise StaleUpdate(_("This update has already been reviewed."))
    if not permissions.can_review(user, current):
        raise PermissionDenied
    if seen_version is not None and current.version != seen_version:
        raise StaleUpdate(_("This update changed after you opened the page: read it again before deciding."))
    # A conditional UPDATE as well: select_for_update does nothing on SQLite.
    claimed = StatusUpdate.objects.filter(
        pk=current.pk, review_state=ReviewState.SUBMITTED, updated_at=current.updated_at
    ).update(reviewed_by=user, reviewed_at=timezone.now())
    if not claimed:
        raise StaleUpdate(_("This update has already been reviewed."))
    current.refresh_from_db()
    return current


@transaction.atomic
def accept_update(
    update: StatusUpdate, *, user, comment: str = "", seen_version: str | None = None, deliver: bool = True
) -> StatusUpdate:
    """Accept a submitted update: it becomes the initiative's current status on its agency's side.

    The author's email is recorded with the decision; `deliver=False` leaves sending it to the caller (a review of
    several updates asks once, at the end, so that each official gets one email for all of them)."""
    update = _claim_for_review(update, user, seen_version)
    update.review_state = ReviewState.ACCEPTED
    update.review_comment = comment
    update.save()
    CurrentStatus.objects.update_or_create(
        initiative=update.initiative,
        country=update.agency.country,
        defaults={"update": update, "status": update.status, "progress": update.progress},
    )
    _tell_author(update, ReminderKind.ACCEPTED, deliver)
    return update


@transaction.atomic
def return_update(
    update: StatusUpdate, *, user, comment: str, seen_version: str | None = None, deliver: bool = True
) -> StatusUpdate:
    """Send a submitted update back to its agency with a comment that says what to fix (`deliver`: as above)."""
    if not comment.strip():
        raise ValidationError(_("Say what the official should change: the comment is required to return an update."))
    update = _claim_for_review(update, user, seen_version)
    update.review_state = ReviewState.RETURNED
    update.review_comment = comment.strip()
    update.save()
    _tell_author(update, ReminderKind.RETURNED, deliver)
    return update


@dataclass
class BulkReview:
    """What a review of several updates at once did: the updates decided, and each one left alone with why."""

    done: list[StatusUpdate] = field(default_factory=list)
    left: list[tuple[StatusUpdate, str]] = field(default_factory=list)


def review_updates(seen: dict[int, str], *, accept: bool, user, comment: str = "") -> BulkReview:
    """Accept, or return with one comment, the updates the reviewer selected (`seen`: id -> the version the
    reviewer saw). Each is decided in its own transaction, exactly as `accept_update` or `return_update` would
    decide it alone (history, current status, the official's email); one that changed meanwhile, or that this
    reviewer may not review, is left alone and reported, and the others go through. The officials' emails are
    sent together once all are decided: an official whose twelve updates were accepted gets one email naming them
    (tracker.reminders groups the decisions delivered together)."""
    from tracker.tasks import kick_delivery

    if not accept and not comment.strip():
        raise ValidationError(_("Say what the officials should change: the comment is required to return updates."))
    result = BulkReview()
    updates = StatusUpdate.objects.select_related("initiative", "agency").in_bulk(list(seen))
    for pk, version in seen.items():
        update = updates.get(pk)
        if update is None:
            continue  # gone (never happens to a submitted update: nothing deletes them); nothing to report on
        try:
            if accept:
                accept_update(update, user=user, comment=comment, seen_version=version, deliver=False)
            else:
                return_update(update, user=user, comment=comment, seen_version=version, deliver=False)
        except StaleUpdate as error:
            result.left.append((update, error.messages[0]))
        except PermissionDenied:
            result.left.append((update, _("You may not review this update: it is another country's.")))
        else:
            result.done.append(update)
    if result.done:
        transaction.on_commit(kick_delivery)
    return result


def _tell_author(update: StatusUpdate, kind: str, deliver: bool = True) -> None:
    """Record the email in this transaction; ask a worker to send it once the decision is committed (unless the
    caller will)."""
    from tracker.tasks import kick_delivery

    reminders.record_review_email(update, kind)
    if deliver:
        transaction.on_commit(kick_delivery)
