"""The team store (ehmap.store), every test on SQLite and on a throwaway PostgreSQL cluster: migrations, saved
datasets coming back as ingest made them, services files of the dataset's own council, remembered choices,
the append-only audit log, retention, deletion of every row, concurrent saves and `kill -9` in mid-save."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from pg_support import fresh_database

from ehmap.access import Role, User
from ehmap.store import (
    DATABASE_URL_ENV,
    DatasetNotFound,
    DuplicateDataset,
    Store,
    StoreBusy,
    StoreError,
    content_hash,
    retention_days,
)
from ehmap.store.schema import metadata

REPO = Path(__file__).resolve().parent.parent
CROYDON, SUTTON = "E09000008", "E09000029"
ANALYST = User("ann@example.org", "Ann Analyst", Role.ANALYST, mode="oidc")
ADMIN = User("ada@example.org", "Ada Admin", Role.ADMIN, mode="oidc")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store's URL: a SQLite file, or a new database on the run's PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture()
def store(store_url):
    opened = Store(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def demo():
    """The demo export ingested for Croydon (real postcodes, 4,377 rows): (result, bytes of the file)."""
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import DEMO_FILE, load_demo
    from ehmap.geocode import PostcodeDirectory
    from ehmap.geography import councils

    names = {council.code: council.name for council in councils()}
    return load_demo(PostcodeDirectory.load(), names, pseudonymisation_key()), DEMO_FILE.read_bytes()


@pytest.fixture(scope="module")
def small():
    """A small real Croydon export with a rejected row, and one of Sutton: {council: (result, bytes)}."""
    from ehmap.config import pseudonymisation_key
    from ehmap.exports import read_export
    from ehmap.geocode import PostcodeDirectory
    from ehmap.geography import councils
    from ehmap.ingest import ingest

    names = {council.code: council.name for council in councils()}
    exports = {
        CROYDON: b"Case ID,Postcode,Referral Date,Needs\nA1,CR0 0AA,01/02/2024,housing\nA2,CR0 1AB,03/02/2024,"
                 b"domestic abuse\nA3,SW1A 1AA,04/02/2024,housing\n",
        SUTTON: b"Case ID,Postcode,Referral Date,Needs\nS1,SM1 1EA,01/03/2024,housing\nS2,SM1 1EA,02/03/2024,housing\n",
    }
    made = {}
    for code, data in exports.items():
        result = ingest(read_export(data, "small.csv"), code, PostcodeDirectory.load(), names, pseudonymisation_key())
        assert result.accepted >= 1
        made[code] = (result, data)
    return made


# ---------------------------------------------------------------------------------------------- schema


def test_migrations_build_exactly_the_tables_the_store_queries(store):
    from alembic.script import ScriptDirectory

    from ehmap.store.store import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert store.schema_revision() == head == "0001"
    inspector = sa.inspect(store.engine)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    assert tables == set(metadata.tables)
    for name, table in metadata.tables.items():
        assert {column["name"] for column in inspector.get_columns(name)} == set(table.columns.keys()), name
    # opening it again (a second process starting) applies nothing and loses nothing
    again = Store(store.url)
    assert again.schema_revision() == head and again.datasets() == []
    again.close()


# ---------------------------------------------------------------------------------------------- datasets


def test_a_saved_dataset_comes_back_exactly_as_ingest_made_it(store, demo):
    result, data = demo
    info = store.save_dataset(result, "Demo export", "croydon_cases.csv", content_hash(data), ANALYST, "Croydon")
    loaded = store.load(info.id)
    pd.testing.assert_frame_equal(loaded.cases, result.cases)
    pd.testing.assert_frame_equal(loaded.rejects, result.rejects)
    assert loaded.summary() == result.summary()
    assert (loaded.rows_read, loaded.la_code) == (result.rows_read, CROYDON)
    referral = result.cases["referral_date"]
    assert (info.period_start, info.period_end) == (referral.min().date(), referral.max().date())
    assert (info.rows_read, info.accepted, info.rejected) == (result.rows_read, result.accepted, result.rejected)
    assert (info.name, info.file_name, info.uploaded_by) == ("Demo export", "croydon_cases.csv", ANALYST.id)
    assert info.content_hash == content_hash(data) and info.uploaded_at.tzinfo is not None
    assert store.datasets(CROYDON) == [info] and store.datasets(SUTTON) == []
    assert info.period == f"{referral.min():%d/%m/%Y} to {referral.max():%d/%m/%Y}"


def test_the_same_export_saved_twice_names_the_dataset_that_holds_it(store, small):
    result, data = small[CROYDON]
    first = store.save_dataset(result, "January", "jan.csv", content_hash(data), ANALYST, "Croydon")
    with pytest.raises(DuplicateDataset) as refused:
        store.save_dataset(result, "Again", "jan copy.csv", content_hash(data), ADMIN, "Croydon")
    assert str(refused.value) == (f"This export is already saved for Croydon as 'January' (dataset {first.id}, "
                                  f"uploaded {first.uploaded_at:%d/%m/%Y} by ann@example.org).")
    assert refused.value.existing == first
    # the same file is another council's business: Sutton may hold a dataset with the same content hash
    sutton, _ = small[SUTTON]
    assert store.save_dataset(sutton, "Sutton", "jan.csv", content_hash(data), ANALYST).la_code == SUTTON


def test_rename_and_replace_keep_the_id_and_check_names_and_councils(store, small, demo):
    result, data = small[CROYDON]
    info = store.save_dataset(result, "January", "jan.csv", content_hash(data), ANALYST)
    assert store.rename_dataset(info.id, "  January   2024 ", ADMIN).name == "January 2024"
    for bad in ["", "![x](http://example.org/a.png)", "<img src=x onerror=alert(1)>", "a_b", "x" * 121]:
        with pytest.raises(StoreError, match="A dataset name needs 1 to 120 letters, digits, spaces or"):
            store.rename_dataset(info.id, bad, ADMIN)
    newer, newer_data = demo
    replaced = store.replace_dataset(info.id, newer, "croydon_cases.csv", content_hash(newer_data), ADMIN)
    assert (replaced.id, replaced.name, replaced.uploaded_by) == (info.id, "January 2024", ADMIN.id)
    assert (replaced.rows_read, replaced.content_hash) == (newer.rows_read, content_hash(newer_data))
    assert len(store.load(info.id).cases) == newer.accepted
    sutton, sutton_data = small[SUTTON]
    with pytest.raises(StoreError, match=f"Dataset {info.id} belongs to E09000008; an export for E09000029 cannot"):
        store.replace_dataset(info.id, sutton, "sutton.csv", content_hash(sutton_data), ADMIN)
    with pytest.raises(DatasetNotFound, match="No saved dataset has the id 999."):
        store.rename_dataset(999, "x", ADMIN)


def test_services_and_locality_files_belong_to_a_dataset_of_the_same_council(store, small):
    result, data = small[CROYDON]
    info = store.save_dataset(result, "January", "jan.csv", content_hash(data), ANALYST)
    services = (REPO / "demo" / "croydon_services.csv").read_bytes()
    stored = store.save_file("services", info.id, "hubs.csv", services, ANALYST)
    assert (stored.la_code, stored.file_name, stored.data) == (CROYDON, "hubs.csv", services)
    store.save_file("services", info.id, "hubs v2.csv", services[:200], ANALYST)  # replaces the first
    assert store.file("services", info.id).file_name == "hubs v2.csv"
    store.save_file("localities", info.id, "areas.geojson", b'{"type": "FeatureCollection"}', ANALYST, "name")
    assert store.file("localities", info.id).name_column == "name"
    # the database itself refuses a file paired with a dataset of another council
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO services_files (dataset_id, la_code, file_name, uploaded_by, uploaded_at, content_hash, data)"
            " VALUES (:id, :la, 'x.csv', 'x', :at, 'h', :data)"),
            {"id": info.id, "la": SUTTON, "at": dt.datetime.now(dt.UTC), "data": b"x"})
    assert store.delete_file("services", info.id, ANALYST) and store.file("services", info.id) is None
    assert not store.delete_file("services", info.id, ANALYST)


def test_a_users_choices_are_remembered_and_another_councils_dataset_is_refused(store, small):
    croydon = store.save_dataset(small[CROYDON][0], "January", "jan.csv", content_hash(small[CROYDON][1]), ANALYST)
    sutton = store.save_dataset(small[SUTTON][0], "Sutton", "s.csv", content_hash(small[SUTTON][1]), ANALYST)
    assert store.chosen_dataset(ANALYST.id, CROYDON) is None
    store.choose_dataset(ANALYST.id, CROYDON, croydon.id)
    store.choose_dataset(ADMIN.id, CROYDON, "demo")
    store.set_setting(ANALYST.id, "council", CROYDON)
    assert store.chosen_dataset(ANALYST.id, CROYDON) == croydon.id
    assert store.chosen_dataset(ADMIN.id, CROYDON) == "demo"
    assert store.setting(ANALYST.id, "council") == CROYDON and store.setting(ADMIN.id, "council", "x") == "x"
    with pytest.raises(StoreError, match=f"Dataset {sutton.id} belongs to E09000029, not E09000008."):
        store.choose_dataset(ANALYST.id, CROYDON, sutton.id)
    store.choose_dataset(ANALYST.id, CROYDON, croydon.id)  # choosing again replaces, never duplicates
    store.delete_dataset(croydon.id, ADMIN)
    assert store.chosen_dataset(ANALYST.id, CROYDON) is None  # the choice went with the dataset


# ---------------------------------------------------------------------------------------------- deletion and audit


def _rows_about(store: Store, dataset_id: int) -> dict[str, int]:
    counts = {}
    with store.engine.connect() as connection:
        for table, column in [("datasets", "id"), ("services_files", "dataset_id"), ("locality_files", "dataset_id"),
                              ("user_settings", "dataset_id")]:
            counts[table] = connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": dataset_id}).scalar_one()
    return counts


def test_delete_removes_every_row_and_writes_an_audit_entry_without_case_fields(store, small):
    result, data = small[CROYDON]
    info = store.save_dataset(result, "January", "jan.csv", content_hash(data), ANALYST)
    store.save_file("services", info.id, "hubs.csv", b"Name,Type,Postcode\nHub,family hub,CR0 0AA\n", ANALYST)
    store.save_file("localities", info.id, "areas.geojson", b"{}", ANALYST, "name")
    store.choose_dataset(ADMIN.id, CROYDON, info.id)
    assert set(_rows_about(store, info.id).values()) == {1}
    deleted = store.delete_dataset(info.id, ADMIN)
    assert deleted == info and set(_rows_about(store, info.id).values()) == {0}
    with pytest.raises(DatasetNotFound, match=f"No saved dataset has the id {info.id}."):
        store.load(info.id)
    entry = store.audit_entries()[-1]
    assert entry["event"] == "delete" and entry["user"] == ADMIN.id and entry["role"] == "admin"
    assert entry["dataset"] == str(info.id)
    assert entry["detail"] == {"council": CROYDON, "file": "jan.csv", "rows_read": result.rows_read}
    logged = json.dumps(store.audit_entries())
    for value in [*result.cases["case_id"].dropna(), "A1", "A2", "CR0 0AA", "CR0 1AB", "CR00AA"]:
        assert value not in logged
    assert [e["event"] for e in store.audit_entries()] == ["upload", "upload", "upload", "delete"]


def test_the_audit_log_is_append_only_and_refuses_case_fields(store, store_url, monkeypatch):
    from ehmap import audit

    monkeypatch.setenv(DATABASE_URL_ENV, store_url)
    written = audit.record("view_exact", ANALYST, "3", {"need": "housing", "period": "2024-01-01/2024-03-31"})
    assert audit.entries() == [written]
    assert written["detail"] == {"need": "housing", "period": "2024-01-01/2024-03-31"} and written["role"] == "analyst"
    with pytest.raises(ValueError, match="An audit entry holds no case field; 'postcode' is one."):
        audit.record("view_exact", ANALYST, "3", {"postcode": "CR0 0AA"})
    with pytest.raises(ValueError, match="An audit entry holds counts, choices and file names only; 'rows' is a "
                                         "DataFrame."):
        audit.record("release", ANALYST, "3", {"rows": pd.DataFrame({"a": [1]})})
    with pytest.raises(ValueError, match="Unknown audit event 'peek'"):
        audit.record("peek", ANALYST)
    for statement in ("UPDATE audit_log SET event = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="audit_log is append-only"), store.engine.begin() as c:
            c.execute(sa.text(statement))
    assert audit.entries() == [written]


# ---------------------------------------------------------------------------------------------- retention


def test_retention_deletes_only_expired_datasets_each_with_an_audit_entry(store, small, demo):
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    old = store.save_dataset(small[CROYDON][0], "Old", "old.csv", content_hash(small[CROYDON][1]), ANALYST,
                             now=now - dt.timedelta(days=400))
    recent = store.save_dataset(demo[0], "Recent", "new.csv", content_hash(demo[1]), ANALYST,
                                now=now - dt.timedelta(days=10))
    store.save_file("services", old.id, "hubs.csv", b"Name,Type\nHub,family hub\n", ANALYST)
    purged = store.purge_expired(now, days=365)
    assert [info.id for info in purged] == [old.id]
    assert store.datasets() == [recent] and set(_rows_about(store, old.id).values()) == {0}
    entry = store.audit_entries()[-1]
    assert (entry["event"], entry["user"], entry["dataset"]) == ("retention", None, str(old.id))
    assert entry["detail"] == {"council": CROYDON, "file": "old.csv", "rows_read": 3, "retention_days": 365}
    assert store.purge_expired(now, days=365) == []
    assert [info.id for info in store.purge_expired(now, days=5)] == [recent.id]


def test_the_retention_period_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("EHMAP_RETENTION_DAYS", raising=False)
    assert retention_days() == 365
    monkeypatch.setenv("EHMAP_RETENTION_DAYS", "90")
    assert retention_days() == 90
    for bad in ["0", "-3", "a year"]:
        monkeypatch.setenv("EHMAP_RETENTION_DAYS", bad)
        with pytest.raises(ValueError, match=f"EHMAP_RETENTION_DAYS must be a whole number of days of at least 1; "
                                             f"got '{bad}'."):
            retention_days()


# ---------------------------------------------------------------------------------------------- processes


CHILD = textwrap.dedent('''
    """Save a pickled IngestResult in a store: `url result_file name digest mode signal_file`."""
    import pickle, sys, time
    from pathlib import Path

    import sqlalchemy as sa
    from sqlalchemy import event

    from ehmap.access import Role, User
    from ehmap.store import Store, StoreError

    url, result_file, name, digest, mode, signal_file = sys.argv[1:7]
    signal = Path(signal_file)
    result = pickle.loads(Path(result_file).read_bytes())

    @event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def _hold(conn, cursor, statement, parameters, context, executemany):
        """In 'hold' mode, stop inside the save's transaction (or the first migration) until killed."""
        text = statement.lstrip().upper()
        if (mode == "hold" and text.startswith("INSERT INTO DATASETS")) or (
                mode == "hold-migration" and text.startswith("CREATE TABLE DATASETS")):
            signal.write_text("inside")
            time.sleep(600)

    store = Store(url)
    if mode == "go":  # wait for the parent's start signal, so that two processes save at once
        Path(signal_file + ".ready").write_text("ready")
        while not signal.exists():
            time.sleep(0.005)
    saves = 1000 if mode == "loop" else 1  # 'loop' saves until killed (8 could all finish before the kill, and did)
    try:
        for i in range(saves):
            info = store.save_dataset(result, f"{name} {i}" if mode == "loop" else name, "big.csv",
                                      f"{digest}{i}" if mode == "loop" else digest,
                                      User("child@example.org", "Child", Role.ANALYST))
            if mode == "loop":
                with open(signal, "a") as done:
                    done.write(f"{info.id}\\n")
    except StoreError as error:
        print(error, file=sys.stderr)
        sys.exit(3)
    print(info.id)
''')


@pytest.fixture(scope="module")
def large(demo, tmp_path_factory) -> Path:
    """A large dataset (the demo's episodes 50 times: about 220,000) pickled for child processes."""
    from ehmap.ingest import IngestResult

    result, _ = demo
    cases = pd.concat([result.cases] * 50, ignore_index=True)
    for column in ("lsoa11cd", "service", "referral_source", "outcome"):
        cases[column] = cases[column].astype(result.cases[column].dtype)
    big = IngestResult(cases, result.rejects, len(cases) + result.rejected, CROYDON, result.columns_used,
                       result.warnings)
    path = tmp_path_factory.mktemp("large") / "large.pickle"
    path.write_bytes(pickle.dumps(big))
    return path


def _child(url: str, result_file: Path, name: str, digest: str, mode: str, signal_file: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, url, str(result_file), name, digest, mode, str(signal_file)],
                            cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text():
        if process.poll() is not None:
            pytest.fail(f"the child ended early ({process.returncode}): {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the child did not reach {path.name} in {timeout_s} s")
        time.sleep(0.02)


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _assert_whole(store: Store, expected_accepted: int) -> list:
    """Every listed dataset loads whole, and has exactly one upload entry in the audit log."""
    listed = store.datasets()
    uploads = [entry["dataset"] for entry in store.audit_entries() if entry["event"] == "upload"]
    assert sorted(uploads) == sorted(str(info.id) for info in listed)
    for info in listed:
        assert info.accepted == expected_accepted and len(store.load(info.id).cases) == expected_accepted
    return listed


def test_kill_9_inside_the_save_transaction_leaves_the_dataset_wholly_absent(store_url, large, tmp_path):
    Store(store_url).close()
    signal_file = tmp_path / "inside"
    child = _child(store_url, large, "Big", "digest-a", "hold", signal_file)
    _wait_for(signal_file, child)  # the dataset row is written, the transaction not committed
    _kill(child)
    after = Store(store_url)  # opens and migrates cleanly after the crash
    assert after.schema_revision() == "0001"
    assert after.datasets() == [] and [e for e in after.audit_entries() if e["event"] == "upload"] == []
    if after.dialect == "sqlite":
        with after.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    # the killed save left no lock behind: the same export saves at once, whole
    result = pickle.loads(large.read_bytes())
    info = after.save_dataset(result, "Big", "big.csv", "digest-a", ANALYST)
    assert _assert_whole(after, result.accepted) == [info]
    after.close()


def test_kill_9_at_any_moment_of_a_run_of_saves_keeps_each_dataset_whole(store_url, large, tmp_path):
    Store(store_url).close()
    signal_file = tmp_path / "saved"
    child = _child(store_url, large, "Big", "digest-b", "loop", signal_file)
    _wait_for(signal_file, child)  # one save committed, the next under way
    time.sleep(0.7)
    _kill(child)
    after = Store(store_url)
    committed = [int(line) for line in signal_file.read_text().split()]
    listed = _assert_whole(after, pickle.loads(large.read_bytes()).accepted)
    assert set(committed) <= {info.id for info in listed} and len(listed) <= len(committed) + 1
    after.close()


def test_kill_9_during_the_first_migration_leaves_a_store_that_opens_cleanly(store_url, large, tmp_path):
    signal_file = tmp_path / "migrating"
    child = _child(store_url, large, "Big", "digest-c", "hold-migration", signal_file)
    _wait_for(signal_file, child)
    _kill(child)
    after = Store(store_url)
    assert after.schema_revision() == "0001" and after.datasets() == []
    after.close()


def test_two_processes_saving_different_exports_at_once_both_succeed(store_url, large, tmp_path):
    Store(store_url).close()
    go = tmp_path / "go"
    children = [_child(store_url, large, f"Big {i}", f"digest-{i}", "go", go) for i in range(2)]
    for child in children:
        _wait_for(Path(str(go) + ".ready"), child)
    time.sleep(0.5)  # both are waiting at the line
    go.write_text("go")
    outcomes = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], outcomes
    store = Store(store_url)
    listed = _assert_whole(store, pickle.loads(large.read_bytes()).accepted)
    assert sorted(info.name for info in listed) == ["Big 0", "Big 1"]
    store.close()


def test_two_processes_saving_the_same_export_at_once_one_is_told_it_is_saved(store_url, large, tmp_path):
    Store(store_url).close()
    go = tmp_path / "go"
    children = [_child(store_url, large, f"Big {i}", "same-digest", "go", go) for i in range(2)]
    for child in children:
        _wait_for(Path(str(go) + ".ready"), child)
    time.sleep(0.5)
    go.write_text("go")
    outcomes = [child.communicate(timeout=300) for child in children]
    codes = sorted(child.returncode for child in children)
    assert codes == [0, 3], outcomes
    store = Store(store_url)
    [saved] = _assert_whole(store, pickle.loads(large.read_bytes()).accepted)
    told = [stderr for child, (_, stderr) in zip(children, outcomes, strict=True) if child.returncode == 3][0]
    assert told.strip() == (f"This export is already saved for E09000008 as '{saved.name}' (dataset {saved.id}, "
                            f"uploaded {saved.uploaded_at:%d/%m/%Y} by child@example.org).")
    store.close()


def test_a_save_that_waits_too_long_for_another_says_the_store_is_busy(store_url, large, tmp_path):
    Store(store_url).close()
    signal_file = tmp_path / "inside"
    child = _child(store_url, large, "Big", "digest-d", "hold", signal_file)
    _wait_for(signal_file, child)
    impatient = Store(store_url, wait_s=1.5)
    result = pickle.loads(large.read_bytes())
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy) as busy:
            impatient.save_dataset(result, "Mine", "big.csv", "digest-d", ANALYST)
        assert str(busy.value) == "The store was busy with another save for more than 1.5 s; try again in a moment."
        assert time.monotonic() - started < 30
    finally:
        _kill(child)
    assert impatient.save_dataset(result, "Mine", "big.csv", "digest-d", ANALYST).name == "Mine"
    impatient.close()
