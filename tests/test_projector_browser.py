"""Projector mode in Debian's Chromium: the whole council's map above the fold in large type, at 1280x720 and
1920x1080, at 100% and with 150% zoom (device scale factor 1.5), always the released view, needs stepped with the
arrow keys, no serious axe-core violation; and (no browser) the released audience forced for a projected page."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, context_page, screenshot_on_failure
from streamlit.testing.v1 import AppTest

from ehmap.access import Role, User
from ehmap.audience import Audience, audience_for

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PRESENT = '.st-key-ehmap_present iframe[title="streamlit_folium.st_folium"]'
SCREENS = [(1280, 720, 1.0), (1280, 720, 1.5), (1920, 1080, 1.0), (1920, 1080, 1.5)]


def test_a_projected_screen_is_always_the_release_even_for_the_team():
    team = User("analyst@example.org", "Ann Analyst", Role.ANALYST)
    assert audience_for(team) is Audience.TEAM
    assert audience_for(team, projected=True) is Audience.RELEASE
    assert audience_for(User("viewer@example.org", "Vic Viewer", Role.VIEWER), projected=True) is Audience.RELEASE


def test_present_link_shows_the_released_view_without_the_team_figures(directory):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(block.value for block in [*at.success, *at.warning, *at.caption])
    assert "Released view: figures protected for sharing" in shown
    assert "Team view: exact figures" not in shown
    assert [b.label for b in at.button] == ["Previous", "Next", "Exit"]
    heading = at.markdown.values
    assert any("All needs" in text and "Croydon" in text for text in heading), heading


def _no_serious_axe_violation(page) -> None:
    """axe-core (tests/axe, as tests/test_accessibility_browser.py runs it) on the projector screen and its map."""
    from test_accessibility_browser import AXE, FAILING_IMPACTS, RUN_AXE, STREAMLIT_OWNED, WCAG_TAGS

    assert AXE.exists(), "tests/axe/node_modules is missing: run `npm ci --prefix tests/axe` (bash .ci/run does)."
    found = []
    for frame in [page.main_frame, page.locator(PRESENT).element_handle().content_frame()]:
        frame.add_script_tag(path=str(AXE))
        found += frame.evaluate(RUN_AXE, [WCAG_TAGS, list(STREAMLIT_OWNED)])
    serious = [v for v in found if v["impact"] in FAILING_IMPACTS and not v["owner"]]
    assert serious == [], serious


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _screen(browser, width: int, height: int, scale: float):
    """A page on a screen of `width` x `height` device pixels zoomed to `scale`, refusing requests off the machine."""
    page = context_page(browser, round(width / scale), round(height / scale), scale)
    return page.context, page


def _inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (inner["left"] >= outer["left"] - slack and inner["top"] >= outer["top"] - slack
            and inner["right"] <= outer["right"] + slack and inner["bottom"] <= outer["bottom"] + slack)


RECT = ("e => { const r = e.getBoundingClientRect(); "
        "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }")


@pytest.mark.parametrize(("width", "height", "scale"), SCREENS, ids=[f"{w}x{h}@{s:.0%}" for w, h, s in SCREENS])
def test_projector_mode_shows_the_whole_council_above_the_fold_in_large_type(app_url, browser, width, height, scale):
    context, page = _screen(browser, width, height, scale)
    name = f"projector_{width}x{height}_{int(scale * 100)}"
    with screenshot_on_failure(page, name):
        page.goto(f"{app_url}/?present=1", wait_until="domcontentloaded")
        page.locator(PRESENT).wait_for(timeout=180_000)
        frame = page.frame_locator(PRESENT).first
        areas = frame.locator("path.leaflet-interactive")
        areas.first.wait_for(state="attached", timeout=180_000)
        page.wait_for_timeout(1500)  # the map fits itself to its frame on load and on resize
        viewport = {"left": 0, "top": 0, "right": page.viewport_size["width"], "bottom": page.viewport_size["height"]}
        map_box = page.locator(PRESENT).evaluate(RECT)
        assert _inside(map_box, viewport), (map_box, viewport)
        assert map_box["bottom"] - map_box["top"] >= 0.6 * viewport["bottom"]  # the map fills the screen
        frame_map = frame.locator("#map_div").evaluate(RECT)
        boxes = areas.evaluate_all(f"paths => paths.map({RECT})")
        assert boxes and all(_inside(box, frame_map) for box in boxes), frame_map
        drawn = (max(b["right"] for b in boxes) - min(b["left"] for b in boxes),
                 max(b["bottom"] for b in boxes) - min(b["top"] for b in boxes))
        # fitted: the council spans most of the map's width or height (a 640x480 framing left 339x450 px of a
        # 984 px tall map at 1920x1080), within a quarter zoom step and the room kept for the source line
        assert max(drawn[0] / (frame_map["right"] - frame_map["left"]),
                   drawn[1] / (frame_map["bottom"] - frame_map["top"])) > 0.6, drawn
        legend = page.locator(".st-key-ehmap_present .ehmap-legend").first
        legend_px = float(legend.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
        row_px = float(legend.locator("div").first.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
        reading_px = float(page.locator(".st-key-projector_reading p").first.evaluate(
            "e => getComputedStyle(e).fontSize").removesuffix("px"))
        assert min(legend_px, row_px, reading_px) >= 24, (legend_px, row_px, reading_px)
        assert page.locator('section[data-testid="stSidebar"]').is_hidden()
        assert page.get_by_text("Released view: figures protected for sharing").last.is_visible()
        label = frame.locator("#map_div").get_attribute("aria-label")
        assert frame.locator('#map_div[role="region"]').count() == 1
        assert "All needs" in label and "Croydon" in label and "20" in label, label
        assert page.off_machine == [], page.off_machine[:5]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    context.close()


def test_arrow_keys_step_through_the_needs_and_exit_brings_the_page_back(app_url, browser):
    context, page = _screen(browser, 1920, 1080, 1.5)
    with screenshot_on_failure(page, "projector_steps"):
        page.goto(f"{app_url}/?present=1", wait_until="domcontentloaded")
        heading = page.locator(".st-key-projector_heading p")
        page.frame_locator(PRESENT).first.locator("path.leaflet-interactive").first.wait_for(
            state="attached", timeout=180_000)
        page.wait_for_timeout(1500)  # the run has finished: the shortcuts are listening
        first = heading.inner_text()
        _no_serious_axe_violation(page)
        assert first.startswith("All needs")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("first => { const e = document.querySelector('.st-key-projector_heading p'); "
                               "return e && e.innerText !== first; }", arg=first, timeout=120_000)
        second = heading.inner_text()
        assert not second.startswith("All needs")
        assert page.locator(PRESENT).count() >= 1
        page.frame_locator(PRESENT).first.locator("path.leaflet-interactive").first.wait_for(
            state="attached", timeout=180_000)
        page.wait_for_timeout(1500)
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("first => { const e = document.querySelector('.st-key-projector_heading p'); "
                               "return e && e.innerText === first; }", arg=first, timeout=120_000)
        page.get_by_role("button", name="Exit").click()
        page.get_by_role("switch", name="Projector mode").wait_for(timeout=120_000)
        page.wait_for_function("() => !location.search.includes('present=')", timeout=60_000)
        assert page.locator('section[data-testid="stSidebar"]').is_visible()
        assert page.get_by_role("combobox", name="Need").first.is_visible()  # the controls are back
        page.get_by_role("switch", name="Projector mode").focus()
        page.keyboard.press("Space")  # the toggle: projector mode again, from where the page was
        page.locator(PRESENT).wait_for(timeout=180_000)
        assert heading.inner_text() == first
    context.close()
