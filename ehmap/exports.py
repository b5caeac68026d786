"""Reading case exports (CSV or XLSX) into a table of text columns, and matching their headers.

Every cell is read as text (Excel dates as ISO text) so nothing is guessed before validation. A
file that cannot be used raises `ExportError` with one sentence naming the problem.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

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
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    header_text = _decode(body.split(b"\n", 1)[0])
    first_line = next(csv.reader([header_text]), [])
    if not any(name.strip() for name in first_line):
        raise ExportError("The file is empty: it has no header row.")
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
    frame.columns = [str(name).strip() for name in first_line]
    return frame.fillna("")


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
    """The first worksheet of an XLSX export as text columns; real Excel dates become ISO text."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a corrupt or non-XLSX file
        raise ExportError(f"The file could not be read as an Excel workbook (.xlsx): {type(error).__name__}.") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ExportError("The workbook's first sheet is empty: it has no header row.")
        width = len(header)
        records = [[_cell_text(cell) for cell in row[:width]] + [""] * (width - len(row)) for row in rows]
    finally:
        workbook.close()
    columns = [_cell_text(name) for name in header]
    return pd.DataFrame(records, columns=columns, dtype="string")


def read_export(data: bytes, filename: str) -> pd.DataFrame:
    """Read a CSV or XLSX export (chosen by file name, then by content) as text columns."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or data[:2] == b"PK":
        return read_xlsx_export(data)
    if suffix in ("", ".csv", ".txt"):
        return read_csv_export(data)
    raise ExportError(f"'{Path(filename).name}' is not a CSV or XLSX file; export the cases as CSV or Excel (.xlsx).")


def load_mapping(path: Path) -> dict[str, str]:
    """A column mapping file (YAML or JSON): canonical field -> the export's header."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ExportError(f"The column mapping {path.name} could not be read ({error}).") from None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ExportError(f"The column mapping {path.name} must map field names to header names, e.g. 'postcode: Home PC'.")
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
