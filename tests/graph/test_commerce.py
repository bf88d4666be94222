"""Afosto's data in the domain graph (issue 11): the edges from stores, products, devices and
tenants through the join keys, what a missing join answers, who may read and write, the
mutations' input rules, and what a nested query costs (one backend call per entity type per
level, whatever the list length). Runs in both modes: in upstream mode the Afosto side is the
sandbox's, over HTTP, and the calls are counted there too."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from graphql import GraphQLObjectType

from conftest import Api, link_and_sign_in, mode, store_kind
from facade.backends.local.seed import sandbox_client_secret
from facade.graph.inputs import constraint_of
from facade.graph.schema import get_schema
from support.chaos import Twins
from support.ids import loose

ACME, NORDIC = "acme-retail", "nordic-bakeries"
HOME = {"alice": ACME, "bob": ACME, "carol": NORDIC}

STORES = """
query Stores($t: String!, $n: Int!, $m: Int!) {
  tenant(tenantUid: $t) { stores(first: $n) { nodes {
    id name
    salesChannels(first: 5) { nodes { id sourceId name type } }
    stockLocation { id name }
    stock(first: 5) { totalCount nodes { sku available total location { id } } }
    products(first: $m) { nodes {
      id sku
      prices(first: 4) { nodes { sku amount amountMinor currency includesVat priceGroup { name } } }
      stock(first: 4) { nodes { sku available location { name } } }
    } }
  } } }
}
"""

ORDERS = """
query Orders($t: String!, $n: Int!) {
  tenant(tenantUid: $t) { afosto { afostoTenantId orders(first: $n) { totalCount nodes {
    id number status total totalMinor currency
    channel { name type store { id name } }
    customer { email }
    shippingAddress { locality countryCode }
    billingAddress { locality }
    lines { nodes { sku quantity product { id name sku } } }
  } } } }
}
"""


async def signed(api: Api, login: str) -> dict[str, Any]:
    """A request's credentials as `login`: their token and, in upstream mode, their tenant's
    Afosto token (what a frontend sends as X-Afosto-Authorization; the sandbox's, here)."""
    credentials: dict[str, Any] = {"token": await api.login(login), "headers": {}}
    tenant = HOME.get(login)
    if mode() == "upstream" and tenant is not None:
        from support.sandbox import afosto_token

        link = (await api.store.links.afosto_tenants([tenant]))[tenant]
        token = afosto_token(api.token_settings, link.afosto_tenant_id)
        credentials["headers"] = {"X-Afosto-Authorization": f"Bearer {token}"}
    return credentials


async def first_store(api: Api, who: dict[str, Any], tenant: str = ACME) -> dict[str, Any]:
    data = await api.data(STORES, {"t": tenant, "n": 1, "m": 3}, **who)
    return data["tenant"]["stores"]["nodes"][0]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Reading through the join keys


async def test_a_store_shows_its_linked_channels_location_and_stock(api: Api) -> None:
    store = await first_store(api, await signed(api, "alice"))

    types = {c["type"] for c in store["salesChannels"]["nodes"]}
    assert {"POS", "STOREFRONT"} <= types
    location = store["stockLocation"]
    assert location is not None
    assert store["stock"]["totalCount"] >= len(store["stock"]["nodes"]) > 0
    for level in store["stock"]["nodes"]:
        assert level["location"]["id"] == location["id"]
        assert level["total"] >= level["available"] >= 0


async def test_a_products_prices_are_decimal_strings_of_its_skus_minor_units(api: Api) -> None:
    store = await first_store(api, await signed(api, "alice"))

    product = store["products"]["nodes"][0]
    assert product["sku"]
    prices = product["prices"]["nodes"]
    assert {p["priceGroup"]["name"] for p in prices} >= {"retail", "wholesale"}
    for price in prices:
        assert price["sku"] == product["sku"]
        assert Decimal(price["amount"]) == Decimal(price["amountMinor"]) / 100
        assert price["amount"].count(".") == 1
        assert len(price["amount"].split(".")[1]) == 2
        assert price["currency"] == "EUR"
    assert product["stock"]["nodes"]


async def test_price_group_picks_one_group_by_name(api: Api) -> None:
    alice = await signed(api, "alice")
    data = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { stores(first: 1) { nodes { products(first: 2) { nodes { "
        'retail: prices(priceGroup: "retail") { nodes { priceGroup { name } includesVat } } '
        'none: prices(priceGroup: "no-such-group") { totalCount } } } } } } }',
        {"t": ACME},
        **alice,
    )
    for product in data["tenant"]["stores"]["nodes"][0]["products"]["nodes"]:
        assert product["retail"]["nodes"]
        assert all(p["priceGroup"]["name"] == "retail" and p["includesVat"] for p in product["retail"]["nodes"])
        assert product["none"]["totalCount"] == 0


async def test_a_tenants_orders_reach_channel_store_customer_addresses_and_products(api: Api) -> None:
    data = await api.data(ORDERS, {"t": ACME, "n": 5}, **await signed(api, "alice"))

    afosto = data["tenant"]["afosto"]
    assert afosto["afostoTenantId"]
    orders = afosto["orders"]["nodes"]
    assert len(orders) == 5
    assert afosto["orders"]["totalCount"] >= 5
    assert any(o["channel"]["store"] is not None for o in orders)
    for order in orders:
        assert Decimal(order["total"]) == Decimal(order["totalMinor"]) / 100
        assert order["lines"]["nodes"]
        for line in order["lines"]["nodes"]:
            assert line["quantity"] >= 1
            assert line["product"] is not None
            assert line["product"]["sku"] == line["sku"]


async def test_an_order_found_by_number_and_refetched_by_its_global_id_is_the_same(api: Api) -> None:
    alice = await signed(api, "alice")
    listed = await api.data(ORDERS, {"t": ACME, "n": 1}, **alice)
    order = listed["tenant"]["afosto"]["orders"]["nodes"][0]

    found = await api.data(
        "query($t: String!, $n: String) { tenant(tenantUid: $t) { afosto { orders(number: $n) "
        "{ totalCount nodes { id number } } } } }",
        {"t": ACME, "n": order["number"]},
        **alice,
    )
    assert found["tenant"]["afosto"]["orders"] == {
        "totalCount": 1,
        "nodes": [{"id": order["id"], "number": order["number"]}],
    }


async def test_tenant_afosto_lists_its_users_channels_groups_locations_hubs_and_plan(api: Api) -> None:
    data = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { "
        "users { nodes { email roles user { id } } } salesChannels { totalCount } "
        "priceGroups { nodes { name currency includesVat } } locations { totalCount } "
        "printHubs { nodes { name status printers { nodes { name hub { id } } } } } "
        "plans { nodes { code isRenewing } } } } }",
        {"t": ACME},
        **await signed(api, "alice"),
    )
    afosto = data["tenant"]["afosto"]
    assert any(u["user"] is not None for u in afosto["users"]["nodes"])  # the tenant's people, by e-mail
    assert {g["name"] for g in afosto["priceGroups"]["nodes"]} == {"retail", "wholesale"}
    assert afosto["salesChannels"]["totalCount"] >= 2
    assert afosto["locations"]["totalCount"] >= 1
    assert len(afosto["plans"]["nodes"]) == 1
    hubs = afosto["printHubs"]["nodes"]
    assert hubs
    assert all(h["status"] in ("ONLINE", "OFFLINE") for h in hubs)
    assert any(h["printers"]["nodes"] for h in hubs)


async def test_a_device_shows_its_linked_print_hub(api: Api) -> None:
    data = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { devices(first: 100) { nodes { id "
        "printHub { name device { id } printers { totalCount } } } } } }",
        {"t": ACME},
        **await signed(api, "alice"),
    )
    linked = [d for d in data["tenant"]["devices"]["nodes"] if d["printHub"] is not None]
    assert linked
    for device in linked:
        assert device["printHub"]["device"]["id"] == device["id"]


async def test_an_admin_moves_a_print_hub_by_the_devices_source_id(fresh_api: Api) -> None:
    """`linkDevicePrintHub(deviceId:)` takes a device's global id or its uid (Flow Retail's, with
    dashes), as the device's other arguments do."""
    api = fresh_api
    alice = await signed(api, "alice")
    data = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { devices(first: 100) { nodes { id sourceId "
        "printHub { sourceId } } } } }",
        {"t": ACME},
        **alice,
    )
    device = next(d for d in data["tenant"]["devices"]["nodes"] if d["printHub"] is not None)
    assert "-" in device["sourceId"]
    link = "mutation($d: ID!, $h: ID) { linkDevicePrintHub(deviceId: $d, hubId: $h) { id printHub { sourceId } } }"
    unlinked = await api.data(link, {"d": device["sourceId"], "h": None}, **alice)
    assert unlinked["linkDevicePrintHub"] == {"id": device["id"], "printHub": None}
    hub = device["printHub"]["sourceId"]
    relinked = await api.data(link, {"d": device["id"], "h": hub}, **alice)
    assert relinked["linkDevicePrintHub"] == {"id": device["id"], "printHub": {"sourceId": hub}}


# ---------------------------------------------------------------------------------------------
# Missing joins answer null or nothing


async def test_missing_joins_answer_null_and_empty_lists_never_errors(fresh_api: Api) -> None:
    api = fresh_api
    alice = await signed(api, "alice")
    store = await first_store(api, alice)
    product = store["products"]["nodes"][0]

    cleared = await api.data(
        "mutation($s: ID!, $p: ID!) { setStoreStockLocation(storeId: $s, locationId: null) { id stockLocation { id } "
        "stock { totalCount } } setProductSku(productId: $p, sku: null) { id sku prices { totalCount } "
        "stock { totalCount } orderLines { totalCount } } }",
        {"s": store["id"], "p": product["id"]},
        **alice,
    )
    assert cleared["setStoreStockLocation"]["stockLocation"] is None
    assert cleared["setStoreStockLocation"]["stock"]["totalCount"] == 0
    assert cleared["setProductSku"]["sku"] is None
    assert cleared["setProductSku"]["prices"]["totalCount"] == 0
    assert cleared["setProductSku"]["stock"]["totalCount"] == 0

    unlinked = await api.data(
        "mutation($t: String!) { linkAfostoTenant(tenantUid: $t, afostoTenantId: null) { afostoTenantId } }",
        {"t": ACME},
        **alice,
    )
    assert unlinked["linkAfostoTenant"] is None
    after = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { afostoTenantId } stores(first: 1) { nodes { "
        "salesChannels { totalCount } products(first: 2) { nodes { prices { totalCount } } } } } } }",
        {"t": ACME},
        **alice,
    )
    assert after["tenant"]["afosto"] is None
    assert after["tenant"]["stores"]["nodes"][0]["salesChannels"]["totalCount"] == 0
    assert all(p["prices"]["totalCount"] == 0 for p in after["tenant"]["stores"]["nodes"][0]["products"]["nodes"])


LINK_TENANT = (
    "mutation($t: String!, $a: String) { linkAfostoTenant(tenantUid: $t, afostoTenantId: $a) { afostoTenantId } }"
)
OAUTH_TOKEN = (
    "mutation($id: String!, $secret: String!) { afostoIamCreateOauthToken(body: {grantType: "
    '"client_credentials", clientId: $id, clientSecret: $secret}) { accessToken } }'
)


async def test_linking_an_afosto_tenant_takes_a_token_of_that_afosto_account(fresh_api: Api) -> None:
    """A link opens an Afosto account's orders and customers to the tenant's people: an admin may
    link only an account they hold a token of (a tester claimed another tenant's freed account)."""
    api = fresh_api
    alice, carol = await signed(api, "alice"), await signed(api, "carol")
    links = await api.store.links.afosto_tenants([ACME, NORDIC])
    ours, theirs = links[ACME].afosto_tenant_id, links[NORDIC].afosto_tenant_id
    freed = await api.data(LINK_TENANT, {"t": NORDIC, "a": None}, **carol)
    client = f"afosto-{ACME}"
    granted = await api.data(OAUTH_TOKEN, {"id": client, "secret": sandbox_client_secret(client)}, token=alice["token"])
    guessed = await api.error(OAUTH_TOKEN, {"id": client, "secret": "sandbox-guess"}, token=alice["token"])
    acme_token = granted["afostoIamCreateOauthToken"]["accessToken"]

    refused = [
        await api.post(LINK_TENANT, {"t": ACME, "a": theirs}, token=alice["token"], headers=headers)
        for headers in (
            {},
            {"X-Afosto-Authorization": f"Bearer {acme_token}"},
            {"X-Afosto-Authorization": "Bearer not-a-token-of-it"},
        )
    ]
    kept = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { afostoTenantId } } }", {"t": ACME}, **alice
    )
    taken = await api.post(
        LINK_TENANT,
        {"t": NORDIC, "a": ours},
        token=carol["token"],
        headers={"X-Afosto-Authorization": f"Bearer {acme_token}"},
    )
    own = await api.data(
        LINK_TENANT,
        {"t": ACME, "a": ours},
        token=alice["token"],
        headers={"X-Afosto-Authorization": f"Bearer {acme_token}"},
    )

    assert freed["linkAfostoTenant"] is None
    assert guessed["extensions"]["code"] == "UNAUTHENTICATED"  # a wrong secret gets no token at all
    assert [r["errors"][0]["extensions"]["code"] for r in refused] == ["FORBIDDEN"] * 3
    assert all(r["data"]["linkAfostoTenant"] is None for r in refused)
    assert kept["tenant"]["afosto"] == {"afostoTenantId": ours}  # nothing written
    # A token of the account does not let another tenant take it while it is linked.
    assert taken["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert own["linkAfostoTenant"] == {"afostoTenantId": ours}


async def test_an_admin_creates_a_channel_links_it_to_a_store_and_unlinks_it(fresh_api: Api) -> None:
    api = fresh_api
    alice = await signed(api, "alice")
    store = await first_store(api, alice)
    linked = {c["id"] for c in store["salesChannels"]["nodes"]}
    created = await api.data(
        'mutation($t: String!) { createSalesChannel(tenantUid: $t, input: {name: "Pop-up", type: POS}) '
        "{ id sourceId name type store { id } } }",
        {"t": ACME},
        **alice,
    )
    channel = created["createSalesChannel"]
    assert channel["name"] == "Pop-up"
    assert channel["type"] == "POS"
    assert channel["store"] is None  # not linked to a store yet

    # By its Afosto id (sourceId), within the store's tenant.
    added = await api.data(
        "mutation($s: ID!, $c: ID!) { linkStoreSalesChannel(storeId: $s, channelId: $c) "
        "{ salesChannels(first: 20) { nodes { id store { id } } } } }",
        {"s": store["id"], "c": channel["sourceId"]},
        **alice,
    )
    nodes = added["linkStoreSalesChannel"]["salesChannels"]["nodes"]
    assert {c["id"] for c in nodes} == linked | {channel["id"]}
    assert all(c["store"] == {"id": store["id"]} for c in nodes if c["id"] == channel["id"])
    # By its global id.
    removed = await api.data(
        "mutation($s: ID!, $c: ID!) { unlinkStoreSalesChannel(storeId: $s, channelId: $c) "
        "{ salesChannels(first: 20) { nodes { id } } } }",
        {"s": store["id"], "c": channel["id"]},
        **alice,
    )
    assert {c["id"] for c in removed["unlinkStoreSalesChannel"]["salesChannels"]["nodes"]} == linked


async def test_a_channel_the_tenants_afosto_does_not_have_is_not_found(api: Api) -> None:
    alice = await signed(api, "alice")
    store = await first_store(api, alice)
    error = await api.error(
        'mutation($s: ID!) { linkStoreSalesChannel(storeId: $s, channelId: "no-such-channel") { id } }',
        {"s": store["id"]},
        **alice,
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await api.error(
        'mutation($s: ID!) { linkStoreSalesChannel(storeId: $s, channelId: "U3RvcmU6MQ==") { id } }',  # Store:1
        {"s": store["id"]},
        **alice,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # A text that decodes to a linked channel's key but is not its id: refused, nothing unlinked.
    linked = [c["id"] for c in store["salesChannels"]["nodes"] if c["id"].endswith("=")]
    error = await api.error(
        "mutation($s: ID!, $c: ID!) { unlinkStoreSalesChannel(storeId: $s, channelId: $c) { id } }",
        {"s": store["id"], "c": loose(linked[0])},
        **alice,
    )
    assert (error["extensions"]["code"], error["extensions"].get("reason")) == ("BAD_USER_INPUT", "NOT_A_GLOBAL_ID")
    # A padding character more or less is an altered id too; another type's global id (a Store's,
    # which is no Afosto record) is a mistake, WRONG_TYPE, not a lookup of what it spells.
    for value, reason in ((linked[0] + "=", "NOT_A_GLOBAL_ID"), (store["id"], "WRONG_TYPE")):
        error = await api.error(
            "mutation($s: ID!, $c: ID!) { unlinkStoreSalesChannel(storeId: $s, channelId: $c) { id } }",
            {"s": store["id"], "c": value},
            **alice,
        )
        assert (error["extensions"]["code"], error["extensions"].get("reason")) == ("BAD_USER_INPUT", reason), value
    assert (await first_store(api, alice))["salesChannels"] == store["salesChannels"]


# ---------------------------------------------------------------------------------------------
# Who may


async def test_another_tenants_afosto_data_is_refused(api: Api) -> None:
    bob = await signed(api, "bob")  # acme-retail
    store = await first_store(api, await signed(api, "carol"), NORDIC)

    body = await api.post(
        "query($s: ID!) { store(id: $s) { name salesChannels { totalCount } stockLocation { id } "
        "products(first: 3) { nodes { sku prices { nodes { amount } } } } } }",
        {"s": store["id"]},
        **bob,
    )
    codes = Counter(e["extensions"]["code"] for e in body["errors"])
    assert set(codes) == {"FORBIDDEN"}
    data = body["data"]["store"]
    assert data["salesChannels"] is None
    assert data["stockLocation"] is None
    products = data["products"]["nodes"]
    assert all(p["sku"] for p in products)  # a SKU is public
    assert all(p["prices"] is None for p in products)  # the prices are the tenant's


async def test_a_device_token_and_a_customer_read_no_afosto_data(api: Api) -> None:
    dave = await signed(api, "dave")  # a customer of no tenant
    body = await api.post("{ products(first: 3) { nodes { sku prices { totalCount } stock { totalCount } } } }", **dave)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert all(p["prices"] is None and p["sku"] for p in body["data"]["products"]["nodes"])


async def test_afosto_writes_need_the_tenants_admin(api: Api) -> None:
    bob = await signed(api, "bob")  # a member, not an admin
    error = await api.error(
        'mutation { upsertPrices(tenantUid: "acme-retail", priceGroupId: "x", prices: []) { id } }', **bob
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    carol = await signed(api, "carol")  # nordic's admin
    store = await first_store(api, await signed(api, "alice"))
    error = await api.error(
        "mutation($s: ID!) { setStoreStockLocation(storeId: $s, locationId: null) { id } }",
        {"s": store["id"]},
        **carol,
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


# ---------------------------------------------------------------------------------------------
# Writes


async def price_group(api: Api, who: dict[str, Any], name: str = "retail") -> dict[str, Any]:
    data = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { priceGroups { nodes "
        "{ id sourceId name currency } } } } }",
        {"t": ACME},
        **who,
    )
    return next(g for g in data["tenant"]["afosto"]["priceGroups"]["nodes"] if g["name"] == name)


async def test_upserted_prices_are_read_back_through_the_product(fresh_api: Api) -> None:
    api = fresh_api
    alice = await signed(api, "alice")
    group = await price_group(api, alice)
    product = (await first_store(api, alice))["products"]["nodes"][0]

    written = await api.data(
        "mutation($t: String!, $g: ID!, $p: [PriceInput!]!) { upsertPrices(tenantUid: $t, priceGroupId: $g, "
        "prices: $p) { sku amount amountMinor originalAmount currency priceGroup { name } } }",
        {"t": ACME, "g": group["id"], "p": [{"sku": product["sku"], "amount": "12.5", "originalAmount": "15"}]},
        **alice,
    )
    assert written["upsertPrices"] == [
        {
            "sku": product["sku"],
            "amount": "12.50",
            "amountMinor": 1250,
            "originalAmount": "15.00",
            "currency": "EUR",
            "priceGroup": {"name": "retail"},
        }
    ]
    read = await api.data(
        'query($p: ID!) { product(id: $p) { prices(priceGroup: "retail") { nodes { amount } } } }',
        {"p": product["id"]},
        **alice,
    )
    assert {"amount": "12.50"} in read["product"]["prices"]["nodes"]


@pytest.mark.parametrize(
    ("prices", "field"),
    [
        ([{"sku": "SKU-000001", "amount": "12.345"}], "prices.0.amount"),
        ([{"sku": "SKU-000002", "amount": "1.00"}, {"sku": "SKU-000001", "amount": "12.345"}], "prices.1.amount"),
        ([{"sku": "SKU-000001", "amount": "1.00", "originalAmount": "x"}], "prices.0.originalAmount"),
        ([{"sku": "SKU-000001", "amount": "99999999.00"}], "prices.0.amount"),
        ([{"sku": "SKU-000001", "amount": "-1"}], "prices.0.amount"),
        ([{"sku": "SKU-000001", "amount": "1e5"}], "prices.0.amount"),
        ([{"sku": "", "amount": "1.00"}], "prices.0.sku"),
        ([{"sku": "SKU-000002", "amount": "1.00"}, {"sku": "SKU 1", "amount": "1.00"}], "prices.1.sku"),
        ([{"sku": "S" * 65, "amount": "1.00"}], "prices.0.sku"),
        ([{"sku": "SKU-000001", "amount": "1.00"}] * 2, "prices.1.sku"),
        ([{"sku": f"SKU-{i:06d}", "amount": "1.00"} for i in range(101)], "prices"),
    ],
)
async def test_bad_prices_are_refused_before_anything_is_written(
    api: Api, prices: list[dict[str, Any]], field: str
) -> None:
    alice = await signed(api, "alice")
    group = await price_group(api, alice)
    error = await api.error(
        'mutation($g: ID!, $p: [PriceInput!]!) { upsertPrices(tenantUid: "acme-retail", priceGroupId: $g, '
        "prices: $p) { id } }",
        {"g": group["id"], "p": prices},
        **alice,
    )
    # `field` is the input's path, as the argument rules name it (`prices.sku`), whichever rule refused.
    assert (error["extensions"]["code"], error["extensions"].get("field")) == ("BAD_USER_INPUT", field), error


async def test_prices_for_a_group_the_tenant_lacks_are_not_found_at_price_group_id(api: Api) -> None:
    alice = await signed(api, "alice")
    error = await api.error(
        'mutation { upsertPrices(tenantUid: "acme-retail", priceGroupId: "no-such-group", '
        'prices: [{sku: "SKU-000001", amount: "1.00"}]) { id } }',
        **alice,
    )
    assert (error["extensions"]["code"], error["extensions"].get("field")) == ("NOT_FOUND", "priceGroupId"), error


async def test_stock_set_by_an_admin_shows_at_the_location(fresh_api: Api) -> None:
    api = fresh_api
    alice = await signed(api, "alice")
    store = await first_store(api, alice)
    sku = store["products"]["nodes"][0]["sku"]

    written = await api.data(
        "mutation($t: String!, $l: ID!, $s: String!) { setStock(tenantUid: $t, locationId: $l, "
        "levels: [{sku: $s, available: 7}]) { sku available location { id } } }",
        {"t": ACME, "l": store["stockLocation"]["id"], "s": sku},
        **alice,
    )
    assert written["setStock"] == [{"sku": sku, "available": 7, "location": {"id": store["stockLocation"]["id"]}}]
    refused = await api.error(
        'mutation($l: ID!) { setStock(tenantUid: "acme-retail", locationId: $l, levels: [{sku: "A", available: -1}]) '
        "{ sku } }",
        {"l": store["stockLocation"]["id"]},
        **alice,
    )
    assert refused["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_order_created_twice_with_one_key_is_one_order_then_lines_then_cancel(fresh_api: Api) -> None:
    api = fresh_api
    bob = await signed(api, "bob")  # a member may order
    store = await first_store(api, await signed(api, "alice"))
    channel = store["salesChannels"]["nodes"][0]
    skus = [p["sku"] for p in store["products"]["nodes"]]
    create = (
        "mutation($t: String!, $i: OrderInput!, $k: String!) { createOrder(tenantUid: $t, input: $i, "
        "idempotencyKey: $k) { id number status channel { id } lines { nodes { sku quantity } } } }"
    )
    variables = {"t": ACME, "i": {"channelId": channel["id"], "lines": [{"sku": skus[0], "quantity": 2}]}, "k": "k-1"}

    first = (await api.data(create, variables, **bob))["createOrder"]
    again = (await api.data(create, variables, **bob))["createOrder"]
    assert again["id"] == first["id"]
    assert again["number"] == first["number"]
    assert first["status"] == "OPEN"
    assert first["channel"]["id"] == channel["id"]
    assert first["lines"]["nodes"] == [{"sku": skus[0], "quantity": 2}]

    added = await api.data(
        "mutation($o: ID!, $s: String!) { addOrderLines(orderId: $o, lines: [{sku: $s, quantity: 3}]) "
        "{ id lines { nodes { sku quantity } } } }",
        {"o": first["id"], "s": skus[1]},
        **bob,
    )
    assert {"sku": skus[1], "quantity": 3} in added["addOrderLines"]["lines"]["nodes"]

    task = (
        await api.data(
            "mutation($o: ID!) { cancelOrder(orderId: $o) { id sourceId progress } }", {"o": first["id"]}, **bob
        )
    )["cancelOrder"]
    polled = await api.data(
        "query($t: String!, $i: ID!) { afostoTask(tenantUid: $t, id: $i) { id completedAt } }",
        {"t": ACME, "i": task["sourceId"]},
        **bob,
    )
    assert polled["afostoTask"]["id"] == task["id"]
    # Its global id polls it too (the README: an id, or a sourceId where the field names the tenant).
    by_id = await api.data(
        "query($t: String!, $i: ID!) { afostoTask(tenantUid: $t, id: $i) { id } }", {"t": ACME, "i": task["id"]}, **bob
    )
    assert by_id["afostoTask"] == {"id": task["id"]}
    elsewhere = await api.error(
        "query($t: String!, $i: ID!) { afostoTask(tenantUid: $t, id: $i) { id } }",
        {"t": NORDIC, "i": task["id"]},
        **await signed(api, "carol"),
    )
    assert elsewhere["extensions"]["code"] == "BAD_USER_INPUT"

    # The task is a Node: its id refetches it for the tenant's people, not for another tenant's.
    refetch = "query($i: ID!) { node(id: $i) { id ... on AfostoTask { sourceId } } }"
    again_polled = await api.data(refetch, {"i": task["id"]}, **bob)
    assert again_polled["node"] == {"id": task["id"], "sourceId": task["sourceId"]}
    refused = await api.post(refetch, {"i": task["id"]}, **await signed(api, "carol"))
    assert refused["data"]["node"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_a_price_from_a_time_without_offset_is_answered_as_written_in_both_modes(fresh_api: Api) -> None:
    """A tester's upstream upsert of a price from 2019-03-03T00:00:00 (no offset) answered another
    price of the SKU (one from 9999); local mode answered the one written."""
    api = fresh_api
    alice = await signed(api, "alice")
    group = await price_group(api, alice)
    sku = (await first_store(api, alice))["products"]["nodes"][0]["sku"]
    upsert = (
        "mutation($t: String!, $g: ID!, $p: [PriceInput!]!) { upsertPrices(tenantUid: $t, priceGroupId: $g, "
        "prices: $p) { sku amount activeAt } }"
    )
    await api.data(
        upsert,
        {"t": ACME, "g": group["id"], "p": [{"sku": sku, "amount": "1.11", "activeAt": "9999-12-31T23:59:59Z"}]},
        **alice,
    )

    written = await api.data(
        upsert,
        {"t": ACME, "g": group["id"], "p": [{"sku": sku, "amount": "9.99", "activeAt": "2019-03-03T00:00:00"}]},
        **alice,
    )

    assert written["upsertPrices"] == [{"sku": sku, "amount": "9.99", "activeAt": "2019-03-03T00:00:00+00:00"}]


async def test_a_user_signed_in_on_a_device_orders_adds_lines_and_cancels_a_device_token_cannot(
    fresh_api: Api,
) -> None:
    """A tester's access token (bob on one of acme's devices) could create an order but not add
    lines to it or cancel it (FORBIDDEN, "needs a signed-in user"): all three are members'."""
    api = fresh_api
    _, device_token, access_token = await link_and_sign_in(api)
    afosto = (await signed(api, "bob"))["headers"]  # upstream: the tenant's Afosto token, as a frontend sends it
    store = await first_store(api, await signed(api, "alice"))
    channel, sku = store["salesChannels"]["nodes"][0]["id"], store["products"]["nodes"][0]["sku"]
    create = (
        "mutation($t: String!, $i: OrderInput!, $k: String!) { createOrder(tenantUid: $t, input: $i, "
        "idempotencyKey: $k) { id lines { nodes { sku quantity } } } }"
    )
    add = "mutation($o: ID!, $s: String!) { addOrderLines(orderId: $o, lines: [{sku: $s, quantity: 2}]) { id } }"
    cancel = "mutation($o: ID!) { cancelOrder(orderId: $o) { sourceId } }"
    lines = "query($o: ID!) { node(id: $o) { ... on Order { status lines { nodes { sku quantity } } } } }"
    order = {"t": ACME, "i": {"channelId": channel, "lines": [{"sku": sku, "quantity": 1}]}}

    as_device = {"token": device_token, "headers": afosto}
    refused = await api.error(create, {**order, "k": "on-device-0"}, **as_device)
    assert refused["extensions"]["code"] == "FORBIDDEN", refused
    as_person = {"token": access_token, "headers": afosto}
    made = (await api.data(create, {**order, "k": "on-device-1"}, **as_person))["createOrder"]
    for sent, variables in ((add, {"o": made["id"], "s": sku}), (cancel, {"o": made["id"]})):
        refused = await api.error(sent, variables, **as_device)
        assert refused["extensions"]["code"] == "FORBIDDEN", refused
    alice = await signed(api, "alice")
    assert (await api.data(lines, {"o": made["id"]}, **alice))["node"]["lines"]["nodes"] == [
        {"sku": sku, "quantity": 1}
    ]  # nothing the device token sent was written

    await api.data(add, {"o": made["id"], "s": sku}, **as_person)
    task = (await api.data(cancel, {"o": made["id"]}, **as_person))["cancelOrder"]
    assert task["sourceId"]
    assert (await api.data(lines, {"o": made["id"]}, **alice))["node"]["lines"]["nodes"] == [
        {"sku": sku, "quantity": 3}
    ]


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_time_whose_utc_instant_is_past_year_1_or_9999_is_bad_input_read_or_written(
    fresh_api: Api, at: str
) -> None:
    """A tester's `activeAt` of 0001-01-01T00:00:00+14:00 failed the field with
    INTERNAL_SERVER_ERROR (its UTC instant is in year 0): refused as input, nothing written."""
    api = fresh_api
    alice = await signed(api, "alice")
    group = await price_group(api, alice)
    product = (await first_store(api, alice))["products"]["nodes"][0]
    before = (await api.data(PRICES_AT, {"p": product["id"]}, **alice))["product"]["prices"]

    read = await api.error(PRICES_AT, {"p": product["id"], "at": at}, **alice)
    upsert = (
        "mutation($t: String!, $g: ID!, $p: [PriceInput!]!) { upsertPrices(tenantUid: $t, priceGroupId: $g, "
        "prices: $p) { sku } }"
    )
    written = await api.error(
        upsert, {"t": ACME, "g": group["id"], "p": [{"sku": product["sku"], "amount": "1.00", "activeAt": at}]}, **alice
    )
    literal = await api.error(
        f'query($p: ID!) {{ product(id: $p) {{ prices(activeAt: "{at}") {{ totalCount }} }} }}',
        {"p": product["id"]},
        **alice,
    )

    assert read["extensions"]["code"] == written["extensions"]["code"] == "BAD_USER_INPUT", (read, written)
    assert "outside the years 1 to 9999" in read["message"], read
    assert literal["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", literal
    for later in ("2000-01-01T00:00:00Z", None):
        found = (await api.data(PRICES_AT, {"p": product["id"], "at": later}, **alice))["product"]["prices"]
        assert found == before, found  # nothing was written


async def test_no_orders_asked_for_still_tell_whether_there_are_any(api: Api) -> None:
    """`orders(first: 0)` upstream answered totalCount 0 and no next page: a client probing with
    it concluded the tenant had no orders."""
    alice = await signed(api, "alice")
    probe = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { orders(first: 0) { totalCount "
        "pageInfo { hasNextPage } nodes { id } } } } }",
        {"t": ACME},
        **alice,
    )
    orders = probe["tenant"]["afosto"]["orders"]
    assert orders["nodes"] == []
    assert orders["totalCount"] >= 1
    assert orders["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"sku": "SKU-000001", "quantity": 0}], "input.lines.0.quantity"),
        ([{"sku": "SKU-000002", "quantity": 1}, {"sku": "SKU-000001", "quantity": 10_001}], "input.lines.1.quantity"),
        ([], "input.lines"),
        ([{"sku": "SKU-000001", "quantity": 1}, {"sku": "SKU-000001", "quantity": 1}], "input.lines.1.sku"),
        (
            [{"sku": "SKU-000001", "quantity": 1}, {"sku": "NO-SUCH-SKU", "quantity": 1}],
            "input.lines.1.sku",
        ),  # no price
    ],
)
async def test_bad_order_lines_are_refused(api: Api, lines: list[dict[str, Any]], field: str) -> None:
    """Refused with the input's path in `field`, as the argument rules name it, whichever check
    (the graph's rules, its own, or the backend's in either mode) refused."""
    bob = await signed(api, "bob")
    channel = (await first_store(api, await signed(api, "alice")))["salesChannels"]["nodes"][0]["id"]
    error = await api.error(
        'mutation($i: OrderInput!) { createOrder(tenantUid: "acme-retail", input: $i, idempotencyKey: "bad") { id } }',
        {"i": {"channelId": channel, "lines": lines}},
        **bob,
    )
    assert (error["extensions"]["code"], error["extensions"].get("field")) == ("BAD_USER_INPUT", field), error


async def test_a_line_the_backend_refuses_is_named_by_its_index(fresh_api: Api) -> None:
    """The backends judge a line by its SKU (its price, its units added to the order's); the
    error names the line's place in the input, in both modes."""
    api = fresh_api
    alice = await signed(api, "alice")
    store = await first_store(api, alice)
    channel = store["salesChannels"]["nodes"][0]["id"]
    skus = [p["sku"] for p in store["products"]["nodes"]]
    created = await api.data(
        'mutation($i: OrderInput!) { createOrder(tenantUid: "acme-retail", input: $i, idempotencyKey: "idx") { id } }',
        {"i": {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 2}]}},
        **alice,
    )
    error = await api.error(
        "mutation($o: ID!, $l: [OrderLineInput!]!) { addOrderLines(orderId: $o, lines: $l) { id } }",
        {
            "o": created["createOrder"]["id"],
            "l": [{"sku": skus[1], "quantity": 1}, {"sku": skus[0], "quantity": 9_999}],
        },
        **alice,
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "lines.1.quantity"), error
    error = await api.error(
        'mutation($i: OrderInput!) { createOrder(tenantUid: "acme-retail", input: $i, idempotencyKey: "idx-2") '
        "{ id } }",
        {
            "i": {
                "channelId": channel,
                "lines": [{"sku": skus[0], "quantity": 1}, {"sku": "NO-SUCH-SKU", "quantity": 1}],
            }
        },
        **alice,
    )
    assert (error["extensions"]["field"], error["extensions"]["skus"]) == ("input.lines.1.sku", ["NO-SUCH-SKU"])
    assert error["message"].startswith("`input.lines`"), error


async def test_an_order_naming_a_customer_the_tenant_lacks_is_not_found_at_its_input_path(api: Api) -> None:
    bob = await signed(api, "bob")
    channel = (await first_store(api, await signed(api, "alice")))["salesChannels"]["nodes"][0]["id"]
    order = {"channelId": channel, "customerId": "no-such-customer", "lines": [{"sku": "SKU-000001", "quantity": 1}]}
    error = await api.error(
        'mutation($i: OrderInput!) { createOrder(tenantUid: "acme-retail", input: $i, idempotencyKey: "nc") { id } }',
        {"i": order},
        **bob,
    )
    assert (error["extensions"]["code"], error["extensions"].get("field")) == ("NOT_FOUND", "input.customerId"), error


# ---------------------------------------------------------------------------------------------
# Global ids: every commerce record with an Afosto id is a Node

NODE_TYPES = ("SalesChannel", "PriceGroup", "Location", "PostalAddress", "Customer", "Order", "PrintHub", "Printer")
NODE_TYPES += ("AfostoUser", "AfostoPlan", "AfostoTask")
ON_EACH = " ".join(f"... on {name} {{ sourceId }}" for name in NODE_TYPES)
REFETCH = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ __typename id {ON_EACH} }} }}"
EVERY_ID = """
query($t: String!) { tenant(tenantUid: $t) { afosto {
  users { nodes { __typename id sourceId } }
  salesChannels { nodes { __typename id sourceId } }
  priceGroups { nodes { __typename id sourceId } }
  locations { nodes { __typename id sourceId address { __typename id sourceId } } }
  printHubs { nodes { __typename id sourceId printers { nodes { __typename id sourceId } } } }
  plans { nodes { __typename id sourceId } }
  orders(first: 3) { nodes { __typename id sourceId channel { __typename id sourceId }
    customer { __typename id sourceId } shippingAddress { __typename id sourceId }
    billingAddress { __typename id sourceId } } }
} } }
"""


def objects(value: Any) -> list[dict[str, Any]]:
    """Every object with a `__typename` in an answer, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "__typename" in value:
            found.append({k: value[k] for k in ("__typename", "id", "sourceId")})
        for inner in value.values():
            found.extend(objects(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(objects(inner))
    return found


async def test_every_commerce_id_a_query_answers_refetches_to_the_same_object(api: Api) -> None:
    alice = await signed(api, "alice")
    answered = objects(await api.data(EVERY_ID, {"t": ACME}, **alice))
    unique = list({o["id"]: o for o in answered}.values())
    assert {o["__typename"] for o in unique} == set(NODE_TYPES) - {"AfostoTask"}  # tasks: the cancel test

    refetched = await api.data(REFETCH, {"ids": [o["id"] for o in unique]}, **alice)
    assert refetched["nodes"] == unique
    one = await api.data("query($i: ID!) { node(id: $i) { id } }", {"i": unique[0]["id"]}, **alice)
    assert one["node"] == {"id": unique[0]["id"]}

    # Another tenant's person: each id null with FORBIDDEN, as on every other road to the record.
    refused = await api.post(REFETCH, {"ids": [o["id"] for o in unique]}, **await signed(api, "carol"))
    assert refused["data"]["nodes"] == [None] * len(unique)
    assert Counter(e["extensions"]["code"] for e in refused["errors"]) == {"FORBIDDEN": len(unique)}


async def test_ids_the_caller_could_never_see_are_refused_by_facade_before_afosto_is_asked(api: Api) -> None:
    """A commerce id names its tenant: another tenant's person, or nobody signed in, is refused on
    the key, with facade's own words in both modes, and no Afosto call is made (upstream, Afosto
    was asked first and its refusal answered, worded as Afosto's)."""
    alice = await signed(api, "alice")
    ids = [o["id"] for o in objects(await api.data(EVERY_ID, {"t": ACME}, **alice))]
    sandbox = None
    if mode() == "upstream":
        from support.sandbox import SandboxControl

        sandbox = SandboxControl(api.store.sandbox_url)
        await sandbox.calls()

    carol = await api.post(REFETCH, {"ids": ids}, **await signed(api, "carol"))
    nobody = await api.post(REFETCH, {"ids": ids})

    assert carol["data"]["nodes"] == nobody["data"]["nodes"] == [None] * len(ids)
    assert {(e["extensions"]["code"], e["message"]) for e in carol["errors"]} == {
        ("FORBIDDEN", "You may not see this: it belongs to another tenant or user.")
    }
    assert {e["extensions"]["code"] for e in nobody["errors"]} == {"UNAUTHENTICATED"}
    if sandbox is not None:
        calls = await sandbox.calls()
        await sandbox.http.aclose()
        assert {k: v for k, v in calls.items() if "afosto" in k} == {}


async def test_an_id_of_a_record_afosto_does_not_have_is_null_and_a_malformed_key_is_bad_input(api: Api) -> None:
    alice = await signed(api, "alice")
    missing = await api.data(
        "query($i: ID!) { node(id: $i) { id } }", {"i": global_id("Order", ACME, "no-such-order")}, **alice
    )
    assert missing["node"] is None
    task = await api.post(
        'query($t: String!) { afostoTask(tenantUid: $t, id: "no-such-task") { id } }', {"t": ACME}, **alice
    )
    assert [e["extensions"]["code"] for e in task["errors"]] == ["NOT_FOUND"]
    for key in ("no-colon", f"{ACME}:", f"{ACME}:bad id"):
        body = await api.post("query($i: ID!) { node(id: $i) { id } }", {"i": encode("Customer", key)}, **alice)
        assert body["errors"][0]["extensions"]["reason"] == "BAD_KEY", key


def global_id(type_name: str, tenant: str, source: str) -> str:
    return encode(type_name, f"{tenant}:{source}")


def encode(type_name: str, key: str) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


# ---------------------------------------------------------------------------------------------
# A product's Afosto lists are its SKU's tenant's


async def test_another_tenants_product_without_afosto_data_is_refused_and_one_without_a_sku_is_empty(
    fresh_api: Api,
) -> None:
    api = fresh_api
    carol = await signed(api, "carol")  # nordic-bakeries' admin
    product = (await first_store(api, carol, NORDIC))["products"]["nodes"][0]
    lists = (
        "query($p: ID!) { product(id: $p) { sku prices { totalCount } stock { totalCount } "
        "orderLines { totalCount } } }"
    )
    empty = {"prices": {"totalCount": 0}, "stock": {"totalCount": 0}, "orderLines": {"totalCount": 0}}

    # A SKU Afosto has no price, stock or order line of.
    await api.data(
        'mutation($p: ID!) { setProductSku(productId: $p, sku: "SKU-NO-DATA") { id } }', {"p": product["id"]}, **carol
    )
    assert (await api.data(lists, {"p": product["id"]}, **carol))["product"] == {"sku": "SKU-NO-DATA", **empty}
    for login in ("bob", "dave"):  # another tenant's person; a customer of no tenant
        body = await api.post(lists, {"p": product["id"]}, **await signed(api, login))
        assert body["data"]["product"] == {"sku": "SKU-NO-DATA", "prices": None, "stock": None, "orderLines": None}
        assert Counter(e["extensions"]["code"] for e in body["errors"]) == {"FORBIDDEN": 3}, login

    # Without a SKU a product has no Afosto data: empty lists for any person of a tenant.
    await api.data(
        "mutation($p: ID!) { setProductSku(productId: $p, sku: null) { id } }", {"p": product["id"]}, **carol
    )
    for login in ("carol", "bob"):
        assert (await api.data(lists, {"p": product["id"]}, **await signed(api, login)))["product"] == {
            "sku": None,
            **empty,
        }


# ---------------------------------------------------------------------------------------------
# What a nested query costs


@pytest.fixture(scope="module")
async def counted(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Twins]:
    # 200 products: 10 stores, four of them acme-retail's.
    twins = await Twins.open(tmp_path_factory.mktemp("commerce-calls"), 200)
    yield twins
    await twins.aclose()


async def calls_of(
    twins: Twins, query: str, variables: dict[str, Any], who: dict[str, Any]
) -> tuple[Counter[str], dict[str, Any]]:
    """The backend calls one request makes (per domain.method), and its data; in upstream mode
    the sandbox's Afosto calls (per route) as `afosto:<route>` too."""
    sandbox = None
    if mode() == "upstream":
        from support.sandbox import SandboxControl

        sandbox = SandboxControl(twins.backend.inner.sandbox_url)
        await sandbox.calls()
    twins.backend.calls.clear()
    response = await twins.post(twins.compiled, query, variables, **who)
    body = response.json()
    assert "errors" not in body, body["errors"]
    counted = Counter(twins.backend.calls)
    if sandbox is not None:
        # The tenant check aside: the first request of a token makes it, its later ones do not
        # (test_the_tenant_check_is_made_once_per_token), so it is no cost of one request.
        made = await sandbox.calls()
        counted.update({f"afosto:{k}": v for k, v in made.items() if "afosto" in k and k != TENANT_CHECK})
        await sandbox.http.aclose()
    return counted, body["data"]


async def test_a_stores_nested_afosto_query_costs_the_same_calls_at_two_sizes(counted: Twins) -> None:
    alice = await signed(counted.api, "alice")
    small, small_data = await calls_of(counted, STORES, {"t": ACME, "n": 1, "m": 2}, alice)
    large, large_data = await calls_of(counted, STORES, {"t": ACME, "n": 3, "m": 10}, alice)

    stores = large_data["tenant"]["stores"]["nodes"]
    assert len(stores) > len(small_data["tenant"]["stores"]["nodes"])
    assert sum(len(s["products"]["nodes"]) for s in stores) > 10
    assert small == large, (small, large)
    print(f"\nstores nested Afosto query ({mode()} mode): {sum(large.values())} calls: {dict(sorted(large.items()))}")  # noqa: T201
    # One call per entity type per level: the tenant's channels, locations and price groups read
    # once, stock once per level (the stores', the products'), prices once per price group.
    assert large["commerce.channels"] == large["commerce.locations"] == large["commerce.price_groups"] == 1
    assert large["commerce.stock_by_location"] == large["commerce.stock_by_sku"] == 1
    assert large["commerce.prices"] == 2
    assert large["links.afosto_tenants"] == 1
    if mode() == "upstream":  # at the sandbox: the 7 reads above (the tenant check aside, see calls_of)
        assert afosto_calls(large) == {
            "GET /afosto/cat/channels": 1,
            "GET /afosto/wms/locations": 1,
            "GET /afosto/cat/groups": 1,
            "POST /afosto/cat/groups/{id}/prices": 2,
            "POST /afosto/wms/inventory": 2,
        }


async def test_a_tenants_orders_with_their_edges_cost_the_same_calls_at_two_sizes(counted: Twins) -> None:
    alice = await signed(counted.api, "alice")
    small, small_data = await calls_of(counted, ORDERS, {"t": ACME, "n": 3}, alice)
    large, large_data = await calls_of(counted, ORDERS, {"t": ACME, "n": 15}, alice)

    assert len(large_data["tenant"]["afosto"]["orders"]["nodes"]) == 15
    assert small == large, (small, large)
    print(f"\ntenant orders query ({mode()} mode): {sum(large.values())} calls: {dict(sorted(large.items()))}")  # noqa: T201
    for read in ("order_page", "channels", "customers", "addresses", "order_lines"):
        assert large[f"commerce.{read}"] == 1, read
    assert large["links.stores_by_channel"] == large["links.products_by_sku"] == 1
    if mode() == "upstream":
        assert afosto_calls(large) == {
            "GET /afosto/odr/orders": 1,
            "GET /afosto/cat/channels": 1,
            "POST /afosto/rel/contacts": 1,
            "POST /afosto/rel/search/address": 1,
            "POST /afosto/odr/search/orders/items": 1,
        }


async def test_the_ids_of_one_commerce_type_are_one_read_of_it(counted: Twins) -> None:
    alice = await signed(counted.api, "alice")
    listed = await counted.api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { orders(first: 6) { nodes { id "
        "customer { id } shippingAddress { id } } } } } }",
        {"t": ACME},
        **alice,
    )
    orders = listed["tenant"]["afosto"]["orders"]["nodes"]
    ids = (
        [o["id"] for o in orders] + [o["customer"]["id"] for o in orders] + [o["shippingAddress"]["id"] for o in orders]
    )
    calls, data = await calls_of(counted, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}, alice)

    assert [n["id"] for n in data["nodes"]] == ids
    assert calls["commerce.orders"] == calls["commerce.customers"] == calls["commerce.addresses"] == 1
    assert calls["links.afosto_tenants"] == 1
    if mode() == "upstream":
        assert afosto_calls(calls) == {
            "POST /afosto/odr/search/orders": 1,
            "POST /afosto/rel/contacts": 1,
            "POST /afosto/rel/search/address": 1,
        }


TENANT_CHECK = "GET /afosto/iam/tenants/{id}"


def afosto_calls(counted: Counter[str]) -> dict[str, int]:
    return {name.removeprefix("afosto:"): n for name, n in counted.items() if name.startswith("afosto:")}


# ---------------------------------------------------------------------------------------------
# Read paths of prices and orders: the prices in effect, the orders' order, `number`


PRICES_AT = """
query($p: ID!, $at: DateTime) { product(id: $p) { prices(priceGroup: "retail", activeAt: $at) {
  totalCount nodes { sku amount activeAt } } } }
"""


async def test_a_products_prices_are_those_in_effect_now_unless_active_at_says_when(fresh_api: Api) -> None:
    api = fresh_api
    alice = await signed(api, "alice")
    group = await price_group(api, alice)
    product = (await first_store(api, alice))["products"]["nodes"][0]
    before = (await api.data(PRICES_AT, {"p": product["id"]}, **alice))["product"]["prices"]
    assert before["totalCount"] == 1, before  # the seeded (undated) price

    upsert = (
        "mutation($t: String!, $g: ID!, $p: [PriceInput!]!) { upsertPrices(tenantUid: $t, priceGroupId: $g, "
        "prices: $p) { sku } }"
    )
    sku = product["sku"]
    planned = {"sku": sku, "amount": "5.55", "activeAt": "2099-01-01T00:00:00Z"}
    await api.data(upsert, {"t": ACME, "g": group["id"], "p": [planned]}, **alice)

    def prices(answer: dict[str, Any]) -> list[dict[str, Any]]:
        return answer["product"]["prices"]["nodes"]  # type: ignore[no-any-return]

    # Without activeAt: now, so the planned price is not yet in effect.
    assert prices(await api.data(PRICES_AT, {"p": product["id"]}, **alice)) == before["nodes"]
    # At or after its activeAt, the planned price alone.
    for at in ("2099-01-01T00:00:00Z", "2099-06-01T00:00:00Z"):
        assert prices(await api.data(PRICES_AT, {"p": product["id"], "at": at}, **alice)) == [
            {"sku": sku, "amount": "5.55", "activeAt": "2099-01-01T00:00:00+00:00"}
        ]
    # A dated price already in effect wins over the undated one ("always"): the latest dated
    # at or before the instant.
    started = {"sku": sku, "amount": "4.44", "activeAt": "2020-01-01T00:00:00Z"}
    await api.data(upsert, {"t": ACME, "g": group["id"], "p": [started]}, **alice)
    assert prices(await api.data(PRICES_AT, {"p": product["id"]}, **alice)) == [
        {"sku": sku, "amount": "4.44", "activeAt": "2020-01-01T00:00:00+00:00"}
    ]
    assert (
        prices(await api.data(PRICES_AT, {"p": product["id"], "at": "2019-12-31T23:59:59Z"}, **alice))
        == (before["nodes"])
    )


def encode_cursor(position: int) -> str:
    from facade.models import encode_cursor as encoded

    return encoded(position)


ORDER_LIST = """
query($t: String!, $n: Int!, $after: String, $d: SortDirection) { tenant(tenantUid: $t) { afosto {
  orders(first: $n, after: $after, sortDirection: $d) { nodes { sourceId number createdAt } } } } }
"""


async def test_a_page_of_orders_past_the_end_is_empty_and_counts_no_more_than_there_are(api: Api) -> None:
    """Upstream, totalCount is a lower bound (Afosto does not count orders): past the end it
    answered the cursor's position (1,001 over 20 orders)."""
    alice = await signed(api, "alice")
    query = ORDER_LIST.replace(
        "nodes { sourceId number createdAt }", "totalCount pageInfo { hasNextPage } nodes { id }"
    )
    every = await api.data(ORDER_LIST, {"t": ACME, "n": 100}, **alice)
    count = len(every["tenant"]["afosto"]["orders"]["nodes"])
    for position in (count - 1, count + 1, 1_000):
        for first in (1, 3, count):
            data = await api.data(query, {"t": ACME, "n": first, "after": encode_cursor(position)}, **alice)
            orders = data["tenant"]["afosto"]["orders"]
            assert orders["nodes"] == []
            assert orders["pageInfo"]["hasNextPage"] is False
            assert orders["totalCount"] <= count, (position, first, orders)
            if mode() == "local" or position == count - 1:
                # After the last order's own cursor the count is whole, whatever `first` is.
                assert orders["totalCount"] == count, (position, first, orders)


async def test_orders_come_newest_first_by_creation_time_then_id(api: Api) -> None:
    alice = await signed(api, "alice")
    data = await api.data(ORDER_LIST, {"t": ACME, "n": 100}, **alice)
    orders = data["tenant"]["afosto"]["orders"]["nodes"]
    assert len(orders) > 8
    keys = [(o["createdAt"], o["sourceId"]) for o in orders]
    assert keys == sorted(keys, reverse=True)
    assert len({o["createdAt"] for o in orders}) > 1  # the order is by time, not by id alone

    # A later page continues the same order; sortBy: SOURCE is that order too.
    later = await api.data(ORDER_LIST, {"t": ACME, "n": 3, "after": encode_cursor(2)}, **alice)
    assert later["tenant"]["afosto"]["orders"]["nodes"] == orders[3:6]
    source = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { orders(first: 4, sortBy: SOURCE) "
        "{ nodes { sourceId number createdAt } } } } }",
        {"t": ACME},
        **alice,
    )
    assert source["tenant"]["afosto"]["orders"]["nodes"] == orders[:4]


async def test_orders_desc_is_oldest_first_locally_and_refused_upstream(api: Api) -> None:
    """Afosto's GET /odr/orders has no sort parameter and no count: upstream mode cannot read the
    list from its end, so DESC is BAD_USER_INPUT there rather than the ascending page."""
    alice = await signed(api, "alice")
    for after in (None, encode_cursor(1)):
        variables = {"t": ACME, "n": 5, "after": after, "d": "DESC"}
        if mode() == "upstream":
            error = await api.error(ORDER_LIST, variables, **alice)
            assert error["extensions"]["code"] == "BAD_USER_INPUT", error
            assert "sortDirection" in error["message"], error
            continue
        every = (await api.data(ORDER_LIST, {"t": ACME, "n": 100}, **alice))["tenant"]["afosto"]["orders"]["nodes"]
        desc = (await api.data(ORDER_LIST, variables, **alice))["tenant"]["afosto"]["orders"]["nodes"]
        start = 0 if after is None else 2
        assert desc == list(reversed(every))[start : start + 5]


@pytest.mark.parametrize("number", ["", "9" * 65])
async def test_an_empty_or_overlong_order_number_is_bad_user_input(api: Api, number: str) -> None:
    error = await api.error(
        "query($t: String!, $n: String) { tenant(tenantUid: $t) { afosto { orders(number: $n) "
        "{ totalCount nodes { number } } } } }",
        {"t": ACME, "n": number},
        **await signed(api, "alice"),
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"].get("field") == "number" or "number" in error["message"], error


# ---------------------------------------------------------------------------------------------
# Write bounds: money within GraphQL's Int, orderable SKUs, idempotency keys, channel types

CREATE_ORDER = (
    'mutation($i: OrderInput!, $k: String!) { createOrder(tenantUid: "acme-retail", input: $i, '
    "idempotencyKey: $k) { id total totalMinor lines { nodes { sku quantity } } } }"
)
ADD_LINES = (
    "mutation($o: ID!, $l: [OrderLineInput!]!) { addOrderLines(orderId: $o, lines: $l) "
    "{ id total totalMinor lines { nodes { sku quantity } } } }"
)
UPSERT_PRICES = (
    'mutation($g: ID!, $p: [PriceInput!]!) { upsertPrices(tenantUid: "acme-retail", priceGroupId: $g, '
    "prices: $p) { sku amount amountMinor } }"
)


async def order_setup(api: Api) -> tuple[dict[str, Any], dict[str, Any], str, list[str]]:
    """alice, bob, a channel id of acme and the first store's SKUs (each with a retail price)."""
    alice, bob = await signed(api, "alice"), await signed(api, "bob")
    store = await first_store(api, alice)
    return alice, bob, store["salesChannels"]["nodes"][0]["id"], [p["sku"] for p in store["products"]["nodes"]]


async def test_money_past_graphql_int_is_refused_before_anything_is_written(fresh_api: Api) -> None:
    api = fresh_api
    alice, bob, channel, skus = await order_setup(api)
    group = await price_group(api, alice)

    for price in ({"amount": "21474836.48"}, {"amount": "1.00", "originalAmount": "99999999.99"}):
        error = await api.error(UPSERT_PRICES, {"g": group["id"], "p": [{"sku": skus[0], **price}]}, **alice)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "21474836.47" in error["message"], error
    read = (
        "query($t: String!) { tenant(tenantUid: $t) { stores(first: 1) { nodes { products(first: 3) { nodes { "
        'sku prices(priceGroup: "retail") { nodes { amount amountMinor } } } } } } } }'
    )
    prices = await api.data(read, {"t": ACME}, **alice)  # nothing unreadable was written
    assert all(
        p["amountMinor"] < 2**31
        for product in prices["tenant"]["stores"]["nodes"][0]["products"]["nodes"]
        for p in product["prices"]["nodes"]
    )
    most = await api.data(UPSERT_PRICES, {"g": group["id"], "p": [{"sku": skus[1], "amount": "21474836.47"}]}, **alice)
    assert most["upsertPrices"] == [{"sku": skus[1], "amount": "21474836.47", "amountMinor": 2**31 - 1}]

    await api.data(UPSERT_PRICES, {"g": group["id"], "p": [{"sku": skus[0], "amount": "5000.00"}]}, **alice)
    big = {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 10_000}]}  # 50,000,000.00 EUR
    error = await api.error(CREATE_ORDER, {"i": big, "k": "big-1"}, **bob)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    # Nothing was written under the key: it now makes the order of another input.
    small = {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 1}]}
    order = (await api.data(CREATE_ORDER, {"i": small, "k": "big-1"}, **bob))["createOrder"]
    assert (order["total"], order["totalMinor"]) == ("5000.00", 500_000)

    error = await api.error(ADD_LINES, {"o": order["id"], "l": [{"sku": skus[0], "quantity": 9_999}]}, **bob)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    error = await api.error(ADD_LINES, {"o": order["id"], "l": [{"sku": skus[1], "quantity": 1}]}, **bob)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error  # 5,000.00 + 21,474,836.47
    listed = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { orders(first: 100) { nodes { id totalMinor "
        "lines { nodes { sku quantity } } } } } } }",
        {"t": ACME},
        **bob,
    )
    mine = [o for o in listed["tenant"]["afosto"]["orders"]["nodes"] if o["id"] == order["id"]]
    assert mine == [{"id": order["id"], "totalMinor": 500_000, "lines": {"nodes": [{"sku": skus[0], "quantity": 1}]}}]


async def test_an_amount_past_graphql_int_from_afosto_fails_no_more_than_its_read(fresh_api: Api) -> None:
    """facade never writes such an amount, but Afosto (or the store) may hold one. Locally the one
    field is null with UPSTREAM_ERROR, the page and the decimal amount intact; upstream, Afosto's
    documented 32-bit integer is enforced where its answer is read: UPSTREAM_ERROR for that read.
    Never INTERNAL_SERVER_ERROR."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    if store_kind() == "postgres":
        pytest.skip("PostgreSQL's integer column cannot hold such a total: only SQLite's (or Afosto) can")
    api = fresh_api
    alice = await signed(api, "alice")
    query = (
        "query($t: String!) { tenant(tenantUid: $t) { afosto { afostoTenantId orders(first: 100) "
        "{ nodes { number total totalMinor } } } } }"
    )
    before = (await api.data(query, {"t": ACME}, **alice))["tenant"]["afosto"]
    number = before["orders"]["nodes"][0]["number"]
    engine = create_async_engine(api.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE afosto_orders SET total = 5000000000 WHERE afosto_tenant_id = :a AND number = :n"),
                {"a": before["afostoTenantId"], "n": number},
            )
    finally:
        await engine.dispose()

    body = await api.post(query, {"t": ACME}, **alice)
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"UPSTREAM_ERROR"}, body["errors"]
    if mode() == "upstream":
        return
    assert [e["path"][-1] for e in body["errors"]] == ["totalMinor"]
    nodes = body["data"]["tenant"]["afosto"]["orders"]["nodes"]
    assert len(nodes) == len(before["orders"]["nodes"])
    assert {"number": number, "total": "50000000.00", "totalMinor": None} in nodes


async def test_order_lines_need_a_priced_sku_and_at_most_10000_units_a_line(fresh_api: Api) -> None:
    api = fresh_api
    _alice, bob, channel, skus = await order_setup(api)

    unknown = {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 1}, {"sku": "NOPE", "quantity": 3}]}
    error = await api.error(CREATE_ORDER, {"i": unknown, "k": "nope-1"}, **bob)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "NOPE" in error["message"], error
    good = {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 7}]}
    order = (await api.data(CREATE_ORDER, {"i": good, "k": "nope-1"}, **bob))["createOrder"]  # nothing written
    assert order["lines"]["nodes"] == [{"sku": skus[0], "quantity": 7}]

    for lines in (
        [{"sku": skus[0], "quantity": 9_994}],  # 7 + 9,994 = 10,001 units of one SKU
        [{"sku": skus[1], "quantity": 1}, {"sku": "NOPE", "quantity": 1}],
    ):
        error = await api.error(ADD_LINES, {"o": order["id"], "l": lines}, **bob)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    most = await api.data(ADD_LINES, {"o": order["id"], "l": [{"sku": skus[0], "quantity": 9_993}]}, **bob)
    assert most["addOrderLines"]["lines"]["nodes"] == [{"sku": skus[0], "quantity": 10_000}]


async def test_lines_added_to_a_canceled_order_are_refused_alike_in_both_modes(fresh_api: Api) -> None:
    """Upstream answered Afosto's bare 409 ("a conflict with the current state", no field);
    local mode said which conflict."""
    api = fresh_api
    _alice, bob, channel, skus = await order_setup(api)
    made = await api.data(
        CREATE_ORDER,
        {"i": {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 1}]}, "k": "canceled-1"},
        **bob,
    )
    order = made["createOrder"]
    await api.data("mutation($o: ID!) { cancelOrder(orderId: $o) { id } }", {"o": order["id"]}, **bob)

    error = await api.error(ADD_LINES, {"o": order["id"], "l": [{"sku": skus[1], "quantity": 1}]}, **bob)

    assert (error["extensions"]["code"], error["extensions"].get("field"), error["message"]) == (
        "CONFLICT",
        "orderId",
        "A canceled order takes no more lines.",
    )


async def test_an_idempotency_key_sent_with_another_input_is_a_conflict(fresh_api: Api) -> None:
    api = fresh_api
    _alice, bob, channel, skus = await order_setup(api)
    first = {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 2}]}
    made = (await api.data(CREATE_ORDER, {"i": first, "k": "idem-1"}, **bob))["createOrder"]

    other_lines = {"channelId": channel, "lines": [{"sku": skus[1], "quantity": 9}]}
    no_customer = {**first, "customerId": None}
    for other in (other_lines, {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 3}]}):
        error = await api.error(CREATE_ORDER, {"i": other, "k": "idem-1"}, **bob)
        assert error["extensions"]["code"] == "CONFLICT", error
        assert "idempotencyKey" in error["message"], error
    again = (await api.data(CREATE_ORDER, {"i": no_customer, "k": "idem-1"}, **bob))["createOrder"]
    assert again == made  # the same input (a null left out or not) is the same order
    assert made["lines"]["nodes"] == [{"sku": skus[0], "quantity": 2}]


# One rule for an order's idempotency key on every road (README, Input limits).
LONGEST_KEY = 128
KEY_ROADS = {
    # road: (mutation, the facade login that may take it)
    "createOrder": (
        'mutation($i: OrderInput!, $k: String!) { createOrder(tenantUid: "acme-retail", input: $i, '
        "idempotencyKey: $k) { id } }",
        "bob",
    ),
    "addOrderLines": (
        "mutation($o: ID!, $l: [OrderLineInput!]!, $k: String) { addOrderLines(orderId: $o, lines: $l, "
        "idempotencyKey: $k) { id } }",
        "bob",
    ),
    "afostoOdrCreateOrder": (
        "mutation($c: ID, $k: String) { afostoOdrCreateOrder(idempotencyKey: $k, body: {channelId: $c}) { id } }",
        "alice",
    ),
    "afostoOdrCreateOrderItems": (
        "mutation($s: ID, $l: [AfostoOdrOrderItemModelInput], $k: String) { "
        "afostoOdrCreateOrderItems(id: $s, idempotencyKey: $k, body: $l) { sku } }",
        "alice",
    ),
}


def test_every_idempotency_key_argument_has_one_rule() -> None:
    """createOrder's and addOrderLines' key took 128 characters of `[A-Za-z0-9_.:-]`, the
    generated operations' (the same x-idempotency-key) 200 of printable ASCII: one key, two
    rules. Every idempotencyKey argument of the schema now declares the same one."""
    rules = {}
    for type_ in get_schema()._schema.type_map.values():
        if isinstance(type_, GraphQLObjectType):
            for name, field in type_.fields.items():
                if "idempotencyKey" in field.args:
                    definition = (field.args["idempotencyKey"].extensions or {})["strawberry-definition"]
                    rules[f"{type_.name}.{name}"] = constraint_of(definition.directives)
    assert {f"Mutation.{road}" for road in KEY_ROADS} <= set(rules), sorted(rules)
    rule = rules["Mutation.createOrder"]
    assert rule is not None
    assert (rule.min_length, rule.max_length) == (1, LONGEST_KEY)
    assert {where: other for where, other in rules.items() if other != rule} == {}


async def test_every_road_to_an_orders_idempotency_key_takes_the_longest_key_and_refuses_a_longer_one(
    fresh_api: Api,
) -> None:
    """The generated afostoOdrCreateOrder took keys of 200 characters and createOrder 128, while
    the emulation behind both (local mode's store, the sandbox) kept 167: a key of 168 to 200
    reached it and came back as Afosto's 400 BAD_USER_INPUT without a field. Each road takes a
    key of the limit, and refuses one a character longer at idempotencyKey, in both modes,
    before anything is sent or written."""
    api = fresh_api
    alice, bob = await signed(api, "alice"), await signed(api, "bob")
    who = {"alice": alice, "bob": bob}
    store = await first_store(api, alice)
    channel = store["salesChannels"]["nodes"][0]
    sku = store["products"]["nodes"][0]["sku"]
    made = (
        await api.data(
            'mutation($i: OrderInput!) { createOrder(tenantUid: "acme-retail", input: $i, idempotencyKey: "base") '
            "{ id sourceId } }",
            {"i": {"channelId": channel["id"], "lines": [{"sku": sku, "quantity": 1}]}},
            **bob,
        )
    )["createOrder"]
    lines = [{"sku": sku, "quantity": 1}]
    variables = {
        "createOrder": {"i": {"channelId": channel["id"], "lines": lines}},
        "addOrderLines": {"o": made["id"], "l": lines},
        "afostoOdrCreateOrder": {"c": channel["sourceId"]},
        "afostoOdrCreateOrderItems": {"s": made["sourceId"], "l": lines},
    }
    written = (
        "query($t: String!, $o: ID!) { tenant(tenantUid: $t) { afosto { orders(first: 1) { totalCount } } } "
        "node(id: $o) { ... on Order { total lines { nodes { sku quantity } } } } }"
    )

    for road, (mutation, login) in KEY_ROADS.items():
        before = await api.data(written, {"t": ACME, "o": made["id"]}, **bob)
        error = await api.error(mutation, {**variables[road], "k": "k" * (LONGEST_KEY + 1)}, **who[login])
        assert (error["extensions"]["code"], error["extensions"].get("field")) == (
            "BAD_USER_INPUT",
            "idempotencyKey",
        ), (road, error)
        assert error["message"] == f"`idempotencyKey` is longer than {LONGEST_KEY} characters.", (road, error)
        assert await api.data(written, {"t": ACME, "o": made["id"]}, **bob) == before, road

        answered = await api.data(mutation, {**variables[road], "k": f"{road}-".ljust(LONGEST_KEY, "k")}, **who[login])
        assert answered[road], road


async def test_a_key_names_one_addition_to_an_order_whichever_road_sent_it(fresh_api: Api) -> None:
    """Found by a tester: in local mode the generated afostoOdrCreateOrderItems kept its keys apart
    from addOrderLines' (and from the order's own), so a key one road had used the other took
    again for other lines, adding them, where upstream mode's Afosto answered 409. One key names
    one addition to one order on every road, in both modes."""
    api = fresh_api
    alice, bob = await signed(api, "alice"), await signed(api, "bob")
    store = await first_store(api, alice)
    channel = store["salesChannels"]["nodes"][0]
    one, other = (p["sku"] for p in store["products"]["nodes"][:2])
    # The sandbox behind upstream mode outlives a test: keys of this test's own.
    base, k1, k2 = (f"{name}-{uuid.uuid4()}" for name in ("base", "K1", "K2"))
    made = (
        await api.data(
            "mutation($i: OrderInput!, $k: String!) { "
            'createOrder(tenantUid: "acme-retail", input: $i, idempotencyKey: $k) { id sourceId } }',
            {"i": {"channelId": channel["id"], "lines": [{"sku": one, "quantity": 1}]}, "k": base},
            **bob,
        )
    )["createOrder"]
    add, items = KEY_ROADS["addOrderLines"][0], KEY_ROADS["afostoOdrCreateOrderItems"][0]

    def line(sku: str, quantity: int) -> list[dict[str, Any]]:
        return [{"sku": sku, "quantity": quantity}]

    await api.data(add, {"o": made["id"], "l": line(one, 1), "k": k1}, **bob)
    await api.data(items, {"s": made["sourceId"], "l": line(other, 2), "k": k2}, **alice)
    refused = [
        await api.error(items, {"s": made["sourceId"], "l": line(other, 1), "k": k1}, **alice),
        await api.error(add, {"o": made["id"], "l": line(one, 5), "k": k2}, **bob),
        await api.error(items, {"s": made["sourceId"], "l": line(other, 3), "k": base}, **alice),
    ]
    again = await api.data(items, {"s": made["sourceId"], "l": line(one, 1), "k": k1}, **alice)
    order = await api.data(
        "query($o: ID!) { node(id: $o) { ... on Order { lines { nodes { sku quantity } } } } }",
        {"o": made["id"]},
        **bob,
    )

    assert [e["extensions"]["code"] for e in refused] == ["CONFLICT"] * 3, refused
    assert again["afostoOdrCreateOrderItems"] == [{"sku": one}]
    assert sorted((n["sku"], n["quantity"]) for n in order["node"]["lines"]["nodes"]) == sorted([(one, 2), (other, 2)])


async def test_an_orders_own_key_answers_alike_on_the_two_roads_that_create_orders(fresh_api: Api) -> None:
    """Found by a tester (also at 88cd34d): local createOrder matched a key by its input with the
    lines, where upstream createOrder is Afosto's POST /odr/orders (no lines) and then the lines
    under the key. So local mode refused createOrder under the key of an order the generated
    afostoOdrCreateOrder had made (upstream added the lines to it), and the generated road under
    createOrder's key (upstream answered that order). Both modes now answer as upstream does."""
    api = fresh_api
    alice, bob = await signed(api, "alice"), await signed(api, "bob")
    store = await first_store(api, alice)
    channel = store["salesChannels"]["nodes"][0]
    sku = store["products"]["nodes"][0]["sku"]
    generated, created = KEY_ROADS["afostoOdrCreateOrder"][0], KEY_ROADS["createOrder"][0]
    first, second = f"gen-{uuid.uuid4()}", f"made-{uuid.uuid4()}"
    lines = {"i": {"channelId": channel["id"], "lines": [{"sku": sku, "quantity": 2}]}}
    show = "query($o: ID!) { node(id: $o) { ... on Order { sourceId lines { nodes { sku quantity } } } } }"

    empty = (await api.data(generated, {"c": channel["sourceId"], "k": first}, **alice))["afostoOdrCreateOrder"]
    filled = (await api.data(created, {**lines, "k": first}, **bob))["createOrder"]
    again = (await api.data(created, {**lines, "k": first}, **bob))["createOrder"]
    order = (await api.data(show, {"o": filled["id"]}, **bob))["node"]
    other = await api.error(
        created, {"i": {"channelId": channel["id"], "lines": [{"sku": sku, "quantity": 3}]}, "k": first}, **bob
    )
    made = (await api.data(created, {**lines, "k": second}, **bob))["createOrder"]
    same = (await api.data(generated, {"c": channel["sourceId"], "k": second}, **alice))["afostoOdrCreateOrder"]

    assert again == filled
    assert order == {"sourceId": empty["id"], "lines": {"nodes": [{"sku": sku, "quantity": 2}]}}
    assert (other["extensions"]["code"], other["extensions"]["field"]) == ("CONFLICT", "idempotencyKey"), other
    assert same["id"] == (await api.data(show, {"o": made["id"]}, **bob))["node"]["sourceId"]


async def test_an_unknown_order_is_not_found_at_its_argument_in_both_modes(api: Api) -> None:
    """Upstream, cancelOrder of an order Afosto does not have was NOT_FOUND without a field, where
    local mode (and addOrderLines in both) names `orderId` (found by a tester)."""
    bob = await signed(api, "bob")
    missing = global_id("Order", ACME, str(uuid.uuid4()))
    lines = [{"sku": "SKU-000001", "quantity": 1}]

    errors = [
        await api.error("mutation($o: ID!) { cancelOrder(orderId: $o) { id } }", {"o": missing}, **bob),
        await api.error(KEY_ROADS["addOrderLines"][0], {"o": missing, "l": lines, "k": None}, **bob),
    ]

    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in errors] == [("NOT_FOUND", "orderId")] * 2


async def test_an_unknown_sales_channel_is_not_found_at_its_argument_in_both_modes(api: Api) -> None:
    """The sibling of cancelOrder's: upstream, updateSalesChannel of a channel Afosto does not
    have was NOT_FOUND without a field, where local mode names `id`."""
    alice = await signed(api, "alice")
    missing = global_id("SalesChannel", ACME, str(uuid.uuid4()))

    error = await api.error(
        'mutation($c: ID!) { updateSalesChannel(id: $c, input: {name: "Renamed"}) { name } }', {"c": missing}, **alice
    )

    assert (error["extensions"]["code"], error["extensions"].get("field")) == ("NOT_FOUND", "id"), error


async def test_a_sales_channels_type_cannot_change_in_either_mode(fresh_api: Api) -> None:
    api = fresh_api
    alice = await signed(api, "alice")
    store = await first_store(api, alice)
    channel = next(c for c in store["salesChannels"]["nodes"] if c["type"] != "STOREFRONT")
    update = "mutation($c: ID!, $i: SalesChannelInput!) { updateSalesChannel(id: $c, input: $i) { name type } }"

    error = await api.error(update, {"c": channel["id"], "i": {"type": "STOREFRONT", "name": "Renamed"}}, **alice)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "type" in error["message"], error
    assert error["extensions"]["field"] == "input.type", error  # the argument's path, as for `input.name`
    kept = await api.data(update, {"c": channel["id"], "i": {"description": "unchanged type"}}, **alice)
    assert kept["updateSalesChannel"] == {"name": channel["name"], "type": channel["type"]}


@pytest.mark.parametrize(("given", "field"), [({"type": "POS"}, "input.name"), ({"name": "Pop-up"}, "input.type")])
async def test_a_new_sales_channel_without_a_name_or_type_names_the_missing_input(
    api: Api, given: dict[str, Any], field: str
) -> None:
    alice = await signed(api, "alice")
    create = "mutation($t: String!, $i: SalesChannelInput!) { createSalesChannel(tenantUid: $t, input: $i) { id } }"
    error = await api.error(create, {"t": ACME, "i": given}, **alice)
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field), error


async def test_one_order_created_by_many_callers_at_once_with_one_key_has_its_lines_once(fresh_api: Api) -> None:
    """A tester's 20 identical createOrder requests at once, upstream, made one order with its
    lines added 9 times (the sandbox's idempotent POST /odr/orders/{id}/items let concurrent
    calls with one key through); local mode made them once."""
    api = fresh_api
    bob = await signed(api, "bob")
    store = await first_store(api, await signed(api, "alice"))
    skus = [p["sku"] for p in store["products"]["nodes"]][:2]
    create = (
        "mutation($t: String!, $i: OrderInput!, $k: String!) { createOrder(tenantUid: $t, input: $i, "
        "idempotencyKey: $k) { id total lines { nodes { sku quantity } } } }"
    )
    lines = [{"sku": skus[0], "quantity": 1}, {"sku": skus[1], "quantity": 2}]
    variables = {
        "t": ACME,
        "i": {"channelId": store["salesChannels"]["nodes"][0]["id"], "lines": lines},
        "k": "at-once",
    }

    answers = await asyncio.gather(*(api.data(create, variables, **bob) for _ in range(12)))

    orders = {orjson.dumps(answer["createOrder"], option=orjson.OPT_SORT_KEYS) for answer in answers}
    assert len(orders) == 1, orders
    made = answers[0]["createOrder"]
    assert sorted(made["lines"]["nodes"], key=lambda line: line["sku"]) == sorted(lines, key=lambda line: line["sku"])
    read = "query($o: ID!) { node(id: $o) { ... on Order { total lines { nodes { sku quantity } } } } }"
    assert (await api.data(read, {"o": made["id"]}, **bob))["node"] == {"total": made["total"], "lines": made["lines"]}


async def test_lines_added_with_a_key_are_added_once_however_often_they_are_sent(fresh_api: Api) -> None:
    """addOrderLines took no idempotency key: a client retrying after UPSTREAM_TIMEOUT (the
    first call may have been applied) added the lines twice. With a key, the same lines again,
    in turn or at once, add nothing; other lines under the key are CONFLICT and change nothing."""
    api = fresh_api
    bob = await signed(api, "bob")
    store = await first_store(api, await signed(api, "alice"))
    skus = [p["sku"] for p in store["products"]["nodes"]][:3]
    channel = store["salesChannels"]["nodes"][0]["id"]
    create = (
        "mutation($t: String!, $i: OrderInput!, $k: String!) { createOrder(tenantUid: $t, input: $i, "
        "idempotencyKey: $k) { id total } }"
    )
    order = (
        await api.data(
            create,
            {
                "t": ACME,
                "i": {"channelId": channel, "lines": [{"sku": skus[0], "quantity": 1}]},
                "k": "o-1",
            },
            **bob,
        )
    )["createOrder"]
    add = (
        "mutation($o: ID!, $l: [OrderLineInput!]!, $k: String) { addOrderLines(orderId: $o, lines: $l, "
        "idempotencyKey: $k) { total lines { nodes { sku quantity } } } }"
    )
    lines = [{"sku": skus[1], "quantity": 2}, {"sku": skus[0], "quantity": 1}]
    keyed = {"o": order["id"], "l": lines, "k": "retry-1"}

    first = (await api.data(add, keyed, **bob))["addOrderLines"]
    again = (await api.data(add, keyed, **bob))["addOrderLines"]
    at_once = await asyncio.gather(*(api.data(add, keyed, **bob) for _ in range(6)))

    def units(answer: dict[str, Any]) -> dict[str, int]:
        return {line["sku"]: line["quantity"] for line in answer["lines"]["nodes"]}

    assert units(first) == {skus[0]: 2, skus[1]: 2}
    assert Decimal(first["total"]) > Decimal(order["total"])
    assert again == first
    assert all(answer["addOrderLines"] == first for answer in at_once)

    other = await api.error(add, {**keyed, "l": [{"sku": skus[2], "quantity": 1}]}, **bob)
    assert (other["extensions"]["code"], other["extensions"]["field"]) == ("CONFLICT", "idempotencyKey"), other
    read = "query($o: ID!) { node(id: $o) { ... on Order { total lines { nodes { sku quantity } } } } }"
    assert (await api.data(read, {"o": order["id"]}, **bob))["node"] == first

    # createOrder's key names the lines the order was created with, as at Afosto.
    created_with = {"o": order["id"], "l": [{"sku": skus[0], "quantity": 1}], "k": "o-1"}
    assert (await api.data(add, created_with, **bob))["addOrderLines"] == first
    clash = await api.error(add, {**created_with, "l": [{"sku": skus[0], "quantity": 5}]}, **bob)
    assert (clash["extensions"]["code"], clash["extensions"]["field"]) == ("CONFLICT", "idempotencyKey"), clash

    # The same lines in another order are the same addition, and a retry answers once the order
    # is canceled (below). At a limit the lines took the order to, local mode answers a retry;
    # upstream, where only Afosto knows the key was used, the limit counts its lines again.
    assert (await api.data(add, {**keyed, "l": lines[::-1]}, **bob))["addOrderLines"] == first
    big = {"o": order["id"], "l": [{"sku": skus[2], "quantity": 10_000}], "k": "to-the-limit"}
    at_limit = (await api.data(add, big, **bob))["addOrderLines"]
    assert units(at_limit)[skus[2]] == 10_000
    if mode() == "local":
        assert (await api.data(add, big, **bob))["addOrderLines"] == at_limit
    else:
        assert (await api.error(add, big, **bob))["extensions"]["code"] == "BAD_USER_INPUT"

    # Without a key, or with another one, the same lines are another addition.
    unkeyed = (await api.data(add, {**keyed, "k": None}, **bob))["addOrderLines"]
    assert units(unkeyed) == {skus[0]: 3, skus[1]: 4, skus[2]: 10_000}
    fresh = (await api.data(add, {**keyed, "k": "retry-2"}, **bob))["addOrderLines"]
    assert units(fresh) == {skus[0]: 4, skus[1]: 6, skus[2]: 10_000}

    # Lines the checks refuse are refused so under a used key too, in both modes (Afosto's 409 for
    # the key comes after facade's checks upstream).
    unpriced = await api.error(add, {**keyed, "k": "retry-2", "l": [{"sku": "NO-PRICE-1", "quantity": 1}]}, **bob)
    assert (unpriced["extensions"]["code"], unpriced["extensions"]["field"]) == ("BAD_USER_INPUT", "lines.0.sku")

    await api.data("mutation($o: ID!) { cancelOrder(orderId: $o) { id } }", {"o": order["id"]}, **bob)
    after_cancel = await api.data(add, {**keyed, "k": "retry-2"}, **bob)
    assert units(after_cancel["addOrderLines"]) == units(fresh)
    for refused_key, refused_lines in (("retry-3", lines), ("retry-2", [{"sku": skus[2], "quantity": 1}])):
        refused = await api.error(add, {**keyed, "k": refused_key, "l": refused_lines}, **bob)
        assert (refused["extensions"]["code"], refused["extensions"]["field"]) == ("CONFLICT", "orderId"), refused
    unknown = await api.error(add, {**keyed, "o": _other_order_id(order["id"])}, **bob)
    assert (unknown["extensions"]["code"], unknown["extensions"]["field"]) == ("NOT_FOUND", "orderId"), unknown


@pytest.mark.skipif(mode() != "upstream", reason="the Afosto tenant check is upstream mode's: local mode has no token")
async def test_the_tenant_check_is_made_once_per_token(counted: Twins) -> None:
    """Every request of an Afosto token made `GET /iam/tenants/{id}` again, to learn what does not
    change (which tenant the token is for): an Afosto call in each request. A check passed is now
    kept for the token and tenant; another token is checked afresh, and a refusal is not kept."""
    from facade.sandbox.afosto_store import issue_token
    from support.sandbox import SandboxControl

    alice = await signed(counted.api, "alice")
    links = await counted.api.store.links.afosto_tenants([ACME, NORDIC])
    secret = counted.api.token_settings.resolved_jwt_secret()
    sandbox = SandboxControl(counted.backend.inner.sandbox_url)
    query = "query($t: String!) { tenant(tenantUid: $t) { afosto { salesChannels { nodes { id } } } } }"

    async def checks_by(afosto_token: str) -> tuple[int, dict[str, Any]]:
        await sandbox.calls()
        headers = {"X-Afosto-Authorization": f"Bearer {afosto_token}"}
        body = await counted.api.post(query, {"t": ACME}, token=alice["token"], headers=headers)
        return (await sandbox.calls()).get(TENANT_CHECK, 0), body

    try:
        # Tokens of their own (another lifetime: other bytes), unlike the other tests' tokens.
        first = issue_token(secret, links[ACME].afosto_tenant_id, ttl=3000)
        made, body = await checks_by(first)
        assert "errors" not in body, body
        assert made == 1
        for _ in range(3):
            made, body = await checks_by(first)
            assert "errors" not in body, body
            assert made == 0
        assert body["data"]["tenant"]["afosto"]["salesChannels"]["nodes"]

        other = issue_token(secret, links[ACME].afosto_tenant_id, ttl=3001)
        assert (await checks_by(other))[0] == 1

        # A token for another Afosto tenant is refused at every request, each asking again.
        theirs = issue_token(secret, links[NORDIC].afosto_tenant_id, ttl=3002)
        for _ in range(2):
            made, body = await checks_by(theirs)
            assert made == 1
            assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
            assert body["data"]["tenant"]["afosto"]["salesChannels"] is None
    finally:
        await sandbox.http.aclose()


def _other_order_id(order_id: str) -> str:
    """The global id of an order the tenant does not have, beside `order_id`'s."""
    kind, _, key = base64.b64decode(order_id).decode().partition(":")
    tenant, _, _ = key.partition(":")
    return base64.b64encode(f"{kind}:{tenant}:00000000-0000-4000-8000-000000000000".encode()).decode()


@pytest.mark.skipif(
    mode() != "upstream", reason="Afosto's 409 is upstream mode's; local mode decides it in one transaction"
)
@pytest.mark.parametrize("key", ["fresh-1", None])
async def test_an_addition_to_an_order_canceled_meanwhile_is_the_cancels_conflict(
    fresh_api: Api, key: str | None
) -> None:
    """A tester's keyed addOrderLines, with cancelOrder landing between its checks and its call,
    answered CONFLICT at idempotencyKey ("used for other lines"): any 409 under a key was read as
    the key's; without a key it was Afosto's CONFLICT without a field. The order's state names it."""
    from support.sandbox import SandboxControl

    api = fresh_api
    bob = await signed(api, "bob")
    store = await first_store(api, await signed(api, "alice"))
    sku = store["products"]["nodes"][0]["sku"]
    create = (
        "mutation($t: String!, $i: OrderInput!, $k: String!) { createOrder(tenantUid: $t, input: $i, "
        "idempotencyKey: $k) { id } }"
    )
    channel = store["salesChannels"]["nodes"][0]["id"]
    variables = {"t": ACME, "i": {"channelId": channel, "lines": [{"sku": sku, "quantity": 1}]}, "k": "race-1"}
    order = (await api.data(create, variables, **bob))["createOrder"]
    add = (
        "mutation($o: ID!, $k: String) { addOrderLines(orderId: $o, lines: [{sku: "
        + f'"{sku}"'
        + ", quantity: 1}], idempotencyKey: $k) { id } }"
    )
    async with SandboxControl(api.store.sandbox_url) as sandbox:  # type: ignore[attr-defined]
        await sandbox.faults("POST /afosto/cat/groups/*/prices=latency:4000x1")  # the price check, slowed
        adding = asyncio.ensure_future(api.post(add, {"o": order["id"], "k": key}, **bob))
        await asyncio.sleep(0.5)
        await api.data("mutation($o: ID!) { cancelOrder(orderId: $o) { id } }", {"o": order["id"]}, **bob)
        body = await adding
        await sandbox.faults()

    error = body["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("CONFLICT", "orderId"), error
