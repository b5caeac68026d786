"""The business case in one price year, its money format, the cut over a stated horizon, and the page's reading:
by hand on constructed counts, on the demo (expectations worked out with plain pandas and the published unit
costs), and on the page for the team and a viewer (AppTest)."""

from __future__ import annotations

import math
import re

import pytest
from numpy.testing import assert_allclose

from ehmap.business_case import (
    Outcomes,
    chosen_deflators,
    costs_avoided_for,
    cut_impact_for,
    factor_deflators,
    money,
    money_short,
)
from ehmap.taxonomy import NEED_BITS
from tests.page_support import page_texts, run_demo_page

# domain.md §5 (GMCA v1.4): the unit costs the lines use, £ at their own price year
SS5_0, SS5_0_7, CR2_0, ES2_0, SS1_0, SS18_10 = 1416, 511, 2470, 9219, 51080, 30


@pytest.mark.parametrize(("value", "long", "short"), [
    (1_234_000, "£1,234,000", "£1.2m"), (1_250_001, "£1,250,001", "£1.3m"), (12_400_000, "£12,400,000", "£12m"),
    (340_499, "£340,499", "£340,000"), (4_540, "£4,540", "£4,500"), (0, "£0", "£0"), (999_999, "£999,999", "£1.0m"),
    (-2_500, "-£2,500", "-£2,500"), (float("nan"), "", ""),
])
def test_money_is_written_one_way_in_tables_and_one_way_in_readings(value, long, short):
    assert money(value) == long and money_short(value) == short


def test_factors_make_a_deflator_series_and_are_checked():
    series = factor_deflators({"2005/06": 1.6, "2008/09": 1.4, "2013/14": 1.2}, "2024-25")
    assert_allclose(series[["2005/06", "2008/09", "2013/14", "2024/25"]], [1 / 1.6, 1 / 1.4, 1 / 1.2, 1])
    with pytest.raises(ValueError, match="factor for 2008/09 prices must be a number above 0; got 0"):
        factor_deflators({"2008/09": 0}, "2024/25")
    with pytest.raises(ValueError, match="£1 at 2013/14 prices is £1 at 2013/14 prices: its factor must be 1"):
        factor_deflators({"2013/14": 1.2}, "2013/14")
    assert chosen_deflators({"2005/06": 1.0, "2013/14": 1.0}, "  ") == (None, None)  # nothing uprated
    series, year = chosen_deflators({"2005/06": 1.3, "2013/14": 1.0}, "")  # to the table's latest price year
    assert year == "2013/14" and series["2005/06"] == pytest.approx(1 / 1.3)


COUNTS = Outcomes(closed=200, step_ups=20, da_needs_met=40, education_needs_met=30)


def test_one_total_in_one_price_year_with_the_factors_given():
    factors = {"2005/06": 1.6, "2008/09": 1.4, "2013/14": 1.2}
    deflators, year = chosen_deflators(factors, "2024/25")
    case = costs_avoided_for(COUNTS, deflators=deflators, year=year)
    rate = 0.1
    cf = round(rate * 100 * 2.5 / 1.7, 1) / 100  # the default counterfactual step-up rate, central
    central = (200 * (cf - rate) * 1 * SS5_0 * 1.4 + 200 * (cf - rate) * 0.5 * SS5_0_7 * 1.4
               + 40 * 0.5 * CR2_0 * 1.4 + 30 * 0.01 * ES2_0 * 1.6)
    headline = case.headline()
    assert (headline.year, headline.not_uprated, headline.partial) == ("2024/25", (), False)
    assert_allclose(headline.central, central)
    assert case.notes[0] == "Uprated to 2024/25 prices with the deflator given: 2005/06 × 1.600, 2008/09 × 1.400."
    # a factor left at 1.0 is a price year not uprated, and the total says it understates it
    left = costs_avoided_for(COUNTS, deflators=chosen_deflators(factors | {"2005/06": 1.0}, "2024/25")[0],
                             year="2024/25").headline()
    assert left.not_uprated == ("2005/06",)
    assert left.caveats() == ["an underestimate, as the 2005/06 unit costs are not uprated"]
    assert_allclose(left.central, central - 30 * 0.01 * ES2_0 * 0.6)


def test_a_cut_over_the_horizon_against_what_it_saves_by_hand():
    cut = cut_impact_for(COUNTS, "Team A", "120", 60_000)
    rate, cf = 0.1, round(10 * 2.5 / 1.7, 1) / 100
    lost = 60_000 / (40 * SS18_10)  # central: 40 hours an episode at £30 an hour = 50 episodes a year
    per_closed = ((cf - rate) * SS5_0 + (cf - rate) * 0.5 * SS5_0_7 + 40 * 0.5 * CR2_0 / 200
                  + 30 * 0.01 * ES2_0 / 200)
    care = lost * 0.008 * 1 * SS1_0  # national evaluation: 0.8 points fewer entering care, a year in care
    assert_allclose(cut.yearly().central, lost * per_closed + care)
    assert_allclose(cut.shifted().central, 3 * (lost * per_closed + care))
    assert cut.saved == 180_000 and cut.horizon == 3
    assert_allclose(cut.national_benefit, 180_000 * 11_200 / 5_214)


# ------------------------------------------------------------------------------------------ the demo's readings


@pytest.fixture(scope="module")
def demo(directory, council_names):
    """The demo's episodes and release, as the app builds them."""
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.release.gate import ReleaseInputs, build_release

    result = load_demo(directory, council_names, pseudonymisation_key())
    geographies = {"lsoa11": area_set("lsoa11", result.la_code), "ward": area_set("ward", result.la_code)}
    return result.cases, build_release(ReleaseInputs(result.cases, result.la_code, geographies))


def central_lines(closed: int, step_ups: int, da: int, education: int) -> list[float]:
    """The four lines' central costs avoided, from council counts, the default assumptions and GMCA v1.4."""
    rate = step_ups / closed
    cf = round(rate * 100 * 2.5 / 1.7, 1) / 100
    avoided = closed * max(cf - rate, 0)
    return [avoided * SS5_0, avoided * 0.5 * SS5_0_7, da * 0.5 * CR2_0, education * 0.01 * ES2_0]


def sentences(text: str) -> int:
    return len(re.findall(r"[.)](?=\s+[A-Z]|$)", text))


def test_the_team_reading_on_the_demo(demo):
    from ehmap.views.business_case import team_business_case

    cases, _ = demo
    closed = cases["end_date"].notna()
    met = closed & (cases["outcome"] == "needs_met")
    mask = cases["needs_mask"].to_numpy()
    total = sum(central_lines(int(closed.sum()), int((closed & (cases["outcome"] == "step_up_csc")).sum()),
                              int((met & ((mask & NEED_BITS["domestic_abuse"]) != 0)).sum()),
                              int((met & ((mask & NEED_BITS["education"]) != 0)).sum())))
    service = cases["service"].dropna().astype(str).value_counts().index[0]
    view = team_business_case(cases, None, None, cut=(service, 100_000))
    text = view.finding
    first, last = cases["referral_date"].min(), cases["referral_date"].max()
    assert text.startswith(f"On the central assumptions, Early Help episodes referred from {first:%d/%m/%Y} to "
                           f"{last:%d/%m/%Y} likely avoided about {money_short(total)} of costs elsewhere (range £")
    assert "at 2013/14 prices; an underestimate, as the 2005/06 and 2008/09 unit costs are not uprated)" in text
    assert "replace those marked [assumption] with your own evidence first." in text
    assert f"Cutting £100,000 a year from {service} would save £300,000 over 3 years and likely shift about £" in text
    assert f"that much support would bring about {money_short(300_000 * 11_200 / 5_214)} of benefit" in text
    assert "2.28" not in text and sentences(text) == 2
    assert not re.search(r"£\d{1,3},\d{3},\d{3}|\.\d{2,}", text)  # money in the short form, no false precision


def test_the_released_reading_on_the_demo_rests_on_released_counts(demo):
    from ehmap.views.business_case import released_business_case

    _, release = demo
    checked = 0
    for period in release.periods:
        values = [release.value(key) for key in (
            ("outcome", "council", "", "closed", period.key), ("outcome", "council", "", "step_up_csc", period.key),
            ("needs_met", "domestic_abuse", "council", period.key), ("needs_met", "education", "council", period.key))]
        view = released_business_case(release, period.key)
        if any(math.isnan(v) for v in values):
            continue  # a hidden count: the line is left out, as the view says
        total = sum(round(line / 1000) * 1000 for line in central_lines(*(int(v) for v in values)))
        assert view.finding.startswith(f"On the central assumptions, Early Help episodes referred in "
                                       f"{period.label} likely avoided about {money_short(total)} of costs "
                                       "elsewhere"), view.finding
        assert "Next, cost a cut" in view.finding and sentences(view.finding) == 2
        checked += 1
    assert checked >= 2


# ------------------------------------------------------------------------------------------ the page


@pytest.mark.parametrize("who", ["team", "viewer"])
def test_the_page_shows_the_reading_near_the_top(who, monkeypatch, tmp_path):
    at = run_demo_page("business_case", who, monkeypatch, tmp_path)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = page_texts(at)
    readings = [i for i, (_, text) in enumerate(shown) if text.startswith("On the central assumptions")]
    headers = [i for i, (kind, _) in enumerate(shown) if kind == "header"]
    assert readings and readings[0] < headers[0], shown[:8]  # above the figures, under the title and marking
    reading = shown[readings[0]][1]
    assert "prices" in reading and "range £" in reading and "Cutting £100,000 a year from" in reading
    assert sentences(reading) == 2
    if who == "viewer":
        assert "How these figures were protected" in " ".join(text for _, text in shown)
        assert re.search(r"likely avoided about £[\d.,]+m? of costs elsewhere", reading)
    else:
        assert "switch on *Show the released view*" in " ".join(c.value for c in at.caption)
    # factors to the year the user wants put every figure in that year; a wrong one is said in a sentence
    assert [n.key for n in at.number_input if n.key.startswith("business_case_factor_")] == [
        "business_case_factor_2005/06", "business_case_factor_2008/09", "business_case_factor_2013/14"]
    at.text_input(key="business_case_year").set_value("2024/25")
    for key, factor in (("2005/06", 1.6), ("2008/09", 1.4), ("2013/14", 1.2)):
        at.number_input(key=f"business_case_factor_{key}").set_value(factor)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    reading = next(text for _, text in page_texts(at) if text.startswith("On the central assumptions"))
    assert "at 2024/25 prices)" in reading and "not uprated" not in reading
    labels = [re.sub(r"\\(.)", r"\1", m.label) for m in at.metric]  # labels are markdown, shown through plain
    assert "Total, central, at 2024/25 prices" in labels, labels
    at.text_input(key="business_case_year").set_value("").run()
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]
    assert errors == ["£1 at 2013/14 prices is £1 at 2013/14 prices: its factor must be 1 (name the price year your "
                      "factors take costs to)."]


def test_a_line_on_a_hidden_count_is_left_out_of_the_total_and_said():
    from dataclasses import replace

    from ehmap.views.business_case import finding

    case = costs_avoided_for(COUNTS)
    lines = case.lines.copy()
    lines.loc[lines["line"] == "domestic_abuse", ["cost_low", "cost_central", "cost_high"]] = float("nan")
    hidden = replace(case, lines=lines).headline()
    assert hidden.partial and hidden.caveats()[-1] == "lines resting on a hidden count are left out"
    assert_allclose(hidden.central, case.headline().central - 40 * 0.5 * CR2_0)
    text = finding(replace(case, lines=lines), "in 2023-24")
    assert "; lines resting on a hidden count are left out), but most assumptions are local guesses" in text
    lines[["cost_low", "cost_central", "cost_high"]] = float("nan")
    assert finding(replace(case, lines=lines), "in 2023-24").startswith("Every cost line rests on a council count "
                                                                       "that is hidden")
