#!/usr/bin/env python
"""Benchmark of the reminder sweep: the app's `tracker.reminders.sweep(now)` against a plain smtplib loop.

    .venv/bin/python scripts/bench_reminders.py [--reminders 10000] [--database sqlite|postgres] [--repeat 3]

It starts a counting SMTP sink (aiosmtpd) in a child process on 127.0.0.1, creates an isolated database (a
SQLite file in a temporary folder, or a fresh PostgreSQL database that is dropped at the end), migrates it,
loads the catalog and adds synthetic agencies, one official each, lead ownerships of synthetic initiatives
and an open reporting period, so that exactly N "due today" reminders are due at the chosen moment. Then:

(a) the app's sweep sends them to the sink: time to record, time to deliver, emails/s, queries, peak RSS;
(b) the baseline: the same N messages, built once with the app's own `tracker.emails.reminder_email` and
    serialised as Django's SMTP backend does, are sent with `smtplib.SMTP.sendmail` over one connection;
(c) the ratio (a)/(b) against the target: the sweep must reach at least 50 % of the baseline's throughput.
(a) and (b) run alternately --repeat times (the outbox is emptied in between); the best of each is compared,
since other work on the machine can only slow a run down.

The run is configured like production (DEBUG off), and everything it created is removed at the end. Nothing
in the repository is written: Django's var/ folder is pointed at the temporary folder too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import io
import math
import multiprocessing
import os
import platform
import re
import shutil
import signal
import smtplib
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.50  # the sweep must reach this share of the plain smtplib loop's throughput
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
JOINED = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)  # long before any planned reminder


# --- The SMTP sink: a child process, so that it neither shares the GIL nor adds to the measured RSS ----------


def _sink_main(control, counters) -> None:
    """Accept every message on 127.0.0.1 and count it (messages, bytes); keep nothing else."""
    import asyncio
    import logging

    from aiosmtpd.smtp import SMTP

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            with counters.get_lock():
                counters[0] += 1
                counters[1] += len(envelope.original_content or b"")
            return "250 OK"

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Counting()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="bench-sink", loop=loop), "127.0.0.1", 0)
    )
    control.send(server.sockets[0].getsockname()[1])
    loop.add_reader(control.fileno(), loop.stop)  # any word (or the parent's end) from the parent stops it
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


class Sink:
    def __init__(self):
        context = multiprocessing.get_context("spawn")
        self.counters = context.Array("q", 2)
        self.control, child = context.Pipe()
        self.process = context.Process(target=_sink_main, args=(child, self.counters), daemon=True)
        self.process.start()
        child.close()
        if not self.control.poll(30):
            self.stop()
            raise RuntimeError("the SMTP sink did not start within 30 s")
        self.port = self.control.recv()

    def counts(self) -> tuple[int, int]:
        with self.counters.get_lock():
            return self.counters[0], self.counters[1]

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the sink process has used so far (Linux)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.control.close()


# --- Measuring helpers -----------------------------------------------------------------------------------


def proc_status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM, so the next reading is the peak of what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_kib() -> int:
    hwm = proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class QueryProbe:
    """Counts every statement Django executes (like CaptureQueriesContext, without keeping the SQL), with the
    time spent inside cursor.execute, per phase and per shape ("UPDATE tracker_reminder")."""

    TABLE = re.compile(r'\b(?:FROM|UPDATE|INTO)\s+"?(\w+)"?', re.IGNORECASE)

    def __init__(self):
        self.phase = "setup"
        self.count: Counter = Counter()
        self.seconds: Counter = Counter()
        self.shapes: Counter = Counter()
        self.params: Counter = Counter()

    def reset(self) -> None:
        for counter in (self.count, self.seconds, self.shapes, self.params):
            counter.clear()

    def snapshot(self) -> dict:
        return {
            "count": Counter(self.count),
            "seconds": Counter(self.seconds),
            "shapes": Counter(self.shapes),
            "params": Counter(self.params),
        }

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[self.phase] += time.perf_counter() - start
            self.count[self.phase] += 1
            verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
            table = self.TABLE.search(sql)
            self.shapes[(self.phase, f"{verb} {table.group(1) if table else ''}".strip())] += 1
            if params and not many:
                self.params[self.phase] += len(params)


class Stopwatch:
    def __init__(self):
        self.seconds: Counter = Counter()
        self.calls: Counter = Counter()

    def wrap(self, name, function, before=None, after=None):
        def timed(*args, **kwargs):
            if before:
                before()
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1
                if after:
                    after()

        return timed


# --- The machine -----------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def code_version() -> str:
    """The commit measured, and whether the app's code differs from it (the sweep is in tracker/)."""
    import subprocess

    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "tracker", "templates/emails"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{ROOT} (not a git checkout)"
    return f"{ROOT} at {commit}" + (", with uncommitted changes in tracker/ or templates/emails/" if changed else "")


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


# --- The database --------------------------------------------------------------------------------------------


def create_postgres(admin_url: str) -> tuple[str, str]:
    import psycopg
    from psycopg import sql

    name = f"bench_reminders_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{admin_url.rstrip('/')}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, f"{admin_url.rstrip('/')}/{name}"


def drop_postgres(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{admin_url.rstrip('/')}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def populate(n: int, per_agency: int, due: datetime.date):
    """Synthetic agencies (alternately Mexican and Korean), one official each, `per_agency` initiatives each
    led by it, and one open period due on `due`; only the "due, 0 days" rung stays active, so exactly one
    reminder per lead ownership is due on the due day from 9:00 in the official's zone."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from tracker.choices import (
        COUNTRY_TIME_ZONES,
        AgencyKind,
        Country,
        EmailPreference,
        InitiativeKind,
        OwnershipRole,
        OwnershipSource,
        PeriodState,
        ReminderKind,
        Role,
        Theme,
    )
    from tracker.models import Agency, Initiative, Ownership, Profile, ReminderRule, Report, ReportingPeriod

    report = Report.objects.order_by("pk").first()
    count = math.ceil(n / per_agency)
    agencies = Agency.objects.bulk_create(
        [
            Agency(
                key=f"bench-{i:06d}",
                country=Country.MEXICO if i % 2 == 0 else Country.KOREA,
                name=f"Benchmark agency {i:06d}",
                acronym=f"BA{i}",
                kind=AgencyKind.AGENCY,
            )
            for i in range(count)
        ],
        batch_size=500,
    )
    unusable = make_password(None)
    users = get_user_model().objects.bulk_create(
        [
            get_user_model()(
                username=f"bench{i:06d}",
                email=f"bench.official.{i:06d}@example.invalid",
                password=unusable,
                first_name="Official",
                last_name=f"{i:06d}",
                date_joined=JOINED,
            )
            for i in range(count)
        ],
        batch_size=500,
    )
    Profile.objects.bulk_create(
        [
            Profile(
                user=user,
                role=Role.OFFICIAL,
                agency=agency,
                language="es" if agency.country == Country.MEXICO else "ko",
                time_zone=COUNTRY_TIME_ZONES[agency.country],
                email_preference=EmailPreference.EACH,
            )
            for user, agency in zip(users, agencies, strict=True)
        ],
        batch_size=500,
    )
    initiatives = Initiative.objects.bulk_create(
        [
            Initiative(
                report=report,
                code=f"BX-{i:06d}",
                title=f"Benchmark initiative {i:06d}: joint customs data exchange",
                kind=InitiativeKind.STRATEGIC,
                theme=Theme.TRADE,
                section="Benchmark",
                paragraph=str(i),
                quote="A synthetic initiative created by scripts/bench_reminders.py.",
                position=100_000 + i,
            )
            for i in range(n)
        ],
        batch_size=500,
    )
    Ownership.objects.bulk_create(
        [
            Ownership(
                initiative=initiative,
                agency=agencies[i // per_agency],
                country=agencies[i // per_agency].country,
                role=OwnershipRole.LEAD,
                source=OwnershipSource.MANUAL,
            )
            for i, initiative in enumerate(initiatives)
        ],
        batch_size=500,
    )
    ReminderRule.objects.get_or_create(kind=ReminderKind.DUE, days=0, defaults={"hour": 9})
    ReminderRule.objects.update(active=False)
    ReminderRule.objects.filter(kind=ReminderKind.DUE, days=0).update(active=True)
    ReportingPeriod.objects.update(state=PeriodState.CLOSED)
    period = ReportingPeriod.objects.create(
        name=f"Benchmark {due.isoformat()}",
        start=due - datetime.timedelta(days=90),
        end=due + datetime.timedelta(days=30),
        due_date=due,
    )
    return period, count


# --- The measurements --------------------------------------------------------------------------------------


def measure_sweep(now, sink, probe, profile_path):
    """(a): one tracker.reminders.sweep(now), instrumented from outside (the module is not changed)."""
    from django.core import mail

    from tracker import emails, reminders

    watch = Stopwatch()

    def set_phase(name):
        return lambda: setattr(probe, "phase", name)

    originals = {
        (reminders, "record_due_reminders"): reminders.record_due_reminders,
        (reminders, "deliver"): reminders.deliver,
        (emails, "reminder_email"): emails.reminder_email,
    }
    reminders.record_due_reminders = watch.wrap(
        "record", reminders.record_due_reminders, set_phase("record"), set_phase("sweep")
    )
    reminders.deliver = watch.wrap("deliver", reminders.deliver, set_phase("deliver"), set_phase("sweep"))
    emails.reminder_email = watch.wrap("render", emails.reminder_email)
    connection = mail.get_connection()  # what deliver() would open itself; passed in so its sends can be timed
    connection.send_messages = watch.wrap("smtp", connection.send_messages)

    sent_before, bytes_before = sink.counts()
    gc.collect()
    rss_before = proc_status_kib("VmRSS") or 0
    peak_reset = reset_peak_rss()
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
    probe.reset()
    probe.phase = "sweep"
    sink_cpu = sink.cpu_seconds()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = reminders.sweep(now, connection=connection)
        if profiler:
            profiler.disable()
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        probe.phase = "after"
        for (module, name), function in originals.items():
            setattr(module, name, function)
    peak = peak_rss_kib()
    sent_after, bytes_after = sink.counts()
    if profiler:
        profiler.dump_stats(profile_path)
    return {
        "result": result,
        "total": total,
        "cpu": cpu,
        "queries": probe.snapshot(),
        "sink_cpu": _delta(sink_cpu, sink.cpu_seconds()),
        "watch": watch,
        "rss_before": rss_before,
        "peak": peak,
        "peak_is_phase": peak_reset,
        "sink_messages": sent_after - sent_before,
        "sink_bytes": bytes_after - bytes_before,
    }


def reset_outbox(connection) -> None:
    """Between repeats: forget what the last sweep recorded and sent, so the next one does it all again."""
    from tracker.models import Reminder, SweepRun

    Reminder.objects.all().delete()
    SweepRun.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tracker_reminder")


def build_messages(period, now):
    """The same N emails, built with the app's own builder from the rows the sweep sent, and serialised the
    way Django's SMTP backend serialises them (sanitised addresses, CRLF bytes)."""
    from django.conf import settings
    from django.core.mail.message import sanitize_address

    from tracker import emails, reminders
    from tracker.choices import ReminderState
    from tracker.models import Reminder

    rows = (
        Reminder.objects.filter(period=period, state=ReminderState.SENT)
        .select_related("recipient__profile__agency", "period", "initiative", "agency", "update__reviewed_by")
        .order_by("planned_at", "pk")
    )
    messages = []
    for row in rows.iterator(chunk_size=1000):
        message = emails.reminder_email(row.key, [row], late=now - row.planned_at > reminders.LATE_AFTER)
        encoding = message.encoding or settings.DEFAULT_CHARSET
        messages.append(
            (
                sanitize_address(message.from_email, encoding),
                [sanitize_address(address, encoding) for address in message.recipients()],
                message.message().as_bytes(linesep="\r\n"),
            )
        )
    return messages


def measure_baseline(messages, sink):
    """(b): a plain smtplib loop over one connection, the messages already rendered to bytes."""
    sent_before, bytes_before = sink.counts()
    gc.collect()
    sink_cpu = sink.cpu_seconds()
    cpu = time.process_time()
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", sink.port, local_hostname="localhost", timeout=30)
    try:
        for from_email, recipients, data in messages:
            smtp.sendmail(from_email, recipients, data)
    finally:
        smtp.quit()
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    sent_after, bytes_after = sink.counts()
    return {
        "total": total,
        "cpu": cpu,
        "sink_cpu": _delta(sink_cpu, sink.cpu_seconds()),
        "sink_messages": sent_after - sent_before,
        "sink_bytes": bytes_after - bytes_before,
    }


def _delta(before, after):
    return None if before is None or after is None else after - before


# --- The report --------------------------------------------------------------------------------------------


def cpu_text(measured) -> str:
    wall = measured["total"]
    text = f"this process {measured['cpu']:.2f} s ({measured['cpu'] / wall:.0%} of the wall time)"
    if measured["sink_cpu"] is not None:
        text += f", the sink {measured['sink_cpu']:.2f} s ({measured['sink_cpu'] / wall:.0%})"
    return text


def mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=10_000, help="how many reminders are due (default 10000)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG), help=f"PostgreSQL server (default {DEFAULT_PG})"
    )
    parser.add_argument("--per-agency", type=int, default=10, help="initiatives each synthetic agency leads (10)")
    parser.add_argument("--debug", action="store_true", help="run with DEBUG on (default: off, as in production)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="measure sweep and baseline this many times, alternately (3)"
    )
    parser.add_argument("--profile", metavar="FILE", help="run the first sweep under cProfile, stats to FILE")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if min(args.reminders, args.per_agency, args.repeat) < 1:
        parser.error("--reminders, --per-agency and --repeat must be at least 1")
    n = args.reminders
    # A TERM (timeout, kill) unwinds like Ctrl-C, so the database, the folder and the sink are still removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    cleanup = contextlib.ExitStack()
    with cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        sink = Sink()
        cleanup.callback(sink.stop)
        load_start = os.getloadavg()

        if args.database == "postgres":
            db_name, database_url = create_postgres(args.pg_url)
            cleanup.callback(drop_postgres, args.pg_url, db_name)
        else:
            database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"

        # Configure Django in this process before it is set up: the environment is all tracker.settings reads.
        os.environ["DJANGO_SETTINGS_MODULE"] = "tracker.settings"
        os.environ["DATABASE_URL"] = database_url
        os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
        os.environ["TRACKER_VAR_DIR"] = str(workdir)  # nothing is written into the repository's var/
        os.environ["MEDIA_ROOT"] = str(workdir / "media")
        os.environ["DEBUG"] = "true" if args.debug else "false"
        os.environ.setdefault("SECRET_KEY", "bench-reminders-" + uuid.uuid4().hex)
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        cleanup.callback(connections.close_all)  # runs before the database is dropped (callbacks run LIFO)

        probe = QueryProbe()
        cleanup.enter_context(connection.execute_wrapper(probe))

        timings = {}
        start = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        timings["migrate"] = time.perf_counter() - start
        start = time.perf_counter()
        call_command("load_report", verbosity=0, stdout=io.StringIO())
        timings["load_report"] = time.perf_counter() - start
        # The due day is today; the sweep runs at 9:30 in Mexico City on that day. It is 0:30 the next day in
        # Seoul by then, so the Korean half of the reminders (planned 9:00 Seoul) go out as catch-ups, marked late.
        due = datetime.date.today()
        from zoneinfo import ZoneInfo

        now = datetime.datetime.combine(due, datetime.time(9, 30), tzinfo=ZoneInfo("America/Mexico_City"))
        start = time.perf_counter()
        period, agencies = populate(n, args.per_agency, due)
        timings["data"] = time.perf_counter() - start

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                db_version = f"PostgreSQL {cursor.fetchone()[0]} at {args.pg_url.split('@')[-1]}, database {db_name}"
                cursor.execute("ANALYZE")
        else:
            import sqlite3

            db_version = f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL), file in {workdir}"

        # (a) the app's sweep and (b) the baseline, alternately, --repeat times
        runs = []
        messages = None
        for repeat in range(args.repeat):
            if repeat:
                reset_outbox(connection)
            a = measure_sweep(now, sink, probe, args.profile if repeat == 0 else None)
            if messages is None:  # the same messages, built once from the rows the first sweep sent
                start = time.perf_counter()
                messages = build_messages(period, now)
                timings["build"] = time.perf_counter() - start
                built_bytes = sum(len(data) for _, _, data in messages)
            b = measure_baseline(messages, sink)
            runs.append((a, b))
        del messages

        # --- Checks ---
        problems = []
        for number, (a, b) in enumerate(runs, 1):
            result = a["result"]
            if result.recorded != n:
                problems.append(f"run {number}: the sweep recorded {result.recorded:,} reminders, not {n:,}")
            if len(result.sent) != n or result.failed:
                problems.append(f"run {number}: the sweep sent {len(result.sent):,}, failed {len(result.failed):,}")
            if a["sink_messages"] != n:
                problems.append(f"run {number}: the sink got {a['sink_messages']:,} messages from the sweep")
            if b["sink_messages"] != n:
                problems.append(f"run {number}: the sink got {b['sink_messages']:,} messages from the baseline")

        # --- Report: the details of the fastest sweep and the fastest baseline ---
        a = min((a for a, _ in runs), key=lambda run: run["total"])
        b = min((b for _, b in runs), key=lambda run: run["total"])
        result, watch, queries_seen = a["result"], a["watch"], a["queries"]
        record_s, deliver_s, sweep_s = watch.seconds["record"], watch.seconds["deliver"], a["total"]
        sweep_rate = n / sweep_s
        deliver_rate = n / deliver_s
        base_rate = n / b["total"]
        ratio = sweep_rate / base_rate
        phases = ("sweep", "record", "deliver")
        queries = sum(queries_seen["count"][p] for p in phases)
        db_seconds = {p: queries_seen["seconds"][p] for p in phases}
        best = f"best of {len(runs)}" if len(runs) > 1 else "one run"

        def line(label, text=""):
            print(f"  {label:<22}{text}")

        def share(seconds):
            return f"{seconds:.2f} s ({seconds / max(deliver_s, 1e-9):.0%})"

        print()
        print(f"Reminder sweep benchmark: {n:,} ladder reminders, one email each")
        line("machine", f"{nproc()} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}")
        line(
            "load average",
            f"{load_start[0]:.2f} when the run started, {os.getloadavg()[0]:.2f} at the end (1 min; other work on "
            "the machine slows both measurements)",
        )
        line(
            "software",
            f"Python {platform.python_version()}, Django {django.get_version()}, aiosmtpd {package_version('aiosmtpd')}"
            f" (sink in a child process on 127.0.0.1:{sink.port})",
        )
        line("code", code_version())
        line("database", db_version)
        line("settings", f"DEBUG={'on' if args.debug else 'off'}, EMAIL_URL=smtp://127.0.0.1:{sink.port}")
        line(
            "data",
            f"{agencies:,} agencies x {args.per_agency} led initiatives, 1 official each (MX: es, Mexico City; "
            f"KR: ko, Seoul); only the 'due +0' rule active; due {due}, now {now.isoformat()}",
        )
        line(
            "setup",
            f"migrate {timings['migrate']:.1f} s, load_report {timings['load_report']:.1f} s, "
            f"synthetic data {timings['data']:.1f} s",
        )
        print()
        print(
            f"(a) the app: tracker.reminders.sweep(now), {best}"
            + ("  [the first run under cProfile: its times are inflated]" if args.profile else "")
        )
        line(
            "record",
            f"{result.recorded:,} reminders in {record_s:.2f} s ({queries_seen['count']['record']:,} queries, "
            f"{db_seconds['record']:.2f} s in execute)",
        )
        render_s, smtp_s = watch.seconds["render"], watch.seconds["smtp"]
        other_s = deliver_s - render_s - smtp_s - db_seconds["deliver"]
        line(
            "deliver",
            f"{len(result.sent):,} emails in {deliver_s:.2f} s = {deliver_rate:,.0f} emails/s "
            f"({queries_seen['count']['deliver']:,} queries)",
        )
        line(
            "  where deliver goes",
            f"reminder_email {share(render_s)}, send_messages (MIME + wire) {share(smtp_s)}, "
            f"SQL execute {share(db_seconds['deliver'])}, rest {share(other_s)}",
        )
        line(
            "sweep total",
            f"{sweep_s:.2f} s = {sweep_rate:,.0f} emails/s, {len(result.failed)} failed, {result.cancelled} cancelled",
        )
        line("CPU", cpu_text(a))
        line(
            "queries",
            f"{queries:,} in all ({queries / max(n, 1):.2f} per email), "
            f"{queries_seen['params']['deliver']:,} parameters bound in deliver",
        )
        for (phase, shape), count in sorted(queries_seen["shapes"].items(), key=lambda item: -item[1]):
            if phase in phases:
                line("", f"{count:>8,}  {shape}  ({phase})")
        line(
            "peak RSS",
            f"{mib(runs[0][0]['peak'])} during the first sweep ({mib(runs[0][0]['rss_before'])} before it"
            + ("" if runs[0][0]["peak_is_phase"] else "; process-wide peak, VmHWM could not be reset")
            + "; later runs also hold the baseline's messages)",
        )
        line(
            "sink",
            f"{a['sink_messages']:,} messages, {a['sink_bytes'] / 2**20:,.1f} MiB "
            f"({a['sink_bytes'] / max(a['sink_messages'], 1):,.0f} B each)",
        )
        print()
        print(f"(b) the baseline: smtplib.SMTP.sendmail in a loop, one connection, messages already rendered, {best}")
        line(
            "messages",
            f"{n:,} built once with tracker.emails.reminder_email in {timings['build']:.2f} s (not timed in b), "
            f"{built_bytes / 2**20:,.1f} MiB",
        )
        line("send", f"{n:,} emails in {b['total']:.2f} s = {base_rate:,.0f} emails/s")
        line("CPU", cpu_text(b))
        line(
            "sink",
            f"{b['sink_messages']:,} messages, {b['sink_bytes'] / 2**20:,.1f} MiB "
            f"({b['sink_bytes'] / max(b['sink_messages'], 1):,.0f} B each)",
        )
        if len(runs) > 1:
            print()
            print("  run   sweep s  emails/s   baseline s  emails/s   ratio")
            for number, (run_a, run_b) in enumerate(runs, 1):
                rate_a, rate_b = n / run_a["total"], n / run_b["total"]
                print(
                    f"  {number:>3}  {run_a['total']:>8.2f}  {rate_a:>8,.0f}   {run_b['total']:>10.2f}  {rate_b:>8,.0f}"
                    f"   {rate_a / rate_b:>5.1%}"
                )
        print()
        needed = TARGET * base_rate
        verdict = "PASS" if ratio >= TARGET else "MISS"
        print(
            f"(c) sweep / baseline = {sweep_rate:,.0f} / {base_rate:,.0f} emails/s = {ratio:.1%} ({best} each); "
            f"target >= {TARGET:.0%}"
        )
        if verdict == "PASS":
            print(
                f"  PASS by {(ratio - TARGET) * 100:.1f} points "
                f"({sweep_rate / needed:.2f}x the required {needed:,.0f} emails/s)"
            )
        else:
            print(
                f"  MISS by {(TARGET - ratio) * 100:.1f} points: the sweep needs {needed:,.0f} emails/s, "
                f"{needed / sweep_rate:.2f}x its {sweep_rate:,.0f} (at most {n / needed:.2f} s for {n:,} instead of "
                f"{sweep_s:.2f} s)"
            )
        if args.profile:
            import pstats

            print(f"\n  cProfile of the first sweep written to {args.profile}; top 25 by cumulative time:")
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
        if problems:
            print("\nCHECK FAILED: " + "; ".join(problems))
            return 2
        print("\nCleaning up: " + ("dropping " + db_name if args.database == "postgres" else f"removing {workdir}"))
        return 1 if (verdict == "MISS" and args.fail_on_miss) else 0


if __name__ == "__main__":
    sys.exit(main())
