"""The local store as one `Backend`: the engine and a repository per domain over it.

`LocalStore.open(url, tokens)` is what the app's lifespan calls: it makes the engine (SQLite set
up for a web server's concurrency, or a pooled PostgreSQL engine) and upgrades the schema to the head
revision (`migrate.py`, Alembic).

The one import across to the upstream side: local mode's Afosto namespace is the generated client
over the sandbox's emulation (`upstream/afosto/emulated.py`), given this store so that its
hand-modelled operations read and write the store's own Afosto tables (the rows `commerce` reads).
It is held here, not in `compose.py`, because a `LocalStore` is also used without `compose` (the
app handed a store, tests, tools) and must answer the namespace there too; made lazily, it costs
nothing until an Afosto field is asked for. Issue 11 did not move it: the alternative (every
place that makes a store wiring the emulation) spreads the debt instead of paying it.
"""

from __future__ import annotations

import functools
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
from facade.backends.local.commerce import LocalCommerce, LocalLinks
from facade.backends.local.devices import LocalDevices
from facade.backends.local.licenses import LocalLicenses
from facade.backends.local.migrate import migrate as apply_migrations
from facade.backends.local.products import LocalProducts
from facade.backends.local.reviews import LocalReviews
from facade.backends.local.stores import LocalStores
from facade.backends.local.subscriptions import LocalSubscriptions
from facade.backends.local.tenants import LocalTenants
from facade.backends.local.users import LocalUsers
from facade.backends.upstream.afosto.client import CREDENTIALS_HEADER
from facade.backends.upstream.afosto.emulated import EmulatedAfosto
from facade.backends.upstream.base import ApiClient
from facade.backends.upstream.http import RequestScope
from facade.deadline import Deadline

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


# The async driver of each database a URL may name without one (`sqlite:///x.db`, `postgresql://…`).
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def create_engine(url: str) -> AsyncEngine:
    """An async engine for the local store: `sqlite+aiosqlite:///path` or `postgresql+asyncpg://…`;
    a URL naming no driver (`sqlite:///path`, `postgresql://…`) gets that async one."""
    parsed = make_url(url)
    if parsed.drivername in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
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


EMPTY: Mapping[str, str] = {}


class LocalRequest:
    """The local store as one request sees it (`LocalStore.bind`): the store's own domains, and
    the Afosto emulation (`store.afosto_api`) bound to the request's allow-listed headers and
    deadline on first use, so Afosto fields de-duplicate reads and forward the caller's Afosto
    token per request as in upstream mode. Costs one small object per request."""

    def __init__(self, store: LocalStore, headers: Mapping[str, str], deadline: Deadline | None) -> None:
        self.store = store
        self._headers = headers
        self._deadline = deadline

    @functools.cached_property
    def afosto(self) -> Any:
        scope = RequestScope.of(self._headers, self.store.afosto_forward, self._deadline)
        return self.store.afosto_api.bind(scope).afosto

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> LocalRequest:
        return self.store.bind(headers, deadline)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.store, name)
        self.__dict__[name] = value  # later lookups find it without coming here
        return value


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
        # Afosto's commerce data (local mode's Afosto) and the join keys to it (both modes).
        self.commerce = LocalCommerce(engine)
        self.links = LocalLinks(engine)
        # Afosto in local mode: the generated client over the sandbox's emulation, in process,
        # made on first use; `compose` hands it the settings' HTTP limits and service account.
        self.afosto_api: ApiClient = EmulatedAfosto(store=self)
        self.afosto_forward: frozenset[str] = frozenset({CREDENTIALS_HEADER})

    @property
    def afosto(self) -> Any:
        """The Afosto call outside a request (tools, tests): each lookup a request of its own."""
        return self.afosto_api.bind(RequestScope()).afosto

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

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> LocalRequest:
        """The store as one request sees it (see `Backend.bind`): the same domains, the Afosto
        emulation bound to the request's headers and deadline when a field first calls it."""
        return LocalRequest(self, headers if headers is not None else EMPTY, deadline)

    async def aclose(self) -> None:
        sync = loop_engine(self.engine)
        if sync is not None:
            sync.dispose()
        await self.engine.dispose()
        await self.afosto_api.aclose()
