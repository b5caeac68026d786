"""Reading case exports (CSV, XLSX) and matching their headers (ehmap.exports)."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import openpyxl
import pytest

from ehmap.dates import parse_uk_date
from ehmap.exports import (
    FIELD_SYNONYMS,
    REQUIRED_FIELDS,
    ExportError,
    _lines_within,
    _longest_line,
    header_key,
    load_mapping,
    match_columns,
    read_csv_export,
    read_export,
    read_xlsx_export,
)

STANDARD = {"case_id": "Case ID", "postcode": "Postcode", "referral_date": "Referral Date", "needs": "Needs"}

# Ways the same header turns up in real exports.
VARIANTS = {
    "upper": str.upper,
    "lower": str.lower,
    "snake": lambda s: s.lower().replace(" ", "_"),
    "squashed": lambda s: s.replace(" ", ""),
    "punctuated": lambda s: s.replace(" ", ".") + ":",
    "padded": lambda s: f"  {s.replace(' ', '  ')}  ",
}
SYNONYM_CASES = [(field, synonym) for field, synonyms in FIELD_SYNONYMS.items() for synonym in synonyms]


# ---------------------------------------------------------------- header matching


def test_header_key_ignores_case_spaces_underscores_and_punctuation():
    assert header_key("Date of Birth") == header_key("DATE_OF_BIRTH") == header_key(" date-of.birth: ") == "dateofbirth"
    assert header_key("Case ID") != header_key("Case IDs")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("field, synonym", SYNONYM_CASES, ids=[f"{f}:{s}" for f, s in SYNONYM_CASES])
def test_every_synonym_matches_in_every_variant(field, synonym, variant):
    header = VARIANTS[variant](synonym)
    headers = [h for f, h in STANDARD.items() if f != field] + [header]
    matched = match_columns(headers)
    assert matched[field] == header
    for other, standard in STANDARD.items():
        if other != field:
            assert matched[other] == standard


def test_the_earlier_synonym_wins_whatever_the_column_order():
    headers = ["ID", "Child ID", "Postcode", "Start Date", "Referral Date", "Needs", "Case ID", "Team", "Service"]
    matched = match_columns(headers)
    assert matched["case_id"] == "Case ID"  # Case ID before Child ID before ID
    assert matched["referral_date"] == "Referral Date"  # before Start Date
    assert matched["service"] == "Service"  # before Team


def test_later_synonym_used_when_the_earlier_is_absent():
    matched = match_columns(["Person ID", "ID", "Home Postcode", "Date of Referral", "Assessment Factors"])
    assert matched == {
        "case_id": "Person ID",
        "postcode": "Home Postcode",
        "referral_date": "Date of Referral",
        "needs": "Assessment Factors",
    }


def test_optional_fields_matched_only_when_present():
    matched = match_columns(
        [*STANDARD.values(), "Closure Date", "Closure Reason", "Date of Birth", "Family ID", "Source"]
    )
    assert matched["end_date"] == "Closure Date"
    assert matched["outcome"] == "Closure Reason"
    assert matched["date_of_birth"] == "Date of Birth"
    assert matched["family_id"] == "Family ID"
    assert matched["referral_source"] == "Source"
    assert "service" not in matched


@pytest.mark.parametrize("missing", REQUIRED_FIELDS)
def test_missing_required_column_names_it_and_lists_the_columns_found(missing):
    headers = [h for f, h in STANDARD.items() if f != missing] + ["Notes"]
    with pytest.raises(ExportError) as error:
        match_columns(headers)
    label = {"case_id": "case ID", "postcode": "postcode", "referral_date": "referral date", "needs": "needs"}[missing]
    assert str(error.value) == (
        f"No {label} column: expected one headed {' / '.join(FIELD_SYNONYMS[missing])} (or a column mapping); "
        f"the columns found are {headers}."
    )


def test_missing_postcode_message_in_full():
    with pytest.raises(ExportError) as error:
        match_columns(["Case ID", "Referral Date", "Needs"])
    assert str(error.value) == (
        "No postcode column: expected one headed Postcode / Post Code / Home Postcode / Address Postcode "
        "(or a column mapping); the columns found are ['Case ID', 'Referral Date', 'Needs']."
    )


# ---------------------------------------------------------------- explicit mappings


def test_yaml_mapping_file(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("case_id: Ref No\npostcode: Home PC\nreferral_date: Referred On\nneeds: Issues\n", encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping == {"case_id": "Ref No", "postcode": "Home PC", "referral_date": "Referred On", "needs": "Issues"}
    matched = match_columns(["REF_NO", "home pc", "Referred On", "Issues", "Team"], mapping)
    # The mapping's header is matched loosely too, and the export's own spelling is what is used.
    assert matched["case_id"] == "REF_NO"
    assert matched["postcode"] == "home pc"
    assert matched["service"] == "Team"  # fields not in the mapping still match by synonym


def test_json_mapping_file(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"postcode": "Address (postcode)", "needs": "Factors at assessment"}), encoding="utf-8")
    mapping = load_mapping(path)
    matched = match_columns(["Case ID", "Address (postcode)", "Referral Date", "Factors at assessment"], mapping)
    assert matched["postcode"] == "Address (postcode)"
    assert matched["needs"] == "Factors at assessment"


def test_mapping_overrides_a_synonym():
    matched = match_columns(["Case ID", "Child ID", "Postcode", "Referral Date", "Needs"], {"case_id": "Child ID"})
    assert matched["case_id"] == "Child ID"


def test_mapping_naming_an_unknown_field():
    with pytest.raises(ExportError) as error:
        match_columns(list(STANDARD.values()), {"postocde": "Postcode"})
    message = str(error.value)
    assert message.startswith("The column mapping names an unknown field 'postocde'; valid fields are [")
    for field in FIELD_SYNONYMS:
        assert f"'{field}'" in message


def test_mapping_naming_a_missing_header():
    headers = ["Case ID", "Postcode", "Referral Date", "Needs"]
    with pytest.raises(ExportError) as error:
        match_columns(headers, {"postcode": "Home PC"})
    assert str(error.value) == (
        "The column mapping maps postcode to 'Home PC', which is not a column; "
        "the columns found are ['Case ID', 'Postcode', 'Referral Date', 'Needs']."
    )


def test_mapping_that_uses_a_synonym_for_another_field_leaves_the_next_synonym():
    matched = match_columns(["Case ID", "Child ID", "Postcode", "Referral Date", "Needs"], {"family_id": "Case ID"})
    assert matched["family_id"] == "Case ID"
    assert matched["case_id"] == "Child ID"


def test_mapping_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("- postcode\n- Home PC\n", encoding="utf-8")
    with pytest.raises(ExportError) as error:
        load_mapping(path)
    assert str(error.value) == (
        "The column mapping mapping.yaml must map field names to header names, e.g. 'postcode: Home PC'."
    )


def test_mapping_file_with_bad_json(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text("{postcode: Home PC}", encoding="utf-8")
    with pytest.raises(ExportError, match=r"^The column mapping mapping\.json could not be read \("):
        load_mapping(path)


def test_mapping_file_that_does_not_exist(tmp_path):
    with pytest.raises(ExportError, match=r"^The column mapping nowhere\.yaml could not be read \(.*No such file"):
        load_mapping(tmp_path / "nowhere.yaml")


# ---------------------------------------------------------------- CSV


def test_csv_cells_are_text_and_kept_as_written():
    frame = read_csv_export(b"Case ID,Postcode,Referral Date\n007,CR0 0AA,05/01/2023\n1e3,,2023-01-05\n")
    assert frame.columns.tolist() == ["Case ID", "Postcode", "Referral Date"]
    assert frame["Case ID"].tolist() == ["007", "1e3"]  # no numeric guessing: leading zeros kept
    assert frame["Postcode"].tolist() == ["CR0 0AA", ""]
    assert frame["Referral Date"].tolist() == ["05/01/2023", "2023-01-05"]


def test_csv_with_byte_order_mark():
    frame = read_csv_export("Case ID,Postcode\nA1,CR0 0AA\n".encode("utf-8-sig"))
    assert frame.columns.tolist() == ["Case ID", "Postcode"]
    assert match_columns([*frame.columns, "Referral Date", "Needs"])["case_id"] == "Case ID"


def test_csv_in_windows_1252():
    data = "Case ID,Service,Needs\nA1,Café Families £ Team,3A\n".encode("cp1252")
    assert b"\xe9" in data and b"\xa3" in data  # not UTF-8
    frame = read_csv_export(data)
    assert frame["Service"].tolist() == ["Café Families £ Team"]


def test_csv_in_utf8_with_non_ascii():
    frame = read_csv_export("Case ID,Service\nA1,Café Families £ Team\n".encode())
    assert frame["Service"].tolist() == ["Café Families £ Team"]


def test_blank_lines_are_kept_as_blank_rows_so_row_numbers_match():
    frame = read_csv_export(b"Case ID,Postcode\nA1,CR0 0AA\n\nA3,CR0 0AB\n")
    assert frame["Case ID"].tolist() == ["A1", "", "A3"]
    assert frame["Postcode"].tolist() == ["CR0 0AA", "", "CR0 0AB"]


def test_crlf_line_endings_and_quoted_commas():
    frame = read_csv_export(b'Case ID,Service\r\nA1,"Team A, North"\r\nA2,"Team ""B"""\r\n')
    assert frame["Service"].tolist() == ["Team A, North", 'Team "B"']


def test_header_only_csv_has_no_rows():
    frame = read_csv_export(b"Case ID,Postcode\n")
    assert frame.columns.tolist() == ["Case ID", "Postcode"] and len(frame) == 0


def test_ragged_csv_line_gives_the_line_number():
    data = b"Case ID,Postcode,Needs\nA1,CR0 0AA,3A\nA2,CR0 0AA,3A,extra\nA3,CR0 0AA,3A\n"
    with pytest.raises(ExportError) as error:
        read_csv_export(data)
    assert str(error.value) == (
        "Line 3 has 4 fields where the header has 3; check it for an unquoted comma or line break and export again."
    )


def test_ragged_line_number_counts_physical_lines_after_a_quoted_line_break():
    data = b'Case ID,Notes\nA1,"two\nlines"\nA2,short,extra\n'
    with pytest.raises(ExportError, match=r"^Line 4 has 3 fields where the header has 2;"):
        read_csv_export(data)


def test_short_csv_line_is_ragged_too():
    with pytest.raises(ExportError, match=r"^Line 2 has 2 fields where the header has 3;"):
        read_csv_export(b"Case ID,Postcode,Needs\nA1,CR0 0AA\n")


def test_empty_csv_says_it_is_empty():
    with pytest.raises(ExportError) as error:
        read_export(b"", "cases.csv")
    assert str(error.value) == "The file is empty: it has no header row."


def test_empty_csv_is_refused_with_an_export_error():
    with pytest.raises(ExportError, match=r"^The file (is empty|could not be read as CSV)"):
        read_export(b"", "cases.csv")


# ---------------------------------------------------------------- XLSX


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_real_excel_dates_and_integer_ids():
    data = _xlsx(
        [
            ["Case ID", "Postcode", "Referral Date", "End Date", "Needs", "Hours"],
            [1001, "CR0 0AA", dt.datetime(2023, 1, 5), dt.date(2023, 6, 30), "3A", 2.5],
            [1002.0, "CR0 0AA", dt.datetime(2023, 2, 6, 14, 30), None, "2A", None],
        ]
    )
    frame = read_export(data, "cases.xlsx")
    assert frame.columns.tolist() == ["Case ID", "Postcode", "Referral Date", "End Date", "Needs", "Hours"]
    assert frame["Case ID"].tolist() == ["1001", "1002"]  # no '.0'
    assert frame["Hours"].tolist() == ["2.5", ""]
    assert frame["End Date"].tolist()[1] == ""
    referral = frame["Referral Date"].tolist()
    assert referral[0].startswith("2023-01-05") and referral[1].startswith("2023-02-06")
    assert [parse_uk_date(text) for text in referral] == [dt.date(2023, 1, 5), dt.date(2023, 2, 6)]
    assert parse_uk_date(frame["End Date"].iloc[0]) == dt.date(2023, 6, 30)


def test_xlsx_blank_rows_and_short_rows_keep_their_place():
    data = _xlsx([["Case ID", "Postcode", "Needs"], ["A1", "CR0 0AA", "3A"], [], ["A3"]])
    frame = read_xlsx_export(data)
    assert frame["Case ID"].tolist() == ["A1", "", "A3"]
    assert frame["Needs"].tolist() == ["3A", "", ""]


def test_xlsx_recognised_by_content_whatever_the_name():
    data = _xlsx([["Case ID"], ["A1"]])
    assert read_export(data, "cases.csv")["Case ID"].tolist() == ["A1"]


def test_empty_workbook():
    with pytest.raises(ExportError) as error:
        read_export(_xlsx([]), "cases.xlsx")
    assert str(error.value) == "The workbook's first sheet is empty: it has no header row."


def test_corrupt_workbook():
    with pytest.raises(ExportError) as error:
        read_export(b"this is not a zip file", "cases.xlsx")
    assert str(error.value).startswith("The file could not be read as an Excel workbook (.xlsx): ")


@pytest.mark.parametrize("name", ["cases.xls", "cases.pdf", "Cases.DOCX", "folder/cases.json"])
def test_a_file_that_is_neither_csv_nor_xlsx(name):
    with pytest.raises(ExportError) as error:
        read_export(b"whatever", name)
    base = name.rsplit("/", 1)[-1]
    assert str(error.value) == f"'{base}' is not a CSV or XLSX file; export the cases as CSV or Excel (.xlsx)."


@pytest.mark.parametrize("name", ["cases.csv", "CASES.CSV", "cases.txt", "cases"])
def test_csv_chosen_by_name(name):
    assert read_export(b"Case ID\nA1\n", name)["Case ID"].tolist() == ["A1"]


@pytest.mark.parametrize("seed", range(40))
def test_the_quick_line_length_check_never_passes_a_line_over_the_limit(seed):
    """`_lines_within` (blocks searched for a line end) is checked against the exact scan `_longest_line` on random
    bodies with LF, CR and CRLF ends, lines near the limit and no final line end: whenever the quick check passes,
    no line is over the limit, and it passes whenever every line is shorter than half the limit."""
    rng = np.random.default_rng(seed)
    limit = int(rng.integers(4, 200))
    ends = [b"\n", b"\r", b"\r\n"]
    lines = [b"x" * int(rng.choice([rng.integers(0, limit // 2 + 1), rng.integers(limit - 2, limit + 3)]))
             for _ in range(int(rng.integers(1, 60)))]
    body = b"".join(line + ends[int(rng.integers(0, 3))] for line in lines)
    if rng.random() < 0.5:
        body += b"y" * int(rng.integers(0, limit + 2))  # a last line without a line end
    longest, _ = _longest_line(body)
    if _lines_within(body, limit):
        assert longest <= limit
    if longest < limit // 2:
        assert _lines_within(body, limit)
