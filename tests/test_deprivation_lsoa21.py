"""IoD2025 on its own areas: the Deprivation page draws LSOA 2021 by default, with the published File 7 values, the
ONS lookup's wards (May 2024) and names, checked against the official files read independently with pandas."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ehmap.catalogue import ROOT
from ehmap.lsoa21 import Lsoa21Missing, council_lsoa21_codes, council_lsoa21s

APP = str(ROOT / "app.py")
CROYDON = "E09000008"
DECILE = "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"
COUNCILS = [
    (CROYDON, 229),
    pytest.param("E08000035", 488, marks=pytest.mark.national),  # Leeds
    pytest.param("E06000045", 152, marks=pytest.mark.national),  # Southampton
    pytest.param("E06000037", 99, marks=pytest.mark.national),  # West Berkshire
    pytest.param("E08000038", 148, marks=pytest.mark.national),  # Barnsley: the ONS lookup keeps its old code
]


def official_lsoa21s(data_dir, la_code: str) -> pd.DataFrame:
    """The council's LSOAs 2021 as the ONS lookup lists them, by the lookup's own council code (the old one for
    Barnsley), with their File 7 IMD decile: LSOA21CD, LSOA21NM, WD24NM, decile."""
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    lad = {"E08000038": "E08000016"}.get(la_code, la_code)
    rows = lookup[lookup["LAD24CD"] == lad]
    iod = pd.read_csv(data_dir / "iod2025_lsoa21_file7_columns.csv", dtype={"LSOA code (2021)": str})
    deciles = iod.set_index("LSOA code (2021)")[DECILE]
    return rows.assign(decile=rows["LSOA21CD"].map(deciles))[["LSOA21CD", "LSOA21NM", "WD24NM", "decile"]]


@pytest.mark.parametrize("la_code, count", COUNCILS)
def test_a_councils_lsoas_2021_and_wards_are_the_ons_lookups(data_dir, la_code, count):
    official = official_lsoa21s(data_dir, la_code)
    assert council_lsoa21_codes(la_code) == sorted(official["LSOA21CD"]) and len(official) == count
    areas = council_lsoa21s(la_code).set_index("lsoa21cd")
    assert areas.crs == "EPSG:27700"
    assert areas["ward_name"].to_dict() == official.set_index("LSOA21CD")["WD24NM"].to_dict()
    assert areas["lsoa21nm"].to_dict() == official.set_index("LSOA21CD")["LSOA21NM"].to_dict()


def run_deprivation(la_code: str = CROYDON) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["la_code"] = la_code
    at.run()
    at.switch_page("pages/deprivation.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize("la_code, count", COUNCILS[:2])
def test_the_page_shows_iod2025_deciles_on_lsoa_2021_as_published(directory, data_dir, la_code, count):
    at = run_deprivation(la_code)
    assert at.selectbox(key="context_indicator").value == "iod2025_imd_decile"
    assert at.radio(key="context_areas").value == "lsoa21"
    shown = at.dataframe[0].value
    title = "IMD decile (English Indices of Deprivation 2025)"
    assert list(shown.columns) == ["LSOA name", "LSOA code", "Ward", title]  # names first, no raw column names
    official = official_lsoa21s(data_dir, la_code).set_index("LSOA21CD")
    shown = shown.set_index("LSOA code")
    assert len(shown) == count and set(shown.index) == set(official.index)
    assert shown[title].astype(int).to_dict() == official["decile"].astype(int).to_dict()  # File 7, every area
    assert shown["Ward"].to_dict() == official["WD24NM"].to_dict()
    assert shown["LSOA name"].to_dict() == official["LSOA21NM"].to_dict()
    script = json.loads(at.get("component_instance")[0].proto.json_args)["script"]
    assert script.count('"type": "Feature"') == count
    assert "database right 2021" in script  # the boundaries' own attribution
    fifth = int((official["decile"] <= 2).sum())
    readings = [re.sub(r"\\(.)", r"\1", i.value) for i in at.info]
    assert any(r.startswith(f"{fifth} of ") and f"'s {count} LSOAs 2021 " in r for r in readings), readings
    assert not any("exact-fit lookup" in c.value for c in at.caption)  # nothing carried


def test_without_the_lsoa_2021_boundaries_the_page_says_so_and_draws_lsoa_2011(directory, data_dir, tmp_path,
                                                                                 monkeypatch):
    import streamlit as st

    folder = tmp_path / "data"
    shutil.copytree(data_dir, folder, ignore=shutil.ignore_patterns("lsoa21_boundaries_england.geojson", "*.md"))
    monkeypatch.setenv("EHMAP_DATA_DIR", str(folder))
    st.cache_data.clear()
    with pytest.raises(Lsoa21Missing, match="lsoa21_boundaries_england.geojson is neither in the data folder "
                                            r"\(EHMAP_DATA_DIR\) nor added yet; an admin can add it on the Data sources"):
        council_lsoa21s(CROYDON)
    at = run_deprivation()
    warnings = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]
    assert any(w.startswith("Shown on LSOA 2011 instead: LSOA 2021 maps need the ONS") for w in warnings), warnings
    assert len(at.dataframe[0].value) == 220
    st.cache_data.clear()


IOD2019_DECILE_TITLE = "IMD decile (English Indices of Deprivation 2019)"


def test_iod2019_is_carried_forward_onto_lsoa_2021_by_the_stated_rule(directory, data_dir):
    """On Croydon (unchanged and split LSOAs only) every LSOA 2021 shows its one LSOA 2011's published IoD2019 decile,
    and the page says how it was carried."""
    at = run_deprivation()
    at.selectbox(key="context_indicator").set_value("iod2019_imd_decile").run()
    assert at.radio(key="context_areas").options == ["LSOA 2011, the index's own areas", "LSOA 2021, carried forward"]
    assert at.radio(key="context_areas").value == "lsoa21"  # the areas chosen stay as the index changes
    assert not at.exception, [e.message for e in at.exception]
    shown = at.dataframe[0].value.set_index("LSOA code")
    exact = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_exact_fit.csv", dtype=str)
    croydon = exact[exact["LSOA21CD"].isin(official_lsoa21s(data_dir, CROYDON)["LSOA21CD"])]
    assert set(croydon["CHGIND"]) <= {"U", "S"} and croydon["LSOA21CD"].is_unique
    iod = pd.read_csv(data_dir / "iod2019_lsoa11_file7_columns.csv", dtype={"LSOA code (2011)": str})
    published = iod.set_index("LSOA code (2011)")[DECILE]
    expected = croydon.set_index("LSOA21CD")["LSOA11CD"].map(published).astype(int)
    assert len(shown) == 229 and shown[IOD2019_DECILE_TITLE].astype(int).to_dict() == expected.to_dict()
    captions = " ".join(re.sub(r"\\(.)", r"\1", c.value) for c in at.caption)
    assert "carried forward onto LSOA 2021 with the ONS exact-fit lookup" in captions
    script = json.loads(at.get("component_instance")[0].proto.json_args)["script"]
    assert "database right 2021" in script and "Open Government Licence" in script


@pytest.mark.national
def test_merged_lsoas_2021_take_the_population_weighted_mean_of_their_lsoas_2011(data_dir):
    """England's merged and irregular LSOAs 2021, computed here one by one from the published File 7 and the lookup."""
    from ehmap.catalogue import indicator_source
    from ehmap.indicators import deprivation, read_indicator
    from ehmap.vintages import carry_to_lsoa21

    carried = carry_to_lsoa21(deprivation("iod2019"), indicator_source("iod2019"),
                              read_indicator("lookup_lsoa11_lsoa21")).values.set_index("lsoa21cd")
    exact = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_exact_fit.csv", dtype=str)
    exact = exact[exact["LSOA11CD"].str.startswith("E")]
    iod = pd.read_csv(data_dir / "iod2019_lsoa11_file7_columns.csv", dtype={"LSOA code (2011)": str})
    iod = iod.set_index("LSOA code (2011)")
    score = "Index of Multiple Deprivation (IMD) Score"
    people = "Total population: mid 2015 (excluding prisoners)"
    parts = exact.groupby("LSOA11CD")["LSOA21CD"].size()
    several = exact.groupby("LSOA21CD").filter(lambda g: len(g) > 1)
    assert several["LSOA21CD"].nunique() > 50
    for code, group in several.groupby("LSOA21CD"):
        weights = [iod.loc[p, people] / parts[p] for p in group["LSOA11CD"]]
        mean = sum(w * iod.loc[p, score] for w, p in zip(weights, group["LSOA11CD"], strict=True)) / sum(weights)
        assert carried.loc[code, "imd_score"] == pytest.approx(mean, rel=1e-9), code
    single = exact.groupby("LSOA21CD").filter(lambda g: len(g) == 1).set_index("LSOA21CD")["LSOA11CD"]
    decile = "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"
    assert carried.loc[single.index, "imd_decile"].astype(int).tolist() == iod.loc[single, decile].astype(int).tolist()
