"""Destabilised by poverty (issue 14, item 10) and the readings of the deprivation pages: the comparison of the most
deprived fifth with elsewhere and its 95% intervals (checked against scipy), the sentence, the period it follows,
the ranked areas, the message for an export whose needs map to no poverty need, and the need-and-deprivation and
deprivation readings; on the real demo, its release and a generated West Berkshire export."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binomtest, pearsonr, rankdata, spearmanr
from scipy.stats.contingency import relative_risk
from synthetic_export import WEST_BERKSHIRE, make_export

from ehmap.context import (
    MOST_DEPRIVED_FIFTH,
    POVERTY_NEEDS,
    council_context,
    deprivation_reading,
    more_deprived_is_higher,
    over_representation,
    poverty_reading,
    rank_correlation,
)
from ehmap.release.gate import ReleaseInputs, build_release
from ehmap.taxonomy import NEED_BITS
from ehmap.views.context import (
    RELEASED_NO_POVERTY,
    released_over_representation,
    released_poverty,
    team_bivariate,
    team_poverty,
)

KEY = b"0123456789abcdef"
DECILE = "iod2019_idaci_decile"
NAMES = "financial stability or secure housing"


@pytest.fixture(scope="module")
def demo(directory, council_names):
    """The demo's episodes, its LSOAs and wards, IoD2019 on its LSOAs, children, and its release with deciles."""
    from ehmap.areas import area_set
    from ehmap.demo import load_demo
    from ehmap.indicators import child_population

    result = load_demo(directory, council_names, KEY)
    lsoas, wards = area_set("lsoa11", result.la_code), area_set("ward", result.la_code)
    context = council_context(result.la_code, ["iod2019"])
    imd = context.areas.set_index("lsoa11cd")["iod2019_imd_decile"]
    release = build_release(ReleaseInputs(result.cases, result.la_code, {"lsoa11": lsoas, "ward": wards}, imd))
    return result, lsoas, wards.area_names(), context, child_population(), release


def independent_families(cases: pd.DataFrame, decile: pd.Series) -> tuple[int, int, int, int]:
    """Plain pandas: (poverty families in the most deprived fifth, all families there, poverty families elsewhere,
    all families elsewhere), each family at the LSOA of its latest (poverty) episode."""
    family = cases["family_id"].astype(object).where(cases["family_id"].notna(), cases["case_id"].astype(object))
    frame = cases.assign(family=family.to_numpy())
    poverty = (frame["needs_mask"].to_numpy() & sum(NEED_BITS[n] for n in POVERTY_NEEDS)) != 0

    def fifth_and_total(rows: pd.DataFrame) -> tuple[int, int]:
        latest = rows.sort_values("referral_date").groupby("family").tail(1)
        inside = latest["lsoa11cd"].astype(str).map(decile) <= MOST_DEPRIVED_FIFTH
        return int(inside.sum()), len(latest)

    (p_in, p_all), (a_in, a_all) = fifth_and_total(frame[poverty]), fifth_and_total(frame)
    return p_in, a_in, p_all - p_in, a_all - a_in


def test_over_representation_intervals_match_scipy():
    for a, n1, c, n2 in [(435, 772, 402, 1214), (12, 40, 30, 200), (5, 50, 9, 60), (3, 100, 30, 100)]:
        result = over_representation(a, n1, c, n2)
        reference = relative_risk(a, n1, c, n2)  # Katz log interval
        interval = reference.confidence_interval(0.95)
        assert_allclose([result.ratio, result.ratio_lower, result.ratio_upper],
                        [reference.relative_risk, interval.low, interval.high], rtol=1e-9)
        for events, trials, low, high in [(a, n1, result.share_in_lower, result.share_in_upper),
                                          (c, n2, result.share_out_lower, result.share_out_upper)]:
            wilson = binomtest(events, trials).proportion_ci(0.95, method="wilson")
            assert_allclose([low, high], np.round([wilson.low * 100, wilson.high * 100], 1), atol=0.051)
    with pytest.raises(ValueError, match=r"with a poverty need <= families; got 5\.0/4\.0"):
        over_representation(5, 4, 1, 10)
    assert np.isnan(over_representation(0, 10, 4, 10).ratio)


def test_the_sentence_says_over_representation_or_none():
    over = poverty_reading(over_representation(435, 772, 402, 1214), NAMES, "IMD decile")
    assert over.startswith("Poverty needs are over-represented in the most deprived areas: 56% of families")
    assert "ratio 1.70, 95% interval 1.54 to 1.88" in over and "Next:" in over
    none = poverty_reading(over_representation(30, 100, 28, 100), NAMES, "IMD decile")
    assert none.startswith("No over-representation: 30% of families") and "which includes 1" in none
    under = poverty_reading(over_representation(10, 100, 40, 100), NAMES, "IMD decile")
    assert under.startswith("No over-representation") and "less common there" in under
    few = poverty_reading(over_representation(0, 3, 0, 5), NAMES, "IMD decile")
    assert few.startswith("Too few families to compare")


def test_team_poverty_follows_the_period_and_matches_plain_counts(demo):
    result, lsoas, wards, context, children, _ = demo
    decile = context.areas.set_index("lsoa11cd")[DECILE]
    seen = []
    for start, end in [(dt.date(2022, 4, 1), dt.date(2025, 3, 31)), (dt.date(2023, 4, 1), dt.date(2024, 3, 31))]:
        page = team_poverty(result.cases, lsoas, context, DECILE, children, POVERTY_NEEDS, start, end, wards)
        chosen = result.cases[(result.cases["referral_date"] >= pd.Timestamp(start))
                              & (result.cases["referral_date"] <= pd.Timestamp(end))]
        p_in, a_in, p_out, a_out = independent_families(chosen, decile)
        over = page.over
        assert (over.poverty_in, over.families_in, over.poverty_out, over.families_out) == (p_in, a_in, p_out, a_out)
        assert page.reading == poverty_reading(over, NAMES, context.columns[DECILE].title)
        assert f"{over.share_in:.0f}% of families" in page.reading and "95% interval" in page.reading
        table = page.comparison
        assert list(table["Families"]) == [a_in, a_out] and list(table["With a poverty need"]) == [p_in, p_out]
        seen.append((over.families_in, over.families_out))
    assert seen[0] != seen[1]  # a different period gives different figures


def test_team_areas_are_ranked_by_families_with_a_poverty_need(demo):
    result, lsoas, wards, context, children, _ = demo
    page = team_poverty(result.cases, lsoas, context, DECILE, children, POVERTY_NEEDS, None, None, wards)
    ranked = page.ranked
    cases = result.cases
    poverty = cases[(cases["needs_mask"].to_numpy() & sum(NEED_BITS[n] for n in POVERTY_NEEDS)) != 0]
    family = poverty["family_id"].astype(object).where(poverty["family_id"].notna(), poverty["case_id"])
    latest = poverty.assign(family=family.to_numpy()).sort_values("referral_date").groupby("family").tail(1)
    expected = latest["lsoa11cd"].astype(str).value_counts()
    top = ranked.iloc[0]
    assert top["Rank"] == 1 and top["Families with a poverty need"] == expected.max()
    assert (ranked["Families with a poverty need"].diff().dropna() <= 0).all()
    for _, row in ranked.head(10).iterrows():
        assert row["Families with a poverty need"] == expected.get(row["LSOA code"], 0)
        assert row["Ward"] == wards[row["LSOA code"]] and row["LSOA name"].startswith("Croydon ")
        assert row["Episodes with a poverty need"] == int((poverty["lsoa11cd"] == row["LSOA code"]).sum())


def test_released_comparison_comes_from_rounded_counts(demo):
    result, _, wards, _, children, release = demo
    for period in [p.key for p in release.periods]:
        page = released_poverty(release, period, children, wards)
        values = {(g, part): release.value(("families", g, part, period)) for g in ("poverty", "all")
                  for part in ("total", "most_deprived_fifth")}
        over = released_over_representation(release, period)
        if over is None:
            assert "hidden" in page.reading and page.comparison.empty
            continue
        assert over.poverty_in == values[("poverty", "most_deprived_fifth")]
        assert over.families_out == values[("all", "total")] - values[("all", "most_deprived_fifth")]
        assert all(v % 5 == 0 for v in values.values())
        reference = relative_risk(over.poverty_in, over.families_in, over.poverty_out, over.families_out)
        assert_allclose(over.ratio, reference.relative_risk)
        kind = release.geography["poverty"]  # the reading names the areas ranked below: wards, or 'areas' (LSOAs)
        assert page.reading == poverty_reading(over, NAMES, "IMD decile (IoD2019)",
                                               {"lsoa11": "areas", "ward": "wards"}[kind])
        ranked = page.ranked
        name = {"lsoa11": "LSOA name", "ward": "Ward name"}[kind]
        assert ranked["Rank"].iloc[0] == 1 and ranked[name].isin(release.areas[kind].areas["name"]).all()
        shown = ranked[ranked["Episodes with a poverty need"] != "c"]
        counts = shown["Episodes with a poverty need"].str.replace(",", "").astype(int)
        assert not ((counts % 5 != 0) | counts.between(1, 7)).any()
        assert ranked.loc[ranked["Episodes with a poverty need"] == "c", "Rank"].isna().all()
        assert "released (rounded) counts" in " ".join(page.notes)


@pytest.fixture(scope="module")
def no_poverty(directory, council_names):
    """A generated West Berkshire export whose poverty and housing needs are written in codes ehmap does not know."""
    from ehmap.areas import area_set
    from ehmap.ingest import ingest

    export = make_export(directory)
    export["Presenting Needs"] = (export["Presenting Needs"].str.replace(r"\bPoverty\b", "Money worries", regex=True)
                                  .str.replace(r"\bHousing\b", "HSG1", regex=True))
    result = ingest(export, WEST_BERKSHIRE, directory, council_names, KEY)
    lsoas, wards = area_set("lsoa11", WEST_BERKSHIRE), area_set("ward", WEST_BERKSHIRE)
    context = council_context(WEST_BERKSHIRE, ["iod2019"])
    imd = context.areas.set_index("lsoa11cd")["iod2019_imd_decile"]
    release = build_release(ReleaseInputs(result.cases, WEST_BERKSHIRE, {"lsoa11": lsoas, "ward": wards}, imd))
    return export, result, lsoas, context, release


@pytest.mark.national  # West Berkshire's IoD2019 and wards
def test_an_export_without_poverty_needs_says_what_it_saw_and_how_to_map(no_poverty):
    from ehmap.indicators import child_population

    export, result, lsoas, context, release = no_poverty
    unknown = result.warnings["unrecognised_needs"]
    assert unknown["Money worries"] > 0 and unknown["HSG1"] > 0
    page = team_poverty(result.cases, lsoas, context, DECILE, child_population(), POVERTY_NEEDS, None, None,
                        unrecognised=unknown)
    assert page.unmapped is not None and page.reading == page.unmapped
    text = page.unmapped
    assert text.startswith("No episode in this export records a poverty need")
    assert f"\u201cMoney worries\u201d ({unknown['Money worries']:,})" in text
    assert f"\u201cHSG1\u201d ({unknown['HSG1']:,})" in text
    health = int((result.cases["needs_mask"].to_numpy() & NEED_BITS["health"] != 0).sum())
    assert f"Improved mental and physical health ({health:,})" in text  # the needs it did record, counted
    assert "\u201cFinancial stability\u201d" in text and "\u201cSecure housing\u201d" in text
    assert "Need map and case exports" in text
    assert export["Presenting Needs"].str.contains("Money worries").sum() >= unknown["Money worries"]
    shared = released_poverty(release, "all", child_population())
    assert shared.unmapped == RELEASED_NO_POVERTY and "Money worries" not in shared.reading  # the team's detail


def test_need_and_deprivation_reading_uses_spearman_with_its_interval(demo):
    result, lsoas, _, context, children, _ = demo
    for need, measure in [(None, "iod2019_imd_score"), ("financial_stability", "iod2019_idaci_rank")]:
        view = team_bivariate(result.cases, lsoas, context, need, None, None, measure, children)
        oriented = more_deprived_is_higher(view.areas["deprivation"], view.polarity)
        known = view.areas["rate"].notna() & oriented.notna()
        x, y = view.areas.loc[known, "rate"].to_numpy(), oriented[known].to_numpy()
        link = rank_correlation(view.areas["rate"], oriented)
        assert_allclose(link.rho, spearmanr(x, y).statistic, rtol=1e-12)
        interval = pearsonr(rankdata(x), rankdata(y)).confidence_interval(0.95)  # Fisher z, SE 1/sqrt(n - 3)
        assert_allclose([link.lower, link.upper], [interval.low, interval.high], rtol=1e-9)
        assert f"Spearman correlation {link.rho:.2f}, 95% interval {link.lower:.2f} to {link.upper:.2f}" in view.reading
        assert f"Across {known.sum()} LSOAs" in view.reading and "Next:" in view.reading
        assert ("rises" in view.reading) == (link.lower > 0)
        if len(view.high_need_low_deprivation):
            assert view.high_need_low_deprivation.iloc[0]["lsoa11nm"] in view.reading


def test_deprivation_reading_counts_the_most_deprived_fifth(demo):
    _, _, _, context, _, _ = demo
    decile = context.areas["iod2019_imd_decile"].dropna()
    text = deprivation_reading(context, "iod2019_imd_decile", "Croydon")
    fifth, tenth = int((decile <= 2).sum()), int((decile == 1).sum())
    assert text.startswith(f"{fifth} of Croydon's {len(decile)} LSOAs ({fifth / len(decile):.0%}) are in the most "
                           "deprived fifth of England")
    assert f"{tenth} in the most deprived tenth" in text and "Next:" in text
    score = deprivation_reading(context, "iod2019_imd_score", "Croydon")
    most = context.areas.sort_values("iod2019_imd_score", ascending=False)["lsoa11nm"].iloc[0]
    assert re.search(rf"the most deprived of Croydon's \d+ LSOAs are {re.escape(most)}", score)
    with pytest.raises(ValueError, match="Unknown column 'nope'"):
        deprivation_reading(context, "nope", "Croydon")


def test_released_need_and_deprivation_reading_leaves_hidden_areas_out(demo):
    """A released view's rates are blank where hidden: the reading counts only the shown LSOAs and says so."""
    from ehmap.context import bivariate, bivariate_reading

    result, lsoas, _, context, children, _ = demo
    team = team_bivariate(result.cases, lsoas, context, None, None, None, "iod2019_imd_score", children)
    areas = team.areas[["lsoa11cd", "lsoa11nm", "episodes", "rate"]].copy()
    areas.loc[areas["episodes"].between(1, 7), "rate"] = np.nan  # as a release hides 1 to 7
    shown = bivariate(areas, context, "iod2019_imd_score")
    text = bivariate_reading(shown, "all episodes", released=True)
    assert f"Across {int(areas['rate'].notna().sum())} LSOAs" in text
    assert "from the released, rounded counts; hidden areas left out" in text
