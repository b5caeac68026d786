"""The context pages run headless (AppTest): Croydon and Buckinghamshire, demo and upload, absent files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ehmap.maps import STATIC_URL
from ehmap.text import plain
from tests.conftest import saved_dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["pages/deprivation.py", "pages/need_deprivation.py", "pages/poverty.py", "pages/data_sources.py"]
CROYDON, BUCKS = "E09000008", "E06000060"


def run(page: str, la_code: str | None = None, **state) -> AppTest:
    """Run the frame with this session state (council, dataset...), then switch to `page`."""
    at = AppTest.from_file(APP, default_timeout=120)
    if la_code:
        state = {"la_code": la_code, **state}
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def plain_text(text: str) -> str:
    """Markdown shown through ehmap.text.plain, back to the characters it shows."""
    return re.sub(r"\\(.)", r"\1", text)


def map_script(at: AppTest) -> str:
    maps = at.get("component_instance")
    assert len(maps) == 1
    args = json.loads(maps[0].proto.json_args)
    assert all(link.startswith(STATIC_URL) for link in args["js_links"] + args["css_links"])
    return args["script"]


def small(values) -> list[str]:
    return [str(v) for v in values if re.fullmatch(r"[1-5]", str(v))]


def all_table_counts(at: AppTest) -> list[str]:
    values = []
    for frame in at.dataframe:
        for column in frame.value.columns:
            if column in ("Episodes", "All EH episodes", "In the most deprived fifth"):
                values += [str(v) for v in frame.value[column]]
    return values


@pytest.mark.parametrize("la_code, lsoas", [(CROYDON, 220), pytest.param(BUCKS, 319, marks=pytest.mark.national)])
def test_deprivation_context_draws_every_lsoa_with_an_imd_decile(directory, la_code, lsoas):
    """IoD2025 carried onto LSOA 2011, beside IoD2019 (tests/test_deprivation_lsoa21.py: on its own LSOAs 2021)."""
    at = run("pages/deprivation.py", la_code)
    at.radio(key="context_areas").set_value("lsoa11").run()
    script = map_script(at)
    assert script.count('"type": "Feature"') == lsoas
    assert at.selectbox(key="context_indicator").value == "iod2025_imd_decile"
    values = re.findall(r'"value": "([^"]*)"', script)
    assert len(values) == lsoas and "" not in values  # every LSOA has a value
    assert any("ONS exact-fit lookup" in plain_text(c.value) and "simple mean" in plain_text(c.value)
               for c in at.caption)
    assert any("not as a change" in c.value for c in at.caption)
    readings = [plain_text(i.value) for i in at.info]  # the plain reading near the top, counted independently here
    fifth = int((at.dataframe[0].value.iloc[:, 3] <= 2).sum())
    assert any(r.startswith(f"{fifth} of ") and f"'s {lsoas} LSOAs" in r and "Next:" in r for r in readings), readings
    pair = at.dataframe[1].value  # after the areas table
    assert len(pair) == lsoas and pair.iloc[:, 2:].notna().all().all()
    assert list(pair.columns[2:]) == [
        "IMD decile (English Indices of Deprivation 2019)",
        "IMD decile (English Indices of Deprivation 2025)",
    ]
    assert not at.warning  # everything is loaded from the shared folder


def test_deprivation_context_any_indicator(directory):
    at = run("pages/deprivation.py")
    at.selectbox(key="context_indicator").set_value("iod2019_idaci_score").run()
    assert not at.exception
    assert any("IDACI" in m.value for m in at.markdown if "ehmap-legend" in m.value)
    assert any("not loaded from both" in i.value for i in at.info)  # IoD2025 has no IDACI in the shared copy


def test_need_deprivation_on_the_demo(directory):
    at = run("pages/need_deprivation.py")
    script = map_script(at)
    assert script.count('"type": "Feature"') == 220
    from ehmap.context import BIVARIATE_PALETTE

    assert BIVARIATE_PALETTE[3, 1] in script and BIVARIATE_PALETTE[1, 3] in script  # bivariate corners are drawn
    assert [s.value for s in at.subheader] == ["High need, low deprivation", "Low need, high deprivation"]
    readings = [plain_text(i.value) for i in at.info]
    assert any(r.startswith("Across 220 LSOAs, the rate of all episodes") and "Spearman correlation" in r
               and "95% interval" in r for r in readings), readings
    assert len(at.dataframe[0].value) > 0
    at.selectbox(key="bivariate_measure").set_value("iod2019_idaci_score").run()
    at.selectbox(key="bivariate_need").set_value("financial_stability").run()
    assert not at.exception
    # released, all needs are shared by ward on the demo: the LSOA comparison stays with the team and says so
    at.selectbox(key="bivariate_need").set_value(None).run()
    at.toggle(key="show_released").set_value(True).run()
    assert not at.exception
    assert any("shown by LSOA only, so this comparison is for the team" in plain_text(c.value) for c in at.caption)
    assert not at.get("component_instance")


def test_poverty_view_on_the_demo(directory):
    at = run("pages/poverty.py")
    assert at.selectbox(key="poverty_decile").value == "iod2019_idaci_decile"
    shares = next(f.value for f in at.dataframe if "Group" in f.value.columns)
    assert list(shares["Group"]) == ["Families with financial stability or secure housing", "All Early Help families"]
    assert shares["Share (%)"][0] > shares["Share (%)"][1]
    assert any("poverty needs are concentrated there" in plain_text(c.value) for c in at.caption)
    assert any("Poverty needs are over-represented in the most deprived areas" in plain_text(i.value) for i in at.info)
    for needs in [("housing",), ("financial_stability",)]:
        at.selectbox(key="poverty_needs").set_value(needs).run()
        assert not at.exception
    at.toggle(key="show_released").set_value(True).run()  # as shared: rounded to 5, 1 to 7 hidden
    assert not at.exception
    counts = [v for v in all_table_counts(at) if v != "c"]
    assert counts and not [v for v in counts if int(v) % 5 or 1 <= int(v) <= 7]
    assert "c" in all_table_counts(at)


def test_views_work_on_an_uploaded_export(directory, council_names, forget_uploads):
    from ehmap.config import pseudonymisation_key
    from ehmap.exports import read_export
    from ehmap.ingest import ingest

    rows = ["Case ID,Family ID,Postcode,Referral Date,Needs"]
    postcodes = ["CR0 1AB", "CR0 2AE", "CR7 7JD", "SE25 4NX", "CR2 6HS", "CR0 0AA", "CR8 2BG"]
    for i in range(70):
        need = ["financial stability", "housing", "domestic abuse;housing", "mental health"][i % 4]
        rows.append(f"U{i},F{i // 2},{postcodes[i % len(postcodes)]},0{1 + i % 9}/03/2024,{need}")
    data = "\n".join(rows).encode()
    result = ingest(read_export(data, "mine.csv"), CROYDON, directory, council_names, pseudonymisation_key())
    assert result.accepted >= 60
    state = {"dataset": saved_dataset(result, "mine.csv", data)}  # saved in the team store, as Your data does
    for page in ("pages/need_deprivation.py", "pages/poverty.py"):
        at = run(page, **state)
        assert not [w.value for w in at.warning if "Team view" not in w.value]
        assert not at.exception
    shares = next(f.value for f in at.dataframe if "Group" in f.value.columns)
    assert shares["Families"][1] == result.cases["family_id"].nunique()


def test_views_for_another_council_than_the_data_say_so(directory):
    for page in ("pages/need_deprivation.py", "pages/poverty.py"):
        at = run(page, BUCKS)
        assert any("covers Croydon, not Buckinghamshire" in w.value for w in at.warning)


def test_absent_files_give_messages_not_tracebacks(directory, monkeypatch, tmp_path):
    monkeypatch.setenv("EHMAP_DATA_DIR", str(tmp_path))
    st.cache_data.clear()
    try:
        at = run("pages/deprivation.py")
        warnings = " ".join(w.value for w in at.warning)
        assert plain(  # the file and how to add it, never the server's folder
            "English Indices of Deprivation 2019 is not loaded: iod2019_lsoa11_file7_columns.csv is neither in the "
            "data folder (EHMAP_DATA_DIR) nor added yet; an admin can add it on the Data sources page (published by "
            "Ministry of Housing, Communities and Local Government at https://"
        ) in warnings
        assert tmp_path.name not in warnings.replace("\\", "")
        assert any("No index is loaded yet" in i.value for i in at.info)
        at = run("pages/need_deprivation.py")
        assert any(w.value.startswith("Rates need the child population. Population estimates, mid-2020, children by "
                                      "single year of age is not loaded: population_mid2020_lsoa11_children_0_17.csv "
                                      "is neither in the data folder") for w in at.warning)
        at = run("pages/poverty.py")
        assert any("No IDACI or IMD deciles are loaded" in w.value for w in at.warning)
        at = run("pages/data_sources.py")
        status = at.dataframe[0].value.set_index("Id")["Status"]
        assert status["iod2019"].startswith("not loaded: English Indices of Deprivation 2019 is not loaded: "
                                            "iod2019_lsoa11_file7_columns.csv is neither in the data folder")
        assert not status.str.contains(str(tmp_path), regex=False).any()
    finally:
        st.cache_data.clear()


@pytest.fixture
def clean_upload_cache():
    """Remove the IoD2019 copy an upload test keeps in the (shared) cache, so no other test sees it."""
    from ehmap.download import provenance_path
    from ehmap.indicators import sources_dir

    kept = sources_dir() / "iod2019_lsoa11_file7_columns.csv"
    assert not kept.exists(), f"{kept} was left by an earlier run; delete it"
    yield
    for path in (kept, provenance_path(kept)):
        path.unlink(missing_ok=True)


def test_data_sources_lists_every_entry_and_checks_uploads(directory, data_dir, data_folder_set, clean_upload_cache):
    at = run("pages/data_sources.py")
    table = at.dataframe[0].value.set_index("Id")
    assert {"iod2019", "iod2025", "population_mid2020", "lookup_lsoa11_lsoa21"} <= set(table.index)
    assert table.loc["iod2025", "Status"].startswith("loaded from data folder (EHMAP_DATA_DIR)")
    assert "Open Government Licence v3.0" in table.loc["iod2019", "Attribution"]
    assert table.loc["iod2025", "Vintage"] == "2025" and table.loc["iod2025", "Geography"] == "LSOA 2021"
    at.file_uploader(key="sources_upload").set_value(
        ("mine.csv", b"LSOA code (2011),Something\n" + b"E01000001,1\n" * 40, "text/csv")
    ).run()
    assert not at.exception
    assert any(
        e.value.startswith(plain("mine.csv lacks the column(s) ['Index of Multiple Deprivation (IMD) Score'"))
        for e in at.error
    )
    good = (data_dir / "iod2019_lsoa11_file7_columns.csv").read_bytes()[:200_000].rsplit(b"\n", 1)[0] + b"\n"
    at.file_uploader(key="sources_upload").set_value(("File_7.csv", good, "text/csv")).run()
    saved = [s.value for s in at.success if s.value.startswith(f"English Indices of Deprivation 2019: "
                                                                     f"{plain('File_7.csv')} saved (")]
    assert len(saved) == 1
    assert saved[0].endswith("The data folder's copy stays in use: the data folder comes before uploads and "
                             "downloads.")  # EHMAP_DATA_DIR holds IoD2019 too
    from ehmap.indicators import sources_dir

    kept = sources_dir() / "iod2019_lsoa11_file7_columns.csv"
    saved_at = kept.stat().st_mtime_ns
    at.run()  # a rerun shows the outcome again without writing the file again
    assert kept.stat().st_mtime_ns == saved_at
    assert [s.value for s in at.success] == saved
