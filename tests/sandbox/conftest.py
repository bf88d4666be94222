"""A sandbox served by uvicorn on a loopback port, in a thread of the test process, so the sync
tests (schemathesis drives `requests`) and the async ones (httpx) reach it over a real socket.

The store is migrated and seeded before the server starts, so the seed's handles (device codes,
free licence keys) are known to the tests; the sandbox then finds it non-empty and keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import PASSWORD, make_settings
from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import SeedSummary, seed
from facade.sandbox import Faults, create_sandbox_app
from facade.settings import Settings

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
# 80 products: four stores, so acme-retail has two (Amsterdam, Rotterdam), and 20 apps, two of
# them unofficial.
PRODUCTS = 80


@dataclass
class Sandbox:
    url: str
    settings: Settings
    seeded: SeedSummary
    tokens: dict[str, str] = field(default_factory=dict)

    def login(self, username: str, password: str = PASSWORD) -> str:
        """A FLECS login token (a `user` token, Flow's authToken), once per user."""
        if username not in self.tokens:
            response = httpx.post(
                f"{self.url}/api/v2/auth/login",
                json={"issueJWT": True, "username": username, "password": password},
                timeout=10.0,
            )
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["data"]["jwt"]["token"]
        return self.tokens[username]


async def _seed(settings: Settings, products: int) -> SeedSummary:
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    try:
        return await seed(store.engine, products=products)
    finally:
        await store.aclose()


@contextlib.contextmanager
def run_sandbox(tmp: Path, *, products: int = PRODUCTS, faults: Faults | None = None) -> Iterator[Sandbox]:
    """The sandbox on a free port until the block ends; the socket is bound before the server
    starts, so no other process can take the port in between."""
    settings = make_settings(tmp, seed_on_start=True, seed_products=products)
    seeded: list[SeedSummary] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_sandbox_app(settings, faults=faults), log_level="warning", access_log=False, ws="none"
    )
    server = uvicorn.Server(config)

    def serve() -> None:
        seeded.append(asyncio.run(_seed(settings, products)))
        server.run(sockets=[sock])

    thread = threading.Thread(target=serve, name="sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while not server.started:
            if not thread.is_alive():
                raise AssertionError("the sandbox stopped before it started serving")
            if time.monotonic() > deadline:
                raise AssertionError(f"the sandbox did not start within {START_TIMEOUT:.0f}s")
            time.sleep(0.02)
        yield Sandbox(url=f"http://{HOST}:{port}", settings=settings, seeded=seeded[0])
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        sock.close()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the tests of both APIs; a test that writes makes its own records."""
    with run_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10.0) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: httpx.Response) -> Any:
    return response.json()
