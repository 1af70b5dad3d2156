"""Merchant-initiated charges on a stored card, through the shared charge-and-read-back step."""

from __future__ import annotations

from payflows.exactly_once import StepStore, charge_purchase
from payflows.gateway import (
    CardFlags,
)
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    PaymentMethod,
)
from payflows.ledger.models import Customer
from payflows.payments.context import OperationRejected, PaymentContext, PaymentOutcome
from payflows.payments.protocol import build_request, may_act, open_purchase

__all__ = ["charge_stored_card"]


async def charge_stored_card(
    ctx: PaymentContext,
    business_key: str,
    customer: Customer,
    method: PaymentMethod,
    *,
    amount_cents: int,
    currency: str,
    product: str,
    subscription_id: int | None = None,
) -> PaymentOutcome:
    """One MIT charge on a stored credential, at most once per business key."""
    if method.deleted_at is not None:
        raise OperationRejected(f"payment method {method.id} was deleted at the gateway")
    if customer.precium_client_id is None:
        raise OperationRejected(f"customer {customer.external_id} has no Precium client")
    flags = CardFlags(
        is_recurring=True,
        previous_network_transaction_id=method.network_transaction_id,
        original_amount_cents=method.original_amount_cents,
    )
    request = build_request(
        ctx,
        client_id=customer.precium_client_id,
        amount_cents=amount_cents,
        currency=currency,
        product=product,
        card_flags=flags,
    )
    attempt = await open_purchase(
        ctx,
        business_key,
        AttemptKind.MIT,
        request,
        customer_id=customer.id,
        subscription_id=subscription_id,
        payment_method_id=method.id,
    )
    done, _ = await may_act(ctx, attempt)
    if done is not None:
        return done
    assert attempt.purchase_id is not None
    # Created: nothing sent yet. Submitted or unknown: read back just now (``may_act``) and
    # still unpaid with nothing in flight, so it is sent again on the same purchase.
    store = StepStore(ctx.engine)
    await store.submit(business_key, resend=True)
    pid, token = attempt.purchase_id, method.recurring_token
    charged = await charge_purchase(
        business_key,
        charge=lambda: ctx.gateway.charge(pid, token),
        read=lambda: ctx.gateway.get_purchase(pid),
        now=ctx.now,
        resends=RESENDS,
        brand=method.brand,
        masked_pan=method.masked_pan,
    )
    recorded = await store.record(charged.outcome)
    if charged.refused is not None and recorded.state is AttemptState.FAILED:
        # The charge itself was refused (an invalid token...): nothing moved. The purchase
        # stays unpaid; the attempt is closed as failed so it can be looked at.
        raise OperationRejected(str(charged.refused)) from charged.refused
    return PaymentOutcome.of(recorded)


#: Same-purchase re-sends after a 5xx or lost answer whose read-back shows nothing landed.
RESENDS = 1
