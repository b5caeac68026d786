"""Hot spot statistics (ehmap.hotspots): Gi* and local Moran pinned to esda's documented example, hand
calculations and, on the real Croydon demo, independently built neighbours and a fixed seed."""

from __future__ import annotations

import itertools

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose
from scipy.stats import chisquare, false_discovery_control

from ehmap.areas import lsoa_area_set, ward_area_set
from ehmap.config import pseudonymisation_key
from ehmap.demo import load_demo
from ehmap.hotspots import (
    DEFAULT_PERMUTATIONS,
    NOT_TESTED,
    _first_of_orderings,
    confidence,
    fdr_adjust,
    hotspot_table,
    hotspots,
    permutations_needed,
    spatial_weights,
)
from ehmap.indicators import child_population
from ehmap.needmap import CaseFilter
from ehmap.taxonomy import NEED_BITS

CROYDON = "E09000008"
# esda.G_Local's documented example (esda/getisord.py docstring)
POINTS = [(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)]
Y = np.array([2, 3, 3.2, 5, 8, 7])
DOCUMENTED_GI_STAR_Z = [-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088, 2.02424331]


def small_layout() -> libpysal.weights.W:
    return libpysal.weights.DistanceBand(POINTS, threshold=15, silence_warnings=True)


def hand_gi_star_z(y: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """Getis and Ord (1992/1995) Gi* z-score with binary weights including the area itself."""
    w = adjacency + np.eye(len(y))
    n = len(y)
    mean = y.mean()
    s = np.sqrt((y**2).mean() - mean**2)
    wi = w.sum(axis=1)
    return (w @ y - mean * wi) / (s * np.sqrt((n * (w**2).sum(axis=1) - wi**2) / (n - 1)))


def hand_local_moran(y: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """Anselin's local I with row-standardised weights and the variance on n - 1 (as esda)."""
    z = y - y.mean()
    w = adjacency / adjacency.sum(axis=1, keepdims=True)
    return z * (w @ z) / ((z**2).sum() / (len(y) - 1))


def test_gi_star_reproduces_esdas_documented_example_and_the_hand_formula():
    result = hotspots(Y, small_layout(), statistic="gi_star", permutations=999, seed=10)
    assert_allclose(result.z, DOCUMENTED_GI_STAR_Z, rtol=1e-7)
    assert_allclose(result.z, hand_gi_star_z(Y, small_layout().full()[0]), rtol=1e-10)
    assert_allclose(result.values, (small_layout().full()[0] + np.eye(6)) @ Y / Y.sum(), rtol=1e-12)
    assert result.seed == 10 and result.parameters["permutations"] == 999


def exact_p_total(y: np.ndarray, size: int, observed: float) -> float:
    """Gi*'s exact two-sided p under total randomisation: the share of all size-subsets of y whose sum is at least
    as far from its mean as the observed neighbourhood sum (every subset is equally likely under a reshuffle)."""
    sums = np.array([sum(c) for c in itertools.combinations(y, size)])
    centre = size * y.mean()
    return float(np.mean(np.abs(sums - centre) >= abs(observed - centre) - 1e-9))


def exact_conditional(y: np.ndarray, i: int, size: int, observed: float) -> tuple[float, float]:
    """Local Moran's exact two-sided p and z under conditional randomisation (area i held, the others reshuffled),
    by listing every size-subset of the other areas (in deviations from the mean)."""
    z = y - y.mean()
    others = np.delete(z, i)
    sums = np.array([sum(c) for c in itertools.combinations(others, size)])
    centre = sums.mean()
    p = float(np.mean(np.abs(sums - centre) >= abs(observed - centre) - 1e-9))
    return p, float(np.sign(z[i]) * (observed - centre) / sums.std())


def monte_carlo_close(estimate: float, exact: float, permutations: int) -> bool:
    """A permutation p-value within five standard errors (plus the +1 of (b+1)/(R+1)) of the exact p."""
    return abs(estimate - exact) <= 5 * np.sqrt(exact * (1 - exact) / permutations) + 2 / (permutations + 1)


def test_gi_star_p_is_the_exact_total_randomisation_p_for_esdas_example():
    """Every area's p against the enumerated reference: reshuffling all six values, the area's own included."""
    result = hotspots(Y, small_layout(), permutations=99_999, seed=10)
    within = small_layout().full()[0] + np.eye(6)
    for i, size in enumerate(within.sum(axis=1).astype(int)):
        exact = exact_p_total(Y, size, within[i] @ Y)
        assert monte_carlo_close(result.p[i], exact, 99_999), (i, result.p[i], exact)
    assert_z_and_p_agree(result, within.sum(axis=1))


def assert_z_and_p_agree(result, sizes: np.ndarray) -> None:
    """z and p answer the same question: among areas with the same neighbourhood size, a larger |z| never has a
    larger p (they share one reference distribution)."""
    for size in np.unique(sizes):
        same = np.flatnonzero((sizes == size) & ~np.isnan(result.p))
        order = same[np.argsort(-np.abs(result.z[same]), kind="stable")]
        assert (np.diff(result.p[order]) >= -1e-12).all(), size


def test_local_moran_matches_the_hand_formula_esda_quadrants_and_the_exact_conditional_null():
    result = hotspots(Y, small_layout(), statistic="local_moran", permutations=99_999, seed=10)
    adjacency = small_layout().full()[0]
    assert_allclose(result.values, hand_local_moran(Y, adjacency), rtol=1e-10)
    lisa = esda.Moran_Local(Y, small_layout(), transformation="r", permutations=99, seed=10, n_jobs=1)
    assert_allclose(result.values, lisa.Is, rtol=1e-10)
    assert list(result.labels) == ["not significant"] * 6
    z = Y - Y.mean()
    for i in range(6):
        size = int(adjacency[i].sum())
        p, z_exact = exact_conditional(Y, i, size, adjacency[i] @ z)
        assert monte_carlo_close(result.p[i], p, 99_999), (i, result.p[i], p)
        assert result.z[i] == pytest.approx(z_exact, rel=1e-9)
    # Area 2 (y = 3.2) has one neighbour, the highest value (8). Held fixed, its I is the lowest of the five
    # equally likely I's: exactly 2 in 5 are as far from their mean (two-sided). esda's folded p_sim counts the
    # tie at the observed value on one side only and reports 1/(R+1), which the old labels took for 95%.
    assert exact_conditional(Y, 2, 1, 3.3)[0] == pytest.approx(0.4)
    assert result.p[2] == pytest.approx(0.4, abs=0.005)


def test_p_values_follow_the_seed_and_floor_at_one_over_r_plus_one():
    first = hotspots(Y, small_layout(), permutations=999, seed=7)
    again = hotspots(Y, small_layout(), permutations=999, seed=7)
    other = hotspots(Y, small_layout(), permutations=999, seed=8)
    assert_allclose(first.p, again.p)
    assert not np.allclose(first.p, other.p)
    assert first.p_floor == pytest.approx(1 / 1000)
    assert (first.p >= first.p_floor).all() and first.parameters["p_floor"] == first.p_floor
    assert "1 in 1,000 (0.001000)" in first.explanation()


@pytest.mark.parametrize(("n", "m"), [(12, 2), (5, 2)])  # partial Fisher-Yates, and numpy's full shuffle
def test_the_reshuffles_draw_every_ordered_subset_equally_often(n, m):
    draws = _first_of_orderings(np.random.default_rng(4), n, m, 120_000)
    assert draws.shape == (120_000, m) and (draws[:, 0] != draws[:, 1]).all()
    observed = np.bincount(draws[:, 0] * n + draws[:, 1], minlength=n * n)
    observed = observed[np.arange(n * n) // n != np.arange(n * n) % n]  # the n(n-1) ordered pairs
    assert chisquare(observed).pvalue > 0.001


def test_a_constant_map_has_nothing_significant():
    for statistic in ("gi_star", "local_moran"):
        result = hotspots(np.full(6, 4.0), small_layout(), statistic=statistic, permutations=999)
        assert (result.p == 1).all() and set(result.labels) == {"not significant"}


def test_fdr_adjustment_matches_scipy_and_esdas_cutoff():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.004, 8), rng.uniform(0, 1, 92)])
    adjusted = fdr_adjust(p)
    assert_allclose(adjusted, false_discovery_control(p, method="bh"))
    # hand: the smallest p times m / rank, monotone from the top
    order = np.argsort(p)
    assert adjusted[order[-1]] == pytest.approx(p[order[-1]])
    cutoff = esda.fdr(p, 0.05)
    assert set(np.flatnonzero(p <= cutoff)) == set(np.flatnonzero(adjusted <= 0.05))
    assert np.isnan(fdr_adjust(np.array([0.01, np.nan]))[1])


def test_confidence_levels():
    assert list(confidence(np.array([0.005, 0.01, 0.03, 0.05, 0.08, 0.2, np.nan]))) == [99, 99, 95, 95, 90, 0, 0]  # p <= 1 - level


def squares(columns: int, rows: int, size: float = 100.0, origin=(500_000.0, 180_000.0)) -> list[shapely.Polygon]:
    x0, y0 = origin
    return [shapely.box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
            for j in range(rows) for i in range(columns)]


def test_islands_and_detached_groups_are_named_in_the_result():
    cells = squares(3, 3) + squares(2, 1, origin=(600_000.0, 180_000.0)) + [shapely.box(700_000, 180_000, 700_100, 180_100)]
    codes = [f"A{i}" for i in range(9)] + ["B0", "B1", "ISLE"]
    areas = gpd.GeoDataFrame({"code": codes}, geometry=cells, crs="EPSG:27700")
    w = spatial_weights(areas, "queen")
    result = hotspots(np.arange(12, dtype=float), w, pd.Index(codes), permutations=99, seed=1)
    assert result.islands == ["ISLE"]
    assert result.components == [["B0", "B1"]]
    assert result.labels[-1] == NOT_TESTED and np.isnan(result.p[-1]) and np.isnan(result.z[-1])
    assert "1 area(s) with no neighbour were not tested" in result.explanation()
    assert "1 group(s) of areas are detached" in result.explanation()
    # the corner-only neighbour counts under queen contiguity: centre square touches all 8
    assert w.cardinalities[4] == 8


def test_knn_and_distance_band_options():
    areas = gpd.GeoDataFrame({"code": range(9)}, geometry=squares(3, 3), crs="EPSG:27700")
    assert set(spatial_weights(areas, "knn", k=2).cardinalities.values()) == {2}
    band = spatial_weights(areas, "distance_band", threshold=101)  # rook-like: centres 100 m apart
    assert band.cardinalities[4] == 4
    with pytest.raises(ValueError, match=r"A distance band needs a positive threshold in metres; got None\."):
        spatial_weights(areas, "distance_band")


def test_wrong_names_list_the_valid_choices():
    areas = gpd.GeoDataFrame({"code": range(9)}, geometry=squares(3, 3), crs="EPSG:27700")
    with pytest.raises(ValueError, match=r"Unknown weights 'rook'; valid weights are \['distance_band', 'knn', 'queen'\]\."):
        spatial_weights(areas, "rook")
    valid = r"valid statistics are \['gi_star', 'local_moran', 'local_moran_rate'\]\."
    with pytest.raises(ValueError, match=r"Unknown statistic 'gi'; " + valid):
        hotspots(Y, small_layout(), statistic="gi")
    with pytest.raises(ValueError, match=r"reproject them to EPSG:27700 first"):
        spatial_weights(areas.set_crs("EPSG:4326", allow_override=True))
    with pytest.raises(ValueError, match=r"The areas have no CRS; expected EPSG:27700\."):
        spatial_weights(gpd.GeoDataFrame({"code": range(9)}, geometry=squares(3, 3)))


# --- the real Croydon demo ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_cases(directory, council_names):
    return load_demo(directory, council_names, pseudonymisation_key()).cases


@pytest.fixture(scope="module")
def croydon_lsoas():
    return lsoa_area_set(CROYDON)


def independent_queen(areas: gpd.GeoDataFrame) -> np.ndarray:
    """Queen neighbours found with shapely alone: polygons that share at least one point."""
    tree = shapely.STRtree(areas.geometry.values)
    i, j = tree.query(areas.geometry.values, predicate="intersects")
    adjacency = np.zeros((len(areas), len(areas)))
    adjacency[i[i != j], j[i != j]] = 1
    return adjacency


def test_croydon_gi_star_on_the_true_counts_against_independent_neighbours(demo_cases, croydon_lsoas):
    """The team's Gi* z-scores equal the textbook formula on the true rates with neighbours found by shapely alone."""
    population = child_population()
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(need="substance_use"), population,
                          measure="rate", statistic="gi_star", permutations=999, seed=12345)
    result = table.result
    adjacency = independent_queen(croydon_lsoas.areas)
    assert adjacency.sum() == 1214  # 607 shared borders or corners among Croydon's 220 LSOAs
    needs = pd.Series((demo_cases["needs_mask"] & NEED_BITS["substance_use"]).to_numpy() > 0)
    counts = needs.groupby(demo_cases["lsoa11cd"].astype(str).to_numpy()).sum()
    children = population.set_index("lsoa11cd")["children"]
    codes = croydon_lsoas.areas["code"]
    counts = counts.reindex(codes, fill_value=0).to_numpy()
    assert ((counts >= 1) & (counts <= 5)).sum() > 10  # small counts are used as they are, never replaced
    rate = counts / children.reindex(codes).to_numpy() * 1000
    assert_allclose(result.y, rate, rtol=1e-12)
    assert_allclose(result.z, hand_gi_star_z(rate, adjacency), rtol=1e-9)
    assert_allclose(table.areas["count"], counts)
    labels = pd.Series(result.labels, index=codes)
    significant = labels != "not significant"
    assert (result.p_fdr[significant.to_numpy()] <= 0.10 + 1e-12).all()
    assert labels[significant & (result.z > 0)].str.startswith("hot").all()
    assert np.nanmin(result.p) >= result.p_floor == pytest.approx(0.001)


def test_croydon_smoothed_rates_are_marshalls_estimator_on_the_true_counts(demo_cases, croydon_lsoas):
    """Empirical Bayes (Marshall 1991, method of moments, as spdep EBest) worked by hand on the exact counts."""
    population = child_population()
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(need="domestic_abuse"), population, permutations=99)
    needs = pd.Series((demo_cases["needs_mask"] & NEED_BITS["domestic_abuse"]).to_numpy() > 0)
    counts = needs.groupby(demo_cases["lsoa11cd"].astype(str).to_numpy()).sum()
    codes = croydon_lsoas.areas["code"]
    events = counts.reindex(codes, fill_value=0).to_numpy(dtype=float)
    children = population.set_index("lsoa11cd")["children"].reindex(codes).to_numpy(dtype=float)
    b = events.sum() / children.sum()
    s2 = (children * (events / children - b) ** 2).sum() / children.sum()
    a = max(s2 - b / children.mean(), 0.0)
    by_hand = (b + a / (a + b / children) * (events / children - b)) * 1000
    assert_allclose(table.areas["smoothed_rate"], np.round(by_hand, 1))
    assert_allclose(table.result.y, by_hand, rtol=1e-9)


def test_croydon_default_is_smoothed_rate_and_fdr_removes_chance_findings(demo_cases, croydon_lsoas):
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(), child_population(), seed=12345)
    assert table.measure == "smoothed_rate" and table.smoothing == "global"
    result = table.result
    assert result.parameters["permutations"] == DEFAULT_PERMUTATIONS == 99_999
    raw_significant = int((result.p < 0.05).sum())
    assert raw_significant > 10  # uncorrected, many areas look significant ...
    assert int((result.p_fdr < 0.05).sum()) < raw_significant  # ... fewer survive the correction across 220 areas
    assert (result.p_fdr >= result.p - 1e-12).all()
    assert table.areas["p"].min() >= result.p_floor == pytest.approx(1e-5)  # the table never rounds p to 0
    for level, floor in [(99, 0.0), (95, 0.01), (90, 0.05)]:
        labelled = np.char.endswith(result.labels.astype(str), f"({level}% confidence)")
        assert ((result.p_fdr[labelled] > floor - 1e-12) & (result.p_fdr[labelled] <= 1 - level / 100 + 1e-12)).all()
        assert (result.confidence[labelled] == level).all()
    # 99,999 reshuffles are enough for every label: 220 areas need 4,399 for 95% and 21,999 for 99%
    assert (result.parameters["permutations_for_95"], result.parameters["permutations_for_99"]) == (4_399, 21_999)
    assert ("even the strongest area can reach 95% confidence only with at least 4,399 reshuffles, and 99% only "
            "with at least 21,999; this run used 99,999.") in result.explanation()


def test_too_few_permutations_are_named_in_the_explanation(croydon_lsoas):
    w = spatial_weights(croydon_lsoas.areas)
    y = np.arange(220, dtype=float)
    assert permutations_needed(220, 0.95) == 4_399  # 1/(R+1) <= 0.05/220
    assert "this run used 999, too few for any area to be called significant at 95%." in \
        hotspots(y, w, permutations=999).explanation()
    assert "this run used 9,999, too few for the 99% label." in hotspots(y, w, permutations=9_999).explanation()


def gi_star_by_brute_force(y: np.ndarray, within: np.ndarray, areas: list[int], permutations: int,
                           seed: int) -> np.ndarray:
    """Gi*'s two-sided p by an explicit loop: reshuffle every value (the area's own too), recompute each sum."""
    rng = np.random.default_rng(seed)
    centre = within[areas].sum(axis=1) * y.mean()
    observed = np.abs(within[areas] @ y - centre)
    extreme = np.zeros(len(areas))
    for _ in range(permutations):
        extreme += np.abs(within[areas] @ rng.permutation(y) - centre) >= observed - 1e-9
    return (extreme + 1) / (permutations + 1)


def test_croydon_gi_star_p_against_a_brute_force_loop_and_esdas_z(demo_cases, croydon_lsoas):
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(), child_population(), "rate", seed=3)
    result = table.result
    within = independent_queen(croydon_lsoas.areas) + np.eye(220)
    g = esda.G_Local(result.y, spatial_weights(croydon_lsoas.areas), transform="B", star=True, permutations=0)
    assert_allclose(result.z, g.Zs, rtol=1e-9)
    assert_z_and_p_agree(result, within.sum(axis=1))
    areas = [int(np.argmax(result.z)), int(np.argmin(result.z)), int(np.argsort(result.z)[150]), 7]
    loop = gi_star_by_brute_force(result.y, within, areas, 4_000, seed=99)
    for fast, slow in zip(result.p[areas], loop, strict=True):
        assert abs(fast - slow) <= 5 * np.sqrt(slow * (1 - slow) * (1 / 4_000 + 1 / 99_999)) + 1 / 4_001, (fast, slow)


def test_an_areas_own_value_moves_its_gi_star_p(demo_cases, croydon_lsoas):
    """The bug in issue 14: with the area's own value held, ten times its rate left p unchanged."""
    w = spatial_weights(croydon_lsoas.areas)
    y = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(), child_population(), "rate", permutations=99).result.y
    before = hotspots(y, w, permutations=9_999, seed=1)
    i = int(np.argmin(np.abs(before.p - 0.5)))  # an unremarkable area
    raised = y.copy()
    raised[i] = 10 * y.max()
    after = hotspots(raised, w, permutations=9_999, seed=1)
    assert after.z[i] > 3 and before.p[i] > 0.4
    # only a reshuffle that puts the giant value among the area's k places can be as extreme: p <= k/n
    k = w.cardinalities[i] + 1
    assert after.p[i] < min(before.p[i] / 10, k / 220)
    loop = gi_star_by_brute_force(raised, independent_queen(croydon_lsoas.areas) + np.eye(220), [i], 4_000, seed=2)[0]
    assert abs(after.p[i] - loop) <= 5 * np.sqrt(loop * (1 - loop) * (1 / 4_000 + 1 / 9_999)) + 1 / 4_001
    # esda's G_Local holds the area's own value and reshuffles the rest: its p for Gi* cannot see the change
    held = [esda.G_Local(values, spatial_weights(croydon_lsoas.areas), transform="B", star=True, permutations=999,
                         seed=1, n_jobs=1).p_sim[i] for values in (y, raised)]
    assert held[0] == held[1]


def test_croydon_local_moran_against_esdas_own_reshuffles(demo_cases, croydon_lsoas):
    """Same I and quadrants as esda's Moran_Local; p agrees with the same two-sided rule applied to esda's own
    conditional reshuffles (its `sim`), within Monte Carlo error."""
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(), child_population(), "rate", "local_moran",
                          permutations=99_999, seed=5)
    result = table.result
    lisa = esda.Moran_Local(result.y, spatial_weights(croydon_lsoas.areas), transformation="r", permutations=999,
                            seed=5, n_jobs=1)
    assert_allclose(result.values, lisa.Is, rtol=1e-9)
    quadrant = pd.Series(lisa.q).map({1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"})
    labelled = result.labels != "not significant"
    assert all(label.startswith(q) for label, q in zip(result.labels[labelled], quadrant[labelled], strict=True))
    centre = -(lisa.z**2) / (len(lisa.z) - 1)  # the exact mean of I_i when the others are reshuffled
    esda_p = ((np.abs(lisa.sim - centre) >= np.abs(lisa.Is - centre) - 1e-9).sum(axis=0) + 1) / 1_000
    tolerance = 5 * np.sqrt(esda_p * (1 - esda_p) * (1 / 999 + 1 / 99_999)) + 2 / 1_000
    assert (np.abs(result.p - esda_p) <= tolerance).all()
    assert np.corrcoef(result.z, lisa.z_sim)[0, 1] > 0.99


def test_rate_adjusted_local_moran_is_esdas_moran_local_rate(demo_cases, croydon_lsoas):
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(need="domestic_abuse"), child_population(),
                          "rate", "local_moran_rate", permutations=9_999, seed=5)
    children = table.areas["children"].to_numpy()
    lisa = esda.Moran_Local_Rate(table.areas["count"].to_numpy(), children, spatial_weights(croydon_lsoas.areas),
                                 adjusted=True, permutations=99, seed=5)
    assert_allclose(table.result.y, lisa.y, rtol=1e-12)
    assert_allclose(table.result.values, lisa.Is, rtol=1e-9)
    assert table.result.parameters["variable"] == "Assunção-Reis empirical Bayes standardised rate"
    assert "Assunção-Reis" in table.result.explanation()
    with pytest.raises(ValueError, match="needs the child population"):
        hotspot_table(demo_cases, croydon_lsoas, CaseFilter(), None, "count", "local_moran_rate")


def test_team_table_shows_every_count_and_score_and_flags_small_counts(demo_cases, croydon_lsoas):
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(need="domestic_abuse"), child_population(),
                          permutations=99)
    small = table.areas["small"]
    assert small.sum() > 10
    assert table.areas.loc[small, "count"].between(1, 5).all()
    scores = ["rate", "rate_lower", "rate_upper", "smoothed_rate", "statistic", "z", "p", "p_fdr"]
    assert table.areas[scores].notna().all().all()
    assert "interpret with care" in table.note


def test_croydon_wards_local_moran(demo_cases):
    wards = ward_area_set(CROYDON)
    table = hotspot_table(demo_cases, wards, CaseFilter(), child_population(), statistic="local_moran", permutations=199, seed=1)
    assert len(table.areas) == 28 and table.outside == 0
    assert table.areas["count"].sum() == len(demo_cases)
    adjacency = independent_queen(wards.neighbour_areas)  # neighbours from the LSOAs counted in each ward
    y = table.result.y
    assert_allclose(table.result.values, hand_local_moran(y, adjacency), rtol=1e-9)
