#!/usr/bin/env python
"""Benchmark of reminder delivery in the production shape: a Celery prefork worker sweeping a burst of due
reminders into an SMTP sink, against a plain smtplib loop sending the same messages.

    .venv/bin/python scripts/bench_reminders.py [--reminders 10000] [--database sqlite|postgres] [--repeat 3]
        [--broker redis://127.0.0.1:6379/13] [--concurrency N] [--detail] [--profile FILE]

It starts a counting SMTP sink (aiosmtpd) in a child process on 127.0.0.1, creates an isolated database (a
SQLite file in a temporary folder, or a fresh PostgreSQL database that is dropped at the end), migrates it,
loads the catalog and adds synthetic agencies, one official each, lead ownerships of synthetic initiatives
and an open reporting period due today, with the "due" rung planned for the current hour, so that exactly N
reminders are due now (the Mexican half on time, the Korean half, planned 15 hours earlier, late). Then:

(a) the production shape: a real Celery worker, `celery -A tracker worker --pool=prefork --concurrency=C`
    (C = the CPU count, Celery's default and what the README asks of a deployment), with the app's own
    settings and tasks, on a queue of its own on the broker (--broker, else REDIS_URL, else Kombu's
    filesystem transport in the temporary folder). It gets one `tracker.tasks.sweep_reminders` message, as
    beat sends it: the sweep records the N reminders and asks the rest of the pool to deliver alongside it
    (`deliver_reminders` tasks), so N emails leave from C processes, each running the app's SENDERS senders
    (threads), each sender over its own SMTP connection. Timed from publishing the message to the moment
    every row is marked sent;
(b) the baseline: the same N messages, built once with the app's own `tracker.emails.reminder_email` and
    serialised as Django's SMTP backend does, are sent with `smtplib.SMTP.sendmail` over one connection;
(c) the ratio (a)/(b) against the target: delivery must reach at least 50 % of the baseline's throughput.
(a) and (b) run alternately --repeat times (the outbox is emptied in between); the best of each is compared,
since other work on the machine can only slow a run down.
(d) with --detail (or --profile): one more sweep, in this process with a single sender, instrumented: where
    a sender's time goes and how many queries it makes per email. Not part of the ratio.

The run is configured like production (DEBUG off), and everything it created is removed at the end (database,
folder, the worker, its queue). Nothing in the repository is written: Django's var/ folder is pointed at the
temporary folder too.
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
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from benchmachine import code_version, cpu_model, nproc, package_version

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


# --- The database --------------------------------------------------------------------------------------------


def create_postgres(admin_url: str) -> tuple[str, str]:
    import psycopg
    from psycopg import sql

    name = f"bench_rem_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{admin_url.rstrip('/')}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, f"{admin_url.rstrip('/')}/{name}"


def drop_postgres(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{admin_url.rstrip('/')}/postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def populate(n: int, per_agency: int, due: datetime.date, hour: int):
    """Synthetic agencies (alternately Mexican and Korean), one official each, `per_agency` initiatives each
    led by it, and one open period due on `due`; only the "due, 0 days" rung stays active, planned for
    `hour`, so exactly one reminder per lead ownership is due on the due day from `hour` o'clock in the
    official's zone."""
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
    ReminderRule.objects.get_or_create(kind=ReminderKind.DUE, days=0, defaults={"hour": hour})
    ReminderRule.objects.update(active=False)
    ReminderRule.objects.filter(kind=ReminderKind.DUE, days=0).update(active=True, hour=hour)
    ReportingPeriod.objects.update(state=PeriodState.CLOSED)
    period = ReportingPeriod.objects.create(
        name=f"Benchmark {due.isoformat()}",
        start=due - datetime.timedelta(days=90),
        end=due + datetime.timedelta(days=30),
        due_date=due,
    )
    return period, count


# --- The worker: the app's Celery worker, as a deployment runs it -------------------------------------------------


def read_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Worker:
    """`celery -A tracker worker --pool=prefork --concurrency=C` on a queue of its own, in its own process group."""

    def __init__(self, env: dict, concurrency: int, log_path: Path):
        self.concurrency = concurrency
        self.log_path = log_path
        self.args = [
            "celery",
            "-A",
            "tracker",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            f"--hostname=bench-reminders-{os.getpid()}@%h",
            f"--logfile={log_path}",
        ]
        self.output = open(log_path.with_suffix(".out"), "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its pool and nothing else is in this group
        )

    @property
    def command(self) -> str:
        return " ".join(self.args[:-2] + ["..."])

    def log(self) -> str:
        text = ""
        for path in (self.log_path, self.log_path.with_suffix(".out")):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return text

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(r"\bready\.", self.log()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{self.tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process.poll() is None

    def pids(self) -> list[int]:
        """The worker and every process under it (its pool)."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := read_stat(int(entry.name))):
                parents[int(entry.name)] = stat[0]
        found, frontier = [self.process.pid], [self.process.pid]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            found += frontier
        return found

    def cpu_seconds(self) -> float:
        return sum(stat[1] for pid in self.pids() if (stat := read_stat(pid)))

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it takes too long; only this worker's own group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.output.close()


def write_settings(workdir: Path, queue: str, filesystem_broker: bool) -> str:
    """The app's settings, with the worker and this process on a queue of their own: a broker shared with other
    work (another worker on the same Redis database) never sees the benchmark's tasks, nor the reverse."""
    lines = [
        "from tracker.settings import *  # noqa: F403",
        f"CELERY_TASK_DEFAULT_QUEUE = {queue!r}",
        "CELERY_WORKER_ENABLE_REMOTE_CONTROL = False  # no pidbox queues left behind on the broker",
    ]
    if filesystem_broker:  # polled once a second by default; its control folder is relative to the working folder
        lines.append(
            "CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, 'polling_interval': 0.05, "
            f"'control_folder': {str(workdir / 'broker' / 'control')!r}}}"
        )
    (workdir / "bench_settings.py").write_text("\n".join(lines) + "\n")
    return "bench_settings"


def delete_queue(broker_url: str, queue: str) -> None:
    """Remove the benchmark's own queue from Redis (its messages are all acknowledged by now)."""
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.delete(
            queue,
            f"_kombu.binding.{queue}",
            f"_kombu.binding_permanent.{queue}",
            *(f"{queue}\x06\x16{step}" for step in (3, 6, 9)),
        )
    finally:
        client.close()


# --- The measurements --------------------------------------------------------------------------------------


def measure_production(n, sink, worker, probe, timeout):
    """(a): one `sweep_reminders` message to the worker, as beat sends it; timed until every row is marked sent."""
    from django.db.models import Min
    from django.utils import timezone

    from tracker.celery import app
    from tracker.choices import ReminderState
    from tracker.models import Reminder, SweepRun

    probe.phase = "poll"
    sent_before, bytes_before = sink.counts()
    gc.collect()
    worker_cpu, sink_cpu, cpu = worker.cpu_seconds(), sink.cpu_seconds(), time.process_time()
    published_at = timezone.now()
    start = time.perf_counter()
    deadline = start + timeout

    def wait(what, done):
        while not done():
            if not worker.alive() or time.perf_counter() > deadline:
                raise RuntimeError(f"timed out or the worker died waiting for {what}:\n{worker.tail()}")
            time.sleep(0.01)

    app.send_task("tracker.tasks.sweep_reminders")
    wait("the sink to receive every email", lambda: sink.counts()[0] - sent_before >= n)
    arrived = time.perf_counter() - start
    wait("every row to be marked sent", lambda: Reminder.objects.filter(state=ReminderState.SENT).count() >= n)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    worker_cpu = worker.cpu_seconds() - worker_cpu
    sink_cpu = _delta(sink_cpu, sink.cpu_seconds())
    sent_after, bytes_after = sink.counts()
    # The sweep's record is complete once the sweep and every helper have added what they sent.
    wait("the sweep's record", lambda: SweepRun.objects.filter(finished_at__isnull=False, sent__gte=n).exists())
    run = SweepRun.objects.get()
    first_claim = Reminder.objects.aggregate(first=Min("claimed_at"))["first"]
    return {
        "total": total,
        "arrived": arrived,
        "cpu": cpu,
        "worker_cpu": worker_cpu,
        "sink_cpu": sink_cpu,
        "published_at": published_at,
        "recorded": run.recorded,
        "sent": run.sent,
        "failed": run.failed + Reminder.objects.exclude(state=ReminderState.SENT).count(),
        "record_s": (first_claim - run.started_at).total_seconds() if first_claim else None,
        "senders": sorted(Counter(Reminder.objects.values_list("claimed_by", flat=True)).values(), reverse=True),
        "sink_messages": sent_after - sent_before,
        "sink_bytes": bytes_after - bytes_before,
    }


def measure_detail(now, sink, probe, profile_path):
    """(d): one tracker.reminders.sweep(now) in this process, a single sender, instrumented from outside (the
    module is not changed)."""
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


def line(label, text=""):
    print(f"  {label:<22}{text}")


def report_detail(a, n) -> None:
    """(d): where a single sender's time goes."""
    result, watch, queries_seen = a["result"], a["watch"], a["queries"]
    record_s, deliver_s = watch.seconds["record"], watch.seconds["deliver"]
    phases = ("sweep", "record", "deliver")
    queries = sum(queries_seen["count"][p] for p in phases)
    db_seconds = {p: queries_seen["seconds"][p] for p in phases}

    def share(seconds):
        return f"{seconds:.2f} s ({seconds / max(deliver_s, 1e-9):.0%})"

    line(
        "record",
        f"{result.recorded:,} reminders in {record_s:.2f} s ({queries_seen['count']['record']:,} queries, "
        f"{db_seconds['record']:.2f} s in execute)",
    )
    render_s, smtp_s = watch.seconds["render"], watch.seconds["smtp"]
    other_s = deliver_s - render_s - smtp_s - db_seconds["deliver"]
    line(
        "deliver",
        f"{len(result.sent):,} emails in {deliver_s:.2f} s = {n / max(deliver_s, 1e-9):,.0f} emails/s "
        f"({queries_seen['count']['deliver']:,} queries)",
    )
    line(
        "  where deliver goes",
        f"reminder_email {share(render_s)}, send_messages (MIME + wire) {share(smtp_s)}, "
        f"SQL execute {share(db_seconds['deliver'])}, rest {share(other_s)}",
    )
    line(
        "sweep total",
        f"{a['total']:.2f} s = {n / a['total']:,.0f} emails/s, {len(result.failed)} failed, "
        f"{result.cancelled} cancelled",
    )
    line("CPU", cpu_text(a) + f"; {a['cpu'] / max(n, 1) * 1000:.2f} ms of this process's CPU per email")
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
        f"{mib(a['peak'])} during the sweep ({mib(a['rss_before'])} before it"
        + ("" if a["peak_is_phase"] else "; process-wide peak, VmHWM could not be reset")
        + ")",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=10_000, help="how many reminders are due (default 10000)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG), help=f"PostgreSQL server (default {DEFAULT_PG})"
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("BENCH_BROKER_URL") or os.environ.get("REDIS_URL") or "",
        help="Redis for the worker (default BENCH_BROKER_URL or REDIS_URL; without either, Kombu's filesystem "
        "transport in the temporary folder). The benchmark uses a queue of its own and deletes it at the end.",
    )
    parser.add_argument(
        "--concurrency", type=int, default=nproc(), help="the worker's pool processes (default: the CPU count)"
    )
    parser.add_argument("--per-agency", type=int, default=10, help="initiatives each synthetic agency leads (10)")
    parser.add_argument("--debug", action="store_true", help="run with DEBUG on (default: off, as in production)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="measure delivery and baseline this many times, alternately (3)"
    )
    parser.add_argument("--detail", action="store_true", help="(d): also one instrumented single-sender sweep")
    parser.add_argument("--profile", metavar="FILE", help="run (d) under cProfile, stats to FILE (implies --detail)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for one delivery (600)")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if min(args.reminders, args.per_agency, args.repeat, args.concurrency) < 1:
        parser.error("--reminders, --per-agency, --repeat and --concurrency must be at least 1")
    n = args.reminders
    # A TERM (timeout, kill) unwinds like Ctrl-C, so the database, the folder, the worker and the sink go too.
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
        queue = f"bench-reminders-{os.getpid()}-{uuid.uuid4().hex[:8]}"

        # Configure Django before it is set up: the environment is all tracker.settings reads. The worker gets
        # the same environment.
        os.environ["DJANGO_SETTINGS_MODULE"] = write_settings(workdir, queue, filesystem_broker=not args.broker)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(workdir), str(ROOT), os.environ.get("PYTHONPATH")])
        )
        os.environ["DATABASE_URL"] = database_url
        os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
        os.environ["TRACKER_VAR_DIR"] = str(workdir)  # nothing is written into the repository's var/
        os.environ["MEDIA_ROOT"] = str(workdir / "media")
        os.environ["DEBUG"] = "true" if args.debug else "false"
        os.environ.setdefault("SECRET_KEY", "bench-reminders-" + uuid.uuid4().hex)
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        if args.broker:
            os.environ["REDIS_URL"] = args.broker
        else:
            os.environ.pop("REDIS_URL", None)
        sys.path[:0] = [str(workdir), str(ROOT)]
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
        # Due today in Mexico City, the rung planned for the current hour there: the Mexican half of the reminders
        # is due now and on time, the Korean half (the same hour in Seoul, 15 hours earlier) is due and late.
        from zoneinfo import ZoneInfo

        local = datetime.datetime.now(ZoneInfo("America/Mexico_City"))
        due = local.date()
        start = time.perf_counter()
        period, agencies = populate(n, args.per_agency, due, local.hour)
        timings["data"] = time.perf_counter() - start

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                db_version = f"PostgreSQL {cursor.fetchone()[0]} at {args.pg_url.split('@')[-1]}, database {db_name}"
                cursor.execute("ANALYZE")
        else:
            import sqlite3

            db_version = f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL), file in {workdir}"
        if args.broker:
            broker = f"Redis {args.broker.split('@')[-1]}, queue {queue} (its own; deleted at the end)"
            cleanup.callback(delete_queue, args.broker, queue)
        else:
            broker = f"Kombu filesystem transport in {workdir / 'broker'} (polled every 50 ms)"
            for folder in ("broker/queue", "broker/processed", "broker/control"):  # the transport does not create them
                (workdir / folder).mkdir(parents=True, exist_ok=True)

        connections.close_all()  # the worker forks from its own process; this one reconnects when it needs to
        worker = Worker(dict(os.environ), args.concurrency, workdir / "worker.log")
        cleanup.callback(worker.stop)
        start = time.perf_counter()
        worker.wait_ready()
        timings["worker"] = time.perf_counter() - start

        # (a) the production shape and (b) the baseline, alternately, --repeat times
        runs = []
        messages = None
        for repeat in range(args.repeat):
            if repeat:
                reset_outbox(connection)
            a = measure_production(n, sink, worker, probe, args.timeout)
            if messages is None:  # the same messages, built once from the rows the first delivery sent
                start = time.perf_counter()
                messages = build_messages(period, a["published_at"])
                timings["build"] = time.perf_counter() - start
                built_bytes = sum(len(data) for _, _, data in messages)
            b = measure_baseline(messages, sink)
            runs.append((a, b))
        del messages

        detail = None
        if args.detail or args.profile:
            from django.utils import timezone

            reset_outbox(connection)
            detail = measure_detail(timezone.now(), sink, probe, args.profile)
        load_end = os.getloadavg()

        # --- Checks ---
        problems = []
        for number, (a, b) in enumerate(runs, 1):
            if a["recorded"] != n:
                problems.append(f"run {number}: the sweep recorded {a['recorded']:,} reminders, not {n:,}")
            if a["sent"] != n or a["failed"]:
                problems.append(f"run {number}: the sweep's record says {a['sent']:,} sent, {a['failed']:,} failed")
            if a["sink_messages"] != n:
                problems.append(f"run {number}: the sink got {a['sink_messages']:,} messages from the worker")
            if b["sink_messages"] != n:
                problems.append(f"run {number}: the sink got {b['sink_messages']:,} messages from the baseline")
        if detail and (len(detail["result"].sent) != n or detail["sink_messages"] != n):
            problems.append(f"(d): sent {len(detail['result'].sent):,}, the sink got {detail['sink_messages']:,}")

        # --- Report: the details of the fastest delivery and the fastest baseline ---
        a = min((a for a, _ in runs), key=lambda run: run["total"])
        b = min((b for _, b in runs), key=lambda run: run["total"])
        rate = n / a["total"]
        base_rate = n / b["total"]
        ratio = rate / base_rate
        best = f"best of {len(runs)}" if len(runs) > 1 else "one run"

        print()
        print(f"Reminder delivery benchmark: {n:,} ladder reminders, one email each")
        line("machine", f"{nproc()} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}")
        line(
            "load average",
            f"{load_start[0]:.2f} when the run started, {load_end[0]:.2f} at the end (1 min; the benchmark's own "
            "work counts too, and other work on the machine slows every measurement)",
        )
        line(
            "software",
            f"Python {platform.python_version()}, Django {django.get_version()}, Celery {package_version('celery')}, "
            f"aiosmtpd {package_version('aiosmtpd')} (sink in a child process on 127.0.0.1:{sink.port})",
        )
        line("code", code_version(["tracker", "templates/emails"]))
        line("database", db_version)
        line("broker", broker)
        line("settings", f"DEBUG={'on' if args.debug else 'off'}, EMAIL_URL=smtp://127.0.0.1:{sink.port}")
        line(
            "data",
            f"{agencies:,} agencies x {args.per_agency} led initiatives, 1 official each (MX: es, Mexico City, on "
            f"time; KR: ko, Seoul, late); only the 'due +0' rule active, at {local.hour}:00; due {due}",
        )
        line(
            "setup",
            f"migrate {timings['migrate']:.1f} s, load_report {timings['load_report']:.1f} s, "
            f"synthetic data {timings['data']:.1f} s, worker start {timings['worker']:.1f} s",
        )
        print()
        from tracker.reminders import SENDERS

        print(
            f"(a) the production shape: a Celery prefork worker with {args.concurrency} processes, {SENDERS} senders "
            f"each, one sweep_reminders message as from beat, {best}"
        )
        line("worker", worker.command)
        line(
            "delivery",
            f"{n:,} emails in {a['total']:.2f} s = {rate:,.0f} emails/s, from publishing the sweep to the last "
            f"'sent' mark (the last email reached the sink at {a['arrived']:.2f} s)",
        )
        if a["record_s"] is not None:
            line(
                "  recording", f"{a['recorded']:,} reminders recorded before the first claim, {a['record_s']:.2f} s in"
            )
        line(
            "  senders",
            f"{len(a['senders'])} ("
            + " + ".join(f"{count:,}" for count in a["senders"])
            + " rows): the sweep's and those of the deliver_reminders tasks it asked for",
        )
        line(
            "CPU",
            f"the worker's processes {a['worker_cpu']:.2f} s ({a['worker_cpu'] / a['total']:.2f} CPUs busy; "
            f"{a['worker_cpu'] / n * 1000:.2f} ms per email)"
            + (
                f", the sink {a['sink_cpu']:.2f} s ({a['sink_cpu'] / a['total']:.2f} CPUs)"
                if a["sink_cpu"] is not None
                else ""
            )
            + f", this process (waiting) {a['cpu']:.2f} s",
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
            print("  run   delivery s  emails/s   baseline s  emails/s   ratio")
            for number, (run_a, run_b) in enumerate(runs, 1):
                rate_a, rate_b = n / run_a["total"], n / run_b["total"]
                print(
                    f"  {number:>3}  {run_a['total']:>11.2f}  {rate_a:>8,.0f}   {run_b['total']:>10.2f}  "
                    f"{rate_b:>8,.0f}   {rate_a / rate_b:>5.1%}"
                )
        print()
        needed = TARGET * base_rate
        verdict = "PASS" if ratio >= TARGET else "MISS"
        print(
            f"(c) delivery / baseline = {rate:,.0f} / {base_rate:,.0f} emails/s = {ratio:.1%} ({best} each; "
            f"{args.concurrency} worker processes on {nproc()} CPUs); target >= {TARGET:.0%}"
        )
        if verdict == "PASS":
            print(
                f"  PASS by {(ratio - TARGET) * 100:.1f} points "
                f"({rate / needed:.2f}x the required {needed:,.0f} emails/s)"
            )
        else:
            print(
                f"  MISS by {(TARGET - ratio) * 100:.1f} points: delivery needs {needed:,.0f} emails/s, "
                f"{needed / rate:.2f}x its {rate:,.0f} (at most {n / needed:.2f} s for {n:,} instead of "
                f"{a['total']:.2f} s)"
            )
        if detail:
            print()
            print(
                "(d) one sweep in this process, a single sender, instrumented (not part of the ratio)"
                + ("  [under cProfile: its times are inflated]" if args.profile else "")
            )
            report_detail(detail, n)
        if args.profile:
            import pstats

            print(f"\n  cProfile of (d) written to {args.profile}; top 25 by cumulative time:")
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
        if problems:
            print("\nCHECK FAILED: " + "; ".join(problems))
            return 2
        print(
            "\nCleaning up: the worker, "
            + ("dropping " + db_name if args.database == "postgres" else f"removing {workdir}")
        )
        return 1 if (verdict == "MISS" and args.fail_on_miss) else 0


if __name__ == "__main__":
    sys.exit(main())
