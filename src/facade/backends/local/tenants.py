"""Tenants in the local store: the Flow Retail tenants that own stores, tenant users and devices.

Read-only here: tenants are made by the seed (or by an operator), never through the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from facade.backends.local import tables as t
from facade.backends.local.base import Repository, construct, in_keys
from facade.models import Tenant

build_tenant = construct(Tenant)
_BY_ID = select(t.tenants).where(in_keys(t.tenants.c.id))


class LocalTenants(Repository):
    async def get_many(self, ids: Sequence[str]) -> dict[str, Tenant]:
        if not ids:
            return {}
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_tenant(row) for row in rows}
