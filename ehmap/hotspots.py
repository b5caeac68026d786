"""Hot spot statistics: Getis-Ord Gi* and local Moran's I, with false-discovery-rate control.

A statistic is computed once into a `HotspotResult` (per-area values, z-scores, permutation
p-values, p-values after Benjamini-Hochberg FDR control, plain-English labels, the parameters and
the seed). Statistics and spatial weights sit in registries behind `hotspots()` and
`spatial_weights()`, which name the valid choices when given a wrong one.

p-values are two-sided: twice esda's folded one-sided permutation p-value (capped at 1), so "95%
confidence" means what it says for a test of "higher *or* lower than chance". Areas with no
neighbours (islands) are not tested; they and any detached groups of areas are named in the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal import weights as lpw

from ehmap.areas import AreaSet
from ehmap.audience import small
from ehmap.geography import WORKING_CRS
from ehmap.maps import Choropleth, LegendEntry
from ehmap.needmap import PER_CHILDREN, SMALL_NOTE, CaseFilter, episodes_by_lsoa, rates
from ehmap.smoothing import eb_global, eb_local

DEFAULT_PERMUTATIONS = 999
DEFAULT_SEED = 12345
CONFIDENCE_LEVELS = (0.99, 0.95, 0.90)  # labels use the highest level the FDR-adjusted p-value meets
NOT_SIGNIFICANT = "not significant"
NOT_TESTED = "not tested: no neighbours"
QUADRANTS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}  # esda's Moran_Local.q


# --- spatial weights -----------------------------------------------------------------------------

def _queen(areas: gpd.GeoDataFrame, k: int, threshold: float | None) -> lpw.W:
    return lpw.Queen.from_dataframe(areas, use_index=False, silence_warnings=True)


def _knn(areas: gpd.GeoDataFrame, k: int, threshold: float | None) -> lpw.W:
    if not 1 <= k < len(areas):
        raise ValueError(f"k must be between 1 and {len(areas) - 1} for {len(areas)} areas; got {k}.")
    points = np.column_stack([areas.geometry.representative_point().x, areas.geometry.representative_point().y])
    return lpw.KNN(points, k=k, silence_warnings=True)


def _distance_band(areas: gpd.GeoDataFrame, k: int, threshold: float | None) -> lpw.W:
    if threshold is None or threshold <= 0:
        raise ValueError(f"A distance band needs a positive threshold in metres; got {threshold}.")
    points = np.column_stack([areas.geometry.representative_point().x, areas.geometry.representative_point().y])
    return lpw.DistanceBand(points, threshold=threshold, binary=True, silence_warnings=True)


WEIGHTS: dict[str, Callable[[gpd.GeoDataFrame, int, float | None], lpw.W]] = {
    "queen": _queen,
    "knn": _knn,
    "distance_band": _distance_band,
}
WEIGHT_TITLES = {
    "queen": "areas sharing a border or a corner (queen contiguity)",
    "knn": "the k nearest areas (by an interior point)",
    "distance_band": "areas whose interior points are within a distance band",
}


def spatial_weights(areas: gpd.GeoDataFrame, kind: str = "queen", k: int = 6, threshold: float | None = None) -> lpw.W:
    """Binary spatial weights over `areas` (EPSG:27700), in row order: queen, knn or distance_band."""
    if kind not in WEIGHTS:
        raise ValueError(f"Unknown weights '{kind}'; valid weights are {sorted(WEIGHTS)}.")
    if areas.crs is None:
        raise ValueError(f"The areas have no CRS; expected {WORKING_CRS}.")
    if areas.crs != WORKING_CRS:
        raise ValueError(f"The areas are in {areas.crs.to_string()}; reproject them to {WORKING_CRS} first.")
    if len(areas) < 3:
        raise ValueError(f"Hot spot statistics need at least 3 areas; got {len(areas)}.")
    w = WEIGHTS[kind](areas.reset_index(drop=True), k, threshold)
    w.transform = "B"
    return w


# --- FDR -----------------------------------------------------------------------------------------

def fdr_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN (untested) stays NaN and is not counted."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    tested = ~np.isnan(p)
    values = p[tested]
    m = len(values)
    if m == 0:
        return out
    order = np.argsort(values)
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[tested] = result
    return out


def confidence(p_adjusted: np.ndarray) -> np.ndarray:
    """The highest of 99/95/90 (%) whose significance level each adjusted p-value meets (p <= 1 - level), else 0."""
    p = np.nan_to_num(np.asarray(p_adjusted, dtype=float), nan=1.0)
    level = np.zeros(len(p), dtype=int)
    for conf in sorted(CONFIDENCE_LEVELS):
        level = np.where(p < 1 - conf + 1e-12, int(round(conf * 100)), level)
    return level


# --- result --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HotspotResult:
    """One local statistic over a set of areas: values, z, p (two-sided), p after FDR, labels, parameters."""

    codes: pd.Index
    y: np.ndarray  # the variable tested (count, rate or smoothed rate)
    statistic: str  # "gi_star" or "local_moran"
    values: np.ndarray  # Gi* (G statistic with self) or local I
    z: np.ndarray  # Gi*: analytic z-score; local Moran: z of I against its permutations
    p: np.ndarray  # two-sided permutation p-value, NaN for islands
    p_fdr: np.ndarray  # Benjamini-Hochberg adjusted across the tested areas
    labels: np.ndarray
    confidence: np.ndarray  # 99, 95, 90 or 0
    seed: int
    parameters: dict[str, object]
    islands: list[str] = field(default_factory=list)  # codes of areas with no neighbour
    components: list[list[str]] = field(default_factory=list)  # groups of areas detached from the largest

    @property
    def hot(self) -> np.ndarray:
        """True where the area is a significant hot spot (Gi*) or High-High cluster (local Moran)."""
        return np.char.startswith(self.labels.astype(str), ("hot spot", "High-High")[self.statistic == "local_moran"])

    def fdr_cutoff(self, alpha: float = 0.05) -> float:
        """esda's FDR criterion: p-values at or below it are significant at `alpha` after correction."""
        tested = ~np.isnan(self.p)
        return float(esda.fdr(self.p[tested], alpha))

    def table(self) -> pd.DataFrame:
        """One row per area: code, y, statistic, z, p, p_fdr, confidence, label."""
        return pd.DataFrame(
            {"code": self.codes, "y": self.y, "statistic": self.values, "z": self.z, "p": self.p,
             "p_fdr": self.p_fdr, "confidence": self.confidence, "label": self.labels}
        )

    def explanation(self) -> str:
        """What 'significant' means here and what was corrected for, in plain English."""
        params = self.parameters
        tested = int((~np.isnan(self.p)).sum())
        text = (
            f"Each area is compared with {params['neighbours']}. Significance comes from "
            f"{params['permutations']:,} random reshuffles of the values across the areas (seed {self.seed}): an area "
            f"is significant at 95% confidence when a pattern as strong as its own turned up by chance in fewer than "
            f"5% of reshuffles (two-sided). Because {tested} areas were tested at once, the p-values were corrected "
            "for multiple testing (Benjamini-Hochberg false discovery rate), so among areas called significant at 95% "
            "no more than about 5% are expected to be false alarms."
        )
        if self.islands:
            text += f" {len(self.islands)} area(s) with no neighbour were not tested."
        if self.components:
            text += f" {len(self.components)} group(s) of areas are detached from the rest and only compared within their group."
        return text


def _graph_facts(w: lpw.W, codes: pd.Index) -> tuple[list[str], list[list[str]]]:
    """Island codes, and the codes in each connected component other than the largest."""
    order = list(w.id_order)
    islands = [str(codes[order.index(i)]) for i in w.islands]
    labels = np.asarray(w.component_labels)
    sizes = pd.Series(labels).value_counts()  # largest component first
    components = []
    for label in sizes.index[1:]:
        members = [str(codes[i]) for i in np.flatnonzero(labels == label)]
        if len(members) > 1 or members[0] not in islands:
            components.append(members)
    return islands, components


def _copy(w: lpw.W) -> lpw.W:
    return lpw.W(dict(w.neighbors), {k: list(v) for k, v in w.weights.items()}, id_order=list(w.id_order), silence_warnings=True)


def _gi_star(y: np.ndarray, w: lpw.W, permutations: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(y, _copy(w), transform="B", star=True, permutations=permutations, seed=seed, n_jobs=1)
    return g.Gs, g.Zs, g.p_sim, np.where(g.Zs > 0, 1, -1)


def _local_moran(y: np.ndarray, w: lpw.W, permutations: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lisa = esda.Moran_Local(y, _copy(w), transformation="r", permutations=permutations, seed=seed, n_jobs=1)
    return lisa.Is, lisa.z_sim, lisa.p_sim, lisa.q


STATISTICS: dict[str, Callable[[np.ndarray, lpw.W, int, int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {
    "gi_star": _gi_star,
    "local_moran": _local_moran,
}
STATISTIC_TITLES = {"gi_star": "Getis-Ord Gi*", "local_moran": "Local Moran's I"}


def _labels(statistic: str, direction: np.ndarray, level: np.ndarray, tested: np.ndarray) -> np.ndarray:
    labels = np.full(len(level), NOT_SIGNIFICANT, dtype=object)
    for i in np.flatnonzero(level > 0):
        if statistic == "gi_star":
            kind = "hot spot" if direction[i] > 0 else "cold spot"
        else:
            kind = QUADRANTS[int(direction[i])]
        labels[i] = f"{kind} ({level[i]}% confidence)"
    labels[~tested] = NOT_TESTED
    return labels


def hotspots(
    y: np.ndarray | pd.Series,
    w: lpw.W,
    codes: pd.Index | None = None,
    statistic: str = "gi_star",
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    neighbours: str = WEIGHT_TITLES["queen"],
) -> HotspotResult:
    """Run one local statistic (`gi_star` or `local_moran`) on `y` over weights `w`, with FDR control."""
    if statistic not in STATISTICS:
        raise ValueError(f"Unknown statistic '{statistic}'; valid statistics are {sorted(STATISTICS)}.")
    y = np.asarray(y, dtype=float)
    if len(y) != w.n:
        raise ValueError(f"y has {len(y)} values but the weights cover {w.n} areas.")
    if np.isnan(y).any():
        raise ValueError(f"y has {int(np.isnan(y).sum())} missing value(s); every area needs a value.")
    if permutations < 99:
        raise ValueError(f"permutations must be at least 99; got {permutations}.")
    codes = pd.Index(range(len(y))) if codes is None else pd.Index(codes)
    values, z, p_one_sided, direction = STATISTICS[statistic](y, w, permutations, seed)
    tested = np.array([w.cardinalities[i] > 0 for i in w.id_order])
    p = np.where(tested, np.minimum(1.0, 2 * np.asarray(p_one_sided, dtype=float)), np.nan)
    p_fdr = fdr_adjust(p)
    level = confidence(p_fdr)
    islands, components = _graph_facts(w, codes)
    z = np.where(tested, z, np.nan)
    values = np.where(tested, values, np.nan)
    return HotspotResult(
        codes=codes, y=y, statistic=statistic, values=np.asarray(values, dtype=float), z=np.asarray(z, dtype=float),
        p=p, p_fdr=p_fdr, labels=_labels(statistic, direction, level, tested), confidence=level, seed=seed,
        parameters={"statistic": STATISTIC_TITLES[statistic], "permutations": permutations, "neighbours": neighbours,
                    "p_value": "two-sided permutation (2 x esda p_sim, capped at 1)",
                    "multiple_testing": "Benjamini-Hochberg FDR across tested areas",
                    "weights": "binary; Gi* includes the area itself" if statistic == "gi_star" else "row-standardised"},
        islands=islands, components=components,
    )


# --- the hotspot table: exact counts per area, rates, smoothed rates and the statistic ----------------

MEASURES = {"count": "Episodes", "rate": "Rate per 1,000 children", "smoothed_rate": "Smoothed rate per 1,000 children"}
SMOOTHING = ("global", "local")
CSV_COLUMNS = {
    "code": "code", "name": "name", "count": "count", "children": "children", "rate": "rate",
    "smoothed_rate": "smoothed_rate", "statistic": "statistic", "z": "z", "p": "p", "p_fdr": "p_fdr", "label": "label",
}


@dataclass(frozen=True)
class HotspotTable:
    """The team's exact figures per area and the statistic computed on them."""

    areas: pd.DataFrame  # code, name, count, small, children, rate, rate_lower, rate_upper, smoothed_rate, statistic,
    # z, p, p_fdr, label
    result: HotspotResult
    measure: str
    smoothing: str
    rule: str  # how cases were assigned to areas
    outside: int  # filtered episodes in LSOAs that count towards no area
    note: str = SMALL_NOTE

    def hot_spots(self) -> pd.DataFrame:
        """The significant hot spots (Gi*) or High-High clusters (local Moran), most significant first."""
        hot = self.areas[self.result.hot]
        return hot.sort_values(["p_fdr", "code"], na_position="last")

    def for_csv(self) -> pd.DataFrame:
        """One row per area with the CLI's columns."""
        return self.areas[list(CSV_COLUMNS)].rename(columns=CSV_COLUMNS)


def area_counts(cases: pd.DataFrame, areas: AreaSet, case_filter: CaseFilter) -> tuple[pd.Series, int]:
    """Filtered episodes per area (zeros included), and how many fall in LSOAs that no area holds."""
    chosen = case_filter.apply(cases)
    lsoa_index = pd.Index(areas.lsoa_to_area.index, name="lsoa11cd")
    by_lsoa = episodes_by_lsoa(chosen, lsoa_index)
    area_of = areas.lsoa_to_area.reindex(lsoa_index)
    codes = pd.Index(areas.areas["code"].astype(str), name="code")
    counts = by_lsoa.groupby(area_of.to_numpy(), dropna=True).sum().reindex(codes, fill_value=0).astype("int64")
    return counts, int(by_lsoa[area_of.isna().to_numpy()].sum())


def area_children(areas: AreaSet, population: pd.DataFrame) -> pd.Series:
    """Children aged 0-17 per area (the sum of its LSOAs); refuses areas with none, whose rates cannot exist."""
    lsoa_index = pd.Index(areas.lsoa_to_area.index, name="lsoa11cd")
    codes = pd.Index(areas.areas["code"].astype(str), name="code")
    by_lsoa = population.set_index("lsoa11cd")["children"].reindex(lsoa_index).fillna(0)
    children = by_lsoa.groupby(areas.lsoa_to_area.reindex(lsoa_index).to_numpy(), dropna=True).sum()
    children = children.reindex(codes, fill_value=0).astype(float)
    if (children <= 0).any():
        empty = list(children.index[children <= 0][:5])
        raise ValueError(f"{int((children <= 0).sum())} area(s) have no child population (e.g. {empty}); "
                         "rates cannot be computed.")
    return children


def hotspot_table(
    cases: pd.DataFrame,
    areas: AreaSet,
    case_filter: CaseFilter,
    population: pd.DataFrame | None,
    measure: str = "smoothed_rate",
    statistic: str = "gi_star",
    weights: str = "queen",
    k: int = 6,
    threshold: float | None = None,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    smoothing: str = "global",
) -> HotspotTable:
    """Count filtered episodes per area, derive rates and EB-smoothed rates, and run the statistic on the true counts."""
    if measure not in MEASURES:
        raise ValueError(f"Unknown measure '{measure}'; valid measures are {list(MEASURES)}.")
    if smoothing not in SMOOTHING:
        raise ValueError(f"Unknown smoothing '{smoothing}'; valid smoothing is {list(SMOOTHING)}.")
    if population is None and measure != "count":
        raise ValueError(f"The measure '{measure}' needs the child population; only 'count' works without it.")
    counts, outside = area_counts(cases, areas, case_filter)
    codes = counts.index
    table = pd.DataFrame({"code": codes, "name": areas.areas["name"].astype(str).to_numpy()})
    rate = smoothed = children = pd.Series(np.nan, index=codes)
    w = spatial_weights(areas.areas, weights, k=k, threshold=threshold)
    if population is not None:
        children = area_children(areas, population)
        rate = counts / children * PER_CHILDREN
        estimate = (
            eb_global(counts.to_numpy(), children.to_numpy())
            if smoothing == "global"
            else eb_local(counts.to_numpy(), children.to_numpy(), w.sparse)
        )
        smoothed = pd.Series(estimate.smoothed * PER_CHILDREN, index=codes)
    y = {"count": counts.astype(float), "rate": rate, "smoothed_rate": smoothed}[measure]
    neighbours = WEIGHT_TITLES[weights].replace("the k nearest", f"the {k} nearest") if weights != "distance_band" \
        else f"areas whose interior points are within {threshold:,.0f} m"
    result = hotspots(y.to_numpy(), w, codes, statistic, permutations, seed, neighbours)
    table["count"] = counts.to_numpy()
    table["small"] = small(counts).to_numpy()
    table["children"] = children.to_numpy()
    for column, values in rates(counts, children).items():
        table[column] = values.to_numpy()
    table["smoothed_rate"] = smoothed.round(1).to_numpy()
    table["statistic"] = np.round(result.values, 4)
    table["z"] = np.round(result.z, 2)
    table["p"] = np.round(result.p, 4)
    table["p_fdr"] = np.round(result.p_fdr, 4)
    table["label"] = result.labels
    return HotspotTable(table, result, measure, smoothing, areas.rule, outside)


# --- map colours ---------------------------------------------------------------------------------

# ColorBrewer RdBu: red for hot / High-High, blue for cold / Low-Low, darker = more confident.
LABEL_COLOURS = {
    "hot spot (99% confidence)": "#b2182b", "hot spot (95% confidence)": "#ef8a62", "hot spot (90% confidence)": "#fddbc7",
    "cold spot (99% confidence)": "#2166ac", "cold spot (95% confidence)": "#67a9cf", "cold spot (90% confidence)": "#d1e5f0",
    "High-High": "#b2182b", "High-Low": "#f4a582", "Low-High": "#92c5de", "Low-Low": "#2166ac",
    NOT_SIGNIFICANT: "#f0f0f0", NOT_TESTED: "#ffffff",
}


def _label_colour(label: str) -> str:
    return LABEL_COLOURS.get(label) or LABEL_COLOURS[label.split(" (")[0]]


def label_choropleth(labels: pd.Series) -> Choropleth:
    """Fill colours by hot spot label, and a legend of the labels present (plus 'not significant')."""
    colours = labels.map(_label_colour)
    order = list(LABEL_COLOURS)
    present = sorted(set(labels) | {NOT_SIGNIFICANT}, key=lambda label: order.index(label) if label in order else order.index(label.split(" (")[0]))
    return Choropleth(colours, [LegendEntry(_label_colour(label), label) for label in present])
