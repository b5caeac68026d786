"""Need against deprivation, and families destabilised by poverty, for either audience.

The team sees exact counts and rates on every LSOA. A released view reads its counts from the release gate: the
poverty map on the geography the gate chose for poverty needs, episodes and families per national IMD decile
(IoD2019, the one decile the release is checked with), and need-against-deprivation classes only where the gate
releases the need on LSOAs, from the released (rounded) counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import SMALL_FLAG, Audience
from ehmap.context import POVERTY_NEEDS, Bivariate, ContextTable, bivariate, poverty_view
from ehmap.needmap import SMALL_NOTE, CaseFilter, need_map_table
from ehmap.release.gate import Release
from ehmap.release.tables import (
    method_statement,
    need_title,
    released_deciles,
    released_families,
    released_need_areas,
)
from ehmap.release.universe import POVERTY
from ehmap.views import AreaView
from ehmap.views.need_map import RELEASED_RATE_NOTE

RELEASED_DECILE = "iod2019_imd_decile"  # the decile a release is checked with
DECILE_COLUMNS = {"decile": "Decile (1 = most deprived)", "episodes": "Episodes", "all_episodes": "All EH episodes",
                  "children": "Children 0-17", "rate": "Rate per 1,000", "rate_lower": "95% CI lower",
                  "rate_upper": "95% CI upper", "care": "Note"}
SHARE_COLUMNS = {"group": "Group", "families": "Families", "in_most_deprived_fifth": "In the most deprived fifth",
                 "share_percent": "Share (%)"}


@dataclass(frozen=True)
class PovertyPage:
    """Poverty-need episodes by area (a map), by decile, and how many families live in the most deprived fifth."""

    map: AreaView
    by_decile: pd.DataFrame  # titled for display
    shares: pd.DataFrame  # titled for display
    index_title: str
    finding: str  # one sentence: over-represented in the most deprived fifth, or not
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)  # released tables (release only)


VALUE_TITLE = "Episodes per 1,000 children aged 0-17"


def _finding(poverty_share: float, all_share: float, names: str) -> str:
    if pd.isna(poverty_share) or pd.isna(all_share):
        return "Too few families to compare the share living in the most deprived fifth of England."
    if poverty_share > all_share:
        return (f"{poverty_share:.0f}% of families with {names} live in the most deprived fifth of England, "
                f"against {all_share:.0f}% of all Early Help families: poverty needs are concentrated there.")
    return (f"{poverty_share:.0f}% of families with {names} live in the most deprived fifth of England, against "
            f"{all_share:.0f}% of all Early Help families: no over-representation.")


def team_poverty(cases: pd.DataFrame, lsoas: AreaSet, context: ContextTable, decile_column: str,
                 population: pd.DataFrame | None, needs: tuple[str, ...], start: dt.date, end: dt.date) -> PovertyPage:
    """Exact poverty-need episodes per LSOA and decile for a free period; small counts flagged."""
    chosen = CaseFilter(start=start, end=end).apply(cases)
    polygons = lsoas.areas.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
    view = poverty_view(chosen, polygons, context, decile_column, population, needs)
    table = view.areas.rename(columns={"lsoa11cd": "code", "lsoa11nm": "name"})
    has_rates = population is not None
    table["value"] = (table["rate"] if has_rates else table["episodes"]).astype(float)
    table["care"] = table["small"].map({True: SMALL_FLAG, False: ""})
    columns = {"name": "LSOA name", "code": "LSOA code", "episodes": "Episodes", "decile": view.index_title}
    if has_rates:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000"}
    columns["care"] = "Note"
    area_view = AreaView(Audience.TEAM, lsoas, table, columns, VALUE_TITLE if has_rates else "Episodes",
                         1 if has_rates else 0, f"{view.council_total:,}", (SMALL_NOTE,))
    by_decile = view.by_decile.assign(care=view.by_decile["small"].map({True: SMALL_FLAG, False: ""}))
    names = " or ".join(need_title(n).lower() for n in needs)
    finding = _finding(view.shares["share_percent"].iloc[0], view.shares["share_percent"].iloc[1], names)
    by_decile = by_decile[[c for c in DECILE_COLUMNS if c in by_decile]].rename(columns=DECILE_COLUMNS)
    return PovertyPage(area_view, by_decile, view.shares.rename(columns=SHARE_COLUMNS), view.index_title, finding)


def released_poverty(release: Release, period: str, population: pd.DataFrame | None) -> PovertyPage:
    """Released poverty-need episodes (financial stability or secure housing) by area and by IMD decile."""
    areas, table = released_need_areas(release, POVERTY, period, population)
    has_rates = "rate" in table
    table["value"] = table["rate"] if has_rates else table["episodes_value"]
    columns = {"name": "Area", "code": "Code", "episodes": "Episodes"}
    if has_rates:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000 (from the rounded count)"}
    method = method_statement(release, POVERTY)
    stem = f"ehmap_released_poverty_{release.la_code}_{period}"
    downloads = {f"{stem}_areas": table[list(columns)].rename(columns=columns)}
    area_view = AreaView(Audience.RELEASE, areas, table, columns, VALUE_TITLE if has_rates else "Episodes",
                         1 if has_rates else 0, release.council_count(POVERTY, period), (RELEASED_RATE_NOTE,), method)
    title = need_title(POVERTY)
    deciles = released_deciles(release, period)
    families = released_families(release, period, f"Families with {title.lower()}")
    if deciles is None:
        return PovertyPage(area_view, pd.DataFrame(), pd.DataFrame(), "IMD decile (IoD2019)",
                           "Deprivation deciles are not loaded, so families cannot be compared by decile.", downloads)
    downloads[f"{stem}_deciles"] = deciles.rename(columns=DECILE_COLUMNS)
    downloads[f"{stem}_families"] = families.rename(columns=SHARE_COLUMNS)
    finding = _finding(families["share_percent"].iloc[0], families["share_percent"].iloc[1], title.lower())
    return PovertyPage(area_view, deciles.rename(columns=DECILE_COLUMNS), families.rename(columns=SHARE_COLUMNS),
                       "IMD decile (IoD2019)", finding, downloads)


def team_bivariate(cases: pd.DataFrame, lsoas: AreaSet, context: ContextTable, need: str | None, start: dt.date,
                   end: dt.date, measure: str, population: pd.DataFrame) -> Bivariate:
    """Every LSOA's exact rate against deprivation, in the council's own tertiles."""
    polygons = lsoas.areas.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
    table = need_map_table(cases, polygons, CaseFilter(need, start, end), population)
    return bivariate(table.areas, context, measure)


def released_bivariate(release: Release, context: ContextTable, need: str | None, period: str, measure: str,
                       population: pd.DataFrame) -> tuple[Bivariate | None, str, str]:
    """Tertiles of the released rates on LSOAs (hidden ones grey), or None when the need is shared by a coarser
    geography (deprivation is published for LSOAs only); with the sentence saying which, and the method."""
    sentence = release.geography_sentence(need)
    if release.geography[need or "all"] != "lsoa11":
        return None, (sentence + " Need against deprivation is shown by LSOA only, so this comparison is for the "
                      "team; choose a need shared by LSOA, or ask the team."), method_statement(release, need)
    _, table = released_need_areas(release, need, period, population)
    areas = table.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
    view = bivariate(areas[["lsoa11cd", "lsoa11nm", "episodes", "rate"]], context, measure)
    return view, sentence, method_statement(release, need)


__all__ = ["POVERTY_NEEDS", "RELEASED_DECILE", "PovertyPage", "team_poverty", "released_poverty", "team_bivariate",
           "released_bivariate"]
