"""The upstream clients against the real sandbox over loopback: each client method on its happy
path (and the APIs' 204 answers), asserting the records equal what the local store behind the
sandbox answers to the same question.

What the contracts do not carry is left out of the comparison, each for its reason: FLECS sends
no product owner nor creation times; a Flow store's integer id is `flow_store_id(uid)`, not the
local row id, and Flow sends no shop name or url; times travel with millisecond precision.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from sqlalchemy import select

from conftest import PASSWORD, make_settings
from facade.auth import Principal, TokenService
from facade.backends.interfaces import ProductQuery
from facade.backends.local import LocalStore
from facade.backends.local import tables as t
from facade.backends.local.seed import SeedSummary, seed
from facade.backends.upstream.base import ApiClient
from facade.backends.upstream.flecs.client import FlecsConsole
from facade.backends.upstream.flow.client import FlowRetail
from facade.backends.upstream.flow.payloads import flow_store_id
from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient
from facade.backends.upstream.payloads import UNKNOWN_TIME
from facade.errors import NotFound, Unauthenticated
from facade.models import (
    Device,
    DeviceAppType,
    DeviceFilter,
    DeviceStatus,
    PageArgs,
    SortDirection,
    User,
)
from facade.sandbox import create_sandbox_app

T = TypeVar("T")
HOST = "127.0.0.1"
ALLOWED = frozenset({"authorization", "x-session-id"})
TENANT = "acme-retail"


@dataclass
class Sandbox:
    store: LocalStore
    seeded: SeedSummary
    tokens: TokenService
    flecs: FlecsConsole
    flow: FlowRetail
    logins: dict[str, str]

    async def token(self, login: str) -> str:
        """A FLECS login token (Flow's authToken), made through the FLECS client itself."""
        if login not in self.logins:
            result = await in_request({}, self.flecs, lambda c: c.users.login(login, PASSWORD))
            self.logins[login] = result.token.token
        return self.logins[login]

    async def principal(self, login: str) -> Principal:
        return self.tokens.verify(await self.token(login))

    async def user_id(self, login: str) -> int:
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(select(t.users.c.id).where(t.users.c.login == login))).scalar_one())


async def in_request(headers: dict[str, str], api: ApiClient, call: Callable[[Any], Awaitable[T]]) -> T:
    """`call` as one GraphQL request would make it: on `api` bound to a request scope of its own."""
    return await call(api.bind(RequestScope.of(headers, ALLOWED)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sandbox]:
    settings = make_settings(Path(tmp_path_factory.mktemp("sandbox")))
    tokens = TokenService(settings)
    store = await LocalStore.open(settings.database_url, tokens)
    seeded = await seed(store.engine, products=40)
    config = uvicorn.Config(
        create_sandbox_app(settings, store),
        host=HOST,
        port=free_port(),
        lifespan="off",
        log_level="warning",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(1500):  # up to 30 s on a loaded machine
        if server.started or serving.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, "the sandbox did not start"
    base = f"http://{HOST}:{config.port}"
    http = HttpSettings(retries=0, backoff=0.0)
    flecs = FlecsConsole(UpstreamClient("FLECS Console API", base, http))
    flow = FlowRetail(UpstreamClient("Flow Retail API", f"{base}/v2", http), store_directory=store.stores)
    try:
        yield Sandbox(store, seeded, tokens, flecs, flow, {})
    finally:
        await flecs.aclose()
        await flow.aclose()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, 10)
        await store.aclose()


def ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def dumped(record: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    """A record as a dict, times cut to milliseconds (what travels over the wire)."""
    data: dict[str, Any] = record.model_dump(exclude=exclude or set())
    return {k: ms(v) if isinstance(v, dt.datetime) else v for k, v in data.items()}


def product_view(product: Any) -> dict[str, Any]:
    # The embedded store is FLECS's alone (the local store leaves it None): compared on its own.
    return dumped(product, {"owner_id", "created_at", "embedded_store"})


# What FLECS's productStore holds of a store; the rest of an embedded store are stand-ins.
FLECS_STORE_FIELDS = {"id", "name", "shop_name", "url", "address"}


async def store_uid(sandbox: Sandbox, store_id: int) -> str:
    return (await sandbox.store.stores.get_many([store_id]))[store_id].uid


# A Flow DEVICE carries neither the client id of F2 nor the FLECS edge-device fields.
NOT_IN_DEVICE = {
    "client_id",
    "owner_id",
    "manufacturer_id",
    "manufacturer_name",
    "model",
    "serial_number",
    "manufacture_date",
    "license_status",
}


def flow_dump(device: Device) -> dict[str, Any]:
    return dumped(device, NOT_IN_DEVICE)


async def device_view(sandbox: Sandbox, device: Device, *, times: bool = True) -> dict[str, Any]:
    """A local device as the Flow client shows it: its store named by uid, not by row id."""
    uid = await store_uid(sandbox, device.store_id) if device.store_id is not None else None
    data = dumped(device, NOT_IN_DEVICE if times else {*NOT_IN_DEVICE, "created_at", "last_modified_at"})
    data.update(store_id=None, store_uid=uid)
    return data


# =============================================================================================
# FLECS Console API


async def test_login_and_token_validation(sandbox: Sandbox) -> None:
    result = await in_request({}, sandbox.flecs, lambda c: c.users.login("alice", PASSWORD))
    local = await sandbox.store.users.login("alice", PASSWORD)
    keep = {"id", "login", "email", "display_name", "is_vendor", "is_whitelabeled"}
    assert result.user.model_dump(include=keep) == local.user.model_dump(include=keep)
    assert result.token.expires > 0
    assert await in_request({}, sandbox.flecs, lambda c: c.users.validate_token(result.token.token))
    assert not await in_request({}, sandbox.flecs, lambda c: c.users.validate_token("not-a-token"))


async def test_wrong_password_is_unauthenticated(sandbox: Sandbox) -> None:
    with pytest.raises(Unauthenticated) as err:
        await in_request({}, sandbox.flecs, lambda c: c.users.login("alice", "wrong"))
    assert err.value.message == "The username or password is incorrect."


@pytest.mark.parametrize(
    ("apps_only", "store_id", "page"),
    [
        (False, None, PageArgs(limit=10)),
        (False, None, PageArgs(limit=10, offset=25)),  # straddles pages 3 and 4
        (False, None, PageArgs(limit=7, offset=35)),  # runs past the end
        (False, None, PageArgs(limit=0)),  # only the total
        (True, None, PageArgs(limit=4, offset=2)),
        (False, 2, PageArgs(limit=5)),
        (True, 1, PageArgs(limit=50)),
        (False, None, PageArgs(limit=120, offset=3)),  # more than the largest page (100)
    ],
)
async def test_products_page_all(sandbox: Sandbox, apps_only: bool, store_id: int | None, page: PageArgs) -> None:
    query = ProductQuery(apps_only=apps_only, store_id=store_id)
    remote = await in_request({}, sandbox.flecs, lambda c: c.products.page_all(query, page))
    local = await sandbox.store.products.page_all(query, page)
    assert (remote.total, remote.offset) == (local.total, local.offset)
    assert [product_view(x) for x in remote.items] == [product_view(x) for x in local.items]


async def test_a_listed_product_embeds_its_store_as_flecs_sent_it(sandbox: Sandbox) -> None:
    remote = await in_request({}, sandbox.flecs, lambda c: c.products.page_all(ProductQuery(), PageArgs(limit=30)))
    local = await sandbox.store.products.page_all(ProductQuery(), PageArgs(limit=30))
    stores = await sandbox.store.stores.get_many(sorted({x.store_id for x in local.items}))
    assert all(x.embedded_store is None for x in local.items)
    for product in remote.items:
        embedded = product.embedded_store
        assert embedded is not None
        assert embedded.id == product.store_id
        assert embedded.model_dump(include=FLECS_STORE_FIELDS) == stores[embedded.id].model_dump(
            include=FLECS_STORE_FIELDS
        )


async def test_products_sorted_within_the_page(sandbox: Sandbox) -> None:
    page = PageArgs(limit=100, sort="price", direction=SortDirection.DESC)
    remote = await in_request({}, sandbox.flecs, lambda c: c.products.page_all(ProductQuery(), page))
    local = await sandbox.store.products.page_all(ProductQuery(), page)
    # One page holds the whole list here, so sorting the page is sorting the list.
    assert [x.id for x in remote.items] == [x.id for x in local.items]


async def test_products_page_by_store(sandbox: Sandbox) -> None:
    page = PageArgs(limit=3, offset=1)
    remote = await in_request({}, sandbox.flecs, lambda c: c.products.page_by_store([1, 2], True, page))
    local = await sandbox.store.products.page_by_store([1, 2], True, page)
    assert remote.keys() == local.keys()
    for key in local:
        assert remote[key].total == local[key].total
        assert [product_view(x) for x in remote[key].items] == [product_view(x) for x in local[key].items]


async def test_purchased_products_of_the_caller_only(sandbox: Sandbox) -> None:
    bob, dave = await sandbox.user_id("bob"), await sandbox.user_id("dave")
    token = await sandbox.token("bob")
    page = PageArgs(limit=20)
    for query in (ProductQuery(), ProductQuery(apps_only=True)):
        remote = await in_request(
            bearer(token), sandbox.flecs, lambda c, q=query: c.products.page_purchased([bob, dave], q, page)
        )
        local = await sandbox.store.products.page_purchased([bob], query, page)
        assert remote[bob].total == local[bob].total
        assert [product_view(x) for x in remote[bob].items] == [product_view(x) for x in local[bob].items]
        assert remote[dave].total == 0


async def test_subscriptions_of_the_caller(sandbox: Sandbox) -> None:
    bob = await sandbox.user_id("bob")
    token = await sandbox.token("bob")
    page = PageArgs(limit=2, offset=1, direction=SortDirection.DESC)
    remote = await in_request(bearer(token), sandbox.flecs, lambda c: c.subscriptions.page_by_user([bob], None, page))
    local = await sandbox.store.subscriptions.page_by_user([bob], None, page)
    assert remote[bob].total == local[bob].total > 0
    view = [dumped(s, {"created_at"}) for s in local[bob].items]
    assert [dumped(s, {"created_at"}) for s in remote[bob].items] == view


async def test_review_is_created_with_the_jwt_in_the_body(sandbox: Sandbox) -> None:
    token = await sandbox.token("dave")
    principal = await sandbox.principal("dave")
    product_id = 5
    review = await in_request(
        bearer(token), sandbox.flecs, lambda c: c.reviews.create(principal, product_id, "  Works well.  ", 4)
    )
    local = await sandbox.store.reviews.page_by_product([product_id], PageArgs(limit=100))
    stored = next(r for r in local[product_id].items if r.id == review.id)
    assert dumped(review, {"created_at"}) == dumped(stored, {"created_at"})
    assert abs(review.created_at - stored.created_at) < dt.timedelta(seconds=1)


async def test_license_activation_then_already_active(sandbox: Sandbox) -> None:
    token = await sandbox.token("dave")
    principal = await sandbox.principal("dave")
    first = await in_request(bearer(token), sandbox.flecs, lambda c: c.licenses.activate(principal, None, None))
    assert not first.already_active
    assert first.license_key
    # A device that knows its session: 204, the session read from the JSON X-Session-Id header.
    again = await in_request({}, sandbox.flecs, lambda c: c.licenses.activate(None, None, first.session.id))
    assert again.already_active
    assert again.session == first.session
    assert await sandbox.store.licenses.validate(first.session.id) == (True, first.session)


async def test_license_activation_by_key(sandbox: Sandbox) -> None:
    key = sandbox.seeded.free_license_keys["alice"][0]
    activation = await in_request({}, sandbox.flecs, lambda c: c.licenses.activate(None, key, None))
    assert activation.license_key == key
    assert (await sandbox.store.licenses.validate(activation.session.id))[1] == activation.session


async def test_license_validation(sandbox: Sandbox) -> None:
    key = sandbox.seeded.free_license_keys["alice"][1]
    session = (await in_request({}, sandbox.flecs, lambda c: c.licenses.activate(None, key, None))).session
    assert await in_request({}, sandbox.flecs, lambda c: c.licenses.validate(session.id)) == (
        await sandbox.store.licenses.validate(session.id)
    )
    unknown = str(uuid.uuid4())
    assert await in_request({}, sandbox.flecs, lambda c: c.licenses.validate(unknown)) == (False, None)
    assert await sandbox.store.licenses.validate(unknown) == (False, None)


async def test_device_license_registration(sandbox: Sandbox) -> None:
    token = await sandbox.token("alice")
    principal = await sandbox.principal("alice")
    device = await in_request(
        bearer(token),
        sandbox.flecs,
        lambda c: c.licenses.register_device(
            principal, 791, "Example Manufacturer", "IPC-xyz", "SN-UPSTREAM-1", dt.date(2025, 1, 1)
        ),
    )
    async with sandbox.store.engine.connect() as conn:
        local_id = (
            await conn.execute(select(t.devices.c.id).where(t.devices.c.serial_number == "SN-UPSTREAM-1"))
        ).scalar_one()
    local = (await sandbox.store.devices.get_many([local_id]))[local_id]
    # The response names no device id: the serial number stands in for it.
    assert device.id == "SN-UPSTREAM-1"
    assert dumped(device, {"id"}) == dumped(local, {"id"})


async def _app_version(sandbox: Sandbox, official: bool) -> tuple[str, str]:
    async with sandbox.store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.app_manifests.c.app, t.app_manifests.c.version)
                .join(t.products, t.products.c.id == t.app_manifests.c.product_id)
                .where(t.products.c.is_official.is_(official))
                .order_by(t.app_manifests.c.app, t.app_manifests.c.version)
                .limit(1)
            )
        ).one()
    return str(row.app), str(row.version)


async def _session(sandbox: Sandbox) -> str:
    """A device session, activated once with a licence key no other test uses."""
    if "session" not in sandbox.logins:
        key = sandbox.seeded.free_license_keys["dave"][-1]
        activation = await in_request({}, sandbox.flecs, lambda c: c.licenses.activate(None, key, None))
        sandbox.logins["session"] = activation.session.id
    return sandbox.logins["session"]


async def test_manifest_download(sandbox: Sandbox) -> None:
    session = await _session(sandbox)
    app, version = await _app_version(sandbox, official=True)
    for exact, ceiling in ((None, None), ("2.0.0", None), (None, "2.0.0")):
        try:
            local = await sandbox.store.apps.download_manifest(session, app, version, exact, ceiling)
        except NotFound:  # that choice does not exist for this app version
            continue
        remote = await in_request(
            {}, sandbox.flecs, lambda api, e=exact, c=ceiling: api.apps.download_manifest(session, app, version, e, c)
        )
        assert dumped(remote, {"product_id"}) == dumped(local, {"product_id"})


async def test_download_token_200_and_unofficial_204(sandbox: Sandbox) -> None:
    session_id = await _session(sandbox)
    session = (await sandbox.store.licenses.validate(session_id))[1]
    app, version = await _app_version(sandbox, official=True)
    official = await in_request({}, sandbox.flecs, lambda c: c.apps.create_token(session_id, app, version))
    assert official.session == session
    assert official.token is not None
    assert (official.token.app, official.token.version, official.token.session_id) == (app, version, session_id)
    async with sandbox.store.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(t.download_tokens.c.password).where(t.download_tokens.c.username == official.token.username)
            )
        ).scalar_one()
    assert stored == official.token.password
    app, version = await _app_version(sandbox, official=False)
    unofficial = await in_request({}, sandbox.flecs, lambda c: c.apps.create_token(session_id, app, version))
    local = await sandbox.store.apps.create_token(session_id, app, version)
    assert unofficial.token is None
    assert local.token is None
    assert unofficial.session == local.session


# =============================================================================================
# Flow Retail Device API


async def _ready_code(sandbox: Sandbox) -> tuple[str, Device]:
    code = sandbox.seeded.device_codes[TENANT]
    async with sandbox.store.engine.connect() as conn:
        device_id = (await conn.execute(select(t.devices.c.id).where(t.devices.c.device_code == code))).scalar_one()
    return code, (await sandbox.store.devices.get_many([device_id]))[device_id]


async def _linked(sandbox: Sandbox) -> tuple[str, Device]:
    """Links acme-retail's seeded READY_TO_LINK device once: its device token and record."""
    if "device" not in sandbox.logins:
        code, device = await _ready_code(sandbox)
        app_id = {"CLIENT": "flow-retail-client", "ASSISTANT": "flow-retail-assistant"}.get(
            device.app_type.value, "any-app"
        )
        linked = await in_request(
            {}, sandbox.flow, lambda c: c.devices.link(code, app_id, "1002", PASSWORD, "Linux pos 6.1")
        )
        sandbox.logins["device"] = linked.device_token.token
        local = (await sandbox.store.devices.get_many([linked.device.id]))[linked.device.id]
        assert flow_dump(linked.device) == await device_view(sandbox, local)
        assert linked.device_token.expires > 0
    token = sandbox.logins["device"]
    device_id = sandbox.tokens.verify(token).device_id
    assert device_id is not None
    return token, (await sandbox.store.devices.get_many([device_id]))[device_id]


def user_view(user: User) -> dict[str, Any]:
    """What Flow's tenantUser carries of facade's User (the login is not among it)."""
    return dumped(user, {"login", "default_store_id", "is_vendor", "is_whitelabeled"})


async def test_link_then_device_login_and_users(sandbox: Sandbox) -> None:
    token, device = await _linked(sandbox)
    principal = sandbox.tokens.verify(token)
    signed_in = await in_request(bearer(token), sandbox.flow, lambda c: c.devices.login(principal, "1002", PASSWORD))
    local = await sandbox.store.devices.login(principal, "1002", PASSWORD)
    assert user_view(signed_in.user) == user_view(local.user)
    default = await store_uid(sandbox, local.user.default_store_id)  # type: ignore[arg-type]
    assert signed_in.user.default_store_id == flow_store_id(default)
    assert sandbox.tokens.verify(signed_in.access_token.token).device_id == device.id

    page = PageArgs(limit=3, offset=1, sort="display_name")
    remote = await in_request(bearer(token), sandbox.flow, lambda c: c.devices.users(principal, page, ["FULL"]))
    expected = await sandbox.store.devices.users(principal, page, ["FULL"])
    assert remote.total == expected.total
    assert [user_view(u) for u in remote.items] == [user_view(u) for u in expected.items]


async def test_current_device_with_an_access_token(sandbox: Sandbox) -> None:
    token, device = await _linked(sandbox)
    signed_in = await in_request(
        bearer(token), sandbox.flow, lambda c: c.devices.login(sandbox.tokens.verify(token), "1002", PASSWORD)
    )
    access = signed_in.access_token.token
    current = await in_request(bearer(access), sandbox.flow, lambda c: c.devices.current(sandbox.tokens.verify(access)))
    # F1 carries no times, device code or client id.
    expected = await device_view(sandbox, device, times=False)
    assert dumped(current, {*NOT_IN_DEVICE, "created_at", "last_modified_at"}) == {**expected, "device_code": None}
    assert current.created_at == UNKNOWN_TIME


async def test_system_information_update_204(sandbox: Sandbox) -> None:
    token, device = await _linked(sandbox)
    principal = sandbox.tokens.verify(token)
    updated = await in_request(
        bearer(token), sandbox.flow, lambda c: c.devices.update_system_information(principal, "Linux pos 6.2")
    )
    local = (await sandbox.store.devices.get_many([device.id]))[device.id]
    assert local.system_information == updated.system_information == "Linux pos 6.2"
    assert updated.id == device.id
    assert updated.tenant_id == local.tenant_id


async def test_register_then_authorize(sandbox: Sandbox) -> None:
    registration = await in_request({}, sandbox.flow, lambda c: c.devices.register("client-7", "Kiosk", "Linux kiosk"))
    local = (await sandbox.store.devices.get_many([registration.device.id]))[registration.device.id]
    assert registration.device_code == local.device_code
    assert dumped(registration.device, {"created_at", "last_modified_at"}) == dumped(
        local, {"created_at", "last_modified_at"}
    )
    assert registration.expires_in > 0
    assert registration.verification_uri.startswith("https://")

    token = await sandbox.token("alice")
    principal = await sandbox.principal("alice")
    uid = await store_uid(sandbox, 1)
    authorized = await in_request(
        bearer(token),
        sandbox.flow,
        lambda c: c.devices.authorize(principal, registration.device_code, TENANT, uid, None, "Front kiosk"),
    )
    local = (await sandbox.store.devices.get_many([registration.device.id]))[registration.device.id]
    assert local.status is DeviceStatus.ACTIVE
    assert flow_dump(authorized) == await device_view(sandbox, local)


async def test_tenant_administration_create_get_update_delete(sandbox: Sandbox) -> None:
    token = await sandbox.token("alice")
    principal = await sandbox.principal("alice")
    uid = await store_uid(sandbox, 1)
    till = (await sandbox.store.stores.tills_by_store([1]))[1][0].id

    created = await in_request(
        bearer(token),
        sandbox.flow,
        lambda c: c.devices.create(principal, TENANT, uid, till, DeviceAppType.ASSISTANT, "Tablet"),
    )
    local = (await sandbox.store.devices.get_many([created.id]))[created.id]
    assert flow_dump(created) == await device_view(sandbox, local)
    assert created.status is DeviceStatus.READY_TO_LINK

    fetched = await in_request(bearer(token), sandbox.flow, lambda c: c.devices.get(principal, TENANT, created.id))
    assert dumped(fetched) == dumped(created)

    changes = {"name": "Tablet 2", "status": DeviceStatus.BLOCKED, "app_type": DeviceAppType.CLIENT}
    updated = await in_request(
        bearer(token), sandbox.flow, lambda c: c.devices.update(principal, TENANT, created.id, changes)
    )
    local = (await sandbox.store.devices.get_many([created.id]))[created.id]
    assert flow_dump(updated) == await device_view(sandbox, local)
    assert (updated.name, updated.status) == ("Tablet 2", DeviceStatus.BLOCKED)

    await in_request(bearer(token), sandbox.flow, lambda c: c.devices.delete(principal, TENANT, created.id))
    assert await sandbox.store.devices.get_many([created.id]) == {}


@pytest.mark.parametrize(
    ("where", "page"),
    [
        (DeviceFilter(tenant_id=TENANT), PageArgs(limit=4)),
        (DeviceFilter(tenant_id=TENANT), PageArgs(limit=4, offset=6, sort="name", direction=SortDirection.DESC)),
        (DeviceFilter(tenant_id=TENANT, status=DeviceStatus.ACTIVE), PageArgs(limit=3, offset=1)),
        (DeviceFilter(tenant_id=TENANT, app_type=DeviceAppType.CLIENT, text="till"), PageArgs(limit=10)),
    ],
)
async def test_device_search(sandbox: Sandbox, where: DeviceFilter, page: PageArgs) -> None:
    token = await sandbox.token("alice")
    principal = await sandbox.principal("alice")
    remote = await in_request(bearer(token), sandbox.flow, lambda c: c.devices.search(principal, where, page))
    local = await sandbox.store.devices.search(principal, where, page)
    assert remote.total == local.total
    assert [flow_dump(d) for d in remote.items] == [await device_view(sandbox, d) for d in local.items]


async def test_devices_of_a_store_known_to_the_directory(sandbox: Sandbox) -> None:
    """The graph filters by a store it loaded from the local store: its row id, which the Flow
    client turns into the uid through the directory it was given."""
    token = await sandbox.token("alice")
    principal = await sandbox.principal("alice")
    acme = [s.id for s in (await sandbox.store.stores.page_by_tenant([TENANT], PageArgs(limit=10)))[TENANT].items]
    where = DeviceFilter(tenant_id=TENANT, store_id=acme[0], status=DeviceStatus.ACTIVE)
    page = PageArgs(limit=10)
    remote = await in_request(bearer(token), sandbox.flow, lambda c: c.devices.search(principal, where, page))
    local = await sandbox.store.devices.search(principal, where, page)
    assert remote.total == local.total
    assert [flow_dump(d) for d in remote.items] == [await device_view(sandbox, d) for d in local.items]
    # Another tenant's store matches nothing (and is not asked about).
    elsewhere = DeviceFilter(tenant_id=TENANT, store_id=2)
    assert (
        await in_request(bearer(token), sandbox.flow, lambda c: c.devices.search(principal, elsewhere, page))
    ).total == 0
    assert (await sandbox.store.devices.search(principal, elsewhere, page)).total == 0
