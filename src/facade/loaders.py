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

Afosto's commerce data (`backend.commerce`) is keyed by (tenant uid, Afosto id): each loader
finds the tenant's Afosto link (`afosto_tenant`, itself batched) and asks the backend once per
linked tenant (a request normally reads one). A tenant without a link, a record without its join
key (no SKU, no linked location) or a key the other side does not know loads as None or an empty
list, never as an error. Lists of the whole tenant (channels, locations, price groups, hubs,
printers, users, plans) are read once per request and indexed.

Imports backends' interfaces, commerce and models only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from facade import commerce as c
from facade.backends.interfaces import Backend, ProductQuery
from facade.models import (
    INT32_MAX,
    AppManifest,
    Device,
    DeviceFilter,
    License,
    Page,
    PageArgs,
    Product,
    Review,
    SortDirection,
    Store,
    Subscription,
    Tenant,
    Till,
    User,
    owned_page,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
KT = TypeVar("KT")
VT = TypeVar("VT")


class Loader(DataLoader[KT, VT], Generic[KT, VT]):
    """A DataLoader whose cache (key -> future) is ours to read: the stage walker
    (graph/stage.py) serves keys already loaded from it, calls `batch_load_fn` directly for a
    whole round of a walk, and primes the cache where the standard path's resolvers will read it.

    `load` queues a key as aiodataloader's does (one future per key, cached; the keys queued
    until the batch starts go to one `batch_load_fn` call; a value that is an exception fails its
    key; a batch that raises fails its keys and leaves them out of the cache), and starts the
    batch at the same point of the event loop, two iterations after the first key: in one task,
    where aiodataloader's dispatch takes two (a task to dispatch, then one for the batch), and
    without a record object per queued key. A catalog of 100 products queues some 200 keys and
    a dozen batches a request."""

    def __init__(self) -> None:
        self.cache_map: dict[Any, asyncio.Future[Any]] = {}
        super().__init__(cache_map=self.cache_map)
        self._keys: list[Any] = []
        self._futures: list[asyncio.Future[Any]] = []

    def load(self, key: KT) -> asyncio.Future[VT]:
        future = self.cache_map.get(key)
        if future is not None and not future.cancelled():
            return future
        if key is None:
            raise TypeError("The loader.load() function must be called with a value, but got: None.")
        future = self.loop.create_future()
        self.cache_map[key] = future
        self._keys.append(key)
        self._futures.append(future)
        if len(self._keys) == 1:
            self.loop.call_soon(self._start)
        return future

    def load_new(self, keys: list[KT]) -> list[asyncio.Future[VT]]:
        """`load` for keys that are neither cached nor queued (distinct, not None), at once: one
        call for a list of keys instead of one per key."""
        create = self.loop.create_future
        futures = [create() for _ in keys]
        self.cache_map.update(zip(keys, futures, strict=True))
        start = not self._keys
        self._keys.extend(keys)
        self._futures.extend(futures)
        if start:
            self.loop.call_soon(self._start)
        return futures

    def _start(self) -> None:
        self.loop.create_task(self._dispatch())

    async def _dispatch(self) -> None:
        keys, futures = self._keys, self._futures
        self._keys, self._futures = [], []
        try:
            values = list(await self.batch_load_fn(keys))
            if len(values) != len(keys):
                raise TypeError("A batch function answered a different number of values than it was given keys.")
        except Exception as error:  # noqa: BLE001 - every key of the batch fails with it, uncached
            self._forget(keys, futures)
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled: so are its keys' loads, which would otherwise never settle
            self._forget(keys, futures)
            for future in futures:
                future.cancel()
            raise
        for future, value in zip(futures, values, strict=True):
            if not future.done():
                if isinstance(value, Exception):
                    future.set_exception(value)
                else:
                    future.set_result(value)

    def _forget(self, keys: list[Any], futures: list[asyncio.Future[Any]]) -> None:
        """Takes a failed batch's keys out of the cache, so a later load asks again."""
        for key, future in zip(keys, futures, strict=True):
            if self.cache_map.get(key) is future:
                del self.cache_map[key]


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
        # Keys grouped by what follows the parent (the page and the filters): usually one group.
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for key in keys:
            groups.setdefault(key[1:], []).append(key[0])
        found: dict[tuple[Any, ...], Mapping[Any, Page[Any] | Exception]] = {}
        for rest, parents in groups.items():
            page, *filters = rest
            try:
                found[rest] = await self._fetch(list(dict.fromkeys(parents)), *filters, page)
            except Exception as error:  # noqa: BLE001 - the group's keys fail, the other groups answer
                found[rest] = dict.fromkeys(parents, error)
        if len(found) == 1:
            (pages,) = found.values()
            return [pages.get(key[0]) or Page(items=[], total=0) for key in keys]
        return [found[key[1:]].get(key[0]) or Page(items=[], total=0) for key in keys]


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
    def manifest(self) -> ById[tuple[str, str, str], AppManifest]:
        return ById(functools.partial(_manifests, self.backend.apps.manifests_for))

    @cached_property
    def review(self) -> ById[int, Review]:
        return ById(self.backend.reviews.get_many)

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

    # -----------------------------------------------------------------------------------------
    # Afosto (commerce): join keys from backend.links, data from backend.commerce

    @cached_property
    def afosto_tenant(self) -> ById[str, c.AfostoTenant]:
        return ById(self.backend.links.afosto_tenants)

    @cached_property
    def tenant_afosto(self) -> ById[str, c.AfostoTenant]:
        # Tenant.afosto's: through `afosto_tenant`, which every Afosto read below asks again.
        return ById(functools.partial(_through, self.afosto_tenant))

    @cached_property
    def channel_ids_of_store(self) -> ListsBy[int, str]:
        return ListsBy(self.backend.links.channels_by_store)

    @cached_property
    def location_id_of_store(self) -> ById[int, str]:
        return ById(self.backend.links.location_by_store)

    @cached_property
    def hub_id_of_device(self) -> ById[str, str]:
        return ById(self.backend.links.hub_by_device)

    @cached_property
    def store_of_channel(self) -> ById[tuple[str, str], Store]:
        return ById(functools.partial(_linked_records, self.backend.links.stores_by_channel, self.store))

    @cached_property
    def store_of_location(self) -> ById[tuple[str, str], Store]:
        return ById(functools.partial(_linked_records, self.backend.links.stores_by_location, self.store))

    @cached_property
    def device_of_hub(self) -> ById[tuple[str, str], Device]:
        return ById(functools.partial(_linked_records, self.backend.links.devices_by_hub, self.device))

    @cached_property
    def product_of_sku(self) -> ById[tuple[str, str], Product]:
        return ById(functools.partial(_linked_records, self.backend.links.products_by_sku, self.product))

    @cached_property
    def user_by_email(self) -> ById[tuple[str, str], User]:
        return ById(functools.partial(_users_by_email, self.backend))

    # The tenant's whole lists (load-all), by tenant uid.
    @cached_property
    def afosto_channels(self) -> ListsBy[str, c.SalesChannel]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "channels"))

    @cached_property
    def afosto_locations(self) -> ListsBy[str, c.Location]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "locations"))

    @cached_property
    def afosto_price_groups(self) -> ListsBy[str, c.PriceGroup]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "price_groups"))

    @cached_property
    def afosto_users(self) -> ListsBy[str, c.AfostoUser]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "users"))

    @cached_property
    def afosto_plans(self) -> ListsBy[str, c.AfostoPlan]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "plans"))

    @cached_property
    def afosto_hubs(self) -> ListsBy[str, c.PrintHub]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "print_hubs"))

    @cached_property
    def afosto_printers(self) -> ListsBy[str, c.Printer]:
        return ListsBy(functools.partial(_whole, self.backend, self.afosto_tenant, "printers"))

    # One record of those lists, by (tenant uid, Afosto id).
    @cached_property
    def sales_channel(self) -> ById[tuple[str, str], c.SalesChannel]:
        return ById(functools.partial(_one_of, self.afosto_channels))

    @cached_property
    def stock_location(self) -> ById[tuple[str, str], c.Location]:
        return ById(functools.partial(_one_of, self.afosto_locations))

    @cached_property
    def price_group(self) -> ById[tuple[str, str], c.PriceGroup]:
        return ById(functools.partial(_one_of, self.afosto_price_groups))

    @cached_property
    def print_hub(self) -> ById[tuple[str, str], c.PrintHub]:
        return ById(functools.partial(_one_of, self.afosto_hubs))

    @cached_property
    def printer(self) -> ById[tuple[str, str], c.Printer]:
        return ById(functools.partial(_one_of, self.afosto_printers))

    @cached_property
    def afosto_user(self) -> ById[tuple[str, str], c.AfostoUser]:
        return ById(functools.partial(_one_of, self.afosto_users))

    @cached_property
    def afosto_plan(self) -> ById[tuple[str, str], c.AfostoPlan]:
        return ById(functools.partial(_one_of, self.afosto_plans))

    # Batch reads by (tenant uid, key): one backend call per linked tenant.
    @cached_property
    def afosto_order(self) -> ById[tuple[str, str], c.Order]:
        return ById(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "orders"))

    @cached_property
    def afosto_customer(self) -> ById[tuple[str, str], c.Customer]:
        return ById(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "customers"))

    @cached_property
    def postal_address(self) -> ById[tuple[str, str], c.PostalAddress]:
        return ById(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "addresses"))

    @cached_property
    def afosto_task(self) -> ById[tuple[str, str], c.AfostoTask]:
        return ById(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "tasks"))

    @cached_property
    def hub_status(self) -> ById[tuple[str, str], c.PrintHubStatus]:
        return ById(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "hub_status"))

    @cached_property
    def stock_at_location(self) -> ListsBy[tuple[str, str], c.StockLevel]:
        return ListsBy(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "stock_by_location"))

    @cached_property
    def stock_of_sku(self) -> ListsBy[tuple[str, str], c.StockLevel]:
        return ListsBy(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "stock_by_sku"))

    @cached_property
    def lines_of_order(self) -> ListsBy[tuple[str, str], c.OrderLine]:
        return ListsBy(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "order_lines"))

    @cached_property
    def lines_of_sku(self) -> ListsBy[tuple[str, str], c.OrderLine]:
        return ListsBy(functools.partial(_per_tenant, self.backend, self.afosto_tenant, "order_lines_by_sku"))

    # A facade record's Afosto side, through its join key.
    @cached_property
    def store_location(self) -> ById[tuple[str, int], c.Location]:
        return ById(functools.partial(_store_location, self.location_id_of_store, self.stock_location))

    @cached_property
    def device_hub(self) -> ById[tuple[str, str], c.PrintHub]:
        return ById(functools.partial(_device_hub, self.hub_id_of_device, self.print_hub))

    @cached_property
    def product_sku(self) -> ById[int, tuple[str, str]]:
        return ById(self.backend.links.sku_refs_by_product)

    @cached_property
    def sku_of(self) -> ById[int, str]:
        return ById(functools.partial(_sku_only, self.product_sku))

    # Connections (PagesOf) over those lists.
    @cached_property
    def store_channels(self) -> PagesOf:
        return PagesOf(functools.partial(_store_channels, self.channel_ids_of_store, self.afosto_channels))

    @cached_property
    def store_stock(self) -> PagesOf:
        return PagesOf(functools.partial(_store_stock, self.location_id_of_store, self.stock_at_location))

    @cached_property
    def product_prices(self) -> PagesOf:
        return PagesOf(
            functools.partial(
                _product_prices, self.backend, self.afosto_tenant, self.product_sku, self.afosto_price_groups
            )
        )

    @cached_property
    def product_stock(self) -> PagesOf:
        return PagesOf(functools.partial(_via_sku, self.product_sku, self.stock_of_sku))

    @cached_property
    def product_order_lines(self) -> PagesOf:
        return PagesOf(functools.partial(_via_sku, self.product_sku, self.lines_of_sku))

    @cached_property
    def location_stock(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.stock_at_location))

    @cached_property
    def sku_stock(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.stock_of_sku))

    @cached_property
    def order_lines(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.lines_of_order))

    @cached_property
    def hub_printers(self) -> PagesOf:
        return PagesOf(functools.partial(_hub_printers, self.afosto_printers))

    @cached_property
    def tenant_channels(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.afosto_channels))

    @cached_property
    def tenant_locations(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.afosto_locations))

    @cached_property
    def tenant_price_groups(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.afosto_price_groups))

    @cached_property
    def tenant_users(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.afosto_users))

    @cached_property
    def tenant_plans(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.afosto_plans))

    @cached_property
    def tenant_hubs(self) -> PagesOf:
        return PagesOf(functools.partial(_paged_lists, self.afosto_hubs))

    @cached_property
    def tenant_orders(self) -> PagesOf:
        return PagesOf(functools.partial(_tenant_orders, self.backend, self.afosto_tenant))

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


# ---------------------------------------------------------------------------------------------
# Afosto (commerce)


async def _each(loader: Loader[Any, Any], keys: Sequence[Any]) -> dict[Any, Any]:
    """{key: value or the exception its load failed with} (a failed key fails only itself).

    Through the loader's cache, so what other loaders share is loaded once: a key whose load has
    settled is read off its future; the others are queued with `load` (one batch, as before) and
    awaited in turn. Not `gather`: it costs a done callback and a wrapper per key (an edge of 100
    products loads several hundred keys a request), and the batch settles them all at once, so
    only the first await waits."""
    return await _settle(*_queued(loader, keys))


def _queued(loader: Loader[Any, Any], keys: Sequence[Any]) -> tuple[dict[Any, Any], list[tuple[Any, Any]]]:
    """`_each`'s first half, which waits for nothing: the keys already settled, and the futures of
    the others, queued with `load`. Two loaders' keys queued before either is awaited are loaded
    in the same turn of the event loop, as gathering two `_each` would, without its two tasks."""
    cache = loader.cache_map
    found: dict[Any, Any] = {}
    waiting: list[tuple[Any, asyncio.Future[Any]]] = []
    new: list[Any] = []
    for key in keys:
        if key in found:
            continue
        future = cache.get(key)
        if future is not None and future.cancelled():
            future = None  # a caller awaiting it was cancelled, and with it the future: load again
        if future is None:
            if key is None:
                loader.load(key)  # refused as aiodataloader refuses it (TypeError)
            new.append(key)
        elif future.done():
            found[key] = future.exception() or future.result()
            continue
        else:
            # A key being loaded already (by another loader reading the same keys) is its future.
            waiting.append((key, future))
        found[key] = None
    if new:
        waiting.extend(zip(new, loader.load_new(new), strict=True))
    return found, waiting


async def _settle(found: dict[Any, Any], waiting: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """`_each`'s second half: `found` with each waiting key's value or failure."""
    for key, pending in waiting:
        try:
            found[key] = await pending
        except Exception as error:  # noqa: BLE001 - that key's failure, as its answer
            found[key] = error
    return found


async def _through(loader: Loader[Any, Any], keys: Sequence[Any]) -> dict[Any, Any]:
    """What `loader` loads for `keys`, through its cache: for an edge whose loader other loaders
    also read (the stage walker fetches an edge's whole round itself, outside the cache)."""
    return {k: v for k, v in (await _each(loader, keys)).items() if v is not None}


async def _links(
    tenants: ById[str, c.AfostoTenant], uids: Sequence[str]
) -> tuple[dict[str, c.AfostoTenant], dict[str, Exception]]:
    """The linked tenants among `uids` (an unlinked tenant has no Afosto data: left out), and
    the tenants whose link failed to load (their keys fail with it)."""
    found = await _each(tenants, uids)
    linked = {uid: link for uid, link in found.items() if isinstance(link, c.AfostoTenant)}
    return linked, {uid: error for uid, error in found.items() if isinstance(error, Exception)}


async def _whole(
    backend: Backend, tenants: ById[str, c.AfostoTenant], method: str, uids: Sequence[str]
) -> dict[str, Any]:
    """A load-all read (`backend.commerce.<method>`) for the linked tenants among `uids`."""
    linked, failed = await _links(tenants, uids)
    if not linked:
        return dict(failed)
    try:
        answers = await getattr(backend.commerce, method)(list(linked.values()))
    except Exception as error:  # noqa: BLE001 - these tenants' keys fail with it
        return {**failed, **dict.fromkeys(linked, error)}
    return {**failed, **{uid: answers.get(link, []) for uid, link in linked.items()}}


async def _one_of(whole: ListsBy[str, Any], keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Records of a tenant's whole list by (tenant uid, id)."""
    lists = await _each(whole, [uid for uid, _ in keys])
    index: dict[tuple[str, str], Any] = {}
    for uid, items in lists.items():
        if isinstance(items, Exception):
            index.update({k: items for k in keys if k[0] == uid})
            continue
        index.update({(uid, item.id): item for item in items})
    return {k: index[k] for k in keys if k in index}


async def _per_tenant(
    backend: Backend, tenants: ById[str, c.AfostoTenant], method: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """A batch read (`backend.commerce.<method>(tenant, keys)`) once per linked tenant; a failed
    call fails only its tenant's keys."""
    by_tenant: dict[str, list[str]] = {}
    for uid, key in keys:
        by_tenant.setdefault(uid, []).append(key)
    linked, failed = await _links(tenants, list(by_tenant))

    async def one(uid: str, link: c.AfostoTenant) -> dict[tuple[str, str], Any]:
        wanted = by_tenant[uid]
        try:
            answers = await getattr(backend.commerce, method)(link, wanted)
        except Exception as error:  # noqa: BLE001 - this tenant's keys fail, the others answer
            return {(uid, k): error for k in wanted}
        return {(uid, k): answers[k] for k in wanted if k in answers}

    found: dict[tuple[str, str], Any] = {(uid, k): failed[uid] for uid in failed for k in by_tenant[uid]}
    if len(linked) == 1:  # one tenant (the usual request): its call made here, not in a task
        ((uid, link),) = linked.items()
        found.update(await one(uid, link))
        return found
    for part in await asyncio.gather(*(one(uid, link) for uid, link in linked.items())):
        found.update(part)
    return found


async def _linked_records(
    links: Callable[[Sequence[Any]], Awaitable[Mapping[Any, Any]]], records: ById[Any, Any], keys: Sequence[Any]
) -> dict[Any, Any]:
    """Facade records through a reverse join key: `links(keys) -> {key: record id}`, then the
    records by id (a key without a link, or a link to a record gone, is absent)."""
    ids = await links(keys)
    found = await _each(records, list(ids.values()))
    return {k: found[ids[k]] for k in keys if k in ids and found.get(ids[k]) is not None}


async def _users_by_email(backend: Backend, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Facade users by (tenant uid, e-mail in lower case): the tenant's users, read whole."""
    uids = list(dict.fromkeys(uid for uid, _ in keys))
    pages = await backend.users.page_by_tenant(uids, PageArgs(limit=INT32_MAX))
    index = {(uid, user.email.lower()): user for uid, page in pages.items() for user in page.items if user.email}
    return {k: index[k] for k in keys if k in index}


async def _store_location(
    location_ids: ById[int, str], locations: ById[tuple[str, str], c.Location], keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], Any]:
    ids = await _each(location_ids, [store for _, store in keys])
    wanted = {k: (k[0], ids[k[1]]) for k in keys if isinstance(ids.get(k[1]), str)}
    found = await _each(locations, list(wanted.values()))
    return {k: found[ref] for k, ref in wanted.items() if found.get(ref) is not None}


async def _device_hub(
    hub_ids: ById[str, str], hubs: ById[tuple[str, str], c.PrintHub], keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    ids = await _each(hub_ids, [device for _, device in keys])
    wanted = {k: (k[0], ids[k[1]]) for k in keys if isinstance(ids.get(k[1]), str)}
    found = await _each(hubs, list(wanted.values()))
    return {k: found[ref] for k, ref in wanted.items() if found.get(ref) is not None}


async def _sku_only(product_sku: ById[int, tuple[str, str]], keys: Sequence[int]) -> dict[int, Any]:
    """A product's SKU alone, through the loader of (tenant uid, SKU): a level asking for the SKU
    and the prices reads the join key once."""
    refs = await _through(product_sku, keys)
    return {k: r if isinstance(r, Exception) else r[1] for k, r in refs.items()}


def _window(items: Sequence[Any], page: PageArgs) -> list[Any]:
    """The items of one page of a list read whole: in the source's order (reversed for DESC)."""
    ordered = list(reversed(items)) if page.direction is SortDirection.DESC else items
    window = ordered[page.offset : page.offset + page.limit]
    return window if type(window) is list else list(window)  # a list's slice is a new list already


def _slice(items: Sequence[Any], page: PageArgs) -> Page[Any]:
    """One page of a list read whole (`_window`)."""
    return Page(items=_window(items, page), total=len(items), offset=page.offset)


def _pages(lists: Mapping[Any, Any], keys: Sequence[Any], page: PageArgs) -> dict[Any, Page[Any] | Exception]:
    answers: dict[Any, Page[Any] | Exception] = {}
    for key in keys:
        items = lists.get(key)
        if isinstance(items, Exception):
            answers[key] = items
        elif items is not None:
            answers[key] = _slice(items, page)
    return answers


async def _paged_lists(lists: Loader[Any, list[Any]], keys: Sequence[Any], page: PageArgs) -> dict[Any, Any]:
    """Pages of lists a ListsBy loader reads whole (a tenant's channels, an order's lines)."""
    return _pages(await _each(lists, keys), keys, page)


async def _store_channels(
    channel_ids: ListsBy[int, str],
    channels: ListsBy[str, c.SalesChannel],
    keys: Sequence[tuple[str, int]],
    page: PageArgs,
) -> dict[Any, Any]:
    ids, lists = await asyncio.gather(
        _each(channel_ids, [store for _, store in keys]), _each(channels, [uid for uid, _ in keys])
    )
    found: dict[Any, Any] = {}
    for key in keys:
        linked, items = ids.get(key[1]), lists.get(key[0])
        if isinstance(linked, Exception) or isinstance(items, Exception):
            found[key] = linked if isinstance(linked, Exception) else items
        elif linked and items:
            wanted = set(linked)
            found[key] = [channel for channel in items if channel.id in wanted]
    return _pages(found, keys, page)


async def _manifests(
    manifests_for: Callable[[Sequence[tuple[str, str]]], Awaitable[Mapping[tuple[str, str], list[AppManifest]]]],
    keys: Sequence[tuple[str, str, str]],
) -> dict[tuple[str, str, str], AppManifest]:
    """Manifests by (app, version, schema version): one read of the app versions they belong to
    (FLECS keeps an app version's manifests together; none has an id of its own)."""
    found = await manifests_for(list(dict.fromkeys((app, version) for app, version, _ in keys)))
    wanted = set(keys)
    return {
        key: manifest
        for each in found.values()
        for manifest in each
        if (key := (manifest.app, manifest.version, manifest.schema_version)) in wanted
    }


async def _store_stock(
    location_ids: ById[int, str],
    stock: ListsBy[tuple[str, str], c.StockLevel],
    keys: Sequence[tuple[str, int]],
    page: PageArgs,
) -> dict[Any, Any]:
    ids = await _each(location_ids, [store for _, store in keys])
    refs = {k: (k[0], ids[k[1]]) for k in keys if isinstance(ids.get(k[1]), str)}
    levels = await _each(stock, list(refs.values()))
    found = {k: ids[k[1]] if isinstance(ids.get(k[1]), Exception) else levels.get(refs.get(k)) for k in keys}
    return _pages(found, keys, page)


async def _via_sku(
    product_sku: ById[int, tuple[str, str]],
    lists: ListsBy[tuple[str, str], Any],
    keys: Sequence[int],
    page: PageArgs,
) -> dict[Any, Any]:
    """Pages of what hangs off a product's SKU in its tenant's Afosto (stock, order lines)."""
    refs = await _each(product_sku, keys)
    wanted = [r for r in refs.values() if isinstance(r, tuple)]
    found = await _each(lists, wanted)
    return _owned({k: r if isinstance(r, Exception) else found.get(r) for k, r in refs.items()}, refs, keys, page)


def _owned(found: Mapping[Any, Any], refs: Mapping[Any, Any], keys: Sequence[Any], page: PageArgs) -> dict[Any, Any]:
    """The pages of `found` (`_pages`), a product's Afosto pages as its SKU's tenant's
    (OwnedPage, owner c.TenantOwned), empty ones too, so the commerce record rule refuses another
    tenant's caller whatever the data; a product without a SKU keeps its page (empty), anyone's
    to read. One page object per key, one owner per tenant."""
    answers: dict[Any, Any] = {}
    owners: dict[str, c.TenantOwned] = {}
    for key in keys:
        items, ref = found.get(key), refs.get(key)
        if isinstance(items, Exception):
            answers[key] = items
        elif not isinstance(ref, tuple):
            if items is not None:
                answers[key] = _slice(items, page)
        else:
            owner = owners.get(ref[0])
            if owner is None:
                owner = owners[ref[0]] = c.TenantOwned(ref[0])
            if items is None:
                answers[key] = owned_page([], 0, 0, owner)
            else:
                answers[key] = owned_page(_window(items, page), len(items), page.offset, owner)
    return answers


async def _product_prices(
    backend: Backend,
    tenants: ById[str, c.AfostoTenant],
    product_sku: ById[int, tuple[str, str]],
    groups: ListsBy[str, c.PriceGroup],
    keys: Sequence[int],
    group_name: str | None,
    active_at: Any,
    page: PageArgs,
) -> dict[Any, Any]:
    """A product's prices in its tenant's price groups (the one named `group_name`, else every
    group), those in effect at `active_at`, else now (per SKU and group the price whose
    `active_at` is the latest at or before that instant, an undated one counting as always in
    effect): one backend call per price group, whatever the products. The instant is always
    sent (a time without an offset is UTC), so no backend's default for a missing one decides."""
    at = active_at if active_at is not None else dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    refs = await _each(product_sku, keys)
    skus = list(dict.fromkeys(r for r in refs.values() if isinstance(r, tuple)))
    uids = list(dict.fromkeys(uid for uid, _ in skus))
    links_queued, lists_queued = _queued(tenants, uids), _queued(groups, uids)
    links, lists = await _settle(*links_queued), await _settle(*lists_queued)
    calls = []
    prices: dict[tuple[str, str], Any] = {}
    for uid in uids:
        link, chosen = links.get(uid), lists.get(uid)
        failed = link if isinstance(link, Exception) else chosen if isinstance(chosen, Exception) else None
        if failed is not None:  # the tenant's link or groups failed to load: so do its products' prices
            prices.update({ref: failed for ref in skus if ref[0] == uid})
            continue
        if not isinstance(link, c.AfostoTenant) or not isinstance(chosen, list):
            continue
        of_tenant = [sku for owner, sku in skus if owner == uid]
        for group in chosen:
            if group_name is None or group.name == group_name:
                calls.append((uid, backend.commerce.prices(link, of_tenant, group.id, at, group)))
    answers = await asyncio.gather(*(call for _, call in calls), return_exceptions=True)
    of_tenant_refs = {uid: [ref for ref in skus if ref[0] == uid] for uid in uids}
    for (uid, _), answer in zip(calls, answers, strict=True):
        if isinstance(answer, BaseException):  # the group's call failed: so do its SKUs' prices
            error = answer if isinstance(answer, Exception) else RuntimeError(str(answer))
            for key in of_tenant_refs[uid]:
                if not isinstance(prices.get(key), Exception):
                    prices[key] = error
            continue
        for key in of_tenant_refs[uid]:  # each group's prices after the groups' before it
            held = prices.get(key)
            if isinstance(held, Exception):
                continue
            got = answer.get(key[1])
            if isinstance(got, Exception):
                prices[key] = got
            elif held is None:
                prices[key] = list(got) if got else []
            elif got:
                held.extend(got)
    found = {k: r if isinstance(r, Exception) else prices.get(r) for k, r in refs.items()}
    return _owned(found, refs, keys, page)


async def _hub_printers(
    printers: ListsBy[str, c.Printer], keys: Sequence[tuple[str, str]], page: PageArgs
) -> dict[Any, Any]:
    lists = await _each(printers, [uid for uid, _ in keys])
    found: dict[Any, Any] = {}
    for key in keys:
        items = lists.get(key[0])
        found[key] = items if isinstance(items, Exception) else [p for p in items or () if p.hub_id == key[1]]
    return _pages(found, keys, page)


async def _tenant_orders(
    backend: Backend, tenants: ById[str, c.AfostoTenant], uids: Sequence[str], number: str | None, page: PageArgs
) -> dict[str, Page[Any] | Exception]:
    """Afosto's paged order list (one call per tenant; a request normally reads one)."""
    linked, failed = await _links(tenants, uids)
    pages: dict[str, Page[Any] | Exception] = dict(failed)
    for uid, link in linked.items():
        pages[uid] = await _answer(backend.commerce.order_page(link, number, page))
    return pages
