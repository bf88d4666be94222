"""Per-request dataloaders: the only road from the graph to data.

Every loader batches the keys asked for in one tick of the event loop into one backend call and
caches them for the rest of the request. Two shapes cover the whole graph:

- `ById(fetch)`: keys are ids, `fetch(ids) -> {id: record}`; a missing id loads as None.
- `PagesOf(fetch)`: keys are `(parent, PageArgs, *filters)`; keys that share the page and filters
  go to the backend together as `fetch(parents, *filters, page) -> {parent: Page}`, so a list
  hanging off 100 parents is one backend call.

A failure fails only the keys it concerns: a backend answers a key whose upstream call failed with
the exception (`backends/upstream/fanout.py`), which becomes that key's error, and a backend call
that raises fails only the keys it was made for (one group of `PagesOf`, one key of `Lists`).

Imports backends' interfaces and models only.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from facade.backends.interfaces import Backend, ProductQuery
from facade.models import (
    AppManifest,
    Device,
    DeviceFilter,
    License,
    Page,
    PageArgs,
    Product,
    Store,
    Subscription,
    Tenant,
    Till,
    User,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
KT = TypeVar("KT")
VT = TypeVar("VT")


class Loader(DataLoader[KT, VT], Generic[KT, VT]):
    """A DataLoader whose cache (key -> future) is ours to read: the stage walker
    (graph/stage.py) serves keys already loaded from it, calls `batch_load_fn` directly for a
    whole level, and primes the cache where the standard path's resolvers will read it."""

    def __init__(self) -> None:
        self.cache_map: dict[Any, asyncio.Future[Any]] = {}
        super().__init__(cache_map=self.cache_map)


class ById(Loader[K, V | None], Generic[K, V]):
    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V | Exception]]]) -> None:
        super().__init__()
        self._fetch = fetch

    # aiodataloader's annotation leaves out per-key exceptions, which its dispatch fails that key with.
    async def batch_load_fn(self, keys: list[K]) -> list[V | None | Exception]:  # type: ignore[override]
        found = await self._fetch(list(dict.fromkeys(keys)))
        return [found.get(k) for k in keys]

    def prime_many(self, records: Mapping[K, V]) -> None:
        for key, value in records.items():
            self.prime(key, value)


class StoreRefs(Loader[int | str, Any]):
    """Stores by numeric id or by Flow Retail uid, whichever a record carries."""

    def __init__(self, by_id: ById[int, Any], by_uid: ById[str, Any]) -> None:
        super().__init__()
        self._by_id = by_id
        self._by_uid = by_uid

    async def batch_load_fn(self, keys: list[int | str]) -> list[Any]:
        ids = [k for k in keys if isinstance(k, int)]
        uids = [k for k in keys if isinstance(k, str)]
        loads = [self._by_id.load(k) for k in ids] + [self._by_uid.load(k) for k in uids]
        answers = await asyncio.gather(*loads, return_exceptions=True)
        found: dict[int | str, Any] = dict(zip([*ids, *uids], answers, strict=True))
        return [found.get(k) for k in keys]


class ListsBy(Loader[K, list[V]], Generic[K, V]):
    """Keys are parents; each loads the (unpaged) list hanging off it."""

    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, list[V] | Exception]]]) -> None:
        super().__init__()
        self._fetch = fetch

    async def batch_load_fn(self, keys: list[K]) -> list[list[V] | Exception]:  # type: ignore[override]
        found = await self._fetch(list(dict.fromkeys(keys)))
        return [found.get(k, []) for k in keys]


PageKey = tuple[Any, ...]  # (parent, PageArgs, *filters)


class PagesOf(Loader[PageKey, Page[Any]]):
    def __init__(self, fetch: Callable[..., Awaitable[Mapping[Any, Page[Any] | Exception]]]) -> None:
        super().__init__()
        self._fetch = fetch

    # aiodataloader's annotation leaves out per-key exceptions, which its dispatch fails that key with.
    async def batch_load_fn(self, keys: list[PageKey]) -> list[Page[Any] | Exception]:  # type: ignore[override]
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for parent, page, *filters in keys:
            groups.setdefault((page, *filters), []).append(parent)
        answers: dict[PageKey, Page[Any] | Exception] = {}
        for (page, *filters), parents in groups.items():
            pages: Mapping[Any, Page[Any] | Exception]
            try:
                pages = await self._fetch(list(dict.fromkeys(parents)), *filters, page)
            except Exception as error:  # noqa: BLE001 - the group's keys fail, the other groups answer
                pages = dict.fromkeys(parents, error)
            for parent in parents:
                answers[(parent, page, *filters)] = pages.get(parent) or Page(items=[], total=0)
        return [answers[k] for k in keys]


class Lists(Loader[tuple[Any, ...], Page[Any]]):
    """Root lists: keys are `(*filters, page)`; each distinct key is one backend call."""

    def __init__(self, fetch: Callable[..., Awaitable[Page[Any]]]) -> None:
        super().__init__()
        self._fetch = fetch

    async def batch_load_fn(self, keys: list[tuple[Any, ...]]) -> list[Page[Any] | Exception]:  # type: ignore[override]
        return [await _answer(self._fetch(*key)) for key in keys]


async def _answer(call: Awaitable[V]) -> V | Exception:
    """The value of one key's call, or the exception it raised (that key's error)."""
    try:
        return await call
    except Exception as error:  # noqa: BLE001 - raised where the key is read
        return error


class Loaders:
    """The loaders of one request, each created on first use: a request pays only for the loaders
    it reads (a product list with its stores builds two, not thirty).

    Every loader's fetch is a backend method or a module function over the backend, never a
    method of Loaders: a loader holding one would make the request's loaders (and every record
    they cache) a reference cycle, freed only by the cyclic GC, which runs rarely under the raised
    threshold. (`cached_property` keeps each loader in the instance's __dict__; the property
    itself lives on the class.)"""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @cached_property
    def tenant(self) -> ById[str, Tenant]:
        return ById(self.backend.tenants.get_many)

    @cached_property
    def user(self) -> ById[int, User]:
        return ById(self.backend.users.get_many)

    @cached_property
    def store(self) -> ById[int, Store]:
        return ById(self.backend.stores.get_many)

    @cached_property
    def store_by_uid(self) -> ById[str, Store]:
        return ById(self.backend.stores.get_many_by_uid)

    @cached_property
    def store_ref(self) -> StoreRefs:
        return StoreRefs(self.store, self.store_by_uid)

    @cached_property
    def till(self) -> ById[str, Till]:
        return ById(self.backend.stores.tills_get_many)

    @cached_property
    def product(self) -> ById[int, Product]:
        return ById(self.backend.products.get_many)

    @cached_property
    def product_by_app(self) -> ById[str, Product]:
        return ById(self.backend.products.get_many_by_app)

    @cached_property
    def subscription(self) -> ById[int, Subscription]:
        return ById(self.backend.subscriptions.get_many)

    @cached_property
    def device(self) -> ById[str, Device]:
        return ById(self.backend.devices.get_many)

    @cached_property
    def license(self) -> ById[int, License]:
        return ById(self.backend.licenses.get_many)

    @cached_property
    def license_by_device(self) -> ById[str, License]:
        return ById(self.backend.licenses.by_device)

    @cached_property
    def tills_by_store(self) -> ListsBy[int, Till]:
        return ListsBy(self.backend.stores.tills_by_store)

    @cached_property
    def manifests_by_product(self) -> ListsBy[int, AppManifest]:
        return ListsBy(self.backend.apps.manifests_by_product)

    @cached_property
    def manifests_for(self) -> ListsBy[tuple[str, str], AppManifest]:
        return ListsBy(self.backend.apps.manifests_for)

    @cached_property
    def stores_by_tenant(self) -> PagesOf:
        return PagesOf(self.backend.stores.page_by_tenant)

    @cached_property
    def users_by_tenant(self) -> PagesOf:
        return PagesOf(self.backend.users.page_by_tenant)

    @cached_property
    def users_by_store(self) -> PagesOf:
        return PagesOf(functools.partial(_users_by_store, self.backend))

    @cached_property
    def products_by_store(self) -> PagesOf:
        return PagesOf(self.backend.products.page_by_store)

    @cached_property
    def products_by_owner(self) -> PagesOf:
        return PagesOf(self.backend.products.page_by_owner)

    @cached_property
    def products_purchased(self) -> PagesOf:
        return PagesOf(functools.partial(_purchased, self.backend))

    @cached_property
    def reviews_by_product(self) -> PagesOf:
        return PagesOf(self.backend.reviews.page_by_product)

    @cached_property
    def reviews_by_user(self) -> PagesOf:
        return PagesOf(self.backend.reviews.page_by_user)

    @cached_property
    def subscriptions_by_user(self) -> PagesOf:
        return PagesOf(self.backend.subscriptions.page_by_user)

    @cached_property
    def devices_by_store(self) -> PagesOf:
        return PagesOf(self.backend.devices.page_by_store)

    @cached_property
    def devices_by_owner(self) -> PagesOf:
        return PagesOf(self.backend.devices.page_by_owner)

    @cached_property
    def licenses_by_user(self) -> PagesOf:
        return PagesOf(self.backend.licenses.page_by_user)

    @cached_property
    def devices_by_tenant(self) -> PagesOf:
        return PagesOf(functools.partial(_devices_by_tenant, self.backend))

    @cached_property
    def stores_all(self) -> Lists:
        return Lists(self.backend.stores.page_all)

    @cached_property
    def products_all(self) -> Lists:
        return Lists(functools.partial(_products_all, self.backend))

    @cached_property
    def devices_search(self) -> Lists:
        return Lists(self.backend.devices.search)


async def _products_all(backend: Backend, apps_only: bool, store_id: int | None, page: PageArgs) -> Page[Any]:
    return await backend.products.page_all(ProductQuery(apps_only=apps_only, store_id=store_id), page)


async def _devices_by_tenant(
    backend: Backend, tenant_ids: Sequence[str], page: PageArgs
) -> dict[str, Page[Any] | Exception]:
    # A tenant's devices are only shown to its members, so a request asks for one tenant.
    return {t: await _answer(backend.devices.search(None, DeviceFilter(tenant_id=t), page)) for t in tenant_ids}


async def _purchased(
    backend: Backend, user_ids: Sequence[int], apps_only: bool, store_id: int | None, page: PageArgs
) -> dict[int, Page[Any]]:
    return await backend.products.page_purchased(user_ids, ProductQuery(apps_only, store_id), page)


async def _users_by_store(
    backend: Backend, store_ids: Sequence[int], account_types: list[str] | None, page: PageArgs
) -> dict[int, Page[Any]]:
    types = tuple(account_types) if account_types else None
    return await backend.users.page_by_store_access(store_ids, page, types)
