"""Afosto's commerce records in the domain graph (issue 11): what the local store reads from its
Afosto tables and what the upstream Afosto client reads from Afosto's payloads, one shape for both.

Every record carries `tenant_id`, the facade tenant (uid) it was read for: Afosto's tenant is
implicit in its token, and facade maps its own tenants to Afosto tenants through a link row
(`TenantLink`). The record rule of every commerce type is "members of `tenant_id`", whatever path
reached it; their global ids carry it too (`graph/nodes.py`).

Money is Afosto's: integer minor units (cents) with the price group's ISO 4217 currency; the graph
shows it as a decimal string like `Product.price` and as the raw `amountMinor`.

Imports models (Record) and errors only.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from facade.errors import BadUserInput
from facade.models import Record

# ISO 4217 currencies whose minor unit is not a hundredth; every other has two decimals.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
# The largest amount in minor units facade writes to Afosto: GraphQL's Int (32-bit), so whatever
# facade wrote reads back as `amountMinor`/`totalMinor`: a price (and its original amount), and an
# order's total (so each of its lines' totals). 21,474,836.47 in a currency of two decimals.
MAX_MINOR = 2**31 - 1
# The most units of one SKU on an order (a line), whether given at once or added up.
MAX_QUANTITY = 10_000
# The longest idempotency key (Afosto's x-idempotency-key) on every road to it: createOrder's and
# addOrderLines' idempotencyKey, the generated operations' (afostoOdrCreateOrder, ...), and the
# emulation behind local mode and the sandbox. Afosto documents no limit. Each road held its own
# (128, 200, and the emulation's 167), so a key one took another refused, or took only to be
# refused by Afosto's emulation without naming the argument. 128 is the one every road took, and
# it fits the local store's columns, also as revision 0003's downgrade joins a key with its digest
# (at most 167 characters there: backends/local/commerce.KEY_LENGTH).
IDEMPOTENCY_KEY_LENGTH = 128
# Its characters: a subset of what a header carries, enough for a UUID, a ULID or `order-42:retry.1`.
IDEMPOTENCY_KEY_CHARACTERS = "[A-Za-z0-9_.:-]+"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_CHARACTERS)


def checked_key(key: str) -> str:
    """`key` as an idempotency key: BadUserInput at `idempotencyKey` unless it is 1 to
    IDEMPOTENCY_KEY_LENGTH of IDEMPOTENCY_KEY_CHARACTERS (the graph's rule: graph/inputs.py),
    so the Afosto emulation behind local mode and the sandbox takes the keys the graph does."""
    if not key or len(key) > IDEMPOTENCY_KEY_LENGTH or _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise BadUserInput(
            f"idempotencyKey must be 1 to {IDEMPOTENCY_KEY_LENGTH} characters of letters, digits and _.:-",
            field="idempotencyKey",
        )
    return key


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


@functools.lru_cache(maxsize=8192)  # a catalog shows the same few hundred amounts request after request
def decimal_amount(minor: int, currency: str) -> str:
    """Minor units as the decimal string the graph shows: 1250 EUR -> "12.50", 500 JPY -> "500"."""
    places = exponent(currency)
    if not places:
        return str(minor)
    whole, part = divmod(abs(minor), 10**places)  # integer arithmetic: a list shows hundreds
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{places}d}"


def minor_units(text: str, currency: str, field: str) -> int:
    """A decimal string ("12.50") as minor units of `currency` (1250): BadUserInput for anything
    but a plain non-negative decimal with at most the currency's decimals, or above MAX_MINOR
    (21474836.47 EUR)."""
    places = exponent(currency)
    body = text.strip()
    if not body or len(body) > 24 or not all(ch.isdigit() or ch == "." for ch in body) or body.count(".") > 1:
        raise BadUserInput(f"`{field}` must be a decimal amount such as 12.50.", field=field)
    try:
        value = Decimal(body)
    except InvalidOperation:
        raise BadUserInput(f"`{field}` must be a decimal amount such as 12.50.", field=field) from None
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise BadUserInput(f"`{field}` has more than {places} decimals for {currency}.", field=field)
    minor = int(scaled)
    if minor > MAX_MINOR:
        most = decimal_amount(MAX_MINOR, currency)
        raise BadUserInput(f"`{field}` is above {most} {currency}, the most facade writes.", field=field)
    return minor


def check_quantities(quantities: Mapping[str, int], field: str = "lines") -> None:
    """BadUserInput naming the SKU when a line's units (as given, or added to what the order
    has) are below 1 or above MAX_QUANTITY."""
    for sku, quantity in quantities.items():
        if not 1 <= quantity <= MAX_QUANTITY:
            raise BadUserInput(
                f"`{field}` would put {quantity} units of SKU {sku} on the order: a line holds 1 to "
                f"{MAX_QUANTITY:,} units.",
                field=field,
                sku=sku,
            )


def order_total(
    quantities: Mapping[str, int],
    units: Mapping[str, int],
    currency: str,
    *,
    priced: Iterable[str] = (),
    base: int = 0,
    field: str = "lines",
) -> int:
    """`base` plus each SKU's `quantities` at its unit price (`units`, minor units; a SKU without
    one counts 0): an order's total. BadUserInput naming the SKU for one of `priced` (the SKUs
    being ordered) without a unit price (nothing in the tenant's catalogue to order), and when a
    line's total or the order's passes MAX_MINOR (it would not read back as `totalMinor`)."""
    missing = [sku for sku in dict.fromkeys(priced) if sku not in units]
    if missing:
        raise BadUserInput(
            f"`{field}` names SKUs the tenant has no price for: {', '.join(missing)}.", field=field, skus=missing
        )
    total = base
    for sku, quantity in quantities.items():
        line = quantity * units.get(sku, 0)
        total += line
        if line > MAX_MINOR or total > MAX_MINOR:
            most = decimal_amount(MAX_MINOR, currency)
            raise BadUserInput(
                f"The order's total would pass {most} {currency}, the most facade writes (at SKU {sku}).",
                field=field,
                sku=sku,
            )
    return total


# The refusal of lines added to a canceled order, in both modes (CONFLICT, field orderId).
CANCELED_TAKES_NO_LINES = "A canceled order takes no more lines."
# The refusals of an idempotency key used before with another input, in both modes (CONFLICT,
# field idempotencyKey): createOrder's, and addOrderLines'.
KEY_USED_FOR_ANOTHER_ORDER = (
    "This idempotencyKey was used for another order input: send that input again, or a new key."
)
KEY_USED_FOR_OTHER_LINES = (
    "This idempotencyKey was used for other lines of this order: send those lines again, or a new key."
)


@dataclass(frozen=True, slots=True)
class AfostoTenant:
    """A facade tenant linked to its Afosto tenant (the link row, local store, both modes): the
    first argument of every commerce read and write. The local store filters its Afosto tables by
    `afosto_tenant_id`; the upstream client forwards the caller's Afosto token (Afosto decides
    the tenant from it) and checks, once per request, that the token is for `afosto_tenant_id`.
    Records read for it carry `tenant_id`."""

    tenant_id: str  # facade tenant uid
    afosto_tenant_id: str


@dataclass(frozen=True, slots=True)
class TenantOwned:
    """Stands for data of the facade tenant `tenant_id` where no record is at hand (the owner of
    a product's Afosto lists, models.OwnedPage): the commerce record rule reads its `tenant_id`."""

    tenant_id: str


class SalesChannelType(enum.Enum):
    """CatChannel.type."""

    POS = "pos"
    STOREFRONT = "storefront"
    ORDER = "order"
    INTEGRATION = "integration"


class SalesChannel(Record):
    """CatChannel (`GET /cat/channels`, `GET /cat/channels/{id}`)."""

    tenant_id: str
    id: str  # uuid
    name: str
    type: SalesChannelType
    description: str = ""
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


class PriceGroup(Record):
    """CatGroup (`GET /cat/groups`)."""

    tenant_id: str
    id: str
    name: str
    currency: str  # ISO 4217, e.g. EUR
    is_including_vat: bool
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


class Price(Record):
    """CatPrice (`POST /cat/groups/{id}/prices`): one SKU's price in one group from `active_at`.
    `amount` and `original_amount` in minor units of the group's currency; `vat_rate` a
    percentage as a decimal string ("21.00") or None when the price names no VAT class."""

    tenant_id: str
    id: str  # uuid
    sku: str
    price_group_id: str
    currency: str
    amount: int
    original_amount: int | None = None
    vat_rate: str | None = None
    is_including_vat: bool
    active_at: dt.datetime | None = None

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)

    @property
    def group_ref(self) -> tuple[str, str]:
        """(tenant uid, price group id)."""
        return (self.tenant_id, self.price_group_id)

    @property
    def sku_ref(self) -> tuple[str, str]:
        """(tenant uid, SKU): the key of the product it prices."""
        return (self.tenant_id, self.sku)


class PostalAddress(Record):
    """RelAddress (`POST /rel/search/address`), libaddressinput's shape."""

    tenant_id: str
    id: str
    country_code: str
    administrative_area: str = ""
    locality: str = ""
    postal_code: str = ""
    address_line_1: str = ""
    address_line_2: str = ""
    organisation: str = ""
    given_name: str = ""
    family_name: str = ""

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


class Location(Record):
    """WmsLocation (`GET /wms/locations`): a warehouse or shop floor whose stock Afosto counts."""

    tenant_id: str
    id: str
    name: str
    country_code: str = ""
    address_id: str | None = None
    is_tracking_inventory: bool = True
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)

    @property
    def address_ref(self) -> tuple[str, str] | None:
        """(tenant uid, address id), None without an address."""
        return None if self.address_id is None else (self.tenant_id, self.address_id)


class StockLevel(Record):
    """WmsStock (`POST /wms/inventory`): one SKU at one location, in units."""

    tenant_id: str
    location_id: str
    sku: str
    available: int
    reserved: int = 0
    claimed: int = 0
    transit: int = 0
    missing: int = 0
    backordered: int = 0
    total: int

    @property
    def location_ref(self) -> tuple[str, str]:
        """(tenant uid, location id)."""
        return (self.tenant_id, self.location_id)

    @property
    def sku_ref(self) -> tuple[str, str]:
        """(tenant uid, SKU)."""
        return (self.tenant_id, self.sku)


class Customer(Record):
    """RelContact (`POST /rel/contacts`)."""

    tenant_id: str
    id: str
    email: str
    given_name: str = ""
    family_name: str = ""
    is_guest: bool = False
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


class OrderStatus(enum.Enum):
    """The order's state as facade shows it (Afosto's OdrOrderState flags, summarised)."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    CANCELED = "canceled"


class Order(Record):
    """OdrOrder (`GET /odr/orders`, `POST /odr/search/orders`)."""

    tenant_id: str
    id: str  # uuid
    number: str
    status: OrderStatus
    channel_id: str | None = None
    customer_id: str | None = None
    shipping_address_id: str | None = None
    billing_address_id: str | None = None
    currency: str = "EUR"
    total: int = 0  # minor units
    created_at: dt.datetime
    canceled_at: dt.datetime | None = None

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)

    @property
    def channel_ref(self) -> tuple[str, str] | None:
        """(tenant uid, sales channel id)."""
        return None if self.channel_id is None else (self.tenant_id, self.channel_id)

    @property
    def customer_ref(self) -> tuple[str, str] | None:
        """(tenant uid, customer id)."""
        return None if self.customer_id is None else (self.tenant_id, self.customer_id)

    @property
    def shipping_address_ref(self) -> tuple[str, str] | None:
        """(tenant uid, address id)."""
        return None if self.shipping_address_id is None else (self.tenant_id, self.shipping_address_id)

    @property
    def billing_address_ref(self) -> tuple[str, str] | None:
        """(tenant uid, address id)."""
        return None if self.billing_address_id is None else (self.tenant_id, self.billing_address_id)


class OrderLine(Record):
    """OdrGroup (`POST /odr/search/orders/items`): an order's items of one SKU, in units."""

    tenant_id: str
    order_id: str
    sku: str
    description: str = ""
    quantity: int

    @property
    def order_ref(self) -> tuple[str, str]:
        """(tenant uid, order id)."""
        return (self.tenant_id, self.order_id)

    @property
    def sku_ref(self) -> tuple[str, str]:
        """(tenant uid, SKU)."""
        return (self.tenant_id, self.sku)

    @property
    def ref(self) -> tuple[str, str, str]:
        """(tenant uid, order id, SKU): a line is one SKU of one order."""
        return (self.tenant_id, self.order_id, self.sku)


class PrintHubStatus(enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"


class PrintHub(Record):
    """SplHub (`GET /spl/hubs`); its live status is `GET /spl/hubs/{id}/status`."""

    tenant_id: str
    id: str
    name: str
    description: str = ""
    status: PrintHubStatus
    status_updated_at: dt.datetime | None = None
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


class Printer(Record):
    """SplPrinter (`GET /spl/printers`)."""

    tenant_id: str
    id: str
    hub_id: str
    name: str
    default_encoding: str = "escpos"
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)

    @property
    def hub_ref(self) -> tuple[str, str]:
        """(tenant uid, print hub id)."""
        return (self.tenant_id, self.hub_id)


class AfostoUser(Record):
    """IamUser (`GET /iam/users`): a user of the Afosto tenant."""

    tenant_id: str
    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    roles: list[str]
    is_primary: bool = False
    created_at: dt.datetime

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)

    @property
    def email_ref(self) -> tuple[str, str]:
        """(tenant uid, e-mail address in lower case): the facade user it is, by e-mail."""
        return (self.tenant_id, self.email.lower())


class AfostoPlan(Record):
    """IamSubscription (`GET /iam/subscriptions`): the Afosto tenant's own plan with Afosto."""

    tenant_id: str
    id: str
    code: str
    is_renewing: bool
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


class AfostoTask(Record):
    """MesTask (`GET /mes/tasks/{id}`): an asynchronous Afosto write (an order's cancellation),
    `progress` in percent; `completed_at` is set once it finished."""

    tenant_id: str
    id: str  # uuid, Afosto's x-task-id
    name: str
    progress: int
    result: str = ""
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None

    @property
    def ref(self) -> tuple[str, str]:
        """(tenant uid, Afosto id): how the graph's loaders key this record."""
        return (self.tenant_id, self.id)


@dataclass(frozen=True, slots=True)
class PriceInput:
    sku: str
    amount: int  # minor units
    original_amount: int | None = None
    active_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StockInput:
    sku: str
    available: int


@dataclass(frozen=True, slots=True)
class ChannelInput:
    name: str | None = None
    type: SalesChannelType | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class LineInput:
    sku: str
    quantity: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class OrderInput:
    channel_id: str
    customer_id: str | None = None
    shipping_address_id: str | None = None
    billing_address_id: str | None = None
    lines: tuple[LineInput, ...] = ()


__all__ = [
    "MAX_MINOR",
    "MAX_QUANTITY",
    "AfostoTenant",
    "AfostoPlan",
    "AfostoTask",
    "AfostoUser",
    "ChannelInput",
    "Customer",
    "LineInput",
    "Location",
    "Order",
    "OrderInput",
    "OrderLine",
    "OrderStatus",
    "PostalAddress",
    "Price",
    "PriceGroup",
    "PriceInput",
    "PrintHub",
    "PrintHubStatus",
    "Printer",
    "SalesChannel",
    "SalesChannelType",
    "StockInput",
    "StockLevel",
    "check_quantities",
    "decimal_amount",
    "exponent",
    "minor_units",
    "order_total",
]
