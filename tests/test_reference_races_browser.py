"""Two sessions replace the same reference file at once on *Data sources*, in Debian's Chromium (issue 17): the real
app started by `python -m ehmap app` (laptop mode: its user is admin), two browser contexts uploading different
IoD2019 files in the same moment, three times. Every upload succeeds with its own one-line message and no traceback;
after each round the file in use is one of the two and its provenance note describes that same file; both sessions'
pages then name that one version."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    _free_port,
    _process_group,
    _wait_until_healthy,
    context_page,
    screenshot_on_failure,
)

from ehmap.catalogue import indicator_source
from tests.conftest import REPO

IOD2019 = indicator_source("iod2019").file


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def variants(data_dir, tmp_path_factory) -> list[Path]:
    """Six different real IoD2019 File 7 files (7 MB each: the published rows, each starting at another row), named
    as they are uploaded: a0.csv, b0.csv, a1.csv..."""
    lines = (data_dir / IOD2019).read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    folder = tmp_path_factory.mktemp("iod2019-variants")
    for i in range(6):
        (folder / f"{'ab'[i % 2]}{i // 2}.csv").write_bytes(header + b"".join(rows[1000 * i:] + rows[:1000 * i]))
    return [folder / f"{'ab'[i % 2]}{i // 2}.csv" for i in range(6)]


@pytest.fixture()
def own_app(without_iod2019):
    """The app served on a free loopback port with a data folder holding every shared reference file but IoD2019, a
    cache folder of its own and a store of its own (conftest's `without_iod2019`), so what is uploaded here is seen
    by no other test. Yields (its address, the sources folder, its log)."""
    from ehmap.config import cache_dir

    port, log = _free_port(), ARTIFACTS / "reference-races-streamlit.log"
    command = [sys.executable, "-m", "ehmap", "app", "--server.port", str(port), "--server.address", "127.0.0.1"]
    with _process_group(command, log, cwd=REPO, env=os.environ.copy()) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(f"{url}/_stcore/health", server, log, "The Streamlit server")
        yield url, cache_dir() / "sources", log


def in_use(sources: Path) -> tuple[str, str]:
    """The SHA-256 of the IoD2019 file in use and its note's; and the note's origin."""
    target = sources / IOD2019
    note = json.loads((Path(os.path.realpath(target)).parent / "source.json").read_text(encoding="utf-8"))
    assert note["sha256"] == sha(target.read_bytes()), "the file in use and its provenance note disagree"
    return note["sha256"], note["origin"]


def no_traceback(page) -> None:
    assert page.get_by_test_id("stException").count() == 0
    assert "Traceback" not in page.content()


def test_two_sessions_replacing_a_reference_file_at_once_both_succeed_and_end_consistent(own_app, variants):
    from playwright.sync_api import sync_playwright

    from ehmap.store import default_store

    url, sources, log = own_app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            sessions = [context_page(browser), context_page(browser)]
            held = []  # each session's upload (the file's PUT), held until both are sent, then let through together

            def hold(route) -> None:
                if route.request.method == "PUT":
                    held.append(route)
                else:  # e.g. the DELETE of the file it replaces
                    route.continue_()

            for number, page in enumerate(sessions):
                page.route("**/_stcore/upload_file/**", hold)
                with screenshot_on_failure(page, f"reference-races-open-{number}"):
                    page.goto(f"{url}/data-sources", wait_until="domcontentloaded")
                    page.get_by_text(f"Upload {IOD2019}").wait_for(timeout=180_000)  # the first source: IoD2019
            for round_ in range(3):
                uploads = dict(zip(sessions, variants[2 * round_: 2 * round_ + 2], strict=True))
                for page, path in uploads.items():
                    page.locator('input[type="file"]').first.set_input_files(path)
                for _ in range(600):
                    if len(held) == 2:
                        break
                    sessions[0].wait_for_timeout(100)
                assert len(held) == 2, "the browsers did not send both uploads"
                for request in held:  # both reach the server in the same moment
                    request.continue_()
                held.clear()
                for number, (page, path) in enumerate(uploads.items()):
                    data = path.read_bytes()
                    with screenshot_on_failure(page, f"reference-races-round-{round_}-{number}"):
                        page.get_by_text(f"English Indices of Deprivation 2019: {path.name} saved ({len(data):,} "
                                         f"bytes, SHA-256 {sha(data)[:12]}...). Every page now uses it.").wait_for(
                            timeout=180_000)
                        no_traceback(page)
                digest, origin = in_use(sources)
                assert (digest, origin) in {(sha(p.read_bytes()), f"upload: {p.name}") for p in uploads.values()}
                assert sorted(p.name for p in sources.iterdir()) == [IOD2019, f"{IOD2019}.versions"]
            # both sessions' pages use that one version, and say which
            captions = []
            for number, page in enumerate(sessions):
                with screenshot_on_failure(page, f"reference-races-deprivation-{number}"):
                    page.goto(f"{url}/deprivation-context", wait_until="domcontentloaded")
                    caption = page.get_by_text("Reference files used: ")
                    caption.wait_for(timeout=180_000)
                    captions.append(caption.inner_text())
                    no_traceback(page)
                    assert page.off_machine == []
            assert captions[0] == captions[1]
            assert f"{IOD2019} (SHA-256 {digest[:12]}, " in captions[0]
            assert f"upload of {origin.removeprefix('upload: ')})" in captions[0]
        finally:
            browser.close()
    changes = [e for e in default_store().audit_entries() if e["event"] == "reference_change"]
    assert sorted(e["detail"]["sha256"] for e in changes) == sorted(sha(path.read_bytes()) for path in variants)
    assert changes[-1]["detail"]["sha256"] == digest  # the change in use is the one audited last
    assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")
