"""The bodies the two upstream APIs send and accept, as tolerant pydantic models, and the
converters from them to facade's records (`facade.models`).

Tolerant means: unknown fields are ignored, fields the contract marks required but a real server
may leave out have defaults, and the defects listed in `contracts/flecs-console-api-notes.md` are
accepted as the servers send them rather than "fixed":

    D1   productMetadata requires `options`, which it never defines: not required here.
    D5   the X-Session-Id *response* header is a sessionId object; `parse_session_header` reads
         it as JSON (what the FLECS core does), as OpenAPI's `style: simple` form
         (`id,<uuid>,timestamp,<n>`), and as a bare UUID.
    D10  product lists come in two envelopes, {page, totalPages, products} and
         {totalProducts, products}: `ProductList` reads both.
    D11  order.customer_id is a JSON number: 7.0 is read as 7.
    D16  deviceLicenseResponse.status is an int16: read as an int in [-32768, 32767].
    D17  productMetadata.value is any JSON value (WooCommerce stores strings, lists, objects).

What the records need and no payload carries is documented on each converter; the usual cases:
a creation time the contract does not send becomes `UNKNOWN_TIME` (the Unix epoch), and a Flow
Retail store, which has only a string uid, gets the integer id `flow_store_id(uid)`.

How a list becomes records (the pattern every list an upstream sends whole follows, and the one
generated clients should follow):

1. The body is decoded once, by orjson (`UpstreamResponse.json`); a body that is not JSON is
   UpstreamError there.
2. The envelope (`Envelope[ProductPage]`, `FlowList[Any]`, ...) is a small pydantic model whose
   item list is `list[Any]`: the paging fields are checked, the items are left as decoded.
3. Each item goes through a lean reader that builds its record as it reads (`product_record`,
   `subscription_record`, `device_record`): plain `type(x) is ...` checks of exactly the fields
   the record takes, inline where one test does. Any value it does not take as it stands (a
   number sent as text, D11's 42.0, an alias, a missing id, a wrong type) raises `Unusual`, and
   `lean` hands that one item to the payload model, which coerces what the contract's defects
   need and refuses the rest (UpstreamError: UPSTREAM_ERROR as a field error); the model's dump
   then goes through the same reader (`to_product`), so one function builds each record. The
   models stay the one statement of what is accepted, and the tests hold the readers to them
   (the same records for every body the models read, an error for every body they refuse).
   Null where a record wants text is "" either way (the models' `Text`).
4. Records are made with `Record.trusted`: no second validation, no intermediate dict per item
   or nested item (the reader fills each record's own dict), nested records built explicitly.
   What a reader checked is what the record's types promise the graph (ints within Int32 where
   the graph answers an Int, text as str, aware timestamps).
   A listed record is `Record.deferred`: its scalars (and what a key or a rule needs, like the
   embedded store's id) are checked and held at once, and each costly part (nested lists,
   timestamps, nested records a query rarely reads) is read by its own function on the first
   read of one of its fields (a `Parts` table per record type, a `Deferred` per reader). A part
   the function does not take is the model's reading, or UpstreamError at the field that read
   it: the error of that field alone, as GraphQL reports any field's. A query pays for what it
   reads: flecs-100 (`id name price store { id name }`) builds 955 us of records per page
   of 100 where it built 2,184 (bench/readers.py).
5. The list is the answer: the page of records goes to the graph as it is (no per-id loader
   re-reads it). A record embeds what the payload embedded (`Product.embedded_store`).

A single object's GET (a login, one product, a created review) is validated by its model
directly: there is only one of it.

Imports models, auth and errors only (the HTTP clients import this module, never the reverse).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from facade.auth import IssuedToken
from facade.errors import BadUserInput, UpstreamError
from facade.models import (
    INT32_MAX,
    UUID_PATTERN,
    Address,
    Attribute,
    Billing,
    Category,
    Deferred,
    Device,
    DeviceAppType,
    DeviceStatus,
    DownloadToken,
    LineItem,
    Metadata,
    Page,
    PageArgs,
    Product,
    Record,
    Review,
    Session,
    SortDirection,
    Store,
    Subscription,
    Tenant,
    TenantRole,
    Till,
    Unusual,
    User,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=Record)
# A record's deferred parts: field name -> the function reading that field (and the others of its
# part) from the decoded item; Unusual where the item is not as the reader takes it.
Parts = Mapping[str, Callable[[Any], dict[str, Any]]]

# What a record gets for a time the upstream does not send: the epoch says "unknown" plainly,
# where "now" would claim a fact nobody stated.
UNKNOWN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Payload(BaseModel):
    """Any upstream body: unknown fields ignored, values coerced the lenient (lax) way."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def parse(model: type[M], data: Any, api: str) -> M:
    """`data` read as `model`, or UpstreamError: a body we cannot read is the upstream's fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UpstreamError(f"The {api} answered with a body facade cannot read.", upstream=api) from exc


# ---------------------------------------------------------------------------------------------
# Small coercions


def _number_to_int(value: Any) -> Any:
    """D11: a JSON number that is a whole number (7, 7.0, "7") as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip():
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return value
        if number == number.to_integral_value():
            return int(number)
    return value


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _to_str(value: Any) -> Any:
    """Uids and ids sent as JSON numbers are read as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _utc(value: Any) -> Any:
    """Timestamps without an offset (WooCommerce's `date_created_gmt`) are UTC."""
    if isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def lean(fast: Callable[[Any], T], model: type[M], convert: Callable[[M], T], api: str) -> Callable[[Any], T]:
    """The reader of one item: `fast(item)` (a lean reader, see the module docstring), else
    `convert` of the item read by the tolerant `model`; UpstreamError when the model refuses it."""

    def read(item: Any) -> T:
        try:
            return fast(item)
        except Unusual:
            return convert(parse(model, item, api))

    return read


def _text(value: Any) -> str:
    """What the models' `Text` reads without coercion: text, or null as ""; else Unusual."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    raise Unusual


def _opt_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = _utc(value)
    if type(parsed) is dt.datetime:
        return parsed
    raise Unusual


def _first(item: dict[str, Any], names: tuple[str, ...]) -> Any:
    """What `AliasChoices(*names)` reads: the value of the first name present, else None."""
    for name in names:
        if name in item:
            return item[name]
    return None


WholeNumber = Annotated[int, BeforeValidator(_number_to_int)]
Text = Annotated[str, BeforeValidator(_none_to_empty)]
Timestamp = Annotated[dt.datetime, BeforeValidator(_utc)]
Uid = Annotated[str, BeforeValidator(_to_str)]
Int16 = Annotated[int, BeforeValidator(_number_to_int), Field(ge=-32768, le=32767)]
# A number the graph answers as a GraphQL Int: one beyond 32 bits is the upstream's error, named
# where it enters (parse), not a failure of the caller's field later.
Int32 = Annotated[int, BeforeValidator(_number_to_int), Field(ge=-(2**31), le=INT32_MAX)]


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


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The claims of a JWT, NOT verified: only for routing and display (who a forwarded token
    names, when it expires); the upstream that issued it is the one that checks it."""
    if not token:
        return {}
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    body = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode()))
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_expiry(token: str, given: int | None = None) -> int:
    """When a token expires (Unix seconds): as the payload says, else the JWT's `exp`, else 0."""
    if given is not None:
        return given
    exp = jwt_claims(token).get("exp")
    return int(exp) if isinstance(exp, int | float) else 0


# ---------------------------------------------------------------------------------------------
# Paging: facade's limit/offset over the upstreams' numbered pages


class PageWindow:
    """The numbered pages (1-based) that hold `limit` items after `offset`, and how to cut them.

    Pages are `limit` items long, so an offset that is a multiple of the limit is one page,
    exactly; any other offset straddles two pages, which are both fetched and sliced. A limit
    above the upstream's largest page (`max_size`) is fetched as several pages of that size. A
    limit of 0 (only the total is wanted) asks for one page of one item.
    """

    __slots__ = ("first", "last", "limit", "offset", "size")

    def __init__(self, page: PageArgs, max_size: int | None = None) -> None:
        if page.limit < 0 or page.offset < 0:
            raise BadUserInput("limit and offset must not be negative", field="limit")
        self.limit = page.limit
        self.offset = page.offset
        self.size = max(page.limit, 1) if max_size is None else max(min(page.limit, max_size), 1)
        self.first = page.offset // self.size + 1
        self.last = (page.offset + max(page.limit, 1) - 1) // self.size + 1

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)

    def cut(self, items: Sequence[T]) -> list[T]:
        """The window out of the concatenated pages `first..last`."""
        start = self.offset - (self.first - 1) * self.size
        return list(items[start : start + self.limit])


def sort_locally(
    items: Sequence[T], page: PageArgs, keys: dict[str, Callable[[T], Any]], ident: Callable[[T], Any]
) -> list[T]:
    """Items ordered as the local store orders them: by the sort key, then id, both in the page's
    direction. BadUserInput for a key the entity does not have (as the local store answers)."""
    key = keys.get(page.sort)
    if key is None:
        raise BadUserInput(f"sort must be one of: {', '.join(sorted(keys))}", field="sort")
    return sorted(items, key=lambda item: (key(item), ident(item)), reverse=page.direction is SortDirection.DESC)


def page_of(items: Sequence[T], page: PageArgs) -> Page[T]:
    """A page cut out of a complete, already sorted list."""
    if page.limit < 0 or page.offset < 0:
        raise BadUserInput("limit and offset must not be negative", field="limit")
    return Page(items=list(items[page.offset : page.offset + page.limit]), total=len(items), offset=page.offset)


def decimal_key(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        return Decimal(0)


# =============================================================================================
# FLECS Console API v2


class Envelope(Payload, Generic[T]):
    """Every FLECS body: `{statusCode, statusText, data}`."""

    statusCode: int | None = None
    statusText: str | None = None
    data: T


class ErrorDescription(Payload):
    reason: str | None = None
    statusCode: int | None = None
    statusText: str | None = None


class SessionId(Payload):
    """`components.schemas.sessionId`."""

    id: Uid
    timestamp: WholeNumber = Field(0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, data: Any) -> Any:
        # A session sent as its id alone (timestamp unknown: 0).
        return {"id": data} if isinstance(data, str) else data

    def to_session(self) -> Session:
        return Session(id=self.id.lower(), timestamp=self.timestamp)


def parse_session_header(value: str | None) -> Session | None:
    """D5: the X-Session-Id response header, which the contract types as a sessionId object.

    Read as JSON `{"id": ..., "timestamp": ...}` (what the FLECS core parses), as OpenAPI's
    default `style: simple` serialisation of an object (`id,<uuid>,timestamp,<n>`, also with
    `=` between name and value), or as a bare UUID (timestamp 0: unknown). None for anything
    else, including an id that is not a UUID.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    fields: dict[str, Any]
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            return None
        if not isinstance(loaded, dict):
            return None
        fields = loaded
    elif "," in text or "=" in text:
        parts = [p.strip() for p in text.split(",")]
        if all("=" in p for p in parts):
            fields = dict(p.split("=", 1) for p in parts)
        elif len(parts) % 2 == 0:
            fields = dict(zip(parts[::2], parts[1::2], strict=True))
        else:
            return None
    else:
        fields = {"id": text}
    try:
        session = SessionId.model_validate(fields).to_session()
    except ValidationError:
        return None
    return session if UUID_PATTERN.fullmatch(session.id) else None


# -- auth --------------------------------------------------------------------------------------


class LoginRequest(Payload):
    username: str
    password: str
    issueJWT: bool = True


class FeatureFlags(Payload):
    isVendor: bool = False
    isWhitelabeled: bool = False


class LoginJwt(Payload):
    token: str
    token_expires: WholeNumber | None = None


class LoginUser(Payload):
    """The login's `data.user` (WordPress field names). The rest of facade's User is not in the
    contract; a server that sends it (first/last name, tenant, registration time) is read."""

    ID: WholeNumber = Field(validation_alias=AliasChoices("ID", "id"))
    display_name: Text = ""
    user_email: Text = Field("", validation_alias=AliasChoices("user_email", "email"))
    user_login: Text = Field("", validation_alias=AliasChoices("user_login", "login"))
    first_name: Text = ""
    last_name: Text = ""
    tenant_id: str | None = None
    user_registered: Timestamp | None = Field(
        None, validation_alias=AliasChoices("user_registered", "created_at", "date_created")
    )


class LoginData(Payload):
    feature_flags: FeatureFlags = Field(default_factory=FeatureFlags)
    jwt: LoginJwt
    user: LoginUser


class TokenValidateRequest(Payload):
    jwt: dict[str, str]


class TokenValidateData(Payload):
    isValid: bool = False
    feature_flags: dict[str, Any] | None = None


def login_user(data: LoginData) -> User:
    """facade's User from a FLECS login. Login, e-mail, display name and the vendor flags come
    from the contract; the tenant role is ACCESS (FLECS has no tenants) and the creation time is
    `user_registered` when the server sends it, else UNKNOWN_TIME."""
    u = data.user
    return User(
        id=u.ID,
        login=u.user_login or u.user_email,
        email=u.user_email,
        display_name=u.display_name or u.user_login,
        first_name=u.first_name,
        last_name=u.last_name,
        tenant_id=u.tenant_id,
        is_vendor=data.feature_flags.isVendor,
        is_whitelabeled=data.feature_flags.isWhitelabeled,
        created_at=u.user_registered or UNKNOWN_TIME,
    )


def login_token(data: LoginData) -> IssuedToken:
    return IssuedToken(token=data.jwt.token, expires=token_expiry(data.jwt.token, data.jwt.token_expires))


# -- products ----------------------------------------------------------------------------------


class FlecsAddress(Payload):
    street_1: Text = ""
    street_2: Text = ""
    city: Text = ""
    zip: Text = ""
    country: Text = ""
    state: Text = ""


class ProductCategory(Payload):
    id: WholeNumber
    name: Text = ""
    slug: Text = ""


class ProductAttribute(Payload):
    id: WholeNumber
    name: Text = ""
    options: list[str] = Field(default_factory=list)


class ProductMetadata(Payload):
    """D1: no `options`, whatever `required` says. D17: `value` is any JSON value."""

    id: WholeNumber | None = None
    name: str
    value: Any = None


class ProductStore(Payload):
    """`productStore`: a numeric id, names, url and address. FLECS sends no Flow Retail uid,
    tenant nor creation time; a server that does (`uid`, `tenant_id`, `created_at`) is read."""

    id: WholeNumber
    name: Text = ""
    shop_name: Text = ""
    url: Text = ""
    address: FlecsAddress = Field(default_factory=FlecsAddress)
    uid: str | None = None
    tenant_id: str | None = None
    created_at: Timestamp | None = None


class FlecsProduct(Payload):
    id: WholeNumber
    name: Text = ""
    status: Text = ""
    description: Text = ""
    short_description: Text = ""
    average_rating: Text = "0.00"
    rating_count: Int32 = 0
    categories: list[ProductCategory] = Field(default_factory=list)
    attributes: list[ProductAttribute] = Field(default_factory=list)
    meta_data: list[ProductMetadata] = Field(default_factory=list)
    stock_status: Text = ""
    store: ProductStore | None = None
    permalink: Text = ""
    price: Text = ""
    purchasable: bool = False
    # Not in the contract; read when a (WooCommerce-like) server sends them.
    store_id: WholeNumber | None = None
    owner_id: WholeNumber | None = Field(None, validation_alias=AliasChoices("owner_id", "vendor_id", "author"))
    date_created: Timestamp | None = Field(
        None, validation_alias=AliasChoices("date_created_gmt", "date_created", "created_at")
    )
    is_app: bool | None = None
    app_id: str | None = None
    is_official: bool | None = None


class ProductList(Payload):
    """D10: `productResponse` {page, totalPages, products} and `appResponse` {totalProducts,
    products} in one model. `totalProducts` is the exact length of the list when sent."""

    page: WholeNumber | None = None
    totalPages: WholeNumber | None = None
    totalProducts: WholeNumber | None = None
    products: list[FlecsProduct] = Field(default_factory=list)


class ProductPage(Payload):
    """`ProductList` with its products left as sent: each is read by `product_reader` (lean)."""

    page: WholeNumber | None = None
    totalPages: WholeNumber | None = None
    totalProducts: WholeNumber | None = None
    products: list[Any] = Field(default_factory=list)


_ADDRESS = ("street_1", "street_2", "city", "zip", "country", "state")
_OWNER = ("owner_id", "vendor_id", "author")
_CREATED = ("date_created_gmt", "date_created", "created_at")
_EMPTY: dict[str, Any] = {}
_NONE: list[Any] = []
# The text fields of a FLECS product, as Product names them (the same as FLECS's).
_PRODUCT_TEXT = (
    "name",
    "status",
    "description",
    "short_description",
    "average_rating",
    "stock_status",
    "permalink",
    "price",
)
_trusted_address = Address.trusted
_trusted_category, _trusted_attribute, _trusted_meta = Category.trusted, Attribute.trusted, Metadata.trusted


def product_record(
    item: Any, is_app: bool | None = None, later: Deferred | None = None, store_later: Deferred | None = None
) -> Product:
    """facade's Product from a FLECS product whose values have the JSON types `FlecsProduct` reads
    without coercion (null text as ""), built as it is read; Unusual for any other item, which
    the model then reads (and `to_product` builds with this function) or refuses.

    With `later` (a listed product: `product_reader`), the scalar fields and the embedded
    store are read and checked now and the rest when a query first reads them
    (`Record.deferred`): the categories, the attributes, the metadata (with `app_id`, `is_app`
    and `is_official`, read from it) and the creation time, each part on its own, and the
    store's address and creation time (`store_later`); a part this reader does not take is the
    model's (`later.whole(item)`, or UpstreamError at the field that read it).

    store_id is `store.id`, and the store itself is the record's `embedded_store` (see
    `_store_record`); an app is a product with an `app_id` meta value, or any product a
    `/products/apps` list returned (`is_app=True`); `is_official` is the `official` meta value
    ("no"/false is unofficial; anything else, or none, official). The owner and the creation
    time are not in the contract: read when sent, else None and UNKNOWN_TIME.
    """
    if type(item) is not dict:
        raise Unusual
    get = item.get
    product_id = get("id")
    if type(product_id) is not int:
        raise Unusual
    rating_count = get("rating_count", 0)
    if type(rating_count) is not int or not -(2**31) <= rating_count <= INT32_MAX:
        raise Unusual
    purchasable = get("purchasable", False)
    if type(purchasable) is not bool:
        raise Unusual
    store = get("store")
    if store is not None:
        if type(store) is not dict:
            raise Unusual
        store_id = store.get("id")
        if type(store_id) is not int:
            raise Unusual
    else:
        store_id = get("store_id")
        if store_id is not None and type(store_id) is not int:
            raise Unusual
    owner_id = _first(item, _OWNER)
    if owner_id is not None and type(owner_id) is not int:
        raise Unusual

    values = {
        "embedded_store": None if store is None else _store_record(store, store_later),
        "id": product_id,
        "store_id": store_id if store_id is not None else 0,
        "owner_id": owner_id,
        "name": get("name", ""),
        "status": get("status", ""),
        "description": get("description", ""),
        "short_description": get("short_description", ""),
        "average_rating": get("average_rating", "0.00"),
        "rating_count": rating_count,
        "stock_status": get("stock_status", ""),
        "permalink": get("permalink", ""),
        "price": get("price", ""),
        "purchasable": purchasable,
    }
    _texts(values, _PRODUCT_TEXT)
    return _built(Product, values, item, _PRODUCT_PARTS[bool(is_app)], later)


def _texts(values: dict[str, Any], names: Sequence[str]) -> None:
    """The `names` of `values` as text: null is "" (Text); anything else Unusual (the model's)."""
    for name in names:
        if type(values[name]) is not str:
            values[name] = _text(values[name])


def _built(record: type[R], values: dict[str, Any], source: Any, parts: Parts, later: Deferred | None) -> R:
    """The record of `values` and its `parts` read from `source`: all now (`later` None: a
    single object, or the model's reading) or each when first used (`Record.deferred`)."""
    if later is None:
        for part in dict.fromkeys(parts.values()):
            values.update(part(source))
        return record.trusted(values)
    return record.deferred(values, later, source)


def _product_categories(item: dict[str, Any]) -> dict[str, Any]:
    categories = item.get("categories", _NONE)
    if type(categories) is not list:
        raise Unusual
    records = []
    for c in categories:
        if type(c) is not dict:
            raise Unusual
        values = {"id": c.get("id"), "name": c.get("name", ""), "slug": c.get("slug", "")}
        if type(values["id"]) is not int:
            raise Unusual
        if type(values["name"]) is not str or type(values["slug"]) is not str:
            values["name"], values["slug"] = _text(values["name"]), _text(values["slug"])
        records.append(_trusted_category(values))
    return {"categories": records}


def _product_attributes(item: dict[str, Any]) -> dict[str, Any]:
    attributes = item.get("attributes", _NONE)
    if type(attributes) is not list:
        raise Unusual
    records = []
    for a in attributes:
        if type(a) is not dict:
            raise Unusual
        values = {"id": a.get("id"), "name": a.get("name", ""), "options": a.get("options", _NONE)}
        if type(values["id"]) is not int:
            raise Unusual
        if type(values["name"]) is not str:
            values["name"] = _text(values["name"])
        options = values["options"]
        if type(options) is not list:
            raise Unusual
        for option in options:
            if type(option) is not str:
                raise Unusual
        if options is _NONE:  # not sent: a list of the record's own
            values["options"] = []
        records.append(_trusted_attribute(values))
    return {"attributes": records}


def _product_meta(item: dict[str, Any], is_app: bool) -> dict[str, Any]:
    """The metadata and what is read from it: `app_id`, `is_app`, `is_official`."""
    meta_data = item.get("meta_data", _NONE)
    if type(meta_data) is not list:
        raise Unusual
    records = []
    for m in meta_data:
        if type(m) is not dict:
            raise Unusual
        values = {"id": m.get("id"), "name": m.get("name"), "value": m.get("value")}
        if type(values["name"]) is not str or not (values["id"] is None or type(values["id"]) is int):
            raise Unusual
        records.append(_trusted_meta(values))
    flag, app_id, official = item.get("is_app"), item.get("app_id"), item.get("is_official")
    if not (flag is None or type(flag) is bool) or not (official is None or type(official) is bool):
        raise Unusual
    if app_id is not None and type(app_id) is not str:
        raise Unusual
    app_id = product_app_id(app_id, records)
    return {
        "meta_data": records,
        "app_id": app_id,
        "is_app": bool(is_app or flag or app_id is not None),
        "is_official": _official(official, records),
    }


def _product_created(item: dict[str, Any]) -> dict[str, Any]:
    created = _first(item, _CREATED)
    if created is not None:
        created = _opt_time(created)
    return {"created_at": created or UNKNOWN_TIME}


def _parts(is_app: bool) -> Parts:
    meta = functools.partial(_product_meta, is_app=is_app)
    return {
        "categories": _product_categories,
        "attributes": _product_attributes,
        "meta_data": meta,
        "app_id": meta,
        "is_app": meta,
        "is_official": meta,
        "created_at": _product_created,
    }


# A product's parts read on first use (by `product_record`), for products and for apps.
_PRODUCT_PARTS = {False: _parts(False), True: _parts(True)}


def _store_record(store: Any, later: Deferred | None = None) -> Store:
    """facade's Store from a FLECS productStore as `product_record` reads it (Unusual for what it
    does not take as it stands): the numeric id is FLECS's. The Flow Retail uid and tenant are not
    in the contract: read when sent, else the uid is the id as text and the tenant empty; the
    creation time UNKNOWN_TIME. With `later`, the address and the creation time are read when
    first used (see `product_record`).

    It is also a product's `embedded_store`, so the graph answers `Product.store` from it for
    fields this mapping fills from the payload (id, name, shop name, url, address); uid,
    tenant and creation time are stand-ins there, not FLECS's."""
    if type(store) is not dict:
        raise Unusual
    get = store.get
    store_id, uid, tenant_id = get("id"), get("uid"), get("tenant_id")
    if type(store_id) is not int:
        raise Unusual
    if not (uid is None or type(uid) is str) or not (tenant_id is None or type(tenant_id) is str):
        raise Unusual
    values = {
        "id": store_id,
        "uid": uid or str(store_id),
        "tenant_id": tenant_id or "",
        "name": get("name", ""),
        "shop_name": get("shop_name", ""),
        "url": get("url", ""),
    }
    _texts(values, ("name", "shop_name", "url"))
    return _built(Store, values, store, _STORE_PARTS, later)


def _store_address(store: dict[str, Any]) -> dict[str, Any]:
    address = store.get("address", _EMPTY)
    if type(address) is not dict:
        raise Unusual
    lines = {name: address.get(name, "") for name in _ADDRESS}
    for name, line in lines.items():
        if type(line) is not str:
            lines[name] = _text(line)
    return {"address": _trusted_address(lines)}


def _store_created(store: dict[str, Any]) -> dict[str, Any]:
    created = store.get("created_at")
    if created is not None:
        created = _opt_time(created)
    return {"created_at": created or UNKNOWN_TIME}


_STORE_PARTS: Parts = {"address": _store_address, "created_at": _store_created}


def product_reader(api: str, *, is_app: bool | None = None) -> Callable[[Any], Product]:
    """The reader of a listed FLECS product: `product_record` (its parts deferred), else the
    tolerant FlecsProduct model (`to_product`); UpstreamError when that refuses it too, when the
    item is read or, for a deferred part, when a query first reads one of its fields."""
    convert = functools.partial(to_product, is_app=is_app)

    def whole(item: Any) -> Product:
        return convert(parse(FlecsProduct, item, api))

    def whole_store(store: Any) -> Store:
        return flecs_store(parse(ProductStore, store, api))

    later, store_later = Deferred(_PRODUCT_PARTS[bool(is_app)], whole), Deferred(_STORE_PARTS, whole_store)
    fast = functools.partial(product_record, is_app=is_app, later=later, store_later=store_later)
    return lean(fast, FlecsProduct, convert, api)


def _meta(meta_data: list[Metadata], name: str) -> Any:
    for meta in meta_data:
        if meta.name == name:
            return meta.value
    return None


def product_app_id(app_id: str | None, meta_data: list[Metadata]) -> str | None:
    """An app is a product whose meta_data holds its FLECS `app_id` (or `_app_id`)."""
    if app_id:
        return app_id
    value = _meta(meta_data, "app_id") or _meta(meta_data, "_app_id")
    return str(value) if value not in (None, "") else None


def _official(official: bool | None, meta_data: list[Metadata]) -> bool:
    """`is_official` as sent, else the `official` meta value: "no"/false is unofficial, anything
    else (or none) official."""
    if official is not None:
        return official
    flag = _meta(meta_data, "official")
    return not (flag is False or (isinstance(flag, str) and flag.strip().lower() in ("no", "false", "0")))


def to_product(product: FlecsProduct, *, is_app: bool | None = None) -> Product:
    """facade's Product from a validated FlecsProduct (a single product's GET, the items the lean
    reader left to the model): its dump has the types `product_record` takes as they stand, so
    one builder makes the records of both paths."""
    return product_record(product.model_dump(), is_app)


def flecs_store(store: ProductStore) -> Store:
    """facade's Store from a validated ProductStore (see `to_product`)."""
    return _store_record(store.model_dump())


PRODUCT_SORT: dict[str, Callable[[Product], Any]] = {
    "id": lambda p: p.id,
    "name": lambda p: p.name,
    "price": lambda p: decimal_key(p.price),
    "created_at": lambda p: p.created_at,
    "average_rating": lambda p: decimal_key(p.average_rating),
    "rating_count": lambda p: p.rating_count,
}


# -- reviews -----------------------------------------------------------------------------------


class ReviewData(Payload):
    product_id: int
    review: str
    reviewer: str
    reviewer_email: str
    rating: float


class ReviewRequest(Payload):
    """D2/D3: `required` names fields of another schema; the real body is {data, jwt}, with the
    caller's JWT inside it rather than in a header."""

    data: ReviewData
    jwt: str


class FlecsReview(Payload):
    id: WholeNumber
    date_created: Timestamp | None = None
    date_created_gmt: Timestamp | None = None
    product_id: WholeNumber
    product_name: Text = ""
    product_permalink: Text = ""
    status: Text = "approved"
    reviewer: Text = ""
    reviewer_email: Text = ""
    review: Text = ""
    rating: Int32
    verified: bool = False


class ReviewResponse(Payload):
    review: FlecsReview


def to_review(review: FlecsReview, user_id: int | None) -> Review:
    """facade's Review; `user_id` is the reviewer's (the response does not say). The time is
    `date_created_gmt` (UTC), else `date_created` read as UTC, else UNKNOWN_TIME."""
    return Review(
        id=review.id,
        product_id=review.product_id,
        user_id=user_id,
        reviewer=review.reviewer,
        reviewer_email=review.reviewer_email,
        review=review.review,
        rating=review.rating,
        status=review.status,
        verified=review.verified,
        created_at=review.date_created_gmt or review.date_created or UNKNOWN_TIME,
    )


# -- subscriptions -----------------------------------------------------------------------------


class OrderBilling(Payload):
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    email: Text = ""


class OrderLineItem(Payload):
    id: WholeNumber
    status: Text = ""
    product_id: WholeNumber
    variation_id: Int32 = 0
    quantity: Int32 = 1
    image: dict[str, Any] = Field(default_factory=dict)


class Order(Payload):
    id: WholeNumber
    status: Text = ""
    customer_id: WholeNumber  # D11: a number in the contract
    line_items: list[OrderLineItem] = Field(default_factory=list)
    billing: OrderBilling = Field(default_factory=OrderBilling)
    date_created: Timestamp | None = Field(
        None, validation_alias=AliasChoices("date_created_gmt", "date_created", "created_at")
    )


class SubscriptionList(Payload):
    totalSubscriptions: WholeNumber | None = None
    subscriptions: list[Order] = Field(default_factory=list)


class SubscriptionPage(Payload):
    """`SubscriptionList` with its orders left as sent: each is read by `order_reader` (lean)."""

    totalSubscriptions: WholeNumber | None = None
    subscriptions: list[Any] = Field(default_factory=list)


_BILLING = ("first_name", "last_name", "company", "email")
_trusted_subscription, _trusted_billing, _trusted_line_item = Subscription.trusted, Billing.trusted, LineItem.trusted


def subscription_record(item: Any) -> Subscription:
    """facade's Subscription from a FLECS order with plain JSON types, built as it is read (D11's
    customer_id as 42.0 is Unusual: the model reads it); the time is UNKNOWN_TIME unless sent.
    See `product_record` for the two paths."""
    if type(item) is not dict:
        raise Unusual
    get = item.get
    order_id, customer_id = get("id"), get("customer_id")
    billing, line_items = get("billing", _EMPTY), get("line_items", _NONE)
    if type(order_id) is not int or type(customer_id) is not int:
        raise Unusual
    if type(billing) is not dict or type(line_items) is not list:
        raise Unusual
    records = []
    for i in line_items:
        if type(i) is not dict:
            raise Unusual
        values = {
            "id": i.get("id"),
            "subscription_id": order_id,
            "product_id": i.get("product_id"),
            "variation_id": i.get("variation_id", 0),
            "quantity": i.get("quantity", 1),
            "status": i.get("status", ""),
            "image": i.get("image", _EMPTY),
        }
        if type(values["id"]) is not int or type(values["product_id"]) is not int:
            raise Unusual
        for name in ("variation_id", "quantity"):
            number = values[name]
            if type(number) is not int or not -(2**31) <= number <= INT32_MAX:
                raise Unusual
        if type(values["status"]) is not str:
            values["status"] = _text(values["status"])
        if type(values["image"]) is not dict:
            raise Unusual
        if values["image"] is _EMPTY:  # not sent: a dict of the record's own
            values["image"] = {}
        records.append(_trusted_line_item(values))
    lines = {name: billing.get(name, "") for name in _BILLING}
    for name, line in lines.items():
        if type(line) is not str:
            lines[name] = _text(line)
    status = get("status", "")
    if type(status) is not str:
        status = _text(status)
    created = _first(item, _CREATED)
    if created is not None:
        created = _opt_time(created)
    return _trusted_subscription(
        {
            "id": order_id,
            "user_id": customer_id,
            "status": status,
            "billing": _trusted_billing(lines),
            "line_items": records,
            "created_at": created or UNKNOWN_TIME,
        }
    )


def order_reader(api: str) -> Callable[[Any], Subscription]:
    """The reader of a listed FLECS order: `subscription_record`, else the tolerant Order model
    (`to_subscription`); UpstreamError when that refuses it too."""
    return lean(subscription_record, Order, to_subscription, api)


def to_subscription(order: Order) -> Subscription:
    """facade's Subscription from a validated Order (see `to_product`)."""
    return subscription_record(order.model_dump())


SUBSCRIPTION_SORT: dict[str, Callable[[Subscription], Any]] = {
    "id": lambda s: s.id,
    "created_at": lambda s: s.created_at,
}


# -- licences ----------------------------------------------------------------------------------


class ActivateRequest(Payload):
    licenseKey: str | None = None


class ActivationData(Payload):
    """`activationData`; a server that sends the session as a bare id string is read too."""

    sessionId: SessionId
    licenseKey: str | None = None


class LicenseValidateData(Payload):
    isValid: bool = False


class Manufacturer(Payload):
    name: Text = ""
    id: Int32 | None = None


class DeviceLicenseRequest(Payload):
    manufacturer: Manufacturer
    model: str
    serial_number: str
    manufacture_date: dt.date


class DeviceLicenseResponse(Payload):
    """`deviceLicenseResponse`. D16: `status` is an int16 of undocumented meaning (0 seen)."""

    manufacturer: Manufacturer = Field(default_factory=Manufacturer)
    model: Text = ""
    serial_number: Text = ""
    manufacture_date: dt.date | None = None
    created_at: Timestamp | None = None
    status: Int16 | None = None
    # Not in the contract: a server that names the device it created is believed.
    id: Uid | None = Field(None, validation_alias=AliasChoices("id", "device_id", "deviceUid"))


def registered_device(
    data: DeviceLicenseResponse,
    *,
    owner_id: int | None,
    tenant_id: str | None,
    sent: DeviceLicenseRequest,
) -> Device:
    """facade's Device from a device-licence registration. The response names no device id, so
    the serial number stands in for it (the contract makes it globally unique); what the
    response leaves out is taken from the request that was sent."""
    created = data.created_at or UNKNOWN_TIME
    model = data.model or sent.model
    return Device(
        id=data.id or data.serial_number or sent.serial_number,
        tenant_id=tenant_id,
        store_id=None,
        till_id=None,
        name=model,
        app_type=DeviceAppType.UNKNOWN,
        status=DeviceStatus.ACTIVE,
        system_information=None,
        device_code=None,
        owner_id=owner_id,
        manufacturer_id=data.manufacturer.id if data.manufacturer.id is not None else sent.manufacturer.id,
        manufacturer_name=data.manufacturer.name or sent.manufacturer.name,
        model=model,
        serial_number=data.serial_number or sent.serial_number,
        manufacture_date=data.manufacture_date or sent.manufacture_date,
        license_status=data.status,
        created_at=created,
        last_modified_at=created,
    )


# -- apps --------------------------------------------------------------------------------------


class TokenRequest(Payload):
    app: str
    version: str


class RegistryLogin(Payload):
    username: str
    password: str


class TokenData(Payload):
    token: RegistryLogin
    # Not in the contract.
    id: WholeNumber = 0
    created_at: Timestamp | None = None


def download_token(data: TokenData, app: str, version: str, session: Session) -> DownloadToken:
    """facade's DownloadToken. The contract sends only the registry login: the id is 0 and the
    time is when facade received it, unless the server sends them."""
    return DownloadToken(
        id=data.id,
        app=app,
        version=version,
        session_id=session.id,
        username=data.token.username,
        password=data.token.password,
        created_at=data.created_at or dt.datetime.now(dt.UTC),
    )


# =============================================================================================
# Flow Retail Device API v2


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
    created = values["created_at"] = UNKNOWN_TIME if created is None else _opt_time(created)
    modified = values["last_modified_at"]
    values["last_modified_at"] = created if modified is None else _opt_time(modified)
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
