"""The pieces the integration tests assemble: an SMTP sink, an installation, processes, bounded waits.

An *installation* is what a deployment is: its own database (a SQLite file, or a PostgreSQL database created
for it and dropped afterwards), migrated and loaded with the catalog, and one environment (DATABASE_URL,
REDIS_URL, EMAIL_URL, SITE_URL, DEBUG=false, SECRET_KEY) shared by every process started for it: `manage.py`
commands, Celery workers, beat and a gunicorn web server. The test process never opens the installation's
database through its own Django (pytest's test database is another one); it reads rows back with plain SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email
import email.policy
import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.world import PASSWORD, RESULT_MARK

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SITE_URL = "https://tracker.integration.example"
WORKER_READY = r"\bready\."
BEAT_READY = r"beat: Starting"
SECRET_KEY = "integration-tests-secret-key-not-for-production-0123456789"

# Variables that the test process may have and that must not leak into an installation's processes.
_INSTALLATION_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "SITE_URL",
    "DEBUG",
    "HTTPS",
    "TWO_FACTOR_REQUIRED",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEMO_DATA_ALLOWED",
    "TRACKER_VAR_DIR",
    "MEDIA_ROOT",
    "DEFAULT_FROM_EMAIL",
    "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
    "REMINDER_WORKING_DAYS",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1, diagnostics=None):
    """Poll `predicate` until it returns something true, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}.{extra}")
        time.sleep(interval)


def stays(predicate, *, seconds: float, what: str, interval: float = 0.2, diagnostics=None) -> None:
    """Check that `predicate` holds at every poll for `seconds` (a bounded window, for "nothing happens")."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(f"Expected {what} for {seconds:g} s, but it changed.{extra}")
        time.sleep(interval)


# --- The SMTP sink --------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    at: float  # time.time() when the DATA was complete

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    @property
    def reminder_key(self) -> str:
        return str(self.message["X-Tracker-Reminder"]).strip()

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return part.get_content()
        raise AssertionError(f"no {content_type} part in {self.message['Subject']!r}")

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        return await self.sink._on_data(envelope)


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it accepts for the test to read back.

    It can refuse (a 4xx reply to DATA), be slow, or hold one transaction: store the message, then keep the
    client waiting for the final reply until `release()` — the moment a worker crash loses the "sent" mark.
    """

    def __init__(self):
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP command otherwise

        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.refusals = 0
        self._refuse_with: str | None = None
        self._delay = 0.0
        self._hold_at: int | None = None
        self.holding = threading.Event()
        self._released = threading.Event()
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._released.set()
        with contextlib.suppress(Exception):
            self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    # Behaviour
    def refuse(self, reply: str = "451 4.3.0 Mailbox temporarily unavailable, try again later") -> None:
        self._refuse_with = reply

    def accept(self) -> None:
        self._refuse_with = None

    def slow(self, seconds: float) -> None:
        self._delay = seconds

    def hold_at(self, count: int) -> None:
        """Store the `count`-th accepted message, then hold its reply until `release()`."""
        self._hold_at = count

    def release(self) -> None:
        self._released.set()

    async def _on_data(self, envelope) -> str:
        if self._refuse_with:
            with self._lock:
                self.refusals += 1
            return self._refuse_with
        if self._delay:
            await asyncio.sleep(self._delay)
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            message=email.message_from_bytes(envelope.original_content, policy=email.policy.default),
            at=time.time(),
        )
        with self._lock:
            self._received.append(received)
            hold = self._hold_at is not None and len(self._received) == self._hold_at
        if hold:
            self.holding.set()
            deadline = time.monotonic() + 60  # bounded: never hang the test run
            while not self._released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        return "250 2.0.0 OK: queued"

    # Reading back
    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def message_id_counts(self) -> Counter:
        return Counter(r.message_id for r in self.received)

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in self.message_id_counts().items() if n > 1}


# --- Processes ------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, *, timeout: float, after: int = 0) -> None:
        """Wait until `pattern` (a regular expression) appears in the log past character `after`."""
        regex = re.compile(pattern)

        def seen():
            if regex.search(self.log()[after:]):
                return True
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
            return False

        wait_for(seen, timeout=timeout, what=f"{self.name} to log {pattern!r}", diagnostics=self.tail)


class Processes:
    """Every process a test starts, each in its own process group; all stopped at the end, whatever happens."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict, cwd: Path = ROOT) -> Proc:
        log_path = self.log_dir / f"{name}-{len(self.started)}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 (closed in _reap)
        popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        proc = Proc(name, popen, log_path, log_file)
        self.started.append(proc)
        return proc

    @staticmethod
    def _signal_group(proc: Proc, sig: int) -> None:
        # The group is the one start_new_session made for this process: only what this test started.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def stop(self, proc: Proc, timeout: float = 15) -> None:
        """SIGTERM (a warm shutdown for Celery), then SIGKILL if it does not go in time."""
        if proc.alive():
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.popen.wait(10)
        self._signal_group(proc, signal.SIGKILL)  # anything of its group left behind
        self._reap(proc)

    def kill(self, proc: Proc) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would: no cleanup of any kind."""
        self._signal_group(proc, signal.SIGKILL)
        proc.popen.wait(10)
        self._reap(proc)

    @staticmethod
    def _reap(proc: Proc) -> None:
        if proc._log_file is not None:
            proc._log_file.close()
            proc._log_file = None

    def cleanup(self) -> None:
        for proc in reversed(self.started):
            with contextlib.suppress(Exception):
                self.stop(proc, timeout=10)

    def tails(self, lines: int = 25) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}, {p.log_path.name}):\n{p.tail(lines)}" for p in self.started)


# --- Databases ------------------------------------------------------------------------------------------


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.split(":", 1)[0] in ("postgres", "postgresql", "pgsql", "postgis") else None


def _pg_params(url: str, dbname: str | None = None) -> dict:
    import environ

    config = environ.Env.db_url_config(url)
    return {
        "host": config.get("HOST") or "127.0.0.1",
        "port": int(config.get("PORT") or 5432),
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "dbname": dbname or config.get("NAME"),
        "connect_timeout": 5,
    }


def pg_admin(url: str):
    import psycopg

    return psycopg.connect(**_pg_params(url, "postgres"), autocommit=True)


def pg_url(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, ""))


@dataclass
class Database:
    url: str
    kind: str  # "sqlite" or "postgres"
    path: Path | None = None  # SQLite
    admin_url: str | None = None  # PostgreSQL: the server's DATABASE_URL

    def connect(self):
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.path, timeout=20)
            connection.row_factory = sqlite3.Row
            return connection
        import psycopg
        from psycopg.rows import dict_row

        name = urllib.parse.urlsplit(self.url).path.lstrip("/")
        return psycopg.connect(**_pg_params(self.admin_url, name), autocommit=True, row_factory=dict_row)

    def query(self, sql: str, params=()) -> list[dict]:
        """Plain SQL with %s placeholders, on either database; rows as dicts."""
        if self.kind == "sqlite":
            sql = sql.replace("%s", "?")
        connection = self.connect()
        try:
            rows = connection.execute(sql, params).fetchall()
            return [dict(row) for row in rows]
        finally:
            connection.close()


# --- The installation -----------------------------------------------------------------------------------


class Installation:
    def __init__(
        self,
        *,
        root: Path,
        database: Database,
        var_dir: Path,
        redis_url: str | None,
        smtp_url: str | None,
        site_url: str = SITE_URL,
    ):
        self.root = root
        self.database = database
        self.var_dir = var_dir
        self.redis_url = redis_url
        self.smtp_url = smtp_url
        self.site_url = site_url
        self.media_dir = root / "media"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.processes = Processes(root)

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _INSTALLATION_VARIABLES}
        env.update(
            DJANGO_SETTINGS_MODULE="tracker.settings",
            DATABASE_URL=self.database.url,
            EMAIL_URL=self.smtp_url or "filemail:///var/mail",
            SITE_URL=self.site_url,
            DEBUG="false",
            # Production settings, except what plain HTTP on loopback and scripted sign-ins need.
            HTTPS="false",
            TWO_FACTOR_REQUIRED="false",
            SECRET_KEY=SECRET_KEY,
            DEMO_DATA_ALLOWED="true",
            TRACKER_VAR_DIR=str(self.var_dir),
            MEDIA_ROOT=str(self.media_dir),
            LOG_LEVEL="INFO",
            # These tests plan reminders for the current hour of whatever day they run on; moving them off
            # weekends and holidays (tested with a frozen clock in tests/test_digest.py) would move them to
            # another day on a Saturday.
            REMINDER_WORKING_DAYS="false",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    # manage.py
    def manage(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done

    def world(self, action: str, **kwargs):
        """Run one action of tests/integration/world.py inside the installation; returns its JSON result."""
        code = f"from tests.integration import world; world.run({action!r}, {json.dumps(kwargs)!r})"
        done = self.manage("shell", "-c", code, timeout=60)
        for line in done.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        raise AssertionError(f"world.{action} printed no result:\n{done.stdout}\n{done.stderr}")

    def send_reminders(self, now: str | None = None) -> str:
        args = ["send_reminders"] + (["--now", now] if now else [])
        return self.manage(*args).stdout

    # Processes
    def start_worker(
        self, name: str = "worker", *, processes: int | None = None, timeout: float = 45, wait: bool = True
    ) -> Proc:
        """A worker running one task at a time, or with `processes`, a prefork pool of that many (production)."""
        proc = self.processes.start(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "tracker",
                "worker",
                *(["--pool=solo"] if processes is None else ["--pool=prefork", f"--concurrency={processes}"]),
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-n",
                f"{name}-{os.getpid()}@%h",
            ],
            self.env,
        )
        if wait:
            proc.wait_for_log(WORKER_READY, timeout=timeout)
        return proc

    def start_beat(self, name: str = "beat", *, timeout: float = 45, wait: bool = True) -> Proc:
        proc = self.processes.start(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "tracker",
                "beat",
                "--loglevel=INFO",
                "--max-interval=1",
                f"--schedule={self.root / 'celerybeat-schedule'}",
                f"--pidfile={self.root / f'{name}.pid'}",
            ],
            self.env,
        )
        if wait:
            proc.wait_for_log(BEAT_READY, timeout=timeout)
        return proc

    def start_worker_and_beat(self, *, timeout: float = 45) -> tuple[Proc, Proc]:
        """Both at once (each takes a couple of seconds to start)."""
        worker = self.start_worker(wait=False)
        beat = self.start_beat(wait=False)
        worker.wait_for_log(WORKER_READY, timeout=timeout)
        beat.wait_for_log(BEAT_READY, timeout=timeout)
        return worker, beat

    def start_web(self, name: str = "web", *, timeout: float = 45) -> tuple[Proc, str]:
        port = free_port()
        proc = self.processes.start(
            name,
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--timeout",
                "60",
                "--access-logfile",
                "-",
                "--no-control-socket",
                "tracker.wsgi",
            ],
            self.env,
        )
        base = f"http://127.0.0.1:{port}"

        def answers():
            if not proc.alive():
                raise AssertionError(f"web exited:\n{proc.tail()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    return response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_for(answers, timeout=timeout, what="the web server to answer /healthz", diagnostics=proc.tail)
        return proc, base

    def stop(self, proc: Proc) -> None:
        self.processes.stop(proc)

    def kill(self, proc: Proc) -> None:
        self.processes.kill(proc)

    # Reading the installation's database back
    def query(self, sql: str, params=()) -> list[dict]:
        return self.database.query(sql, params)

    def reminders(self) -> list[dict]:
        return self.query(
            "SELECT r.id, r.key, r.kind, r.state, r.attempts, r.message_id, r.last_error, r.claimed_by,"
            " r.planned_at, r.next_attempt_at, r.claimed_at, r.sent_at, u.email AS email"
            " FROM tracker_reminder r JOIN auth_user u ON u.id = r.recipient_id ORDER BY r.id"
        )

    def sweep_runs(self) -> list[dict]:
        """The sweeps the test's processes ran (not the installation's history the world was given)."""
        rows = self.query(
            "SELECT id, started_at, finished_at, recorded, sent, failed FROM tracker_sweeprun ORDER BY id"
        )
        history = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
        return [row for row in rows if row["finished_at"] is not None or as_datetime(row["started_at"]) > history]

    def finished_sweeps(self) -> int:
        return self.query("SELECT COUNT(*) AS n FROM tracker_sweeprun WHERE finished_at IS NOT NULL")[0]["n"]

    def diagnostics(self) -> str:
        rows = self.reminders()
        states = Counter((r["state"], r["attempts"]) for r in rows)
        return (
            f"reminders by (state, attempts): {dict(states)}; sweeps: {len(self.sweep_runs())}\n"
            + self.processes.tails()
        )


def as_datetime(value):
    """A timestamp column as an aware datetime, whichever database it came from."""
    import datetime

    if value is None or isinstance(value, datetime.datetime):
        return value
    parsed = datetime.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


# --- What every test checks in the end ------------------------------------------------------------------


def identity(key: str) -> str:
    """What an email is about: its reminder key; for a digest its kind and recipient, for a reviewer's
    decision its kind, recipient and update (their keys also hold the day or the moment)."""
    parts = key.split(":")
    if parts[0] in ("daily_digest", "weekly_digest"):
        return ":".join(parts[:2])
    if parts[0] in ("returned", "accepted"):
        return ":".join(parts[:3])
    return key


def all_arrived(sink, expected):
    return lambda: {identity(r.reminder_key) for r in sink.received} >= expected


def settle(installation, sweeps: int = 2, timeout: float = 40) -> None:
    """Let `sweeps` more sweeps finish, so that a duplicate would have had every chance to appear."""
    target = installation.finished_sweeps() + sweeps
    wait_for(
        lambda: installation.finished_sweeps() >= target,
        timeout=timeout,
        what=f"{sweeps} more sweeps",
        diagnostics=installation.diagnostics,
    )


def assert_delivered_as_guaranteed(installation, sink, expected: set[str], *, in_flight=frozenset()) -> None:
    """Every expected email arrived; nothing else did; a repeat only of an email `in_flight` at a crash (sent
    and not yet marked sent), with the Message-ID of its first copy; every reminder row is marked sent with the
    Message-ID that arrived."""
    received = sink.received
    by_identity = defaultdict(list)
    for message in received:
        by_identity[identity(message.reminder_key)].append(message)
    missing = expected - set(by_identity)
    unexpected = set(by_identity) - expected
    assert not missing, f"never delivered: {sorted(missing)}\n{installation.diagnostics()}"
    assert not unexpected, f"delivered but not due: {sorted(unexpected)}"
    for what, copies in by_identity.items():
        message_ids = {copy.message_id for copy in copies}
        assert len(message_ids) == 1, f"{what} was sent with different Message-IDs: {message_ids}"
    repeats = {mid: n for mid, n in Counter(m.message_id for m in received).items() if n > 1}
    assert set(repeats) <= set(in_flight), "repeated without a crash while they were in flight: " + str(
        {m.reminder_key: repeats[m.message_id] for m in received if m.message_id in set(repeats) - set(in_flight)}
    )
    assert all(n == 2 for n in repeats.values()), f"an email in flight at the crash was sent more than twice: {repeats}"
    for message in received:
        assert message.rcpt_tos == [str(message.message["To"])], message.reminder_key
    rows = installation.reminders()
    not_sent = [(r["key"], r["state"], r["attempts"], r["last_error"][:80]) for r in rows if r["state"] != "sent"]
    assert not not_sent, f"reminder rows not marked sent: {not_sent}"
    delivered_ids = {m.message_id for m in received}
    assert {r["message_id"] for r in rows} <= delivered_ids
    for row in rows:
        recipients = {str(m.message["To"]) for m in received if m.message_id == row["message_id"]}
        assert recipients == {row["email"]}, row["key"]


# --- The web, as a browser would use it -----------------------------------------------------------------


class WebSession:
    """A logged-in user of the web server over real HTTP (cookies, CSRF token), without a browser."""

    CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str, timeout: float = 30) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=timeout) as response:
            return response.status, response.geturl(), response.read().decode()

    def post(self, path: str, fields: dict, timeout: float = 30) -> tuple[int, str, str]:
        """GET the form for its CSRF token, then POST it (redirects followed); returns status, final URL, body."""
        _, _, page = self.get(path, timeout)
        token = self.CSRF.search(page)
        assert token, f"no CSRF token on {path}"
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Referer": self.base + path})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode(errors="replace")

    def login(self, username: str, password: str = PASSWORD) -> None:
        status, url, _ = self.post("/accounts/login/", {"username": username, "password": password})
        assert status == 200 and "/accounts/login/" not in url, f"login of {username} failed: {status} {url}"

    def timed_post(self, path: str, fields: dict) -> tuple[float, int, str, str]:
        """POST a form (after fetching its token, which is not timed); the time covers the POST and redirect."""
        _, _, page = self.get(path)
        token = self.CSRF.search(page)
        assert token, f"no CSRF token on {path}"
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Referer": self.base + path})
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=30) as response:
                status, url, body = response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            status, url, body = error.code, error.geturl(), error.read().decode(errors="replace")
        return time.monotonic() - started, status, url, body


def publish(broker_url: str, task: str, count: int = 1) -> None:
    """Send `count` messages for `task` to an installation's broker, as beat or a web process would."""
    from celery import Celery

    app = Celery("integration-publisher", broker=broker_url, set_as_current=False)
    try:
        with app.connection_for_write() as connection:
            for _ in range(count):
                app.send_task(task, connection=connection)
    finally:
        app.close()
