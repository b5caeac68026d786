"""Every CSV ehmap writes goes through here, so no cell is a live spreadsheet formula.

OWASP's CSV-injection guidance: a text cell that a spreadsheet would evaluate (one starting with `=`, `+`,
`-`, `@`, tab, carriage return, line feed or NUL, or their full-width forms, and not a plain number) is
written with a single quote in front, so Excel and LibreOffice show it as text. A cell that genuinely
starts with a quote gets one more quote in front, so the prefix is unambiguous: `unescape_cell` (used by
`ehmap.exports.read_export`) removes exactly the quote `escape_cell` added and nothing else, and
`unescape_cell(escape_cell(v)) == v` for every text `v`.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
QUOTE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def needs_quote(text: str) -> bool:
    """True when a spreadsheet would evaluate `text`, or when it starts with the quote this module adds."""
    if text.startswith(QUOTE):
        return True
    return text.startswith(FORMULA_STARTS) and _PLAIN_NUMBER.fullmatch(text) is None


def escape_cell(value: object) -> object:
    """A text value a spreadsheet shows as text (quote-prefixed when needed); anything else unchanged."""
    if isinstance(value, str) and needs_quote(value):
        return QUOTE + value
    return value


def unescape_cell(value: str) -> str:
    """The original text of a cell written by `escape_cell`: removes only a quote that was added."""
    if value.startswith(QUOTE) and needs_quote(value[1:]):
        return value[1:]
    return value


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names are escaped with `escape_cell`."""
    safe = frame.copy()
    safe.columns = [escape_cell(name) for name in frame.columns]
    for position, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
            column = frame.iloc[:, position]
            if isinstance(dtype, pd.CategoricalDtype):
                column = column.astype(object)
            safe.isetitem(position, column.map(escape_cell, na_action="ignore"))
    return safe


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text of `frame` (no index, CRLF line ends), with no cell a spreadsheet would evaluate.

    CRLF (as RFC 4180 says) also makes the writer quote a cell holding a lone CR, which with LF line ends it
    leaves bare, so a spreadsheet would start a new row there.
    """
    buffer = io.StringIO()
    formula_safe(frame).to_csv(buffer, index=False, lineterminator="\r\n")  # RFC 4180; quotes cells with CR too
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of `frame` for a download button, with no cell a spreadsheet would evaluate."""
    return csv_text(frame).encode("utf-8")


def write_csv(frame: pd.DataFrame, path: Path | str, private: bool = False) -> None:
    """Write `frame` as a formula-safe CSV at `path`, atomically.

    private=True (files holding episode rows) makes the file readable and writable by its owner only (0600)
    from the moment it exists; otherwise it gets the usual permissions of a new file (0666 less the umask).
    """
    data = csv_bytes(frame)
    write_atomic(path, lambda file: file.write(data), private)


def write_csv_fast(frame: pd.DataFrame, path: Path | str, private: bool = False) -> None:
    """`write_csv` for large tables: the same bytes, formatted with Arrow a chunk of rows at a time.

    Falls back to `write_csv`'s pandas writer for a column type whose text Arrow might format differently.
    """
    chunks = arrow_csv_chunks(frame)
    if chunks is None:
        write_csv(frame, path, private)
        return

    def write(file: BinaryIO) -> None:
        for chunk in chunks:
            file.write(chunk)

    write_atomic(path, write, private)


def write_atomic(path: Path | str, write: Callable[[BinaryIO], object], private: bool = False) -> None:
    """Create `path` by `write` into a temporary file beside it, then rename it into place.

    private=True: the file is readable and writable by its owner only (0600) from the moment it exists;
    otherwise it gets the usual permissions of a new file (0666 less the umask).
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_MAY_NEED_QUOTE = r"^['=+\-@\t\r\n\x00\x{ff1d}\x{ff0b}\x{ff0d}\x{ff20}]"  # cells `needs_quote` must look at
_CSV_SPECIAL = r'[",\r\n]'  # what makes Python's csv writer (QUOTE_MINIMAL, CRLF) quote a field
CHUNK_ROWS = 200_000


def arrow_csv_chunks(frame: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes] | None:
    """The bytes of `csv_text(frame)` in chunks, built with Arrow compute; None if a column is not text or integer.

    Each text cell is escaped as `escape_cell` does (only cells starting with a character it looks at go
    through Python) and quoted, with its quotes doubled, exactly when Python's csv writer would: when it
    holds a quote, a comma, CR or LF. Missing cells are empty, integers are written as digits.
    """
    columns = []
    for position in range(frame.shape[1]):
        column = _csv_field(frame.iloc[:, position])
        if column is None:
            return None
        columns.append(column)
    header = ",".join(_csv_quoted(escape_cell(str(name))) for name in frame.columns) + "\r\n"

    def chunks() -> Iterator[bytes]:
        yield header.encode("utf-8")
        for start in range(0, len(frame), chunk_rows):
            parts = [column.slice(start, chunk_rows) for column in columns]
            if len(parts) > 1:
                lines = pc.binary_join_element_wise(*parts, pa.scalar(",", pa.large_string()))
            else:  # Python's csv writer quotes a row that is one empty field
                lines = pc.if_else(pc.equal(parts[0], ""), pa.scalar('""', pa.large_string()), parts[0])
            lines = pc.binary_join_element_wise(lines, pa.scalar("\r\n", pa.large_string()), pa.scalar("", pa.large_string()))
            yield _string_bytes(lines)

    return chunks()


def _csv_field(column: pd.Series) -> pa.Array | None:
    """One column's cells as CSV fields (large_string, no nulls), or None for a type not formatted here."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if pd.api.types.is_integer_dtype(dtype):
        return pc.fill_null(pc.cast(pa.array(column, from_pandas=True), pa.large_string()), "")
    if isinstance(dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if not (pd.api.types.is_object_dtype(categories.dtype) or pd.api.types.is_string_dtype(categories.dtype)):
            return None
        if not all(isinstance(value, str) for value in categories):
            return None
        fields = pa.array([_csv_quoted(escape_cell(value)) for value in categories] + [""], type=pa.large_string())
        codes = column.cat.codes.to_numpy()
        return fields.take(pa.array(np.where(codes < 0, len(categories), codes)))
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        try:
            text = pa.array(column, from_pandas=True, type=pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: let pandas format it
            return None
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        suspect = pc.fill_null(pc.match_substring_regex(text, _MAY_NEED_QUOTE), False)
        if pc.any(suspect).as_py():
            rows = np.flatnonzero(suspect.to_numpy(zero_copy_only=False))
            escaped = [escape_cell(value) for value in text.take(pa.array(rows)).to_pylist()]
            values = text.to_numpy(zero_copy_only=False)
            values[rows] = escaped
            text = pa.array(values, type=pa.large_string(), from_pandas=True)
        special = pc.fill_null(pc.match_substring_regex(text, _CSV_SPECIAL), False)
        if pc.any(special).as_py():
            quote, nothing = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
            quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, nothing)
            text = pc.if_else(special, quoted, text)
        return pc.fill_null(text, "")
    return None


def _csv_quoted(text: str) -> str:
    """One CSV field as Python's csv writer writes it (QUOTE_MINIMAL, CRLF line ends)."""
    return '"' + text.replace('"', '""') + '"' if re.search(_CSV_SPECIAL, text) else text


def _string_bytes(lines: pa.Array) -> bytes:
    """The concatenated text of a string array without nulls, straight from its data buffer."""
    lines = pc.cast(lines, pa.large_string())
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()
