"""The poverty page follows the chosen period like every page (issue 14, item 10): the team's free referral period
(also when chosen on another page) and the released financial year both change the comparison it shows, to the
figures counted independently for that period; run headless with AppTest on the demo."""

from __future__ import annotations

import datetime as dt
import re
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


def test_poverty_page_says_which_needs_an_export_holds_when_none_is_poverty(directory, council_names,
                                                                            forget_uploads):
    from ehmap.config import pseudonymisation_key
    from ehmap.exports import read_export
    from ehmap.ingest import ingest
    from tests.conftest import CROYDON, saved_dataset

    rows = ["Case ID,Family ID,Postcode,Referral Date,Needs"]
    postcodes = ["CR0 1AB", "CR0 2AE", "CR7 7JD", "SE25 4NX", "CR2 6HS", "CR0 0AA", "CR8 2BG"]
    for i in range(60):
        need = ["Money worries", "mental health", "Money worries;domestic abuse"][i % 3]
        rows.append(f"P{i},G{i // 2},{postcodes[i % len(postcodes)]},0{1 + i % 9}/03/2024,{need}")
    data = "\n".join(rows).encode()
    result = ingest(read_export(data, "no_poverty.csv"), CROYDON, directory, council_names, pseudonymisation_key())
    money = result.warnings["unrecognised_needs"]["Money worries"]
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = saved_dataset(result, "no_poverty.csv", data)
    at.run()
    at.switch_page("pages/poverty.py").run()
    assert not at.exception, [e.message for e in at.exception]
    shown = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]
    message = next(w for w in shown if w.startswith("No episode in this export records a poverty need"))
    assert f"\u201cMoney worries\u201d ({money:,})" in message and "Need map and case exports" in message
    assert "Improved mental and physical health" in message and "\u201cFinancial stability\u201d" in message
