"""The local store's tables (SQLAlchemy Core). The Alembic revisions in `migrations/versions/`
create them; this module is what queries are written against and always equals the head revision,
so a change here needs a revision (`facade db revision -m ...`): a test compares the two."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stamp: dt.datetime = value
        return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp


metadata = MetaData()

Stamp = UTCDateTime

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(120), nullable=False, unique=True),
    Column("email", String(200), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("first_name", String(100), nullable=False, default=""),
    Column("last_name", String(100), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=True, index=True),
    Column("tenant_role", String(20), nullable=False, default="ACCESS"),
    Column("user_code", String(40), nullable=True),
    Column("account_type", String(20), nullable=False, default="FULL"),
    Column("default_store_id", Integer, nullable=True),
    Column("is_vendor", Boolean, nullable=False, default=False),
    Column("is_whitelabeled", Boolean, nullable=False, default=False),
    Column("created_at", Stamp, nullable=False),
    UniqueConstraint("tenant_id", "user_code", name="uq_users_tenant_user_code"),
)

stores = Table(
    "stores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(64), nullable=False, unique=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("shop_name", String(200), nullable=False),
    Column("url", String(300), nullable=False),
    Column("street_1", String(200), nullable=False),
    Column("street_2", String(200), nullable=False),
    Column("city", String(100), nullable=False),
    Column("zip", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("state", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

store_access = Table(
    "store_access",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("store_role", String(20), nullable=False, default="ACCESS"),
    Index("ix_store_access_store", "store_id"),
)

tills = Table(
    "tills",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=False, index=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("short_description", Text, nullable=False),
    Column("average_rating", String(10), nullable=False, default="0.00"),
    Column("rating_count", Integer, nullable=False, default=0),
    Column("categories", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("meta_data", JSON, nullable=False),
    Column("stock_status", String(20), nullable=False),
    Column("permalink", String(300), nullable=False),
    Column("price", String(20), nullable=False),
    Column("purchasable", Boolean, nullable=False),
    Column("is_app", Boolean, nullable=False, default=False),
    Column("app_id", String(200), nullable=True, unique=True),
    Column("is_official", Boolean, nullable=False, default=True),
    Column("created_at", Stamp, nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "product_id",
        Integer,
        ForeignKey("products.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True, index=True),
    Column("reviewer", String(200), nullable=False),
    Column("reviewer_email", String(200), nullable=False),
    Column("review", Text, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("created_at", Stamp, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("billing", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
)

line_items = Table(
    "line_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False, index=True),
    Column("variation_id", Integer, nullable=False, default=0),
    Column("quantity", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("image", JSON, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=True, index=True),
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=True, index=True),
    Column("till_id", String(64), ForeignKey("tills.id"), nullable=True),
    Column("name", String(200), nullable=True),
    Column("app_type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("system_information", Text, nullable=True),
    Column("device_code", String(64), nullable=True, unique=True),
    Column("client_id", String(100), nullable=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=True, index=True),
    Column("manufacturer_id", Integer, nullable=True),
    Column("manufacturer_name", String(200), nullable=True),
    Column("model", String(200), nullable=True),
    Column("serial_number", String(200), nullable=True, unique=True),
    Column("manufacture_date", Date, nullable=True),
    Column("license_status", Integer, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("last_modified_at", Stamp, nullable=False),
)

licenses = Table(
    "licenses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=True, index=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=True),
    Column(
        "device_id",
        String(64),
        ForeignKey("devices.id", ondelete="SET NULL"),
        nullable=True,
        unique=True,
    ),
    Column("session_id", String(36), nullable=True, unique=True),
    Column("session_timestamp", Integer, nullable=True),
    Column("activated_at", Stamp, nullable=True),
    Column("valid_until", Stamp, nullable=True),
    Column("created_at", Stamp, nullable=False),
)

app_manifests = Table(
    "app_manifests",
    metadata,
    Column("app", String(200), primary_key=True),
    Column("version", String(100), primary_key=True),
    Column("schema_version", String(40), primary_key=True),
    Column("manifest", JSON, nullable=False),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=True, index=True),
)

download_tokens = Table(
    "download_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app", String(200), nullable=False),
    Column("version", String(100), nullable=False),
    Column("session_id", String(36), nullable=False, index=True),
    Column("username", String(100), nullable=False),
    Column("password", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

# ---------------------------------------------------------------------------------------------
# Issue 11: the join keys between facade's records and Afosto's (local store, both modes), and
# local mode's copy of Afosto's commerce data. Afosto ids are strings (mostly uuids) unique within
# an Afosto tenant; every Afosto table carries the Afosto tenant it belongs to.

afosto_tenant_links = Table(
    "afosto_tenant_links",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False, unique=True),
)

store_sales_channels = Table(
    "store_sales_channels",
    metadata,
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", String(64), primary_key=True),
    Index("ix_store_sales_channels_channel", "channel_id"),
)

store_stock_locations = Table(
    "store_stock_locations",
    metadata,
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", String(64), nullable=False),
    Index("ix_store_stock_locations_location", "location_id"),
)

product_skus = Table(
    "product_skus",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    UniqueConstraint("tenant_id", "sku", name="uq_product_skus_tenant_sku"),
)

device_print_hubs = Table(
    "device_print_hubs",
    metadata,
    Column("device_id", String(64), ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("hub_id", String(64), nullable=False),
    Index("ix_device_print_hubs_hub", "hub_id"),
)

afosto_channels = Table(
    "afosto_channels",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_channels_tenant", "afosto_tenant_id", "id"),
)

afosto_price_groups = Table(
    "afosto_price_groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("is_including_vat", Boolean, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_price_groups_tenant", "afosto_tenant_id", "id"),
)

afosto_prices = Table(
    "afosto_prices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column(
        "price_group_id",
        String(64),
        ForeignKey("afosto_price_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("sku", String(64), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("original_amount", Integer, nullable=True),
    Column("vat_rate", String(10), nullable=True),
    Column("active_at", Stamp, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_prices_group_sku", "price_group_id", "sku"),
    Index("ix_afosto_prices_tenant", "afosto_tenant_id", "id"),
)

afosto_addresses = Table(
    "afosto_addresses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("country_code", String(2), nullable=False),
    Column("administrative_area", String(100), nullable=False, default=""),
    Column("locality", String(100), nullable=False, default=""),
    Column("postal_code", String(20), nullable=False, default=""),
    Column("address_line_1", String(200), nullable=False, default=""),
    Column("address_line_2", String(200), nullable=False, default=""),
    Column("organisation", String(200), nullable=False, default=""),
    Column("given_name", String(100), nullable=False, default=""),
    Column("family_name", String(100), nullable=False, default=""),
    Index("ix_afosto_addresses_tenant", "afosto_tenant_id", "id"),
)

afosto_locations = Table(
    "afosto_locations",
    metadata,
    Column("afosto_tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country_code", String(2), nullable=False, default=""),
    Column("address_id", String(64), ForeignKey("afosto_addresses.id"), nullable=True),
    Column("is_tracking_inventory", Boolean, nullable=False, default=True),
    Column("created_at", Stamp, nullable=False),
)

afosto_stock = Table(
    "afosto_stock",
    metadata,
    Column("afosto_tenant_id", String(64), primary_key=True),
    Column("location_id", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("available", Integer, nullable=False, default=0),
    Column("reserved", Integer, nullable=False, default=0),
    Column("claimed", Integer, nullable=False, default=0),
    Column("transit", Integer, nullable=False, default=0),
    Column("missing", Integer, nullable=False, default=0),
    Column("backordered", Integer, nullable=False, default=0),
    ForeignKeyConstraint(
        ["afosto_tenant_id", "location_id"],
        ["afosto_locations.afosto_tenant_id", "afosto_locations.id"],
        ondelete="CASCADE",
        name="fk_afosto_stock_location",
    ),
    Index("ix_afosto_stock_tenant_sku", "afosto_tenant_id", "sku"),
)

afosto_customers = Table(
    "afosto_customers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("email", String(200), nullable=False),
    Column("given_name", String(100), nullable=False, default=""),
    Column("family_name", String(100), nullable=False, default=""),
    Column("is_guest", Boolean, nullable=False, default=False),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_customers_tenant", "afosto_tenant_id", "id"),
)

afosto_orders = Table(
    "afosto_orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("number", String(32), nullable=False),
    Column("status", String(20), nullable=False),
    Column("channel_id", String(64), ForeignKey("afosto_channels.id"), nullable=True),
    Column("customer_id", String(64), ForeignKey("afosto_customers.id"), nullable=True),
    Column("shipping_address_id", String(64), ForeignKey("afosto_addresses.id"), nullable=True),
    Column("billing_address_id", String(64), ForeignKey("afosto_addresses.id"), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("total", Integer, nullable=False, default=0),
    Column("idempotency_key", String(200), nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("canceled_at", Stamp, nullable=True),
    # The first 32 hex digits of the SHA-256 of the input that created the order with its key
    # (null for a seeded order, which has no key): the same key with another input is a conflict.
    Column("input_digest", String(64), nullable=True),
    UniqueConstraint("afosto_tenant_id", "idempotency_key", name="uq_afosto_orders_idempotency_key"),
    UniqueConstraint("afosto_tenant_id", "number", name="uq_afosto_orders_number"),
    Index("ix_afosto_orders_tenant", "afosto_tenant_id", "id"),
)

afosto_order_lines = Table(
    "afosto_order_lines",
    metadata,
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("order_id", String(64), ForeignKey("afosto_orders.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("description", String(300), nullable=False, default=""),
    Column("quantity", Integer, nullable=False),
    Index("ix_afosto_order_lines_tenant_sku", "afosto_tenant_id", "sku"),
)

# The idempotency keys of lines added to an order (`POST /odr/orders/{id}/items` with
# x-idempotency-key): a key names one addition of lines to one order, kept with the digest of the
# lines it sent, so the same lines again add nothing and other lines are a conflict.
afosto_order_line_keys = Table(
    "afosto_order_line_keys",
    metadata,
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("order_id", String(64), ForeignKey("afosto_orders.id", ondelete="CASCADE"), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("input_digest", String(64), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

afosto_print_hubs = Table(
    "afosto_print_hubs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("status_updated_at", Stamp, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_print_hubs_tenant", "afosto_tenant_id", "id"),
)

afosto_printers = Table(
    "afosto_printers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("hub_id", String(64), ForeignKey("afosto_print_hubs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("default_encoding", String(40), nullable=False, default="escpos"),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_printers_tenant", "afosto_tenant_id", "id"),
    Index("ix_afosto_printers_hub", "hub_id"),
)

afosto_users = Table(
    "afosto_users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("email", String(200), nullable=False),
    Column("first_name", String(100), nullable=False, default=""),
    Column("last_name", String(100), nullable=False, default=""),
    Column("roles", JSON, nullable=False),
    Column("is_primary", Boolean, nullable=False, default=False),
    Column("created_at", Stamp, nullable=False),
    Index("ix_afosto_users_tenant", "afosto_tenant_id", "id"),
)

afosto_plans = Table(
    "afosto_plans",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("code", String(100), nullable=False),
    Column("is_renewing", Boolean, nullable=False),
    Column("start_at", Stamp, nullable=True),
    Column("end_at", Stamp, nullable=True),
    Index("ix_afosto_plans_tenant", "afosto_tenant_id", "id"),
)

afosto_tasks = Table(
    "afosto_tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("afosto_tenant_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("progress", Integer, nullable=False),
    Column("result", Text, nullable=False, default=""),
    Column("started_at", Stamp, nullable=True),
    Column("completed_at", Stamp, nullable=True),
    Index("ix_afosto_tasks_tenant", "afosto_tenant_id", "id"),
)
