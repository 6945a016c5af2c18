"""Celery tasks: thin wrappers around plain functions that also run from management commands."""

import logging
import os

from celery import current_app, shared_task
from django.utils import timezone

from tracker import reminders

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sweep_reminders() -> None:
    """Run by beat every few minutes (the "Reminder sweep" periodic task); a burst is delivered by the
    whole worker pool."""
    reminders.sweep(fan_out=deliver_alongside)


@shared_task(ignore_result=True)
def deliver_reminders(sweep_run: int | None = None) -> None:
    """Send what is already recorded: a share of a sweep's burst, or a reviewer's decision right away."""
    if sweep_run is None:
        reminders.deliver(timezone.now())
    else:
        reminders.deliver_burst(timezone.now(), sweep_run=sweep_run)


def deliver_alongside(sweep_run: int) -> None:
    """Ask the rest of the worker's pool to deliver with the sweep: one task per other pool process.

    The pool's size is the worker's concurrency (tracker.celery keeps it in the configuration); by default
    one process per CPU. A helper that finds nothing left to claim just ends; if the broker cannot be
    reached, the sweep delivers everything itself.
    """
    helpers = (current_app.conf.worker_concurrency or os.cpu_count() or 1) - 1
    try:
        for _ in range(helpers):
            deliver_reminders.apply_async(kwargs={"sweep_run": sweep_run}, retry=False)
    except Exception as error:
        logger.warning("Could not reach the broker (%s); the sweep delivers on its own.", error)


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
