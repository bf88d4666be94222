"""Flow Retail devices through GraphQL: every operation of `contracts/flow-retail-devices.md`
sent as a client would, against the real app and a real SQLite store.

Operation -> GraphQL field (token):

    F0  POST /account (sign in on device) -> Mutation.deviceLogin                    (deviceToken)
    F1  GET /device                       -> Query.currentDevice                     (accessToken)
    F2  POST /device (register)           -> Mutation.registerDevice                 (none)
    F3  PUT /device (systemInformation)   -> Mutation.updateDeviceSystemInformation  (deviceToken)
    F4  POST /device/authorize            -> Mutation.authorizeDevice                (user token)
    F5  POST /device/{deviceCode}/link    -> Mutation.linkDevice                     (none)
    F6  who may sign in on the device     -> Query.deviceUsers                       (deviceToken)
    F7  list a tenant's devices           -> Query.devices                           (TENANT.ADMIN)
    F8  create a device                   -> Mutation.createDevice                   (TENANT.ADMIN)
    F9  search a tenant's devices         -> Query.searchDevices                     (TENANT.ADMIN)
    F10 one device                        -> Query.device                            (TENANT.ADMIN)
    F11 update a device                   -> Mutation.updateDevice                   (TENANT.ADMIN)
    F12 delete a device                   -> Mutation.deleteDevice                   (TENANT.ADMIN)

and the edges `Store.devices`, `Tenant.devices`, `Device.store`, `Device.till` (`Till.store`),
`Device.tenant`. Tests that write use `fresh_api` (or `roomy_api`, which has two stores per
tenant); the shared `api` is only read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD, Api, make_settings, open_api, source_id

TENANT = "acme-retail"
OTHER_TENANT = "nordic-bakeries"
AMSTERDAM = "acme-amsterdam-0001"  # acme-retail's first store, in every seed size
ROTTERDAM = "acme-rotterdam-0004"  # acme-retail's second store, from 80 seeded products on
STOCKHOLM = "nordic-stockholm-0002"  # nordic-bakeries' first store
CLIENT_APP = "flow-retail-client"
ASSISTANT_APP = "flow-retail-assistant"
ALICE_CODE, BOB_CODE = "1001", "1002"

DEVICE = "id name appType status deviceCode systemInformation store { uid } till { sourceId } tenant { sourceId }"
# What a device reads of itself: not its pairing code (the tenant admins'), nor its tenant (members').
OWN_DEVICE = "id name appType status systemInformation store { uid } till { sourceId }"

DEVICES = f"""
query($tenantUid: String!, $storeUid: String, $first: Int, $after: String,
      $sortBy: DeviceSort, $sortDirection: SortDirection) {{
  devices(tenantUid: $tenantUid, storeUid: $storeUid, first: $first, after: $after,
          sortBy: $sortBy, sortDirection: $sortDirection) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {DEVICE} serialNumber }} }}
  }}
}}
"""

SEARCH = f"""
query($tenantUid: String!, $filter: DeviceSearch) {{
  searchDevices(tenantUid: $tenantUid, filter: $filter, first: 1000) {{
    totalCount nodes {{ {DEVICE} serialNumber }}
  }}
}}
"""

ONE = f"""
query($tenantUid: String!, $deviceUid: String!) {{
  device(tenantUid: $tenantUid, deviceUid: $deviceUid) {{ {DEVICE} }}
}}
"""

CREATE = f"""
mutation($tenantUid: String!, $storeUid: String!, $appType: DeviceAppType!,
         $tillUid: String, $name: String) {{
  createDevice(tenantUid: $tenantUid, storeUid: $storeUid, appType: $appType,
               tillUid: $tillUid, name: $name) {{ {DEVICE} }}
}}
"""

LINK = f"""
mutation($code: String!, $appId: String!, $userCode: String!, $password: String!,
         $info: String) {{
  linkDevice(deviceCode: $code, appId: $appId, userCode: $userCode, password: $password,
             systemInformation: $info) {{
    deviceToken tokenExpires device {{ {OWN_DEVICE} }}
  }}
}}
"""

DEVICE_LOGIN = """
mutation($userCode: String!, $password: String!) {
  deviceLogin(userCode: $userCode, password: $password) {
    accessToken tokenExpires
    tenantUser { login userCode tenant { sourceId } }
    device { id }
  }
}
"""

CURRENT = f"{{ currentDevice {{ {OWN_DEVICE} tenant {{ sourceId }} store {{ uid name }} till {{ sourceId name }} }} }}"

DEVICE_USERS = """
query($first: Int, $after: String, $sortBy: UserSort, $sortDirection: SortDirection) {
  deviceUsers(first: $first, after: $after, sortBy: $sortBy, sortDirection: $sortDirection) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id displayName }
  }
}
"""

UPDATE = f"""
mutation($tenantUid: String!, $deviceUid: String!, $changes: DeviceChanges!) {{
  updateDevice(tenantUid: $tenantUid, deviceUid: $deviceUid, changes: $changes) {{ {DEVICE} }}
}}
"""

DELETE = """
mutation($tenantUid: String!, $deviceUid: String!) {
  deleteDevice(tenantUid: $tenantUid, deviceUid: $deviceUid)
}
"""

REGISTER = """
mutation($clientId: String!, $name: String, $info: String) {
  registerDevice(clientId: $clientId, name: $name, systemInformation: $info) {
    deviceCode deviceIdentifier expiresIn interval verificationUri
    device { id sourceId status appType name systemInformation store { uid } till { sourceId } }
  }
}
"""

AUTHORIZE = f"""
mutation($tenantUid: String!, $code: String!, $storeUid: String!, $tillUid: String,
         $name: String) {{
  authorizeDevice(tenantUid: $tenantUid, deviceCode: $code, storeUid: $storeUid,
                  tillUid: $tillUid, name: $name) {{ {DEVICE} }}
}}
"""


@pytest.fixture
async def roomy_api(tmp_path: Path) -> AsyncIterator[Api]:
    """A database of its own with two stores per tenant, to move a device between stores."""
    api, _ = await open_api(make_settings(tmp_path), products=80)
    yield api
    await api.client.aclose()
    await api.store.aclose()


# -- helpers ----------------------------------------------------------------------------------


def code_of(error: dict[str, Any]) -> str:
    code: str = error["extensions"]["code"]
    return code


async def all_devices(api: Api, token: str, tenant: str = TENANT, **variables: Any) -> list[dict[str, Any]]:
    data = await api.data(DEVICES, {"tenantUid": tenant, "first": 1000, **variables}, token=token)
    return [edge["node"] for edge in data["devices"]["edges"]]


async def device_count(api: Api, token: str) -> int:
    data = await api.data(DEVICES, {"tenantUid": TENANT, "first": 0}, token=token)
    count: int = data["devices"]["totalCount"]
    return count


async def get_device(api: Api, token: str, device_uid: str, tenant: str = TENANT) -> dict[str, Any]:
    data = await api.data(ONE, {"tenantUid": tenant, "deviceUid": device_uid}, token=token)
    device: dict[str, Any] = data["device"]
    return device


async def seeded(api: Api, token: str, status: str, app_type: str, store_uid: str = AMSTERDAM) -> dict[str, Any]:
    """A seeded device of acme-retail's `store_uid` in the given state."""
    filter_ = {"storeUid": store_uid, "status": status, "appType": app_type}
    data = await api.data(SEARCH, {"tenantUid": TENANT, "filter": filter_}, token=token)
    nodes: list[dict[str, Any]] = data["searchDevices"]["nodes"]
    assert nodes, f"the seed has no {status} {app_type} device in {store_uid}"
    return nodes[0]


async def create(
    api: Api, token: str, app_type: str = "CLIENT", store_uid: str = AMSTERDAM, **more: Any
) -> dict[str, Any]:
    variables = {"tenantUid": TENANT, "storeUid": store_uid, "appType": app_type, **more}
    data = await api.data(CREATE, variables, token=token)
    device: dict[str, Any] = data["createDevice"]
    return device


def link_variables(
    code: str, app_id: str = CLIENT_APP, user_code: str = BOB_CODE, password: str = PASSWORD
) -> dict[str, Any]:
    return {"code": code, "appId": app_id, "userCode": user_code, "password": password}


async def link(
    api: Api, code: str, app_id: str = CLIENT_APP, info: str = "Linux pos-test 6.1.0 x86_64"
) -> dict[str, Any]:
    data = await api.data(LINK, {**link_variables(code, app_id), "info": info})
    linked: dict[str, Any] = data["linkDevice"]
    return linked


async def linked_device(api: Api) -> tuple[str, dict[str, Any]]:
    """Links acme-retail's seeded READY_TO_LINK till: its deviceToken and the device."""
    alice = await api.login("alice")
    ready = await seeded(api, alice, "READY_TO_LINK", "CLIENT")
    linked = await link(api, ready["deviceCode"])
    return linked["deviceToken"], linked["device"]


async def device_login(api: Api, device_token: str, user_code: str = BOB_CODE) -> dict[str, Any]:
    data = await api.data(DEVICE_LOGIN, {"userCode": user_code, "password": PASSWORD}, token=device_token)
    session: dict[str, Any] = data["deviceLogin"]
    return session


# -- F8 createDevice --------------------------------------------------------------------------


@pytest.mark.parametrize("app_type", ["CLIENT", "ASSISTANT", "UNKNOWN"])
async def test_create_device_is_ready_to_link_with_a_device_code(fresh_api: Api, app_type: str) -> None:
    alice = await fresh_api.login("alice")
    before = await device_count(fresh_api, alice)

    device = await create(fresh_api, alice, app_type, tillUid=f"{AMSTERDAM}-till-2", name="Front till")

    assert device["status"] == "READY_TO_LINK"
    assert device["appType"] == app_type
    assert device["deviceCode"]
    assert device["name"] == "Front till"
    assert device["store"] == {"uid": AMSTERDAM}
    assert device["till"] == {"sourceId": f"{AMSTERDAM}-till-2"}
    assert device["tenant"] == {"sourceId": TENANT}
    assert await get_device(fresh_api, alice, device["id"]) == device
    assert await device_count(fresh_api, alice) == before + 1


async def test_created_devices_get_distinct_ids_and_codes(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")

    first, second = await create(fresh_api, alice), await create(fresh_api, alice)

    assert first["id"] != second["id"]
    assert first["deviceCode"] != second["deviceCode"]


async def test_create_device_in_an_unknown_store_is_not_found(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    before = await device_count(fresh_api, alice)

    error = await fresh_api.error(
        CREATE, {"tenantUid": TENANT, "storeUid": "no-such-store", "appType": "CLIENT"}, token=alice
    )

    assert code_of(error) == "NOT_FOUND"
    assert await device_count(fresh_api, alice) == before


async def test_create_device_in_another_tenants_store_is_not_found(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    before = await device_count(fresh_api, alice)

    error = await fresh_api.error(
        CREATE, {"tenantUid": TENANT, "storeUid": STOCKHOLM, "appType": "CLIENT"}, token=alice
    )

    assert code_of(error) == "NOT_FOUND"
    assert await device_count(fresh_api, alice) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("storeUid", "a b"),
        ("storeUid", "x/y"),
        ("storeUid", ""),
        ("storeUid", f"{AMSTERDAM}\n"),
        ("tillUid", "till 1"),
    ],
)
async def test_create_device_with_a_malformed_uid_is_bad_input_and_writes_nothing(
    fresh_api: Api, field: str, value: str
) -> None:
    alice = await fresh_api.login("alice")
    before = await device_count(fresh_api, alice)
    variables = {"tenantUid": TENANT, "storeUid": AMSTERDAM, "appType": "CLIENT", field: value}

    error = await fresh_api.error(CREATE, variables, token=alice)

    assert code_of(error) == "BAD_USER_INPUT"
    assert await device_count(fresh_api, alice) == before


@pytest.mark.parametrize("user", ["bob", "carol", "dave"])
async def test_create_device_needs_the_tenants_admin(fresh_api: Api, user: str) -> None:
    alice = await fresh_api.login("alice")
    before = await device_count(fresh_api, alice)
    token = await fresh_api.login(user)

    error = await fresh_api.error(
        CREATE, {"tenantUid": TENANT, "storeUid": AMSTERDAM, "appType": "CLIENT"}, token=token
    )

    assert code_of(error) == "FORBIDDEN"
    assert await device_count(fresh_api, alice) == before


# -- F5 linkDevice ----------------------------------------------------------------------------


async def test_link_device_returns_a_device_token_and_activates_the_device(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    ready = await seeded(fresh_api, alice, "READY_TO_LINK", "CLIENT")

    linked = await link(fresh_api, ready["deviceCode"], info="Linux pos-1 6.1.0")

    assert linked["deviceToken"]
    assert linked["tokenExpires"] > 0
    assert linked["device"]["id"] == ready["id"]
    assert linked["device"]["status"] == "ACTIVE"
    stored = await get_device(fresh_api, alice, ready["id"])
    assert stored["status"] == "ACTIVE"
    assert stored["systemInformation"] == "Linux pos-1 6.1.0"


async def test_link_device_takes_the_code_in_any_case(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    ready = await seeded(fresh_api, alice, "READY_TO_LINK", "CLIENT")

    linked = await link(fresh_api, f"  {ready['deviceCode'].lower()} ")

    assert linked["device"]["id"] == ready["id"]


async def test_link_device_with_a_wrong_password_is_unauthenticated(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    ready = await seeded(fresh_api, alice, "READY_TO_LINK", "CLIENT")
    variables = link_variables(ready["deviceCode"], password="wrong")

    error = await fresh_api.error(LINK, variables)

    assert code_of(error) == "UNAUTHENTICATED"
    assert (await get_device(fresh_api, alice, ready["id"]))["status"] == "READY_TO_LINK"


async def test_link_device_with_an_unknown_user_code_is_unauthenticated(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    ready = await seeded(fresh_api, alice, "READY_TO_LINK", "CLIENT")
    variables = link_variables(ready["deviceCode"], user_code="9999")

    error = await fresh_api.error(LINK, variables)

    assert code_of(error) == "UNAUTHENTICATED"


async def test_link_device_with_an_unknown_code_is_not_found(api: Api) -> None:
    variables = link_variables("ZZZZ-ZZZZ")

    error = await api.error(LINK, variables)

    assert code_of(error) == "NOT_FOUND"


async def test_linking_a_device_twice_is_a_conflict(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    ready = await seeded(fresh_api, alice, "READY_TO_LINK", "CLIENT")
    await link(fresh_api, ready["deviceCode"])
    variables = link_variables(ready["deviceCode"])

    error = await fresh_api.error(LINK, variables)

    assert code_of(error) == "CONFLICT"


async def test_linking_a_blocked_device_is_a_conflict(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    blocked = await seeded(fresh_api, alice, "BLOCKED", "ASSISTANT")
    variables = link_variables(blocked["deviceCode"], app_id=ASSISTANT_APP)

    error = await fresh_api.error(LINK, variables)

    assert code_of(error) == "CONFLICT"
    assert (await get_device(fresh_api, alice, blocked["id"]))["status"] == "BLOCKED"


@pytest.mark.parametrize(
    ("app_type", "wrong_app_id"),
    [("CLIENT", ASSISTANT_APP), ("ASSISTANT", CLIENT_APP), ("CLIENT", "   ")],
)
async def test_link_device_with_the_wrong_app_id_is_bad_input(fresh_api: Api, app_type: str, wrong_app_id: str) -> None:
    alice = await fresh_api.login("alice")
    device = await create(fresh_api, alice, app_type)
    variables = link_variables(device["deviceCode"], app_id=wrong_app_id)

    error = await fresh_api.error(LINK, variables)

    assert code_of(error) == "BAD_USER_INPUT"
    assert (await get_device(fresh_api, alice, device["id"]))["status"] == "READY_TO_LINK"


@pytest.mark.parametrize(("app_type", "app_id"), [("ASSISTANT", ASSISTANT_APP), ("UNKNOWN", "any-app")])
async def test_link_device_accepts_the_app_id_of_its_app_type(fresh_api: Api, app_type: str, app_id: str) -> None:
    alice = await fresh_api.login("alice")
    device = await create(fresh_api, alice, app_type)

    linked = await link(fresh_api, device["deviceCode"], app_id=app_id)

    assert linked["device"]["status"] == "ACTIVE"


# -- F0 deviceLogin ---------------------------------------------------------------------------


async def test_device_login_returns_an_access_token_and_the_tenant_user(fresh_api: Api) -> None:
    device_token, device = await linked_device(fresh_api)

    session = await device_login(fresh_api, device_token, BOB_CODE)

    assert session["accessToken"]
    assert session["accessToken"] != device_token
    assert session["tokenExpires"] > 0
    assert session["tenantUser"] == {"login": "bob", "userCode": BOB_CODE, "tenant": {"sourceId": TENANT}}
    assert session["device"] == {"id": device["id"]}


async def test_device_login_with_a_wrong_password_is_unauthenticated(fresh_api: Api) -> None:
    device_token, _ = await linked_device(fresh_api)

    error = await fresh_api.error(DEVICE_LOGIN, {"userCode": BOB_CODE, "password": "wrong"}, token=device_token)

    assert code_of(error) == "UNAUTHENTICATED"


async def test_device_login_with_a_user_token_is_forbidden(api: Api) -> None:
    alice = await api.login("alice")

    error = await api.error(DEVICE_LOGIN, {"userCode": ALICE_CODE, "password": PASSWORD}, token=alice)

    assert code_of(error) == "FORBIDDEN"


async def test_device_login_with_an_access_token_is_forbidden(fresh_api: Api) -> None:
    device_token, _ = await linked_device(fresh_api)
    access_token = (await device_login(fresh_api, device_token))["accessToken"]

    error = await fresh_api.error(DEVICE_LOGIN, {"userCode": BOB_CODE, "password": PASSWORD}, token=access_token)

    assert code_of(error) == "FORBIDDEN"


async def test_device_login_without_a_token_is_refused(api: Api) -> None:
    error = await api.error(DEVICE_LOGIN, {"userCode": BOB_CODE, "password": PASSWORD})

    assert code_of(error) == "UNAUTHENTICATED"


# -- F1 currentDevice -------------------------------------------------------------------------


async def test_current_device_has_the_store_till_and_tenant(fresh_api: Api) -> None:
    device_token, device = await linked_device(fresh_api)
    access_token = (await device_login(fresh_api, device_token))["accessToken"]

    current = (await fresh_api.data(CURRENT, token=access_token))["currentDevice"]

    assert current["id"] == device["id"]
    assert current["status"] == "ACTIVE"
    assert current["tenant"] == {"sourceId": TENANT}
    assert current["store"]["uid"] == AMSTERDAM
    assert current["store"]["name"]
    assert current["till"]["sourceId"] == device["till"]["sourceId"]
    assert current["till"]["sourceId"].startswith(AMSTERDAM)


@pytest.mark.parametrize("who", ["device", "user"])
async def test_current_device_needs_an_access_token(fresh_api: Api, who: str) -> None:
    device_token, _ = await linked_device(fresh_api)
    token = device_token if who == "device" else await fresh_api.login("alice")

    error = await fresh_api.error(CURRENT, token=token)

    assert code_of(error) == "FORBIDDEN"


# -- F3 updateDeviceSystemInformation ---------------------------------------------------------


async def test_updated_system_information_shows_in_current_device_and_device(
    fresh_api: Api,
) -> None:
    alice = await fresh_api.login("alice")
    device_token, device = await linked_device(fresh_api)
    text = "Linux pos-1 6.6.8 #2 SMP PREEMPT_DYNAMIC 2026-02-01 aarch64"

    data = await fresh_api.data(
        "mutation($s: String!) { updateDeviceSystemInformation(systemInformation: $s) { id systemInformation } }",
        {"s": text},
        token=device_token,
    )

    assert data["updateDeviceSystemInformation"] == {"id": device["id"], "systemInformation": text}
    access_token = (await device_login(fresh_api, device_token))["accessToken"]
    current = (await fresh_api.data(CURRENT, token=access_token))["currentDevice"]
    assert current["systemInformation"] == text
    assert (await get_device(fresh_api, alice, device["id"]))["systemInformation"] == text


async def test_update_system_information_needs_a_device_token(api: Api) -> None:
    alice = await api.login("alice")

    error = await api.error('mutation { updateDeviceSystemInformation(systemInformation: "x") { id } }', token=alice)

    assert code_of(error) == "FORBIDDEN"


# -- F6 deviceUsers ---------------------------------------------------------------------------


async def test_device_users_are_the_users_with_access_to_the_device_store(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    device_token, _ = await linked_device(fresh_api)
    store = await fresh_api.data(
        "query($uid: String!) { storeByUid(uid: $uid) { users(first: 1000) { nodes { id login } } } }",
        {"uid": AMSTERDAM},
        token=alice,
    )
    staff = {u["id"] for u in store["storeByUid"]["users"]["nodes"]}
    bob = next(u["id"] for u in store["storeByUid"]["users"]["nodes"] if u["login"] == "bob")

    data = await fresh_api.data(DEVICE_USERS, {"first": 1000}, token=device_token)

    users = data["deviceUsers"]["nodes"]
    assert {u["id"] for u in users} == staff
    assert data["deviceUsers"]["totalCount"] == len(staff)
    assert {"id": bob, "displayName": "Bob de Vries"} in users


async def test_device_users_do_not_show_a_device_their_personal_details(fresh_api: Api) -> None:
    device_token, _ = await linked_device(fresh_api)

    body = await fresh_api.post(
        "{ deviceUsers(first: 1000) { nodes { displayName email userCode login } } }", token=device_token
    )

    users = body["data"]["deviceUsers"]["nodes"]
    assert users
    assert all(u["displayName"] for u in users)
    assert {(u["email"], u["userCode"], u["login"]) for u in users} == {(None, None, None)}
    assert {(e["path"][-1], code_of(e)) for e in body["errors"]} == {
        ("email", "FORBIDDEN"),
        ("userCode", "FORBIDDEN"),
        ("login", "FORBIDDEN"),
    }


async def test_device_users_page_with_cursors(fresh_api: Api) -> None:
    device_token, _ = await linked_device(fresh_api)
    everyone = (await fresh_api.data(DEVICE_USERS, {"first": 1000}, token=device_token))["deviceUsers"]
    assert everyone["totalCount"] > 2, "the page size must split the list"

    seen: list[str] = []
    after = None
    while True:
        page = (await fresh_api.data(DEVICE_USERS, {"first": 2, "after": after}, token=device_token))["deviceUsers"]
        assert page["totalCount"] == everyone["totalCount"]
        assert len(page["nodes"]) <= 2
        seen += [u["id"] for u in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [u["id"] for u in everyone["nodes"]]
    assert len(set(seen)) == everyone["totalCount"]


async def test_device_users_by_display_name_desc_is_asc_reversed(fresh_api: Api) -> None:
    device_token, _ = await linked_device(fresh_api)

    async def names(direction: str) -> list[str]:
        variables = {"first": 1000, "sortBy": "DISPLAY_NAME", "sortDirection": direction}
        data = await fresh_api.data(DEVICE_USERS, variables, token=device_token)
        return [u["displayName"] for u in data["deviceUsers"]["nodes"]]

    ascending, descending = await names("ASC"), await names("DESC")

    assert len(ascending) > 1
    assert ascending == sorted(ascending)
    assert descending == ascending[::-1]


async def test_device_users_need_a_device_token(api: Api) -> None:
    alice = await api.login("alice")

    error = await api.error(DEVICE_USERS, {"first": 5}, token=alice)

    assert code_of(error) == "FORBIDDEN"


# -- F2 registerDevice, F4 authorizeDevice ----------------------------------------------------


async def register(api: Api, client_id: str = "pos-vendor-42") -> dict[str, Any]:
    data = await api.data(REGISTER, {"clientId": client_id, "name": "Kiosk", "info": "Linux kiosk 6.1"})
    registration: dict[str, Any] = data["registerDevice"]
    return registration


async def test_register_device_returns_a_code_to_authorize_it(fresh_api: Api) -> None:
    registration = await register(fresh_api)

    assert registration["deviceCode"]
    assert registration["deviceIdentifier"] == registration["device"]["sourceId"]
    assert registration["expiresIn"] > 0
    assert registration["interval"] > 0
    assert registration["verificationUri"].startswith("https://")
    assert registration["device"]["status"] == "READY_TO_LINK"
    assert registration["device"]["store"] is None
    assert registration["device"]["systemInformation"] == "Linux kiosk 6.1"


@pytest.mark.parametrize("client_id", ["", "   "])
async def test_register_device_with_a_blank_client_id_is_bad_input(fresh_api: Api, client_id: str) -> None:
    error = await fresh_api.error(REGISTER, {"clientId": client_id})

    assert code_of(error) == "BAD_USER_INPUT"


async def test_authorize_device_attaches_it_to_the_store_and_till(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    registration = await register(fresh_api)
    till = f"{AMSTERDAM}-till-2"

    data = await fresh_api.data(
        AUTHORIZE,
        {
            "tenantUid": TENANT,
            "code": registration["deviceCode"],
            "storeUid": AMSTERDAM,
            "tillUid": till,
        },
        token=alice,
    )

    device = data["authorizeDevice"]
    assert source_id(device["id"]) == registration["deviceIdentifier"]
    assert device["store"] == {"uid": AMSTERDAM}
    assert device["till"] == {"sourceId": till}
    assert device["tenant"] == {"sourceId": TENANT}
    assert await get_device(fresh_api, alice, device["id"]) == device


async def test_authorize_device_in_another_tenants_store_is_not_found_and_changes_nothing(
    fresh_api: Api,
) -> None:
    alice = await fresh_api.login("alice")
    registration = await register(fresh_api)
    code = registration["deviceCode"]

    error = await fresh_api.error(AUTHORIZE, {"tenantUid": TENANT, "code": code, "storeUid": STOCKHOLM}, token=alice)

    assert code_of(error) == "NOT_FOUND"
    assert registration["deviceIdentifier"] not in {source_id(d["id"]) for d in await all_devices(fresh_api, alice)}
    carol = await fresh_api.login("carol")
    assert registration["deviceIdentifier"] not in {
        source_id(d["id"]) for d in await all_devices(fresh_api, carol, OTHER_TENANT)
    }
    # Still waiting: the right store takes it.
    data = await fresh_api.data(AUTHORIZE, {"tenantUid": TENANT, "code": code, "storeUid": AMSTERDAM}, token=alice)
    assert data["authorizeDevice"]["store"] == {"uid": AMSTERDAM}


async def test_authorize_device_for_another_tenant_is_forbidden(fresh_api: Api) -> None:
    carol = await fresh_api.login("carol")
    alice = await fresh_api.login("alice")
    registration = await register(fresh_api)

    error = await fresh_api.error(
        AUTHORIZE,
        {"tenantUid": TENANT, "code": registration["deviceCode"], "storeUid": AMSTERDAM},
        token=carol,
    )

    assert code_of(error) == "FORBIDDEN"
    assert registration["deviceIdentifier"] not in {source_id(d["id"]) for d in await all_devices(fresh_api, alice)}


async def test_authorizing_a_linked_device_is_a_conflict(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    registration = await register(fresh_api)
    variables = {"tenantUid": TENANT, "code": registration["deviceCode"], "storeUid": AMSTERDAM}
    await fresh_api.data(AUTHORIZE, variables, token=alice)

    error = await fresh_api.error(AUTHORIZE, variables, token=alice)

    assert code_of(error) == "CONFLICT"


# -- F7 devices -------------------------------------------------------------------------------


async def test_devices_page_through_every_device_once(api: Api) -> None:
    alice = await api.login("alice")
    everyone = await all_devices(api, alice)
    assert len(everyone) > 3, "the page size must split the list"

    seen: list[str] = []
    after = None
    while True:
        data = await api.data(DEVICES, {"tenantUid": TENANT, "first": 3, "after": after}, token=alice)
        page = data["devices"]
        assert page["totalCount"] == len(everyone)
        assert len(page["edges"]) <= 3
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]

    assert sorted(seen) == sorted(d["id"] for d in everyone)
    assert len(set(seen)) == len(seen)


async def test_devices_by_name_desc_is_asc_reversed(api: Api) -> None:
    alice = await api.login("alice")

    ascending = [d["name"] for d in await all_devices(api, alice, sortBy="NAME", sortDirection="ASC")]
    descending = [d["name"] for d in await all_devices(api, alice, sortBy="NAME", sortDirection="DESC")]

    assert len(set(ascending)) > 1
    assert ascending == sorted(ascending)
    assert descending == ascending[::-1]


@pytest.mark.parametrize("store_uid", [AMSTERDAM, ROTTERDAM])
async def test_devices_of_a_store_are_only_that_stores(api: Api, store_uid: str) -> None:
    alice = await api.login("alice")
    everyone = await all_devices(api, alice)

    in_store = await all_devices(api, alice, storeUid=store_uid)

    assert in_store
    assert {d["id"] for d in in_store} == {d["id"] for d in everyone if d["store"] == {"uid": store_uid}}
    assert len(in_store) < len(everyone)


async def test_devices_of_another_tenants_store_are_none(api: Api) -> None:
    alice = await api.login("alice")

    assert await all_devices(api, alice, storeUid=STOCKHOLM) == []


@pytest.mark.parametrize("user", ["carol", "bob", "dave"])
async def test_devices_need_the_tenants_admin(api: Api, user: str) -> None:
    token = await api.login(user)

    error = await api.error(DEVICES, {"tenantUid": TENANT}, token=token)

    assert code_of(error) == "FORBIDDEN"


async def test_devices_with_a_device_token_are_forbidden(fresh_api: Api) -> None:
    device_token, _ = await linked_device(fresh_api)

    error = await fresh_api.error(DEVICES, {"tenantUid": TENANT}, token=device_token)

    assert code_of(error) == "FORBIDDEN"


# -- F9 searchDevices -------------------------------------------------------------------------


def matches(device: dict[str, Any], filter_: dict[str, str]) -> bool:
    """What F9 promises, written out: every given filter holds, text in name or serial number."""
    text = filter_.get("text", "").lower()
    return (
        ("storeUid" not in filter_ or device["store"] == {"uid": filter_["storeUid"]})
        and ("appType" not in filter_ or device["appType"] == filter_["appType"])
        and ("status" not in filter_ or device["status"] == filter_["status"])
        and (text in (device["name"] or "").lower() or text in (device["serialNumber"] or "").lower())
    )


async def search(api: Api, token: str, filter_: dict[str, str] | None) -> dict[str, Any]:
    data = await api.data(SEARCH, {"tenantUid": TENANT, "filter": filter_}, token=token)
    found: dict[str, Any] = data["searchDevices"]
    return found


@pytest.mark.parametrize(
    "filter_",
    [
        {"storeUid": ROTTERDAM},
        {"appType": "ASSISTANT"},
        {"status": "BLOCKED"},
        {"text": "amsterdam"},
        {"text": "TILL"},
        {"storeUid": AMSTERDAM, "status": "ACTIVE"},
        {"storeUid": AMSTERDAM, "appType": "CLIENT", "text": "till 2"},
    ],
)
async def test_search_devices_filter_narrows_to_the_matching_devices(api: Api, filter_: dict[str, str]) -> None:
    alice = await api.login("alice")
    everyone = (await search(api, alice, None))["nodes"]

    found = await search(api, alice, filter_)

    assert found["nodes"], filter_
    assert {d["id"] for d in found["nodes"]} == {d["id"] for d in everyone if matches(d, filter_)}
    assert found["totalCount"] == len(found["nodes"]) < len(everyone)


async def test_search_devices_text_finds_a_serial_number(api: Api) -> None:
    alice = await api.login("alice")
    everyone = (await search(api, alice, None))["nodes"]
    serial = next(d["serialNumber"] for d in everyone if d["serialNumber"])
    filter_ = {"text": serial[-6:].lower()}

    found = await search(api, alice, filter_)

    assert serial in {d["serialNumber"] for d in found["nodes"]}
    assert {d["id"] for d in found["nodes"]} == {d["id"] for d in everyone if matches(d, filter_)}


async def test_search_devices_text_is_a_substring_not_a_pattern(api: Api) -> None:
    alice = await api.login("alice")

    data = await api.data(SEARCH, {"tenantUid": TENANT, "filter": {"text": "%"}}, token=alice)

    assert data["searchDevices"]["totalCount"] == 0


async def test_search_devices_text_finds_a_wildcard_character_as_itself(fresh_api: Api) -> None:
    """`%` and `_` are LIKE's wildcards: unescaped, `%` would find every device and `_` every
    named one."""
    alice = await fresh_api.login("alice")
    named = {w: (await create(fresh_api, alice, name=f"Till {w}7"))["id"] for w in "%_"}
    everyone = (await search(fresh_api, alice, None))["nodes"]

    for wildcard in "%_":
        for text in (wildcard, f"l {wildcard}7"):
            found = {d["id"] for d in (await search(fresh_api, alice, {"text": text}))["nodes"]}

            assert found == {named[wildcard]}, text
            assert found == {d["id"] for d in everyone if matches(d, {"text": text})}


async def test_search_devices_with_a_malformed_store_uid_is_bad_input(api: Api) -> None:
    alice = await api.login("alice")

    error = await api.error(SEARCH, {"tenantUid": TENANT, "filter": {"storeUid": "a b"}}, token=alice)

    assert code_of(error) == "BAD_USER_INPUT"


# -- F10 device -------------------------------------------------------------------------------


async def test_device_returns_the_device(api: Api) -> None:
    alice = await api.login("alice")
    listed = await seeded(api, alice, "ACTIVE", "CLIENT")

    device = await get_device(api, alice, listed["id"])

    assert device == {k: v for k, v in listed.items() if k != "serialNumber"}
    assert device["tenant"] == {"sourceId": TENANT}


@pytest.mark.parametrize(
    ("device_uid", "code"),
    [
        ("dev-doesnotexist", "NOT_FOUND"),
        ("a b", "BAD_USER_INPUT"),
        ("x/y", "BAD_USER_INPUT"),
        ("", "BAD_USER_INPUT"),
    ],
)
async def test_device_with_an_unknown_or_malformed_uid_fails(api: Api, device_uid: str, code: str) -> None:
    alice = await api.login("alice")

    error = await api.error(ONE, {"tenantUid": TENANT, "deviceUid": device_uid}, token=alice)

    assert code_of(error) == code


async def test_device_of_another_tenant_is_not_found(api: Api) -> None:
    alice, carol = await api.login("alice"), await api.login("carol")
    acme_device = await seeded(api, alice, "ACTIVE", "CLIENT")

    error = await api.error(ONE, {"tenantUid": OTHER_TENANT, "deviceUid": acme_device["id"]}, token=carol)

    assert code_of(error) == "NOT_FOUND"


async def test_device_of_a_tenant_you_do_not_administer_is_forbidden(api: Api) -> None:
    alice, carol = await api.login("alice"), await api.login("carol")
    acme_device = await seeded(api, alice, "ACTIVE", "CLIENT")

    error = await api.error(ONE, {"tenantUid": TENANT, "deviceUid": acme_device["id"]}, token=carol)

    assert code_of(error) == "FORBIDDEN"


# -- F11 updateDevice -------------------------------------------------------------------------


async def test_update_device_changes_persist(roomy_api: Api) -> None:
    alice = await roomy_api.login("alice")
    device = await create(roomy_api, alice, "CLIENT", tillUid=f"{AMSTERDAM}-till-1", name="Old name")
    changes = {
        "name": "Back office",
        "appType": "ASSISTANT",
        "storeUid": ROTTERDAM,
        "tillUid": f"{ROTTERDAM}-till-2",
    }

    data = await roomy_api.data(
        UPDATE, {"tenantUid": TENANT, "deviceUid": device["id"], "changes": changes}, token=alice
    )

    updated = data["updateDevice"]
    assert updated["name"] == "Back office"
    assert updated["appType"] == "ASSISTANT"
    assert updated["store"] == {"uid": ROTTERDAM}
    assert updated["till"] == {"sourceId": f"{ROTTERDAM}-till-2"}
    assert updated["status"] == "READY_TO_LINK"  # left out, so unchanged
    assert await get_device(roomy_api, alice, device["id"]) == updated


async def test_update_device_leaves_out_fields_unchanged(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    device = await create(fresh_api, alice, "CLIENT", tillUid=f"{AMSTERDAM}-till-1", name="Till A")

    data = await fresh_api.data(
        UPDATE,
        {"tenantUid": TENANT, "deviceUid": device["id"], "changes": {"name": "Till B"}},
        token=alice,
    )

    assert data["updateDevice"] == {**device, "name": "Till B"}


async def test_update_device_with_a_till_of_another_store_is_not_found_and_changes_nothing(
    roomy_api: Api,
) -> None:
    alice = await roomy_api.login("alice")
    device = await create(roomy_api, alice, "CLIENT", tillUid=f"{AMSTERDAM}-till-1", name="Till A")
    changes = {"name": "Renamed", "tillUid": f"{ROTTERDAM}-till-1"}

    error = await roomy_api.error(
        UPDATE, {"tenantUid": TENANT, "deviceUid": device["id"], "changes": changes}, token=alice
    )

    assert code_of(error) == "NOT_FOUND"
    assert await get_device(roomy_api, alice, device["id"]) == device


async def test_a_blocked_device_cannot_sign_users_in(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    device = await create(fresh_api, alice, "CLIENT")
    device_token = (await link(fresh_api, device["deviceCode"]))["deviceToken"]
    assert (await device_login(fresh_api, device_token, ALICE_CODE))["accessToken"]

    data = await fresh_api.data(
        UPDATE,
        {"tenantUid": TENANT, "deviceUid": device["id"], "changes": {"status": "BLOCKED"}},
        token=alice,
    )

    assert data["updateDevice"]["status"] == "BLOCKED"
    assert (await get_device(fresh_api, alice, device["id"]))["status"] == "BLOCKED"
    error = await fresh_api.error(DEVICE_LOGIN, {"userCode": ALICE_CODE, "password": PASSWORD}, token=device_token)
    assert code_of(error) == "FORBIDDEN"


async def test_update_device_of_another_tenant_is_not_found_and_changes_nothing(
    fresh_api: Api,
) -> None:
    alice, carol = await fresh_api.login("alice"), await fresh_api.login("carol")
    device = await create(fresh_api, alice, "CLIENT")

    error = await fresh_api.error(
        UPDATE,
        {"tenantUid": OTHER_TENANT, "deviceUid": device["id"], "changes": {"status": "BLOCKED"}},
        token=carol,
    )

    assert code_of(error) == "NOT_FOUND"
    assert await get_device(fresh_api, alice, device["id"]) == device


# -- F12 deleteDevice -------------------------------------------------------------------------


async def test_delete_device_removes_it(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    device = await create(fresh_api, alice)
    before = await device_count(fresh_api, alice)
    variables = {"tenantUid": TENANT, "deviceUid": device["id"]}

    data = await fresh_api.data(DELETE, variables, token=alice)

    assert data["deleteDevice"] == device["id"]
    assert code_of(await fresh_api.error(ONE, variables, token=alice)) == "NOT_FOUND"
    assert await device_count(fresh_api, alice) == before - 1
    assert code_of(await fresh_api.error(DELETE, variables, token=alice)) == "NOT_FOUND"


async def test_delete_device_of_another_tenant_is_not_found_and_keeps_it(fresh_api: Api) -> None:
    alice, carol = await fresh_api.login("alice"), await fresh_api.login("carol")
    device = await create(fresh_api, alice)

    error = await fresh_api.error(DELETE, {"tenantUid": OTHER_TENANT, "deviceUid": device["id"]}, token=carol)

    assert code_of(error) == "NOT_FOUND"
    assert await get_device(fresh_api, alice, device["id"]) == device


async def test_a_deleted_devices_token_no_longer_works(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    device_token, device = await linked_device(fresh_api)
    await fresh_api.data(DELETE, {"tenantUid": TENANT, "deviceUid": device["id"]}, token=alice)

    error = await fresh_api.error(DEVICE_LOGIN, {"userCode": BOB_CODE, "password": PASSWORD}, token=device_token)

    assert code_of(error) == "UNAUTHENTICATED"


# -- edges ------------------------------------------------------------------------------------


async def test_store_devices_are_the_devices_of_that_store(api: Api) -> None:
    alice = await api.login("alice")

    data = await api.data(
        "query($uid: String!) { storeByUid(uid: $uid) { uid devices(first: 1000) "
        "{ totalCount nodes { id store { uid } } } } }",
        {"uid": AMSTERDAM},
        token=alice,
    )

    devices = data["storeByUid"]["devices"]
    assert {d["id"] for d in devices["nodes"]} == {d["id"] for d in await all_devices(api, alice, storeUid=AMSTERDAM)}
    assert devices["totalCount"] == len(devices["nodes"]) > 0
    assert all(d["store"] == {"uid": AMSTERDAM} for d in devices["nodes"])


async def test_device_store_devices_include_the_device(api: Api) -> None:
    alice = await api.login("alice")
    device = await seeded(api, alice, "ACTIVE", "CLIENT", ROTTERDAM)

    data = await api.data(
        "query($t: String!, $d: String!) { device(tenantUid: $t, deviceUid: $d) "
        "{ id store { uid devices(first: 1000) { nodes { id store { uid } } } } } }",
        {"t": TENANT, "d": device["id"]},
        token=alice,
    )

    store = data["device"]["store"]
    assert store["uid"] == ROTTERDAM
    assert device["id"] in {d["id"] for d in store["devices"]["nodes"]}
    assert all(d["store"] == {"uid": ROTTERDAM} for d in store["devices"]["nodes"])


async def test_tenant_devices_are_the_tenants_devices(api: Api) -> None:
    alice = await api.login("alice")

    data = await api.data(
        "query($t: String!) { tenant(tenantUid: $t) { devices(first: 1000) "
        "{ totalCount nodes { id tenant { sourceId } } } } }",
        {"t": TENANT},
        token=alice,
    )

    devices = data["tenant"]["devices"]
    assert {d["id"] for d in devices["nodes"]} == {d["id"] for d in await all_devices(api, alice)}
    assert devices["totalCount"] == len(devices["nodes"])
    assert all(d["tenant"] == {"sourceId": TENANT} for d in devices["nodes"])


async def test_device_till_belongs_to_the_device_store(api: Api) -> None:
    alice = await api.login("alice")

    data = await api.data(
        "query($t: String!) { devices(tenantUid: $t, first: 1000) "
        "{ nodes { id store { uid } till { id name store { uid } } } } }",
        {"t": TENANT},
        token=alice,
    )

    with_till = [d for d in data["devices"]["nodes"] if d["till"]]
    assert with_till
    for device in with_till:
        assert device["till"]["store"] == device["store"], device
        assert device["till"]["name"]


async def test_store_devices_are_hidden_from_other_tenants(api: Api) -> None:
    carol = await api.login("carol")

    error = await api.error(
        "query($uid: String!) { storeByUid(uid: $uid) { devices { totalCount } } }",
        {"uid": AMSTERDAM},
        token=carol,
    )

    assert code_of(error) == "FORBIDDEN"
