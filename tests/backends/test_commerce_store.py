"""The local store's Afosto data and join keys (issue 11), on a real SQLite file and a real
PostgreSQL database (skipped with the reason where FACADE_TEST_POSTGRES_URL names none): the seed
links every store and product to Afosto, each read is one SQL statement whatever the batch, and
the writes keep their promises (an idempotency key makes one order, even when two creates race).

One seeded store per database serves the module; writing tests touch only what they make."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import StatementCounter, postgres_database
from facade.auth import TokenService
from facade.backends.local import LocalStore, create_engine
from facade.backends.local import tables as t
from facade.backends.local.base import engines
from facade.backends.local.commerce import DIGEST_LENGTH, KEY_LENGTH
from facade.backends.local.migrate import migrate
from facade.backends.local.seed import SeedSummary, sandbox_client_secret, seed
from facade.commerce import (
    IDEMPOTENCY_KEY_LENGTH,
    AfostoTenant,
    ChannelInput,
    LineInput,
    OrderInput,
    OrderStatus,
    PriceInput,
    SalesChannelType,
    StockInput,
)
from facade.errors import BadUserInput, Conflict, NotFound
from facade.models import PageArgs
from facade.settings import Settings

SEED_PRODUCTS = 120
TENANT = "acme-retail"
# The seed's orders go round the three tenants, numbered from 100001 in each.
SEEDED_ORDERS = SEED_PRODUCTS // 2 // 3


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LocalStore, SeedSummary]]:
    tmp = tmp_path_factory.mktemp("commerce")
    if request.param == "postgres":
        url = await postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'store.db'}"
    settings = Settings(
        jwt_secret="test-secret-not-for-production-0123456789abcdef",
        jwt_secret_file=tmp / "secret",
        database_url=url,
    )
    store = await LocalStore.open(url, TokenService(settings))
    summary = await seed(store.engine, products=SEED_PRODUCTS)
    yield store, summary
    await store.aclose()


@pytest.fixture(scope="module")
def store(seeded: tuple[LocalStore, SeedSummary]) -> LocalStore:
    return seeded[0]


@pytest.fixture(scope="module")
def summary(seeded: tuple[LocalStore, SeedSummary]) -> SeedSummary:
    return seeded[1]


@pytest.fixture(scope="module")
async def acme(store: LocalStore) -> AfostoTenant:
    return (await store.links.afosto_tenants([TENANT]))[TENANT]


@pytest.fixture
def statements(store: LocalStore) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    for each in engines(store.engine):
        event.listen(each, "before_cursor_execute", counter)
    yield counter
    for each in engines(store.engine):
        event.remove(each, "before_cursor_execute", counter)


async def rows(engine: AsyncEngine, table: t.Table, *where: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(select(table).where(*where))).mappings()]


async def count(engine: AsyncEngine, table: t.Table, *where: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def group_named(store: LocalStore, tenant: AfostoTenant, name: str) -> str:
    return next(g.id for g in (await store.commerce.price_groups([tenant]))[tenant] if g.name == name)


# ---------------------------------------------------------------------------------------------
# Seed


async def test_every_tenant_is_linked_with_its_sandbox_client(store: LocalStore, summary: SeedSummary) -> None:
    links = await store.links.afosto_tenants(["acme-retail", "nordic-bakeries", "flecs-industrial", "nobody"])

    assert {tenant: link.afosto_tenant_id for tenant, link in links.items()} == summary.afosto_tenants
    assert len(set(summary.afosto_tenants.values())) == 3
    for tenant, afosto_tenant_id in summary.afosto_tenants.items():
        client = summary.afosto_clients[afosto_tenant_id]
        assert client.client_id == f"afosto-{tenant}"
        assert client.client_secret == sandbox_client_secret(client.client_id)
        assert client.client_secret.startswith("sandbox-")


async def test_every_store_has_channels_and_a_location_and_every_product_a_priced_stocked_sku(
    store: LocalStore, summary: SeedSummary
) -> None:
    engine = store.engine
    stores = await rows(engine, t.stores)
    products = await rows(engine, t.products)
    links = await store.links.afosto_tenants(list(summary.afosto_tenants))
    channels = await store.links.channels_by_store([s["id"] for s in stores])
    locations = await store.links.location_by_store([s["id"] for s in stores])
    skus = await store.links.sku_by_product([p["id"] for p in products])

    for each in stores:
        tenant = links[each["tenant_id"]]
        kinds = {c.id: c.type for c in (await store.commerce.channels([tenant]))[tenant]}
        # Its own POS channel and the tenant's storefront, both Afosto channels of the tenant.
        assert sorted(kinds[c].value for c in channels[each["id"]]) == ["pos", "storefront"]
        assert locations[each["id"]] in {loc.id for loc in (await store.commerce.locations([tenant]))[tenant]}

    assert set(skus) == {p["id"] for p in products}
    assert skus[1] == "SKU-000001"
    store_of = {s["id"]: s for s in stores}
    for tenant_id, tenant in links.items():
        mine = [p for p in products if store_of[p["store_id"]]["tenant_id"] == tenant_id]
        tenant_skus = [skus[p["id"]] for p in mine]
        groups = (await store.commerce.price_groups([tenant]))[tenant]
        assert [(g.name, g.is_including_vat) for g in groups] == [("retail", True), ("wholesale", False)]
        for group in groups:
            prices = await store.commerce.prices(tenant, tenant_skus, group.id, None)
            assert all(len(prices[sku]) == 1 for sku in tenant_skus), group.name
        retail = await store.commerce.prices(tenant, tenant_skus, groups[0].id, None)
        for product in mine:  # the retail price is the product's catalogue price, in cents
            assert retail[skus[product["id"]]][0].amount == round(float(product["price"]) * 100)
        stock = await store.commerce.stock_by_sku(tenant, tenant_skus)
        for product in mine:
            assert locations[product["store_id"]] in {level.location_id for level in stock[skus[product["id"]]]}


async def test_orders_spread_over_channels_and_customers_with_the_tenants_skus(
    store: LocalStore, summary: SeedSummary
) -> None:
    links = await store.links.afosto_tenants(list(summary.afosto_tenants))
    skus = set((await store.links.sku_by_product(list(range(1, SEED_PRODUCTS + 1)))).values())
    for tenant in links.values():
        page = await store.commerce.order_page(tenant, None, PageArgs(limit=1000))
        seeded = [o for o in page.items if int(o.number) <= 100000 + SEEDED_ORDERS]
        assert len(seeded) == SEEDED_ORDERS
        assert len({o.channel_id for o in seeded}) > 1
        assert len({o.customer_id for o in seeded}) > 1
        channel_ids = {c.id for c in (await store.commerce.channels([tenant]))[tenant]}
        assert {o.channel_id for o in seeded} <= channel_ids
        customers = await store.commerce.customers(tenant, [o.customer_id for o in seeded if o.customer_id])
        addresses = await store.commerce.addresses(
            tenant, [o.shipping_address_id for o in seeded if o.shipping_address_id]
        )
        assert len(customers) == len({o.customer_id for o in seeded})
        assert len(addresses) == len({o.shipping_address_id for o in seeded})
        lines = await store.commerce.order_lines(tenant, [o.id for o in seeded])
        for order in seeded:
            assert 1 <= len(lines[order.id]) <= 4
            assert {line.sku for line in lines[order.id]} <= skus
            assert (order.status is OrderStatus.CANCELED) == (order.canceled_at is not None)


async def test_print_hubs_users_and_plans(store: LocalStore, acme: AfostoTenant) -> None:
    hubs = (await store.commerce.print_hubs([acme]))[acme]
    printers = (await store.commerce.printers([acme]))[acme]
    stores = [s for s in await rows(store.engine, t.stores) if s["tenant_id"] == TENANT]

    assert len(hubs) == len(stores)
    per_hub = Counter(p.hub_id for p in printers)
    assert set(per_hub) == {h.id for h in hubs}
    assert set(per_hub.values()) <= {1, 2}
    devices = await store.links.devices_by_hub([(TENANT, h.id) for h in hubs])
    assert len(devices) == len(hubs)
    assert await store.links.hub_by_device(list(devices.values())) == {d: h for (_, h), d in devices.items()}
    statuses = await store.commerce.hub_status(acme, [h.id for h in hubs])
    assert statuses == {h.id: h.status for h in hubs}

    users = (await store.commerce.users([acme]))[acme]
    assert {u.email for u in users} >= {"alice@acme-retail.example", "bob@acme-retail.example"}
    assert [u.email for u in users if u.is_primary] == ["alice@acme-retail.example"]
    assert len((await store.commerce.plans([acme]))[acme]) == 1


async def test_seed_counts_scale_with_products_and_are_reproducible(tmp_path: Path) -> None:
    summaries = []
    for name, products in (("small.db", 40), ("large.db", 120), ("again.db", 120)):
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / name}")
        try:
            await migrate(engine)
            summaries.append(await seed(engine, products=products))
            assert await count(engine, t.afosto_orders) == summaries[-1].counts["afosto_orders"]
        finally:
            await engine.dispose()
    small, large, again = summaries

    for table, share in (("product_skus", 1), ("afosto_customers", 4), ("afosto_orders", 2)):
        assert (small.counts[table], large.counts[table]) == (40 // share, 120 // share), table
    assert small.counts["afosto_prices"] == 80
    assert large.counts["afosto_prices"] == 240
    assert large.counts["afosto_order_lines"] > 2 * small.counts["afosto_order_lines"]
    assert large.counts["afosto_locations"] == large.counts["stores"] == 6
    assert large.afosto_tenants == again.afosto_tenants
    assert large.counts == again.counts


# ---------------------------------------------------------------------------------------------
# Reads: one statement per call, whatever the batch


async def test_every_read_is_one_statement(store: LocalStore, acme: AfostoTenant, statements: StatementCounter) -> None:
    commerce, links = store.commerce, store.links
    tenants = list((await links.afosto_tenants(["acme-retail", "nordic-bakeries", "flecs-industrial"])).values())
    orders = (await commerce.order_page(acme, None, PageArgs(limit=50))).items
    skus = list((await links.sku_by_product(list(range(1, SEED_PRODUCTS + 1)))).values())
    retail = await group_named(store, acme, "retail")
    locations = (await commerce.locations([acme]))[acme]
    hubs = (await commerce.print_hubs([acme]))[acme]
    channels = (await commerce.channels([acme]))[acme]
    reads = {
        "channels": lambda: commerce.channels(tenants),
        "locations": lambda: commerce.locations(tenants),
        "price_groups": lambda: commerce.price_groups(tenants),
        "users": lambda: commerce.users(tenants),
        "plans": lambda: commerce.plans(tenants),
        "print_hubs": lambda: commerce.print_hubs(tenants),
        "printers": lambda: commerce.printers(tenants),
        "prices": lambda: commerce.prices(acme, skus, retail, None),
        "prices at": lambda: commerce.prices(acme, skus, retail, dt.datetime(2026, 6, 1, tzinfo=dt.UTC)),
        "stock_by_location": lambda: commerce.stock_by_location(acme, [loc.id for loc in locations]),
        "stock_by_sku": lambda: commerce.stock_by_sku(acme, skus),
        "orders": lambda: commerce.orders(acme, [o.id for o in orders]),
        "order_page": lambda: commerce.order_page(acme, None, PageArgs(limit=10)),
        "order_page by number": lambda: commerce.order_page(acme, orders[0].number, PageArgs(limit=10)),
        "order_lines": lambda: commerce.order_lines(acme, [o.id for o in orders]),
        "order_lines_by_sku": lambda: commerce.order_lines_by_sku(acme, skus),
        "customers": lambda: commerce.customers(acme, [o.customer_id for o in orders if o.customer_id]),
        "addresses": lambda: commerce.addresses(acme, [o.billing_address_id for o in orders if o.billing_address_id]),
        "hub_status": lambda: commerce.hub_status(acme, [h.id for h in hubs]),
        "tasks": lambda: commerce.tasks(acme, ["no-such-task"]),
        "afosto_tenants": lambda: links.afosto_tenants(["acme-retail", "nordic-bakeries"]),
        "channels_by_store": lambda: links.channels_by_store(list(range(1, 4))),
        "stores_by_channel": lambda: links.stores_by_channel([(TENANT, c.id) for c in channels]),
        "location_by_store": lambda: links.location_by_store(list(range(1, 4))),
        "stores_by_location": lambda: links.stores_by_location([(TENANT, loc.id) for loc in locations]),
        "sku_by_product": lambda: links.sku_by_product(list(range(1, SEED_PRODUCTS + 1))),
        "products_by_sku": lambda: links.products_by_sku([(TENANT, sku) for sku in skus]),
        "hub_by_device": lambda: links.hub_by_device(["a", "b"]),
        "devices_by_hub": lambda: links.devices_by_hub([(TENANT, h.id) for h in hubs]),
    }
    for name, read in reads.items():
        statements.statements.clear()
        answer = await read()
        assert len(statements.statements) == 1, (name, statements.statements)
        assert answer is not None


async def test_batch_reads_answer_each_key_of_their_own_tenant_only(store: LocalStore, acme: AfostoTenant) -> None:
    nordic = (await store.links.afosto_tenants(["nordic-bakeries"]))["nordic-bakeries"]
    acme_orders = (await store.commerce.order_page(acme, None, PageArgs(limit=5))).items
    ids = [o.id for o in acme_orders]

    assert set(await store.commerce.orders(acme, [*ids, "unknown"])) == set(ids)
    assert await store.commerce.orders(nordic, ids) == {}  # another tenant's ids are not its
    assert all(o.tenant_id == TENANT for o in (await store.commerce.orders(acme, ids)).values())
    by_number = await store.commerce.order_page(acme, acme_orders[0].number, PageArgs(limit=10))
    assert [o.id for o in by_number.items] == [ids[0]]
    assert by_number.total == 1
    assert (await store.commerce.stock_by_sku(acme, ["NO-SUCH-SKU"])) == {"NO-SUCH-SKU": []}
    # The storefront serves every store of the tenant: it has no one store to answer.
    storefront = next(c for c in (await store.commerce.channels([acme]))[acme] if c.type is SalesChannelType.STOREFRONT)
    assert await store.links.stores_by_channel([(TENANT, storefront.id)]) == {}
    assert await store.links.stores_by_channel([("nordic-bakeries", storefront.id)]) == {}


# ---------------------------------------------------------------------------------------------
# Writes


async def test_prices_upsert_by_group_sku_and_activation(store: LocalStore, acme: AfostoTenant) -> None:
    wholesale = await group_named(store, acme, "wholesale")
    sku = f"TEST-{uuid.uuid4().hex[:8]}"
    later = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)

    first = await store.commerce.upsert_prices(acme, wholesale, [PriceInput(sku, 1000)])
    again = await store.commerce.upsert_prices(
        acme, wholesale, [PriceInput(sku, 900, original_amount=1000), PriceInput(sku, 800, active_at=later)]
    )

    assert again[0].id == first[0].id
    assert again[0].amount == 900
    assert again[0].original_amount == 1000
    assert again[1].id != first[0].id
    assert again[1].active_at == later
    assert (again[0].currency, again[0].is_including_vat) == ("EUR", False)
    prices = await store.commerce.prices(acme, [sku], wholesale, None)
    assert [(p.amount, p.active_at) for p in prices[sku]] == [(900, None), (800, later)]
    now = await store.commerce.prices(acme, [sku], wholesale, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    then = await store.commerce.prices(acme, [sku], wholesale, later + dt.timedelta(days=1))
    assert [p.amount for p in now[sku]] == [900]
    assert [p.amount for p in then[sku]] == [800]

    with pytest.raises(NotFound):
        await store.commerce.upsert_prices(acme, "no-such-group", [PriceInput(sku, 1)])
    nordic = (await store.links.afosto_tenants(["nordic-bakeries"]))["nordic-bakeries"]
    with pytest.raises(NotFound):  # another tenant's group
        await store.commerce.upsert_prices(nordic, wholesale, [PriceInput(sku, 1)])
    with pytest.raises(BadUserInput):
        await store.commerce.upsert_prices(acme, wholesale, [PriceInput(sku, -1)])


async def test_set_stock_sets_available_and_keeps_the_other_counts(store: LocalStore, acme: AfostoTenant) -> None:
    location = (await store.links.location_by_store([1]))[1]
    level = (await store.commerce.stock_by_location(acme, [location]))[location][0]
    new_sku = f"TEST-{uuid.uuid4().hex[:8]}"

    levels = await store.commerce.set_stock(acme, location, [StockInput(level.sku, 77), StockInput(new_sku, 5)])

    assert [(x.sku, x.available, x.reserved) for x in levels] == [(level.sku, 77, level.reserved), (new_sku, 5, 0)]
    assert levels[0].total == level.total - level.available + 77
    assert (await store.commerce.stock_by_sku(acme, [new_sku]))[new_sku] == [levels[1]]
    with pytest.raises(NotFound):
        await store.commerce.set_stock(acme, "no-such-location", [StockInput(new_sku, 1)])
    with pytest.raises(BadUserInput):
        await store.commerce.set_stock(acme, location, [StockInput(new_sku, -1)])


async def test_channels_are_created_and_updated(store: LocalStore, acme: AfostoTenant) -> None:
    made = await store.commerce.create_channel(acme, ChannelInput("Pop-up", SalesChannelType.POS, "summer"))
    changed = await store.commerce.update_channel(acme, made.id, ChannelInput(name="Pop-up Utrecht"))

    assert (changed.name, changed.type, changed.description) == ("Pop-up Utrecht", SalesChannelType.POS, "summer")
    assert changed in (await store.commerce.channels([acme]))[acme]
    with pytest.raises(NotFound):
        await store.commerce.update_channel(acme, "no-such-channel", ChannelInput(name="x"))
    with pytest.raises(BadUserInput):
        await store.commerce.update_channel(acme, made.id, ChannelInput(name="  "))
    with pytest.raises(BadUserInput):
        await store.commerce.create_channel(acme, ChannelInput(name="No type"))


async def test_an_idempotency_key_makes_one_order(store: LocalStore, acme: AfostoTenant) -> None:
    channel = (await store.links.channels_by_store([1]))[1][0]
    skus = await store.links.sku_by_product([1, 4])
    retail = await group_named(store, acme, "retail")
    unit = {
        sku: ps[0].amount for sku, ps in (await store.commerce.prices(acme, list(skus.values()), retail, None)).items()
    }
    key = f"key-{uuid.uuid4()}"
    lines = (LineInput(skus[1], 1, "first"), LineInput(skus[4], 2), LineInput(skus[1], 2))
    before = await count(store.engine, t.afosto_orders)

    order = await store.commerce.create_order(acme, OrderInput(channel, lines=lines), key)
    repeated = await store.commerce.create_order(acme, OrderInput(channel, lines=lines), key)
    # The key with another input is refused: it answers no order, and writes none. Without lines
    # it is Afosto's POST /odr/orders, which takes none: the same channel answers the order.
    others = await store.links.channels_by_store([3])
    for other in (OrderInput(channel, lines=lines[:2]), OrderInput(others[3][0], lines=())):
        with pytest.raises(Conflict):
            await store.commerce.create_order(acme, other, key)
    assert (await store.commerce.create_order(acme, OrderInput(channel, lines=()), key)) == order

    assert repeated == order
    assert order.status is OrderStatus.OPEN
    assert await count(store.engine, t.afosto_orders) == before + 1
    assert order.total == 3 * unit[skus[1]] + 2 * unit[skus[4]]
    got = (await store.commerce.order_lines(acme, [order.id]))[order.id]
    assert sorted((line.sku, line.quantity) for line in got) == sorted([(skus[1], 3), (skus[4], 2)])
    # Another tenant's same key is its own order.
    nordic = (await store.links.afosto_tenants(["nordic-bakeries"]))["nordic-bakeries"]
    nordic_channel = (await store.links.channels_by_store([2]))[2][0]
    assert (await store.commerce.create_order(nordic, OrderInput(nordic_channel), key)).id != order.id


async def test_concurrent_creates_with_one_key_make_one_order(store: LocalStore, acme: AfostoTenant) -> None:
    channel = (await store.links.channels_by_store([1]))[1][0]
    key = f"race-{uuid.uuid4()}"

    orders = await asyncio.gather(
        *(
            store.commerce.create_order(acme, OrderInput(channel, lines=(LineInput("SKU-000001", 1),)), key)
            for _ in range(6)
        )
    )

    assert len({o.id for o in orders}) == 1
    assert await count(store.engine, t.afosto_orders, t.afosto_orders.c.idempotency_key == key) == 1


async def test_concurrent_creates_with_distinct_keys_get_distinct_numbers(
    store: LocalStore, acme: AfostoTenant
) -> None:
    channel = (await store.links.channels_by_store([1]))[1][0]

    orders = await asyncio.gather(
        *(store.commerce.create_order(acme, OrderInput(channel), f"many-{uuid.uuid4()}") for _ in range(4))
    )

    assert len({o.id for o in orders}) == len({o.number for o in orders}) == 4


async def test_order_writes_refuse_what_is_not_the_tenants(store: LocalStore, acme: AfostoTenant) -> None:
    channel = (await store.links.channels_by_store([1]))[1][0]
    nordic_channel = (await store.links.channels_by_store([2]))[2][0]

    with pytest.raises(NotFound):
        await store.commerce.create_order(acme, OrderInput(nordic_channel), f"k-{uuid.uuid4()}")
    with pytest.raises(NotFound):
        await store.commerce.create_order(acme, OrderInput(channel, customer_id="nobody"), f"k-{uuid.uuid4()}")
    with pytest.raises(BadUserInput):
        await store.commerce.create_order(acme, OrderInput(channel, lines=(LineInput("SKU-000001", 0),)), "k")
    with pytest.raises(BadUserInput):
        await store.commerce.create_order(acme, OrderInput(channel), " ")
    with pytest.raises(NotFound):
        await store.commerce.add_order_lines(acme, "no-such-order", [LineInput("SKU-000001", 1)])
    with pytest.raises(NotFound):
        await store.commerce.cancel_order(acme, "no-such-order")


async def test_lines_merge_and_cancel_makes_a_completed_task(store: LocalStore, acme: AfostoTenant) -> None:
    channel = (await store.links.channels_by_store([1]))[1][0]
    order = await store.commerce.create_order(
        acme, OrderInput(channel, lines=(LineInput("SKU-000001", 1),)), f"k-{uuid.uuid4()}"
    )

    grown = await store.commerce.add_order_lines(
        acme, order.id, [LineInput("SKU-000001", 2), LineInput("SKU-000004", 1)]
    )
    task = await store.commerce.cancel_order(acme, order.id)

    lines = (await store.commerce.order_lines(acme, [order.id]))[order.id]
    assert sorted((line.sku, line.quantity) for line in lines) == [("SKU-000001", 3), ("SKU-000004", 1)]
    assert grown.total > order.total
    assert (task.progress, task.completed_at is not None) == (100, True)
    assert (await store.commerce.tasks(acme, [task.id])) == {task.id: task}
    canceled = (await store.commerce.orders(acme, [order.id]))[order.id]
    assert canceled.status is OrderStatus.CANCELED
    assert canceled.canceled_at is not None
    with pytest.raises(Conflict):
        await store.commerce.add_order_lines(acme, order.id, [LineInput("SKU-000001", 1)])


async def test_concurrent_upserts_of_one_new_price_make_one_row(store: LocalStore, acme: AfostoTenant) -> None:
    retail = await group_named(store, acme, "retail")
    sku = f"RACE-{uuid.uuid4().hex[:8]}"

    answers = await asyncio.gather(
        *(store.commerce.upsert_prices(acme, retail, [PriceInput(sku, 100 + n)]) for n in range(6))
    )

    stored = await rows(store.engine, t.afosto_prices, t.afosto_prices.c.sku == sku)
    assert len(stored) == 1
    assert {answer[0].id for answer in answers} == {stored[0]["id"]}
    assert stored[0]["amount"] in {answer[0].amount for answer in answers}


async def test_concurrent_stock_sets_of_a_new_sku_all_succeed_and_the_last_wins(
    store: LocalStore, acme: AfostoTenant
) -> None:
    location = (await store.links.location_by_store([1]))[1]
    sku = f"RACE-{uuid.uuid4().hex[:8]}"

    answers = await asyncio.gather(
        *(store.commerce.set_stock(acme, location, [StockInput(sku, n)]) for n in range(1, 7))
    )

    stored = await rows(store.engine, t.afosto_stock, t.afosto_stock.c.sku == sku)
    assert len(stored) == 1
    # Each set answers the level as it left it; the one that wrote last is what stays.
    assert sorted(answer[0].available for answer in answers) == [1, 2, 3, 4, 5, 6]
    assert stored[0]["available"] in range(1, 7)


async def test_concurrent_line_additions_add_up(store: LocalStore, acme: AfostoTenant) -> None:
    channel = (await store.links.channels_by_store([1]))[1][0]
    sku = (await store.links.sku_by_product([1]))[1]
    retail = await group_named(store, acme, "retail")
    unit = (await store.commerce.prices(acme, [sku], retail, None))[sku][0].amount
    order = await store.commerce.create_order(acme, OrderInput(channel), f"k-{uuid.uuid4()}")

    grown = await asyncio.gather(
        *(store.commerce.add_order_lines(acme, order.id, [LineInput(sku, 1)]) for _ in range(6))
    )

    lines = (await store.commerce.order_lines(acme, [order.id]))[order.id]
    assert [(line.sku, line.quantity) for line in lines] == [(sku, 6)]
    # Each addition saw the ones before it: the running totals of one to six units.
    assert sorted(o.total for o in grown) == [unit * n for n in range(1, 7)]


# ---------------------------------------------------------------------------------------------
# Join keys


async def a_tenant_of_its_own(engine: AsyncEngine) -> dict[str, Any]:
    """A new tenant with one store, product and device, copied from the seed's first ones."""
    tag = uuid.uuid4().hex[:8]
    async with engine.begin() as conn:
        store = dict((await conn.execute(select(t.stores).where(t.stores.c.id == 1))).mappings().one())
        product = dict((await conn.execute(select(t.products).where(t.products.c.id == 2))).mappings().one())
        device = dict((await conn.execute(select(t.devices).where(t.devices.c.store_id == 1))).mappings().first() or {})
        store_id = (await conn.execute(select(func.max(t.stores.c.id)))).scalar_one() + 1
        product_id = (await conn.execute(select(func.max(t.products.c.id)))).scalar_one() + 1
        tenant = f"links-{tag}"
        await conn.execute(t.tenants.insert().values(id=tenant, name=tenant, created_at=dt.datetime.now(dt.UTC)))
        await conn.execute(
            t.stores.insert().values({**store, "id": store_id, "uid": f"links-{tag}", "tenant_id": tenant})
        )
        await conn.execute(
            t.products.insert().values({**product, "id": product_id, "store_id": store_id, "app_id": None})
        )
        device.update(id=f"dev-{tag}", tenant_id=tenant, store_id=store_id, till_id=None, device_code=None)
        await conn.execute(t.devices.insert().values(device))
    return {"tenant": tenant, "store": store_id, "product": product_id, "device": device["id"]}


async def test_links_are_set_and_removed(store: LocalStore) -> None:
    links = store.links
    mine = await a_tenant_of_its_own(store.engine)
    tenant, store_id, product_id, device_id = mine["tenant"], mine["store"], mine["product"], mine["device"]

    assert await links.afosto_tenants([tenant]) == {}  # not linked: the graph answers null
    assert await links.link_tenant(tenant, f"afosto-{tenant}") == AfostoTenant(tenant, f"afosto-{tenant}")
    assert await links.link_store_channel(store_id, "ch-b", True) == ["ch-b"]
    assert await links.link_store_channel(store_id, "ch-a", True) == ["ch-a", "ch-b"]
    assert await links.link_store_channel(store_id, "ch-a", True) == ["ch-a", "ch-b"]  # idempotent
    assert await links.set_store_location(store_id, "loc-1") == "loc-1"
    assert await links.set_product_sku(product_id, "MINE-1") == "MINE-1"
    assert await links.link_device_hub(device_id, "hub-1") == "hub-1"

    assert await links.stores_by_channel([(tenant, "ch-a")]) == {(tenant, "ch-a"): store_id}
    assert await links.stores_by_location([(tenant, "loc-1")]) == {(tenant, "loc-1"): store_id}
    assert await links.products_by_sku([(tenant, "MINE-1"), (TENANT, "MINE-1")]) == {(tenant, "MINE-1"): product_id}
    assert await links.devices_by_hub([(tenant, "hub-1")]) == {(tenant, "hub-1"): device_id}

    assert await links.link_tenant(tenant, None) is None
    assert await links.link_store_channel(store_id, "ch-a", False) == ["ch-b"]
    assert await links.set_store_location(store_id, None) is None
    assert await links.set_product_sku(product_id, None) is None
    assert await links.link_device_hub(device_id, None) is None

    assert await links.afosto_tenants([tenant]) == {}
    assert await links.stores_by_channel([(tenant, "ch-a")]) == {}
    assert await links.location_by_store([store_id]) == {}
    assert await links.sku_by_product([product_id]) == {}
    assert await links.hub_by_device([device_id]) == {}


async def test_links_refuse_unknown_records_and_taken_keys(store: LocalStore, summary: SeedSummary) -> None:
    links = store.links
    mine = await a_tenant_of_its_own(store.engine)

    with pytest.raises(NotFound):
        await links.link_tenant("no-such-tenant", "x")
    with pytest.raises(NotFound):
        await links.link_store_channel(10**6, "x", True)
    with pytest.raises(NotFound):
        await links.set_store_location(10**6, "x")
    with pytest.raises(NotFound):
        await links.set_product_sku(10**6, "x")
    with pytest.raises(NotFound):
        await links.link_device_hub("no-such-device", "x")
    with pytest.raises(BadUserInput):
        await links.set_product_sku(mine["product"], " ")

    with pytest.raises(Conflict):  # acme's Afosto tenant is acme's
        await links.link_tenant(mine["tenant"], summary.afosto_tenants[TENANT])
    await links.set_product_sku(mine["product"], "TAKEN")
    other = await a_tenant_of_its_own(store.engine)
    await links.set_product_sku(other["product"], "TAKEN")  # another tenant may use the same SKU
    async with store.engine.begin() as conn:  # a second product in the first tenant's store
        row = dict((await conn.execute(select(t.products).where(t.products.c.id == mine["product"]))).mappings().one())
        second = (await conn.execute(select(func.max(t.products.c.id)))).scalar_one() + 1
        await conn.execute(t.products.insert().values({**row, "id": second}))
    with pytest.raises(Conflict):
        await links.set_product_sku(second, "TAKEN")
    assert await links.sku_by_product([mine["product"], second]) == {mine["product"]: "TAKEN"}


async def test_an_orders_key_is_kept_up_to_the_one_limit_and_refused_beyond_it(
    store: LocalStore, acme: AfostoTenant
) -> None:
    """Local mode's store (and so the sandbox's Afosto) kept 167 characters of an order's key, a
    bound of revision 0003's downgrade, not the 128 or 200 facade's roads took. It keeps the one
    limit they share, which still fits that downgrade, and writes nothing for a longer key."""
    assert KEY_LENGTH == IDEMPOTENCY_KEY_LENGTH <= 200 - 1 - DIGEST_LENGTH
    channel = (await store.links.channels_by_store([1]))[1][0]
    longest = f"key-{uuid.uuid4()}".ljust(IDEMPOTENCY_KEY_LENGTH, "k")
    longer = longest + "k"
    before = await count(store.engine, t.afosto_orders)

    with pytest.raises(BadUserInput) as refused:
        await store.commerce.create_order(acme, OrderInput(channel), longer)
    assert refused.value.extensions["field"] == "idempotencyKey"
    assert await count(store.engine, t.afosto_orders) == before
    order = await store.commerce.create_order(acme, OrderInput(channel), longest)

    # The order's own key names the lines it was created with: an addition takes another.
    longest = f"add-{uuid.uuid4()}".ljust(IDEMPOTENCY_KEY_LENGTH, "a")
    with pytest.raises(BadUserInput) as refused:
        await store.commerce.add_order_lines(acme, order.id, [LineInput("SKU-000001", 1)], longest + "a")
    assert refused.value.extensions["field"] == "idempotencyKey"
    assert (await store.commerce.order_lines(acme, [order.id])).get(order.id, []) == []
    await store.commerce.add_order_lines(acme, order.id, [LineInput("SKU-000001", 1)], longest)
    assert await count(store.engine, t.afosto_order_line_keys, t.afosto_order_line_keys.c.order_id == order.id) == 1
