"""The Flow Retail Device API v2 over the local store, mounted at `/v2`: operations F0-F12 of
`shared/contracts/flow-retail-devices.md` (the paths of F6-F12 are inferred there; these are the
ones facade uses) and the tenant, store and till reads the graph needs.

    F0  POST   /account                                   deviceToken     -> {accessToken, tenantUser}
    F1  GET    /device                                    accessToken     -> device information
    F2  POST   /device                                    none            -> {deviceCode, deviceIdentifier, ...}
    F3  PUT    /device                                    deviceToken     -> 204
    F4  POST   /device/authorize                          access/authToken -> 200, no body
    F5  POST   /device/{deviceCode}/link                  none            -> {deviceToken, device}
    F6  GET    /device/users                              deviceToken     -> LIST of tenantUser
    F7  GET    /tenants/{tenantUid}/devices?storeUid=     TENANT.ADMIN    -> LIST of DEVICE
    F8  POST   /tenants/{tenantUid}/devices               TENANT.ADMIN    -> 201 DEVICE
    F9  POST   /tenants/{tenantUid}/devices/search        TENANT.ADMIN    -> LIST of DEVICE
    F10 GET    /tenants/{tenantUid}/devices/{deviceUid}   TENANT.ADMIN    -> DEVICE
    F11 PUT    /tenants/{tenantUid}/devices/{deviceUid}   TENANT.ADMIN    -> DEVICE
    F12 DELETE /tenants/{tenantUid}/devices/{deviceUid}   TENANT.ADMIN    -> 204
        GET    /tenants/{tenantUid}                       tenant member   -> {tenantUid, name, createdAt}
        GET    /tenants/{tenantUid}/stores                tenant member   -> LIST of STORE
        GET    /tenants/{tenantUid}/stores/{storeUid}     tenant member   -> STORE
        GET    /tenants/{tenantUid}/stores/{storeUid}/tills  member       -> {items: [{tillUid, storeUid, name}]}

Tokens are facade's (one shared secret): a deviceToken is a `device` token (from F5), an
accessToken an `access` token (F0), an authToken a `user` token (FLECS or facade login). No or an
invalid token is 401; a token of the wrong kind, another tenant or without TENANT.ADMIN is 403.

Errors are `{"message": "...", "code": "BAD_REQUEST"|"UNAUTHORIZED"|"FORBIDDEN"|"NOT_FOUND"|"CONFLICT"}`
with 400/401/403/404/409; uids must match `^[A-Za-z0-9-_]+` (400 otherwise). Lists are
`{items, pageNumber, pageSize, totalCount}` and take `pageNumber` (1-based), `pageSize`,
`sortBy` (name, createdAt, lastModifiedAt, status, appType, displayName: what the list's records
can be sorted by) and `sortDirection` (ASC|DESC). Times are ISO 8601 in UTC.

A tenant user's `storeAccess` is read straight from the local store's table: no repository
offers it, and it is data, not a business rule.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from facade.auth import Principal, TokenKind
from facade.backends.local import LocalStore
from facade.backends.local import tables as t
from facade.errors import BadUserInput, Conflict, FacadeError, Forbidden, NotFound, Unauthenticated
from facade.models import (
    Device,
    DeviceAppType,
    DeviceFilter,
    DeviceStatus,
    Page,
    PageArgs,
    SortDirection,
    Store,
    Tenant,
    User,
    check_uid,
)
from facade.sandbox.http import (
    INT64_MAX,
    caller,
    empty_response,
    field,
    int_param,
    iso,
    json_response,
    read_object,
)
from facade.settings import Settings

Endpoint = Callable[[Request], Awaitable[Response]]

ERRORS: dict[type[FacadeError], tuple[int, str]] = {
    BadUserInput: (400, "BAD_REQUEST"),
    Unauthenticated: (401, "UNAUTHORIZED"),
    Forbidden: (403, "FORBIDDEN"),
    NotFound: (404, "NOT_FOUND"),
    Conflict: (409, "CONFLICT"),
}
CODES = {status: code for status, code in ERRORS.values()} | {
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}

# The API's camelCase sort keys and the local store's names for them.
SORT_KEYS = {
    "name": "name",
    "createdAt": "created_at",
    "lastModifiedAt": "last_modified_at",
    "status": "status",
    "appType": "app_type",
    "displayName": "display_name",
}

# F11's fields and the names the device repository takes them by.
CHANGEABLE = {"appType": "app_type", "status": "status", "storeUid": "store_uid", "tillUid": "till_uid", "name": "name"}


def failure(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"message": message, "code": CODES.get(status, "ERROR")}, status, headers)


def endpoint(handler: Endpoint) -> Endpoint:
    """The handler with every FacadeError it raises answered in Flow's error shape."""

    @functools.wraps(handler)
    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except FacadeError as err:
            status = next((ERRORS[c][0] for c in type(err).__mro__ if c in ERRORS), 500)
            return failure(status, err.message)

    return handle


def _store(request: Request) -> LocalStore:
    store: LocalStore = request.app.state.store
    return store


# -- who is calling -----------------------------------------------------------------------------

_KIND_NAMES = {TokenKind.DEVICE: "deviceToken", TokenKind.ACCESS: "accessToken", TokenKind.USER: "authToken"}


def need(request: Request, *kinds: TokenKind) -> Principal:
    principal = caller(request)
    if principal.kind not in kinds:
        names = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise Forbidden(f"This needs a {names}.")
    return principal


def tenant_member(request: Request) -> tuple[Principal, str]:
    principal = need(request, TokenKind.USER, TokenKind.ACCESS)
    tenant_uid = check_uid(request.path_params["tenantUid"], "tenantUid")
    if principal.tenant_id != tenant_uid:
        raise Forbidden("You are not a member of this tenant.")
    return principal, tenant_uid


def tenant_admin(request: Request) -> tuple[Principal, str]:
    principal, tenant_uid = tenant_member(request)
    if not principal.is_tenant_admin:
        raise Forbidden("Required permission: TENANT.ADMIN")
    return principal, tenant_uid


# -- paging -------------------------------------------------------------------------------------


def page_args(request: Request) -> PageArgs:
    settings: Settings = request.app.state.settings
    number = int_param(request, "pageNumber")
    size = int_param(request, "pageSize")
    number = 1 if number is None else number
    size = settings.default_page_size if size is None else size
    if number < 1:
        raise BadUserInput("pageNumber must be at least 1", field="pageNumber")
    if not 1 <= size <= settings.max_page_size:
        raise BadUserInput(f"pageSize must be between 1 and {settings.max_page_size}", field="pageSize")
    if (number - 1) * size > INT64_MAX:
        raise BadUserInput("pageNumber is too large", field="pageNumber")
    sort_by = request.query_params.get("sortBy") or None
    if sort_by is not None and sort_by not in SORT_KEYS:
        raise BadUserInput(f"sortBy must be one of: {', '.join(SORT_KEYS)}", field="sortBy")
    raw_direction = request.query_params.get("sortDirection") or "ASC"
    try:
        direction = SortDirection(raw_direction.upper())
    except ValueError:
        raise BadUserInput("sortDirection must be ASC or DESC", field="sortDirection") from None
    sort = SORT_KEYS[sort_by] if sort_by is not None else "id"
    return PageArgs(limit=size, offset=(number - 1) * size, sort=sort, direction=direction)


def list_json(items: list[dict[str, Any]], page: Page[Any], args: PageArgs) -> dict[str, Any]:
    return {
        "items": items,
        "pageNumber": args.offset // args.limit + 1,
        "pageSize": args.limit,
        "totalCount": page.total,
    }


# -- records as Flow writes them ----------------------------------------------------------------


def device_json(device: Device, store: Store | None) -> dict[str, Any]:
    return {
        "deviceUid": device.id,
        "name": device.name,
        "appType": device.app_type.value,
        "status": device.status.value,
        "systemInformation": device.system_information,
        "deviceCode": device.device_code,
        "tenantUid": device.tenant_id,
        "storeUid": store.uid if store is not None else None,
        "tillUid": device.till_id,
        "createdAt": iso(device.created_at),
        "lastModifiedAt": iso(device.last_modified_at),
    }


async def devices_json(store: LocalStore, devices: Sequence[Device]) -> list[dict[str, Any]]:
    """Devices with their store uids: one store query for the lot."""
    stores = await store.stores.get_many(sorted({d.store_id for d in devices if d.store_id is not None}))
    return [device_json(d, stores.get(d.store_id) if d.store_id is not None else None) for d in devices]


def store_json(store: Store) -> dict[str, Any]:
    address = store.address
    return {
        "storeUid": store.uid,
        "name": store.name,
        "tenantUid": store.tenant_id,
        "address": {
            "street1": address.street_1,
            "street2": address.street_2,
            "city": address.city,
            "zip": address.zip,
            "country": address.country,
            "state": address.state,
        },
        "createdAt": iso(store.created_at),
    }


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {"tenantUid": tenant.id, "name": tenant.name, "createdAt": iso(tenant.created_at)}


async def _store_access(store: LocalStore, user_ids: Iterable[int]) -> dict[int, list[dict[str, str]]]:
    ids = sorted(set(user_ids))
    access: dict[int, list[dict[str, str]]] = {i: [] for i in ids}
    if not ids:
        return access
    stmt = (
        select(t.store_access.c.user_id, t.store_access.c.store_role, t.stores.c.uid)
        .join(t.stores, t.stores.c.id == t.store_access.c.store_id)
        .where(t.store_access.c.user_id.in_(ids))
        .order_by(t.store_access.c.user_id, t.stores.c.id)
    )
    async with store.engine.connect() as conn:
        for row in (await conn.execute(stmt)).mappings():
            access[row["user_id"]].append({"storeUid": row["uid"], "storeRole": row["store_role"]})
    return access


async def tenant_users_json(store: LocalStore, users: Sequence[User]) -> list[dict[str, Any]]:
    access = await _store_access(store, (u.id for u in users))
    defaults = await store.stores.get_many(sorted({u.default_store_id for u in users if u.default_store_id}))
    result = []
    for user in users:
        default = defaults.get(user.default_store_id) if user.default_store_id is not None else None
        result.append(
            {
                "tenantUserUid": str(user.id),
                "userCode": user.user_code,
                "displayName": user.display_name,
                "email": user.email,
                "firstname": user.first_name,
                "lastname": user.last_name,
                "tenantUid": user.tenant_id,
                "tenantRole": user.tenant_role.value,
                "accountType": user.account_type,
                "defaultStoreUid": default.uid if default is not None else None,
                "status": "ACTIVE",
                "storeAccess": access.get(user.id, []),
                "createdAt": iso(user.created_at),
            }
        )
    return result


def _uid(body: Mapping[str, Any], name: str) -> str:
    """A required uid field of a body."""
    return check_uid(field(body, name, str), name)


def _optional_uid(body: Mapping[str, Any], name: str) -> str | None:
    """An optional uid field: absent, null or empty (Flow's `^[A-Za-z0-9-_]*`) all mean none."""
    value = field(body, name, str, required=False)
    return check_uid(value, name) if value else None


def _enum_value(value: Any, enum_type: type[DeviceAppType] | type[DeviceStatus], name: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise BadUserInput(f"{name} must be one of: {allowed}", field=name) from None


# -- the device itself (F0-F6) ------------------------------------------------------------------


async def login(request: Request) -> Response:
    """F0."""
    principal = need(request, TokenKind.DEVICE)
    body = await read_object(request)
    user_code = field(body, "userCode", str)
    password = field(body, "password", str)
    store = _store(request)
    result = await store.devices.login(principal, user_code, password)
    (tenant_user,) = await tenant_users_json(store, [result.user])
    return json_response({"accessToken": result.access_token.token, "tenantUser": tenant_user})


async def device_information(request: Request) -> Response:
    """F1."""
    principal = need(request, TokenKind.ACCESS)
    store = _store(request)
    device = await store.devices.current(principal)
    shop = (await store.stores.get_many([device.store_id])).get(device.store_id) if device.store_id else None
    tenant = (await store.tenants.get_many([device.tenant_id])).get(device.tenant_id) if device.tenant_id else None
    till = (await store.stores.tills_get_many([device.till_id])).get(device.till_id) if device.till_id else None
    return json_response(
        {
            "deviceUid": device.id,
            "deviceIdentifier": device.id,
            "name": device.name,
            "appType": device.app_type.value,
            "status": device.status.value,
            "systemInformation": device.system_information,
            "storeInfo": {"storeUid": shop.uid, "name": shop.name} if shop else None,
            "tenantInfo": {"tenantUid": tenant.id, "name": tenant.name} if tenant else None,
            "tillInfo": {"tillUid": till.id, "name": till.name} if till else None,
            "availablePaymentMethods": [],
            "zeroAmountPaymentMethod": None,
            "availableReasons": {"discount": [], "return": []},
            "currencyDenominations": [],
            "settings": [],
            "printers": [],
        }
    )


async def register(request: Request) -> Response:
    """F2."""
    body = await read_object(request)
    client_id = field(body, "clientId", str)
    name = field(body, "name", str, required=False)
    system_information = field(body, "systemInformation", str, required=False)
    r = await _store(request).devices.register(client_id, name, system_information)
    return json_response(
        {
            "deviceCode": r.device_code,
            "deviceIdentifier": r.device.id,
            "expires_in": r.expires_in,
            "interval": r.interval,
            "verificationUri": r.verification_uri,
        }
    )


async def update_system_information(request: Request) -> Response:
    """F3."""
    principal = need(request, TokenKind.DEVICE)
    body = await read_object(request)
    system_information = field(body, "systemInformation", str)
    await _store(request).devices.update_system_information(principal, system_information)
    return empty_response(204)


async def authorize(request: Request) -> Response:
    """F4."""
    principal = need(request, TokenKind.ACCESS, TokenKind.USER)
    body = await read_object(request)
    device_code = field(body, "deviceCode", str)
    tenant_uid = _uid(body, "tenantUid")
    store_uid = _uid(body, "storeUid")
    till_uid = _optional_uid(body, "tillUid")
    name = field(body, "name", str, required=False)
    await _store(request).devices.authorize(principal, device_code, tenant_uid, store_uid, till_uid, name)
    return empty_response(200)


async def link(request: Request) -> Response:
    """F5."""
    body = await read_object(request)
    app_id = field(body, "appId", str)
    user_code = field(body, "userCode", str)
    password = field(body, "password", str)
    system_information = field(body, "systemInformation", str, required=False)
    store = _store(request)
    r = await store.devices.link(request.path_params["deviceCode"], app_id, user_code, password, system_information)
    (device,) = await devices_json(store, [r.device])
    return json_response({"deviceToken": r.device_token.token, "device": device})


async def device_users(request: Request) -> Response:
    """F6."""
    principal = need(request, TokenKind.DEVICE)
    args = page_args(request)
    account_types = [
        part.strip() for value in request.query_params.getlist("accountTypes") for part in value.split(",")
    ]
    store = _store(request)
    page = await store.devices.users(principal, args, [a for a in account_types if a] or None)
    return json_response(list_json(await tenant_users_json(store, page.items), page, args))


# -- tenant administration (F7-F12) -------------------------------------------------------------


async def _store_id(store: LocalStore, tenant_uid: str, store_uid: str | None) -> int | None:
    """The id of a filter's store; -1 (matching nothing) for one not in the tenant, as for a
    missing one, so another tenant's store uids cannot be probed."""
    if store_uid is None:
        return None
    found = (await store.stores.get_many_by_uid([check_uid(store_uid, "storeUid")])).get(store_uid)
    return found.id if found is not None and found.tenant_id == tenant_uid else -1


async def list_devices(request: Request) -> Response:
    """F7."""
    principal, tenant_uid = tenant_admin(request)
    args = page_args(request)
    store = _store(request)
    store_id = await _store_id(store, tenant_uid, request.query_params.get("storeUid") or None)
    page = await store.devices.search(principal, DeviceFilter(tenant_id=tenant_uid, store_id=store_id), args)
    return json_response(list_json(await devices_json(store, page.items), page, args))


async def create_device(request: Request) -> Response:
    """F8."""
    principal, tenant_uid = tenant_admin(request)
    body = await read_object(request)
    store_uid = _uid(body, "storeUid")
    till_uid = _optional_uid(body, "tillUid")
    app_type = _enum_value(field(body, "appType", str), DeviceAppType, "appType")
    name = field(body, "name", str, required=False)
    store = _store(request)
    device = await store.devices.create(principal, tenant_uid, store_uid, till_uid, app_type, name)
    (body_json,) = await devices_json(store, [device])
    return json_response(body_json, 201)


async def search_devices(request: Request) -> Response:
    """F9."""
    principal, tenant_uid = tenant_admin(request)
    args = page_args(request)
    body = await read_object(request, required=False)
    store_uid = _optional_uid(body, "storeUid")
    app_type = field(body, "appType", str, required=False)
    status = field(body, "status", str, required=False)
    text = field(body, "text", str, required=False)
    store = _store(request)
    where = DeviceFilter(
        tenant_id=tenant_uid,
        store_id=await _store_id(store, tenant_uid, store_uid),
        app_type=_enum_value(app_type, DeviceAppType, "appType") if app_type else None,
        status=_enum_value(status, DeviceStatus, "status") if status else None,
        text=text or None,
    )
    page = await store.devices.search(principal, where, args)
    return json_response(list_json(await devices_json(store, page.items), page, args))


async def get_device(request: Request) -> Response:
    """F10."""
    principal, tenant_uid = tenant_admin(request)
    device_uid = check_uid(request.path_params["deviceUid"], "deviceUid")
    store = _store(request)
    device = await store.devices.get(principal, tenant_uid, device_uid)
    (body_json,) = await devices_json(store, [device])
    return json_response(body_json)


async def update_device(request: Request) -> Response:
    """F11. Fields left out (or null) stay as they are; an empty storeUid or tillUid clears it."""
    principal, tenant_uid = tenant_admin(request)
    device_uid = check_uid(request.path_params["deviceUid"], "deviceUid")
    body = await read_object(request)
    unknown = sorted(set(body) - set(CHANGEABLE))
    if unknown:
        raise BadUserInput(f"Cannot change: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for name, key in CHANGEABLE.items():
        value = field(body, name, str, required=False)
        if value is None:
            continue
        if name in ("storeUid", "tillUid") and value:
            check_uid(value, name)
        changes[key] = value
    store = _store(request)
    device = await store.devices.update(principal, tenant_uid, device_uid, changes)
    (body_json,) = await devices_json(store, [device])
    return json_response(body_json)


async def delete_device(request: Request) -> Response:
    """F12."""
    principal, tenant_uid = tenant_admin(request)
    device_uid = check_uid(request.path_params["deviceUid"], "deviceUid")
    await _store(request).devices.delete(principal, tenant_uid, device_uid)
    return empty_response(204)


# -- tenants, stores, tills ---------------------------------------------------------------------


async def get_tenant(request: Request) -> Response:
    _principal, tenant_uid = tenant_member(request)
    tenant = (await _store(request).tenants.get_many([tenant_uid])).get(tenant_uid)
    if tenant is None:
        raise NotFound("No tenant with this uid.")
    return json_response(tenant_json(tenant))


async def list_stores(request: Request) -> Response:
    _principal, tenant_uid = tenant_member(request)
    args = page_args(request)
    page = (await _store(request).stores.page_by_tenant([tenant_uid], args))[tenant_uid]
    return json_response(list_json([store_json(s) for s in page.items], page, args))


async def _tenant_store(request: Request, tenant_uid: str) -> Store:
    store_uid = check_uid(request.path_params["storeUid"], "storeUid")
    found = (await _store(request).stores.get_many_by_uid([store_uid])).get(store_uid)
    if found is None or found.tenant_id != tenant_uid:
        raise NotFound("No store with this uid in the tenant.")
    return found


async def get_store(request: Request) -> Response:
    _principal, tenant_uid = tenant_member(request)
    return json_response(store_json(await _tenant_store(request, tenant_uid)))


async def list_tills(request: Request) -> Response:
    _principal, tenant_uid = tenant_member(request)
    shop = await _tenant_store(request, tenant_uid)
    tills = (await _store(request).stores.tills_by_store([shop.id]))[shop.id]
    return json_response({"items": [{"tillUid": till.id, "storeUid": shop.uid, "name": till.name} for till in tills]})


routes: list[BaseRoute] = [
    Route("/account", endpoint(login), methods=["POST"]),
    Route("/device", endpoint(device_information), methods=["GET"]),
    Route("/device", endpoint(register), methods=["POST"]),
    Route("/device", endpoint(update_system_information), methods=["PUT"]),
    Route("/device/authorize", endpoint(authorize), methods=["POST"]),
    Route("/device/users", endpoint(device_users), methods=["GET"]),
    Route("/device/{deviceCode}/link", endpoint(link), methods=["POST"]),
    Route("/tenants/{tenantUid}", endpoint(get_tenant), methods=["GET"]),
    Route("/tenants/{tenantUid}/devices", endpoint(list_devices), methods=["GET"]),
    Route("/tenants/{tenantUid}/devices", endpoint(create_device), methods=["POST"]),
    Route("/tenants/{tenantUid}/devices/search", endpoint(search_devices), methods=["POST"]),
    Route("/tenants/{tenantUid}/devices/{deviceUid}", endpoint(get_device), methods=["GET"]),
    Route("/tenants/{tenantUid}/devices/{deviceUid}", endpoint(update_device), methods=["PUT"]),
    Route("/tenants/{tenantUid}/devices/{deviceUid}", endpoint(delete_device), methods=["DELETE"]),
    Route("/tenants/{tenantUid}/stores", endpoint(list_stores), methods=["GET"]),
    Route("/tenants/{tenantUid}/stores/{storeUid}", endpoint(get_store), methods=["GET"]),
    Route("/tenants/{tenantUid}/stores/{storeUid}/tills", endpoint(list_tills), methods=["GET"]),
]
