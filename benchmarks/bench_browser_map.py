"""Need map in the browser: ehmap against a minimal Streamlit + folium app, each on a real server, in Chromium.

Both apps are served side by side by `streamlit run` on free loopback ports: ehmap (app.py, the demo for Croydon,
a fresh state folder, the reference cache as configured) and the minimal app of bench_app.py drawing the same
Croydon LSOAs, its map loading Leaflet from its own server as ehmap's does (static/leaflet/, the same files and
URL) instead of folium's CDN links. Headless Chromium (/usr/bin/chromium through Playwright; no browser is
downloaded) opens each app once untimed, so the reference cache and the server's Streamlit caches are warm, then:

- first map warm: a new page in the app's browser context → goto → every Leaflet polygon of the map is drawn;
  median of `--first` (5) runs, the apps interleaved;
- click → redrawn: on one page per app (HTTP cache on), pick the other of two needs in the "Need" selectbox and
  time, on the page's own clock, from the pointer going down on the option to the map drawn again with the new colours;
  median of `--clicks` (7) after 2 warm-up clicks, the apps interleaved.

Between measurements each page is left to settle: no script running, one map shown, then 1 s.

The signal that the map is drawn (`DRAWN`): polled on every animation frame in the page, some shown st_folium
iframe (same origin, so its document is readable) holds exactly the app's number of `path.leaflet-interactive`
polygons and their `fill` colours, read in order, differ from the colours before the click (none, for a first
map). streamlit-folium keys its component by a hash of the map's script, so a changed map is a new iframe that
briefly sits beside the old one: counting every polygon excludes a map still being drawn, and the changed colours
exclude the old map, whatever the frames' order or identity. The colours are written by Leaflet once each polygon
is added, so this is the moment the user sees the new map (give or take one frame).

Requests off the machine cannot leave it: Chromium resolves no host name but the loopback ones
(`--host-resolver-rules`), and any such request is counted and printed (none are expected). The first map is timed
twice: with the browser's HTTP cache on (`first map warm`, as a returning user's browser holds Streamlit's and
Leaflet's scripts), and in a context that routes every request through Playwright, which turns the HTTP cache off
(`first map, no HTTP cache`: every script is fetched and compiled again; the figure this bench reported before
2 Dec 2026). (An earlier version answered the minimal app's CDN links through the route:
Leaflet from the local copy, jQuery, Bootstrap and the rest empty. Its medians were of the same size: first map
1.76-1.82 s, click -> redrawn 0.45-0.52 s; the floor is now simply the same Leaflet loaded the same way.)

Prints each median, the ratio ehmap / minimal app, the targets of issue 18 (first map warm <= 1.2x, click ->
redrawn <= 1.1x the minimal app) met or not met, and the load average at start and end. The servers are
stopped (their process groups) at the end, also on error.

    EHMAP_DATA_DIR=../shared/data python benchmarks/bench_browser_map.py [--first 5] [--clicks 7]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench_app import CROYDON, REPO, opening_areas, write_minimal_app  # also puts the repository and tests/ on sys.path
from browser_support import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME, _free_port, _process_group

FIRST_MAP_TARGET = 1.2  # x the minimal app
CLICK_TARGET = 1.1
LEAFLET = REPO / "static" / "leaflet"  # app.py copies Leaflet's files here at start-up
OFF_MACHINE = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost|\[::1\])[:/])")
TIMEOUT_MS = 300_000  # a map later than 5 minutes is a failure
BLOCKED: list[str] = []  # requests off the machine, refused

DRAWN = """([selector, polygons, before]) => {
    for (const frame of document.querySelectorAll(selector)) {
        const paths = frame.contentDocument?.querySelectorAll("path.leaflet-interactive") ?? [];
        if (paths.length !== polygons) continue;
        const fills = Array.from(paths, path => path.getAttribute("fill")).join(" ");
        if (fills !== before) return {fills, at: performance.now()};
    }
    return false;
}"""


CLOCK_CLICK = """() => window.addEventListener("pointerdown", () => { window.benchClickAt = performance.now(); },
                                         {capture: true, once: true})"""


@dataclasses.dataclass
class App:
    name: str
    url: str
    polygons: int  # the map's polygons once drawn
    needs: tuple[str, str]  # two options of the "Need" selectbox whose maps differ; clicks alternate between them
    context: object = None  # its Playwright browser context (HTTP cache on)
    uncached: object = None  # a context whose requests are all routed, so with no HTTP cache
    page: object = None  # its page for the clicks
    fills: str | None = None  # the colours of the map on `page`
    first_map: list[float] = dataclasses.field(default_factory=list)
    first_map_uncached: list[float] = dataclasses.field(default_factory=list)
    clicks: list[float] = dataclasses.field(default_factory=list)


@contextlib.contextmanager
def served(script: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """`streamlit run script` on a free loopback port in its own process group; yields its URL, stops the group."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", script.name, "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
               "--server.enableStaticServing", "true", "--browser.gatherUsageStats", "false"]
    url = f"http://127.0.0.1:{port}"
    with _process_group(command, log, cwd=script.parent, env=env) as server:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{script.name} did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield url


LOOPBACK_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"


def _count_off_machine(request) -> None:
    """A request off the machine (it fails: no host name resolves but the loopback ones): its URL kept in BLOCKED."""
    if OFF_MACHINE.match(request.url):
        BLOCKED.append(request.url)


def _block(route) -> None:
    """A request off the machine: refused, and its URL kept in BLOCKED."""
    BLOCKED.append(route.request.url)
    route.abort()


def _wait_drawn(page, app: App, before: str | None) -> tuple[str, float]:
    """Wait until a shown map holds all the app's polygons in colours other than `before`: those colours and the
    page's clock then (performance.now(), ms)."""
    drawn = page.wait_for_function(DRAWN, arg=[MAP_IFRAME, app.polygons, before], polling="raf", timeout=TIMEOUT_MS)
    value = drawn.json_value()
    return value["fills"], value["at"]


def _settle(page) -> None:
    """Until the script run is over, one map is shown, and one more second for the page's own work."""
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=TIMEOUT_MS)
    page.wait_for_function("selector => document.querySelectorAll(selector).length === 1", arg=MAP_IFRAME,
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(1000)


def first_map(app: App, context) -> float:
    """Seconds from a new page's goto, in this browser context, to its map's polygons drawn."""
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(app.url, wait_until="commit")
        _wait_drawn(page, app, None)
        elapsed = time.perf_counter() - start
        _settle(page)
        return elapsed
    finally:
        page.close()
        time.sleep(1)  # the server ends the session


def click_redrawn(app: App, i: int) -> float:
    """Seconds from picking the other need on the app's page to the map drawn again in new colours."""
    page = app.page
    page.bring_to_front()
    page.get_by_role("combobox", name="Need", exact=True).click()
    option = page.get_by_role("option", name=app.needs[(i + 1) % 2], exact=True)
    option.wait_for(timeout=TIMEOUT_MS)
    page.evaluate(CLOCK_CLICK)
    option.click()
    app.fills, drawn_at = _wait_drawn(page, app, app.fills)
    elapsed = (drawn_at - page.evaluate("() => window.benchClickAt")) / 1000
    _settle(page)
    return elapsed


def _verdict(ratio: float, target: float) -> str:
    return f"target <= {target:.1f}x: {'met' if ratio <= target else 'not met'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=5, help="first-map runs per app")
    parser.add_argument("--clicks", type=int, default=7, help="timed clicks per app, after 2 warm-up clicks")
    args = parser.parse_args()
    if not os.environ.get("EHMAP_DATA_DIR"):
        raise SystemExit("Set EHMAP_DATA_DIR to the shared reference data folder.")
    load_before = os.getloadavg()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in load_before)} ({os.cpu_count()} cores)", flush=True)

    from playwright.sync_api import sync_playwright

    from ehmap.maps import STATIC_URL
    from ehmap.taxonomy import NEED_KEYS
    from ehmap.views.need_map import need_options

    with tempfile.TemporaryDirectory(prefix="ehmap-bench-browser-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        (folder / "state").mkdir()
        shutil.copytree(LEAFLET, folder / "static" / "leaflet")  # the minimal app serves the same Leaflet files
        minimal_script, minimal_polygons = write_minimal_app(CROYDON, folder, STATIC_URL)
        ehmap_env = os.environ | {"EHMAP_STATE_DIR": str(folder / "state")}  # fresh: the demo for Croydon
        apps = [
            App("ehmap (demo, Croydon)", stack.enter_context(served(REPO / "app.py", ehmap_env, folder / "ehmap.log")),
                len(opening_areas(CROYDON).areas), tuple(list(need_options().values())[:2])),
            App("minimal Streamlit + folium app", stack.enter_context(
                served(minimal_script, dict(os.environ), folder / "minimal.log")),
                minimal_polygons, (f"need_{NEED_KEYS[0]}", f"need_{NEED_KEYS[1]}")),
        ]
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=[*CHROMIUM_ARGS, LOOPBACK_ONLY])
        stack.callback(browser.close)
        for app in apps:
            app.context = browser.new_context(viewport={"width": 1500, "height": 1100})
            app.context.on("request", _count_off_machine)
            app.uncached = browser.new_context(viewport={"width": 1500, "height": 1100})
            app.uncached.route(OFF_MACHINE, _block)  # routing every request turns the HTTP cache off
            first_map(app, app.context)  # warm-up: caches of the server and the browser
            first_map(app, app.uncached)
        for _ in range(args.first):
            for app in apps:
                app.first_map.append(first_map(app, app.context))
                app.first_map_uncached.append(first_map(app, app.uncached))
                print(f"first map {app.name}: {app.first_map[-1]:.2f} s, no HTTP cache "
                      f"{app.first_map_uncached[-1]:.2f} s", flush=True)
        for app in apps:
            app.page = app.context.new_page()
            app.page.goto(app.url, wait_until="commit")
            app.fills, _ = _wait_drawn(app.page, app, None)
            _settle(app.page)
            for i in range(2):  # warm-up: each need's map once
                click_redrawn(app, i)
        for i in range(args.clicks):
            for app in apps:
                app.clicks.append(click_redrawn(app, i))
                print(f"click -> redrawn {app.name}: {app.clicks[-1]:.2f} s", flush=True)
    load_after = os.getloadavg()

    ehmap, minimal = apps
    print(f"\nCroydon, {ehmap.polygons} polygons in ehmap's map and {minimal.polygons} in the minimal app's; "
          f"medians (min-max)")
    for label, key, target in (("first map warm", "first_map", FIRST_MAP_TARGET),
                               ("no HTTP cache", "first_map_uncached", FIRST_MAP_TARGET),
                               ("click -> redrawn", "clicks", CLICK_TARGET)):
        medians = {}
        for app in apps:
            times = getattr(app, key)
            medians[app.name] = statistics.median(times)
            print(f"{label:<17} {app.name:<31} {medians[app.name]:5.2f} s ({min(times):.2f}-{max(times):.2f}, "
                  f"n={len(times)})")
        ratio = medians[ehmap.name] / medians[minimal.name]
        print(f"{label:<17} ratio ehmap / minimal app {ratio:.2f}x, {_verdict(ratio, target)}")
    print(f"requests off the machine (blocked): {len(BLOCKED)} {BLOCKED[:3]}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in load_after)}")


if __name__ == "__main__":
    main()
