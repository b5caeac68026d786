"""A fresh machine (issue 16): the README's command starts the app with no data folder and an empty cache, and every
one of the 13 pages shows the demo council's content in Chromium, with no "not loaded" message and no error.

The app is started as the README starts it (`python -m ehmap app`, after the install), with EHMAP_DATA_DIR unset
(so the built-in demo rows in demo/reference are what it reads) and a cache folder of its own that starts empty
(so the postcode directory and boundaries are converted on this first start, with progress shown)."""

from __future__ import annotations

import os
import sys
import time

import pytest
from browser_support import (
    MAP_IFRAME,
    PAGES,
    REPO,
    _free_port,
    _process_group,
    _wait_until_healthy,
    screenshot_on_failure,
    wait_until_idle,
)

CONTENT = ('[data-testid="stDataFrame"], [data-testid="stMetric"], [data-testid="stVegaLiteChart"], '
           '[data-testid="stArrowVegaLiteChart"], [data-testid="stTable"], [data-testid="stDownloadButton"], '
           '[data-testid="stFileUploader"], ' + MAP_IFRAME)  # a table, figure, map, download or (Your data) uploader
NOT_AVAILABLE = ["not loaded", "is not in the data folder", "Traceback", "No module named"]


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory):
    """The app started by the README's command on a machine with no data folder and an empty cache: its address,
    its cache folder and the moment the command was run."""
    folder = tmp_path_factory.mktemp("fresh")
    env = {name: value for name, value in os.environ.items() if not name.startswith("EHMAP_")}
    env.update(EHMAP_CACHE_DIR=str(folder / "cache"), EHMAP_STATE_DIR=str(folder / "state"),
               EHMAP_SECRET_FILE=str(folder / "secret.key"))
    port, log = _free_port(), folder / "app.log"
    command = [sys.executable, "-m", "ehmap", "app", "--server.port", str(port), "--server.headless", "true"]
    started = time.monotonic()
    with _process_group(command, log, cwd=REPO, env=env) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{url}/_stcore/health", server, log, "The app on a fresh machine", 120)
        yield url, folder / "cache", started


def test_every_page_shows_the_demo_on_a_fresh_machine(fresh_app, page):
    url, cache, started = fresh_app
    with screenshot_on_failure(page, "fresh_machine_need_map"):
        page.goto(url, wait_until="domcontentloaded")
        page.locator(MAP_IFRAME).first.wait_for(timeout=300_000)  # the first start converts the reference files
        first_map_s = time.monotonic() - started
    print(f"\nfresh machine: first map {first_map_s:.0f} s after the start command (cold cache)")
    problems = {}
    for path, title in PAGES.items():
        with screenshot_on_failure(page, f"fresh_machine_{path or 'need-map'}"):
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            wait_until_idle(page)
            heading = page.locator("h1").first.inner_text()
            text = page.locator('[data-testid="stMain"]').inner_text()
            found = [phrase for phrase in NOT_AVAILABLE if phrase.lower() in text.lower()]
            errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
            content = page.locator(CONTENT).count()
            if title.lower() not in heading.lower() or found or errors or (not content and path != "about-and-sources"):
                problems[title] = {"heading": heading, "says": found, "errors": errors, "content": content,
                                   "text": text[:400]}
    assert not problems, problems
    assert not (cache / "sources").exists() or not any((cache / "sources").iterdir())  # nothing was fetched
    assert page.off_machine == [], page.off_machine[:5]
