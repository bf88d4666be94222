"""An upstream client's calls against the real sandbox over loopback, with faults injected there
(latency, a 429 or 503 with Retry-After, a dropped connection), counted at the sandbox: one
attempt is one call, retries fit in the request's deadline, and no call outlives it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conftest import make_settings
from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.backends.upstream.http import BoundClient, HttpSettings, RequestScope, UpstreamClient, UpstreamResponse
from facade.deadline import Deadline
from facade.errors import FacadeError, RateLimited, UpstreamError, UpstreamTimeout
from support.sandbox import RunningSandbox, SandboxControl, start_sandbox

T = TypeVar("T")
PRODUCTS = "/api/v2/products"
CALL = f"GET {PRODUCTS}"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A sandbox of its own (its fault rules would upset other tests), over a seeded store."""
    settings = make_settings(Path(tmp_path_factory.mktemp("deadline")))

    async def seeded() -> None:
        store = await LocalStore.open(settings.database_url, TokenService(settings))
        await seed(store.engine, products=8)
        await store.aclose()

    asyncio.run(seeded())
    sandbox = start_sandbox(settings)
    yield sandbox
    sandbox.stop()


@pytest.fixture
async def box(running: RunningSandbox) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(running.url) as control:
        yield control


@pytest.fixture
async def make(running: RunningSandbox) -> AsyncIterator[Callable[..., UpstreamClient]]:
    """An upstream client of the sandbox on the default (aiohttp) transport."""
    made: list[UpstreamClient] = []

    def build(**settings: Any) -> UpstreamClient:
        values: dict[str, Any] = {"timeout": 5.0, "retries": 2, "backoff": 0.01}
        values.update(settings)
        client = UpstreamClient("FLECS Console API", running.url, HttpSettings(**values))
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


async def within(seconds: float | None, client: UpstreamClient, call: Callable[[BoundClient], Awaitable[T]]) -> T:
    """`call` as one GraphQL request with a deadline of `seconds` makes it, on `client` bound to
    the request."""
    scope = RequestScope.of({}, frozenset(), None if seconds is None else Deadline.after(seconds))
    # Generous: the bound is the test's guard against a hang, not a timing assertion.
    return await asyncio.wait_for(call(client.bind(scope)), 30)


async def failure(
    seconds: float | None, client: UpstreamClient, call: Callable[[BoundClient], Awaitable[Any]]
) -> FacadeError:
    with pytest.raises(FacadeError) as raised:
        await within(seconds, client, call)
    return raised.value


# -- one attempt, one call ---------------------------------------------------------------------


async def test_a_dropped_connection_is_one_call_per_attempt(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    client = make(retries=0)
    await box.faults(f"GET {PRODUCTS}=drop")

    error = await failure(None, client, lambda c: c.get(PRODUCTS))

    assert isinstance(error, UpstreamError)
    assert error.code == "UPSTREAM_ERROR"
    assert await box.calls() == {CALL: 1}  # aiohttp's own retry sent it twice


async def test_retries_of_a_dropped_get_are_ours_alone(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    client = make(retries=2)
    await box.faults(f"GET {PRODUCTS}=drop")

    error = await failure(None, client, lambda c: c.get(PRODUCTS))

    assert error.code == "UPSTREAM_ERROR"
    assert await box.calls() == {CALL: 3}  # the call and two retries, not six


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_a_dropped_idempotent_write_is_sent_once(
    make: Callable[..., UpstreamClient], box: SandboxControl, method: str
) -> None:
    client = make()
    await box.faults(f"{method} /v2/tenants/*=drop")

    error = await failure(None, client, lambda c: c.send(method, "/v2/tenants/acme-retail", json={}))

    assert error.code == "UPSTREAM_ERROR"
    assert sum((await box.calls()).values()) == 1


async def test_a_dropped_connection_then_an_answer_succeeds(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    client = make(retries=1)
    await box.faults(f"GET {PRODUCTS}=dropx1")

    response: UpstreamResponse = await within(5.0, client, lambda c: c.get(PRODUCTS))

    assert response.status == 200
    assert await box.calls() == {CALL: 2}


# -- the deadline ------------------------------------------------------------------------------


async def test_a_slow_upstream_is_given_the_time_left_and_not_retried(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    # The client's own timeout (5 s) is longer than the request's budget (2 s): the budget wins.
    # (2 s, not less: a loaded machine must still get the call to the sandbox within it.)
    client = make(timeout=5.0, retries=2)
    await box.faults(f"GET {PRODUCTS}=latency:6000")

    error = await failure(2.0, client, lambda c: c.get(PRODUCTS))

    assert isinstance(error, UpstreamTimeout)
    assert await box.calls() == {CALL: 1}  # no time was left for a retry


async def test_a_retry_gets_what_is_left_after_a_timed_out_attempt(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    # Attempts long enough for a loaded machine to get each call to the sandbox before it ends.
    client = make(timeout=0.75, retries=5, backoff=0.0)
    await box.faults(f"GET {PRODUCTS}=latency:6000")

    error = await failure(2.5, client, lambda c: c.get(PRODUCTS))

    assert error.code == "UPSTREAM_TIMEOUT"
    # Attempts of 0.75 s in a budget of 2.5 s: fewer than the six the retries allow.
    assert 2 <= (await box.calls())[CALL] <= 4


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_no_call_is_made_after_the_deadline(
    make: Callable[..., UpstreamClient], box: SandboxControl, method: str
) -> None:
    client = make()

    async def late(bound: BoundClient) -> Any:
        await asyncio.sleep(0.3)
        if method == "GET":
            return await bound.get(PRODUCTS)
        return await bound.send(method, "/api/v2/products/apps/reviews", json={})  # a write: nothing is written

    error = await failure(0.2, client, late)

    assert error.code == "UPSTREAM_TIMEOUT"
    assert await box.calls() == {}


async def test_a_retry_after_beyond_the_budget_is_answered_at_once(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    client = make(max_retry_after=300.0)
    await box.faults(f"GET {PRODUCTS}=status:429;retry_after=120")

    error = await failure(5.0, client, lambda c: c.get(PRODUCTS))

    assert isinstance(error, RateLimited)
    assert error.extensions["retryAfter"] == 120
    assert await box.calls() == {CALL: 1}


async def test_a_retry_after_beyond_the_longest_wait_is_answered_at_once(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    client = make(max_retry_after=1.0)
    await box.faults(f"GET {PRODUCTS}=status:503;retry_after=2")

    error = await failure(10.0, client, lambda c: c.get(PRODUCTS))

    assert error.code == "UPSTREAM_ERROR"
    assert await box.calls() == {CALL: 1}


async def test_a_retry_after_within_the_budget_is_waited_for(
    make: Callable[..., UpstreamClient], box: SandboxControl
) -> None:
    client = make()
    await box.faults(f"GET {PRODUCTS}=status:503x1;retry_after=1")

    response: UpstreamResponse = await within(5.0, client, lambda c: c.get(PRODUCTS))

    assert response.status == 200
    assert await box.calls() == {CALL: 2}
