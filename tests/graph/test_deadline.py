"""One deadline per request (FACADE_REQUEST_TIMEOUT), as a client sees it: whatever the upstreams
do (answer late, ask for a pause, drop the connection; injected by the sandbox over a socket), the
response comes back with the fields that were still waiting answering UPSTREAM_TIMEOUT and the rest
answered, on the compiled path and on the standard one; and a request whose local work does not
keep the deadline still gets an answer. Runs in every test mode: it starts its own sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, global_id, make_settings, open_api
from facade.app import create_app
from support.sandbox import SandboxControl, afosto_token

# A budget far below the upstream timeout (10 s) and the retries (2): the deadline decides. It
# also leaves a loaded machine time to send each call before it passes (at 1.5 s, the compiled
# plan's first run sometimes reached the deadline before its call: none was counted), and the
# slow answers below (LATE) stay well beyond it.
DEADLINE = 3.0
LATE = "latency:8000"
PRODUCTS = "GET /api/v2/products"
PARTIAL = "{ products(first: 3) { totalCount } stores(first: 1) { totalCount } }"


@pytest.fixture(scope="module")
async def up(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    settings = make_settings(
        Path(tmp_path_factory.mktemp("deadline")),
        request_timeout=DEADLINE,
        upstream_timeout=10.0,
        upstream_retries=2,
    )
    api, _ = await open_api(settings, products=40, upstream=True)
    yield api
    await api.client.aclose()
    await api.store.aclose()


def app_client(up: Api, backend: Any = None, **settings: Any) -> httpx.AsyncClient:
    """Another app over the same (upstream) backend, with other settings."""
    app = create_app(up.settings.model_copy(update=settings), backend=backend or up.store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")


@pytest.fixture(params=["compiled", "standard"])
async def api(request: pytest.FixtureRequest, up: Api) -> AsyncIterator[Api]:
    """The app on each execution path: compiled plans (replayed on errors) and Strawberry's own."""
    if request.param == "compiled":
        yield up
        return
    client = app_client(up, compiled=False)
    yield Api(client=client, store=up.store, settings=up.settings)
    await client.aclose()


@pytest.fixture
async def sandbox(up: Api) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(up.store.sandbox_url) as control:
        yield control


async def post(api: Api, query: str) -> dict[str, Any]:
    """The response, which must come: the bound only guards the suite against a hang (before the
    deadline these requests took 30 s and more)."""
    return await asyncio.wait_for(api.post(query), 15)


def codes(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    return {tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", [])}


async def test_a_slow_upstream_field_answers_upstream_timeout_and_the_rest_answers(
    api: Api, sandbox: SandboxControl
) -> None:
    await sandbox.faults(f"GET /api/v2/products={LATE}")

    body = await post(api, PARTIAL)

    assert body["data"]["products"] is None
    assert codes(body) == {("products",): "UPSTREAM_TIMEOUT"}
    assert body["data"]["stores"]["totalCount"] > 0  # a local field answers
    # The one attempt had all the time there was: no retry was started.
    assert (await sandbox.calls())[PRODUCTS] == 1


async def test_nested_upstream_fields_answer_upstream_timeout_beside_local_ones(
    api: Api, sandbox: SandboxControl
) -> None:
    await sandbox.faults(f"GET /api/v2/products={LATE}")

    body = await post(api, "{ stores(first: 3) { nodes { name products(first: 1) { nodes { id } } } } }")

    stores = body["data"]["stores"]["nodes"]
    assert len(stores) == 3
    assert all(s["name"] for s in stores)  # the local fields answer
    assert all(s["products"] is None for s in stores)
    assert codes(body) == {("stores", "nodes", i, "products"): "UPSTREAM_TIMEOUT" for i in range(3)}
    assert (await sandbox.calls())[PRODUCTS] == 3  # one call per store, none retried


async def test_fields_under_a_slow_root_get_what_is_left_of_the_budget(api: Api, sandbox: SandboxControl) -> None:
    # The root's call takes 0.5 s and answers in time; each store's (store_id) takes 8 s and cannot.
    await sandbox.faults("GET /api/v2/products=latency:500", f"GET /api/v2/products?store_id=*={LATE}")

    body = await post(
        api,
        "{ products(first: 2) { nodes { id store { name products(first: 1) { nodes { id } } } } } "
        "stores(first: 1) { totalCount } }",
    )

    products = body["data"]["products"]["nodes"]
    assert [p["id"] for p in products] == [global_id("Product", 1), global_id("Product", 2)]
    assert all(p["store"]["name"] and p["store"]["products"] is None for p in products)
    errors = codes(body)
    assert set(errors.values()) == {"UPSTREAM_TIMEOUT"}
    assert {path[:4] for path in errors} == {("products", "nodes", 0, "store"), ("products", "nodes", 1, "store")}
    assert body["data"]["stores"]["totalCount"] > 0


async def test_a_retry_after_beyond_the_deadline_answers_rate_limited_at_once(
    api: Api, sandbox: SandboxControl
) -> None:
    await sandbox.faults("GET /api/v2/products=status:429;retry_after=120")

    body = await post(api, PARTIAL)

    assert codes(body) == {("products",): "RATE_LIMITED"}
    assert body["errors"][0]["extensions"]["retryAfter"] == 120
    assert body["data"]["stores"]["totalCount"] > 0
    assert (await sandbox.calls())[PRODUCTS] == 1  # not retried, not waited for


async def test_an_upstreams_retry_after_is_also_the_responses_header(api: Api, sandbox: SandboxControl) -> None:
    """README, Errors: RATE_LIMITED's `retryAfter` is "also sent as the Retry-After header"."""
    await sandbox.faults("GET /api/v2/products=status:429;retry_after=120")

    response = await asyncio.wait_for(api.client.post("/graphql", json={"query": PARTIAL}), 15)

    assert response.status_code == 200  # partial data: a field's error, not the request's
    assert response.headers["retry-after"] == "120"
    assert response.json()["data"]["stores"]["totalCount"] > 0
    plain = await asyncio.wait_for(api.client.post("/graphql", json={"query": "{ stores { totalCount } }"}), 15)
    assert "retry-after" not in plain.headers


async def test_a_dropped_connection_costs_one_call_per_attempt(api: Api, sandbox: SandboxControl) -> None:
    await sandbox.faults("GET /api/v2/products=drop")

    body = await post(api, PARTIAL)

    assert codes(body) == {("products",): "UPSTREAM_ERROR"}
    assert (await sandbox.calls())[PRODUCTS] == 3  # the call and two retries, each sent once


CHANNELS = "salesChannels { nodes { name } } "
CATALOG = (
    "stores(first: 2) { nodes { name salesChannels { nodes { name } } "
    "products(first: 2) { nodes { sku prices { nodes { amount } } } } } }"
)
SLOW_BRANCH = {
    # The slow channels and the products beside them, under one root.
    "one root": f'{{ tenant(tenantUid: "acme-retail") {{ {CATALOG} }} }}',
    # The slow channels under one root, the products under another.
    "two roots": '{ slow: tenant(tenantUid: "acme-retail") { afosto { salesChannels { nodes { name } } } } '
    f'fast: tenant(tenantUid: "acme-retail") {{ {CATALOG.replace(CHANNELS, "")} }} }}',
    # Beside a branch that fails at once (the orders, 404): on the compiled path the failure
    # replays the request on the standard one, which must not first wait for the slow channels.
    "and a failure": f'{{ tenant(tenantUid: "acme-retail") {{ {CATALOG} afosto {{ orders(first: 2) '
    "{ nodes { number } } } } }",
}


@pytest.mark.parametrize("shape", list(SLOW_BRANCH))
async def test_a_slow_branch_holds_up_only_the_fields_below_it(api: Api, sandbox: SandboxControl, shape: str) -> None:
    """A tester's slow Afosto channel list (or FLECS product list) left the rest of the query
    waiting for it: the products' prices beside it, a level further down, were never asked for
    ("The Afosto API was not called: the request's time is up"). The walker loaded a level only
    once every load of the one before had answered."""
    link = (await api.store.links.afosto_tenants(["acme-retail"]))["acme-retail"]
    headers = {"X-Afosto-Authorization": f"Bearer {afosto_token(api.token_settings, link.afosto_tenant_id)}"}
    failing = shape == "and a failure"
    await sandbox.faults(
        f"GET /afosto/cat/channels={LATE}", *(["GET /afosto/odr/orders=status:404"] if failing else [])
    )

    body = await asyncio.wait_for(api.post(SLOW_BRANCH[shape], token=await api.login("alice"), headers=headers), 15)

    errors = codes(body)
    assert errors, body
    slow = {path: code for path, code in errors.items() if "salesChannels" in path}
    assert slow, errors
    assert set(slow.values()) == {"UPSTREAM_TIMEOUT"}, body["errors"]
    assert {path: code for path, code in errors.items() if path not in slow} == (
        {("tenant", "afosto", "orders"): "NOT_FOUND"} if failing else {}
    ), errors  # only the slow list failed, and the failing one
    tenant = body["data"]["fast" if shape == "two roots" else "tenant"]
    products = [p for store in tenant["stores"]["nodes"] for p in store["products"]["nodes"]]
    assert products, body
    assert all(p["prices"] is not None for p in products), products
    assert any(p["prices"]["nodes"] for p in products), products


# -- the endpoint's last resort ----------------------------------------------------------------


class StuckStores:
    """The store domain of a backend whose reads do not keep the deadline: like a slow SQL read
    whose cleanup waits for the read, a cancellation does not end it; only `release` does."""

    def __init__(self, release: asyncio.Event) -> None:
        self.release = release
        self.running = 0

    def __getattr__(self, name: str) -> Any:
        async def stuck(*args: Any, **kwargs: Any) -> Any:
            self.running += 1
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                await self.release.wait()
                raise
            finally:
                self.running -= 1

        return stuck


class StuckBackend:
    def __init__(self, backend: Any, stores: StuckStores) -> None:
        self._backend = backend
        self.stores = stores

    def bind(self, *args: Any) -> StuckBackend:
        return StuckBackend(self._backend.bind(*args), self.stores)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_work_that_ignores_the_deadline_still_gets_an_answer(up: Api, accept: str) -> None:
    stores = StuckStores(asyncio.Event())
    async with app_client(up, backend=StuckBackend(up.store, stores)) as client:
        response = await asyncio.wait_for(
            client.post("/graphql", json={"query": PARTIAL}, headers={"Accept": accept}), 15
        )
        assert stores.running  # answered without waiting for the stuck read to unwind
        stores.release.set()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["REQUEST_TIMEOUT"]
