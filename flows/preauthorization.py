"""Pre-authorisation: a hold on the shopper's card, recorded with the deadline to capture it."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._fields import (
    DESKTOP_BROWSER,
    MERCHANT_CURRENCY,
    AmountText,
    Auto3DSField,
    BookingId,
    BrowserField,
    CardholderName,
    CardRef,
    CurrencyField,
    Email,
    FullName,
    OptionalCustomerId,
    Product,
    RemoteIp,
    SandboxCardField,
)
from flows._forms import request, run_name
from flows._models import PaymentResult, PreauthRequest
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["preauthorize"]

NAME = "preauthorize"


@flow(name=NAME, flow_run_name=run_name("preauth", "booking_id"), persist_result=False)
async def preauthorize(
    *,
    booking_id: BookingId = "",
    amount: AmountText,
    currency: CurrencyField = MERCHANT_CURRENCY,
    email: Email,
    customer_id: OptionalCustomerId = "",
    full_name: FullName = "",
    card_ref: CardRef = "",
    sandbox_card: SandboxCardField = "",
    cardholder_name: CardholderName = "Sandbox Shopper",
    auto_3ds: Auto3DSField = "",
    product: Product = "Booking deposit",
    remote_ip: RemoteIp = "127.0.0.1",
    browser: BrowserField = DESKTOP_BROWSER,
) -> State[PaymentResult]:
    """Hold an amount on the shopper's card (3-D Secure when the issuer asks); once per booking."""
    params = request(PreauthRequest, locals())
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
