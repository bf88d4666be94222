"""Stores (FLECS productStore, Flow Retail store) with their address, tills, catalogue and devices.

A store's storefront (name, address, products) is public, as the FLECS product listings are;
its tills, devices and staff are visible to members of its tenant only.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from facade import models
from facade.graph.base import (
    Connection,
    Info,
    Need,
    batched,
    found,
    int_id,
    listed,
    member_of,
    page_args,
    paged,
    root_field,
)
from facade.graph.inputs import ACCOUNT_TYPES, CURSOR, GLOBAL_ID, PAGE_SIZE, UID, arg
from facade.graph.nodes import Node, int_key, lookup_key, node_type, text_key
from facade.graph.permissions import is_of_tenant, record_rule
from facade.graph.sorting import CommerceSort, DeviceSort, ProductSort, StoreSort, UserSort
from facade.models import SortDirection, check_uid

if TYPE_CHECKING:
    from facade.graph.commerce.types import Location, SalesChannelConnection, StockLevelConnection
    from facade.graph.devices import DeviceConnection
    from facade.graph.products import ProductConnection
    from facade.graph.tenants import Tenant
    from facade.graph.users import UserConnection

# A store's tills, devices and staff are its tenant's business: these edges are the store's private
# fields, decided before anything is loaded (and tills and devices have their own record rules).
_member = member_of(lambda store: store.tenant_id)


@strawberry.type(description="A postal address.")
class Address:
    street_1: str
    street_2: str
    city: str
    zip: str
    country: str
    state: str


@strawberry.type(description="A shop: its storefront, catalogue, tills and devices.")
@node_type("Store", "store", int_key, models.Store)
class Store(Node):
    uid: str = strawberry.field(description="Flow Retail store uid.")
    name: str
    shop_name: str
    url: str
    address: Address
    created_at: dt.datetime

    tenant: Annotated[Tenant, strawberry.lazy("facade.graph.tenants")] | None = batched("tenant", "tenant_id")
    products: Annotated[ProductConnection, strawberry.lazy("facade.graph.products")] | None = paged(
        "products_by_store",
        "id",
        sort=ProductSort,
        fixed=(False,),
        description="The store's products.",
    )
    apps: Annotated[ProductConnection, strawberry.lazy("facade.graph.products")] | None = paged(
        "products_by_store",
        "id",
        sort=ProductSort,
        fixed=(True,),
        description="The store's app products.",
    )
    tills: list[Till] | None = listed("tills_by_store", "id", guard=_member, description="Tills (members only).")
    devices: Annotated[DeviceConnection, strawberry.lazy("facade.graph.devices")] | None = paged(
        "devices_by_store",
        "id",
        sort=DeviceSort,
        guard=_member,
        description="Devices in the store (members only).",
    )
    users: Annotated[UserConnection, strawberry.lazy("facade.graph.users")] | None = paged(
        "users_by_store",
        "id",
        sort=UserSort,
        guard=_member,
        filters=[("account_types", Annotated[list[str] | None, arg(ACCOUNT_TYPES)], None)],
        description="Users with access to the store (members only).",
    )
    # Afosto: through the store's join keys (store_sales_channels, store_stock_locations).
    sales_channels: Annotated[SalesChannelConnection, strawberry.lazy("facade.graph.commerce.types")] | None = paged(
        "store_channels",
        "tenant_store",
        sort=CommerceSort,
        guard=_member,
        description="The Afosto sales channels linked to the store (members only; `GET /cat/channels`).",
    )
    stock: Annotated[StockLevelConnection, strawberry.lazy("facade.graph.commerce.types")] | None = paged(
        "store_stock",
        "tenant_store",
        sort=CommerceSort,
        guard=_member,
        description="Stock levels at the store's linked Afosto location (members only; `POST /wms/inventory`); "
        "empty when no location is linked.",
    )
    stock_location: Annotated[Location, strawberry.lazy("facade.graph.commerce.types")] | None = batched(
        "store_location",
        "tenant_store",
        guard=_member,
        description="The Afosto location holding the store's stock (members only; null when none is linked).",
    )


@record_rule(
    lambda principal, till, store: store is not None and is_of_tenant(principal, store.tenant_id),
    "the people and devices of its store's tenant",
    via=("store", "store_id"),
)
@strawberry.type(description="A till (checkout) in a store.")
@node_type("Till", "till", text_key, models.Till)
class Till(Node):
    name: str
    store: Store | None = batched("store", "store_id")


@strawberry.type(description="A page of Store items (Relay).")
class StoreConnection(Connection[Store]):
    pass


@strawberry.type
class StoreQueries:
    @root_field(Need.PUBLIC, description="A store by id: its global `id`, or its `sourceId` (FLECS store id).")
    async def store(self, info: Info, id: Annotated[strawberry.ID, arg(GLOBAL_ID)]) -> Store | None:
        key = lookup_key(id, "Store", "id", int_id)
        return await found(info.context.loaders.store.load(key), "store")  # type: ignore[no-any-return]

    @root_field(Need.PUBLIC, description="A store by its Flow Retail uid.")
    async def store_by_uid(self, info: Info, uid: Annotated[str, arg(UID)]) -> Store | None:
        return await found(info.context.loaders.store_by_uid.load(check_uid(uid, "uid")), "store")  # type: ignore[no-any-return]

    @root_field(Need.PUBLIC, description="Every storefront.")
    async def stores(
        self,
        info: Info,
        first: Annotated[int | None, arg(PAGE_SIZE)] = None,
        after: Annotated[str | None, arg(CURSOR)] = None,
        sort_by: StoreSort | None = None,
        sort_direction: SortDirection | None = None,
    ) -> StoreConnection | None:
        return await info.context.loaders.stores_all.load((page_args(info, first, after, sort_by, sort_direction),))  # type: ignore[return-value]
