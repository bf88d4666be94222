"""Records shared by every backend: what the local store reads from SQL and what the upstream
clients parse from REST payloads. The graph reads their attributes directly, so a record is built
once per entity and never copied into a second object.

Field names are the graph's (snake_case of the camelCase GraphQL names). Imports nothing of the
project but errors.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from facade.errors import BadUserInput

# The largest id or list position facade accepts: a GraphQL Int and a PostgreSQL integer hold it.
INT32_MAX = 2**31 - 1
UID_PATTERN = re.compile(r"^[A-Za-z0-9\-_]+$")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
SEMVER_PATTERN = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def check_uid(value: str, name: str) -> str:
    """Flow Retail's UID schema: `^[A-Za-z0-9-_]+` (we anchor the end too: a uid is one token),
    at most 64 characters (what the stores' uid columns hold)."""
    # fullmatch: `$` alone would let a trailing newline through.
    if len(value) > 64 or not UID_PATTERN.fullmatch(value):
        raise BadUserInput(f"{name} must match ^[A-Za-z0-9-_]+", field=name)
    return value


def check_session_id(value: str, name: str = "sessionId") -> str:
    if not UUID_PATTERN.fullmatch(value):
        raise BadUserInput(f"{name} must be a lower-case UUID", field=name)
    return value


def check_semver(value: str, name: str) -> str:
    if not SEMVER_PATTERN.fullmatch(value):
        raise BadUserInput(f"{name} must be a semantic version such as 3.0.0", field=name)
    return value


def semver_key(value: str) -> tuple[int, int, int, int, str]:
    """Orders semantic versions; a pre-release sorts before its release."""
    match = SEMVER_PATTERN.match(value)
    if match is None:
        return (-1, -1, -1, -1, value)
    major, minor, patch, pre, _build = match.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


R = TypeVar("R", bound="Record")

# The slots every pydantic model instance has, set through their descriptors: a third faster than
# object.__setattr__ by name.
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_get_private = BaseModel.__dict__["__pydantic_private__"].__get__


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # The names of the record's fields: the fields-set every trusted record of the class shares.
    __record_fields__: ClassVar[set[str]] = set()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__record_fields__ = set(cls.model_fields)

    @classmethod
    def trusted(cls: type[R], values: dict[str, Any]) -> R:
        """The record holding `values` as they are: no validation, no defaults, no copy.

        For values already checked against the record's types by whoever read them (an upstream
        payload's lean reader, a row the store itself wrote): `values` names every field, nested
        records are records already (not dicts), and the dict becomes the record's own.

        What `model_construct` does without its per-field default and alias handling: 0.57 us
        for a 3-field record against model_construct's 4.6 us and model_validate's 2 us (1.36 us
        when this set the slots by name and made a fields-set per record). The fields-set is the
        class's, shared: pydantic copies it before `model_copy` changes it, and a frozen record
        never changes its own.
        """
        record: R = _new(cls)
        _set_dict(record, values)
        _set_fields_set(record, cls.__record_fields__)
        _set_extra(record, None)
        _set_private(record, None)
        return record

    @classmethod
    def deferred(cls: type[R], values: dict[str, Any], later: Deferred, source: Any) -> R:
        """A trusted record (see `trusted`) holding `values` now and the rest of its fields
        when first read: `later.parts` maps each missing field name to the function that reads
        it (with the other fields of its part) from `source`.

        For records read from an upstream payload, where most of a record is never read by a
        query (a FLECS product's categories, attributes and metadata when the query asks for
        `id name price`): each part is checked and built on the first read of any of its
        fields, then held like the rest. A part that raises `Unusual` is read by
        `later.whole(source)` instead (the payload model's record, which coerces or raises
        UpstreamError: the error of the field that read it).

        Equality, hashing, copies and dumps complete the record first (`complete`): a deferred
        record is, for everything but the time its fields take, the record it defers.
        """
        record: R = _new(cls)
        _set_dict(record, values)
        _set_fields_set(record, cls.__record_fields__)
        _set_extra(record, None)
        _set_private(record, (later, source))
        return record

    def complete(self: R) -> R:
        """The record with every deferred part read, its deferred records' too (itself; a no-op
        for other records)."""
        pending = _get_private(self)
        if type(pending) is tuple:
            values = self.__dict__
            for name in pending[0].parts:
                if name not in values:
                    _read_part(self, pending, name)
            _set_private(self, None)
            for value in values.values():
                for nested in value if type(value) is list else (value,):
                    if isinstance(nested, Record):
                        nested.complete()
        return self

    if not TYPE_CHECKING:  # at type-checking time a record has only its fields

        def __getattr__(self, name: str) -> Any:
            pending = _get_private(self)
            if type(pending) is tuple and name in pending[0].parts:
                return _read_part(self, pending, name)
            return super().__getattr__(name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            self.complete()
            other.complete()
        return super().__eq__(other)

    def __hash__(self) -> int:
        self.complete()
        values = self.__dict__
        return hash((type(self), *(values[name] for name in type(self).model_fields)))

    def __copy__(self: R) -> R:
        return super(Record, self.complete()).__copy__()

    def __deepcopy__(self: R, memo: dict[int, Any] | None = None) -> R:
        return super(Record, self.complete()).__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        return super(Record, self.complete()).__getstate__()

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        return super(Record, self.complete()).model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        return super(Record, self.complete()).model_dump_json(**kwargs)

    def __iter__(self) -> Any:
        return super(Record, self.complete()).__iter__()

    def __repr_args__(self) -> Any:
        return super(Record, self.complete()).__repr_args__()


class Unusual(Exception):
    """Raised by a lean reader (of an upstream payload, see `backends/upstream/payloads.py`) at a
    value it does not take as it stands (a number sent as text, an alias, a missing required
    field, a wrong type): the item, or the deferred part, is read by its payload model."""


@dataclass(frozen=True, slots=True)
class Deferred:
    """How a deferred record (`Record.deferred`) reads its missing fields from its source (the
    decoded item), one per reader, shared by its records: a function per missing field (`parts`:
    field name -> function of the source answering a dict of that field and the others read
    with it), and the whole record as the payload model reads it (`whole`), for a part whose
    function raised `Unusual`."""

    parts: Mapping[str, Callable[[Any], dict[str, Any]]]
    whole: Callable[[Any], Record]


def _read_part(record: Record, pending: tuple[Deferred, Any], name: str) -> Any:
    later, source = pending
    values = record.__dict__
    try:
        values.update(later.parts[name](source))
    except Unusual:
        whole = later.whole(source).__dict__  # the model's record, or UpstreamError
        for missing in later.parts:
            if missing not in values:
                values[missing] = whole[missing]
    return values[name]


class SortDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


class DeviceAppType(enum.Enum):
    CLIENT = "CLIENT"
    ASSISTANT = "ASSISTANT"
    UNKNOWN = "UNKNOWN"


class DeviceStatus(enum.Enum):
    READY_TO_LINK = "READY_TO_LINK"
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"


class TenantRole(enum.Enum):
    ADMIN = "ADMIN"
    ACCESS = "ACCESS"


class Tenant(Record):
    id: str
    name: str
    created_at: dt.datetime


class User(Record):
    id: int
    login: str
    email: str
    display_name: str
    first_name: str = ""
    last_name: str = ""
    tenant_id: str | None = None
    tenant_role: TenantRole = TenantRole.ACCESS
    user_code: str | None = None
    account_type: str = "FULL"
    default_store_id: int | None = None
    is_vendor: bool = False
    is_whitelabeled: bool = False
    created_at: dt.datetime


class Address(Record):
    street_1: str
    street_2: str
    city: str
    zip: str
    country: str
    state: str


class Store(Record):
    id: int
    uid: str
    tenant_id: str
    name: str
    shop_name: str
    url: str
    address: Address
    created_at: dt.datetime

    @property
    def tenant_store(self) -> tuple[str, int]:
        """(tenant uid, store id): how the loaders of its Afosto edges key the store."""
        return (self.tenant_id, self.id)


class Till(Record):
    id: str
    store_id: int
    name: str


class Category(Record):
    id: int
    name: str
    slug: str


class Attribute(Record):
    id: int
    name: str
    options: list[str]


class Metadata(Record):
    id: int | None = None
    name: str
    value: Any = None


class Product(Record):
    id: int
    store_id: int
    owner_id: int | None
    name: str
    status: str
    description: str
    short_description: str
    average_rating: str
    rating_count: int
    categories: list[Category]
    attributes: list[Attribute]
    meta_data: list[Metadata]
    stock_status: str
    permalink: str
    price: str
    purchasable: bool
    is_app: bool
    app_id: str | None = None
    is_official: bool = True
    created_at: dt.datetime
    # The store as the source embedded it in the product (FLECS lists carry `store`): the fields
    # that source holds, answered without a second read; None when the source did not embed it.
    embedded_store: Store | None = None


class Review(Record):
    id: int
    product_id: int
    user_id: int | None
    reviewer: str
    reviewer_email: str
    review: str
    rating: int
    status: str
    verified: bool
    created_at: dt.datetime


class Billing(Record):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    email: str = ""


class LineItem(Record):
    id: int
    subscription_id: int
    product_id: int
    variation_id: int
    quantity: int
    status: str
    image: dict[str, Any]


class Subscription(Record):
    id: int
    user_id: int
    status: str
    billing: Billing
    line_items: list[LineItem]
    created_at: dt.datetime


class Device(Record):
    id: str
    tenant_id: str | None
    store_id: int | None
    till_id: str | None
    name: str | None
    app_type: DeviceAppType
    status: DeviceStatus
    system_information: str | None
    device_code: str | None
    client_id: str | None = None
    owner_id: int | None = None
    manufacturer_id: int | None = None
    manufacturer_name: str | None = None
    model: str | None = None
    serial_number: str | None = None
    manufacture_date: dt.date | None = None
    license_status: int | None = None
    created_at: dt.datetime
    last_modified_at: dt.datetime
    # Flow Retail names a device's store by uid only; the local store knows its numeric id.
    store_uid: str | None = None

    @property
    def store_ref(self) -> int | str | None:
        """The store as whichever key this record has: numeric id, else Flow Retail uid."""
        return self.store_id if self.store_id is not None else self.store_uid

    @property
    def tenant_device(self) -> tuple[str, str] | None:
        """(tenant uid, device id), None for a device of no tenant: how the loader of its print
        hub keys the device."""
        return None if self.tenant_id is None else (self.tenant_id, self.id)


class License(Record):
    id: int
    key: str
    user_id: int | None
    product_id: int | None
    device_id: str | None
    session_id: str | None
    session_timestamp: int | None
    activated_at: dt.datetime | None
    valid_until: dt.datetime | None
    created_at: dt.datetime


class AppManifest(Record):
    app: str
    version: str
    schema_version: str
    manifest: dict[str, Any]
    product_id: int | None


class DownloadToken(Record):
    id: int
    app: str
    version: str
    session_id: str
    username: str
    password: str
    created_at: dt.datetime


class Session(Record):
    """A FLECS device activation session (the X-Session-Id): its id and when it was issued."""

    id: str
    timestamp: int


# ---------------------------------------------------------------------------------------------
# Paging: one shape for every list, whatever backend answers it.

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageArgs:
    """A slice of a sorted list: `limit` items after `offset`, sorted by `sort` then id."""

    limit: int
    offset: int = 0
    sort: str = "id"
    direction: SortDirection = SortDirection.ASC
    # Worked out once: a page is part of every key a paged edge loads (one per parent item), and
    # hashing the enum member is a Python-level call each time.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.limit, self.offset, self.sort, self.direction.value)))

    def __hash__(self) -> int:
        return self._hash


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"o:{position}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The position a cursor names; BadUserInput for anything this API did not hand out, including
    a position beyond what a list can hold (2^31 - 2: a GraphQL Int counts the list)."""
    if len(cursor) > 64:
        raise BadUserInput("`after` is not a cursor from this API.", field="after")
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        position = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput("`after` is not a cursor from this API.", field="after") from None
    # Only the text encode_cursor writes: not base64 with spare bits set or junk after it, nor a
    # position spelt otherwise ("01", " 1", other scripts' digits), which int() would take.
    if kind != "o" or not 0 <= position < INT32_MAX or encode_cursor(position) != cursor:
        raise BadUserInput("`after` is not a cursor from this API.", field="after")
    return position


class Cursor:
    __slots__ = ("cursor", "node")

    def __init__(self, cursor: str, node: Any) -> None:
        self.cursor = cursor
        self.node = node


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A slice of a list and the list's length.

    It is also what the graph's Relay connection types read (`edges`, `nodes`, `total_count`,
    `page_info`), so a page reaches the response with no wrapper object built around it.
    """

    items: Sequence[T]
    total: int
    offset: int = 0

    @property
    def nodes(self) -> Sequence[T]:
        return self.items

    @property
    def total_count(self) -> int:
        return self.total

    @property
    def edges(self) -> list[Cursor]:
        start = self.offset
        return [Cursor(encode_cursor(start + i), node) for i, node in enumerate(self.items)]

    @property
    def page_info(self) -> Page[T]:
        return self

    @property
    def has_next_page(self) -> bool:
        return self.offset + len(self.items) < self.total

    @property
    def has_previous_page(self) -> bool:
        return self.offset > 0

    @property
    def start_cursor(self) -> str | None:
        return encode_cursor(self.offset) if self.items else None

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(self.offset + len(self.items) - 1) if self.items else None


@dataclass(frozen=True, slots=True)
class OwnedPage(Page[T]):
    """A page of a list that belongs to someone even when it is empty: `owner` is a record the
    list's record rule is checked on as well as on the items (a product's Afosto prices are its
    SKU's tenant's, whatever the page holds)."""

    owner: Any = None


_set_items, _set_total = Page.__dict__["items"].__set__, Page.__dict__["total"].__set__
_set_offset, _set_owner = Page.__dict__["offset"].__set__, OwnedPage.__dict__["owner"].__set__


def owned_page(items: Sequence[T], total: int, offset: int, owner: Any) -> OwnedPage[T]:
    """`OwnedPage(items, total, offset, owner)` with its slots set directly: a frozen dataclass's
    `__init__` sets each field through `object.__setattr__`, and a catalog of 100 products makes
    200 of these a request."""
    page: OwnedPage[T] = object.__new__(OwnedPage)
    _set_items(page, items)
    _set_total(page, total)
    _set_offset(page, offset)
    _set_owner(page, owner)
    return page


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    tenant_id: str | None = None
    store_id: int | None = None
    app_type: DeviceAppType | None = None
    status: DeviceStatus | None = None
    text: str | None = None
