"""The Python references of the benchmark, served by uvicorn (bench/run.py starts them):

- ``floor``: a plain Starlette endpoint answering each workload's body with its precomputed final
  JSON (``BENCH_ANSWERS``: a JSON file mapping request body -> answer); the physical limit.
- ``hand``: a hand-written Starlette endpoint making the same upstream calls as the yoga peer
  (``BENCH_UPSTREAM``, the stub) with aiohttp and assembling the same JSON, without GraphQL: a
  product's store is the one its FLECS page embeds, owners and reviews come from ``/ref/*``,
  a tenant's devices from Flow's F7 with the caller's token.

    uvicorn --app-dir bench refs:floor     uvicorn --app-dir bench refs:hand
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

JSON = "application/json"


def _answers() -> dict[bytes, bytes]:
    path = os.environ.get("BENCH_ANSWERS")
    if not path:
        return {}
    with open(path, "rb") as f:
        table = orjson.loads(f.read())
    return {body.encode(): orjson.dumps(answer) for body, answer in table.items()}


ANSWERS = _answers()


async def floor_endpoint(request: Request) -> Response:
    body = await request.body()
    answer = ANSWERS.get(body)
    if answer is None:
        return Response(b'{"errors":[{"message":"unknown body"}]}', 400, media_type=JSON)
    return Response(answer, media_type=JSON)


floor = Starlette(routes=[Route("/graphql", floor_endpoint, methods=["POST"])])

# --- hand-written composition -------------------------------------------------------------

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8200")
session: aiohttp.ClientSession | None = None


async def fetch(path: str, headers: dict[str, str] | None = None) -> Any:
    assert session is not None
    async with session.get(UPSTREAM + path, headers=headers) as response:
        if response.status == 404:
            return None
        response.raise_for_status()
        return orjson.loads(await response.read())


def joined(ids: list[int]) -> str:
    return ",".join(map(str, dict.fromkeys(ids)))


async def by_id(kind: str, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    unique = list(dict.fromkeys(ids))
    found = await fetch(f"/ref/{kind}?ids={joined(unique)}")
    return dict(zip(unique, found, strict=True))


def product_json(item: dict[str, Any], users: dict[int, Any], reviews: dict[int, Any] | None) -> dict[str, Any]:
    store = item.get("store")  # the store as the product list embeds it
    owner = users.get(item["owner_id"]) if item.get("owner_id") is not None else None
    out: dict[str, Any] = {
        "id": str(item["id"]),
        "name": item["name"],
        "price": item["price"],
        "store": {"id": str(store["id"]), "name": store["name"]} if store else None,
        "owner": {"id": str(owner["id"]), "displayName": owner["display_name"]} if owner else None,
    }
    if reviews is not None:
        page = reviews[item["id"]]
        out["reviews"] = {
            "nodes": [{"rating": r["rating"], "reviewer": r["reviewer"], "review": r["review"]} for r in page["nodes"]]
        }
    return out


async def products_list(first: int, reviews_first: int = 3) -> dict[str, Any]:
    size = min(first, 100)
    pages = range(1, (first + size - 1) // size + 1)
    lists = await asyncio.gather(*(fetch(f"/api/v2/products?page={n}&per_page={size}") for n in pages))
    items = [p for listed in lists for p in listed["data"]["products"]][:first]
    ids = [p["id"] for p in items]
    users, reviews_list = await asyncio.gather(
        by_id("users", [p["owner_id"] for p in items if p.get("owner_id") is not None]),
        fetch(f"/ref/reviews?product_ids={joined(ids)}&first={reviews_first}") if ids else asyncio.sleep(0, []),
    )
    reviews = dict(zip(ids, reviews_list, strict=True))
    return {"data": {"products": {"nodes": [product_json(p, users, reviews) for p in items]}}}


async def flecs_list(first: int) -> dict[str, Any]:
    """flecs-N: the FLECS pages alone, each product with the store its page embeds."""
    size = min(first, 100)
    pages = range(1, (first + size - 1) // size + 1)
    lists = await asyncio.gather(*(fetch(f"/api/v2/products?page={n}&per_page={size}") for n in pages))
    nodes = []
    for listed in lists:
        for p in listed["data"]["products"]:
            store = p.get("store")
            nodes.append(
                {
                    "id": str(p["id"]),
                    "name": p["name"],
                    "price": p["price"],
                    "store": {"id": str(store["id"]), "name": store["name"]} if store else None,
                }
            )
    return {"data": {"products": {"nodes": nodes[:first]}}}


def _time(stamp: str) -> str:
    """Flow's `2026-02-01T12:39:00.000Z` as facade's DateTime writes it: `2026-02-01T12:39:00+00:00`."""
    head, _, _ = stamp.partition(".")
    return (head[:-1] if head.endswith("Z") else head) + "+00:00"


async def flow_devices(tenant: str, first: int, authorization: str | None) -> dict[str, Any]:
    """flow-devices: one Flow Retail F7 page with the caller's token."""
    headers = {"Authorization": authorization} if authorization else None
    path = f"/v2/tenants/{tenant}/devices?pageNumber=1&pageSize={first}&sortDirection=ASC"
    page = await fetch(path, headers)
    nodes = [
        {
            "id": d["deviceUid"],
            "name": d["name"],
            "appType": d["appType"],
            "status": d["status"],
            "deviceCode": d["deviceCode"],
            "createdAt": _time(d["createdAt"]),
        }
        for d in page["items"]
    ]
    return {"data": {"devices": {"nodes": nodes}}}


async def product_one(product_id: str) -> dict[str, Any]:
    found = await fetch(f"/api/v2/products/{int(product_id)}")
    if found is None:
        return {"data": {"product": None}}
    item = found["data"]
    users = await by_id("users", [item["owner_id"]] if item.get("owner_id") is not None else [])
    return {"data": {"product": product_json(item, users, None)}}


async def hand_endpoint(request: Request) -> Response:
    body = orjson.loads(await request.body())
    variables = body.get("variables") or {}
    query = body.get("query") or ""
    if query.startswith("query Flecs"):
        answer = await flecs_list(int(variables["first"]))
    elif query.startswith("query Devices"):
        answer = await flow_devices(variables["tenant"], int(variables["first"]), request.headers.get("authorization"))
    elif "first" in variables:
        # list-N ($first) and fragment-N ($first, $reviews): the same shape
        answer = await products_list(int(variables["first"]), int(variables.get("reviews", 3)))
    elif "id" in variables:
        answer = await product_one(variables["id"])
    else:
        return Response(b'{"errors":[{"message":"unknown workload"}]}', 400, media_type=JSON)
    return Response(orjson.dumps(answer), media_type=JSON)


@asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    global session
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    try:
        yield
    finally:
        await session.close()


hand = Starlette(routes=[Route("/graphql", hand_endpoint, methods=["POST"])], lifespan=lifespan)
