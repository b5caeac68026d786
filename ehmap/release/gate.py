"""The release gate: one protected release per dataset, from which every shared output is read.

`build_release` registers every count a release can show (`ehmap.release.universe`), protects them together
(`ehmap.release.protect`) and keeps the result. Workshop screens, a viewer's pages, the board paper, CSV
downloads and CLI output marked for release all read from this one object, so nothing shared is ever computed
outside the check, and linked outputs cannot be subtracted from each other to find a hidden count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehmap.areas import AreaSet
from ehmap.release.linked import Key, LinkedCounts
from ehmap.release.periods import Period
from ehmap.release.protect import HIDDEN, RULE, CountRule, Protected, protect
from ehmap.release.universe import (
    ALL_NEEDS,
    COUNCIL,
    GROUPINGS,
    NEEDS,
    Calendar,
    choose_geography,
    lsoa_year_counts,
    need_filters,
    register_families,
    register_groups,
    register_need,
    register_needs_met,
    register_outcomes,
    register_quarters,
    register_trends,
    release_flags,
    selected,
)

GEOGRAPHY_TITLES = {"lsoa11": "LSOA (2011)", "ward": "electoral ward", "custom": "locality",
                    "decile": "national decile"}


@dataclass(frozen=True)
class Release:
    """A dataset's protected release: what every shared output shows, and how it was protected."""

    la_code: str
    calendar: Calendar
    geography: dict[str, str]  # need filter -> the kind of area it is mapped on
    hidden_shares: dict[str, dict[str, float]]  # need filter -> kind -> share of area counts the rule would hide
    areas: dict[str, AreaSet]  # kind -> areas
    groups: dict[str, list[str]]  # 'service' / 'referral_source' -> group labels
    protected: Protected
    cells: int  # counts registered
    has_deciles: bool

    def text(self, key: Key) -> str:
        """A released count as text ('c' where hidden)."""
        return self.protected.text(key)

    def value(self, key: Key) -> float:
        """A released (rounded) count, NaN where hidden."""
        return self.protected.value(key)

    def share(self, numerator: Key, denominator: Key) -> float:
        """A released whole percentage, NaN where not shown."""
        return self.protected.share(numerator, denominator)

    def period(self, key: str) -> Period:
        return self.calendar.period(key)

    @property
    def periods(self) -> list[Period]:
        """The periods a released view can show: each financial year, then all years together."""
        return [*self.calendar.years, self.calendar.all_years]

    def council_count(self, need: str | None, period: str) -> str:
        return self.text(("episodes", need or ALL_NEEDS, COUNCIL, "", period))

    def geography_sentence(self, need: str | None) -> str:
        """Which areas a need is shown on in released views, and why, in one sentence."""
        need = need or ALL_NEEDS
        kind = self.geography[need]
        shares = self.hidden_shares[need]
        finer = [k for k in shares if k != kind and list(shares).index(k) < list(shares).index(kind)]
        why = "; ".join(f"by {GEOGRAPHY_TITLES[k]} {shares[k]:.0%} of its non-zero counts would be hidden"
                        for k in finer)
        text = f"Shared views show this need by {GEOGRAPHY_TITLES[kind]}"
        if why:
            text += f" ({why})"
        if shares[kind] > 0.25:
            text += f"; even so {shares[kind]:.0%} of its non-zero counts are hidden: pool the years to see more"
        return text + "."


@dataclass(frozen=True)
class ReleaseInputs:
    """What a release is built from: one council's accepted episodes and the areas it can be shown on."""

    cases: pd.DataFrame
    la_code: str
    geographies: Mapping[str, AreaSet]  # finest first; must hold 'lsoa11'
    deciles: pd.Series | None = None  # LSOA 2011 code -> national IMD decile (IoD2019), for deprivation views


def _decile_partition(deciles: pd.Series, lsoas: pd.Index) -> tuple[list[str], pd.Series]:
    known = deciles.reindex(lsoas).dropna().astype(int).astype(str)
    return sorted(set(known), key=int), known


def build_linked(inputs: ReleaseInputs, rule: CountRule) -> tuple[LinkedCounts, dict, dict, dict, Calendar]:
    """Every count the release can show, linked (see `ehmap.release.universe`)."""
    cases = inputs.cases
    calendar = Calendar.of(cases)
    lsoas = pd.Index(inputs.geographies["lsoa11"].lsoa_to_area.index.astype(str), name="lsoa11cd")
    linked = LinkedCounts()
    geography, shares = {}, {}
    for need in need_filters():
        by_lsoa = lsoa_year_counts(cases, lsoas, calendar, need)
        kind, shares[need] = choose_geography(by_lsoa, inputs.geographies, lsoas, rule.smallest_shown)
        geography[need] = kind
        areas = inputs.geographies[kind]
        partitions = {kind: (list(areas.areas["code"].astype(str)), areas.lsoa_to_area)}
        if inputs.deciles is not None and need in (ALL_NEEDS, "poverty"):
            partitions["decile"] = _decile_partition(inputs.deciles, lsoas)
        register_need(linked, need, by_lsoa, lsoas, calendar, partitions, kind)
        register_quarters(linked, cases, calendar, need)
        if need != ALL_NEEDS:
            for period in (*calendar.years, *calendar.quarters, calendar.all_years):
                linked.add_within(("episodes", need, COUNCIL, "", period.key),
                                  ("episodes", ALL_NEEDS, COUNCIL, "", period.key))
    groups = {by: register_groups(linked, cases, calendar, by) for by in GROUPINGS}
    flags = release_flags(cases)
    for by in GROUPINGS:
        register_outcomes(linked, cases, calendar, by, flags)
    register_needs_met(linked, cases, calendar, flags)
    council_quarters = [("episodes", ALL_NEEDS, COUNCIL, "", q.key) for q in calendar.quarters]
    register_trends(linked, cases, calendar, "none", "All episodes", np.ones(len(cases), dtype=bool),
                    council_quarters)
    labels = cases["service"].astype(object).where(cases["service"].notna(), "Not recorded").astype(str).to_numpy()
    for service in groups["service"]:
        register_trends(linked, cases, calendar, "service", service, labels == service,
                        [("group", "service", service, q.key) for q in calendar.quarters])
    for need in NEEDS:
        register_trends(linked, cases, calendar, "need", need.key, selected(cases, need.key),
                        [("episodes", need.key, COUNCIL, "", q.key) for q in calendar.quarters])
    register_families(linked, cases, calendar, inputs.deciles)
    return linked, geography, shares, groups, calendar


def build_release(inputs: ReleaseInputs, rule: CountRule = RULE) -> Release:
    """Register, link and protect every count of a dataset's release."""
    if "lsoa11" not in inputs.geographies:
        raise ValueError(f"A release needs the council's LSOAs among its geographies; got {list(inputs.geographies)}.")
    if inputs.cases.empty:
        raise ValueError("There are no episodes to release.")
    linked, geography, shares, groups, calendar = build_linked(inputs, rule)
    protected = protect(linked, rule)
    return Release(inputs.la_code, calendar, geography, shares, dict(inputs.geographies), groups, protected,
                   len(linked.values), inputs.deciles is not None)


__all__ = ["HIDDEN", "Release", "ReleaseInputs", "build_release", "build_linked"]
