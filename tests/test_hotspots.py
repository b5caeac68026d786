"""Hot spot statistics (ehmap.hotspots): Gi* and local Moran pinned to esda's documented example, hand
calculations and, on the real Croydon demo, independently built neighbours and a fixed seed."""

from __future__ import annotations

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose
from scipy.stats import false_discovery_control

from ehmap.areas import lsoa_area_set, ward_area_set
from ehmap.config import pseudonymisation_key
from ehmap.demo import load_demo
from ehmap.hotspots import NOT_TESTED, confidence, fdr_adjust, hotspot_table, hotspots, spatial_weights
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


def test_local_moran_matches_the_hand_formula_and_quadrants():
    result = hotspots(Y, small_layout(), statistic="local_moran", permutations=999, seed=10)
    adjacency = small_layout().full()[0]
    assert_allclose(result.values, hand_local_moran(Y, adjacency), rtol=1e-10)
    # Area 2 (y = 3.2, below the mean 4.7) sits next to area 4 (y = 8): Low-High; p = 2 x 0.001, FDR x 6.
    assert_allclose(result.p[2], 0.002)
    assert_allclose(result.p_fdr[2], 0.012)
    assert list(result.labels) == ["not significant"] * 2 + ["Low-High (95% confidence)"] + ["not significant"] * 3


def test_permutation_p_values_are_two_sided_and_follow_the_seed():
    first = hotspots(Y, small_layout(), permutations=999, seed=7)
    again = hotspots(Y, small_layout(), permutations=999, seed=7)
    other = hotspots(Y, small_layout(), permutations=999, seed=8)
    assert_allclose(first.p, again.p)
    assert not np.allclose(first.p, other.p)
    direct = esda.G_Local(Y, small_layout(), transform="B", star=True, permutations=999, seed=7, n_jobs=1)
    assert_allclose(first.p, np.minimum(1, 2 * direct.p_sim))


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
    with pytest.raises(ValueError, match=r"Unknown statistic 'gi'; valid statistics are \['gi_star', 'local_moran'\]\."):
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
    assert np.nanmin(result.p) == pytest.approx(0.002)


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
    table = hotspot_table(demo_cases, croydon_lsoas, CaseFilter(), child_population(), permutations=999, seed=12345)
    assert table.measure == "smoothed_rate" and table.smoothing == "global"
    result = table.result
    raw_significant = int((result.p < 0.05).sum())
    assert raw_significant > 10  # uncorrected, many areas look significant ...
    assert (result.p_fdr >= 0.05).all()  # ... none survives the correction across 220 areas
    assert set(result.labels) == {"not significant"}


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
    adjacency = independent_queen(wards.areas)
    y = table.result.y
    assert_allclose(table.result.values, hand_local_moran(y, adjacency), rtol=1e-9)
