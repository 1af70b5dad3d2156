"""Non-3DS payment: a frictionless charge, for brands the acquirer approved for it.

The card is submitted without a browser fingerprint. Where the brand is not approved the
gateway answers ``s2s_not_supported``: the result says so, and nothing was charged.
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
    CurrencyField,
    Email,
    FullName,
    OptionalCustomerId,
    OrderId,
    Product,
    RemoteIp,
    SandboxCardField,
)
from flows._forms import request, run_name
from flows._models import Non3DSPaymentRequest, PaymentResult
from tasks.runtime import payment_context

__all__ = ["non_3ds_payment"]

NAME = "non-3ds-payment"


@flow(name=NAME, flow_run_name=run_name("non-3ds", "order_id"), persist_result=False)
async def non_3ds_payment(
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
    product: Product = "Order",
    remote_ip: RemoteIp = "127.0.0.1",
) -> State[PaymentResult]:
    """A charge without 3-D Secure, where the brand is approved for it; once per order id."""
    params = request(Non3DSPaymentRequest, locals())
    async with payment_context():
        outcome = await pay_by_card(
            f"non-3ds:{params.order_id}",
            params.shopper,
            params.card,
            mode="payment",
            amount_cents=params.amount_cents,
            currency=params.currency,
            product=params.product,
            browser=None,
            remote_ip=params.remote_ip,
        )
        return await finish(NAME, outcome)
