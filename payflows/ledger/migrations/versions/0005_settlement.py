"""Settlement tracking on payment attempts (paid amount, fee, net, paid and settled times),
and an index on when attempts were made, for period reports.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CENTS = ("paid_cents", "fee_cents", "net_cents")
_TIMES = ("paid_at", "settled_at")


def upgrade() -> None:
    with op.batch_alter_table("payment_attempts") as batch:
        for name in _CENTS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
        for name in _TIMES:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_payment_attempts_created_at", "payment_attempts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_attempts_created_at", table_name="payment_attempts")
    with op.batch_alter_table("payment_attempts") as batch:
        for name in reversed(_TIMES):
            batch.drop_column(name)
        for name in reversed(_CENTS):
            batch.drop_column(name)
