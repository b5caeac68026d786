"""The business case for either audience: from the team's exact council counts, or from the released ones.

Both run the same calculation (`ehmap.business_case`). The team's starts from the exact counts of any referral
period. A released business case starts from the release gate's council counts for a financial year (or all
years): closed episodes, step-ups and closures with needs met for the costed needs, each rounded to 5 as released,
so every figure it shows can be worked out from released counts; its costs are rounded to the nearest £1,000.

Each view carries the page's reading (`finding`): two plain sentences with the costs likely avoided as a range in one
stated price year (`headline`), and, with a cut, what it saves over the horizon against what it would likely shift
elsewhere (`shifted`), beside the national Phase 1 averages, and what to check first.

API (stable; the board report calls it):

- `team_outcomes(cases, start, end) -> Outcomes`, `released_outcomes(release, period) -> Outcomes`: the counts the
  calculation starts from (the page uses them for the assumptions' defaults);
- `team_business_case(cases, start, end, costs, assumptions, deflators, year, cut) -> BusinessCaseView`
- `released_business_case(release, period, costs, assumptions, deflators, year, cut) -> BusinessCaseView`
  (`cut` is (service, £ a year) or None).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace

import pandas as pd

from ehmap.audience import Audience, marking
from ehmap.business_case import (
    HORIZON_YEARS,
    LINES,
    NOTHING_TO_COST,
    Assumption,
    BusinessCase,
    CutImpact,
    Outcomes,
    PricedTotal,
    business_case_csv,
    check_service,
    costs_avoided_for,
    council_outcomes,
    cut_impact,
    cut_impact_for,
    money,
    money_short,
)
from ehmap.performance import in_period
from ehmap.release.gate import Release
from ehmap.release.tables import BUSINESS_COUNTS, fixed_period, method_statement, released_business_counts
from ehmap.release.universe import NOT_RECORDED

ROUND_POUNDS = 1000
RELEASED_NOTE = ("Released figures are worked out from the released council counts, which are rounded to the "
                 "nearest 5, so they can differ a little from the team's; costs are rounded to the nearest £1,000.")
HIDDEN_LINE = "not shown: the council count it starts from is hidden"
LINE_COLUMNS = {"title": "Cost line", "cost_low": "£ low", "cost_central": "£ central", "cost_high": "£ high",
                "price_basis": "Price year", "code": "Unit cost code", "unit_cost": "Unit cost £",
                "base_count": "Council count it starts from", "events_low": "Avoided (low)",
                "events_central": "Avoided (central)", "events_high": "Avoided (high)", "note": "Note"}
CUT_COLUMNS = {"title": "Cost line", "cost_low": "£ a year: low", "cost_central": "£ a year: central",
               "cost_high": "£ a year: high", "price_basis": "Price year", "code": "Unit cost code"}
DOWNLOAD_TITLES = {"business_case": "the business case", "cut": "what the cut would cost"}
# Outcomes field -> the lines that start from it
LINES_OF = {"closed": ("step_up_cin", "step_up_s47"), "step_ups": ("step_up_cin", "step_up_s47"),
            "da_needs_met": ("domestic_abuse",), "education_needs_met": ("exclusion",)}


@dataclass(frozen=True)
class BusinessCaseView:
    """Costs likely avoided (and what a cut would cost), the counts and assumptions behind them, for one audience."""

    audience: Audience
    outcomes: Outcomes  # exact (team) or released (rounded) council counts
    counts: pd.DataFrame  # count (Outcomes field), title, shown (text: exact, rounded or 'c')
    case: BusinessCase | None  # None: nothing to cost (the finding says why)
    cut: CutImpact | None
    finding: str  # one plain sentence: what it found, how sure, what to try next
    notes: tuple[str, ...] = ()
    method: str | None = None
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def marking(self) -> str:
        return marking(self.audience)

    def headline(self) -> PricedTotal | None:
        """Costs likely avoided, every shown line added up in one stated price year (None: nothing to cost)."""
        return None if self.case is None else self.case.headline()

    def shifted(self) -> PricedTotal | None:
        """What the cut would likely cost elsewhere over its horizon, in the same price year (None: no cut)."""
        return None if self.cut is None else self.cut.shifted()

    def lines_table(self) -> pd.DataFrame:
        """The cost lines with titled columns and money written as money (empty when there is nothing to cost)."""
        if self.case is None:
            return pd.DataFrame(columns=list(LINE_COLUMNS.values()))
        return _shown_money(self.case.lines)[list(LINE_COLUMNS)].rename(columns=LINE_COLUMNS)

    def cut_table(self) -> pd.DataFrame:
        """What the cut would likely cost elsewhere in a year, per line, with money written as money."""
        if self.cut is None:
            return pd.DataFrame(columns=list(CUT_COLUMNS.values()))
        return _shown_money(self.cut.lines)[list(CUT_COLUMNS)].rename(columns=CUT_COLUMNS)


def _shown_money(lines: pd.DataFrame) -> pd.DataFrame:
    """Pounds as £1,234 text (blank where a line is not shown); events avoided to one decimal place."""
    out = lines.copy()
    for column in [c for c in out.columns if c.startswith("cost_") or c == "unit_cost"]:
        out[column] = out[column].map(money)
    for column in [c for c in out.columns if c.startswith("events_")]:
        out[column] = out[column].astype(float).round(1)
    return out


def download_title(stem: str) -> str:
    """What a download holds, for its button."""
    return next((title for key, title in DOWNLOAD_TITLES.items() if f"_{key}_" in stem), "this table")


ADVICE = "most assumptions are local guesses: replace those marked [assumption] with your own evidence first"


def _against(shifted: PricedTotal, saved: float) -> str:
    """How the costs a cut shifts elsewhere compare with what it saves, across their range."""
    if shifted.low > saved:
        return "more than the saving even at the low end"
    if shifted.high < saved:
        return "less than the saving even at the high end"
    return "so it could be less or more than the saving"


def finding(case: BusinessCase | None, when: str, cut: CutImpact | None = None) -> str:
    """The page's reading, in two plain sentences: costs likely avoided (a range, in one stated price year) and
    what to check first, then what a cut would shift elsewhere over the horizon against what it saves.

    `when` completes "episodes referred ...", e.g. "in 2023-24" or "from 01/04/2023 to 31/03/2024"."""
    if case is None:
        return NOTHING_TO_COST
    total = case.headline()
    if total is None:
        return ("Every cost line rests on a council count that is hidden in shared views, so no estimate can be "
                "given; choose all years.")
    said = "; ".join([f"range {money_short(total.low)} to {money_short(total.high)} at {total.year} prices",
                      *total.caveats()])
    first = (f"On the central assumptions, Early Help episodes referred {when} likely avoided about "
             f"{money_short(total.central)} of costs elsewhere ({said}), but {ADVICE}.")
    shifted = None if cut is None else cut.shifted()
    if shifted is None:
        return f"{first} Next, cost a cut to compare what it saves with what it would shift elsewhere over " \
               f"{HORIZON_YEARS} years."
    return (f"{first} Cutting {money(cut.amount)} a year from {cut.service} would save {money(cut.saved)} over "
            f"{cut.horizon} years and likely shift about {money_short(shifted.central)} of costs elsewhere in that "
            f"time (range {money_short(shifted.low)} to {money_short(shifted.high)}, {_against(shifted, cut.saved)}; "
            f"on the national Phase 1 averages, DCLG 2015, contested, that much support would bring about "
            f"{money_short(cut.national_benefit)} of benefit).")


def _counts_table(outcomes: Outcomes, shown: dict[str, str] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"count": name, "title": title,
                          "shown": shown[name] if shown else f"{getattr(outcomes, name):,}"}
                         for name, title in BUSINESS_COUNTS.items()])


# --------------------------------------------------------------------------- team


def team_outcomes(cases: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> Outcomes:
    """The exact council counts of episodes referred in the period."""
    return council_outcomes(cases[in_period(cases, start, end)])


def team_business_case(cases: pd.DataFrame, start: dt.date | None, end: dt.date | None,
                       costs: pd.DataFrame | None = None, assumptions: dict[str, Assumption] | None = None,
                       deflators: pd.Series | None = None, year: str | None = None,
                       cut: tuple[str, float] | None = None) -> BusinessCaseView:
    """Costs likely avoided by episodes referred in any period, from the exact council counts (and a cut's cost)."""
    chosen = cases[in_period(cases, start, end)]
    outcomes = council_outcomes(chosen)
    counts = _counts_table(outcomes)
    if outcomes.closed == 0:
        return BusinessCaseView(Audience.TEAM, outcomes, counts, None, None, NOTHING_TO_COST)
    case = costs_avoided_for(outcomes, costs, assumptions, deflators, year)
    impact = cut_impact(chosen, cut[0], cut[1], costs, assumptions, deflators, year) if cut else None
    first = pd.Timestamp(start) if start is not None else chosen["referral_date"].min()
    last = pd.Timestamp(end) if end is not None else chosen["referral_date"].max()
    label = f"from {first:%d/%m/%Y} to {last:%d/%m/%Y}"
    return BusinessCaseView(Audience.TEAM, outcomes, counts, case, impact, finding(case, label, impact))


# --------------------------------------------------------------------------- release


def released_outcomes(release: Release, period: str) -> Outcomes:
    """The released (rounded) council counts of episodes referred in a financial year (or all years); 0 if hidden."""
    counts = released_business_counts(release, period).set_index("count")["value"]
    return Outcomes(**{name: 0 if math.isnan(value) else int(value) for name, value in counts.items()})


def _round_money(lines: pd.DataFrame, hidden: set[str]) -> pd.DataFrame:
    """Costs to the nearest £1,000 and events avoided to whole numbers; blank for lines on a hidden count."""
    out = lines.copy()
    for level in ("low", "central", "high"):
        out[f"cost_{level}"] = (out[f"cost_{level}"] / ROUND_POUNDS).round() * ROUND_POUNDS
        if f"events_{level}" in out:
            out[f"events_{level}"] = out[f"events_{level}"].round()
    blank = out["line"].isin(hidden)
    for column in [c for c in out.columns if c.startswith(("cost_", "events_"))]:
        out[column] = out[column].astype(float).mask(blank)
    if "note" in out:
        out["note"] = [HIDDEN_LINE if b else "" for b in blank]
    return out


def released_business_case(release: Release, period: str, costs: pd.DataFrame | None = None,
                           assumptions: dict[str, Assumption] | None = None, deflators: pd.Series | None = None,
                           year: str | None = None, cut: tuple[str, float] | None = None) -> BusinessCaseView:
    """Costs likely avoided from the released council counts of a financial year (or all years), rounded to £1,000."""
    chosen = fixed_period(release, period)
    released = released_business_counts(release, period).set_index("count")
    outcomes = released_outcomes(release, period)
    counts = _counts_table(outcomes, released["text"].to_dict())
    hidden = {line for name in released.index[released["value"].isna()] for line in LINES_OF[name]}
    method = method_statement(release)
    notes = (RELEASED_NOTE,)
    if outcomes.closed == 0:
        return BusinessCaseView(Audience.RELEASE, outcomes, counts, None, None, NOTHING_TO_COST, notes, method)
    case = costs_avoided_for(outcomes, costs, assumptions, deflators, year)
    lines = _round_money(case.lines, hidden)
    lines["base_count"] = [released.loc[_base_name(line), "text"] for line in lines["line"]]
    case = replace(case, lines=lines)
    stem = f"ehmap_released_{release.la_code}_business_case_{period}"
    downloads = {stem: business_case_csv(case)}
    impact = None
    if cut is not None:
        check_service(cut[0], released_services(release))
        episodes = release.text(("group", "service", cut[0], period))
        impact = cut_impact_for(outcomes, cut[0], episodes, cut[1], costs, assumptions, deflators, year)
        impact = replace(impact, lines=_round_money(impact.lines, hidden))
        downloads[f"ehmap_released_{release.la_code}_cut_{period}"] = impact.lines[list(CUT_COLUMNS)].rename(
            columns=CUT_COLUMNS)
    text = finding(case, f"in {chosen.label}", impact)
    return BusinessCaseView(Audience.RELEASE, outcomes, counts, case, impact, text, notes, method, downloads)


def _base_name(line: str) -> str:
    """The Outcomes field a line's council count is (closed episodes for the step-up lines)."""
    return {"domestic_abuse": "da_needs_met", "exclusion": "education_needs_met"}.get(line, "closed")


def released_services(release: Release) -> list[str]:
    """The services a released cut can name."""
    return [s for s in release.groups["service"] if s != NOT_RECORDED]


__all__ = ["BusinessCaseView", "LINES", "released_business_case", "released_outcomes", "released_services",
           "team_business_case", "team_outcomes"]
