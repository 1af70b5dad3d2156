"""Zero-auth validation: check a card for 0, tokenise it, keep it as a payment method."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._fields import (
    DESKTOP_BROWSER,
    MERCHANT_CURRENCY,
    Auto3DSField,
    BrowserField,
    CardholderName,
    CardRef,
    CurrencyField,
    Email,
    FullName,
    OptionalCustomerId,
    Product,
    Reference,
    RemoteIp,
    SandboxCardField,
)
from flows._forms import request, run_name
from flows._models import PaymentResult, ZeroAuthRequest
from tasks.runtime import payment_context

__all__ = ["zero_auth_validation"]

NAME = "zero-auth-validation"


@flow(name=NAME, flow_run_name=run_name("zero-auth", "reference"), persist_result=False)
async def zero_auth_validation(
    *,
    reference: Reference = "",
    email: Email,
    customer_id: OptionalCustomerId = "",
    full_name: FullName = "",
    card_ref: CardRef = "",
    sandbox_card: SandboxCardField = "",
    cardholder_name: CardholderName = "Sandbox Shopper",
    auto_3ds: Auto3DSField = "",
    currency: CurrencyField = MERCHANT_CURRENCY,
    product: Product = "Card validation",
    remote_ip: RemoteIp = "127.0.0.1",
    browser: BrowserField = DESKTOP_BROWSER,
) -> State[PaymentResult]:
    """Validate a card for 0 and keep it (tokenised) for later charges; once per reference."""
    params = request(ZeroAuthRequest, locals())
    async with payment_context():
        outcome = await pay_by_card(
            f"zero-auth:{params.reference}",
            params.shopper,
            params.card,
            auto_3ds=params.auto_3ds,
            mode="authorization",
            amount_cents=0,
            currency=params.currency,
            product=params.product,
            save_card=True,
            browser=params.browser.fingerprint() if params.browser else None,
            remote_ip=params.remote_ip,
        )
        return await finish(NAME, outcome)
