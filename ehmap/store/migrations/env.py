"""Alembic environment for the team store: runs the migrations on the connection ehmap hands over.

`ehmap.store.Store` passes its connection (inside its own transaction and lock) as
`config.attributes["connection"]`; from a shell (`alembic -c ehmap/store/alembic.ini upgrade head`) the store
named by EHMAP_DATABASE_URL (else the SQLite file in the state directory) is migrated the same way.
"""

from __future__ import annotations

from alembic import context


def run_on(connection) -> None:
    context.configure(connection=connection, transactional_ddl=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    from ehmap.store.store import _engine_for_alembic, lock_for_migration

    engine = _engine_for_alembic()
    with engine.connect() as connection:
        connection.execution_options(ehmap_write=True)
        with connection.begin():
            lock_for_migration(connection)
            run_on(connection)
    engine.dispose()
