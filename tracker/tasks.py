"""Celery tasks: thin wrappers around plain functions that also run from management commands."""

import logging

from celery import shared_task
from django.utils import timezone

from tracker import reminders

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sweep_reminders() -> None:
    """Run by beat every few minutes (the "Reminder sweep" periodic task)."""
    reminders.sweep()


@shared_task(ignore_result=True)
def deliver_reminders() -> None:
    """Send what is already recorded (a reviewer's decision), without waiting for the next sweep."""
    reminders.deliver(timezone.now())


def kick_delivery() -> None:
    """Ask a worker to deliver now; if the broker is down, the next sweep will do it instead.

    Called after a transaction commits: by then the email is safely recorded, so a failure to publish
    loses nothing and must never turn a saved decision into an error page.
    """
    try:
        deliver_reminders.apply_async(retry=False)
    except Exception as error:
        logger.warning("Could not reach the broker (%s); the next sweep will send the email.", error)


@shared_task(ignore_result=True)
def build_report_files(report_id: int) -> None:
    """Build a frozen report's files in every language ahead of the first download (a PDF takes seconds)."""
    from tracker import report_files

    report_files.prebuild(report_id)


def kick_report_files(report_id: int) -> None:
    """Ask a worker to build a frozen report's files; if the broker is down, the first download builds them."""
    try:
        build_report_files.apply_async((report_id,), retry=False)
    except Exception as error:
        logger.warning("Could not reach the broker (%s); the report's files will be built when first asked for.", error)
