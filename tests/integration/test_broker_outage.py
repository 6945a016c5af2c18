"""Redis down while people work in the web: nothing they do fails or hangs, and the emails follow later.

The broker here is a Redis of the test's own (on a free port), not the machine's: stopping it cannot disturb
another test run, and it is gone when the test ends, whatever happened. The web is gunicorn, with DEBUG off,
driven over HTTP as a browser would (cookies, CSRF token), against the installation's database.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.support import (
    BEAT_READY,
    WORKER_READY,
    WebSession,
    all_arrived,
    assert_delivered_as_guaranteed,
    settle,
    stays,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.redis, pytest.mark.fault]

ALICE = {"username": "alice", "role": "official", "agency": "shcp"}
SEC_MX = {"username": "sec_mx", "role": "secretariat", "agency": "sre"}
UPDATE = {"status": "on_track", "progress": "40", "summary": "Two of the three working groups have met.", "submit": "1"}
NO_LADDER_EMAIL = {"inactive_kinds": ["weekly_digest"]}
FAST = 2.0  # seconds: the longest a page may take while the broker is down


def no_error_page(status: int, body: str) -> bool:
    return status == 200 and "Server Error" not in body and "Traceback" not in body


def submit(alice: WebSession, code: str) -> tuple[float, int]:
    """Alice submits her update on `code` through the form; returns the time it took and the update's id."""
    elapsed, status, url, body = alice.timed_post(f"/initiatives/{code}/updates/new/", UPDATE)
    assert no_error_page(status, body), f"{status} {url}\n{body[:2000]}"
    assert "Your update was submitted for review" in body
    return elapsed, int(re.search(r"/updates/(\d+)/$", url).group(1))


def review(reviewer: WebSession, update: int, decision: str, comment: str = "") -> float:
    elapsed, status, url, body = reviewer.timed_post(f"/review/{update}/", {"decision": decision, "comment": comment})
    assert no_error_page(status, body), f"{status} {url}\n{body[:2000]}"
    assert url.endswith("/review/"), url
    assert ("Accepted:" if decision == "accept" else "Returned to") in body
    return elapsed


def update_state(installation, update: int) -> str:
    return installation.query("SELECT review_state FROM tracker_statusupdate WHERE id = %s", (update,))[0][
        "review_state"
    ]


def test_work_done_while_redis_is_down_is_saved_at_once_and_emailed_once_it_is_back(
    make_installation, own_redis, smtp_sink, collected_static
):
    installation = make_installation(redis_url=own_redis.url, smtp=smtp_sink)
    # Nothing of the ladder is due and the weekly digest is off: the only emails are the decisions'.
    world = installation.world(
        "populate", people=[ALICE, SEC_MX], period={"due_in_days": 30}, sweep_every_seconds=2, **NO_LADDER_EMAIL
    )
    worker = installation.start_worker(wait=False)
    beat = installation.start_beat(wait=False)
    _web, base = installation.start_web()
    worker.wait_for_log(WORKER_READY, timeout=45)
    beat.wait_for_log(BEAT_READY, timeout=45)
    alice, secretariat = WebSession(base), WebSession(base)
    alice.login("alice")
    secretariat.login("sec_mx")
    (_, first_code), (_, second_code) = world["users"]["alice"]["leads"][:2]

    # With the broker up, the whole loop: the decision's email is kicked to the worker at once.
    _, first = submit(alice, first_code)
    review(secretariat, first, "return", "Please add this quarter's figures.")
    wait_for(lambda: smtp_sink.count() == 1, timeout=20, what="the first email", diagnostics=installation.diagnostics)

    own_redis.stop()
    try:
        submitted_in, second = submit(alice, second_code)
        assert submitted_in < FAST, f"submitting took {submitted_in:.2f} s with the broker down"
        assert update_state(installation, second) == "submitted"
        reviewed_in = review(secretariat, second, "accept", "Thank you.")
        assert reviewed_in < FAST, f"the decision took {reviewed_in:.2f} s with the broker down"
        assert update_state(installation, second) == "accepted"
        (pending,) = [r for r in installation.reminders() if r["kind"] == "accepted"]
        assert (pending["state"], pending["attempts"]) == ("pending", 0)  # recorded with the decision
        stays(lambda: smtp_sink.count() == 1, seconds=3, what="no email while the broker is down")
    finally:
        if not own_redis.running():
            own_redis.start()  # the same address, empty: whatever was queued is lost

    author = world["users"]["alice"]["id"]
    expected = {f"returned:u{author}:update{first}", f"accepted:u{author}:update{second}"}
    wait_for(
        all_arrived(smtp_sink, expected),
        timeout=60,
        what="the pending email once Redis is back",
        diagnostics=installation.diagnostics,
    )
    settle(installation)
    assert_delivered_as_guaranteed(installation, smtp_sink, expected)


def test_every_decision_while_redis_is_down_answers_in_under_two_seconds(
    make_installation, own_redis, smtp_sink, collected_static
):
    installation = make_installation(redis_url=own_redis.url, smtp=smtp_sink)
    world = installation.world("populate", people=[ALICE, SEC_MX], period={"due_in_days": 30}, **NO_LADDER_EMAIL)
    codes = [code for _id, code in world["users"]["alice"]["leads"][:3]]
    updates = installation.world("submit_update", username="alice", codes=codes)["updates"]
    _proc, base = installation.start_web()
    secretariat = WebSession(base)
    secretariat.login("sec_mx")
    review(secretariat, updates[0], "return", "Please add this quarter's figures.")  # the broker is up

    own_redis.stop()
    try:
        times = [review(secretariat, update, "accept") for update in updates[1:]]
    finally:
        own_redis.start()
    assert [update_state(installation, u) for u in updates[1:]] == ["accepted", "accepted"]
    assert all(t < FAST for t in times), f"decisions with the broker down took {[round(t, 2) for t in times]} s"
