"""Customer-initiated payment with Precium's 3-D Secure: purchase, card, challenge, paid.

A successful payment with ``save_card`` keeps the recurring token and the network transaction
id, which later merchant-initiated charges quote.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._models import CustomerInitiatedPaymentRequest, PaymentResult
from tasks.runtime import payment_context

__all__ = ["customer_initiated_payment"]

NAME = "customer-initiated-payment"


@flow(name=NAME, flow_run_name="cit-{params.order_id}", persist_result=False)
async def customer_initiated_payment(
    params: CustomerInitiatedPaymentRequest,
) -> State[PaymentResult]:
    """Pay an order by card; once per order id. Without ``auto_3ds`` a challenge is returned."""
    async with payment_context():
        outcome = await pay_by_card(
            f"cit:{params.order_id}",
            params.shopper,
            params.card,
            auto_3ds=params.auto_3ds,
            mode="payment",
            amount_cents=params.amount_cents,
            currency=params.currency,
            product=params.product,
            save_card=params.save_card,
            browser=params.browser.fingerprint() if params.browser else None,
            remote_ip=params.remote_ip,
        )
        return await finish(NAME, outcome)
