"""Zero-auth validation: check a card for 0, tokenise it, keep it as a payment method."""

from __future__ import annotations

from prefect import flow

from payflows.flows._common import (
    card_reference,
    check_sandbox_options,
    result_of,
    shopper_completes_3ds,
)
from payflows.flows._models import PaymentResult, ZeroAuthRequest
from payflows.tasks import payments as tasks
from payflows.tasks.runtime import payment_context
from payflows.vault import default_vault

__all__ = ["zero_auth_validation"]

NAME = "zero-auth-validation"


@flow(name=NAME, flow_run_name="zero-auth-{params.reference}", persist_result=False)
async def zero_auth_validation(params: ZeroAuthRequest) -> PaymentResult:
    """Validate and store a card; once per reference. The result carries the recurring token."""
    async with payment_context():
        check_sandbox_options(params.card, params.auto_3ds)
        card_ref = card_reference(params.card)
        try:
            customer = await tasks.ensure_customer(
                params.shopper.external_id, params.shopper.email, params.shopper.full_name
            )
            outcome = await tasks.submit_card(
                f"zero-auth:{params.reference}",
                customer,
                card_ref,
                mode="authorization",
                amount_cents=0,
                currency=params.currency,
                product=params.product,
                save_card=True,
                browser=params.browser.fingerprint() if params.browser else None,
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.discard(card_ref)
        if params.auto_3ds is not None:
            outcome = await shopper_completes_3ds(outcome, params.auto_3ds)
        return await result_of(NAME, outcome)
