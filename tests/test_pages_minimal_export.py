"""Every page on an upload with only the required columns (case ID, postcode, referral date, needs).

Councils' exports differ; one without closure dates, outcomes, teams or dates of birth must still give
every page: what can be shown, and a message (not a traceback) for what cannot.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ehmap.text import plain
from tests.conftest import CROYDON, REPO, saved_dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["need_map", "hotspots", "coverage", "deprivation", "need_deprivation", "poverty", "performance", "trends",
         "business_case", "report", "your_data", "data_sources", "about"]


@pytest.fixture(scope="module")
def minimal_upload(directory, council_names):
    from ehmap.config import pseudonymisation_key
    from ehmap.exports import read_export
    from ehmap.ingest import ingest

    full = pd.read_csv(REPO / "demo" / "croydon_cases.csv")
    data = full[["Case ID", "Home Postcode", "Referral Date", "Presenting Needs"]].to_csv(index=False).encode()
    result = ingest(read_export(data, "minimal.csv"), CROYDON, directory, council_names, pseudonymisation_key())
    assert result.accepted > 4000 and result.cases["end_date"].isna().all()
    return saved_dataset(result, "minimal.csv", data)  # saved in the team store, as the upload page does


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_an_export_with_only_the_required_columns(minimal_upload, page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset"] = minimal_upload
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not any("covers" in w.value for w in at.warning)
    assert not any("Synthetic demo data" in i.value for i in at.info)  # the upload is the dataset in use
    messages = " ".join(i.value for i in at.info)
    if page == "business_case":
        assert "nothing to cost" in messages
    if page == "performance":
        assert plain("No step-up rate to children's social care can be compared") in messages  # data shown as text
