"""Devices: Flow Retail POS devices (registration, linking, sign-in, tenant management, F0-F12)
and FLECS licensed devices (manufacturer, model, serial number), one type for both.

Every device belongs to a tenant (or, for a FLECS device of a customer without one, to its owner)
and is visible to that tenant's members, its owner and the device itself (its device token); its
pairing code to the tenant's admins only. A device registered with F2 and not yet authorized
belongs to nobody: only its registration payload names it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from facade import models
from facade.auth import Principal
from facade.graph.base import (
    Connection,
    Info,
    Need,
    batched,
    held,
    member_of,
    page_args,
    private,
    root_field,
    root_mutation,
)
from facade.graph.inputs import (
    ACCOUNT_TYPES,
    CLIENT_ID,
    CURSOR,
    DEVICE_CODE,
    NAME,
    NODE_OR_UID,
    PAGE_SIZE,
    PASSWORD,
    SEARCH_TEXT,
    SYSTEM_INFORMATION,
    UID,
    USER_CODE,
    arg,
    limited,
)
from facade.graph.nodes import Node, encode, node_type, text_key, uid_key
from facade.graph.permissions import is_admin, is_device, is_member, is_self, record_rule
from facade.graph.sorting import DeviceSort, UserSort
from facade.models import DeviceAppType, DeviceFilter, DeviceStatus, SortDirection, check_uid

if TYPE_CHECKING:
    from facade.graph.commerce.types import PrintHub
    from facade.graph.licenses import License
    from facade.graph.stores import Store, Till
    from facade.graph.tenants import Tenant
    from facade.graph.users import User, UserConnection

DeviceAppTypeEnum = strawberry.enum(
    DeviceAppType, name="DeviceAppType", description="Which Flow Retail app runs on a device."
)
DeviceStatusEnum = strawberry.enum(DeviceStatus, name="DeviceStatus", description="Where a device is in its life.")


@strawberry.type(description="A device manufacturer (FLECS).")
class Manufacturer:
    id: int
    name: str


def _may_see_device(principal: Principal | None, device: Any, _: Any) -> bool:
    if device.tenant_id is None and device.owner_id is None:
        return True  # registered (F2), not authorized yet: nobody's
    return (
        is_member(principal, device.tenant_id) or is_self(principal, device.owner_id) or is_device(principal, device.id)
    )


def _tenant_admin(principal: Principal | None, device: Any) -> bool:
    return is_admin(principal, device.tenant_id)


@record_rule(_may_see_device, "members of its tenant, its owner, the device itself")
@strawberry.type(description="A device: a Flow Retail POS device and/or a FLECS licensed device.")
@node_type("Device", "device", text_key, models.Device)
class Device(Node):
    name: str | None
    app_type: DeviceAppTypeEnum  # type: ignore[valid-type]
    status: DeviceStatusEnum  # type: ignore[valid-type]
    system_information: str | None
    device_code: str | None = private(
        "device_code",
        _tenant_admin,
        description="Code to link the physical device (while READY_TO_LINK): the tenant's admins only.",
    )
    model: str | None
    serial_number: str | None
    manufacture_date: dt.date | None
    license_status: int | None = strawberry.field(description="FLECS registration status (0 = registered).")
    created_at: dt.datetime
    last_modified_at: dt.datetime

    @strawberry.field(description="Manufacturer of a FLECS device.")
    def manufacturer(self) -> Manufacturer | None:
        if self.manufacturer_id is None:  # type: ignore[attr-defined]
            return None
        return Manufacturer(id=self.manufacturer_id, name=self.manufacturer_name or "")  # type: ignore[attr-defined]

    tenant: Annotated[Tenant, strawberry.lazy("facade.graph.tenants")] | None = batched("tenant", "tenant_id")
    store: Annotated[Store, strawberry.lazy("facade.graph.stores")] | None = batched("store_ref", "store_ref")
    till: Annotated[Till, strawberry.lazy("facade.graph.stores")] | None = batched("till", "till_id")
    owner: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched(
        "user", "owner_id", description="Who registered the FLECS device."
    )
    license: Annotated[License, strawberry.lazy("facade.graph.licenses")] | None = batched(
        "license_by_device", "id", description="The FLECS license bound to the device."
    )
    print_hub: Annotated[PrintHub, strawberry.lazy("facade.graph.commerce.types")] | None = batched(
        "device_hub",
        "tenant_device",
        guard=member_of(lambda device: device.tenant_id),
        description="The Afosto print hub linked to the device (members of its tenant; `GET /spl/hubs`); "
        "null when none is linked.",
    )


@strawberry.type(description="A page of Device items (Relay).")
class DeviceConnection(Connection[Device]):
    pass


@strawberry.type(description="A device registered with the deprecated device-authorisation flow (F2).")
class DeviceRegistration:
    record: strawberry.Private[Any]
    device: Device = held("record")
    device_code: str
    device_identifier: str
    expires_in: int
    interval: int
    verification_uri: str


@strawberry.type(description="A linked device and the deviceToken it signs in with from now on (F5).")
class LinkedDevice:
    record: strawberry.Private[Any]
    device: Device = held("record")
    device_token: str
    token_expires: int


@strawberry.type(description="A user signed in on a device: the accessToken for that session (F0).")
class DeviceSession:
    access_token: str
    token_expires: int
    tenant_user: Annotated[User, strawberry.lazy("facade.graph.users")]
    record: strawberry.Private[Any]
    device: Device | None = held("record")


@strawberry.input(description="Filters for a device search (F9).")
class DeviceSearch:
    store_uid: str | None = limited(UID, None)
    app_type: DeviceAppTypeEnum | None = None  # type: ignore[valid-type]
    status: DeviceStatusEnum | None = None  # type: ignore[valid-type]
    text: str | None = limited(SEARCH_TEXT, None, description="Part of the name or serial number.")


@strawberry.input(description="Changes to a device (F11); fields left out stay as they are.")
class DeviceChanges:
    name: str | None = limited(NAME, None)
    app_type: DeviceAppTypeEnum | None = None  # type: ignore[valid-type]
    status: DeviceStatusEnum | None = None  # type: ignore[valid-type]
    store_uid: str | None = limited(UID, None)
    till_uid: str | None = limited(NODE_OR_UID, None, description="The till's uid, or its global id.")


async def _store_id(info: Info, store_uid: str | None, tenant_uid: str) -> int | None:
    if store_uid is None:
        return None
    store = await info.context.loaders.store_by_uid.load(check_uid(store_uid, "storeUid"))
    if store is None or store.tenant_id != tenant_uid:
        # Another tenant's store is reported exactly like a missing one.
        return -1
    return int(store.id)


@strawberry.type
class DeviceQueries:
    @root_field(Need.TENANT_ADMIN, description="A tenant's devices, optionally of one store (F7).")
    async def devices(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        store_uid: Annotated[str | None, arg(UID)] = None,
        first: Annotated[int | None, arg(PAGE_SIZE)] = None,
        after: Annotated[str | None, arg(CURSOR)] = None,
        sort_by: DeviceSort | None = None,
        sort_direction: SortDirection | None = None,
    ) -> DeviceConnection | None:
        page = page_args(info, first, after, sort_by, sort_direction)
        where = DeviceFilter(tenant_id=tenant_uid, store_id=await _store_id(info, store_uid, tenant_uid))
        return await info.context.loaders.devices_search.load((info.context.principal, where, page))  # type: ignore[return-value]

    @root_field(Need.TENANT_ADMIN, description="Search a tenant's devices (F9).")
    async def search_devices(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        filter: DeviceSearch | None = None,
        first: Annotated[int | None, arg(PAGE_SIZE)] = None,
        after: Annotated[str | None, arg(CURSOR)] = None,
        sort_by: DeviceSort | None = None,
        sort_direction: SortDirection | None = None,
    ) -> DeviceConnection | None:
        page = page_args(info, first, after, sort_by, sort_direction)
        f = filter or DeviceSearch()
        where = DeviceFilter(
            tenant_id=tenant_uid,
            store_id=await _store_id(info, f.store_uid, tenant_uid),
            app_type=f.app_type,
            status=f.status,
            text=f.text or None,
        )
        return await info.context.loaders.devices_search.load((info.context.principal, where, page))  # type: ignore[return-value]

    @root_field(Need.TENANT_ADMIN, description="One of a tenant's devices (F10), by its uid or its global id.")
    async def device(
        self, info: Info, tenant_uid: Annotated[str, arg(UID)], device_uid: Annotated[str, arg(NODE_OR_UID)]
    ) -> Device | None:
        principal = info.context.require_principal()
        key = uid_key(device_uid, "Device", "deviceUid")
        return await info.context.backend.devices.get(principal, tenant_uid, key)  # type: ignore[return-value]

    @root_field(
        Need.DEVICE_USER,
        description="The device the caller is signed in on, with its store, till and tenant (F1).",
    )
    async def current_device(self, info: Info) -> Device | None:
        return await info.context.backend.devices.current(info.context.require_principal())  # type: ignore[return-value]

    @root_field(Need.DEVICE, description="Users who may sign in on the calling device (F6).")
    async def device_users(
        self,
        info: Info,
        account_types: Annotated[list[str] | None, arg(ACCOUNT_TYPES)] = None,
        first: Annotated[int | None, arg(PAGE_SIZE)] = None,
        after: Annotated[str | None, arg(CURSOR)] = None,
        sort_by: UserSort | None = None,
        sort_direction: SortDirection | None = None,
    ) -> Annotated[UserConnection, strawberry.lazy("facade.graph.users")] | None:
        page = page_args(info, first, after, sort_by, sort_direction)
        return await info.context.backend.devices.users(info.context.require_principal(), page, account_types)  # type: ignore[return-value]


@strawberry.type
class DeviceMutations:
    @root_mutation(
        Need.PUBLIC,
        description="Register a device for the device-authorisation flow (F2, deprecated).",
    )
    async def register_device(
        self,
        info: Info,
        client_id: Annotated[str, arg(CLIENT_ID)],
        name: Annotated[str | None, arg(NAME)] = None,
        system_information: Annotated[str | None, arg(SYSTEM_INFORMATION)] = None,
    ) -> DeviceRegistration | None:
        r = await info.context.backend.devices.register(client_id, name, system_information)
        return DeviceRegistration(
            record=r.device,
            device_code=r.device_code,
            device_identifier=r.device.id,
            expires_in=r.expires_in,
            interval=r.interval,
            verification_uri=r.verification_uri,
        )

    @root_mutation(Need.DEVICE, description="Update the calling device's system information (F3).")
    async def update_device_system_information(
        self, info: Info, system_information: Annotated[str, arg(SYSTEM_INFORMATION)]
    ) -> Device | None:
        principal = info.context.require_principal()
        return await info.context.backend.devices.update_system_information(principal, system_information)  # type: ignore[return-value]

    @root_mutation(
        Need.TENANT_MEMBER,
        description="Attach a registered device to a store and till (F4, deprecated).",
    )
    async def authorize_device(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        device_code: Annotated[str, arg(DEVICE_CODE)],
        store_uid: Annotated[str, arg(UID)],
        till_uid: Annotated[str | None, arg(NODE_OR_UID)] = None,
        name: Annotated[str | None, arg(NAME)] = None,
    ) -> Device | None:
        principal = info.context.require_principal()
        check_uid(store_uid, "storeUid")
        if till_uid is not None:
            till_uid = uid_key(till_uid, "Till", "tillUid")
        # A guessed device code would claim someone else's waiting device: count tries per caller.
        async with info.context.attempt("authorizeDevice", principal.subject):
            return await info.context.backend.devices.authorize(  # type: ignore[return-value]
                principal, device_code, tenant_uid, store_uid, till_uid, name
            )

    @root_mutation(
        Need.PUBLIC,
        description="Link a physical device with its device code and a tenant user's credentials (F5).",
    )
    async def link_device(
        self,
        info: Info,
        device_code: Annotated[str, arg(DEVICE_CODE)],
        app_id: Annotated[str, arg(CLIENT_ID)],
        user_code: Annotated[str, arg(USER_CODE)],
        password: Annotated[str, arg(PASSWORD)],
        system_information: Annotated[str | None, arg(SYSTEM_INFORMATION)] = None,
    ) -> LinkedDevice | None:
        # The device code picks the tenant whose user's password is tried: count tries per code.
        async with info.context.attempt("linkDevice", device_code):
            r = await info.context.backend.devices.link(device_code, app_id, user_code, password, system_information)
        if info.context.principal is None:
            # The caller has just proved they may link the device: the payload's device is theirs
            # to read, as the device token's (as `login` does for its user).
            info.context.principal = await info.context.principal_of(r.device_token.token)
        return LinkedDevice(record=r.device, device_token=r.device_token.token, token_expires=r.device_token.expires)

    @root_mutation(
        Need.DEVICE,
        description="Sign a tenant user in on the calling device (F0): returns an accessToken.",
    )
    async def device_login(
        self, info: Info, user_code: Annotated[str, arg(USER_CODE)], password: Annotated[str, arg(PASSWORD)]
    ) -> DeviceSession | None:
        principal = info.context.require_principal()
        async with info.context.attempt("deviceLogin", f"{principal.tenant_id}/{user_code}"):
            r = await info.context.backend.devices.login(principal, user_code, password)
        # The caller has just signed the user in: the rest of the request reads as that session
        # (the payload's user is theirs to read; a device token alone reads no one's details).
        session = info.context.principal = await info.context.principal_of(r.access_token.token) or principal
        # The device a Flow Retail deviceToken names is known to facade only once Flow says so
        # (F1 with the new accessToken, in upstream mode): read it as the session names it.
        device_id = session.device_id or principal.device_id
        device = await info.context.loaders.device.load(device_id) if device_id else None
        return DeviceSession(
            access_token=r.access_token.token,
            token_expires=r.access_token.expires,
            tenant_user=r.user,  # type: ignore[arg-type]
            record=device,
        )

    @root_mutation(Need.TENANT_ADMIN, description="Create a device, ready to link, in a tenant's store (F8).")
    async def create_device(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        store_uid: Annotated[str, arg(UID)],
        app_type: DeviceAppTypeEnum,  # type: ignore[valid-type]
        till_uid: Annotated[str | None, arg(NODE_OR_UID)] = None,
        name: Annotated[str | None, arg(NAME)] = None,
    ) -> Device | None:
        check_uid(store_uid, "storeUid")
        if till_uid is not None:
            till_uid = uid_key(till_uid, "Till", "tillUid")
        return await info.context.backend.devices.create(  # type: ignore[return-value]
            info.context.require_principal(), tenant_uid, store_uid, till_uid, app_type, name
        )

    @root_mutation(
        Need.TENANT_ADMIN,
        description="Change a device: name, app type, status (BLOCKED blocks it), store, till (F11).",
    )
    async def update_device(
        self,
        info: Info,
        tenant_uid: Annotated[str, arg(UID)],
        device_uid: Annotated[str, arg(NODE_OR_UID)],
        changes: DeviceChanges,
    ) -> Device | None:
        device_uid = uid_key(device_uid, "Device", "deviceUid")
        values = {k: v for k, v in vars(changes).items() if v is not None}
        if "store_uid" in values:
            check_uid(values["store_uid"], "storeUid")
        if "till_uid" in values:
            values["till_uid"] = uid_key(values["till_uid"], "Till", "changes.tillUid")
        return await info.context.backend.devices.update(  # type: ignore[return-value]
            info.context.require_principal(), tenant_uid, device_uid, values
        )

    @root_mutation(
        Need.TENANT_ADMIN,
        description="Delete a device (F12), given its uid or its global id. Returns the deleted device's global id.",
    )
    async def delete_device(
        self, info: Info, tenant_uid: Annotated[str, arg(UID)], device_uid: Annotated[str, arg(NODE_OR_UID)]
    ) -> strawberry.ID | None:
        device_uid = uid_key(device_uid, "Device", "deviceUid")
        await info.context.backend.devices.delete(info.context.require_principal(), tenant_uid, device_uid)
        return strawberry.ID(encode("Device", device_uid))
