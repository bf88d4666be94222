"""Upstream mode as a user sees it: the calls a query costs at the upstream APIs (counted by the
sandbox), and what a failing upstream looks like in the GraphQL response (injected by the
sandbox for real, over a socket). Runs in every test mode: it starts its own sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, global_id, make_settings, open_api, source_id
from facade.app import create_app
from facade.backends.compose import compose


@pytest.fixture(scope="module")
async def up(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    # The default upstream timeout (10 s): the call counts below must not depend on how fast a
    # loaded machine answers. With 1 s, a first attempt that took longer under load (the sandbox
    # shares this process) timed out and its retry made a second call at the sandbox.
    settings = make_settings(
        Path(tmp_path_factory.mktemp("upstream")), upstream_timeout=10.0, upstream_retries=2, upstream_sort_limit=50
    )
    api, _ = await open_api(settings, products=80, upstream=True)
    yield api
    await api.client.aclose()
    await api.store.aclose()


class Sandbox:
    def __init__(self, api: Api) -> None:
        self.url = api.store.sandbox_url

    async def faults(self, *rules: str) -> None:
        async with httpx.AsyncClient() as http:
            await http.delete(f"{self.url}/__sandbox/faults")
            if rules:
                response = await http.post(f"{self.url}/__sandbox/faults", json=list(rules))
                assert response.status_code < 300, response.text

    async def calls(self) -> dict[str, int]:
        async with httpx.AsyncClient() as http:
            counted: dict[str, int] = (await http.get(f"{self.url}/__sandbox/calls")).json()["calls"]
            await http.delete(f"{self.url}/__sandbox/calls")
            return counted


@pytest.fixture
async def sandbox(up: Api) -> AsyncIterator[Sandbox]:
    box = Sandbox(up)
    await box.faults()
    await box.calls()
    yield box
    await box.faults()


# ---------------------------------------------------------------------------------------------
# Calls per query

NESTED = """
query($n: Int!) { products(first: $n) { totalCount nodes { id name store { name } owner { displayName }
  reviews(first: 2) { totalCount nodes { rating } } } } }
"""


@pytest.mark.parametrize("first", [10, 50])
async def test_a_nested_list_costs_the_same_upstream_calls_at_any_length(up: Api, sandbox: Sandbox, first: int) -> None:
    data = await up.data(NESTED, {"n": first})

    assert len(data["products"]["nodes"]) == first
    calls = await sandbox.calls()
    # The product list is the FLECS call; stores, owners and reviews have no FLECS operation and
    # come from the local store. The count does not grow with the list.
    assert set(calls) == {"GET /api/v2/products"}
    assert calls["GET /api/v2/products"] == 1


async def test_identical_gets_in_one_request_are_made_once(up: Api, sandbox: Sandbox) -> None:
    data = await up.data("{ a: products(first: 5) { nodes { id } } b: products(first: 5) { nodes { name } } }")

    assert [p["id"] for p in data["a"]["nodes"]] == [global_id("Product", i) for i in range(1, 6)]
    assert (await sandbox.calls()) == {"GET /api/v2/products": 1}


async def test_a_search_that_only_reads_is_shared_and_retried_like_a_get(up: Api, sandbox: Sandbox) -> None:
    """Flow Retail's F9 is a POST that only reads: two identical searches of one request are one
    call, and a passing 503 is retried away."""
    token = await up.login("alice")
    search = 'searchDevices(tenantUid: "acme-retail", filter: {status: ACTIVE}) { totalCount }'
    await sandbox.faults("POST /v2/tenants/acme-retail/devices/search=status:503x1")
    await sandbox.calls()

    data = await up.data(f"{{ a: {search} b: {search} }}", token=token)

    assert data["a"] == data["b"]
    assert data["a"]["totalCount"] > 0
    assert (await sandbox.calls()) == {"POST /v2/tenants/{tenantUid}/devices/search": 2}  # the 503, its retry


async def test_my_lists_are_one_call_each(up: Api, sandbox: Sandbox) -> None:
    token = await up.login("dave")
    await sandbox.calls()

    data = await up.data(
        "{ viewer { purchasedProducts { totalCount } purchasedApps { totalCount } "
        "subscriptions { nodes { lineItems { product { name } } } } } }",
        token=token,
    )

    assert data["viewer"]["subscriptions"]["nodes"]
    assert (await sandbox.calls()) == {
        "GET /api/v2/my/products": 1,
        "GET /api/v2/my/products/apps": 1,
        "GET /api/v2/my/subscriptions": 1,
    }


async def test_a_tenants_devices_with_their_stores_are_one_call(up: Api, sandbox: Sandbox) -> None:
    token = await up.login("alice")
    await sandbox.calls()

    data = await up.data(
        '{ devices(tenantUid: "acme-retail", first: 50) { totalCount nodes { name store { uid } till { name } } } }',
        token=token,
    )

    nodes = data["devices"]["nodes"]
    assert nodes
    assert all(n["store"] is None or n["store"]["uid"] for n in nodes)
    assert (await sandbox.calls()) == {"GET /v2/tenants/{tenantUid}/devices": 1}


async def test_store_lists_without_a_batch_endpoint_are_one_call_per_store(up: Api, sandbox: Sandbox) -> None:
    data = await up.data("{ stores(first: 4) { nodes { id products(first: 3) { totalCount nodes { id } } } } }")

    stores = data["stores"]["nodes"]
    assert len(stores) == 4
    # FLECS lists products of one store_id per call: one call per store, made concurrently.
    assert (await sandbox.calls())["GET /api/v2/products"] == 4


# ---------------------------------------------------------------------------------------------
# Failures

PARTIAL = "{ products(first: 3) { totalCount } stores(first: 1) { totalCount } }"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_USER_INPUT"),
        (422, "BAD_USER_INPUT"),
        (401, "UNAUTHENTICATED"),
        (403, "FORBIDDEN"),
        (404, "NOT_FOUND"),
        (409, "CONFLICT"),
        (500, "UPSTREAM_ERROR"),
        (502, "UPSTREAM_ERROR"),
    ],
)
async def test_an_upstream_status_is_a_field_error_with_a_code_and_the_rest_answers(
    up: Api, sandbox: Sandbox, status: int, code: str
) -> None:
    await sandbox.faults(f"GET /api/v2/products=status:{status}")

    body = await up.post(PARTIAL)

    assert body["data"]["products"] is None
    assert body["data"]["stores"]["totalCount"] > 0  # partial data: the rest of the response
    error = body["errors"][0]
    assert error["path"] == ["products"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["status"] == status
    assert "Fault injected" not in str(body)  # the upstream's body is not echoed


async def test_rate_limiting_is_retried_then_reported(up: Api, sandbox: Sandbox) -> None:
    await sandbox.faults("GET /api/v2/products=status:429;retry_after=0")

    body = await up.post(PARTIAL)

    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert body["data"]["stores"]["totalCount"] > 0
    assert (await sandbox.calls())["GET /api/v2/products"] == 3  # the call and two retries


async def test_a_passing_failure_of_a_get_is_retried_away(up: Api, sandbox: Sandbox) -> None:
    await sandbox.faults("GET /api/v2/products=status:503x1;retry_after=0")

    data = await up.data(PARTIAL)

    assert data["products"]["totalCount"] == 80
    assert (await sandbox.calls())["GET /api/v2/products"] == 2


async def test_a_write_is_never_retried(up: Api, sandbox: Sandbox) -> None:
    token = await up.login("alice")
    await sandbox.faults("POST /api/v2/products/apps/reviews=status:503x1")
    await sandbox.calls()

    error = await up.error('mutation { postReview(productId: "2", review: "Solid", rating: 4) { id } }', token=token)

    assert error["extensions"]["code"] == "UPSTREAM_ERROR"
    assert (await sandbox.calls()) == {"POST /api/v2/products/apps/reviews": 1}


async def test_a_slow_upstream_is_a_timeout_not_a_hung_request(up: Api, sandbox: Sandbox) -> None:
    await sandbox.faults("GET /api/v2/products=latency:2500")

    # Another facade over the same sandbox and store, whose upstream calls may take 1 s each.
    settings = up.settings.model_copy(
        update={"upstream_timeout": 1.0, "flecs_url": up.store.sandbox_url, "flow_url": up.store.sandbox_url + "/v2"}
    )
    backend = compose(settings, up.store.local)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, backend=backend)), base_url="http://facade.test"
    )
    try:
        body = await Api(client=client, store=up.store, settings=settings).post(PARTIAL)
    finally:
        await client.aclose()
        for upstream in backend.upstreams.values():
            await upstream.aclose()

    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert body["data"]["stores"]["totalCount"] > 0


@pytest.mark.parametrize("kind", ["drop", "malformed"])
async def test_a_broken_answer_is_an_upstream_error(up: Api, sandbox: Sandbox, kind: str) -> None:
    await sandbox.faults(f"GET /api/v2/products={kind}")

    body = await up.post(PARTIAL)

    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert body["data"]["stores"]["totalCount"] > 0


async def test_credentials_reach_only_the_request_that_sent_them(up: Api, sandbox: Sandbox) -> None:
    dave = await up.login("dave")
    mine: Any = await up.data("{ viewer { purchasedProducts { totalCount } } }", token=dave)
    assert mine["viewer"]["purchasedProducts"]["totalCount"] > 0

    anonymous = await up.error("{ viewer { purchasedProducts { totalCount } } }")

    assert anonymous["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------------------------------------
# A failed call fails only the items it served

STORES_PRODUCTS = "{ stores(first: 3) { nodes { id products(first: 1) { totalCount nodes { id } } } } }"


@pytest.mark.parametrize(
    ("fault", "code"),
    [("status:404", "NOT_FOUND"), ("status:500", "UPSTREAM_ERROR"), ("drop", "UPSTREAM_ERROR")],
)
async def test_one_failed_call_of_a_batch_fails_only_the_store_it_served(
    up: Api, sandbox: Sandbox, fault: str, code: str
) -> None:
    # FLECS lists one store's products per call: three stores, three calls, the second one fails.
    await sandbox.faults(f"GET /api/v2/products?store_id=2={fault}")

    # Twice: the first run is the standard executor's, the second the compiled plan's (replayed).
    for _ in range(2):
        body = await up.post(STORES_PRODUCTS)

        stores = body["data"]["stores"]["nodes"]
        assert [s["id"] for s in stores] == [global_id("Store", i) for i in (1, 2, 3)]
        assert stores[1]["products"] is None
        for other in (stores[0], stores[2]):
            assert other["products"]["totalCount"] > 0
            assert len(other["products"]["nodes"]) == 1
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["stores", "nodes", 1, "products"], code)
        ]


async def test_failed_calls_of_a_batch_are_made_once_by_either_executor(up: Api, sandbox: Sandbox) -> None:
    await sandbox.faults("GET /api/v2/products?store_id=[23]=status:404")

    for _ in range(2):  # the standard executor, then the compiled plan and its replay
        body = await up.post(STORES_PRODUCTS)

        assert [s["products"] is None for s in body["data"]["stores"]["nodes"]] == [False, True, True]
        assert [e["path"][2] for e in body["errors"]] == [1, 2]
        # 404 is not retried: one call per store, none made again by the replay.
        assert (await sandbox.calls())["GET /api/v2/products"] == 3


async def test_a_failed_root_list_fails_only_its_own_alias(up: Api, sandbox: Sandbox) -> None:
    # Both lists are one batch of the same loader, one call each.
    await sandbox.faults("GET /api/v2/products?store_id=2=status:500")

    body = await up.post(
        "{ a: products(storeId: 1, first: 1) { totalCount } b: products(storeId: 2, first: 1) { totalCount } }"
    )

    assert body["data"]["a"]["totalCount"] > 0
    assert body["data"]["b"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["b"], "UPSTREAM_ERROR")]


# ---------------------------------------------------------------------------------------------
# Orders the API cannot give: the whole list sorted here, or a clear refusal


async def test_an_order_flecs_cannot_give_is_made_over_the_whole_list(up: Api, sandbox: Sandbox) -> None:
    # Store 1's products are fewer than the sort limit (50): fetched whole, in one page of 100.
    query = "{ products(storeId: 1, first: 2, sortBy: RATING_COUNT, sortDirection: DESC) { totalCount nodes { id } } }"
    everything = "{ products(storeId: 1, first: 100) { totalCount nodes { id ratingCount } } }"

    data = await up.data(query)
    calls = await sandbox.calls()
    every = (await up.data(everything))["products"]

    expected = sorted(every["nodes"], key=lambda p: (p["ratingCount"], int(source_id(p["id"]))), reverse=True)[:2]
    assert data["products"]["nodes"] == [{"id": p["id"]} for p in expected]
    assert data["products"]["totalCount"] == every["totalCount"]
    assert calls == {"GET /api/v2/products": 1}


async def test_an_order_over_a_list_longer_than_the_sort_limit_is_refused(up: Api, sandbox: Sandbox) -> None:
    body = await up.post(
        "{ products(first: 2, sortBy: RATING_COUNT, sortDirection: DESC) { nodes { id } } "
        "byId: products(first: 2) { nodes { id } } }"
    )

    assert body["data"]["products"] is None
    assert [n["id"] for n in body["data"]["byId"]["nodes"]] == [global_id("Product", 1), global_id("Product", 2)]
    (error,) = body["errors"]
    assert error["path"] == ["products"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ID ascending" in error["message"]
    assert "up to 50 products" in error["message"]
    assert "this list has 80" in error["message"]


async def test_a_creation_time_flecs_does_not_send_is_not_sorted_by(up: Api) -> None:
    error = await up.error("{ products(storeId: 1, sortBy: CREATED_AT) { nodes { id } } }")

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "no creation time" in error["message"]
    assert "RATING_COUNT" in error["message"]
