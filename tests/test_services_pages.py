"""The services and poverty pages show their plain reading near the top and a ranked table with service or place
names, for the team and as released (a viewer sees what the release shows: the team member's *Show the released
view* switch gives the same audience), run headless with AppTest on the demo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ehmap.audience import RELEASE_MARKING, TEAM_MARKING
from ehmap.release.protect import HIDDEN
from ehmap.store import DEMO_CHOICE

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def run_page(page: str, released: bool) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = DEMO_CHOICE  # the demo, whatever an earlier test saved and remembered
    if released:
        at.session_state["show_released"] = True
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def unescaped(text: str) -> str:
    """Markdown shown through ehmap.text.plain, back to the characters it shows."""
    return re.sub(r"\\(.)", r"\1", text)


def first_info(at: AppTest) -> str:
    """The page's reading: its first information box after the frame's demo-data banner."""
    shown = [unescaped(i.value) for i in at.info if not i.value.startswith("**Synthetic demo data")]
    assert shown, "no reading shown"
    return shown[0]


@pytest.mark.parametrize("released", [False, True], ids=["team", "released"])
def test_services_page_shows_the_reading_and_the_ranked_services(directory, data_dir, released):
    at = run_page("performance", released)
    marking = RELEASE_MARKING in [s.value for s in at.success] if released else TEAM_MARKING in [
        w.value for w in at.warning]
    assert marking
    reading = first_info(at)
    assert reading.startswith(("On the step-up rate to children's social care", "No service stands out"))
    assert "95% interval" in reading and ("Next:" in reading or "try another measure" in reading)
    glance = at.dataframe[0].value  # the first table on the page: services at a glance
    rank = [c for c in glance.columns if c.startswith("Rank")][0]
    assert "Service (team)" in glance.columns and "Family Support Central" in set(glance["Service (team)"])
    ranks = glance[rank].dropna().astype(int).tolist()
    assert ranks[0] == 1 and ranks == sorted(ranks)
    assert {"95% interval from", "95% interval to"} <= set(glance.columns)
    results = glance[[c for c in glance.columns if c.startswith("Result")][0]]
    assert results.str.contains("expected").all() or results.str.contains("not compared").any()
    if released:
        events = glance["Events"].astype(str)
        shown = [int(v.replace(",", "")) for v in events if v != HIDDEN]
        assert not [v for v in shown if v % 5 or 1 <= v <= 7]  # released counts only
        hidden = glance[events == HIDDEN]
        assert hidden[rank].isna().all() and hidden["95% interval from"].isna().all()


@pytest.mark.parametrize("released", [False, True], ids=["team", "released"])
def test_poverty_page_shows_the_reading_and_the_ranked_areas(directory, data_dir, released):
    at = run_page("poverty", released)
    reading = first_info(at)
    assert ("over-represented" in reading or "No over-representation" in reading) and "95% interval" in reading
    assert "Next:" in reading
    frames = [f.value for f in at.dataframe]
    comparison = next(f for f in frames if "Families living in" in f.columns)
    assert list(comparison["Families living in"]) == ["Most deprived fifth of areas in England", "Elsewhere"]
    assert {"95% interval from", "95% interval to"} <= set(comparison.columns)
    ranked = next(f for f in frames if "Rank" in f.columns)
    ranks = ranked["Rank"].dropna().astype(int).tolist()
    assert ranks[0] == 1 and ranks == sorted(ranks)
    if released:
        assert {"Ward name", "Ward code"} <= set(ranked.columns)  # released areas are wards, named
        assert ranked["Ward name"].str.len().gt(0).all() and ranked["Ward code"].str.startswith("E05").all()
        counts = [int(v.replace(",", "")) for v in ranked["Episodes with a poverty need"] if v != HIDDEN]
        assert not [v for v in counts if v % 5 or 1 <= v <= 7]
        assert any("released (rounded) counts" in unescaped(c.value) for c in at.caption)
    else:
        assert {"LSOA name", "Ward", "Families with a poverty need"} <= set(ranked.columns)
        assert ranked["LSOA name"].str.startswith("Croydon ").all() and ranked["Ward"].str.len().gt(0).all()
        families = ranked["Families with a poverty need"].tolist()
        assert families == sorted(families, reverse=True)
