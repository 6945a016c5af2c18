"""Two people (or two clicks) on one update: nobody gets an error page, nobody's work is silently lost."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tracker import actions
from tracker.models import Evidence, Initiative, StatusUpdate

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _form(**overrides):
    data = {"status": "on_track", "progress": "40", "summary": "Work plan agreed.", "next_steps": "", "blockers": ""}
    data.update(overrides)
    return data


def _unsaved(user, period, code="A-318", summary="Draft"):
    return StatusUpdate(
        initiative=Initiative.objects.get(code=code),
        agency=user.profile.agency,
        period=period,
        author=user,
        status="on_track",
        progress=10,
        summary=summary,
    )


def test_the_second_first_save_of_an_update_gets_the_existing_one(personas, period):
    first = actions.save_update(_unsaved(personas.alice, period), submit=False, user=personas.alice)
    with pytest.raises(actions.UpdateAlreadyStarted) as race:
        actions.save_update(_unsaved(personas.bob, period, summary="Mine"), submit=False, user=personas.bob)
    assert race.value.existing == first
    assert StatusUpdate.objects.get().summary == "Draft"


def test_a_colleague_who_started_the_same_update_opens_the_existing_draft_with_their_text_kept(
    client, personas, period
):
    client.force_login(personas.bob)
    form_page = client.get(reverse("tracker:update-create", args=["A-318"]))
    assert form_page.status_code == 200
    # Alice saves first, while Bob is typing.
    actions.save_update(_unsaved(personas.alice, period, summary="Alice's draft"), submit=False, user=personas.alice)
    response = client.post(
        reverse("tracker:update-create", args=["A-318"]), _form(summary="Bob's careful text", submit="1")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Alice started this update a moment before you" in page
    assert "Alice&#x27;s draft" in page  # the existing draft, in the form
    assert "Bob&#x27;s careful text" in page  # and what Bob typed, not lost
    assert StatusUpdate.objects.get().summary == "Alice's draft"


def test_a_double_click_on_the_first_save_lands_on_what_the_first_click_saved(client, personas, period):
    client.force_login(personas.alice)
    url = reverse("tracker:update-create", args=["A-318"])
    client.post(url, _form(submit="1"))
    response = client.post(url, _form(submit="1"), follow=True)
    assert response.status_code == 200
    assert "Your update was already saved (the form was sent twice)." in response.content.decode()
    assert StatusUpdate.objects.count() == 1


def test_a_double_clicked_submit_on_a_draft_says_it_is_submitted(client, personas, period, make_update, monkeypatch):
    draft = make_update(personas.alice, "A-318", state="draft")
    client.force_login(personas.alice)
    url = reverse("tracker:update-edit", args=[draft.pk])
    client.post(url, _form(submit="1"))
    response = client.post(url, _form(submit="1"), follow=True)
    assert response.status_code == 200
    assert "This update is submitted and waits for review" in response.content.decode()
    # The second click read the draft before the first one's submission committed: the save itself refuses it.
    from tracker import permissions

    monkeypatch.setattr(permissions, "can_edit_update", lambda user, update: True)
    real = actions.save_update

    def after_the_first_click(update, **kwargs):
        monkeypatch.undo()
        return real(update, **kwargs)

    monkeypatch.setattr(actions, "save_update", after_the_first_click)
    response = client.post(url, _form(submit="1"), follow=True)
    assert response.status_code == 200
    assert "This update is submitted and waits for review" in response.content.decode()
    assert StatusUpdate.objects.get().review_state == "submitted"


def test_an_edit_over_a_newer_save_is_refused_and_keeps_what_was_typed(client, personas, make_update):
    draft = make_update(personas.alice, "A-318", state="draft", summary="First words")
    client.force_login(personas.alice)
    url = reverse("tracker:update-edit", args=[draft.pk])
    seen = draft.version
    # Bob saves the draft while Alice has it open.
    client.force_login(personas.bob)
    client.post(url, _form(summary="Bob's figures", seen_version=seen, draft="1"))
    client.force_login(personas.alice)
    response = client.post(url, _form(summary="Alice's rewrite", seen_version=seen, draft="1"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Bob saved this update after you opened it. Nothing of yours was saved" in page
    assert "Bob&#x27;s figures" in page and "Alice&#x27;s rewrite" in page
    draft.refresh_from_db()
    assert draft.summary == "Bob's figures"
    # Having seen Bob's version, Alice saves hers on purpose.
    newer = draft.version
    client.post(url, _form(summary="Alice's rewrite", seen_version=newer, draft="1"))
    draft.refresh_from_db()
    assert draft.summary == "Alice's rewrite"


def test_a_returned_update_can_have_its_evidence_removed_and_replaced(
    client, personas, make_update, django_capture_on_commit_callbacks
):
    update = make_update(personas.alice, "A-318", state="draft")
    client.force_login(personas.alice)
    url = reverse("tracker:update-edit", args=[update.pk])
    client.post(
        url,
        _form(
            evidence_links="https://www.gob.mx/se/wrong-page",
            evidence_files=[SimpleUploadedFile("old-minutes.pdf", PDF, "application/pdf")],
            seen_version=update.version,
            draft="1",
        ),
    )
    update.refresh_from_db()
    link, old_file = update.evidence.get(file=""), update.evidence.exclude(file="").get()
    stored = old_file.file.name
    assert default_storage.exists(stored)
    page = client.get(url).content.decode()
    assert "Evidence already attached" in page and "Remove" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            _form(
                remove_evidence=[link.pk, old_file.pk],
                evidence_files=[SimpleUploadedFile("signed-minutes.pdf", PDF, "application/pdf")],
                seen_version=update.version,
                draft="1",
            ),
        )
    assert [e.original_name for e in update.evidence.all()] == ["signed-minutes.pdf"]
    assert not default_storage.exists(stored)  # the wrong file is gone from the disk too
    assert Evidence.history.filter(id=old_file.pk, history_type="-").exists()  # and the audit says so


def test_evidence_of_another_update_cannot_be_removed_through_the_form(client, personas, make_update):
    mine = make_update(personas.alice, "A-318", state="draft")
    other = make_update(personas.alice, "A-316", state="draft")
    Evidence.objects.create(update=other, url="https://www.gob.mx/se/keep", uploaded_by=personas.alice)
    client.force_login(personas.alice)
    response = client.post(
        reverse("tracker:update-edit", args=[mine.pk]),
        _form(remove_evidence=[other.evidence.get().pk], seen_version=mine.version, draft="1"),
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert other.evidence.count() == 1


def test_the_reviewer_sees_what_changed_since_the_return(client, personas, make_update):
    update = make_update(personas.alice, "A-318", state="draft", progress=20)
    Evidence.objects.create(update=update, url="https://www.gob.mx/se/old", uploaded_by=personas.alice)
    actions.save_update(update, submit=True, user=personas.alice)
    actions.return_update(update, user=personas.sec_mx, comment="Attach the signed minutes.")
    update.refresh_from_db()
    client.force_login(personas.alice)
    client.post(
        reverse("tracker:update-edit", args=[update.pk]),
        _form(
            progress="35",
            summary="Progress this period.",
            remove_evidence=[update.evidence.get().pk],
            evidence_files=[SimpleUploadedFile("signed.pdf", PDF, "application/pdf")],
            seen_version=update.version,
            submit="1",
        ),
    )
    client.force_login(personas.sec_mx)
    page = client.get(reverse("tracker:review-update", args=[update.pk])).content.decode()
    assert "Since it was returned" in page and "Attach the signed minutes." in page
    changes = page[page.index("Since it was returned") : page.index("Summary of progress")]
    assert "20 %" in changes and "35 %" in changes  # progress before and after
    assert "Evidence added" in changes and "signed.pdf" in changes
    assert "Evidence removed" in changes and "https://www.gob.mx/se/old" in changes
    assert "Summary of progress" not in changes  # the summary did not change, so it is not listed as a change


def test_a_resubmission_without_changes_is_called_so(client, personas, make_update):
    update = make_update(personas.alice, "A-318", state="returned", reviewer=personas.sec_mx)
    client.force_login(personas.alice)
    client.post(
        reverse("tracker:update-edit", args=[update.pk]),
        _form(status="on_track", progress="30", summary="Progress this period.", submit="1"),
    )
    client.force_login(personas.sec_mx)
    page = client.get(reverse("tracker:review-update", args=[update.pk])).content.decode()
    assert "Nothing was changed: the official sent it back as it was." in page
