"""The real app in Debian's Chromium: the demo need map draws every Croydon LSOA with no network."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ehmap.geography import council_lsoas

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(directory):
    """Start `streamlit run app.py` on a free loopback port in its own process group; stop it after."""
    port = _free_port()
    log = (ARTIFACTS / "streamlit-server.log")
    ARTIFACTS.mkdir(exist_ok=True)
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1"],
            cwd=REPO, env=os.environ.copy(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The Streamlit server did not start; see {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    """Keep a full-page screenshot in test-artifacts/ when the block fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


@pytest.fixture()
def page():
    """A fresh headless Chromium page that refuses every request off this machine."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        off_machine: list[str] = []

        def only_loopback(route):
            host = urlparse(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
                route.continue_()
            else:
                off_machine.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        page = context.new_page()
        page.off_machine = off_machine
        yield page
        browser.close()


def test_demo_need_map_draws_every_croydon_lsoa_offline(app_url, page):
    expected = len(council_lsoas("E09000008"))
    with screenshot_on_failure(page, "demo_need_map"):
        page.goto(app_url, wait_until="domcontentloaded")
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        polygons = frame.locator("path.leaflet-interactive")
        polygons.nth(expected - 1).wait_for(state="attached", timeout=90_000)
        assert polygons.count() == expected
        assert page.get_by_text("Synthetic demo data").first.is_visible()
        attribution = frame.locator(".leaflet-control-attribution")
        assert "Open Government Licence" in attribution.inner_text()
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo_need_map.png"))


def test_upload_replaces_the_demo_and_the_map_shows_it(app_url, page, tmp_path):
    export = tmp_path / "my_export.csv"
    export.write_text(
        "Case Ref,Home Post Code,Date of Referral,Presenting Needs\n"
        + "".join(f"R{i},CR0 0AA,01/02/2024,domestic abuse\n" for i in range(8))
        + "R99,SW1A 1AA,01/02/2024,housing\n"
    )
    expected = len(council_lsoas("E09000008"))
    with screenshot_on_failure(page, "upload_journey"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Your data").click()
        page.locator('input[type="file"]').set_input_files(str(export))
        page.get_by_text("Every row is accounted for").wait_for(timeout=60_000)
        assert page.get_by_text("9 read = 8 accepted + 1 rejected").is_visible()
        assert page.get_by_text("Your upload: my_export.csv").is_visible()
        page.get_by_role("link", name="Need map").click()
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        frame.locator("path.leaflet-interactive").nth(expected - 1).wait_for(state="attached", timeout=60_000)
        assert page.get_by_text("Synthetic demo data").count() == 0
        assert page.get_by_text("Episodes in Croydon (All needs)").is_visible()
        assert page.off_machine == []


def test_hotspot_page_renders_offline_with_its_legend(app_url, page):
    expected = len(council_lsoas("E09000008"))
    with screenshot_on_failure(page, "hotspots"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Hot spots").click()
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        polygons = frame.locator("path.leaflet-interactive")
        polygons.nth(expected - 1).wait_for(state="attached", timeout=90_000)
        assert polygons.count() == expected
        assert page.get_by_text("Hot spots: Croydon").is_visible()
        assert page.get_by_text("Benjamini-Hochberg false discovery rate", exact=False).first.is_visible()
        assert page.get_by_text("No area is a significant hot spot after correcting for multiple testing").is_visible()
        # the CLI, for the page's default inputs, writes no hot spot either
        from ehmap.cli import main
        from ehmap.demo import DEMO_FILE

        out = ARTIFACTS / "hotspots_default.csv"
        assert main(["hotspots", str(DEMO_FILE), "--la", "E09000008", "--out", str(out)]) == 0
        assert not any(line.endswith(",hot spot (95% confidence)") or ",hot spot (" in line for line in out.read_text().splitlines())
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hotspots.png"))
