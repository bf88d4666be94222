"""The bodies the FLECS Console API v2 sends and accepts, as tolerant models over the shared
`Payload` (`backends/upstream/payloads.py`, which also describes how a list becomes records), and
the converters from them to facade's records.

The defects listed in `contracts/flecs-console-api-notes.md` are accepted as the server sends them:

    D1   productMetadata requires `options`, which it never defines: not required here.
    D5   the X-Session-Id *response* header is a sessionId object; `parse_session_header` reads
         it as JSON (what the FLECS core does), as OpenAPI's `style: simple` form
         (`id,<uuid>,timestamp,<n>`), and as a bare UUID.
    D10  product lists come in two envelopes, {page, totalPages, products} and
         {totalProducts, products}: `ProductList` reads both.
    D11  order.customer_id is a JSON number: 7.0 is read as 7.
    D16  deviceLicenseResponse.status is an int16: read as an int in [-32768, 32767].
    D17  productMetadata.value is any JSON value (WooCommerce stores strings, lists, objects).

Imports models, auth, errors and the shared payloads; never the Flow Retail folder.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import AliasChoices, Field, ValidationError, model_validator

from facade.auth import IssuedToken
from facade.backends.upstream.payloads import (
    UNKNOWN_TIME,
    Int16,
    Int32,
    Parts,
    Payload,
    Text,
    Timestamp,
    Uid,
    WholeNumber,
    as_text,
    decimal_key,
    first_of,
    lean,
    opt_time,
    parse,
    token_expiry,
)
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
    Product,
    Record,
    Review,
    Session,
    Store,
    Subscription,
    Unusual,
    User,
)

T = TypeVar("T")
R = TypeVar("R", bound=Record)


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
    item: Any,
    is_app: bool | None = None,
    later: Deferred | None = None,
    store_later: Deferred | None = None,
    stores: dict[int, tuple[dict[str, Any], Store]] | None = None,
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

    `stores` (store id -> the store object and its record) shares the embedded store's record
    among the products of one page that embed the same store object (equal as JSON): a page of
    one store's products builds it once.
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
    owner_id = first_of(item, _OWNER)
    if owner_id is not None and type(owner_id) is not int:
        raise Unusual

    embedded = None
    if store is not None:
        held = stores.get(store["id"]) if stores is not None else None
        if held is not None and held[0] == store:
            embedded = held[1]
        else:
            embedded = _store_record(store, store_later)
            if stores is not None:
                stores[store["id"]] = (store, embedded)
    values = {
        "embedded_store": embedded,
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
            values[name] = as_text(values[name])


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
            values["name"], values["slug"] = as_text(values["name"]), as_text(values["slug"])
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
            values["name"] = as_text(values["name"])
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
    created = first_of(item, _CREATED)
    if created is not None:
        created = opt_time(created)
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
            lines[name] = as_text(line)
    return {"address": _trusted_address(lines)}


def _store_created(store: dict[str, Any]) -> dict[str, Any]:
    created = store.get("created_at")
    if created is not None:
        created = opt_time(created)
    return {"created_at": created or UNKNOWN_TIME}


_STORE_PARTS: Parts = {"address": _store_address, "created_at": _store_created}


def product_reader(api: str, *, is_app: bool | None = None) -> ProductReader:
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
    return cast(ProductReader, lean(fast, FlecsProduct, convert, api))


class ProductReader(Protocol):
    """`product_reader`'s reader: a listed product, with the page's shared store records."""

    def __call__(self, item: Any, *, stores: dict[int, tuple[dict[str, Any], Store]] | None = None) -> Product: ...


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
            values["status"] = as_text(values["status"])
        if type(values["image"]) is not dict:
            raise Unusual
        if values["image"] is _EMPTY:  # not sent: a dict of the record's own
            values["image"] = {}
        records.append(_trusted_line_item(values))
    lines = {name: billing.get(name, "") for name in _BILLING}
    for name, line in lines.items():
        if type(line) is not str:
            lines[name] = as_text(line)
    status = get("status", "")
    if type(status) is not str:
        status = as_text(status)
    created = first_of(item, _CREATED)
    if created is not None:
        created = opt_time(created)
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
