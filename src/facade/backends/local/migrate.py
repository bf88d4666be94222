"""The migration runner: brings a local store's schema up to the newest version.

`schema_migrations` records each applied version. `migrate` applies the missing ones in order, all
in one transaction (SQLite and PostgreSQL both have transactional DDL), so a failing migration
leaves the schema as it was. Several processes may start at once (uvicorn workers): they
serialise on a lock (SQLite's write lock, taken up front; a PostgreSQL advisory lock) and the
later ones find nothing left to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facade.backends.local.base import utcnow
from facade.backends.local.migrations import MIGRATIONS, Migration
from facade.backends.local.tables import UTCDateTime

# Its own metadata: the bookkeeping table is the runner's, not part of any migration.
schema_migrations = Table(
    "schema_migrations",
    MetaData(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

# Any constant shared by every facade process; it only has to differ from other applications'
# advisory locks on the same PostgreSQL database.
_PG_LOCK_KEY = 0x66616361  # "faca"


async def migrate(engine: AsyncEngine, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Applies the migrations not yet applied, in version order; returns their versions."""
    async with engine.begin() as conn:
        await _lock(conn)
        return await conn.run_sync(_apply, list(migrations))


async def current_version(engine: AsyncEngine) -> int:
    """The newest applied version; 0 for a database never migrated."""
    async with engine.connect() as conn:
        if not await conn.run_sync(lambda sync: inspect(sync).has_table(schema_migrations.name)):
            return 0
        newest = (await conn.execute(select(func.max(schema_migrations.c.version)))).scalar()
    return int(newest or 0)


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "sqlite":
        # The sqlite3 driver would only open the transaction at the first INSERT, after the
        # DDL; BEGIN IMMEDIATE opens it now and takes the write lock, so DDL is transactional and
        # a second process waits (busy timeout) instead of creating the tables twice.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _apply(conn: Connection, migrations: list[Migration]) -> list[int]:
    schema_migrations.create(conn, checkfirst=True)
    applied = set(conn.execute(select(schema_migrations.c.version)).scalars())
    done: list[int] = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in applied:
            continue
        migration.upgrade(conn)
        conn.execute(
            schema_migrations.insert().values(version=migration.version, name=migration.name, applied_at=utcnow())
        )
        done.append(migration.version)
    return done
