"""The joined council context table, need x deprivation, the poverty view and the `context` CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from ward_support import lsoa11_wards

from ehmap.cli import main
from ehmap.config import pseudonymisation_key
from ehmap.context import (
    BIVARIATE_PALETTE,
    bivariate,
    council_context,
    poverty_view,
    tertiles,
)
from ehmap.demo import load_demo
from ehmap.geography import council_lsoas
from ehmap.indicators import child_population
from ehmap.needmap import CaseFilter, need_map_table
from ehmap.taxonomy import NEED_BITS

CROYDON, BUCKS = "E09000008", "E06000060"


@pytest.fixture(scope="module")
def croydon(data_dir):
    return council_context(CROYDON, ["iod2019", "iod2025"])


@pytest.fixture(scope="module")
def demo(directory, council_names):
    return load_demo(directory, council_names, pseudonymisation_key())


@pytest.fixture(scope="module")
def croydon_lsoas():
    return pd.DataFrame(council_lsoas(CROYDON).drop(columns="geometry"))


@pytest.mark.parametrize("la_code, lsoas", [(CROYDON, 220), pytest.param(BUCKS, 319, marks=pytest.mark.national)])
def test_every_lsoa_has_imd_2019_and_2025_and_a_child_population(data_dir, la_code, lsoas):
    table = council_context(la_code, ["iod2019", "iod2025"])
    areas = table.areas
    assert len(areas) == lsoas and areas["lsoa11cd"].is_unique
    for column in [
        "iod2019_imd_score",
        "iod2019_imd_rank",
        "iod2019_imd_decile",
        "iod2025_imd_score",
        "iod2025_imd_decile",
        "children",
    ]:
        assert areas[column].notna().all(), column
    assert (areas["children"] > 0).all()
    assert table.columns["iod2019_imd_rank"].polarity == "rank_1_most_deprived"
    assert any("ONS exact-fit lookup" in note for note in table.notes)


@pytest.mark.national
def test_buckinghamshire_joins_on_lsoa_codes_not_2019_lad_codes(data_dir):
    # Buckinghamshire (E06000060) was formed in 2020 from four districts whose 2019 LAD codes IoD2019 carries
    areas = council_context(BUCKS, ["iod2019"]).areas
    iod = pd.read_csv(data_dir / "iod2019_lsoa11_file7_columns.csv", usecols=[0, 2]).set_index("LSOA code (2011)")
    lad2019 = set(iod.loc[areas["lsoa11cd"], "Local Authority District code (2019)"])
    assert lad2019 == {"E07000004", "E07000005", "E07000006", "E07000007"}
    assert "E06000060" not in set(iod["Local Authority District code (2019)"])


def test_croydon_child_population_matches_the_population_file(croydon, data_dir):
    population = child_population().set_index("lsoa11cd")
    assert croydon.areas["children"].sum() == population.loc[croydon.areas["lsoa11cd"], "children"].sum()


def test_tertiles_are_the_councils_own():
    classes, (low, high) = tertiles(pd.Series([1.0, 2, 3, 4, 5, 6, np.nan]))
    assert classes.tolist() == [1, 1, 2, 2, 3, 3, pd.NA]
    assert (low, high) == pytest.approx((2.6666667, 4.3333333))


def test_bivariate_on_the_demo(croydon, demo, croydon_lsoas, data_dir):
    table = need_map_table(demo.cases, croydon_lsoas, CaseFilter(), child_population())
    view = bivariate(table.areas, croydon, "iod2019_imd_score")
    areas = view.areas
    assert len(areas) == 220
    assert areas["rate"].notna().all()  # the team sees every LSOA's exact rate
    assert set(areas["colour"]) <= set(BIVARIATE_PALETTE.values())
    # each class holds about a third of the LSOAs
    counts = areas["need_class"].value_counts()
    assert counts.min() >= 220 // 3 - 2
    high_low, low_high = view.high_need_low_deprivation, view.low_need_high_deprivation
    assert (high_low["rate"] > view.rate_breaks[1]).all() and (low_high["rate"] <= view.rate_breaks[0]).all()
    high_low_codes = set(high_low["lsoa11cd"])
    assert high_low_codes == set(areas.loc[(areas.need_class == 3) & (areas.deprivation_class == 1), "lsoa11cd"])
    assert len(view.legend) == 9  # nothing hidden: no grey entry


def test_bivariate_with_a_rank_turns_it_so_rank_1_is_most_deprived(croydon, demo, croydon_lsoas, data_dir):
    table = need_map_table(demo.cases, croydon_lsoas, CaseFilter(), child_population())
    view = bivariate(table.areas, croydon, "iod2019_idaci_rank")
    most = view.areas.loc[view.areas["deprivation"].idxmin()]  # rank nearest 1
    assert most["deprivation_class"] == 3


def test_bivariate_refuses_an_unknown_column(croydon, demo, croydon_lsoas):
    table = need_map_table(demo.cases, croydon_lsoas, CaseFilter(), None)
    with pytest.raises(ValueError, match="The need table has no rates: load the child population"):
        bivariate(table.areas, croydon, "iod2019_imd_score")
    with pytest.raises(ValueError, match=r"Unknown deprivation column 'imd'; loaded columns are \["):
        bivariate(table.areas, croydon, "imd")


def test_poverty_view_on_the_demo(croydon, demo, croydon_lsoas, data_dir):
    view = poverty_view(demo.cases, croydon_lsoas, croydon, "iod2019_idaci_decile", child_population())
    cases = demo.cases
    poverty = (cases["needs_mask"] & (NEED_BITS["financial_stability"] | NEED_BITS["housing"])) != 0
    assert view.council_total == int(poverty.sum())
    decile = croydon.areas.set_index("lsoa11cd")["iod2019_idaci_decile"]
    by_decile = view.by_decile.set_index("decile")
    expected = cases.loc[poverty, "lsoa11cd"].astype(str).map(decile).value_counts()
    everyone = cases["lsoa11cd"].astype(str).map(decile).value_counts()
    for d, row in by_decile.iterrows():
        assert row["episodes"] == expected.get(d, 0)
        assert row["all_episodes"] == everyone.get(d, 0)
        assert row["small"] == (1 <= row["episodes"] <= 5)
    shares = view.shares.set_index("group")
    all_row = shares.loc["All Early Help families"]
    family = cases["family_id"].astype("string").fillna(cases["case_id"].astype("string"))
    assert all_row["families"] == family.nunique()
    # the demo's pattern follows IDACI, so poverty-need families are over-represented in the most deprived fifth
    assert shares.index[0] == "Families with financial stability or secure housing"
    poverty_row = shares.iloc[0]
    assert poverty_row["share_percent"] > all_row["share_percent"] > 0
    share = 100 * poverty_row["in_most_deprived_fifth"] / poverty_row["families"]
    assert poverty_row["share_percent"] == round(share, 1)


def test_poverty_view_of_a_few_episodes_shows_them_exactly(croydon, demo, croydon_lsoas, data_dir):
    five = demo.cases[(demo.cases["needs_mask"] & NEED_BITS["housing"]) != 0].head(5)
    view = poverty_view(five, croydon_lsoas, croydon, "iod2019_idaci_decile", None, ("housing",))
    assert view.council_total == 5
    assert view.by_decile["episodes"].sum() == 5
    assert view.by_decile.loc[view.by_decile["episodes"] > 0, "small"].all()


def test_poverty_view_needs_a_decile_column(croydon, demo, croydon_lsoas):
    with pytest.raises(
        ValueError,
        match=r"'iod2019_idaci_score' is not a loaded decile column; loaded deciles are \['iod2019_imd_decile'",
    ):
        poverty_view(demo.cases, croydon_lsoas, croydon, "iod2019_idaci_score", None)
    with pytest.raises(ValueError, match=r"Unknown need\(s\) \['poverty'\]"):
        poverty_view(demo.cases, croydon_lsoas, croydon, "iod2019_idaci_decile", None, ("poverty",))


@pytest.mark.national
def test_cli_writes_the_joined_table(tmp_path, data_dir, capsys):
    out = tmp_path / "bucks.csv"
    assert main(["context", "--la", BUCKS, "--indicator", "iod2019", "--indicator", "iod2025", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 319
    assert table.columns[:5].tolist() == ["lsoa11cd", "lsoa11nm", "ward_code", "ward_name", "iod2019_imd_score"]
    wards = lsoa11_wards(data_dir, BUCKS).set_index("LSOA11CD")  # the ONS lookups chained by hand
    assert table.set_index("lsoa11cd")["ward_code"].to_dict() == wards["WD24CD"].to_dict()
    assert table.set_index("lsoa11cd")["ward_name"].to_dict() == wards["WD24NM"].to_dict()
    assert table[["iod2019_imd_score", "iod2025_imd_score", "children_0_17", "all_ages"]].notna().all().all()
    assert "319 LSOAs of E06000060" in capsys.readouterr().out


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ehmap",
            "context",
            "--la",
            CROYDON,
            "--indicator",
            "imd",
            "--out",
            str(tmp_path / "x.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: Unknown indicator 'imd'; known indicators are ['iod2019', 'iod2025'")


def test_cli_with_the_file_absent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EHMAP_DATA_DIR", str(tmp_path))  # the cache keeps the boundaries; no IoD file anywhere
    assert main(["context", "--la", CROYDON, "--indicator", "iod2019", "--out", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()
    err = capsys.readouterr().err
    assert err.startswith(
        "error: English Indices of Deprivation 2019 is not loaded: iod2019_lsoa11_file7_columns.csv is neither in "
        "the data folder (EHMAP_DATA_DIR) nor added yet; an admin can add it on the Data sources page (published by "
        "Ministry of Housing, Communities and Local Government at https://"
    )
    assert str(tmp_path) not in err  # no server path in a message


def test_decile_choropleth_uses_the_publishers_bands():
    from ehmap.context import DECILE_PALETTE, indicator_choropleth

    choropleth = indicator_choropleth(pd.Series([1, 10, 5, np.nan]), "decile_1_most_deprived")
    assert choropleth.colours.tolist() == [DECILE_PALETTE[0], DECILE_PALETTE[9], DECILE_PALETTE[4], "#ffffff"]
    labels = [entry.label for entry in choropleth.legend]
    assert labels[0] == "decile 1 (most deprived 10% in England)" and labels[9] == "decile 10 (least deprived 10%)"
    assert labels[-1] == "no value"


def test_rank_choropleth_draws_rank_1_darkest():
    from ehmap.context import CLASS_PALETTE, indicator_choropleth

    choropleth = indicator_choropleth(pd.Series(range(1, 101), dtype=float), "rank_1_most_deprived")
    assert choropleth.colours.iloc[0] == CLASS_PALETTE[0] and choropleth.colours.iloc[99] == CLASS_PALETTE[-1]
    assert choropleth.legend[0].label == "rank 1 to 21 (most deprived)"
