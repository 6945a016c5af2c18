"""The period's spreadsheet: what an official downloads, and how the file they upload becomes changes.

The round trip
--------------
- **Download** (`workbook_bytes`, `csv_text`): one row per initiative the official's agency owns
  (`tracker.worklist.items`, in the report's order), in the columns of `COLUMNS`, headed in the user's language.
  The grey, read-only columns say what a row is about (code, title, side, role, the accepted status and progress
  on the agency's side, where this period's update stands, the period, and a hidden Version); the white ones are
  what the official fills in (status, progress, summary, next steps, blockers, evidence links one per line). A
  draft's or a returned update's values are filled in already; a submitted or accepted update's are shown locked.
  The XLSX has a status drop-down in the user's language, a 0-100 whole-number rule on progress, a frozen
  header, read-only cells locked (sheet protection without a password, so that nothing is changed by accident)
  and an instructions sheet. The CSV has the same columns.
- **Upload** (`read_table`): the file is recognised by its content, never by its name. Refused with a reason in
  the user's language: anything that is not an XLSX or a CSV; macro-enabled (.xlsm) and binary (.xlsb)
  workbooks; encrypted files; old .xls and OpenDocument (.ods) files (save as .xlsx); over 5 MB, over 2,000 data
  rows, or an XLSX that unpacks to more than 60 MB or holds more cells than such a sheet can (a zip bomb);
  merged cells below the header; no Code column. The header row is found by its headings in English, Spanish or
  Korean, columns in any order; unknown columns are ignored (and listed), a missing white column leaves that
  field as it is. CSV: UTF-8 with or without a byte order mark, else cp1252 or cp949 (whichever reads our
  headings), separated by commas, semicolons or tabs.
- **Preview** (`make_plan`): every row is compared with the database as it is now. The result lists each change
  (before and after, evidence links added and removed, and what happens to the update), the rows left alone
  (nothing filled in, or the same as what is saved), and every error (row, column, message). Row numbers are the
  spreadsheet's own (the header is row 1 in a downloaded file), so that they match what Excel shows.
- **Import** (`apply_upload`): the file is planned again against the database at that moment; if the plan is not
  the one the user confirmed (its fingerprint), or has any error, nothing is saved. Otherwise every row goes
  through `tracker.actions.save_update` in one transaction (the same permissions, history, stale-edit check
  and reminder cancellation as the form); any failure rolls back all of it.

The rules a row is judged by
----------------------------
- An error, never skipped silently: an unknown code; a code on two rows (both are named); another period's row;
  an initiative the agency may not report on (`permissions.can_report_on`, asked of ownerships loaded at once); a
  submitted or accepted update whose values in the file differ from what is saved; a draft or returned update
  saved in the tracker after the download (its version is not the file's) whose values in the file differ from
  what is saved now; whatever `StatusUpdateForm` says of the values (its rules, through `SheetRowForm`); a status
  or progress that cannot be read; a formula in a cell that is read.
- **Formulas are refused, not calculated**: the file is opened with its formulas visible, and a cell holding one
  is a row error ("type the value itself"). The tracker would otherwise import whatever value the program that
  last saved the file cached, which the user never sees as such.
- **Hidden rows are read like the others** (a filter hides rows too): a change that comes from a hidden row is
  marked in the preview, and the preview says which rows were hidden, so nothing invisible is saved unseen.
- Left alone: a row whose white cells are all blank ("not filled in"), and one whose values are what is saved
  ("unchanged"). So uploading the same file twice changes nothing the second time. In "submit for review" mode,
  a draft or returned update in the file is submitted even if no field changed.
- A text cell that starts with an apostrophe before = + - @ (how our CSV keeps such text from running as a
  formula, `exports.safe_row`) is read without the apostrophe.

The preview costs a fixed number of queries whatever the number of rows: the initiatives by code with the agency's
ownerships of them, this period's updates and their evidence links, each in one query; the form's validation runs none
(`SheetRowForm`). The import costs a bounded number per row (`save_update`'s own).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.db.models import Prefetch
from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone, translation
from django.utils.encoding import force_str
from django.utils.functional import Promise
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from tracker import actions, exports, permissions, tabular, worklist
from tracker.choices import IN_PROGRESS_STATES, OwnershipRole, ReviewState, Status
from tracker.forms import StatusUpdateForm
from tracker.models import Evidence, Initiative, Ownership, ReportingPeriod, SheetUpload, StatusUpdate, in_language

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
# A filled-in sheet of 2,000 rows unpacks to a few MB; past this the file is refused unread (a zip bomb).
MAX_UNPACKED_BYTES = 60 * 1024 * 1024
# 2,000 rows of a few dozen columns, and room to spare: past this a workbook would cost the server gigabytes.
MAX_CELLS = 300_000
LANGUAGES = ("en", "es", "ko")
# The version is written with a letter in front, so that no spreadsheet program takes it for a number (Excel
# would round a CSV's 20 digits to 2.02612E+19 and the stale-edit check would misfire).
VERSION_PREFIX = "v"

Mode = SheetUpload.Mode
logger = logging.getLogger(__name__)


# --- The columns ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: Promise
    editable: bool = False
    width: int = 12
    wrap: bool = False
    # Other headings accepted on upload (e.g. the shorter "Summary"), besides the header in each language.
    aliases: tuple = ()


COLUMNS = [
    Column("code", gettext_lazy("Code"), width=10),
    Column("title", gettext_lazy("Title"), width=40, wrap=True),
    Column("side", gettext_lazy("Side"), width=9),
    Column("role", gettext_lazy("Role"), width=11),
    Column("current_status", gettext_lazy("Current status (our side)"), width=14, wrap=True),
    Column("current_progress", gettext_lazy("Current progress (%)"), width=11, wrap=True),
    Column("work_state", gettext_lazy("This period"), width=14, wrap=True),
    Column("status", gettext_lazy("Status"), editable=True, width=16),
    Column("progress", gettext_lazy("Progress (%)"), editable=True, width=11, aliases=(gettext_lazy("Progress"),)),
    Column(
        "summary",
        gettext_lazy("Summary of progress"),
        editable=True,
        width=50,
        wrap=True,
        aliases=(gettext_lazy("Summary"),),
    ),
    Column("next_steps", gettext_lazy("Next steps"), editable=True, width=36, wrap=True),
    Column("blockers", gettext_lazy("Blockers"), editable=True, width=30, wrap=True),
    Column("evidence_links", gettext_lazy("Evidence links"), editable=True, width=40, wrap=True),
    Column("period", gettext_lazy("Period"), width=10),
    Column("version", gettext_lazy("Version"), width=24),
]
BY_KEY = {column.key: column for column in COLUMNS}
EDITABLE = [column.key for column in COLUMNS if column.editable]
TEXT_FIELDS = ("summary", "next_steps", "blockers")
# The update's fields a row writes, as StatusUpdateForm names them.
FIELDS = ("status", "progress", "summary", "next_steps", "blockers")


def header(key: str) -> str:
    return force_str(BY_KEY[key].header)


normal = tabular.normal


@cache
def heading_names() -> dict[str, str]:
    """Every heading we recognise (in each language, with its aliases and its key) -> the column's key."""
    names = {}
    for language in LANGUAGES:
        with translation.override(language):
            for column in COLUMNS:
                for name in (column.header, *column.aliases, column.key):
                    names.setdefault(normal(name), column.key)
    return names


@cache
def status_names() -> dict[str, str]:
    """Every way a status may be written (its label in each language, its code) -> the status's code."""
    names = {}
    for language in LANGUAGES:
        with translation.override(language):
            for status in Status:
                for name in (status.label, status.value, status.value.replace("_", " ")):
                    names.setdefault(normal(name), status.value)
    return names


# --- Download ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One initiative's row of the downloaded sheet: its cells by column key, and whether its update is locked."""

    values: dict[str, Any]
    locked: bool


def rows_for(agency, period: ReportingPeriod) -> list[Row]:
    """The sheet's rows: the agency's worklist in the report's order, with each update's values (the worklist's
    queries, then this period's updates and their evidence links: as many for 500 rows as for 5)."""
    items = worklist.items(agency, period)  # in the report's order
    updates = StatusUpdate.objects.prefetch_related(_evidence_links()).in_bulk(
        [item.update_id for item in items if item.update_id]
    )
    statuses = {status.value: str(status.label) for status in Status}
    roles = {role.value: str(role.label) for role in OwnershipRole}
    states = {state.value: str(state.label) for state in worklist.WorkState}
    side = agency.get_country_display()
    rows = []
    for item in items:
        update = updates.get(item.update_id)
        values = {
            "code": item.code,
            "title": item.display_title,
            "side": side,
            "role": roles.get(item.role, item.role),
            "current_status": statuses.get(item.our_status, ""),
            "current_progress": item.our_progress,
            "work_state": states.get(item.work_state, item.work_state),
            "period": period.name,
            "version": "",
        }
        if update is not None:
            values |= {
                "status": statuses.get(update.status, ""),
                "progress": update.progress,
                "summary": update.summary,
                "next_steps": update.next_steps,
                "blockers": update.blockers,
                "evidence_links": "\n".join(link.url for link in update.links),
            }
            if update.review_state in IN_PROGRESS_STATES:
                values["version"] = VERSION_PREFIX + update.version
        rows.append(Row(values, locked=update is not None and not update.is_editable))
    return rows


def _evidence_links() -> Prefetch:
    """An update's evidence links (not its files), in the order they were added, as `update.links`."""
    return Prefetch("evidence", queryset=Evidence.objects.exclude(url="").order_by("created_at", "pk"), to_attr="links")


def filename(agency, period: ReportingPeriod, fmt: str) -> str:
    acronym = re.sub(r"[^A-Za-z0-9]+", "-", agency.acronym or agency.key).strip("-") or "agency"
    return f"updates-{acronym}-{slugify(period.name)}.{fmt}"


def csv_text(agency, period: ReportingPeriod) -> str:
    """The sheet as CSV: a byte order mark (Excel reads UTF-8 then), our headers, text kept from running as a
    formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(exports.safe_row([header(column.key) for column in COLUMNS]))
    for row in rows_for(agency, period):
        writer.writerow(
            exports.safe_row(["" if row.values.get(c.key) is None else row.values.get(c.key) for c in COLUMNS])
        )
    return exports.BOM + buffer.getvalue()


def instructions(period: ReportingPeriod) -> list[str]:
    """The instructions sheet's paragraphs, in the active language."""
    editable = ", ".join(header(key) for key in EDITABLE)
    return [
        _("How to fill in this spreadsheet"),
        _(
            "One row per initiative your agency owns, for the reporting period %(period)s. Fill in the white "
            "columns: %(columns)s. The grey columns say what the row is about; changes to them are not imported."
        )
        % {"period": period.name, "columns": editable},
        _(
            "Status: choose from the drop-down (the values are listed below). Progress: a whole number from 0 to "
            "100. Evidence links: one web address per line, starting with https://. Files attached in the tracker "
            "are kept; this file lists only the links."
        ),
        _("A row whose white cells are all blank is left alone, and so is a row whose values are what is saved."),
        _(
            "Rows whose update is already submitted or accepted are locked (greyed out): they can no longer be "
            "changed here."
        ),
        _(
            "Upload the file on the tracker's home page (“Upload a filled-in spreadsheet”) and choose whether the "
            "rows are saved as drafts or submitted for review. The whole file is checked before anything is saved: "
            "you see every change and every problem first, and if one row has a problem, nothing is saved."
        ),
        _("Type values, not formulas: a cell that holds a formula is refused, not calculated."),
        _(
            "Keep the Code column as it is: it says which initiative each row is about. The hidden Version column "
            "says which version of each update you started from: if someone changes an update in the tracker after "
            "you downloaded this file, that row is refused and you are asked to download the file again."
        ),
        _(
            "The sheet is protected without a password, so that the grey columns are not changed by accident. To "
            "remove the protection: in Excel, Review → Unprotect Sheet; in LibreOffice, Tools → Protect Sheet."
        ),
        _("Statuses you may choose:"),
    ]


def workbook_bytes(agency, period: ReportingPeriod) -> bytes:
    """The sheet as XLSX (openpyxl, normal mode: at most 2,000 rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    rows = rows_for(agency, period)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = exports.sheet_title(_("My updates for this period"), "Updates")
    guide = workbook.create_sheet(exports.sheet_title(_("Instructions"), "Instructions"))

    bold = Font(bold=True)
    heading_fill = PatternFill("solid", fgColor="D9E2EC")
    read_only_fill = PatternFill("solid", fgColor="F2F2F2")
    locked_fill = PatternFill("solid", fgColor="D9D9D9")
    locked_font = Font(color="595959")
    top = Alignment(vertical="top")
    wrapped = Alignment(vertical="top", wrap_text=True)
    unlocked = Protection(locked=False)
    letters = {column.key: get_column_letter(index) for index, column in enumerate(COLUMNS, start=1)}

    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=header(column.key))
        cell.font, cell.fill, cell.alignment = bold, heading_fill, wrapped
        sheet.column_dimensions[letters[column.key]].width = column.width
    for number, row in enumerate(rows, start=2):
        for index, column in enumerate(COLUMNS, start=1):
            cell = sheet.cell(row=number, column=index)
            _put(cell, row.values.get(column.key))
            cell.alignment = wrapped if column.wrap else top
            if not column.editable:
                cell.fill = read_only_fill
            elif row.locked:
                cell.fill, cell.font = locked_fill, locked_font
            else:
                cell.protection = unlocked
    last = max(len(rows) + 1, 2)
    sheet.freeze_panes = "C2"  # the header, the code and the title stay in view
    sheet.column_dimensions[letters["version"]].hidden = True
    sheet.auto_filter.ref = f"A1:{letters[COLUMNS[-1].key]}{last}"

    # The instructions, then the statuses the drop-down offers (a list on this sheet: no label can break it).
    guide.column_dimensions["A"].width = 100
    paragraphs = instructions(period)
    for number, text in enumerate(paragraphs, start=1):
        cell = guide.cell(row=number, column=1, value=text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    guide["A1"].font = Font(bold=True, size=14)
    guide.cell(row=len(paragraphs), column=1).font = bold
    first = len(paragraphs) + 1
    labels = [str(status.label) for status in Status]
    for offset, label in enumerate(labels):
        guide.cell(row=first + offset, column=1, value=label)
    quoted = guide.title.replace("'", "''")
    choose = DataValidation(
        type="list",
        formula1=f"'{quoted}'!$A${first}:$A${first + len(labels) - 1}",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=_("Not a status"),
        error=_("Choose a status from the list."),
    )
    choose.add(f"{letters['status']}2:{letters['status']}{last}")
    whole = DataValidation(
        type="whole",
        operator="between",
        formula1="0",
        formula2="100",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=_("Not a percentage"),
        error=_("Progress is a whole number from 0 to 100."),
    )
    whole.add(f"{letters['progress']}2:{letters['progress']}{last}")
    sheet.add_data_validation(choose)
    sheet.add_data_validation(whole)

    for protected in (sheet, guide):
        protected.protection.sheet = True  # no password: it only prevents accidents (the instructions say how)
        # What stays allowed under protection: formatting, and filtering and sorting the rows.
        protected.protection.formatCells = False
        protected.protection.formatColumns = False
        protected.protection.formatRows = False
        protected.protection.autoFilter = False
        protected.protection.sort = False
    workbook.active = 0
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _put(cell, value) -> None:
    """A value into a cell: text stays text (openpyxl would take "=..." for a formula), without the control
    characters XLSX cannot hold."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("-", value)
        cell.value = value
        if value.startswith("="):
            cell.data_type = "s"
    else:
        cell.value = value


# --- Reading an uploaded file --------------------------------------------------------------------------------
# The reading itself (file kinds, refusals, encodings, the header row) is tracker/tabular.py's, shared with the
# list of people to invite; what is the spreadsheet's own is its columns and the words of its refusals.

# Read here by the callers and the tests, as before the reading moved.
BadFile, Cell, FileRow, Table = tabular.BadFile, tabular.Cell, tabular.FileRow, tabular.Table
ZIP_MAGIC, OLE2_MAGIC = tabular.ZIP_MAGIC, tabular.OLE2_MAGIC
_ole2_names = tabular.ole2_names


def read_table(data: bytes) -> Table:
    """The file's rows in our columns, or `BadFile` with the reason it cannot be imported."""
    return tabular.read_table(data, SPEC)


def _not_a_spreadsheet() -> BadFile:
    return BadFile(
        _(
            "This file is not a spreadsheet the tracker can read. Upload the period's spreadsheet as an Excel "
            "workbook (.xlsx, from Excel, LibreOffice or Google Sheets) or as CSV."
        )
    )


def _too_big() -> BadFile:
    return BadFile(
        _(
            "This file unpacks to far more than the period's spreadsheet needs (over 60 MB, or more cells than "
            "2,000 rows can hold); it was not read. Upload the downloaded spreadsheet, filled in."
        )
    )


def _no_headings() -> BadFile:
    return BadFile(
        _(
            "No row of this file has the spreadsheet's column headings (%(headings)s). Download the period's "
            "spreadsheet from the home page and fill it in."
        )
        % {"headings": ", ".join(header(key) for key in ("code", "status", "progress", "summary"))}
    )


def _no_code_column(missing: list[str]) -> BadFile:
    return BadFile(
        _(
            "The file has no %(code)s column, so its rows cannot be matched to initiatives. Keep the %(code)s "
            "column of the downloaded spreadsheet."
        )
        % {"code": header("code")}
    )


SPEC = tabular.Spec(
    names=heading_names,
    label=header,
    required=("code",),
    no_headings=_no_headings,
    missing=_no_code_column,
    not_a_spreadsheet=_not_a_spreadsheet,
    too_big=_too_big,
    max_bytes=MAX_BYTES,
    max_rows=MAX_ROWS,
    max_unpacked_bytes=MAX_UNPACKED_BYTES,
    max_cells=MAX_CELLS,
)


# --- Reading a cell ------------------------------------------------------------------------------------------


class CellError(Exception):
    pass


text_of = tabular.text_of


def status_of(cell: Cell) -> str:
    text = text_of(cell)
    if not text:
        return ""
    code = status_names().get(normal(text))
    if code is None:
        raise CellError(
            _("“%(value)s” is not a status. Use one of: %(choices)s.")
            % {"value": text[:60], "choices": ", ".join(str(status.label) for status in Status)}
        )
    return code


# 40, 40.0, 40,00 (a decimal comma), 40 %: never a thousands separator (1,000 is not read as 1).
PROGRESS_TEXT = re.compile(r"([-+]?\d+)(?:[.,]0{1,2})?\s*%?")


def progress_of(cell: Cell) -> int | None:
    """40, 40.0, "40" and "40 %" are 40 (and a cell formatted as a percentage holding 0.4); anything else is an
    error. Whether it is between 0 and 100 is the form's rule."""
    value = cell.value
    wrong = CellError(
        _("“%(value)s” is not a whole number from 0 to 100 (for example 40).") % {"value": text_of(cell)[:60]}
    )
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise wrong
    if isinstance(value, int | float):
        number = round(value * 100, 6) if cell.percent else float(value)
        if not number.is_integer():
            raise wrong
        return int(number)
    match = PROGRESS_TEXT.fullmatch(text_of(cell).replace("\u00a0", " "))
    if match is None:
        raise wrong
    return int(match.group(1))


def links_of(text: str) -> list[str]:
    """The links of a cell, one per line, each once, in order."""
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


# --- The plan ------------------------------------------------------------------------------------------------


class SheetRowForm(StatusUpdateForm):
    """The update form's rules, for one row of a spreadsheet.

    ModelForm's model validation checks the model's constraints by asking the database: the CheckConstraint
    "progress <= 100" costs a query for every row. The form states the same rule itself (`clean_progress`), and
    the database enforces every constraint when the row is saved (`actions.save_update` answers the race of
    two first saves), so the constraints are left to the save here: the preview's queries do not grow with the
    rows.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.validate_constraints = _constraints_checked_on_save


def _constraints_checked_on_save(*args, **kwargs) -> None:
    return None


# What a row does to its update, and why a row is left alone: kept in the plan by key, shown by label.
TRANSITIONS = {
    "new_draft": gettext_lazy("New draft"),
    "draft_updated": gettext_lazy("Draft updated"),
    "returned_updated": gettext_lazy("Returned update changed (it stays returned to you)"),
    "submitted": gettext_lazy("Submitted for review"),
    "resubmitted": gettext_lazy("Resubmitted after return"),
    "submitted_unchanged": gettext_lazy("Submitted, no field changed"),
}
LEFT_REASONS = {
    "not_filled": gettext_lazy("Not filled in"),
    "unchanged": gettext_lazy("Unchanged: the same as what is saved"),
}


@dataclass
class FieldChange:
    header: str
    before: str
    after: str


@dataclass
class Change:
    """A row that will be saved: what the preview shows, and what the import does."""

    row: int
    code: str
    title: str
    transition: str  # a key of TRANSITIONS
    fields: list[FieldChange]
    links_added: list[str]
    links_removed: list[str]
    hidden: bool
    # What the import does with it:
    initiative: Initiative  # with the agency's ownership of it loaded (save_update checks it, with no query)
    update: StatusUpdate | None  # the update as the plan read it (None: a new one is started)
    values: dict
    remove: list[Evidence]
    submit: bool

    @property
    def transition_label(self) -> str:
        return str(TRANSITIONS[self.transition])


@dataclass
class Left:
    row: int
    code: str
    title: str
    reason: str  # a key of LEFT_REASONS
    hidden: bool

    @property
    def reason_label(self) -> str:
        return str(LEFT_REASONS[self.reason])


@dataclass
class Problem:
    row: int | None  # None: the whole file
    column: str  # the column's header in the user's language ("" for the whole row)
    message: str


@dataclass
class Plan:
    mode: str
    changes: list[Change] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    hidden_rows: list[int] = field(default_factory=list)
    no_version_column: bool = False
    already_imported: SheetUpload | None = None
    fingerprint: str = ""

    @property
    def can_apply(self) -> bool:
        return not self.errors and bool(self.changes)

    @property
    def nothing_to_do(self) -> bool:
        return not self.errors and not self.changes

    @property
    def hidden_changes(self) -> int:
        return sum(1 for change in self.changes if change.hidden)

    @property
    def submits(self) -> int:
        return sum(1 for change in self.changes if change.submit)

    @property
    def drafts(self) -> int:
        return sum(1 for change in self.changes if not change.submit)


def _shown(key: str, value) -> str:
    """A field's value as the preview shows it (a status by its label in the user's language)."""
    if value in (None, ""):
        return ""
    if key == "status":
        return str(Status(value).label) if value in Status.values else str(value)
    if key == "progress":
        return f"{value} %"
    return str(value)


def _same_text(a: str, b: str) -> bool:
    return (a or "").replace("\r\n", "\n").strip() == (b or "").replace("\r\n", "\n").strip()


def _saved(update: StatusUpdate | None) -> dict:
    """An update's values as a row compares them (blank for a row with no update)."""
    if update is None:
        return {"status": "", "progress": None, "summary": "", "next_steps": "", "blockers": "", "links": []}
    return {
        "status": update.status,
        "progress": update.progress,
        "summary": update.summary,
        "next_steps": update.next_steps,
        "blockers": update.blockers,
        "links": [evidence.url for evidence in update.links],
    }


def _differs(key: str, saved, new) -> bool:
    if key in TEXT_FIELDS:
        return not _same_text(saved, new)
    if key == "links":
        return set(saved) != set(new)
    return saved != new


def make_plan(table: Table, *, user, period: ReportingPeriod | None, mode: str, sha256: str = "") -> Plan:
    """Compare every row of `table` with the database now: what importing it in `mode` would do."""
    plan = Plan(mode=mode)
    plan.unknown_columns = table.unknown
    plan.missing_columns = [header(key) for key in EDITABLE if key not in table.columns]
    plan.no_version_column = "version" not in table.columns
    agency = permissions.agency_of(user)
    if period is None:
        plan.errors.append(Problem(None, "", _("No reporting period is open, so nothing can be imported.")))
        return _finish(plan, agency, sha256)
    if not permissions.is_official(user):
        raise PermissionDenied
    planner = _Planner(plan, table, user=user, agency=agency, period=period)
    for row in table.rows:
        try:
            planner.judge(row)
        except _Refused as refused:
            plan.errors.extend(refused.problems)
    plan.hidden_rows = [row.number for row in table.rows if row.hidden]
    plan.errors.sort(key=lambda problem: problem.row or 0)
    return _finish(plan, agency, sha256)


class _Refused(Exception):
    """A row with errors: it is listed with them, and judged no further."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems


class _Planner:
    """The rows of one file, judged against the database as loaded once, in a fixed number of queries: the
    initiatives by code with the agency's ownership of them, this period's updates on them with their evidence
    links."""

    def __init__(self, plan: Plan, table: Table, *, user, agency, period: ReportingPeriod):
        self.plan, self.user, self.agency, self.period = plan, user, agency, period
        self.submit = plan.mode == Mode.SUBMIT
        typed = {text_of(row.cells["code"]) for row in table.rows} - {""}
        self.codes = {row.number: text_of(row.cells["code"]).upper() for row in table.rows}  # "a-318" is A-318
        # The ownerships are those save_update's permission check reads at the import: loaded here, once.
        ours = Prefetch("ownerships", queryset=Ownership.objects.filter(agency=agency))
        found = Initiative.objects.filter(code__in=typed | {code.upper() for code in typed}).prefetch_related(ours)
        self.initiatives = {initiative.code.upper(): initiative for initiative in found}
        # The permission rule itself, asked of the ownerships just loaded: no query per row.
        self.allowed = {i.pk for i in self.initiatives.values() if permissions.can_report_on(user, i)}
        updates = (
            StatusUpdate.objects.filter(agency=agency, period=period, initiative_id__in=self.allowed)
            .select_related("author")
            .prefetch_related(_evidence_links())
            .order_by("created_at", "pk")
        )
        self.latest = {
            update.initiative_id: update for update in updates
        }  # the period's latest counts, as on the worklist
        self.rows_of_code = defaultdict(list)
        for number, code in self.codes.items():
            if code:
                self.rows_of_code[code].append(number)

    def judge(self, row: FileRow) -> None:
        """Add the row to the plan: a change, a row left alone, or (raised as `_Refused`) its errors."""
        problems = _Problems(row.number)
        for key in ("code", "period", "version", *EDITABLE):  # a formula is refused wherever a value is read
            cell = row.cells.get(key)
            if cell is not None and cell.formula:
                problems.add(
                    key,
                    _(
                        "This cell holds a formula (%(formula)s); formulas are refused, not calculated. Type the "
                        "value itself."
                    )
                    % {"formula": str(cell.value)[:60]},
                )
        problems.check()
        filled = any(text_of(row.cells[key]) for key in EDITABLE if key in row.cells)
        initiative = self._initiative(row, filled, problems)
        if initiative is None:
            return
        title = in_language(initiative, "title")
        if not filled:
            self.plan.left.append(Left(row.number, initiative.code, title, "not_filled", row.hidden))
            return
        update = self.latest.get(initiative.pk)
        saved = _saved(update)
        new = self._values(row, saved, problems)
        differs = [key for key in (*FIELDS, "links") if _differs(key, saved[key], new[key])]
        if update is not None and not update.is_editable:
            if differs:
                if update.review_state == ReviewState.ACCEPTED:
                    message = _("This period's update on %(code)s is accepted: it can no longer be changed here.")
                else:
                    message = _(
                        "This period's update on %(code)s is submitted and waits for review: it can no longer be "
                        "changed. Leave the row as it was downloaded."
                    )
                problems.add(_column_of(differs[0]), message % {"code": initiative.code})
                problems.check()
            self.plan.left.append(Left(row.number, initiative.code, title, "unchanged", row.hidden))
            return
        if update is not None and differs:
            self._check_version(row, initiative, update, problems)
        if not differs and not self.submit:
            self.plan.left.append(Left(row.number, initiative.code, title, "unchanged", row.hidden))
            return
        self.plan.changes.append(self._change(row, initiative, title, update, saved, new, problems))

    def _initiative(self, row: FileRow, filled: bool, problems: _Problems) -> Initiative | None:
        """The row's initiative, once its code, period and permission are checked (None: a row to skip)."""
        code = self.codes[row.number]
        if not code:
            if filled:
                problems.add("code", _("This row has no code: say which initiative it is about."))
                problems.check()
            return None  # a note or a total typed below the rows: nothing of ours
        initiative = self.initiatives.get(code)
        if initiative is None:
            problems.add("code", _("No initiative has the code “%(code)s”.") % {"code": code[:30]})
        others = [number for number in self.rows_of_code[code] if number != row.number]
        if others:
            problems.add(
                "code",
                ngettext(
                    "The code %(code)s is also on row %(rows)s: keep one row per initiative.",
                    "The code %(code)s is also on rows %(rows)s: keep one row per initiative.",
                    len(others),
                )
                % {"code": code, "rows": ", ".join(str(number) for number in others)},
            )
        file_period = text_of(row.cells["period"]) if "period" in row.cells else ""
        if file_period and normal(file_period) != normal(self.period.name):
            problems.add(
                "period",
                _("This file is for %(file)s; download this period's file (%(period)s).")
                % {"file": file_period[:40], "period": self.period.name},
            )
        if initiative is not None and initiative.pk not in self.allowed:
            problems.add(
                "code", _("Your agency does not own %(code)s, so you may not report on it.") % {"code": initiative.code}
            )
        problems.check()
        return initiative

    def _values(self, row: FileRow, saved: dict, problems: _Problems) -> dict:
        """The values the row gives, read from the cells the file has; a column it lacks keeps what is saved."""
        new = dict(saved)
        readers = {"status": status_of, "progress": progress_of, "evidence_links": lambda c: links_of(text_of(c))}
        for key in EDITABLE:
            if key in row.cells:
                try:
                    new["links" if key == "evidence_links" else key] = readers.get(key, text_of)(row.cells[key])
                except CellError as problem:
                    problems.add(key, str(problem))
        problems.check()
        return new

    def _check_version(self, row: FileRow, initiative: Initiative, update: StatusUpdate, problems: _Problems) -> None:
        """A draft saved in the tracker after the download would be overwritten by the file's older values."""
        seen = text_of(row.cells["version"]).removeprefix(VERSION_PREFIX) if "version" in row.cells else ""
        if seen != update.version:
            who = update.author.get_full_name() or update.author.username
            problems.add(
                "",
                _(
                    "%(code)s was changed in the tracker by %(name)s (%(when)s) after you downloaded the file; "
                    "download the file again and copy your changes into it."
                )
                % {"code": initiative.code, "name": who, "when": _when(update.updated_at)},
            )
            problems.check()

    def _change(self, row, initiative, title, update, saved, new, problems: _Problems) -> Change:
        """The row as the update form would judge it (its rules, its messages), and what saving it changes."""
        instance = (
            copy.copy(update)  # the form sets the values on its instance: the plan keeps the update as read
            if update is not None
            else StatusUpdate(initiative=initiative, agency=self.agency, period=self.period, author=self.user)
        )
        data = {
            "status": new["status"] or "",
            "progress": "" if new["progress"] is None else str(new["progress"]),
            "summary": new["summary"],
            "next_steps": new["next_steps"],
            "blockers": new["blockers"],
            "evidence_links": "\n".join(new["links"]),
        }
        form = SheetRowForm(data, instance=instance)
        if not form.is_valid():
            for name, messages in form.errors.items():
                for message in messages:
                    problems.add(_column_of(name) if name in (*FIELDS, "evidence_links") else "", message)
            problems.check()
        values = {name: form.cleaned_data[name] for name in FIELDS}
        links = form.cleaned_data["evidence_links"]
        added = [link for link in links if link not in saved["links"]]
        removed = [link for link in saved["links"] if link not in links]
        fields = [
            FieldChange(header(key), _shown(key, saved[key]), _shown(key, values[key]))
            for key in FIELDS
            if _differs(key, saved[key], values[key])
        ]
        if update is None:
            transition = "submitted" if self.submit else "new_draft"
        elif not fields and not added and not removed:
            transition = "submitted_unchanged"
        elif update.review_state == ReviewState.RETURNED:
            transition = "resubmitted" if self.submit else "returned_updated"
        else:
            transition = "submitted" if self.submit else "draft_updated"
        return Change(
            row=row.number,
            code=initiative.code,
            title=title,
            transition=transition,
            fields=fields,
            links_added=added,
            links_removed=removed,
            hidden=row.hidden,
            initiative=initiative,
            update=update,
            values=values,
            remove=[evidence for evidence in (update.links if update else []) if evidence.url in removed],
            submit=self.submit,
        )


class _Problems:
    """A row's errors as they are found; `check` refuses the row once it has any."""

    def __init__(self, row: int):
        self.row, self.found = row, []

    def add(self, key: str, message: str) -> None:
        self.found.append(Problem(self.row, header(key) if key else "", message))

    def check(self) -> None:
        if self.found:
            raise _Refused(self.found)


def _column_of(name: str) -> str:
    return "evidence_links" if name in ("links", "evidence_links") else name


def _when(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _finish(plan: Plan, agency, sha256: str) -> Plan:
    if sha256 and agency is not None:
        plan.already_imported = (
            SheetUpload.objects.filter(agency=agency, sha256=sha256, applied_at__isnull=False)
            .order_by("-applied_at")
            .first()
        )
    plan.fingerprint = fingerprint(plan)
    return plan


def fingerprint(plan: Plan) -> str:
    """What the user confirms: every write the plan would make, against which version of which update."""
    writes = [
        [
            change.row,
            change.initiative.pk,
            change.update.pk if change.update else None,
            change.update.version if change.update else "",
            change.values,
            change.links_added,
            sorted(evidence.pk for evidence in change.remove),
            change.submit,
        ]
        for change in plan.changes
    ]
    content = json.dumps([plan.mode, writes, len(plan.errors)], sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()


# --- Uploads -------------------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Filled-in spreadsheet"),
        help_text=gettext_lazy(
            "The period's spreadsheet as downloaded, filled in: Excel (.xlsx) or CSV, up to 5 MB and 2,000 rows."
        ),
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("What to do with the rows"),
        choices=Mode.choices,
        initial=Mode.DRAFT,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("You see every change before anything is saved, and can switch there."),
    )


def receive(uploaded, *, user, period: ReportingPeriod, mode: str) -> SheetUpload:
    """Check an uploaded file and keep it for its preview; `BadFile` (nothing kept) if it cannot be imported."""
    if uploaded.size > MAX_BYTES:
        raise BadFile(
            _("The file is %(size)s; the spreadsheet can be at most 5 MB.") % {"size": filesizeformat(uploaded.size)}
        )
    data = uploaded.read()
    read_table(data)
    upload = SheetUpload(
        user=user,
        agency=permissions.agency_of(user),
        period=period,
        original_name=(uploaded.name or "spreadsheet")[:255],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        mode=mode,
    )
    upload.file.save(str(upload.pk), ContentFile(data), save=False)
    upload.save()
    return upload


def plan_upload(upload: SheetUpload, *, user, period: ReportingPeriod | None, mode: str) -> Plan:
    """The stored file's plan, against the database now."""
    with upload.file.open("rb") as stored:
        data = stored.read()
    if period is not None and period.pk != upload.period_id:
        problem = _(
            "This file was uploaded for %(uploaded)s, which is no longer the open period (%(open)s): download "
            "this period's file."
        ) % {
            "uploaded": upload.period.name,
            "open": period.name,
        }
        return _finish(Plan(mode=mode, errors=[Problem(None, "", problem)]), permissions.agency_of(user), "")
    try:
        table = read_table(data)
    except BadFile as problem:  # read at upload; only a change of the rules since could refuse it now
        plan = Plan(mode=mode, errors=[Problem(None, "", problem.message)])
        return _finish(plan, permissions.agency_of(user), "")
    return make_plan(table, user=user, period=period, mode=mode, sha256=upload.sha256)


class NotApplied(Exception):
    """Nothing was saved; `plan` is the plan as things stand now, `message` says why."""

    def __init__(self, message: str, plan: Plan):
        super().__init__(message)
        self.message, self.plan = message, plan


@dataclass
class Applied:
    drafts: int
    submitted: int

    @property
    def message(self) -> str:
        parts = []
        if self.submitted:
            parts.append(
                ngettext(
                    "%(count)d update submitted for review; reminders stop for it.",
                    "%(count)d updates submitted for review; reminders stop for them.",
                    self.submitted,
                )
                % {"count": self.submitted}
            )
        if self.drafts:
            parts.append(
                ngettext("%(count)d draft saved.", "%(count)d drafts saved.", self.drafts) % {"count": self.drafts}
            )
        return " ".join(parts)


def apply_upload(upload: SheetUpload, *, user, period: ReportingPeriod | None, mode: str, confirmed: str) -> Applied:
    """Import the upload as the user confirmed it (`confirmed`: the fingerprint of the plan they saw).

    The plan is made again against the database now: if it differs from the one confirmed, or has an error,
    nothing is saved (`NotApplied`). Otherwise every row is saved in one transaction through
    `actions.save_update`; if any row fails, none is saved.
    """
    plan = plan_upload(upload, user=user, period=period, mode=mode)
    if plan.fingerprint != confirmed:
        raise NotApplied(
            _(
                "Something changed since you saw the preview (in the tracker, or the mode you chose). Nothing was "
                "saved: here is the preview as things stand now."
            ),
            plan,
        )
    if plan.errors:
        raise NotApplied(_("Nothing was saved: the file has errors. Correct them and upload it again."), plan)
    if not plan.changes:
        raise NotApplied(_("Nothing was saved: every row matches what is saved."), plan)
    agency = permissions.agency_of(user)
    current = None
    try:
        with transaction.atomic():
            # Claimed first, with a conditional UPDATE: a second click on "confirm" finds it taken.
            claimed = SheetUpload.objects.filter(pk=upload.pk, applied_at__isnull=True).update(
                applied_at=timezone.now(), mode=mode, drafts_saved=plan.drafts, submitted=plan.submits
            )
            if not claimed:
                raise NotApplied(_("This file was imported already; nothing was saved a second time."), plan)
            for current in plan.changes:
                _save(current, user=user, agency=agency, period=period)
    except NotApplied:
        raise
    except (actions.StaleUpdate, ValidationError) as problem:
        raise NotApplied(_failed(current, "; ".join(problem.messages)), plan) from problem
    except PermissionDenied as problem:
        raise NotApplied(_failed(current, _("you may not report on this initiative")), plan) from problem
    except DatabaseError as problem:
        raise NotApplied(_failed(current, _("the database refused the change")), plan) from problem
    except Exception as problem:  # whatever it was, the transaction is rolled back: say so instead of a 500
        logger.exception("spreadsheet import %s failed", upload.pk)
        raise NotApplied(_failed(current, _("an unexpected error occurred")), plan) from problem
    return Applied(drafts=plan.drafts, submitted=plan.submits)


def _failed(change: Change | None, reason: str) -> str:
    if change is None:
        return _("Nothing was saved: %(reason)s.") % {"reason": reason}
    return _("Nothing was saved: row %(row)d (%(code)s) could not be saved: %(reason)s") % {
        "row": change.row,
        "code": change.code,
        "reason": reason,
    }


def _save(change: Change, *, user, agency, period: ReportingPeriod) -> None:
    if change.update is None:
        update = StatusUpdate(initiative=change.initiative, agency=agency, period=period, author=user, **change.values)
        seen = None
    else:
        update = change.update
        seen = update.version  # as the plan read it: saved meanwhile by someone else, and the row is refused
        for name, value in change.values.items():
            setattr(update, name, value)
        update.author = user
    actions.save_update(
        update,
        submit=change.submit,
        links=change.links_added,
        remove_evidence=change.remove,
        user=user,
        seen_version=seen,
    )
