"""The reminder system end to end: Celery worker and beat, Redis, a real SMTP server, a fresh installation.

The guarantee under test (tracker/reminders.py): every due reminder is delivered *at least once*; a repeat
happens only after a crash (or a stall past the lease) between the SMTP server's acceptance and the "sent"
mark, which a sender writes for MARK_EVERY emails at a time, so it concerns at most that many emails per
sender, and carries the same Message-ID as the first copy. Every test ends by checking exactly that against
what the SMTP server got.

No clock is touched. The period's due date is set relative to today so that reminders are due right away
(the ladder plans them for 9:00 in each recipient's zone, days ago) and nothing else falls due for days; a
sweep "a few minutes later" is `manage.py send_reminders --now`; the lease running out is the dead worker's
claims growing LEASE older. Beat sweeps every 2 seconds instead of every 2 minutes.
"""

from __future__ import annotations

import datetime
import re
import time
from zoneinfo import ZoneInfo

import pytest

from tests.integration.support import (
    SITE_URL,
    WORKER_READY,
    all_arrived,
    as_datetime,
    assert_delivered_as_guaranteed,
    publish,
    settle,
    stays,
    wait_for,
)
from tracker.reminders import BATCH, CHECKPOINT, LEASE, MARK_EVERY, MAX_ATTEMPTS, backoff

pytestmark = [pytest.mark.integration, pytest.mark.redis]

SWEEP_EVERY = 2  # seconds between beat's sweeps in these installations (2 minutes in a real one)

# Officials in both countries, one preferring a daily digest, and both secretariats. With the period due two
# days ago, each official owes the "due" and "overdue +1" reminders for every initiative their agency leads,
# each secretariat member this week's digest; nothing else falls due for days, in any zone.
ALICE = {"username": "alice", "role": "official", "agency": "shcp"}  # Mexico City, 4 initiatives
CHARLIE = {"username": "charlie", "role": "official", "agency": "kcs", "language": "ko"}  # Seoul, A-314
DORA = {"username": "dora", "role": "official", "agency": "moct", "email_preference": "digest"}  # Seoul, 3
SEC_MX = {"username": "sec_mx", "role": "secretariat", "agency": "sre", "language": "es"}
SEC_KR = {"username": "sec_kr", "role": "secretariat", "agency": "mofat", "language": "ko"}
EVERYONE = [ALICE, CHARLIE, DORA, SEC_MX, SEC_KR]
LADDER_DUE = ("due+0", "overdue+1")


def populate_due_world(installation, people=EVERYONE, **schedule):
    return installation.world(
        "populate", people=people, period={"due_in_days": -2}, weekly_digest_days_ago=2, **schedule
    )


def expected_emails(world) -> set[str]:
    period = world["period"]["id"]
    expected = set()
    for user in world["users"].values():
        if user["role"] == "secretariat":
            expected.add(f"weekly_digest:u{user['id']}")
        elif user["email_preference"] == "digest":
            expected.add(f"daily_digest:u{user['id']}")
        else:
            for initiative_id, _code in user["leads"]:
                for rung in LADDER_DUE:
                    expected.add(f"{rung}:u{user['id']}:p{period}:i{initiative_id}:a{user['agency_id']}")
    return expected


def not_marked_sent(received, rows) -> list:
    """The emails that reached the SMTP server while their reminders are still claimed, not marked sent: what a
    sender that dies (or stalls past its lease) now leaves for the next sweep to send again."""
    claimed = [r for r in rows if r["state"] == "sending"]

    def rows_of(message):
        if message.reminder_key.startswith("daily_digest:"):
            return [r for r in claimed if r["email"] == message.message["To"]]
        return [r for r in claimed if r["key"] == message.reminder_key]

    return [message for message in received if rows_of(message)]


def expected_rows(world) -> int:
    return sum(
        1 if user["role"] == "secretariat" else len(user["leads"]) * len(LADDER_DUE) for user in world["users"].values()
    )


# --- 1. The happy path -------------------------------------------------------------------------------------


def test_due_reminders_arrive_through_worker_beat_redis_and_smtp(installation, smtp_sink):
    world = populate_due_world(installation, sweep_every_seconds=SWEEP_EVERY)
    expected = expected_emails(world)
    assert len(expected) == 4 * 2 + 1 * 2 + 1 + 2  # alice, charlie, dora's digest, the two weekly digests
    installation.start_worker_and_beat()

    wait_for(
        all_arrived(smtp_sink, expected), timeout=60, what="the due reminders", diagnostics=installation.diagnostics
    )
    settle(installation)
    assert_delivered_as_guaranteed(installation, smtp_sink, expected)
    rows = installation.reminders()
    assert len(rows) == expected_rows(world)
    assert {r["attempts"] for r in rows} == {1}

    users = world["users"]
    due = datetime.date.fromisoformat(world["period"]["due_date"])
    codes = {initiative_id: code for user in users.values() for initiative_id, code in user["leads"]}
    domain = re.escape(SITE_URL.split("//")[1])
    for message in smtp_sink.received:
        headers = message.message
        assert headers.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in headers.iter_parts()] == ["text/plain", "text/html"]
        assert re.fullmatch(rf"<[0-9a-f]{{40}}@{domain}>", message.message_id), message.message_id
        assert headers["Auto-Submitted"] == "auto-generated"
        assert headers["Subject"].strip()
        assert "tracker@localhost" in headers["From"]
        kind = message.reminder_key.split(":")[0]
        if kind in ("daily_digest", "weekly_digest"):
            assert headers["List-Unsubscribe"] == f"<{SITE_URL}/preferences/>"
        else:
            assert headers["List-Unsubscribe"] is None
            code = codes[int(re.search(r":i(\d+):", message.reminder_key).group(1))]
            link = f"{SITE_URL}/initiatives/{code}/updates/new/"
            assert code in headers["Subject"]
            assert link in message.text and f'href="{link}"' in message.html

    # Charlie prefers Korean: the due date as Koreans write it, in both parts, and the link to his form.
    korean = [m for m in smtp_sink.received if m.message["To"] == users["charlie"]["email"]]
    assert len(korean) == 2
    korean_date = f"{due.year}년 {due.month}월 {due.day}일"
    for message in korean:
        assert korean_date in message.text and korean_date in message.html
        assert f"{SITE_URL}/initiatives/A-314/updates/new/" in message.text
    # Alice reads English; reminders planned days ago say that they are late.
    for message in (m for m in smtp_sink.received if m.message["To"] == users["alice"]["email"]):
        assert "sent late" in message.text and "sent late" in message.html
    # Dora's daily digest gathers both rungs of her three initiatives in one email.
    (digest,) = [m for m in smtp_sink.received if m.message["To"] == users["dora"]["email"]]
    for _initiative, code in users["dora"]["leads"]:
        assert f'href="{SITE_URL}/initiatives/{code}/updates/new/"' in digest.html
    assert sum(1 for r in rows if r["email"] == users["dora"]["email"]) == 2 * len(users["dora"]["leads"])


# --- 2. A reviewer's decision: kicked after commit, not left for the next sweep ---------------------------


def test_a_returned_update_reaches_its_author_through_the_worker_right_after_commit(installation, smtp_sink):
    # Nothing of the ladder is due; the sweep runs every 2 minutes, as in a real installation, counted from
    # now: no sweep can run during this test, so an email can only come from the kick.
    world = installation.world("populate", people=[ALICE, SEC_MX], period={"due_in_days": 30}, sweep_every_seconds=120)
    worker, _beat = installation.start_worker_and_beat()
    _initiative, code = world["users"]["alice"]["leads"][0]
    update = installation.world("submit_update", username="alice", code=code)["update"]
    comment = "Please add the figures for the third quarter."

    decision = installation.world(
        "review_update", reviewer="sec_mx", update_id=update, decision="return", comment=comment
    )

    wait_for(
        lambda: smtp_sink.count() >= 1, timeout=20, what="the author's email", diagnostics=installation.diagnostics
    )
    (message,) = smtp_sink.received
    latency = message.at - decision["committed_at"]
    assert latency < 10, f"the email took {latency:.1f} s"  # the next sweep is 2 minutes away
    assert installation.sweep_runs() == [], "a sweep ran: the email may not have come from the kick"
    assert re.search(r"Task tracker\.tasks\.deliver_reminders\[[^]]+\] succeeded", worker.log()), worker.tail()
    assert message.message["To"] == world["users"]["alice"]["email"]
    assert code in message.message["Subject"]
    assert comment in message.text and comment in message.html
    assert f"{SITE_URL}/updates/{update}/edit/" in message.text
    assert f'href="{SITE_URL}/updates/{update}/edit/"' in message.html

    stays(lambda: smtp_sink.count() == 1, seconds=2, what="a single email")
    (row,) = installation.reminders()
    assert (row["kind"], row["state"], row["attempts"]) == ("returned", "sent", 1)
    assert row["message_id"] == message.message_id


# --- 3. A worker killed in the middle of a sweep -----------------------------------------------------------


@pytest.mark.fault
def test_a_worker_killed_mid_sweep_loses_nothing_and_repeats_only_what_it_had_not_marked_sent(installation, smtp_sink):
    world = populate_due_world(installation, sweep_every_seconds=SWEEP_EVERY)
    expected = expected_emails(world)
    # The SMTP server takes the (MARK_EVERY + 2)th message, then keeps the worker waiting for its reply: the
    # kill lands after the server accepted that email and before the worker could mark it sent. A worker
    # marks its emails sent MARK_EVERY at a time, so the first MARK_EVERY are marked by then, or more if its
    # clock made it write marks sooner; the emails since are not.
    held = MARK_EVERY + 2
    assert len(expected) > held
    smtp_sink.hold_at(held)
    worker, _beat = installation.start_worker_and_beat()
    wait_for(smtp_sink.holding.is_set, timeout=60, what="an email in flight", diagnostics=installation.diagnostics)

    installation.kill(worker)
    smtp_sink.release()
    arrived = smtp_sink.received
    assert len(arrived) == held
    in_flight = arrived[-1]
    rows = installation.reminders()
    claimed = [r for r in rows if r["state"] == "sending"]
    assert claimed, "the killed worker held no claim"
    assert sum(r["state"] == "sent" for r in rows) + len(claimed) == len(rows)
    unmarked = not_marked_sent(arrived, rows)
    assert in_flight in unmarked, "the email in flight is marked sent although the worker died before the reply"
    # The bound the guarantee states: at most MARK_EVERY emails, the one in flight included, may arrive twice.
    assert len(unmarked) <= MARK_EVERY, [m.reminder_key for m in unmarked]

    installation.start_worker("worker-restarted")
    # Within the lease, the dead worker's claims are left alone: nothing is sent twice in the meantime.
    settle(installation, sweeps=1)
    assert smtp_sink.count() == held
    assert {r["id"] for r in installation.reminders() if r["state"] == "sending"} == {r["id"] for r in claimed}

    # The lease runs out (the claims grow LEASE older): the next sweep takes them over and sends them.
    installation.world("age_claims", minutes=LEASE.total_seconds() / 60 + 1)
    wait_for(
        lambda: all(r["state"] == "sent" for r in installation.reminders()),
        timeout=40,
        what="every claim to be taken over and sent",
        diagnostics=installation.diagnostics,
    )
    settle(installation)
    repeated = {m.message_id for m in unmarked}
    assert_delivered_as_guaranteed(installation, smtp_sink, expected, in_flight=repeated)
    counts = smtp_sink.message_id_counts()
    assert {counts[message_id] for message_id in repeated} == {2}  # the rare repeats, recognisable
    attempts = {r["id"]: r["attempts"] for r in installation.reminders()}
    assert {attempts[r["id"]] for r in claimed} == {2}
    assert {n for rid, n in attempts.items() if rid not in {r["id"] for r in claimed}} == {1}


# --- 4. Beat down across two due times -----------------------------------------------------------------------


@pytest.mark.fault
def test_beat_down_across_two_due_times_catches_up_once_and_says_late(installation, smtp_sink):
    # One official, in a zone where the current hour has at least 30 minutes to run, with the ladder planned
    # for the current hour: a rung planned today is "on time" for the rest of the test, one planned a day
    # before is late.
    now = datetime.datetime.now(datetime.UTC)
    zone = "UTC" if now.minute < 30 else "Asia/Kolkata"  # UTC+5:30
    local = now.astimezone(ZoneInfo(zone))
    today = local.date()
    erin = {"username": "erin", "role": "official", "agency": "moct", "time_zone": zone, "joined_days_ago": 20}
    world = installation.world(
        "populate",
        people=[erin],
        period={"due_date": (today + datetime.timedelta(days=30)).isoformat()},  # nothing due for 16 days
        sweep_every_seconds=SWEEP_EVERY,
        rule_hour=local.hour,
    )
    period = world["period"]["id"]
    _worker, beat = installation.start_worker_and_beat()
    wait_for(lambda: installation.finished_sweeps() >= 1, timeout=30, what="a first sweep")
    assert smtp_sink.count() == 0

    installation.stop(beat)
    sweeps = installation.finished_sweeps()

    def nothing_runs():
        return installation.finished_sweeps() == sweeps and smtp_sink.count() == 0

    # First due time: the "14 days before" reminder, planned at this hour yesterday.
    installation.world("set_due_date", period_id=period, due_date=(today + datetime.timedelta(days=13)).isoformat())
    stays(nothing_runs, seconds=SWEEP_EVERY + 1, what="no sweep while beat is down")
    # Second due time: the "3 days before" reminder, planned at this hour today.
    installation.world("set_due_date", period_id=period, due_date=(today + datetime.timedelta(days=3)).isoformat())
    stays(nothing_runs, seconds=SWEEP_EVERY + 1, what="no sweep while beat is down")

    installation.start_beat("beat-restarted")
    user = world["users"]["erin"]
    expected = {
        f"{rung}:u{user['id']}:p{period}:i{initiative}:a{user['agency_id']}"
        for initiative, _code in user["leads"]
        for rung in ("upcoming-14", "upcoming-3")
    }
    wait_for(all_arrived(smtp_sink, expected), timeout=40, what="the catch-up", diagnostics=installation.diagnostics)
    settle(installation)
    assert_delivered_as_guaranteed(installation, smtp_sink, expected)
    for message in smtp_sink.received:
        if message.reminder_key.startswith("upcoming-14:"):
            assert "sent late" in message.text and "sent late" in message.html, message.reminder_key
        else:
            assert "sent late" not in message.text and "sent late" not in message.html, message.reminder_key
    assert {r["attempts"] for r in installation.reminders()} == {1}


# --- 5. Two workers, two sweeps at once ------------------------------------------------------------------------


def start_two_workers(installation):
    workers = [installation.start_worker(name, wait=False) for name in ("worker-a", "worker-b")]
    for worker in workers:
        worker.wait_for_log(WORKER_READY, timeout=45)
    return workers


@pytest.mark.fault
def test_two_workers_sweeping_at_the_same_time_send_nothing_twice(installation, smtp_sink, redis_url):
    world = populate_due_world(installation)  # no beat: the two sweeps are published together below
    expected = expected_emails(world)
    smtp_sink.slow(0.15)  # each sweep lasts a couple of seconds, so that the two overlap
    workers = start_two_workers(installation)

    publish(redis_url, "tracker.tasks.sweep_reminders", count=2)

    wait_for(
        lambda: installation.finished_sweeps() >= 2,
        timeout=60,
        what="both sweeps",
        diagnostics=installation.diagnostics,
    )
    for worker in workers:  # one sweep each, at the same time
        assert re.search(r"sweep_reminders\[[^]]+\] succeeded", worker.log()), worker.tail()
    first, second = installation.sweep_runs()
    assert max(as_datetime(first["started_at"]), as_datetime(second["started_at"])) < min(
        as_datetime(first["finished_at"]), as_datetime(second["finished_at"])
    ), f"the sweeps did not overlap: {first} {second}"
    assert_delivered_as_guaranteed(installation, smtp_sink, expected)
    assert smtp_sink.duplicates() == {}
    assert {r["attempts"] for r in installation.reminders()} == {1}
    assert first["sent"] + second["sent"] == len(expected)


# --- 6. The SMTP server refusing for a while ------------------------------------------------------------------


@pytest.mark.fault
def test_a_refusing_smtp_server_gets_retries_with_backoff_then_everything(installation, smtp_sink):
    world = populate_due_world(installation, people=[CHARLIE, DORA, SEC_KR], sweep_every_seconds=SWEEP_EVERY)
    expected = expected_emails(world)
    smtp_sink.refuse()  # "451 4.3.0 Mailbox temporarily unavailable" to every DATA
    installation.start_worker_and_beat()

    def refused_once():
        rows = installation.reminders()
        done = len(rows) == expected_rows(world) and all((r["state"], r["attempts"]) == ("pending", 1) for r in rows)
        return done and rows

    rows = wait_for(refused_once, timeout=40, what="a first, refused attempt", diagnostics=installation.diagnostics)
    for row in rows:
        assert "451" in row["last_error"], row
        # One minute after the attempt (the sweep's moment; the claim is taken a moment later at most).
        waited = as_datetime(row["next_attempt_at"]) - as_datetime(row["claimed_at"])
        assert abs(waited - backoff(1)) < datetime.timedelta(seconds=5), waited
    refusals = smtp_sink.refusals
    assert refusals == len(expected)
    # Sweeps keep coming every few seconds, but no retry before its time.
    settle(installation)
    assert smtp_sink.refusals == refusals
    assert {(r["state"], r["attempts"]) for r in installation.reminders()} == {("pending", 1)}

    # A minute later the retry comes, and is refused again: the next waits two minutes.
    first_attempt = min(as_datetime(r["claimed_at"]) for r in rows)
    later = first_attempt + backoff(1) + datetime.timedelta(seconds=1)
    output = installation.send_reminders(now=later.isoformat())
    assert sum(line.startswith("retry ") for line in output.splitlines()) == len(expected), output
    for row in installation.reminders():
        assert (row["state"], row["attempts"]) == ("pending", 2), row
        assert as_datetime(row["next_attempt_at"]) == later + backoff(2)

    # The server accepts again: the next retry delivers everything, once.
    smtp_sink.accept()
    output = installation.send_reminders(now=(later + backoff(2) + datetime.timedelta(seconds=1)).isoformat())
    assert sum(line.startswith("sent ") for line in output.splitlines()) == len(expected), output
    settle(installation)
    assert_delivered_as_guaranteed(installation, smtp_sink, expected)
    rows = installation.reminders()
    assert {r["attempts"] for r in rows} == {3} and 3 < MAX_ATTEMPTS
    assert not [r for r in rows if r["state"] == "failed"]
    assert smtp_sink.refusals == 2 * len(expected)


# --- A sweep that outlasts its lease ------------------------------------------------


@pytest.mark.fault
def test_a_sweep_outlasting_its_lease_does_not_send_what_another_sweep_took_over(installation, smtp_sink, redis_url):
    world = populate_due_world(installation)  # no beat: the sweeps are published below
    expected = expected_emails(world)
    smtp_sink.hold_at(3)  # the first sweep's third email waits for its reply: a very slow SMTP server
    start_two_workers(installation)
    publish(redis_url, "tracker.tasks.sweep_reminders")
    wait_for(
        smtp_sink.holding.is_set, timeout=30, what="the first sweep to be slow", diagnostics=installation.diagnostics
    )
    held_since = time.monotonic()
    in_flight = smtp_sink.received[-1]

    # The first sweep has now been at it for longer than the lease (it is alive, only slow): the other
    # worker's sweep takes its claims over and sends what it had not marked sent yet.
    installation.world("age_claims", minutes=LEASE.total_seconds() / 60 + 1)
    unmarked = not_marked_sent(smtp_sink.received, installation.reminders())
    assert in_flight in unmarked and len(unmarked) <= MARK_EVERY
    publish(redis_url, "tracker.tasks.sweep_reminders")
    wait_for(all_arrived(smtp_sink, expected), timeout=30, what="the takeover", diagnostics=installation.diagnostics)
    wait_for(lambda: installation.finished_sweeps() >= 1, timeout=30, what="the second sweep to finish")
    # The aged claims stand for a stall longer than the lease; on the first sweep's own clock the stall must at
    # least outlast CHECKPOINT, after which a sender checks its claims again before its next email (a real one
    # of ten minutes does).
    time.sleep(max(0.0, held_since + 2 * CHECKPOINT.total_seconds() - time.monotonic()))
    smtp_sink.release()  # the first sweep gets its reply and goes on with the rows it claimed
    wait_for(lambda: installation.finished_sweeps() >= 2, timeout=30, what="the first sweep to finish")

    # Only what the first sweep had sent and not yet marked when its claims were taken over may arrive twice
    # (it is indistinguishable from a crash); the rest of its batch must not.
    assert_delivered_as_guaranteed(installation, smtp_sink, expected, in_flight={m.message_id for m in unmarked})


# --- A burst: the whole worker pool delivers it --------------------------------------------------------------


def test_a_burst_is_delivered_by_several_senders_at_once_each_email_once(installation, smtp_sink, redis_url):
    # An official for every agency that leads an initiative: a burst of several hundred emails, more than one
    # batch. No beat: one sweep is published below, as beat would.
    agencies = installation.query(
        "SELECT DISTINCT a.key FROM tracker_agency a JOIN tracker_ownership o ON o.agency_id = a.id"
        " WHERE o.role = 'lead' ORDER BY a.key"
    )
    people = [{"username": f"official{i}", "role": "official", "agency": row["key"]} for i, row in enumerate(agencies)]
    world = populate_due_world(installation, people=people)
    expected = expected_emails(world)
    assert len(expected) > BATCH
    smtp_sink.slow(0.005)  # so that every sender is still at work when the others start
    worker = installation.start_worker(processes=2)  # the production pool: prefork, one process per CPU here

    publish(redis_url, "tracker.tasks.sweep_reminders")
    wait_for(all_arrived(smtp_sink, expected), timeout=120, what="the burst", diagnostics=installation.diagnostics)
    wait_for(
        lambda: (
            installation.query("SELECT sent FROM tracker_sweeprun WHERE finished_at IS NOT NULL")
            == [{"sent": len(expected)}]
        ),
        timeout=30,
        what="the sweep's record to count every email, its helpers' included",
        diagnostics=installation.diagnostics,
    )
    # The sweep asked the other process of the pool to deliver with it.
    assert re.search(r"deliver_reminders\[[^]]+\] succeeded", worker.log()), worker.tail()
    publish(redis_url, "tracker.tasks.sweep_reminders")  # another sweep: a duplicate would show now
    wait_for(lambda: installation.finished_sweeps() >= 2, timeout=30, what="a second sweep")

    assert_delivered_as_guaranteed(installation, smtp_sink, expected)
    assert smtp_sink.duplicates() == {}
    rows = installation.reminders()
    assert len({r["claimed_by"] for r in rows}) >= 2  # several senders claimed and sent their own rows
    assert {r["attempts"] for r in rows} == {1}
    first, second = installation.sweep_runs()
    assert (first["recorded"], first["sent"], first["failed"]) == (len(rows), len(expected), 0)
    assert (second["recorded"], second["sent"]) == (0, 0)
