"""Cases placed on LSOA 2021 at ingest: each accepted postcode lands in exactly one of the council's LSOAs 2021 (and
so one ward of May 2024), the accepted and rejected rows are the same with or without the LSOA 2021 files, and
children are carried onto LSOA 2021 by the stated rule. Checked with geopandas and pandas directly."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from ehmap.config import pseudonymisation_key
from ehmap.demo import DEMO_FILE, load_demo
from ehmap.exports import read_export
from ehmap.ingest import ingest
from ehmap.lsoa21 import children_on_lsoa21, place_on_lsoa21
from ehmap.postcodes import normalise_postcodes

CROYDON = "E09000008"


@pytest.fixture(scope="module")
def demo(directory, council_names):
    return load_demo(directory, council_names, pseudonymisation_key())


@pytest.fixture(scope="module")
def demo_points(directory) -> pd.DataFrame:
    """The demo export's distinct Croydon postcodes with their grid references, read from the directory."""
    raw = pd.read_csv(DEMO_FILE, dtype=str)
    postcodes = normalise_postcodes(raw["Home Postcode"]).dropna().unique()
    matches = directory.lookup(np.asarray(postcodes, dtype=object))
    table = pd.DataFrame({"postcode": postcodes, "lad": matches.lad_code.to_numpy(), "x": matches.easting,
                          "y": matches.northing})
    return table[table["lad"] == CROYDON].reset_index(drop=True)


def croydon_lsoa21s(data_dir) -> gpd.GeoDataFrame:
    """Croydon's LSOA 2021 polygons in EPSG:27700, read with geopandas from the official file and lookup."""
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    codes = set(lookup.loc[lookup["LAD24CD"] == CROYDON, "LSOA21CD"])
    areas = gpd.read_file(data_dir / "lsoa21_boundaries_england.geojson")
    return areas[areas["LSOA21CD"].isin(codes)].to_crs("EPSG:27700").reset_index(drop=True)


def test_every_demo_postcode_lands_in_exactly_one_lsoa_2021_and_one_ward(demo_points, data_dir):
    placed = place_on_lsoa21(demo_points["x"].to_numpy(), demo_points["y"].to_numpy(), CROYDON)
    assert placed.notna().all() and len(placed) == len(demo_points) > 1000
    areas = croydon_lsoa21s(data_dir)
    points = gpd.GeoDataFrame(demo_points, geometry=gpd.points_from_xy(demo_points["x"], demo_points["y"]),
                              crs="EPSG:27700")
    inside = gpd.sjoin(points, areas, predicate="within")
    assert inside.index.is_unique  # no point inside two LSOAs 2021: the areas tile
    assert (placed[inside.index].to_numpy() == inside["LSOA21CD"].to_numpy()).all()
    outside = points.index.difference(inside.index)  # on a generalised edge: the nearest of Croydon's LSOAs
    assert len(outside) < 0.02 * len(points)
    for i in outside:
        distances = areas.distance(points.geometry[i])
        assert placed[i] == areas.loc[distances.idxmin(), "LSOA21CD"]
    wards = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str).set_index("LSOA21CD")
    assert placed.map(wards["WD24CD"]).notna().all() and set(placed.map(wards["LAD24CD"])) == {CROYDON}


def test_ingest_keeps_each_accepted_episodes_lsoa_2021_and_no_grid_reference(demo, data_dir):
    cases = demo.cases
    assert cases["lsoa21cd"].notna().all()
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    assert set(cases["lsoa21cd"].astype(str)) <= set(lookup.loc[lookup["LAD24CD"] == CROYDON, "LSOA21CD"])
    exact = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_exact_fit.csv", dtype=str)
    pairs = set(zip(exact["LSOA11CD"], exact["LSOA21CD"], strict=True))
    placed = zip(cases["lsoa11cd"].astype(str), cases["lsoa21cd"].astype(str), strict=True)
    off = sum(pair not in pairs for pair in placed)  # LSOA 2011 and 2021 not linked by the ONS: an edge postcode
    assert off <= 0.02 * len(cases)  # two generalised boundary sets agree with the ONS lookup for 98% or more
    assert not {"easting", "northing", "postcode"} & set(cases.columns)


def test_accepted_and_rejected_rows_are_the_same_without_the_lsoa_2021_files(demo, directory, council_names,
                                                                             data_dir, tmp_path, monkeypatch):
    folder = tmp_path / "data"
    shutil.copytree(data_dir, folder, ignore=shutil.ignore_patterns("lsoa21_boundaries_england.geojson", "*.md"))
    monkeypatch.setenv("EHMAP_DATA_DIR", str(folder))
    without = ingest(read_export(DEMO_FILE.read_bytes(), DEMO_FILE.name), CROYDON, directory, council_names,
                     pseudonymisation_key())
    assert without.rows_read == without.accepted + without.rejected == demo.rows_read
    pd.testing.assert_frame_equal(without.rejects, demo.rejects)
    pd.testing.assert_frame_equal(without.cases.drop(columns="lsoa21cd"), demo.cases.drop(columns="lsoa21cd"))
    assert without.cases["lsoa21cd"].isna().all()  # not placed, and said so by the views, never guessed


@pytest.mark.national
def test_another_councils_export_reconciles_on_lsoa_2021(directory, council_names, data_dir):
    from synthetic_export import WEST_BERKSHIRE, make_export

    table = make_export(directory).astype(str)
    result = ingest(table, WEST_BERKSHIRE, directory, council_names, pseudonymisation_key())
    assert result.rows_read == result.accepted + result.rejected == len(table)
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    assert result.cases["lsoa21cd"].notna().all()
    assert set(result.cases["lsoa21cd"].astype(str)) <= set(lookup.loc[lookup["LAD24CD"] == WEST_BERKSHIRE,
                                                                       "LSOA21CD"])


def test_children_on_lsoa_2021_share_each_split_lsoa_equally_and_keep_the_total(data_dir):
    exact = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_exact_fit.csv", dtype=str)
    exact = exact[exact["LAD22CD"] == CROYDON]
    people = pd.read_csv(data_dir / "population_mid2020_lsoa11_children_0_17.csv", dtype={"LSOA11CD": str})
    children = dict(zip(people["LSOA11CD"], people["age_0_17"], strict=True))
    by_hand: dict[str, float] = {}
    parts = exact.groupby("LSOA11CD").size()
    for row in exact.itertuples():
        by_hand[row.LSOA21CD] = by_hand.get(row.LSOA21CD, 0.0) + children[row.LSOA11CD] / parts[row.LSOA11CD]
    carried = children_on_lsoa21(people.rename(columns={"LSOA11CD": "lsoa11cd", "age_0_17": "children"}),
                                 exact.rename(columns={"LSOA11CD": "lsoa11cd", "LSOA21CD": "lsoa21cd"}))
    assert carried.set_index("lsoa21cd")["children"].to_dict() == pytest.approx(by_hand)
    assert carried["children"].sum() == pytest.approx(sum(children[c] for c in set(exact["LSOA11CD"])))
    unchanged = exact[exact["CHGIND"] == "U"]
    assert all(by_hand[r.LSOA21CD] == children[r.LSOA11CD] for r in unchanged.itertuples())
    assert (exact["CHGIND"] == "S").any() and (exact["CHGIND"] == "U").sum() > 150
