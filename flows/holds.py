"""Capture (all or part) and void of a hold."""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._fields import (
    MERCHANT_CURRENCY,
    CurrencyField,
    OptionalAmountText,
    PurchaseId,
    described,
)
from flows._forms import request
from flows._models import CaptureRequest, PaymentResult, VoidRequest
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["capture_hold", "void_hold"]


@flow(name="capture-hold", flow_run_name="capture-{purchase_id}", persist_result=False)
async def capture_hold(
    *,
    purchase_id: PurchaseId,
    amount: OptionalAmountText = "",
    currency: Annotated[
        CurrencyField, described("Currency of the amount: the hold's.")
    ] = MERCHANT_CURRENCY,
) -> State[PaymentResult]:
    """Capture all or part of a hold; the remainder is released."""
    params = request(CaptureRequest, locals())
    async with payment_context():
        outcome = await tasks.capture_hold(params.purchase_id, params.amount_cents, currency)
        return await finish("capture-hold", outcome)


@flow(name="void-hold", flow_run_name="void-{purchase_id}", persist_result=False)
async def void_hold(
    *,
    purchase_id: PurchaseId,
    via: Annotated[
        Literal["release", "cancel"],
        described("How the gateway is asked: release (the usual) or cancel."),
    ] = "release",
) -> State[PaymentResult]:
    """Release a hold that is no longer needed, without capturing it."""
    params = request(VoidRequest, locals())
    async with payment_context():
        outcome = await tasks.void_hold(params.purchase_id, params.via)
        return await finish("void-hold", outcome)
