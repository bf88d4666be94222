"""Rate limits over the real app: requests per principal and per address, and tries at a secret
(login, deviceLogin, linkDevice, authorizeDevice, activateLicense) per account and per address,
counted in process memory and in the Redis at FACADE_TEST_REDIS_URL (default 127.0.0.1:6379;
those cases skip, saying why, where none answers). Each test sets the limits it tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from conftest import PASSWORD, UNLIMITED, make_settings, source_id
from facade import ratelimit
from facade.app import create_app
from facade.auth import TokenKind, TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.ratelimit import RateLimits
from facade.settings import Settings
from support.server import answering_pid, serve, sqlite_url, worker_pids

REDIS_URL = os.environ.get("FACADE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
VIEWER = "{ viewer { login } }"


def logins(attempts: list[tuple[str, str]]) -> str:
    """One mutation with an aliased `login` per (username, password)."""
    fields = " ".join(f'a{i}: login(username: "{u}", password: "{p}") {{ token }}' for i, (u, p) in enumerate(attempts))
    return f"mutation {{ {fields} }}"


def codes(body: dict[str, Any]) -> dict[str, str]:
    """The error code of each response key that failed."""
    return {e["path"][0]: e["extensions"]["code"] for e in body.get("errors", [])}


@pytest.fixture(scope="module")
async def store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalStore]:
    """One seeded store; every test builds its own app (its own limits and counts) over it."""
    settings = make_settings(tmp_path_factory.mktemp("ratelimit"))
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    await seed(store.engine, products=20)
    yield store
    await store.aclose()


@pytest.fixture(params=["memory", "redis"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Any]]:
    """Where counts live: settings for process memory, or for Redis under a key prefix of this
    test's own (deleted afterwards). These tests are about what the counts are, not how fast Redis
    answers: its timeout (0.5 s, after which facade counts in process memory) is raised to 5 s,
    which a loaded CI machine once exceeded on the first call (the counts then went unshared)."""
    if request.param == "memory":
        yield {}
        return
    monkeypatch.setattr(ratelimit, "SHARED_TIMEOUT_SECONDS", 5.0)
    overrides = {"redis_url": REDIS_URL, "rate_limit_key_prefix": f"facade-test-{uuid.uuid4().hex}"}
    probe = RateLimits(make_settings(tmp_path, **overrides))
    try:
        if not await probe.check():
            pytest.skip(f"no Redis answers at {REDIS_URL} (set FACADE_TEST_REDIS_URL)")
        yield overrides
        await probe.reset()
    finally:
        await probe.aclose()


Facade = Callable[..., Awaitable[Starlette]]


@pytest.fixture
async def facade(store: LocalStore, storage: dict[str, Any], tmp_path: Path) -> AsyncIterator[Callable[..., Starlette]]:
    """`facade(**limits)`: the app over the shared store with these limits (the others unlimited),
    counting in this test's storage."""
    apps: list[Starlette] = []

    def make(**limits: Any) -> Starlette:
        settings = make_settings(tmp_path, **{**UNLIMITED, **storage, **limits})
        app = create_app(settings, backend=store)
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.ratelimit.aclose()


def client(app: Starlette, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of the app whose requests come from `address` (the socket peer)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://facade.test")


async def post(c: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    return await c.post("/graphql", json={"query": query, "variables": variables}, **kw)


async def sign_in(c: httpx.AsyncClient, username: str) -> str:
    body = (await post(c, LOGIN, {"u": username, "p": PASSWORD})).json()
    assert "errors" not in body, body
    token: str = body["data"]["login"]["token"]
    return token


# -- tries at a password ---------------------------------------------------------------------


async def test_fifty_aliased_logins_check_five_passwords_and_refuse_the_rest(facade: Facade) -> None:
    # 50 aliases are over the default alias limit (graph/limits.py), which would refuse the whole
    # request unread; this test is about the tries that get through it.
    app = facade(login_attempts_per_username="5/hour", max_aliases=50)
    # The right password is among the 50, after the fifth: it is refused, not checked.
    attempts = [("bob", f"guess-{i}") for i in range(50)]
    attempts[20] = ("bob", PASSWORD)
    async with client(app) as c:
        response = await post(c, logins(attempts))
    body = response.json()
    assert response.status_code == 200
    got = codes(body)
    assert [got[f"a{i}"] for i in range(5)] == ["UNAUTHENTICATED"] * 5
    assert {got[f"a{i}"] for i in range(5, 50)} == {"RATE_LIMITED"}
    assert all(value is None for value in body["data"].values())  # no token, not even for the right password
    refused = [e for e in body["errors"] if e["extensions"]["code"] == "RATE_LIMITED"]
    assert all(0 < e["extensions"]["retryAfter"] <= 3600 for e in refused)
    assert 0 < int(response.headers["Retry-After"]) <= 3600


async def test_the_right_password_after_a_lockout_is_refused_until_the_window_passes(facade: Facade) -> None:
    app = facade(login_attempts_per_username="3/3 seconds")
    async with client(app) as c:
        body = (await post(c, logins([("bob", "wrong-1"), ("bob", "wrong-2"), ("bob", "wrong-3")]))).json()
        assert set(codes(body).values()) == {"UNAUTHENTICATED"}
        refused = (await post(c, LOGIN, {"u": "bob", "p": PASSWORD})).json()
        assert codes(refused) == {"login": "RATE_LIMITED"}
        wait = refused["errors"][0]["extensions"]["retryAfter"]
        assert 0 < wait <= 3
        await asyncio.sleep(wait)  # what the client was told to wait
        assert await sign_in(c, "bob")


async def test_a_successful_login_clears_the_usernames_failures(facade: Facade) -> None:
    app = facade(login_attempts_per_username="3/hour")
    async with client(app) as c:
        for _ in range(3):
            body = (await post(c, logins([("bob", "typo"), ("bob", "typo"), ("bob", PASSWORD)]))).json()
            assert codes(body) == {"a0": "UNAUTHENTICATED", "a1": "UNAUTHENTICATED"}
            assert body["data"]["a2"]["token"]


async def test_the_address_limit_counts_logins_of_every_username(facade: Facade) -> None:
    app = facade(login_attempts_per_address="4/hour")
    async with client(app) as c:
        body = (await post(c, logins([(f"user-{i}", "guess") for i in range(6)]))).json()
        assert codes(body) == {
            **{f"a{i}": "UNAUTHENTICATED" for i in range(4)},
            **{f"a{i}": "RATE_LIMITED" for i in (4, 5)},
        }
        # Successful sign-ins count too: a caller cannot refill the address's tries with its own account.
        assert codes((await post(c, LOGIN, {"u": "alice", "p": PASSWORD})).json()) == {"login": "RATE_LIMITED"}
    async with client(app, "192.0.2.7") as other:
        assert await sign_in(other, "alice")


async def test_x_forwarded_for_is_not_believed_unless_the_proxy_is_trusted(facade: Facade) -> None:
    app = facade(login_attempts_per_address="2/hour")
    async with client(app) as c:
        for i in range(3):
            r = await post(c, LOGIN, {"u": "nobody", "p": "guess"}, headers={"X-Forwarded-For": f"198.51.100.{i}"})
            assert codes(r.json()) == {"login": "UNAUTHENTICATED" if i < 2 else "RATE_LIMITED"}

    trusting = facade(login_attempts_per_address="2/hour", trusted_proxies=["127.0.0.1"])
    async with client(trusting) as proxy:
        for i in range(3):
            r = await post(proxy, LOGIN, {"u": "nobody", "p": "guess"}, headers={"X-Forwarded-For": f"198.51.100.{i}"})
            assert codes(r.json()) == {"login": "UNAUTHENTICATED"}  # three clients behind the proxy


# -- other secrets ---------------------------------------------------------------------------


LINK = """mutation($code: String!) {
  linkDevice(deviceCode: $code, appId: "flow-retail-client", userCode: "1002", password: "guess") { deviceToken }
}"""
DEVICE_LOGIN = 'mutation { deviceLogin(userCode: "1002", password: "guess") { accessToken } }'
AUTHORIZE = """mutation($code: String!) {
  authorizeDevice(tenantUid: "acme-retail", deviceCode: $code, storeUid: "acme-amsterdam-0001") { id }
}"""
ACTIVATE = "mutation($key: String!) { activateLicense(licenseKey: $key) { alreadyActive } }"


async def device_token(app: Starlette, c: httpx.AsyncClient) -> str:
    """A device token of one of acme-retail's seeded, linked tills."""
    alice = await sign_in(c, "alice")
    query = '{ searchDevices(tenantUid: "acme-retail", filter: {status: ACTIVE, appType: CLIENT}) { nodes { id } } }'
    body = (await post(c, query, headers={"Authorization": f"Bearer {alice}"})).json()
    device = source_id(body["data"]["searchDevices"]["nodes"][0]["id"])
    tokens: TokenService = app.state.tokens
    return tokens.issue(TokenKind.DEVICE, device_id=device, tenant_id="acme-retail").token


@pytest.mark.parametrize("mutation", ["linkDevice", "deviceLogin", "authorizeDevice", "activateLicense"])
async def test_every_mutation_that_checks_a_secret_is_limited_per_address(facade: Facade, mutation: str) -> None:
    app = facade(login_attempts_per_address="2/hour")
    async with client(app, "192.0.2.1") as setup, client(app) as c:
        headers: dict[str, str] = {}
        if mutation == "deviceLogin":
            headers["Authorization"] = f"Bearer {await device_token(app, setup)}"
        elif mutation == "authorizeDevice":
            headers["Authorization"] = f"Bearer {await sign_in(setup, 'alice')}"
        query, variables = {
            "linkDevice": (LINK, {"code": "ZZZZ-ZZZ{}"}),
            "deviceLogin": (DEVICE_LOGIN, {}),
            "authorizeDevice": (AUTHORIZE, {"code": "ZZZZ-ZZZ{}"}),
            "activateLicense": (ACTIVATE, {"key": "FLX-ZZZZ-ZZZZ-ZZZ{}"}),
        }[mutation]
        seen = []
        for i in range(3):
            guess = {k: v.format(i) for k, v in variables.items()}  # a new guess each time
            body = (await post(c, query, guess, headers=headers)).json()
            seen.append(codes(body)[mutation])
    assert "RATE_LIMITED" not in seen[:2]
    assert seen[2] == "RATE_LIMITED"


async def test_device_login_is_limited_per_user_code(facade: Facade) -> None:
    app = facade(login_attempts_per_username="2/hour")
    async with client(app) as c:
        headers = {"Authorization": f"Bearer {await device_token(app, c)}"}
        bob = 'mutation { deviceLogin(userCode: "1002", password: "guess") { accessToken } }'
        seen = [codes((await post(c, bob, headers=headers)).json())["deviceLogin"] for _ in range(3)]
        assert seen == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]
        alice = f'mutation {{ deviceLogin(userCode: "1001", password: "{PASSWORD}") {{ accessToken }} }}'
        assert (await post(c, alice, headers=headers)).json()["data"]["deviceLogin"]["accessToken"]


# -- requests ----------------------------------------------------------------------------------


async def test_a_principal_has_its_own_request_budget(facade: Facade) -> None:
    app = facade(rate_limit_per_principal="3/hour")
    async with client(app) as c:
        alice, bob = await sign_in(c, "alice"), await sign_in(c, "bob")
        as_alice = {"Authorization": f"Bearer {alice}"}
        for _ in range(3):
            assert (await post(c, VIEWER, headers=as_alice)).json()["data"]["viewer"]["login"] == "alice"
        refused = await post(c, VIEWER, headers=as_alice)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == int(refused.headers["Retry-After"])
        # Under application/graphql-response+json too, and mutations alike.
        strict = await post(
            c, LOGIN, {"u": "x", "p": "y"}, headers={**as_alice, "Accept": "application/graphql-response+json"}
        )
        assert strict.status_code == 429
        assert strict.headers["content-type"].startswith("application/graphql-response+json")
        # Bob and anonymous callers from the same address are not held back by Alice.
        bob_says = await post(c, VIEWER, headers={"Authorization": f"Bearer {bob}"})
        assert bob_says.json()["data"]["viewer"]["login"] == "bob"
        assert (await post(c, "{ __typename }")).status_code == 200


async def test_callers_without_a_valid_token_are_counted_per_address(facade: Facade) -> None:
    app = facade(rate_limit_per_address="3/hour")
    async with client(app) as c:
        statuses = [(await post(c, "{ __typename }")).status_code for _ in range(3)]
        # An invalid token is no way around the address's limit.
        statuses.append((await post(c, "{ __typename }", headers={"Authorization": "Bearer forged"})).status_code)
        assert statuses == [200, 200, 200, 429]
    async with client(app, "2001:db8:1:2::5") as v6, client(app, "2001:db8:1:3::5") as other_v6:
        assert [(await post(v6, "{ __typename }")).status_code for _ in range(3)] == [200, 200, 200]
        # One IPv6 subscriber holds a /64: another address in it is the same client.
        v6_neighbour = client(app, "2001:db8:1:2::6")
        async with v6_neighbour:
            assert (await post(v6_neighbour, "{ __typename }")).status_code == 429
        assert (await post(other_v6, "{ __typename }")).status_code == 200


async def test_the_defaults_are_what_production_gets() -> None:
    defaults = Settings.model_fields
    assert defaults["rate_limit_per_principal"].default == "1200/minute"
    assert defaults["rate_limit_per_address"].default == "600/minute"
    assert defaults["login_attempts_per_username"].default == "5/minute"
    assert defaults["login_attempts_per_address"].default == "30/minute"
    assert defaults["trusted_proxies"].default == []
    assert defaults["redis_url"].default is None


# -- shared counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("storage", ["redis"], indirect=True)  # memory counts are per process by design
async def test_two_instances_share_the_counts_in_redis(facade: Facade) -> None:
    one, two = facade(login_attempts_per_username="3/hour"), facade(login_attempts_per_username="3/hour")
    async with client(one) as a, client(two, "192.0.2.9") as b:
        assert set(codes((await post(a, logins([("bob", "x")] * 3))).json()).values()) == {"UNAUTHENTICATED"}
        assert codes((await post(b, LOGIN, {"u": "bob", "p": PASSWORD})).json()) == {"login": "RATE_LIMITED"}


async def test_without_redis_the_limits_hold_per_process(store: LocalStore, tmp_path: Path) -> None:
    # Nothing listens on port 1: every Redis call fails, and counting goes on in memory.
    settings = make_settings(tmp_path, **{**UNLIMITED, "redis_url": "redis://127.0.0.1:1/0"})
    settings = settings.model_copy(update={"login_attempts_per_username": "2/hour"})
    app = create_app(settings, backend=store)
    try:
        async with client(app) as c:
            body = (await post(c, logins([("bob", "x"), ("bob", "y"), ("bob", PASSWORD)]))).json()
            assert codes(body) == {"a0": "UNAUTHENTICATED", "a1": "UNAUTHENTICATED", "a2": "RATE_LIMITED"}
            assert (await post(c, "{ __typename }")).status_code == 200
    finally:
        await app.state.ratelimit.aclose()


@pytest.mark.parametrize("storage", ["redis"], indirect=True)
async def test_served_workers_share_counts_and_ignore_forwarded_for(tmp_path: Path, storage: dict[str, Any]) -> None:
    """`facade serve --workers 2` with Redis, as deployed: a client's tries are counted once across
    the workers, and an X-Forwarded-For from loopback does not make it another client."""
    env = {
        "FACADE_REDIS_URL": storage["redis_url"],
        "FACADE_RATE_LIMIT_KEY_PREFIX": storage["rate_limit_key_prefix"],
        "FACADE_LOGIN_ATTEMPTS_PER_ADDRESS": "3/hour",
    }
    db = tmp_path / "served.db"
    seen: list[str] = []
    with serve(
        tmp_path, "--workers", "2", "--database-url", sqlite_url(db), "--seed-products", "10", env=env
    ) as server:
        workers = worker_pids(server, 2)
        answered_by: set[int] = set()
        # A connection per request, so that both workers answer (bounded).
        while len(seen) < 6 or (len(answered_by) < 2 and len(seen) < 40):
            i = len(seen)
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as c:
                forwarded = {"X-Forwarded-For": f"198.51.100.{i}"}
                r = await post(c, LOGIN, {"u": f"user-{i}", "p": "guess"}, headers=forwarded)
                answered_by.add(answering_pid(server, r, workers))
            seen.append(codes(r.json())["login"])
    assert answered_by == workers
    assert seen[:3] == ["UNAUTHENTICATED"] * 3
    assert set(seen[3:]) == {"RATE_LIMITED"}
