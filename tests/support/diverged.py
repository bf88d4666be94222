"""facade in upstream mode over a sandbox whose data differs from facade's local store, so a read
answered by the wrong one shows as a wrong answer.

Two SQLite stores are seeded alike (same seed, so the same ids, uids, logins, codes and keys: what
the directory merge and the local-store rows join on), then the sandbox's is rewritten by
`diverge` so that every value a read returns and no join needs differs: names, descriptions,
prices, stock, addresses, review texts, billing names, line quantities, device names and system
information, manifests, creation times, the whitelabel flag, which apps are official, and one
licence's validity; and Afosto's commerce data, which the sandbox's Afosto answers from its store:
channel, location, price group, printer, hub, customer, address, user and plan names and texts,
amounts in minor units, stock and order quantities, print hub statuses, task progress, and times.
Both first give each Flow Retail device a FLECS model (`_join`), which Flow does not carry, so the
part of a device the directory supplies shows too, and acme-retail's Afosto tenant one task
(`TASK`, `_task`; the seed writes none). `Diverged` then holds three apps, each a client as a
frontend would use it:

    upstream  facade in upstream mode: FLECS Console, Flow Retail and Afosto at the sandbox
              (which serves the diverged store over loopback HTTP), the local store under it
    sandbox   facade in local mode over the sandbox's (diverged) store: what the APIs hold
    local     facade in local mode over the local store: what the local store holds

A read routed to an API must answer what `sandbox` answers, one answered by the local store what
`local` answers (tests/backends/test_routing_data.py).

Left equal on purpose: ids, uids, logins, e-mail addresses, passwords, user and device codes,
serial numbers, licence keys and sessions, app ids and versions (what requests and joins name);
workflow states (device status and app type, product, subscription and review status), ratings
and the vendor flag (what the flows and the permissions act on); on the Afosto side, Afosto ids,
the join keys (tenant links, store channels and locations, product SKUs, device hubs), SKUs, order
numbers, currencies, channel types, order statuses and user roles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import Api, make_settings
from facade.app import create_app
from facade.auth import TokenService
from facade.backends.compose import ComposedBackend, compose
from facade.backends.local import LocalStore
from facade.backends.local import tables as t
from facade.backends.local.seed import SeedSummary, seed
from facade.settings import Settings
from support.sandbox import RunningSandbox, start_sandbox

MARK = " ~sandbox"
DAY = dt.timedelta(days=1)


def _marked(value: Any) -> Any:
    return None if value is None else f"{value}{MARK}"


def _later(value: Any) -> Any:
    return None if value is None else value + DAY


def _price(value: str) -> str:
    return f"{Decimal(value) + 1000:.2f}"


def _more(value: int) -> int:
    return value + 10


def _more_minor(value: int | None) -> int | None:
    return None if value is None else value + 100_000


def _stock(value: str) -> str:
    return "outofstock" if value == "instock" else "instock"


def _categories(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "name": _marked(c.get("name"))} for c in value]


def _billing(value: dict[str, Any]) -> dict[str, Any]:
    return {**value, "first_name": _marked(value.get("first_name")), "company": _marked(value.get("company"))}


def _official_meta(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flip = {"yes": "no", "no": "yes"}
    return [{**m, "value": flip[m["value"]]} if m.get("name") == "official" else m for m in value]


def _manifest(value: dict[str, Any]) -> dict[str, Any]:
    # Still a valid manifest of its schema version: only the environment's values change.
    env = value.get("env")
    if isinstance(env, list):
        value = {**value, "env": [str(e).replace("info", "debug") for e in env]}
    return value


# Per table: the columns rewritten, each by a function of its old value. Rows are keyed by the
# table's primary key.
CHANGES: dict[Table, dict[str, Callable[[Any], Any]]] = {
    t.tenants: {"name": _marked, "created_at": _later},
    t.users: {
        "display_name": _marked,
        "first_name": _marked,
        "last_name": _marked,
        "is_whitelabeled": lambda v: not v,
        "created_at": _later,
    },
    t.stores: {
        "name": _marked,
        "shop_name": _marked,
        "url": lambda v: f"{v}/sandbox",
        "street_1": _marked,
        "city": _marked,
        "state": _marked,
        "created_at": _later,
    },
    t.tills: {"name": _marked},
    t.products: {
        "name": _marked,
        "description": _marked,
        "short_description": _marked,
        "permalink": lambda v: f"{v}sandbox/",
        "price": _price,
        "stock_status": _stock,
        "categories": _categories,
        "created_at": _later,
    },
    t.reviews: {"reviewer": _marked, "review": _marked, "created_at": _later},
    t.subscriptions: {"billing": _billing, "created_at": _later},
    t.line_items: {"quantity": lambda v: v + 10},
    t.devices: {
        "name": lambda v: f"unnamed{MARK}" if v is None else _marked(v),
        "system_information": _marked,
        "model": _marked,
        "manufacturer_name": _marked,
        "created_at": _later,
        "last_modified_at": _later,
    },
    t.licenses: {"created_at": _later},
    t.app_manifests: {"manifest": _manifest},
    # Afosto's commerce data (the sandbox's Afosto answers from these tables): keyed by the same
    # Afosto ids, SKUs, e-mail addresses, order numbers and types as the local store's.
    t.afosto_channels: {"name": _marked, "description": _marked, "created_at": _later},
    t.afosto_price_groups: {"name": _marked},
    t.afosto_prices: {"amount": _more_minor, "original_amount": _more_minor, "created_at": _later},
    t.afosto_addresses: {
        "administrative_area": _marked,
        "locality": _marked,
        "postal_code": _marked,
        "address_line_1": _marked,
        "organisation": _marked,
        "given_name": _marked,
        "family_name": _marked,
    },
    t.afosto_locations: {"name": _marked, "created_at": _later},
    t.afosto_stock: {"available": _more, "reserved": _more, "transit": _more, "backordered": _more},
    t.afosto_customers: {"given_name": _marked, "family_name": _marked, "created_at": _later},
    t.afosto_orders: {"total": _more_minor, "created_at": _later, "canceled_at": _later},
    t.afosto_order_lines: {"description": _marked, "quantity": _more},
    t.afosto_print_hubs: {
        "name": _marked,
        "description": _marked,
        "status": lambda v: "offline" if v == "online" else "online",
        "status_updated_at": _later,
        "created_at": _later,
    },
    t.afosto_printers: {"name": _marked, "default_encoding": _marked, "created_at": _later},
    t.afosto_users: {"first_name": _marked, "last_name": _marked, "created_at": _later},
    t.afosto_plans: {"code": _marked, "start_at": _later, "end_at": _later},
    t.afosto_tasks: {"name": _marked, "result": _marked, "progress": lambda v: 100 - v, "started_at": _later},
}


async def diverge(engine: AsyncEngine) -> dict[str, Any]:
    """Rewrites a seeded store as the sandbox's (see CHANGES); returns what the tests start from:
    `expired_session`, the session of the licence that is valid in the local store only."""
    async with engine.begin() as conn:
        for table, changes in CHANGES.items():
            # One UPDATE per table, run for all its rows at once (bound per row by key).
            keys = list(table.primary_key.columns)
            columns = [table.c[name] for name in changes]
            rows = (await conn.execute(select(*keys, *columns))).all()
            if not rows:
                continue
            where = [key == bindparam(f"key_{key.name}") for key in keys]
            statement = update(table).where(*where).values({name: bindparam(f"new_{name}") for name in changes})
            await conn.execute(
                statement,
                [
                    {f"key_{key.name}": getattr(row, key.name) for key in keys}
                    | {f"new_{name}": fn(getattr(row, name)) for name, fn in changes.items()}
                    for row in rows
                ],
            )
        # Apps: the official ones are unofficial at the sandbox and the other way round (the
        # column and the meta data the FLECS answer carries it in).
        official = select(t.products.c.id, t.products.c.is_official, t.products.c.meta_data).where(t.products.c.is_app)
        for app in (await conn.execute(official)).all():
            await conn.execute(
                update(t.products)
                .where(t.products.c.id == app.id)
                .values(is_official=not app.is_official, meta_data=_official_meta(app.meta_data))
            )
        # One activated licence has expired at the sandbox.
        licence = (
            await conn.execute(
                select(t.licenses.c.id, t.licenses.c.session_id)
                .where(t.licenses.c.session_id.is_not(None))
                .order_by(t.licenses.c.id)
                .limit(1)
            )
        ).one()
        past = dt.datetime.now(dt.UTC) - DAY
        await conn.execute(update(t.licenses).where(t.licenses.c.id == licence.id).values(valid_until=past))
    return {"expired_session": licence.session_id}


async def _join(engine: AsyncEngine) -> None:
    # The seed's Flow Retail devices carry nothing only the directory knows; give them a FLECS
    # model (in both stores, before `diverge`), so the directory's part of a device shows.
    async with engine.begin() as conn:
        await conn.execute(update(t.devices).where(t.devices.c.tenant_id.is_not(None)).values(model="TP-1"))


# An Afosto task of acme-retail's Afosto tenant in both stores (the seed writes none: tasks are
# what writes answer), so a task read has a record to tell the stores apart by.
TASK = "routed-task-0001"


async def _task(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        links = t.afosto_tenant_links.c
        owner = (
            await conn.execute(select(links.afosto_tenant_id).where(links.tenant_id == "acme-retail"))
        ).scalar_one()
        started = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
        await conn.execute(
            insert(t.afosto_tasks).values(
                id=TASK,
                afosto_tenant_id=owner,
                name="Import stock",
                progress=40,
                result="3 of 7 rows",
                started_at=started,
                completed_at=None,
            )
        )


@dataclass
class Diverged:
    upstream: Api
    sandbox: Api
    local: Api
    backend: ComposedBackend
    sandbox_store: LocalStore
    local_store: LocalStore
    sandbox_url: str
    seeded: SeedSummary
    expired_session: str
    running: RunningSandbox

    async def aclose(self) -> None:
        for api in (self.upstream, self.sandbox, self.local):
            await api.client.aclose()
        await self.backend.aclose()  # the API clients and the local store
        await self.sandbox_store.aclose()
        self.running.stop()


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")


async def open_diverged(tmp: Path, products: int = 40) -> Diverged:
    """The three apps over two stores seeded alike, the sandbox's then diverged (module docstring).
    SQLite files under `tmp`; the sandbox runs on a loopback port until `aclose()`."""
    local_settings = make_settings(tmp)
    sandbox_settings: Settings = make_settings(tmp, database_url=f"sqlite+aiosqlite:///{tmp / 'sandbox.db'}")
    local_store = await LocalStore.open(local_settings.database_url, TokenService(local_settings))
    sandbox_store = await LocalStore.open(sandbox_settings.database_url, TokenService(sandbox_settings))
    seeded = await seed(local_store.engine, products=products)
    await seed(sandbox_store.engine, products=products)
    for store in (local_store, sandbox_store):
        await _join(store.engine)
        await _task(store.engine)
    handles = await diverge(sandbox_store.engine)
    running = start_sandbox(sandbox_settings)
    upstream_settings = local_settings.model_copy(
        update={"flecs_url": running.url, "flow_url": running.url + "/v2", "afosto_url": running.url + "/afosto"}
    )
    backend = compose(upstream_settings, local_store)
    assert isinstance(backend, ComposedBackend)
    return Diverged(
        upstream=Api(_client(create_app(upstream_settings, backend=backend)), backend, upstream_settings),  # type: ignore[arg-type]
        sandbox=Api(_client(create_app(sandbox_settings, backend=sandbox_store)), sandbox_store, sandbox_settings),
        local=Api(_client(create_app(local_settings, backend=local_store)), local_store, local_settings),
        backend=backend,
        sandbox_store=sandbox_store,
        local_store=local_store,
        sandbox_url=running.url,
        seeded=seeded,
        expired_session=handles["expired_session"],
        running=running,
    )
