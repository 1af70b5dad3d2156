"""Payments made through the core against a running sandbox, for the operator page tests.

Straight through ``payflows.payments`` (customer, card submission, hold), not through a flow's
parameters: the operator pages act on whatever the ledger holds, however it got there.
"""

from __future__ import annotations

from payflows.domain.cards import CardData
from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import (
    PaymentContext,
    PaymentOutcome,
    authorize_card,
    ensure_customer,
    pay_with_card,
)
from payflows.sandbox import card_by_name
from payflows.settings import load_settings

__all__ = ["pay_through_core"]


async def pay_through_core(
    api_url: str,
    ledger_url: str,
    order: str,
    *,
    amount_cents: int,
    hold: bool = False,
    card: str = "visa_approved",
    email: str | None = None,
) -> PaymentOutcome:
    """A paid purchase (``cit:ORDER``) or a hold (``preauth:ORDER``) on sandbox card ``card``."""
    settings = load_settings(PRECIUM_BASE_URL=api_url, PAYFLOWS_DATABASE_URL=ledger_url)
    engine = make_engine(ledger_url)
    test_card = card_by_name(card)
    cvc = test_card.cvc_rule if test_card.cvc_rule != "any" else "737"
    try:
        async with PreciumClient.from_settings(settings) as gateway:
            ctx = PaymentContext(gateway=gateway, engine=engine)
            customer = await ensure_customer(
                ctx, f"cus-{order}", email=email or f"{order.lower()}@example.test"
            )
            data = CardData(test_card.number, "12/30", cvc, "Thandi Nkosi")
            if hold:
                return await authorize_card(
                    ctx,
                    f"preauth:{order}",
                    customer,
                    data,
                    amount_cents=amount_cents,
                    currency="ZAR",
                    product="Room deposit",
                )
            return await pay_with_card(
                ctx,
                f"cit:{order}",
                customer,
                data,
                amount_cents=amount_cents,
                currency="ZAR",
                product="Blue mug",
            )
    finally:
        engine.dispose()
