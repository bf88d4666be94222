"""What the clients do when an upstream is stricter (or terser) than the sandbox: no paging, no
totals, a write answered without its record, a Flow error body. Scripted with
`httpx.MockTransport`; the calls made are part of each assertion."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest

from facade.auth import Principal, TokenKind
from facade.backends.interfaces import ProductQuery
from facade.backends.upstream.base import ApiClient
from facade.backends.upstream.flecs.client import FlecsConsole
from facade.backends.upstream.flow.client import FlowRetail
from facade.backends.upstream.flow.payloads import flow_store_id
from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient
from facade.errors import FacadeError
from facade.models import DeviceFilter, DeviceStatus, PageArgs, SortDirection
from support.samples import flecs_product

T = TypeVar("T")
ALLOWED = frozenset({"authorization", "x-session-id"})
SETTINGS = HttpSettings(retries=0, backoff=0.0, transport="httpx")
ADMIN = Principal(kind=TokenKind.USER, subject="1", user_id=1, tenant_id="acme", is_tenant_admin=True)


product = flecs_product


def device(uid: str, store: str = "s1", code: str | None = None) -> dict[str, Any]:
    return {
        "deviceUid": uid,
        "name": uid,
        "appType": "CLIENT",
        "status": "ACTIVE",
        "deviceCode": code,
        "tenantUid": "acme",
        "storeUid": store,
        "tillUid": None,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "lastModifiedAt": "2026-01-01T00:00:00.000Z",
    }


class Recorder:
    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def query(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}


@pytest.fixture
async def made() -> AsyncIterator[list[Any]]:
    clients: list[Any] = []
    yield clients
    for client in clients:
        await client.aclose()


def flecs(made: list[Any], recorder: Recorder) -> FlecsConsole:
    console = FlecsConsole(
        UpstreamClient("FLECS Console API", "http://flecs.test", SETTINGS, transport=httpx.MockTransport(recorder))
    )
    made.append(console)
    return console


def flow(made: list[Any], recorder: Recorder) -> FlowRetail:
    retail = FlowRetail(
        UpstreamClient("Flow Retail API", "http://flow.test/v2", SETTINGS, transport=httpx.MockTransport(recorder))
    )
    made.append(retail)
    return retail


async def in_request(api: ApiClient, call: Callable[[Any], Awaitable[T]], headers: dict[str, str] | None = None) -> T:
    """`call` as one GraphQL request would make it: on `api` bound to a request scope of its own."""
    return await call(api.bind(RequestScope.of(headers or {}, ALLOWED)))


# -- FLECS ---------------------------------------------------------------------------------------


async def test_product_list_without_paging_is_sorted_and_cut_here(made: list[Any]) -> None:
    prices = {1: "5.00", 2: "1.00", 3: "9.00", 4: "3.00"}
    everything = [product(i, prices[i]) for i in prices]
    recorder = Recorder(
        lambda request: httpx.Response(200, json={"data": {"totalProducts": 4, "products": everything}})
    )
    console = flecs(made, recorder)
    page = PageArgs(limit=2, offset=1, sort="price", direction=SortDirection.DESC)
    result = await in_request(console, lambda c: c.products.page_all(ProductQuery(apps_only=True), page))
    assert [p.id for p in result.items] == [1, 4]
    assert result.total == 4
    assert all(p.is_app for p in result.items)


async def test_total_pages_envelope_reads_the_last_page_for_the_total(made: list[Any]) -> None:
    def paged(request: httpx.Request) -> httpx.Response:
        number, size = int(query(request)["page"]), int(query(request)["per_page"])
        ids = list(range(1, 24))  # 23 products
        chunk = ids[(number - 1) * size : number * size]
        return httpx.Response(
            200, json={"data": {"page": number, "totalPages": 3, "products": [product(i) for i in chunk]}}
        )

    recorder = Recorder(paged)
    console = flecs(made, recorder)
    result = await in_request(console, lambda c: c.products.page_all(ProductQuery(), PageArgs(limit=10)))
    assert [p.id for p in result.items] == list(range(1, 11))
    assert result.total == 23
    assert [query(r)["page"] for r in recorder.requests] == ["1", "3"]


async def test_activation_204_without_a_session_header_keeps_the_sent_session(made: list[Any]) -> None:
    session = "0f9a3c1e-4b2d-4c8e-9a7f-1d2e3f4a5b6c"
    console = flecs(made, Recorder(lambda request: httpx.Response(204)))
    activation = await in_request(console, lambda c: c.licenses.activate(None, None, session))
    assert activation.already_active
    assert activation.session.id == session


async def test_activation_204_with_a_style_simple_header(made: list[Any]) -> None:
    session = "0f9a3c1e-4b2d-4c8e-9a7f-1d2e3f4a5b6c"
    header = {"X-Session-Id": f"id,{session},timestamp,1700000000"}
    console = flecs(made, Recorder(lambda request: httpx.Response(204, headers=header)))
    activation = await in_request(console, lambda c: c.licenses.activate(None, None, session))
    assert activation.session.timestamp == 1700000000


# -- Flow Retail ---------------------------------------------------------------------------------


async def test_flow_error_body_is_mapped_and_not_shown(made: list[Any]) -> None:
    body = {"message": "Tenant acme has no device dev-9 (internal id 77)", "code": "NOT_FOUND"}
    retail = flow(made, Recorder(lambda request: httpx.Response(404, json=body)))
    with pytest.raises(FacadeError) as err:
        await in_request(retail, lambda c: c.devices.get(ADMIN, "acme", "dev-9"))
    assert err.value.code == "NOT_FOUND"
    assert "77" not in err.value.message


async def test_flow_window_across_two_pages(made: list[Any]) -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        q = query(request)
        number, size = int(q["pageNumber"]), int(q["pageSize"])
        items = [device(f"d{i}") for i in range(1, 15)][(number - 1) * size : number * size]
        return httpx.Response(200, json={"items": items, "pageNumber": number, "pageSize": size, "totalCount": 14})

    recorder = Recorder(pages)
    retail = flow(made, recorder)
    page = PageArgs(limit=4, offset=6, sort="last_modified_at", direction=SortDirection.DESC)
    result = await in_request(retail, lambda c: c.devices.search(ADMIN, DeviceFilter(tenant_id="acme"), page))
    assert [d.id for d in result.items] == ["d7", "d8", "d9", "d10"]
    assert result.total == 14
    sent = [query(r) for r in recorder.requests]
    assert sorted(q["pageNumber"] for q in sent) == ["2", "3"]
    assert {(q["sortBy"], q["sortDirection"]) for q in sent} == {("lastModifiedAt", "DESC")}


async def test_flow_filters_go_to_the_search_operation(made: list[Any]) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"items": [], "totalCount": 0}))
    retail = flow(made, recorder)
    where = DeviceFilter(tenant_id="acme", status=DeviceStatus.BLOCKED, text=" till ")
    await in_request(retail, lambda c: c.devices.search(ADMIN, where, PageArgs(limit=5)))
    (request,) = recorder.requests
    assert (request.method, request.url.path) == ("POST", "/v2/tenants/acme/devices/search")
    assert json.loads(request.content) == {"status": "BLOCKED", "text": "till"}


async def test_authorize_reads_the_device_back_by_its_code(made: list[Any]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/device/authorize":
            return httpx.Response(200)
        return httpx.Response(200, json={"items": [device("d1", code="AAAA-BBBB"), device("d2", code="K7Q2-M9XD")]})

    recorder = Recorder(answer)
    retail = flow(made, recorder)
    found = await in_request(retail, lambda c: c.devices.authorize(ADMIN, "k7q2-m9xd", "acme", "s1", None, None))
    assert found.id == "d2"
    assert recorder.paths() == ["POST /v2/device/authorize", "POST /v2/tenants/acme/devices/search"]


async def test_authorize_without_the_right_to_search_returns_what_was_asked(made: list[Any]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/device/authorize":
            return httpx.Response(200)
        return httpx.Response(403, json={"message": "Required permission: TENANT.ADMIN", "code": "FORBIDDEN"})

    retail = flow(made, Recorder(answer))
    found = await in_request(retail, lambda c: c.devices.authorize(ADMIN, "k7q2-m9xd", "acme", "s1", "t1", "Till"))
    assert (found.id, found.device_code, found.store_uid, found.till_id, found.name) == (
        "K7Q2-M9XD",
        "K7Q2-M9XD",
        "s1",
        "t1",
        "Till",
    )
    assert found.status is DeviceStatus.ACTIVE


async def test_sightings_belong_to_their_request_and_go_with_it(made: list[Any]) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=device("d1")))
    retail = flow(made, recorder)
    gc.disable()  # freed by reference counting alone: no cycle for the collector to find
    try:
        first = retail.bind(RequestScope.of({}, ALLOWED))
        await first.devices.get(ADMIN, "acme", "d1")
        assert flow_store_id("s1") in first.sightings.stores
        assert retail.bind(RequestScope.of({}, ALLOWED)).sightings.stores == {}
        gone = weakref.ref(first)
        del first
        assert gone() is None
    finally:
        gc.enable()


# -- orders the API cannot give -------------------------------------------------------------------


def flecs_pages(count: int, *, totals: bool) -> Callable[[httpx.Request], httpx.Response]:
    """A FLECS product list of `count` products in id order, paged; the price falls with the id.
    Without `totals`, nothing says how long the list is."""

    def respond(request: httpx.Request) -> httpx.Response:
        number, size = int(query(request)["page"]), int(query(request)["per_page"])
        ids = list(range(1, count + 1))[(number - 1) * size : number * size]
        listed: dict[str, Any] = {"products": [product(i, f"{1000 - i}.00") for i in ids]}
        if totals:
            listed["totalProducts"] = count
        return httpx.Response(200, json={"data": listed})

    return respond


@pytest.mark.parametrize("totals", [True, False])
async def test_flecs_list_in_another_order_is_sorted_whole(made: list[Any], totals: bool) -> None:
    recorder = Recorder(flecs_pages(230, totals=totals))
    console = flecs(made, recorder)
    page = PageArgs(limit=3, offset=2, sort="price", direction=SortDirection.ASC)

    result = await in_request(console, lambda c: c.products.page_all(ProductQuery(), page))

    # The cheapest are the last ids, on the list's last page: sorting the first page would miss them.
    assert [p.id for p in result.items] == [228, 227, 226]
    assert result.total == 230
    assert sorted(query(r)["page"] for r in recorder.requests) == ["1", "2", "3"]
    assert {query(r)["per_page"] for r in recorder.requests} == {"100"}


async def test_flecs_list_too_long_to_sort_is_refused_after_one_call(made: list[Any]) -> None:
    recorder = Recorder(flecs_pages(230, totals=True))
    console = FlecsConsole(
        UpstreamClient("FLECS Console API", "http://flecs.test", SETTINGS, transport=httpx.MockTransport(recorder)),
        sort_limit=200,
    )
    made.append(console)
    page = PageArgs(limit=3, sort="id", direction=SortDirection.DESC)

    with pytest.raises(FacadeError) as refused:
        await in_request(console, lambda c: c.products.page_all(ProductQuery(), page))

    assert refused.value.code == "BAD_USER_INPUT"
    assert "up to 200 products, and this list has 230" in str(refused.value)
    assert len(recorder.requests) == 1


def tenant_user(number: int) -> dict[str, Any]:
    return {"tenantUserUid": f"u{number}", "displayName": f"User {number}", "login": f"login-{50 - number:02d}"}


async def test_flow_sort_by_a_key_the_api_lacks_is_made_over_the_whole_list(made: list[Any]) -> None:
    def users(request: httpx.Request) -> httpx.Response:
        q = query(request)
        number, size = int(q["pageNumber"]), int(q["pageSize"])
        items = [tenant_user(i) for i in range(1, 41)][(number - 1) * size : number * size]
        return httpx.Response(200, json={"items": items, "totalCount": 40})

    recorder = Recorder(users)
    retail = flow(made, recorder)
    device_principal = Principal(kind=TokenKind.DEVICE, subject="device:d1", tenant_id="acme", device_id="d1")
    page = PageArgs(limit=2, offset=0, sort="login", direction=SortDirection.ASC)

    result = await in_request(retail, lambda c: c.devices.users(device_principal, page, None))

    # login falls as the number rises: the first by login are the list's last users.
    assert [u.login for u in result.items] == ["login-10", "login-11"]
    assert result.total == 40
    assert "sortBy" not in query(recorder.requests[0])


async def test_flow_list_too_long_to_sort_here_is_refused(made: list[Any]) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"items": [tenant_user(1)], "totalCount": 40}))
    retail = FlowRetail(
        UpstreamClient("Flow Retail API", "http://flow.test/v2", SETTINGS, transport=httpx.MockTransport(recorder)),
        sort_limit=10,
    )
    made.append(retail)
    device_principal = Principal(kind=TokenKind.DEVICE, subject="device:d1", tenant_id="acme", device_id="d1")

    with pytest.raises(FacadeError) as refused:
        await in_request(retail, lambda c: c.devices.users(device_principal, PageArgs(limit=2, sort="login"), None))

    assert refused.value.code == "BAD_USER_INPUT"
    assert "CREATED_AT, DISPLAY_NAME or ID" in str(refused.value)
    assert "up to 10 items, and this one has 40" in str(refused.value)
    assert len(recorder.requests) == 1
