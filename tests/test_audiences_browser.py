"""Two audiences in Chromium, signed in through the real OpenID Connect provider (tests/oidc):

- a viewer gets the released view on every page, by every route (the navigation and each page's URL), has no
  switch to the team's figures, and every download is a released table;
- an analyst gets the team's exact figures, marked not for sharing, and can switch to the released view.
"""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from browser_support import ANALYST, VIEWER, screenshot_on_failure, sign_in

from ehmap.release.periods import financial_year_start

NAVIGATION = {  # link title -> URL path, as app.py routes them
    "Need map": "", "Hot spots": "hot-spots",  # the default page is the app's own address "Deprivation context": "deprivation-context",
    "Need and deprivation": "need-and-deprivation", "Destabilised by poverty": "destabilised-by-poverty",
    "Service coverage": "service-coverage", "Which services help most": "which-services-help",
    "Trends": "trends-over-time", "Business case": "business-case", "Board report": "board-report",
    "Your data": "your-data", "Data sources": "data-sources", "About and sources": "about-and-sources",
}
CASE_PAGES = {"Need map", "Hot spots", "Need and deprivation", "Destabilised by poverty", "Service coverage",
              "Which services help most", "Trends", "Business case", "Board report"}
TEAM_MARK, RELEASE_MARK = "Team view: exact figures", "Released view: figures protected for sharing"


@pytest.fixture(scope="module")
def team_only_figures(directory, council_names) -> set[str]:
    """Exact council totals of the demo that a release shows rounded (not multiples of 5), as a page would write
    them: all episodes and each service's, per financial year and for all years."""
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    cases = load_demo(directory, council_names, pseudonymisation_key()).cases
    year = cases["referral_date"].map(financial_year_start)
    totals = [len(cases), *year.value_counts(), *cases["service"].value_counts(),
              *cases.groupby([year, "service"]).size()]
    return {f"{n:,}" for n in totals if n >= 100 and n % 5}


def body(page) -> str:
    return page.locator("body").inner_text()


def open_page(page, url: str, title: str) -> str:
    """Go to a page by its URL and wait until it has drawn (its heading, or its one-line reason)."""
    page.goto(f"{url}/{NAVIGATION[title]}", wait_until="domcontentloaded")
    page.get_by_role("heading", name=re.compile(re.escape(title), re.I)).first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # let the page finish its run after the heading
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=120_000)
    return body(page)


def released_count(text: str) -> bool:
    text = str(text).replace(",", "")
    return text in ("c", "x", "0", "") or (text.isdigit() and int(text) % 5 == 0 and int(text) >= 10)


def test_a_viewer_sees_released_figures_only_on_every_page_and_url(signed_in_app, page, team_only_figures):
    with screenshot_on_failure(page, "viewer_every_page"):
        sign_in(page, signed_in_app.url, VIEWER)
        for title in NAVIGATION:
            text = open_page(page, signed_in_app.url, title)
            assert TEAM_MARK not in text, title
            if title in CASE_PAGES:
                assert RELEASE_MARK in text, title
            assert page.get_by_text("Show the released view").count() == 0, title  # no switch for a viewer
            assert page.get_by_text("Referrals between").count() == 0, title  # no free period
            shown = re.sub(r"https?://\S+", "", text)  # the sidebar's link (http://127.0.0.1:PORT...) holds no figure
            leaked = sorted(figure for figure in team_only_figures
                            if re.search(rf"(?<![\d,]){figure}(?![\d,])", shown))
            assert not leaked, f"{title} shows exact team figures {leaked}"
        assert page.off_machine == [], page.off_machine


def test_a_viewers_downloads_are_released_tables(signed_in_app, page):
    with screenshot_on_failure(page, "viewer_downloads"):
        sign_in(page, signed_in_app.url, VIEWER)
        for title, button_name, count_columns in (
                ("Need map", "Download this table (CSV)", ["Episodes"]),
                ("Which services help most", "Download the outcome table (CSV)", ["Episodes", "Closed", "Still open"])):
            open_page(page, signed_in_app.url, title)
            button = page.get_by_role("button", name=button_name, exact=True)  # by name: not the first drawn
            with page.expect_download(timeout=60_000) as download:
                button.click()
            table = pd.read_csv(io.BytesIO(open(download.value.path(), "rb").read()), dtype=str,
                                keep_default_na=False)
            present = [c for c in count_columns if c in table.columns]
            assert present, (title, list(table.columns))
            for column in present:
                assert table[column].map(released_count).all(), (title, column, list(table[column]))
            method = page.get_by_role("button", name="How it was protected (TXT)").first
            with page.expect_download(timeout=60_000) as sidecar:
                method.click()
            assert open(sidecar.value.path(), encoding="utf-8").read().startswith("How these figures were protected")


def test_an_analyst_sees_exact_figures_marked_and_can_switch_to_the_release(signed_in_app, page):
    with screenshot_on_failure(page, "analyst_switch"):
        sign_in(page, signed_in_app.url, ANALYST)
        text = open_page(page, signed_in_app.url, "Need map")
        assert TEAM_MARK in text and "Not for sharing" in text
        page.get_by_text("Referrals between").first.wait_for(timeout=60_000)  # the page may still be drawing
        assert page.get_by_text("Referrals between").count() == 1  # the team's free period
        page.get_by_text("Show the released view (as shared)").click()
        page.get_by_text(RELEASE_MARK).wait_for(timeout=120_000)
        assert TEAM_MARK not in body(page)
