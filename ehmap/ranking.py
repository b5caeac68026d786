"""Areas ranked by rate per 1,000 children with exact 95% intervals: the plain answer to "where is it worst".

Each area's rate comes with an exact (Garwood) Poisson 95% interval, the one the need map gives LSOAs. An area is
*clearly above* the council rate when its whole interval lies above that rate, *clearly below* when its whole
interval lies below it; otherwise its difference from the council could be chance. The council rate is the
council's episodes per 1,000 children over the same period.

A rate above `IMPLAUSIBLE_PER_YEAR` episodes per 1,000 children a year is flagged as a likely data problem
(`IMPLAUSIBLE_RULE`): it is shown, never dropped, and the reading says so.

A count that is hidden (a released view's 'c') is listed as hidden, never estimated: it gets no rate, no interval
and no rank.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehmap.areas import AreaSet
from ehmap.needmap import PER_CHILDREN, episodes_by_lsoa, poisson_rate_interval

IMPLAUSIBLE_PER_YEAR = 100.0  # episodes per 1,000 children a year
IMPLAUSIBLE_FLAG = "over 100 per 1,000 children a year: likely a data problem"
IMPLAUSIBLE_RULE = (
    "Rates above 100 episodes per 1,000 children a year (one child in ten, every year) are flagged as likely data "
    "problems: early help for all needs together runs at about 15 to 35 per 1,000 children a year, so such a rate "
    "usually means misplaced postcodes, duplicated episodes or a wrong population figure."
)
ABOVE, BELOW, WITHIN = "clearly above the council rate", "clearly below the council rate", "not clearly different"
HIDDEN, NO_RATE = "hidden (a small count)", "no rate (no child population)"
POOLED_YEARS = 1.9  # a period this long already pools about two years: a reading does not suggest pooling


@dataclass(frozen=True)
class Ranking:
    """Areas ranked by rate per 1,000 children, highest first, with exact 95% intervals and their position."""

    kind: str  # "ward", "lsoa11" or "custom"
    table: pd.DataFrame  # rank, code, name, ward, episodes (text), count, children, rate, rate_lower, rate_upper,
    # annual_rate, position, implausible
    council_rate: float  # episodes per 1,000 children over the period, the line each interval is compared with
    years: float  # the period's length in years

    def where(self, position: str) -> pd.DataFrame:
        """The areas in one position (ABOVE, BELOW, ...), in rank order."""
        return self.table[self.table["position"] == position]

    @property
    def ranked(self) -> pd.DataFrame:
        """The areas with a rate (not hidden, with children), in rank order."""
        return self.table[self.table["rank"].notna()]

    @property
    def implausible(self) -> pd.DataFrame:
        """The areas whose rate breaks `IMPLAUSIBLE_RULE`, in rank order."""
        return self.table[self.table["implausible"]]


def period_years(start: dt.date, end: dt.date) -> float:
    """The length of a period, first and last days included, in years of 365.25 days."""
    if end < start:
        raise ValueError(f"A period must end on or after its start; got {start} to {end}.")
    return ((end - start).days + 1) / 365.25


def episodes_by_area(cases: pd.DataFrame, areas: AreaSet) -> pd.Series:
    """Episodes per area (zeros included): each LSOA's episodes go to its area (for wards, the ONS best fit)."""
    lsoas = pd.Index(areas.lsoa_to_area.index, name=areas.lsoa_column)
    by_lsoa = episodes_by_lsoa(cases, lsoas, areas.lsoa_column)
    codes = pd.Index(areas.areas["code"].astype(str), name="code")
    return by_lsoa.groupby(areas.lsoa_to_area.reindex(lsoas).to_numpy(), dropna=True).sum().reindex(codes,
                                                                                                    fill_value=0)


def children_by_area(areas: AreaSet, population: pd.DataFrame) -> pd.Series:
    """Children aged 0-17 per area: the sum of its LSOAs' children (0 where none is known)."""
    lsoas = pd.Index(areas.lsoa_to_area.index, name=areas.lsoa_column)
    if areas.lsoa_column not in population:
        raise ValueError(f"Children per {areas.lsoa_column} are needed for {areas.title} areas; for LSOA 2021 carry "
                         "them with ehmap.lsoa21.children_on_lsoa21.")
    own = population[population[areas.lsoa_column].isin(lsoas)]  # the council's rows, not the nation's, indexed
    children = own.set_index(areas.lsoa_column)["children"].reindex(lsoas).fillna(0)
    codes = pd.Index(areas.areas["code"].astype(str), name="code")
    return children.groupby(areas.lsoa_to_area.reindex(lsoas).to_numpy(), dropna=True).sum().reindex(codes,
                                                                                                     fill_value=0)


def _positions(count: pd.Series, rate: pd.Series, lower: pd.Series, upper: pd.Series, council: float) -> pd.Series:
    """Each area's place against the council rate: its whole interval above, below, or neither."""
    position = pd.Series(WITHIN, index=count.index, dtype=object)
    position[lower > council] = ABOVE
    position[upper < council] = BELOW
    position[rate.isna()] = NO_RATE
    position[count.isna()] = HIDDEN
    return position


def rank_areas(kind: str, codes: pd.Index, names: pd.Series, counts: pd.Series, children: pd.Series,
               years: float, council_rate: float | None = None, shown: pd.Series | None = None,
               wards: pd.Series | None = None) -> Ranking:
    """Rank areas by rate per 1,000 children with exact 95% intervals, highest first.

    `counts` holds each area's episodes (NaN where hidden: listed, never ranked); `shown` the count as displayed
    (default: the count, or 'c' where hidden). `council_rate` defaults to all the areas' episodes per 1,000 of
    their children. `wards` names each area's ward (for LSOAs). Every series is indexed by `codes`.
    """
    if years <= 0:
        raise ValueError(f"years must be positive; got {years}.")
    codes = pd.Index(codes, name="code")
    count = counts.reindex(codes).astype(float)
    kids = children.reindex(codes).astype(float)
    if council_rate is None:
        known = count.notna() & (kids > 0)
        council_rate = float(count[known].sum() / kids[known].sum() * PER_CHILDREN) if known.any() else float("nan")
    with_children = kids.where(kids > 0)
    rate = count / with_children * PER_CHILDREN
    lower, upper = poisson_rate_interval(count.fillna(0), kids)
    lower, upper = lower.where(rate.notna()), upper.where(rate.notna())
    table = pd.DataFrame({
        "code": codes.astype(str),
        "name": names.reindex(codes).astype(str).to_numpy(),
        "ward": (wards.reindex(codes).astype(object).to_numpy() if wards is not None else None),
        "episodes": (shown.reindex(codes).astype(str).to_numpy() if shown is not None
                     else [("c" if np.isnan(v) else f"{v:,.0f}") for v in count]),
        "count": count.to_numpy(),
        "children": kids.to_numpy(),
        "rate": rate.to_numpy(),
        "rate_lower": lower.to_numpy(),
        "rate_upper": upper.to_numpy(),
        "annual_rate": (rate / years).to_numpy(),
        "position": _positions(count, rate, lower, upper, council_rate).to_numpy(),
    })
    table["implausible"] = (table["annual_rate"] > IMPLAUSIBLE_PER_YEAR).to_numpy()
    table = table.sort_values(["rate", "count", "code"], ascending=[False, False, True], na_position="last")
    table["rank"] = table["rate"].rank(ascending=False, method="min")
    return Ranking(kind, table.reset_index(drop=True), council_rate, years)


def rank_team_areas(cases: pd.DataFrame, areas: AreaSet, population: pd.DataFrame, start: dt.date, end: dt.date,
                    wards: pd.Series | None = None) -> Ranking:
    """Rank an area set on the exact counts of `cases` (already filtered) for the period `start` to `end`."""
    codes = pd.Index(areas.areas["code"].astype(str), name="code")
    names = pd.Series(areas.areas["name"].astype(str).to_numpy(), index=codes)
    return rank_areas(areas.kind, codes, names, episodes_by_area(cases, areas), children_by_area(areas, population),
                      period_years(start, end), wards=wards)
