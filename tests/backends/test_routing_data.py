"""Each interface method answers from where the routing table (`routes.ROUTES`) says.

facade runs in upstream mode over a sandbox whose data differs from facade's local store in every
value a read returns (`support.diverged`), so a read answered by the wrong one is a wrong answer.
The cases are derived from ROUTES and the Backend interface: one per routed method (the API
answers) and one per method left to the local store (the local store answers). A method without a
recipe below fails its case, so a new route, or a new interface method, cannot go untested.

A read's recipe is a GraphQL query (`Probe`) sent to facade in upstream mode, to facade in local
mode over the sandbox's store and to facade in local mode over the local store: the two local-mode
answers must differ (the query reads diverged data), and the upstream-mode answer must be the
sandbox's for a routed method, the local store's for the others. The call is also seen where it
should land: the sandbox counts one of the route's contract operations, or a spy on the local
store's method counts a call. A write's recipe sends the mutation in upstream mode and reads back
in both stores: the write is in the sandbox's and not in the local store's. Where a row joins both
(a Flow Retail device's serial number, which Flow does not carry, comes from the local store's
directory), its probe says which part each answers.

Afosto's commerce data (`commerce`, routed) is acme-retail's, read by alice, its admin, with a
token of its Afosto tenant; a commerce read must be counted at its own Afosto operation, not only
at the once-per-request tenant check every commerce route names. The join keys (`links`, the local
store's in both modes) are the same in both stores, so a links probe tells the stores apart by the
facade records it reaches through them (their names), and the spy says where it landed; their
writes land in the local store and not in the sandbox's, and are undone after.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import Api
from facade.auth import TokenKind, TokenService
from facade.backends import routes
from facade.backends.local import tables as t
from facade.backends.routes import AFOSTO, FLOW, ROUTES, Route
from facade.graph.nodes import encode
from support.diverged import TASK, Diverged, open_diverged
from support.sandbox import SandboxControl, afosto_token

TENANT = "acme-retail"
AMSTERDAM = "acme-amsterdam-0001"
SANDBOX, LOCAL = "sandbox", "local"
# Afosto's once-per-request check of the caller's Afosto tenant, which every commerce route
# names: a commerce read must be seen at its own operation, not only at this one.
TENANT_CHECK = "GET /afosto/iam/tenants/{id}"


def methods() -> list[tuple[str, str]]:
    """Every method of the Backend interface: routed ones first, in ROUTES' order, then the rest."""
    routed = [(r.domain, r.method) for r in ROUTES]
    rest = [
        (domain, method)
        for domain, interface in routes.domains().items()
        for method in routes.operations_of(interface)
        if (domain, method) not in routed
    ]
    return routed + rest


ROUTE_OF: dict[tuple[str, str], Route] = {(r.domain, r.method): r for r in ROUTES}


# ---------------------------------------------------------------------------------------------
# The world the recipes run in


@dataclass
class World:
    d: Diverged
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    # X-Afosto-Authorization, sent with every request: a token of acme-retail's Afosto tenant.
    afosto: dict[str, str] = field(default_factory=dict)

    def api(self, which: str) -> Api:
        return {"upstream": self.d.upstream, SANDBOX: self.d.sandbox, LOCAL: self.d.local}[which]

    async def send(self, which: str, query: str, variables: dict[str, Any] | None, caller: str | None) -> Any:
        token = self.tokens[caller] if caller else None
        return await self.api(which).post(query, variables, token=token, headers=self.afosto)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    d = await open_diverged(Path(tmp_path_factory.mktemp("diverged")))
    w = World(d)
    for user in ("alice", "bob", "dave"):
        w.tokens[user] = await d.local.login(user)
    async with d.local_store.engine.connect() as conn:
        devices = t.devices.c
        active = (
            select(devices.id)
            .where(devices.tenant_id == TENANT, devices.status == "ACTIVE", devices.till_id.is_not(None))
            .order_by(devices.id)
        )
        w.ids["device"] = (await conn.execute(active.limit(1))).scalar_one()
        others = select(devices.id).where(devices.tenant_id == TENANT, devices.id != w.ids["device"])
        w.ids["doomed_device"] = (await conn.execute(others.order_by(devices.id.desc()).limit(1))).scalar_one()
        w.ids["bob"] = (await conn.execute(select(t.users.c.id).where(t.users.c.login == "bob"))).scalar_one()
        reviewed = select(t.reviews.c.id, t.reviews.c.product_id, t.reviews.c.user_id).order_by(t.reviews.c.id).limit(1)
        review, product, reviewer = (await conn.execute(reviewed)).one()
        w.ids["reviewed_product"] = str(product)
        w.ids["review"] = encode("Review", review)
        reviewer_login = (await conn.execute(select(t.users.c.login).where(t.users.c.id == reviewer))).scalar_one()
        manifest = select(t.app_manifests.c.app, t.app_manifests.c.version, t.app_manifests.c.product_id)
        w.ids["app"], w.ids["version"], app_product = (await conn.execute(manifest.limit(1))).one()
        w.ids["app_product"] = str(app_product)
        sessions = select(t.licenses.c.session_id).where(
            t.licenses.c.session_id.is_not(None), t.licenses.c.session_id != d.expired_session
        )
        w.ids["session"] = (await conn.execute(sessions.limit(1))).scalar_one()
        w.ids["subscription"] = (await conn.execute(select(t.subscriptions.c.id).limit(1))).scalar_one()
        w.ids["license"] = (await conn.execute(select(t.licenses.c.id).limit(1))).scalar_one()
    await _commerce_ids(w)
    w.tokens["reviewer"] = await d.local.login(reviewer_login)
    w.ids["expired_session"] = d.expired_session
    w.ids["alice_token"] = w.tokens["alice"]
    issue = TokenService(d.local.settings).issue
    w.tokens["device"] = issue(TokenKind.DEVICE, tenant_id=TENANT, device_id=w.ids["device"]).token
    w.tokens["access"] = issue(
        TokenKind.ACCESS, user_id=w.ids["bob"], tenant_id=TENANT, device_id=w.ids["device"]
    ).token
    yield w
    await d.aclose()


def commerce_id(type_name: str, source_id: str) -> str:
    """The global id of acme-retail's Afosto record `source_id` of `type_name`."""
    return base64.b64encode(f"{type_name}:{TENANT}:{source_id}".encode()).decode()


async def _commerce_ids(w: World) -> None:
    """acme-retail's Afosto records the recipes name (the same ids in both stores)."""
    links = t.afosto_tenant_links.c
    async with w.d.local_store.engine.connect() as conn:
        afosto = (await conn.execute(select(links.afosto_tenant_id).where(links.tenant_id == TENANT))).scalar_one()
        store = (await conn.execute(select(t.stores.c.id).where(t.stores.c.uid == AMSTERDAM))).scalar_one()
        location = (
            await conn.execute(
                select(t.store_stock_locations.c.location_id).where(t.store_stock_locations.c.store_id == store)
            )
        ).scalar_one()
        skus, lines = t.product_skus.c, t.afosto_order_lines.c
        # A product of acme-retail's whose SKU has prices, stock and order lines; another to write.
        ordered = (
            select(skus.product_id, skus.sku)
            .join(t.afosto_order_lines, (lines.sku == skus.sku) & (lines.afosto_tenant_id == afosto))
            .where(skus.tenant_id == TENANT)
            .order_by(skus.product_id)
        )
        product, w.ids["sku"] = (await conn.execute(ordered.limit(1))).one()
        w.ids["product"] = str(product)
        others = select(skus.product_id, skus.sku).where(skus.tenant_id == TENANT, skus.product_id != product)
        (w.ids["product_2"], w.ids["sku_2"]), (w.ids["product_3"], w.ids["sku_3"]) = (
            await conn.execute(others.order_by(skus.product_id).limit(2))
        ).all()
        orders = t.afosto_orders.c
        mine = select(orders.id).where(orders.afosto_tenant_id == afosto).order_by(orders.number)
        # One order the reads probe, two others the writes change.
        read = (await conn.execute(mine.limit(1))).scalar_one()
        written = mine.where(orders.status != "canceled", orders.id != read)
        w.ids["order"] = commerce_id("Order", read)
        w.ids["open_order"], w.ids["doomed_order"] = (
            commerce_id("Order", o) for o in (await conn.execute(written.limit(2))).scalars()
        )
        channels = t.afosto_channels.c
        kinds = dict(
            (await conn.execute(select(channels.type, channels.id).where(channels.afosto_tenant_id == afosto))).all()
        )
        w.ids["pos_channel"], w.ids["storefront"] = kinds["pos"], kinds["storefront"]
        groups = t.afosto_price_groups.c
        w.ids["retail"] = (
            await conn.execute(select(groups.id).where(groups.afosto_tenant_id == afosto, groups.name == "retail"))
        ).scalar_one()
        hubs = t.device_print_hubs.c
        w.ids["hub_device"], w.ids["hub"] = (
            await conn.execute(
                select(hubs.device_id, hubs.hub_id)
                .join(t.devices, t.devices.c.id == hubs.device_id)
                .where(t.devices.c.tenant_id == TENANT)
                .limit(1)
            )
        ).one()
    w.ids.update(afosto=afosto, store=store, location=location, task=TASK)
    # Records reached by global id, so a write of another recipe to a list (a channel created at
    # the sandbox, a device deleted there) does not change what a probe reads through them.
    w.ids["hub_device_id"] = base64.b64encode(f"Device:{w.ids['hub_device']}".encode()).decode()
    w.ids["pos_channel_id"] = commerce_id("SalesChannel", w.ids["pos_channel"])
    w.ids["location_id"] = commerce_id("Location", location)
    w.ids["hub_id"] = commerce_id("PrintHub", w.ids["hub"])
    assert w.ids["hub_device"] != w.ids["doomed_device"], "the device with a print hub is deleted at the sandbox"
    w.afosto["X-Afosto-Authorization"] = f"Bearer {afosto_token(w.d.sandbox.settings, afosto)}"


# ---------------------------------------------------------------------------------------------
# Recipes


@dataclass(frozen=True)
class Probe:
    """A read: `query` (with `variables`, `{name}` filled from the world's ids) sent by `caller`;
    `source` is whose data the answer must be (default: the route's API, else the local store).
    `distinct=False` (with the reason in `why`) where no diverged value can show in the answer:
    then only where the call landed is checked."""

    query: str
    caller: str | None = "alice"
    variables: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    distinct: bool = True
    why: str = ""


@dataclass(frozen=True)
class Direct:
    """A method no GraphQL field reaches: called on the upstream-mode backend directly, and on
    both stores, by `call(backend, world)`; `distinct=False` with `why`, as for a Probe."""

    call: Callable[[Any, World], Awaitable[Any]]
    distinct: bool = True
    why: str = ""


Write = Callable[[World], Awaitable[None]]
Recipe = tuple[Probe | Direct, ...] | Write


def filled(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


async def read_back(w: World, query: str, variables: dict[str, Any], caller: str | None) -> tuple[Any, Any]:
    """A query's answer in the sandbox's store and in the local store."""
    return (
        await w.send(SANDBOX, query, variables, caller),
        await w.send(LOCAL, query, variables, caller),
    )


async def lands_in_the_sandbox(
    w: World, mutation: str, variables: dict[str, Any], caller: str | None, check: str, check_vars: dict[str, Any]
) -> dict[str, Any]:
    """Sends `mutation` in upstream mode; `check`, read in both stores before and after, changes
    in the sandbox's only. Returns the mutation's data."""
    sandbox_before, local_before = await read_back(w, check, check_vars, caller)
    body = await w.send("upstream", mutation, variables, caller)
    assert "errors" not in body, body["errors"]
    sandbox_after, local_after = await read_back(w, check, check_vars, caller)
    assert sandbox_after != sandbox_before, "the write did not reach the sandbox"
    assert local_after == local_before, "the write changed the local store"
    data: dict[str, Any] = body["data"]
    return data


LICENSES = "{ viewer { licenses(first: 100) { nodes { key activationSession { id } } } } }"
ONE_DEVICE = (
    'query($d: String!) { device(tenantUid: "acme-retail", deviceUid: $d) '
    "{ id sourceId name status systemInformation } }"
)
DEVICE_COUNT = '{ devices(tenantUid: "acme-retail", first: 0) { totalCount } }'


async def activate(w: World) -> None:
    async with w.d.local_store.engine.connect() as conn:
        key = (
            await conn.execute(
                select(t.licenses.c.key)
                .join(t.users, t.users.c.id == t.licenses.c.user_id)
                .where(t.users.c.login == "alice", t.licenses.c.session_id.is_(None), t.licenses.c.device_id.is_(None))
                .limit(1)
            )
        ).scalar_one()
    mutation = "mutation($k: String) { activateLicense(licenseKey: $k) { alreadyActive licenseKey } }"
    data = await lands_in_the_sandbox(w, mutation, {"k": key}, "alice", LICENSES, {})
    assert data["activateLicense"] == {"alreadyActive": False, "licenseKey": key}


async def register_device(w: World) -> None:
    mutation = """mutation($serial: String!) { registerDeviceLicense(manufacturer: {id: 791, name: "Kontron"},
        model: "KBox A-150-WKL", serialNumber: $serial, manufactureDate: "2024-05-17") { serialNumber model } }"""
    check = "{ viewer { devices(first: 0) { totalCount } } }"
    data = await lands_in_the_sandbox(w, mutation, {"serial": "ROUTED-0001"}, "dave", check, {})
    assert data["registerDeviceLicense"] == {"serialNumber": "ROUTED-0001", "model": "KBox A-150-WKL"}


async def post_review(w: World) -> None:
    mutation = 'mutation($p: ID!) { postReview(productId: $p, review: "Routed here.", rating: 4) { review } }'
    check = "query($p: ID!) { product(id: $p) { ratingCount reviews(first: 0) { totalCount } } }"
    variables = {"p": w.ids["reviewed_product"]}
    await lands_in_the_sandbox(w, mutation, variables, "alice", check, variables)


async def register_flow_device(w: World) -> None:
    mutation = """mutation { registerDevice(clientId: "routed-client", name: "Routed") {
        deviceCode device { id name } } }"""
    body = await w.send("upstream", mutation, None, None)
    assert "errors" not in body, body["errors"]
    code = body["data"]["registerDevice"]["deviceCode"]
    # The code is the sandbox's: authorizing it works there and is unknown to the local store.
    authorize = """mutation($c: String!) { authorizeDevice(tenantUid: "acme-retail", deviceCode: $c,
        storeUid: "acme-amsterdam-0001") { name } }"""
    at_sandbox, at_local = await read_back(w, authorize, {"c": code}, "alice")
    assert at_sandbox.get("data", {}).get("authorizeDevice") == {"name": "Routed"}, at_sandbox
    assert at_local.get("errors"), at_local


async def authorize(w: World) -> None:
    # A device registered at the sandbox (through local mode over its store) is authorized upstream.
    register = 'mutation { registerDevice(clientId: "routed-client-2", name: "Routed 2") { deviceCode } }'
    code = (await w.d.sandbox.data(register))["registerDevice"]["deviceCode"]
    mutation = """mutation($c: String!) { authorizeDevice(tenantUid: "acme-retail", deviceCode: $c,
        storeUid: "acme-amsterdam-0001") { name } }"""
    data = await lands_in_the_sandbox(w, mutation, {"c": code}, "alice", DEVICE_COUNT, {})
    assert data["authorizeDevice"] == {"name": "Routed 2"}


async def link(w: World) -> None:
    code = w.d.seeded.device_codes[TENANT]
    mutation = """mutation($c: String!) { linkDevice(deviceCode: $c, appId: "flow-retail-client", userCode: "1002",
        password: "facade-demo") { device { status } } }"""
    check = (
        'query { searchDevices(tenantUid: "acme-retail", filter: {status: READY_TO_LINK}, first: 0) { totalCount } }'
    )
    data = await lands_in_the_sandbox(w, mutation, {"c": code}, "alice", check, {})
    assert data["linkDevice"]["device"]["status"] == "ACTIVE"


async def create_device(w: World) -> None:
    mutation = """mutation { createDevice(tenantUid: "acme-retail", storeUid: "acme-amsterdam-0001", appType: CLIENT,
        name: "Created upstream") { name } }"""
    data = await lands_in_the_sandbox(w, mutation, {}, "alice", DEVICE_COUNT, {})
    assert data["createDevice"] == {"name": "Created upstream"}


async def update_device(w: World) -> None:
    mutation = """mutation($d: String!) { updateDevice(tenantUid: "acme-retail", deviceUid: $d,
        changes: {name: "Renamed upstream"}) { name } }"""
    variables = {"d": w.ids["device"]}
    data = await lands_in_the_sandbox(w, mutation, variables, "alice", ONE_DEVICE, variables)
    assert data["updateDevice"] == {"name": "Renamed upstream"}


async def update_system_information(w: World) -> None:
    mutation = 'mutation { updateDeviceSystemInformation(systemInformation: "routed uname") { systemInformation } }'
    body = await w.send("upstream", mutation, None, "device")
    assert "errors" not in body, body["errors"]
    check = {"d": w.ids["device"]}
    at_sandbox, at_local = await read_back(w, ONE_DEVICE, check, "alice")
    assert at_sandbox["data"]["device"]["systemInformation"] == "routed uname"
    assert at_local["data"]["device"]["systemInformation"] != "routed uname"


async def delete_device(w: World) -> None:
    mutation = 'mutation($d: String!) { deleteDevice(tenantUid: "acme-retail", deviceUid: $d) }'
    variables = {"d": w.ids["doomed_device"]}
    await lands_in_the_sandbox(w, mutation, variables, "alice", DEVICE_COUNT, {})
    at_sandbox, at_local = await read_back(w, ONE_DEVICE, variables, "alice")
    assert at_sandbox["data"]["device"] is None
    assert at_local["data"]["device"]["sourceId"] == w.ids["doomed_device"]


async def afosto_call(w: World) -> None:
    # Local mode answers Afosto from an emulation of its own, in process, which holds nothing the
    # sandbox was sent: one representative read, of a record written at the sandbox through the
    # same route, found upstream and not locally.
    create = 'mutation { afostoCatCreateGroup(body: {name: "Routed", currency: "EUR"}) { id } }'
    made = await w.send("upstream", create, None, None)
    assert "errors" not in made, made["errors"]
    read = "query($id: ID) { afosto { cat { group(id: $id) { id name currency } } } }"
    key = made["data"]["afostoCatCreateGroup"]["id"]
    upstream = await w.send("upstream", read, {"id": key}, None)
    assert upstream["data"] == {"afosto": {"cat": {"group": {"id": key, "name": "Routed", "currency": "EUR"}}}}
    local = await w.send(LOCAL, read, {"id": key}, "alice")  # local mode: facade judges (a tenant's person)
    assert local["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def lands_locally(
    w: World, mutation: str, variables: dict[str, Any], check: str, check_vars: dict[str, Any]
) -> dict[str, Any]:
    """Sends `mutation` (as alice) in upstream mode; `check`, read in both stores before and
    after, changes in the local store's only (the join keys' writes). Returns the mutation's data."""
    sandbox_before, local_before = await read_back(w, check, check_vars, "alice")
    body = await w.send("upstream", mutation, variables, "alice")
    assert "errors" not in body, body["errors"]
    sandbox_after, local_after = await read_back(w, check, check_vars, "alice")
    assert local_after != local_before, "the write did not reach the local store"
    assert sandbox_after == sandbox_before, "the write changed the sandbox's store"
    data: dict[str, Any] = body["data"]
    return data


async def restore(w: World, mutation: str, variables: dict[str, Any]) -> None:
    """Undoes a join key's write (later recipes read through the seeded links)."""
    body = await w.send("upstream", mutation, variables, "alice")
    assert "errors" not in body, body["errors"]


# Commerce: acme-retail's Afosto side, as alice (its admin) reads it.
AFOSTO_OF_ACME = 'query { tenant(tenantUid: "acme-retail") { afosto { SELECTION } } }'
AMSTERDAM_STORE = 'query { storeByUid(uid: "acme-amsterdam-0001") { SELECTION } }'
ORDER_NODE = "query($o: ID!) { node(id: $o) { ... on Order { SELECTION } } }"
ORDER_LINES = "query($o: ID!) { node(id: $o) { ... on Order { status lines { nodes { sku quantity } } } } }"
PRODUCT = "query($p: ID!) { product(id: $p) { SELECTION } }"


def _of(template: str, selection: str, **probe: Any) -> Probe:
    return Probe(template.replace("SELECTION", selection), **probe)


def _of_product(selection: str) -> Probe:
    return _of(PRODUCT, selection, variables={"p": "{product}"})


def _of_order(selection: str) -> Probe:
    return _of(ORDER_NODE, selection, variables={"o": "{order}"})


def _of_node(record: str, type_name: str, selection: str) -> Probe:
    """`selection` of the record whose global id is the world's `record`."""
    query = f"query($i: ID!) {{ node(id: $i) {{ ... on {type_name} {{ {selection} }} }} }}"
    return Probe(query, variables={"i": "{" + record + "}"})


async def upsert_prices(w: World) -> None:
    mutation = """mutation($g: ID!, $s: String!) { upsertPrices(tenantUid: "acme-retail", priceGroupId: $g,
        prices: [{sku: $s, amount: "4321.09"}]) { sku amount priceGroup { sourceId } } }"""
    check = "query($p: ID!) { product(id: $p) { prices { nodes { amount } } } }"
    variables = {"g": w.ids["retail"], "s": w.ids["sku_2"]}
    data = await lands_in_the_sandbox(w, mutation, variables, "alice", check, {"p": w.ids["product_2"]})
    assert data["upsertPrices"] == [
        {"sku": w.ids["sku_2"], "amount": "4321.09", "priceGroup": {"sourceId": w.ids["retail"]}}
    ]


async def set_stock(w: World) -> None:
    mutation = """mutation($l: ID!, $s: String!) { setStock(tenantUid: "acme-retail", locationId: $l,
        levels: [{sku: $s, available: 4242}]) { sku available } }"""
    check = AMSTERDAM_STORE.replace("SELECTION", "stock(first: 100) { nodes { sku available } }")
    data = await lands_in_the_sandbox(w, mutation, {"l": w.ids["location"], "s": w.ids["sku"]}, "alice", check, {})
    assert data["setStock"] == [{"sku": w.ids["sku"], "available": 4242}]


async def create_channel(w: World) -> None:
    mutation = """mutation { createSalesChannel(tenantUid: "acme-retail", input: {name: "Routed pop-up", type: POS})
        { name type } }"""
    check = AFOSTO_OF_ACME.replace("SELECTION", "salesChannels { totalCount }")
    data = await lands_in_the_sandbox(w, mutation, {}, "alice", check, {})
    assert data["createSalesChannel"] == {"name": "Routed pop-up", "type": "POS"}


async def update_channel(w: World) -> None:
    mutation = 'mutation($c: ID!) { updateSalesChannel(id: $c, input: {name: "Renamed upstream"}) { name } }'
    check = AFOSTO_OF_ACME.replace("SELECTION", "salesChannels { nodes { sourceId name } }")
    variables = {"c": commerce_id("SalesChannel", w.ids["pos_channel"])}
    data = await lands_in_the_sandbox(w, mutation, variables, "alice", check, {})
    assert data["updateSalesChannel"] == {"name": "Renamed upstream"}


async def create_order(w: World) -> None:
    mutation = """mutation($c: ID!, $s: String!) { createOrder(tenantUid: "acme-retail", idempotencyKey: "routed-1",
        input: {channelId: $c, lines: [{sku: $s, quantity: 2}]}) { status lines { nodes { sku quantity } } } }"""
    check = AFOSTO_OF_ACME.replace("SELECTION", "orders(first: 0) { totalCount }")
    variables = {"c": w.ids["pos_channel"], "s": w.ids["sku"]}
    data = await lands_in_the_sandbox(w, mutation, variables, "alice", check, {})
    assert data["createOrder"] == {"status": "OPEN", "lines": {"nodes": [{"sku": w.ids["sku"], "quantity": 2}]}}


async def add_order_lines(w: World) -> None:
    mutation = "mutation($o: ID!, $s: String!) { addOrderLines(orderId: $o, lines: [{sku: $s, quantity: 7}]) { id } }"
    variables = {"o": w.ids["open_order"]}
    data = await lands_in_the_sandbox(w, mutation, {**variables, "s": w.ids["sku_3"]}, "alice", ORDER_LINES, variables)
    assert data["addOrderLines"] == {"id": w.ids["open_order"]}


async def cancel_order(w: World) -> None:
    mutation = "mutation($o: ID!) { cancelOrder(orderId: $o) { progress } }"
    variables = {"o": w.ids["doomed_order"]}
    await lands_in_the_sandbox(w, mutation, variables, "alice", ORDER_LINES, variables)
    at_sandbox, at_local = await read_back(w, ORDER_LINES, variables, "alice")
    assert at_sandbox["data"]["node"]["status"] == "CANCELED"
    assert at_local["data"]["node"]["status"] != "CANCELED"


async def link_tenant(w: World) -> None:
    mutation = (
        'mutation($a: String) { linkAfostoTenant(tenantUid: "acme-retail", afostoTenantId: $a) { afostoTenantId } }'
    )
    check = AFOSTO_OF_ACME.replace("SELECTION", "afostoTenantId")
    # Unlinked here, linked again after: linking takes alice's Afosto token of that account,
    # which the tenant check at the sandbox accepts (`w.afosto`).
    data = await lands_locally(w, mutation, {"a": None}, check, {})
    assert data["linkAfostoTenant"] is None
    await restore(w, mutation, {"a": w.ids["afosto"]})


async def link_store_channel(w: World) -> None:
    # Unlinking goes through the same method (linked=False); the link is put back after.
    unlink = "mutation($s: ID!, $c: ID!) { unlinkStoreSalesChannel(storeId: $s, channelId: $c) { id } }"
    check = AMSTERDAM_STORE.replace("SELECTION", "salesChannels { nodes { sourceId } }")
    variables = {"s": str(w.ids["store"]), "c": w.ids["storefront"]}
    await lands_locally(w, unlink, variables, check, {})
    link = "mutation($s: ID!, $c: ID!) { linkStoreSalesChannel(storeId: $s, channelId: $c) { id } }"
    await restore(w, link, variables)


async def set_store_location(w: World) -> None:
    mutation = "mutation($s: ID!, $l: ID) { setStoreStockLocation(storeId: $s, locationId: $l) { id } }"
    check = AMSTERDAM_STORE.replace("SELECTION", "stockLocation { sourceId }")
    await lands_locally(w, mutation, {"s": str(w.ids["store"]), "l": None}, check, {})
    await restore(w, mutation, {"s": str(w.ids["store"]), "l": w.ids["location"]})


async def set_product_sku(w: World) -> None:
    mutation = "mutation($p: ID!, $s: String) { setProductSku(productId: $p, sku: $s) { sku } }"
    check = "query($p: ID!) { product(id: $p) { sku } }"
    product = str(w.ids["product_3"])  # not the one the reads probe
    data = await lands_locally(w, mutation, {"p": product, "s": "ROUTED-SKU"}, check, {"p": product})
    assert data["setProductSku"] == {"sku": "ROUTED-SKU"}
    await restore(w, mutation, {"p": product, "s": w.ids["sku_3"]})


async def link_device_hub(w: World) -> None:
    mutation = "mutation($d: ID!, $h: ID) { linkDevicePrintHub(deviceId: $d, hubId: $h) { id } }"
    check = "query($d: ID!) { node(id: $d) { ... on Device { printHub { sourceId } } } }"
    device = w.ids["hub_device_id"]
    await lands_locally(w, mutation, {"d": device, "h": None}, check, {"d": device})
    await restore(w, mutation, {"d": device, "h": w.ids["hub"]})


def _flow_device(fields: str, source: str | None = None) -> Probe:
    return Probe(
        'query($d: String!) { device(tenantUid: "acme-retail", deviceUid: $d) { ' + fields + " } }",
        variables={"d": "{device}"},
        source=source,
    )


def _app_version(operation: str, field_name: str, selection: str) -> Probe:
    # A field of one app version, for a device session that is active in both stores.
    return Probe(
        f"{operation}($a: String!, $v: String!, $s: String) {{"
        f" {field_name}(app: $a, version: $v, sessionId: $s) {{ {selection} }} }}",
        caller=None,
        variables={"a": "{app}", "v": "{version}", "s": "{session}"},
    )


RECIPES: dict[tuple[str, str], Recipe] = {
    # FLECS Console
    ("users", "login"): (
        Probe(
            'mutation { login(username: "alice", password: "facade-demo") { user { id displayName }'
            " featureFlags { isWhitelabeled } } }",
            caller=None,
        ),
        # What FLECS's login does not carry comes from the local store's directory.
        Probe(
            'mutation { login(username: "alice", password: "facade-demo") { user { firstName lastName } } }',
            caller=None,
            source=LOCAL,
        ),
    ),
    ("users", "validate_token"): (
        Probe(
            "query($t: String!) { validateToken(token: $t) { isValid } }",
            variables={"t": "{alice_token}"},
            distinct=False,
            why="a token is valid at both: they share the signing key, and TokenValidation carries nothing else",
        ),
    ),
    ("licenses", "activate"): activate,
    ("licenses", "validate"): (
        Probe(
            "query($s: String) { validateLicense(sessionId: $s) { isValid } }",
            caller=None,
            variables={"s": "{expired_session}"},
        ),
    ),
    ("licenses", "register_device"): register_device,
    ("apps", "download_manifest"): (_app_version("query", "appManifest", "app version manifest"),),
    ("apps", "create_token"): (_app_version("mutation", "createDownloadToken", "official token { app }"),),
    ("products", "page_all"): (
        Probe(
            "{ products(first: 5) { nodes { id name price description shortDescription stockStatus permalink"
            " categories { name } } } }"
        ),
        Probe("{ apps(first: 5) { nodes { id name price isOfficial } } }"),
    ),
    ("products", "page_by_store"): (
        Probe("{ store(id: 1) { products(first: 5) { nodes { id name price } } apps(first: 5) { nodes { name } } } }"),
    ),
    ("reviews", "create"): post_review,
    ("products", "page_purchased"): (
        Probe(
            "{ viewer { purchasedProducts(first: 5) { nodes { id name price } }"
            " purchasedApps(first: 5) { nodes { name } } } }",
            caller="dave",
        ),
    ),
    ("subscriptions", "page_by_user"): (
        Probe(
            "{ viewer { subscriptions(first: 5) { nodes { id status billing { firstName company }"
            " lineItems { quantity } } } } }",
            caller="dave",
        ),
    ),
    # Flow Retail
    ("devices", "login"): (
        Probe(
            'mutation { deviceLogin(userCode: "1002", password: "facade-demo") {'
            " tenantUser { id displayName firstName } } }",
            caller="device",
        ),
    ),
    ("devices", "current"): (Probe("{ currentDevice { id name systemInformation } }", caller="access"),),
    ("devices", "register"): register_flow_device,
    ("devices", "update_system_information"): update_system_information,
    ("devices", "authorize"): authorize,
    ("devices", "link"): link,
    ("devices", "users"): (Probe("{ deviceUsers(first: 5) { nodes { id displayName } } }", caller="device"),),
    ("devices", "search"): (
        Probe('{ devices(tenantUid: "acme-retail", first: 5) { nodes { id name systemInformation } } }'),
        Probe('{ searchDevices(tenantUid: "acme-retail", filter: {status: ACTIVE}, first: 5) { nodes { id name } } }'),
        Probe('{ tenant(tenantUid: "acme-retail") { devices(first: 5) { nodes { id name } } } }'),
    ),
    ("devices", "create"): create_device,
    ("devices", "get"): (
        _flow_device("id name systemInformation createdAt"),
        # What Flow Retail does not carry comes from the local store's directory (compose.complete).
        _flow_device("model", source=LOCAL),
    ),
    ("devices", "update"): update_device,
    ("devices", "delete"): delete_device,
    # Afosto
    ("afosto", "call"): afosto_call,
    # Afosto's commerce data (acme-retail's Afosto tenant, alice its admin)
    ("commerce", "channels"): (
        _of(AFOSTO_OF_ACME, "salesChannels { nodes { sourceId name type description createdAt } }"),
        _of(AMSTERDAM_STORE, "salesChannels { nodes { name } }"),
    ),
    ("commerce", "locations"): (
        _of(AFOSTO_OF_ACME, "locations { nodes { sourceId name countryCode } }"),
        _of(AMSTERDAM_STORE, "stockLocation { name }"),
    ),
    ("commerce", "price_groups"): (
        _of(AFOSTO_OF_ACME, "priceGroups { nodes { sourceId name currency includesVat } }"),
    ),
    ("commerce", "users"): (_of(AFOSTO_OF_ACME, "users { nodes { email firstName lastName roles } }"),),
    ("commerce", "plans"): (_of(AFOSTO_OF_ACME, "plans { nodes { code isRenewing startAt endAt } }"),),
    ("commerce", "print_hubs"): (
        _of(AFOSTO_OF_ACME, "printHubs { nodes { sourceId name description statusUpdatedAt } }"),
        _of_node("hub_device_id", "Device", "printHub { name }"),
    ),
    ("commerce", "printers"): (
        _of(AFOSTO_OF_ACME, "printHubs { nodes { printers { nodes { name defaultEncoding } } } }"),
    ),
    ("commerce", "prices"): (
        _of_product("prices { nodes { sku amount amountMinor originalAmount priceGroup { name } } }"),
    ),
    ("commerce", "stock_by_location"): (
        _of(AMSTERDAM_STORE, "stock(first: 100) { nodes { sku available reserved transit backordered total } }"),
    ),
    ("commerce", "stock_by_sku"): (_of_product("stock { nodes { sku available total location { name } } }"),),
    ("commerce", "orders"): (_of_order("number total totalMinor createdAt"),),
    ("commerce", "order_page"): (
        _of(AFOSTO_OF_ACME, "orders(first: 10) { nodes { number total createdAt canceledAt } }"),
    ),
    ("commerce", "order_lines"): (_of_order("lines { nodes { sku description quantity } }"),),
    ("commerce", "order_lines_by_sku"): (_of_product("orderLines { nodes { description quantity } }"),),
    ("commerce", "customers"): (_of_order("customer { email givenName familyName createdAt }"),),
    ("commerce", "addresses"): (
        _of_order("shippingAddress { locality postalCode addressLine1 givenName } billingAddress { locality }"),
        _of(AMSTERDAM_STORE, "stockLocation { address { organisation addressLine1 locality } }"),
    ),
    ("commerce", "hub_status"): (_of(AFOSTO_OF_ACME, "printHubs { nodes { sourceId status } }"),),
    ("commerce", "tasks"): (
        Probe(
            'query($i: ID!) { afostoTask(tenantUid: "acme-retail", id: $i) { name progress result startedAt } }',
            variables={"i": "{task}"},
        ),
    ),
    ("commerce", "upsert_prices"): upsert_prices,
    ("commerce", "set_stock"): set_stock,
    ("commerce", "create_channel"): create_channel,
    ("commerce", "update_channel"): update_channel,
    ("commerce", "create_order"): create_order,
    ("commerce", "add_order_lines"): add_order_lines,
    ("commerce", "cancel_order"): cancel_order,
    # The local store, in upstream mode too
    ("tenants", "get_many"): (Probe('{ tenant(tenantUid: "acme-retail") { id name createdAt } }'),),
    ("users", "get_many"): (Probe("{ viewer { id displayName firstName lastName createdAt } }"),),
    ("users", "page_by_store_access"): (Probe("{ store(id: 1) { users(first: 5) { nodes { id displayName } } } }"),),
    ("users", "page_by_tenant"): (
        Probe('{ tenant(tenantUid: "acme-retail") { users(first: 5) { nodes { id displayName } } } }'),
    ),
    ("stores", "get_many"): (Probe("{ store(id: 1) { id name shopName url address { street1 city state } } }"),),
    ("stores", "get_many_by_uid"): (
        Probe('{ storeByUid(uid: "acme-amsterdam-0001") { id name } }'),
        # A Flow Retail device names its store by uid; the store is the local store's.
        _flow_device("store { uid name }"),
    ),
    ("stores", "page_all"): (Probe("{ stores(first: 5) { nodes { id name } } }"),),
    ("stores", "page_by_tenant"): (
        Probe('{ tenant(tenantUid: "acme-retail") { stores(first: 5) { nodes { id name } } } }'),
    ),
    ("stores", "tills_by_store"): (Probe("{ store(id: 1) { tills { id name } } }"),),
    ("stores", "tills_get_many"): (_flow_device("till { id name }"),),
    ("products", "get_many"): (Probe("query($p: ID!) { product(id: $p) { id name price } }", variables={"p": "2"}),),
    ("products", "get_many_by_app"): (_app_version("query", "appManifest", "product { id name }"),),
    ("products", "page_by_owner"): (Probe("{ viewer { ownedProducts(first: 5) { nodes { id name price } } } }"),),
    ("reviews", "page_by_product"): (
        Probe(
            "query($p: ID!) { product(id: $p) { reviews(first: 5) { nodes { id reviewer review } } } }",
            variables={"p": "{reviewed_product}"},
        ),
    ),
    ("reviews", "get_many"): (
        Probe(
            "query($r: ID!) { node(id: $r) { ... on Review { sourceId reviewer review } } }",
            variables={"r": "{review}"},
        ),
    ),
    ("reviews", "page_by_user"): (
        Probe("{ viewer { reviews(first: 5) { nodes { id review createdAt } } } }", caller="reviewer"),
    ),
    ("subscriptions", "get_many"): (Direct(lambda b, w: b.subscriptions.get_many([w.ids["subscription"]])),),
    ("devices", "get_many"): (Probe("{ viewer { licenses(first: 20) { nodes { key device { id name } } } } }"),),
    ("devices", "page_by_owner"): (Probe("{ viewer { devices(first: 5) { nodes { id name model } } } }"),),
    ("devices", "page_by_store"): (
        Probe("{ store(id: 1) { devices(first: 5) { nodes { id name systemInformation } } } }"),
    ),
    ("licenses", "by_device"): (Probe("{ viewer { devices(first: 5) { nodes { id license { key createdAt } } } } }"),),
    ("licenses", "get_many"): (Direct(lambda b, w: b.licenses.get_many([w.ids["license"]])),),
    ("licenses", "page_by_user"): (Probe("{ viewer { licenses(first: 5) { nodes { key createdAt } } } }"),),
    ("apps", "manifests_by_product"): (
        Probe(
            "query($p: ID!) { product(id: $p) { manifests { app version manifest } } }",
            variables={"p": "{app_product}"},
        ),
    ),
    ("apps", "manifests_for"): (Direct(lambda b, w: b.apps.manifests_for([(w.ids["app"], w.ids["version"])])),),
    # The join keys with Afosto's records: the same in both stores (the seed's), so a probe tells
    # the stores apart by the facade records it reaches through them (their names).
    ("links", "afosto_tenants"): (Probe('{ tenant(tenantUid: "acme-retail") { name afosto { afostoTenantId } } }'),),
    ("links", "channels_by_store"): (_of(AMSTERDAM_STORE, "name salesChannels { nodes { sourceId } }"),),
    ("links", "stores_by_channel"): (_of_node("pos_channel_id", "SalesChannel", "store { name }"),),
    ("links", "location_by_store"): (_of(AMSTERDAM_STORE, "name stockLocation { sourceId }"),),
    ("links", "stores_by_location"): (_of_node("location_id", "Location", "store { name }"),),
    ("links", "sku_refs_by_product"): (_of_product("name sku"),),
    ("links", "sku_by_product"): (
        Direct(
            lambda b, w: b.links.sku_by_product([int(w.ids["product"])]),
            distinct=False,
            why="a SKU is a join key, the same in both stores; no GraphQL field reads it this way",
        ),
    ),
    ("links", "products_by_sku"): (_of_order("lines { nodes { sku product { name } } }"),),
    ("links", "hub_by_device"): (_of_node("hub_device_id", "Device", "name printHub { sourceId }"),),
    ("links", "devices_by_hub"): (_of_node("hub_id", "PrintHub", "device { name }"),),
    ("links", "link_tenant"): link_tenant,
    ("links", "link_store_channel"): link_store_channel,
    ("links", "set_store_location"): set_store_location,
    ("links", "set_product_sku"): set_product_sku,
    ("links", "link_device_hub"): link_device_hub,
}


# ---------------------------------------------------------------------------------------------
# Where a call lands


def sandbox_templates(route: Route) -> set[str]:
    """The sandbox's call-log keys (`METHOD /path/{template}`) of the route's contract operations."""
    found = set()
    for operation in route.operations:
        if route.api == FLOW:
            method, path = operation.split(" ", 2)[1:]
            found.add(f"{method} /v2{path}")
        elif route.api == AFOSTO:
            method, path = operation.split(" ", 1)
            found.add(f"{method} /afosto{path}")
        else:
            found.add(operation)
    return found - {TENANT_CHECK}


@contextlib.contextmanager
def spy(store: Any, domain: str, method: str) -> Iterator[list[int]]:
    """Counts the calls of the local store's `domain.method` (one entry per call)."""
    part = getattr(store, domain)
    original = getattr(part, method)
    calls: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    setattr(part, method, counted)
    try:
        yield calls
    finally:
        delattr(part, method)


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    return value


async def run_read(w: World, key: tuple[str, str], step: Probe | Direct, route: Route | None) -> None:
    want = (step.source if isinstance(step, Probe) else None) or (SANDBOX if route else LOCAL)
    if isinstance(step, Direct):
        sandbox, local = _dump(await step.call(w.d.sandbox_store, w)), _dump(await step.call(w.d.local_store, w))
        with spy(w.d.local_store, *key) as calls:
            upstream = _dump(await step.call(w.d.backend, w))
        assert step.distinct or step.why, f"{key}: a call that cannot tell the stores apart says why"
        if step.distinct:
            assert sandbox != local, f"{key}: the call does not tell the two stores apart"
    else:
        variables = filled(step.variables, w.ids)
        caller = step.caller
        sandbox = await w.send(SANDBOX, step.query, variables, caller)
        local = await w.send(LOCAL, step.query, variables, caller)
        async with SandboxControl(w.d.sandbox_url) as control:
            with spy(w.d.local_store, *key) as calls:
                upstream = await w.send("upstream", step.query, variables, caller)
            called = await control.calls()
        assert "errors" not in upstream, upstream["errors"]
        assert step.distinct or step.why, f"{key}: a probe that cannot tell the stores apart says why"
        if step.distinct:
            assert sandbox != local, f"{key}: the query does not tell the two stores apart: {sandbox}"
        if route is not None:
            assert sandbox_templates(route) & set(called), f"{key}: the sandbox got {called}"
    expected = sandbox if want == SANDBOX else local
    assert upstream == expected, f"{key}: upstream mode did not answer the {want}'s data"
    if route is None:
        assert calls, f"{key}: the local store's {key[0]}.{key[1]} was not called"


@pytest.mark.parametrize("key", methods(), ids=lambda k: f"{k[0]}.{k[1]}")
async def test_each_method_answers_from_where_routes_says(world: World, key: tuple[str, str]) -> None:
    recipe = RECIPES.get(key)
    route = ROUTE_OF.get(key)
    where = f"routed to {route.api}" if route else "answered by the local store"
    assert recipe is not None, f"{key[0]}.{key[1]} ({where}) has no recipe in RECIPES: add one"
    if callable(recipe):
        await recipe(world)
        return
    for step in recipe:
        await run_read(world, key, step, route)


def test_every_recipe_is_of_a_method() -> None:
    assert set(RECIPES) - set(methods()) == set()
