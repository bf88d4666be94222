"""The bodies the Flow Retail Device API v2 sends and accepts, as tolerant models over the shared
`Payload` (`backends/upstream/payloads.py`), and the converters from them to facade's records.

A Flow Retail store or user has only a string uid; facade's integer ids for them are
`flow_store_id(uid)` and `flow_user_id(uid)`.

Imports models, errors and the shared payloads; never the FLECS folder.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, Field

from facade.backends.upstream.payloads import (
    UNKNOWN_TIME,
    Int32,
    Payload,
    Text,
    Timestamp,
    Uid,
    WholeNumber,
    lean,
    opt_time,
)
from facade.models import (
    INT32_MAX,
    Address,
    Device,
    DeviceAppType,
    DeviceStatus,
    Store,
    Tenant,
    TenantRole,
    Till,
    Unusual,
    User,
)

T = TypeVar("T")


def flow_store_id(uid: str) -> int:
    """The integer id of a Flow Retail store, which has only a string uid: CRC-32 of the uid.

    facade's `Store.id` is an integer (FLECS's productStore.id) and Flow Retail sends none, so a
    Store built from a Flow STORE gets one that is the same in every process and request for
    the same uid (tills and tenant users' default stores use it too; a device keeps the uid
    itself, `Device.store_uid`). It is not FLECS's id of the same shop, nor the local store's
    row id: the APIs share no key. Collisions are possible in principle (31 bits) and ignored.
    31 bits, not CRC-32's 32: every id fits a GraphQL Int and the bound `store(id:)` accepts.
    """
    return zlib.crc32(uid.encode()) & INT32_MAX


def flow_user_id(uid: str) -> int:
    """facade's integer user id for a Flow Retail tenantUserUid: the number itself when the uid is
    numeric and within 31 bits, 31 bits of its CRC-32 otherwise (see `flow_store_id`)."""
    if uid.isascii() and uid.isdigit() and len(uid) <= 10 and int(uid) <= INT32_MAX:
        return int(uid)
    return zlib.crc32(uid.encode()) & INT32_MAX


class FlowError(Payload):
    message: str | None = None
    code: str | int | None = None


class FlowList(Payload, Generic[T]):
    """The list envelope: `items`, the 1-based `pageNumber`, `pageSize` and `totalCount`."""

    items: list[T] = Field(default_factory=list)
    pageNumber: WholeNumber | None = None
    pageSize: WholeNumber | None = None
    totalCount: WholeNumber | None = None


class StoreAccess(Payload):
    storeUid: Uid
    storeRole: str | None = None


class TenantUser(Payload):
    tenantUserUid: Uid = Field(validation_alias=AliasChoices("tenantUserUid", "uid"))
    userCode: Uid | None = None
    displayName: Text = ""
    email: Text = ""
    firstname: Text = ""
    lastname: Text = ""
    tenantUid: Uid | None = None
    tenantRole: str | None = None
    accountType: str | None = None
    defaultStoreUid: Uid | None = None
    status: str | None = None
    storeAccess: list[StoreAccess] = Field(default_factory=list)
    createdAt: Timestamp | None = None
    # Not in the contract (Flow's own login name).
    login: str | None = None


def _role(value: str | None) -> TenantRole:
    try:
        return TenantRole(value or TenantRole.ACCESS.value)
    except ValueError:
        return TenantRole.ACCESS


def tenant_user(u: TenantUser) -> User:
    """facade's User from a Flow tenantUser. The integer id is `flow_user_id(tenantUserUid)`;
    the login is the server's `login` when sent, else the e-mail address, else the user code;
    the default store is `flow_store_id(defaultStoreUid)`."""
    return User(
        id=flow_user_id(u.tenantUserUid),
        login=u.login or u.email or u.userCode or u.tenantUserUid,
        email=u.email,
        display_name=u.displayName or " ".join(x for x in (u.firstname, u.lastname) if x),
        first_name=u.firstname,
        last_name=u.lastname,
        tenant_id=u.tenantUid,
        tenant_role=_role(u.tenantRole),
        user_code=u.userCode,
        account_type=u.accountType or "FULL",
        default_store_id=flow_store_id(u.defaultStoreUid) if u.defaultStoreUid else None,
        created_at=u.createdAt or UNKNOWN_TIME,
    )


# What F6 sorts by upstream; a login (not in tenantUser) sorts the fetched page only.
USER_SORT_FIELDS = {"display_name": "displayName", "created_at": "createdAt"}


class AccountRequest(Payload):
    userCode: str
    password: str


class AccountResponse(Payload):
    accessToken: str
    tenantUser: TenantUser
    expiresIn: WholeNumber | None = Field(None, validation_alias=AliasChoices("expiresIn", "expires_in"))


class FlowDevice(Payload):
    """DEVICE: the Flow Retail device record."""

    deviceUid: Uid
    name: str | None = None
    appType: str | None = None
    status: str | None = None
    systemInformation: str | None = None
    deviceCode: str | None = None
    tenantUid: Uid | None = None
    storeUid: Uid | None = None
    tillUid: Uid | None = None
    clientId: str | None = None
    createdAt: Timestamp | None = None
    lastModifiedAt: Timestamp | None = None


def _app_type(value: str | None) -> DeviceAppType:
    try:
        return DeviceAppType(value or DeviceAppType.UNKNOWN.value)
    except ValueError:
        return DeviceAppType.UNKNOWN


def _status(value: str | None) -> DeviceStatus:
    try:
        return DeviceStatus(value or DeviceStatus.READY_TO_LINK.value)
    except ValueError:
        # An unknown status must not read as usable: BLOCKED is the safe reading.
        return DeviceStatus.BLOCKED


def device_record(item: Any) -> Device:
    """facade's Device from a Flow DEVICE with plain JSON types, built as it is read (a uid sent
    as a number is Unusual: the model reads it as text). Its store is named by uid
    (`store_uid`), which the graph resolves through the store-by-uid loader. See
    `product_record` for the two paths."""
    if type(item) is not dict:
        raise Unusual
    get = item.get
    uid = get("deviceUid")
    if type(uid) is not str:
        raise Unusual
    values = {
        "id": uid,
        "tenant_id": get("tenantUid"),
        "store_id": None,
        "till_id": get("tillUid"),
        "name": get("name"),
        "app_type": get("appType"),
        "status": get("status"),
        "system_information": get("systemInformation"),
        "device_code": get("deviceCode"),
        "client_id": get("clientId"),
        "owner_id": None,
        "manufacturer_id": None,
        "manufacturer_name": None,
        "model": None,
        "serial_number": None,
        "manufacture_date": None,
        "license_status": None,
        "created_at": get("createdAt"),
        "last_modified_at": get("lastModifiedAt"),
        "store_uid": get("storeUid"),
    }
    for name in _DEVICE_TEXT:
        if not (values[name] is None or type(values[name]) is str):
            raise Unusual
    created = values["created_at"]
    created = values["created_at"] = UNKNOWN_TIME if created is None else opt_time(created)
    modified = values["last_modified_at"]
    values["last_modified_at"] = created if modified is None else opt_time(modified)
    values["app_type"] = _app_type(values["app_type"])
    values["status"] = _status(values["status"])
    values["till_id"] = values["till_id"] or None
    values["store_uid"] = values["store_uid"] or None
    return _trusted_device(values)


# The fields of a DEVICE that are text or null, as Device names them.
_DEVICE_TEXT = (
    "tenant_id",
    "till_id",
    "name",
    "app_type",
    "status",
    "system_information",
    "device_code",
    "client_id",
    "store_uid",
)
_trusted_device = Device.trusted


def device_reader(api: str) -> Callable[[Any], Device]:
    """The reader of a listed Flow DEVICE: `device_record`, else the tolerant FlowDevice model
    (`flow_device`); UpstreamError when that refuses it too."""
    return lean(device_record, FlowDevice, flow_device, api)


def flow_device(d: FlowDevice) -> Device:
    """facade's Device from a validated FlowDevice (see `to_product`)."""
    return device_record(d.model_dump())


DEVICE_SORT_FIELDS = {
    "name": "name",
    "created_at": "createdAt",
    "last_modified_at": "lastModifiedAt",
    "status": "status",
    "app_type": "appType",
}

DEVICE_SORT: dict[str, Callable[[Device], Any]] = {
    "id": lambda d: d.id,
    "name": lambda d: (d.name is not None, d.name or ""),
    "created_at": lambda d: d.created_at,
    "last_modified_at": lambda d: d.last_modified_at,
    "status": lambda d: d.status.value,
    "app_type": lambda d: d.app_type.value,
}


class UidName(Payload):
    name: Text = ""


class StoreInfo(UidName):
    storeUid: Uid


class TenantInfo(UidName):
    tenantUid: Uid


class TillInfo(UidName):
    tillUid: Uid


class DeviceInfo(Payload):
    """F1 `GET /device`: the device as its signed-in app sees it. Payment methods, printers and
    the like are not facade's to model and are ignored."""

    deviceUid: Uid
    deviceIdentifier: str | None = None
    name: str | None = None
    appType: str | None = None
    status: str | None = None
    systemInformation: str | None = None
    deviceCode: str | None = None
    storeInfo: StoreInfo | None = None
    tenantInfo: TenantInfo | None = None
    tillInfo: TillInfo | None = None
    createdAt: Timestamp | None = None
    lastModifiedAt: Timestamp | None = None


def device_info(d: DeviceInfo) -> Device:
    """facade's Device from F1; an ACTIVE device unless the server says otherwise (only a
    linked device has an access token to ask with)."""
    return flow_device(
        FlowDevice(
            deviceUid=d.deviceUid,
            name=d.name,
            appType=d.appType,
            status=d.status or DeviceStatus.ACTIVE.value,
            systemInformation=d.systemInformation,
            deviceCode=d.deviceCode,
            tenantUid=d.tenantInfo.tenantUid if d.tenantInfo else None,
            storeUid=d.storeInfo.storeUid if d.storeInfo else None,
            tillUid=d.tillInfo.tillUid if d.tillInfo else None,
            createdAt=d.createdAt,
            lastModifiedAt=d.lastModifiedAt,
        )
    )


class RegisterRequest(Payload):
    clientId: str
    name: str | None = None
    systemInformation: str | None = None


class RegisterResponse(Payload):
    deviceCode: str
    deviceIdentifier: str
    expires_in: Int32 = Field(validation_alias=AliasChoices("expires_in", "expiresIn"))
    interval: Int32 = 5
    verificationUri: str = Field(validation_alias=AliasChoices("verificationUri", "verification_uri"))


class SystemInformationRequest(Payload):
    systemInformation: str


class AuthorizeRequest(Payload):
    deviceCode: str
    tenantUid: Uid
    storeUid: Uid
    tillUid: Uid | None = None
    name: str | None = None


class LinkRequest(Payload):
    appId: str
    userCode: str
    password: str
    systemInformation: str | None = None


class LinkResponse(Payload):
    deviceToken: str
    device: FlowDevice
    expiresIn: WholeNumber | None = Field(None, validation_alias=AliasChoices("expiresIn", "expires_in"))


class CreateDeviceRequest(Payload):
    storeUid: Uid
    tillUid: Uid | None = None
    appType: str
    name: str | None = None


class SearchRequest(Payload):
    storeUid: Uid | None = None
    appType: str | None = None
    status: str | None = None
    text: str | None = None


class FlowTenant(Payload):
    tenantUid: Uid
    name: Text = ""
    createdAt: Timestamp | None = None


def flow_tenant(t: FlowTenant) -> Tenant:
    return Tenant(id=t.tenantUid, name=t.name, created_at=t.createdAt or UNKNOWN_TIME)


class FlowAddress(Payload):
    """A Flow store's address; FLECS's snake_case names and common camelCase ones are read."""

    street_1: Text = Field("", validation_alias=AliasChoices("street_1", "street1", "addressLine1", "street"))
    street_2: Text = Field("", validation_alias=AliasChoices("street_2", "street2", "addressLine2"))
    city: Text = ""
    zip: Text = Field("", validation_alias=AliasChoices("zip", "zipCode", "postalCode"))
    country: Text = Field("", validation_alias=AliasChoices("country", "countryCode"))
    state: Text = ""


class FlowStore(Payload):
    """STORE. Shop name, url and creation time are not in the contract: read when sent."""

    storeUid: Uid
    name: Text = ""
    tenantUid: Text = ""
    address: FlowAddress = Field(default_factory=FlowAddress)
    shopName: str | None = Field(None, validation_alias=AliasChoices("shopName", "shop_name"))
    url: Text = ""
    createdAt: Timestamp | None = None


def flow_store(s: FlowStore) -> Store:
    """facade's Store from a Flow STORE: id `flow_store_id(storeUid)`, shop name the name when
    none is sent, url empty and creation time UNKNOWN_TIME unless sent."""
    a = s.address
    return Store(
        id=flow_store_id(s.storeUid),
        uid=s.storeUid,
        tenant_id=s.tenantUid,
        name=s.name,
        shop_name=s.shopName if s.shopName is not None else s.name,
        url=s.url,
        address=Address(
            street_1=a.street_1, street_2=a.street_2, city=a.city, zip=a.zip, country=a.country, state=a.state
        ),
        created_at=s.createdAt or UNKNOWN_TIME,
    )


STORE_SORT_FIELDS = {"name": "name", "created_at": "createdAt"}


class FlowTill(Payload):
    tillUid: Uid = Field(validation_alias=AliasChoices("tillUid", "uid", "id"))
    storeUid: Uid | None = None
    name: Text = ""


class TillList(Payload):
    items: list[FlowTill] = Field(default_factory=list)


def flow_till(t: FlowTill, store_uid: str) -> Till:
    return Till(id=t.tillUid, store_id=flow_store_id(t.storeUid or store_uid), name=t.name)
