"""Backup and restore (tracker/backup.py, `manage.py backup` and `manage.py restore`).

The main test builds a realistic installation (people, updates in every review state with evidence files, a
frozen report, reminders, groups and permissions, a beat schedule, the audit history all of this writes),
takes a backup, empties the database and the media folder as a new installation would be, restores, and
compares every row of every table and every file byte for byte. The others check what restore refuses: a
database that holds data, a changed or truncated archive, members that would escape MEDIA_ROOT, another
migration state; and that a failed backup leaves nothing at PATH.

The main test empties the database (flush), so it runs on a real transaction; the suite runs such tests last,
and `catalog` loads the report again when an earlier one has emptied the database.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import io
import json
import os
import shutil
import tarfile
import threading
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from tests.conftest import Personas
from tracker import actions, backup, reports
from tracker.choices import ReminderKind
from tracker.models import (
    Evidence,
    Initiative,
    ProgressReport,
    Reminder,
    ReportingPeriod,
    StatusUpdate,
    SweepRun,
)

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(name: str, extra: bytes = b"") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES + extra, content_type="application/pdf")


# --- Fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def catalog(db):
    """The report's catalog: loaded once for the session, again if a transactional test emptied the database."""
    if not Initiative.objects.exists():
        call_command("load_report", verbosity=0, stdout=io.StringIO())


@pytest.fixture
def personas(catalog):
    return Personas()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """A reviewer's decision asks a worker to send the email once committed; no broker runs here."""
    monkeypatch.setattr("tracker.tasks.kick_delivery", lambda: None)


def write_update(user, code, period, *, state="submitted", reviewer=None, files=(), links=(), **fields):
    """An update written through the real actions, with evidence files as the form passes them."""
    update = StatusUpdate(
        initiative=Initiative.objects.get(code=code),
        agency=user.profile.agency,
        period=period,
        author=user,
        status=fields.pop("status", "on_track"),
        progress=fields.pop("progress", 30),
        summary=fields.pop("summary", f"Progress on {code} this period."),
        **fields,
    )
    actions.save_update(
        update, submit=state != "draft", links=links, files=[(f, "application/pdf") for f in files], user=user
    )
    if state == "accepted":
        actions.accept_update(update, user=reviewer, comment="Thank you.")
    elif state == "returned":
        actions.return_update(update, user=reviewer, comment="Please add the figures.")
    return update


@pytest.fixture
def world(personas, period, media):
    p = personas
    # Updates in every review state, with files (one of them not a tiny PDF), links and a Korean summary.
    write_update(
        p.alice,
        "A-318",
        period,
        state="accepted",
        reviewer=p.sec_mx,
        files=[pdf("acta.pdf"), pdf("anexo.pdf", os.urandom(200_000))],
        links=["https://www.gob.mx/se/prensa"],
        progress=60,
    )
    submitted = write_update(p.alice, "SI-01", period, files=[pdf("submitted.pdf")], next_steps="Sign the MoU.")
    draft = write_update(p.alice, "A-316", period, state="draft", files=[pdf("draft.pdf")], status="blocked")
    draft.summary = "Second draft."
    actions.save_update(draft, submit=False, user=p.alice)  # one more audit record
    write_update(p.alice, "A-317", period, state="returned", reviewer=p.sec_mx)
    write_update(p.charlie, "A-314", period, state="accepted", reviewer=p.sec_kr, summary="통관 절차 간소화 진행 중.")
    evidence = submitted.evidence.get()
    evidence.is_public = True
    evidence.save()

    # Reports: a draft, and a frozen one whose snapshot is a JSON document.
    ProgressReport.objects.create(period=period, title="Working draft", created_by=p.sec_mx)
    reports.freeze_report(
        ProgressReport.objects.create(period=period, title="For the ministers", created_by=p.sec_mx), user=p.sec_mx
    )

    # Reminders (the reviews recorded some too) and a sweep.
    now = timezone.now()
    Reminder.objects.create(
        key=f"upcoming:{p.bob.pk}:{period.pk}:A-316",
        kind=ReminderKind.UPCOMING,
        recipient=p.bob,
        period=period,
        initiative=Initiative.objects.get(code="A-316"),
        agency=p.bob.profile.agency,
        planned_at=now + datetime.timedelta(days=3),
    )
    SweepRun.objects.create(started_at=now, finished_at=now + datetime.timedelta(seconds=2), recorded=1, sent=0)

    # Accounts: a group with a permission, a permission given directly, a two-factor device, an admin log entry.
    editors = Group.objects.create(name="Editors")
    editors.permissions.add(Permission.objects.get(codename="change_reportingperiod"))
    p.admin.groups.add(editors)
    p.bob.user_permissions.add(Permission.objects.get(codename="view_statusupdate"))
    p.bob.is_active = False
    p.bob.save()
    if apps.is_installed("django_otp.plugins.otp_totp"):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        TOTPDevice.objects.create(user=p.sec_mx, name="phone", confirmed=True)
    LogEntry.objects.create(
        user=p.admin,
        content_type=ContentType.objects.get_for_model(ReportingPeriod),
        object_id=str(period.pk),
        object_repr=str(period),
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Due date"]}}]',
    )

    # The beat schedule: a task of its own (its save marks the schedule as changed: PeriodicTasks).
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    PeriodicTask.objects.create(
        name="Nightly check",
        task="tracker.tasks.sweep_reminders",
        crontab=CrontabSchedule.objects.create(minute="0", hour="3"),
    )
    # A signed-in session: sessions are left out of a backup.
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["_auth_user_id"] = str(p.alice.pk)
    session.create()
    return p


# --- Helpers ----------------------------------------------------------------------------------------------


def database_contents() -> dict[str, list[dict]]:
    """Every row of every table but sessions, every field's value.

    Content types and permissions are compared by natural key, and so are references to them, since
    `migrate` gives them ids of its own on each installation; so are the rows of many-to-many tables, whose
    ids restore does not keep (a user's groups are the same groups).
    """
    content_types = {ct.pk: ct.natural_key() for ct in ContentType.objects.all()}
    permissions = {perm.pk: perm.natural_key() for perm in Permission.objects.select_related("content_type")}
    contents = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or model is Session:
            continue
        by_natural_key = model in (ContentType, Permission) or model._meta.auto_created
        rows = []
        for row in model._base_manager.order_by("pk").values():
            for field in model._meta.concrete_fields:
                value = row.get(field.attname)
                if field.is_relation and value is not None:
                    if field.related_model is ContentType:
                        row[field.attname] = content_types[value]
                    elif field.related_model is Permission:
                        row[field.attname] = permissions[value]
            if by_natural_key:
                row.pop(model._meta.pk.attname)
            rows.append(row)
        if by_natural_key:
            rows.sort(key=repr)
        contents[model._meta.label] = rows
    return contents


def media_files(media: Path) -> dict[str, bytes]:
    return {p.relative_to(media).as_posix(): p.read_bytes() for p in media.rglob("*") if p.is_file()}


def empty_installation(media: Path) -> None:
    """What a new installation is: migrated tables holding only what `migrate` writes, and no files."""
    call_command("flush", interactive=False, verbosity=0)  # content types and permissions come back
    # The data migration's rows (the reminder ladder, the sweep's beat task), written as migrate writes them.
    ladder = importlib.import_module("tracker.migrations.0005_default_reminder_ladder")
    ladder.create(MigrationLoader(connection).project_state().apps, None)
    shutil.rmtree(media, ignore_errors=True)


def rewrite(source: Path, target: Path, change) -> Path:
    """Copy an archive member by member; change(info, data) returns the [(info, data)] to write instead."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = old.extractfile(member).read() if member.isreg() else None
            for info, payload in change(member, data):
                new.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return target


def tampered(archive: Path, target: Path) -> Path:
    """The archive with one byte of one evidence file changed (the manifest left as it was)."""
    done = []

    def change(info, data):
        if info.name.startswith("media/") and not done:
            done.append(info.name)
            data = data[:10] + bytes([data[10] ^ 0xFF]) + data[11:]
        return [(info, data)]

    rewrite(archive, target, change)
    assert done
    return target


def truncated(archive: Path, target: Path) -> Path:
    data = archive.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


# --- The round trip ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restore_into_an_empty_installation_gives_back_every_row_and_file(transactional_db, world, media, tmp_path):
    before = database_contents()
    files_before = media_files(media)
    # The world has what a backup must carry.
    for label in (
        "tracker.StatusUpdate",
        "tracker.HistoricalStatusUpdate",
        "tracker.Evidence",
        "tracker.HistoricalEvidence",
        "tracker.HistoricalUser",
        "tracker.CurrentStatus",
        "tracker.Reminder",
        "tracker.ProgressReport",
        "tracker.Initiative",
        "auth.User",
        "auth.User_groups",
        "auth.User_user_permissions",
        "auth.Group_permissions",
        "admin.LogEntry",
        "django_celery_beat.PeriodicTask",
        "django_celery_beat.PeriodicTasks",
        "django_celery_beat.CrontabSchedule",
    ):
        assert before[label], label
    assert ProgressReport.objects.filter(snapshot__isnull=False).exists()
    assert len(files_before) == 4 and all(name.startswith("evidence/") for name in files_before)
    assert Session.objects.exists()

    archive = tmp_path / "backups" / "tracker.tar.gz"
    archive.parent.mkdir()
    output = io.StringIO()
    call_command("backup", str(archive), stdout=output)
    assert "sessions" in output.getvalue() and "Backup written" in output.getvalue()
    assert sorted(p.name for p in archive.parent.iterdir()) == ["tracker.tar.gz"]  # no temporary file left

    manifest = backup.read_manifest(archive)
    assert manifest["format_version"] == backup.FORMAT_VERSION
    assert manifest["created_at"].endswith("Z")
    assert manifest["migrations"]["tracker"] == backup.migration_state()["tracker"]
    assert "sessions.Session" not in manifest["counts"]
    for label, rows in before.items():
        if label in manifest["counts"]:
            assert manifest["counts"][label] == len(rows), label
    assert {entry["path"] for entry in manifest["files"]} == set(files_before)
    for entry in manifest["files"]:
        assert entry["sha256"] == hashlib.sha256(files_before[entry["path"]]).hexdigest()
    assert manifest["missing_files"] == []

    empty_installation(media)
    empty = database_contents()
    assert not empty["auth.User"] and not empty["tracker.Initiative"] and empty["tracker.ReminderRule"]

    # A damaged archive is refused before anything changes.
    for damaged, message in (
        (tampered(archive, tmp_path / "tampered.tar.gz"), "does not match its checksum"),
        (truncated(archive, tmp_path / "truncated.tar.gz"), "damaged or truncated|truncated"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("restore", str(damaged), stdout=io.StringIO())
        assert database_contents() == empty
        assert not media.exists() or not media_files(media)

    output = io.StringIO()
    call_command("restore", str(archive), stdout=output)
    assert "tracker.StatusUpdate" in output.getvalue() and "4 files" in output.getvalue()

    after = database_contents()
    assert after.keys() == before.keys()
    for label in before:
        assert after[label] == before[label], f"{label} differs after the restore"
    assert media_files(media) == files_before
    assert not Session.objects.exists()
    assert not [p for p in media.iterdir() if p.name.startswith(backup.STAGING_PREFIX)]

    # The restored installation works on: new rows get new ids, the files open through the model.
    newest = max(ReportingPeriod.history.values_list("pk", flat=True))
    added = ReportingPeriod.objects.create(
        name="2027 Q1",
        start=datetime.date(2027, 1, 1),
        end=datetime.date(2027, 3, 31),
        due_date=datetime.date(2027, 4, 15),
    )
    assert added.pk > before["tracker.ReportingPeriod"][-1]["id"]
    assert added.history.get().pk > newest
    evidence = Evidence.objects.exclude(file="").first()
    with evidence.file.open("rb") as handle:
        assert handle.read().startswith(b"%PDF")


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL: the SQLite test database is in memory, where a second connection cannot write",
)
@pytest.mark.django_db(transaction=True)
def test_a_write_during_the_backup_is_wholly_outside_it(transactional_db, media, tmp_path, monkeypatch):
    """The backup reads one snapshot: a period committed while it runs is in neither table it touches."""
    dates = {
        "start": datetime.date(2026, 1, 1),
        "end": datetime.date(2026, 3, 31),
        "due_date": datetime.date(2026, 4, 15),
    }
    ReportingPeriod.objects.create(name="2026 Q1", **dates)
    read = backup._queryset
    written = []

    def write_meanwhile():
        try:
            ReportingPeriod.objects.create(name="Written during the backup", **dates)
            written.append(True)
        finally:
            connections.close_all()

    def reading(model, using):
        if not written:  # once the backup has started reading: from another connection, committed at once
            thread = threading.Thread(target=write_meanwhile)
            thread.start()
            thread.join()
        return read(model, using)

    monkeypatch.setattr(backup, "_queryset", reading)
    archive = tmp_path / "backup.tar.gz"
    manifest = backup.write_backup(archive)

    assert written and ReportingPeriod.objects.count() == 2
    assert manifest["counts"]["tracker.ReportingPeriod"] == 1
    assert manifest["counts"]["tracker.HistoricalReportingPeriod"] == 1
    with tarfile.open(archive) as tar:
        assert b"Written during the backup" not in tar.extractfile(backup.DATA_NAME).read()


# --- What restore refuses ---------------------------------------------------------------------------------


def test_restore_refuses_a_database_that_holds_data_and_changes_nothing(world, media, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup.write_backup(archive)
    before, files_before = database_contents(), media_files(media)
    shutil.rmtree(media)  # so that the files cannot be what stops it

    with pytest.raises(CommandError, match="already holds data.*empty database"):
        call_command("restore", str(archive), stdout=io.StringIO())

    assert database_contents() == before
    assert not media.exists() or not media_files(media)
    assert files_before


def test_a_changed_byte_is_refused_before_anything_changes(world, media, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup.write_backup(archive)
    before, files_before = database_contents(), media_files(media)

    with pytest.raises(backup.BackupError, match=r"media/evidence/.* does not match its checksum"):
        backup.restore_backup(tampered(archive, tmp_path / "tampered.tar.gz"))
    with pytest.raises(backup.BackupError, match="damaged or truncated|truncated"):
        backup.restore_backup(truncated(archive, tmp_path / "truncated.tar.gz"))
    not_gzip = tmp_path / "not-a-backup.tar.gz"
    not_gzip.write_bytes(b"hello")
    with pytest.raises(backup.BackupError, match="damaged or truncated"):
        backup.restore_backup(not_gzip)

    assert database_contents() == before
    assert media_files(media) == files_before


def test_a_changed_data_file_is_refused(world, media, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup.write_backup(archive)

    def change(info, data):
        if info.name == backup.DATA_NAME:
            assert b'"progress": 60' in data
            data = data.replace(b'"progress": 60', b'"progress": 99', 1)
            info.size = len(data)
        return [(info, data)]

    with pytest.raises(backup.BackupError, match="data.jsonl does not match its checksum"):
        backup.restore_backup(rewrite(archive, tmp_path / "changed.tar.gz", change))


@pytest.mark.parametrize(
    "member",
    ["media/../../escape.txt", "../escape.txt", "media/evidence/../../../escape.txt", "ABSOLUTE", "SYMLINK"],
)
def test_a_member_that_would_escape_media_root_is_refused(world, media, tmp_path, member):
    archive = tmp_path / "backup.tar.gz"
    backup.write_backup(archive)
    files_before = media_files(media)
    payload = b"written outside MEDIA_ROOT"
    outside = tmp_path / "outside" / "escape.txt"

    def change(info, data):
        if info.name != backup.MANIFEST_NAME:
            return [(info, data)]
        if member == "SYMLINK":
            extra = tarfile.TarInfo("media/evidence/link.pdf")
            extra.type, extra.linkname = tarfile.SYMTYPE, str(outside)
            extra_data = None
            listed = "evidence/link.pdf"
        else:
            name = str(outside) if member == "ABSOLUTE" else member
            extra = tarfile.TarInfo(name)
            extra.size, extra_data = len(payload), payload
            listed = name.removeprefix("media/")
        manifest = json.loads(data)
        manifest["files"].append({"path": listed, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()})
        data = json.dumps(manifest).encode()
        info.size = len(data)
        return [(extra, extra_data), (info, data)]

    hostile = rewrite(archive, tmp_path / "hostile.tar.gz", change)
    with pytest.raises(backup.BackupError, match="unsafe|not a regular file"):
        backup.restore_backup(hostile)

    assert not outside.exists()
    for place in (tmp_path, tmp_path.parent, media.parent.parent, Path.cwd()):
        assert not (place / "escape.txt").exists()
    assert media_files(media) == files_before


def test_restore_refuses_another_migration_state(world, media, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup.write_backup(archive)

    def change(info, data):
        if info.name == backup.MANIFEST_NAME:
            manifest = json.loads(data)
            manifest["migrations"]["tracker"] = "0099_from_the_future"
            data = json.dumps(manifest).encode()
            info.size = len(data)
        return [(info, data)]

    with pytest.raises(backup.BackupError, match=r"migration state(.|\n)*tracker: backup 0099_from_the_future"):
        backup.restore_backup(rewrite(archive, tmp_path / "future.tar.gz", change))


# --- A failed backup ----------------------------------------------------------------------------------------


def test_a_failed_backup_leaves_nothing_at_path(world, media, tmp_path, monkeypatch):
    folder = tmp_path / "backups"
    folder.mkdir()
    archive = folder / "tracker.tar.gz"
    archive.write_bytes(b"the previous backup")

    def broken(media_root):
        raise OSError("disk full")

    monkeypatch.setattr(backup, "_media_files", broken)
    with pytest.raises(CommandError, match="No backup was written: disk full"):
        call_command("backup", str(archive), stdout=io.StringIO())

    assert archive.read_bytes() == b"the previous backup"
    assert [p.name for p in folder.iterdir()] == ["tracker.tar.gz"]
