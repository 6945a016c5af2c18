"""What the integration tests do *inside* an installation, through the app's own models and actions.

Run in the installation's environment by `manage.py shell -c` (see `Installation.world`): each action takes
keyword arguments as JSON and prints its result as one JSON line after RESULT_MARK, for the test to read back.
Nothing here is imported by the test process's own Django.
"""

from __future__ import annotations

import datetime
import json
import sys
import time

RESULT_MARK = "WORLD-RESULT:"
PASSWORD = "an-integration-test-password"


def run(action: str, payload: str) -> None:
    result = ACTIONS[action](**json.loads(payload))
    sys.stdout.write(RESULT_MARK + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def populate(
    people=(), period=None, sweep_every_seconds=None, weekly_digest_days_ago=None, rule_hour=None, inactive_kinds=()
):
    """People (each joined `joined_days_ago` days ago, so that the reminders planned since apply to them),
    an open period due `due_in_days` from today (UTC) or on `due_date`, and the beat schedule."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from tracker.choices import COUNTRY_TIME_ZONES
    from tracker.models import Agency, Ownership, Profile, ReminderRule, ReportingPeriod, SweepRun

    now = timezone.now()
    users = {}
    for person in people:
        agency = Agency.objects.get(key=person["agency"])
        user = get_user_model().objects.create_user(
            person["username"],
            f"{person['username']}@example.invalid",
            PASSWORD,
            first_name=person["username"].capitalize(),
            date_joined=now - datetime.timedelta(days=person.get("joined_days_ago", 40)),
        )
        profile = Profile.objects.create(
            user=user,
            role=person["role"],
            agency=agency,
            language=person.get("language", "en"),
            time_zone=person.get("time_zone") or COUNTRY_TIME_ZONES[agency.country],
            email_preference=person.get("email_preference", "each"),
        )
        leads = list(
            Ownership.objects.filter(agency=agency, role="lead")
            .order_by("initiative__code")
            .values_list("initiative_id", "initiative__code")
        )
        users[user.username] = {
            "id": user.pk,
            "email": user.email,
            "role": profile.role,
            "agency_id": agency.pk,
            "language": profile.language,
            "time_zone": str(profile.time_zone),
            "email_preference": profile.email_preference,
            "leads": leads if profile.role == "official" else [],
        }
    result = {"users": users, "utc_today": now.date().isoformat(), "now": now.isoformat()}
    if period is not None:
        due = (
            datetime.date.fromisoformat(period["due_date"])
            if "due_date" in period
            else now.date() + datetime.timedelta(days=period["due_in_days"])
        )
        # Open, and the tracker sweeping, since long before the test: a reminder planned before now was missed
        # (and says it is late) rather than planned before the period was opened or the installation started.
        long_ago = now - datetime.timedelta(days=60)
        row = ReportingPeriod.objects.create(
            name=period.get("name", "Integration period"),
            start=due - datetime.timedelta(days=90),
            end=due + datetime.timedelta(days=60),
            due_date=due,
            opened_at=long_ago,
        )
        SweepRun.objects.create(started_at=long_ago)  # unfinished: the tests count the sweeps that finish
        result["period"] = {"id": row.pk, "due_date": due.isoformat()}
    if sweep_every_seconds is not None:
        every, _ = IntervalSchedule.objects.get_or_create(every=sweep_every_seconds, period=IntervalSchedule.SECONDS)
        task = PeriodicTask.objects.get(name="Reminder sweep")
        task.interval = every
        task.save()  # bumps the change marker that the DatabaseScheduler watches
    if weekly_digest_days_ago is not None:
        # The weekly digest's day `weekly_digest_days_ago` days ago (UTC): in every zone, this week's digest
        # is then due, and the next one is days away.
        day = now.date() - datetime.timedelta(days=weekly_digest_days_ago)
        ReminderRule.objects.filter(kind="weekly_digest").update(weekday=day.weekday())
    if rule_hour is not None:
        ReminderRule.objects.update(hour=rule_hour)
    if inactive_kinds:
        ReminderRule.objects.filter(kind__in=inactive_kinds).update(active=False)
    return result


def set_due_date(period_id, due_date):
    from tracker.models import ReportingPeriod

    ReportingPeriod.objects.filter(pk=period_id).update(due_date=datetime.date.fromisoformat(due_date))
    return {"period": period_id, "due_date": due_date}


def submit_update(username, code=None, codes=(), summary="Progress this period, reported by the integration test."):
    """Submit the user's update on `code` (or on each of `codes`) through the app's action."""
    from django.contrib.auth import get_user_model

    from tracker import actions
    from tracker.models import Initiative, ReportingPeriod, StatusUpdate

    user = get_user_model().objects.select_related("profile__agency").get(username=username)
    period = ReportingPeriod.objects.open().order_by("due_date").first()
    ids = []
    for one in [code] if code else codes:
        update = StatusUpdate(
            initiative=Initiative.objects.get(code=one),
            agency=user.profile.agency,
            period=period,
            author=user,
            status="on_track",
            progress=40,
            summary=summary,
        )
        actions.save_update(update, submit=True, user=user)
        ids.append(update.pk)
    return {"update": ids[0], "updates": ids}


def review_update(reviewer, update_id, decision, comment=""):
    """The reviewer's decision through the app's action; the email is kicked once the decision commits."""
    from django.contrib.auth import get_user_model

    from tracker import actions
    from tracker.models import StatusUpdate

    user = get_user_model().objects.get(username=reviewer)
    update = StatusUpdate.objects.get(pk=update_id)
    if decision == "return":
        actions.return_update(update, user=user, comment=comment)
    else:
        actions.accept_update(update, user=user, comment=comment)
    # The action's transaction has committed and its on_commit callback (kick_delivery) has run.
    return {"committed_at": time.time()}


def age_claims(minutes):
    """Make every claim look `minutes` older: what the clock does to a dead worker's claims while it is away."""
    from django.db.models import F

    from tracker.models import Reminder

    aged = Reminder.objects.filter(state="sending").update(
        claimed_at=F("claimed_at") - datetime.timedelta(minutes=minutes)
    )
    return {"aged": aged}


ACTIONS = {
    "populate": populate,
    "set_due_date": set_due_date,
    "submit_update": submit_update,
    "review_update": review_update,
    "age_claims": age_claims,
}
