"""Sign-in in Debian's Chromium through a real OpenID Connect provider (npm oidc-provider, tests/oidc): the sidebar
shows each user's role and councils, a user without a role sees only a message, signing out works, and nothing is
reachable without signing in, not even on a freshly started server."""

from __future__ import annotations

import re

from browser_support import (
    ADMIN,
    ANALYST,
    STRANGER,
    TEST_ROLES,
    VIEWER,
    screenshot_on_failure,
    sign_in,
    sign_out,
    signed_in_server,
)

from ehmap.audit import entries

SLUGS = ["hot-spots", "deprivation-context", "need-and-deprivation", "destabilised-by-poverty",
         "service-coverage", "which-services-help", "trends-over-time", "business-case", "board-report", "your-data",
         "data-sources", "about-and-sources"]  # every page app.py routes to
FILES = ["need_map", "hotspots", "deprivation", "need_deprivation", "poverty", "coverage", "performance", "trends",
         "business_case", "report", "your_data", "data_sources", "about"]  # the pages/ scripts' own names
PAGES = [*SLUGS, *FILES]
NO_ROLE = f"You are signed in as {STRANGER} but have no role in this ehmap; ask your ehmap admin."


def links(page) -> list[str]:
    """Every link on the page but the "Skip to main content" link Streamlit puts on every page."""
    return page.locator('a:not([data-testid="stSkipToContent"])').evaluate_all("found => found.map(a => a.outerHTML)")


def body_text(page) -> str:
    return page.locator("body").inner_text()


def audited(event: str, user: str) -> list[dict]:
    return [entry for entry in entries() if entry["event"] == event and entry["user"] == user]


def assert_sign_in_screen_only(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert links(page) == []
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert page.get_by_text("Role: ").count() == 0
    assert not re.search(r"\d", body_text(page)), body_text(page)  # no number of any kind


def test_an_analyst_signs_in_and_the_sidebar_shows_their_role(signed_in_app, page):
    before = len(audited("sign_in", ANALYST))
    with screenshot_on_failure(page, "signin_analyst"):
        sign_in(page, signed_in_app.url, ANALYST)
        sidebar = page.get_by_test_id("stSidebar")
        assert sidebar.get_by_text("Ann Analyst").is_visible()
        assert sidebar.get_by_text("Role: analyst").is_visible()  # from the `roles` claim (an app role)
        assert sidebar.get_by_text("Councils: all").is_visible()
        page.get_by_text("Need map: Croydon").wait_for(timeout=90_000)
        page.get_by_role("link", name="About and sources").click()  # another page, the same session
        page.get_by_role("heading", name="About and sources").wait_for(timeout=60_000)
        assert page.off_machine == [], page.off_machine
    signed_in = audited("sign_in", ANALYST)
    assert len(signed_in) == before + 1  # once per session, not per page
    assert (signed_in[-1]["role"], signed_in[-1]["detail"]) == ("analyst", {"mode": "oidc"})


def test_a_viewer_signs_in_and_can_pick_only_their_council(signed_in_app, page):
    with screenshot_on_failure(page, "signin_viewer"):
        sign_in(page, signed_in_app.url, VIEWER)
        sidebar = page.get_by_test_id("stSidebar")
        assert sidebar.get_by_text("Vic Viewer").is_visible()
        assert sidebar.get_by_text("Role: viewer").is_visible()
        assert sidebar.get_by_text("Councils: Croydon (E09000008)").is_visible()
        sidebar.get_by_test_id("stSelectbox").filter(has_text="Council").click()
        options = page.get_by_role("option")
        options.first.wait_for(timeout=10_000)
        assert options.all_inner_texts() == ["Croydon (E09000008)"]
        assert page.off_machine == [], page.off_machine
    assert audited("sign_in", VIEWER)[-1]["role"] == "viewer"


def test_a_user_not_in_the_roles_file_sees_only_the_message(signed_in_app, page):
    before = len(audited("refused", STRANGER))
    with screenshot_on_failure(page, "signin_no_role"):
        sign_in(page, signed_in_app.url, STRANGER)
        for path in ["", *PAGES]:
            if path:
                page.goto(f"{signed_in_app.url}/{path}", wait_until="domcontentloaded")
            page.get_by_text(NO_ROLE).wait_for(timeout=60_000)
            assert links(page) == []
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
            assert page.get_by_text("Role: ").count() == 0
            assert not re.search(r"\d", body_text(page)), body_text(page)
            page.get_by_role("button", name="Sign out").wait_for(timeout=10_000)
    refused = audited("refused", STRANGER)
    assert len(refused) > before
    assert (refused[-1]["role"], refused[-1]["detail"]) == (None, {"mode": "oidc"})
    assert audited("sign_in", STRANGER) == []


def test_signing_out_returns_to_the_sign_in_screen(signed_in_app, page):
    with screenshot_on_failure(page, "signin_sign_out"):
        sign_in(page, signed_in_app.url, ADMIN)  # listed as Admin@Example.org: emails match in any case
        assert page.get_by_test_id("stSidebar").get_by_text("Role: admin").is_visible()
        sign_out(page, signed_in_app.url)
        assert_sign_in_screen_only(page)
        page.goto(f"{signed_in_app.url}/hot-spots", wait_until="domcontentloaded")
        assert_sign_in_screen_only(page)
        assert page.off_machine == [], page.off_machine
    signed_out = audited("sign_out", ADMIN)
    assert signed_out and (signed_out[-1]["role"], signed_out[-1]["detail"]) == ("admin", {"mode": "oidc"})


def test_nothing_is_reachable_without_signing_in_even_first_thing(tmp_path, page):
    """On a server nobody has opened yet, the first request goes straight to a page (Streamlit's legacy `pages/`
    mode would run it without app.py), then every other page: each shows only the sign-in button."""
    with signed_in_server(tmp_path, name="fresh-signed-in") as fresh, screenshot_on_failure(page, "signin_nothing"):
        for path in [*PAGES, ""]:
            page.goto(f"{fresh.url}/{path}", wait_until="domcontentloaded")
            assert_sign_in_screen_only(page)
            assert page.get_by_text("Croydon").count() == 0
        assert page.off_machine == [], page.off_machine


def test_roles_file_changes_apply_at_the_next_page_load(tmp_path, page):
    """The roles file is read on every run: a signed-in viewer's councils, a broken file, their removal and a
    missing file each show only their one message at the next page load."""
    with signed_in_server(tmp_path, name="roles-changes") as app, screenshot_on_failure(page, "signin_roles_changes"):
        sign_in(page, app.url, VIEWER)
        assert page.get_by_test_id("stSidebar").get_by_text("Role: viewer").is_visible()
        changes = [
            (TEST_ROLES.replace("councils: [E09000008]", "councils: [W06000015]"),
             "Your role in this ehmap is for councils W06000015, which ehmap does not know; ask your ehmap admin."),
            (TEST_ROLES.replace("    role: viewer\n", "    role: viewer\n    team: early help\n"),
             f"{app.roles_file}: unknown key 'team' in users[1]; allowed keys: councils, email, role."),
            (TEST_ROLES.replace("viewer@example.org", "someone.else@example.org"),
             f"You are signed in as {VIEWER} but have no role in this ehmap; ask your ehmap admin."),
            (None, f"No roles file at {app.roles_file}: create it (see README 'Deploying and signing in') or point "
                   "EHMAP_ROLES_FILE at it."),
        ]
        for roles, message in changes:
            if roles is None:
                app.roles_file.unlink()
            else:
                app.roles_file.write_text(roles, encoding="utf-8")
            page.goto(app.url, wait_until="domcontentloaded")
            page.get_by_text(message).wait_for(timeout=60_000)
            assert links(page) == []
            assert page.get_by_text("Role: ").count() == 0
            page.get_by_role("button", name="Sign out").wait_for(timeout=10_000)
