"""The team store: datasets, their services and locality files, user settings and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-05-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

USER = 320  # an email address at most
COUNCIL = 9  # a LAD code, e.g. E09000008


def _file_table(name: str, *extra: sa.Column) -> None:
    """A file saved for one dataset (services or localities), of the dataset's own council."""
    op.create_table(
        name,
        sa.Column("dataset_id", sa.Integer, primary_key=True),
        sa.Column("la_code", sa.String(COUNCIL), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("uploaded_by", sa.String(USER), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        *extra,
        # the pair (dataset, council) must be a dataset's own: a file never joins another council's dataset
        sa.ForeignKeyConstraint(["dataset_id", "la_code"], ["datasets.id", "datasets.la_code"],
                                name=f"fk_{name}_dataset", ondelete="CASCADE"),
    )


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("la_code", sa.String(COUNCIL), nullable=False, index=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("uploaded_by", sa.String(USER), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_start", sa.Date, nullable=True),
        sa.Column("period_end", sa.Date, nullable=True),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_accepted", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("cases", sa.LargeBinary, nullable=False),  # Parquet: the minimised, pseudonymised episodes
        sa.Column("rejects", sa.LargeBinary, nullable=False),  # Parquet: row, reason, message
        sa.Column("summary", sa.JSON, nullable=False),  # IngestResult.summary(): counts, columns used, warnings
        sa.UniqueConstraint("la_code", "content_hash", name="uq_datasets_council_content"),
        sa.UniqueConstraint("id", "la_code", name="uq_datasets_id_council"),
        sa.CheckConstraint("rows_read = rows_accepted + rows_rejected", name="ck_datasets_every_row_accounted"),
        sqlite_autoincrement=True,  # an id is never reused: a remembered choice cannot point at another dataset
    )
    _file_table("services_files")
    _file_table("locality_files", sa.Column("name_column", sa.String(200), nullable=False))
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.String(USER), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(USER), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("dataset", sa.String(40), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sqlite_autoincrement=True,
    )
    _append_only("audit_log")


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on a table, in the database itself."""
    message = f"{table} is append-only"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{message}'; END $$""")
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, '{message}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("audit_log", "user_settings", "locality_files", "services_files", "datasets"):
        op.drop_table(table)
