"""Each page run headless with Streamlit's AppTest: no exception, the expected output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ehmap.lsoa21 import council_lsoa21s
from ehmap.maps import STATIC_URL
from ehmap.taxonomy import NEED_KEYS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CROYDON = "E09000008"


def run_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def map_args(at: AppTest) -> dict:
    """The arguments streamlit-folium received for the one map on the page."""
    maps = at.get("component_instance")
    assert len(maps) == 1
    return json.loads(maps[0].proto.json_args)


def visible_counts(at: AppTest) -> list[list[str]]:
    """The values of the 'Episodes' column of each of the page's tables (the ranked areas and the area table)."""
    return [[str(v) for v in frame.value["Episodes"]] for frame in at.dataframe if "Episodes" in frame.value.columns]


def released_counts_only(values: list[str]) -> None:
    """What a release shows: 0, 'c', or a multiple of 5 from 10 up."""
    wrong = [v for v in values if v != "c" and (int(v) % 5 or 1 <= int(v) <= 7)]
    assert not wrong, f"unprotected counts are visible: {wrong}"


def test_need_map_draws_the_demo_on_every_croydon_lsoa_with_local_assets(directory, council_names):
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    at = run_app()
    args = map_args(at)
    assert at.radio(key="need_map_geography_team").value == "lsoa21"  # the ONS's current small areas by default
    assert args["script"].count('"type": "Feature"') == len(council_lsoa21s(CROYDON)) == 229
    assert args["js_links"] and all(link.startswith(STATIC_URL) for link in args["js_links"])
    assert args["css_links"] and all(link.startswith(STATIC_URL) for link in args["css_links"])
    assert "http" not in " ".join(args["js_links"] + args["css_links"])
    assert args["returned_objects"] == []
    assert any("Synthetic demo data" in info.value for info in at.info)
    assert any("Team view: exact figures" in w.value for w in at.warning)
    total = len(load_demo(directory, council_names, pseudonymisation_key()).cases)
    assert at.metric[0].value == f"{total:,}"  # the team's exact council total


@pytest.mark.parametrize("need", NEED_KEYS)
def test_need_map_for_each_need_team_and_released(directory, need):
    at = run_app()
    at.selectbox(key="need_map_need").set_value(need).run()
    assert not at.exception
    tables = visible_counts(at)
    assert len(tables) == 2 and len(tables[-1]) == 229  # the ranked wards, then every LSOA 2021
    assert all(v.isdigit() for table in tables for v in table)  # exact
    at.toggle(key="show_released").set_value(True).run()
    assert not at.exception
    tables = visible_counts(at)
    assert len(tables) == 2 and len(tables[-1]) in (220, 28)  # the release's geography for this need: LSOAs or wards
    assert sorted(tables[0]) == sorted(tables[-1])  # the ranking ranks the released areas, no others
    released_counts_only([v for table in tables for v in table])
    released_counts_only(re.findall(r'"episodes": "([^"]*)"', map_args(at)["script"]))
    assert [b.label for b in at.get("download_button")] == [
        "Download the map (PNG)", "Download this table (CSV)", "How it was protected (TXT)"]  # the map image too


def test_need_map_without_population_shows_counts_only_and_says_why(directory, monkeypatch, tmp_path):
    monkeypatch.setenv("EHMAP_DATA_DIR", str(tmp_path))
    st.cache_data.clear()
    try:
        at = run_app()
        assert at.radio(key="need_map_measure_team").options == ["Episodes"]
        assert any("Counts only" in caption.value and "population_mid2020_lsoa11_children_0_17.csv" in caption.value
                   for caption in at.caption)
    finally:
        st.cache_data.clear()


def test_need_map_for_another_council_explains_the_demo_is_croydon(directory):
    at = run_app()
    at.selectbox(key="la_code").set_value("E06000060").run()
    assert not at.exception
    assert any("Croydon" in w.value and "Buckinghamshire" in w.value for w in at.warning)


def test_bad_upload_names_the_missing_column(directory):
    at = run_app("pages/your_data.py")
    at.file_uploader(key="export_file").set_value(
        ("cases.csv", b"Case ID,Referral Date,Needs\nA1,01/02/2023,housing\n", "text/csv")
    ).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("No postcode column" in e and "Case ID" in e and "Referral Date" in e for e in errors), errors


def test_unreadable_upload_says_so(directory):
    at = run_app("pages/your_data.py")
    at.file_uploader(key="export_file").set_value(("cases.xlsx", b"not a workbook", "application/vnd.ms-excel")).run()
    assert any("could not be read as an Excel workbook" in e.value for e in at.error)


def test_upload_reconciles_and_is_saved_for_the_team(directory, monkeypatch, tmp_path):
    # the reconciliation, what the store keeps, and the frame choosing the saved dataset
    from ehmap.store import default_store

    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path))  # a store of this test's own
    export = (
        b"Case ID,Postcode,Referral Date,Needs\n"
        b"A1,CR0 0AA,01/02/2023,domestic abuse\n"
        b"A2,CR0 1AB,01/03/2023,housing\n"
        b",CR0 1AB,01/03/2023,housing\n"
        b"A4,SW1A 1AA,01/03/2023,housing\n"
    )
    at = run_app("pages/your_data.py")
    at.file_uploader(key="export_file").set_value(("mine.csv", export, "text/csv")).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Rows read": "4", "Accepted": "2", "Rejected": "2"}
    rejects = [frame.value for frame in at.dataframe if "Row" in frame.value.columns][0]
    assert list(rejects["Row"]) == [4, 5]
    assert list(rejects["Reason"]) == ["missing_id", "outside_area"]
    [info] = default_store().datasets(CROYDON)
    kept = default_store().load(info.id).cases
    placed = directory.lookup(np.array(["CR00AA", "CR01AB"], dtype=object)).lsoa11cd
    assert set(kept["lsoa11cd"].astype(str)) == set(placed)
    assert not {"postcode", "Postcode", "date_of_birth"} & set(kept.columns)
    assert not set(kept["case_id"]) & {"A1", "A2"}
    assert at.session_state["dataset"] == info.id


def test_about_page_lists_sources_and_licences(directory):
    at = run_app("pages/about.py")
    table = at.dataframe[0].value
    assert "Open Government Licence" in " ".join(table["Attribution"])
    assert any("loaded from" in status for status in table["Status"])
