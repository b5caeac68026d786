"""Shared test set-up: real reference data, an isolated cache and secret, the shared data folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    """Point ehmap at the shared reference files and a per-run secret before anything imports it."""
    if not os.environ.get("EHMAP_DATA_DIR") and SHARED_DATA.is_dir():
        os.environ["EHMAP_DATA_DIR"] = str(SHARED_DATA)
    # The converted-file cache may be shared between runs (it is keyed by content);
    # the secret must not be the developer's own.
    os.environ.setdefault("EHMAP_CACHE_DIR", str(REPO / ".pytest_cache" / "ehmap-cache"))
    os.environ["EHMAP_SECRET_FILE"] = str(REPO / ".pytest_cache" / "ehmap-test-secret.key")
    # What the team saves (store, audit log) starts empty in every run.
    os.environ.setdefault("EHMAP_STATE_DIR", tempfile.mkdtemp(prefix="ehmap-state-"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of official reference files; tests that need it fail loudly when it is absent."""
    path = Path(os.environ["EHMAP_DATA_DIR"]) if os.environ.get("EHMAP_DATA_DIR") else None
    if path is None or not path.is_dir():
        pytest.fail("EHMAP_DATA_DIR is not set to the shared reference data folder (../shared/data).")
    return path


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
