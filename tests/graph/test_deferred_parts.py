"""A FLECS product list read part by part: a product whose categories (or another deferred part)
FLECS sent in a shape facade cannot carry answers every field but that part, and the part is
UPSTREAM_ERROR at its own path, on both executors. Scripted with `httpx.MockTransport` (an error
path no contract-true sandbox serves); the rest of the graph runs as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, make_settings
from facade.app import create_app
from facade.auth import TokenService
from facade.backends.compose import ComposedBackend
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.backends.routes import FLECS, ROUTES
from facade.backends.upstream.flecs.client import FlecsConsole
from facade.backends.upstream.http import HttpSettings, UpstreamClient
from facade.models import encode_cursor
from support.samples import flecs_product


def page() -> dict[str, Any]:
    products = [flecs_product(1), flecs_product(2, "2.50"), flecs_product(3)]
    products[1]["categories"] = [{"name": "no id"}]  # the model refuses it too
    products[2]["categories"] = [{"id": "4", "name": "Edge"}]  # an id as text: the model coerces it
    return {"statusCode": 200, "data": {"page": 1, "totalPages": 1, "products": products}}


@pytest.fixture(params=[True, False], ids=["compiled", "standard"])
async def scripted(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path, compiled=request.param)
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    await seed(store.engine, products=3)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=page(), headers={"X-WP-Total": "3"}))
    client = UpstreamClient(
        "FLECS Console", "http://flecs.test", HttpSettings(retries=0, transport="httpx"), transport=transport
    )
    backend = ComposedBackend(store, {FLECS: FlecsConsole(client)}, ROUTES)
    app = create_app(settings, backend=backend)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test") as http:
        yield Api(client=http, store=backend, settings=settings)
    await backend.aclose()


async def test_an_unreadable_part_fails_only_where_it_is_read(scripted: Api) -> None:
    plain = await scripted.data("{ products(first: 3) { nodes { id name price store { name } } } }")
    assert [p["price"] for p in plain["products"]["nodes"]] == ["1.00", "2.50", "1.00"]

    body = await scripted.post("{ products(first: 3) { nodes { id categories { id name } } } }")

    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["products", "nodes", 1, "categories"], "UPSTREAM_ERROR")
    ]
    assert "FLECS" in body["errors"][0]["message"]
    assert "no id" not in str(body)  # the upstream's body never reaches the client
    # `nodes` is [Product!]!: the failed product's null goes up to `products`, as for any
    # non-null field that fails.
    assert body["data"] == {"products": None}
    # Around it, the parts read as sent, or as the model coerces them (product 3's id "4").
    first = await scripted.data("{ products(first: 1) { nodes { categories { id } } } }")
    assert first["products"]["nodes"] == [{"categories": []}]
    last = await scripted.data(
        "query($after: String) { products(first: 1, after: $after) { nodes { categories { id name } } } }",
        {"after": encode_cursor(1)},
    )
    assert last["products"]["nodes"] == [{"categories": [{"id": "4", "name": "Edge"}]}]
