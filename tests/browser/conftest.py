"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

Each test asks for `new_page` (a fresh browser context per call, so two users never share cookies) or for
`page`. When a test fails, every page it opened is kept in test-artifacts/ at the repository root: a
full-page screenshot, the page's HTML, and a log of the page's console messages and failed requests.

These tests run on a real transaction (live_server), so they run last and the database is emptied after
each one: `catalog` loads the report again when an earlier transactional test has emptied it.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import Personas, need_service

# Playwright's sync API keeps an asyncio loop in this thread; the ORM calls the tests and fixtures make
# between browser steps are synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (`item.rep_setup`, `item.rep_call`) for the fixtures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        need_service("Chromium", f"{CHROMIUM} does not exist; install Debian's package: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def catalog(transactional_db):
    """The report's catalog, loaded again if an earlier transactional test emptied the database."""
    from tracker.models import Initiative

    if not Initiative.objects.exists():
        call_command("load_report", verbosity=0, stdout=io.StringIO())


@pytest.fixture
def personas(catalog):
    return Personas()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded evidence goes to a temporary folder, not to var/media/."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def new_page(browser, live_server, request):
    """new_page(viewport={...}, **options) -> a page in a new browser context whose relative URLs go to the live
    server; other options go to the context (e.g. locale="ko-KR": the browser's language)."""
    opened = []  # (context, log lines)

    def open_page(viewport=DESKTOP, **options):
        context = browser.new_context(viewport=viewport, base_url=live_server.url, **options)
        context.set_default_timeout(15_000)
        log: list[str] = []
        context.on("console", lambda message: log.append(f"console {message.type}: {message.text}"))
        context.on("weberror", lambda error: log.append(f"page error: {error.error}"))
        context.on("requestfailed", lambda req: log.append(f"request failed: {req.method} {req.url} {req.failure}"))
        context.on(
            "response",
            lambda response: response.status >= 400 and log.append(f"HTTP {response.status}: {response.url}"),
        )
        opened.append((context, log))
        return context.new_page()

    yield open_page

    report = getattr(request.node, "rep_call", None)
    try:
        if report is not None and report.failed:
            _save_artifacts(request.node, opened)
    finally:
        for context, _log in opened:
            context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def _save_artifacts(node, opened) -> None:
    """Save every open page; list the files under the test's failure report (shown at the end of the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.nodeid).strip("_")
    saved = []
    for c, (context, log) in enumerate(opened, 1):
        for p, page in enumerate(context.pages, 1):
            base = ARTIFACTS / f"{stem}-{c}-{p}"
            try:
                page.screenshot(path=f"{base}.png", full_page=True)
                Path(f"{base}.html").write_text(page.content(), encoding="utf-8")
                Path(f"{base}.log").write_text(
                    f"URL: {page.url}\n" + "".join(f"{line}\n" for line in log), encoding="utf-8"
                )
                saved.append(f"{base}.png")
            except Exception as error:  # a crashed page must not hide the test's own failure
                saved.append(f"{base}: could not be saved ({error.__class__.__name__}: {error})")
    if saved:
        node.rep_call.sections.append(("browser artifacts", "\n".join(saved)))
