"""The Afosto commerce client (`AfostoCommerce`, upstream mode's `CommerceBackend`) against the
sandbox over loopback HTTP, whose Afosto emulation answers the hand-modelled operations from the
seeded store: every method answers what the store holds, in one Afosto call per entity type
(counted in the sandbox's call log), chunked past the batch size; writes are idempotent where
Afosto says so; a token of another tenant, a refused token, a 5xx and a timeout are each the
failed keys' errors. And both setups hold "set through one path, read through the other": the
hand-modelled client, the generated namespace's operation and the local store see one price."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_settings
from facade.auth import TokenService
from facade.backends.compose import compose
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.backends.upstream.afosto.api import AfostoApi
from facade.backends.upstream.afosto.client import ServiceAccount
from facade.backends.upstream.afosto.commerce import AfostoCommerce, _price_of, _stock_of
from facade.backends.upstream.afosto.generated import payloads
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient, UpstreamResponse
from facade.commerce import (
    AfostoTenant,
    ChannelInput,
    LineInput,
    OrderInput,
    OrderStatus,
    PriceGroup,
    PriceInput,
    SalesChannelType,
    StockInput,
)
from facade.errors import Forbidden, Unauthenticated, UpstreamError, UpstreamTimeout
from facade.models import PageArgs
from sandbox.conftest import Sandbox, run_sandbox
from support.sandbox import SandboxControl, afosto_token

OPS = {op.key: op for op in OPERATIONS}
TENANT_CHECK = "GET /afosto/iam/tenants/{id}"


@pytest.fixture(scope="module")
def afosto_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with run_sandbox(tmp_path_factory.mktemp("afosto-commerce"), products=80) as running:
        yield running


@pytest.fixture(scope="module")
async def store(afosto_sandbox: Sandbox) -> AsyncIterator[LocalStore]:
    """The sandbox's own store, opened beside it: what the answers must equal."""
    settings = afosto_sandbox.settings
    opened = await LocalStore.open(settings.database_url, TokenService(settings), migrate=False)
    yield opened
    await opened.aclose()


async def linked_tenants(store: LocalStore) -> list[AfostoTenant]:
    async with store.engine.connect() as conn:
        ids = [row[0] for row in (await conn.execute(sa.text("SELECT id FROM tenants ORDER BY id"))).all()]
    found = await store.links.afosto_tenants(ids)
    return [found[i] for i in ids if i in found]


@pytest.fixture(scope="module")
async def tenants(store: LocalStore) -> list[AfostoTenant]:
    found = await linked_tenants(store)
    assert len(found) >= 2
    return found


def make_api(sandbox: Sandbox, batch_size: int = 100, timeout: float = 10.0) -> AfostoApi:
    client = UpstreamClient(
        "Afosto API", f"{sandbox.url}/afosto", HttpSettings(retries=0, timeout=timeout), policy=AfostoApi.policy
    )
    return AfostoApi(client, batch_size=batch_size)


@pytest.fixture
async def api(afosto_sandbox: Sandbox) -> AsyncIterator[AfostoApi]:
    made = make_api(afosto_sandbox)
    yield made
    await made.aclose()


@pytest.fixture
async def control(afosto_sandbox: Sandbox) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(afosto_sandbox.url) as running:
        yield running


def scope_of(sandbox: Sandbox, tenant: AfostoTenant) -> RequestScope:
    """One request's scope, with an Afosto token of `tenant`."""
    token = afosto_token(sandbox.settings, tenant.afosto_tenant_id)
    return RequestScope({"x-afosto-authorization": f"Bearer {token}"})


def commerce(api: AfostoApi, sandbox: Sandbox, tenant: AfostoTenant) -> AfostoCommerce:
    """The client as one request with `tenant`'s Afosto token uses it."""
    part: AfostoCommerce = api.bind(scope_of(sandbox, tenant)).commerce
    return part


async def skus_of(store: LocalStore, tenant: AfostoTenant) -> list[str]:
    """The SKUs stocked anywhere in the tenant, sorted."""
    locations = (await store.commerce.locations([tenant]))[tenant]
    stock = await store.commerce.stock_by_location(tenant, [loc.id for loc in locations])
    return sorted({level.sku for levels in stock.values() for level in levels})


def ok(answer: Any) -> Any:
    assert not isinstance(answer, Exception), answer
    return answer


# -- reads ----------------------------------------------------------------------------------------


async def test_load_all_lists_are_one_call_per_request_whatever_asks_for_them(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    client = commerce(api, afosto_sandbox, tenant)
    reads = ("channels", "locations", "price_groups", "users", "plans", "print_hubs", "printers")
    for name in reads:
        first = await getattr(client, name)([tenant])
        again = await getattr(client, name)([tenant])  # another field asking in the same request
        local = await getattr(store.commerce, name)([tenant])
        assert sorted(r.id for r in ok(first[tenant])) == sorted(r.id for r in local[tenant]), name
        assert [r.id for r in ok(again[tenant])] == [r.id for r in ok(first[tenant])]
        assert all(r.tenant_id == tenant.tenant_id for r in ok(first[tenant]))

    calls = await control.calls()

    assert calls == {
        TENANT_CHECK: 1,
        "GET /afosto/cat/channels": 1,
        "GET /afosto/wms/locations": 1,
        "GET /afosto/cat/groups": 1,
        "GET /afosto/iam/users": 1,
        "GET /afosto/iam/subscriptions": 1,
        "GET /afosto/spl/hubs": 1,
        "GET /afosto/spl/printers": 1,
    }


async def test_prices_of_many_skus_are_one_search(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    skus = await skus_of(store, tenant)
    groups = (await store.commerce.price_groups([tenant]))[tenant]
    counts = []
    token = scope_of(afosto_sandbox, tenant).headers  # one token (a token minted a second later differs)
    for size in (2, len(skus)):
        client: AfostoCommerce = api.bind(RequestScope(dict(token))).commerce  # a request each
        for group in groups:
            found = await client.prices(tenant, skus[:size], group.id, None)
            local = await store.commerce.prices(tenant, skus[:size], group.id, None)
            assert {k: [(p.id, p.amount, p.currency) for p in ok(v)] for k, v in found.items()} == {
                k: [(p.id, p.amount, p.currency) for p in v] for k, v in local.items()
            }
        counts.append(await control.calls())

    # Per request: the groups (for currency and VAT), one search per group; the tenant check by
    # the first request of the token only (kept for the token's later requests).
    expected = {"GET /afosto/cat/groups": 1, "POST /afosto/cat/groups/{id}/prices": len(groups)}
    assert counts == [{TENANT_CHECK: 1, **expected}, expected]
    assert len(skus) > 2


async def test_a_read_the_request_shares_is_decoded_and_read_once(
    api: AfostoApi,
    afosto_sandbox: Sandbox,
    store: LocalStore,
    tenants: list[AfostoTenant],
    control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tenant check and the price groups are read by every price search and every load-all
    list of a request: sent once (above), and their bodies decoded and read once too, each
    caller answered from the same reading."""
    tenant = tenants[0]
    skus = await skus_of(store, tenant)
    groups = (await store.commerce.price_groups([tenant]))[tenant]
    decoded: list[bytes] = []
    real = UpstreamResponse.json

    def counted(self: UpstreamResponse, api_name: str) -> Any:
        decoded.append(self.content)
        return real(self, api_name)

    monkeypatch.setattr(UpstreamResponse, "json", counted)
    client = commerce(api, afosto_sandbox, tenant)
    first = await client.price_groups([tenant])
    for group in groups:
        ok((await client.prices(tenant, skus, group.id, None))[skus[0]])
    again = await client.price_groups([tenant])
    await client.locations([tenant])

    calls = await control.calls()
    assert sum(calls.values()) == len(decoded)  # one decoding per call made, none per caller
    assert [g.id for g in ok(again[tenant])] == [g.id for g in ok(first[tenant])]
    assert calls[TENANT_CHECK] == 1
    assert calls["GET /afosto/cat/groups"] == 1


async def test_keys_past_the_batch_size_are_chunked(
    afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    skus = (await skus_of(store, tenant))[:7]
    group = (await store.commerce.price_groups([tenant]))[tenant][0]
    small = make_api(afosto_sandbox, batch_size=3)
    try:
        found = await commerce(small, afosto_sandbox, tenant).prices(tenant, skus, group.id, None)
    finally:
        await small.aclose()
    local = await store.commerce.prices(tenant, skus, group.id, None)

    assert {k: [p.amount for p in ok(v)] for k, v in found.items()} == {
        k: [p.amount for p in v] for k, v in local.items()
    }
    assert (await control.calls())["POST /afosto/cat/groups/{id}/prices"] == 3  # 7 SKUs in threes


async def test_stock_by_location_and_by_sku_are_one_search_each(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    client = commerce(api, afosto_sandbox, tenant)
    locations = [loc.id for loc in (await store.commerce.locations([tenant]))[tenant]]
    skus = await skus_of(store, tenant)

    by_location = await client.stock_by_location(tenant, locations)
    by_sku = await client.stock_by_sku(tenant, skus)

    def levels(found: Any) -> dict[str, set[tuple[str, str, int, int]]]:
        return {k: {(s.location_id, s.sku, s.available, s.total) for s in ok(v)} for k, v in found.items()}

    assert levels(by_location) == levels(await store.commerce.stock_by_location(tenant, locations))
    assert levels(by_sku) == levels(await store.commerce.stock_by_sku(tenant, skus))
    assert await control.calls() == {TENANT_CHECK: 1, "POST /afosto/wms/inventory": 2}


async def test_orders_lines_customers_and_addresses_are_one_search_each(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    local_orders = list((await store.commerce.order_page(tenant, None, PageArgs(limit=12))).items)
    ids = [o.id for o in local_orders]
    customers = sorted({o.customer_id for o in local_orders if o.customer_id})
    addresses = sorted({a for o in local_orders for a in (o.shipping_address_id, o.billing_address_id) if a})
    client = commerce(api, afosto_sandbox, tenant)

    orders = await client.orders(tenant, ids)
    lines = await client.order_lines(tenant, ids)
    skus = sorted({line.sku for found in lines.values() for line in ok(found)})
    by_sku = await client.order_lines_by_sku(tenant, skus)
    contacts = await client.customers(tenant, customers)
    places = await client.addresses(tenant, addresses)

    for order in local_orders:
        read = ok(orders[order.id])
        assert (read.number, read.status, read.total, read.currency) == (
            order.number,
            order.status,
            order.total,
            order.currency,
        )
        assert (read.channel_id, read.customer_id, read.shipping_address_id) == (
            order.channel_id,
            order.customer_id,
            order.shipping_address_id,
        )
    local_lines = await store.commerce.order_lines(tenant, ids)
    assert {k: sorted((x.sku, x.quantity) for x in ok(v)) for k, v in lines.items()} == {
        k: sorted((x.sku, x.quantity) for x in v) for k, v in local_lines.items()
    }
    local_by_sku = await store.commerce.order_lines_by_sku(tenant, skus)
    assert {k: sorted((x.order_id, x.quantity) for x in ok(v)) for k, v in by_sku.items()} == {
        k: sorted((x.order_id, x.quantity) for x in v) for k, v in local_by_sku.items()
    }
    local_customers = await store.commerce.customers(tenant, customers)
    assert {k: ok(v).email for k, v in contacts.items()} == {k: v.email for k, v in local_customers.items()}
    local_places = await store.commerce.addresses(tenant, addresses)
    assert {k: (ok(v).postal_code, ok(v).locality) for k, v in places.items()} == {
        k: (v.postal_code, v.locality) for k, v in local_places.items()
    }
    assert len(customers) > 1
    assert len(addresses) > 1
    assert await control.calls() == {
        TENANT_CHECK: 1,
        "POST /afosto/odr/search/orders": 1,
        "POST /afosto/odr/search/orders/items": 2,  # by order ids, then by SKUs
        "POST /afosto/rel/contacts": 1,
        "POST /afosto/rel/search/address": 1,
    }


async def test_a_page_of_orders_is_afostos_page_of_that_size(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    client = commerce(api, afosto_sandbox, tenant)
    local = await store.commerce.order_page(tenant, None, PageArgs(limit=3, offset=3))

    page = await client.order_page(tenant, None, PageArgs(limit=3, offset=3))
    aligned_calls = (await control.calls())["GET /afosto/odr/orders"]
    shifted = await client.order_page(tenant, None, PageArgs(limit=3, offset=4))
    numbered = await client.order_page(tenant, local.items[0].number, PageArgs(limit=3))

    assert [o.id for o in page.items] == [o.id for o in local.items]
    assert page.total > 6  # Afosto names a next page: there is one
    assert aligned_calls == 1
    local_shifted = await store.commerce.order_page(tenant, None, PageArgs(limit=3, offset=4))
    assert [o.id for o in shifted.items] == [o.id for o in local_shifted.items]
    assert [o.id for o in numbered.items] == [local.items[0].id]
    assert numbered.total == 1


async def test_hub_status_is_one_call_per_hub(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    hubs = [h.id for h in (await store.commerce.print_hubs([tenant]))[tenant]]

    found = await commerce(api, afosto_sandbox, tenant).hub_status(tenant, hubs)

    assert {k: ok(v) for k, v in found.items()} == await store.commerce.hub_status(tenant, hubs)
    assert len(hubs) > 1
    assert await control.calls() == {TENANT_CHECK: 1, "GET /afosto/spl/hubs/{id}/status": len(hubs)}


# -- writes ---------------------------------------------------------------------------------------


async def generated_prices(api: AfostoApi, scope: RequestScope, group_id: str, skus: Sequence[str]) -> dict[str, int]:
    """The prices the generated namespace's operation reads (`POST /cat/groups/{id}/prices`)."""
    body = {"constraints": [{"key": "sku", "operator": "in", "values": list(skus)}]}
    answer = await api.bind(scope).afosto.call(OPS["POST /cat/groups/{id}/prices"], {"id": group_id}, body)
    return {p.sku: p.amount for p in answer.value if isinstance(p, payloads.CatPrice) and p.active_at is None}


async def test_a_price_set_through_the_client_is_read_through_the_generated_operation_and_back(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant]
) -> None:
    tenant = tenants[1]
    sku = (await skus_of(store, tenant))[0]
    group = (await store.commerce.price_groups([tenant]))[tenant][0]

    set_here = await commerce(api, afosto_sandbox, tenant).upsert_prices(tenant, group.id, [PriceInput(sku, 12_345)])
    read_there = await generated_prices(api, scope_of(afosto_sandbox, tenant), group.id, [sku])
    await api.bind(scope_of(afosto_sandbox, tenant)).afosto.call(
        OPS["PUT /cat/groups/{id}/prices"], {"id": group.id}, [{"sku": sku, "amount": 6_789}]
    )
    read_here = await commerce(api, afosto_sandbox, tenant).prices(tenant, [sku], group.id, None)
    local = await store.commerce.prices(tenant, [sku], group.id, None)

    assert [(p.sku, p.amount, p.currency) for p in set_here] == [(sku, 12_345, group.currency)]
    assert read_there == {sku: 12_345}
    assert [p.amount for p in ok(read_here[sku]) if p.active_at is None] == [6_789]
    assert [p.amount for p in local[sku] if p.active_at is None] == [6_789]


async def test_set_stock_answers_the_new_levels_and_reads_back(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant]
) -> None:
    tenant = tenants[1]
    location = (await store.commerce.locations([tenant]))[tenant][0].id
    sku = (await skus_of(store, tenant))[1]
    client = commerce(api, afosto_sandbox, tenant)

    levels = await client.set_stock(tenant, location, [StockInput(sku, 77)])
    read = await commerce(api, afosto_sandbox, tenant).stock_by_sku(tenant, [sku])

    assert [(s.location_id, s.sku, s.available) for s in levels] == [(location, sku, 77)]
    assert (location, 77) in {(s.location_id, s.available) for s in ok(read[sku])}


async def test_a_created_channel_is_updated_and_listed(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant]
) -> None:
    tenant = tenants[1]
    client = commerce(api, afosto_sandbox, tenant)

    made = await client.create_channel(tenant, ChannelInput("Pop-up", SalesChannelType.POS, "summer"))
    changed = await client.update_channel(tenant, made.id, ChannelInput(name="Pop-up Utrecht"))
    listed = await commerce(api, afosto_sandbox, tenant).channels([tenant])

    assert (made.name, made.type, made.description) == ("Pop-up", SalesChannelType.POS, "summer")
    assert (changed.id, changed.name, changed.type) == (made.id, "Pop-up Utrecht", SalesChannelType.POS)
    assert ("Pop-up Utrecht", SalesChannelType.POS) in {(c.name, c.type) for c in ok(listed[tenant])}
    assert made.id in {c.id for c in (await store.commerce.channels([tenant]))[tenant]}


async def test_create_order_twice_with_one_key_is_one_order(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[1]
    channel = (await store.commerce.channels([tenant]))[tenant][0].id
    skus = await skus_of(store, tenant)
    order = OrderInput(channel_id=channel, lines=(LineInput(skus[0], 2, "first"), LineInput(skus[1], 1)))

    first = await commerce(api, afosto_sandbox, tenant).create_order(tenant, order, "order-key-1")
    again = await commerce(api, afosto_sandbox, tenant).create_order(tenant, order, "order-key-1")
    other = await commerce(api, afosto_sandbox, tenant).create_order(tenant, order, "order-key-2")
    added = await commerce(api, afosto_sandbox, tenant).add_order_lines(tenant, first.id, [LineInput(skus[0], 3)])
    lines = await store.commerce.order_lines(tenant, [first.id])

    assert again.id == first.id
    assert other.id != first.id
    assert (first.status, first.channel_id) == (OrderStatus.OPEN, channel)
    assert added.id == first.id
    assert sorted((line.sku, line.quantity) for line in lines[first.id]) == [(skus[0], 5), (skus[1], 1)]
    calls = await control.calls()
    assert calls["POST /afosto/odr/orders"] == 3
    assert calls["POST /afosto/odr/orders/{id}/items"] == 4  # lines of each create, then the added


async def test_cancel_order_answers_its_task_and_the_task_polls(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant]
) -> None:
    tenant = tenants[1]
    channel = (await store.commerce.channels([tenant]))[tenant][0].id
    client = commerce(api, afosto_sandbox, tenant)
    order = await client.create_order(tenant, OrderInput(channel_id=channel), "order-to-cancel")

    task = await client.cancel_order(tenant, order.id)
    polled = await commerce(api, afosto_sandbox, tenant).tasks(tenant, [task.id])
    read = await commerce(api, afosto_sandbox, tenant).orders(tenant, [order.id])

    assert ok(polled[task.id]).id == task.id
    assert task.progress == ok(polled[task.id]).progress
    assert ok(read[order.id]).status is OrderStatus.CANCELED


# -- refusals -------------------------------------------------------------------------------------


async def test_a_token_of_another_tenant_is_forbidden_for_that_tenants_data(
    api: AfostoApi, afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant]
) -> None:
    mine, theirs = tenants[0], tenants[1]
    client = commerce(api, afosto_sandbox, mine)
    sku = (await skus_of(store, theirs))[0]
    group = (await store.commerce.price_groups([theirs]))[theirs][0]

    lists = await client.channels([mine, theirs])
    prices = await client.prices(theirs, [sku], group.id, None)

    assert isinstance(ok(lists[mine]), list)
    assert isinstance(lists[theirs], Forbidden)
    assert isinstance(prices[sku], Forbidden)
    with pytest.raises(Forbidden):
        await client.upsert_prices(theirs, group.id, [PriceInput(sku, 1)])


async def test_a_refused_afosto_token_is_unauthenticated(
    api: AfostoApi, afosto_sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    tenant = tenants[0]
    no_token = api.bind(RequestScope({"authorization": "Bearer facade-token"})).commerce

    found = await no_token.channels([tenant])

    assert isinstance(found[tenant], Unauthenticated)


async def test_a_5xx_or_a_timeout_fails_the_keys_of_that_call(
    afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    skus = await skus_of(store, tenant)
    locations = [loc.id for loc in (await store.commerce.locations([tenant]))[tenant]]
    hurried = make_api(afosto_sandbox, timeout=0.3)
    try:
        await control.faults("POST /afosto/wms/inventory=status:503x1")
        failed = await commerce(hurried, afosto_sandbox, tenant).stock_by_sku(tenant, skus[:3])
        await control.faults("POST /afosto/wms/inventory=latency:3000x1")
        slow = await commerce(hurried, afosto_sandbox, tenant).stock_by_location(tenant, locations)
        await control.faults()
        fine = await commerce(hurried, afosto_sandbox, tenant).stock_by_sku(tenant, skus[:3])
    finally:
        await hurried.aclose()

    assert all(isinstance(failed[s], UpstreamError) and failed[s].code == "UPSTREAM_ERROR" for s in skus[:3])
    assert all(isinstance(slow[loc], UpstreamTimeout) for loc in locations)
    assert all(isinstance(fine[s], list) for s in skus[:3])


# -- local mode: the emulation reads the store the graph reads -------------------------------------


async def test_in_local_mode_a_price_set_in_the_store_is_read_through_the_generated_namespace_and_back(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    local = await LocalStore.open(settings.database_url, TokenService(settings))
    try:
        await seed(local.engine, products=8)
        # The emulation's default Afosto tenant (any token) is the first seeded one.
        tenant = (await linked_tenants(local))[0]
        sku = (await skus_of(local, tenant))[0]
        group = (await local.commerce.price_groups([tenant]))[tenant][0]
        scope = RequestScope({"x-afosto-authorization": "Bearer any-token"})
        generated = local.afosto_api.bind(scope).afosto

        await local.commerce.upsert_prices(tenant, group.id, [PriceInput(sku, 4_321)])
        body = {"constraints": [{"key": "sku", "operator": "in", "values": [sku]}]}
        read = await generated.call(OPS["POST /cat/groups/{id}/prices"], {"id": group.id}, body)
        await generated.call(OPS["PUT /cat/groups/{id}/prices"], {"id": group.id}, [{"sku": sku, "amount": 1_234}])
        back = await local.commerce.prices(tenant, [sku], group.id, None)
    finally:
        await local.aclose()

    assert [p.amount for p in read.value if p.active_at is None] == [4_321]
    assert [p.amount for p in back[sku] if p.active_at is None] == [1_234]


# -- composed --------------------------------------------------------------------------------------


async def test_upstream_mode_routes_commerce_to_afosto_chunked_at_the_setting_and_keeps_links_local(
    afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant], control: SandboxControl
) -> None:
    tenant = tenants[0]
    skus = (await skus_of(store, tenant))[:5]
    group = (await store.commerce.price_groups([tenant]))[tenant][0]
    url = f"{afosto_sandbox.url}/afosto"
    upstream = compose(afosto_sandbox.settings.model_copy(update={"afosto_url": url, "afosto_batch_size": 2}), store)
    local = compose(afosto_sandbox.settings.model_copy(update={"flecs_url": "http://127.0.0.1:9"}), store)
    token = afosto_token(afosto_sandbox.settings, tenant.afosto_tenant_id)
    try:
        request = upstream.bind({"X-Afosto-Authorization": f"Bearer {token}"})
        channels = await request.commerce.channels([tenant])
        prices = await request.commerce.prices(tenant, skus, group.id, None)
        linked = await request.links.afosto_tenants([tenant.tenant_id])
        calls = await control.calls()
        in_local_mode = local.bind({}).commerce
    finally:
        for composed in (upstream, local):
            for client in composed.upstreams.values():  # not the store: the module's
                await client.aclose()

    assert {c.id for c in ok(channels[tenant])} == {c.id for c in (await store.commerce.channels([tenant]))[tenant]}
    assert set(prices) == set(skus)
    assert linked == {tenant.tenant_id: tenant}
    assert calls["GET /afosto/cat/channels"] == 1
    assert calls["POST /afosto/cat/groups/{id}/prices"] == 3  # 5 SKUs in chunks of 2
    assert in_local_mode is store.commerce  # FACADE_AFOSTO_URL=local: the store's own tables


async def test_a_caller_without_an_afosto_token_is_served_by_the_service_account_of_its_tenant(
    afosto_sandbox: Sandbox, store: LocalStore, tenants: list[AfostoTenant]
) -> None:
    tenant = tenants[1]
    seeded = afosto_sandbox.seeded.afosto_clients[tenant.afosto_tenant_id]
    account = ServiceAccount(seeded.client_id, seeded.client_secret)
    api = AfostoApi(make_api(afosto_sandbox).upstream, account)
    try:
        served = await api.bind(RequestScope()).commerce.price_groups([tenant, tenants[0]])
    finally:
        await api.aclose()

    local = (await store.commerce.price_groups([tenant]))[tenant]
    assert sorted(g.id for g in ok(served[tenant])) == sorted(g.id for g in local)
    assert isinstance(served[tenants[0]], Forbidden)  # the account is one tenant's


def test_prices_and_stock_levels_are_read_from_the_body_by_their_fields_alone() -> None:
    tenant = AfostoTenant("acme-retail", "afosto-tenant")
    group = PriceGroup(
        tenant_id="acme-retail",
        id="g1",
        name="retail",
        currency="EUR",
        is_including_vat=True,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    price = _price_of(
        tenant,
        {"id": "p1", "sku": "SKU-1", "amount": "1250", "vat": [None, {"rate": 9}], "created_at": "garbage"},
        "g1",
        group,
    )
    assert price is not None
    assert (price.amount, price.currency, price.vat_rate, price.price_group_id) == (1250, "EUR", "9.00", "g1")
    assert _price_of(tenant, {"id": "p2", "amount": 5}, "g1", group) is None  # no SKU: no price

    level = _stock_of(tenant, {"location_id": "l1", "sku": "SKU-1", "available": 3, "reserved": "2", "lot_number": {}})
    assert level is not None
    assert (level.available, level.reserved, level.claimed, level.total) == (3, 2, 0, 5)  # no total: the sum
    assert level.tenant_id == "acme-retail"
    assert _stock_of(tenant, {"sku": "SKU-1", "available": 3}) is None  # no location: no level
    for malformed in ({"location_id": "l1", "sku": "SKU-1", "available": "three"}, "a level"):
        with pytest.raises(UpstreamError):
            _stock_of(tenant, malformed)
    with pytest.raises(UpstreamError):
        _price_of(tenant, {"id": "p1", "sku": "SKU-1", "vat": {"rate": 9}}, "g1", group)


def test_a_kept_tenant_check_ends_with_its_token_or_its_time_and_the_oldest_goes_first() -> None:
    from facade.backends.upstream.afosto.commerce import TenantChecks
    from facade.sandbox.afosto_store import issue_token

    token = issue_token("s" * 32, "a1", ttl=100)  # a JWT: kept until its `exp` at the latest
    now = [float(int(time.time()))]  # the second issue_token read (or the one after)
    checks = TenantChecks(size=2, seconds=300, clock=lambda: now[0])
    key = TenantChecks.key(f"Bearer {token}", "a1")
    assert key != TenantChecks.key(f"Bearer {token}", "a2")
    assert token not in key

    checks.keep(key, f"Bearer {token}")
    assert checks.passed(key)
    now[0] += 101
    assert not checks.passed(key)  # the token has expired

    opaque = TenantChecks.key("Bearer opaque", "a1")  # no `exp` to read: kept `seconds`
    checks.keep(opaque, "Bearer opaque")
    now[0] += 299
    assert checks.passed(opaque)
    now[0] += 2
    assert not checks.passed(opaque)

    for name in ("x", "y", "z"):  # at most `size`, the least recently passed dropped first
        checks.keep(TenantChecks.key(name, "a1"), name)
    assert len(checks) == 2
    assert not checks.passed(TenantChecks.key("x", "a1"))
    assert checks.passed(TenantChecks.key("z", "a1"))
