#!/usr/bin/env python
"""Benchmark of the spreadsheet round trip (tracker/sheets.py): a 500-row sheet's preview and its import.

    .venv/bin/python scripts/bench_sheets.py [--database-url postgres://postgres@127.0.0.1:5432/NAME]
        [--initiatives 650] [--rows 500] [--repeat 3] [--fail-on-miss]

By default it creates a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth) and drops it at
the end; --database-url names an empty database to use instead (it is migrated, filled and left as it is). It
loads the report's catalog (`load_report`), then adds what an agency with a big portfolio looks like: a Mexican
agency that leads --initiatives synthetic initiatives (a Korean agency leads each on the other side), an
official of it, an open reporting period with a pending reminder for each initiative, and this period's updates
already in every state, written through tracker.actions as the pages write them: a draft with an evidence link on
one initiative in five, a submitted update on one in ten, an accepted one on one in ten.

The official then does what the issue measures, through the real views (django.test.Client, the production
middleware and templates, DEBUG off, in this process, so that the queries of each request are counted):

1. download the period's sheet (XLSX), and fill --rows of its editable rows with openpyxl (status, progress,
   summary, next steps and an evidence link; the drafts' rows changed too);
2. upload it (the file checked and stored) and open its preview (read, compared with the database, rendered),
   --repeat times, the best kept; a 100-row file's preview too, to show the queries do not grow with the rows;
3. import it as drafts (the confirm POST: planned again, then every row through actions.save_update in one
   transaction);
4. download the sheet again, fill the same rows (progress changed), upload, preview in "submit for review" mode
   and import: every row submitted, its reminders cancelled.

Goals (issue 14): the preview of a 500-row sheet in under 2 s, its import in under 5 s, and queries per row
bounded: the preview's queries the same for 100 and for 500 rows, the import's a fixed number per row. The report
prints the machine, the data, each step's time and queries, and the verdicts. Nothing is written in the
repository: var/ (uploads, collected static files) is a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmachine import code_version, cpu_model, memory_total, nproc, package_version

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres@127.0.0.1:5432"
PREVIEW_GOAL_S, IMPORT_GOAL_S = 2.0, 5.0
SMALL = 100  # the file whose preview's queries are compared with the big one's
OFFICIAL = "bench.sheets.official"


def line(label: str, text: str = "") -> None:
    print(f"  {label:<26}{text}")


# --- The database ----------------------------------------------------------------------------------------------


def pg_admin(server: str):
    import psycopg

    return psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True)


def create_database(server: str, name: str) -> None:
    from psycopg import sql

    with pg_admin(server) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server: str, name: str) -> None:
    from psycopg import sql

    with pg_admin(server) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def populate(initiatives: int) -> dict:
    """The agency, its official, the open period, its initiatives and this period's updates and reminders."""
    import datetime

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tracker import actions
    from tracker.choices import Country, InitiativeKind, OwnershipRole, ReminderKind, Role, Theme
    from tracker.models import (
        Agency,
        Initiative,
        Ownership,
        Profile,
        Reminder,
        Report,
        ReportingPeriod,
        StatusUpdate,
    )

    report = Report.objects.create(slug="bench-sheets", title="Synthetic commission", date="2025-01-01", source_text="")
    mexico = Agency.objects.create(key="bench-mx", country=Country.MEXICO, name="Benchmark Secretariat", acronym="BSX")
    korea = Agency.objects.create(key="bench-kr", country=Country.KOREA, name="Benchmark Ministry", acronym="BMK")
    themes = list(Theme.values)
    created = Initiative.objects.bulk_create(
        Initiative(
            report=report,
            code=f"B-{n:04d}",
            title=f"Synthetic initiative {n}: cooperation programme on {themes[n % len(themes)]}",
            title_es=f"Iniciativa sintética {n}",
            title_ko=f"합성 이니셔티브 {n}",
            kind=InitiativeKind.STRATEGIC,
            theme=themes[n % len(themes)],
            section="Synthetic",
            paragraph=str(n),
            quote="A synthetic recommendation.",
            position=10_000 + n,
        )
        for n in range(1, initiatives + 1)
    )
    Ownership.objects.bulk_create(
        [
            Ownership(initiative=initiative, agency=agency, country=agency.country, role=OwnershipRole.LEAD)
            for initiative in created
            for agency in (mexico, korea)
        ]
    )
    user_model = get_user_model()
    official = user_model.objects.create_user(OFFICIAL, "official@example.invalid", "unused", first_name="Ana")
    Profile.objects.create(user=official, role=Role.OFFICIAL, agency=mexico, time_zone="America/Mexico_City")
    reviewer = user_model.objects.create_user("bench.sheets.reviewer", "reviewer@example.invalid", "unused")
    Profile.objects.create(user=reviewer, role=Role.SECRETARIAT, agency=Agency.objects.get(key="sre"))
    today = timezone.localdate()
    period = ReportingPeriod.objects.create(
        name="2026 Q4",
        start=today - datetime.timedelta(days=60),
        end=today + datetime.timedelta(days=30),
        due_date=today + datetime.timedelta(days=14),
    )
    Reminder.objects.bulk_create(
        Reminder(
            key=f"bench:due:{initiative.pk}",
            kind=ReminderKind.DUE,
            recipient=official,
            period=period,
            initiative=initiative,
            agency=mexico,
            planned_at=timezone.now() + datetime.timedelta(days=14),
        )
        for initiative in created
    )
    counts = {"draft": 0, "submitted": 0, "accepted": 0}
    for n, initiative in enumerate(created):
        state = "draft" if n % 5 == 1 else "submitted" if n % 10 == 2 else "accepted" if n % 10 == 4 else None
        if state is None:
            continue
        update = StatusUpdate(
            initiative=initiative,
            agency=mexico,
            period=period,
            author=official,
            status="on_track",
            progress=20,
            summary="The working group met and agreed its terms of reference.",
        )
        links = ["https://www.gob.mx/bench/acta"] if state == "draft" else []
        actions.save_update(update, submit=state != "draft", links=links, user=official)
        if state == "accepted":
            actions.accept_update(update, user=reviewer)
        counts[state] += 1
    return {"official": official, "period": period, "agency": mexico, "counts": counts}


# --- What the official does ------------------------------------------------------------------------------------


@dataclass
class Step:
    label: str
    seconds: float
    queries: int
    rows: int = 0
    note: str = ""


def measured(label: str, function, rows: int = 0) -> tuple[Step, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - start
    return Step(label, seconds, len(queries), rows), result


def fill(content: bytes, rows: int, progress: int) -> bytes:
    """The downloaded sheet with `rows` editable rows filled in (the locked ones are left as they are)."""
    from openpyxl import load_workbook

    from tracker import sheets

    column = {c.key: index for index, c in enumerate(sheets.COLUMNS, start=1)}
    book = load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    filled = 0
    for number in range(2, sheet.max_row + 1):
        if filled == rows:
            break
        if sheet.cell(row=number, column=column["status"]).protection.locked:
            continue  # submitted or accepted: read-only
        code = sheet.cell(row=number, column=column["code"]).value
        values = {
            "status": "On track" if number % 3 else "At risk",
            "progress": progress,
            "summary": f"{code}: the pilot started with two partner institutions; results are expected next quarter.",
            "next_steps": "Sign the implementing arrangement.",
            "evidence_links": f"https://www.gob.mx/bench/{code}",
        }
        for key, value in values.items():
            sheet.cell(row=number, column=column[key], value=value)
        filled += 1
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def upload(client, content: bytes, mode: str) -> str:
    file = io.BytesIO(content)
    file.name = "updates.xlsx"
    response = client.post("/worklist/upload/", {"file": file, "mode": mode})
    assert response.status_code == 302, response.content[:2000]
    return response["Location"]


def preview(client, location: str, repeat: int, rows: int, label: str) -> tuple[Step, object]:
    """The preview page, `repeat` times (the best kept); the plan it showed, read again (not timed)."""
    from tracker import sheets
    from tracker.models import SheetUpload
    from tracker.views.common import open_period

    best = None
    for _ in range(repeat):
        step, response = measured(label, lambda: client.get(location), rows)
        assert response.status_code == 200
        if best is None or step.seconds < best[0].seconds:
            best = (step, response)
    step, response = best
    upload = SheetUpload.objects.get(pk=location.rstrip("/").split("/")[-1].split("?")[0])
    mode = "submit" if "mode=submit" in location else upload.mode
    plan = sheets.plan_upload(upload, user=upload.user, period=open_period(), mode=mode)
    assert not plan.errors, [(p.row, p.column, p.message) for p in plan.errors[:5]]
    assert f'name="fingerprint" value="{plan.fingerprint}"' in response.content.decode(), "the page showed another plan"
    step.note = f"{len(plan.changes)} changes, {len(plan.left)} rows left alone, best of {repeat}"
    return step, plan


def confirm(client, location: str, plan, label: str) -> Step:
    path = location.split("?")[0] + "confirm/"
    step, response = measured(
        label, lambda: client.post(path, {"mode": plan.mode, "fingerprint": plan.fingerprint}), len(plan.changes)
    )
    assert response.status_code == 302 and response["Location"] == "/", response.content[:2000]
    return step


# --- The report -----------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use (default: a fresh one, dropped)")
    parser.add_argument("--initiatives", type=int, default=650, help="initiatives the agency leads (650)")
    parser.add_argument("--rows", type=int, default=500, help="rows of the sheet filled in (500)")
    parser.add_argument("--repeat", type=int, default=3, help="previews measured, the best kept (3)")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.rows > sum(1 for n in range(args.initiatives) if n % 10 not in (2, 4)):
        parser.error("--rows must leave room for the submitted and accepted rows: at most 80 % of --initiatives")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    with contextlib.ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="bench-sheets-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        if args.database_url:
            database_url = args.database_url
        else:
            name = f"bench_sheets_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            create_database(SERVER, name)
            cleanup.callback(drop_database, SERVER, name)
            database_url = f"{SERVER}/{name}"
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "tracker.settings",
                "DATABASE_URL": database_url,
                "TRACKER_VAR_DIR": str(workdir),
                "MEDIA_ROOT": str(workdir / "media"),
                "REPORT_CACHE_DIR": str(workdir / "report-cache"),
                "EMAIL_URL": "dummymail://",
                "REDIS_URL": "",
                "DEBUG": "false",
                "HTTPS": "false",
                "TWO_FACTOR_REQUIRED": "false",
                "ALLOWED_HOSTS": "testserver",
                "SECRET_KEY": "bench-sheets-" + uuid.uuid4().hex,
                "LOG_LEVEL": "WARNING",
            }
        )
        for folder in ("broker/queue", "broker/processed"):  # where accept_update's kick_delivery() publishes
            (workdir / folder).mkdir(parents=True)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        import logging

        from django.core.management import call_command
        from django.db import connection, connections
        from django.test import Client

        cleanup.callback(connections.close_all)  # before the database is dropped (callbacks run last first)
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)

        setup = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("load_report", verbosity=0, stdout=io.StringIO())
        call_command("collectstatic", verbosity=0, interactive=False)  # the manifest the templates need (DEBUG off)
        data = populate(args.initiatives)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute("SHOW server_version")
            server_version = cursor.fetchone()[0]
        setup = time.perf_counter() - setup

        from tracker.choices import ReminderState, ReviewState
        from tracker.models import Reminder, StatusUpdate

        client = Client()
        client.force_login(data["official"])
        steps = []
        step, response = measured("download (XLSX)", lambda: client.get("/worklist/sheet.xlsx"))
        assert response.status_code == 200
        content = response.content
        sheet_rows = args.initiatives
        step.rows, step.note = sheet_rows, f"{len(content) / 1024:.0f} kB"
        steps.append(step)

        small = fill(content, SMALL, 35)
        big = fill(content, args.rows, 35)
        step, location_small = measured("upload (100 rows)", lambda: upload(client, small, "draft"), SMALL)
        steps.append(step)
        small_preview, _plan = preview(client, location_small, args.repeat, SMALL, "preview (100 rows)")
        steps.append(small_preview)
        step, location = measured(f"upload ({args.rows} rows)", lambda: upload(client, big, "draft"), args.rows)
        steps.append(step)
        big_preview, plan = preview(client, location, args.repeat, args.rows, f"preview ({args.rows} rows)")
        steps.append(big_preview)
        drafts = confirm(client, location, plan, f"import as drafts ({len(plan.changes)} rows)")
        steps.append(drafts)
        in_draft = StatusUpdate.objects.filter(agency=data["agency"], review_state=ReviewState.DRAFT).count()
        drafts.note = f"{in_draft} drafts in the period now"

        # A new download (the drafts' versions changed with the import), filled in again and submitted.
        again = fill(client.get("/worklist/sheet.xlsx").content, args.rows, 45)
        step, location = measured(f"upload ({args.rows} rows, again)", lambda: upload(client, again, "submit"))
        step.rows = args.rows
        steps.append(step)
        submit_preview, plan = preview(client, location, 1, args.rows, f"preview, submit mode ({args.rows} rows)")
        steps.append(submit_preview)
        submitted = confirm(client, location, plan, f"import, submitted ({len(plan.changes)} rows)")
        steps.append(submitted)
        cancelled = Reminder.objects.filter(agency=data["agency"], state=ReminderState.CANCELLED).count()
        waiting = StatusUpdate.objects.filter(agency=data["agency"], review_state=ReviewState.SUBMITTED).count()
        submitted.note = f"{waiting} updates waiting for review, {cancelled} reminders cancelled"

        print()
        print(
            f"Spreadsheet round trip benchmark: a {args.rows}-row sheet of an agency leading "
            f"{args.initiatives} initiatives"
        )
        line(
            "machine",
            f"{nproc()} CPUs (nproc), {cpu_model()}, {memory_total()}, {platform.system()} {platform.release()}",
        )
        line(
            "software",
            f"Python {platform.python_version()}, Django {django.get_version()}, openpyxl "
            f"{package_version('openpyxl')}, psycopg {package_version('psycopg')}",
        )
        line("code", code_version(["tracker", "templates/tracker", "scripts/bench_sheets.py"]))
        server = database_url.rsplit("/", 1)[0].split("@")[-1]
        line(
            "database",
            f"PostgreSQL {server_version} at {server} "
            f"({'given' if args.database_url else 'fresh, dropped at the end'})",
        )
        line("settings", "DEBUG=false, production middleware and templates, django.test.Client in this process")
        counts = data["counts"]
        line(
            "data",
            f"load_report + {args.initiatives} initiatives led by BSX; this period: {counts['draft']} drafts (with a "
            f"link), {counts['submitted']} submitted, {counts['accepted']} accepted; {args.initiatives} pending "
            f"reminders; set up in {setup:.1f} s",
        )
        line("load average", f"{os.getloadavg()[0]:.2f} (1 min)")
        print()
        print(f"  {'step':<40}{'time':>9}{'queries':>9}{'per row':>9}  notes")
        for step in steps:
            per_row = f"{step.queries / step.rows:.1f}" if step.rows else ""
            print(f"  {step.label:<40}{step.seconds:>8.2f}s{step.queries:>9}{per_row:>9}  {step.note}")

        verdicts = []

        def verdict(ok: bool, text: str) -> None:
            verdicts.append(ok)
            print(f"  {'ok  ' if ok else 'MISS'} {text}")

        print()
        print("Verdicts (issue 14)")
        verdict(
            big_preview.seconds < PREVIEW_GOAL_S,
            f"preview of {args.rows} rows in {big_preview.seconds:.2f} s (goal < {PREVIEW_GOAL_S:.0f} s)",
        )
        slowest = max(drafts, submitted, key=lambda step: step.seconds)
        verdict(
            slowest.seconds < IMPORT_GOAL_S,
            f"import of {args.rows} rows in {drafts.seconds:.2f} s as drafts, {submitted.seconds:.2f} s submitted "
            f"(goal < {IMPORT_GOAL_S:.0f} s)",
        )
        verdict(
            small_preview.queries == big_preview.queries,
            f"the preview's queries do not grow with the rows: {small_preview.queries} for {SMALL} rows, "
            f"{big_preview.queries} for {args.rows}",
        )
        per_row = max(drafts.queries / drafts.rows, submitted.queries / submitted.rows)
        verdict(per_row <= 30, f"the import's queries per row are bounded: at most {per_row:.1f} per row (<= 30)")
        print(
            f"\nCleaning up: {'leaving ' + database_url if args.database_url else 'dropping the database'}, {workdir}"
        )
        return 1 if args.fail_on_miss and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
