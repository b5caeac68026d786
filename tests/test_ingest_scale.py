"""Ingest at scale (issue 18): the vectorised rejects report against a per-row reference, the pseudonyms of a
mostly rejected file, and the CLI's Arrow-written CSV and Parquet outputs. Real postcode directory; no timings."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ehmap.dates import parse_uk_date
from ehmap.ingest import FIRST_DATA_ROW, REJECT_REASONS, ingest
from ehmap.postcodes import is_valid_postcode, normalise_postcodes
from ehmap.pseudonymise import pseudonymise
from ehmap.safe_output import arrow_csv_chunks, csv_bytes
from tests.conftest import CROYDON, REPO
from tests.synthetic_export import WEST_BERKSHIRE, council_postcodes, make_export

KEY = b"scaletestkey0000"
TODAY = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def mixed_export(directory) -> pd.DataFrame:
    """A West Berkshire export with every kind of reject: other councils' postcodes (several councils),
    bad, blank and future dates, end dates before referral, unknown, invalid and blank postcodes,
    duplicates written differently, blank rows and a formula in a cell."""
    table = make_export(directory, episodes=600, seed=11).astype(object)
    rng = np.random.default_rng(5)
    croydon = council_postcodes(directory, CROYDON, ("CR",))["postcode"].to_numpy()
    elsewhere = np.concatenate([croydon[:40], ["SW1A 1AA", "M1 1AE", "B1 1BB", "CF10 1EP"]])
    rows = rng.permutation(len(table))
    outside, bad_referral, bad_end, postcodes, duplicates, blank, team = np.split(rows[:330], [150, 190, 230, 270, 300, 310])
    table.loc[outside, "Home Postcode"] = rng.choice(elsewhere, len(outside))
    table.loc[bad_referral, "Referral Date"] = rng.choice(
        ["31/02/2023", "TBC", "", "  ", "01/01/2099", "1800-01-01", "2023/13/01", "02/10/2025"], len(bad_referral))
    table.loc[bad_end, "Closure Date"] = rng.choice(["30/02/2024", "soon", "01/01/2030", "01/01/2020", "02/04/2023"],
                                                    len(bad_end))
    table.loc[postcodes, "Home Postcode"] = rng.choice(["ZZ9 9ZZ", "CRO 1AB", "", "N/A", "rg14 5ls", " RG14  5LS "],
                                                       len(postcodes))
    earlier = rows[400:430]
    table.loc[duplicates, "Case ID"] = table.loc[earlier, "Case ID"].to_numpy()
    table.loc[duplicates, "Referral Date"] = [
        text if i % 2 else "{}/{}/{}".format(*(int(part) for part in text.split("/"))) if "/" in text else text
        for i, text in enumerate(table.loc[earlier, "Referral Date"])]  # the same day written without zeros
    table.loc[blank, :] = ""
    table.loc[blank[:3], "Case ID"] = ""
    table.loc[blank[:3], "Home Postcode"] = "RG14 5LS"  # missing ID, not blank
    table.loc[team, "Allocated Team"] = "=HYPERLINK(\"http://x\")"
    return table.astype("string")


def reference_report(table: pd.DataFrame, la_code: str, directory, names: dict[str, str]) -> list[tuple]:
    """The rejects report worked out one row at a time, in plain Python: (row, reason, message) per rejected row."""
    tomorrow = np.datetime64(TODAY + dt.timedelta(days=1), "s")
    here = f"{names.get(la_code, la_code)} ({la_code})"
    first_of_key: dict[tuple, int] = {}
    report = []

    def parse(text: str) -> tuple[np.datetime64 | None, str | None]:
        if not text:
            return None, None
        try:
            return np.datetime64(parse_uk_date(text), "s"), None
        except ValueError as error:
            return None, str(error)

    def day(value: np.datetime64) -> str:
        return pd.Timestamp(value).strftime("%d/%m/%Y")

    for position, cells in enumerate(table.fillna("").itertuples(index=False)):
        row = position + FIRST_DATA_ROW
        values = [str(cell).strip() for cell in cells]
        case_id, postcode = values[0], values[3]
        referral_text, end_text = values[4], values[5]
        referral, referral_error = parse(referral_text)
        end, end_error = parse(end_text)
        key = (case_id, referral.astype("datetime64[D]") if referral is not None else ("text", referral_text))
        first = first_of_key.setdefault(key, row)
        normalised = normalise_postcodes(pd.Series([postcode], dtype="string"))
        match = directory.lookup(normalised.fillna("").to_numpy(dtype=object))
        lad = match.lad_code.to_numpy(dtype=object, na_value=None)[0]

        if not case_id:
            reason, message = "missing_id", "The row is blank." if not any(values) else REJECT_REASONS["missing_id"]
        elif first != row:
            reason, message = "duplicate", f"Same case ID and referral date as row {first}."
        elif (referral is None or referral >= tomorrow or end_error is not None
              or (end is not None and end >= tomorrow)):
            reason = "invalid_date"
            if referral_error is not None:
                message = f"Referral date: {referral_error}."
            elif not referral_text:
                message = "The referral date is blank."
            elif referral >= tomorrow:
                message = f"The referral date {day(referral)} is in the future."
            elif end is not None and end >= tomorrow:
                message = f"The end date {day(end)} is in the future."
            else:
                message = f"End date: {end_error}."
        elif end is not None and end < referral:
            reason, message = "end_before_start", f"The end date {day(end)} is before the referral date {day(referral)}."
        elif normalised.isna()[0]:
            reason, message = "missing_postcode", REJECT_REASONS["missing_postcode"]
        elif not is_valid_postcode(normalised)[0]:
            reason, message = "invalid_postcode", REJECT_REASONS["invalid_postcode"]
        elif not match.has_grid[0]:
            reason, message = "unknown_postcode", REJECT_REASONS["unknown_postcode"]
        elif lad != la_code:
            reason = "outside_area"
            message = (f"The postcode is in {names.get(lad, 'another council')} ({lad}), not {here}." if lad
                       else f"The postcode has no council in the directory, so it is not in {here}.")
        else:
            continue
        report.append((row, reason, message))
    return report


def test_rejects_report_equals_a_per_row_reference(mixed_export, directory, council_names):
    result = ingest(mixed_export, WEST_BERKSHIRE, directory, council_names, KEY, today=TODAY)
    expected = reference_report(mixed_export, WEST_BERKSHIRE, directory, council_names)
    assert list(result.rejects.itertuples(index=False, name=None)) == expected
    assert result.rows_read == len(mixed_export) == result.accepted + result.rejected
    reasons = {reason for _, reason, _ in expected}
    assert reasons == set(REJECT_REASONS)  # the mixed file exercises every reason
    assert len({message for _, reason, message in expected if reason == "outside_area"}) >= 4
    assert result.rejects.dtypes.astype(str).tolist() == ["int64", "str", "str"]


def test_a_mostly_out_of_area_file_keeps_every_row_and_the_same_pseudonyms(mixed_export, directory, council_names):
    """Read as Croydon, nearly every row is outside the area: only the accepted rows' IDs are hashed, and their
    pseudonyms are the keyed hash of the ID as always."""
    result = ingest(mixed_export, CROYDON, directory, council_names, KEY, today=TODAY)
    assert result.rows_read == result.accepted + result.rejected
    assert 0 < result.accepted < len(mixed_export) // 3
    rejected_rows = set(result.rejects["row"] - FIRST_DATA_ROW)
    kept = [row for row in range(len(mixed_export)) if row not in rejected_rows]
    for column, field in (("Case ID", "case_id"), ("Family ID", "family_id")):
        expected = pseudonymise(mixed_export[column].iloc[kept].str.strip().reset_index(drop=True), KEY)
        assert result.cases[field].tolist() == expected.tolist()
    expected = reference_report(mixed_export, CROYDON, directory, council_names)
    assert list(result.rejects.itertuples(index=False, name=None)) == expected


def test_arrow_csv_is_byte_for_byte_the_pandas_csv():
    cells = ["plain", "a,b", 'say "hi"', "two\nlines", None, "cr\r", "=1+2", "+44 20", "-3", "-3a", "@sum", "'quoted",
             "\ttab", "\x00nul", "\uff1dfull", " spaced ", "", "é,ü", "''", "'=x", "a\r\nb", "-", "1e5", "+.5"]
    frame = pd.DataFrame({
        "text,name": pd.array(cells, dtype="str"),
        "=object": pd.Series(cells, dtype=object),
        "category": pd.Categorical(cells),
        "number": np.arange(len(cells)),
        "age": pd.array([3, None] * (len(cells) // 2), dtype="Int64"),
    })
    for chunk_rows in (1, 5, 1000):
        assert b"".join(arrow_csv_chunks(frame, chunk_rows)) == csv_bytes(frame)
    assert b"".join(arrow_csv_chunks(frame.iloc[:0])) == csv_bytes(frame.iloc[:0])
    one = pd.DataFrame({"only": pd.array(["", "a", None, ","], dtype="str")})
    assert b"".join(arrow_csv_chunks(one)) == csv_bytes(one)
    assert arrow_csv_chunks(pd.DataFrame({"x": [0.5, 1.25]})) is None  # floats: left to pandas


def run_ingest(export, out, *options: str) -> None:
    result = subprocess.run([sys.executable, "-m", "ehmap", "ingest", str(export), "--la", WEST_BERKSHIRE,
                             "--out", str(out), *options], cwd=REPO, env=os.environ.copy(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_cli_parquet_and_csv_hold_the_same_rows_readable_by_the_owner_only(mixed_export, tmp_path):
    from ehmap.safe_output import escape_cell

    export = tmp_path / "export.csv"
    mixed_export.to_csv(export, index=False)
    run_ingest(export, tmp_path / "csv")
    run_ingest(export, tmp_path / "parquet", "--format", "parquet")
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["cases.csv", "rejects.csv", "summary.json"]
    assert sorted(p.name for p in (tmp_path / "parquet").iterdir()) == ["cases.parquet", "rejects.parquet", "summary.json"]
    assert (tmp_path / "csv" / "summary.json").read_text() == (tmp_path / "parquet" / "summary.json").read_text()

    for name in ("cases", "rejects"):
        for path in (tmp_path / "csv" / f"{name}.csv", tmp_path / "parquet" / f"{name}.parquet"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        from_csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv", dtype=str, keep_default_na=False)
        from_parquet = pq.read_table(tmp_path / "parquet" / f"{name}.parquet").to_pandas()
        as_text = pd.DataFrame({
            column: [escape_cell(value if isinstance(value, str) else "" if pd.isna(value)
                                 else value.isoformat() if isinstance(value, dt.date) else str(value))
                     for value in from_parquet[column].astype(object)]
            for column in from_parquet.columns})
        assert len(from_csv) > 0
        pd.testing.assert_frame_equal(from_csv, as_text, check_dtype=False)
    cases = pq.read_table(tmp_path / "parquet" / "cases.parquet")
    assert str(cases.schema.field("referral_date").type) == "date32[day]"
    services = pd.read_csv(tmp_path / "csv" / "cases.csv", dtype=str)["service"]
    assert services.str.startswith("'=").any() and not services.str.startswith("=").any()
