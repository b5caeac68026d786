"""Which services help most, at a glance (issue 14, item 9): the ranked table with 95% intervals, its plain reading,
every outcome category accounted for, and the funnel's axis and decimals; on the real demo and its release, with
intervals checked against scipy (Wilson: `binomtest(...).proportion_ci`; exact Poisson: the gamma distribution)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binomtest, gamma

from ehmap.funnel import LIMITS
from ehmap.performance import LOWER_IS_BETTER, MEASURES, category_check, outcome_table
from ehmap.release.gate import ReleaseInputs, build_release
from ehmap.release.protect import HIDDEN
from ehmap.taxonomy import OUTCOMES
from ehmap.views.performance import AS_EXPECTED, released_performance, services_reading, team_performance

KEY = b"0123456789abcdef"


@pytest.fixture(scope="module")
def demo(directory, council_names):
    """The demo's accepted episodes and their release, as the app builds them."""
    from ehmap.areas import area_set
    from ehmap.demo import load_demo

    result = load_demo(directory, council_names, KEY)
    geographies = {"lsoa11": area_set("lsoa11", result.la_code), "ward": area_set("ward", result.la_code)}
    return result.cases, build_release(ReleaseInputs(result.cases, result.la_code, geographies))


def wilson(events: int, trials: int) -> tuple[float, float]:
    interval = binomtest(int(events), int(trials)).proportion_ci(confidence_level=0.95, method="wilson")
    return interval.low, interval.high


def exact_ratio(observed: int, expected: float) -> tuple[float, float]:
    """Exact Poisson (Garwood) interval of observed / expected from the gamma distribution."""
    low = gamma.ppf(0.025, observed) / expected if observed > 0 else 0.0
    return low, gamma.ppf(0.975, observed + 1) / expected


@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize("adjusted", [True, False], ids=["adjusted", "raw"])
def test_team_glance_is_ranked_with_intervals_and_flags(demo, measure, adjusted):
    cases, _ = demo
    view = team_performance(cases, "service", measure, adjusted, None, None)
    glance = view.glance
    assert set(glance["group"]) == set(cases["service"].dropna())  # every service, named
    ranked = glance[glance["rank"].notna()]
    values = ranked["value"].to_numpy(dtype=float)
    better_first = np.sort(values) if LOWER_IS_BETTER[measure] else np.sort(values)[::-1]
    assert_allclose(values, better_first)  # rank 1 is the best for this measure
    assert ranked["rank"].iloc[0] == 1 and (np.diff(ranked["rank"].to_numpy(dtype=int)) >= 0).all()
    points = view.funnel.points.set_index("group")
    for _, row in ranked.iterrows():
        point = points.loc[row["group"]]
        if adjusted:
            low, high = exact_ratio(point["events"], point["expected"])  # expected is shown to 0.1
            expected_value = point["events"] / point["expected"]
            assert_allclose(row["value"], expected_value, atol=0.006 + 0.02 * expected_value)  # expected is to 0.1
            assert_allclose([row["lower"], row["upper"]], np.round([low, high], 2), atol=0.02 * high + 0.01)
            assert row["value"] == round(row["value"], 2)  # ratios to 2 decimals
        else:
            low, high = wilson(point["events"], point["episodes"])
            assert_allclose(row["value"], round(point["events"] / point["episodes"] * 100, 1))
            assert_allclose([row["lower"], row["upper"]], np.round([low * 100, high * 100], 1), atol=0.051)
        position = point["label"]
        if position == "within":
            assert row["result"] == AS_EXPECTED
        else:
            worse = position.startswith("above") == LOWER_IS_BETTER[measure]
            word = "worse" if worse else "better"
            assert word in row["result"] and ("clearly" in row["result"]) == position.endswith("99.8%")
    assert view.reading == services_reading(glance, "service", measure, adjusted, not adjusted, False)
    flagged = ranked[ranked["result"] != AS_EXPECTED]
    if flagged.empty:
        assert view.reading.startswith("No service stands out")
    else:
        for name in flagged["group"]:
            assert name in view.reading
        assert "95% interval" in view.reading and "Next:" in view.reading


def test_reading_quotes_the_worst_service_with_its_interval(demo):
    """Whichever services do worse than expected (the demo plants one at Family Support Central) are named in
    the reading, with the most extreme clearly worse one's ratio and 95% interval; a service whose interval lies above
    1 is among them."""
    cases, _ = demo
    view = team_performance(cases, "service", "step_up", True, None, None)
    glance = view.glance.set_index("group")
    worse = list(glance.index[glance["result"].str.contains("worse")])
    assert set(glance.index[glance["lower"] > 1]) <= set(worse)
    if not worse:
        assert "does worse" not in view.reading and "do worse" not in view.reading
        return
    listed = worse[0] if len(worse) == 1 else ", ".join(worse[:-1]) + " and " + worse[-1]
    assert f"{listed} {'does' if len(worse) == 1 else 'do'} worse than expected" in view.reading
    clearly = [g for g in worse if glance.loc[g, "result"].startswith("clearly")]
    worst = glance.loc[(clearly or worse)[-1]]  # the most extreme of those clearly worse, else of all worse
    assert (f"{worst.name} {worst['value']:.2f} times the expected number, 95% interval {worst['lower']:.2f} to "
            f"{worst['upper']:.2f}") in view.reading
    assert f"look at {worst.name}'s cases" in view.reading


def test_every_outcome_category_is_counted_and_adds_up(demo):
    cases, _ = demo
    table = outcome_table(cases).shown
    sentence = category_check(table)
    closed = cases[cases["end_date"].notna()]
    counts = closed["outcome"].astype(object).fillna("other").value_counts()  # no outcome recorded counts as other
    assert f"of the council's {len(closed):,} closed episodes" in sentence
    for key, title in OUTCOMES.items():
        assert f"{title.lower()} {int(counts.get(key, 0)):,}" in sentence  # declined and disengaged included
    assert int(counts.get("declined_consent", 0)) > 0 and int(counts.get("disengaged", 0)) > 0
    broken = table.copy()
    broken.loc[0, "disengaged"] += 1
    message = f"do not add up to the closed episodes for {broken.loc[0, 'group']}"
    with pytest.raises(ValueError, match=re.escape(message)):
        category_check(broken)


def test_released_glance_uses_rounded_counts_and_keeps_hidden_values_hidden(demo):
    cases, release = demo
    for period in [p.key for p in release.periods]:
        view = released_performance(release, cases, "service", period, "step_up", True)
        glance = view.glance.set_index("group")
        points = view.funnel.points.set_index("group")
        for group, row in glance.iterrows():
            point = points.loc[group]
            if HIDDEN in (point["events"], point["volume"]):
                assert pd.isna(row["rank"]) and pd.isna(row["value"]) and pd.isna(row["lower"])
                assert group not in view.reading
                continue
            events, volume = float(point["events"].replace(",", "")), float(point["volume"].replace(",", ""))
            assert events % 5 == 0 and volume % 5 == 0  # released counts are rounded to 5
            low, high = wilson(events, volume)
            assert_allclose([row["lower"], row["upper"]], np.round([low * 100, high * 100], 1), atol=0.051)
            assert row["value"] == point["percent"]  # the released whole percentage
        assert any("released (rounded) counts" in note for note in view.notes)
        unranked = int(view.glance["rank"].isna().sum())
        if unranked < len(view.glance):  # some compared: the reading says how many were not
            assert (f"({unranked} more not compared: see the table)" in view.reading) == (unranked > 0)
        assert any(stem.startswith("ehmap_released_") and "_glance_" in stem for stem in view.downloads)


def test_funnel_axis_fits_the_points_and_ratios_show_two_decimals(demo):
    cases, _ = demo
    chart = team_performance(cases, "service", "step_up", True, None, None).funnel
    low, high = chart.y_domain
    assert low == 0 and chart.points["y"].max() < high < 2 * max(chart.points["y"].max(), 1)
    assert high < chart.curve["upper_998"].max()  # the funnel's mouth is cut, not the points
    shown = chart.shown_table()
    ratios = shown["Observed / expected"]
    assert (ratios == ratios.round(2)).all() and (ratios.astype(str).str.len() <= 4).all()
    share = team_performance(cases, "service", "step_up", False, None, None).funnel
    assert share.y_domain[1] > share.points["y"].max() and share.y_domain[1] <= 1
    assert any(title.endswith("(%)") for title in share.shown_table().columns)
    assert LIMITS == (0.95, 0.998)


def test_printed_funnel_fits_the_points_and_draws_every_group(demo):
    from ehmap.charts import funnel_ceiling, funnel_png

    cases, _ = demo
    for adjusted in (True, False):
        chart = team_performance(cases, "service", "step_up", adjusted, None, None).funnel
        points = chart.points.rename(columns={"x": "volume", "y": "value"})
        top = funnel_ceiling(points["value"].to_numpy(dtype=float), chart.target, chart.curve)
        assert points["value"].max() < top < chart.curve["upper_998"].max()
        image = funnel_png(chart.curve, points, chart.target, chart.x_title, chart.y_title, share=chart.share)
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 20_000


def test_closure_text_counted_as_other_is_named_so_a_zero_category_is_explained(directory, council_names):
    """An export writing disengagement as a local code ehmap cannot recognise ('Reason D7') has Disengaged 0 for every
    team: the outcome sentence says which text went to Other and how to fix it. Plain wordings ('No engagement') are
    recognised as disengagement."""
    from synthetic_export import WEST_BERKSHIRE, make_export

    from ehmap.ingest import ingest

    export = make_export(directory, episodes=600)
    disengaged = export["Closure Reason"] == "Disengaged"
    export["Closure Reason"] = export["Closure Reason"].mask(disengaged, "Reason D7")
    result = ingest(export, WEST_BERKSHIRE, directory, council_names, KEY)
    unknown = result.warnings["unrecognised_outcomes"]
    view = team_performance(result.cases, "service", "step_up", False, None, None,
                            unrecognised_outcomes=unknown)
    assert (view.table["disengaged"] == 0).all()
    assert 0 < unknown["Reason D7"] <= int(disengaged.sum())
    assert f"\u201cReason D7\u201d ({unknown['Reason D7']:,})" in view.categories
    assert "counted as Other" in view.categories and "\u201cDisengaged\u201d" in view.categories
    other = int(view.table.set_index("group").loc["All", "other"])
    assert other >= unknown["Reason D7"]
    export["Closure Reason"] = export["Closure Reason"].mask(disengaged, "No engagement")
    plain = ingest(export, WEST_BERKSHIRE, directory, council_names, KEY)
    assert "No engagement" not in plain.warnings.get("unrecognised_outcomes", {})
    assert int((plain.cases["outcome"] == "disengaged").sum()) >= unknown["Reason D7"]


def test_a_measure_that_cannot_be_compared_still_has_a_reading(demo):
    """The latest year's episodes have not had 12 months to return: no re-referral can be compared, and the
    reading says so for both audiences instead of showing an empty box."""
    cases, release = demo
    latest = release.periods[-2]  # the last financial year ('all' is last)
    view = released_performance(release, cases, "service", latest.key, "rereferral", False)
    team = team_performance(cases, "service", "rereferral", False, latest.start, latest.end)
    for shown in (view, team):
        assert shown.funnel is None and shown.glance.empty
        assert shown.reading.startswith("No re-referral rate within 12 months can be compared")
