"""Need against deprivation, and families destabilised by poverty, for either audience.

The team sees exact counts and rates on every LSOA, or on wards (a ward's episodes, families and children are the sums
of its LSOAs', as the ranking sums them, with rates worked out as for LSOAs); deciles are an LSOA property, so the
decile analyses stay on LSOAs. A released view reads its counts from the release gate: the poverty map and ranked
areas only on the geography the gate chose for poverty needs (asked for another, it says so in one sentence),
episodes and families per national IMD decile (IoD2019, the one decile the release is checked with), and
need-against-deprivation classes only where the gate releases the need on LSOAs, from the released (rounded) counts.

Every view carries a `reading`: one or two plain sentences for a meeting. The poverty page compares the share of
families with a poverty need in the most deprived fifth of areas with elsewhere (ratio and 95% intervals; released
ones from the rounded counts), ranks the areas, and, when an export records no poverty need at all, says which needs
it holds and how to map them (`unmapped`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import SMALL_FLAG, Audience
from ehmap.context import (
    POVERTY_NEEDS,
    Bivariate,
    ContextTable,
    OverRepresentation,
    area_poverty,
    bivariate,
    bivariate_reading,
    family_areas,
    over_representation,
    poverty_mask,
    poverty_reading,
    poverty_view,
    ranked_poverty_areas,
    ranked_poverty_by_area,
    unmapped_needs,
)
from ehmap.needmap import SMALL_NOTE, CaseFilter, need_map_table, poisson_rate_interval
from ehmap.release.gate import Release
from ehmap.release.protect import HIDDEN
from ehmap.release.tables import (
    method_statement,
    need_title,
    released_deciles,
    released_families,
    released_need_areas,
)
from ehmap.release.universe import POVERTY
from ehmap.views import AreaView, area_words
from ehmap.views.need_map import RELEASED_RATE_NOTE, released_geography_notice

RELEASED_DECILE = "iod2019_imd_decile"  # the decile a release is checked with
DECILE_COLUMNS = {"decile": "Decile (1 = most deprived)", "episodes": "Episodes", "all_episodes": "All EH episodes",
                  "children": "Children 0-17", "rate": "Rate per 1,000", "rate_lower": "95% CI lower",
                  "rate_upper": "95% CI upper", "care": "Note"}
SHARE_COLUMNS = {"group": "Group", "families": "Families", "in_most_deprived_fifth": "In the most deprived fifth",
                 "share_percent": "Share (%)"}
COMPARISON_COLUMNS = {"where": "Families living in", "families": "Families", "poverty": "With a poverty need",
                      "share_percent": "Share with a poverty need (%)", "share_lower": "95% interval from",
                      "share_upper": "95% interval to"}
RANKED_COLUMNS = {"rank": "Rank", "lsoa11nm": "LSOA name", "lsoa11cd": "LSOA code", "ward": "Ward",
                  "decile": "Decile (1 = most deprived)", "families": "Families with a poverty need",
                  "episodes": "Episodes with a poverty need", "children": "Children 0-17",
                  "rate": "Episodes per 1,000 children", "rate_lower": "95% CI lower", "rate_upper": "95% CI upper",
                  "note": "Note"}
RELEASED_RANKED_COLUMNS = {"rank": "Rank", "name": "Area", "code": "Code", "ward": "Ward",
                           "episodes": "Episodes with a poverty need", "children": "Children 0-17",
                           "rate": "Rate per 1,000 (from the rounded count)", "rate_lower": "95% interval from",
                           "rate_upper": "95% interval to"}
RELEASED_POVERTY_NOTE = ("Shares, rates and their 95% intervals here are worked out from the released (rounded) "
                         "counts, so they are approximate; an area or group with a hidden count is not ranked or "
                         "compared.")
HIDDEN_COMPARISON = ("The comparison of the most deprived fifth with elsewhere is not shown: a count behind it is "
                     "hidden for this period. Try all years.")
RELEASED_NO_POVERTY = ("No episode in this dataset records a poverty need (financial stability or secure housing), "
                       "so nothing here can show poverty; the team can see which needs the export holds and how to "
                       "map them.")


@dataclass(frozen=True)
class PovertyPage:
    """Poverty-need episodes by area (a map), by decile, and how many families live in the most deprived fifth."""

    map: AreaView
    by_decile: pd.DataFrame  # titled for display
    shares: pd.DataFrame  # titled for display
    index_title: str
    finding: str  # one sentence: over-represented in the most deprived fifth, or not
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)  # released tables (release only)
    reading: str = ""  # one or two plain sentences for a meeting: the comparison with its 95% interval, what next
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)  # most deprived fifth against elsewhere, titled
    ranked: pd.DataFrame = field(default_factory=pd.DataFrame)  # areas ranked by poverty need, titled
    over: OverRepresentation | None = None
    unmapped: str | None = None  # the export records no poverty need: what it holds and how to map it
    notes: tuple[str, ...] = ()
    notice: str = ""  # one sentence when a released view cannot show the geography asked for (release only)
    decile_note: str = ""  # one sentence when the map is not on LSOAs: the decile analyses still are


VALUE_TITLE = "Episodes per 1,000 children aged 0-17"


def _finding(poverty_share: float, all_share: float, names: str) -> str:
    if pd.isna(poverty_share) or pd.isna(all_share):
        return "Too few families to compare the share living in the most deprived fifth of England."
    if poverty_share > all_share:
        return (f"{poverty_share:.0f}% of families with {names} live in the most deprived fifth of England, "
                f"against {all_share:.0f}% of all Early Help families: poverty needs are concentrated there.")
    return (f"{poverty_share:.0f}% of families with {names} live in the most deprived fifth of England, against "
            f"{all_share:.0f}% of all Early Help families: no over-representation.")


def area_titles(kind: str) -> dict[str, str]:
    """The titles of an area's name and code columns: 'LSOA name' and 'LSOA code', 'Ward name' and 'Ward code'..."""
    one = "LSOA" if kind == "lsoa11" else area_words(kind)[0].capitalize()
    return {"name": f"{one} name", "code": f"{one} code"}


def _ranked_word(kind: str) -> str:
    """What the reading calls the ranked areas: 'areas' for LSOAs (as before), else 'wards' or 'localities'."""
    return "areas" if kind == "lsoa11" else area_words(kind)[1]


def decile_note(kind: str) -> str:
    """One sentence when the map is not on LSOAs ('' when it is): deciles are published per LSOA, so the decile
    analyses place each family and episode in its LSOA."""
    if kind == "lsoa11":
        return ""
    return (f"Deprivation deciles are published for LSOAs, not {area_words(kind)[1]}, so the most deprived fifth and "
            f"the counts by national decile place each family and episode in its LSOA, not its "
            f"{area_words(kind)[0]}.")


def _team_map(table: pd.DataFrame, areas: AreaSet, council_total: int, has_rates: bool,
              shown: dict[str, str]) -> AreaView:
    """The team's poverty map of `table` (code, name, episodes, small, [children, rate]): the rate (or episodes)
    colours it, small counts flagged; `shown` titles the columns between the episodes and the rate."""
    table = table.copy()
    table["value"] = (table["rate"] if has_rates else table["episodes"]).astype(float)
    table["care"] = table["small"].map({True: SMALL_FLAG, False: ""})
    columns = area_titles(areas.kind) | {"episodes": "Episodes"} | shown
    if has_rates:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000"}
    columns["care"] = "Note"
    notes: tuple[str, ...] = (SMALL_NOTE,)
    if areas.kind != "lsoa11":
        notes += (areas.rule,)
        outside = council_total - int(table["episodes"].sum())
        if outside:
            many, one = area_words(areas.kind)[1], area_words(areas.kind)[0]
            notes += (f"{outside:,} of the council's {council_total:,} episodes with a poverty need are in LSOAs that "
                      f"none of its {many} holds, so they are in the council total but in no {one}.",)
    return AreaView(Audience.TEAM, areas, table, columns, VALUE_TITLE if has_rates else "Episodes",
                    1 if has_rates else 0, f"{council_total:,}", notes)


def team_poverty(cases: pd.DataFrame, lsoas: AreaSet, context: ContextTable, decile_column: str,
                 population: pd.DataFrame | None, needs: tuple[str, ...], start: dt.date, end: dt.date,
                 wards: pd.Series | None = None, unrecognised: dict[str, int] | None = None,
                 areas: AreaSet | None = None) -> PovertyPage:
    """Exact poverty-need episodes per area (the LSOAs, or `areas` such as wards summed from their LSOAs) and per
    decile (LSOAs) for a free period; small counts flagged; the comparison of the most deprived fifth with elsewhere
    (95% intervals), the areas ranked by families with a poverty need, and a plain reading (or, when the export
    records no poverty need, what it holds and how to map it)."""
    chosen = CaseFilter(start=start, end=end).apply(cases)
    polygons = lsoas.areas.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
    view = poverty_view(chosen, polygons, context, decile_column, population, needs)
    mapped = lsoas if areas is None else areas
    has_rates = population is not None
    if mapped.kind == "lsoa11":
        table = view.areas.rename(columns={"lsoa11cd": "code", "lsoa11nm": "name"})
        area_view = _team_map(table, mapped, view.council_total, has_rates, {"decile": view.index_title})
        ranked = ranked_poverty_areas(view, family_areas(chosen, needs), wards)
        ranked = ranked.rename(columns=RANKED_COLUMNS | {"decile": view.index_title})
    else:
        table = area_poverty(chosen, mapped, population, needs)
        area_view = _team_map(table, mapped, view.council_total, has_rates, {})
        ranked = ranked_poverty_by_area(table).rename(columns=RANKED_COLUMNS | area_titles(mapped.kind))
    by_decile = view.by_decile.assign(care=view.by_decile["small"].map({True: SMALL_FLAG, False: ""}))
    names = " or ".join(need_title(n).lower() for n in needs)
    finding = _finding(view.shares["share_percent"].iloc[0], view.shares["share_percent"].iloc[1], names)
    by_decile = by_decile[[c for c in DECILE_COLUMNS if c in by_decile]].rename(columns=DECILE_COLUMNS)
    unmapped = unmapped_needs(cases, unrecognised, needs)
    if unmapped is not None:
        reading = unmapped
    elif not poverty_mask(chosen, needs).any():
        reading = f"No episode referred in this period records a need for {names}; try a longer period."
    else:
        reading = poverty_reading(view.over, names, view.index_title, _ranked_word(mapped.kind))
    return PovertyPage(area_view, by_decile, view.shares.rename(columns=SHARE_COLUMNS), view.index_title, finding,
                       reading=reading, comparison=view.over.table().rename(columns=COMPARISON_COLUMNS),
                       ranked=ranked, over=view.over, unmapped=unmapped, decile_note=decile_note(mapped.kind))


def released_over_representation(release: Release, period: str) -> OverRepresentation | None:
    """The most deprived fifth against elsewhere from the released (rounded) family counts; None where one is
    hidden or the release has no deciles."""
    if not release.has_deciles:
        return None
    keys = {(group, part): ("families", group, part, period) for group in (POVERTY, "all")
            for part in ("total", "most_deprived_fifth")}
    if any(release.text(key) == HIDDEN for key in keys.values()):
        return None
    value = {name: release.value(key) for name, key in keys.items()}
    poverty_in, families_in = value[(POVERTY, "most_deprived_fifth")], value[("all", "most_deprived_fifth")]
    poverty_out = value[(POVERTY, "total")] - poverty_in
    families_out = value[("all", "total")] - families_in
    if poverty_in > families_in or poverty_out > families_out or min(poverty_out, families_out) < 0:
        return None  # rounding made the counts inconsistent: no interval can be worked out from them
    return over_representation(poverty_in, families_in, poverty_out, families_out)


def released_ranked_areas(table: pd.DataFrame, wards: pd.Series | None, kind: str = "lsoa11") -> pd.DataFrame:
    """Released areas (of `kind`) ranked by rate per 1,000 children (or episodes) from the rounded counts, with a 95%
    interval from the rounded counts; hidden areas last, unranked; names and codes titled by the geography."""
    ranked = table.copy()
    known = ranked["episodes_value"].notna()
    if "rate" in ranked:
        lower, upper = poisson_rate_interval(ranked["episodes_value"].fillna(0), ranked["children"])
        ranked["rate_lower"] = lower.where(known).round(1)
        ranked["rate_upper"] = upper.where(known).round(1)
    key = "rate" if "rate" in ranked else "episodes_value"
    if wards is not None and ranked["code"].isin(wards.index).all():
        ranked["ward"] = ranked["code"].map(wards)
    ranked = ranked.sort_values([key, "name"], ascending=[False, True], na_position="last", ignore_index=True)
    ranked["rank"] = ranked[key].rank(method="min", ascending=False).astype("Int64")
    ranked = ranked[ranked[key].isna() | (ranked["episodes_value"] > 0)]
    titles = RELEASED_RANKED_COLUMNS | area_titles(kind)
    return ranked[[c for c in titles if c in ranked]].rename(columns=titles)


def released_poverty(release: Release, period: str, population: pd.DataFrame | None,
                     wards: pd.Series | None = None, wanted: str = "lsoa11") -> PovertyPage:
    """Released poverty-need episodes (financial stability or secure housing) by area and by IMD decile, the
    comparison of the most deprived fifth with elsewhere and the ranked areas, from the released (rounded) counts;
    areas only on the geography the gate released, with one sentence when that is not `wanted`."""
    areas, table = released_need_areas(release, POVERTY, period, population)
    has_rates = "rate" in table
    table["value"] = table["rate"] if has_rates else table["episodes_value"]
    columns = area_titles(areas.kind) | {"episodes": "Episodes"}
    if has_rates:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000 (from the rounded count)"}
    method = method_statement(release, POVERTY)
    stem = f"ehmap_released_poverty_{release.la_code}_{period}"
    downloads = {f"{stem}_areas_{areas.kind}": table[list(columns)].rename(columns=columns)}
    area_view = AreaView(Audience.RELEASE, areas, table, columns, VALUE_TITLE if has_rates else "Episodes",
                         1 if has_rates else 0, release.council_count(POVERTY, period), (RELEASED_RATE_NOTE,), method)
    title = need_title(POVERTY)
    ranked = released_ranked_areas(table, wards, areas.kind)
    downloads[f"{stem}_ranked_{areas.kind}"] = ranked
    deciles = released_deciles(release, period)
    families = released_families(release, period, f"Families with {title.lower()}")
    notes = (RELEASED_POVERTY_NOTE,)
    places = {"notice": released_geography_notice(release, POVERTY, wanted), "decile_note": decile_note(areas.kind)}
    if deciles is None:
        message = "Deprivation deciles are not loaded, so families cannot be compared by decile."
        return PovertyPage(area_view, pd.DataFrame(), pd.DataFrame(), "IMD decile (IoD2019)", message, downloads,
                           reading=message, ranked=ranked, notes=notes, notice=places["notice"])
    downloads[f"{stem}_deciles"] = deciles.rename(columns=DECILE_COLUMNS)
    downloads[f"{stem}_families"] = families.rename(columns=SHARE_COLUMNS)
    finding = _finding(families["share_percent"].iloc[0], families["share_percent"].iloc[1], title.lower())
    over = released_over_representation(release, period)
    index_title = "IMD decile (IoD2019)"
    if release.council_count(POVERTY, "all") == "0":
        reading, unmapped = RELEASED_NO_POVERTY, RELEASED_NO_POVERTY
    else:
        unmapped = None
        reading = (HIDDEN_COMPARISON if over is None
                   else poverty_reading(over, title.lower(), index_title, _ranked_word(areas.kind)))
    comparison = pd.DataFrame() if over is None else over.table().rename(columns=COMPARISON_COLUMNS)
    if over is not None:
        downloads[f"{stem}_comparison"] = comparison
    return PovertyPage(area_view, deciles.rename(columns=DECILE_COLUMNS), families.rename(columns=SHARE_COLUMNS),
                       index_title, finding, downloads, reading=reading, comparison=comparison, ranked=ranked,
                       over=over, unmapped=unmapped, notes=notes, **places)


def _need_phrase(need: str | None) -> str:
    """'all episodes', or 'episodes with the need "Secure housing"', for the bivariate reading."""
    return "all episodes" if need in (None, "all") else f"episodes with the need \u201c{need_title(need)}\u201d"


def team_bivariate(cases: pd.DataFrame, lsoas: AreaSet, context: ContextTable, need: str | None, start: dt.date,
                   end: dt.date, measure: str, population: pd.DataFrame) -> Bivariate:
    """Every LSOA's exact rate against deprivation, in the council's own tertiles."""
    polygons = lsoas.areas.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
    table = need_map_table(cases, polygons, CaseFilter(need, start, end), population)
    view = bivariate(table.areas, context, measure)
    return replace(view, reading=bivariate_reading(view, _need_phrase(need)))


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
    view = replace(view, reading=bivariate_reading(view, _need_phrase(need), released=True))
    return view, sentence, method_statement(release, need)


__all__ = ["POVERTY_NEEDS", "RELEASED_DECILE", "PovertyPage", "area_titles", "decile_note", "team_poverty",
           "released_poverty", "team_bivariate", "released_bivariate"]
