"""The local store on a real SQLite file: the demo seed, batched paging and the write
rules the upstream APIs enforce (devices, licences, reviews, download tokens). Nothing is mocked.

One seeded store serves the module; tests that write pick rows nobody else asserts on.
"""

from __future__ import annotations

import datetime as dt
import inspect
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from facade.auth import Principal, TokenKind, TokenService
from facade.backends import interfaces
from facade.backends.local import LocalStore, create_engine
from facade.backends.local import tables as t
from facade.backends.local.base import _driven, dicts, engines, loop_engine, read_dicts, reading
from facade.backends.local.migrate import migrate
from facade.backends.local.seed import (
    DEMO_PASSWORD,
    SeedSummary,
    StoreNotEmpty,
    is_empty,
    seed,
    seed_if_empty,
)
from facade.errors import BadUserInput, Conflict, Forbidden, NotFound, Unauthenticated
from facade.manifests import manifest_errors
from facade.models import (
    Address,
    Category,
    DeviceAppType,
    DeviceFilter,
    DeviceStatus,
    PageArgs,
    SortDirection,
    TenantRole,
)
from facade.settings import Settings

SEED_PRODUCTS = 50


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def make_tokens(tmp: Path) -> TokenService:
    settings = Settings(
        jwt_secret="test-secret-not-for-production-0123456789abcdef",
        jwt_secret_file=tmp / "secret",
        database_url=sqlite_url(tmp / "unused.db"),
    )
    return TokenService(settings)


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-store")


@pytest.fixture(scope="module")
def tokens(tmp_module: Path) -> TokenService:
    return make_tokens(tmp_module)


@pytest.fixture(scope="module")
async def seeded(tmp_module: Path, tokens: TokenService) -> AsyncIterator[tuple[LocalStore, SeedSummary]]:
    store = await LocalStore.open(sqlite_url(tmp_module / "store.db"), tokens)
    summary = await seed(store.engine, products=SEED_PRODUCTS)
    yield store, summary
    await store.aclose()


@pytest.fixture(scope="module")
def store(seeded: tuple[LocalStore, SeedSummary]) -> LocalStore:
    return seeded[0]


@pytest.fixture(scope="module")
def summary(seeded: tuple[LocalStore, SeedSummary]) -> SeedSummary:
    return seeded[1]


class Statements:
    """Counts the SQL statements an engine sends (transaction control and PRAGMAs aside)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sent: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK")):
            self.sent.append(statement)


@pytest.fixture
def statements(store: LocalStore) -> Iterator[Statements]:
    counter = Statements(store.engine)
    for each in engines(store.engine):
        event.listen(each, "before_cursor_execute", counter)
    yield counter
    for each in engines(store.engine):
        event.remove(each, "before_cursor_execute", counter)


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def user_principal(store: LocalStore, tokens: TokenService, login: str) -> Principal:
    result = await store.users.login(login, DEMO_PASSWORD)
    return tokens.verify(result.token.token)


# ---------------------------------------------------------------------------------------------
# Seed


async def test_seed_fills_every_table_consistently(tmp_path: Path) -> None:
    # A store of its own: the module's store is written to by other tests.
    engine = create_engine(sqlite_url(tmp_path / "seeded.db"))
    try:
        await migrate(engine)
        summary = await seed(engine, products=SEED_PRODUCTS)
        await _assert_seeded_consistently(engine, summary)
    finally:
        await engine.dispose()


async def _assert_seeded_consistently(engine: AsyncEngine, summary: SeedSummary) -> None:
    for table in t.metadata.sorted_tables:
        if table.name != "download_tokens":
            assert summary.counts[table.name] == await count(engine, table), table.name
    assert summary.counts["tenants"] == 3
    assert summary.counts["products"] == SEED_PRODUCTS
    assert summary.counts["users"] == 20
    assert summary.counts["stores"] == 3
    assert summary.counts["tills"] == 6

    async with engine.connect() as conn:
        apps = (await conn.execute(select(t.products).where(t.products.c.is_app))).mappings().all()
        manifests = (await conn.execute(select(t.app_manifests))).mappings().all()
        products = (await conn.execute(select(t.products))).mappings().all()
        ratings = (
            await conn.execute(
                select(t.reviews.c.product_id, func.count(), func.sum(t.reviews.c.rating)).group_by(
                    t.reviews.c.product_id
                )
            )
        ).all()

    assert len(apps) == 13  # a quarter of the products
    assert any(not app["is_official"] for app in apps)
    assert {m["app"] for m in manifests} == {app["app_id"] for app in apps}
    for manifest in manifests:
        assert manifest_errors(manifest["manifest"]) == [], manifest["app"]
        assert manifest["manifest"]["_schemaVersion"] == manifest["schema_version"]
    assert {m["schema_version"] for m in manifests} == {"2.0.0", "3.0.0"}

    by_product = {product_id: (n, total) for product_id, n, total in ratings}
    for product in products:
        n, total = by_product.get(product["id"], (0, 0))
        assert product["rating_count"] == n
        expected = f"{total / n:.2f}" if n else "0.00"
        assert abs(float(product["average_rating"]) - float(expected)) < 0.006


async def test_demo_logins_work_with_the_demo_password(
    store: LocalStore, summary: SeedSummary, tokens: TokenService
) -> None:
    assert {d.login for d in summary.demo_logins} >= {"alice", "bob", "carol", "dave"}

    alice = await store.users.login("alice@acme-retail.example", DEMO_PASSWORD)
    principal = tokens.verify(alice.token.token)
    assert (principal.user_id, principal.tenant_id, principal.is_tenant_admin) == (
        alice.user.id,
        "acme-retail",
        True,
    )
    assert alice.user.is_vendor
    dave = await store.users.login("dave", DEMO_PASSWORD)
    assert dave.user.tenant_id is None
    assert await store.users.validate_token(dave.token.token)
    assert not await store.users.validate_token(dave.token.token + "x")


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("nobody", DEMO_PASSWORD)])
async def test_wrong_login_gives_one_message(store: LocalStore, username: str, password: str) -> None:
    with pytest.raises(Unauthenticated, match="The username or password is incorrect."):
        await store.users.login(username, password)


async def test_seed_is_reproducible(tmp_path: Path) -> None:
    names: list[list[str]] = []
    for name in ("one.db", "two.db"):
        engine = create_engine(sqlite_url(tmp_path / name))
        try:
            await migrate(engine)
            await seed(engine, products=30, random_seed=7)
            async with engine.connect() as conn:
                names.append(list((await conn.execute(select(t.products.c.name).order_by(t.products.c.id))).scalars()))
        finally:
            await engine.dispose()

    assert len(names[0]) == 30
    assert names[0] == names[1]


async def test_seed_only_fills_an_empty_store(store: LocalStore) -> None:
    before = await count(store.engine, t.products)

    assert not await is_empty(store.engine)
    with pytest.raises(StoreNotEmpty):
        await seed(store.engine, products=5)
    assert await seed_if_empty(store.engine, products=5) is None
    assert await count(store.engine, t.products) == before


# ---------------------------------------------------------------------------------------------
# Reads


async def test_pages_of_ten_parents_are_one_statement(store: LocalStore, statements: Statements) -> None:
    async with store.engine.connect() as conn:
        reviews = (await conn.execute(select(t.reviews.c.id, t.reviews.c.product_id, t.reviews.c.rating))).all()
    product_ids = list(range(1, 11))
    page = PageArgs(limit=2, offset=1, sort="rating", direction=SortDirection.DESC)
    statements.sent.clear()

    pages = await store.reviews.page_by_product(product_ids, page)

    assert len(statements.sent) == 1, statements.sent
    for product_id in product_ids:
        # The same order SQL was asked for: rating descending, then id descending.
        mine = sorted(((rating, rid) for rid, pid, rating in reviews if pid == product_id), reverse=True)
        got = pages[product_id]
        assert got.total == len(mine)
        assert [(r.rating, r.id) for r in got.items] == mine[1:3]
        assert all(r.product_id == product_id for r in got.items)


@pytest.mark.parametrize(
    "page",
    [
        PageArgs(limit=2, offset=1, sort="rating", direction=SortDirection.DESC),
        PageArgs(limit=3),
        PageArgs(limit=50, sort="created_at"),
        PageArgs(limit=2, offset=2, sort="created_at", direction=SortDirection.DESC),
        PageArgs(limit=5, offset=500),
        PageArgs(limit=0),
    ],
    ids=["rating-desc", "first", "all", "created-desc", "past-the-end", "none"],
)
async def test_a_page_of_one_parent_is_its_page_among_many(
    store: LocalStore, statements: Statements, page: PageArgs
) -> None:
    # One parent reads its page with LIMIT/OFFSET (base.Listing.of_parent), a batch with a window
    # over every parent: the two must agree on the items, their order and the total, also for a
    # parent without children and a page past the end.
    product_ids = [*range(1, 11), 99_999]
    among = await store.reviews.page_by_product(product_ids, page)

    for product_id in product_ids:
        statements.sent.clear()
        alone = (await store.reviews.page_by_product([product_id], page))[product_id]

        assert [r.id for r in alone.items] == [r.id for r in among[product_id].items]
        assert (alone.total, alone.offset) == (among[product_id].total, among[product_id].offset)
        # An empty page past the start (or of no items) asks the window for its total.
        assert len(statements.sent) == (2 if not alone.items and (page.offset or not page.limit) else 1)
    assert any(p.total for p in among.values())


async def test_records_read_without_validation_equal_validated_ones(store: LocalStore) -> None:
    # The store builds records from its rows without validating them again (base.construct);
    # what the graph gets must be what validation would have made: enums, aware datetimes,
    # nested records, defaults for the fields a row lacks.
    products = (await store.products.page_all(interfaces.ProductQuery(), PageArgs(limit=100))).items
    stores = await store.stores.get_many([p.store_id for p in products])
    users = await store.users.get_many([p.owner_id for p in products if p.owner_id is not None])
    reviews = await store.reviews.page_by_product([p.id for p in products], PageArgs(limit=3))
    tills = await store.stores.tills_by_store(list(stores))
    tenants = await store.tenants.get_many([s.tenant_id for s in stores.values()])
    devices = await store.devices.page_by_store(list(stores), PageArgs(limit=10))
    records: list[Any] = [
        *(d for page in devices.values() for d in page.items),
        *products,
        *stores.values(),
        *users.values(),
        *(r for page in reviews.values() for r in page.items),
        *(till for found in tills.values() for till in found),
        *tenants.values(),
    ]
    assert products
    assert stores
    assert users
    assert any(reviews.values())
    assert any(page.items for page in devices.values())

    # A product's JSON columns are decoded when first read, not with the row (products.build_product).
    assert not any("categories" in vars(p) or "meta_data" in vars(p) for p in products)
    for record in records:
        validated = type(record).model_validate(record.model_dump())
        assert record == validated
        assert record.model_dump() == validated.model_dump()
    assert all(r.created_at.tzinfo is not None for r in records if hasattr(r, "created_at"))
    assert all(isinstance(u.tenant_role, TenantRole) for u in users.values())
    assert all(isinstance(d.status, DeviceStatus) for page in devices.values() for d in page.items)
    assert all(isinstance(c, Category) for p in products for c in p.categories)
    assert all(isinstance(s.address, Address) for s in stores.values())
    assert all(p.embedded_store is None for p in products)


async def test_pages_sort_prices_as_numbers(store: LocalStore) -> None:
    page = await store.products.page_all(
        interfaces.ProductQuery(), PageArgs(limit=100, sort="price", direction=SortDirection.DESC)
    )

    prices = [float(p.price) for p in page.items]
    assert prices == sorted(prices, reverse=True)
    assert page.total == SEED_PRODUCTS


async def test_unknown_sort_key_is_bad_input(store: LocalStore) -> None:
    with pytest.raises(BadUserInput, match="sort must be one of"):
        await store.products.page_all(interfaces.ProductQuery(), PageArgs(limit=5, sort="colour"))


async def test_get_many_returns_only_what_exists(store: LocalStore, statements: Statements) -> None:
    found = await store.products.get_many([1, 2, 99_999])

    assert set(found) == {1, 2}
    assert len(statements.sent) == 1


async def test_subscription_page_costs_two_statements(
    store: LocalStore, summary: SeedSummary, tokens: TokenService, statements: Statements
) -> None:
    dave = await user_principal(store, tokens, "dave")
    statements.sent.clear()

    pages = await store.subscriptions.page_by_user([dave.user_id or 0], None, PageArgs(limit=10))

    assert len(statements.sent) == 2
    subscriptions = pages[dave.user_id or 0].items
    assert subscriptions
    assert all(s.line_items for s in subscriptions)
    purchased = await store.products.page_purchased(
        [dave.user_id or 0], interfaces.ProductQuery(apps_only=True), PageArgs(limit=10)
    )
    assert purchased[dave.user_id or 0].items
    assert all(p.is_app for p in purchased[dave.user_id or 0].items)


# ---------------------------------------------------------------------------------------------
# Writes


async def test_review_updates_the_products_rating(store: LocalStore, tokens: TokenService) -> None:
    dave = await user_principal(store, tokens, "dave")
    product_id = 7
    before = (await store.reviews.page_by_product([product_id], PageArgs(limit=100)))[product_id]

    review = await store.reviews.create(dave, product_id, "  Works well.  ", 5)

    assert (review.reviewer, review.reviewer_email) == ("Dave Okafor", "dave@customer.example")
    assert (review.review, review.rating, review.status) == ("Works well.", 5, "approved")
    product = (await store.products.get_many([product_id]))[product_id]
    ratings = [r.rating for r in before.items] + [5]
    assert product.rating_count == len(ratings)
    assert product.average_rating == f"{sum(ratings) / len(ratings):.2f}"


@pytest.mark.parametrize(
    ("product_id", "text", "rating", "error"),
    [
        (7, "Fine", 0, BadUserInput),
        (7, "Fine", 6, BadUserInput),
        (7, "   ", 4, BadUserInput),
        (99_999, "Fine", 4, NotFound),
    ],
)
async def test_invalid_review_writes_nothing(
    store: LocalStore,
    tokens: TokenService,
    product_id: int,
    text: str,
    rating: int,
    error: type[Exception],
) -> None:
    dave = await user_principal(store, tokens, "dave")
    before = await count(store.engine, t.reviews)

    with pytest.raises(error):
        await store.reviews.create(dave, product_id, text, rating)

    assert await count(store.engine, t.reviews) == before


async def test_duplicate_serial_writes_nothing(store: LocalStore, tokens: TokenService) -> None:
    alice = await user_principal(store, tokens, "alice")
    device = await store.licenses.register_device(
        alice, 791, "Kontron", "KBox A-150-WKL", "SN-TEST-0001", dt.date(2025, 1, 1)
    )
    assert (device.owner_id, device.tenant_id, device.license_status) == (
        alice.user_id,
        "acme-retail",
        0,
    )
    assert (await store.licenses.by_device([device.id]))[device.id].user_id == alice.user_id
    devices, licenses = await count(store.engine, t.devices), await count(store.engine, t.licenses)

    # A duplicate serial is refused as the contract does (422): BadUserInput.
    with pytest.raises(BadUserInput, match="serial number"):
        await store.licenses.register_device(alice, 802, "Siemens", "IOT2050", "SN-TEST-0001", dt.date(2025, 2, 1))
    with pytest.raises(BadUserInput):
        await store.licenses.register_device(
            alice, 802, "Siemens", "IOT2050", "SN-TEST-0002", dt.date.today() + dt.timedelta(days=2)
        )

    assert await count(store.engine, t.devices) == devices
    assert await count(store.engine, t.licenses) == licenses


async def test_device_link_then_login(store: LocalStore, summary: SeedSummary, tokens: TokenService) -> None:
    code = summary.device_codes["acme-retail"]

    linked = await store.devices.link(code, "flow-retail-client", "1002", DEMO_PASSWORD, "Linux till 6.1")

    assert linked.device.status is DeviceStatus.ACTIVE
    assert linked.device.system_information == "Linux till 6.1"
    device_principal = tokens.verify(linked.device_token.token)
    assert (device_principal.kind, device_principal.device_id) == (
        TokenKind.DEVICE,
        linked.device.id,
    )
    with pytest.raises(Conflict, match="already linked"):
        await store.devices.link(code, "flow-retail-client", "1002", DEMO_PASSWORD, None)

    session = await store.devices.login(device_principal, "1002", DEMO_PASSWORD)
    access = tokens.verify(session.access_token.token)
    assert (access.kind, access.user_id, access.device_id) == (
        TokenKind.ACCESS,
        session.user.id,
        linked.device.id,
    )
    assert session.user.login == "bob"
    users = await store.devices.users(device_principal, PageArgs(limit=50), None)
    assert "bob" in {u.login for u in users.items}
    with pytest.raises(Unauthenticated):
        await store.devices.login(device_principal, "1002", "wrong")


async def test_blocked_device_cannot_link(store: LocalStore) -> None:
    async with store.engine.connect() as conn:
        code = (
            await conn.execute(
                select(t.devices.c.device_code).where(
                    t.devices.c.status == "BLOCKED", t.devices.c.tenant_id == "acme-retail"
                )
            )
        ).scalar()
    assert code is not None

    with pytest.raises(Conflict, match="blocked"):
        await store.devices.link(code, "flow-retail-assistant", "1002", DEMO_PASSWORD, None)
    with pytest.raises(NotFound):
        await store.devices.link("NOPE-NOPE", "flow-retail-client", "1002", DEMO_PASSWORD, None)


async def test_devices_of_another_tenant_are_out_of_reach(store: LocalStore, tokens: TokenService) -> None:
    carol = await user_principal(store, tokens, "carol")
    alice = await user_principal(store, tokens, "alice")
    acme = await store.devices.search(alice, DeviceFilter(tenant_id="acme-retail"), PageArgs(limit=100))

    assert acme.items
    assert all(d.tenant_id == "acme-retail" for d in acme.items)
    with pytest.raises(Forbidden):
        await store.devices.search(carol, DeviceFilter(tenant_id="acme-retail"), PageArgs(limit=5))
    with pytest.raises(NotFound):
        await store.devices.get(carol, "nordic-bakeries", acme.items[0].id)


async def test_admin_creates_updates_and_deletes_a_device(store: LocalStore, tokens: TokenService) -> None:
    alice = await user_principal(store, tokens, "alice")
    acme = (await store.stores.page_by_tenant(["acme-retail"], PageArgs(limit=1)))["acme-retail"]
    shop = acme.items[0]
    till_1, till_2 = (await store.stores.tills_by_store([shop.id]))[shop.id]

    created = await store.devices.create(
        alice, "acme-retail", shop.uid, till_1.id, DeviceAppType.ASSISTANT, "Back office"
    )

    assert (created.status, created.store_id, created.till_id) == (
        DeviceStatus.READY_TO_LINK,
        shop.id,
        till_1.id,
    )
    assert created.device_code
    changes = {"status": "BLOCKED", "name": "Spare", "till_uid": till_2.id}
    updated = await store.devices.update(alice, "acme-retail", created.id, changes)
    assert (updated.status, updated.name, updated.till_id) == (
        DeviceStatus.BLOCKED,
        "Spare",
        till_2.id,
    )
    assert await store.devices.get(alice, "acme-retail", created.id) == updated
    nordic = (await store.stores.page_by_tenant(["nordic-bakeries"], PageArgs(limit=1)))["nordic-bakeries"].items[0]
    with pytest.raises(NotFound):
        await store.devices.update(alice, "acme-retail", created.id, {"store_uid": nordic.uid})
    with pytest.raises(BadUserInput):
        await store.devices.update(alice, "acme-retail", created.id, {"colour": "red"})
    assert await store.devices.get(alice, "acme-retail", created.id) == updated

    await store.devices.delete(alice, "acme-retail", created.id)
    with pytest.raises(NotFound):
        await store.devices.get(alice, "acme-retail", created.id)


async def test_deleting_a_device_keeps_its_license_unbound(store: LocalStore, tokens: TokenService) -> None:
    alice = await user_principal(store, tokens, "alice")
    device = await store.licenses.register_device(
        alice, 815, "Advantech", "UNO-2271G", "SN-TEST-DELETE", dt.date(2024, 5, 1)
    )
    license_id = (await store.licenses.by_device([device.id]))[device.id].id

    await store.devices.delete(alice, "acme-retail", device.id)

    assert (await store.licenses.get_many([license_id]))[license_id].device_id is None


async def test_registered_device_is_authorized_into_a_store(store: LocalStore, tokens: TokenService) -> None:
    carol = await user_principal(store, tokens, "carol")
    alice = await user_principal(store, tokens, "alice")
    nordic = (await store.stores.page_by_tenant(["nordic-bakeries"], PageArgs(limit=1)))["nordic-bakeries"].items[0]
    till = (await store.stores.tills_by_store([nordic.id]))[nordic.id][0]
    registration = await store.devices.register("kiosk-client", "Kiosk", "Linux kiosk 6.1")
    code = registration.device_code

    assert (registration.device.status, registration.expires_in, registration.interval) == (
        DeviceStatus.READY_TO_LINK,
        900,
        5,
    )
    with pytest.raises(Forbidden):
        await store.devices.authorize(alice, code, "nordic-bakeries", nordic.uid, None, None)
    with pytest.raises(NotFound):
        await store.devices.authorize(carol, code, "nordic-bakeries", "no-such-store", None, None)
    device = await store.devices.authorize(carol, code.lower(), "nordic-bakeries", nordic.uid, till.id, "Front kiosk")
    assert (device.tenant_id, device.store_id, device.till_id, device.status, device.name) == (
        "nordic-bakeries",
        nordic.id,
        till.id,
        DeviceStatus.ACTIVE,
        "Front kiosk",
    )
    with pytest.raises(Conflict):
        await store.devices.authorize(carol, code, "nordic-bakeries", nordic.uid, None, None)
    with pytest.raises(BadUserInput):
        await store.devices.register("  ", None, None)


async def test_license_activation_by_key_then_by_session(
    store: LocalStore, summary: SeedSummary, tokens: TokenService
) -> None:
    key = summary.free_license_keys["dave"][0]

    first = await store.licenses.activate(None, key, None)

    assert (first.already_active, first.license_key) == (False, key)
    assert str(uuid.UUID(first.session.id)) == first.session.id
    again = await store.licenses.activate(None, key, first.session.id)
    assert (again.already_active, again.session, again.license_key) == (True, first.session, None)
    assert await store.licenses.validate(first.session.id) == (True, first.session)
    with pytest.raises(Forbidden, match="already active on another device"):
        await store.licenses.activate(None, key, None)
    assert await store.licenses.validate(str(uuid.uuid4())) == (False, None)
    # Signed in, without a key: the user's next free licence.
    dave = await user_principal(store, tokens, "dave")
    by_user = await store.licenses.activate(dave, None, None)
    assert by_user.license_key == summary.free_license_keys["dave"][1]
    # Nothing to activate with: refused as the API refuses it (403); the graph answers
    # UNAUTHENTICATED before asking when there is no credential at all.
    with pytest.raises(Forbidden):
        await store.licenses.activate(None, None, None)


async def test_unofficial_app_gets_no_download_token(store: LocalStore, summary: SeedSummary) -> None:
    session = (await store.licenses.activate(None, summary.free_license_keys["alice"][0], None)).session
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(select(t.products.c.app_id, t.products.c.is_official).where(t.products.c.is_app))
        ).all()
    unofficial = next(app for app, official in rows if not official)
    official = next(app for app, official in rows if official)

    tokens_before = await count(store.engine, t.download_tokens)

    result = await store.apps.create_token(session.id, unofficial, "1.0.0")

    assert (result.token, result.session) == (None, session)
    assert await count(store.engine, t.download_tokens) == tokens_before
    issued = await store.apps.create_token(session.id, official, "1.0.0")
    assert issued.token is not None
    assert issued.token.username.startswith("dl-")
    assert await count(store.engine, t.download_tokens) == tokens_before + 1
    with pytest.raises(Forbidden, match="Session not found"):
        await store.apps.create_token(str(uuid.uuid4()), official, "1.0.0")
    manifest = await store.apps.download_manifest(session.id, official, "1.0.0", None, "2.9.0")
    assert (manifest.app, manifest.manifest["app"]) == (official, official)


# ---------------------------------------------------------------------------------------------
# Shape


@pytest.mark.parametrize(
    ("protocol", "attribute"),
    [
        (interfaces.TenantBackend, "tenants"),
        (interfaces.UserBackend, "users"),
        (interfaces.StoreBackend, "stores"),
        (interfaces.ProductBackend, "products"),
        (interfaces.ReviewBackend, "reviews"),
        (interfaces.SubscriptionBackend, "subscriptions"),
        (interfaces.DeviceBackend, "devices"),
        (interfaces.LicenseBackend, "licenses"),
        (interfaces.AppBackend, "apps"),
    ],
)
def test_repositories_match_the_interfaces(store: LocalStore, protocol: type, attribute: str) -> None:
    repository = getattr(store, attribute)
    for name, member in vars(protocol).items():
        if name.startswith("_") or not inspect.iscoroutinefunction(member):
            continue
        implemented = getattr(repository, name)
        assert inspect.iscoroutinefunction(implemented), name
        wanted = [p.name for p in inspect.signature(member).parameters.values()][1:]
        assert list(inspect.signature(implemented).parameters) == wanted, name


async def test_a_hot_read_run_on_the_driver_answers_what_sqlalchemy_answers(store: LocalStore) -> None:
    # A statement read a second time runs on SQLite's driver (base._Driven): the same rows,
    # keys and values (aware datetimes, booleans from integers) as SQLAlchemy's execution.
    by_ids = select(t.users).where(t.users.c.id.in_(bindparam("keys", expanding=True))).order_by(t.users.c.id)
    of_tenant = t.stores.select().where(t.stores.c.tenant_id == bindparam("tenant")).limit(bindparam("n"))
    cases: list[tuple[Any, dict[str, Any]]] = [
        (by_ids, {"keys": list(range(1, 40))}),
        (by_ids, {"keys": [1]}),
        (by_ids, {"keys": []}),  # an empty IN list: SQLAlchemy writes that one
        (of_tenant, {"tenant": "acme-retail", "n": 3}),
    ]
    async with reading(store.engine) as conn:
        for statement, params in cases:
            expected = dicts(await conn.execute(statement, params))
            for _ in range(2):  # the first read is SQLAlchemy's, the second the driver's
                found = await read_dicts(conn, statement, params)
                assert found == expected
                assert [list(row.items()) for row in found] == [list(row.items()) for row in expected]
        users = await read_dicts(conn, by_ids, {"keys": [1, 2, 3]})
    sync = loop_engine(store.engine)
    assert sync is not None
    assert _driven(by_ids, sync.dialect) is not None  # it did run on the driver
    assert len(users) == 3
    assert all(user["created_at"].tzinfo is not None for user in users)
    assert all(type(user["is_vendor"]) is bool for user in users)
