"""Reconciliation: read back the MIT attempts a crashed run left in flight, before billing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import select

from payflows.domain.attempts import RESOLVED
from payflows.gateway import PreciumError
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    OneOffCharge,
    PaymentAttempt,
    Subscription,
    UnitOfWork,
)
from payflows.ledger.models import utcnow
from payflows.payments import PaymentContext, settle_by_read_back

__all__ = ["reconcile"]


async def reconcile(
    ctx: PaymentContext, *, worker_id: str, concurrency: int = 16, limit: int = 100_000
) -> int:
    """Read back MIT attempts a crash left in flight; returns how many were settled.

    Both subscription periods and one-off charges (an attempt belongs to a one-off charge when
    the plan's ``attempt_id`` points at it). Attempts whose subscription or charge another
    worker holds are skipped: that worker is still acting on them. Settling here only records
    what the gateway says; the billing date, the plan's status and dunning follow when the
    billing loop meets the resolved attempt.
    """
    in_flight = PaymentAttempt.state.in_([AttemptState.SUBMITTED, AttemptState.UNKNOWN])  # type: ignore[attr-defined]

    def free(model: Any, now: datetime) -> Any:
        return (
            model.claimed_until.is_(None)
            | (model.claimed_until <= now)
            | (model.claimed_by == worker_id)
        )

    def find(uow: UnitOfWork) -> list[str]:
        now = utcnow()  # leases run on the wall clock, not the business time
        keys = []
        for model, joined in (
            (Subscription, Subscription.id == PaymentAttempt.subscription_id),
            (OneOffCharge, OneOffCharge.attempt_id == PaymentAttempt.id),
        ):
            rows = uow.session.exec(
                select(PaymentAttempt.business_key)
                .join(model, joined)  # type: ignore[arg-type]
                .where(PaymentAttempt.kind == AttemptKind.MIT, in_flight, free(model, now))
                .order_by(PaymentAttempt.id)
                .limit(limit)
            ).all()
            keys += [r[0] for r in rows]
        return keys

    keys: list[str] = await ctx.ledger(find)
    sem = asyncio.Semaphore(concurrency)
    settled = 0

    async def one(key: str) -> None:
        nonlocal settled
        async with sem:
            try:
                outcome = await settle_by_read_back(ctx, key)
            except PreciumError:
                return
            settled += outcome.state in RESOLVED

    await asyncio.gather(*(one(k) for k in keys))
    return settled
