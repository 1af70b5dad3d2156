"""Capture (all or part) and void of a hold."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._models import CaptureRequest, PaymentResult, VoidRequest
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["capture_hold", "void_hold"]


@flow(name="capture-hold", flow_run_name="capture-{params.purchase_id}", persist_result=False)
async def capture_hold(params: CaptureRequest) -> State[PaymentResult]:
    """Capture up to the authorised amount (all when no amount); the rest is released."""
    async with payment_context():
        outcome = await tasks.capture_hold(params.purchase_id, params.amount_cents)
        return await finish("capture-hold", outcome)


@flow(name="void-hold", flow_run_name="void-{params.purchase_id}", persist_result=False)
async def void_hold(params: VoidRequest) -> State[PaymentResult]:
    """Release a hold the merchant no longer needs."""
    async with payment_context():
        outcome = await tasks.void_hold(params.purchase_id, params.via)
        return await finish("void-hold", outcome)
