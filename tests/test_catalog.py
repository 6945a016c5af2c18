"""The report as data: the catalog in the database matches the report, and loading it is safe to repeat."""

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from tracker.catalog import export_catalog
from tracker.catalog_files import check_catalog, read_catalog
from tracker.choices import Country, InitiativeKind, OwnershipRole, OwnershipSource
from tracker.models import Agency, Initiative, MatrixIssue, Mechanism, Ownership
from tracker.report_text import REPORT_PATH, ReportText

pytestmark = pytest.mark.django_db


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_quote_is_the_reports_own_words():
    raw = REPORT_PATH.read_text(encoding="utf-8")
    # Two readings of the text: line-break hyphens dropped (broken words) or kept (broken compounds).
    joined = _flat(re.sub(r"-[ \t]*\n\s*", "", raw))
    kept = _flat(re.sub(r"-[ \t]*\n\s*", "-", raw))
    report = ReportText(raw)
    for initiative in Initiative.objects.all():
        quote = initiative.quote
        assert quote == _flat(quote), initiative.code
        found = quote in joined or quote in kept or report.locate(quote) is not None
        assert found, f"{initiative.code}: quote not in the report: {quote[:70]!r}"


def test_quote_locator_joins_broken_words_and_keeps_broken_compounds():
    report = ReportText("A compre-\nhensive and High-\nlevel\n  review is needed.\nNext line.")
    assert report.locate("A comprehensive and High-level review is needed.").first_line == 1
    assert report.locate("review is needed. Next line.").last_line == 5
    assert report.locate("A comprehensive and thorough review") is None


def test_the_catalog_files_are_sound():
    assert check_catalog(read_catalog()) == []


def test_the_catalog_covers_the_whole_report():
    assert Initiative.objects.count() > 100
    sections = set(Initiative.objects.values_list("section", flat=True))
    for study in ("I. ", "II. ", "III. ", "IV. "):
        assert any(section.startswith(f"Background Studies {study}") for section in sections), study
    # Paragraph 38 asks for eleven strategic initiatives, 39 for the launch and 40 for two conferences.
    assert Initiative.objects.filter(paragraph="38", kind=InitiativeKind.STRATEGIC).count() == 11
    assert Initiative.objects.filter(paragraph="39", kind=InitiativeKind.STRATEGIC).count() == 1
    assert Initiative.objects.filter(paragraph="40", kind=InitiativeKind.STRATEGIC).count() == 2


def test_the_fourteen_strategic_initiatives_are_present():
    strategic = Initiative.objects.strategic()
    assert sorted(strategic.values_list("code", flat=True)) == [f"SI-{n:02d}" for n in range(1, 15)]
    air_route = Initiative.objects.get(title__icontains="Launch a direct air route")
    assert air_route.kind == InitiativeKind.STRATEGIC
    assert "absence of any direct air route" in air_route.quote
    launch = Initiative.objects.get(paragraph="39", kind=InitiativeKind.STRATEGIC)
    assert launch.target_phrase == "2005"


def test_every_action_serves_a_strategic_initiative():
    for action in Initiative.objects.filter(kind=InitiativeKind.ACTION).select_related("parent"):
        assert action.parent.kind == InitiativeKind.STRATEGIC, action.code


def test_codes_are_unique_and_stable_in_form():
    codes = list(Initiative.objects.values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"SI-\d\d|A-\d\d\d", code) for code in codes)


def test_target_phrases_are_the_reports_own():
    report = ReportText.load()
    targets = Initiative.objects.exclude(target_phrase="")
    assert targets.filter(target_phrase="as soon as it is practicable").exists()
    assert targets.filter(target_phrase__icontains="before September 2005").exists()
    for initiative in targets:
        assert report.locate(initiative.target_phrase), initiative.code


def test_the_matrix_is_laid_out_as_in_the_report():
    mechanisms = list(Mechanism.objects.values_list("name", flat=True))
    assert mechanisms == [
        "General Coordination",
        "High Level Meeting on Trade, Investment and Competitiveness",
        "High Level Meeting on Cooperation on Financial Issues",
        "High Level Meeting on Scientific and Technological Cooperation",
    ]
    rows = {m.key: m.issues.count() for m in Mechanism.objects.all()}
    assert rows == {"gc": 1, "hlm-trade": 12, "hlm-finance": 3, "hlm-science": 10}
    footnote = Mechanism.objects.get(key="hlm-trade").footnote
    assert footnote == "Both countries may agree on the convenience of private sector participation in this Meeting."
    for issue in MatrixIssue.objects.prefetch_related("responsibilities__agency"):
        countries = {r.agency.country for r in issue.responsibilities.all()}
        assert countries == {Country.MEXICO, Country.KOREA}, issue.issue
        assert issue.mexico_text and issue.korea_text


def test_matrix_cells_keep_report_order_and_sub_agencies_under_parents():
    sps = MatrixIssue.objects.get(issue="Sanitary and phytosanitary issues")
    korea = [r.agency.acronym for r in sps.responsibilities.select_related("agency") if r.agency.country == "KR"]
    assert korea == ["MAF", "NPQS", "NAQS", "KFDA"]
    assert Agency.objects.get(acronym="NPQS").parent.acronym == "MAF"
    assert Agency.objects.get(acronym="KIPO").parent.acronym == "MOCIE"
    customs = MatrixIssue.objects.get(issue="Customs cooperation")
    names = {r.agency.country: r.agency.name for r in customs.responsibilities.select_related("agency")}
    assert names == {"MX": "Secretary of Finance", "KR": "Korea Customs Service"}


def test_every_initiative_has_one_lead_on_each_side():
    for initiative in Initiative.objects.prefetch_related("ownerships__agency"):
        leads = [o.agency.country for o in initiative.ownerships.all() if o.role == OwnershipRole.LEAD]
        assert sorted(leads) == [Country.KOREA, Country.MEXICO], initiative.code


def test_owners_come_from_the_matrix_row_then_the_text_then_general_coordination():
    # A matrix row fits: its first bodies lead, the rest support, all marked as from the matrix.
    customs = Initiative.objects.filter(matrix_issue__key="customs-cooperation").first()
    leads = customs.ownerships.filter(role=OwnershipRole.LEAD)
    assert {o.agency.acronym for o in leads} == {"SHCP", "KCS"}
    assert {o.source for o in leads} == {OwnershipSource.MATRIX}
    # No row fits and the text names nobody: General Coordination leads by default.
    default = Ownership.objects.filter(source=OwnershipSource.DEFAULT, role=OwnershipRole.LEAD)
    assert {o.agency.acronym for o in default} == {"SRE", "MOFAT"}
    assert not default.filter(initiative__matrix_issue__isnull=False).exists()
    # Bodies the text names lead where no row fits.
    named_lead = Ownership.objects.filter(source=OwnershipSource.NAMED, role=OwnershipRole.LEAD).first()
    assert named_lead is not None and named_lead.initiative.matrix_issue is None


def test_the_korea_customs_service_has_responsibilities():
    kcs = Agency.objects.get(name="Korea Customs Service")
    assert Initiative.objects.owned_by(kcs).exists()


def _snapshot():
    return (
        json.dumps(export_catalog(), sort_keys=True),
        {model.__name__: model.history.count() for model in (Agency, Initiative, Ownership, MatrixIssue)},
    )


def test_load_report_again_changes_nothing():
    before = _snapshot()
    out = io.StringIO()
    call_command("load_report", stdout=out)
    assert "catalog already up to date" in out.getvalue()
    assert " created" not in out.getvalue() and " updated" not in out.getvalue()
    assert _snapshot() == before  # same rows, and no audit records for a load that changed nothing


def test_load_report_keeps_an_administrators_edit_unless_told_to_overwrite():
    initiative = Initiative.objects.get(code="SI-06")
    initiative.title = "Open direct flights between Mexico City and Seoul"
    initiative.save()
    out = io.StringIO()
    call_command("load_report", stdout=out)
    assert "1 kept" in out.getvalue()
    assert Initiative.objects.get(code="SI-06").title == "Open direct flights between Mexico City and Seoul"
    call_command("load_report", "--overwrite", stdout=io.StringIO())
    assert Initiative.objects.get(code="SI-06").title == "Launch a direct air route"


def test_the_strategic_initiatives_and_the_matrix_bodies_have_spanish_and_korean_names():
    strategic = Initiative.objects.filter(kind=InitiativeKind.STRATEGIC)
    assert strategic.count() == 14
    assert not strategic.filter(title_es="").exists() and not strategic.filter(title_ko="").exists()
    in_matrix = Agency.objects.filter(matrix_responsibilities__isnull=False).distinct()
    assert not in_matrix.filter(name_es="").exists() and not in_matrix.filter(name_ko="").exists()
    assert Agency.objects.get(key="se").name_es == "Secretaría de Economía"
    assert Agency.objects.get(key="mofat").name_ko == "외교통상부"
    assert not Mechanism.objects.filter(name_ko="").exists()
    with translation.override("ko"):
        assert str(Agency.objects.get(key="mofat")) == "외교통상부 (MOFAT)"
    with translation.override("en"):
        assert str(Agency.objects.get(key="mofat")) == "Ministry of Foreign Affairs and Trade (MOFAT)"


def test_load_report_fills_a_missing_translation_and_keeps_an_edited_one():
    Initiative.objects.filter(code="SI-06").update(title_es="")
    Agency.objects.filter(key="se").update(name_ko="산업통상 담당 부처 (관리자 수정)")
    out = io.StringIO()
    call_command("load_report", stdout=out)
    assert Initiative.objects.get(code="SI-06").title_es == "Establecer una ruta aérea directa"
    assert Agency.objects.get(key="se").name_ko == "산업통상 담당 부처 (관리자 수정)"
    assert "1 updated" in out.getvalue() and "1 kept" in out.getvalue()


def test_export_catalog_round_trips(tmp_path):
    out = io.StringIO()
    call_command("export_catalog", stdout=out)
    exported = json.loads(out.getvalue())
    assert {"report", "agencies", "matrix", "initiatives"} <= exported.keys()
    air_route = next(i for i in exported["initiatives"] if i["code"] == "SI-06")
    assert {"agency", "country", "role"} <= air_route["owners"][0].keys()
    assert air_route["title_es"] and air_route["title_ko"]

    Ownership.objects.all().delete()
    Initiative.objects.filter(kind=InitiativeKind.ACTION).delete()
    Initiative.objects.all().delete()
    MatrixIssue.objects.all().delete()
    Mechanism.objects.all().delete()
    Agency.objects.filter(parent__isnull=False).delete()
    Agency.objects.all().delete()
    path = tmp_path / "catalog.json"
    path.write_text(out.getvalue(), encoding="utf-8")
    call_command("load_report", "--from-json", str(path), stdout=io.StringIO())

    again = io.StringIO()
    call_command("export_catalog", stdout=again)
    assert json.loads(again.getvalue()) == exported


def test_load_report_rejects_a_broken_catalog_and_saves_nothing(tmp_path):
    out = io.StringIO()
    call_command("export_catalog", stdout=out)
    data = json.loads(out.getvalue())
    data["initiatives"].append({**data["initiatives"][-1], "code": "A-999", "parent": "NOPE"})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    count = Initiative.objects.count()
    with pytest.raises(CommandError, match="A-999: parent NOPE is not a strategic initiative"):
        call_command("load_report", "--from-json", str(path), stdout=io.StringIO())
    assert Initiative.objects.count() == count
