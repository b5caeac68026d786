"""Outcome measures, re-referral, fair comparison and trends: the team's exact figures, on files whose answers are
known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binom

from ehmap import funnel, performance, trends
from ehmap.audience import SMALL_FLAG
from ehmap.exports import read_export
from ehmap.ingest import ingest
from ehmap.taxonomy import OUTCOMES
from tests.conftest import CROYDON

KEY = b"0123456789abcdef"
HEADER = "Case ID,Family ID,Postcode,Referral Date,End Date,Team,Needs,Closure Reason,DOB\n"
# Child C1: closed 01/03/2022, back 01/09/2022 (within 12 months: re-referred); that episode steps up.
# Child C2: closed 01/04/2022, back 01/05/2023 (13 months: not a re-referral). Sibling C6 (same family F2)
#   is referred 01/06/2022: under the child rule that does not make C2's episode a re-referral.
# Child C3: steps up, never returns. Child C4: a second episode referred *before* the first closed
#   (concurrent, not a re-referral); the first ends disengaged. C7 is open.
# The latest date in the file is 01/01/2024, so episodes closed after 01/01/2023 have no full year.
ROWS = [
    ("C1", "F1", "CR0 0AA", "10/01/2022", "01/03/2022", "Team A", "3A", "Needs met", "01/05/2012"),
    ("C1", "F1", "CR0 0AA", "01/09/2022", "01/12/2022", "Team A", "3A;16A", "Stepped up to CSC", "01/05/2012"),
    ("C2", "F2", "CR9 1DE", "01/02/2022", "01/04/2022", "Team A", "housing", "Needs met", "01/01/2019"),
    ("C2", "F2", "CR9 1DE", "01/05/2023", "01/06/2023", "Team A", "housing", "Needs met", "01/01/2019"),
    ("C3", "F3", "CR0 0AA", "01/01/2022", "01/06/2022", "Team A", "16A;3A;housing", "Stepped up to CSC", "01/02/2008"),
    ("C4", "F4", "CR9 1DE", "05/01/2022", "01/05/2022", "Team A", "4A", "Disengaged", "01/03/2015"),
    ("C4", "F4", "CR9 1DE", "01/03/2022", "01/08/2022", "Team A", "4A", "Needs met", "01/03/2015"),
    ("C6", "F2", "CR9 1DE", "01/06/2022", "01/07/2022", "Team A", "housing", "Needs met", "01/01/2016"),
    ("C7", "F7", "CR0 0AA", "01/01/2024", "", "Team A", "4A", "", "01/01/2020"),
]


def ingest_rows(rows, directory, council_names) -> pd.DataFrame:
    text = HEADER + "".join(",".join(row) + "\n" for row in rows)
    result = ingest(read_export(text.encode(), "cases.csv"), CROYDON, directory, council_names, KEY)
    assert result.rejected == 0, result.rejects
    return result.cases


@pytest.fixture(scope="module")
def cases(directory, council_names) -> pd.DataFrame:
    return ingest_rows(ROWS, directory, council_names)


def test_rereferral_and_step_up_per_episode_are_right_on_a_constructed_file(cases):
    flags = performance.episode_flags(cases)
    assert performance.rereferral_key(cases) == "case_id"
    assert performance.data_date(cases) == pd.Timestamp("2024-01-01")
    assert flags["closed"].tolist() == [True] * 8 + [False]
    assert flags["rereferral_eligible"].tolist() == [True, True, True, False, True, True, True, True, False]
    assert flags["rereferral"].tolist() == [True] + [False] * 8
    assert flags["step_up"].tolist() == [False, True, False, False, True, False, False, False, False]
    assert flags["disengaged"].sum() == 1 and flags["needs_met"].sum() == 5
    assert_allclose(flags["duration"].iloc[:3], [50, 91, 59])


def test_council_row_gives_the_known_rates_with_wilson_intervals(cases):
    table = performance.outcome_table(cases)
    total = table.shown.set_index("group").loc[performance.ALL]
    assert (
        total["episodes"],
        total["open"],
        total["closed"],
        total["step_up"],
        total["rereferral_eligible"],
        total["rereferral"],
    ) == (9, 1, 8, 2, 7, 1)
    assert_allclose([total["step_up_pct"], total["rereferral_pct"], total["needs_met_pct"]], [25.0, 14.3, 62.5])
    low, high = performance.wilson_interval([1], [7])
    assert_allclose(
        [total["rereferral_lower"], total["rereferral_upper"]], [round(low[0] * 100, 1), round(high[0] * 100, 1)]
    )
    # Team A is the only team: its counts of 1-5 are exact and flagged, and its shares use them
    team = table.shown.set_index("group").loc["Team A"]
    assert (team["episodes"], team["open"], team["closed"], team["step_up"]) == (9, 1, 8, 2)
    assert team["step_up_pct"] == 25.0 and team["rereferral_lower"] == total["rereferral_lower"]
    assert team["note"].startswith(SMALL_FLAG)
    assert "Stepped up to children's social care" in team["note"] and "Still open" in team["note"]
    assert "same pseudonymised case ID" in performance.REREFERRAL_RULE
    assert any(SMALL_FLAG in note for note in table.notes)


def test_every_outcome_category_is_counted_once_and_declined_is_not_lost(cases):
    """Every episode is open or in exactly one closure category (declined consent included), per group."""
    declined = cases.copy()
    declined.loc[declined.index[5], "outcome"] = "declined_consent"  # C4's disengaged episode: declined instead
    row = performance.outcome_table(declined).shown.set_index("group").loc[performance.ALL]
    assert row["declined_consent"] == 1 and row["disengaged"] == 0
    categories = [performance.CATEGORY_COLUMNS[key] for key in OUTCOMES]
    assert len(categories) == 9 and row[categories].sum() == row["closed"] == 8
    assert row["open"] + row["closed"] == row["episodes"]
    assert performance.COLUMN_TITLES["declined_consent"] == "Declined or withdrew consent"


def test_demo_outcome_table_accounts_for_every_episode(directory, council_names):
    """Each service's categories, counted independently with pandas, equal the table; rows add up to the council."""
    from ehmap.demo import load_demo

    demo = load_demo(directory, council_names, KEY).cases
    table = performance.outcome_table(demo).shown.set_index("group")
    closed = demo["end_date"].notna()
    category = demo["outcome"].astype(object).where(demo["outcome"].notna(), "other").where(closed, "open")
    expected = pd.crosstab(demo["service"].astype(str), category)
    for key in [*OUTCOMES, "open"]:
        column = performance.CATEGORY_COLUMNS.get(key, key)
        got = table[column].drop(performance.ALL)
        assert got.to_dict() == expected.get(key, pd.Series(0, index=expected.index)).to_dict(), key
        assert table.loc[performance.ALL, column] == int((category == key).sum())
    assert table.loc[performance.ALL, "episodes"] == len(demo)
    small_rows = table[(table[[performance.CATEGORY_COLUMNS[k] for k in OUTCOMES]].isin(range(1, 6))).any(axis=1)]
    assert len(small_rows) and small_rows["note"].str.startswith(SMALL_FLAG).all()


def test_when_case_ids_number_episodes_the_family_id_decides_re_referral(directory, council_names):
    rows = [(f"EP{i}", *row[1:]) for i, row in enumerate(ROWS)]
    cases = ingest_rows(rows, directory, council_names)
    assert performance.rereferral_key(cases) == "family_id"
    flags = performance.episode_flags(cases)
    # F1: C1's return; F2: sibling C6 is referred 2 months after C2 closed,
    # and C2 returns within 12 months of C6's closure
    assert flags["rereferral"].tolist() == [True, False, True, False, False, False, False, True, False]


def test_wilson_interval_matches_newcombes_published_examples():
    low, high = performance.wilson_interval([81, 0, 15], [263, 10, 148])
    assert_allclose(low, [0.2553, 0.0, 0.0624], atol=5e-5)
    assert_allclose(high, [0.3662, 0.2775, 0.1605], atol=5e-5)


def test_median_interval_uses_binomial_order_statistics():
    values = np.arange(1, 101, dtype=float)[::-1]
    median, low, high = performance.median_interval(values)
    j = int(binom.ppf(0.025, 100, 0.5))  # 40: the 40th and 61st order statistics
    assert (median, low, high) == (50.5, float(j), float(100 - j + 1))


def test_demo_comparison_flags_the_built_in_service_effects(directory, council_names, data_dir):
    from ehmap.context import load_on_lsoa11
    from ehmap.demo import load_demo

    demo = load_demo(directory, council_names, KEY).cases
    idaci = load_on_lsoa11("iod2019").values.set_index("lsoa11cd")["idaci_decile"]
    raw = performance.compare(demo, "step_up", adjusted=False).points.set_index("group")
    adjusted = performance.compare(demo, "step_up", adjusted=True, idaci_decile=idaci)
    points = adjusted.points.set_index("group")
    assert raw.loc["Domestic Abuse Service", "value"] > adjusted_council_rate(demo)  # high raw rate...
    assert points.loc["Domestic Abuse Service", "position"] == "within"  # ...explained by its case mix
    assert points.loc["Family Support Central", "position"].startswith("above")
    assert points.loc["Family Support Central", "value"] > 1.2
    # every group is drawn and placed on its true counts; a count from 1 to 5 is flagged for care, not left out
    step_ups = demo[demo["end_date"].notna() & (demo["outcome"] == "step_up_csc")]["service"].value_counts()
    for name, point in points.iterrows():
        assert point["events"] == step_ups.get(name, 0) and point["shown"]
        flagged = 1 <= point["events"] <= 5 or 1 <= point["episodes"] <= 5
        assert point["small"] == flagged and (point["note"] == SMALL_FLAG) == flagged
        assert point["reading"].endswith(f"({SMALL_FLAG}).") == flagged
        assert_allclose(point["value"], point["events"] / point["expected"], rtol=0.02)  # expected is to 0.1
    assert points["shown"].all() and len(points) == demo["service"].nunique()
    assert "IDACI quintile" in adjusted.strata and "Not used" not in adjusted.strata
    assert any(
        r.startswith(
            "Domestic Abuse Service's step-up rate to children's social care is within the expected range "
            "for its case mix"
        )
        for r in adjusted.readings
    )
    youth = performance.compare(demo, "disengaged", idaci_decile=idaci, overdispersion="additive").points.set_index(
        "group"
    )
    assert youth.loc["Youth Support", "position"].startswith("above")


def adjusted_council_rate(cases: pd.DataFrame) -> float:
    """Independent: the council's step-up share of closed episodes."""
    closed = cases[cases["end_date"].notna()]
    return float((closed["outcome"] == "step_up_csc").mean())


def all_groups_dispersion(cases: pd.DataFrame, adjusted: bool) -> funnel.Dispersion:
    """Independent: phi and tau² of step-up per service over every service, small ones included."""
    flags = performance.episode_flags(cases)
    closed = flags["closed"].to_numpy()
    events = pd.Series(flags["step_up"].to_numpy()[closed], dtype=float)
    units = pd.Series(cases["service"].astype(str).to_numpy()[closed])
    strata = performance.case_mix_strata(cases)[closed] if adjusted else pd.DataFrame(index=np.flatnonzero(closed))
    table = funnel.indirect_standardisation(units, strata.reset_index(drop=True), events).table
    if adjusted:
        return funnel.dispersion(*funnel.ratio_z(table["observed"], table["expected"]))
    return funnel.dispersion(*funnel.proportion_z(table["observed"], table["episodes"], events.mean()))


def test_overdispersion_comes_from_every_group_small_ones_included(directory, council_names):
    from ehmap.demo import load_demo

    demo = load_demo(directory, council_names, KEY).cases
    # Move one step-up from Parenting Programme (3) to Family Hub New Addington (8) by swapping two closed
    # episodes' outcomes within one case-mix stratum: every stratum total stays; only how the two small services
    # split changes, and the overdispersion estimate (over every service) sees it.
    flags = performance.episode_flags(demo)
    stratum = performance.case_mix_strata(demo).astype(str).agg(" | ".join, axis=1)
    smallest = demo.loc[flags["step_up"], "service"].value_counts().index[-2:]  # the two fewest step-ups
    giver_rows = flags["closed"] & flags["step_up"] & (demo["service"] == smallest[1])
    taker_rows = flags["closed"] & ~flags["step_up"] & (demo["service"] == smallest[0])
    shared = sorted(set(stratum[giver_rows]) & set(stratum[taker_rows]))
    here = stratum == shared[0]
    giver = demo.index[here & giver_rows][0]
    taker = demo.index[here & taker_rows][0]
    moved = demo.copy()
    moved.loc[[giver, taker], "outcome"] = demo.loc[[taker, giver], "outcome"].to_numpy()
    services = demo["service"].nunique()
    for adjusted in (False, True):
        for overdispersion in ("additive", "multiplicative"):
            before = performance.compare(demo, "step_up", adjusted=adjusted, overdispersion=overdispersion)
            after = performance.compare(moved, "step_up", adjusted=adjusted, overdispersion=overdispersion)
            for result, data in ((before, demo), (after, moved)):
                reference = all_groups_dispersion(data, adjusted)
                assert_allclose([result.dispersion.phi, result.dispersion.tau2], [reference.phi, reference.tau2])
                assert result.dispersion.units == services
                assert f"estimated from all {services} groups" in " ".join(result.notes)
            assert after.dispersion.phi != before.dispersion.phi
            assert after.points["shown"].all() and before.points["shown"].all()


def test_compare_and_group_labels_reject_bad_arguments_with_the_choices(cases):
    with pytest.raises(
        ValueError, match=r"measure must be one of step_up, needs_met, disengaged, rereferral; got 'exits'\."
    ):
        performance.compare(cases, "exits")
    with pytest.raises(ValueError, match=r"by='locality' needs lsoa_to_locality"):
        performance.group_labels(cases, "locality")
    with pytest.raises(ValueError, match=r"No disengagement rate can be compared"):
        performance.compare(cases.assign(outcome=cases["outcome"].cat.set_categories(["needs_met"])), "disengaged")


def test_trends_count_referrals_open_caseload_exactly_and_flag_small_counts(cases):
    table = trends.trend_table(cases, "quarter")
    first = table.set_index("period").loc["2021-22 Q4"]  # January to March 2022: a financial year's fourth quarter
    # 5 referrals in Jan-Mar 2022; open at 31/03/2022: C1 closed 01/03, so C2, C3, C4 x2 = 4
    assert (first["referrals"], first["open_caseload"]) == (5, 4)
    assert first["note"].startswith(SMALL_FLAG) and "referrals, open caseload" in first["note"]
    # closed in Apr-Jun 2022: C2 (needs met), C4 (disengaged), C3 (stepped up): shares of 3 closures
    second = table.set_index("period").loc["2022-23 Q1"]
    assert (second["closures"], second["needs_met"], second["step_up"]) == (3, 1, 1)
    assert second["needs_met_pct"] == 33.3 and second["step_up_pct"] == 33.3
    tripled = trends.trend_table(pd.concat([cases] * 3, ignore_index=True), "quarter").set_index("period")
    assert tripled.loc["2021-22 Q4", "referrals"] == 15 and tripled.loc["2021-22 Q4", "open_caseload"] == 12
    # tripled, C1's closure on 01/03/2022 (needs met) is still 3 closures: flagged
    assert tripled.loc["2021-22 Q4", "note"] == f"{SMALL_FLAG} (closures, needs met)"
    with pytest.raises(ValueError, match=r"frequency must be one of month, quarter; got 'week'\."):
        trends.trend_table(cases, "week")


def test_trends_within_a_period_count_closures_and_caseload_of_earlier_referrals(cases):
    """From 1 April 2022: C2, C4 and C3 close in the first quarter though referred before it; C6 is referred in it."""
    table = trends.trend_table(cases, "quarter", start=pd.Timestamp("2022-04-01"), end=pd.Timestamp("2022-06-30"))
    assert table["period"].tolist() == ["2022-23 Q1"]
    row = table.iloc[0]
    # open at 30/06/2022: C4's second episode (closes 01/08) and C6 (closes 01/07)
    assert (row["referrals"], row["closures"], row["open_caseload"]) == (1, 3, 2)
    part = trends.trend_table(cases, "month", start=pd.Timestamp("2022-05-15"), end=pd.Timestamp("2022-06-30"))
    may = part.set_index("period").loc["2022-05"]
    assert may["part"] and trends.PART_PERIOD in may["note"] and may["closures"] == 0  # C4 closed 01/05: before


def test_team_table_counts_every_episode_and_flags_a_small_open_count():
    rows = []
    for service, episodes, closed in (("A", 20, 17), ("B", 30, 20), ("C", 40, 30)):
        for i in range(episodes):
            rows.append(
                {
                    "case_id": f"{service}{i}",
                    "family_id": f"F{service}{i}",
                    "lsoa11cd": "E01001001",
                    "lad_code": CROYDON,
                    "referral_date": pd.Timestamp("2020-01-01"),
                    "end_date": pd.Timestamp("2020-03-01") if i < closed else pd.NaT,
                    "service": service,
                    "needs_mask": 1,
                    "outcome": "needs_met" if i < closed else None,
                    "referral_source": "School",
                    "age_at_referral": 8,
                }
            )
    cases = pd.DataFrame(rows).astype({"outcome": "category", "service": "category", "age_at_referral": "Int64"})
    shown = performance.outcome_table(cases, as_of=pd.Timestamp("2022-01-01")).shown.set_index("group")
    assert shown["episodes"].tolist() == [20, 30, 40, 90]
    assert shown["open"].tolist() == [3, 10, 10, 23]
    assert shown["closed"].tolist() == [17, 20, 30, 67]
    assert shown["note"].tolist() == [f"{SMALL_FLAG} (Still open)", "", "", ""]  # A's 3 open: flagged, not hidden
    assert shown.loc["A", "needs_met_pct"] == 100.0


def test_split_trends_are_exact_and_the_services_add_up_to_the_council(cases):
    doubled = pd.concat([cases] * 2, ignore_index=True)
    by_service = trends.trend_table(doubled, "quarter", by="service")
    unsplit = trends.trend_table(doubled, "quarter")
    # 10 referrals and 8 open in Jan-Mar 2022, and 6 closures in Apr-Jun: exact, not rounded
    row = by_service.set_index("period").loc["2021-22 Q4"]
    assert (row["referrals"], row["open_caseload"]) == (10, 8)
    assert by_service.set_index("period").loc["2022-23 Q1", "closures"] == 6
    summed = by_service.groupby("period", sort=False)[["referrals", "open_caseload", "closures"]].sum()
    assert summed.equals(unsplit.set_index("period")[["referrals", "open_caseload", "closures"]])
