"""Query counts of the list and detail pages, pinned, and checked not to grow with the number of rows.

Each pinned count lists its queries, one comment each. The first two are the same on every page of a logged-in
user: the session, and the user with their profile and agency (tracker.security.ModelBackendWithProfile: the
profile decides the language, zone and role, the agency the header and "mine"). A new query on a page
fails its test here: if it is needed, raise the count and say what it is for; if the count grows with the rows
(one query per row), fix the page instead.

"Rows" are what the page lists: initiatives (the list, N then 5N of them with an accepted status), updates (the
review queue, the home pages, the initiative detail) or evidence items (the update detail).
"""

from __future__ import annotations

import datetime
import re
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tracker import actions
from tracker.models import Agency, Evidence, Initiative, ReportingPeriod, StatusUpdate

pytestmark = pytest.mark.django_db

N = 3
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def se_codes() -> list[str]:
    """The initiatives SE (alice's agency) owns, in report order: one update in progress per initiative."""
    return list(
        Initiative.objects.owned_by(Agency.objects.get(key="se")).order_by("position").values_list("code", flat=True)
    )


def write(user, code, period, *, state, reviewer=None, files=0, links=0, public=False, summary="Talks held."):
    update = StatusUpdate(
        initiative=Initiative.objects.get(code=code),
        agency=user.profile.agency,
        period=period,
        author=user,
        status="on_track",
        progress=40,
        summary=summary,
    )
    actions.save_update(
        update,
        submit=state != "draft",
        links=[f"https://www.gob.mx/se/prensa/{code}/{i}" for i in range(links)],
        files=[
            (SimpleUploadedFile(f"evidence-{i}.pdf", PDF_BYTES, content_type="application/pdf"), "application/pdf")
            for i in range(files)
        ],
        user=user,
    )
    if state == "accepted":
        actions.accept_update(update, user=reviewer)
    elif state == "returned":
        actions.return_update(update, user=reviewer, comment="Please add the figures.")
    if public:
        Evidence.objects.filter(update=update).update(is_public=True)
    return update


class Updates:
    """Adds SE updates, each on the next SE initiative not used yet (one in progress per initiative and period)."""

    def __init__(self, personas, period):
        self.personas, self.period = personas, period
        self.codes = iter(se_codes())

    def add(self, count, state, **kwargs):
        reviewer = self.personas.sec_mx if state in ("accepted", "returned") else None
        return [
            write(self.personas.alice, next(self.codes), self.period, state=state, reviewer=reviewer, **kwargs)
            for _ in range(count)
        ]


@pytest.fixture
def updates(personas, period):
    return Updates(personas, period)


def logged_in(client, user):
    client.force_login(user)
    return client


def queries_of(client, path) -> list[str]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(path)
    assert response.status_code == 200
    return [query["sql"] for query in context.captured_queries]


def _shape(sql: str) -> str:
    """A query without its values, so that the same query for another row (or another session) compares equal."""
    sql = re.sub(r"\b\d+\b", "?", re.sub(r"'[^']*'", "?", sql))
    return re.sub(r"IN \([?, ]+\)", "IN (...)", sql)  # a prefetch for 5N rows is still one query


def assert_same_count(small: list[str], large: list[str], rows: str):
    """The queries at 5N rows are as many as at N; if not, say which queries came in addition."""
    if len(large) != len(small):
        extra = Counter(map(_shape, large)) - Counter(map(_shape, small))
        shown = "\n".join(f"  {count} x {sql[:400]}" for sql, count in extra.most_common())
        raise AssertionError(
            f"{len(small)} queries with {N} {rows}, {len(large)} with {5 * N}; the extra ones:\n{shown}"
        )


# --- The initiative list -------------------------------------------------------------------------------------


def test_initiative_list_first_page(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.alice)
    updates.add(N, "accepted")
    for _ in range(2):  # N accepted statuses, then 5N: the page shows 25 rows either way
        # 1-2. session, user
        # 3. the figures' version: the table is kept under it (TableKeptMixin); new updates, so built again
        # 4. COUNT for the table's paginator (django-tables2; the view itself does not paginate)
        # 5. the High Level Meetings offered by the "meeting" filter (the agency filter is a text box)
        # 6. the ids of the page's 25 initiatives (tracker.tables.SidesLoadedPerPage)
        # 7. those initiatives, each side's lead and current status annotated as subqueries
        with django_assert_num_queries(7):
            response = client.get(reverse("tracker:initiative-list"))
        assert len(response.context["table"].page.object_list) == 25
        # Nothing changed since: the kept table, without COUNT, ids or rows (1-3 and 5 above).
        with django_assert_num_queries(4):
            again = client.get(reverse("tracker:initiative-list"))
        assert again.context["table_html"] == response.context["table_html"]
        assert again.context["table_html"].count("<tr") == 26  # the header's row and 25 initiatives
        updates.add(4 * N, "accepted")


def test_initiative_list_deep_page(client, personas, period, updates, django_assert_num_queries):
    """A page deep in the list costs what the first costs, and shows the rows of its place in the order."""
    logged_in(client, personas.alice)
    updates.add(N, "accepted")
    in_order = list(Initiative.objects.order_by("position").values_list("code", flat=True))
    for sort, expected in (("", in_order), ("-code", sorted(in_order, reverse=True))):
        # 1-7. as on the first page: the page's ids are read with LIMIT/OFFSET without the side subqueries (or
        #      with only the sort's, when sorting by a side), then those 25 rows with both sides annotated
        with django_assert_num_queries(7):
            response = client.get(reverse("tracker:initiative-list"), {"page": 6, "sort": sort})
        shown = [row.record.code for row in response.context["table"].page.object_list]
        assert shown == expected[125:150]
        assert all(hasattr(row.record, "mx_status") for row in response.context["table"].page.object_list)


def test_initiative_list_filtered_and_sorted(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.sec_mx)
    se = Agency.objects.get(key="se")
    query = f"?agency={se.acronym}&status=on_track&country=MX&overdue=false&sort=-mexico"
    path = reverse("tracker:initiative-list") + query
    updates.add(2 * N, "accepted")
    for shown, total in ((2 * N, 2 * N), (25, 10 * N)):  # then 10N matches: the page is full, the total grows
        # 1-2. session, user
        # 3. the agency typed in the "agency" filter (tracker.filters.AgencyField)
        # 4. the open periods already due, for the "overdue" filter (read when its subquery is built)
        # 5. the figures' version (the kept table)
        # 6. COUNT of the matching initiatives, for the table's paginator
        # 7. the High Level Meetings offered by the "meeting" filter
        # 8. the ids of the page's initiatives, filtered and sorted (the sort by Mexico's side is a subquery)
        # 9. those initiatives, with both sides annotated
        with django_assert_num_queries(9):
            response = client.get(path)
        assert response.context["table"].paginator.count == total
        assert len(response.context["table"].page.object_list) == shown
        updates.add(8 * N, "accepted")


def test_initiative_list_csv_export(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.charlie)
    updates.add(N, "accepted")
    for _ in range(2):  # N accepted statuses, then 5N: the same queries
        # 1-2. session, user
        # 3. every initiative, with both sides annotated, read a chunk at a time while the file is sent
        #    (tracker.exports: no page, so no COUNT; the filters offer no choice to read)
        with django_assert_num_queries(3):
            response = client.get(reverse("tracker:initiative-list") + "?_export=csv")
            content = b"".join(response.streaming_content).decode("utf-8-sig")  # the rows are read as it streams
        assert content.count("On track") == Initiative.objects.filter(current_statuses__isnull=False).count()
        updates.add(4 * N, "accepted")


# --- The initiative detail -----------------------------------------------------------------------------------


def accepted_on_a318(personas, period, count, **evidence):
    return [
        write(personas.alice, "A-318", period, state="accepted", reviewer=personas.sec_mx, **evidence)
        for _ in range(count)
    ]


def test_initiative_detail_for_an_official(client, personas, period, django_assert_num_queries):
    """Three accepted updates with two files each (one public, one private) on A-318, an action SE leads."""
    accepted_on_a318(personas, period, 3, files=2)
    for update in StatusUpdate.objects.filter(initiative__code="A-318"):
        Evidence.objects.filter(pk=update.evidence.order_by("pk").first().pk).update(is_public=True)
    logged_in(client, personas.charlie)
    # 1-2. session, user
    # 3. the initiative, with its parent, matrix row, High Level Meeting and report
    # 4. its ownerships, with each agency, the agency's parent and the matrix row (prefetched: can_report_on,
    #    "does KCS own this initiative?", reads them)
    # 5. the current status on each side, with the accepted update it points at
    # 6. "mine": the update KCS has in progress on this initiative
    # 7. the accepted updates, with agency, period and author
    # 8. their evidence (prefetched; who may see each item is decided without a query)
    # 9. the open period (for the "Report progress" button)
    # 10. the target date revisions
    with django_assert_num_queries(10):
        response = client.get(reverse("tracker:initiative-detail", kwargs={"code": "A-318"}))
    assert len(response.context["accepted"]) == 3
    assert len(response.context["evidence_visible"]) == 3  # the public files only


def test_initiative_detail_for_a_secretariat(client, personas, period, django_assert_num_queries):
    accepted_on_a318(personas, period, 3, files=2)
    logged_in(client, personas.sec_mx)
    # 1-2. session, user
    # 3. the initiative, with its parent, matrix row, High Level Meeting and report
    # 4. its ownerships, with agencies
    # 5. the current status on each side
    # 6. the accepted updates, with agency, period and author
    # 7. their evidence (prefetched)
    # 8. the open period
    # 9. the target date revisions
    with django_assert_num_queries(9):
        response = client.get(reverse("tracker:initiative-detail", kwargs={"code": "A-318"}))
    assert len(response.context["evidence_visible"]) == 6  # a reviewer sees private evidence too


def test_initiative_detail_does_not_grow_with_accepted_updates(client, personas, period):
    """Without evidence the page's queries are the same for N and 5N accepted updates."""
    logged_in(client, personas.charlie)
    path = reverse("tracker:initiative-detail", kwargs={"code": "A-318"})
    accepted_on_a318(personas, period, N)
    small = queries_of(client, path)
    accepted_on_a318(personas, period, 4 * N)
    assert_same_count(small, queries_of(client, path), "accepted updates")


@pytest.mark.parametrize("persona", ["charlie", "sec_mx"])
def test_initiative_detail_does_not_grow_with_evidence(client, personas, period, persona):
    logged_in(client, getattr(personas, persona))
    path = reverse("tracker:initiative-detail", kwargs={"code": "A-318"})
    accepted_on_a318(personas, period, N, files=1, links=1, public=True)
    small = queries_of(client, path)
    accepted_on_a318(personas, period, 4 * N, files=1, links=1, public=True)
    assert_same_count(small, queries_of(client, path), "accepted updates with evidence")


# --- The update detail ---------------------------------------------------------------------------------------


def test_update_detail(client, personas, period, django_assert_num_queries):
    update = write(personas.alice, "A-318", period, state="accepted", reviewer=personas.sec_mx, files=2, links=1)
    logged_in(client, personas.alice)
    # 1-2. session, user
    # 3. the update, if alice may see it, with initiative, agency, period, author and reviewer
    # 4. its evidence (who may see each item is decided without a query)
    # 5. the open period: the update is of it, so the page offers the next item of alice's worklist:
    # 6. the worklist's items in order with where each stands (ids only), to find the one after this
    # 7. that item, with what its button needs
    with django_assert_num_queries(7):
        response = client.get(reverse("tracker:update-detail", kwargs={"pk": update.pk}))
    assert len(response.context["evidence"]) == 3
    codes = se_codes()
    assert response.context["next_item"].code == codes[codes.index("A-318") + 1]


def test_update_detail_does_not_grow_with_evidence(client, personas, period):
    logged_in(client, personas.sec_mx)
    update = write(personas.alice, "A-318", period, state="submitted", files=1, links=N - 1)
    path = reverse("tracker:update-detail", kwargs={"pk": update.pk})
    small = queries_of(client, path)
    for i in range(4 * N):
        Evidence.objects.create(update=update, url=f"https://www.gob.mx/se/more/{i}", uploaded_by=personas.alice)
    assert_same_count(small, queries_of(client, path), "evidence items")


def test_review_page(client, personas, period, django_assert_num_queries):
    """Not a list, but the reviewer's detail page: its evidence is listed without a check per item."""
    update = write(personas.alice, "A-318", period, state="submitted", files=2, links=1)
    logged_in(client, personas.sec_mx)
    path = reverse("tracker:review-update", kwargs={"pk": update.pk})
    for _ in range(2):
        # 1-2. session, user
        # 3. the update, with initiative, agency, period, author and reviewer
        # 4. its evidence, all of it (a reviewer sees private evidence)
        # 5. the current accepted status on the update's side, to compare with
        with django_assert_num_queries(5):
            response = client.get(path)
        assert response.status_code == 200
        for i in range(4 * N):
            Evidence.objects.create(update=update, url=f"https://www.gob.mx/se/more/{i}", uploaded_by=personas.alice)


# --- The review queue ----------------------------------------------------------------------------------------


def test_review_queue(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.sec_mx)
    updates.add(N, "submitted")
    for count in (N, 5 * N):
        # 1-2. session, user
        # 3. the count of the queue of Mexico's agencies (reviewable_updates; the queue is paginated)
        # 4. the periods offered by the queue's "period" filter
        # 5. the High Level Meetings offered by its "meeting" filter (the agency filter is a text box)
        # 6. the page of submitted updates, with initiative, agency, period and author
        with django_assert_num_queries(6):
            response = client.get(reverse("tracker:review"))
        assert len(response.context["queue"]) == count
        updates.add(4 * N, "submitted")


# --- The home pages ------------------------------------------------------------------------------------------


def test_home_of_an_official(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.alice)
    updates.add(N, "submitted")
    updates.add(N, "accepted")
    updates.add(1, "draft")
    for _ in range(2):  # then 5N submitted and 5N accepted
        # 1-2. session, user
        # 3. the open period
        # 4. SE's initiatives, each with SE's role, its meeting and the current status on SE's side annotated
        # 5. SE's updates in that period (the latest per initiative decides where it stands: tracker.worklist)
        # 6. the High Level Meetings offered by the worklist's "meeting" filter
        # (the counts, the filters, the order and the page of 50 are worked out from 4 and 5, without a query)
        with django_assert_num_queries(6):
            response = client.get(reverse("tracker:home"))
        assert len(response.context["items"]) == min(len(se_codes()), 50)
        updates.add(4 * N, "submitted")
        updates.add(4 * N, "accepted")


def test_home_of_an_official_with_returned_updates(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.alice)
    updates.add(2, "returned")
    # 1-6. as above: the returned updates' comments come with SE's updates (query 5)
    with django_assert_num_queries(6):
        response = client.get(reverse("tracker:home"))
    items = response.context["items"]
    assert [item.work_state for item in items[:2]] == ["returned", "returned"]
    assert items[0].update_comment


def test_home_of_an_official_does_not_grow_with_returned_updates(client, personas, period, updates):
    logged_in(client, personas.alice)
    updates.add(N, "returned")
    small = queries_of(client, reverse("tracker:home"))
    updates.add(4 * N, "returned")
    assert_same_count(small, queries_of(client, reverse("tracker:home")), "returned updates")


@pytest.fixture
def overdue_period(period):
    """A second open period whose due date has passed, so that the overdue panel has initiatives to show."""
    today = timezone.localdate()
    return ReportingPeriod.objects.create(
        name="2026 Q3",
        start=today - datetime.timedelta(days=150),
        end=today - datetime.timedelta(days=60),
        due_date=today - datetime.timedelta(days=30),
    )


@pytest.mark.parametrize("persona", ["sec_mx", "admin"])
def test_home_of_a_secretariat(client, personas, period, overdue_period, updates, persona, django_assert_num_queries):
    logged_in(client, getattr(personas, persona))
    updates.add(N, "submitted")
    updates.add(N, "accepted")
    for count in (N, 5 * N):
        # 1-2. session, user
        # 3. the open period due first
        # 4. the open periods already due (Initiative.objects.overdue builds a condition per period and side,
        #    reading them when the queryset is built)
        # 5. the size of the review queue
        # 6. its first ten updates, with initiative, agency, period and author
        # 7. the first 50 overdue initiatives, with each side's lead annotated
        # 8. the 15 most recent updates, with initiative, agency, author and reviewer
        # 9. the figures' version (tracker.figures): new updates were added, so the cached figures are stale
        # 10-14. the dashboard's figures for the open period (tracker.reports.build_snapshot): the initiatives
        #        with their meeting, the meetings in order, the lead ownerships, the current statuses, the
        #        period's submitted updates
        # 15. the average accepted progress per period and side (kept with the figures)
        # 16-17. the agencies that owe updates but have no active official, with how many each (kept with them)
        with django_assert_num_queries(17):
            response = client.get(reverse("tracker:home"))
        with django_assert_num_queries(9):  # nothing changed since: the figures come from the cache
            client.get(reverse("tracker:home"))
        assert len(response.context["queue"]) == min(count, 10) and response.context["queue_size"] == count
        assert len(response.context["overdue"]) == 50
        assert len(response.context["recent"]) == min(2 * count, 15)
        updates.add(4 * N, "submitted")
        updates.add(4 * N, "accepted")


def test_matrix_page(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.sec_kr)
    updates.add(N, "accepted")
    for _ in range(2):  # then 5N accepted updates: the same queries
        # 1-2. session, user
        # 3. the mechanisms
        # 4. their issue rows
        # 5. the initiatives each row owns, with both sides' current status annotated
        with django_assert_num_queries(5):
            response = client.get(reverse("tracker:matrix"))
        assert "Customs cooperation" in response.content.decode()
        updates.add(4 * N, "accepted")


def test_report_page(client, personas, period, updates, django_assert_num_queries):
    logged_in(client, personas.alice)
    updates.add(N, "accepted")
    for _ in range(2):
        # 1-2. session, user
        # 3. the report
        # 4. its initiatives, with both sides' status annotated
        with django_assert_num_queries(4):
            response = client.get(reverse("tracker:report"))
        assert response.status_code == 200
        updates.add(4 * N, "accepted")


# --- Progress reports and the public view ---------------------------------------------------------------------


def make_reports(personas, period, count, *, state="draft"):
    from tracker import reports
    from tracker.models import ProgressReport

    made = []
    for i in range(count):
        report = ProgressReport.objects.create(period=period, title=f"Report {i}", created_by=personas.sec_mx)
        if state in ("frozen", "published"):
            reports.freeze_report(report, user=personas.sec_mx)
        if state == "published":
            reports.publish_report(report, user=personas.sec_mx)
        made.append(report)
    return made


def test_report_list(client, personas, period, django_assert_num_queries):
    logged_in(client, personas.sec_mx)
    make_reports(personas, period, N)
    for count in (N, 5 * N):
        # 1-2. session, user
        # 3. the reports the user may see, with their period (not their snapshots)
        # 4. the open period due first (the new report form's default)
        # 5. the periods for the form's choice
        # 6. the periods offered by the status update export's filters (its form on this page,
        #    tracker_tags.update_export_form; its agency filter is a text box)
        with django_assert_num_queries(6):
            response = client.get(reverse("tracker:reports"))
        assert len(response.context["reports"]) == count
        make_reports(personas, period, 4 * N)


@pytest.mark.parametrize(("state", "expected"), [("draft", 9), ("published", 3)])
def test_progress_report_page(client, personas, period, updates, state, expected, django_assert_num_queries):
    logged_in(client, personas.sec_kr)
    updates.add(N, "accepted")
    (report,) = make_reports(personas, period, 1, state=state)
    # 1-2. session, user
    # 3. the report with its period
    # draft only, 4-9: the live figures (tracker.reports.build_snapshot): the initiatives with their meeting, the
    #    meetings, the lead ownerships, the current statuses, the period's submitted updates, the previous report
    with django_assert_num_queries(expected):
        response = client.get(report.get_absolute_url())
    assert response.status_code == 200
    assert "A-" in response.content.decode()


def test_public_list(client, personas, period, updates, django_assert_num_queries):
    make_reports(personas, period, 2, state="published")
    updates.add(N, "accepted")
    for _ in range(2):
        # 1. the figures' version (the kept table)
        # 2. the count of public initiatives (the paginator)
        # 3. the published reports, without their snapshots
        # 4. the meetings (the filter's choices)
        # 5. the ids of the public initiatives on the first page (tracker.tables.SidesLoadedPerPage)
        # 6. those initiatives, with both sides' accepted status annotated
        with django_assert_num_queries(6):
            response = client.get(reverse("tracker:public"))
        assert response.status_code == 200
        updates.add(4 * N, "accepted")


def test_public_detail(client, personas, period, django_assert_num_queries):
    initiative = Initiative.objects.get(code=se_codes()[0])
    # 1. the initiative
    # 2. its ownerships with their agencies
    # 3. its current accepted statuses
    with django_assert_num_queries(3):
        response = client.get(reverse("tracker:public-initiative", args=[initiative.code]))
    assert response.status_code == 200
