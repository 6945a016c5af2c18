"""The reporting loop as an official and a reviewer live it: draft, submit, return, fix, accept."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tracker.models import CurrentStatus, Evidence, StatusUpdate

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 32


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _form(**overrides):
    data = {
        "status": "on_track",
        "progress": "40",
        "summary": "Standards bodies agreed a work plan for IT equipment MRAs.",
        "next_steps": "Sign the first MRA.",
        "blockers": "",
        "evidence_links": "",
    }
    data.update(overrides)
    return data


def _new_url(code="A-318"):
    return reverse("tracker:update-create", args=[code])


def test_an_official_submits_an_update_with_evidence(client, personas, period):
    client.force_login(personas.alice)
    data = _form(
        evidence_links="https://www.gob.mx/se/prensa/mra",
        evidence_files=[SimpleUploadedFile("minutes.pdf", PDF, "application/pdf")],
        submit="1",
    )
    response = client.post(_new_url(), data, follow=True)
    assert "Your update was submitted for review" in response.content.decode()
    update = StatusUpdate.objects.get(initiative__code="A-318")
    assert update.review_state == "submitted" and update.submitted_at is not None
    assert update.agency.key == "se" and update.author == personas.alice
    assert {e.url for e in update.evidence.all()} == {"https://www.gob.mx/se/prensa/mra", ""}
    stored = update.evidence.exclude(file="").get()
    assert stored.original_name == "minutes.pdf" and stored.content_type == "application/pdf"
    assert "minutes" not in stored.file.name  # stored under a random name


def test_a_draft_is_saved_and_can_be_edited_then_submitted(client, personas, period):
    client.force_login(personas.alice)
    client.post(_new_url(), _form(draft="1"))
    update = StatusUpdate.objects.get(initiative__code="A-318")
    assert update.review_state == "draft"
    # Opening the form again continues the same draft, it does not start a second one.
    assert client.get(_new_url()).url == reverse("tracker:update-edit", args=[update.pk])
    client.post(reverse("tracker:update-edit", args=[update.pk]), _form(progress="55", submit="1"))
    update.refresh_from_db()
    assert (update.review_state, update.progress) == ("submitted", 55)
    assert StatusUpdate.objects.filter(initiative__code="A-318").count() == 1


def test_a_submitted_update_is_read_only_until_returned(client, personas, make_update):
    update = make_update(personas.alice, "A-318")
    client.force_login(personas.alice)
    response = client.post(reverse("tracker:update-edit", args=[update.pk]), _form(summary="Changed"), follow=True)
    assert "read-only until a reviewer returns it" in response.content.decode()
    update.refresh_from_db()
    assert update.summary == "Progress this period."


def test_the_colleague_in_the_same_agency_may_continue_a_draft(client, personas, make_update):
    draft = make_update(personas.alice, "A-318", state="draft")
    client.force_login(personas.bob)
    response = client.post(reverse("tracker:update-edit", args=[draft.pk]), _form(submit="1"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.review_state == "submitted" and draft.author == personas.bob


def test_the_review_loop_return_fix_accept(client, personas, make_update):
    update = make_update(personas.alice, "A-318", status="at_risk", progress=20)
    client.force_login(personas.sec_mx)
    queue = client.get(reverse("tracker:review")).content.decode()
    assert "A-318" in queue

    review_url = reverse("tracker:review-update", args=[update.pk])
    response = client.post(review_url, {"decision": "return", "comment": ""})
    assert "a comment is required to return it" in response.content.decode()
    update.refresh_from_db()
    assert update.review_state == "submitted"

    client.post(review_url, {"decision": "return", "comment": "Please name the standards bodies."})
    update.refresh_from_db()
    assert update.review_state == "returned"

    client.force_login(personas.alice)
    home = client.get(reverse("tracker:home")).content.decode()
    assert "Please name the standards bodies." in home
    client.post(reverse("tracker:update-edit", args=[update.pk]), _form(summary="KATS and DGN agreed.", submit="1"))
    update.refresh_from_db()
    assert update.review_state == "submitted"

    client.force_login(personas.sec_mx)
    client.post(review_url, {"decision": "accept", "comment": ""})
    update.refresh_from_db()
    assert update.review_state == "accepted" and update.reviewed_by == personas.sec_mx
    current = CurrentStatus.objects.get(initiative=update.initiative, country="MX")
    assert (current.update, current.status, current.progress) == (update, "on_track", 40)
    assert not CurrentStatus.objects.filter(initiative=update.initiative, country="KR").exists()

    listing = client.get(reverse("tracker:initiative-list"), {"q": "A-318"}).content.decode()
    assert "On track" in listing and "40%" in listing
    detail = client.get(update.initiative.get_absolute_url()).content.decode()
    assert "KATS and DGN agreed." in detail


def test_an_accepted_update_is_never_edited_and_a_correction_is_a_new_update(client, personas, make_update):
    first = make_update(personas.alice, "A-318", state="accepted", reviewer=personas.sec_mx)
    client.force_login(personas.alice)
    client.post(reverse("tracker:update-edit", args=[first.pk]), _form(summary="Rewritten history"))
    first.refresh_from_db()
    assert first.summary == "Progress this period."
    client.post(_new_url(), _form(progress="60", submit="1"))
    assert StatusUpdate.objects.filter(initiative__code="A-318").count() == 2


def test_a_review_twice_is_refused_without_an_error_page(client, personas, make_update):
    update = make_update(personas.alice, "A-318")
    client.force_login(personas.sec_mx)
    url = reverse("tracker:review-update", args=[update.pk])
    client.post(url, {"decision": "accept"})
    response = client.post(url, {"decision": "return", "comment": "Too late"}, follow=True)
    assert response.status_code == 200
    assert "already been reviewed" in response.content.decode()
    update.refresh_from_db()
    assert update.review_state == "accepted"


@pytest.mark.parametrize(
    "upload, message",
    [
        (SimpleUploadedFile("notes.pdf", b"#!/bin/sh\nrm -rf /\n", "application/pdf"), "its content was checked"),
        (SimpleUploadedFile("photo.png", PDF, "image/png"), "its content was checked"),
        (SimpleUploadedFile("macro.exe", b"MZ\x90\x00" + b"\x00" * 64, "application/pdf"), "its content was checked"),
        (SimpleUploadedFile("big.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf"), "at most 10 MB"),
    ],
    ids=["script-named-pdf", "pdf-named-png", "executable", "too-big"],
)
def test_bad_evidence_is_refused_and_nothing_typed_is_lost(client, personas, period, upload, message):
    client.force_login(personas.alice)
    summary = "A long summary the official typed carefully."
    response = client.post(_new_url(), _form(summary=summary, evidence_files=[upload], submit="1"))
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert summary in page  # what was typed is still in the form
    assert not StatusUpdate.objects.exists()
    assert not Evidence.objects.exists()


def test_images_and_office_documents_are_accepted(client, personas, period):
    client.force_login(personas.alice)
    files = [SimpleUploadedFile("chart.png", PNG, "image/png")]
    response = client.post(_new_url(), _form(evidence_files=files, submit="1"))
    assert response.status_code == 302
    assert Evidence.objects.get().content_type == "image/png"


def test_bad_links_and_progress_get_clear_messages(client, personas, period):
    client.force_login(personas.alice)
    response = client.post(_new_url(), _form(progress="140", evidence_links="not a link", submit="1"))
    page = response.content.decode()
    assert "Progress is a percentage between 0 and 100." in page
    assert "is not a web address" in page
    assert not StatusUpdate.objects.exists()


def test_without_an_open_period_there_is_nothing_to_report(client, personas):
    client.force_login(personas.alice)
    response = client.get(_new_url(), follow=True)
    assert "No reporting period is open" in response.content.decode()


def test_evidence_is_downloaded_as_an_attachment(client, personas, period):
    client.force_login(personas.alice)
    client.post(_new_url(), _form(evidence_files=[SimpleUploadedFile("m.pdf", PDF, "application/pdf")], submit="1"))
    evidence = Evidence.objects.get()
    response = client.get(reverse("tracker:evidence-download", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="m.pdf"')
    assert b"".join(response.streaming_content) == PDF


def test_the_list_exports_the_filtered_rows_as_csv_and_xlsx(client, personas, make_update):
    make_update(personas.alice, "SI-01", state="accepted", reviewer=personas.sec_mx, progress=35)
    client.force_login(personas.alice)
    url = reverse("tracker:initiative-list")
    csv = client.get(url, {"theme": "trade", "_export": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()  # a BOM, for Excel
    assert lines[0].startswith("Code,Title")
    from tracker.models import Initiative

    assert len(lines) - 1 == Initiative.objects.filter(theme="trade").count()
    si01 = next(line for line in lines if line.startswith("SI-01"))
    assert "On track" in si01 and ",35," in si01

    xlsx = client.get(url, {"theme": "trade", "_export": "xlsx"})
    import io

    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    assert sheet.max_row - 1 == Initiative.objects.filter(theme="trade").count()


def test_filters_narrow_the_list(client, personas, make_update):
    make_update(personas.alice, "SI-01", state="accepted", reviewer=personas.sec_mx, status="at_risk")
    client.force_login(personas.charlie)
    url = reverse("tracker:initiative-list")
    page = client.get(url, {"status": "at_risk"}).content.decode()
    assert "SI-01" in page and "A-318" not in page
    page = client.get(url, {"status": "at_risk", "country": "KR"}).content.decode()
    assert "SI-01" not in page
    page = client.get(url, {"agency": personas.charlie.profile.agency.pk}).content.decode()
    assert "A-314" in page and "SI-01" not in page
    page = client.get(url, {"q": "direct air route"}).content.decode()
    assert "SI-06" in page
    page = client.get(url, {"progress": "x", "status": "nonsense"})
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
