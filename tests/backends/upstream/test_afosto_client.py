"""The Afosto client against the sandbox's Afosto emulation over loopback HTTP: the one generic
call reads records through the generated readers, forwards the caller's Afosto token from its
own header, reads paging and task headers, and maps Afosto's refusals to facade's codes with
`reference` and field errors in extensions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import orjson
import pytest

from facade.backends.upstream.afosto.api import AfostoApi
from facade.backends.upstream.afosto.client import AfostoPolicy, ServiceAccount
from facade.backends.upstream.afosto.generated import payloads
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.base import ApiRequest
from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient
from facade.errors import BadUserInput, NotFound, Unauthenticated
from sandbox.conftest import Sandbox, run_sandbox

BY_KEY = {op.key: op for op in OPERATIONS}
TOKEN = {"x-afosto-authorization": "Bearer any-afosto-token"}


@pytest.fixture(scope="module")
def afosto_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with run_sandbox(tmp_path_factory.mktemp("afosto-client"), products=4) as running:
        yield running


@pytest.fixture
async def api(afosto_sandbox: Sandbox) -> AsyncIterator[AfostoApi]:
    client = AfostoApi(
        UpstreamClient("Afosto API", f"{afosto_sandbox.url}/afosto", HttpSettings(retries=0), policy=AfostoApi.policy)
    )
    yield client
    await client.aclose()


def bound(api: AfostoApi, headers: dict[str, str] = TOKEN) -> ApiRequest:
    return api.bind(RequestScope(dict(headers)))


async def test_a_created_record_is_read_back_as_its_generated_record(api: AfostoApi) -> None:
    calls = bound(api).afosto
    made = await calls.call(BY_KEY["POST /cat/groups"], {}, {"name": "Retail", "currency": "EUR"})
    read = await calls.call(BY_KEY["GET /cat/groups/{id}"], {"id": made.value.id})

    assert isinstance(read.value, payloads.CatGroup)
    assert (read.value.id, read.value.name, read.value.currency) == (made.value.id, "Retail", "EUR")


async def test_a_paged_list_sends_the_page_headers_and_reads_count_and_next_page(api: AfostoApi) -> None:
    calls = bound(api).afosto
    for name in ("A", "B", "C"):
        await calls.call(BY_KEY["POST /cat/channels"], {}, {"name": name, "type": "storefront"})
    first = await calls.call(BY_KEY["GET /cat/channels"], {}, page=1, page_size=2)

    assert len(first.value) == 2
    assert all(isinstance(item, payloads.CatChannel) for item in first.value)
    assert first.page == 2


async def test_an_unknown_record_is_not_found_with_afostos_reference(api: AfostoApi) -> None:
    with pytest.raises(NotFound) as raised:
        await bound(api).afosto.call(BY_KEY["GET /cat/groups/{id}"], {"id": "no-such-group"})

    assert raised.value.extensions["status"] == 404
    assert isinstance(raised.value.extensions["reference"], str)


async def test_without_an_afosto_token_the_call_is_unauthenticated(api: AfostoApi) -> None:
    # facade's own Authorization is never sent to Afosto.
    with pytest.raises(Unauthenticated):
        await bound(api, {"authorization": "Bearer facade-token"}).afosto.call(BY_KEY["GET /cat/groups"], {})


async def test_an_invalid_body_is_bad_user_input_naming_the_fields(api: AfostoApi) -> None:
    with pytest.raises(BadUserInput) as raised:
        await bound(api).afosto.call(BY_KEY["POST /cat/groups"], {}, {"name": 7})

    assert raised.value.extensions["errors"] == {"invalid value": ["name"]}


def test_the_policy_reads_what_the_table_marks_read_and_nothing_else() -> None:
    policy = AfostoPolicy()
    concrete = {op.key: op.path.replace("{", "").replace("}", "") for op in OPERATIONS}

    wrong = [key for key, op in BY_KEY.items() if policy.is_read(op.method, concrete[key]) != op.read]

    assert wrong == []
    assert policy.is_read("POST", "/rel/search/address")
    assert not policy.is_read("GET", "/rel/search/addresses")


def mocked(answer: Callable[[httpx.Request], httpx.Response], account: ServiceAccount | None = None) -> AfostoApi:
    """The client over httpx's MockTransport: `answer` plays Afosto."""
    transport = httpx.MockTransport(answer)
    policy = AfostoApi.policy
    client = UpstreamClient("Afosto API", "http://afosto.test", HttpSettings(), transport=transport, policy=policy)
    return AfostoApi(client, account)


async def test_the_caller_s_afosto_token_and_the_idempotency_key_are_sent_and_nothing_else() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "o-1"})

    api = mocked(answer)
    headers = {**TOKEN, "authorization": "Bearer facade-token", "x-session-id": "s"}
    await bound(api, headers).afosto.call(BY_KEY["POST /odr/orders"], {"x-idempotency-key": "order-1"}, {"tags": []})
    await api.aclose()

    sent = seen[0].headers
    assert sent["authorization"] == "Bearer any-afosto-token"
    assert sent["x-idempotency-key"] == "order-1"
    assert "x-session-id" not in sent
    assert "x-afosto-authorization" not in sent


async def test_the_service_account_s_token_is_fetched_once_and_again_before_it_expires() -> None:
    seen: list[httpx.Request] = []
    issued = iter(["tok-1", "tok-2"])

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/iam/oauth/authorize":
            return httpx.Response(200, json={"access_token": next(issued), "expires_in": 600, "token_type": "Bearer"})
        return httpx.Response(200, json=[])

    now = [1000.0]
    account = ServiceAccount("facade-bff", "s3cret", clock=lambda: now[0])
    api = mocked(answer, account)
    search = BY_KEY["POST /rel/contacts"]
    await bound(api, {}).afosto.call(search, {}, {"constraints": []})
    await bound(api, {}).afosto.call(search, {}, {"constraints": [1]})
    now[0] += 600 - 59  # within the last minute of its life
    await bound(api, {}).afosto.call(search, {}, {"constraints": [2]})
    await bound(api).afosto.call(search, {}, {"constraints": [3]})  # the caller's own token wins
    await api.aclose()

    paths = [r.url.path for r in seen]
    assert paths == [
        "/iam/oauth/authorize",
        "/rel/contacts",
        "/rel/contacts",
        "/iam/oauth/authorize",
        "/rel/contacts",
        "/rel/contacts",
    ]
    assert [r.headers.get("authorization") for r in seen if r.url.path == "/rel/contacts"] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
        "Bearer any-afosto-token",
    ]
    assert orjson.loads(seen[0].content)["grant_type"] == "client_credentials"
    assert "s3cret" not in repr(account)
    assert "tok-" not in repr(account)
