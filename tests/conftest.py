"""Shared fixtures: a real SQLite store seeded with the demo data, the real app over httpx's ASGI
transport, and helpers to send GraphQL as a user would. Nothing is mocked."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from facade.app import create_app
from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.backends.local.base import engines
from facade.backends.local.seed import seed
from facade.settings import Settings

PASSWORD = "facade-demo"
TENANT = "acme-retail"
SEED_PRODUCTS = 120
UNLIMITED = {
    "rate_limit_per_principal": "1000000/minute",
    "rate_limit_per_address": "1000000/minute",
    "login_attempts_per_username": "1000000/minute",
    "login_attempts_per_address": "1000000/minute",
}
# The key the sandbox (the "real APIs" of upstream mode) signs its tokens with: not facade's, as
# in a real deployment, where facade checks them the way each API allows (upstream/verify.py).
UPSTREAM_SECRET = "the-upstream-apis-own-secret-not-facades-0123456789"


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp / 'facade.db'}",
        "jwt_secret": "test-secret-not-for-production-0123456789abcdef",
        "seed_on_start": False,
        "jwt_secret_file": tmp / "secret",
        "upstream_backoff": 0.05,
        # The suite sends thousands of requests and sign-ins from one address; the rate-limit tests
        # set the limits they test (tests/app/test_ratelimit.py), production gets the defaults.
        **UNLIMITED,
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
    # The settings of whoever issues the callers' tokens: facade's in local mode, the sandbox's
    # (another secret) in upstream mode. Tests that sign tokens themselves sign with these.
    issuer: Settings | None = None

    @property
    def token_settings(self) -> Settings:
        return self.issuer or self.settings

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        payload: dict[str, Any] = {"query": query, "variables": variables}
        if operation_name is not None:
            payload["operationName"] = operation_name
        response = await self.client.post("/graphql", json=payload, headers=sent)
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


async def link_and_sign_in(api: Api) -> tuple[str, str, str]:
    """A READY_TO_LINK device of acme-retail linked through facade (its deviceToken) and bob
    signed in on it (the accessToken): (device id, device token, access token)."""
    alice = await api.login("alice")
    devices = await api.data(
        f'{{ searchDevices(tenantUid: "{TENANT}", first: 1000, filter: {{status: READY_TO_LINK}}) '
        "{ nodes { id deviceCode appType } } }",
        token=alice,
    )
    ready = next(d for d in devices["searchDevices"]["nodes"] if d["appType"] == "CLIENT")
    linked = await api.data(
        'mutation($c: String!, $p: String!) { linkDevice(deviceCode: $c, appId: "flow-retail-client", '
        'userCode: "1002", password: $p) { deviceToken } }',
        {"c": ready["deviceCode"], "p": PASSWORD},
    )
    device_token = linked["linkDevice"]["deviceToken"]
    session = await api.data(
        'mutation($p: String!) { deviceLogin(userCode: "1002", password: $p) { accessToken device { id } } }',
        {"p": PASSWORD},
        token=device_token,
    )
    assert session["deviceLogin"]["device"] == {"id": ready["id"]}
    return ready["id"], device_token, session["deviceLogin"]["accessToken"]


def source_id(global_id: str) -> str:
    """The source id (`sourceId`) a global id holds: base64 of `<Type>:<source id>`."""
    return base64.b64decode(global_id).decode().partition(":")[2]


def global_id(type_name: str, source: object) -> str:
    """The global id of the `type_name` object with `source` id (graph/nodes.py)."""
    return base64.b64encode(f"{type_name}:{source}".encode()).decode()


def mode() -> str:
    """Which backend the GraphQL suite runs on: `local` (default) or `upstream`
    (FACADE_TEST_MODE=upstream: facade's upstream clients talk to the sandbox over loopback HTTP,
    the sandbox serving the same seeded store)."""
    return os.environ.get("FACADE_TEST_MODE", "local")


def store_kind() -> str:
    """Which database the GraphQL suite runs on: `sqlite` (default) or `postgres`
    (FACADE_TEST_STORE=postgres, with FACADE_TEST_POSTGRES_URL naming a server)."""
    return os.environ.get("FACADE_TEST_STORE", "sqlite")


async def postgres_database() -> str:
    """A new, empty PostgreSQL database for one store; dropped at the end of the session."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = postgres_url()
    if url is None:
        pytest.skip("FACADE_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    server = make_url(url)
    name = f"facade_test_{os.getpid()}_{len(_CREATED_DATABASES)}"
    try:
        conn = await asyncpg.connect(
            host=server.host,
            port=server.port or 5432,
            user=server.username,
            database=server.database,
        )
    except (OSError, asyncpg.PostgresError) as err:
        pytest.skip(f"PostgreSQL at {server.host}:{server.port} does not answer: {err}")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    _CREATED_DATABASES.append(name)
    return server.set(database=name).render_as_string(hide_password=False)


_CREATED_DATABASES: list[str] = []


@pytest.fixture(scope="session", autouse=True)
async def _drop_postgres_databases() -> AsyncIterator[None]:
    yield
    if not _CREATED_DATABASES:
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(postgres_url() or "")
    conn = await asyncpg.connect(
        host=server.host, port=server.port or 5432, user=server.username, database=server.database
    )
    try:
        for name in _CREATED_DATABASES:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def open_api(
    settings: Settings, products: int = SEED_PRODUCTS, *, database: str | None = None, upstream: bool | None = None
) -> tuple[Api, Any]:
    """The app over a freshly seeded store, on SQLite or, when asked, PostgreSQL."""
    if (database or store_kind()) == "postgres":
        settings = settings.model_copy(update={"database_url": await postgres_database()})
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    await seed(store.engine, products=products)
    backend: Any = store
    issuer = None
    if upstream if upstream is not None else mode() == "upstream":
        backend = await upstream_backend(settings, store)
        issuer = backend.sandbox_settings
        # The app's settings name the Afosto it was composed with, as a deployment's would (local
        # mode's judgement of Afosto calls keys on FACADE_AFOSTO_URL being `local`).
        settings = settings.model_copy(update={"afosto_url": backend.sandbox_url + "/afosto"})
    app = create_app(settings, backend=backend)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")
    return Api(client=client, store=backend, settings=settings, issuer=issuer), app


async def upstream_backend(settings: Settings, store: LocalStore, **sandbox: Any) -> Any:
    """facade in upstream mode over a sandbox that serves the same store: the contracts'
    operations go over HTTP, the rest comes from the store (backends/compose.py). The sandbox
    signs its tokens with UPSTREAM_SECRET (or as `sandbox` overrides its settings), not facade's
    secret; its settings are the backend's `sandbox_settings`."""
    from facade.backends.compose import compose
    from support.sandbox import start_sandbox

    upstream_settings = settings.model_copy(update={"jwt_secret": SecretStr(UPSTREAM_SECRET), **sandbox})
    running = start_sandbox(upstream_settings)
    _SANDBOXES.append(running)
    upstream = settings.model_copy(
        update={"flecs_url": running.url, "flow_url": running.url + "/v2", "afosto_url": running.url + "/afosto"}
    )
    composed = compose(upstream, store)
    composed.sandbox_url = running.url  # type: ignore[attr-defined]
    composed.sandbox_settings = upstream_settings  # type: ignore[attr-defined]
    return composed


_SANDBOXES: list[Any] = []


@pytest.fixture(scope="session", autouse=True)
def _stop_sandboxes() -> Iterator[None]:
    yield
    for sandbox in _SANDBOXES:
        sandbox.stop()


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
    if mode() == "upstream":
        pytest.skip("counts the local store's SQL; upstream mode counts calls at the sandbox")
    engine: AsyncEngine = api.store.engine
    counter = StatementCounter()
    for each in engines(engine):
        event.listen(each, "before_cursor_execute", counter)
    yield counter
    for each in engines(engine):
        event.remove(each, "before_cursor_execute", counter)


def postgres_url() -> str | None:
    return os.environ.get("FACADE_TEST_POSTGRES_URL")


__all__ = [
    "PASSWORD",
    "Api",
    "StatementCounter",
    "asyncio",
    "make_settings",
    "open_api",
    "postgres_url",
    "store_kind",
]
