"""Hot spots for either audience: the team's statistics on exact counts, or labels on the released geography.

Both compute the statistic on the true counts (a stand-in for hidden counts would invent episodes and move every
score); the released view publishes only each area's label, beside its released count, so no score can be solved
back for a hidden count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import SMALL_FLAG, Audience, marking
from ehmap.hotspots import DEFAULT_PERMUTATIONS, DEFAULT_SEED, HotspotTable, hotspot_table
from ehmap.needmap import CaseFilter
from ehmap.release.gate import Release
from ehmap.release.tables import area_counts, method_statement

TEAM_COLUMNS = {"name": "Area", "code": "Code", "count": "Episodes", "children": "Children 0-17",
                "rate": "Rate per 1,000", "rate_lower": "95% CI lower", "rate_upper": "95% CI upper",
                "smoothed_rate": "Smoothed rate", "z": "z", "p_fdr": "p after FDR", "label": "Result", "care": "Note"}
RELEASED_COLUMNS = {"name": "Area", "code": "Code", "episodes": "Episodes", "label": "Result"}
RELEASED_NOTE = ("Results are worked out from the true counts; shared views show each area's result only, not its "
                 "score, so no score can be worked back to a hidden count.")


@dataclass(frozen=True)
class HotspotView:
    """Per-area results to map and table, the significant areas, and what the reader must be told."""

    audience: Audience
    areas: AreaSet
    table: pd.DataFrame  # code, name, episodes (text), label, and the audience's columns
    columns: dict[str, str]
    explanation: str
    uncorrected: int  # areas that would have looked significant at 95% without the correction
    outside: int | None  # episodes in LSOAs no area holds (team only: a release never shows it)
    notes: tuple[str, ...] = ()
    method: str | None = None
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)
    hot: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def marking(self) -> str:
        return marking(self.audience)


def _significant(result: HotspotTable, table: pd.DataFrame) -> pd.DataFrame:
    order = result.hot_spots().index
    return table.loc[order]


def team_hotspots(cases: pd.DataFrame, areas: AreaSet, need: str | None, start: dt.date, end: dt.date,
                  population: pd.DataFrame | None, measure: str, statistic: str, weights: str = "queen", k: int = 6,
                  threshold: float | None = None, permutations: int = DEFAULT_PERMUTATIONS, seed: int = DEFAULT_SEED,
                  smoothing: str = "global") -> HotspotView:
    """The statistic on the team's exact counts, with every score shown and small counts flagged."""
    result = hotspot_table(cases, areas, CaseFilter(need, start, end), population, measure, statistic, weights, k,
                           threshold, permutations, seed, smoothing)
    table = result.areas.copy()
    table["episodes"] = table["count"].astype(int)
    table["care"] = table["small"].map({True: SMALL_FLAG, False: ""})
    columns = {c: t for c, t in TEAM_COLUMNS.items() if c in table and (population is not None or "rate" not in c)}
    return HotspotView(Audience.TEAM, areas, table, columns, result.result.explanation(),
                       int((result.result.p <= 0.05).sum()), result.outside, (result.note,),
                       hot=_significant(result, table))


def released_hotspots(release: Release, cases: pd.DataFrame, need: str | None, period: str,
                      population: pd.DataFrame | None, statistic: str, permutations: int = DEFAULT_PERMUTATIONS,
                      seed: int = DEFAULT_SEED) -> HotspotView:
    """Labels from the statistic on the true counts, on the need's released geography, beside released counts."""
    areas, counts = area_counts(release, need, period)
    chosen = release.period(period)
    measure = "smoothed_rate" if population is not None else "count"
    result = hotspot_table(cases, areas, CaseFilter(need, chosen.start, chosen.end), population, measure, statistic,
                           permutations=permutations, seed=seed)
    table = counts.assign(label=result.areas["label"].to_numpy())
    stem = f"ehmap_released_hotspots_{release.la_code}_{need or 'all'}_{period}"
    download = table[list(RELEASED_COLUMNS)].rename(columns=RELEASED_COLUMNS)
    return HotspotView(Audience.RELEASE, areas, table, dict(RELEASED_COLUMNS), result.result.explanation(),
                       int((result.result.p <= 0.05).sum()), None, (RELEASED_NOTE,),
                       method_statement(release, need), {stem: download}, _significant(result, table))
