"""The period's spreadsheet survives LibreOffice: downloaded by a Spanish- and a Korean-speaking official, filled in
with openpyxl, opened and saved by LibreOffice headless (Debian's libreoffice-calc-nogui, as `.ci/run` installs
it), then uploaded: the preview finds exactly the changes made and no error, and the import applies them.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.utils import translation

from tests.conftest import need_service
from tests.test_sheets import COLUMN, confirm, download, fill, preview, row_of, saved, speak, update_of, workbook
from tracker import actions
from tracker.choices import ReviewState, Status

pytestmark = [pytest.mark.django_db, pytest.mark.once]  # LibreOffice does not depend on the database engine


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def through_libreoffice(content: bytes, workdir: Path) -> bytes:
    """Open the file in LibreOffice and save it as .xlsx again, as someone does who edits it in Calc."""
    soffice = shutil.which("soffice")
    if soffice is None:
        need_service("LibreOffice", "soffice is not on PATH; install Debian's libreoffice-calc-nogui")
    source, out = workdir / "in" / "updates.xlsx", workdir / "out"
    source.parent.mkdir(parents=True)
    source.write_bytes(content)
    command = [
        soffice,
        "--headless",
        f"-env:UserInstallation=file://{workdir}/lo-profile",  # its own profile: parallel runs do not block
        "--convert-to",
        "xlsx",
        "--outdir",
        str(out),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    converted = out / "updates.xlsx"
    assert converted.exists(), f"LibreOffice did not convert the file: {result.stdout} {result.stderr}"
    return converted.read_bytes()


def label(code: str, language: str) -> str:
    with translation.override(language):
        return str(Status(code).label)


@pytest.mark.parametrize(
    ("language", "summary", "next_steps"),
    [
        ("es", "Se firmó el plan de trabajo con la Secretaría; faltan las cifras.", "Publicar el acuerdo."),
        ("ko", "표준 기관 간 작업 계획에 서명했습니다.", "협정문을 공개합니다."),
    ],
)
def test_a_sheet_saved_by_libreoffice_imports_again(
    client, personas, period, make_update, tmp_path, language, summary, next_steps
):
    make_update(personas.alice, "A-316", state="draft", summary="Talks resumed.", progress=20)
    actions.save_update(
        update_of(personas.alice, "A-316"), submit=False, links=["https://www.gob.mx/se/old"], user=personas.alice
    )
    make_update(personas.alice, "SI-01", state="submitted", summary="Sent to the secretariat.")
    speak(personas.alice, language)
    client.force_login(personas.alice)
    book = workbook(download(client))
    sheet = book.worksheets[0]
    fill(sheet, "A-317", status=label("on_track", language), progress=40, summary=summary, next_steps=next_steps)
    fill(sheet, "A-318", status=label("at_risk", language), progress=15, summary=summary, blockers="—")
    fill(sheet, "A-316", progress=35, evidence_links="https://www.gob.mx/se/new\nhttps://www.gob.mx/se/minutes")

    content = through_libreoffice(saved(book), tmp_path)
    app = zipfile.ZipFile(io.BytesIO(content)).read("docProps/app.xml").decode()
    assert "LibreOffice" in app, "the file was not rewritten by LibreOffice"
    reopened = workbook(content).worksheets[0]
    assert reopened.cell(row=row_of(reopened, "A-317"), column=COLUMN["summary"]).value == summary

    page, plan = preview(client, content, name="actualizaciones.xlsx", mode="submit")
    assert not plan.errors, [(problem.row, problem.column, problem.message) for problem in plan.errors]
    assert not plan.unknown_columns and not plan.missing_columns and not plan.hidden_rows
    changes = {change.code: change for change in plan.changes}
    assert {code: change.transition for code, change in changes.items()} == {
        "A-316": "submitted",
        "A-317": "submitted",
        "A-318": "submitted",
    }
    with translation.override(language):
        assert [(f.before, f.after) for f in changes["A-316"].fields] == [("20 %", "35 %")]
    assert changes["A-316"].links_added == ["https://www.gob.mx/se/new", "https://www.gob.mx/se/minutes"]
    assert changes["A-316"].links_removed == ["https://www.gob.mx/se/old"]
    assert changes["A-317"].values == {
        "status": "on_track",
        "progress": 40,
        "summary": summary,
        "next_steps": next_steps,
        "blockers": "",
    }
    assert {left.code: left.reason for left in plan.left}["SI-01"] == "unchanged"

    response = confirm(client, page)
    assert response.status_code == 302 and response["Location"] == "/"
    for code in ("A-316", "A-317", "A-318"):
        assert update_of(personas.alice, code).review_state == ReviewState.SUBMITTED
    assert update_of(personas.alice, "A-318").summary == summary
    assert sorted(update_of(personas.alice, "A-316").evidence.values_list("url", flat=True)) == [
        "https://www.gob.mx/se/minutes",
        "https://www.gob.mx/se/new",
    ]
