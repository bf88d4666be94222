"""A request is freed by reference counting, so the garbage collector's generation-0 threshold
(FACADE_GC_THRESHOLD) can stay high: the read-only playground examples, sent to the app as an
ASGI server sends them (compiled plans, the stage walker, the loaders, the query's cost, the
upstream clients in upstream mode), leave no reference cycle behind for the cyclic collector.

Driven at the ASGI level, without httpx's client, whose own response and stream hold each other."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import Api
from support.asgi import http_scope

PLAYGROUND = Path(__file__).resolve().parents[2] / "playground"
# Not `store-detail`: a store's devices are a search, whose SELECT is built per call for the
# filters given, and SQLAlchemy's new statement holds a cycle of its own (some ten objects,
# whatever the answer's size).
READS = ["nested-products", "store-stock-and-prices", "tenant-orders", "storefront", "my-account"]


async def post(app: Any, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """One POST /graphql through the ASGI app; its JSON body."""
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("POST", "/graphql", headers, host="facade.test")
    await app(scope, receive, send)
    chunks = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    answer: dict[str, Any] = orjson.loads(b"".join(chunks))
    return answer


@pytest.mark.parametrize("name", READS)
async def test_a_read_leaves_nothing_for_the_cyclic_collector(api: Api, name: str) -> None:
    spec = json.loads((PLAYGROUND / f"{name}.json").read_text())
    query = (PLAYGROUND / f"{name}.graphql").read_text()
    headers = {"Content-Type": "application/json", "Host": "facade.test", **(spec.get("headers") or {})}
    if spec.get("signIn"):
        headers["Authorization"] = f"Bearer {await api.login(spec['signIn'])}"
    body = orjson.dumps({"query": query, "variables": spec.get("variables")})
    app = api.client._transport.app  # type: ignore[attr-defined]  # httpx.ASGITransport's app

    first = await post(app, body, headers)  # caches warm: documents, plans, statements, connections
    assert "errors" not in first, first["errors"]
    # Each request measured alone, three times: a cycle another thread drops meanwhile (an earlier
    # test's sandbox, still serving in its thread, freeing an engine) lands in one measurement,
    # while a cycle the request makes shows in every one.
    found: list[int] = []
    for _ in range(3):
        gc.collect()
        gc.disable()
        try:
            again = await post(app, body, headers)
            found.append(gc.collect())
        finally:
            gc.enable()
        assert again == first

    assert min(found) == 0, found
