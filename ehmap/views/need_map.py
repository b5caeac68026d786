"""The need map for either audience: exact counts and rates on LSOAs or wards for the team, released ones for the
rest.

The team maps any area set: a ward's episodes and children are the sums of its LSOAs' (`ehmap.ranking`, the sums the
ranking uses), with the LSOAs' rates, intervals, smoothing and flags. A released view maps only the geography the
release gate released for the need; asked for another, it says so (`released_geography_notice`) and maps that one.

Under the map, areas are ranked by rate per 1,000 children with exact 95% intervals (`ehmap.ranking`): the team
ranks wards or LSOAs on exact counts; a released view ranks only the areas the release gate released, on the
release's geography, with intervals from the rounded counts, and lists hidden counts as hidden. `need_map_reading`
says in one or two sentences what stands out, how sure that is and what to try next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import SMALL, SMALL_FLAG, Audience, marking, small
from ehmap.lsoa21 import children_note
from ehmap.needmap import CaseFilter, NeedMapTable, need_map_table, with_need_figures
from ehmap.ranking import (
    ABOVE,
    BELOW,
    HIDDEN,
    IMPLAUSIBLE_FLAG,
    IMPLAUSIBLE_PER_YEAR,
    IMPLAUSIBLE_RULE,
    POOLED_YEARS,
    WITHIN,
    Ranking,
    children_by_area,
    episodes_by_area,
    period_years,
    rank_areas,
    rank_team_areas,
)
from ehmap.release.gate import GEOGRAPHY_TITLES, Release
from ehmap.release.tables import method_statement, need_title, released_need_areas
from ehmap.release.universe import ALL_NEEDS, COUNCIL
from ehmap.smoothing import GLOBAL_EB_METHOD
from ehmap.views import LSOA_KINDS, AreaView, area_words, listed

SMOOTHED, RATE, EPISODES = "smoothed_rate", "rate", "episodes"
MEASURES = {SMOOTHED: "Smoothed rate per 1,000", RATE: "Rate per 1,000 children", EPISODES: "Episodes"}
VALUE_TITLES = {SMOOTHED: "Episodes per 1,000 children aged 0-17, smoothed",
                RATE: "Episodes per 1,000 children aged 0-17", EPISODES: "Episodes"}
RELEASED_MEASURES = (RATE, EPISODES)
RELEASED_RATE_NOTE = "Rates per 1,000 children use the rounded counts; where a count is hidden its rate is too."
RANK_KINDS = {"ward": "Wards", "lsoa11": "LSOAs", "custom": "Localities"}  # the choices under the map
RANKED_TITLES = {"ward": "Wards", "lsoa11": "LSOAs", "lsoa21": "LSOAs 2021", "custom": "Localities"}
MAP_GEOGRAPHIES = {"lsoa21": "LSOA 2021", "lsoa11": "LSOA 2011", "ward": "Ward"}  # the first offered: the default
RANKING_NOTE = (
    "Each rate has an exact (Poisson) 95% interval. An area is clearly above the council rate when its whole interval "
    "lies above it, clearly below when its whole interval lies below it; otherwise the difference could be chance."
)
RELEASED_RANKING_NOTE = (
    "Shared rankings use the released counts: rates and intervals come from the counts rounded to 5, so they are "
    "a little less exact than the team's; hidden counts are listed as hidden, never estimated, and not ranked."
)


def measures(audience: Audience, has_population: bool) -> list[str]:
    """The measures a need map offers: smoothed rates only for the team (they pool true counts across areas)."""
    if not has_population:
        return [EPISODES]
    return [SMOOTHED, RATE, EPISODES] if audience is Audience.TEAM else list(RELEASED_MEASURES)


def _implausible(rate: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    """True where a rate per 1,000 children over the period is above the implausible rate a year."""
    return (rate.astype(float) / period_years(start, end) > IMPLAUSIBLE_PER_YEAR).fillna(False)


def _notes(*flags: tuple[pd.Series, str]) -> list[str]:
    """One note per row: the texts whose flag is set, joined by '; '."""
    rows = zip(*[flag.to_numpy() for flag, _ in flags], strict=True)
    return ["; ".join(text for on, (_, text) in zip(row, flags, strict=True) if on) for row in rows]


def _with_wards(table: pd.DataFrame, kind: str, lsoa_wards: pd.Series | None) -> pd.DataFrame:
    """The table with each LSOA's ward name (`ward`), when the areas are LSOAs and the wards are known."""
    if kind == "lsoa11" and lsoa_wards is not None:
        table["ward"] = table["code"].map(lsoa_wards).astype(object).to_numpy()
    return table


def map_geographies(has_wards: bool, has_lsoa21: bool = False) -> dict[str, str]:
    """What a need map can be drawn on ('Map by'), the default first: LSOAs 2021, the ONS's current small areas, when
    the episodes were placed on them (`placed_on_lsoa21`; the team's own figures only, as the release gate works on
    LSOA 2011); LSOAs 2011, to compare with older work; wards when the council's wards are known."""
    offered = {"lsoa21": has_lsoa21, "lsoa11": True, "ward": has_wards}
    return {kind: title for kind, title in MAP_GEOGRAPHIES.items() if offered[kind]}


def team_small_area(cases: pd.DataFrame) -> str:
    """The team's default small area: LSOA 2021 when the episodes were placed on it, else LSOA 2011."""
    return "lsoa21" if placed_on_lsoa21(cases, Audience.TEAM) else "lsoa11"


def placed_on_lsoa21(cases: pd.DataFrame, audience: Audience) -> bool:
    """Whether the team's episodes carry an LSOA 2021 to map (placed at ingest when the LSOA 2021 files were loaded);
    released views are never on LSOA 2021."""
    return audience is Audience.TEAM and "lsoa21cd" in cases and bool(cases["lsoa21cd"].notna().any())


def _area_columns(kind: str) -> dict[str, str]:
    """The titles of an area's name and code columns: 'LSOA name', 'Ward name', 'Locality name'..."""
    one = "LSOA" if kind in LSOA_KINDS else area_words(kind)[0].capitalize()
    return {"name": f"{one} name", "code": f"{one} code"}


def _team_table(cases: pd.DataFrame, areas: AreaSet, case_filter: CaseFilter,
                population: pd.DataFrame | None) -> NeedMapTable:
    """The team's exact figures per area (code, name, episodes, ...): LSOAs as they are, other areas as the sums of
    their LSOAs' episodes and children (the ranking's sums), then the same rates, intervals and smoothing."""
    if areas.kind == "lsoa11":
        polygons = areas.areas.rename(columns={"code": "lsoa11cd", "name": "lsoa11nm"})
        table = need_map_table(cases, polygons, case_filter, population)
        return NeedMapTable(table.areas.rename(columns={"lsoa11cd": "code", "lsoa11nm": "name"}), table.council_total,
                            table.has_rates, table.note)
    chosen = case_filter.apply(cases)
    counts = episodes_by_area(chosen, areas)
    children = None if population is None else children_by_area(areas, population)
    frame = pd.DataFrame({"code": counts.index.astype(str), "name": areas.areas["name"].astype(str).to_numpy()})
    if "ward" in areas.areas:  # LSOAs 2021 name their ward (May 2024) exactly
        frame["ward"] = areas.areas["ward"].astype(object).to_numpy()
    return NeedMapTable(with_need_figures(frame, counts, children), len(chosen), children is not None)


def _outside_note(table: NeedMapTable, areas: AreaSet) -> tuple[str, ...]:
    """A note when some of the council's episodes are in LSOAs that no area holds (so the areas sum to less)."""
    outside = table.council_total - int(table.areas["episodes"].sum())
    if not outside:
        return ()
    if areas.kind == "lsoa21":
        return (f"{outside:,} of the council's {table.council_total:,} episodes have no LSOA 2021 (saved before "
                "episodes were placed on LSOA 2021, or placed without the LSOA 2021 files): they are in the council "
                "total but on no LSOA 2021. Add the dataset again to place them.",)
    many = area_words(areas.kind)[1]
    return (f"{outside:,} of the council's {table.council_total:,} episodes are in LSOAs that none of its {many} "
            f"holds, so they are in the council total but in no {area_words(areas.kind)[0]}.",)


def team_need_map(cases: pd.DataFrame, lsoas: AreaSet, need: str | None, start: dt.date, end: dt.date,
                  service: str | None, measure: str, population: pd.DataFrame | None,
                  lsoa_wards: pd.Series | None = None) -> AreaView:
    """Exact episodes, rates with intervals and smoothed rates per area (LSOAs, or wards and localities summed from
    their LSOAs); small counts and implausible rates flagged."""
    table = _team_table(cases, lsoas, CaseFilter(need, start, end, service), population)
    areas = _with_wards(table.areas, lsoas.kind, lsoa_wards)
    areas["value"] = areas[measure].astype(float)
    areas["episodes"] = areas["episodes"].astype(int)
    areas["implausible"] = _implausible(areas["rate"], start, end) if table.has_rates else False
    areas["care"] = _notes((areas["small"], SMALL_FLAG), (areas["implausible"], IMPLAUSIBLE_FLAG))
    columns = _area_columns(lsoas.kind) | ({"ward": "Ward"} if "ward" in areas else {})
    columns["episodes"] = "Episodes"
    if table.has_rates:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000", "rate_lower": "95% CI lower",
                    "rate_upper": "95% CI upper", "smoothed_rate": "Smoothed rate per 1,000"}
    columns["care"] = "Note"
    notes = (table.note, IMPLAUSIBLE_RULE, GLOBAL_EB_METHOD) if table.has_rates else (table.note,)
    if lsoas.kind != "lsoa11":
        notes += (lsoas.rule, *_outside_note(table, lsoas))
    if lsoas.kind == "lsoa21" and table.has_rates:
        notes += (children_note(),)
    return AreaView(Audience.TEAM, lsoas, areas, columns, VALUE_TITLES[measure], 0 if measure == EPISODES else 1,
                    f"{table.council_total:,}", notes)


def released_geography_notice(release: Release, need: str | None, wanted: str) -> str:
    """One plain sentence when a released map cannot be on the geography asked for ('' when it is): shared views
    show each need on the one geography the release gate chose, so the map shows that one instead."""
    kind = release.geography[need or ALL_NEEDS]
    if wanted == kind:
        return ""
    return (f"Shared views show this need by {GEOGRAPHY_TITLES.get(kind, kind)} only, so the map shows "
            f"{area_words(kind)[1]}, not {area_words(wanted)[1]}.")


def released_need_map(release: Release, need: str | None, period: str, measure: str,
                      population: pd.DataFrame | None, lsoa_wards: pd.Series | None = None) -> AreaView:
    """Released episodes per area on the need's released geography, for a fixed period; implausible rates flagged."""
    if measure not in RELEASED_MEASURES:
        raise ValueError(f"A released need map shows {list(RELEASED_MEASURES)}; got '{measure}'.")
    areas, table = released_need_areas(release, need, period, population)
    table = _with_wards(table, areas.kind, lsoa_wards)
    table["value"] = table["rate"] if measure == RATE and "rate" in table else table["episodes_value"]
    chosen = release.period(period)
    table["implausible"] = _implausible(table["rate"], chosen.start, chosen.end) if "rate" in table else False
    table["care"] = _notes((table["implausible"], IMPLAUSIBLE_FLAG))
    title = areas.title if areas.kind != "custom" else "Locality"
    columns = {"name": title, "code": "Code"} | ({"ward": "Ward"} if "ward" in table else {})
    columns["episodes"] = "Episodes"
    if "rate" in table:
        columns |= {"children": "Children 0-17", "rate": "Rate per 1,000 (from the rounded count)"}
    download = table[list(columns)].rename(columns=columns)
    columns["care"] = "Note"
    notes = (RELEASED_RATE_NOTE, IMPLAUSIBLE_RULE) if "rate" in table else (RELEASED_RATE_NOTE,)
    stem = f"ehmap_released_{release.la_code}_{need or 'all'}_{period}_{areas.kind}"
    return AreaView(Audience.RELEASE, areas, table, columns, VALUE_TITLES[measure], 0 if measure == EPISODES else 1,
                    release.council_count(need, period), notes, method_statement(release, need),
                    {stem: download})


def map_title(need: str | None, view: AreaView, council: str, when: str) -> str:
    """The map's title (and the image's): the need, what colours it, on which areas, where and when."""
    return f"{need_title(need)}: {view.value_title}, by {area_words(view.areas.kind)[0]}, {council}, {when}"


def map_stem(la_code: str, need: str | None, view: AreaView) -> str:
    """The map image's file name (without .png): council, need and the areas drawn, e.g. '..._all_ward'."""
    return f"ehmap_need_map_{la_code}_{need or 'all'}_{view.areas.kind}"


def need_options() -> dict[str | None, str]:
    """None (all needs) then each Supporting Families headline."""
    from ehmap.taxonomy import NEEDS

    return {None: need_title(None), **{need.key: need.headline for need in NEEDS}}


# ------------------------------------------------------------------------------------------ ranked areas


@dataclass(frozen=True)
class RankedView:
    """Areas ranked by rate with intervals, for one audience: the table, the chart's rows and the notes."""

    audience: Audience
    ranking: Ranking
    need: str | None
    period_label: str
    notes: tuple[str, ...]
    period_kind: str = "free"  # "free" (the team's dates), or a release period's kind: "year" or "all"

    @property
    def marking(self) -> str:
        return marking(self.audience)

    @property
    def words(self) -> tuple[str, str]:
        """The area noun, singular and plural ('ward', 'wards')."""
        return area_words(self.ranking.kind)

    @property
    def title(self) -> str:
        return (f"{RANKED_TITLES.get(self.ranking.kind, 'Localities')} ranked by episodes per 1,000 children aged 0-17 "
                f"({need_title(self.need)}, {self.period_label})")

    def shown_table(self) -> pd.DataFrame:
        """The ranking as a reader sees it: rank, place names, counts, rate, interval, position and a note."""
        table = self.ranking.table
        one = "LSOA" if self.ranking.kind in LSOA_KINDS else self.words[0].capitalize()
        shown = pd.DataFrame({
            "Rank": table["rank"].astype("Int64"),
            f"{one} name": table["name"],
            f"{one} code": table["code"],
        })
        if self.ranking.kind in LSOA_KINDS:
            shown["Ward"] = table["ward"].fillna("").astype(str)
        # episodes in the rate as this audience may see them: exact numbers for the team, released text otherwise
        shown["Episodes"] = table["count"].astype("Int64") if self.audience is Audience.TEAM else table["episodes"]
        shown["Children 0-17"] = table["children"].round(0).astype("Int64")
        shown["Rate per 1,000"] = table["rate"].round(1)
        shown["95% CI lower"] = table["rate_lower"].round(1)
        shown["95% CI upper"] = table["rate_upper"].round(1)
        shown["Against the council rate"] = table["position"]
        flags = [(table["implausible"], IMPLAUSIBLE_FLAG)]
        if self.audience is Audience.TEAM:
            flags.insert(0, (small(table["count"]).fillna(False), SMALL_FLAG))
        shown["Note"] = _notes(*flags)
        return shown

    def chart_rows(self, limit: int = 60) -> pd.DataFrame:
        """The ranked areas to draw (at most `limit`, highest rates first): label, rate, interval and position."""
        ranked = self.ranking.ranked.head(limit)
        label = ranked["name"]
        if self.ranking.kind in LSOA_KINDS:  # an LSOA with its ward: 'Croydon 012A (Selhurst)'
            label = label + " (" + ranked["ward"].fillna("no ward").astype(str) + ")"
        return pd.DataFrame({"area": label.to_numpy(), "code": ranked["code"].to_numpy(),
                             "rate": ranked["rate"].round(1).to_numpy(),
                             "lower": ranked["rate_lower"].round(1).to_numpy(),
                             "upper": ranked["rate_upper"].round(1).to_numpy(),
                             "position": ranked["position"].to_numpy(), "episodes": ranked["episodes"].to_numpy()})


def ranking_kinds(audience: Audience, release: Release | None = None, need: str | None = None) -> dict[str, str]:
    """What a ranking can be on: wards or LSOAs for the team; only the release's geography for everyone else."""
    if audience is Audience.TEAM:
        return {"ward": RANK_KINDS["ward"], "lsoa11": RANK_KINDS["lsoa11"]}
    if release is None:
        raise ValueError("A released ranking needs the dataset's release.")
    kind = release.geography[need or ALL_NEEDS]
    return {kind: RANK_KINDS.get(kind, "Localities")}


def ranked_geography(choice: str, map_geography: str, cases: pd.DataFrame) -> str:
    """The areas the team's ranking is on: wards as chosen; 'LSOAs' are the LSOAs the map is drawn on (2021 or
    2011), or the team's default small area when the map is on wards."""
    if choice != "lsoa11":
        return choice
    return map_geography if map_geography in LSOA_KINDS else team_small_area(cases)


def team_need_ranking(cases: pd.DataFrame, areas: AreaSet, need: str | None, start: dt.date, end: dt.date,
                      service: str | None, population: pd.DataFrame,
                      lsoa_wards: pd.Series | None = None) -> RankedView:
    """The team's areas (wards or LSOAs) ranked on exact counts, with exact 95% intervals; `population` is on the
    areas' own LSOAs (`ehmap.lsoa21.children_on`)."""
    chosen = CaseFilter(need, start, end, service).apply(cases)
    wards = areas.areas.set_index("code")["ward"] if areas.kind == "lsoa21" else (
        lsoa_wards if areas.kind == "lsoa11" else None)
    ranking = rank_team_areas(chosen, areas, population, start, end, wards)
    label = f"referrals {start:%d/%m/%Y} to {end:%d/%m/%Y}" + (f", {service}" if service else "")
    few = int((ranking.table["count"] < SMALL).sum())
    notes = (RANKING_NOTE, *((children_note(),) if areas.kind == "lsoa21" else ()))
    if areas.kind in LSOA_KINDS and few * 2 > len(ranking.table):
        notes += (f"{few} of {len(ranking.table)} LSOAs have fewer than {SMALL} episodes: their intervals are wide, "
                  "so few can stand out; ranking wards pools them.",)
    return RankedView(Audience.TEAM, ranking, need, label, notes)


def released_need_ranking(release: Release, need: str | None, period: str, population: pd.DataFrame,
                          lsoa_wards: pd.Series | None = None) -> RankedView:
    """The released areas ranked on the rounded counts, on the release's geography; hidden counts listed, unranked."""
    areas, table = released_need_areas(release, need, period, population)
    codes = pd.Index(table["code"], name="code")
    children = children_by_area(areas, population).reindex(codes).fillna(0)
    council = release.value(("episodes", need or ALL_NEEDS, COUNCIL, "", period))
    council_rate = council / children.sum() * 1000 if children.sum() > 0 else np.nan
    chosen = release.period(period)
    ranking = rank_areas(areas.kind, codes, pd.Series(table["name"].to_numpy(), index=codes),
                         pd.Series(table["episodes_value"].to_numpy(), index=codes), children,
                         period_years(chosen.start, chosen.end), float(council_rate),
                         shown=pd.Series(table["episodes"].to_numpy(), index=codes),
                         wards=lsoa_wards if areas.kind == "lsoa11" else None)
    return RankedView(Audience.RELEASE, ranking, need, chosen.label,
                      (RANKING_NOTE, RELEASED_RANKING_NOTE), chosen.kind)


# ------------------------------------------------------------------------------------------ the reading


def _place(row: pd.Series, kind: str) -> str:
    """An area's name for a sentence: an LSOA with its ward ('Croydon 012A (Selhurst ward)')."""
    if kind == "lsoa11" and isinstance(row.get("ward"), str) and row["ward"]:
        return f"{row['name']} ({row['ward']} ward)"
    return str(row["name"])


def _places(rows: pd.DataFrame, kind: str, limit: int = 4) -> str:
    return listed([_place(row, kind) for _, row in rows.iterrows()], limit)


def _next_step(ranked: RankedView, found: bool) -> str:
    """What to try next, given what the ranking found and the choices this audience has."""
    kind, team = ranked.ranking.kind, ranked.audience is Audience.TEAM
    pool = ranked.ranking.years < POOLED_YEARS and (team or ranked.period_kind != "all")
    longer = "pool two years" if team else "choose all years together"
    if found and kind == "lsoa11":
        return "look at the cases in these LSOAs before acting, and at the Hot spots page to see whether they cluster"
    if found:
        return ("rank LSOAs to see where within these wards, and look at the Hot spots page" if team
                else "look at the Hot spots page to see whether they cluster")
    if kind == "lsoa11":
        return "rank wards instead" + (f", or {longer}," if pool else ",") + " so each rate rests on more episodes"
    if pool:
        return f"{longer} to narrow the intervals"
    return "look at the Hot spots page for clusters; on these figures no area needs singling out"


def _ranking_sentence(ranked: RankedView) -> str:
    """What stands out in a ranking, how sure, and what to try next."""
    ranking = ranked.ranking
    one, many = ranked.words
    above, below = ranking.where(ABOVE), ranking.where(BELOW)
    compared = len(ranking.ranked)
    within = int((ranking.table["position"] == WITHIN).sum())
    council = f"the council rate of {ranking.council_rate:,.1f} per 1,000 children"
    if not compared:
        return (f"No {one} has a rate to rank (every count is hidden or there are no children), so nothing is "
                f"ranked; next, {'pool two years' if ranked.audience is Audience.TEAM else 'choose all years together'}"
                ".")
    chance = (f" With {compared} {many} compared, up to about {round(compared * 0.05)} could fall outside by chance "
              "alone, so treat a single one with care."
              if compared >= 40 else "")
    if above.empty and below.empty:
        text = (f"No {one} stands out: every {one}'s 95% interval includes {council}, so the differences between "
                f"{many} could be chance; next, {_next_step(ranked, False)}.")
    else:
        parts = []
        if not above.empty:
            verb = "has a rate" if len(above) == 1 else "have rates"
            parts.append(f"{_places(above, ranking.kind)} {verb} clearly above {council} (the whole 95% interval "
                         "lies above it)")
        if not below.empty:
            noun = one if len(below) == 1 else many
            parts.append(f"{len(below)} {noun} {'is' if len(below) == 1 else 'are'} clearly below"
                         + (f" {council}" if above.empty else " it"))
        text = (f"{'; '.join(parts)}; the other {within} of {compared} {many} could differ from the council by "
                f"chance.{chance} Next: {_next_step(ranked, not above.empty)}.")
    hidden = int((ranking.table["position"] == HIDDEN).sum())
    if hidden:
        text += (f" {hidden} {one} with a hidden count (too small to share) is not ranked." if hidden == 1 else
                 f" {hidden} {many} with hidden counts (too small to share) are not ranked.")
    return text


def _implausible_sentence(view: AreaView, ranked: RankedView | None) -> str:
    """Which areas (on the map, or in the ranking when it is on other areas) have rates too high to believe."""
    rows = view.table[view.table["implausible"]] if "implausible" in view.table else view.table.iloc[:0]
    differ = ranked is not None and ranked.ranking.kind != view.areas.kind
    mapped = " ward" if differ and view.areas.kind == "ward" else ""
    names = [_place(row, view.areas.kind) + mapped for _, row in rows.iterrows()]
    if ranked is not None and differ:
        suffix = " ward" if ranked.ranking.kind == "ward" else ""
        names += [_place(row, ranked.ranking.kind) + suffix for _, row in ranked.ranking.implausible.iterrows()]
    if not names:
        return ""
    return (f"Check first: {listed(names, 4)} {'has a rate' if len(names) == 1 else 'have rates'} above "
            f"{IMPLAUSIBLE_PER_YEAR:,.0f} per 1,000 children a year, likely a data problem (postcodes, duplicates or "
            "population), not a real concentration. ")


def _by(view: AreaView, ranked: RankedView) -> str:
    """The areas a reading is about: 'by ward', or 'mapped by ward, ranked by LSOA' when a map off the small areas
    (LSOA 2021 or 2011) is on other areas than the ranking."""
    if view.areas.kind in (*LSOA_KINDS, ranked.ranking.kind):
        return f"by {ranked.words[0]}"
    return f"mapped by {area_words(view.areas.kind)[0]}, ranked by {ranked.words[0]}"


def need_map_reading(view: AreaView, ranked: RankedView | None) -> str:
    """One or two sentences a non-analyst can repeat: what stands out, how sure, what to try next."""
    if ranked is None:
        mapped = "" if view.areas.kind in LSOA_KINDS else f", mapped by {area_words(view.areas.kind)[0]}"
        return (f"{view.council_total} episodes in the council{mapped}. Without child population figures areas "
                "cannot be compared fairly (bigger areas have more children), so nothing is ranked; add the "
                "population file to rank wards and LSOAs by rate.")
    heading = f"{need_title(ranked.need)}, {ranked.period_label}, {_by(view, ranked)}: "
    return heading + _implausible_sentence(view, ranked) + _ranking_sentence(ranked)
