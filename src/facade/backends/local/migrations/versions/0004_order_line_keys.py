"""The idempotency keys of lines added to an order (`addOrderLines(idempotencyKey:)`, Afosto's
`POST /odr/orders/{id}/items` with x-idempotency-key): one row per (order, key) with the digest
of the lines that key added. An order's own key (revision 0003) stays on the order.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "afosto_order_line_keys",
        sa.Column("afosto_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["afosto_orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("afosto_order_line_keys")
