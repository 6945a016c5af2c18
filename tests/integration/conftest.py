"""Fixtures for the integration tests: each test gets its own installation, SMTP sink and processes.

The installation's database is cloned from a template made once per session (migrate + load_report take
about six seconds; a clone takes a fraction of one). Every process a test starts is stopped when the test
ends, whatever happened; every database made for a test is dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sqlite3
import subprocess
import uuid

import pytest

from tests.conftest import need_service
from tests.integration.support import (
    PYTHON,
    ROOT,
    Database,
    Installation,
    SmtpSink,
    free_port,
    pg_admin,
    pg_url,
    postgres_url,
    wait_for,
)

_counter = itertools.count()


def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


@pytest.fixture
def redis_url():
    """The Redis named by REDIS_URL (its own database number in CI), emptied before and after the test:
    a message left by an earlier test would otherwise reach this test's worker."""
    url = os.environ.get("REDIS_URL")
    if not url:
        need_service("Redis", "REDIS_URL is not set; the integration tests need a real broker")
    client = _redis_client(url)
    try:
        client.ping()
    except Exception as error:
        need_service("Redis", f"{url} does not answer: {error}")
    client.flushdb()
    yield url
    with contextlib.suppress(Exception):
        client.flushdb()
    client.close()


@pytest.fixture
def smtp_sink():
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        need_service("SMTP", "aiosmtpd is not installed (requirements-dev.txt)")
    sink = SmtpSink().start()
    yield sink
    sink.stop()


class RedisServer:
    """A Redis of the test's own, on a free port, so that a test can stop the broker without touching the
    machine's Redis (which other test runs use). Always left stopped and gone when the test ends."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited: {(self.directory / 'redis.log').read_text()[-2000:]}")
            try:
                return _redis_client(self.url).ping()
            except Exception:
                return False

        wait_for(answers, timeout=10, what="the test's Redis to answer")

    def stop(self) -> None:
        """Stop it the way a crash or a restart would: the queue it held is gone (nothing kept on disk)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture
def own_redis(tmp_path):
    if not os.environ.get("REDIS_URL"):  # like every test that needs Redis (README: skipped without REDIS_URL)
        need_service("Redis", "REDIS_URL is not set; the integration tests need a real broker")
    if not shutil.which("redis-server"):
        need_service("Redis", "redis-server is not installed, and this test stops and restarts its broker")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- Installations --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def installation_var_dir(tmp_path_factory):
    """TRACKER_VAR_DIR for every installation of the session (collected static files live there)."""
    return tmp_path_factory.mktemp("tracker-var")


@pytest.fixture(scope="session")
def installation_template(request, tmp_path_factory, installation_var_dir, static_collector):
    """A database migrated and loaded with the catalog, once: each test's installation is a copy of it."""
    admin_url = postgres_url()
    if admin_url:
        try:
            pg_admin(admin_url).close()
        except Exception as error:
            need_service("PostgreSQL", f"DATABASE_URL names PostgreSQL, which does not answer: {error}")
        name = f"tracker_int_base_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with pg_admin(admin_url) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        database = Database(url=pg_url(admin_url, name), kind="postgres", admin_url=admin_url)
    else:
        path = tmp_path_factory.mktemp("template") / "tracker.sqlite3"
        database = Database(url=f"sqlite:///{path}", kind="sqlite", path=path)
    base = Installation(
        root=tmp_path_factory.mktemp("template-run"),
        database=database,
        var_dir=installation_var_dir,
        redis_url=None,
        smtp_url=None,
    )
    if any("collected_static" in getattr(item, "fixturenames", ()) for item in request.session.items):
        static_collector.start(database)
    try:
        base.manage("migrate", "--no-input", "-v", "0")
        base.manage("load_report", "-v", "0")
        yield database
    finally:
        if admin_url:
            with pg_admin(admin_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_installation(installation_template, installation_var_dir, tmp_path):
    """make_installation(redis_url=..., smtp=sink): a fresh installation for this test; at the end its
    processes are stopped and its database is dropped."""
    made: list[tuple[Installation, str | None]] = []

    def make(*, redis_url: str, smtp: SmtpSink | None) -> Installation:
        root = tmp_path / f"installation-{len(made)}"
        root.mkdir()
        template = installation_template
        if template.kind == "sqlite":
            path = root / "tracker.sqlite3"
            source, target = sqlite3.connect(template.path), sqlite3.connect(path)
            with target:
                source.backup(target)
            source.close()
            target.close()
            database = Database(url=f"sqlite:///{path}", kind="sqlite", path=path)
            name = None
        else:
            name = f"tracker_int_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
            template_name = template.url.rsplit("/", 1)[1]
            with pg_admin(template.admin_url) as admin:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
            database = Database(url=pg_url(template.admin_url, name), kind="postgres", admin_url=template.admin_url)
        installation = Installation(
            root=root,
            database=database,
            var_dir=installation_var_dir,
            redis_url=redis_url,
            smtp_url=smtp.url if smtp else None,
        )
        made.append((installation, name))
        return installation

    yield make
    for installation, name in reversed(made):
        installation.processes.cleanup()
        if name:
            with contextlib.suppress(Exception), pg_admin(installation.database.admin_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def installation(make_installation, redis_url, smtp_sink) -> Installation:
    """An installation on the shared Redis (REDIS_URL) that sends its email to this test's SMTP sink."""
    return make_installation(redis_url=redis_url, smtp=smtp_sink)


class StaticCollector:
    """`manage.py collectstatic`, started in the background while the template database is made (it takes
    as long), and only in a session that runs a test with the web server."""

    def __init__(self, root, var_dir):
        self.root = root
        self.var_dir = var_dir
        self.process: subprocess.Popen | None = None

    def start(self, database: Database) -> None:
        base = Installation(root=self.root, database=database, var_dir=self.var_dir, redis_url=None, smtp_url=None)
        self.log = open(self.root / "collectstatic.log", "wb")  # noqa: SIM115 (closed in wait)
        self.process = subprocess.Popen(
            [PYTHON, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=base.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait(self, timeout: float = 180) -> None:
        if self.process is None:
            raise AssertionError("collectstatic was not started")
        try:
            code = self.process.wait(timeout)
        finally:
            self.log.close()
        if code != 0:
            raise AssertionError(f"collectstatic failed:\n{(self.root / 'collectstatic.log').read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="session")
def static_collector(tmp_path_factory, installation_var_dir):
    collector = StaticCollector(tmp_path_factory.mktemp("collectstatic"), installation_var_dir)
    yield collector
    collector.stop()


@pytest.fixture(scope="session")
def collected_static(installation_template, static_collector):
    """With DEBUG off, pages need the static files' manifest: collected once for the web server."""
    static_collector.wait()
