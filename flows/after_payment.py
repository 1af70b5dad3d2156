"""After a payment: cancel it before settlement, refund it (all or part), cancel a refund."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._fields import (
    MERCHANT_CURRENCY,
    CurrencyField,
    OptionalAmountText,
    PurchaseId,
    RefundId,
    RefundRef,
    described,
)
from flows._forms import request, run_name
from flows._models import (
    PaymentResult,
    PurchaseCancelRequest,
    RefundCancelRequest,
    RefundRequest,
)
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["cancel_purchase", "cancel_refund", "refund"]


@flow(name="cancel-purchase", flow_run_name="cancel-{purchase_id}", persist_result=False)
async def cancel_purchase(*, purchase_id: PurchaseId) -> State[PaymentResult]:
    """Cancel a paid purchase before it settles (a settled one must be refunded instead)."""
    params = request(PurchaseCancelRequest, locals())
    async with payment_context():
        outcome = await tasks.cancel_purchase(params.purchase_id)
        return await finish("cancel-purchase", outcome)


@flow(name="refund", flow_run_name=run_name("refund", "refund_ref"), persist_result=False)
async def refund(
    *,
    purchase_id: PurchaseId,
    refund_ref: RefundRef,
    amount: OptionalAmountText = "",
    currency: Annotated[
        CurrencyField, described("Currency of the amount: the purchase's.")
    ] = MERCHANT_CURRENCY,
) -> State[PaymentResult]:
    """Refund all or part of a paid purchase; once per refund reference."""
    params = request(RefundRequest, locals())
    async with payment_context():
        outcome = await tasks.refund_purchase(
            params.purchase_id, params.amount_cents, params.refund_ref, currency
        )
        return await finish("refund", outcome)


@flow(name="cancel-refund", flow_run_name="cancel-refund-{refund_id}", persist_result=False)
async def cancel_refund(*, purchase_id: PurchaseId, refund_id: RefundId) -> State[PaymentResult]:
    """Cancel a refund before it settles."""
    params = request(RefundCancelRequest, locals())
    async with payment_context():
        outcome = await tasks.cancel_refund(params.purchase_id, params.refund_id)
        return await finish("cancel-refund", outcome, refund_id=params.refund_id)
