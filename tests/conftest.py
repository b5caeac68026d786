"""Shared test set-up: real reference data, an isolated cache and secret, the shared data folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO_REFERENCE = REPO / "demo" / "reference"  # the demo council's rows of the same files (demo/make_reference_bundle)
NATIONAL = pytest.mark.national  # a test that needs the national reference files (other councils, all of England)
NOT_RUN_KEY = pytest.StashKey[list[str]]()


def national_data() -> Path | None:
    """The folder of national reference files (EHMAP_DATA_DIR, else ../shared/data), or None on a machine without."""
    value = os.environ.get("EHMAP_DATA_DIR")
    path = Path(value) if value else SHARED_DATA
    return path if path.is_dir() else None


def pytest_configure(config: pytest.Config) -> None:
    """Point ehmap at the national reference files when this machine has them (else it reads the demo council's
    built-in rows, as a fresh install does), and at a per-run secret, before anything imports it."""
    config.addinivalue_line("markers", "national: needs the national reference files (EHMAP_DATA_DIR or "
                            "../shared/data); not run, and listed at the end, on a machine without them")
    if os.environ.get("EHMAP_DATA_DIR") and national_data() is None:
        raise pytest.UsageError(f"EHMAP_DATA_DIR is {os.environ['EHMAP_DATA_DIR']}, which is not a folder.")
    if national_data() is not None:
        os.environ["EHMAP_DATA_DIR"] = str(national_data())
    # The converted-file cache may be shared between runs (it is keyed by content);
    # the secret must not be the developer's own.
    os.environ.setdefault("EHMAP_CACHE_DIR", str(REPO / ".pytest_cache" / "ehmap-cache"))
    os.environ["EHMAP_SECRET_FILE"] = str(REPO / ".pytest_cache" / "ehmap-test-secret.key")
    # What the team saves (store, audit log) starts empty in every run.
    os.environ.setdefault("EHMAP_STATE_DIR", tempfile.mkdtemp(prefix="ehmap-state-"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a machine without the national reference files, leave out the tests marked `national`, and remember them
    to list at the end: none is skipped silently."""
    if national_data() is not None:
        return
    national = [item for item in items if item.get_closest_marker("national")]
    if national:
        config.hook.pytest_deselected(items=national)
        items[:] = [item for item in items if not item.get_closest_marker("national")]
    config.stash[NOT_RUN_KEY] = [item.nodeid for item in national]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say which tests needed the national reference files and did not run, and how to run them."""
    not_run = config.stash.get(NOT_RUN_KEY, [])
    if not not_run:
        return
    files = sorted({nodeid.split("::")[0] for nodeid in not_run})
    terminalreporter.section("national reference files", sep="=")
    terminalreporter.write_line(
        f"{len(not_run)} test(s) in {len(files)} file(s) need the national reference files and were NOT RUN: this "
        f"machine has neither EHMAP_DATA_DIR nor {SHARED_DATA}. The rest ran on the demo council's built-in rows "
        "(demo/reference). Put the national files there (or `python -m ehmap reference fetch`) to run them:")
    for name in files:
        count = sum(nodeid.startswith(f"{name}::") for nodeid in not_run)
        terminalreporter.write_line(f"  {name}: {count}")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of official reference files: the national ones when this machine has them, else the demo council's
    built-in rows of the same files (Croydon only; a test that needs more is marked `national`)."""
    return national_data() or DEMO_REFERENCE


@pytest.fixture()
def data_folder_set(data_dir, monkeypatch):
    """EHMAP_DATA_DIR set to `data_dir` (the national files, or the demo's rows as a data folder), with Streamlit's
    caches emptied before and after, so no other test reads tables cached from it."""
    import streamlit as st

    monkeypatch.setenv("EHMAP_DATA_DIR", str(data_dir))
    st.cache_data.clear()
    yield data_dir
    st.cache_data.clear()


@pytest.fixture(scope="session")
def directory():
    """The real postcode directory (built once into the test cache if absent)."""
    from ehmap.geocode import PostcodeDirectory

    return PostcodeDirectory.load()


@pytest.fixture(scope="session")
def council_names() -> dict[str, str]:
    from ehmap.geography import councils

    return {council.code: council.name for council in councils()}


CROYDON = "E09000008"


def saved_dataset(result, file_name: str, data: bytes, name: str | None = None) -> int:
    """Save an ingested export in the configured team store as laptop mode's user would (or find it saved
    already); its id, to choose it with `at.session_state["dataset"] = id`."""
    from ehmap.access import Role, User
    from ehmap.store import DuplicateDataset, content_hash, default_store, name_from_file

    user = User("local", "This computer", Role.ADMIN)
    try:
        return default_store().save_dataset(result, name or name_from_file(file_name), file_name,
                                            content_hash(data), user).id
    except DuplicateDataset as duplicate:
        return duplicate.existing.id


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A throwaway PostgreSQL cluster for the run (tests/pg_support.py): the URL of its `postgres` database;
    `pg_support.fresh_database(url)` gives each test an empty database of its own."""
    from pg_support import postgres_cluster

    yield from postgres_cluster()


@pytest.fixture(scope="session")
def app_url(directory):
    """The real app, served once for all browser tests on a free loopback port."""
    from browser_support import serve_app

    yield from serve_app()


@pytest.fixture()
def without_iod2019(directory, data_dir, monkeypatch, tmp_path) -> Iterator[Path]:
    """A data folder holding every shared reference file but IoD2019, a cache folder of this test's own (the shared
    cache's converted boundaries and postcodes linked in) and a store of its own, so the IoD2019 added here is seen
    by no other test. Yields the data folder."""
    import streamlit as st

    from ehmap.catalogue import indicator_source
    from ehmap.config import cache_dir

    shared = cache_dir()
    cache, data = tmp_path / "cache", tmp_path / "data"
    cache.mkdir()
    data.mkdir()
    for path in shared.iterdir():
        if path.is_file():
            (cache / path.name).symlink_to(path)
    for path in data_dir.iterdir():
        if path.name != indicator_source("iod2019").file:
            (data / path.name).symlink_to(path)
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("EHMAP_DATA_DIR", str(data))
    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    st.cache_data.clear()
    yield data
    st.cache_data.clear()


@pytest.fixture()
def forget_uploads():
    """Delete the datasets a test saves through the app (the team store outlives the test), so later tests see
    the store as it was."""
    from ehmap.store.commands import cli_user
    from ehmap.store.store import default_store

    before = {info.id for info in default_store().datasets()}
    yield
    store = default_store()
    for info in store.datasets():
        if info.id not in before:
            store.delete_dataset(info.id, cli_user())


@pytest.fixture()
def page():
    """A fresh headless Debian Chromium page that refuses every request off this machine."""
    from browser_support import chromium_page

    yield from chromium_page()


@pytest.fixture(scope="session")
def signed_in_app(directory, tmp_path_factory):
    """The real app with sign-in through a real OpenID Connect provider (tests/oidc), served once for all tests:
    a `browser_support.SignedInApp`; sign a page in with `browser_support.sign_in(page, signed_in_app.url, VIEWER)`
    (accounts and roles: `browser_support.TEST_ACCOUNTS`, `TEST_ROLES`)."""
    from browser_support import signed_in_server

    with signed_in_server(tmp_path_factory.mktemp("signed-in")) as app:
        yield app
