"""Alembic's environment for the local store, run by Alembic for every command.

Online, it migrates over the connection `facade.backends.local.migrate` passes in
`config.attributes["connection"]` (a sync view of an async connection, already in a locked
transaction, so Alembic opens none of its own). Offline (`facade db migrate --sql`) it renders
the SQL for the configured URL's dialect instead.
"""

from __future__ import annotations

from alembic import context

from facade.backends.local.tables import metadata

config = context.config

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("facade's migrations run through facade.backends.local.migrate, which passes a connection")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch operations do that for a revision.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_server_default=True,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()
