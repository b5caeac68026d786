"""Periods follow the data (issue 17): a period chosen on the demo never narrows another dataset, and every page that
filters by period says which period is in force and how many episodes fall outside it. Run headless (AppTest) through
the real frame, on the demo and on a saved Croydon export whose referrals run past the demo's last date."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ehmap.referral_period import ChosenPeriod, episodes_outside, period_in_force, period_sentence
from tests.conftest import CROYDON, REPO, saved_dataset
from tests.synthetic_export import make_export

APP = str(REPO / "app.py")
FIRST, LAST = dt.date(2023, 4, 1), dt.date(2025, 9, 30)  # the export's referrals; the demo's end on 31/03/2025


@pytest.fixture(scope="module")
def demo_cases(directory, council_names) -> pd.DataFrame:
    """The demo's accepted episodes, ingested as the app does."""
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return load_demo(directory, council_names, pseudonymisation_key()).cases


@pytest.fixture(scope="module")
def longer_export(directory, council_names) -> tuple[int, int]:
    """A realistic Croydon export (fictional episodes at real CR postcodes) referred 01/04/2023 to 30/09/2025, saved
    in the team store as an upload is: (its dataset id, its accepted episodes)."""
    from ehmap.config import pseudonymisation_key
    from ehmap.exports import read_export
    from ehmap.ingest import ingest

    export = make_export(directory, CROYDON, ("CR",), episodes=2600, first=str(FIRST), last=str(LAST), seed=17)
    export.loc[[0, 1], "Referral Date"] = [f"{FIRST:%d/%m/%Y}", f"{LAST:%d/%m/%Y}"]  # the span's own ends
    export.loc[1, ["Closure Date", "Closure Reason"]] = ""
    data = export.to_csv(index=False).encode()
    result = ingest(read_export(data, "croydon_to_sept_2025.csv"), CROYDON, directory, council_names,
                    pseudonymisation_key())
    dates = result.cases["referral_date"]
    assert result.accepted > 2000 and dates.min().date() == FIRST and dates.max().date() == LAST
    return saved_dataset(result, "croydon_to_sept_2025.csv", data), result.accepted


def need_map(dataset: int | str = "demo") -> AppTest:
    """The app's first page, the need map, on a dataset (else the one this user chose last time would be used)."""
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = dataset
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.date_input(key="need_map_period") is not None
    return at


def period_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Showing referrals ")]


def council_total(at: AppTest) -> int:
    [metric] = [m for m in at.metric if m.label == "Episodes in the council"]
    return int(str(metric.value).replace(",", ""))


def test_a_period_chosen_on_the_demo_never_narrows_a_longer_upload(demo_cases, longer_export):
    saved, accepted = longer_export
    at = need_map()
    first, last = demo_cases["referral_date"].min().date(), demo_cases["referral_date"].max().date()
    assert at.date_input(key="need_map_period").value == (first, last)
    everything = f"Showing referrals {first:%d/%m/%Y} to {last:%d/%m/%Y}: 0 of {len(demo_cases):,} episodes are " \
        "outside this period."
    assert period_captions(at) == [everything]
    # an analyst narrows the demo's period to one year: the caption says how many episodes that leaves out
    year = (dt.date(2024, 4, 1), dt.date(2025, 3, 31))
    at.date_input(key="need_map_period").set_value(year).run()
    outside = int((~demo_cases["referral_date"].between(pd.Timestamp(year[0]), pd.Timestamp(year[1]))).sum())
    assert 0 < outside < len(demo_cases)
    assert period_captions(at) == [f"Showing referrals 01/04/2024 to 31/03/2025: {outside:,} of {len(demo_cases):,} "
                                   "episodes are outside this period."]
    # switching to the saved export on the same page starts from its own full span: every episode is counted
    at.selectbox(key="dataset").set_value(saved).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.date_input(key="need_map_period").value == (FIRST, LAST)
    assert council_total(at) == accepted
    assert period_captions(at) == [f"Showing referrals 01/04/2023 to 30/09/2025: 0 of {accepted:,} episodes are "
                                   "outside this period."]
    # and so on every other page that filters by period
    for page, key in (("trends", "trends_period"), ("hotspots", "hotspots_period")):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.date_input(key=key).value == (FIRST, LAST)
        assert period_captions(at) == [f"Showing referrals 01/04/2023 to 30/09/2025: 0 of {accepted:,} episodes are "
                                       "outside this period."]
    # back to the demo: its full span again, not the year chosen on it before the switch
    at.selectbox(key="dataset").set_value("demo").run()
    assert at.date_input(key="hotspots_period").value == (first, last)
    assert period_captions(at) == [everything]


def test_a_period_chosen_on_a_dataset_stays_while_that_dataset_is_in_use(longer_export):
    saved, accepted = longer_export
    at = need_map(saved)
    at.date_input(key="need_map_period").set_value((dt.date(2025, 4, 1), LAST)).run()
    at.switch_page("pages/performance.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.date_input(key="performance_period").value == (dt.date(2025, 4, 1), LAST)
    [caption] = period_captions(at)
    assert caption.startswith("Showing referrals 01/04/2025 to 30/09/2025: ")
    assert caption.endswith(f" of {accepted:,} episodes are outside this period.") and " 0 of " not in caption


def test_the_released_view_falls_back_to_the_latest_year_of_the_new_datasets_release(longer_export):
    saved, _ = longer_export
    at = need_map()
    at.toggle(key="show_released").set_value(True).run()
    assert at.selectbox(key="need_map_release_period").value == "2024-25"  # the demo's latest year
    at.selectbox(key="need_map_release_period").set_value("2022-23").run()  # a year the export does not cover
    at.selectbox(key="dataset").set_value(saved).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="need_map_release_period").value == "2025-26"  # the year holding 30/09/2025
    assert period_captions(at) == []  # no exact count of episodes outside in a released view


def test_the_period_logic_without_streamlit():
    cases = pd.DataFrame({"referral_date": pd.to_datetime(["2023-04-01", "2024-01-15", "2025-09-30"])})
    assert period_in_force(None, "7:abc", cases) == ChosenPeriod("7:abc", dt.date(2023, 4, 1), dt.date(2025, 9, 30))
    demo_period = ChosenPeriod("demo:demo", dt.date(2022, 4, 1), dt.date(2025, 3, 31))
    assert period_in_force(demo_period, "7:abc", cases).end == dt.date(2025, 9, 30)  # another dataset's: reset
    mine = ChosenPeriod("7:abc", dt.date(2020, 1, 1), dt.date(2024, 3, 31))
    assert period_in_force(mine, "7:abc", cases) == ChosenPeriod("7:abc", dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    assert episodes_outside(cases, dt.date(2024, 1, 15), dt.date(2024, 1, 15)) == 2
    assert period_sentence(dt.date(2024, 4, 1), dt.date(2025, 3, 31), 812, 2600) == (
        "Showing referrals 01/04/2024 to 31/03/2025: 812 of 2,600 episodes are outside this period.")
    assert period_sentence(dt.date(2024, 4, 1), dt.date(2025, 3, 31), 1, 2600).endswith(
        "1 of 2,600 episodes is outside this period.")
