"""Alembic environment for the team store: runs the migrations on the connection ehmap hands over.

`ehmap.store.Store` passes its connection (inside its own transaction and lock) as
`config.attributes["connection"]`; from a shell (`alembic -c ehmap/store/alembic.ini upgrade head`) the
configured store is opened instead, which migrates it the same way.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    from ehmap.store import Store

    Store()  # opening the configured store applies every migration, under its lock
else:
    context.configure(connection=connection, transactional_ddl=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
