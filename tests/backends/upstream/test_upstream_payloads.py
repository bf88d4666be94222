"""Reading upstream payloads: every contract defect facade tolerates, and the records built from
them. No HTTP here."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from facade.backends.upstream import payloads as shared
from facade.backends.upstream.flecs import payloads as flecs
from facade.backends.upstream.flow import payloads as flow
from facade.errors import BadUserInput, UpstreamError
from facade.models import DeviceAppType, DeviceStatus, PageArgs, Session, SortDirection, TenantRole, Unusual

SESSION = "0f9a3c1e-4b2d-4c8e-9a7f-1d2e3f4a5b6c"


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 7,
        "name": "Node-RED",
        "status": "publish",
        "description": "<p>d</p>",
        "short_description": "<p>s</p>",
        "average_rating": "4.50",
        "rating_count": 2,
        "categories": [{"id": 1, "name": "Apps", "slug": "apps"}],
        "attributes": [{"id": 1, "name": "Architecture", "options": ["amd64", "arm64"]}],
        "meta_data": [{"id": 71, "name": "app_id", "value": "org.nodered.node-red-7"}],
        "stock_status": "instock",
        "store": {
            "id": 3,
            "name": "Acme Amsterdam",
            "shop_name": "Acme",
            "url": "https://shop.example/3",
            "address": {
                "street_1": "Damrak 1",
                "street_2": "",
                "city": "Amsterdam",
                "zip": "1012 AB",
                "country": "NL",
                "state": "NH",
            },
        },
        "permalink": "https://marketplace.example/p/7",
        "price": "9.99",
        "purchasable": True,
    }
    body.update(overrides)
    return body


# -- D5: the X-Session-Id response header -------------------------------------------------------


def test_session_header_as_json_object() -> None:
    value = json.dumps({"id": SESSION, "timestamp": 1704378025})
    assert flecs.parse_session_header(value) == Session(id=SESSION, timestamp=1704378025)


def test_session_header_in_style_simple() -> None:
    assert flecs.parse_session_header(f"id,{SESSION},timestamp,17") == Session(id=SESSION, timestamp=17)
    # The exploded form of style: simple.
    assert flecs.parse_session_header(f"id={SESSION},timestamp=17") == Session(id=SESSION, timestamp=17)


def test_session_header_as_bare_uuid_has_unknown_timestamp() -> None:
    assert flecs.parse_session_header(f"  {SESSION.upper()} ") == Session(id=SESSION, timestamp=0)


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "not-a-uuid", "{not json", "[1, 2]", '{"id": "nope"}', f"id,{SESSION},timestamp", "a,b,c"],
)
def test_unreadable_session_header_is_none(value: str | None) -> None:
    assert flecs.parse_session_header(value) is None


def test_activation_session_may_be_a_bare_id() -> None:
    data = flecs.ActivationData.model_validate({"sessionId": SESSION, "licenseKey": "FLX-1"})
    assert data.sessionId.to_session() == Session(id=SESSION, timestamp=0)


# -- products: D1, D10, D17 --------------------------------------------------------------------


def test_product_metadata_without_options_and_with_any_value() -> None:
    meta = [
        {"name": "app_id", "value": "org.x"},  # D1: no options, no id
        {"id": 2, "name": "tags", "value": ["a", "b"]},  # D17: a list
        {"id": 3, "name": "dims", "value": {"w": 1}},
        {"id": 4, "name": "count", "value": 3},
        {"id": 5, "name": "empty", "value": None},
    ]
    product = flecs.to_product(flecs.FlecsProduct.model_validate(product_body(meta_data=meta)))
    assert [m.value for m in product.meta_data] == ["org.x", ["a", "b"], {"w": 1}, 3, None]
    assert product.meta_data[0].id is None


def test_product_record_from_flecs_product() -> None:
    product = flecs.to_product(flecs.FlecsProduct.model_validate(product_body(extra_field="ignored")))
    assert product.id == 7
    assert product.store_id == 3
    assert product.is_app
    assert product.app_id == "org.nodered.node-red-7"
    assert product.is_official
    assert product.attributes[0].options == ["amd64", "arm64"]
    assert product.created_at == shared.UNKNOWN_TIME
    assert product.owner_id is None


def test_product_official_flag_and_creation_time_when_sent() -> None:
    body = product_body(
        meta_data=[{"id": 1, "name": "app_id", "value": "x"}, {"id": 2, "name": "official", "value": "no"}],
        date_created_gmt="2026-02-03T04:05:06",
        owner_id=12,
    )
    product = flecs.to_product(flecs.FlecsProduct.model_validate(body))
    assert not product.is_official
    assert product.created_at == dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    assert product.owner_id == 12


def test_a_good_is_not_an_app_unless_listed_as_one() -> None:
    good = flecs.FlecsProduct.model_validate(product_body(meta_data=[{"id": 1, "name": "_sku", "value": "SKU"}]))
    assert not flecs.to_product(good).is_app
    assert flecs.to_product(good, is_app=True).is_app


def test_both_product_list_envelopes() -> None:
    paged = flecs.ProductList.model_validate({"page": 2, "totalPages": 5, "products": [product_body()]})
    counted = flecs.ProductList.model_validate({"totalProducts": 41, "products": [product_body()]})
    assert (paged.page, paged.totalPages, paged.totalProducts) == (2, 5, None)
    assert (counted.page, counted.totalPages, counted.totalProducts) == (None, None, 41)
    assert paged.products[0].id == counted.products[0].id == 7


def test_flecs_store_record() -> None:
    store = flecs.flecs_store(flecs.FlecsProduct.model_validate(product_body()).store)  # type: ignore[arg-type]
    assert store.id == 3
    assert store.uid == "3"
    assert store.address.city == "Amsterdam"


# -- subscriptions: D11 ------------------------------------------------------------------------


def test_order_customer_id_is_a_number() -> None:
    body = {
        "id": 5,
        "status": "active",
        "customer_id": 42.0,
        "line_items": [{"id": 1, "status": "active", "product_id": 7, "variation_id": 0, "quantity": 1, "image": {}}],
        "billing": {"first_name": "Dave", "last_name": "O", "company": "", "email": "d@example"},
    }
    subscription = flecs.to_subscription(flecs.Order.model_validate(body))
    assert subscription.user_id == 42
    assert subscription.line_items[0].subscription_id == 5
    assert flecs.Order.model_validate({**body, "customer_id": "42"}).customer_id == 42


def test_order_customer_id_with_a_fraction_is_refused() -> None:
    with pytest.raises(UpstreamError):
        shared.parse(flecs.Order, {"id": 5, "status": "x", "customer_id": 4.5}, "FLECS Console API")


# -- device licences: D16 ----------------------------------------------------------------------


def test_device_license_status_is_int16() -> None:
    body = {
        "manufacturer": {"name": "M", "id": 791},
        "model": "IPC-xyz",
        "serial_number": "SN1",
        "manufacture_date": "2025-01-01",
        "created_at": "2025-07-28T10:30:00.000Z",
        "status": 0,
    }
    data = flecs.DeviceLicenseResponse.model_validate(body)
    sent = flecs.DeviceLicenseRequest(
        manufacturer=flecs.Manufacturer(name="M", id=791),
        model="IPC-xyz",
        serial_number="SN1",
        manufacture_date=dt.date(2025, 1, 1),
    )
    device = flecs.registered_device(data, owner_id=9, tenant_id=None, sent=sent)
    assert device.id == "SN1"  # no id in the response: the globally unique serial stands in
    assert device.license_status == 0
    assert device.created_at == dt.datetime(2025, 7, 28, 10, 30, tzinfo=dt.UTC)
    assert device.owner_id == 9
    assert device.manufacturer_id == 791
    with pytest.raises(UpstreamError):
        shared.parse(flecs.DeviceLicenseResponse, {**body, "status": 40000}, "FLECS Console API")


# -- success bodies: 200 and 204 ---------------------------------------------------------------


def test_envelopes_with_and_without_status_fields() -> None:
    body = {"data": {"isValid": True}}
    assert flecs.Envelope[flecs.LicenseValidateData].model_validate(body).data.isValid
    login = {
        "statusCode": 200,
        "statusText": "OK",
        "data": {
            "feature_flags": {"isVendor": True, "isWhitelabeled": False},
            "jwt": {"token": "t", "token_expires": 1704378025},
            "user": {"ID": 6, "display_name": "user", "user_email": "user@mail.com", "user_login": "user"},
        },
    }
    data = flecs.Envelope[flecs.LoginData].model_validate(login).data
    user = flecs.login_user(data)
    assert (user.id, user.login, user.email, user.is_vendor) == (6, "user", "user@mail.com", True)
    assert flecs.login_token(data).expires == 1704378025


def test_validate_feature_flags_shape_differs_from_login() -> None:
    body = {"data": {"feature_flags": {"ff": {"isVendor": False}}, "isValid": True}}
    assert flecs.Envelope[flecs.TokenValidateData].model_validate(body).data.isValid


def test_token_expiry_from_the_jwt_when_not_sent() -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 1900000000, "sub": "6"}).encode()).decode().rstrip("=")
    token = f"xx.{claims}.yy"
    assert shared.token_expiry(token) == 1900000000
    assert shared.jwt_claims(token)["sub"] == "6"
    assert shared.token_expiry("opaque") == 0
    assert shared.jwt_claims("a.%%%.c") == {}


def test_unreadable_body_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError) as err:
        shared.parse(
            flecs.Envelope[flecs.ProductList], {"data": {"products": [{"name": "no id"}]}}, "FLECS Console API"
        )
    assert err.value.code == "UPSTREAM_ERROR"


# -- Flow Retail ---------------------------------------------------------------------------------


def device_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "deviceUid": "dev-1",
        "name": "Till 1",
        "appType": "CLIENT",
        "status": "ACTIVE",
        "systemInformation": "Linux",
        "deviceCode": None,
        "tenantUid": "acme",
        "storeUid": "acme-ams-0001",
        "tillUid": "acme-ams-0001-till-1",
        "createdAt": "2026-01-02T03:04:05.000Z",
        "lastModifiedAt": "2026-01-03T03:04:05.000Z",
    }
    body.update(overrides)
    return body


def test_flow_device_record() -> None:
    device = flow.flow_device(flow.FlowDevice.model_validate(device_body()))
    assert device.id == "dev-1"
    # Flow names the store by uid; the graph resolves it through the store-by-uid loader.
    assert device.store_uid == "acme-ams-0001"
    assert device.store_id is None
    assert device.store_ref == "acme-ams-0001"
    assert device.app_type is DeviceAppType.CLIENT
    assert device.status is DeviceStatus.ACTIVE
    assert device.created_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_flow_device_with_unknown_enums_and_no_store() -> None:
    device = flow.flow_device(
        flow.FlowDevice.model_validate(device_body(appType="KIOSK", status="RETIRED", storeUid=None))
    )
    assert device.app_type is DeviceAppType.UNKNOWN
    assert device.status is DeviceStatus.BLOCKED
    assert device.store_id is None
    assert device.store_uid is None


def test_flow_store_id_is_stable_and_numeric_uids_are_text() -> None:
    assert flow.flow_store_id("acme-ams-0001") == flow.flow_store_id("acme-ams-0001")
    assert flow.flow_store_id("a") != flow.flow_store_id("b")
    store = flow.flow_store(
        flow.FlowStore.model_validate({"storeUid": 17, "name": "S", "tenantUid": "t", "address": {}})
    )
    assert store.uid == "17"
    assert store.id == flow.flow_store_id("17")
    assert store.shop_name == "S"


def test_tenant_user_record() -> None:
    body = {
        "tenantUserUid": "12",
        "userCode": "1001",
        "displayName": "Alice A",
        "email": "alice@example",
        "firstname": "Alice",
        "lastname": "A",
        "tenantUid": "acme",
        "tenantRole": "ADMIN",
        "accountType": "FULL",
        "defaultStoreUid": "acme-ams-0001",
        "status": "ACTIVE",
        "storeAccess": [{"storeUid": "acme-ams-0001", "storeRole": "ADMIN"}],
    }
    user = flow.tenant_user(flow.TenantUser.model_validate(body))
    assert user.id == 12
    assert user.user_code == "1001"
    assert user.tenant_role is TenantRole.ADMIN
    assert user.default_store_id == flow.flow_store_id("acme-ams-0001")
    assert flow.tenant_user(flow.TenantUser.model_validate({**body, "tenantUserUid": "u-x"})).id == flow.flow_user_id(
        "u-x"
    )


def test_flow_list_envelope() -> None:
    listed = flow.FlowList[flow.FlowDevice].model_validate(
        {"items": [device_body()], "pageNumber": 1, "pageSize": 20, "totalCount": 1}
    )
    assert listed.totalCount == 1
    assert listed.items[0].deviceUid == "dev-1"


def test_device_info_of_f1() -> None:
    info = flow.DeviceInfo.model_validate(
        {
            "deviceUid": "dev-1",
            "deviceIdentifier": "id",
            "name": "Till",
            "appType": "ASSISTANT",
            "status": "ACTIVE",
            "storeInfo": {"storeUid": "s1", "name": "S"},
            "tenantInfo": {"tenantUid": "t1", "name": "T"},
            "tillInfo": None,
            "availablePaymentMethods": [{"x": 1}],
        }
    )
    device = flow.device_info(info)
    assert (device.tenant_id, device.store_uid, device.till_id) == ("t1", "s1", None)


# -- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "offset", "pages", "size"),
    [(10, 0, [1], 10), (10, 20, [3], 10), (10, 25, [3, 4], 10), (1, 7, [8], 1), (0, 5, [6], 1), (3, 2, [1, 2], 3)],
)
def test_page_window(limit: int, offset: int, pages: list[int], size: int) -> None:
    window = shared.PageWindow(PageArgs(limit=limit, offset=offset))
    assert list(window.numbers) == pages
    assert window.size == size
    everything = list(range(100))
    fetched = [x for n in pages for x in everything[(n - 1) * size : n * size]]
    assert window.cut(fetched) == everything[offset : offset + limit]


def test_page_window_caps_the_page_size() -> None:
    window = shared.PageWindow(PageArgs(limit=250, offset=30), max_size=100)
    assert (window.size, list(window.numbers)) == (100, [1, 2, 3])
    everything = list(range(400))
    assert window.cut(everything[:300]) == everything[30:280]


def test_negative_window_is_bad_input() -> None:
    with pytest.raises(BadUserInput):
        shared.PageWindow(PageArgs(limit=-1))


def test_local_sort_matches_the_store_order() -> None:
    items = [(1, "b"), (2, "a"), (3, "b")]
    keys = {"id": lambda x: x[0], "name": lambda x: x[1]}
    asc = shared.sort_locally(items, PageArgs(limit=3, sort="name"), keys, lambda x: x[0])
    desc = shared.sort_locally(
        items, PageArgs(limit=3, sort="name", direction=SortDirection.DESC), keys, lambda x: x[0]
    )
    assert asc == [(2, "a"), (1, "b"), (3, "b")]
    assert desc == [(3, "b"), (1, "b"), (2, "a")]
    with pytest.raises(BadUserInput):
        shared.sort_locally(items, PageArgs(limit=3, sort="price"), keys, lambda x: x[0])


# -- the lean readers: what the payload models read, without them ------------------------------

API = "FLECS Console API"


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 5,
        "status": "active",
        "customer_id": 42,
        "line_items": [{"id": 1, "status": "active", "product_id": 7, "variation_id": 0, "quantity": 1, "image": {}}],
        "billing": {"first_name": "Dave", "last_name": "O", "company": "", "email": "d@example"},
        "date_created_gmt": "2026-02-03T04:05:06",
    }
    body.update(overrides)
    return body


# Bodies the models read, some as sent and some by coercing (D11's 42.0, numbers as text, aliases,
# nulls for text): the lean reader must give exactly what the model gives, either way.
READABLE_PRODUCTS = [
    product_body(),
    product_body(name=None, price=None, average_rating=None),
    {"id": 9},
    product_body(store=None, store_id=4),
    product_body(store={"id": 3}),
    product_body(vendor_id=12, created_at="2026-02-03T04:05:06Z"),
    product_body(owner_id=None, author=5),
    product_body(id="7", rating_count="3", purchasable="true"),
    product_body(id=7.0, store={"id": 3.0, "name": "S"}),
    product_body(meta_data=[{"name": "official", "value": "no"}, {"id": "2", "name": "x", "value": [1]}]),
    product_body(date_created=1704378025),
    product_body(is_app=True, app_id="org.x", is_official=False),
    product_body(attributes=[{"id": 1}]),
]


def same(record: Any, expected: Any) -> None:
    """Equal records holding values of the same types (== alone takes 7.0 or True for 7)."""
    assert record == expected
    assert repr(record) == repr(expected)


@pytest.mark.parametrize("body", READABLE_PRODUCTS)
def test_the_lean_product_reader_reads_what_the_model_reads(body: dict[str, Any]) -> None:
    expected = flecs.to_product(flecs.FlecsProduct.model_validate(body))
    same(flecs.product_reader(API)(body), expected)
    same(
        flecs.product_reader(API, is_app=True)(body),
        flecs.to_product(flecs.FlecsProduct.model_validate(body), is_app=True),
    )
    try:
        lean = flecs.product_record(body)
    except Unusual:
        return  # the model's reading, above
    same(lean, expected)


def test_the_lean_readers_take_plain_items_as_they_stand() -> None:
    # Not Unusual: a body with the contract's types never goes through the model.
    for body in (product_body(), {"id": 9}, product_body(store=None, store_id=4), product_body(name=None)):
        flecs.product_record(body)
    flecs.subscription_record(order_body())
    flecs.subscription_record(order_body(billing={}, line_items=[{"id": 1, "product_id": 7}], status=None))
    flow.device_record(device_body())
    flow.device_record({"deviceUid": "d"})


# Each of these is refused by the model, so it must not slip through the lean reader either: an
# item whose id, text, numbers or embedded store it refuses is refused when it is read; one whose
# deferred parts it refuses (categories, attributes, metadata, creation time, the store's
# address) when a query first reads that part (`test_an_unreadable_part_fails_when_read`).
UNREADABLE_PRODUCTS = [
    {"name": "no id"},
    product_body(id=None),
    product_body(id="seven"),
    product_body(id=7.5),
    product_body(name=5),
    product_body(price=9.99),
    product_body(rating_count=2**40),
    product_body(rating_count=None),
    product_body(purchasable="maybe"),
    product_body(categories="apps"),
    product_body(categories=[{"name": "no id"}]),
    product_body(categories=["apps"]),
    product_body(attributes=[{"id": 1, "options": "amd64"}]),
    product_body(attributes=[{"id": 1, "options": [1]}]),
    product_body(meta_data=[{"id": 1, "value": "no name"}]),
    product_body(store="Acme"),
    product_body(store={"name": "no id"}),
    product_body(store={"id": 3, "address": None}),
    product_body(store={"id": 3, "address": {"city": 7}}),
    product_body(date_created_gmt="yesterday"),
    product_body(owner_id="nobody"),
    product_body(app_id=7),
    [product_body()],
    "product",
    None,
]


@pytest.mark.parametrize("body", UNREADABLE_PRODUCTS)
def test_an_unreadable_listed_product_is_an_upstream_error(body: Any) -> None:
    def read_all() -> None:
        product = flecs.product_reader(API)(body).complete()
        if product.embedded_store is not None:
            product.embedded_store.complete()

    with pytest.raises(UpstreamError) as err:
        read_all()
    assert err.value.code == "UPSTREAM_ERROR"


# Unreadable only in a deferred part: (body, a field of that part, a field read at once).
UNREADABLE_PARTS = [
    (product_body(categories="apps"), "categories", "price"),
    (product_body(categories=[{"name": "no id"}]), "categories", "name"),
    (product_body(attributes=[{"id": 1, "options": [1]}]), "attributes", "name"),
    (product_body(meta_data=[{"id": 1, "value": "no name"}]), "is_app", "name"),
    (product_body(app_id=7), "app_id", "id"),
    (product_body(date_created_gmt="yesterday"), "created_at", "name"),
]


@pytest.mark.parametrize(("body", "part", "scalar"), UNREADABLE_PARTS)
def test_an_unreadable_part_fails_when_read(body: dict[str, Any], part: str, scalar: str) -> None:
    """A listed product is checked part by part as a query reads it: what it reads at once is
    there; reading the unreadable part is UPSTREAM_ERROR, each time it is read."""
    product = flecs.product_reader(API)(body)
    assert getattr(product, scalar) == body[scalar]
    for _ in range(2):
        with pytest.raises(UpstreamError) as err:
            getattr(product, part)
        assert err.value.code == "UPSTREAM_ERROR"


def test_an_unreadable_store_address_fails_when_read() -> None:
    product = flecs.product_reader(API)(product_body(store={"id": 3, "name": "S", "address": {"city": 7}}))
    assert product.embedded_store is not None
    assert (product.store_id, product.embedded_store.name) == (3, "S")
    with pytest.raises(UpstreamError):
        product.embedded_store.address  # noqa: B018 - the read is the test


def test_deferred_parts_are_read_once_and_coerced_like_the_model() -> None:
    """A part the lean reader does not take as it stands (an id sent as text) is the model's
    reading; the other parts stay the lean reader's; a part is read once, then held."""
    body = product_body(meta_data=[{"id": "2", "name": "app_id", "value": "org.x"}])
    product = flecs.product_reader(API)(body)
    assert "meta_data" not in vars(product)  # not read yet
    assert product.app_id == "org.x"
    assert product.is_app
    assert product.meta_data[0].id == 2
    assert product.meta_data is product.meta_data
    same(product, flecs.to_product(flecs.FlecsProduct.model_validate(body)))


@pytest.mark.parametrize(
    "body",
    [
        order_body(),
        order_body(customer_id=42.0, date_created_gmt=None),
        order_body(billing={}, line_items=[{"id": 1, "product_id": 7}]),
        {"id": 5, "customer_id": "42"},
        order_body(created_at="2026-02-03T04:05:06+02:00"),
    ],
)
def test_the_lean_order_reader_reads_what_the_model_reads(body: dict[str, Any]) -> None:
    expected = flecs.to_subscription(flecs.Order.model_validate(body))
    same(flecs.order_reader(API)(body), expected)
    try:
        lean = flecs.subscription_record(body)
    except Unusual:
        return
    same(lean, expected)


@pytest.mark.parametrize(
    "body",
    [
        order_body(customer_id=4.5),
        order_body(customer_id=None),
        order_body(line_items=[{"id": 1}]),
        order_body(line_items=[{"id": 1, "product_id": 7, "quantity": 2**31}]),
        order_body(line_items=[{"id": 1, "product_id": 7, "image": "x.png"}]),
        order_body(billing=None),
        order_body(billing={"email": 5}),
        order_body(status=1),
        [],
    ],
)
def test_an_unreadable_order_is_an_upstream_error(body: Any) -> None:
    with pytest.raises(UpstreamError):
        flecs.order_reader(API)(body)


@pytest.mark.parametrize(
    "body",
    [
        device_body(),
        device_body(deviceUid=17, storeUid=4, tenantUid=None, tillUid=""),
        device_body(appType=None, status=None, createdAt=None, lastModifiedAt=None),
        {"deviceUid": "d"},
    ],
)
def test_the_lean_device_reader_reads_what_the_model_reads(body: dict[str, Any]) -> None:
    expected = flow.flow_device(flow.FlowDevice.model_validate(body))
    same(flow.device_reader("Flow Retail API")(body), expected)
    try:
        lean = flow.device_record(body)
    except Unusual:
        return
    same(lean, expected)


@pytest.mark.parametrize(
    "body",
    [{"name": "no uid"}, device_body(deviceUid=None), device_body(name=5), device_body(createdAt="soon"), "dev-1"],
)
def test_an_unreadable_device_is_an_upstream_error(body: Any) -> None:
    with pytest.raises(UpstreamError):
        flow.device_reader("Flow Retail API")(body)


def test_trusted_records_hold_every_field() -> None:
    """`Record.trusted` takes the values as they are: each builder must name every field."""
    product = flecs.product_reader(API)(product_body())
    subscription = flecs.order_reader(API)(order_body())
    device = flow.device_reader("Flow Retail API")(device_body())
    records = [product, product.embedded_store, product.embedded_store.address]  # type: ignore[union-attr]
    records += [*product.categories, *product.attributes, *product.meta_data]
    records += [subscription, subscription.billing, *subscription.line_items, device]
    for record in records:
        record.complete()  # a listed product's deferred parts, read (see test_an_unreadable_part_fails_when_read)
        assert set(vars(record)) == set(type(record).model_fields), type(record).__name__
        assert type(record).model_validate(record.model_dump()) == record  # the values pass the record's types


def test_the_embedded_store_holds_what_flecs_sent() -> None:
    product = flecs.product_reader(API)(product_body())
    assert product.embedded_store is not None
    assert (product.embedded_store.id, product.embedded_store.name, product.embedded_store.shop_name) == (
        3,
        "Acme Amsterdam",
        "Acme",
    )
    assert product.embedded_store.address.city == "Amsterdam"
    assert flecs.product_reader(API)(product_body(store=None, store_id=4)).embedded_store is None


def test_a_pages_products_embedding_the_same_store_share_its_record_and_others_do_not() -> None:
    read = flecs.product_reader(API)
    stores: dict[int, Any] = {}
    first, second = read(product_body(id=7), stores=stores), read(product_body(id=8), stores=stores)
    assert first.embedded_store is second.embedded_store
    renamed = product_body(id=9)
    renamed["store"] = {**renamed["store"], "name": "Acme Utrecht"}
    third = read(renamed, stores=stores)
    assert third.embedded_store is not first.embedded_store
    assert third.embedded_store is not None
    assert third.embedded_store.name == "Acme Utrecht"
    assert first.embedded_store is not None
    assert first.embedded_store.name == "Acme Amsterdam"
    # Without a page's memo (a single product), each builds its own.
    assert read(product_body(id=7)).embedded_store is not first.embedded_store
    assert read(product_body(id=7)).embedded_store == first.embedded_store
