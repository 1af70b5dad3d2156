"""One-off charges planned on stored cards (CSV import), and customers' phone and country.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))
        batch.add_column(sa.Column("country", sa.String(2), nullable=True))
    op.create_table(
        "one_off_charges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("payment_method_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("charge_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_one_off_charges"),
        sa.UniqueConstraint("external_id", name="uq_one_off_charges_external_id"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_one_off_charges_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(
            ["payment_method_id"],
            ["payment_methods.id"],
            name="fk_one_off_charges_payment_method_id_payment_methods",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["payment_attempts.id"],
            name="fk_one_off_charges_attempt_id_payment_attempts",
        ),
    )
    op.create_index("ix_one_off_charges_customer_id", "one_off_charges", ["customer_id"])
    op.create_index("ix_one_off_charges_due", "one_off_charges", ["status", "charge_on"])


def downgrade() -> None:
    op.drop_index("ix_one_off_charges_due", table_name="one_off_charges")
    op.drop_index("ix_one_off_charges_customer_id", table_name="one_off_charges")
    op.drop_table("one_off_charges")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("country")
        batch.drop_column("phone")
