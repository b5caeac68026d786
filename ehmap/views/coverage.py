"""Service coverage for either audience.

The team sees every LSOA's expected and observed episodes, the ratio with its interval and the gap. A released
view shows what cannot be solved back for a count: each area's public facts (children, deprivation, distance to
the nearest service), the flags worked out from the true counts (below expected, poor access), and episode counts
only as the release gate shows them. Expected counts are never released: the fitted model's equations would let
a reader work hidden counts back out of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import SMALL_FLAG, Audience, marking
from ehmap.coverage import Coverage, DistanceBands, coverage, outreach_csv, reading, with_wards
from ehmap.needmap import CaseFilter
from ehmap.release.gate import Release
from ehmap.release.tables import method_statement

PUBLIC_COLUMNS = ["lsoa11cd", "lsoa11nm", "children", "idaci", "below_expected", "nearest_service", "nearest_type",
                  "distance_m", "distance_miles", "walk_minutes", "band", "poor_access", "flag", "easting", "northing"]
def public_facts(areas: pd.DataFrame) -> pd.DataFrame:
    """The columns of a coverage table that hold no count: each area's public facts, distances and flags."""
    wards = [c for c in ("ward_code", "ward_name") if c in areas.columns]  # public: the ONS lookup's places
    distances = [c for c in areas.columns if c.startswith("dist_")]
    return areas[[*PUBLIC_COLUMNS[:2], *wards, *PUBLIC_COLUMNS[2:], *distances]].copy()


RELEASED_OUTREACH = {"lsoa11nm": "Area", "lsoa11cd": "LSOA code", "ward_name": "Ward", "ward_code": "Ward code",
                     "children": "Children 0-17",
                     "episodes": "Episodes", "nearest_service": "Nearest service", "nearest_type": "Service type",
                     "distance_miles": "Distance (miles, straight line)", "walk_minutes": "Walk (minutes)",
                     "flag": "Gap flag"}
RELEASED_NOTE = ("Flags are worked out from the true counts; shared views show the flags and each area's public "
                 "facts, never expected counts or ratios, which could be worked back to a hidden count.")


@dataclass(frozen=True)
class CoverageView:
    """Coverage for one audience: per-area access and flags, the outreach list, and what to tell the reader."""

    audience: Audience
    result: Coverage  # for a release, its areas hold public facts and flags only
    outreach: pd.DataFrame  # titled for display, ranked
    council_total: str
    notes: tuple[str, ...] = ()
    method: str | None = None
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)
    reading: str = ""  # one or two plain sentences for a meeting: what it found, how sure, what to try next

    @property
    def marking(self) -> str:
        return marking(self.audience)

    @property
    def flagged(self) -> pd.DataFrame:
        return self.result.flagged

    def in_ward(self, ward_code: str | None) -> CoverageView:
        """The same view with the outreach list (shown and downloaded) cut to one ward's areas, keeping their ranks
        in the whole council; itself when no ward is chosen."""
        if not ward_code or "Ward code" not in self.outreach.columns:
            return self
        return self._cut(lambda table: table["Ward code"] == ward_code, ward_code)

    def in_locality(self, localities: AreaSet, name: str | None) -> CoverageView:
        """The same view with the outreach list cut to the LSOAs counted in one of the council's own localities
        (each LSOA wholly in the locality covering most of it), ranks kept; itself when none is chosen. Downloads
        are named by the locality's place in the list, never by the file's text."""
        if not name:
            return self
        lsoas = set(localities.lsoa_to_area.index[localities.lsoa_to_area.eq(name).fillna(False)])
        number = list(localities.areas["code"]).index(name) + 1
        return self._cut(lambda table: table["LSOA code"].isin(lsoas), f"locality{number}")

    def _cut(self, keep: Callable[[pd.DataFrame], pd.Series], suffix: str) -> CoverageView:
        def cut(table: pd.DataFrame) -> pd.DataFrame:
            return table[keep(table)].reset_index(drop=True)
        return replace(self, outreach=cut(self.outreach),
                       downloads={f"{stem}_{suffix}": cut(table) for stem, table in self.downloads.items()})


def team_coverage(cases: pd.DataFrame, centres: pd.DataFrame, services: pd.DataFrame, population: pd.DataFrame,
                  idaci: pd.DataFrame | None, need: str | None, types: list[str] | None, bands: DistanceBands,
                  poor_miles: float, start: dt.date, end: dt.date, flagged_only: bool = False,
                  wards: pd.DataFrame | None = None) -> CoverageView:
    """Exact expected and observed episodes, ratios and gaps per LSOA (with its ward, when `wards` is given); small
    counts flagged; the reading names the dispersion and the largest shortfalls."""
    result = with_wards(coverage(cases, centres, services, population, idaci, need, types, bands, poor_miles,
                                 CaseFilter(start=start, end=end)), wards)
    outreach = outreach_csv(result, flagged_only)
    small = outreach["LSOA code"].map(result.areas.set_index("lsoa11cd")["small"])
    outreach["Note"] = np.where(small, SMALL_FLAG, "")
    return CoverageView(Audience.TEAM, result, outreach, f"{result.council_observed:,}", reading=reading(result))


def released_coverage(release: Release, cases: pd.DataFrame, centres: pd.DataFrame, services: pd.DataFrame,
                      population: pd.DataFrame, idaci: pd.DataFrame | None, need: str | None, types: list[str] | None,
                      bands: DistanceBands, poor_miles: float, period: str, flagged_only: bool = False,
                      wards: pd.DataFrame | None = None) -> CoverageView:
    """Flags from the true counts on each LSOA's public facts; counts only where the release shows LSOAs; the reading
    uses the flags and public facts alone."""
    chosen = release.period(period)
    full = with_wards(coverage(cases, centres, services, population, idaci, need, types, bands, poor_miles,
                               CaseFilter(start=chosen.start, end=chosen.end)), wards)
    areas = public_facts(full.areas)
    kind = release.geography[need or "all"]
    if kind == "lsoa11":
        areas["episodes"] = [release.text(("episodes", need or "all", "lsoa11", code, period))
                             for code in areas["lsoa11cd"]]
    else:
        areas["episodes"] = ""  # released by a coarser geography only: see the need map
    result = replace(full, areas=areas, model=full.model, notes=[RELEASED_NOTE])
    ranked = areas.sort_values(["flag", "children", "lsoa11cd"], ascending=[False, False, True])
    if flagged_only:
        ranked = ranked[ranked["flag"]]
    outreach = ranked[[column for column in RELEASED_OUTREACH if column in ranked.columns]].assign(
        flag=np.where(ranked["flag"], "below expected, poor access", "")).rename(columns=RELEASED_OUTREACH)
    outreach.insert(0, "Rank", np.arange(1, len(outreach) + 1))
    if kind != "lsoa11":
        outreach = outreach.drop(columns="Episodes")
    stem = f"ehmap_released_outreach_{release.la_code}_{need or 'all'}_{period}"
    notes = (RELEASED_NOTE, "Flagged areas come first, then areas with more children; the list is not ordered by "
             "any count.", release.geography_sentence(need))
    return CoverageView(Audience.RELEASE, result, outreach, release.council_count(need, period), notes,
                        method_statement(release, need), {stem: outreach}, reading(result, exact=False))
