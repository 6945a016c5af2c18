"""The default reminder ladder (DESIGN §4) and the beat schedule of the sweep that follows it.

Both are rows an admin may edit afterwards: the ladder in "Reminder rules", the sweep's interval in
"Periodic tasks" (django-celery-beat's database scheduler picks the change up within seconds).
"""

from django.db import migrations

LADDER = [
    {"kind": "upcoming", "days": -14},
    {"kind": "upcoming", "days": -3},
    {"kind": "due", "days": 0},
    {"kind": "overdue", "days": 1},
    {"kind": "overdue", "days": 7},
    {"kind": "escalation", "days": 7},
    {"kind": "weekly_digest", "days": 0, "weekday": 0},
]
SWEEP_TASK = "Reminder sweep"


def create(apps, schema_editor):
    ReminderRule = apps.get_model("tracker", "ReminderRule")
    for rung in LADDER:
        ReminderRule.objects.get_or_create(**rung, defaults={"hour": 9})
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=2, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SWEEP_TASK,
        defaults={
            "task": "tracker.tasks.sweep_reminders",
            "interval": every,
            "description": "Works out from the database which reminders are due and sends them.",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP_TASK).delete()
    apps.get_model("tracker", "ReminderRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0004_reminders"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
