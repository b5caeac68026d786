"""Every table a page shows, to the team and as released, heads its columns in words: no raw column name such as
`lsoa11cd` or `price_year` (a column's shown title is its column_config label when it has one)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["pages/need_map.py", "pages/hotspots.py", "pages/deprivation.py", "pages/need_deprivation.py",
         "pages/poverty.py", "pages/coverage.py", "pages/performance.py", "pages/trends.py", "pages/business_case.py",
         "pages/report.py", "pages/your_data.py", "pages/data_sources.py", "pages/about.py"]
RAW = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$|^lsoa\d\d(cd|nm)$|^[a-z]{2,}$")  # snake_case, codes, lower-case words
ALLOWED = {"z"}  # the z-score, as statisticians write it


def shown_titles(frame) -> list[str]:
    """The headers a reader sees: each column's column_config label, else its name; hidden columns left out."""
    config = json.loads(frame.proto.columns or "{}")
    titles = []
    for column in frame.value.columns:
        settings = config.get(str(column), {})
        if not settings.get("hidden"):
            titles.append(settings.get("label") or str(column))
    return titles


@pytest.mark.parametrize("released", [False, True], ids=["team", "released"])
@pytest.mark.parametrize("page", PAGES)
def test_no_table_shows_a_raw_column_name(directory, page, released):
    from ehmap.store import DEMO_CHOICE

    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = DEMO_CHOICE
    at.session_state["show_released"] = released
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    raw = {title for frame in at.dataframe for title in shown_titles(frame) if RAW.match(title)} - ALLOWED
    assert not raw, f"{page} shows raw column names {sorted(raw)}"
