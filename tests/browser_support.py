"""Browser-test support: the real app served on loopback and a Chromium page that cannot leave the machine.

Fixtures `app_url` and `browser_page` are registered in conftest.py; tests use `screenshot_on_failure`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

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


def serve_app() -> Iterator[str]:
    """Run `streamlit run app.py` on a free loopback port in its own process group; stop it after."""
    port = _free_port()
    log = ARTIFACTS / "streamlit-server.log"
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


def chromium_page() -> Iterator[object]:
    """A fresh headless Chromium page that refuses every request off this machine (`page.off_machine` lists them)."""
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


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    """Keep a full-page screenshot in test-artifacts/ when the block fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]:not([width="-1"])'


def map_holding(page, selector: str, timeout_s: float = 90):
    """The frame of the shown map that holds `selector`: while a map is replaced (a rerun, another page), two
    can be on the page for a moment, and a plain frame locator would then match both."""
    deadline = time.monotonic() + timeout_s
    maps = page.locator(MAP_IFRAME)
    while time.monotonic() < deadline:
        for i in range(maps.count()):
            frame = maps.nth(i).content_frame
            if frame.locator(selector).count():
                return frame
        page.wait_for_timeout(250)
    raise AssertionError(f"no shown map holds {selector} after {timeout_s:.0f} s")
