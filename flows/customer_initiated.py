"""Customer-initiated payment with Precium's 3-D Secure: purchase, card, challenge, paid.

A successful payment with ``save_card`` keeps the recurring token and the network transaction
id, which later merchant-initiated charges quote.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._fields import (
    DESKTOP_BROWSER,
    MERCHANT_CURRENCY,
    AmountText,
    Auto3DSField,
    BrowserField,
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
    SaveCard,
)
from flows._forms import request, run_name
from flows._models import CustomerInitiatedPaymentRequest, PaymentResult
from tasks.runtime import payment_context

__all__ = ["customer_initiated_payment"]

NAME = "customer-initiated-payment"


@flow(name=NAME, flow_run_name=run_name("cit", "order_id"), persist_result=False)
async def customer_initiated_payment(
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
    auto_3ds: Auto3DSField = "",
    save_card: SaveCard = True,
    product: Product = "Order",
    remote_ip: RemoteIp = "127.0.0.1",
    browser: BrowserField = DESKTOP_BROWSER,
) -> State[PaymentResult]:
    """The shopper pays an order by card, with Precium's 3-D Secure; once per order id."""
    params = request(CustomerInitiatedPaymentRequest, locals())
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
