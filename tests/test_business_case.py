"""The business-case calculator (`ehmap.business_case`), its CLI and page: hand-worked sums, shipped unit costs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from ehmap.audience import SMALL_FLAG
from ehmap.business_case import (
    NATIONAL_REFERENCE,
    Assumption,
    costs_avoided,
    council_outcomes,
    cut_impact,
    default_assumptions,
    financial_year,
    read_deflators,
    read_unit_costs,
    uprate,
    with_assumption,
)
from ehmap.taxonomy import NEED_BITS
from tests.conftest import CROYDON, REPO

# domain.md §5, GMCA Unit Cost Database v1.4: code -> (£, price year), exactly as the digest gives them
DOMAIN_TABLE = {
    "SS1.0": (51080, "2013/14"), "SS2.0": (700, "2013/14"), "SS3.0": (2995, "2013/14"),
    "SS5.0": (1416, "2008/09"), "SS5.0.7": (511, "2008/09"), "SS4.1": (25000, "2005/06"),
    "CR2.0": (2470, "2008/09"), "CR2.0.3": (415, "2008/09"), "CR1.0": (500, "2002/03"),
    "E&S2.0": (9219, "2005/06"), "E&S1.0": (1509, "2005/06"), "E&E1.0": (9800, "2012/13"),
    "E&E10.0": (4257, "2010/11"), "HO3.0": (2501, "2010/11"), "HE12.2": (4608, "2013/14"),
    "SS18.10": (30, "2013/14"),
}


def test_shipped_unit_costs_are_domain_table_exactly():
    costs = read_unit_costs()
    assert list(costs.columns) == ["code", "item", "value", "unit", "price_year", "source"]
    got = {row.code: (row.value, row.price_year) for row in costs.itertuples()}
    assert got == DOMAIN_TABLE
    assert (costs["source"] == "GMCA Unit Cost Database v1.4").all()
    assert costs.set_index("code").loc["SS18.10", "unit"] == "per hour"


@pytest.mark.parametrize(("text", "year"), [("2013/14", "2013/14"), ("2013-14", "2013/14"), ("2013/2014", "2013/14"),
                                            (2013, "2013/14"), ("1999/00", "1999/00")])
def test_financial_years(text, year):
    assert financial_year(text) == year


def test_financial_year_errors_say_how_to_write_one():
    with pytest.raises(ValueError, match="'2013/15' is not a financial year: the second year must follow"):
        financial_year("2013/15")
    with pytest.raises(ValueError, match="'last year' is not a financial year; write it as 2013/14"):
        financial_year("last year")


# ---------------------------------------------------------------------------------------------- uprating

DEFLATORS = pd.Series({"2005/06": 75.0, "2008/09": 80.0, "2013/14": 90.0, "2024/25": 120.0})


def test_uprating_by_hand():
    costs = read_unit_costs()
    costs = costs[costs["code"].isin(["SS5.0", "E&S2.0", "SS18.10"])]
    up = uprate(costs, DEFLATORS, "2024/25").set_index("code")
    assert_allclose(up.loc["SS5.0", "uprated"], 1416 * 120 / 80)  # 2124
    assert_allclose(up.loc["E&S2.0", "uprated"], 9219 * 120 / 75)  # 14750.4
    assert_allclose(up.loc["SS18.10", "uprated"], 30 * 120 / 90)  # 40
    assert set(up["price_basis"]) == {"2024/25"}
    # to an earlier year too, and the default target is the series' latest
    assert_allclose(uprate(costs, DEFLATORS, "2008/09").set_index("code").loc["SS18.10", "uprated"], 30 * 80 / 90)
    assert set(uprate(costs, DEFLATORS)["price_basis"]) == {"2024/25"}


def test_without_deflators_costs_stay_in_their_own_price_year():
    up = uprate(read_unit_costs()).set_index("code")
    assert up.loc["SS5.0", "uprated"] == 1416 and up.loc["SS5.0", "price_basis"] == "2008/09"
    assert up.loc["E&S2.0", "price_basis"] == "2005/06"


def test_uprating_names_the_missing_years():
    with pytest.raises(ValueError, match="no index for 2002/03, 2010/11, 2012/13; add those years"):
        uprate(read_unit_costs(), DEFLATORS, "2024/25")


def test_read_deflators_from_csv(tmp_path):
    path = tmp_path / "deflators.csv"
    path.write_text("# HM Treasury GDP deflator (example)\nYear,Index\n2008-09,80\n2024-25,120\n", encoding="utf-8")
    series = read_deflators(path)
    assert series.to_dict() == {"2008/09": 80.0, "2024/25": 120.0}
    path.write_text("year,value\n2008-09,80\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs columns year and index; got year, value"):
        read_deflators(path)
    path.write_text("year,index\n2008-09,-1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must be a number above 0"):
        read_deflators(path)


def test_unit_cost_table_errors_name_the_problem():
    with pytest.raises(ValueError, match="has no price_year column"):
        read_unit_costs(pd.DataFrame({"code": ["X"], "value": ["1"]}))
    with pytest.raises(ValueError, match="Unit cost X has no usable value"):
        read_unit_costs(pd.DataFrame({"code": ["X"], "value": ["lots"], "price_year": ["2013/14"]}))
    pounds = read_unit_costs(pd.DataFrame({"code": ["X"], "value": ["£1,234"], "price_year": ["2013"]}))
    assert pounds["value"][0] == 1234 and pounds["price_year"][0] == "2013/14"


# ---------------------------------------------------------------------------------------------- calculation

def constructed_cases() -> pd.DataFrame:
    """100 closed episodes: 10 stepped up, 20 domestic abuse needs met, 10 education needs met; plus 5 open."""
    outcome = ["step_up_csc"] * 10 + ["needs_met"] * 30 + ["disengaged"] * 60 + [None] * 5
    needs = [NEED_BITS["health"]] * 10 + [NEED_BITS["domestic_abuse"]] * 20 + [NEED_BITS["education"]] * 10 + \
        [NEED_BITS["domestic_abuse"]] * 60 + [NEED_BITS["domestic_abuse"]] * 5
    end = [pd.Timestamp("2023-06-01")] * 100 + [pd.NaT] * 5
    return pd.DataFrame({
        "referral_date": pd.Timestamp("2023-01-01"), "end_date": end, "outcome": outcome,
        "needs_mask": np.array(needs, dtype="int64"), "service": ["Team A"] * 50 + ["Team B"] * 55,
    })


def given(**ranges) -> dict[str, Assumption]:
    base = default_assumptions(0.1)
    return base | {
        key: Assumption(key, base[key].label, *values, base[key].unit, "test") for key, values in ranges.items()
    }


ASSUMED = given(counterfactual_step_up=(12, 15, 20), cin_periods=(1, 1, 2), s47_share=(0, 50, 100),
                da_incidents=(0, 0.5, 1), exclusions_avoided=(0, 1, 5), hours_per_episode=(20, 40, 60))


def test_council_outcomes_counts():
    outcomes = council_outcomes(constructed_cases())
    counts = (outcomes.closed, outcomes.step_ups, outcomes.da_needs_met, outcomes.education_needs_met)
    assert counts == (100, 10, 20, 10)
    assert outcomes.step_up_rate == 0.1


def test_low_central_high_by_hand():
    case = costs_avoided(constructed_cases(), assumptions=ASSUMED)
    lines = case.lines.set_index("line")
    # step-ups avoided = 100 × (counterfactual − 10%) × CIN periods: 2 / 5 / 20, × £1,416
    assert_allclose(lines.loc["step_up_cin", ["events_low", "events_central", "events_high"]].astype(float), [2, 5, 20])
    assert_allclose(lines.loc["step_up_cin", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [2832, 7080, 28320])
    # s47: step-ups avoided × share: 2×0 / 5×0.5 / 10×1, × £511
    assert_allclose(lines.loc["step_up_s47", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [0, 1277.5, 5110])
    # domestic abuse: 20 families × 0 / 0.5 / 1 incidents × £2,470
    assert_allclose(lines.loc["domestic_abuse", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [0, 24700, 49400])
    # exclusions: 10 children × 0 / 1 / 5 % × £9,219
    assert_allclose(lines.loc["exclusion", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [0, 921.9, 4609.5])
    # without a deflator: one total at the table's latest price year, the older costs added as they are and said so
    assert case.total() is None and set(lines["price_basis"]) == {"2008/09", "2005/06"}
    headline = case.headline()
    assert (headline.year, headline.not_uprated, headline.partial) == ("2013/14", ("2005/06", "2008/09"), False)
    assert_allclose([headline.low, headline.central, headline.high],
                    [2832, 7080 + 1277.5 + 24700 + 921.9, 28320 + 5110 + 49400 + 4609.5])
    assert "not uprated, so the totals understate them" in case.notes[0] and "2013/14 prices" in case.notes[0]


def test_uprated_result_adds_up_in_one_price_year():
    case = costs_avoided(constructed_cases(), assumptions=ASSUMED, deflators=DEFLATORS, year="2024/25")
    lines = case.lines.set_index("line")
    assert_allclose(lines.loc["step_up_cin", "cost_central"], 5 * 1416 * 120 / 80)
    assert_allclose(lines.loc["exclusion", "cost_high"], 0.5 * 9219 * 120 / 75)
    assert_allclose(case.total(), [lines[f"cost_{level}"].sum() for level in ("low", "central", "high")])
    headline = case.headline()
    assert headline.year == "2024/25" and headline.not_uprated == () and headline.caveats() == []
    assert_allclose([headline.low, headline.central, headline.high], case.total())
    assert "not uprated" not in " ".join(case.notes)


def test_assumptions_move_the_result_as_they_should():
    cases = constructed_cases()
    central = lambda a: costs_avoided(cases, assumptions=a).lines.set_index("line")["cost_central"]  # noqa: E731
    before = central(ASSUMED)
    more_da = central(with_assumption(ASSUMED, "da_incidents", central=0.8))
    assert_allclose(more_da["domestic_abuse"], before["domestic_abuse"] * 0.8 / 0.5)
    assert_allclose(more_da.drop("domestic_abuse"), before.drop("domestic_abuse"))
    higher = central(with_assumption(ASSUMED, "counterfactual_step_up", central=18))
    assert higher["step_up_cin"] > before["step_up_cin"] and higher["step_up_s47"] > before["step_up_s47"]
    # a counterfactual at or below the observed rate avoids nothing (never a negative saving)
    none = costs_avoided(cases, assumptions=given(counterfactual_step_up=(5, 8, 10))).lines.set_index("line")
    assert (none.loc["step_up_cin", ["cost_low", "cost_central", "cost_high"]] == 0).all()


def test_assumptions_are_checked_and_listed_beside_the_result():
    with pytest.raises(ValueError, match=r"Share of step-ups with a section 47 enquiry: low \(60\) ≤ central \(50\)"):
        with_assumption(ASSUMED, "s47_share", low=60)
    table = costs_avoided(constructed_cases(), assumptions=ASSUMED).assumptions()
    assert list(table.columns) == ["assumption", "low", "central", "high", "unit", "basis"]
    assert "Step-up rate without early help" in set(table["assumption"])
    unit = table[table["assumption"].str.startswith("Unit cost: Section 47")].iloc[0]
    assert unit["central"] == 511 and "SS5.0.7" in unit["basis"] and "2008/09" in unit["basis"]


def test_default_counterfactual_is_derived_from_the_observed_rate():
    a = default_assumptions(0.10)["counterfactual_step_up"]
    assert (a.low, a.central, a.high) == (12.4, 14.7, 17.1)  # 10% × (1 + 0.47/2, 2.5/1.7, 1 + 1.5 × 0.47)
    assert "[assumption]" in a.basis and "2.5/1.7" in a.basis


def test_cut_by_hand():
    cut = cut_impact(constructed_cases(), "Team A", 12_000, assumptions=ASSUMED)
    assert cut.cost_per_episode == (600, 1200, 1800)  # 20 / 40 / 60 hours × £30 (SS18.10)
    assert_allclose(cut.episodes_lost, [12_000 / 1800, 10, 20])
    lines = cut.lines.set_index("line")
    # each lost episode forgoes the council's average per closed episode: DA 20 × 0.5 / 100 × £2,470 = £247
    assert_allclose(lines.loc["domestic_abuse", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [0, 10 * 247, 20 * 494])
    # step-ups: central 10 episodes × 5/100 × £1,416; high 20 × 20/100 × £1,416
    assert_allclose(lines.loc["step_up_cin", ["cost_central", "cost_high"]].astype(float), [708, 5664])
    # children entering care: episodes lost × 0.4 / 0.8 / 1.2 points × 0.5 / 1 / 2 years × £51,080 (SS1.0)
    assert_allclose(lines.loc["care_entry", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [12_000 / 1800 * 0.004 * 0.5 * 51080, 10 * 0.008 * 51080, 20 * 0.012 * 2 * 51080])
    assert cut.service_episodes == "50"
    # over the stated horizon: a year's costs for each year, against what the cut saves
    yearly, shifted = cut.yearly(), cut.shifted()
    assert_allclose(yearly.central, lines["cost_central"].sum())
    assert_allclose([shifted.low, shifted.central, shifted.high],
                    [3 * lines[f"cost_{level}"].sum() for level in ("low", "central", "high")])
    assert cut.horizon == 3 and cut.saved == 36_000
    assert_allclose(cut.national_benefit, 36_000 * 11200 / 5214)  # DCLG 2015 Phase 1 averages, as published
    assert shifted.year == "2013/14" and shifted.not_uprated == ("2005/06", "2008/09")
    assert "not uprated, so the totals understate them" in " ".join(cut.notes)


def test_cut_errors_and_a_small_service_count_exact_and_flagged():
    cases = constructed_cases()
    with pytest.raises(ValueError, match="'Team C' is not a service in the data; choose one of Team A, Team B"):
        cut_impact(cases, "Team C", 1000)
    with pytest.raises(ValueError, match="must be an amount of pounds above 0; got -5"):
        cut_impact(cases, "Team A", -5)
    cases.loc[:2, "service"] = "Tiny Team"
    cut = cut_impact(cases, "Tiny Team", 1000, assumptions=ASSUMED)
    assert cut.service_episodes == "3"
    assert "Tiny Team has fewer than 6 episodes in the period: interpret with care." in cut.notes


def test_a_line_on_a_small_council_count_is_flagged_not_hidden():
    cases = constructed_cases()
    cases.loc[30:35, "needs_mask"] = NEED_BITS["health"]  # education needs met: 10 -> 4
    case = costs_avoided(cases, assumptions=ASSUMED)
    lines = case.lines.set_index("line")
    assert lines.loc["exclusion", "base_count"] == 4 and lines.loc["exclusion", "note"] == SMALL_FLAG
    # exclusions: 4 children x 0 / 1 / 5 % x £9,219, by hand
    assert_allclose(lines.loc["exclusion", ["cost_low", "cost_central", "cost_high"]].astype(float),
                    [0, 368.76, 1843.8])
    assert (lines.drop("exclusion")["note"] == "").all()


def test_national_reference_keeps_its_caveats():
    caveats = {figure: caveat for figure, _, caveat in NATIONAL_REFERENCE}
    assert caveats["£2.28 of benefit for every £1 spent"] == "[unverified]"
    assert any("1.7% against 2.5%" in figure for figure in caveats)


# ---------------------------------------------------------------------------------------------- CLI and page


def test_business_case_cli_on_the_demo(tmp_path):
    deflators = tmp_path / "deflators.csv"
    deflators.write_text("year,index\n2005-06,75\n2008-09,80\n2024-25,120\n", encoding="utf-8")
    out = tmp_path / "case.csv"
    run = subprocess.run(
        [sys.executable, "-m", "ehmap", "business-case", "demo/croydon_cases.csv", "--costs",
         "ehmap/data/unit_costs_gmca_v1_4.csv", "--deflators", str(deflators), "--year", "2024/25", "--out", str(out)],
        cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    from ehmap.business_case import money_short

    total = f"total about {money_short(table['cost_central'].sum())} (range {money_short(table['cost_low'].sum())} to"
    assert re.search(rf"4 cost lines from \d+ episodes of {CROYDON}; {re.escape(total)} .* at 2024/25 prices",
                     run.stdout), run.stdout
    assert table["line"].tolist() == ["step_up_cin", "step_up_s47", "domestic_abuse", "exclusion"]
    assert set(table["price_basis"]) == {"2024/25"}
    assert table.set_index("code").loc["SS5.0", "unit_cost"] == 2124
    assert (table["cost_low"] <= table["cost_central"]).all() and (table["cost_central"] <= table["cost_high"]).all()
    assert_allclose(table["cost_central"], table["events_central"] * table["unit_cost"], rtol=1e-3)
    assert table["assumptions"].str.contains("low|/", regex=True).all()
    assert (table["base_count"] >= 6).all()


def test_business_case_cli_errors_in_one_sentence(tmp_path):
    costs = tmp_path / "costs.csv"
    costs.write_text("code,value,price_year\nSS5.0,1416,2008/09\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "ehmap", "business-case", "demo/croydon_cases.csv", "--la", CROYDON,
         "--costs", str(costs), "--out", str(tmp_path / "x.csv")],
        cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "error: The unit-cost table has no SS5.0.7, CR2.0, E&S2.0; the business case needs it." in run.stderr


def test_business_case_page_on_the_demo_for_the_team(directory):
    import re

    from streamlit.testing.v1 import AppTest

    from ehmap.audience import TEAM_MARKING
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.geography import councils
    from ehmap.store import DEMO_CHOICE

    at = AppTest.from_file(str(Path(REPO) / "app.py"), default_timeout=120)
    at.session_state["dataset"] = DEMO_CHOICE  # the demo, whatever an earlier test saved and remembered
    at.run()
    at.switch_page("pages/business_case.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Business case: Croydon"
    assert TEAM_MARKING in [w.value for w in at.warning]
    assert [h.value for h in at.header] == ["Costs likely avoided", "What would a cut cost elsewhere?",
                                            "National reference figures (context only, not used above)"]
    captions = " ".join(c.value for c in at.caption)
    assert "not uprated" in captions and "switch on *Show the released view*" in captions
    tables = [frame.value for frame in at.dataframe]
    assert any("Assumptions" not in t.columns and "assumption" in t.columns for t in tables)
    assert "[unverified]" in set(tables[-1]["Caveat"])
    # the team's exact council counts, as pandas counts them
    demo = load_demo(directory, {c.code: c.name for c in councils()}, pseudonymisation_key()).cases
    closed = demo["end_date"].notna()
    education = closed & (demo["outcome"] == "needs_met") & ((demo["needs_mask"] & NEED_BITS["education"]) != 0)
    lines = next(t for t in tables if "Council count it starts from" in t.columns).set_index("Cost line")
    assert lines.loc["Permanent exclusions avoided", "Council count it starts from"] == int(education.sum())
    assert lines.loc["Step-ups to children's social care avoided: child in need casework",
                     "Council count it starts from"] == int(closed.sum())
    at.number_input(key="business_case_cut").set_value(250_000).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("£250,000" in re.sub(r"\\(.)", r"\1", m.value) for m in at.markdown)


def test_shipped_unit_costs_match_the_domain_digest_file():
    """Parse the table in ../shared/domain.md itself (when present) and compare with the shipped file."""
    import re

    digest = REPO.parent / "shared" / "domain.md"
    if not digest.is_file():
        pytest.skip("../shared/domain.md is not present")
    parsed = {}
    for codes, _, value in re.findall(r"^\| ([A-Z&0-9.]+(?: / [A-Z&0-9.]+)?) \| ([^|]+) \| ([^|]+) \|$",
                                       digest.read_text(encoding="utf-8"), flags=re.M):
        match = re.fullmatch(r"([\d,]+(?: / [\d,]+)?) \((\d{4}/\d{2})\)", value.strip())
        if not match:
            continue
        for code, pounds in zip(codes.split(" / "), match.group(1).split(" / "), strict=True):
            parsed[code] = (int(pounds.replace(",", "")), match.group(2))
    assert parsed == DOMAIN_TABLE
    assert {row.code: (row.value, row.price_year) for row in read_unit_costs().itertuples()} == parsed


def test_business_case_page_renders_in_chromium_offline(app_url, page):
    from browser_support import ARTIFACTS, screenshot_on_failure

    with screenshot_on_failure(page, "business_case_page"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Business case", exact=True).click()  # not the pre-navigation "business case"
        page.get_by_text("Business case: Croydon").wait_for(timeout=90_000)
        page.get_by_text("What would a cut cost elsewhere?").wait_for(timeout=60_000)
        page.get_by_text("Assumptions behind these figures").first.wait_for(timeout=30_000)
        page.get_by_text("National reference figures").wait_for(timeout=30_000)
        page.get_by_text("Synthetic demo data (Croydon)").first.wait_for(timeout=30_000)  # the frame's banner
        page.locator('[data-testid="stDataFrame"]').nth(4).wait_for(state="visible", timeout=30_000)
        page.wait_for_timeout(1500)  # let the tables paint before the screenshot
        page.screenshot(path=str(ARTIFACTS / "business_case.png"))
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
