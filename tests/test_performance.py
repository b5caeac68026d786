"""Outcome measures, re-referral and fair comparison on constructed files whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binom

from ehmap import funnel, performance, trends
from ehmap.exports import read_export
from ehmap.ingest import ingest
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
        total["closed"],
        total["step_up"],
        total["rereferral_eligible"],
        total["rereferral"],
    ) == ("9", "8", "2", "7", "1")
    assert_allclose([total["step_up_pct"], total["rereferral_pct"], total["needs_met_pct"]], [25.0, 14.3, 62.5])
    low, high = performance.wilson_interval([1], [7])
    assert_allclose(
        [total["rereferral_lower"], total["rereferral_upper"]], [round(low[0] * 100, 1), round(high[0] * 100, 1)]
    )
    # Team A alone is below council level: its counts of 1-5 are 'c' and the shares built on them are blank
    team = table.shown.set_index("group").loc["Team A"]
    assert team["step_up"] == "c" and np.isnan(team["step_up_pct"]) and np.isnan(team["rereferral_lower"])
    # 1 open episode (9 - 8) and 1 recent closure (8 - 7) would be given away: the wholes are hidden
    assert (team["episodes"], team["closed"], team["rereferral_eligible"]) == ("c", "c", "7")
    assert "same pseudonymised case ID" in performance.REREFERRAL_RULE


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
    assert raw.loc["Domestic Abuse Service", "position"] == "above 99.8%"  # high raw rate...
    assert points.loc["Domestic Abuse Service", "position"] == "within"  # ...explained by its case mix
    assert points.loc["Family Support Central", "position"].startswith("above")
    assert_allclose(points.loc["Family Support Central", "value"], 1.4, atol=0.15)
    assert points.loc["Parenting Programme", "position"] == performance.NOT_COMPARED  # hidden: where it lies is not said
    assert "Parenting Programme: a count under 6, so its step-up rate" in " ".join(adjusted.readings)
    assert points.loc["Parenting Programme", "events"] == "c" and np.isnan(points.loc["Parenting Programme", "value"])
    assert "IDACI quintile" in adjusted.strata and "Not used" not in adjusted.strata
    assert any(
        r.startswith(
            "Domestic Abuse Service's step-up rate to children's social care is within the expected range "
            "for its case mix"
        )
        for r in adjusted.readings
    )
    shown = [v for v in points["events"].tolist() + points["episodes"].tolist() if v.isdigit()]
    assert not [v for v in shown if 1 <= int(v) <= 5]
    youth = performance.compare(demo, "disengaged", idaci_decile=idaci, overdispersion="additive").points.set_index(
        "group"
    )
    assert youth.loc["Youth Support", "position"].startswith("above")


def all_groups_dispersion(cases: pd.DataFrame, adjusted: bool) -> funnel.Dispersion:
    """Independent: phi and tau² of step-up per service over every service, hidden ones included."""
    flags = performance.episode_flags(cases)
    closed = flags["closed"].to_numpy()
    events = pd.Series(flags["step_up"].to_numpy()[closed], dtype=float)
    units = pd.Series(cases["service"].astype(str).to_numpy()[closed])
    strata = performance.case_mix_strata(cases)[closed] if adjusted else pd.DataFrame(index=np.flatnonzero(closed))
    table = funnel.indirect_standardisation(units, strata.reset_index(drop=True), events).table
    if adjusted:
        return funnel.dispersion(*funnel.ratio_z(table["observed"], table["expected"]))
    return funnel.dispersion(*funnel.proportion_z(table["observed"], table["episodes"], events.mean()))


def test_overdispersion_comes_from_the_shown_groups_only(directory, council_names):
    from ehmap.demo import load_demo

    demo = load_demo(directory, council_names, KEY).cases
    # Move one step-up from Parenting Programme (3, hidden) to Family Hub New Addington (8, hidden as its
    # partner) by swapping two closed episodes' outcomes within one case-mix stratum: the council total,
    # every stratum total and every shown count stay as they are; only how the hidden services split changes.
    flags = performance.episode_flags(demo)
    stratum = performance.case_mix_strata(demo).astype(str).agg(" | ".join, axis=1)
    here = flags["closed"] & (stratum == "3+ needs | safeguarding need | age 11-15")
    giver = demo.index[here & flags["step_up"] & (demo["service"] == "Parenting Programme")][0]
    taker = demo.index[here & ~flags["step_up"] & (demo["service"] == "Family Hub New Addington")][0]
    moved = demo.copy()
    moved.loc[[giver, taker], "outcome"] = demo.loc[[taker, giver], "outcome"].to_numpy()
    for adjusted in (False, True):
        for overdispersion in ("additive", "multiplicative"):
            before = performance.compare(demo, "step_up", adjusted=adjusted, overdispersion=overdispersion)
            after = performance.compare(moved, "step_up", adjusted=adjusted, overdispersion=overdispersion)
            hidden = before.points.loc[~before.points["shown"], "group"].tolist()
            assert hidden == ["Family Hub New Addington", "Parenting Programme"]
            assert after.points["shown"].tolist() == before.points["shown"].tolist()
            assert after.notes == before.notes
            assert f"estimated from the {len(before.points) - 2} groups shown" in " ".join(before.notes)
            pd.testing.assert_frame_equal(
                after.points[after.points["shown"]], before.points[before.points["shown"]], check_exact=True
            )
            pd.testing.assert_frame_equal(after.curve, before.curve, check_exact=True)
        # the move is seen by a dispersion over all services: the test above would catch hidden groups in phi
        assert all_groups_dispersion(moved, adjusted).phi != all_groups_dispersion(demo, adjusted).phi


def test_compare_and_group_labels_reject_bad_arguments_with_the_choices(cases):
    with pytest.raises(
        ValueError, match=r"measure must be one of step_up, needs_met, disengaged, rereferral; got 'exits'\."
    ):
        performance.compare(cases, "exits")
    with pytest.raises(ValueError, match=r"by='locality' needs lsoa_to_locality"):
        performance.group_labels(cases, "locality")
    with pytest.raises(ValueError, match=r"No disengagement rate can be compared"):
        performance.compare(cases.assign(outcome=cases["outcome"].cat.set_categories(["needs_met"])), "disengaged")


def test_trends_count_referrals_open_caseload_and_hide_small_counts(cases):
    table = trends.trend_table(cases, "quarter")
    first = table.set_index("period").loc["2022Q1"]
    # 5 referrals in Q1 2022 (hidden: 1-5); open at 31/03/2022: C1 closed 01/03, so C2, C3, C4 x2 = 4 (hidden)
    assert np.isnan(first["referrals"]) and np.isnan(first["open_caseload"])
    tripled = trends.trend_table(pd.concat([cases] * 3, ignore_index=True), "quarter").set_index("period")
    assert tripled.loc["2022Q1", "referrals"] == 15 and tripled.loc["2022Q1", "open_caseload"] == 12
    # closed in Q2 2022: C2 (needs met), C4 (disengaged), C3 (stepped up); tripled, 3 needs met is hidden
    assert tripled.loc["2022Q2", "closures"] == 9 and np.isnan(tripled.loc["2022Q2", "needs_met_pct"])
    sixfold = trends.trend_table(pd.concat([cases] * 6, ignore_index=True), "quarter").set_index("period")
    assert sixfold.loc["2022Q2", "closures"] == 18 and sixfold.loc["2022Q2", "needs_met_pct"] == 33.3
    shown = trends.shown_trend_table(table)
    assert "c" in shown["referrals"].tolist()
    with pytest.raises(ValueError, match=r"frequency must be one of month, quarter; got 'week'\."):
        trends.trend_table(cases, "week")


def test_a_whole_that_would_give_away_a_small_difference_is_hidden_with_a_partner():
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
    # A has 3 open episodes: its episode count is hidden, and B's with it (the council total is shown)
    assert shown["episodes"].tolist() == ["c", "c", "40", "90"]
    assert shown["closed"].tolist() == ["17", "20", "30", "67"]
    assert shown.loc["A", "needs_met_pct"] == 100.0


def test_split_trends_round_counts_to_five_so_caseload_arithmetic_reveals_nothing(cases):
    doubled = pd.concat([cases] * 2, ignore_index=True)
    by_service = trends.trend_table(doubled, "quarter", by="service").set_index("period")
    # 10 referrals and 8 open: both shown as 10; the 6 closures in Q2 would show as 5, so they are hidden
    assert by_service.loc["2022Q1", "referrals"] == 10 and by_service.loc["2022Q1", "open_caseload"] == 10
    assert np.isnan(by_service.loc["2022Q2", "closures"])
    unsplit = trends.trend_table(doubled, "quarter").set_index("period")
    assert unsplit.loc["2022Q1", "open_caseload"] == 8
