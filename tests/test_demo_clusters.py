"""The demo answers its questions: ehmap finds the domestic-abuse clusters demo/make_demo.py planted, and poverty
needs sit in the most income-deprived deciles, on the real Croydon boundaries, postcodes and reference files."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from ehmap.areas import lsoa_area_set
from ehmap.catalogue import ROOT
from ehmap.config import pseudonymisation_key
from ehmap.context import council_context, poverty_view
from ehmap.demo import DEMO_LA_CODE, load_demo
from ehmap.geography import council_lsoas
from ehmap.hotspots import DEFAULT_PERMUTATIONS, DEFAULT_SEED, hotspot_table
from ehmap.indicators import child_population
from ehmap.needmap import CaseFilter
from ehmap.referral_period import full_span
from ehmap.taxonomy import NEED_BITS


def generator():
    """demo/make_demo.py as a module, for its planted clusters and its docstring."""
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "demo" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_demo():
    return generator()


@pytest.fixture(scope="module")
def cases(directory, council_names):
    return load_demo(directory, council_names, pseudonymisation_key()).cases


@pytest.fixture(scope="module")
def lsoas():
    return lsoa_area_set(DEMO_LA_CODE)


@pytest.fixture(scope="module")
def clusters(make_demo, data_dir: Path) -> dict[str, pd.DataFrame]:
    """Each planted cluster's LSOAs (code, name, ward), read from the ONS ward lookup."""
    lookup = pd.read_csv(data_dir / "lookup_lsoa11_ward19_lad19.csv")
    lookup = lookup[lookup["LAD19CD"] == DEMO_LA_CODE]
    return {name: lookup[lookup["WD19NM"].isin(wards)].rename(
                columns={"LSOA11CD": "code", "LSOA11NM": "name", "WD19NM": "ward"})[["code", "name", "ward"]]
            for name, wards in make_demo.DA_CLUSTERS.items()}


def queen_neighbours(areas) -> dict[str, set[str]]:
    """Each area's neighbours sharing a border or a corner, found with shapely alone."""
    codes = areas.areas["code"].astype(str).to_numpy()
    geometry = areas.areas.geometry.values
    i, j = shapely.STRtree(geometry).query(geometry, predicate="intersects")
    neighbours = {code: set() for code in codes}
    for a, b in zip(i[i != j], j[i != j], strict=True):
        neighbours[codes[a]].add(codes[b])
    return neighbours


def page_defaults(cases: pd.DataFrame, lsoas, need: str | None):
    """ehmap's hot spot analysis as the Hot spots page runs it on opening: full period, LSOAs, smoothed rate, Gi*."""
    start, end = full_span(cases)
    return hotspot_table(cases, lsoas, CaseFilter(need, start, end), child_population(), "smoothed_rate", "gi_star",
                         "queen", 6, 1500.0, DEFAULT_PERMUTATIONS, DEFAULT_SEED, "global")


def test_domestic_abuse_hot_spots_are_where_the_generator_planted_them(cases, lsoas, clusters):
    planted = set(pd.concat(clusters.values())["code"])
    assert 25 <= len(planted) <= 35 and all(5 <= len(c) <= 14 for c in clusters.values())
    hot = set(page_defaults(cases, lsoas, "domestic_abuse").hot_spots()["code"])
    for name, cluster in clusters.items():
        assert hot & set(cluster["code"]), f"no hot spot found in the planted {name} cluster"
    assert len(hot & planted) >= 10 and len(hot & planted) >= 0.8 * len(hot)
    neighbours = queen_neighbours(lsoas)
    near = planted.union(*(neighbours[code] for code in planted))
    far = set(neighbours) - near
    assert len(far) > 100  # most of Croydon is more than one LSOA away from every cluster ...
    assert not hot & far  # ... and none of it is called hot


def test_the_pages_default_lsoa_2021_hot_spots_find_every_planted_cluster_and_nothing_far(cases, clusters, data_dir):
    """The Hot spots page opens on LSOA 2021: the planted LSOAs 2011 carried through the ONS exact-fit lookup are
    found there too, and no hot spot is more than one LSOA 2021 away from them."""
    from ehmap.areas import area_set
    from ehmap.lsoa21 import children_on

    exact = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_exact_fit.csv", dtype=str)
    onto_2021 = exact.groupby("LSOA11CD")["LSOA21CD"].agg(set)
    areas = area_set("lsoa21", DEMO_LA_CODE)
    start, end = full_span(cases)
    children = children_on("lsoa21", child_population())
    result = hotspot_table(cases, areas, CaseFilter("domestic_abuse", start, end), children, "smoothed_rate", "gi_star",
                           "queen", 6, 1500.0, DEFAULT_PERMUTATIONS, DEFAULT_SEED, "global")
    hot = set(result.hot_spots()["code"])
    planted = {name: set().union(*onto_2021.reindex(cluster["code"]).dropna()) for name, cluster in clusters.items()}
    for name, codes in planted.items():
        assert hot & codes, f"no LSOA 2021 hot spot found in the planted {name} cluster"
    everywhere = set().union(*planted.values())
    neighbours = queen_neighbours(areas)
    near = everywhere.union(*(neighbours[code] for code in everywhere))
    assert len(set(neighbours) - near) > 100 and not hot - near


def test_the_hot_spots_reading_names_the_planted_wards(cases, lsoas, clusters):
    """The page's reading, as the team sees it on opening with domestic abuse chosen, names every planted ward."""
    from ehmap.areas import ward_area_set
    from ehmap.views.hotspots import team_hotspots

    start, end = full_span(cases)
    view = team_hotspots(cases, lsoas, "domestic_abuse", start, end, child_population(), "smoothed_rate", "gi_star",
                         lsoa_wards=ward_area_set(DEMO_LA_CODE).area_names())
    assert "stand out as hot spots" in view.reading
    for ward in set(pd.concat(clusters.values())["ward"]):
        assert ward in view.reading, f"the reading does not name {ward}: {view.reading}"


def test_planted_lsoas_have_several_times_the_domestic_abuse_rate(cases, clusters):
    """The planted effect is strong: about 4x other LSOAs in the most deprived IDACI decile, more elsewhere."""
    planted = set(pd.concat(clusters.values())["code"])
    children = child_population().set_index("lsoa11cd")["children"]
    croydon = council_lsoas(DEMO_LA_CODE)["lsoa11cd"].astype(str)
    da = ((cases["needs_mask"].to_numpy() & NEED_BITS["domestic_abuse"]) != 0)
    counts = cases.loc[da, "lsoa11cd"].astype(str).value_counts().reindex(croydon, fill_value=0)
    inside = counts.index.isin(planted)
    rate_in = counts[inside].sum() / children.reindex(counts.index[inside]).sum()
    rate_out = counts[~inside].sum() / children.reindex(counts.index[~inside]).sum()
    assert rate_in > 3 * rate_out


def test_other_needs_have_no_hot_spots_in_the_domestic_abuse_clusters(cases, lsoas, clusters):
    """The planted families are referred for domestic abuse alone, so the clusters are that need's own."""
    planted = set(pd.concat(clusters.values())["code"])
    for need in ("health", "financial_stability"):
        assert not set(page_defaults(cases, lsoas, need).hot_spots()["code"]) & planted, need


def poverty_share(by_decile: pd.DataFrame, deciles: list[int]) -> float:
    """The share of episodes in these national IDACI deciles that have a poverty need."""
    return by_decile.loc[deciles, "episodes"].sum() / by_decile.loc[deciles, "all_episodes"].sum()


def test_poverty_needs_are_over_represented_in_the_most_income_deprived_deciles(cases, data_dir):
    context = council_context(DEMO_LA_CODE, ["iod2019"])
    lsoas = pd.DataFrame(council_lsoas(DEMO_LA_CODE).drop(columns="geometry"))
    view = poverty_view(cases, lsoas, context, "iod2019_idaci_decile", child_population())
    shares = view.shares.set_index("group")["share_percent"]
    assert shares["Families with financial stability or secure housing"] >= shares["All Early Help families"] + 8
    by_decile = view.by_decile.set_index("decile")
    assert poverty_share(by_decile, [1, 2]) > 2 * poverty_share(by_decile, [8, 9, 10])  # twice as common
    assert np.all(np.diff(by_decile["rate"].to_numpy()[:5]) < 0)  # poverty episodes per child fall decile by decile


def test_the_docstring_names_every_planted_lsoa_by_ward(make_demo, clusters):
    lines = {line.split(":")[0].strip(): line for line in make_demo.__doc__.splitlines() if "Croydon 0" in line}
    for cluster in clusters.values():
        for ward, names in cluster.groupby("ward")["name"]:
            listed = re.findall(r"\b\d{3}[A-Z]\b", lines[ward])
            assert sorted(listed) == sorted(name.split()[-1] for name in names), ward
