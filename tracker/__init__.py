# Load the Celery app with Django, so that tasks queued from web requests use its configuration.
from tracker.celery import app as celery_app

__all__ = ["celery_app"]
