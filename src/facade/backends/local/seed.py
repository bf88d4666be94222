"""Demo data for an empty local store: three businesses (a retail chain, a bakery chain and an
industrial edge-device company), their stores, tills, staff and Flow Retail devices, and a FLECS
marketplace of products and apps with vendors, customers, subscriptions, reviews, licensed edge
devices and app manifests.

The same `random_seed` gives the same data (ids, names, codes, keys), whatever the clock: times
are offsets from a fixed date, except licence activations, which are relative to now so the
active ones stay valid.

Every seeded user's password is `facade-demo`. Well-known logins:

    alice   admin of acme-retail (user code 1001) and a marketplace vendor; owns FLECS devices
            and two free licences
    bob     cashier at acme-retail, user code 1002, has subscriptions
    carol   admin of nordic-bakeries (user code 1001)
    erin    admin of flecs-industrial (user code 1001)
    dave    a customer without tenant: subscriptions (apps among them), FLECS devices and two
            free licences

Sized for load tests: rows are built in memory and written with bulk INSERTs in one transaction,
the demo password is hashed once, and manifests are validated in a way that scales
(`_ManifestCheck`). 100,000 products are about 1.1 million rows, 700,000 of them issue 11's Afosto
data and join keys (`_AfostoBuilder`): 100 s on SQLite on this project's shared 2-vCPU machine,
where the 400,000 rows before the Afosto data took 57 s (1,200 products: 1.2 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import itertools
import json
import random
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import Table, exists, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facade.auth import hash_password
from facade.backends.local import tables as t
from facade.backends.local.commerce import order_number
from facade.backends.local.devices import new_device_code, new_device_id
from facade.backends.local.licenses import LICENSE_VALIDITY, new_license_key, new_session_id
from facade.backends.local.reviews import format_rating
from facade.manifests import manifest_errors, schema_name_for

DEMO_PASSWORD = "facade-demo"
# Seeded times run from here over about a year (an order up to 360 days on): a fixed start keeps
# the seed the same on every run, and this one keeps every seeded time in the past (2026's start
# put orders of late December 2026 into a store seeded on its first day).
BASE_TIME = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_CHUNK = 5000
_PG_LOCK_KEY = 0x73656564  # "seed"


class StoreNotEmpty(RuntimeError):
    """The seed only fills an empty store: it never mixes demo rows into real ones."""


@dataclass(frozen=True, slots=True)
class DemoLogin:
    login: str
    email: str
    password: str
    description: str


@dataclass(frozen=True, slots=True)
class AfostoClient:
    """The sandbox's OAuth client of one Afosto tenant (`POST /iam/oauth/authorize`): a demo
    credential, derived from the client id (`sandbox_client_secret`), never a real secret."""

    afosto_tenant_id: str
    client_id: str
    client_secret: str


def sandbox_client_secret(client_id: str) -> str:
    """The sandbox OAuth client secret of `client_id`: the same in every seeded store and in the
    sandbox, which recomputes it; marked `sandbox-` so nobody mistakes it for a real one."""
    digest = hashlib.sha256(f"facade sandbox afosto oauth client {client_id}".encode()).hexdigest()
    return f"sandbox-{digest[:32]}"


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What the seed wrote: rows per table, and the handles a demo or a test starts from."""

    counts: dict[str, int]
    demo_logins: tuple[DemoLogin, ...]
    # tenant id -> the device code of a READY_TO_LINK device in its first store (for linking).
    device_codes: dict[str, str] = field(default_factory=dict)
    # login -> licence keys not bound to a device nor activated yet.
    free_license_keys: dict[str, list[str]] = field(default_factory=dict)
    # facade tenant id -> its Afosto tenant id (every seeded tenant is linked), in seed order:
    # the first is the sandbox's default Afosto tenant.
    afosto_tenants: dict[str, str] = field(default_factory=dict)
    # Afosto tenant id -> the sandbox's OAuth client for it (client_id `afosto-<facade tenant>`).
    afosto_clients: dict[str, AfostoClient] = field(default_factory=dict)


async def is_empty(engine: AsyncEngine) -> bool:
    """True when no table of the store holds a row."""
    async with engine.connect() as conn:
        return await _is_empty(conn)


async def seed(engine: AsyncEngine, *, products: int = 200, random_seed: int = 42) -> SeedSummary:
    """Fills an empty, migrated store; StoreNotEmpty (and nothing written) if it holds data."""
    if products < 0:
        raise ValueError("products must not be negative")
    # Off the event loop: scrypt is slow on purpose (so it runs once, for every user), and
    # building 100,000 products takes seconds of CPU.
    password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
    data = await asyncio.to_thread(_Builder(products, random_seed, password_hash).build)
    async with engine.begin() as conn:
        await _lock(conn)
        if not await _is_empty(conn):
            raise StoreNotEmpty("The local store already holds data; seed only fills an empty one.")
        for table in _INSERT_ORDER:
            for chunk in _chunks(data.rows[table.name], _CHUNK):
                await conn.execute(table.insert(), chunk)
        if conn.dialect.name == "postgresql":
            await _advance_sequences(conn)
    return data.summary()


async def seed_if_empty(engine: AsyncEngine, *, products: int = 200, random_seed: int = 42) -> SeedSummary | None:
    """Seeds an empty store; None when it already held data (or another process just seeded it)."""
    if not await is_empty(engine):
        return None
    try:
        return await seed(engine, products=products, random_seed=random_seed)
    except StoreNotEmpty:
        return None


# ---------------------------------------------------------------------------------------------
# Writing


_INSERT_ORDER: tuple[Table, ...] = (
    t.tenants,
    t.users,
    t.stores,
    t.store_access,
    t.tills,
    t.products,
    t.subscriptions,
    t.line_items,
    t.reviews,
    t.devices,
    t.licenses,
    t.app_manifests,
    # Issue 11: Afosto's data (local mode's Afosto), then the join keys to it.
    t.afosto_addresses,
    t.afosto_channels,
    t.afosto_price_groups,
    t.afosto_prices,
    t.afosto_locations,
    t.afosto_stock,
    t.afosto_customers,
    t.afosto_orders,
    t.afosto_order_lines,
    t.afosto_order_line_keys,  # none seeded: a seeded order's lines came with no key
    t.afosto_print_hubs,
    t.afosto_printers,
    t.afosto_users,
    t.afosto_plans,
    t.afosto_tasks,
    t.afosto_tenant_links,
    t.store_sales_channels,
    t.store_stock_locations,
    t.product_skus,
    t.device_print_hubs,
)

_SERIAL_TABLES = (
    "users",
    "stores",
    "products",
    "reviews",
    "subscriptions",
    "line_items",
    "licenses",
)


async def _is_empty(conn: AsyncConnection) -> bool:
    for table in t.metadata.sorted_tables:
        if (await conn.execute(select(exists().select_from(table)))).scalar():
            return False
    return True


async def _lock(conn: AsyncConnection) -> None:
    # Workers starting together: one seeds, the others wait and then find the store full.
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


async def _advance_sequences(conn: AsyncConnection) -> None:
    # The seed writes explicit ids (rows refer to each other before any exists); PostgreSQL's
    # sequences do not see those, so move each past its table's largest id.
    for name in _SERIAL_TABLES:
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )


# ---------------------------------------------------------------------------------------------
# What to write


@dataclass(frozen=True, slots=True)
class _Business:
    id: str
    name: str
    brand: str
    country: str
    domain: str
    admin: tuple[str, str, str]  # login, first name, last name
    cashiers: tuple[tuple[str, str, str], ...]  # the well-known ones first
    cities: tuple[tuple[str, str, str], ...]  # city, state, zip prefix
    streets: tuple[str, ...]
    goods: tuple[tuple[str, ...], tuple[str, ...]]  # adjectives, nouns
    categories: tuple[tuple[int, str, str], ...]


BUSINESSES = (
    _Business(
        id="acme-retail",
        name="ACME Retail B.V.",
        brand="ACME",
        country="NL",
        domain="acme-retail.example",
        admin=("alice", "Alice", "Jansen"),
        cashiers=(("bob", "Bob", "de Vries"),),
        cities=(
            ("Amsterdam", "Noord-Holland", "10"),
            ("Rotterdam", "Zuid-Holland", "30"),
            ("Utrecht", "Utrecht", "35"),
            ("Eindhoven", "Noord-Brabant", "56"),
            ("Groningen", "Groningen", "97"),
            ("Haarlem", "Noord-Holland", "20"),
        ),
        streets=(
            "Kalverstraat",
            "Damrak",
            "Coolsingel",
            "Oudegracht",
            "Stationsplein",
            "Grote Markt",
        ),
        goods=(
            ("Compact", "Wireless", "Stainless", "Classic", "Smart", "Eco", "Premium", "Portable"),
            (
                "Kettle",
                "Headphones",
                "Desk Lamp",
                "Backpack",
                "Water Bottle",
                "Toaster",
                "Power Bank",
                "Umbrella",
            ),
        ),
        categories=(
            (31, "Household", "household"),
            (32, "Electronics", "electronics"),
            (33, "Outdoor", "outdoor"),
        ),
    ),
    _Business(
        id="nordic-bakeries",
        name="Nordic Bakeries AB",
        brand="Nordic Bakeries",
        country="SE",
        domain="nordic-bakeries.example",
        admin=("carol", "Carol", "Lindqvist"),
        cashiers=(),
        cities=(
            ("Stockholm", "Stockholms län", "11"),
            ("Göteborg", "Västra Götalands län", "41"),
            ("Malmö", "Skåne län", "21"),
            ("Uppsala", "Uppsala län", "75"),
            ("Lund", "Skåne län", "22"),
        ),
        streets=("Drottninggatan", "Kungsgatan", "Storgatan", "Vasagatan", "Södra Förstadsgatan"),
        goods=(
            ("Sourdough", "Cardamom", "Cinnamon", "Rye", "Seeded", "Almond", "Saffron", "Oat"),
            ("Loaf", "Bun", "Crispbread", "Cake", "Cookies", "Roll", "Tart", "Pastry"),
        ),
        categories=((41, "Bread", "bread"), (42, "Pastries", "pastries"), (43, "Cakes", "cakes")),
    ),
    _Business(
        id="flecs-industrial",
        name="FLECS Industrial GmbH",
        brand="FLECS Industrial",
        country="DE",
        domain="flecs-industrial.example",
        admin=("erin", "Erin", "Schmidt"),
        cashiers=(),
        cities=(
            ("München", "Bayern", "80"),
            ("Stuttgart", "Baden-Württemberg", "70"),
            ("Berlin", "Berlin", "10"),
            ("Hamburg", "Hamburg", "20"),
            ("Köln", "Nordrhein-Westfalen", "50"),
            ("Leipzig", "Sachsen", "04"),
        ),
        streets=(
            "Hauptstraße",
            "Bahnhofstraße",
            "Industriestraße",
            "Königstraße",
            "Schillerstraße",
        ),
        goods=(
            (
                "Rugged",
                "Fanless",
                "DIN-Rail",
                "Industrial",
                "Compact",
                "Managed",
                "Shielded",
                "Redundant",
            ),
            (
                "Edge Gateway",
                "Ethernet Switch",
                "Power Supply",
                "I/O Module",
                "Sensor Kit",
                "Cable Set",
                "HMI Panel",
                "Router",
            ),
        ),
        categories=(
            (51, "Hardware", "hardware"),
            (52, "Networking", "networking"),
            (53, "Automation", "automation"),
        ),
    ),
)

FIRST_NAMES = (
    "Anna",
    "Lucas",
    "Emma",
    "Noah",
    "Sofia",
    "Liam",
    "Mila",
    "Daan",
    "Julia",
    "Finn",
    "Elin",
    "Oskar",
    "Maja",
    "Hugo",
    "Lena",
    "Jonas",
    "Sara",
    "Felix",
    "Ida",
    "Max",
    "Nora",
    "Emil",
    "Lotte",
    "Sem",
)
LAST_NAMES = (
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Müller",
    "Schneider",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Hoffmann",
    "de Jong",
    "van Dijk",
    "Berg",
)
COMPANIES = (
    "",
    "",
    "Brightline Logistics",
    "Kestrel Foods",
    "Northwind Automation",
    "Orbit Labs",
    "Tidewater Energy",
)

# name, slug, reverse-domain prefix, editor port (None: no web UI), published ports
APPS: tuple[tuple[str, str, str, int | None, tuple[str, ...]], ...] = (
    ("MQTT Bridge", "mqtt-bridge", "tech.flecs", None, ("1883:1883",)),
    ("Node-RED", "node-red", "org.nodered", 1880, ()),
    ("OPC UA Server", "opcua-server", "tech.flecs", 8080, ("4840:4840",)),
    ("InfluxDB", "influxdb", "com.influxdata", 8086, ()),
    ("Grafana", "grafana", "com.grafana", 3000, ()),
    ("Modbus Gateway", "modbus-gateway", "tech.flecs", 8080, ("502:502",)),
    ("Mosquitto Broker", "mosquitto", "org.eclipse", None, ("1883:1883", "9001")),
    ("Edge Analytics", "edge-analytics", "io.anyviz", 8080, ()),
    ("Vision Inspector", "vision-inspector", "com.example", 5000, ()),
    ("Portainer", "portainer", "io.portainer", 9000, ()),
    ("Telegraf", "telegraf", "com.influxdata", None, ()),
    ("Cloud Adapter", "cloudadapter", "io.anyviz", 8080, ()),
)
APP_EDITIONS = ("", "", " Pro", " Lite", " Community", " Enterprise")
APP_CATEGORIES = (
    (15, "Apps", "apps"),
    (21, "Connectivity", "connectivity"),
    (22, "Data & Analytics", "data-analytics"),
    (23, "Visualisation", "visualisation"),
)
APP_PRICES = ("0.00", "0.00", "4.99", "9.99", "19.99", "49.00", "99.00")

# id, name, serial prefix, models
MANUFACTURERS = (
    (791, "Kontron", "KTR", ("KBox A-150-WKL", "KBox A-203-TGL")),
    (802, "Siemens", "SIE", ("SIMATIC IPC127E", "SIMATIC IOT2050")),
    (815, "Advantech", "ADV", ("UNO-2271G", "EPC-R3720")),
    (823, "Welotec", "WEL", ("RSAPC Arrakis Mk4", "EG500 Mk II")),
    (836, "Phoenix Contact", "PXC", ("EPC 1522", "PLCnext AXC F 2152")),
)

REVIEW_TEXTS = {
    1: (
        "Did not work for us.",
        "Stopped working after a week.",
        "Not what the description promised.",
    ),
    2: ("Works, but setup was painful.", "Average quality for the price."),
    3: ("Does the job.", "Okay, nothing special.", "Fine once configured."),
    4: ("Works well, would buy again.", "Solid and easy to set up.", "Good value."),
    5: (
        "Excellent, exactly what we needed.",
        "Runs flawlessly on all our sites.",
        "Five stars, great support.",
    ),
}

# Attribute options as precomputed combinations: one choice() per product instead of a sample().
_ARCHITECTURES = tuple(combo for n in (1, 2, 3) for combo in itertools.combinations(("amd64", "arm64", "armhf"), n))
_SIZES = tuple(itertools.combinations(("S", "M", "L", "XL"), 2))
_COLORS = tuple(itertools.combinations(("Black", "White", "Red", "Blue", "Green"), 2))

_REVIEW_COUNTS = (0, 1, 2, 3, 4, 5)
_REVIEW_COUNT_WEIGHTS = (35, 55, 70, 82, 92, 100)  # cumulative
_RATINGS = (1, 2, 3, 4, 5)
_RATING_WEIGHTS = (1, 2, 5, 10, 16)  # cumulative

POS_UNAME = "Linux {host} 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux"
ASSISTANT_UNAME = "Linux {host} 5.15.104-android14-11-g6d7d9a1 #1 SMP PREEMPT Mon Jan 8 2024 aarch64 Android"


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()


@functools.cache
def _slug(value: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in _ascii(value).lower())
    return "-".join(part for part in cleaned.split("-") if part)


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


@dataclass(slots=True)
class _Data:
    rows: dict[str, list[dict[str, Any]]]
    demo_logins: tuple[DemoLogin, ...]
    device_codes: dict[str, str]
    free_license_keys: dict[str, list[str]]
    afosto_tenants: dict[str, str]

    def summary(self) -> SeedSummary:
        clients = {}
        for tenant_id, afosto_tenant_id in self.afosto_tenants.items():
            client_id = f"afosto-{tenant_id}"
            clients[afosto_tenant_id] = AfostoClient(afosto_tenant_id, client_id, sandbox_client_secret(client_id))
        return SeedSummary(
            counts={name: len(rows) for name, rows in self.rows.items()},
            demo_logins=self.demo_logins,
            device_codes=dict(self.device_codes),
            free_license_keys={k: list(v) for k, v in self.free_license_keys.items()},
            afosto_tenants=dict(self.afosto_tenants),
            afosto_clients=clients,
        )


class _Builder:
    """Builds every row in memory, in an order that only depends on the random seed."""

    def __init__(self, products: int, random_seed: int, password_hash: str) -> None:
        self.n_products = products
        self.random_seed = random_seed
        self.rng = random.Random(random_seed)
        self.password_hash = password_hash
        self.rows: dict[str, list[dict[str, Any]]] = {table.name: [] for table in _INSERT_ORDER}
        self.users_by_login: dict[str, dict[str, Any]] = {}
        self.tenant_users: dict[str, list[dict[str, Any]]] = {}
        self.stores_by_tenant: dict[str, list[dict[str, Any]]] = {}
        self.vendor_ids: list[int] = []
        self.customer_ids: list[int] = []
        self.app_ids: list[int] = []
        self.app_set: set[int] = set()
        self.purchases: dict[int, set[int]] = {}  # product id -> buyers
        self.device_codes: dict[str, str] = {}
        self.free_license_keys: dict[str, list[str]] = {}
        self._used_codes: set[str] = set()
        self._used_device_ids: set[str] = set()
        self._used_keys: set[str] = set()

    def build(self) -> _Data:
        self._tenants()
        self._users()
        self._stores()
        self._products()
        self._subscriptions()
        self._reviews()
        self._pos_devices()
        self._edge_devices()
        self._manifests()
        afosto = _AfostoBuilder(self, random.Random(f"afosto:{self.random_seed}"))
        afosto.build()
        return _Data(self.rows, self._demo_logins(), self.device_codes, self.free_license_keys, afosto.tenants)

    # -- helpers ------------------------------------------------------------------------------

    def _at(self, max_days: int, after: dt.datetime = BASE_TIME) -> dt.datetime:
        # random() rather than randrange(): this runs for every row, and it is several times faster.
        return after + dt.timedelta(minutes=int(self.rng.random() * max_days * 24 * 60))

    def _device_id(self) -> str:
        while (candidate := new_device_id(self.rng)) in self._used_device_ids:
            pass
        self._used_device_ids.add(candidate)
        return candidate

    def _device_code(self) -> str:
        while (candidate := new_device_code(self.rng)) in self._used_codes:
            pass
        self._used_codes.add(candidate)
        return candidate

    def _license_key(self) -> str:
        while (candidate := new_license_key(self.rng)) in self._used_keys:
            pass
        self._used_keys.add(candidate)
        return candidate

    def _user(
        self,
        login: str,
        first: str,
        last: str,
        email_domain: str,
        *,
        tenant_id: str | None = None,
        role: str = "ACCESS",
        user_code: str | None = None,
        is_vendor: bool = False,
    ) -> dict[str, Any]:
        users = self.rows["users"]
        row = {
            "id": len(users) + 1,
            "login": login,
            "email": f"{login}@{email_domain}",
            "display_name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "password_hash": self.password_hash,
            "tenant_id": tenant_id,
            "tenant_role": role,
            "user_code": user_code,
            "account_type": "FULL",
            "default_store_id": None,
            "is_vendor": is_vendor,
            "is_whitelabeled": False,
            "created_at": self._at(30),
        }
        users.append(row)
        self.users_by_login[login] = row
        return row

    def _random_name(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def _generated_login(self, first: str, last: str) -> str:
        # The next user id makes it unique; names alone repeat quickly.
        return f"{_slug(first)}.{_slug(last).replace('-', '')}{len(self.rows['users']) + 1}"

    # -- tenants, users, stores ----------------------------------------------------------------

    def _tenants(self) -> None:
        for i, business in enumerate(BUSINESSES):
            self.rows["tenants"].append(
                {
                    "id": business.id,
                    "name": business.name,
                    "created_at": BASE_TIME + dt.timedelta(hours=i),
                }
            )

    def _users(self) -> None:
        for business in BUSINESSES:
            staff = []
            login, first, last = business.admin
            admin = self._user(
                login,
                first,
                last,
                business.domain,
                tenant_id=business.id,
                role="ADMIN",
                user_code="1001",
            )
            if login == "alice":
                admin["is_vendor"] = True
                self.vendor_ids.append(admin["id"])
            staff.append(admin)
            for k in range(4):
                if k < len(business.cashiers):
                    login, first, last = business.cashiers[k]
                else:
                    first, last = self._random_name()
                    login = self._generated_login(first, last)
                staff.append(
                    self._user(
                        login,
                        first,
                        last,
                        business.domain,
                        tenant_id=business.id,
                        user_code=str(1002 + k),
                    )
                )
            self.tenant_users[business.id] = staff

        dave = self._user("dave", "Dave", "Okafor", "customer.example")
        self.customer_ids.append(dave["id"])

        total = max(20, self.n_products // 10)
        remaining = max(0, total - len(self.rows["users"]))
        n_vendors = max(2, remaining // 5)
        for _ in range(n_vendors):
            first, last = self._random_name()
            vendor = self._user(self._generated_login(first, last), first, last, "vendors.example", is_vendor=True)
            self.vendor_ids.append(vendor["id"])
        for _ in range(max(0, remaining - n_vendors)):
            first, last = self._random_name()
            customer = self._user(self._generated_login(first, last), first, last, "customers.example")
            self.customer_ids.append(customer["id"])

    def _stores(self) -> None:
        count = max(3, self.n_products // 20)
        for i in range(count):
            business = BUSINESSES[i % len(BUSINESSES)]
            city, state, zip_prefix = business.cities[(i // len(BUSINESSES)) % len(business.cities)]
            street = self.rng.choice(business.streets)
            store_id = i + 1
            uid = f"{_slug(business.brand).split('-')[0]}-{_slug(city)}-{store_id:04d}"
            store = {
                "id": store_id,
                "uid": uid,
                "tenant_id": business.id,
                "name": f"{business.brand} {city} {street}",
                "shop_name": f"{business.brand} {city}",
                "url": f"https://shop.{business.domain}/stores/{uid}",
                "street_1": f"{street} {self.rng.randint(1, 220)}",
                "street_2": self.rng.choice(("", "", "", f"Unit {self.rng.randint(1, 12)}")),
                "city": city,
                "zip": self._zip(business.country, zip_prefix),
                "country": business.country,
                "state": state,
                "created_at": self._at(20, BASE_TIME + dt.timedelta(days=1)),
            }
            self.rows["stores"].append(store)
            self.stores_by_tenant.setdefault(business.id, []).append(store)
            for k in (1, 2):
                self.rows["tills"].append({"id": f"{uid}-till-{k}", "store_id": store_id, "name": f"Till {k}"})

        for business in BUSINESSES:
            stores = self.stores_by_tenant[business.id]
            admin, *cashiers = self.tenant_users[business.id]
            admin["default_store_id"] = stores[0]["id"]
            for store in stores:
                self.rows["store_access"].append(
                    {"user_id": admin["id"], "store_id": store["id"], "store_role": "ADMIN"}
                )
            for cashier in cashiers:
                # Every cashier works in the tenant's first store, some in a couple more.
                cashier["default_store_id"] = stores[0]["id"]
                extra = self.rng.sample(stores[1:], min(2, len(stores) - 1))
                for store in [stores[0], *extra]:
                    self.rows["store_access"].append(
                        {"user_id": cashier["id"], "store_id": store["id"], "store_role": "ACCESS"}
                    )

    def _zip(self, country: str, prefix: str) -> str:
        if country == "NL":
            letters = "".join(self.rng.choice("ABCDEGHJKLMNPRSTVWXZ") for _ in range(2))
            return f"{prefix}{self.rng.randint(10, 99)} {letters}"
        if country == "SE":
            return f"{prefix}{self.rng.randint(0, 9)} {self.rng.randint(10, 99)}"
        return f"{prefix}{self.rng.randint(100, 999)}"

    # -- catalogue ----------------------------------------------------------------------------

    def _products(self) -> None:
        stores = self.rows["stores"]
        alice_id = self.users_by_login["alice"]["id"]
        business_by_id = {b.id: b for b in BUSINESSES}
        for i in range(self.n_products):
            product_id = i + 1
            store = stores[i % len(stores)]
            owner_id = alice_id if i % 10 == 0 else self.rng.choice(self.vendor_ids)
            created_at = self._at(200, BASE_TIME + dt.timedelta(days=30))
            if i % 4 == 0:
                row = self._app(product_id, i // 4)
            else:
                row = self._good(product_id, business_by_id[store["tenant_id"]], store)
            row.update(
                {
                    "id": product_id,
                    "store_id": store["id"],
                    "owner_id": owner_id,
                    "status": "publish",
                    "average_rating": "0.00",
                    "rating_count": 0,
                    "created_at": created_at,
                }
            )
            self.rows["products"].append(row)

    def _app(self, product_id: int, app_index: int) -> dict[str, Any]:
        name, slug, prefix, _editor, _ports = APPS[app_index % len(APPS)]
        name += self.rng.choice(APP_EDITIONS)
        app_id = f"{prefix}.{slug}-{product_id}"
        is_official = app_index % 10 != 7
        self.app_ids.append(product_id)
        self.app_set.add(product_id)
        category = APP_CATEGORIES[1 + app_index % (len(APP_CATEGORIES) - 1)]
        architectures = self.rng.choice(_ARCHITECTURES)
        return {
            "name": name,
            "description": f"<p>{name} runs as a FLECS app on your edge device.</p>"
            f"<p>Install it from the marketplace; updates arrive with new app versions.</p>",
            "short_description": f"<p>{name} for FLECS.</p>",
            "categories": [_category(APP_CATEGORIES[0]), _category(category)],
            "attributes": [{"id": 1, "name": "Architecture", "options": list(architectures)}],
            "meta_data": [
                {"id": product_id * 10 + 1, "name": "app_id", "value": app_id},
                {
                    "id": product_id * 10 + 2,
                    "name": "official",
                    "value": "yes" if is_official else "no",
                },
            ],
            "stock_status": "instock",
            "permalink": f"https://marketplace.flecs.tech/product/{slug}-{product_id}/",
            "price": self.rng.choice(APP_PRICES),
            "purchasable": True,
            "is_app": True,
            "app_id": app_id,
            "is_official": is_official,
        }

    def _good(self, product_id: int, business: _Business, store: dict[str, Any]) -> dict[str, Any]:
        adjectives, nouns = business.goods
        name = f"{self.rng.choice(adjectives)} {self.rng.choice(nouns)}"
        in_stock = self.rng.random() < 0.9
        attributes = [{"id": 2, "name": "Size", "options": list(self.rng.choice(_SIZES))}]
        if self.rng.random() < 0.5:
            attributes.append(
                {
                    "id": 3,
                    "name": "Color",
                    "options": list(self.rng.choice(_COLORS)),
                }
            )
        return {
            "name": name,
            "description": f"<p>{name} from {business.brand}.</p>",
            "short_description": f"<p>{name}.</p>",
            "categories": [_category(self.rng.choice(business.categories))],
            "attributes": attributes,
            "meta_data": [{"id": product_id * 10 + 1, "name": "_sku", "value": f"SKU-{product_id:06d}"}],
            "stock_status": "instock" if in_stock else "outofstock",
            "permalink": f"{store['url']}/product/{_slug(name)}-{product_id}/",
            "price": _cents(self.rng.randint(99, 24999)),
            "purchasable": in_stock,
            "is_app": False,
            "app_id": None,
            "is_official": True,
        }

    def _subscriptions(self) -> None:
        if not self.n_products:
            return
        subscribers = [self.users_by_login[login]["id"] for login in ("alice", "bob")] + self.customer_ids
        users = {u["id"]: u for u in self.rows["users"]}
        dave_id = self.users_by_login["dave"]["id"]
        for user_id in subscribers:
            user = users[user_id]
            for k in range(2 if user_id == dave_id else self.rng.randint(1, 3)):
                sub_id = len(self.rows["subscriptions"]) + 1
                status = self.rng.choices(("active", "on-hold", "cancelled"), weights=(7, 2, 1))[0]
                # Dave's first subscription is active and starts with an app, so his "purchased
                # apps" always has an answer.
                force_app = user_id == dave_id and k == 0
                if force_app:
                    status = "active"
                self.rows["subscriptions"].append(
                    {
                        "id": sub_id,
                        "user_id": user_id,
                        "status": status,
                        "billing": {
                            "first_name": user["first_name"],
                            "last_name": user["last_name"],
                            "company": self.rng.choice(COMPANIES),
                            "email": user["email"],
                        },
                        "created_at": self._at(250, BASE_TIME + dt.timedelta(days=30)),
                    }
                )
                self._line_items(sub_id, user_id, status, force_app)

    def _line_items(self, sub_id: int, user_id: int, status: str, force_app: bool) -> None:
        chosen: set[int] = set()
        for n in range(self.rng.randint(1, 3)):
            if (force_app and n == 0) or (self.app_ids and self.rng.random() < 0.5):
                product_id = self.rng.choice(self.app_ids)
            else:
                product_id = self.rng.randint(1, self.n_products)
            if product_id in chosen:
                continue
            chosen.add(product_id)
            self.purchases.setdefault(product_id, set()).add(user_id)
            image: dict[str, Any] = {}
            if self.rng.random() < 0.5:
                image = {
                    "id": product_id * 10 + 5,
                    "src": f"https://cdn.facade.example/products/{product_id}.png",
                }
            self.rows["line_items"].append(
                {
                    "id": len(self.rows["line_items"]) + 1,
                    "subscription_id": sub_id,
                    "product_id": product_id,
                    "variation_id": 0,
                    "quantity": 1 if product_id in self.app_set else self.rng.randint(1, 3),
                    "status": status,
                    "image": image,
                }
            )

    def _reviews(self) -> None:
        names = {u["id"]: (u["display_name"], u["email"]) for u in self.rows["users"]}
        reviewers = self.customer_ids + self.vendor_ids
        reviews = self.rows["reviews"]
        choices = self.rng.choices
        for product in self.rows["products"]:
            buyers = sorted(self.purchases.get(product["id"], ()))
            seen: set[int] = set()
            ratings: list[int] = []
            # Most products have few reviews or none, as in any shop.
            for _ in range(choices(_REVIEW_COUNTS, cum_weights=_REVIEW_COUNT_WEIGHTS)[0]):
                pool = buyers if buyers and self.rng.random() < 0.5 else reviewers
                user_id = self.rng.choice(pool)
                if user_id in seen:
                    continue
                seen.add(user_id)
                rating = choices(_RATINGS, cum_weights=_RATING_WEIGHTS)[0]
                ratings.append(rating)
                reviewer, email = names[user_id]
                reviews.append(
                    {
                        "id": len(reviews) + 1,
                        "product_id": product["id"],
                        "user_id": user_id,
                        "reviewer": reviewer,
                        "reviewer_email": email,
                        "review": self.rng.choice(REVIEW_TEXTS[rating]),
                        "rating": rating,
                        "status": "approved",
                        "verified": user_id in buyers,
                        "created_at": self._at(60, product["created_at"]),
                    }
                )
            product["average_rating"] = format_rating(sum(ratings), len(ratings))
            product["rating_count"] = len(ratings)

    # -- devices, licences, manifests ---------------------------------------------------------

    def _pos_devices(self) -> None:
        first_stores = {stores[0]["id"] for stores in self.stores_by_tenant.values()}
        for store in self.rows["stores"]:
            tills = [f"{store['uid']}-till-1", f"{store['uid']}-till-2"]
            if store["id"] in first_stores:
                # Each tenant's first store shows every state: in use, waiting for a link, blocked.
                plan = [("CLIENT", "ACTIVE"), ("CLIENT", "READY_TO_LINK"), ("ASSISTANT", "BLOCKED")]
            else:
                plan = [
                    ("CLIENT", "ACTIVE"),
                    ("ASSISTANT", "BLOCKED" if self.rng.random() < 0.1 else "ACTIVE"),
                ]
                if self.rng.random() < 0.5:
                    plan.append(("CLIENT", "READY_TO_LINK"))
            for k, (app_type, status) in enumerate(plan):
                created_at = self._at(30, store["created_at"])
                code = self._device_code()
                host = f"pos-{store['id']:04d}-{k + 1}"
                kind = "Till" if app_type == "CLIENT" else "Assistant"
                information = None
                if status != "READY_TO_LINK":
                    template = POS_UNAME if app_type == "CLIENT" else ASSISTANT_UNAME
                    information = template.format(host=host)
                self.rows["devices"].append(
                    {
                        "id": self._device_id(),
                        "tenant_id": store["tenant_id"],
                        "store_id": store["id"],
                        "till_id": tills[k % 2],
                        "name": f"{store['shop_name']} {kind} {k + 1}",
                        "app_type": app_type,
                        "status": status,
                        "system_information": information,
                        "device_code": code,
                        "client_id": None,
                        "owner_id": None,
                        "manufacturer_id": None,
                        "manufacturer_name": None,
                        "model": None,
                        "serial_number": None,
                        "manufacture_date": None,
                        "license_status": None,
                        "created_at": created_at,
                        "last_modified_at": created_at + dt.timedelta(hours=self.rng.randint(1, 48)),
                    }
                )
                if status == "READY_TO_LINK" and store["id"] in first_stores:
                    self.device_codes[store["tenant_id"]] = code

    def _edge_devices(self) -> None:
        users = self.rows["users"]
        alice, dave = self.users_by_login["alice"], self.users_by_login["dave"]
        others = [u for u in users if u["login"] not in ("alice", "dave")]
        owners = [alice, alice, dave, dave]
        owners += [self.rng.choice(others) for _ in range(max(2, self.n_products // 50))]
        # Activations are relative to now (to the second) so seeded sessions are valid today.
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for index, owner in enumerate(owners):
            manufacturer_id, manufacturer, prefix, models = self.rng.choice(MANUFACTURERS)
            model = self.rng.choice(models)
            serial = f"{prefix}{2400000 + index:08d}"
            created_at = self._at(200, BASE_TIME + dt.timedelta(days=30))
            device_id = self._device_id()
            self.rows["devices"].append(
                {
                    "id": device_id,
                    "tenant_id": owner["tenant_id"],
                    "store_id": None,
                    "till_id": None,
                    "name": f"{model} {serial[-4:]}",
                    "app_type": "UNKNOWN",
                    "status": "ACTIVE",
                    "system_information": None,
                    "device_code": None,
                    "client_id": None,
                    "owner_id": owner["id"],
                    "manufacturer_id": manufacturer_id,
                    "manufacturer_name": manufacturer,
                    "model": model,
                    "serial_number": serial,
                    "manufacture_date": dt.date(2023, 1, 1) + dt.timedelta(days=self.rng.randrange(730)),
                    "license_status": 0,
                    "created_at": created_at,
                    "last_modified_at": created_at,
                }
            )
            # The first device of alice and of dave is active; the rest mostly.
            active = index in (0, 2) or (index > 3 and self.rng.random() < 0.6)
            self._license(owner["id"], device_id, created_at, now if active else None)
        for owner in (alice, dave):
            for _ in range(2):
                key = self._license(owner["id"], None, self._at(30, BASE_TIME + dt.timedelta(days=60)), None)
                self.free_license_keys.setdefault(owner["login"], []).append(key)

    def _license(self, user_id: int, device_id: str | None, created_at: dt.datetime, now: dt.datetime | None) -> str:
        key = self._license_key()
        row: dict[str, Any] = {
            "id": len(self.rows["licenses"]) + 1,
            "key": key,
            "user_id": user_id,
            "product_id": self.rng.choice(self.app_ids) if self.app_ids else None,
            "device_id": device_id,
            "session_id": None,
            "session_timestamp": None,
            "activated_at": None,
            "valid_until": None,
            "created_at": created_at,
        }
        if now is not None:
            activated_at = now - dt.timedelta(days=self.rng.randint(1, 300))
            row.update(
                session_id=new_session_id(self.rng),
                session_timestamp=int(activated_at.timestamp()),
                activated_at=activated_at,
                valid_until=activated_at + LICENSE_VALIDITY,
            )
        self.rows["licenses"].append(row)
        return key

    def _manifests(self) -> None:
        products = self.rows["products"]
        check = _ManifestCheck()
        for app_index, product_id in enumerate(self.app_ids):
            product = products[product_id - 1]
            template = APPS[app_index % len(APPS)]
            versions = ["1.0.0", "1.1.0"] if self.rng.random() < 0.5 else ["1.0.0"]
            for version in versions:
                manifests = [_manifest_3(product["app_id"], version, template)]
                if app_index % 3 == 0:
                    manifests.append(_manifest_2(product["app_id"], version, template))
                for manifest in manifests:
                    check(manifest)
                    self.rows["app_manifests"].append(
                        {
                            "app": product["app_id"],
                            "version": version,
                            "schema_version": manifest["_schemaVersion"],
                            "manifest": manifest,
                            "product_id": product_id,
                        }
                    )

    def _demo_logins(self) -> tuple[DemoLogin, ...]:
        described = (
            (
                "alice",
                "admin of acme-retail (user code 1001), vendor, FLECS devices and free licences",
            ),
            ("bob", "cashier at acme-retail, user code 1002"),
            ("carol", "admin of nordic-bakeries (user code 1001)"),
            ("erin", "admin of flecs-industrial (user code 1001)"),
            ("dave", "customer without tenant: subscriptions, FLECS devices and free licences"),
        )
        return tuple(
            DemoLogin(login, self.users_by_login[login]["email"], DEMO_PASSWORD, description)
            for login, description in described
        )


# Afosto's side of each business: its price groups' currency and the VAT rate of its prices.
_AFOSTO_MONEY = {"NL": ("EUR", "21.00"), "SE": ("SEK", "25.00"), "DE": ("EUR", "19.00")}
_PLAN_CODES = ("growth", "starter", "pro")
_ORDER_STATUSES = ("confirmed", "open", "canceled")
_ORDER_STATUS_WEIGHTS = (6, 9, 10)  # cumulative
_PRINTERS = (("Receipt printer", "escpos"), ("Label printer", "zpl"))


def _amount(price: str) -> int:
    """A decimal price string ("12.50") in minor units (1250)."""
    units, _, cents = price.partition(".")
    return int(units) * 100 + int((cents + "00")[:2])


class _AfostoBuilder:
    """Afosto's data for the businesses `_Builder` made (issue 11), from its own random stream so
    the rest of the seed is what it was: one Afosto tenant per facade tenant, linked; its price
    groups, channels (a POS channel per store and one storefront linked to every store), a
    location per store (linked) with the store's stock, every product a SKU with a price in
    each group, customers (about N/4) with addresses, orders (about N/2) over the tenant's
    channels and customers with 1-4 lines each, a print hub per store linked to one of its
    devices with 1-2 printers, the tenant's staff as Afosto users, and one plan."""

    def __init__(self, base: _Builder, rng: random.Random) -> None:
        self.base = base
        self.rng = rng
        self.rows = base.rows
        self.tenants: dict[str, str] = {}  # facade tenant -> Afosto tenant
        self.channels: dict[str, list[str]] = {}  # facade tenant -> channel ids
        self.locations: dict[str, list[str]] = {}  # facade tenant -> location ids
        self.groups: dict[str, list[dict[str, Any]]] = {}  # facade tenant -> price groups
        self.skus: dict[str, list[tuple[str, str, int]]] = {}  # facade tenant -> (sku, name, retail)
        self.customers: dict[str, list[tuple[str, str, str]]] = {}  # -> (id, shipping, billing)

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _at(self, max_days: int, after: dt.datetime) -> dt.datetime:
        return after + dt.timedelta(minutes=int(self.rng.random() * max_days * 24 * 60))

    def build(self) -> None:
        for index, business in enumerate(BUSINESSES):
            self._tenant(index, business)
        self._catalogue()
        self._customers()
        self._orders()
        self._print_hubs()

    def _tenant(self, index: int, business: _Business) -> None:
        afosto_tenant_id = self._id()
        self.tenants[business.id] = afosto_tenant_id
        self.rows["afosto_tenant_links"].append({"tenant_id": business.id, "afosto_tenant_id": afosto_tenant_id})
        created_at = BASE_TIME + dt.timedelta(days=2, hours=index)
        currency, _vat = _AFOSTO_MONEY[business.country]
        groups = [
            {"name": "retail", "currency": currency, "is_including_vat": True},
            {"name": "wholesale", "currency": currency, "is_including_vat": False},
        ]
        for k, group in enumerate(groups):  # retail first
            group.update(
                id=self._id(), afosto_tenant_id=afosto_tenant_id, created_at=created_at + dt.timedelta(minutes=k)
            )
            self.rows["afosto_price_groups"].append(group)
        self.groups[business.id] = groups

        storefront = self._channel(afosto_tenant_id, f"{business.brand} webshop", "storefront", created_at)
        channels = self.channels.setdefault(business.id, [storefront])
        locations = self.locations.setdefault(business.id, [])
        for store in self.base.stores_by_tenant[business.id]:
            at = store["created_at"]
            pos = self._channel(afosto_tenant_id, f"{store['shop_name']} POS", "pos", at)
            channels.append(pos)
            for channel_id in (pos, storefront):
                self.rows["store_sales_channels"].append({"store_id": store["id"], "channel_id": channel_id})
            address_id = self._address(
                afosto_tenant_id,
                store["country"],
                locality=store["city"],
                administrative_area=store["state"],
                postal_code=store["zip"],
                address_line_1=store["street_1"],
                address_line_2=store["street_2"],
                organisation=store["shop_name"],
            )
            location_id = self._id()
            self.rows["afosto_locations"].append(
                {
                    "afosto_tenant_id": afosto_tenant_id,
                    "id": location_id,
                    "name": store["shop_name"],
                    "country_code": store["country"],
                    "address_id": address_id,
                    "is_tracking_inventory": True,
                    "created_at": at,
                }
            )
            locations.append(location_id)
            self.rows["store_stock_locations"].append({"store_id": store["id"], "location_id": location_id})

        for user in self.base.tenant_users[business.id]:
            admin = user["tenant_role"] == "ADMIN"
            self.rows["afosto_users"].append(
                {
                    "id": self._id(),
                    "afosto_tenant_id": afosto_tenant_id,
                    "email": user["email"],
                    "first_name": user["first_name"],
                    "last_name": user["last_name"],
                    "roles": ["admin"] if admin else ["staff"],
                    "is_primary": admin,
                    "created_at": user["created_at"],
                }
            )
        self.rows["afosto_plans"].append(
            {
                "id": self._id(),
                "afosto_tenant_id": afosto_tenant_id,
                "code": _PLAN_CODES[index % len(_PLAN_CODES)],
                "is_renewing": True,
                "start_at": created_at,
                "end_at": None,
            }
        )

    def _channel(self, afosto_tenant_id: str, name: str, kind: str, created_at: dt.datetime) -> str:
        channel_id = self._id()
        self.rows["afosto_channels"].append(
            {
                "id": channel_id,
                "afosto_tenant_id": afosto_tenant_id,
                "name": name,
                "type": kind,
                "description": f"{name} ({kind})",
                "created_at": created_at,
            }
        )
        return channel_id

    def _address(self, afosto_tenant_id: str, country: str, **fields: str) -> str:
        address_id = self._id()
        row = {
            "id": address_id,
            "afosto_tenant_id": afosto_tenant_id,
            "country_code": country,
            "administrative_area": "",
            "locality": "",
            "postal_code": "",
            "address_line_1": "",
            "address_line_2": "",
            "organisation": "",
            "given_name": "",
            "family_name": "",
        }
        row.update(fields)
        self.rows["afosto_addresses"].append(row)
        return address_id

    def _catalogue(self) -> None:
        stores = {store["id"]: store for store in self.rows["stores"]}
        # Each store's own location (its index among the tenant's: they are made in the stores' order).
        own_location = {
            store["id"]: k
            for tenant_stores in self.base.stores_by_tenant.values()
            for k, store in enumerate(tenant_stores)
        }
        for product in self.rows["products"]:
            store = stores[product["store_id"]]
            tenant = store["tenant_id"]
            afosto_tenant_id = self.tenants[tenant]
            sku = f"SKU-{product['id']:06d}"
            self.rows["product_skus"].append({"product_id": product["id"], "tenant_id": tenant, "sku": sku})
            retail = _amount(product["price"])
            self.skus.setdefault(tenant, []).append((sku, product["name"], retail))
            _currency, vat = _AFOSTO_MONEY[store["country"]]
            retail_group, wholesale_group = self.groups[tenant]
            on_sale = retail and self.rng.random() < 0.15
            for group, amount in ((retail_group, retail), (wholesale_group, retail * 70 // 100)):
                self.rows["afosto_prices"].append(
                    {
                        "id": self._id(),
                        "afosto_tenant_id": afosto_tenant_id,
                        "price_group_id": group["id"],
                        "sku": sku,
                        "amount": amount,
                        "original_amount": amount * 120 // 100 if on_sale else None,
                        "vat_rate": vat,
                        "active_at": None,
                        "created_at": product["created_at"],
                    }
                )
            # Stock at the store's own location, and sometimes at another of the tenant's.
            locations = self.locations[tenant]
            own = own_location[store["id"]]
            at = [locations[own]]
            if len(locations) > 1 and self.rng.random() < 0.25:
                other = self.rng.randrange(len(locations) - 1)  # any but its own
                at.append(locations[other + (other >= own)])
            for location_id in at:
                self.rows["afosto_stock"].append(
                    {
                        "afosto_tenant_id": afosto_tenant_id,
                        "location_id": location_id,
                        "sku": sku,
                        "available": self.rng.randint(0, 60),
                        "reserved": self.rng.randint(0, 3),
                        "claimed": 0,
                        "transit": self.rng.choice((0, 0, 0, 5, 10)),
                        "missing": 0,
                        "backordered": self.rng.choice((0, 0, 0, 0, 2)),
                    }
                )

    def _customers(self) -> None:
        count = max(2 * len(BUSINESSES), self.base.n_products // 4)
        for i in range(count):
            business = BUSINESSES[i % len(BUSINESSES)]
            afosto_tenant_id = self.tenants[business.id]
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            city, state, zip_prefix = self.rng.choice(business.cities)
            street = self.rng.choice(business.streets)

            person = {
                "locality": city,
                "administrative_area": state,
                "postal_code": f"{zip_prefix}{self.rng.randint(100, 999)}",
                "given_name": first,
                "family_name": last,
            }
            shipping = self._address(
                afosto_tenant_id, business.country, address_line_1=f"{street} {self.rng.randint(1, 220)}", **person
            )
            billing = shipping
            if self.rng.random() < 0.3:
                line = f"Postbus {self.rng.randint(100, 9999)}"
                billing = self._address(afosto_tenant_id, business.country, address_line_1=line, **person)
            customer_id = self._id()
            self.rows["afosto_customers"].append(
                {
                    "id": customer_id,
                    "afosto_tenant_id": afosto_tenant_id,
                    "email": f"{_slug(first)}.{_slug(last).replace('-', '')}{i + 1}@shoppers.example",
                    "given_name": first,
                    "family_name": last,
                    "is_guest": self.rng.random() < 0.1,
                    "created_at": self._at(60, BASE_TIME + dt.timedelta(days=10)),
                }
            )
            self.customers.setdefault(business.id, []).append((customer_id, shipping, billing))

    def _orders(self) -> None:
        count = max(2 * len(BUSINESSES), self.base.n_products // 2)
        numbers: dict[str, int] = {}
        choices = self.rng.choices
        for i in range(count):
            tenant = BUSINESSES[i % len(BUSINESSES)].id
            skus = self.skus.get(tenant)
            if not skus:
                continue  # a tenant without products has nothing to sell
            afosto_tenant_id = self.tenants[tenant]
            customer_id, shipping, billing = self.rng.choice(self.customers[tenant])
            status = choices(_ORDER_STATUSES, cum_weights=_ORDER_STATUS_WEIGHTS)[0]
            created_at = self._at(300, BASE_TIME + dt.timedelta(days=60))
            numbers[tenant] = numbers.get(tenant, 0) + 1
            order_id = self._id()
            total = 0
            for sku, name, retail in self.rng.sample(skus, min(len(skus), self.rng.randint(1, 4))):
                quantity = self.rng.randint(1, 3)
                total += quantity * retail
                self.rows["afosto_order_lines"].append(
                    {
                        "afosto_tenant_id": afosto_tenant_id,
                        "order_id": order_id,
                        "sku": sku,
                        "description": name,
                        "quantity": quantity,
                    }
                )
            self.rows["afosto_orders"].append(
                {
                    "id": order_id,
                    "afosto_tenant_id": afosto_tenant_id,
                    "number": order_number(numbers[tenant]),
                    "status": status,
                    "channel_id": self.rng.choice(self.channels[tenant]),
                    "customer_id": customer_id,
                    "shipping_address_id": shipping,
                    "billing_address_id": billing,
                    "currency": self.groups[tenant][0]["currency"],
                    "total": total,
                    "idempotency_key": None,
                    "created_at": created_at,
                    "canceled_at": created_at + dt.timedelta(hours=2) if status == "canceled" else None,
                }
            )

    def _print_hubs(self) -> None:
        first_device: dict[int, str] = {}
        for device in self.rows["devices"]:
            if device["store_id"] is not None and device["status"] == "ACTIVE":
                first_device.setdefault(device["store_id"], device["id"])
        for store in self.rows["stores"]:
            device_id = first_device.get(store["id"])
            if device_id is None:
                continue
            afosto_tenant_id = self.tenants[store["tenant_id"]]
            hub_id = self._id()
            created_at = store["created_at"] + dt.timedelta(days=1)
            online = self.rng.random() < 0.85
            self.rows["afosto_print_hubs"].append(
                {
                    "id": hub_id,
                    "afosto_tenant_id": afosto_tenant_id,
                    "name": f"{store['shop_name']} print hub",
                    "description": f"Printers of {store['name']}",
                    "status": "online" if online else "offline",
                    "status_updated_at": self._at(30, BASE_TIME + dt.timedelta(days=300)),
                    "created_at": created_at,
                }
            )
            self.rows["device_print_hubs"].append({"device_id": device_id, "hub_id": hub_id})
            for name, encoding in _PRINTERS[: self.rng.randint(1, 2)]:
                self.rows["afosto_printers"].append(
                    {
                        "id": self._id(),
                        "afosto_tenant_id": afosto_tenant_id,
                        "hub_id": hub_id,
                        "name": name,
                        "default_encoding": encoding,
                        "created_at": created_at,
                    }
                )


# Keywords that relate a manifest's properties to each other. A schema without them at its top
# level accepts a manifest exactly when it accepts each property on its own.
_CROSS_PROPERTY = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "dependencies",
        "else",
        "if",
        "maxProperties",
        "minProperties",
        "not",
        "oneOf",
        "patternProperties",
        "propertyNames",
        "then",
    }
)


class _ManifestCheck:
    """Asserts that every seeded manifest passes `manifest_errors`, cheaply enough for 50,000.

    Manifests made from one template differ only in `app` and `image`. The first of each shape
    is validated whole; each later one as the minimal manifest of its `_schemaVersion`, `app`,
    `version` and `image`. Because the schemas constrain each property on its own (asserted
    here from the schema files), the two checks together are the whole check, at a tenth of the
    cost (jsonschema takes about 0.3 ms per full manifest).
    """

    _VARYING = frozenset({"app", "image"})

    def __init__(self) -> None:
        self._shapes: set[str] = set()
        self._per_property_schemas: set[str] = set()

    def __call__(self, manifest: dict[str, Any]) -> None:
        shape = json.dumps({k: v for k, v in manifest.items() if k not in self._VARYING}, sort_keys=True)
        subject = manifest
        if shape in self._shapes:
            self._assert_per_property(schema_name_for(manifest))
            subject = {key: manifest[key] for key in ("_schemaVersion", "app", "version", "image")}
        errors = manifest_errors(subject)
        if errors:
            raise AssertionError(f"seed manifest for {manifest.get('app')} is invalid: {errors}")
        self._shapes.add(shape)

    def _assert_per_property(self, schema_name: str) -> None:
        if schema_name in self._per_property_schemas:
            return
        schema_text = resources.files("facade.data").joinpath(schema_name).read_text("utf-8")
        crossing = _CROSS_PROPERTY & set(json.loads(schema_text))
        if crossing:
            raise AssertionError(
                f"{schema_name} relates properties ({', '.join(sorted(crossing))}): "
                "validate every seeded manifest whole"
            )
        self._per_property_schemas.add(schema_name)


def _category(category: tuple[int, str, str]) -> dict[str, Any]:
    return {"id": category[0], "name": category[1], "slug": category[2]}


def _manifest_3(app_id: str, version: str, template: Sequence[Any]) -> dict[str, Any]:
    _name, slug, _prefix, editor_port, ports = template
    manifest: dict[str, Any] = {
        "_schemaVersion": "3.0.0",
        "_minimumFlecsVersion": "3.0.0",
        "app": app_id,
        "version": version,
        "revision": "0",
        "image": f"flecs/{app_id}",
        "multiInstance": False,
        "env": ["LOG_LEVEL=info"],
        "conffiles": [f"{slug}.conf:/etc/{slug}/{slug}.conf:rw"],
        "volumes": [f"{slug}-data:/var/lib/{slug}"],
        "labels": ["tech.flecs", f"tech.flecs.app={slug}"],
    }
    if editor_port is not None:
        manifest["editors"] = [{"name": "Web UI", "port": editor_port, "supportsReverseProxy": True}]
    if ports:
        manifest["ports"] = list(ports)
    return manifest


def _manifest_2(app_id: str, version: str, template: Sequence[Any]) -> dict[str, Any]:
    _name, slug, _prefix, editor_port, ports = template
    manifest: dict[str, Any] = {
        "_schemaVersion": "2.0.0",
        "app": app_id,
        "version": version,
        "revision": "0",
        "image": f"flecs/{app_id}",
        "multiInstance": False,
        "env": ["LOG_LEVEL:info"],
        "conffiles": [f"{slug}.conf:/etc/{slug}/{slug}.conf:rw"],
        "volumes": [f"{slug}-data:/var/lib/{slug}"],
    }
    if editor_port is not None:
        manifest["editor"] = f":{editor_port}"
    if ports:
        manifest["ports"] = list(ports)
    return manifest


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
