"""The ONS small-area population workbook (SAPE, single year of age) read as ehmap's children's CSV.

The ONS publishes LSOA population estimates only as Excel workbooks (sometimes inside a ZIP): a few title rows, then
a header row starting "LSOA Code", then one row per LSOA with "All Ages" and one column per single year of age
("0" to "89", "90+"). ehmap reads the persons sheet by header, keeps the children's single years, and writes the
declared CSV (`LSOA11CD, LSOA11NM, all_ages, age_0 ... age_17, age_0_15, age_0_17`): the user never reshapes it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ehmap.safe_output import write_csv

CHILD_AGES = range(18)  # 0 to 17: the Early Help population
HEADER_SEARCH_ROWS = 30  # the header row is found among the first rows, after the title block
MAX_ROWS = 100_000  # England and Wales have about 35,000 LSOAs (2011) or 36,000 (2021): more is not this table
MAX_UNZIPPED = 400 * 1024 * 1024  # the workbook inside a ZIP (the ONS's are 40-85 MB): larger is refused unread
CSV_HEADER = ["LSOA11CD", "LSOA11NM", "all_ages", *(f"age_{age}" for age in CHILD_AGES), "age_0_15", "age_0_17"]


class WorkbookError(ValueError):
    """The file is not an ONS single-year population workbook ehmap can read; the message says what is wrong."""


def is_zip(first_bytes: bytes) -> bool:
    """True for a ZIP container (an .xlsx workbook is one, and so is the ONS's zipped download)."""
    return first_bytes[:4] == b"PK\x03\x04"


def _workbook_bytes(path: Path) -> io.BytesIO | Path:
    """The workbook itself: `path` when it is an .xlsx, else the single .xlsx inside the ZIP at `path`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "[Content_Types].xml" in names:
                return path
            workbooks = [name for name in names if name.lower().endswith(".xlsx")]
            if len(workbooks) != 1:
                raise WorkbookError(f"the ZIP holds {len(workbooks)} Excel workbooks; expected the one ONS workbook.")
            if archive.getinfo(workbooks[0]).file_size > MAX_UNZIPPED:
                raise WorkbookError(f"the workbook in the ZIP unpacks to more than {MAX_UNZIPPED // 2**20} MB.")
            return io.BytesIO(archive.read(workbooks[0]))
    except zipfile.BadZipFile:
        raise WorkbookError("it is not a readable Excel workbook or ZIP file.") from None


def _header_positions(header: tuple) -> dict[str, int]:
    """Where each needed column is in the header row; names the ones that are absent."""
    cells = [str(cell).strip() if cell is not None else "" for cell in header]
    wanted = {"LSOA Code": "LSOA11CD", "LSOA Name": "LSOA11NM", "All Ages": "all_ages",
              **{str(age): f"age_{age}" for age in CHILD_AGES}}
    positions = {name: cells.index(label) for label, name in wanted.items() if label in cells}
    missing = [label for label, name in wanted.items() if name not in positions]
    if missing:
        raise WorkbookError(f"its header row lacks the column(s) {missing}.")
    return positions


def _count(value: object, code: str, column: str) -> int:
    """A published count as an integer; a blank or non-count cell is an error naming the LSOA and column."""
    if isinstance(value, bool) or value is None:
        raise WorkbookError(f"LSOA {code} has no {column} count.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WorkbookError(f"LSOA {code} has '{value}' as its {column} count, not a number.") from None
    if number < 0 or number != int(number):
        raise WorkbookError(f"LSOA {code} has {value} as its {column} count, not a whole number.")
    return int(number)


def _child_rows(rows: Iterator[tuple]) -> Iterator[list]:
    """The CSV rows after the header row: code, name, all ages, ages 0-17 and the two sums."""
    positions: dict[str, int] | None = None
    for number, row in enumerate(rows, start=1):
        if positions is None:
            if row and row[0] is not None and str(row[0]).strip() == "LSOA Code":
                positions = _header_positions(row)
            elif number >= HEADER_SEARCH_ROWS:
                raise WorkbookError(f"no header row starting 'LSOA Code' in its first {HEADER_SEARCH_ROWS} rows.")
            continue
        code = row[positions["LSOA11CD"]] if len(row) > positions["LSOA11CD"] else None
        if code is None or not str(code).strip():
            continue  # blank rows and footnotes below the table
        code = str(code).strip()
        if number > MAX_ROWS:
            raise WorkbookError(f"the sheet has more than {MAX_ROWS:,} rows, far more than there are LSOAs.")
        ages = [_count(row[positions[f"age_{age}"]], code, f"age {age}") for age in CHILD_AGES]
        yield [code, str(row[positions["LSOA11NM"]] or "").strip(),
               _count(row[positions["all_ages"]], code, "All Ages"), *ages, sum(ages[:16]), sum(ages)]
    if positions is None:
        raise WorkbookError("the sheet is empty.")


def workbook_to_children_csv(path: Path, sheet: str, out: Path) -> int:
    """Write the children's CSV read from the ONS workbook at `path` (an .xlsx, or a ZIP holding one) to `out`;
    the number of LSOAs written. Raises WorkbookError naming what is wrong."""
    from openpyxl import load_workbook  # only when a workbook arrives

    try:
        book = load_workbook(_workbook_bytes(path), read_only=True, data_only=True)
    except WorkbookError:
        raise
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise WorkbookError(f"it could not be opened as an Excel workbook ({type(error).__name__}).") from None
    try:
        if sheet not in book.sheetnames:
            raise WorkbookError(f"it has no sheet '{sheet}' (sheets: {', '.join(book.sheetnames[:6])}).")
        rows = list(_child_rows(book[sheet].iter_rows(values_only=True)))
    finally:
        book.close()
    if not rows:
        raise WorkbookError(f"sheet '{sheet}' holds no LSOA rows.")
    write_csv(pd.DataFrame(rows, columns=CSV_HEADER), out)  # formula-safe, like every CSV ehmap writes
    return len(rows)
