"""Failed checkout attempts per client, shared by every web process (the checkout's limiter).

One row per failure: the client's network address (or a SHA-256 of a longer key) and when it
failed. Indexed by client and time for the limiter's one query, and by time alone for pruning.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkout_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkout_failures"),
    )
    op.create_index(
        "ix_checkout_failures_client_failed_at", "checkout_failures", ["client", "failed_at"]
    )
    op.create_index("ix_checkout_failures_failed_at", "checkout_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_checkout_failures_failed_at", table_name="checkout_failures")
    op.drop_index("ix_checkout_failures_client_failed_at", table_name="checkout_failures")
    op.drop_table("checkout_failures")
