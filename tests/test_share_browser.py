"""Share links in Chromium, signed in through the real OpenID Connect provider (tests/oidc):

- an analyst's "Copy link to this view", opened in a fresh browser context (another person's browser), gives the
  same need, period, geography and measure once they have signed in;
- Streamlit's sign-in (st.login) does not bring the query back from the provider: it lands on the app's own
  address, so the link is opened again after signing in (the sign-in screen, as the link, carries no data);
- a viewer following the analyst's link gets the released view: released figures only, the period as a financial
  year, and one line saying what of the link was not used.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import ANALYST, VIEWER, context_page, screenshot_on_failure, sign_in

from ehmap.release.periods import financial_year_start

TEAM_MARK, RELEASE_MARK = "Team view: exact figures", "Released view: figures protected for sharing"
LINK_VIEW = {"need": "domestic_abuse", "period": "2024-04-01..2025-03-31", "map": "lsoa21", "geography": "lsoa11"}


@pytest.fixture(scope="module")
def team_only_figures(directory, council_names) -> set[str]:
    """Exact totals of the demo a release shows rounded (not multiples of 5), as a page writes them: all episodes
    and each need's, per financial year and for all years."""
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.release.universe import selected
    from ehmap.taxonomy import NEEDS

    cases = load_demo(directory, council_names, pseudonymisation_key()).cases
    year = cases["referral_date"].map(financial_year_start)
    totals = [len(cases), *year.value_counts()]
    for need in NEEDS:
        chosen = selected(cases, need.key)
        totals += [int(chosen.sum()), *year[chosen].value_counts()]
    return {f"{n:,}" for n in totals if n >= 100 and n % 5}


def settled(page) -> None:
    """Wait until the app has finished its run."""
    page.wait_for_timeout(1500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=180_000)


def open_view(page, url: str) -> None:
    """Open a link to the need map and wait until it has drawn."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name=re.compile("Need map")).first.wait_for(timeout=180_000)
    settled(page)


def copied_link(page, copy: bool = False) -> str:
    """The text of the sidebar's "Copy link to this view" (a popover: opened, read, closed again); with `copy`, its
    copy button is clicked too."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="Copy link to this view").click(timeout=120_000)
    code = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode")
    code.hover()
    copy_button = page.get_by_role("button", name="Copy to clipboard")  # Streamlit's own copy button
    copy_button.wait_for(timeout=60_000)
    link = code.inner_text().strip()
    if copy:
        copy_button.click()
    page.keyboard.press("Escape")
    page.get_by_test_id("stPopoverBody").wait_for(state="detached", timeout=60_000)
    return link


def query(link: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlparse(link).query).items()}


def chosen(page, label: str) -> str:
    """The shown value of the selectbox labelled `label` (a combobox)."""
    return page.get_by_role("combobox", name=label, exact=True).first.input_value()


def checked(page, label: str) -> str:
    """The checked option of the radio group labelled `label`."""
    group = page.get_by_test_id("stRadio").filter(has=page.get_by_text(label, exact=True)).first
    return group.locator("label:has(input:checked)").inner_text().strip()


def analysts_link(page, app_url: str) -> str:
    """An analyst signs in, opens a view by its link, switches the measure to episodes and copies the link."""
    sign_in(page, app_url, ANALYST)
    open_view(page, f"{app_url}/?{'&'.join(f'{k}={v}' for k, v in LINK_VIEW.items())}")
    page.get_by_test_id("stRadio").filter(has=page.get_by_text("Measure", exact=True)).first.get_by_text(
        "Episodes", exact=True).click()
    page.wait_for_function("() => window.location.search.includes('measure=episodes')", timeout=120_000)
    settled(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    link = copied_link(page, copy=True)
    assert page.evaluate("() => navigator.clipboard.readText()") == link  # what the copy button copies
    assert query(link) == {"council": "E09000008", "dataset": "demo", **LINK_VIEW, "measure": "episodes"}, link
    assert query(page.url) == query(link)  # the address bar is the link too
    return link


def test_a_link_opened_in_a_fresh_browser_gives_the_same_view_after_sign_in(signed_in_app, page):
    with screenshot_on_failure(page, "share_analyst"):
        link = analysts_link(page, signed_in_app.url)
    other = context_page(page.context.browser)  # another browser: no cookie, no session
    with screenshot_on_failure(other, "share_fresh_context"):
        other.goto(link, wait_until="domcontentloaded")
        other.get_by_role("button", name="Sign in").wait_for(timeout=120_000)
        assert "domestic" not in other.locator("body").inner_text().lower()  # the sign-in screen only
        assert other.get_by_text("open your link again after signing in").count() == 1
        other.get_by_role("button", name="Sign in").click()
        other.get_by_label("Email").fill(ANALYST)
        other.get_by_role("button", name="Sign in").click()
        other.get_by_text("Role: ").wait_for(timeout=180_000)
        settled(other)
        assert query(other.url).get("need") != "domestic_abuse"  # st.login lands on the app's address, not the link
        open_view(other, link)  # so the link is opened again, now signed in
        assert query(copied_link(other)) == query(link)
        assert chosen(other, "Need") == "Safe from domestic abuse"
        assert checked(other, "Measure") == "Episodes"
        assert checked(other, "Rank") == "LSOAs"
        assert other.get_by_text("Showing referrals 01/04/2024 to 31/03/2025").count() == 1
        assert TEAM_MARK in other.locator("body").inner_text()
        assert other.off_machine == []


def test_a_viewer_following_an_analysts_link_sees_released_figures_only(signed_in_app, page, team_only_figures):
    with screenshot_on_failure(page, "share_analyst_for_viewer"):
        link = analysts_link(page, signed_in_app.url)
    viewer = context_page(page.context.browser)
    with screenshot_on_failure(viewer, "share_viewer"):
        sign_in(viewer, signed_in_app.url, VIEWER)
        open_view(viewer, link)
        text = viewer.locator("body").inner_text()
        assert RELEASE_MARK in text and TEAM_MARK not in text
        assert viewer.get_by_text("Referrals between").count() == 0  # no free dates for a viewer
        assert chosen(viewer, "Need") == "Safe from domestic abuse"
        assert chosen(viewer, "Period (financial year)") == "2024-25"
        assert checked(viewer, "Measure") == "Episodes"
        note = viewer.get_by_text("Not used from the link").inner_text()
        assert "geography" in note and "map (not one of its options)" in note and "financial year 2024-25" in note
        shown = re.sub(r"https?://\S+", "", text)  # the sidebar's link (http://127.0.0.1:PORT...) holds no figure
        leaked = sorted(figure for figure in team_only_figures if re.search(rf"(?<![\d,]){figure}(?![\d,])", shown))
        assert not leaked, f"the viewer sees exact team figures {leaked}"
        assert query(copied_link(viewer))["period"] == "2024-25"  # the viewer's own link is of the released view
        assert viewer.off_machine == []
