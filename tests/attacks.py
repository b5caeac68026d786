"""Differencing attacks on published tables: what a reader who sees them all could work out about hidden counts.

A published table is turned into cells (a tuple naming the cell) with the text shown ('c', or a number). An attack
knows how cells add up (a ward is its LSOAs, a year its quarters, the council its services, the open caseload
moves by referrals minus closures) and reads each shown number as the range it stands for. An attack *recovers* a
hidden count when only one whole number is left for it and that number is the true count.

Two publishers are attacked with the same attacks:
- `per_table_cells`: the plain team tables with the old per-table suppression (counts 1-5 as 'c', and the next
  smallest count where one hidden count could be worked out from its table's total), with free filters: LSOA and
  ward tables, a table per service, a period one day longer, each year and all years, localities;
- `release_cells`: every table the release gate emits (`ehmap.release.tables.release_tables`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

Cell = tuple
INF = math.inf


@dataclass(frozen=True)
class Reading:
    """How a reader turns a published cell into the range of counts it could be."""

    base: int  # counts are rounded to this (1: exact)
    smallest_shown: int  # 'c' stands for 1 to smallest_shown - 1 (taken at its word)

    def __call__(self, text: object) -> tuple[float, float]:
        if str(text) == "x":  # not released: any count
            return 0.0, INF
        if text is None or (isinstance(text, float) and math.isnan(text)) or str(text) == "c":
            return 1.0, float(self.smallest_shown - 1)
        value = int(float(str(text).replace(",", "")))
        if value == 0 or self.base == 1:
            return float(value), float(value)
        half = self.base // 2
        return float(max(self.smallest_shown, value - half)), float(value + half)


PER_TABLE = Reading(1, 6)
RELEASED = Reading(5, 8)


@dataclass(frozen=True)
class Claim:
    """An attack's conclusion that a hidden cell holds exactly `value`."""

    attack: str
    cell: Cell
    value: int


def is_hidden(text: object) -> bool:
    return text is None or (isinstance(text, float) and math.isnan(text)) or str(text) in ("c", "x")


def linear_attack(name: str, terms: dict[Cell, float], cells: dict[Cell, object], reading: Reading) -> list[Claim]:
    """sum(coef * cell) == 0 over published cells: for each hidden one, the range the others leave it."""
    if not all(c in cells for c in terms):
        return []
    ranges = {c: reading(cells[c]) for c in terms}
    claims = []
    for target, coef in terms.items():
        if not is_hidden(cells[target]):
            continue
        low = high = 0.0  # range of -sum(others) / coef
        for other, k in terms.items():
            if other == target:
                continue
            lo, hi = ranges[other]
            a, b = -k * lo / coef, -k * hi / coef
            low, high = low + min(a, b), high + max(a, b)
        own_lo, own_hi = ranges[target]
        low, high = max(low, own_lo), min(high, own_hi)
        if math.floor(high + 1e-9) - math.ceil(low - 1e-9) == 0:
            claims.append(Claim(name, target, int(math.ceil(low - 1e-9))))
    return claims


def sum_attack(name: str, total: Cell, parts: Iterable[Cell], cells, reading) -> list[Claim]:
    """A published total and its published parts: every hidden one the others pin down."""
    terms: dict[Cell, float] = {total: -1.0}
    for part in parts:
        terms[part] = terms.get(part, 0.0) + 1.0
    return linear_attack(name, terms, cells, reading)


def integer_attack(name: str, equations: list[dict[Cell, float]], cells: dict[Cell, object],
                   reading: Reading) -> list[Claim]:
    """The strongest reader: every equation at once, solved as integer programmes for each hidden cell's range."""
    keys = sorted({c for terms in equations for c in terms}, key=str)
    if not keys or not all(k in cells for k in keys):
        return []
    index = {k: i for i, k in enumerate(keys)}
    a = np.zeros((len(equations), len(keys)))
    for r, terms in enumerate(equations):
        for k, coef in terms.items():
            a[r, index[k]] += coef
    lows, highs = zip(*(reading(cells[k]) for k in keys), strict=True)
    constraints = LinearConstraint(a, 0, 0)
    bounds = Bounds(np.array(lows), np.array(highs))
    integrality = np.ones(len(keys))
    hidden = np.array([is_hidden(cells[k]) for k in keys])
    seen_low, seen_high = np.full(len(keys), np.inf), np.full(len(keys), -np.inf)

    def solve(c: np.ndarray) -> np.ndarray | None:
        result = milp(c, constraints=constraints, bounds=bounds, integrality=integrality)
        if result.status == 0:
            np.minimum(seen_low, result.x, out=seen_low)
            np.maximum(seen_high, result.x, out=seen_high)
            return result.x
        return None

    rng = np.random.default_rng(0)
    for _ in range(6):  # whole-number solutions that move hidden cells every way: a cell seen at two values is safe
        solve(np.where(hidden, rng.uniform(-1, 1, len(keys)), 0.0))
    claims = []
    for i in np.flatnonzero(hidden):
        if seen_high[i] - seen_low[i] >= 0.5:
            continue
        c = np.zeros(len(keys))
        c[i] = 1
        low, high = solve(c), solve(-c)
        if low is not None and high is not None and round(low[i]) == round(high[i]):
            claims.append(Claim(name, keys[i], int(round(low[i]))))
    return claims


# ------------------------------------------------------------------------------------------ truth


def financial_year(date: pd.Timestamp) -> str:
    start = date.year if date.month >= 4 else date.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def financial_quarter(date: pd.Timestamp) -> str:
    return f"{financial_year(date)} Q{((date.month - 4) % 12) // 3 + 1}"


@dataclass
class Truth:
    """True counts of the cells attacks name, worked out from the episodes directly (not by the release code)."""

    cases: pd.DataFrame
    area_of: dict[str, pd.Series]  # kind -> LSOA code -> area code
    need_bits: dict[str, int]  # need filter -> bits (0: all)

    def _area(self, geography: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_areas", {})
        if geography not in cache:
            cache[geography] = self.cases["lsoa11cd"].astype(str).map(self.area_of[geography]).to_numpy(dtype=object)
        return cache[geography]

    def _need(self, need: str) -> np.ndarray:
        bits = self.need_bits[need]
        return np.ones(len(self.cases), bool) if bits == 0 else (self.cases["needs_mask"].to_numpy() & bits) != 0

    def _period(self, period: str, dates: pd.Series) -> np.ndarray:
        cache = self.__dict__.setdefault("_periods", {})
        key = (period, dates.name)
        if key not in cache:
            if period == "all":
                cache[key] = dates.notna().to_numpy()
            elif " Q" in period:
                cache[key] = (dates.map(financial_quarter, na_action="ignore") == period).to_numpy()
            elif period.count("-") == 1:
                cache[key] = (dates.map(financial_year, na_action="ignore") == period).to_numpy()
            else:  # a free period 'start/end'
                start, end = (pd.Timestamp(d) for d in period.split("/"))
                cache[key] = ((dates >= start) & (dates <= end)).to_numpy()
        return cache[key]

    def __call__(self, cell: Cell) -> int:
        kind = cell[0]
        ref = self.cases["referral_date"]
        if kind == "area":
            _, need, geography, code, period = cell
            return int((self._need(need) & (self._area(geography) == code) & self._period(period, ref)).sum())
        if kind == "area_service":
            _, service, geography, code, period = cell
            return int(((self.cases["service"] == service).to_numpy() & (self._area(geography) == code)
                        & self._period(period, ref)).sum())
        if kind == "council":
            _, need, period = cell
            return int((self._need(need) & self._period(period, ref)).sum())
        if kind == "service":
            _, service, period = cell
            return int(((self.cases["service"] == service).to_numpy() & self._period(period, ref)).sum())
        if kind == "trend":
            _, split, group, column, quarter = cell
            rows = np.ones(len(self.cases), bool) if split == "none" else (
                (self.cases["service"] == group).to_numpy() if split == "service" else self._need(group))
            if column == "referrals":
                return int((rows & self._period(quarter, ref)).sum())
            end = self.cases["end_date"]
            if column == "closures":
                return int((rows & self._period(quarter, end)).sum())
            year, q = quarter.split(" Q")
            quarter_end = pd.Timestamp(int(year[:4]), 4, 1) + pd.DateOffset(months=3 * int(q)) - pd.Timedelta(days=1)
            return int((rows & (ref <= quarter_end).to_numpy() & (end.isna() | (end > quarter_end)).to_numpy()).sum())
        raise ValueError(f"No truth for {cell}")


def recovered(claims: Iterable[Claim], truth: Callable[[Cell], int]) -> list[Claim]:
    """Claims that name the true count: hidden counts the attack worked out."""
    return [claim for claim in claims if truth(claim.cell) == claim.value]


# ------------------------------------------------------------------------------------------ publishers


def per_table_suppression(counts: pd.Series) -> pd.Series:
    """The old per-table rule: 1-5 as 'c', and the smallest other non-zero count when only one is hidden."""
    hidden = (counts > 0) & (counts < 6)
    if hidden.sum() == 1:
        visible = counts.where(~hidden & (counts > 0))
        if visible.notna().any():
            hidden[visible.idxmin()] = True
    return counts.astype(int).astype(str).mask(hidden, "c")


def _publish_table(cells: dict, counts: pd.Series, cell_of: Callable[[str], Cell]) -> None:
    for code, text in per_table_suppression(counts).items():
        cells[cell_of(code)] = text


@dataclass(frozen=True)
class Layout:
    """What an attacker knows of how the published cells fit together (all of it public)."""

    needs: tuple[str, ...]
    years: tuple[str, ...]
    quarters: dict[str, tuple[str, ...]]  # year -> its quarters
    members: dict[str, dict[str, tuple[str, ...]]]  # kind -> area code -> the LSOA codes it holds
    localities: dict[str, tuple[str, ...]]  # locality -> the wards it holds
    services: tuple[str, ...]
    day_pairs: tuple[tuple[str, str], ...] = ()  # (period, the same period one day longer), as 'start/end'

    @property
    def periods(self) -> tuple[str, ...]:
        return (*self.years, "all")


def attack_all(cells: dict[Cell, object], reading: Reading, layout: Layout) -> list[Claim]:
    """Every attack the issue lists, and the ones found since, on one set of published cells."""
    claims: list[Claim] = []
    lsoas = layout.members["lsoa11"]
    for need in layout.needs:
        for period in (*layout.periods, *(p for pair in layout.day_pairs for p in pair)):
            for ward, held in layout.members.get("ward", {}).items():  # ward minus its LSOAs
                claims += sum_attack("ward - LSOAs", ("area", need, "ward", ward, period),
                                     [("area", need, "lsoa11", lsoa, period) for lsoa in held], cells, reading)
            for locality, wards in layout.localities.items():  # locality vs its wards
                claims += sum_attack("locality - wards", ("area", need, "locality", locality, period),
                                     [("area", need, "ward", w, period) for w in wards], cells, reading)
            for kind, areas in layout.members.items():  # the council total minus the areas shown
                if sum(len(v) for v in areas.values()) == len(lsoas):
                    claims += sum_attack("council - areas", ("council", need, period),
                                         [("area", need, kind, a, period) for a in areas], cells, reading)
        for kind, areas in layout.members.items():  # cumulative periods: all years minus the other years
            for area in areas:
                claims += sum_attack("all years - years", ("area", need, kind, area, "all"),
                                     [("area", need, kind, area, y) for y in layout.years], cells, reading)
        claims += sum_attack("all years - years", ("council", need, "all"),
                             [("council", need, y) for y in layout.years], cells, reading)
        for year, quarters in layout.quarters.items():
            claims += sum_attack("year - quarters", ("council", need, year),
                                 [("council", need, q) for q in quarters], cells, reading)
        for short, longer in layout.day_pairs:  # a period one day longer
            claims += _day_longer(need, short, longer, cells, reading, layout)
        equations = [e for e in _area_equations(need, layout) if all(c in cells for c in e)]
        claims += integer_attack(f"integer programme ({need})", equations, cells, reading)
    for period in layout.periods:
        claims += sum_attack("all services - services", ("council", "all", period),
                             [("service", s, period) for s in layout.services], cells, reading)
        for lsoa in lsoas:  # a need map filtered to each service, against the unfiltered one
            claims += sum_attack("all services - services", ("area", "all", "lsoa11", lsoa, period),
                                 [("area_service", s, "lsoa11", lsoa, period) for s in layout.services], cells, reading)
    for year, quarters in layout.quarters.items():
        for service in layout.services:
            claims += sum_attack("year - quarters", ("service", service, year),
                                 [("trend", "service", service, "referrals", q) for q in quarters], cells, reading)
    claims += _caseload(cells, reading, layout)
    claims += _outcomes(cells, reading)
    return claims


def _area_equations(need: str, layout: Layout) -> list[dict[Cell, float]]:
    """Every exact sum among one need's area and council cells (for the integer programme)."""
    equations = []
    lsoa_count = len(layout.members["lsoa11"])
    for period in layout.periods:
        for kind, areas in layout.members.items():
            if sum(len(v) for v in areas.values()) == lsoa_count:
                equations.append({("council", need, period): -1.0,
                                  **{("area", need, kind, a, period): 1.0 for a in areas}})
        for ward, held in layout.members.get("ward", {}).items():
            equations.append({("area", need, "ward", ward, period): -1.0,
                              **{("area", need, "lsoa11", lsoa, period): 1.0 for lsoa in held}})
    for kind, areas in layout.members.items():
        for area in areas:
            equations.append({("area", need, kind, area, "all"): -1.0,
                              **{("area", need, kind, area, y): 1.0 for y in layout.years}})
    return [e for e in equations if len(e) > 1]


def _day_longer(need, short, longer, cells, reading, layout) -> list[Claim]:
    """Each area grows by at most what the council grows by when the period is one day longer."""
    claims = []
    if ("council", need, short) not in cells or ("council", need, longer) not in cells:
        return claims
    c0, c1 = reading(cells[("council", need, short)]), reading(cells[("council", need, longer)])
    growth = max(c1[1] - c0[0], 0)
    for kind, areas in layout.members.items():
        for area in areas:
            a, b = ("area", need, kind, area, short), ("area", need, kind, area, longer)
            if a not in cells or b not in cells:
                continue
            (a_lo, a_hi), (b_lo, b_hi) = reading(cells[a]), reading(cells[b])
            for target, low, high in ((a, max(a_lo, b_lo - growth), min(a_hi, b_hi)),
                                      (b, max(b_lo, a_lo), min(b_hi, a_hi + growth))):
                if is_hidden(cells[target]) and math.floor(high) - math.ceil(low) == 0:
                    claims.append(Claim("period one day longer", target, int(math.ceil(low))))
    return claims


def _caseload(cells, reading, layout) -> list[Claim]:
    """open(q) = open(q-1) + referrals(q) - closures(q), for every group split in the trends."""
    claims = []
    groups = {(c[1], c[2]) for c in cells if c[0] == "trend"}
    quarters = [q for qs in layout.quarters.values() for q in qs]
    for split, group in sorted(groups, key=str):
        for previous, quarter in zip(quarters, quarters[1:], strict=False):
            terms = {("trend", split, group, "open_caseload", quarter): 1.0,
                     ("trend", split, group, "open_caseload", previous): -1.0,
                     ("trend", split, group, "referrals", quarter): -1.0,
                     ("trend", split, group, "closures", quarter): 1.0}
            claims += linear_attack("caseload identity", terms, cells, reading)
    return claims


OUTCOME_COLUMNS = ("needs_met", "step_up_csc", "step_down_universal", "transfer_other_service", "declined_consent",
                   "disengaged", "moved_out_of_area", "nfa_after_assessment", "other")


def _outcomes(cells, reading) -> list[Claim]:
    """Episodes = still open + every closure outcome; closed = every closure outcome; the council = its groups."""
    claims = []
    groups = {(c[1], c[2], c[4]) for c in cells if c[0] == "outcome"}
    for by, group, period in sorted(groups, key=str):
        named = {column: ("outcome", by, group, column, period) for column in ("episodes", "open", "closed",
                                                                               *OUTCOME_COLUMNS)}
        parts = [named["open"], *(named[c] for c in OUTCOME_COLUMNS)]
        claims += sum_attack("outcomes add up", named["episodes"], parts, cells, reading)
        claims += sum_attack("outcomes add up", named["closed"], [named[c] for c in OUTCOME_COLUMNS], cells, reading)
    for by, period in sorted({(g[0], g[2]) for g in groups}, key=str):
        members = sorted({g[1] for g in groups if g[0] == by and g[2] == period and g[1] != "All"})
        for column in ("episodes", "open", "closed", *OUTCOME_COLUMNS):
            claims += sum_attack("council - groups", ("outcome", by, "All", column, period),
                                 [("outcome", by, g, column, period) for g in members], cells, reading)
    return claims


def per_table_cells(truth: Truth, layout: Layout) -> dict[Cell, object]:
    """The plain team tables with per-table suppression, for every filter the old pages offered."""
    cells: dict[Cell, object] = {}
    periods = (*layout.periods, *(p for pair in layout.day_pairs for p in pair))
    for need in layout.needs:
        for period in periods:
            cells[("council", need, period)] = str(truth(("council", need, period)))
            for kind in (*layout.members, "locality"):
                areas = layout.localities if kind == "locality" else layout.members[kind]
                counts = pd.Series({a: truth(("area", need, kind, a, period)) for a in areas})
                _publish_table(cells, counts, lambda a, need=need, kind=kind, period=period:
                               ("area", need, kind, a, period))
        for quarters in layout.quarters.values():
            for q in quarters:
                cells[("council", need, q)] = str(truth(("council", need, q)))
    for period in layout.periods:
        counts = pd.Series({s: truth(("service", s, period)) for s in layout.services})
        _publish_table(cells, counts, lambda s, period=period: ("service", s, period))
        for service in layout.services:
            counts = pd.Series({lsoa: truth(("area_service", service, "lsoa11", lsoa, period))
                                for lsoa in layout.members["lsoa11"]})
            _publish_table(cells, counts, lambda a, service=service, period=period:
                           ("area_service", service, "lsoa11", a, period))
    for quarters in layout.quarters.values():
        for q in quarters:
            for column in ("referrals", "open_caseload", "closures"):
                counts = pd.Series({s: truth(("trend", "service", s, column, q)) for s in layout.services})
                _publish_table(cells, counts, lambda s, column=column, q=q: ("trend", "service", s, column, q))
    return cells


KINDS = {"lsoa11": "lsoa11", "ward": "ward", "custom": "locality"}


def release_cells(tables: dict[str, pd.DataFrame], need_keys: dict[str, str]) -> dict[Cell, object]:
    """Cells of every table the release gate emits, named as the attacks name them (`need_keys`: title -> key)."""
    cells: dict[Cell, object] = {}
    for name, table in tables.items():
        if name == "council_totals":
            for row in table.itertuples():
                cells[("council", need_keys[row.need], row.period)] = row.episodes
        elif name.startswith("episodes_") and "_by_imd_decile_" not in name:
            need, rest = name[len("episodes_"):].split("_by_", 1)
            kind, period = rest.rsplit("_", 1)
            for row in table.itertuples():
                cells[("area", need, KINDS[kind], row.code, period)] = row.episodes
        elif name.startswith("outcomes_by_"):
            by, period = name[len("outcomes_by_"):].rsplit("_", 1)
            for row in table.to_dict("records"):
                for column, value in row.items():
                    if column != "group" and not column.endswith("_pct"):
                        cells[("outcome", by, row["group"], column, period)] = value
                if by == "service" and row["group"] != "All":
                    cells[("service", row["group"], period)] = row["episodes"]
        elif name.startswith("trends_by_"):
            split = name[len("trends_by_"):]
            for row in table.to_dict("records"):
                group = need_keys.get(row["group"], row["group"]) if split == "need" else row["group"]
                for column in ("referrals", "open_caseload", "closures"):
                    value = row[column]
                    cells[("trend", split, group, column, row["period"])] = \
                        "c" if pd.isna(value) else str(int(value))
    return cells
