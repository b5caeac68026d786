"""The three questions a service head asks, each answered on its page in Chromium by a visible sentence and a ranked
table with place or service names: where is domestic abuse worst, which families are destabilised by poverty, and
which services help most. Run on the demo as the team sees it."""

from __future__ import annotations

import pandas as pd
from browser_support import map_holding, screenshot_on_failure

from ehmap.areas import ward_area_set
from ehmap.demo import DEMO_FILE, DEMO_LA_CODE
from ehmap.geography import council_lsoas


def settle(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit has finished the run the last action started."""
    page.wait_for_timeout(1000)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=timeout_ms)


def reading(page, starts: str) -> str:
    """The page's reading: the info box that starts with `starts`, once drawn."""
    box = page.get_by_test_id("stAlertContentInfo").filter(has_text=starts).first
    box.wait_for(timeout=120_000)
    return box.inner_text()


def table_rows(page, nth: int) -> list[list[str]]:
    """The rows (cell texts) of the page's nth table as the browser holds them for assistive technology."""
    table = page.get_by_test_id("stDataFrame").nth(nth)
    table.scroll_into_view_if_needed()
    table.locator("td").first.wait_for(state="attached", timeout=60_000)
    return [row.locator("td").all_inner_texts() for row in table.locator("tr").all() if row.locator("td").count()]


def test_where_domestic_abuse_is_worst_is_a_sentence_and_ranked_wards(app_url, page):
    wards = set(ward_area_set(DEMO_LA_CODE).areas["name"])
    with screenshot_on_failure(page, "question_domestic_abuse"):
        page.goto(app_url, wait_until="domcontentloaded")
        map_holding(page, f"path.leaflet-interactive >> nth={len(council_lsoas(DEMO_LA_CODE)) - 1}")
        page.get_by_role("combobox", name="Need").click()
        page.get_by_role("option", name="Safe from domestic abuse").click()
        settle(page)
        sentence = reading(page, "Safe from domestic abuse")
        rows = table_rows(page, 0)  # the ranked areas, under the map
        assert len(rows) >= 10
        ranks, names = [int(row[0]) for row in rows], [row[1] for row in rows]
        assert ranks == sorted(ranks) and ranks[0] == 1
        assert set(names) <= wards  # ward names, not codes
        top = names[0]
        assert rows[0][-2] == "clearly above the council rate"
        assert top in sentence and "clearly above the council rate" in sentence
        assert page.off_machine == []


def test_families_destabilised_by_poverty_is_a_sentence_and_ranked_lsoas(app_url, page):
    wards = set(ward_area_set(DEMO_LA_CODE).areas["name"])
    lsoa_names = set(council_lsoas(DEMO_LA_CODE)["lsoa11nm"])
    with screenshot_on_failure(page, "question_poverty"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Destabilised by poverty").click()
        settle(page)
        sentence = reading(page, "overty")
        assert "95% interval" in sentence and "Next:" in sentence
        page.get_by_role("heading", name="Areas ranked by families destabilised by poverty").wait_for()
        rows = table_rows(page, 1)  # the comparison, then the ranked areas
        assert len(rows) >= 10
        assert all(row[1] in lsoa_names for row in rows)  # LSOA names
        assert all(row[3] in wards for row in rows)  # with their wards (the code between)
        assert page.off_machine == []


def test_which_services_help_most_is_a_sentence_and_ranked_services(app_url, page):
    services = set(pd.read_csv(DEMO_FILE, usecols=["Allocated Team"])["Allocated Team"].dropna())
    with screenshot_on_failure(page, "question_services"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Which services help most").click()
        settle(page)
        sentence = reading(page, "On the ")
        assert "than expected" in sentence and "95% interval" in sentence
        rows = table_rows(page, 0)  # services at a glance
        named = [row[1] for row in rows]
        assert len(named) >= 5 and set(named) <= services
        assert any(service in sentence for service in named)
        assert page.off_machine == []
