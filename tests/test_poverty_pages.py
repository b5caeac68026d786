"""The poverty page follows the chosen period like every page (issue 14, item 10): the team's free referral period
(also when chosen on another page) and the released financial year both change the comparison it shows, to the
figures counted independently for that period; run headless with AppTest on the demo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from ehmap.context import MOST_DEPRIVED_FIFTH, POVERTY_NEEDS
from ehmap.store import DEMO_CHOICE
from ehmap.taxonomy import NEED_BITS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
KEY = b"0123456789abcdef"


def comparison(at: AppTest) -> pd.DataFrame:
    assert not at.exception, [e.message for e in at.exception]
    return next(f.value for f in at.dataframe if "Families living in" in f.value.columns)


def families_in_period(cases: pd.DataFrame, decile: pd.Series, start: dt.date, end: dt.date) -> list[int]:
    """Plain pandas: families in the most deprived fifth and elsewhere, among episodes referred in the period."""
    chosen = cases[(cases["referral_date"] >= pd.Timestamp(start)) & (cases["referral_date"] <= pd.Timestamp(end))]
    family = chosen["family_id"].astype(object).where(chosen["family_id"].notna(), chosen["case_id"])
    latest = chosen.assign(family=family.to_numpy()).sort_values("referral_date").groupby("family").tail(1)
    inside = int((latest["lsoa11cd"].astype(str).map(decile) <= MOST_DEPRIVED_FIFTH).sum())
    return [inside, len(latest) - inside]


def test_poverty_page_follows_the_team_period_chosen_on_any_page(directory, council_names, data_dir):
    from ehmap.context import council_context
    from ehmap.demo import load_demo

    cases = load_demo(directory, council_names, KEY).cases
    decile = council_context("E09000008", ["iod2019"]).areas.set_index("lsoa11cd")["iod2019_idaci_decile"]
    assert (cases["needs_mask"].to_numpy() & sum(NEED_BITS[n] for n in POVERTY_NEEDS)).any()
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = DEMO_CHOICE
    at.run()
    at.switch_page("pages/performance.py").run()  # the period is chosen on the services page...
    year = (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    at.date_input(key="performance_period").set_value(year).run()
    at.switch_page("pages/poverty.py").run()  # ...and the poverty page follows it
    assert at.date_input(key="poverty_period").value == year
    assert list(comparison(at)["Families"]) == families_in_period(cases, decile, *year)
    whole = (cases["referral_date"].min().date(), cases["referral_date"].max().date())
    at.date_input(key="poverty_period").set_value(whole).run()
    assert list(comparison(at)["Families"]) == families_in_period(cases, decile, *whole)
    assert families_in_period(cases, decile, *whole) != families_in_period(cases, decile, *year)


def test_released_poverty_page_follows_the_financial_year(directory, data_dir):
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = DEMO_CHOICE
    at.session_state["show_released"] = True
    at.run()
    at.switch_page("pages/poverty.py").run()
    picker = at.selectbox(key="poverty_release_period")
    tables = {}
    for option in picker.options[:2]:  # the latest financial year, then the one before
        at.selectbox(key="poverty_release_period").select(option).run()
        tables[option] = list(comparison(at)["Families"])
        assert all(v % 5 == 0 for v in tables[option])  # released (rounded) counts
    first, second = tables.values()
    assert first != second
