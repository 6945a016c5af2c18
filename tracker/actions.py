"""The important writes, one named function each: views and tasks call these, never `.save()` on their own.

Each function checks the state it starts from, so a stale form or a second click cannot move an update
backwards, and runs in one transaction, so nothing is half-done.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker import permissions, reminders
from tracker.choices import ReminderKind, ReviewState
from tracker.models import CurrentStatus, Evidence, StatusUpdate


class StaleUpdate(ValidationError):
    """The update is no longer in the state the user saw (someone else acted on it first)."""


@transaction.atomic
def save_update(update: StatusUpdate, *, submit: bool, links=(), files=(), user) -> StatusUpdate:
    """Save an official's update as a draft or submit it, with any new evidence links and files.

    `update` is the form's unsaved or changed instance; `files` are (uploaded file, detected content type).
    """
    if update.pk:
        current = StatusUpdate.objects.select_for_update().get(pk=update.pk)
        if not permissions.can_edit_update(user, current):
            raise StaleUpdate(_("This update has already been submitted and can no longer be changed."))
    elif not permissions.can_report_on(user, update.initiative):
        raise PermissionDenied
    if submit:
        update.review_state = ReviewState.SUBMITTED
        update.submitted_at = timezone.now()
        update.first_submitted_at = update.first_submitted_at or update.submitted_at
    elif not update.pk:
        update.review_state = ReviewState.DRAFT
    update.save()
    if submit:
        reminders.cancel_remaining(update)
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


def _claim_for_review(update: StatusUpdate, user) -> StatusUpdate:
    """Lock the update and check it still waits for this reviewer."""
    current = StatusUpdate.objects.select_for_update().select_related("agency").get(pk=update.pk)
    if current.review_state != ReviewState.SUBMITTED:
        raise StaleUpdate(_("This update has already been reviewed."))
    if not permissions.can_review(user, current):
        raise PermissionDenied
    # A conditional UPDATE as well: select_for_update does nothing on SQLite.
    claimed = StatusUpdate.objects.filter(pk=current.pk, review_state=ReviewState.SUBMITTED).update(
        reviewed_by=user, reviewed_at=timezone.now()
    )
    if not claimed:
        raise StaleUpdate(_("This update has already been reviewed."))
    current.refresh_from_db()
    return current


@transaction.atomic
def accept_update(update: StatusUpdate, *, user, comment: str = "") -> StatusUpdate:
    """Accept a submitted update: it becomes the initiative's current status on its agency's side."""
    update = _claim_for_review(update, user)
    update.review_state = ReviewState.ACCEPTED
    update.review_comment = comment
    update.save()
    CurrentStatus.objects.update_or_create(
        initiative=update.initiative,
        country=update.agency.country,
        defaults={"update": update, "status": update.status, "progress": update.progress},
    )
    _tell_author(update, ReminderKind.ACCEPTED)
    return update


@transaction.atomic
def return_update(update: StatusUpdate, *, user, comment: str) -> StatusUpdate:
    """Send a submitted update back to its agency with a comment that says what to fix."""
    if not comment.strip():
        raise ValidationError(_("Say what the official should change: the comment is required to return an update."))
    update = _claim_for_review(update, user)
    update.review_state = ReviewState.RETURNED
    update.review_comment = comment.strip()
    update.save()
    _tell_author(update, ReminderKind.RETURNED)
    return update


def _tell_author(update: StatusUpdate, kind: str) -> None:
    """Record the email in this transaction; ask a worker to send it once the decision is committed."""
    from tracker.tasks import kick_delivery

    reminders.record_review_email(update, kind)
    transaction.on_commit(kick_delivery)
