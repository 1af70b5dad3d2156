"""Pre-authorisation: a hold on the shopper's card, recorded with the deadline to capture it."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._models import PaymentResult, PreauthRequest
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["preauthorize"]

NAME = "preauthorize"


@flow(name=NAME, flow_run_name="preauth-{params.booking_id}", persist_result=False)
async def preauthorize(params: PreauthRequest) -> State[PaymentResult]:
    """Hold ``amount_cents`` for a booking; once per booking id."""
    async with payment_context():
        outcome = await pay_by_card(
            f"preauth:{params.booking_id}",
            params.shopper,
            params.card,
            auto_3ds=params.auto_3ds,
            mode="authorization",
            amount_cents=params.amount_cents,
            currency=params.currency,
            product=params.product,
            browser=params.browser.fingerprint() if params.browser else None,
            remote_ip=params.remote_ip,
        )
        expires = await tasks.hold_expiry(outcome.purchase_id) if outcome.succeeded else None
        return await finish(NAME, outcome, hold_expires_at=expires)
