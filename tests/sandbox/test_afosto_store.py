"""The sandbox's Afosto emulation answers the hand-modelled operations from its store: searches
take `in` constraints on every key their body schema documents (the list spelled `values` or
`value`), refuse other keys, page by x-page/x-page-size with x-count where documented; the
tenant of a call is its token's; the seeded OAuth clients get tokens of their tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa

from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.commerce import IDEMPOTENCY_KEY_LENGTH, AfostoTenant
from sandbox.conftest import Sandbox
from support.sandbox import afosto_token


@pytest.fixture(scope="module")
async def tenants(sandbox: Sandbox) -> AsyncIterator[list[AfostoTenant]]:
    settings = sandbox.settings
    store = await LocalStore.open(settings.database_url, TokenService(settings), migrate=False)
    try:
        async with store.engine.connect() as conn:
            ids = [r[0] for r in (await conn.execute(sa.text("SELECT id FROM tenants ORDER BY id"))).all()]
        found = await store.links.afosto_tenants(ids)
        yield [found[i] for i in ids if i in found]
    finally:
        await store.aclose()


def auth(sandbox: Sandbox, tenant: AfostoTenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {afosto_token(sandbox.settings, tenant.afosto_tenant_id)}"}


def search(key: str, values: list[str], spelling: str = "values") -> dict[str, Any]:
    return {"constraints": [{"key": key, "operator": "in", spelling: values}]}


async def inventory(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> list[Any]:
    response = await client.post("/afosto/wms/inventory", json=body, headers={**headers, "x-page-size": "1000"})
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def test_inventory_search_takes_in_on_each_documented_key(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    headers = auth(sandbox, tenants[0])
    everything = await inventory(client, headers, {})
    one = everything[0]

    narrowed = {
        key: await inventory(client, headers, search(key, [value]))
        for key, value in (
            ("sku", one["sku"]),
            ("location_id", one["location_id"]),
            ("position", ""),
            ("claim_id", ""),
            ("state", "available"),
            ("is_managed", "true"),
            ("is_tracking_inventory", "1"),
        )
    }
    both = await inventory(
        client,
        headers,
        {
            "constraints": [
                *search("sku", [one["sku"]])["constraints"],
                *search("location_id", [one["location_id"]])["constraints"],
            ]
        },
    )
    none = await inventory(client, headers, search("sku", ["no-such-sku"]))
    undocumented = await inventory(client, headers, search("colour", ["red"]))

    assert len(everything) > 2
    assert {s["sku"] for s in narrowed["sku"]} == {one["sku"]}
    assert {s["location_id"] for s in narrowed["location_id"]} == {one["location_id"]}
    assert all(len(narrowed[k]) == len(everything) for k in ("position", "claim_id", "state", "is_managed"))
    assert 0 < len(narrowed["is_tracking_inventory"]) <= len(everything)
    assert [(s["sku"], s["location_id"]) for s in both] == [(one["sku"], one["location_id"])]
    assert none == []
    assert undocumented == []  # no record has a key the search does not document


async def test_order_item_search_takes_order_ids_skus_and_item_ids(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    headers = auth(sandbox, tenants[0])
    orders = (await client.get("/afosto/odr/orders", headers={**headers, "x-page-size": "5"})).json()
    ids = [o["id"] for o in orders]

    by_order = (
        await client.post("/afosto/odr/search/orders/items", json=search("order_ids", ids), headers=headers)
    ).json()
    sku = by_order[0]["sku"]
    by_sku = (await client.post("/afosto/odr/search/orders/items", json=search("skus", [sku]), headers=headers)).json()
    item = by_order[0]["ids"][0]
    by_item = (
        await client.post("/afosto/odr/search/orders/items", json=search("item_ids", [item]), headers=headers)
    ).json()
    by_count = (
        await client.post("/afosto/odr/search/orders/items", json=search("order_count", ["1"]), headers=headers)
    ).json()
    searched = (await client.post("/afosto/odr/search/orders", json=search("ids", ids[:2]), headers=headers)).json()

    every_key = {
        "order_ids": ids[0],
        "skus": sku,
        "item_ids": item,
        "stack_ids": "",
        "order_count": "1",
        "is_unavailable": "false",
        "is_backordered": "0",
        "is_inbound": "false",
        "backorder_count": "0",
        "target": "",
        "shipment_count": "0",
    }
    items = "/afosto/odr/search/orders/items"
    for key, value in every_key.items():
        assert (await client.post(items, json=search(key, [value]), headers=headers)).json(), key
    assert {g["references"]["orders"][0]["id"] for g in by_order} == set(ids)
    assert {g["sku"] for g in by_sku} == {sku}
    assert [g["ids"] for g in by_item] == [[item]]
    assert len(by_count) > 0
    assert sorted(o["id"] for o in searched) == sorted(ids[:2])


async def test_contacts_take_both_spellings_of_the_list(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    headers = auth(sandbox, tenants[0])
    orders = (await client.get("/afosto/odr/orders", headers={**headers, "x-page-size": "10"})).json()
    contacts = sorted({o["settings"]["contact"]["id"] for o in orders if o["settings"].get("contact")})

    documented = await client.post("/afosto/rel/contacts", json=search("id", contacts, "value"), headers=headers)
    other = await client.post("/afosto/rel/contacts", json=search("id", contacts, "values"), headers=headers)
    every = await client.post("/afosto/rel/contacts", json={"constraints": []}, headers=headers)

    assert sorted(c["id"] for c in documented.json()) == contacts
    assert sorted(c["id"] for c in other.json()) == contacts
    assert set(contacts) < {c["id"] for c in every.json()}


async def test_lists_page_by_the_headers_with_a_count_where_documented(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    headers = auth(sandbox, tenants[0])
    whole = await inventory(client, headers, {})

    first = await client.post("/afosto/wms/inventory", json={}, headers={**headers, "x-page-size": "2"})
    last_number = -(-len(whole) // 2)
    last = await client.post(
        "/afosto/wms/inventory", json={}, headers={**headers, "x-page-size": "2", "x-page": str(last_number)}
    )
    orders = await client.get("/afosto/odr/orders", headers={**headers, "x-page-size": "2"})

    assert first.json() == whole[:2]
    assert first.headers["x-count"] == str(len(whole))
    assert first.headers["x-page"] == "2"
    assert last.headers["x-page"] == str(last_number)  # no next page: the page sent
    assert len(orders.json()) == 2
    assert orders.headers["x-page"] == "2"
    assert "x-count" not in orders.headers  # GET /odr/orders documents none


async def test_a_token_is_its_tenants_and_the_tenant_check_answers_only_it(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    first, second = tenants[0], tenants[1]

    own = await client.get(f"/afosto/iam/tenants/{second.afosto_tenant_id}", headers=auth(sandbox, second))
    other = await client.get(f"/afosto/iam/tenants/{first.afosto_tenant_id}", headers=auth(sandbox, second))
    lenient = await client.get(f"/afosto/iam/tenants/{first.afosto_tenant_id}", headers={"Authorization": "Bearer x"})
    theirs = (await client.get("/afosto/cat/groups", headers=auth(sandbox, second))).json()
    default = (await client.get("/afosto/cat/groups", headers={"Authorization": "Bearer x"})).json()

    assert own.status_code == 200
    assert own.json()["id"] == second.afosto_tenant_id
    assert other.status_code == 403
    assert lenient.status_code == 200  # any other bearer text: the first seeded tenant
    assert {g["id"] for g in theirs}.isdisjoint({g["id"] for g in default})


async def test_a_seeded_oauth_client_gets_a_token_of_its_tenant(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    seeded = list(sandbox.seeded.afosto_clients.values())
    first, second = seeded[0], seeded[1]

    granted = await client.post(
        "/afosto/iam/oauth/authorize",
        json={"grant_type": "client_credentials", "client_id": second.client_id, "client_secret": second.client_secret},
    )
    token = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    own = await client.get(f"/afosto/iam/tenants/{second.afosto_tenant_id}", headers=token)
    other = await client.get(f"/afosto/iam/tenants/{first.afosto_tenant_id}", headers=token)
    wrong = await client.post(
        "/afosto/iam/oauth/authorize",
        json={"grant_type": "client_credentials", "client_id": second.client_id, "client_secret": "guess"},
    )

    assert granted.status_code == 200
    assert own.status_code == 200
    assert other.status_code == 403
    # A wrong secret, an unknown client or none is Afosto's 401 (OAuth's invalid_client), never a
    # placeholder token that would pass for a credential.
    assert wrong.status_code == 401
    for body in ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, {}):
        assert (await client.post("/afosto/iam/oauth/authorize", json=body)).status_code == 401


async def test_an_orders_idempotency_key_is_kept_up_to_the_one_limit_and_refused_beyond_it(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant]
) -> None:
    """The emulation kept 167 characters of an order's key and any length of an addition's,
    while facade took 128 on one road and 200 on another: both operations keep the one limit
    facade's roads share, and refuse a longer key as Afosto's 400, writing nothing."""
    headers = auth(sandbox, tenants[0])
    channel = (await client.get("/afosto/cat/channels", headers=headers)).json()[0]["id"]
    longest, longer = "o" * IDEMPOTENCY_KEY_LENGTH, "o" * (IDEMPOTENCY_KEY_LENGTH + 1)
    orders = {**headers, "x-page-size": "1000"}
    before = len((await client.get("/afosto/odr/orders", headers=orders)).json())

    refused = await client.post(
        "/afosto/odr/orders", json={"channel_id": channel}, headers={**headers, "x-idempotency-key": longer}
    )
    assert refused.status_code == 400, refused.text
    assert len((await client.get("/afosto/odr/orders", headers=orders)).json()) == before
    made = await client.post(
        "/afosto/odr/orders", json={"channel_id": channel}, headers={**headers, "x-idempotency-key": longest}
    )
    assert made.status_code == 200, made.text
    order = made.json()["id"]

    items = f"/afosto/odr/orders/{order}/items"
    lines = [{"sku": "SKU-000001", "quantity": 1}]
    refused = await client.post(items, json=lines, headers={**headers, "x-idempotency-key": longer})
    assert refused.status_code == 400, refused.text
    assert (await client.get(f"/afosto/odr/orders/{order}", headers=headers)).json() == made.json()
    added = await client.post(items, json=lines, headers={**headers, "x-idempotency-key": longest})
    assert added.status_code == 200, added.text


@pytest.mark.parametrize("key", ["a b", "a/b", "a+b", "a*b", "tab\tkey"])
async def test_an_idempotency_key_of_other_characters_is_refused_as_the_graph_refuses_it(
    client: httpx.AsyncClient, sandbox: Sandbox, tenants: list[AfostoTenant], key: str
) -> None:
    """The emulation checked a key's length only, so a key the graph refuses (a space, a slash)
    made an order when sent to the sandbox directly (found by a tester): both operations take
    the graph's one rule (facade.commerce.checked_key), a 400 that writes nothing."""
    headers = auth(sandbox, tenants[0])
    channel = (await client.get("/afosto/cat/channels", headers=headers)).json()[0]["id"]
    orders = {**headers, "x-page-size": "1000"}
    before = len((await client.get("/afosto/odr/orders", headers=orders)).json())
    made = await client.post(
        "/afosto/odr/orders", json={"channel_id": channel}, headers={**headers, "x-idempotency-key": f"ok-{uuid4()}"}
    )
    order = made.json()["id"]

    refused = await client.post(
        "/afosto/odr/orders", json={"channel_id": channel}, headers={**headers, "x-idempotency-key": key}
    )
    added = await client.post(
        f"/afosto/odr/orders/{order}/items",
        json=[{"sku": "SKU-000001", "quantity": 1}],
        headers={**headers, "x-idempotency-key": key},
    )

    assert (refused.status_code, added.status_code) == (400, 400), (refused.text, added.text)
    assert len((await client.get("/afosto/odr/orders", headers=orders)).json()) == before + 1
    assert (await client.get(f"/afosto/odr/orders/{order}", headers=headers)).json() == made.json()
