"""The commerce mutations: Afosto's everyday writes, and the admin mutations that manage the join
keys between facade's records and Afosto's (the local store's link tables, in both modes).

Who may: a tenant's admins set prices and stock, manage its sales channels and its join keys; its
members (people, not device tokens) create orders, add lines and cancel them. In upstream mode
Afosto judges the caller's Afosto token on every write as well. Each mutation answers the record
it wrote (the project's mutation style: the record, null with an error on failure), held to that
record's rule like any other road to it.

Input is checked before anything is written (BAD_USER_INPUT): SKUs are 1-64 characters of
letters, digits and `._/-`; quantities 1-10,000 (a line's, also once added to what the order
has); stock 0-1,000,000,000; amounts decimal strings with at most the currency's decimals, at
most 2,147,483,647 minor units (GraphQL's Int, so `amountMinor` reads them back: 21474836.47 EUR);
an order's lines only SKUs with a consumer price in effect (the tenant's first price group
including VAT, by name), and its total (so each line's) at most 2,147,483,647 minor units; at
most 100 items per list; an idempotency key 1-128 characters of letters, digits and `_.:-`, the
rule of the generated operations' key too (inputs.IDEMPOTENCY_KEY). An idempotency key used
before with another order input is CONFLICT; a sales channel's type cannot change
(BAD_USER_INPUT, as Afosto). An id of an Afosto record is its global `id`, or, where the mutation
names the tenant, its `sourceId`; a store, product or device its global id or its source id, as
`store(id:)` takes.

Imports base, inputs, permissions, commerce types and commerce records; never a backend.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from facade import commerce as c
from facade.errors import BadUserInput, FacadeError, Forbidden, NotFound
from facade.graph.afosto.local import prove_afosto_account
from facade.graph.base import Info, Need, int_id, root_mutation
from facade.graph.commerce.types import (
    AFOSTO_ID,
    AfostoTask,
    Order,
    Price,
    SalesChannel,
    SalesChannelTypeEnum,
    StockLevel,
    TenantAfosto,
    afosto_key,
)
from facade.graph.inputs import GLOBAL_ID, IDEMPOTENCY_KEY, NAME, NODE_OR_UID, UID, Constraint, arg, limited
from facade.graph.nodes import lookup_key
from facade.graph.permissions import is_admin, is_member
from facade.models import check_uid

if TYPE_CHECKING:
    from facade.graph.devices import Device
    from facade.graph.products import Product
    from facade.graph.stores import Store

SKU = Constraint(pattern="[A-Za-z0-9._/-]+", min_length=1, max_length=64)
AMOUNT = Constraint(pattern=r"[0-9]+(\.[0-9]+)?", max_length=24)
QUANTITY = Constraint(min=1, max=c.MAX_QUANTITY)
UNITS = Constraint(min=0, max=1_000_000_000)
DESCRIPTION = Constraint(max_length=1000, multiline=True)
AFOSTO_TENANT_ID = Constraint(pattern="[A-Za-z0-9_.:-]+", max_length=64)
AN_ID = Constraint(max_length=256)  # a global id (base64) or an Afosto id; decoded by afosto_key
MAX_ITEMS = 100


@strawberry.input(description="One SKU's price in a price group.")
class PriceInput:
    sku: str = limited(SKU)
    amount: str = limited(AMOUNT, description='Decimal string in the group\'s currency, e.g. "12.50".')
    original_amount: str | None = limited(AMOUNT, None, description="The amount before a discount, if any.")
    active_at: dt.datetime | None = strawberry.field(default=None, description="From when it applies; null: now.")


@strawberry.input(description="One SKU's available units at a location.")
class StockInput:
    sku: str = limited(SKU)
    available: int = limited(UNITS, description="Units available, 0 to 1,000,000,000.")


@strawberry.input(description="A sales channel's fields; on update, fields left out stay as they are.")
class SalesChannelInput:
    name: str | None = limited(NAME, None)
    type: SalesChannelTypeEnum | None = None  # type: ignore[valid-type]
    description: str | None = limited(DESCRIPTION, None)


@strawberry.input(description="Units of one SKU on an order.")
class OrderLineInput:
    sku: str = limited(SKU)
    quantity: int = limited(QUANTITY, description="Units, 1 to 10,000.")
    description: str | None = limited(DESCRIPTION, None)


@strawberry.input(description="A new order: where it is sold, to whom, and what.")
class OrderInput:
    channel_id: strawberry.ID = limited(AN_ID, description="The sales channel (its id or sourceId).")
    customer_id: strawberry.ID | None = limited(AN_ID, None, description="The customer (its id or sourceId).")
    shipping_address_id: strawberry.ID | None = limited(AN_ID, None)
    billing_address_id: strawberry.ID | None = limited(AN_ID, None)
    lines: list[OrderLineInput] = limited(Constraint(max_items=MAX_ITEMS), description="1 to 100 lines.")


# ---------------------------------------------------------------------------------------------
# Checks


async def _linked(info: Info, tenant_uid: str) -> c.AfostoTenant:
    """The tenant's Afosto link; NotFound when it has none (there is no Afosto side to write)."""
    link = await info.context.loaders.afosto_tenant.load(tenant_uid)
    if link is None:
        raise NotFound("The tenant has no linked Afosto tenant.")
    return link


def _as_admin(info: Info, tenant_id: str | None) -> None:
    if not is_admin(info.context.require_principal(), tenant_id):
        raise Forbidden("This needs the TENANT.ADMIN permission of the record's tenant, signed in as a user.")


def _as_member(info: Info, tenant_id: str | None) -> None:
    if not is_member(info.context.require_principal(), tenant_id):
        raise Forbidden("You are not a member of this record's tenant.")


def _lines(lines: Sequence[OrderLineInput], field: str) -> list[c.LineInput]:
    """The lines of argument path `field` (`input.lines`, `lines`), checked."""
    if not lines:
        raise BadUserInput(f"`{field}` needs at least one line.", field=field)
    again = _repeated_sku(lines)
    if again is not None:
        raise BadUserInput(
            f"`{field}.{again}.sku` names a SKU an earlier line has: give each SKU once, with its quantity.",
            field=f"{field}.{again}.sku",
        )
    return [c.LineInput(sku=line.sku, quantity=line.quantity, description=line.description or "") for line in lines]


_ORDER_PARTS = frozenset({"channelId", "customerId", "shippingAddressId", "billingAddressId", "lines"})


def _at_input(error: FacadeError, prefix: str, lines: Sequence[c.LineInput]) -> FacadeError:
    """A backend's refusal of an order write with `field` at the argument's path: the backends
    name the order's parts (`lines`, `customerId`) without `prefix` (`input.`), and a line by
    its SKU (`sku`, or `skus` for those without a price), which becomes the line's index:
    `input.lines.1.quantity` for its units or total, `.sku` for a SKU without a price."""
    field = error.extensions.get("field")
    if field not in _ORDER_PARTS:
        return error
    extensions = dict(error.extensions)
    message = error.message
    extensions["field"] = f"{prefix}{field}"
    if field == "lines":
        sku = extensions.get("sku") or next(iter(extensions.get("skus") or ()), None)
        index = next((i for i, line in enumerate(lines) if line.sku == sku), None)
        if index is not None:
            extensions["field"] = f"{prefix}lines.{index}.{'sku' if 'skus' in extensions else 'quantity'}"
        message = message.replace("`lines`", f"`{prefix}lines`", 1)
    return type(error)(message, **extensions)


def _repeated_sku(values: Sequence[Any]) -> int | None:
    """The index of the first item whose SKU an earlier one has; None when each SKU is once."""
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value.sku in seen:
            return index
        seen.add(value.sku)
    return None


def _unique_skus(values: Sequence[Any], field: str) -> None:
    again = _repeated_sku(values)
    if again is not None:
        raise BadUserInput(f"`{field}.{again}.sku` names a SKU an earlier item has.", field=f"{field}.{again}.sku")


async def _store(info: Info, store_id: str) -> Any:
    store = await info.context.loaders.store.load(lookup_key(store_id, "Store", "storeId", _numeric("storeId")))
    if store is None:
        raise NotFound("No store with that id.")
    _as_admin(info, store.tenant_id)
    return store


async def _known(info: Info, loader: str, value: str, type_name: str, field: str, tenant_id: str) -> str:
    """The Afosto id `value` names (its global id or sourceId, in `tenant_id`); NotFound when the
    tenant's Afosto has no such record (read through `loader`, a ById loader of the type)."""
    key = afosto_key(value, type_name, field, tenant_id)
    if await getattr(info.context.loaders, loader).load(key) is None:
        raise NotFound(f"The tenant's Afosto has no {type_name} with that id.", field=field)
    return key[1]


async def _link_channel(info: Info, store_id: str, channel_id: str, linked: bool) -> Any:
    store = await _store(info, store_id)
    if linked:
        source = await _known(info, "sales_channel", channel_id, "SalesChannel", "channelId", store.tenant_id)
    else:
        source = afosto_key(channel_id, "SalesChannel", "channelId", store.tenant_id)[1]
    await info.context.backend.links.link_store_channel(store.id, source, linked)
    _forget(info.context.loaders.channel_ids_of_store, store.id)
    _forget_pages(info.context.loaders.store_channels, store.tenant_store)
    return store


def _numeric(name: str) -> Any:
    return lambda value: int_id(value, name)


def _forget(loader: Any, *keys: Any) -> None:
    """Drop what this request's `loader` holds for `keys`: the payload reads the new link."""
    for key in keys:
        loader.clear(key)


def _forget_pages(loader: Any, parent: Any) -> None:
    for key in [k for k in loader.cache_map if k[0] == parent]:
        loader.clear(key)


# ---------------------------------------------------------------------------------------------
# The mutations


@strawberry.type
class CommerceMutations:
    @root_mutation(
        Need.TENANT_ADMIN,
        description="Set SKUs' prices in a price group (tenant admins; Afosto `PUT /cat/groups/{id}/prices`): "
        "each price is added, or replaced where the group has one for the SKU from the same `activeAt`. "
        "Answers the prices written. BAD_USER_INPUT, nothing written, for an amount or original amount above "
        "2,147,483,647 minor units (21474836.47 EUR) or with more decimals than the currency's.",
    )
    async def upsert_prices(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        price_group_id: Annotated[strawberry.ID, arg(AN_ID)],
        prices: Annotated[list[PriceInput], arg(Constraint(max_items=MAX_ITEMS))],
    ) -> list[Price] | None:
        _unique_skus(prices, "prices")
        link = await _linked(info, tenant_uid)
        key = afosto_key(price_group_id, "PriceGroup", "priceGroupId", tenant_uid)
        group = await info.context.loaders.price_group.load(key)
        if group is None:
            raise NotFound("The tenant's Afosto has no price group with that id.", field="priceGroupId")
        wanted = [
            c.PriceInput(
                sku=p.sku,
                amount=c.minor_units(p.amount, group.currency, f"prices.{index}.amount"),
                original_amount=None
                if p.original_amount is None
                else c.minor_units(p.original_amount, group.currency, f"prices.{index}.originalAmount"),
                # A time without an offset is UTC, as the reads take it (both modes answer alike).
                active_at=p.active_at
                if p.active_at is None or p.active_at.tzinfo is not None
                else p.active_at.replace(tzinfo=dt.UTC),
            )
            for index, p in enumerate(prices)
        ]
        return await info.context.backend.commerce.upsert_prices(link, group.id, wanted)  # type: ignore[return-value]

    @root_mutation(
        Need.TENANT_ADMIN,
        description="Set SKUs' available units at a location (tenant admins; Afosto `PUT /wms/inventory`). "
        "Answers the stock levels now.",
    )
    async def set_stock(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        location_id: Annotated[strawberry.ID, arg(AN_ID)],
        levels: Annotated[list[StockInput], arg(Constraint(max_items=MAX_ITEMS))],
    ) -> list[StockLevel] | None:
        _unique_skus(levels, "levels")
        link = await _linked(info, tenant_uid)
        location = await _known(info, "stock_location", location_id, "Location", "locationId", tenant_uid)
        wanted = [c.StockInput(sku=level.sku, available=level.available) for level in levels]
        return await info.context.backend.commerce.set_stock(link, location, wanted)  # type: ignore[return-value]

    @root_mutation(
        Need.TENANT_ADMIN,
        description="Create a sales channel (tenant admins; Afosto `POST /cat/channels`): `name` and `type` "
        "are required.",
    )
    async def create_sales_channel(
        self, info: Info, tenant_uid: Annotated[str, arg(UID)], input: SalesChannelInput
    ) -> SalesChannel | None:
        link = await _linked(info, tenant_uid)
        if not input.name or input.type is None:
            missing = "input.name" if not input.name else "input.type"
            raise BadUserInput(
                f"A new sales channel needs a `name` and a `type`: `{missing}` is missing.", field=missing
            )
        channel = c.ChannelInput(name=input.name, type=input.type, description=input.description or "")
        return await info.context.backend.commerce.create_channel(link, channel)

    @root_mutation(
        Need.USER,
        description="Change a sales channel (admins of its tenant; Afosto `PUT /cat/channels/{id}`): "
        "`id` is the channel's global id; fields left out stay as they are. A `type` is BAD_USER_INPUT "
        "(Afosto cannot change a channel's type), in both modes.",
    )
    async def update_sales_channel(
        self, info: Info, id: Annotated[strawberry.ID, arg(AN_ID)], input: SalesChannelInput
    ) -> SalesChannel | None:
        tenant_uid, channel_id = afosto_key(id, "SalesChannel", "id")
        _as_admin(info, tenant_uid)
        link = await _linked(info, tenant_uid)
        if input.name == "":
            raise BadUserInput("A sales channel's `name` cannot be empty.", field="input.name")
        if input.type is not None:  # the backends refuse it too, naming no argument path
            raise BadUserInput("Afosto cannot change a sales channel's type (`input.type`).", field="input.type")
        channel = c.ChannelInput(name=input.name, type=input.type, description=input.description)
        updated = await info.context.backend.commerce.update_channel(link, channel_id, channel)
        _forget(info.context.loaders.afosto_channels, tenant_uid)
        _forget(info.context.loaders.sales_channel, (tenant_uid, channel_id))
        return updated  # type: ignore[return-value]

    @root_mutation(
        Need.TENANT_MEMBER,
        description="Create an order (members; Afosto `POST /odr/orders` with `x-idempotency-key`): the same "
        "`idempotencyKey` with the same input again answers the same order and never creates a second one; "
        "with another input it is CONFLICT. Nothing is written on BAD_USER_INPUT: a SKU without a consumer "
        "price in effect (named in the message and `extensions.skus`), or a line's or the order's total above "
        "2,147,483,647 minor units; NOT_FOUND for a channel, customer or address the tenant's Afosto lacks.",
    )
    async def create_order(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        input: OrderInput,
        idempotency_key: Annotated[str, arg(IDEMPOTENCY_KEY)],
    ) -> Order | None:
        lines = _lines(input.lines, "input.lines")
        link = await _linked(info, tenant_uid)

        async def known(value: str | None, loader: str, type_name: str, field: str) -> str | None:
            return None if value is None else await _known(info, loader, value, type_name, field, tenant_uid)

        # Every record the order names is read first (one batch per type, the four at once), so a
        # missing one is NOT_FOUND at its input path in both modes, before anything is written.
        channel, customer, shipping, billing = await asyncio.gather(
            _known(info, "sales_channel", input.channel_id, "SalesChannel", "input.channelId", tenant_uid),
            known(input.customer_id, "afosto_customer", "Customer", "input.customerId"),
            known(input.shipping_address_id, "postal_address", "PostalAddress", "input.shippingAddressId"),
            known(input.billing_address_id, "postal_address", "PostalAddress", "input.billingAddressId"),
        )
        order = c.OrderInput(
            channel_id=channel,
            customer_id=customer,
            shipping_address_id=shipping,
            billing_address_id=billing,
            lines=tuple(lines),
        )
        try:
            return await info.context.backend.commerce.create_order(link, order, idempotency_key)  # type: ignore[return-value]
        except FacadeError as error:
            raise _at_input(error, "input.", lines) from None

    @root_mutation(
        Need.MEMBER,
        description="Add lines to an order (members of its tenant; Afosto `POST /odr/orders/{id}/items`): a SKU "
        "already on the order gets the units added. `orderId` is the order's global id. Answers the order. "
        "Nothing is written on BAD_USER_INPUT: a line the addition takes above 10,000 units, a SKU without a "
        "consumer price in effect, or an order total above 2,147,483,647 minor units; CONFLICT for a canceled "
        "order. With an `idempotencyKey` (Afosto's `x-idempotency-key`), the same lines again (in any order) "
        "add nothing and answer the order, also once it is canceled, so a client may retry after "
        "UPSTREAM_TIMEOUT; other lines under the key are CONFLICT. A key names one addition to one order "
        "(createOrder's key names the lines the order was created with). Upstream, where only Afosto knows a "
        "key was used, a retry is checked again against the order as it is now: BAD_USER_INPUT when its lines "
        "no longer fit the limits or their prices (the first call's lines are on the order then).",
    )
    async def add_order_lines(
        self,
        info: Info,
        order_id: Annotated[strawberry.ID, arg(AN_ID)],
        lines: Annotated[list[OrderLineInput], arg(Constraint(max_items=MAX_ITEMS))],
        idempotency_key: Annotated[str | None, arg(IDEMPOTENCY_KEY)] = None,
    ) -> Order | None:
        tenant_uid, source = afosto_key(order_id, "Order", "orderId")
        _as_member(info, tenant_uid)
        wanted = _lines(lines, "lines")
        link = await _linked(info, tenant_uid)
        try:
            order = await info.context.backend.commerce.add_order_lines(link, source, wanted, idempotency_key)
        except FacadeError as error:
            raise _at_input(error, "", wanted) from None
        _forget(info.context.loaders.lines_of_order, (tenant_uid, source))
        _forget_pages(info.context.loaders.order_lines, (tenant_uid, source))
        return order  # type: ignore[return-value]

    @root_mutation(
        Need.MEMBER,
        description="Cancel an order (members of its tenant; Afosto `POST /odr/orders/{id}/cancel`): Afosto "
        "cancels it asynchronously and answers a task (its x-task-id); poll it with `afostoTask`.",
    )
    async def cancel_order(self, info: Info, order_id: Annotated[strawberry.ID, arg(AN_ID)]) -> AfostoTask | None:
        tenant_uid, source = afosto_key(order_id, "Order", "orderId")
        _as_member(info, tenant_uid)
        link = await _linked(info, tenant_uid)
        return await info.context.backend.commerce.cancel_order(link, source)  # type: ignore[return-value]

    # -----------------------------------------------------------------------------------------
    # Join keys (local store, both modes): admins of the facade record's tenant

    @root_mutation(
        Need.TENANT_ADMIN,
        description="Link the tenant to an Afosto tenant by its id (tenant admins); null unlinks. Linking needs "
        "proof that the caller holds that Afosto account: an Afosto token of it in X-Afosto-Authorization "
        "(FORBIDDEN without; upstream, Afosto judges it with `GET /iam/tenants/{id}`). CONFLICT when that Afosto "
        "tenant is linked to another tenant. Answers the tenant's Afosto side (null once unlinked).",
    )
    async def link_afosto_tenant(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        afosto_tenant_id: Annotated[str | None, arg(AFOSTO_TENANT_ID)],
    ) -> TenantAfosto | None:
        if afosto_tenant_id is not None:
            await prove_afosto_account(info, tenant_uid, afosto_tenant_id)
        link = await info.context.backend.links.link_tenant(tenant_uid, afosto_tenant_id)
        _forget(info.context.loaders.afosto_tenant, tenant_uid)
        if link is not None:
            info.context.loaders.afosto_tenant.prime(tenant_uid, link)
        return link  # type: ignore[return-value]

    @root_mutation(
        Need.USER,
        description="Link a store to one of its tenant's Afosto sales channels (admins of the store's tenant). "
        "NOT_FOUND for a channel the tenant's Afosto does not have. Answers the store.",
    )
    async def link_store_sales_channel(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID, arg(GLOBAL_ID)],
        channel_id: Annotated[strawberry.ID, arg(AN_ID)],
    ) -> Annotated[Store, strawberry.lazy("facade.graph.stores")] | None:
        return await _link_channel(info, store_id, channel_id, True)  # type: ignore[no-any-return]

    @root_mutation(
        Need.USER,
        description="Unlink a store from an Afosto sales channel (admins of the store's tenant). Answers the store.",
    )
    async def unlink_store_sales_channel(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID, arg(GLOBAL_ID)],
        channel_id: Annotated[strawberry.ID, arg(AN_ID)],
    ) -> Annotated[Store, strawberry.lazy("facade.graph.stores")] | None:
        return await _link_channel(info, store_id, channel_id, False)  # type: ignore[no-any-return]

    @root_mutation(
        Need.USER,
        description="Set the Afosto location holding a store's stock (admins of the store's tenant); null "
        "unlinks. NOT_FOUND for a location the tenant's Afosto does not have. Answers the store.",
    )
    async def set_store_stock_location(
        self,
        info: Info,
        store_id: Annotated[strawberry.ID, arg(GLOBAL_ID)],
        location_id: Annotated[strawberry.ID | None, arg(AN_ID)],
    ) -> Annotated[Store, strawberry.lazy("facade.graph.stores")] | None:
        store = await _store(info, store_id)
        source = None
        if location_id is not None:
            source = await _known(info, "stock_location", location_id, "Location", "locationId", store.tenant_id)
        await info.context.backend.links.set_store_location(store.id, source)
        _forget(info.context.loaders.location_id_of_store, store.id)
        _forget(info.context.loaders.store_location, store.tenant_store)
        _forget_pages(info.context.loaders.store_stock, store.tenant_store)
        return store  # type: ignore[no-any-return]

    @root_mutation(
        Need.USER,
        description="Set the SKU Afosto knows a product by (admins of its store's tenant); null clears it. "
        "CONFLICT when another product of the tenant has that SKU. Answers the product.",
    )
    async def set_product_sku(
        self,
        info: Info,
        product_id: Annotated[strawberry.ID, arg(GLOBAL_ID)],
        sku: Annotated[str | None, arg(SKU)],
    ) -> Annotated[Product, strawberry.lazy("facade.graph.products")] | None:
        product = await info.context.loaders.product.load(
            lookup_key(product_id, "Product", "productId", _numeric("productId"))
        )
        if product is None:
            raise NotFound("No product with that id.")
        store = await info.context.loaders.store.load(product.store_id)
        _as_admin(info, store.tenant_id if store is not None else None)
        await info.context.backend.links.set_product_sku(product.id, sku)
        _forget(info.context.loaders.product_sku, product.id)
        _forget(info.context.loaders.sku_of, product.id)
        return product  # type: ignore[return-value]

    @root_mutation(
        Need.USER,
        description="Link a device to one of its tenant's Afosto print hubs (admins of the device's tenant); "
        "null unlinks. NOT_FOUND for a hub the tenant's Afosto does not have. Answers the device.",
    )
    async def link_device_print_hub(
        self,
        info: Info,
        device_id: Annotated[strawberry.ID, arg(NODE_OR_UID)],
        hub_id: Annotated[strawberry.ID | None, arg(AN_ID)],
    ) -> Annotated[Device, strawberry.lazy("facade.graph.devices")] | None:
        device = await info.context.loaders.device.load(
            lookup_key(device_id, "Device", "deviceId", lambda uid: check_uid(uid, "deviceId"))
        )
        if device is None:
            raise NotFound("No device with that id.")
        _as_admin(info, device.tenant_id)
        source = None
        if hub_id is not None and device.tenant_id is not None:
            source = await _known(info, "print_hub", hub_id, "PrintHub", "hubId", device.tenant_id)
        await info.context.backend.links.link_device_hub(device.id, source)
        _forget(info.context.loaders.hub_id_of_device, device.id)
        _forget(info.context.loaders.device_hub, device.tenant_device)
        return device  # type: ignore[return-value]


__all__ = [
    "AFOSTO_ID",
    "CommerceMutations",
    "OrderInput",
    "OrderLineInput",
    "PriceInput",
    "SalesChannelInput",
    "StockInput",
]
