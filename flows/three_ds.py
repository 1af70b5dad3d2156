"""Completing 3-D Secure: the shopper's bank answered at the merchant's TermUrl.

The waiting state lives in the ledger (``three_ds_challenges``), not in a paused flow run, so the
answer can arrive at any web process, even after a restart.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._models import PaymentResult, ThreeDSCompletionRequest
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["complete_3ds"]

NAME = "complete-3ds"


@flow(name=NAME, persist_result=False)
async def complete_3ds(params: ThreeDSCompletionRequest) -> State[PaymentResult]:
    """Finish the payment waiting on this MD; posting the same answer again changes nothing."""
    async with payment_context():
        outcome = await tasks.complete_3ds(params.md, params.pares)
        expires = await tasks.hold_expiry(outcome.purchase_id) if outcome.succeeded else None
        return await finish(NAME, outcome, hold_expires_at=expires)
