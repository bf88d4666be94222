"""The upstream clients over a scripted transport (`httpx.MockTransport`): how each upstream
failure reaches the caller, what is retried, what is sent once, and which headers leave facade;
and what an API's policy (`ApiPolicy`) changes of that."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from facade.backends.interfaces import ProductQuery
from facade.backends.upstream.base import ApiClient
from facade.backends.upstream.flecs.client import FlecsConsole
from facade.backends.upstream.http import ApiPolicy, HttpSettings, RequestScope, UpstreamClient
from facade.deadline import Deadline
from facade.errors import FacadeError, Unauthenticated
from facade.models import PageArgs
from support.samples import flecs_product

T = TypeVar("T")
ALLOWED = frozenset({"authorization", "x-session-id", "accept-language"})
SESSION = "0f9a3c1e-4b2d-4c8e-9a7f-1d2e3f4a5b6c"
PAGE = PageArgs(limit=10)


product = flecs_product


def products_body(ids: list[int], total: int | None = None) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "data": {"totalProducts": len(ids) if total is None else total, "products": [product(i) for i in ids]},
    }


class Script:
    """A fake upstream: answers from `respond`, remembers every request it saw."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.respond(request)
        if isinstance(answer, httpx.Response):
            return answer
        return await answer

    @property
    def calls(self) -> int:
        return len(self.requests)


def client_for(script: Script, **settings: Any) -> FlecsConsole:
    values: dict[str, Any] = {"retries": 2, "backoff": 0.0, "transport": "httpx", "max_retry_after": 1.0}
    values.update(settings)
    upstream = UpstreamClient(
        "FLECS Console API", "http://flecs.test", HttpSettings(**values), transport=httpx.MockTransport(script)
    )
    return FlecsConsole(upstream)


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., FlecsConsole]]:
    made: list[FlecsConsole] = []

    def build(script: Script, **settings: Any) -> FlecsConsole:
        console = client_for(script, **settings)
        made.append(console)
        return console

    yield build
    for console in made:
        await console.aclose()


async def in_request(headers: dict[str, str], api: ApiClient, call: Callable[[Any], Awaitable[T]]) -> T:
    """Runs `call` as one GraphQL request would: on `api` bound to a scope of its own."""
    return await call(api.bind(RequestScope.of(headers, ALLOWED)))


def error_of(status: int, body: bytes = b'{"reason": "upstream-secret-text", "statusCode": 0}') -> Script:
    return Script(lambda request: httpx.Response(status, content=body, headers={"Content-Type": "application/json"}))


# -- status mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_USER_INPUT"),
        (422, "BAD_USER_INPUT"),
        (401, "UNAUTHENTICATED"),
        (403, "FORBIDDEN"),
        (404, "NOT_FOUND"),
        (409, "CONFLICT"),
        (429, "RATE_LIMITED"),
        (500, "UPSTREAM_ERROR"),
        (502, "UPSTREAM_ERROR"),
        (503, "UPSTREAM_ERROR"),
    ],
)
async def test_each_upstream_status_becomes_its_error_code(
    make: Callable[..., FlecsConsole], status: int, code: str
) -> None:
    console = make(error_of(status))
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == code
    # The upstream's own words never reach the client.
    assert "upstream-secret-text" not in err.value.message


async def test_write_status_is_mapped_too(make: Callable[..., FlecsConsole]) -> None:
    console = make(error_of(409))
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.apps.create_token(SESSION, "org.app", "1.0.0"))
    assert err.value.code == "CONFLICT"


async def test_login_refusal_is_wrong_credentials_not_forbidden(make: Callable[..., FlecsConsole]) -> None:
    console = make(error_of(403))
    with pytest.raises(Unauthenticated) as err:
        await in_request({}, console, lambda c: c.users.login("user", "wrong"))
    assert err.value.message == "The username or password is incorrect."


# -- retries -----------------------------------------------------------------------------------


async def test_get_is_retried_after_503_and_succeeds(make: Callable[..., FlecsConsole]) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=products_body([1, 2]))])
    script = Script(lambda request: next(answers))
    console = make(script)
    page = await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert [p.id for p in page.items] == [1, 2]
    assert script.calls == 2


async def test_get_gives_up_after_the_configured_retries(make: Callable[..., FlecsConsole]) -> None:
    script = error_of(503)
    console = make(script, retries=2)
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == "UPSTREAM_ERROR"
    assert script.calls == 3


async def test_a_post_is_never_retried(make: Callable[..., FlecsConsole]) -> None:
    script = error_of(503)
    console = make(script)
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.licenses.activate(None, "FLX-AAAA-BBBB-CCCC", None))
    assert err.value.code == "UPSTREAM_ERROR"
    assert script.calls == 1


async def test_a_post_that_times_out_is_not_retried(make: Callable[..., FlecsConsole]) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    script = Script(hang)
    console = make(script)
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.apps.create_token(SESSION, "org.app", "1.0.0"))
    assert err.value.code == "UPSTREAM_TIMEOUT"
    assert script.calls == 1


async def test_retry_after_is_honoured(make: Callable[..., FlecsConsole]) -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "0.3"}), httpx.Response(200, json=products_body([1]))])
    script = Script(lambda request: next(answers))
    console = make(script)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert loop.time() - started >= 0.3
    assert script.calls == 2


async def test_a_retry_after_beyond_the_longest_wait_is_not_waited_for(make: Callable[..., FlecsConsole]) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200, json=products_body([1]))])
    script = Script(lambda request: next(answers))
    console = make(script, max_retry_after=0.1)
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    # Asking again before the upstream's time would only be refused again: the caller is told when.
    assert err.value.code == "RATE_LIMITED"
    assert err.value.extensions["retryAfter"] == 3600
    assert script.calls == 1


@pytest.mark.parametrize(("ahead", "calls", "code"), [(120, 1, "RATE_LIMITED"), (-60, 2, None)])
async def test_a_retry_after_date_is_read_against_the_deadline(
    make: Callable[..., FlecsConsole], ahead: int, calls: int, code: str | None
) -> None:
    when = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ahead), usegmt=True)
    answers = iter([httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json=products_body([1]))])
    script = Script(lambda request: next(answers))
    console = make(script, max_retry_after=600.0)

    async def within_the_deadline() -> Any:
        bound = console.bind(RequestScope.of({}, ALLOWED, Deadline.after(5.0)))
        return await bound.products.page_all(ProductQuery(), PAGE)

    if code is None:
        page = await asyncio.create_task(within_the_deadline())
        assert [p.id for p in page.items] == [1]
    else:
        with pytest.raises(FacadeError) as err:
            await asyncio.create_task(within_the_deadline())
        assert err.value.code == code
        assert 100 < err.value.extensions["retryAfter"] <= 120
        assert isinstance(err.value.extensions["retryAfter"], int)
    assert script.calls == calls


# -- bodies and transport failures ------------------------------------------------------------


async def test_malformed_json_is_an_upstream_error(make: Callable[..., FlecsConsole]) -> None:
    console = make(Script(lambda request: httpx.Response(200, content=b'{"statusCode": 200, "data": ')))
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == "UPSTREAM_ERROR"


async def test_json_of_the_wrong_shape_is_an_upstream_error(make: Callable[..., FlecsConsole]) -> None:
    console = make(Script(lambda request: httpx.Response(200, json={"data": {"products": "many"}})))
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == "UPSTREAM_ERROR"


@pytest.mark.parametrize("wrong", [{"name": 5}, {"id": "seven"}, {"store": "Acme"}, {"rating_count": 2**40}])
async def test_a_listed_product_of_the_wrong_shape_is_an_upstream_error(
    make: Callable[..., FlecsConsole], wrong: dict[str, Any]
) -> None:
    body = products_body([1, 2, 3])
    body["data"]["products"][1].update(wrong)
    console = make(Script(lambda request: httpx.Response(200, json=body)))
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == "UPSTREAM_ERROR"


async def test_timeout_is_upstream_timeout(make: Callable[..., FlecsConsole]) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    script = Script(hang)
    console = make(script)
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == "UPSTREAM_TIMEOUT"
    assert script.calls == 3  # a GET: retried


async def test_unreachable_upstream_is_an_upstream_error(make: Callable[..., FlecsConsole]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    console = make(Script(refuse))
    with pytest.raises(FacadeError) as err:
        await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert err.value.code == "UPSTREAM_ERROR"


# -- one GET per request, and credentials ------------------------------------------------------


def token_for(user_id: int) -> str:
    """A JWT-shaped token naming a user (unsigned: the fake upstream does not check it)."""
    claims = base64.urlsafe_b64encode(json.dumps({"sub": str(user_id)}).encode()).decode().rstrip("=")
    return f"h.{claims}.s"


def subscriptions_of_caller(request: httpx.Request) -> httpx.Response:
    """Answers `/my/subscriptions` with one subscription of whichever user the token names."""
    token = request.headers["authorization"].split()[-1]
    user_id = int(json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["sub"])
    order = {"id": 100 + user_id, "status": "active", "customer_id": user_id, "line_items": [], "billing": {}}
    return httpx.Response(200, json={"data": {"totalSubscriptions": 1, "subscriptions": [order]}})


async def test_identical_gets_in_one_request_are_sent_once(make: Callable[..., FlecsConsole]) -> None:
    script = Script(lambda request: httpx.Response(200, json=products_body([1, 2, 3])))
    console = make(script)

    async def five_times(bound: Any) -> list[Any]:
        return list(await asyncio.gather(*(bound.products.page_all(ProductQuery(), PAGE) for _ in range(5))))

    pages = await in_request({}, console, five_times)
    assert all(page == pages[0] for page in pages)
    assert script.calls == 1
    # The next request asks again: results are not kept beyond a request.
    await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert script.calls == 2


async def test_two_requests_share_neither_results_nor_credentials(make: Callable[..., FlecsConsole]) -> None:
    script = Script(subscriptions_of_caller)
    console = make(script)

    async def mine(bound: Any, user_id: int) -> list[int]:
        pages = await bound.subscriptions.page_by_user([user_id], None, PAGE)
        return [s.user_id for s in pages[user_id].items]

    seven, eight = await asyncio.gather(
        in_request({"Authorization": f"Bearer {token_for(7)}"}, console, lambda c: mine(c, 7)),
        in_request({"Authorization": f"Bearer {token_for(8)}"}, console, lambda c: mine(c, 8)),
    )
    assert (seven, eight) == ([7], [8])
    assert script.calls == 2
    assert sorted(r.headers["authorization"] for r in script.requests) == sorted(
        [f"Bearer {token_for(7)}", f"Bearer {token_for(8)}"]
    )


async def test_another_users_subscriptions_are_not_asked_for(make: Callable[..., FlecsConsole]) -> None:
    script = Script(subscriptions_of_caller)
    console = make(script)
    pages = await in_request(
        {"Authorization": f"Bearer {token_for(7)}"},
        console,
        lambda c: c.subscriptions.page_by_user([7, 8], None, PAGE),
    )
    assert [s.user_id for s in pages[7].items] == [7]
    assert pages[8].total == 0
    assert not pages[8].items
    assert script.calls == 1


async def test_headers_off_the_allow_list_never_reach_the_upstream(make: Callable[..., FlecsConsole]) -> None:
    script = Script(lambda request: httpx.Response(204, headers={"X-Session-Id": SESSION}))
    console = make(script)
    headers = {
        "Authorization": "Bearer user-token",
        "Cookie": "session=secret",
        "X-Forwarded-For": "10.0.0.1",
        "X-Api-Key": "key",
    }
    result = await in_request(headers, console, lambda c: c.licenses.activate(None, None, SESSION))
    assert result.already_active
    sent = script.requests[0].headers
    assert sent["authorization"] == "Bearer user-token"
    assert sent["x-session-id"] == SESSION
    for name in ("cookie", "x-forwarded-for", "x-api-key"):
        assert name not in sent


async def test_login_forwards_no_credentials(make: Callable[..., FlecsConsole]) -> None:
    body = {
        "data": {
            "jwt": {"token": "new-token", "token_expires": 100},
            "user": {"ID": 6, "display_name": "u", "user_email": "u@example", "user_login": "u"},
        }
    }
    script = Script(lambda request: httpx.Response(200, json=body))
    console = make(script)
    result = await in_request({"Authorization": "Bearer old"}, console, lambda c: c.users.login("u", "pw"))
    assert result.token.token == "new-token"
    assert result.user.id == 6
    assert "authorization" not in script.requests[0].headers
    assert json.loads(script.requests[0].content) == {"username": "u", "password": "pw", "issueJWT": True}


async def test_unreadable_retry_after_is_ignored(make: Callable[..., FlecsConsole]) -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "soon"}), httpx.Response(200, json=products_body([1]))])
    script = Script(lambda request: next(answers))
    console = make(script)
    page = await in_request({}, console, lambda c: c.products.page_all(ProductQuery(), PAGE))
    assert [p.id for p in page.items] == [1]


# -- what an API declares (ApiPolicy) ------------------------------------------------------------


SEARCH = "POST /tenants/{tenantUid}/devices/search"


class Flaky:
    """Answers each new request 503 once, then 200 with the body it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        first = sum(
            1 for r in self.requests if (r.method, r.url, r.content) == (request.method, request.url, request.content)
        )
        if first == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={"sent": request.content.decode() or None})

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


@pytest.fixture
async def bind() -> AsyncIterator[Callable[..., Any]]:
    """`bind(policy, script)`: an upstream client with that policy over the script, bound to a
    request scope of its own."""
    made: list[UpstreamClient] = []

    def build(policy: ApiPolicy, script: Callable[[httpx.Request], httpx.Response]) -> Any:
        settings = HttpSettings(retries=2, backoff=0.0, transport="httpx")
        client = UpstreamClient(
            "Test API", "http://api.test", settings, transport=httpx.MockTransport(script), policy=policy
        )
        made.append(client)
        return client.bind(RequestScope.of({"Authorization": "Bearer t"}, ALLOWED))

    yield build
    for client in made:
        await client.aclose()


async def test_a_declared_read_only_post_is_made_once_per_request_and_retried(bind: Callable[..., Any]) -> None:
    script = Flaky()
    api = bind(ApiPolicy(reads={SEARCH}), script)

    first, again = await asyncio.gather(
        api.send("POST", "/tenants/acme/devices/search", json={"text": "pos"}),
        api.send("POST", "/tenants/acme/devices/search", json={"text": "pos"}),
    )
    other = await api.send("POST", "/tenants/acme/devices/search", json={"text": "kiosk"})

    assert first.status == again.status == other.status == 200
    # Each body: one 503, then its retry; the identical search shares them.
    assert script.paths() == ["POST /tenants/acme/devices/search"] * 4
    assert [json.loads(r.content) for r in script.requests] == [{"text": "pos"}] * 2 + [{"text": "kiosk"}] * 2


async def test_a_declared_read_only_post_keeps_the_requests_earlier_reads(bind: Callable[..., Any]) -> None:
    script = Script(lambda request: httpx.Response(200, json={}))
    api = bind(ApiPolicy(reads={SEARCH}), script)

    await api.get("/tenants/acme/devices")
    await api.send("POST", "/tenants/acme/devices/search", json={})
    await api.get("/tenants/acme/devices")

    assert script.calls == 2


async def test_an_undeclared_post_is_sent_every_time_never_retried_and_reads_afresh(bind: Callable[..., Any]) -> None:
    script = Flaky()
    api = bind(ApiPolicy(reads={"POST /tenants/{tenantUid}/stores/search"}), script)  # another operation

    with pytest.raises(FacadeError) as refused:
        await api.send("POST", "/tenants/acme/devices/search", json={"text": "pos"}, ok=(200,))
    again = await api.send("POST", "/tenants/acme/devices/search", json={"text": "pos"}, ok=(200,))
    await api.get("/tenants/acme/devices")
    await api.send("POST", "/tenants/acme/devices/search", json={"text": "pos"}, ok=(200,))
    await api.get("/tenants/acme/devices")

    assert refused.value.code == "UPSTREAM_ERROR"
    assert again.status == 200
    # The failed search is not retried; the first GET is (after its 503), and the GET after the
    # last search is made again.
    assert script.paths() == [
        "POST /tenants/acme/devices/search",
        "POST /tenants/acme/devices/search",
        "GET /tenants/acme/devices",
        "GET /tenants/acme/devices",
        "POST /tenants/acme/devices/search",
        "GET /tenants/acme/devices",
    ]


async def test_a_get_declared_with_side_effects_is_neither_shared_nor_retried(bind: Callable[..., Any]) -> None:
    script = Flaky()
    api = bind(ApiPolicy(writes={"GET /orders/{id}/lock"}), script)

    with pytest.raises(FacadeError):
        await api.get("/orders/7/lock")
    await api.get("/orders/7/lock")
    await api.get("/orders/7/lock")

    assert script.paths() == ["GET /orders/7/lock"] * 3


async def test_error_fields_the_policy_allows_reach_the_extensions_and_nothing_else(bind: Callable[..., Any]) -> None:
    body = {"reference": "REF-123", "message": "upstream-secret-text", "code": True, "errors": [{"field": "x"}]}
    script = Script(lambda request: httpx.Response(422, json=body))
    api = bind(ApiPolicy(error_fields={"reference", "code", "errors"}), script)

    with pytest.raises(FacadeError) as refused:
        await api.get("/orders/7")

    assert refused.value.code == "BAD_USER_INPUT"
    assert refused.value.extensions == {"upstream": "Test API", "status": 422, "reference": "REF-123"}
    assert "upstream-secret-text" not in str(refused.value)


async def test_a_policy_decides_which_headers_authorise_a_call(bind: Callable[..., Any]) -> None:
    class OwnHeader(ApiPolicy):
        def authorize(self, scope: RequestScope, forward: tuple[str, ...], extra: Any) -> dict[str, str]:
            return {"X-Api-Key": "service-key", **(extra or {})}

    script = Script(lambda request: httpx.Response(200, json={}))
    api = bind(OwnHeader(), script)

    await api.get("/orders/7", headers={"X-Session-Id": "s"})

    sent = script.requests[0].headers
    assert sent["x-api-key"] == "service-key"
    assert sent["x-session-id"] == "s"
    assert "authorization" not in sent


async def test_an_upstream_cookie_is_never_sent_on_another_callers_call() -> None:
    """An upstream that sets a cookie (a session, a load-balancer pin) on one caller's call does
    not see it on the next caller's: the clients are shared by every request of the process."""
    sent: list[str | None] = []

    def script(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"set-cookie": "session=alices; Path=/"})

    client = UpstreamClient(
        "Test API", "http://api.test", HttpSettings(transport="httpx"), transport=httpx.MockTransport(script)
    )
    try:
        await client.bind(RequestScope.of({"Authorization": "Bearer alice"}, ALLOWED)).get("/me")
        await client.bind(RequestScope.of({"Authorization": "Bearer bob"}, ALLOWED)).get("/me")
    finally:
        await client.aclose()
    assert sent == [None, None]


async def test_a_compressed_body_is_read_decoded_under_the_base_path() -> None:
    """A gzip body is decoded as it is read; a call's path goes under the base URL's own path."""
    seen: list[str] = []

    def script(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert "gzip" in request.headers["accept-encoding"]
        body = gzip.compress(b'{"name": "Amsterdam"}')
        return httpx.Response(200, content=body, headers={"content-encoding": "gzip"})

    client = UpstreamClient(
        "Test API", "http://api.test/v2/", HttpSettings(transport="httpx"), transport=httpx.MockTransport(script)
    )
    try:
        response = await client.bind(RequestScope()).get("/stores/7", params={"fields": "name"})
    finally:
        await client.aclose()
    assert response.json("Test API") == {"name": "Amsterdam"}
    assert seen == ["http://api.test/v2/stores/7?fields=name"]


def test_the_default_transport_takes_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a proxy, the aiohttp transport sends an API's calls through the one HTTPS_PROXY
    names, unless NO_PROXY covers the API's host, as httpx's client does."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    api = "https://api.afosto.com/v2"
    assert UpstreamClient("A", api, HttpSettings()).aiohttp.proxy is None  # type: ignore[union-attr]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert UpstreamClient("A", api, HttpSettings()).aiohttp.proxy == "http://proxy.internal:3128"  # type: ignore[union-attr]
    monkeypatch.setenv("NO_PROXY", ".afosto.com")
    assert UpstreamClient("A", api, HttpSettings()).aiohttp.proxy is None  # type: ignore[union-attr]
