"""Afosto's commerce data over the Afosto API: the `CommerceBackend` of upstream mode (routed as
`commerce.*` to AFOSTO), each method one Afosto operation of the generated table, called through
the generated client's one call (`client.send`: the request's scope, forwarding, retries of
reads, deadline, error mapping).

How each read batches (the issue's rule: one Afosto call per entity type per level):

    load-all   GET /cat/channels, /cat/groups, /wms/locations, /iam/users (x-page followed to the
               end, at most `LIST_LIMIT` records), GET /iam/subscriptions, /spl/hubs, /spl/printers
               (unpaged): once per tenant per request (identical GETs are made once)
    batch      POST /cat/groups/{id}/prices (sku in), POST /wms/inventory (location_id in, or sku
               in), POST /odr/search/orders (ids in), POST /odr/search/orders/items (order_ids in,
               or skus in), POST /rel/contacts (id in, spelled `value`), POST /rel/search/address
               (ids in): the keys in chunks of `batch_size` (FACADE_AFOSTO_BATCH_SIZE), one call per
               chunk, chunks at once under the concurrency cap; a paged answer is followed to its
               last page (`SEARCH_PAGE_SIZE` records a page)
    paged      GET /odr/orders (x-page, x-page-size): `order_page`
    fan-out    GET /spl/hubs/{id}/status, GET /mes/tasks/{id}: one call per key, at most
               FACADE_UPSTREAM_CONCURRENCY at once

A failed call fails only the keys (or tenants) it served: they answer with its error.

The tenant check: Afosto's tenant is implicit in the token, so `GET /iam/tenants/{afosto_tenant_id}`
must answer that tenant (the GET is de-duplicated: once per request per tenant) before a tenant's
data is answered (a read is sent beside the check and dropped if the check fails) or a write is
sent (after the check); a refusal or another tenant is FORBIDDEN for that tenant's data. A check
passed is kept per process (`TenantChecks`) for the token and tenant, until the token's `exp` and
at most FACADE_TOKEN_CACHE_SECONDS, as facade keeps its token verdicts: which tenant a token is for
does not change, and Afosto still judges the token itself on every call (a revoked token's reads
are UNAUTHENTICATED), so a kept check spares each later request of the token one Afosto call.
A refusal is not kept.
Afosto's own 401 is UNAUTHENTICATED, 5xx UPSTREAM_ERROR, a timeout UPSTREAM_TIMEOUT.

Parsing: money stays Afosto's integer minor units; a price's currency and VAT inclusion are its
group's (`GET /cat/groups`), its VAT rate Afosto's integer percentage as text ("21.00"); an
order's status is read from its state flags (canceled, else confirmed, else open), its currency
and total from its first calculation, its customer and addresses from its settings; an order line
is an `OdrGroup` (one SKU) of each order it references. Every record carries the facade tenant
(`AfostoTenant.tenant_id`) it was read for.

Imports the Afosto client, the upstream base, commerce, models, errors, auth's token digest and
the token verdicts' cache; never strawberry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from facade.auth import token_digest
from facade.backends.upstream.afosto import readers
from facade.backends.upstream.afosto.client import API, CREDENTIALS_HEADER, ServiceAccount, send
from facade.backends.upstream.afosto.generated import payloads as p
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.afosto.operation import AfostoAnswer
from facade.backends.upstream.base import ApiPart
from facade.backends.upstream.fanout import each
from facade.backends.upstream.http import UpstreamClient
from facade.backends.upstream.payloads import UNKNOWN_TIME, jwt_claims
from facade.backends.upstream.verify import Verdict, VerdictCache
from facade.commerce import (
    CANCELED_TAKES_NO_LINES,
    KEY_USED_FOR_ANOTHER_ORDER,
    KEY_USED_FOR_OTHER_LINES,
    AfostoPlan,
    AfostoTask,
    AfostoTenant,
    AfostoUser,
    ChannelInput,
    Customer,
    LineInput,
    Location,
    Order,
    OrderInput,
    OrderLine,
    OrderStatus,
    PostalAddress,
    Price,
    PriceGroup,
    PriceInput,
    Printer,
    PrintHub,
    PrintHubStatus,
    SalesChannel,
    SalesChannelType,
    StockInput,
    StockLevel,
    check_quantities,
    order_total,
)
from facade.errors import BadUserInput, Conflict, FacadeError, Forbidden, NotFound, UpstreamError
from facade.models import Page, PageArgs, SortDirection

__all__ = ["LIST_LIMIT", "SEARCH_PAGE_SIZE", "AfostoCommerce", "TenantChecks"]

OPS = {op.key: op for op in OPERATIONS}
# Records a load-all list may hold before facade refuses to load it whole (UPSTREAM_ERROR).
LIST_LIMIT = 10_000
# Records asked for per page of a paged list or search (Afosto's default is 25).
SEARCH_PAGE_SIZE = 1000

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def _chunks(keys: Sequence[str], size: int) -> list[list[str]]:
    distinct = list(dict.fromkeys(keys))
    return [distinct[i : i + size] for i in range(0, len(distinct), size)]


def _in(key: str, values: Sequence[str], spelling: str = "values") -> dict[str, Any]:
    return {"constraints": [{"key": key, "operator": "in", spelling: list(values)}]}


def _time(value: dt.datetime | None) -> dt.datetime:
    return value if value is not None else UNKNOWN_TIME


def _text(value: str | None) -> str:
    return value if value is not None else ""


def _channel_type(value: Any) -> SalesChannelType:
    text = getattr(value, "value", value)
    try:
        return SalesChannelType(text)
    except ValueError:
        return SalesChannelType.STOREFRONT


class TenantChecks:
    """Passed tenant checks by (token, Afosto tenant): the SHA-256 of both, never the token, kept
    in a `VerdictCache` as facade's token verdicts are (LRU of `size`, FACADE_TOKEN_CACHE_SIZE),
    each at most `seconds` (FACADE_TOKEN_CACHE_SECONDS) and never past the token's JWT `exp`."""

    def __init__(self, size: int = 10_000, seconds: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self.clock = clock
        self._kept = VerdictCache(size)

    @staticmethod
    def key(credential: str, afosto_tenant_id: str) -> str:
        return token_digest(f"{afosto_tenant_id}\n{credential}")

    def passed(self, key: str) -> bool:
        return self._kept.get(key, self.clock()) is not None

    def keep(self, key: str, credential: str) -> None:
        now = self.clock()
        until = now + self.seconds
        _, _, token = credential.partition(" ")
        exp = jwt_claims(token.strip() or credential).get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            until = min(until, float(exp))
        if until > now:
            self._kept.put(key, Verdict(None, None, until))

    def __len__(self) -> int:
        return len(self._kept)


class AfostoCommerce(ApiPart):
    """`CommerceBackend` over the Afosto API (see the module docstring); built once per process,
    bound per request (`ApiPart.bound`). `account` serves callers without an Afosto token;
    `batch_size` is FACADE_AFOSTO_BATCH_SIZE; `concurrency` caps the calls of one batch in flight
    (each batch its own cap: a process-wide one made concurrent requests queue for each other's
    slots, bench catalog-100 9 req/s against 33 without it)."""

    def __init__(
        self,
        upstream: UpstreamClient,
        account: ServiceAccount | None = None,
        *,
        batch_size: int = 100,
        concurrency: int = 16,
        checks: TenantChecks | None = None,
    ) -> None:
        super().__init__(upstream)
        self.account = account
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.checks = checks if checks is not None else TenantChecks()

    # -- calls ---------------------------------------------------------------------------------

    def _cap(self) -> asyncio.Semaphore:
        """The cap of one batch's calls in flight (FACADE_UPSTREAM_CONCURRENCY)."""
        return asyncio.Semaphore(self.concurrency)

    async def _call(
        self,
        key: str,
        arguments: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
        decoded: bool = False,
    ) -> AfostoAnswer:
        return await send(
            self.client, self.account, OPS[key], arguments or {}, body, page=page, page_size=page_size, decoded=decoded
        )

    def _credential(self) -> str | None:
        """What the calls of this request are authorised with, as the tenant check is kept by:
        the caller's Afosto token, else the service account (one Afosto tenant, whatever token
        it holds now); None without either (nothing is kept)."""
        given = self.client.scope.headers.get(CREDENTIALS_HEADER)
        if given:
            return given
        return f"service-account:{id(self.account)}" if self.account is not None else None

    def _passed(self, tenant: AfostoTenant) -> bool:
        credential = self._credential()
        return credential is not None and self.checks.passed(TenantChecks.key(credential, tenant.afosto_tenant_id))

    async def _check(self, tenant: AfostoTenant) -> None:
        """Forbidden unless the caller's Afosto token is for `tenant`'s Afosto tenant (a check
        this token passed for it before is kept: see the module docstring)."""
        if self._passed(tenant):
            return
        try:
            answer = await self._call("GET /iam/tenants/{id}", {"id": tenant.afosto_tenant_id})
        except (Forbidden, NotFound):
            answer = None
        found = answer.value if answer is not None else None
        if not isinstance(found, p.IamTenant) or found.id != tenant.afosto_tenant_id:
            raise Forbidden(
                "The Afosto credentials are not for this tenant's Afosto account.", upstream=API, status=403
            )
        credential = self._credential()
        if credential is not None:
            self.checks.keep(TenantChecks.key(credential, tenant.afosto_tenant_id), credential)

    async def _pages(
        self,
        key: str,
        arguments: Mapping[str, Any] | None = None,
        body: Any = None,
        limit: int = LIST_LIMIT,
        *,
        decoded: bool = False,
    ) -> list[Any]:
        """Every record of a list or search, x-page followed to the end (at most `limit`); with
        `decoded`, each as decoded JSON (an object unless the body is malformed), for the caller
        to read (`_price_of`, `_stock_of`)."""
        op = OPS[key]
        if op.paging != "headers":
            answer = await self._call(key, arguments, body, decoded=decoded)
            return [r for r in _listed(answer.value) if r is not None]
        found: list[Any] = []
        number = 1
        while True:
            answer = await self._call(key, arguments, body, page=number, page_size=SEARCH_PAGE_SIZE, decoded=decoded)
            records = [r for r in _listed(answer.value) if r is not None]
            found.extend(records)
            if len(found) > limit:
                raise UpstreamError(f"The {API} list is longer than facade loads whole ({limit}).", upstream=API)
            following = answer.page
            if len(answer.value or ()) < SEARCH_PAGE_SIZE or following is None or following <= number:
                return found
            number = following

    async def _checked(self, tenant: AfostoTenant, read: Awaitable[T]) -> T:
        """`read`'s answer once the tenant check passed; both are sent at once (a read's answer
        is dropped when the check fails: the caller never sees it), so the check costs no
        round trip of its own. The check's refusal wins over the read's."""
        if self._passed(tenant):  # kept from an earlier request of this token
            return await read
        # The check is a task beside the read, which runs in this one: a task fewer than
        # gathering both (a catalog request makes several of these).
        check = asyncio.ensure_future(self._check(tenant))
        try:
            answer = await read
        except asyncio.CancelledError:
            check.cancel()
            raise
        except BaseException:
            await check  # its refusal, when it refuses, is raised instead of the read's failure
            raise
        await check
        return answer

    async def _load_all(
        self, tenants: Sequence[AfostoTenant], read: Callable[[AfostoTenant], Awaitable[list[T]]]
    ) -> dict[AfostoTenant, list[T] | Exception]:
        return await each(self._cap(), tenants, lambda tenant: self._checked(tenant, read(tenant)))

    async def _batch(
        self,
        tenant: AfostoTenant,
        keys: Sequence[str],
        search: Callable[[list[str]], Awaitable[list[tuple[str, V]]]],
    ) -> dict[str, list[V] | Exception]:
        """`{key: [values]}` for the keys, `search` called once per chunk of `batch_size` keys
        (answering `(key, value)` pairs); a failed chunk answers its keys with its error."""
        if not keys:
            return {}
        chunks = _chunks(keys, self.batch_size)
        searched = each(self._cap(), range(len(chunks)), lambda i: search(chunks[i]))
        try:
            answers = await self._checked(tenant, searched)
        except FacadeError as refused:
            return dict.fromkeys(keys, refused)
        result: dict[str, list[V] | Exception] = {}
        for i, chunk in enumerate(chunks):
            answer = answers[i]
            if isinstance(answer, Exception):
                result.update(dict.fromkeys(chunk, answer))
                continue
            mine: dict[str, list[V] | Exception] = {k: [] for k in chunk}
            for key, value in answer:
                found = mine.get(key)
                if isinstance(found, list):
                    found.append(value)
            result.update(mine)
        return result

    @staticmethod
    def _single(found: Mapping[str, list[V] | Exception]) -> dict[str, V | Exception]:
        """A batch of at most one value per key: the keys with one, and the failed ones."""
        return {k: v if isinstance(v, Exception) else v[0] for k, v in found.items() if isinstance(v, Exception) or v}

    # -- load-all reads ------------------------------------------------------------------------

    async def _whole(
        self, tenants: Sequence[AfostoTenant], key: str, parse: Callable[[AfostoTenant, Any], T]
    ) -> dict[AfostoTenant, list[T] | Exception]:
        """Each tenant's whole list of operation `key` (every page), its records with an id parsed."""

        async def read(tenant: AfostoTenant) -> list[T]:
            return [parse(tenant, r) for r in await self._pages(key) if r.id]

        return await self._load_all(tenants, read)

    async def channels(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[SalesChannel] | Exception]:
        """`GET /cat/channels`, every page, per tenant."""
        return await self._whole(tenants, "GET /cat/channels", _channel)

    async def locations(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[Location] | Exception]:
        """`GET /wms/locations`, every page, per tenant."""
        return await self._whole(tenants, "GET /wms/locations", _location)

    async def price_groups(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[PriceGroup] | Exception]:
        """`GET /cat/groups`, every page, per tenant."""
        return await self._load_all(tenants, self._groups)

    async def _groups(self, tenant: AfostoTenant) -> list[PriceGroup]:
        return [_group(tenant, g) for g in await self._pages("GET /cat/groups") if g.id]

    async def users(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[AfostoUser] | Exception]:
        """`GET /iam/users`, every page, per tenant."""
        return await self._whole(tenants, "GET /iam/users", _user)

    async def plans(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[AfostoPlan] | Exception]:
        """`GET /iam/subscriptions`, per tenant."""
        return await self._whole(tenants, "GET /iam/subscriptions", _plan)

    async def print_hubs(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[PrintHub] | Exception]:
        """`GET /spl/hubs`, per tenant."""
        return await self._whole(tenants, "GET /spl/hubs", _hub)

    async def printers(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[Printer] | Exception]:
        """`GET /spl/printers` (every hub's), per tenant."""
        return await self._whole(tenants, "GET /spl/printers", _printer)

    # -- batch reads ---------------------------------------------------------------------------

    async def prices(
        self,
        tenant: AfostoTenant,
        skus: Sequence[str],
        group_id: str,
        active_at: dt.datetime | None,
        group: PriceGroup | None = None,
    ) -> dict[str, list[Price] | Exception]:
        """`POST /cat/groups/{group_id}/prices` with `sku in [...]` (and `active_at` when given),
        per chunk of SKUs; the group's currency and VAT inclusion are `group`'s, else read from
        `GET /cat/groups` beside the search."""
        held = group if group is not None and group.id == group_id else None

        async def search(chunk: list[str]) -> list[tuple[str, Price]]:
            body = _in("sku", chunk)
            if active_at is not None:
                body["active_at"] = active_at.isoformat()
            search = self._pages("POST /cat/groups/{id}/prices", {"id": group_id}, body, decoded=True)
            of: PriceGroup | None = held
            if of is not None:
                found = await search
            else:
                groups, found = await asyncio.gather(self._groups(tenant), search)
                of = next((g for g in groups if g.id == group_id), None)
            read = [(price.sku, price) for item in found if (price := _price_of(tenant, item, group_id, of))]
            return read if active_at is None else _in_effect(read, active_at)

        return await self._batch(tenant, skus, search)

    async def stock_by_location(
        self, tenant: AfostoTenant, location_ids: Sequence[str]
    ) -> dict[str, list[StockLevel] | Exception]:
        """`POST /wms/inventory` with `location_id in [...]`, per chunk of locations."""

        async def search(chunk: list[str]) -> list[tuple[str, StockLevel]]:
            found = await self._pages("POST /wms/inventory", None, _in("location_id", chunk), decoded=True)
            return [(level.location_id, level) for item in found if (level := _stock_of(tenant, item))]

        return await self._batch(tenant, location_ids, search)

    async def stock_by_sku(self, tenant: AfostoTenant, skus: Sequence[str]) -> dict[str, list[StockLevel] | Exception]:
        """`POST /wms/inventory` with `sku in [...]`, per chunk of SKUs."""

        async def search(chunk: list[str]) -> list[tuple[str, StockLevel]]:
            found = await self._pages("POST /wms/inventory", None, _in("sku", chunk), decoded=True)
            return [(level.sku, level) for item in found if (level := _stock_of(tenant, item))]

        return await self._batch(tenant, skus, search)

    async def orders(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, Order | Exception]:
        """`POST /odr/search/orders` with `ids in [...]`, per chunk of ids."""

        async def search(chunk: list[str]) -> list[tuple[str, Order]]:
            found = await self._pages("POST /odr/search/orders", None, _in("ids", chunk))
            return [(o.id, _order(tenant, o)) for o in found if o.id]

        return self._single(await self._batch(tenant, ids, search))

    async def order_page(self, tenant: AfostoTenant, number: str | None, page: PageArgs) -> Page[Order]:
        """`GET /odr/orders` (`number` as its filter), the pages of `page.limit` orders that hold
        the slice: one call when `page.offset` is a multiple of the limit, else two. Afosto does
        not count orders: `total` is the orders up to the slice's end, plus one while Afosto
        names a next page (enough to tell whether there is one; `first: 0` reads one order for
        it). Afosto's order (newest first) is
        the only one: the documentation gives `GET /odr/orders` no sort parameter and no count, so
        its end cannot be found without reading every page; DESC is BadUserInput here rather
        than a page in another order than local mode's."""
        if page.direction is SortDirection.DESC:
            raise BadUserInput(
                "`sortDirection: DESC` is not available for Afosto orders in upstream mode: Afosto lists "
                "orders newest first and `GET /odr/orders` has no sort parameter and no count, so the "
                "oldest cannot be read first without reading the whole list. Page forward with `after`.",
                field="sortDirection",
            )
        if page.limit <= 0:  # no orders asked for, but their lower bound is: one order read at the offset
            probe = dataclasses.replace(page, limit=1)
            seen = await self._checked(tenant, self._order_page(tenant, number, probe))
            return Page([], seen.total, page.offset)
        return await self._checked(tenant, self._order_page(tenant, number, page))

    async def _order_page(self, tenant: AfostoTenant, number: str | None, page: PageArgs) -> Page[Order]:
        size = page.limit
        first = page.offset // size + 1
        skip = page.offset % size
        arguments = {"number": number} if number else {}
        answer = await self._call("GET /odr/orders", arguments, page=first, page_size=size)
        records = [o for o in answer.value or () if o is not None]
        more = answer.page is not None and answer.page > first and len(answer.value or ()) >= size
        if skip and more:
            following = await self._call("GET /odr/orders", arguments, page=first + 1, page_size=size)
            records += [o for o in following.value or () if o is not None]
            more = following.page is not None and following.page > first + 1 and len(following.value or ()) >= size
        window = records[skip : skip + size]
        items = [_order(tenant, o) for o in window if o.id]
        if not window:
            # Past the end: only orders read prove they exist (a page holding any proves the pages
            # before it full); the offset is no count (`after` a cursor of 1,000 over 20 orders
            # answered a totalCount of 1,001). An empty page is followed by the one before it,
            # which holds the cursor's own order, so the count does not depend on `first`.
            if not records and first > 1:
                earlier = await self._call("GET /odr/orders", arguments, page=first - 1, page_size=size)
                records = [o for o in earlier.value or () if o is not None]
                first -= 1
            return Page(items, (first - 1) * size + len(records) if records else 0, page.offset)
        total = page.offset + len(items) + (1 if more or len(records) > skip + size else 0)
        return Page(items, total, page.offset)

    async def order_lines(
        self, tenant: AfostoTenant, order_ids: Sequence[str]
    ) -> dict[str, list[OrderLine] | Exception]:
        """`POST /odr/search/orders/items` with `order_ids in [...]`, per chunk of orders."""

        async def search(chunk: list[str]) -> list[tuple[str, OrderLine]]:
            wanted = set(chunk)
            found = await self._pages("POST /odr/search/orders/items", None, _in("order_ids", chunk))
            return [(line.order_id, line) for g in found for line in _lines(tenant, g) if line.order_id in wanted]

        return await self._batch(tenant, order_ids, search)

    async def order_lines_by_sku(
        self, tenant: AfostoTenant, skus: Sequence[str]
    ) -> dict[str, list[OrderLine] | Exception]:
        """`POST /odr/search/orders/items` with `skus in [...]`, per chunk of SKUs."""

        async def search(chunk: list[str]) -> list[tuple[str, OrderLine]]:
            found = await self._pages("POST /odr/search/orders/items", None, _in("skus", chunk))
            return [(line.sku, line) for g in found for line in _lines(tenant, g)]

        return await self._batch(tenant, skus, search)

    async def customers(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, Customer | Exception]:
        """`POST /rel/contacts` with `id in [...]` (RelConstraint spells the list `value`)."""

        async def search(chunk: list[str]) -> list[tuple[str, Customer]]:
            found = await self._pages("POST /rel/contacts", None, _in("id", chunk, "value"))
            return [(c.id, _customer(tenant, c)) for c in found if c.id]

        return self._single(await self._batch(tenant, ids, search))

    async def addresses(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, PostalAddress | Exception]:
        """`POST /rel/search/address` with `ids in [...]`."""

        async def search(chunk: list[str]) -> list[tuple[str, PostalAddress]]:
            found = await self._pages("POST /rel/search/address", None, _in("ids", chunk))
            return [(a.id, _address(tenant, a)) for a in found if a.id]

        return self._single(await self._batch(tenant, ids, search))

    # -- fan-out reads -------------------------------------------------------------------------

    async def hub_status(self, tenant: AfostoTenant, hub_ids: Sequence[str]) -> dict[str, PrintHubStatus | Exception]:
        """`GET /spl/hubs/{id}/status`, one call per hub (Afosto has no batch form), at most the
        concurrency cap at once."""

        async def one(hub_id: str) -> PrintHubStatus:
            found = (await self._call("GET /spl/hubs/{id}/status", {"id": hub_id})).value
            online = isinstance(found, p.SplHubStatus) and found.is_online
            return PrintHubStatus.ONLINE if online else PrintHubStatus.OFFLINE

        try:
            return await self._checked(tenant, each(self._cap(), hub_ids, one))
        except FacadeError as refused:
            return dict.fromkeys(hub_ids, refused)

    async def tasks(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, AfostoTask | Exception]:
        """`GET /mes/tasks/{id}`, one call per task, at most the concurrency cap at once; an
        unknown task is absent."""

        async def one(task_id: str) -> AfostoTask | None:
            try:
                found = (await self._call("GET /mes/tasks/{id}", {"id": task_id})).value
            except NotFound:
                return None
            return _task(tenant, found, task_id) if isinstance(found, p.MesTask) else None

        try:
            answers = await self._checked(tenant, each(self._cap(), ids, one))
        except FacadeError as refused:
            return dict.fromkeys(ids, refused)
        return {k: v for k, v in answers.items() if v is not None}

    # -- writes --------------------------------------------------------------------------------

    async def upsert_prices(self, tenant: AfostoTenant, group_id: str, prices: Sequence[PriceInput]) -> list[Price]:
        """`PUT /cat/groups/{group_id}/prices` (the list), then the prices read back with
        `POST /cat/groups/{group_id}/prices` (`sku in`): each input's price of its `active_at`."""
        await self._check(tenant)
        body = [_new_price(price) for price in prices]
        await self._call("PUT /cat/groups/{id}/prices", {"id": group_id}, body)
        found = await self.prices(tenant, [price.sku for price in prices], group_id, None)
        result: list[Price] = []
        for price in prices:
            read = found.get(price.sku, [])
            if isinstance(read, Exception):
                raise read
            same = [r for r in read if r.active_at == price.active_at] or read
            if same:
                result.append(same[-1])
        return result

    async def set_stock(self, tenant: AfostoTenant, location_id: str, levels: Sequence[StockInput]) -> list[StockLevel]:
        """`PUT /wms/inventory`: the absolute available stock of each SKU at the location."""
        await self._check(tenant)
        body = {"location_id": location_id, "items": [{"sku": s.sku, "quantity": s.available} for s in levels]}
        answer = await self._call("PUT /wms/inventory", None, body, decoded=True)
        return [level for item in _listed(answer.value) if item is not None and (level := _stock_of(tenant, item))]

    async def create_channel(self, tenant: AfostoTenant, channel: ChannelInput) -> SalesChannel:
        """`POST /cat/channels`; a name and a type are required (BadUserInput)."""
        await self._check(tenant)
        if not channel.name or channel.type is None:
            raise BadUserInput("A new sales channel needs a name and a type.", field="input")
        body = {"name": channel.name, "type": channel.type.value, "description": channel.description or ""}
        made = (await self._call("POST /cat/channels", None, body)).value
        if not isinstance(made, p.CatChannel) or not made.id:
            raise UpstreamError(f"The {API} answered the new sales channel without its id.", upstream=API)
        return _channel(tenant, made)

    async def update_channel(self, tenant: AfostoTenant, channel_id: str, channel: ChannelInput) -> SalesChannel:
        """`PUT /cat/channels/{channel_id}` (name, description; Afosto cannot change a channel's
        type: BadUserInput)."""
        await self._check(tenant)
        if channel.type is not None:
            raise BadUserInput("Afosto cannot change a sales channel's type.", field="type")
        body = {k: v for k, v in (("name", channel.name), ("description", channel.description)) if v is not None}
        try:
            made = (await self._call("PUT /cat/channels/{id}", {"id": channel_id}, body)).value
        except NotFound as missing:
            raise _named(missing, "sales channel", "id") from None
        if not isinstance(made, p.CatChannel) or not made.id:
            raise UpstreamError(f"The {API} answered the sales channel without its id.", upstream=API)
        return _channel(tenant, made)

    async def create_order(self, tenant: AfostoTenant, order: OrderInput, idempotency_key: str) -> Order:
        """`POST /odr/orders` with `x-idempotency-key` (the same key answers the same order),
        then its lines with `POST /odr/orders/{id}/items` under the same key, then the order read
        back (`POST /odr/search/orders`) with its total. Before anything is written the lines are
        checked against the SKUs' consumer prices (`_priced`: GET /cat/groups, POST
        /cat/groups/{id}/prices): BadUserInput naming a SKU without one, or for a line's or the
        order's total above MAX_MINOR. Afosto's 409 for the key (used with another input) is
        Conflict."""
        await self._check(tenant)
        quantities = {line.sku: line.quantity for line in order.lines}
        currency, units = await self._priced(tenant, list(quantities))
        order_total(quantities, units, currency, priced=quantities)
        settings: dict[str, Any] = {}
        if order.customer_id:
            settings["contact"] = {"id": order.customer_id}
        if order.shipping_address_id:
            settings["shipping"] = {"address_id": order.shipping_address_id}
        if order.billing_address_id:
            settings["billing"] = {"address_id": order.billing_address_id}
        body = {"channel_id": order.channel_id, "settings": settings}
        try:
            made = (await self._call("POST /odr/orders", {"x-idempotency-key": idempotency_key}, body)).value
            if not isinstance(made, p.OdrOrder) or not made.id:
                raise UpstreamError(f"The {API} answered the new order without its id.", upstream=API)
            if order.lines:
                await self._items(made.id, order.lines, idempotency_key)
        except Conflict as clash:
            raise Conflict(
                KEY_USED_FOR_ANOTHER_ORDER,
                field="idempotencyKey",
                **clash.extensions,
            ) from None
        return await self._order(tenant, made.id)

    async def add_order_lines(
        self, tenant: AfostoTenant, order_id: str, lines: Sequence[LineInput], idempotency_key: str | None = None
    ) -> Order:
        """`POST /odr/orders/{order_id}/items` (with `x-idempotency-key` when a key is given:
        Afosto adds the same lines under a key once, and answers 409, Conflict, for other lines),
        then the order read back. Before anything is written, the order (`POST
        /odr/search/orders`), its lines (`POST /odr/search/orders/items`) and the new SKUs'
        consumer prices (`_priced`) are read, one call each: BadUserInput for a line the addition
        takes above MAX_QUANTITY, a SKU without a price (named), or an order total above
        MAX_MINOR; NotFound for an order Afosto does not have. A keyed addition to a canceled
        order is sent (Afosto answers a key it has as it did, and refuses a new one with 409,
        which the order's state then names). A keyed retry is checked again against the order
        as it is now (only Afosto knows the key was used): refused (BadUserInput) when its lines
        no longer fit the limits or their prices, where local mode answers it."""
        await self._check(tenant)
        order, known = await asyncio.gather(
            self._order(tenant, order_id, field="orderId"), self.order_lines(tenant, [order_id])
        )
        had = known.get(order_id, [])
        if isinstance(had, Exception):
            raise had
        canceled = order.status is OrderStatus.CANCELED
        if canceled and idempotency_key is None:  # Afosto's 409 says only "a conflict": say which
            raise Conflict(CANCELED_TAKES_NO_LINES, field="orderId")
        before = {line.sku: line.quantity for line in had}
        added: dict[str, int] = {}
        for line in lines:
            added[line.sku] = added.get(line.sku, 0) + line.quantity
        if not canceled:  # a canceled order's lines are Afosto's to refuse (above)
            check_quantities({sku: before.get(sku, 0) + quantity for sku, quantity in added.items()})
            currency, units = await self._priced(tenant, list(added))
            order_total(added, units, order.currency or currency, priced=added, base=order.total)
        try:
            await self._items(order_id, lines, idempotency_key)
        except Conflict as clash:
            # An order canceled meanwhile, or a key used for other lines: its state tells which.
            if canceled or (await self._order(tenant, order_id)).status is OrderStatus.CANCELED:
                raise Conflict(CANCELED_TAKES_NO_LINES, field="orderId", **clash.extensions) from None
            if idempotency_key is None:
                raise
            raise Conflict(
                KEY_USED_FOR_OTHER_LINES,
                field="idempotencyKey",
                **clash.extensions,
            ) from None
        return await self._order(tenant, order_id)

    async def _priced(self, tenant: AfostoTenant, skus: Sequence[str]) -> tuple[str, dict[str, int]]:
        """The currency of the tenant's consumer price group (the first including VAT, by name:
        the group an order is totalled in) and each SKU's unit price in effect now there (minor
        units; a SKU without one is absent). No group: EUR and no prices."""
        groups = sorted((g for g in await self._groups(tenant) if g.is_including_vat), key=lambda g: (g.name, g.id))
        if not groups or not skus:
            return (groups[0].currency if groups else "EUR"), {}
        group = groups[0]
        found = await self.prices(tenant, skus, group.id, dt.datetime.now(dt.UTC), group)
        units: dict[str, int] = {}
        for sku, prices in found.items():
            if isinstance(prices, Exception):
                raise prices
            if prices:
                units[sku] = prices[-1].amount
        return group.currency, units

    async def cancel_order(self, tenant: AfostoTenant, order_id: str) -> AfostoTask:
        """`POST /odr/orders/{order_id}/cancel`: Afosto cancels asynchronously and names the task
        (`x-task-id`), read once with `GET /mes/tasks/{id}` (poll it with `tasks`)."""
        await self._check(tenant)
        try:
            answer = await self._call("POST /odr/orders/{id}/cancel", {"id": order_id})
        except NotFound as missing:
            raise _named(missing, "order", "orderId") from None
        if not answer.task_id:
            raise UpstreamError(f"The {API} accepted the cancellation without naming its task.", upstream=API)
        found = (await self._call("GET /mes/tasks/{id}", {"id": answer.task_id})).value
        if not isinstance(found, p.MesTask):
            raise UpstreamError(f"The {API} answered the task with a body facade cannot read.", upstream=API)
        return _task(tenant, found, answer.task_id)

    async def _items(self, order_id: str, lines: Sequence[LineInput], key: str | None) -> None:
        """`POST /odr/orders/{id}/items`, the lines by SKU: Afosto's idempotency compares the body,
        so the same lines in another order are the same call (as local mode's digest)."""
        ordered = sorted(lines, key=lambda line: line.sku)
        body = [{"sku": line.sku, "quantity": line.quantity, "description": line.description} for line in ordered]
        arguments = {"id": order_id, "x-idempotency-key": key}
        await self._call("POST /odr/orders/{id}/items", arguments, body)

    async def _order(self, tenant: AfostoTenant, order_id: str, field: str | None = None) -> Order:
        found = (await self.orders(tenant, [order_id])).get(order_id)
        if isinstance(found, Exception):
            raise found
        if found is None:
            extensions = {"field": field} if field is not None else {}
            raise NotFound(f"The {API} has no such order.", upstream=API, **extensions)
        return found


def _named(missing: NotFound, what: str, field: str) -> NotFound:
    """Afosto's 404 for the record a write names by an argument, as that argument's NotFound
    (local mode names it so)."""
    return NotFound(f"The {API} has no such {what}.", **{**missing.extensions, "field": field})


# -- Afosto's records as commerce records ---------------------------------------------------------


def _channel(tenant: AfostoTenant, c: p.CatChannel) -> SalesChannel:
    return SalesChannel.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": c.id,
            "name": _text(c.name),
            "type": _channel_type(c.type),
            "description": _text(c.description),
            "created_at": _time(c.created_at),
        }
    )


def _group(tenant: AfostoTenant, g: p.CatGroup) -> PriceGroup:
    return PriceGroup.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": g.id,
            "name": _text(g.name),
            "currency": _text(g.currency) or "EUR",
            "is_including_vat": bool(g.is_including_vat),
            "created_at": _time(g.created_at),
        }
    )


def _in_effect(found: list[tuple[str, Price]], at: dt.datetime) -> list[tuple[str, Price]]:
    """Afosto's answer to a search with `active_at` held to its meaning, "the price valid at that
    moment": per SKU the price whose `active_at` is the latest at or before `at`, an undated one
    counting as always valid (the local store's rule), whatever else the answer holds."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    best: dict[str, tuple[dt.datetime | None, Price]] = {}
    for sku, price in found:
        when = price.active_at
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            if when > at:
                continue
        held = best.get(sku)
        if held is None:
            best[sku] = (when, price)
            continue
        # A dated price wins over an undated one, a later start over an earlier; a tie, the later listed.
        since = held[0]
        if since is None if when is None else since is None or when >= since:
            best[sku] = (when, price)
    return [(sku, price) for sku, (_, price) in best.items()]


# The hottest searches (prices, stock levels: a catalog of 100 products reads some 330 records a
# request) are read from the decoded body straight into facade's records: only the fields a
# record holds, each as the generated record's reader reads it (`readers.projection`), without
# the generated record in between, whose other fields (a price's `created_at`, a level's lot
# and expiry) nothing reads.
_PRICE = readers.projection(p.CatPrice, ("id", "sku", "amount", "original_amount", "price_group_id", "active_at"))
_VAT_RATE = readers.projection(p.CatVat, ("rate",))
_COUNTS = ("available", "reserved", "claimed", "transit", "missing", "backordered")
_STOCK = readers.projection(p.WmsStock, ("location_id", "sku", *_COUNTS, "total"))


def _listed(value: Any) -> list[Any]:
    """A decoded body that must be a list (null: empty)."""
    if value is None:
        return []
    if type(value) is not list:
        raise readers.refused("a list expected", value)
    return value


def _rate(vat: Any) -> str | None:
    """The rate of a decoded CatPrice's first VAT class that names one (CatVat.rate, an integer
    percentage) as text, "21.00"; None without one."""
    for item in _listed(vat):
        if item is not None and (rate := _VAT_RATE(item)["rate"]) is not None:
            return f"{rate}.00"
    return None


def _first_rate(vat: Any) -> str | None:
    """`_rate`, without its calls for the usual list whose first class is an object holding an
    integer rate (every price of a list has one)."""
    if type(vat) is list and vat and type(first := vat[0]) is dict:
        rate = first.get("rate")
        if type(rate) is int and 0 <= rate < readers.INT32:
            return f"{rate}.00"
    return _rate(vat)


def _price_of(tenant: AfostoTenant, item: Any, group_id: str, group: PriceGroup | None) -> Price | None:
    """A decoded CatPrice as a Price (None without a SKU or an id); its currency and VAT
    inclusion are its group's. The projection's dict becomes the record's own (as `_stock_of`'s):
    no second dict per price."""
    values = _PRICE(item)
    if not values["sku"] or not values["id"]:
        return None
    if not values["price_group_id"]:
        values["price_group_id"] = group_id
    if not values["amount"]:
        values["amount"] = 0
    values["tenant_id"] = tenant.tenant_id
    values["currency"] = group.currency if group is not None else "EUR"
    values["vat_rate"] = _first_rate(item.get("vat"))
    values["is_including_vat"] = group.is_including_vat if group is not None else True
    return Price.trusted(values)


def _new_price(price: PriceInput) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": price.sku, "amount": price.amount}
    if price.original_amount is not None:
        body["original_amount"] = price.original_amount
    if price.active_at is not None:
        body["active_at"] = price.active_at.isoformat()
    return body


def _location(tenant: AfostoTenant, loc: p.WmsLocation) -> Location:
    return Location.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": loc.id,
            "name": _text(loc.name),
            "country_code": _text(loc.country_iso),
            "address_id": loc.address_id or None,
            "is_tracking_inventory": loc.is_tracking_inventory is not False,
            "created_at": _time(loc.created_at),
        }
    )


def _stock_of(tenant: AfostoTenant, item: Any) -> StockLevel | None:
    """A decoded WmsStock as a StockLevel (None without a location or a SKU); a count it lacks
    is 0, a total it lacks their sum."""
    values = _STOCK(item)
    if not values["location_id"] or not values["sku"]:
        return None
    for name in _COUNTS:
        if values[name] is None:
            values[name] = 0
    if values["total"] is None:
        values["total"] = sum(values[name] for name in _COUNTS)
    values["tenant_id"] = tenant.tenant_id
    return StockLevel.trusted(values)


def _user(tenant: AfostoTenant, u: p.IamUser) -> AfostoUser:
    return AfostoUser.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": u.id,
            "email": _text(u.email),
            "first_name": _text(u.first_name),
            "last_name": _text(u.last_name),
            "roles": [r for r in u.roles or () if r],
            "is_primary": bool(u.is_primary),
            "created_at": _time(u.created_at),
        }
    )


def _plan(tenant: AfostoTenant, s: p.IamSubscription) -> AfostoPlan:
    return AfostoPlan.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": s.id,
            "code": _text(s.code),
            "is_renewing": bool(s.is_renewing),
            "start_at": s.start_at,
            "end_at": s.end_at,
        }
    )


def _hub(tenant: AfostoTenant, h: p.SplHub) -> PrintHub:
    status = getattr(h.status, "value", h.status)
    return PrintHub.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": h.id,
            "name": _text(h.name),
            "description": _text(h.description),
            "status": PrintHubStatus.ONLINE if status == "online" else PrintHubStatus.OFFLINE,
            "status_updated_at": h.status_updated_at,
            "created_at": _time(h.created_at),
        }
    )


def _printer(tenant: AfostoTenant, r: p.SplPrinter) -> Printer:
    encoding = getattr(r.default_encoding, "value", r.default_encoding)
    return Printer.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": r.id,
            "hub_id": _text(r.hub_id),
            "name": _text(r.name),
            "default_encoding": encoding or "escpos",
            "created_at": _time(r.created_at),
        }
    )


def _order(tenant: AfostoTenant, o: p.OdrOrder) -> Order:
    state = o.state
    if state is not None and state.is_canceled:
        status = OrderStatus.CANCELED
    elif state is not None and state.is_confirmed:
        status = OrderStatus.CONFIRMED
    else:
        status = OrderStatus.OPEN
    settings = o.settings
    contact = settings.contact if settings is not None else None
    shipping = settings.shipping if settings is not None else None
    billing = settings.billing if settings is not None else None
    calculation = next((c for c in o.calculations or () if c is not None), None)
    return Order.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": o.id,
            "number": _text(o.number),
            "status": status,
            "channel_id": o.channel_id or None,
            "customer_id": (contact.id if contact is not None else None) or None,
            "shipping_address_id": (shipping.address_id if shipping is not None else None) or None,
            "billing_address_id": (billing.address_id if billing is not None else None) or None,
            "currency": (calculation.currency if calculation is not None else None) or "EUR",
            "total": (calculation.amount if calculation is not None else None) or 0,
            "created_at": _time(o.created_at),
            "canceled_at": o.last_canceled_at,
        }
    )


def _lines(tenant: AfostoTenant, g: p.OdrGroup) -> list[OrderLine]:
    """An `OdrGroup` (one SKU's items) as a line of each order it references."""
    if not g.sku:
        return []
    references = g.references.orders if g.references is not None else None
    order_ids = list(dict.fromkeys(r.id for r in references or () if r is not None and r.id))
    return [
        OrderLine.trusted(
            {
                "tenant_id": tenant.tenant_id,
                "order_id": order_id,
                "sku": g.sku,
                "description": _text(g.description),
                "quantity": g.quantity or 0,
            }
        )
        for order_id in order_ids
    ]


def _customer(tenant: AfostoTenant, c: p.RelContact) -> Customer:
    return Customer.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": c.id,
            "email": _text(c.email),
            "given_name": _text(c.given_name),
            "family_name": _text(c.family_name),
            "is_guest": bool(c.is_guest),
            "created_at": _time(c.created_at),
        }
    )


def _address(tenant: AfostoTenant, a: p.RelAddress) -> PostalAddress:
    names = (
        "country_code",
        "administrative_area",
        "locality",
        "postal_code",
        "address_line_1",
        "address_line_2",
        "organisation",
        "given_name",
        "family_name",
    )
    return PostalAddress.trusted(
        {"tenant_id": tenant.tenant_id, "id": a.id, **{name: _text(getattr(a, name)) for name in names}}
    )


def _task(tenant: AfostoTenant, t: p.MesTask, task_id: str) -> AfostoTask:
    return AfostoTask.trusted(
        {
            "tenant_id": tenant.tenant_id,
            "id": t.id or task_id,
            "name": _text(t.name),
            "progress": t.progress or 0,
            "result": _text(t.result),
            "started_at": t.started_at,
            "completed_at": t.completed_at,
        }
    )
