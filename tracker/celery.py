"""The Celery app. Workers: `celery -A tracker worker`; the one beat: `celery -A tracker beat`."""

import os

from celery import Celery
from celery.signals import celeryd_after_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def remember_pool_size(sender, instance, **kwargs):
    """Keep the size of this worker's pool where its tasks can read it.

    `--concurrency` sizes the pool without telling the app's configuration, and the reminder sweep asks the
    rest of the pool to help with a burst (tracker.tasks.deliver_alongside). This runs before the pool's
    processes start, so they inherit it. A solo pool runs one task at a time, whatever the concurrency says.
    """
    solo = getattr(instance.pool_cls, "__module__", "") == "celery.concurrency.solo"
    app.conf.worker_concurrency = 1 if solo else instance.concurrency
