import io
import os

import pytest
from django.core.management import call_command

# Set by .ci/run: in CI a test that needs a service fails when the service is missing, instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_service(name: str, reason: str) -> None:
    """Fail in CI, skip elsewhere: for tests that need a service this machine may not run."""
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the whole report catalog once, into the test database every test starts from."""
    with django_db_blocker.unblock():
        call_command("load_report", verbosity=0, stdout=io.StringIO())


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.invalid", "a-long-admin-password")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


# --- Personas ------------------------------------------------------------------------------------------
# alice reports for the Secretary of Economy (SE), bob is her colleague there, charlie reports for the
# Korea Customs Service (KCS) and must not see SE's unfinished work; each secretariat reviews its own
# country's agencies; the admin runs the system.

PASSWORD = "a-long-test-password"


def make_person(username, role, agency_key=None, **profile):
    from django.contrib.auth import get_user_model

    from tracker.choices import COUNTRY_TIME_ZONES
    from tracker.models import Agency, Profile

    agency = Agency.objects.get(key=agency_key) if agency_key else None
    user = get_user_model().objects.create_user(
        username,
        f"{username}@example.invalid",
        PASSWORD,
        first_name=username.capitalize(),
        is_staff=role == "admin",
        is_superuser=role == "admin",
    )
    profile.setdefault("time_zone", COUNTRY_TIME_ZONES[agency.country] if agency else "UTC")
    Profile.objects.create(user=user, role=role, agency=agency, **profile)
    return user


class Personas:
    def __init__(self):
        self.alice = make_person("alice", "official", "se")
        self.bob = make_person("bob", "official", "se")
        self.charlie = make_person("charlie", "official", "kcs")
        self.sec_mx = make_person("sec_mx", "secretariat", "sre")
        self.sec_kr = make_person("sec_kr", "secretariat", "mofat")
        self.admin = make_person("boss", "admin")


@pytest.fixture
def personas(db):
    return Personas()


@pytest.fixture
def period(db):
    import datetime

    from django.utils import timezone

    from tracker.models import ReportingPeriod

    today = timezone.localdate()
    return ReportingPeriod.objects.create(
        name="2026 Q4",
        start=today - datetime.timedelta(days=60),
        end=today + datetime.timedelta(days=30),
        due_date=today + datetime.timedelta(days=14),
    )


@pytest.fixture
def make_update(period):
    """Create an update through the real actions: make_update(user, code, state="submitted", ...)."""
    from tracker import actions
    from tracker.models import Initiative, StatusUpdate

    def make(user, code, state="submitted", reviewer=None, summary="Progress this period.", **fields):
        update = StatusUpdate(
            initiative=Initiative.objects.get(code=code),
            agency=user.profile.agency,
            period=fields.pop("period", period),
            author=user,
            status=fields.pop("status", "on_track"),
            progress=fields.pop("progress", 30),
            summary=summary,
            **fields,
        )
        actions.save_update(update, submit=state != "draft", user=user)
        if state == "accepted":
            actions.accept_update(update, user=reviewer)
        elif state == "returned":
            actions.return_update(update, user=reviewer, comment="Please add the figures.")
        return update

    return make


def pytest_collection_modifyitems(config, items):
    """Run tests on a real transaction (live server, browser) last.

    The catalog is loaded once into the test database; a transactional test empties the database when it
    ends, so every test that relies on the loaded catalog must run before those.
    """
    transactional = {"transactional_db", "live_server", "django_db_serialized_rollback"}

    def is_transactional(item) -> bool:
        marker = item.get_closest_marker("django_db")
        return bool(transactional & set(getattr(item, "fixturenames", ()))) or bool(
            marker and marker.kwargs.get("transaction")
        )

    items.sort(key=is_transactional)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing the personas' passwords properly would make every test slow; nothing tests the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def own_report_cache(settings, tmp_path):
    """Each test builds its own report files: a cached file from another test's report must never be served."""
    settings.REPORT_CACHE_DIR = str(tmp_path / "report-cache")


@pytest.fixture(autouse=True)
def empty_cache():
    """Cached figures are keyed by database state, which each test rolls back: start every test with none."""
    from django.core.cache import cache

    cache.clear()
