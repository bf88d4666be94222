"""The sandbox's Afosto emulation, stateful for the hand-modelled operations: their answers come
from the local store's Afosto tables (`LocalCommerce`, `store.commerce`), the same rows local
mode's graph reads, so a price set through one path is read through the other.

    load-all    GET /cat/channels (`type` filter), /cat/groups, /wms/locations, /iam/users,
                /iam/subscriptions, /spl/hubs, /spl/printers (`hub_id` filter)
    search      POST /cat/groups/{id}/prices (sku; with `active_at` each SKU's one price in
                effect then, the latest dated at or before it, else the undated one; without
                it every price, planned ones too: the docs leave that case open, and facade's
                domain graph always sends one), POST /wms/inventory (sku, location_id,
                position, claim_id, is_managed, state, is_tracking_inventory), POST
                /odr/search/orders (ids), POST /odr/search/orders/items (order_ids, skus,
                item_ids, stack_ids, order_count, is_unavailable, is_backordered, is_inbound,
                backorder_count, backorder_ids, target, shipment_count), POST /rel/contacts (id),
                POST /rel/search/address (ids): `in` constraints on every key the search body's
                schema documents, the list spelled `values` or `value`; a key it does not document,
                or another operator, is met by no record; no constraint, every record
    one         GET /cat/groups/{id}, /wms/locations/{id}, /iam/users/{id}, /spl/hubs/{id},
                /spl/printers/{id} (a record of the load-all list, else the generic emulation's
                answer: a record its generic writes made, or 404), GET /cat/channels/{id}, GET
                /odr/orders/{id}, GET /spl/hubs/{id}/status, GET
                /mes/tasks/{id} (the token's tenant's task in afosto_tasks, else 404),
                GET /iam/tenants/{id} (200 for the token's tenant, else 403)
    paged       GET /odr/orders (`number`; newest first: created_at, then id, descending; an
                empty `number` filters nothing), x-page/x-page-size; every list answer is paged by
                them where the operation is, with x-count where documented
    writes      PUT /cat/groups/{id}/prices, PUT /wms/inventory, POST /cat/channels, PUT
                /cat/channels/{id}, POST /odr/orders (x-idempotency-key: the same key answers
                the same order, with another body 409), POST /odr/orders/{id}/items (a repeated
                x-idempotency-key adds nothing twice, with another body 409; lines are checked
                as local mode's: priced SKUs, 1-10,000 units a line, totals within 2^31-1),
                POST /odr/orders/{id}/cancel (200 with x-task-id, read back with
                GET /mes/tasks/{id})
    tokens      POST /iam/oauth/authorize hands a seeded OAuth client a token of its tenant

The Afosto tenant of a call is its bearer token's: a JWT this sandbox signed (HS256, its
FACADE_JWT_SECRET) with claim `tenant_id`; any other bearer text is the default tenant (the first
seeded Afosto tenant), the emulation's documented leniency. Without a store (an app built bare) the
generic emulation answers these operations as it answers the others.

Imports the local store's tables, commerce, errors and PyJWT; never the graph.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
import sqlalchemy as sa

from facade.backends.local import tables
from facade.backends.upstream.afosto.emulated import token_tenant
from facade.commerce import (
    AfostoTask,
    AfostoTenant,
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
)
from facade.errors import BadUserInput, Conflict, FacadeError, NotFound
from facade.models import PageArgs

__all__ = ["HANDLED", "Refused", "Stored", "StoreAfosto", "afosto_clients", "issue_token"]

NAMESPACE = uuid.UUID("6f1c5f3e-2a41-5d8e-9d0b-afa5705a0002")
TOKEN_TTL = 3600
# The most records a sandbox list reads from the store at once (orders, for a search without keys).
MAX_LIST = 100_000


class Refused(Exception):
    """An Afosto error answer: status, message and field errors (`{kind: [property]}`)."""

    def __init__(self, status: int, message: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})


@dataclass
class Stored:
    """An answer from the store: `value` (JSON), `headers`, and whether `value` is a whole list
    the route pages by the call's paging headers (`paged`)."""

    value: Any
    headers: dict[str, str] = field(default_factory=dict)
    paged: bool = False


def issue_token(secret: str, afosto_tenant_id: str, ttl: int = TOKEN_TTL) -> str:
    """A sandbox Afosto token: HS256 over `secret`, claim `tenant_id`."""
    now = int(time.time())
    claims = {"tenant_id": afosto_tenant_id, "iat": now, "exp": now + ttl, "iss": "afosto-sandbox"}
    return jwt.encode(claims, secret, algorithm="HS256")


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    stamp = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Refused(400, "Invalid payload", {"invalid value": ["active_at"]}) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _flag(value: bool) -> str:
    return "true" if value else "false"


# -- commerce records as Afosto's payloads ----------------------------------------------------------


def channel_json(c: SalesChannel) -> dict[str, Any]:
    made = _iso(c.created_at)
    return {
        "id": c.id,
        "name": c.name,
        "type": c.type.value,
        "description": c.description,
        "client_id": "",
        "created_at": made,
        "updated_at": made,
    }


def group_json(g: PriceGroup) -> dict[str, Any]:
    made = _iso(g.created_at)
    return {
        "id": g.id,
        "name": g.name,
        "is_including_vat": g.is_including_vat,
        "currency": g.currency,
        "metadata": {},
        "created_at": made,
        "updated_at": made,
    }


def price_json(p: Price) -> dict[str, Any]:
    vat = []
    if p.vat_rate:
        try:
            vat = [{"rate": round(float(p.vat_rate)), "country": "", "administrative_area": ""}]
        except ValueError:
            vat = []
    return {
        "id": p.id,
        "sku": p.sku,
        "amount": p.amount,
        "original_amount": p.original_amount,
        "vat": vat,
        "price_group_id": p.price_group_id,
        "active_at": _iso(p.active_at),
        "created_at": _iso(p.active_at),
    }


def location_json(loc: Location) -> dict[str, Any]:
    made = _iso(loc.created_at)
    return {
        "id": loc.id,
        "name": loc.name,
        "country_iso": loc.country_code,
        "is_supplier": False,
        "is_managed": True,
        "is_customer": False,
        "is_tracking_inventory": loc.is_tracking_inventory,
        "address_id": loc.address_id or "",
        "created_at": made,
        "updated_at": made,
    }


def stock_json(s: StockLevel) -> dict[str, Any]:
    return {
        "location_id": s.location_id,
        "sku": s.sku,
        "position": "",
        "lot_number": "",
        "available": s.available,
        "reserved": s.reserved,
        "claimed": s.claimed,
        "transit": s.transit,
        "missing": s.missing,
        "backordered": s.backordered,
        "total": s.total,
    }


def order_json(o: Order) -> dict[str, Any]:
    made = _iso(o.created_at)
    settings: dict[str, Any] = {}
    if o.customer_id:
        settings["contact"] = {"id": o.customer_id}
    if o.shipping_address_id:
        settings["shipping"] = {"address_id": o.shipping_address_id}
    if o.billing_address_id:
        settings["billing"] = {"address_id": o.billing_address_id}
    calculation = {
        "id": str(uuid.uuid5(NAMESPACE, f"calculation {o.id}")),
        "currency": o.currency,
        "channel_id": o.channel_id or "",
        "amount": o.total,
        "is_valid": True,
        "is_accepted": o.status is not OrderStatus.OPEN,
        "is_confirmed": o.status is OrderStatus.CONFIRMED,
    }
    return {
        "id": o.id,
        "number": o.number,
        "state": {
            "is_locked": o.status is OrderStatus.CANCELED,
            "is_accepted": o.status is not OrderStatus.OPEN,
            "is_confirmed": o.status is OrderStatus.CONFIRMED,
            "is_finished": False,
            "is_canceled": o.status is OrderStatus.CANCELED,
        },
        "settings": settings,
        "calculations": [calculation],
        "channel_id": o.channel_id,
        "tags": [],
        "created_at": made,
        "updated_at": made,
        "last_canceled_at": _iso(o.canceled_at),
    }


def item_id(line: OrderLine) -> str:
    return str(uuid.uuid5(NAMESPACE, f"item {line.order_id} {line.sku}"))


def line_json(line: OrderLine) -> dict[str, Any]:
    """An order's items of one SKU as Afosto's `OdrGroup`, referencing its order."""
    return {
        "sku": line.sku,
        "reference": "",
        "description": line.description,
        "quantity": line.quantity,
        "ids": [item_id(line)],
        "references": {"orders": [{"id": line.order_id}], "backorders": [], "target": ""},
        "filters": [],
    }


def customer_json(c: Customer) -> dict[str, Any]:
    made = _iso(c.created_at)
    return {
        "id": c.id,
        "version": str(uuid.uuid5(NAMESPACE, f"contact {c.id}")),
        "email": c.email,
        "is_guest": c.is_guest,
        "tags": [],
        "given_name": c.given_name,
        "family_name": c.family_name,
        "created_at": made,
        "updated_at": made,
    }


def address_json(a: PostalAddress) -> dict[str, Any]:
    return {
        "id": a.id,
        "country_code": a.country_code,
        "administrative_area": a.administrative_area,
        "locality": a.locality,
        "postal_code": a.postal_code,
        "address_line_1": a.address_line_1,
        "address_line_2": a.address_line_2,
        "organisation": a.organisation,
        "given_name": a.given_name,
        "family_name": a.family_name,
    }


def hub_json(h: PrintHub) -> dict[str, Any]:
    made = _iso(h.created_at)
    return {
        "id": h.id,
        "uuid": h.id,
        "name": h.name,
        "description": h.description,
        "properties": [],
        "status": h.status.value,
        "status_updated_at": _iso(h.status_updated_at),
        "created_at": made,
        "updated_at": made,
    }


def printer_json(r: Printer) -> dict[str, Any]:
    made = _iso(r.created_at)
    return {
        "id": r.id,
        "name": r.name,
        "hub_id": r.hub_id,
        "default_encoding": r.default_encoding,
        "inbox_id": "",
        "created_at": made,
        "updated_at": made,
    }


def task_json(t: AfostoTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "description": "",
        "progress": t.progress,
        "result": t.result,
        "started_at": _iso(t.started_at),
        "completed_at": _iso(t.completed_at),
    }


# -- searches -----------------------------------------------------------------------------------------

# The keys each search's constraint schema documents, and how a record answers each: a function
# of the record's JSON giving the values it has for the key.
Field = Callable[[dict[str, Any]], list[str]]


def _of(name: str) -> Field:
    return lambda record: [str(record.get(name, ""))]


def _const(value: str) -> Field:
    return lambda record: [value]


STOCK_KEYS: dict[str, Field] = {
    "sku": _of("sku"),
    "location_id": _of("location_id"),
    "position": _of("position"),
    "claim_id": _const(""),
    "state": _const("available"),
    "is_managed": _const("true"),
    "is_tracking_inventory": lambda r: [_flag(bool(r.get("_tracking", True)))],
}
ITEM_KEYS: dict[str, Field] = {
    "order_ids": lambda r: [o["id"] for o in r["references"]["orders"]],
    "skus": _of("sku"),
    "item_ids": lambda r: list(r["ids"]),
    "stack_ids": _const(""),
    "order_count": lambda r: [str(len(r["references"]["orders"]))],
    "is_unavailable": _const("false"),
    "is_backordered": _const("false"),
    "is_inbound": _const("false"),
    "backorder_count": _const("0"),
    "backorder_ids": lambda r: [],
    "target": _const(""),
    "shipment_count": _const("0"),
}
ORDER_KEYS: dict[str, Field] = {"ids": _of("id")}
PRICE_KEYS: dict[str, Field] = {"sku": _of("sku")}
CONTACT_KEYS: dict[str, Field] = {"id": _of("id")}
ADDRESS_KEYS: dict[str, Field] = {"ids": _of("id")}


def _normal(value: Any) -> str:
    if isinstance(value, bool):
        return _flag(value)
    text = str(value)
    return {"1": "true", "0": "false"}.get(text, text) if text in ("1", "0") else text


NOTHING = ""  # the constraint no record meets


def constraints(body: Any, keys: Mapping[str, Field]) -> dict[str, list[str]]:
    """The search's `in` constraints, `{key: values}` (values as text); both spellings of the
    list (`values`, `value`). A key the search does not document, another operator than `in`, or
    no list of values is a constraint no record meets (`NOTHING`)."""
    found: dict[str, list[str]] = {}
    given = body.get("constraints") if isinstance(body, dict) else None
    if given is None:
        return found
    if not isinstance(given, list):
        raise Refused(400, "Invalid payload", {"invalid value": ["constraints"]})
    for constraint in given:
        if not isinstance(constraint, dict):
            raise Refused(400, "Invalid payload", {"invalid value": ["constraints"]})
        key = constraint.get("key")
        operator = constraint.get("operator", "in")
        values = constraint.get("values", constraint.get("value"))
        if not isinstance(values, list) or not all(isinstance(v, str | int | bool) for v in values):
            values = None
        if values is None or not isinstance(key, str) or key not in keys or operator != "in":
            # A key the search does not document, or an operator not emulated: no record meets it.
            found[NOTHING] = []
            continue
        mine = [str(v) if not isinstance(v, bool) else _flag(v) for v in values]
        # Two constraints on one key: both must hold.
        found[key] = [v for v in found[key] if v in mine] if key in found else mine
    return found


def matching(records: list[dict[str, Any]], wanted: Mapping[str, list[str]], keys: Mapping[str, Field]) -> list[Any]:
    """The records that meet every constraint (any of its values)."""
    if NOTHING in wanted:
        return []
    result = []
    for record in records:
        if all({_normal(v) for v in keys[k](record)} & {_normal(v) for v in values} for k, values in wanted.items()):
            result.append({k: v for k, v in record.items() if not k.startswith("_")})
    return result


# -- the handler -----------------------------------------------------------------------------------

Handler = Callable[["Request"], Awaitable[Stored]]


@dataclass
class Request:
    """One call of a hand-modelled operation, as the route read it."""

    tenant: AfostoTenant
    path: dict[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    page: int
    size: int


class StoreAfosto:
    """The hand-modelled operations over `store` (a `LocalStore`: its `commerce` and engine);
    `secret` verifies the sandbox's Afosto tokens (None: every call is the default tenant)."""

    def __init__(self, store: Any, secret: str | None) -> None:
        self.store = store
        self.secret = secret
        self.handlers: dict[str, Handler] = {
            "GET /cat/channels": self.channels,
            "GET /cat/channels/{id}": self.channel,
            "GET /cat/groups": self.groups,
            # A record a list answers, by its id: the list's record (the stored ones), else the
            # generic emulation's answer (one the generic writes made, or its 404).
            "GET /cat/groups/{id}": self._one("price_groups", lambda g, _: group_json(g)),
            "GET /wms/locations/{id}": self._one("locations", lambda loc, _: location_json(loc)),
            "GET /iam/users/{id}": self._one("users", lambda u, call: _user_json(u, call.tenant.afosto_tenant_id)),
            "GET /spl/hubs/{id}": self._one("print_hubs", lambda h, _: hub_json(h)),
            "GET /spl/printers/{id}": self._one("printers", lambda r, _: printer_json(r)),
            "GET /wms/locations": self.locations,
            "GET /iam/users": self.users,
            "GET /iam/subscriptions": self.plans,
            "GET /spl/hubs": self.hubs,
            "GET /spl/printers": self.printers,
            "GET /spl/hubs/{id}/status": self.hub_status,
            "POST /cat/groups/{id}/prices": self.prices,
            "POST /wms/inventory": self.stock,
            "POST /odr/search/orders": self.search_orders,
            "POST /odr/search/orders/items": self.search_items,
            "POST /rel/contacts": self.contacts,
            "POST /rel/search/address": self.addresses,
            "GET /odr/orders": self.order_page,
            "GET /odr/orders/{id}": self.order,
            "GET /mes/tasks/{id}": self.task,
            "GET /iam/tenants/{id}": self.tenant,
            "PUT /cat/groups/{id}/prices": self.upsert_prices,
            "PUT /wms/inventory": self.set_stock,
            "POST /cat/channels": self.create_channel,
            "PUT /cat/channels/{id}": self.update_channel,
            "POST /odr/orders": self.create_order,
            "POST /odr/orders/{id}/items": self.add_items,
            "POST /odr/orders/{id}/cancel": self.cancel,
        }

    @property
    def commerce(self) -> Any:
        return self.store.commerce

    # -- tenants -----------------------------------------------------------------------------

    async def tenants(self) -> list[AfostoTenant]:
        """The store's linked Afosto tenants, in seed order (by their facade tenant's creation):
        the first is the default tenant."""
        links, owners = tables.afosto_tenant_links, tables.tenants
        stmt = (
            sa.select(links.c.tenant_id, links.c.afosto_tenant_id)
            .join(owners, owners.c.id == links.c.tenant_id)
            .order_by(owners.c.created_at, owners.c.id)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AfostoTenant(tenant_id=row.tenant_id, afosto_tenant_id=row.afosto_tenant_id) for row in rows]

    async def tenant_of(self, authorization: str) -> AfostoTenant:
        """The call's Afosto tenant: its token's `tenant_id`, or the default tenant."""
        known = await self.tenants()
        claimed = token_tenant(authorization, self.secret)
        for tenant in known:
            if tenant.afosto_tenant_id == claimed:
                return tenant
        if claimed is not None:
            return AfostoTenant(tenant_id="", afosto_tenant_id=claimed)
        if not known:
            raise Refused(403, "The sandbox has no Afosto tenant")
        return known[0]

    async def answer(
        self,
        key: str,
        authorization: str,
        path: dict[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: Any,
        page: int,
        size: int,
    ) -> Stored | None:
        """The store's answer to a hand-modelled operation (None: not one of them). Refused for
        an Afosto error; facade's errors of the store become Afosto's statuses."""
        handler = self.handlers.get(key)
        if handler is None:
            return None
        tenant = await self.tenant_of(authorization)
        try:
            return await handler(Request(tenant, path, query, headers, body, page, size))
        except NotFound as missing:
            raise Refused(404, str(missing)) from None
        except BadUserInput as bad:
            raise Refused(400, str(bad), {"invalid value": [str(bad.extensions.get("field", "body"))]}) from None
        except Conflict as conflict:
            raise Refused(409, str(conflict)) from None
        except FacadeError as other:
            raise Refused(500, str(other)) from None

    async def authorize(self, body: Any, clients: Mapping[str, tuple[str, str]]) -> Stored | None:
        """POST /iam/oauth/authorize for a seeded client (`clients`: id -> (secret, Afosto
        tenant)): a token of its tenant. Refused 401 (OAuth's invalid_client) for any other
        client, a wrong secret or none: a placeholder token would pass for a credential. None
        (the derived answer) only where the sandbox signs no tokens."""
        if self.secret is None:
            return None
        client = clients.get(str(body.get("client_id", ""))) if isinstance(body, dict) else None
        if client is None or not isinstance(body, dict) or body.get("client_secret") != client[0]:
            raise Refused(401, "invalid_client: unknown client or wrong client secret")
        token = issue_token(self.secret, client[1])
        return Stored({"token_type": "Bearer", "expires_in": TOKEN_TTL, "access_token": token, "refresh_token": ""})

    # -- load-all --------------------------------------------------------------------------------

    async def _whole(self, read: Callable[[Sequence[AfostoTenant]], Awaitable[Any]], tenant: AfostoTenant) -> list[Any]:
        found = (await read([tenant])).get(tenant, [])
        if isinstance(found, Exception):
            raise found
        return list(found)

    async def channels(self, call: Request) -> Stored:
        found = [channel_json(c) for c in await self._whole(self.commerce.channels, call.tenant)]
        kind = call.query.get("type")
        if kind:
            found = [c for c in found if c["type"] == kind]
        return Stored(found, paged=True)

    async def channel(self, call: Request) -> Stored:
        for c in await self._whole(self.commerce.channels, call.tenant):
            if c.id == call.path["id"]:
                return Stored(channel_json(c))
        raise Refused(404, "No such channel")

    def _one(self, list_of: str, to_json: Callable[[Any, Request], dict[str, Any]]) -> Handler:
        """GET one record of a load-all list (`store.commerce.<list_of>`) by its id; LookupError
        (the generic emulation answers) when the store holds no such record."""

        async def one(call: Request) -> Stored:
            for record in await self._whole(getattr(self.commerce, list_of), call.tenant):
                if record.id == call.path["id"]:
                    return Stored(to_json(record, call))
            raise LookupError(call.path["id"])

        return one

    async def groups(self, call: Request) -> Stored:
        return Stored([group_json(g) for g in await self._whole(self.commerce.price_groups, call.tenant)], paged=True)

    async def locations(self, call: Request) -> Stored:
        found = await self._whole(self.commerce.locations, call.tenant)
        return Stored([location_json(loc) for loc in found], paged=True)

    async def users(self, call: Request) -> Stored:
        found = await self._whole(self.commerce.users, call.tenant)
        afosto = call.tenant.afosto_tenant_id
        return Stored([_user_json(u, afosto) for u in found], paged=True)

    async def plans(self, call: Request) -> Stored:
        found = await self._whole(self.commerce.plans, call.tenant)
        return Stored(
            [
                {
                    "id": s.id,
                    "code": s.code,
                    "is_renewing": s.is_renewing,
                    "start_at": _iso(s.start_at),
                    "end_at": _iso(s.end_at),
                    "items": [],
                }
                for s in found
            ],
            paged=True,
        )

    async def hubs(self, call: Request) -> Stored:
        return Stored([hub_json(h) for h in await self._whole(self.commerce.print_hubs, call.tenant)], paged=True)

    async def printers(self, call: Request) -> Stored:
        found = [printer_json(r) for r in await self._whole(self.commerce.printers, call.tenant)]
        hub = call.query.get("hub_id")
        if hub:
            found = [r for r in found if r["hub_id"] == hub]
        return Stored(found, paged=True)

    async def hub_status(self, call: Request) -> Stored:
        hub_id = call.path["id"]
        hubs = {h.id for h in await self._whole(self.commerce.print_hubs, call.tenant)}
        if hub_id not in hubs:
            raise Refused(404, "No such hub")
        status = (await self.commerce.hub_status(call.tenant, [hub_id])).get(hub_id)
        if isinstance(status, Exception):
            raise status
        online = status is PrintHubStatus.ONLINE
        return Stored({"is_online": online, "is_idle": True, "location": ""})

    # -- searches --------------------------------------------------------------------------------

    async def _ids(
        self, table: sa.Table, tenant: AfostoTenant, column: str = "id", group: str | None = None
    ) -> list[str]:
        """Every key of the tenant's rows of `table` (of the price group), for a search without
        a constraint on its key: the store reads records by key only."""
        stmt = sa.select(table.c[column]).distinct().where(table.c.afosto_tenant_id == tenant.afosto_tenant_id)
        if group is not None:
            stmt = stmt.where(table.c.price_group_id == group)
        async with self.store.engine.connect() as conn:
            return [row[0] for row in (await conn.execute(stmt.limit(MAX_LIST))).all()]

    async def prices(self, call: Request) -> Stored:
        wanted = constraints(call.body, PRICE_KEYS)
        skus = wanted.get("sku") or await self._ids(tables.afosto_prices, call.tenant, "sku", call.path["id"])
        active_at = _time(call.body.get("active_at")) if isinstance(call.body, dict) else None
        found = await self.commerce.prices(call.tenant, skus, call.path["id"], active_at)
        records = [price_json(p) for sku in skus for p in _listed(found.get(sku))]
        return Stored(matching(records, wanted, PRICE_KEYS), paged=True)

    async def stock(self, call: Request) -> Stored:
        wanted = constraints(call.body, STOCK_KEYS)
        locations = {loc.id: loc for loc in await self._whole(self.commerce.locations, call.tenant)}
        if "location_id" in wanted:
            found = await self.commerce.stock_by_location(call.tenant, wanted["location_id"])
        elif "sku" in wanted:
            found = await self.commerce.stock_by_sku(call.tenant, wanted["sku"])
        else:
            found = await self.commerce.stock_by_location(call.tenant, list(locations))
        levels = [s for value in found.values() for s in _listed(value)]
        records = []
        for s in levels:
            where = locations.get(s.location_id)
            tracking = where.is_tracking_inventory if where is not None else True
            records.append({**stock_json(s), "_tracking": tracking})
        return Stored(matching(records, wanted, STOCK_KEYS), paged=True)

    async def _all_orders(self, tenant: AfostoTenant) -> list[Order]:
        page = await self.commerce.order_page(tenant, None, PageArgs(limit=MAX_LIST))
        return list(page.items)

    async def search_orders(self, call: Request) -> Stored:
        wanted = constraints(call.body, ORDER_KEYS)
        if "ids" in wanted:
            found = await self.commerce.orders(call.tenant, wanted["ids"])
            orders = [o for o in found.values() if isinstance(o, Order)]
        else:
            orders = await self._all_orders(call.tenant)
        return Stored(matching([order_json(o) for o in orders], wanted, ORDER_KEYS), paged=True)

    async def search_items(self, call: Request) -> Stored:
        wanted = constraints(call.body, ITEM_KEYS)
        if "order_ids" in wanted:
            found = await self.commerce.order_lines(call.tenant, wanted["order_ids"])
        elif "skus" in wanted:
            found = await self.commerce.order_lines_by_sku(call.tenant, wanted["skus"])
        else:
            ids = [o.id for o in await self._all_orders(call.tenant)]
            found = await self.commerce.order_lines(call.tenant, ids)
        lines = [line for value in found.values() for line in _listed(value)]
        return Stored(matching([line_json(line) for line in lines], wanted, ITEM_KEYS), paged=True)

    async def contacts(self, call: Request) -> Stored:
        wanted = constraints(call.body, CONTACT_KEYS)
        ids = wanted.get("id") or await self._ids(tables.afosto_customers, call.tenant)
        found = await self.commerce.customers(call.tenant, ids)
        records = [customer_json(c) for c in found.values() if isinstance(c, Customer)]
        return Stored(matching(records, wanted, CONTACT_KEYS), paged=True)

    async def addresses(self, call: Request) -> Stored:
        wanted = constraints(call.body, ADDRESS_KEYS)
        ids = wanted.get("ids") or await self._ids(tables.afosto_addresses, call.tenant)
        found = await self.commerce.addresses(call.tenant, ids)
        records = [address_json(a) for a in found.values() if isinstance(a, PostalAddress)]
        return Stored(matching(records, wanted, ADDRESS_KEYS), paged=True)

    # -- one record, a page ----------------------------------------------------------------------

    async def order_page(self, call: Request) -> Stored:
        number = call.query.get("number") or None
        page = await self.commerce.order_page(
            call.tenant, number, PageArgs(limit=call.size, offset=(call.page - 1) * call.size)
        )
        more = page.offset + len(page.items) < page.total
        headers = {"x-page": str(call.page + 1 if more else call.page)}
        return Stored([order_json(o) for o in page.items], headers)

    async def order(self, call: Request) -> Stored:
        found = (await self.commerce.orders(call.tenant, [call.path["id"]])).get(call.path["id"])
        if not isinstance(found, Order):
            raise Refused(404, "No such order")
        return Stored(order_json(found))

    async def task(self, call: Request) -> Stored:
        found = (await self.commerce.tasks(call.tenant, [call.path["id"]])).get(call.path["id"])
        if not isinstance(found, AfostoTask):
            raise Refused(404, "No such task")  # not the token's tenant's task (afosto_tasks)
        return Stored(task_json(found))

    async def tenant(self, call: Request) -> Stored:
        if call.path["id"] != call.tenant.afosto_tenant_id:
            raise Refused(403, "The token is not for this tenant")
        return Stored({"id": call.tenant.afosto_tenant_id, "name": call.tenant.afosto_tenant_id, "is_active": True})

    # -- writes ----------------------------------------------------------------------------------

    async def upsert_prices(self, call: Request) -> Stored:
        if not isinstance(call.body, list):
            raise Refused(400, "Invalid payload", {"invalid value": ["body"]})
        prices = []
        for i, item in enumerate(call.body):
            sku, amount = item.get("sku"), item.get("amount")
            original = item.get("original_amount")
            if not isinstance(sku, str) or not sku or not isinstance(amount, int) or isinstance(amount, bool):
                raise Refused(400, "Invalid payload", {"required": [f"{i}.sku", f"{i}.amount"]})
            if original is not None and (not isinstance(original, int) or isinstance(original, bool)):
                raise Refused(400, "Invalid payload", {"invalid value": [f"{i}.original_amount"]})
            prices.append(PriceInput(sku, amount, original, _time(item.get("active_at"))))
        done = await self.commerce.upsert_prices(call.tenant, call.path["id"], prices)
        return Stored({"success": len(done)})

    async def set_stock(self, call: Request) -> Stored:
        body = call.body if isinstance(call.body, dict) else {}
        location, items = body.get("location_id"), body.get("items")
        if not isinstance(location, str) or not location or not isinstance(items, list):
            raise Refused(400, "Invalid payload", {"required": ["location_id", "items"]})
        levels = []
        for i, item in enumerate(items):
            sku, quantity = item.get("sku"), item.get("quantity")
            if not isinstance(sku, str) or not sku or not isinstance(quantity, int) or isinstance(quantity, bool):
                raise Refused(400, "Invalid payload", {"required": [f"items.{i}.sku", f"items.{i}.quantity"]})
            levels.append(StockInput(sku, quantity))
        done = await self.commerce.set_stock(call.tenant, location, levels)
        return Stored([stock_json(s) for s in done])

    async def create_channel(self, call: Request) -> Stored:
        body = call.body if isinstance(call.body, dict) else {}
        name, kind = body.get("name"), body.get("type")
        if not isinstance(name, str) or not name or kind not in {t.value for t in SalesChannelType}:
            raise Refused(400, "Invalid payload", {"required": ["name", "type"]})
        description = body.get("description")
        made = await self.commerce.create_channel(
            call.tenant,
            ChannelInput(name=name, type=SalesChannelType(kind), description=description or ""),
        )
        return Stored(channel_json(made))

    async def update_channel(self, call: Request) -> Stored:
        body = call.body if isinstance(call.body, dict) else {}
        name, description = body.get("name"), body.get("description")
        made = await self.commerce.update_channel(
            call.tenant,
            call.path["id"],
            ChannelInput(
                name=name if isinstance(name, str) and name else None,
                description=description if isinstance(description, str) else None,
            ),
        )
        return Stored(channel_json(made))

    async def create_order(self, call: Request) -> Stored:
        body = call.body if isinstance(call.body, dict) else {}
        channel = body.get("channel_id")
        if not isinstance(channel, str) or not channel:
            raise Refused(400, "Invalid payload", {"required": ["channel_id"]})
        given = body.get("settings")
        settings: Mapping[str, Any] = given if isinstance(given, dict) else {}
        key = call.headers.get("x-idempotency-key") or str(uuid.uuid4())
        order = OrderInput(
            channel_id=channel,
            customer_id=_nested(settings, "contact", "id"),
            shipping_address_id=_nested(settings, "shipping", "address_id"),
            billing_address_id=_nested(settings, "billing", "address_id"),
        )
        made = await self.commerce.create_order(call.tenant, order, key)
        return Stored(order_json(made))

    async def add_items(self, call: Request) -> Stored:
        """POST /odr/orders/{id}/items: the lines go to the store's `add_order_lines` with the
        x-idempotency-key, so a key names one addition to one order whichever road sent it (the
        graph's addOrderLines in local mode, this operation in either mode): the same lines again
        add nothing and answer as before, other lines are 409, as POST /odr/orders's."""
        order_id = call.path["id"]
        key = call.headers.get("x-idempotency-key") or None  # an empty header sends no key
        if not isinstance(call.body, list):
            raise Refused(400, "Invalid payload", {"invalid value": ["body"]})
        lines = []
        for i, item in enumerate(call.body):
            sku, quantity = item.get("sku"), item.get("quantity", 1)
            description = item.get("description")
            if not isinstance(sku, str) or not sku or not isinstance(quantity, int) or isinstance(quantity, bool):
                raise Refused(400, "Invalid payload", {"required": [f"{i}.sku", f"{i}.quantity"]})
            lines.append(LineInput(sku, quantity, description if isinstance(description, str) else ""))
        await self.commerce.add_order_lines(call.tenant, order_id, lines, key)
        return Stored(
            [
                {"id": str(uuid.uuid5(NAMESPACE, f"item {order_id} {line.sku}")), "reference": "", "sku": line.sku}
                | {"description": line.description, "is_inbound": False}
                for line in lines
            ]
        )

    async def cancel(self, call: Request) -> Stored:
        task = await self.commerce.cancel_order(call.tenant, call.path["id"])
        return Stored({"is_accepted": True, "warnings": []}, {"x-task-id": task.id})


# The operations the store answers (`METHOD /template`).
HANDLED: frozenset[str] = frozenset(StoreAfosto(None, None).handlers)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _nested(settings: Mapping[str, Any], part: str, name: str) -> str | None:
    inner = settings.get(part)
    value = inner.get(name) if isinstance(inner, dict) else None
    return value if isinstance(value, str) and value else None


def _user_json(u: Any, afosto_tenant_id: str) -> dict[str, Any]:
    made = _iso(u.created_at)
    return {
        "id": u.id,
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "is_verified": True,
        "is_pending_invite": False,
        "is_primary": u.is_primary,
        "is_deleted": False,
        "tenant_id": afosto_tenant_id,
        "roles": list(u.roles),
        "created_at": made,
        "updated_at": made,
    }


async def afosto_clients(store: Any) -> dict[str, tuple[str, str]]:
    """The seeded OAuth clients of the store's Afosto tenants (the seed's `afosto_clients`):
    client id -> (secret, Afosto tenant)."""
    from facade.backends.local.seed import sandbox_client_secret

    clients = {}
    for tenant in await StoreAfosto(store, None).tenants():
        client_id = f"afosto-{tenant.tenant_id}"
        clients[client_id] = (sandbox_client_secret(client_id), tenant.afosto_tenant_id)
    return clients
