"""Faults the other fault tests do not cover: PostgreSQL restarting under the web, and two beats by mistake.

The whole fault suite (`scripts/test -m fault`) also holds, in test_reminder_delivery.py and
test_broker_outage.py: Redis stopped while people work, the SMTP server refusing and unreachable, a worker
killed mid-send, beat down across due times, two workers sweeping at once. Each ends with no saved update
lost, no reminder lost, no duplicate beyond the documented guarantee (at least once; a repeat only for the
emails a worker had sent and not yet marked sent when it died, at most MARK_EVERY per sender), and a clear page
instead of an error page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time

import pytest

from tests.conftest import need_service
from tests.integration.support import WebSession, all_arrived, assert_delivered_as_guaranteed, settle, wait_for
from tests.integration.test_reminder_delivery import expected_emails, populate_due_world

pytestmark = [pytest.mark.integration, pytest.mark.redis, pytest.mark.fault]

ALICE = {"username": "alice", "role": "official", "agency": "shcp"}
UPDATE = {"status": "on_track", "progress": "40", "summary": "Submitted while the database restarted.", "submit": "1"}
SAVED = "Your update was submitted for review"
UNAVAILABLE = "The tracker is briefly unavailable"


def restart_postgresql() -> None:
    """Restart the machine's PostgreSQL cluster (fast mode: every connection is cut), and wait until it answers."""
    if shutil.which("pg_ctlcluster") is None:
        need_service("pg_ctlcluster", "the PostgreSQL server tools are needed to restart the server")
    version = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True).stdout.split()[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    wait_for(
        lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0,
        timeout=60,
        what="PostgreSQL to answer again",
    )


def test_postgresql_restarting_under_the_web_loses_no_saved_update_and_shows_no_error_page(
    make_installation, redis_url, collected_static
):
    installation = make_installation(redis_url=redis_url, smtp=None)
    if installation.database.kind != "postgres":
        pytest.skip("this pass of the suite runs the installation on SQLite; the PostgreSQL pass runs this test")
    world = installation.world("populate", people=[ALICE], period={"due_in_days": 30})
    codes = [code for _, code in world["users"]["alice"]["leads"]]
    _web, base = installation.start_web()
    alice = WebSession(base)
    alice.login("alice")

    answers: list[tuple[str, int, str, str]] = []
    restarting = threading.Event()

    def submit_all():
        for code in codes:
            if code == codes[1]:
                restarting.set()  # the restart begins while the next updates are being sent
            status, url, body = 0, "", ""
            try:
                status, url, body = alice.post(f"/initiatives/{code}/updates/new/", UPDATE)
            except Exception as error:  # the form page itself could not be fetched: the same as a 503 for alice
                body = f"{type(error).__name__}: {error}"
            answers.append((code, status, url, body))
            time.sleep(0.3)

    sender = threading.Thread(target=submit_all)
    sender.start()
    assert restarting.wait(timeout=60)
    try:
        restart_postgresql()
    finally:
        sender.join(timeout=120)
        from django.db import connections

        connections.close_all()  # the suite's own connections were cut too: reconnect at the next query

    assert answers, "nothing was sent"
    for code, status, _url, body in answers:
        error_page = status == 500 or "Server Error" in body or "Traceback" in body
        assert not error_page, f"{code}: {status}\n{body[:800]}"
        if status == 503:
            assert UNAVAILABLE in body and "send the form again" in body
    saved_by_page = {code for code, status, _url, body in answers if status == 200 and SAVED in body}
    in_database = {
        row["code"]
        for row in installation.query(
            "SELECT i.code FROM tracker_statusupdate u JOIN tracker_initiative i ON i.id = u.initiative_id"
            " WHERE u.review_state = 'submitted'"
        )
    }
    assert saved_by_page <= in_database, f"confirmed to alice but lost: {saved_by_page - in_database}"

    # Once the server is back, what was refused goes through on the next try.
    for code in sorted(set(codes) - in_database):
        status, _url, body = alice.post(f"/initiatives/{code}/updates/new/", UPDATE)
        assert status == 200 and SAVED in body, f"{code}: {status}\n{body[:800]}"
    count = installation.query("SELECT count(*) AS n FROM tracker_statusupdate")[0]["n"]
    assert count == len(codes)


def test_two_beats_started_by_mistake_send_every_reminder_once(installation, smtp_sink):
    world = populate_due_world(installation, sweep_every_seconds=2)
    expected = expected_emails(world)
    installation.start_worker()
    first = installation.start_beat("beat")
    second = installation.start_beat("beat-2")
    wait_for(
        all_arrived(smtp_sink, expected), timeout=90, what="the due reminders", diagnostics=installation.diagnostics
    )
    # Both beats are alive and both send sweeps: the sweeps run twice as often as they should, for a while.
    for beat in (first, second):
        wait_for(
            lambda beat=beat: re.search(r"Sending due task Reminder sweep", beat.log()),
            timeout=30,
            what=f"{beat.name} to send a sweep",
            diagnostics=beat.tail,
        )
        assert beat.alive(), beat.tail()
    sweeps = installation.finished_sweeps()
    wait_for(lambda: installation.finished_sweeps() >= sweeps + 4, timeout=60, what="more sweeps from both beats")
    settle(installation)
    assert_delivered_as_guaranteed(installation, smtp_sink, expected)
    assert smtp_sink.duplicates() == {}
    assert {row["attempts"] for row in installation.reminders()} == {1}
