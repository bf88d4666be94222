"""The local store's Alembic migrations, on a real SQLite file and a real PostgreSQL database
(skipped with the reason where FACADE_TEST_POSTGRES_URL names none): the head revision equals
tables.py, upgrade/downgrade round trips, failing revisions roll back, concurrent starts
serialise, and a store made by facade's earlier runner is adopted without re-creating anything."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conftest import postgres_database
from facade.backends.local import create_engine
from facade.backends.local import migrate as migrations
from facade.backends.local import tables as t
from facade.backends.local.migrate import MigrationError, current_revision, downgrade, migrate, new_revision
from facade.backends.local.seed import seed
from facade.backends.local.tables import UTCDateTime


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return await postgres_database()
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
def scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the package's migrations that a test may add revisions to."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.SCRIPT_LOCATION, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "SCRIPT_LOCATION", copy)
    migrations.head_revision.cache_clear()
    yield copy
    migrations.head_revision.cache_clear()


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def differences(engine: AsyncEngine, metadata: MetaData = t.metadata) -> list[Any]:
    """What Alembic's autogenerate would write to bring the database to `metadata`."""

    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# The earlier runner, as it was before Alembic (git: src/facade/backends/local/migrate.py and
# migrations/m0001_initial.py at 1b85516): a `schema_migrations` table, the lock, and migration 1,
# which was `tables.metadata.create_all` of the tables then. Revision 0002 only adds tables, so
# those are tables.py's first 13 (FIRST_RELEASE), unchanged: they are created alone.
FIRST_RELEASE = (
    "tenants",
    "users",
    "stores",
    "store_access",
    "tills",
    "products",
    "reviews",
    "subscriptions",
    "line_items",
    "devices",
    "licenses",
    "app_manifests",
    "download_tokens",
)
REVISIONS = ["0001", "0002", "0003", "0004"]
HEAD, NEXT = REVISIONS[-1], f"{len(REVISIONS) + 1:04d}"  # a revision a test adds is NEXT
_schema_migrations = Table(
    "schema_migrations",
    MetaData(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)


async def earlier_runner_migrate(engine: AsyncEngine) -> None:
    def apply(conn: Connection) -> None:
        _schema_migrations.create(conn, checkfirst=True)
        if 1 not in set(conn.execute(select(_schema_migrations.c.version)).scalars()):
            t.metadata.create_all(conn, tables=[t.metadata.tables[name] for name in FIRST_RELEASE], checkfirst=False)
            conn.execute(
                _schema_migrations.insert().values(version=1, name="initial", applied_at=dt.datetime.now(dt.UTC))
            )

    async with engine.begin() as conn:
        await _earlier_lock(conn)
        await conn.run_sync(apply)


async def _earlier_lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x66616361})


# ---------------------------------------------------------------------------------------------


async def test_upgrade_creates_the_head_schema_once(engine: AsyncEngine) -> None:
    assert await current_revision(engine) is None

    assert await migrate(engine) == REVISIONS
    assert await migrate(engine) == []

    assert await current_revision(engine) == REVISIONS[-1] == migrations.head_revision()
    assert await table_names(engine) == {table.name for table in t.metadata.sorted_tables} | {"alembic_version"}


async def test_head_revision_equals_tables_py(engine: AsyncEngine) -> None:
    await migrate(engine)

    assert await differences(engine) == []

    # The comparison notices drift: tables.py with one column more than the revisions.
    drifted = MetaData()
    for table in t.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["tenants"].append_column(Column("motto", String(100), nullable=True))
    assert [(diff[0], diff[2], diff[3].name) for diff in await differences(engine, drifted)] == [
        ("add_column", "tenants", "motto")
    ]


async def test_downgrade_to_base_and_upgrade_again(engine: AsyncEngine) -> None:
    await migrate(engine)
    await seed(engine, products=10)

    assert await downgrade(engine, "base") == REVISIONS[::-1]
    assert await current_revision(engine) is None
    assert await table_names(engine) == {"alembic_version"}

    assert await migrate(engine) == REVISIONS
    assert await differences(engine) == []
    assert await count(engine, t.products) == 0


async def test_0003_splits_an_orders_key_from_its_input_digest_and_0002_joins_them(engine: AsyncEngine) -> None:
    """Revision 0002 kept `<key>\n<digest>` in idempotency_key; 0003 keeps each in its column
    (a key alone, a seeded order's null, stay as they are), and a downgrade joins them again."""
    await migrate(engine)
    await seed(engine, products=10)
    since_0003 = REVISIONS[REVISIONS.index("0003") :]
    assert await downgrade(engine, "0002") == since_0003[::-1]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, idempotency_key FROM afosto_orders ORDER BY id"))).all()
    ids = [row[0] for row in rows[:3]]
    stored = {ids[0]: "retry-1\n" + "a" * 32, ids[1]: "older-key", ids[2]: None}
    async with engine.begin() as conn:
        for order_id, value in stored.items():
            await conn.execute(
                text("UPDATE afosto_orders SET idempotency_key = :v WHERE id = :id"), {"v": value, "id": order_id}
            )

    assert await migrate(engine) == since_0003

    query = "SELECT id, idempotency_key, input_digest FROM afosto_orders WHERE id IN (:a, :b, :c)"
    params = dict(zip("abc", ids, strict=True))
    async with engine.connect() as conn:
        found = {row[0]: row[1:] for row in (await conn.execute(text(query), params)).all()}
    assert found == {ids[0]: ("retry-1", "a" * 32), ids[1]: ("older-key", None), ids[2]: (None, None)}
    assert await differences(engine) == []

    await downgrade(engine, "0002")
    async with engine.connect() as conn:
        joined = dict((await conn.execute(text(query.replace(", input_digest", "")), params)).all())
    assert joined == stored


async def test_a_failing_revision_leaves_the_schema_as_it_was(engine: AsyncEngine, scripts: Path) -> None:
    (scripts / "versions" / f"{NEXT}_broken.py").write_text(
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        f"revision = '{NEXT}'\n"
        f"down_revision = '{HEAD}'\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        "def upgrade():\n"
        "    op.add_column('tenants', sa.Column('motto', sa.String(100)))\n"
        f"    raise RuntimeError('revision {NEXT} is broken')\n"
        "def downgrade():\n"
        "    pass\n"
    )

    with pytest.raises(RuntimeError, match=f"{NEXT} is broken"):
        await migrate(engine)

    # Not even 0001 stayed: every revision of one upgrade shares its transaction.
    assert await current_revision(engine) is None
    assert await table_names(engine) == set()


async def test_workers_starting_at_once_migrate_once(url: str) -> None:
    engines = [create_engine(url) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(each) for each in engines))
        assert sorted(applied) == [[], [], [], REVISIONS]
        assert await differences(engines[0]) == []
    finally:
        for each in engines:
            await each.dispose()


async def test_a_store_of_the_earlier_runner_is_stamped_not_rebuilt(engine: AsyncEngine) -> None:
    await earlier_runner_migrate(engine)
    # Its data (the seed now fills later revisions' tables too, so a row of its own).
    async with engine.begin() as conn:
        await conn.execute(t.tenants.insert().values(id="kept", name="Kept B.V.", created_at=dt.datetime.now(dt.UTC)))

    assert await migrate(engine) == REVISIONS[1:]  # stamped at 0001: only the later revisions ran

    assert await current_revision(engine) == REVISIONS[-1]
    assert "schema_migrations" not in await table_names(engine)
    assert await count(engine, t.tenants) == 1
    assert await differences(engine) == []
    assert await migrate(engine) == []


async def test_a_store_of_the_earlier_runner_at_an_unknown_version_is_refused(engine: AsyncEngine) -> None:
    await earlier_runner_migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(
            _schema_migrations.insert().values(version=7, name="unknown", applied_at=dt.datetime.now(dt.UTC))
        )

    with pytest.raises(MigrationError, match=r"versions \[1, 7\]"):
        await migrate(engine)

    assert await current_revision(engine) is None
    assert "schema_migrations" in await table_names(engine)


async def test_tables_without_any_bookkeeping_are_not_built_over(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(t.metadata.create_all)

    with pytest.raises(Exception, match="(?i)already exists"):
        await migrate(engine)
    assert await current_revision(engine) is None


async def test_revision_0001_builds_what_the_earlier_runner_built(tmp_path: Path) -> None:
    """Same tables, columns, constraints and indexes, statement for statement (SQLite keeps each
    CREATE's text; only the order of a table's constraint clauses may differ)."""
    paths = {"earlier": tmp_path / "earlier.db", "alembic": tmp_path / "alembic.db"}

    async def first_revision(engine: AsyncEngine) -> None:
        await migrate(engine, "0001")

    for name, run in (("earlier", earlier_runner_migrate), ("alembic", first_revision)):
        engine = create_engine(f"sqlite+aiosqlite:///{paths[name]}")
        try:
            await run(engine)
        finally:
            await engine.dispose()

    def ddl(path: Path) -> dict[str, set[str]]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name NOT IN ('alembic_version', 'schema_migrations')"
            ).fetchall()
        return {name: {line.strip().rstrip(",") for line in (sql or "").splitlines()} for name, sql in rows}

    earlier, alembic = ddl(paths["earlier"]), ddl(paths["alembic"])
    assert len(earlier) == 45  # 13 tables, 17 indexes, 15 of SQLite's own for unique constraints
    assert alembic == earlier


async def test_a_new_revision_is_written_after_the_head_and_applied(engine: AsyncEngine, scripts: Path) -> None:
    await migrate(engine)

    path = await new_revision(engine, "nothing changes")

    assert path == scripts / "versions" / f"{NEXT}_nothing_changes.py"
    source = path.read_text()
    assert f"down_revision: str | None = '{HEAD}'" in source
    assert "op." not in source.split("def upgrade")[1]  # tables.py equals the store: nothing to do
    assert await migrate(engine) == [NEXT]
    assert await current_revision(engine) == NEXT


async def test_a_new_revision_needs_a_store_at_the_head(engine: AsyncEngine) -> None:
    with pytest.raises(MigrationError, match="not at the head"):
        await new_revision(engine, "too early")


def test_revisions_are_numbered_in_one_line_so_the_cheap_head_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    revisions = sorted(scripts.walk_revisions(), key=lambda r: r.revision)

    assert [Path(r.path).name[:5] for r in revisions] == [f"{r.revision}_" for r in revisions]
    assert [r.down_revision for r in revisions] == [None, *(r.revision for r in revisions[:-1])]
    assert migrations.head_revision() == scripts.get_current_head() == revisions[-1].revision


def test_offline_sql_renders_the_upgrade_for_the_dialect() -> None:
    sql = migrations.offline_sql("postgresql+asyncpg://nobody@127.0.0.1:1/none")

    assert "CREATE TABLE tenants" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
