"""Destabilised by poverty by ward in Debian's Chromium: picking "Ward" redraws the map on Croydon's wards, and the
ranked table and the areas table name them."""

from __future__ import annotations

from browser_support import map_holding, screenshot_on_failure, wait_until_idle

from ehmap.areas import area_set
from tests.conftest import CROYDON


def test_picking_ward_maps_wards_and_names_them_in_the_tables(app_url, page):
    lsoas, wards = area_set("lsoa11", CROYDON).areas, area_set("ward", CROYDON).areas
    with screenshot_on_failure(page, "poverty_wards"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Destabilised by poverty").click()
        wait_until_idle(page)
        map_holding(page, f"path.leaflet-interactive >> nth={len(lsoas) - 1}", 180)  # every LSOA first
        choice = page.get_by_test_id("stRadio").filter(has=page.get_by_text("Map by", exact=True)).first
        choice.get_by_text("Ward", exact=True).click()
        wait_until_idle(page)
        frame = map_holding(page, f"path.leaflet-interactive >> nth={len(wards) - 1}")
        assert frame.locator("path.leaflet-interactive").count() == len(wards)
        page.get_by_text("Deprivation deciles are published for LSOAs", exact=False).first.wait_for(timeout=60_000)
        tables = page.get_by_test_id("stDataFrame")
        for table in (tables.nth(1), tables.last):  # the ranked wards (after the comparison), and every ward
            table.scroll_into_view_if_needed()
            table.locator("td").first.wait_for(state="attached", timeout=60_000)  # as held for assistive technology
            assert "Ward name" in table.locator("th").all_inner_texts()
            cells = " ".join(table.locator("td").all_inner_texts())
            assert sum(name in cells for name in wards["name"]) >= 5, cells[:500]
        assert page.off_machine == []
