"""Ranked areas with exact 95% intervals (ehmap.ranking, ehmap.views.need_map) and map classes that do not mislead
(ehmap.maps.classify), on the demo ingested as the app does, real Croydon LSOAs, wards and child population.

Expectations are worked out independently: ward counts by joining the cases to the ONS lookup file with plain pandas,
children from the population file itself, intervals from scipy.stats (chi-squared quantiles and a root-finder on
the Poisson distribution), never from the code under test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import chi2, poisson
from ward_support import lsoa11_wards

from ehmap.maps import PALETTE, SUPPRESSED_COLOUR, ZERO_COLOUR, ZERO_LABEL, classify
from ehmap.ranking import (
    ABOVE,
    BELOW,
    HIDDEN,
    IMPLAUSIBLE_FLAG,
    WITHIN,
    period_years,
    rank_areas,
)
from ehmap.taxonomy import NEED_BITS
from ehmap.views.need_map import (
    RATE,
    SMOOTHED,
    need_map_reading,
    ranking_kinds,
    released_need_map,
    released_need_ranking,
    team_need_map,
    team_need_ranking,
)
from tests.conftest import CROYDON

DA = "domestic_abuse"


@pytest.fixture(scope="module")
def demo(directory, council_names, data_dir):
    """The demo as the app ingests it, Croydon's LSOAs and wards, the child population and the release."""
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.indicators import child_population
    from ehmap.release.gate import ReleaseInputs, build_release

    result = load_demo(directory, council_names, pseudonymisation_key())
    areas = {"lsoa11": area_set("lsoa11", CROYDON), "ward": area_set("ward", CROYDON)}
    release = build_release(ReleaseInputs(result.cases, CROYDON, areas))
    return result.cases, areas, child_population(), release


@pytest.fixture(scope="module")
def lookup(data_dir) -> pd.DataFrame:
    """Croydon's LSOAs 2011 with their wards (May 2024), chained by hand from the ONS lookups, with children from
    the population file: LSOA11CD, LSOA11NM, WD24CD, WD24NM, children."""
    wards = lsoa11_wards(data_dir)
    people = pd.read_csv(data_dir / "population_mid2020_lsoa11_children_0_17.csv", usecols=["LSOA11CD", "age_0_17"])
    return wards.merge(people.rename(columns={"age_0_17": "children"}), on="LSOA11CD", how="left")


def exact_interval(k: int) -> tuple[float, float]:
    """The exact Poisson 95% interval for a count, by root-finding on the Poisson distribution itself."""
    lower = 0.0 if k == 0 else brentq(lambda mu: poisson.sf(k - 1, mu) - 0.025, 1e-9, 10 * k + 10)
    upper = brentq(lambda mu: poisson.cdf(k, mu) - 0.025, 1e-9, 10 * k + 20)
    return lower, upper


def by_ward_by_hand(cases: pd.DataFrame, lookup: pd.DataFrame, need: str, start: dt.date,
                    end: dt.date) -> pd.DataFrame:
    """Episodes and children per ward with plain pandas: cases joined to the lookup on their LSOA."""
    chosen = cases[((cases["needs_mask"].to_numpy() & NEED_BITS[need]) != 0)
                   & cases["referral_date"].between(pd.Timestamp(start), pd.Timestamp(end)).to_numpy()]
    joined = pd.DataFrame({"LSOA11CD": chosen["lsoa11cd"].astype(str)}).merge(lookup, on="LSOA11CD")
    counts = joined.groupby("WD24CD").size()
    wards = lookup.groupby("WD24CD").agg(name=("WD24NM", "first"), children=("children", "sum"))
    wards["count"] = counts.reindex(wards.index, fill_value=0)
    return wards


FIRST, LAST = dt.date(2022, 4, 1), dt.date(2025, 3, 31)


def test_team_ward_ranking_matches_counts_and_intervals_worked_out_independently(demo, lookup):
    cases, areas, population, _ = demo
    view = team_need_ranking(cases, areas["ward"], DA, FIRST, LAST, None, population)
    ranking = view.ranking
    hand = by_ward_by_hand(cases, lookup, DA, FIRST, LAST)
    table = ranking.table.set_index("code")
    assert sorted(table.index) == sorted(hand.index) and len(table) == 28
    assert table["count"].astype(int).to_dict() == hand["count"].to_dict()
    assert table["children"].astype(int).to_dict() == hand["children"].to_dict()
    assert table["name"].to_dict() == hand["name"].to_dict()
    council = hand["count"].sum() / hand["children"].sum() * 1000
    assert ranking.council_rate == pytest.approx(council)
    for code, row in hand.iterrows():
        low, high = exact_interval(int(row["count"]))
        per = 1000 / row["children"]
        assert table.loc[code, "rate"] == pytest.approx(row["count"] * per)
        assert table.loc[code, "rate_lower"] == pytest.approx(low * per, rel=1e-6, abs=1e-9)
        assert table.loc[code, "rate_upper"] == pytest.approx(high * per, rel=1e-6)
        # the textbook chi-squared form of the same interval
        assert table.loc[code, "rate_upper"] == pytest.approx(chi2.ppf(0.975, 2 * row["count"] + 2) / 2 * per)
        expected = ABOVE if low * per > council else BELOW if high * per < council else WITHIN
        assert table.loc[code, "position"] == expected
    # ranked by rate, highest first, rank 1..28
    assert list(ranking.table["rate"]) == sorted(ranking.table["rate"], reverse=True)
    assert list(ranking.table["rank"].astype(int)) == sorted(ranking.table["rank"].astype(int))
    assert ranking.table["rank"].iloc[0] == 1


def test_team_lsoa_ranking_names_each_lsoa_and_its_ward(demo, lookup):
    cases, areas, population, _ = demo
    wards = areas["ward"].area_names()
    view = team_need_ranking(cases, areas["lsoa11"], DA, FIRST, LAST, None, population, wards)
    shown = view.shown_table()
    assert list(shown.columns[:4]) == ["Rank", "LSOA name", "LSOA code", "Ward"]
    by_hand = lookup.set_index("LSOA11CD")
    assert len(shown) == 220
    assert shown.set_index("LSOA code")["Ward"].to_dict() == by_hand["WD24NM"].to_dict()
    assert shown.set_index("LSOA code")["LSOA name"].to_dict() == by_hand["LSOA11NM"].to_dict()
    small = shown["Episodes"].astype(int).between(1, 5)
    assert small.any() and shown.loc[small, "Note"].str.contains("fewer than 6").all()
    assert {"Rate per 1,000", "95% CI lower", "95% CI upper", "Against the council rate"} <= set(shown.columns)
    few = int((shown["Episodes"] < 6).sum())
    said = f"{few} of 220 LSOAs have fewer than 6 episodes: their intervals are wide"
    assert any(said in note for note in view.notes) == (few > 110)
    rare = team_need_ranking(cases, areas["lsoa11"], "substance_use", dt.date(2024, 4, 1), dt.date(2024, 6, 30), None,
                             population, wards)
    few = int((rare.ranking.table["count"] < 6).sum())
    assert few > 110 and f"{few} of 220 LSOAs have fewer than 6 episodes: their intervals are wide, so few can stand " \
        "out; ranking wards pools them." in rare.notes


def test_released_ranking_uses_only_released_counts_and_lists_hidden_ones_as_hidden(demo, lookup):
    cases, areas, population, release = demo
    period = release.calendar.years[-1]
    assert ranking_kinds(release_audience(), release, DA) == {release.geography[DA]: "Wards"}
    view = released_need_ranking(release, DA, period.key, population)
    table = view.ranking.table.set_index("code")
    hand = by_ward_by_hand(cases, lookup, DA, period.start, period.end)
    for code, row in table.iterrows():
        key = ("episodes", DA, "ward", code, period.key)
        released = release.value(key)
        assert row["episodes"] == release.text(key)
        if np.isnan(released):  # hidden: listed, never estimated or ranked
            assert row["episodes"] == "c" and row["position"] == HIDDEN
            assert np.isnan(row["rate"]) and np.isnan(row["rate_lower"]) and pd.isna(row["rank"])
            continue
        assert released % 5 == 0 and row["count"] == released
        per = 1000 / hand.loc[code, "children"]
        low, high = exact_interval(int(released))  # intervals from the rounded count
        assert row["rate_lower"] == pytest.approx(low * per, rel=1e-6, abs=1e-9)
        assert row["rate_upper"] == pytest.approx(high * per, rel=1e-6)
    hidden = table["position"] == HIDDEN
    assert hidden.any(), "the demo's domestic abuse wards in one year should include hidden counts"
    assert table.loc[~hidden, "rank"].notna().all()
    assert list(view.ranking.table["position"].iloc[-int(hidden.sum()):]) == [HIDDEN] * int(hidden.sum())
    council = release.value(("episodes", DA, "council", "", period.key))
    assert view.ranking.council_rate == pytest.approx(council / hand["children"].sum() * 1000)
    assert any("counts rounded to 5" in note and "never estimated" in note for note in view.notes)
    shown = view.shown_table()
    assert "Ward" not in shown.columns and "Ward name" in shown.columns  # wards name themselves
    assert not [v for v in shown["Episodes"] if v != "c" and (int(v) % 5 or 1 <= int(v) <= 7)]


def release_audience():
    from ehmap.audience import Audience

    return Audience.RELEASE


@pytest.fixture(scope="module")
def planted(demo, lookup):
    """The demo plus 300 domestic abuse episodes in one real LSOA in 2024-25: a rate no council could have."""
    cases, areas, population, _ = demo
    lsoa = lookup.sort_values("LSOA11CD").iloc[10]
    extra = cases.iloc[[0] * 300].copy()
    extra["lsoa11cd"] = pd.Categorical([lsoa["LSOA11CD"]] * 300, categories=cases["lsoa11cd"].cat.categories)
    extra["referral_date"] = pd.Timestamp("2024-06-01")
    extra["needs_mask"] = np.uint16(NEED_BITS[DA])
    return pd.concat([cases, extra], ignore_index=True), lsoa


def test_implausible_rates_are_flagged_in_the_table_note_and_the_reading(demo, planted):
    _, areas, population, _ = demo
    cases, lsoa = planted
    start, end = dt.date(2024, 4, 1), dt.date(2025, 3, 31)
    wards = areas["ward"].area_names()
    view = team_need_map(cases, areas["lsoa11"], DA, start, end, None, RATE, population, wards)
    table = view.table.set_index("code")
    years = ((end - start).days + 1) / 365.25
    by_hand = table["episodes"] / table["children"] * 1000 / years > 100  # the stated rule, worked by hand
    assert by_hand[lsoa["LSOA11CD"]] and table["implausible"].to_dict() == by_hand.to_dict()
    assert IMPLAUSIBLE_FLAG in table.loc[lsoa["LSOA11CD"], "care"]
    assert not table.loc[~by_hand, "care"].str.contains(IMPLAUSIBLE_FLAG).any()
    ranked = team_need_ranking(cases, areas["ward"], DA, start, end, None, population)
    reading = need_map_reading(view, ranked)
    assert f"by ward: Check first: {lsoa['LSOA11NM']} ({lsoa['WD24NM']} ward)" in reading  # said before anything else
    assert "above 100 per 1,000 children a year, likely a data problem" in reading
    assert any("above 100 episodes per 1,000 children a year" in note for note in view.notes)  # the rule is stated


def test_period_years_counts_both_ends():
    assert period_years(dt.date(2024, 4, 1), dt.date(2025, 3, 31)) == pytest.approx(365 / 365.25)
    with pytest.raises(ValueError, match="A period must end on or after its start; got 2024-04-02 to 2024-04-01."):
        period_years(dt.date(2024, 4, 2), dt.date(2024, 4, 1))


def test_rank_areas_by_hand():
    """Three areas worked by hand: council 30/3000 = 10 per 1,000; A 20/1000 = 20, B 10/1000 = 10, C hidden."""
    codes = pd.Index(["A", "B", "C", "D"])
    ranking = rank_areas("custom", codes, pd.Series(["a", "b", "c", "d"], index=codes),
                         pd.Series([20, 10, np.nan, 0], index=codes), pd.Series([1000, 1000, 500, 1000], index=codes),
                         years=1.0)
    table = ranking.table.set_index("code")
    assert ranking.council_rate == pytest.approx(30 / 3000 * 1000)
    assert list(ranking.table["code"]) == ["A", "B", "D", "C"]
    assert table.loc["A", "rank"] == 1 and table.loc["D", "rank"] == 3 and pd.isna(table.loc["C", "rank"])
    # A: 20 events, exact lower limit 12.217 -> 12.2 per 1,000 > 10: clearly above; D: 0, upper 3.689 < 10: below
    assert table.loc["A", "rate_lower"] == pytest.approx(12.217, abs=1e-3) and table.loc["A", "position"] == ABOVE
    assert table.loc["B", "position"] == WITHIN
    assert table.loc["D", "rate_upper"] == pytest.approx(3.689, abs=1e-3) and table.loc["D", "position"] == BELOW
    assert table.loc["C", "position"] == HIDDEN and table.loc["C", "episodes"] == "c"
    with pytest.raises(ValueError, match="years must be positive; got 0"):
        rank_areas("custom", codes, pd.Series("x", index=codes), pd.Series(1, index=codes),
                   pd.Series(1, index=codes), years=0)


# ------------------------------------------------------------------------------------ map classes


def check_classes(choropleth, values: pd.Series, shown: pd.Series, decimals: int) -> None:
    """Zero counts alone in their class; one colour per value as shown; legend rows = the values in each class."""
    colours = choropleth.colours.to_numpy()
    zero = (shown == "0").to_numpy()
    hidden = (shown == "c").to_numpy()
    assert (colours[zero] == ZERO_COLOUR).all() and not (colours[~zero] == ZERO_COLOUR).any()
    assert (colours[hidden] == SUPPRESSED_COLOUR).all()
    real = ~zero & ~hidden & values.notna().to_numpy()
    rounded = values.round(decimals).to_numpy()
    frame = pd.DataFrame({"value": rounded[real], "colour": colours[real]})
    assert (frame.groupby("value")["colour"].nunique() == 1).all()  # the same shown value, the same colour
    legend = {entry.colour: entry.label for entry in choropleth.legend}
    if (zero).any():
        assert legend[ZERO_COLOUR] == ZERO_LABEL and choropleth.legend[0].colour == ZERO_COLOUR
    previous = -np.inf
    for colour in [c for c in PALETTE if c in set(frame["colour"])]:  # palette order = low to high
        members = frame.loc[frame["colour"] == colour, "value"]
        low, high = f"{members.min():,.{decimals}f}", f"{members.max():,.{decimals}f}"
        assert legend[colour] == (low if low == high else f"{low} to {high}")
        assert members.min() > previous  # classes never overlap
        previous = members.max()


def test_classes_on_the_team_need_map_keep_zero_counts_apart_even_when_smoothed(demo):
    cases, areas, population, _ = demo
    view = team_need_map(cases, areas["lsoa11"], DA, dt.date(2024, 4, 1), dt.date(2025, 3, 31), None, SMOOTHED,
                         population)
    shown = view.table["episodes"].astype(str)
    assert (shown == "0").any() and (view.table.loc[shown == "0", "value"] > 0).all()  # smoothed: not zero
    check_classes(classify(view.table["value"], shown, decimals=1), view.table["value"], shown, 1)
    ordered = view.shown_table()["Smoothed rate per 1,000"]
    assert list(ordered) == sorted(ordered, reverse=True)  # the table is sorted by the mapped measure


def test_classes_on_the_released_need_map_leave_hidden_counts_grey(demo):
    _, _, population, release = demo
    view = released_need_map(release, DA, release.calendar.years[-1].key, RATE, population)
    shown = view.table["episodes"].astype(str)
    assert (shown == "c").any()
    check_classes(classify(view.table["value"], shown, decimals=1), view.table["value"], shown, 1)
    rates = view.shown_table()["Rate per 1,000 (from the rounded count)"]
    known = rates.dropna()
    assert list(known) == sorted(known, reverse=True) and rates.iloc[len(known):].isna().all()  # hidden last


def test_classes_use_the_values_as_shown():
    """0.96 and 1.04 both show as 1.0, so they share a class; a zero count never joins a class."""
    values = pd.Series([0.0, 0.96, 1.04, 2.0, 3.0, 4.0, 5.0, 0.3, np.nan])
    shown = pd.Series(["0", "3", "4", "6", "8", "9", "12", "2", "c"])
    choropleth = classify(values, shown, decimals=0)
    assert choropleth.colours[1] == choropleth.colours[2]
    assert choropleth.colours[0] == ZERO_COLOUR and choropleth.colours[8] == SUPPRESSED_COLOUR
    check_classes(choropleth, values, shown, 0)
