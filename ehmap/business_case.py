"""The business case for Early Help: costs likely avoided, and what a cut would likely cost elsewhere.

Every estimate is a low / central / high range computed from explicit assumptions, each with its own
low / central / high value, and is never returned without them (`BusinessCase.assumptions()`).

- **Unit costs** are the GMCA Unit Cost Database v1.4 rows of domain.md §5, shipped in
  `ehmap/data/unit_costs_gmca_v1_4.csv` (code, item, value, unit, price year, source); a council can
  replace them with its own file of the same columns.
- **One price year**: every total is stated in one price year. Costs are uprated as value × index[target year] /
  index[price year], with a deflator series the user gives (financial year -> index, e.g. HM Treasury's GDP
  deflator at market prices) or factors per price year (`factor_deflators`). ehmap ships no series (none is in
  its reference data): without one, totals are stated at the unit-cost table's latest price year, older costs
  added as they are, and the result says the total understates them (`PricedTotal.not_uprated`).
- **Money** is written one way in tables (`money`: £1,234,000) and one way in readings and totals
  (`money_short`: two significant figures, £1.2m), since the ranges are wide.
- **Costs avoided** per line = events avoided × units per event × unit cost, where events avoided come
  from the council's own outcomes and an assumption (e.g. step-ups avoided = closed episodes ×
  (counterfactual step-up rate − observed rate)).
- **A cut** of £X a year to a service loses X / cost per episode episodes a year (cost per episode = hours per
  episode × SS18.10 family support worker hourly cost); each lost episode is assumed to forgo the council's
  average costs avoided per closed episode, and the national evaluation's care-entry effect (1.7% against 2.5%)
  adds children entering care (SS1.0). It is costed over a stated horizon (`HORIZON_YEARS`) against what it
  saves, and set beside the national Phase 1 averages (DCLG 2015, contested); the "£2.28 per £1" figure is
  unverified and never used.
- **Range**: each line's low and high are the least and greatest result over every combination of its
  assumptions' low and high values (the result is monotone in each), the central uses every central.

The calculation starts from council-level counts (`Outcomes`): the team's exact counts (`council_outcomes`), or the
released, rounded ones read from the release gate (`ehmap.views.business_case`); `costs_avoided_for` and
`cut_impact_for` take either. A count from 1 to 5 behind a line is flagged "fewer than 6: interpret with care".
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ehmap.audience import SMALL_FLAG, small
from ehmap.taxonomy import NEED_BITS

UNIT_COSTS_FILE = Path(__file__).parent / "data" / "unit_costs_gmca_v1_4.csv"
COST_COLUMNS = ("code", "item", "value", "unit", "price_year", "source")
_REQUIRED_COST_COLUMNS = ("code", "value", "price_year")
_YEAR = re.compile(r"^\s*(\d{4})\s*(?:[/-]\s*(\d{2}|\d{4}))?\s*$")

UPRATE_HOW = ("ehmap ships no deflator series: to uprate, give for each price year the factor £1 then is worth in the "
              "year you want, from HM Treasury's GDP deflators at market prices (index in the year you want ÷ index "
              "in that price year).")
HORIZON_YEARS = 3  # the horizon a cut is costed over, stated wherever it is used
# DCLG 2015, Phase 1 of the national programme (domain.md §5, contested): average cost and benefit per family
PHASE1_COST_PER_FAMILY = 5214
PHASE1_BENEFIT_PER_FAMILY = 11200
NOTHING_TO_COST = (
    "No business case: no episode referred in the period has closed with an outcome recorded (or the export has "
    "no closure date and closure reason columns), so there is nothing to cost."
)
SCENARIO_NOTE = (
    "Low and high are the least and greatest result over every combination of the assumptions' low and high "
    "values; central uses every central value. Assumptions marked [assumption] have no published source: "
    "replace them with your own evidence."
)

# The national evaluation and EIF figures (domain.md §5), quoted as context, never used in the arithmetic.
NATIONAL_REFERENCE: tuple[tuple[str, str, str], ...] = (
    ("Children entering care fell by a third: 1.7% against 2.5% in the comparison group",
     "Supporting Families national evaluation, quoted in the gov.uk Supporting Families annual report 2023-24", ""),
    ("Adult custodial sentences fell by a quarter, juvenile custody by almost 40%, adult JSA claims by 11%",
     "Supporting Families national evaluation, quoted in the gov.uk Supporting Families annual report 2023-24", ""),
    ("£2.28 of benefit for every £1 spent",
     "attributed to the March 2019 national evaluation overview", "[unverified]"),
    ("Phase 1 averages: £5,214 intervention cost and £11,200 benefit per family",
     "DCLG 2015", "contested"),
    ("Late intervention costs about £17bn a year (£16.6bn): child protection and safeguarding £6.0bn, "
     "crime and ASB £5.2bn, youth economic inactivity £3.7bn; children in care about £5bn",
     "Early Intervention Foundation 2015", ""),
    ("By payer: local government £6.5bn, welfare £3.7bn, NHS £3.0bn, justice £1.3bn",
     "Early Intervention Foundation 2015", ""),
)


# --------------------------------------------------------------------------- unit costs and uprating


def financial_year(value: object) -> str:
    """A price year as 'YYYY/YY' from '2013/14', '2013-14', '2013/2014' or 2013 (= 2013/14)."""
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    match = _YEAR.match(text)
    if not match:
        raise ValueError(f"'{value}' is not a financial year; write it as 2013/14 (or 2013 for 2013/14).")
    start = int(match.group(1))
    if match.group(2) and int(match.group(2)[-2:]) != (start + 1) % 100:
        raise ValueError(f"'{value}' is not a financial year: the second year must follow the first, e.g. 2013/14.")
    return f"{start}/{(start + 1) % 100:02d}"


def _text_table(source: Path | str | pd.DataFrame) -> pd.DataFrame:
    """A small CSV file (comment lines '#') or a frame, as text with lower-case column names."""
    if isinstance(source, pd.DataFrame):
        table = source.copy()
    else:
        try:
            table = pd.read_csv(source, comment="#", dtype=str, keep_default_na=False)
        except OSError as error:
            raise ValueError(f"{source} could not be opened ({error.strerror}).") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    return table


def read_unit_costs(source: Path | str | pd.DataFrame | None = None) -> pd.DataFrame:
    """Unit costs (code, item, value, unit, price_year, source) from a CSV file or frame (default: GMCA v1.4).

    Raises ValueError naming the column or row when the table cannot be used.
    """
    if source is None:
        source = UNIT_COSTS_FILE
    table = _text_table(source)
    missing = [c for c in _REQUIRED_COST_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"The unit-cost table has no {', '.join(missing)} column; it needs {', '.join(COST_COLUMNS)}.")
    for column in COST_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    table = table[list(COST_COLUMNS)].copy()
    table["code"] = table["code"].astype(str).str.strip()
    if (table["code"] == "").any() or table["code"].duplicated().any():
        raise ValueError("Every unit cost needs a code, and each code may appear once.")
    values = pd.to_numeric(table["value"].astype(str).str.replace(r"[£,\s]", "", regex=True), errors="coerce")
    bad = table["code"][values.isna() | (values < 0)]
    if not bad.empty:
        raise ValueError(f"Unit cost {bad.iloc[0]} has no usable value (a number of pounds, 0 or more).")
    table["value"] = values.astype(float)
    table["price_year"] = [financial_year(y) for y in table["price_year"]]
    return table.reset_index(drop=True)


def read_deflators(source: Path | str | pd.DataFrame) -> pd.Series:
    """A deflator series (financial year 'YYYY/YY' -> index) from a CSV file or frame with columns year, index."""
    table = _text_table(source)
    if not {"year", "index"} <= set(table.columns):
        raise ValueError(f"A deflator series needs columns year and index; got {', '.join(table.columns) or 'none'}.")
    table = table[(table["year"].astype(str).str.strip() != "") & table["year"].notna()]
    years = [financial_year(y) for y in table["year"]]
    index = pd.to_numeric(table["index"], errors="coerce")
    if index.isna().any() or (index <= 0).any():
        raise ValueError("Every deflator index must be a number above 0.")
    series = pd.Series(index.to_numpy(dtype=float), index=years, name="index")
    if series.index.duplicated().any():
        raise ValueError(f"The deflator series gives {series.index[series.index.duplicated()][0]} twice.")
    return series.sort_index()


def uprate(costs: pd.DataFrame, deflators: pd.Series | None = None, year: str | None = None) -> pd.DataFrame:
    """Unit costs with `uprated` (£) and `price_basis` (the year they are in).

    With a deflator series, every value becomes value × index[year] / index[price_year] (year defaults to
    the series' latest); without one, values are kept in their own price year.
    """
    out = costs.copy()
    if deflators is None or len(deflators) == 0:
        out["uprated"] = out["value"]
        out["price_basis"] = out["price_year"]
        out["factor"] = 1.0
        return out
    year = financial_year(year) if year is not None else deflators.index.max()
    needed = sorted(set(out["price_year"]) | {year})
    missing = [y for y in needed if y not in deflators.index]
    if missing:
        raise ValueError(f"The deflator series has no index for {', '.join(missing)}; add those years to uprate.")
    out["factor"] = deflators[year] / deflators.loc[out["price_year"]].to_numpy()
    out["uprated"] = out["value"] * out["factor"]
    out["price_basis"] = year
    return out


def factor_deflators(factors: dict[str, float], year: str) -> pd.Series:
    """A deflator series from uprating factors (price year -> £ in `year` for £1 then), for `uprate`.

    The user's way to reach one price year when no deflator series is at hand: a factor of 1.0 leaves that price
    year's costs as they are (not uprated), which the result states."""
    year = financial_year(year)
    index = {}
    for price_year, factor in factors.items():
        price_year = financial_year(price_year)
        if not isinstance(factor, (int, float)) or math.isnan(factor) or factor <= 0:
            raise ValueError(f"The factor for {price_year} prices must be a number above 0; got {factor}.")
        if price_year == year and factor != 1:
            raise ValueError(f"£1 at {year} prices is £1 at {year} prices: its factor must be 1 (name the price year "
                             "your factors take costs to).")
        index[price_year] = 1 / float(factor)
    index[year] = 1.0
    return pd.Series(index, name="index").sort_index()


def chosen_deflators(factors: dict[str, float], wanted: str | None,
                     costs: Path | str | pd.DataFrame | None = None) -> tuple[pd.Series | None, str | None]:
    """The deflator series and year to uprate to from the page's factors (price year -> £ in the year wanted for £1
    then) and the year wanted (blank: the unit costs' latest price year); (None, None) when nothing is uprated."""
    wanted = (wanted or "").strip()
    if not wanted and all(factor == 1 for factor in factors.values()):
        return None, None
    year = financial_year(wanted) if wanted else latest_price_year(costs)
    return factor_deflators(factors, year), year


def latest_price_year(costs: Path | str | pd.DataFrame | None = None) -> str:
    """The latest price year in a unit-cost table: the one year totals are stated in when nothing is uprated."""
    return str(read_unit_costs(costs)["price_year"].max())


def money(value: float) -> str:
    """Whole pounds with thousands commas (£1,234,000): the one format of every table and exact figure."""
    if value is None or pd.isna(value):
        return ""
    return f"-£{-value:,.0f}" if round(value) < 0 else f"£{value:,.0f}"


def money_short(value: float) -> str:
    """Pounds to two significant figures (£1.2m, £340,000, £4,500): the one format of readings and totals."""
    if value is None or pd.isna(value):
        return ""
    if value < 0:
        return "-" + money_short(-value)
    if value == 0:
        return "£0"
    rounded = float(f"{value:.2g}")
    if rounded >= 1_000_000:
        millions = rounded / 1_000_000
        return f"£{millions:.1f}m" if millions < 10 else f"£{millions:,.0f}m"
    return f"£{rounded:,.0f}"


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Assumption:
    """One input of the calculation, with a low, central and high value and where it comes from."""

    key: str
    label: str
    low: float
    central: float
    high: float
    unit: str
    basis: str

    def __post_init__(self) -> None:
        values = (self.low, self.central, self.high)
        if any(not isinstance(v, (int, float)) or math.isnan(v) or v < 0 for v in values):
            raise ValueError(f"{self.label}: low, central and high must be numbers of 0 or more; got {values}.")
        if not self.low <= self.central <= self.high:
            raise ValueError(
                f"{self.label}: low ({self.low:g}) ≤ central ({self.central:g}) ≤ high ({self.high:g}) must hold."
            )


@dataclass(frozen=True)
class CostLine:
    """A kind of cost avoided: events avoided (from an outcome count and assumptions) × units × unit cost."""

    key: str
    title: str
    code: str  # unit cost code
    base_label: str  # what the council's count is
    assumptions: tuple[str, ...]  # assumption keys this line uses
    need: str | None = None  # the need whose closures with needs met the line counts (None: closed episodes)


LINES: tuple[CostLine, ...] = (
    CostLine("step_up_cin", "Step-ups to children's social care avoided: child in need casework", "SS5.0",
             "closed episodes", ("counterfactual_step_up", "cin_periods")),
    CostLine("step_up_s47", "Step-ups to children's social care avoided: section 47 enquiries", "SS5.0.7",
             "closed episodes", ("counterfactual_step_up", "s47_share")),
    CostLine("domestic_abuse", "Domestic abuse incidents avoided", "CR2.0",
             "closed episodes with a domestic abuse need and needs met", ("da_incidents",), "domestic_abuse"),
    CostLine("exclusion", "Permanent exclusions avoided", "E&S2.0",
             "closed episodes with an education need and needs met", ("exclusions_avoided",), "education"),
)
COSTED_NEEDS = tuple(line.need for line in LINES if line.need is not None)  # counted by the release gate too
CARE_TITLE = "Children entering care (national evaluation effect)"
CUT_CODES = ["SS18.10", "SS1.0", *(line.code for line in LINES)]  # the unit costs a cut is costed with


def default_assumptions(observed_step_up_rate: float) -> dict[str, Assumption]:
    """Editable starting values; the counterfactual step-up rate is derived from the council's observed rate."""
    effect = 2.5 / 1.7  # care entry without / with the programme, national evaluation (domain.md §5)
    rate = observed_step_up_rate * 100
    return {
        a.key: a
        for a in (
            Assumption(
                "counterfactual_step_up", "Step-up rate without early help", round(rate * (1 + (effect - 1) / 2), 1),
                round(rate * effect, 1), round(rate * (1 + (effect - 1) * 1.5), 1), "% of closed episodes",
                f"[assumption] the council's observed rate ({rate:.1f}%) × 2.5/1.7, the national evaluation's ratio "
                "of care entry without and with the programme, used as a proxy; low and high take half and one and a "
                "half times that effect",
            ),
            Assumption("cin_periods", "Six-month child in need periods per step-up", 1, 1, 2, "periods",
                       "[assumption] one six-month period of casework (SS5.0) per step-up; two at the high end"),
            Assumption("s47_share", "Share of step-ups with a section 47 enquiry", 0, 50, 100, "%",
                       "[assumption] no published share: the bounds 0-100%, central the midpoint"),
            Assumption("da_incidents", "Domestic abuse incidents avoided per family whose needs were met", 0, 0.5, 1,
                       "incidents", "[assumption] illustrative, no published figure"),
            Assumption("exclusions_avoided", "Permanent exclusions avoided per child whose needs were met", 0, 1, 5,
                       "% of children", "[assumption] illustrative, no published figure"),
            Assumption("hours_per_episode", "Practitioner hours per episode", 20, 40, 60, "hours",
                       "[assumption] illustrative; costed at SS18.10 family support worker hourly cost"),
            Assumption(
                "care_entry_effect", "Fewer children entering care per 100 supported", 0.4, 0.8, 1.2,
                "percentage points",
                "Supporting Families national evaluation, quoted in the gov.uk Supporting Families annual report "
                "2023-24: 1.7% entered care against 2.5% in the comparison group (0.8 points); [assumption] that it "
                "holds here, low and high take half and one and a half times that effect",
            ),
            Assumption("care_years", "Years in care within the horizon, per extra child entering care", 0.5, 1, 2,
                       "years", "[assumption] illustrative; costed at SS1.0 child in care per year"),
        )
    }


_PERCENT = {"counterfactual_step_up", "s47_share", "exclusions_avoided", "care_entry_effect"}


def _value(assumption: Assumption, level: str) -> float:
    value = float(getattr(assumption, level))
    return value / 100 if assumption.key in _PERCENT else value


# --------------------------------------------------------------------------- the council's outcomes


@dataclass(frozen=True)
class Outcomes:
    """The council's counts the calculation starts from: exact (team) or released (rounded)."""

    closed: int
    step_ups: int
    da_needs_met: int
    education_needs_met: int

    @property
    def step_up_rate(self) -> float:
        return self.step_ups / self.closed if self.closed else 0.0


def council_outcomes(cases: pd.DataFrame) -> Outcomes:
    """Closed episodes, step-ups, and closures with needs met for domestic abuse and education needs."""
    closed = cases["end_date"].notna()
    outcome = cases["outcome"].astype(object)
    met = closed & (outcome == "needs_met")
    mask = cases["needs_mask"].astype("int64")
    return Outcomes(
        closed=int(closed.sum()),
        step_ups=int((closed & (outcome == "step_up_csc")).sum()),
        da_needs_met=int((met & ((mask & NEED_BITS["domestic_abuse"]) != 0)).sum()),
        education_needs_met=int((met & ((mask & NEED_BITS["education"]) != 0)).sum()),
    )


def _events(line: CostLine, outcomes: Outcomes, values: dict[str, float]) -> float:
    """Events avoided for one line at one combination of assumption values (unit-cost multiplier included)."""
    if line.key in ("step_up_cin", "step_up_s47"):
        avoided = outcomes.closed * max(values["counterfactual_step_up"] - outcomes.step_up_rate, 0.0)
        return avoided * (values["cin_periods"] if line.key == "step_up_cin" else values["s47_share"])
    if line.key == "domestic_abuse":
        return outcomes.da_needs_met * values["da_incidents"]
    return outcomes.education_needs_met * values["exclusions_avoided"]


def _base(line: CostLine, outcomes: Outcomes) -> int:
    return {"domestic_abuse": outcomes.da_needs_met, "exclusion": outcomes.education_needs_met}.get(
        line.key, outcomes.closed
    )


def _range(function, assumptions: list[Assumption]) -> tuple[float, float, float]:
    """(low, central, high) of a function of assumption values: min and max over the low/high corners."""
    central = function({a.key: _value(a, "central") for a in assumptions})
    corners = [
        function({a.key: _value(a, level) for a, level in zip(assumptions, levels, strict=True)})
        for levels in itertools.product(("low", "high"), repeat=len(assumptions))
    ]
    return min(corners + [central]), central, max(corners + [central])


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PricedTotal:
    """Cost lines added up (low / central / high) in one stated price year, with what the sum leaves out."""

    low: float
    central: float
    high: float
    year: str  # the price year every figure is stated in
    not_uprated: tuple[str, ...] = ()  # older price years added as they are: the total understates them
    partial: bool = False  # lines resting on a hidden count are left out

    def times(self, factor: float) -> PricedTotal:
        """The same total multiplied (e.g. a year's costs over a horizon of years)."""
        return replace(self, low=self.low * factor, central=self.central * factor, high=self.high * factor)

    def words(self) -> str:
        """'about £1.2m (range £400,000 to £3.1m) at 2013/14 prices'."""
        return (f"about {money_short(self.central)} (range {money_short(self.low)} to {money_short(self.high)}) at "
                f"{self.year} prices")

    def caveats(self) -> list[str]:
        """Plain clauses on what the total leaves out, to say beside it."""
        said = []
        if self.not_uprated:
            said.append(f"an underestimate, as the {' and '.join(self.not_uprated)} unit costs are not uprated")
        if self.partial:
            said.append("lines resting on a hidden count are left out")
        return said


def priced_total(lines: pd.DataFrame, year: str, not_uprated: tuple[str, ...]) -> PricedTotal | None:
    """The shown lines' costs added up in one price year (None when no line is shown)."""
    shown = lines.dropna(subset=["cost_central"])
    if shown.empty:
        return None
    low, central, high = (float(shown[f"cost_{level}"].sum()) for level in ("low", "central", "high"))
    return PricedTotal(low, central, high, year, not_uprated, partial=len(shown) < len(lines))


def price_statement(priced: pd.DataFrame, costs: Path | str | pd.DataFrame | None,
                    deflators: pd.Series | None) -> tuple[str, tuple[str, ...]]:
    """The one price year totals are stated in, and the older price years added without uprating.

    With a deflator series (or factors), the year costs were uprated to; without, the latest price year of the
    unit-cost table, every older cost added as it is (so the total understates them)."""
    uprated = deflators is not None and len(deflators) > 0
    year = str(priced["price_basis"].iloc[0]) if uprated else latest_price_year(costs)
    older = sorted({str(py) for py, factor in zip(priced["price_year"], priced["factor"], strict=True)
                    if py != year and factor == 1})
    return year, tuple(older)


@dataclass(frozen=True)
class BusinessCase:
    """Costs avoided per line (low / central / high) with the unit costs and assumptions used."""

    lines: pd.DataFrame  # line, title, code, item, base, events_*, unit_cost, price_basis, cost_*
    outcomes: Outcomes
    assumption_set: dict[str, Assumption]
    costs: pd.DataFrame  # the unit costs used, uprated
    notes: list[str] = field(default_factory=list)
    price_year: str = ""  # the one price year totals are stated in
    not_uprated: tuple[str, ...] = ()  # older price years added without uprating

    @property
    def uprated(self) -> bool:
        return self.costs["price_basis"].nunique() == 1

    def headline(self) -> PricedTotal | None:
        """Every shown line added up in one price year (stated), with what that leaves out."""
        return priced_total(self.lines, self.price_year, self.not_uprated)

    def total(self) -> tuple[float, float, float] | None:
        """Sum of the lines' low, central and high (None when the lines are in different price years)."""
        if not self.uprated:
            return None
        return tuple(float(self.lines[f"cost_{level}"].sum()) for level in ("low", "central", "high"))

    def assumptions(self) -> pd.DataFrame:
        """Every assumption and unit cost behind the result, to show beside it."""
        return assumptions_table(self.assumption_set, self.costs, [line.code for line in LINES])


ASSUMPTION_TITLES = {"assumption": "Assumption", "label": "Assumption", "low": "Low", "central": "Central",
                     "high": "High", "unit": "Unit", "basis": "Basis"}  # column -> title shown (tables keep their keys)
UNIT_COST_TITLES = {"code": "Code", "item": "Item", "value": "Cost (£)", "unit": "Unit", "price_year": "Price year",
                    "source": "Source"}


def assumptions_table(assumption_set: dict[str, Assumption], costs: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Assumptions (low / central / high, unit, basis) followed by the unit costs used (value, price year, source)."""
    rows = [
        {"assumption": a.label, "low": a.low, "central": a.central, "high": a.high, "unit": a.unit, "basis": a.basis}
        for a in assumption_set.values()
    ]
    used = costs.set_index("code")
    for code in dict.fromkeys(codes):
        cost = used.loc[code]
        pounds = round(float(cost["uprated"]), 2)
        basis = f"{cost['source'] or 'unit cost'} {code}: £{cost['value']:,.0f} at {cost['price_year']} prices"
        if cost["price_basis"] != cost["price_year"]:
            basis += f", uprated to {cost['price_basis']} with the deflator series given"
        rows.append({"assumption": f"Unit cost: {cost['item'] or code} ({cost['unit'] or 'each'})", "low": pounds,
                     "central": pounds, "high": pounds, "unit": f"£ ({cost['price_basis']} prices)", "basis": basis})
    return pd.DataFrame(rows, columns=["assumption", "low", "central", "high", "unit", "basis"])


def priced_costs(
    costs: Path | str | pd.DataFrame | None, codes: list[str], deflators: pd.Series | None, year: str | None
) -> pd.DataFrame:
    """The unit costs with these codes, read, checked and uprated (only their price years need a deflator)."""
    table = read_unit_costs(costs)
    missing = [code for code in dict.fromkeys(codes) if code not in set(table["code"])]
    if missing:
        raise ValueError(f"The unit-cost table has no {', '.join(missing)}; the business case needs it.")
    table = table[table["code"].isin(codes)].reset_index(drop=True)
    return uprate(table, deflators, year)


def costs_avoided(
    cases: pd.DataFrame,
    costs: pd.DataFrame | None = None,
    assumptions: dict[str, Assumption] | None = None,
    deflators: pd.Series | None = None,
    year: str | None = None,
) -> BusinessCase:
    """Costs likely avoided by the council's Early Help episodes, per line, with their range and assumptions.

    `assumptions` overrides the defaults by key (`default_assumptions`); `costs` defaults to the shipped
    GMCA v1.4 table; with `deflators` every cost is uprated to `year` (default: the series' latest).
    """
    return costs_avoided_for(council_outcomes(cases), costs, assumptions, deflators, year)


def costs_avoided_for(
    outcomes: Outcomes,
    costs: pd.DataFrame | None = None,
    assumptions: dict[str, Assumption] | None = None,
    deflators: pd.Series | None = None,
    year: str | None = None,
) -> BusinessCase:
    """Costs likely avoided, per line, from given council counts (exact or released), with range and assumptions."""
    chosen = default_assumptions(outcomes.step_up_rate) | dict(assumptions or {})
    priced = priced_costs(costs, [line.code for line in LINES], deflators, year)
    by_code = priced.set_index("code")
    rows = []
    for line in LINES:
        used = [chosen[key] for key in line.assumptions]
        unit_cost = float(by_code.loc[line.code, "uprated"])
        low, central, high = _range(lambda v, line=line: _events(line, outcomes, v), used)
        rows.append({
            "line": line.key, "title": line.title, "code": line.code, "item": by_code.loc[line.code, "item"],
            "base": line.base_label, "base_count": _base(line, outcomes),
            "events_low": low, "events_central": central, "events_high": high,
            "unit_cost": unit_cost, "price_basis": by_code.loc[line.code, "price_basis"],
            "cost_low": low * unit_cost, "cost_central": central * unit_cost, "cost_high": high * unit_cost,
            "assumptions": "; ".join(f"{a.label}: {a.low:g} / {a.central:g} / {a.high:g} {a.unit}" for a in used),
            "note": SMALL_FLAG if small(_base(line, outcomes)) else "",
        })
    year, older = price_statement(priced, costs, deflators)
    notes = [*price_notes(priced, year, older), SCENARIO_NOTE]
    return BusinessCase(pd.DataFrame(rows), outcomes, chosen, priced, notes, year, older)


def price_notes(priced: pd.DataFrame, year: str, older: tuple[str, ...]) -> list[str]:
    """What the figures' price year rests on: the factors each older price year was uprated by, and any it was not."""
    factors = priced.drop_duplicates("price_year").sort_values("price_year")
    used = [f"{row.price_year} × {row.factor:.3f}" for row in factors.itertuples()
            if row.price_year != year and row.price_year not in older]
    notes = [f"Uprated to {year} prices with the deflator given: {', '.join(used)}."] if used else []
    return notes + ([not_uprated_note(year, older)] if older else [])


def not_uprated_note(year: str, older: tuple[str, ...]) -> str:
    """What a total in `year` prices leaves out when the `older` price years' costs are not uprated."""
    return (f"Totals are stated at {year} prices, but the unit costs from {' and '.join(older)} are added as they "
            f"are, not uprated, so the totals understate them. {UPRATE_HOW}")


# --------------------------------------------------------------------------- a cut


@dataclass(frozen=True)
class CutImpact:
    """What a cut of `amount` to `service` would likely cost elsewhere."""

    service: str
    amount: float
    service_episodes: str  # the service's episodes in the period as text: exact (team) or released ('c' hidden)
    cost_per_episode: tuple[float, float, float]
    episodes_lost: tuple[float, float, float]
    lines: pd.DataFrame  # line, title, code, price_basis, cost_low/central/high: likely extra costs a year
    assumption_set: dict[str, Assumption]
    costs: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    price_year: str = ""  # the one price year totals are stated in
    not_uprated: tuple[str, ...] = ()  # older price years added without uprating
    horizon: int = HORIZON_YEARS  # years the cut is costed over

    def total(self) -> tuple[float, float, float] | None:
        if self.lines["price_basis"].nunique() != 1:
            return None
        return tuple(float(self.lines[f"cost_{level}"].sum()) for level in ("low", "central", "high"))

    def yearly(self) -> PricedTotal | None:
        """Likely extra costs elsewhere in a year, every shown line added up in one price year."""
        return priced_total(self.lines, self.price_year, self.not_uprated)

    def shifted(self) -> PricedTotal | None:
        """Likely extra costs elsewhere over the horizon: a year's, for each year the cut lasts."""
        yearly = self.yearly()
        return None if yearly is None else yearly.times(self.horizon)

    @property
    def saved(self) -> float:
        """What the cut saves over the horizon (the same amount each year)."""
        return self.amount * self.horizon

    @property
    def national_benefit(self) -> float:
        """The benefit forgone over the horizon on the national Phase 1 averages (DCLG 2015, contested)."""
        return self.saved * PHASE1_BENEFIT_PER_FAMILY / PHASE1_COST_PER_FAMILY

    def assumptions(self) -> pd.DataFrame:
        return assumptions_table(self.assumption_set, self.costs, CUT_CODES)


def cut_impact(
    cases: pd.DataFrame,
    service: str,
    amount: float,
    costs: pd.DataFrame | None = None,
    assumptions: dict[str, Assumption] | None = None,
    deflators: pd.Series | None = None,
    year: str | None = None,
) -> CutImpact:
    """A cut of £`amount` to `service`: episodes lost (amount / (hours × SS18.10)) × costs avoided per closed episode.

    The service's families are assumed to fare as the council's average (its own rates are not used: they would
    rest on far fewer episodes). Cost per episode and costs elsewhere must share a price basis: without a deflator
    series, SS18.10 (2013/14) and the other costs stay in their own years.
    """
    services = cases["service"].astype(object)
    check_service(service, sorted(set(services.dropna()), key=str))
    episodes = int((services == service).sum())
    cut = cut_impact_for(council_outcomes(cases), service, f"{episodes:,}", amount, costs, assumptions, deflators,
                         year)
    if small(episodes):
        return replace(cut, notes=[*cut.notes, f"{service} has fewer than 6 episodes in the period: interpret "
                                               "with care."])
    return cut


def check_service(service: str, services: list[str]) -> None:
    """Raise naming the services to choose from when `service` is not one of them."""
    if service not in services:
        raise ValueError(f"'{service}' is not a service in the data; choose one of {', '.join(services)}.")


def cut_impact_for(
    outcomes: Outcomes,
    service: str,
    service_episodes: str,
    amount: float,
    costs: pd.DataFrame | None = None,
    assumptions: dict[str, Assumption] | None = None,
    deflators: pd.Series | None = None,
    year: str | None = None,
) -> CutImpact:
    """What a cut would likely cost elsewhere, from given council counts (exact or released); see `cut_impact`."""
    if not isinstance(amount, (int, float)) or math.isnan(amount) or amount <= 0:
        raise ValueError(f"The cut must be an amount of pounds above 0; got {amount}.")
    case = costs_avoided_for(outcomes, costs, assumptions, deflators, year)
    priced = priced_costs(costs, CUT_CODES, deflators, year)
    hourly = float(priced.set_index("code").loc["SS18.10", "uprated"])
    hours = case.assumption_set["hours_per_episode"]
    per_episode = _range(lambda v: v["hours_per_episode"] * hourly, [hours])
    lost = _range(lambda v: amount / (v["hours_per_episode"] * hourly), [hours])
    rows = []
    care = [hours, case.assumption_set["care_entry_effect"], case.assumption_set["care_years"]]
    in_care = float(priced.set_index("code").loc["SS1.0", "uprated"])
    low, central, high = _range(
        lambda v: amount / (v["hours_per_episode"] * hourly) * v["care_entry_effect"] * v["care_years"] * in_care, care)
    rows.append({"line": "care_entry", "title": CARE_TITLE, "code": "SS1.0",
                 "price_basis": priced.set_index("code").loc["SS1.0", "price_basis"],
                 "cost_low": low, "cost_central": central, "cost_high": high})
    for line in LINES:
        used = [hours, *(case.assumption_set[key] for key in line.assumptions)]
        unit_cost = float(case.lines.set_index("line").loc[line.key, "unit_cost"])

        def extra(v, line=line, unit_cost=unit_cost):
            per_closed = _events(line, outcomes, v) / outcomes.closed if outcomes.closed else 0.0
            return amount / (v["hours_per_episode"] * hourly) * per_closed * unit_cost

        low, central, high = _range(extra, used)
        rows.append({"line": line.key, "title": line.title, "code": line.code,
                     "price_basis": case.lines.set_index("line").loc[line.key, "price_basis"],
                     "cost_low": low, "cost_central": central, "cost_high": high})
    price_year, older = price_statement(priced, costs, deflators)
    notes = [
        f"Episodes lost = the cut / (practitioner hours per episode × SS18.10 family support worker cost per hour). "
        f"Each lost episode is assumed to forgo the council's average costs avoided per closed episode "
        f"({outcomes.closed:,} closed episodes), not {service}'s own, which would rest on far fewer episodes.",
        f"The costs are a year's; over {HORIZON_YEARS} years they recur each year the cut lasts (not discounted). "
        "Children entering care uses the national evaluation's effect, not this council's outcomes; those children "
        "would usually also have been stepped up, so that line and the step-up lines count different costs of "
        "some of the same children.",
        *price_notes(priced, price_year, older),
        SCENARIO_NOTE,
    ]
    return CutImpact(service, float(amount), service_episodes, per_episode, lost, pd.DataFrame(rows),
                     case.assumption_set, priced, notes, price_year, older)


# --------------------------------------------------------------------------- output


def business_case_csv(case: BusinessCase) -> pd.DataFrame:
    """One row per cost line: the council's base count, events avoided and £ low / central / high, and assumptions."""
    columns = ["line", "title", "code", "item", "base", "base_count", "events_low", "events_central", "events_high",
               "unit_cost", "price_basis", "cost_low", "cost_central", "cost_high", "assumptions", "note"]
    out = case.lines[columns].copy()
    for column in ("events_low", "events_central", "events_high"):
        out[column] = out[column].round(2)
    for column in ("unit_cost", "cost_low", "cost_central", "cost_high"):
        out[column] = out[column].round(0)
    return out


def with_assumption(assumption_set: dict[str, Assumption], key: str, **values: float) -> dict[str, Assumption]:
    """A copy of the assumptions with one changed (e.g. `with_assumption(a, 'da_incidents', central=0.8)`)."""
    return assumption_set | {key: replace(assumption_set[key], **values)}
