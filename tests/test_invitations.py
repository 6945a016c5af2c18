"""Inviting officials and secretariat members (tracker/invitations.py, tracker/views/people.py).

sec_mx (Mexico's Technical Secretariat) invites Mexican officials, sec_kr Korean ones; the admin anyone; alice (an
official) nobody. Files are made as people make them: CSVs with a byte order mark and semicolons (Excel in Spanish),
XLSX with Korean headings. The invitation email is read from the outbox after a delivery, its link followed with a
fresh browser-like client, and the clock moved past the link's 7 days.
"""

from __future__ import annotations

import datetime
import io
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook

from tests.conftest import make_person
from tracker import invitations, reminders
from tracker.choices import ReminderKind, ReminderState
from tracker.models import Agency, Invitation, Profile, Reminder

pytestmark = pytest.mark.django_db

User = get_user_model()
PEOPLE = "/people/"
INVITE = "/people/invite/"
START = datetime.datetime(2026, 12, 1, 15, 0, tzinfo=datetime.UTC)
PASSWORD = "Quetzal-Hangang-2026"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sec_mx(personas):
    return signed_in(personas.sec_mx)


@pytest.fixture
def sec_kr(personas):
    return signed_in(personas.sec_kr)


# --- What a secretariat does -------------------------------------------------------------------------------


def invite_one(client, **data):
    form = {"form": "person", "name": "María José López", "email": "maria.lopez@economia.gob.mx", "agency": "SE"}
    form |= {"language": "es", "role": "official"} | data
    return client.post(INVITE, form)


def csv_bytes(rows, *, delimiter=",", bom=True) -> bytes:
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def xlsx_bytes(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def upload(client, content: bytes, name="people.csv"):
    return client.post(INVITE, {"form": "file", "file": SimpleUploadedFile(name, content)})


THREE_MEXICANS = [
    ["Nombre", "Correo electrónico", "Dependencia", "Idioma", "Función"],
    ["Ana Torres", "ana.torres@economia.gob.mx", "SE", "Español", "Funcionario"],
    ["John Smith", "john.smith@sct.gob.mx", "Secretaría de Comunicaciones y Transportes", "English", "official"],
    ["Luis Pérez", "luis.perez@hacienda.gob.mx", "shcp", "es", ""],
]


def deliver() -> list:
    """Send what the outbox holds, as a worker does; the emails sent."""
    mail.outbox = []
    reminders.deliver(timezone.now())
    return list(mail.outbox)


def html_of(message) -> str:
    assert message.alternatives[0][1] == "text/html"
    return message.alternatives[0][0]


def link_of(message) -> str:
    """The invitation link's path, from the plain-text part."""
    found = re.findall(r"https?://\S+/accounts/invitation/\S+/", message.body)
    assert len(found) == 1, message.body
    assert found[0] in html_of(message)
    return urlsplit(found[0]).path


def in_language(language: str, msgid: str, **params) -> str:
    with translation.override(language):
        return translation.gettext(msgid) % params


def visitor(language="en") -> Client:
    return Client(headers={"accept-language": f"{language},en;q=0.5"})


def choose_password(client, path, password=PASSWORD):
    return client.post(path, {"new_password1": password, "new_password2": password})


# --- One person by hand ---------------------------------------------------------------------------------------


def test_a_person_invited_by_hand_gets_an_inactive_account_a_profile_and_one_email_in_spanish(
    sec_mx, personas, monkeypatch, django_capture_on_commit_callbacks
):
    kicked = []
    monkeypatch.setattr("tracker.tasks.kick_delivery", lambda: kicked.append(True))
    with django_capture_on_commit_callbacks(execute=True):
        response = invite_one(sec_mx)
    assert response.status_code == 302 and response["Location"] == reverse("tracker:people")
    assert kicked == [True], "a worker is asked to deliver once the invitation is saved"

    user = User.objects.get(email="maria.lopez@economia.gob.mx")
    assert user.username == "maria.lopez" and user.get_full_name() == "María José López"
    assert not user.is_active and not user.has_usable_password()
    profile = user.profile
    assert (profile.role, profile.agency.key, profile.language, str(profile.time_zone)) == (
        "official",
        "se",
        "es",
        "America/Mexico_City",
    )
    invitation = user.invitation
    assert invitation.invited_by == personas.sec_mx and invitation.times_sent == 1 and invitation.accepted_at is None
    row = Reminder.objects.get(kind=ReminderKind.INVITATION)
    assert (row.key, row.recipient, row.state, row.planned_at) == (
        f"invitation:u{user.pk}:n1",
        user,
        ReminderState.PENDING,
        START,
    )
    assert user.history.count() == 1 and profile.history.first().history_user == personas.sec_mx

    [message] = deliver()
    assert message.to == ["maria.lopez@economia.gob.mx"]
    html = html_of(message)
    assert '<html lang="es">' in html
    assert message.subject == in_language(
        "es", "%(inviter)s invites you to the Mexico–Korea Commission tracker", inviter="Sec_mx"
    )
    for body in (message.body, html):
        assert "maria.lopez" in body  # the username
        assert "Secretaría de Economía" in body  # the agency in Spanish
        assert "8 de diciembre de 2026" in body  # the link's last day, as Spanish writes dates
        assert "Sec_mx" in body  # who invited her
    assert message.extra_headers["X-Tracker-Reminder"] == f"invitation:u{user.pk}:n1"
    assert Reminder.objects.get(pk=row.pk).state == ReminderState.SENT
    assert deliver() == [], "sent once"

    page = visitor().get(link_of(message))
    assert page.status_code == 200
    content = page.content.decode()
    assert '<html lang="es">' in content, "the page speaks the invitation's language"
    assert "maria.lopez" in content and 'name="new_password1"' in content


def test_a_korean_official_gets_the_invitation_in_korean(sec_kr):
    response = invite_one(sec_kr, name="김민수", email="minsu.kim@customs.go.kr", agency="관세청", language="ko")
    assert response.status_code == 302
    [message] = deliver()
    html = html_of(message)
    assert '<html lang="ko">' in html
    assert message.subject == in_language(
        "ko", "%(inviter)s invites you to the Mexico–Korea Commission tracker", inviter="Sec_kr"
    )
    for body in (message.body, html):
        assert "minsu.kim" in body and "관세청" in body
        assert "2026년 12월 9일" in body  # 7 days after 00:00 KST on 2 December, in Korean
        assert "KST" in body
    user = User.objects.get(username="minsu.kim")
    assert str(user.profile.time_zone) == "Asia/Seoul" and user.profile.agency.key == "kcs"


def test_a_form_error_shows_under_its_field_and_keeps_what_was_typed(sec_mx, personas):
    response = invite_one(sec_mx, email=personas.alice.email.upper(), agency="Nonexistent Ministry")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["email"] == ["An account with this email exists already."]
    assert form.errors["agency"] == ["No agency with initiatives matches “Nonexistent Ministry”."]
    content = response.content.decode()
    assert 'value="María José López"' in content and 'value="Nonexistent Ministry"' in content
    assert not Invitation.objects.exists() and not Reminder.objects.exists()


def test_the_people_pages_link_prefills_the_agency(sec_mx):
    sre = Agency.objects.get(key="sre")
    response = sec_mx.get(f"{INVITE}?agency={sre.pk}&role=official")
    assert response.context["form"].initial["agency"] == "SRE"
    assert 'value="SRE"' in response.content.decode()
    # The dashboard's links name the agency by its acronym.
    assert 'value="SCT"' in sec_mx.get(f"{INVITE}?agency=SCT").content.decode()
    assert sec_mx.get(f"{INVITE}?agency=99999999999999999999").status_code == 200


# --- A list of people --------------------------------------------------------------------------------------


def test_a_csv_with_a_byte_order_mark_semicolons_and_spanish_headings_invites_three(sec_mx):
    response = upload(sec_mx, csv_bytes(THREE_MEXICANS, delimiter=";"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    page = sec_mx.get(response["Location"])
    assert "3 invitations sent" in page.content.decode()
    people = {user.email: user for user in User.objects.filter(invitation__isnull=False)}
    assert {email: (u.profile.agency.key, u.profile.language, u.profile.role) for email, u in people.items()} == {
        "ana.torres@economia.gob.mx": ("se", "es", "official"),
        "john.smith@sct.gob.mx": ("sct", "en", "official"),
        "luis.perez@hacienda.gob.mx": ("shcp", "es", "official"),
    }
    sent = deliver()
    assert sorted(message.to[0] for message in sent) == sorted(people)
    english = next(message for message in sent if message.to == ["john.smith@sct.gob.mx"])
    assert english.subject == "Sec_mx invites you to the Mexico–Korea Commission tracker"
    assert "john.smith" in english.body and "Dec. 8, 2026" in english.body


def test_an_xlsx_with_korean_headings_invites_three(sec_kr):
    content = xlsx_bytes(
        [
            ["이름", "이메일", "기관", "언어", "역할"],
            ["김민수", "minsu.kim@customs.go.kr", "KCS", "한국어", "담당관"],
            ["이서연", "seoyeon.lee@mocie.go.kr", "산업자원부", "Korean", "official"],
            ["Park Jiho", "jiho.park@mofat.go.kr", "MOFAT", "ko-KR", "사무국"],
        ]
    )
    response = upload(sec_kr, content, "people.xlsx")
    assert response.status_code == 302, response.content.decode()[-3000:]
    roles = {u.username: (u.profile.agency.key, u.profile.role) for u in User.objects.filter(invitation__isnull=False)}
    assert roles == {
        "minsu.kim": ("kcs", "official"),
        "seoyeon.lee": ("mocie", "official"),
        "jiho.park": ("mofat", "secretariat"),
    }
    sent = deliver()
    assert len(sent) == 3 and all('<html lang="ko">' in html_of(message) for message in sent)


def test_usernames_are_made_unique(sec_mx, personas):
    make_person("ana.torres", "official", "se")
    response = upload(sec_mx, csv_bytes(THREE_MEXICANS))
    assert response.status_code == 302
    assert User.objects.get(email="ana.torres@economia.gob.mx").username == "ana.torres2"


BAD_ROWS = {
    "unknown agency": (["Eva Ruiz", "eva.ruiz@gob.mx", "Ministry of Magic", "es", "official"], "Agency", "No agency"),
    "taken email": (["Alice Again", "ALICE@example.invalid", "SE", "es", "official"], "Email", "exists already"),
    "duplicate email": (["Ana Otra", "ana.torres@economia.gob.mx", "SE", "es", "official"], "Email", "also on row 2"),
    "invalid email": (["Eva Ruiz", "eva.ruiz@", "SE", "es", "official"], "Email", "not an email address"),
    "missing name": (["", "eva.ruiz@gob.mx", "SE", "es", "official"], "Name", "needs a name"),
    "unknown language": (["Eva Ruiz", "eva.ruiz@gob.mx", "SE", "Klingon", "official"], "Language", "not a language"),
    "unknown role": (["Eva Ruiz", "eva.ruiz@gob.mx", "SE", "es", "Minister"], "Role", "not a role"),
    "a Korean agency": (["Eva Ruiz", "eva.ruiz@gob.mx", "KCS", "es", "official"], "Agency", "Mexico's agencies only"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_one_bad_row_among_several_saves_nothing_and_names_its_row_and_column(sec_mx, personas, case):
    good = [["Name", "Email", "Agency", "Language", "Role"], *THREE_MEXICANS[1:]]
    assert upload(sec_mx, csv_bytes(good)).status_code == 302  # the same file without the bad row is fine
    User.objects.filter(invitation__isnull=False).delete()
    Reminder.objects.all().delete()
    users, profiles = User.objects.count(), Profile.objects.count()

    bad_row, column, words = BAD_ROWS[case]
    response = upload(sec_mx, csv_bytes([*good, bad_row]))
    assert response.status_code == 200
    problems = response.context["checked"].problems
    expected = [(2, "Email"), (5, "Email")] if case == "duplicate email" else [(5, column)]
    assert [(problem.row, problem.column) for problem in problems] == expected, problems
    assert words in problems[-1].message
    content = response.content.decode()
    assert "Nobody was invited, and nothing of the file was saved." in content
    assert words in unescape(content)
    assert (User.objects.count(), Profile.objects.count()) == (users, profiles)
    assert not Invitation.objects.exists() and not Reminder.objects.exists()


def test_the_problems_are_named_in_the_users_language(sec_kr, personas):
    Profile.objects.filter(user=personas.sec_kr).update(language="ko")
    content = csv_bytes([["Name", "Email", "Agency"], ["김민수", "minsu.kim@customs.go.kr", "없는 기관"]])
    response = upload(sec_kr, content)
    [problem] = response.context["checked"].problems
    assert problem.column == "기관"
    assert problem.message == "“없는 기관”에 해당하는, 과제를 맡은 기관이 없습니다."


def test_a_formula_is_refused_not_calculated(sec_mx):
    content = xlsx_bytes([["Name", "Email", "Agency"], ["Eva Ruiz", '=CONCAT("eva", "@gob.mx")', "SE"]])
    response = upload(sec_mx, content, "people.xlsx")
    [problem] = response.context["checked"].problems
    assert (problem.row, problem.column) == (2, "Email") and "formula" in problem.message
    assert not Invitation.objects.exists()


def test_files_that_cannot_be_read_are_refused_with_the_reason(sec_mx):
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    for content, words in (
        (pdf, "This file is not a list the tracker can read."),
        (b"Dear colleagues,\nplease find the list attached.\n", "No row of this file has the headings"),
        (csv_bytes([["Name", "Email"], ["Eva", "eva@gob.mx"]]), "The file has no Agency column"),
    ):
        response = upload(sec_mx, content)
        assert response.status_code == 200
        assert words in " ".join(response.context["file_form"].errors["file"])
    assert not User.objects.filter(invitation__isnull=False).exists()


def test_languages_and_roles_are_read_in_any_of_the_three_languages():
    names = invitations.language_names()
    for text, code in [("es", "es"), ("Español", "es"), ("spanish", "es"), ("Inglés", "en"), ("영어", "en")]:
        assert names[invitations.tabular.normal(text)] == code, text
    for text, code in [("Coreano", "ko"), ("한국어", "ko"), ("Korean", "ko"), ("KO", "ko")]:
        assert names[invitations.tabular.normal(text)] == code, text
    roles = invitations.role_names()
    for text, role in [("Funcionario(a)", "official"), ("담당관", "official"), ("Secretaría Técnica", "secretariat")]:
        assert roles[invitations.tabular.normal(text)] == role, text


# --- Who may invite whom -----------------------------------------------------------------------------------


def test_a_mexican_secretariat_cannot_invite_into_a_korean_agency(sec_mx):
    response = invite_one(sec_mx, agency="KCS", email="someone@customs.go.kr")
    assert response.status_code == 200
    assert response.context["form"].errors["agency"] == [
        "Korea Customs Service (KCS) is an agency of Korea: you may invite people of Mexico's agencies only."
    ]
    assert not User.objects.filter(email="someone@customs.go.kr").exists()


def test_an_official_cannot_open_the_people_pages(personas):
    alice = signed_in(personas.alice)
    assert alice.get(PEOPLE).status_code == 403
    assert alice.get(INVITE).status_code == 403
    assert invite_one(alice).status_code == 403
    assert not User.objects.filter(email="maria.lopez@economia.gob.mx").exists()
    assert "/people/" not in alice.get(reverse("tracker:home")).content.decode()  # not offered in the menu


def test_the_admin_invites_anyone_and_the_people_page_lists_them(personas):
    boss = signed_in(personas.admin)
    assert invite_one(boss, agency="KCS", email="a@customs.go.kr", name="Kim A", role="secretariat").status_code == 302
    assert invite_one(boss, agency="SE", email="b@economia.gob.mx", name="Bea B").status_code == 302
    page = boss.get(PEOPLE).content.decode()
    assert "Kim A" in page and "Bea B" in page and "Alice" in page and "Charlie" in page


# --- The people page ---------------------------------------------------------------------------------------


def test_the_people_page_shows_where_each_stands_and_the_agencies_nobody_is_chased_for(sec_mx, personas, period):
    invite_one(sec_mx, agency="SRE", email="new@sre.gob.mx", name="Nuevo Oficial")
    page = sec_mx.get(PEOPLE)
    content = page.content.decode()
    unchased = {item["agency"].key: item for item in page.context["unchased"]}
    assert "se" not in unchased, "alice and bob are SE's active officials"
    assert "kcs" not in unchased, "a Mexican secretariat sees Mexico's agencies only"
    assert unchased["sre"]["owed"] > 0 and unchased["sre"]["invited"] == 1
    sre = Agency.objects.get(key="sre")
    assert f"{INVITE}?agency={sre.pk}&amp;role=official" in content
    assert "Nuevo Oficial" in content and "Charlie" not in content
    assert "Dec. 8, 2026" in content  # when the link expires
    rows = {row.user.username: row.state for group in page.context["groups"] for row in group.people}
    assert rows["alice"] == "active" and rows["new"] == "invited"


def test_the_people_pages_queries_do_not_grow_with_the_people(sec_mx, personas, period):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert sec_mx.get(PEOPLE).status_code == 200
        return len(queries)

    for n in range(3):
        invite_one(sec_mx, email=f"few{n}@economia.gob.mx", name=f"Few {n}")
    few = count()
    for n in range(15):
        invite_one(sec_mx, email=f"many{n}@economia.gob.mx", name=f"Many {n}", agency=["SE", "SCT", "SHCP"][n % 3])
    # 1 the session, 2 the user with profile and agency, 3 the open period, 4 the agencies that owe updates with
    # no active official, 5 those agencies, 6 the people with their accounts, invitations and inviters.
    assert count() == few == 6


# --- Sending again -----------------------------------------------------------------------------------------


def test_sending_again_makes_a_new_email_and_the_earlier_link_stops_working(sec_mx, personas, clock):
    invite_one(sec_mx)
    [first] = deliver()
    invitation = Invitation.objects.get()
    clock.shift(datetime.timedelta(days=2))
    sec_mx.force_login(personas.sec_mx)  # two days later: a new session
    response = sec_mx.post(reverse("tracker:people-resend", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.times_sent == 2 and invitation.last_sent_at == START + datetime.timedelta(days=2)
    [second] = deliver()
    assert link_of(second) != link_of(first)
    assert second.extra_headers["Message-ID"] != first.extra_headers["Message-ID"]
    assert "10 de diciembre de 2026" in second.body  # a new week from the new sending

    old = visitor().get(link_of(first))
    assert old.status_code == 410
    assert "This invitation was sent again" in old.content.decode()
    assert visitor().get(link_of(second)).status_code == 200


def test_an_open_account_is_not_sent_again(sec_mx, personas):
    invite_one(sec_mx)
    [message] = deliver()
    choose_password(visitor(), link_of(message))
    response = sec_mx.post(reverse("tracker:people-resend", args=[Invitation.objects.get().pk]), follow=True)
    assert "has set a password already" in response.content.decode()
    assert deliver() == []


def test_a_secretariat_cannot_send_again_an_invitation_of_the_other_country(sec_mx, sec_kr):
    invite_one(sec_kr, name="김민수", email="minsu.kim@customs.go.kr", agency="KCS", language="ko")
    invitation = Invitation.objects.get()
    assert sec_mx.post(reverse("tracker:people-resend", args=[invitation.pk])).status_code == 404
    assert Invitation.objects.get().times_sent == 1


def test_the_admin_sends_again_from_the_admin(personas, sec_mx):
    invite_one(sec_mx)
    deliver()
    boss = signed_in(personas.admin)
    changelist = reverse("admin:tracker_invitation_changelist")
    assert boss.get(changelist).status_code == 200
    invitation = Invitation.objects.get()
    response = boss.post(changelist, {"action": "send_again", "_selected_action": [invitation.pk]}, follow=True)
    assert "1 invitation sent again." in response.content.decode()
    assert Invitation.objects.get().times_sent == 2 and len(deliver()) == 1


# --- Following the link ------------------------------------------------------------------------------------


def test_the_link_sets_the_password_signs_in_and_lands_on_the_worklist_in_the_invited_language(sec_mx, period):
    invite_one(sec_mx)
    [message] = deliver()
    browser = visitor("ko")  # a Korean browser: the invitation said Spanish
    path = link_of(message)
    weak = choose_password(browser, path, "short")
    assert weak.status_code == 200 and weak.context["form"].errors
    assert not User.objects.get(username="maria.lopez").is_active

    response = choose_password(browser, path)
    assert response.status_code == 302 and response["Location"] == reverse("tracker:home")
    user = User.objects.get(username="maria.lopez")
    assert user.is_active and user.check_password(PASSWORD)
    assert user.invitation.accepted_at == START
    assert user.invitation.history.first().history_user == user, "the audit says who opened the account"
    assert user.history.first().history_user == user and user.history.first().is_active
    home = browser.get(response["Location"])
    assert home.status_code == 200 and home.context["user"] == user
    assert "tracker/home_official.html" in [template.name for template in home.templates]
    content = home.content.decode()
    assert '<html lang="es">' in content and "Mis actualizaciones" in content
    # The user signs in with the password from then on.
    again = Client()
    signing_in = again.post(reverse("login"), {"username": "maria.lopez", "password": PASSWORD})
    assert signing_in.status_code == 302 and again.get(reverse("tracker:home")).status_code == 200


def test_a_used_link_gets_a_clear_page(sec_mx, period):
    invite_one(sec_mx)
    [message] = deliver()
    path = link_of(message)
    assert choose_password(visitor(), path).status_code == 302
    for client in (visitor("es"), visitor()):
        page = client.get(path)
        assert page.status_code == 410
        assert "new_password1" not in page.content.decode(), "never the form"
    page = visitor().get(path).content.decode()
    assert "This invitation was used already" in page and reverse("login") in page
    replayed = choose_password(visitor(), path, "Another-Password-2027")
    assert replayed.status_code == 410
    assert User.objects.get(username="maria.lopez").check_password(PASSWORD)


def test_after_seven_days_the_link_gets_a_clear_page_naming_the_inviter(sec_mx, personas, clock):
    invite_one(sec_mx)
    [message] = deliver()
    path = link_of(message)
    clock.shift(datetime.timedelta(days=7) - datetime.timedelta(minutes=1))
    assert visitor().get(path).status_code == 200, "still valid on its last day"
    clock.shift(datetime.timedelta(minutes=2))
    page = visitor().get(path)
    assert page.status_code == 410
    content = page.content.decode()
    assert "This invitation has expired" in content and "Ask Sec_mx, who invited you" in content
    assert "new_password1" not in content
    assert choose_password(visitor(), path).status_code == 410
    assert not User.objects.get(username="maria.lopez").is_active
    sec_mx.force_login(personas.sec_mx)  # a week later: a new session
    assert "Invitation expired" in sec_mx.get(PEOPLE).content.decode()


def test_a_bad_link_gets_a_clear_page_that_says_nothing_of_the_account(sec_mx):
    invite_one(sec_mx)
    [message] = deliver()
    uid, token = link_of(message).strip("/").split("/")[-2:]
    stranger = User.objects.get(username="alice")
    from django.utils.http import urlsafe_base64_encode

    pages = []
    for bad in (
        f"/accounts/invitation/{uid}/{token[:-1]}x/",  # a changed token
        f"/accounts/invitation/{uid}/not-a-token/",
        f"/accounts/invitation/{urlsafe_base64_encode(b'999999')}/{token}/",  # no such account
        f"/accounts/invitation/{urlsafe_base64_encode(str(stranger.pk).encode())}/{token}/",  # not invited
        "/accounts/invitation/%%%/x/",
    ):
        page = visitor().get(bad)
        assert page.status_code == 400, bad
        content = page.content.decode()
        assert "This invitation link does not work" in content and "new_password1" not in content
        pages.append(content[content.index("<main") : content.index("</main>")])
    assert len(set(pages)) == 1, "the same page whatever the account"
    assert "maria" not in pages[0] and "Sec_mx" not in pages[0]


def test_the_refused_page_reads_in_the_visitors_language(sec_mx):
    page = visitor("es").get("/accounts/invitation/MQ/bad-token/")
    assert page.status_code == 400 and '<html lang="es">' in page.content.decode()


def test_an_invited_secretariat_member_is_sent_to_set_up_two_factor_sign_in(personas, settings, period):
    boss = signed_in(personas.admin)
    invite_one(boss, agency="SRE", email="nueva@sre.gob.mx", name="Nueva Secretaria", role="secretariat")
    [message] = deliver()
    settings.TWO_FACTOR_REQUIRED = True  # as in production
    browser = visitor()
    response = choose_password(browser, link_of(message))
    assert response.status_code == 302 and response["Location"] == reverse("tracker:home")
    gate = browser.get(reverse("tracker:home"))
    assert gate.status_code == 302 and gate["Location"] == f"{reverse('two-factor')}?next=/"
    setup = browser.get(gate["Location"])
    assert setup.status_code == 200, "the set-up page itself, not another redirect"
    assert 'src="data:image/svg+xml' in setup.content.decode()


def test_an_email_built_after_the_account_was_opened_is_not_sent(sec_mx):
    invite_one(sec_mx)
    [message] = deliver()
    invitation = Invitation.objects.get()
    row = Reminder.objects.get()
    choose_password(visitor(), link_of(message))
    with pytest.raises(invitations.AlreadyAccepted):
        invitations.invitation_email(row.key, row, late=False)
    assert invitation.user.reminders.filter(state=ReminderState.PENDING).count() == 0


def test_a_language_chosen_on_the_page_wins_and_is_kept(sec_mx, period):
    invite_one(sec_mx)  # the invitation says Spanish
    [message] = deliver()
    browser = visitor()
    browser.cookies["django_language"] = "ko"  # the switcher on the page, as set_language leaves it
    page = browser.get(link_of(message))
    assert '<html lang="ko">' in page.content.decode()
    choose_password(browser, link_of(message))
    assert User.objects.get(username="maria.lopez").profile.language == "ko"
    assert '<html lang="ko">' in browser.get(reverse("tracker:home")).content.decode()


def test_an_agency_typed_as_an_odd_number_is_an_error_not_a_server_error(sec_mx):
    response = invite_one(sec_mx, agency="²")
    assert response.status_code == 200 and response.context["form"].errors["agency"]
