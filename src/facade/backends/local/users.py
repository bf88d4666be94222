"""Users in the local store: FLECS console accounts (login by name or e-mail) and Flow Retail tenant
users (login on a device by user code), which are the same rows here.

Also the credential checks the device repository shares: a tenant user by user code, and a
password check that costs the same whether or not the user exists.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facade.auth import TokenKind, TokenService, hash_password, verify_password
from facade.backends.interfaces import LoginResult
from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Reads, Repository, construct, in_keys, page_by_parent, reading
from facade.errors import Unauthenticated
from facade.models import Page, PageArgs, TenantRole, User

WRONG_CREDENTIALS = "The username or password is incorrect."

# Every column but the password hash, so a hash never travels further than the password check.
USER_COLUMNS = [c for c in t.users.c if c.name != "password_hash"]

SORTABLE: dict[str, Any] = {
    "id": t.users.c.id,
    "display_name": t.users.c.display_name,
    "login": t.users.c.login,
    "created_at": t.users.c.created_at,
}


_user = construct(User)
_ROLES = {role.value: role for role in TenantRole}


_BY_ID = select(*USER_COLUMNS).where(in_keys(t.users.c.id))
_BY_TENANT = Listing(select(*USER_COLUMNS), SORTABLE, t.users.c.id, t.users.c.tenant_id)
_WITH_ACCESS = select(*USER_COLUMNS).join(t.store_access, t.store_access.c.user_id == t.users.c.id)
_BY_STORE = Listing(_WITH_ACCESS, SORTABLE, t.users.c.id, t.store_access.c.store_id)
_OF_TYPES = _WITH_ACCESS.where(in_keys(t.users.c.account_type, "account_types"))
_BY_STORE_OF_TYPES = Listing(_OF_TYPES, SORTABLE, t.users.c.id, t.store_access.c.store_id)


def build_user(row: dict[str, Any]) -> User:
    """A user from its row (a dict it takes over) without the password hash."""
    row["tenant_role"] = _ROLES[row["tenant_role"]]
    return _user(row)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def password_matches(password: str, stored_hash: str | None) -> bool:
    """Checks a password off the event loop (scrypt takes tens of milliseconds of CPU).

    An unknown user is checked against a throwaway hash, so a wrong login takes as long as a
    wrong password and the timing does not tell which logins exist.
    """
    if stored_hash is None:
        await asyncio.to_thread(verify_password, password, _dummy_hash())
        return False
    return await asyncio.to_thread(verify_password, password, stored_hash)


async def tenant_user_by_code(conn: AsyncConnection, tenant_id: str, user_code: str, password: str) -> User:
    """The tenant user a device login names, or Unauthenticated (one message for every failure)."""
    row = (
        (
            await conn.execute(
                select(*USER_COLUMNS, t.users.c.password_hash).where(
                    t.users.c.tenant_id == tenant_id, t.users.c.user_code == user_code
                )
            )
        )
        .mappings()
        .first()
    )
    if not await password_matches(password, row["password_hash"] if row else None) or row is None:
        raise Unauthenticated("The user code or password is incorrect.")
    return build_user({c.name: row[c.name] for c in USER_COLUMNS})


async def page_users_by_store(
    conn: Reads,
    store_ids: Sequence[int],
    page: PageArgs,
    account_types: Sequence[str] | None,
) -> dict[int, Page[User]]:
    """Users holding a store-access row for each store, one windowed query for all stores.

    `account_types` None or empty means every account type.
    """
    if account_types:
        params = {"account_types": list(account_types)}
        return await page_by_parent(conn, _BY_STORE_OF_TYPES, store_ids, page, build_user, params)
    return await page_by_parent(conn, _BY_STORE, store_ids, page, build_user)


class LocalUsers(Repository):
    def __init__(self, engine: AsyncEngine, tokens: TokenService) -> None:
        super().__init__(engine)
        self.tokens = tokens

    async def get_many(self, ids: Sequence[int]) -> dict[int, User]:
        if not ids:
            return {}
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_user(row) for row in rows}

    async def page_by_tenant(self, tenant_ids: Sequence[str], page: PageArgs) -> dict[str, Page[User]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_TENANT, tenant_ids, page, build_user)

    async def page_by_store_access(
        self, store_ids: Sequence[int], page: PageArgs, account_types: Sequence[str] | None
    ) -> dict[int, Page[User]]:
        async with reading(self.engine) as conn:
            return await page_users_by_store(conn, store_ids, page, account_types)

    async def login(self, username: str, password: str) -> LoginResult:
        """FLECS login: `username` is a login or an e-mail address (an exact login wins)."""
        users = t.users
        stmt = (
            select(*USER_COLUMNS, users.c.password_hash)
            .where(or_(users.c.login == username, func.lower(users.c.email) == username.lower()))
            .order_by(case((users.c.login == username, 0), else_=1))
            .limit(1)
        )
        rows = await self.rows(stmt)
        row = rows[0] if rows else None
        if not await password_matches(password, row["password_hash"] if row else None) or row is None:
            raise Unauthenticated(WRONG_CREDENTIALS)
        user = build_user({c.name: row[c.name] for c in USER_COLUMNS})
        token = self.tokens.issue(
            TokenKind.USER,
            user_id=user.id,
            tenant_id=user.tenant_id,
            is_tenant_admin=user.tenant_role is TenantRole.ADMIN,
        )
        return LoginResult(user=user, token=token)

    async def validate_token(self, token: str) -> bool:
        try:
            self.tokens.verify(token)
        except Unauthenticated:
            return False
        return True
