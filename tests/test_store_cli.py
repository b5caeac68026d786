"""`python -m ehmap datasets ...` and `--dataset ID` on the analysis commands, run as a user would, against a
store of each test's own; and an export of another council refused in one line before ingest."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from store_support import west_berkshire_export

from ehmap.demo import DEMO_FILE

REPO = Path(__file__).resolve().parent.parent
CROYDON = "E09000008"


@pytest.fixture()
def cli(tmp_path):
    """Run `python -m ehmap ...` with a store of this test's own (a SQLite file under tmp_path)."""
    env = {**os.environ, "EHMAP_STATE_DIR": str(tmp_path / "state")}
    env.pop("EHMAP_DATABASE_URL", None)

    def run(*args, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ehmap", *map(str, args)], cwd=REPO,
                              env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=300)

    return run


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2 and done.stdout == "", (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_datasets_add_list_and_delete(cli, tmp_path):
    rows = len(pd.read_csv(DEMO_FILE, dtype=str))  # the export's data rows, counted without ehmap
    added = cli("datasets", "add", DEMO_FILE, "--la", CROYDON, "--name", "Demo export 2024")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"Saved dataset 1 'Demo export 2024' for Croydon (E09000008): {rows} rows read, ")
    listed = cli("datasets", "list", "--la", CROYDON)
    header, row = listed.stdout.strip().splitlines()
    assert header.split("\t") == ["id", "council", "name", "period", "rows read", "accepted", "rejected",
                                  "uploaded by", "uploaded at", "file"]
    fields = row.split("\t")
    assert fields[:3] == ["1", "Croydon (E09000008)", "Demo export 2024"]
    assert fields[4] == str(rows) and int(fields[5]) + int(fields[6]) == rows
    assert fields[7].startswith("cli:") and fields[9] == "croydon_cases.csv"
    assert cli("datasets", "list", "--la", "E06000037").stdout == "No dataset is saved for West Berkshire.\n"
    assert one_line_error(cli("datasets", "add", DEMO_FILE, "--la", CROYDON)).startswith(
        "error: This export is already saved for Croydon as 'Demo export 2024' (dataset 1, uploaded ")
    assert cli("datasets", "delete", "1").stdout == ("Deleted dataset 1 'Demo export 2024' (E09000008) and "
                                                    "everything saved with it.\n")
    assert one_line_error(cli("datasets", "delete", "1")) == "error: No saved dataset has the id 1."
    assert cli("datasets", "list").stdout == "No dataset is saved.\n"
    assert one_line_error(cli("datasets", "list", "--la", "X1")) == (
        "error: 'X1' is not an English council code; for example Croydon is E09000008.")


def test_an_export_of_another_council_is_refused_in_one_line(cli, tmp_path, directory):
    export = tmp_path / "west_berkshire.csv"
    export.write_bytes(west_berkshire_export(directory))
    expected = ("error: Most postcodes in this file (940 of 960) are in West Berkshire, not Croydon. "
                "Give --la E06000037 to use it there.")
    assert one_line_error(cli("datasets", "add", export, "--la", CROYDON)) == expected
    assert one_line_error(cli("ingest", export, "--la", CROYDON, "--out", tmp_path / "out")) == expected
    assert cli("datasets", "list").stdout == "No dataset is saved.\n"
    # the council it names is the right one: there it is accepted
    added = cli("datasets", "add", export, "--la", "E06000037")
    assert added.stdout.startswith("Saved dataset 1 'west berkshire' for West Berkshire (E06000037): 960 rows read, "
                                   "940 accepted, 20 rejected."), added.stderr
    # and a command that finds the council itself (performance) finds West Berkshire
    out = tmp_path / "perf.csv"
    done = cli("performance", export, "--out", out)
    assert done.returncode == 0 and "episodes of E06000037" in done.stdout, done.stderr


def test_analysis_commands_read_a_saved_dataset_as_they_read_its_file(cli, tmp_path):
    assert cli("datasets", "add", DEMO_FILE, "--la", CROYDON).returncode == 0
    for command, extra in [("hotspots", ["--need", "domestic_abuse", "--permutations", "99"]),
                           ("performance", []), ("business-case", [])]:
        from_file, from_store = tmp_path / f"{command}-file.csv", tmp_path / f"{command}-dataset.csv"
        la = ["--la", CROYDON] if command == "hotspots" else []
        done = cli(command, DEMO_FILE, *la, *extra, "--out", from_file)
        assert done.returncode == 0, done.stderr
        done = cli(command, "--dataset", "1", *extra, "--out", from_store)
        assert done.returncode == 0, done.stderr
        assert from_store.read_text() == from_file.read_text(), command
    # coverage: the dataset has no services file saved, so one must be given
    assert one_line_error(cli("coverage", "--dataset", "1", "--out", tmp_path / "c.csv")) == (
        "error: Dataset 1 has no services file saved: give one with --services.")
    services = REPO / "demo" / "croydon_services.csv"
    done = cli("coverage", "--dataset", "1", "--services", services, "--out", tmp_path / "c.csv")
    assert done.returncode == 0 and (tmp_path / "c.csv").read_text().startswith("lsoa11cd"), done.stderr
    report = tmp_path / "board.html"
    done = cli("report", "--dataset", "1", "--section", "need_map", "--out", report)
    assert done.returncode == 0, done.stderr
    assert "dataset 1: croydon cases (saved " in report.read_text()


def test_a_case_file_or_a_dataset_exactly_one_of_the_two(cli, tmp_path):
    out = tmp_path / "x.csv"
    assert one_line_error(cli("performance", "--out", out)) == "error: Give a case export file or --dataset ID."
    assert one_line_error(cli("performance", DEMO_FILE, "--dataset", "1", "--out", out)) == (
        "error: Give a case export file or --dataset ID, not both.")
    assert one_line_error(cli("hotspots", "--dataset", "7", "--out", out)) == "error: No saved dataset has the id 7."
    assert cli("datasets", "add", DEMO_FILE, "--la", CROYDON).returncode == 0
    assert one_line_error(cli("hotspots", "--dataset", "1", "--la", "E06000037", "--out", out)) == (
        "error: Dataset 1 ('croydon cases') is E09000008's, not E06000037's: leave out --la or give its council.")
    assert one_line_error(cli("coverage", DEMO_FILE, "--out", out)) == (
        "error: --services is required with a case file (a saved dataset may have its own).")


def test_purge_deletes_the_datasets_past_the_retention_period(cli):
    assert cli("datasets", "add", DEMO_FILE, "--la", CROYDON).returncode == 0
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    kept = cli("datasets", "purge", "--now", tomorrow, extra_env={"EHMAP_RETENTION_DAYS": "30"})
    assert kept.stdout == "0 dataset(s) uploaded more than 30 days ago deleted.\n"
    later = (dt.date.today() + dt.timedelta(days=31)).isoformat()
    purged = cli("datasets", "purge", "--now", later, extra_env={"EHMAP_RETENTION_DAYS": "30"})
    assert purged.stdout == "1 dataset(s) uploaded more than 30 days ago deleted: 1.\n"
    assert cli("datasets", "list").stdout == "No dataset is saved.\n"
    assert one_line_error(cli("datasets", "purge", extra_env={"EHMAP_RETENTION_DAYS": "soon"})).startswith(
        "error: EHMAP_RETENTION_DAYS must be a whole number of days of at least 1; got 'soon'.")
