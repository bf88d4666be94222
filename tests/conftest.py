"""Shared fixtures: a real SQLite store seeded with the demo data, the real app over httpx's ASGI
transport, and helpers to send GraphQL as a user would. Nothing is mocked."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from facade.app import create_app
from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.settings import Settings

PASSWORD = "facade-demo"
SEED_PRODUCTS = 120


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp / 'facade.db'}",
        "jwt_secret": "test-secret-not-for-production-0123456789abcdef",
        "seed_on_start": False,
        "jwt_secret_file": tmp / "secret",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A client of the running app, as a frontend would use it."""

    client: httpx.AsyncClient
    store: LocalStore
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=sent)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The data of a request that must succeed without errors."""
        body = await self.post(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The first error of a request that must fail."""
        body = await self.post(query, variables, **kw)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error

    async def login(self, username: str, password: str = PASSWORD) -> str:
        if username not in self.tokens:
            data = await self.data(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
                {"u": username, "p": password},
            )
            self.tokens[username] = data["login"]["token"]
        return self.tokens[username]


async def open_api(settings: Settings, products: int = SEED_PRODUCTS) -> tuple[Api, Any]:
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    await seed(store.engine, products=products)
    app = create_app(settings, backend=store)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")
    return Api(client=client, store=store, settings=settings), app


@pytest.fixture(scope="session")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """One seeded store for tests that only read (or whose writes nobody else looks at)."""
    api, _ = await open_api(make_settings(tmp_path_factory.mktemp("shared")))
    yield api
    await api.client.aclose()
    await api.store.aclose()


@pytest.fixture
async def fresh_api(tmp_path: Path) -> AsyncIterator[Api]:
    """A store of its own, for tests that write and then check what was (not) written."""
    api, _ = await open_api(make_settings(tmp_path), products=40)
    yield api
    await api.client.aclose()
    await api.store.aclose()


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_sql(api: Api) -> Iterator[StatementCounter]:
    engine: AsyncEngine = api.store.engine
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


def postgres_url() -> str | None:
    return os.environ.get("FACADE_TEST_POSTGRES_URL")


__all__ = ["PASSWORD", "Api", "StatementCounter", "asyncio", "make_settings", "open_api", "postgres_url"]
