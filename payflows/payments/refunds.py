"""Refunds of a paid purchase, once per merchant reference, and their cancellation."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from payflows.gateway import (
    Purchase,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    PaymentAttempt,
    RefundStatus,
    UnitOfWork,
    get_attempt,
    record_refund,
)
from payflows.ledger.models import Refund as LedgerRefund
from payflows.payments.actions import act_on, same_currency
from payflows.payments.context import OperationRejected, PaymentContext, PaymentOutcome

__all__ = ["cancel_refund", "refund_purchase"]


def _refunded_per_ledger(uow: UnitOfWork, purchase_id: str, except_key: str) -> int:
    """Cents the ledger knows were refunded on ``purchase_id`` (other refunds, not cancelled)."""
    attempts = uow.session.exec(
        select(PaymentAttempt).where(
            PaymentAttempt.related_purchase_id == purchase_id,
            PaymentAttempt.kind == AttemptKind.REFUND,
            PaymentAttempt.state == AttemptState.SUCCEEDED,
            PaymentAttempt.business_key != except_key,
        )
    ).all()
    cancelled = uow.session.exec(
        select(LedgerRefund).where(
            LedgerRefund.purchase_id == purchase_id,
            LedgerRefund.status == RefundStatus.CANCELLED,
        )
    ).all()
    return sum(a.amount_cents for a in attempts) - sum(r.amount_cents for r in cancelled)


async def refund_purchase(
    ctx: PaymentContext,
    purchase_id: str,
    amount_cents: int | None,
    *,
    refund_ref: str,
    currency: str | None = None,
) -> PaymentOutcome:
    """Refund all or part of a paid purchase, once per ``refund_ref`` (the merchant's id).

    A lost answer is settled from the purchase's ``refundable_amount``: the ledger knows what
    was paid and which other refunds it made, so a refundable amount at or below
    ``paid - other refunds - this refund`` means this refund landed. Its id then arrives with
    the ``payment.refunded`` webhook. ``currency``, when given, is the one ``amount_cents`` was
    typed in: refused unless the purchase's.
    """
    purchase = await ctx.gateway.get_purchase(purchase_id)
    same_currency(purchase, amount_cents, currency)
    refundable = purchase.refundable_amount or 0
    key = f"refund:{purchase_id}:{refund_ref}"
    existing: PaymentAttempt | None = await ctx.ledger(
        lambda uow: get_attempt(uow, business_key=key)
    )
    if existing is not None:
        amount = existing.amount_cents
    else:
        amount = refundable if amount_cents is None else amount_cents
        if not 0 < amount <= refundable:
            raise OperationRejected(
                f"refund of {amount} cents is more than the refundable {refundable} cents"
            )
    paid = purchase.payment.amount if purchase.payment and purchase.payment.amount else None
    paid = paid if paid is not None else (purchase.total or 0)
    others = await ctx.ledger(lambda uow: _refunded_per_ledger(uow, purchase_id, key))
    currency = purchase.currency or "ZAR"

    def landed(p: Purchase) -> bool:
        return (p.refundable_amount or 0) <= paid - others - amount

    outcome, answer = await act_on(
        ctx,
        key,
        AttemptKind.REFUND,
        purchase,
        amount,
        lambda: ctx.gateway.refund(purchase_id, amount),
        landed,
    )
    refund_id = getattr(answer, "refund_id", None)
    if refund_id:

        def store(uow: UnitOfWork) -> None:
            attempt = get_attempt(uow, business_key=key)
            record_refund(
                uow,
                refund_id,
                purchase_id,
                amount,
                currency,
                attempt_id=attempt.id if attempt else None,
            )

        await ctx.ledger(store)
    return outcome.model_copy(update={"refund_id": refund_id})


async def cancel_refund(ctx: PaymentContext, purchase_id: str, refund_id: str) -> PaymentOutcome:
    """Cancel a refund before it settles. Cancelling it again is harmless."""

    def find(uow: UnitOfWork) -> LedgerRefund | None:
        return uow.session.exec(
            select(LedgerRefund).where(LedgerRefund.refund_id == refund_id)
        ).first()

    refund = await ctx.ledger(find)
    if refund is not None and refund.status is RefundStatus.SETTLED:
        raise OperationRejected(f"refund {refund_id} has settled and can no longer be cancelled")
    purchase = await ctx.gateway.get_purchase(purchase_id)
    key = f"refund_cancel:{refund_id}"
    amount = refund.amount_cents if refund else 0

    async def call() -> Any:
        return await ctx.gateway.cancel_refund(purchase_id, refund_id)

    outcome, _answer = await act_on(
        ctx,
        key,
        AttemptKind.REFUND_CANCEL,
        purchase,
        amount,
        call,
        lambda p: False,  # only the gateway's own answer proves a cancel
    )
    if outcome.succeeded and refund is not None:
        await ctx.ledger(
            lambda uow: record_refund(
                uow,
                refund_id,
                purchase_id,
                refund.amount_cents,
                refund.currency,
                status=RefundStatus.CANCELLED,
            )
        )
    return outcome
