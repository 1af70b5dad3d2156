"""3-D Secure challenges waiting for the shopper's bank.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "three_ds_challenges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("md", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(200), nullable=False),
        sa.Column("purchase_id", sa.String(64), nullable=False),
        sa.Column("acs_url", sa.String(1000), nullable=False),
        sa.Column("callback_url", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_three_ds_challenges"),
        sa.UniqueConstraint("md", name="uq_three_ds_challenges_md"),
    )
    op.create_index("ix_three_ds_challenges_business_key", "three_ds_challenges", ["business_key"])
    op.create_index("ix_three_ds_challenges_purchase_id", "three_ds_challenges", ["purchase_id"])


def downgrade() -> None:
    op.drop_index("ix_three_ds_challenges_purchase_id", table_name="three_ds_challenges")
    op.drop_index("ix_three_ds_challenges_business_key", table_name="three_ds_challenges")
    op.drop_table("three_ds_challenges")
