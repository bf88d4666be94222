"""The FLECS Console API v2 over the local store: the 13 operations of
`shared/contracts/flecs-console.openapi.yaml`, answered in the console's shapes by the local
store's repositories (the same business rules the graph runs on).

Shapes. A success is `{"statusCode": N, "statusText": "...", "data": ...}`; an error is the
contract's errorDescription `{"reason", "statusCode", "statusText"}`, but for the manifests 404,
which is `{"statusCode": 404, "statusText": "Not found"}`. The `X-Session-Id` response header is the
JSON-encoded sessionId object `{"id": "...", "timestamp": 123}` (contract defect D5: the FLECS core
parses it as JSON); request headers carry the plain UUID.

Where the contract lists no status for an outcome, a listed one is used when it fits:

- auth/login: every failure, missing fields included, is 403 (wrong credentials).
- auth/validate: anything but a valid token is 200 `{isValid: false}`.
- device/license/activate: every refusal is 403: an unknown licence key, a licence active on
  another device, no or an invalid Authorization, no free user licence.
- device/license/validate: a missing, malformed or unknown session is 200 `{isValid: false}`.
- device/license: a duplicate serial number is 422 (the contract has no 409); a missing or
  mistyped field 400; a well-formed but invalid value (a future date, a blank model) 422; a
  missing, invalid or non-user token 401.

and otherwise the status the outcome calls for, in the errorDescription shape:

- products/apps/reviews (the contract lists only 500): a body that is not the review request
  400, a missing or invalid `jwt` in the body 401 (the caller's JWT travels inside the body,
  D3), an unknown product 404, a rating outside 1-5 400.
- tokens: an unknown app/version 404 shaped like the manifests 404 (with X-Session-Id); a body
  without `app` and `version` 400 (with X-Session-Id).
- my/*: a missing or invalid Authorization 401; a token that is not a signed-in user's 403.
- anywhere: a query parameter of the wrong type 400; an unknown path 404; a wrong method 405.

Paging, as WooCommerce does it (not in the contract; tolerated): products, products/apps and
my/* take `page` (default 1) and `per_page` (default and at most 100); lists also carry
WooCommerce's `X-WP-Total` and `X-WP-TotalPages` headers, which a client must not rely on (the
console may not forward them). Without `store_id`, products lists every store's products (the
graph's meaning; the contract says "or default store").

Sandbox extension beyond the contract: `GET /api/v2/products?include=1,2,3` answers only those
product ids (still paged), so a client can batch lookups.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from facade.auth import TokenKind
from facade.backends.interfaces import ProductQuery
from facade.backends.local import LocalStore
from facade.backends.local.apps import SESSION_NOT_FOUND
from facade.errors import BadUserInput, Conflict, FacadeError, Forbidden, NotFound, Unauthenticated
from facade.models import (
    INT32_MAX,
    SEMVER_PATTERN,
    Page,
    PageArgs,
    Product,
    Review,
    Session,
    Store,
    Subscription,
)
from facade.sandbox.http import (
    INT64_MAX,
    MalformedPayload,
    caller,
    empty_response,
    field,
    int_param,
    iso,
    json_response,
    optional_caller,
    read_json,
    read_object,
)

Endpoint = Callable[[Request], Awaitable[Response]]

PER_PAGE = 100  # WooCommerce's largest page, and the default here so one call usually suffices
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Fixed rather than http.HTTPStatus phrases, which change between Python versions (422).
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

DEFAULT_STATUS: dict[type[FacadeError], int] = {
    BadUserInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


# -- envelopes --------------------------------------------------------------------------------


def status_text(status: int) -> str:
    return STATUS_TEXT.get(status, "Error")


def success(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"statusCode": status, "statusText": status_text(status), "data": data}, status, headers)


def failure(status: int, reason: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"reason": reason, "statusCode": status, "statusText": status_text(status)}, status, headers)


def manifest_not_found(headers: Mapping[str, str] | None) -> Response:
    """The manifests 404, which has no `reason` (contract defect D6)."""
    return json_response({"statusCode": 404, "statusText": "Not found"}, 404, headers)


def session_header(session: Session) -> dict[str, str]:
    return {"X-Session-Id": orjson.dumps({"id": session.id, "timestamp": session.timestamp}).decode()}


def status_of(err: FacadeError, statuses: Mapping[type[FacadeError], int]) -> int:
    for cls in type(err).__mro__:
        if cls in statuses:
            return statuses[cls]
    for cls in type(err).__mro__:
        if cls in DEFAULT_STATUS:
            return DEFAULT_STATUS[cls]
    return 500


def endpoint(handler: Endpoint, statuses: Mapping[type[FacadeError], int] | None = None) -> Endpoint:
    """The handler with every FacadeError it raises answered as an errorDescription; `statuses`
    overrides the default status per error class (the most specific class wins)."""
    table = dict(statuses or {})

    @functools.wraps(handler)
    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except FacadeError as err:
            return failure(status_of(err, table), err.message)

    return handle


def _store(request: Request) -> LocalStore:
    store: LocalStore = request.app.state.store
    return store


# -- records as the console writes them ---------------------------------------------------------


def store_json(store: Store) -> dict[str, Any]:
    return {
        "id": store.id,
        "name": store.name,
        "shop_name": store.shop_name,
        "url": store.url,
        "address": store.address.model_dump(),
    }


def product_json(product: Product, store: Store) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "status": product.status,
        "description": product.description,
        "short_description": product.short_description,
        "average_rating": product.average_rating,
        "rating_count": product.rating_count,
        "categories": [c.model_dump() for c in product.categories],
        "attributes": [a.model_dump() for a in product.attributes],
        "meta_data": [m.model_dump() for m in product.meta_data],
        "stock_status": product.stock_status,
        "store": store_json(store),
        "permalink": product.permalink,
        "price": product.price,
        "purchasable": product.purchasable,
    }


async def products_json(store: LocalStore, products: Sequence[Product]) -> list[dict[str, Any]]:
    """A page of products with their stores: one store query for the page."""
    stores = await store.stores.get_many(sorted({p.store_id for p in products}))
    return [product_json(p, stores[p.store_id]) for p in products]


def order_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "status": subscription.status,
        "customer_id": subscription.user_id,
        "line_items": [
            {
                "id": item.id,
                "status": item.status,
                "product_id": item.product_id,
                "variation_id": item.variation_id,
                "quantity": item.quantity,
                "image": item.image,
            }
            for item in subscription.line_items
        ],
        "billing": subscription.billing.model_dump(),
    }


def review_json(review: Review, product: Product | None) -> dict[str, Any]:
    # WooCommerce writes both as site-local time without an offset; the sandbox's site is in UTC.
    stamp = review.created_at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return {
        "id": review.id,
        "date_created": stamp,
        "date_created_gmt": stamp,
        "product_id": review.product_id,
        "product_name": product.name if product else "",
        "product_permalink": product.permalink if product else "",
        "status": review.status,
        "reviewer": review.reviewer,
        "reviewer_email": review.reviewer_email,
        "review": review.review,
        "rating": review.rating,
        "verified": review.verified,
    }


# -- paging -----------------------------------------------------------------------------------


def woo_page(request: Request) -> tuple[int, PageArgs]:
    """WooCommerce's `page` and `per_page` (both outside the contract), as a PageArgs."""
    page = int_param(request, "page")
    page = 1 if page is None else page
    per_page = int_param(request, "per_page")
    per_page = PER_PAGE if per_page is None else per_page
    if page < 1:
        raise BadUserInput("Invalid parameter(s): page must be at least 1", field="page")
    if not 1 <= per_page <= PER_PAGE:
        raise BadUserInput(f"Invalid parameter(s): per_page must be between 1 and {PER_PAGE}", field="per_page")
    if (page - 1) * per_page > INT64_MAX:
        raise BadUserInput("Invalid parameter(s): page is too large", field="page")
    return page, PageArgs(limit=per_page, offset=(page - 1) * per_page)


def total_pages(total: int, per_page: int) -> int:
    return math.ceil(total / per_page)


def wp_headers(total: int, per_page: int) -> dict[str, str]:
    return {"X-WP-Total": str(total), "X-WP-TotalPages": str(total_pages(total, per_page))}


def store_filter(request: Request) -> int | None:
    """The `store_id` query parameter; -1 (no store) for an id the store's integer columns cannot
    hold (32 bits: PostgreSQL's integer)."""
    store_id = int_param(request, "store_id")
    if store_id is not None and not -INT32_MAX <= store_id <= INT32_MAX:
        return -1
    return store_id


def ids_param(request: Request, name: str) -> list[int] | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise BadUserInput(f"Invalid query parameter {name}: a comma-separated list of ids", field=name) from None
    return [i for i in ids if -INT32_MAX <= i <= INT32_MAX]


async def product_page(request: Request, page: Page[Product], number: int, args: PageArgs) -> Response:
    products = await products_json(_store(request), page.items)
    data = {"page": number, "totalPages": total_pages(page.total, args.limit), "products": products}
    return success(data, headers=wp_headers(page.total, args.limit))


def calendar_date(raw: str, name: str) -> dt.date:
    """A date written YYYY-MM-DD, as OpenAPI's `format: date` has it (`date.fromisoformat` alone
    also reads 20250101 and week dates)."""
    if DATE.fullmatch(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise BadUserInput(f"{name} must be an ISO 8601 date (YYYY-MM-DD)", field=name)


def signed_in_user(request: Request) -> int:
    """The id of the user whose token the request carries (the `/my/*` operations)."""
    principal = caller(request)
    if principal.kind is not TokenKind.USER or principal.user_id is None:
        raise Forbidden("This needs a signed-in user's token.")
    return principal.user_id


# -- auth ---------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    body = await read_object(request, required=False)
    username, password = body.get("username"), body.get("password")
    # Anything but two strings is just a wrong login; checking it still costs a password hash.
    result = await _store(request).users.login(
        username if isinstance(username, str) else "",
        password if isinstance(password, str) else "",
    )
    user = result.user
    data: dict[str, Any] = {
        "feature_flags": {"isVendor": user.is_vendor, "isWhitelabeled": user.is_whitelabeled},
        "user": {
            "ID": user.id,
            "display_name": user.display_name,
            "user_email": user.email,
            "user_login": user.login,
        },
    }
    if body.get("issueJWT", True) is not False:
        data["jwt"] = {"token": result.token.token, "token_expires": result.token.expires}
    return success(data)


async def validate(request: Request) -> Response:
    body = await read_json(request)
    jwt = body.get("jwt") if isinstance(body, dict) else None
    token = jwt.get("token") if isinstance(jwt, dict) else None
    store = _store(request)
    valid = isinstance(token, str) and await store.users.validate_token(token)
    flags = {"isVendor": False, "isWhitelabeled": False}
    if valid and isinstance(token, str):
        user_id = request.app.state.tokens.verify(token).user_id
        user = (await store.users.get_many([user_id])).get(user_id) if user_id is not None else None
        if user is not None:
            flags = {"isVendor": user.is_vendor, "isWhitelabeled": user.is_whitelabeled}
    return success({"feature_flags": {"ff": flags}, "isValid": valid})


# -- device licences ----------------------------------------------------------------------------


async def activate(request: Request) -> Response:
    principal = optional_caller(request)
    body = await read_object(request, required=False)
    license_key = field(body, "licenseKey", str, required=False)
    result = await _store(request).licenses.activate(principal, license_key, request.headers.get("x-session-id"))
    if result.already_active:
        return empty_response(204, session_header(result.session))
    session = {"id": result.session.id, "timestamp": result.session.timestamp}
    return success({"sessionId": session, "licenseKey": result.license_key})


async def validate_license(request: Request) -> Response:
    valid, session = await _store(request).licenses.validate(request.headers.get("x-session-id") or "")
    return success({"isValid": valid}, headers=session_header(session) if session is not None else None)


async def register_device_license(request: Request) -> Response:
    principal = caller(request)
    if principal.kind is not TokenKind.USER or principal.user_id is None:
        raise Unauthenticated("Invalid or missing bearer token")
    body = await read_object(request)
    manufacturer = field(body, "manufacturer", dict)
    manufacturer_name = field(manufacturer, "name", str, label="manufacturer.name")
    manufacturer_id = field(manufacturer, "id", int, label="manufacturer.id")
    model = field(body, "model", str)
    serial_number = field(body, "serial_number", str)
    raw_date = field(body, "manufacture_date", str)
    if not 0 <= manufacturer_id <= INT32_MAX:
        raise BadUserInput("manufacturer.id is out of range", field="manufacturer.id")
    device = await _store(request).licenses.register_device(
        principal, manufacturer_id, manufacturer_name, model, serial_number, calendar_date(raw_date, "manufacture_date")
    )
    data = {
        "manufacturer": {"name": device.manufacturer_name, "id": device.manufacturer_id},
        "model": device.model,
        "serial_number": device.serial_number,
        "manufacture_date": device.manufacture_date.isoformat() if device.manufacture_date else raw_date,
        "created_at": iso(device.created_at),
        "status": device.license_status if device.license_status is not None else 0,
    }
    return success(data, status=201)


# -- apps: manifests and download tokens --------------------------------------------------------


async def _session(request: Request) -> tuple[str, Session] | None:
    session_id = request.headers.get("x-session-id") or ""
    valid, session = await _store(request).licenses.validate(session_id)
    return (session_id, session) if valid and session is not None else None


async def manifest(request: Request) -> Response:
    found = await _session(request)
    if found is None:
        return failure(403, SESSION_NOT_FOUND)
    session_id, session = found
    headers = session_header(session)
    versions: dict[str, str | None] = {}
    for name in ("manifest_version", "max_manifest_version"):
        value = request.query_params.get(name)
        if value is not None and not SEMVER_PATTERN.fullmatch(value):
            return failure(400, f"Invalid query parameter {name}", headers)
        versions[name] = value
    try:
        found_manifest = await _store(request).apps.download_manifest(
            session_id,
            request.path_params["app"],
            request.path_params["version"],
            versions["manifest_version"],
            versions["max_manifest_version"],
        )
    except Forbidden as err:
        return failure(403, err.message)
    except NotFound:
        return manifest_not_found(headers)
    except BadUserInput as err:
        return failure(400, err.message, headers)
    return success(found_manifest.manifest)


async def download_token(request: Request) -> Response:
    found = await _session(request)
    if found is None:
        return failure(403, SESSION_NOT_FOUND)
    session_id, session = found
    headers = session_header(session)
    try:
        body = await read_object(request, required=False)
        app = field(body, "app", str)
        version = field(body, "version", str)
        result = await _store(request).apps.create_token(session_id, app, version)
    except Forbidden as err:
        return failure(403, err.message)
    except NotFound:
        return manifest_not_found(headers)
    except BadUserInput as err:
        return failure(400, err.message, headers)
    if result.token is None:
        return empty_response(204, headers)
    return success({"token": {"username": result.token.username, "password": result.token.password}}, headers=headers)


# -- products -----------------------------------------------------------------------------------


async def products(request: Request) -> Response:
    number, args = woo_page(request)
    store_id = store_filter(request)
    include = ids_param(request, "include")
    repo = _store(request).products
    if include is None:
        page = await repo.page_all(ProductQuery(store_id=store_id), args)
    else:
        found = await repo.get_many(include)
        chosen = sorted(
            (p for p in found.values() if store_id is None or p.store_id == store_id),
            key=lambda p: p.id,
        )
        page = Page(items=chosen[args.offset : args.offset + args.limit], total=len(chosen), offset=args.offset)
    return await product_page(request, page, number, args)


async def apps(request: Request) -> Response:
    _number, args = woo_page(request)
    page = await _store(request).products.page_all(ProductQuery(apps_only=True, store_id=store_filter(request)), args)
    data = {"totalProducts": page.total, "products": await products_json(_store(request), page.items)}
    return success(data, headers=wp_headers(page.total, args.limit))


async def post_review(request: Request) -> Response:
    body = await read_object(request)
    token = body.get("jwt")
    if not isinstance(token, str) or not token:
        raise Unauthenticated("Invalid or missing JWT")
    principal = request.app.state.tokens.verify(token)
    if principal.kind is not TokenKind.USER or principal.user_id is None:
        raise Unauthenticated("Invalid or missing JWT")
    data = field(body, "data", dict)
    product_id = field(data, "product_id", int, label="data.product_id")
    text = field(data, "review", str, label="data.review")
    rating = field(data, "rating", (int, float), label="data.rating")
    if isinstance(rating, float):
        if not rating.is_integer():
            raise BadUserInput("rating must be a whole number from 1 to 5", field="rating")
        rating = int(rating)
    if not -INT32_MAX <= product_id <= INT32_MAX:
        raise NotFound("No product with this id.", field="productId")
    store = _store(request)
    review = await store.reviews.create(principal, product_id, text, rating)
    product = (await store.products.get_many([product_id])).get(product_id)
    return success({"review": review_json(review, product)}, status=201)


# -- the signed-in user's -----------------------------------------------------------------------


async def my_products(request: Request, *, apps_only: bool) -> Response:
    user_id = signed_in_user(request)
    number, args = woo_page(request)
    query = ProductQuery(apps_only=apps_only, store_id=store_filter(request))
    pages = await _store(request).products.page_purchased([user_id], query, args)
    return await product_page(request, pages[user_id], number, args)


async def my_all_products(request: Request) -> Response:
    return await my_products(request, apps_only=False)


async def my_apps(request: Request) -> Response:
    return await my_products(request, apps_only=True)


async def my_subscriptions(request: Request) -> Response:
    user_id = signed_in_user(request)
    _number, args = woo_page(request)
    pages = await _store(request).subscriptions.page_by_user([user_id], store_filter(request), args)
    page = pages[user_id]
    data = {"totalSubscriptions": page.total, "subscriptions": [order_json(s) for s in page.items]}
    return success(data, headers=wp_headers(page.total, args.limit))


# -- routes -------------------------------------------------------------------------------------

REFUSED = {MalformedPayload: 400, FacadeError: 403}

routes: list[BaseRoute] = [
    Route("/api/v2/auth/login", endpoint(login, REFUSED), methods=["POST"]),
    Route("/api/v2/auth/validate", endpoint(validate), methods=["POST"]),
    Route("/api/v2/device/license/activate", endpoint(activate, REFUSED), methods=["POST"]),
    Route("/api/v2/device/license/validate", endpoint(validate_license), methods=["POST"]),
    Route(
        "/api/v2/device/license",
        endpoint(
            register_device_license,
            {MalformedPayload: 400, BadUserInput: 422, Conflict: 422, Unauthenticated: 401},
        ),
        methods=["POST"],
    ),
    Route("/api/v2/manifests/{app}/{version}", endpoint(manifest), methods=["GET"]),
    Route("/api/v2/tokens", endpoint(download_token), methods=["POST"]),
    Route("/api/v2/products", endpoint(products), methods=["GET"]),
    Route("/api/v2/products/apps", endpoint(apps), methods=["GET"]),
    Route("/api/v2/products/apps/reviews", endpoint(post_review), methods=["POST"]),
    Route("/api/v2/my/products", endpoint(my_all_products), methods=["GET"]),
    Route("/api/v2/my/products/apps", endpoint(my_apps), methods=["GET"]),
    Route("/api/v2/my/subscriptions", endpoint(my_subscriptions), methods=["GET"]),
]
