"""The plain-English readings of the need map and hot spots pages (ehmap.views.need_map.need_map_reading,
ehmap.views.hotspots.hotspots_reading), on real Croydon LSOAs, wards and child population: the demo as ingested,
episodes planted in one real ward, and episodes drawn in proportion to children (nothing to find).

What each reading must say is worked out independently: ward membership and names from the ONS lookup file read
with pandas, rates and exact intervals from scipy.stats.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from ward_support import lsoa11_wards

from ehmap.taxonomy import NEED_BITS
from ehmap.views.hotspots import released_hotspots, team_hotspots
from ehmap.views.need_map import (
    RATE,
    need_map_reading,
    released_need_map,
    released_need_ranking,
    team_need_map,
    team_need_ranking,
)
from tests.conftest import CROYDON

DA = "domestic_abuse"
YEAR = (dt.date(2024, 4, 1), dt.date(2025, 3, 31))


@pytest.fixture(scope="module")
def croydon(directory, council_names, data_dir):
    """The demo as the app ingests it, its release, Croydon's areas, the child population and the ONS lookup."""
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.indicators import child_population
    from ehmap.release.gate import ReleaseInputs, build_release

    demo = load_demo(directory, council_names, pseudonymisation_key()).cases
    areas = {"lsoa11": area_set("lsoa11", CROYDON), "ward": area_set("ward", CROYDON)}
    lookup = lsoa11_wards(data_dir).set_index("LSOA11CD")
    people = pd.read_csv(data_dir / "population_mid2020_lsoa11_children_0_17.csv", index_col="LSOA11CD")
    lookup["children"] = people["age_0_17"].reindex(lookup.index)
    release = build_release(ReleaseInputs(demo, CROYDON, areas))
    return demo, release, areas, child_population(), lookup


def episodes(counts: pd.Series, need: str = DA, day: str = "2024-06-01") -> pd.DataFrame:
    """Episodes shaped as ingest returns them: `counts[lsoa]` episodes of one need in each LSOA on one day."""
    codes = np.repeat(counts.index.to_numpy(), counts.to_numpy())
    return pd.DataFrame({
        "lsoa11cd": pd.Categorical(codes),
        "referral_date": pd.to_datetime([day] * len(codes)).astype("datetime64[s]"),
        "needs_mask": np.full(len(codes), NEED_BITS[need], dtype=np.uint16),
        "service": pd.Categorical(["Family Support"] * len(codes)),
    })


def null_counts(lookup: pd.DataFrame, per_child: float = 0.012) -> pd.Series:
    """Episodes at one rate for every child (12 per 1,000, rounded to whole episodes): no area differs but by
    rounding."""
    return (lookup["children"] * per_child).round().astype(int)


def wards_by_hand(counts: pd.Series, lookup: pd.DataFrame) -> pd.DataFrame:
    """Per ward: name, episodes, children, rate and its exact 95% interval (scipy's chi-squared quantiles)."""
    wards = lookup.assign(count=counts.reindex(lookup.index)).groupby("WD24CD").agg(
        name=("WD24NM", "first"), count=("count", "sum"), children=("children", "sum"))
    per = 1000 / wards["children"]
    wards["rate"] = wards["count"] * per
    wards["lower"] = np.where(wards["count"] > 0, chi2.ppf(0.025, 2 * wards["count"]) / 2, 0.0) * per
    wards["upper"] = chi2.ppf(0.975, 2 * wards["count"] + 2) / 2 * per
    return wards.sort_values(["rate", "count"], ascending=False)


def listed(names: list[str], limit: int) -> str:
    names = [*names[:limit], f"{len(names) - limit} more"] if len(names) > limit else names
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def test_need_map_reading_names_the_wards_clearly_above_the_council_rate(croydon):
    demo, _, areas, population, lookup = croydon
    chosen = demo[((demo["needs_mask"].to_numpy() & NEED_BITS[DA]) != 0)]
    counts = chosen["lsoa11cd"].astype(str).value_counts().reindex(lookup.index, fill_value=0)
    wards = wards_by_hand(counts, lookup)
    council = wards["count"].sum() / wards["children"].sum() * 1000
    above = wards[wards["lower"] > council]
    below = wards[wards["upper"] < council]
    first, last = demo["referral_date"].min().date(), demo["referral_date"].max().date()
    view = team_need_map(demo, areas["lsoa11"], DA, first, last, None, RATE, population)
    reading = need_map_reading(view, team_need_ranking(demo, areas["ward"], DA, first, last, None, population))
    assert reading.startswith(f"Safe from domestic abuse, referrals {first:%d/%m/%Y} to {last:%d/%m/%Y}, by ward: ")
    assert not above.empty, "the demo's domestic abuse should stand out somewhere over three years"
    verb = "has a rate" if len(above) == 1 else "have rates"
    assert f"{listed(list(above['name']), 4)} {verb} clearly above the council rate of {council:,.1f} per 1,000 " \
           "children (the whole 95% interval lies above it)" in reading
    if len(below):
        assert f"; {len(below)} {'ward is' if len(below) == 1 else 'wards are'} clearly below it;" in reading
    assert f"the other {28 - len(above) - len(below)} of 28 wards could differ from the council by chance" in reading
    assert reading.endswith("Next: rank LSOAs to see where within these wards, and look at the Hot spots page.")


def test_need_map_reading_names_lsoas_with_their_wards(croydon):
    demo, _, areas, population, lookup = croydon
    first, last = demo["referral_date"].min().date(), demo["referral_date"].max().date()
    wards = areas["ward"].area_names()
    view = team_need_map(demo, areas["lsoa11"], DA, first, last, None, RATE, population, wards)
    ranked = team_need_ranking(demo, areas["lsoa11"], DA, first, last, None, population, wards)
    reading = need_map_reading(view, ranked)
    top = ranked.ranking.where("clearly above the council rate").head(4)
    assert len(top)
    for code in top["code"]:
        assert f"{lookup.loc[code, 'LSOA11NM']} ({lookup.loc[code, 'WD24NM']} ward)" in reading
    assert "With 220 LSOAs compared, up to about 11 could fall outside by chance alone" in reading


def test_need_map_reading_when_nothing_stands_out_says_so_and_what_to_try(croydon):
    _, _, areas, population, lookup = croydon
    counts = null_counts(lookup)
    wards = wards_by_hand(counts, lookup)
    council = wards["count"].sum() / wards["children"].sum() * 1000
    assert ((wards["lower"] <= council) & (wards["upper"] >= council)).all()  # checked independently first
    cases = episodes(counts)
    view = team_need_map(cases, areas["lsoa11"], DA, *YEAR, None, RATE, population)
    reading = need_map_reading(view, team_need_ranking(cases, areas["ward"], DA, *YEAR, None, population))
    assert reading == (f"Safe from domestic abuse, referrals 01/04/2024 to 31/03/2025, by ward: No ward stands out: "
                       f"every ward's 95% interval includes the council rate of {council:,.1f} per 1,000 children, so "
                       "the differences between wards could be chance; next, pool two years to "
                       "narrow the intervals.")


def test_released_need_map_reading_counts_hidden_wards_and_never_a_true_count(croydon):
    demo, release, areas, population, _ = croydon
    period = release.calendar.years[-1]
    view = released_need_map(release, DA, period.key, RATE, population)
    ranked = released_need_ranking(release, DA, period.key, population)
    reading = need_map_reading(view, ranked)
    assert reading.startswith(f"Safe from domestic abuse, {period.label}, by ward: ")
    hidden = int((view.table["episodes"] == "c").sum())
    assert hidden and (f"{hidden} wards with hidden counts (too small to share) are not ranked." in reading
                       or "1 ward with a hidden count (too small to share) is not ranked." in reading)
    true_total = int(((demo["needs_mask"].to_numpy() & NEED_BITS[DA]) != 0).sum())
    assert str(true_total) not in reading


@pytest.fixture(scope="module")
def planted(croydon):
    """Episodes at one rate everywhere, and five times that rate in every LSOA of one real ward (6+ LSOAs)."""
    _, _, _, _, lookup = croydon
    sizes = lookup.groupby("WD24CD").size()
    ward = sorted(sizes.index[sizes >= 6])[0]
    counts = null_counts(lookup)
    inside = lookup.index[lookup["WD24CD"] == ward]
    counts[inside] = null_counts(lookup.loc[inside], 0.06)
    return episodes(counts), ward


def test_hotspots_reading_names_the_lsoas_found_and_their_wards(croydon, planted):
    _, _, areas, population, lookup = croydon
    cases, ward = planted
    view = team_hotspots(cases, areas["lsoa11"], DA, *YEAR, population, "rate", "gi_star",
                         lsoa_wards=areas["ward"].area_names())
    hot = view.hot
    assert len(hot) and set(lookup.loc[hot["code"], "WD24CD"]) & {ward}  # the planted ward is found
    names = [f"{lookup.loc[code, 'LSOA11NM']} ({lookup.loc[code, 'WD24NM']} ward)" for code in hot["code"]]
    start = "Safe from domestic abuse, referrals 01/04/2024 to 31/03/2025, by LSOA: "
    noun = "1 LSOA stands out as a hot spot" if len(hot) == 1 else f"{len(hot)} LSOAs stand out as hot spots"
    assert view.reading.startswith(start + noun + ", where high rates sit together more than chance would explain")
    assert "after correcting for testing 220 LSOAs at once" in view.reading
    assert f": {listed(names, 6)}." in view.reading and "Next: look at the cases there" in view.reading
    per_ward = lookup.loc[hot["code"], "WD24NM"].value_counts()
    if len(hot) > 6 and (len(per_ward) == 1 or per_ward.iloc[0] > per_ward.iloc[1]):  # many: per ward, most first
        assert f" By ward: {per_ward.iloc[0]} in {per_ward.index[0]}" in view.reading
    assert list(view.table.loc[hot.index, "ward"]) == list(lookup.loc[hot["code"], "WD24NM"])  # and in the table


def test_hotspots_reading_when_no_cluster_stands_out(croydon):
    _, _, areas, population, lookup = croydon
    cases = episodes(null_counts(lookup))
    view = team_hotspots(cases, areas["lsoa11"], DA, *YEAR, population, "rate", "gi_star",
                         lsoa_wards=areas["ward"].area_names())
    assert view.hot.empty
    assert view.reading.startswith(
        "Safe from domestic abuse, referrals 01/04/2024 to 31/03/2025, by LSOA: No cluster stands out beyond chance "
        "at LSOA level (after correcting for testing 220 LSOAs at once); rates still differ between areas: see the "
        "ranked wards on the Need map, or switch to wards or pool two years.")


def test_hotspots_readings_on_the_demo_for_both_audiences(croydon):
    demo, release, areas, population, lookup = croydon
    first, last = demo["referral_date"].min().date(), demo["referral_date"].max().date()
    view = team_hotspots(demo, areas["lsoa11"], DA, first, last, population, "smoothed_rate", "gi_star",
                         lsoa_wards=areas["ward"].area_names())
    if view.hot.empty:
        assert "No cluster stands out beyond chance at LSOA level" in view.reading
    for code in view.hot["code"].head(6):
        assert f"{lookup.loc[code, 'LSOA11NM']} ({lookup.loc[code, 'WD24NM']} ward)" in view.reading
    if len(view.hot) > 6:  # many LSOAs: how many lie in each ward, counted from the lookup file
        per_ward = lookup.loc[view.hot["code"], "WD24NM"].value_counts()
        for ward, count in per_ward.head(3).items():
            if (per_ward == count).sum() == 1:  # ties may be listed in either order
                assert f"{count} in {ward}" in view.reading
    assert "switch to wards or pool two years" not in view.reading  # three years already pooled
    period = release.calendar.years[-1]
    shared = released_hotspots(release, demo, DA, period.key, population, "gi_star")
    assert shared.reading.startswith(f"Safe from domestic abuse, {period.label}, by ward: ")
    for name in shared.hot["name"].head(6):
        assert name in shared.reading
    if shared.hot.empty:
        assert "see the ranked areas on the Need map, or choose all years together." in shared.reading


def test_need_map_reading_when_every_released_count_is_hidden(croydon):
    """Nothing to rank (every count hidden): the reading says so instead of claiming no area stands out."""
    from ehmap.audience import Audience
    from ehmap.ranking import rank_areas
    from ehmap.views.need_map import RankedView

    _, release, areas, population, lookup = croydon
    period = release.calendar.years[-1]
    view = released_need_map(release, DA, period.key, RATE, population)
    wards = areas["ward"].areas.set_index("code")
    children = lookup.groupby("WD24CD")["children"].sum()
    hidden = rank_areas("ward", wards.index, wards["name"], pd.Series(np.nan, index=wards.index), children, 1.0, 5.0)
    reading = need_map_reading(view, RankedView(Audience.RELEASE, hidden, DA, period.label, (), "year"))
    assert reading == (f"Safe from domestic abuse, {period.label}, by ward: No ward has a rate to rank (every count "
                       "is hidden or there are no children), so nothing is ranked; next, choose all years together.")
