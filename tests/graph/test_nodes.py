"""Relay object identification (issue 11 §4): global ids, `node(id:)` and `nodes(ids:)`, in the
test mode's backend (local store, or the sandbox's APIs upstream)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import event

from conftest import TENANT, Api, StatementCounter, mode
from facade.backends.local.base import engines
from support.ids import loose
from support.sandbox import SandboxControl

NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { name } } }"
NODE_TYPES = ("Store", "Product", "User", "Tenant", "Till", "Device", "License", "CustomerSubscription", "Review")


def gid(type_name: str, key: Any) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


async def lists(api: Api) -> dict[str, list[dict[str, Any]]]:
    """Objects of every Node type as their lists answer them to alice (tenant admin of acme-retail,
    vendor, owner of devices and licences) and bob (acme's cashier, with subscriptions)."""
    alice, bob = await api.login("alice"), await api.login("bob")
    mine = await api.data(
        f'{{ tenant(tenantUid: "{TENANT}") {{ id sourceId stores(first: 3) {{ nodes {{ id sourceId '
        "tills { id sourceId } devices(first: 3) { nodes { id sourceId } } "
        "products(first: 3) { nodes { id sourceId owner { id sourceId } reviews(first: 2) { nodes { id sourceId } } } "
        "} } } } "
        "viewer { id sourceId licenses(first: 3) { nodes { id sourceId } } } }",
        token=alice,
    )
    subscriptions = await api.data(
        "{ viewer { subscriptions(first: 3) { nodes { id sourceId } } } }",
        token=bob,
    )
    tenant = mine["tenant"]
    stores = tenant["stores"]["nodes"]
    products = [p for s in stores for p in s["products"]["nodes"]]
    return {
        "Tenant": [{"id": tenant["id"], "sourceId": tenant["sourceId"]}],
        "Store": [{"id": s["id"], "sourceId": s["sourceId"]} for s in stores],
        "Till": [t for s in stores for t in s["tills"]],
        "Device": [d for s in stores for d in s["devices"]["nodes"]],
        "Product": [{"id": p["id"], "sourceId": p["sourceId"]} for p in products],
        "User": [{"id": mine["viewer"]["id"], "sourceId": mine["viewer"]["sourceId"]}]
        + [p["owner"] for p in products if p["owner"]],
        "License": mine["viewer"]["licenses"]["nodes"],
        "CustomerSubscription": subscriptions["viewer"]["subscriptions"]["nodes"],
        "Review": [r for p in products for r in p["reviews"]["nodes"]],
    }


async def test_every_id_a_list_answers_refetches_the_same_object(api: Api) -> None:
    found = await lists(api)
    alice = await api.login("alice")

    for type_name in NODE_TYPES:
        objects = found[type_name]
        assert objects, f"no {type_name} to refetch"
        for each in objects:
            # The global id is base64 of "<Type>:<sourceId>", unique across types.
            assert base64.b64decode(each["id"]).decode() == f"{type_name}:{each['sourceId']}"
        ids = [each["id"] for each in objects]
        # bob's subscriptions are bob's: his tenant's admin sees them too.
        data = await api.data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Store { sourceId } "
            "... on Product { sourceId } ... on User { sourceId } ... on Tenant { sourceId } "
            "... on Till { sourceId } ... on Device { sourceId } ... on License { sourceId } "
            "... on CustomerSubscription { sourceId } ... on Review { sourceId } } }",
            {"ids": ids},
            token=alice,
        )
        assert data["nodes"] == [{"__typename": type_name, **each} for each in objects]
        one = await api.data("query($id: ID!) { node(id: $id) { __typename id } }", {"id": ids[0]}, token=alice)
        assert one["node"] == {"__typename": type_name, "id": ids[0]}


async def test_global_ids_are_unique_across_types(api: Api) -> None:
    found = await lists(api)
    ids = [each["id"] for objects in found.values() for each in objects]
    assert len(set(ids)) == len(
        {(type_name, each["sourceId"]) for type_name, objects in found.items() for each in objects}
    )


async def test_a_record_the_caller_may_not_see_is_null_with_its_rule_error(api: Api) -> None:
    found = await lists(api)
    carol = await api.login("carol")  # admin of another tenant
    tenant, device, store = found["Tenant"][0]["id"], found["Device"][0]["id"], found["Store"][0]["id"]

    body = await api.post(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [store, tenant, device]}, token=carol
    )
    # The store is public; acme's tenant and device are its members' only.
    assert body["data"]["nodes"] == [{"id": store}, None, None]
    assert sorted((e["path"], e["extensions"]["code"]) for e in body["errors"]) == [
        (["nodes", 1], "FORBIDDEN"),
        (["nodes", 2], "FORBIDDEN"),
    ]
    single = await api.post("query($id: ID!) { node(id: $id) { id } }", {"id": tenant})
    assert single["data"] == {"node": None}
    assert single["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # ...as the same tenant on its own field says.
    own = await api.post(f'{{ tenant(tenantUid: "{TENANT}") {{ id }} }}', token=carol)
    assert own["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_id_of_nothing_answers_null_without_error(api: Api) -> None:
    body = await api.post(
        "query($ids: [ID!]!, $one: ID!) { nodes(ids: $ids) { id } node(id: $one) { id } }",
        {
            "ids": [
                gid("Store", 999999),
                gid("Device", "no-such-device"),
                gid("Review", 999999),
                gid("AppManifest", "tech.flecs.no-such-app:1.0.0:2.0.0"),
            ],
            "one": gid("Product", 2147483647),
        },
    )
    assert body == {"data": {"nodes": [None] * 4, "node": None}, "extensions": body["extensions"]}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not base64!", "NOT_A_GLOBAL_ID"),  # the pattern refuses it before decoding
        ("U3RvcmU", "NOT_A_GLOBAL_ID"),  # unpadded
        (gid("Store", "")[:-4] + "////", "NOT_A_GLOBAL_ID"),  # not UTF-8
        (base64.b64encode(b"Store12").decode(), "NOT_A_GLOBAL_ID"),  # no type name
        (gid("Price", "acme-retail:1"), "UNKNOWN_TYPE"),  # no read by id: not a Node
        (gid("Nope", 1), "UNKNOWN_TYPE"),
        (gid("Review", "x"), "BAD_KEY"),
        (gid("AppManifest", "tech.flecs.mqtt-bridge:1.0.0"), "BAD_KEY"),  # no schema version
        (gid("AppManifest", "tech.flecs.mqtt-bridge:1.0.0:two"), "BAD_KEY"),
        (gid("AppManifest", ":1.0.0:2.0.0"), "BAD_KEY"),
        (gid("Store", "abc"), "BAD_KEY"),
        (gid("Store", 0), "BAD_KEY"),
        (gid("Store", 2**31), "BAD_KEY"),
        (gid("Device", "a b"), "BAD_KEY"),
        (gid("Tenant", ""), "BAD_KEY"),
        # One object, one id: what decodes to an object's key but is not its id is refused.
        (gid("Store", "01"), "BAD_KEY"),
        (gid("Review", "007"), "BAD_KEY"),
        (loose(gid("Store", 1)), "NOT_A_GLOBAL_ID"),
        (loose(gid("Tenant", "globex")), "NOT_A_GLOBAL_ID"),
        (loose(gid("Location", "acme-retail:loc-1")), "NOT_A_GLOBAL_ID"),
    ],
)
async def test_a_malformed_id_is_bad_user_input(api: Api, value: str, reason: str) -> None:
    for query, variables in (
        ("query($id: ID!) { node(id: $id) { id } }", {"id": value}),
        ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [gid("Store", 1), value]}),
    ):
        error = await api.error(query, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        if value != "not base64!":
            assert error["extensions"]["reason"] == reason
            # In `nodes`, the refused id's index: the second id here.
            assert error["extensions"]["field"] == ("ids.1" if "nodes" in query else "id"), error


async def test_a_refused_nodes_keeps_the_rest_of_the_response(api: Api) -> None:
    """`nodes` is nullable, as root fields are: its BAD_USER_INPUT leaves the other fields' data."""
    too_many = [gid("Store", n) for n in range(1, api.settings.max_page_size + 2)]
    for ids in (["!!"], [gid("Store", 1), gid("Store", 0)], too_many):
        body = await api.post(
            "query($ids: [ID!]!) { stores(first: 1) { totalCount } nodes(ids: $ids) { id } }", {"ids": ids}
        )
        assert body["data"]["nodes"] is None
        assert body["data"]["stores"]["totalCount"] > 0
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_nodes_takes_at_most_the_largest_page_of_ids(api: Api) -> None:
    limit = api.settings.max_page_size
    ids = [gid("Store", n) for n in range(1, limit + 2)]

    error = await api.error("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == "TOO_MANY_IDS"
    assert (
        len((await api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids[:limit]}))["nodes"]) == limit
    )


async def test_the_cost_of_nodes_counts_its_ids(api: Api) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { name description } } }"

    async def cost(n: int) -> int:
        body = await api.post(query, {"ids": [gid("Product", k) for k in range(1, n + 1)]})
        return int(body["extensions"]["cost"]["requestedQueryCost"])

    one, ten = await cost(1), await cost(10)
    assert ten > 9 * one  # every id counts its selection


async def test_the_ids_of_one_type_are_one_call(api: Api, count_sql: StatementCounter) -> None:
    products = await api.data("{ products(first: 50) { nodes { id } } }")
    ids = [p["id"] for p in products["products"]["nodes"]]
    count_sql.statements.clear()

    data = await api.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { name } } }",
        {"ids": ids[:25] + [gid("Store", 1), gid("Store", 2)] + ids[25:]},
    )
    assert [n["id"] for n in data["nodes"]] == ids[:25] + [gid("Store", 1), gid("Store", 2)] + ids[25:]
    # One statement for the 50 products, one for the two stores.
    assert count_sql.count == 2, count_sql.statements


async def test_root_lookups_take_the_global_or_the_source_id(api: Api) -> None:
    store_id, product_id = gid("Store", 1), gid("Product", 1)
    data = await api.data(
        'query($s: ID!, $p: ID!) { a: store(id: $s) { id sourceId } b: store(id: "1") { id } '
        'c: product(id: $p) { id sourceId } d: product(id: "1") { id } }',
        {"s": store_id, "p": product_id},
    )
    assert data == {
        "a": {"id": store_id, "sourceId": "1"},
        "b": {"id": store_id},
        "c": {"id": product_id, "sourceId": "1"},
        "d": {"id": product_id},
    }
    # Another type's global id is a mistake, not a lookup of whatever has that number.
    for query in ("{ store(id: $x) { id } }", "{ product(id: $x) { id } }"):
        error = await api.error(f"query($x: ID!) {query}", {"x": gid("User", 1)})
        assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("BAD_USER_INPUT", "WRONG_TYPE")
    # Nor is a text that decodes to an object's key but is not its id (a client would cache the
    # store twice), nor a source id with a leading zero.
    for query in ("{ store(id: $x) { id } }", "{ product(id: $x) { id } }"):
        for value, reason in (
            (gid("Store", "01"), "BAD_KEY"),
            (gid("Product", "01"), "BAD_KEY"),
            (loose(store_id), "NOT_A_GLOBAL_ID"),
            (loose(gid("Product", 10)), "NOT_A_GLOBAL_ID"),
        ):
            error = await api.error(f"query($x: ID!) {query}", {"x": value})
            assert error["extensions"]["code"] == "BAD_USER_INPUT", (query, value, error)
            assert error["extensions"].get("reason") == reason, (query, value, error)


async def test_a_review_posted_with_a_products_global_id(fresh_api: Api) -> None:
    dave, alice = await fresh_api.login("dave"), await fresh_api.login("alice")
    data = await fresh_api.data(
        'mutation($p: ID!) { postReview(productId: $p, review: "Works as described.", rating: 5) '
        "{ id sourceId product { id sourceId } } }",
        {"p": gid("Product", 3)},
        token=dave,
    )
    posted = data["postReview"]
    assert posted["product"] == {"id": gid("Product", 3), "sourceId": "3"}
    assert posted["id"] == gid("Review", posted["sourceId"])

    # Refetched by its id, the review keeps its rule: its e-mail is the reviewer's to see only,
    # as on the product's list of reviews.
    email = (await fresh_api.data("{ viewer { email } }", token=dave))["viewer"]["email"]
    node = "query($id: ID!) { node(id: $id) { id ... on Review { review reviewerEmail } } }"
    mine = await fresh_api.data(node, {"id": posted["id"]}, token=dave)
    assert mine["node"] == {"id": posted["id"], "review": "Works as described.", "reviewerEmail": email}
    theirs = await fresh_api.post(node, {"id": posted["id"]}, token=alice)
    assert theirs["data"]["node"] == {"id": posted["id"], "review": "Works as described.", "reviewerEmail": None}
    listed = await fresh_api.post(
        "{ product(id: 3) { reviews(first: 100) { nodes { id reviewerEmail } } } }", token=alice
    )
    assert {"id": posted["id"], "reviewerEmail": None} in listed["data"]["product"]["reviews"]["nodes"]
    assert [e["extensions"]["code"] for e in theirs["errors"]] == ["FORBIDDEN"]
    assert {e["extensions"]["code"] for e in listed["errors"]} == {"FORBIDDEN"}


MANIFESTS = "{ apps(first: 5) { nodes { manifests { id app version schemaVersion } } } }"


async def test_app_manifests_refetch_by_app_version_and_schema_version(api: Api) -> None:
    apps = await api.data(MANIFESTS)
    manifests = [m for a in apps["apps"]["nodes"] for m in a["manifests"]]
    assert len({(m["app"], m["version"]) for m in manifests}) >= 2, "too few app versions to refetch"
    for each in manifests:
        # FLECS has no manifest id: a manifest is its app's version at a schema version.
        key = f"{each['app']}:{each['version']}:{each['schemaVersion']}"
        assert base64.b64decode(each["id"]).decode() == f"AppManifest:{key}"

    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on AppManifest { id app version schemaVersion } } }"
    data = await api.data(query, {"ids": [m["id"] for m in reversed(manifests)]})
    assert data["nodes"] == manifests[::-1]
    one = await api.data(
        "query($id: ID!) { node(id: $id) { __typename id ... on AppManifest { schemaVersion manifest } } }",
        {"id": manifests[-1]["id"]},
        token=await api.login("bob"),
    )
    assert one["node"]["__typename"] == "AppManifest"
    assert one["node"]["manifest"]["_schemaVersion"] == one["node"]["schemaVersion"] == manifests[-1]["schemaVersion"]


async def nodes_counted(api: Api, ids: list[str]) -> tuple[list[Any], StatementCounter]:
    """`nodes(ids:)`'s answer and the SQL statements it made; in upstream mode, having checked
    that it made no upstream call."""
    counter = StatementCounter()
    for each in engines(api.store.engine):
        event.listen(each, "before_cursor_execute", counter)
    try:
        if mode() == "upstream":
            async with SandboxControl(api.store.sandbox_url) as sandbox:
                data = await api.data(NODES, {"ids": ids})
                assert await sandbox.calls() == {}
        else:
            data = await api.data(NODES, {"ids": ids})
    finally:
        for each in engines(api.store.engine):
            event.remove(each, "before_cursor_execute", counter)
    return data["nodes"], counter


@pytest.mark.parametrize("count", [5, 50])
async def test_the_ids_of_one_type_are_one_call_in_either_mode(api: Api, count: int) -> None:
    # In upstream mode too, a record by id is the directory's (no upstream API has a batch
    # operation by id): the ids make no upstream call, and one statement per type.
    products = await api.data(f"{{ products(first: {count}) {{ nodes {{ id }} }} }}")
    ids = [p["id"] for p in products["products"]["nodes"]]
    found, counter = await nodes_counted(api, ids)
    assert [n["id"] for n in found] == ids
    assert counter.count == 1, counter.statements


async def test_reviews_and_manifests_are_one_call_each_in_either_mode(api: Api) -> None:
    # FLECS has neither a review nor a manifest by id: both are the directory's, as their lists
    # are in upstream mode; a manifest's id is read with the rest of its app version.
    apps = await api.data("{ apps(first: 5) { nodes { manifests { id } reviews(first: 3) { nodes { id } } } } }")
    manifests = [m["id"] for a in apps["apps"]["nodes"] for m in a["manifests"]]
    reviews = [r["id"] for a in apps["apps"]["nodes"] for r in a["reviews"]["nodes"]]
    assert len(manifests) > 1
    assert len(reviews) > 1
    ids = [x for pair in zip(manifests, reviews, strict=False) for x in pair] + manifests + reviews
    found, counter = await nodes_counted(api, ids)
    assert [n["id"] for n in found] == ids
    assert counter.count == 2, counter.statements
