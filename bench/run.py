"""The benchmark of issue 4: facade against a floor, a hand-written endpoint and a Node peer.

    python bench/run.py [--quick] [--duration S] [--warmup S] [--repeat N] [--soak S]

Everything runs on loopback and is stopped afterwards (process groups, try/finally):

- a seeded local store (``facade db seed --products 1200`` in a temporary folder), exported to
  ``data.json`` for the stub so that every variant answers from the same data;
- the upstream stub (``bench/stub/stub.js``, node:http, keep-alive): FLECS Console product lists
  and, for the references that have no local store, stores/users/reviews by id (``/ref/*``);
- the variants, one at a time, pinned to CPU 0 (``taskset``; the stub and wrk share CPU 1):
  ``facade-upstream`` (``FACADE_FLECS_URL`` = the stub: products from the stub, stores, owners and
  reviews from the local store, as upstream mode does), ``facade-local`` (the local store only),
  ``floor`` (precomputed bytes), ``hand`` (aiohttp + Starlette, no GraphQL), ``yoga``
  (graphql-yoga + dataloader over the stub; ``npm install`` runs once in ``bench/yoga``).

Each variant's answer to each workload is compared (parsed JSON) with facade-local's before it is
measured; a WARNING line is printed when they differ. Each cell is measured ``--repeat`` times (3;
quick 1) and the median run kept, with the spread of req/s. After the table, the issue's targets
are checked against the rows of the same run. ``--soak S`` then restarts facade-local and
facade-upstream and loads list-100 at 32 connections for S seconds, sampling the server's RSS.
Results go to ``bench/results/<ts>.json`` and ``.md``, and both are printed.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-secret-bench-secret-bench-secret-0123"

LIST_QUERY = (
    "query Nested($first: Int) { products(first: $first) { nodes { id name price "
    "store { id name } owner { id displayName } "
    "reviews(first: 3, sortBy: CREATED_AT, sortDirection: DESC) { nodes { rating reviewer review } } } } }"
)
LOOKUP_QUERY = "query One($id: ID!) { product(id: $id) { id name price store { id name } owner { id displayName } } }"
# The nested list again, written with a named fragment and two variables; its answer has the list's
# shape, so the references serve it unchanged (hand reads `$reviews`, yoga runs it as GraphQL).
FRAGMENT_QUERY = (
    "query Cards($first: Int!, $reviews: Int!) { products(first: $first) { nodes { ...Card } } } "
    "fragment Card on Product { id name price store { id name } owner { id displayName } "
    "reviews(first: $reviews, sortBy: CREATED_AT, sortDirection: DESC) { nodes { rating reviewer review } } }"
)
# The signed-in user's devices with their licences and stores (`Authorization: Bearer`, a token
# from facade's `login` as alice). The stub has no devices: facade only.
AUTH_QUERY = "{ viewer { devices(first: 20) { nodes { id serialNumber license { key } store { name } } } } }"
LOGIN_QUERY = 'mutation { login(username: "alice", password: "facade-demo") { token } }'
# A write, as alice: every request adds a review. The product is outside the lists' first 1,000
# (ids are listed in order), so the list workloads measured later still see the same reviews;
# the selection leaves out id and createdAt so that every answer is the same.
MUTATION_QUERY = (
    "mutation Post($productId: ID!, $review: String!, $rating: Int!) { "
    "postReview(productId: $productId, review: $review, rating: $rating) { rating review reviewer } }"
)
# FLECS products with the store their page embeds: nothing but FLECS list calls for every
# variant (one per 100 products), so the data path is measured, not the local store.
FLECS_QUERY = "query Flecs($first: Int) { products(first: $first) { nodes { id name price store { id name } } } }"
# One tenant's Flow Retail devices (F7, one page), as its admin (alice, acme-retail: 55 devices).
FLOW_QUERY = (
    "query Devices($tenant: String!, $first: Int) { devices(tenantUid: $tenant, first: $first) "
    "{ nodes { id name appType status deviceCode createdAt } } }"
)
FLOW_TENANT = "acme-retail"
# catalog-100: one tenant's first 5 stores (by id) with their first 20 products each (the seed gives
# every store 20), each product with its SKU, its Afosto prices (every price group) and its stock
# levels with their locations. One tenant's, read as its admin (alice) with an Afosto token for
# its Afosto tenant: Afosto data is visible to the tenant's members only, and Afosto serves one
# tenant per token. Ids are the sources' (`sourceId`), which every variant can give.
CATALOG_TENANT = "acme-retail"
CATALOG_STORES, CATALOG_PRODUCTS = 5, 20
# Prices and stock levels per product, at most: the seed has 2 price groups and a SKU at 1 or 2
# locations, so every one is there; 10 would put the query's cost (an upper bound from `first`)
# past the benchmark's FACADE_MAX_COST.
CATALOG_EACH = 5
CATALOG_PRICE_GROUPS = 2  # the seed's per tenant: retail and wholesale
CATALOG_QUERY = (
    "query Catalog($tenant: String!, $stores: Int, $products: Int, $each: Int) { tenant(tenantUid: $tenant) { "
    "stores(first: $stores) { nodes { sourceId name products(first: $products) { nodes { sourceId name sku "
    "prices(first: $each) { nodes { amount currency priceGroup { name } } } "
    "stock(first: $each) { nodes { available total location { sourceId name } } } } } } } } }"
)
# catalog-100 taken apart, to see what each branch costs facade (on request, facade only):
# `-products` stops at the products' SKUs, `-prices` adds the prices, `-stock` the stock levels.
CATALOG_PRICES = "prices(first: $each) { nodes { amount currency priceGroup { name } } } "
CATALOG_STOCK = "stock(first: $each) { nodes { available total location { sourceId name } } } "
CATALOG_PARTS = {
    "catalog-100-products": CATALOG_QUERY.replace(CATALOG_PRICES, "")
    .replace(CATALOG_STOCK, "")
    .replace(", $each: Int", ""),
    "catalog-100-prices": CATALOG_QUERY.replace(CATALOG_STOCK, ""),
    "catalog-100-stock": CATALOG_QUERY.replace(CATALOG_PRICES, ""),
}
FACADE = frozenset({"facade-local", "facade-upstream"})
VARIANTS = ("facade-local", "facade-upstream", "floor", "hand", "yoga", "hive")
PEERS = ("yoga", "hive")  # the gateways a team would pick instead: facade's p99 is judged against theirs


def hive_query(first: int) -> str:
    """flecs-N in the shape Mesh gives the FLECS OpenAPI document: one aliased
    `get_api_v2_products(page, per_page)` per page of 100 (the document pages the list)."""
    size = min(first, FLECS_PAGE)
    pages = math.ceil(first / size)
    fields = "data { products { id name price store { id name } } }"
    calls = " ".join(
        f"p{n}: get_api_v2_products(page: {n}, per_page: {size}) "
        f"{{ ... on get_api_v2_products_200_response {{ {fields} }} }}"
        for n in range(1, pages + 1)
    )
    return f"query Flecs {{ {calls} }}"


# catalog-100 in the shape of Hive's supergraph (bench/hive): the stub's `/ref` document gives the
# tenant's stores (`tenant_stores`), mesh.config.ts joins each to its FLECS page (`products`,
# @resolveTo) and gateway.config.ts adds a product's `sku`, `prices` and `stock`; the same variables.
HIVE_CATALOG_QUERY = (
    "query Catalog($tenant: String!, $stores: Int, $products: Int, $each: Int) { "
    "tenant_stores(tenant: $tenant, first: $stores) { id name products(first: $products) { id name sku "
    "prices(first: $each) { amount currency priceGroup { name } } "
    "stock(first: $each) { available total location { id name } } } } }"
)


def global_id(type_name: str, key: Any) -> str:
    """facade's global id (graph/nodes.py): base64 of `<Type>:<source id>`; the peers answer `id`
    so too (bench/README.md, "Global ids")."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode("ascii")


def normalise(variant: str, answer: Any, first: int | None = None) -> Any:
    """An answer in facade's shape, for the comparison. Hive Gateway's flecs-N answer (Mesh's
    schema: aliases p1..pN of `get_api_v2_products`, each `{data: {products: [...]}}`, integer
    ids) becomes `{data: {products: {nodes: [...]}}}`: the pages' products in page order, cut to
    `first`, ids as facade's global ids (Mesh's schema has the FLECS ids only), the fields
    unchanged; its catalog-100 answer (`tenant_stores`) as `catalog_from_hive` gives it. Errors
    are kept as they are."""
    if variant != "hive" or not isinstance(answer, dict) or answer.get("errors"):
        return answer
    data = answer.get("data") or {}
    if "tenant_stores" in data:
        return {"data": {"tenant": catalog_from_hive(data["tenant_stores"])}}
    if first is None:
        return answer
    nodes = []
    for n in range(1, len(data) + 1):
        for p in ((data.get(f"p{n}") or {}).get("data") or {}).get("products") or []:
            store = p.get("store")
            node = {"id": global_id("Product", p["id"]), "name": p["name"], "price": p["price"]}
            node["store"] = {"id": global_id("Store", store["id"]), "name": store["name"]} if store else None
            nodes.append(node)
    return {"data": {"products": {"nodes": nodes[:first]}}}


def catalog_from_hive(stores: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """Hive Gateway's catalog-100 answer (`HIVE_CATALOG_QUERY`: lists, integer FLECS ids, Afosto
    location ids) in facade's shape: each list as a connection's `nodes`, FLECS ids as facade's
    `sourceId` strings, a location's `id` as its `sourceId`; the other fields unchanged."""
    if stores is None:
        return None

    def level(x: dict[str, Any]) -> dict[str, Any]:
        where = x.get("location")
        location = {"sourceId": where["id"], "name": where["name"]} if where else None
        return {"available": x["available"], "total": x["total"], "location": location}

    def product(p: dict[str, Any]) -> dict[str, Any]:
        prices = {"nodes": p["prices"]}
        stock = {"nodes": [level(x) for x in p["stock"]]}
        return {"sourceId": str(p["id"]), "name": p["name"], "sku": p["sku"], "prices": prices, "stock": stock}

    nodes = [
        {"sourceId": str(s["id"]), "name": s["name"], "products": {"nodes": [product(p) for p in s["products"] or []]}}
        for s in stores
    ]
    return {"stores": {"nodes": nodes}}


@dataclass(frozen=True)
class Workload:
    name: str
    body: str  # the exact bytes wrk POSTs
    only: frozenset[str] | None = None  # the variants that can serve it (None: all but hive); others "n/a"
    auth: bool = False  # sent with `Authorization: Bearer <alice's token>`
    afosto: bool = False  # sent with `X-Afosto-Authorization: Bearer <a token for the tenant's Afosto tenant>`
    hive: str | None = None  # Hive Gateway's own body (its schema is Mesh's), when it can serve this
    first: int | None = None  # items asked for (the normalisation cuts to it)
    heavy: bool = False  # 1,000 items: measured for twice the duration (latencies of seconds)
    why_not: str = ""  # why the variants outside `only` cannot serve it

    @property
    def write(self) -> bool:
        return self.body.startswith('{"query":"mutation')

    def serves(self, variant: str) -> bool:
        if variant == "hive":
            return self.hive is not None
        return self.only is None or variant in self.only

    def body_for(self, variant: str) -> str:
        return self.hive if variant == "hive" and self.hive is not None else self.body

    def na_reason(self, variant: str) -> str:
        if variant == "hive":
            return HIVE_NA
        return self.why_not


HIVE_NA = (
    "Hive Gateway composes the FLECS and Afosto OpenAPI documents and the stub's /ref (tenants' stores, SKUs) "
    "only: no owners, reviews (FLECS has no API for them) or Flow Retail devices"
)


def _body(query: str, variables: dict[str, Any]) -> str:
    return json.dumps({"query": query, "variables": variables}, separators=(",", ":"))


def workloads(quick: bool) -> list[Workload]:
    """The table's workloads (quick: list-100, fragment-100 and flecs-100)."""
    out = [Workload("list-100", _body(LIST_QUERY, {"first": 100}), first=100)]
    if not quick:
        out.append(Workload("list-1000", _body(LIST_QUERY, {"first": 1000}), first=1000, heavy=True))
    out.append(Workload("fragment-100", _body(FRAGMENT_QUERY, {"first": 100, "reviews": 2}), first=100))
    for n in (100,) if quick else (100, 1000):
        hive = json.dumps({"query": hive_query(n)}, separators=(",", ":"))
        out.append(Workload(f"flecs-{n}", _body(FLECS_QUERY, {"first": n}), hive=hive, first=n, heavy=n > 100))
    if not quick:
        out.append(Workload("lookup", _body(LOOKUP_QUERY, {"id": "7"})))
        flow = _body(FLOW_QUERY, {"tenant": FLOW_TENANT, "first": 50})
        out.append(Workload("flow-devices", flow, auth=True))
        why = "the stub has no users, FLECS devices or licences (viewer's devices come from facade's store)"
        out.append(Workload("auth-devices", _body(AUTH_QUERY, {}), FACADE | {"floor"}, auth=True, why_not=why))
        catalog = {"tenant": CATALOG_TENANT, "stores": CATALOG_STORES, "products": CATALOG_PRODUCTS}
        catalog["each"] = CATALOG_EACH
        hive = _body(HIVE_CATALOG_QUERY, catalog)
        out.append(Workload("catalog-100", _body(CATALOG_QUERY, catalog), auth=True, afosto=True, hive=hive))
        review = {"productId": "1150", "review": "Benchmarked, still works.", "rating": 4}
        why = "a write: facade-upstream sends postReview to FLECS, which the stub lacks; the references have no store"
        only = frozenset({"facade-local"})
        out.append(Workload("mutation", _body(MUTATION_QUERY, review), only, auth=True, why_not=why))
    return out


def all_workloads() -> list[Workload]:
    """Every workload by name, list-10 too (only when asked for: `--workloads list-10`)."""
    extra = [Workload("list-10", _body(LIST_QUERY, {"first": 10}), first=10)]
    catalog: dict[str, Any] = {"tenant": CATALOG_TENANT, "stores": CATALOG_STORES, "products": CATALOG_PRODUCTS}
    why = "a breakdown of catalog-100, measured for facade only"
    for name, query in CATALOG_PARTS.items():
        values = catalog if name.endswith("-products") else {**catalog, "each": CATALOG_EACH}
        extra.append(Workload(name, _body(query, values), FACADE, auth=True, afosto=True, why_not=why))
    return extra + workloads(False)


# --- pure helpers (tested in tests/test_bench.py) -------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text: str) -> dict[str, float]:
    """req/s, p50/p99 (ms), request and error counts from `wrk --latency` output."""
    out: dict[str, float] = {"errors": 0.0, "non2xx": 0.0}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if not m:
        raise ValueError("no Requests/sec in wrk output")
    out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", text, re.M)
        out[key] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        out["non2xx"] = float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] = float(sum(int(g) for g in m.groups()))
    m = re.search(r"GraphQL errors: (\d+)", text)  # from the script's done(), writes only
    if m:
        out["graphql_errors"] = float(m.group(1))
        out["errors"] += out["graphql_errors"]
    return out


# Counts answers carrying GraphQL errors (a write can fail under load with a 200); wrk then reads
# every body, so it is only used for writes.
_COUNT_ERRORS = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) gql_errors = 0 end
function response(status, headers, body)
  if body and string.find(body, '"errors"', 1, true) then gql_errors = gql_errors + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("gql_errors") or 0) end
  io.write(string.format("GraphQL errors: %d\\n", n))
end
"""


def wrk_script(body: str, headers: dict[str, str] | None = None, count_errors: bool = False) -> str:
    """The Lua script that makes wrk POST one GraphQL body (with extra headers, if any)."""
    extra = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items())
    if count_errors:
        extra += _COUNT_ERRORS
    return (
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n{extra}wrk.body = {json.dumps(body)}\n'
    )


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def spread(runs: Sequence[float]) -> dict[str, Any]:
    """Repeated req/s of one cell: the extremes and `spread_pct`, half their range over the
    median (so a cell reads `median ± spread_pct %`); None for a single run."""
    ordered = sorted(runs)
    median = ordered[len(ordered) // 2]  # a run that happened (the upper one of an even count)
    half = (ordered[-1] - ordered[0]) / 2
    pct = 100 * half / median if len(ordered) > 1 and median else None
    return {"rps_min": ordered[0], "rps_max": ordered[-1], "spread_pct": pct}


REFERENCES = ("floor", "hand", "yoga", "hive")


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """`x_<ref>`: a row's req/s divided by the reference's, same workload and concurrency."""
    by = {(r["workload"], r["connections"], r["variant"]): r for r in rows}
    for r in rows:
        for ref in REFERENCES:
            other = by.get((r["workload"], r["connections"], ref))
            ok = r.get("rps") and other and other.get("rps")
            r[f"x_{ref}"] = r["rps"] / other["rps"] if ok else None


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        "| workload | conns | variant | req/s | ±% | p50 ms | p99 ms | errors | upstream calls/query "
        "| peak RSS MB | ×floor | ×hand | ×yoga | ×hive | same answer |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        if r.get("na"):
            lines.append(f"| {r['workload']} | {r['connections']} | {r['variant']} | n/a |" + " – |" * 10 + " n/a |")
            continue
        pct = r.get("spread_pct")
        lines.append(
            "| "
            + " | ".join(
                [
                    r["workload"],
                    str(r["connections"]),
                    r["variant"],
                    _fmt(r.get("rps")),
                    "–" if pct is None else f"±{pct:.1f}",
                    _fmt(r.get("p50_ms"), 2),
                    _fmt(r.get("p99_ms"), 2),
                    _fmt(int(r.get("errors", 0) + r.get("non2xx", 0))),
                    _fmt(r.get("upstream_calls")),
                    _fmt(r.get("peak_rss_mb")),
                    _fmt(r.get("x_floor"), 4),
                    _fmt(r.get("x_hand"), 2),
                    _fmt(r.get("x_yoga"), 2),
                    _fmt(r.get("x_hive"), 2),
                    {True: "yes", False: "**NO**", None: "–"}[r.get("same")],
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def render_na(rows: Sequence[dict[str, Any]]) -> str:
    """Why each n/a row is one, once per (variant, reason)."""
    seen: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.get("na"):
            names = seen.setdefault((r["variant"], r.get("why") or "cannot serve it identically"), [])
            if r["workload"] not in names:
                names.append(r["workload"])
    return "\n".join(f"- {v} on {', '.join(names)}: {why}." for (v, why), names in seen.items())


# The targets of issue 9, judged on the rows of one run at 32 connections.
TARGET_X_HAND = 0.6  # flecs-100: facade-upstream at least 0.6 × the hand-written composition
STRETCH_X_HAND = 0.8
HAND_RATIO_WORKLOADS = ("flecs-100", "catalog-100")  # facade-upstream ≥ 0.6 × hand on these
TARGET_X_YOGA_LOCAL = 2.0  # list-100: facade-local at least 2 × yoga
TARGET_COST_1000 = 8.0  # a 1,000-item request costs at most 8 100-item requests
FLECS_PAGE = 100  # FLECS (WooCommerce) pages hold at most 100 products
SOAK_TARGET_S = 600  # the soak: 10 minutes
KEPT_NEAR_MB = 20.0  # "back near its baseline" after an attack: at most this much kept


def min_upstream_calls(workload: str) -> int | None:
    """The fewest stub calls facade-upstream can make for a workload: one FLECS product page per
    100 items (stores come embedded; owners and reviews from the local store), one call for a
    product by id and for one page of devices; for catalog-100, one FLECS page per store (the API
    lists one `store_id` at a time) and one Afosto call per entity type per level (issue 11): the
    price groups, one price search per group (the seed's 2), one inventory search and the
    locations (the token's tenant check is its first request's only, and the bench counts a later
    one); None where none is known (auth-devices, writes)."""
    m = re.fullmatch(r"(?:list|fragment|flecs)-(\d+)", workload)
    if m:
        return math.ceil(int(m.group(1)) / FLECS_PAGE)
    if workload == "catalog-100":
        return CATALOG_STORES + 1 + CATALOG_PRICE_GROUPS + 1 + 1
    return 1 if workload in ("lookup", "flow-devices") else None


def upstream_workloads(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Workloads facade-upstream answered with at least one stub call, in table order."""
    seen = [r["workload"] for r in rows if r["variant"] == "facade-upstream" and (r.get("upstream_calls") or 0) > 0]
    return list(dict.fromkeys(seen))


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "n/a"}[met]


def targets(
    rows: Sequence[dict[str, Any]],
    conns: int = 32,
    soaks: Sequence[dict[str, Any]] = (),
    abuse_rows: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Each target of issue 9 this run has the rows for: `variant`, `target`, `measured`, `goal`
    (text) and `met` (None: cannot be judged here). Rows at other concurrencies are not judged;
    a target without its rows is left out."""
    by = {(r["workload"], r["variant"]): r for r in rows if r["connections"] == conns and r.get("rps")}
    out: list[dict[str, Any]] = []

    def add(variant: str, target: str, measured: str, goal: str, met: bool | None) -> None:
        out.append({"variant": variant, "target": target, "measured": measured, "goal": goal, "met": met})

    def x(name: str, v: str, ref: str) -> float | None:
        mine, other = by.get((name, v)), by.get((name, ref))
        return mine["rps"] / other["rps"] if mine and other else None

    up = "facade-upstream"
    for name in HAND_RATIO_WORKLOADS:  # issue 9's flecs-100; issue 11 holds catalog-100 to the same ratio
        to_hand = x(name, up, "hand")
        if to_hand is not None:
            goal = f"≥ {TARGET_X_HAND:g} (stretch {STRETCH_X_HAND:g})"
            stretch = " (stretch met)" if to_hand >= STRETCH_X_HAND else ""
            add(up, f"{name} c={conns} req/s ×hand", f"{to_hand:.2f}{stretch}", goal, to_hand >= TARGET_X_HAND)
    for name in upstream_workloads(rows):
        for peer in PEERS:
            ratio = x(name, up, peer)
            if ratio is not None:
                add(up, f"{name} c={conns} req/s ×{peer}", f"{ratio:.2f}", "≥ 1", ratio >= 1.0)
    to_yoga = x("list-100", "facade-local", "yoga")
    if to_yoga is not None:
        goal = f"≥ {TARGET_X_YOGA_LOCAL:g}"
        add("facade-local", f"list-100 c={conns} req/s ×yoga", f"{to_yoga:.2f}", goal, to_yoga >= TARGET_X_YOGA_LOCAL)
    names = list(dict.fromkeys(r["workload"] for r in rows))
    for v in sorted(FACADE):
        for name in names:
            mine = by.get((name, v))
            peers = {peer: by[(name, peer)]["p99_ms"] for peer in PEERS if (name, peer) in by}
            if mine and peers:
                worst = min(peers.values())
                measured = f"{mine['p99_ms']:,.1f} vs " + ", ".join(f"{k} {ms:,.1f}" for k, ms in peers.items())
                add(v, f"{name} c={conns} p99 (ms) vs peers'", measured, "≤ every peer's", mine["p99_ms"] <= worst)
        for small, big in (("list-100", "list-1000"), ("flecs-100", "flecs-1000")):
            a, b = by.get((small, v)), by.get((big, v))
            if a and b:
                cost = a["rps"] / b["rps"]
                goal = f"≤ {TARGET_COST_1000:g}"
                add(v, f"{big} cost ÷ {small} cost (c={conns})", f"{cost:.1f}", goal, cost <= TARGET_COST_1000)
    # Counted once per workload on the stub; facade-local has no upstream to count.
    for r in rows:
        least = min_upstream_calls(r["workload"])
        if r["variant"] == up and r["connections"] == conns and "upstream_calls" in r and least:
            calls, target = r["upstream_calls"], f"upstream calls per {r['workload']} query"
            add(up, target, str(calls), f"{least} (the minimum)", calls <= least)
    for k in soaks:
        goal = "flat (< 5 MB or 2 % over the 2nd half)"
        long_enough = k["seconds"] >= SOAK_TARGET_S
        what = f"{k.get('rss_start_mb')} → {k.get('rss_end_mb')} MB, {k.get('growth_mb', 0):+.1f} MB in the 2nd half"
        if not long_enough:
            what += f" (a {k['seconds']} s soak, not the issue's {SOAK_TARGET_S} s)"
        met = k["verdict"] == "flat" if long_enough else None
        add(k["variant"], f"memory over a {k['seconds']} s soak, {k['workload']} c={k['connections']}", what, goal, met)
    if abuse_rows is not None:
        kept = [(r["attack"], r["kept_mb"]) for r in abuse_rows if r.get("kept_mb") is not None]
        if kept:
            attack, most = max(kept, key=lambda a: a[1])
            over = [a for a, mb in kept if mb > KEPT_NEAR_MB]
            measured = f"most kept: {attack} +{most:,.0f} MB" + (f"; over: {', '.join(over)}" if over else "")
            goal = f"each attack keeps ≤ {KEPT_NEAR_MB:g} MB"
            add("facade (abuse)", "RSS back near its baseline after each attack", measured, goal, not over)
    return out


def render_targets(found: Sequence[dict[str, Any]]) -> str:
    lines = ["| variant | target | measured | goal | verdict |", "|---|---|---|---|---|"]
    for t in found:
        lines.append(f"| {t['variant']} | {t['target']} | {t['measured']} | {t['goal']} | {_verdict(t['met'])} |")
    return "\n".join(lines)


SOAK_FLAT_MB = 5.0  # growth over the soak's second half below this, or below
SOAK_FLAT_FRACTION = 0.02  # this share of the RSS there, is "flat"


def slope_mb_per_min(samples: Sequence[Sequence[float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute (0 without two times)."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mm = sum(mb for _, mb in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return 60 * sum((t - mt) * (mb - mm) for t, mb in samples) / var


def soak_summary(samples: Sequence[Sequence[float]]) -> dict[str, Any]:
    """RSS at the start (after warm-up), end and max; the slope fitted over the second half and the
    growth it implies there; `flat` when that growth is below 5 MB or 2 % of the RSS."""
    if not samples:
        return {"verdict": "no samples"}
    t0, t1 = samples[0][0], samples[-1][0]
    half = [s for s in samples if s[0] >= t0 + (t1 - t0) / 2]
    slope = slope_mb_per_min(half)
    growth = slope * (half[-1][0] - half[0][0]) / 60
    flat = growth < max(SOAK_FLAT_MB, SOAK_FLAT_FRACTION * half[0][1])
    return {
        "rss_start_mb": samples[0][1],
        "rss_end_mb": samples[-1][1],
        "rss_max_mb": max(mb for _, mb in samples),
        "slope_mb_per_min": slope,
        "growth_mb": growth,
        "verdict": "flat" if flat else "growing",
    }


def render_soak(soaks: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| variant | workload | conns | seconds | req/s | p99 ms | errors | RSS start MB | RSS end MB | RSS max MB "
        "| slope MB/min (2nd half) | growth MB (2nd half) | verdict |",
        "|" + "---|" * 13,
    ]
    for k in soaks:
        cells = [k["variant"], k["workload"], str(k["connections"]), str(k["seconds"]), _fmt(k.get("rps"))]
        cells += [_fmt(k.get("p99_ms"), 2), _fmt(int(k.get("errors", 0) + k.get("non2xx", 0)))]
        cells += [_fmt(k.get(f"rss_{x}_mb")) for x in ("start", "end", "max")]
        cells += [_fmt(k.get("slope_mb_per_min"), 2), _fmt(k.get("growth_mb"), 1), k["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparable(answer: Any) -> Any:
    """An answer without its top-level `extensions` (facade reports each query's cost there; no
    peer does): `data` and `errors` are what must be the same."""
    if isinstance(answer, dict) and "extensions" in answer:
        return {k: v for k, v in answer.items() if k != "extensions"}
    return answer


def same_json(a: Any, b: Any) -> bool:
    return comparable(a) == comparable(b)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two parsed JSON answers first differ (`data.products.nodes[3].price: '1.00' != '1.0'`),
    None when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'the first' if key in a else 'the second'}"
            found = first_difference(a[key], b[key], f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None if len(a) == len(b) else f"{path}: {len(a)} items != {len(b)}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=10)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)

    def peak_rss_mb(self) -> float | None:
        """The largest VmHWM in the process group (the server and any worker it spawned)."""
        found = self._status_mb("VmHWM")
        return max(found) if found else None

    def rss_mb(self) -> float | None:
        """The resident memory of the whole process group now (VmRSS, summed)."""
        found = self._status_mb("VmRSS")
        return sum(found) if found else None

    def _status_mb(self, key: str) -> list[float]:
        found = []
        for pid in _group(self.popen.pid):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            m = re.search(rf"{key}:\s+(\d+) kB", text)
            if m:
                found.append(int(m.group(1)) / 1024)
        return found


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[Proc] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Proc:
        log = self.logs / f"{name}.log"
        popen = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.running.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.running):
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {proc.name}: {exc}")
        self.running.clear()


def wait_ready(proc: Proc, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: see {proc.log}\n{proc.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(_addr(url), 0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not start within {timeout:.0f} s: see {proc.log}")


def _addr(url: str) -> tuple[str, int]:
    parsed = urllib.request.urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 60.0, headers: dict[str, str] | None = None
) -> Any:
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


# --- data ------------------------------------------------------------------------------------


def _iso(stamp: str) -> str:
    return stamp.replace(" ", "T")[:19]


def _utc(stamp: Any) -> str | None:
    """A stored time as Afosto writes one (`2026-02-01T12:39:00Z`); None stays None."""
    return None if stamp is None else _iso(str(stamp)) + "Z"


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}


def _vat(rate: str | None) -> list[dict[str, Any]]:
    """A stored VAT rate ("21.00") as CatPrice's `vat` (`[{rate: int}]`); none: []."""
    if rate is None:
        return []
    value = float(rate)
    return [{"rate": int(value) if value.is_integer() else value}]


def _set(record: dict[str, Any]) -> dict[str, Any]:
    """An Afosto record without its unset fields: the contract marks nothing required and types
    none as nullable, so a field without a value is left out (facade reads either as None)."""
    return {k: v for k, v in record.items() if v is not None}


def export_afosto(con: sqlite3.Connection) -> tuple[dict[str, Any], dict[str, str], dict[int, str]]:
    """The seeded store's Afosto data in Afosto's shapes, per Afosto tenant (`stub.js` serves
    each tenant's to that tenant's tokens): `{afosto tenant id: {tenant: IamTenant, groups:
    [CatGroup], prices: {group id: [CatPrice]}, locations: [WmsLocation], stock: [WmsStock]}}`,
    with the links facade keeps in its local store: facade tenant uid -> Afosto tenant id, and
    product id -> SKU. Lists in key order (groups and locations by creation, then id; stock by
    location, then SKU). Empty where the store has no Afosto tables (before migration 0002)."""
    if "afosto_tenant_links" not in _tables(con):
        return {}, {}, {}
    links = {r["tenant_id"]: r["afosto_tenant_id"] for r in con.execute("select * from afosto_tenant_links")}
    skus = {r["product_id"]: r["sku"] for r in con.execute("select product_id, sku from product_skus")}
    names = {r["id"]: r["name"] for r in con.execute("select id, name from tenants")}
    created = {r["id"]: r["created_at"] for r in con.execute("select id, created_at from tenants")}
    out: dict[str, Any] = {}
    for uid, aid in links.items():
        stamp = _utc(created.get(uid))
        tenant = {"id": aid, "name": names.get(uid, uid), "is_active": True, "created_at": stamp, "updated_at": stamp}
        out[aid] = {"tenant": _set(tenant), "groups": [], "prices": {}, "locations": [], "stock": []}
    by = "where afosto_tenant_id = ?"
    for aid, own in out.items():
        for r in con.execute(f"select * from afosto_price_groups {by} order by created_at, id", (aid,)):
            own["groups"].append(
                _set(
                    {
                        "id": r["id"],
                        "name": r["name"],
                        "is_including_vat": bool(r["is_including_vat"]),
                        "currency": r["currency"],
                        "metadata": {},
                        "created_at": _utc(r["created_at"]),
                        "updated_at": _utc(r["created_at"]),
                    }
                )
            )
            own["prices"][r["id"]] = []
        for r in con.execute(f"select * from afosto_prices {by} order by price_group_id, sku, active_at", (aid,)):
            own["prices"].setdefault(r["price_group_id"], []).append(
                _set(
                    {
                        "id": r["id"],
                        "sku": r["sku"],
                        "amount": r["amount"],
                        "original_amount": r["original_amount"],
                        "vat": _vat(r["vat_rate"]),
                        "price_group_id": r["price_group_id"],
                        "active_at": _utc(r["active_at"]),
                        "created_at": _utc(r["created_at"]),
                    }
                )
            )
        for r in con.execute(f"select * from afosto_locations {by} order by created_at, id", (aid,)):
            own["locations"].append(
                _set(
                    {
                        "id": r["id"],
                        "name": r["name"],
                        "country_iso": r["country_code"],
                        "is_supplier": False,
                        "is_managed": True,
                        "is_customer": False,
                        "is_tracking_inventory": bool(r["is_tracking_inventory"]),
                        "address_id": r["address_id"],
                        "created_at": _utc(r["created_at"]),
                        "updated_at": _utc(r["created_at"]),
                    }
                )
            )
        for r in con.execute(f"select * from afosto_stock {by} order by location_id, sku", (aid,)):
            levels = {k: r[k] for k in ("available", "reserved", "claimed", "transit", "missing", "backordered")}
            own["stock"].append(
                {"location_id": r["location_id"], "sku": r["sku"], **levels, "total": sum(levels.values())}
            )
    return out, links, skus


def afosto_token(afosto_tenant_id: str, secret: str = SECRET) -> str:
    """An Afosto token as facade's sandbox hands them out (HS256 with the shared secret, claim
    `tenant_id` = the Afosto tenant), which the stub accepts for that tenant; valid for a day."""
    import jwt  # PyJWT, facade's dependency

    now = int(time.time())
    claims = {"tenant_id": afosto_tenant_id, "iat": now, "exp": now + 86400}
    return str(jwt.encode(claims, secret, algorithm="HS256"))


def export(db: Path, out: Path) -> dict[str, str]:
    """The seeded store as the stub's data: products in FLECS's shape (with `store` and the
    non-contract `owner_id`/`date_created_gmt` facade reads when sent), tenants' devices in Flow
    Retail's (F7), each Afosto tenant's catalogue data in Afosto's (`export_afosto`), and stores
    (with their tenant), users, reviews and products' SKUs for the references' `/ref/*` reads.
    Answers the links facade tenant uid -> Afosto tenant id."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    stores = {r["id"]: dict(r) for r in con.execute("select * from stores")}
    products = []
    for r in con.execute("select * from products order by id"):
        s = stores[r["store_id"]]
        products.append(
            {
                "id": r["id"],
                "name": r["name"],
                "status": r["status"],
                "description": r["description"],
                "short_description": r["short_description"],
                "average_rating": r["average_rating"],
                "rating_count": r["rating_count"],
                "categories": json.loads(r["categories"]),
                "attributes": json.loads(r["attributes"]),
                "meta_data": json.loads(r["meta_data"]),
                "stock_status": r["stock_status"],
                "store": {
                    "id": s["id"],
                    "name": s["name"],
                    "shop_name": s["shop_name"],
                    "url": s["url"],
                    "address": {k: s[k] for k in ("street_1", "street_2", "city", "zip", "country", "state")},
                },
                "permalink": r["permalink"],
                "price": r["price"],
                "purchasable": bool(r["purchasable"]),
                "owner_id": r["owner_id"],
                "date_created_gmt": _iso(r["created_at"]),
            }
        )
    users = [
        {"id": r["id"], "display_name": r["display_name"]} for r in con.execute("select id, display_name from users")
    ]
    uids = {s["id"]: s["uid"] for s in stores.values()}
    devices = [
        {
            "deviceUid": r["id"],
            "name": r["name"],
            "appType": r["app_type"],
            "status": r["status"],
            "systemInformation": r["system_information"],
            "deviceCode": r["device_code"],
            "tenantUid": r["tenant_id"],
            "storeUid": uids.get(r["store_id"]),
            "tillUid": r["till_id"],
            "createdAt": _iso(r["created_at"]) + ".000Z",
            "lastModifiedAt": _iso(r["last_modified_at"]) + ".000Z",
        }
        for r in con.execute("select * from devices where tenant_id is not null order by id")
    ]
    reviews = [
        {k: r[k] for k in ("id", "product_id", "rating", "reviewer", "review", "created_at")}
        for r in con.execute("select * from reviews where status = 'approved'")
    ]
    afosto, links, skus = export_afosto(con)
    con.close()
    listed = [{"id": s["id"], "name": s["name"], "tenant_id": s["tenant_id"]} for s in stores.values()]
    data = {"products": products, "stores": listed, "users": users, "reviews": reviews, "devices": devices}
    data.update(afosto=afosto, skus={str(k): v for k, v in skus.items()})
    out.write_text(json.dumps(data))
    return links


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Settings:
    quick: bool
    duration: int
    warmup: int
    repeat: int
    soak: int
    connections: list[int]
    wrk_cpu: int | None
    server_cpu: int | None
    tmp: Path
    results: list[dict[str, Any]] = field(default_factory=list)
    soaks: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = None  # alice's, from facade-local's `login`
    afosto_token: str | None = None  # for catalog-100's tenant's Afosto tenant (`afosto_token`)

    def headers(self, w: Workload) -> dict[str, str]:
        found = {"Authorization": f"Bearer {self.token}"} if w.auth and self.token else {}
        if w.afosto and self.afosto_token:
            found["X-Afosto-Authorization"] = f"Bearer {self.afosto_token}"
        return found


def wrk_cmd(s: Settings, url: str, script: Path, conns: int, seconds: int) -> list[str]:
    return pinned(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script), url],
        s.wrk_cpu,
    )


def run_wrk(s: Settings, url: str, script: Path, conns: int, seconds: int) -> str:
    cmd = wrk_cmd(s, url, script, conns, seconds)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return done.stdout


def settle(stub: str, quiet: float = 0.3, most: float = 30.0) -> None:
    """Waits until the stub's call count stops moving for `quiet` seconds (at most `most`): a
    server still working through the previous load's requests (a slow workload's answers take
    seconds at 32 connections) would otherwise add their calls to the next count."""
    deadline = time.monotonic() + most
    seen = -1
    while time.monotonic() < deadline:
        now = int(http("GET", stub + "/__calls")["calls"])
        if now == seen:
            return
        seen = now
        time.sleep(quiet)


def upstream_calls(stub: str, url: str, body: str, headers: dict[str, str]) -> int:
    settle(stub)  # let stragglers of the previous load finish
    http("POST", stub + "/__calls/reset", b"")
    http("POST", url, body.encode(), headers=headers)
    return int(http("GET", stub + "/__calls")["calls"])


def measure(
    s: Settings,
    variant: str,
    proc: Proc,
    url: str,
    loads: list[Workload],
    canonical: dict[str, Any],
    stub: str | None,
) -> None:
    for w in loads:
        if not w.serves(variant):
            why = w.na_reason(variant)
            for conns in s.connections:
                s.results.append({"workload": w.name, "connections": conns, "variant": variant, "na": True, "why": why})
            print(f"  {variant:16} {w.name:12} n/a ({why})")
            continue
        headers = s.headers(w)
        sent = w.body_for(variant)
        try:
            answer = normalise(variant, http("POST", url, sent.encode(), headers=headers), w.first)
        except (OSError, ValueError) as exc:  # an HTTP error or a body that is not JSON
            answer = {"bench": f"no JSON answer: {exc}"}
        same = same_json(answer, canonical[w.name])
        if not same:
            where = first_difference(comparable(answer), comparable(canonical[w.name]))
            print(f"WARNING: {variant} answers {w.name} differently from facade-local: {where}")
        calls = upstream_calls(stub, url, sent, headers) if stub else 0
        script = s.tmp / f"{variant}-{w.name}.lua"
        script.write_text(wrk_script(sent, headers, count_errors=w.write))
        seconds = s.duration * (2 if w.heavy else 1)
        for conns in s.connections:
            run_wrk(s, url, script, conns, s.warmup)
            runs = [parse_wrk(run_wrk(s, url, script, conns, seconds)) for _ in range(s.repeat)]
            best = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]  # the median run
            row = {
                "workload": w.name,
                "connections": conns,
                "variant": variant,
                **best,
                **spread([r["rps"] for r in runs]),
                "runs_rps": [r["rps"] for r in runs],
                "runs_p99_ms": [r["p99_ms"] for r in runs],
                "upstream_calls": calls,
                "same": same,
                "seconds": seconds,
            }
            row["peak_rss_mb"] = proc.peak_rss_mb()
            s.results.append(row)
            print(
                f"  {variant:16} {w.name:12} c={conns:<3} {best['rps']:10,.1f} req/s  "
                f"p50 {best['p50_ms']:8.2f} ms  p99 {best['p99_ms']:8.2f} ms  calls {calls}"
            )


def soak(s: Settings, variant: str, proc: Proc, url: str, w: Workload, conns: int = 32) -> dict[str, Any]:
    """One long wrk run on a fresh server, after a warm-up, with the server's RSS sampled every
    few seconds (`samples`: [seconds since the start, MB]) and summarised by `soak_summary`."""
    script = s.tmp / "soak.lua"
    script.write_text(wrk_script(w.body, s.headers(w)))
    run_wrk(s, url, script, conns, soak_warmup(s))
    every = min(5.0, max(1.0, s.soak / 20))
    samples: list[list[float]] = []
    wrk = subprocess.Popen(wrk_cmd(s, url, script, conns, s.soak), stdout=subprocess.PIPE, text=True)
    start = time.monotonic()
    try:
        while True:
            mb = proc.rss_mb()
            if mb is not None:
                samples.append([round(time.monotonic() - start, 1), round(mb, 1)])
            try:
                out, _ = wrk.communicate(timeout=every)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    mb = proc.rss_mb()
    if mb is not None:
        samples.append([round(time.monotonic() - start, 1), round(mb, 1)])
    measured = parse_wrk(out)
    found = {"variant": variant, "workload": w.name, "connections": conns, "seconds": s.soak, **measured}
    found.update(soak_summary(samples), every_s=every, samples=samples)
    print(
        f"  {variant:16} soak {s.soak} s: {measured['rps']:,.1f} req/s, RSS {found.get('rss_start_mb')} -> "
        f"{found.get('rss_end_mb')} MB, {found.get('slope_mb_per_min', 0):+.2f} MB/min: {found['verdict']}"
    )
    return found


@contextmanager
def serving(ps: Processes, name: str, cmd: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[Proc]:
    proc = ps.start(name, cmd, env)
    try:
        wait_ready(proc, url)
        yield proc
    finally:
        ps.stop(proc)


def uvicorn_cmd(app: str, port: int) -> list[str]:
    cmd = [str(VENV_BIN / "python"), "-m", "uvicorn", "--app-dir", str(BENCH), app]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    for mod, flag in (("uvloop", ["--loop", "uvloop"]), ("httptools", ["--http", "httptools"])):
        try:
            __import__(mod)
            cmd += flag
        except ImportError:
            pass
    return cmd


FINAL = {"duration": 4, "warmup": 2, "repeat": 3, "soak": SOAK_TARGET_S, "connections": [32]}
SOAK_WARMUP_MAX = 30  # seconds of warm-up before a soak, at most
ABUSE_ESTIMATE_S = 240  # bench/abuse.py's full run (its last: 201 s, with a 15 s upstream deadline)


def estimate_s(loads: Sequence[Workload], variants: Sequence[str], s: Settings, abuse: bool) -> float:
    """Seconds the run should take: each cell's warm-up and measurements plus about 3 s of answer
    check and call count, 10 s to start each variant (45 s for Hive Gateway, which composes
    first: about 20 s with the Afosto document, then about 8 s to start), 40 s of seeding and
    the stub's own rate, each soak with its warm-up, and the abuse run."""
    total = 40.0
    for v in variants:
        total += 45.0 if v == "hive" else 10.0
        for w in loads:
            if w.serves(v):
                seconds = s.duration * (2 if w.heavy else 1)
                total += len(s.connections) * (s.warmup + s.repeat * seconds + 3)
    if s.soak:
        total += sum(s.soak + soak_warmup(s) + 15 for v in variants if v in FACADE)
    return total + (ABUSE_ESTIMATE_S if abuse else 0)


def soak_warmup(s: Settings) -> int:
    return min(SOAK_WARMUP_MAX, max(s.warmup, s.soak // 10))


def install_tool(tool: str) -> bool:
    """Installs a missing tool from Debian's packages when this runs as root with apt-get (as on
    a fresh machine of this project): wrk is not on the image. True when `tool` is then on PATH."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    package = {"npm": "npm", "node": "nodejs"}.get(tool, tool)
    print(f"installing {package} (apt-get)", flush=True)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    return shutil.which(tool) is not None


def npm_install(folder: Path) -> None:
    """`npm ci` (the committed package-lock.json: exact versions) unless every dependency of
    `package.json` is installed at its pinned version already."""
    pinned_ = json.loads((folder / "package.json").read_text())["dependencies"]

    def installed(name: str) -> str | None:
        package = folder / "node_modules" / name / "package.json"
        return json.loads(package.read_text()).get("version") if package.is_file() else None

    if any(installed(name) != version for name, version in pinned_.items()):
        print(f"npm ci in {folder.relative_to(ROOT)}", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, check=True, timeout=900)


def run_abuse(tmp: Path, extra: Sequence[str] = ()) -> tuple[str, list[dict[str, Any]]]:
    """bench/abuse.py's run (full unless `extra` says otherwise; its own fresh servers), writing
    into `tmp`: its table and rows."""
    out = tmp / "abuse"
    cmd = [sys.executable, str(BENCH / "abuse.py"), "--label", "bench/run.py", "--out", str(out), *extra]
    subprocess.run(cmd, check=True, timeout=1800)
    (md,) = out.glob("abuse-*.md")
    (data,) = out.glob("abuse-*.json")
    return md.read_text(), json.loads(data.read_text())["rows"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="list-100, fragment-100 and flecs-100 at 32 connections")
    parser.add_argument(
        "--final",
        action="store_true",
        help="the issue's full run: every workload at 32 connections (median of 3 × 4 s), a 600 s soak "
        "in both modes, and the abuse benchmark; about 43 minutes on 2 cores",
    )
    parser.add_argument(
        "--duration", type=int, help="seconds per measurement (10; quick 4; final 4), twice that at 1,000 items"
    )
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each measurement (3; quick 1; final 2)")
    parser.add_argument("--repeat", type=int, help="measurements per cell, the median kept (3; quick 1; final 3)")
    parser.add_argument("--connections", help="comma-separated concurrencies (1,32; quick and final 32)")
    parser.add_argument(
        "--soak", type=int, help="then load list-100 at c=32 this many seconds on each facade, sampling RSS (final 600)"
    )
    parser.add_argument("--abuse", action="store_true", help="then run bench/abuse.py (final: always)")
    parser.add_argument("--abuse-args", default="", help='arguments for bench/abuse.py, e.g. "--quick" for a smoke run')
    parser.add_argument("--variants", help=f"comma-separated subset of the variants ({', '.join(VARIANTS)})")
    parser.add_argument("--workloads", help="comma-separated subset of the workloads (e.g. flecs-100,flow-devices)")
    parser.add_argument("--estimate", action="store_true", help="print the estimated duration and stop")
    args = parser.parse_args(argv)

    for tool in ("wrk", "node", "npm"):
        if shutil.which(tool) is None and not install_tool(tool):
            print(f"bench needs {tool} on PATH (Debian: apt-get install {tool})")
            return 2
    two = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    tmp = Path(tempfile.mkdtemp(prefix="facade-bench-"))
    mode = "final" if args.final else "quick" if args.quick else "full"
    default = FINAL if args.final else {"duration": 4 if args.quick else 10, "warmup": 1 if args.quick else 3}
    conns = [int(c) for c in args.connections.split(",")] if args.connections else None
    s = Settings(
        quick=args.quick,
        duration=args.duration or int(default["duration"]),
        warmup=args.warmup or int(default["warmup"]),
        repeat=max(1, args.repeat or int(default.get("repeat", 1 if args.quick else 3))),
        soak=max(0, args.soak if args.soak is not None else int(default.get("soak", 0))),
        connections=conns or ([32] if args.quick or args.final else [1, 32]),
        wrk_cpu=1 if two else None,
        server_cpu=0 if two else None,
        tmp=tmp,
    )
    abuse = args.abuse or args.final
    loads = workloads(args.quick)
    if args.workloads:
        picked = args.workloads.split(",")
        known = {w.name: w for w in all_workloads()}
        unknown = [n for n in picked if n not in known]
        if unknown:
            print(f"no such workload: {', '.join(unknown)} (known: {', '.join(known)})")
            return 2
        loads = [known[n] for n in dict.fromkeys(picked)]
    wanted = set(args.variants.split(",")) if args.variants else None
    if wanted and wanted - set(VARIANTS):
        print(f"no such variant: {', '.join(sorted(wanted - set(VARIANTS)))} (known: {', '.join(VARIANTS)})")
        return 2
    chosen = [v for v in VARIANTS if not wanted or v in wanted or v == "facade-local"]
    guess = estimate_s(loads, chosen, s, abuse)
    print(
        f"{mode} run: {len(loads)} workloads × {len(chosen)} variants at c={','.join(map(str, s.connections))}; "
        f"estimated {guess / 60:.0f} min (finishing about "
        f"{(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=guess)).strftime('%H:%M')} UTC)",
        flush=True,
    )
    if args.estimate:
        shutil.rmtree(tmp, ignore_errors=True)
        return 0
    started, load_start = time.monotonic(), os.getloadavg()
    ps = Processes(tmp)
    facade = str(VENV_BIN / "facade")
    db = tmp / "bench.db"
    db_url = f"sqlite+aiosqlite:///{db}"
    base_env = {
        "FACADE_JWT_SECRET": SECRET,
        "FACADE_DATABASE_URL": db_url,
        "FACADE_SEED_ON_START": "false",
        # Throughput from one load generator, not a client: the rate limits would refuse most of it.
        "FACADE_RATE_LIMIT_PER_ADDRESS": "1000000000/minute",
        "FACADE_RATE_LIMIT_PER_PRINCIPAL": "1000000000/minute",
        # The list of 1,000 products with 3 reviews each costs 144,002 (3,000 review texts of up to
        # 40 kB: 120 MB at worst), past the default limit of 50 MB; the seeded texts are short.
        "FACADE_MAX_COST": "200000",
    }
    stub_alone: dict[str, dict[str, float]] = {}
    abuse_md, abuse_rows = "", None
    failed: list[str] = []  # what could not be measured, and why
    try:
        if "yoga" in chosen:
            npm_install(BENCH / "yoga")
        if "hive" in chosen:
            npm_install(BENCH / "hive")
        print(f"seeding 1,200 products into {db}")
        subprocess.run(
            [facade, "db", "migrate", "--database-url", db_url], check=True, timeout=120, env={**os.environ, **base_env}
        )
        subprocess.run(
            [facade, "db", "seed", "--products", "1200", "--database-url", db_url],
            check=True,
            timeout=300,
            env={**os.environ, **base_env},
            capture_output=True,
        )
        links = export(db, tmp / "data.json")
        if CATALOG_TENANT in links:
            s.afosto_token = afosto_token(links[CATALOG_TENANT])
        elif any(w.afosto for w in loads):
            print(f"WARNING: {CATALOG_TENANT} has no Afosto tenant in the seeded store: catalog-100 will fail")

        stub_port = free_port()
        stub = f"http://127.0.0.1:{stub_port}"
        stub_cmd = ["node", str(BENCH / "stub" / "stub.js"), str(tmp / "data.json"), str(stub_port), SECRET]
        stub_proc = ps.start("stub", pinned(stub_cmd, s.wrk_cpu))
        wait_ready(stub_proc, stub)
        pages = list(STUB_PAGES)
        if s.afosto_token and any(w.afosto for w in loads):
            pages.append(afosto_stub_page(tmp / "data.json", links[CATALOG_TENANT], s.afosto_token))
        for what, path, headers, *body in pages:
            script = tmp / f"stub-{what}.lua"
            script.write_text(
                wrk_script(body[0], headers)
                if body
                else "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
            )
            stub_alone[what] = parse_wrk(run_wrk(s, stub + path, script, 32, max(2, s.duration // 2)))
            print(f"stub alone ({what} page, c=32, on the wrk core): {stub_alone[what]['rps']:,.0f} req/s")

        def url(port: int) -> str:
            return f"http://127.0.0.1:{port}/graphql"

        def facade_cmd(port: int) -> list[str]:
            return pinned(
                [facade, "serve", "--workers", "1", "--host", "127.0.0.1", "--port", str(port), "--no-seed"],
                s.server_cpu,
            )

        canonical: dict[str, Any] = {}
        variants: list[tuple[str, list[str], dict[str, str], str | None]] = []
        port = free_port()
        # facade-local first: its answers are the ones every other variant must give.
        variants.append(("facade-local", facade_cmd(port), {**base_env, "FACADE_FLECS_URL": "local"}, None))
        # Upstream mode in its fastest configuration: aiohttp (FACADE_UPSTREAM_TRANSPORT; facade's
        # default, faster than httpx in bench/upstream_clients.py), FLECS and Flow Retail at the stub.
        upstream_env = {
            "FACADE_FLECS_URL": stub,
            "FACADE_FLOW_URL": f"{stub}/v2",
            "FACADE_AFOSTO_URL": f"{stub}/afosto",
            "FACADE_UPSTREAM_TRANSPORT": "aiohttp",
        }
        variants.append(("facade-upstream", facade_cmd(port), {**base_env, **upstream_env}, stub))
        variants.append(
            (
                "floor",
                pinned(uvicorn_cmd("refs:floor", port), s.server_cpu),
                {"BENCH_ANSWERS": str(tmp / "answers.json")},
                None,
            )
        )
        variants.append(("hand", pinned(uvicorn_cmd("refs:hand", port), s.server_cpu), {"BENCH_UPSTREAM": stub}, stub))
        yoga_cmd = pinned(["node", str(BENCH / "yoga" / "server.js"), stub, str(port)], s.server_cpu)
        variants.append(("yoga", yoga_cmd, {"NODE_ENV": "production"}, stub))
        variants.append(("hive", hive_cmd(s, stub, port), {"NODE_ENV": "production"}, stub))

        for name, cmd, env, upstream in variants:
            if name not in chosen:
                continue
            print(f"{name}:", flush=True)
            try:
                if name == "hive":
                    compose_supergraph(stub, tmp / "supergraph.graphql")
                with serving(ps, name, cmd, url(port), env) as proc:
                    if name == "facade-local":
                        canonical.update(answers(s, url(port), loads, tmp / "answers.json"))
                        if wanted and name not in wanted:
                            continue
                    measure(s, name, proc, url(port), loads, canonical, upstream)
            except Exception as exc:  # one variant that fails must not lose the others' rows
                if name == "facade-local":
                    raise
                failed.append(f"{name}: {exc!r}"[:500])
                print(f"WARNING: {failed[-1]}", flush=True)

        # The soak restarts each facade, so its memory is list-100's alone, not the table's.
        soaked = next(w for w in workloads(True) if w.name == "list-100")
        for name, cmd, env, _ in variants if s.soak else []:
            if name in FACADE and (not wanted or name in wanted):
                print(f"{name} soak:", flush=True)
                try:
                    with serving(ps, name, cmd, url(port), env) as proc:
                        s.soaks.append(soak(s, name, proc, url(port), soaked))
                except Exception as exc:
                    failed.append(f"{name} soak: {exc!r}"[:500])
                    print(f"WARNING: {failed[-1]}", flush=True)
        ps.stop_all()
        if abuse:
            print("abuse benchmark (bench/abuse.py):", flush=True)
            try:
                abuse_md, abuse_rows = run_abuse(tmp, args.abuse_args.split())
            except Exception as exc:
                failed.append(f"abuse: {exc!r}"[:500])
                print(f"WARNING: {failed[-1]}", flush=True)
    finally:
        ps.stop_all()

    add_ratios(s.results)
    table = render_table(s.results)
    na = render_na(s.results)
    if na:
        table += "\n\nn/a:\n\n" + na
    table += "\n\n" + render_stub(stub_alone, s.results)
    if failed:
        table += "\n\n**Not measured** (the run went on without them):\n\n" + "\n".join(f"- {f}" for f in failed)
    met = targets(s.results, soaks=s.soaks, abuse_rows=abuse_rows)
    if met:
        table += "\n\n## targets (issue 9), from this run's rows at 32 connections\n\n" + render_targets(met)
        table += (
            "\n\nPeers are graphql-yoga and Hive Gateway; the hand-written composition and the floor are references. "
            "A target whose rows the run lacks is left out."
        )
    if s.soaks:
        table += f"\n\n## memory under load: a {s.soak} s soak on a fresh server\n\n" + render_soak(s.soaks)
        table += "\n\n`flat`: the RSS grows less than 5 MB (or 2 %) over the second half, by a least-squares fit."
    if abuse_md:
        table += "\n\n## abuse (bench/abuse.py)\n\n" + abuse_md.split("\n", 1)[1].strip()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    meta = {
        "mode": mode,
        "duration_s": s.duration,
        "warmup_s": s.warmup,
        "repeat": s.repeat,
        "connections": s.connections,
        "soak_s": s.soak,
        "pinned": s.server_cpu is not None,
        "cpus": os.cpu_count(),
        "load_average_start": load_start,
        "load_average": os.getloadavg(),
        "stub_alone_rps": {k: v["rps"] for k, v in stub_alone.items()},
        "stub_alone": stub_alone,
        "python": sys.version.split()[0],
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip(),
        "peers": peer_versions(),
        "commit": subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "estimated_s": round(guess),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    document = {"meta": meta, "rows": s.results, "targets": met, "soak": s.soaks, "abuse": abuse_rows, "failed": failed}
    (out / f"{stamp}.json").write_text(json.dumps(document, indent=2, default=str))
    runs = f"median of {s.repeat} × {s.duration} s runs" if s.repeat > 1 else f"{s.duration} s runs"
    peers = ", ".join(f"{k} {v}" for k, v in meta["peers"].items())
    alone_text = ", ".join(f"{k} {v['rps']:,.0f}" for k, v in stub_alone.items()) or "–"
    header = (
        f"# facade bench {stamp} ({mode}, {runs} (1,000 items: {2 * s.duration} s) after {s.warmup} s warm-up, "
        f"{'facade/refs on CPU 0, stub+wrk on CPU 1' if meta['pinned'] else 'unpinned'}; "
        f"stub alone {alone_text} req/s)\n\n"
        f"Commit `{meta['commit']}`; load average {load_start[0]:.1f} at the start, {meta['load_average'][0]:.1f} at "
        f"the end (1 min, {os.cpu_count()} CPUs); {meta['elapsed_s']:.0f} s "
        f"(estimated {guess:.0f} s). Peers: {peers}.\n\n"
    )
    (out / f"{stamp}.md").write_text(header + table + "\n")
    print()
    print(header + table)
    print(f"\nwritten: {out / stamp}.json and .md ({meta['elapsed_s']} s)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def answers(s: Settings, url: str, loads: Sequence[Workload], out: Path) -> dict[str, Any]:
    """facade-local's answers (the canonical ones), after signing alice in when a workload needs
    her token (`s.token`); written to `out` for the floor (body -> answer)."""
    if any(w.auth for w in loads):
        login = http("POST", url, json.dumps({"query": LOGIN_QUERY}).encode())
        s.token = ((login.get("data") or {}).get("login") or {}).get("token")
        if not s.token:
            print(f"WARNING: login as alice failed: {login}")
    found = {}
    for w in loads:
        found[w.name] = http("POST", url, w.body.encode(), headers=s.headers(w))
        if "errors" in found[w.name]:
            print(f"WARNING: facade-local answers {w.name} with errors: {found[w.name]['errors']}")
    out.write_text(json.dumps({w.body: found[w.name] for w in loads}))
    return found


def hive_cmd(s: Settings, stub: str, port: int) -> list[str]:
    """Hive Gateway 2 on the supergraph `compose_supergraph` wrote, with catalog-100's resolvers
    (`bench/hive/gateway.config.ts`), one process (`--fork 1`, its default), JIT-compiled
    documents (`--jit`: its fastest option, see bench/README.md)."""
    hive = BENCH / "hive"
    gateway = hive / "node_modules" / ".bin" / "hive-gateway"
    supergraph = s.tmp / "supergraph.graphql"
    cmd = ["node", str(gateway), "--config-path", str(hive / "gateway.config.ts"), "supergraph", str(supergraph)]
    return pinned([*cmd, "--host", "127.0.0.1", "--port", str(port), "--fork", "1", "--jit"], s.server_cpu)


def compose_supergraph(stub: str, out: Path) -> None:
    """GraphQL Mesh composes bench/hive's copy of the FLECS OpenAPI document, the Afosto one facade
    builds (`facade afosto openapi`, written beside `out`) and the stub's `/ref` document, each
    with the stub as its endpoint (`bench/hive/mesh.config.ts`)."""
    compose = BENCH / "hive" / "node_modules" / ".bin" / "mesh-compose"
    afosto = out.parent / "afosto.openapi.json"
    subprocess.run(
        [str(VENV_BIN / "facade"), "afosto", "openapi", "--output", str(afosto)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    env = {**os.environ, "FLECS_URL": stub, "AFOSTO_OPENAPI": str(afosto)}
    subprocess.run(
        ["node", str(compose), "-o", str(out)],
        cwd=BENCH / "hive",
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )


def peer_versions() -> dict[str, str]:
    """The installed versions of the Node peers' main packages (from their node_modules)."""
    found: dict[str, str] = {}
    for folder, names in (
        ("yoga", ("graphql-yoga", "undici", "dataloader")),
        ("hive", ("@graphql-hive/gateway", "@graphql-mesh/compose-cli", "@omnigraph/openapi")),
    ):
        for name in names:
            package = BENCH / folder / "node_modules" / name / "package.json"
            if package.is_file():
                found[name] = json.loads(package.read_text())["version"]
    return found


# The stub's own rate is measured on the two pages the workloads fetch most: a FLECS page of 100
# products (list-N, fragment-N, flecs-N) and a Flow page of 50 devices (flow-devices).
STUB_PAGES = (
    ("products", "/api/v2/products?page=1&per_page=100", {}),
    (
        "devices",
        f"/v2/tenants/{FLOW_TENANT}/devices?pageNumber=1&pageSize=50&sortDirection=ASC",
        {"Authorization": "Bearer x"},
    ),
)


def afosto_stub_page(data: Path, afosto_tenant: str, token: str) -> tuple[str, str, dict[str, str], str]:
    """catalog-100's heaviest stub call, measured like the pages above: a price search for 100 of
    the tenant's SKUs in its first price group (POST, with the tenant's Afosto token)."""
    own = json.loads(data.read_text())["afosto"][afosto_tenant]
    group = own["groups"][0]["id"]
    skus = list(dict.fromkeys(p["sku"] for p in own["prices"][group]))[:100]
    body = json.dumps({"constraints": [{"key": "sku", "operator": "in", "values": skus}]}, separators=(",", ":"))
    return ("afosto-prices", f"/afosto/cat/groups/{group}/prices", {"Authorization": f"Bearer {token}"}, body)


def stub_page(workload: str) -> str | None:
    """Which of the stub's measured pages a workload's calls mostly are (None: neither)."""
    if re.fullmatch(r"(?:list|fragment|flecs)-\d+", workload):
        return "products"
    if workload == "catalog-100":
        return "afosto-prices"
    return "devices" if workload == "flow-devices" else None


def render_stub(alone: dict[str, dict[str, float]], rows: Sequence[dict[str, Any]]) -> str:
    """The stub's own rate on each page against the most any variant asked of it there (req/s ×
    calls per query): the headroom, and a WARNING below 2×."""
    if not alone:
        return "stub alone: not measured"
    lines = []
    for what, found in alone.items():
        line = f"**stub alone, {what} page**: {found['rps']:,.0f} req/s at c=32 (p99 {found.get('p99_ms', 0.0):.2f} ms)"
        asked = [
            (r["rps"] * r["upstream_calls"], r)
            for r in rows
            if r.get("rps") and r.get("upstream_calls") and stub_page(r["workload"]) == what
        ]
        if asked:
            most, r = max(asked, key=lambda a: a[0])
            room = found["rps"] / most
            line += (
                f"; the most any variant asked of it: {most:,.0f} calls/s ({r['variant']}, {r['workload']}, "
                f"c={r['connections']}): {room:.1f}× headroom"
                + ("." if room >= 2 else ": **WARNING**, the stub may be what limits that row.")
            )
        lines.append("- " + line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
