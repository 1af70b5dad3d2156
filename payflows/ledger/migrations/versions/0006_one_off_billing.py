"""One-off charges billed by the billing run; subscriptions' anchor day and dunning reason.

One-off charges get the dunning state and the lease a subscription has (``failed_attempts``,
``last_decline_code``, ``dunning_reason``, ``retry_at``, ``claimed_by``, ``claimed_until``) so
that the billing run claims them the same way and two runs never even try the same one.

Subscriptions get ``anchor_day`` (the day of month their schedule keeps) and ``dunning_reason``.
Existing subscriptions take their anchor day from their first MIT attempt's period
(``sub:{id}:YYYY-MM-DD``), else from their next billing date, which is what the billing run
derived before this column existed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:00:00+00:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERIOD = re.compile(r"^sub:\d+:\d{4}-\d{2}-(\d{2})")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("anchor_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dunning_reason", sa.String(120), nullable=True))
    with op.batch_alter_table("one_off_charges") as batch:
        batch.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_decline_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("dunning_reason", sa.String(120), nullable=True))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    _backfill_anchor_days()


def _backfill_anchor_days() -> None:
    bind = op.get_bind()
    subs = sa.table(
        "subscriptions",
        sa.column("id", sa.Integer()),
        sa.column("next_billing_at", sa.DateTime()),
        sa.column("anchor_day", sa.Integer()),
    )
    attempts = sa.table(
        "payment_attempts",
        sa.column("id", sa.Integer()),
        sa.column("subscription_id", sa.Integer()),
        sa.column("business_key", sa.String()),
    )
    first: dict[int, int] = {}
    for sub_id, key in bind.execute(
        sa.select(attempts.c.subscription_id, attempts.c.business_key)
        .where(attempts.c.subscription_id.is_not(None))
        .order_by(attempts.c.id)
    ):
        match = _PERIOD.match(key or "")
        if match and sub_id not in first:
            first[sub_id] = int(match.group(1))
    rows = [
        {"sid": sub_id, "day": max(first.get(sub_id, 0), _utc(at).day)}
        for sub_id, at in bind.execute(sa.select(subs.c.id, subs.c.next_billing_at))
        if at is not None
    ]
    if rows:
        bind.execute(
            subs.update()
            .where(subs.c.id == sa.bindparam("sid"))
            .values(anchor_day=sa.bindparam("day")),
            rows,
        )


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive UTC; PostgreSQL an aware value in the session's time zone.
    return value.astimezone(UTC) if value.tzinfo is not None else value


def downgrade() -> None:
    with op.batch_alter_table("one_off_charges") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("retry_at")
        batch.drop_column("dunning_reason")
        batch.drop_column("last_decline_code")
        batch.drop_column("failed_attempts")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("dunning_reason")
        batch.drop_column("anchor_day")
