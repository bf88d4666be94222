"""The Flow Retail Device API v2 (`contracts/flow-retail-devices.md`, F0-F12) behind facade's
backend interfaces: `FlowRetail(client)` holds `devices`, over the one `UpstreamClient` given
(base URL `.../v2`).

Credentials: every call but F2 (register), F5 (link) forwards the caller's Authorization (a
deviceToken, accessToken or authToken, whichever the caller holds) through the HTTP layer's
allow-list; nothing else is sent.

Paging: facade's limit/offset become `pageNumber` (1-based) and `pageSize` = limit, which is
exact when the offset is a multiple of the limit; any other offset straddles two pages, which are
both fetched and sliced (`PageWindow`). Sorting goes upstream as `sortBy`/`sortDirection` where the
API has the key (the camelCase names; ties in the API's order are assumed broken by id, as the
local store and the sandbox do); sorting by id sends only the direction (the API's default order
is by id). A key the API lacks but the entity has (a user's login) is sorted here over the whole
list, every page fetched, up to `sort_limit` items; a longer list is refused with BadUserInput,
never answered with one page sorted.

Integer ids: facade's stores have integer ids and Flow's only uids, so a Flow store's id is
`flow_store_id(storeUid)` (CRC-32, see payloads), and a device names its store by uid
(`Device.store_uid`). To filter "the devices of store 123" the client must know which tenant and
uid 123 stands for; it learns that from every store a device or tenant user it parses names and
keeps it for the rest of the GraphQL request, and otherwise asks the `store_directory` it was
given (the local store, whose numeric ids the graph uses). The sightings are an attribute of
the request's `FlowRequest` (`FlowRetail.bind`), dropped with the request. A store neither seen
in the request nor known to the directory matches no device.

Each public async method here is an interface method routed to this API in `backends/routes.py`
(checked at start-up); the rest (tenants, stores and tills, devices by id, store or owner,
users by tenant or store) the local store answers.

Where a write answers without the record (F3's 204, F4's empty 200), the record is read back
with a fresh (not de-duplicated) GET or search; when the caller may not read it, the record
holds what the request said (see each method).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote

from facade.auth import IssuedToken, Principal
from facade.backends.interfaces import DeviceLoginResult, DeviceRegistration, LinkResult
from facade.backends.upstream.base import ApiClient, ApiPart, ApiRequest
from facade.backends.upstream.fanout import TooLong, whole_list
from facade.backends.upstream.flow import payloads as p
from facade.backends.upstream.http import ApiPolicy, RequestScope, UpstreamClient, UpstreamResponse
from facade.backends.upstream.payloads import UNKNOWN_TIME, PageWindow, page_of, record_id, sort_locally, token_expiry
from facade.errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from facade.models import (
    Device,
    DeviceAppType,
    DeviceFilter,
    DeviceStatus,
    Page,
    PageArgs,
    SortDirection,
    Store,
    User,
    check_uid,
)

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")
V = TypeVar("V")

# F11's fields by facade's names.
CHANGEABLE = {"app_type": "appType", "status": "status", "store_uid": "storeUid", "till_uid": "tillUid", "name": "name"}
# How many of a store's most recently changed devices F4's read-back looks through.
READ_BACK_PAGE = 50
# The page size a whole list is fetched in (the contract names no maximum).
WHOLE_LIST_PAGE = 100

USER_LOCAL_SORT: dict[str, Callable[[User], Any]] = {
    "id": lambda u: u.id,
    "display_name": lambda u: u.display_name,
    "login": lambda u: u.login,
    "created_at": lambda u: u.created_at,
}


def _path(*segments: str) -> str:
    return "/" + "/".join(quote(s, safe="") for s in segments)


# ---------------------------------------------------------------------------------------------
# What one request has seen: integer store ids back to the uids Flow needs


class Sightings:
    """The Flow stores one request has seen, by facade's integer id (`flow_store_id`):
    `stores[id] = (tenantUid, storeUid)`."""

    __slots__ = ("stores",)

    def __init__(self) -> None:
        self.stores: dict[int, tuple[str, str]] = {}

    def store(self, tenant_uid: str | None, store_uid: str | None) -> None:
        if tenant_uid and store_uid:
            self.stores[p.flow_store_id(store_uid)] = (tenant_uid, store_uid)

    def device(self, d: Device) -> None:
        self.store(d.tenant_id, d.store_uid)

    def user(self, u: p.TenantUser) -> None:
        for access in u.storeAccess:
            self.store(u.tenantUid, access.storeUid)
        self.store(u.tenantUid, u.defaultStoreUid)


class FlowRequest(ApiRequest):
    """Flow Retail for one request: its sightings besides the bound client."""

    def __init__(self, api: ApiClient, scope: RequestScope) -> None:
        super().__init__(api, scope)
        self.sightings = Sightings()


class StoreDirectory(Protocol):
    """Where integer store ids are known (the local store in upstream mode): `get_many` is
    `StoreBackend.get_many`."""

    async def get_many(self, ids: Sequence[int]) -> dict[int, Store]: ...


class _Part(ApiPart):
    sightings: Sightings  # the request's (see `bound`)

    def __init__(
        self,
        client: UpstreamClient,
        concurrency: int,
        directory: StoreDirectory | None,
        sort_limit: int = 1000,
    ) -> None:
        super().__init__(client)
        self.concurrency = concurrency
        self.directory = directory
        self.sort_limit = sort_limit

    def bound(self, request: ApiRequest) -> Self:
        part = super().bound(request)
        part.sightings = request.sightings if isinstance(request, FlowRequest) else Sightings()
        return part

    async def _store_refs(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(tenantUid, storeUid) of integer store ids: a Flow store seen in this request, else
        whatever the directory knows of the id."""
        stores = self.sightings.stores
        found = {i: stores[i] for i in ids if i in stores}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing and self.directory is not None:
            for store_id, store in (await self.directory.get_many(missing)).items():
                found[store_id] = (store.tenant_id, store.uid)
        return found

    async def _paged(
        self,
        page: PageArgs,
        fetch: Callable[[dict[str, Any]], Awaitable[UpstreamResponse]],
        listing: type[p.FlowList[T]],
        build: Callable[[T], R],
        upstream_sort: dict[str, str],
        local_sort: dict[str, Callable[[R], Any]],
    ) -> Page[R]:
        """One window of a Flow list: the pages that cover it, fetched at once and cut."""
        if page.sort not in local_sort:
            raise BadUserInput(f"sort must be one of: {', '.join(sorted(local_sort))}", field="sort")
        window = PageWindow(page)
        params: dict[str, Any] = {"pageSize": window.size, "sortDirection": page.direction.value}
        sort_by = upstream_sort.get(page.sort)
        if sort_by is not None:
            params["sortBy"] = sort_by
        elif page.sort != "id":
            # The API cannot sort by this key: the whole list, sorted here.
            async def whole(number: int) -> tuple[list[R], int | None]:
                sent = {"pageSize": WHOLE_LIST_PAGE, "pageNumber": number, "sortDirection": SortDirection.ASC.value}
                listed = self.read(listing, await fetch(sent))
                return [build(x) for x in listed.items], listed.totalCount

            try:
                cap = asyncio.Semaphore(self.concurrency)  # this list's own: requests never share one
                everything = await whole_list(whole, WHOLE_LIST_PAGE, self.sort_limit, cap)
            except TooLong as too_long:
                raise BadUserInput(
                    f"In upstream mode the {self.api} sorts this list by {', '.join(sorted(upstream_sort)).upper()}"
                    f" or ID; facade sorts it by {page.sort.upper()} over the whole list, for lists of up to "
                    f"{self.sort_limit} items, and this one has {too_long.total or 'more'}.",
                    field="sortBy",
                ) from None
            return page_of(sort_locally(everything, page, local_sort, record_id), page)

        async def one(number: int) -> p.FlowList[T]:
            return self.read(listing, await fetch({**params, "pageNumber": number}))

        numbers = window.numbers
        # One page (the usual window): called here, not in a task of its own.
        lists = [await one(numbers[0])] if len(numbers) == 1 else list(await asyncio.gather(*map(one, numbers)))
        if any(len(listed.items) > window.size for listed in lists):
            # The upstream ignored paging and sent everything: sort and cut it here, exactly.
            everything = [build(x) for x in lists[0].items]
            return page_of(sort_locally(everything, page, local_sort, record_id), page)
        records = window.cut([build(x) for listed in lists for x in listed.items])
        total = next((listed.totalCount for listed in lists if listed.totalCount is not None), None)
        if total is None:
            # No count sent: what was seen is all that is known.
            total = (window.last - 1) * window.size + len(lists[-1].items)
        return Page(items=records, total=total, offset=page.offset)


def _issued(token: str, expires_in: int | None) -> IssuedToken:
    if expires_in is not None:
        return IssuedToken(token=token, expires=int(dt.datetime.now(dt.UTC).timestamp()) + expires_in)
    return IssuedToken(token=token, expires=token_expiry(token))


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, DeviceAppType | DeviceStatus) else value


# ---------------------------------------------------------------------------------------------
# Devices (F0-F12)


class FlowDevices(_Part):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device_item = p.device_reader(self.api)

    def _device(self, d: p.FlowDevice) -> Device:
        return self._seen(p.flow_device(d))

    def _listed_device(self, item: Any) -> Device:
        """A device of a list, read by the lean reader (see payloads)."""
        return self._seen(self.device_item(item))

    def _seen(self, device: Device) -> Device:
        self.sightings.device(device)
        return device

    # -- reads -----------------------------------------------------------------------------------

    async def search(self, principal: Principal | None, where: DeviceFilter, page: PageArgs) -> Page[Device]:
        """F7 (`GET`, de-duplicated) for a tenant or store, F9 (`POST .../search`) when filtering by
        app type, status or text. A store filter naming a store no one knows (see `store_refs`), or
        one of another tenant, matches nothing."""
        if where.tenant_id is None:
            raise BadUserInput("tenantUid is required", field="tenantUid")
        tenant_uid = check_uid(where.tenant_id, "tenantUid")
        store_uid: str | None = None
        if where.store_id is not None:
            known = (await self._store_refs([where.store_id])).get(where.store_id)
            if known is None or known[0] != tenant_uid:
                PageWindow(page)
                return Page(items=[], total=0, offset=page.offset)
            store_uid = known[1]
        text = (where.text or "").strip() or None
        path = _path("tenants", tenant_uid, "devices")
        fetch: Callable[[dict[str, Any]], Awaitable[UpstreamResponse]]
        if where.app_type is None and where.status is None and text is None:

            def fetch(params: dict[str, Any]) -> Awaitable[UpstreamResponse]:
                extra = {"storeUid": store_uid} if store_uid else {}
                return self.client.get(path, params={**params, **extra})

        else:
            body = p.SearchRequest(
                storeUid=store_uid,
                appType=where.app_type.value if where.app_type else None,
                status=where.status.value if where.status else None,
                text=text,
            ).model_dump(exclude_none=True)

            def fetch(params: dict[str, Any]) -> Awaitable[UpstreamResponse]:
                return self.client.send("POST", path + "/search", params=params, json=body, ok=(200,))

        return await self._paged(page, fetch, p.FlowList[Any], self._listed_device, p.DEVICE_SORT_FIELDS, p.DEVICE_SORT)

    async def get(self, principal: Principal, tenant_id: str, device_id: str) -> Device:
        """F10."""
        path = _path("tenants", check_uid(tenant_id, "tenantUid"), "devices", check_uid(device_id, "deviceUid"))
        return self._device(self.read(p.FlowDevice, await self.client.get(path)))

    async def current(self, principal: Principal) -> Device:
        """F1 `GET /device` (accessToken). F1 sends no creation time nor device code."""
        return self._info(await self.client.get("/device"))

    def _info(self, response: UpstreamResponse) -> Device:
        info = self.read(p.DeviceInfo, response)
        tenant = info.tenantInfo.tenantUid if info.tenantInfo else None
        store = info.storeInfo.storeUid if info.storeInfo else None
        self.sightings.store(tenant, store)
        return p.device_info(info)

    async def users(self, principal: Principal, page: PageArgs, account_types: Sequence[str] | None) -> Page[User]:
        """F6 `GET /device/users` (deviceToken): who may sign in on the calling device."""
        types = ",".join(a for a in account_types or () if a)

        def fetch(params: dict[str, Any]) -> Awaitable[UpstreamResponse]:
            return self.client.get("/device/users", params={**params, "accountTypes": types} if types else params)

        def build(u: p.TenantUser) -> User:
            self.sightings.user(u)
            return p.tenant_user(u)

        return await self._paged(page, fetch, p.FlowList[p.TenantUser], build, p.USER_SORT_FIELDS, USER_LOCAL_SORT)

    # -- the device itself -------------------------------------------------------------------------

    async def login(self, principal: Principal, user_code: str, password: str) -> DeviceLoginResult:
        """F0 `POST /account` with the deviceToken; the access token's expiry is `expiresIn`
        when sent, else its JWT `exp`, else 0 (unknown)."""
        response = await self.client.send(
            "POST", "/account", json=p.AccountRequest(userCode=user_code, password=password).model_dump(), ok=(200,)
        )
        data = self.read(p.AccountResponse, response)
        self.sightings.user(data.tenantUser)
        return DeviceLoginResult(
            user=p.tenant_user(data.tenantUser), access_token=_issued(data.accessToken, data.expiresIn)
        )

    async def register(self, client_id: str, name: str | None, system_information: str | None) -> DeviceRegistration:
        """F2 `POST /device` (no token). The response names the device and its code only, so the
        record holds what was sent: no tenant or store yet, READY_TO_LINK, created now."""
        if not client_id or not client_id.strip():
            raise BadUserInput("clientId must not be blank", field="clientId")
        body = p.RegisterRequest(clientId=client_id.strip(), name=name, systemInformation=system_information)
        response = await self.client.send("POST", "/device", json=body.model_dump(), forward=(), ok=(200, 201))
        data = self.read(p.RegisterResponse, response)
        now = dt.datetime.now(dt.UTC)
        device = Device(
            id=data.deviceIdentifier,
            tenant_id=None,
            store_id=None,
            till_id=None,
            name=(name or "").strip() or None,
            app_type=DeviceAppType.UNKNOWN,
            status=DeviceStatus.READY_TO_LINK,
            system_information=system_information,
            device_code=data.deviceCode,
            client_id=client_id.strip(),
            created_at=now,
            last_modified_at=now,
        )
        return DeviceRegistration(
            device=device,
            device_code=data.deviceCode,
            expires_in=data.expires_in,
            interval=data.interval,
            verification_uri=data.verificationUri,
        )

    async def update_system_information(self, principal: Principal, system_information: str) -> Device:
        """F3 `PUT /device` (deviceToken, 204), then the device read back with F1. F1 wants an
        accessToken; when the upstream refuses the deviceToken there, the record is what the
        token and the request say: the device id, its tenant, ACTIVE (only a linked device has a
        deviceToken), the new system information, and unknown app type and times."""
        await self.client.send(
            "PUT",
            "/device",
            json=p.SystemInformationRequest(systemInformation=system_information).model_dump(),
            ok=(200, 204),
        )
        try:
            return self._info(await self.client.send("GET", "/device", ok=(200,)))
        except (Forbidden, Unauthenticated):
            now = dt.datetime.now(dt.UTC)
            return Device(
                id=principal.device_id or principal.subject,
                tenant_id=principal.tenant_id,
                store_id=None,
                till_id=None,
                name=None,
                app_type=DeviceAppType.UNKNOWN,
                status=DeviceStatus.ACTIVE,
                system_information=system_information,
                device_code=None,
                created_at=UNKNOWN_TIME,
                last_modified_at=now,
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
        """F4 `POST /device/authorize` (200, no body). The device is then read back: the store's
        most recently changed devices (F9, TENANT.ADMIN) are searched for the code. When the
        caller may not search, or the device is not among them, the record is what the request
        said, with the device code standing in for the unknown device id."""
        body = p.AuthorizeRequest(
            deviceCode=device_code, tenantUid=tenant_id, storeUid=store_uid, tillUid=till_uid, name=name
        )
        await self.client.send("POST", "/device/authorize", json=body.model_dump(exclude_none=True), ok=(200, 204))
        wanted = device_code.strip().upper()
        try:
            response = await self.client.send(
                "POST",
                _path("tenants", tenant_id, "devices", "search"),
                params={
                    "pageNumber": 1,
                    "pageSize": READ_BACK_PAGE,
                    "sortBy": "lastModifiedAt",
                    "sortDirection": SortDirection.DESC.value,
                },
                json={"storeUid": store_uid},
                ok=(200,),
            )
            for item in self.read(p.FlowList[p.FlowDevice], response).items:
                if (item.deviceCode or "").strip().upper() == wanted:
                    return self._device(item)
        except (Forbidden, Unauthenticated, NotFound, BadUserInput):
            pass
        now = dt.datetime.now(dt.UTC)
        self.sightings.store(tenant_id, store_uid)
        return Device(
            id=wanted,
            tenant_id=tenant_id,
            store_id=None,
            store_uid=store_uid,
            till_id=till_uid,
            name=(name or "").strip() or None,
            app_type=DeviceAppType.UNKNOWN,
            status=DeviceStatus.ACTIVE,
            system_information=None,
            device_code=wanted,
            created_at=UNKNOWN_TIME,
            last_modified_at=now,
        )

    async def link(
        self,
        device_code: str,
        app_id: str,
        user_code: str,
        password: str,
        system_information: str | None,
    ) -> LinkResult:
        """F5 `POST /device/{deviceCode}/link` (no token: the code and the user's credentials are
        the proof) -> the deviceToken and the device."""
        body = p.LinkRequest(appId=app_id, userCode=user_code, password=password, systemInformation=system_information)
        response = await self.client.send(
            "POST",
            _path("device", device_code.strip(), "link"),
            json=body.model_dump(exclude_none=True),
            forward=(),
            ok=(200, 201),
        )
        data = self.read(p.LinkResponse, response)
        return LinkResult(device=self._device(data.device), device_token=_issued(data.deviceToken, data.expiresIn))

    # -- tenant administration (F8, F11, F12) ----------------------------------------------------

    async def create(
        self,
        principal: Principal,
        tenant_id: str,
        store_uid: str,
        till_uid: str | None,
        app_type: DeviceAppType,
        name: str | None,
    ) -> Device:
        """F8 `POST /tenants/{tenantUid}/devices` -> 201 DEVICE."""
        body = p.CreateDeviceRequest(storeUid=store_uid, tillUid=till_uid, appType=_enum_value(app_type), name=name)
        response = await self.client.send(
            "POST",
            _path("tenants", check_uid(tenant_id, "tenantUid"), "devices"),
            json=body.model_dump(exclude_none=True),
            ok=(200, 201),
        )
        return self._device(self.read(p.FlowDevice, response))

    async def update(self, principal: Principal, tenant_id: str, device_id: str, changes: dict[str, Any]) -> Device:
        """F11 `PUT /tenants/{tenantUid}/devices/{deviceUid}`; `changes` by facade's names (only
        what the caller set; an empty store or till uid clears it)."""
        unknown = set(changes) - set(CHANGEABLE)
        if unknown:
            raise BadUserInput(f"Cannot change: {', '.join(sorted(unknown))}")
        body = {CHANGEABLE[k]: _enum_value(v) for k, v in changes.items()}
        path = _path("tenants", check_uid(tenant_id, "tenantUid"), "devices", check_uid(device_id, "deviceUid"))
        response = await self.client.send("PUT", path, json=body, ok=(200,))
        return self._device(self.read(p.FlowDevice, response))

    async def delete(self, principal: Principal, tenant_id: str, device_id: str) -> None:
        """F12 -> 204."""
        path = _path("tenants", check_uid(tenant_id, "tenantUid"), "devices", check_uid(device_id, "deviceUid"))
        await self.client.send("DELETE", path, ok=(200, 204))


class FlowRetail(ApiClient):
    """The Flow Retail Device API v2: `devices`.

    `concurrency` caps the calls one list sends at once (the pages of a list sorted here).
    `store_directory` (e.g. the local store's `stores`) turns integer store ids the request has
    not seen into the uids Flow needs: the graph filters a tenant's devices by a store it loaded
    from there. `sort_limit` is the
    longest list fetched whole to be sorted by a key the API lacks.
    """

    # F9's search is a POST that only reads: declared, so identical searches of one request are
    # sent once and a passing failure is retried, as for F7's GET. The forwarded Authorization
    # authorises; a refusal reads by status.
    policy = ApiPolicy(reads={"POST /tenants/{tenantUid}/devices/search"})

    devices: FlowDevices  # declared: the routing table is checked against it (backends/routes.py)

    def __init__(
        self,
        client: UpstreamClient,
        *,
        concurrency: int = 16,
        store_directory: StoreDirectory | None = None,
        sort_limit: int = 1000,
    ) -> None:
        super().__init__(client)
        self.devices = FlowDevices(client, concurrency, store_directory, sort_limit)

    def bind(self, scope: RequestScope) -> FlowRequest:
        return FlowRequest(self, scope)
