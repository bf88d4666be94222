"""The sandbox's FLECS Console API over HTTP, as a FLECS device or the console's web client
calls it: each operation's success and its main refusals, the 204s and the JSON-encoded
X-Session-Id header included. Tests that write use records no other test reads (their own user,
licence or serial number)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from facade.auth import TokenKind, TokenService
from facade.backends.local.users import WRONG_CREDENTIALS
from sandbox.conftest import PRODUCTS, Sandbox, bearer

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PRODUCT_KEYS = {
    "id",
    "name",
    "status",
    "description",
    "short_description",
    "average_rating",
    "rating_count",
    "categories",
    "attributes",
    "meta_data",
    "stock_status",
    "store",
    "permalink",
    "price",
    "purchasable",
}
UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"


def data(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a success envelope, after checking the envelope."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["statusCode"] == status
    assert payload["statusText"] == {200: "OK", 201: "Created"}[status]
    return payload["data"]


def reason(response: httpx.Response, status: int) -> str:
    """The reason of an errorDescription, after checking its shape."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"reason", "statusCode", "statusText"}
    assert payload["statusCode"] == status
    text: str = payload["reason"]
    return text


def session_header(response: httpx.Response) -> dict[str, Any]:
    """X-Session-Id of a response: a JSON-encoded sessionId (contract defect D5)."""
    value: dict[str, Any] = json.loads(response.headers["x-session-id"])
    assert set(value) == {"id", "timestamp"}
    return value


async def app_ids(client: httpx.AsyncClient) -> tuple[str, str]:
    """An official and an unofficial app of the seeded catalogue."""
    products = data(await client.get("/api/v2/products/apps"))["products"]
    metas = [{m["name"]: m["value"] for m in p["meta_data"]} for p in products]
    official = next(m["app_id"] for m in metas if m["official"] == "yes")
    unofficial = next(m["app_id"] for m in metas if m["official"] == "no")
    return official, unofficial


async def activate_key(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    session: dict[str, Any] = data(await client.post("/api/v2/device/license/activate", json={"licenseKey": key}))[
        "sessionId"
    ]
    return session


@pytest.fixture
async def dave_session(client: httpx.AsyncClient, sandbox: Sandbox) -> dict[str, Any]:
    """A device session of dave's (his second free licence, activated by key, once)."""
    if "dave-session" not in sandbox.tokens:
        session = await activate_key(client, sandbox.seeded.free_license_keys["dave"][1])
        sandbox.tokens["dave-session"] = json.dumps(session)
    session_value: dict[str, Any] = json.loads(sandbox.tokens["dave-session"])
    return session_value


# -- auth ---------------------------------------------------------------------------------------


async def test_login_answers_the_user_flags_and_a_token_facade_verifies(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    response = await client.post(
        "/api/v2/auth/login", json={"issueJWT": True, "username": "alice", "password": "facade-demo"}
    )

    login = data(response)
    principal = TokenService(sandbox.settings).verify(login["jwt"]["token"])
    assert login["user"] == {
        "ID": login["user"]["ID"],
        "display_name": "Alice Jansen",
        "user_email": "alice@acme-retail.example",
        "user_login": "alice",
    }
    assert login["feature_flags"] == {"isVendor": True, "isWhitelabeled": False}
    assert isinstance(login["jwt"]["token_expires"], int)
    assert principal.kind is TokenKind.USER
    assert principal.user_id == login["user"]["ID"]
    assert principal.is_tenant_admin


async def test_login_without_issue_jwt_answers_no_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v2/auth/login", json={"issueJWT": False, "username": "bob", "password": "facade-demo"}
    )

    assert set(data(response)) == {"feature_flags", "user"}


@pytest.mark.parametrize(
    "body",
    [
        {"issueJWT": True, "username": "alice", "password": "wrong"},
        {"issueJWT": True, "username": "nobody", "password": "facade-demo"},
        {"issueJWT": True},
        None,
    ],
)
async def test_failed_login_is_403(client: httpx.AsyncClient, body: dict[str, Any] | None) -> None:
    response = await client.post("/api/v2/auth/login", json=body)

    assert reason(response, 403) == WRONG_CREDENTIALS
    assert response.json()["statusText"] == "Forbidden"


async def test_validate_tells_valid_tokens_with_their_flags(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    # Issued by facade's own TokenService with the shared settings, as facade would.
    facade_token = TokenService(sandbox.settings).issue(TokenKind.USER, user_id=999_999).token

    valid = data(await client.post("/api/v2/auth/validate", json={"jwt": {"token": sandbox.login("alice")}}))
    foreign = data(await client.post("/api/v2/auth/validate", json={"jwt": {"token": facade_token}}))
    garbage = data(await client.post("/api/v2/auth/validate", json={"jwt": {"token": "not-a-jwt"}}))
    empty = data(await client.post("/api/v2/auth/validate"))

    assert valid == {"feature_flags": {"ff": {"isVendor": True, "isWhitelabeled": False}}, "isValid": True}
    assert foreign == {"feature_flags": {"ff": {"isVendor": False, "isWhitelabeled": False}}, "isValid": True}
    assert garbage["isValid"] is False
    assert empty["isValid"] is False


# -- device licences ----------------------------------------------------------------------------


async def test_activation_by_user_licence_then_already_active_is_204_with_the_session_header(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = sandbox.login("alice")

    activated = data(await client.post("/api/v2/device/license/activate", headers=bearer(token)))
    again = await client.post("/api/v2/device/license/activate", headers={"X-Session-Id": activated["sessionId"]["id"]})

    assert activated["licenseKey"] in sandbox.seeded.free_license_keys["alice"]
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", activated["sessionId"]["id"])
    assert isinstance(activated["sessionId"]["timestamp"], int)
    assert again.status_code == 204
    assert again.content == b""
    assert session_header(again) == activated["sessionId"]


async def test_activation_by_licence_key_and_its_refusals_are_403(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    key = sandbox.seeded.free_license_keys["dave"][0]

    session = await activate_key(client, key)
    taken = await client.post("/api/v2/device/license/activate", json={"licenseKey": key})
    unknown = await client.post("/api/v2/device/license/activate", json={"licenseKey": "FLX-AAAA-BBBB-CCCC"})
    anonymous = await client.post("/api/v2/device/license/activate", json={})
    bad_token = await client.post("/api/v2/device/license/activate", headers=bearer("not-a-jwt"))

    # Every refusal is the contract's 403; the reasons are the business rules' own words.
    assert session["id"]
    assert "another device" in reason(taken, 403)
    assert "key" in reason(unknown, 403)
    assert "license key" in reason(anonymous, 403)
    assert "token" in reason(bad_token, 403)


async def test_license_validation_answers_is_valid_and_the_session_header(
    client: httpx.AsyncClient, dave_session: dict[str, Any]
) -> None:
    valid = await client.post("/api/v2/device/license/validate", headers={"X-Session-Id": dave_session["id"]})
    unknown = await client.post("/api/v2/device/license/validate", headers={"X-Session-Id": UNKNOWN_SESSION})
    missing = await client.post("/api/v2/device/license/validate")

    assert data(valid) == {"isValid": True}
    assert session_header(valid) == dave_session
    assert data(unknown) == {"isValid": False}
    assert "x-session-id" not in unknown.headers
    assert data(missing) == {"isValid": False}


DEVICE_LICENSE = {
    "manufacturer": {"name": "Example Manufacturer", "id": 791},
    "model": "IPC-xyz",
    "serial_number": "SN-FLECS-TEST-0001",
    "manufacture_date": "2025-01-01",
}


async def test_device_license_registration_is_201_then_a_duplicate_is_422(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = sandbox.login("erin")

    created = await client.post("/api/v2/device/license", json=DEVICE_LICENSE, headers=bearer(token))
    duplicate = await client.post("/api/v2/device/license", json=DEVICE_LICENSE, headers=bearer(token))

    registered = data(created, 201)
    assert {k: registered[k] for k in DEVICE_LICENSE} == DEVICE_LICENSE
    assert ISO_UTC.match(registered["created_at"])
    assert registered["status"] == 0
    assert "serial number" in reason(duplicate, 422)
    assert duplicate.json()["statusText"] == "Unprocessable Entity"


@pytest.mark.parametrize(
    ("change", "status", "expected"),
    [
        ({"manufacture_date": "2999-01-01"}, 422, "manufacture_date"),
        ({"manufacture_date": "1 May 2025"}, 422, "manufacture_date must be an ISO 8601 date (YYYY-MM-DD)"),
        ({"model": "  "}, 422, "model"),
        ({"serial_number": None}, 400, "Invalid payload: missing required field 'serial_number'"),
        ({"manufacturer": {"name": "X"}}, 400, "Invalid payload: missing required field 'manufacturer.id'"),
        ({"model": 7}, 400, "Invalid payload: 'model' must be a string"),
    ],
)
async def test_invalid_device_license_is_400_or_422(
    client: httpx.AsyncClient, sandbox: Sandbox, change: dict[str, Any], status: int, expected: str
) -> None:
    body = {**DEVICE_LICENSE, "serial_number": "SN-FLECS-INVALID", **change}
    body = {k: v for k, v in body.items() if v is not None}

    response = await client.post("/api/v2/device/license", json=body, headers=bearer(sandbox.login("erin")))

    assert expected in reason(response, status)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}])
async def test_device_license_without_a_valid_token_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post("/api/v2/device/license", json=DEVICE_LICENSE, headers=headers)

    assert response.status_code == 401
    assert response.json()["statusText"] == "Unauthorized"


# -- manifests and download tokens --------------------------------------------------------------


async def test_manifest_download_and_its_refusals(client: httpx.AsyncClient, dave_session: dict[str, Any]) -> None:
    official, _ = await app_ids(client)
    session = {"X-Session-Id": dave_session["id"]}

    newest = await client.get(f"/api/v2/manifests/{official}/1.0.0", headers=session)
    pinned = await client.get(
        f"/api/v2/manifests/{official}/1.0.0", params={"max_manifest_version": "3.0.0"}, headers=session
    )
    bad_query = await client.get(
        f"/api/v2/manifests/{official}/1.0.0", params={"manifest_version": "three"}, headers=session
    )
    missing = await client.get(f"/api/v2/manifests/{official}/9.9.9", headers=session)
    no_session = await client.get(f"/api/v2/manifests/{official}/1.0.0", headers={"X-Session-Id": UNKNOWN_SESSION})

    manifest = data(newest)
    assert manifest["app"] == official
    assert manifest["version"] == "1.0.0"
    assert manifest["_schemaVersion"] == "3.0.0"
    assert data(pinned)["_schemaVersion"] == "3.0.0"
    assert "x-session-id" not in newest.headers
    assert reason(bad_query, 400) == "Invalid query parameter manifest_version"
    assert session_header(bad_query) == dave_session
    assert missing.status_code == 404
    assert missing.json() == {"statusCode": 404, "statusText": "Not found"}
    assert session_header(missing) == dave_session
    assert reason(no_session, 403) == "Session not found"


async def test_download_tokens_for_official_unofficial_and_unknown_apps(
    client: httpx.AsyncClient, dave_session: dict[str, Any]
) -> None:
    official, unofficial = await app_ids(client)
    session = {"X-Session-Id": dave_session["id"]}

    token = await client.post("/api/v2/tokens", json={"app": official, "version": "1.0.0"}, headers=session)
    none = await client.post("/api/v2/tokens", json={"app": unofficial, "version": "1.0.0"}, headers=session)
    unknown = await client.post("/api/v2/tokens", json={"app": "no.such-app", "version": "1.0.0"}, headers=session)
    no_session = await client.post("/api/v2/tokens", json={"app": official, "version": "1.0.0"})

    credentials = data(token)["token"]
    assert set(credentials) == {"username", "password"}
    assert credentials["username"].startswith("dl-")
    assert session_header(token) == dave_session
    assert none.status_code == 204
    assert none.content == b""
    assert session_header(none) == dave_session
    assert unknown.status_code == 404
    assert unknown.json() == {"statusCode": 404, "statusText": "Not found"}
    assert session_header(unknown) == dave_session
    assert reason(no_session, 403) == "Session not found"


# -- products -----------------------------------------------------------------------------------


async def test_products_are_paged_as_woocommerce_pages_them(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/products", params={"page": 2, "per_page": 7})

    page = data(response)
    assert page["page"] == 2
    assert page["totalPages"] == -(-PRODUCTS // 7)
    assert [p["id"] for p in page["products"]] == list(range(8, 15))
    assert response.headers["x-wp-total"] == str(PRODUCTS)
    assert response.headers["x-wp-totalpages"] == str(page["totalPages"])
    product = page["products"][0]
    assert set(product) == PRODUCT_KEYS
    assert set(product["store"]) == {"id", "name", "shop_name", "url", "address"}
    assert set(product["store"]["address"]) == {"street_1", "street_2", "city", "zip", "country", "state"}
    assert isinstance(product["price"], str)
    assert isinstance(product["average_rating"], str)


async def test_products_default_to_one_page_of_a_hundred(client: httpx.AsyncClient) -> None:
    page = data(await client.get("/api/v2/products"))

    assert page["page"] == 1
    assert page["totalPages"] == 1
    assert len(page["products"]) == PRODUCTS


async def test_products_of_one_store_and_the_include_extension(client: httpx.AsyncClient) -> None:
    store = data(await client.get("/api/v2/products", params={"store_id": 4}))
    included = data(await client.get("/api/v2/products", params={"include": "12,3,999999,1"}))
    included_in_store = data(await client.get("/api/v2/products", params={"include": "3,4", "store_id": 4}))
    nowhere = data(await client.get("/api/v2/products", params={"store_id": 424242}))

    assert store["products"]
    assert {p["store"]["id"] for p in store["products"]} == {4}
    assert [p["id"] for p in included["products"]] == [1, 3, 12]
    assert [p["id"] for p in included_in_store["products"]] == [4]
    assert nowhere == {"page": 1, "totalPages": 0, "products": []}


async def test_apps_answer_their_total_not_pages(client: httpx.AsyncClient) -> None:
    apps = data(await client.get("/api/v2/products/apps", params={"per_page": 5}))

    assert set(apps) == {"totalProducts", "products"}
    assert apps["totalProducts"] == PRODUCTS // 4
    assert len(apps["products"]) == 5
    assert all(any(m["name"] == "app_id" for m in p["meta_data"]) for p in apps["products"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"store_id": "one"}, "Invalid query parameter store_id: not an integer"),
        ({"per_page": 101}, "Invalid parameter(s): per_page must be between 1 and 100"),
        ({"page": 0}, "Invalid parameter(s): page must be at least 1"),
        ({"include": "1,x"}, "Invalid query parameter include: a comma-separated list of ids"),
    ],
)
async def test_bad_product_query_is_400(client: httpx.AsyncClient, params: dict[str, Any], expected: str) -> None:
    assert reason(await client.get("/api/v2/products", params=params), 400) == expected


# -- reviews ------------------------------------------------------------------------------------


def review_request(token: str, product_id: int = 2, rating: Any = 4) -> dict[str, Any]:
    return {
        "data": {
            "product_id": product_id,
            "review": "Does what it says.",
            "reviewer": "ignored: the token's user is the reviewer",
            "reviewer_email": "ignored@example.com",
            "rating": rating,
        },
        "jwt": token,
    }


async def test_review_is_201_and_counts_towards_the_rating(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    before = data(await client.get("/api/v2/products", params={"include": "2"}))["products"][0]

    response = await client.post("/api/v2/products/apps/reviews", json=review_request(sandbox.login("carol")))

    review = data(response, 201)["review"]
    after = data(await client.get("/api/v2/products", params={"include": "2"}))["products"][0]
    assert review["product_id"] == 2
    assert review["product_name"] == before["name"]
    assert review["product_permalink"] == before["permalink"]
    assert review["reviewer"] == "Carol Lindqvist"
    assert review["reviewer_email"] == "carol@nordic-bakeries.example"
    assert review["rating"] == 4
    assert review["status"] == "approved"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", review["date_created_gmt"])
    assert after["rating_count"] == before["rating_count"] + 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"data": {"product_id": 2, "review": "x", "rating": 4}}, 401),
        ({"data": {"product_id": 2, "review": "x", "rating": 4}, "jwt": "not-a-jwt"}, 401),
        ({"jwt": "<alice>"}, 400),
        ({"data": {"product_id": 999_999, "review": "x", "rating": 4}, "jwt": "<alice>"}, 404),
        ({"data": {"product_id": 2, "review": "x", "rating": 9}, "jwt": "<alice>"}, 400),
        ({"data": {"product_id": 2, "review": "x", "rating": 4.5}, "jwt": "<alice>"}, 400),
        ({"totalProducts": 1, "products": []}, 401),
    ],
)
async def test_review_refusals(client: httpx.AsyncClient, sandbox: Sandbox, body: dict[str, Any], status: int) -> None:
    if body.get("jwt") == "<alice>":
        body = {**body, "jwt": sandbox.login("alice")}

    response = await client.post("/api/v2/products/apps/reviews", json=body)

    assert reason(response, status)


# -- the signed-in user's -----------------------------------------------------------------------


async def test_my_products_apps_and_subscriptions(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    headers = bearer(sandbox.login("dave"))

    products = data(await client.get("/api/v2/my/products", headers=headers))
    apps = data(await client.get("/api/v2/my/products/apps", headers=headers))
    subscriptions = data(await client.get("/api/v2/my/subscriptions", headers=headers))

    assert products["page"] == 1
    assert products["products"]
    assert set(apps) == {"page", "totalPages", "products"}  # productResponse, unlike products/apps (D10)
    assert apps["products"]
    assert all(any(m["name"] == "app_id" for m in p["meta_data"]) for p in apps["products"])
    assert {p["id"] for p in apps["products"]} <= {p["id"] for p in products["products"]}
    assert subscriptions["totalSubscriptions"] == 2
    order = subscriptions["subscriptions"][0]
    assert set(order) == {"id", "status", "customer_id", "line_items", "billing"}
    assert order["billing"]["email"] == "dave@customer.example"
    bought = {item["product_id"] for s in subscriptions["subscriptions"] for item in s["line_items"]}
    assert {p["id"] for p in products["products"]} == bought


async def test_my_routes_need_a_signed_in_user(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    device_token = TokenService(sandbox.settings).issue(TokenKind.DEVICE, device_id="dev-x").token

    anonymous = await client.get("/api/v2/my/products")
    invalid = await client.get("/api/v2/my/subscriptions", headers=bearer("not-a-jwt"))
    device = await client.get("/api/v2/my/products/apps", headers=bearer(device_token))

    assert reason(anonymous, 401) == "Invalid or missing bearer token"
    assert reason(invalid, 401) == "The token is not valid."
    assert reason(device, 403) == "This needs a signed-in user's token."


async def test_unknown_routes_and_methods_answer_in_the_console_shape(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/v2/nothing-here")
    wrong_method = await client.delete("/api/v2/products")

    assert reason(unknown, 404) == "Not Found"
    assert reason(wrong_method, 405) == "Method Not Allowed"
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "HEAD"}
