"""Every count one release of a dataset can show, registered once with the arithmetic that links them.

The release's tables, for fixed periods only (financial years, their quarters, and all years together):

- **episodes by area** for each need (and all needs, and poverty needs), on one geography per need chosen for the
  data (`choose_geography`), with each area's all-years total and the council total; for poverty and all needs
  also by national deprivation decile;
- **episodes by service and by referral source** at council level (never a service within a small area);
- **closure outcomes** (every category, plus still open) per service and per referral source, closed episodes,
  and re-referrals, with whole percentages of closed episodes;
- **trends** per quarter at council level, by service and by need: referrals, closures and the open caseload
  (linked by open(q) = open(q-1) + referrals(q) - closures(q)), with the shares of closures whose needs were met
  or that stepped up;
- **families** (with poverty needs, and all) and how many of them live in the most deprived fifth of areas;
- **closures with needs met for a costed need** (domestic abuse, education) at council level, the counts the
  business case starts from beside closed episodes and step-ups.

Keys are tuples; the first item names the table. Where an area count is needed only as the sum of others (LSOA
counts behind ward and decile tables), it is registered unpublished so the arithmetic stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehmap.areas import AreaSet
from ehmap.business_case import COSTED_NEEDS
from ehmap.performance import episode_flags
from ehmap.release.linked import Key, LinkedCounts
from ehmap.release.periods import Period, financial_years, quarters, whole_export
from ehmap.taxonomy import NEED_BITS, NEEDS, OUTCOMES

ALL_NEEDS = "all"
POVERTY = "poverty"
POVERTY_NEEDS = ("financial_stability", "housing")
COUNCIL = "council"
NOT_RECORDED = "Not recorded"
OPEN = "open"  # the outcome 'category' of an episode not yet closed
CLOSED_CATEGORIES = tuple(OUTCOMES)
SHARED_OUTCOMES = ("needs_met", "step_up_csc", "disengaged")  # shown as percentages of closed episodes
GROUPINGS = ("service", "referral_source")
MOST_DEPRIVED_FIFTH = 2  # deciles 1 and 2
LARGEST_HIDDEN_SHARE = 0.25  # a geography is used only when at most this share of its area counts would be hidden


def need_filters() -> dict[str, int]:
    """Bits of `needs_mask` that select each need filter; 0 selects every episode."""
    return {ALL_NEEDS: 0, **{n.key: NEED_BITS[n.key] for n in NEEDS},
            POVERTY: sum(NEED_BITS[n] for n in POVERTY_NEEDS)}


def selected(cases: pd.DataFrame, need: str) -> np.ndarray:
    """Per episode: it records the need (every episode for 'all')."""
    bits = need_filters()[need]
    return np.ones(len(cases), dtype=bool) if bits == 0 else (cases["needs_mask"].to_numpy() & bits) != 0


@dataclass(frozen=True)
class Calendar:
    """The fixed periods of a dataset: its financial years, their quarters and all years together."""

    years: tuple[Period, ...]
    quarters: tuple[Period, ...]
    all_years: Period

    @classmethod
    def of(cls, cases: pd.DataFrame) -> Calendar:
        dates = cases["referral_date"]
        years = tuple(financial_years(dates.min(), dates.max()))
        return cls(years, tuple(q for y in years for q in quarters(y)), whole_export(list(years)))

    def year_index(self, dates: pd.Series) -> np.ndarray:
        """The index into `years` of each date (-1 outside them, e.g. no date)."""
        return _period_index(dates, self.years)

    def quarter_index(self, dates: pd.Series) -> np.ndarray:
        return _period_index(dates, self.quarters)

    def period(self, key: str) -> Period:
        for period in (*self.years, *self.quarters, self.all_years):
            if period.key == key:
                return period
        raise ValueError(f"'{key}' is not a period of this release; choose from {[p.key for p in self.years]} or all.")


def _period_index(dates: pd.Series, periods: tuple[Period, ...]) -> np.ndarray:
    starts = np.array([np.datetime64(p.start) for p in periods])
    values = dates.to_numpy(dtype="datetime64[ns]")
    index = np.searchsorted(starts.astype("datetime64[ns]"), values, side="right") - 1
    end = np.datetime64(periods[-1].end) + np.timedelta64(1, "D")
    outside = np.isnat(values) | (index < 0) | (values >= end.astype("datetime64[ns]"))
    return np.where(outside, -1, index)


def _counts(index: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
    """How many kept rows fall at each index 0..size-1."""
    chosen = index[keep & (index >= 0)]
    return np.bincount(chosen, minlength=size)


def lsoa_year_counts(cases: pd.DataFrame, lsoas: pd.Index, calendar: Calendar, need: str) -> np.ndarray:
    """Episodes of a need per council LSOA (rows) and financial year (columns)."""
    lsoa = lsoas.get_indexer(cases["lsoa11cd"].astype(object))
    year = calendar.year_index(cases["referral_date"])
    keep = selected(cases, need) & (lsoa >= 0) & (year >= 0)
    flat = _counts(lsoa * len(calendar.years) + year, keep, len(lsoas) * len(calendar.years))
    return flat.reshape(len(lsoas), len(calendar.years))


def hidden_share(counts: np.ndarray, smallest_shown: int) -> float:
    """The share of non-zero cells that the release rule would hide (counts from 1 to smallest_shown - 1): of the
    areas that have any episodes, how many a reader could not see."""
    nonzero = counts[counts > 0]
    return float((nonzero < smallest_shown).mean()) if nonzero.size else 0.0


def area_year_counts(by_lsoa: np.ndarray, areas: AreaSet, lsoas: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """LSOA x year counts summed to the areas of a geography (rows in `areas.areas` order), and what no area holds."""
    codes = pd.Index(areas.areas["code"].astype(str))
    where = codes.get_indexer(areas.lsoa_to_area.reindex(lsoas).astype(object))
    out = np.zeros((len(codes), by_lsoa.shape[1]), dtype=np.int64)
    np.add.at(out, where[where >= 0], by_lsoa[where >= 0])
    return out, by_lsoa[where < 0].sum(axis=0)


def choose_geography(by_lsoa: np.ndarray, geographies: Mapping[str, AreaSet], lsoas: pd.Index,
                     smallest_shown: int) -> tuple[str, dict[str, float]]:
    """The finest geography where at most a quarter of non-zero area-by-year counts would be hidden, else the
    one hiding the fewest.

    Returns the geography's kind and the hidden share of each candidate (for the sentence that says why)."""
    shares = {kind: hidden_share(area_year_counts(by_lsoa, areas, lsoas)[0], smallest_shown)
              for kind, areas in geographies.items()}
    for kind, share in shares.items():
        if share <= LARGEST_HIDDEN_SHARE:
            return kind, shares
    return min(shares, key=lambda kind: (shares[kind], -list(shares).index(kind))), shares


# ------------------------------------------------------------------------------------------ registering


def _register_areas(linked: LinkedCounts, need: str, kind: str, codes: list[str], by_area: np.ndarray,
                    calendar: Calendar, published: bool) -> list[list[Key]]:
    """Area x year cells and each area's all-years total; returns the cell keys per year."""
    per_year: list[list[Key]] = [[] for _ in calendar.years]
    for i, code in enumerate(codes):
        cells = []
        for j, year in enumerate(calendar.years):
            key = linked.add(("episodes", need, kind, code, year.key), by_area[i, j], published)
            cells.append(key)
            per_year[j].append(key)
        linked.add_sum(linked.add(("episodes", need, kind, code, "all"), by_area[i].sum(), published), cells)
    return per_year


def _council_totals(linked: LinkedCounts, need: str, calendar: Calendar, totals: np.ndarray) -> list[Key]:
    years = [linked.add(("episodes", need, COUNCIL, "", y.key), totals[j]) for j, y in enumerate(calendar.years)]
    linked.add_sum(linked.add(("episodes", need, COUNCIL, "", "all"), totals.sum()), years)
    return years


def register_need(linked: LinkedCounts, need: str, by_lsoa: np.ndarray, lsoas: pd.Index, calendar: Calendar,
                  partitions: Mapping[str, tuple[list[str], pd.Series]], shown_kind: str) -> None:
    """A need's area counts for every partition of the council's LSOAs that the release shows.

    `partitions` maps a kind (e.g. 'ward', 'decile') to its area codes and the LSOA -> area code assignment; the
    `shown_kind` is the geography the need is mapped on. With one partition its cells add up to the council; with
    more, each LSOA count is registered (published only when the need is mapped on LSOAs) and every partition's
    cells are sums of them, so overlapping partitions cannot be subtracted from each other unseen.
    """
    council = _council_totals(linked, need, calendar, by_lsoa.sum(axis=0))
    base = None
    if len(partitions) > 1 or "lsoa11" in partitions:
        base = _register_areas(linked, need, "lsoa11", list(lsoas), by_lsoa, calendar, shown_kind == "lsoa11")
        for j in range(len(calendar.years)):
            linked.add_sum(council[j], base[j])
    for kind, (codes, assignment) in partitions.items():
        if kind == "lsoa11":
            continue
        where = pd.Index(codes).get_indexer(assignment.reindex(lsoas).astype(object))
        by_area = np.zeros((len(codes), len(calendar.years)), dtype=np.int64)
        np.add.at(by_area, where[where >= 0], by_lsoa[where >= 0])
        per_year = _register_areas(linked, need, kind, codes, by_area, calendar, True)
        for j, year in enumerate(calendar.years):
            parts = list(per_year[j])
            if (where < 0).any():  # LSOAs no area holds: a reader knows they exist, never what they hold
                parts.append(linked.add(("unplaced", need, kind, year.key), by_lsoa[where < 0, j].sum(), False))
            linked.add_sum(council[j], parts)
            if base is not None:
                for i, _code in enumerate(codes):
                    linked.add_sum(per_year[j][i], [base[j][m] for m in np.flatnonzero(where == i)])


def register_groups(linked: LinkedCounts, cases: pd.DataFrame, calendar: Calendar, by: str) -> list[str]:
    """Episodes per service (or referral source) per year and quarter at council level; returns the groups."""
    labels = cases[by].astype(object).where(cases[by].notna(), NOT_RECORDED).astype(str).to_numpy()
    groups = sorted(set(labels))
    year, quarter = calendar.year_index(cases["referral_date"]), calendar.quarter_index(cases["referral_date"])
    for period_index, periods, published in ((year, calendar.years, True),
                                             (quarter, calendar.quarters, by == "service")):  # trends: by service
        for p, period in enumerate(periods):
            in_period = period_index == p
            keys = [linked.add(("group", by, g, period.key), int((in_period & (labels == g)).sum()), published)
                    for g in groups]
            linked.add_sum(("episodes", ALL_NEEDS, COUNCIL, "", period.key), keys)
    for g in groups:
        linked.add_sum(linked.add(("group", by, g, "all"), int((labels == g).sum())),
                       [("group", by, g, y.key) for y in calendar.years])
        for y in calendar.years:
            linked.add_sum(("group", by, g, y.key), [("group", by, g, q.key) for q in quarters(y)])
    linked.add_sum(("episodes", ALL_NEEDS, COUNCIL, "", "all"), [("group", by, g, "all") for g in groups])
    return groups


def register_outcomes(linked: LinkedCounts, cases: pd.DataFrame, calendar: Calendar, by: str,
                      flags: pd.DataFrame) -> None:
    """Every closure outcome (and still open), closed episodes and re-referrals per group, by referral year."""
    labels = cases[by].astype(object).where(cases[by].notna(), NOT_RECORDED).astype(str).to_numpy()
    outcome = np.where(flags["closed"].to_numpy(), cases["outcome"].astype(object).fillna("other").to_numpy(), OPEN)
    year = calendar.year_index(cases["referral_date"])
    eligible, rereferred = flags["rereferral_eligible"].to_numpy(), flags["rereferral"].to_numpy()
    groups = sorted(set(labels))
    for period, in_period in [(y, year == j) for j, y in enumerate(calendar.years)] + \
                             [(calendar.all_years, year >= 0)]:
        for g in [*groups, None]:
            rows = in_period & (labels == g) if g is not None else in_period
            owner = ("outcome", by, g) if g is not None else ("outcome", COUNCIL, "")
            whole = ("group", by, g, period.key) if g is not None else ("episodes", ALL_NEEDS, COUNCIL, "",
                                                                         period.key)
            cells = {c: linked.add((*owner, c, period.key), int((rows & (outcome == c)).sum()))
                     for c in (OPEN, *CLOSED_CATEGORIES)}
            linked.add_sum(whole, cells.values())
            closed = linked.add((*owner, "closed", period.key), int((rows & (outcome != OPEN)).sum()))
            linked.add_sum(closed, [cells[c] for c in CLOSED_CATEGORIES])
            for c in SHARED_OUTCOMES:
                linked.add_share(cells[c], closed)
            due = linked.add((*owner, "rereferral_eligible", period.key), int((rows & eligible).sum()))
            back = linked.add((*owner, "rereferred", period.key), int((rows & rereferred).sum()))
            linked.add_within(due, closed)
            linked.add_within(back, due)
            linked.add_share(back, due)
    for c in (OPEN, *CLOSED_CATEGORIES, "closed", "rereferral_eligible", "rereferred"):
        for period in (*calendar.years, calendar.all_years):
            linked.add_sum((("outcome", COUNCIL, "", c, period.key)),
                           [("outcome", by, g, c, period.key) for g in groups])
        linked.add_sum(("outcome", COUNCIL, "", c, "all"),
                       [("outcome", COUNCIL, "", c, y.key) for y in calendar.years])


def register_trends(linked: LinkedCounts, cases: pd.DataFrame, calendar: Calendar, split: str, group: str,
                    rows: np.ndarray, referrals: list[Key]) -> None:
    """Closures and open caseload per quarter for one group of episodes, tied to its referrals per quarter."""
    ref = cases["referral_date"].to_numpy(dtype="datetime64[ns]")[rows]
    end = cases["end_date"].to_numpy(dtype="datetime64[ns]")[rows]
    outcome = cases["outcome"].astype(object).to_numpy()[rows]
    closing_quarter = calendar.quarter_index(pd.Series(end))
    previous: Key | None = None
    for q, (quarter, referred) in enumerate(zip(calendar.quarters, referrals, strict=True)):
        quarter_end = np.datetime64(quarter.end).astype("datetime64[ns]")
        closing = closing_quarter == q
        closures = linked.add(("closures", split, group, quarter.key), int(closing.sum()))
        open_at = linked.add(("open", split, group, quarter.key),
                             int(((ref <= quarter_end) & (np.isnat(end) | (end > quarter_end))).sum()))
        terms = {open_at: 1.0, referred: -1.0, closures: 1.0}
        if previous is not None:
            terms[previous] = -1.0
        linked.add_identity(terms)
        for c in ("needs_met", "step_up_csc"):
            part = linked.add(("closures", split, group, quarter.key, c), int((closing & (outcome == c)).sum()),
                              published=False)
            linked.add_within(part, closures)
            linked.add_share(part, closures)
        previous = open_at


def register_quarters(linked: LinkedCounts, cases: pd.DataFrame, calendar: Calendar, need: str) -> None:
    """A need's council referrals per quarter, adding up to its years."""
    quarter = calendar.quarter_index(cases["referral_date"])
    counts = _counts(quarter, selected(cases, need), len(calendar.quarters))
    for q, period in enumerate(calendar.quarters):
        linked.add(("episodes", need, COUNCIL, "", period.key), counts[q])
    for y in calendar.years:
        linked.add_sum(("episodes", need, COUNCIL, "", y.key),
                       [("episodes", need, COUNCIL, "", q.key) for q in quarters(y)])


def register_families(linked: LinkedCounts, cases: pd.DataFrame, calendar: Calendar,
                      decile: pd.Series | None) -> None:
    """Families (with poverty needs, and all) per year, and those living in the most deprived fifth of areas."""
    if decile is None:
        return
    family = cases["family_id"].astype("string").fillna(cases["case_id"].astype("string")) \
        if "family_id" in cases else cases["case_id"].astype("string")
    year = calendar.year_index(cases["referral_date"])
    poverty = selected(cases, POVERTY)
    for period, in_period in [(y, year == j) for j, y in enumerate(calendar.years)] + \
                             [(calendar.all_years, year >= 0)]:
        keys = {}
        for group, rows in (("all", in_period), (POVERTY, in_period & poverty)):
            latest = cases[rows].assign(_family=family[rows].to_numpy()).sort_values("referral_date") \
                .groupby("_family", observed=True).tail(1)
            fifth = latest["lsoa11cd"].astype(str).map(decile) <= MOST_DEPRIVED_FIFTH
            total = linked.add(("families", group, "total", period.key), len(latest))
            inner = linked.add(("families", group, "most_deprived_fifth", period.key), int(fifth.sum()))
            linked.add_within(inner, total)
            linked.add_share(inner, total)
            keys[group] = (total, inner)
        linked.add_within(keys[POVERTY][0], keys["all"][0])
        linked.add_within(keys[POVERTY][1], keys["all"][1])


def register_needs_met(linked: LinkedCounts, cases: pd.DataFrame, calendar: Calendar, flags: pd.DataFrame) -> None:
    """Closed episodes with needs met and a costed need (the business case's counts), per referral year and all.

    Each is within the council's closures with needs met and within the need's episodes; all years is the sum of
    the years."""
    met = flags["closed"].to_numpy() & (cases["outcome"].astype(object).to_numpy() == "needs_met")
    year = calendar.year_index(cases["referral_date"])
    for need in COSTED_NEEDS:
        rows = met & selected(cases, need)
        keys = []
        for j, period in [*enumerate(calendar.years), (None, calendar.all_years)]:
            in_period = year >= 0 if j is None else year == j
            key = linked.add(("needs_met", need, COUNCIL, period.key), int((rows & in_period).sum()))
            linked.add_within(key, ("outcome", COUNCIL, "", "needs_met", period.key))
            linked.add_within(key, ("episodes", need, COUNCIL, "", period.key))
            keys.append(key)
        linked.add_sum(keys[-1], keys[:-1])


def release_flags(cases: pd.DataFrame) -> pd.DataFrame:
    """Closed, outcome and re-referral flags per episode (the definitions of the performance page)."""
    return episode_flags(cases)
