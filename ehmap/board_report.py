"""The board report: one period's need maps, hot spots, service coverage, service comparison, trends and
business case, with their sources and methods, as one paper, for either audience.

A paper that leaves the team (the *release* audience: a board, a budget meeting, partners) is built from the
release gate only, for a fixed period: every count is the release's, and the paper says how it was protected and
refuses to render a count the release would not show. A *team* paper holds the team's exact figures and says on
every page that it is not for sharing. Every section is built from the same views as the pages (`ehmap.views`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

import ehmap
from ehmap.areas import AreaSet, area_set
from ehmap.audience import TEAM_MARKING, Audience
from ehmap.business_case import (
    NATIONAL_REFERENCE,
    PHASE1_BENEFIT_PER_FAMILY,
    PHASE1_COST_PER_FAMILY,
    UNIT_COSTS_FILE,
    Assumption,
    PricedTotal,
    money,
    money_short,
)
from ehmap.catalogue import boundary_set, indicator_source
from ehmap.charts import choropleth_png, funnel_png, trend_png
from ehmap.context import idaci_deciles, load_on_lsoa11
from ehmap.coverage import (
    MILE_M,
    TYPE_COLOURS,
    DistanceBands,
    council_centres,
    council_idaci,
    gap_choropleth,
    lsoa_centres,
)
from ehmap.geocode import DIRECTORY_ATTRIBUTION, DIRECTORY_TITLE, DIRECTORY_VINTAGE
from ehmap.geography import council_lsoas
from ehmap.hotspots import label_choropleth
from ehmap.indicators import SourceMissing, child_population
from ehmap.ingest import IngestResult
from ehmap.lsoa21 import children_on
from ehmap.maps import OGL_ATTRIBUTION, LegendEntry, classify
from ehmap.performance import GROUPINGS, MEASURES
from ehmap.release.gate import Release
from ehmap.release.protect import HIDDEN, NOT_AVAILABLE
from ehmap.release.tables import fixed_period, method_statement, need_title
from ehmap.release.universe import COUNCIL
from ehmap.report import Bullets, Figure, Paragraph, Report, Section, Table
from ehmap.services import SERVICE_TYPES, ServicesResult
from ehmap.taxonomy import NEEDS
from ehmap.trends import FREQUENCIES
from ehmap.views import AreaView
from ehmap.views.business_case import BusinessCaseView, released_business_case, team_business_case
from ehmap.views.coverage import CoverageView, released_coverage, team_coverage
from ehmap.views.hotspots import HotspotView, released_hotspots, team_hotspots
from ehmap.views.need_map import EPISODES, RATE, SMOOTHED, released_need_map, team_need_map
from ehmap.views.performance import PerformanceView, released_performance, team_performance
from ehmap.views.trends import TrendView, released_trends, team_trends

SECTIONS = {
    "need_map": "Where needs are",
    "hotspots": "Hot spots",
    "coverage": "Service coverage",
    "performance": "Which services help most",
    "trends": "Trends",
    "business_case": "Business case",
}
TOP_AREAS = 10
OGL_TEXT = OGL_ATTRIBUTION.replace("&copy;", "©")
TEAM_PAPER = "TEAM PAPER: EXACT FIGURES, NOT FOR SHARING"


@dataclass(frozen=True)
class CoverageInputs:
    """What the coverage section needs beside the episodes: the services and where the council's LSOAs are."""

    services: pd.DataFrame  # `ehmap.services.ServicesResult.services`
    label: str  # where the services came from, e.g. the file name
    centres: pd.DataFrame  # `ehmap.coverage.council_centres`
    idaci: pd.DataFrame | None = None  # `ehmap.coverage.council_idaci` (None: demand from children alone)


@dataclass(frozen=True)
class ReportData:
    """What a paper is made from: one council's accepted episodes, its areas and reference tables, and (for a paper
    that leaves the team) the dataset's release."""

    cases: pd.DataFrame
    la_code: str
    council: str
    dataset_label: str
    reconciliation: tuple[int, int, int]  # rows read, accepted, rejected
    lsoas: AreaSet  # the council's LSOAs (2011)
    population: pd.DataFrame | None = None  # lsoa11cd, children
    idaci_decile: pd.Series | None = None  # lsoa11cd -> national IDACI decile (case-mix strata)
    localities: pd.Series | None = None  # lsoa11cd -> locality name (only for the team's comparison by locality)
    coverage: CoverageInputs | None = None  # services and LSOA centres (only for the coverage section)
    hotspot_areas: AreaSet | None = None  # the areas the team's hot spots are tested on (LSOAs or wards)
    release: Release | None = None  # the dataset's release (needed for a released paper)


@dataclass(frozen=True)
class ReportChoices:
    """What the paper covers: who it is for, its period, its sections and the options of each.

    A released paper covers a fixed `period` (a financial year or 'all'); a team paper any `start` to `end`."""

    start: dt.date | None = None
    end: dt.date | None = None
    audience: Audience = Audience.RELEASE
    period: str | None = None
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
        if self.measure not in MEASURES:
            raise ValueError(f"Unknown measure '{self.measure}'; choose from {list(MEASURES)}.")
        if self.by not in GROUPINGS:
            raise ValueError(f"Unknown grouping '{self.by}'; choose from {list(GROUPINGS)}.")
        known = {need.key for need in NEEDS}
        if any(need is not None and need not in known for need in self.needs):
            raise ValueError(f"Unknown need in {list(self.needs)}; choose from {sorted(known)} (or None for all).")
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"Unknown frequency '{self.frequency}'; choose from {list(FREQUENCIES)}.")
        if self.audience is Audience.RELEASE and self.period is None:
            raise ValueError("A paper that leaves the team covers a financial year or all years: give the period.")
        if self.audience is Audience.TEAM and (self.start is None or self.end is None):
            raise ValueError("A team paper needs the first and last referral dates it covers.")

    @property
    def released(self) -> bool:
        return self.audience is Audience.RELEASE


def _day(date: dt.date) -> str:
    """A date as GOV.UK writes it: 1 April 2022."""
    return f"{date.day} {date:%B %Y}"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class _Period:
    """The dates a paper covers and how it names them."""

    start: dt.date
    end: dt.date
    key: str | None  # the release's period key (released papers)

    @property
    def words(self) -> str:
        return f"referrals {_day(self.start)} to {_day(self.end)}"


def _period(data: ReportData, choices: ReportChoices) -> _Period:
    if choices.released:
        if data.release is None:
            raise ValueError("A paper that leaves the team is built from the dataset's release: "
                             "give ReportData.release.")
        chosen = fixed_period(data.release, choices.period)
        return _Period(chosen.start, chosen.end, chosen.key)
    return _Period(choices.start, choices.end, None)


def _cell(value: object) -> str:
    """A count for a table cell: thousands separated; 'c' where hidden, 'x' where not released."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value) in (HIDDEN, ""):
        return HIDDEN
    if str(value) == NOT_AVAILABLE:
        return NOT_AVAILABLE
    return f"{int(float(str(value).replace(',', ''))):,}"


# --------------------------------------------------------------------------- sections


def _summary(data: ReportData, choices: ReportChoices, period: _Period, highlights: tuple[str, ...]) -> Section:
    if choices.released:
        release, key = data.release, period.key
        owner = ("outcome", COUNCIL, "")
        counts = tuple((title, _cell(text)) for title, text in (
            ("Episodes referred", release.council_count(None, key)),
            ("Episodes closed so far", release.text((*owner, "closed", key))),
            ("Closed with needs met", release.text((*owner, "needs_met", key))),
            ("Stepped up to children's social care", release.text((*owner, "step_up_csc", key)))))
        shares = tuple((title, "" if pd.isna(pct) else f"{pct:.0f}%") for title, pct in (
            ("Needs met", release.share((*owner, "needs_met", key), (*owner, "closed", key))),
            ("Stepped up to children's social care", release.share((*owner, "step_up_csc", key),
                                                                    (*owner, "closed", key)))))
    else:
        chosen = data.cases[(data.cases["referral_date"] >= pd.Timestamp(period.start))
                            & (data.cases["referral_date"] <= pd.Timestamp(period.end))]
        closed = chosen["end_date"].notna()
        outcome = chosen["outcome"].astype(object)
        counts = (("Episodes referred", f"{len(chosen):,}"), ("Episodes closed so far", f"{int(closed.sum()):,}"),
                  ("Closed with needs met", f"{int((outcome == 'needs_met').sum()):,}"),
                  ("Stepped up to children's social care", f"{int((outcome == 'step_up_csc').sum()):,}"))
        shares = tuple((title, f"{100 * (outcome == key).sum() / closed.sum():.1f}%" if closed.any() else "")
                       for title, key in (("Needs met", "needs_met"),
                                          ("Stepped up to children's social care", "step_up_csc")))
    chosen_titles = ", ".join(SECTIONS[s].lower() for s in choices.sections) or "the headline figures only"
    intro = Paragraph(
        f"Early Help episodes in {data.council}, {period.words}. This paper covers {chosen_titles}. Figures come "
        f"from {data.dataset_label}; outcomes of episodes still open are not yet known."
        + (" The figures are released figures: protected so the paper can be shared (see Data sources and "
           "methods)." if choices.released else f" {TEAM_MARKING}")
    )
    key_points = (Paragraph("Key points"), Bullets(highlights)) if highlights else ()
    return Section("Summary", (
        intro, *key_points,
        Table(("Episodes", "Count"), counts, count_columns=("Count",)),
        Table(("Of the closed episodes", "Share"), shares),
    ))


def _area_map_figure(view: AreaView, title: str, caption: str, alt: str) -> Figure:
    geometry = view.areas.areas[["code", "geometry"]].merge(view.table, on="code")
    choropleth = classify(geometry["value"], geometry["episodes"].astype(str), decimals=view.decimals,
                          hidden_label="c: hidden")
    png = choropleth_png(gpd.GeoDataFrame(geometry, geometry="geometry", crs=view.areas.areas.crs),
                         choropleth.colours, choropleth.legend, title, OGL_TEXT)
    return Figure(png, caption, alt)


def _need_map(data: ReportData, choices: ReportChoices, period: _Period, need: str | None) -> Section:
    has_rates = data.population is not None
    if choices.released:
        view = released_need_map(data.release, need, period.key, RATE if has_rates else EPISODES, data.population)
        measure = "episodes per 1,000 children aged 0-17 (from the rounded counts)" if has_rates else "episodes"
    else:
        view = team_need_map(data.cases, data.lsoas, need, period.start, period.end, None,
                             SMOOTHED if has_rates else EPISODES, data.population)
        measure = ("episodes per 1,000 children aged 0-17, smoothed by empirical Bayes towards the council rate"
                   if has_rates else "episodes")
    title = need_title(need)
    geography = view.areas.title
    figure = _area_map_figure(
        view, "Per 1,000 children" if has_rates else "Episodes",
        f"{title}: {measure}, by {geography}, {period.words}. British National Grid. {' '.join(view.notes)} "
        f"{OGL_TEXT}", f"Map of {data.council}'s {len(view.table)} areas ({geography}) shaded by {measure}.")
    ranked = view.table.dropna(subset=["value"]).sort_values(["value", "code"], ascending=[False, True])
    ranked = ranked.head(TOP_AREAS)
    rate_column = "smoothed_rate" if not choices.released and has_rates else "rate"
    rows = tuple((str(r["name"]), str(r["code"]), _cell(r["episodes"]),
                  f"{r[rate_column]:.1f}" if has_rates and pd.notna(r[rate_column]) else "")
                 for _, r in ranked.iterrows())
    blocks = [Paragraph(f"{view.council_total} episodes referred in the period"
                        + ("" if need is None else f" recorded the need '{title}'")
                        + f", across {data.council}'s {len(view.table)} areas ({geography})."), figure,
              Table((geography, "Code", "Episodes", "Rate per 1,000" if has_rates else ""), rows,
                    count_columns=("Episodes",), caption=f"The {len(rows)} areas with the highest values")]
    highlight = ()
    if len(ranked):
        names = ", ".join(ranked["name"].head(3))
        highlight = (f"{_sentence_case(title)}: highest in {names} ({measure}).",)
    return Section(f"{SECTIONS['need_map']}: {title}", tuple(blocks), highlight)


def _hotspots(data: ReportData, choices: ReportChoices, period: _Period, need: str | None) -> Section:
    title = need_title(need)
    heading = f"{SECTIONS['hotspots']}: {title}"
    if data.population is None:
        return Section(heading, (Paragraph("Not shown: hot spots need the child population file."),))
    if choices.released:
        view: HotspotView = released_hotspots(data.release, data.cases, need, period.key, data.population, "gi_star")
    else:
        if data.hotspot_areas is None:
            return Section(heading, (Paragraph("Not shown: hot spots need the areas to test."),))
        children = children_on(data.hotspot_areas.kind, data.population)  # carried onto LSOA 2021 when tested there
        view = team_hotspots(data.cases, data.hotspot_areas, need, period.start, period.end, children,
                             "smoothed_rate", "gi_star")
    credit = view.areas.attribution  # the boundaries drawn, with their own year
    choropleth = label_choropleth(view.table["label"])
    geometry = view.areas.areas[["code", "geometry"]].merge(view.table[["code", "label"]], on="code")
    png = choropleth_png(gpd.GeoDataFrame(geometry, geometry="geometry", crs=view.areas.areas.crs),
                         label_choropleth(geometry["label"]).colours, choropleth.legend, "Getis-Ord Gi*", credit)
    blocks: list = [Figure(
        png, f"Hot and cold spots of {title.lower()}: Getis-Ord Gi* on smoothed rates per 1,000 children, by "
        f"{view.areas.title}, {period.words}. {view.explanation} {' '.join(view.notes)} {credit}",
        f"Map of {data.council}'s areas ({view.areas.title}) coloured by hot spot result.")]
    hot = view.hot
    if hot.empty:
        blocks.append(Paragraph(
            f"No area is a significant hot spot of {title.lower()} after correcting for multiple testing; without "
            f"the correction, {view.uncorrected} of {len(view.table)} areas would have looked significant at 95% "
            "(by chance alone, about 1 in 20 would)."))
        highlight = f"{_sentence_case(title)}: no significant hot spot after correcting for multiple testing."
    else:
        rows = tuple((str(r["name"]), str(r["code"]), _cell(r["episodes"]), str(r["label"]))
                     for _, r in hot.head(TOP_AREAS).iterrows())
        blocks.append(Table(("Area", "Code", "Episodes", "Result"), rows, count_columns=("Episodes",),
                            caption=f"Significant hot spots ({len(hot)})"))
        highlight = (f"{_sentence_case(title)}: {len(hot)} significant hot spot(s) after correcting for multiple "
                     f"testing, led by {', '.join(hot['name'].head(3))}.")
    return Section(heading, tuple(blocks), (highlight,))


def _coverage(data: ReportData, choices: ReportChoices, period: _Period, need: str | None) -> Section:
    title = f"{SECTIONS['coverage']}: {need_title(need)}"
    if data.coverage is None or data.population is None:
        missing = "a services file (upload one on Service coverage, or give --services)" \
            if data.coverage is None else "the child population file"
        return Section(title, (Paragraph(f"Not shown: coverage needs {missing}."),))
    inputs = data.coverage
    bands = DistanceBands()
    if choices.released:
        view: CoverageView = released_coverage(data.release, data.cases, inputs.centres, inputs.services,
                                               data.population, inputs.idaci, need, None, bands, bands.miles[0],
                                               period.key)
    else:
        view = team_coverage(data.cases, inputs.centres, inputs.services, data.population, inputs.idaci, need, None,
                             bands, bands.miles[0], period.start, period.end)
    result = view.result
    flagged = result.flagged
    miles = result.poor_access_m / MILE_M
    choropleth = gap_choropleth(result)
    counted = result.services
    points = pd.DataFrame({"easting": counted["easting"], "northing": counted["northing"],
                           "colour": counted["type"].map(TYPE_COLOURS).fillna(TYPE_COLOURS["other"])})
    types = [kind for kind in SERVICE_TYPES if kind in set(counted["type"])]
    lsoas = data.lsoas.areas.merge(result.areas[["lsoa11cd"]], left_on="code", right_on="lsoa11cd")
    png = choropleth_png(lsoas, choropleth.colours.to_numpy(), choropleth.legend, "Gap", OGL_TEXT, points,
                         [LegendEntry(TYPE_COLOURS[kind], SERVICE_TYPES[kind]) for kind in types], "Services")
    outreach = view.outreach.head(TOP_AREAS)
    keep = [c for c in ("Rank", "Area", "LSOA code", "Children 0-17", "Episodes", "Observed", "Expected",
                        "Nearest service", "Distance (miles, straight line)", "Gap flag") if c in outreach]
    rows = tuple(tuple(_outreach_cell(column, row[column]) for column in keep) for _, row in outreach.iterrows())
    counts = tuple(c for c in ("Episodes", "Observed") if c in keep)
    children = int(flagged["children"].fillna(0).sum())
    blocks = (
        Paragraph(f"{len(flagged)} of {data.council}'s {len(result.areas)} LSOAs are flagged: significantly fewer "
                  f"episodes than expected from their children and deprivation, and no counted service within "
                  f"{miles:g} mile{'s' if miles != 1 else ''} (straight line). {children:,} children aged 0-17 "
                  "live in them."),
        Figure(png, f"Coverage gaps for {need_title(need).lower()}, by LSOA (2011), {period.words}; circles are the "
               f"{len(counted)} services counted, from {inputs.label}. {' '.join([*result.notes, *view.notes])} "
               f"{OGL_TEXT}", f"Map of {data.council}'s LSOAs coloured by coverage gap, with the services as circles."),
        Table(tuple(keep), rows, count_columns=counts, caption=f"Outreach list: the first {len(rows)} LSOAs",
              notes=(result.straight_line_note,)),
    )
    highlight = (f"{need_title(need)}: {len(flagged)} LSOA(s) flagged for outreach, home to {children:,} children."
                 if len(flagged) else f"{need_title(need)}: no LSOA is both below its expected episodes and far from "
                                      "a service.")
    return Section(title, blocks, (highlight,))


def _outreach_cell(column: str, value: object) -> str:
    if column in ("Episodes", "Observed"):
        return _cell(value) if value != "" else ""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:,.2f}" if "Distance" in column else f"{value:,.1f}"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _performance(data: ReportData, choices: ReportChoices, period: _Period) -> Section:
    if choices.released:
        view: PerformanceView = released_performance(data.release, data.cases, choices.by, period.key,
                                                     choices.measure, choices.adjusted, data.idaci_decile)
    else:
        view = team_performance(data.cases, choices.by, choices.measure, choices.adjusted, period.start, period.end,
                                data.idaci_decile, lsoa_to_locality=data.localities)
    blocks: list = [Paragraph(view.reading or view.finding)]
    chart = view.funnel
    if chart is not None and chart.curve is not None:
        points = chart.points.rename(columns={"x": "volume", "y": "value"}).dropna(subset=["volume", "value"])
        blocks.append(Figure(funnel_png(chart.curve, points, chart.target, chart.x_title, chart.y_title,
                                        share=chart.share),
                             " ".join(chart.notes), f"Funnel plot of each {GROUPINGS[choices.by].lower()} against "
                             "its volume, with 95% and 99.8% limits."))
    table = view.table
    step_up = "step_up_csc_pct" if "step_up_csc_pct" in table else "step_up_pct"
    rows = tuple((str(r["group"]), _cell(r["episodes"]), _cell(r["closed"]),
                  *(_percent(r.get(column)) for column in ("needs_met_pct", step_up, "disengaged_pct",
                                                            "rereferral_pct")))
                 for _, r in table.iterrows())
    blocks.append(Table((GROUPINGS[choices.by], "Episodes", "Closed", "Needs met %", "Stepped up %", "Disengaged %",
                         "Re-referred %"), rows, count_columns=("Episodes", "Closed"),
                        caption=f"Outcomes by {GROUPINGS[choices.by].lower()} (shares of closed episodes)",
                        notes=view.notes))
    if view.categories:  # every closure category, declined and disengaged included, adding up to the closed
        blocks.append(Paragraph(view.categories))
    return Section(SECTIONS["performance"], tuple(blocks), (view.reading or view.finding,))


def _percent(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.0f}"


def _trends(data: ReportData, choices: ReportChoices, period: _Period) -> Section:
    if choices.released:
        view: TrendView = released_trends(data.release, "none", period.key, data.cases["referral_date"].max().date())
    else:
        view = team_trends(data.cases, choices.frequency, "none", period.start, period.end)
    table = view.table
    png = trend_png(table, {"referrals": "Referrals", "open_caseload": "Open caseload (end of period)"},
                    view.frequency.capitalize())
    rows = tuple((str(r["period"]), _cell(r["referrals"]), _cell(r["open_caseload"]), _cell(r["closures"]),
                  "" if pd.isna(r["needs_met_pct"]) else f"{r['needs_met_pct']:.0f}",
                  "" if pd.isna(r["step_up_pct"]) else f"{r['step_up_pct']:.0f}")
                 for _, r in table.iterrows())
    return Section(SECTIONS["trends"], (
        Paragraph(view.finding),
        Figure(png, f"Referrals and open caseload per {view.frequency}. Hidden values are gaps in the lines.",
               f"Line chart of referrals and open caseload per {view.frequency}."),
        Table((view.frequency.capitalize(), "Referrals", "Open caseload", "Closures", "Needs met %", "Step-up %"),
              rows, count_columns=("Referrals", "Open caseload", "Closures"), notes=view.notes),
    ), (view.finding,))


def _priced(total: PricedTotal | None, what: str) -> str:
    """'what: about £1.2m (range £140,000 to £3.0m) at 2013/14 prices; caveats.' (blank when nothing is shown)."""
    if total is None:
        return ""
    return (f"{what}: about {money_short(total.central)} (range {money_short(total.low)} to "
            f"{money_short(total.high)}) at {total.year} prices" + "".join(f"; {c}" for c in total.caveats()) + ".")


def _business_case(data: ReportData, choices: ReportChoices, period: _Period) -> Section:
    options = dict(costs=choices.costs, assumptions=choices.assumptions or None, deflators=choices.deflators,
                   year=choices.price_year, cut=choices.cut)
    if choices.released:
        view: BusinessCaseView = released_business_case(data.release, period.key, **options)
    else:
        view = team_business_case(data.cases, period.start, period.end, **options)
    blocks: list = [Paragraph(view.finding)]
    blocks.append(Table(("Council count", "Value"), tuple((r["title"], _cell(r["shown"]))
                                                          for _, r in view.counts.iterrows()),
                        count_columns=("Value",), caption="The council counts the estimates start from"))
    if view.case is not None:
        lines = view.case.lines
        total = _priced(view.headline(), "Total costs likely avoided")
        if total:
            blocks.append(Paragraph(total))
        blocks.append(Table(
            ("Cost line", "Unit cost (price year)", "Costs avoided: central (low to high)"),
            tuple((line.title, f"{line.code}: {money(line.unit_cost)} ({line.price_basis})",
                   f"{money(line.cost_central)} ({money(line.cost_low)} to {money(line.cost_high)})")
                  for line in lines.itertuples()),
            caption="Costs likely avoided", notes=tuple(view.case.notes)))
        assumptions = view.case.assumptions() if view.cut is None else view.cut.assumptions()
        blocks.append(Table(
            ("Assumption", "Low", "Central", "High", "Unit", "Basis"),
            tuple((a.assumption, f"{a.low:,.2f}".rstrip("0").rstrip("."), f"{a.central:,.2f}".rstrip("0").rstrip("."),
                   f"{a.high:,.2f}".rstrip("0").rstrip("."), a.unit, a.basis) for a in assumptions.itertuples()),
            caption="Assumptions and unit costs behind these figures"))
    if view.cut is not None:
        cut = view.cut
        low, central, high = cut.episodes_lost
        shifted = _priced(view.shifted(), f"Likely extra costs elsewhere over {cut.horizon} years")
        blocks.append(Paragraph(
            f"What would a cut cost elsewhere? A cut of {money(cut.amount)} a year to {cut.service} "
            f"({_cell(cut.service_episodes)} episodes in the period) pays for about {central:,.0f} episodes a year "
            f"(range {low:,.0f} to {high:,.0f}). Over {cut.horizon} years it saves {money(cut.saved)}. {shifted} "
            f"For comparison, on the national Phase 1 averages (DCLG 2015, contested: {money(PHASE1_COST_PER_FAMILY)} "
            f"intervention cost and {money(PHASE1_BENEFIT_PER_FAMILY)} benefit per family) that much support would "
            f"bring about {money_short(cut.national_benefit)} of benefit; the often-quoted £2.28 per £1 is unverified "
            "and not used."))
        blocks.append(Table(("Cost line", "Unit cost (price year)", "Likely extra cost a year: central (low to high)"),
                            tuple((line.title, f"{line.code} ({line.price_basis})",
                                   f"{money(line.cost_central)} ({money(line.cost_low)} to "
                                   f"{money(line.cost_high)})") for line in cut.lines.itertuples()),
                            caption=f"What a cut of {money(cut.amount)} to {cut.service} would likely cost elsewhere",
                            notes=tuple(cut.notes)))
    blocks.append(Table(("Figure", "Source", "Caveat"), tuple(NATIONAL_REFERENCE),
                        caption="National reference figures (context only, not used above)"))
    return Section(SECTIONS["business_case"], tuple(blocks), (view.finding,))


def _sources(data: ReportData, choices: ReportChoices, period: _Period) -> Section:
    lsoa = boundary_set("lsoa11")
    rows = [
        ("Case data", "Your council's case-management export" if "demo" not in data.dataset_label.lower()
         else data.dataset_label, period.words,
         "Not published. Identifiers pseudonymised, postcodes dropped after assigning each episode its LSOA."),
        (lsoa.title, lsoa.publisher, lsoa.vintage, f"{lsoa.licence}. {lsoa.attribution}"),
        (DIRECTORY_TITLE, "Office for National Statistics", DIRECTORY_VINTAGE, DIRECTORY_ATTRIBUTION),
    ]
    used = []
    if data.population is not None:
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
    if "coverage" in choices.sections and data.coverage is not None:
        rows.append(("Services file", data.coverage.label, "as given",
                     "Service sites and the needs they serve, as given by the council"))
    blocks: list = [Table(("Source", "Publisher", "Vintage", "Licence and attribution"), tuple(rows)),
                    Paragraph(OGL_TEXT)]
    if choices.released:
        blocks.append(Paragraph(method_statement(data.release)))
    else:
        read, accepted, rejected = data.reconciliation
        blocks.append(Table(("Case export", "Rows"), (("Rows read", f"{read:,}"), ("Accepted", f"{accepted:,}"),
                                                      ("Rejected (listed in the rejects report)", f"{rejected:,}"))))
        blocks.append(Paragraph(TEAM_MARKING))
    blocks.append(Bullets((
        "Each episode is placed in the LSOA (2011) of its postcode, within its own council; rates are per 1,000 "
        "children aged 0-17 (ONS mid-2020).",
        "Service comparisons use funnel plots (Spiegelhalter 2005) with 95% and 99.8% limits; with case-mix "
        "adjustment, each group's observed events are set against those expected by indirect standardisation.",
        f"Produced by ehmap {ehmap.__version__}; the data stayed on the machine that ran it.",
    )))
    return Section("Data sources, licences and methods", tuple(blocks))


def build_report(data: ReportData, choices: ReportChoices, produced: dt.date | None = None) -> Report:
    """The paper for the chosen audience, period and sections (a released paper is checked cell by cell)."""
    if choices.by == "locality" and "performance" in choices.sections:
        if choices.released:
            raise ValueError("Shared papers compare services or referral sources; by locality is for the team.")
        if data.localities is None:
            raise ValueError("Comparing by locality needs each LSOA's locality: give ReportData.localities.")
    period = _period(data, choices)
    referred = data.cases["referral_date"]
    if not ((referred >= pd.Timestamp(period.start)) & (referred <= pd.Timestamp(period.end))).any():
        raise ValueError(f"No episode was referred between {period.start} and {period.end}.")
    sections = []
    needs = list(dict.fromkeys(choices.needs))
    builders = {"need_map": _need_map, "hotspots": _hotspots, "coverage": _coverage}
    for key, build in builders.items():
        if key in choices.sections:
            sections += [build(data, choices, period, need) for need in needs]
    for key, build in (("performance", _performance), ("trends", _trends), ("business_case", _business_case)):
        if key in choices.sections:
            sections.append(build(data, choices, period))
    highlights = tuple(point for section in sections for point in section.highlights)
    sections = [_summary(data, choices, period, highlights), *sections, _sources(data, choices, period)]
    produced = produced or dt.date.today()
    marking = choices.marking.strip()
    report = Report(
        title=f"Early Help in {data.council}: needs, reach and what works",
        subtitle=f"{_sentence_case(period.words)}. Produced on {_day(produced)} with ehmap from {data.dataset_label}.",
        marking=marking if choices.released else f"{marking} · {TEAM_PAPER}".strip(" ·"),
        produced=produced,
        sections=tuple(sections),
        released=choices.released,
    )
    report.check_disclosure()
    return report


def report_data(result: IngestResult, council: str, dataset_label: str, by: str = "service",
                services: ServicesResult | None = None, services_label: str = "",
                hotspot_geography: str | None = "lsoa11", release: Release | None = None) -> ReportData:
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
                      (result.rows_read, result.accepted, result.rejected), area_set("lsoa11", result.la_code),
                      population, idaci, localities, reach, hot, release)
