"""Hot spot statistics: Getis-Ord Gi* and local Moran's I, with false-discovery-rate control.

A statistic is computed once into a `HotspotResult` (per-area values, z-scores, permutation
p-values, p-values after Benjamini-Hochberg FDR control, plain-English labels, the parameters and
the seed). Statistics and spatial weights sit in registries behind `hotspots()` and
`spatial_weights()`, which name the valid choices when given a wrong one.

p-values are two-sided permutation p-values, p = (b+1)/(R+1) (Phipson and Smyth 2010), taken from the
same reference distribution as the z-score. Gi* uses total randomisation (every value reshuffled, the
area's own included: the null of Getis and Ord 1992); local Moran's I uses conditional randomisation
(the area's own value held), optionally on Assunção-Reis standardised rates. Both are vectorised so
99,999 permutations rerun in under a second on a 640-LSOA council. Areas with no neighbours (islands)
are not tested; they and any detached groups of areas are named in the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from libpysal import weights as lpw

from ehmap.areas import AreaSet
from ehmap.audience import small
from ehmap.geography import WORKING_CRS
from ehmap.maps import Choropleth, LegendEntry
from ehmap.needmap import PER_CHILDREN, SMALL_NOTE, CaseFilter, rates
from ehmap.ranking import children_by_area, episodes_by_area
from ehmap.smoothing import eb_global, eb_local

DEFAULT_PERMUTATIONS = 99_999  # p floor 1/100,000: enough for the 99% label after FDR over up to 1,000 areas
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
    statistic: str  # "gi_star", "local_moran" or "local_moran_rate"
    values: np.ndarray  # Gi* (G statistic with self) or local I
    z: np.ndarray  # z under the p-value's own null, from its exact mean and variance
    p: np.ndarray  # two-sided permutation p-value (b+1)/(R+1), from the same null as z; NaN for islands
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
        kind = "High-High" if self.statistic.startswith("local_moran") else "hot spot"
        return np.char.startswith(self.labels.astype(str), kind)

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

    @property
    def p_floor(self) -> float:
        """The smallest p-value the permutations can give: 1/(R+1), the observed map counting as one arrangement."""
        return 1 / (int(self.parameters["permutations"]) + 1)

    def explanation(self) -> str:
        """What the p-value is, what 'significant' means and what was corrected for, in plain English."""
        params = self.parameters
        permutations = int(params["permutations"])
        tested = int((~np.isnan(self.p)).sum())
        if self.statistic == "gi_star":
            test = (
                "Gi* adds up the values of an area and its neighbours. An area's p-value is the share of "
                f"{permutations:,} random reshuffles of all the areas' values, its own included (seed {self.seed}), "
                "in which that sum came out at least as far from its average as the real sum, higher or lower"
            )
        else:
            test = (
                "Local Moran's I compares an area's value with its neighbours' average. An area's p-value is the share "
                f"of {permutations:,} random reshuffles of the other areas' values around its own, which stays put "
                f"(seed {self.seed}), in which I came out at least as far from its average as the real I, higher or "
                "lower"
            )
        if self.statistic == "local_moran_rate":
            test = ("The rates are first adjusted for the size of each area's child population (Assunção-Reis), so "
                    "small areas' noisy rates do not stand out by chance. " + test)
        text = (
            f"Each area is compared with {params['neighbours']}. {test}. The real arrangement counts as one of the "
            f"reshuffles, so the smallest possible p-value is 1 in {permutations + 1:,} ({self.p_floor:.6f}). "
            f"Because {tested} areas were tested at once, the p-values were corrected for multiple testing "
            "(Benjamini-Hochberg false discovery rate), so among areas called significant at 95% no more than about "
            "5% are expected to be false alarms. "
        )
        need_95, need_99 = int(params["permutations_for_95"]), int(params["permutations_for_99"])
        text += (f"After that correction, even the strongest area can reach 95% confidence only with at least "
                 f"{need_95:,} reshuffles, and 99% only with at least {need_99:,}; this run used {permutations:,}")
        if permutations < need_95:
            text += ", too few for any area to be called significant at 95%."
        elif permutations < need_99:
            text += ", too few for the 99% label."
        else:
            text += "."
        if self.islands:
            text += f" {len(self.islands)} area(s) with no neighbour were not tested."
        if self.components:
            text += (f" {len(self.components)} group(s) of areas are detached from the rest and only compared within "
                     "their group.")
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


def _binary(w: lpw.W) -> sp.csr_matrix:
    """The weights as a 0/1 sparse matrix in `w.id_order` (no self-links)."""
    matrix = w.sparse.tocsr().astype(float)
    matrix.data[:] = 1.0
    return matrix


def _first_of_orderings(rng: np.random.Generator, n: int, m: int, rows: int) -> np.ndarray:
    """The first m entries of `rows` independent, uniformly random orderings of 0..n-1 (partial Fisher-Yates)."""
    if 4 * m > n:
        return rng.permuted(np.broadcast_to(np.arange(n, dtype=np.int32), (rows, n)), axis=1)[:, :m]
    order = np.broadcast_to(np.arange(n, dtype=np.int32), (rows, n)).copy()
    row = np.arange(rows)
    for j in range(m):
        pick = rng.integers(j, n, rows)
        first = order[row, j].copy()
        order[row, j] = order[row, pick]
        order[row, pick] = first
    return order[:, :m]


def _chunks(permutations: int, n: int) -> list[int]:
    """Permutation batch sizes that keep each batch's arrays to about two million numbers."""
    size = max(1, 2_000_000 // max(n, 1))
    return [min(size, permutations - start) for start in range(0, permutations, size)]


def _tolerance(y: np.ndarray) -> float:
    """How far two sums of the same values may differ by rounding alone (ties count as 'as extreme')."""
    return 1e-9 * max(1.0, float(np.abs(y).sum()))


def _gi_star(y: np.ndarray, w: lpw.W, permutations: int, seed: int) -> tuple[np.ndarray, ...]:
    """Gi* (binary weights with self) with its analytic z and a two-sided total-randomisation p-value.

    Gi*_i is the sum S_i of the k_i values in area i's neighbourhood (itself included) over the sum of all values.
    Under a random reshuffle of every value (the area's own too) S_i is the sum of k_i values drawn without
    replacement, so areas with the same k_i share one reference distribution; the first k values of one random
    ordering give every k at once. The z-score uses that distribution's exact mean k*ybar and variance
    k(n-k)/(n-1)*s^2 (Getis and Ord 1992), and p = (b+1)/(R+1) where b counts reshuffles whose sum is at least as
    far from k*ybar as the observed one (Phipson and Smyth 2010).
    """
    n = len(y)
    within = _binary(w) + sp.identity(n, format="csr")
    k = np.asarray(within.sum(axis=1)).ravel().astype(int)
    observed = within @ y
    mean, s = y.mean(), y.std()
    centre = k * mean
    spread = s * np.sqrt(k * (n - k) / (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(spread > 0, (observed - centre) / spread, 0.0)
    distance = np.abs(observed - centre)
    tol = _tolerance(y)
    tested = k > 1
    sizes = np.unique(k[tested])
    extreme = np.zeros(n)
    rng = np.random.default_rng(seed)
    for rows in _chunks(permutations, n):
        draws = y[_first_of_orderings(rng, n, int(sizes.max(initial=1)), rows)]
        sums = np.cumsum(draws, axis=1)
        for size in sizes:
            reference = np.sort(np.abs(sums[:, size - 1] - size * mean))
            areas = np.flatnonzero(tested & (k == size))
            extreme[areas] += rows - np.searchsorted(reference, distance[areas] - tol, side="left")
    p = (extreme + 1) / (permutations + 1)
    total = y.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        values = observed / total if total != 0 else np.full(n, np.nan)
    return values, z, p, np.where(z > 0, 1, -1)


def _outside(reference: np.ndarray, centre: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """How many of the sorted `reference` sums lie at least `distance` from `centre` (either side)."""
    below = np.searchsorted(reference, centre - distance, side="right")
    inside = np.searchsorted(reference, centre + distance, side="left") - below
    return np.where(distance > 0, len(reference) - np.maximum(inside, 0), len(reference))


def _local_moran(y: np.ndarray, w: lpw.W, permutations: int, seed: int) -> tuple[np.ndarray, ...]:
    """Anselin's local I (row-standardised weights) with a two-sided conditional-randomisation p-value.

    Each area's own value is held and the other n-1 values are reshuffled around it (esda's Moran_Local null), so
    I_i moves only with S_i, the sum of k_i of the other values drawn without replacement. One random ordering of
    all n areas serves every area: its neighbours are the first k_i entries, or, when area i itself is among them,
    the first k_i + 1 without it. p = (b+1)/(R+1), b counting reshuffles whose S_i is at least as far from its exact
    mean as the observed one; z uses that null's exact mean and variance.
    """
    n = len(y)
    binary = _binary(w)
    k = np.asarray(binary.sum(axis=1)).ravel().astype(int)
    z = y - y.mean()
    m2 = (z**2).sum() / (n - 1)
    tested = (k > 0) & (z != 0)  # an area at the mean has I = 0 whatever its neighbours: p = 1
    if m2 == 0:  # every area has the same value: nothing stands out
        zeros = np.zeros(n)
        return zeros, zeros, np.ones(n), np.where(k > 0, 3, 0)
    observed = binary @ z
    lag = np.where(k > 0, observed / np.maximum(k, 1), 0.0)
    local_i = z * lag / m2
    others_mean = -z / (n - 1)
    others_variance = ((z**2).sum() - z**2) / (n - 1) - others_mean**2
    centre = k * others_mean
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(k * others_variance * (n - 1 - k) / (n - 2))
        z_score = np.where(tested & (spread > 0), np.sign(z) * (observed - centre) / spread, 0.0)
    distance = np.abs(observed - centre) - _tolerance(z)
    first = int(k.max()) + 1
    extreme = np.zeros(n)
    rng = np.random.default_rng(seed)
    for rows in _chunks(permutations, n):
        order = _first_of_orderings(rng, n, first, rows)
        sums = np.concatenate([np.zeros((rows, 1)), np.cumsum(z[order], axis=1)], axis=1)
        for size in np.unique(k[tested]):
            areas = np.flatnonzero(tested & (k == size))
            extreme[areas] += _outside(np.sort(sums[:, size]), centre[areas], distance[areas])
        # rows where area i drew itself among its first k_i: its true sum skips itself and takes one more
        row, step = np.nonzero(np.arange(first)[None, :] < k[order])
        area = order[row, step]
        keep = tested[area]
        row, area = row[keep], area[keep]
        wrong = np.abs(sums[row, k[area]] - centre[area]) >= distance[area]
        right = np.abs(sums[row, k[area] + 1] - z[area] - centre[area]) >= distance[area]
        extreme += np.bincount(area, weights=right.astype(float) - wrong, minlength=n)
    p = np.where(tested, (extreme + 1) / (permutations + 1), 1.0)
    quadrant = np.select([(z > 0) & (lag > 0), (z <= 0) & (lag > 0), (z <= 0) & (lag <= 0)], [1, 2, 3], 4)
    return local_i, z_score, p, quadrant


def assuncao_reis_rate(events: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Empirical Bayes standardised rates (Assunção and Reis 1999), as esda's Moran_Local_Rate(adjusted=True).

    (rate - b) / sqrt(a + b / population): small areas' noisy rates count for less, so local Moran's I on rates
    is not driven by the variance of small populations.
    """
    events = np.asarray(events, dtype=float)
    population = np.asarray(population, dtype=float)
    if (population <= 0).any():
        raise ValueError("Every area needs a positive population for a rate-adjusted local Moran's I.")
    rate = events / population
    b = events.sum() / population.sum()
    s2 = (population * (rate - b) ** 2).sum() / population.sum()
    a = s2 - b / population.mean()
    variance = np.where(a + b / population < 0, b / population, a + b / population)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(variance > 0, (rate - b) / np.sqrt(variance), 0.0)


STATISTICS: dict[str, Callable[[np.ndarray, lpw.W, int, int], tuple[np.ndarray, ...]]] = {
    "gi_star": _gi_star,
    "local_moran": _local_moran,
    "local_moran_rate": _local_moran,
}
STATISTIC_TITLES = {"gi_star": "Getis-Ord Gi*", "local_moran": "Local Moran's I"}  # what the page and CLI offer
# every statistic `hotspots` runs; the rate-adjusted form needs counts and children, so callers opt in to it
ALL_STATISTIC_TITLES = {**STATISTIC_TITLES, "local_moran_rate": "Local Moran's I on rates (Assunção-Reis adjusted)"}
P_VALUES = {
    "gi_star": "two-sided, total randomisation: (b+1)/(R+1), b = reshuffles of all values (the area's own "
               "included) whose neighbourhood sum is at least as far from its mean as the observed one",
    "local_moran": "two-sided, conditional randomisation: (b+1)/(R+1), b = reshuffles of the other areas' values "
                   "(the area's own held) whose I is at least as far from its mean as the observed one",
}


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


def permutations_needed(areas: int, level: float) -> int:
    """The fewest permutations whose smallest p-value, 1/(R+1), can pass Benjamini-Hochberg at `level` over `areas`."""
    return max(99, int(np.ceil(areas / (1 - level) - 1 - 1e-9)))


def hotspots(
    y: np.ndarray | pd.Series,
    w: lpw.W,
    codes: pd.Index | None = None,
    statistic: str = "gi_star",
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    neighbours: str = WEIGHT_TITLES["queen"],
    population: np.ndarray | pd.Series | None = None,
) -> HotspotResult:
    """Run one local statistic on `y` over weights `w`, with FDR control.

    `gi_star` and `local_moran` test `y` as given; `local_moran_rate` takes `y` as counts and `population` as the
    children at risk, and tests their Assunção-Reis standardised rates.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"Unknown statistic '{statistic}'; valid statistics are {sorted(STATISTICS)}.")
    y = np.asarray(y, dtype=float)
    if len(y) != w.n:
        raise ValueError(f"y has {len(y)} values but the weights cover {w.n} areas.")
    if np.isnan(y).any():
        raise ValueError(f"y has {int(np.isnan(y).sum())} missing value(s); every area needs a value.")
    if permutations < 99:
        raise ValueError(f"permutations must be at least 99; got {permutations}.")
    if statistic == "local_moran_rate":
        if population is None or len(population) != len(y):
            raise ValueError("The rate-adjusted local Moran's I needs each area's child population.")
        y = assuncao_reis_rate(y, np.asarray(population, dtype=float))
    codes = pd.Index(range(len(y))) if codes is None else pd.Index(codes)
    values, z, p, direction = STATISTICS[statistic](y, w, permutations, seed)
    tested = np.array([w.cardinalities[i] > 0 for i in w.id_order])
    p = np.where(tested, p, np.nan)
    p_fdr = fdr_adjust(p)
    level = confidence(p_fdr)
    islands, components = _graph_facts(w, codes)
    z = np.where(tested, z, np.nan)
    values = np.where(tested, values, np.nan)
    m = int(tested.sum())
    parameters = {
        "statistic": ALL_STATISTIC_TITLES[statistic], "permutations": permutations, "neighbours": neighbours,
        "p_value": P_VALUES["gi_star" if statistic == "gi_star" else "local_moran"],
        "p_floor": 1 / (permutations + 1),
        "multiple_testing": "Benjamini-Hochberg FDR across tested areas",
        "permutations_for_95": permutations_needed(m, 0.95), "permutations_for_99": permutations_needed(m, 0.99),
        "weights": "binary; Gi* includes the area itself" if statistic == "gi_star" else "row-standardised",
    }
    if statistic == "local_moran_rate":
        parameters["variable"] = "Assunção-Reis empirical Bayes standardised rate"
    return HotspotResult(
        codes=codes, y=y, statistic=statistic, values=np.asarray(values, dtype=float), z=np.asarray(z, dtype=float),
        p=p, p_fdr=p_fdr, labels=_labels(statistic, direction, level, tested), confidence=level, seed=seed,
        parameters=parameters, islands=islands, components=components,
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
    """Filtered episodes per area (zeros included; `ehmap.ranking.episodes_by_area`), and how many fall in no area."""
    chosen = case_filter.apply(cases)
    counts = episodes_by_area(chosen, areas).astype("int64")
    return counts, len(chosen) - int(counts.sum())


def area_children(areas: AreaSet, population: pd.DataFrame) -> pd.Series:
    """Children aged 0-17 per area (`ehmap.ranking.children_by_area`); refuses areas with none, whose rates cannot
    exist."""
    children = children_by_area(areas, population).astype(float)
    if (children <= 0).any():
        empty = list(children.index[children <= 0][:5])
        raise ValueError(f"{int((children <= 0).sum())} area(s) have no child population (e.g. {empty}); "
                         "rates cannot be computed.")
    return children


def smoothed_rate(counts: np.ndarray, children: np.ndarray, w: lpw.W, smoothing: str = "global") -> np.ndarray:
    """Empirical Bayes smoothed rate per 1,000 children, towards the council ('global') or the neighbours ('local')."""
    if smoothing not in SMOOTHING:
        raise ValueError(f"Unknown smoothing '{smoothing}'; valid smoothing is {list(SMOOTHING)}.")
    estimate = eb_global(counts, children) if smoothing == "global" else eb_local(counts, children, w.sparse)
    return estimate.smoothed * PER_CHILDREN


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
    """Count filtered episodes per area, derive rates and EB-smoothed rates, and run the statistic on true counts."""
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
    w = spatial_weights(areas.neighbour_areas, weights, k=k, threshold=threshold)
    if population is not None:
        children = area_children(areas, population)
        rate = counts / children * PER_CHILDREN
        smoothed = pd.Series(smoothed_rate(counts.to_numpy(), children.to_numpy(), w, smoothing), index=codes)
    y = {"count": counts.astype(float), "rate": rate, "smoothed_rate": smoothed}[measure]
    neighbours = WEIGHT_TITLES[weights].replace("the k nearest", f"the {k} nearest") if weights != "distance_band" \
        else f"areas whose interior points are within {threshold:,.0f} m"
    if statistic == "local_moran_rate":  # the Assunção-Reis standardised rate of the counts, whatever the measure
        if population is None:
            raise ValueError("The statistic 'local_moran_rate' needs the child population.")
        result = hotspots(counts.to_numpy(), w, codes, statistic, permutations, seed, neighbours, children.to_numpy())
    else:
        result = hotspots(y.to_numpy(), w, codes, statistic, permutations, seed, neighbours)
    table["count"] = counts.to_numpy()
    table["small"] = small(counts).to_numpy()
    table["children"] = children.to_numpy()
    for column, values in rates(counts, children).items():
        table[column] = values.to_numpy()
    table["smoothed_rate"] = smoothed.round(1).to_numpy()
    table["statistic"] = np.round(result.values, 4)
    table["z"] = np.round(result.z, 2)
    table["p"] = np.round(result.p, 6)  # the floor 1/(R+1) stays visible (0.00001 at 99,999)
    table["p_fdr"] = np.round(result.p_fdr, 6)
    table["label"] = result.labels
    return HotspotTable(table, result, measure, smoothing, areas.rule, outside)


# --- map colours ---------------------------------------------------------------------------------

# ColorBrewer RdBu: red for hot / High-High, blue for cold / Low-Low, darker = more confident; not significant
# grey, not tested white. Any two differ by CIEDE2000 >= 11 under protan, deutan and tritan simulation
# (tests/test_palettes.py).
LABEL_COLOURS = {
    "hot spot (99% confidence)": "#b2182b", "hot spot (95% confidence)": "#d6604d", "hot spot (90% confidence)": "#f4a582",
    "cold spot (99% confidence)": "#2166ac", "cold spot (95% confidence)": "#4393c3", "cold spot (90% confidence)": "#92c5de",
    "High-High": "#b2182b", "High-Low": "#f4a582", "Low-High": "#92c5de", "Low-Low": "#2166ac",
    NOT_SIGNIFICANT: "#cccccc", NOT_TESTED: "#ffffff",
}


def _label_colour(label: str) -> str:
    return LABEL_COLOURS.get(label) or LABEL_COLOURS[label.split(" (")[0]]


def label_choropleth(labels: pd.Series) -> Choropleth:
    """Fill colours by hot spot label, and a legend of the labels present (plus 'not significant')."""
    colours = labels.map(_label_colour)
    order = list(LABEL_COLOURS)
    present = sorted(set(labels) | {NOT_SIGNIFICANT}, key=lambda label: order.index(label) if label in order else order.index(label.split(" (")[0]))
    return Choropleth(colours, [LegendEntry(_label_colour(label), label) for label in present])
