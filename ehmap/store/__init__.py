"""The team store: saved datasets, their services and locality files, user settings and the audit log.

SQLite by default (a file in `ehmap.config.state_dir()`), PostgreSQL when `EHMAP_DATABASE_URL` names one;
schema migrations (Alembic) are applied when a `Store` opens. No Streamlit here: `ui.datasets` is the glue.
"""

from ehmap.store.store import (
    DATABASE_URL_ENV,
    DEFAULT_RETENTION_DAYS,
    DEMO_CHOICE,
    RETENTION_ENV,
    DatasetInfo,
    DatasetNotFound,
    DuplicateDataset,
    Store,
    StoreBusy,
    StoredFile,
    StoreError,
    StoreUnavailable,
    clean_name,
    content_hash,
    database_url,
    default_store,
    name_from_file,
    retention_days,
)

__all__ = [
    "DATABASE_URL_ENV", "DEFAULT_RETENTION_DAYS", "DEMO_CHOICE", "RETENTION_ENV", "DatasetInfo", "DatasetNotFound",
    "DuplicateDataset", "Store", "StoreBusy", "StoreError", "StoreUnavailable", "StoredFile", "clean_name",
    "content_hash", "database_url", "default_store", "name_from_file", "retention_days",
]
