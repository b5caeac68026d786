"""The store's tables as SQLAlchemy Core objects, for queries only.

The schema itself is made and changed by the Alembic migrations in `migrations/versions` (never by
`create_all`); tests check that these definitions match what the migrations build.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

datasets = sa.Table(
    "datasets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("la_code", sa.String(9), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("uploaded_by", sa.String(320), nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_accepted", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("cases", sa.LargeBinary, nullable=False),
    sa.Column("rejects", sa.LargeBinary, nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
)


def _file_table(name: str, *extra: sa.Column) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("la_code", sa.String(9), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("uploaded_by", sa.String(320), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        *extra,
    )


services_files = _file_table("services_files")
locality_files = _file_table("locality_files", sa.Column("name_column", sa.String(200), nullable=False))

user_settings = sa.Table(
    "user_settings", metadata,
    sa.Column("user_id", sa.String(320), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("dataset_id", sa.Integer),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(320)),
    sa.Column("role", sa.String(20)),
    sa.Column("dataset", sa.String(40)),
    sa.Column("detail", sa.JSON, nullable=False),
)

FILE_TABLES = {"services": services_files, "localities": locality_files}
