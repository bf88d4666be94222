"""An order's idempotency key and the digest of the input it was created from, each in a column
of its own: `afosto_orders.idempotency_key` held `<key>\\n<digest>` (revision 0002), so the
unique constraint on (tenant, key) held the pair, and a key was found by a prefix. Now it holds
the key alone, and the constraint holds the key: the database itself refuses a second order
with a key, whatever its input. Rows are split in place; the downgrade joins them again.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Both dialects' spelling of "the position of the first newline" (0 when none) and "a newline".
_FIND = {"postgresql": "strpos(idempotency_key, chr(10))", "sqlite": "instr(idempotency_key, char(10))"}
_NEWLINE = {"postgresql": "chr(10)", "sqlite": "char(10)"}


def upgrade() -> None:
    op.add_column("afosto_orders", sa.Column("input_digest", sa.String(length=64), nullable=True))
    find = _FIND[op.get_context().dialect.name]
    # One statement, so that --sql renders it too; SET reads the row as it was before the update.
    op.execute(
        f"UPDATE afosto_orders SET input_digest = substr(idempotency_key, {find} + 1), "
        f"idempotency_key = substr(idempotency_key, 1, {find} - 1) WHERE {find} > 0"
    )


def downgrade() -> None:
    newline = _NEWLINE[op.get_context().dialect.name]
    op.execute(
        f"UPDATE afosto_orders SET idempotency_key = idempotency_key || {newline} || input_digest "
        "WHERE idempotency_key IS NOT NULL AND input_digest IS NOT NULL"
    )
    op.drop_column("afosto_orders", "input_digest")
