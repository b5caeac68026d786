"""The need map for either audience: exact counts and rates on LSOAs for the team, released ones for the rest."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import SMALL_FLAG, Audience
from ehmap.needmap import CaseFilter, need_map_table
from ehmap.release.gate import Release
from ehmap.release.tables import method_statement, need_title, released_need_areas
from ehmap.views import AreaView

SMOOTHED, RATE, EPISODES = "smoothed_rate", "rate", "episodes"
MEASURES = {SMOOTHED: "Smoothed rate per 1,000", RATE: "Rate per 1,000 children", EPISODES: "Episodes"}
VALUE_TITLES = {SMOOTHED: "Episodes per 1,000 children aged 0-17, smoothed",
                RATE: "Episodes per 1,000 children aged 0-17", EPISODES: "Episodes"}
RELEASED_MEASURES = (RATE, EPISODES)
RELEASED_RATE_NOTE = "Rates per 1,000 children use the rounded counts; where a count is hidden its rate is too."


def measures(audience: Audience, has_population: bool) -> list[str]:
    """The measures a need map offers: smoothed rates only for the team (they pool true counts across areas)."""
    if not has_population:
        return [EPISODES]
    return [SMOOTHED, RATE, EPISODES] if audience is Audience.TEAM else list(RELEASED_MEASURES)


def team_need_map(cases: pd.DataFrame, lsoas: AreaSet, need: str | None, start: dt.date, end: dt.date,
                  service: str | None, measure: str, population: pd.DataFrame | None) -> AreaView:
    """Exact episodes, rates with intervals and smoothed rates per LSOA; small counts flagged, not hidden."""
    polygons = lsoas.areas.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
    table = need_map_table(cases, polygons, CaseFilter(need, start, end, service), population)
    areas = table.areas.rename(columns={"lsoa11cd": "code", "lsoa11nm": "name"})
    areas["value"] = areas[measure].astype(float)
    areas["episodes"] = areas["episodes"].astype(int)
    areas["care"] = areas["small"].map({True: SMALL_FLAG, False: ""})
    columns = {"name": "LSOA name", "code": "LSOA code", "episodes": "Episodes"}
    if table.has_rates:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000", "rate_lower": "95% CI lower",
                    "rate_upper": "95% CI upper", "smoothed_rate": "Smoothed rate per 1,000"}
    columns["care"] = "Note"
    return AreaView(Audience.TEAM, lsoas, areas, columns, VALUE_TITLES[measure], 0 if measure == EPISODES else 1,
                    f"{table.council_total:,}", (table.note,))


def released_need_map(release: Release, need: str | None, period: str, measure: str,
                      population: pd.DataFrame | None) -> AreaView:
    """Released episodes per area on the need's released geography, for a fixed period."""
    if measure not in RELEASED_MEASURES:
        raise ValueError(f"A released need map shows {list(RELEASED_MEASURES)}; got '{measure}'.")
    areas, table = released_need_areas(release, need, period, population)
    table["value"] = table["rate"] if measure == RATE and "rate" in table else table["episodes_value"]
    title = areas.title if areas.kind != "custom" else "Locality"
    columns = {"name": title, "code": "Code", "episodes": "Episodes"}
    if "rate" in table:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000 (from the rounded count)"}
    download = table[list(columns)].rename(columns=columns)
    stem = f"ehmap_released_{release.la_code}_{need or 'all'}_{period}"
    return AreaView(Audience.RELEASE, areas, table, columns, VALUE_TITLES[measure], 0 if measure == EPISODES else 1,
                    release.council_count(need, period), (RELEASED_RATE_NOTE,), method_statement(release, need),
                    {stem: download})


def need_options() -> dict[str | None, str]:
    """None (all needs) then each Supporting Families headline."""
    from ehmap.taxonomy import NEEDS

    return {None: need_title(None), **{need.key: need.headline for need in NEEDS}}
