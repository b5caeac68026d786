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
from pathlib import Path

import pandas as pd

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
    path = Path(path)
    data = csv_bytes(frame)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
