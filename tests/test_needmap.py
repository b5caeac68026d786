"""Episodes by LSOA, rates with exact Poisson intervals, the team's exact table (ehmap.needmap), and the need map page
run headless (AppTest) for the team and for a viewer: its reading and its ranked areas with place names."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import poisson
from streamlit.testing.v1 import AppTest
from ward_support import lsoa11_wards

from ehmap.access import Role, User
from ehmap.audience import RELEASE_MARKING, SMALL_FLAG
from ehmap.needmap import CaseFilter, episodes_by_lsoa, need_map_table, poisson_rate_interval
from ehmap.store import DEMO_CHOICE
from ehmap.taxonomy import NEED_BITS
from tests.conftest import CROYDON
from ui.views import CHART_ROWS

VIEWER = User("vic@example.org", "Vic Viewer", Role.VIEWER, (CROYDON,), mode="oidc")

DA, DRUGS, HOUSING = NEED_BITS["domestic_abuse"], NEED_BITS["substance_use"], NEED_BITS["housing"]


def cases_frame(rows: list[tuple[str | None, str, int, str | None]]) -> pd.DataFrame:
    """Episodes shaped as ingest returns them: (lsoa11cd, referral date, needs mask, service)."""
    return pd.DataFrame(
        {
            "lsoa11cd": pd.Categorical([r[0] for r in rows]),
            "referral_date": pd.to_datetime([r[1] for r in rows]).astype("datetime64[s]"),
            "needs_mask": np.array([r[2] for r in rows], dtype=np.uint16),
            "service": pd.Categorical([r[3] for r in rows]),
        }
    )


@pytest.fixture
def cases() -> pd.DataFrame:
    return cases_frame(
        [
            ("L1", "2023-01-01", DA, "North"),
            ("L1", "2023-03-31", DA | DRUGS, "South"),
            ("L2", "2023-04-01", DRUGS, "North"),
            ("L2", "2023-06-30", HOUSING, None),
            ("L3", "2022-12-31", DA | HOUSING, "North"),
        ]
    )


# ---------------------------------------------------------------- filters


def test_no_filter_keeps_everything(cases):
    assert len(CaseFilter().apply(cases)) == 5


def test_filter_by_need(cases):
    assert CaseFilter(need="domestic_abuse").apply(cases)["lsoa11cd"].astype(str).tolist() == ["L1", "L1", "L3"]
    assert CaseFilter(need="substance_use").apply(cases)["referral_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2023-03-31",
        "2023-04-01",
    ]
    assert len(CaseFilter(need="education").apply(cases)) == 0


def test_filter_by_period_includes_both_ends(cases):
    first_quarter = CaseFilter(start=dt.date(2023, 1, 1), end=dt.date(2023, 3, 31)).apply(cases)
    assert first_quarter["referral_date"].dt.strftime("%Y-%m-%d").tolist() == ["2023-01-01", "2023-03-31"]
    assert len(CaseFilter(start=dt.date(2023, 4, 1)).apply(cases)) == 2
    assert len(CaseFilter(end=dt.date(2022, 12, 31)).apply(cases)) == 1


def test_filter_by_service(cases):
    assert len(CaseFilter(service="North").apply(cases)) == 3
    assert len(CaseFilter(service="Nobody").apply(cases)) == 0


def test_filters_combine(cases):
    chosen = CaseFilter(need="domestic_abuse", start=dt.date(2023, 1, 1), service="North").apply(cases)
    assert chosen["referral_date"].dt.strftime("%Y-%m-%d").tolist() == ["2023-01-01"]


def test_unknown_need_lists_the_valid_ones(cases):
    with pytest.raises(ValueError) as error:
        CaseFilter(need="drugs").apply(cases)
    assert str(error.value) == f"Unknown need 'drugs'; valid needs are {sorted(NEED_BITS)}."


# ---------------------------------------------------------------- counts


def test_episodes_by_lsoa_counts_with_zeros(cases):
    index = pd.Index(["L0", "L1", "L2", "L3", "L4"], name="lsoa11cd")
    counts = episodes_by_lsoa(cases, index)
    assert counts.index.tolist() == ["L0", "L1", "L2", "L3", "L4"]
    assert counts.tolist() == [0, 2, 2, 1, 0]


def test_episodes_outside_the_council_or_without_an_lsoa_are_not_counted():
    cases = cases_frame(
        [("L1", "2023-01-01", DA, None), ("ELSEWHERE", "2023-01-01", DA, None), (None, "2023-01-01", DA, None)]
    )
    assert episodes_by_lsoa(cases, pd.Index(["L1", "L2"])).tolist() == [1, 0]


# ---------------------------------------------------------------- intervals


def exact_poisson_interval(k: int, level: float = 0.95) -> tuple[float, float]:
    """Independent exact interval: the means at which P(X >= k) and P(X <= k) equal the tail probability."""
    tail = (1 - level) / 2
    lower = 0.0 if k == 0 else brentq(lambda mu: poisson.sf(k - 1, mu) - tail, 1e-9, 10 * k + 10)
    upper = brentq(lambda mu: poisson.cdf(k, mu) - tail, 1e-9, 10 * k + 20)
    return lower, upper


def test_interval_matches_published_table_values():
    # Exact 95% limits for a Poisson count (e.g. Garwood 1936; the standard table in PHE's technical guide).
    lower, upper = poisson_rate_interval(pd.Series([0, 1, 10]), pd.Series([1000, 1000, 1000]), per=1000)
    np.testing.assert_allclose(lower, [0.0, 0.0253, 4.795], atol=5e-4)
    np.testing.assert_allclose(upper, [3.689, 5.572, 18.390], atol=5e-4)


def test_interval_matches_an_independent_poisson_calculation():
    counts = pd.Series(range(0, 60))
    lower, upper = poisson_rate_interval(counts, pd.Series(1000, index=counts.index), per=1000)
    expected = np.array([exact_poisson_interval(k) for k in counts])
    np.testing.assert_allclose(lower.to_numpy(), expected[:, 0], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(upper.to_numpy(), expected[:, 1], rtol=1e-7)


def test_interval_scales_to_a_rate_per_1000():
    lower, upper = poisson_rate_interval(pd.Series([10]), pd.Series([2000]))
    np.testing.assert_allclose([lower.iloc[0], upper.iloc[0]], [4.795 / 2, 18.390 / 2], atol=5e-4)
    lower, upper = poisson_rate_interval(pd.Series([10]), pd.Series([500]), per=10_000)
    np.testing.assert_allclose([lower.iloc[0], upper.iloc[0]], [4.795 * 20, 18.390 * 20], atol=1e-2)


def test_interval_is_blank_without_a_population():
    lower, upper = poisson_rate_interval(pd.Series([3, 3]), pd.Series([0, np.nan]))
    assert lower.isna().all() and upper.isna().all()


# ---------------------------------------------------------------- the table shown


def lsoas_frame(codes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"lsoa11cd": codes, "lsoa11nm": [f"Area {code}" for code in codes]})


def repeat_cases(counts: dict[str, int]) -> pd.DataFrame:
    return cases_frame([(code, "2023-01-01", DA, "North") for code, n in counts.items() for _ in range(n)])


def test_team_table_shows_exact_counts_and_flags_small_ones():
    counts = {"L1": 0, "L2": 3, "L3": 7, "L4": 12, "L5": 25}
    population = pd.DataFrame({"lsoa11cd": list(counts), "children": [400, 300, 350, 600, 500]})
    table = need_map_table(repeat_cases(counts), lsoas_frame(list(counts)), CaseFilter(), population)
    areas = table.areas.set_index("lsoa11cd")
    assert areas["episodes"].tolist() == [0, 3, 7, 12, 25]
    assert areas["small"].tolist() == [False, True, False, False, False]  # 1 to 5: flagged, never hidden
    # Rates by hand: 3 / 300 * 1000 = 10.0, 7 / 350 = 20.0, 12 / 600 = 20.0, 25 / 500 = 50.0, 0 / 400 = 0.0.
    assert areas["rate"].tolist() == [0.0, 10.0, 20.0, 20.0, 50.0]
    assert areas.loc["L1", "rate_upper"] == round(3.689 / 400 * 1000, 1)
    assert table.council_total == 47
    assert table.has_rates
    assert "interpret with care" in table.note


def test_smoothed_rates_by_hand_on_the_true_counts():
    """Marshall's global estimator worked by hand on the exact counts (no stand-in for small ones)."""
    counts = {"L1": 0, "L2": 3, "L3": 7, "L4": 12, "L5": 25}
    children = np.array([400, 300, 350, 600, 500], dtype=float)
    population = pd.DataFrame({"lsoa11cd": list(counts), "children": children})
    table = need_map_table(repeat_cases(counts), lsoas_frame(list(counts)), CaseFilter(), population)
    used = np.array(list(counts.values()), dtype=float)
    b = used.sum() / children.sum()
    s2 = (children * (used / children - b) ** 2).sum() / children.sum()
    a = max(s2 - b / children.mean(), 0.0)
    by_hand = (b + a / (a + b / children) * (used / children - b)) * 1000
    assert table.areas["smoothed_rate"].tolist() == list(np.round(by_hand, 1))


def test_table_without_population_has_counts_only():
    counts = {"L1": 8, "L2": 9}
    table = need_map_table(repeat_cases(counts), lsoas_frame(list(counts)), CaseFilter(), None)
    assert not table.has_rates
    assert "rate" not in table.areas.columns
    assert table.areas["episodes"].tolist() == [8, 9]
    assert table.council_total == 17


def test_table_applies_the_filter(cases):
    table = need_map_table(cases, lsoas_frame(["L1", "L2", "L3"]), CaseFilter(need="housing"), None)
    assert table.areas["episodes"].tolist() == [0, 1, 1]


@pytest.fixture(scope="module")
def croydon_table():
    """A real Croydon table: LSOA i gets i mod 9 episodes, so many counts are 1-5."""
    from ehmap.geography import council_lsoas
    from ehmap.indicators import child_population

    lsoas = council_lsoas(CROYDON)[["lsoa11cd", "lsoa11nm"]]
    counts = {code: i % 9 for i, code in enumerate(lsoas["lsoa11cd"])}
    population = child_population()
    table = need_map_table(repeat_cases(counts), lsoas, CaseFilter(need="domestic_abuse"), population)
    return counts, population.set_index("lsoa11cd"), table


def test_real_croydon_team_table_is_exact(croydon_table):
    counts, _, table = croydon_table
    areas = table.areas.set_index("lsoa11cd")
    assert len(areas) == 220
    assert areas["episodes"].to_dict() == counts
    assert areas["small"].sum() == sum(1 <= n <= 5 for n in counts.values())
    assert table.council_total == sum(counts.values())


def test_real_croydon_rates_by_hand(croydon_table):
    counts, population, table = croydon_table
    areas = table.areas.set_index("lsoa11cd")
    assert len(areas) == 220
    for code, line in areas.iterrows():
        children = population.loc[code, "children"]
        assert line["children"] == children
        assert line["rate"] == round(counts[code] / children * 1000, 1)
        assert line["rate_lower"] <= line["rate"] <= line["rate_upper"]


# ---------------------------------------------------------------- the page: reading and ranked areas (AppTest)


APP = str(Path(__file__).resolve().parent.parent / "app.py")
TEAM_RANK_KEY = "need_map_rank_team_ward_lsoa11"


def unescaped(text: str) -> str:
    """Markdown shown through ehmap.text.plain, back to the characters it shows."""
    return re.sub(r"\\(.)", r"\1", text)


def need_map_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = DEMO_CHOICE  # the demo, whatever an earlier test saved and remembered
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def reading(at: AppTest) -> str:
    """The page's one reading: the info box that starts with the need and the period."""
    [text] = [t for t in (unescaped(i.value) for i in at.info) if re.search(r" by (ward|LSOA|LSOA 2021): ", t)]
    return text


@pytest.fixture(scope="module")
def croydon_lookup(data_dir) -> pd.DataFrame:
    """Croydon's LSOAs 2011 with their wards (May 2024), chained by hand from the ONS lookups."""
    return lsoa11_wards(data_dir).set_index("LSOA11CD")


def test_page_reads_and_ranks_wards_then_lsoas_for_the_team(directory, croydon_lookup, data_dir):
    at = need_map_page()
    text = reading(at)
    assert text.startswith("All needs, referrals ") and ", by ward: " in text and "council rate" in text
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1  # the caterpillar chart: intervals, rates and the council rate, highest rate first
    layers = json.loads(charts[0].proto.spec)["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["rule", "circle", "rule"]
    ranked = at.dataframe[0].value
    assert layers[0]["encoding"]["y"]["sort"] == list(ranked["Ward name"].head(CHART_ROWS))
    assert list(ranked.columns[:3]) == ["Rank", "Ward name", "Ward code"] and len(ranked) == 28
    wards = croydon_lookup.groupby("WD24CD")["WD24NM"].first()
    assert ranked.set_index("Ward code")["Ward name"].to_dict() == wards.to_dict()
    assert list(ranked["Rate per 1,000"]) == sorted(ranked["Rate per 1,000"], reverse=True)
    above = ranked[ranked["Against the council rate"] == "clearly above the council rate"]
    for name in above["Ward name"].head(4):
        assert name in text  # the reading names the wards the table shows clearly above
    assert (above["95% CI lower"] > 0).all()
    at.radio(key=TEAM_RANK_KEY).set_value("lsoa11").run()  # "LSOAs": those the map is on, LSOA 2021 by default
    assert not at.exception, [e.message for e in at.exception]
    assert ", by LSOA 2021: " in reading(at)
    ranked = at.dataframe[0].value
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    lsoa21s = lookup[lookup["LAD24CD"] == "E09000008"].set_index("LSOA21CD")
    assert list(ranked.columns[:4]) == ["Rank", "LSOA name", "LSOA code", "Ward"] and len(ranked) == 229
    assert ranked.set_index("LSOA code")["Ward"].to_dict() == lsoa21s["WD24NM"].to_dict()
    assert ranked.set_index("LSOA code")["LSOA name"].to_dict() == lsoa21s["LSOA21NM"].to_dict()
    at.radio(key="need_map_geography_team").set_value("lsoa11").run()  # the map on LSOA 2011: so is the ranking
    assert not at.exception, [e.message for e in at.exception]
    assert ", by LSOA: " in reading(at)
    ranked = at.dataframe[0].value
    assert list(ranked.columns[:4]) == ["Rank", "LSOA name", "LSOA code", "Ward"] and len(ranked) == 220
    assert ranked.set_index("LSOA code")["Ward"].to_dict() == croydon_lookup["WD24NM"].to_dict()
    assert ranked.set_index("LSOA code")["LSOA name"].to_dict() == croydon_lookup["LSOA11NM"].to_dict()
    small_counts = ranked["Episodes"].astype(int).between(1, 5)
    assert (ranked.loc[small_counts, "Note"] == SMALL_FLAG).all()


def test_page_reads_and_ranks_only_released_figures_for_a_viewer(directory, monkeypatch):
    monkeypatch.setattr("ui.datasets._signed_in_user", lambda: VIEWER)
    at = need_map_page()
    assert RELEASE_MARKING in [s.value for s in at.success]
    text = reading(at)
    assert ", by ward: " in text and "council rate" in text
    assert at.radio(key="need_map_rank_release_ward").options == ["Wards"]  # only the release's geography
    at.selectbox(key="need_map_need").set_value("domestic_abuse").run()
    assert not at.exception, [e.message for e in at.exception]
    text = reading(at)
    assert text.startswith("Safe from domestic abuse, ")
    ranked = at.dataframe[0].value
    assert list(ranked.columns[:3]) == ["Rank", "Ward name", "Ward code"] and len(ranked) == 28
    counts = [str(v) for v in ranked["Episodes"]]
    assert not [v for v in counts if v != "c" and (int(v) % 5 or 1 <= int(v) <= 7)]  # released counts only
    hidden = ranked["Episodes"] == "c"
    assert hidden.any() and ranked.loc[hidden, "Rate per 1,000"].isna().all()
    assert ranked.loc[hidden, "Rank"].isna().all()
    assert (ranked.loc[hidden, "Against the council rate"] == "hidden (a small count)").all()
    assert f"{int(hidden.sum())} wards with hidden counts (too small to share) are not ranked." in text
    captions = unescaped(" ".join(c.value for c in at.caption))
    assert "Shared rankings use the released counts" in captions and "never estimated" in captions
