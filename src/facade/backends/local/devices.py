"""Devices in the local store: Flow Retail point-of-sale devices (operations F0-F12 of
`contracts/flow-retail-devices.md`) and the FLECS edge devices licences are registered for, which
share one table.

A Flow Retail device's life: created by a tenant admin (F8) or registered by the device itself
(F2), it waits in READY_TO_LINK under a device code; linking (F5) or authorizing (F4) makes it
ACTIVE, and an admin may block it (F11). Tenant-scoped operations answer NotFound for a device of
another tenant, so ids of other tenants' devices cannot be probed.

Every write is one transaction; validation happens before the first statement that writes, and
state changes are guarded (`WHERE status = ...`) so two racing links cannot both succeed.
"""

from __future__ import annotations

import random
import secrets
import string
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facade.auth import Principal, TokenKind, TokenService
from facade.backends.interfaces import DeviceLoginResult, DeviceRegistration, LinkResult
from facade.backends.local import tables as t
from facade.backends.local.base import (
    Listing,
    Repository,
    construct,
    in_keys,
    page_by_parent,
    page_flat,
    reading,
    utcnow,
)
from facade.backends.local.users import page_users_by_store, tenant_user_by_code
from facade.errors import BadUserInput, Conflict, Forbidden, NotFound, Unauthenticated
from facade.models import (
    Device,
    DeviceAppType,
    DeviceFilter,
    DeviceStatus,
    Page,
    PageArgs,
    TenantRole,
    User,
    check_uid,
)

VERIFICATION_URI = "https://backoffice.flowretail.com/device"
CODE_TTL_SECONDS = 900
POLL_INTERVAL_SECONDS = 5

# The app ids Flow supplies per app type; an UNKNOWN device ("no specific app") takes any.
APP_IDS = {
    DeviceAppType.CLIENT.value: "flow-retail-client",
    DeviceAppType.ASSISTANT.value: "flow-retail-assistant",
}

# Device codes are read off a back-office screen and typed on a till: no 0/O or 1/I to confuse.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ID_ALPHABET = string.ascii_lowercase + string.digits

_system_random = secrets.SystemRandom()

SORTABLE: dict[str, Any] = {
    "id": t.devices.c.id,
    "name": t.devices.c.name,
    "created_at": t.devices.c.created_at,
    "last_modified_at": t.devices.c.last_modified_at,
    "status": t.devices.c.status,
    "app_type": t.devices.c.app_type,
}

_BY_ID = select(t.devices).where(in_keys(t.devices.c.id))
_BY_STORE = Listing(select(t.devices), SORTABLE, t.devices.c.id, t.devices.c.store_id)
_BY_OWNER = Listing(select(t.devices), SORTABLE, t.devices.c.id, t.devices.c.owner_id)

_CHANGEABLE = frozenset({"app_type", "status", "store_uid", "till_uid", "name"})


def new_device_code(rng: random.Random = _system_random) -> str:
    """A code like `K7Q2-M9XD`; the seed passes its own generator to stay reproducible."""
    chars = "".join(rng.choice(CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def new_device_id(rng: random.Random = _system_random) -> str:
    return "dev-" + "".join(rng.choice(ID_ALPHABET) for _ in range(10))


_device = construct(Device)


def build_device(row: Any) -> Device:
    """The Device of a `devices` row (a mapping), built trusted (`construct`): the row's values
    were checked when written; the two enums are the only conversion."""
    values = dict(row)
    values["app_type"] = DeviceAppType(values["app_type"])
    values["status"] = DeviceStatus(values["status"])
    return _device(values)


async def device_row(conn: AsyncConnection, stmt: Select[Any]) -> Any:
    return (await conn.execute(stmt)).mappings().first()


async def unused_device_id(conn: AsyncConnection) -> str:
    # A clash is astronomically unlikely, but checking costs one indexed read and turns the
    # unlikely case into a retry instead of an IntegrityError.
    while True:
        candidate = new_device_id()
        if not (await conn.execute(select(exists().where(t.devices.c.id == candidate)))).scalar():
            return candidate


async def _unused_code(conn: AsyncConnection) -> str:
    while True:
        candidate = new_device_code()
        taken = exists().where(t.devices.c.device_code == candidate)
        if not (await conn.execute(select(taken))).scalar():
            return candidate


def _normal_code(device_code: str) -> str:
    # Codes are shown in upper case; people type them however they like.
    return device_code.strip().upper()


def _scope(principal: Principal, tenant_id: str) -> None:
    """A tenant's devices are its own: any other caller is refused before anything is read."""
    check_uid(tenant_id, "tenantUid")
    if principal.tenant_id != tenant_id:
        raise Forbidden("You may only manage the devices of your own tenant.")


def _device_id(principal: Principal) -> str:
    if principal.device_id is None:
        raise Unauthenticated("This needs a device token.")
    return principal.device_id


async def _store_in_tenant(conn: AsyncConnection, tenant_id: str, store_uid: str) -> int:
    check_uid(store_uid, "storeUid")
    store_id = (
        await conn.execute(select(t.stores.c.id).where(t.stores.c.uid == store_uid, t.stores.c.tenant_id == tenant_id))
    ).scalar()
    if store_id is None:
        raise NotFound("No store with this uid in the tenant.", field="storeUid")
    return int(store_id)


async def _till_in_store(conn: AsyncConnection, store_id: int, till_uid: str) -> str:
    check_uid(till_uid, "tillUid")
    till_id = (
        await conn.execute(select(t.tills.c.id).where(t.tills.c.id == till_uid, t.tills.c.store_id == store_id))
    ).scalar()
    if till_id is None:
        raise NotFound("No till with this uid in the store.", field="tillUid")
    return str(till_id)


def _enum(enum_type: type[DeviceAppType] | type[DeviceStatus], value: Any, field: str) -> str:
    try:
        return str(enum_type(value).value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise BadUserInput(f"{field} must be one of: {allowed}", field=field) from None


def _text(value: Any, field: str) -> str | None:
    """An optional free-text field: None or blank clears it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadUserInput(f"{field} must be a string", field=field)
    return value.strip() or None


class LocalDevices(Repository):
    def __init__(self, engine: AsyncEngine, tokens: TokenService) -> None:
        super().__init__(engine)
        self.tokens = tokens

    # -- plain reads ---------------------------------------------------------------------------

    async def get_many(self, ids: Sequence[str]) -> dict[str, Device]:
        if not ids:
            return {}
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_device(row) for row in rows}

    async def page_by_store(self, store_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Device]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_STORE, store_ids, page, build_device)

    async def page_by_owner(self, user_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Device]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_OWNER, user_ids, page, build_device)

    # -- tenant administration (F7-F12) --------------------------------------------------------

    async def search(self, principal: Principal | None, where: DeviceFilter, page: PageArgs) -> Page[Device]:
        """F7/F9. `principal` None: the `Tenant.devices` edge, whose guard checked membership."""
        if where.tenant_id is None:
            raise BadUserInput("tenantUid is required", field="tenantUid")
        if principal is None:
            check_uid(where.tenant_id, "tenantUid")
        else:
            _scope(principal, where.tenant_id)
        devices = t.devices
        stmt = select(devices).where(devices.c.tenant_id == where.tenant_id)
        if where.store_id is not None:
            stmt = stmt.where(devices.c.store_id == where.store_id)
        if where.app_type is not None:
            stmt = stmt.where(devices.c.app_type == where.app_type.value)
        if where.status is not None:
            stmt = stmt.where(devices.c.status == where.status.value)
        needle = (where.text or "").strip().lower()
        if needle:
            # autoescape: a `%` or `_` typed by the user is a character, not a wildcard.
            stmt = stmt.where(
                or_(
                    func.lower(devices.c.name).contains(needle, autoescape=True),
                    func.lower(devices.c.serial_number).contains(needle, autoescape=True),
                )
            )
        async with reading(self.engine) as conn:
            # Built per call: the filters vary (not a hot list), so nothing is kept.
            return await page_flat(conn, Listing(stmt, SORTABLE, devices.c.id), page, build_device)

    async def get(self, principal: Principal, tenant_id: str, device_id: str) -> Device:
        _scope(principal, tenant_id)
        async with self.engine.connect() as conn:
            row = await self._tenant_device(conn, tenant_id, device_id)
        return build_device(row)

    async def create(
        self,
        principal: Principal,
        tenant_id: str,
        store_uid: str,
        till_uid: str | None,
        app_type: DeviceAppType,
        name: str | None,
    ) -> Device:
        _scope(principal, tenant_id)
        now = utcnow()
        async with self.engine.begin() as conn:
            store_id = await _store_in_tenant(conn, tenant_id, store_uid)
            till_id = await _till_in_store(conn, store_id, till_uid) if till_uid else None
            values: dict[str, Any] = {
                "id": await unused_device_id(conn),
                "tenant_id": tenant_id,
                "store_id": store_id,
                "till_id": till_id,
                "name": _text(name, "name"),
                "app_type": _enum(DeviceAppType, app_type, "appType"),
                "status": DeviceStatus.READY_TO_LINK.value,
                "system_information": None,
                "device_code": await _unused_code(conn),
                "created_at": now,
                "last_modified_at": now,
            }
            await conn.execute(t.devices.insert().values(**values))
        return build_device(values)

    async def update(self, principal: Principal, tenant_id: str, device_id: str, changes: dict[str, Any]) -> Device:
        """F11. `changes` holds only what the caller set: app_type, status, store_uid, till_uid,
        name. A new store drops a till that is not in it; a blank till or store uid clears it."""
        _scope(principal, tenant_id)
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise BadUserInput(f"Cannot change: {', '.join(sorted(unknown))}")
        async with self.engine.begin() as conn:
            row = await self._tenant_device(conn, tenant_id, device_id)
            values: dict[str, Any] = {}
            if "app_type" in changes:
                values["app_type"] = _enum(DeviceAppType, changes["app_type"], "appType")
            if "status" in changes:
                values["status"] = _enum(DeviceStatus, changes["status"], "status")
                if values["status"] == DeviceStatus.READY_TO_LINK.value and row["device_code"] is None:
                    values["device_code"] = await _unused_code(conn)
            store_id = row["store_id"]
            if "store_uid" in changes:
                store_uid = _text(changes["store_uid"], "storeUid")
                store_id = await _store_in_tenant(conn, tenant_id, store_uid) if store_uid else None
                values["store_id"] = store_id
            if "till_uid" in changes:
                till_uid = _text(changes["till_uid"], "tillUid")
                if till_uid and store_id is None:
                    raise BadUserInput("A till needs a store: set storeUid too.", field="tillUid")
                values["till_id"] = await _till_in_store(conn, store_id, till_uid) if till_uid else None
            elif "store_uid" in changes and row["till_id"] is not None and store_id != row["store_id"]:
                values["till_id"] = None
            if "name" in changes:
                values["name"] = _text(changes["name"], "name")
            values["last_modified_at"] = utcnow()
            await conn.execute(t.devices.update().where(t.devices.c.id == row["id"]).values(**values))
        return build_device({**row, **values})

    async def delete(self, principal: Principal, tenant_id: str, device_id: str) -> None:
        """F12. Licences bound to the device are kept, unbound, so they can be used again."""
        _scope(principal, tenant_id)
        async with self.engine.begin() as conn:
            row = await self._tenant_device(conn, tenant_id, device_id)
            await conn.execute(t.licenses.update().where(t.licenses.c.device_id == row["id"]).values(device_id=None))
            await conn.execute(t.devices.delete().where(t.devices.c.id == row["id"]))

    # -- the device itself (F0-F6) -------------------------------------------------------------

    async def current(self, principal: Principal) -> Device:
        device_id = _device_id(principal)
        async with self.engine.connect() as conn:
            row = await device_row(conn, select(t.devices).where(t.devices.c.id == device_id))
        if row is None:
            raise NotFound("This device no longer exists.")
        return build_device(row)

    async def register(self, client_id: str, name: str | None, system_information: str | None) -> DeviceRegistration:
        """F2: a device asks to be registered and gets a code a user then authorizes (F4)."""
        if not client_id or not client_id.strip():
            raise BadUserInput("clientId must not be blank", field="clientId")
        now = utcnow()
        async with self.engine.begin() as conn:
            code = await _unused_code(conn)
            values: dict[str, Any] = {
                "id": await unused_device_id(conn),
                "tenant_id": None,
                "store_id": None,
                "till_id": None,
                "name": _text(name, "name"),
                "app_type": DeviceAppType.UNKNOWN.value,
                "status": DeviceStatus.READY_TO_LINK.value,
                "system_information": system_information,
                "device_code": code,
                "client_id": client_id.strip(),
                "created_at": now,
                "last_modified_at": now,
            }
            await conn.execute(t.devices.insert().values(**values))
        return DeviceRegistration(
            device=build_device(values),
            device_code=code,
            expires_in=CODE_TTL_SECONDS,
            interval=POLL_INTERVAL_SECONDS,
            verification_uri=VERIFICATION_URI,
        )

    async def authorize(
        self,
        principal: Principal,
        device_code: str,
        tenant_id: str,
        store_uid: str,
        till_uid: str | None,
        name: str | None,
    ) -> Device:
        """F4: a signed-in tenant user attaches a waiting device to one of the tenant's stores."""
        # The tenant check comes first: an outsider learns nothing about codes or store uids.
        if principal.tenant_id is None or principal.tenant_id != tenant_id:
            check_uid(tenant_id, "tenantUid")
            raise Forbidden("You may only authorize devices for your own tenant.")
        async with self.engine.begin() as conn:
            row = await device_row(conn, select(t.devices).where(t.devices.c.device_code == _normal_code(device_code)))
            if row is None or row["tenant_id"] not in (None, tenant_id):
                raise NotFound("No device with this device code.", field="deviceCode")
            if row["status"] != DeviceStatus.READY_TO_LINK.value:
                raise Conflict("This device is not waiting to be linked.")
            store_id = await _store_in_tenant(conn, tenant_id, store_uid)
            till_id = await _till_in_store(conn, store_id, till_uid) if till_uid else None
            values: dict[str, Any] = {
                "tenant_id": tenant_id,
                "store_id": store_id,
                "till_id": till_id,
                "status": DeviceStatus.ACTIVE.value,
                "last_modified_at": utcnow(),
            }
            if _text(name, "name"):
                values["name"] = _text(name, "name")
            await self._move_from_ready(conn, row["id"], values)
        return build_device({**row, **values})

    async def link(
        self,
        device_code: str,
        app_id: str,
        user_code: str,
        password: str,
        system_information: str | None,
    ) -> LinkResult:
        """F5: the physical device proves a tenant user's credentials and gets its device token."""
        async with self.engine.begin() as conn:
            row = await device_row(conn, select(t.devices).where(t.devices.c.device_code == _normal_code(device_code)))
            if row is None:
                raise NotFound("No device with this device code.", field="deviceCode")
            if row["status"] == DeviceStatus.BLOCKED.value:
                raise Conflict("This device is blocked.")
            if row["status"] == DeviceStatus.ACTIVE.value:
                raise Conflict("This device is already linked.")
            if row["tenant_id"] is None:
                raise Conflict("This device is not assigned to a tenant yet.")
            if not app_id or not app_id.strip():
                raise BadUserInput("appId must not be blank", field="appId")
            await tenant_user_by_code(conn, row["tenant_id"], user_code, password)
            expected = APP_IDS.get(row["app_type"])
            if expected is not None and app_id.strip() != expected:
                raise BadUserInput(f"appId must be {expected} for this device", field="appId")
            values: dict[str, Any] = {
                "status": DeviceStatus.ACTIVE.value,
                "last_modified_at": utcnow(),
            }
            if system_information is not None:
                values["system_information"] = system_information
            await self._move_from_ready(conn, row["id"], values)
        device = build_device({**row, **values})
        token = self.tokens.issue(TokenKind.DEVICE, device_id=device.id, tenant_id=device.tenant_id)
        return LinkResult(device=device, device_token=token)

    async def login(self, principal: Principal, user_code: str, password: str) -> DeviceLoginResult:
        """F0: a user signs in on a linked device; they need access to its store or be an admin."""
        if principal.kind is not TokenKind.DEVICE or principal.device_id is None:
            raise Unauthenticated("Signing in on a device needs the device token.")
        async with self.engine.connect() as conn:
            row = await device_row(conn, select(t.devices).where(t.devices.c.id == principal.device_id))
            if row is None or row["tenant_id"] is None:
                raise Unauthenticated("This device is no longer registered.")
            if row["status"] == DeviceStatus.BLOCKED.value:
                raise Forbidden("This device is blocked.")
            if row["status"] != DeviceStatus.ACTIVE.value:
                raise Forbidden("This device is not linked yet.")
            user = await tenant_user_by_code(conn, row["tenant_id"], user_code, password)
            if not await self._may_use(conn, user, row["store_id"]):
                raise Forbidden("You have no access to the store of this device.")
        token = self.tokens.issue(
            TokenKind.ACCESS,
            user_id=user.id,
            tenant_id=row["tenant_id"],
            is_tenant_admin=user.tenant_role is TenantRole.ADMIN,
            device_id=row["id"],
        )
        return DeviceLoginResult(user=user, access_token=token)

    async def update_system_information(self, principal: Principal, system_information: str) -> Device:
        """F3."""
        device_id = _device_id(principal)
        async with self.engine.begin() as conn:
            row = await device_row(conn, select(t.devices).where(t.devices.c.id == device_id))
            if row is None:
                raise NotFound("This device no longer exists.")
            values = {"system_information": system_information, "last_modified_at": utcnow()}
            await conn.execute(t.devices.update().where(t.devices.c.id == device_id).values(**values))
        return build_device({**row, **values})

    async def users(self, principal: Principal, page: PageArgs, account_types: Sequence[str] | None) -> Page[User]:
        """F6: the users with access to the device's store (who may sign in on it)."""
        device_id = _device_id(principal)
        async with self.engine.connect() as conn:
            row = await device_row(conn, select(t.devices.c.store_id).where(t.devices.c.id == device_id))
            if row is None:
                raise NotFound("This device no longer exists.")
            store_id = row["store_id"]
            if store_id is None:
                return Page(items=[], total=0, offset=page.offset)
            pages = await page_users_by_store(conn, [store_id], page, account_types)
        return pages[store_id]

    # -- helpers -------------------------------------------------------------------------------

    async def _tenant_device(self, conn: AsyncConnection, tenant_id: str, device_id: str) -> Any:
        check_uid(device_id, "deviceUid")
        row = await device_row(
            conn,
            select(t.devices).where(t.devices.c.id == device_id, t.devices.c.tenant_id == tenant_id),
        )
        if row is None:
            raise NotFound("No device with this id in the tenant.", field="deviceUid")
        return row

    async def _move_from_ready(self, conn: AsyncConnection, device_id: str, values: dict[str, Any]) -> None:
        # Guarded on the status read earlier: of two racing links, the second changes no row.
        result = await conn.execute(
            t.devices.update()
            .where(t.devices.c.id == device_id, t.devices.c.status == DeviceStatus.READY_TO_LINK.value)
            .values(**values)
        )
        if result.rowcount != 1:
            raise Conflict("This device is already linked.")

    async def _may_use(self, conn: AsyncConnection, user: User, store_id: int | None) -> bool:
        if user.tenant_role is TenantRole.ADMIN:
            return True
        if store_id is None:
            return False
        access = exists().where(t.store_access.c.user_id == user.id, t.store_access.c.store_id == store_id)
        return bool((await conn.execute(select(access))).scalar())
