"""Pre-authorisation sweeps: per-hold policy, extended flag, gateway expiry, last action and
claim on holds, and the hold_actions audit trail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("policy", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("extended", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("gateway_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_action", sa.String(20), nullable=True))
        batch.add_column(sa.Column("last_reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "hold_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hold_actions"),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], name="fk_hold_actions_hold_id_holds"),
    )
    op.create_index("ix_hold_actions_hold_id", "hold_actions", ["hold_id"])


def downgrade() -> None:
    op.drop_index("ix_hold_actions_hold_id", table_name="hold_actions")
    op.drop_table("hold_actions")
    with op.batch_alter_table("holds") as batch:
        for name in (
            "claimed_until",
            "claimed_by",
            "alerted_at",
            "acted_at",
            "last_reason",
            "last_action",
            "gateway_expires_at",
            "extended",
            "policy",
        ):
            batch.drop_column(name)
