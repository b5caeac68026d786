"""`--release` on the command line: the team's columns, protected cells as GSS symbols, the method beside the file,
an audit entry, and a one-line refusal (with what to use instead) when a release cannot be made safely."""

from __future__ import annotations

import pandas as pd
import pytest

from ehmap.audit import entries
from ehmap.cli import main
from ehmap.demo import DEMO_FILE
from ehmap.hotspots import CSV_COLUMNS

CROYDON = "E09000008"
SERVICES = str(DEMO_FILE.parent / "croydon_services.csv")


def released_count(text: str) -> bool:
    """What a release may show for a count: c, 0, or a multiple of 5 from 10 up."""
    return text == "c" or text == "0" or (text.isdigit() and int(text) % 5 == 0 and int(text) >= 10)


def test_released_hot_spots_keep_the_team_columns_and_publish_labels_only(tmp_path, capsys, directory):
    out = tmp_path / "hot.csv"
    assert main(["hotspots", str(DEMO_FILE), "--la", CROYDON, "--need", "domestic_abuse", "--release",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(table.columns) == list(CSV_COLUMNS)
    assert len(table) == 28  # the release shows domestic abuse by ward on the demo
    assert table["count"].map(released_count).all() and (table["count"] == "c").any()
    for column in ("smoothed_rate", "statistic", "z", "p", "p_fdr"):
        assert set(table[column]) == {"x"}, column
    assert (table.loc[table["count"] == "c", "rate"] == "x").all()
    method = (tmp_path / "hot.csv.release.txt").read_text()
    assert method.startswith("How these figures were protected:") and "linear programming" in method
    assert method.strip() in printed and "period 2024-25" in printed
    entry = entries()[-1]
    assert (entry["event"], entry["detail"]["command"], entry["detail"]["need"]) == ("release", "hotspots",
                                                                                      "domestic_abuse")
    assert set(entry["detail"]) == {"command", "output", "council", "need", "period", "geography", "source"}


def test_team_output_is_exact_and_says_so(tmp_path, capsys, directory):
    out = tmp_path / "team.csv"
    assert main(["hotspots", str(DEMO_FILE), "--la", CROYDON, "--need", "domestic_abuse", "--out", str(out)]) == 0
    assert "not for sharing; add --release" in capsys.readouterr().out
    table = pd.read_csv(out)
    assert len(table) == 229 and table["count"].between(1, 5).any() and table["z"].notna().all()  # LSOAs 2021
    assert not (tmp_path / "team.csv.release.txt").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--need", "domestic_abuse", "--geography", "lsoa11"],
     "so it cannot be released by LSOA (2011); use --geography ward."),
    (["--period", "2021-22"], "'2021-22' is not a period this release can show; choose one of ['2022-23', "
                              "'2023-24', '2024-25', 'all']"),
])
def test_a_release_that_cannot_be_made_is_refused_in_one_line(tmp_path, capsys, directory, arguments, message):
    out = tmp_path / "refused.csv"
    assert main(["hotspots", str(DEMO_FILE), "--la", CROYDON, *arguments, "--release", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1
    assert not out.exists()


def test_released_coverage_shows_flags_and_public_facts_never_expected_counts(tmp_path, capsys, directory):
    out = tmp_path / "coverage.csv"
    assert main(["coverage", str(DEMO_FILE), "--services", SERVICES, "--la", CROYDON, "--need", "domestic_abuse",
                 "--release", "--period", "all", "--out", str(out)]) == 0
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(table) == 220
    for column in ("expected", "ratio", "ratio_lower", "ratio_upper", "gap", "small"):
        assert set(table[column]) == {"x"}, column
    assert set(table["observed"]) == {"x"}  # domestic abuse is released by ward, not by LSOA
    assert set(table["flag"]) <= {"True", "False"} and table["children"].str.isdigit().all()
    assert "never expected counts or ratios" in (tmp_path / "coverage.csv.release.txt").read_text()
    assert "Released: 220 LSOAs, period 2022-23 to 2024-25 (all years)" in capsys.readouterr().out


def test_released_performance_and_business_case(tmp_path, capsys, directory):
    out = tmp_path / "performance.csv"
    assert main(["performance", str(DEMO_FILE), "--la", CROYDON, "--release", "--period", "2023-24",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert table.iloc[-1, 0] == "All" and len(table) == 10  # nine services, then the council
    for column in ("episodes", "open", "closed", "needs_met", "step_up", "declined_consent", "disengaged"):
        assert table[column].map(released_count).all(), column
    assert set(table["median_days"]) == {"x"} and set(table["needs_met_lower"]) == {"x"}
    assert (tmp_path / "performance.csv.release.txt").exists()
    assert main(["performance", str(DEMO_FILE), "--la", CROYDON, "--release", "--by", "locality",
                 "--out", str(out)]) == 2
    assert "Comparing localities is for the team only" in capsys.readouterr().err

    money = tmp_path / "case.csv"
    assert main(["business-case", str(DEMO_FILE), "--la", CROYDON, "--release", "--period", "all",
                 "--out", str(money)]) == 0
    lines = pd.read_csv(money)
    assert (lines["cost_central"].dropna() % 1000 == 0).all()  # to the nearest £1,000
    assert lines["base_count"].astype(str).map(released_count).all()
    assert "rounded to the nearest 5" in (tmp_path / "case.csv.release.txt").read_text()
