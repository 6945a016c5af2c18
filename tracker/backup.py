"""Backup and restore: one archive holds the whole database and every uploaded file.

`python manage.py backup PATH` calls `write_backup`; `python manage.py restore PATH` calls `restore_backup`.

What a backup is
----------------
One gzip-compressed tar archive (mode 0600: it holds password hashes and two-factor secrets) with:

- `data.jsonl`: every row of every table, one JSON object a line (Django's JSON Lines serialization), so that
  neither writing nor reading it ever holds the whole database in memory. Primary keys are kept, so every
  reference between rows (and every URL with an id in it) survives. Content types and permissions are
  written with their natural keys (app label, model, codename) and so are references to them: `migrate`
  creates them on the new installation, with ids of its own. Dates and times keep their microseconds
  (Django's own JSON encoder would cut them to milliseconds).
- `media/...`: every file under MEDIA_ROOT (the evidence uploads), with its path relative to MEDIA_ROOT.
- `manifest.json` (the last member): format and version, creation time (UTC), the database it came from, the
  migration state (the latest applied migration of each app), the number of rows of each model, and the size
  and SHA-256 of `data.jsonl` and of each file.

It is consistent: the database is read in one transaction (on PostgreSQL a read-only REPEATABLE READ
snapshot, on SQLite a read transaction, which in WAL mode sees one state of the file and does not stop
writers), so a change made while the backup runs is either wholly in it or not at all. Files are copied after
the data is read: a file uploaded meanwhile may be in the archive without its row (harmless); a file that a
row of the backup names but that MEDIA_ROOT lacks is listed in the manifest as missing, and the command says
so. The archive is written to a temporary file next to PATH and renamed into place only when complete: a
failed backup never leaves a broken archive at PATH (nor replaces one already there).

What a backup leaves out, and why
---------------------------------
- Sessions (django_session): they are short-lived sign-ins, and restoring them would sign people in on
  another installation. After a restore everybody signs in again.
- The report cache (REPORT_CACHE_DIR): files built from frozen progress reports, rebuilt on demand.
- Anything outside the database and MEDIA_ROOT: settings, the environment (SECRET_KEY, DATABASE_URL, ...),
  static files, the Celery broker's queue. The deployment keeps those.

The checksums detect a damaged or truncated archive; they are no signature: someone able to change the archive
can change the manifest too. Keep backups where only administrators can read and write them.

Restore
-------
Restoring needs an empty installation with the same code: on a database with no tables it runs `migrate`
first; it refuses when the migration state differs from the backup's (check out the code the backup was made
with, or migrate the empty database to the backup's state, restore, then migrate), when the database holds any
user or any data (only what `migrate` itself writes may be there: content types, permissions, the default
reminder ladder and the beat schedule, which the backup's rows replace), and when a file of the backup already
exists in MEDIA_ROOT. It reads and checks the whole archive before it changes anything: every checksum, every
path (a member whose path is absolute, contains `..` or is a link is refused, so a tampered archive cannot
write outside MEDIA_ROOT). It then loads every row in one transaction (all or nothing), as raw inserts with
the stored values: no `save()` method and no signal runs, so `auto_now_add` times, the audit history and the
beat schedule are exactly the backup's and nothing is sent or recorded; checks the references between rows
and the row counts against the manifest; resets PostgreSQL's sequences so new rows get new ids; and moves
the files into MEDIA_ROOT before the transaction commits (they are removed again if it does not).

A backup made on SQLite restores into PostgreSQL and the other way round: the data file names no database.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zlib
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import django
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers import base as serializers_base
from django.core.serializers import jsonl
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, models, router, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = "mk21-tracker-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATA_NAME = "data.jsonl"
MEDIA_PREFIX = "media/"

# Never in a backup (see the module's docstring).
EXCLUDED_MODELS = {"sessions.session"}
# Rows `migrate` itself writes on a new installation: restore replaces them with the backup's.
MIGRATION_SEEDED_MODELS = {
    "tracker.reminderrule",
    "django_celery_beat.intervalschedule",
    "django_celery_beat.crontabschedule",
    "django_celery_beat.solarschedule",
    "django_celery_beat.clockedschedule",
    "django_celery_beat.periodictask",
    "django_celery_beat.periodictasks",
}
# Staging folders of a running (or killed) restore, inside MEDIA_ROOT: never part of a backup.
STAGING_PREFIX = ".restore-"

CHUNK = 1024 * 1024
READ_CHUNK_ROWS = 2000
INSERT_BATCH_ROWS = 500


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why and what to do."""


# --- What is in a backup ------------------------------------------------------------------------------


def natural_key_models() -> tuple[type[models.Model], ...]:
    """Models written by natural key: `migrate` creates their rows on every installation, with its own ids."""
    return (ContentType, Permission)


def backed_up_models(using: str = DEFAULT_DB_ALIAS) -> list[type[models.Model]]:
    """Every model with a table of its own, except sessions: content types and permissions first (the rows
    that follow may name them by natural key), then the rest by label.

    Many-to-many tables Django creates itself are written with the rows that own them (a user's groups and
    permissions with the user).
    """
    found = [
        model
        for model in apps.get_models()
        if router.allow_migrate_model(using, model) and model._meta.label_lower not in EXCLUDED_MODELS
    ]
    first = [model for model in natural_key_models() if model in found]
    return first + sorted((m for m in found if m not in first), key=lambda m: m._meta.label)


def migration_state(using: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """The latest applied migration of each app ({"tracker": "0009_...", ...}); empty before `migrate`."""
    loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    applied = {key for key in loader.applied_migrations if key in loader.graph.nodes}
    state = {}
    for app_label in sorted({app for app, _name in applied}):
        mine = {key for key in applied if key[0] == app_label}
        leaves = sorted(
            name
            for app, name in mine
            if not {child.key for child in loader.graph.node_map[(app, name)].children} & mine
        )
        state[app_label] = "+".join(leaves)
    return state


# --- Writing a backup -----------------------------------------------------------------------------------


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder without its cut of times to milliseconds: a restore gives back the exact values."""

    def default(self, o):
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        if isinstance(o, datetime.time):
            return o.isoformat()
        return super().default(o)


class _Serializer(jsonl.Serializer):
    """JSON Lines with natural keys for references to content types and permissions only.

    Every other reference is written as the primary key, which the backup keeps: no lookup per row on either
    side, and a user is the same user even after a rename.
    """

    def end_object(self, obj):
        # json.dumps, not jsonl's json.dump: dump() always takes the pure-Python encoder, dumps the C one.
        self.stream.write(json.dumps(self.get_dump_object(obj), **self.json_kwargs) + "\n")
        self._current = None

    def handle_fk_field(self, obj, field):
        related_model = field.remote_field.model
        value = getattr(obj, field.attname)
        if value is not None and related_model is ContentType:
            db = obj._state.db or DEFAULT_DB_ALIAS
            self._current[field.name] = ContentType.objects.db_manager(db).get_for_id(value).natural_key()
        elif value is not None and related_model in natural_key_models():
            self._current[field.name] = getattr(obj, field.name).natural_key()
        else:
            self._current[field.name] = self._value_from_field(obj, field)

    def handle_m2m_field(self, obj, field):
        natural = self.use_natural_foreign_keys
        self.use_natural_foreign_keys = field.remote_field.model in natural_key_models()
        try:
            super().handle_m2m_field(obj, field)
        finally:
            self.use_natural_foreign_keys = natural


def _queryset(model, using):
    queryset = model._base_manager.using(using).order_by(model._meta.pk.attname)
    if model is Permission:
        queryset = queryset.select_related("content_type")
    for field in model._meta.local_many_to_many:
        if not field.remote_field.through._meta.auto_created:
            continue
        related = field.remote_field.model._base_manager.using(using).order_by()
        if field.remote_field.model is Permission:
            related = related.select_related("content_type")
        else:
            related = related.only("pk")
        queryset = queryset.prefetch_related(models.Prefetch(field.name, queryset=related))
    return queryset


@contextmanager
def _read_snapshot(using: str):
    """One consistent view of the database for everything read inside."""
    connection = connections[using]
    if connection.in_atomic_block:
        # Already in a transaction (a test, or a caller's own): read in it.
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    if connection.vendor == "sqlite":
        # Not transaction.atomic(): the settings make it BEGIN IMMEDIATE, which takes the write lock and would
        # hold off every writer for the whole backup. A deferred transaction's first read fixes its snapshot.
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
            cursor.execute("SELECT COUNT(*) FROM sqlite_master")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        return
    with transaction.atomic(using=using):
        yield


def _dump(stream, using: str) -> tuple[dict[str, int], set[str]]:
    """Write every row to `stream`; return the row count of each model and the files current rows name."""
    counts: dict[str, int] = {}
    referenced: set[str] = set()
    serializer = _Serializer()
    for model in backed_up_models(using):
        count = 0

        def counted(rows):
            nonlocal count
            for row in rows:
                count += 1
                yield row

        serializer.serialize(
            counted(_queryset(model, using).iterator(chunk_size=READ_CHUNK_ROWS)),
            stream=stream,
            use_natural_foreign_keys=True,
            use_natural_primary_keys=model in natural_key_models(),
            cls=_Encoder,
        )
        counts[model._meta.label] = count
        # The files the rows name (not the audit history's: a deleted evidence file is gone on purpose).
        if not hasattr(model, "instance_type"):
            for field in model._meta.local_concrete_fields:
                if isinstance(field, models.FileField):
                    names = model._base_manager.using(using).exclude(**{field.attname: ""})
                    referenced.update(n for n in names.values_list(field.attname, flat=True) if n)
    return counts, referenced


class _HashingReader:
    """A file object that hashes and counts what is read through it (what goes into the archive)."""

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size=-1):
        chunk = self.raw.read(size)
        self.sha256.update(chunk)
        self.size += len(chunk)
        return chunk


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> dict:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with open(path, "rb") as handle:
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    if reader.size != info.size:
        raise BackupError(f"{path} changed size while it was being copied; run the backup again.")
    return {"size": reader.size, "sha256": reader.sha256.hexdigest()}


def _media_files(media_root: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """(relative path, absolute path) of each regular file under MEDIA_ROOT, and what was skipped."""
    files, skipped = [], []
    if not media_root.is_dir():
        return files, skipped
    cache = Path(settings.REPORT_CACHE_DIR).resolve()
    root = media_root.resolve()
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not (here == root and d.startswith(STAGING_PREFIX))
            and (here / d).resolve() != cache
            and not (here / d).is_symlink()
        )
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(root).as_posix()
            if stat.S_ISREG(path.lstat().st_mode):
                files.append((relative, path))
            else:
                skipped.append(relative)
    return files, skipped


def write_backup(path, *, using: str = DEFAULT_DB_ALIAS) -> dict:
    """Write a complete backup to `path` (a .tar.gz archive); return its manifest.

    The manifest returned also has `archive_size` (bytes), `seconds` and `skipped_files` (links and other
    non-regular entries of MEDIA_ROOT, which are not copied).
    """
    started = time.monotonic()
    destination = Path(path)
    if destination.is_dir():
        raise BackupError(f"{destination} is a folder; give the name of the archive to write.")
    if not destination.parent.is_dir():
        raise BackupError(f"The folder {destination.parent} does not exist.")
    media_root = Path(settings.MEDIA_ROOT)
    if destination.parent.resolve().is_relative_to(media_root.resolve()):
        raise BackupError(f"Write the backup outside MEDIA_ROOT ({media_root}): it would copy itself.")
    connection = connections[using]

    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as raw:
            # compresslevel 6: nearly the size of 9 at a fraction of the time.
            with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
                with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".backup-work-") as work:
                    data_path = Path(work) / DATA_NAME
                    with open(data_path, "w", encoding="utf-8", newline="\n") as stream:
                        with _read_snapshot(using):
                            created_at = timezone.now()
                            migrations = migration_state(using)
                            counts, referenced = _dump(stream, using)
                    data = {"name": DATA_NAME, **_add_file(tar, DATA_NAME, data_path)}
                files = []
                found, skipped = _media_files(media_root)
                for relative, file_path in found:
                    files.append({"path": relative, **_add_file(tar, MEDIA_PREFIX + relative, file_path)})
                archived = {entry["path"] for entry in files}
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": created_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
                    "django_version": django.get_version(),
                    "database": connection.vendor,
                    "migrations": migrations,
                    "counts": counts,
                    "data": data,
                    "files": files,
                    "missing_files": sorted(referenced - archived),
                    "excluded": [
                        "sessions (django_session): everybody signs in again after a restore",
                        "the report cache (REPORT_CACHE_DIR): rebuilt on demand",
                    ],
                }
                encoded = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST_NAME)
                info.size, info.mtime, info.mode = len(encoded), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(encoded))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, destination)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    _fsync_folder(destination.parent)
    manifest["archive_size"] = destination.stat().st_size
    manifest["seconds"] = round(time.monotonic() - started, 3)
    manifest["skipped_files"] = skipped
    return manifest


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --- Reading and checking an archive ------------------------------------------------------------------


def _safe_relative(name: str) -> PurePosixPath | None:
    """`name` as a relative path with no `..`, `.` or empty part, or None when it is anything else."""
    if not name or "\x00" in name or name.startswith("/"):
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        return None
    return path


def _extract(archive: Path, staging: Path) -> dict:
    """Copy every member into `staging`, checking names and types; return the manifest, checked against the
    copies (sizes and SHA-256). Nothing outside `staging` is written."""
    seen: dict[str, dict] = {}
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                name = member.name
                if member.isdir() and name.rstrip("/") + "/" == MEDIA_PREFIX:
                    continue
                relative = _safe_relative(name.rstrip("/") if member.isdir() else name)
                if relative is None or not (
                    name in (MANIFEST_NAME, DATA_NAME) or (name.startswith(MEDIA_PREFIX) and len(relative.parts) > 1)
                ):
                    raise BackupError(
                        f"The archive holds an unsafe or unexpected path ({name!r}); it was not written by "
                        "`backup` or it was tampered with. Nothing was restored."
                    )
                if member.isdir():
                    continue
                if not member.isreg():
                    raise BackupError(
                        f"The archive holds {name!r}, which is not a regular file (a link or a device); it was "
                        "tampered with. Nothing was restored."
                    )
                if name in seen:
                    raise BackupError(f"The archive holds {name!r} twice; it was tampered with. Nothing was restored.")
                target = staging.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                digest, size = hashlib.sha256(), 0
                with open(target, "wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                os.utime(target, (member.mtime, member.mtime))
                seen[name] = {"size": size, "sha256": digest.hexdigest()}
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise BackupError(f"The archive is damaged or truncated ({error}). Nothing was restored.") from error

    if MANIFEST_NAME not in seen:
        raise BackupError(f"The archive has no {MANIFEST_NAME}: it is truncated or not a backup. Nothing was restored.")
    try:
        manifest = json.loads((staging / MANIFEST_NAME).read_text(encoding="utf-8"))
    except ValueError as error:
        raise BackupError(f"The archive's {MANIFEST_NAME} cannot be read ({error}). Nothing was restored.") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("This archive is not a backup of the tracker. Nothing was restored.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"This backup has format version {manifest.get('format_version')!r}; this code reads version "
            f"{FORMAT_VERSION}. Nothing was restored."
        )

    if not (
        isinstance(manifest.get("data"), dict)
        and isinstance(manifest.get("files"), list)
        and all(isinstance(entry, dict) and isinstance(entry.get("path"), str) for entry in manifest["files"])
        and isinstance(manifest.get("counts"), dict)
        and isinstance(manifest.get("migrations"), dict)
    ):
        raise BackupError(f"The archive's {MANIFEST_NAME} is incomplete. Nothing was restored.")
    expected = {DATA_NAME: manifest["data"]}
    for entry in manifest["files"]:
        if _safe_relative(entry["path"]) is None:
            raise BackupError(f"The manifest names an unsafe path ({entry['path']!r}). Nothing was restored.")
        expected[MEDIA_PREFIX + entry["path"]] = entry
    problems = []
    for name, entry in expected.items():
        got = seen.get(name)
        if got is None:
            problems.append(f"{name} is missing")
        elif got["size"] != entry.get("size") or got["sha256"] != entry.get("sha256"):
            problems.append(f"{name} does not match its checksum")
    problems += [f"{name} is not in the manifest" for name in seen if name != MANIFEST_NAME and name not in expected]
    if problems:
        listed = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise BackupError(f"The archive is damaged or was changed; nothing was restored:\n  {listed}")
    return manifest


def read_manifest(path) -> dict:
    """The manifest of an archive, without checking the rest (to look at a backup)."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            return json.load(tar.extractfile(MANIFEST_NAME))
    except (KeyError, tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as error:
        raise BackupError(f"{path} is not a readable backup ({error}).") from error


# --- Restoring ------------------------------------------------------------------------------------------


def _check_migrations(manifest: dict, using: str) -> None:
    current = migration_state(using)
    wanted = manifest.get("migrations", {})
    if current == wanted:
        return
    lines = [
        f"  {app}: backup {wanted.get(app, '(none)')}, this database {current.get(app, '(none)')}"
        for app in sorted(set(current) | set(wanted))
        if current.get(app) != wanted.get(app)
    ]
    raise BackupError(
        "The database is not at the backup's migration state; nothing was restored:\n"
        + "\n".join(lines)
        + "\nRestore with the version of the code the backup was made with, or migrate this empty database to "
        "the backup's state (python manage.py migrate APP MIGRATION), restore, then migrate."
    )


def _check_empty(using: str) -> None:
    occupied = []
    for model in backed_up_models(using):
        label = model._meta.label_lower
        if model in natural_key_models() or label in MIGRATION_SEEDED_MODELS:
            continue
        if model._base_manager.using(using).exists():
            occupied.append(model._meta.label)
    if occupied:
        raise BackupError(
            "The database already holds data (rows in "
            + ", ".join(occupied[:8])
            + (", ..." if len(occupied) > 8 else "")
            + "). A backup is restored into an empty database only: create a new database, run "
            "`python manage.py migrate`, and restore there. Nothing was changed."
        )


def _delete_seeded(using: str) -> None:
    """Remove what `migrate` wrote (the default ladder, the beat schedule): the backup has its own rows.

    Plain SQL, so that no signal runs: no audit record, no "schedule changed" mark.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        for model in reversed(backed_up_models(using)):
            if model._meta.label_lower in MIGRATION_SEEDED_MODELS:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


class _Loader:
    """Insert deserialized rows in batches, as raw inserts: stored values as they are, no signals."""

    def __init__(self, using: str):
        self.using = using
        self.connection = connections[using]
        self.model = None
        self.batch: list[models.Model] = []
        self.m2m: dict = defaultdict(list)  # many-to-many field -> [(owner pk, related pk)]
        self.counts: dict[str, int] = defaultdict(int)
        self.models: set = set()

    def add(self, deserialized) -> None:
        obj = deserialized.object
        model = type(obj)
        self.counts[model._meta.label] += 1
        self.models.add(model)
        if model in natural_key_models():
            # Matched by natural key with the row `migrate` created (updated), or inserted if it has none.
            self.flush()
            deserialized.save(using=self.using)
            return
        if obj.pk is None:
            raise BackupError(f"A row of {model._meta.label} has no primary key; the data file is damaged.")
        if model is not self.model or len(self.batch) >= INSERT_BATCH_ROWS:
            self.flush()
            self.model = model
        self.batch.append(obj)
        for name, values in (deserialized.m2m_data or {}).items():
            field = model._meta.get_field(name)
            self.m2m[field].extend((obj.pk, value) for value in values)

    def flush(self) -> None:
        if self.batch:
            model, fields = self.model, self.model._meta.local_concrete_fields
            size = max(1, min(INSERT_BATCH_ROWS, self.connection.ops.bulk_batch_size(fields, self.batch)))
            manager = model._base_manager.using(self.using)
            for start in range(0, len(self.batch), size):
                manager._insert(self.batch[start : start + size], fields=fields, using=self.using, raw=True)
            self.batch = []
        for field, pairs in self.m2m.items():
            through = field.remote_field.through
            source, target = field.m2m_field_name(), field.m2m_reverse_field_name()
            through._base_manager.using(self.using).bulk_create(
                [through(**{f"{source}_id": owner, f"{target}_id": related}) for owner, related in pairs],
                batch_size=INSERT_BATCH_ROWS,
            )
            self.models.add(through)
        self.m2m = defaultdict(list)


def _load(data_path: Path, using: str) -> tuple[dict[str, int], set]:
    loader = _Loader(using)
    with open(data_path, encoding="utf-8", newline="\n") as stream:
        try:
            for deserialized in jsonl.Deserializer(stream, using=using):
                loader.add(deserialized)
        except serializers_base.DeserializationError as error:
            raise BackupError(f"The data file cannot be read: {error}. Nothing was restored.") from error
    loader.flush()
    return dict(loader.counts), loader.models


def _check_counts(manifest: dict, loaded: dict[str, int], using: str) -> None:
    natural = {model._meta.label for model in natural_key_models()}
    problems = []
    for label, expected in manifest["counts"].items():
        if label in natural:
            continue
        try:
            in_database = apps.get_model(label)._base_manager.using(using).count()
        except LookupError:
            problems.append(f"{label}: no such model in this installation")
            continue
        if loaded.get(label, 0) != expected or in_database != expected:
            problems.append(f"{label}: {expected} in the backup, {in_database} after loading")
    if problems:
        raise BackupError(
            "The restored rows do not match the backup; nothing was restored:\n  " + "\n  ".join(problems)
        )


def _check_media_targets(manifest: dict, media_root: Path, real_root: Path) -> None:
    for entry in manifest["files"]:
        target = media_root.joinpath(*PurePosixPath(entry["path"]).parts)
        if not target.resolve().is_relative_to(real_root):
            raise BackupError(f"{entry['path']} would be written outside MEDIA_ROOT. Nothing was restored.")
        if target.exists() or target.is_symlink():
            raise BackupError(
                f"MEDIA_ROOT ({media_root}) already holds {entry['path']}: restore into an empty media folder. "
                "Nothing was changed."
            )


def _place_files(manifest: dict, staging: Path, media_root: Path, placed: list[Path], made: list[Path]) -> int:
    size = 0
    for entry in manifest["files"]:
        target = media_root.joinpath(*PurePosixPath(entry["path"]).parts)
        missing = []
        folder = target.parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
        shutil.move(staging / "media" / entry["path"], target)
        placed.append(target)
        size += entry["size"]
    return size


def restore_backup(path, *, using: str = DEFAULT_DB_ALIAS) -> dict:
    """Restore a backup written by `write_backup` into an empty installation (see the module's docstring).

    Returns {"created_at", "database", "migrated", "rows": {model label: rows}, "files", "bytes",
    "seconds"}. Raises BackupError, having changed nothing, when the archive or the installation is not fit.
    """
    started = time.monotonic()
    archive = Path(path)
    if not archive.is_file():
        raise BackupError(f"{archive} does not exist or is not a file.")
    media_root = Path(settings.MEDIA_ROOT)
    made_media_root = not media_root.exists()
    media_root.mkdir(parents=True, exist_ok=True)
    real_root = media_root.resolve()
    staging = Path(tempfile.mkdtemp(dir=media_root, prefix=STAGING_PREFIX))
    placed: list[Path] = []
    made: list[Path] = []
    done = False
    try:
        manifest = _extract(archive, staging)

        migrated = False
        if not MigrationRecorder(connections[using]).has_table() or not migration_state(using):
            call_command("migrate", database=using, interactive=False, verbosity=0)
            migrated = True
        _check_migrations(manifest, using)

        ContentType.objects.clear_cache()
        try:
            with transaction.atomic(using=using):
                _check_empty(using)
                _check_media_targets(manifest, media_root, real_root)
                _delete_seeded(using)
                loaded, touched = _load(staging / DATA_NAME, using)
                _check_counts(manifest, loaded, using)
                connection = connections[using]
                try:
                    connection.check_constraints(table_names=sorted({m._meta.db_table for m in touched}))
                except IntegrityError as error:
                    raise BackupError(f"The restored rows are inconsistent ({error}). Nothing was restored.") from error
                statements = connection.ops.sequence_reset_sql(no_style(), sorted(touched, key=str))
                if statements:
                    with connection.cursor() as cursor:
                        for statement in statements:
                            cursor.execute(statement)
                size = _place_files(manifest, staging, media_root, placed, made)
        except DatabaseError as error:
            raise BackupError(f"The database refused the backup's rows ({error}). Nothing was restored.") from error
        done = True
    except BaseException:
        for file_path in placed:
            file_path.unlink(missing_ok=True)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                pass
        ContentType.objects.clear_cache()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if made_media_root and not done:
            try:
                media_root.rmdir()  # only if still empty: a failed restore leaves no trace
            except OSError:
                pass
    return {
        "created_at": manifest["created_at"],
        "database": manifest.get("database"),
        "migrated": migrated,
        "rows": {label: loaded.get(label, 0) for label in manifest["counts"]},
        "files": len(manifest["files"]),
        "bytes": size,
        "seconds": round(time.monotonic() - started, 3),
    }
