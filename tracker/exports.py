"""What an export contains, and how it reaches the reader: the spreadsheets people download from the lists.

- **The initiative list** (`/initiatives/?_export=csv` or `xlsx`): the rows of the page with its filters and sort,
  every page of them, in the columns the table marks for export (`tracker.tables.InitiativeTable`), headed in
  the reader's language.
- **Status updates** (`/updates.csv`): one row per update the user may export (`permissions.exportable_updates`),
  narrowed by `tracker.filters.StatusUpdateExportFilter` (period, review state, side, agency, status): its period,
  initiative, side and agency, status and progress, review state, summary, when it was submitted and reviewed (in
  the reader's time zone, named in the header), and who reviewed and wrote it (names, never addresses). Newest
  period first, then in the report's order, Mexico's side before Korea's. Its 100,000 rows and more are why
  exports stream.

A CSV is a `StreamingHttpResponse`: the header goes out first, then the rows, read from the database with
`QuerySet.iterator(chunk_size=...)` (a server-side cursor on PostgreSQL) and written by the csv module a row at a
time into chunks of a few hundred rows. Nothing holds the whole file, the query count does not depend on the
number of rows, and no COUNT is made. An XLSX cannot be sent before it is complete (it is a zip): it is written
in openpyxl's write-only mode into a temporary file, which is then streamed (`FileResponse`) and deleted.

A CSV starts with a byte order mark, without which Excel reads UTF-8 as a legacy code page (Korean and Spanish
text would be garbled). A text cell that starts with = + - @ (or a tab or carriage return) is prefixed with an
apostrophe, so that a spreadsheet shows it as text instead of running it as a formula ("CSV injection"): a
summary is typed by an official and opened by a secretariat. In XLSX such a cell is stored as a string cell,
which Excel never evaluates, so it needs no prefix.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.encoding import force_str
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from tracker.choices import Country, ReviewState, Status
from tracker.models import in_language_sql

# Rows read from the database per round trip (the server-side cursor's fetch size on PostgreSQL).
CHUNK_SIZE = 2000
# Rows per piece of the response: big enough that the socket is not written to for every row.
ROWS_PER_PIECE = 500
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_START = frozenset("=+-@\t\r")
# What Excel refuses in a sheet's name.
ILLEGAL_SHEET_TITLE = re.compile(r"[\\*?:/\[\]]")


def sheet_title(title: str, default: str) -> str:
    """A sheet's name Excel accepts: at most 31 characters and none of : \\ / ? * [ ] (openpyxl enforces both)."""
    return ILLEGAL_SHEET_TITLE.sub(" ", force_str(title))[:31].strip() or default


def safe_row(row: Iterable) -> list:
    """The row's cells for CSV: text that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    return ["'" + value if value.__class__ is str and value and value[0] in FORMULA_START else value for value in row]


@contextlib.contextmanager
def _as_the_reader(language: str | None, zone) -> Iterator[None]:
    """The reader's language and time zone, for rows made after the view has returned (while streaming)."""
    with translation.override(language), timezone.override(zone):
        yield


def stream_csv(header: Sequence, rows: Iterable[Sequence], *, filename: str) -> StreamingHttpResponse:
    """A CSV download, made a piece at a time while it is sent.

    `rows` is lazy (it runs its query on the first row): each piece is made in the language and time zone that
    are active now, in the view, whichever thread sends it.
    """
    language, zone = translation.get_language(), timezone.get_current_timezone()
    header = [force_str(name) for name in header]

    def pieces() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(safe_row(header))
        yield (BOM + buffer.getvalue()).encode("utf-8")  # the first byte goes out before the query runs
        remaining = iter(rows)
        while True:
            buffer.seek(0)
            buffer.truncate()
            with _as_the_reader(language, zone):
                for row in itertools.islice(remaining, ROWS_PER_PIECE):
                    writer.writerow(safe_row(row))
            piece = buffer.getvalue()
            if not piece:
                return
            yield piece.encode("utf-8")

    response = StreamingHttpResponse(pieces(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_row(sheet, row: Iterable) -> list:
    """A row for a write-only sheet: text stays text (openpyxl would store "=..." as a formula), without the
    control characters XLSX cannot hold."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cells = []
    for value in row:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("-", value)
            if value.startswith("="):
                text = WriteOnlyCell(sheet, value=value)
                text.data_type = "s"  # a string, never a formula
                value = text
        cells.append(value)
    return cells


def xlsx_file(header: Sequence, rows: Iterable[Sequence], *, title: str, filename: str) -> FileResponse:
    """An XLSX download: one sheet, the header in bold and frozen, written row by row into a temporary file."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title(title, "Sheet"))
    sheet.freeze_panes = "A2"
    rows = iter(rows)
    # Column widths are set before the first row is written: from the header and the first rows.
    first = list(itertools.islice(rows, 100))
    for index, name in enumerate(header, start=1):
        longest = max([len(force_str(name))] + [len(str(row[index - 1] or "")) for row in first])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 8), 60)
    bold = Font(bold=True)
    heading = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=force_str(name))
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)

    for row in itertools.chain(first, rows):
        sheet.append(xlsx_row(sheet, row))
    output = tempfile.TemporaryFile(suffix=".xlsx")  # gone once the response has sent and closed it
    workbook.save(output)
    output.seek(0)
    return FileResponse(output, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


# --- The initiative list --------------------------------------------------------------------------------------


def table_columns(table) -> list:
    """The table's columns that are exported (every one not marked `exclude_from_export`), in order."""
    return [column for column in table.columns.iterall() if not column.column.exclude_from_export]


def table_rows(table, columns: list) -> Iterator[list]:
    """The table's rows as the export's values (each column's `value`, as django-tables2's `as_values` gives
    them), read from its ordered queryset a chunk at a time instead of loaded whole."""
    from django_tables2.rows import BoundRow

    for record in table.data.data.iterator(chunk_size=CHUNK_SIZE):
        row = BoundRow(record, table=table)
        yield [force_str(row.get_cell_value(column.name), strings_only=True) for column in columns]


def table_download(table, export_format: str, *, filename: str) -> StreamingHttpResponse | FileResponse:
    """The rows of a django-tables2 table, already filtered and sorted, as CSV (streamed) or XLSX."""
    columns = table_columns(table)
    header = [force_str(column.header, strings_only=True) for column in columns]
    rows = table_rows(table, columns)
    if export_format == "xlsx":
        title = capfirst(force_str(table._meta.model._meta.verbose_name_plural))
        return xlsx_file(header, rows, title=title, filename=filename)
    return stream_csv(header, rows, filename=filename)


# --- Status updates ---------------------------------------------------------------------------------------------


def _person_name(path: str):
    """A person's full name, else the user name (as the pages show people); never the email address."""
    full = Trim(Concat(F(f"{path}__first_name"), Value(" "), F(f"{path}__last_name")))
    return Coalesce(NullIf(full, Value("")), F(f"{path}__username"))


# The status update export's columns: the header, then what the database gives for it (fields, and the annotations
# of `status_update_values`), then how a value is shown: a choice's label in the reader's language, a moment in the
# reader's time zone (which the header names), or as it is.
LOCAL_TIME = "local time"


def status_update_columns() -> list[tuple[str, str, Any]]:
    zone = timezone.get_current_timezone_name()
    return [
        (_("Period"), "period__name", None),
        (_("Code"), "initiative__code", None),
        (_("Title"), "export_title", None),
        (_("Side"), "agency__country", Country),
        (_("Agency"), "export_agency", None),
        (_("Status"), "status", Status),
        (_("Progress (%)"), "progress", None),
        (_("Review state"), "review_state", ReviewState),
        (_("Summary"), "summary", None),
        (_("Submitted at (%(time_zone)s)") % {"time_zone": zone}, "submitted_at", LOCAL_TIME),
        (_("Reviewed at (%(time_zone)s)") % {"time_zone": zone}, "reviewed_at", LOCAL_TIME),
        (_("Reviewed by"), "export_reviewer", None),
        (_("Author"), "export_author", None),
    ]


def status_update_values(updates: QuerySet, columns: list) -> QuerySet:
    """The export's values, computed by the database: newest period first, then in the report's order, Mexico's
    side ("MX") before Korea's."""
    return (
        updates.order_by(
            "-period__due_date", "period_id", "initiative__position", "initiative_id", "-agency__country", "pk"
        )
        .annotate(
            export_title=in_language_sql("initiative", "title"),
            export_agency=in_language_sql("agency", "name"),
            export_author=_person_name("author"),
            export_reviewer=_person_name("reviewed_by"),
        )
        .values_list(*(field for _header, field, _how in columns))
    )


def _shown(how) -> Any:
    """How a column's value is written (made once, on the first row: the reader's language and time zone are
    active by then)."""
    if how == LOCAL_TIME:
        zone = timezone.get_current_timezone()
        return lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if how is not None:
        labels = {choice.value: str(choice.label) for choice in how}
        return lambda value: labels.get(value, value)
    return None


def status_update_rows(values: QuerySet, columns: list) -> Iterator[list]:
    """Each update as a row: labels in the reader's language, times in the reader's time zone."""
    shown = [_shown(how) for _header, _field, how in columns]
    for row in values.iterator(chunk_size=CHUNK_SIZE):
        yield ["" if value is None else show(value) if show else value for show, value in zip(shown, row, strict=True)]


def status_updates_csv(updates: QuerySet, *, filename: str) -> StreamingHttpResponse:
    """The status updates given (already limited to what the user may see, and filtered) as a streamed CSV."""
    columns = status_update_columns()
    rows = status_update_rows(status_update_values(updates, columns), columns)
    return stream_csv([header for header, _field, _how in columns], rows, filename=filename)
