"""The performance and trends pages (AppTest, on the demo) and `python -m ehmap performance`: no count 1-5."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from browser_support import ARTIFACTS, screenshot_on_failure
from tests.test_performance import HEADER, ROWS

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def run_page(page_path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page_path).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def small_counts(at: AppTest) -> list[str]:
    """Every cell of every table on the page that is a whole number from 1 to 5 in a count column."""
    found = []
    for frame in at.dataframe:
        value: pd.DataFrame = frame.value
        for column in value.columns:
            if value[column].dtype == object or str(value[column].dtype).startswith("string"):
                found += [
                    f"{column}={v}" for v in value[column] if isinstance(v, str) and v.isdigit() and 1 <= int(v) <= 5
                ]
            elif column in {"Referrals", "Open caseload (end of period)", "Closures"}:
                found += [f"{column}={v}" for v in value[column].dropna() if 1 <= v <= 5]
    return found


def test_performance_page_compares_services_fairly_on_the_demo(directory, data_dir):
    at = run_page("pages/performance.py")
    assert at.title[0].value == "Which services help most: Croydon"
    assert len(at.get("vega_lite_chart")) == 1
    readings = " ".join(m.value for m in at.markdown)
    assert (
        "Domestic Abuse Service's step-up rate to children's social care is within the expected range for its case mix"
        in readings
    )
    assert (
        "Family Support Central's step-up rate to children's social care is higher than expected for its case mix"
        in readings
    )
    captions = " ".join(c.value for c in at.caption)
    assert "IDACI quintile" in captions and "same pseudonymised case ID" in captions and "shown as 'c'" in captions
    outcomes = at.dataframe[1].value.set_index("Service (team)")
    assert outcomes.loc["Parenting Programme", "Stepped up"] == "c"
    assert pd.isna(outcomes.loc["Parenting Programme", "Step-up %"])
    assert outcomes.loc["All", "Episodes"] == "4377"
    assert not small_counts(at), small_counts(at)


def test_performance_page_by_referral_source_and_raw_rates_shows_no_small_count(directory, data_dir):
    at = run_page("pages/performance.py")
    at.selectbox(key="performance_by").set_value("referral_source")
    at.toggle(key="performance_adjusted").set_value(False)
    at.selectbox(key="performance_measure").set_value("rereferral").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Referral source" in at.dataframe[-1].value.columns
    assert any("for its number of episodes" in m.value for m in at.markdown)
    assert not small_counts(at), small_counts(at)


def test_trends_page_draws_quarterly_referrals_by_service_without_small_counts(directory):
    at = run_page("pages/trends.py")
    assert at.title[0].value == "Trends: Croydon"
    assert len(at.get("vega_lite_chart")) == 1
    at.radio(key="trends_frequency").set_value("quarter")
    at.selectbox(key="trends_by").set_value("service").run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    assert set(table["Group"]) >= {"Parenting Programme", "Youth Support"}
    assert "c" in set(table["Referrals"]) or (table["Referrals"] != "c").all()
    assert not small_counts(at), small_counts(at)


def test_performance_cli_writes_the_table_and_states_the_rules(tmp_path):
    export = tmp_path / "cases.csv"
    export.write_text(HEADER + "".join(",".join(row) + "\n" for row in ROWS), encoding="utf-8")
    out = tmp_path / "perf.csv"
    run = subprocess.run(
        [sys.executable, "-m", "ehmap", "performance", str(export), "--by", "service", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "same pseudonymised case ID" in run.stdout and "1 groups by service" in run.stdout
    table = pd.read_csv(out, dtype=str)
    assert table.columns[0] == "Service (team)"
    assert table["Service (team)"].tolist() == ["Team A", "All"]
    assert table.loc[0, "step_up"] == "c" and table.loc[1, "step_up"] == "2"


def test_performance_and_trends_pages_render_in_chromium_offline(app_url, page):  # noqa: F811
    with screenshot_on_failure(page, "performance_pages"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Which services help most").click()
        chart = page.locator('[data-testid="stVegaLiteChart"]').locator("canvas, svg")
        chart.first.wait_for(state="attached", timeout=90_000)
        page.get_by_text("is within the expected range for its case mix").first.wait_for(timeout=30_000)
        assert page.get_by_text("Which services help most: Croydon").is_visible()
        page.screenshot(path=str(ARTIFACTS / "performance.png"))
        page.get_by_role("link", name="Trends").click()
        page.get_by_text("Trends: Croydon").wait_for(timeout=60_000)
        page.locator('[data-testid="stVegaLiteChart"]').locator("canvas, svg").first.wait_for(
            state="attached", timeout=60_000
        )
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
