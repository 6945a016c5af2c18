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
