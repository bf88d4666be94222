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
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from facade.backends.interfaces import Backend, ProductQuery
from facade.models import AppManifest, DeviceFilter, Page, PageArgs

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
KT = TypeVar("KT")
VT = TypeVar("VT")


class Loader(DataLoader[KT, VT], Generic[KT, VT]):
    """A DataLoader whose cache (key -> future) is ours to read: the compiled plan
    (graph/compiled.py) serves keys already loaded from it and primes it with what it fetches,
    so a replay of the request finds every answer there."""

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
    """The loaders of one request, created on first use."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        b = backend
        self.tenant = ById(b.tenants.get_many)
        self.user = ById(b.users.get_many)
        self.store = ById(b.stores.get_many)
        self.store_by_uid = ById(b.stores.get_many_by_uid)
        self.store_ref = StoreRefs(self.store, self.store_by_uid)
        self.till = ById(b.stores.tills_get_many)
        self.product = ById(b.products.get_many)
        self.product_by_app = ById(b.products.get_many_by_app)
        self.subscription = ById(b.subscriptions.get_many)
        self.device = ById(b.devices.get_many)
        self.license = ById(b.licenses.get_many)
        self.license_by_device = ById(b.licenses.by_device)

        self.tills_by_store = ListsBy(b.stores.tills_by_store)
        self.manifests_by_product: ListsBy[int, AppManifest] = ListsBy(b.apps.manifests_by_product)
        self.manifests_for: ListsBy[tuple[str, str], AppManifest] = ListsBy(b.apps.manifests_for)

        self.stores_by_tenant = PagesOf(b.stores.page_by_tenant)
        self.users_by_tenant = PagesOf(b.users.page_by_tenant)
        # Module functions over the backend, not bound methods: a loader holding a method of
        # Loaders would make the request's loaders (and every record they cache) a reference
        # cycle, freed only by the cyclic GC, which runs rarely under the raised threshold.
        self.users_by_store = PagesOf(functools.partial(_users_by_store, b))
        self.products_by_store = PagesOf(b.products.page_by_store)
        self.products_by_owner = PagesOf(b.products.page_by_owner)
        self.products_purchased = PagesOf(functools.partial(_purchased, b))
        self.reviews_by_product = PagesOf(b.reviews.page_by_product)
        self.reviews_by_user = PagesOf(b.reviews.page_by_user)
        self.subscriptions_by_user = PagesOf(b.subscriptions.page_by_user)
        self.devices_by_store = PagesOf(b.devices.page_by_store)
        self.devices_by_owner = PagesOf(b.devices.page_by_owner)
        self.licenses_by_user = PagesOf(b.licenses.page_by_user)
        self.devices_by_tenant = PagesOf(functools.partial(_devices_by_tenant, b))

        self.stores_all = Lists(b.stores.page_all)
        self.products_all = Lists(
            lambda apps_only, store_id, page: b.products.page_all(
                ProductQuery(apps_only=apps_only, store_id=store_id), page
            )
        )
        self.devices_search = Lists(b.devices.search)


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
