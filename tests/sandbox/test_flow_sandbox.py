"""The sandbox's Flow Retail Device API over HTTP (mounted at /v2), as a till, a back office and
an admin call it: the device's life from creation to deletion, the deprecated
register/authorize flow, lists with paging and sorting, the tenant reads, and the refusals with
their status and code. Devices a test writes are its own."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conftest import PASSWORD
from facade.auth import TokenKind, TokenService
from sandbox.conftest import Sandbox, bearer

TENANT = "acme-retail"
AMSTERDAM = "acme-amsterdam-0001"
ROTTERDAM = "acme-rotterdam-0004"
TILL = f"{AMSTERDAM}-till-1"
CLIENT_APP = "flow-retail-client"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DEVICE_KEYS = {
    "deviceUid",
    "name",
    "appType",
    "status",
    "systemInformation",
    "deviceCode",
    "tenantUid",
    "storeUid",
    "tillUid",
    "createdAt",
    "lastModifiedAt",
}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"message", "code"}
    assert payload["code"] == code
    message: str = payload["message"]
    return message


async def create_device(client: httpx.AsyncClient, sandbox: Sandbox, **fields: Any) -> dict[str, Any]:
    body = {"storeUid": AMSTERDAM, "tillUid": TILL, "appType": "CLIENT", "name": "Test till", **fields}
    response = await client.post(f"/v2/tenants/{TENANT}/devices", json=body, headers=bearer(sandbox.login("alice")))
    device: dict[str, Any] = ok(response, 201)
    return device


async def linked_device(client: httpx.AsyncClient, sandbox: Sandbox) -> tuple[dict[str, Any], str]:
    """A new device, linked by bob (user code 1002): the device and its deviceToken."""
    created = await create_device(client, sandbox)
    linked = ok(
        await client.post(
            f"/v2/device/{created['deviceCode']}/link",
            json={"appId": CLIENT_APP, "userCode": "1002", "password": PASSWORD, "systemInformation": "Linux 6.1"},
        )
    )
    return linked["device"], linked["deviceToken"]


# -- the device itself --------------------------------------------------------------------------


async def test_a_device_is_created_linked_signed_in_on_and_describes_itself(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    created = await create_device(client, sandbox)
    linked = ok(
        await client.post(
            f"/v2/device/{created['deviceCode'].lower()}/link",
            json={"appId": CLIENT_APP, "userCode": "1002", "password": PASSWORD, "systemInformation": "Linux 6.1"},
        )
    )
    device_token = linked["deviceToken"]
    updated = await client.put("/v2/device", json={"systemInformation": "Linux 6.2"}, headers=bearer(device_token))
    account = ok(
        await client.post("/v2/account", json={"userCode": "1002", "password": PASSWORD}, headers=bearer(device_token))
    )
    information = ok(await client.get("/v2/device", headers=bearer(account["accessToken"])))

    assert set(created) == DEVICE_KEYS
    assert created["status"] == "READY_TO_LINK"
    assert (created["storeUid"], created["tillUid"], created["tenantUid"]) == (AMSTERDAM, TILL, TENANT)
    assert ISO_UTC.match(created["createdAt"])
    assert linked["device"]["deviceUid"] == created["deviceUid"]
    assert linked["device"]["status"] == "ACTIVE"
    assert TokenService(sandbox.settings).verify(device_token).kind is TokenKind.DEVICE
    assert updated.status_code == 204
    assert updated.content == b""
    user = account["tenantUser"]
    assert (user["userCode"], user["tenantUid"], user["tenantRole"], user["displayName"]) == (
        "1002",
        TENANT,
        "ACCESS",
        "Bob de Vries",
    )
    assert {"storeUid": AMSTERDAM, "storeRole": "ACCESS"} in user["storeAccess"]
    assert user["defaultStoreUid"] == AMSTERDAM
    assert TokenService(sandbox.settings).verify(account["accessToken"]).kind is TokenKind.ACCESS
    assert information == {
        "deviceUid": created["deviceUid"],
        "deviceIdentifier": created["deviceUid"],
        "name": "Test till",
        "appType": "CLIENT",
        "status": "ACTIVE",
        "systemInformation": "Linux 6.2",
        "storeInfo": {"storeUid": AMSTERDAM, "name": information["storeInfo"]["name"]},
        "tenantInfo": {"tenantUid": TENANT, "name": "ACME Retail B.V."},
        "tillInfo": {"tillUid": TILL, "name": "Till 1"},
        "availablePaymentMethods": [],
        "zeroAmountPaymentMethod": None,
        "availableReasons": {"discount": [], "return": []},
        "currencyDenominations": [],
        "settings": [],
        "printers": [],
    }


async def test_device_users_are_a_sorted_page_of_tenant_users(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    _device, device_token = await linked_device(client, sandbox)

    first = ok(
        await client.get(
            "/v2/device/users",
            params={"pageSize": 2, "sortBy": "displayName", "sortDirection": "DESC"},
            headers=bearer(device_token),
        )
    )
    second = ok(
        await client.get(
            "/v2/device/users",
            params={"pageNumber": 2, "pageSize": 2, "sortBy": "displayName", "sortDirection": "DESC"},
            headers=bearer(device_token),
        )
    )
    admins = ok(await client.get("/v2/device/users", params={"accountTypes": "ADMIN"}, headers=bearer(device_token)))

    names = [u["displayName"] for u in first["items"] + second["items"]]
    assert (first["pageNumber"], first["pageSize"], second["pageNumber"]) == (1, 2, 2)
    assert first["totalCount"] >= 4
    assert names == sorted(names, reverse=True)
    assert all(u["tenantUid"] == TENANT for u in first["items"])
    assert admins == {"items": [], "pageNumber": 1, "pageSize": 20, "totalCount": 0}


async def test_register_then_authorize_attaches_the_device(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    registration = ok(await client.post("/v2/device", json={"clientId": "pos-vendor-1", "name": "Kiosk"}))
    body = {"deviceCode": registration["deviceCode"], "tenantUid": TENANT, "storeUid": AMSTERDAM, "tillUid": TILL}
    by_outsider = await client.post("/v2/device/authorize", json=body, headers=bearer(sandbox.login("carol")))
    authorized = await client.post("/v2/device/authorize", json=body, headers=bearer(sandbox.login("bob")))
    again = await client.post("/v2/device/authorize", json=body, headers=bearer(sandbox.login("bob")))
    device = ok(
        await client.get(
            f"/v2/tenants/{TENANT}/devices/{registration['deviceIdentifier']}", headers=bearer(sandbox.login("alice"))
        )
    )

    assert set(registration) == {"deviceCode", "deviceIdentifier", "expires_in", "interval", "verificationUri"}
    assert (registration["expires_in"], registration["interval"]) == (900, 5)
    error(by_outsider, 403, "FORBIDDEN")
    assert authorized.status_code == 200
    assert authorized.content == b""
    assert error(again, 409, "CONFLICT")
    assert (device["status"], device["storeUid"], device["tillUid"], device["name"]) == (
        "ACTIVE",
        AMSTERDAM,
        TILL,
        "Kiosk",
    )


# -- tenant administration ----------------------------------------------------------------------


async def test_tenant_devices_are_listed_by_store_sorted_and_paged(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    headers = bearer(sandbox.login("alice"))
    params = {"storeUid": AMSTERDAM, "pageSize": 2, "sortBy": "createdAt", "sortDirection": "DESC"}

    first = ok(await client.get(f"/v2/tenants/{TENANT}/devices", params=params, headers=headers))
    second = ok(await client.get(f"/v2/tenants/{TENANT}/devices", params={**params, "pageNumber": 2}, headers=headers))
    everything = ok(await client.get(f"/v2/tenants/{TENANT}/devices", params={"pageSize": 1000}, headers=headers))
    foreign_store = ok(
        await client.get(f"/v2/tenants/{TENANT}/devices", params={"storeUid": "nordic-stockholm-0002"}, headers=headers)
    )

    items = first["items"] + second["items"]
    stamps = [d["createdAt"] for d in items]
    assert (first["pageNumber"], first["pageSize"], second["pageNumber"]) == (1, 2, 2)
    assert first["totalCount"] >= 3
    assert len({d["deviceUid"] for d in items}) == 4
    assert {d["storeUid"] for d in items} == {AMSTERDAM}
    assert stamps == sorted(stamps, reverse=True)
    assert {d["storeUid"] for d in everything["items"]} >= {AMSTERDAM, ROTTERDAM}
    assert everything["totalCount"] == len(everything["items"])
    assert foreign_store["totalCount"] == 0


async def test_search_filters_by_status_app_type_and_text(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    headers = bearer(sandbox.login("alice"))
    await create_device(client, sandbox, name="Searchable Assistant", appType="ASSISTANT")
    path = f"/v2/tenants/{TENANT}/devices/search"

    waiting = ok(await client.post(path, json={"status": "READY_TO_LINK"}, headers=headers, params={"pageSize": 100}))
    assistants = ok(await client.post(path, json={"appType": "ASSISTANT", "storeUid": AMSTERDAM}, headers=headers))
    text = ok(await client.post(path, json={"text": "searchable"}, headers=headers))
    everything = ok(await client.post(path, headers=headers))

    assert waiting["items"]
    assert {d["status"] for d in waiting["items"]} == {"READY_TO_LINK"}
    assert {(d["appType"], d["storeUid"]) for d in assistants["items"]} == {("ASSISTANT", AMSTERDAM)}
    assert [d["name"] for d in text["items"]] == ["Searchable Assistant"]
    assert everything["totalCount"] >= waiting["totalCount"]


async def test_a_device_is_read_updated_blocked_moved_and_deleted(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    headers = bearer(sandbox.login("alice"))
    device = await create_device(client, sandbox)
    path = f"/v2/tenants/{TENANT}/devices/{device['deviceUid']}"

    read = ok(await client.get(path, headers=headers))
    updated = ok(
        await client.put(path, json={"status": "BLOCKED", "name": "Moved", "storeUid": ROTTERDAM}, headers=headers)
    )
    deleted = await client.delete(path, headers=headers)
    gone = await client.get(path, headers=headers)

    assert read == device
    assert (updated["status"], updated["name"], updated["storeUid"], updated["tillUid"]) == (
        "BLOCKED",
        "Moved",
        ROTTERDAM,
        None,  # Amsterdam's till does not follow the device to Rotterdam
    )
    assert updated["lastModifiedAt"] >= device["lastModifiedAt"]
    assert deleted.status_code == 204
    assert deleted.content == b""
    error(gone, 404, "NOT_FOUND")


async def test_a_token_facade_issues_is_accepted(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = (
        TokenService(sandbox.settings).issue(TokenKind.USER, user_id=1, tenant_id=TENANT, is_tenant_admin=True).token
    )

    response = await client.get(f"/v2/tenants/{TENANT}/devices", params={"pageSize": 1}, headers=bearer(token))

    assert ok(response)["pageSize"] == 1


# -- tenants, stores, tills ---------------------------------------------------------------------


async def test_a_member_reads_the_tenant_its_stores_and_tills(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    headers = bearer(sandbox.login("bob"))

    tenant = ok(await client.get(f"/v2/tenants/{TENANT}", headers=headers))
    stores = ok(await client.get(f"/v2/tenants/{TENANT}/stores", params={"sortBy": "name"}, headers=headers))
    store = ok(await client.get(f"/v2/tenants/{TENANT}/stores/{ROTTERDAM}", headers=headers))
    tills = ok(await client.get(f"/v2/tenants/{TENANT}/stores/{AMSTERDAM}/tills", headers=headers))
    foreign = await client.get(f"/v2/tenants/{TENANT}/stores/nordic-stockholm-0002", headers=headers)

    assert tenant == {"tenantUid": TENANT, "name": "ACME Retail B.V.", "createdAt": "2025-01-01T00:00:00.000Z"}
    assert [s["storeUid"] for s in stores["items"]] == [AMSTERDAM, ROTTERDAM]
    assert stores["totalCount"] == 2
    assert set(store) == {"storeUid", "name", "tenantUid", "address", "createdAt"}
    assert set(store["address"]) == {"street1", "street2", "city", "zip", "country", "state"}
    assert store["address"]["city"] == "Rotterdam"
    assert tills == {
        "items": [
            {"tillUid": f"{AMSTERDAM}-till-1", "storeUid": AMSTERDAM, "name": "Till 1"},
            {"tillUid": f"{AMSTERDAM}-till-2", "storeUid": AMSTERDAM, "name": "Till 2"},
        ]
    }
    error(foreign, 404, "NOT_FOUND")


# -- refusals -----------------------------------------------------------------------------------

DEVICES = f"/v2/tenants/{TENANT}/devices"


@pytest.mark.parametrize(
    ("method", "path", "who", "payload", "status", "code"),
    [
        ("GET", DEVICES, None, None, 401, "UNAUTHORIZED"),
        ("GET", DEVICES, "garbage", None, 401, "UNAUTHORIZED"),
        ("GET", DEVICES, "bob", None, 403, "FORBIDDEN"),  # a member, not TENANT.ADMIN
        ("GET", DEVICES, "carol", None, 403, "FORBIDDEN"),  # another tenant's admin
        ("GET", DEVICES, "device", None, 403, "FORBIDDEN"),
        ("GET", f"/v2/tenants/{TENANT}", "carol", None, 403, "FORBIDDEN"),
        ("GET", "/v2/tenants/acme%2Aretail/devices", "alice", None, 400, "BAD_REQUEST"),
        ("GET", f"{DEVICES}/no-such-device", "alice", None, 404, "NOT_FOUND"),
        ("GET", f"{DEVICES}/bad%20uid", "alice", None, 400, "BAD_REQUEST"),
        ("GET", f"{DEVICES}?sortBy=price", "alice", None, 400, "BAD_REQUEST"),
        ("GET", f"{DEVICES}?sortDirection=UP", "alice", None, 400, "BAD_REQUEST"),
        ("GET", f"{DEVICES}?pageSize=0", "alice", None, 400, "BAD_REQUEST"),
        ("GET", f"{DEVICES}?pageNumber=x", "alice", None, 400, "BAD_REQUEST"),
        ("GET", f"{DEVICES}?pageNumber={2**62}", "alice", None, 400, "BAD_REQUEST"),  # an offset beyond 64 bits
        ("POST", DEVICES, "alice", {"storeUid": AMSTERDAM, "appType": "TILL"}, 400, "BAD_REQUEST"),
        ("POST", DEVICES, "alice", {"appType": "CLIENT"}, 400, "BAD_REQUEST"),
        ("POST", DEVICES, "alice", {"storeUid": "no-such-store", "appType": "CLIENT"}, 404, "NOT_FOUND"),
        ("POST", DEVICES, "alice", {"storeUid": "bad uid", "appType": "CLIENT"}, 400, "BAD_REQUEST"),
        (
            "POST",
            "/v2/device/ZZZZ-ZZZZ/link",
            None,
            {"appId": CLIENT_APP, "userCode": "1002", "password": "x"},
            404,
            "NOT_FOUND",
        ),
        ("POST", "/v2/device", None, {"name": "no client id"}, 400, "BAD_REQUEST"),
        ("POST", "/v2/account", "alice", {"userCode": "1001", "password": PASSWORD}, 403, "FORBIDDEN"),
        ("GET", "/v2/device", "device", None, 403, "FORBIDDEN"),
        ("PUT", "/v2/device", "alice", {"systemInformation": "x"}, 403, "FORBIDDEN"),
        ("GET", "/v2/device/users", None, None, 401, "UNAUTHORIZED"),
        ("DELETE", "/v2/device", None, None, 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/v2/nothing-here", None, None, 404, "NOT_FOUND"),
    ],
)
async def test_refusals_carry_status_and_code(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    method: str,
    path: str,
    who: str | None,
    payload: dict[str, Any] | None,
    status: int,
    code: str,
) -> None:
    headers: dict[str, str] = {}
    if who == "garbage":
        headers = bearer("not-a-jwt")
    elif who == "device":
        headers = bearer(
            TokenService(sandbox.settings).issue(TokenKind.DEVICE, device_id="dev-x", tenant_id=TENANT).token
        )
    elif who is not None:
        headers = bearer(sandbox.login(who))

    response = await client.request(method, path, json=payload, headers=headers)

    assert error(response, status, code)


async def test_linking_refusals(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    created = await create_device(client, sandbox)
    link = f"/v2/device/{created['deviceCode']}/link"

    wrong_password = await client.post(link, json={"appId": CLIENT_APP, "userCode": "1002", "password": "wrong"})
    wrong_app = await client.post(
        link, json={"appId": "flow-retail-assistant", "userCode": "1002", "password": PASSWORD}
    )
    linked = await client.post(link, json={"appId": CLIENT_APP, "userCode": "1002", "password": PASSWORD})
    twice = await client.post(link, json={"appId": CLIENT_APP, "userCode": "1002", "password": PASSWORD})

    assert error(wrong_password, 401, "UNAUTHORIZED")
    assert "appId" in error(wrong_app, 400, "BAD_REQUEST")
    assert linked.status_code == 200
    assert error(twice, 409, "CONFLICT")


async def test_update_refuses_unknown_fields_and_blocked_devices_cannot_sign_in(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    headers = bearer(sandbox.login("alice"))
    device, device_token = await linked_device(client, sandbox)
    path = f"/v2/tenants/{TENANT}/devices/{device['deviceUid']}"

    unknown = await client.put(path, json={"serialNumber": "x"}, headers=headers)
    blocked = await client.put(path, json={"status": "BLOCKED"}, headers=headers)
    sign_in = await client.post(
        "/v2/account", json={"userCode": "1002", "password": PASSWORD}, headers=bearer(device_token)
    )

    assert error(unknown, 400, "BAD_REQUEST") == "Cannot change: serialNumber"
    assert ok(blocked)["status"] == "BLOCKED"
    assert "blocked" in error(sign_in, 403, "FORBIDDEN")
