"""The team store behind one small class: saved datasets, their services and locality files, user settings
and the audit log, in SQLite (the default, a file in the state directory) or PostgreSQL (`EHMAP_DATABASE_URL`).

Every change is one transaction that also appends its audit entry, so a save interrupted at any point (even
`kill -9`) leaves the dataset wholly there or wholly absent. The schema is migrated with Alembic when a
`Store` is opened, under a lock, so several processes may start at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event, exc

from ehmap.access import User
from ehmap.audit import make_entry
from ehmap.config import state_dir
from ehmap.ingest import IngestResult
from ehmap.store.schema import FILE_TABLES, audit_log, datasets, user_settings

DATABASE_URL_ENV = "EHMAP_DATABASE_URL"
RETENTION_ENV = "EHMAP_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 365
STORE_FILE = "ehmap.sqlite3"
MIGRATIONS = Path(__file__).parent / "migrations"
WAIT_SECONDS = 30  # how long a save waits for another save before saying the store is busy
_MIGRATION_LOCK = 727_274_001  # PostgreSQL advisory lock held while migrating
_NAME = re.compile(r"^[\w \-.,'()&/+]+$")  # no Markdown or HTML: names are shown on every page
DEMO_CHOICE = "demo"  # the remembered choice of the built-in demo, which is not stored

log = logging.getLogger(__name__)


class StoreError(Exception):
    """A store operation that cannot be done; the message is one sentence for the user."""


class DatasetNotFound(StoreError):
    pass


class DuplicateDataset(StoreError):
    """The same export is already saved for the council (`existing`)."""

    def __init__(self, message: str, existing: DatasetInfo):
        super().__init__(message)
        self.existing = existing


class StoreBusy(StoreError):
    pass


class StoreUnavailable(StoreError):
    pass


def database_url() -> str:
    """The store's SQLAlchemy URL: `EHMAP_DATABASE_URL` (PostgreSQL, psycopg 3), else a SQLite file in the
    state directory."""
    value = os.environ.get(DATABASE_URL_ENV, "").strip()
    if not value:
        return f"sqlite:///{state_dir() / STORE_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix):]
    return value


def retention_days() -> int:
    """Days a dataset is kept after its upload (`EHMAP_RETENTION_DAYS`, default 365)."""
    value = os.environ.get(RETENTION_ENV, "").strip()
    if not value:
        return DEFAULT_RETENTION_DAYS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{RETENTION_ENV} must be a whole number of days of at least 1; got '{value}'.")
    return int(value)


def content_hash(data: bytes) -> str:
    """SHA-256 of an uploaded file: tells a re-upload of the same export apart without keeping the file."""
    return hashlib.sha256(data).hexdigest()


def clean_name(name: str) -> str:
    """A dataset name as stored: trimmed, 1-120 characters, no markup characters (raises StoreError)."""
    name = " ".join(str(name).split())
    if not name or len(name) > 120 or not _NAME.match(name) or "_" in name:
        raise StoreError("A dataset name needs 1 to 120 letters, digits, spaces or - . , ' ( ) & / + "
                         f"(got '{name[:40]}').")
    return name


def name_from_file(file_name: str) -> str:
    """A default dataset name from an uploaded file's name: its stem with other characters as spaces."""
    stem = Path(file_name).stem
    cleaned = " ".join(re.sub(r"[^\w \-.,'()&/+]|_", " ", stem).split())[:120]
    return cleaned or "Case export"


@dataclass(frozen=True)
class DatasetInfo:
    """A saved dataset's description (everything but its episodes)."""

    id: int
    la_code: str
    name: str
    file_name: str
    uploaded_by: str
    uploaded_at: dt.datetime  # UTC
    period_start: dt.date | None  # first and last referral date of the accepted episodes
    period_end: dt.date | None
    rows_read: int
    accepted: int
    rejected: int
    content_hash: str

    @property
    def period(self) -> str:
        """'01/04/2023 to 31/03/2024', or '' when no episode was accepted."""
        if self.period_start is None or self.period_end is None:
            return ""
        return f"{self.period_start:%d/%m/%Y} to {self.period_end:%d/%m/%Y}"


@dataclass(frozen=True)
class StoredFile:
    """A services or locality file saved for one dataset (of the dataset's own council)."""

    dataset_id: int
    la_code: str
    file_name: str
    uploaded_by: str
    uploaded_at: dt.datetime
    content_hash: str
    data: bytes
    name_column: str | None = None  # localities: the column naming each locality


_INFO_COLUMNS = [datasets.c[name] for name in (
    "id", "la_code", "name", "file_name", "uploaded_by", "uploaded_at", "period_start", "period_end",
    "rows_read", "rows_accepted", "rows_rejected", "content_hash")]


def _utc(value: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite gives it back without its zone)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _info(row) -> DatasetInfo:
    return DatasetInfo(row.id, row.la_code, row.name, row.file_name, row.uploaded_by, _utc(row.uploaded_at),
                       row.period_start, row.period_end, row.rows_read, row.rows_accepted, row.rows_rejected,
                       row.content_hash)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd", index=False)
    return buffer.getvalue()


def _frame(data: bytes) -> pd.DataFrame:
    """A table back from Parquet, with dates in whole seconds as ingest makes them (Parquet keeps ms)."""
    frame = pd.read_parquet(io.BytesIO(data))
    dates = [name for name, dtype in frame.dtypes.items() if pd.api.types.is_datetime64_dtype(dtype)]
    return frame.astype({name: "datetime64[s]" for name in dates}) if dates else frame


def _cases(data: bytes) -> pd.DataFrame:
    """Saved episodes with every column ingest makes today: a dataset saved before cases were placed on LSOA 2021
    has no LSOA 2021 (<NA>), and the LSOA 2021 views say so rather than guess one."""
    cases = _frame(data)
    if "lsoa21cd" not in cases.columns:
        cases.insert(cases.columns.get_loc("lsoa11cd") + 1, "lsoa21cd",
                     pd.Categorical([None] * len(cases), categories=pd.Index([], dtype="str")))
    return cases


def _dataset_values(result: IngestResult) -> dict[str, object]:
    """The columns a dataset row holds for an ingest result."""
    referral = result.cases["referral_date"].dropna()
    return {
        "period_start": referral.min().date() if len(referral) else None,
        "period_end": referral.max().date() if len(referral) else None,
        "rows_read": result.rows_read, "rows_accepted": result.accepted, "rows_rejected": result.rejected,
        "cases": _parquet(result.cases), "rejects": _parquet(result.rejects),
        "summary": result.summary(),
    }


def _counts(result: IngestResult) -> dict[str, int]:
    return {"rows_read": result.rows_read, "accepted": result.accepted, "rejected": result.rejected}


def _engine(url: str, wait_s: float) -> sa.Engine:
    """An engine whose transactions are real ones on both databases, and whose writers wait for each other
    (at most `wait_s` seconds)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": wait_s})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # the driver's own BEGIN handling is off: ours below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:  # a writer takes the write lock at once, so it waits instead of failing
            writing = connection.get_execution_options().get("ehmap_write")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, connect_args={
        "connect_timeout": 10, "options": f"-c lock_timeout={round(wait_s * 1000)}"})


def lock_for_migration(connection: sa.Connection) -> None:
    """Keep other processes from migrating until this transaction ends (on SQLite, BEGIN IMMEDIATE does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})


def _engine_for_alembic() -> sa.Engine:
    """The configured store's engine, for `alembic -c ehmap/store/alembic.ini ...` run from a shell."""
    return _engine(database_url(), WAIT_SECONDS)


class Store:
    """The team store: datasets per council, their services and locality files, user settings, the audit log.

    `Store()` opens the configured store (see `database_url`) and applies every migration. Methods raise
    `StoreError` subclasses with one-sentence messages: `DatasetNotFound`, `DuplicateDataset`, `StoreBusy`
    (another save held the store longer than `wait_s`), `StoreUnavailable`.
    """

    def __init__(self, url: str | None = None, wait_s: float = WAIT_SECONDS):
        self.url = url or database_url()
        self.wait_s = wait_s
        self.engine = _engine(self.url, wait_s)
        self._migrate()

    # ------------------------------------------------------------------ plumbing

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def describe(self) -> str:
        """Where the store is, without any password."""
        if self.dialect == "sqlite":
            return f"SQLite file {self.engine.url.database}"
        url = self.engine.url
        return f"PostgreSQL database {url.database} on {url.host}:{url.port or 5432}"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as StoreErrors a page or the CLI can show in one sentence."""
        try:
            yield
        except exc.OperationalError as error:
            code = getattr(error.orig, "sqlstate", None)
            if "database is locked" in str(error.orig) or code in {"55P03", "40001", "40P01"}:
                raise StoreBusy(f"The store was busy with another save for more than {self.wait_s:g} s; "
                                "try again in a moment.") from None
            log.warning("The team store (%s) cannot be reached", self.describe())  # where it is: for the log only
            raise StoreUnavailable(f"The team store cannot be reached: {str(error.orig).strip().splitlines()[0]}"
                                   ) from None

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        with self._errors(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """One write transaction: committed whole at the end of the block or not at all."""
        with self._errors(), self.engine.connect() as connection:
            connection.execution_options(ehmap_write=True)
            with connection.begin():
                yield connection

    def _migrate(self) -> None:
        """Apply every Alembic migration not yet applied (as `alembic upgrade head`), in one transaction under a
        lock; a store already at the head is only read, so opening it never waits for a long save."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._reading() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current == ScriptDirectory.from_config(config).get_current_head():
            return
        with self._writing() as connection:
            lock_for_migration(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The applied migration (Alembic's version table)."""
        with self._reading() as connection:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()

    def _audit(self, connection: sa.Connection, event_name: str, user: User | None, dataset: int | str | None,
               detail: Mapping[str, object]) -> dict:
        entry = make_entry(event_name, user, None if dataset is None else str(dataset), detail)
        connection.execute(audit_log.insert().values(
            time=dt.datetime.fromisoformat(entry["time"]), event=entry["event"], user_id=entry["user"],
            role=entry["role"], dataset=entry["dataset"], detail=entry["detail"]))
        return entry

    # ------------------------------------------------------------------ datasets

    def datasets(self, la_code: str | None = None) -> list[DatasetInfo]:
        """Saved datasets, newest upload first (of one council when `la_code` is given)."""
        query = sa.select(*_INFO_COLUMNS).order_by(datasets.c.uploaded_at.desc(), datasets.c.id.desc())
        if la_code is not None:
            query = query.where(datasets.c.la_code == la_code)
        with self._reading() as connection:
            return [_info(row) for row in connection.execute(query)]

    def dataset(self, dataset_id: int) -> DatasetInfo:
        """One saved dataset's description (raises DatasetNotFound)."""
        with self._reading() as connection:
            return self._dataset(connection, dataset_id)

    def _dataset(self, connection: sa.Connection, dataset_id: int) -> DatasetInfo:
        row = connection.execute(sa.select(*_INFO_COLUMNS).where(datasets.c.id == int(dataset_id))).first()
        if row is None:
            raise DatasetNotFound(f"No saved dataset has the id {dataset_id}.")
        return _info(row)

    def find(self, la_code: str, digest: str) -> DatasetInfo | None:
        """The council's dataset saved from an export with this content hash, if any."""
        query = sa.select(*_INFO_COLUMNS).where(datasets.c.la_code == la_code, datasets.c.content_hash == digest)
        with self._reading() as connection:
            row = connection.execute(query).first()
        return _info(row) if row else None

    def load(self, dataset_id: int) -> IngestResult:
        """A saved dataset's episodes, rejects report and reconciliation, as ingest returned them."""
        query = sa.select(datasets.c.la_code, datasets.c.rows_read, datasets.c.cases, datasets.c.rejects,
                          datasets.c.summary).where(datasets.c.id == int(dataset_id))
        with self._reading() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise DatasetNotFound(f"No saved dataset has the id {dataset_id}.")
        summary = row.summary
        return IngestResult(_cases(row.cases), _frame(row.rejects), row.rows_read, row.la_code,
                            dict(summary.get("columns_used", {})), dict(summary.get("warnings", {})))

    def _duplicate(self, existing: DatasetInfo, council: str) -> DuplicateDataset:
        return DuplicateDataset(
            f"This export is already saved for {council} as '{existing.name}' (dataset {existing.id}, "
            f"uploaded {existing.uploaded_at:%d/%m/%Y} by {existing.uploaded_by}).", existing)

    def save_dataset(self, result: IngestResult, name: str, file_name: str, digest: str, user: User,
                     council: str | None = None, now: dt.datetime | None = None) -> DatasetInfo:
        """Save an ingested export as a new dataset of its council (`result.la_code`), with its audit entry.

        `digest` is the `content_hash` of the uploaded file (the file itself is not kept); `council` is the
        council's name for messages. Raises DuplicateDataset when the council already has this export.
        """
        name = clean_name(name)
        council = council or result.la_code
        existing = self.find(result.la_code, digest)
        if existing is not None:
            raise self._duplicate(existing, council)
        values = _dataset_values(result)
        try:
            with self._writing() as connection:
                inserted = connection.execute(datasets.insert().values(
                    la_code=result.la_code, name=name, file_name=file_name, uploaded_by=user.id,
                    uploaded_at=_utc(now or dt.datetime.now(dt.UTC)), content_hash=digest, **values))
                dataset_id = int(inserted.inserted_primary_key[0])
                self._audit(connection, "upload", user, dataset_id,
                            {"action": "add", "council": result.la_code, "file": file_name, **_counts(result)})
        except exc.IntegrityError:  # another session saved the same export a moment ago
            existing = self.find(result.la_code, digest)
            if existing is None:
                raise
            raise self._duplicate(existing, council) from None
        return self.dataset(dataset_id)

    def replace_dataset(self, dataset_id: int, result: IngestResult, file_name: str, digest: str, user: User,
                        now: dt.datetime | None = None) -> DatasetInfo:
        """Replace a dataset's episodes with a newer export of the same council, keeping its id and name;
        its retention period starts again."""
        values = _dataset_values(result)
        try:
            with self._writing() as connection:
                info = self._dataset(connection, dataset_id)
                if info.la_code != result.la_code:
                    raise StoreError(f"Dataset {dataset_id} belongs to {info.la_code}; an export for "
                                     f"{result.la_code} cannot replace it.")
                connection.execute(datasets.update().where(datasets.c.id == info.id).values(
                    file_name=file_name, uploaded_by=user.id, uploaded_at=_utc(now or dt.datetime.now(dt.UTC)),
                    content_hash=digest, **values))
                self._audit(connection, "upload", user, info.id,
                            {"action": "replace", "council": info.la_code, "file": file_name, **_counts(result)})
        except exc.IntegrityError:
            existing = self.find(result.la_code, digest)
            if existing is None:
                raise
            raise self._duplicate(existing, result.la_code) from None
        return self.dataset(dataset_id)

    def rename_dataset(self, dataset_id: int, name: str, user: User) -> DatasetInfo:
        name = clean_name(name)
        with self._writing() as connection:
            info = self._dataset(connection, dataset_id)
            connection.execute(datasets.update().where(datasets.c.id == info.id).values(name=name))
            self._audit(connection, "rename", user, info.id, {"council": info.la_code})
        return self.dataset(dataset_id)

    def delete_dataset(self, dataset_id: int, user: User | None, event_name: str = "delete",
                       detail: Mapping[str, object] | None = None) -> DatasetInfo:
        """Delete a dataset and everything saved with it (services, localities, remembered choices), with an
        audit entry, in one transaction. Returns what was deleted."""
        with self._writing() as connection:
            info = self._dataset(connection, dataset_id)
            for table in (*FILE_TABLES.values(), user_settings):
                connection.execute(table.delete().where(table.c.dataset_id == info.id))
            connection.execute(datasets.delete().where(datasets.c.id == info.id))
            self._audit(connection, event_name, user, info.id,
                        {"council": info.la_code, "file": info.file_name, "rows_read": info.rows_read,
                         **(detail or {})})
        return info

    def purge_expired(self, now: dt.datetime | None = None, days: int | None = None) -> list[DatasetInfo]:
        """Delete every dataset uploaded more than `days` (default `retention_days()`) before `now`, each with
        a 'retention' audit entry; returns them."""
        days = retention_days() if days is None else days
        cutoff = _utc(now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
        with self._reading() as connection:
            expired = [row.id for row in connection.execute(
                sa.select(datasets.c.id).where(datasets.c.uploaded_at < cutoff))]
        purged = []
        for dataset_id in expired:
            try:
                purged.append(self.delete_dataset(dataset_id, None, "retention", {"retention_days": days}))
            except DatasetNotFound:  # deleted by someone else meanwhile
                pass
        return purged

    # ------------------------------------------------------------------ services and locality files

    def save_file(self, kind: str, dataset_id: int, file_name: str, data: bytes, user: User,
                  name_column: str | None = None) -> StoredFile:
        """Save the services ('services') or locality ('localities') file of a dataset, replacing any before."""
        table = FILE_TABLES[kind]
        if kind == "localities" and not name_column:
            raise ValueError("A locality file needs the column that names each locality.")
        with self._writing() as connection:
            info = self._dataset(connection, dataset_id)
            connection.execute(table.delete().where(table.c.dataset_id == info.id))
            extra = {"name_column": name_column} if kind == "localities" else {}
            connection.execute(table.insert().values(
                dataset_id=info.id, la_code=info.la_code, file_name=file_name, uploaded_by=user.id,
                uploaded_at=dt.datetime.now(dt.UTC), content_hash=content_hash(data), data=data, **extra))
            self._audit(connection, "upload", user, info.id, {"action": kind, "council": info.la_code,
                                                               "file": file_name, "bytes": len(data)})
        stored = self.file(kind, dataset_id)
        assert stored is not None
        return stored

    def file(self, kind: str, dataset_id: int) -> StoredFile | None:
        """The services or locality file saved for a dataset, or None."""
        table = FILE_TABLES[kind]
        with self._reading() as connection:
            row = connection.execute(table.select().where(table.c.dataset_id == int(dataset_id))).first()
        if row is None:
            return None
        return StoredFile(row.dataset_id, row.la_code, row.file_name, row.uploaded_by, _utc(row.uploaded_at),
                          row.content_hash, bytes(row.data), getattr(row, "name_column", None))

    def delete_file(self, kind: str, dataset_id: int, user: User) -> bool:
        """Stop using a dataset's services or locality file; False when there was none."""
        table = FILE_TABLES[kind]
        with self._writing() as connection:
            info = self._dataset(connection, dataset_id)
            deleted = connection.execute(table.delete().where(table.c.dataset_id == info.id)).rowcount
            if deleted:
                self._audit(connection, "delete", user, info.id, {"action": kind, "council": info.la_code})
        return bool(deleted)

    # ------------------------------------------------------------------ user settings

    def _upsert_setting(self, connection: sa.Connection, user_id: str, key: str, value: object,
                        dataset_id: int | None) -> None:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        now = dt.datetime.now(dt.UTC)
        statement = insert(user_settings).values(user_id=user_id, key=key, value=value, dataset_id=dataset_id,
                                                 updated_at=now)
        connection.execute(statement.on_conflict_do_update(
            index_elements=["user_id", "key"], set_={"value": value, "dataset_id": dataset_id, "updated_at": now}))

    def set_setting(self, user_id: str, key: str, value: object) -> None:
        """Remember a user's choice (JSON-able), e.g. the council last chosen."""
        with self._writing() as connection:
            self._upsert_setting(connection, user_id, key, value, None)

    def setting(self, user_id: str, key: str, default: object = None) -> object:
        with self._reading() as connection:
            row = connection.execute(sa.select(user_settings.c.value).where(
                user_settings.c.user_id == user_id, user_settings.c.key == key)).first()
        return default if row is None or row.value is None else row.value

    def choose_dataset(self, user_id: str, la_code: str, choice: int | str) -> None:
        """Remember the dataset a user chose for a council: a saved dataset's id, or DEMO_CHOICE."""
        key = f"dataset:{la_code}"
        try:
            with self._writing() as connection:
                if choice == DEMO_CHOICE:
                    self._upsert_setting(connection, user_id, key, DEMO_CHOICE, None)
                else:
                    info = self._dataset(connection, int(choice))
                    if info.la_code != la_code:
                        raise StoreError(f"Dataset {info.id} belongs to {info.la_code}, not {la_code}.")
                    self._upsert_setting(connection, user_id, key, None, info.id)
        except exc.IntegrityError:  # the dataset was deleted at that moment
            raise DatasetNotFound(f"No saved dataset has the id {choice}.") from None

    def chosen_dataset(self, user_id: str, la_code: str) -> int | str | None:
        """The dataset a user last chose for a council (an id or DEMO_CHOICE), or None."""
        with self._reading() as connection:
            row = connection.execute(sa.select(user_settings.c.value, user_settings.c.dataset_id).where(
                user_settings.c.user_id == user_id, user_settings.c.key == f"dataset:{la_code}")).first()
        if row is None:
            return None
        return row.dataset_id if row.dataset_id is not None else row.value

    # ------------------------------------------------------------------ audit log

    def append_audit(self, event_name: str, user: User | None, dataset: int | str | None = None,
                     detail: Mapping[str, object] | None = None) -> dict:
        """Append one audit entry (see `ehmap.audit.record`) and return it."""
        with self._writing() as connection:
            return self._audit(connection, event_name, user, dataset, detail or {})

    def audit_entries(self) -> list[dict]:
        """Every audit entry, oldest first, as `ehmap.audit.entries` gives them."""
        with self._reading() as connection:
            rows = connection.execute(audit_log.select().order_by(audit_log.c.id)).all()
        return [{"time": _utc(row.time).isoformat(timespec="seconds"), "event": row.event, "user": row.user_id,
                 "role": row.role, "dataset": row.dataset, "detail": row.detail} for row in rows]


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def default_store() -> Store:
    """The process's Store for the configured URL (opened, and migrated, once per URL)."""
    url = database_url()
    with _stores_lock:
        if url not in _stores:
            _stores[url] = Store(url)
        return _stores[url]
