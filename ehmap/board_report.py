"""The board report: one period's need maps, hot spots, service coverage, service comparison, trends and
business case, with their sources and methods, as one paper.

Every table is built from the same disclosure-safe tables the pages show; on top of that the paper applies
the stricter rule a published paper needs: no count from 1 to 5 anywhere, council totals included
(`ehmap.report.Report.check_disclosure` refuses to render one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

import ehmap
from ehmap.areas import AreaSet, area_set
from ehmap.business_case import (
    NATIONAL_REFERENCE,
    NOTHING_TO_COST,
    UNIT_COSTS_FILE,
    Assumption,
    CutImpact,
    costs_avoided,
    cut_impact,
)
from ehmap.catalogue import boundary_set, indicator_source
from ehmap.charts import choropleth_png, funnel_png, trend_png
from ehmap.context import idaci_deciles, load_on_lsoa11
from ehmap.coverage import (
    MILE_M,
    TYPE_COLOURS,
    council_centres,
    council_idaci,
    coverage,
    gap_choropleth,
    lsoa_centres,
    outreach_csv,
)
from ehmap.disclosure import STAND_IN_NOTE, SUPPRESSED, SUPPRESSION_NOTE, count_text
from ehmap.geocode import DIRECTORY_ATTRIBUTION, DIRECTORY_TITLE, DIRECTORY_VINTAGE
from ehmap.geography import council_lsoas
from ehmap.hotspots import hotspot_table, label_choropleth
from ehmap.indicators import SourceMissing, child_population
from ehmap.ingest import IngestResult
from ehmap.maps import OGL_ATTRIBUTION, LegendEntry, classify
from ehmap.needmap import PER_CHILDREN, CaseFilter, need_map_table
from ehmap.performance import GROUPINGS, MEASURES, Comparison, compare, outcome_table
from ehmap.report import Bullets, Figure, Paragraph, Report, Section, Table
from ehmap.services import SERVICE_TYPES, ServicesResult
from ehmap.taxonomy import NEEDS
from ehmap.trends import FREQUENCIES, shown_trend_table, trend_table

SECTIONS = {
    "need_map": "Where needs are",
    "hotspots": "Hot spots",
    "coverage": "Service coverage",
    "performance": "Which services help most",
    "trends": "Trends",
    "business_case": "Business case",
}
REPORT_RULE = (
    "No count from 1 to 5 appears in this paper, council totals included: such counts show as 'c', with the "
    "next-smallest count in a row or column where one hidden count could be worked out from a total."
)
TOP_AREAS = 10
OGL_TEXT = OGL_ATTRIBUTION.replace("&copy;", "©")


@dataclass(frozen=True)
class CoverageInputs:
    """What the coverage section needs beside the episodes: the services and where the council's LSOAs are."""

    services: pd.DataFrame  # `ehmap.services.ServicesResult.services`
    label: str  # where the services came from, e.g. the file name
    centres: pd.DataFrame  # `ehmap.coverage.council_centres`
    idaci: pd.DataFrame | None = None  # `ehmap.coverage.council_idaci` (None: demand from children alone)


@dataclass(frozen=True)
class ReportData:
    """What a paper is made from: one council's accepted episodes and the reference tables to set them in."""

    cases: pd.DataFrame
    la_code: str
    council: str
    dataset_label: str
    reconciliation: tuple[int, int, int]  # rows read, accepted, rejected
    lsoas: gpd.GeoDataFrame  # the council's LSOA 2011 polygons
    population: pd.DataFrame | None = None  # lsoa11cd, children
    idaci_decile: pd.Series | None = None  # lsoa11cd -> national IDACI decile (case-mix strata)
    localities: pd.Series | None = None  # lsoa11cd -> locality name (only to compare by locality)
    coverage: CoverageInputs | None = None  # services and LSOA centres (only for the coverage section)
    hotspot_areas: AreaSet | None = None  # the areas hot spots are tested on (LSOAs or wards)


@dataclass(frozen=True)
class ReportChoices:
    """What the paper covers: the referral period, its sections and the options of each."""

    start: dt.date
    end: dt.date
    sections: tuple[str, ...] = tuple(SECTIONS)
    needs: tuple[str | None, ...] = (None,)  # one need map per entry (None: all needs)
    measure: str = "step_up"
    by: str = "service"
    adjusted: bool = True
    frequency: str = "quarter"
    marking: str = "OFFICIAL"
    costs: pd.DataFrame | None = None  # unit costs (default: the shipped GMCA v1.4 rows)
    assumptions: dict[str, Assumption] = field(default_factory=dict)  # overriding the business case's defaults
    deflators: pd.Series | None = None
    price_year: str | None = None
    cut: tuple[str, float] | None = None  # (service, £ a year): what that cut would likely cost elsewhere

    def __post_init__(self) -> None:
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown:
            raise ValueError(f"Unknown report section(s) {unknown}; choose from {list(SECTIONS)}.")
        if self.start > self.end:
            raise ValueError(f"The period starts ({self.start}) after it ends ({self.end}).")
        if self.measure not in MEASURES:
            raise ValueError(f"Unknown measure '{self.measure}'; choose from {list(MEASURES)}.")
        if self.by not in GROUPINGS:
            raise ValueError(f"Unknown grouping '{self.by}'; choose from {list(GROUPINGS)}.")
        known = {need.key for need in NEEDS}
        if any(need is not None and need not in known for need in self.needs):
            raise ValueError(f"Unknown need in {list(self.needs)}; choose from {sorted(known)} (or None for all).")
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"Unknown frequency '{self.frequency}'; choose from {list(FREQUENCIES)}.")


def _count_cell(text: object) -> str:
    """A count cell from an ehmap table ('c' or a whole number as text) under the paper's rule."""
    if pd.isna(text) or str(text) == SUPPRESSED:
        return SUPPRESSED
    return count_text(int(float(str(text).replace(",", ""))))


def _share_cell(pct: float, lower: float, upper: float) -> str:
    return "" if pd.isna(pct) else f"{pct:.1f}% ({lower:.1f} to {upper:.1f})"


def _day(date: dt.date) -> str:
    """A date as GOV.UK writes it: 1 April 2022."""
    return f"{date.day} {date:%B %Y}"


def _need_title(need: str | None) -> str:
    return "all needs" if need is None else {n.key: n.headline for n in NEEDS}[need]


# --------------------------------------------------------------------------- sections


def _summary(chosen: pd.DataFrame, data: ReportData, choices: ReportChoices, highlights: tuple[str, ...]) -> Section:
    total = outcome_table(chosen, "service").shown.iloc[-1]
    recorded = "family_id" in chosen and chosen["family_id"].notna().any()
    families = count_text(int(chosen["family_id"].nunique())) if recorded else "not in the export"
    counts = Table(
        ("Episodes referred in the period", "Count"),
        (
            ("Episodes referred", _count_cell(total["episodes"])),
            ("Families (pseudonymised family IDs)", families),
            ("Episodes closed so far", _count_cell(total["closed"])),
            ("Closed with needs met", _count_cell(total["needs_met"])),
            ("Stepped up to children's social care", _count_cell(total["step_up"])),
        ),
        count_columns=("Count",),
    )
    shares = Table(
        ("Of the closed episodes", "Share (95% interval)"),
        (
            ("Needs met", _share_cell(total["needs_met_pct"], total["needs_met_lower"], total["needs_met_upper"])),
            ("Stepped up to children's social care",
             _share_cell(total["step_up_pct"], total["step_up_lower"], total["step_up_upper"])),
            ("Disengaged", _share_cell(total["disengaged_pct"], total["disengaged_lower"], total["disengaged_upper"])),
            ("Re-referred within 12 months (of those closed 12+ months before the data date)",
             _share_cell(total["rereferral_pct"], total["rereferral_lower"], total["rereferral_upper"])),
        ),
    )
    chosen_titles = ", ".join(SECTIONS[s].lower() for s in choices.sections) or "the headline figures only"
    intro = Paragraph(
        f"Early Help episodes in {data.council} referred between {_day(choices.start)} and "
        f"{_day(choices.end)}. This paper covers {chosen_titles}. Figures come from {data.dataset_label}; "
        "outcomes of episodes still open are not yet known."
    )
    key_points = (Paragraph("Key points"), Bullets(highlights)) if highlights else ()
    return Section("Summary", (intro, *key_points, counts, shares))


def _need_map(data: ReportData, choices: ReportChoices, need_key: str | None) -> Section:
    case_filter = CaseFilter(need_key, choices.start, choices.end)
    table = need_map_table(data.cases, data.lsoas, case_filter, data.population)
    areas = table.areas
    need = _need_title(need_key)
    if table.has_rates:
        values, legend_title, decimals = areas["smoothed_rate"], "Episodes per 1,000\nchildren (smoothed)", 1
        measure = ("episodes per 1,000 children aged 0-17, smoothed by empirical Bayes towards the council rate "
                   f"(small populations give unstable raw rates). {STAND_IN_NOTE}")
    else:
        values, legend_title, decimals = areas["episodes_value"], "Episodes", 0
        measure = "episodes (no population file, so no rates)"
    choropleth = classify(values, areas["episodes"], decimals=decimals)
    png = choropleth_png(data.lsoas, choropleth.colours, choropleth.legend, legend_title,
                         OGL_TEXT + " Case data: " + data.dataset_label + ".")
    figure = Figure(
        png,
        f"{need[0].upper()}{need[1:]}: {measure}, by LSOA (2011), referrals {_day(choices.start)} to "
        f"{_day(choices.end)}. British National Grid. {SUPPRESSION_NOTE} {OGL_TEXT}",
        f"Map of {data.council}'s {len(areas)} LSOAs shaded by {measure}.",
    )
    blocks: list = [
        Paragraph(f"{_count_cell(table.council_total)} episodes referred in the period"
                  + ("" if need_key is None else f" recorded the need '{need}'")
                  + f", across {data.council}'s {len(areas)} LSOAs."),
        figure,
    ]
    if table.has_rates:
        ranked = areas[areas["episodes"] != SUPPRESSED].dropna(subset=["smoothed_rate"])
        ranked = ranked.sort_values(["smoothed_rate", "lsoa11cd"], ascending=[False, True]).head(TOP_AREAS)
        rows = tuple(
            (row.lsoa11nm, row.lsoa11cd, _count_cell(row.episodes), f"{row.children:,.0f}",
             f"{row.rate:.1f} ({row.rate_lower:.1f} to {row.rate_upper:.1f})", f"{row.smoothed_rate:.1f}")
            for row in ranked.itertuples()
        )
        blocks.append(Table(
            ("LSOA", "Code", "Episodes", "Children 0-17", "Rate per 1,000 (95% CI)", "Smoothed rate"),
            rows, count_columns=("Episodes",), caption=f"The {len(rows)} LSOAs with the highest smoothed rates",
            notes=("Children 0-17: ONS mid-2020 population estimates. Exact Poisson 95% intervals.",),
        ))
        highlights = _highest_rates(need, ranked, table.council_total, areas["children"].sum())
    else:
        highlights = ()
    return Section(f"{SECTIONS['need_map']}: {need}", tuple(blocks), highlights)


def _highest_rates(need: str, ranked: pd.DataFrame, council_total: str, children: float) -> tuple[str, ...]:
    """The need map's key point: the three highest smoothed rates, beside the council's rate."""
    if ranked.empty:
        return ()
    top = ranked.head(3)
    rates = [f"{rate:.1f}" for rate in top["smoothed_rate"]]
    listed = ", ".join(rates[:-1]) + f" and {rates[-1]}" if len(rates) > 1 else rates[0]
    council = ("" if council_total == SUPPRESSED or not children else
               f"; the council's rate is {int(council_total.replace(',', '')) / children * PER_CHILDREN:.1f}")
    return (f"{need[0].upper()}{need[1:]}: the highest smoothed rates are in {', '.join(top['lsoa11nm'])} "
            f"({listed} episodes per 1,000 children{council}).",)


def _hotspots(data: ReportData, choices: ReportChoices, need_key: str | None) -> Section:
    need = _need_title(need_key)
    title = f"{SECTIONS['hotspots']}: {need}"
    if data.hotspot_areas is None or data.population is None:
        missing = "the areas to test" if data.hotspot_areas is None else "the child population file"
        return Section(title, (Paragraph(f"Not shown: hot spots need {missing}."),))
    areas = data.hotspot_areas
    table = hotspot_table(data.cases, areas, CaseFilter(need_key, choices.start, choices.end), data.population)
    choropleth = label_choropleth(table.areas["label"])
    png = choropleth_png(areas.areas, choropleth.colours, choropleth.legend, "Getis-Ord Gi*", OGL_TEXT)
    hot = table.hot_spots()
    uncorrected = int((table.result.p <= 0.05).sum())
    cold = int(table.areas["label"].str.startswith("cold spot").sum())
    blocks: list = [Figure(
        png, f"Hot and cold spots of {need}: Getis-Ord Gi* on smoothed rates per 1,000 children, by "
        f"{areas.title}, referrals {_day(choices.start)} to {_day(choices.end)}. {table.result.explanation()} "
        f"{areas.rule} {table.note} {OGL_TEXT}",
        f"Map of {data.council}'s areas ({areas.title}) coloured by hot spot result.")]
    if hot.empty:
        summary = (f"No area is a significant hot spot of {need} after correcting for multiple testing "
                   f"({cold} cold spot(s)); without the correction, {uncorrected} of {len(table.areas)} areas "
                   "would have looked significant at 95% (by chance alone, about 1 in 20 would).")
        blocks.append(Paragraph(summary))
        highlight = f"{need[0].upper()}{need[1:]}: no significant hot spot after correcting for multiple testing."
    else:
        rows = tuple((r["name"], r["code"], _count_cell(r["count"]),
                      "" if pd.isna(r["smoothed_rate"]) else f"{r['smoothed_rate']:.1f}", r["label"])
                     for _, r in hot.head(TOP_AREAS).iterrows())
        blocks.append(Table(("Area", "Code", "Episodes", "Smoothed rate per 1,000", "Result"), rows,
                            count_columns=("Episodes",), caption=f"Significant hot spots ({len(hot)})"))
        names = ", ".join(hot["name"].head(3))
        highlight = (f"{need[0].upper()}{need[1:]}: {len(hot)} significant hot spot(s) after correcting for multiple "
                     f"testing, led by {names}.")
    return Section(title, tuple(blocks), (highlight,))


def _coverage(data: ReportData, choices: ReportChoices, need_key: str | None) -> Section:
    title = f"{SECTIONS['coverage']}: {_need_title(need_key)}"
    if data.coverage is None or data.population is None:
        missing = "a services file (upload one on Service coverage, or give --services)" \
            if data.coverage is None else "the child population file"
        return Section(title, (Paragraph(f"Not shown: coverage needs {missing}."),))
    inputs = data.coverage
    result = coverage(data.cases, inputs.centres, inputs.services, data.population, inputs.idaci, need_key,
                      case_filter=CaseFilter(start=choices.start, end=choices.end))
    flagged = result.flagged
    miles = result.poor_access_m / MILE_M
    choropleth = gap_choropleth(result)
    counted = result.services
    points = pd.DataFrame({"easting": counted["easting"], "northing": counted["northing"],
                           "colour": counted["type"].map(TYPE_COLOURS).fillna(TYPE_COLOURS["other"])})
    types = [kind for kind in SERVICE_TYPES if kind in set(counted["type"])]
    png = choropleth_png(data.lsoas, choropleth.colours, choropleth.legend, "Gap", OGL_TEXT, points,
                         [LegendEntry(TYPE_COLOURS[kind], SERVICE_TYPES[kind]) for kind in types], "Services")
    outreach = outreach_csv(result).head(TOP_AREAS)
    rows = tuple(
        (r["Area"], r["LSOA code"], f"{r['Children 0-17']:,}", f"{r['Expected']:.1f}", _count_cell(r["Observed"]),
         "" if pd.isna(r["Gap (expected - observed)"]) else f"{r['Gap (expected - observed)']:.1f}",
         r["Nearest service"], f"{r['Distance (miles, straight line)']:.2f}", r["Gap flag"])
        for _, r in outreach.iterrows()
    )
    blocks = (
        Paragraph(
            f"{count_text(len(flagged))} of {data.council}'s {len(result.areas)} LSOAs are flagged: significantly "
            f"fewer episodes than expected from their children and deprivation, and no counted service within "
            f"{miles:g} mile{'s' if miles != 1 else ''} (straight line). "
            f"{int(flagged['children'].fillna(0).sum()):,} children aged 0-17 live in them."
        ),
        Figure(png, f"Coverage gaps for {_need_title(need_key)}, by LSOA (2011), referrals {_day(choices.start)} to "
               f"{_day(choices.end)}; circles are the {len(counted)} services counted, from {inputs.label}. "
               f"{' '.join(result.notes)} {OGL_TEXT}",
               f"Map of {data.council}'s LSOAs coloured by coverage gap, with the services as circles."),
        Table(("Area", "LSOA code", "Children 0-17", "Expected", "Observed", "Gap", "Nearest service",
               "Miles", "Flag"), rows, count_columns=("Observed",),
              caption=f"Outreach list: the first {len(rows)} LSOAs",
              notes=("Ranked: flagged areas first, then by gap (expected minus observed); areas whose count is "
                     "hidden follow by expected demand, so their place cannot reveal the count.",
                     result.straight_line_note, result.suppression_note)),
    )
    need = _need_title(need_key)
    highlight = (f"{need[0].upper()}{need[1:]}: {len(flagged)} LSOA(s) flagged for outreach (fewer "
                 f"episodes than expected and no service within {miles:g} mile{'s' if miles != 1 else ''}), home to "
                 f"{int(flagged['children'].fillna(0).sum()):,} children." if len(flagged) else
                 f"{need[0].upper()}{need[1:]}: no LSOA is both below its expected episodes and far from a service.")
    return Section(title, blocks, (highlight,))


def _performance(chosen: pd.DataFrame, data: ReportData, choices: ReportChoices) -> Section:
    grouping = GROUPINGS[choices.by]
    label = MEASURES[choices.measure][0]
    blocks: list = []
    try:
        comparison = compare(chosen, choices.measure, choices.by, choices.adjusted, data.idaci_decile,
                             lsoa_to_locality=data.localities)
    except ValueError as error:
        blocks.append(Paragraph(f"No funnel plot: {error}"))
        comparison = None
    if comparison is not None:
        x_title = "Expected events for the case mix" if comparison.adjusted else "Closed episodes"
        y_title = "Observed / expected" if comparison.adjusted else label.capitalize()
        shown = comparison.points[comparison.points["shown"]]
        blocks.append(Figure(
            funnel_png(comparison.curve, shown, comparison.target, x_title, y_title),
            " ".join([f"{label.capitalize()} by {grouping.lower()}.", *comparison.notes, comparison.strata]).strip(),
            f"Funnel plot of the {label} of each {grouping.lower()} against its volume, with 95% and 99.8% limits.",
        ))
        blocks.append(Bullets(tuple(comparison.readings)))
        highlights = (_outside_limits(comparison, label, grouping),)
    else:
        highlights = ()
    table = outcome_table(chosen, choices.by, data.localities)
    rows = tuple(
        (str(r["group"]), _count_cell(r["episodes"]), _count_cell(r["closed"]),
         _share_cell(r["needs_met_pct"], r["needs_met_lower"], r["needs_met_upper"]),
         _count_cell(r["step_up"]), _share_cell(r["step_up_pct"], r["step_up_lower"], r["step_up_upper"]),
         _share_cell(r["disengaged_pct"], r["disengaged_lower"], r["disengaged_upper"]),
         _share_cell(r["rereferral_pct"], r["rereferral_lower"], r["rereferral_upper"]),
         "" if pd.isna(r["median_days"]) else f"{r['median_days']:.0f}")
        for _, r in table.shown.iterrows()
    )
    blocks.append(Table(
        (grouping, "Episodes", "Closed", "Needs met % (95% CI)", "Stepped up", "Step-up % (95% CI)",
         "Disengaged % (95% CI)", "Re-referred % (95% CI)", "Median days open"),
        rows, count_columns=("Episodes", "Closed", "Stepped up"), caption=f"Outcome measures by {grouping.lower()}",
        notes=tuple(table.notes),
    ))
    return Section(SECTIONS["performance"], tuple(blocks), highlights)


def _outside_limits(comparison: Comparison, label: str, grouping: str) -> str:
    """The comparison's key point: which groups lie outside the 95% limits, or that none does."""
    shown = comparison.points[comparison.points["shown"]]
    above = list(shown.loc[shown["position"].str.startswith("above"), "group"])
    below = list(shown.loc[shown["position"].str.startswith("below"), "group"])
    context = " for its case mix" if comparison.adjusted else ""
    if not above and not below:
        return f"{label.capitalize()}: every {grouping.lower()} shown is within the expected range{context}."
    parts = [f"higher than expected{context}: {', '.join(above)}" if above else "",
             f"lower than expected{context}: {', '.join(below)}" if below else ""]
    return f"{label.capitalize()} " + "; ".join(p for p in parts if p) + " (outside the 95% limits)."


def _trends(chosen: pd.DataFrame, choices: ReportChoices) -> Section:
    table = trend_table(chosen, choices.frequency, "none", pd.Timestamp(choices.start), pd.Timestamp(choices.end))
    png = trend_png(table, {"referrals": "Referrals", "open_caseload": "Open caseload (end of period)"},
                    choices.frequency.capitalize())
    shown = shown_trend_table(table)
    rows = tuple(
        (r["period"], _count_cell(r["referrals"]), _count_cell(r["open_caseload"]), _count_cell(r["closures"]),
         "" if pd.isna(r["needs_met_pct"]) else f"{r['needs_met_pct']:.1f}",
         "" if pd.isna(r["step_up_pct"]) else f"{r['step_up_pct']:.1f}")
        for _, r in shown.iterrows()
    )
    caption = (f"Referrals and open caseload per {choices.frequency}, episodes referred in the period. "
               "Hidden values (1 to 5) are gaps in the lines.")
    return Section(SECTIONS["trends"], (
        Figure(png, caption, f"Line chart of referrals and open caseload per {choices.frequency}."),
        Table((choices.frequency.capitalize(), "Referrals", "Open caseload", "Closures", "Needs met %", "Step-up %"),
              rows, count_columns=("Referrals", "Open caseload", "Closures"),
              notes=("Open caseload: episodes referred by the end of the period and not yet closed. Shares are of "
                     "the closures in the period.",)),
    ))


def _pounds(value: float) -> str:
    return f"£{value:,.0f}"


def _business_case(chosen: pd.DataFrame, choices: ReportChoices) -> Section:
    case = costs_avoided(chosen, choices.costs, choices.assumptions or None, choices.deflators, choices.price_year)
    outcomes = case.outcomes
    if outcomes.closed == 0:
        return Section(SECTIONS["business_case"], (Paragraph(NOTHING_TO_COST),), (NOTHING_TO_COST,))
    rows, hidden_line = [], False
    for line in case.lines.itertuples():
        base = count_text(int(line.base_count))
        hidden = base == SUPPRESSED
        hidden_line |= hidden
        estimate = [SUPPRESSED] * 2 if hidden else [
            f"{line.events_central:,.1f} ({line.events_low:,.1f} to {line.events_high:,.1f})",
            f"{_pounds(line.cost_central)} ({_pounds(line.cost_low)} to {_pounds(line.cost_high)})"]
        rows.append((line.title, f"{line.code}: {_pounds(line.unit_cost)} ({line.price_basis})",
                     f"{base} {line.base}", *estimate))
    blocks: list = [Paragraph(
        f"From {count_text(outcomes.closed)} closed episodes in the period, of which "
        f"{count_text(outcomes.step_ups)} stepped up to children's social care. Every figure is a low / central / "
        "high range, shown with the assumptions behind it; assumptions marked [assumption] have no published "
        "source and should be replaced with local evidence before the figures are relied on."
    )]
    total = case.total()
    if total and not hidden_line:
        blocks.append(Paragraph(f"Total costs likely avoided ({case.costs['price_basis'].iloc[0]} prices): "
                                f"{_pounds(total[1])} (range {_pounds(total[0])} to {_pounds(total[2])})."))
    elif hidden_line:
        blocks.append(Paragraph("No total is given: a line rests on a council count under 6, which is hidden."))
    blocks.append(Table(
        ("Cost line", "Unit cost (price year)", "Council count it starts from", "Events avoided: central (low to high)",
         "Costs avoided: central (low to high)"),
        tuple(rows), caption="Costs likely avoided", notes=tuple(case.notes),
    ))
    assumptions = case.assumptions()
    if choices.cut is not None:
        cut = cut_impact(chosen, choices.cut[0], choices.cut[1], choices.costs, choices.assumptions or None,
                         choices.deflators, choices.price_year)
        blocks += _cut_blocks(cut)
        assumptions = cut.assumptions()  # the same, and the practitioner cost per hour the cut is divided by
    blocks.append(Table(
        ("Assumption", "Low", "Central", "High", "Unit", "Basis"),
        tuple((a.assumption, f"{a.low:,.2f}".rstrip("0").rstrip("."), f"{a.central:,.2f}".rstrip("0").rstrip("."),
               f"{a.high:,.2f}".rstrip("0").rstrip("."), a.unit, a.basis) for a in assumptions.itertuples()),
        caption="Assumptions and unit costs behind these figures",
    ))
    blocks.append(Table(("Figure", "Source", "Caveat"), tuple(NATIONAL_REFERENCE),
                        caption="National reference figures (context only, not used above)"))
    if total and not hidden_line:
        highlight = (f"Costs likely avoided: {_pounds(total[1])} (range {_pounds(total[0])} to {_pounds(total[2])}) "
                     f"at {case.costs['price_basis'].iloc[0]} prices, on the assumptions listed with them.")
    else:
        highlight = ("Costs likely avoided are given per cost line, each in its own price year (see the business "
                     "case), on the assumptions listed with them.")
    return Section(SECTIONS["business_case"], tuple(blocks), (highlight,))


def _cut_blocks(cut: CutImpact) -> list:
    """What a cut to one service would likely cost elsewhere, as on the Business case page."""
    low, central, high = cut.episodes_lost
    per_low, per_central, per_high = cut.cost_per_episode
    rows = tuple((line.title, f"{line.code} ({line.price_basis})",
                  f"{_pounds(line.cost_central)} ({_pounds(line.cost_low)} to {_pounds(line.cost_high)})")
                 for line in cut.lines.itertuples())
    text = (f"What would a cut cost elsewhere? A cut of {_pounds(cut.amount)} a year to {cut.service} "
            f"({_count_cell(cut.service_episodes)} episodes in the period) pays for about {central:,.0f} episodes "
            f"(range {low:,.0f} to {high:,.0f}) at {_pounds(per_central)} an episode ({_pounds(per_low)} to "
            f"{_pounds(per_high)}).")
    total = cut.total()
    if total:
        text += (f" Likely extra costs elsewhere: {_pounds(total[1])} "
                 f"(range {_pounds(total[0])} to {_pounds(total[2])}).")
    return [Paragraph(text), Table(("Cost line", "Unit cost (price year)", "Likely extra cost: central (low to high)"),
                                   rows, caption=f"What a cut of {_pounds(cut.amount)} to {cut.service} would "
                                   "likely cost elsewhere", notes=tuple(cut.notes))]


def _sources(data: ReportData, choices: ReportChoices) -> Section:
    lsoa = boundary_set("lsoa11")
    rows = [
        ("Case data", "Your council's case-management export" if "demo" not in data.dataset_label.lower()
         else data.dataset_label, f"referrals {_day(choices.start)} to {_day(choices.end)}",
         "Not published. Identifiers pseudonymised, postcodes dropped after assigning each episode its LSOA."),
        (lsoa.title, lsoa.publisher, lsoa.vintage, f"{lsoa.licence}. {lsoa.attribution}"),
        (DIRECTORY_TITLE, "Office for National Statistics", DIRECTORY_VINTAGE, DIRECTORY_ATTRIBUTION),
    ]
    used = []
    if data.population is not None and "need_map" in choices.sections:
        used.append("population_mid2020")
    if data.idaci_decile is not None and "performance" in choices.sections and choices.adjusted:
        used.append("iod2019")
    for source_id in used:
        source = indicator_source(source_id)
        rows.append((source.title, source.publisher, source.vintage, f"{source.licence}. {source.attribution}"))
    if "business_case" in choices.sections:
        origin = "GMCA Unit Cost Database v1.4 (rows shipped with ehmap)" if choices.costs is None else \
            "Unit costs given by the council"
        rows.append((origin, "Greater Manchester Combined Authority" if choices.costs is None else data.council,
                     "v1.4" if choices.costs is None else "as given", f"Read from {UNIT_COSTS_FILE.name}"
                     if choices.costs is None else "As entered on the Business case page"))
    if "hotspots" in choices.sections and data.hotspot_areas is not None:
        areas = data.hotspot_areas
        rows.append((f"Areas for hot spots: {areas.title}", areas.source_note, "as declared in boundaries/",
                     "Office for National Statistics, Open Government Licence v3.0 (see the boundary and lookup "
                     "files named)"))
    if "coverage" in choices.sections and data.coverage is not None:
        rows.append(("Services file", data.coverage.label, "as given",
                     "Service sites and the needs they serve, as given by the council"))
    read, accepted, rejected = data.reconciliation
    return Section("Data sources, licences and methods", (
        Table(("Source", "Publisher", "Vintage", "Licence and attribution"), tuple(rows)),
        Paragraph(OGL_TEXT),
        Table(("Case export", "Rows"), (("Rows read", count_text(read)), ("Accepted", count_text(accepted)),
                                        ("Rejected (listed in the rejects report)", count_text(rejected))),
              count_columns=("Rows",)),
        Bullets((
            f"Small numbers: {SUPPRESSION_NOTE} {REPORT_RULE}",
            "Each episode is placed in the LSOA (2011) of its postcode, within its own council; rates are per "
            "1,000 children aged 0-17 (ONS mid-2020).",
            "Service comparisons use funnel plots (Spiegelhalter 2005) with 95% and 99.8% limits; with case-mix "
            "adjustment, each group's observed events are set against those expected by indirect standardisation.",
            f"Produced by ehmap {ehmap.__version__}; the data stayed on the machine that ran it.",
        )),
    ))


def build_report(data: ReportData, choices: ReportChoices, produced: dt.date | None = None) -> Report:
    """The paper for the chosen period and sections, checked to hold no count from 1 to 5."""
    if choices.by == "locality" and "performance" in choices.sections and data.localities is None:
        raise ValueError("Comparing by locality needs each LSOA's locality: give ReportData.localities.")
    chosen = CaseFilter(start=choices.start, end=choices.end).apply(data.cases)
    if chosen.empty:
        raise ValueError(f"No episode was referred between {choices.start} and {choices.end}.")
    sections = []
    if "need_map" in choices.sections:
        sections += [_need_map(data, choices, need) for need in dict.fromkeys(choices.needs)]
    if "hotspots" in choices.sections:
        sections += [_hotspots(data, choices, need) for need in dict.fromkeys(choices.needs)]
    if "coverage" in choices.sections:
        sections += [_coverage(data, choices, need) for need in dict.fromkeys(choices.needs)]
    if "performance" in choices.sections:
        sections.append(_performance(chosen, data, choices))
    if "trends" in choices.sections:
        sections.append(_trends(chosen, choices))
    if "business_case" in choices.sections:
        sections.append(_business_case(chosen, choices))
    highlights = tuple(point for section in sections for point in section.highlights)
    sections = [_summary(chosen, data, choices, highlights), *sections, _sources(data, choices)]
    produced = produced or dt.date.today()
    report = Report(
        title=f"Early Help in {data.council}: needs, reach and what works",
        subtitle=(f"Referrals {_day(choices.start)} to {_day(choices.end)}. Produced on {_day(produced)} "
                  f"with ehmap from {data.dataset_label}."),
        marking=choices.marking.strip(),
        produced=produced,
        sections=tuple(sections),
    )
    report.check_disclosure()
    return report


def report_data(result: IngestResult, council: str, dataset_label: str, by: str = "service",
                services: ServicesResult | None = None, services_label: str = "",
                hotspot_geography: str | None = "lsoa11") -> ReportData:
    """A paper's inputs read from the installed and configured reference data (the CLI's path; the app caches its own).

    A missing population or IoD2019 file, or no services, leaves that part out and the paper says so.
    """
    try:
        population = child_population()
    except SourceMissing:
        population = None
    try:
        idaci = idaci_deciles(load_on_lsoa11("iod2019"))
    except (SourceMissing, ValueError):
        idaci = None
    localities = area_set("ward", result.la_code).area_names() if by == "locality" else None
    lsoas = council_lsoas(result.la_code)
    reach = None
    if services is not None:
        centres = council_centres(lsoas, lsoa_centres())
        reach = CoverageInputs(services.services, services_label, centres, council_idaci(lsoas["lsoa11cd"])[0])
    hot = area_set(hotspot_geography, result.la_code) if hotspot_geography else None
    return ReportData(result.cases, result.la_code, council, dataset_label,
                      (result.rows_read, result.accepted, result.rejected), lsoas, population, idaci, localities,
                      reach, hot)
