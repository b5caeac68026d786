"""Deprivation and population context for a council's LSOAs: the joined table, need x deprivation, poverty.

Every indicator is put on LSOA 2011 (the map's geography) and joined on the LSOA code, never on a
LAD code (IoD2019 carries 2019 LAD codes; Buckinghamshire E06000060 did not exist then). Tables
returned here that hold case counts are the team's exact figures (small counts flagged, not hidden); shared
views are read from the release gate (`ehmap.views.context`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ehmap.audience import SMALL_FLAG, small
from ehmap.catalogue import IndicatorSource, indicator_source
from ehmap.indicators import SourceMissing, child_population, deprivation, read_indicator
from ehmap.maps import NO_DATA_COLOUR, Choropleth, LegendEntry
from ehmap.needmap import CaseFilter, need_map_table, rates, with_need_figures
from ehmap.taxonomy import NEED_BITS, NEED_BY_KEY, NEEDS
from ehmap.vintages import carry_to_lsoa11

if TYPE_CHECKING:
    from ehmap.areas import AreaSet

DEPRIVATION_SOURCES = ("iod2025", "iod2019")
POVERTY_NEEDS = ("financial_stability", "housing")
MOST_DEPRIVED_FIFTH = 2  # national deciles 1 and 2: the most deprived 20% of LSOAs in England
TREND_WARNING = (
    "IoD2019 and IoD2025 are shown side by side, not as a change: the indicators, their sources and the "
    "LSOA geography changed between the two, so a different rank is not evidence of a trend."
)
# 3x3 need x deprivation: need runs from light grey to blue, deprivation to olive brown, both high to near black.
# Any two cells (and the hidden grey) differ by CIEDE2000 >= 13 under protan, deutan and tritan simulation
# (tests/test_palettes.py). Key: (need tertile, deprivation tertile), 1 = low.
BIVARIATE_PALETTE = {
    (1, 1): "#f9f9f9",
    (1, 2): "#bdac7f",
    (1, 3): "#7b6500",
    (2, 1): "#a7c6ea",
    (2, 2): "#7d8077",
    (2, 3): "#494010",
    (3, 1): "#3b96da",
    (3, 2): "#36566e",
    (3, 3): "#1a1e11",
}
HIDDEN_COLOUR = "#bdbdbd"
# A purple ramp, decile 1 (most deprived) darkest: adjacent deciles differ by CIEDE2000 >= 8, and every decile from
# the white of "no value" by >= 8, under protan, deutan and tritan simulation (tests/test_palettes.py).
DECILE_PALETTE = (
    "#1a0c1b",
    "#3c1247",
    "#5e1476",
    "#801ca2",
    "#9e30c7",
    "#b84ee4",
    "#cd70f6",
    "#de96fe",
    "#e9bcfd",
    "#f1e2f7",
)
CLASS_PALETTE = ("#1a0c1b", "#5e1476", "#9e30c7", "#cd70f6", "#e9bcfd")  # 5 classes, dark = most deprived / largest
TERTILE_NAMES = {1: "low", 2: "middle", 3: "high"}


@dataclass(frozen=True)
class ContextColumn:
    """One column of the joined table: which source and indicator it is, and how to read it."""

    source_id: str
    column_id: str
    title: str  # e.g. 'IMD score (IoD 2019)'
    polarity: str
    vintage: str


@dataclass(frozen=True)
class OnLsoa11:
    """An indicator source's values on LSOA 2011 (`lsoa11cd` + column ids), with how they got there."""

    source: IndicatorSource
    values: pd.DataFrame
    note: str = ""  # method note when values were carried from another geography


@dataclass(frozen=True)
class ContextTable:
    """A council's LSOAs with indicator values and child population, plus what each column is."""

    areas: pd.DataFrame  # lsoa11cd, lsoa11nm, <source>_<column>..., children, all_ages
    columns: dict[str, ContextColumn]
    notes: list[str] = field(default_factory=list)


def load_on_lsoa11(source_id: str, folder: Path | None = None) -> OnLsoa11:
    """Read an indicator and put it on LSOA 2011 (LSOA 2021 sources go through the ONS lookup)."""
    source = indicator_source(source_id)
    if source.geography == "lsoa11":
        return OnLsoa11(
            source, deprivation(source_id, folder) if source_id.startswith("iod") else read_indicator(source_id, folder)
        )
    table = deprivation(source_id, folder)
    lookup = read_indicator("lookup_lsoa11_lsoa21", folder)
    try:
        best_fit = read_indicator("lookup_lsoa11_lsoa21_best_fit", folder)
    except SourceMissing:
        best_fit = None
    carried = carry_to_lsoa11(table, source, lookup, best_fit)
    return OnLsoa11(source, carried.values, carried.method_note())


def idaci_deciles(iod2019: OnLsoa11) -> pd.Series:
    """National IDACI decile per LSOA 2011 from the loaded IoD2019, for case-mix strata."""
    values = iod2019.values
    if "idaci_decile" not in values.columns:
        raise ValueError("The IoD2019 file has no IDACI decile column.")
    return values.set_index("lsoa11cd")["idaci_decile"]


def column_name(source_id: str, column_id: str) -> str:
    """The joined table's name for one indicator column, e.g. 'iod2019_imd_score'."""
    return f"{source_id}_{column_id}"


def context_table(lsoas: pd.DataFrame, indicators: list[OnLsoa11], population: pd.DataFrame | None) -> ContextTable:
    """Join indicators (on LSOA 2011) and child population to the council's LSOAs, by LSOA code."""
    areas = pd.DataFrame(
        {"lsoa11cd": lsoas["lsoa11cd"].astype(str).to_numpy(), "lsoa11nm": lsoas["lsoa11nm"].to_numpy()}
    )
    columns: dict[str, ContextColumn] = {}
    notes: list[str] = []
    for item in indicators:
        present = [
            c for c in item.source.columns if c in item.values.columns and item.source.columns[c].polarity != "code"
        ]
        renamed = {c: column_name(item.source.id, c) for c in present}
        values = item.values[["lsoa11cd", *present]].astype({"lsoa11cd": str}).rename(columns=renamed)
        areas = areas.merge(values, on="lsoa11cd", how="left", validate="one_to_one")
        for c in present:
            column = item.source.columns[c]
            columns[renamed[c]] = ContextColumn(
                item.source.id, c, f"{column.title} ({item.source.title})", column.polarity, item.source.vintage
            )
        if item.note:
            notes.append(f"{item.source.title}: {item.note}")
    if population is not None:
        areas = areas.merge(
            population[["lsoa11cd", "children", "all_ages"]].astype({"lsoa11cd": str}), on="lsoa11cd", how="left"
        )
    return ContextTable(areas, columns, notes)


def council_context(la_code: str, source_ids: list[str], folder: Path | None = None) -> ContextTable:
    """The joined LSOA table of one council (what `python -m ehmap context` writes)."""
    from ehmap.geography import council_lsoas  # boundaries: only needed here, not for the pure functions

    lsoas = pd.DataFrame(council_lsoas(la_code).drop(columns="geometry"))
    indicators = [load_on_lsoa11(source_id, folder) for source_id in source_ids]
    return context_table(lsoas, indicators, child_population(folder))


# ------------------------------------------------------------------ deprivation, oriented


def more_deprived_is_higher(values: pd.Series, polarity: str) -> pd.Series:
    """Values turned so that higher always means more deprived (ranks and deciles are negated)."""
    if polarity == "higher_is_more_deprived":
        return values.astype(float)
    if polarity in ("rank_1_most_deprived", "decile_1_most_deprived"):
        return -values.astype(float)
    raise ValueError(f"A column with polarity '{polarity}' is not a deprivation measure.")


def tertiles(values: pd.Series) -> tuple[pd.Series, tuple[float, float]]:
    """Class 1-3 (low to high) by the council's own tertiles of the non-missing values."""
    known = values.dropna().astype(float)
    if known.empty:
        return pd.Series(pd.NA, index=values.index, dtype="Int64"), (np.nan, np.nan)
    low, high = np.quantile(known, [1 / 3, 2 / 3])
    classes = 1 + (values > low).astype(int) + (values > high).astype(int)
    return classes.astype("Int64").mask(values.isna()), (float(low), float(high))


@dataclass(frozen=True)
class Bivariate:
    """Need rate against deprivation in tertiles per LSOA, the colours and the mismatched areas."""

    areas: (
        pd.DataFrame
    )  # lsoa11cd, lsoa11nm, episodes, rate, rate_lower, rate_upper, deprivation, need_class, deprivation_class, colour
    legend: list[LegendEntry]
    high_need_low_deprivation: pd.DataFrame
    low_need_high_deprivation: pd.DataFrame
    deprivation_title: str
    rate_breaks: tuple[float, float]
    polarity: str = "higher_is_more_deprived"  # of the deprivation column
    reading: str = ""  # one or two plain sentences for a meeting (set by ehmap.views.context)


def bivariate(need_areas: pd.DataFrame, context: ContextTable, deprivation_column: str) -> Bivariate:
    """Classify each LSOA by tertile of its (shown) case rate and of a deprivation column.

    `need_areas` has `lsoa11cd`, `lsoa11nm`, `episodes` and `rate` (NaN where hidden in a released view: grey).
    """
    if deprivation_column not in context.columns:
        raise ValueError(
            f"Unknown deprivation column '{deprivation_column}'; loaded columns are {sorted(context.columns)}."
        )
    if "rate" not in need_areas.columns:
        raise ValueError("The need table has no rates: load the child population to compare need with deprivation.")
    meta = context.columns[deprivation_column]
    areas = need_areas.merge(context.areas[["lsoa11cd", deprivation_column]], on="lsoa11cd", how="left")
    areas = areas.rename(columns={deprivation_column: "deprivation"})
    oriented = more_deprived_is_higher(areas["deprivation"], meta.polarity)
    areas["need_class"], breaks = tertiles(areas["rate"])
    areas["deprivation_class"], _ = tertiles(oriented)
    colour = [
        BIVARIATE_PALETTE.get((int(n), int(d)), HIDDEN_COLOUR) if pd.notna(n) and pd.notna(d) else HIDDEN_COLOUR
        for n, d in zip(areas["need_class"], areas["deprivation_class"], strict=True)
    ]
    areas["colour"] = colour
    legend = [
        LegendEntry(BIVARIATE_PALETTE[(n, d)], f"need {TERTILE_NAMES[n]}, deprivation {TERTILE_NAMES[d]}")
        for n in (3, 2, 1)
        for d in (1, 2, 3)
    ]
    if areas["colour"].eq(HIDDEN_COLOUR).any():
        legend.append(LegendEntry(HIDDEN_COLOUR, "rate hidden or no value"))
    shown = [c for c in ("lsoa11cd", "lsoa11nm", "episodes", "rate", "rate_lower", "rate_upper", "deprivation")
             if c in areas]
    high_low = areas[(areas["need_class"] == 3) & (areas["deprivation_class"] == 1)].sort_values(
        "rate", ascending=False
    )
    low_high = areas[(areas["need_class"] == 1) & (areas["deprivation_class"] == 3)].sort_values("rate")
    return Bivariate(
        areas,
        legend,
        high_low[shown].reset_index(drop=True),
        low_high[shown].reset_index(drop=True),
        meta.title,
        breaks,
        meta.polarity,
    )


# ------------------------------------------------------------------ destabilised by poverty


def poverty_mask(cases: pd.DataFrame, needs: tuple[str, ...]) -> np.ndarray:
    """True for episodes recording any of `needs` (e.g. financial stability or housing)."""
    unknown = [n for n in needs if n not in NEED_BITS]
    if unknown or not needs:
        raise ValueError(
            f"Unknown need(s) {unknown or list(needs)}; "
            f"choose from {list(POVERTY_NEEDS)} or any of {sorted(NEED_BITS)}."
        )
    bits = sum(NEED_BITS[n] for n in needs)
    return (cases["needs_mask"].to_numpy() & bits) != 0


def _families(cases: pd.DataFrame) -> pd.DataFrame:
    """One row per family (its latest episode's LSOA); episodes without a family id count alone."""
    family = (
        cases["family_id"].astype("string").fillna(cases["case_id"].astype("string"))
        if "family_id" in cases
        else cases["case_id"]
    )
    latest = (
        cases.assign(_family=family.to_numpy()).sort_values("referral_date").groupby("_family", observed=True).tail(1)
    )
    return latest


@dataclass(frozen=True)
class PovertyView:
    """Poverty-related episodes by area and by national deprivation decile, and the most-deprived-fifth shares."""

    areas: pd.DataFrame  # NeedMapTable.areas for the chosen needs + deprivation decile
    by_decile: pd.DataFrame  # decile, episodes (poverty), all EH episodes, small, children, rate, rate_lower/upper
    shares: pd.DataFrame  # group, families, in_most_deprived_fifth, share_percent
    needs: tuple[str, ...]
    index_title: str
    council_total: int
    over: OverRepresentation | None = None  # poverty-need share in the most deprived fifth against elsewhere


def poverty_view(
    cases: pd.DataFrame,
    lsoas: pd.DataFrame,
    context: ContextTable,
    decile_column: str,
    population: pd.DataFrame | None,
    needs: tuple[str, ...] = POVERTY_NEEDS,
) -> PovertyView:
    """Episodes with a poverty need (financial stability or housing) against a national deprivation decile (exact)."""
    if decile_column not in context.columns or context.columns[decile_column].polarity != "decile_1_most_deprived":
        deciles = [c for c, m in context.columns.items() if m.polarity == "decile_1_most_deprived"]
        raise ValueError(f"'{decile_column}' is not a loaded decile column; loaded deciles are {deciles}.")
    chosen = cases[poverty_mask(cases, needs)]
    table = need_map_table(chosen, lsoas, CaseFilter(), population)
    decile = context.areas.set_index("lsoa11cd")[decile_column]
    areas = table.areas.assign(decile=decile.reindex(table.areas["lsoa11cd"]).to_numpy())
    lsoa_decile = decile.reindex(lsoas["lsoa11cd"].astype(str))

    def per_decile(frame: pd.DataFrame) -> pd.Series:
        d = frame["lsoa11cd"].astype(str).map(lsoa_decile)
        return d.value_counts().reindex(range(1, 11), fill_value=0)

    present = sorted(int(d) for d in lsoa_decile.dropna().unique())
    poverty_counts, all_counts = per_decile(chosen).loc[present], per_decile(cases).loc[present]
    by_decile = pd.DataFrame({"decile": present, "episodes": poverty_counts.to_numpy(),
                              "all_episodes": all_counts.to_numpy(), "small": small(poverty_counts).to_numpy()})
    if population is not None:
        children = population.set_index("lsoa11cd")["children"].reindex(lsoas["lsoa11cd"].astype(str))
        kids = children.groupby(lsoa_decile.to_numpy()).sum().reindex(present)
        kids.index = poverty_counts.index
        by_decile["children"] = kids.to_numpy()
        for column, values in rates(poverty_counts, kids).items():
            by_decile[column] = values.to_numpy()

    def in_fifth(families: pd.DataFrame) -> int:
        d = families["lsoa11cd"].astype(str).map(lsoa_decile)
        return int((d <= MOST_DEPRIVED_FIFTH).sum())

    names = " or ".join(NEED_BY_KEY[n].headline.lower() for n in needs)
    rows = []
    for group, families in ((f"Families with {names}", _families(chosen)),
                            ("All Early Help families", _families(cases))):
        n, k = len(families), in_fifth(families)
        rows.append({"group": group, "families": n, "in_most_deprived_fifth": k,
                     "share_percent": round(100 * k / n, 1) if n else np.nan})
    (n_p, k_p), (n_a, k_a) = ((r["families"], r["in_most_deprived_fifth"]) for r in rows)
    over = over_representation(k_p, k_a, n_p - k_p, n_a - k_a)
    return PovertyView(areas, by_decile, pd.DataFrame(rows), needs, context.columns[decile_column].title, len(chosen),
                       over)


# ------------------------------------------------------------------ over-representation, ranked areas, readings


@dataclass(frozen=True)
class OverRepresentation:
    """The share of families with a poverty need in the most deprived fifth of areas against elsewhere, their ratio
    and 95% intervals (Wilson for each share, Katz log interval for the ratio); NaN where a share cannot be worked
    out (no families on one side, or none with a poverty need)."""

    families_in: int  # families living in the most deprived fifth
    poverty_in: int  # of whom with a poverty need
    families_out: int  # families living elsewhere
    poverty_out: int
    share_in: float  # %
    share_in_lower: float
    share_in_upper: float
    share_out: float
    share_out_lower: float
    share_out_upper: float
    ratio: float
    ratio_lower: float
    ratio_upper: float

    def table(self) -> pd.DataFrame:
        """Two rows (most deprived fifth, elsewhere): families, with a poverty need, share % and its interval."""
        return pd.DataFrame({
            "where": ["Most deprived fifth of areas in England", "Elsewhere"],
            "families": [self.families_in, self.families_out],
            "poverty": [self.poverty_in, self.poverty_out],
            "share_percent": [self.share_in, self.share_out],
            "share_lower": [self.share_in_lower, self.share_out_lower],
            "share_upper": [self.share_in_upper, self.share_out_upper],
        })


def over_representation(poverty_in: float, families_in: float, poverty_out: float,
                        families_out: float) -> OverRepresentation:
    """Poverty-need shares in the most deprived fifth and elsewhere, and their ratio (risk ratio) with its 95%
    Katz log interval: exp(log r +/- 1.96 sqrt(1/a - 1/n1 + 1/c - 1/n2))."""
    from scipy.stats import norm  # here, not at the top: slow to import

    from ehmap.performance import wilson_interval

    a, n1, c, n2 = (float(v) for v in (poverty_in, families_in, poverty_out, families_out))
    if min(a, n1, c, n2) < 0 or a > n1 or c > n2:
        raise ValueError(f"Counts must satisfy 0 <= with a poverty need <= families; got {a}/{n1} and {c}/{n2}.")
    low, high = wilson_interval([a, c], [n1, n2])
    shares = [a / n1 * 100 if n1 else np.nan, c / n2 * 100 if n2 else np.nan]
    ratio = lower = upper = np.nan
    if a > 0 and c > 0:
        ratio = (a / n1) / (c / n2)
        spread = norm.ppf(0.975) * np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
        lower, upper = ratio * np.exp(-spread), ratio * np.exp(spread)
    return OverRepresentation(int(n1), int(a), int(n2), int(c), round(shares[0], 1), round(low[0] * 100, 1),
                              round(high[0] * 100, 1), round(shares[1], 1), round(low[1] * 100, 1),
                              round(high[1] * 100, 1), float(ratio), float(lower), float(upper))


def poverty_reading(result: OverRepresentation, names: str, index_title: str, ranked: str = "areas") -> str:
    """One or two sentences for a meeting: are families with a poverty need over-represented in the most deprived
    fifth of areas (the ratio and its 95% interval), and what to try next; `ranked` names the areas of the table
    below ('areas', or 'wards' when it ranks wards)."""
    if not np.isfinite(result.ratio):
        return (f"Too few families to compare: {result.poverty_in:,} of {result.families_in:,} families in the most "
                f"deprived fifth of areas ({index_title}) and {result.poverty_out:,} of {result.families_out:,} "
                f"elsewhere have a need for {names}; try a longer period.")
    shares = (f"{result.share_in:.0f}% of families living in the most deprived fifth of areas in England (on the "
              f"{index_title}) have a need for {names}, against {result.share_out:.0f}% of families elsewhere")
    interval = f"ratio {result.ratio:.2f}, 95% interval {result.ratio_lower:.2f} to {result.ratio_upper:.2f}"
    if result.ratio_lower > 1:
        return (f"Poverty needs are over-represented in the most deprived areas: {shares} ({interval}, so very "
                f"unlikely to be chance). Next: check that money and housing advice reaches the {ranked} at the top of "
                "the table below.")
    if result.ratio_upper < 1:
        return (f"No over-representation: {shares} ({interval}), so poverty needs are if anything less common "
                "there. Next: ask whether families in the most deprived areas are being asked about money and "
                "housing.")
    return (f"No over-representation: {shares} ({interval}, which includes 1, so the difference could be chance). "
            f"Next: look at the {ranked} at the top of the table below, or try a longer period.")


def family_areas(cases: pd.DataFrame, needs: tuple[str, ...] = POVERTY_NEEDS) -> pd.DataFrame:
    """Families with a poverty need per LSOA (each at the LSOA of its latest episode with that need): lsoa11cd,
    families."""
    latest = _families(cases[poverty_mask(cases, needs)])
    counts = latest["lsoa11cd"].astype(str).value_counts()
    return pd.DataFrame({"lsoa11cd": counts.index.astype(str), "families": counts.to_numpy(dtype=int)})


def area_poverty(cases: pd.DataFrame, areas: AreaSet, population: pd.DataFrame | None,
                 needs: tuple[str, ...] = POVERTY_NEEDS) -> pd.DataFrame:
    """Episodes and families with a poverty need per area (a ward's are the sums of its LSOAs', as the ranking sums
    them), children and rates as for LSOAs: code, name, episodes, small, [children, rate, rate_lower, rate_upper,
    smoothed_rate,] families; for mapping and ranking wards or localities off the same counts as LSOAs."""
    from ehmap.ranking import children_by_area, episodes_by_area  # here: area sets need the boundaries

    poverty = cases[poverty_mask(cases, needs)]
    counts = episodes_by_area(poverty, areas)
    children = None if population is None else children_by_area(areas, population)
    table = pd.DataFrame({"code": counts.index.astype(str), "name": areas.areas["name"].astype(str).to_numpy()})
    table = with_need_figures(table, counts, children)
    table["families"] = episodes_by_area(_families(poverty), areas).to_numpy(dtype=int)  # one row per family
    return table


def _ranked_by_families(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Areas with a family or an episode with a poverty need, ranked by families (then episodes, then name), with
    the small-count note."""
    table = table[(table["families"] > 0) | (table["episodes"] > 0)].copy()
    table["note"] = np.where(small(table["families"]) | small(table["episodes"]), SMALL_FLAG, "")
    table = table.sort_values(["families", "episodes", name], ascending=[False, False, True], ignore_index=True)
    table.insert(0, "rank", table["families"].rank(method="min", ascending=False).astype(int))
    return table


def ranked_poverty_areas(view: PovertyView, families: pd.DataFrame, wards: pd.Series | None = None) -> pd.DataFrame:
    """The team's LSOAs ranked by families with a poverty need (then episodes): rank, LSOA name and code, ward,
    decile, families, episodes, children, rate with its 95% interval, note; LSOAs with none are left out."""
    table = view.areas.merge(families, on="lsoa11cd", how="left")
    table["families"] = table["families"].fillna(0).astype(int)
    if wards is not None:
        table["ward"] = table["lsoa11cd"].astype(str).map(wards).fillna("")
    table = _ranked_by_families(table, "lsoa11nm")
    keep = ["rank", "lsoa11nm", "lsoa11cd", "ward", "decile", "families", "episodes", "children", "rate",
            "rate_lower", "rate_upper", "note"]
    return table[[c for c in keep if c in table]]


def ranked_poverty_by_area(table: pd.DataFrame) -> pd.DataFrame:
    """The team's wards (or localities) from `area_poverty` ranked by families with a poverty need (then episodes):
    rank, name, code, families, episodes, children, rate with its 95% interval, note; areas with none left out."""
    ranked = _ranked_by_families(table, "name")
    keep = ["rank", "name", "code", "families", "episodes", "children", "rate", "rate_lower", "rate_upper", "note"]
    return ranked[[c for c in keep if c in ranked]]


def unmapped_needs(cases: pd.DataFrame, unrecognised: dict[str, int] | None,
                   needs: tuple[str, ...] = POVERTY_NEEDS) -> str | None:
    """None when some episode records one of `needs`; otherwise a message naming the needs the export was seen to
    hold (recognised headlines and unrecognised values, with episode counts) and how to map them to a poverty need."""
    if poverty_mask(cases, needs).any():
        return None
    masks = cases["needs_mask"].to_numpy()
    seen = [f"{need.headline} ({int(((masks & NEED_BITS[need.key]) != 0).sum()):,})" for need in NEEDS
            if ((masks & NEED_BITS[need.key]) != 0).any()]
    unknown = [f"“{value}” ({count:,})" for value, count in
               sorted((unrecognised or {}).items(), key=lambda item: (-item[1], item[0]))]
    names = " or ".join(NEED_BY_KEY[n].headline.lower() for n in needs)
    text = f"No episode in this export records a poverty need ({names}), so nothing here can show poverty. "
    text += "Needs seen (episodes): " + ("; ".join(seen) if seen else "none recognised") + ". "
    if unknown:
        text += "Values not recognised as any need: " + "; ".join(unknown[:15])
        text += (f" and {len(unknown) - 15} more" if len(unknown) > 15 else "") + ". "
    accepted = "; ".join(
        f"{NEED_BY_KEY[n].headline}: “{n}”, “{NEED_BY_KEY[n].headline}”"
        + "".join(f", “{a}”" for a in (*NEED_BY_KEY[n].aliases, *NEED_BY_KEY[n].cin_codes))
        for n in needs)
    return text + (f"To map them, write your poverty needs in the export's needs column as one of the values ehmap "
                   f"matches ({accepted}) and upload it again (README, “Need map and case exports”).")


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation with its 95% interval (Fisher z on the ranks, standard error 1/sqrt(n - 3))."""

    rho: float
    lower: float
    upper: float
    areas: int


def rank_correlation(x: pd.Series, y: pd.Series) -> Correlation:
    """Spearman's rho between x and y over the pairs where both are known, with its 95% interval (NaN for fewer
    than 4 pairs or a constant series)."""
    from scipy.stats import norm, rankdata  # here, not at the top: slow to import

    known = x.notna().to_numpy() & y.notna().to_numpy()
    a, b = x.to_numpy(dtype=float)[known], y.to_numpy(dtype=float)[known]
    n = len(a)
    if n < 4 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(np.nan, np.nan, np.nan, n)
    rho = float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])
    z, spread = np.arctanh(np.clip(rho, -0.999999, 0.999999)), norm.ppf(0.975) / np.sqrt(n - 3)
    return Correlation(rho, float(np.tanh(z - spread)), float(np.tanh(z + spread)), n)


def bivariate_reading(view: Bivariate, need_title: str, released: bool = False) -> str:
    """One or two sentences for a meeting: does the need's rate rise with deprivation across LSOAs (Spearman's
    rho with its 95% interval), which LSOAs an index alone would miss, and what to check next."""
    oriented = more_deprived_is_higher(view.areas["deprivation"], view.polarity)
    link = rank_correlation(view.areas["rate"], oriented)
    source = " (from the released, rounded counts; hidden areas left out)" if released else ""
    if not np.isfinite(link.rho):
        return f"Too few LSOAs with a rate to compare {need_title} with deprivation{source}; try a longer period."
    figures = f"Spearman correlation {link.rho:.2f}, 95% interval {link.lower:.2f} to {link.upper:.2f}"
    if link.lower > 0:
        strength = "strongly" if link.rho >= 0.5 else "clearly" if link.rho >= 0.3 else "slightly"
        first = (f"Across {link.areas} LSOAs, the rate of {need_title} rises {strength} with deprivation "
                 f"({view.deprivation_title}; {figures}){source}.")
    elif link.upper < 0:
        first = (f"Across {link.areas} LSOAs, the rate of {need_title} is lower where deprivation is higher "
                 f"({view.deprivation_title}; {figures}){source}.")
    else:
        first = (f"Across {link.areas} LSOAs, the rate of {need_title} shows no clear link with deprivation "
                 f"({view.deprivation_title}; {figures}, which includes 0){source}.")
    high = view.high_need_low_deprivation
    if len(high):
        lead = high.iloc[0]
        second = (f" {len(high)} LSOA(s) have a high rate but are among the council's least deprived, led by "
                  f"{lead['lsoa11nm']} ({lead['rate']:.1f} per 1,000 children): places an index alone would miss. "
                  f"Next: check them, and the {len(view.low_need_high_deprivation)} deprived LSOA(s) with a low "
                  "rate, against local knowledge.")
    else:
        second = (f" No LSOA has a high rate with low deprivation. Next: check the "
                  f"{len(view.low_need_high_deprivation)} deprived LSOA(s) with a low rate: under-reached, or well "
                  "served?")
    return first + second


def deprivation_reading(context: ContextTable, column: str, council: str) -> str:
    """One or two sentences for a meeting on one deprivation column of the council's LSOAs 2011 (see
    `indicator_reading`)."""
    if column not in context.columns:
        raise ValueError(f"Unknown column '{column}'; loaded columns are {sorted(context.columns)}.")
    return indicator_reading(context.areas.set_index("lsoa11nm")[column], context.columns[column], council)


def indicator_reading(values: pd.Series, meta: ContextColumn, council: str, areas: str = "LSOAs") -> str:
    """One or two sentences on one published indicator over the council's areas (`values` indexed by area name):
    how many are in the most deprived fifth (or tenth) of England, which stand out, and what to look at next."""
    known = values.dropna()
    if known.empty:
        return f"No {areas[:-1]} of {council} has a value for {meta.title}."
    nxt = (" These are published national figures, not estimates from your cases. Next: compare them with where "
           "families are referred, on Need and deprivation.")
    if meta.polarity == "decile_1_most_deprived":
        fifth, tenth = int((known <= MOST_DEPRIVED_FIFTH).sum()), int((known == 1).sum())
        most = ", ".join(sorted(known.index[known == known.min()].astype(str))[:3])
        return (f"{fifth} of {council}'s {len(known)} {areas} ({fifth / len(known):.0%}) are in the most deprived "
                f"fifth of England on the {meta.title}, {tenth} in the most deprived tenth (decile 1); the most "
                f"deprived include {most}." + nxt)
    if meta.polarity == "count":
        top = known.sort_values(ascending=False)
        return (f"On the {meta.title}, {council}'s {len(known)} {areas} range from {top.min():,.0f} to "
                f"{top.max():,.0f}; the largest are {', '.join(top.index[:3].astype(str))}." + nxt)
    oriented = more_deprived_is_higher(known, meta.polarity).sort_values(ascending=False)
    return (f"On the {meta.title}, the most deprived of {council}'s {len(known)} {areas} are "
            f"{', '.join(oriented.index[:3].astype(str))}; the least deprived is {oriented.index[-1]}." + nxt)


def context_csv(table: ContextTable) -> pd.DataFrame:
    """The joined table as written to CSV: code, name, indicator values, children 0-17 and all ages."""
    return table.areas.rename(columns={"children": "children_0_17"})


def indicator_choropleth(values: pd.Series, polarity: str, decimals: int = 3) -> Choropleth:
    """Colours and legend for one indicator: deciles by the publisher's bands (1 = most deprived, darkest),
    other measures in five quantile classes with the most deprived (or largest) class darkest."""
    colours = pd.Series(NO_DATA_COLOUR, index=values.index, dtype=object)
    legend: list[LegendEntry] = []
    known = values.dropna().astype(float)
    if polarity == "decile_1_most_deprived":
        for decile in range(1, 11):
            colours[known.index[known == decile]] = DECILE_PALETTE[decile - 1]
        legend = [
            LegendEntry(
                DECILE_PALETTE[d - 1],
                f"decile {d}"
                + (" (most deprived 10% in England)" if d == 1 else " (least deprived 10%)" if d == 10 else ""),
            )
            for d in range(1, 11)
        ]
    elif len(known):
        oriented = -known if polarity == "rank_1_most_deprived" else known  # higher = darker class
        classes = min(5, known.nunique())
        bins = np.quantile(oriented, np.linspace(0, 1, classes + 1)[1:-1]) if classes > 1 else np.array([])
        index = np.searchsorted(bins, oriented.to_numpy(), side="left")
        palette = CLASS_PALETTE[:classes][::-1]  # index 0 = lowest (least deprived / smallest): lightest
        colours[known.index] = [palette[i] for i in index]
        edges = [oriented.min(), *bins, oriented.max()]
        for i in range(classes):
            low, high = edges[i], edges[i + 1]
            if polarity == "rank_1_most_deprived":
                low, high = -high, -low
                text = f"rank {low:,.0f} to {high:,.0f}"
            else:
                text = f"{low:,.{decimals}f} to {high:,.{decimals}f}"
            legend.append(LegendEntry(palette[i], text))
        legend.reverse()  # most deprived first
        legend[0] = LegendEntry(
            legend[0].colour, legend[0].label + (" (most deprived)" if polarity != "count" else " (largest)")
        )
    if values.isna().any():
        legend.append(LegendEntry(NO_DATA_COLOUR, "no value"))
    return Choropleth(colours, legend)


def side_by_side(context: ContextTable, column_id: str) -> pd.DataFrame | None:
    """The same indicator from IoD2019 and IoD2025 in adjacent columns (never a difference), when both are loaded."""
    names = [column_name(source_id, column_id) for source_id in ("iod2019", "iod2025")]
    if not all(name in context.columns for name in names):
        return None
    table = context.areas[["lsoa11nm", "lsoa11cd", *names]].copy()
    titles = {"lsoa11nm": "LSOA name", "lsoa11cd": "LSOA code"} | {name: context.columns[name].title for name in names}
    return table.rename(columns=titles)
