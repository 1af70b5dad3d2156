"""Recurring pre-authorisation: a hold on a stored credential, without the CVC.

The purchase quotes the stored credential (``is_recurring``, the first payment's network
transaction id and amount); the card is submitted with the placeholder CVC ``000``, as the guide
does, so the merchant never needs the CVC again. A card typed for this flow (CLI prompt) is
entered without its CVC.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows._common import card_reference, check_sandbox_options, finish
from flows._fields import (
    MERCHANT_CURRENCY,
    AmountText,
    BookingId,
    CardholderName,
    CardRef,
    CurrencyField,
    CustomerId,
    Product,
    RecurringToken,
    RemoteIp,
    SandboxCardField,
)
from flows._forms import request, run_name
from flows._models import PaymentResult, RecurringPreauthRequest
from payflows.gateway import CardFlags
from payflows.vault import default_vault
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["recurring_preauth"]

NAME = "recurring-preauth"


@flow(name=NAME, flow_run_name=run_name("recurring-preauth", "booking_id"), persist_result=False)
async def recurring_preauth(
    *,
    booking_id: BookingId = "",
    amount: AmountText,
    currency: CurrencyField = MERCHANT_CURRENCY,
    customer_id: CustomerId,
    recurring_token: RecurringToken,
    card_ref: CardRef = "",
    sandbox_card: SandboxCardField = "",
    cardholder_name: CardholderName = "Sandbox Shopper",
    product: Product = "Recurring pre-authorisation",
    remote_ip: RemoteIp = "127.0.0.1",
) -> State[PaymentResult]:
    """Pre-authorise on a stored card without the CVC; once per booking id."""
    params = request(RecurringPreauthRequest, locals())
    async with payment_context():
        check_sandbox_options(params.card, None)
        card_ref = card_reference(params.card, cvc="000")
        try:
            stored = await tasks.load_stored_card(params.customer_id, params.recurring_token)
            outcome = await tasks.submit_card(
                f"recurring-preauth:{params.booking_id}",
                tasks.CustomerRef(id=stored.customer_id, external_id=params.customer_id),
                card_ref,
                mode="authorization",
                amount_cents=params.amount_cents,
                currency=params.currency,
                product=params.product,
                flags=CardFlags(
                    is_recurring=True,
                    previous_network_transaction_id=stored.network_transaction_id,
                    original_amount_cents=stored.original_amount_cents,
                ),
                remote_ip=params.remote_ip,
            )
        finally:
            default_vault.discard(card_ref)
        expires = await tasks.hold_expiry(outcome.purchase_id) if outcome.succeeded else None
        return await finish(NAME, outcome, hold_expires_at=expires)
