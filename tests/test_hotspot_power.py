"""Power and error control of the hot spot statistics, by simulation on Croydon's real LSOAs (2011 boundaries) and
real child populations (ONS mid-2020, 0-17): clusters of raised risk planted with Poisson counts are found at an
FDR of 5%, and constant-risk maps seldom have anything called. Everything is seeded; the tolerances are binomial."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import binomtest

from ehmap.areas import lsoa_area_set
from ehmap.hotspots import area_children, hotspots, smoothed_rate, spatial_weights
from ehmap.indicators import child_population

CROYDON = "E09000008"
BASE_RATE = 20 / 1_000  # a year's episodes for one need per child: about 8 in a typical LSOA of 410 children
RELATIVE_RISK = 2.0  # inside the planted cluster: an LSOA and its queen neighbours (about 7 LSOAs)
PERMUTATIONS = 9_999  # over 220 LSOAs the 95% label needs at least 4,399
CLUSTER_MAPS = 200
NULL_MAPS = 400
LEVEL = 95


@dataclass(frozen=True)
class Simulation:
    """What a batch of simulated maps showed at 95% after FDR."""

    maps: int
    found: int  # maps where a planted-cluster LSOA is called a hot spot (Gi*) or High-High (local Moran)
    any_call: int  # maps where any LSOA is called anything
    calls: int  # hot spot / High-High calls in all maps
    stray: int  # of those, calls whose neighbourhood (itself and its neighbours) misses the planted cluster

    def power(self) -> tuple[float, float]:
        """Share of maps whose cluster was found, and its one-sided 95% lower bound (Clopper-Pearson)."""
        test = binomtest(self.found, self.maps)
        return self.found / self.maps, test.proportion_ci(confidence_level=0.90, method="exact").low


@pytest.fixture(scope="module")
def croydon():
    areas = lsoa_area_set(CROYDON)
    children = area_children(areas, child_population()).to_numpy()
    w = spatial_weights(areas.areas)
    return children, w, w.sparse.toarray() > 0


def simulate(croydon, relative_risk: float, maps: int, statistic: str, measure: str, seed: int) -> Simulation:
    """Poisson counts on Croydon's children, a cluster of raised risk around a random LSOA in each map."""
    children, w, adjacency = croydon
    rng = np.random.default_rng(seed)
    found = any_call = calls = stray = 0
    for index in range(maps):
        cluster = np.zeros(len(children), dtype=bool)
        if relative_risk != 1:
            centre = rng.integers(len(children))
            cluster = adjacency[centre].copy()
            cluster[centre] = True
        counts = rng.poisson(children * BASE_RATE * np.where(cluster, relative_risk, 1.0))
        if statistic == "local_moran_rate":
            result = hotspots(counts, w, statistic=statistic, permutations=PERMUTATIONS, seed=index,
                              population=children)
        else:
            y = smoothed_rate(counts, children, w) if measure == "smoothed_rate" else counts / children * 1_000
            result = hotspots(y, w, statistic=statistic, permutations=PERMUTATIONS, seed=index)
        significant = result.confidence >= LEVEL
        hot = result.hot & significant
        near = cluster | adjacency[:, cluster].any(axis=1)
        found += bool((hot & cluster).any())
        any_call += bool(significant.any())
        calls += int(hot.sum())
        stray += int((hot & ~near).sum())
    return Simulation(maps, found, any_call, calls, stray)


def assert_at_most_five_percent(calls: int, maps: int) -> None:
    """Maps with anything called are not more than 5% beyond binomial chance (one-sided, 1% level)."""
    assert binomtest(calls, maps, 0.05, alternative="greater").pvalue > 0.01, f"{calls} of {maps} null maps had a call"


def test_gi_star_on_smoothed_rates_finds_planted_clusters(croydon):
    """The default (Gi* on EB-smoothed rates): a doubled risk over about 7 LSOAs is found in at least 80% of maps."""
    result = simulate(croydon, RELATIVE_RISK, CLUSTER_MAPS, "gi_star", "smoothed_rate", seed=1)
    power, lower = result.power()
    print(f"\nGi* smoothed rate: cluster found in {result.found}/{result.maps} maps ({power:.1%}, lower bound "
          f"{lower:.1%}); {result.stray} of {result.calls} hot spot calls away from the cluster")
    assert lower >= 0.80
    assert result.stray <= 0.05 * result.calls  # the calls are where the raised risk is


def test_gi_star_on_constant_risk_maps_calls_no_more_than_five_percent(croydon):
    smoothed = simulate(croydon, 1.0, NULL_MAPS, "gi_star", "smoothed_rate", seed=2)
    raw = simulate(croydon, 1.0, NULL_MAPS, "gi_star", "rate", seed=3)
    print(f"\nGi* constant risk: smoothed rate {smoothed.any_call}/{smoothed.maps} maps with a call; "
          f"raw rate {raw.any_call}/{raw.maps}")
    assert_at_most_five_percent(smoothed.any_call, smoothed.maps)
    assert_at_most_five_percent(raw.any_call, raw.maps)


def test_rate_adjusted_local_moran_finds_planted_clusters_and_controls_false_calls(croydon):
    """Local Moran's I on Assunção-Reis rates: found in at least 80% of maps (one-sided 95% lower bound), and
    constant-risk maps have a call in no more than about 5%."""
    clustered = simulate(croydon, RELATIVE_RISK, CLUSTER_MAPS, "local_moran_rate", "rate", seed=4)
    null = simulate(croydon, 1.0, CLUSTER_MAPS, "local_moran_rate", "rate", seed=5)
    power, lower = clustered.power()
    print(f"\nLocal Moran (Assunção-Reis rates): cluster found in {clustered.found}/{clustered.maps} maps "
          f"({power:.1%}, lower bound {lower:.1%}); {clustered.stray} of {clustered.calls} High-High calls away from "
          f"the cluster; constant risk {null.any_call}/{null.maps} maps with a call")
    assert lower >= 0.80
    assert clustered.stray <= 0.05 * clustered.calls
    assert_at_most_five_percent(null.any_call, null.maps)
