"""Tenants: the businesses that own stores, users and devices. Everything operational hangs off a
tenant and is visible to its members only: the record rule below applies wherever a tenant appears
(its root field, `store.tenant`, `device.tenant`, `user.tenant`), so its lists need no guard."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from facade import models
from facade.graph.base import Info, Need, batched, member_of, paged, root_field
from facade.graph.inputs import UID, arg
from facade.graph.nodes import Node, node_type, text_key
from facade.graph.permissions import is_member, record_rule
from facade.graph.sorting import DeviceSort, StoreSort, UserSort

if TYPE_CHECKING:
    from facade.graph.commerce.types import TenantAfosto
    from facade.graph.devices import DeviceConnection
    from facade.graph.stores import StoreConnection
    from facade.graph.users import UserConnection


@record_rule(lambda principal, tenant, _: is_member(principal, tenant.id), "its members")
@strawberry.type(description="A business (Flow Retail tenant) with its stores, users and devices.")
@node_type("Tenant", "tenant", text_key, models.Tenant)
class Tenant(Node):
    name: str
    created_at: dt.datetime

    stores: Annotated[StoreConnection, strawberry.lazy("facade.graph.stores")] | None = paged(
        "stores_by_tenant",
        "id",
        sort=StoreSort,
        description="The tenant's stores (members only).",
    )
    users: Annotated[UserConnection, strawberry.lazy("facade.graph.users")] | None = paged(
        "users_by_tenant",
        "id",
        sort=UserSort,
        description="The tenant's users (members only).",
    )
    devices: Annotated[DeviceConnection, strawberry.lazy("facade.graph.devices")] | None = paged(
        "devices_by_tenant",
        "id",
        sort=DeviceSort,
        description="The tenant's devices (members only).",
    )
    afosto: Annotated[TenantAfosto, strawberry.lazy("facade.graph.commerce.types")] | None = batched(
        "tenant_afosto",
        "id",
        guard=member_of(lambda tenant: tenant.id),
        description="The tenant's Afosto side (members only): null when no Afosto tenant is linked.",
    )


@strawberry.type
class TenantQueries:
    @root_field(Need.TENANT_MEMBER, description="A tenant you belong to.")
    def tenant(self, info: Info, tenant_uid: Annotated[str, arg(UID)]) -> Tenant | None:
        return info.context.loaders.tenant.load(tenant_uid)  # type: ignore[return-value]


__all__ = ["Tenant", "TenantQueries"]
