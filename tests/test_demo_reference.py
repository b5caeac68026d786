"""The demo council's built-in reference rows (demo/reference): cut by a script from the official files, read only
when no data folder is set, so a fresh install shows the demo on every page."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ehmap.catalogue import ROOT, indicator_source
from ehmap.config import DEMO_REFERENCE_DIR
from ehmap.indicators import FROM_DATA_DIR, FROM_DEMO, locate

APP = str(ROOT / "app.py")
CROYDON = "E09000008"
CUT_BY = {  # file -> the official column that says the row is Croydon's (None: by Croydon's LSOA 2011 codes)
    "iod2019_lsoa11_file7_columns.csv": "Local Authority District code (2019)",
    "iod2025_lsoa21_file7_columns.csv": "Local Authority District code (2024)",
    "population_mid2020_lsoa11_children_0_17.csv": None,
    "lookup_lsoa11_ward19_lad19.csv": "LAD19CD",
    "lookup_lsoa21_ward24_lad24.csv": "LAD24CD",
    "lookup_lsoa11_lsoa21_lad22_exact_fit.csv": "LAD22CD",
    "lookup_lsoa11_lsoa21_lad22_best_fit.csv": "LAD22CD",
}


def generator():
    """demo/make_reference_bundle.py as a module."""
    spec = importlib.util.spec_from_file_location("make_reference_bundle", ROOT / "demo" / "make_reference_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.national  # against the official national files
def test_the_bundle_is_what_the_script_makes_from_the_official_files(data_dir, tmp_path):
    generator().bundle(data_dir, tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in DEMO_REFERENCE_DIR.iterdir())
    for name in made:
        assert (tmp_path / name).read_bytes() == (DEMO_REFERENCE_DIR / name).read_bytes(), name
    assert sum((DEMO_REFERENCE_DIR / name).stat().st_size for name in made) < 400_000  # a few hundred KB


@pytest.mark.national  # against the official national files
@pytest.mark.parametrize("name", sorted(CUT_BY))
def test_each_file_holds_exactly_the_official_croydon_rows(data_dir, name):
    """Read independently with pandas: the bundle's rows are the official file's Croydon rows, unchanged."""
    official = pd.read_csv(data_dir / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if CUT_BY[name] is None:
        lookup = pd.read_csv(data_dir / "lookup_lsoa11_ward19_lad19.csv", dtype=str)
        croydon = official[official["LSOA11CD"].isin(lookup.loc[lookup["LAD19CD"] == CROYDON, "LSOA11CD"])]
    else:
        croydon = official[official[CUT_BY[name]] == CROYDON]
    bundled = pd.read_csv(DEMO_REFERENCE_DIR / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(bundled) >= 220
    pd.testing.assert_frame_equal(bundled, croydon.reset_index(drop=True))


@pytest.mark.national  # against the official national files
def test_the_ward_boundaries_are_croydons_28_official_features(data_dir):
    official = json.loads((data_dir / "wards_may2024_england.geojson").read_text(encoding="utf-8"))
    bundled = json.loads((DEMO_REFERENCE_DIR / "wards_may2024_england.geojson").read_text(encoding="utf-8"))
    croydon = [f for f in official["features"] if f["properties"]["LAD24CD"] == CROYDON]
    assert bundled["features"] == croydon and len(croydon) == 28


@pytest.mark.national  # against the official national files
def test_the_lsoa_2021_boundaries_are_the_official_features_of_croydons_lsoas_2021(data_dir):
    official = json.loads((data_dir / "lsoa21_boundaries_england.geojson").read_text(encoding="utf-8"))
    bundled = json.loads((DEMO_REFERENCE_DIR / "lsoa21_boundaries_england.geojson").read_text(encoding="utf-8"))
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    codes = set(lookup.loc[lookup["LAD24CD"] == CROYDON, "LSOA21CD"])
    croydon = [f for f in official["features"] if f["properties"]["LSOA21CD"] in codes]
    assert bundled["features"] == croydon and len(croydon) == len(codes) == 229


@pytest.mark.national  # against the official national files
def test_the_readme_cites_each_file_with_its_licence_and_checksum(data_dir):
    import hashlib

    readme = (DEMO_REFERENCE_DIR / "README.md").read_text(encoding="utf-8")
    assert "Open Government Licence v3.0" in readme and "Contains OS data" in readme
    for name in [*CUT_BY, "wards_may2024_england.geojson", "lsoa21_boundaries_england.geojson"]:
        assert f"`{name}`" in readme and hashlib.sha256((data_dir / name).read_bytes()).hexdigest() in readme


@pytest.fixture()
def no_data_folder(monkeypatch, tmp_path) -> Iterator[None]:
    """No EHMAP_DATA_DIR at all (a fresh install), a cache of this test's own (the shared cache's converted
    boundaries and postcodes linked in, no uploaded reference file) and a store of its own."""
    import streamlit as st

    from ehmap.config import cache_dir

    shared = cache_dir()
    cache = tmp_path / "cache"
    cache.mkdir()
    for path in shared.iterdir():
        if path.is_file():
            (cache / path.name).symlink_to(path)
    monkeypatch.delenv("EHMAP_DATA_DIR", raising=False)
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_with_no_data_folder_the_bundle_is_used_and_a_set_folder_always_wins(no_data_folder, monkeypatch, data_dir):
    for source_id in ("iod2019", "iod2025", "population_mid2020", "lookup_lsoa11_lsoa21"):
        assert locate(indicator_source(source_id)).origin == FROM_DEMO
    monkeypatch.setenv("EHMAP_DATA_DIR", str(data_dir))
    assert locate(indicator_source("iod2019")).origin == FROM_DATA_DIR


PAGES_NEEDING_REFERENCE = ["need_map", "hotspots", "coverage", "deprivation", "need_deprivation", "poverty",
                           "performance", "data_sources"]


@pytest.mark.parametrize("page", PAGES_NEEDING_REFERENCE)
def test_a_fresh_install_shows_the_demo_with_its_reference_files(no_data_folder, page):
    """With no data folder, no page says a reference file is missing for the demo council."""
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    said = " ".join(element.value for kind in ("warning", "info", "caption", "error", "markdown")
                    for element in getattr(at, kind))
    assert "is not loaded" not in said and "Counts only" not in said, said[:2000]
    if page == "need_map":
        assert at.radio(key="need_map_measure_team").options[0] == "Smoothed rate per 1,000"  # rates: children known
    if page == "data_sources":
        cells = [str(cell) for frame in at.dataframe for cell in frame.value.to_numpy().ravel()]
        assert any("the built-in demo rows (Croydon only)" in cell for cell in cells)


def test_another_council_is_told_which_national_file_to_add(no_data_folder):
    """The built-in rows are Croydon's: for Buckinghamshire the deprivation page (which needs no case data) says
    which file is missing, and the population and IDACI the other pages read are missing with the same reason,
    never Croydon's figures or an empty map shown as data."""
    from ehmap.text import plain
    from ui.state import coverage_idaci, population

    at = AppTest.from_file(APP, default_timeout=180).run()
    at.selectbox(key="la_code").set_value("E06000060").run()
    at.switch_page("pages/deprivation.py").run()
    assert not at.exception, [e.message for e in at.exception]
    said = " ".join(element.value for kind in ("warning", "info", "caption", "error", "markdown")
                    for element in getattr(at, kind))
    assert plain("is not loaded for this council: the built-in rows cover the demo council (Croydon) only") in said
    for children, reason in (population("E06000060"), coverage_idaci("E06000060")):
        assert children is None and "the built-in rows cover the demo council (Croydon) only" in reason
    children, reason = population("E09000008")
    assert reason is None and len(children) == 220


def test_demo_rows_only_names_the_file_for_other_councils_only(no_data_folder):
    from ehmap.indicators import demo_rows_only

    source = indicator_source("population_mid2020")
    assert demo_rows_only(source, CROYDON) is None
    gap = demo_rows_only(source, "E06000060")
    assert source.file in gap and "reference fetch" in gap


@pytest.mark.national
def test_with_the_national_files_every_council_is_served(no_data_folder, monkeypatch, data_dir):
    from ehmap.indicators import demo_rows_only

    monkeypatch.setenv("EHMAP_DATA_DIR", str(data_dir))
    assert demo_rows_only(indicator_source("population_mid2020"), "E06000060") is None
