"""Gateway clients for customers who arrived without one (a CSV import, a migration).

A purchase needs a Precium ``client_id``. Customers imported from the merchant's old system have
none, and the billing run would otherwise pass over their subscriptions and one-off charges run
after run. Creating a client moves no money, so it is done before billing, once per customer:
:func:`payflows.payments.ensure_customer` stores the id, and a crash between the create and the
store only leaves a spare client record at the gateway.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import exists, or_, select

from payflows.ledger import (
    Customer,
    OneOffCharge,
    OneOffChargeStatus,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
)
from payflows.payments import PaymentContext, ensure_customer

__all__ = ["ensure_gateway_clients"]


def _customers_without_client(uow: UnitOfWork) -> list[tuple[str, str, str | None]]:
    """Customers with something to bill (a live subscription or a planned charge) and no client."""
    billable = or_(
        exists().where(
            Subscription.customer_id == Customer.id,
            Subscription.status.in_(  # type: ignore[attr-defined]
                [SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]
            ),
        ),
        exists().where(
            OneOffCharge.customer_id == Customer.id,
            OneOffCharge.status == OneOffChargeStatus.PLANNED,
        ),
    )
    rows = uow.session.execute(
        select(Customer.external_id, Customer.email, Customer.full_name)
        .where(Customer.precium_client_id.is_(None), Customer.email.is_not(None), billable)  # type: ignore[union-attr]
        .order_by(Customer.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


async def ensure_gateway_clients(ctx: PaymentContext, *, concurrency: int = 8) -> int:
    """Create the missing gateway clients of billable customers; returns how many were made.

    Customers without an email are left as they are (Precium needs one); their charges stay
    due and are counted as deferred by the run.
    """
    missing: list[tuple[str, str, str | None]] = await ctx.ledger(_customers_without_client)
    gate = asyncio.Semaphore(concurrency)

    async def create(external_id: str, email: str, full_name: str | None) -> None:
        async with gate:
            await ensure_customer(ctx, external_id, email=email, full_name=full_name)

    await asyncio.gather(*(create(*row) for row in missing))
    return len(missing)
