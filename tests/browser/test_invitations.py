"""Inviting officials in a real browser: the secretariat uploads a list of three, the invitation email is read from
the mail folder, its link followed in a fresh browser with a Korean locale, a password chosen, and the worklist
opens in the language the list gave (Spanish); the same link again is refused with a clear page.
"""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone, translation
from playwright.sync_api import Page, expect

from tests.browser.test_review_loop import log_in, messages
from tracker import reminders

pytestmark = [pytest.mark.browser, pytest.mark.once]

PEOPLE_CSV = (
    "\ufeffNombre;Correo electrónico;Dependencia;Idioma;Función\r\n"
    "Ana Torres;ana.torres@economia.gob.mx;SE;Español;Funcionario\r\n"
    "John Smith;john.smith@sct.gob.mx;Secretaría de Comunicaciones y Transportes;English;official\r\n"
    "Luis Pérez;luis.perez@hacienda.gob.mx;shcp;es;\r\n"
)
PASSWORD = "Quetzal-Hangang-2026"


def spanish(msgid: str) -> str:
    """What the page says in Spanish (the catalog's words, or the English until it has them)."""
    with translation.override("es"):
        return translation.gettext(msgid)


def emails_in(folder: Path) -> list[email.message.EmailMessage]:
    """The emails Django's file backend wrote: each file holds those of one connection, separated by dashes."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return found


def upload_the_list(page: Page, path: Path) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People", exact=True).click()
    expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()
    page.get_by_role("link", name="Invite people").click()
    expect(page.get_by_role("heading", name="Invite people", level=1)).to_be_visible()
    page.get_by_label("List of people", exact=True).set_input_files(path)
    page.get_by_role("button", name="Check the file and send the invitations").click()
    expect(messages(page)).to_contain_text("3 invitations sent")
    expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()


def test_invited_officials_open_their_accounts_from_the_email(
    new_page, personas, period, settings, tmp_path, monkeypatch
):
    folder = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    monkeypatch.setattr("tracker.tasks.kick_delivery", lambda: None)  # the test delivers, as a worker would

    secretariat = new_page()
    log_in(secretariat, "sec_mx")
    listing = tmp_path / "funcionarios.csv"
    listing.write_text(PEOPLE_CSV, encoding="utf-8")
    upload_the_list(secretariat, listing)
    for name in ("Ana Torres", "John Smith", "Luis Pérez"):
        expect(secretariat.get_by_role("row").filter(has_text=name)).to_contain_text("Invited")

    reminders.deliver(timezone.now())
    sent = {message["To"]: message for message in emails_in(folder)}
    assert sorted(sent) == ["ana.torres@economia.gob.mx", "john.smith@sct.gob.mx", "luis.perez@hacienda.gob.mx"]
    ana = sent["ana.torres@economia.gob.mx"]
    text = ana.get_body(preferencelist=("plain",)).get_content()
    assert "ana.torres" in text and "Secretaría de Economía" in text
    html = ana.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="es">' in html
    [link] = re.findall(r"https?://\S+/accounts/invitation/\S+/", text)
    path = urlsplit(link).path

    # A Korean browser: the list said Spanish, so the pages are in Spanish.
    invitee = new_page(locale="ko-KR")
    invitee.goto(path)
    expect(invitee.locator("html")).to_have_attribute("lang", "es")
    expect(invitee.get_by_role("heading", name=spanish("Set your password"), level=1)).to_be_visible()
    expect(invitee.get_by_text("ana.torres", exact=True)).to_be_visible()
    invitee.locator("#id_new_password1").fill(PASSWORD)
    invitee.locator("#id_new_password2").fill(PASSWORD)
    invitee.get_by_role("button", name=spanish("Set the password and sign in")).click()
    expect(invitee.get_by_role("heading", name="Mis actualizaciones", level=1)).to_be_visible()
    expect(invitee.locator("html")).to_have_attribute("lang", "es")
    assert urlsplit(invitee.url).path == "/"

    # The same link again: a clear page, not the form.
    response = invitee.goto(path)
    assert response.status == 410
    expect(invitee.get_by_role("heading", name=spanish("This invitation was used already"), level=1)).to_be_visible()
    expect(invitee.locator("#id_new_password1")).to_have_count(0)
    # And in a browser nobody signed in with, in that browser's language.
    stranger = new_page(locale="ko-KR")
    response = stranger.goto(path)
    assert response.status == 410
    expect(stranger.locator("html")).to_have_attribute("lang", "ko")
    expect(stranger.locator("#id_new_password1")).to_have_count(0)

    secretariat.reload()
    expect(secretariat.get_by_role("row").filter(has_text="Ana Torres")).to_contain_text("Active")
