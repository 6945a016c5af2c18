"""The spreadsheets people download (tracker/exports.py): the initiative list as CSV and XLSX, and the status updates.

The status updates of the scene below are written at a fixed moment, 2026-11-20 15:30 UTC: 09:30 in Mexico City,
00:30 the next day in Seoul. SE (alice's agency, Mexico) has an accepted update on A-318, a submitted one on SI-01
and a draft on A-316; KCS (charlie's, Korea) an accepted update on A-314 whose summary is a formula, and a
submitted one after it; SRE (sec_mx's agency) a draft by its official dora; and in an earlier, closed period SE has
an accepted update on A-318 too.
"""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tests.conftest import make_person
from tests.test_query_counts import N, Updates, assert_same_count, logged_in
from tracker import exports
from tracker.choices import ReviewState, Status
from tracker.models import Agency, Initiative, ReportingPeriod, StatusUpdate

pytestmark = pytest.mark.django_db

WRITTEN_AT = datetime.datetime(2026, 11, 20, 15, 30, tzinfo=datetime.UTC)
FORMULA = '=HYPERLINK("https://evil.example/","Open the figures")'
PHONE = "+82 2 0000 0000 called"
# As the file has them: prefixed with an apostrophe, so that a spreadsheet shows them instead of running them.
SAFE_FORMULA, SAFE_PHONE = "'" + FORMULA, "'" + PHONE
HEADER = [
    "Period",
    "Code",
    "Title",
    "Side",
    "Agency",
    "Status",
    "Progress (%)",
    "Review state",
    "Summary",
    "Submitted at (America/Mexico_City)",
    "Reviewed at (America/Mexico_City)",
    "Reviewed by",
    "Author",
]
EXPORT = reverse("tracker:update-export")


@pytest.fixture
def scene(personas, period, make_update):
    earlier = ReportingPeriod.objects.create(
        name="2026 Q3",
        start=period.start - datetime.timedelta(days=90),
        end=period.start - datetime.timedelta(days=1),
        due_date=period.start - datetime.timedelta(days=10),
        state="closed",
    )
    p = personas
    with time_machine.travel(WRITTEN_AT, tick=False):
        make_update(p.alice, "A-318", state="accepted", reviewer=p.sec_mx, period=earlier, summary="Q3 talks.")
        make_update(p.alice, "A-318", state="accepted", reviewer=p.sec_mx, progress=40, summary="Talks held.")
        make_update(p.alice, "SI-01", state="submitted", summary="SE submitted, waiting.")
        make_update(p.alice, "A-316", state="draft", status="blocked", summary="SE draft, unfinished.")
        make_update(p.charlie, "A-314", state="accepted", reviewer=p.sec_kr, summary=FORMULA)
        make_update(p.charlie, "A-314", state="submitted", status="at_risk", summary=PHONE)
        dora = make_person("dora", "official", "sre")
        make_update(dora, "A-001", state="draft", summary="SRE draft, unfinished.")
    return earlier


def download(client, path=EXPORT, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.status_code
    return response


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body(response))))


def summaries(client, **params) -> set[str]:
    return {row["Summary"] for row in rows_of(download(client, **params))}


# --- The status update export: content and headers ---------------------------------------------------------------


def test_the_update_export_is_a_csv_file_with_a_row_per_update(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    response = download(client)
    assert response.streaming  # sent as it is made, not built whole first
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="status-updates.csv"'
    text = body(download(client))
    assert text.startswith("Period,Code,Title")
    raw = b"".join(download(client).streaming_content)
    assert raw.startswith("\ufeffPeriod".encode())  # the BOM: Excel reads the file as UTF-8
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == HEADER
    se = Agency.objects.get(key="se")
    accepted = rows[1:][[row[8] for row in rows[1:]].index("Talks held.")]
    assert accepted == [
        "2026 Q4",
        "A-318",
        Initiative.objects.get(code="A-318").title,
        "Mexico",
        se.name,
        "On track",
        "40",
        "Accepted",
        "Talks held.",
        "2026-11-20 09:30",  # in sec_mx's time zone, which the header names
        "2026-11-20 09:30",
        "Sec_mx",  # full names (here the first name alone), never an address
        "Alice",
    ]
    submitted = rows[1:][[row[8] for row in rows[1:]].index("SE submitted, waiting.")]
    assert submitted[7] == "Submitted" and submitted[10:12] == ["", ""]  # not reviewed yet
    assert "@" not in text  # no email address anywhere


def test_the_rows_come_newest_period_first_then_in_report_order(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    rows = rows_of(download(client))
    assert [row["Period"] for row in rows] == ["2026 Q4"] * (len(rows) - 1) + ["2026 Q3"]
    positions = {code: position for code, position in Initiative.objects.values_list("code", "position")}
    current = [positions[row["Code"]] for row in rows[:-1]]
    assert current == sorted(current)


def test_the_names_and_times_are_the_readers(client, personas, period, scene):
    """sec_kr reads Korean, in Seoul: labels, titles, agency names and times follow; the header names the zone."""
    personas.sec_kr.profile.language = "ko"
    personas.sec_kr.profile.save()
    client.force_login(personas.sec_kr)
    text = body(download(client))
    rows = list(csv.reader(io.StringIO(text)))
    kcs = Agency.objects.get(key="kcs")
    with translation.override("ko"):
        assert rows[0][:3] == [translation.gettext("Period"), translation.gettext("Code"), translation.gettext("Title")]
        assert rows[0][9] == translation.gettext("Submitted at (%(time_zone)s)") % {"time_zone": "Asia/Seoul"}
        row = next(row for row in rows if row[8] == SAFE_FORMULA)
        assert row[2] == Initiative.objects.get(code="A-314").display_title
        assert row[3:8] == [
            str(translation.gettext("Korea")),
            kcs.name_ko or kcs.name,
            str(Status.ON_TRACK.label),
            "30",
            str(ReviewState.ACCEPTED.label),
        ]
    assert row[9:11] == ["2026-11-21 00:30", "2026-11-21 00:30"]  # Seoul is 9 hours ahead of UTC


def test_the_update_export_in_spanish(client, personas, period, scene):
    personas.sec_mx.profile.language = "es"
    personas.sec_mx.profile.save()
    client.force_login(personas.sec_mx)
    rows = rows_of(download(client))
    with translation.override("es"):
        row = next(row for row in rows if row[translation.gettext("Summary")] == "Talks held.")
        assert row[translation.gettext("Status")] == str(Status.ON_TRACK.label) != "On track"
        assert row[translation.gettext("Title")] == Initiative.objects.get(code="A-318").display_title


# --- Filters ----------------------------------------------------------------------------------------------------


def test_the_filters_narrow_the_rows(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    everything = summaries(client)
    assert summaries(client, period=scene.pk) == {"Q3 talks."}
    assert summaries(client, period=period.pk) == everything - {"Q3 talks."}
    assert summaries(client, review_state="submitted") == {"SE submitted, waiting.", SAFE_PHONE}
    assert summaries(client, country="KR") == {SAFE_FORMULA, SAFE_PHONE}
    assert summaries(client, agency=Agency.objects.get(key="se").pk, status="on_track", review_state="accepted") == {
        "Q3 talks.",
        "Talks held.",
    }
    assert summaries(client, status="blocked") == set()  # SE's only blocked update is its draft
    # The form on the reports page sends every field, the unused ones empty: no filter.
    assert summaries(client, period="", review_state="", country="", agency="", status="") == everything


def test_a_period_names_the_file(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    response = download(client, period=period.pk)
    assert response["Content-Disposition"] == 'attachment; filename="status-updates-2026-q4.csv"'


def test_a_filter_that_is_not_valid_sends_a_secretariat_back_to_the_form_with_the_reason(
    client, personas, period, scene
):
    client.force_login(personas.sec_mx)
    for params, reason in (
        ({"period": "10000000"}, "Select a valid choice"),
        ({"period": "abc"}, "Select a valid choice"),
        ({"status": "nonsense"}, "Select a valid choice"),
        ({"agency": "Ministry of Magic"}, "No agency with initiatives matches “Ministry of Magic”."),
    ):
        response = client.get(EXPORT, params, follow=True)
        page = response.content.decode()
        assert response.redirect_chain[-1][0].startswith(reverse("tracker:reports"))
        assert "The spreadsheet was not made: check the filters below." in page
        assert reason in page  # under the field
        assert not response.get("Content-Disposition")


def test_an_official_with_a_hand_edited_address_gets_the_reason(client, personas, period, scene):
    client.force_login(personas.alice)
    response = client.get(EXPORT, {"status": "nonsense"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_the_agency_filter_takes_an_acronym(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    rows = list(csv.reader(io.StringIO(client.get(EXPORT, {"agency": "kcs"}).getvalue().decode("utf-8-sig"))))
    assert len(rows) > 1 and {row[4] for row in rows[1:]} == {"Korea Customs Service"}


def test_the_form_on_the_reports_page_offers_the_filters(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    page = client.get(reverse("tracker:reports")).content.decode()
    assert f'action="{EXPORT}"' in page
    assert 'name="period"' in page and 'name="review_state"' in page and 'name="agency"' in page
    assert 'value="draft"' not in page  # a secretariat never sees drafts: not offered
    assert "America/Mexico_City" in page


def test_an_official_finds_the_export_on_the_home_page(client, personas, period, scene):
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:home")).content.decode()
    assert f'href="{EXPORT}"' in page and f'href="{EXPORT}?period={period.pk}"' in page


# --- Who gets what -------------------------------------------------------------------------------------------------


def test_an_official_gets_its_own_agencys_updates_drafts_included(client, personas, period, scene):
    client.force_login(personas.alice)
    assert summaries(client) == {"Q3 talks.", "Talks held.", "SE submitted, waiting.", "SE draft, unfinished."}
    # Asking for another agency or side changes nothing: an official has no such filter.
    kcs = Agency.objects.get(key="kcs")
    assert summaries(client, agency=kcs.pk, country="KR") == summaries(client)
    assert summaries(client, review_state="draft") == {"SE draft, unfinished."}
    bob = Client()
    bob.force_login(personas.bob)  # alice's colleague at SE: the same file
    assert summaries(bob) == summaries(client)


def test_an_official_of_another_agency_never_gets_its_drafts(client, personas, period, scene):
    client.force_login(personas.charlie)
    assert summaries(client) == {SAFE_FORMULA, SAFE_PHONE}  # KCS's own, nothing of SE's


@pytest.mark.parametrize("persona", ["sec_mx", "sec_kr", "admin"])
def test_the_secretariats_get_every_update_but_drafts(client, personas, period, scene, persona):
    client.force_login(getattr(personas, persona))
    assert summaries(client) == {
        "Q3 talks.",
        "Talks held.",
        "SE submitted, waiting.",
        SAFE_FORMULA,
        SAFE_PHONE,
    }
    refused = client.get(EXPORT, {"review_state": "draft"})  # drafts are not even a choice
    assert refused.status_code == 302 and not refused.get("Content-Disposition")


def test_the_anonymous_are_sent_to_log_in_and_a_user_without_a_role_is_refused(
    client, personas, period, scene, django_user_model
):
    response = client.get(EXPORT)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    stranger = django_user_model.objects.create_user("stranger", "stranger@example.invalid", "a-long-password-1")
    client.force_login(stranger)
    assert client.get(EXPORT).status_code == 403


# --- Formula injection ----------------------------------------------------------------------------------------------


def test_cells_that_a_spreadsheet_would_run_are_written_as_text():
    assert exports.safe_row(["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", "", 5, None, -3]) == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        5,
        None,
        -3,
    ]


def test_a_formula_typed_in_a_summary_reaches_the_file_as_text(client, personas, period, scene):
    client.force_login(personas.sec_kr)
    found = summaries(client)
    assert SAFE_FORMULA in found and SAFE_PHONE in found and FORMULA not in found


def test_a_formula_in_the_catalog_reaches_the_initiative_list_files_as_text(client, personas, period):
    Initiative.objects.filter(code="A-318").update(title="=1+2", title_es="", title_ko="")
    client.force_login(personas.alice)
    list_url = reverse("tracker:initiative-list")
    rows = list(csv.DictReader(io.StringIO(body(client.get(list_url, {"_export": "csv", "q": "A-318"})))))
    assert [row["Title"] for row in rows] == ["'=1+2"]
    response = client.get(list_url, {"_export": "xlsx", "q": "A-318"})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cell = sheet["B2"]
    assert cell.value == "=1+2" and cell.data_type == "s"  # a string cell: Excel shows it, never runs it


# --- Streaming and queries --------------------------------------------------------------------------------------------


def test_the_first_bytes_go_out_before_the_query_runs(client, personas, period, scene):
    client.force_login(personas.sec_mx)
    response = download(client)
    pieces = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as before_rows:
        first = next(pieces)
    assert first.decode("utf-8-sig").startswith("Period,") and first.count(b"\n") == 1
    assert not before_rows.captured_queries
    with CaptureQueriesContext(connection) as rows:
        rest = b"".join(pieces)
    assert len(rows.captured_queries) == 1 and rest.count(b"2026 Q") == 5


def test_the_rows_are_sent_in_pieces(client, personas, period, make_update, monkeypatch):
    monkeypatch.setattr(exports, "ROWS_PER_PIECE", 2)
    updates = Updates(personas, period)
    updates.add(5, "submitted")
    client.force_login(personas.sec_mx)
    pieces = list(download(client).streaming_content)
    assert [piece.count(b"\n") for piece in pieces] == [1, 2, 2, 1]  # the header, then the rows two by two


def test_the_update_export_makes_the_same_queries_for_n_and_5n_rows(
    client, personas, period, django_assert_num_queries
):
    logged_in(client, personas.sec_mx)
    updates = Updates(personas, period)
    updates.add(N, "accepted")
    for count in (N, 5 * N):
        # 1-2. session, user (with profile and agency)
        # 3. the updates sec_mx may export, with period, initiative, agency, author and reviewer joined, read a
        #    chunk at a time while the file is sent (a server-side cursor on PostgreSQL); no COUNT
        with django_assert_num_queries(3):
            response = client.get(EXPORT, {"review_state": "accepted"})
            assert len(rows_of(response)) == count
        updates.add(4 * N, "accepted")


def test_the_update_export_with_every_filter_makes_the_same_queries(client, personas, period):
    logged_in(client, personas.sec_mx)
    updates = Updates(personas, period)
    se = Agency.objects.get(key="se")
    params = {"period": period.pk, "agency": se.pk, "country": "MX", "status": "on_track", "review_state": "accepted"}

    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as context:
            b"".join(client.get(EXPORT, params).streaming_content)
        return [query["sql"] for query in context.captured_queries]

    updates.add(N, "accepted")
    small = queries()
    # 1-2. session, user; 3. the period chosen; 4. the agency chosen (each validated by its ModelChoiceField);
    # 5. the updates
    assert len(small) == 5
    updates.add(4 * N, "accepted")
    assert_same_count(small, queries(), "accepted updates")


def test_the_initiative_list_csv_makes_the_same_queries_for_n_and_5n_rows(client, personas, period):
    logged_in(client, personas.sec_mx)
    updates = Updates(personas, period)
    path = reverse("tracker:initiative-list") + "?status=on_track&country=MX&sort=-mexico&_export=csv"

    def queries() -> tuple[list[str], int]:
        with CaptureQueriesContext(connection) as context:
            rows = list(csv.DictReader(io.StringIO(body(client.get(path)))))
        return [query["sql"] for query in context.captured_queries], len(rows)

    updates.add(N, "accepted")
    small, count = queries()
    assert count == N
    updates.add(4 * N, "accepted")
    large, count = queries()
    assert count == 5 * N
    assert_same_count(small, large, "initiatives on track")
    assert not any("COUNT(" in sql.upper() for sql in large)


# --- The initiative list's files --------------------------------------------------------------------------------------


def test_the_initiative_list_links_to_its_files_with_its_filters(client, personas, period):
    client.force_login(personas.alice)
    page = client.get(reverse("tracker:initiative-list"), {"theme": "trade"}).content.decode()
    assert "?theme=trade&amp;_export=csv" in page and "?theme=trade&amp;_export=xlsx" in page


def test_the_initiative_list_csv_keeps_its_columns_filters_and_sort(client, personas, period, make_update):
    make_update(personas.alice, "A-318", state="accepted", reviewer=personas.sec_mx, progress=35)
    make_update(personas.alice, "SI-01", state="accepted", reviewer=personas.sec_mx, progress=80)
    client.force_login(personas.charlie)
    response = client.get(
        reverse("tracker:initiative-list"), {"status": "on_track", "sort": "-mexico", "_export": "csv"}
    )
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="initiatives.csv"'
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0] == [
        "Code",
        "Title",
        "Kind",
        "Theme",
        "Lead in Mexico",
        "Status in Mexico",
        "Progress in Mexico (%)",
        "Lead in Korea",
        "Status in Korea",
        "Progress in Korea (%)",
        "Quote",
    ]
    assert [(row[0], row[5], row[6]) for row in rows[1:]] == [("SI-01", "On track", "80"), ("A-318", "On track", "35")]
    assert rows[1][2] == "Strategic initiative"


def test_the_initiative_list_files_read_in_the_readers_language(client, personas, period, make_update):
    make_update(personas.alice, "A-318", state="accepted", reviewer=personas.sec_mx)
    personas.alice.profile.language = "es"
    personas.alice.profile.save()
    client.force_login(personas.alice)
    url = reverse("tracker:initiative-list")
    rows = list(csv.reader(io.StringIO(body(client.get(url, {"q": "A-318", "_export": "csv"})))))
    with translation.override("es"):
        initiative = Initiative.objects.get(code="A-318")
        assert rows[0][:2] == [translation.gettext("Code"), translation.gettext("Title")]
        assert rows[1][1] == initiative.display_title
        assert rows[1][5] == str(Status.ON_TRACK.label) != "On track"
        response = client.get(url, {"q": "A-318", "_export": "xlsx"})
        sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
        assert sheet.title == str(Initiative._meta.verbose_name_plural).capitalize()
        assert [cell.value for cell in sheet[1]][:2] == rows[0][:2]
        assert sheet["F2"].value == rows[1][5]


def test_the_initiative_list_xlsx_has_a_bold_frozen_header_and_every_row(client, personas, period):
    client.force_login(personas.sec_kr)
    response = client.get(reverse("tracker:initiative-list"), {"theme": "trade", "_export": "xlsx"})
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="initiatives.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold and sheet["A1"].value == "Code"
    assert sheet.max_row - 1 == Initiative.objects.filter(theme="trade").count()


def test_the_initiative_list_export_with_filters_that_are_not_valid_is_empty(client, personas, period):
    client.force_login(personas.alice)
    response = client.get(reverse("tracker:initiative-list"), {"status": "nonsense", "_export": "csv"})
    assert response.status_code == 200
    assert list(csv.reader(io.StringIO(body(response))))[1:] == []


def test_an_update_export_of_nothing_has_its_header(client, personas, period):
    client.force_login(personas.sec_kr)
    assert not StatusUpdate.objects.exists()
    assert list(csv.reader(io.StringIO(body(download(client))))) == [
        HEADER[:9]
        + [
            "Submitted at (Asia/Seoul)",
            "Reviewed at (Asia/Seoul)",
            "Reviewed by",
            "Author",
        ]
    ]
