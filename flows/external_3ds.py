"""External 3-D Secure: the merchant's own MPI authenticated the shopper; Precium does not.

The purchase carries ``cavv``, ``xid``, ``eci_raw`` and ``authentication_transaction_id``; the
card is submitted without a browser fingerprint and with the placeholder CVC ``000`` for a
sandbox card, so no second challenge is asked for.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._fields import (
    MERCHANT_CURRENCY,
    AmountText,
    CardholderName,
    CardRef,
    Cavv,
    CurrencyField,
    EciRaw,
    Email,
    FullName,
    MpiId,
    OptionalCustomerId,
    OrderId,
    Product,
    RemoteIp,
    SandboxCardField,
)
from flows._forms import request, run_name
from flows._models import External3DSPaymentRequest, PaymentResult
from payflows.gateway import CardFlags
from tasks.runtime import payment_context

__all__ = ["external_3ds_payment"]

NAME = "external-3ds-payment"


@flow(name=NAME, flow_run_name=run_name("ext3ds", "order_id"), persist_result=False)
async def external_3ds_payment(
    *,
    order_id: OrderId = "",
    amount: AmountText,
    currency: CurrencyField = MERCHANT_CURRENCY,
    email: Email,
    customer_id: OptionalCustomerId = "",
    full_name: FullName = "",
    card_ref: CardRef = "",
    sandbox_card: SandboxCardField = "",
    cardholder_name: CardholderName = "Sandbox Shopper",
    cavv: Cavv,
    eci_raw: EciRaw,
    xid: MpiId = "",
    authentication_transaction_id: MpiId = "",
    product: Product = "Order",
    remote_ip: RemoteIp = "127.0.0.1",
) -> State[PaymentResult]:
    """A payment authenticated by your own 3-D Secure server (MPI); once per order id."""
    params = request(External3DSPaymentRequest, locals())
    async with payment_context():
        outcome = await pay_by_card(
            f"ext3ds:{params.order_id}",
            params.shopper,
            params.card,
            cvc="000",
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
        return await finish(NAME, outcome)
