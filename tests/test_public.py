"""The public view shows what the governments have accepted, and nothing else: no draft, no update still in
review or returned, no private evidence, no person's name or address."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tracker import actions, reports
from tracker.models import Initiative, ProgressReport, StatusUpdate

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def published(personas, period, make_update, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    p = personas
    make_update(p.alice, "A-316", state="draft", summary="MARKER-DRAFT never public")
    make_update(p.alice, "SI-01", state="submitted", summary="MARKER-SUBMITTED in review")
    make_update(p.alice, "A-317", state="returned", reviewer=p.sec_mx, summary="MARKER-RETURNED to revise")
    accepted = StatusUpdate(
        initiative=Initiative.objects.get(code="A-318"),
        agency=p.alice.profile.agency,
        period=period,
        author=p.alice,
        status="on_track",
        progress=60,
        summary="MARKER-ACCEPTED The standards bodies signed the work plan.",
    )
    actions.save_update(
        accepted,
        submit=True,
        user=p.alice,
        files=[(SimpleUploadedFile("MARKER-PRIVATE-FILE.pdf", PDF), "application/pdf")],
    )
    actions.accept_update(accepted, user=p.sec_mx, comment="MARKER-REVIEW-COMMENT")
    report = ProgressReport.objects.create(period=period, title="Report to the ministers", created_by=p.sec_mx)
    reports.publish_report(reports.freeze_report(report, user=p.sec_mx), user=p.sec_mx)
    ProgressReport.objects.create(period=period, title="MARKER-DRAFT-REPORT", created_by=p.sec_mx)
    return report


FORBIDDEN = ["MARKER-DRAFT", "MARKER-SUBMITTED", "MARKER-RETURNED", "MARKER-PRIVATE-FILE", "MARKER-REVIEW-COMMENT"]


def _people_strings(personas):
    for user in (personas.alice, personas.bob, personas.sec_mx, personas.sec_kr, personas.charlie):
        yield user.username
        yield user.email


def assert_clean(text: str, personas):
    for marker in FORBIDDEN:
        assert marker not in text, marker
    for value in _people_strings(personas):
        assert value not in text, value


def test_the_public_pages_show_accepted_progress_and_nothing_else(client, personas, published):
    pages = [client.get(reverse("tracker:public"), {"q": code}) for code in ("A-316", "SI-01", "A-317", "A-318")]
    pages += [client.get(reverse("tracker:public-initiative", args=[c])) for c in ("A-316", "SI-01", "A-317", "A-318")]
    for response in pages:
        assert response.status_code == 200
        assert_clean(response.content.decode(), personas)
    detail = pages[-1].content.decode()
    assert "MARKER-ACCEPTED The standards bodies signed the work plan." in detail
    assert "60%" in detail and "On track" in detail


def test_no_filter_reveals_an_unaccepted_status(client, personas, published):
    page = client.get(reverse("tracker:public"), {"status": "blocked"}).content.decode()
    assert "No initiative matches these filters." in page
    page = client.get(reverse("tracker:public"), {"status": "on_track"}).content.decode()
    assert "A-318" in page and "SI-01" not in page  # SI-01's update is still in review
    page = client.get(reverse("tracker:public"), {"agency": "1", "overdue": "true"})
    assert page.status_code == 200  # filters the public does not have are ignored, not errors


def test_published_reports_are_listed_and_downloadable_and_drafts_are_not(client, personas, published):
    page = client.get(reverse("tracker:public")).content.decode()
    assert "Report to the ministers" in page
    assert "MARKER-DRAFT-REPORT" not in page
    csv = client.get(reverse("tracker:public-report-download", args=[published.pk, "csv"]))
    assert csv.status_code == 200
    text = b"".join(csv.streaming_content).decode("utf-8-sig")  # a frozen report's file is served from disk
    assert "MARKER-ACCEPTED" in text
    assert_clean(text, personas)
    draft = ProgressReport.objects.get(title="MARKER-DRAFT-REPORT")
    assert client.get(reverse("tracker:public-report-download", args=[draft.pk, "csv"])).status_code == 404


def test_an_internal_initiative_is_not_public(client, published):
    Initiative.objects.filter(code="A-318").update(visibility="internal")
    assert client.get(reverse("tracker:public-initiative", args=["A-318"])).status_code == 404
    assert "/public/initiatives/A-318/" not in client.get(reverse("tracker:public"), {"q": "A-318"}).content.decode()
