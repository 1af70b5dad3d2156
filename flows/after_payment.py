"""After a payment: cancel it before settlement, refund it (all or part), cancel a refund."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._models import (
    PaymentResult,
    PurchaseCancelRequest,
    RefundCancelRequest,
    RefundRequest,
)
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["cancel_purchase", "cancel_refund", "refund"]


@flow(name="cancel-purchase", flow_run_name="cancel-{params.purchase_id}", persist_result=False)
async def cancel_purchase(params: PurchaseCancelRequest) -> State[PaymentResult]:
    """Cancel a purchase that has not settled (a settled one must be refunded instead)."""
    async with payment_context():
        outcome = await tasks.cancel_purchase(params.purchase_id)
        return await finish("cancel-purchase", outcome)


@flow(name="refund", flow_run_name="refund-{params.refund_ref}", persist_result=False)
async def refund(params: RefundRequest) -> State[PaymentResult]:
    """Refund up to the refundable amount; once per refund reference."""
    async with payment_context():
        outcome = await tasks.refund_purchase(
            params.purchase_id, params.amount_cents, params.refund_ref
        )
        return await finish("refund", outcome)


@flow(name="cancel-refund", flow_run_name="cancel-refund-{params.refund_id}", persist_result=False)
async def cancel_refund(params: RefundCancelRequest) -> State[PaymentResult]:
    """Cancel a refund that has not settled."""
    async with payment_context():
        outcome = await tasks.cancel_refund(params.purchase_id, params.refund_id)
        return await finish("cancel-refund", outcome, refund_id=params.refund_id)
