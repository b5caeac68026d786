"""Reading case exports (CSV or XLSX) into a table of text columns, and matching their headers.

Every cell is read as text (Excel dates as ISO text) so nothing is guessed before validation. A
file that cannot be used raises `ExportError` with one sentence naming the problem. The limits of
`ehmap.limits` (size, rows, columns, line length, zip parts, encodings) are checked before parsing, and
the quote `ehmap.safe_output` puts before a formula-like cell is taken off again, so a file ehmap wrote
reads back as it was.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from ehmap import limits
from ehmap.safe_output import QUOTE, unescape_cell
from ehmap.text import file_label

# Canonical field -> header synonyms, in priority order (the first present wins).
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "case_id": ("Case ID", "Episode ID", "Person ID", "Child ID", "Case Ref", "ID"),
    "postcode": ("Postcode", "Post Code", "Home Postcode", "Address Postcode"),
    "referral_date": ("Referral Date", "Date of Referral", "Start Date", "Episode Start Date"),
    "end_date": ("End Date", "Closure Date", "Date Closed", "Episode End Date"),
    "service": ("Service", "Team", "Allocated Team", "Provider"),
    "needs": ("Needs", "Factors", "Assessment Factors", "Presenting Needs"),
    "outcome": ("Outcome", "Closure Reason", "Reason for Closure", "End Reason"),
    "referral_source": ("Referral Source", "Source"),
    "date_of_birth": ("DOB", "Date of Birth"),
    "family_id": ("Family ID",),
}
REQUIRED_FIELDS = ("case_id", "postcode", "referral_date", "needs")
FIELD_LABELS = {
    "case_id": "case ID",
    "postcode": "postcode",
    "referral_date": "referral date",
    "end_date": "end date",
    "service": "service",
    "needs": "needs",
    "outcome": "outcome",
    "referral_source": "referral source",
    "date_of_birth": "date of birth",
    "family_id": "family ID",
}


class ExportError(ValueError):
    """The file as a whole cannot be used; the message is one sentence for the user."""


def reconciliation(rows_read: int, accepted: int, rejects: pd.DataFrame, reasons: Mapping[str, str]) -> dict[str, object]:
    """rows_read = accepted + rejected, with rejected rows counted per reason (in `reasons` order, zeros omitted)."""
    by_reason = rejects["reason"].value_counts()
    return {
        "rows_read": rows_read,
        "accepted": accepted,
        "rejected": len(rejects),
        "rejected_by_reason": {reason: int(by_reason[reason]) for reason in reasons if reason in by_reason.index},
    }


def header_key(header: object) -> str:
    """Headers compare case-insensitively, ignoring spaces, underscores and punctuation."""
    return re.sub(r"[^a-z0-9]", "", str(header).lower())


# ---------------------------------------------------------------- limits, checked before parsing

_XML_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")
_SCAN_CHUNK = 1 << 20


def check_size(size: int) -> None:
    """Refuse a file over MAX_UPLOAD_BYTES."""
    if size > limits.MAX_UPLOAD_BYTES:
        most = limits.megabytes(limits.MAX_UPLOAD_BYTES)
        raise ExportError(f"The file is {limits.megabytes(size)}; the limit is {most}"
                          " (split the export by year, or leave out columns the analysis does not use).")


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 with a byte order mark, or without one: text whose every other byte is NUL."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = data[:4096]
    half = len(sample) // 2
    return half >= 2 and max(sample[0::2].count(0), sample[1::2].count(0)) >= 0.9 * half


def check_csv_bytes(data: bytes) -> None:
    """Refuse UTF-16 text and NUL bytes with their own messages, before the CSV parser sees them."""
    check_size(len(data))
    if _looks_utf16(data):
        raise ExportError("The file is UTF-16 text (Excel's 'Unicode Text'), not UTF-8 or Windows CSV; "
                          "save it as 'CSV UTF-8 (Comma delimited)' and upload that.")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ExportError(f"The file contains NUL bytes (the first on line {line:,}), so it is not a text CSV; "
                          "export it again as CSV, or upload the Excel workbook itself.")


def _longest_line(body: bytes) -> tuple[int, int]:
    """(length, start offset) of the longest line, counting CR and LF as line ends; read in chunks."""
    longest, longest_start, start = 0, 0, 0
    for offset in range(0, len(body), 8 * _SCAN_CHUNK):
        chunk = np.frombuffer(body, dtype=np.uint8, count=min(8 * _SCAN_CHUNK, len(body) - offset), offset=offset)
        ends = np.flatnonzero((chunk == 10) | (chunk == 13)) + offset
        if len(ends):
            starts = np.concatenate(([start], ends[:-1] + 1))
            lengths = ends - starts
            i = int(np.argmax(lengths))
            if lengths[i] > longest:
                longest, longest_start = int(lengths[i]), int(starts[i])
            start = int(ends[-1]) + 1
    if len(body) - start > longest:
        longest, longest_start = len(body) - start, start
    return longest, longest_start


def _lines_within(body: bytes, limit: int) -> bool:
    """True when no line can be longer than `limit` bytes: every block of limit/2 bytes holds a line end, so line
    ends are never more than `limit` bytes apart. Cheap (each block is searched only up to its first line end);
    False sends the caller to the exact scan."""
    block = max(limit // 2, 1)
    return all(body.find(b"\n", start, start + block) >= 0 or body.find(b"\r", start, start + block) >= 0
               for start in range(0, len(body), block))


def _too_many_rows(most: int, width: int) -> str:
    """The message for a file with more rows than the limits allow at this width."""
    if most >= limits.MAX_ROWS:
        return f"The file has more than {limits.MAX_ROWS:,} rows, the limit; split the export by year."
    return (f"The file has more than {most:,} rows of {width:,} columns, over the limit of "
            f"{limits.MAX_XLSX_CELLS:,} cells for an Excel workbook; export it as CSV, or split it by year.")


def _check_csv_shape(body: bytes, width: int) -> None:
    """Refuse too many columns, rows or cells, or a line too long to be a record, counted from the bytes."""
    if width > limits.MAX_COLUMNS:
        raise ExportError(f"The header has {width:,} columns; the limit is {limits.MAX_COLUMNS:,}.")
    returns = body.count(b"\r") if b"\r" in body else 0  # most exports end lines with LF alone
    lines = max(body.count(b"\n"), returns) + (0 if body.endswith((b"\n", b"\r")) else 1)
    rows = max(lines - 1, 0)
    if rows > limits.MAX_ROWS:
        raise ExportError(f"The file has {rows:,} lines after the header; the limit is {limits.MAX_ROWS:,} rows "
                          "(split the export by year).")
    if rows * width > limits.MAX_CSV_CELLS:
        raise ExportError(f"The file has {rows:,} rows of {width:,} columns, over the limit of "
                          f"{limits.MAX_CSV_CELLS:,} cells; leave out the columns the analysis does not use.")
    if _lines_within(body, limits.MAX_LINE_BYTES):
        return
    longest, start = _longest_line(body)
    if longest > limits.MAX_LINE_BYTES:
        line = body.count(b"\n", 0, start) + 1
        raise ExportError(f"Line {line:,} is {limits.megabytes(longest)} long; lines over "
                          f"{limits.MAX_LINE_BYTES // 1024} KB are refused (is this a CSV export?).")


@dataclass
class _SheetCounts:
    """What the pre-scan of a workbook's XML parts found."""

    rows: int = 0  # <row> elements of the worksheet being scanned
    cells: int = 0  # <c> elements of the worksheet being scanned
    dtd: bool = False


def _scan_xml(stream: io.BufferedIOBase, counts: _SheetCounts) -> None:
    """Count the rows and cells of an XML part as it inflates in 1 MB chunks; stop as soon as a limit is passed
    or a DTD is seen."""
    counts.rows = counts.cells = 0
    tail = b""
    while chunk := stream.read(_SCAN_CHUNK):
        window = tail + chunk
        counts.rows += window.count(b"<row") - tail.count(b"<row")
        counts.cells += window.count(b"<c ") + window.count(b"<c>") - tail.count(b"<c ") - tail.count(b"<c>")
        if any(declaration in window for declaration in _XML_DECLARATIONS):
            counts.dtd = True
        if counts.dtd or counts.rows > limits.MAX_ROWS + 1 or counts.cells > limits.MAX_XLSX_CELLS:
            return
        tail = chunk[-24:]


def check_xlsx_parts(data: bytes) -> None:
    """Check a workbook's zip directory and stream its XML parts against the limits before openpyxl opens it.

    The directory gives each part's size and compression ratio (zip bombs); the XML parts are then inflated in
    1 MB chunks (never whole) to count each worksheet's rows and cells and to refuse DTDs, which Excel never
    writes and which entity expansion needs.
    """
    try:
        members = limits.zip_members(data, "The workbook", limits.MAX_XLSX_UNCOMPRESSED_BYTES)
    except limits.LimitError as error:
        raise ExportError(str(error)) from None
    except (zipfile.BadZipFile, ValueError, struct.error) as error:
        raise ExportError(f"The file could not be read as an Excel workbook (.xlsx): {type(error).__name__}.") from None
    archive = zipfile.ZipFile(io.BytesIO(data))
    counts = _SheetCounts()
    for member in members:
        if not member.filename.lower().endswith((".xml", ".rels")):
            continue
        try:
            with archive.open(member) as stream:
                _scan_xml(stream, counts)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError) as error:
            raise ExportError(
                f"The file could not be read as an Excel workbook (.xlsx): {type(error).__name__}.") from None
        if counts.dtd:
            raise ExportError("The workbook holds an XML document type declaration (DTD), which Excel never writes; "
                              "it is refused. Save the sheet again from Excel.")
        if counts.rows > limits.MAX_ROWS + 1:
            raise ExportError(f"A worksheet has more than {limits.MAX_ROWS:,} rows after its header, the limit "
                              "(split the export by year).")
        if counts.cells > limits.MAX_XLSX_CELLS:
            raise ExportError(f"A worksheet has more than {limits.MAX_XLSX_CELLS:,} cells, the limit for an Excel "
                              "workbook; export it as CSV, or split it by year.")


def _unquoted(frame: pd.DataFrame) -> pd.DataFrame:
    """Take off the quote ehmap.safe_output put before formula-like cells (and only that quote)."""
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        quoted = column.str.startswith(QUOTE).fillna(False).to_numpy(dtype=bool)
        if quoted.any():
            column = column.copy()
            column[quoted] = column[quoted].map(unescape_cell)
            frame.isetitem(position, column)
    return frame


def _decode(data: bytes) -> str:
    """Text of a CSV: UTF-8 (with or without BOM), else Windows-1252 as Excel on Windows writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _first_ragged_line(text: str, width: int) -> tuple[int, int]:
    """Line number and field count of the first record whose width differs from the header's."""
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for record in reader:
        if record and len(record) != width:
            return reader.line_num, len(record)
    return 0, 0


def _parse_csv(body: bytes, width: int, ragged: list[object]) -> pa.Table:
    """All records after the header as `width` text columns; ragged records are noted in `ragged`."""

    def note_ragged(row: object) -> str:
        ragged.append(row)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    return pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=note_ragged),
        convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in names}, strings_can_be_null=False),
    )


def read_csv_export(data: bytes) -> pd.DataFrame:
    """A CSV export as text columns; blank lines are kept as blank rows so row numbers match.

    UTF-8 bytes go to the parser as they are; anything else is read as Windows-1252.
    """
    check_csv_bytes(data)
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    header_text = _decode(body.split(b"\n", 1)[0])
    first_line = next(csv.reader([header_text]), [])
    if not any(name.strip() for name in first_line):
        raise ExportError("The file is empty: it has no header row.")
    _check_csv_shape(body, len(first_line))
    ragged: list[object] = []
    try:
        try:
            table = _parse_csv(body, len(first_line), ragged)
        except pa.ArrowInvalid as error:
            if "UTF8" not in str(error):
                raise
            body = body.decode("cp1252", errors="replace").encode("utf-8")
            ragged.clear()
            table = _parse_csv(body, len(first_line), ragged)
    except (pa.ArrowInvalid, csv.Error) as error:
        raise ExportError(f"The file could not be read as CSV ({error}).") from None
    if ragged:
        line, fields = _first_ragged_line(_decode(body), len(first_line))
        raise ExportError(
            f"Line {line} has {fields} fields where the header has {len(first_line)}; "
            "check it for an unquoted comma or line break and export again."
        )
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    frame.columns = [unescape_cell(str(name).strip()) for name in first_line]
    return _unquoted(frame.fillna(""))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_xlsx_export(data: bytes) -> pd.DataFrame:
    """The first worksheet of an XLSX export as text columns; real Excel dates become ISO text.

    The zip directory and the XML parts are checked against `ehmap.limits` before openpyxl opens the file;
    the sheet's declared dimensions are ignored (they can claim a million empty rows) and rows are counted as
    they are read.
    """
    import openpyxl

    check_size(len(data))
    check_xlsx_parts(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a corrupt or non-XLSX file
        raise ExportError(f"The file could not be read as an Excel workbook (.xlsx): {type(error).__name__}.") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        header = next(sheet.iter_rows(max_row=1, max_col=limits.MAX_COLUMNS + 1, values_only=True), None)
        header = list(header or ())
        while header and header[-1] in (None, ""):
            header.pop()
        if not header:
            raise ExportError("The workbook's first sheet is empty: it has no header row.")
        width = len(header)
        if width > limits.MAX_COLUMNS:
            raise ExportError(f"The workbook's first sheet has more than {limits.MAX_COLUMNS:,} columns, the limit; "
                              "export only the columns the analysis needs.")
        most = min(limits.MAX_ROWS, limits.MAX_XLSX_CELLS // width)
        empty, blank = (None,) * width, [""] * width  # openpyxl fills a gap in the row numbers with empty rows
        records = []
        for row in sheet.iter_rows(min_row=2, max_col=width, values_only=True):
            if len(records) == most:  # counted as read: a row numbered 5,000,000 is refused here, quickly
                raise ExportError(_too_many_rows(most, width))
            records.append(blank if row == empty else [_cell_text(cell) for cell in row] + [""] * (width - len(row)))
    except ExportError:
        raise
    except Exception as error:  # a part that passed the checks can still be malformed XML
        raise ExportError(f"The file could not be read as an Excel workbook (.xlsx): {type(error).__name__}.") from None
    finally:
        workbook.close()
    columns = [unescape_cell(_cell_text(name)) for name in header]
    return _unquoted(pd.DataFrame(records, columns=columns, dtype="string"))


def read_export(data: bytes, filename: str) -> pd.DataFrame:
    """Read a CSV or XLSX export (chosen by file name, then by content) as text columns.

    `filename` only chooses the reader and names the file in messages; it is never opened as a path.
    """
    check_size(len(data))
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or data[:2] == b"PK":
        return read_xlsx_export(data)
    if suffix in ("", ".csv", ".txt"):
        return read_csv_export(data)
    raise ExportError(f"'{file_label(filename)}' is not a CSV or XLSX file; export the cases as CSV or Excel (.xlsx).")


def _refuse_yaml_aliases(text: str, name: str) -> None:
    """Refuse YAML anchors and aliases: yaml.safe_load expands them, so a few lines can become gigabytes."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ExportError(f"The column mapping {name} uses YAML anchors or aliases (& or *), which are refused; "
                              "write each field on its own line, e.g. 'postcode: Home PC'.")


def load_mapping(path: Path) -> dict[str, str]:
    """A column mapping file (YAML or JSON): canonical field -> the export's header.

    Files over MAX_MAPPING_BYTES and YAML with anchors or aliases are refused before they are parsed.
    """
    name = file_label(path.name)
    try:
        with path.open("rb") as file:
            data = file.read(limits.MAX_MAPPING_BYTES + 1)
        if len(data) > limits.MAX_MAPPING_BYTES:
            raise ExportError(f"The column mapping {name} is over {limits.MAX_MAPPING_BYTES // 1024} KB, the limit; "
                              "a mapping file is a few lines.")
        text = data.decode("utf-8")
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            _refuse_yaml_aliases(text, name)
            raw = yaml.safe_load(text)
    except ExportError:
        raise
    except RecursionError:
        raise ExportError(f"The column mapping {name} is nested too deeply to map fields to headers.") from None
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ExportError(f"The column mapping {name} could not be read ({error}).") from None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ExportError(f"The column mapping {name} must map field names to header names, e.g. 'postcode: Home PC'.")
    return {str(field): value for field, value in raw.items()}


@dataclass(frozen=True)
class ColumnSchema:
    """The fields a kind of file has: header synonyms in priority order, which are required, their labels."""

    synonyms: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    labels: Mapping[str, str]


CASE_EXPORT = ColumnSchema(FIELD_SYNONYMS, REQUIRED_FIELDS, FIELD_LABELS)


def match_columns(
    headers: list[str],
    mapping: Mapping[str, str] | None = None,
    require: bool = True,
    schema: ColumnSchema = CASE_EXPORT,
) -> dict[str, str]:
    """Field -> header for a file's headers; raises ExportError naming a missing required field.

    An explicit `mapping` (field -> header) wins; other fields take the first synonym present that is
    not already used. With `require=False` it returns whatever matched, to pre-fill a mapping step.
    """
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(header_key(header), header)
    matched: dict[str, str] = {}
    for field, header in (mapping or {}).items():
        if field not in schema.synonyms:
            raise ExportError(f"The column mapping names an unknown field '{field}'; valid fields are {sorted(schema.synonyms)}.")
        if header_key(header) not in by_key:
            raise ExportError(f"The column mapping maps {field} to '{header}', which is not a column; the columns found are {headers}.")
        matched[field] = by_key[header_key(header)]
    for field, synonyms in schema.synonyms.items():
        if field in matched:
            continue
        used = set(matched.values())
        found = next((by_key[header_key(s)] for s in synonyms if by_key.get(header_key(s)) not in (None, *used)), None)
        if found is not None:
            matched[field] = found
    for field in schema.required:
        if require and field not in matched:
            raise ExportError(
                f"No {schema.labels[field]} column: expected one headed {' / '.join(schema.synonyms[field])}"
                f" (or a column mapping); the columns found are {headers}."
            )
    return matched
