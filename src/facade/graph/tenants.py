"""Tenants: the businesses that own stores, users and devices. Everything operational hangs off a
tenant and is visible to its members only."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from facade.graph.base import Info, Need, batched, paged, root_field, same_tenant
from facade.graph.inputs import UID, arg
from facade.graph.sorting import DeviceSort, StoreSort, UserSort

if TYPE_CHECKING:
    from facade.graph.devices import DeviceConnection
    from facade.graph.stores import StoreConnection
    from facade.graph.users import UserConnection

_member = same_tenant(lambda tenant: tenant.id)


@strawberry.type(description="A business (Flow Retail tenant) with its stores, users and devices.")
class Tenant:
    id: strawberry.ID
    name: str
    created_at: dt.datetime

    stores: Annotated[StoreConnection, strawberry.lazy("facade.graph.stores")] | None = paged(
        "stores_by_tenant",
        "id",
        sort=StoreSort,
        guard=_member,
        description="The tenant's stores (members only).",
    )
    users: Annotated[UserConnection, strawberry.lazy("facade.graph.users")] | None = paged(
        "users_by_tenant",
        "id",
        sort=UserSort,
        guard=_member,
        description="The tenant's users (members only).",
    )
    devices: Annotated[DeviceConnection, strawberry.lazy("facade.graph.devices")] | None = paged(
        "devices_by_tenant",
        "id",
        sort=DeviceSort,
        guard=_member,
        description="The tenant's devices (members only).",
    )


@strawberry.type
class TenantQueries:
    @root_field(Need.TENANT_MEMBER, description="A tenant you belong to.")
    def tenant(self, info: Info, tenant_uid: Annotated[str, arg(UID)]) -> Tenant | None:
        return info.context.loaders.tenant.load(tenant_uid)  # type: ignore[return-value]


__all__ = ["Tenant", "TenantQueries", "batched"]
