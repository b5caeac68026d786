"""The need map on LSOA 2021 (the team's own figures): episodes counted in the LSOA 2021 ingest placed them in,
children carried by the stated rule, every area named with its ward; released views never offer it. Expected figures
are worked out here from the ingested episodes and the ONS files with pandas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ehmap.audience import Audience
from ehmap.lsoa21 import PLACEMENT_NOTE, children_note
from ehmap.views.need_map import map_geographies, placed_on_lsoa21
from tests.conftest import CROYDON

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def cases(directory, council_names):
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return load_demo(directory, council_names, pseudonymisation_key()).cases


def page() -> AppTest:
    from ehmap.store import DEMO_CHOICE

    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = DEMO_CHOICE
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_lsoa_2021_is_offered_to_the_team_only_and_only_when_episodes_were_placed(cases):
    assert placed_on_lsoa21(cases, Audience.TEAM) and not placed_on_lsoa21(cases, Audience.RELEASE)
    assert not placed_on_lsoa21(cases.assign(lsoa21cd=pd.NA), Audience.TEAM)
    assert list(map_geographies(True, True)) == ["lsoa21", "lsoa11", "ward"]  # LSOA 2021 first: the default
    assert list(map_geographies(False, False)) == ["lsoa11"]


def test_the_team_maps_lsoa_2021_with_its_own_counts_children_and_wards(cases, data_dir):
    at = page()
    at.radio(key="need_map_geography_team").set_value("lsoa21").run()
    assert not at.exception, [e.message for e in at.exception]
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    croydon = lookup[lookup["LAD24CD"] == CROYDON].set_index("LSOA21CD")
    [fmap] = at.get("component_instance")
    script = json.loads(fmap.proto.json_args)["script"]
    assert sorted(re.findall(r'"code": "([^"]+)"', script)) == sorted(croydon.index)  # all 229, zeros included
    assert "database right 2021" in script and "Royal Mail" in script  # the boundaries drawn credit their own year
    table = at.dataframe[-1].value.set_index("LSOA code")
    assert list(table.columns[:3]) == ["LSOA name", "Ward", "Episodes"]
    assert table["LSOA name"].to_dict() == croydon["LSOA21NM"].to_dict()
    assert table["Ward"].to_dict() == croydon["WD24NM"].to_dict()
    expected = cases["lsoa21cd"].astype(str).value_counts().reindex(croydon.index, fill_value=0)
    assert table["Episodes"].astype(int).to_dict() == expected.to_dict()
    assert int(table["Episodes"].astype(int).sum()) == len(cases)
    exact = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_exact_fit.csv", dtype=str)
    people = pd.read_csv(data_dir / "population_mid2020_lsoa11_children_0_17.csv", index_col="LSOA11CD")["age_0_17"]
    exact["share"] = exact["LSOA11CD"].map(people) / exact.groupby("LSOA11CD")["LSOA21CD"].transform("size")
    children = exact.groupby("LSOA21CD")["share"].sum().reindex(croydon.index)
    assert table["Children 0-17"].astype(float).to_dict() == pytest.approx(children.to_dict(), abs=0.01)
    rate = expected / children * 1000
    assert table["Rate per 1,000"].astype(float).to_dict() == pytest.approx(rate.round(1).to_dict(), abs=0.051)
    captions = " ".join(re.sub(r"\\(.)", r"\1", c.value) for c in at.caption)
    assert PLACEMENT_NOTE in captions and children_note() in captions and "about 200 m" in captions


def test_a_released_view_never_offers_lsoa_2021(directory):
    at = page()
    at.toggle(key="show_released").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "LSOA 2021" not in at.radio(key="need_map_geography_release").options


def test_hot_spots_run_on_lsoa_2021_for_the_team(cases, data_dir):
    """The Hot spots page on LSOA 2021: every one of Croydon's LSOAs 2021 tested, counts from the placed episodes."""
    at = page()
    at.switch_page("pages/hotspots.py").run()
    at.selectbox(key="hotspots_geography").set_value("lsoa21").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    croydon = sorted(lookup.loc[lookup["LAD24CD"] == CROYDON, "LSOA21CD"])
    [fmap] = at.get("component_instance")
    assert sorted(re.findall(r'"code": "([^"]+)"', json.loads(fmap.proto.json_args)["script"])) == croydon
    captions = " ".join(re.sub(r"\\(.)", r"\1", c.value) for c in at.caption)
    assert children_note() in captions  # the rates tested use children carried onto LSOA 2021, and say so
