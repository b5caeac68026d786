"""Episodes by LSOA (or any areas summed from LSOAs) for the need map: exact counts and rates per 1,000 children,
for the team.

These are the team's own figures: exact, with counts from 1 to 5 flagged "fewer than 6: interpret with care",
never hidden. What is shared with anyone else is read from the release gate (`ehmap.release`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaincinv  # chi2.ppf(q, 2k) / 2, without importing scipy.stats (1-2 s)

from ehmap.audience import SMALL_FLAG, small
from ehmap.smoothing import eb_global
from ehmap.taxonomy import NEED_BITS

PER_CHILDREN = 1000


@dataclass(frozen=True)
class CaseFilter:
    """Which episodes to count: one need (None = any), referral dates in a period, one service."""

    need: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    service: str | None = None

    def apply(self, cases: pd.DataFrame) -> pd.DataFrame:
        """The episodes that match, by referral date within [start, end]."""
        keep = np.ones(len(cases), dtype=bool)
        if self.need is not None:
            if self.need not in NEED_BITS:
                raise ValueError(f"Unknown need '{self.need}'; valid needs are {sorted(NEED_BITS)}.")
            keep &= (cases["needs_mask"].to_numpy() & NEED_BITS[self.need]) != 0
        if self.start is not None:
            keep &= (cases["referral_date"] >= pd.Timestamp(self.start)).to_numpy()
        if self.end is not None:
            keep &= (cases["referral_date"] <= pd.Timestamp(self.end)).to_numpy()
        if self.service is not None:
            keep &= (cases["service"] == self.service).to_numpy()
        return cases[keep]


def episodes_by_lsoa(cases: pd.DataFrame, lsoa_codes: pd.Index, column: str = "lsoa11cd") -> pd.Series:
    """Number of episodes in each LSOA of `lsoa_codes` (zeros included), by the episodes' `column` (LSOA 2011 or
    LSOA 2021)."""
    codes = lsoa_codes.get_indexer(cases[column].astype(object))
    counts = np.bincount(codes[codes >= 0], minlength=len(lsoa_codes))
    return pd.Series(counts, index=lsoa_codes, name="episodes")


def poisson_rate_interval(count: pd.Series, population: pd.Series, per: int = PER_CHILDREN) -> tuple[pd.Series, pd.Series]:
    """Exact (Garwood) 95% interval for a Poisson count, as a rate per `per` of the population."""
    k = count.astype(float)
    lower = np.where(k > 0, gammaincinv(k, 0.025), 0.0)  # = chi2.ppf(0.025, 2k) / 2, bit for bit
    upper = gammaincinv(k + 1, 0.975)  # = chi2.ppf(0.975, 2k + 2) / 2
    scale = per / population.astype(float).where(population > 0)
    return pd.Series(lower, index=count.index) * scale, pd.Series(upper, index=count.index) * scale


def rates(counts: pd.Series, population: pd.Series) -> pd.DataFrame:
    """Rate per 1,000 children with its exact 95% interval, to 1 decimal (blank where there are no children)."""
    rate = counts / population.where(population > 0) * PER_CHILDREN
    lower, upper = poisson_rate_interval(counts, population)
    return pd.DataFrame({"rate": rate, "rate_lower": lower, "rate_upper": upper}).round(1)


SMALL_NOTE = f"Counts from 1 to 5 are marked \u201c{SMALL_FLAG}\u201d: rates from so few episodes move a lot by chance."


@dataclass(frozen=True)
class NeedMapTable:
    """The team's exact figures per LSOA, and the council total."""

    areas: pd.DataFrame  # lsoa11cd, lsoa11nm, episodes, small, children, rate, rate_lower, rate_upper, smoothed_rate
    council_total: int
    has_rates: bool
    note: str = SMALL_NOTE


def smoothed_rates(counts: pd.Series, children: pd.Series) -> pd.Series:
    """Empirical Bayes rates per 1,000 children, shrunk towards the council rate (NaN where no children)."""
    known = (children.fillna(0) > 0).to_numpy()
    smoothed = np.full(len(counts), np.nan)
    smoothed[known] = eb_global(counts.to_numpy()[known], children.to_numpy()[known]).smoothed * PER_CHILDREN
    return pd.Series(smoothed, index=counts.index)


def need_map_table(
    cases: pd.DataFrame, lsoas: pd.DataFrame, case_filter: CaseFilter, population: pd.DataFrame | None
) -> NeedMapTable:
    """Count filtered episodes per LSOA of the council and, with a population, rates per 1,000 children."""
    chosen = case_filter.apply(cases)
    index = pd.Index(lsoas["lsoa11cd"].astype(str), name="lsoa11cd")
    counts = episodes_by_lsoa(chosen, index)
    areas = pd.DataFrame({"lsoa11cd": index, "lsoa11nm": lsoas["lsoa11nm"].to_numpy()})
    children = None if population is None else population.set_index("lsoa11cd")["children"].reindex(index)
    return NeedMapTable(with_need_figures(areas, counts, children), int(counts.sum()), children is not None)


def with_need_figures(areas: pd.DataFrame, counts: pd.Series, children: pd.Series | None) -> pd.DataFrame:
    """`areas` (one row per count, in order) with episodes, the small-count flag and, given children, rates per 1,000
    with exact 95% intervals and smoothed rates: one recipe, so LSOAs, wards and localities get the same figures."""
    areas["episodes"] = counts.to_numpy()
    areas["small"] = small(counts).to_numpy()
    if children is not None:
        areas["children"] = children.to_numpy()
        for column, values in rates(counts, children).items():
            areas[column] = values.to_numpy()
        areas["smoothed_rate"] = smoothed_rates(counts, children).round(1).to_numpy()
    return areas


def shown_rates(counts: pd.Series, population: pd.Series, mask: pd.Series) -> pd.DataFrame:
    """Rates with intervals, blank where `mask` hides the count (kept for modules not yet moved to the audiences)."""
    return rates(counts, population).apply(lambda column: column.mask(mask.to_numpy()))
