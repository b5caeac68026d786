"""LSOA 2011 boundaries and councils (ehmap.geography), checked against the official lookups in EHMAP_DATA_DIR."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from ehmap.geography import (
    WORKING_CRS,
    council_lsoas,
    councils,
    district_name_of_lsoa,
    lsoa_boundaries,
    lsoa_councils,
)
from tests.conftest import CROYDON

BUCKINGHAMSHIRE = "E06000060"


@pytest.fixture(scope="module")
def boundaries():
    return lsoa_boundaries()


@pytest.fixture(scope="module")
def table():
    return lsoa_councils()


def test_boundaries_are_all_lsoas_in_british_national_grid(boundaries):
    assert boundaries.crs is not None and boundaries.crs.to_epsg() == 27700
    assert WORKING_CRS == "EPSG:27700"
    assert len(boundaries) == 34_753  # England 32,844 + Wales 1,909 (ONS LSOA 2011)
    assert boundaries["lsoa11cd"].str.startswith("E01").sum() == 32_844
    assert boundaries["lsoa11cd"].str.startswith("W01").sum() == 1_909
    assert boundaries["lsoa11cd"].is_unique
    assert boundaries.geometry.is_valid.all()
    assert not boundaries.geometry.is_empty.any()
    assert set(boundaries.geom_type) <= {"Polygon", "MultiPolygon"}


def test_boundaries_are_in_metres(boundaries):
    """LSOAs are about 1,500 residents: a median area of well under 10 km2 but far over 1,000 m2."""
    area_km2 = boundaries.geometry.area.median() / 1e6
    assert 0.05 < area_km2 < 10
    west, south, east, north = boundaries.total_bounds
    assert 0 < west < 200_000 and 600_000 < east < 700_000  # British National Grid eastings, metres
    assert 0 <= south < 20_000 and 600_000 < north < 700_000


def test_croydon_has_220_lsoas(data_dir):
    lsoas = council_lsoas(CROYDON)
    assert len(lsoas) == 220
    assert lsoas.crs.to_epsg() == 27700
    assert lsoas["lsoa11nm"].str.match(r"^Croydon \d{3}[A-Z]$").all()
    assert set(lsoas["lad_code"]) == {CROYDON}
    assert set(lsoas["lad_name"]) == {"Croydon"}
    # The ONS LSOA11 -> LAD19 lookup agrees, LSOA by LSOA.
    official = pd.read_csv(data_dir / "lookup_lsoa11_ward19_lad19.csv", usecols=["LSOA11CD", "LAD19CD"])
    assert set(lsoas["lsoa11cd"]) == set(official.loc[official["LAD19CD"] == CROYDON, "LSOA11CD"])


def test_buckinghamshire_has_319_lsoas_and_its_own_name(council_names):
    lsoas = council_lsoas(BUCKINGHAMSHIRE)
    assert len(lsoas) == 319
    assert council_names[BUCKINGHAMSHIRE] == "Buckinghamshire"
    assert set(lsoas["lad_name"]) == {"Buckinghamshire"}
    # Its LSOAs still carry the 2011 district names of the four districts it replaced.
    districts = set(district_name_of_lsoa(lsoas["lsoa11nm"]))
    assert districts == {"Aylesbury Vale", "Chiltern", "South Bucks", "Wycombe"}


@pytest.mark.national
def test_council_names_agree_with_official_lad24_names(council_names, data_dir):
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", usecols=["LAD24CD", "LAD24NM"]).drop_duplicates()
    official = dict(zip(lookup["LAD24CD"], lookup["LAD24NM"], strict=True))
    english = {code: name for code, name in official.items() if re.match(r"^E0[6-9]", code)}
    shared = sorted(set(english) & set(council_names))
    assert len(shared) >= 290  # all but councils whose code changed after 2024 (Barnsley, Sheffield in 2025)
    wrong = {code: (council_names[code], english[code]) for code in shared if council_names[code] != english[code]}
    assert wrong == {}


@pytest.mark.national
def test_lsoa_councils_agree_with_iod2019_for_unchanged_councils(table, data_dir):
    """Majority-of-postcodes councils match MHCLG's LAD 2019 codes for >99.9% of LSOAs whose code still exists."""
    iod = pd.read_csv(
        data_dir / "iod2019_lsoa11_file7_columns.csv",
        usecols=["LSOA code (2011)", "Local Authority District code (2019)"],
    )
    iod.columns = ["lsoa11cd", "lad19"]
    merged = iod.merge(table, on="lsoa11cd", how="left", validate="one_to_one")
    assert merged["lad_code"].notna().all()
    still = merged[merged["lad19"].isin(set(table["lad_code"]))]
    assert len(still) > 30_000
    assert (still["lad19"] == still["lad_code"]).mean() > 0.999


def test_every_english_lsoa_has_an_english_council(table):
    english = table[table["lsoa11cd"].str.startswith("E01")]
    assert len(english) == 32_844
    assert english["lad_code"].str.match(r"^E0[6-9]\d{6}$").all()
    welsh = table[table["lsoa11cd"].str.startswith("W01")]
    assert welsh["lad_code"].str.match(r"^W06\d{6}$").all()


def test_councils_lists_only_english_councils_sorted_by_name():
    listed = councils()
    codes = [council.code for council in listed]
    names = [council.name for council in listed]
    assert all(re.fullmatch(r"E0[6-9]\d{6}", code) for code in codes)
    assert len(set(codes)) == len(codes)
    assert names == sorted(names)
    assert 290 <= len(listed) <= 320  # England has 296 LADs since April 2023
    assert "Croydon" in names and "Cardiff" not in names


def test_councils_from_a_given_table_filters_and_sorts():
    given = pd.DataFrame(
        {
            "lsoa11cd": ["E01000001", "E01000002", "W01000001", "E01000003", "S01000001"],
            "lad_code": ["E09000008", "E09000008", "W06000015", "E06000060", "S12000036"],
            "lad_name": ["Croydon", "Croydon", "Cardiff", "Buckinghamshire", "Edinburgh"],
        }
    )
    assert [(c.code, c.name) for c in councils(given)] == [("E06000060", "Buckinghamshire"), ("E09000008", "Croydon")]


@pytest.mark.parametrize("code", ["E99999999", "croydon", "", "E10000014"])
def test_council_lsoas_unknown_code(code):
    with pytest.raises(ValueError) as error:
        council_lsoas(code)
    assert str(error.value) == f"Unknown council code '{code}': expected a current LAD code such as E09000008."


@pytest.mark.parametrize(
    "name, district",
    [
        ("Croydon 001A", "Croydon"),
        ("King's Lynn and West Norfolk 012B", "King's Lynn and West Norfolk"),
        ("Bristol 023D", "Bristol"),
        ("Newcastle upon Tyne 010E", "Newcastle upon Tyne"),
    ],
)
def test_district_name_of_lsoa(name, district):
    assert district_name_of_lsoa(pd.Series([name])).tolist() == [district]
