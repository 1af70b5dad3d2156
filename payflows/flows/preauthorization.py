"""Pre-authorisation: a hold on the shopper's card, recorded with the deadline to capture it."""

from __future__ import annotations

from prefect import flow

from payflows.flows._common import (
    card_reference,
    check_sandbox_options,
    result_of,
    shopper_completes_3ds,
)
from payflows.flows._models import PaymentResult, PreauthRequest
from payflows.tasks import payments as tasks
from payflows.tasks.runtime import payment_context
from payflows.vault import default_vault

__all__ = ["preauthorize"]

NAME = "preauthorize"


@flow(name=NAME, flow_run_name="preauth-{params.booking_id}", persist_result=False)
async def preauthorize(params: PreauthRequest) -> PaymentResult:
    """Hold ``amount_cents`` for a booking; once per booking id."""
    async with payment_context():
        check_sandbox_options(params.card, params.auto_3ds)
        card_ref = card_reference(params.card)
        try:
            customer = await tasks.ensure_customer(
                params.shopper.external_id, params.shopper.email, params.shopper.full_name
            )
            outcome = await tasks.submit_card(
                f"preauth:{params.booking_id}",
                customer,
                card_ref,
                mode="authorization",
                amount_cents=params.amount_cents,
                currency=params.currency,
                product=params.product,
                browser=params.browser.fingerprint() if params.browser else None,
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.discard(card_ref)
        if params.auto_3ds is not None:
            outcome = await shopper_completes_3ds(outcome, params.auto_3ds)
        expires = await tasks.hold_expiry(outcome.purchase_id) if outcome.succeeded else None
        return await result_of(NAME, outcome, hold_expires_at=expires)
