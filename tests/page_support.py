"""Driving a page of the real app (AppTest) on the demo as the team or as a signed-in viewer, and reading what it
shows in order."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from ehmap.access import Role, User
from tests.conftest import CROYDON, REPO

VIEWER = User("vic@example.org", "Vic Viewer", Role.VIEWER, (CROYDON,), mode="oidc")


def run_demo_page(page: str, who: str, monkeypatch, tmp_path) -> AppTest:
    """pages/`page`.py on the demo, for the team or for a viewer signed in (a store of the test's own)."""
    from ehmap.store import DEMO_CHOICE

    if who == "viewer":
        monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path))
        monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
        monkeypatch.setattr("ui.datasets._signed_in_user", lambda: VIEWER)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["dataset"] = DEMO_CHOICE
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    return at


def page_texts(at: AppTest) -> list[tuple[str, str]]:
    """(kind, text) of the page's main elements in the order shown, Markdown escapes removed."""
    shown = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            value = getattr(child, "value", None)
            shown.append((getattr(child, "type", ""), re.sub(r"\\(.)", r"\1", value) if isinstance(value, str)
                          else ""))
            walk(child)

    walk(at.main)
    return shown
