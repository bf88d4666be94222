"""Brings a local store's schema to a revision, through Alembic (`migrations/`, shipped in the package).

`migrate(engine)` upgrades to the head revision and answers the revisions it applied, oldest first.
It runs at every start (`LocalStore.open`, `facade serve`, `facade db migrate`), so a store that is
already at the head costs one read of `alembic_version` and no lock. Otherwise the upgrade runs in
one transaction (SQLite and PostgreSQL both have transactional DDL), so a failing revision leaves
the schema as it was, and under a lock (SQLite's write lock, taken up front; a PostgreSQL advisory
lock), so several processes starting at once (uvicorn workers) serialise and the later ones find
nothing left to do.

A store made by facade's earlier runner (a `schema_migrations` table at version 1) holds exactly
revision 0001's schema: it is stamped at 0001, nothing is re-created, and `schema_migrations` is
dropped in the same transaction (README, Decisions).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, column, inspect, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it runs, not with this module: importing it costs each process about
# 100 ms, which a start on a store already at the head never needs.

# Where the environment lives: env.py, script.py.mako, versions/.
SCRIPT_LOCATION = Path(__file__).with_name("migrations")

# The revision that equals everything the earlier runner's migration 1 created.
FROZEN_REVISION = "0001"
_OLD_RUNNER_TABLE = "schema_migrations"
_OLD_RUNNER_NEWEST = 1

# Any constant shared by every facade process; it only has to differ from other applications'
# advisory locks on the same PostgreSQL database.
_PG_LOCK_KEY = 0x66616361  # "faca"


class MigrationError(RuntimeError):
    """The store's schema cannot be brought to the asked revision as it stands."""


_NUMBERED = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for the local store, built in code (no alembic.ini on disk).

    `url` is only needed offline (`--sql`), where it picks the dialect to render for."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def head_revision() -> str:
    """The newest revision id (e.g. "0001"), from the file names alone, without Alembic.

    Revisions are numbered in one line, `versions/NNNN_<message>.py` with revision id NNNN revising
    NNNN-1 (`new_revision` writes them so; a test holds every file to it), so the highest number
    is Alembic's head."""
    numbers = [int(m[1]) for f in (SCRIPT_LOCATION / "versions").iterdir() if (m := _NUMBERED.match(f.name))]
    if not numbers:
        raise MigrationError("the migrations directory holds no revision")
    return f"{max(numbers):04d}"


async def current_revision(engine: AsyncEngine) -> str | None:
    """The store's revision; None for a database never migrated (or one of the earlier runner's)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def migrate(engine: AsyncEngine, target: str = "head") -> list[str]:
    """Upgrades the store to `target`; answers the revisions applied, oldest first ([] if none).

    Raises MigrationError for a schema Alembic did not make (tables without `alembic_version`
    other than the earlier runner's), and whatever a failing revision raises (nothing applied)."""
    if target == "head" and await current_revision(engine) == head_revision():
        return []
    return await _locked(engine, lambda conn: _upgrade(conn, target))


async def downgrade(engine: AsyncEngine, target: str) -> list[str]:
    """Downgrades the store to `target` ("0001", or "base" for no tables); answers the revisions
    undone, newest first. Data in dropped tables and columns is lost. MigrationError for a
    revision that does not exist."""
    from alembic import command

    return await _locked(engine, lambda conn: _run(conn, command.downgrade, target))


def offline_sql(url: str, target: str = "head") -> str:
    """The SQL that upgrades an empty store of `url`'s dialect to `target`, without connecting."""
    from alembic import command

    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, target, sql=True)
    return config.output_buffer.getvalue()


async def new_revision(engine: AsyncEngine, message: str, *, autogenerate: bool = True) -> Path:
    """Writes the next revision file (`versions/NNNN_<message>.py`) and answers its path.

    With `autogenerate`, Alembic compares `tables.py` with the store (which must be at the head)
    and writes the operations that close the difference: review them before committing."""
    if await current_revision(engine) != head_revision():
        raise MigrationError("the store is not at the head revision: run `facade db migrate` first")
    rev_id = f"{int(head_revision()) + 1:04d}"

    def write(conn: Connection) -> Path:
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = conn
        script = command.revision(config, message=message, autogenerate=autogenerate, rev_id=rev_id)
        if script is None or isinstance(script, list):
            raise MigrationError("Alembic wrote no single revision")
        return Path(script.path)

    async with engine.connect() as conn:
        path = await conn.run_sync(write)
    head_revision.cache_clear()
    return path


def _current(conn: Connection) -> str | None:
    # What Alembic's MigrationContext.get_current_revision reads, without importing Alembic.
    if not inspect(conn).has_table("alembic_version"):
        return None
    versions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return str(versions[0]) if len(versions) == 1 else None


async def _locked(engine: AsyncEngine, work: Callable[[Connection], list[str]]) -> list[str]:
    async with engine.begin() as conn:
        await _lock(conn)
        return await conn.run_sync(work)


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "sqlite":
        # The sqlite3 driver would only open the transaction at the first INSERT, after the
        # DDL; BEGIN IMMEDIATE opens it now and takes the write lock, so DDL is transactional and
        # a second process waits (busy timeout) instead of creating the tables twice.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _upgrade(conn: Connection, target: str) -> list[str]:
    from alembic import command

    _adopt_old_runner(conn)
    return _run(conn, command.upgrade, target)


def _run(conn: Connection, step: Callable[..., Any], target: str) -> list[str]:
    from alembic.util import CommandError

    done: list[str] = []

    def record(*, step: Any, **_: Any) -> None:
        # Upgrading or downgrading, a step applies or undoes its upper revision.
        if not step.is_stamp:
            done.append(step.up_revision_id)

    config = alembic_config()
    config.attributes["connection"] = conn
    config.attributes["on_version_apply"] = record
    try:
        step(config, target)
    except CommandError as exc:  # an unknown revision, a target on the wrong side of the current one
        raise MigrationError(str(exc)) from exc
    return done


def _adopt_old_runner(conn: Connection) -> None:
    names = set(inspect(conn).get_table_names())
    if _OLD_RUNNER_TABLE not in names or "alembic_version" in names:
        return
    old = table(_OLD_RUNNER_TABLE, column("version"))
    versions = set(conn.execute(select(old.c.version)).scalars())
    if versions != set(range(1, _OLD_RUNNER_NEWEST + 1)):
        raise MigrationError(
            f"{_OLD_RUNNER_TABLE} holds versions {sorted(versions)}; facade's earlier runner only ever "
            f"applied {list(range(1, _OLD_RUNNER_NEWEST + 1))}, so this store's schema is unknown"
        )
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = conn
    command.stamp(config, FROZEN_REVISION)
    conn.exec_driver_sql(f"DROP TABLE {_OLD_RUNNER_TABLE}")
