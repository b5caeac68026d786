"""The IoD2019 / IoD2025 / population / lookup catalogue entries and their loaders, on the real files."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from ehmap.catalogue import INDICATORS_DIR, indicator_source, indicator_sources, load_indicator_source
from ehmap.indicators import SourceMissing, deprivation, read_indicator, read_source

IOD2019 = "iod2019_lsoa11_file7_columns.csv"


@pytest.fixture(scope="module")
def iod2019(data_dir):
    return deprivation("iod2019")


@pytest.mark.national
def test_iod2019_rank_1_is_jaywick(iod2019):
    assert len(iod2019) == 32_844 and iod2019["lsoa11cd"].is_unique
    first = iod2019.loc[iod2019["imd_rank"] == 1]
    assert first["lsoa11cd"].tolist() == ["E01021988"]  # Tendring 018A
    assert first["imd_score"].item() == pytest.approx(92.735)
    assert first["imd_decile"].item() == 1
    jaywick = iod2019.set_index("lsoa11cd").loc["E01021988"]
    assert jaywick["idaci_score"] == pytest.approx(0.74) and jaywick["idaci_rank"] == 4


@pytest.mark.national
def test_iod2019_subset_file_loads_without_its_absent_optional_columns(iod2019):
    # the shared copy lacks 11 File 7 score columns: optional, so they are simply absent
    absent = {
        "education_score",
        "health_score",
        "crime_score",
        "barriers_score",
        "living_environment_score",
        "children_young_people_score",
        "adult_skills_score",
        "geographical_barriers_score",
        "wider_barriers_score",
        "indoors_score",
        "outdoors_score",
    }
    assert absent.isdisjoint(iod2019.columns)
    assert {"idaci_decile", "idaopi_rank", "crime_rank", "population_0_15"} <= set(iod2019.columns)
    assert iod2019["population_0_15"].sum() == 10_405_050  # File 6 children 0-15, mid-2015
    assert sorted(iod2019["imd_decile"].unique()) == list(range(1, 11))


@pytest.mark.national
def test_iod2025_reads_the_lsoa2021_file(data_dir):
    iod2025 = deprivation("iod2025")
    assert len(iod2025) == 33_755 and iod2025.columns[0] == "lsoa21cd"
    assert iod2025["imd_rank"].max() == 33_755
    assert iod2025.set_index("lsoa21cd").loc["E01021988", "imd_score"] == pytest.approx(94.223)
    assert not {"idaci_score", "idaci_decile", "population_total"} & set(iod2025.columns)  # absent from the shared copy
    # the header truncated in the official file is still read
    assert "children_young_people_decile" in iod2025.columns


@pytest.mark.national
def test_population_by_single_year_of_age(data_dir):
    ages = read_indicator("population_mid2020_by_age")
    england = ages[ages["lsoa11cd"].str.startswith("E")]
    single = england[[f"age_{a}" for a in range(18)]].sum(axis=1)
    assert (single == england["age_0_17"]).all()
    assert england["age_0_17"].sum() == 12_093_288


def test_a_full_publisher_file_with_extra_columns_loads(tmp_path, data_dir):
    # a file holding every declared header plus columns the catalogue does not know about
    source = indicator_source("iod2019")
    headers = [source.key_column, "LSOA name (2011)", *(source.header_of(c) for c in source.columns), "Something else"]
    row = ["E01021988", "Tendring 018A", *range(1, len(source.columns) + 1), "x"]
    (tmp_path / source.file).write_text(",".join(f'"{h}"' for h in headers) + "\n" + ",".join(map(str, row)) + "\n")
    table = read_source(source, tmp_path / source.file)
    assert table.columns.tolist() == ["lsoa11cd", *source.columns]
    assert table.loc[0, "education_score"] == list(source.columns).index("education_score") + 1


def test_missing_required_column_names_it(tmp_path, data_dir):
    frame = pd.read_csv(data_dir / IOD2019, nrows=5)
    frame.drop(columns="Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)").to_csv(
        tmp_path / IOD2019, index=False
    )
    with pytest.raises(ValueError) as error:
        deprivation("iod2019", tmp_path)
    assert str(error.value) == (
        f"{IOD2019} lacks the column(s) ['Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)'] "
        "that indicators/iod2019.yaml declares."
    )


def test_missing_optional_column_is_fine(tmp_path, data_dir):
    frame = pd.read_csv(data_dir / IOD2019, nrows=5)
    frame.drop(columns=[c for c in frame.columns if "IDACI" in c]).to_csv(tmp_path / IOD2019, index=False)
    table = deprivation("iod2019", tmp_path)
    assert len(table) == 5 and "idaci_score" not in table.columns and "imd_score" in table.columns


def test_repeated_lsoa_codes_are_refused(tmp_path, data_dir):
    frame = pd.read_csv(data_dir / IOD2019, nrows=3)
    pd.concat([frame, frame.iloc[[0]]]).to_csv(tmp_path / IOD2019, index=False)
    repeated = frame.iloc[0, 0]
    with pytest.raises(ValueError, match=rf"indicators/iod2019: the file repeats LSOA code\(s\) \['{repeated}'\]"):
        deprivation("iod2019", tmp_path)


def test_absent_iod_file_says_how_to_get_it(tmp_path):
    source = indicator_source("iod2025")
    with pytest.raises(SourceMissing) as error:
        deprivation("iod2025", tmp_path)
    assert str(error.value) == (
        f"English Indices of Deprivation 2025 is not loaded: {source.file} is not in the folder given; an admin can "
        f"add it on the Data sources page (published by {source.publisher} at {source.url})."
    )
    assert source.url.startswith("https://assets.publishing.service.gov.uk/")


def test_every_entry_declares_licence_vintage_and_geography():
    sources = {s.id: s for s in indicator_sources()}
    assert {"iod2019", "iod2025", "population_mid2020", "lookup_lsoa11_lsoa21"} <= set(sources)
    assert (sources["iod2019"].geography, sources["iod2025"].geography) == ("lsoa11", "lsoa21")
    for source in sources.values():
        assert source.licence == "Open Government Licence v3.0" and source.vintage
    assert [c for c, col in sources["iod2025"].columns.items() if col.required] == [
        "imd_score",
        "imd_rank",
        "imd_decile",
    ]


def test_bad_geography_and_bad_required_flag_are_refused(tmp_path):
    raw = yaml.safe_load((INDICATORS_DIR / "iod2019.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw | {"geography": "lsoa2011"}), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} has geography 'lsoa2011'; valid geographies are ['lsoa11', 'lsoa21']."
    raw["columns"]["imd_score"]["required"] = "yes"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} column 'imd_score' has required 'yes'; expected true or false."


def test_two_columns_reading_one_header_are_refused(tmp_path):
    raw = yaml.safe_load((INDICATORS_DIR / "iod2019.yaml").read_text(encoding="utf-8"))
    raw["columns"]["imd_copy"] = dict(raw["columns"]["imd_score"])
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == (
        f"{path} columns 'imd_score' and 'imd_copy' both read the header 'Index of Multiple Deprivation (IMD) Score'."
    )
