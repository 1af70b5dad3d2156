"""Non-3DS payment: a frictionless charge, for brands the acquirer approved for it.

The card is submitted without a browser fingerprint. Where the brand is not approved the
gateway answers ``s2s_not_supported``: the result says so, and nothing was charged.
"""

from __future__ import annotations

from prefect import flow

from payflows.flows._common import card_reference, check_sandbox_options, result_of
from payflows.flows._models import Non3DSPaymentRequest, PaymentResult
from payflows.tasks import payments as tasks
from payflows.tasks.runtime import payment_context
from payflows.vault import default_vault

__all__ = ["non_3ds_payment"]

NAME = "non-3ds-payment"


@flow(name=NAME, flow_run_name="non-3ds-{params.order_id}", persist_result=False)
async def non_3ds_payment(params: Non3DSPaymentRequest) -> PaymentResult:
    """Charge an order without 3-D Secure; once per order id."""
    async with payment_context():
        check_sandbox_options(params.card, None)
        card_ref = card_reference(params.card)
        try:
            customer = await tasks.ensure_customer(
                params.shopper.external_id, params.shopper.email, params.shopper.full_name
            )
            outcome = await tasks.submit_card(
                f"non-3ds:{params.order_id}",
                customer,
                card_ref,
                mode="payment",
                amount_cents=params.amount_cents,
                currency=params.currency,
                product=params.product,
                browser=None,
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.discard(card_ref)
        return await result_of(NAME, outcome)
