"""The interface in Spanish and Korean: complete catalogs, every page rendered with no English left, the switcher.

The pages are those of the persona matrix (tests/test_permissions.py): every URL a persona may open, rendered
as that persona in es and in ko, plus the pages the matrix does not list (forms with errors, the admin's own
pages, the account pages). On each page, the text a person reads (text, titles, labels, placeholders, button
values) is compared with the English msgids of the project's catalog: a msgid of several words found anywhere,
or a one-word msgid that is a whole text on its own, is an interface string left in English. What the report
says (quotes, matrix cells, the report text) is marked lang="en" in the templates and is not checked: it stays
in the English the two governments received.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.test_permissions import MATRIX, OK, PERSONAS, client_for, media, url_of, user_of, world  # noqa: F401
from tracker.models import Initiative, Profile

pytestmark = [pytest.mark.django_db, pytest.mark.once]  # the catalogs and templates: one database is enough

LANGUAGES = ("es", "ko")
LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
# The command that refreshes the catalogs from the code (documented in the README).
# Where the code marks strings for the catalogs (the README's makemessages ignores everything else).
SOURCE_DIRS = ["tracker", "templates"]


def catalog(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"))


# --- The catalogs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalog_is_complete_and_its_compiled_file_is_current(language):
    po = catalog(language)
    assert not po.untranslated_entries(), [e.msgid for e in po.untranslated_entries()][:20]
    assert not po.fuzzy_entries(), [e.msgid for e in po.fuzzy_entries()][:20]
    assert not po.obsolete_entries(), "run makemessages with --no-obsolete"
    for entry in po.translated_entries():
        for placeholder in set(re.findall(r"%\(\w+\)s|%s|%d", entry.msgid)):
            translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
            for text in translations:
                assert placeholder in text, f"{language}: {entry.msgid!r} lost {placeholder} in {text!r}"
    compiled = polib.mofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.mo"))
    compiled_text = {(e.msgctxt, e.msgid): e.msgstr or dict(e.msgstr_plural) for e in compiled}
    source_text = {(e.msgctxt, e.msgid): e.msgstr or dict(e.msgstr_plural) for e in po.translated_entries()}
    assert compiled_text == source_text, f"compile {language}: python manage.py compilemessages"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalog_holds_every_string_the_code_marks(language, tmp_path, settings, monkeypatch):
    """A string marked for translation but not yet in the committed catalog is an untranslated string."""
    # makemessages writes each source file's strings to the nearest locale/ above it: run it in a copy of the
    # project (the catalogs copied, the code linked), or it would write to the committed catalogs themselves.
    shutil.copytree(LOCALE_DIR, tmp_path / "locale")
    for name in SOURCE_DIRS:
        (tmp_path / name).symlink_to(settings.BASE_DIR / name, target_is_directory=True)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=[language], symlinks=True, no_obsolete=True, verbosity=0)
    fresh = polib.pofile(str(tmp_path / "locale" / language / "LC_MESSAGES" / "django.po"))
    committed = {(e.msgctxt, e.msgid) for e in catalog(language)}
    missing = sorted(e.msgid for e in fresh if (e.msgctxt, e.msgid) not in committed)
    assert not missing, (
        f"strings the code marks that the {language} catalog lacks (run makemessages and translate): {missing[:20]}"
    )


# --- Reading a page as a person would -------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


class ReadableText(HTMLParser):
    """The texts a person reads on a page, outside scripts, styles and passages marked as English data."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, inside an English or hidden passage)
        self.texts: list[str] = []

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = self.skipping or tag in ("script", "style") or attrs.get("lang") == "en"
        if not skip:
            self.texts.extend(attrs[name] for name in READ_ATTRIBUTES if attrs.get(name))
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.texts.append(attrs["value"])
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.texts.append(data)


def readable_texts(html: str) -> list[str]:
    parser = ReadableText()
    parser.feed(html)
    return [" ".join(text.split()) for text in parser.texts]


# Django's admin writes the search box's icon text in English, untranslated ("Search", search_form.html).
DJANGO_UNTRANSLATED = {"Search"}


def english_data() -> list[str]:
    """The catalog's English texts a page may show where no translation exists: the report's words, not ours."""
    from tracker.models import Agency, MatrixIssue, Mechanism

    texts = [
        *Initiative.objects.values_list("title", flat=True),
        *Agency.objects.values_list("name", flat=True),
        *Mechanism.objects.values_list("name", flat=True),
        *MatrixIssue.objects.values_list("issue", flat=True),
    ]
    return sorted({" ".join(text.split()) for text in texts}, key=len, reverse=True)


class EnglishInterface:
    """The project's English msgids that Spanish or Korean say differently, ready to be looked for on a page."""

    def __init__(self):
        self.words: set[str] = set()  # one-word strings: English when a whole text is exactly one of them
        self.phrases: list[tuple[str, re.Pattern]] = []  # the longest fixed part, and the whole as a pattern
        self.data: list[str] | None = None  # read from the database at the first page
        korean = {entry.msgid: entry.msgstr for entry in catalog("ko")}
        for entry in catalog("es"):
            if entry.msgid in (entry.msgstr, korean.get(entry.msgid)) or not re.search(r"[A-Za-z]{2}", entry.msgid):
                continue  # "PDF", "CSV", "%(done)s/%(due)s": the same in every language
            text = " ".join(entry.msgid.split())
            parts = [p for p in re.split(r"%\(\w+\)[sd]|%[sd]", text) if p.strip()]
            if len(parts) == 1 and " " not in parts[0].strip() and parts[0] == text:
                self.words.add(text)
                continue
            longest = max(parts, key=len).strip()
            if len(longest) < 8 or " " not in longest:
                continue  # nothing distinctive enough to look for without false alarms
            pattern = r"\s*".join(
                r".{1,200}?" if re.fullmatch(r"%\(\w+\)[sd]|%[sd]", piece) else re.escape(piece.strip())
                for piece in re.split(r"(%\(\w+\)[sd]|%[sd])", text)
                if piece.strip()
            )
            self.phrases.append((longest, re.compile(pattern)))

    def left_in(self, html: str) -> list[str]:
        texts = [text for text in readable_texts(html) if text not in DJANGO_UNTRANSLATED]
        whole = " ".join(texts)
        if self.data is None:
            self.data = english_data()
        for data in self.data:  # a title such as "... the strategic initiatives" is the report's, not ours
            whole = whole.replace(data, " ")
        found = sorted({text for text in texts if text in self.words})
        found += [pattern.pattern for longest, pattern in self.phrases if longest in whole and pattern.search(whole)]
        return found


@pytest.fixture(scope="module")
def english():
    return EnglishInterface()


def speak(world, persona: str, language: str) -> Client:
    """A client for the persona, in the language: the profile's for a user, the browser's for a visitor."""
    if persona == "anonymous":
        return Client(headers={"accept-language": f"{language},en;q=0.5"})
    Profile.objects.filter(user=user_of(world, persona)).update(language=language)
    return client_for(world, persona)


def assert_translated(response, english, language, label):
    assert response.status_code == 200, f"{label}: {response.status_code}"
    html = response.content.decode()
    assert f'<html lang="{language}"' in html, f"{label}: not rendered in {language}"
    left = english.left_in(html)
    assert not left, f"{label} in {language} still says, in English: {left}"


PAGES = [
    (name, obj, persona)
    for name, obj, *answers in MATRIX
    for persona, expected in zip(PERSONAS, answers, strict=True)
    if expected is OK and not obj.endswith(("csv", "export", "file")) and name not in ("healthz",)
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_of_the_matrix_reads_in_the_language(world, english, language):
    """Each page once per persona that may open it (some pages show each role something else)."""
    problems = []
    for name, obj, persona in PAGES:
        client = speak(world, persona, language)
        path = url_of(world, name, obj)
        response = client.get(path)
        if response.get("Content-Type", "").startswith("text/html"):
            try:
                assert_translated(response, english, language, f"{path} as {persona}")
            except AssertionError as problem:
                problems.append(str(problem))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_forms_with_errors_and_account_pages_read_in_the_language(world, english, language):
    people = world.people
    alice = speak(world, "alice", language)
    # An update form sent empty: every field's message.
    response = alice.post(reverse("tracker:update-create", args=["A-318"]), {"action": "submit"})
    assert_translated(response, english, language, "update form with errors")
    assert response.context["form"].errors
    # A review sent with "return" and no comment.
    sec_mx = speak(world, "sec_mx", language)
    response = sec_mx.post(reverse("tracker:review-update", args=[world.submitted.pk]), {"decision": "return"})
    assert_translated(response, english, language, "review form with errors")
    # A reporting period whose dates are in the wrong order.
    response = sec_mx.post(
        reverse("tracker:period-create"),
        {"name": "2027 Q1", "start": "2027-03-31", "end": "2027-01-01", "due_date": "2027-01-15"},
    )
    assert_translated(response, english, language, "period form with errors")
    # The account pages.
    for path in (reverse("password_change"), reverse("tracker:preferences")):
        assert_translated(alice.get(path), english, language, path)
    visitor = speak(world, "anonymous", language)
    for path in (reverse("login"), reverse("password_reset"), "/no/such/page/"):
        response = visitor.get(path)
        if path.startswith("/no/"):
            assert response.status_code == 404
            response.status_code = 200  # the 404 page is read like any other
        assert_translated(response, english, language, path)
    response = visitor.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert_translated(response, english, language, "login with a wrong password")
    # A list of people with a problem (tracker/invitations.py), and an invitation link that does not work.
    listing = SimpleUploadedFile("people.csv", b"Name,Email,Agency\r\nEva Ruiz,eva@example.invalid,Nowhere\r\n")
    response = sec_mx.post(reverse("tracker:people-invite"), {"form": "file", "file": listing})
    assert response.context["checked"].problems
    assert_translated(response, english, language, "list of people with a problem")
    response = visitor.get(reverse("invitation-accept", args=["MQ", "not-a-token"]))
    assert response.status_code == 400
    response.status_code = 200  # the refusal is read like any other page
    assert_translated(response, english, language, "invitation link that does not work")
    del people


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_admins_pages_read_in_the_language(world, english, language):
    boss = speak(world, "boss", language)
    initiative = Initiative.objects.get(code="SI-01")
    for path in (
        reverse("admin:index"),
        reverse("admin:tracker_initiative_changelist"),
        reverse("admin:tracker_initiative_change", args=[initiative.pk]),
        reverse("admin:tracker_initiative_history", args=[initiative.pk]),
        reverse("admin:tracker_agency_changelist"),
        reverse("admin:tracker_reminder_changelist"),
        reverse("admin:tracker_statusupdate_changelist"),
        reverse("admin:auth_user_change", args=[world.people.alice.pk]),
    ):
        assert_translated(boss.get(path), english, language, path)


# --- Choosing the language ---------------------------------------------------------------------------------------


def test_the_switcher_keeps_the_page_and_saves_the_choice_to_the_profile(world):
    alice = client_for(world, "alice")
    page = reverse("tracker:initiative-list") + "?theme=trade&sort=code"
    response = alice.post(reverse("set_language"), {"language": "ko", "next": page})
    assert response.status_code == 302 and response["Location"] == page
    world.people.alice.profile.refresh_from_db()
    assert world.people.alice.profile.language == "ko"
    assert '<html lang="ko"' in alice.get(page).content.decode()
    # The profile decides from then on, wherever alice signs in from.
    elsewhere = Client()
    elsewhere.force_login(world.people.alice)
    assert '<html lang="ko"' in elsewhere.get(reverse("tracker:home")).content.decode()


def test_a_visitor_gets_the_browsers_language_until_choosing_another():
    visitor = Client(headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"})
    assert '<html lang="es"' in visitor.get(reverse("tracker:public")).content.decode()
    response = visitor.post(reverse("set_language"), {"language": "ko", "next": reverse("tracker:public")})
    assert response["Location"] == reverse("tracker:public")
    assert '<html lang="ko"' in visitor.get(reverse("tracker:public")).content.decode()


def test_the_switcher_refuses_to_send_anyone_off_the_site():
    visitor = Client()
    response = visitor.post(reverse("set_language"), {"language": "es", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_catalogs_titles_and_names_show_in_the_readers_language(world):
    sec_kr = speak(world, "sec_kr", "ko")
    si01 = Initiative.objects.get(code="SI-01")
    assert si01.title_ko and si01.title_es, "the 14 strategic initiatives carry Spanish and Korean titles"
    page = sec_kr.get(si01.get_absolute_url()).content.decode()
    assert si01.title_ko in page
    assert si01.quote.split()[0] in page  # the quote stays in the report's English
    listing = sec_kr.get(reverse("tracker:initiative-list") + "?q=SI-01").content.decode()
    assert si01.title_ko in listing
    alice = speak(world, "alice", "es")
    assert si01.title_es in alice.get(reverse("tracker:matrix")).content.decode()
    assert "Secretaría de Economía" in alice.get(si01.get_absolute_url()).content.decode()


def test_every_field_of_the_models_has_a_translatable_label():
    """The admin shows each field's verbose name: one left to Django's default would stay in English."""
    from django.apps import apps
    from django.utils.functional import Promise

    plain = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_app_config("tracker").get_models()
        if not model.__name__.startswith("Historical")
        for field in model._meta.get_fields()
        if field.concrete and field.name != "id" and not isinstance(field.verbose_name, Promise)
    ]
    assert not plain, f"give these fields a verbose name marked for translation: {plain}"
