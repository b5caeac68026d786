"""The team store in the app: one store per server, who is looking, saved datasets cached per id and content
hash (and dropped from the cache when deleted), and each user's remembered choices."""

from __future__ import annotations

import datetime as dt
import threading
import time

import streamlit as st

from ehmap.access import User
from ehmap.ingest import IngestResult
from ehmap.store import DatasetInfo, Store, StoreError, database_url

try:  # sign-in (ui.auth) decides who is looking; without it the app is laptop mode's single local user
    from ui.auth import current_user as _signed_in_user
except ImportError:  # pragma: no cover - only before sign-in exists
    from ehmap.access import laptop_user as _signed_in_user

PURGE_EVERY_S = 15 * 60  # how often a server deletes the datasets past the retention period
NOBODY = User("nobody", "Not signed in", None)
_last_purge = {"at": float("-inf")}
_purge_lock = threading.Lock()


def session_user() -> User:
    """Who is looking; app.py's sign-in gate has stopped the run already when nobody is signed in."""
    return _signed_in_user() or NOBODY


def may_save(user: User) -> bool:
    """Whether a user may add, rename, replace or delete datasets and save files with them (analysts, admins)."""
    return user.sees_exact


@st.cache_resource(show_spinner="Opening the team store...")
def _store(url: str) -> Store:
    return Store(url)


def team_store() -> Store:
    """The store this server saves to (opened and migrated once), after deleting any dataset past retention
    (at most every PURGE_EVERY_S). Raises StoreError when it cannot be reached."""
    store = _store(database_url())
    with _purge_lock:
        due = time.monotonic() - _last_purge["at"] > PURGE_EVERY_S
        if due:
            _last_purge["at"] = time.monotonic()
    if due:
        for info in store.purge_expired():
            forget(info)
    return store


@st.cache_data(show_spinner="Loading the saved dataset...", max_entries=8, ttl=dt.timedelta(hours=1))
def saved_result(dataset_id: int, content_hash: str) -> IngestResult:
    """A saved dataset's episodes, cached per id and content hash, so a replaced dataset is never served stale
    (entries of a dataset deleted on another server expire within the hour and are never shown meanwhile)."""
    return team_store().load(dataset_id)


def forget(info: DatasetInfo, services: tuple[bytes, str] | None = None) -> None:
    """Drop a deleted (or replaced) dataset's cached copies on this server: its episodes and its services file."""
    saved_result.clear(info.id, info.content_hash)
    try:  # the released views built from it (ui.audience), when that module is there
        from ui.audience import forget_releases
    except ImportError:
        pass
    else:
        forget_releases()
    if services is not None:
        from ui.state import services_file

        services_file.clear(services[0], services[1], info.la_code)


def delete_dataset(info: DatasetInfo, user: User) -> DatasetInfo:
    """Delete a dataset from the store (with its audit entry) and from this server's caches."""
    store = team_store()
    stored = store.file("services", info.id)
    deleted = store.delete_dataset(info.id, user)
    forget(deleted, (stored.data, stored.file_name) if stored else None)
    return deleted


def remembered(user: User, la_code: str) -> int | str | None:
    """The dataset this user last chose for a council (an id or 'demo'), or None."""
    try:
        return team_store().chosen_dataset(user.id, la_code)
    except StoreError:
        return None


def remember(user: User, la_code: str, choice: int | str) -> bool:
    """Remember a user's council and dataset for their next visit; False when the store could not take it."""
    try:
        store = team_store()
        store.choose_dataset(user.id, la_code, choice)
        store.set_setting(user.id, "council", la_code)
    except StoreError:
        return False
    return True


def remembered_council(user: User, allowed: list[str], default: str) -> str:
    """The council this user last chose, if they may still choose it, else `default` (or the first allowed)."""
    try:
        council = team_store().setting(user.id, "council")
    except StoreError:
        council = None
    if council in allowed:
        return str(council)
    return default if default in allowed else allowed[0]
