"""Completing 3-D Secure: the shopper's bank answered at the merchant's TermUrl.

The waiting state lives in the ledger (``three_ds_challenges``), not in a paused flow run, so the
answer can arrive at any web process, even after a restart.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.states import State

from flows._common import finish
from flows._fields import described
from flows._forms import request
from flows._models import PaymentResult, ThreeDSCompletionRequest
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["complete_3ds"]

NAME = "complete-3ds"


@flow(name=NAME, persist_result=False)
async def complete_3ds(
    *,
    md: Annotated[
        str, described("MD the bank posted to the TermUrl.", min_length=1, max_length=255)
    ],
    pares: Annotated[str, described("PaRes the bank posted to the TermUrl.", min_length=1)],
) -> State[PaymentResult]:
    """Finish a payment waiting for 3-D Secure; posting the same answer again changes nothing."""
    params = request(ThreeDSCompletionRequest, locals())
    async with payment_context():
        outcome = await tasks.complete_3ds(params.md, params.pares)
        expires = await tasks.hold_expiry(outcome.purchase_id) if outcome.succeeded else None
        return await finish(NAME, outcome, hold_expires_at=expires)
