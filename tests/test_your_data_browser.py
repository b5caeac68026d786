"""The team store in Debian's Chromium, signed in through the real OpenID Connect provider: a dataset an analyst
saves in one browser context is listed and used by a viewer of the same council in a second context, after a
refresh, and after the server restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import (
    ANALYST,
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWER,
    context_page,
    map_holding,
    screenshot_on_failure,
    sign_in,
    signed_in_server,
    wait_until_idle,
)
from store_support import CROYDON

from ehmap.demo import DEMO_FILE
from ehmap.store import default_store

NAME = "Spring 2024"


def dataset_chooser(page):
    return page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Dataset")


def assert_uses_the_saved_dataset(page, option: str) -> None:
    """The sidebar has the saved dataset chosen (not the demo), and the need map draws from it."""
    page.get_by_text("Need map: Croydon").wait_for(timeout=90_000)
    chooser = dataset_chooser(page)
    chooser.wait_for(timeout=60_000)
    shown = chooser.evaluate("e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
    assert option in shown, shown
    map_holding(page, "path.leaflet-interactive", 120)  # the need map is drawn from it
    assert page.get_by_text("Synthetic demo data").count() == 0
    assert page.get_by_text("covers").count() == 0 and page.get_by_text("could not be shown").count() == 0
    assert page.get_by_test_id("stException").count() == 0
    assert page.off_machine == [], page.off_machine


def test_a_saved_dataset_is_shared_and_survives_a_refresh_and_a_restart(directory, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path / "state"))  # the servers' own store (a SQLite file)
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    export = tmp_path / "spring.csv"  # a realistic size for a council: the demo's export, under another name
    export.write_bytes(DEMO_FILE.read_bytes())
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium, as .ci/run does.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        analyst, viewer = context_page(browser), context_page(browser)
        (tmp_path / "first").mkdir()
        with signed_in_server(tmp_path / "first", name="store-first") as app:
            with screenshot_on_failure(analyst, "store_analyst_saves"):
                sign_in(analyst, app.url, ANALYST)
                analyst.get_by_role("link", name="Your data").click()
                analyst.get_by_label("Name (optional)").fill(NAME)
                analyst.get_by_label("Name (optional)").press("Enter")
                wait_until_idle(analyst)  # the name's rerun over: a file chosen during it was lost under load
                analyst.locator('input[type="file"]').first.set_input_files(str(export))
                analyst.get_by_text(f"Saved {NAME} for Croydon").wait_for(timeout=120_000)
                [info] = default_store().datasets(CROYDON)  # the servers' store, read by the test
                assert analyst.get_by_text(f"{info.rows_read:,} read = {info.accepted:,} accepted + "
                                           f"{info.rejected:,} rejected").first.is_visible()
                option = f"{NAME} ({info.accepted:,} episodes)"
            with screenshot_on_failure(viewer, "store_viewer_chooses"):
                sign_in(viewer, app.url, VIEWER)  # another user, in another browser context
                viewer.get_by_role("link", name="Your data").click()
                viewer.get_by_text("Your data: Croydon").wait_for(timeout=60_000)
                assert viewer.locator('input[type="file"]').count() == 0  # a viewer adds nothing
                dataset_chooser(viewer).click()
                viewer.get_by_role("option", name=option).click()
                viewer.get_by_role("link", name="Need map").click()
                assert_uses_the_saved_dataset(viewer, option)
                viewer.reload(wait_until="domcontentloaded")  # a refresh keeps the choice
                assert_uses_the_saved_dataset(viewer, option)
        (tmp_path / "second").mkdir()
        with signed_in_server(tmp_path / "second", name="store-second") as app:  # the server restarted
            with screenshot_on_failure(viewer, "store_after_restart"):
                sign_in(viewer, app.url, VIEWER)
                assert_uses_the_saved_dataset(viewer, option)
        browser.close()
