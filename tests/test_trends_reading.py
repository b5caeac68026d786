"""The trends page's reading: the change in referrals with a 95% range rather than a p-value, checked against the
Clopper-Pearson interval worked out from the beta distribution; on the demo for the team (counts from plain pandas)
and released (rounded counts); and on the page for the team and a viewer (AppTest)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from ehmap.release.periods import financial_year_start
from ehmap.views.trends import change_range, finding
from tests.page_support import page_texts, run_demo_page


def ratio_range(a: int, b: int) -> tuple[float, float]:
    """The exact 95% range of a / b from the beta quantiles of a's share of a + b."""
    low = beta.ppf(0.025, a, b + 1) if a else 0.0
    high = beta.ppf(0.975, a + 1, b) if b else 1.0
    return low / (1 - low), (high / (1 - high) if high < 1 else math.inf)


@pytest.mark.parametrize(("a", "b"), [(332, 359), (150, 100), (3, 9), (0, 7), (40, 40)])
def test_change_range_is_the_exact_interval(a, b):
    np.testing.assert_allclose(change_range(a, b), ratio_range(a, b), rtol=1e-6)


def pct(ratio: float) -> str:
    return f"{abs(ratio - 1):.0%}"


@pytest.mark.parametrize(("a", "b", "words"), [
    (150, 100, "between {lo} and {hi} higher, so the rise is likely real"),
    (100, 150, "between {hi} and {lo} lower, so the fall is likely real"),
    (105, 100, "anywhere from {lo} lower to {hi} higher, so it may be no real change"),
])
def test_the_reading_gives_a_range_and_what_to_try_next(a, b, words):
    totals = pd.DataFrame({"period": ["2023-24 Q1", "2023-24 Q2"], "referrals": [b, a]})
    text = finding(totals, np.array([True, True]), "quarter", "none", totals, rounded=False)
    low, high = ratio_range(a, b)
    change = f"{abs(a - b) / b:.0%} {'higher' if a > b else 'lower'}"
    assert text == (f"Referrals in 2023-24 Q2 ({a}) were {change} than in 2023-24 Q1 ({b}); allowing for chance, "
                    f"the true change is {words.format(lo=pct(low), hi=pct(high))}: split by service or need to see "
                    "where it comes from.")
    assert "p =" not in text


def financial_quarter(date: pd.Timestamp) -> str:
    year = financial_year_start(date)
    return f"{year}-{(year + 1) % 100:02d} Q{(date.month - 4) % 12 // 3 + 1}"


@pytest.fixture(scope="module")
def demo(directory, council_names):
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.release.gate import ReleaseInputs, build_release

    result = load_demo(directory, council_names, pseudonymisation_key())
    geographies = {"lsoa11": area_set("lsoa11", result.la_code), "ward": area_set("ward", result.la_code)}
    return result.cases, build_release(ReleaseInputs(result.cases, result.la_code, geographies))


def test_the_team_reading_on_the_demo(demo):
    from ehmap.views.trends import team_trends

    cases, _ = demo
    last = cases["referral_date"].max()
    quarters = pd.period_range(cases["referral_date"].min(), last, freq="Q-MAR")
    complete = [q for q in quarters if q.end_time.normalize() <= last and q.start_time >= cases["referral_date"].min()]
    latest, earlier = complete[-1], complete[-5]  # the same quarter a year before
    referred = cases["referral_date"].map(financial_quarter).value_counts()
    a, b = int(referred[financial_quarter(latest.start_time)]), int(referred[financial_quarter(earlier.start_time)])
    text = team_trends(cases, "quarter", "none").finding
    low, high = ratio_range(a, b)
    assert text.startswith(f"Referrals in {financial_quarter(latest.start_time)} ({a:,}) were {abs(a - b) / b:.0%} "
                           f"{'higher' if a > b else 'lower'} than in {financial_quarter(earlier.start_time)} "
                           f"({b:,}); allowing for chance, the true change is "), text
    assert pct(low) in text and pct(high) in text and "split by service or need" in text
    by_service = team_trends(cases, "quarter", "service").finding
    assert "the largest change is in " in by_service and by_service.endswith("so look there first.")


def test_the_released_reading_on_the_demo_uses_released_counts(demo):
    from ehmap.views.trends import released_trends

    cases, release = demo
    view = released_trends(release, "none", "all", cases["referral_date"].max().date())
    match = re.match(r"Referrals in (\S+ Q\d) \(about ([\d,]+)\) were .+ than in (\S+ Q\d) \(about ([\d,]+)\); "
                     r"allowing for chance, the true change is ", view.finding)
    assert match, view.finding
    table = view.table.set_index("period")["referrals"]
    for period, shown in ((match[1], match[2]), (match[3], match[4])):
        value = int(shown.replace(",", ""))
        assert value == table[period] and value % 5 == 0  # the released, rounded count
    low, high = ratio_range(int(match[2].replace(",", "")), int(match[4].replace(",", "")))
    assert pct(low) in view.finding and pct(high) in view.finding


@pytest.mark.parametrize("who", ["team", "viewer"])
def test_the_page_shows_the_reading_near_the_top(who, monkeypatch, tmp_path):
    at = run_demo_page("trends", who, monkeypatch, tmp_path)
    assert not at.exception, [e.message for e in at.exception]
    shown = page_texts(at)
    readings = [i for i, (_, text) in enumerate(shown) if text.startswith("Referrals in")]
    charts = [i for i, (kind, _) in enumerate(shown) if kind in ("arrow_vega_lite_chart", "vega_lite_chart",
                                                                  "arrow_data_frame")]
    assert readings and charts and readings[0] < charts[0], shown[:10]  # above the chart and the table
    reading = shown[readings[0]][1]
    assert "allowing for chance, the true change is" in reading and "p =" not in reading
    assert ("(about " in reading) is (who == "viewer")  # a viewer reads released, rounded counts


def test_months_are_said_as_words():
    months = [str(p) for p in pd.period_range("2024-03", "2025-03", freq="M")]  # 13 months: a year apart
    totals = pd.DataFrame({"period": months, "referrals": [121, *[100] * 11, 134]})
    text = finding(totals, np.ones(13, dtype=bool), "month", "none", totals, rounded=False)
    assert text.startswith("Referrals in March 2025 (134) were 11% higher than in March 2024 (121); allowing for ")
