"""Holds (authorised money waiting for a decision) and refunds, each stored once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from payflows.domain.money import validate_currency
from payflows.domain.states import Status
from payflows.ledger._common import aware, cents, insert_for
from payflows.ledger.db import UnitOfWork
from payflows.ledger.errors import LedgerError
from payflows.ledger.models import Hold, HoldDecision, Refund, RefundStatus, utcnow
from payflows.ledger.statuses import holds_by_purchase

__all__ = ["decide_hold", "due_holds", "record_hold", "record_refund"]


def record_hold(
    uow: UnitOfWork,
    purchase_id: str,
    *,
    authorised_cents: int,
    currency: str,
    authorised_at: datetime,
    expires_at: datetime,
    brand: str | None = None,
    is_mit: bool = False,
    customer_id: int | None = None,
    attempt_id: int | None = None,
) -> Hold:
    """The hold on ``purchase_id``, stored once; recording it again returns the first one."""
    now = utcnow()
    uow.session.exec(
        insert_for(uow, Hold)
        .values(
            purchase_id=purchase_id,
            attempt_id=attempt_id,
            customer_id=customer_id,
            authorised_cents=cents(authorised_cents, "authorised_cents"),
            captured_cents=0,
            currency=validate_currency(currency),
            brand=brand,
            is_mit=is_mit,
            authorised_at=aware(authorised_at, "authorised_at"),
            expires_at=aware(expires_at, "expires_at"),
            decision=HoldDecision.NONE,
            status=Status.HOLD,
            status_at=authorised_at,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["purchase_id"])
    )
    return uow.session.exec(select(Hold).where(col(Hold.purchase_id) == purchase_id)).one()


def decide_hold(
    uow: UnitOfWork,
    purchase_id: str,
    decision: HoldDecision | str,
    amount_cents: int | None = None,
) -> Hold:
    """Record what to do with an open hold: capture ``amount_cents`` (default: all), or void."""
    hold = holds_by_purchase(uow, [purchase_id]).get(purchase_id)
    if hold is None:
        raise LedgerError(f"no hold for purchase {purchase_id}")
    if hold.status != Status.HOLD:
        raise LedgerError(f"hold {purchase_id} is {hold.status.value}, no longer open")
    choice = HoldDecision(decision)
    if choice == HoldDecision.CAPTURE:
        amount = hold.authorised_cents if amount_cents is None else cents(amount_cents)
        if not 0 < amount <= hold.authorised_cents:
            raise LedgerError(f"cannot capture {amount} of {hold.authorised_cents} authorised")
    else:
        amount = None
    now = utcnow()
    hold.decision, hold.decision_cents, hold.decided_at, hold.updated_at = choice, amount, now, now
    uow.session.flush()
    return hold


def due_holds(
    uow: UnitOfWork, as_of: datetime, margin: timedelta = timedelta(0), *, limit: int | None = None
) -> list[Hold]:
    """Open holds whose authorisation lapses before ``as_of + margin``, soonest first.

    Card networks want a capture at least a day before the window closes: pass that as margin.
    """
    stmt = (
        select(Hold)
        .where(
            col(Hold.status) == Status.HOLD,
            col(Hold.expires_at) <= aware(as_of, "as_of") + margin,
        )
        .order_by(col(Hold.expires_at), col(Hold.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(uow.session.exec(stmt))


def record_refund(
    uow: UnitOfWork,
    refund_id: str,
    purchase_id: str,
    amount_cents: int,
    currency: str,
    *,
    status: RefundStatus | str = RefundStatus.PENDING,
    created_at: datetime | None = None,
    settled_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    attempt_id: int | None = None,
) -> Refund:
    """The refund ``refund_id``, stored once; a pending one may later settle or be cancelled."""
    now = utcnow()
    new_status = RefundStatus(status)
    uow.session.exec(
        insert_for(uow, Refund)
        .values(
            refund_id=refund_id,
            purchase_id=purchase_id,
            attempt_id=attempt_id,
            amount_cents=cents(amount_cents),
            currency=validate_currency(currency),
            status=new_status,
            created_at=aware(created_at, "created_at") if created_at else now,
            settled_at=settled_at,
            cancelled_at=cancelled_at,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["refund_id"])
    )
    refund = uow.session.exec(
        select(Refund)
        .where(col(Refund.refund_id) == refund_id)
        .execution_options(populate_existing=True)
    ).one()
    if refund.status == RefundStatus.PENDING and new_status != RefundStatus.PENDING:
        refund.status = new_status
        if new_status == RefundStatus.SETTLED:
            refund.settled_at = settled_at or now
        if new_status == RefundStatus.CANCELLED:
            refund.cancelled_at = cancelled_at or now
        refund.updated_at = now
    uow.session.flush()
    return refund
