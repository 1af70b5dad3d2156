"""Customer-initiated payment with Precium's 3-D Secure: purchase, card, challenge, paid.

A successful payment with ``save_card`` keeps the recurring token and the network transaction
id, which later merchant-initiated charges quote.
"""

from __future__ import annotations

from prefect import flow

from payflows.flows._common import (
    card_reference,
    check_sandbox_options,
    result_of,
    shopper_completes_3ds,
)
from payflows.flows._models import CustomerInitiatedPaymentRequest, PaymentResult
from payflows.tasks import payments as tasks
from payflows.tasks.runtime import payment_context
from payflows.vault import default_vault

__all__ = ["customer_initiated_payment"]

NAME = "customer-initiated-payment"


@flow(name=NAME, flow_run_name="cit-{params.order_id}", persist_result=False)
async def customer_initiated_payment(params: CustomerInitiatedPaymentRequest) -> PaymentResult:
    """Pay an order by card; once per order id. Without ``auto_3ds`` a challenge is returned."""
    async with payment_context():
        check_sandbox_options(params.card, params.auto_3ds)
        card_ref = card_reference(params.card)
        try:
            customer = await tasks.ensure_customer(
                params.shopper.external_id, params.shopper.email, params.shopper.full_name
            )
            outcome = await tasks.submit_card(
                f"cit:{params.order_id}",
                customer,
                card_ref,
                mode="payment",
                amount_cents=params.amount_cents,
                currency=params.currency,
                product=params.product,
                save_card=params.save_card,
                browser=params.browser.fingerprint() if params.browser else None,
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.discard(card_ref)
        if params.auto_3ds is not None:
            outcome = await shopper_completes_3ds(outcome, params.auto_3ds)
        return await result_of(NAME, outcome)
