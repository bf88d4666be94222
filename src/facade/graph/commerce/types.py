"""Afosto's commerce records as graph types, with their edges declared as data (base.batched /
paged), so the stage walker and the compiled executor load a whole level at once.

Every type here has one record rule: members of the facade tenant the record was read for
(`tenant_id`, the tenant linked to the Afosto tenant). The edges into this data from facade's
stores, products, devices and tenants are declared on those types (stores.py, products.py,
devices.py, tenants.py) and are members-only there.

A record's `id` is its global id, base64 of `<Type>:<tenant uid>:<Afosto id>` (unique across
types and tenants); `sourceId` is the id Afosto knows it by. Money is Afosto's integer minor units:
`amountMinor`/`totalMinor` as they are, `amount`/`total` as a decimal string in the currency's
minor unit ("12.50" EUR, "500" JPY).

Imports base, inputs, nodes, permissions, sorting, commerce and models; never a backend.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from facade import commerce as c
from facade.auth import Principal
from facade.errors import BadUserInput, UpstreamError
from facade.graph.base import Connection, Info, Need, batched, found, paged, root_field
from facade.graph.edges import reads
from facade.graph.inputs import UID, Constraint, arg
from facade.graph.nodes import TYPES, Node, article, canonical_text, node_type, refuse_altered, text_key
from facade.graph.permissions import is_member, record_rule
from facade.graph.sorting import CommerceSort

if TYPE_CHECKING:
    from facade.graph.devices import Device
    from facade.graph.products import Product
    from facade.graph.stores import Store
    from facade.graph.users import User

# An Afosto id as an argument: uuids and Afosto's shorter ids, never a control character.
AFOSTO_ID = Constraint(pattern="[A-Za-z0-9_.:-]+", max_length=64)
# An Afosto record's `sourceId` or its global id (base64), where the field also names the tenant.
AFOSTO_ID_OR_NODE = Constraint(pattern="[A-Za-z0-9_.:+/=-]+", max_length=480)
# An order number as a filter: never empty (Afosto reads an empty `number` as no filter at all).
ORDER_NUMBER = Constraint(min_length=1, max_length=64)

SalesChannelTypeEnum = strawberry.enum(
    c.SalesChannelType, name="SalesChannelType", description="What a sales channel sells through (CatChannel.type)."
)
OrderStatusEnum = strawberry.enum(
    c.OrderStatus, name="OrderStatus", description="Where an order is: open, confirmed or canceled."
)
PrintHubStatusEnum = strawberry.enum(
    c.PrintHubStatus, name="PrintHubStatus", description="Whether a print hub is connected to Afosto."
)


GRAPHQL_INT = range(-(2**31), 2**31)  # GraphQL's Int: a signed 32-bit integer


def _graphql_int(minor: int, field: str) -> int:
    """An amount in minor units as GraphQL's Int; UpstreamError (this field alone is null) for
    one that does not fit, which facade never writes (MAX_MINOR) but Afosto may hold."""
    if minor not in GRAPHQL_INT:
        raise UpstreamError(
            f"`{field}` is {minor} minor units, more than GraphQL's Int holds: read the decimal amount instead.",
            field=field,
        )
    return int(minor)


def global_id(type_name: str, tenant_id: str, source_id: str) -> strawberry.ID:
    """The global id of a commerce record: base64 of `<Type>:<tenant uid>:<Afosto id>`."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{tenant_id}:{source_id}".encode()).decode())


def afosto_key(value: str, type_name: str, field: str, tenant_id: str | None = None) -> tuple[str, str]:
    """(tenant uid, Afosto id) from `value`: a global id of `type_name`, or, where the tenant is
    known (`tenant_id`), the Afosto id itself (`sourceId`). BadUserInput for a global id of
    another type or tenant, and for anything that is neither."""
    decoded = _decode(value)
    if decoded is not None:
        kind, _, rest = decoded.partition(":")
        owner, _, source = rest.partition(":")
        if kind == type_name and owner and source:
            if tenant_id is not None and owner != tenant_id:
                raise BadUserInput(f"`{field}` is an id of another tenant.", field=field)
            return owner, source
        if kind != type_name and (kind in TYPES or (kind and rest and kind[0].isupper() and ":" in rest)):
            # Another type's global id (a Store's as much as a Location's): a mistake, not a lookup.
            raise BadUserInput(f"`{field}` must be the id of {article(type_name)}.", field=field, reason="WRONG_TYPE")
    else:
        refuse_altered(value, field)
    if tenant_id is None:
        raise BadUserInput(f"`{field}` must be the global id of {article(type_name)} (its `id`).", field=field)
    if len(value) > 64 or not re.fullmatch(r"[A-Za-z0-9_.:-]+", value):
        raise BadUserInput(f"`{field}` is not an Afosto id.", field=field)
    return tenant_id, value


def _decode(value: str) -> str | None:
    return None if len(value) > 256 else canonical_text(value)


def _of_tenant(principal: Principal | None, record: Any, _: Any) -> bool:
    return is_member(principal, record.tenant_id)


def _key_of_tenant(principal: Principal | None, key: tuple[str, str]) -> bool:
    """`_of_tenant` for a record's key (tenant uid, Afosto id), before it is loaded."""
    return is_member(principal, key[0])


MEMBERS = "members of the tenant linked to its Afosto tenant"
GLOBAL_ID = "Global id: base64 of `<Type>:<tenant uid>:<Afosto id>`, unique across types and tenants."
SOURCE_ID = "The record's id in Afosto."


# The Node types among them: type name -> (its ById loader, keyed (tenant uid, Afosto id); its
# record class). `Price` has no read by id (Afosto lists prices by group), so it is not one.
NODES: dict[str, tuple[str, type]] = {
    "SalesChannel": ("sales_channel", c.SalesChannel),
    "PriceGroup": ("price_group", c.PriceGroup),
    "Location": ("stock_location", c.Location),
    "PostalAddress": ("postal_address", c.PostalAddress),
    "Customer": ("afosto_customer", c.Customer),
    "Order": ("afosto_order", c.Order),
    "PrintHub": ("print_hub", c.PrintHub),
    "Printer": ("printer", c.Printer),
    "AfostoUser": ("afosto_user", c.AfostoUser),
    "AfostoPlan": ("afosto_plan", c.AfostoPlan),
    "AfostoTask": ("afosto_task", c.AfostoTask),
}


def record_key(text: str) -> tuple[str, str]:
    """The loader key of a commerce Node id's key text `<tenant uid>:<Afosto id>`; ValueError
    for anything else."""
    tenant_id, colon, source_id = text.partition(":")
    if not colon or len(source_id) > 64 or not re.fullmatch(r"[A-Za-z0-9_.:-]+", source_id):
        raise ValueError(text)
    return text_key(tenant_id), source_id


def record_key_of(record: Any) -> str:
    """A commerce record's key text: `<tenant uid>:<Afosto id>`."""
    return f"{record.tenant_id}:{record.id}"


def commerce_record(*names: str) -> Any:
    """`@strawberry.type` with the commerce record rule: `commerce_record(description)` for a
    record without an id of its own, `commerce_record(type name, description)` for one with an
    Afosto id, which gets `id` (its global id) and `sourceId` (the Afosto id); those in `NODES`
    implement `Node` (the class derives from it), so `node(id:)` refetches them under the rule."""
    *type_name, description = names

    def decorate(cls: type) -> type:
        if type_name and type_name[0] in NODES:
            loader, record = NODES[type_name[0]]
            cls = node_type(type_name[0], loader, record_key, record, key_of=record_key_of, admits=_key_of_tenant)(cls)
        elif type_name:
            cls.id = strawberry.field(resolver=_global_resolver(type_name[0]), description=GLOBAL_ID)  # type: ignore[attr-defined]
            cls.source_id = strawberry.field(resolver=_source_id, description=SOURCE_ID)  # type: ignore[attr-defined]
        return record_rule(_of_tenant, MEMBERS, by="tenant_id")(strawberry.type(description=description)(cls))

    return decorate


def _global_resolver(type_name: str) -> Any:
    def id(self: Any) -> strawberry.ID:  # noqa: A001 - the field's name
        return global_id(type_name, self.tenant_id, self.id)

    return id


@reads("id")
def _source_id(self: Any) -> strawberry.ID:
    return strawberry.ID(self.id)


@commerce_record(
    "SalesChannel",
    "A sales channel (Afosto CatChannel: `GET /cat/channels`): a POS, a storefront, an integration.",
)
class SalesChannel(Node):
    name: str
    type: SalesChannelTypeEnum  # type: ignore[valid-type]
    description: str
    created_at: dt.datetime
    store: Annotated[Store, strawberry.lazy("facade.graph.stores")] | None = batched(
        "store_of_channel",
        "ref",
        description="The facade store linked to the channel when exactly one is; null when none is, or several "
        "are (a storefront serving every store: each store lists it in `Store.salesChannels`).",
    )


@commerce_record(
    "PriceGroup",
    "A price group (Afosto CatGroup: `GET /cat/groups`): one currency, prices with or without VAT.",
)
class PriceGroup(Node):
    name: str
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @strawberry.field(description="Whether the group's amounts include VAT.")
    def includes_vat(self) -> bool:
        record: Any = self
        return bool(record.is_including_vat)


@commerce_record(
    "Price",
    "One SKU's price in one price group from `activeAt` (Afosto CatPrice: `POST /cat/groups/{id}/prices`).",
)
class Price:
    sku: str

    @strawberry.field(description='The amount as a decimal string in the currency, e.g. "12.50".')
    def amount(self) -> str:
        record: Any = self
        return c.decimal_amount(record.amount, record.currency)

    @strawberry.field(
        description="The amount in minor units of the currency (cents), as Afosto holds it; null with an "
        "UPSTREAM_ERROR for this field alone when it does not fit GraphQL's Int (`amount` shows it whole)."
    )
    def amount_minor(self) -> int | None:
        record: Any = self
        return _graphql_int(record.amount, "amountMinor")

    @strawberry.field(description='The amount before a discount, as a decimal string ("15.00"); null without one.')
    def original_amount(self) -> str | None:
        record: Any = self
        original = record.original_amount
        return None if original is None else c.decimal_amount(original, record.currency)

    currency: str = strawberry.field(description="ISO 4217 code of the price group, e.g. EUR.")
    vat_rate: str | None = strawberry.field(description='VAT percentage as a decimal string ("21.00"); null if none.')

    @strawberry.field(description="Whether the amount includes VAT (the price group's setting).")
    def includes_vat(self) -> bool:
        record: Any = self
        return bool(record.is_including_vat)

    active_at: dt.datetime | None = strawberry.field(description="From when the price applies; null: always.")
    price_group: PriceGroup | None = batched("price_group", "group_ref", description="The price group.")
    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched(
        "product_of_sku", "sku_ref", description="The facade product with this SKU (null when none has it)."
    )


@commerce_record(
    "PostalAddress",
    "A postal address (Afosto RelAddress: `POST /rel/search/address`), libaddressinput's shape.",
)
class PostalAddress(Node):
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. NL.")
    administrative_area: str
    locality: str
    postal_code: str

    @strawberry.field(description="First line of the street address.")
    def address_line1(self) -> str:
        record: Any = self
        return str(record.address_line_1)

    @strawberry.field(description="Second line of the street address.")
    def address_line2(self) -> str:
        record: Any = self
        return str(record.address_line_2)

    organisation: str
    given_name: str
    family_name: str


@commerce_record("One SKU's stock at one location, in units (Afosto WmsStock: `POST /wms/inventory`).")
class StockLevel:
    sku: str
    available: int
    reserved: int
    claimed: int
    transit: int
    missing: int
    backordered: int
    total: int = strawberry.field(description="All units at the location, whatever their state.")
    location: Location | None = batched("stock_location", "location_ref", description="Where the units are.")
    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched(
        "product_of_sku", "sku_ref", description="The facade product with this SKU (null when none has it)."
    )


@commerce_record(
    "Location",
    "A place whose stock Afosto counts: a warehouse or a shop floor (Afosto WmsLocation).",
)
class Location(Node):
    name: str
    country_code: str
    address: PostalAddress | None = batched("postal_address", "address_ref", description="Its address, if any.")
    store: Annotated[Store, strawberry.lazy("facade.graph.stores")] | None = batched(
        "store_of_location", "ref", description="The facade store whose stock this is (null when none is linked)."
    )
    stock: StockLevelConnection | None = paged(
        "location_stock", "ref", sort=CommerceSort, description="Stock levels here (`POST /wms/inventory`)."
    )


@commerce_record(
    "Customer",
    "A customer (Afosto RelContact: `POST /rel/contacts`).",
)
class Customer(Node):
    email: str
    given_name: str
    family_name: str
    is_guest: bool
    created_at: dt.datetime


@commerce_record(
    "Order",
    "An order (Afosto OdrOrder: `GET /odr/orders`, `POST /odr/search/orders`).",
)
class Order(Node):
    number: str
    status: OrderStatusEnum  # type: ignore[valid-type]
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @strawberry.field(description='The order total as a decimal string in its currency, e.g. "42.50".')
    def total(self) -> str:
        record: Any = self
        return c.decimal_amount(record.total, record.currency)

    @strawberry.field(
        description="The order total in minor units (cents), as Afosto holds it; null with an UPSTREAM_ERROR "
        "for this field alone when it does not fit GraphQL's Int (`total` shows it whole)."
    )
    def total_minor(self) -> int | None:
        record: Any = self
        return _graphql_int(record.total, "totalMinor")

    created_at: dt.datetime
    canceled_at: dt.datetime | None
    channel: SalesChannel | None = batched("sales_channel", "channel_ref", description="Where it was sold.")
    customer: Customer | None = batched("afosto_customer", "customer_ref", description="Who ordered.")
    shipping_address: PostalAddress | None = batched("postal_address", "shipping_address_ref")
    billing_address: PostalAddress | None = batched("postal_address", "billing_address_ref")
    lines: OrderLineConnection | None = paged(
        "order_lines", "ref", sort=CommerceSort, description="What was ordered, one line per SKU."
    )


@commerce_record("An order's items of one SKU (Afosto OdrGroup: `POST /odr/search/orders/items`).")
class OrderLine:
    sku: str
    description: str
    quantity: int = strawberry.field(description="Units ordered.")
    order: Order | None = batched("afosto_order", "order_ref", description="The order.")
    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched(
        "product_of_sku", "sku_ref", description="The facade product with this SKU (null when none has it)."
    )
    stock: StockLevelConnection | None = paged(
        "sku_stock", "sku_ref", sort=CommerceSort, description="The SKU's stock at every location."
    )


@commerce_record(
    "PrintHub",
    "A print hub (Afosto SplHub: `GET /spl/hubs`): the box a store's receipt printers hang off.",
)
class PrintHub(Node):
    name: str
    description: str
    status: PrintHubStatusEnum | None = batched(  # type: ignore[valid-type]
        "hub_status",
        "ref",
        description="Live status (`GET /spl/hubs/{id}/status`, one call per hub, concurrent).",
    )
    status_updated_at: dt.datetime | None
    printers: PrinterConnection | None = paged(
        "hub_printers", "ref", sort=CommerceSort, description="Its printers (`GET /spl/printers`)."
    )
    device: Annotated[Device, strawberry.lazy("facade.graph.devices")] | None = batched(
        "device_of_hub", "ref", description="The facade device linked to the hub (null when none is)."
    )


@commerce_record(
    "Printer",
    "A printer on a print hub (Afosto SplPrinter: `GET /spl/printers`).",
)
class Printer(Node):
    name: str
    default_encoding: str
    hub: PrintHub | None = batched("print_hub", "hub_ref", description="The hub it hangs off.")


@commerce_record(
    "AfostoUser",
    "A user of the Afosto tenant (Afosto IamUser: `GET /iam/users`).",
)
class AfostoUser(Node):
    email: str
    first_name: str
    last_name: str
    roles: list[str]
    user: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched(
        "user_by_email", "email_ref", description="The facade user with this e-mail address in the tenant."
    )


@commerce_record(
    "AfostoPlan",
    "The Afosto tenant's own plan with Afosto (Afosto IamSubscription: `GET /iam/subscriptions`).",
)
class AfostoPlan(Node):
    code: str
    is_renewing: bool
    start_at: dt.datetime | None
    end_at: dt.datetime | None


@commerce_record(
    "AfostoTask",
    "An asynchronous Afosto write, e.g. an order's cancellation (Afosto MesTask: `GET /mes/tasks/{id}`); "
    "poll it with `afostoTask` until `completedAt` is set.",
)
class AfostoTask(Node):
    name: str
    progress: int = strawberry.field(description="Percent done, 0 to 100.")
    result: str
    started_at: dt.datetime | None
    completed_at: dt.datetime | None


@strawberry.type(description="A page of SalesChannel items (Relay).")
class SalesChannelConnection(Connection[SalesChannel]):
    pass


@strawberry.type(description="A page of PriceGroup items (Relay).")
class PriceGroupConnection(Connection[PriceGroup]):
    pass


@strawberry.type(description="A page of Price items (Relay).")
class PriceConnection(Connection[Price]):
    pass


@strawberry.type(description="A page of StockLevel items (Relay).")
class StockLevelConnection(Connection[StockLevel]):
    pass


@strawberry.type(description="A page of Location items (Relay).")
class LocationConnection(Connection[Location]):
    pass


@strawberry.type(description="A page of Order items (Relay).")
class OrderConnection(Connection[Order]):
    pass


@strawberry.type(description="A page of OrderLine items (Relay).")
class OrderLineConnection(Connection[OrderLine]):
    pass


@strawberry.type(description="A page of PrintHub items (Relay).")
class PrintHubConnection(Connection[PrintHub]):
    pass


@strawberry.type(description="A page of Printer items (Relay).")
class PrinterConnection(Connection[Printer]):
    pass


@strawberry.type(description="A page of AfostoUser items (Relay).")
class AfostoUserConnection(Connection[AfostoUser]):
    pass


@strawberry.type(description="A page of AfostoPlan items (Relay).")
class AfostoPlanConnection(Connection[AfostoPlan]):
    pass


@commerce_record(
    "A tenant's Afosto side: the Afosto tenant linked to it and that tenant's lists. Each list is read "
    "whole once per request (`GET /iam/users`, `/cat/channels`, `/cat/groups`, `/wms/locations`, "
    "`/spl/hubs`, `/iam/subscriptions`); orders page through `GET /odr/orders`."
)
class TenantAfosto:
    afosto_tenant_id: str = strawberry.field(description="The linked Afosto tenant's id.")
    users: AfostoUserConnection | None = paged("tenant_users", "tenant_id", sort=CommerceSort)
    sales_channels: SalesChannelConnection | None = paged("tenant_channels", "tenant_id", sort=CommerceSort)
    price_groups: PriceGroupConnection | None = paged("tenant_price_groups", "tenant_id", sort=CommerceSort)
    locations: LocationConnection | None = paged("tenant_locations", "tenant_id", sort=CommerceSort)
    print_hubs: PrintHubConnection | None = paged("tenant_hubs", "tenant_id", sort=CommerceSort)
    plans: AfostoPlanConnection | None = paged("tenant_plans", "tenant_id", sort=CommerceSort)
    orders: OrderConnection | None = paged(
        "tenant_orders",
        "tenant_id",
        sort=CommerceSort,
        filters=[("number", Annotated[str | None, arg(ORDER_NUMBER)], None)],
        description="Orders, newest first as Afosto lists them (`GET /odr/orders`; by creation time, then id); "
        "`sortDirection: DESC` is oldest first, BAD_USER_INPUT in upstream mode (Afosto can neither sort nor "
        "count orders). `number` (1-64 characters) picks one order by its number.",
    )


@strawberry.type
class CommerceQueries:
    @root_field(
        Need.TENANT_MEMBER,
        description="An Afosto task of a tenant by its `id` or its `sourceId` (the x-task-id a write such as "
        "`cancelOrder` answers; `GET /mes/tasks/{id}`). NOT_FOUND when the tenant's Afosto has no such task; "
        "BAD_USER_INPUT for another type's or another tenant's id.",
    )
    async def afosto_task(
        self, info: Info, tenant_uid: Annotated[str, arg(UID)], id: Annotated[strawberry.ID, arg(AFOSTO_ID_OR_NODE)]
    ) -> AfostoTask | None:
        key = afosto_key(str(id), "AfostoTask", "id", tenant_uid)
        return await found(info.context.loaders.afosto_task.load(key), "Afosto task")  # type: ignore[no-any-return]


__all__ = [
    "AFOSTO_ID",
    "AfostoPlan",
    "AfostoTask",
    "AfostoUser",
    "CommerceQueries",
    "Customer",
    "Location",
    "Order",
    "OrderLine",
    "PostalAddress",
    "Price",
    "PriceConnection",
    "PriceGroup",
    "PrintHub",
    "Printer",
    "SalesChannel",
    "SalesChannelConnection",
    "StockLevel",
    "StockLevelConnection",
    "TenantAfosto",
    "afosto_key",
    "global_id",
]
