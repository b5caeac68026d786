"""Keyboard only, in Debian's Chromium: the need map page's download buttons within 30 Tab presses of arriving, the
map's area outlines out of the Tab order (the map is a few stops: itself, its zoom buttons, its credit), and the map
image downloaded with the keyboard."""

from __future__ import annotations

import io

from browser_support import MAP_IFRAME, map_holding, screenshot_on_failure
from PIL import Image

FOCUSED = """() => {
    let element = document.activeElement, inFrame = false;
    while (element && element.tagName === 'IFRAME' && element.contentDocument) {
        inFrame = true;
        element = element.contentDocument.activeElement;
    }
    if (!element) return {frame: inFrame, tag: '', name: ''};
    const name = element.getAttribute('aria-label') || element.innerText || '';
    return {frame: inFrame, tag: element.tagName.toLowerCase(), name: name.trim().slice(0, 80),
            path: element.classList.contains('leaflet-interactive')};
}"""
LIMIT = 30


def _tab_to(page, name: str, start: int = 0) -> tuple[int, list[dict]]:
    """Press Tab until the focused element's name starts with `name`; how many presses it took (from `start`)."""
    walked = []
    for presses in range(start + 1, LIMIT + 40):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        walked.append(focused)
        if focused["name"].startswith(name):
            return presses, walked
    raise AssertionError(f"'{name}' not reached: {[f['name'] for f in walked]}")


def _loaded(page, app_url: str) -> None:
    page.goto(app_url, wait_until="domcontentloaded")
    map_holding(page, "path.leaflet-interactive >> nth=20", 180)
    page.get_by_role("button", name="Download the map (PNG)").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)


def test_the_team_reaches_the_map_download_in_under_30_tabs_and_the_outlines_are_not_tab_stops(app_url, page):
    with screenshot_on_failure(page, "keyboard_team"):
        _loaded(page, app_url)
        presses, walked = _tab_to(page, "Download the map (PNG)")
        assert presses < LIMIT, [f["name"] for f in walked]
        frame = map_holding(page, "path.leaflet-interactive >> nth=20")
        outlines = frame.locator("path.leaflet-interactive")
        assert outlines.count() > 200  # the team's map: every LSOA
        assert set(outlines.evaluate_all("paths => paths.map(p => p.getAttribute('tabindex'))")) == {"-1"}
        # past the map: a handful of stops, never an outline
        _, through = _tab_to(page, "Help for Rank", presses)
        in_map = [f for f in through if f["frame"]]
        assert in_map and len(in_map) <= 6, in_map
        assert not any(f.get("path") for f in through)
        assert in_map[0]["name"].startswith("Map of All needs"), in_map[0]  # the map's accessible name
        assert frame.locator("#map_div[role='region']").count() == 1
        assert frame.locator("meta[name='viewport'][content*='user-scalable=no']").count() == 0  # zoom allowed
        assert frame.locator("meta[name='viewport'][content*='maximum-scale=1']").count() == 0


def test_a_released_view_reaches_every_download_in_under_30_tabs_and_saves_the_map_image(app_url, page):
    with screenshot_on_failure(page, "keyboard_released"):
        _loaded(page, app_url)
        presses, _ = _tab_to(page, "Show the released view")
        page.keyboard.press("Space")
        page.get_by_role("button", name="Download this table (CSV)").wait_for(timeout=180_000)
        page.wait_for_timeout(1000)
        page.get_by_role("switch", name="Show the released view (as shared)").focus()  # where Space left it
        reached = {}
        for name in ("Download the map (PNG)", "Download this table (CSV)", "How it was protected (TXT)"):
            presses, walked = _tab_to(page, name, presses)
            reached[name] = presses
        assert max(reached.values()) < LIMIT, reached
        page.get_by_role("button", name="Download the map (PNG)").focus()
        with page.expect_download(timeout=120_000) as download:
            page.keyboard.press("Enter")
        saved = download.value
        assert saved.suggested_filename.endswith(".png")
        image = Image.open(io.BytesIO(open(saved.path(), "rb").read()))
        assert image.format == "PNG" and image.size == (1440, 1200)  # 7.2 x 6 inches at 200 dpi
        assert page.locator(MAP_IFRAME).count() >= 1


def test_a_map_lets_readers_zoom_and_its_name_is_data_never_markup():
    import geopandas as gpd
    import shapely
    from streamlit_folium import _get_header

    from ehmap.maps import area_map

    areas = gpd.GeoDataFrame({"code": ["A"], "name": ["Area A"]}, crs="EPSG:27700",
                             geometry=[shapely.box(530000, 160000, 531000, 161000)])
    fmap = area_map(areas, areas["code"].map(lambda _: "#bd0026"), {"name": "Area"}, label="Map of <script>x</script>")
    page = fmap.get_root().render()
    assert "user-scalable=no" not in page and "maximum-scale=1.0" not in page
    assert "user-scalable" not in _get_header(fmap)  # what streamlit-folium puts in the map frame's head
    assert '"role", "region"' in page and "<script>x" not in page and "\\u003cscript\\u003ex" in page
