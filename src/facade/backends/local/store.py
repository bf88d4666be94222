"""The local store as one `Backend`: the engine and a repository per domain over it.

`LocalStore.open(url, tokens)` is what the app's lifespan calls: it makes the engine (SQLite set
up for a web server's concurrency, or a pooled PostgreSQL engine) and upgrades the schema to the head
revision (`migrate.py`, Alembic).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from facade.auth import TokenService
from facade.backends.local.apps import LocalApps
from facade.backends.local.base import loop_engine, read_on_loop
from facade.backends.local.devices import LocalDevices
from facade.backends.local.licenses import LocalLicenses
from facade.backends.local.migrate import migrate as apply_migrations
from facade.backends.local.products import LocalProducts
from facade.backends.local.reviews import LocalReviews
from facade.backends.local.stores import LocalStores
from facade.backends.local.subscriptions import LocalSubscriptions
from facade.backends.local.tenants import LocalTenants
from facade.backends.local.users import LocalUsers
from facade.backends.upstream.afosto.operation import AfostoAnswer, Operation
from facade.deadline import Deadline
from facade.errors import UpstreamNotConfigured

SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers never block the writer nor it them, which a server with concurrent
        # requests needs; NORMAL sync is durable enough with WAL and much faster to commit.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A second writer (another worker) waits for the lock instead of failing at once.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for the local store: `sqlite+aiosqlite:///path` or `postgresql+asyncpg://…`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, json_deserializer=orjson.loads)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if database and database != ":memory:" and not parsed.query:
            # Reads on the loop's thread (base.reading), through the standard library's driver.
            sync = sqlalchemy.create_engine(parsed.set(drivername="sqlite"), json_deserializer=orjson.loads)
            event.listen(sync, "connect", _sqlite_pragmas)
            read_on_loop(engine, sync)
        return engine
    # Modest: each worker holds its own pool, and PostgreSQL's default limit is 100 connections.
    return create_async_engine(parsed, pool_size=5, max_overflow=5, pool_pre_ping=True, json_deserializer=orjson.loads)


class NoAfosto:
    """The Afosto API where facade has no URL for it (`FACADE_AFOSTO_URL=local`): the store holds
    no Afosto data, so every call answers UPSTREAM_NOT_CONFIGURED, the same code for every field."""

    async def call(
        self,
        operation: Operation,
        arguments: Mapping[str, Any],
        body: Any = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
    ) -> AfostoAnswer:
        raise UpstreamNotConfigured(
            "The Afosto API is not configured: set FACADE_AFOSTO_URL to its base URL.", upstream="Afosto API"
        )


class LocalStore:
    """Every domain of the graph answered from the local SQL store (implements `Backend`)."""

    def __init__(self, engine: AsyncEngine, tokens: TokenService) -> None:
        self.engine = engine
        self.tenants = LocalTenants(engine)
        self.users = LocalUsers(engine, tokens)
        self.stores = LocalStores(engine)
        self.products = LocalProducts(engine)
        self.reviews = LocalReviews(engine)
        self.subscriptions = LocalSubscriptions(engine)
        self.devices = LocalDevices(engine, tokens)
        self.licenses = LocalLicenses(engine)
        self.apps = LocalApps(engine)
        self.afosto = NoAfosto()

    @classmethod
    async def open(cls, url: str, tokens: TokenService, *, migrate: bool = True) -> LocalStore:
        engine = create_engine(url)
        try:
            if migrate:
                await apply_migrations(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, tokens)

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> LocalStore:
        """Itself: the store keeps nothing per request (see `Backend.bind`)."""
        return self

    async def aclose(self) -> None:
        sync = loop_engine(self.engine)
        if sync is not None:
            sync.dispose()
        await self.engine.dispose()
