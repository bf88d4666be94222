"""The composed backend, request by request: what `bind` builds (nothing until a domain is read),
what a request forwards, and that requests share no upstream state. The FLECS Console is
scripted with `httpx.MockTransport`; the calls it gets are part of each assertion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import make_settings
from facade.auth import TokenService
from facade.backends.compose import ComposedBackend
from facade.backends.interfaces import ProductQuery
from facade.backends.local import LocalStore
from facade.backends.routes import FLECS, ROUTES
from facade.backends.upstream.flecs.client import FlecsConsole
from facade.backends.upstream.http import HttpSettings, UpstreamClient
from facade.models import PageArgs
from support.samples import flecs_product

PAGE = PageArgs(limit=2)


class Flecs:
    """The scripted FLECS Console: two products, whatever is asked; every request kept."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        products = [flecs_product(1), flecs_product(2)]
        return httpx.Response(200, json={"data": {"totalProducts": 2, "products": products}})


@pytest.fixture
async def composed(tmp_path: Path) -> AsyncIterator[tuple[ComposedBackend, Flecs]]:
    settings = make_settings(tmp_path)
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    flecs = Flecs()
    client = UpstreamClient(
        "FLECS Console", "http://flecs.test", HttpSettings(transport="httpx"), transport=httpx.MockTransport(flecs)
    )
    backend = ComposedBackend(store, {FLECS: FlecsConsole(client)}, ROUTES, frozenset({"authorization"}))
    yield backend, flecs
    await backend.aclose()


async def test_a_request_view_builds_nothing_until_a_domain_is_read(composed: tuple[ComposedBackend, Any]) -> None:
    backend, _ = composed
    bound = backend.bind({"Authorization": "Bearer t", "Cookie": "session=1"})

    assert bound.scope.headers == {"authorization": "Bearer t"}  # only the allow-listed travel
    assert not bound.apis
    assert set(vars(bound)) == {"composed", "local", "scope", "apis"}


async def test_a_routed_read_binds_only_its_api_and_domain(composed: tuple[ComposedBackend, Flecs]) -> None:
    backend, flecs = composed
    bound = backend.bind({})

    page = await bound.products.page_all(ProductQuery(), PAGE)

    assert [p.id for p in page.items] == [1, 2]
    assert list(bound.apis) == [FLECS]
    assert "products" in vars(bound.apis[FLECS])
    assert "users" not in vars(bound.apis[FLECS])
    assert len(flecs.requests) == 1


async def test_identical_gets_are_shared_within_a_request_and_not_between_requests(
    composed: tuple[ComposedBackend, Flecs],
) -> None:
    backend, flecs = composed
    one, other = backend.bind({}), backend.bind({})

    await one.products.page_all(ProductQuery(), PAGE)
    await one.products.page_all(ProductQuery(), PAGE)
    assert len(flecs.requests) == 1
    await other.products.page_all(ProductQuery(), PAGE)
    assert len(flecs.requests) == 2


async def test_what_is_not_routed_is_the_local_stores(composed: tuple[ComposedBackend, Any]) -> None:
    backend, _ = composed
    bound = backend.bind({})

    assert bound.tenants is backend.local.tenants  # a domain with no route at all
    assert bound.reviews.page_by_product == backend.local.reviews.page_by_product
    local = backend.local.bind({"Authorization": "Bearer t"})
    assert local.tenants is backend.local.tenants  # locally, only Afosto's emulation is per request
    assert "afosto" not in vars(local)  # bound on first use
