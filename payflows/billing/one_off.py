"""One-off charges in the billing run: which are due, how a run claims them, their keys.

A one-off charge is an invoice line the merchant imported (:class:`~payflows.ledger.OneOffCharge`,
status ``planned``, a ``charge_on`` date). The billing run charges it through the same batched
MIT path as a subscription period; this module holds what differs: the business key, what "due"
means, and the lease that keeps two concurrent runs from even trying the same charge (the
unique business key would stop the second purchase anyway, but only after a wasted intent and
a race for the purchase id).

A declined one-off charge is treated like a declined subscription period, because a merchant
expects the invoice to be collected when the card allows it and the networks allow a retry:
soft declines are retried per the run's :class:`~payflows.billing.DunningPolicy` (its schedule,
Mastercard advice codes, the networks' caps on the card), each retry under its own key
``oneoff:{external_id}:try{n}``; a hard decline, exhausted retries, a refused charge or a
deleted card mark the plan ``failed`` with the decline code and the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from payflows.ledger import OneOffCharge, OneOffChargeStatus, UnitOfWork
from payflows.ledger.models import utcnow
from payflows.ledger.subscriptions import lease_rows

__all__ = [
    "claim_due_one_offs",
    "due_one_offs",
    "one_off_key",
    "release_one_off_claims",
]

_CHUNK = 500


def one_off_key(external_id: str, failed_attempts: int = 0) -> str:
    """``oneoff:{external_id}``, then ``oneoff:{external_id}:try{n}`` for the n-th attempt.

    As for subscriptions, a retry gets its own key (and purchase) only once the previous
    attempt is resolved as declined: ``failed_attempts`` moves in the commit of that decline.
    """
    base = f"oneoff:{external_id}"
    return base if failed_attempts == 0 else f"{base}:try{failed_attempts + 1}"


def due_one_offs(as_of: datetime, now: datetime) -> SelectOfScalar[int | None]:
    """Ids of planned charges due at ``as_of`` (``charge_on`` its UTC date or earlier, a retry
    time passed) whose lease, if any, has run out at ``now``; oldest first."""
    return (
        select(col(OneOffCharge.id))
        .where(
            col(OneOffCharge.status) == OneOffChargeStatus.PLANNED,
            col(OneOffCharge.charge_on) <= as_of.astimezone(UTC).date(),
            or_(col(OneOffCharge.retry_at).is_(None), col(OneOffCharge.retry_at) <= as_of),
            or_(
                col(OneOffCharge.claimed_until).is_(None),
                col(OneOffCharge.claimed_until) <= now,
            ),
        )
        .order_by(col(OneOffCharge.charge_on), col(OneOffCharge.id))
    )


def claim_due_one_offs(
    uow: UnitOfWork,
    as_of: datetime,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    *,
    now: datetime | None = None,
) -> list[OneOffCharge]:
    """Lease up to ``limit`` due one-off charges to ``worker_id``; two workers never share one.

    The same claim as :func:`payflows.ledger.claim_due_subscriptions`: ``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL, one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` on
    SQLite. Commit soon after: the claim is durable only then.
    """
    now = now or utcnow()
    if limit <= 0:
        return []
    values = {
        "claimed_by": worker_id,
        "claimed_until": now + timedelta(seconds=lease_seconds),
        "updated_at": now,
    }
    claimed = lease_rows(uow, OneOffCharge, due_one_offs(as_of, now).limit(limit), values)
    return sorted(claimed, key=lambda c: (c.charge_on, c.id or 0))


def release_one_off_claims(uow: UnitOfWork, ids: Iterable[int] | None, worker_id: str) -> int:
    """Give back leases held by ``worker_id`` (all of them when ``ids`` is None)."""
    chunks: list[list[int] | None]
    if ids is None:
        chunks = [None]
    else:
        found = list(ids)
        chunks = [found[i : i + _CHUNK] for i in range(0, len(found), _CHUNK)]
    released = 0
    for chunk in chunks:
        stmt = update(OneOffCharge).where(col(OneOffCharge.claimed_by) == worker_id)
        if chunk is not None:
            stmt = stmt.where(col(OneOffCharge.id).in_(chunk))
        result = uow.session.exec(
            stmt.values(claimed_by=None, claimed_until=None).execution_options(
                synchronize_session=False
            )
        )
        released += result.rowcount
    return released
