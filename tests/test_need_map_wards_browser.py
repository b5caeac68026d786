"""The need map by ward in Debian's Chromium: picking "Ward" redraws the map on Croydon's wards and the table under
it names them."""

from __future__ import annotations

from browser_support import map_holding, screenshot_on_failure, wait_until_idle

from ehmap.areas import area_set
from tests.conftest import CROYDON


def test_picking_ward_redraws_the_map_on_wards_with_their_names_in_the_table(app_url, page):
    wards = area_set("ward", CROYDON).areas
    with screenshot_on_failure(page, "need_map_wards"):
        page.goto(app_url, wait_until="domcontentloaded")
        map_holding(page, "path.leaflet-interactive >> nth=228", 180)  # every LSOA 2021 first (229)
        choice = page.get_by_test_id("stRadio").filter(has=page.get_by_text("Map by", exact=True)).first
        choice.get_by_text("Ward", exact=True).click()
        wait_until_idle(page)
        frame = map_holding(page, f"path.leaflet-interactive >> nth={len(wards) - 1}")
        assert frame.locator("path.leaflet-interactive").count() == len(wards)
        assert frame.locator("[aria-label*=', by ward, Croydon, ']").count() == 1  # the map's name says ward
        table = page.get_by_test_id("stDataFrame").last
        table.scroll_into_view_if_needed()
        # the grid draws on a canvas; its cells are also in an off-screen table for screen readers
        table.locator("th[role=columnheader]", has_text="Ward name").wait_for(state="attached", timeout=60_000)
        headers = table.locator("th[role=columnheader]").all_text_contents()
        assert headers[:2] == ["Ward name", "Ward code"] and "Smoothed rate per 1,000" in headers  # the map's table
        shown = " ".join(table.locator("td[role=gridcell]").all_text_contents())
        assert sum(name in shown for name in wards["name"]) >= 5, shown[:500]
        assert page.off_machine == []
