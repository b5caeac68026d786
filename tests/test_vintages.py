"""IoD2025 (LSOA 2021) carried onto LSOA 2011 through the ONS exact-fit lookup (ehmap.vintages)."""

from __future__ import annotations

import pandas as pd
import pytest

from ehmap.catalogue import indicator_source
from ehmap.indicators import deprivation, read_indicator
from ehmap.vintages import carry_to_lsoa11, decile_of_rank

SOURCE = indicator_source("iod2025")


@pytest.fixture(scope="module")
def carried(data_dir):
    return carry_to_lsoa11(
        deprivation("iod2025"),
        SOURCE,
        read_indicator("lookup_lsoa11_lsoa21"),
        read_indicator("lookup_lsoa11_lsoa21_best_fit"),
    )


@pytest.fixture(scope="module")
def iod2025(data_dir):
    return deprivation("iod2025").set_index("lsoa21cd")


@pytest.mark.national
def test_every_english_lsoa2011_gets_a_value(carried, data_dir):
    values = carried.values
    assert len(values) == 32_844 and values["lsoa11cd"].is_unique
    assert values["lsoa11cd"].str.startswith("E").all()
    assert values[["imd_score", "imd_rank", "imd_decile"]].notna().all().all()
    assert values["change"].value_counts().to_dict() == {"U": 31_810, "S": 834, "M": 194, "X": 6}


@pytest.mark.national
def test_unchanged_area_is_direct(carried, iod2025):
    jaywick = carried.values.set_index("lsoa11cd").loc["E01021988"]
    assert (jaywick["change"], jaywick["parts"]) == ("U", 1)
    assert jaywick["imd_score"] == pytest.approx(94.223) and jaywick["imd_rank"] == 1 and jaywick["imd_decile"] == 1


@pytest.mark.national
def test_split_area_takes_the_simple_mean_of_its_parts(carried, iod2025, data_dir):
    lookup = read_indicator("lookup_lsoa11_lsoa21")
    parts = lookup.loc[lookup["lsoa11cd"] == "E01000092", "lsoa21cd"].tolist()
    assert len(parts) == 4
    row = carried.values.set_index("lsoa11cd").loc["E01000092"]
    assert row["change"] == "S" and row["parts"] == 4
    assert row["imd_score"] == pytest.approx(iod2025.loc[parts, "imd_score"].mean())
    assert row["imd_rank"] == pytest.approx(iod2025.loc[parts, "imd_rank"].mean())
    # shared copy has no population denominators: the note says it is a simple mean
    assert carried.split_weighting == "simple mean"
    assert "simple mean of its parts" in carried.method_note() and "ONS exact-fit lookup" in carried.method_note()


@pytest.mark.national
def test_merged_areas_take_the_merged_lsoa2021_value(carried, iod2025, data_dir):
    lookup = read_indicator("lookup_lsoa11_lsoa21")
    merged = lookup[lookup["chgind"] == "M"].iloc[0]
    row = carried.values.set_index("lsoa11cd").loc[merged["lsoa11cd"]]
    assert row["imd_score"] == pytest.approx(iod2025.loc[merged["lsoa21cd"], "imd_score"])


@pytest.mark.national
def test_irregular_change_uses_the_best_fit(carried, iod2025, data_dir):
    best = read_indicator("lookup_lsoa11_lsoa21_best_fit").set_index("lsoa11cd")["lsoa21cd"]
    row = carried.values.set_index("lsoa11cd").loc["E01008187"]  # Gateshead 024C: X, two exact-fit parts
    assert row["change"] == "X" and row["parts"] == 1
    assert row["imd_score"] == pytest.approx(iod2025.loc[best["E01008187"], "imd_score"])
    assert carried.x_method == "ONS best-fit LSOA 2021"


def test_population_weighting_when_populations_are_present():
    table = pd.DataFrame(
        {
            "lsoa21cd": ["A1", "A2", "B1"],
            "imd_score": [10.0, 40.0, 5.0],
            "imd_rank": [3, 1, 2],
            "imd_decile": [3, 1, 2],
            "population_total": [1000, 3000, 2000],
        }
    )
    lookup = pd.DataFrame({"lsoa11cd": ["a", "a", "b"], "lsoa21cd": ["A1", "A2", "B1"], "chgind": ["S", "S", "U"]})
    carried = carry_to_lsoa11(table, SOURCE, lookup).values.set_index("lsoa11cd")
    assert carried.loc["a", "imd_score"] == pytest.approx((10 * 1000 + 40 * 3000) / 4000)  # 32.5
    assert carried.loc["a", "imd_rank"] == pytest.approx((3 * 1000 + 1 * 3000) / 4000)  # 1.5 -> decile band 2
    assert carried.loc["a", "imd_decile"] == 2
    assert carried.loc["a", "population_total"] == 4000 and carried.loc["b", "population_total"] == 2000


def test_decile_band_of_an_averaged_rank():
    ranks, deciles = pd.Series([1, 2, 3, 4, 5, 6]), pd.Series([1, 1, 2, 2, 3, 3])
    assert decile_of_rank(pd.Series([1.0, 2.5, 4.0, 5.5, None]), ranks, deciles).tolist() == [1, 2, 2, 3, pd.NA]


def test_wrong_geography_and_unknown_change_code_are_refused(data_dir):
    with pytest.raises(ValueError, match=r"expects an LSOA 2021 source; 'iod2019' is on lsoa11"):
        carry_to_lsoa11(pd.DataFrame({"lsoa21cd": []}), indicator_source("iod2019"), pd.DataFrame())
    lookup = pd.DataFrame({"lsoa11cd": ["a"], "lsoa21cd": ["A"], "chgind": ["Q"]})
    with pytest.raises(ValueError) as error:
        carry_to_lsoa11(pd.DataFrame({"lsoa21cd": ["A"], "imd_score": [1.0]}), SOURCE, lookup)
    assert str(error.value) == "The lookup has change indicator(s) ['Q']; valid ones are ['M', 'S', 'U', 'X']."
