"""The period's spreadsheet: the download, the upload's preview and the import (tracker/sheets.py).

alice and bob report for the Secretary of Economy (SE, 57 initiatives); charlie for Korea Customs Service. Files
are built here as people make them: the downloaded XLSX filled in with openpyxl, CSVs typed in the three
languages and code pages, and the bad files (macros, encryption, old formats, zip bombs) put together by hand.
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from tracker import actions, sheets
from tracker.choices import ReminderState, ReviewState, Status
from tracker.models import Evidence, Initiative, Profile, Reminder, SheetUpload, StatusUpdate

pytestmark = pytest.mark.django_db

COLUMN = {column.key: index for index, column in enumerate(sheets.COLUMNS, start=1)}
DOWNLOAD = "/worklist/sheet.xlsx"
UPLOAD = "/worklist/upload/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def alice(client, personas, period):
    client.force_login(personas.alice)
    return client


# --- What a user does ----------------------------------------------------------------------------------------


def speak(user, language: str) -> None:
    Profile.objects.filter(user=user).update(language=language)


def download(client, fmt: str = "xlsx") -> bytes:
    response = client.get(f"/worklist/sheet.{fmt}")
    assert response.status_code == 200, response.content[:300]
    return response.content


def workbook(content: bytes):
    return load_workbook(io.BytesIO(content))


def row_of(sheet, code: str) -> int:
    for (cell,) in sheet.iter_rows(min_col=COLUMN["code"], max_col=COLUMN["code"]):
        if cell.value == code:
            return cell.row
    raise AssertionError(f"{code} is not in the sheet")


def fill(sheet, code: str, **values) -> int:
    """Type values into the row of `code` (keys: the columns' keys), as a user does in Excel."""
    row = row_of(sheet, code)
    for key, value in values.items():
        sheet.cell(row=row, column=COLUMN[key], value=value)
    return row


def saved(book) -> bytes:
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def upload(client, content: bytes, name: str = "updates.xlsx", mode: str = "draft"):
    file = io.BytesIO(content)
    file.name = name
    return client.post(UPLOAD, {"file": file, "mode": mode})


def preview(client, content: bytes, name: str = "updates.xlsx", mode: str = "draft"):
    """Upload a file and open its preview: (the preview's response, its plan)."""
    response = upload(client, content, name, mode)
    assert response.status_code == 302, _errors_of(response)
    page = client.get(response["Location"])
    assert page.status_code == 200
    return page, page.context["plan"]


def confirm(client, page, mode: str | None = None):
    plan = page.context["plan"]
    path = page.wsgi_request.path + "confirm/"
    return client.post(path, {"mode": mode or plan.mode, "fingerprint": plan.fingerprint})


def _errors_of(response) -> str:
    if response.status_code == 200 and response.context and "form" in response.context:
        return str(response.context["form"].errors)
    return f"{response.status_code}: {response.content[:500]!r}"


def refusal(client, content: bytes, name: str = "updates.xlsx") -> str:
    """Upload a file that must be refused on the upload page: the reason shown, after checking nothing was kept."""
    before = SheetUpload.objects.count()
    response = upload(client, content, name)
    assert response.status_code == 200, "a bad file must be answered on the upload page"
    assert SheetUpload.objects.count() == before
    errors = response.context["form"].errors["file"]
    assert errors
    assert "The file was not imported, and nothing was saved." in response.content.decode()
    return " ".join(errors)


def csv_bytes(rows: list[list], *, delimiter: str = ",", encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return ("\ufeff" if bom else "").encode(encoding) + buffer.getvalue().encode(encoding)


def headers(language: str, keys=("code", "status", "progress", "summary", "evidence_links", "period")) -> list[str]:
    with translation.override(language):
        return [sheets.header(key) for key in keys]


def status_label(code: str, language: str) -> str:
    with translation.override(language):
        return str(Status(code).label)


def update_of(user, code: str) -> StatusUpdate | None:
    return (
        StatusUpdate.objects.filter(initiative__code=code, agency=user.profile.agency).order_by("-created_at").first()
    )


# --- The download --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "es", "ko"])
def test_the_download_speaks_the_users_language_with_its_drop_down_rules_and_instructions(
    alice, personas, make_update, language
):
    make_update(personas.alice, "A-316", state="draft", status="at_risk", progress=45, summary="Talks resumed.")
    speak(personas.alice, language)
    response = alice.get(DOWNLOAD)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="updates-SE-2026-q4.xlsx"'
    book = workbook(response.content)
    sheet = book.worksheets[0]
    assert book.active == sheet
    with translation.override(language):
        assert sheet.title == sheets.exports.sheet_title(translation.gettext("My updates for this period"), "")
        assert [cell.value for cell in sheet[1]] == [sheets.header(column.key) for column in sheets.COLUMNS]
        labels = [str(status.label) for status in Status]
        instructions_title = sheets.exports.sheet_title(translation.gettext("Instructions"), "")
    if language != "en":  # the catalogs translate these headings and statuses already
        assert sheet.cell(row=1, column=COLUMN["code"]).value != "Code"
        with translation.override("en"):
            assert labels != [str(status.label) for status in Status]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "C2"  # the header, the code and the title stay in view

    # One row per initiative SE owns, the draft's values filled in and editable.
    assert sheet.max_row - 1 == Initiative.objects.owned_by(personas.alice.profile.agency).count() == 57
    row = row_of(sheet, "A-316")
    assert sheet.cell(row=row, column=COLUMN["status"]).value == status_label("at_risk", language)
    assert sheet.cell(row=row, column=COLUMN["progress"]).value == 45
    assert sheet.cell(row=row, column=COLUMN["summary"]).value == "Talks resumed."
    assert sheet.cell(row=row, column=COLUMN["period"]).value == "2026 Q4"
    assert sheet.cell(row=row, column=COLUMN["version"]).value == "v" + update_of(personas.alice, "A-316").version

    # The status drop-down lists the labels in the user's language; progress is a whole number 0-100.
    guide = book[instructions_title]
    validations = {v.type: v for v in sheet.data_validations.dataValidation}
    choose = validations["list"]
    assert f"{get_column_letter(COLUMN['status'])}2" in str(choose.sqref)
    target, cells = choose.formula1.rsplit("!", 1)
    listed = [cell.value for (cell,) in guide[cells.replace("$", "")]]
    assert listed == labels
    assert choose.showErrorMessage and choose.error
    whole = validations["whole"]
    assert (whole.operator, whole.formula1, whole.formula2) == ("between", "0", "100")
    assert f"{get_column_letter(COLUMN['progress'])}2" in str(whole.sqref)

    # Protected without a password: the white cells are unlocked, the grey ones and the hidden version locked.
    assert sheet.protection.sheet and not sheet.protection.password
    assert sheet.protection.autoFilter is False and sheet.protection.formatCells is False
    assert sheet.cell(row=row, column=COLUMN["summary"]).protection.locked is False
    assert sheet.cell(row=row, column=COLUMN["code"]).protection.locked is True
    assert sheet.column_dimensions[get_column_letter(COLUMN["version"])].hidden
    assert guide.cell(row=1, column=1).value and len(list(guide.iter_rows())) > 5


def test_submitted_and_accepted_updates_are_prefilled_and_locked(alice, personas, make_update):
    make_update(personas.alice, "SI-01", state="submitted", summary="Sent to the secretariat.")
    make_update(personas.alice, "A-318", state="accepted", reviewer=personas.sec_mx, progress=60)
    sheet = workbook(download(alice)).worksheets[0]
    for code in ("SI-01", "A-318"):
        row = row_of(sheet, code)
        for key in sheets.EDITABLE:
            cell = sheet.cell(row=row, column=COLUMN[key])
            assert cell.protection.locked is True, f"{code} {key} is editable"
            assert cell.fill.fgColor.rgb.endswith("D9D9D9")
    assert sheet.cell(row=row_of(sheet, "SI-01"), column=COLUMN["summary"]).value == "Sent to the secretariat."
    assert sheet.cell(row=row_of(sheet, "A-318"), column=COLUMN["current_progress"]).value == 60
    # A row with no update has blank, unlocked editable cells.
    row = row_of(sheet, "A-317")
    assert all(sheet.cell(row=row, column=COLUMN[key]).value is None for key in sheets.EDITABLE)
    assert sheet.cell(row=row, column=COLUMN["status"]).protection.locked is False


def test_text_that_looks_like_a_formula_stays_text(alice, personas, make_update):
    make_update(personas.alice, "A-316", state="draft", summary='=HYPERLINK("http://evil.example")')
    content = download(alice)
    sheet = workbook(content).worksheets[0]
    cell = sheet.cell(row=row_of(sheet, "A-316"), column=COLUMN["summary"])
    assert cell.data_type == "s"
    assert "<f>" not in zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    text = download(alice, "csv").decode("utf-8")
    assert "'=HYPERLINK" in text


def test_the_csv_download_has_the_same_columns_and_a_byte_order_mark(alice, personas, make_update):
    make_update(personas.alice, "A-316", state="draft", summary="Línea uno\nLínea dos")
    response = alice.get("/worklist/sheet.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="updates-SE-2026-q4.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [sheets.header(column.key) for column in sheets.COLUMNS]
    draft = next(row for row in rows if row[0] == "A-316")
    assert draft[COLUMN["summary"] - 1] == "Línea uno\nLínea dos"
    assert len(rows) == 58


def test_only_officials_download_and_upload_and_an_unknown_format_is_not_found(client, personas, period):
    client.force_login(personas.sec_mx)
    assert client.get(DOWNLOAD).status_code == 403
    assert client.get(UPLOAD).status_code == 403
    client.force_login(personas.alice)
    assert client.get("/worklist/sheet.doc").status_code == 404
    assert client.get(UPLOAD).status_code == 200


def test_without_an_open_period_there_is_no_file_and_the_user_is_told(client, personas):
    client.force_login(personas.alice)
    response = client.get(DOWNLOAD, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "No reporting period is open" in response.content.decode()
    assert "Content-Disposition" not in response


# --- The round trip ------------------------------------------------------------------------------------------


def test_a_filled_in_sheet_is_previewed_then_saved_as_drafts(alice, personas, make_update):
    make_update(personas.alice, "A-316", state="draft", summary="Talks resumed.")
    actions.save_update(
        update_of(personas.alice, "A-316"), submit=False, links=["https://www.gob.mx/se/old"], user=personas.alice
    )
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    fill(sheet, "A-317", status="On track", progress=40, summary="A work plan was agreed.", next_steps="Sign it.")
    fill(sheet, "A-318", status="At risk", progress="55 %", summary="Waiting for the budget.")
    fill(sheet, "A-316", progress=50.0, evidence_links="https://www.gob.mx/se/new\nhttps://www.gob.mx/se/minutes")
    page, plan = preview(alice, saved(book))

    assert not plan.errors
    assert [(change.code, change.transition) for change in plan.changes] == [
        ("A-316", "draft_updated"),
        ("A-317", "new_draft"),
        ("A-318", "new_draft"),
    ]
    text = page.content.decode()
    assert "3 drafts will be saved." in text
    assert "Save 3 drafts" in text
    draft = next(change for change in plan.changes if change.code == "A-316")
    assert [(f.header, f.before, f.after) for f in draft.fields] == [("Progress (%)", "30 %", "50 %")]
    assert draft.links_added == ["https://www.gob.mx/se/new", "https://www.gob.mx/se/minutes"]
    assert draft.links_removed == ["https://www.gob.mx/se/old"]
    assert f"Row {draft.row}" in text and "https://www.gob.mx/se/old" in text
    assert StatusUpdate.objects.count() == 1, "the preview saved something"

    response = confirm(alice, page)
    assert response.status_code == 302 and response["Location"] == "/"
    assert "3 drafts saved." in alice.get("/").content.decode()
    new = update_of(personas.alice, "A-317")
    assert (new.review_state, new.status, new.progress, new.summary, new.next_steps, new.author) == (
        ReviewState.DRAFT,
        "on_track",
        40,
        "A work plan was agreed.",
        "Sign it.",
        personas.alice,
    )
    assert update_of(personas.alice, "A-318").progress == 55
    changed = update_of(personas.alice, "A-316")
    assert changed.progress == 50 and changed.summary == "Talks resumed."
    assert sorted(changed.evidence.values_list("url", flat=True)) == [
        "https://www.gob.mx/se/minutes",
        "https://www.gob.mx/se/new",
    ]
    assert new.history.count() == 1 and changed.history.count() == 3  # created, link added... and the import
    upload_row = SheetUpload.objects.get()
    assert (upload_row.drafts_saved, upload_row.submitted, upload_row.mode) == (3, 0, "draft")
    assert upload_row.applied_at is not None
    assert upload_row.file.name.startswith("imports/") and upload_row.file.name.endswith(str(upload_row.pk))


def test_submitting_through_the_sheet_submits_records_history_and_stops_the_reminders(alice, personas, make_update):
    agency = personas.alice.profile.agency
    make_update(personas.alice, "A-316", state="draft")
    for code in ("A-316", "A-317"):
        Reminder.objects.create(
            key=f"due:{code}",
            kind="due",
            recipient=personas.alice,
            period=update_of(personas.alice, "A-316").period,
            initiative=Initiative.objects.get(code=code),
            agency=agency,
            planned_at="2099-01-01T09:00Z",
        )
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-317", status="Completed", progress=100, summary="Signed.")
    page, plan = preview(alice, saved(book), mode="submit")
    transitions = {change.code: change.transition for change in plan.changes}
    # The untouched draft is submitted too: that is what "submit for review" means for a draft in the file.
    assert transitions == {"A-316": "submitted_unchanged", "A-317": "submitted"}
    assert "2 updates will be submitted for review." in page.content.decode()

    response = confirm(alice, page)
    assert response["Location"] == "/"
    home = alice.get("/").content.decode()
    assert "2 updates submitted for review; reminders stop for them." in home
    for code in ("A-316", "A-317"):
        update = update_of(personas.alice, code)
        assert update.review_state == ReviewState.SUBMITTED and update.submitted_at
        assert update.history.filter(review_state=ReviewState.SUBMITTED).exists()
        assert Reminder.objects.get(key=f"due:{code}").state == ReminderState.CANCELLED
    client = alice
    client.force_login(personas.sec_mx)
    queue = client.get("/review/").content.decode()
    assert "A-316" in queue and "A-317" in queue


def test_the_preview_offers_the_other_mode_and_shows_what_it_would_do(alice, personas, make_update):
    make_update(personas.alice, "A-317", state="returned", reviewer=personas.sec_mx, summary="First try.")
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-317", summary="With the figures.")
    page, plan = preview(alice, saved(book))
    assert plan.changes[0].transition == "returned_updated"
    assert '?mode=submit"' in page.content.decode()
    switched = alice.get(page.wsgi_request.path + "?mode=submit")
    assert switched.context["plan"].changes[0].transition == "resubmitted"
    assert "Submit 1 update for review" in switched.content.decode()
    confirm(alice, switched)
    assert update_of(personas.alice, "A-317").review_state == ReviewState.SUBMITTED


def test_one_bad_row_among_fifty_saves_nothing_and_names_its_row_and_column(alice, personas):
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    codes = [sheet.cell(row=row, column=COLUMN["code"]).value for row in range(2, 52)]
    for code in codes:
        fill(sheet, code, status="On track", progress=20, summary=f"Progress on {code}.")
    bad = fill(sheet, codes[33], progress=150)
    page, plan = preview(alice, saved(book))
    assert len(plan.changes) == 49
    assert [(problem.row, problem.column) for problem in plan.errors] == [(bad, "Progress (%)")]
    text = page.content.decode()
    assert "The file has 1 error: nothing will be saved." in text
    assert f"<td>{bad}</td><td>Progress (%)</td><td>Progress is a percentage between 0 and 100.</td>" in text
    assert 'name="fingerprint"' not in text  # no confirm button
    response = confirm(alice, page)  # posted anyway
    assert StatusUpdate.objects.count() == 0
    assert "the file has errors" in alice.get(response["Location"]).content.decode()


def test_the_same_file_twice_changes_nothing_and_says_when_it_was_imported(alice, personas):
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-317", status="On track", progress=40, summary="A work plan was agreed.")
    content = saved(book)
    page, _plan = preview(alice, content)
    confirm(alice, page)
    saved_once = list(StatusUpdate.objects.values_list("pk", "updated_at"))
    history = StatusUpdate.history.count()

    page, plan = preview(alice, content)
    assert not plan.changes and not plan.errors
    assert [left.reason for left in plan.left if left.code == "A-317"] == ["unchanged"]
    text = page.content.decode()
    assert "Nothing would change: every row matches what is saved." in text
    assert "This file was imported on" in text
    assert 'name="fingerprint"' not in text
    assert list(StatusUpdate.objects.values_list("pk", "updated_at")) == saved_once
    assert StatusUpdate.history.count() == history


def test_a_second_confirmation_saves_nothing_more(alice, personas):
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-317", status="On track", progress=40, summary="Agreed.")
    page, _plan = preview(alice, saved(book))
    confirm(alice, page)
    history = StatusUpdate.history.count()
    response = confirm(alice, page)  # a double click, or the back button
    assert StatusUpdate.history.count() == history
    assert "Nothing was saved" in alice.get(response["Location"]).content.decode()


def test_a_change_in_the_tracker_after_the_preview_shows_the_new_preview_and_saves_nothing(
    alice, personas, make_update
):
    draft = make_update(personas.alice, "A-316", state="draft", summary="Talks resumed.")
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-316", summary="Talks concluded.")
    fill(book.worksheets[0], "A-317", status="On track", progress=10, summary="Started.")
    page, plan = preview(alice, saved(book))
    assert len(plan.changes) == 2
    draft.summary, draft.author = "Bob's version.", personas.bob  # as the update form saves it
    actions.save_update(draft, submit=False, user=personas.bob)
    response = confirm(alice, page)
    assert update_of(personas.alice, "A-317") is None
    assert update_of(personas.alice, "A-316").summary == "Bob's version."
    page = alice.get(response["Location"])
    text = page.content.decode()
    assert "Something changed since you saw the preview" in text
    assert "was changed in the tracker by Bob" in text


def test_a_failure_while_saving_rolls_back_every_row(alice, personas, monkeypatch):
    book = workbook(download(alice))
    for code in ("A-316", "A-317", "A-318"):
        fill(book.worksheets[0], code, status="On track", progress=10, summary="Started.")
    page, _plan = preview(alice, saved(book))
    real = actions.save_update
    calls = []

    def fails_on_the_third(update, **kwargs):
        calls.append(update)
        if len(calls) == 3:
            raise actions.StaleUpdate("This update has already been submitted and can no longer be changed.")
        return real(update, **kwargs)

    monkeypatch.setattr(actions, "save_update", fails_on_the_third)
    response = confirm(alice, page)
    assert len(calls) == 3
    assert StatusUpdate.objects.count() == 0 and StatusUpdate.history.count() == 0
    assert SheetUpload.objects.get().applied_at is None
    text = alice.get(response["Location"]).content.decode()
    assert "Nothing was saved: row" in text and "could not be saved" in text


# --- Errors, row by row --------------------------------------------------------------------------------------


def test_codes_that_are_unknown_twice_in_the_file_or_not_ours_are_errors(alice, personas):
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    first = fill(sheet, "A-317", status="On track", progress=10, summary="One.")
    second = sheet.max_row + 1
    for key, value in {"code": "A-317", "status": "On track", "progress": 20, "summary": "Two."}.items():
        sheet.cell(row=second, column=COLUMN[key], value=value)
    unknown, foreign = second + 1, second + 2
    for row, code in ((unknown, "A-999"), (foreign, "A-314")):  # A-314 is SHCP's and KCS's, not SE's
        for key, value in {"code": code, "status": "On track", "progress": 20, "summary": "Three."}.items():
            sheet.cell(row=row, column=COLUMN[key], value=value)
    _page, plan = preview(alice, saved(book))
    found = {(problem.row, problem.column, problem.message) for problem in plan.errors}
    assert found == {
        (first, "Code", f"The code A-317 is also on row {second}: keep one row per initiative."),
        (second, "Code", f"The code A-317 is also on row {first}: keep one row per initiative."),
        (unknown, "Code", "No initiative has the code “A-999”."),
        (foreign, "Code", "Your agency does not own A-314, so you may not report on it."),
    }


def test_another_periods_file_is_refused_row_by_row(alice, personas):
    book = workbook(download(alice))
    row = fill(book.worksheets[0], "A-317", status="On track", progress=10, summary="One.", period="2026 Q3")
    _page, plan = preview(alice, saved(book))
    assert [(p.row, p.column, p.message) for p in plan.errors] == [
        (row, "Period", "This file is for 2026 Q3; download this period's file (2026 Q4).")
    ]


def test_a_submitted_or_accepted_update_may_not_change_but_may_stay_the_same(alice, personas, make_update):
    make_update(personas.alice, "SI-01", state="submitted", summary="Sent.")
    make_update(personas.alice, "A-318", state="accepted", reviewer=personas.sec_mx)
    book = workbook(download(alice))
    _page, plan = preview(alice, saved(book))
    assert not plan.errors
    assert {left.code: left.reason for left in plan.left if left.code in ("SI-01", "A-318")} == {
        "SI-01": "unchanged",
        "A-318": "unchanged",
    }
    sheet = book.worksheets[0]
    submitted = fill(sheet, "SI-01", summary="Sent, and changed afterwards.")
    accepted = fill(sheet, "A-318", progress=99)
    _page, plan = preview(alice, saved(book))
    assert [(p.row, p.column) for p in plan.errors] == [(submitted, "Summary of progress"), (accepted, "Progress (%)")]
    assert "is submitted and waits for review" in plan.errors[0].message
    assert "is accepted" in plan.errors[1].message


def test_a_draft_a_colleague_saved_after_the_download_is_a_stale_edit(alice, client, personas, make_update):
    draft = make_update(personas.alice, "A-316", state="draft", summary="Talks resumed.")
    book = workbook(download(alice))
    from django.test import Client

    bob = Client()
    bob.force_login(personas.bob)
    response = bob.post(
        f"/updates/{draft.pk}/edit/",
        {"status": "on_track", "progress": "35", "summary": "Bob's version.", "next_steps": "", "blockers": ""}
        | {"evidence_links": "", "draft": "1", "seen_version": draft.version},
    )
    assert response.status_code == 302
    row = fill(book.worksheets[0], "A-316", summary="Alice's version.")
    _page, plan = preview(alice, saved(book))
    assert len(plan.errors) == 1
    assert plan.errors[0].row == row
    assert "A-316 was changed in the tracker by Bob" in plan.errors[0].message
    assert "after you downloaded the file; download the file again" in plan.errors[0].message
    # The same file with the row as Bob left it is no error: nothing of his would be lost.
    fill(book.worksheets[0], "A-316", summary="Bob's version.", progress=35)
    _page, plan = preview(alice, saved(book))
    assert not plan.errors and not plan.changes


def test_the_forms_rules_give_the_row_errors(alice, personas):
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    rows = {
        "no status": fill(sheet, "A-316", progress=10, summary="Started."),
        "no summary": fill(sheet, "A-317", status="On track", progress=10),
        "too much": fill(sheet, "A-318", status="On track", progress=101, summary="Started."),
        "not a link": fill(sheet, "SI-01", status="On track", progress=10, summary="S.", evidence_links="minutes.pdf"),
        "too long": fill(
            sheet, "A-003", status="On track", progress=1, summary="S.", evidence_links="https://a.example/" + "x" * 500
        ),
        "odd status": fill(sheet, "A-005", status="Finished", progress=10, summary="S."),
        "odd progress": fill(sheet, "A-006", status="On track", progress="about half", summary="S."),
        "thousands": fill(sheet, "A-007", status="On track", progress="1,000", summary="S."),
    }
    _page, plan = preview(alice, saved(book))
    found = {(p.row, p.column): p.message for p in plan.errors}
    assert found == {
        (rows["no status"], "Status"): "This field is required.",
        (rows["no summary"], "Summary of progress"): "This field is required.",
        (rows["too much"], "Progress (%)"): "Progress is a percentage between 0 and 100.",
        (rows["not a link"], "Evidence links"): (
            "“minutes.pdf” is not a web address. Give each link in full, starting with https://."
        ),
        (rows["too long"], "Evidence links"): "Ensure this value has at most 500 characters (it has 518).",
        (rows["odd status"], "Status"): (
            "“Finished” is not a status. Use one of: Not started, On track, At risk, Blocked, Completed, Discontinued."
        ),
        (rows["odd progress"], "Progress (%)"): "“about half” is not a whole number from 0 to 100 (for example 40).",
        (rows["thousands"], "Progress (%)"): "“1,000” is not a whole number from 0 to 100 (for example 40).",
    }
    assert not plan.changes or all(change.row not in rows.values() for change in plan.changes)


def test_a_formula_is_refused_with_its_row_and_column(alice, personas):
    book = workbook(download(alice))
    row = fill(book.worksheets[0], "A-317", status="On track", progress="=20*2", summary="Started.")
    page, plan = preview(alice, saved(book))
    assert [(p.row, p.column) for p in plan.errors] == [(row, "Progress (%)")]
    assert "This cell holds a formula (=20*2); formulas are refused, not calculated. Type the value itself." == (
        plan.errors[0].message
    )


def test_merged_cells_are_refused_naming_the_range(alice, personas):
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    sheet.protection.sheet = False
    row = row_of(sheet, "A-317")
    sheet.merge_cells(start_row=row, start_column=COLUMN["summary"], end_row=row, end_column=COLUMN["next_steps"])
    message = refusal(alice, saved(book))
    assert f"The cells J{row}:K{row} are merged" in message


def test_changes_from_hidden_rows_are_marked_and_the_hidden_rows_named(alice, personas):
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    hidden = fill(sheet, "A-317", status="On track", progress=10, summary="Started.")
    sheet.row_dimensions[hidden].hidden = True
    also_hidden = row_of(sheet, "A-318")
    sheet.row_dimensions[also_hidden].hidden = True
    fill(sheet, "A-316", status="On track", progress=10, summary="Visible.")
    page, plan = preview(alice, saved(book))
    assert plan.hidden_rows == [hidden, also_hidden]
    assert [(change.code, change.hidden) for change in plan.changes] == [("A-316", False), ("A-317", True)]
    text = page.content.decode()
    assert "These rows were hidden in the file" in text
    assert "1 change below comes from a hidden row." in text
    assert "From a hidden row" in text


def test_missing_and_unknown_columns_are_said_and_columns_may_come_in_any_order(alice, personas, make_update):
    make_update(personas.alice, "A-316", state="draft", summary="Talks resumed.", blockers="No budget.")
    version = "v" + update_of(personas.alice, "A-316").version
    content = csv_bytes(
        [
            ["Our notes", "Progress (%)", "Code", "Status", "Version"],
            ["call Ana", "60", "A-316", "On track", version],
            ["", "20", "A-317", "On track", ""],
        ]
    )
    page, plan = preview(alice, content, name="mine.csv")
    assert plan.unknown_columns == ["Our notes"]
    assert "Summary of progress" in plan.missing_columns and "Blockers" in plan.missing_columns
    text = page.content.decode()
    assert "These columns are not the spreadsheet's and were ignored: Our notes" in text
    assert "The file has no “Blockers” column: that field is left as it is on every row." in text
    draft = next(change for change in plan.changes if change.code == "A-316")
    assert [(f.header, f.after) for f in draft.fields] == [("Progress (%)", "60 %")]
    # A new update needs its summary: the missing column does not excuse it.
    assert [(p.column, p.message) for p in plan.errors] == [("Summary of progress", "This field is required.")]


def test_a_file_without_the_code_column_is_refused(alice):
    content = csv_bytes([["Status", "Progress (%)", "Summary of progress"], ["On track", "10", "Started."]])
    assert "The file has no Code column" in refusal(alice, content, "updates.csv")


def test_progress_and_status_are_read_as_people_type_them(alice, personas):
    rows = [["Code", "Status", "Progress (%)", "Summary of progress"]]
    typed = [("A-316", "ON TRACK", "40"), ("A-317", "on_track", "40.0"), ("A-318", " at risk ", "40 %")]
    typed += [("SI-01", "Blocked", "40,0"), ("A-003", "completed", " 40%")]
    rows += [[code, status, progress, "Started."] for code, status, progress in typed]
    _page, plan = preview(alice, csv_bytes(rows), name="typed.csv")
    assert not plan.errors
    assert {change.code: (change.values["status"], change.values["progress"]) for change in plan.changes} == {
        "A-316": ("on_track", 40),
        "A-317": ("on_track", 40),
        "A-318": ("at_risk", 40),
        "SI-01": ("blocked", 40),
        "A-003": ("completed", 40),
    }


def test_a_percentage_formatted_cell_is_read_as_the_percentage_shown(alice):
    book = workbook(download(alice))
    sheet = book.worksheets[0]
    row = fill(sheet, "A-317", status="On track", progress=0.4, summary="Started.")
    sheet.cell(row=row, column=COLUMN["progress"]).number_format = "0%"
    _page, plan = preview(alice, saved(book))
    assert plan.changes[0].values["progress"] == 40


def test_the_apostrophe_that_keeps_text_from_running_as_a_formula_is_taken_off(alice, personas):
    content = csv_bytes(
        [["Code", "Status", "Progress (%)", "Summary of progress"], ["A-317", "On track", "5", "'=ours"]]
    )
    page, _plan = preview(alice, content, name="x.csv")
    confirm(alice, page)
    assert update_of(personas.alice, "A-317").summary == "=ours"


# --- Files as people make them -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "bom"), [(",", True), (",", False), (";", True), (";", False), ("\t", False)], ids=str
)
def test_csv_with_or_without_a_byte_order_mark_and_any_separator(alice, personas, delimiter, bom):
    content = csv_bytes(
        [
            headers("en"),
            ["A-317", "On track", "25", "Un plan de trabajo, acordado.", "https://www.gob.mx/a", "2026 Q4"],
        ],
        delimiter=delimiter,
        bom=bom,
    )
    page, plan = preview(alice, content, name="updates.csv")
    assert not plan.errors
    assert plan.changes[0].values == {
        "status": "on_track",
        "progress": 25,
        "summary": "Un plan de trabajo, acordado.",
        "next_steps": "",
        "blockers": "",
    }
    assert plan.changes[0].links_added == ["https://www.gob.mx/a"]
    confirm(alice, page)
    assert list(update_of(personas.alice, "A-317").evidence.values_list("url", flat=True)) == ["https://www.gob.mx/a"]


@pytest.mark.parametrize(
    ("language", "encoding"), [("es", "utf-8"), ("es", "cp1252"), ("ko", "utf-8"), ("ko", "cp949")], ids=str
)
def test_spanish_and_korean_headings_and_statuses_in_utf8_and_legacy_code_pages(alice, language, encoding):
    summary = {"es": "Se firmó el plan de trabajo.", "ko": "작업 계획에 서명했습니다."}[language]
    content = csv_bytes(
        [
            headers(language),
            ["A-317", status_label("at_risk", language), "25", summary, "", "2026 Q4"],
            ["A-318", status_label("completed", language).upper(), "100 %", summary, "", "2026 Q4"],
        ],
        delimiter=";",
        encoding=encoding,
        bom=encoding == "utf-8",
    )
    assert headers(language)[0] != "Code" and status_label("at_risk", language) != "At risk"
    _page, plan = preview(alice, content, name="actualizaciones.csv")
    assert not plan.errors
    assert {c.code: (c.values["status"], c.values["progress"], c.values["summary"]) for c in plan.changes} == {
        "A-317": ("at_risk", 25, summary),
        "A-318": ("completed", 100, summary),
    }


def test_a_legacy_code_page_is_told_by_the_text_when_the_headings_are_english(alice):
    korean = "작업 계획에 서명했습니다."
    rows = [headers("en"), ["A-317", "On track", "25", korean, "", "2026 Q4"]]
    _page, plan = preview(alice, csv_bytes(rows, encoding="cp949"), name="x.csv")
    assert plan.changes[0].values["summary"] == korean
    spanish = "Se firmó el acuerdo con la Secretaría."
    rows = [headers("en"), ["A-317", "On track", "25", spanish, "", "2026 Q4"]]
    _page, plan = preview(alice, csv_bytes(rows, encoding="cp1252"), name="x.csv")
    assert plan.changes[0].values["summary"] == spanish


def test_a_header_below_a_title_row_is_found_and_row_numbers_are_the_files(alice):
    content = csv_bytes(
        [["SE updates, 2026 Q4"], [], headers("en"), ["A-317", "On track", "25", "Started.", "", "2026 Q4"]]
    )
    _page, plan = preview(alice, content, name="x.csv")
    assert plan.changes[0].row == 4


# --- Bad files -----------------------------------------------------------------------------------------------


def _with_zip_members(content: bytes, replace: dict[str, bytes], add: dict[str, bytes] = ()) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, replace.get(item.filename, source.read(item.filename)))
        for name, data in dict(add).items():
            target.writestr(name, data)
    return output.getvalue()


def ole2(names: list[str]) -> bytes:
    """A minimal OLE2 compound file ([MS-CFB], version 3): a header, one FAT sector, one directory sector with a
    root entry and one stream entry per name (the streams themselves empty)."""
    free, end, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = sheets.OLE2_MAGIC
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)  # versions, byte order, sector shifts
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # the directory starts at sector 1
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<III", header, 60, end, 0, end)  # no mini FAT, no DIFAT sectors
    struct.pack_into("<109I", header, 76, 0, *([free] * 108))  # the FAT is sector 0
    fat = struct.pack("<128I", fat_sector, end, *([free] * 126))
    directory = bytearray(512)
    for index, (name, kind) in enumerate([("Root Entry", 5)] + [(name, 2) for name in names][:3]):
        entry = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        entry[: len(encoded)] = encoded
        struct.pack_into("<HBB", entry, 64, len(encoded), kind, 1)
        struct.pack_into("<III", entry, 68, free, index + 2 if index + 1 < len(names) + 1 else free, free)
        if kind == 5:
            struct.pack_into("<I", entry, 76, 1 if names else free)
        struct.pack_into("<II", entry, 116, end, 0)
        directory[index * 128 : (index + 1) * 128] = entry
    return bytes(header) + fat + bytes(directory)


def test_files_that_are_not_spreadsheets_are_refused_with_the_reason(alice):
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    assert "is not a spreadsheet the tracker can read" in refusal(alice, pdf, "updates.xlsx")
    assert "No row of this file has the spreadsheet's column headings" in refusal(
        alice, b"Dear colleagues,\nplease find our updates attached.\n", "updates.csv"
    )
    assert "The file is empty." in refusal(alice, b"   ", "updates.csv")
    document = io.BytesIO()
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("[Content_Types].xml", '<Types><Override ContentType="wordprocessingml.document"/></Types>')
        archive.writestr("word/document.xml", "<w:document/>")
    assert "is not a spreadsheet the tracker can read" in refusal(alice, document.getvalue(), "updates.docx")
    assert "is not a spreadsheet" in refusal(alice, b"PK\x03\x04 not really a zip", "updates.xlsx")


def test_macro_enabled_and_binary_workbooks_are_refused(alice):
    content = download(alice)
    types = zipfile.ZipFile(io.BytesIO(content)).read("[Content_Types].xml")
    macro = types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    assert macro != types
    xlsm = _with_zip_members(content, {"[Content_Types].xml": macro}, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0"})
    assert "This workbook contains macros (.xlsm)" in refusal(alice, xlsm, "updates.xlsm")
    binary = types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.binary.macroEnabled.main",
    )
    xlsb = _with_zip_members(content, {"[Content_Types].xml": binary}, {"xl/worksheets/sheet1.bin": b"\x00\x01"})
    assert "Excel binary workbook (.xlsb)" in refusal(alice, xlsb, "updates.xlsb")


def test_encrypted_old_and_opendocument_files_are_refused(alice):
    encrypted = ole2(["EncryptionInfo", "EncryptedPackage"])
    assert sheets._ole2_names(encrypted) == {"Root Entry", "EncryptionInfo", "EncryptedPackage"}
    assert "protected with a password (encrypted)" in refusal(alice, encrypted, "updates.xlsx")
    assert "This is an old Excel file (.xls)" in refusal(alice, ole2(["Workbook"]), "updates.xls")
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    assert "OpenDocument spreadsheet (.ods)" in refusal(alice, ods.getvalue(), "updates.ods")


def test_files_too_large_too_long_or_unpacking_too_far_are_refused(alice, personas):
    big = csv_bytes([headers("en")] + [["A-317", "On track", "1", "x" * 1000, "", "2026 Q4"]] * 5300)
    assert len(big) > 5 * 1024 * 1024
    assert "The file is 5.2\xa0MB; the spreadsheet can be at most 5 MB." in refusal(alice, big, "big.csv")

    long = csv_bytes([headers("en")] + [[f"X-{n}", "", "", "", "", ""] for n in range(2001)])
    assert "The file has 2,001 rows of data; at most 2,000 can be imported at once" in refusal(alice, long, "l.csv")
    book = Workbook()
    book.active.append(headers("en"))
    for n in range(2001):
        book.active.append([f"X-{n}"])
    assert "2,001 rows of data" in refusal(alice, saved(book), "long.xlsx")

    # A member that claims little and unpacks to 70 MB of nothing (it compresses to a few kB).
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        source = zipfile.ZipFile(io.BytesIO(download(alice)))
        for item in source.infolist():
            archive.writestr(item.filename, source.read(item.filename))
        archive.writestr("xl/media/padding.bin", b"\0" * (70 * 1024 * 1024))
    assert len(bomb.getvalue()) < 5 * 1024 * 1024
    assert "unpacks to far more than the period's spreadsheet needs" in refusal(alice, bomb.getvalue(), "b.xlsx")


# --- Who may see what ----------------------------------------------------------------------------------------


def test_only_the_uploader_sees_the_preview(alice, personas):
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-317", status="On track", progress=10, summary="Started.")
    page, _plan = preview(alice, saved(book))
    path = page.wsgi_request.path
    from django.test import Client

    for person in (personas.bob, personas.charlie, personas.sec_mx, personas.admin):
        other = Client()
        other.force_login(person)
        assert other.get(path).status_code == 404, person
        assert other.post(path + "confirm/", {"mode": "draft", "fingerprint": "x"}).status_code == 404
    assert StatusUpdate.objects.count() == 0


# --- Queries -------------------------------------------------------------------------------------------------


def _sheet_of(client, personas, make_update, rows: int) -> bytes:
    """A downloaded sheet with `rows` rows filled in, a third of them drafts with evidence links."""
    codes = list(Initiative.objects.owned_by(personas.alice.profile.agency).values_list("code", flat=True)[:rows])
    for code in codes[::3]:
        if update_of(personas.alice, code):
            continue
        update = make_update(personas.alice, code, state="draft")
        actions.save_update(update, submit=False, links=["https://www.gob.mx/a"], user=personas.alice)
    book = workbook(download(client))
    for code in codes:
        fill(book.worksheets[0], code, status="At risk", progress=15, summary=f"Row for {code}.")
    return saved(book)


def test_the_previews_queries_do_not_grow_with_the_rows(alice, personas, make_update):
    small = _sheet_of(alice, personas, make_update, 10)
    large = _sheet_of(alice, personas, make_update, 50)
    counts = []
    for content in (small, large):
        table = sheets.read_table(content)
        period = StatusUpdate.objects.first().period
        with CaptureQueriesContext(connection) as queries:
            plan = sheets.make_plan(table, user=personas.alice, period=period, mode="draft", sha256="x")
        assert not plan.errors
        counts.append(len(queries))
    assert len(plan.changes) == 50
    # 1 the initiatives by code, 2 the agency's ownerships of them, 3 this period's updates on them (with their
    # authors), 4 those updates' evidence links, 5 an earlier import of the same file.
    assert counts == [5, 5], counts


def test_the_preview_pages_queries_do_not_grow_with_the_rows(alice, personas, make_update):
    counts = []
    for rows in (10, 50):
        response = upload(alice, _sheet_of(alice, personas, make_update, rows))
        with CaptureQueriesContext(connection) as queries:
            page = alice.get(response["Location"])
        assert len(page.context["plan"].changes) == rows
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_forms_validation_of_the_rows_runs_no_query(personas, period):
    initiative = Initiative.objects.get(code="A-317")
    agency = personas.alice.profile.agency
    with CaptureQueriesContext(connection) as queries:
        for progress in range(20):
            update = StatusUpdate(initiative=initiative, agency=agency, period=period, author=personas.alice)
            form = sheets.SheetRowForm(
                {"status": "on_track", "progress": str(progress), "summary": "S.", "evidence_links": ""},
                instance=update,
            )
            assert form.is_valid(), form.errors
    assert len(queries) == 0, [query["sql"] for query in queries]


def test_every_heading_and_status_name_means_one_thing_in_every_language():
    names = {}
    for language in sheets.LANGUAGES:
        with translation.override(language):
            for column in sheets.COLUMNS:
                for name in (column.header, *column.aliases):
                    key = sheets.normal(name)
                    assert names.setdefault(key, column.key) == column.key, (language, name)
    statuses = {}
    for language in sheets.LANGUAGES:
        with translation.override(language):
            for status in Status:
                assert statuses.setdefault(sheets.normal(status.label), status.value) == status.value


def test_evidence_files_are_kept_when_links_change(alice, personas, make_update, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    draft = make_update(personas.alice, "A-316", state="draft")
    pdf = SimpleUploadedFile("minutes.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    actions.save_update(draft, submit=False, files=[(pdf, "application/pdf")], user=personas.alice)
    book = workbook(download(alice))
    fill(book.worksheets[0], "A-316", evidence_links="https://www.gob.mx/b")
    page, _plan = preview(alice, saved(book))
    confirm(alice, page)
    evidence = Evidence.objects.filter(update=update_of(personas.alice, "A-316"))
    assert sorted((item.url, item.original_name) for item in evidence) == [
        ("", "minutes.pdf"),
        ("https://www.gob.mx/b", ""),
    ]
