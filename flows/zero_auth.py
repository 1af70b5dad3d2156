"""Zero-auth validation: check a card for 0, tokenise it, keep it as a payment method."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import finish, pay_by_card
from flows._models import PaymentResult, ZeroAuthRequest
from tasks.runtime import payment_context

__all__ = ["zero_auth_validation"]

NAME = "zero-auth-validation"


@flow(name=NAME, flow_run_name="zero-auth-{params.reference}", persist_result=False)
async def zero_auth_validation(params: ZeroAuthRequest) -> State[PaymentResult]:
    """Validate and store a card; once per reference. The result carries the recurring token."""
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
