"""Indicator tables read from the configured data folder (ehmap.indicators).

Expected totals are the published figures quoted in the data README (ONS mid-2020, SAPE23DT2).
"""

from __future__ import annotations

import pytest

from ehmap.catalogue import indicator_source
from ehmap.indicators import SourceMissing, child_population, read_indicator, source_path

FILE = "population_mid2020_lsoa11_children_0_17.csv"


@pytest.fixture(scope="module")
def population(data_dir):
    return child_population()


@pytest.mark.national
def test_england_totals_match_the_published_mid2020_figures(population):
    england = population[population["lsoa11cd"].str.startswith("E")]
    assert len(england) == 32_844
    assert england["children"].sum() == 12_093_288  # children aged 0-17
    assert england["all_ages"].sum() == 56_550_138  # the published mid-2020 England total


def test_columns_and_rows(population, data_dir):
    assert population.columns.tolist() == ["lsoa11cd", "all_ages", "children"]
    assert len(population) == (data_dir / FILE).read_bytes().count(b"\n") - 1  # 34,753 nationally (England, Wales)
    assert population["lsoa11cd"].is_unique
    assert (population["children"] <= population["all_ages"]).all()
    assert (population["children"] >= 0).all()


@pytest.mark.national
def test_spot_check_jaywick(population):
    jaywick = population.set_index("lsoa11cd").loc["E01021988"]
    assert (jaywick["all_ages"], jaywick["children"]) == (2_072, 345)


def test_explicit_folder_is_used(data_dir):
    assert source_path(indicator_source("population_mid2020"), data_dir) == data_dir / FILE
    assert len(child_population(data_dir)) == (data_dir / FILE).read_bytes().count(b"\n") - 1


def test_missing_file_says_where_it_looked_and_where_to_get_it(tmp_path):
    source = indicator_source("population_mid2020")
    with pytest.raises(SourceMissing) as error:
        child_population(tmp_path)
    assert str(error.value) == (
        f"Population estimates, mid-2020, children by single year of age is not loaded: {FILE} is not in the folder "
        f"given; an admin can add it on the Data sources page (published by Office for National Statistics at "
        f"{source.url})."
    )
    assert str(tmp_path) not in str(error.value) and error.value.folder == tmp_path  # the path is for logs only


def test_no_folder_configured_reads_the_demo_councils_rows(monkeypatch, tmp_path):
    """A fresh install (EHMAP_DATA_DIR not set, nothing uploaded) reads demo/reference: Croydon's rows only."""
    from ehmap.geography import council_lsoas

    monkeypatch.delenv("EHMAP_DATA_DIR", raising=False)
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path))  # an empty cache: no uploaded copy to fall back on
    children = child_population()
    assert set(children["lsoa11cd"]) == set(council_lsoas("E09000008")["lsoa11cd"])


def test_configured_folder_that_does_not_exist_counts_as_not_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("EHMAP_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(SourceMissing, match=r"is not added yet and no data folder is set \(EHMAP_DATA_DIR\)"):
        child_population()


def test_file_lacking_a_declared_column(tmp_path):
    (tmp_path / FILE).write_text("LSOA11CD,LSOA11NM,all_ages\nE01000001,City of London 001A,1500\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        child_population(tmp_path)
    assert (
        str(error.value) == f"{FILE} lacks the column(s) ['age_0_17'] that indicators/population_mid2020.yaml declares."
    )


def test_reads_only_declared_columns_and_renames_the_key(tmp_path):
    (tmp_path / FILE).write_text(
        "LSOA11CD,LSOA11NM,all_ages,age_0,age_0_17\nE01000001,City of London 001A,1500,7,210\n"
        "W01000001,Isle of Anglesey 007A,1800,20,400\n",
        encoding="utf-8",
    )
    table = read_indicator("population_mid2020", tmp_path)
    assert table.columns.tolist() == ["lsoa11cd", "all_ages", "age_0_17"]
    assert table.to_dict("records") == [
        {"lsoa11cd": "E01000001", "all_ages": 1500, "age_0_17": 210},
        {"lsoa11cd": "W01000001", "all_ages": 1800, "age_0_17": 400},
    ]
