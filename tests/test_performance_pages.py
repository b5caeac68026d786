"""The performance and trends pages for the team (AppTest, on the demo) and `python -m ehmap performance`: exact
figures, small counts flagged (the released views are tested in tests/test_views_performance.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
from browser_support import ARTIFACTS, screenshot_on_failure
from streamlit.testing.v1 import AppTest

from ehmap.audience import SMALL_FLAG, TEAM_MARKING
from ehmap.store import DEMO_CHOICE
from tests.conftest import REPO
from tests.test_performance import HEADER, ROWS

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def run_page(page_path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset"] = DEMO_CHOICE  # the demo, whatever an earlier test saved and remembered
    at.run()
    at.switch_page(page_path).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def unescaped(text: str) -> str:
    """Markdown shown through ehmap.text.plain, back to the characters it shows."""
    return re.sub(r"\\(.)", r"\1", text)


def test_performance_page_compares_services_fairly_on_the_demo(directory, data_dir):
    at = run_page("pages/performance.py")
    assert at.title[0].value == "Which services help most: Croydon"
    assert TEAM_MARKING in [w.value for w in at.warning]
    assert len(at.get("vega_lite_chart")) == 1
    readings = unescaped(" ".join(m.value for m in at.markdown))
    for service in ("Domestic Abuse Service", "Family Support Central", "Parenting Programme", "Youth Support"):
        assert f"{service}'s step-up rate to children's social care is " in readings  # every service is read
    captions = unescaped(" ".join(c.value for c in at.caption))
    assert "IDACI quintile" in captions and "same pseudonymised case ID" in captions and SMALL_FLAG in captions
    assert "All 9 outcome categories are counted and add up to the closed episodes" in captions
    frames = [f.value for f in at.dataframe]
    outcomes = next(f for f in frames if "Closed" in f.columns and "Service (team)" in f.columns)
    outcomes = outcomes.set_index("Service (team)")
    counts = [c for c in outcomes.columns if c not in {"Note"} and "%" not in c and "Median" not in c]
    for name, row in outcomes.iterrows():  # a count from 1 to 5 is shown exactly and flagged in the note
        assert row["Note"].startswith(SMALL_FLAG) == any(1 <= row[c] <= 5 for c in counts), name
    assert outcomes.loc["Parenting Programme", "Step-up %"] == round(
        outcomes.loc["Parenting Programme", "Stepped up to children's social care"]
        / outcomes.loc["Parenting Programme", "Closed"] * 100, 1)
    categories = [c for c in outcomes.columns if c in {
        "Needs met", "Stepped up to children's social care", "Stepped down to universal services",
        "Transferred to another service", "Declined or withdrew consent", "Disengaged", "Moved out of area",
        "No further action after assessment", "Other"}]
    assert len(categories) == 9
    assert (outcomes[categories].sum(axis=1) == outcomes["Closed"]).all()
    assert (outcomes["Closed"] + outcomes["Still open"] == outcomes["Episodes"]).all()


def test_performance_page_by_referral_source_and_raw_rates(directory, data_dir):
    at = run_page("pages/performance.py")
    at.selectbox(key="performance_by").set_value("referral_source")
    at.toggle(key="performance_adjusted").set_value(False)
    at.selectbox(key="performance_measure").set_value("rereferral").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Referral source" in at.dataframe[-1].value.columns
    assert any("for its number of episodes" in unescaped(m.value) for m in at.markdown)


def test_trends_page_draws_quarterly_referrals_by_service_exactly(directory):
    at = run_page("pages/trends.py")
    assert at.title[0].value == "Trends: Croydon"
    assert len(at.get("vega_lite_chart")) == 1
    at.radio(key="trends_frequency").set_value("quarter")
    at.selectbox(key="trends_by").set_value("service").run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    assert set(table["Group"]) >= {"Parenting Programme", "Youth Support"}
    small = table["Referrals"].between(1, 5)
    assert small.any() and table.loc[small, "Note"].str.contains("referrals").all()


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
    # the CLI user is an analyst on their own machine: exact counts, small ones flagged
    assert table.loc[0, "step_up"] == "2" and table.loc[1, "step_up"] == "2"
    assert table.loc[0, "note"].startswith(SMALL_FLAG) and table.loc[0, "declined_consent"] == "0"


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
