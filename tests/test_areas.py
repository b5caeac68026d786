"""Geographies (ehmap.areas): wards from the ONS lookup and boundaries, and uploaded localities, on real files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from ward_support import lsoa11_wards

from ehmap.areas import (
    LOCALITY_RULE,
    LocalityFileError,
    area_set,
    locality_area_set,
    lsoa_area_set,
    read_localities,
    ward_area_set,
)
from ehmap.geography import council_lsoas

CROYDON, LAMBETH = "E09000008", "E09000022"


def test_croydon_wards_come_from_the_lookups_and_the_ons_may_2024_ward_boundaries(data_dir):
    wards = ward_area_set(CROYDON)
    croydon = lsoa11_wards(data_dir)
    assert len(wards.areas) == croydon["WD24CD"].nunique() == 28
    assert wards.lsoa_to_area.to_dict() == dict(zip(croydon["LSOA11CD"], croydon["WD24CD"], strict=True))
    assert wards.source_note == "ONS Wards (May 2024) Boundaries UK BSC"
    assert wards.areas.crs == "EPSG:27700"
    assert set(wards.areas["name"]) >= {"Addiscombe East", "Selhurst"}
    # the ward polygons and their LSOAs cover the same ground (within generalisation)
    lsoa_area = council_lsoas(CROYDON).area.sum()
    assert wards.areas.area.sum() == pytest.approx(lsoa_area, rel=0.01)


@pytest.mark.parametrize("la_code, name", [
    (CROYDON, "Croydon"),
    pytest.param("E08000035", "Leeds", marks=pytest.mark.national),
    pytest.param("E06000045", "Southampton", marks=pytest.mark.national),  # 17 wards since May 2023
    pytest.param("E06000037", "West Berkshire", marks=pytest.mark.national),
    pytest.param(LAMBETH, "Lambeth", marks=pytest.mark.national),  # 25 wards since May 2022
])
def test_a_councils_wards_are_the_ons_lookups_wards_of_may_2024(data_dir, la_code, name):
    """Every ward of the council in the ONS LSOA 2021 to ward 2024 lookup is an area, with its name, and every LSOA
    2011 of the council is counted in the ward of its best-fit LSOA 2021 (chained by hand with pandas)."""
    official = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    official = official[official["LAD24CD"] == la_code].groupby("WD24CD")["WD24NM"].first()
    wards = ward_area_set(la_code)
    assert wards.areas.set_index("code")["name"].to_dict() == official.to_dict()
    by_hand = lsoa11_wards(data_dir, la_code)
    assert wards.lsoa_to_area.to_dict() == dict(zip(by_hand["LSOA11CD"], by_hand["WD24CD"], strict=True))
    assert wards.unassigned_lsoas == [] and wards.source_note == "ONS Wards (May 2024) Boundaries UK BSC"


@pytest.mark.national
def test_southampton_has_its_17_wards_of_2023_not_the_16_before():
    assert len(ward_area_set("E06000045").areas) == 17


def test_ward_neighbours_come_from_the_lsoas_counted_in_each_ward(data_dir):
    """Two wards are neighbours when the LSOAs counted in them touch, found here with shapely alone, whatever the
    drawn outlines say (they disagree where an LSOA straddles a ward boundary)."""
    from ehmap.hotspots import spatial_weights

    wards = ward_area_set(CROYDON)
    lsoas = council_lsoas(CROYDON).set_index("lsoa11cd")
    unions = {code: shapely.union_all(lsoas.loc[wards.lsoa_to_area.index[wards.lsoa_to_area == code]].geometry.values)
              for code in wards.areas["code"]}
    codes = list(wards.areas["code"])
    expected = {a: {b for b in codes if b != a and unions[a].buffer(0.01).intersects(unions[b])} for a in codes}
    w = spatial_weights(wards.neighbour_areas)
    found = {codes[i]: {codes[j] for j in w.neighbors[i]} for i in range(len(codes))}
    assert found == expected
    assert list(wards.neighbour_areas["code"]) == codes
    drawn = spatial_weights(wards.areas)  # the official outlines give other neighbours: the test can tell them apart
    assert {codes[i]: {codes[j] for j in drawn.neighbors[i]} for i in range(len(codes))} != expected


@pytest.mark.national
def test_wards_no_lsoa_2011_reaches_are_named_in_the_note():
    """Dartford's new-build wards of 2024 (Ebbsfleet, Bridge) hold no whole LSOA 2011: the note names them."""
    wards = ward_area_set("E07000107")
    assert "hold no LSOA 2011 by best fit" in wards.source_note and "Ebbsfleet" in wards.source_note


def test_front_door_names_the_valid_geographies():
    with pytest.raises(ValueError) as error:
        area_set("msoa", CROYDON)
    assert str(error.value).startswith("Unknown geography 'msoa'; valid geographies are ['lsoa11', 'lsoa21', 'ward'] or a locality file")
    assert len(area_set("lsoa11", CROYDON).areas) == 220


@pytest.fixture(scope="module")
def croydon_localities() -> gpd.GeoDataFrame:
    """Four localities made from Croydon's real ward polygons, grouped by position (EPSG:27700)."""
    wards = ward_area_set(CROYDON).areas
    points = wards.geometry.representative_point()
    north = points.y > points.y.median()
    west = points.x < points.x.median()
    wards["locality"] = [("North" if n else "South") + (" West" if w else " East") for n, w in zip(north, west)]
    localities = wards.dissolve(by="locality").reset_index()[["locality", "geometry"]]
    localities["hub_id"] = range(1, len(localities) + 1)
    return localities


def test_a_wgs84_geojson_is_reprojected_and_every_lsoa_assigned_by_largest_overlap(croydon_localities, tmp_path):
    path = tmp_path / "localities.geojson"
    croydon_localities.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    assert b'"coordinates": [ [ [ -0.' in path.read_bytes() or b"-0." in path.read_bytes()[:5000]  # lon/lat really
    localities = read_localities(path.read_bytes(), path.name, "locality")
    assert localities.crs == "EPSG:27700"
    assert list(localities["code"]) == ["North East", "North West", "South East", "South West"]
    areas = locality_area_set(CROYDON, localities)
    assert areas.unassigned_lsoas == []
    assert areas.rule == LOCALITY_RULE
    # independent check of the rule: the locality holding each LSOA's largest piece
    lsoas = council_lsoas(CROYDON)
    for code in ["E01000975", "E01001026", "E01001076", "E01001176"]:
        polygon = lsoas.loc[lsoas["lsoa11cd"] == code, "geometry"].iloc[0]
        shares = {row.code: polygon.intersection(row.geometry).area for row in localities.itertuples()}
        assert areas.lsoa_to_area[code] == max(shares, key=shares.get)


def test_a_geopackage_and_a_zipped_shapefile_read_alike(croydon_localities, tmp_path):
    gpkg = tmp_path / "hubs.gpkg"
    croydon_localities.to_file(gpkg, driver="GPKG")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    croydon_localities.to_crs("EPSG:4326").to_file(shp_dir / "hubs.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in shp_dir.iterdir():
            archive.write(file, file.name)
    from_gpkg = read_localities(gpkg.read_bytes(), gpkg.name, "locality")
    from_zip = read_localities(buffer.getvalue(), "hubs.zip", "locality")
    assert list(from_gpkg["code"]) == list(from_zip["code"])
    assert from_gpkg.area.sum() == pytest.approx(from_zip.area.sum(), rel=1e-4)


def shapefile_zip_without_prj(frame: gpd.GeoDataFrame, folder: Path) -> bytes:
    frame.to_file(folder / "hubs.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in folder.iterdir():
            if file.suffix != ".prj":
                archive.write(file, file.name)
    return buffer.getvalue()


def test_broken_files_get_a_specific_message(croydon_localities, tmp_path):
    def message(data: bytes, name: str, column: str = "locality") -> str:
        with pytest.raises(LocalityFileError) as error:
            read_localities(data, name, column)
        return str(error.value)

    good = croydon_localities.to_crs("EPSG:4326").to_json(drop_id=True).encode()
    assert message(b"", "x.geojson") == "'x.geojson' is empty (0 bytes)."
    assert message(b"{not json", "x.geojson").startswith("'x.geojson' could not be read as geographic data")
    assert message(good, "x.csv").startswith("'x.csv' is not a GeoJSON (.geojson/.json), GeoPackage (.gpkg) or zipped Shapefile")
    assert message(good, "x.geojson", "ward") == (
        "'x.geojson' has no column 'ward'; its columns are ['locality', 'hub_id']."
    )
    assert message(b'{"type": "FeatureCollection", "features": []}', "x.geojson") == "'x.geojson' has no features."
    points = gpd.GeoDataFrame({"locality": ["A"]}, geometry=gpd.points_from_xy([-0.1], [51.37]), crs="EPSG:4326")
    assert message(points.to_json(drop_id=True).encode(), "x.geojson") == "'x.geojson' has no polygons (found Point); localities must be areas."
    twice = pd.concat([croydon_localities, croydon_localities.iloc[[0]]]).to_crs("EPSG:4326")
    assert message(twice.to_json(drop_id=True).encode(), "x.geojson") == "Locality names in 'x.geojson' must be unique; repeated: ['North East']."
    folder = tmp_path / "noprj"
    folder.mkdir()
    assert message(shapefile_zip_without_prj(croydon_localities, folder), "x.zip") == (
        "'x.zip' has no .prj file beside hubs.shp, so its coordinate reference system (CRS) is unknown; add the .prj."
    )
    assert message(b"PK\x03\x04 broken", "x.zip") == "'x.zip' is not a valid zip file."


def test_localities_of_another_council_are_rejected(croydon_localities):
    localities = read_localities(croydon_localities.to_crs("EPSG:4326").to_json(drop_id=True).encode(), "x.geojson", "locality")
    with pytest.raises(LocalityFileError) as error:
        locality_area_set("E08000035", localities)  # Leeds
    assert str(error.value) == (
        "None of the 4 localities overlaps Leeds: check that the file is for this council and that its declared CRS is right."
    )


def test_lsoa_set_is_the_councils_lsoas():
    areas = lsoa_area_set(CROYDON)
    assert len(areas.areas) == 220 and (areas.lsoa_to_area.index == areas.lsoa_to_area.to_numpy()).all()
