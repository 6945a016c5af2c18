"""A reviewer with a long queue decides on many updates at once, each recorded as if decided alone."""

import pytest
from django.urls import reverse

from tests.conftest import make_person
from tracker import actions
from tracker.choices import ReminderKind
from tracker.models import CurrentStatus, Initiative, Reminder, StatusUpdate

pytestmark = pytest.mark.django_db


@pytest.fixture
def fifty(personas, make_update):
    codes = Initiative.objects.filter(ownerships__agency__key="se").order_by("position").values_list("code", flat=True)
    return [make_update(personas.alice, code, progress=30 + index % 50) for index, code in enumerate(codes[:50])]


def _ticks(updates):
    return [f"{update.pk}:{update.version}" for update in updates]


def test_fifty_updates_accepted_at_once_each_with_its_history_and_notice(client, personas, fifty):
    client.force_login(personas.sec_mx)
    queue = client.get(reverse("tracker:review")).content.decode()
    assert all(f'value="{tick}"' in queue for tick in _ticks(fifty))  # each row's box carries what it showed
    response = client.post(reverse("tracker:review-bulk"), {"action": "accept", "updates": _ticks(fifty)}, follow=True)
    assert "50 updates accepted." in response.content.decode()
    for update in fifty:
        update.refresh_from_db()
        assert update.review_state == "accepted" and update.reviewed_by == personas.sec_mx
        assert update.history.filter(review_state="accepted", history_type="~").count() == 1
        current = CurrentStatus.objects.get(initiative=update.initiative, country="MX")
        assert (current.update_id, current.progress) == (update.pk, update.progress)
    notices = Reminder.objects.filter(kind=ReminderKind.ACCEPTED, recipient=personas.alice)
    assert notices.count() == 50 and {n.update_id for n in notices} == {u.pk for u in fifty}
    assert "Nothing is waiting for review." in client.get(reverse("tracker:review")).content.decode()


def test_one_changed_meanwhile_is_reported_and_the_other_49_go_through(client, personas, fifty):
    client.force_login(personas.sec_mx)
    ticks = _ticks(fifty)  # what the page showed
    # Meanwhile a colleague of the secretariat returns one, and the official resubmits another.
    colleague = make_person("sec_mx2", "secretariat", "sre")
    actions.return_update(fifty[7], user=colleague, comment="Figures missing.")
    actions.return_update(fifty[8], user=colleague, comment="Figures missing.")
    fifty[8].refresh_from_db()
    actions.save_update(fifty[8], submit=True, user=personas.alice)
    response = client.post(reverse("tracker:review-bulk"), {"action": "accept", "updates": ticks}, follow=True)
    page = response.content.decode()
    assert "48 updates accepted." in page
    assert f"Left alone: {fifty[7].initiative.code} (SE): This update has already been reviewed." in page
    assert f"Left alone: {fifty[8].initiative.code} (SE): This update changed after you opened the page" in page
    assert StatusUpdate.objects.filter(review_state="accepted").count() == 48
    fifty[8].refresh_from_db()
    assert fifty[8].review_state == "submitted"  # waits to be read again


def test_an_update_this_reviewer_may_not_review_is_left_alone(client, personas, make_update):
    korean = make_update(personas.charlie, "A-314")
    mexican = make_update(personas.alice, "A-318")
    client.force_login(personas.sec_mx)
    response = client.post(
        reverse("tracker:review-bulk"), {"action": "accept", "updates": _ticks([korean, mexican])}, follow=True
    )
    page = response.content.decode()
    assert "1 update accepted." in page
    assert "Left alone: A-314 (KCS): You may not review this update: it is another country&#x27;s." in page
    korean.refresh_from_db()
    assert korean.review_state == "submitted"


def test_updates_are_returned_with_one_comment_which_is_required(client, personas, fifty):
    client.force_login(personas.sec_mx)
    refused = client.post(
        reverse("tracker:review-bulk"), {"action": "return", "updates": _ticks(fifty[:3])}, follow=True
    )
    assert "a comment is required to return updates" in refused.content.decode()
    assert StatusUpdate.objects.filter(review_state="returned").count() == 0
    comment = "Please give this quarter's figures."
    response = client.post(
        reverse("tracker:review-bulk"),
        {"action": "return", "updates": _ticks(fifty[:3]), "comment": comment},
        follow=True,
    )
    assert "3 updates returned with your comment." in response.content.decode()
    returned = StatusUpdate.objects.filter(review_state="returned")
    assert returned.count() == 3 and set(returned.values_list("review_comment", flat=True)) == {comment}
    assert Reminder.objects.filter(kind=ReminderKind.RETURNED).count() == 3


def test_all_that_the_filter_shows_is_confirmed_first_and_leaves_later_arrivals_alone(
    client, personas, fifty, make_update
):
    client.force_login(personas.sec_mx)
    queue = client.get(reverse("tracker:review"), {"agency": "SE"}).content.decode()
    seen_at = queue.split('name="seen_at" value="')[1].split('"')[0]
    late = make_update(personas.bob, Initiative.objects.filter(ownerships__agency__key="se")[55].code)
    data = {"action": "accept_all", "agency": "SE", "seen_at": seen_at}
    confirm = client.post(reverse("tracker:review-bulk"), data)
    page = confirm.content.decode()
    assert "Accept 50 updates?" in page and fifty[0].initiative.code in page
    assert StatusUpdate.objects.filter(review_state="accepted").count() == 0  # nothing done before the confirmation
    response = client.post(reverse("tracker:review-bulk"), {**data, "confirmed": "1"}, follow=True)
    page = response.content.decode()
    assert "50 updates accepted." in page
    assert "1 update arrived or changed after you loaded the page" in page
    late.refresh_from_db()
    assert late.review_state == "submitted"


def test_two_bulk_reviews_of_one_update_decide_it_once(personas, make_update):
    update = make_update(personas.alice, "A-318")
    seen = {update.pk: update.version}
    first = actions.review_updates(seen, accept=True, user=personas.sec_mx)
    second = actions.review_updates(seen, accept=False, user=personas.sec_mx, comment="No")
    assert [u.pk for u in first.done] == [update.pk] and not first.left
    assert not second.done and second.left[0][1] == "This update has already been reviewed."
    update.refresh_from_db()
    assert update.review_state == "accepted"
    assert Reminder.objects.filter(update=update).count() == 1


def test_an_official_gets_one_email_for_the_decisions_taken_together(client, personas, fifty):
    import datetime

    from django.core import mail

    from tracker import reminders

    personas.alice.profile.language = "en"  # chosen; else her emails would be in her country's Spanish
    personas.alice.profile.save()
    client.force_login(personas.sec_mx)
    client.post(reverse("tracker:review-bulk"), {"action": "accept", "updates": _ticks(fifty)})
    mail.outbox = []
    reminders.deliver(datetime.datetime.now(datetime.UTC))
    (message,) = [m for m in mail.outbox if m.to == [personas.alice.email]]
    text, html = message.body, message.alternatives[0][0]
    assert message.subject == "50 of your updates were accepted"
    for body in (text, html):
        assert "Sec_mx of the Technical Secretariat accepted 50 of your updates." in body
        assert all(update.initiative.code in body for update in fifty)
    # Each decision is still its own record, sent in that one email.
    assert set(Reminder.objects.filter(recipient=personas.alice).values_list("state", flat=True)) == {"sent"}
    assert len(set(Reminder.objects.filter(recipient=personas.alice).values_list("message_id", flat=True))) == 1


def test_updates_returned_together_name_their_comment_once_or_each_its_own(personas, fifty):
    import datetime

    from django.core import mail

    from tracker import reminders

    personas.alice.profile.language = "en"
    personas.alice.profile.save()
    seen = {update.pk: update.version for update in fifty[:3]}
    actions.review_updates(seen, accept=False, user=personas.sec_mx, comment="Please give this quarter's figures.")
    actions.return_update(fifty[3], user=personas.sec_mx, comment="Attach the signed minutes.", deliver=False)
    mail.outbox = []
    reminders.deliver(datetime.datetime.now(datetime.UTC))
    (message,) = [m for m in mail.outbox if m.to == [personas.alice.email]]
    assert message.subject == "4 of your updates were returned for revision"
    assert "returned 4 of your updates for revision, each with its comment below." in message.body
    assert message.body.count("Please give this quarter's figures.") == 3
    assert message.body.count("Attach the signed minutes.") == 1
    for update in fifty[:4]:
        assert f"/updates/{update.pk}/edit/" in message.body


def test_the_email_for_decisions_taken_together_reads_in_the_officials_language(personas, fifty):
    import datetime

    from django.core import mail

    from tracker import reminders

    personas.alice.profile.language = "ko"
    personas.alice.profile.save()
    actions.review_updates({u.pk: u.version for u in fifty[:3]}, accept=True, user=personas.sec_mx)
    mail.outbox = []
    reminders.deliver(datetime.datetime.now(datetime.UTC))
    (message,) = [m for m in mail.outbox if m.to == [personas.alice.email]]
    assert message.subject == "귀하의 현황 보고 3건이 승인되었습니다"
    assert "기술사무국 Sec_mx 님이 귀하의 현황 보고 3건을 승인하였습니다." in message.body
