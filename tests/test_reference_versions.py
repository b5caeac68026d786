"""Every page that uses reference files says, in one caption, which version of each it used (issue 17): file name,
short SHA-256, date and where it came from, as *Data sources* lists it. Run headless (AppTest) through the frame."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ehmap.catalogue import indicator_source
from ehmap.text import plain
from tests.conftest import REPO

APP = str(REPO / "app.py")
CONTEXT = ("iod2019", "iod2025", "lookup_lsoa11_lsoa21", "lookup_lsoa11_lsoa21_best_fit", "population_mid2020")
PAGES = {  # page -> the reference files it uses
    "need_map": ("population_mid2020", "lookup_lsoa11_lsoa21"),  # children carried onto LSOA 2021, the default
    "hotspots": ("population_mid2020", "lookup_lsoa11_lsoa21"),
    "deprivation": CONTEXT,
    "need_deprivation": CONTEXT,
    "poverty": CONTEXT,
    "coverage": ("population_mid2020", "iod2019"),
    "performance": ("iod2019",),
    "report": ("population_mid2020", "iod2019"),
}


def run(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = "demo"
    at.run()
    if page != "need_map":  # the first page; the others are switched to
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def versions_caption(at: AppTest) -> str:
    [caption] = [c.value for c in at.caption if c.value.startswith(plain("Reference files used: "))]
    return caption


def from_data_folder(folder: Path, source_id: str) -> str:
    """What the caption should say of a data folder's file, worked out here from the file itself."""
    path = folder / indicator_source(source_id).file
    day = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{path.name} (SHA-256 {digest[:12]}, {day:%d/%m/%Y}, the data folder)"


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_using_reference_files_names_each_version_in_one_caption(directory, data_dir, page,
                                                                             data_folder_set):
    expected = "Reference files used: " + "; ".join(from_data_folder(data_dir, s) for s in PAGES[page]) + "."
    assert versions_caption(run(page)) == plain(expected)


def test_an_uploaded_version_is_named_with_its_hash_and_origin_as_data_sources_lists_it(without_iod2019, data_dir):
    lines = (data_dir / indicator_source("iod2019").file).read_bytes().splitlines(keepends=True)
    croydon = lines[0] + b"".join(line for line in lines[1:] if b",E09000008,Croydon," in line)
    at = run("need_map")
    at.switch_page("pages/data_sources.py").run()
    at.selectbox(key="sources_choice").set_value("iod2019").run()
    at.file_uploader(key="sources_upload").set_value(("File_7 (Croydon).csv", croydon, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    listed = at.dataframe[0].value.set_index("Id").loc["iod2019"]
    digest = hashlib.sha256(croydon).hexdigest()
    assert listed["Version"].endswith(f"SHA-256 {digest[:12]}") and listed["From"] == "upload of File_7 (Croydon).csv"
    at.switch_page("pages/deprivation.py").run()
    assert not at.exception, [e.message for e in at.exception]
    today = dt.datetime.now(dt.UTC)
    uploaded = (f"iod2019_lsoa11_file7_columns.csv (SHA-256 {digest[:12]}, {today:%d/%m/%Y}, "
                "upload of File_7 (Croydon).csv)")
    others = [from_data_folder(without_iod2019, s) for s in CONTEXT[1:]]
    assert versions_caption(at) == plain("Reference files used: " + "; ".join([uploaded, *others]) + ".")
