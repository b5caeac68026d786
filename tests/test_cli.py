"""`python -m ehmap ingest` end to end, in a subprocess, on files written to tmp_path (ehmap.cli)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import CROYDON, REPO

HEADER = "Case ID,Postcode,Referral Date,End Date,Team,Needs,Closure Reason,DOB,Family ID\n"
MESSY = HEADER + (
    "C-001,CR0 0AA,05/01/2023,30/06/2023,Team A,3A; 2A,Needs met,15/03/2010,F-1\n"  # 2 accepted
    "C-002,cr9 1de,2023-02-01,,Team B,24A | housing,,,F-1\n"  # 3 accepted
    ",CR0 0AA,05/01/2023,,Team A,3A,,,\n"  # 4 missing_id
    "C-001,CR0 0AA,5/1/2023,,Team A,3A,,,\n"  # 5 duplicate of row 2
    "\n"  # 6 blank line
    "C-005,CR0 0AA,31/02/2023,,Team A,3A,,,\n"  # 7 invalid_date
    "C-006,CR0 0AA,05/01/2023,01/01/2023,Team A,3A,,,\n"  # 8 end_before_start
    "C-007,,05/01/2023,,Team A,3A,,,\n"  # 9 missing_postcode
    "C-008,CRO 1AB,05/01/2023,,Team A,3A,,,\n"  # 10 invalid_postcode
    "C-009,ZZ9 9ZZ,05/01/2023,,Team A,3A,,,\n"  # 11 unknown_postcode
    "C-010,SW1A 1AA,05/01/2023,,Team A,3A,,,\n"  # 12 outside_area (Westminster)
    "C-011,CR0 0AA,07/03/2023 09:15,,Team B,Widgets,Banana,,\n"  # 13 accepted
)
EXPECTED_REJECTS = [
    (4, "missing_id"),
    (5, "duplicate"),
    (6, "missing_id"),
    (7, "invalid_date"),
    (8, "end_before_start"),
    (9, "missing_postcode"),
    (10, "invalid_postcode"),
    (11, "unknown_postcode"),
    (12, "outside_area"),
]


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ehmap", *map(str, args)],
        cwd=REPO,
        env=os.environ.copy(),  # conftest has pointed EHMAP_DATA_DIR, the cache and the secret at test locations
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_sentence_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith(".")
    return lines[0].removeprefix("error: ")


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    export = folder / "cases.csv"
    export.write_text(MESSY, encoding="utf-8")
    out = folder / "out"
    result = run_cli("ingest", export, "--la", CROYDON, "--out", out)
    return result, out


def test_messy_file_exits_zero_and_reports_counts(messy_run):
    result, out = messy_run
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"12 rows read: 3 accepted, 9 rejected -> {out}"
    assert sorted(p.name for p in out.iterdir()) == ["cases.csv", "rejects.csv", "summary.json"]


def test_cases_csv(messy_run):
    _, out = messy_run
    cases = pd.read_csv(out / "cases.csv", dtype=str, keep_default_na=False)
    for column in ("case_id", "lsoa11cd", "lad_code", "referral_date", "end_date", "service", "needs", "outcome"):
        assert column in cases.columns
    assert not {"postcode", "date_of_birth", "dob"} & set(cases.columns)
    assert len(cases) == 3
    assert cases["lad_code"].tolist() == [CROYDON] * 3
    assert all(re.fullmatch(r"E01\d{6}", code) for code in cases["lsoa11cd"])
    assert cases["referral_date"].tolist() == ["2023-01-05", "2023-02-01", "2023-03-07"]
    assert cases["end_date"].tolist() == ["2023-06-30", "", ""]
    assert cases["service"].tolist() == ["Team A", "Team B", "Team B"]
    assert cases["needs"].tolist() == ["substance_use;domestic_abuse", "child_safety;crime;housing", ""]
    assert cases["outcome"].tolist() == ["needs_met", "", "other"]
    assert cases["age_at_referral"].tolist() == ["12", "", ""]  # 15/03/2010 -> 05/01/2023, birthday not reached
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in cases["case_id"])
    assert cases["family_id"].iloc[0] == cases["family_id"].iloc[1] != "F-1"


def test_cases_csv_holds_no_identifier_postcode_or_date_of_birth(messy_run):
    _, out = messy_run
    text = (out / "cases.csv").read_text(encoding="utf-8")
    for personal in (
        "C-001",
        "C-002",
        "C-011",
        "F-1,",
        "CR0 0AA",
        "CR00AA",
        "CR9 1DE",
        "cr9 1de",
        "15/03/2010",
        "2010-03-15",
    ):
        assert personal not in text


def test_rejects_csv(messy_run):
    _, out = messy_run
    with open(out / "rejects.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["row", "reason", "message"]
    assert [(int(r["row"]), r["reason"]) for r in rows] == EXPECTED_REJECTS
    messages = {int(r["row"]): r["message"] for r in rows}
    assert messages[5] == "Same case ID and referral date as row 2."
    assert messages[6] == "The row is blank."
    assert messages[7] == "Referral date: '31/02/2023' is not a calendar date."
    assert messages[8] == "The end date 01/01/2023 is before the referral date 05/01/2023."
    assert messages[12] == "The postcode is in Westminster (E09000033), not Croydon (E09000008)."


def test_summary_json_reconciles(messy_run):
    _, out = messy_run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (12, 3, 9)
    assert summary["rows_read"] == summary["accepted"] + summary["rejected"]
    assert summary["rejected_by_reason"] == {
        "missing_id": 2,
        "duplicate": 1,
        "invalid_date": 1,
        "end_before_start": 1,
        "missing_postcode": 1,
        "invalid_postcode": 1,
        "unknown_postcode": 1,
        "outside_area": 1,
    }
    assert summary["la_code"] == CROYDON
    assert summary["columns_used"]["service"] == "Team"
    assert summary["columns_used"]["outcome"] == "Closure Reason"
    assert summary["missing_optional_columns"] == ["referral_source"]
    assert summary["warnings"]["unrecognised_needs"] == {"Widgets": 1}
    assert summary["warnings"]["unrecognised_outcomes"] == {"Banana": 1}


def test_mapping_file(tmp_path):
    export = tmp_path / "odd.csv"
    export.write_text(
        "Ref,Home PC,Referred On,Issues\nR1,CR0 0AA,05/01/2023,3A\nR2,CR0 0AA,06/01/2023,2A\n", encoding="utf-8"
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("case_id: Ref\npostcode: Home PC\nreferral_date: Referred On\nneeds: Issues\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("ingest", export, "--la", CROYDON, "--out", out, "--mapping", mapping)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"2 rows read: 2 accepted, 0 rejected -> {out}"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["columns_used"] == {
        "case_id": "Ref",
        "postcode": "Home PC",
        "referral_date": "Referred On",
        "needs": "Issues",
    }
    cases = pd.read_csv(out / "cases.csv", dtype=str)
    assert cases["needs"].tolist() == ["domestic_abuse", "substance_use"]


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    message = assert_one_sentence_error(run_cli("ingest", missing, "--la", CROYDON, "--out", tmp_path / "out"))
    assert message == f"{missing} could not be opened (No such file or directory)."
    assert not (tmp_path / "out").exists()


def test_missing_required_column(tmp_path):
    export = tmp_path / "cases.csv"
    export.write_text("Case ID,Referral Date,Needs\nA1,05/01/2023,3A\n", encoding="utf-8")
    message = assert_one_sentence_error(run_cli("ingest", export, "--la", CROYDON, "--out", tmp_path / "out"))
    assert message == (
        "No postcode column: expected one headed Postcode / Post Code / Home Postcode / Address Postcode "
        "(or a column mapping); the columns found are ['Case ID', 'Referral Date', 'Needs']."
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("code", ["E99999999", "W06000015"])  # made up; Welsh (not an English council)
def test_unknown_council_code(tmp_path, code):
    export = tmp_path / "cases.csv"
    export.write_text(HEADER + "A1,CR0 0AA,05/01/2023,,,3A,,,\n", encoding="utf-8")
    message = assert_one_sentence_error(run_cli("ingest", export, "--la", code, "--out", tmp_path / "out"))
    assert message == f"'{code}' is not an English council code; for example Croydon is E09000008."


def test_mapping_naming_an_unknown_field(tmp_path):
    export = tmp_path / "cases.csv"
    export.write_text(HEADER + "A1,CR0 0AA,05/01/2023,,,3A,,,\n", encoding="utf-8")
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"postocde": "Postcode"}', encoding="utf-8")
    message = assert_one_sentence_error(
        run_cli("ingest", export, "--la", CROYDON, "--out", tmp_path / "out", "--mapping", mapping)
    )
    assert message.startswith("The column mapping names an unknown field 'postocde'; valid fields are [")


def test_not_a_csv_or_xlsx(tmp_path):
    export = tmp_path / "cases.pdf"
    export.write_bytes(b"%PDF-1.4")
    message = assert_one_sentence_error(run_cli("ingest", export, "--la", CROYDON, "--out", tmp_path / "out"))
    assert message == "'cases.pdf' is not a CSV or XLSX file; export the cases as CSV or Excel (.xlsx)."
