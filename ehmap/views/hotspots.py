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
from ehmap.ranking import POOLED_YEARS, period_years
from ehmap.release.gate import Release
from ehmap.release.tables import area_counts, method_statement, need_title
from ehmap.smoothing import GLOBAL_EB_METHOD, LOCAL_EB_METHOD
from ehmap.views import LSOA_KINDS, area_words, listed

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
    reading: str = ""  # one or two plain sentences: what stands out, how sure, what to try next

    @property
    def marking(self) -> str:
        return marking(self.audience)


def _significant(result: HotspotTable, table: pd.DataFrame) -> pd.DataFrame:
    order = result.hot_spots().index
    return table.loc[order]


CLUSTER_WORDS = {"gi_star": ("hot spot", "hot spots"), "local_moran": ("high-high cluster", "high-high clusters")}


def _place(code: str, name: str, kind: str, lsoa_wards: pd.Series | None) -> str:
    """An area's name for a sentence: an LSOA with its ward ('Croydon 012A (Selhurst ward)')."""
    ward = lsoa_wards.get(code) if kind in LSOA_KINDS and lsoa_wards is not None else None
    return f"{name} ({ward} ward)" if isinstance(ward, str) and ward else str(name)


def _by_ward(hot: pd.DataFrame, kind: str, lsoa_wards: pd.Series | None, limit: int = 6, wards: int = 4) -> str:
    """Where more than `limit` LSOAs are found, how many lie in each ward (most first; the rest summed), or nothing."""
    if kind not in LSOA_KINDS or lsoa_wards is None or len(hot) <= limit:
        return ""
    counts = hot["code"].map(lsoa_wards).fillna("no ward").value_counts(sort=False).sort_values(ascending=False,
                                                                                               kind="stable")
    parts = [f"{count} in {ward}" for ward, count in counts.head(wards).items()]
    if len(counts) > wards:
        rest = len(counts) - wards
        parts.append(f"{int(counts.iloc[wards:].sum())} in {rest} other ward{'s' if rest > 1 else ''}")
    return f" By ward: {listed(parts, wards + 1)}."


def _confidence(labels: pd.Series) -> str:
    """The lowest confidence among significant labels, e.g. '95%' (labels end '(95% confidence)')."""
    levels = labels.str.extract(r"\((\d+)% confidence\)")[0].dropna().astype(int)
    return f"{levels.min()}%" if len(levels) else "95%"


def hotspots_reading(table: pd.DataFrame, hot: pd.DataFrame, kind: str, statistic: str, need: str | None,
                     period_label: str, team: bool, lsoa_wards: pd.Series | None = None, can_pool: bool = True,
                     measure: str = "rate") -> str:
    """One or two sentences a service head can repeat: the clusters found by name (LSOAs with their ward), how sure
    that is after correcting for testing every area, and what to try next; or that none stands out beyond chance.

    `can_pool` says whether a longer period is there to choose (not when the period already spans two years or
    every year); `measure` the figure tested ('count' reads as counts, else rates)."""
    one, many = area_words(kind)
    figures = "counts" if measure == "count" else "rates"
    moran = statistic.startswith("local_moran")
    cluster, clusters = CLUSTER_WORDS["local_moran" if moran else "gi_star"]
    tested = int((~table["label"].isin(["not tested: no neighbours"])).sum())
    heading = f"{need_title(need)}, {period_label}, by {one}: "
    labels = table["label"].astype(str)
    cold = int(labels.str.startswith(("cold spot", "Low-Low")).sum())
    if hot.empty:
        ranked = "the ranked wards" if team else "the ranked areas"
        tries = [*(["switch to wards"] if kind in LSOA_KINDS and team else []),
                 *(["pool two years" if team else "choose all years together"] if can_pool else [])]
        text = (f"No cluster stands out beyond chance at {one} level (after correcting for testing {tested} {many} at "
                f"once); rates still differ between areas: see {ranked} on the Need map"
                + (f", or {' or '.join(tries)}" if tries else "") + ".")
    else:
        names = [_place(str(r["code"]), str(r["name"]), kind, lsoa_wards) for _, r in hot.iterrows()]
        noun = one if len(hot) == 1 else many
        verb = "stands" if len(hot) == 1 else "stand"
        what = cluster if len(hot) == 1 else clusters
        text = (f"{len(hot)} {noun} {verb} out as {'a ' if len(hot) == 1 else ''}{what}, where high {figures} sit "
                f"together more than chance would explain ({_confidence(hot['label'])} confidence or more, after "
                f"correcting for testing {tested} {many} at once): {listed(names, 6)}."
                f"{_by_ward(hot, kind, lsoa_wards)} Next: look at the cases there and compare with the ranked areas "
                "on the Need map before acting.")
    if cold:
        low = ("low-low cluster" if moran else "cold spot") + ("" if cold == 1 else "s")
        text += f" {cold} {one if cold == 1 else many} {'is a' if cold == 1 else 'are'} {low} (low {figures} together)."
    return heading + text


def _children_notes(areas: AreaSet, measure: str) -> tuple[str, ...]:
    """How the children behind LSOA 2021 rates were carried there; nothing for other areas or for counts."""
    from ehmap.lsoa21 import children_note

    return (children_note(),) if areas.kind == "lsoa21" and measure != "count" else ()


def smoothing_notes(measure: str, smoothing: str) -> tuple[str, ...]:
    """The empirical Bayes method that made the smoothed rates tested, named exactly; nothing for other measures."""
    if measure != "smoothed_rate":
        return ()
    return (LOCAL_EB_METHOD if smoothing == "local" else GLOBAL_EB_METHOD,)


def _with_wards(table: pd.DataFrame, columns: dict[str, str], kind: str,
                lsoa_wards: pd.Series | None) -> dict[str, str]:
    """Add each LSOA's ward name to the table (`ward`) and its column after the area's name, when known."""
    if kind not in LSOA_KINDS or lsoa_wards is None:
        return columns
    table["ward"] = table["code"].map(lsoa_wards).astype(object).to_numpy()
    titled = list(columns.items())
    return dict([*titled[:1], ("ward", "Ward"), *titled[1:]])


def team_hotspots(cases: pd.DataFrame, areas: AreaSet, need: str | None, start: dt.date, end: dt.date,
                  population: pd.DataFrame | None, measure: str, statistic: str, weights: str = "queen", k: int = 6,
                  threshold: float | None = None, permutations: int = DEFAULT_PERMUTATIONS, seed: int = DEFAULT_SEED,
                  smoothing: str = "global", lsoa_wards: pd.Series | None = None) -> HotspotView:
    """The statistic on the team's exact counts, with every score shown and small counts flagged; `lsoa_wards`
    (LSOA 2011 code -> ward name) names each LSOA's ward in the reading; LSOAs 2021 carry their own ward."""
    if areas.kind == "lsoa21":
        lsoa_wards = areas.areas.set_index("code")["ward"]
    result = hotspot_table(cases, areas, CaseFilter(need, start, end), population, measure, statistic, weights, k,
                           threshold, permutations, seed, smoothing)
    table = result.areas.copy()
    table["episodes"] = table["count"].astype(int)
    table["care"] = table["small"].map({True: SMALL_FLAG, False: ""})
    columns = {c: t for c, t in TEAM_COLUMNS.items() if c in table and (population is not None or "rate" not in c)}
    columns = _with_wards(table, columns, areas.kind, lsoa_wards)
    hot = _significant(result, table)
    reading = hotspots_reading(table, hot, areas.kind, statistic, need, f"referrals {start:%d/%m/%Y} to {end:%d/%m/%Y}",
                               True, lsoa_wards, period_years(start, end) < POOLED_YEARS, measure)
    return HotspotView(Audience.TEAM, areas, table, columns, result.result.explanation(),
                       int((result.result.p <= 0.05).sum()), result.outside,
                       (result.note, *smoothing_notes(measure, smoothing), *_children_notes(areas, measure)),
                       hot=hot, reading=reading)


def released_hotspots(release: Release, cases: pd.DataFrame, need: str | None, period: str,
                      population: pd.DataFrame | None, statistic: str, permutations: int = DEFAULT_PERMUTATIONS,
                      seed: int = DEFAULT_SEED, lsoa_wards: pd.Series | None = None) -> HotspotView:
    """Labels from the statistic on the true counts, on the need's released geography, beside released counts."""
    areas, counts = area_counts(release, need, period)
    chosen = release.period(period)
    measure = "smoothed_rate" if population is not None else "count"
    result = hotspot_table(cases, areas, CaseFilter(need, chosen.start, chosen.end), population, measure, statistic,
                           permutations=permutations, seed=seed)
    table = counts.assign(label=result.areas["label"].to_numpy())
    columns = _with_wards(table, dict(RELEASED_COLUMNS), areas.kind, lsoa_wards)
    stem = f"ehmap_released_hotspots_{release.la_code}_{need or 'all'}_{period}"
    download = table[list(columns)].rename(columns=columns)
    hot = _significant(result, table)
    reading = hotspots_reading(table, hot, areas.kind, statistic, need, chosen.label, False, lsoa_wards,
                               chosen.kind != "all", measure)
    return HotspotView(Audience.RELEASE, areas, table, columns, result.result.explanation(),
                       int((result.result.p <= 0.05).sum()), None, (RELEASED_NOTE, *smoothing_notes(measure, "global")),
                       method_statement(release, need), {stem: download}, hot, reading)
