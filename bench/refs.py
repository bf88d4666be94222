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
import base64
import os
from contextlib import asynccontextmanager
from decimal import Decimal
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


async def afosto(
    method: str, path: str, authorization: str | None, body: Any = None, page: tuple[int, int] | None = None
) -> tuple[Any, int | None]:
    """One call to the stub's Afosto with the caller's Afosto token (as its `Authorization`):
    the decoded answer and the `x-count` header (None when absent)."""
    assert session is not None
    headers = {"Authorization": authorization} if authorization else {}
    if page is not None:
        headers.update({"x-page": str(page[0]), "x-page-size": str(page[1])})
    data = None if body is None else orjson.dumps(body)
    if data is not None:
        headers["Content-Type"] = JSON
    async with session.request(method, f"{UPSTREAM}/afosto{path}", data=data, headers=headers) as response:
        response.raise_for_status()
        count = response.headers.get("x-count")
        return orjson.loads(await response.read()), int(count) if count is not None else None


SKUS_PER_SEARCH = 100  # facade's FACADE_AFOSTO_BATCH_SIZE default
AFOSTO_PAGE = 1000  # items per page (Afosto documents no maximum): one page holds 100 SKUs' levels


async def afosto_all(method: str, path: str, authorization: str | None, body: Any = None) -> list[Any]:
    """Every page of an Afosto list (x-page from 1 until a page comes back short)."""
    found: list[Any] = []
    number = 1
    while True:
        items, _ = await afosto(method, path, authorization, body, (number, AFOSTO_PAGE))
        found.extend(items)
        if len(items) < AFOSTO_PAGE:
            return found
        number += 1


def _in(key: str, values: list[str]) -> dict[str, Any]:
    return {"constraints": [{"key": key, "operator": "in", "values": values}]}


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + SKUS_PER_SEARCH] for i in range(0, len(values), SKUS_PER_SEARCH)]


def money(minor: int) -> str:
    """Minor units (cents) as a decimal string, `1250` -> "12.50" (the seed's currencies have 2 decimals)."""
    return format(Decimal(minor).scaleb(-2), "f")


async def catalog(tenant: str, n_stores: int, n_products: int, each: int, authorization: str | None) -> dict[str, Any]:
    """catalog-100: a tenant's first stores, each with its first products (FLECS, one page per
    store), each product with its SKU, its prices in every price group (one Afosto search per
    group, SKUs `in`) and its stock levels (one inventory search, SKUs `in`; `each` of both at
    most) with their locations
    (loaded whole). The lists that need nothing else (groups, locations) start at once."""
    groups_task = asyncio.ensure_future(afosto_all("GET", "/cat/groups", authorization))
    locations_task = asyncio.ensure_future(afosto_all("GET", "/wms/locations", authorization))
    try:
        stores = await fetch(f"/ref/tenant-stores?tenant={tenant}&first={n_stores}")
        pages = await asyncio.gather(
            *(fetch(f"/api/v2/products?store_id={st['id']}&page=1&per_page={n_products}") for st in stores)
        )
        ids = [p["id"] for page in pages for p in page["data"]["products"]]
        sku_list = await fetch(f"/ref/skus?product_ids={joined(ids)}") if ids else []
        skus = dict(zip(ids, sku_list, strict=True))
        wanted = list(dict.fromkeys(sku for sku in sku_list if sku is not None))
        groups = await groups_task
        searches = [
            afosto("POST", f"/cat/groups/{g['id']}/prices", authorization, _in("sku", chunk))
            for g in groups
            for chunk in _chunks(wanted)
        ]
        stock_searches = [afosto_all("POST", "/wms/inventory", authorization, _in("sku", c)) for c in _chunks(wanted)]
        found = await asyncio.gather(*searches, *stock_searches)
        locations = {loc["id"]: loc for loc in await locations_task}
    finally:
        for task in (groups_task, locations_task):
            task.cancel()
    group_by_id = {g["id"]: g for g in groups}
    prices: dict[str, list[dict[str, Any]]] = {}
    for answer, _ in found[: len(searches)]:
        for price in answer:
            prices.setdefault(price["sku"], []).append(price)
    order = {g["id"]: i for i, g in enumerate(groups)}
    stock: dict[str, list[dict[str, Any]]] = {}
    for levels in found[len(searches) :]:
        for level in levels:
            stock.setdefault(level["sku"], []).append(level)

    def price_json(price: dict[str, Any]) -> dict[str, Any]:
        group = group_by_id[price["price_group_id"]]
        return {"amount": money(price["amount"]), "currency": group["currency"], "priceGroup": {"name": group["name"]}}

    def level_json(level: dict[str, Any]) -> dict[str, Any]:
        loc = locations.get(level["location_id"])
        where = {"sourceId": loc["id"], "name": loc["name"]} if loc else None
        return {"available": level["available"], "total": level["total"], "location": where}

    def product_json(p: dict[str, Any]) -> dict[str, Any]:
        sku = skus[p["id"]]
        own = sorted(prices.get(sku, []), key=lambda price: order[price["price_group_id"]]) if sku else []
        return {
            "sourceId": str(p["id"]),
            "name": p["name"],
            "sku": sku,
            "prices": {"nodes": [price_json(x) for x in own[:each]]},
            "stock": {"nodes": [level_json(x) for x in (stock.get(sku, []) if sku else [])[:each]]},
        }

    nodes = [
        {
            "sourceId": str(st["id"]),
            "name": st["name"],
            "products": {"nodes": [product_json(p) for p in page["data"]["products"]]},
        }
        for st, page in zip(stores, pages, strict=True)
    ]
    return {"data": {"tenant": {"stores": {"nodes": nodes}}}}


def joined(ids: list[int]) -> str:
    return ",".join(map(str, dict.fromkeys(ids)))


async def by_id(kind: str, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    unique = list(dict.fromkeys(ids))
    found = await fetch(f"/ref/{kind}?ids={joined(unique)}")
    return dict(zip(unique, found, strict=True))


def global_id(type_name: str, key: Any) -> str:
    """facade's global id (graph/nodes.py), as the hand-written composition answers `id` too."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode("ascii")


def product_json(item: dict[str, Any], users: dict[int, Any], reviews: dict[int, Any] | None) -> dict[str, Any]:
    store = item.get("store")  # the store as the product list embeds it
    owner = users.get(item["owner_id"]) if item.get("owner_id") is not None else None
    out: dict[str, Any] = {
        "id": global_id("Product", item["id"]),
        "name": item["name"],
        "price": item["price"],
        "store": {"id": global_id("Store", store["id"]), "name": store["name"]} if store else None,
        "owner": {"id": global_id("User", owner["id"]), "displayName": owner["display_name"]} if owner else None,
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
                    "id": global_id("Product", p["id"]),
                    "name": p["name"],
                    "price": p["price"],
                    "store": {"id": global_id("Store", store["id"]), "name": store["name"]} if store else None,
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
            "id": global_id("Device", d["deviceUid"]),
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
    if query.startswith("query Catalog"):
        stores, products = int(variables["stores"]), int(variables["products"])
        authorization = request.headers.get("x-afosto-authorization")
        answer = await catalog(variables["tenant"], stores, products, int(variables["each"]), authorization)
    elif query.startswith("query Flecs"):
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
