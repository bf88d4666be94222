"""Issue 11: the join keys between facade's records and Afosto's (afosto_tenant_links,
store_sales_channels, store_stock_locations, product_skus, device_print_hubs) and local mode's
Afosto data (afosto_* tables: channels, price groups, prices, addresses, locations, stock,
customers, orders and their lines, print hubs, printers, users, plans, tasks). New tables only:
nothing existing changes, and the downgrade drops exactly these.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "afosto_addresses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("administrative_area", sa.String(length=100), nullable=False),
        sa.Column("locality", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("address_line_1", sa.String(length=200), nullable=False),
        sa.Column("address_line_2", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_addresses_tenant", "afosto_addresses", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_channels",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_channels_tenant", "afosto_channels", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_customers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("is_guest", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_customers_tenant", "afosto_customers", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_plans",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("is_renewing", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_plans_tenant", "afosto_plans", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_price_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_including_vat", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_price_groups_tenant", "afosto_price_groups", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_print_hubs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_print_hubs_tenant", "afosto_print_hubs", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_tasks_tenant", "afosto_tasks", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_users_tenant", "afosto_users", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_locations",
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("address_id", sa.String(length=64), nullable=True),
        sa.Column("is_tracking_inventory", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["afosto_addresses.id"],
        ),
        sa.PrimaryKeyConstraint("afosto_tenant_id", "id"),
    )
    op.create_table(
        "afosto_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("shipping_address_id", sa.String(length=64), nullable=True),
        sa.Column("billing_address_id", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["billing_address_id"],
            ["afosto_addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["afosto_channels.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["afosto_customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shipping_address_id"],
            ["afosto_addresses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("afosto_tenant_id", "idempotency_key", name="uq_afosto_orders_idempotency_key"),
        sa.UniqueConstraint("afosto_tenant_id", "number", name="uq_afosto_orders_number"),
    )
    op.create_index("ix_afosto_orders_tenant", "afosto_orders", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_prices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("price_group_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("original_amount", sa.Integer(), nullable=True),
        sa.Column("vat_rate", sa.String(length=10), nullable=True),
        sa.Column("active_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["price_group_id"], ["afosto_price_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_prices_group_sku", "afosto_prices", ["price_group_id", "sku"], unique=False)
    op.create_index("ix_afosto_prices_tenant", "afosto_prices", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_printers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("hub_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("default_encoding", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hub_id"], ["afosto_print_hubs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_afosto_printers_hub", "afosto_printers", ["hub_id"], unique=False)
    op.create_index("ix_afosto_printers_tenant", "afosto_printers", ["afosto_tenant_id", "id"], unique=False)

    op.create_table(
        "afosto_tenant_links",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id"),
        sa.UniqueConstraint("afosto_tenant_id"),
    )
    op.create_table(
        "afosto_order_lines",
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["afosto_orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "sku"),
    )
    op.create_index("ix_afosto_order_lines_tenant_sku", "afosto_order_lines", ["afosto_tenant_id", "sku"], unique=False)

    op.create_table(
        "afosto_stock",
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("transit", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("backordered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["afosto_tenant_id", "location_id"],
            ["afosto_locations.afosto_tenant_id", "afosto_locations.id"],
            name="fk_afosto_stock_location",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("afosto_tenant_id", "location_id", "sku"),
    )
    op.create_index("ix_afosto_stock_tenant_sku", "afosto_stock", ["afosto_tenant_id", "sku"], unique=False)

    op.create_table(
        "store_sales_channels",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("store_id", "channel_id"),
    )
    op.create_index("ix_store_sales_channels_channel", "store_sales_channels", ["channel_id"], unique=False)

    op.create_table(
        "store_stock_locations",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("store_id"),
    )
    op.create_index("ix_store_stock_locations_location", "store_stock_locations", ["location_id"], unique=False)

    op.create_table(
        "product_skus",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
        ),
        sa.PrimaryKeyConstraint("product_id"),
        sa.UniqueConstraint("tenant_id", "sku", name="uq_product_skus_tenant_sku"),
    )
    op.create_table(
        "device_print_hubs",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("hub_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_device_print_hubs_hub", "device_print_hubs", ["hub_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_device_print_hubs_hub", table_name="device_print_hubs")

    op.drop_table("device_print_hubs")
    op.drop_table("product_skus")
    op.drop_index("ix_store_stock_locations_location", table_name="store_stock_locations")

    op.drop_table("store_stock_locations")
    op.drop_index("ix_store_sales_channels_channel", table_name="store_sales_channels")

    op.drop_table("store_sales_channels")
    op.drop_index("ix_afosto_stock_tenant_sku", table_name="afosto_stock")

    op.drop_table("afosto_stock")
    op.drop_index("ix_afosto_order_lines_tenant_sku", table_name="afosto_order_lines")

    op.drop_table("afosto_order_lines")
    op.drop_table("afosto_tenant_links")
    op.drop_index("ix_afosto_printers_tenant", table_name="afosto_printers")
    op.drop_index("ix_afosto_printers_hub", table_name="afosto_printers")

    op.drop_table("afosto_printers")
    op.drop_index("ix_afosto_prices_tenant", table_name="afosto_prices")
    op.drop_index("ix_afosto_prices_group_sku", table_name="afosto_prices")

    op.drop_table("afosto_prices")
    op.drop_index("ix_afosto_orders_tenant", table_name="afosto_orders")

    op.drop_table("afosto_orders")
    op.drop_table("afosto_locations")
    op.drop_index("ix_afosto_users_tenant", table_name="afosto_users")

    op.drop_table("afosto_users")
    op.drop_index("ix_afosto_tasks_tenant", table_name="afosto_tasks")

    op.drop_table("afosto_tasks")
    op.drop_index("ix_afosto_print_hubs_tenant", table_name="afosto_print_hubs")

    op.drop_table("afosto_print_hubs")
    op.drop_index("ix_afosto_price_groups_tenant", table_name="afosto_price_groups")

    op.drop_table("afosto_price_groups")
    op.drop_index("ix_afosto_plans_tenant", table_name="afosto_plans")

    op.drop_table("afosto_plans")
    op.drop_index("ix_afosto_customers_tenant", table_name="afosto_customers")

    op.drop_table("afosto_customers")
    op.drop_index("ix_afosto_channels_tenant", table_name="afosto_channels")

    op.drop_table("afosto_channels")
    op.drop_index("ix_afosto_addresses_tenant", table_name="afosto_addresses")

    op.drop_table("afosto_addresses")
