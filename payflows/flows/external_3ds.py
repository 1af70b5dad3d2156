"""External 3-D Secure: the merchant's own MPI authenticated the shopper; Precium does not.

The purchase carries ``cavv``, ``xid``, ``eci_raw`` and ``authentication_transaction_id``; the
card is submitted without a browser fingerprint and with the placeholder CVC ``000`` for a
sandbox card, so no second challenge is asked for.
"""

from __future__ import annotations

from prefect import flow

from payflows.flows._common import card_reference, check_sandbox_options, result_of
from payflows.flows._models import External3DSPaymentRequest, PaymentResult
from payflows.gateway import CardFlags
from payflows.tasks import payments as tasks
from payflows.tasks.runtime import payment_context
from payflows.vault import default_vault

__all__ = ["external_3ds_payment"]

NAME = "external-3ds-payment"


@flow(name=NAME, flow_run_name="ext3ds-{params.order_id}", persist_result=False)
async def external_3ds_payment(params: External3DSPaymentRequest) -> PaymentResult:
    """Pay an order authenticated by the merchant's MPI; once per order id."""
    async with payment_context():
        check_sandbox_options(params.card, None)
        card_ref = card_reference(params.card, cvc="000")
        try:
            customer = await tasks.ensure_customer(
                params.shopper.external_id, params.shopper.email, params.shopper.full_name
            )
            outcome = await tasks.submit_card(
                f"ext3ds:{params.order_id}",
                customer,
                card_ref,
                mode="payment",
                amount_cents=params.amount_cents,
                currency=params.currency,
                product=params.product,
                flags=CardFlags(
                    is_external_3DS=True,
                    cavv=params.cavv,
                    xid=params.xid,
                    eci_raw=params.eci_raw,
                    authentication_transaction_id=params.authentication_transaction_id,
                ),
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.discard(card_ref)
        return await result_of(NAME, outcome)
