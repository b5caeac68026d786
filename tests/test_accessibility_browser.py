"""WCAG 2.2 AA in Chromium: axe-core (npm, tests/axe) finds no serious or critical violation in ehmap's markup on any
of the 13 pages, nor in the document of any map frame; every map and chart has a text alternative beside it.

What Streamlit itself renders and ehmap cannot change (listed in STREAMLIT_OWNED with the reason) is reported in the
assertion message but does not fail the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, MAP_IFRAME, PAGES, screenshot_on_failure, wait_until_idle

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}
MAP_PAGES = {"", "hot-spots", "deprivation-context", "need-and-deprivation", "destabilised-by-poverty",
             "service-coverage"}
# Markup that Streamlit renders and ehmap cannot change: a CSS selector for the container -> why.
STREAMLIT_OWNED = {
    '[data-testid="stSidebarNav"]': (
        "st.navigation's sidebar menu (Streamlit 1.67 SidebarNav): each section's <li> items sit in a <div> inside "
        "the <ul> (axe rules list, listitem); the markup is built by Streamlit's frontend"
    ),
}
CHARTS = '[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"]'

RUN_AXE = """async ([tags, owned]) => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    const owner = (target) => {
        const element = document.querySelector(target[target.length - 1]);
        const selector = element && owned.find((s) => element.closest(s));
        return selector || null;
    };
    return result.violations.flatMap((v) => v.nodes.map((n) => ({
        rule: v.id, impact: n.impact || v.impact, help: v.help, target: n.target.join(' '),
        html: n.html.slice(0, 160), summary: (n.failureSummary || '').slice(0, 300), owner: owner(n.target),
    })));
}"""


@pytest.fixture(scope="module")
def axe_script() -> Path:
    """axe-core from npm; a missing install fails, saying how to install it."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `bash .ci/run` (it runs `npm ci --prefix tests/axe`).")
    return AXE


def violations(target, axe_script: Path) -> list[dict]:
    """axe-core's WCAG 2.0/2.1/2.2 A and AA violations in a page or frame, one entry per node."""
    target.add_script_tag(path=str(axe_script))
    return target.evaluate(RUN_AXE, [WCAG_TAGS, list(STREAMLIT_OWNED)])


def map_frames(page, expected: bool) -> list:
    """The documents of the maps shown (waiting for one when the page has a map), each once Leaflet drew into it."""
    frames = []
    maps = page.locator(MAP_IFRAME)
    if expected:
        maps.first.wait_for(timeout=120_000)
    for i in range(maps.count()):
        frame = maps.nth(i).element_handle().content_frame()
        frame.locator(".leaflet-container").first.wait_for(timeout=120_000)
        frames.append(frame)
    return frames


def describe(found: list[dict]) -> str:
    return "\n".join(f"  [{v['impact']}] {v['rule']} at {v['target']}: {v['html']} -- {v['summary']}" for v in found)


@pytest.mark.parametrize("path", list(PAGES), ids=[title for title in PAGES.values()])
def test_page_has_no_serious_wcag_violation_in_ehmap_markup(app_url, page, axe_script, path):
    with screenshot_on_failure(page, f"axe_{path or 'need-map'}"):
        page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
        wait_until_idle(page)
        found = violations(page, axe_script)
        frames = map_frames(page, path in MAP_PAGES)
        assert bool(frames) == (path in MAP_PAGES), f"{PAGES[path]}: {len(frames)} map frames"
        for frame in frames:
            found += [{**v, "target": f"map frame: {v['target']}"} for v in violations(frame, axe_script)]
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"axe-{path or 'need-map'}.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
        ours = [v for v in found if v["owner"] is None and v["impact"] in FAILING_IMPACTS]
        streamlit = [v for v in found if v["owner"] is not None]
        minor = [v for v in found if v["owner"] is None and v["impact"] not in FAILING_IMPACTS]
        assert not ours, (
            f"{PAGES[path]}: {len(ours)} serious or critical axe-core violations in ehmap's markup:\n{describe(ours)}"
            f"\nLeft to Streamlit ({len(streamlit)}):\n{describe(streamlit)}\nMinor or moderate ({len(minor)}):\n"
            f"{describe(minor)}"
        )
        if frames or page.locator(CHARTS).count():  # every map and chart has a table and a sentence beside it
            assert page.locator('[data-testid="stDataFrame"]').count() > 0, f"{PAGES[path]}: a map or chart, no table"
            assert page.locator('[data-testid="stAlert"], [data-testid="stCaptionContainer"]').count() > 0, (
                f"{PAGES[path]}: a map or chart with no sentence saying what it shows")
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
