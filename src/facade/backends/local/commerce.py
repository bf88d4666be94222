"""Afosto's commerce data in the local store (local mode's Afosto, `LocalCommerce`) and the join
keys between facade's records and Afosto's (`LocalLinks`, both modes).

Every read is one SQL statement whatever the number of keys: a batch is an expanding IN (one
cached statement for any batch size, see `base.in_keys`); a load-all read takes every tenant of
the request in one IN. Rows are the store's own (the seed's and the writes' here), so records are
built with `construct` (`Record.trusted`); the Afosto tenant column becomes the facade tenant
(`AfostoTenant.tenant_id`) the record was read for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Select, Table, bindparam, exists, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Repository, construct, in_keys, page_flat, reading, utcnow
from facade.commerce import (
    CANCELED_TAKES_NO_LINES,
    IDEMPOTENCY_KEY_LENGTH,
    KEY_USED_FOR_ANOTHER_ORDER,
    KEY_USED_FOR_OTHER_LINES,
    MAX_MINOR,
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
    checked_key,
    order_total,
)
from facade.errors import BadUserInput, Conflict, NotFound
from facade.models import Page, PageArgs, Record, SortDirection

R = TypeVar("R", bound=Record)

_TENANT = "afosto_tenant_id"
_STOCK_COUNTS = ("available", "reserved", "claimed", "transit", "missing", "backordered")


def _columns(table: Table, *dropped: str) -> list[Any]:
    return [c for c in table.c if c.name not in dropped]


def _per_tenant(table: Table, *order: str) -> Select[Any]:
    """Every row of the tenants in `keys` (Afosto tenant ids), in a stable order."""
    return (
        select(table)
        .where(in_keys(table.c.afosto_tenant_id))
        .order_by(table.c.afosto_tenant_id, *(table.c[name] for name in order))
    )


def _select_by_id(table: Table) -> Select[Any]:
    """The rows of one Afosto tenant (`tenant`) with the ids in `keys`."""
    return select(table).where(table.c.afosto_tenant_id == bindparam("tenant"), in_keys(table.c.id))


def _recorded(build: Callable[[dict[str, Any]], R]) -> Callable[[dict[str, Any], str], R]:
    """`build` for a row of an Afosto table read for the facade tenant `tenant_id`."""

    def record(row: dict[str, Any], tenant_id: str) -> R:
        del row[_TENANT]
        row["tenant_id"] = tenant_id
        return build(row)

    return record


def _with_enum(
    field: str, kind: Callable[[Any], Any], build: Callable[[dict[str, Any]], R]
) -> Callable[[dict[str, Any]], R]:
    def converted(row: dict[str, Any]) -> R:
        row[field] = kind(row[field])
        return build(row)

    return converted


def _stock(row: dict[str, Any]) -> StockLevel:
    row["total"] = sum(row[name] for name in _STOCK_COUNTS)
    return _stock_level(row)


_stock_level = construct(StockLevel)
build_channel = _recorded(_with_enum("type", SalesChannelType, construct(SalesChannel)))
build_location = _recorded(construct(Location))
build_price_group = _recorded(construct(PriceGroup))
build_user = _recorded(construct(AfostoUser))
build_plan = _recorded(construct(AfostoPlan))
build_hub = _recorded(_with_enum("status", PrintHubStatus, construct(PrintHub)))
build_printer = _recorded(construct(Printer))
build_price = _recorded(construct(Price))
build_stock = _recorded(_stock)
build_order = _recorded(_with_enum("status", OrderStatus, construct(Order)))
build_line = _recorded(construct(OrderLine))
build_customer = _recorded(construct(Customer))
build_address = _recorded(construct(PostalAddress))
build_task = _recorded(construct(AfostoTask))

_CHANNELS = _per_tenant(t.afosto_channels, "created_at", "id")
_LOCATIONS = _per_tenant(t.afosto_locations, "created_at", "id")
_PRICE_GROUPS = _per_tenant(t.afosto_price_groups, "created_at", "id")
_USERS = _per_tenant(t.afosto_users, "created_at", "id")
_PLANS = _per_tenant(t.afosto_plans, "start_at", "id")
_HUBS = _per_tenant(t.afosto_print_hubs, "created_at", "id")
_PRINTERS = _per_tenant(t.afosto_printers, "hub_id", "created_at", "id")

_p, _g = t.afosto_prices, t.afosto_price_groups
_PRICE_COLUMNS = [
    *_columns(_p, "created_at"),
    _g.c.currency,
    _g.c.is_including_vat,
]
_PRICES = (
    select(*_PRICE_COLUMNS)
    .join(_g, _g.c.id == _p.c.price_group_id)
    .where(_p.c.afosto_tenant_id == bindparam("tenant"), _p.c.price_group_id == bindparam("group"), in_keys(_p.c.sku))
    .order_by(_p.c.sku, _p.c.active_at.is_not(None), _p.c.active_at, _p.c.id)
)
# Only the prices in effect at `at`: the latest `active_at` not after it (undated prices count
# as in effect from the beginning); narrowed to one per SKU after the read.
_PRICES_AT = _PRICES.where((_p.c.active_at.is_(None)) | (_p.c.active_at <= bindparam("at", type_=t.Stamp())))

_s = t.afosto_stock
_STOCK_BY_LOCATION = (
    select(_s)
    .where(_s.c.afosto_tenant_id == bindparam("tenant"), in_keys(_s.c.location_id))
    .order_by(_s.c.location_id, _s.c.sku)
)
_STOCK_BY_SKU = (
    select(_s)
    .where(_s.c.afosto_tenant_id == bindparam("tenant"), in_keys(_s.c.sku))
    .order_by(_s.c.sku, _s.c.location_id)
)

_o, _l, _lk = t.afosto_orders, t.afosto_order_lines, t.afosto_order_line_keys
_ORDER_COLUMNS = _columns(_o, "idempotency_key", "input_digest")
_ORDERS = select(*_ORDER_COLUMNS).where(_o.c.afosto_tenant_id == bindparam("tenant"), in_keys(_o.c.id))
# Afosto's order list (`GET /odr/orders`, as the sandbox answers it) is newest first: by
# created_at, then id, both descending. Its one order ("source") is read as the reverse of this
# listing's ascending one (`_source_order`), so the list's ASC is newest first and DESC oldest.
ORDER_SORTABLE: dict[str, Any] = {"source": _o.c.created_at}
_ORDER_LIST = Listing(
    select(*_ORDER_COLUMNS).where(_o.c.afosto_tenant_id == bindparam("tenant")), ORDER_SORTABLE, _o.c.id
)
_ORDER_LIST_BY_NUMBER = Listing(
    select(*_ORDER_COLUMNS).where(_o.c.afosto_tenant_id == bindparam("tenant"), _o.c.number == bindparam("number")),
    ORDER_SORTABLE,
    _o.c.id,
)
_LINES = (
    select(_l)
    .where(_l.c.afosto_tenant_id == bindparam("tenant"), in_keys(_l.c.order_id))
    .order_by(_l.c.order_id, _l.c.sku)
)
_LINES_BY_SKU = (
    select(_l)
    .join(_o, _o.c.id == _l.c.order_id)
    .where(_l.c.afosto_tenant_id == bindparam("tenant"), in_keys(_l.c.sku))
    .order_by(_l.c.sku, _o.c.created_at, _l.c.order_id)
)
_CUSTOMERS = _select_by_id(t.afosto_customers)
_ADDRESSES = _select_by_id(t.afosto_addresses)
_TASKS = _select_by_id(t.afosto_tasks)
_HUB_STATUS = select(t.afosto_print_hubs.c.id, t.afosto_print_hubs.c.status).where(
    t.afosto_print_hubs.c.afosto_tenant_id == bindparam("tenant"), in_keys(t.afosto_print_hubs.c.id)
)


def _grouped(keys: Iterable[str], rows: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Every key with its values (an empty list for a key with none), in the rows' order."""
    result: dict[str, list[Any]] = {key: [] for key in keys}
    for key, value in rows:
        result.setdefault(key, []).append(value)
    return result


def _in_effect(prices: list[Price]) -> list[Price]:
    """The one price in effect of a SKU's candidates (undated first, then by `active_at`)."""
    return prices[-1:]


def _source_order(page: PageArgs) -> PageArgs:
    """`page` over `ORDER_SORTABLE`'s one key, its direction flipped: Afosto's order (ASC) is the
    listing's created_at-then-id descending."""
    flipped = SortDirection.ASC if page.direction is SortDirection.DESC else SortDirection.DESC
    return PageArgs(limit=page.limit, offset=page.offset, sort="source", direction=flipped)


# ---------------------------------------------------------------------------------------------
# Writes

ID_LENGTH = 64  # the Afosto id and SKU columns
# afosto_orders.idempotency_key holds an order's key (unique per tenant), input_digest the first
# DIGEST_LENGTH hex digits of the SHA-256 of the order input it created (`_fingerprint`), so the
# same key with another input is told apart (CONFLICT) from a retry (the same order).
DIGEST_LENGTH = 32
# The longest key, as on every road to it (IDEMPOTENCY_KEY_LENGTH). It must stay within what
# revision 0002's column held beside a newline and a digest (200 - 1 - DIGEST_LENGTH, 167), so
# that revision 0003's downgrade, which joins them again (`<key>\n<digest>`), fits every key.
KEY_LENGTH = IDEMPOTENCY_KEY_LENGTH
NUMBER_ATTEMPTS = 5  # order numbers taken by a concurrent create: try the next one


def new_id() -> str:
    return str(uuid.uuid4())


LINKS_SCOPE = "facade-links"  # the join keys' writes: one scope, they are few and small


def afosto_scope(tenant: AfostoTenant) -> str:
    """The lock scope of an Afosto tenant's commerce writes."""
    return f"afosto-tenant:{tenant.afosto_tenant_id}"


# A transaction-level advisory lock on a 64-bit hash of the scope: held until commit or rollback.
_SCOPE_LOCK = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("scope"), 0)))


@contextlib.asynccontextmanager
async def writing(engine: AsyncEngine, scope: str) -> AsyncIterator[AsyncConnection]:
    """A write transaction serialised with every other write of `scope` (an Afosto tenant's
    commerce data, `afosto_scope`, or the join keys, `LINKS_SCOPE`), so a writer reads what the
    one before it committed: a read-then-insert makes one row, not two, and a read-then-update
    adds up. On SQLite it takes the database's write lock up front (BEGIN IMMEDIATE; a concurrent
    writer waits, busy timeout), which serialises every scope at once; on PostgreSQL it takes a
    transaction-level advisory lock on the scope (`pg_advisory_xact_lock`), so other scopes go on
    in parallel."""
    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            await conn.execute(_SCOPE_LOCK, {"scope": scope})
        yield conn


def _text(value: str, field: str, limit: int = ID_LENGTH) -> str:
    """A required short text (an id, a SKU, a name): BadUserInput when blank or too long."""
    value = value.strip()
    if not value:
        raise BadUserInput(f"{field} must not be blank", field=field)
    if len(value) > limit:
        raise BadUserInput(f"{field} must be at most {limit} characters", field=field)
    return value


def _not_negative(value: int | None, field: str) -> None:
    if value is not None and value < 0:
        raise BadUserInput(f"{field} must not be negative", field=field)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _merged_lines(lines: Sequence[LineInput]) -> dict[str, LineInput]:
    """The lines by SKU, quantities of a repeated SKU added up; BadUserInput for a blank SKU, a
    quantity below 1, or one above MAX_QUANTITY once added up."""
    merged: dict[str, LineInput] = {}
    for line in lines:
        sku = _text(line.sku, "sku")
        if line.quantity < 1:
            raise BadUserInput("quantity must be at least 1", field="quantity")
        known = merged.get(sku)
        quantity = line.quantity + (known.quantity if known else 0)
        merged[sku] = LineInput(sku, quantity, line.description or (known.description if known else ""))
    check_quantities({sku: line.quantity for sku, line in merged.items()})
    return merged


def _at_most_max(value: int | None, field: str) -> None:
    """BadUserInput for an amount above MAX_MINOR: it would not read back as GraphQL's Int."""
    if value is not None and value > MAX_MINOR:
        raise BadUserInput(f"{field} must be at most {MAX_MINOR} minor units", field=field)


def _fingerprint(order: OrderInput, lines: dict[str, LineInput]) -> str:
    """The digest of an order input (its channel, customer, addresses and merged lines) kept with
    its idempotency key."""
    body = [
        order.channel_id,
        order.customer_id,
        order.shipping_address_id,
        order.billing_address_id,
        sorted([sku, line.quantity, line.description] for sku, line in lines.items()),
    ]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()[:DIGEST_LENGTH]


def _lines_digest(lines: Sequence[LineInput]) -> str:
    """The digest of an addition's lines, kept with its key: by SKU, as facade sends them to
    Afosto (whose idempotency compares the body), so the same lines in another order are the
    same addition in both modes."""
    body = sorted([line.sku, line.quantity, line.description] for line in lines)
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()[:DIGEST_LENGTH]


def _header(row: Mapping[Any, Any]) -> OrderInput:
    """An order row's input without lines: what Afosto's POST /odr/orders takes."""
    return OrderInput(
        channel_id=row["channel_id"],
        customer_id=row["customer_id"],
        shipping_address_id=row["shipping_address_id"],
        billing_address_id=row["billing_address_id"],
    )


async def _one(conn: AsyncConnection, stmt: Select[Any], params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    row = (await conn.execute(stmt, params)).mappings().first()
    return dict(row) if row is not None else None


async def _exists(conn: AsyncConnection, table: Table, *where: Any) -> bool:
    return bool((await conn.execute(select(exists().where(*where)))).scalar())


def _tenant_row(table: Table, afosto_tenant_id: str, row_id: str) -> Select[Any]:
    return select(table).where(table.c.afosto_tenant_id == afosto_tenant_id, table.c.id == row_id)


async def _unit_prices(conn: AsyncConnection, afosto_tenant_id: str, skus: Iterable[str]) -> tuple[str, dict[str, int]]:
    """The currency of the tenant's price group that includes VAT (the consumer prices an order
    is totalled in; the first such group by name) and each SKU's price in effect now there."""
    group = await _one(
        conn,
        select(_g.c.id, _g.c.currency)
        .where(_g.c.afosto_tenant_id == afosto_tenant_id, _g.c.is_including_vat.is_(True))
        .order_by(_g.c.name, _g.c.id)
        .limit(1),
    )
    if group is None:
        return "EUR", {}
    now = utcnow()
    rows = (
        await conn.execute(
            select(_p.c.sku, _p.c.amount)
            .where(
                _p.c.price_group_id == group["id"],
                _p.c.sku.in_(list(skus)),
                _p.c.active_at.is_(None) | (_p.c.active_at <= now),
            )
            .order_by(_p.c.sku, _p.c.active_at.is_not(None), _p.c.active_at)
        )
    ).all()
    return group["currency"], {sku: amount for sku, amount in rows}  # the latest in effect wins


# The order of a key, with the digest of the input it was created from.
_ORDER_BY_KEY = select(*_ORDER_COLUMNS, _o.c.input_digest).where(
    _o.c.afosto_tenant_id == bindparam("tenant"), _o.c.idempotency_key == bindparam("key")
)


class LocalCommerce(Repository):
    """`CommerceBackend` over the local store's Afosto tables (local mode)."""

    async def _load_all(
        self, stmt: Select[Any], tenants: Sequence[AfostoTenant], build: Callable[[dict[str, Any], str], R]
    ) -> dict[AfostoTenant, list[R]]:
        result: dict[AfostoTenant, list[R]] = {tenant: [] for tenant in tenants}
        if not tenants:
            return result
        # An Afosto tenant may be read for more than one facade tenant only through a stale
        # request; each facade tenant gets its own records (their tenant_id differs).
        readers: dict[str, list[AfostoTenant]] = {}
        for tenant in tenants:
            readers.setdefault(tenant.afosto_tenant_id, []).append(tenant)
        for row in await self.rows(stmt, {"keys": list(readers)}):
            for tenant in readers[row[_TENANT]]:
                result[tenant].append(build(dict(row), tenant.tenant_id))
        return result

    async def _keyed(self, stmt: Select[Any], tenant: AfostoTenant, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of one tenant's batch read (`tenant` and `keys` bound), none for no keys."""
        if not keys:
            return []
        return await self.rows(stmt, {"tenant": tenant.afosto_tenant_id, "keys": list(set(keys))})

    async def _lists(
        self,
        stmt: Select[Any],
        tenant: AfostoTenant,
        keys: Sequence[str],
        column: str,
        build: Callable[[dict[str, Any], str], R],
    ) -> dict[str, list[R]]:
        """Each key's records (rows whose `column` is the key), an empty list for a key with none."""
        rows = await self._keyed(stmt, tenant, keys)
        return _grouped(keys, ((row[column], build(row, tenant.tenant_id)) for row in rows))

    async def _by_id(
        self, stmt: Select[Any], tenant: AfostoTenant, ids: Sequence[str], build: Callable[[dict[str, Any], str], R]
    ) -> dict[str, R]:
        """Records by id; an unknown id (or another tenant's) is absent."""
        return {row["id"]: build(row, tenant.tenant_id) for row in await self._keyed(stmt, tenant, ids)}

    async def channels(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[SalesChannel]]:
        """Every sales channel of each tenant (CatChannel, `GET /cat/channels`), oldest first."""
        return await self._load_all(_CHANNELS, tenants, build_channel)

    async def locations(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[Location]]:
        """Every stock location of each tenant (WmsLocation, `GET /wms/locations`), oldest first."""
        return await self._load_all(_LOCATIONS, tenants, build_location)

    async def price_groups(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[PriceGroup]]:
        """Every price group of each tenant (CatGroup, `GET /cat/groups`), oldest first."""
        return await self._load_all(_PRICE_GROUPS, tenants, build_price_group)

    async def users(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[AfostoUser]]:
        """Every user of each Afosto tenant (IamUser, `GET /iam/users`), oldest first."""
        return await self._load_all(_USERS, tenants, build_user)

    async def plans(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[AfostoPlan]]:
        """Each tenant's plans with Afosto (IamSubscription, `GET /iam/subscriptions`)."""
        return await self._load_all(_PLANS, tenants, build_plan)

    async def print_hubs(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[PrintHub]]:
        """Every print hub of each tenant (SplHub, `GET /spl/hubs`), with its last known status."""
        return await self._load_all(_HUBS, tenants, build_hub)

    async def printers(self, tenants: Sequence[AfostoTenant]) -> dict[AfostoTenant, list[Printer]]:
        """Every printer of each tenant (SplPrinter, `GET /spl/printers`), by hub."""
        return await self._load_all(_PRINTERS, tenants, build_printer)

    async def prices(
        self,
        tenant: AfostoTenant,
        skus: Sequence[str],
        group_id: str,
        active_at: dt.datetime | None,
        group: PriceGroup | None = None,
    ) -> dict[str, list[Price]]:
        """Each SKU's prices in the group (CatPrice, `POST /cat/groups/{id}/prices`, sku `in`):
        all of them, undated first then by `active_at`; with `active_at`, only the one in effect
        then (the latest dated at or before it, else the undated one). Amounts in minor units."""
        if not skus:
            return {}
        params: dict[str, Any] = {"tenant": tenant.afosto_tenant_id, "group": group_id, "keys": list(set(skus))}
        stmt = _PRICES
        if active_at is not None:
            stmt, params["at"] = _PRICES_AT, active_at
        rows = await self.rows(stmt, params)
        result = _grouped(skus, ((row["sku"], build_price(row, tenant.tenant_id)) for row in rows))
        if active_at is not None:
            result = {sku: _in_effect(prices) for sku, prices in result.items()}
        return result

    async def stock_by_location(self, tenant: AfostoTenant, location_ids: Sequence[str]) -> dict[str, list[StockLevel]]:
        """The stock levels at each location (WmsStock, `POST /wms/inventory`, location_id `in`), by SKU."""
        return await self._lists(_STOCK_BY_LOCATION, tenant, location_ids, "location_id", build_stock)

    async def stock_by_sku(self, tenant: AfostoTenant, skus: Sequence[str]) -> dict[str, list[StockLevel]]:
        """Each SKU's stock levels (WmsStock, `POST /wms/inventory`, sku `in`), by location."""
        return await self._lists(_STOCK_BY_SKU, tenant, skus, "sku", build_stock)

    async def orders(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, Order]:
        """Orders by id (OdrOrder, `POST /odr/search/orders`, id `in`); unknown ids are absent."""
        return await self._by_id(_ORDERS, tenant, ids, build_order)

    async def order_page(self, tenant: AfostoTenant, number: str | None, page: PageArgs) -> Page[Order]:
        """A page of the tenant's orders (`GET /odr/orders`, x-page/x-page-size), or of those with
        `number` (one at most): newest first (created_at, then id, descending), as Afosto lists
        them; DESC is the reverse (oldest first). The list has that one order: the sort key is
        not read (the graph's CommerceSort has only SOURCE, whose default key is "id")."""
        listing = _ORDER_LIST if number is None else _ORDER_LIST_BY_NUMBER
        params: dict[str, Any] = {"tenant": tenant.afosto_tenant_id}
        if number is not None:
            params["number"] = number
        async with reading(self.engine) as conn:
            return await page_flat(
                conn, listing, _source_order(page), lambda row: build_order(row, tenant.tenant_id), params
            )

    async def order_lines(self, tenant: AfostoTenant, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
        """Each order's lines (OdrGroup, `POST /odr/search/orders/items`, order id `in`), by SKU."""
        return await self._lists(_LINES, tenant, order_ids, "order_id", build_line)

    async def order_lines_by_sku(self, tenant: AfostoTenant, skus: Sequence[str]) -> dict[str, list[OrderLine]]:
        """Each SKU's order lines across the tenant's orders (sku `in`), oldest order first."""
        return await self._lists(_LINES_BY_SKU, tenant, skus, "sku", build_line)

    async def customers(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, Customer]:
        """Customers by id (RelContact, `POST /rel/contacts`, id `in`); unknown ids are absent."""
        return await self._by_id(_CUSTOMERS, tenant, ids, build_customer)

    async def addresses(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, PostalAddress]:
        """Addresses by id (RelAddress, `POST /rel/search/address`, id `in`); unknown ids are absent."""
        return await self._by_id(_ADDRESSES, tenant, ids, build_address)

    async def hub_status(self, tenant: AfostoTenant, hub_ids: Sequence[str]) -> dict[str, PrintHubStatus]:
        """Each hub's status (`GET /spl/hubs/{id}/status` upstream, one call per hub; here the
        stored status, one statement for all); unknown hubs are absent."""
        if not hub_ids:
            return {}
        rows = await self.rows(_HUB_STATUS, {"tenant": tenant.afosto_tenant_id, "keys": list(set(hub_ids))})
        return {row["id"]: PrintHubStatus(row["status"]) for row in rows}

    async def tasks(self, tenant: AfostoTenant, ids: Sequence[str]) -> dict[str, AfostoTask]:
        """Asynchronous tasks by id (MesTask, `GET /mes/tasks/{id}`); unknown ids are absent."""
        return await self._by_id(_TASKS, tenant, ids, build_task)

    async def _order(self, conn: AsyncConnection, tenant: AfostoTenant, order_id: str) -> Order:
        row = await _one(
            conn, select(*_ORDER_COLUMNS).where(_o.c.afosto_tenant_id == tenant.afosto_tenant_id, _o.c.id == order_id)
        )
        if row is None:
            raise NotFound("No order with this id in the tenant.", field="orderId")
        return build_order(row, tenant.tenant_id)

    async def upsert_prices(self, tenant: AfostoTenant, group_id: str, prices: Sequence[PriceInput]) -> list[Price]:
        """Sets SKUs' prices in a group (`PUT /cat/groups/{id}/prices`): a price of the same
        (group, SKU, `active_at`) is updated, any other inserted; answers them in input order.
        Amounts in minor units. NotFound for a group not in the tenant; BadUserInput for a blank
        SKU, or an amount (or original amount) that is negative or above MAX_MINOR (2147483647)."""
        for price in prices:
            _text(price.sku, "sku")
            _not_negative(price.amount, "amount")
            _not_negative(price.original_amount, "originalAmount")
            _at_most_max(price.amount, "amount")
            _at_most_max(price.original_amount, "originalAmount")
        async with writing(self.engine, afosto_scope(tenant)) as conn:
            group = await _one(conn, _tenant_row(_g, tenant.afosto_tenant_id, group_id))
            if group is None:
                raise NotFound("No price group with this id in the tenant.", field="priceGroupId")
            skus = list({price.sku.strip() for price in prices})
            known: dict[tuple[str, dt.datetime | None], dict[str, Any]] = {
                (row["sku"], _utc(row["active_at"])): dict(row)
                for row in (
                    await conn.execute(select(_p).where(_p.c.price_group_id == group_id, _p.c.sku.in_(skus)))
                ).mappings()
            }
            now = utcnow()
            written: list[dict[str, Any]] = []
            for price in prices:
                sku, active_at = price.sku.strip(), _utc(price.active_at)
                values = {"amount": price.amount, "original_amount": price.original_amount}
                found = known.get((sku, active_at))
                if found is None:
                    row: dict[str, Any] = {
                        "id": new_id(),
                        "afosto_tenant_id": tenant.afosto_tenant_id,
                        "price_group_id": group_id,
                        "sku": sku,
                        "vat_rate": None,
                        "active_at": active_at,
                        "created_at": now,
                        **values,
                    }
                    await conn.execute(_p.insert().values(row))
                else:
                    await conn.execute(_p.update().where(_p.c.id == found["id"]).values(values))
                    row = {**found, **values}
                known[(sku, active_at)] = row
                written.append(row)
        return [
            build_price(
                {
                    **{k: v for k, v in row.items() if k != "created_at"},
                    "currency": group["currency"],
                    "is_including_vat": group["is_including_vat"],
                },
                tenant.tenant_id,
            )
            for row in written
        ]

    async def set_stock(self, tenant: AfostoTenant, location_id: str, levels: Sequence[StockInput]) -> list[StockLevel]:
        """Sets the available units of SKUs at a location (`PUT /wms/inventory`); the other
        counts of a known level stay. Answers the levels as they now are, in input order.
        NotFound for a location not in the tenant; BadUserInput for a blank SKU or a negative count."""
        for level in levels:
            _text(level.sku, "sku")
            _not_negative(level.available, "available")
        async with writing(self.engine, afosto_scope(tenant)) as conn:
            if not await _exists(
                conn,
                t.afosto_locations,
                t.afosto_locations.c.afosto_tenant_id == tenant.afosto_tenant_id,
                t.afosto_locations.c.id == location_id,
            ):
                raise NotFound("No location with this id in the tenant.", field="locationId")
            at = (_s.c.afosto_tenant_id == tenant.afosto_tenant_id) & (_s.c.location_id == location_id)
            skus = list(dict.fromkeys(level.sku.strip() for level in levels))
            known = set((await conn.execute(select(_s.c.sku).where(at, _s.c.sku.in_(skus)))).scalars())
            for level in levels:
                sku = level.sku.strip()
                if sku in known:
                    await conn.execute(_s.update().where(at, _s.c.sku == sku).values(available=level.available))
                else:
                    await conn.execute(
                        _s.insert().values(
                            {name: 0 for name in _STOCK_COUNTS}
                            | {
                                "afosto_tenant_id": tenant.afosto_tenant_id,
                                "location_id": location_id,
                                "sku": sku,
                                "available": level.available,
                            }
                        )
                    )
                    known.add(sku)
            rows = {
                row["sku"]: dict(row)
                for row in (await conn.execute(select(_s).where(at, _s.c.sku.in_(skus)))).mappings()
            }
        return [build_stock(rows[sku], tenant.tenant_id) for sku in skus]

    async def create_channel(self, tenant: AfostoTenant, channel: ChannelInput) -> SalesChannel:
        """Creates a sales channel (`POST /cat/channels`). BadUserInput without a name or a type."""
        if channel.name is None:
            raise BadUserInput("name is required", field="name")
        if channel.type is None:
            raise BadUserInput("type is required", field="type")
        row = {
            "id": new_id(),
            "afosto_tenant_id": tenant.afosto_tenant_id,
            "name": _text(channel.name, "name", 200),
            "type": channel.type.value,
            "description": channel.description or "",
            "created_at": utcnow(),
        }
        async with writing(self.engine, afosto_scope(tenant)) as conn:
            await conn.execute(t.afosto_channels.insert().values(row))
        return build_channel(row, tenant.tenant_id)

    async def update_channel(self, tenant: AfostoTenant, channel_id: str, channel: ChannelInput) -> SalesChannel:
        """Changes a sales channel's name and description (`PUT /cat/channels/{id}`). NotFound
        for a channel not in the tenant; BadUserInput for a blank name, and for any `type` (Afosto
        cannot change a channel's type, and local mode refuses what Afosto refuses)."""
        if channel.type is not None:
            raise BadUserInput("Afosto cannot change a sales channel's type.", field="type")
        values: dict[str, Any] = {}
        if channel.name is not None:
            values["name"] = _text(channel.name, "name", 200)
        if channel.description is not None:
            values["description"] = channel.description
        async with writing(self.engine, afosto_scope(tenant)) as conn:
            row = await _one(conn, _tenant_row(t.afosto_channels, tenant.afosto_tenant_id, channel_id))
            if row is None:
                raise NotFound("No sales channel with this id in the tenant.", field="id")
            if values:
                await conn.execute(
                    t.afosto_channels.update().where(t.afosto_channels.c.id == channel_id).values(values)
                )
        return build_channel({**row, **values}, tenant.tenant_id)

    async def create_order(self, tenant: AfostoTenant, order: OrderInput, idempotency_key: str) -> Order:
        """Creates an open order with its lines (`POST /odr/orders`, x-idempotency-key), totalled
        in minor units at the consumer prices (the tenant's VAT-including group) in effect now.
        The same key with the same input answers the order it first created and never makes a
        second (the key is unique per tenant: a concurrent create with it finds the winner's);
        with another input (channel, customer, addresses, lines) it is Conflict. Nothing is
        written on an error: NotFound for a channel, customer or address not in the tenant;
        BadUserInput for a key not of the one rule (checked_key), a blank SKU, a SKU's quantity
        below 1 or above MAX_QUANTITY (added up), a SKU without a consumer price in effect (named),
        or a line's or the order's total above MAX_MINOR."""
        key = checked_key(idempotency_key)
        lines = _merged_lines(order.lines)
        digest = _fingerprint(order, lines)
        params = {"tenant": tenant.afosto_tenant_id, "key": key}
        for attempt in range(NUMBER_ATTEMPTS):
            try:
                async with writing(self.engine, afosto_scope(tenant)) as conn:
                    known = await _one(conn, _ORDER_BY_KEY, params)
                    if known is None:
                        row = await self._new_order(conn, tenant, order, key, digest, lines)
                        return build_order(row, tenant.tenant_id)
            except IntegrityError:
                # Another create won a race: with this key (its order is the answer), or to the
                # next order number (take the one after it).
                winner = await self.rows(_ORDER_BY_KEY, params)
                if not winner:
                    if attempt == NUMBER_ATTEMPTS - 1:
                        raise
                    continue
                known = dict(winner[0])
            return await self._keyed_order(tenant, known, order, key, digest)
        raise AssertionError("unreachable")

    async def _keyed_order(
        self, tenant: AfostoTenant, known: dict[str, Any], order: OrderInput, key: str, digest: str
    ) -> Order:
        """The order `key` created, for `order` sent under it again: the same input (a row from
        before digests were kept answers as it is) is that order. Afosto's POST /odr/orders
        takes no lines (upstream createOrder sends them under the key after it), so the input
        without lines is matched as upstream matches it: an order created without lines (the
        generated afostoOdrCreateOrder) takes `order`'s lines as its key's first addition, and a
        create without lines answers an order created with some. Anything else is Conflict."""
        stored = known.pop("input_digest", None)
        if stored is None or stored == digest:
            return build_order(known, tenant.tenant_id)
        header = replace(order, lines=())
        if stored == _fingerprint(header, {}):
            if not order.lines:
                return build_order(known, tenant.tenant_id)
            try:
                return await self.add_order_lines(tenant, known["id"], order.lines, key)
            except Conflict:
                raise Conflict(KEY_USED_FOR_ANOTHER_ORDER, field="idempotencyKey") from None
        if not order.lines and header == _header(known):
            return build_order(known, tenant.tenant_id)
        raise Conflict(KEY_USED_FOR_ANOTHER_ORDER, field="idempotencyKey")

    async def _new_order(
        self,
        conn: AsyncConnection,
        tenant: AfostoTenant,
        order: OrderInput,
        key: str,
        digest: str,
        lines: dict[str, LineInput],
    ) -> dict[str, Any]:
        owned = (
            (t.afosto_channels, order.channel_id, "channelId"),
            (t.afosto_customers, order.customer_id, "customerId"),
            (t.afosto_addresses, order.shipping_address_id, "shippingAddressId"),
            (t.afosto_addresses, order.billing_address_id, "billingAddressId"),
        )
        for table, row_id, field in owned:
            if row_id is not None and not await _exists(
                conn, table, table.c.afosto_tenant_id == tenant.afosto_tenant_id, table.c.id == row_id
            ):
                raise NotFound(f"No record with this {field} in the tenant.", field=field)
        currency, units = await _unit_prices(conn, tenant.afosto_tenant_id, lines)
        quantities = {sku: line.quantity for sku, line in lines.items()}
        total = order_total(quantities, units, currency, priced=lines)
        count = (
            await conn.execute(select(func.count()).where(_o.c.afosto_tenant_id == tenant.afosto_tenant_id))
        ).scalar_one()
        row: dict[str, Any] = {
            "id": new_id(),
            "afosto_tenant_id": tenant.afosto_tenant_id,
            "number": order_number(int(count) + 1),
            "status": OrderStatus.OPEN.value,
            "channel_id": order.channel_id,
            "customer_id": order.customer_id,
            "shipping_address_id": order.shipping_address_id,
            "billing_address_id": order.billing_address_id,
            "currency": currency,
            "total": total,
            "idempotency_key": key,
            "input_digest": digest,
            "created_at": utcnow(),
            "canceled_at": None,
        }
        await conn.execute(_o.insert().values(row))
        if lines:
            await conn.execute(
                _l.insert(),
                [
                    {
                        "afosto_tenant_id": tenant.afosto_tenant_id,
                        "order_id": row["id"],
                        "sku": sku,
                        "description": line.description,
                        "quantity": line.quantity,
                    }
                    for sku, line in lines.items()
                ],
            )
        del row["idempotency_key"], row["input_digest"]
        return row

    async def add_order_lines(
        self, tenant: AfostoTenant, order_id: str, lines: Sequence[LineInput], idempotency_key: str | None = None
    ) -> Order:
        """Adds lines to an order (`POST /odr/orders/{id}/items`, x-idempotency-key): a SKU the
        order has gets the quantity added to its line. Answers the order with its new total.
        With a key, the same lines again (in any order) add nothing and answer the order as it
        is now, also when concurrent, canceled since, or at a limit the lines took it to; other
        lines are Conflict once the checks below pass, where Afosto's 409 comes upstream (a key
        names one addition to one order; the order's own key names the lines it was created
        with, `_fingerprint`). Nothing is
        written on an error: NotFound for an order not in the tenant; Conflict for a canceled
        order; BadUserInput as `create_order`, and for a line the addition takes above
        MAX_QUANTITY."""
        merged = _merged_lines(lines)
        key = checked_key(idempotency_key) if idempotency_key is not None else None
        digest = _lines_digest(lines)
        # A tenant's commerce writes take turns (the scope's lock), so a concurrent retry with the
        # key finds the row the first one wrote.
        async with writing(self.engine, afosto_scope(tenant)) as conn:
            order = await self._order(conn, tenant, order_id)
            used = await self._key_used(conn, order_id, key, digest, merged) if key is not None else None
            if used == "same":
                return order  # sent before: nothing is added twice
            # Other lines under a used key are refused where Afosto refuses them upstream (409):
            # after the order's state and the lines' checks, which upstream mode makes first.
            if order.status is OrderStatus.CANCELED:
                raise Conflict(CANCELED_TAKES_NO_LINES, field="orderId")
            known = {
                sku: quantity
                for sku, quantity in (
                    await conn.execute(select(_l.c.sku, _l.c.quantity).where(_l.c.order_id == order_id))
                ).all()
            }
            after = known | {sku: known.get(sku, 0) + line.quantity for sku, line in merged.items()}
            check_quantities({sku: after[sku] for sku in merged})
            currency, units = await _unit_prices(conn, tenant.afosto_tenant_id, after)
            total = order_total(after, units, currency, priced=merged)
            if used == "other":
                raise Conflict(
                    KEY_USED_FOR_OTHER_LINES,
                    field="idempotencyKey",
                )
            for sku, line in merged.items():
                if sku in known:
                    await conn.execute(
                        _l.update()
                        .where(_l.c.order_id == order_id, _l.c.sku == sku)
                        .values(quantity=known[sku] + line.quantity)
                    )
                else:
                    await conn.execute(
                        _l.insert().values(
                            afosto_tenant_id=tenant.afosto_tenant_id,
                            order_id=order_id,
                            sku=sku,
                            description=line.description,
                            quantity=line.quantity,
                        )
                    )
            await conn.execute(_o.update().where(_o.c.id == order_id).values(total=total))
            if key is not None:
                await conn.execute(
                    _lk.insert().values(
                        afosto_tenant_id=tenant.afosto_tenant_id,
                        order_id=order_id,
                        idempotency_key=key,
                        input_digest=digest,
                        created_at=utcnow(),
                    )
                )
            return await self._order(conn, tenant, order_id)

    @staticmethod
    async def _key_used(
        conn: AsyncConnection, order_id: str, key: str, digest: str, merged: dict[str, LineInput]
    ) -> str | None:
        """What `key` added to the order before: "same" (these lines; the order's own key: the
        lines it was created with), "other" (other lines), or None (nothing)."""
        stored = (
            await conn.execute(
                select(_lk.c.input_digest).where(_lk.c.order_id == order_id, _lk.c.idempotency_key == key)
            )
        ).scalar_one_or_none()
        if stored is not None:
            return "same" if stored == digest else "other"
        created = (await conn.execute(select(_o).where(_o.c.id == order_id))).mappings().one()
        if created["idempotency_key"] != key:
            return None
        header = _header(created)
        stored = created["input_digest"]  # None: an order from before digests were kept
        if stored is None or stored == _fingerprint(header, merged):
            return "same"
        # Created without lines (Afosto's POST /odr/orders takes none: upstream createOrder, the
        # generated operation): its key has named no lines yet, and its first addition will.
        return None if stored == _fingerprint(header, {}) else "other"

    async def cancel_order(self, tenant: AfostoTenant, order_id: str) -> AfostoTask:
        """Cancels an order (`POST /odr/orders/{id}/cancel`): answers the asynchronous task
        (x-task-id), which in the local store has completed already (progress 100); the order is
        CANCELED from then on (canceling a canceled order keeps its first `canceled_at`). NotFound
        for an order not in the tenant."""
        now = utcnow()
        async with writing(self.engine, afosto_scope(tenant)) as conn:
            order = await self._order(conn, tenant, order_id)
            if order.status is not OrderStatus.CANCELED:
                await conn.execute(
                    _o.update().where(_o.c.id == order_id).values(status=OrderStatus.CANCELED.value, canceled_at=now)
                )
            row = {
                "id": new_id(),
                "afosto_tenant_id": tenant.afosto_tenant_id,
                "name": f"Cancel order {order.number}",
                "progress": 100,
                "result": "canceled",
                "started_at": now,
                "completed_at": now,
            }
            await conn.execute(t.afosto_tasks.insert().values(row))
        return build_task(row, tenant.tenant_id)


def order_number(sequence: int) -> str:
    """A tenant's `sequence`-th order's number (the seed's and the writes' alike)."""
    return str(100000 + sequence)


# ---------------------------------------------------------------------------------------------
# Join keys

_tl, _sc, _sl, _ps, _dh = (
    t.afosto_tenant_links,
    t.store_sales_channels,
    t.store_stock_locations,
    t.product_skus,
    t.device_print_hubs,
)
_TENANT_LINKS = select(_tl).where(in_keys(_tl.c.tenant_id))
_CHANNELS_BY_STORE = select(_sc).where(in_keys(_sc.c.store_id)).order_by(_sc.c.store_id, _sc.c.channel_id)
_LOCATION_BY_STORE = select(_sl).where(in_keys(_sl.c.store_id))
_SKU_BY_PRODUCT = select(_ps.c.product_id, _ps.c.sku).where(in_keys(_ps.c.product_id))
_SKU_REFS_BY_PRODUCT = select(_ps.c.product_id, _ps.c.tenant_id, _ps.c.sku).where(in_keys(_ps.c.product_id))
_HUB_BY_DEVICE = select(_dh).where(in_keys(_dh.c.device_id))
_PRODUCTS_BY_SKU = select(_ps.c.tenant_id, _ps.c.sku, _ps.c.product_id).where(
    in_keys(tuple_(_ps.c.tenant_id, _ps.c.sku))
)


def _reverse(link: Table, key: str, owner: Table, owner_id: str) -> Select[Any]:
    """(tenant uid, Afosto id, the one facade record linked to it, how many are): the facade
    record of each `(tenant, Afosto id)` in `keys`, through the owner's tenant."""
    owner_key = owner.c.id
    return (
        select(owner.c.tenant_id, link.c[key], func.min(link.c[owner_id]), func.count())
        .join(owner, owner_key == link.c[owner_id])
        .where(in_keys(tuple_(owner.c.tenant_id, link.c[key])))
        .group_by(owner.c.tenant_id, link.c[key])
    )


_STORES_BY_CHANNEL = _reverse(_sc, "channel_id", t.stores, "store_id")
_STORES_BY_LOCATION = _reverse(_sl, "location_id", t.stores, "store_id")
_DEVICES_BY_HUB = _reverse(_dh, "hub_id", t.devices, "device_id")


class LocalLinks(Repository):
    """`LinkBackend`: the join keys, in the local store in both modes."""

    async def _single(self, stmt: Select[Any], keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """The reverse link of each key linked from exactly one facade record: an Afosto record
        shared by several (a tenant's storefront channel, linked to every store) has no single
        owner, so it is absent (the graph answers null rather than pick one)."""
        if not keys:
            return {}
        async with reading(self.engine) as conn:
            rows = (await conn.execute(stmt, {"keys": [tuple(key) for key in set(keys)]})).all()
        return {(tenant, afosto_id): owner for tenant, afosto_id, owner, count in rows if count == 1}

    async def afosto_tenants(self, tenant_ids: Sequence[str]) -> dict[str, AfostoTenant]:
        """The Afosto tenant each facade tenant is linked to; unlinked tenants are absent."""
        if not tenant_ids:
            return {}
        rows = await self.rows(_TENANT_LINKS, {"keys": list(set(tenant_ids))})
        return {row["tenant_id"]: AfostoTenant(row["tenant_id"], row["afosto_tenant_id"]) for row in rows}

    async def channels_by_store(self, store_ids: Sequence[int]) -> dict[int, list[str]]:
        """The sales channel ids linked to each store (only stores with one are present)."""
        if not store_ids:
            return {}
        result: dict[int, list[str]] = {}
        for row in await self.rows(_CHANNELS_BY_STORE, {"keys": list(set(store_ids))}):
            result.setdefault(row["store_id"], []).append(row["channel_id"])
        return result

    async def stores_by_channel(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The one store linked to each (tenant uid, channel id); absent when none or several."""
        return await self._single(_STORES_BY_CHANNEL, keys)

    async def location_by_store(self, store_ids: Sequence[int]) -> dict[int, str]:
        """The stock location id linked to each store (only linked stores are present)."""
        if not store_ids:
            return {}
        rows = await self.rows(_LOCATION_BY_STORE, {"keys": list(set(store_ids))})
        return {row["store_id"]: row["location_id"] for row in rows}

    async def stores_by_location(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The store linked to each (tenant uid, location id); absent when none."""
        return await self._single(_STORES_BY_LOCATION, keys)

    async def sku_by_product(self, product_ids: Sequence[int]) -> dict[int, str]:
        """Each product's SKU (only products with one are present)."""
        if not product_ids:
            return {}
        rows = await self.rows(_SKU_BY_PRODUCT, {"keys": list(set(product_ids))})
        return {row["product_id"]: row["sku"] for row in rows}

    async def sku_refs_by_product(self, product_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Each product's (tenant uid, SKU): the key of its Afosto data (only products with a SKU)."""
        if not product_ids:
            return {}
        rows = await self.rows(_SKU_REFS_BY_PRODUCT, {"keys": list(set(product_ids))})
        return {row["product_id"]: (row["tenant_id"], row["sku"]) for row in rows}

    async def products_by_sku(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The product of each (tenant uid, SKU); absent when no product has it."""
        if not keys:
            return {}
        async with reading(self.engine) as conn:
            rows = (await conn.execute(_PRODUCTS_BY_SKU, {"keys": [tuple(key) for key in set(keys)]})).all()
        return {(tenant, sku): product_id for tenant, sku, product_id in rows}

    async def hub_by_device(self, device_ids: Sequence[str]) -> dict[str, str]:
        """The print hub id linked to each device (only linked devices are present)."""
        if not device_ids:
            return {}
        rows = await self.rows(_HUB_BY_DEVICE, {"keys": list(set(device_ids))})
        return {row["device_id"]: row["hub_id"] for row in rows}

    async def devices_by_hub(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The device linked to each (tenant uid, hub id); absent when none."""
        return await self._single(_DEVICES_BY_HUB, keys)

    async def link_tenant(self, tenant_id: str, afosto_tenant_id: str | None) -> AfostoTenant | None:
        """Links a facade tenant to its Afosto tenant (None unlinks). NotFound for an unknown
        tenant; Conflict when the Afosto tenant is linked to another; BadUserInput for a blank id."""
        target = None if afosto_tenant_id is None else _text(afosto_tenant_id, "afostoTenantId")
        async with writing(self.engine, LINKS_SCOPE) as conn:
            if not await _exists(conn, t.tenants, t.tenants.c.id == tenant_id):
                raise NotFound("No tenant with this uid.", field="tenantUid")
            await conn.execute(_tl.delete().where(_tl.c.tenant_id == tenant_id))
            if target is None:
                return None
            if await _exists(conn, _tl, _tl.c.afosto_tenant_id == target):
                raise Conflict("This Afosto tenant is linked to another tenant.", field="afostoTenantId")
            await conn.execute(_tl.insert().values(tenant_id=tenant_id, afosto_tenant_id=target))
        return AfostoTenant(tenant_id, target)

    async def _store(self, conn: AsyncConnection, store_id: int) -> str:
        tenant = (await conn.execute(select(t.stores.c.tenant_id).where(t.stores.c.id == store_id))).scalar()
        if tenant is None:
            raise NotFound("No store with this id.", field="storeId")
        return str(tenant)

    async def link_store_channel(self, store_id: int, channel_id: str, linked: bool) -> list[str]:
        """Links a sales channel to a store (or unlinks it, `linked` False; either is idempotent)
        and answers the store's channel ids. A channel may serve several stores (a storefront).
        NotFound for an unknown store; BadUserInput for a blank id."""
        channel_id = _text(channel_id, "channelId")
        async with writing(self.engine, LINKS_SCOPE) as conn:
            await self._store(conn, store_id)
            here = (_sc.c.store_id == store_id) & (_sc.c.channel_id == channel_id)
            if not linked:
                await conn.execute(_sc.delete().where(here))
            elif not await _exists(conn, _sc, here):
                await conn.execute(_sc.insert().values(store_id=store_id, channel_id=channel_id))
            rows = await conn.execute(
                select(_sc.c.channel_id).where(_sc.c.store_id == store_id).order_by(_sc.c.channel_id)
            )
            return list(rows.scalars())

    async def set_store_location(self, store_id: int, location_id: str | None) -> str | None:
        """Sets the store's stock location (None unlinks). NotFound for an unknown store;
        Conflict when another store of the tenant has the location; BadUserInput for a blank id."""
        target = None if location_id is None else _text(location_id, "locationId")
        async with writing(self.engine, LINKS_SCOPE) as conn:
            tenant = await self._store(conn, store_id)
            await conn.execute(_sl.delete().where(_sl.c.store_id == store_id))
            if target is None:
                return None
            taken = select(_sl.c.store_id).join(t.stores, t.stores.c.id == _sl.c.store_id)
            if (await conn.execute(taken.where(_sl.c.location_id == target, t.stores.c.tenant_id == tenant))).first():
                raise Conflict("This location is linked to another store.", field="locationId")
            await conn.execute(_sl.insert().values(store_id=store_id, location_id=target))
        return target

    async def set_product_sku(self, product_id: int, sku: str | None) -> str | None:
        """Sets the product's SKU (None clears it), unique within its store's tenant. NotFound
        for an unknown product; Conflict when another product of the tenant has the SKU;
        BadUserInput for a blank SKU."""
        target = None if sku is None else _text(sku, "sku")
        try:
            async with writing(self.engine, LINKS_SCOPE) as conn:
                tenant = (
                    await conn.execute(
                        select(t.stores.c.tenant_id)
                        .join(t.products, t.products.c.store_id == t.stores.c.id)
                        .where(t.products.c.id == product_id)
                    )
                ).scalar()
                if tenant is None:
                    raise NotFound("No product with this id.", field="productId")
                await conn.execute(_ps.delete().where(_ps.c.product_id == product_id))
                if target is not None:
                    await conn.execute(_ps.insert().values(product_id=product_id, tenant_id=tenant, sku=target))
        except IntegrityError:
            raise Conflict("Another product of the tenant has this SKU.", field="sku") from None
        return target

    async def link_device_hub(self, device_id: str, hub_id: str | None) -> str | None:
        """Links a device to a print hub (None unlinks). NotFound for an unknown device;
        Conflict when another device of the tenant has the hub; BadUserInput for a blank id."""
        target = None if hub_id is None else _text(hub_id, "hubId")
        async with writing(self.engine, LINKS_SCOPE) as conn:
            found = (await conn.execute(select(t.devices.c.tenant_id).where(t.devices.c.id == device_id))).first()
            if found is None:
                raise NotFound("No device with this id.", field="deviceId")
            await conn.execute(_dh.delete().where(_dh.c.device_id == device_id))
            if target is None:
                return None
            taken = select(_dh.c.device_id).join(t.devices, t.devices.c.id == _dh.c.device_id)
            tenant = t.devices.c.tenant_id.is_(None) if found[0] is None else t.devices.c.tenant_id == found[0]
            if (await conn.execute(taken.where(_dh.c.hub_id == target, tenant))).first():
                raise Conflict("This print hub is linked to another device.", field="hubId")
            await conn.execute(_dh.insert().values(device_id=device_id, hub_id=target))
        return target
