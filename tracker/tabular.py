"""Reading a spreadsheet someone uploaded (XLSX or CSV) into rows of known columns, or refusing it with the reason.

Used by the period's spreadsheet (tracker/sheets.py) and the list of people to invite (tracker/invitations.py).
What differs between them is a `Spec`: the headings each column may carry (in English, Spanish or Korean), the
columns a file must have, the limits, and the words of the refusals that name the file ("the period's
spreadsheet"). The reading itself is the same:

- The file is recognised by its content, never by its name. Refused, with a reason in the user's language:
  anything that is not an XLSX or a CSV; macro-enabled (.xlsm) and binary (.xlsb) workbooks; encrypted files; old
  .xls and OpenDocument (.ods) files (save as .xlsx); over the size or row limit, or an XLSX that unpacks to more
  than the limit or holds more cells than such a file can (a zip bomb); merged cells below the header.
- The header row is found among the first rows by its headings, columns in any order; unknown columns are
  ignored (and listed). In a workbook, the sheet with the most known headings is read.
- CSV: UTF-8 with or without a byte order mark, else cp1252 or cp949 (whichever reads the headings), separated
  by commas, semicolons or tabs; Excel's "Unicode text" (UTF-16) too.
- XLSX: opened with its formulas visible (`Cell.formula`), hidden rows marked (`FileRow.hidden`); only the cells
  the file holds are read, however far down a formatted cell is.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import struct
import unicodedata
import warnings
import xml.etree.ElementTree as ElementTree
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import filetype
from django.template.defaultfilters import filesizeformat
from django.utils import formats
from django.utils.encoding import force_str
from django.utils.translation import gettext as _

from tracker import exports

# The header row is looked for among the first rows (a title or a note above it is fine).
HEADER_SEARCH_ROWS = 20
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class BadFile(Exception):
    """A file that cannot be imported at all; the message says why, in the user's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Cell:
    value: Any = None
    formula: bool = False
    percent: bool = False  # a number shown as a percentage (Excel keeps 40 % as 0.4)


@dataclass
class FileRow:
    number: int  # the spreadsheet's own row number
    hidden: bool
    cells: dict[str, Cell]


@dataclass
class Table:
    """What an uploaded file holds, in the spec's columns."""

    kind: str  # "xlsx" or "csv"
    columns: list[str]  # the keys of the columns the file has
    unknown: list[str]  # headings we do not know (ignored)
    rows: list[FileRow]


def normal(text: Any) -> str:
    """A heading or a status as compared: Unicode-normalised (full-width forms too), case-folded, without spaces
    and without the marks people add ("Status *", "Status:")."""
    text = unicodedata.normalize("NFKC", force_str(text)).replace("\ufeff", "").casefold()
    return re.sub(r"\s+", "", text).strip("*:")


def _too_large(size: int) -> BadFile:
    return BadFile(_("The file is %(size)s; the spreadsheet can be at most 5 MB.") % {"size": filesizeformat(size)})


@dataclass(frozen=True)
class Spec:
    """What one kind of upload expects. `names()` maps every accepted heading, as `normal` writes it, to a column's
    key; `label(key)` is the column's heading in the user's language (for the messages). The refusals that say
    what the file should have been are the spec's: a file without one of the `required` columns is refused with
    `missing(keys)`, one with none of the headings with `no_headings()`, one that is no spreadsheet at all with
    `not_a_spreadsheet()`, one that unpacks past `max_unpacked_bytes` or `max_cells` (a zip bomb) with
    `too_big()`, and one over `max_bytes` with `too_large(size)` (by default: "at most 5 MB")."""

    names: Callable[[], dict[str, str]]
    label: Callable[[str], str]
    required: Sequence[str]
    no_headings: Callable[[], BadFile]
    missing: Callable[[list[str]], BadFile]
    not_a_spreadsheet: Callable[[], BadFile]
    too_big: Callable[[], BadFile]
    too_large: Callable[[int], BadFile] = _too_large
    max_bytes: int = 5 * 1024 * 1024
    max_rows: int = 2000
    max_unpacked_bytes: int = 60 * 1024 * 1024
    max_cells: int = 300_000


def read_table(data: bytes, spec: Spec) -> Table:
    """The file's rows in the spec's columns, or `BadFile` with the reason it cannot be imported."""
    if len(data) > spec.max_bytes:
        raise spec.too_large(len(data))
    if not data.strip():
        raise BadFile(_("The file is empty."))
    if data.startswith(ZIP_MAGIC):
        return _read_xlsx(data, spec)
    if data.startswith(OLE2_MAGIC):
        names = ole2_names(data)
        if {"EncryptionInfo", "EncryptedPackage"} & names:
            raise BadFile(
                _(
                    "This file is protected with a password (encrypted), so it cannot be read. Remove the password "
                    "(in Excel: File → Info → Protect Workbook → Encrypt with Password, and clear it), save, and "
                    "upload it again."
                )
            )
        raise BadFile(
            _("This is an old Excel file (.xls), which cannot be read. Save it as an Excel workbook (.xlsx) or as CSV.")
        )
    return _read_csv(data, spec)


def _damaged() -> BadFile:
    return BadFile(
        _(
            "The file looks like an Excel workbook but could not be read (it may be damaged). Open it, save it "
            "again as .xlsx or as CSV, and upload that."
        )
    )


def ole2_names(data: bytes) -> set[str]:
    """The entry names of an OLE2 compound file's directory ([MS-CFB]): an encrypted Office file is one with an
    EncryptionInfo stream; any other is an old binary Office file. Read from the directory sectors by the file
    allocation table (the header's 109 entries cover files of several MB, more than the 5 MB allowed)."""
    try:
        shift = struct.unpack_from("<H", data, 30)[0]
        size = 1 << shift if shift in (9, 12) else 512
        first_directory = struct.unpack_from("<I", data, 48)[0]
        table = []
        for sector in struct.unpack_from("<109I", data, 76):
            if sector >= 0xFFFFFFFA:
                break
            start = (sector + 1) * size
            table.extend(struct.unpack_from(f"<{size // 4}I", data, start))
        names, sector, seen = set(), first_directory, set()
        while sector < 0xFFFFFFFA and sector not in seen and len(seen) < 4096:
            seen.add(sector)
            chunk = data[(sector + 1) * size : (sector + 2) * size]
            for offset in range(0, len(chunk) - 127, 128):
                length = struct.unpack_from("<H", chunk, offset + 64)[0]
                if 2 <= length <= 64:
                    names.add(chunk[offset : offset + length - 2].decode("utf-16-le", "replace"))
            sector = table[sector] if sector < len(table) else 0xFFFFFFFE
        return names
    except struct.error:
        # A damaged directory: the stream's name, as the directory would spell it, anywhere in the file.
        return {"EncryptionInfo"} if "EncryptionInfo".encode("utf-16-le") in data else set()


def _read_xlsx(data: bytes, spec: Spec) -> Table:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise spec.not_a_spreadsheet() from None
    with archive:
        if "mimetype" in names:  # an OpenDocument file names its type first
            with archive.open("mimetype") as member:
                kind = member.read(100)
            if b"opendocument.spreadsheet" in kind:
                raise BadFile(
                    _(
                        "This is an OpenDocument spreadsheet (.ods), which cannot be read. In LibreOffice choose "
                        "File → Save As → Excel 2007-365 (.xlsx), and upload that."
                    )
                )
            raise spec.not_a_spreadsheet()
        if "[Content_Types].xml" not in names:
            raise spec.not_a_spreadsheet()
        try:
            _check_unpacked_size(archive, spec)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError):
            # A damaged member, a password on the zip itself, a compression method zipfile does not know.
            raise _damaged() from None
        types = archive.read("[Content_Types].xml").lower()
        lowered = [name.lower() for name in names]
        if b"sheet.binary" in types or any(name.endswith(".bin") and "worksheets/" in name for name in lowered):
            raise BadFile(
                _(
                    "This is an Excel binary workbook (.xlsb), which cannot be read. Save it as an Excel workbook "
                    "(.xlsx) or as CSV."
                )
            )
        if b"macroenabled" in types or any(name.endswith("vbaproject.bin") for name in lowered):
            raise BadFile(
                _(
                    "This workbook contains macros (.xlsm); files with macros are not accepted. Save it as an Excel "
                    "workbook (.xlsx) without macros, or as CSV, and upload that."
                )
            )
        if b"spreadsheetml" not in types:
            raise spec.not_a_spreadsheet()

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns of extensions it does not read (none matter here)
            # Normal mode: merged cells and hidden rows are only known there; formulas kept as formulas.
            workbook = load_workbook(io.BytesIO(data), data_only=False, keep_links=False, rich_text=False)
    except Exception:  # openpyxl raises many kinds (KeyError, ValueError, XML errors) on a damaged file
        raise _damaged() from None
    found = None
    for sheet in workbook.worksheets:
        by_row = _cells_by_row(sheet)
        candidates = []
        for number in sorted(by_row)[:HEADER_SEARCH_ROWS]:
            cells = by_row[number]
            candidates.append(
                (number, [getattr(cells.get(index), "value", None) for index in range(1, max(cells) + 1)])
            )
        heading = _find_heading(candidates, spec)
        if heading is not None and (found is None or len(heading[1]) > len(found[1][1])):
            found = (sheet, heading, by_row)
        if heading is not None and set(spec.required) <= set(heading[1].values()):
            break
    if found is None:
        raise spec.no_headings()
    sheet, (header_row, columns, unknown), by_row = found
    _check_columns(columns, spec)
    for merged in sheet.merged_cells.ranges:
        if merged.max_row >= header_row:
            raise BadFile(
                _(
                    "The cells %(range)s are merged, and merged cells cannot be read row by row. Unmerge them (in "
                    "Excel: Home → Merge & Center → Unmerge Cells) and upload the file again."
                )
                % {"range": merged.coord}
            )
    rows = []
    for number in sorted(by_row):
        if number <= header_row:
            continue
        cells = by_row[number]
        if not any(cell.value not in (None, "") for cell in cells.values()):
            continue
        dimension = sheet.row_dimensions.get(number)  # .get: indexing would add a row dimension to the sheet
        rows.append(
            FileRow(
                number=number,
                hidden=bool(dimension is not None and dimension.hidden),
                cells={key: _xlsx_cell(cells.get(index)) for index, key in columns.items()},
            )
        )
    _check_row_count(rows, spec)
    return Table(kind="xlsx", columns=list(columns.values()), unknown=unknown, rows=rows)


def _check_unpacked_size(archive: zipfile.ZipFile, spec: Spec) -> None:
    """Unpack every member as a stream, counting: past `max_unpacked_bytes` (whatever the archive claims), or past
    `max_cells` cells in its worksheets, the file is refused before openpyxl builds anything from it."""
    total = cells = 0
    limit = spec.max_unpacked_bytes
    too_big = spec.too_big()
    for info in archive.infolist():
        if info.file_size > limit:
            raise too_big
        with archive.open(info) as member:
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                counted = _CountingReader(member, limit - total, too_big)
                try:
                    for _event, element in ElementTree.iterparse(counted, events=("end",)):
                        if element.tag.endswith("}c"):
                            cells += 1
                            if cells > spec.max_cells:
                                raise too_big
                        if element.tag.endswith("}row"):
                            element.clear()  # keep memory flat while counting
                except ElementTree.ParseError:
                    raise _damaged() from None
                total += counted.read_bytes
            else:
                while chunk := member.read(1 << 16):
                    total += len(chunk)
                    if total > limit:
                        raise too_big
        if total > limit:
            raise too_big


class _CountingReader:
    """A member of the archive read for the XML parser, stopped once it has given more than `limit` bytes."""

    def __init__(self, member, limit: int, error: Exception):
        self.member, self.limit, self.error, self.read_bytes = member, limit, error, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.member.read(size if size and size > 0 else 1 << 16)
        self.read_bytes += len(chunk)
        if self.read_bytes > self.limit:
            raise self.error
        return chunk


def _cells_by_row(sheet) -> dict[int, dict[int, Any]]:
    """The cells the file holds, by row and column. openpyxl keeps them in `_cells`; iter_rows would create every
    cell of the rectangle up to the last row used, a million of them if one formatted cell is far below."""
    rows: dict[int, dict[int, Any]] = defaultdict(dict)
    for (row, column), cell in sheet._cells.items():
        rows[row][column] = cell
    return rows


def _xlsx_cell(cell) -> Cell:
    if cell is None:
        return Cell()
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    value = cell.value
    if cell.data_type == "f" or isinstance(value, ArrayFormula | DataTableFormula):
        text = value.text if isinstance(value, ArrayFormula) else str(value)
        return Cell(value=text, formula=True)
    percent = isinstance(value, int | float) and "%" in (cell.number_format or "")
    return Cell(value=value, percent=percent)


def _find_heading(candidates: list[tuple[int, list]], spec: Spec) -> tuple[int, dict[int, str], list[str]] | None:
    """The header row among the first rows: the one with the most known headings (a row with all the required
    columns wins a tie). Returns its number, {column index: key}, and the headings we do not know."""
    names = spec.names()
    required = set(spec.required)
    best = None
    for number, values in candidates:
        known = {}
        for index, value in enumerate(values, start=1):
            key = names.get(normal(value)) if value not in (None, "") else None
            if key is not None:
                known.setdefault(index, key)
        score = (len(set(known.values())), required <= set(known.values()))
        if known and (best is None or score > best[0]):
            best = (score, number, values, known)
    if best is None or (best[0][0] < 2 and not best[0][1]):
        return None
    _score, number, values, known = best
    keys = list(known.values())
    duplicated = [key for key, count in Counter(keys).items() if count > 1]
    if duplicated:
        raise BadFile(
            _("Two columns are headed “%(header)s”: keep only one of them.") % {"header": spec.label(duplicated[0])}
        )
    unknown = [force_str(value).strip() for index, value in enumerate(values, start=1) if index not in known]
    return number, known, [name for name in unknown if name]


def _check_columns(columns: dict[int, str], spec: Spec) -> None:
    missing = [key for key in spec.required if key not in columns.values()]
    if missing:
        raise spec.missing(missing)


def _check_row_count(rows: list[FileRow], spec: Spec) -> None:
    if len(rows) > spec.max_rows:
        raise BadFile(
            _("The file has %(count)s rows of data; at most %(limit)s can be imported at once. Split it in two.")
            % {
                "count": formats.number_format(len(rows), force_grouping=True),
                "limit": formats.number_format(spec.max_rows, force_grouping=True),
            }
        )


def _read_csv(data: bytes, spec: Spec) -> Table:
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # Excel's "Unicode text": UTF-16, tab-separated
    if not utf16 and (filetype.guess(data[:8192]) is not None or b"\x00" in data[:8192]):
        raise spec.not_a_spreadsheet()  # a PDF, an image, a program...: binary, not text
    texts = []
    encodings = ["utf-16"] if utf16 else ["utf-8-sig", "cp1252", "cp949"]
    for encoding in encodings:
        try:
            texts.append((encoding, data.decode(encoding)))
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig":
            break  # valid UTF-8 is what it is: the legacy code pages would read it as mojibake
    if not texts:
        raise BadFile(_("The file's text could not be read. Save it as “CSV UTF-8” and upload it again."))
    best = None
    for encoding, text in texts:
        head = text[:65536]
        for delimiter in (",", ";", "\t"):
            try:
                lines = list(csv.reader(io.StringIO(head), delimiter=delimiter))[:HEADER_SEARCH_ROWS]
            except csv.Error:
                continue
            try:
                heading = _find_heading(list(enumerate(lines, start=1)), spec)
            except BadFile:
                heading = None
            if heading is None:
                continue
            score = (len(set(heading[1].values())), _plausible(encoding, head))
            if best is None or score > best[0]:
                best = (score, text, delimiter)
    if best is None:
        raise spec.no_headings()
    _score, text, delimiter = best
    try:
        lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error:
        raise BadFile(_("The file could not be read as CSV (a quotation mark may be missing).")) from None
    header_row, columns, unknown = _find_heading(list(enumerate(lines[:HEADER_SEARCH_ROWS], start=1)), spec)
    _check_columns(columns, spec)
    rows = []
    for number, values in enumerate(lines, start=1):
        if number <= header_row or not any(value.strip() for value in values):
            continue
        cells = {key: Cell(values[index - 1] if index <= len(values) else None) for index, key in columns.items()}
        rows.append(FileRow(number=number, hidden=False, cells=cells))
    _check_row_count(rows, spec)
    return Table(kind="csv", columns=list(columns.values()), unknown=unknown, rows=rows)


HANGUL = re.compile(r"[\uac00-\ud7a3]")
# An accented Latin letter inside a word: how Spanish looks when its code page is the right one.
LATIN_IN_WORD = re.compile(r"[A-Za-z][\u00c0-\u00ff]|[\u00c0-\u00ff][A-Za-z]")


def _plausible(encoding: str, text: str) -> int:
    """How much a legacy code page's reading looks like text, to choose between two that both read the headings
    (English headings, Korean summaries): Korean read as cp1252 is runs of accented symbols, never Hangul."""
    if encoding == "cp949":
        return len(HANGUL.findall(text))
    if encoding == "cp1252":
        return len(LATIN_IN_WORD.findall(text))
    return 0


# --- Reading a cell ------------------------------------------------------------------------------------------


def text_of(cell: Cell) -> str:
    """A cell as text: numbers as typed (40, not 40.0), line ends as \\n, surrounding space trimmed, and the
    apostrophe our CSV puts before = + - @ taken off."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    elif isinstance(value, datetime.date | datetime.time):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > 1 and text[0] == "'" and text[1] in exports.FORMULA_START:
        text = text[1:]
    return text
