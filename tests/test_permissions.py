"""Who may open what: every URL of the site, for every kind of user, answers as tracker/permissions.py says.

The matrix below names every URL pattern of the URLconf (test_every_url_pattern_is_in_the_matrix fails when a
new one is added without a row), with concrete arguments: an initiative SE owns, an update of SE (alice's
agency) in each review state, evidence files of those updates, a submitted update of KCS (charlie's agency), and
a draft of SRE (the agency sec_mx belongs to, written by an SRE official: a secretariat never sees drafts).
Each row gives the answer expected for each persona:

    anonymous  not logged in                          alice    official of SE (Mexico)
    charlie    official of KCS (Korea)                sec_mx   Mexico's Technical Secretariat (agency SRE)
    sec_kr     Korea's Technical Secretariat (MOFAT)  boss     administrator (superuser with the admin role)

The anonymous are sent to the login page; 404 answers what a user may not see (so that changing an id in a URL
tells nothing), 403 what a user may see but not do. Then the writes (POST) and the pages that list updates are
checked for what they must not change or show.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.files.uploadedfile import SimpleUploadedFile
from django.templatetags.static import static
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from tests.conftest import make_person
from tracker import actions, reports
from tracker.models import CurrentStatus, Evidence, Initiative, ProgressReport, ReportingPeriod, StatusUpdate

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "alice", "charlie", "sec_mx", "sec_kr", "boss")

# A small file that the evidence form's content check recognises as a PDF.
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(name="evidence.pdf"):
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


# --- The world every row is checked against ---------------------------------------------------------------
# SE (alice's agency) has one update in each review state, each on its own initiative because an agency has
# at most one update in progress per initiative and period. A-318 keeps only an accepted update, so alice may
# still start a new one there. KCS and SRE have one update each. Each summary is a marker that must never appear
# where the update is not visible.

MARKERS = {
    # No character that HTML escaping would change, so that the text is found as written.
    "draft": "DRAFT-MARKER-5e0c1 summary of the unfinished work of SE",
    "submitted": "SUBMITTED-MARKER-9a4d2 summary of the submitted update of SE",
    "returned": "RETURNED-MARKER-31b7f summary of the returned update of SE",
    "accepted": "ACCEPTED-MARKER-c86e4 summary of the accepted update of SE",
    "kr_submitted": "KR-SUBMITTED-MARKER-70f9a summary of the submitted update of KCS",
    "sre_draft": "SRE-DRAFT-MARKER-b2d48 summary of the unfinished work of SRE",
}


@dataclass
class World:
    people: object
    period: ReportingPeriod  # the open reporting period every update belongs to
    draft: StatusUpdate  # SE, A-316, status "blocked" 77 %: must not show in any status or filter
    submitted: StatusUpdate  # SE, SI-01
    returned: StatusUpdate  # SE, A-317, returned by sec_mx
    accepted: StatusUpdate  # SE, A-318, accepted by sec_mx
    kr_submitted: StatusUpdate  # KCS, A-314
    sre_draft: StatusUpdate  # SRE, A-001: a draft of the agency sec_mx belongs to, by an SRE official
    draft_file: Evidence  # private file of the draft
    submitted_file: Evidence  # private file of the submitted update
    accepted_public_file: Evidence  # file of the accepted update, marked public
    accepted_private_file: Evidence  # file of the accepted update, not public
    accepted_link: Evidence  # a link (no file) of the accepted update
    draft_report: object = None  # a progress report still in draft: the secretariats' working copy
    published_report: object = None  # a frozen and published progress report


def make_update(
    user, code, period, *, state, summary, reviewer=None, files=(), links=(), status="on_track", progress=30
):
    """An update written through the real actions, with evidence files as the form would pass them."""
    update = StatusUpdate(
        initiative=Initiative.objects.get(code=code),
        agency=user.profile.agency,
        period=period,
        author=user,
        status=status,
        progress=progress,
        summary=summary,
    )
    files = [(uploaded, "application/pdf") for uploaded in files]
    actions.save_update(update, submit=state != "draft", links=links, files=files, user=user)
    if state == "accepted":
        actions.accept_update(update, user=reviewer)
    elif state == "returned":
        actions.return_update(update, user=reviewer, comment="Please add the figures.")
    return update


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def world(personas, period, media):
    p = personas
    draft = make_update(
        p.alice,
        "A-316",
        period,
        state="draft",
        summary=MARKERS["draft"],
        files=[pdf("draft.pdf")],
        status="blocked",
        progress=77,
    )
    submitted = make_update(
        p.alice, "SI-01", period, state="submitted", summary=MARKERS["submitted"], files=[pdf("submitted.pdf")]
    )
    returned = make_update(p.alice, "A-317", period, state="returned", summary=MARKERS["returned"], reviewer=p.sec_mx)
    accepted = make_update(
        p.alice,
        "A-318",
        period,
        state="accepted",
        summary=MARKERS["accepted"],
        reviewer=p.sec_mx,
        files=[pdf("public.pdf"), pdf("private.pdf")],
        links=["https://www.gob.mx/se/prensa"],
    )
    public_file = accepted.evidence.get(original_name="public.pdf")
    public_file.is_public = True
    public_file.save()
    kr_submitted = make_update(p.charlie, "A-314", period, state="submitted", summary=MARKERS["kr_submitted"])
    dora = make_person("dora", "official", "sre")
    sre_draft = make_update(dora, "A-001", period, state="draft", summary=MARKERS["sre_draft"])
    return World(
        people=p,
        period=period,
        draft=draft,
        submitted=submitted,
        returned=returned,
        accepted=accepted,
        kr_submitted=kr_submitted,
        sre_draft=sre_draft,
        draft_file=draft.evidence.get(),
        submitted_file=submitted.evidence.get(),
        accepted_public_file=public_file,
        accepted_private_file=accepted.evidence.get(original_name="private.pdf"),
        accepted_link=accepted.evidence.get(url__startswith="https://"),
        draft_report=ProgressReport.objects.create(period=period, title="Working draft", created_by=p.sec_mx),
        published_report=reports.publish_report(
            reports.freeze_report(
                ProgressReport.objects.create(period=period, title="For the ministers", created_by=p.sec_mx),
                user=p.sec_mx,
            ),
            user=p.sec_mx,
        ),
    )


def user_of(world, persona):
    return world.people.admin if persona == "boss" else getattr(world.people, persona)


def client_for(world, persona) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(user_of(world, persona))
    return client


# --- Expected answers ---------------------------------------------------------------------------------------


class Expect:
    def check(self, response, world, path):
        raise NotImplementedError


class Status(Expect):
    def __init__(self, code):
        self.code = code

    def check(self, response, world, path):
        assert response.status_code == self.code, f"{path}: expected {self.code}, got {response.status_code}"

    def __repr__(self):
        return str(self.code)


class LoginRedirect(Expect):
    """Sent to the site's login page, with the page asked for as next."""

    def check(self, response, world, path):
        assert response.status_code == 302, f"{path}: expected a redirect to log in, got {response.status_code}"
        assert response["Location"] == redirect_to_login(path)["Location"]

    def __repr__(self):
        return "login"


class AdminLoginRedirect(Expect):
    """The admin site sends whoever is not staff to its own login page (Django's admin_view)."""

    def check(self, response, world, path):
        assert response.status_code == 302, f"{path}: expected the admin login page, got {response.status_code}"
        assert response["Location"] == redirect_to_login(path, reverse("admin:login"))["Location"]

    def __repr__(self):
        return "admin-login"


class RedirectTo(Expect):
    """A redirect to an update's page: e.g. a submitted update's edit URL shows the update, read-only."""

    def __init__(self, name, obj=None, label=""):
        self.name, self.obj, self.label = name, obj, label  # obj None: the update the row is about

    def check(self, response, world, path):
        pk = getattr(world, self.obj).pk if self.obj else resolve(urlsplit(path).path).kwargs["pk"]
        expected = reverse(self.name, kwargs={"pk": pk})
        assert response.status_code == 302, f"{path}: expected a redirect to {expected}, got {response.status_code}"
        assert response["Location"] == expected

    def __repr__(self):
        return self.label


class BackToForm(Expect):
    """A filter's value the user is not offered, from a page with the export's form: sent back to that form, which
    shows the reason under the field (the query string is kept, so that what was chosen stays chosen)."""

    def __init__(self, name):
        self.name = name

    def check(self, response, world, path):
        expected = reverse(self.name)
        assert response.status_code == 302, f"{path}: expected a redirect to {expected}, got {response.status_code}"
        assert urlsplit(response["Location"]).path == expected
        assert urlsplit(response["Location"]).query == urlsplit(path).query

    def __repr__(self):
        return "back-to-form"


class Moved(Expect):
    """A permanent redirect, for everyone alike (a public address that lives elsewhere)."""

    def __init__(self, target):
        self.target = target  # a function: the address is only known once settings are loaded

    def check(self, response, world, path):
        assert response.status_code == 301, f"{path}: expected a permanent redirect, got {response.status_code}"
        assert response["Location"] == self.target()

    def __repr__(self):
        return "moved"


OK = Status(200)
NO = Status(403)  # may see it, may not do it
NF = Status(404)  # may not see it: answered as if it did not exist
NOGET = Status(405)  # a POST-only URL, asked with GET
BAD = Status(400)  # a filter's value the user is not offered (with the reason)
ONWARD = Status(302)  # nothing to do here: sent on
FORM = BackToForm("tracker:reports")  # a reviewer's export with a filter not offered: back to the form
LOGIN = LoginRedirect()
ADMIN = AdminLoginRedirect()
SEE = RedirectTo("tracker:update-detail", label="see")  # sent to the same update's page, read-only
DRAFT = RedirectTo("tracker:update-edit", "draft", label="to-draft")  # sent on to SE's draft on A-316
KR = RedirectTo("tracker:update-detail", "kr_submitted", label="to-kr")  # sent to KCS's submitted update
ICON = Moved(lambda: static("img/favicon.svg"))


# The objects a row may name: how each becomes the URL's arguments (and query string).
OBJECTS = {
    "-": lambda w: ({}, ""),
    "csv export": lambda w: ({}, "?_export=csv"),
    "xlsx export": lambda w: ({}, "?_export=xlsx"),
    "filtered+sorted": lambda w: ({}, "?theme=trade&status=none&country=MX&overdue=false&agency=SE&sort=-mexico"),
    "suggest KCS": lambda w: ({}, "?q=KCS"),
    "A-318": lambda w: ({"code": "A-318"}, ""),  # owned by SE (lead); has SE's accepted update
    "A-316": lambda w: ({"code": "A-316"}, ""),  # owned by SE; has SE's draft
    "A-314": lambda w: ({"code": "A-314"}, ""),  # owned by KCS only
    "SI-01": lambda w: ({"code": "SI-01"}, ""),  # has SE's submitted update
    "A-001": lambda w: ({"code": "A-001"}, ""),  # has SRE's draft
    "no such code": lambda w: ({"code": "A-999"}, ""),
    "draft": lambda w: ({"pk": w.draft.pk}, ""),
    "submitted": lambda w: ({"pk": w.submitted.pk}, ""),
    "returned": lambda w: ({"pk": w.returned.pk}, ""),
    "accepted": lambda w: ({"pk": w.accepted.pk}, ""),
    "kr submitted": lambda w: ({"pk": w.kr_submitted.pk}, ""),
    "sre draft": lambda w: ({"pk": w.sre_draft.pk}, ""),
    "no such update": lambda w: ({"pk": 10**9}, ""),
    "draft file": lambda w: ({"pk": w.draft_file.pk}, ""),
    "submitted file": lambda w: ({"pk": w.submitted_file.pk}, ""),
    "accepted public file": lambda w: ({"pk": w.accepted_public_file.pk}, ""),
    "accepted private file": lambda w: ({"pk": w.accepted_private_file.pk}, ""),
    "accepted link": lambda w: ({"pk": w.accepted_link.pk}, ""),
    "no such evidence": lambda w: ({"pk": 10**9}, ""),
    "period": lambda w: ({"pk": w.period.pk}, ""),
    "draft report": lambda w: ({"pk": w.draft_report.pk}, ""),
    "published report": lambda w: ({"pk": w.published_report.pk}, ""),
    "draft report csv": lambda w: ({"pk": w.draft_report.pk, "fmt": "csv"}, ""),
    "published report csv": lambda w: ({"pk": w.published_report.pk, "fmt": "csv"}, ""),
    "published report doc": lambda w: ({"pk": w.published_report.pk, "fmt": "doc"}, ""),
    "no such period": lambda w: ({"pk": 10**9}, ""),
    "updates export": lambda w: ({}, ""),
    "period's updates export": lambda w: ({}, f"?period={w.period.pk}&review_state=accepted"),
    "drafts export": lambda w: ({}, "?review_state=draft"),
    "sheet xlsx": lambda w: ({"fmt": "xlsx"}, ""),
    "sheet csv": lambda w: ({"fmt": "csv"}, ""),
    "sheet doc": lambda w: ({"fmt": "doc"}, ""),
    "alice's upload": lambda w: ({"pk": alices_upload(w).pk}, ""),
    "no such upload": lambda w: ({"pk": "00000000-0000-4000-8000-000000000000"}, ""),
    "invitation": lambda w: ({"pk": invitation_of(w).pk}, ""),
    "invitation link": lambda w: invitation_link(w),
    "bad invitation link": lambda w: ({**invitation_link(w)[0], "token": "abc-0123456789abcdef"}, ""),
}


def invitation_of(world):
    """An official of SE invited by sec_mx (tracker/invitations.py), not yet signed in; no language chosen, so
    the page of the link follows the visitor's."""
    from tracker import invitations
    from tracker.models import Agency, Invitation

    invitation = Invitation.objects.filter(user__username="invited").first()
    if invitation is None:
        person = invitations.Person(
            "Invited Official", "invited@example.invalid", Agency.objects.get(key="se"), "", "official"
        )
        [invitation] = invitations.invite([person], by=world.people.sec_mx)
    return invitation


def invitation_link(world):
    """The URL arguments of the invitation's link, as its email gives them."""
    from tracker import invitations

    invitation = invitation_of(world)
    link = invitations.link_for(invitation.user, invitation.times_sent, invitation.last_sent_at)
    return resolve(urlsplit(link).path).kwargs, ""


def alices_upload(world):
    """A spreadsheet alice uploaded (tracker/sheets.py): its preview is hers alone."""
    from django.core.files.base import ContentFile

    from tracker.models import SheetUpload

    content = b"Code,Status,Progress (%),Summary of progress\r\nA-318,On track,10,Started.\r\n"
    upload = SheetUpload(
        user=world.people.alice,
        agency=world.people.alice.profile.agency,
        period=world.period,
        original_name="updates.csv",
        size=len(content),
        sha256="0" * 64,
    )
    upload.file.save("updates.csv", ContentFile(content), save=False)
    upload.save()
    return upload


# fmt: off
MATRIX = [
    # URL name                    object                   anon   alice  charlie sec_mx sec_kr boss
    ("tracker:home",              "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-list",   "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-list",   "filtered+sorted",       LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-list",   "csv export",            LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-list",   "xlsx export",           LOGIN, OK,    OK,    OK,    OK,    OK),
    # The agency filter's suggestions: catalog data, for whoever may read the list.
    ("tracker:agency-suggestions", "suggest KCS",          LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-detail", "A-318",                 LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-detail", "A-316",                 LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:initiative-detail", "no such code",          LOGIN, NF,    NF,    NF,    NF,    NF),
    ("tracker:matrix",           "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:report",           "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    # Only an official of an owning agency writes updates on an initiative; one that is in progress already
    # is opened instead (SE's draft on A-316; KCS's update on A-314, submitted, is shown).
    ("tracker:update-create",     "A-318",                 LOGIN, OK,    NO,    NO,    NO,    NO),
    ("tracker:update-create",     "A-316",                 LOGIN, DRAFT, NO,    NO,    NO,    NO),
    ("tracker:update-create",     "A-314",                 LOGIN, NO,    KR,    NO,    NO,    NO),
    ("tracker:update-create",     "no such code",          LOGIN, NF,    NF,    NF,    NF,    NF),
    # A draft is its agency's alone; submitted and returned updates are also the reviewers'; accepted, everyone's.
    ("tracker:update-detail",     "draft",                 LOGIN, OK,    NF,    NF,    NF,    NF),
    ("tracker:update-detail",     "submitted",             LOGIN, OK,    NF,    OK,    OK,    OK),
    ("tracker:update-detail",     "returned",              LOGIN, OK,    NF,    OK,    OK,    OK),
    ("tracker:update-detail",     "accepted",              LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:update-detail",     "kr submitted",          LOGIN, NF,    OK,    OK,    OK,    OK),
    ("tracker:update-detail",     "sre draft",             LOGIN, NF,    NF,    NF,    NF,    NF),  # sec_mx is SRE
    ("tracker:update-detail",     "no such update",        LOGIN, NF,    NF,    NF,    NF,    NF),
    # The period's spreadsheet (tracker/sheets.py): officials download their agency's and upload it filled in; an
    # upload's preview is its uploader's alone. Confirming an import is a POST.
    ("tracker:worklist-sheet",    "sheet xlsx",            LOGIN, OK,    OK,    NO,    NO,    NO),
    ("tracker:worklist-sheet",    "sheet csv",             LOGIN, OK,    OK,    NO,    NO,    NO),
    ("tracker:worklist-sheet",    "sheet doc",             LOGIN, NF,    NF,    NF,    NF,    NF),
    ("tracker:worklist-upload",   "-",                     LOGIN, OK,    OK,    NO,    NO,    NO),
    ("tracker:worklist-upload-preview", "alice's upload",  LOGIN, OK,    NF,    NF,    NF,    NF),
    ("tracker:worklist-upload-preview", "no such upload",  LOGIN, NF,    NF,    NF,    NF,    NF),
    ("tracker:worklist-upload-confirm", "alice's upload",  LOGIN, NOGET, NOGET, NOGET, NOGET, NOGET),
    # Only the agency edits, and only a draft or a returned update; a submitted or accepted one is shown instead.
    ("tracker:update-edit",       "draft",                 LOGIN, OK,    NF,    NF,    NF,    NF),
    ("tracker:update-edit",       "submitted",             LOGIN, SEE,   NF,    NO,    NO,    NO),
    ("tracker:update-edit",       "returned",              LOGIN, OK,    NF,    NO,    NO,    NO),
    ("tracker:update-edit",       "accepted",              LOGIN, SEE,   NO,    NO,    NO,    NO),
    ("tracker:update-edit",       "kr submitted",          LOGIN, NF,    SEE,   NO,    NO,    NO),
    ("tracker:update-edit",       "sre draft",             LOGIN, NF,    NF,    NF,    NF,    NF),
    ("tracker:update-edit",       "no such update",        LOGIN, NF,    NF,    NF,    NF,    NF),
    # The status updates as CSV: an official's own agency's (drafts included), the reviewers' all but drafts,
    # which they are not even offered as a filter (tests/test_exports.py checks every row).
    ("tracker:update-export",     "updates export",        LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:update-export",     "period's updates export", LOGIN, OK,  OK,    OK,    OK,    OK),
    ("tracker:update-export",     "drafts export",         LOGIN, OK,    OK,    FORM,  FORM,  FORM),
    # Private evidence: the reporting agency and the reviewers; public evidence of an accepted update: everyone.
    ("tracker:evidence-download", "draft file",            LOGIN, OK,    NF,    NF,    NF,    NF),
    ("tracker:evidence-download", "submitted file",        LOGIN, OK,    NF,    OK,    OK,    OK),
    ("tracker:evidence-download", "accepted private file", LOGIN, OK,    NF,    OK,    OK,    OK),
    ("tracker:evidence-download", "accepted public file",  LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:evidence-download", "accepted link",         LOGIN, NF,    NF,    NF,    NF,    NF),
    ("tracker:evidence-download", "no such evidence",      LOGIN, NF,    NF,    NF,    NF,    NF),
    # Each country's secretariat reviews its own country's agencies; the admin reviews all. An update that is
    # no longer submitted is shown to a reviewer instead.
    ("tracker:review",            "-",                     LOGIN, NO,    NO,    OK,    OK,    OK),
    # Several updates decided at once: a POST (test_bulk_review_decides_only_what_the_reviewer_may below).
    ("tracker:review-bulk",       "-",                     LOGIN, NOGET, NOGET, NOGET, NOGET, NOGET),
    ("tracker:review-update",     "submitted",             LOGIN, NO,    NF,    OK,    NO,    OK),
    ("tracker:review-update",     "kr submitted",          LOGIN, NF,    NO,    NO,    OK,    OK),
    ("tracker:review-update",     "draft",                 LOGIN, NO,    NF,    NF,    NF,    NF),
    ("tracker:review-update",     "returned",              LOGIN, NO,    NF,    SEE,   SEE,   SEE),
    ("tracker:review-update",     "accepted",              LOGIN, NO,    NO,    SEE,   SEE,   SEE),
    ("tracker:review-update",     "no such update",        LOGIN, NF,    NF,    NF,    NF,    NF),
    # The secretariats and the admin manage reporting periods. Opening or closing one is a POST (see WRITES).
    ("tracker:periods",           "-",                     LOGIN, NO,    NO,    OK,    OK,    OK),
    ("tracker:period-create",     "-",                     LOGIN, NO,    NO,    OK,    OK,    OK),
    ("tracker:period-edit",       "period",                LOGIN, NO,    NO,    OK,    OK,    OK),
    ("tracker:period-edit",       "no such period",        LOGIN, NO,    NO,    NF,    NF,    NF),
    ("tracker:period-state",      "period",                LOGIN, NOGET, NOGET, NOGET, NOGET, NOGET),
    # People (tracker/invitations.py): the secretariats and the admin invite officials and secretariat members
    # (tests/test_invitations.py checks whom); sending an invitation again is a POST. The link of an invitation
    # email opens for whoever has it; a link that is not one of ours is a 400 with a clear page.
    ("tracker:people",            "-",                     LOGIN, NO,    NO,    OK,    OK,    OK),
    ("tracker:people-invite",     "-",                     LOGIN, NO,    NO,    OK,    OK,    OK),
    ("tracker:people-resend",     "invitation",            LOGIN, NOGET, NOGET, NOGET, NOGET, NOGET),
    ("invitation-accept",         "invitation link",       OK,    OK,    OK,    OK,    OK,    OK),
    ("invitation-accept",         "bad invitation link",   BAD,   BAD,   BAD,   BAD,   BAD,   BAD),
    # Progress reports: the secretariats build, freeze and publish them; others read the published ones.
    ("tracker:reports",           "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:progress-report",   "draft report",          LOGIN, NF,    NF,    OK,    OK,    OK),
    ("tracker:progress-report",   "published report",      LOGIN, OK,    OK,    OK,    OK,    OK),
    ("tracker:progress-report-state", "draft report",      LOGIN, NOGET, NOGET, NOGET, NOGET, NOGET),
    ("tracker:progress-report-download", "draft report csv", LOGIN, NF,  NF,    OK,    OK,    OK),
    ("tracker:progress-report-download", "published report csv", LOGIN, OK, OK, OK,    OK,    OK),
    ("tracker:progress-report-download", "published report doc", LOGIN, NF, NF, NF,    NF,    NF),
    # The public view: no login, published initiatives and published reports only.
    ("tracker:public",            "-",                     OK,    OK,    OK,    OK,    OK,    OK),
    ("tracker:public-initiative", "A-318",                 OK,    OK,    OK,    OK,    OK,    OK),
    ("tracker:public-initiative", "no such code",          NF,    NF,    NF,    NF,    NF,    NF),
    ("tracker:public-report-download", "published report csv", OK, OK,  OK,    OK,    OK,    OK),
    ("tracker:public-report-download", "draft report csv", NF,    NF,    NF,    NF,    NF,    NF),
    # Everyone with a profile sets their own language, time zone and reminder emails (no id in the URL).
    ("tracker:preferences",       "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    # Two-factor sign-in: everyone signed in manages their own (no id in the URL); the code page sends on whoever
    # has nothing to verify (see test_security.py for the whole flow).
    ("two-factor",                "-",                     LOGIN, OK,    OK,    OK,    OK,    OK),
    ("two-factor-verify",         "-",                     LOGIN, ONWARD, ONWARD, ONWARD, ONWARD, ONWARD),
    # The language switcher on every page: a POST for everyone (see test_translations.py).
    ("set_language",              "-",                     NOGET, NOGET, NOGET, NOGET, NOGET, NOGET),
    # Public by design: the login page, the health check that monitors read, and the icon browsers ask for.
    ("login",                     "-",                     OK,    OK,    OK,    OK,    OK,    OK),
    ("healthz",                   "-",                     OK,    OK,    OK,    OK,    OK,    OK),
    ("favicon",                   "-",                     ICON,  ICON,  ICON,  ICON,  ICON,  ICON),
    # The admin site's own gate: whoever is not staff is sent to the admin's login page.
    ("admin:index",               "-",                     ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, OK),
]
# fmt: on


def url_of(world, name, obj) -> str:
    kwargs, query = OBJECTS[obj](world)
    return reverse(name, kwargs=kwargs) + query


# --- Every URL pattern has a row -----------------------------------------------------------------------------
# Left out of the matrix, on purpose:
# - the admin site's own pages under /admin/ (namespace "admin") other than its index: every one of them is
#   behind admin.site.admin_view, which sends whoever is not staff to the admin login (the index row checks
#   that gate); what the admin does inside is tested in test_admin.py;
# - Django's own auth views under /accounts/ other than the login page (logout, password change and its done
#   page, password reset and its done/confirm/complete pages). The project's PasswordResetView, which replaces
#   Django's at /accounts/password_reset/, is one of them: public by design (anyone may ask for a reset link).
# A new pattern anywhere else (or a project view of its own under /accounts/) must get a row.


def _patterns(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or None
            if inner and namespace:
                inner = f"{namespace}:{inner}"
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name, namespace, pattern.callback


def _is_django_auth_view(callback) -> bool:
    view = getattr(callback, "view_class", callback)
    classes = view.__mro__ if isinstance(view, type) else (view,)
    return any(getattr(cls, "__module__", "") == "django.contrib.auth.views" for cls in classes)


def skip_reason(route, name, namespace, callback) -> str | None:
    if namespace == "admin" and name != "admin:index":
        return "admin site"
    if route.startswith("accounts/") and name != "login" and _is_django_auth_view(callback):
        return "django auth view"
    return None


def test_every_url_pattern_is_in_the_matrix():
    in_urlconf = set()
    unnamed = []
    skipped = {}
    for route, name, namespace, callback in _patterns(get_resolver().url_patterns):
        reason = skip_reason(route, name, namespace, callback)
        if reason:
            skipped.setdefault(reason, []).append(route)
        elif name is None:
            unnamed.append(route)
        else:
            in_urlconf.add(name)
    in_matrix = {row[0] for row in MATRIX}
    assert not unnamed, f"Give these URL patterns a name and a row in MATRIX: {unnamed}"
    assert not in_urlconf - in_matrix, f"URL patterns with no row in MATRIX: {sorted(in_urlconf - in_matrix)}"
    assert not in_matrix - in_urlconf, f"MATRIX rows for URL names that no longer exist: {in_matrix - in_urlconf}"
    # The skip rules still match what they are meant to (so that they skip nothing else by accident).
    assert "accounts/logout/" in skipped["django auth view"]
    assert "accounts/login/" not in skipped["django auth view"]
    assert "admin/" not in skipped["admin site"]


MATRIX_CASES = [
    pytest.param(name, obj, persona, expect, id=f"{name}[{obj}]-{persona}->{expect!r}")
    for name, obj, *answers in MATRIX
    for persona, expect in zip(PERSONAS, answers, strict=True)
]


@pytest.mark.parametrize(("name", "obj", "persona", "expected"), MATRIX_CASES)
def test_matrix(world, name, obj, persona, expected):
    path = url_of(world, name, obj)
    assert resolve(urlsplit(path).path).view_name == name
    response = client_for(world, persona).get(path)
    if response.streaming:  # a file download: read to its end, which closes the file (never call close())
        assert response["Content-Disposition"].startswith("attachment")
        body = b"".join(response.streaming_content)
        # Evidence is the PDF uploaded; a frozen report's file is its cached CSV; the exports are made as they
        # are sent (an XLSX is a zip file).
        if name == "tracker:evidence-download":
            assert body == PDF_BYTES
        elif name == "tracker:update-export":
            assert body.startswith("\ufeffPeriod".encode())
        else:
            assert body.startswith(b"PK\x03\x04" if "xlsx" in obj else "\ufeffCode".encode())
    expected.check(response, world, path)


# --- The anonymous -----------------------------------------------------------------------------------------


def test_the_anonymous_go_to_the_login_page_configured(world):
    response = Client().get("/")
    assert urlsplit(response["Location"]).path == settings.LOGIN_URL == reverse("login")


# --- Writes: a refused POST changes nothing -----------------------------------------------------------------


def snapshot():
    """Everything a write could change: updates, evidence, current statuses and periods, field by field."""
    return (
        list(StatusUpdate.objects.order_by("pk").values()),
        list(Evidence.objects.order_by("pk").values()),
        list(CurrentStatus.objects.order_by("pk").values()),
        list(ReportingPeriod.objects.order_by("pk").values()),
    )


def update_form_data(**extra):
    return {
        "status": "completed",
        "progress": "100",
        "summary": "HIJACKED-MARKER written by whoever posted this",
        "next_steps": "",
        "blockers": "",
        "evidence_links": "https://attacker.example/evidence",
        "evidence_files": pdf("posted.pdf"),
        "submit": "1",
        **extra,
    }


def review_accept_data():
    return {"decision": "accept", "comment": "Fine."}


def period_form_data():
    return {"name": "2027 Q1", "start": "2027-01-01", "end": "2027-03-31", "due_date": "2027-04-15"}


def close_period_data():
    return {"state": "closed"}


FORM, ACCEPT, PERIOD, CLOSE = update_form_data, review_accept_data, period_form_data, close_period_data
SAVED = "saved"  # 302 and the database changed

# fmt: off
WRITES = [
    # URL name                object          data     anon   alice  charlie sec_mx sec_kr boss
    ("tracker:update-create", "A-318",        FORM,    LOGIN, SAVED, NO,    NO,    NO,    NO),
    ("tracker:update-create", "A-314",        FORM,    LOGIN, NO,    KR,    NO,    NO,    NO),
    ("tracker:update-edit",   "draft",        FORM,    LOGIN, SAVED, NF,    NF,    NF,    NF),
    ("tracker:update-edit",   "returned",     FORM,    LOGIN, SAVED, NF,    NO,    NO,    NO),
    ("tracker:update-edit",   "submitted",    FORM,    LOGIN, SEE,   NF,    NO,    NO,    NO),
    ("tracker:update-edit",   "accepted",     FORM,    LOGIN, SEE,   NO,    NO,    NO,    NO),
    ("tracker:review-update", "submitted",    ACCEPT,  LOGIN, NO,    NF,    SAVED, NO,    SAVED),
    ("tracker:review-update", "kr submitted", ACCEPT,  LOGIN, NF,    NO,    NO,    SAVED, SAVED),
    ("tracker:review-update", "draft",        ACCEPT,  LOGIN, NO,    NF,    NF,    NF,    NF),
    ("tracker:period-create", "-",            PERIOD,  LOGIN, NO,    NO,    SAVED, SAVED, SAVED),
    ("tracker:period-edit",   "period",       PERIOD,  LOGIN, NO,    NO,    SAVED, SAVED, SAVED),
    ("tracker:period-state",  "period",       CLOSE,   LOGIN, NO,    NO,    SAVED, SAVED, SAVED),
]
# fmt: on

WRITE_CASES = [
    pytest.param(name, obj, data, persona, expect, id=f"POST {name}[{obj}]-{persona}->{expect}")
    for name, obj, data, *answers in WRITES
    for persona, expect in zip(PERSONAS, answers, strict=True)
]


@pytest.mark.parametrize(("name", "obj", "data", "persona", "expected"), WRITE_CASES)
def test_post(world, name, obj, data, persona, expected):
    path = url_of(world, name, obj)
    before = snapshot()
    response = client_for(world, persona).post(path, data())
    if expected == SAVED:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert snapshot() != before
    else:
        expected.check(response, world, path)
        assert snapshot() == before, f"{persona}'s refused POST to {path} changed the database"


def test_charlie_posting_to_alices_draft_changes_nothing(world):
    """The issue's own case, spelled out: the edit URL of SE's draft, posted by KCS, to save and to submit."""
    client = client_for(world, "charlie")
    before = snapshot()
    history = StatusUpdate.history.count()
    files = list(world.draft_file.file.storage.listdir(world.draft_file.file.name.rsplit("/", 1)[0])[1])
    for button in ("submit", "draft"):
        data = update_form_data()
        data.pop("submit")
        data[button] = "1"
        response = client.post(reverse("tracker:update-edit", kwargs={"pk": world.draft.pk}), data)
        assert response.status_code == 404
    assert snapshot() == before
    assert StatusUpdate.history.count() == history
    assert list(world.draft_file.file.storage.listdir(world.draft_file.file.name.rsplit("/", 1)[0])[1]) == files
    world.draft.refresh_from_db()
    assert world.draft.summary == MARKERS["draft"] and world.draft.review_state == "draft"


# Who may decide on the submitted updates posted to the review queue's bulk form: (MX update, KR update).
BULK = {"anonymous": LOGIN, "alice": NO, "charlie": NO, "sec_mx": ("accepted", "submitted"),
        "sec_kr": ("submitted", "accepted"), "boss": ("accepted", "accepted")}  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
def test_bulk_review_decides_only_what_the_reviewer_may(world, persona):
    both = [world.submitted, world.kr_submitted]
    data = {"action": "accept", "updates": [f"{update.pk}:{update.version}" for update in both]}
    path = reverse("tracker:review-bulk")
    before = snapshot()
    response = client_for(world, persona).post(path, data)
    expected = BULK[persona]
    if isinstance(expected, Expect):
        expected.check(response, world, path)
        assert snapshot() == before, f"{persona}'s refused bulk review changed the database"
        return
    assert response.status_code == 302
    for update in both:
        update.refresh_from_db()
    assert (world.submitted.review_state, world.kr_submitted.review_state) == expected


def test_sec_kr_cannot_review_a_mexican_update_but_sec_mx_can(world):
    path = reverse("tracker:review-update", kwargs={"pk": world.submitted.pk})
    assert client_for(world, "sec_kr").get(path).status_code == 403
    assert client_for(world, "sec_kr").post(path, {"decision": "return", "comment": "No."}).status_code == 403
    world.submitted.refresh_from_db()
    assert world.submitted.review_state == "submitted" and world.submitted.reviewed_by is None
    queue = client_for(world, "sec_kr").get(reverse("tracker:review")).content.decode()
    assert not _links_to(queue, path), "sec_kr's queue must not offer a Mexican update"
    assert _links_to(queue, reverse("tracker:review-update", kwargs={"pk": world.kr_submitted.pk}))

    response = client_for(world, "sec_mx").post(path, {"decision": "return", "comment": "Add the figures."})
    assert response.status_code == 302
    world.submitted.refresh_from_db()
    assert world.submitted.review_state == "returned" and world.submitted.reviewed_by == world.people.sec_mx


# --- Nothing offers what a user may not see -----------------------------------------------------------------


def _links_to(content: str, path: str) -> bool:
    return re.search(re.escape(path) + r"""(edit/)?["'?#]""", content) is not None


# The pages that list updates, initiatives or evidence, as each persona sees them.
LISTING_PAGES = [
    ("tracker:home", "-"),
    ("tracker:initiative-list", "-"),
    ("tracker:initiative-list", "csv export"),
    ("tracker:update-export", "updates export"),
    ("tracker:initiative-detail", "A-316"),
    ("tracker:initiative-detail", "A-318"),
    ("tracker:initiative-detail", "SI-01"),
    ("tracker:initiative-detail", "A-001"),
    ("tracker:review", "-"),
]


def _page(world, persona, name, obj):
    response = client_for(world, persona).get(url_of(world, name, obj))
    if response.status_code == 403:  # the review queue, for an official
        return ""
    assert response.status_code == 200
    if response.streaming:  # an export, made as it is sent
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


# What each persona must never be shown: the markers and links of updates it may not read.
HIDDEN = {
    "charlie": ("draft", "submitted", "returned"),
    "sec_mx": ("draft", "sre_draft"),
    "sec_kr": ("draft",),
    "boss": ("draft",),
}


@pytest.mark.parametrize(("name", "obj"), LISTING_PAGES, ids=[f"{n}[{o}]" for n, o in LISTING_PAGES])
@pytest.mark.parametrize("persona", list(HIDDEN))
def test_hidden_updates_are_offered_nowhere(world, persona, name, obj):
    content = _page(world, persona, name, obj)
    for state in HIDDEN[persona]:
        update = getattr(world, state)
        assert MARKERS[state] not in content, f"{persona} is shown SE's {state} on {name}[{obj}]"
        assert not _links_to(content, reverse("tracker:update-detail", kwargs={"pk": update.pk}))
    for evidence in (world.draft_file, world.submitted_file, world.accepted_private_file):
        if persona == "charlie" or evidence == world.draft_file:
            assert not _links_to(content, reverse("tracker:evidence-download", kwargs={"pk": evidence.pk}))


def test_what_each_side_may_see_is_offered(world):
    """The other half of the check above: the pages do show what is visible (else the test above proves little)."""
    assert MARKERS["draft"] in _page(world, "alice", "tracker:update-detail", "draft")
    home = _page(world, "alice", "tracker:home", "-")
    assert _links_to(home, reverse("tracker:update-edit", kwargs={"pk": world.draft.pk}))
    queue = _page(world, "sec_mx", "tracker:review", "-")
    assert _links_to(queue, reverse("tracker:review-update", kwargs={"pk": world.submitted.pk}))
    detail = _page(world, "charlie", "tracker:initiative-detail", "A-318")
    assert MARKERS["accepted"] in detail
    assert _links_to(detail, reverse("tracker:evidence-download", kwargs={"pk": world.accepted_public_file.pk}))
    assert not _links_to(detail, reverse("tracker:evidence-download", kwargs={"pk": world.accepted_private_file.pk}))
    assert _links_to(
        _page(world, "sec_kr", "tracker:initiative-detail", "A-318"),
        reverse("tracker:evidence-download", kwargs={"pk": world.accepted_private_file.pk}),
    )


@pytest.mark.parametrize("persona", ["alice", "charlie", "sec_mx", "sec_kr", "boss"])
def test_the_list_and_its_export_show_accepted_statuses_only(world, persona):
    """A-316's only update is SE's draft, "blocked" at 77 %: no filter, sort or export may reveal it."""
    client = client_for(world, persona)
    listed = client.get(reverse("tracker:initiative-list"), {"status": "blocked"}).content.decode()
    assert "A-316" not in listed
    listed = client.get(reverse("tracker:initiative-list"), {"status": "none", "country": "MX", "q": "A-316"})
    assert "A-316" in listed.content.decode()
    export = client.get(reverse("tracker:initiative-list"), {"_export": "csv"})
    export = b"".join(export.streaming_content).decode("utf-8-sig")
    rows = {row["Code"]: row for row in csv.DictReader(io.StringIO(export))}
    assert len(rows) == Initiative.objects.count()
    assert rows["A-316"]["Status in Mexico"] == "" and rows["A-316"]["Progress in Mexico (%)"] == ""
    assert rows["A-318"]["Status in Mexico"] == "On track"
    assert "Blocked" not in export and "77" not in {value for row in rows.values() for value in row.values()}


# --- Evidence through the real form --------------------------------------------------------------------------


def test_evidence_uploaded_through_the_form_is_the_agencys_until_accepted_and_public(world, media):
    alice = client_for(world, "alice")
    response = alice.post(
        reverse("tracker:update-create", kwargs={"code": "A-318"}),
        {
            "status": "on_track",
            "progress": "40",
            "summary": "Second round of talks held.",
            "evidence_files": pdf("minutes.pdf"),
            "draft": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    update = StatusUpdate.objects.get(initiative__code="A-318", review_state="draft")
    evidence = update.evidence.get()
    assert evidence.content_type == "application/pdf" and evidence.original_name == "minutes.pdf"
    assert (media / evidence.file.name).read_bytes() == PDF_BYTES
    path = reverse("tracker:evidence-download", kwargs={"pk": evidence.pk})

    def answers():
        result = {}
        for persona in PERSONAS[1:]:
            response = client_for(world, persona).get(path)
            if response.status_code == 200:  # read to its end, which closes the file (never call close())
                assert b"".join(response.streaming_content) == PDF_BYTES
                assert response["Content-Disposition"].startswith("attachment")
            result[persona] = response.status_code
        return result

    assert answers() == {"alice": 200, "charlie": 404, "sec_mx": 404, "sec_kr": 404, "boss": 404}
    bob = Client()
    bob.force_login(world.people.bob)
    response = bob.get(path)  # alice's colleague at SE: the agency's evidence is his too
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES

    data = {"status": "on_track", "progress": "40", "summary": "Second round of talks held.", "submit": "1"}
    response = alice.post(reverse("tracker:update-edit", kwargs={"pk": update.pk}), data)
    assert response.status_code == 302
    assert answers() == {"alice": 200, "charlie": 404, "sec_mx": 200, "sec_kr": 200, "boss": 200}

    response = client_for(world, "sec_mx").post(
        reverse("tracker:review-update", kwargs={"pk": update.pk}), {"decision": "accept", "comment": ""}
    )
    assert response.status_code == 302
    assert answers() == {"alice": 200, "charlie": 404, "sec_mx": 200, "sec_kr": 200, "boss": 200}

    Evidence.objects.filter(pk=evidence.pk).update(is_public=True)
    assert answers() == {"alice": 200, "charlie": 200, "sec_mx": 200, "sec_kr": 200, "boss": 200}


# --- Whatever the query string, the list answers without a server error ------------------------------------

ODD_LIST_QUERIES = [
    "page=999",  # past the last page: 404 (Django's ListView pagination)
    "page=abc",
    "sort=no-such-column",
    "sort=-quote",
    "agency=999999",
    "meeting=abc",
    "status=no-such-status",
    "country=ZZ",
    "overdue=maybe",
    "per_page=0",
    "per_page=100000",
    "_export=no-such-format",
    "per_page=-1",
]


@pytest.mark.parametrize("query", ODD_LIST_QUERIES)
def test_odd_list_parameters_never_give_a_server_error(world, query):
    client = client_for(world, "charlie")
    client.raise_request_exception = False
    response = client.get(reverse("tracker:initiative-list") + "?" + query)
    assert response.status_code in (200, 404), f"?{query} answered {response.status_code}"


# --- Users the persona matrix leaves out ---------------------------------------------------------------------

TRACKER_PAGES = [
    ("tracker:home", "-"),
    ("tracker:initiative-list", "-"),
    ("tracker:initiative-list", "csv export"),
    ("tracker:update-export", "updates export"),
    ("tracker:initiative-detail", "A-318"),
    ("tracker:update-create", "A-318"),
    ("tracker:update-detail", "accepted"),
    ("tracker:update-edit", "draft"),
    ("tracker:evidence-download", "accepted public file"),
    ("tracker:review", "-"),
    ("tracker:review-update", "submitted"),
    ("tracker:periods", "-"),
    ("tracker:period-edit", "period"),
    ("tracker:preferences", "-"),
]


@pytest.mark.parametrize(("name", "obj"), TRACKER_PAGES, ids=[f"{n}[{o}]" for n, o in TRACKER_PAGES])
def test_a_user_without_a_role_is_refused_every_tracker_page(world, django_user_model, name, obj):
    stranger = django_user_model.objects.create_user("stranger", "stranger@example.invalid", "a-long-password-1")
    client = Client()
    client.force_login(stranger)
    assert client.get(url_of(world, name, obj)).status_code == 403


def test_alices_colleague_edits_the_agencys_draft(world):
    bob = Client()
    bob.force_login(world.people.bob)
    path = reverse("tracker:update-edit", kwargs={"pk": world.draft.pk})
    assert bob.get(path).status_code == 200
    data = update_form_data(summary="Bob finished it.")
    del data["evidence_files"]
    assert bob.post(path, data).status_code == 302
    world.draft.refresh_from_db()
    assert world.draft.review_state == "submitted" and world.draft.author == world.people.bob
